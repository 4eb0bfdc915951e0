/* io_runtime_split: PyBuda's embedded loader as two processes on one device.
 *
 *   ttrt sim-device NAME --background
 *   io_runtime_split IMAGE.tti shm:NAME LOOPS
 *   ttrt sim-device NAME --stop
 *
 * The user guide's loader marks its steps "<runtime process>" (initialize, run_program,
 * finish) and "<io process>" (push_input, get_output, pop_output), "where the two processes
 * can be running on different user spaces (e.g. host and soc)". This program does that with
 * fork(): the parent is the runtime process, a backend with role RUN on the shared device;
 * the child is the io process, a backend with role IO that attaches to the parent's queues.
 * The two meet only in device memory: the io process pushes a loop's inputs and tells the
 * runtime process (one byte down a pipe, as a deployment would signal "inputs ready"); the
 * runtime process runs every program; the io process's get_output waits for the outputs.
 *
 * First, the same loops run in one process on an in-process simulated chip; the io process
 * checks that every output of every loop equals that run's, byte for byte (FNV-1a 64 of the
 * bytes get_output returns), and exits non-zero on any difference.
 *
 * Loop l's inputs are the pattern ((i * 7 + 3 + 5 * l) % 17) / 16 - 0.5 over the flat index
 * i, in the tensor's host format. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ttrt.h>

#include "loader_inputs.h"

#define TIMEOUT_MS 10000
#define MAX_LOOPS 64
#define MAX_OUTPUTS 16

static const char *who = "io_runtime_split";

static int check(ttrt_status st, const char *what) {
    if (st != TTRT_STATUS_SUCCESS) {
        fprintf(stderr, "%s: %s: %s: %s\n", who, what, ttrt_status_str(st),
                ttrt_last_error_message());
        return 0;
    }
    return 1;
}

/* <io process>: pushes every input of loop `loop`. */
static int push_inputs(ttrt_backend *be, const ttrt_image *img, unsigned loop) {
    size_t i;
    for (i = 0; i < ttrt_image_input_count(img); i++) {
        const char *name = ttrt_image_input_name(img, i);
        ttrt_io_desc q;
        ttrt_tensor_desc t;
        int pushed;
        if (name == NULL ||
            !check(ttrt_backend_get_queue_descriptor(be, name, &q), "get_queue_descriptor") ||
            !check(ttrt_backend_tensor_desc_for_queue(be, &q, false, &t), "tensor_desc_for_queue")) {
            return 0;
        }
        loader_fill(&t, loop);
        pushed = check(ttrt_push_input(be, &q, &t, false, TIMEOUT_MS, -1), "ttrt_push_input");
        if (!check(ttrt_tensor_desc_free(&t), "ttrt_tensor_desc_free") || !pushed) {
            return 0;
        }
    }
    return 1;
}

/* <runtime process>: runs every program once. */
static int run_programs(ttrt_backend *be) {
    ttrt_program_param loop = {"$p_loop_count", "1"};
    size_t i;
    for (i = 0; i < ttrt_backend_program_count(be); i++) {
        const char *program = ttrt_backend_program_name(be, i);
        if (program == NULL ||
            !check(ttrt_backend_run_program(be, program, &loop, 1), "ttrt_backend_run_program")) {
            return 0;
        }
    }
    return 1;
}

/* <io process>: gets, checksums and pops every output. */
static int pop_outputs(ttrt_backend *be, const ttrt_image *img, uint64_t *sums) {
    size_t i;
    for (i = 0; i < ttrt_image_output_count(img); i++) {
        const char *name = ttrt_image_output_name(img, i);
        ttrt_io_desc q;
        ttrt_tensor_desc t;
        if (name == NULL ||
            !check(ttrt_backend_get_queue_descriptor(be, name, &q), "get_queue_descriptor") ||
            !check(ttrt_get_output(be, &q, &t, false, TIMEOUT_MS, -1), "ttrt_get_output")) {
            return 0;
        }
        sums[i] = loader_fnv1a((const unsigned char *)t.ptr, loader_volume(&t) * t.itemsize);
        if (!check(ttrt_pop_output(be, &q, false, TIMEOUT_MS), "ttrt_pop_output") ||
            !check(ttrt_tensor_desc_free(&t), "ttrt_tensor_desc_free")) {
            return 0;
        }
    }
    return 1;
}

static ttrt_backend *backend(const ttrt_image *img, const char *device, uint32_t role) {
    ttrt_backend_config cfg;
    ttrt_backend *be = NULL;
    ttrt_backend_config_default(&cfg);
    cfg.device = device;
    cfg.role = role;
    if (!check(ttrt_backend_create(img, &cfg, &be), "ttrt_backend_create")) {
        return NULL;
    }
    if (!check(ttrt_backend_initialize(be), "ttrt_backend_initialize")) {
        ttrt_backend_free(be);
        return NULL;
    }
    return be;
}

/* The reference: every loop in this process, on an in-process simulated chip. */
static int single_process(const ttrt_image *img, unsigned loops, uint64_t sums[][MAX_OUTPUTS]) {
    ttrt_backend *be = backend(img, "sim", TTRT_BACKEND_ROLE_RUN);
    unsigned l;
    int ok = be != NULL;
    for (l = 0; ok && l < loops; l++) {
        ok = push_inputs(be, img, l) && run_programs(be) && pop_outputs(be, img, sums[l]);
    }
    ok = ok && check(ttrt_backend_finish(be), "ttrt_backend_finish");
    ttrt_backend_free(be);
    return ok;
}

/* The io process: attaches, then per loop pushes, signals, gets and compares. */
static int io_process(const ttrt_image *img, const char *device, unsigned loops, int ready_fd,
                      uint64_t want[][MAX_OUTPUTS]) {
    ttrt_backend *be = backend(img, device, TTRT_BACKEND_ROLE_IO);
    uint64_t got[MAX_OUTPUTS];
    unsigned l;
    size_t i;
    int ok = be != NULL;
    for (l = 0; ok && l < loops; l++) {
        char token = 'i';
        ok = push_inputs(be, img, l);
        if (ok && write(ready_fd, &token, 1) != 1) {
            fprintf(stderr, "%s: cannot signal the runtime process\n", who);
            ok = 0;
        }
        ok = ok && pop_outputs(be, img, got);
        for (i = 0; ok && i < ttrt_image_output_count(img); i++) {
            if (got[i] != want[l][i]) {
                fprintf(stderr,
                        "%s: loop %u, output %s: checksum 0x%016llx, the single process run's "
                        "0x%016llx\n",
                        who, l, ttrt_image_output_name(img, i), (unsigned long long)got[i],
                        (unsigned long long)want[l][i]);
                ok = 0;
            }
        }
    }
    ok = ok && check(ttrt_backend_finish(be), "ttrt_backend_finish (io side)");
    ttrt_backend_free(be);
    close(ready_fd);
    return ok;
}

/* The runtime process: initializes, then per loop waits for the io process's signal and runs
 * the programs; finishes once the io process is done. */
static int runtime_process(const ttrt_image *img, const char *device, unsigned loops,
                           int ready_fd, pid_t io) {
    ttrt_backend *be = backend(img, device, TTRT_BACKEND_ROLE_RUN);
    unsigned l;
    int ok = be != NULL, status = 0;
    for (l = 0; ok && l < loops; l++) {
        char token;
        if (read(ready_fd, &token, 1) != 1) {
            fprintf(stderr, "%s: the io process stopped before loop %u\n", who, l);
            ok = 0;
            break;
        }
        ok = run_programs(be);
    }
    close(ready_fd);
    if (waitpid(io, &status, 0) != io || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "%s: the io process failed\n", who);
        ok = 0;
    }
    if (be != NULL) {
        ok = check(ttrt_backend_finish(be), "ttrt_backend_finish") && ok;
        ttrt_backend_free(be);
    }
    return ok;
}

int main(int argc, char **argv) {
    static uint64_t want[MAX_LOOPS][MAX_OUTPUTS];
    ttrt_image *img = NULL;
    unsigned loops;
    int pipe_fds[2];
    pid_t io;
    int ok;

    if (argc != 4 || atoi(argv[3]) < 1 || atoi(argv[3]) > MAX_LOOPS) {
        fprintf(stderr, "usage: io_runtime_split IMAGE.tti shm:NAME LOOPS (1..%d)\n", MAX_LOOPS);
        return 2;
    }
    loops = (unsigned)atoi(argv[3]);
    if (!check(ttrt_image_open(argv[1], &img), "ttrt_image_open")) {
        return 1;
    }
    if (ttrt_image_output_count(img) > MAX_OUTPUTS) {
        fprintf(stderr, "%s: more than %d outputs\n", who, MAX_OUTPUTS);
        ttrt_image_free(img);
        return 1;
    }
    if (!single_process(img, loops, want)) {
        ttrt_image_free(img);
        return 1;
    }
    if (pipe(pipe_fds) != 0) {
        perror("pipe");
        ttrt_image_free(img);
        return 1;
    }
    fflush(stdout);
    io = fork();
    if (io < 0) {
        perror("fork");
        ttrt_image_free(img);
        return 1;
    }
    if (io == 0) {
        who = "io_runtime_split (io process)";
        close(pipe_fds[0]);
        ok = io_process(img, argv[2], loops, pipe_fds[1], want);
        ttrt_image_free(img);
        _exit(ok ? 0 : 1);
    }
    who = "io_runtime_split (runtime process)";
    close(pipe_fds[1]);
    ok = runtime_process(img, argv[2], loops, pipe_fds[0], io);
    if (ok) {
        printf("%u loops, %zu outputs each: the io process's outputs equal the single process "
               "run's\n",
               loops, (size_t)ttrt_image_output_count(img));
    }
    ttrt_image_free(img);
    return ok ? 0 : 1;
}
