/* loader_inputs.h: the inputs the embedded-loader examples push and the checksum they print.
 *
 * Loop l's inputs are the pattern ((i * 7 + 3 + 5 * l) % 17) / 16 - 0.5 over the flat index i,
 * in the tensor's host format; `ttrt run IMAGE --loops 1 --inputs EMPTY_DIR` pushes loop 0's.
 * Outputs are compared by FNV-1a (64-bit) over the bytes get_output returns. */
#ifndef TTRT_EXAMPLES_LOADER_INPUTS_H
#define TTRT_EXAMPLES_LOADER_INPUTS_H

#include <stdint.h>
#include <string.h>

#include <ttrt.h>

static float loader_pattern(size_t i, unsigned loop) {
    return (float)((i * 7 + 3 + 5 * loop) % 17) / 16.0f - 0.5f;
}

static uint32_t loader_float_bits(float v) {
    uint32_t b;
    memcpy(&b, &v, sizeof b);
    return b;
}

/* IEEE half bits of a value half holds exactly (the pattern's). */
static uint16_t loader_half_bits(float v) {
    uint32_t b = loader_float_bits(v);
    uint16_t sign = (uint16_t)((b >> 16) & 0x8000u);
    int e = (int)((b >> 23) & 0xffu);
    if (v == 0.0f) {
        return sign;
    }
    return (uint16_t)(sign | (uint16_t)((e - 127 + 15) << 10) | (uint16_t)((b >> 13) & 0x3ffu));
}

static size_t loader_volume(const ttrt_tensor_desc *t) {
    return (size_t)t->shape[0] * t->shape[1] * t->shape[2] * t->shape[3];
}

/* Fills `t` with loop `loop`'s pattern in its host format. */
static void loader_fill(ttrt_tensor_desc *t, unsigned loop) {
    unsigned char *p = (unsigned char *)(uintptr_t)t->ptr;
    size_t n = loader_volume(t), i;
    for (i = 0; i < n; i++) {
        float v = loader_pattern(i, loop);
        unsigned char *at = p + i * t->itemsize;
        uint32_t u32 = (uint32_t)((v + 0.5f) * 16.0f);
        uint16_t u16;
        switch (t->format) {
        case TTRT_DATA_FORMAT_FLOAT32:
            memcpy(at, &v, 4);
            break;
        case TTRT_DATA_FORMAT_FLOAT16_B:
            u16 = (uint16_t)(loader_float_bits(v) >> 16);
            memcpy(at, &u16, 2);
            break;
        case TTRT_DATA_FORMAT_FLOAT16:
            u16 = loader_half_bits(v);
            memcpy(at, &u16, 2);
            break;
        case TTRT_DATA_FORMAT_INT8:
        case TTRT_DATA_FORMAT_UINT8:
        case TTRT_DATA_FORMAT_RAW_UINT8:
            *at = (unsigned char)u32;
            break;
        case TTRT_DATA_FORMAT_UINT16:
        case TTRT_DATA_FORMAT_RAW_UINT16:
            u16 = (uint16_t)u32;
            memcpy(at, &u16, 2);
            break;
        default:
            memcpy(at, &u32, 4);
            break;
        }
    }
}

/* FNV-1a, 64-bit, over the `n` bytes at `p`. */
static uint64_t loader_fnv1a(const unsigned char *p, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull;
    size_t i;
    for (i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

#endif
