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
static unsigned char arena[1 << 22];
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

#ifdef WITH_ALLOC
/* The simulated device's memory: Wormhole's L1 of 64 cores (91.5 MiB), DRAM channels from the
 * rest, the command rings first. Zero pages until touched. */
static unsigned char device_arena[100u << 20] __attribute__((aligned(64)));

/* relu on one 32x32 tile through the device API, the device driven by the blocking calls. */
static int device_relu(void) {
    ttrt_device_config cfg;
    ttrt_device *dev = (ttrt_device *)0;
    ttrt_tensor *x = (ttrt_tensor *)0, *y = (ttrt_tensor *)0;
    ttrt_tensor_spec spec = {{1, 1, 32, 32}, TTRT_DATA_FORMAT_FLOAT16_B, TTRT_TENSOR_LAYOUT_TILE};
    ttrt_memory_config mem;
    ttrt_host_tensor in, out;
    static float values[1024], result[1024];
    bool did_work = true;
    unsigned i;
    unsigned char *m = (unsigned char *)&mem;
    for (i = 0; i < sizeof mem; i++) m[i] = 0; /* DRAM, interleaved */
    for (i = 0; i < 1024; i++) {
        values[i] = (float)(int)((i * 7) % 64) * 0.25f - 8.0f; /* exact in bfloat16 */
        result[i] = -1.0f;
    }
    ttrt_device_config_default(&cfg);
    if (ttrt_device_open(&cfg, &dev) != TTRT_STATUS_INVALID_ARGUMENT) return 20; /* no arena */
    cfg.cq_data_size = 1u << 16;
    cfg.arena = device_arena;
    cfg.arena_size = sizeof device_arena;
    cfg.pin_workers = 1; /* no worker threads here */
    if (ttrt_device_open(&cfg, &dev) != TTRT_STATUS_UNSUPPORTED) return 29;
    cfg.pin_workers = 0;
    if (ttrt_device_open(&cfg, &dev) != TTRT_STATUS_SUCCESS) return 21;
    if (ttrt_allocate_tensor_on_device(dev, &spec, &mem, &x) != TTRT_STATUS_SUCCESS) return 22;
    in.data = values;
    in.size = sizeof values;
    in.shape[0] = 1;
    in.shape[1] = 1;
    in.shape[2] = 32;
    in.shape[3] = 32;
    in.format = TTRT_DATA_FORMAT_FLOAT32;
    in.layout = TTRT_TENSOR_LAYOUT_ROW_MAJOR;
    out = in;
    out.data = result;
    if (ttrt_copy_host_to_device_tensor(dev, 0, &in, x, false) != TTRT_STATUS_SUCCESS) return 23;
    if (ttrt_op_unary(dev, 0, TTRT_UNARY_OP_RELU, x, &mem, &y) != TTRT_STATUS_SUCCESS) return 24;
    while (did_work) {
        if (ttrt_device_poll(dev, &did_work) != TTRT_STATUS_SUCCESS) return 25;
    }
    if (ttrt_copy_device_to_host_tensor(dev, 0, y, &out, true) != TTRT_STATUS_SUCCESS) return 26;
    for (i = 0; i < 1024; i++) {
        float want = values[i] > 0.0f ? values[i] : 0.0f;
        if (result[i] != want) return 27;
    }
    ttrt_tensor_free(y);
    ttrt_tensor_free(x);
    if (ttrt_device_close(dev) != TTRT_STATUS_SUCCESS) return 28;
    return 0;
}
#endif

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
#ifdef WITH_ALLOC
    return device_relu();
#else
    return 0;
#endif
}

void _start(void) {
    sys_exit(run());
}
