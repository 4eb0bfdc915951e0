/* misuse: the C API called the ways its contract says must fail cleanly, not crash.
 *
 *   misuse SCRATCH_DIR
 *
 * Compiled as C11 with -Wall -Wextra -Werror -pedantic and -fsanitize=address,undefined, linked
 * against a libttrt built with AddressSanitizer, and run by tests/tools/sanitizers.rs. Every call
 * below breaks the contract in one way the header says is reported: NULL for each pointer
 * argument, freed handles, handles of another type, made-up and misaligned handle values,
 * config structs of the wrong size, calls out of lifecycle order, huge sizes and timeouts, and
 * several threads calling on, and freeing, the same handles. Each call's status is checked
 * against what the header documents, and each failure's text against the error model: one
 * non-empty line that starts with the name of the function that failed. Any sanitizer report,
 * crash or hang fails the run; a mismatch is printed and makes the exit status non-zero. The
 * last line is "N passed, M failed".
 *
 * Sizes a netlist gives (a host queue of two billion entries, a graph input_count of 2^32 - 1)
 * are refused against the host memory budget, never an abort. */
#define _POSIX_C_SOURCE 200809L

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ttrt.h"

static atomic_int passed;
static atomic_int failed;

#define S_OK TTRT_STATUS_SUCCESS
#define S_ARG TTRT_STATUS_INVALID_ARGUMENT
#define S_STATE TTRT_STATUS_INVALID_STATE
#define S_NOT_FOUND TTRT_STATUS_NOT_FOUND
#define S_TIMEOUT TTRT_STATUS_TIMEOUT
#define S_OOM TTRT_STATUS_OUT_OF_MEMORY
#define S_CANCELLED TTRT_STATUS_CANCELLED

/* The function a call text names: what precedes its first '('. */
static size_t function_name_len(const char *call) {
    const char *open = strchr(call, '(');
    return open ? (size_t)(open - call) : strlen(call);
}

/* Whether the last error is one line that starts with "<function>: ". */
static int error_text_ok(const char *call, char *why, size_t why_len) {
    const char *msg = ttrt_last_error_message();
    size_t n = function_name_len(call);
    if (msg == NULL) {
        snprintf(why, why_len, "ttrt_last_error_message() is NULL");
        return 0;
    }
    if (msg[0] == '\0') {
        snprintf(why, why_len, "the last error is empty");
        return 0;
    }
    if (strchr(msg, '\n') != NULL || strchr(msg, '\r') != NULL) {
        snprintf(why, why_len, "the last error is not one line: \"%s\"", msg);
        return 0;
    }
    if (strncmp(msg, call, n) != 0 || msg[n] != ':' || msg[n + 1] != ' ') {
        snprintf(why, why_len, "the last error does not start with \"%.*s: \": \"%s\"", (int)n, call, msg);
        return 0;
    }
    return 1;
}

static void fail(int line, const char *call, const char *why) {
    atomic_fetch_add(&failed, 1);
    fprintf(stderr, "misuse.c:%d: %s: %s\n", line, call, why);
}

/* Checks a status against the one expected (`alt` is a second acceptable status, or `want`). */
static void expect_status(ttrt_status got, ttrt_status want, ttrt_status alt, const char *call, int line) {
    char why[1024];
    if (got != want && got != alt) {
        snprintf(why, sizeof why, "returned %s, expected %s%s%s (last error: \"%s\")", ttrt_status_str(got),
                 ttrt_status_str(want), alt != want ? " or " : "", alt != want ? ttrt_status_str(alt) : "",
                 ttrt_last_error_message());
        fail(line, call, why);
        return;
    }
    if (got != S_OK && !error_text_ok(call, why, sizeof why)) {
        fail(line, call, why);
        return;
    }
    atomic_fetch_add(&passed, 1);
}

#define EXPECT(want, call) expect_status((call), (want), (want), #call, __LINE__)
#define EXPECT2(want, alt, call) expect_status((call), (want), (alt), #call, __LINE__)

/* A query that returns NULL or 0 on failure and sets the last error. */
#define EXPECT_NULL(call)                                                                          \
    do {                                                                                           \
        char why_[1024];                                                                           \
        if ((call) != NULL) {                                                                      \
            fail(__LINE__, #call, "returned a value, expected NULL");                              \
        } else if (!error_text_ok(#call, why_, sizeof why_)) {                                     \
            fail(__LINE__, #call, why_);                                                           \
        } else {                                                                                   \
            atomic_fetch_add(&passed, 1);                                                          \
        }                                                                                          \
    } while (0)

/* A query documented to return 0 for a bad handle (it sets no particular error text). */
#define EXPECT_ZERO(call)                                                                          \
    do {                                                                                           \
        if ((call) != 0) {                                                                         \
            fail(__LINE__, #call, "returned nonzero, expected 0");                                 \
        } else {                                                                                   \
            atomic_fetch_add(&passed, 1);                                                          \
        }                                                                                          \
    } while (0)

#define REQUIRE(call)                                                                              \
    do {                                                                                           \
        ttrt_status st_ = (call);                                                                  \
        if (st_ != S_OK) {                                                                         \
            fprintf(stderr, "misuse.c:%d: setup failed: %s: %s: %s\n", __LINE__, #call,             \
                    ttrt_status_str(st_), ttrt_last_error_message());                              \
            exit(2);                                                                               \
        }                                                                                          \
    } while (0)

#define TRUE_OR_FAIL(cond)                                                                         \
    do {                                                                                           \
        if (cond) {                                                                                \
            atomic_fetch_add(&passed, 1);                                                          \
        } else {                                                                                   \
            fail(__LINE__, #cond, "does not hold");                                                \
        }                                                                                          \
    } while (0)

/* A datacopy from a host-fed queue to an output queue, one 32x32 Float16_b tile per entry. */
static const char NETLIST[] =
    "devices:\n"
    "  arch: wormhole_b0\n"
    "queues:\n"
    "  in0: {type: queue, input: HOST, entries: 2, grid_size: [1, 1], t: 1, mblock: [1, 1], ublock: [1, 1], "
    "df: Float16_b, target_device: 0, loc: dram, dram: [[1, 0x10000000]]}\n"
    "  out: {type: queue, input: copy, entries: 2, grid_size: [1, 1], t: 1, mblock: [1, 1], ublock: [1, 1], "
    "df: Float16_b, target_device: 0, loc: dram, dram: [[2, 0x10000000]]}\n"
    "graphs:\n"
    "  g:\n"
    "    target_device: 0\n"
    "    input_count: 1\n"
    "    copy: {type: datacopy, grid_loc: [0, 0], grid_size: [1, 1], inputs: [in0], in_df: [Float16_b], "
    "acc_df: Float16_b, out_df: Float16_b, intermed_df: Float16_b, ublock_order: r, buf_size_mb: 2, "
    "math_fidelity: HiFi3, untilize_output: false, t: 1, mblock: [1, 1], ublock: [1, 1]}\n"
    "programs:\n"
    "  - run:\n"
    "      - param: [$p_loop_count]\n"
    "      - staticvar: {$lptr: 0, $gptr: 0}\n"
    "      - loop: $p_loop_count\n"
    "      - execute: {graph_name: g, queue_settings: {in0: {prologue: false, epilogue: false, zero: false, "
    "rd_ptr_local: $lptr, rd_ptr_global: $gptr}}}\n"
    "      - varinst: [$lptr, incwrap, 1, 4]\n"
    "      - varinst: [$gptr, incwrap, 1, 4]\n"
    "      - endloop\n";

static char netlist_path[4096];

static void write_netlist(const char *dir) {
    FILE *f;
    snprintf(netlist_path, sizeof netlist_path, "%s/misuse.yaml", dir);
    f = fopen(netlist_path, "w");
    if (f == NULL || fwrite(NETLIST, 1, sizeof NETLIST - 1, f) != sizeof NETLIST - 1 || fclose(f) != 0) {
        fprintf(stderr, "misuse: cannot write %s\n", netlist_path);
        exit(2);
    }
}

static ttrt_image *open_image(void) {
    ttrt_image *img = NULL;
    REQUIRE(ttrt_image_open(netlist_path, &img));
    return img;
}

static ttrt_backend *started_backend(ttrt_image *img) {
    ttrt_backend *be = NULL;
    REQUIRE(ttrt_backend_create(img, NULL, &be));
    REQUIRE(ttrt_backend_initialize(be));
    return be;
}

static ttrt_device *open_device(uint32_t cqs) {
    ttrt_device_config cfg;
    ttrt_device *dev = NULL;
    ttrt_device_config_default(&cfg);
    cfg.num_command_queues = cqs;
    cfg.trace_region_size = 64 * 1024;
    cfg.cq_data_size = 1 << 20;
    REQUIRE(ttrt_device_open(&cfg, &dev));
    return dev;
}

static ttrt_memory_config dram_interleaved(void) {
    ttrt_memory_config m;
    memset(&m, 0, sizeof m);
    m.buffer_type = TTRT_BUFFER_TYPE_DRAM;
    m.memory_layout = TTRT_MEMORY_LAYOUT_INTERLEAVED;
    return m;
}

static ttrt_memory_config l1_interleaved(void) {
    ttrt_memory_config m = dram_interleaved();
    m.buffer_type = TTRT_BUFFER_TYPE_L1;
    return m;
}

static ttrt_tensor_spec tile_spec(void) {
    ttrt_tensor_spec s;
    memset(&s, 0, sizeof s);
    s.shape[0] = 1;
    s.shape[1] = 1;
    s.shape[2] = 32;
    s.shape[3] = 32;
    s.format = TTRT_DATA_FORMAT_FLOAT32;
    s.layout = TTRT_TENSOR_LAYOUT_TILE;
    return s;
}

static float host_values[32 * 32];

static ttrt_host_tensor host_tile(void) {
    ttrt_host_tensor h;
    memset(&h, 0, sizeof h);
    h.data = host_values;
    h.size = sizeof host_values;
    h.shape[0] = 1;
    h.shape[1] = 1;
    h.shape[2] = 32;
    h.shape[3] = 32;
    h.format = TTRT_DATA_FORMAT_FLOAT32;
    h.layout = TTRT_TENSOR_LAYOUT_ROW_MAJOR;
    return h;
}

static ttrt_tensor *device_tile(ttrt_device *dev) {
    ttrt_tensor_spec spec = tile_spec();
    ttrt_memory_config mem = dram_interleaved();
    ttrt_tensor *t = NULL;
    REQUIRE(ttrt_allocate_tensor_on_device(dev, &spec, &mem, &t));
    return t;
}

/* The queue layout of one 32x32 Float16_b tile, as abi_check.c uses. */
static ttrt_io_desc tile_queue(void) {
    ttrt_io_desc q;
    memset(&q, 0, sizeof q);
    q.grid_r = q.grid_c = q.ublock_rt = q.ublock_ct = q.mblock_m = q.mblock_n = q.t = 1;
    q.entries = 4;
    q.input_count = 1;
    q.format = TTRT_DATA_FORMAT_FLOAT16_B;
    q.stack_row_major = true;
    return q;
}

static ttrt_tensor_desc float_tile_desc(void *data) {
    ttrt_tensor_desc d;
    memset(&d, 0, sizeof d);
    d.ptr = data;
    d.itemsize = 4;
    d.format = TTRT_DATA_FORMAT_FLOAT32;
    d.shape[0] = 1;
    d.shape[1] = 1;
    d.shape[2] = 32;
    d.shape[3] = 32;
    d.strides[3] = 4;
    d.strides[2] = 128;
    d.strides[1] = 4096;
    d.strides[0] = 4096;
    d.dim = 4;
    return d;
}

/* ---- Library functions: NULL arguments, struct sizes, out-of-range values. ---- */

static void library_functions(void) {
    ttrt_build_info info;
    unsigned char big[sizeof(ttrt_build_info) + 64];
    ttrt_build_info *bigger = (ttrt_build_info *)(void *)big;

    TRUE_OR_FAIL(ttrt_version() != NULL && strchr(ttrt_version(), '.') != NULL);
    TRUE_OR_FAIL(strcmp(ttrt_status_str(UINT32_MAX), "TTRT_STATUS_UNKNOWN") == 0);
    TRUE_OR_FAIL(ttrt_last_error_message() != NULL);

    EXPECT(S_ARG, ttrt_get_build_info(NULL));
    memset(&info, 0, sizeof info);
    EXPECT(S_ARG, ttrt_get_build_info(&info)); /* struct_size 0 */
    info.struct_size = sizeof info - 1;
    EXPECT(S_ARG, ttrt_get_build_info(&info));
    info.struct_size = 4;
    EXPECT(S_ARG, ttrt_get_build_info(&info));
    memset(big, 0, sizeof big);
    bigger->struct_size = (uint32_t)sizeof big; /* a newer caller's larger struct */
    EXPECT(S_OK, ttrt_get_build_info(bigger));
    TRUE_OR_FAIL(bigger->struct_size == sizeof big && bigger->abi_version == TTRT_ABI_VERSION);

    EXPECT(S_ARG, ttrt_set_log_callback(NULL, NULL, 6));
    EXPECT(S_ARG, ttrt_set_log_callback(NULL, NULL, UINT32_MAX));
    EXPECT(S_OK, ttrt_set_log_callback(NULL, NULL, TTRT_LOG_LEVEL_OFF));

    /* Initializers accept NULL. */
    ttrt_device_config_default(NULL);
    ttrt_backend_config_default(NULL);
    ttrt_pipeline_config_default(NULL);
    ttrt_codec_options_default(NULL);
    /* Frees accept NULL. */
    ttrt_image_free(NULL);
    ttrt_backend_free(NULL);
    ttrt_tensor_free(NULL);
    ttrt_pipeline_free(NULL);
    EXPECT(S_OK, ttrt_device_close(NULL));
}

/* ---- Format helpers: NULLs, struct sizes, huge layouts and lengths. ---- */

static void format_functions(void) {
    static float values[32 * 32];
    static float back[32 * 32];
    static unsigned char tiles[2080];
    ttrt_io_desc q = tile_queue(), huge;
    ttrt_tensor_desc src = float_tile_desc(values), dst = float_tile_desc(back), big;
    ttrt_codec_options opt;
    uint32_t shape[4];
    uint64_t e = 0, io = 0, tz = 0;

    EXPECT_ZERO(ttrt_tile_size_bytes(UINT32_MAX, 0, false));
    EXPECT_ZERO(ttrt_tile_size_bytes(TTRT_DATA_FORMAT_FLOAT32, UINT32_MAX, false));
    EXPECT_ZERO(ttrt_tile_size_bytes_dim(TTRT_DATA_FORMAT_FLOAT32, 0, UINT32_MAX, UINT32_MAX, false));

    EXPECT(S_ARG, ttrt_io_desc_host_shape(NULL, 1, shape));
    EXPECT(S_ARG, ttrt_io_desc_host_shape(&q, 1, NULL));
    EXPECT(S_ARG, ttrt_io_desc_sizes(NULL, 1, &e, &io, &tz));
    EXPECT(S_OK, ttrt_io_desc_sizes(&q, 1, NULL, NULL, NULL));

    EXPECT(S_ARG, ttrt_tilize(NULL, &q, tiles, sizeof tiles));
    EXPECT(S_ARG, ttrt_tilize(&src, NULL, tiles, sizeof tiles));
    EXPECT(S_ARG, ttrt_tilize(&src, &q, NULL, sizeof tiles));
    EXPECT(S_ARG, ttrt_tilize(&src, &q, tiles, 0));
    EXPECT(S_ARG, ttrt_tilize(&src, &q, tiles, sizeof tiles - 1));
    big = src;
    big.ptr = NULL;
    EXPECT(S_ARG, ttrt_tilize(&big, &q, tiles, sizeof tiles));
    EXPECT(S_OK, ttrt_tilize(&src, &q, tiles, sizeof tiles));

    EXPECT(S_ARG, ttrt_untilize(NULL, sizeof tiles, &q, &dst));
    EXPECT(S_ARG, ttrt_untilize(tiles, sizeof tiles, NULL, &dst));
    EXPECT(S_ARG, ttrt_untilize(tiles, sizeof tiles, &q, NULL));
    EXPECT(S_ARG, ttrt_untilize(tiles, sizeof tiles - 1, &q, &dst));
    EXPECT(S_ARG, ttrt_untilize(tiles, 0, &q, &dst));
    big = dst;
    big.ptr = NULL;
    EXPECT(S_ARG, ttrt_untilize(tiles, sizeof tiles, &q, &big));
    EXPECT(S_OK, ttrt_untilize(tiles, sizeof tiles, &q, &dst));

    /* Codec options: NULL is the defaults; struct_size 0 and too small are refused; a larger
     * struct (a newer caller) is read up to what this library knows. */
    EXPECT(S_OK, ttrt_tilize_with_options(&src, &q, NULL, tiles, sizeof tiles));
    ttrt_codec_options_default(&opt);
    opt.struct_size = 0;
    EXPECT(S_ARG, ttrt_tilize_with_options(&src, &q, &opt, tiles, sizeof tiles));
    opt.struct_size = sizeof opt - 1;
    EXPECT(S_ARG, ttrt_tilize_with_options(&src, &q, &opt, tiles, sizeof tiles));
    ttrt_codec_options_default(&opt);
    opt.bfp_rounding = UINT32_MAX;
    EXPECT(S_ARG, ttrt_tilize_with_options(&src, &q, &opt, tiles, sizeof tiles));
    ttrt_codec_options_default(&opt);
    opt.float16_b_rounding = 2;
    EXPECT(S_ARG, ttrt_tilize_with_options(&src, &q, &opt, tiles, sizeof tiles));
    {
        unsigned char larger[sizeof(ttrt_codec_options) + 32];
        ttrt_codec_options *l = (ttrt_codec_options *)(void *)larger;
        memset(larger, 0, sizeof larger);
        ttrt_codec_options_default(l);
        l->struct_size = (uint32_t)sizeof larger;
        EXPECT(S_OK, ttrt_tilize_with_options(&src, &q, l, tiles, sizeof tiles));
    }

    /* Huge lengths and shapes: refused before anything is read or written. */
    big = src;
    big.shape[0] = UINT32_MAX;
    big.shape[1] = UINT32_MAX;
    big.shape[2] = UINT32_MAX;
    big.shape[3] = UINT32_MAX;
    big.strides[0] = big.strides[1] = big.strides[2] = UINT32_MAX;
    EXPECT(S_ARG, ttrt_tilize(&big, &q, tiles, SIZE_MAX));
    EXPECT(S_ARG, ttrt_untilize(tiles, sizeof tiles, &q, &big));
    big = src;
    big.shape[0] = 1u << 31;
    EXPECT(S_ARG, ttrt_tilize(&big, &q, tiles, SIZE_MAX));
    big = src;
    big.dim = UINT32_MAX;
    EXPECT(S_ARG, ttrt_tilize(&big, &q, tiles, sizeof tiles));
    big = src;
    big.itemsize = UINT32_MAX;
    EXPECT(S_ARG, ttrt_tilize(&big, &q, tiles, sizeof tiles));
    big = src;
    big.format = UINT32_MAX;
    EXPECT(S_ARG, ttrt_tilize(&big, &q, tiles, sizeof tiles));

    huge = q;
    huge.grid_r = huge.grid_c = UINT32_MAX;
    huge.mblock_m = huge.mblock_n = huge.ublock_rt = huge.ublock_ct = UINT32_MAX;
    huge.t = UINT32_MAX;
    huge.entries = UINT32_MAX;
    EXPECT(S_ARG, ttrt_io_desc_sizes(&huge, UINT32_MAX, &e, &io, &tz));
    EXPECT(S_ARG, ttrt_io_desc_host_shape(&huge, UINT32_MAX, shape));
    EXPECT(S_ARG, ttrt_tilize(&src, &huge, tiles, SIZE_MAX));
    EXPECT(S_ARG, ttrt_untilize(tiles, SIZE_MAX, &huge, &dst));
    huge = q;
    huge.entries = UINT32_MAX;
    huge.grid_r = huge.grid_c = 65535;
    EXPECT2(S_OK, S_ARG, ttrt_io_desc_sizes(&huge, UINT32_MAX, &e, &io, &tz));
    huge = q;
    huge.tile_height = UINT32_MAX;
    huge.tile_width = UINT32_MAX;
    EXPECT(S_ARG, ttrt_io_desc_sizes(&huge, 1, &e, &io, &tz));
    EXPECT(S_ARG, ttrt_tilize(&src, &huge, tiles, sizeof tiles));
    huge = q;
    huge.hstack_factor = huge.vstack_factor = UINT32_MAX;
    EXPECT(S_ARG, ttrt_tilize(&src, &huge, tiles, SIZE_MAX));
    huge = q;
    huge.format = UINT32_MAX;
    EXPECT(S_ARG, ttrt_io_desc_sizes(&huge, 1, &e, &io, &tz));
    huge = q;
    huge.arch = UINT32_MAX;
    EXPECT(S_ARG, ttrt_tilize(&src, &huge, tiles, sizeof tiles));
    huge = q;
    huge.entry_size = 1; /* disagrees with the layout */
    EXPECT(S_ARG, ttrt_tilize(&src, &huge, tiles, sizeof tiles));
    huge = q;
    huge.ublock_order = UINT32_MAX;
    EXPECT(S_ARG, ttrt_tilize(&src, &huge, tiles, sizeof tiles));
    huge = q;
    huge.layout = UINT32_MAX;
    EXPECT(S_ARG, ttrt_tilize(&src, &huge, tiles, sizeof tiles));

    /* Misaligned descriptor pointers. */
    EXPECT(S_ARG, ttrt_io_desc_sizes((const ttrt_io_desc *)(const void *)((const char *)&q + 1), 1, &e, &io, &tz));
    EXPECT(S_ARG, ttrt_tilize((const ttrt_tensor_desc *)(const void *)((const char *)&src + 1), &q, tiles,
                              sizeof tiles));
}

/* ---- Made-up handle values: refused by their tag, index or generation, never read. ---- */

static void *const made_up[] = {
    (void *)(uintptr_t)0x1000, (void *)(uintptr_t)0x1001, (void *)(uintptr_t)0x1002,
    (void *)(uintptr_t)0x1003, (void *)(uintptr_t)0x1004, (void *)(uintptr_t)0x1005,
    (void *)(uintptr_t)0x1006, (void *)(uintptr_t)0x8,    (void *)(uintptr_t)0xdeadbeef,
    (void *)(uintptr_t)UINTPTR_MAX, (void *)(uintptr_t)(UINTPTR_MAX - 13),
    /* Tags of real handle types with slot 0 and a generation never issued. */
    (void *)(uintptr_t)(((uintptr_t)0x7fffff << 24) | 2), (void *)(uintptr_t)(((uintptr_t)0x7fffff << 24) | 3),
    (void *)(uintptr_t)(((uintptr_t)0x7fffff << 24) | 4), (void *)(uintptr_t)(((uintptr_t)0x7fffff << 24) | 5),
    (void *)(uintptr_t)(((uintptr_t)0x7fffff << 24) | 6),
    /* Slots far past any issued. */
    (void *)(uintptr_t)((0xfffffu << 4) | 2), (void *)(uintptr_t)((0xfffffu << 4) | 5),
};

static void made_up_handles(void) {
    size_t i;
    ttrt_memory_config mem = dram_interleaved();
    ttrt_tensor_spec spec = tile_spec();
    ttrt_host_tensor h = host_tile();
    ttrt_io_desc q = tile_queue();
    ttrt_tensor_desc t;
    ttrt_event ev;
    ttrt_arch arch;
    uint32_t trace_id;
    bool done;
    const ttrt_host_tensor *outs;
    size_t n;
    memset(&t, 0, sizeof t);
    memset(&ev, 0, sizeof ev);
    for (i = 0; i < sizeof made_up / sizeof made_up[0]; i++) {
        ttrt_device *dev = (ttrt_device *)made_up[i];
        ttrt_tensor *ten = (ttrt_tensor *)made_up[i];
        ttrt_tensor *out = NULL;
        ttrt_backend *be = (ttrt_backend *)made_up[i];
        ttrt_backend *new_be = NULL;
        ttrt_image *img = (ttrt_image *)made_up[i];
        ttrt_pipeline *p = (ttrt_pipeline *)made_up[i];

        EXPECT(S_ARG, ttrt_device_close(dev));
        EXPECT(S_ARG, ttrt_device_poll(dev, NULL));
        EXPECT(S_ARG, ttrt_finish(dev, 0));
        EXPECT(S_ARG, ttrt_synchronize(dev));
        EXPECT(S_ARG, ttrt_record_event(dev, 0, &ev));
        EXPECT(S_ARG, ttrt_event_query(dev, &ev, &done));
        EXPECT(S_ARG, ttrt_begin_trace_capture(dev, 0, &trace_id));
        EXPECT(S_ARG, ttrt_release_trace(dev, 1));
        EXPECT(S_ARG, ttrt_allocate_tensor_on_device(dev, &spec, &mem, &out));
        EXPECT_ZERO(ttrt_tensor_buffer_address(ten));
        EXPECT(S_ARG, ttrt_tensor_deallocate(ten, true));
        ttrt_tensor_free(ten);
        EXPECT(S_ARG, ttrt_copy_host_to_device_tensor(dev, 0, &h, ten, true));
        EXPECT(S_ARG, ttrt_op_unary(dev, 0, TTRT_UNARY_OP_RELU, ten, &mem, &out));

        EXPECT(S_ARG, ttrt_backend_create(img, NULL, &new_be));
        EXPECT_ZERO(ttrt_image_input_count(img));
        EXPECT_ZERO(ttrt_image_output_count(img));
        EXPECT_NULL(ttrt_image_input_name(img, 0));
        EXPECT(S_ARG, ttrt_image_arch(img, &arch));
        EXPECT(S_ARG, ttrt_image_apply_runtime_config(img, NULL));
        ttrt_image_free(img);

        EXPECT(S_ARG, ttrt_backend_initialize(be));
        EXPECT_ZERO(ttrt_backend_program_count(be));
        EXPECT_NULL(ttrt_backend_program_name(be, 0));
        EXPECT(S_ARG, ttrt_backend_get_queue_descriptor(be, "in0", &q));
        EXPECT(S_ARG, ttrt_backend_tensor_desc_for_queue(be, &q, true, &t));
        EXPECT(S_ARG, ttrt_push_input(be, &q, &t, true, 0, -1));
        EXPECT(S_ARG, ttrt_backend_run_program(be, "run", NULL, 0));
        EXPECT(S_ARG, ttrt_pop_output(be, &q, true, 0));
        EXPECT(S_ARG, ttrt_backend_wait_for_idle(be));
        EXPECT(S_ARG, ttrt_backend_finish(be));
        ttrt_backend_free(be);

        EXPECT_NULL(ttrt_pipeline_executor(p));
        EXPECT(S_ARG, ttrt_pipeline_compile(p, &h));
        EXPECT(S_ARG, ttrt_pipeline_preallocate_output_tensors_on_host(p, 1));
        EXPECT(S_ARG, ttrt_pipeline_enqueue(p, &h, 1));
        EXPECT(S_ARG, ttrt_pipeline_pop_all(p, &outs, &n));
        EXPECT(S_ARG, ttrt_pipeline_cleanup(p));
        ttrt_pipeline_free(p);
    }
}

/* ---- Device and tensors: NULLs, wrong-type and freed handles, order, huge sizes. ---- */

static uint32_t identity_model(void *user, ttrt_device *dev, uint8_t cq, ttrt_tensor *input, ttrt_tensor **output) {
    ttrt_memory_config l1 = l1_interleaved();
    (void)user;
    return ttrt_op_unary(dev, cq, TTRT_UNARY_OP_IDENTITY, input, &l1, output);
}

static void device_functions(ttrt_image *img) {
    ttrt_device_config cfg;
    ttrt_device *dev = NULL, *dev2 = NULL;
    ttrt_tensor *a, *b, *out = NULL;
    ttrt_memory_config mem = dram_interleaved(), bad_mem;
    ttrt_tensor_spec spec = tile_spec(), bad_spec;
    ttrt_host_tensor h = host_tile(), bad_h;
    ttrt_event ev, never;
    bool done = false, did = false;
    uint32_t trace_id = 0, other_trace = 0;
    const uint32_t shape[4] = {1, 1, 64, 64};

    /* Config: NULL out, struct sizes, ranges, huge regions. */
    EXPECT(S_ARG, ttrt_device_open(NULL, NULL));
    ttrt_device_config_default(&cfg);
    EXPECT(S_ARG, ttrt_device_open(&cfg, NULL));
    cfg.struct_size = 0;
    EXPECT(S_ARG, ttrt_device_open(&cfg, &dev));
    cfg.struct_size = 8;
    EXPECT(S_ARG, ttrt_device_open(&cfg, &dev));
    ttrt_device_config_default(&cfg);
    cfg.num_command_queues = 0;
    EXPECT(S_ARG, ttrt_device_open(&cfg, &dev));
    cfg.num_command_queues = UINT32_MAX;
    EXPECT(S_ARG, ttrt_device_open(&cfg, &dev));
    ttrt_device_config_default(&cfg);
    cfg.arch = UINT32_MAX;
    EXPECT(S_ARG, ttrt_device_open(&cfg, &dev));
    ttrt_device_config_default(&cfg);
    cfg.trace_region_size = UINT64_MAX;
    EXPECT2(S_ARG, S_OOM, ttrt_device_open(&cfg, &dev));
    ttrt_device_config_default(&cfg);
    cfg.l1_small_size = UINT64_MAX;
    EXPECT2(S_ARG, S_OOM, ttrt_device_open(&cfg, &dev));
    ttrt_device_config_default(&cfg);
    cfg.cq_data_size = UINT64_MAX;
    EXPECT2(S_ARG, S_OOM, ttrt_device_open(&cfg, &dev));
    ttrt_device_config_default(&cfg);
    cfg.cq_data_size = 0;
    EXPECT(S_ARG, ttrt_device_open(&cfg, &dev));
    ttrt_device_config_default(&cfg);
    cfg.arena_size = 4096; /* with a NULL arena */
    EXPECT(S_ARG, ttrt_device_open(&cfg, &dev));
    {
        static unsigned char small_arena[4096];
        ttrt_device_config_default(&cfg);
        cfg.arena = small_arena;
        cfg.arena_size = sizeof small_arena;
        EXPECT2(S_ARG, S_OOM, ttrt_device_open(&cfg, &dev));
    }
    TRUE_OR_FAIL(dev == NULL); /* outputs are written only on success */
    {
        /* A newer caller's larger config: the known part is read. */
        unsigned char larger[sizeof(ttrt_device_config) + 64];
        ttrt_device_config *l = (ttrt_device_config *)(void *)larger;
        memset(larger, 0xff, sizeof larger);
        ttrt_device_config_default(l);
        l->struct_size = (uint32_t)sizeof larger;
        EXPECT(S_OK, ttrt_device_open(l, &dev2));
        EXPECT(S_OK, ttrt_device_close(dev2));
    }

    dev = open_device(1);
    a = device_tile(dev);
    b = device_tile(dev);

    /* NULL for each pointer argument. */
    EXPECT(S_ARG, ttrt_device_poll(NULL, &did));
    EXPECT(S_OK, ttrt_device_poll(dev, NULL));
    EXPECT(S_ARG, ttrt_finish(NULL, 0));
    EXPECT(S_ARG, ttrt_synchronize(NULL));
    EXPECT(S_ARG, ttrt_record_event(NULL, 0, &ev));
    EXPECT(S_ARG, ttrt_record_event(dev, 0, NULL));
    EXPECT(S_OK, ttrt_record_event(dev, 0, &ev));
    EXPECT(S_ARG, ttrt_wait_for_event(NULL, 0, &ev));
    EXPECT(S_ARG, ttrt_wait_for_event(dev, 0, NULL));
    EXPECT(S_ARG, ttrt_event_synchronize(NULL, &ev, 0));
    EXPECT(S_ARG, ttrt_event_synchronize(dev, NULL, 0));
    EXPECT(S_ARG, ttrt_event_query(NULL, &ev, &done));
    EXPECT(S_ARG, ttrt_event_query(dev, NULL, &done));
    EXPECT(S_ARG, ttrt_event_query(dev, &ev, NULL));
    EXPECT(S_ARG, ttrt_begin_trace_capture(NULL, 0, &trace_id));
    EXPECT(S_ARG, ttrt_begin_trace_capture(dev, 0, NULL));
    EXPECT(S_ARG, ttrt_end_trace_capture(NULL, 0, 1));
    EXPECT(S_ARG, ttrt_execute_trace(NULL, 0, 1, true));
    EXPECT(S_ARG, ttrt_release_trace(NULL, 1));
    EXPECT(S_ARG, ttrt_allocate_tensor_on_device(NULL, &spec, &mem, &out));
    EXPECT(S_ARG, ttrt_allocate_tensor_on_device(dev, NULL, &mem, &out));
    EXPECT(S_ARG, ttrt_allocate_tensor_on_device(dev, &spec, NULL, &out));
    EXPECT(S_ARG, ttrt_allocate_tensor_on_device(dev, &spec, &mem, NULL));
    EXPECT_ZERO(ttrt_tensor_buffer_address(NULL));
    EXPECT(S_ARG, ttrt_tensor_deallocate(NULL, true));
    EXPECT(S_ARG, ttrt_copy_host_to_device_tensor(NULL, 0, &h, a, true));
    EXPECT(S_ARG, ttrt_copy_host_to_device_tensor(dev, 0, NULL, a, true));
    EXPECT(S_ARG, ttrt_copy_host_to_device_tensor(dev, 0, &h, NULL, true));
    EXPECT(S_ARG, ttrt_copy_device_to_host_tensor(NULL, 0, a, &h, true));
    EXPECT(S_ARG, ttrt_copy_device_to_host_tensor(dev, 0, NULL, &h, true));
    EXPECT(S_ARG, ttrt_copy_device_to_host_tensor(dev, 0, a, NULL, true));
    bad_h = h;
    bad_h.data = NULL;
    EXPECT(S_ARG, ttrt_copy_host_to_device_tensor(dev, 0, &bad_h, a, true));
    EXPECT(S_ARG, ttrt_copy_device_to_host_tensor(dev, 0, a, &bad_h, true));
    EXPECT(S_ARG, ttrt_to_memory_config(NULL, 0, a, &mem, &out));
    EXPECT(S_ARG, ttrt_to_memory_config(dev, 0, NULL, &mem, &out));
    EXPECT(S_ARG, ttrt_to_memory_config(dev, 0, a, NULL, &out));
    EXPECT(S_ARG, ttrt_to_memory_config(dev, 0, a, &mem, NULL));
    EXPECT(S_ARG, ttrt_reshard(NULL, 0, a, b));
    EXPECT(S_ARG, ttrt_reshard(dev, 0, NULL, b));
    EXPECT(S_ARG, ttrt_reshard(dev, 0, a, NULL));
    EXPECT(S_ARG, ttrt_op_unary(NULL, 0, TTRT_UNARY_OP_RELU, a, &mem, &out));
    EXPECT(S_ARG, ttrt_op_unary(dev, 0, TTRT_UNARY_OP_RELU, NULL, &mem, &out));
    EXPECT(S_ARG, ttrt_op_unary(dev, 0, TTRT_UNARY_OP_RELU, a, NULL, &out));
    EXPECT(S_ARG, ttrt_op_unary(dev, 0, TTRT_UNARY_OP_RELU, a, &mem, NULL));
    EXPECT(S_ARG, ttrt_op_binary(NULL, 0, TTRT_BINARY_OP_ADD, a, b, &mem, &out));
    EXPECT(S_ARG, ttrt_op_binary(dev, 0, TTRT_BINARY_OP_ADD, NULL, b, &mem, &out));
    EXPECT(S_ARG, ttrt_op_binary(dev, 0, TTRT_BINARY_OP_ADD, a, NULL, &mem, &out));
    EXPECT(S_ARG, ttrt_op_binary(dev, 0, TTRT_BINARY_OP_ADD, a, b, NULL, &out));
    EXPECT(S_ARG, ttrt_op_binary(dev, 0, TTRT_BINARY_OP_ADD, a, b, &mem, NULL));
    EXPECT(S_ARG, ttrt_op_matmul(NULL, 0, a, b, &mem, &out));
    EXPECT(S_ARG, ttrt_op_matmul(dev, 0, NULL, b, &mem, &out));
    EXPECT(S_ARG, ttrt_op_matmul(dev, 0, a, NULL, &mem, &out));
    EXPECT(S_ARG, ttrt_op_matmul(dev, 0, a, b, NULL, &out));
    EXPECT(S_ARG, ttrt_op_matmul(dev, 0, a, b, &mem, NULL));
    EXPECT(S_ARG, ttrt_memory_config_for_persistent_dram_tensor(NULL, TTRT_MEMORY_LAYOUT_HEIGHT_SHARDED, 2, 1, &bad_mem));
    EXPECT(S_ARG, ttrt_memory_config_for_persistent_dram_tensor(shape, TTRT_MEMORY_LAYOUT_HEIGHT_SHARDED, 2, 1, NULL));
    TRUE_OR_FAIL(out == NULL);

    /* Out-of-range values. */
    EXPECT(S_ARG, ttrt_finish(dev, 1)); /* a 1-CQ device */
    EXPECT(S_ARG, ttrt_finish(dev, 255));
    EXPECT(S_ARG, ttrt_record_event(dev, 2, &ev));
    EXPECT(S_ARG, ttrt_op_unary(dev, 0, UINT32_MAX, a, &mem, &out));
    EXPECT(S_ARG, ttrt_op_binary(dev, 0, UINT32_MAX, a, b, &mem, &out));
    EXPECT(S_ARG, ttrt_memory_config_for_persistent_dram_tensor(shape, UINT32_MAX, 2, 1, &bad_mem));
    EXPECT(S_ARG, ttrt_memory_config_for_persistent_dram_tensor(shape, TTRT_MEMORY_LAYOUT_HEIGHT_SHARDED, 0, 1, &bad_mem));
    EXPECT(S_ARG, ttrt_memory_config_for_persistent_dram_tensor(shape, TTRT_MEMORY_LAYOUT_HEIGHT_SHARDED, UINT32_MAX, 1, &bad_mem));
    EXPECT(S_ARG, ttrt_memory_config_for_persistent_dram_tensor(shape, TTRT_MEMORY_LAYOUT_HEIGHT_SHARDED, 9, 1, &bad_mem));
    bad_mem = mem;
    bad_mem.buffer_type = UINT32_MAX;
    EXPECT(S_ARG, ttrt_allocate_tensor_on_device(dev, &spec, &bad_mem, &out));
    bad_mem = mem;
    bad_mem.buffer_type = TTRT_BUFFER_TYPE_TRACE;
    EXPECT(S_ARG, ttrt_allocate_tensor_on_device(dev, &spec, &bad_mem, &out));
    bad_mem = mem;
    bad_mem.memory_layout = UINT32_MAX;
    EXPECT(S_ARG, ttrt_allocate_tensor_on_device(dev, &spec, &bad_mem, &out));
    bad_mem = mem;
    bad_mem.memory_layout = TTRT_MEMORY_LAYOUT_BLOCK_SHARDED;
    bad_mem.shard.grid.end_x = UINT32_MAX;
    bad_mem.shard.grid.end_y = UINT32_MAX;
    bad_mem.shard.shape[0] = UINT32_MAX;
    bad_mem.shard.shape[1] = UINT32_MAX;
    EXPECT(S_ARG, ttrt_allocate_tensor_on_device(dev, &spec, &bad_mem, &out));
    bad_spec = spec;
    bad_spec.format = UINT32_MAX;
    EXPECT(S_ARG, ttrt_allocate_tensor_on_device(dev, &bad_spec, &mem, &out));
    bad_spec = spec;
    bad_spec.layout = UINT32_MAX;
    EXPECT(S_ARG, ttrt_allocate_tensor_on_device(dev, &bad_spec, &mem, &out));
    bad_spec = spec;
    bad_spec.shape[3] = 33; /* TILE needs multiples of 32 */
    EXPECT(S_ARG, ttrt_allocate_tensor_on_device(dev, &bad_spec, &mem, &out));
    /* Huge shapes: refused or out of memory, never an overflowed small allocation. */
    bad_spec = spec;
    bad_spec.shape[0] = bad_spec.shape[1] = UINT32_MAX;
    bad_spec.shape[2] = bad_spec.shape[3] = UINT32_MAX - 31;
    EXPECT2(S_ARG, S_OOM, ttrt_allocate_tensor_on_device(dev, &bad_spec, &mem, &out));
    bad_spec = spec;
    bad_spec.shape[0] = 1u << 20;
    bad_spec.shape[1] = 1u << 20;
    EXPECT2(S_ARG, S_OOM, ttrt_allocate_tensor_on_device(dev, &bad_spec, &mem, &out));
    bad_spec.layout = TTRT_TENSOR_LAYOUT_ROW_MAJOR;
    bad_spec.shape[2] = bad_spec.shape[3] = UINT32_MAX;
    EXPECT2(S_ARG, S_OOM, ttrt_allocate_tensor_on_device(dev, &bad_spec, &mem, &out));
    TRUE_OR_FAIL(out == NULL);
    /* Host tensors that disagree with their size or shape. */
    bad_h = h;
    bad_h.size = SIZE_MAX;
    EXPECT(S_ARG, ttrt_copy_host_to_device_tensor(dev, 0, &bad_h, a, true));
    bad_h = h;
    bad_h.size = h.size - 1;
    EXPECT(S_ARG, ttrt_copy_host_to_device_tensor(dev, 0, &bad_h, a, true));
    EXPECT(S_ARG, ttrt_copy_device_to_host_tensor(dev, 0, a, &bad_h, true));
    bad_h = h;
    bad_h.shape[0] = bad_h.shape[1] = bad_h.shape[2] = bad_h.shape[3] = UINT32_MAX;
    EXPECT(S_ARG, ttrt_copy_host_to_device_tensor(dev, 0, &bad_h, a, true));
    EXPECT(S_ARG, ttrt_copy_device_to_host_tensor(dev, 0, a, &bad_h, true));
    bad_h = h;
    bad_h.format = UINT32_MAX;
    EXPECT(S_ARG, ttrt_copy_host_to_device_tensor(dev, 0, &bad_h, a, true));
    bad_h = h;
    bad_h.layout = UINT32_MAX;
    EXPECT(S_ARG, ttrt_copy_host_to_device_tensor(dev, 0, &bad_h, a, true));

    /* Events: never recorded, other device or CQ, huge timeouts on completed events. */
    EXPECT(S_OK, ttrt_copy_host_to_device_tensor(dev, 0, &h, a, true));
    EXPECT(S_OK, ttrt_record_event(dev, 0, &ev));
    EXPECT(S_OK, ttrt_event_synchronize(dev, &ev, INT32_MAX));
    EXPECT(S_OK, ttrt_event_synchronize(dev, &ev, -1));
    EXPECT(S_OK, ttrt_event_synchronize(dev, &ev, INT32_MIN));
    EXPECT(S_OK, ttrt_event_query(dev, &ev, &done));
    TRUE_OR_FAIL(done);
    never = ev;
    never.id = ev.id + 1000;
    EXPECT(S_ARG, ttrt_wait_for_event(dev, 0, &never));
    EXPECT(S_ARG, ttrt_event_synchronize(dev, &never, INT32_MAX));
    never = ev;
    never.id = 0;
    EXPECT(S_ARG, ttrt_wait_for_event(dev, 0, &never));
    EXPECT(S_ARG, ttrt_event_synchronize(dev, &never, 0));
    never = ev;
    never.cq_id = 7;
    EXPECT(S_ARG, ttrt_wait_for_event(dev, 0, &never));
    EXPECT(S_ARG, ttrt_event_query(dev, &never, &done));
    /* Ids past the last recorded one are never complete, however they compare wrapped. */
    never = ev;
    never.id = 0xFFFFFFFFu;
    EXPECT(S_ARG, ttrt_event_query(dev, &never, &done));
    EXPECT(S_ARG, ttrt_wait_for_event(dev, 0, &never));
    EXPECT(S_ARG, ttrt_event_synchronize(dev, &never, 0));
    never.id = ev.id + 0x80000000u;
    EXPECT(S_ARG, ttrt_event_query(dev, &never, &done));
    EXPECT(S_ARG, ttrt_wait_for_event(dev, 0, &never));
    EXPECT(S_ARG, ttrt_event_synchronize(dev, &never, 0));
    never = ev;
    never.device_id = ev.device_id + 1;
    EXPECT(S_ARG, ttrt_wait_for_event(dev, 0, &never));
    EXPECT(S_ARG, ttrt_event_synchronize(dev, &never, INT32_MAX));

    /* Traces out of order: end, execute or release with no capture; capture twice; I/O and
     * events during capture; replay of a released trace. */
    EXPECT2(S_STATE, S_NOT_FOUND, ttrt_end_trace_capture(dev, 0, 1));
    EXPECT(S_NOT_FOUND, ttrt_execute_trace(dev, 0, 1, true));
    EXPECT(S_NOT_FOUND, ttrt_release_trace(dev, 1));
    EXPECT(S_NOT_FOUND, ttrt_execute_trace(dev, 0, UINT32_MAX, false));
    EXPECT(S_OK, ttrt_op_unary(dev, 0, TTRT_UNARY_OP_RELU, a, &mem, &out)); /* warm-up */
    ttrt_tensor_free(out);
    out = NULL;
    EXPECT(S_OK, ttrt_begin_trace_capture(dev, 0, &trace_id));
    EXPECT(S_STATE, ttrt_begin_trace_capture(dev, 0, &other_trace));
    EXPECT(S_STATE, ttrt_copy_host_to_device_tensor(dev, 0, &h, a, false));
    EXPECT(S_STATE, ttrt_copy_device_to_host_tensor(dev, 0, a, &h, false));
    EXPECT(S_STATE, ttrt_record_event(dev, 0, &ev));
    EXPECT(S_STATE, ttrt_execute_trace(dev, 0, trace_id, true));
    EXPECT2(S_STATE, S_NOT_FOUND, ttrt_end_trace_capture(dev, 0, trace_id + 1));
    EXPECT(S_OK, ttrt_op_unary(dev, 0, TTRT_UNARY_OP_RELU, a, &mem, &out));
    EXPECT(S_OK, ttrt_end_trace_capture(dev, 0, trace_id));
    EXPECT2(S_STATE, S_NOT_FOUND, ttrt_end_trace_capture(dev, 0, trace_id));
    EXPECT(S_OK, ttrt_execute_trace(dev, 0, trace_id, true));
    EXPECT(S_OK, ttrt_release_trace(dev, trace_id));
    EXPECT(S_NOT_FOUND, ttrt_release_trace(dev, trace_id));
    EXPECT(S_NOT_FOUND, ttrt_execute_trace(dev, 0, trace_id, true));

    /* Wrong-type handles: a tensor as a device, a device as a tensor, an image as either. */
    EXPECT(S_ARG, ttrt_synchronize((ttrt_device *)(void *)a));
    EXPECT(S_ARG, ttrt_device_close((ttrt_device *)(void *)a));
    EXPECT(S_ARG, ttrt_device_close((ttrt_device *)(void *)img));
    EXPECT(S_ARG, ttrt_tensor_deallocate((ttrt_tensor *)(void *)dev, true));
    EXPECT_ZERO(ttrt_tensor_buffer_address((ttrt_tensor *)(void *)dev));
    ttrt_tensor_free((ttrt_tensor *)(void *)dev); /* refused: the device stays open */
    EXPECT(S_OK, ttrt_synchronize(dev));
    EXPECT(S_ARG, ttrt_op_binary(dev, 0, TTRT_BINARY_OP_ADD, a, (ttrt_tensor *)(void *)img, &mem, &out));
    EXPECT(S_ARG, ttrt_op_unary((ttrt_device *)(void *)img, 0, TTRT_UNARY_OP_RELU, a, &mem, &out));
    /* Misaligned handle and struct pointers. */
    EXPECT(S_ARG, ttrt_synchronize((ttrt_device *)(void *)((char *)(void *)dev + 1)));
    EXPECT(S_ARG, ttrt_allocate_tensor_on_device(dev, (const ttrt_tensor_spec *)(const void *)((const char *)&spec + 1),
                                                 &mem, &out));
    EXPECT(S_ARG, ttrt_record_event(dev, 0, (ttrt_event *)(void *)((char *)&ev + 2)));

    /* Freed tensors: every use is refused; a second free is harmless. */
    EXPECT(S_OK, ttrt_tensor_deallocate(b, true));
    TRUE_OR_FAIL(ttrt_tensor_buffer_address(b) != 0); /* the handle stays valid */
    EXPECT(S_STATE, ttrt_op_binary(dev, 0, TTRT_BINARY_OP_ADD, a, b, &mem, &out));
    ttrt_tensor_free(b);
    ttrt_tensor_free(b);
    EXPECT(S_ARG, ttrt_tensor_deallocate(b, true));
    EXPECT_ZERO(ttrt_tensor_buffer_address(b));
    EXPECT(S_ARG, ttrt_copy_host_to_device_tensor(dev, 0, &h, b, true));
    EXPECT(S_ARG, ttrt_copy_device_to_host_tensor(dev, 0, b, &h, true));
    EXPECT(S_ARG, ttrt_reshard(dev, 0, a, b));
    EXPECT(S_ARG, ttrt_op_matmul(dev, 0, a, b, &mem, &out));

    /* A pipeline keeps its device; after close, tensors refuse every use but free. */
    EXPECT(S_OK, ttrt_device_close(dev));
    EXPECT(S_ARG, ttrt_device_close(dev));
    EXPECT(S_ARG, ttrt_synchronize(dev));
    EXPECT(S_ARG, ttrt_finish(dev, 0));
    EXPECT(S_ARG, ttrt_record_event(dev, 0, &ev));
    EXPECT(S_ARG, ttrt_event_query(dev, &ev, &done));
    EXPECT(S_ARG, ttrt_begin_trace_capture(dev, 0, &trace_id));
    EXPECT(S_ARG, ttrt_allocate_tensor_on_device(dev, &spec, &mem, &out));
    EXPECT(S_ARG, ttrt_op_unary(dev, 0, TTRT_UNARY_OP_RELU, a, &mem, &out));
    EXPECT2(S_STATE, S_ARG, ttrt_tensor_deallocate(a, true));
    ttrt_tensor_free(a);
    ttrt_tensor_free(out);
    EXPECT_ZERO(ttrt_tensor_buffer_address(a));
}

/* ---- Pipelines: NULLs, order, huge counts, freed device. ---- */

static void pipeline_functions(void) {
    ttrt_device *dev = open_device(1);
    ttrt_pipeline_config cfg;
    ttrt_pipeline *p = NULL;
    ttrt_memory_config l1 = l1_interleaved();
    ttrt_host_tensor h = host_tile(), bad_h;
    const ttrt_host_tensor *outs = NULL;
    size_t n = 0;

    ttrt_pipeline_config_default(&cfg);
    cfg.use_trace = false;
    EXPECT(S_ARG, ttrt_pipeline_create(NULL, &cfg, identity_model, NULL, &l1, NULL, NULL, &p));
    EXPECT(S_ARG, ttrt_pipeline_create(dev, &cfg, NULL, NULL, &l1, NULL, NULL, &p));
    EXPECT(S_ARG, ttrt_pipeline_create(dev, &cfg, identity_model, NULL, NULL, NULL, NULL, &p));
    EXPECT(S_ARG, ttrt_pipeline_create(dev, &cfg, identity_model, NULL, &l1, NULL, NULL, NULL));
    cfg.struct_size = 0;
    EXPECT(S_ARG, ttrt_pipeline_create(dev, &cfg, identity_model, NULL, &l1, NULL, NULL, &p));
    cfg.struct_size = sizeof cfg - 1;
    EXPECT(S_ARG, ttrt_pipeline_create(dev, &cfg, identity_model, NULL, &l1, NULL, NULL, &p));
    ttrt_pipeline_config_default(&cfg);
    cfg.use_trace = false;
    cfg.num_command_queues = UINT32_MAX;
    EXPECT(S_ARG, ttrt_pipeline_create(dev, &cfg, identity_model, NULL, &l1, NULL, NULL, &p));
    cfg.num_command_queues = 2; /* the device has one */
    EXPECT(S_ARG, ttrt_pipeline_create(dev, &cfg, identity_model, NULL, &l1, NULL, NULL, &p));
    ttrt_pipeline_config_default(&cfg); /* traced: needs the DRAM input */
    EXPECT(S_ARG, ttrt_pipeline_create(dev, &cfg, identity_model, NULL, &l1, NULL, NULL, &p));
    TRUE_OR_FAIL(p == NULL);
    {
        unsigned char larger[sizeof(ttrt_pipeline_config) + 32];
        ttrt_pipeline_config *l = (ttrt_pipeline_config *)(void *)larger;
        memset(larger, 0xff, sizeof larger);
        ttrt_pipeline_config_default(l);
        l->use_trace = false;
        l->struct_size = (uint32_t)sizeof larger;
        EXPECT(S_OK, ttrt_pipeline_create(dev, l, identity_model, NULL, &l1, NULL, NULL, &p));
    }
    TRUE_OR_FAIL(ttrt_pipeline_executor(p) != NULL);

    /* Before compile. */
    EXPECT(S_STATE, ttrt_pipeline_enqueue(p, &h, 1));
    EXPECT(S_STATE, ttrt_pipeline_preallocate_output_tensors_on_host(p, 1));
    EXPECT(S_OK, ttrt_pipeline_pop_all(p, &outs, &n)); /* nothing enqueued: no outputs */
    TRUE_OR_FAIL(n == 0);

    EXPECT(S_ARG, ttrt_pipeline_compile(NULL, &h));
    EXPECT(S_ARG, ttrt_pipeline_compile(p, NULL));
    bad_h = h;
    bad_h.data = NULL;
    EXPECT(S_ARG, ttrt_pipeline_compile(p, &bad_h));
    bad_h = h;
    bad_h.size = SIZE_MAX;
    EXPECT(S_ARG, ttrt_pipeline_compile(p, &bad_h));
    bad_h = h;
    bad_h.shape[0] = bad_h.shape[1] = bad_h.shape[2] = bad_h.shape[3] = UINT32_MAX;
    EXPECT(S_ARG, ttrt_pipeline_compile(p, &bad_h));
    EXPECT(S_OK, ttrt_pipeline_compile(p, &h));
    EXPECT(S_STATE, ttrt_pipeline_compile(p, &h));

    EXPECT(S_ARG, ttrt_pipeline_enqueue(NULL, &h, 1));
    EXPECT(S_ARG, ttrt_pipeline_enqueue(p, NULL, 1));
    EXPECT(S_ARG, ttrt_pipeline_enqueue(p, NULL, SIZE_MAX));
    EXPECT(S_ARG, ttrt_pipeline_enqueue(p, &h, SIZE_MAX));
    bad_h = h;
    bad_h.shape[3] = 64; /* not the sample's shape */
    EXPECT(S_ARG, ttrt_pipeline_enqueue(p, &bad_h, 1));
    EXPECT(S_ARG, ttrt_pipeline_enqueue(p, NULL, 0)); /* at least one input */
    EXPECT(S_ARG, ttrt_pipeline_pop_all(NULL, &outs, &n));
    EXPECT(S_ARG, ttrt_pipeline_pop_all(p, NULL, &n));
    EXPECT(S_ARG, ttrt_pipeline_pop_all(p, &outs, NULL));
    EXPECT(S_ARG, ttrt_pipeline_preallocate_output_tensors_on_host(NULL, 1));
    /* Counts no host memory holds: refused whole, the earlier outputs kept. */
    EXPECT(S_OOM, ttrt_pipeline_preallocate_output_tensors_on_host(p, (size_t)1 << 40));
    EXPECT(S_OOM, ttrt_pipeline_preallocate_output_tensors_on_host(p, SIZE_MAX));
    EXPECT(S_OK, ttrt_pipeline_preallocate_output_tensors_on_host(p, 1));
    EXPECT(S_OK, ttrt_pipeline_enqueue(p, &h, 1));
    EXPECT(S_ARG, ttrt_pipeline_enqueue(p, &h, 1)); /* more than the preallocated slots */
    EXPECT(S_OK, ttrt_pipeline_pop_all(p, &outs, &n));
    TRUE_OR_FAIL(n == 1 && outs != NULL);

    EXPECT(S_ARG, ttrt_pipeline_cleanup(NULL));
    EXPECT(S_OK, ttrt_pipeline_cleanup(p));
    EXPECT(S_STATE, ttrt_pipeline_enqueue(p, &h, 1));
    EXPECT(S_STATE, ttrt_pipeline_compile(p, &h));

    /* Wrong-type handles. */
    EXPECT(S_ARG, ttrt_pipeline_cleanup((ttrt_pipeline *)(void *)dev));
    EXPECT(S_ARG, ttrt_synchronize((ttrt_device *)(void *)p));
    EXPECT_NULL(ttrt_pipeline_executor((const ttrt_pipeline *)(const void *)dev));

    /* The device closes under the pipeline; the pipeline refuses work, then frees. */
    EXPECT(S_OK, ttrt_device_close(dev));
    EXPECT2(S_STATE, S_ARG, ttrt_pipeline_compile(p, &h));
    ttrt_pipeline_free(p);
    ttrt_pipeline_free(p);
    EXPECT(S_ARG, ttrt_pipeline_enqueue(p, &h, 1));
    EXPECT(S_ARG, ttrt_pipeline_pop_all(p, &outs, &n));
    EXPECT(S_ARG, ttrt_pipeline_cleanup(p));
    EXPECT(S_ARG, ttrt_pipeline_preallocate_output_tensors_on_host(p, 1));
    EXPECT_NULL(ttrt_pipeline_executor(p));
}

/* ---- Images and backends: NULLs, wrong-type and freed handles, order, huge sizes. ---- */

static void image_and_backend_functions(void) {
    ttrt_image *img = NULL, *other = NULL;
    ttrt_backend *be = NULL;
    ttrt_backend_config cfg;
    ttrt_io_desc q, out_q, bad_q;
    ttrt_tensor_desc t, got, bad_t;
    ttrt_arch arch;
    ttrt_program_param loop = {"$p_loop_count", "1"};
    ttrt_program_param bad_params[2] = {{NULL, "1"}, {"$p_loop_count", NULL}};
    static float out_buf[32 * 32];
    size_t n_set = 0;

    EXPECT(S_ARG, ttrt_image_open(NULL, &img));
    EXPECT(S_ARG, ttrt_image_open(netlist_path, NULL));
    EXPECT(TTRT_STATUS_IO_ERROR, ttrt_image_open("/nonexistent/ttrt/misuse.tti", &img));
    EXPECT(S_ARG, ttrt_image_open("\xff\xfe.yaml", &img));
    TRUE_OR_FAIL(img == NULL);
    img = open_image();
    EXPECT_ZERO(ttrt_image_input_count(NULL));
    EXPECT_ZERO(ttrt_image_output_count(NULL));
    EXPECT_NULL(ttrt_image_input_name(NULL, 0));
    EXPECT_NULL(ttrt_image_output_name(NULL, 0));
    EXPECT_NULL(ttrt_image_input_name(img, SIZE_MAX));
    EXPECT_NULL(ttrt_image_output_name(img, SIZE_MAX));
    EXPECT_ZERO(ttrt_image_constant_count(NULL));
    EXPECT_ZERO(ttrt_image_parameter_count(NULL));
    EXPECT_NULL(ttrt_image_constant_name(NULL, 0));
    EXPECT_NULL(ttrt_image_parameter_name(NULL, 0));
    EXPECT_NULL(ttrt_image_constant_name(img, SIZE_MAX));
    EXPECT_NULL(ttrt_image_parameter_name(img, SIZE_MAX));
    EXPECT_NULL(ttrt_image_devtype(NULL));
    EXPECT(S_ARG, ttrt_image_arch(NULL, &arch));
    EXPECT(S_ARG, ttrt_image_arch(img, NULL));
    EXPECT(S_ARG, ttrt_image_apply_runtime_config(NULL, &n_set));
    EXPECT(S_OK, ttrt_image_apply_runtime_config(img, NULL));

    /* Backend config sizes and values. */
    EXPECT(S_ARG, ttrt_backend_create(NULL, NULL, &be));
    EXPECT(S_ARG, ttrt_backend_create(img, NULL, NULL));
    ttrt_backend_config_default(&cfg);
    cfg.struct_size = 0;
    EXPECT(S_ARG, ttrt_backend_create(img, &cfg, &be));
    /* One byte short of the first version of the struct (struct_size, arch, num_command_queues);
     * later sizes are valid, their fields read only where struct_size covers them. */
    cfg.struct_size = 3 * sizeof(uint32_t) - 1;
    EXPECT(S_ARG, ttrt_backend_create(img, &cfg, &be));
    ttrt_backend_config_default(&cfg);
    cfg.arch = UINT32_MAX;
    EXPECT(S_ARG, ttrt_backend_create(img, &cfg, &be));
    ttrt_backend_config_default(&cfg);
    cfg.num_command_queues = 0;
    EXPECT(S_ARG, ttrt_backend_create(img, &cfg, &be));
    ttrt_backend_config_default(&cfg);
    cfg.golden = 2;
    EXPECT(S_ARG, ttrt_backend_create(img, &cfg, &be));
    TRUE_OR_FAIL(be == NULL);
    {
        unsigned char larger[sizeof(ttrt_backend_config) + 32];
        ttrt_backend_config *l = (ttrt_backend_config *)(void *)larger;
        memset(larger, 0xff, sizeof larger);
        ttrt_backend_config_default(l);
        l->struct_size = (uint32_t)sizeof larger;
        EXPECT(S_OK, ttrt_backend_create(img, l, &be));
    }

    /* Before initialize: the queue descriptors are known, transfers and programs are not
     * allowed yet. */
    t = float_tile_desc(out_buf);
    memset(&got, 0, sizeof got);
    EXPECT(S_OK, ttrt_backend_get_queue_descriptor(be, "in0", &q));
    EXPECT(S_OK, ttrt_backend_get_queue_descriptor(be, "out", &out_q));
    EXPECT(S_STATE, ttrt_push_input(be, &q, &t, true, 0, -1));
    EXPECT(S_STATE, ttrt_backend_run_program(be, "run", &loop, 1));
    EXPECT(S_STATE, ttrt_get_output(be, &out_q, &got, true, 0, -1));
    EXPECT(S_STATE, ttrt_pop_output(be, &out_q, true, 0));
    EXPECT(S_STATE, ttrt_backend_wait_for_idle(be));

    EXPECT(S_ARG, ttrt_backend_initialize(NULL));
    EXPECT(S_OK, ttrt_backend_initialize(be));
    EXPECT(S_STATE, ttrt_backend_initialize(be));

    /* NULL for each pointer argument. */
    EXPECT_ZERO(ttrt_backend_program_count(NULL));
    EXPECT_NULL(ttrt_backend_program_name(NULL, 0));
    EXPECT_NULL(ttrt_backend_program_name(be, SIZE_MAX));
    EXPECT_NULL(ttrt_backend_program_name(be, 1));
    EXPECT(S_ARG, ttrt_backend_get_queue_descriptor(NULL, "in0", &q));
    EXPECT(S_ARG, ttrt_backend_get_queue_descriptor(be, NULL, &q));
    EXPECT(S_ARG, ttrt_backend_get_queue_descriptor(be, "in0", NULL));
    EXPECT(S_NOT_FOUND, ttrt_backend_get_queue_descriptor(be, "", &bad_q));
    EXPECT(S_ARG, ttrt_backend_get_queue_descriptor(be, "\xff", &bad_q));
    EXPECT(S_ARG, ttrt_backend_tensor_desc_for_queue(NULL, &q, true, &t));
    EXPECT(S_ARG, ttrt_backend_tensor_desc_for_queue(be, NULL, true, &t));
    EXPECT(S_ARG, ttrt_backend_tensor_desc_for_queue(be, &q, true, NULL));
    EXPECT(S_OK, ttrt_backend_tensor_desc_for_queue(be, &q, true, &t));
    EXPECT(S_ARG, ttrt_push_input(NULL, &q, &t, true, 0, -1));
    EXPECT(S_ARG, ttrt_push_input(be, NULL, &t, true, 0, -1));
    EXPECT(S_ARG, ttrt_push_input(be, &q, NULL, true, 0, -1));
    bad_t = t;
    bad_t.ptr = NULL;
    EXPECT(S_ARG, ttrt_push_input(be, &q, &bad_t, true, 0, -1));
    EXPECT(S_ARG, ttrt_backend_run_program(NULL, "run", &loop, 1));
    EXPECT(S_ARG, ttrt_backend_run_program(be, NULL, &loop, 1));
    EXPECT(S_ARG, ttrt_backend_run_program(be, "run", NULL, 1));
    EXPECT(S_ARG, ttrt_backend_run_program(be, "run", NULL, SIZE_MAX));
    EXPECT(S_ARG, ttrt_backend_run_program(be, "run", bad_params, 1));
    EXPECT(S_ARG, ttrt_backend_run_program(be, "run", bad_params + 1, 1));
    /* The declared param is missing: Buda's runtime error. */
    EXPECT(TTRT_STATUS_RUNTIME_ERROR, ttrt_backend_run_program(be, "run", NULL, 0));
    EXPECT(S_NOT_FOUND, ttrt_backend_run_program(be, "nope", &loop, 1));
    EXPECT(S_ARG, ttrt_get_output(NULL, &out_q, &got, true, 0, -1));
    EXPECT(S_ARG, ttrt_get_output(be, NULL, &got, true, 0, -1));
    EXPECT(S_ARG, ttrt_get_output(be, &out_q, NULL, true, 0, -1));
    EXPECT(S_ARG, ttrt_get_output_into(NULL, &out_q, &got, true, 0, -1));
    EXPECT(S_ARG, ttrt_get_output_into(be, NULL, &got, true, 0, -1));
    EXPECT(S_ARG, ttrt_get_output_into(be, &out_q, NULL, true, 0, -1));
    EXPECT(S_ARG, ttrt_pop_output(NULL, &out_q, true, 0));
    EXPECT(S_ARG, ttrt_pop_output(be, NULL, true, 0));
    EXPECT(S_ARG, ttrt_tensor_desc_free(NULL));
    EXPECT(S_ARG, ttrt_backend_wait_for_idle(NULL));
    EXPECT(S_ARG, ttrt_backend_finish(NULL));

    /* Descriptors with huge or disagreeing fields. */
    bad_q = q;
    bad_q.grid_r = bad_q.grid_c = UINT32_MAX;
    EXPECT(S_ARG, ttrt_backend_tensor_desc_for_queue(be, &bad_q, false, &got));
    EXPECT(S_ARG, ttrt_push_input(be, &bad_q, &t, true, 0, -1));
    EXPECT(S_ARG, ttrt_pop_output(be, &bad_q, true, 0));
    bad_q = q;
    bad_q.entries = UINT32_MAX;
    bad_q.input_count = UINT32_MAX;
    EXPECT(S_ARG, ttrt_backend_tensor_desc_for_queue(be, &bad_q, false, &got));
    EXPECT(S_ARG, ttrt_push_input(be, &bad_q, &t, false, 0, -1));
    bad_q = q;
    bad_q.queue_name = NULL;
    EXPECT(S_ARG, ttrt_push_input(be, &bad_q, &t, true, 0, -1));
    bad_q.queue_name = "nope";
    EXPECT(S_NOT_FOUND, ttrt_push_input(be, &bad_q, &t, true, 0, -1));
    bad_t = t;
    bad_t.shape[0] = bad_t.shape[1] = bad_t.shape[2] = bad_t.shape[3] = UINT32_MAX;
    EXPECT(S_ARG, ttrt_push_input(be, &q, &bad_t, false, 0, -1));
    bad_t = t;
    bad_t.shape[0] = 3; /* push_one needs W = 1 */
    EXPECT(S_ARG, ttrt_push_input(be, &q, &bad_t, true, 0, -1));
    EXPECT(S_ARG, ttrt_push_input(be, &q, &t, true, 0, INT32_MAX)); /* ptr on a queue */
    EXPECT(S_ARG, ttrt_push_input(be, &out_q, &t, true, 0, -1)); /* not host-fed */

    /* A full round with huge timeouts where nothing has to wait. */
    EXPECT(S_OK, ttrt_push_input(be, &q, &t, true, INT32_MAX, -1));
    EXPECT(S_OK, ttrt_push_input(be, &q, &t, true, 0, -1));
    EXPECT(S_TIMEOUT, ttrt_push_input(be, &q, &t, true, 0, -1)); /* two entries: full */
    EXPECT(S_TIMEOUT, ttrt_push_input(be, &q, &t, true, 1, -1));
    EXPECT(S_TIMEOUT, ttrt_get_output(be, &out_q, &got, true, 0, -1)); /* nothing run yet */
    EXPECT(S_TIMEOUT, ttrt_pop_output(be, &out_q, true, 1));
    EXPECT(S_OK, ttrt_backend_run_program(be, "run", &loop, 1));
    EXPECT(S_OK, ttrt_get_output(be, &out_q, &got, true, INT32_MAX, -1));
    {
        ttrt_tensor_desc into = float_tile_desc(out_buf);
        EXPECT(S_OK, ttrt_get_output_into(be, &out_q, &into, true, INT32_MAX, -1));
        into.ptr = NULL;
        EXPECT(S_ARG, ttrt_get_output_into(be, &out_q, &into, true, 0, -1));
        into = float_tile_desc(out_buf);
        into.shape[3] = UINT32_MAX;
        EXPECT(S_ARG, ttrt_get_output_into(be, &out_q, &into, true, 0, -1));
        into = float_tile_desc(out_buf);
        into.format = TTRT_DATA_FORMAT_INT8;
        into.itemsize = 1;
        EXPECT(S_ARG, ttrt_get_output_into(be, &out_q, &into, true, 0, -1));
    }
    EXPECT(S_ARG, ttrt_get_output(be, &out_q, &got, true, 0, INT32_MAX)); /* ptr on a queue */
    EXPECT(S_OK, ttrt_pop_output(be, &out_q, true, INT32_MAX));
    EXPECT(S_TIMEOUT, ttrt_pop_output(be, &out_q, true, 0));
    EXPECT(S_OK, ttrt_backend_wait_for_idle(be));

    /* Tensor memory: the caller's is refused, the backend's frees once. */
    bad_t = t;
    bad_t.owner = TTRT_TENSOR_OWNER_FRONTEND;
    EXPECT(S_ARG, ttrt_tensor_desc_free(&bad_t));
    bad_t = t;
    bad_t.ptr = out_buf;
    EXPECT(S_ARG, ttrt_tensor_desc_free(&bad_t));
    bad_t.ptr = (const void *)(uintptr_t)0x1000;
    EXPECT(S_ARG, ttrt_tensor_desc_free(&bad_t));
    bad_t.ptr = NULL;
    EXPECT(S_ARG, ttrt_tensor_desc_free(&bad_t));
    EXPECT(S_OK, ttrt_tensor_desc_free(&got));
    TRUE_OR_FAIL(got.ptr == NULL);
    EXPECT(S_ARG, ttrt_tensor_desc_free(&got));

    /* Wrong-type handles. */
    EXPECT(S_ARG, ttrt_backend_initialize((ttrt_backend *)(void *)img));
    EXPECT(S_ARG, ttrt_image_arch((const ttrt_image *)(const void *)be, &arch));
    EXPECT_ZERO(ttrt_image_input_count((const ttrt_image *)(const void *)be));
    ttrt_image_free((ttrt_image *)(void *)be); /* refused: the backend stays */
    ttrt_backend_free((ttrt_backend *)(void *)img); /* refused: the image stays */
    EXPECT(S_OK, ttrt_image_arch(img, &arch));
    EXPECT(S_OK, ttrt_backend_wait_for_idle(be));

    /* After finish, every call but free is INVALID_STATE; backend memory is released. */
    EXPECT(S_OK, ttrt_backend_finish(be));
    EXPECT(S_STATE, ttrt_backend_finish(be));
    EXPECT(S_STATE, ttrt_backend_initialize(be));
    EXPECT(S_STATE, ttrt_push_input(be, &q, &t, true, INT32_MAX, -1));
    EXPECT(S_STATE, ttrt_backend_run_program(be, "run", &loop, 1));
    EXPECT(S_STATE, ttrt_get_output(be, &out_q, &got, true, INT32_MAX, -1));
    EXPECT(S_STATE, ttrt_pop_output(be, &out_q, true, INT32_MAX));
    EXPECT(S_STATE, ttrt_backend_wait_for_idle(be));
    EXPECT(S_ARG, ttrt_tensor_desc_free(&t)); /* released by finish */

    /* Freed handles. */
    ttrt_backend_free(be);
    ttrt_backend_free(be);
    EXPECT(S_ARG, ttrt_backend_initialize(be));
    EXPECT(S_ARG, ttrt_backend_finish(be));
    EXPECT(S_ARG, ttrt_backend_get_queue_descriptor(be, "in0", &bad_q));
    EXPECT(S_ARG, ttrt_push_input(be, &q, &t, true, INT32_MAX, -1));
    EXPECT(S_ARG, ttrt_get_output(be, &out_q, &got, true, -1, -1));
    EXPECT(S_ARG, ttrt_pop_output(be, &out_q, true, -1));
    EXPECT(S_ARG, ttrt_backend_run_program(be, "run", &loop, 1));
    EXPECT_ZERO(ttrt_backend_program_count(be));
    EXPECT_NULL(ttrt_backend_program_name(be, 0));

    /* A backend outlives its image; a freed image is refused. */
    be = started_backend(img);
    other = img;
    ttrt_image_free(img);
    ttrt_image_free(img);
    EXPECT(S_ARG, ttrt_image_arch(other, &arch));
    EXPECT_ZERO(ttrt_image_input_count(other));
    EXPECT_NULL(ttrt_image_input_name(other, 0));
    EXPECT(S_ARG, ttrt_image_apply_runtime_config(other, &n_set));
    EXPECT(S_ARG, ttrt_backend_create(other, NULL, &be));
    EXPECT(S_OK, ttrt_backend_get_queue_descriptor(be, "in0", &q));
    EXPECT(S_OK, ttrt_backend_tensor_desc_for_queue(be, &q, true, &t));
    EXPECT(S_OK, ttrt_push_input(be, &q, &t, true, 0, -1));
    /* Free without finish: finishes, releases the backend's tensor memory. */
    ttrt_backend_free(be);
    EXPECT(S_ARG, ttrt_tensor_desc_free(&t));
}

/* ---- Threads calling on, and freeing, the same handles. ---- */

#define THREADS 4
#define ROUNDS 200

typedef struct device_worker {
    ttrt_device *dev;
    int index;
} device_worker;

static void expect_one_of(ttrt_status got, const ttrt_status *allowed, size_t n, const char *call, int line) {
    char why[1024];
    size_t i;
    for (i = 0; i < n; i++) {
        if (got == allowed[i]) {
            if (got != S_OK && !error_text_ok(call, why, sizeof why)) {
                fail(line, call, why);
                return;
            }
            atomic_fetch_add(&passed, 1);
            return;
        }
    }
    snprintf(why, sizeof why, "returned %s (last error: \"%s\")", ttrt_status_str(got), ttrt_last_error_message());
    fail(line, call, why);
}

/* Statuses a call on a handle another thread may close or free at any moment can return:
 * success, the handle freed (INVALID_ARGUMENT) or the device or backend closed or finished
 * (INVALID_STATE), or a transfer that found no room or no data (TIMEOUT). */
static const ttrt_status racing[] = {S_OK, S_ARG, S_STATE, S_TIMEOUT, S_CANCELLED};
#define EXPECT_RACING(call) expect_one_of((call), racing, sizeof racing / sizeof racing[0], #call, __LINE__)

static void *device_hammer(void *arg) {
    device_worker *w = (device_worker *)arg;
    ttrt_memory_config mem = dram_interleaved();
    ttrt_tensor_spec spec = tile_spec();
    ttrt_host_tensor h = host_tile();
    int r;
    for (r = 0; r < ROUNDS; r++) {
        ttrt_tensor *t = NULL, *u = NULL;
        ttrt_event ev;
        bool done;
        uint8_t cq = (uint8_t)w->index; /* threads 0 and 1 own a CQ each; the others only allocate */
        EXPECT_RACING(ttrt_allocate_tensor_on_device(w->dev, &spec, &mem, &t));
        if (w->index < 2) {
            EXPECT_RACING(ttrt_copy_host_to_device_tensor(w->dev, cq, &h, t, false));
            EXPECT_RACING(ttrt_op_unary(w->dev, cq, TTRT_UNARY_OP_RELU, t, &mem, &u));
            if (ttrt_record_event(w->dev, cq, &ev) == S_OK) {
                EXPECT_RACING(ttrt_event_query(w->dev, &ev, &done));
                EXPECT_RACING(ttrt_event_synchronize(w->dev, &ev, 10000));
            }
            EXPECT_RACING(ttrt_finish(w->dev, cq));
        } else {
            EXPECT_RACING(ttrt_synchronize(w->dev));
            EXPECT_RACING(ttrt_tensor_deallocate(t, true));
        }
        (void)ttrt_tensor_buffer_address(t);
        ttrt_tensor_free(u);
        ttrt_tensor_free(t);
    }
    /* Racing closes: one succeeds, the others find the handle closed or freed. */
    EXPECT_RACING(ttrt_device_close(w->dev));
    return NULL;
}

typedef struct backend_worker {
    ttrt_backend *be;
    int index;
} backend_worker;

static void *backend_hammer(void *arg) {
    backend_worker *w = (backend_worker *)arg;
    ttrt_program_param loop = {"$p_loop_count", "1"};
    int r;
    for (r = 0; r < ROUNDS; r++) {
        ttrt_io_desc q;
        ttrt_tensor_desc t;
        memset(&q, 0, sizeof q);
        memset(&t, 0, sizeof t);
        (void)ttrt_backend_program_count(w->be);
        (void)ttrt_backend_program_name(w->be, 0);
        if (w->index == 0) {
            /* The io side: push, get, pop. */
            if (ttrt_backend_get_queue_descriptor(w->be, "in0", &q) == S_OK) {
                /* The caller's memory: backend-owned tensors end with finish on another thread. */
                static float tile[32 * 32];
                t = float_tile_desc(tile);
                EXPECT_RACING(ttrt_push_input(w->be, &q, &t, true, 0, -1));
            }
            if (ttrt_backend_get_queue_descriptor(w->be, "out", &q) == S_OK) {
                ttrt_tensor_desc got;
                memset(&got, 0, sizeof got);
                if (ttrt_get_output(w->be, &q, &got, true, 1, -1) == S_OK) {
                    EXPECT_RACING(ttrt_tensor_desc_free(&got));
                    EXPECT_RACING(ttrt_pop_output(w->be, &q, true, 1));
                }
            }
        } else if (w->index == 1) {
            /* The runtime side: run_program. Declared params missing or an empty queue are
             * not what this checks; only that racing with free is clean. */
            ttrt_status st = ttrt_backend_run_program(w->be, "run", &loop, 1);
            const ttrt_status allowed[] = {S_OK, S_ARG, S_STATE, S_TIMEOUT, S_CANCELLED, TTRT_STATUS_RUNTIME_ERROR};
            expect_one_of(st, allowed, sizeof allowed / sizeof allowed[0], "ttrt_backend_run_program", __LINE__);
        } else {
            EXPECT_RACING(ttrt_backend_get_queue_descriptor(w->be, "out", &q));
            EXPECT_RACING(ttrt_backend_wait_for_idle(w->be));
        }
    }
    if (w->index == 2) {
        EXPECT_RACING(ttrt_backend_finish(w->be));
    }
    ttrt_backend_free(w->be);
    return NULL;
}

/* Starts `fn(arg)` on a new thread; a thread that cannot be started ends the run (setup). */
static void spawn(pthread_t *thread, void *(*fn)(void *), void *arg) {
    if (pthread_create(thread, NULL, fn, arg) != 0) {
        fprintf(stderr, "misuse: pthread_create failed\n");
        exit(2);
    }
}

static void join_all(pthread_t *threads, int n) {
    int i;
    for (i = 0; i < n; i++) {
        pthread_join(threads[i], NULL);
    }
}

static void concurrent_calls(ttrt_image *img) {
    pthread_t threads[THREADS];
    device_worker dw[THREADS];
    backend_worker bw[THREADS];
    int i;
    ttrt_device *dev = open_device(2);
    ttrt_backend *be = started_backend(img);

    for (i = 0; i < THREADS; i++) {
        dw[i].dev = dev;
        dw[i].index = i;
        spawn(&threads[i], device_hammer, &dw[i]);
    }
    join_all(threads, THREADS);
    EXPECT(S_ARG, ttrt_synchronize(dev));

    for (i = 0; i < THREADS; i++) {
        bw[i].be = be;
        bw[i].index = i;
        spawn(&threads[i], backend_hammer, &bw[i]);
    }
    join_all(threads, THREADS);
    EXPECT(S_ARG, ttrt_backend_wait_for_idle(be));

    /* Handles created and freed on many threads at once: none is confused with another. */
    {
        dev = open_device(1);
        for (i = 0; i < THREADS; i++) {
            dw[i].dev = dev;
            dw[i].index = 2 + i; /* allocate, deallocate, free only */
            spawn(&threads[i], device_hammer, &dw[i]);
        }
        join_all(threads, THREADS);
    }
}

/* ---- Netlists whose sizes no host memory holds: OUT_OF_MEMORY, never an abort. ---- */

/* A datacopy into a host-located output queue of `entries` entries, its graph run
 * `input_count` times. */
static const char HOSTILE_NETLIST[] =
    "devices:\n"
    "  arch: wormhole_b0\n"
    "queues:\n"
    "  in0: {type: queue, input: HOST, entries: 4, grid_size: [1, 1], t: 1, mblock: [1, 1], ublock: [1, 1], "
    "df: Float32, target_device: 0, loc: dram, dram: [[1, 0x10000000]]}\n"
    "  out: {type: queue, input: copy, entries: %s, grid_size: [1, 1], t: 1, mblock: [1, 1], ublock: [1, 1], "
    "df: Float32, target_device: 0, loc: host, host: [0x0]}\n"
    "graphs:\n"
    "  g:\n"
    "    target_device: 0\n"
    "    input_count: %s\n"
    "    copy: {type: datacopy, grid_loc: [0, 0], grid_size: [1, 1], inputs: [in0], in_df: [Float32], "
    "acc_df: Float32, out_df: Float32, intermed_df: Float32, ublock_order: r, buf_size_mb: 2, "
    "math_fidelity: HiFi3, untilize_output: false, t: 1, mblock: [1, 1], ublock: [1, 1]}\n"
    "programs:\n"
    "  - run:\n"
    "      - staticvar: {$lptr: 0, $gptr: 0}\n"
    "      - execute: {graph_name: g, queue_settings: {in0: {prologue: false, epilogue: false, zero: false, "
    "rd_ptr_local: $lptr, rd_ptr_global: $gptr}}}\n";

static ttrt_image *open_hostile(const char *dir, const char *entries, const char *input_count) {
    char path[4096], text[sizeof HOSTILE_NETLIST + 64];
    ttrt_image *img = NULL;
    FILE *f;
    int len = snprintf(text, sizeof text, HOSTILE_NETLIST, entries, input_count);
    snprintf(path, sizeof path, "%s/hostile.yaml", dir);
    f = fopen(path, "w");
    if (f == NULL || len < 0 || fwrite(text, 1, (size_t)len, f) != (size_t)len || fclose(f) != 0) {
        fprintf(stderr, "misuse: cannot write %s\n", path);
        exit(2);
    }
    REQUIRE(ttrt_image_open(path, &img));
    remove(path);
    return img;
}

static void hostile_netlists(const char *dir) {
    ttrt_image *img = open_hostile(dir, "2000000000", "1");
    ttrt_backend *be = NULL;
    ttrt_backend_config cfg;
    ttrt_io_desc q;
    ttrt_tensor_desc t;

    REQUIRE(ttrt_backend_create(img, NULL, &be));
    EXPECT(S_OOM, ttrt_backend_initialize(be));
    ttrt_backend_free(be);
    ttrt_image_free(img);

    img = open_hostile(dir, "2", "4294967295");
    ttrt_backend_config_default(&cfg);
    cfg.host_memory_budget = (uint64_t)1 << 30;
    be = NULL;
    REQUIRE(ttrt_backend_create(img, &cfg, &be));
    REQUIRE(ttrt_backend_initialize(be));
    REQUIRE(ttrt_backend_get_queue_descriptor(be, "out", &q));
    EXPECT(S_OOM, ttrt_backend_tensor_desc_for_queue(be, &q, false, &t));
    EXPECT(S_OK, ttrt_backend_finish(be));
    ttrt_backend_free(be);
    ttrt_image_free(img);
}

/* ---- Blocking calls ended by another thread: the waiter returns CANCELLED. ---- */

typedef struct {
    ttrt_backend *be;
    int op; /* 0: get_output, 1: pop_output, 2: push_input (the queue full) */
    ttrt_status status;
} blocked_call;

static void *block_forever(void *arg) {
    blocked_call *c = (blocked_call *)arg;
    ttrt_io_desc q;
    ttrt_tensor_desc t;
    static float tile[32 * 32];
    memset(&t, 0, sizeof t);
    if (c->op == 2) {
        REQUIRE(ttrt_backend_get_queue_descriptor(c->be, "in0", &q));
        t = float_tile_desc(tile);
        c->status = ttrt_push_input(c->be, &q, &t, true, -1, -1);
    } else {
        REQUIRE(ttrt_backend_get_queue_descriptor(c->be, "out", &q));
        c->status = c->op == 0 ? ttrt_get_output(c->be, &q, &t, true, -1, -1) : ttrt_pop_output(c->be, &q, true, -1);
    }
    /* Woken by finish or free; had it not started waiting yet, it found the backend finished
     * (or freed) instead. Checked here: the error text is this thread's. */
    {
        const ttrt_status allowed[] = {S_CANCELLED, S_STATE, S_ARG};
        expect_one_of(c->status, allowed, 3, c->op == 2 ? "ttrt_push_input" : c->op == 0 ? "ttrt_get_output" : "ttrt_pop_output", __LINE__);
    }
    return NULL;
}

static void cancelled_waits(ttrt_image *img) {
    int op, by_free;
    for (op = 0; op < 3; op++) {
        for (by_free = 0; by_free < 2; by_free++) {
            blocked_call c;
            pthread_t th;
            const struct timespec pause = {0, 50 * 1000 * 1000};
            c.be = started_backend(img);
            c.op = op;
            c.status = S_OK;
            if (op == 2) {
                /* Fill in0 (2 entries) so the next push waits for room. */
                static float tile[32 * 32];
                ttrt_io_desc q;
                ttrt_tensor_desc t = float_tile_desc(tile);
                REQUIRE(ttrt_backend_get_queue_descriptor(c.be, "in0", &q));
                REQUIRE(ttrt_push_input(c.be, &q, &t, true, 0, -1));
                REQUIRE(ttrt_push_input(c.be, &q, &t, true, 0, -1));
            }
            spawn(&th, block_forever, &c);
            nanosleep(&pause, NULL);
            if (by_free) {
                ttrt_backend_free(c.be);
            } else {
                EXPECT(S_OK, ttrt_backend_finish(c.be));
            }
            pthread_join(th, NULL);
            if (!by_free) {
                ttrt_backend_free(c.be);
            }
        }
    }

    /* Closing a device during a trace capture succeeds and ends the capture. */
    {
        ttrt_device *dev = open_device(1);
        ttrt_tensor *a = device_tile(dev), *out = NULL;
        ttrt_memory_config mem = dram_interleaved();
        uint32_t trace_id = 0;
        EXPECT(S_OK, ttrt_op_unary(dev, 0, TTRT_UNARY_OP_RELU, a, &mem, &out));
        ttrt_tensor_free(out);
        EXPECT(S_OK, ttrt_begin_trace_capture(dev, 0, &trace_id));
        EXPECT(S_OK, ttrt_device_close(dev));
        EXPECT(S_ARG, ttrt_device_close(dev));
        ttrt_tensor_free(a);
    }
}

int main(int argc, char **argv) {
    ttrt_image *img;
    if (argc != 2) {
        fprintf(stderr, "usage: misuse SCRATCH_DIR\n");
        return 2;
    }
    write_netlist(argv[1]);
    library_functions();
    format_functions();
    made_up_handles();
    img = open_image();
    device_functions(img);
    pipeline_functions();
    concurrent_calls(img);
    image_and_backend_functions();
    hostile_netlists(argv[1]);
    cancelled_waits(img);
    ttrt_image_free(img);
    printf("%d passed, %d failed\n", atomic_load(&passed), atomic_load(&failed));
    return atomic_load(&failed) != 0;
}
