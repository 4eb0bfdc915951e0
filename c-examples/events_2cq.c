/* events_2cq: ops on CQ 0, input writes and output reads on CQ 1, four events.
 *
 * The TT-Metal pattern "ops on CQ 0, input writes and output readback on CQ 1": a persistent
 * DRAM input and a persistent DRAM output. CQ 1 writes input i+1 while CQ 0 runs the model on
 * input i, then reads output i once CQ 0 signals it; CQ 0 does not overwrite the output until
 * CQ 1 signals the read is done. Events:
 *   write_event    CQ 1 -> CQ 0  the input is written
 *   op_event       CQ 0 -> CQ 1  the input has been consumed (may be overwritten)
 *   last_op_event  CQ 0 -> CQ 1  the output is ready
 *   read_event     CQ 1 -> CQ 0  the output has been read (may be overwritten)
 * The model is relu(x) * x; every output is compared with the same computed on the host. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ttrt.h>

#define ROWS 64
#define COLS 96
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

static ttrt_host_tensor host_tensor(float *data) {
    ttrt_host_tensor h;
    h.data = data;
    h.size = sizeof(float) * N;
    h.shape[0] = 1;
    h.shape[1] = 1;
    h.shape[2] = ROWS;
    h.shape[3] = COLS;
    h.format = TTRT_DATA_FORMAT_FLOAT32;
    h.layout = TTRT_TENSOR_LAYOUT_ROW_MAJOR;
    return h;
}

/* Input i: small multiples of 1/8, so x * x is exact in bfloat16. */
static void make_input(float *data, int i) {
    int k;
    for (k = 0; k < N; k++) {
        data[k] = (float)(((k * 5 + i * 11) % 32) - 16) * 0.125f;
    }
}

int main(void) {
    static float inputs[ITERATIONS][N];
    static float outputs[ITERATIONS][N];
    ttrt_device_config cfg;
    ttrt_device *dev = NULL;
    ttrt_tensor_spec spec;
    ttrt_memory_config dram = interleaved(TTRT_BUFFER_TYPE_DRAM);
    ttrt_memory_config l1 = interleaved(TTRT_BUFFER_TYPE_L1);
    ttrt_tensor *input_dram = NULL, *output_dram = NULL;
    ttrt_event write_event, op_event, last_op_event, read_event;
    ttrt_host_tensor h;
    int i, k, bad = 0;

    ttrt_device_config_default(&cfg);
    cfg.num_command_queues = 2;
    CHECK(ttrt_device_open(&cfg, &dev));

    memset(&spec, 0, sizeof spec);
    spec.shape[0] = 1;
    spec.shape[1] = 1;
    spec.shape[2] = ROWS;
    spec.shape[3] = COLS;
    spec.format = TTRT_DATA_FORMAT_FLOAT16_B;
    spec.layout = TTRT_TENSOR_LAYOUT_TILE;
    CHECK(ttrt_allocate_tensor_on_device(dev, &spec, &dram, &input_dram));
    CHECK(ttrt_allocate_tensor_on_device(dev, &spec, &dram, &output_dram));
    for (i = 0; i < ITERATIONS; i++) {
        make_input(inputs[i], i);
    }

    /* Dummy events: each CQ waits on the other's first. */
    CHECK(ttrt_record_event(dev, 0, &op_event));
    CHECK(ttrt_record_event(dev, 1, &read_event));

    /* The first input is written outside the loop. */
    CHECK(ttrt_wait_for_event(dev, 1, &op_event));
    h = host_tensor(inputs[0]);
    CHECK(ttrt_copy_host_to_device_tensor(dev, 1, &h, input_dram, false));
    CHECK(ttrt_record_event(dev, 1, &write_event));

    for (i = 0; i < ITERATIONS; i++) {
        ttrt_tensor *input_l1 = NULL, *relu = NULL, *product = NULL;

        /* CQ 0: wait for the input, move it to L1, let CQ 1 overwrite the DRAM input. */
        CHECK(ttrt_wait_for_event(dev, 0, &write_event));
        CHECK(ttrt_to_memory_config(dev, 0, input_dram, &l1, &input_l1));
        CHECK(ttrt_record_event(dev, 0, &op_event));
        /* The model. */
        CHECK(ttrt_op_unary(dev, 0, TTRT_UNARY_OP_RELU, input_l1, &l1, &relu));
        CHECK(ttrt_op_binary(dev, 0, TTRT_BINARY_OP_MULTIPLY, relu, input_l1, &l1, &product));
        /* The output goes to the persistent DRAM output once CQ 1 has read the last one. */
        CHECK(ttrt_wait_for_event(dev, 0, &read_event));
        CHECK(ttrt_reshard(dev, 0, product, output_dram));
        CHECK(ttrt_record_event(dev, 0, &last_op_event));
        ttrt_tensor_free(product);
        ttrt_tensor_free(relu);
        ttrt_tensor_free(input_l1);

        /* CQ 1: the next input first, so it overlaps this model, then this output. */
        if (i + 1 < ITERATIONS) {
            CHECK(ttrt_wait_for_event(dev, 1, &op_event));
            h = host_tensor(inputs[i + 1]);
            CHECK(ttrt_copy_host_to_device_tensor(dev, 1, &h, input_dram, false));
            CHECK(ttrt_record_event(dev, 1, &write_event));
        }
        CHECK(ttrt_wait_for_event(dev, 1, &last_op_event));
        h = host_tensor(outputs[i]);
        CHECK(ttrt_copy_device_to_host_tensor(dev, 1, output_dram, &h, false));
        CHECK(ttrt_record_event(dev, 1, &read_event));
    }
    CHECK(ttrt_synchronize(dev));
    printf("events: write %u (CQ 1), op %u (CQ 0), last op %u (CQ 0), read %u (CQ 1)\n",
           (unsigned)write_event.id, (unsigned)op_event.id, (unsigned)last_op_event.id,
           (unsigned)read_event.id);

    for (i = 0; i < ITERATIONS; i++) {
        for (k = 0; k < N; k++) {
            float x = inputs[i][k];
            float expected = x > 0.0f ? x * x : 0.0f;
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
    printf("%d iterations, %d values each: all equal to relu(x) * x\n", ITERATIONS, N);

    ttrt_tensor_free(output_dram);
    ttrt_tensor_free(input_dram);
    CHECK(ttrt_device_close(dev));
    return 0;
}
