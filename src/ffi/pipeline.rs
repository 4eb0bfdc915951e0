//! `ttrt_pipeline`: TT-CNN pipelines (`create_pipeline_from_config`, `compile`, `enqueue`,
//! `pop_all`, `preallocate_output_tensors_on_host`, `cleanup`) with the model as a C callback.
//!
//! A pipeline is used by one thread at a time: a call made while another is inside a call on
//! the same pipeline (including from the model callback) is refused, not blocked. Cleanup and
//! free from another thread instead end that call (a pop_all waiting for the device returns
//! `TTRT_STATUS_CANCELLED`) and then proceed.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::cell::UnsafeCell;
use core::ffi::{c_char, c_void};
use core::ops::Deref;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::boundary::{arg, call, check_len, guard, out};
use super::device::{device, ttrt_device, Shared};
use super::error::{ArgError, CallError};
use super::handle::{Borrow, Handle, HandleTable};
use super::status::ttrt_status;
use super::tensor::{
    host_of, lend_tensor, memory_of, take_tensor, ttrt_host_tensor, ttrt_memory_config, ttrt_tensor,
};
use crate::hal::select::AnyChip;
use crate::pipeline::{ExecutorKind, MemoryConfigs, Model, Pipeline, PipelineConfig};
use crate::runtime::{Device, ErrorKind, HostBuffer, RuntimeError, Tensor, WaitCancel};

/// A TT-CNN pipeline (opaque). One thread at a time uses a pipeline: a call made while another
/// call on the same pipeline is in progress (on another thread, or from its model callback)
/// fails with `TTRT_STATUS_INVALID_STATE`, except `ttrt_pipeline_cleanup` and
/// `ttrt_pipeline_free` from another thread, which end that call first (see them).
pub struct ttrt_pipeline {
    _private: [u8; 0],
}

/// How `ttrt_pipeline_create` chooses the executor. Initialize with
/// `ttrt_pipeline_config_default`.
///
/// | use_trace | num_command_queues | all_transfers_on_separate_command_queue | executor |
/// |---|---|---|---|
/// | false | 1 | false | ModelExecutor |
/// | true | 1 | false | TracedModelExecutor |
/// | false | 2 | false | MultiCQModelOverlappedInputExecutor |
/// | true | 2 | false | MultiCQTracedModelOverlappedInputExecutor |
/// | true | 2 | true | MultiCQTracedModelPipelinedIOExecutor |
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ttrt_pipeline_config {
    /// `sizeof(ttrt_pipeline_config)`.
    pub struct_size: u32,
    /// Capture the model once and replay the trace for every input. Default true.
    pub use_trace: bool,
    /// 1, or 2 (input writes on CQ 1). The device must have as many. Default 1.
    pub num_command_queues: u32,
    /// With 2 CQs and trace: CQ 0 runs ops only, CQ 1 does every transfer (needs
    /// `dram_output`). Default false.
    pub all_transfers_on_separate_command_queue: bool,
}

/// The config as read from C memory: bools as bytes, so that any byte value is defined.
#[repr(C)]
#[derive(Clone, Copy)]
struct RawConfig {
    struct_size: u32,
    use_trace: u8,
    num_command_queues: u32,
    all_transfers_on_separate_command_queue: u8,
}

static_assertions::assert_eq_size!(ttrt_pipeline_config, [u32; 4]);
static_assertions::assert_eq_size!(RawConfig, ttrt_pipeline_config);
static_assertions::const_assert_eq!(
    core::mem::offset_of!(ttrt_pipeline_config, use_trace),
    core::mem::offset_of!(RawConfig, use_trace)
);
static_assertions::const_assert_eq!(
    core::mem::offset_of!(ttrt_pipeline_config, num_command_queues),
    core::mem::offset_of!(RawConfig, num_command_queues)
);
static_assertions::const_assert_eq!(
    core::mem::offset_of!(
        ttrt_pipeline_config,
        all_transfers_on_separate_command_queue
    ),
    core::mem::offset_of!(RawConfig, all_transfers_on_separate_command_queue)
);
static_assertions::const_assert_eq!(
    core::mem::offset_of!(
        ttrt_pipeline_config,
        all_transfers_on_separate_command_queue
    ),
    12
);

/// The model: enqueues device ops on command queue `cq` of `dev` that read `input` (an L1
/// tensor the pipeline made from the current input) and stores a new output tensor in
/// `*output`. Returns a `ttrt_status` (`TTRT_STATUS_SUCCESS`, or a failure: the pipeline call
/// then fails with that status and the model's last error text).
///
/// Ownership: `input` belongs to the pipeline and is valid only during the call. The model may
/// deallocate it (`ttrt_tensor_deallocate`, as TT-NN models do after their first op) but must
/// not free the handle. `*output` passes to the pipeline, which frees it; it must be a new
/// tensor of `dev` (an identity model runs an identity op). `user` is the pointer given to
/// `ttrt_pipeline_create`.
///
/// When it is called: on the thread calling `ttrt_pipeline_compile` or `ttrt_pipeline_enqueue`.
/// Traced pipelines call it twice at compile (a warm-up, then the trace capture) and never
/// again; during the capture it may only enqueue device ops and allocate or deallocate
/// tensors. The other executors call it once per input. It must not call functions of its own
/// pipeline.
pub type ttrt_model_fn = Option<
    unsafe extern "C" fn(
        user: *mut c_void,
        dev: *mut ttrt_device,
        cq: u8,
        input: *mut ttrt_tensor,
        output: *mut *mut ttrt_tensor,
    ) -> u32,
>;

type ModelFn = unsafe extern "C" fn(
    *mut c_void,
    *mut ttrt_device,
    u8,
    *mut ttrt_tensor,
    *mut *mut ttrt_tensor,
) -> u32;

/// The C callback as a [`Model`].
struct CModel {
    f: ModelFn,
    user: *mut c_void,
    dev: *mut ttrt_device,
    shared: Arc<Shared>,
}

fn kind_of(status: u32) -> ErrorKind {
    match ttrt_status::from_u32(status) {
        Some(ttrt_status::InvalidArgument) => ErrorKind::InvalidArgument,
        Some(ttrt_status::InvalidState) => ErrorKind::InvalidState,
        Some(ttrt_status::OutOfMemory) => ErrorKind::OutOfMemory,
        Some(ttrt_status::Timeout) => ErrorKind::Timeout,
        Some(ttrt_status::NotFound) => ErrorKind::NotFound,
        Some(ttrt_status::Unsupported) => ErrorKind::Unsupported,
        Some(ttrt_status::Cancelled) => ErrorKind::Cancelled,
        Some(ttrt_status::DeviceLost) => ErrorKind::DeviceLost,
        _ => ErrorKind::Device,
    }
}

impl Model<AnyChip> for CModel {
    fn run(
        &mut self,
        _dev: &Device<AnyChip>,
        cq: u8,
        input: &mut Tensor,
    ) -> Result<Tensor, RuntimeError> {
        let lent = lend_tensor(&self.shared, *input).ok_or_else(|| {
            RuntimeError::new(
                ErrorKind::OutOfMemory,
                format_args!("too many live tensors to lend the model its input"),
            )
        })?;
        let mut output: *mut ttrt_tensor = core::ptr::null_mut();
        let failures = super::error::failures_recorded();
        // SAFETY: the callback and its user pointer are the caller's (ttrt_pipeline_create's
        // contract); `lent` is a live handle and `output` a writable location.
        let status = unsafe { (self.f)(self.user, self.dev, cq, lent, &mut output) };
        // A failure's text is the callback's only if a call inside it recorded one; otherwise
        // the thread's last error is older and unrelated.
        let text_is_the_models = super::error::failures_recorded() != failures;
        match take_tensor(lent, &self.shared, "input") {
            Ok(t) => *input = t,
            // The model freed the handle: ttrt_tensor_free deallocated the tensor with it.
            Err(_) => input.allocated = false,
        }
        if status != ttrt_status::Success as u32 {
            let name =
                ttrt_status::from_u32(status).map_or("TTRT_STATUS_UNKNOWN", ttrt_status::name);
            if !text_is_the_models {
                return Err(RuntimeError::new(
                    kind_of(status),
                    format_args!(
                        "the model callback returned {name} ({status}) and no ttrt call inside it \
                         failed, so there is no error text"
                    ),
                ));
            }
            let text = super::error::last_error();
            return Err(RuntimeError::new(
                kind_of(status),
                format_args!("the model callback returned {name}: {text}"),
            ));
        }
        if output.is_null() {
            return Err(ArgError::Null { arg: "*output" }.into());
        }
        if output == lent {
            return Err(RuntimeError::new(
                ErrorKind::InvalidArgument,
                format_args!(
                    "the model returned its input tensor; it must return a new tensor \
                     (an identity model runs an identity op)"
                ),
            ));
        }
        take_tensor(output, &self.shared, "*output")
    }
}

/// The device a pipeline runs on, kept alive with it.
struct SharedDevice(Arc<Shared>);

impl Deref for SharedDevice {
    type Target = Device<AnyChip>;
    fn deref(&self) -> &Device<AnyChip> {
        &self.0.dev
    }
}

struct Inner {
    pipeline: Pipeline<SharedDevice, CModel>,
    /// What `ttrt_pipeline_pop_all` hands out: views of the pipeline's output buffers.
    views: Vec<ttrt_host_tensor>,
}

pub(crate) struct PipelineHandle {
    shared: Arc<Shared>,
    kind: ExecutorKind,
    busy: AtomicBool,
    /// The thread inside the call holding `busy` (`this_thread()`), 0 when none.
    owner: AtomicUsize,
    /// Requests of cleanup and free on other threads that the call in progress end its wait
    /// for the device (pop_all).
    cancel: WaitCancel,
    inner: UnsafeCell<Inner>,
}

/// A value that tells the calling thread from every other thread alive now.
fn this_thread() -> usize {
    #[cfg(feature = "std")]
    {
        std::thread_local! {
            static MARK: u8 = const { 0 };
        }
        MARK.with(|m| m as *const u8 as usize)
    }
    // Without std the library runs on one thread.
    #[cfg(not(feature = "std"))]
    1
}

// SAFETY: `inner` is reached only by the call that holds `busy` (one at a time); its raw
// pointers are the caller's user pointer and device handle (used on the calling thread, per
// ttrt_pipeline_create's contract) and views of the pipeline's own buffers.
unsafe impl Send for PipelineHandle {}
unsafe impl Sync for PipelineHandle {}

impl Handle for PipelineHandle {
    type Opaque = ttrt_pipeline;
    const KIND: &'static str = "ttrt_pipeline";
    const TAG: usize = 6;
    fn table() -> &'static HandleTable<Self> {
        static TABLE: HandleTable<PipelineHandle> = HandleTable::new();
        &TABLE
    }
}

/// Clears `busy` (and its owner) when a call ends, panicking or not.
struct InUse<'a>(&'a AtomicBool, &'a AtomicUsize);

impl Drop for InUse<'_> {
    fn drop(&mut self) {
        self.1.store(0, Ordering::Relaxed);
        self.0.store(false, Ordering::Release);
    }
}

fn pipeline<'a>(p: *const ttrt_pipeline) -> Result<Borrow<'a, PipelineHandle>, ArgError> {
    PipelineHandle::table().get(p, "p")
}

/// Runs `f` with exclusive use of the pipeline behind `p`, on an open device.
fn with_pipeline<R>(
    p: *const ttrt_pipeline,
    f: impl FnOnce(&mut Inner) -> Result<R, CallError>,
) -> Result<R, CallError> {
    with_pipeline_cancel(p, |inner, _| f(inner))
}

/// [`with_pipeline`] that also gives `f` the requests of other threads to end its waits.
fn with_pipeline_cancel<R>(
    p: *const ttrt_pipeline,
    f: impl FnOnce(&mut Inner, &WaitCancel) -> Result<R, CallError>,
) -> Result<R, CallError> {
    let h = pipeline(p)?;
    h.shared.open()?;
    if h.busy
        .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        return Err(RuntimeError::new(
            ErrorKind::InvalidState,
            format_args!(
                "the pipeline is in use by another call (a pipeline is used by one thread at a \
                 time, and not from its own model callback)"
            ),
        )
        .into());
    }
    h.owner.store(this_thread(), Ordering::Relaxed);
    let _in_use = InUse(&h.busy, &h.owner);
    // SAFETY: `busy` makes this call the only one reaching `inner` until `_in_use` drops.
    f(unsafe { &mut *h.inner.get() }, &h.cancel)
}

/// Whether the calling thread is inside a call on `h` (its model callback calling back).
fn own_call(h: &PipelineHandle) -> bool {
    h.busy.load(Ordering::Acquire) && h.owner.load(Ordering::Relaxed) == this_thread()
}

/// Ends the call on `h` in progress on another thread, if any: a pop_all waiting for the
/// device returns `TTRT_STATUS_CANCELLED`; a call that does not wait runs to its end. Returns
/// once no call is in progress. The caller is not inside a call on `h` (see [`own_call`]).
fn end_other_calls(h: &PipelineHandle) {
    if !h.busy.load(Ordering::Acquire) {
        return;
    }
    h.cancel.request();
    // The waiter reads the request before it sleeps; a wake that it misses is repeated.
    while h.busy.load(Ordering::Acquire) {
        h.shared.dev.wake_waits();
        pause();
    }
    h.cancel.withdraw();
}

/// A short pause between two wakes of a waiter.
fn pause() {
    #[cfg(feature = "std")]
    std::thread::sleep(core::time::Duration::from_micros(20));
    #[cfg(not(feature = "std"))]
    core::hint::spin_loop();
}

/// Fills `cfg` with upstream's defaults: trace on, 1 command queue, transfers on the ops
/// queue.
///
/// # Safety
/// `cfg` is NULL (ignored) or points to a writable `ttrt_pipeline_config`.
#[no_mangle]
pub unsafe extern "C" fn ttrt_pipeline_config_default(cfg: *mut ttrt_pipeline_config) {
    guard("ttrt_pipeline_config_default", (), || {
        let d = PipelineConfig::default();
        // SAFETY: the caller's contract.
        if let Ok(o) = unsafe { out(cfg, "cfg") } {
            o.write(ttrt_pipeline_config {
                struct_size: core::mem::size_of::<ttrt_pipeline_config>() as u32,
                use_trace: d.use_trace,
                num_command_queues: d.num_command_queues as u32,
                all_transfers_on_separate_command_queue: d.all_transfers_on_separate_command_queue,
            });
        }
    })
}

/// Reads a config of `c.struct_size` bytes (fields past it take their defaults).
///
/// # Safety
/// `c` points to at least `c.struct_size` readable bytes.
unsafe fn config_of(c: *const ttrt_pipeline_config) -> Result<PipelineConfig, CallError> {
    // SAFETY: the caller's contract covers the first field.
    let size = unsafe { core::ptr::addr_of!((*c).struct_size).read_unaligned() };
    const MIN: u32 = core::mem::size_of::<ttrt_pipeline_config>() as u32;
    if size < MIN {
        return Err(ArgError::StructSize {
            arg: "cfg",
            found: size,
            min: MIN,
        }
        .into());
    }
    // SAFETY: the caller's struct has at least MIN readable bytes, the size of RawConfig, whose
    // fields are integers (any bytes are valid).
    let raw = unsafe { c.cast::<RawConfig>().read_unaligned() };
    let Ok(num_command_queues) = u8::try_from(raw.num_command_queues) else {
        return Err(ArgError::Range {
            arg: "cfg->num_command_queues",
            found: raw.num_command_queues.into(),
            allowed: "1 or 2",
        }
        .into());
    };
    Ok(PipelineConfig {
        use_trace: raw.use_trace != 0,
        num_command_queues,
        all_transfers_on_separate_command_queue: raw.all_transfers_on_separate_command_queue != 0,
    })
}

/// TT-CNN's `create_pipeline_from_config`: checks the config against the memory configs and
/// chooses the executor (see `ttrt_pipeline_config`). `cfg` NULL: the defaults. `model` and
/// `l1_input` are required; `dram_input` (the persistent DRAM input; required by every
/// executor but ModelExecutor) and `dram_output` (the persistent DRAM output; required with
/// `all_transfers_on_separate_command_queue`) may be NULL. Config errors carry upstream's
/// texts. The pipeline keeps the device alive; free it before or after closing the device.
///
/// # Safety
/// `dev` is a device handle; `cfg`, `dram_input`, `dram_output` are NULL or point to their
/// structs; `l1_input` points to a memory config; `out_p` is writable. `model` and `user` stay
/// valid until the pipeline is freed.
#[no_mangle]
#[allow(clippy::too_many_arguments)] // the contract's signature (DESIGN.md §4)
pub unsafe extern "C" fn ttrt_pipeline_create(
    dev: *mut ttrt_device,
    cfg: *const ttrt_pipeline_config,
    model: ttrt_model_fn,
    user: *mut c_void,
    l1_input: *const ttrt_memory_config,
    dram_input: *const ttrt_memory_config,
    dram_output: *const ttrt_memory_config,
    out_p: *mut *mut ttrt_pipeline,
) -> ttrt_status {
    call("ttrt_pipeline_create", || {
        // SAFETY: the caller's contract.
        let o = unsafe { out(out_p, "out_p")? };
        let config = if cfg.is_null() {
            PipelineConfig::default()
        } else {
            // SAFETY: the caller's contract.
            unsafe { config_of(cfg)? }
        };
        let Some(f) = model else {
            return Err(ArgError::Null { arg: "model" }.into());
        };
        let optional = |m: *const ttrt_memory_config, name| -> Result<_, CallError> {
            if m.is_null() {
                return Ok(None);
            }
            // SAFETY: the caller's contract: NULL or a memory config.
            Ok(Some(memory_of(unsafe { arg(m, name)? }, name)?))
        };
        let mems = MemoryConfigs {
            // SAFETY: the caller's contract.
            l1_input: memory_of(unsafe { arg(l1_input, "l1_input")? }, "l1_input")?,
            dram_input: optional(dram_input, "dram_input")?,
            dram_output: optional(dram_output, "dram_output")?,
        };
        let shared = Arc::clone(&device(dev)?.shared);
        shared.open()?;
        let model = CModel {
            f,
            user,
            dev,
            shared: Arc::clone(&shared),
        };
        let pipeline = Pipeline::new(SharedDevice(Arc::clone(&shared)), config, model, mems)?;
        let handle = PipelineHandle::table()
            .insert(PipelineHandle {
                shared,
                kind: pipeline.executor(),
                busy: AtomicBool::new(false),
                owner: AtomicUsize::new(0),
                cancel: WaitCancel::new(),
                inner: UnsafeCell::new(Inner {
                    pipeline,
                    views: Vec::new(),
                }),
            })
            .ok_or_else(|| {
                RuntimeError::new(ErrorKind::OutOfMemory, format_args!("too many pipelines"))
            })?;
        o.write(handle);
        Ok::<(), CallError>(())
    })
}

/// The executor the pipeline's config chose, as upstream names its class
/// (`"MultiCQTracedModelOverlappedInputExecutor"`), or NULL for a handle that is not a live
/// pipeline. The string is static.
///
/// # Safety
/// `p` is NULL or a pipeline handle.
#[no_mangle]
pub unsafe extern "C" fn ttrt_pipeline_executor(p: *const ttrt_pipeline) -> *const c_char {
    guard(
        "ttrt_pipeline_executor",
        core::ptr::null(),
        || match pipeline(p) {
            Ok(h) => {
                // The kind is fixed at create, so reading it needs no exclusive use.
                let kind = h.kind;
                kind.name_nul().as_ptr().cast()
            }
            Err(e) => {
                super::error::set_last_error(format_args!("ttrt_pipeline_executor: {e}"));
                core::ptr::null()
            }
        },
    )
}

/// Compiles the model with `sample` (a host tensor of the inputs' shape, format and layout):
/// a warm-up run and, for traced pipelines, the trace capture with the check that the
/// persistent L1 input lands where the trace reads it ("L1 input tensor address mismatch:
/// expected A, got B" otherwise). The device input has the sample's shape and data format in
/// TILE layout; outputs come back in the sample's layout.
///
/// # Safety
/// `p` is a pipeline handle; `sample` points to a host tensor whose data is readable.
#[no_mangle]
pub unsafe extern "C" fn ttrt_pipeline_compile(
    p: *mut ttrt_pipeline,
    sample: *const ttrt_host_tensor,
) -> ttrt_status {
    call("ttrt_pipeline_compile", || {
        // SAFETY: the caller's contract.
        let s = host_of(unsafe { arg(sample, "sample")? }, "sample")?;
        with_pipeline(p, |inner| {
            // SAFETY: the caller's contract: the sample's data is readable.
            unsafe { inner.pipeline.compile_with(s) }?;
            Ok(())
        })
    })
}

/// Allocates `n` output tensors on the host now (after compile), so that enqueue and pop_all
/// allocate nothing; from then on the inputs enqueued between two pop_alls must fit in them
/// ("Number of inputs (N) exceeds the number of pre-allocated output slots (M).").
///
/// # Safety
/// `p` is a pipeline handle.
#[no_mangle]
pub unsafe extern "C" fn ttrt_pipeline_preallocate_output_tensors_on_host(
    p: *mut ttrt_pipeline,
    n: usize,
) -> ttrt_status {
    call("ttrt_pipeline_preallocate_output_tensors_on_host", || {
        with_pipeline(p, |inner| {
            inner.pipeline.preallocate_output_tensors_on_host(n)?;
            // Smaller than the outputs the budget admitted; still fallible.
            inner.views.clear();
            inner.views.try_reserve_exact(n).map_err(|_| {
                RuntimeError::new(
                    ErrorKind::OutOfMemory,
                    format_args!("cannot allocate the views of {n} output tensors"),
                )
            })?;
            Ok(())
        })
    })
}

/// An input that cannot be read (a failed input is never enqueued: the inputs are all checked
/// first).
const NO_INPUT: HostBuffer = HostBuffer {
    ptr: core::ptr::null_mut(),
    len: 0,
    format: crate::format::DataFormat::Float32,
    shape: [0; 4],
    strides: [0; 4],
    tiled: false,
};

/// Enqueues `n` host tensors: each is written to the device, the model runs on it and its
/// output is read back into a host tensor of the pipeline. Does not wait for the device; the
/// inputs' bytes are copied before this returns. Every input is checked against the sample
/// first, so a bad input enqueues nothing. `n` is at least 1 (at least 2 for the pipelined-IO
/// executor); a smaller `n` is TTRT_STATUS_INVALID_ARGUMENT.
///
/// # Safety
/// `p` is a pipeline handle; `inputs` points to `n` host tensors whose data is readable (NULL
/// when `n` is 0).
#[no_mangle]
pub unsafe extern "C" fn ttrt_pipeline_enqueue(
    p: *mut ttrt_pipeline,
    inputs: *const ttrt_host_tensor,
    n: usize,
) -> ttrt_status {
    call("ttrt_pipeline_enqueue", || {
        let inputs: &[ttrt_host_tensor] = if n == 0 {
            &[]
        } else {
            check_len::<ttrt_host_tensor>(n, "n")?;
            // SAFETY: the caller's contract: `n` host tensors at `inputs` (NULL checked by
            // `arg`, the length by `check_len`).
            unsafe { core::slice::from_raw_parts(arg(inputs, "inputs")?, n) }
        };
        for (i, h) in inputs.iter().enumerate() {
            host_of(h, "inputs[i]").map_err(|e| {
                // Name the input: `inputs[i]->format` becomes `inputs[3]->format`.
                let text = e
                    .message()
                    .replacen("inputs[i]", &alloc::format!("inputs[{i}]"), 1);
                RuntimeError::new(e.kind, format_args!("{text}"))
            })?;
        }
        with_pipeline(p, |inner| {
            let input = |i: usize| host_of(&inputs[i], "inputs[i]").unwrap_or(NO_INPUT);
            // SAFETY: the caller's contract: every input's data is readable.
            unsafe { inner.pipeline.enqueue_with(n, &input) }?;
            Ok(())
        })
    })
}

/// Waits for the device, then returns the outputs of every input enqueued since the last
/// pop_all, in order: `*outputs` is an array of `*n` host tensors (ROW_MAJOR or TILE like the
/// sample; see `ttrt_pipeline_compile`).
///
/// The array and the tensors' data belong to the pipeline and stay valid until the next
/// enqueue, pop_all, cleanup or free of the pipeline; read (or copy) them before. Do not
/// write to them.
///
/// Ending the wait: `ttrt_pipeline_cleanup` or `ttrt_pipeline_free` on another thread makes a
/// pop_all waiting for its outputs return `TTRT_STATUS_CANCELLED` ("ttrt_pipeline_pop_all: the
/// pipeline was cleaned up ... while this call waited for its outputs"), having changed
/// nothing (the outputs stay pending: after cleanup, the next pop_all returns them);
/// `ttrt_device_close` makes it return `TTRT_STATUS_CANCELLED` saying the device was closed.
///
/// # Safety
/// `p` is a pipeline handle; `outputs` and `n` are writable.
#[no_mangle]
pub unsafe extern "C" fn ttrt_pipeline_pop_all(
    p: *mut ttrt_pipeline,
    outputs: *mut *const ttrt_host_tensor,
    n: *mut usize,
) -> ttrt_status {
    call("ttrt_pipeline_pop_all", || {
        // SAFETY: the caller's contract.
        let (o, on) = unsafe { (out(outputs, "outputs")?, out(n, "n")?) };
        with_pipeline_cancel(p, |inner, cancel| {
            let popped = inner.pipeline.pop_all_or_cancel(cancel)?;
            inner.views.clear();
            inner.views.extend(popped.iter().map(|t| ttrt_host_tensor {
                data: t.as_bytes().as_ptr().cast_mut().cast(),
                size: t.as_bytes().len(),
                shape: t.shape(),
                format: t.format() as u32,
                layout: t.layout() as u32,
            }));
            o.write(inner.views.as_ptr());
            on.write(inner.views.len());
            Ok(())
        })
    })
}

/// Waits for the device, then releases the trace and the pipeline's device tensors. Outputs
/// already enqueued can still be popped; nothing more can be enqueued. Freeing the pipeline
/// cleans up too.
///
/// A call on the pipeline in progress on another thread ends first: a `ttrt_pipeline_pop_all`
/// waiting for its outputs returns `TTRT_STATUS_CANCELLED` ("ttrt_pipeline_pop_all: the
/// pipeline was cleaned up ... while this call waited for its outputs") having changed nothing;
/// another call runs to its end. Then cleanup waits for the commands already enqueued (the
/// device stays open and usable) and releases. Called from the pipeline's own model callback
/// it fails with `TTRT_STATUS_INVALID_STATE`.
///
/// # Safety
/// `p` is a pipeline handle.
#[no_mangle]
pub unsafe extern "C" fn ttrt_pipeline_cleanup(p: *mut ttrt_pipeline) -> ttrt_status {
    call("ttrt_pipeline_cleanup", || {
        {
            let h = pipeline(p)?;
            if !own_call(&h) {
                end_other_calls(&h);
            }
        }
        with_pipeline(p, |inner| Ok(inner.pipeline.cleanup()?))
    })
}

/// Cleans up (if the device is still open) and frees the pipeline. NULL is accepted. A call
/// on the pipeline in progress on another thread ends first: a `ttrt_pipeline_pop_all` waiting
/// for its outputs returns `TTRT_STATUS_CANCELLED` (as for `ttrt_pipeline_cleanup`), another
/// call runs to its end; then free waits for the commands already enqueued and frees. A
/// pipeline in use by the calling thread (free from its own model callback) is not freed; the
/// last error says so.
///
/// # Safety
/// `p` is NULL or a pipeline handle.
#[no_mangle]
pub unsafe extern "C" fn ttrt_pipeline_free(p: *mut ttrt_pipeline) {
    guard("ttrt_pipeline_free", (), || {
        if p.is_null() {
            return;
        }
        let shared = match pipeline(p) {
            Ok(h) => {
                if own_call(&h) {
                    super::error::set_last_error(format_args!(
                        "ttrt_pipeline_free: the pipeline is in use (called from its model \
                         callback?); it was not freed"
                    ));
                    return;
                }
                // Standing until the handle goes: a call in progress, or one that starts
                // before remove refuses the handle, ends its wait for the device.
                h.cancel.request();
                Arc::clone(&h.shared)
            }
            Err(e) => {
                super::error::set_last_error(format_args!("ttrt_pipeline_free: {e}"));
                return;
            }
        };
        // A call of another thread holds the handle until it returns: remove waits for it,
        // waking it meanwhile (a pop_all asleep in its wait sees the request and returns).
        let _ = PipelineHandle::table().remove_waking(p, "p", || {
            shared.dev.wake_waits();
            pause();
        });
    })
}

#[cfg(all(test, feature = "std"))]
mod tests {
    //! ttrt_pipeline_cleanup and ttrt_pipeline_free against a ttrt_pipeline_pop_all waiting on
    //! another thread. A kernel that runs until the test opens its gate holds CQ 0 ahead of the
    //! pipeline's work, so the outputs cannot arrive and pop_all is still waiting when cleanup
    //! or free starts; a watchdog turns a call that never returns into a failure.

    use super::*;
    use crate::ffi::device::held::held_cq;
    use crate::ffi::device::{ttrt_device_close, ttrt_device_open, ttrt_synchronize};
    use crate::ffi::tensor::*;
    use std::sync::mpsc;
    use std::time::Duration;

    const WATCHDOG: Duration = Duration::from_secs(30);

    const CANCELLED_TEXT: &str = "ttrt_pipeline_pop_all: the pipeline was cleaned up \
         (ttrt_pipeline_cleanup or ttrt_pipeline_free on another thread) while this call waited \
         for its outputs";

    unsafe extern "C" fn relu(
        _user: *mut c_void,
        dev: *mut ttrt_device,
        cq: u8,
        input: *mut ttrt_tensor,
        output: *mut *mut ttrt_tensor,
    ) -> u32 {
        let l1 = ttrt_memory_config {
            buffer_type: ttrt_buffer_type::L1 as u32,
            memory_layout: ttrt_memory_layout::Interleaved as u32,
            shard: ttrt_shard_spec::default(),
        };
        // SAFETY: the handles the pipeline gives the model.
        unsafe { ttrt_op_unary(dev, cq, ttrt_unary_op::Relu as u32, input, &l1, output) as u32 }
    }

    fn recv<T>(rx: &mpsc::Receiver<T>, what: &str) -> T {
        rx.recv_timeout(WATCHDOG)
            .unwrap_or_else(|_| panic!("{what} did not return within {WATCHDOG:?}: it hangs"))
    }

    fn until(what: &str, ready: impl Fn() -> bool) {
        let start = std::time::Instant::now();
        while !ready() {
            assert!(
                start.elapsed() < WATCHDOG,
                "{what} never happened: it hangs"
            );
            std::thread::sleep(Duration::from_micros(100));
        }
    }

    fn last() -> alloc::string::String {
        crate::ffi::error::last_error()
    }

    /// A positive bfloat16 input (ReLU leaves it as it is), 32x32, ROW_MAJOR.
    fn input() -> Vec<u16> {
        (0..32 * 32).map(|i| 0x3f80 + (i % 64) as u16).collect()
    }

    fn host(bits: &mut [u16]) -> ttrt_host_tensor {
        ttrt_host_tensor {
            data: bits.as_mut_ptr().cast(),
            size: bits.len() * 2,
            shape: [1, 1, 32, 32],
            format: 5,
            layout: ttrt_tensor_layout::RowMajor as u32,
        }
    }

    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Ender {
        Cleanup,
        Free,
    }

    fn ender_wakes_pop_all(ender: Ender) {
        let mut dev = core::ptr::null_mut();
        let mut p = core::ptr::null_mut();
        let mut bits = input();
        // SAFETY: C API calls with valid pointers.
        unsafe {
            assert_eq!(
                ttrt_device_open(core::ptr::null(), &mut dev),
                ttrt_status::Success
            );
            let mut cfg = core::mem::zeroed::<ttrt_pipeline_config>();
            ttrt_pipeline_config_default(&mut cfg);
            cfg.use_trace = false;
            let l1 = ttrt_memory_config {
                buffer_type: ttrt_buffer_type::L1 as u32,
                memory_layout: ttrt_memory_layout::Interleaved as u32,
                shard: ttrt_shard_spec::default(),
            };
            let st = ttrt_pipeline_create(
                dev,
                &cfg,
                Some(relu),
                core::ptr::null_mut(),
                &l1,
                core::ptr::null(),
                core::ptr::null(),
                &mut p,
            );
            assert_eq!(st, ttrt_status::Success, "{}", last());
            let sample = host(&mut bits);
            assert_eq!(
                ttrt_pipeline_compile(p, &sample),
                ttrt_status::Success,
                "{}",
                last()
            );
        }
        let gate = held_cq(dev, 0);
        let shared = Arc::clone(&device(dev).unwrap().shared);
        // SAFETY: as above; the input's bytes are copied before enqueue returns.
        unsafe {
            let x = host(&mut bits);
            assert_eq!(
                ttrt_pipeline_enqueue(p, &x, 1),
                ttrt_status::Success,
                "{}",
                last()
            );
        }
        let pp = p as usize;
        let (tx, popped) = mpsc::channel();
        std::thread::spawn(move || {
            let (mut outs, mut n) = (core::ptr::null(), usize::MAX);
            // SAFETY: a pipeline handle and writable outputs.
            let st = unsafe { ttrt_pipeline_pop_all(pp as *mut ttrt_pipeline, &mut outs, &mut n) };
            let _ = tx.send((st, last(), n));
        });
        // The pop_all is asleep waiting for its outputs (the kernel holds CQ 0).
        until("the pop_all's sleep", || shared.dev.waiters() != 0);
        let (tx, ended) = mpsc::channel();
        std::thread::spawn(move || {
            let p = pp as *mut ttrt_pipeline;
            // SAFETY: a pipeline handle.
            let st = unsafe {
                match ender {
                    Ender::Cleanup => ttrt_pipeline_cleanup(p),
                    Ender::Free => {
                        ttrt_pipeline_free(p);
                        ttrt_status::Success
                    }
                }
            };
            let _ = tx.send((st, last()));
        });
        let (st, text, n) = recv(&popped, "the waiting pop_all");
        assert_eq!(st, ttrt_status::Cancelled, "{ender:?}: {text}");
        assert_eq!(text, CANCELLED_TEXT);
        assert_eq!(n, usize::MAX, "a cancelled pop_all writes no output count");
        // The kernel still holds the device: cleanup (and free, which cleans up) waits for the
        // commands enqueued before it releases the pipeline's tensors.
        assert!(
            ended.try_recv().is_err(),
            "{ender:?} returned before the device ran the commands enqueued"
        );
        gate.store(true, Ordering::Release);
        let (st, text) = recv(&ended, "the cleanup or free");
        assert_eq!(st, ttrt_status::Success, "{ender:?}: {text}");
        assert!(!shared.dev.is_closing(), "the device is not closed");
        // SAFETY: C API calls with valid handles and pointers.
        unsafe {
            match ender {
                Ender::Cleanup => {
                    // The cancelled pop_all changed nothing: the output enqueued is still there.
                    let (mut outs, mut n) = (core::ptr::null(), 0);
                    assert_eq!(
                        ttrt_pipeline_pop_all(p, &mut outs, &mut n),
                        ttrt_status::Success,
                        "{}",
                        last()
                    );
                    assert_eq!(n, 1);
                    let out = &*outs;
                    let got = core::slice::from_raw_parts(out.data.cast::<u16>(), out.size / 2);
                    assert_eq!(got, &input()[..], "ReLU of a positive input is the input");
                    let x = host(&mut bits);
                    assert_eq!(ttrt_pipeline_enqueue(p, &x, 1), ttrt_status::InvalidState);
                    ttrt_pipeline_free(p);
                }
                Ender::Free => {
                    assert!(ttrt_pipeline_executor(p).is_null());
                }
            }
            // The device stays usable.
            assert_eq!(ttrt_synchronize(dev), ttrt_status::Success, "{}", last());
            assert_eq!(ttrt_device_close(dev), ttrt_status::Success, "{}", last());
        }
    }

    #[test]
    fn cleanup_wakes_a_pop_all_waiting_for_its_outputs() {
        ender_wakes_pop_all(Ender::Cleanup);
    }

    #[test]
    fn free_wakes_a_pop_all_waiting_for_its_outputs() {
        ender_wakes_pop_all(Ender::Free);
    }
}
