/* version: the first thing a program linking ttrt should do.
 *
 * Prints the library version, checks that the library loaded at run time has the ABI this
 * program was compiled against, and shows the error model: a call with a NULL argument returns
 * TTRT_STATUS_INVALID_ARGUMENT and leaves one line of text saying what was wrong. */
#include <stdio.h>
#include <string.h>

#include <ttrt.h>

int main(void) {
    ttrt_build_info info;
    ttrt_status st;
    const char *message;
    char expected[32];

    printf("ttrt %s (ABI %u)\n", ttrt_version(), (unsigned)ttrt_abi_version());
    if (ttrt_abi_version() != TTRT_ABI_VERSION) {
        fprintf(stderr, "ABI mismatch: compiled against %u, loaded %u\n", (unsigned)TTRT_ABI_VERSION,
                (unsigned)ttrt_abi_version());
        return 1;
    }
    snprintf(expected, sizeof expected, "%d.%d.%d", TTRT_VERSION_MAJOR, TTRT_VERSION_MINOR,
             TTRT_VERSION_PATCH);
    if (strcmp(expected, ttrt_version()) != 0) {
        fprintf(stderr, "version mismatch: header %s, library %s\n", expected, ttrt_version());
        return 1;
    }

    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    st = ttrt_get_build_info(&info);
    if (st != TTRT_STATUS_SUCCESS) {
        fprintf(stderr, "ttrt_get_build_info: %s: %s\n", ttrt_status_str(st), ttrt_last_error_message());
        return 1;
    }
    printf("target %s, features:%s%s\n", info.target, (info.features & TTRT_FEATURE_ALLOC) ? " alloc" : "",
           (info.features & TTRT_FEATURE_STD) ? " std" : "");

    /* The error model: a NULL where a pointer is required. */
    st = ttrt_get_build_info(NULL);
    message = ttrt_last_error_message();
    printf("NULL argument -> %s: %s\n", ttrt_status_str(st), message);
    if (st != TTRT_STATUS_INVALID_ARGUMENT || message == NULL || message[0] == '\0') {
        fprintf(stderr, "expected TTRT_STATUS_INVALID_ARGUMENT with a message\n");
        return 1;
    }
    return 0;
}
