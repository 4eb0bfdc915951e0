/* tti_loader: the embedded TTI loader of the PyBuda user guide, in C on ttrt.
 *
 *   tti_loader IMAGE.tti
 *
 * Opens the image, creates and initializes a backend, then, as the guide's loop does: for
 * every input, gets the queue descriptor, makes a tensor for it, fills it, pushes it and frees
 * it; runs every program with each parameter it declares (ttrt_backend_program_param_name)
 * set to 1, the guide's {"$p_loop_count": "1"}; for every output, gets it, prints its name,
 * shape and checksum, pops it and frees it; finishes. Every status is checked (the
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

#include "loader_inputs.h"

#define TIMEOUT_MS 10000

static int check(ttrt_status st, const char *what) {
    if (st != TTRT_STATUS_SUCCESS) {
        fprintf(stderr, "tti_loader: %s: %s: %s\n", what, ttrt_status_str(st),
                ttrt_last_error_message());
        return 0;
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

int main(int argc, char **argv) {
    ttrt_image *img = NULL;
    ttrt_backend *be = NULL;
    ttrt_backend_config cfg;
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
        loader_fill(&t, 0);
        pushed = check(ttrt_push_input(be, &q, &t, false, TIMEOUT_MS, -1), "ttrt_push_input");
        if (!check(ttrt_tensor_desc_free(&t), "ttrt_tensor_desc_free") || !pushed) {
            goto done;
        }
    }
    for (i = 0; i < ttrt_backend_program_count(be); i++) {
        const char *program = ttrt_backend_program_name(be, i);
        size_t n = ttrt_backend_program_param_count(be, i), p;
        ttrt_program_param *params = calloc(n > 0 ? n : 1, sizeof *params);
        int ran;
        if (program == NULL || params == NULL) {
            free(params);
            goto done;
        }
        /* Every declared param gets 1: one microbatch per run ($p_loop_count). */
        for (p = 0; p < n; p++) {
            params[p].name = ttrt_backend_program_param_name(be, i, p);
            params[p].value = "1";
        }
        ran = check(ttrt_backend_run_program(be, program, params, n), "ttrt_backend_run_program");
        free(params);
        if (!ran) {
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
               (unsigned long long)loader_fnv1a((const unsigned char *)t.ptr, loader_volume(&t) * t.itemsize));
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
