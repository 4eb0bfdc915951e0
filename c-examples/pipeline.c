/* pipeline: a small vision-style model through the five TT-CNN pipeline executors.
 *
 * The model is y = relu(x) . w + b: an activation, a matmul with a weight tensor and a bias,
 * the way a conv-free classifier head runs on device tensors. The weight and bias live on the
 * device; the model callback enqueues the three ops on the L1 input the pipeline gives it.
 *
 * The same model runs under every config of ttrt_pipeline_config: no trace or trace, one or
 * two command queues, transfers on the ops queue or all on CQ 1. Each pipeline compiles once,
 * then takes two rounds of inputs (the second into pre-allocated outputs), and every output
 * value is compared with relu(x) . w + b computed here on the host. The values are small
 * integers, so every product and sum is exact in float32 whatever the order of the sums. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ttrt.h>

#define ROWS 64
#define COLS 64
#define N (ROWS * COLS)
#define INPUTS 16
#define ROUNDS 2

#define CHECK(call)                                                                                \
    do {                                                                                           \
        ttrt_status st_ = (call);                                                                  \
        if (st_ != TTRT_STATUS_SUCCESS) {                                                          \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, ttrt_status_str(st_),           \
                    ttrt_last_error_message());                                                    \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

/* What the model callback needs: the device tensors of its parameters. */
typedef struct model_params {
    ttrt_tensor *weight;
    ttrt_tensor *bias;
} model_params;

static ttrt_memory_config l1_interleaved(void) {
    ttrt_memory_config m;
    memset(&m, 0, sizeof m);
    m.buffer_type = TTRT_BUFFER_TYPE_L1;
    m.memory_layout = TTRT_MEMORY_LAYOUT_INTERLEAVED;
    return m;
}

/* y = relu(x) . w + b on command queue `cq`. The input stays allocated: a buffer the model
 * allocated in its place would keep the traced executors' persistent input from landing where
 * the trace reads it. Intermediates are freed as soon as the next op is enqueued (ops on one
 * queue run in order, so the buffer is reused only after they are done with it). */
static uint32_t model(void *user, ttrt_device *dev, uint8_t cq, ttrt_tensor *input, ttrt_tensor **output) {
    const model_params *params = (const model_params *)user;
    ttrt_memory_config l1 = l1_interleaved();
    ttrt_tensor *activated = NULL, *product = NULL;
    ttrt_status st;

    st = ttrt_op_unary(dev, cq, TTRT_UNARY_OP_RELU, input, &l1, &activated);
    if (st != TTRT_STATUS_SUCCESS) {
        return st;
    }
    st = ttrt_op_matmul(dev, cq, activated, params->weight, &l1, &product);
    ttrt_tensor_free(activated);
    if (st != TTRT_STATUS_SUCCESS) {
        return st;
    }
    st = ttrt_op_binary(dev, cq, TTRT_BINARY_OP_ADD, product, params->bias, &l1, output);
    ttrt_tensor_free(product);
    return st;
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

/* A Float32 tensor in DRAM holding `values`. */
static ttrt_tensor *device_tensor(ttrt_device *dev, float *values) {
    ttrt_tensor_spec spec;
    ttrt_memory_config dram;
    ttrt_host_tensor h = host_tensor(values);
    ttrt_tensor *t = NULL;
    memset(&spec, 0, sizeof spec);
    spec.shape[0] = 1;
    spec.shape[1] = 1;
    spec.shape[2] = ROWS;
    spec.shape[3] = COLS;
    spec.format = TTRT_DATA_FORMAT_FLOAT32;
    spec.layout = TTRT_TENSOR_LAYOUT_TILE;
    memset(&dram, 0, sizeof dram);
    dram.buffer_type = TTRT_BUFFER_TYPE_DRAM;
    dram.memory_layout = TTRT_MEMORY_LAYOUT_INTERLEAVED;
    CHECK(ttrt_allocate_tensor_on_device(dev, &spec, &dram, &t));
    CHECK(ttrt_copy_host_to_device_tensor(dev, 0, &h, t, true));
    return t;
}

static float weight[N], bias[N];

/* relu(x) . w + b on the host. */
static void reference(const float *x, float *y) {
    int i, j, k;
    for (i = 0; i < ROWS; i++) {
        for (j = 0; j < COLS; j++) {
            float sum = 0.0f;
            for (k = 0; k < COLS; k++) {
                float a = x[i * COLS + k] > 0.0f ? x[i * COLS + k] : 0.0f;
                sum += a * weight[k * COLS + j];
            }
            y[i * COLS + j] = sum + bias[i * COLS + j];
        }
    }
}

/* Input `i` of round `r`: integers in [-4, 4], different for every input. */
static void make_input(float *x, int r, int i) {
    int k;
    for (k = 0; k < N; k++) {
        x[k] = (float)(((k * 5 + i * 7 + r * 11) % 9) - 4);
    }
}

int main(void) {
    static float inputs[INPUTS][N];
    static float expected[INPUTS][N];
    static const struct {
        bool use_trace;
        uint32_t num_command_queues;
        bool all_transfers_on_separate_command_queue;
    } configs[5] = {{false, 1, false}, {true, 1, false}, {false, 2, false}, {true, 2, false}, {true, 2, true}};
    const uint32_t shape[4] = {1, 1, ROWS, COLS};
    ttrt_device_config dev_cfg;
    ttrt_device *dev = NULL;
    ttrt_memory_config dram_sharded, l1_sharded;
    model_params params;
    int c, r, i, k, bad = 0;

    for (k = 0; k < N; k++) {
        weight[k] = (float)((k * 7) % 5 - 2);
        bias[k] = (float)(k % 3);
    }

    ttrt_device_config_default(&dev_cfg);
    dev_cfg.num_command_queues = 2;
    dev_cfg.trace_region_size = 64 * 1024;
    /* Two CQs overlap best with their workers on CPUs of their own: CQ 0's on CPU 0, CQ 1's on
     * CPU 1 (Linux). Elsewhere, or where this process may not use those CPUs, the OS places
     * them. */
    dev_cfg.pin_workers = 1;
    if (ttrt_device_open(&dev_cfg, &dev) != TTRT_STATUS_SUCCESS) {
        fprintf(stderr, "workers not pinned: %s\n", ttrt_last_error_message());
        dev_cfg.pin_workers = 0;
        CHECK(ttrt_device_open(&dev_cfg, &dev));
    }
    params.weight = device_tensor(dev, weight);
    params.bias = device_tensor(dev, bias);

    /* The persistent DRAM input (and output): height-sharded over two DRAM banks. The model's
     * L1 input: height-sharded over two cores. */
    CHECK(ttrt_memory_config_for_persistent_dram_tensor(shape, TTRT_MEMORY_LAYOUT_HEIGHT_SHARDED, 2, 1,
                                                        &dram_sharded));
    memset(&l1_sharded, 0, sizeof l1_sharded);
    l1_sharded.buffer_type = TTRT_BUFFER_TYPE_L1;
    l1_sharded.memory_layout = TTRT_MEMORY_LAYOUT_HEIGHT_SHARDED;
    l1_sharded.shard.grid.end_x = 1;
    l1_sharded.shard.shape[0] = ROWS / 2;
    l1_sharded.shard.shape[1] = COLS;
    l1_sharded.shard.orientation = TTRT_SHARD_ORIENTATION_ROW_MAJOR;

    for (c = 0; c < 5; c++) {
        ttrt_pipeline_config cfg;
        ttrt_pipeline *pipe = NULL;
        ttrt_host_tensor host_inputs[INPUTS];

        ttrt_pipeline_config_default(&cfg);
        cfg.use_trace = configs[c].use_trace;
        cfg.num_command_queues = configs[c].num_command_queues;
        cfg.all_transfers_on_separate_command_queue = configs[c].all_transfers_on_separate_command_queue;
        CHECK(ttrt_pipeline_create(dev, &cfg, model, &params, &l1_sharded, &dram_sharded, &dram_sharded, &pipe));

        make_input(inputs[0], 0, 0);
        host_inputs[0] = host_tensor(inputs[0]);
        CHECK(ttrt_pipeline_compile(pipe, &host_inputs[0]));

        for (r = 0; r < ROUNDS; r++) {
            const ttrt_host_tensor *outputs = NULL;
            size_t n = 0;
            if (r == 1) {
                /* From here on enqueue and pop_all allocate nothing. */
                CHECK(ttrt_pipeline_preallocate_output_tensors_on_host(pipe, INPUTS));
            }
            for (i = 0; i < INPUTS; i++) {
                make_input(inputs[i], r, i);
                reference(inputs[i], expected[i]);
                host_inputs[i] = host_tensor(inputs[i]);
            }
            CHECK(ttrt_pipeline_enqueue(pipe, host_inputs, INPUTS));
            CHECK(ttrt_pipeline_pop_all(pipe, &outputs, &n));
            if (n != INPUTS) {
                fprintf(stderr, "%s: %u outputs for %d inputs\n", ttrt_pipeline_executor(pipe), (unsigned)n,
                        INPUTS);
                return 1;
            }
            for (i = 0; i < INPUTS; i++) {
                const float *y = (const float *)outputs[i].data;
                if (outputs[i].format != TTRT_DATA_FORMAT_FLOAT32 || outputs[i].size != sizeof(float) * N) {
                    fprintf(stderr, "%s: output %d is not %d float32 values\n", ttrt_pipeline_executor(pipe), i, N);
                    return 1;
                }
                for (k = 0; k < N; k++) {
                    if (y[k] != expected[i][k] && bad++ < 5) {
                        fprintf(stderr, "%s round %d input %d element %d: got %g, expected %g\n",
                                ttrt_pipeline_executor(pipe), r, i, k, y[k], expected[i][k]);
                    }
                }
            }
        }
        printf("%s: %d rounds of %d inputs checked\n", ttrt_pipeline_executor(pipe), ROUNDS, INPUTS);
        CHECK(ttrt_pipeline_cleanup(pipe));
        ttrt_pipeline_free(pipe);
    }
    if (bad) {
        fprintf(stderr, "%d wrong values\n", bad);
        return 1;
    }
    printf("5 configs x %d rounds x %d inputs, %d values each: all equal to relu(x) . w + b\n", ROUNDS, INPUTS, N);

    ttrt_tensor_free(params.weight);
    ttrt_tensor_free(params.bias);
    CHECK(ttrt_device_close(dev));
    return 0;
}
