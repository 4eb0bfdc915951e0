/* Compiled as C11 and as C++17 with -Wall -Wextra -Werror -pedantic (and sanitizers), run
 * against libttrt.so by tests/c_abi.rs. Pins the public layouts and enum values the Rust side
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
STATIC_ASSERT(sizeof(ttrt_status) == 4, "ttrt_status is 32 bits");
STATIC_ASSERT(TTRT_LOG_LEVEL_OFF == 0 && TTRT_LOG_LEVEL_TRACE == 5, "log levels");

/* ttrt_event {uint32_t device_id; uint8_t cq_id; uint32_t id;} */
STATIC_ASSERT(sizeof(ttrt_event) == 12, "ttrt_event size");
STATIC_ASSERT(offsetof(ttrt_event, device_id) == 0, "ttrt_event.device_id");
STATIC_ASSERT(offsetof(ttrt_event, cq_id) == 4, "ttrt_event.cq_id");
STATIC_ASSERT(offsetof(ttrt_event, id) == 8, "ttrt_event.id");

STATIC_ASSERT(offsetof(ttrt_build_info, struct_size) == 0, "struct_size first");
STATIC_ASSERT(offsetof(ttrt_build_info, features) == 20, "ttrt_build_info.features");
STATIC_ASSERT(offsetof(ttrt_build_info, target) == 24, "ttrt_build_info.target");
STATIC_ASSERT(sizeof(ttrt_build_info) == (sizeof(void *) == 8 ? 32 : 28), "ttrt_build_info size");

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
    "TTRT_STATUS_INVALID_IMAGE", "TTRT_STATUS_PANIC",
};

static void *other_thread(void *arg) {
    /* The last error is per thread: the main thread's failure is not visible here. */
    *(int *)arg = ttrt_last_error_message()[0] == '\0';
    return NULL;
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
    CHECK(strcmp(ttrt_status_str(11), "TTRT_STATUS_UNKNOWN") == 0);
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

    CHECK(pthread_create(&thread, NULL, other_thread, &clean_in_other_thread) == 0);
    CHECK(pthread_join(thread, NULL) == 0);
    CHECK(clean_in_other_thread);

    printf("%d passed, %d failed\n", checks - failures, failures);
    return failures != 0;
}
