/* Compiled as C11 and as C++17 with -Wall -Wextra -Werror -pedantic (and sanitizers), run
 * against libttrt.so by tests/ffi/c_abi.rs. Pins the public layouts and enum values the Rust side
 * pins with static_assertions, and checks the error model from C. */
#include "ttrt.h"
#include "ttrt.h" /* twice: the include guard must hold */

#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#ifdef __cplusplus
#define STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#else
#define STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif

/* Status values are fixed forever (DESIGN.md section 4). */
STATIC_ASSERT(TTRT_STATUS_SUCCESS == 0, "status");
STATIC_ASSERT(TTRT_STATUS_RUNTIME_ERROR == 1, "status");
STATIC_ASSERT(TTRT_STATUS_TIMEOUT == 2, "status");
STATIC_ASSERT(TTRT_STATUS_INVALID_ARGUMENT == 3, "status");
STATIC_ASSERT(TTRT_STATUS_NOT_FOUND == 4, "status");
STATIC_ASSERT(TTRT_STATUS_INVALID_STATE == 5, "status");
STATIC_ASSERT(TTRT_STATUS_OUT_OF_MEMORY == 6, "status");
STATIC_ASSERT(TTRT_STATUS_UNSUPPORTED == 7, "status");
STATIC_ASSERT(TTRT_STATUS_IO_ERROR == 8, "status");
STATIC_ASSERT(TTRT_STATUS_INVALID_IMAGE == 9, "status");
STATIC_ASSERT(TTRT_STATUS_PANIC == 10, "status");
STATIC_ASSERT(TTRT_STATUS_CANCELLED == 11, "status");
STATIC_ASSERT(TTRT_STATUS_DEVICE_LOST == 12, "status");
STATIC_ASSERT(sizeof(ttrt_status) == 4, "ttrt_status is 32 bits");
STATIC_ASSERT(TTRT_LOG_LEVEL_OFF == 0 && TTRT_LOG_LEVEL_TRACE == 5, "log levels");

/* ttrt_event {uint32_t device_id; uint8_t cq_id; uint32_t id;} */
STATIC_ASSERT(sizeof(ttrt_event) == 12, "ttrt_event size");
STATIC_ASSERT(offsetof(ttrt_event, device_id) == 0, "ttrt_event.device_id");
STATIC_ASSERT(offsetof(ttrt_event, cq_id) == 4, "ttrt_event.cq_id");
STATIC_ASSERT(offsetof(ttrt_event, id) == 8, "ttrt_event.id");

/* Device API structs (pinned by static_assertions in src/ffi/device.rs and tensor.rs). */
STATIC_ASSERT(sizeof(ttrt_device_config) == 72 + 4 * sizeof(void *), "ttrt_device_config size");
STATIC_ASSERT(offsetof(ttrt_device_config, struct_size) == 0, "ttrt_device_config.struct_size");
STATIC_ASSERT(offsetof(ttrt_device_config, num_command_queues) == 12, "ttrt_device_config.num_command_queues");
STATIC_ASSERT(offsetof(ttrt_device_config, trace_region_size) == 16, "ttrt_device_config.trace_region_size");
STATIC_ASSERT(offsetof(ttrt_device_config, l1_small_size) == 24, "ttrt_device_config.l1_small_size");
STATIC_ASSERT(offsetof(ttrt_device_config, cq_data_size) == 32, "ttrt_device_config.cq_data_size");
STATIC_ASSERT(offsetof(ttrt_device_config, arena_size) == 40, "ttrt_device_config.arena_size");
STATIC_ASSERT(offsetof(ttrt_device_config, arena) == 48, "ttrt_device_config.arena");
STATIC_ASSERT(offsetof(ttrt_device_config, pin_workers) == 48 + sizeof(void *), "ttrt_device_config.pin_workers");
STATIC_ASSERT(offsetof(ttrt_device_config, worker_cpu) == 52 + sizeof(void *), "ttrt_device_config.worker_cpu");
STATIC_ASSERT(offsetof(ttrt_device_config, host_memory_budget) == 56 + 2 * sizeof(void *),
              "ttrt_device_config.host_memory_budget");
STATIC_ASSERT(offsetof(ttrt_device_config, device) == 64 + 2 * sizeof(void *), "ttrt_device_config.device");
STATIC_ASSERT(offsetof(ttrt_device_config, soc_descriptor) == 64 + 3 * sizeof(void *),
              "ttrt_device_config.soc_descriptor");
STATIC_ASSERT(offsetof(ttrt_device_config, harvested_rows) == 64 + 4 * sizeof(void *),
              "ttrt_device_config.harvested_rows");
STATIC_ASSERT(sizeof(ttrt_backend_config) == 64, "ttrt_backend_config size");
STATIC_ASSERT(offsetof(ttrt_backend_config, soc_descriptor) == 48, "ttrt_backend_config.soc_descriptor");
STATIC_ASSERT(offsetof(ttrt_backend_config, harvested_rows) == 56, "ttrt_backend_config.harvested_rows");
STATIC_ASSERT(offsetof(ttrt_backend_config, role) == 40, "ttrt_backend_config.role");
STATIC_ASSERT(TTRT_BACKEND_ROLE_RUN == 0 && TTRT_BACKEND_ROLE_IO == 1, "ttrt_backend_role values");
STATIC_ASSERT(offsetof(ttrt_backend_config, device) == 32, "ttrt_backend_config.device");
STATIC_ASSERT(offsetof(ttrt_backend_config, host_memory_budget) == 16, "ttrt_backend_config.host_memory_budget");
STATIC_ASSERT(offsetof(ttrt_backend_config, golden) == 24, "ttrt_backend_config.golden");
STATIC_ASSERT(sizeof(ttrt_image_config) == 24, "ttrt_image_config size");
STATIC_ASSERT(offsetof(ttrt_image_config, max_metadata_bytes) == 8, "ttrt_image_config.max_metadata_bytes");
STATIC_ASSERT(offsetof(ttrt_image_config, max_metadata_ratio) == 16, "ttrt_image_config.max_metadata_ratio");
STATIC_ASSERT(sizeof(ttrt_pipeline_config) == 16, "ttrt_pipeline_config size");
STATIC_ASSERT(offsetof(ttrt_pipeline_config, use_trace) == 4, "ttrt_pipeline_config.use_trace");
STATIC_ASSERT(offsetof(ttrt_pipeline_config, num_command_queues) == 8, "ttrt_pipeline_config.num_command_queues");
STATIC_ASSERT(offsetof(ttrt_pipeline_config, all_transfers_on_separate_command_queue) == 12,
              "ttrt_pipeline_config.all_transfers_on_separate_command_queue");
STATIC_ASSERT(sizeof(ttrt_core_range) == 16, "ttrt_core_range size");
STATIC_ASSERT(sizeof(ttrt_shard_spec) == 28, "ttrt_shard_spec size");
STATIC_ASSERT(offsetof(ttrt_shard_spec, shape) == 16, "ttrt_shard_spec.shape");
STATIC_ASSERT(sizeof(ttrt_memory_config) == 36, "ttrt_memory_config size");
STATIC_ASSERT(offsetof(ttrt_memory_config, shard) == 8, "ttrt_memory_config.shard");
STATIC_ASSERT(sizeof(ttrt_tensor_spec) == 24, "ttrt_tensor_spec size");
STATIC_ASSERT(offsetof(ttrt_tensor_spec, format) == 16, "ttrt_tensor_spec.format");
STATIC_ASSERT(offsetof(ttrt_host_tensor, size) == sizeof(void *), "ttrt_host_tensor.size");
STATIC_ASSERT(offsetof(ttrt_host_tensor, shape) == 2 * sizeof(void *), "ttrt_host_tensor.shape");
STATIC_ASSERT(TTRT_BUFFER_TYPE_L1 == 1 && TTRT_MEMORY_LAYOUT_BLOCK_SHARDED == 3, "memory enums");
STATIC_ASSERT(TTRT_UNARY_OP_NEG == 11 && TTRT_BINARY_OP_MAXIMUM == 3, "op enums");

STATIC_ASSERT(offsetof(ttrt_build_info, struct_size) == 0, "struct_size first");
STATIC_ASSERT(offsetof(ttrt_build_info, features) == 20, "ttrt_build_info.features");
STATIC_ASSERT(offsetof(ttrt_build_info, target) == 24, "ttrt_build_info.target");
STATIC_ASSERT(sizeof(ttrt_build_info) == (sizeof(void *) == 8 ? 32 : 28), "ttrt_build_info size");

/* Buda's DataFormat values. */
STATIC_ASSERT(TTRT_DATA_FORMAT_FLOAT32 == 0 && TTRT_DATA_FORMAT_FLOAT16 == 1, "formats");
STATIC_ASSERT(TTRT_DATA_FORMAT_BFP8 == 2 && TTRT_DATA_FORMAT_BFP4 == 3 && TTRT_DATA_FORMAT_TF32 == 4, "formats");
STATIC_ASSERT(TTRT_DATA_FORMAT_FLOAT16_B == 5 && TTRT_DATA_FORMAT_BFP8_B == 6 && TTRT_DATA_FORMAT_BFP4_B == 7, "formats");
STATIC_ASSERT(TTRT_DATA_FORMAT_INT32 == 8 && TTRT_DATA_FORMAT_UINT16 == 9 && TTRT_DATA_FORMAT_LF8 == 10, "formats");
STATIC_ASSERT(TTRT_DATA_FORMAT_BFP2 == 11 && TTRT_DATA_FORMAT_INT8 == 14 && TTRT_DATA_FORMAT_BFP2_B == 15, "formats");
STATIC_ASSERT(TTRT_DATA_FORMAT_FP8_E4M3 == 0x1A && TTRT_DATA_FORMAT_UINT8 == 30, "formats");
STATIC_ASSERT(TTRT_DATA_FORMAT_RAW_UINT8 == 0xf0 && TTRT_DATA_FORMAT_RAW_UINT16 == 0xf1, "formats");
STATIC_ASSERT(TTRT_DATA_FORMAT_RAW_UINT32 == 0xf2 && TTRT_DATA_FORMAT_INVALID == 0xff, "formats");

/* ttrt_tensor_desc mirrors tt_PytorchTensorDesc. */
STATIC_ASSERT(offsetof(ttrt_tensor_desc, ptr) == 0, "tensor_desc.ptr");
STATIC_ASSERT(offsetof(ttrt_tensor_desc, itemsize) == sizeof(void *), "tensor_desc.itemsize");
STATIC_ASSERT(offsetof(ttrt_tensor_desc, shape) == sizeof(void *) + 8, "tensor_desc.shape");
STATIC_ASSERT(offsetof(ttrt_tensor_desc, strides) == sizeof(void *) + 24, "tensor_desc.strides");
STATIC_ASSERT(offsetof(ttrt_tensor_desc, owner) == sizeof(void *) + 44, "tensor_desc.owner");
STATIC_ASSERT(sizeof(ttrt_tensor_desc) == sizeof(void *) + 48, "tensor_desc size");
/* ttrt_io_desc mirrors tt_dram_io_desc. */
STATIC_ASSERT(offsetof(ttrt_io_desc, io_type) == sizeof(void *), "io_desc.io_type");
STATIC_ASSERT(offsetof(ttrt_io_desc, format) == sizeof(void *) + 60, "io_desc.format");
STATIC_ASSERT(offsetof(ttrt_io_desc, arch) == sizeof(void *) + 76, "io_desc.arch");
STATIC_ASSERT(offsetof(ttrt_io_desc, stack_row_major) == sizeof(void *) + 80, "io_desc.stack_row_major");
STATIC_ASSERT(sizeof(ttrt_io_desc) == 2 * sizeof(void *) + 80, "io_desc size");
STATIC_ASSERT(sizeof(ttrt_codec_options) == 12, "codec_options size");

static int failures = 0;
static int checks = 0;

#define CHECK(cond)                                                          \
    do {                                                                     \
        checks++;                                                            \
        if (!(cond)) {                                                       \
            failures++;                                                      \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                    \
    } while (0)

static const char *const names[] = {
    "TTRT_STATUS_SUCCESS",       "TTRT_STATUS_RUNTIME_ERROR", "TTRT_STATUS_TIMEOUT",
    "TTRT_STATUS_INVALID_ARGUMENT", "TTRT_STATUS_NOT_FOUND",   "TTRT_STATUS_INVALID_STATE",
    "TTRT_STATUS_OUT_OF_MEMORY", "TTRT_STATUS_UNSUPPORTED",   "TTRT_STATUS_IO_ERROR",
    "TTRT_STATUS_INVALID_IMAGE", "TTRT_STATUS_PANIC",         "TTRT_STATUS_CANCELLED",
    "TTRT_STATUS_DEVICE_LOST",
};

static void *other_thread(void *arg) {
    /* The last error is per thread: the main thread's failure is not visible here. */
    *(int *)arg = ttrt_last_error_message()[0] == '\0';
    return NULL;
}

/* A 32x32 Float32 tensor through a Float16_b queue and back, from C. */
static void check_tilize(void) {
    static float values[32 * 32];
    static float back[32 * 32];
    static unsigned char tiles[2080];
    ttrt_tensor_desc src;
    ttrt_tensor_desc dst;
    ttrt_io_desc q;
    uint32_t shape[4];
    uint64_t tilized = 0;
    unsigned i;
    for (i = 0; i < 32 * 32; i++) {
        values[i] = (float)((int)(i % 256) - 128); /* exact in bf16 */
    }
    memset(&q, 0, sizeof q);
    q.grid_r = q.grid_c = q.ublock_rt = q.ublock_ct = q.mblock_m = q.mblock_n = q.t = 1;
    q.entries = 4;
    q.format = TTRT_DATA_FORMAT_FLOAT16_B;
    q.stack_row_major = true;
    CHECK(ttrt_io_desc_host_shape(&q, 1, shape) == TTRT_STATUS_SUCCESS);
    CHECK(shape[0] == 1 && shape[1] == 1 && shape[2] == 32 && shape[3] == 32);
    CHECK(ttrt_io_desc_sizes(&q, 1, NULL, NULL, &tilized) == TTRT_STATUS_SUCCESS && tilized == 2080);

    memset(&src, 0, sizeof src);
    src.ptr = values;
    src.itemsize = 4;
    src.format = TTRT_DATA_FORMAT_FLOAT32;
    src.shape[0] = 1; src.shape[1] = 1; src.shape[2] = 32; src.shape[3] = 32;
    src.strides[3] = 4; src.strides[2] = 128; src.strides[1] = 4096; src.strides[0] = 4096;
    src.dim = 2;
    CHECK(ttrt_tilize(&src, &q, tiles, sizeof tiles - 1) == TTRT_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(ttrt_last_error_message(), "2079") != NULL && strstr(ttrt_last_error_message(), "2080") != NULL);
    CHECK(ttrt_tilize(NULL, &q, tiles, sizeof tiles) == TTRT_STATUS_INVALID_ARGUMENT);
    CHECK(ttrt_tilize(&src, &q, tiles, sizeof tiles) == TTRT_STATUS_SUCCESS);
    /* Header word 0 = 2080 / 16; value (row 0, col 1) = -127.0 = 0xC2FE0000 -> bf16 0xC2FE. */
    CHECK(tiles[0] == 130 && tiles[1] == 0);
    CHECK(tiles[16 + 2] == 0xFE && tiles[16 + 3] == 0xC2);

    dst = src;
    dst.ptr = back;
    CHECK(ttrt_untilize(tiles, sizeof tiles, &q, &dst) == TTRT_STATUS_SUCCESS);
    for (i = 0; i < 32 * 32; i++) {
        if (back[i] != values[i]) {
            CHECK(back[i] == values[i]);
            break;
        }
    }
    dst.format = TTRT_DATA_FORMAT_INT8;
    dst.itemsize = 1;
    CHECK(ttrt_untilize(tiles, sizeof tiles, &q, &dst) == TTRT_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(ttrt_last_error_message(), "Float16_b") != NULL);
}

int main(void) {
    unsigned i;
    ttrt_build_info info;
    ttrt_status st;
    pthread_t thread;
    int clean_in_other_thread = 0;

    CHECK(strcmp(ttrt_last_error_message(), "") == 0);

    for (i = 0; i < sizeof names / sizeof names[0]; i++) {
        CHECK(strcmp(ttrt_status_str(i), names[i]) == 0);
    }
    CHECK(strcmp(ttrt_status_str(13), "TTRT_STATUS_UNKNOWN") == 0);
    CHECK(strcmp(ttrt_status_str(0xffffffffu), "TTRT_STATUS_UNKNOWN") == 0);

    /* NULL where a pointer is required: a status and a line naming the function and argument. */
    st = ttrt_get_build_info(NULL);
    CHECK(st == TTRT_STATUS_INVALID_ARGUMENT);
    CHECK(strcmp(ttrt_last_error_message(), "ttrt_get_build_info: argument `info` is NULL") == 0);

    /* Outputs are written only on success. */
    memset(&info, 0xAB, sizeof info);
    info.struct_size = 8;
    st = ttrt_get_build_info(&info);
    CHECK(st == TTRT_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(ttrt_last_error_message(), "struct_size 8") != NULL);
    CHECK(info.version_major == 0xABABABABu && info.features == 0xABABABABu);

    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    st = ttrt_get_build_info(&info);
    CHECK(st == TTRT_STATUS_SUCCESS);
    CHECK(info.struct_size == sizeof info);
    CHECK(info.version_major == TTRT_VERSION_MAJOR);
    CHECK(info.version_minor == TTRT_VERSION_MINOR);
    CHECK(info.version_patch == TTRT_VERSION_PATCH);
    CHECK(info.abi_version == TTRT_ABI_VERSION && ttrt_abi_version() == TTRT_ABI_VERSION);
    CHECK(info.features == (TTRT_FEATURE_ALLOC | TTRT_FEATURE_STD));
    CHECK(info.target != NULL && strstr(info.target, "-linux-") != NULL);
    /* Success does not clear the last failure's text. */
    CHECK(strstr(ttrt_last_error_message(), "struct_size 8") != NULL);

    CHECK(ttrt_set_log_callback(NULL, NULL, 6) == TTRT_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(ttrt_last_error_message(), "max_level") != NULL);
    CHECK(ttrt_set_log_callback(NULL, NULL, TTRT_LOG_LEVEL_OFF) == TTRT_STATUS_SUCCESS);

    /* Tile sizes with header on Wormhole (notes: Tile bytes). */
    CHECK(ttrt_tile_size_bytes(TTRT_DATA_FORMAT_FLOAT32, TTRT_ARCH_WORMHOLE_B0, false) == 4128);
    CHECK(ttrt_tile_size_bytes(TTRT_DATA_FORMAT_FLOAT16_B, TTRT_ARCH_WORMHOLE_B0, false) == 2080);
    CHECK(ttrt_tile_size_bytes(TTRT_DATA_FORMAT_BFP8_B, TTRT_ARCH_GRAYSKULL, false) == 1120);
    CHECK(ttrt_tile_size_bytes(TTRT_DATA_FORMAT_BFP4, TTRT_ARCH_WORMHOLE_B0, false) == 608);
    CHECK(ttrt_tile_size_bytes(TTRT_DATA_FORMAT_BFP2_B, TTRT_ARCH_WORMHOLE_B0, false) == 352);
    CHECK(ttrt_tile_size_bytes(TTRT_DATA_FORMAT_INT8, TTRT_ARCH_WORMHOLE_B0, false) == 1056);
    CHECK(ttrt_tile_size_bytes(TTRT_DATA_FORMAT_FLOAT16_B, TTRT_ARCH_WORMHOLE_B0, true) == 2048);
    CHECK(ttrt_tile_size_bytes(12, TTRT_ARCH_WORMHOLE_B0, false) == 0);
    CHECK(strstr(ttrt_last_error_message(), "format") != NULL);
    check_tilize();

    CHECK(pthread_create(&thread, NULL, other_thread, &clean_in_other_thread) == 0);
    CHECK(pthread_join(thread, NULL) == 0);
    CHECK(clean_in_other_thread);

    printf("%d passed, %d failed\n", checks - failures, failures);
    return failures != 0;
}
