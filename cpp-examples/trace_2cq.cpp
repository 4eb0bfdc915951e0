// trace_2cq: a traced model fed through two command queues, in C++ with ttrt.hpp.
//
// The same program as c-examples/trace_2cq.c: the host writes each input into a persistent
// DRAM tensor on CQ 1; CQ 0 waits for the write, reshards the input into an L1 tensor the trace
// reads, signals CQ 1 that the DRAM input may be overwritten, replays the trace and reads the
// output back. The next write overlaps the current model.
//
// The L1 input of the trace is the output of the first op, so its address must be the same at
// every replay: the program checks that the input allocated after capture lands where the
// captured one was. The model is relu followed by x + x; every output is compared with
// 2 * max(x, 0) computed on the host. Any failure throws ttrt::error, printed by main.
#include <cstdint>
#include <cstdio>
#include <vector>

#include <ttrt.hpp>

namespace {

constexpr std::uint32_t rows = 64;
constexpr std::uint32_t cols = 64;
constexpr std::size_t n = rows * cols;
constexpr int iterations = 8;
const ttrt::shape4 shape = {1, 1, rows, cols};

// relu, then x + x into DRAM. The input is deallocated after the first op, as TT-NN models do,
// so the trace's input can be allocated again at the same address.
ttrt::tensor run_model(const ttrt::device &dev, const ttrt::tensor_ref &input) {
    ttrt::tensor x = dev.unary(0, TTRT_UNARY_OP_RELU, input, ttrt::interleaved(TTRT_BUFFER_TYPE_L1));
    input.deallocate(true);
    return dev.binary(0, TTRT_BINARY_OP_ADD, x, x, ttrt::interleaved(TTRT_BUFFER_TYPE_DRAM));
}

// Input i: values exactly representable in bfloat16, different for every iteration.
std::vector<float> make_input(int i) {
    std::vector<float> data(n);
    for (std::size_t k = 0; k < n; k++) {
        data[k] = static_cast<float>(static_cast<int>((k * 7 + static_cast<std::size_t>(i) * 13) % 64) - 32) * 0.25f;
    }
    return data;
}

void write_input(const ttrt::device &dev, const ttrt::tensor &dst, const std::vector<float> &data) {
    dev.copy_host_to_device(1, ttrt::make_host_tensor(ttrt::span<const float>(data), shape), dst, false);
}

int run() {
    ttrt::device_config cfg;
    cfg.num_command_queues = 2;
    cfg.trace_region_size = 64 * 1024;
    ttrt::device dev = ttrt::device::open(cfg);

    const ttrt::tensor_spec spec = ttrt::make_tensor_spec(shape, TTRT_DATA_FORMAT_FLOAT16_B);
    // The persistent input: height-sharded over two DRAM banks. The trace's input:
    // height-sharded over two cores' L1.
    const ttrt::memory_config dram_sharded =
        ttrt::memory_config_for_persistent_dram_tensor(shape, TTRT_MEMORY_LAYOUT_HEIGHT_SHARDED, 2, 1);
    const ttrt::memory_config l1_sharded = ttrt::sharded(TTRT_BUFFER_TYPE_L1, TTRT_MEMORY_LAYOUT_HEIGHT_SHARDED,
                                                         ttrt_core_range{0, 0, 1, 0}, rows / 2, cols);

    ttrt::tensor input_dram = dev.allocate_tensor(spec, dram_sharded);
    std::vector<std::vector<float>> inputs;
    for (int i = 0; i < iterations; i++) {
        inputs.push_back(make_input(i));
    }

    // A dummy op event: CQ 1 waits on it first.
    ttrt::event op_event = dev.record_event(0);

    // First run: compiles the programs (fills the program cache).
    dev.wait_for_event(1, op_event);
    write_input(dev, input_dram, inputs[0]);
    ttrt::event write_event = dev.record_event(1);
    dev.wait_for_event(0, write_event);
    ttrt::tensor input_l1 = dev.to_memory_config(0, input_dram, l1_sharded);
    op_event = dev.record_event(0);
    ttrt::tensor output = run_model(dev, input_l1);
    input_l1.reset();

    // Capture.
    dev.wait_for_event(1, op_event);
    write_input(dev, input_dram, inputs[0]);
    write_event = dev.record_event(1);
    dev.wait_for_event(0, write_event);
    input_l1 = dev.to_memory_config(0, input_dram, l1_sharded);
    op_event = dev.record_event(0);
    const std::uint64_t input_trace_addr = input_l1.buffer_address();
    // Free the compile run's output so the input can come back to its address.
    output.deallocate(true);
    output.reset();
    ttrt::trace_capture capture = dev.begin_trace_capture(0);
    output = run_model(dev, input_l1);
    input_l1.reset();
    input_l1 = dev.allocate_tensor(spec, l1_sharded);
    if (input_l1.buffer_address() != input_trace_addr) {
        std::fprintf(stderr, "L1 input tensor address mismatch: expected %llu, got %llu\n",
                     static_cast<unsigned long long>(input_trace_addr),
                     static_cast<unsigned long long>(input_l1.buffer_address()));
        return 1; // the capture's destructor ends it and releases the trace
    }
    ttrt::trace trace = capture.end();
    std::printf("trace %u captured; L1 input at %#llx\n", static_cast<unsigned>(trace.id()),
                static_cast<unsigned long long>(input_trace_addr));

    std::vector<std::vector<float>> outputs(iterations, std::vector<float>(n));
    for (int i = 0; i < iterations; i++) {
        dev.wait_for_event(1, op_event);
        write_input(dev, input_dram, inputs[i]);
        write_event = dev.record_event(1);
        dev.wait_for_event(0, write_event);
        dev.reshard(0, input_dram, input_l1);
        op_event = dev.record_event(0);
        dev.execute_trace(0, trace, false);
        dev.copy_device_to_host(0, output, ttrt::make_host_tensor(ttrt::span<float>(outputs[i]), shape), false);
    }
    dev.synchronize();

    int bad = 0;
    for (int i = 0; i < iterations; i++) {
        for (std::size_t k = 0; k < n; k++) {
            const float x = inputs[i][k];
            const float expected = x > 0.0f ? 2.0f * x : 0.0f;
            if (outputs[i][k] != expected && bad++ < 5) {
                std::fprintf(stderr, "iteration %d element %zu: got %g, expected %g\n", i, k, outputs[i][k],
                             expected);
            }
        }
    }
    if (bad != 0) {
        std::fprintf(stderr, "%d wrong values\n", bad);
        return 1;
    }
    std::printf("%d iterations, %zu values each: all equal to 2 * relu(x)\n", iterations, n);

    trace.release();
    output.reset();
    input_l1.reset();
    input_dram.reset();
    dev.close();
    return 0;
}

} // namespace

int main() {
    try {
        return run();
    } catch (const ttrt::error &e) {
        std::fprintf(stderr, "trace_2cq: %s: %s\n", e.status_name(), e.what());
        return 1;
    }
}
