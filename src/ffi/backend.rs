//! `ttrt_backend`: the Buda backend lifecycle of PyBuda's embedded TTI loader
//! (`tt_backend::create`, initialize, push_input, run_program, get_output, pop_output,
//! free_tensor, finish), on the simulated device.

use alloc::ffi::CString;
use alloc::vec::Vec;
use core::ffi::{c_char, c_void};
use core::sync::atomic::{AtomicU64, Ordering};

use super::boundary::{arg, c_str, call, guard, out, sized_config, AppendOnlyConfig};
use super::error::{set_last_error, ArgError, CallError};
use super::format::{
    arch_of, host_tensor, host_tensor_mut, ttrt_io_desc, ttrt_tensor_desc, ttrt_tensor_owner,
};
use super::handle::{Borrow, Handle, HandleTable};
use super::image::image;
use super::status::ttrt_status;
use crate::backend::{Backend, BackendConfig, BackendError, BackendErrorKind, QueueDesc};
use crate::format::{Arch, DataFormat, HostTensorMut, IoLayout, UblockOrder};
use crate::netlist::{IoType, QueueLocation};
use crate::sync::Lock;

/// A Buda backend (opaque).
pub struct ttrt_backend {
    _private: [u8; 0],
}

/// How `ttrt_backend_create` sets up the device. Initialize with `ttrt_backend_config_default`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ttrt_backend_config {
    pub struct_size: u32,
    /// A `ttrt_arch`, or 0: the image's.
    pub arch: u32,
    /// 1, or 2: transfers on CQ 1 and programs on CQ 0, ordered by events.
    pub num_command_queues: u32,
    /// Set to 0. (It keeps `host_memory_budget` at the same offset on every target.)
    pub reserved: u32,
    /// Bytes of host memory the backend may allocate for what the image sizes: the queues
    /// located in host memory, the image's constants and parameters, and each tensor that
    /// `ttrt_get_output` and `ttrt_backend_tensor_desc_for_queue` return. More is
    /// `TTRT_STATUS_OUT_OF_MEMORY`, naming the queue or tensor and the bytes asked. Default
    /// 0: the machine's physical memory.
    pub host_memory_budget: u64,
    /// 0 (the default): queues hold their entries in their own format, as on silicon: an
    /// op's output written to a Bfp8_b queue is Bfp8_b when the next graph reads it and when
    /// `ttrt_get_output` returns it. 1: golden mode, as upstream's golden model: a queue an op
    /// writes keeps the op's float32 output (in host memory), and `ttrt_get_output` converts it
    /// to the queue's host format as golden's get_output does (bfloat16 truncation for
    /// Float16_b and Bfp8_b/Bfp4_b/Bfp2_b, fp16_a for Float16 and Bfp8/Bfp4/Bfp2), so outputs can
    /// be compared bit for bit with golden's. Inputs, constants and parameters are quantized to
    /// their queue's format in both modes. Read only when `struct_size` covers it.
    pub golden: u32,
    /// Set to 0.
    pub reserved2: u32,
    /// Which device the backend runs on, NUL-terminated: `"sim"`, the simulated chip in this
    /// process, or `"shm:NAME"`, the chip the device process `ttrt sim-device NAME` serves
    /// (see `ttrt_device_config.device`). Default NULL: the `TTRT_DEVICE` environment
    /// variable, else `"sim"`. Read during `ttrt_backend_create` only. Appended after
    /// `reserved2`.
    pub device: *const core::ffi::c_char,
    /// A `ttrt_backend_role`: which side of PyBuda's embedded loader this process is. Default
    /// `Run` (0): the backend lays out the queues, loads constants and parameters and runs
    /// programs. `Io` (1): the backend attaches to the queues of the run side of another
    /// process on the same shared device (`device = "shm:NAME"`) and only pushes inputs and
    /// gets and pops outputs; its `ttrt_backend_initialize` waits up to 10 s for the run
    /// side's initialize of the same netlist, and `ttrt_backend_run_program` is
    /// `TTRT_STATUS_INVALID_STATE`. Read only when `struct_size` covers it (appended after
    /// `device`).
    pub role: u32,
    /// Set to 0.
    pub reserved3: u32,
    /// The path of the Buda SoC descriptor of the chip (tt-budabackend's `device/*.yaml`),
    /// NUL-terminated; its `arch_name` must be the backend's arch. Default NULL: the one the
    /// image carries (`backend_build_binaries/device_desc.yaml`, where PyBuda puts the
    /// descriptor it compiled for), else the arch's default geometry. An op placed outside
    /// the descriptor's worker grid is `TTRT_STATUS_INVALID_ARGUMENT`. Read during
    /// `ttrt_backend_create` only, when `struct_size` covers it (appended after `reserved3`).
    pub soc_descriptor: *const core::ffi::c_char,
    /// The device's harvested rows: Buda's mask, bit `i` for NOC row `i` (see
    /// `ttrt_device_config.harvested_rows`). Default 0: none. An image whose device.json
    /// `harvested_rows` differs is `TTRT_STATUS_INVALID_ARGUMENT` naming both masks, as is an op
    /// placed in a harvested row. Read only when `struct_size` covers it.
    pub harvested_rows: u64,
}

/// `ttrt_backend_config::role`: the side of PyBuda's embedded loader a backend is.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ttrt_backend_role {
    /// Lays out the queues, loads the image's tensors, runs programs (and may push and get).
    Run = 0,
    /// Pushes, gets and pops on the queues of a run side in another process.
    Io = 1,
}

// SAFETY: integers and one pointer (NULL when zero), struct_size first.
unsafe impl AppendOnlyConfig for ttrt_backend_config {}

static_assertions::const_assert_eq!(core::mem::size_of::<ttrt_backend_config>(), 64);
static_assertions::const_assert_eq!(
    core::mem::offset_of!(ttrt_backend_config, soc_descriptor),
    48
);
static_assertions::const_assert_eq!(
    core::mem::offset_of!(ttrt_backend_config, harvested_rows),
    56
);
static_assertions::const_assert_eq!(core::mem::offset_of!(ttrt_backend_config, role), 40);
static_assertions::const_assert_eq!(core::mem::offset_of!(ttrt_backend_config, device), 32);
static_assertions::const_assert_eq!(
    core::mem::offset_of!(ttrt_backend_config, host_memory_budget),
    16
);
static_assertions::const_assert_eq!(core::mem::offset_of!(ttrt_backend_config, golden), 24);
/// What `struct_size` must be at least: the config before `reserved` and
/// `host_memory_budget` were appended (both then read as 0).
const CONFIG_SIZE_V1: u32 = 12;

/// One `run_program` parameter: `{"$p_loop_count", "4"}` (the `$` may be left out).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ttrt_program_param {
    pub name: *const c_char,
    pub value: *const c_char,
}

pub(crate) struct BackendHandle {
    backend: Backend,
    id: u64,
    programs: Vec<CString>,
    /// Each program's declared parameters (`param: [$p...]`), as written: with the `$`.
    params: Vec<Vec<CString>>,
    /// Queue names handed out in descriptors, alive as long as the handle.
    queue_names: Vec<CString>,
}

impl Handle for BackendHandle {
    type Opaque = ttrt_backend;
    const KIND: &'static str = "ttrt_backend";
    const TAG: usize = 5;
    fn table() -> &'static HandleTable<Self> {
        static TABLE: HandleTable<BackendHandle> = HandleTable::new();
        &TABLE
    }
}

fn backend<'a>(be: *const ttrt_backend) -> Result<Borrow<'a, BackendHandle>, ArgError> {
    BackendHandle::table().get(be, "be")
}

/// Backend-owned tensor memory (get_output, tensor_desc_for_queue): address, owning backend,
/// the bytes.
static OWNED: Lock<Vec<(usize, u64, Vec<u8>)>> = Lock::new(Vec::new());
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Hands `data` to C as backend-owned memory of backend `id`.
fn hand_out(id: u64, data: Vec<u8>) -> *const c_void {
    let ptr = data.as_ptr() as usize;
    OWNED.with(|o| o.push((ptr, id, data)));
    ptr as *const c_void
}

/// Fills the backend's defaults: the image's arch, one command queue.
///
/// # Safety
/// `cfg` is NULL (ignored) or points to a writable `ttrt_backend_config`.
#[no_mangle]
pub unsafe extern "C" fn ttrt_backend_config_default(cfg: *mut ttrt_backend_config) {
    guard("ttrt_backend_config_default", (), || {
        // SAFETY: the caller's contract.
        if let Ok(o) = unsafe { out(cfg, "cfg") } {
            o.write(ttrt_backend_config {
                struct_size: core::mem::size_of::<ttrt_backend_config>() as u32,
                arch: 0,
                num_command_queues: 1,
                reserved: 0,
                host_memory_budget: 0,
                golden: 0,
                reserved2: 0,
                device: core::ptr::null(),
                role: ttrt_backend_role::Run as u32,
                reserved3: 0,
                soc_descriptor: core::ptr::null(),
                harvested_rows: 0,
            });
        }
    })
}

/// Reads a config of `c.struct_size` bytes (NULL: the defaults).
///
/// # Safety
/// `c` is NULL or points to at least `c.struct_size` readable bytes.
unsafe fn config_of(c: *const ttrt_backend_config) -> Result<BackendConfig, ArgError> {
    if c.is_null() {
        return Ok(BackendConfig::default());
    }
    // SAFETY: the caller's contract.
    let c = unsafe { sized_config(c, "cfg", CONFIG_SIZE_V1) }?;
    if !(1..=2).contains(&c.num_command_queues) {
        return Err(ArgError::Range {
            arg: "cfg->num_command_queues",
            found: c.num_command_queues.into(),
            allowed: "1 or 2",
        });
    }
    if c.golden > 1 {
        return Err(ArgError::Range {
            arg: "cfg->golden",
            found: c.golden.into(),
            allowed: "0 or 1",
        });
    }
    let role = match c.role {
        0 => crate::backend::BackendRole::Run,
        1 => crate::backend::BackendRole::Io,
        r => {
            return Err(ArgError::Range {
                arg: "cfg->role",
                found: r.into(),
                allowed: "a ttrt_backend_role (0 run, 1 io)",
            })
        }
    };
    Ok(BackendConfig {
        role,
        arch: match c.arch {
            0 => None,
            a => Some(arch_of(a, "cfg->arch")?),
        },
        num_command_queues: c.num_command_queues as u8,
        host_memory_budget: c.host_memory_budget,
        golden: c.golden != 0,
        device: match c.device.is_null() {
            true => None,
            // SAFETY: the caller's contract: a NUL-terminated string, valid during the call.
            false => Some(alloc::string::String::from(unsafe {
                c_str(c.device, "cfg->device")?
            })),
        },
        soc_descriptor: match c.soc_descriptor.is_null() {
            true => None,
            // SAFETY: the caller's contract: a NUL-terminated string, valid during the call.
            false => Some(alloc::string::String::from(unsafe {
                c_str(c.soc_descriptor, "cfg->soc_descriptor")?
            })),
        },
        harvested_rows: c.harvested_rows,
    })
}

/// Creates a backend for `img` (tt_backend::create): arch and device from the image unless
/// `cfg` names an arch; the simulated chip. `cfg` may be NULL (the defaults). The image's
/// constants and parameters are read now (`.bin` or pre-tilized `.tbin`), so the image may be
/// freed after this call. The timeout overrides `TT_BACKEND_PUSH_TIMEOUT`,
/// `TT_BACKEND_GET_TIMEOUT` and `TT_BACKEND_POP_TIMEOUT` are read now too; a value that is not a
/// whole number of seconds is `TTRT_STATUS_INVALID_ARGUMENT`.
///
/// # Safety
/// `img` is an image handle; `cfg` NULL or a config; `out_be` writable.
#[no_mangle]
pub unsafe extern "C" fn ttrt_backend_create(
    img: *const super::image::ttrt_image,
    cfg: *const ttrt_backend_config,
    out_be: *mut *mut ttrt_backend,
) -> ttrt_status {
    call("ttrt_backend_create", || -> Result<(), CallError> {
        let h = image(img, "img")?;
        if !cfg.is_aligned() {
            return Err(ArgError::Misaligned {
                arg: "cfg",
                align: core::mem::align_of::<ttrt_backend_config>(),
            }
            .into());
        }
        // SAFETY: the caller's contract.
        let config = unsafe { config_of(cfg) }?;
        // SAFETY: the caller's contract.
        let slot = unsafe { out(out_be, "out_be") }?;
        let backend = Backend::create(&h.image, &config)?;
        let programs = backend
            .program_names()
            .map(|p| CString::new(p).unwrap_or_default())
            .collect();
        let params = backend
            .netlist()
            .programs
            .iter()
            .map(|p| {
                p.params()
                    .map(|n| CString::new(alloc::format!("${n}")).unwrap_or_default())
                    .collect()
            })
            .collect();
        let queue_names = backend
            .netlist()
            .queues
            .iter()
            .map(|q| CString::new(q.name.as_str()).unwrap_or_default())
            .collect();
        let handle = BackendHandle::table()
            .insert(BackendHandle {
                backend,
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                programs,
                params,
                queue_names,
            })
            .ok_or_else(|| {
                BackendError::new(BackendErrorKind::OutOfMemory, "too many backends".into())
            })?;
        slot.write(handle);
        Ok(())
    })
}

/// Starts the device, lays out every queue of the netlist (DRAM at the netlist's channels and
/// addresses, or host memory) and loads the image's constants and parameters.
///
/// # Safety
/// `be` is a backend handle.
#[no_mangle]
pub unsafe extern "C" fn ttrt_backend_initialize(be: *mut ttrt_backend) -> ttrt_status {
    call("ttrt_backend_initialize", || -> Result<(), CallError> {
        Ok(backend(be)?.backend.initialize()?)
    })
}

/// How many programs the netlist has (0 for a bad handle).
///
/// # Safety
/// `be` is NULL or a backend handle.
#[no_mangle]
pub unsafe extern "C" fn ttrt_backend_program_count(be: *const ttrt_backend) -> usize {
    guard("ttrt_backend_program_count", 0, || match backend(be) {
        Ok(h) => h.programs.len(),
        Err(e) => {
            set_last_error(format_args!("ttrt_backend_program_count: {e}"));
            0
        }
    })
}

/// The name of program `i`, in netlist order (`get_programs()`), valid until the backend is
/// freed; NULL when out of range.
///
/// # Safety
/// `be` is NULL or a backend handle.
#[no_mangle]
pub unsafe extern "C" fn ttrt_backend_program_name(
    be: *const ttrt_backend,
    i: usize,
) -> *const c_char {
    guard(
        "ttrt_backend_program_name",
        core::ptr::null(),
        || match backend(be) {
            Ok(h) => match h.programs.get(i) {
                Some(p) => p.as_ptr(),
                None => {
                    set_last_error(format_args!(
                        "ttrt_backend_program_name: index {i} is out of range (the netlist has {})",
                        crate::message::count(h.programs.len(), "program")
                    ));
                    core::ptr::null()
                }
            },
            Err(e) => {
                set_last_error(format_args!("ttrt_backend_program_name: {e}"));
                core::ptr::null()
            }
        },
    )
}

/// The declared parameters of program `program` (a `ttrt_backend_program_name` index), or the
/// text of why there are none to give.
fn params_of<'a>(h: &'a BackendHandle, call: &str, program: usize) -> Option<&'a [CString]> {
    match h.params.get(program) {
        Some(p) => Some(p),
        None => {
            set_last_error(format_args!(
                "{call}: program index {program} is out of range (the netlist has {})",
                crate::message::count(h.programs.len(), "program")
            ));
            None
        }
    }
}

/// How many parameters program `program` declares (`param: [$p_loop_count, ...]`): the values
/// `ttrt_backend_run_program` must be given. 0 when it declares none, or (with the last error
/// set) when `be` or `program` is bad.
///
/// # Safety
/// `be` is NULL or a backend handle.
#[no_mangle]
pub unsafe extern "C" fn ttrt_backend_program_param_count(
    be: *const ttrt_backend,
    program: usize,
) -> usize {
    const CALL: &str = "ttrt_backend_program_param_count";
    guard(CALL, 0, || match backend(be) {
        Ok(h) => params_of(&h, CALL, program).map_or(0, <[CString]>::len),
        Err(e) => {
            set_last_error(format_args!("{CALL}: {e}"));
            0
        }
    })
}

/// The name of parameter `i` of program `program`, as the netlist declares it (with its `$`,
/// e.g. `"$p_loop_count"`), valid until the backend is freed; NULL (with the last error set)
/// when an index or `be` is bad.
///
/// # Safety
/// `be` is NULL or a backend handle.
#[no_mangle]
pub unsafe extern "C" fn ttrt_backend_program_param_name(
    be: *const ttrt_backend,
    program: usize,
    i: usize,
) -> *const c_char {
    param_name("ttrt_backend_program_param_name", be, program, i)
}

/// Parameter `i` of program `program`, or NULL with the last error set (naming `call`).
fn param_name(
    call: &'static str,
    be: *const ttrt_backend,
    program: usize,
    i: usize,
) -> *const c_char {
    guard(call, core::ptr::null(), || match backend(be) {
        Ok(h) => match params_of(&h, call, program).map(|p| (p.get(i), p.len())) {
            Some((Some(name), _)) => name.as_ptr(),
            Some((None, n)) => {
                set_last_error(format_args!(
                    "{call}: parameter index {i} is out of range (program '{}' declares {})",
                    h.programs[program].to_string_lossy(),
                    crate::message::count(n, "parameter")
                ));
                core::ptr::null()
            }
            None => core::ptr::null(),
        },
        Err(e) => {
            set_last_error(format_args!("{call}: {e}"));
            core::ptr::null()
        }
    })
}

/// Whether parameter `i` of program `program` must be given a value: true for every declared
/// parameter, as upstream's run_program fails on a declared param it is not passed (and
/// ttrt's says which); false (with the last error set) when an index or `be` is bad.
///
/// # Safety
/// `be` is NULL or a backend handle.
#[no_mangle]
pub unsafe extern "C" fn ttrt_backend_program_param_required(
    be: *const ttrt_backend,
    program: usize,
    i: usize,
) -> bool {
    !param_name("ttrt_backend_program_param_required", be, program, i).is_null()
}

fn arch_value(a: Arch) -> u32 {
    match a {
        Arch::Grayskull => 1,
        Arch::WormholeB0 => 2,
        Arch::Blackhole => 3,
    }
}

fn io_desc(h: &BackendHandle, d: &QueueDesc) -> ttrt_io_desc {
    let l = &d.layout;
    let name = h
        .backend
        .netlist()
        .queues
        .iter()
        .position(|q| q.name == d.name)
        .map_or(core::ptr::null(), |i| h.queue_names[i].as_ptr());
    ttrt_io_desc {
        queue_name: name,
        io_type: match d.io_type {
            IoType::Queue => 0,
            IoType::Ram => 1,
        },
        layout: match l.layout {
            IoLayout::Tilized => 0,
            IoLayout::Flat => 1,
        },
        grid_r: l.grid_r,
        grid_c: l.grid_c,
        entries: d.entries,
        ublock_rt: l.ublock_rt,
        ublock_ct: l.ublock_ct,
        mblock_m: l.mblock_m,
        mblock_n: l.mblock_n,
        tile_height: l.tile.height,
        tile_width: l.tile.width,
        t: l.t,
        input_count: d.input_count,
        hstack_factor: 1,
        vstack_factor: 1,
        format: l.format as u32,
        entry_size: d.entry_size as u32,
        location: match d.location {
            QueueLocation::Dram => 0,
            QueueLocation::Host => 1,
        },
        ublock_order: match l.ublock_order {
            UblockOrder::R => 0,
            UblockOrder::C => 1,
        },
        arch: arch_value(l.arch),
        stack_row_major: true,
    }
}

/// Fills `out_desc` with the descriptor of queue `queue` (tt_backend::get_queue_descriptor). The
/// name it points to stays valid until the backend is freed.
///
/// # Safety
/// `be` is a backend handle; `queue` a NUL-terminated string; `out_desc` writable.
#[no_mangle]
pub unsafe extern "C" fn ttrt_backend_get_queue_descriptor(
    be: *const ttrt_backend,
    queue: *const c_char,
    out_desc: *mut ttrt_io_desc,
) -> ttrt_status {
    call(
        "ttrt_backend_get_queue_descriptor",
        || -> Result<(), CallError> {
            let h = backend(be)?;
            // SAFETY: the caller's contract.
            let name = unsafe { c_str(queue, "queue") }?;
            // SAFETY: the caller's contract.
            let slot = unsafe { out(out_desc, "out_desc") }?;
            let d = h.backend.queue_desc(name)?;
            slot.write(io_desc(&h, &d));
            Ok(())
        },
    )
}

/// The queue a descriptor names, checked against the netlist's (nothing is allocated: push,
/// get and pop go through here in steady-state loops).
fn queue_of<'a>(h: &BackendHandle, q: &'a ttrt_io_desc) -> Result<&'a str, CallError> {
    // SAFETY: a descriptor's name is NULL or a NUL-terminated string (the caller's contract).
    let name = unsafe { c_str(q.queue_name, "q->queue_name") }?;
    let nq = h.backend.queue("q->queue_name", name)?;
    let l = nq.layout(h.backend.arch());
    let io_type = match nq.io_type {
        IoType::Queue => 0,
        IoType::Ram => 1,
    };
    let fields = [
        ("q->format", l.format as u32, q.format),
        ("q->t", l.t, q.t),
        ("q->entries", nq.entries, q.entries),
        ("q->grid_r", l.grid_r, q.grid_r),
        ("q->grid_c", l.grid_c, q.grid_c),
        ("q->mblock_m", l.mblock_m, q.mblock_m),
        ("q->mblock_n", l.mblock_n, q.mblock_n),
        ("q->ublock_rt", l.ublock_rt, q.ublock_rt),
        ("q->ublock_ct", l.ublock_ct, q.ublock_ct),
        ("q->io_type", io_type, q.io_type),
    ];
    for (what, expected, found) in fields {
        if expected != found {
            return Err(CallError::Mismatch {
                what,
                expected: expected.into(),
                found: found.into(),
            });
        }
    }
    Ok(name)
}

/// A zeroed, backend-owned host tensor shaped for one (`single`) or input_count entries of
/// queue `q`, in the host-compatible format of its format (the io_utils helper). Release it
/// with `ttrt_tensor_desc_free`.
///
/// # Safety
/// `be` is a backend handle; `q` a descriptor; `out_t` writable.
#[no_mangle]
pub unsafe extern "C" fn ttrt_backend_tensor_desc_for_queue(
    be: *const ttrt_backend,
    q: *const ttrt_io_desc,
    single: bool,
    out_t: *mut ttrt_tensor_desc,
) -> ttrt_status {
    call(
        "ttrt_backend_tensor_desc_for_queue",
        || -> Result<(), CallError> {
            let h = backend(be)?;
            // SAFETY: the caller's contract.
            let q = unsafe { arg(q, "q") }?;
            // SAFETY: the caller's contract.
            let slot = unsafe { out(out_t, "out_t") }?;
            let name = queue_of(&h, q)?;
            let t = h.backend.zeroed_host_tensor(name, single)?;
            slot.write(owned_desc(h.id, t.data, t.format, t.shape));
            Ok(())
        },
    )
}

fn owned_desc(id: u64, data: Vec<u8>, format: DataFormat, shape: [usize; 4]) -> ttrt_tensor_desc {
    let item = format.host_item_size().unwrap_or(4);
    let strides = crate::format::contiguous_strides(shape, item);
    ttrt_tensor_desc {
        ptr: hand_out(id, data),
        itemsize: item as u32,
        format: format as u32,
        shape: shape.map(|d| d as u32),
        strides: strides.map(|s| s as u32),
        dim: 4,
        owner: ttrt_tensor_owner::Backend as u32,
    }
}

/// Pushes `t` into queue `q` (push_input): its outermost dimension W is split into W entries
/// (W is 1 or a multiple of the queue's input_count; fewer than 4 dims are expanded), converted
/// from its host format to the queue's format and tile layout. `push_one`: W must be 1.
/// `timeout_ms`: < 0 waits forever for room, 0 tries once, > 0 waits at most that long, then
/// `TTRT_STATUS_TIMEOUT`; when `TT_BACKEND_PUSH_TIMEOUT` (whole seconds) was set as the backend
/// was created, it replaces `timeout_ms`, as upstream. `ptr` >= 0 selects the entry of a ram;
/// -1 otherwise.
///
/// # Safety
/// `be` is a backend handle; `q` and `t` valid descriptors; `t->ptr` spans its shape and strides.
#[no_mangle]
pub unsafe extern "C" fn ttrt_push_input(
    be: *mut ttrt_backend,
    q: *const ttrt_io_desc,
    t: *const ttrt_tensor_desc,
    push_one: bool,
    timeout_ms: i32,
    ptr: i32,
) -> ttrt_status {
    call("ttrt_push_input", || -> Result<(), CallError> {
        let h = backend(be)?;
        // SAFETY: the caller's contract.
        let (q, t) = unsafe { (arg(q, "q")?, arg(t, "t")?) };
        let name = queue_of(&h, q)?;
        let host = host_tensor(t, "t")?;
        Ok(h.backend
            .push_input(name, &host, push_one, timeout_ms, ptr)?)
    })
}

/// Runs program `program` (run_program) with `n_params` parameters, e.g.
/// `{"$p_loop_count", "1"}`. Every `param` the program declares must be given, and only those.
///
/// # Safety
/// `be` is a backend handle; `program` a NUL-terminated string; `params` NULL (when n_params
/// is 0) or `n_params` parameters of NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn ttrt_backend_run_program(
    be: *mut ttrt_backend,
    program: *const c_char,
    params: *const ttrt_program_param,
    n_params: usize,
) -> ttrt_status {
    call("ttrt_backend_run_program", || -> Result<(), CallError> {
        let h = backend(be)?;
        // SAFETY: the caller's contract.
        let program = unsafe { c_str(program, "program") }?;
        const MAX: usize = 32;
        if n_params > MAX {
            return Err(ArgError::Range {
                arg: "n_params",
                found: n_params as u64,
                allowed: "at most 32 parameters",
            }
            .into());
        }
        let mut list: [(&str, &str); MAX] = [("", ""); MAX];
        if n_params > 0 {
            // SAFETY: the caller's contract.
            let ps = unsafe { core::slice::from_raw_parts(arg(params, "params")?, n_params) };
            for (slot, p) in list.iter_mut().zip(ps) {
                // SAFETY: the caller's contract.
                *slot = unsafe {
                    (
                        c_str(p.name, "params[i].name")?,
                        c_str(p.value, "params[i].value")?,
                    )
                };
            }
        }
        Ok(h.backend.run_program(program, &list[..n_params])?)
    })
}

/// Peeks at 1 (`get_one`) or input_count entries of queue `q` from its read pointer (ram: at
/// `ptr`), moving no pointer (get_output). `out_t` receives backend-owned memory, shape
/// `[W, t, rows, cols]`, in the host-compatible format of the queue's format; it stays valid
/// until `ttrt_tensor_desc_free` or the backend finishes. Timeouts as `ttrt_push_input`, with
/// `TT_BACKEND_GET_TIMEOUT` as the override.
///
/// # Safety
/// `be` is a backend handle; `q` a descriptor; `out_t` writable.
#[no_mangle]
pub unsafe extern "C" fn ttrt_get_output(
    be: *mut ttrt_backend,
    q: *const ttrt_io_desc,
    out_t: *mut ttrt_tensor_desc,
    get_one: bool,
    timeout_ms: i32,
    ptr: i32,
) -> ttrt_status {
    call("ttrt_get_output", || -> Result<(), CallError> {
        let h = backend(be)?;
        // SAFETY: the caller's contract.
        let q = unsafe { arg(q, "q") }?;
        // SAFETY: the caller's contract.
        let slot = unsafe { out(out_t, "out_t") }?;
        let name = queue_of(&h, q)?;
        let t = h.backend.get_output(name, get_one, timeout_ms, ptr)?;
        slot.write(owned_desc(h.id, t.data, t.format, t.shape));
        Ok(())
    })
}

/// get_output into the caller's memory: `dst` describes a writable tensor of shape
/// `[W, t, rows, cols]` in Float32 or the queue's host-compatible format. Allocates nothing,
/// so a steady-state loop built on it allocates nothing. Timeouts as `ttrt_get_output`.
///
/// # Safety
/// `be` is a backend handle; `q` a descriptor; `dst->ptr` writable over its shape and strides.
#[no_mangle]
pub unsafe extern "C" fn ttrt_get_output_into(
    be: *mut ttrt_backend,
    q: *const ttrt_io_desc,
    dst: *const ttrt_tensor_desc,
    get_one: bool,
    timeout_ms: i32,
    ptr: i32,
) -> ttrt_status {
    call("ttrt_get_output_into", || -> Result<(), CallError> {
        let h = backend(be)?;
        // SAFETY: the caller's contract.
        let (q, dst) = unsafe { (arg(q, "q")?, arg(dst, "dst")?) };
        let name = queue_of(&h, q)?;
        let mut t: HostTensorMut<'_> = host_tensor_mut(dst, "dst")?;
        Ok(h.backend
            .get_output_into(name, &mut t, get_one, timeout_ms, ptr)?)
    })
}

/// Advances the read pointer of queue `q` by 1 (`pop_one`) or input_count entries
/// (pop_output). Popping a ram is an error. Timeouts as `ttrt_push_input`, with
/// `TT_BACKEND_POP_TIMEOUT` as the override.
///
/// # Safety
/// `be` is a backend handle; `q` a descriptor.
#[no_mangle]
pub unsafe extern "C" fn ttrt_pop_output(
    be: *mut ttrt_backend,
    q: *const ttrt_io_desc,
    pop_one: bool,
    timeout_ms: i32,
) -> ttrt_status {
    call("ttrt_pop_output", || -> Result<(), CallError> {
        let h = backend(be)?;
        // SAFETY: the caller's contract.
        let q = unsafe { arg(q, "q") }?;
        let name = queue_of(&h, q)?;
        Ok(h.backend.pop_output(name, pop_one, timeout_ms)?)
    })
}

/// Releases backend-owned tensor memory (from get_output or tensor_desc_for_queue) and sets
/// `t->ptr` to NULL. Memory the caller owns is refused.
///
/// # Safety
/// `t` points to a writable tensor descriptor.
#[no_mangle]
pub unsafe extern "C" fn ttrt_tensor_desc_free(t: *mut ttrt_tensor_desc) -> ttrt_status {
    call("ttrt_tensor_desc_free", || -> Result<(), CallError> {
        // SAFETY: the caller's contract.
        let t = unsafe { super::boundary::arg_mut(t, "t") }?;
        if t.owner != ttrt_tensor_owner::Backend as u32 {
            return Err(BackendError::new(
                BackendErrorKind::InvalidArgument,
                "the tensor is owned by the caller (owner FRONTEND), not the backend".into(),
            )
            .into());
        }
        let ptr = t.ptr as usize;
        let found = OWNED.with(|o| o.iter().position(|e| e.0 == ptr).map(|i| o.swap_remove(i)));
        if found.is_none() {
            return Err(BackendError::new(
                BackendErrorKind::InvalidArgument,
                alloc::format!("{ptr:#x} is not live backend-owned memory (freed already, or its backend finished)"),
            )
            .into());
        }
        t.ptr = core::ptr::null();
        Ok(())
    })
}

/// Waits until the device has run everything enqueued.
///
/// # Safety
/// `be` is a backend handle.
#[no_mangle]
pub unsafe extern "C" fn ttrt_backend_wait_for_idle(be: *mut ttrt_backend) -> ttrt_status {
    call("ttrt_backend_wait_for_idle", || -> Result<(), CallError> {
        Ok(backend(be)?.backend.wait_for_idle()?)
    })
}

fn release_owned(id: u64) {
    OWNED.with(|o| o.retain(|e| e.1 != id));
}

/// Stops the device (tt_backend::finish). Backend-owned tensors of this backend are released;
/// every later call on it fails with `TTRT_STATUS_INVALID_STATE`. Calls waiting on other
/// threads (`ttrt_push_input` for room, `ttrt_get_output`, `ttrt_get_output_into` and
/// `ttrt_pop_output` for entries) are woken and return `TTRT_STATUS_CANCELLED`; finish then
/// waits for the calls in progress on the backend to end (a run_program ends its program).
/// A finish that fails (already finished, or a device failure it reports) releases nothing.
///
/// # Safety
/// `be` is a backend handle.
#[no_mangle]
pub unsafe extern "C" fn ttrt_backend_finish(be: *mut ttrt_backend) -> ttrt_status {
    call("ttrt_backend_finish", || -> Result<(), CallError> {
        let h = backend(be)?;
        h.backend.finish()?;
        release_owned(h.id);
        Ok(())
    })
}

/// Frees a backend (finishing it first if needed, which wakes the calls waiting on it on
/// other threads as `ttrt_backend_finish` does; the memory is freed once they have returned).
/// NULL is accepted.
///
/// # Safety
/// `be` is NULL or a backend handle.
#[no_mangle]
pub unsafe extern "C" fn ttrt_backend_free(be: *mut ttrt_backend) {
    guard("ttrt_backend_free", (), || {
        if be.is_null() {
            return;
        }
        if let Ok(h) = backend(be) {
            let _ = h.backend.finish();
            release_owned(h.id);
        }
        // The calls woken by finish hold the handle until they return: remove waits for them.
        if let Err(e) = BackendHandle::table().remove(be, "be") {
            set_last_error(format_args!("ttrt_backend_free: {e}"));
        }
    })
}
