/* A freestanding "firmware" for the bare-metal build of ttrt (no libc, no OS): it links the
 * no-std libttrt.a, provides the panic hook ttrt requires, calls the library and reports
 * through the exit code. Built with -nostdlib and run under qemu-riscv64 by tests/cross.rs;
 * only the exit system call touches the host. */
#include "ttrt.h"

static void sys_exit(long code) {
    register long a0 __asm__("a0") = code;
    register long a7 __asm__("a7") = 93; /* exit */
    __asm__ volatile("ecall" : : "r"(a0), "r"(a7));
    for (;;) {
    }
}

void ttrt_firmware_panic(const char *message) {
    (void)message;
    sys_exit(99);
}

#ifdef WITH_ALLOC
/* The heap hooks of the alloc build: a bump allocator over a static arena. */
static unsigned char arena[1 << 16];
static size_t arena_used;

void *ttrt_firmware_alloc(size_t size, size_t align) {
    size_t start = (arena_used + align - 1) & ~(align - 1);
    if (start + size > sizeof arena) return (void *)0;
    arena_used = start + size;
    return arena + start;
}

void ttrt_firmware_free(void *ptr, size_t size, size_t align) {
    (void)ptr;
    (void)size;
    (void)align;
}
#define EXPECTED_FEATURES TTRT_FEATURE_ALLOC
#else
#define EXPECTED_FEATURES 0u
#endif

static int same(const char *a, const char *b) {
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

static int run(void) {
    ttrt_build_info info;
    unsigned char *p = (unsigned char *)&info;
    unsigned i;
    for (i = 0; i < sizeof info; i++) {
        p[i] = 0;
    }
    if (ttrt_abi_version() != TTRT_ABI_VERSION) return 1;
    if (ttrt_get_build_info((ttrt_build_info *)0) != TTRT_STATUS_INVALID_ARGUMENT) return 2;
    if (ttrt_last_error_message()[0] == '\0') return 3;
    info.struct_size = sizeof info;
    if (ttrt_get_build_info(&info) != TTRT_STATUS_SUCCESS) return 4;
    if (info.features != EXPECTED_FEATURES) return 5; /* never std */
    if (!same(info.target, "riscv64gc-unknown-none-elf")) return 6;
    if (!same(ttrt_status_str(TTRT_STATUS_TIMEOUT), "TTRT_STATUS_TIMEOUT")) return 7;
    return 0;
}

void _start(void) {
    sys_exit(run());
}
