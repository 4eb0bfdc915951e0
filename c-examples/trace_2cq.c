/* trace_2cq: a traced model fed through two command queues.
 *
 * The TT-Metal pattern "trace with non-persistent L1 input, ops and output readback on CQ 0,
 * input writes on CQ 1": the host writes each input into a persistent DRAM tensor on CQ 1;
 * CQ 0 waits for the write, reshards the input into an L1 tensor the trace reads, signals
 * CQ 1 that the DRAM input may be overwritten, replays the trace and reads the output back.
 * The next write overlaps the current model.
 *
 * The L1 input of the trace is the output of the first op, so its address must be the same at
 * every replay: the program checks that the input allocated after capture lands where the
 * captured one was (the allocator's determinism rule). The model is relu followed by x + x;
 * every output is compared with 2 * max(x, 0) computed on the host. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ttrt.h>

#define ROWS 64
#define COLS 64
#define N (ROWS * COLS)
#define ITERATIONS 8

#define CHECK(call)                                                                                \
    do {                                                                                           \
        ttrt_status st_ = (call);                                                                  \
        if (st_ != TTRT_STATUS_SUCCESS) {                                                          \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, ttrt_status_str(st_),           \
                    ttrt_last_error_message());                                                    \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static ttrt_memory_config interleaved(ttrt_buffer_type type) {
    ttrt_memory_config m;
    memset(&m, 0, sizeof m);
    m.buffer_type = type;
    m.memory_layout = TTRT_MEMORY_LAYOUT_INTERLEAVED;
    return m;
}

/* The model: relu, then x + x into DRAM. It frees its input after the first op, as TT-NN
 * models do, so the trace's input can be allocated again at the same address. */
static ttrt_tensor *run_model(ttrt_device *dev, ttrt_tensor *input) {
    ttrt_memory_config l1 = interleaved(TTRT_BUFFER_TYPE_L1);
    ttrt_memory_config dram = interleaved(TTRT_BUFFER_TYPE_DRAM);
    ttrt_tensor *x = NULL, *y = NULL;
    CHECK(ttrt_op_unary(dev, 0, TTRT_UNARY_OP_RELU, input, &l1, &x));
    CHECK(ttrt_tensor_deallocate(input, true));
    CHECK(ttrt_op_binary(dev, 0, TTRT_BINARY_OP_ADD, x, x, &dram, &y));
    ttrt_tensor_free(x);
    return y;
}

/* Input i: values exactly representable in bfloat16, different for every iteration. */
static void make_input(float *data, int i) {
    int k;
    for (k = 0; k < N; k++) {
        data[k] = (float)(((k * 7 + i * 13) % 64) - 32) * 0.25f;
    }
}

static void write_input(ttrt_device *dev, ttrt_tensor *dst, float *data) {
    ttrt_host_tensor h;
    h.data = data;
    h.size = sizeof(float) * N;
    h.shape[0] = 1;
    h.shape[1] = 1;
    h.shape[2] = ROWS;
    h.shape[3] = COLS;
    h.format = TTRT_DATA_FORMAT_FLOAT32;
    h.layout = TTRT_TENSOR_LAYOUT_ROW_MAJOR;
    CHECK(ttrt_copy_host_to_device_tensor(dev, 1, &h, dst, false));
}

int main(void) {
    static float inputs[ITERATIONS][N];
    static float outputs[ITERATIONS][N];
    const uint32_t shape[4] = {1, 1, ROWS, COLS};
    ttrt_device_config cfg;
    ttrt_device *dev = NULL;
    ttrt_tensor_spec spec;
    ttrt_memory_config dram_sharded, l1_sharded;
    ttrt_tensor *input_dram = NULL, *input_l1 = NULL, *output = NULL;
    ttrt_event op_event, write_event;
    uint64_t input_trace_addr;
    uint32_t tid;
    int i, k, bad = 0;

    ttrt_device_config_default(&cfg);
    cfg.num_command_queues = 2;
    cfg.trace_region_size = 64 * 1024;
    CHECK(ttrt_device_open(&cfg, &dev));

    memset(&spec, 0, sizeof spec);
    memcpy(spec.shape, shape, sizeof shape);
    spec.format = TTRT_DATA_FORMAT_FLOAT16_B;
    spec.layout = TTRT_TENSOR_LAYOUT_TILE;
    /* The persistent input: height-sharded over two DRAM banks. */
    CHECK(ttrt_memory_config_for_persistent_dram_tensor(shape, TTRT_MEMORY_LAYOUT_HEIGHT_SHARDED, 2, 1,
                                                        &dram_sharded));
    /* The trace's input: height-sharded over two cores' L1. */
    memset(&l1_sharded, 0, sizeof l1_sharded);
    l1_sharded.buffer_type = TTRT_BUFFER_TYPE_L1;
    l1_sharded.memory_layout = TTRT_MEMORY_LAYOUT_HEIGHT_SHARDED;
    l1_sharded.shard.grid.end_x = 1;
    l1_sharded.shard.shape[0] = ROWS / 2;
    l1_sharded.shard.shape[1] = COLS;
    l1_sharded.shard.orientation = TTRT_SHARD_ORIENTATION_ROW_MAJOR;

    CHECK(ttrt_allocate_tensor_on_device(dev, &spec, &dram_sharded, &input_dram));
    for (i = 0; i < ITERATIONS; i++) {
        make_input(inputs[i], i);
    }

    /* A dummy op event: CQ 1 waits on it first. */
    CHECK(ttrt_record_event(dev, 0, &op_event));

    /* First run: compiles the programs (fills the program cache). */
    CHECK(ttrt_wait_for_event(dev, 1, &op_event));
    write_input(dev, input_dram, inputs[0]);
    CHECK(ttrt_record_event(dev, 1, &write_event));
    CHECK(ttrt_wait_for_event(dev, 0, &write_event));
    CHECK(ttrt_to_memory_config(dev, 0, input_dram, &l1_sharded, &input_l1));
    CHECK(ttrt_record_event(dev, 0, &op_event));
    output = run_model(dev, input_l1);
    ttrt_tensor_free(input_l1);

    /* Capture. */
    CHECK(ttrt_wait_for_event(dev, 1, &op_event));
    write_input(dev, input_dram, inputs[0]);
    CHECK(ttrt_record_event(dev, 1, &write_event));
    CHECK(ttrt_wait_for_event(dev, 0, &write_event));
    CHECK(ttrt_to_memory_config(dev, 0, input_dram, &l1_sharded, &input_l1));
    CHECK(ttrt_record_event(dev, 0, &op_event));
    input_trace_addr = ttrt_tensor_buffer_address(input_l1);
    /* Free the compile run's output so the input can come back to its address. */
    CHECK(ttrt_tensor_deallocate(output, true));
    ttrt_tensor_free(output);
    CHECK(ttrt_begin_trace_capture(dev, 0, &tid));
    output = run_model(dev, input_l1);
    ttrt_tensor_free(input_l1);
    CHECK(ttrt_allocate_tensor_on_device(dev, &spec, &l1_sharded, &input_l1));
    if (ttrt_tensor_buffer_address(input_l1) != input_trace_addr) {
        fprintf(stderr, "L1 input tensor address mismatch: expected %llu, got %llu\n",
                (unsigned long long)input_trace_addr,
                (unsigned long long)ttrt_tensor_buffer_address(input_l1));
        return 1;
    }
    CHECK(ttrt_end_trace_capture(dev, 0, tid));
    printf("trace %u captured; L1 input at %#llx\n", (unsigned)tid, (unsigned long long)input_trace_addr);

    for (i = 0; i < ITERATIONS; i++) {
        ttrt_host_tensor h;
        CHECK(ttrt_wait_for_event(dev, 1, &op_event));
        write_input(dev, input_dram, inputs[i]);
        CHECK(ttrt_record_event(dev, 1, &write_event));
        CHECK(ttrt_wait_for_event(dev, 0, &write_event));
        CHECK(ttrt_reshard(dev, 0, input_dram, input_l1));
        CHECK(ttrt_record_event(dev, 0, &op_event));
        CHECK(ttrt_execute_trace(dev, 0, tid, false));
        h.data = outputs[i];
        h.size = sizeof outputs[i];
        memcpy(h.shape, shape, sizeof shape);
        h.format = TTRT_DATA_FORMAT_FLOAT32;
        h.layout = TTRT_TENSOR_LAYOUT_ROW_MAJOR;
        CHECK(ttrt_copy_device_to_host_tensor(dev, 0, output, &h, false));
    }
    CHECK(ttrt_synchronize(dev));

    for (i = 0; i < ITERATIONS; i++) {
        for (k = 0; k < N; k++) {
            float x = inputs[i][k];
            float expected = x > 0.0f ? 2.0f * x : 0.0f;
            if (outputs[i][k] != expected) {
                if (bad++ < 5) {
                    fprintf(stderr, "iteration %d element %d: got %g, expected %g\n", i, k, outputs[i][k],
                            expected);
                }
            }
        }
    }
    if (bad) {
        fprintf(stderr, "%d wrong values\n", bad);
        return 1;
    }
    printf("%d iterations, %d values each: all equal to 2 * relu(x)\n", ITERATIONS, N);

    CHECK(ttrt_release_trace(dev, tid));
    ttrt_tensor_free(output);
    ttrt_tensor_free(input_l1);
    ttrt_tensor_free(input_dram);
    CHECK(ttrt_device_close(dev));
    return 0;
}
