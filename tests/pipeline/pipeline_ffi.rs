//! The pipeline's C API (`ttrt_pipeline_*`, DESIGN.md §4) called as a C program calls it: the
//! model is an `extern "C"` callback that runs device ops through the C API. Upstream's matrix,
//! the config errors with their statuses and texts, the callback's ownership rules, NULLs and
//! freed handles, and the persistent DRAM memory-config utility.

use std::ffi::{c_void, CStr};
use std::ptr;

use ttrt::ffi::device::*;
use ttrt::ffi::error::ttrt_last_error_message;
use ttrt::ffi::pipeline::*;
use ttrt::ffi::status::ttrt_status;
use ttrt::ffi::tensor::*;

fn last_error() -> String {
    // SAFETY: never NULL, valid until the next failure on this thread.
    unsafe { CStr::from_ptr(ttrt_last_error_message()) }
        .to_string_lossy()
        .into_owned()
}

#[track_caller]
fn ok(st: ttrt_status) {
    assert_eq!(st, ttrt_status::Success, "{}", last_error());
}

#[track_caller]
fn fails(st: ttrt_status, status: ttrt_status, text: &str) {
    assert_eq!(st, status, "{}", last_error());
    assert_eq!(last_error(), text);
}

fn open(cqs: u32) -> *mut ttrt_device {
    unsafe {
        let mut cfg = std::mem::zeroed::<ttrt_device_config>();
        ttrt_device_config_default(&mut cfg);
        cfg.num_command_queues = cqs;
        cfg.trace_region_size = 32768;
        cfg.l1_small_size = 16384;
        let mut dev = ptr::null_mut();
        ok(ttrt_device_open(&cfg, &mut dev));
        dev
    }
}

fn config(use_trace: bool, cqs: u32, separate: bool) -> ttrt_pipeline_config {
    unsafe {
        let mut c = std::mem::zeroed::<ttrt_pipeline_config>();
        ttrt_pipeline_config_default(&mut c);
        c.use_trace = use_trace;
        c.num_command_queues = cqs;
        c.all_transfers_on_separate_command_queue = separate;
        c
    }
}

/// The five configs in upstream's order.
fn configs() -> [(&'static str, ttrt_pipeline_config); 5] {
    [
        ("ModelExecutor", config(false, 1, false)),
        ("TracedModelExecutor", config(true, 1, false)),
        (
            "MultiCQModelOverlappedInputExecutor",
            config(false, 2, false),
        ),
        (
            "MultiCQTracedModelOverlappedInputExecutor",
            config(true, 2, false),
        ),
        (
            "MultiCQTracedModelPipelinedIOExecutor",
            config(true, 2, true),
        ),
    ]
}

fn height_sharded(
    buffer_type: ttrt_buffer_type,
    shape: [u32; 4],
    cores: u32,
) -> ttrt_memory_config {
    ttrt_memory_config {
        buffer_type: buffer_type as u32,
        memory_layout: ttrt_memory_layout::HeightSharded as u32,
        shard: ttrt_shard_spec {
            grid: ttrt_core_range {
                start_x: 0,
                start_y: 0,
                end_x: cores - 1,
                end_y: 0,
            },
            shape: [shape[2] / cores, shape[3]],
            orientation: ttrt_shard_orientation::RowMajor as u32,
        },
    }
}

/// What the callbacks do, chosen by their user pointer.
#[derive(Clone, Copy, PartialEq)]
enum Behaviour {
    Relu,
    Identity,
    /// Relu, then deallocates its input (allowed).
    ReluThenDeallocateInput,
    /// Relu, then frees its input's handle (not allowed, but not a crash).
    ReluThenFreeInput,
    /// Returns its input.
    Echo,
    /// Succeeds without an output.
    NoOutput,
    /// Calls an op with a bad argument and returns its status.
    Fails,
    /// Calls enqueue on its own pipeline (stored in `pipeline`).
    Reenters,
    /// Calls ttrt_pipeline_free on its own pipeline.
    FreesItsPipeline,
    /// Returns a failure status without calling anything that fails.
    FailsWithoutText,
    /// Returns a tensor of another device opened with the same device_id (kept in `other`).
    ReturnsAnotherDevicesTensor,
}

struct User {
    behaviour: Behaviour,
    pipeline: *mut ttrt_pipeline,
    calls: usize,
    /// What the reentrant call returned, and its text.
    nested: Option<(ttrt_status, String)>,
    /// The second device of ReturnsAnotherDevicesTensor.
    other: *mut ttrt_device,
}

impl User {
    fn new(behaviour: Behaviour) -> Box<User> {
        Box::new(User {
            behaviour,
            pipeline: ptr::null_mut(),
            calls: 0,
            nested: None,
            other: ptr::null_mut(),
        })
    }
}

unsafe extern "C" fn model(
    user: *mut c_void,
    dev: *mut ttrt_device,
    cq: u8,
    input: *mut ttrt_tensor,
    output: *mut *mut ttrt_tensor,
) -> u32 {
    let user = &mut *(user as *mut User);
    user.calls += 1;
    // The input's own memory config: L1, height-sharded.
    let l1 = ttrt_memory_config {
        buffer_type: ttrt_buffer_type::L1 as u32,
        memory_layout: ttrt_memory_layout::Interleaved as u32,
        shard: ttrt_shard_spec::default(),
    };
    let op = match user.behaviour {
        Behaviour::Identity => ttrt_unary_op::Identity,
        _ => ttrt_unary_op::Relu,
    };
    match user.behaviour {
        Behaviour::Echo => {
            *output = input;
            return ttrt_status::Success as u32;
        }
        Behaviour::NoOutput => return ttrt_status::Success as u32,
        Behaviour::Fails => {
            let mut out = ptr::null_mut();
            return ttrt_op_unary(dev, cq, 99, input, &l1, &mut out) as u32;
        }
        Behaviour::Reenters => {
            let st = ttrt_pipeline_enqueue(user.pipeline, ptr::null(), 0);
            user.nested = Some((st, last_error()));
        }
        Behaviour::FreesItsPipeline => {
            ttrt_pipeline_free(user.pipeline);
            user.nested = Some((ttrt_status::Success, last_error()));
        }
        Behaviour::FailsWithoutText => return ttrt_status::RuntimeError as u32,
        Behaviour::ReturnsAnotherDevicesTensor => {
            if user.other.is_null() {
                user.other = open(1);
            }
            let spec = ttrt_tensor_spec {
                shape: [1, 1, 32, 32],
                format: 5, // Float16_b
                layout: ttrt_tensor_layout::Tile as u32,
            };
            let dram = ttrt_memory_config {
                buffer_type: ttrt_buffer_type::Dram as u32,
                memory_layout: ttrt_memory_layout::Interleaved as u32,
                shard: ttrt_shard_spec::default(),
            };
            return ttrt_allocate_tensor_on_device(user.other, &spec, &dram, output) as u32;
        }
        _ => {}
    }
    let st = ttrt_op_unary(dev, cq, op as u32, input, &l1, output);
    if st != ttrt_status::Success {
        return st as u32;
    }
    match user.behaviour {
        Behaviour::ReluThenDeallocateInput => ttrt_tensor_deallocate(input, true) as u32,
        Behaviour::ReluThenFreeInput => {
            ttrt_tensor_free(input);
            ttrt_status::Success as u32
        }
        _ => ttrt_status::Success as u32,
    }
}

struct Rng(u64);

impl Rng {
    fn bf16(&mut self) -> u16 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        let r = self.0;
        (((r & 1) as u16) << 15) | ((0x78 + (r >> 1) as u16 % 9) << 7) | ((r >> 8) as u16 & 0x7f)
    }
}

fn host(bits: &mut [u16], shape: [u32; 4]) -> ttrt_host_tensor {
    ttrt_host_tensor {
        data: bits.as_mut_ptr().cast(),
        size: bits.len() * 2,
        shape,
        format: 5, // Float16_b
        layout: ttrt_tensor_layout::RowMajor as u32,
    }
}

fn relu(b: u16) -> u16 {
    if f32::from_bits((b as u32) << 16) >= 0.0 {
        b
    } else {
        0
    }
}

/// Pops and compares with `expected`, output by output, bit for bit.
unsafe fn pop_and_check(p: *mut ttrt_pipeline, expected: &[Vec<u16>], what: &str) {
    let (mut outs, mut n) = (ptr::null(), 0usize);
    ok(ttrt_pipeline_pop_all(p, &mut outs, &mut n));
    assert_eq!(n, expected.len(), "{what}");
    let outs = std::slice::from_raw_parts(outs, n);
    for (i, (o, want)) in outs.iter().zip(expected).enumerate() {
        assert_eq!(
            (o.format, o.layout, o.shape[2] * o.shape[3], o.size),
            (
                5,
                ttrt_tensor_layout::RowMajor as u32,
                want.len() as u32,
                want.len() * 2
            ),
            "{what}: output {i}"
        );
        let got = std::slice::from_raw_parts(o.data as *const u16, want.len());
        assert!(got == &want[..], "{what}: output {i} differs");
    }
}

#[test]
fn upstream_matrix_through_the_c_api() {
    let mut rng = Rng(0x1234_5678);
    for (name, cfg) in configs() {
        for (shape, dram_cores, l1_cores) in [([1u32, 1, 32, 32], 1, 1), ([1, 1, 512, 64], 4, 8)] {
            for behaviour in [Behaviour::Relu, Behaviour::Identity] {
                unsafe {
                    let dev = open(2);
                    let dram = height_sharded(ttrt_buffer_type::Dram, shape, dram_cores);
                    let l1 = height_sharded(ttrt_buffer_type::L1, shape, l1_cores);
                    let mut user = User::new(behaviour);
                    let mut p = ptr::null_mut();
                    ok(ttrt_pipeline_create(
                        dev,
                        &cfg,
                        Some(model),
                        (&mut *user as *mut User).cast(),
                        &l1,
                        &dram,
                        &dram,
                        &mut p,
                    ));
                    assert_eq!(CStr::from_ptr(ttrt_pipeline_executor(p)).to_str(), Ok(name));
                    let n = (shape[2] * shape[3]) as usize;
                    let round = |rng: &mut Rng| {
                        let mut data = Vec::new();
                        let mut expected = Vec::new();
                        for _ in 0..32 {
                            let bits: Vec<u16> = (0..n).map(|_| rng.bf16()).collect();
                            expected.push(match behaviour {
                                Behaviour::Identity => bits.clone(),
                                _ => bits.iter().map(|&b| relu(b)).collect(),
                            });
                            data.push(bits);
                        }
                        (data, expected)
                    };
                    let what = format!("{name} {shape:?}");
                    let (mut data, _) = round(&mut rng);
                    ok(ttrt_pipeline_compile(p, &host(&mut data[0], shape)));
                    // Traced: the warm-up and the capture. Otherwise: the warm-up.
                    let compile_calls = if cfg.use_trace { 2 } else { 1 };
                    assert_eq!(user.calls, compile_calls, "{what}");
                    for prealloc in [false, true] {
                        if prealloc {
                            ok(ttrt_pipeline_preallocate_output_tensors_on_host(p, 32));
                        }
                        for _ in 0..2 {
                            let (mut data, expected) = round(&mut rng);
                            let inputs: Vec<ttrt_host_tensor> =
                                data.iter_mut().map(|d| host(d, shape)).collect();
                            ok(ttrt_pipeline_enqueue(p, inputs.as_ptr(), inputs.len()));
                            // The inputs' bytes were copied: overwriting them changes nothing.
                            for d in &mut data {
                                d.fill(0x7fc0);
                            }
                            pop_and_check(p, &expected, &what);
                        }
                    }
                    let per_input = if cfg.use_trace { 0 } else { 4 * 32 };
                    assert_eq!(user.calls, compile_calls + per_input, "{what}: model calls");
                    ok(ttrt_pipeline_cleanup(p));
                    ttrt_pipeline_free(p);
                    ok(ttrt_device_close(dev));
                }
            }
        }
    }
}

#[test]
fn config_errors_through_the_c_api() {
    unsafe {
        let dev = open(2);
        let shape = [1, 1, 32, 32];
        let dram = height_sharded(ttrt_buffer_type::Dram, shape, 1);
        let l1 = height_sharded(ttrt_buffer_type::L1, shape, 1);
        let mut user = User::new(Behaviour::Relu);
        let u: *mut c_void = (&mut *user as *mut User).cast();
        let mut p = ptr::null_mut();
        let create = |cfg: *const ttrt_pipeline_config,
                      dram_in: *const ttrt_memory_config,
                      dram_out: *const ttrt_memory_config,
                      p: &mut *mut ttrt_pipeline| {
            ttrt_pipeline_create(dev, cfg, Some(model), u, &l1, dram_in, dram_out, p)
        };
        let invalid = ttrt_status::InvalidArgument;
        fails(
            create(&config(true, 1, false), ptr::null(), &dram, &mut p),
            invalid,
            "ttrt_pipeline_create: dram_input_memory_config must be provided when using trace \
             (use_trace=True)",
        );
        fails(
            create(&config(false, 2, false), ptr::null(), &dram, &mut p),
            invalid,
            "ttrt_pipeline_create: dram_input_memory_config must be provided when using \
             multi-CQ executor",
        );
        fails(
            create(&config(false, 2, true), &dram, &dram, &mut p),
            invalid,
            "ttrt_pipeline_create: Pipelined I/O (all_transfers_on_separate_command_queue) \
             requires tracing",
        );
        fails(
            create(&config(true, 2, true), &dram, ptr::null(), &mut p),
            invalid,
            "ttrt_pipeline_create: dram_output_memory_config must be provided when \
             all_transfers_on_separate_command_queue=True.",
        );
        fails(
            create(&config(true, 3, false), &dram, &dram, &mut p),
            ttrt_status::Unsupported,
            "ttrt_pipeline_create: Unsupported pipeline configuration: PipelineConfig(use_trace: \
             True, num_command_queues: 3, all_transfers_on_separate_command_queue: False)",
        );
        fails(
            create(&config(true, 300, false), &dram, &dram, &mut p),
            invalid,
            "ttrt_pipeline_create: argument `cfg->num_command_queues` is 300, allowed: 1 or 2",
        );
        assert!(p.is_null(), "nothing is written on failure");
        // A config from a caller that did not call the initializer.
        let mut old = config(true, 1, false);
        old.struct_size = 8;
        fails(
            create(&old, &dram, &dram, &mut p),
            invalid,
            "ttrt_pipeline_create: argument `cfg` has struct_size 8, expected at least 16 \
             (initialize it with its *_default() function)",
        );
        // NULL config: upstream's defaults (trace, one CQ).
        ok(create(ptr::null(), &dram, ptr::null(), &mut p));
        ttrt_pipeline_free(p);
        // NULLs where something is required.
        fails(
            ttrt_pipeline_create(dev, ptr::null(), None, u, &l1, &dram, &dram, &mut p),
            invalid,
            "ttrt_pipeline_create: argument `model` is NULL",
        );
        fails(
            ttrt_pipeline_create(
                dev,
                ptr::null(),
                Some(model),
                u,
                ptr::null(),
                &dram,
                &dram,
                &mut p,
            ),
            invalid,
            "ttrt_pipeline_create: argument `l1_input` is NULL",
        );
        fails(
            ttrt_pipeline_create(
                ptr::null_mut(),
                ptr::null(),
                Some(model),
                u,
                &l1,
                &dram,
                &dram,
                &mut p,
            ),
            invalid,
            "ttrt_pipeline_create: argument `dev` is NULL",
        );
        // A device with one CQ and a 2-CQ config.
        let one = open(1);
        fails(
            ttrt_pipeline_create(
                one,
                &config(true, 2, false),
                Some(model),
                u,
                &l1,
                &dram,
                &dram,
                &mut p,
            ),
            invalid,
            "ttrt_pipeline_create: the pipeline needs 2 command queues but device 0 was opened \
             with 1 (num_command_queues)",
        );
        ok(ttrt_device_close(one));
        ok(ttrt_device_close(dev));
    }
}

/// A pipeline with `behaviour` on a fresh device, compiled unless the compile fails: the
/// device, the pipeline, the user data and what compile returned.
unsafe fn pipeline_with(
    behaviour: Behaviour,
    cfg: ttrt_pipeline_config,
) -> (
    *mut ttrt_device,
    *mut ttrt_pipeline,
    Box<User>,
    ttrt_status,
    Vec<u16>,
) {
    let dev = open(2);
    let shape = [1, 1, 32, 32];
    let dram = height_sharded(ttrt_buffer_type::Dram, shape, 1);
    let l1 = height_sharded(ttrt_buffer_type::L1, shape, 1);
    let mut user = User::new(behaviour);
    let mut p = ptr::null_mut();
    ok(ttrt_pipeline_create(
        dev,
        &cfg,
        Some(model),
        (&mut *user as *mut User).cast(),
        &l1,
        &dram,
        &dram,
        &mut p,
    ));
    user.pipeline = p;
    let mut bits: Vec<u16> = (0..32 * 32)
        .map(|i| (0x3f80 + i as u16 % 64) ^ ((i as u16 & 1) << 15))
        .collect();
    let st = ttrt_pipeline_compile(p, &host(&mut bits, shape));
    (dev, p, user, st, bits)
}

/// A model that fails without a failing ttrt call has no error text of its own: the text says
/// so, rather than repeating an older failure of the thread. A tensor of another device with
/// the same id is told apart from this device.
#[test]
fn a_failing_model_and_a_foreign_tensor_get_texts_of_their_own() {
    let (_, cfg) = configs()[0];
    unsafe {
        // An unrelated, earlier failure on this thread.
        assert_eq!(
            ttrt_finish(ptr::null_mut(), 0),
            ttrt_status::InvalidArgument
        );
        let (dev, p, _user, st, _) = pipeline_with(Behaviour::FailsWithoutText, cfg);
        fails(
            st,
            ttrt_status::RuntimeError,
            "ttrt_pipeline_compile: the model failed: the model callback returned \
             TTRT_STATUS_RUNTIME_ERROR (1) and no ttrt call inside it failed, so there is no \
             error text",
        );
        ttrt_pipeline_free(p);
        ok(ttrt_device_close(dev));

        let (dev, p, user, st, _) = pipeline_with(Behaviour::ReturnsAnotherDevicesTensor, cfg);
        fails(
            st,
            ttrt_status::InvalidArgument,
            "ttrt_pipeline_compile: the model failed: `*output` is a tensor of another open \
             device that also has device_id 0, not of this one",
        );
        ttrt_pipeline_free(p);
        ok(ttrt_device_close(dev));
        ok(ttrt_device_close(user.other));
    }
}

#[test]
fn the_model_callbacks_ownership_rules() {
    for (_, cfg) in configs() {
        unsafe {
            // Deallocating the input is allowed, in every executor.
            let (dev, p, _user, st, mut x) = pipeline_with(Behaviour::ReluThenDeallocateInput, cfg);
            ok(st);
            let inputs = [host(&mut x, [1, 1, 32, 32]), host(&mut x, [1, 1, 32, 32])];
            ok(ttrt_pipeline_enqueue(p, inputs.as_ptr(), 2));
            pop_and_check(
                p,
                &[
                    x.iter().map(|&b| relu(b)).collect(),
                    x.iter().map(|&b| relu(b)).collect(),
                ],
                "deallocates input",
            );
            ttrt_pipeline_free(p);
            ok(ttrt_device_close(dev));

            // Freeing its handle is not allowed but reported as a deallocation, not a crash.
            let (dev, p, _user, st, mut x) = pipeline_with(Behaviour::ReluThenFreeInput, cfg);
            ok(st);
            let inputs = [host(&mut x, [1, 1, 32, 32]), host(&mut x, [1, 1, 32, 32])];
            ok(ttrt_pipeline_enqueue(p, inputs.as_ptr(), 2));
            let (mut outs, mut n) = (ptr::null(), 0);
            ok(ttrt_pipeline_pop_all(p, &mut outs, &mut n));
            assert_eq!(n, 2);
            ttrt_pipeline_free(p);
            ok(ttrt_device_close(dev));

            // Returning the input, or no output.
            let (dev, p, _user, st, _) = pipeline_with(Behaviour::Echo, cfg);
            fails(
                st,
                ttrt_status::InvalidArgument,
                "ttrt_pipeline_compile: the model failed: the model returned its input tensor; it \
                 must return a new tensor (an identity model runs an identity op)",
            );
            ttrt_pipeline_free(p);
            ok(ttrt_device_close(dev));
            let (dev, p, _user, st, _) = pipeline_with(Behaviour::NoOutput, cfg);
            fails(
                st,
                ttrt_status::InvalidArgument,
                "ttrt_pipeline_compile: the model failed: argument `*output` is NULL",
            );
            ttrt_pipeline_free(p);
            ok(ttrt_device_close(dev));

            // A failing model: its status and its text.
            let (dev, p, _user, st, _) = pipeline_with(Behaviour::Fails, cfg);
            fails(
                st,
                ttrt_status::InvalidArgument,
                "ttrt_pipeline_compile: the model failed: the model callback returned \
                 TTRT_STATUS_INVALID_ARGUMENT: ttrt_op_unary: argument `op` is 99, allowed: a \
                 ttrt_unary_op (0..11)",
            );
            // The failed compile left the pipeline uncompiled.
            fails(
                ttrt_pipeline_preallocate_output_tensors_on_host(p, 1),
                ttrt_status::InvalidState,
                "ttrt_pipeline_preallocate_output_tensors_on_host: Pipeline must be compiled \
                 before pre-allocating output tensors.",
            );
            ttrt_pipeline_free(p);
            ok(ttrt_device_close(dev));

            // The callback cannot call into its own pipeline, nor free it.
            let (dev, p, user, st, _) = pipeline_with(Behaviour::Reenters, cfg);
            ok(st);
            let (nested, text) = user.nested.clone().unwrap();
            assert_eq!(nested, ttrt_status::InvalidState);
            assert_eq!(
                text,
                "ttrt_pipeline_enqueue: the pipeline is in use by another call (a pipeline is used \
                 by one thread at a time, and not from its own model callback)"
            );
            ttrt_pipeline_free(p);
            ok(ttrt_device_close(dev));
            let (dev, p, user, st, _) = pipeline_with(Behaviour::FreesItsPipeline, cfg);
            ok(st);
            assert_eq!(
                user.nested.clone().unwrap().1,
                "ttrt_pipeline_free: the pipeline is in use (called from its model callback?); it \
                 was not freed"
            );
            ok(ttrt_pipeline_cleanup(p));
            ttrt_pipeline_free(p);
            ok(ttrt_device_close(dev));
        }
    }
}

#[test]
fn call_order_nulls_and_freed_handles() {
    unsafe {
        let (dev, p, _user, st, mut x) = pipeline_with(Behaviour::Relu, config(true, 2, true));
        ok(st);
        let shape = [1, 1, 32, 32];
        let one = [host(&mut x, shape)];
        fails(
            ttrt_pipeline_enqueue(p, one.as_ptr(), 1),
            ttrt_status::InvalidArgument,
            "ttrt_pipeline_enqueue: n is 1: the Pipelined I/O executor requires at least 2 inputs \
             for pipelining",
        );
        fails(
            ttrt_pipeline_enqueue(p, ptr::null(), 2),
            ttrt_status::InvalidArgument,
            "ttrt_pipeline_enqueue: argument `inputs` is NULL",
        );
        ok(ttrt_pipeline_preallocate_output_tensors_on_host(p, 3));
        let mut xs: Vec<Vec<u16>> = (0..4).map(|_| x.clone()).collect();
        let four: Vec<ttrt_host_tensor> = xs.iter_mut().map(|d| host(d, shape)).collect();
        fails(
            ttrt_pipeline_enqueue(p, four.as_ptr(), 4),
            ttrt_status::InvalidArgument,
            "ttrt_pipeline_enqueue: Number of inputs (4) exceeds the number of pre-allocated \
             output slots (3).",
        );
        let mut bad = four.clone();
        bad[1].layout = 7;
        fails(
            ttrt_pipeline_enqueue(p, bad.as_ptr(), 2),
            ttrt_status::InvalidArgument,
            "ttrt_pipeline_enqueue: argument `inputs[1]->layout` is 7, allowed: a \
             ttrt_tensor_layout (0..1)",
        );
        bad[1].layout = 1;
        bad[1].shape = [1, 1, 16, 64];
        fails(
            ttrt_pipeline_enqueue(p, bad.as_ptr(), 2),
            ttrt_status::InvalidArgument,
            "ttrt_pipeline_enqueue: input 1: shape is [1, 1, 16, 64], but the pipeline was \
             compiled for [1, 1, 32, 32]",
        );
        bad[1].shape = shape;
        bad[1].data = ptr::null_mut();
        fails(
            ttrt_pipeline_enqueue(p, bad.as_ptr(), 2),
            ttrt_status::InvalidArgument,
            "ttrt_pipeline_enqueue: input 1: data is NULL",
        );
        let mut n = 0usize;
        fails(
            ttrt_pipeline_pop_all(p, ptr::null_mut(), &mut n),
            ttrt_status::InvalidArgument,
            "ttrt_pipeline_pop_all: argument `outputs` is NULL",
        );
        ok(ttrt_pipeline_enqueue(p, four.as_ptr(), 3));
        pop_and_check(
            p,
            &vec![x.iter().map(|&b| relu(b)).collect(); 3],
            "3 of 3 slots",
        );
        ok(ttrt_pipeline_cleanup(p));
        fails(
            ttrt_pipeline_enqueue(p, four.as_ptr(), 2),
            ttrt_status::InvalidState,
            "ttrt_pipeline_enqueue: enqueue after cleanup: the pipeline's trace and device \
             tensors are released",
        );
        ttrt_pipeline_free(p);
        fails(
            ttrt_pipeline_cleanup(p),
            ttrt_status::InvalidArgument,
            "ttrt_pipeline_cleanup: argument `p` is a ttrt_pipeline that has already been freed",
        );
        fails(
            ttrt_pipeline_compile(dev.cast(), one.as_ptr()),
            ttrt_status::InvalidArgument,
            "ttrt_pipeline_compile: argument `p` is not a ttrt_pipeline (it is a handle of \
             another type)",
        );
        ttrt_pipeline_free(ptr::null_mut());
        assert!(ttrt_pipeline_executor(p).is_null());
        assert_eq!(
            last_error(),
            "ttrt_pipeline_executor: argument `p` is a ttrt_pipeline that has already been freed"
        );

        // A pipeline outliving its device: calls say the device is closed; free still works.
        let (dev2, p2, _user2, st, _) = pipeline_with(Behaviour::Relu, config(true, 1, false));
        ok(st);
        ok(ttrt_device_close(dev2));
        fails(
            ttrt_pipeline_enqueue(p2, one.as_ptr(), 1),
            ttrt_status::InvalidState,
            "ttrt_pipeline_enqueue: device 0 is closed",
        );
        ttrt_pipeline_free(p2);
        ok(ttrt_device_close(dev));
    }
}

/// `n = 0` names `n` and what every executor needs, rather than the pipelined-IO executor's
/// rule; a refused enqueue leaves the pipeline usable (one input then goes through).
#[test]
fn enqueue_of_no_inputs_names_n_for_every_executor() {
    for (name, cfg) in configs() {
        unsafe {
            let (dev, p, _user, st, mut x) = pipeline_with(Behaviour::Relu, cfg);
            ok(st);
            let pipelined_io = cfg.all_transfers_on_separate_command_queue;
            let expected = if pipelined_io {
                "ttrt_pipeline_enqueue: n is 0: the Pipelined I/O executor requires at least 2 \
                 inputs for pipelining"
            } else {
                "ttrt_pipeline_enqueue: n is 0: enqueue needs at least one input"
            };
            let st = ttrt_pipeline_enqueue(p, ptr::null(), 0);
            assert_eq!(
                (st, last_error().as_str()),
                (ttrt_status::InvalidArgument, expected),
                "{name}"
            );
            let shape = [1, 1, 32, 32];
            let expected: Vec<u16> = x.iter().map(|&b| relu(b)).collect();
            let mut y = x.clone();
            let two = [host(&mut x, shape), host(&mut y, shape)];
            let n = if pipelined_io { 2 } else { 1 };
            ok(ttrt_pipeline_enqueue(p, two.as_ptr(), n));
            pop_and_check(p, &vec![expected; n], name);
            ttrt_pipeline_free(p);
            ok(ttrt_device_close(dev));
        }
    }
}

#[test]
fn persistent_dram_memory_config_through_the_c_api() {
    unsafe {
        let shape = [1u32, 1, 64, 64];
        let mut m = ttrt_memory_config::default();
        ok(ttrt_memory_config_for_persistent_dram_tensor(
            shape.as_ptr(),
            ttrt_memory_layout::WidthSharded as u32,
            2,
            1,
            &mut m,
        ));
        assert_eq!(
            (m.buffer_type, m.memory_layout, m.shard.shape),
            (
                ttrt_buffer_type::Dram as u32,
                ttrt_memory_layout::WidthSharded as u32,
                [64, 32]
            )
        );
        ok(ttrt_memory_config_for_persistent_dram_tensor(
            shape.as_ptr(),
            ttrt_memory_layout::HeightSharded as u32,
            2,
            1,
            &mut m,
        ));
        assert_eq!(
            (m.memory_layout, m.shard.shape),
            (ttrt_memory_layout::HeightSharded as u32, [32, 64])
        );
        fails(
            ttrt_memory_config_for_persistent_dram_tensor(
                shape.as_ptr(),
                ttrt_memory_layout::WidthSharded as u32,
                2,
                2,
                &mut m,
            ),
            ttrt_status::InvalidArgument,
            "ttrt_memory_config_for_persistent_dram_tensor: only a 1D DRAM grid is supported \
             (dram_grid_y must be 1): expected 2 x 1, found 2 x 2",
        );
    }
}

/// The DRAM grid is the chip's row of DRAM banks: no supported chip has more than 8 (Grayskull
/// and Blackhole; Wormhole B0 has 6), so wider grids and empty ones are refused, and a grid as
/// wide as the widest chip is fine.
#[test]
fn persistent_dram_memory_config_refuses_grids_no_chip_has() {
    unsafe {
        let shape = [1u32, 1, 64, 64];
        let mut m = ttrt_memory_config::default();
        ok(ttrt_memory_config_for_persistent_dram_tensor(
            shape.as_ptr(),
            ttrt_memory_layout::WidthSharded as u32,
            8,
            1,
            &mut m,
        ));
        assert_eq!((m.shard.grid.end_x, m.shard.shape), (7, [64, 8]));
        for x in [0, 9, 12, u32::MAX] {
            let before = m;
            fails(
                ttrt_memory_config_for_persistent_dram_tensor(
                    shape.as_ptr(),
                    ttrt_memory_layout::HeightSharded as u32,
                    x,
                    1,
                    &mut m,
                ),
                ttrt_status::InvalidArgument,
                &format!(
                    "ttrt_memory_config_for_persistent_dram_tensor: dram_grid_x is {x}: it must \
                     be 1 to 8 (the most DRAM banks of any supported chip)"
                ),
            );
            assert_eq!(m, before, "a refused grid leaves out_mem alone");
        }
        for y in [0, u32::MAX] {
            fails(
                ttrt_memory_config_for_persistent_dram_tensor(
                    shape.as_ptr(),
                    ttrt_memory_layout::WidthSharded as u32,
                    u32::MAX,
                    y,
                    &mut m,
                ),
                ttrt_status::InvalidArgument,
                &format!(
                    "ttrt_memory_config_for_persistent_dram_tensor: only a 1D DRAM grid is \
                     supported (dram_grid_y must be 1): expected {0} x 1, found {0} x {y}",
                    u32::MAX
                ),
            );
        }
    }
}
