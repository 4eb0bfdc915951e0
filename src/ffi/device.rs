//! `ttrt_device`: a simulated chip with its command queues, events and traces (TT-Metal's
//! device, `EnqueueRecordEvent`/`EnqueueWaitForEvent`, `BeginTraceCapture`/`ReplayTrace`).
//!
//! With `std`, opening a device starts one worker thread per command queue that drives the
//! chip, so the host enqueues and returns while the device runs. Without `std` the caller drives
//! the device with `ttrt_device_poll`.

use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, Ordering};

use super::boundary::{arg, call, check_len, guard, out, sized_config, AppendOnlyConfig};
use super::event::ttrt_event;
use super::format::arch_of;
use super::handle::{Handle, HandleTable};
use super::status::ttrt_status;
use crate::hal::select::AnyChip;
use crate::hal::ChipGeometry;
use crate::runtime::error::fail;
use crate::runtime::{Device, DeviceConfig, ErrorKind, Event, RuntimeError};

/// An open device (opaque).
pub struct ttrt_device {
    _private: [u8; 0],
}

/// How `ttrt_device_open` opens a device. Fill with `ttrt_device_config_default` first.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ttrt_device_config {
    /// `sizeof(ttrt_device_config)`.
    pub struct_size: u32,
    /// The device's id (events carry it). Default 0.
    pub device_id: u32,
    /// A `ttrt_arch`: the simulated chip's geometry. Default `TTRT_ARCH_WORMHOLE_B0`.
    pub arch: u32,
    /// 1 or 2. Default 1.
    pub num_command_queues: u32,
    /// Bytes of DRAM kept for traces. Default 0 (no traces).
    pub trace_region_size: u64,
    /// Bytes of L1 per core kept for L1_SMALL buffers. Default 0.
    pub l1_small_size: u64,
    /// Bytes of each command queue's data ring in host memory (non-blocking writes wait there
    /// until the device takes them). Default 16 MiB.
    pub cq_data_size: u64,
    /// Bytes at `arena`.
    pub arena_size: u64,
    /// Memory for the whole simulated device, from the caller, or NULL (default): the device's
    /// host memory (command rings, trace store) at the start, the chip's L1 of every core and
    /// its DRAM channels (as large as what remains allows) after it. It must stay valid and
    /// untouched until `ttrt_device_close`. Required without `std`, where nothing else can
    /// provide it; with `std` NULL gives sparse mappings of the full DRAM.
    pub arena: *mut core::ffi::c_void,
    /// Nonzero: CQ n's worker thread runs only on CPU `worker_cpu[n]`. Default 0: the
    /// operating system places the workers. On a machine of a few CPUs Linux can place both
    /// workers of a 2-CQ device on one CPU (it puts a woken thread near the thread that woke
    /// it), where one CQ waits for the other's programs while another CPU idles; pinning them
    /// apart keeps both CQs running. A pinned worker waiting for the other CQ's event polls
    /// for up to 200 us before it sleeps. Linux only: elsewhere, and without `std` (no worker
    /// threads), a nonzero value is refused.
    pub pin_workers: u32,
    /// The CPU, as the operating system numbers them, of each CQ's worker when `pin_workers`
    /// is set (entries past `num_command_queues` are ignored). Default {0, 1}.
    pub worker_cpu: [u32; 2],
    /// Bytes of host memory that one allocation sized by input may take (a pipeline's
    /// preallocated output tensors); more is `TTRT_STATUS_OUT_OF_MEMORY`, naming the bytes
    /// asked. Default 0: the machine's physical memory.
    pub host_memory_budget: u64,
    /// Which device to open, NUL-terminated: `"sim"`, the simulated chip in this process, or
    /// `"shm:NAME"`, the simulated chip the device process `ttrt sim-device NAME` serves,
    /// attached over shared memory (Linux; several processes may attach to one device).
    /// Default NULL: the `TTRT_DEVICE` environment variable, else `"sim"`. Read during
    /// `ttrt_device_open` only. Appended after `host_memory_budget`.
    pub device: *const core::ffi::c_char,
    /// The path of a Buda SoC descriptor (tt-budabackend's `device/*.yaml`), NUL-terminated:
    /// the chip's worker grid (its compute grid), DRAM channels and their size, and L1 size
    /// are the descriptor's, whose `arch_name` must be `arch`. Default NULL: the arch's
    /// default geometry. Read during `ttrt_device_open` only, when `struct_size` covers it
    /// (appended after `device`); needs `std`.
    pub soc_descriptor: *const core::ffi::c_char,
    /// Buda's harvesting mask: bit `i` set harvests the Tensix cores of NOC row `i`
    /// (PyBuda's `harvested_rows=[1, 11]` is 2050). Each harvested row makes the worker grid
    /// and the compute grid one row shorter; Grayskull and Wormhole B0 can harvest rows 1-5
    /// and 7-11 only, Blackhole no rows (it harvests columns). Default 0: none. Read only when
    /// `struct_size` covers it.
    pub harvested_rows: u64,
}

// SAFETY: integers and one pointer (NULL when zero), struct_size first.
unsafe impl AppendOnlyConfig for ttrt_device_config {}

static_assertions::const_assert_eq!(core::mem::offset_of!(ttrt_device_config, arena_size), 40);
static_assertions::const_assert_eq!(core::mem::offset_of!(ttrt_device_config, arena), 48);
static_assertions::const_assert_eq!(
    core::mem::offset_of!(ttrt_device_config, pin_workers),
    48 + core::mem::size_of::<usize>()
);
/// What `struct_size` must be at least: the config before `arena_size` and `arena` were added
/// (both then read as absent).
const CONFIG_SIZE_V1: u32 = 40;
static_assertions::const_assert_eq!(
    core::mem::offset_of!(ttrt_device_config, trace_region_size),
    16
);
static_assertions::const_assert_eq!(core::mem::offset_of!(ttrt_device_config, cq_data_size), 32);
static_assertions::const_assert_eq!(
    core::mem::offset_of!(ttrt_device_config, host_memory_budget),
    56 + 2 * core::mem::size_of::<usize>()
);
static_assertions::const_assert_eq!(
    core::mem::offset_of!(ttrt_device_config, device),
    64 + 2 * core::mem::size_of::<usize>()
);
static_assertions::const_assert_eq!(
    core::mem::offset_of!(ttrt_device_config, soc_descriptor),
    64 + 3 * core::mem::size_of::<usize>()
);
static_assertions::const_assert_eq!(
    core::mem::offset_of!(ttrt_device_config, harvested_rows),
    64 + 4 * core::mem::size_of::<usize>()
);

/// What a device handle and the tensors allocated on it share.
pub(crate) struct Shared {
    pub dev: Device<AnyChip>,
    pub closed: AtomicBool,
    #[cfg(feature = "std")]
    workers: crate::sync::Lock<alloc::vec::Vec<std::thread::JoinHandle<()>>>,
}

impl Shared {
    /// The device, unless it was closed.
    pub fn open(&self) -> Result<&Device<AnyChip>, RuntimeError> {
        if self.closed.load(Ordering::Acquire) {
            return fail!(InvalidState, "device {} is closed", self.dev.id());
        }
        Ok(&self.dev)
    }

    /// Stops the worker threads after the rings drain.
    fn stop_workers(&self) {
        self.dev.stop();
        // Without workers, the caller's thread runs what is left.
        #[cfg(not(feature = "std"))]
        self.dev.poll();
        #[cfg(feature = "std")]
        for w in self.workers.with(core::mem::take) {
            let _ = w.join();
        }
    }
}

pub(crate) struct DeviceHandle {
    pub shared: Arc<Shared>,
}

impl Handle for DeviceHandle {
    type Opaque = ttrt_device;
    const KIND: &'static str = "ttrt_device";
    const TAG: usize = 2;
    fn table() -> &'static HandleTable<Self> {
        static TABLE: HandleTable<DeviceHandle> = HandleTable::new();
        &TABLE
    }
}

impl Drop for DeviceHandle {
    fn drop(&mut self) {
        // Closing stops the workers first; this covers a handle dropped without close.
        self.shared.closed.store(true, Ordering::Release);
        self.shared.stop_workers();
    }
}

/// The device behind a handle, borrowed for one call.
pub(crate) fn device<'a>(
    dev: *const ttrt_device,
) -> Result<super::handle::Borrow<'a, DeviceHandle>, RuntimeError> {
    Ok(DeviceHandle::table().get(dev, "dev")?)
}

/// Fills `cfg` with the defaults: device 0, Wormhole B0, 1 command queue, no trace region,
/// no L1_SMALL region, 16 MiB data ring per command queue, workers not pinned (CPUs 0 and 1
/// once `pin_workers` is set).
///
/// # Safety
/// `cfg` is NULL (ignored) or points to a writable `ttrt_device_config`.
#[no_mangle]
pub unsafe extern "C" fn ttrt_device_config_default(cfg: *mut ttrt_device_config) {
    guard("ttrt_device_config_default", (), || {
        let d = DeviceConfig::default();
        // SAFETY: the caller's contract.
        if let Ok(o) = unsafe { out(cfg, "cfg") } {
            o.write(ttrt_device_config {
                struct_size: core::mem::size_of::<ttrt_device_config>() as u32,
                device_id: d.device_id,
                arch: 2,
                num_command_queues: d.num_command_queues as u32,
                trace_region_size: d.trace_region_size,
                l1_small_size: d.l1_small_size,
                cq_data_size: d.cq_data_size,
                arena_size: 0,
                arena: core::ptr::null_mut(),
                pin_workers: 0,
                worker_cpu: [0, 1],
                host_memory_budget: 0,
                device: core::ptr::null(),
                soc_descriptor: core::ptr::null(),
                harvested_rows: 0,
            });
        }
    })
}

/// Bytes of `cfg->device` (a Unix socket's abstract name holds 107).
const MAX_DEVICE_NAME: usize = 96;

/// What `ttrt_device_open` needs from a `ttrt_device_config`.
struct OpenConfig {
    device: DeviceConfig,
    /// `cfg->device` when given.
    chip: Option<heapless::String<MAX_DEVICE_NAME>>,
    arena: Option<&'static mut [u8]>,
    /// The CPU of each CQ's worker, when pinned.
    worker_cpu: Option<[u32; 2]>,
    /// The chip's geometry: the arch's, or `cfg->soc_descriptor`'s, harvested.
    geometry: ChipGeometry,
}

/// The chip's geometry `c` asks for: its arch's default or its SoC descriptor's, with its
/// harvested rows.
fn geometry_of(
    c: &ttrt_device_config,
    arch: crate::format::Arch,
) -> Result<ChipGeometry, RuntimeError> {
    use crate::hal::soc::{geometry_for, GeometryError};
    let desc = if c.soc_descriptor.is_null() {
        None
    } else {
        // SAFETY: the caller's contract: a NUL-terminated string.
        let text = unsafe { core::ffi::CStr::from_ptr(c.soc_descriptor) };
        let Ok(path) = text.to_str() else {
            return fail!(InvalidArgument, "cfg->soc_descriptor is not UTF-8");
        };
        #[cfg(feature = "std")]
        let d = crate::hal::soc::read_file(path).map_err(|e| {
            RuntimeError::new(
                ErrorKind::InvalidArgument,
                format_args!("cfg->soc_descriptor: {e}"),
            )
        })?;
        #[cfg(not(feature = "std"))]
        return fail!(
            Unsupported,
            "cfg->soc_descriptor names {path}, but without std there are no files to read"
        );
        #[cfg(feature = "std")]
        Some((d, path))
    };
    geometry_for(arch, desc.as_ref().map(|(d, p)| (d, *p)), c.harvested_rows).map_err(|e| {
        let field = match e {
            GeometryError::Harvest(_) => "cfg->harvested_rows",
            _ => "cfg->soc_descriptor",
        };
        RuntimeError::new(ErrorKind::InvalidArgument, format_args!("{field}: {e}"))
    })
}

/// Reads a config of `c.struct_size` bytes.
///
/// # Safety
/// `c` points to at least `c.struct_size` readable bytes; a non-NULL `arena` to `arena_size`
/// bytes that nothing else uses until the device closes.
unsafe fn config_of(c: *const ttrt_device_config) -> Result<OpenConfig, RuntimeError> {
    // SAFETY: the caller's contract.
    let c = unsafe { sized_config(c, "cfg", CONFIG_SIZE_V1) }?;
    if !(1..=2).contains(&c.num_command_queues) {
        return fail!(
            InvalidArgument,
            "cfg->num_command_queues is {}; a device has 1 or 2 command queues",
            c.num_command_queues
        );
    }
    let arena = match (c.arena.is_null(), c.arena_size) {
        (true, 0) => None,
        (true, n) => {
            return fail!(
                InvalidArgument,
                "cfg->arena is NULL but cfg->arena_size is {n}"
            )
        }
        (false, n) => {
            let Ok(len) = usize::try_from(n) else {
                return fail!(
                    InvalidArgument,
                    "cfg->arena_size {n} does not fit this target's address space"
                );
            };
            check_len::<u8>(len, "cfg->arena_size")?;
            // SAFETY: the caller's contract: `len` bytes at `arena`, the device's alone until
            // it closes.
            Some(unsafe { core::slice::from_raw_parts_mut(c.arena.cast::<u8>(), len) })
        }
    };
    let worker_cpu = (c.pin_workers != 0).then_some(c.worker_cpu);
    let chip = if c.device.is_null() {
        None
    } else {
        // SAFETY: the caller's contract: a NUL-terminated string.
        let text = unsafe { core::ffi::CStr::from_ptr(c.device) };
        let Ok(text) = text.to_str() else {
            return fail!(InvalidArgument, "cfg->device is not UTF-8");
        };
        let Ok(name) = heapless::String::try_from(text) else {
            return fail!(
                InvalidArgument,
                "cfg->device is {} bytes long; at most {MAX_DEVICE_NAME} are allowed",
                text.len()
            );
        };
        Some(name)
    };
    #[cfg(not(feature = "std"))]
    if worker_cpu.is_some() {
        return fail!(
            Unsupported,
            "cfg->pin_workers is set, but this build has no worker threads to pin (without std \
             the caller drives the device with ttrt_device_poll)"
        );
    }
    let arch = arch_of(c.arch, "cfg->arch")?;
    let geometry = geometry_of(&c, arch)?;
    Ok(OpenConfig {
        worker_cpu,
        chip,
        geometry,
        device: DeviceConfig {
            device_id: c.device_id,
            arch,
            num_command_queues: c.num_command_queues as u8,
            trace_region_size: c.trace_region_size,
            l1_small_size: c.l1_small_size,
            cq_data_size: c.cq_data_size,
            host_memory_budget: c.host_memory_budget,
        },
        arena,
    })
}

/// The device over the caller's arena: its host memory first (aligned to 64), the chip after.
fn device_in(
    cfg: DeviceConfig,
    geometry: ChipGeometry,
    arena: &'static mut [u8],
) -> Result<Device<AnyChip>, RuntimeError> {
    let (len, at) = (arena.len(), arena.as_ptr());
    let need = Device::<AnyChip>::sysmem_size_for(&cfg, &geometry);
    let skip = at.align_offset(64);
    let too_small = || {
        RuntimeError::new(
            ErrorKind::InvalidArgument,
            format_args!(
                "cfg->arena of {len} B at {at:p} is too small for {}: it needs {need} B of \
                 host memory, then the L1 of every core and at least one page per DRAM channel",
                cfg.arch.name()
            ),
        )
    };
    if skip.saturating_add(need) >= len {
        return Err(too_small());
    }
    let (sysmem, chip_memory) = arena[skip..].split_at_mut(need);
    let chip = AnyChip::of_in_arena(geometry, chip_memory).ok_or_else(too_small)?;
    Device::new_in(cfg, chip, sysmem)
}

#[cfg(feature = "std")]
fn open_device(cfg: OpenConfig) -> Result<Arc<Shared>, RuntimeError> {
    let OpenConfig {
        device: cfg,
        chip,
        arena,
        worker_cpu,
        geometry,
    } = cfg;
    let (name, from) = match chip {
        Some(name) => (alloc::string::String::from(name.as_str()), "cfg->device"),
        None => (
            crate::hal::select::device_from_env(),
            crate::hal::select::DEVICE_ENV,
        ),
    };
    let spec = crate::hal::select::DeviceSpec::parse(&name);
    let in_process = spec == Some(crate::hal::select::DeviceSpec::InProcess);
    let dev = match arena {
        // The arena is the simulated chip's memory in this process: it wins over the
        // environment's default device, not over the config's own choice.
        Some(arena) if in_process || from == crate::hal::select::DEVICE_ENV => {
            device_in(cfg, geometry, arena)?
        }
        Some(_) => {
            return fail!(
                InvalidArgument,
                "cfg->arena is memory for the simulated chip in this process, but {from} \
                 names device '{name}'"
            )
        }
        None => {
            let chip = AnyChip::open_as(&name, &geometry).map_err(|e| {
                let kind = match (spec, &e) {
                    (None, _) => ErrorKind::InvalidArgument,
                    (_, crate::hal::HalError::Lost(_)) => ErrorKind::DeviceLost,
                    _ if in_process => ErrorKind::OutOfMemory,
                    _ => ErrorKind::Device,
                };
                match in_process {
                    true => RuntimeError::new(kind, format_args!("{e}")),
                    false => RuntimeError::new(kind, format_args!("{from}: {e}")),
                }
            })?;
            Device::new(cfg, chip)?
        }
    };
    let shared = Arc::new(Shared {
        dev,
        closed: AtomicBool::new(false),
        workers: crate::sync::Lock::new(alloc::vec::Vec::new()),
    });
    shared.dev.set_threaded(true);
    if worker_cpu.is_some() {
        shared
            .dev
            .set_event_poll(crate::affinity::PINNED_EVENT_POLL_US);
    }
    for cq in 0..cfg.num_command_queues {
        let s = Arc::clone(&shared);
        let worker = std::thread::Builder::new()
            .name(alloc::format!("ttrt-dev{}-cq{cq}", cfg.device_id))
            .spawn(move || s.dev.serve(cq))
            .map_err(|e| {
                RuntimeError::new(
                    ErrorKind::OutOfMemory,
                    format_args!("cannot start the worker thread of CQ {cq}: {e}"),
                )
            })
            .and_then(|w| {
                let pinned = worker_cpu.map_or(Ok(()), |cpus| pin_worker(&w, cq, cpus));
                shared.workers.with(|ws| ws.push(w));
                pinned
            });
        if let Err(e) = worker {
            shared.stop_workers();
            return Err(e);
        }
    }
    Ok(shared)
}

/// Pins the worker of CQ `cq` to `cpus[cq]`.
#[cfg(feature = "std")]
fn pin_worker(w: &std::thread::JoinHandle<()>, cq: u8, cpus: [u32; 2]) -> Result<(), RuntimeError> {
    use crate::affinity::{pin, PinError};
    let what = alloc::format!("cfg->worker_cpu[{cq}]");
    pin(w, cpus[cq as usize], &what).map_err(|e| {
        let kind = match e {
            PinError::NotAllowed(_) => ErrorKind::InvalidArgument,
            PinError::Unsupported(_) => ErrorKind::Unsupported,
        };
        RuntimeError::new(kind, format_args!("{e}"))
    })
}

/// Without `std` the device lives in the caller's arena and the caller drives it
/// (`ttrt_device_poll`; blocking calls drive it themselves).
#[cfg(not(feature = "std"))]
fn open_device(cfg: OpenConfig) -> Result<Arc<Shared>, RuntimeError> {
    let OpenConfig {
        device: cfg,
        arena,
        chip,
        geometry,
        ..
    } = cfg;
    if chip.as_deref().is_some_and(|c| c != "sim" && !c.is_empty()) {
        return fail!(
            Unsupported,
            "cfg->device names a device other than \"sim\"; without std only the simulated \
             chip in the caller's arena can be opened"
        );
    }
    let Some(arena) = arena else {
        return fail!(
            InvalidArgument,
            "cfg->arena is NULL: without std the simulated device's memory comes from the \
             firmware (set cfg->arena and cfg->arena_size)"
        );
    };
    Ok(Arc::new(Shared {
        dev: device_in(cfg, geometry, arena)?,
        closed: AtomicBool::new(false),
    }))
}

/// Opens a device: a simulated chip of `cfg->arch` (NULL: the defaults).
///
/// # Safety
/// `cfg` is NULL or points to a `ttrt_device_config`; `out_dev` points to writable storage.
#[no_mangle]
pub unsafe extern "C" fn ttrt_device_open(
    cfg: *const ttrt_device_config,
    out_dev: *mut *mut ttrt_device,
) -> ttrt_status {
    call("ttrt_device_open", || {
        // SAFETY: the caller's contract.
        let o = unsafe { out(out_dev, "out_dev")? };
        let config = if cfg.is_null() {
            OpenConfig {
                device: DeviceConfig::default(),
                chip: None,
                arena: None,
                worker_cpu: None,
                geometry: ChipGeometry::of(DeviceConfig::default().arch),
            }
        } else {
            // SAFETY: the caller's contract.
            unsafe { config_of(cfg)? }
        };
        let shared = open_device(config)?;
        let handle = DeviceHandle::table()
            .insert(DeviceHandle { shared })
            .ok_or_else(|| {
                RuntimeError::new(
                    crate::runtime::ErrorKind::OutOfMemory,
                    format_args!("too many open devices"),
                )
            })?;
        o.write(handle);
        Ok::<(), RuntimeError>(())
    })
}

/// Closes the device: finishes every command queue, stops the device and frees the handle.
/// NULL is accepted. Tensors of the device stay valid handles but refuse every use but
/// `ttrt_tensor_free`.
///
/// Calls of other threads waiting on the device (`ttrt_event_synchronize`, `ttrt_finish`,
/// `ttrt_synchronize`, blocking copies, `ttrt_release_trace`) are woken and return
/// `TTRT_STATUS_CANCELLED`; a blocking copy returns once the device is done with the caller's
/// memory. A trace capture in progress ends, storing nothing. The commands already enqueued
/// run before the device stops.
///
/// Once close has started on a valid handle, the handle is freed whatever the status, as
/// `fclose` closes its stream: a status other than success then reports a failure the device
/// met running commands enqueued before (with its text). A close that fails at once
/// (`dev` is not an open device, or another thread is closing it) changes nothing.
///
/// # Safety
/// `dev` is NULL or a handle from `ttrt_device_open`.
#[no_mangle]
pub unsafe extern "C" fn ttrt_device_close(dev: *mut ttrt_device) -> ttrt_status {
    call("ttrt_device_close", || {
        if dev.is_null() {
            return Ok(());
        }
        let result = {
            let h = device(dev)?;
            if h.shared.closed.swap(true, Ordering::AcqRel) {
                return fail!(
                    InvalidState,
                    "device {} is being closed by another thread",
                    h.shared.dev.id()
                );
            }
            h.shared.dev.cancel_waits();
            h.shared.stop_workers();
            h.shared.dev.take_errors()
        };
        // The calls woken above hold the handle until they return: remove waits for them.
        DeviceHandle::table().remove(dev, "dev")?;
        result
    })
}

/// Drives the device: runs queued commands until every CQ is empty or waits on an event.
/// Needed only without `std` (firmware loops); with `std` worker threads do it and this
/// reports no work.
///
/// # Safety
/// `dev` is a device handle; `did_work` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ttrt_device_poll(
    dev: *mut ttrt_device,
    did_work: *mut bool,
) -> ttrt_status {
    call("ttrt_device_poll", || {
        let h = device(dev)?;
        let d = h.shared.open()?;
        let worked = if cfg!(feature = "std") {
            false
        } else {
            d.poll()
        };
        if !did_work.is_null() {
            // SAFETY: the caller's contract.
            unsafe { out(did_work, "did_work")? }.write(worked);
        }
        Ok::<(), RuntimeError>(())
    })
}

/// Runs `f` on the open device behind `dev`.
fn with_device<T>(
    dev: *const ttrt_device,
    f: impl FnOnce(&Device<AnyChip>) -> Result<T, RuntimeError>,
) -> Result<T, RuntimeError> {
    let h = device(dev)?;
    f(h.shared.open()?)
}

/// Waits until every command enqueued on `cq` has completed. Returns a failure the device
/// met while running them, with its text.
///
/// # Safety
/// `dev` is a device handle.
#[no_mangle]
pub unsafe extern "C" fn ttrt_finish(dev: *mut ttrt_device, cq: u8) -> ttrt_status {
    call("ttrt_finish", || with_device(dev, |d| d.finish(cq)))
}

/// Waits for every command queue of the device.
///
/// # Safety
/// `dev` is a device handle.
#[no_mangle]
pub unsafe extern "C" fn ttrt_synchronize(dev: *mut ttrt_device) -> ttrt_status {
    call("ttrt_synchronize", || with_device(dev, |d| d.synchronize()))
}

fn event_of(e: &ttrt_event) -> Event {
    Event {
        device_id: e.device_id,
        cq_id: e.cq_id,
        id: e.id,
    }
}

/// Records an event on `cq`: it completes when every command enqueued before it on `cq` has.
/// Ids count per command queue from 1 and wrap past 2^32 - 1 back to 1 (0 is never an id).
///
/// # Safety
/// `dev` is a device handle; `ev` points to a writable `ttrt_event`.
#[no_mangle]
pub unsafe extern "C" fn ttrt_record_event(
    dev: *mut ttrt_device,
    cq: u8,
    ev: *mut ttrt_event,
) -> ttrt_status {
    call("ttrt_record_event", || {
        // SAFETY: the caller's contract.
        let o = unsafe { out(ev, "ev")? };
        let e = with_device(dev, |d| d.record_event(cq))?;
        o.write(ttrt_event {
            device_id: e.device_id,
            cq_id: e.cq_id,
            id: e.id,
        });
        Ok::<(), RuntimeError>(())
    })
}

/// Makes `cq` wait until `ev` completes; the host does not wait. An event that was never
/// recorded is refused (it could never complete): ids from 1 to the last one recorded on its
/// command queue are accepted (after the ids wrapped, any nonzero id; those older than the
/// last 2^31 count as complete).
///
/// # Safety
/// `dev` is a device handle; `ev` points to a `ttrt_event`.
#[no_mangle]
pub unsafe extern "C" fn ttrt_wait_for_event(
    dev: *mut ttrt_device,
    cq: u8,
    ev: *const ttrt_event,
) -> ttrt_status {
    call("ttrt_wait_for_event", || {
        // SAFETY: the caller's contract.
        let e = event_of(unsafe { arg(ev, "ev")? });
        with_device(dev, |d| d.wait_for_event(cq, &e))
    })
}

/// Blocks until `ev` completes: `timeout_ms < 0` waits as long as it takes, otherwise at most
/// that long (`TTRT_STATUS_TIMEOUT`). An event never recorded is refused, as by
/// `ttrt_wait_for_event`.
///
/// # Safety
/// `dev` is a device handle; `ev` points to a `ttrt_event`.
#[no_mangle]
pub unsafe extern "C" fn ttrt_event_synchronize(
    dev: *mut ttrt_device,
    ev: *const ttrt_event,
    timeout_ms: i32,
) -> ttrt_status {
    call("ttrt_event_synchronize", || {
        // SAFETY: the caller's contract.
        let e = event_of(unsafe { arg(ev, "ev")? });
        with_device(dev, |d| d.event_synchronize(&e, timeout_ms))
    })
}

/// Whether `ev` has completed. An event never recorded is refused
/// (`TTRT_STATUS_INVALID_ARGUMENT`), as by `ttrt_wait_for_event`.
///
/// # Safety
/// `dev` is a device handle; `ev` points to a `ttrt_event`; `completed` is writable.
#[no_mangle]
pub unsafe extern "C" fn ttrt_event_query(
    dev: *mut ttrt_device,
    ev: *const ttrt_event,
    completed: *mut bool,
) -> ttrt_status {
    call("ttrt_event_query", || {
        // SAFETY: the caller's contract.
        let e = event_of(unsafe { arg(ev, "ev")? });
        // SAFETY: the caller's contract.
        let o = unsafe { out(completed, "completed")? };
        o.write(with_device(dev, |d| d.event_query(&e))?);
        Ok::<(), RuntimeError>(())
    })
}

/// Starts capturing a trace on `cq`: device ops enqueued on `cq` until the end of capture are
/// recorded, not run. Writes, reads and events on `cq` are refused meanwhile.
///
/// # Safety
/// `dev` is a device handle; `trace_id` is writable.
#[no_mangle]
pub unsafe extern "C" fn ttrt_begin_trace_capture(
    dev: *mut ttrt_device,
    cq: u8,
    trace_id: *mut u32,
) -> ttrt_status {
    call("ttrt_begin_trace_capture", || {
        // SAFETY: the caller's contract.
        let o = unsafe { out(trace_id, "trace_id")? };
        o.write(with_device(dev, |d| d.begin_trace_capture(cq))?);
        Ok::<(), RuntimeError>(())
    })
}

/// Ends the capture of `trace_id` on `cq` and stores the trace in the trace region.
///
/// # Safety
/// `dev` is a device handle.
#[no_mangle]
pub unsafe extern "C" fn ttrt_end_trace_capture(
    dev: *mut ttrt_device,
    cq: u8,
    trace_id: u32,
) -> ttrt_status {
    call("ttrt_end_trace_capture", || {
        with_device(dev, |d| d.end_trace_capture(cq, trace_id))
    })
}

/// Replays a trace on `cq` with the buffer addresses it captured; `blocking` waits for it.
///
/// # Safety
/// `dev` is a device handle.
#[no_mangle]
pub unsafe extern "C" fn ttrt_execute_trace(
    dev: *mut ttrt_device,
    cq: u8,
    trace_id: u32,
    blocking: bool,
) -> ttrt_status {
    call("ttrt_execute_trace", || {
        with_device(dev, |d| d.execute_trace(cq, trace_id, blocking))
    })
}

/// Frees a trace and its share of the trace region (after replays in flight complete).
///
/// # Safety
/// `dev` is a device handle.
#[no_mangle]
pub unsafe extern "C" fn ttrt_release_trace(dev: *mut ttrt_device, trace_id: u32) -> ttrt_status {
    call("ttrt_release_trace", || {
        with_device(dev, |d| d.release_trace(trace_id))
    })
}

/// Test support: a kernel that keeps a CQ busy until the test opens its gate, so a call that
/// waits on the device is still waiting when another thread acts.
#[cfg(all(test, feature = "std"))]
pub(crate) mod held {
    use super::*;
    use crate::hal::Chip;
    use crate::runtime::{Kernel, KernelMessage};
    use core::sync::atomic::AtomicBool;

    fn held(ctx: usize, _chip: &dyn Chip, _error: &mut KernelMessage) -> bool {
        // SAFETY: ctx is the gate leaked by `held_cq`.
        let gate = unsafe { &*(ctx as *const AtomicBool) };
        while !gate.load(Ordering::Acquire) {
            std::thread::sleep(std::time::Duration::from_micros(50));
        }
        true
    }

    /// Enqueues on CQ `cq` of `dev` a kernel that runs until the returned gate is set.
    pub(crate) fn held_cq(dev: *mut ttrt_device, cq: u8) -> &'static AtomicBool {
        let gate: &'static AtomicBool = Box::leak(Box::new(AtomicBool::new(false)));
        let shared = Arc::clone(&device(dev).unwrap().shared);
        // SAFETY: the gate is leaked, so it outlives the kernel.
        unsafe {
            shared
                .dev
                .enqueue_kernel(
                    cq,
                    Kernel {
                        entry: held,
                        ctx: gate as *const AtomicBool as usize,
                    },
                )
                .unwrap();
        }
        gate
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    //! ttrt_device_close against calls waiting on other threads. A kernel that runs until the
    //! test opens its gate keeps the device busy, so each waiter is still waiting when close
    //! starts; a watchdog turns a call that never returns into a failure.

    use super::held::held_cq;
    use super::*;
    use crate::ffi::tensor::*;
    use std::sync::mpsc;
    use std::time::Duration;

    const WATCHDOG: Duration = Duration::from_secs(30);

    fn recv<T>(rx: &mpsc::Receiver<T>, what: &str) -> T {
        rx.recv_timeout(WATCHDOG)
            .unwrap_or_else(|_| panic!("{what} did not return within {WATCHDOG:?}: it hangs"))
    }

    fn last() -> alloc::string::String {
        crate::ffi::error::last_error()
    }

    /// Polls `ready` until it holds; fails after the watchdog time.
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

    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Waiter {
        EventSynchronize,
        Finish,
        BlockingRead,
    }

    fn close_wakes(waiter: Waiter) {
        let mut dev = core::ptr::null_mut();
        // SAFETY: C API calls with valid pointers.
        unsafe {
            assert_eq!(
                ttrt_device_open(core::ptr::null(), &mut dev),
                ttrt_status::Success
            );
        }
        let spec = ttrt_tensor_spec {
            shape: [1, 1, 32, 32],
            format: 0,
            layout: ttrt_tensor_layout::Tile as u32,
        };
        let mem = ttrt_memory_config {
            buffer_type: ttrt_buffer_type::Dram as u32,
            memory_layout: ttrt_memory_layout::Interleaved as u32,
            shard: ttrt_shard_spec::default(),
        };
        let mut t = core::ptr::null_mut();
        // SAFETY: as above.
        unsafe {
            assert_eq!(
                ttrt_allocate_tensor_on_device(dev, &spec, &mem, &mut t),
                ttrt_status::Success
            );
        }
        let gate = held_cq(dev, 0);
        let shared = Arc::clone(&device(dev).unwrap().shared);
        let mut ev = ttrt_event::default();
        // SAFETY: as above.
        unsafe {
            assert_eq!(ttrt_record_event(dev, 0, &mut ev), ttrt_status::Success);
        }
        let (d, tt) = (dev as usize, t as usize);
        let (tx, waited) = mpsc::channel();
        std::thread::spawn(move || {
            let dev = d as *mut ttrt_device;
            let mut out = alloc::vec![0f32; 32 * 32];
            let mut host = ttrt_host_tensor {
                data: out.as_mut_ptr().cast(),
                size: out.len() * 4,
                shape: [1, 1, 32, 32],
                format: 0,
                layout: ttrt_tensor_layout::RowMajor as u32,
            };
            // SAFETY: C API calls with valid handles and pointers; `out` outlives the call.
            let st = unsafe {
                match waiter {
                    Waiter::EventSynchronize => ttrt_event_synchronize(dev, &ev, -1),
                    Waiter::Finish => ttrt_finish(dev, 0),
                    Waiter::BlockingRead => ttrt_copy_device_to_host_tensor(
                        dev,
                        0,
                        tt as *const ttrt_tensor,
                        &mut host,
                        true,
                    ),
                }
            };
            let _ = tx.send((st, last()));
        });
        // The waiter is asleep in its wait (the kernel holds the device).
        until("the waiter's sleep", || shared.dev.waiters() != 0);
        let (tx, closed) = mpsc::channel();
        std::thread::spawn(move || {
            // SAFETY: a device handle.
            let st = unsafe { ttrt_device_close(d as *mut ttrt_device) };
            let _ = tx.send((st, last()));
        });
        let (st, text) = match waiter {
            Waiter::BlockingRead => {
                // The device still writes into the caller's buffer: the call returns once the
                // read has run, which the gate allows once close has begun.
                until("the start of close", || shared.dev.is_closing());
                gate.store(true, Ordering::Release);
                recv(&waited, "the blocked read")
            }
            _ => {
                let r = recv(&waited, "the blocked call");
                gate.store(true, Ordering::Release);
                r
            }
        };
        let (func, tail) = match waiter {
            Waiter::EventSynchronize => ("ttrt_event_synchronize", ""),
            Waiter::Finish => ("ttrt_finish", ""),
            Waiter::BlockingRead => (
                "ttrt_copy_device_to_host_tensor",
                " (the device finished with the call's memory first)",
            ),
        };
        assert_eq!(st, ttrt_status::Cancelled, "{waiter:?}: {text}");
        let id = match waiter {
            Waiter::EventSynchronize => 1,
            _ => 2,
        };
        assert_eq!(
            text,
            alloc::format!(
                "{func}: the device was closed while this call waited for event {id} on CQ 0 of \
                 device 0{tail}"
            )
        );
        let (st, text) = recv(&closed, "ttrt_device_close");
        assert_eq!(st, ttrt_status::Success, "close: {text}");
        // SAFETY: a freed handle is refused, not dereferenced.
        unsafe {
            assert_eq!(ttrt_finish(dev, 0), ttrt_status::InvalidArgument);
            ttrt_tensor_free(t);
        }
    }

    #[test]
    fn close_wakes_an_event_synchronize() {
        close_wakes(Waiter::EventSynchronize);
    }

    #[test]
    fn close_wakes_a_finish() {
        close_wakes(Waiter::Finish);
    }

    #[test]
    fn close_wakes_a_blocking_read_once_the_device_is_done_with_its_buffer() {
        close_wakes(Waiter::BlockingRead);
    }
}
