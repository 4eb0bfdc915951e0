/*
 * record_io.c - an LD_PRELOAD library that records what a program pushes into and gets out of
 * ttrt through the C ABI, without changing the program: it interposes ttrt_push_input and
 * ttrt_get_output, calls the library's own (dlsym RTLD_NEXT) and appends each pushed input
 * and each output got to the file TTRT_RECORD_IO names. tests/packaging.rs then pushes the
 * recorded inputs through the C API itself and compares every output, bit for bit.
 *
 * Record: kind ('I' pushed, 'O' got), u32 name length, name, u32 format, u32 itemsize,
 * u32 shape[4], u64 byte count, the bytes (row-major, outermost first); integers little-endian
 * as the host writes them.
 *
 * With TTRT_RECORD_FILL=SEED, each input is first overwritten with pseudo-random values of its
 * format (the program's buffer is the backend memory fill_tensor_with_data gave it, zeroed), so
 * that the outputs depend on the inputs; what is recorded is what was pushed.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ttrt.h>

typedef ttrt_status (*push_fn)(ttrt_backend *, const ttrt_io_desc *, const ttrt_tensor_desc *, bool, int32_t, int32_t);
typedef ttrt_status (*get_fn)(ttrt_backend *, const ttrt_io_desc *, ttrt_tensor_desc *, bool, int32_t, int32_t);

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t fill_state;

static void die(const char *what) {
    fprintf(stderr, "record_io: %s\n", what);
    abort();
}

static void *next(const char *name) {
    void *f = dlsym(RTLD_NEXT, name);
    if (f == NULL) {
        die("dlsym(RTLD_NEXT) found no ttrt function");
    }
    return f;
}

static uint64_t dims(const ttrt_tensor_desc *t, uint32_t shape[4]) {
    uint64_t n = 1;
    for (int i = 0; i < 4; i++) {
        shape[i] = t->shape[i] == 0 ? 1 : t->shape[i];
        if (t->dim < 4 && i < (int)(4 - t->dim)) {
            shape[i] = 1;
        }
        n *= shape[i];
    }
    return n;
}

/* The address of item (a, b, c, d). */
static unsigned char *item(const ttrt_tensor_desc *t, const uint32_t shape[4], uint32_t a, uint32_t b, uint32_t c,
                           uint32_t d) {
    (void)shape;
    return (unsigned char *)t->ptr + (uint64_t)a * t->strides[0] + (uint64_t)b * t->strides[1] +
           (uint64_t)c * t->strides[2] + (uint64_t)d * t->strides[3];
}

static uint32_t next_random(void) {
    fill_state = fill_state * 1664525u + 1013904223u;
    return fill_state;
}

/* A random value of `format` in [-2, 2) (floats) or any bit pattern (integers). */
static void random_item(uint32_t format, uint32_t itemsize, unsigned char *dst) {
    uint32_t r = next_random();
    float f = (float)(r >> 8) / (float)(1u << 24) * 4.0f - 2.0f;
    uint32_t bits;
    memcpy(&bits, &f, 4);
    if (format == TTRT_DATA_FORMAT_FLOAT32 && itemsize == 4) {
        memcpy(dst, &bits, 4);
    } else if (format == TTRT_DATA_FORMAT_FLOAT16_B && itemsize == 2) {
        uint16_t h = (uint16_t)(bits >> 16);
        memcpy(dst, &h, 2);
    } else if (format == TTRT_DATA_FORMAT_FLOAT16 && itemsize == 2) {
        /* sign, exponent 13..16 (0.0039 .. 2), mantissa */
        uint16_t h = (uint16_t)(((r >> 31) << 15) | ((13u + ((r >> 20) & 3u)) << 10) | (r & 0x3ffu));
        memcpy(dst, &h, 2);
    } else {
        for (uint32_t i = 0; i < itemsize; i++) {
            dst[i] = (unsigned char)(next_random() >> 24);
        }
    }
}

static void record(char kind, const ttrt_io_desc *q, const ttrt_tensor_desc *t, int fill) {
    const char *path = getenv("TTRT_RECORD_IO");
    if (path == NULL) {
        die("TTRT_RECORD_IO is not set");
    }
    uint32_t shape[4];
    uint64_t n = dims(t, shape);
    if (fill) {
        for (uint32_t a = 0; a < shape[0]; a++)
            for (uint32_t b = 0; b < shape[1]; b++)
                for (uint32_t c = 0; c < shape[2]; c++)
                    for (uint32_t d = 0; d < shape[3]; d++) random_item(t->format, t->itemsize, item(t, shape, a, b, c, d));
    }
    FILE *f = fopen(path, "ab");
    if (f == NULL) {
        die("cannot open TTRT_RECORD_IO");
    }
    const char *name = q->queue_name != NULL ? q->queue_name : "";
    uint32_t len = (uint32_t)strlen(name);
    uint64_t bytes = n * t->itemsize;
    fputc(kind, f);
    fwrite(&len, 4, 1, f);
    fwrite(name, 1, len, f);
    fwrite(&t->format, 4, 1, f);
    fwrite(&t->itemsize, 4, 1, f);
    fwrite(shape, 4, 4, f);
    fwrite(&bytes, 8, 1, f);
    for (uint32_t a = 0; a < shape[0]; a++)
        for (uint32_t b = 0; b < shape[1]; b++)
            for (uint32_t c = 0; c < shape[2]; c++)
                for (uint32_t d = 0; d < shape[3]; d++) fwrite(item(t, shape, a, b, c, d), 1, t->itemsize, f);
    if (fclose(f) != 0) {
        die("cannot write TTRT_RECORD_IO");
    }
}

ttrt_status ttrt_push_input(ttrt_backend *be, const ttrt_io_desc *q, const ttrt_tensor_desc *t, bool push_one,
                            int32_t timeout_ms, int32_t ptr) {
    static push_fn real;
    pthread_mutex_lock(&lock);
    if (real == NULL) {
        real = (push_fn)next("ttrt_push_input");
        const char *seed = getenv("TTRT_RECORD_FILL");
        fill_state = seed != NULL ? (uint32_t)strtoul(seed, NULL, 10) : 0;
    }
    if (q != NULL && t != NULL && t->ptr != NULL) {
        record('I', q, t, getenv("TTRT_RECORD_FILL") != NULL);
    }
    pthread_mutex_unlock(&lock);
    return real(be, q, t, push_one, timeout_ms, ptr);
}

ttrt_status ttrt_get_output(ttrt_backend *be, const ttrt_io_desc *q, ttrt_tensor_desc *t, bool get_one,
                            int32_t timeout_ms, int32_t ptr) {
    static get_fn real;
    pthread_mutex_lock(&lock);
    if (real == NULL) {
        real = (get_fn)next("ttrt_get_output");
    }
    pthread_mutex_unlock(&lock);
    ttrt_status st = real(be, q, t, get_one, timeout_ms, ptr);
    if (st == TTRT_STATUS_SUCCESS) {
        pthread_mutex_lock(&lock);
        record('O', q, t, 0);
        pthread_mutex_unlock(&lock);
    }
    return st;
}
