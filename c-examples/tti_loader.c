/* tti_loader: the embedded TTI loader of the PyBuda user guide, in C on ttrt.
 *
 *   tti_loader IMAGE.tti
 *
 * Opens the image, creates and initializes a backend, then, as the guide's loop does: for
 * every input, gets the queue descriptor, makes a tensor for it, fills it, pushes it and frees
 * it; runs every program with {"$p_loop_count": "1"}; for every output, gets it, prints its
 * name, shape and checksum, pops it and frees it; finishes. Every status is checked (the
 * upstream demo wrapped its calls in assert(), which NDEBUG compiles away).
 *
 * Inputs are the pattern ((i * 7 + 3) % 17) / 16 - 0.5 over the flat index i, in the tensor's
 * host format; `ttrt run IMAGE --loops 1 --inputs EMPTY_DIR` pushes the same, so both print
 * the same checksums (FNV-1a, 64-bit, over the bytes get_output returns). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ttrt.h>

#define TIMEOUT_MS 10000

static int check(ttrt_status st, const char *what) {
    if (st != TTRT_STATUS_SUCCESS) {
        fprintf(stderr, "tti_loader: %s: %s: %s\n", what, ttrt_status_str(st),
                ttrt_last_error_message());
        return 0;
    }
    return 1;
}

static float pattern(size_t i) { return (float)((i * 7 + 3) % 17) / 16.0f - 0.5f; }

static uint32_t float_bits(float v) {
    uint32_t b;
    memcpy(&b, &v, sizeof b);
    return b;
}

/* IEEE half bits of a value half holds exactly (the pattern's). */
static uint16_t half_bits(float v) {
    uint32_t b = float_bits(v);
    uint16_t sign = (uint16_t)((b >> 16) & 0x8000u);
    int e = (int)((b >> 23) & 0xffu);
    if (v == 0.0f) {
        return sign;
    }
    return (uint16_t)(sign | (uint16_t)((e - 127 + 15) << 10) | (uint16_t)((b >> 13) & 0x3ffu));
}

static size_t volume(const ttrt_tensor_desc *t) {
    return (size_t)t->shape[0] * t->shape[1] * t->shape[2] * t->shape[3];
}

static int fill(ttrt_tensor_desc *t) {
    unsigned char *p = (unsigned char *)(uintptr_t)t->ptr;
    size_t n = volume(t), i;
    for (i = 0; i < n; i++) {
        float v = pattern(i);
        unsigned char *at = p + i * t->itemsize;
        uint32_t u32 = (uint32_t)((v + 0.5f) * 16.0f);
        uint16_t u16;
        switch (t->format) {
        case TTRT_DATA_FORMAT_FLOAT32:
            memcpy(at, &v, 4);
            break;
        case TTRT_DATA_FORMAT_FLOAT16_B:
            u16 = (uint16_t)(float_bits(v) >> 16);
            memcpy(at, &u16, 2);
            break;
        case TTRT_DATA_FORMAT_FLOAT16:
            u16 = half_bits(v);
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
    return 1;
}

static const char *format_name(uint32_t f) {
    switch (f) {
    case TTRT_DATA_FORMAT_FLOAT32: return "Float32";
    case TTRT_DATA_FORMAT_FLOAT16: return "Float16";
    case TTRT_DATA_FORMAT_FLOAT16_B: return "Float16_b";
    case TTRT_DATA_FORMAT_INT8: return "Int8";
    case TTRT_DATA_FORMAT_UINT8: return "UInt8";
    case TTRT_DATA_FORMAT_UINT16: return "UInt16";
    case TTRT_DATA_FORMAT_INT32: return "Int32";
    default: return "other";
    }
}

static uint64_t fnv1a(const unsigned char *p, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull;
    size_t i;
    for (i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

int main(int argc, char **argv) {
    ttrt_image *img = NULL;
    ttrt_backend *be = NULL;
    ttrt_backend_config cfg;
    ttrt_program_param loop = {"$p_loop_count", "1"};
    size_t i;
    int ok = 0;

    if (argc != 2) {
        fprintf(stderr, "usage: tti_loader IMAGE.tti\n");
        return 2;
    }
    if (!check(ttrt_image_open(argv[1], &img), "ttrt_image_open")) {
        return 1;
    }
    ttrt_backend_config_default(&cfg);
    if (!check(ttrt_backend_create(img, &cfg, &be), "ttrt_backend_create")) {
        goto done;
    }
    if (!check(ttrt_backend_initialize(be), "ttrt_backend_initialize")) {
        goto done;
    }
    for (i = 0; i < ttrt_image_input_count(img); i++) {
        const char *name = ttrt_image_input_name(img, i);
        ttrt_io_desc q;
        ttrt_tensor_desc t;
        int pushed;
        if (name == NULL ||
            !check(ttrt_backend_get_queue_descriptor(be, name, &q), "get_queue_descriptor") ||
            !check(ttrt_backend_tensor_desc_for_queue(be, &q, false, &t), "tensor_desc_for_queue")) {
            goto done;
        }
        fill(&t);
        pushed = check(ttrt_push_input(be, &q, &t, false, TIMEOUT_MS, -1), "ttrt_push_input");
        if (!check(ttrt_tensor_desc_free(&t), "ttrt_tensor_desc_free") || !pushed) {
            goto done;
        }
    }
    for (i = 0; i < ttrt_backend_program_count(be); i++) {
        const char *program = ttrt_backend_program_name(be, i);
        if (program == NULL ||
            !check(ttrt_backend_run_program(be, program, &loop, 1), "ttrt_backend_run_program")) {
            goto done;
        }
    }
    for (i = 0; i < ttrt_image_output_count(img); i++) {
        const char *name = ttrt_image_output_name(img, i);
        ttrt_io_desc q;
        ttrt_tensor_desc t;
        if (name == NULL ||
            !check(ttrt_backend_get_queue_descriptor(be, name, &q), "get_queue_descriptor") ||
            !check(ttrt_get_output(be, &q, &t, false, TIMEOUT_MS, -1), "ttrt_get_output")) {
            goto done;
        }
        printf("output %s shape [%u, %u, %u, %u] format %s checksum 0x%016llx\n", name,
               t.shape[0], t.shape[1], t.shape[2], t.shape[3], format_name(t.format),
               (unsigned long long)fnv1a((const unsigned char *)t.ptr, volume(&t) * t.itemsize));
        if (!check(ttrt_pop_output(be, &q, false, TIMEOUT_MS), "ttrt_pop_output") ||
            !check(ttrt_tensor_desc_free(&t), "ttrt_tensor_desc_free")) {
            goto done;
        }
    }
    ok = check(ttrt_backend_finish(be), "ttrt_backend_finish");
done:
    ttrt_backend_free(be);
    ttrt_image_free(img);
    return ok ? 0 : 1;
}
