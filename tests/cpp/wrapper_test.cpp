// Tests of ttrt.hpp, the C++ interface, against the C API it wraps. Built by tests/ffi/cxx_wrapper.rs
// with -fsanitize=address,undefined and run with LeakSanitizer on:
//
//   wrapper_test IMAGE     (examples/digits.tti)
//
// What a wrong wrapper would show:
// - ownership: the library keeps its handles in tables, so a handle the wrapper never frees is
//   still reachable and LeakSanitizer cannot see it. Each release is observed instead: an image
//   unmaps its file (/proc/self/maps), a device and an initialized backend join their worker
//   threads (/proc/self/task), a freed tensor's address is given to the next tensor of the same
//   spec, a freed backend tensor and a released trace are refused by the C API afterwards. A
//   second free of a freed image, backend or device sets the C API's last error, which the
//   tests check is still the marker they set before.
// - the wrapper's own memory (a pipeline's model, exceptions caught and rethrown, error texts)
//   is heap memory LeakSanitizer checks at exit.
// - errors: the status and text of each exception and try_ result are compared with what the
//   C API returns for the same call.
// - spans: the lengths the C API receives are read back from its own error texts.
// - steady state: this program replaces operator new to count the C++ allocations of a loop
//   of writes, events, trace replays and reads, and of push/run/get_output_into/pop.
//
// Prints each failed check and "N passed, M failed"; exits non-zero when any failed.
#include <array>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <stdexcept>
#include <string>
#include <vector>

#include <ttrt.hpp>

// Every C++ allocation of this program, counted.
static std::atomic<long> cxx_allocations{0};

void *operator new(std::size_t n) {
    cxx_allocations++;
    if (void *p = std::malloc(n == 0 ? 1 : n)) {
        return p;
    }
    throw std::bad_alloc();
}
void operator delete(void *p) noexcept { std::free(p); }
void operator delete(void *p, std::size_t) noexcept { std::free(p); }

namespace {

int passed = 0;
int failed = 0;
const char *image_path = nullptr;

#define EXPECT(cond)                                                                                   \
    do {                                                                                               \
        if (cond) {                                                                                    \
            passed++;                                                                                  \
        } else {                                                                                       \
            failed++;                                                                                  \
            std::printf("FAILED %s:%d: %s\n", __FILE__, __LINE__, #cond);                             \
        }                                                                                              \
    } while (0)

#define EXPECT_EQ_STR(a, b)                                                                            \
    do {                                                                                               \
        const std::string a_ = (a), b_ = (b);                                                          \
        if (a_ == b_) {                                                                                \
            passed++;                                                                                  \
        } else {                                                                                       \
            failed++;                                                                                  \
            std::printf("FAILED %s:%d: %s == %s\n  left:  %s\n  right: %s\n", __FILE__, __LINE__, #a, #b, \
                        a_.c_str(), b_.c_str());                                                       \
        }                                                                                              \
    } while (0)

// What the C API said about one call.
struct c_outcome {
    ttrt_status status;
    std::string text;
};

c_outcome c_call(ttrt_status st) { return c_outcome{st, st == TTRT_STATUS_SUCCESS ? "" : ttrt_last_error_message()}; }

// Runs `f`, which must throw ttrt::error; returns its status and text (status SUCCESS and "no
// exception" when it did not throw).
template <class F>
c_outcome thrown(F &&f) {
    try {
        f();
    } catch (const ttrt::error &e) {
        return c_outcome{e.status(), e.what()};
    }
    return c_outcome{TTRT_STATUS_SUCCESS, "no exception"};
}

void expect_same(const c_outcome &c, const c_outcome &cxx, const char *what) {
    if (c.status != TTRT_STATUS_SUCCESS && c.status == cxx.status && c.text == cxx.text && !c.text.empty()) {
        passed++;
    } else {
        failed++;
        std::printf("FAILED %s: C %s \"%s\", C++ %s \"%s\"\n", what, ttrt_status_str(c.status), c.text.c_str(),
                    ttrt_status_str(cxx.status), cxx.text.c_str());
    }
}

template <class R>
c_outcome of_result(const R &r) {
    return c_outcome{r.status(), r.message()};
}

int thread_count() {
    int n = 0;
    DIR *d = opendir("/proc/self/task");
    if (d == nullptr) {
        return -1;
    }
    while (dirent *e = readdir(d)) {
        if (e->d_name[0] != '.') {
            n++;
        }
    }
    closedir(d);
    return n;
}

// Mappings of the image file in this process.
int image_mappings() {
    FILE *f = std::fopen("/proc/self/maps", "r");
    if (f == nullptr) {
        return -1;
    }
    char line[4096];
    int n = 0;
    const char *base = std::strrchr(image_path, '/');
    base = base != nullptr ? base + 1 : image_path;
    while (std::fgets(line, sizeof line, f) != nullptr) {
        if (std::strstr(line, base) != nullptr) {
            n++;
        }
    }
    std::fclose(f);
    return n;
}

// Sets the C API's last error to a known text; a later free of a freed handle replaces it.
std::string set_marker() {
    (void)ttrt_get_build_info(nullptr);
    return ttrt_last_error_message();
}

const ttrt::shape4 tile_shape = {1, 1, 32, 32};

ttrt::tensor_spec float_tile() { return ttrt::make_tensor_spec(tile_shape, TTRT_DATA_FORMAT_FLOAT32); }

// ---------------------------------------------------------------------------------------------
// Move semantics and release-once

void image_moves_and_frees_once() {
    std::string marker;
    {
        ttrt::image a = ttrt::image::open(image_path);
        EXPECT(image_mappings() == 1);
        ttrt::image b(std::move(a));
        EXPECT(!a && a.get() == nullptr);
        EXPECT(b && b.input_count() == 1);
        EXPECT(a.input_count() == 0); // a moved-from image is empty: the C API's NULL
        marker = set_marker();
        ttrt::image c = ttrt::image::open(image_path);
        EXPECT(image_mappings() == 2);
        c = std::move(b); // c's first image is freed here
        EXPECT(!b);
        EXPECT(image_mappings() == 1);
        c = std::move(c); // self-move keeps it
        EXPECT(c && image_mappings() == 1);
    }
    EXPECT(image_mappings() == 0);
    EXPECT_EQ_STR(ttrt_last_error_message(), marker); // nothing freed twice
}

void device_moves_and_closes_once() {
    const int before = thread_count();
    const std::string marker = set_marker();
    {
        ttrt::device a = ttrt::device::open();
        EXPECT(thread_count() == before + 1); // one CQ worker
        ttrt::device b(std::move(a));
        EXPECT(!a && a.get() == nullptr);
        EXPECT(b);
        ttrt::device c;
        c = std::move(b);
        EXPECT(!b && c);
        EXPECT(thread_count() == before + 1);
    }
    EXPECT(thread_count() == before);
    EXPECT_EQ_STR(ttrt_last_error_message(), marker);

    // close() reports and leaves the device empty; the destructor then does nothing.
    ttrt::device d = ttrt::device::open();
    d.close();
    EXPECT(!d);
    EXPECT(thread_count() == before);
    EXPECT_EQ_STR(ttrt_last_error_message(), marker);
}

void backend_moves_and_frees_once() {
    // A first backend starts the kernel thread pool, which stays: the baseline is taken after it.
    {
        ttrt::image img = ttrt::image::open(image_path);
        ttrt::backend be = ttrt::backend::create(img);
        be.initialize();
    }
    const int before = thread_count();
    std::string marker;
    {
        ttrt::image img = ttrt::image::open(image_path);
        ttrt::backend a = ttrt::backend::create(img);
        a.initialize();
        EXPECT(thread_count() > before);
        ttrt::backend b(std::move(a));
        EXPECT(!a && a.get() == nullptr && a.program_count() == 0);
        EXPECT(b.program_count() == 1);
        ttrt::backend c;
        c = std::move(b);
        EXPECT(!b && c.program_count() == 1);
        marker = set_marker();
    }
    EXPECT(thread_count() == before);
    EXPECT(image_mappings() == 0);
    EXPECT_EQ_STR(ttrt_last_error_message(), marker);
}

void tensor_moves_and_frees_once() {
    ttrt::device dev = ttrt::device::open();
    const ttrt::memory_config dram = ttrt::interleaved(TTRT_BUFFER_TYPE_DRAM);
    std::uint64_t first = 0;
    {
        ttrt::tensor a = dev.allocate_tensor(float_tile(), dram);
        first = a.buffer_address();
        ttrt::tensor b(std::move(a));
        EXPECT(!a && a.buffer_address() == 0);
        EXPECT(b.buffer_address() == first);
        ttrt::tensor other = dev.allocate_tensor(float_tile(), dram);
        EXPECT(other.buffer_address() != first);
        other = std::move(b); // other's own tensor is freed
        EXPECT(other.buffer_address() == first);
    }
    // Every tensor freed: the allocator gives the first address again (first fit).
    ttrt::tensor again = dev.allocate_tensor(float_tile(), dram);
    EXPECT(again.buffer_address() == first);

    // release() hands the handle over: the wrapper frees nothing.
    ttrt::tensor t = dev.allocate_tensor(float_tile(), dram);
    ttrt_tensor *raw = t.release();
    EXPECT(!t);
    EXPECT(ttrt_tensor_buffer_address(raw) != 0);
    ttrt_tensor_free(raw);
}

void backend_tensor_moves_and_frees_once() {
    ttrt::image img = ttrt::image::open(image_path);
    ttrt::backend be = ttrt::backend::create(img);
    be.initialize();
    const ttrt::io_desc q = be.queue_descriptor("x");
    ttrt::tensor_desc copy{};
    {
        ttrt::backend_tensor a = be.tensor_desc_for_queue(q);
        copy = a.desc();
        EXPECT(a.size_bytes() > 0);
        ttrt::backend_tensor b(std::move(a));
        EXPECT(!a && a.desc().ptr == nullptr && a.size_bytes() == 0);
        EXPECT(b.desc().ptr == copy.ptr);
    }
    // Freed exactly once: the C API no longer knows the memory.
    const c_outcome again = c_call(ttrt_tensor_desc_free(&copy));
    EXPECT(again.status == TTRT_STATUS_INVALID_ARGUMENT);
    EXPECT(again.text.find("is not live backend-owned memory") != std::string::npos);
}

void trace_moves_and_releases_once() {
    ttrt::device_config cfg;
    cfg.trace_region_size = 64 * 1024;
    ttrt::device dev = ttrt::device::open(cfg);
    const ttrt::memory_config dram = ttrt::interleaved(TTRT_BUFFER_TYPE_DRAM);
    ttrt::tensor in = dev.allocate_tensor(float_tile(), dram);
    ttrt::tensor warm = dev.unary(0, TTRT_UNARY_OP_RELU, in, dram); // fills the program cache
    warm.reset();
    std::uint32_t id = 0;
    {
        ttrt::trace_capture cap = dev.begin_trace_capture(0);
        ttrt::tensor out = dev.unary(0, TTRT_UNARY_OP_RELU, in, dram);
        ttrt::trace_capture moved(std::move(cap));
        EXPECT(!cap && moved);
        ttrt::trace a = moved.end();
        EXPECT(!moved);
        id = a.id();
        ttrt::trace b(std::move(a));
        EXPECT(!a && b && b.id() == id);
        dev.execute_trace(0, b, true);
        const c_outcome empty = thrown([&] { a.execute(0); });
        EXPECT(empty.status == TTRT_STATUS_INVALID_ARGUMENT);
    }
    const c_outcome gone = c_call(ttrt_execute_trace(dev.get(), 0, id, true));
    EXPECT(gone.status == TTRT_STATUS_NOT_FOUND);
}

void result_holds_a_move_only_value() {
    ttrt::result<ttrt::image> r = ttrt::image::try_open(image_path);
    EXPECT(r.ok() && r.status() == TTRT_STATUS_SUCCESS && r.message().empty());
    ttrt::image img = std::move(r).value();
    EXPECT(img && image_mappings() == 1);
    img.reset();
    EXPECT(image_mappings() == 0);
}

// ---------------------------------------------------------------------------------------------
// Errors: the exception and the try_ result carry what the C API returned

void bad_image_path() {
    const char *path = "/nonexistent/ttrt-wrapper-test.tti";
    ttrt_image *raw = nullptr;
    const c_outcome c = c_call(ttrt_image_open(path, &raw));
    EXPECT(c.status == TTRT_STATUS_IO_ERROR);
    expect_same(c, thrown([&] { ttrt::image::open(path); }), "image::open of a missing file");
    ttrt::result<ttrt::image> r = ttrt::image::try_open(path);
    expect_same(c, of_result(r), "image::try_open of a missing file");
    EXPECT(!r && !r.ok());
    const c_outcome from_value = thrown([&] { (void)r.value(); });
    expect_same(c, from_value, "result::value of a failed try_open");
}

void null_handle_misuse() {
    ttrt::backend empty;
    const c_outcome c = c_call(ttrt_backend_initialize(nullptr));
    EXPECT(c.status == TTRT_STATUS_INVALID_ARGUMENT);
    expect_same(c, thrown([&] { empty.initialize(); }), "initialize of an empty backend");
    expect_same(c, of_result(empty.try_initialize()), "try_initialize of an empty backend");

    ttrt::device none;
    const c_outcome c2 = c_call(ttrt_synchronize(nullptr));
    expect_same(c2, thrown([&] { none.synchronize(); }), "synchronize of an empty device");
}

void unknown_program_and_names() {
    ttrt::image img = ttrt::image::open(image_path);
    ttrt::backend be = ttrt::backend::create(img);
    be.initialize();
    const c_outcome c = c_call(ttrt_backend_run_program(be.get(), "no_such_program", nullptr, 0));
    EXPECT(c.status == TTRT_STATUS_NOT_FOUND || c.status == TTRT_STATUS_INVALID_ARGUMENT);
    expect_same(c, thrown([&] { be.run_program("no_such_program"); }), "run_program of an unknown program");
    expect_same(c, of_result(be.try_run_program("no_such_program")), "try_run_program of an unknown program");

    // A declared param not passed.
    const c_outcome c2 = c_call(ttrt_backend_run_program(be.get(), "run_fwd", nullptr, 0));
    expect_same(c2, thrown([&] { be.run_program("run_fwd"); }), "run_program without its declared param");

    // Introspection, and names out of range (NULL from C, with the last error set).
    EXPECT(be.program_count() == 1);
    EXPECT(be.program_names() == std::vector<std::string>{"run_fwd"});
    EXPECT(be.program_param_count(0) == 1);
    EXPECT_EQ_STR(be.program_param_name(0, 0), "$p_loop_count");
    EXPECT(be.program_param_required(0, 0));
    EXPECT(img.input_names() == std::vector<std::string>{"x"});
    EXPECT(img.output_names() == std::vector<std::string>{"logits"});
    EXPECT(img.arch() == TTRT_ARCH_GRAYSKULL);

    EXPECT(ttrt_image_input_name(img.get(), 5) == nullptr);
    const c_outcome c3{TTRT_STATUS_INVALID_ARGUMENT, ttrt_last_error_message()};
    expect_same(c3, thrown([&] { img.input_name(5); }), "input_name out of range");
    EXPECT(ttrt_backend_program_param_count(be.get(), 7) == 0);
    const c_outcome c4{TTRT_STATUS_INVALID_ARGUMENT, ttrt_last_error_message()};
    expect_same(c4, of_result(be.try_program_param_count(7)), "program_param_count out of range");
    EXPECT(!ttrt_backend_program_param_required(be.get(), 0, 3));
    const c_outcome c5{TTRT_STATUS_INVALID_ARGUMENT, ttrt_last_error_message()};
    expect_same(c5, of_result(be.try_program_param_required(0, 3)), "program_param_required out of range");

    // A good run through the wrapper.
    const ttrt::io_desc x = be.queue_descriptor("x");
    be.push_input(x, be.tensor_desc_for_queue(x), false, 10000);
    be.run_program("run_fwd", {{"$p_loop_count", "1"}});
    const ttrt::backend_tensor logits = be.get_output(be.queue_descriptor("logits"), false, 10000);
    EXPECT(logits.values<float>().size() == 4 * 32 * 32);
}

void device_misuse() {
    ttrt::device dev = ttrt::device::open();
    ttrt::event never{0, 0, 1000};
    const c_outcome c = c_call(ttrt_wait_for_event(dev.get(), 0, &never));
    EXPECT(c.status == TTRT_STATUS_INVALID_ARGUMENT);
    expect_same(c, thrown([&] { dev.wait_for_event(0, never); }), "wait_for_event of an event never recorded");
    bool done = false;
    const c_outcome cq = c_call(ttrt_event_query(dev.get(), &never, &done));
    expect_same(cq, of_result(dev.try_event_query(never)), "try_event_query of an event never recorded");
    // Events are values: recorded, queried, synchronized.
    ttrt::event ev = dev.record_event(0);
    EXPECT(ev.id == 1 && ev.cq_id == 0);
    dev.event_synchronize(ev, 10000);
    EXPECT(dev.event_query(ev));
    const c_outcome c2 = c_call(ttrt_finish(dev.get(), 7));
    expect_same(c2, of_result(dev.try_finish(7)), "try_finish of a CQ the device lacks");
}

void config_defaults_come_from_the_c_api() {
    ttrt_device_config c;
    std::memset(&c, 0, sizeof c); // padding as value-initialization leaves it
    ttrt_device_config_default(&c);
    ttrt::device_config cxx;
    EXPECT(std::memcmp(&c, static_cast<const ttrt_device_config *>(&cxx), sizeof c) == 0);
    ttrt_backend_config b;
    std::memset(&b, 0, sizeof b);
    ttrt_backend_config_default(&b);
    ttrt::backend_config bcxx;
    EXPECT(std::memcmp(&b, static_cast<const ttrt_backend_config *>(&bcxx), sizeof b) == 0);
    EXPECT(cxx.struct_size == sizeof(ttrt_device_config) && cxx.num_command_queues == 1);
    EXPECT_EQ_STR(ttrt::version(), ttrt_version());
    ttrt::build_info info = ttrt::get_build_info();
    EXPECT(info.abi_version == TTRT_ABI_VERSION && ttrt::abi_compatible());
    EXPECT(!info.target.empty());
}

// ---------------------------------------------------------------------------------------------
// Exceptions part-way leave nothing behind

void throw_after_the_image_opened() {
    const int mappings = image_mappings();
    bool caught = false;
    try {
        ttrt::image img = ttrt::image::open(image_path);
        ttrt::backend_config cfg;
        cfg.num_command_queues = 3; // refused
        ttrt::backend be = ttrt::backend::create(img, cfg);
        EXPECT(false);
    } catch (const ttrt::error &e) {
        caught = e.status() == TTRT_STATUS_INVALID_ARGUMENT;
    }
    EXPECT(caught);
    EXPECT(image_mappings() == mappings);
}

void throw_after_the_backend_initialized() {
    const int before = thread_count();
    bool caught = false;
    try {
        ttrt::image img = ttrt::image::open(image_path);
        ttrt::backend be = ttrt::backend::create(img);
        be.initialize();
        ttrt::backend_tensor t = be.tensor_desc_for_queue(be.queue_descriptor("x"));
        be.push_input(be.queue_descriptor("x"), t, false, 1000);
        be.run_program("no_such_program");
    } catch (const ttrt::error &) {
        caught = true;
    }
    EXPECT(caught);
    EXPECT(thread_count() == before);
    EXPECT(image_mappings() == 0);
}

void throw_during_a_trace_capture() {
    ttrt::device_config cfg;
    cfg.trace_region_size = 64 * 1024;
    ttrt::device dev = ttrt::device::open(cfg);
    const ttrt::memory_config dram = ttrt::interleaved(TTRT_BUFFER_TYPE_DRAM);
    ttrt::tensor in = dev.allocate_tensor(float_tile(), dram);
    ttrt::tensor warm = dev.unary(0, TTRT_UNARY_OP_RELU, in, dram);
    warm.reset();
    std::vector<float> host(32 * 32, 1.0f);
    std::uint32_t id = 0;
    c_outcome refused{TTRT_STATUS_SUCCESS, ""};
    try {
        ttrt::trace_capture cap = dev.begin_trace_capture(0);
        id = cap.id();
        ttrt::tensor out = dev.unary(0, TTRT_UNARY_OP_RELU, in, dram);
        // A write during capture is refused: the exception leaves the capture's scope.
        dev.copy_host_to_device(0, ttrt::make_host_tensor(ttrt::span<const float>(host), tile_shape), in, false);
    } catch (const ttrt::error &e) {
        refused = c_outcome{e.status(), e.what()};
    }
    EXPECT(refused.text.find("Writes are not supported during trace capture.") != std::string::npos);
    // The capture ended and what it stored was released: the CQ captures again, the old id is gone.
    const c_outcome gone = c_call(ttrt_execute_trace(dev.get(), 0, id, true));
    EXPECT(gone.status == TTRT_STATUS_NOT_FOUND);
    ttrt::result<ttrt::trace_capture> again = dev.try_begin_trace_capture(0);
    EXPECT(again.ok());
    if (again.ok()) {
        ttrt::trace t = again->end();
        EXPECT(t);
    }
}

// A pipeline whose model throws: the exception comes back from compile() as itself, nothing
// crosses into C, and its memory is freed (LeakSanitizer).
void pipeline_model_exceptions() {
    ttrt::device dev = ttrt::device::open();
    const ttrt::memory_config l1 = ttrt::interleaved(TTRT_BUFFER_TYPE_L1);
    ttrt::pipeline_config cfg;
    cfg.use_trace = false;
    std::vector<float> x(32 * 32);
    for (std::size_t i = 0; i < x.size(); i++) {
        x[i] = static_cast<float>(static_cast<int>(i % 7) - 3);
    }
    const ttrt::host_tensor sample = ttrt::make_host_tensor(ttrt::span<const float>(x), tile_shape);

    // The model holds heap memory (a captured vector): leaked with the pipeline, LSan says so.
    std::vector<float> big(4096, 2.0f);
    int calls = 0;
    {
        ttrt::pipeline p = ttrt::pipeline::create(
            dev, cfg,
            [big, &calls](ttrt::device_ref d, std::uint8_t cq, ttrt::tensor_ref in) -> ttrt::tensor {
                calls++;
                if (calls == 1) {
                    throw std::runtime_error("model failed on purpose");
                }
                return d.unary(cq, TTRT_UNARY_OP_RELU, in, ttrt::interleaved(TTRT_BUFFER_TYPE_L1));
            },
            l1);
        EXPECT_EQ_STR(p.executor(), "ModelExecutor");
        bool rethrown = false;
        try {
            p.compile(sample);
        } catch (const std::runtime_error &e) {
            rethrown = std::string(e.what()) == "model failed on purpose" &&
                       dynamic_cast<const ttrt::error *>(&e) == nullptr;
        }
        EXPECT(rethrown);
        p.compile(sample);
        ttrt::pipeline moved(std::move(p));
        EXPECT(!p && moved);
        EXPECT_EQ_STR(p.executor(), "");
        std::array<ttrt::host_tensor, 2> inputs = {sample, sample};
        moved.enqueue(inputs);
        ttrt::span<const ttrt::host_tensor> outs = moved.pop_all();
        EXPECT(outs.size() == 2);
        bool right = outs.size() == 2 && outs[1].size == x.size() * sizeof(float);
        for (std::size_t i = 0; right && i < x.size(); i++) {
            right = static_cast<const float *>(outs[1].data)[i] == (x[i] > 0.0f ? x[i] : 0.0f);
        }
        EXPECT(right);
    }

    // try_compile reports a ttrt::error the model threw with its own status and text.
    {
        ttrt::pipeline p = ttrt::pipeline::create(
            dev, cfg,
            [big](ttrt::device_ref d, std::uint8_t cq, ttrt::tensor_ref in) -> ttrt::tensor {
                return d.unary(cq, static_cast<ttrt_unary_op>(99), in, ttrt::interleaved(TTRT_BUFFER_TYPE_L1));
            },
            l1);
        ttrt::result<void> r = p.try_compile(sample);
        EXPECT(!r.ok());
        EXPECT(r.message().find("ttrt_op_unary") != std::string::npos);
        const c_outcome thrown_again = thrown([&] { p.compile(sample); });
        EXPECT(thrown_again.status == r.status() && thrown_again.text == r.message());
    }
}

// Every executor of ttrt_pipeline_config through the wrapper: relu(x) on 2 rounds of inputs (the
// second into preallocated outputs), every value checked.
void pipeline_runs_every_executor() {
    constexpr std::uint32_t rows = 64, cols = 64;
    const ttrt::shape4 shape = {1, 1, rows, cols};
    ttrt::device_config dev_cfg;
    dev_cfg.num_command_queues = 2;
    dev_cfg.trace_region_size = 64 * 1024;
    ttrt::device dev = ttrt::device::open(dev_cfg);
    const ttrt::memory_config dram =
        ttrt::memory_config_for_persistent_dram_tensor(shape, TTRT_MEMORY_LAYOUT_HEIGHT_SHARDED, 2);
    const ttrt::memory_config l1 = ttrt::sharded(TTRT_BUFFER_TYPE_L1, TTRT_MEMORY_LAYOUT_HEIGHT_SHARDED,
                                                 ttrt_core_range{0, 0, 1, 0}, rows / 2, cols);
    const struct {
        bool trace;
        std::uint32_t cqs;
        bool separate;
        const char *executor;
    } configs[] = {
        {false, 1, false, "ModelExecutor"},
        {true, 1, false, "TracedModelExecutor"},
        {false, 2, false, "MultiCQModelOverlappedInputExecutor"},
        {true, 2, false, "MultiCQTracedModelOverlappedInputExecutor"},
        {true, 2, true, "MultiCQTracedModelPipelinedIOExecutor"},
    };
    for (const auto &c : configs) {
        ttrt::pipeline_config cfg;
        cfg.use_trace = c.trace;
        cfg.num_command_queues = c.cqs;
        cfg.all_transfers_on_separate_command_queue = c.separate;
        ttrt::pipeline p = ttrt::pipeline::create(
            dev, cfg,
            [](ttrt::device_ref d, std::uint8_t cq, ttrt::tensor_ref in) {
                return d.unary(cq, TTRT_UNARY_OP_RELU, in, ttrt::interleaved(TTRT_BUFFER_TYPE_L1));
            },
            l1, &dram, &dram);
        EXPECT_EQ_STR(p.executor(), c.executor);
        std::vector<std::vector<float>> inputs(4, std::vector<float>(rows * cols));
        std::vector<ttrt::host_tensor> hosts;
        for (std::size_t i = 0; i < inputs.size(); i++) {
            for (std::size_t k = 0; k < inputs[i].size(); k++) {
                inputs[i][k] = static_cast<float>(static_cast<int>((k * 5 + i * 7) % 9) - 4);
            }
            hosts.push_back(ttrt::make_host_tensor(ttrt::span<const float>(inputs[i]), shape));
        }
        p.compile(hosts[0]);
        for (int round = 0; round < 2; round++) {
            if (round == 1) {
                p.preallocate_output_tensors_on_host(hosts.size());
            }
            p.enqueue(hosts);
            const ttrt::span<const ttrt::host_tensor> outs = p.pop_all();
            bool right = outs.size() == hosts.size();
            for (std::size_t i = 0; right && i < outs.size(); i++) {
                right = outs[i].size == inputs[i].size() * sizeof(float);
                const float *y = static_cast<const float *>(outs[i].data);
                for (std::size_t k = 0; right && k < inputs[i].size(); k++) {
                    right = y[k] == (inputs[i][k] > 0.0f ? inputs[i][k] : 0.0f);
                }
            }
            if (!right) {
                std::printf("%s round %d: wrong outputs\n", c.executor, round);
            }
            EXPECT(right);
        }
        p.cleanup();
    }
}

// A log callback that throws: nothing crosses into C, the records still arrive.
void log_callback_exceptions() {
    int records = 0;
    ttrt::set_log_callback(
        [&records](ttrt_log_level, const char *target, const char *) {
            if (std::strncmp(target, "ttrt", 4) == 0) {
                records++;
            }
            throw std::runtime_error("log receiver failed on purpose");
        },
        TTRT_LOG_LEVEL_INFO);
    {
        ttrt::image img = ttrt::image::open(image_path); // logs at info
        ttrt::backend be = ttrt::backend::create(img);
    }
    ttrt::clear_log_callback();
    EXPECT(records >= 2);
    const int seen = records;
    ttrt::image img = ttrt::image::open(image_path);
    EXPECT(records == seen);
    const c_outcome c = c_call(ttrt_set_log_callback(nullptr, nullptr, 9));
    expect_same(c, thrown([] { ttrt::set_log_callback(nullptr, static_cast<ttrt_log_level>(9)); }),
                "set_log_callback with a bad level");
}

// ---------------------------------------------------------------------------------------------
// Spans: the length the C API receives

void spans_pass_their_length() {
    float c_array[6] = {};
    std::array<float, 5> std_array{};
    std::vector<float> vec(7);
    const std::vector<float> cvec(3);
    EXPECT(ttrt::span<float>(c_array).size() == 6);
    EXPECT(ttrt::span<float>(std_array).size() == 5);
    EXPECT(ttrt::span<float>(vec).size() == 7 && ttrt::span<float>(vec).size_bytes() == 28);
    EXPECT(ttrt::span<const float>(cvec).size() == 3);
    EXPECT(ttrt::as_bytes(ttrt::span<float>(vec)).size() == 28);
    bool out_of_range = false;
    try {
        (void)ttrt::span<float>(vec).subspan(5, 3);
    } catch (const std::out_of_range &) {
        out_of_range = true;
    }
    EXPECT(out_of_range);

    // A host tensor of N bytes tells C N bytes: one element short of the tile, C names the size.
    std::vector<float> short_tile(32 * 32 - 1);
    const ttrt::host_tensor h = ttrt::make_host_tensor(ttrt::span<const float>(short_tile), tile_shape);
    EXPECT(h.size == short_tile.size() * sizeof(float));
    ttrt::device dev = ttrt::device::open();
    ttrt::tensor t = dev.allocate_tensor(float_tile(), ttrt::interleaved(TTRT_BUFFER_TYPE_DRAM));
    const c_outcome wrong = thrown([&] { dev.copy_host_to_device(0, h, t, true); });
    EXPECT(wrong.status == TTRT_STATUS_INVALID_ARGUMENT);
    EXPECT(wrong.text.find(std::to_string(h.size)) != std::string::npos);
    ttrt_host_tensor raw = h;
    expect_same(c_call(ttrt_copy_host_to_device_tensor(dev.get(), 0, &raw, t.get(), true)), wrong,
                "copy of a host tensor one element short");

    // Round trip through the device with full spans.
    std::vector<float> in(32 * 32), out(32 * 32, -1.0f);
    for (std::size_t i = 0; i < in.size(); i++) {
        in[i] = static_cast<float>(static_cast<int>(i % 11) - 5);
    }
    dev.copy_host_to_device(0, ttrt::make_host_tensor(ttrt::span<const float>(in), tile_shape), t, true);
    ttrt::tensor r = dev.unary(0, TTRT_UNARY_OP_ABS, t, ttrt::interleaved(TTRT_BUFFER_TYPE_L1));
    dev.copy_device_to_host(0, r, ttrt::make_host_tensor(ttrt::span<float>(out), tile_shape), true);
    bool abs_right = true;
    for (std::size_t i = 0; i < in.size(); i++) {
        abs_right = abs_right && out[i] == (in[i] < 0 ? -in[i] : in[i]);
    }
    EXPECT(abs_right);

    // tilize: dst.size() is dst_len; untilize: src.size() is src_len.
    ttrt::image img = ttrt::image::open(image_path);
    ttrt::backend be = ttrt::backend::create(img);
    be.initialize();
    const ttrt::io_desc q = be.queue_descriptor("x");
    const ttrt::shape4 shape = ttrt::io_desc_host_shape(q, 1);
    const ttrt::io_sizes sizes = ttrt::io_desc_sizes(q, 1);
    std::vector<float> values(ttrt::volume(shape));
    for (std::size_t i = 0; i < values.size(); i++) {
        values[i] = static_cast<float>(static_cast<int>(i % 9) - 4) * 0.5f;
    }
    const ttrt::tensor_desc src = ttrt::make_tensor_desc(ttrt::span<const float>(values), shape);
    std::vector<std::uint8_t> tiles(sizes.tilized_size - 1);
    const c_outcome short_dst = thrown([&] { ttrt::tilize(src, q, tiles); });
    EXPECT(short_dst.status == TTRT_STATUS_INVALID_ARGUMENT);
    EXPECT(short_dst.text.find(std::to_string(tiles.size())) != std::string::npos);
    tiles.resize(sizes.tilized_size);
    ttrt::tilize(src, q, tiles);
    std::vector<float> back(values.size(), 99.0f);
    const ttrt::tensor_desc dst = ttrt::make_tensor_desc(ttrt::span<float>(back), shape);
    const c_outcome short_src =
        thrown([&] { ttrt::untilize(ttrt::span<const std::uint8_t>(tiles).first(tiles.size() - 1), q, dst); });
    EXPECT(short_src.status == TTRT_STATUS_INVALID_ARGUMENT);
    EXPECT(short_src.text.find(std::to_string(tiles.size() - 1)) != std::string::npos);
    ttrt::untilize(tiles, q, dst);
    EXPECT(back == values); // halves of small integers survive Float16_b

    // A tensor descriptor must lie within its span: the wrapper checks, as C cannot.
    const ttrt::result<ttrt::tensor_desc> too_small =
        ttrt::try_make_tensor_desc(ttrt::span<const float>(values).first(values.size() - 1), shape,
                                   TTRT_DATA_FORMAT_FLOAT32);
    EXPECT(too_small.status() == TTRT_STATUS_INVALID_ARGUMENT);
    EXPECT(too_small.message().find(std::to_string(values.size() * 4)) != std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// Steady state: the wrapper allocates nothing

void steady_state_allocates_nothing() {
    ttrt::device_config cfg;
    cfg.trace_region_size = 64 * 1024;
    ttrt::device dev = ttrt::device::open(cfg);
    const ttrt::memory_config dram = ttrt::interleaved(TTRT_BUFFER_TYPE_DRAM);
    ttrt::tensor in = dev.allocate_tensor(float_tile(), dram);
    ttrt::tensor warm = dev.unary(0, TTRT_UNARY_OP_NEG, in, dram);
    warm.reset();
    ttrt::trace_capture cap = dev.begin_trace_capture(0);
    ttrt::tensor out = dev.unary(0, TTRT_UNARY_OP_NEG, in, dram);
    const ttrt::trace replay = cap.end();
    std::vector<float> host(32 * 32), back(32 * 32);
    const ttrt::host_tensor h_in = ttrt::make_host_tensor(ttrt::span<const float>(host), tile_shape);
    const ttrt::host_tensor h_out = ttrt::make_host_tensor(ttrt::span<float>(back), tile_shape);
    bool right = true;
    long before = cxx_allocations.load();
    for (int i = 0; i < 16; i++) {
        for (std::size_t k = 0; k < host.size(); k++) {
            host[k] = static_cast<float>(i + static_cast<int>(k % 5));
        }
        dev.copy_host_to_device(0, h_in, in, false);
        replay.execute(0, false);
        dev.copy_device_to_host(0, out, h_out, false);
        const ttrt::event ev = dev.record_event(0);
        dev.event_synchronize(ev, 10000);
        right = right && dev.try_event_query(ev).value() && dev.try_finish(0).ok();
        for (std::size_t k = 0; k < host.size(); k++) {
            right = right && back[k] == -host[k];
        }
    }
    EXPECT(cxx_allocations.load() == before);
    EXPECT(right);

    ttrt::image img = ttrt::image::open(image_path);
    ttrt::backend be = ttrt::backend::create(img);
    be.initialize();
    const ttrt::io_desc x = be.queue_descriptor("x");
    const ttrt::io_desc logits = be.queue_descriptor("logits");
    const ttrt::shape4 x_shape = ttrt::io_desc_host_shape(x, x.input_count);
    const ttrt::shape4 logits_shape = ttrt::io_desc_host_shape(logits, logits.input_count);
    std::vector<float> samples(ttrt::volume(x_shape), 0.25f), results(ttrt::volume(logits_shape));
    const ttrt::tensor_desc samples_desc = ttrt::make_tensor_desc(ttrt::span<const float>(samples), x_shape);
    const ttrt::tensor_desc results_desc = ttrt::make_tensor_desc(ttrt::span<float>(results), logits_shape);
    const ttrt::program_param params[] = {{"$p_loop_count", "1"}};
    before = cxx_allocations.load();
    for (int i = 0; i < 3; i++) {
        be.push_input(x, samples_desc, false, 10000);
        be.run_program("run_fwd", params);
        be.get_output_into(logits, results_desc, false, 10000);
        be.pop_output(logits, false, 10000);
    }
    EXPECT(cxx_allocations.load() == before);
}

} // namespace

int main(int argc, char **argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: wrapper_test IMAGE\n");
        return 2;
    }
    image_path = argv[1];
    const struct {
        const char *name;
        void (*run)();
    } tests[] = {
        {"image_moves_and_frees_once", image_moves_and_frees_once},
        {"device_moves_and_closes_once", device_moves_and_closes_once},
        {"backend_moves_and_frees_once", backend_moves_and_frees_once},
        {"tensor_moves_and_frees_once", tensor_moves_and_frees_once},
        {"backend_tensor_moves_and_frees_once", backend_tensor_moves_and_frees_once},
        {"trace_moves_and_releases_once", trace_moves_and_releases_once},
        {"result_holds_a_move_only_value", result_holds_a_move_only_value},
        {"bad_image_path", bad_image_path},
        {"null_handle_misuse", null_handle_misuse},
        {"unknown_program_and_names", unknown_program_and_names},
        {"device_misuse", device_misuse},
        {"config_defaults_come_from_the_c_api", config_defaults_come_from_the_c_api},
        {"throw_after_the_image_opened", throw_after_the_image_opened},
        {"throw_after_the_backend_initialized", throw_after_the_backend_initialized},
        {"throw_during_a_trace_capture", throw_during_a_trace_capture},
        {"pipeline_model_exceptions", pipeline_model_exceptions},
        {"pipeline_runs_every_executor", pipeline_runs_every_executor},
        {"log_callback_exceptions", log_callback_exceptions},
        {"spans_pass_their_length", spans_pass_their_length},
        {"steady_state_allocates_nothing", steady_state_allocates_nothing},
    };
    // One test's unexpected exception fails that test; the others still run.
    for (const auto &t : tests) {
        try {
            t.run();
        } catch (const std::exception &e) {
            failed++;
            std::printf("FAILED %s: unexpected exception: %s\n", t.name, e.what());
        }
    }
    std::printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
