//! A device: a chip, its allocator, one or two command queues, events, traces and the program
//! cache, with the host API TT-Metal programs are written against.
//!
//! The host side encodes commands into the CQ rings and returns; the device side
//! ([`Device::serve`] on a worker thread per CQ, or [`Device::poll`] from a firmware loop)
//! consumes them in order. Allocation is host-side bookkeeping and takes effect at once, as in
//! TT-Metal: a buffer freed on the host may be reused by the next command of the same CQ.

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU8, Ordering};

use super::allocator::{Allocator, AllocatorConfig, BufferType};
use super::command_queue::{Command, CommandQueue, HostGuard, RING_RECORDS};
use super::error::{fail, ErrorKind, RuntimeError};
use super::event::{issued, reached, Event, Issued};
use super::host_memory::HostMemoryBudget;
use super::program_cache::{signature, ProgramCache};
use super::signal::Signal;
use super::tensor::{MemoryConfig, Tensor, TensorSpec};
use super::trace::{
    trace_size, TraceInfo, TraceTable, MAX_TRACES, TRACE_PAGE_SIZE, TRACE_RECORD_SIZE,
};
use super::transfer::{host_to_pages, pages_to_host, HostBuffer};
use crate::compute::{BinaryOp, UnaryOp};
use crate::format::{check_extent, Arch, Rounding};
use crate::hal::layout::{BankGeometry, BufferLayout, TensorLayout};
use crate::hal::{BufferRef, Chip, ChipGeometry, HalError, OpKind, Program};
use crate::sync::Lock;

mod raw;
pub use raw::{Kernel, KernelFn, KernelMessage};

/// How a device is opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceConfig {
    pub device_id: u32,
    pub arch: Arch,
    /// 1 or 2.
    pub num_command_queues: u8,
    /// Bytes of DRAM kept for traces.
    pub trace_region_size: u64,
    /// Bytes of L1 per core kept for L1_SMALL buffers.
    pub l1_small_size: u64,
    /// Bytes of each CQ's data ring in host memory (the bytes of non-blocking writes wait
    /// there until the device has taken them).
    pub cq_data_size: u64,
    /// Bytes of host memory an allocation sized by input may take (the pipeline's output
    /// tensors); 0: the machine's physical memory.
    pub host_memory_budget: u64,
}

impl Default for DeviceConfig {
    fn default() -> Self {
        DeviceConfig {
            device_id: 0,
            arch: Arch::WormholeB0,
            num_command_queues: 1,
            trace_region_size: 0,
            l1_small_size: 0,
            cq_data_size: 16 << 20,
            host_memory_budget: 0,
        }
    }
}

/// Programs a trace capture can hold beyond what the trace region holds, so that a capture
/// too large for the region still reaches end of capture and its size message.
const MIN_CAPTURE_RECORDS: u64 = 4096;

/// Upstream's texts for what a capture refuses.
const NO_WRITES: &str = "Writes are not supported during trace capture.";
const NO_READS: &str = "Reads are not supported during trace capture.";
const NO_EVENTS: &str = "Event Synchronization is not supported during trace capture.";
const NOT_CACHED: &str = "Cannot load new binaries during trace capture. This program is not yet in program cache. Warm up before capturing a trace.";
const NO_BLOCKING: &str = "Blocking is not supported when recording a trace.";
const ALLOC_WITH_TRACE: &str = "Allocating device buffers is unsafe due to the existence of an active trace. These buffers may be corrupted once a trace is executed.";

/// Trace ids count from 0 per process, as upstream.
static NEXT_TRACE_ID: AtomicU32 = AtomicU32::new(0);

/// Host memory a device keeps: the CQ rings, the trace store and the capture staging area.
struct Sysmem {
    base: *mut u8,
    #[cfg(feature = "std")]
    _map: Option<memmap2::MmapMut>,
}

/// Where each part of system memory lies.
#[derive(Clone, Copy)]
struct SysmemLayout {
    records: [usize; 2],
    data: [usize; 2],
    store: usize,
    store_slots: u64,
    staging: usize,
    staging_slots: u64,
    total: usize,
}

impl SysmemLayout {
    /// The layout, or `None` when it does not fit the address space (sizes from the config
    /// are the caller's: checked, never wrapped).
    fn of(cfg: &DeviceConfig, trace_per_bank: u64, banks: u32) -> Option<SysmemLayout> {
        let align = |x: usize| x.checked_next_multiple_of(64);
        let bytes = |n: u64, each: usize| usize::try_from(n).ok()?.checked_mul(each);
        let rec = RING_RECORDS as usize * core::mem::size_of::<Command>();
        let mut at = 0usize;
        let mut records = [0; 2];
        let mut data = [0; 2];
        for cq in 0..cfg.num_command_queues as usize {
            records[cq] = at;
            at = align(at.checked_add(rec)?)?;
            data[cq] = at;
            at = align(at.checked_add(bytes(cfg.cq_data_size, 1)?)?)?;
        }
        let store_slots = trace_per_bank.checked_mul(banks as u64)? / TRACE_RECORD_SIZE;
        let store = at;
        at = align(at.checked_add(bytes(store_slots, core::mem::size_of::<Program>())?)?)?;
        let staging_slots = store_slots.max(MIN_CAPTURE_RECORDS);
        let staging = at;
        at = align(at.checked_add(bytes(staging_slots, core::mem::size_of::<Program>())?)?)?;
        if at > isize::MAX as usize {
            return None;
        }
        Some(SysmemLayout {
            records,
            data,
            store,
            store_slots,
            staging,
            staging_slots,
            total: at,
        })
    }
}

/// What the allocator and the capture state hold (changed under the set-up lock).
struct Books {
    allocator: Allocator,
    /// Bytes of trace region the live traces take.
    trace_used: u64,
    /// Each live trace's buffer in the trace region (address, bytes), by table entry.
    trace_buffers: [(u64, u64); MAX_TRACES],
}

pub struct Device<C: Chip> {
    id: u32,
    chip: C,
    num_cqs: u8,
    cqs: [CommandQueue; 2],
    books: Lock<Books>,
    geometry: BankGeometry,
    trace_region_size: u64,
    host_memory_budget: HostMemoryBudget,
    trace_base: u64,
    dram_banks: u32,
    traces: TraceTable,
    program_cache: ProgramCache,
    sysmem: Sysmem,
    layout: SysmemLayout,
    /// The CQ capturing a trace, or `NO_CAPTURE`.
    capturing: AtomicU8,
    /// Set at end of capture; the next allocation while a trace lives warns and clears it.
    warn_next_alloc: AtomicBool,
    /// Worker threads drive the device (host waits sleep) rather than the host's own polls.
    threaded: AtomicBool,
    /// Microseconds a worker waiting for another CQ's event polls before it sleeps.
    event_poll_us: AtomicU32,
    shutdown: AtomicBool,
    /// Set by `cancel_waits` (the device is closing): host waits end with `Cancelled`.
    closing: AtomicBool,
    /// Host calls asleep in a wait, so `cancel_waits` knows whom it must still wake.
    waiting: AtomicU32,
    rounding: Rounding,
}

/// What a host wait does when the device starts closing.
#[derive(Clone, Copy, PartialEq, Eq)]
enum OnClose {
    /// Return `Cancelled` at once.
    Return,
    /// The device still holds the caller's memory (a blocking transfer from or to it): wait
    /// until the command has run (close runs what was enqueued), then return `Cancelled`.
    FinishFirst,
}

/// A request, from another thread, that a host wait of one caller end: the caller passes it to
/// [`Device::synchronize_or_cancel`]; another thread calls [`WaitCancel::request`], then
/// [`Device::wake_waits`] until the caller has left its call. A wait that sees a request
/// returns `Cancelled`; commands already enqueued keep running. Checking it is one atomic
/// load (no lock).
#[derive(Debug, Default)]
pub struct WaitCancel {
    requests: AtomicU32,
}

impl WaitCancel {
    pub const fn new() -> WaitCancel {
        WaitCancel {
            requests: AtomicU32::new(0),
        }
    }

    /// Asks waits that watch this to end (counted: each request is withdrawn once).
    pub fn request(&self) {
        self.requests.fetch_add(1, Ordering::SeqCst);
    }

    /// Withdraws one request.
    pub fn withdraw(&self) {
        self.requests.fetch_sub(1, Ordering::SeqCst);
    }

    /// Whether a request is standing.
    pub fn requested(&self) -> bool {
        self.requests.load(Ordering::SeqCst) != 0
    }
}

/// Counts a host call asleep in a wait (see `Device::waiting`).
struct Asleep<'a>(&'a AtomicU32);

impl<'a> Asleep<'a> {
    fn enter(count: &'a AtomicU32) -> Asleep<'a> {
        count.fetch_add(1, Ordering::SeqCst);
        Asleep(count)
    }
}

impl Drop for Asleep<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

const NO_CAPTURE: u8 = u8::MAX;

// SAFETY: the raw system memory is partitioned between the CQs (each used per the CQ rules)
// and the trace store/staging (used under the capture rules); see the field docs.
unsafe impl<C: Chip> Send for Device<C> {}
unsafe impl<C: Chip> Sync for Device<C> {}

/// What one step of a CQ's device side did.
enum Step {
    /// Ran a command.
    Ran,
    /// Nothing to do; the ring's head was this.
    Empty(u32),
    /// Waiting on event of CQ `.0`, whose completed id was `.1`.
    Stalled(u8, u32),
    /// Took the shutdown record.
    Shutdown,
}

impl<C: Chip> Device<C> {
    /// Host memory a device with `config` on `chip` needs (for [`Device::new_in`]).
    pub fn sysmem_size(config: &DeviceConfig, chip: &C) -> usize {
        Self::sysmem_size_for(config, chip.geometry())
    }

    /// [`Device::sysmem_size`] for a chip of `geometry` (only its DRAM channel count counts).
    /// `usize::MAX` when the config's sizes add up to more than the address space.
    pub fn sysmem_size_for(config: &DeviceConfig, geometry: &ChipGeometry) -> usize {
        let (per_bank, banks) = Self::trace_geometry_of(config, geometry);
        SysmemLayout::of(config, per_bank, banks).map_or(usize::MAX, |l| l.total)
    }

    fn trace_geometry(config: &DeviceConfig, chip: &C) -> (u64, u32) {
        Self::trace_geometry_of(config, chip.geometry())
    }

    fn trace_geometry_of(config: &DeviceConfig, g: &ChipGeometry) -> (u64, u32) {
        let banks = g.dram_channels;
        let pages = config.trace_region_size.div_ceil(TRACE_PAGE_SIZE);
        (pages.div_ceil(banks as u64) * TRACE_PAGE_SIZE, banks)
    }

    fn check_config(config: &DeviceConfig) -> Result<(), RuntimeError> {
        if !(1..=2).contains(&config.num_command_queues) {
            return fail!(
                InvalidArgument,
                "num_command_queues is {}; a device has 1 or 2 command queues",
                config.num_command_queues
            );
        }
        if config.cq_data_size < 64 << 10 {
            return fail!(
                InvalidArgument,
                "cq_data_size is {} B; at least 65536 B is needed",
                config.cq_data_size
            );
        }
        Ok(())
    }

    /// Opens a device on `chip`, its host memory an anonymous mapping.
    #[cfg(feature = "std")]
    pub fn new(config: DeviceConfig, chip: C) -> Result<Self, RuntimeError> {
        Self::check_config(&config)?;
        let len = Self::sysmem_size(&config, &chip);
        let mut map = memmap2::MmapOptions::new()
            .len(len.max(1))
            .no_reserve_swap()
            .map_anon()
            .map_err(|e| {
                RuntimeError::new(
                    ErrorKind::OutOfMemory,
                    format_args!("cannot map {len} B of host memory for the device: {e}"),
                )
            })?;
        let sysmem = Sysmem {
            base: map.as_mut_ptr(),
            _map: Some(map),
        };
        Self::with_sysmem(config, chip, sysmem)
    }

    /// Opens a device on `chip` with host memory from the caller (at least
    /// [`Device::sysmem_size`] bytes, aligned to 64).
    pub fn new_in(
        config: DeviceConfig,
        chip: C,
        sysmem: &'static mut [u8],
    ) -> Result<Self, RuntimeError> {
        Self::check_config(&config)?;
        let need = Self::sysmem_size(&config, &chip);
        if sysmem.len() < need || sysmem.as_ptr() as usize % 64 != 0 {
            return fail!(
                InvalidArgument,
                "system memory of {} B at {:p}: the device needs {need} B aligned to 64",
                sysmem.len(),
                sysmem.as_ptr()
            );
        }
        let sysmem = Sysmem {
            base: sysmem.as_mut_ptr(),
            #[cfg(feature = "std")]
            _map: None,
        };
        Self::with_sysmem(config, chip, sysmem)
    }

    fn with_sysmem(config: DeviceConfig, chip: C, sysmem: Sysmem) -> Result<Self, RuntimeError> {
        let g = *chip.geometry();
        let (per_bank, banks) = Self::trace_geometry(&config, &chip);
        let allocator = Allocator::new(&AllocatorConfig {
            dram_banks: g.dram_channels,
            dram_bank_size: g.dram_channel_size,
            dram_unreserved_base: g.dram_unreserved_base,
            dram_alignment: g.dram_alignment,
            l1_banks: g.l1_banks(),
            l1_bank_size: g.l1_size,
            l1_unreserved_base: g.l1_unreserved_base,
            l1_alignment: g.l1_alignment,
            l1_small_size: config.l1_small_size,
            // Whole trace pages in every bank (the size check uses trace_region_size itself).
            trace_region_size: per_bank.saturating_mul(banks as u64),
        })?;
        let Some(layout) = SysmemLayout::of(&config, per_bank, banks) else {
            return fail!(
                OutOfMemory,
                "the command queues' data rings ({} B each) and the trace region ({} B) do not \
                 fit in host memory",
                config.cq_data_size,
                config.trace_region_size
            );
        };
        let cq = |i: usize| {
            let n = if i < config.num_command_queues as usize {
                i
            } else {
                0
            };
            // SAFETY: the layout gives each CQ its own records and data ranges inside sysmem,
            // which lives as long as the device; an unused second CQ aliases the first but is
            // never used (its number is refused).
            unsafe {
                CommandQueue::new(
                    i as u8,
                    sysmem.base.add(layout.records[n]).cast::<Command>(),
                    sysmem.base.add(layout.data[n]),
                    config.cq_data_size,
                )
            }
        };
        let trace_base = g.dram_channel_size - per_bank;
        Ok(Device {
            id: config.device_id,
            num_cqs: config.num_command_queues,
            cqs: [cq(0), cq(1)],
            books: Lock::new(Books {
                allocator,
                trace_used: 0,
                trace_buffers: [(0, 0); MAX_TRACES],
            }),
            geometry: BankGeometry {
                dram_banks: g.dram_channels,
                compute_grid: g.grid,
                dram_alignment: g.dram_alignment,
                l1_alignment: g.l1_alignment,
            },
            trace_region_size: config.trace_region_size,
            host_memory_budget: HostMemoryBudget::new(config.host_memory_budget),
            trace_base,
            dram_banks: banks,
            traces: TraceTable::new(),
            program_cache: ProgramCache::new(),
            sysmem,
            layout,
            capturing: AtomicU8::new(NO_CAPTURE),
            warn_next_alloc: AtomicBool::new(false),
            threaded: AtomicBool::new(false),
            event_poll_us: AtomicU32::new(0),
            shutdown: AtomicBool::new(false),
            closing: AtomicBool::new(false),
            waiting: AtomicU32::new(0),
            rounding: Rounding::tt_metal(),
            chip,
        })
    }

    pub fn id(&self) -> u32 {
        self.id
    }

    pub fn num_command_queues(&self) -> u8 {
        self.num_cqs
    }

    pub fn chip(&self) -> &C {
        &self.chip
    }

    pub fn trace_region_size(&self) -> u64 {
        self.trace_region_size
    }

    /// What host allocations sized by input may take (`DeviceConfig::host_memory_budget`).
    pub fn host_memory_budget(&self) -> HostMemoryBudget {
        self.host_memory_budget
    }

    fn cq(&self, cq: u8) -> Result<&CommandQueue, RuntimeError> {
        if self.shutdown.load(Ordering::Acquire) {
            return fail!(InvalidState, "device {} is closed", self.id);
        }
        if cq >= self.num_cqs {
            return fail!(
                InvalidArgument,
                "CQ {cq} does not exist: device {} has {} command queue{} (ids 0..={})",
                self.id,
                self.num_cqs,
                if self.num_cqs == 1 { "" } else { "s" },
                self.num_cqs - 1
            );
        }
        Ok(&self.cqs[cq as usize])
    }

    // ---------------------------------------------------------------- device side

    /// Marks the device as driven by worker threads ([`Device::serve`]): host waits sleep
    /// instead of polling.
    pub fn set_threaded(&self, threaded: bool) {
        self.threaded.store(threaded, Ordering::Release);
    }

    /// Makes a worker that waits for another CQ's event poll for it for up to `us`
    /// microseconds before it sleeps (default 0: it sleeps after a brief spin). For workers
    /// with CPUs of their own (pinned): polling takes the operating system's wake-up latency,
    /// tens of microseconds, off the path between the two queues, as a dispatcher on the chip
    /// polls. Without `std` there are no workers and it does nothing.
    pub fn set_event_poll(&self, us: u32) {
        self.event_poll_us.store(us, Ordering::Relaxed);
    }

    /// Runs queued commands of every CQ until each is empty or stalled on an event; returns
    /// whether anything ran. Firmware calls this in its loop; with worker threads it is not
    /// needed.
    pub fn poll(&self) -> bool {
        let mut any = false;
        loop {
            let mut ran = false;
            for cq in &self.cqs[..self.num_cqs as usize] {
                while let Step::Ran | Step::Shutdown = self.step(cq) {
                    ran = true;
                }
            }
            if !ran {
                return any;
            }
            any = true;
        }
    }

    /// The device side of CQ `cq` on the calling thread, until [`Device::stop`].
    pub fn serve(&self, cq: u8) {
        let Some(queue) = self.cqs[..self.num_cqs as usize].get(cq as usize) else {
            return;
        };
        loop {
            match self.step(queue) {
                Step::Ran => {}
                Step::Shutdown => return,
                Step::Empty(head) => queue.tail.wait_change(head, None),
                Step::Stalled(other, seen) => {
                    let done = &self.cqs[other as usize].completed;
                    self.poll_while(done, seen);
                    done.wait_change(seen, None)
                }
            }
        }
    }

    /// Polls `signal` while it still reads `seen`, for at most the event poll time.
    #[cfg(feature = "std")]
    fn poll_while(&self, signal: &Signal, seen: u32) {
        let us = self.event_poll_us.load(Ordering::Relaxed);
        if us == 0 {
            return;
        }
        let start = std::time::Instant::now();
        let limit = core::time::Duration::from_micros(u64::from(us));
        while signal.load() == seen && start.elapsed() < limit {
            core::hint::spin_loop();
        }
    }

    #[cfg(not(feature = "std"))]
    fn poll_while(&self, _signal: &Signal, _seen: u32) {}

    /// Asks the workers serving the CQs to return once they have run everything enqueued
    /// before: a shutdown record goes at the end of every ring (so a sleeping worker wakes).
    /// Once stopped, further calls are refused.
    ///
    /// A trace capture in progress ends with nothing stored: it never ran anything.
    pub fn stop(&self) {
        if self.shutdown.swap(true, Ordering::AcqRel) {
            return;
        }
        for cq in &self.cqs[..self.num_cqs as usize] {
            let mut guard = loop {
                match cq.host() {
                    Ok(g) => break g,
                    // Another thread is inside a call on this CQ: let it finish.
                    Err(_) => core::hint::spin_loop(),
                }
            };
            if guard.side().capture.take().is_some() {
                self.capturing.store(NO_CAPTURE, Ordering::Release);
            }
            cq.close(&guard);
            self.push(cq, &guard, Command::Shutdown);
        }
    }

    /// Ends the host waits of other threads on this device, for its close: those waiting
    /// (event_synchronize, finish, blocking transfers, trace release) return `Cancelled`, and
    /// later waits return it at once. A blocking transfer first lets the device finish with the
    /// caller's memory. Returns once no host call is asleep in a wait. The device keeps running
    /// what was enqueued (`stop` runs the rest).
    pub fn cancel_waits(&self) {
        self.closing.store(true, Ordering::SeqCst);
        // A waiter counts itself, then checks `closing`, then sleeps: it either sees the flag or
        // is counted here, and the wakes repeat until it has left.
        while self.waiting.load(Ordering::SeqCst) != 0 {
            for cq in &self.cqs[..self.num_cqs as usize] {
                cq.completed.wake();
                cq.head.wake();
            }
            #[cfg(feature = "std")]
            std::thread::sleep(core::time::Duration::from_micros(20));
            #[cfg(not(feature = "std"))]
            core::hint::spin_loop();
        }
    }

    /// Wakes every host wait on this device once, so that a wait watching a [`WaitCancel`]
    /// sees its request (the others check their event and sleep again). A wait that went to
    /// sleep just before the wake misses it: call this until the waiter has left.
    pub fn wake_waits(&self) {
        for cq in &self.cqs[..self.num_cqs as usize] {
            cq.completed.wake();
            cq.head.wake();
        }
    }

    /// Host calls asleep in a wait now.
    #[cfg(test)]
    pub(crate) fn waiters(&self) -> u32 {
        self.waiting.load(Ordering::SeqCst)
    }

    /// Whether `cancel_waits` was called.
    #[cfg(test)]
    pub(crate) fn is_closing(&self) -> bool {
        self.closing.load(Ordering::SeqCst)
    }

    /// The first failure the device met running commands that no blocking call collected
    /// (for close, once the workers have stopped).
    pub fn take_errors(&self) -> Result<(), RuntimeError> {
        let mut first = Ok(());
        for cq in &self.cqs[..self.num_cqs as usize] {
            let r = cq.take_error();
            if first.is_ok() {
                first = r;
            }
        }
        first
    }

    /// Writes `bytes`, whole pages of `dst` back to back, from page `first` on.
    fn write_pages(&self, dst: &BufferRef, first: u32, bytes: &[u8]) -> Result<(), HalError> {
        let kind = dst.kind();
        bytes
            .chunks_exact(dst.layout.page_size() as usize)
            .zip(first..)
            .try_for_each(|(data, p)| {
                let (bank, offset) = dst.layout.page_location(p);
                self.chip.write(kind, bank, dst.addr + offset, data)
            })
    }

    fn step(&self, cq: &CommandQueue) -> Step {
        let Some(cmd) = cq.front() else {
            return Step::Empty(cq.head.load());
        };
        let mut data_end = 0;
        let result = match cmd {
            Command::Write {
                dst,
                first,
                count,
                data_at,
                data_end: end,
            } => {
                data_end = end;
                let len = count as usize * dst.layout.page_size() as usize;
                // SAFETY: the host reserved these bytes for this command and does not reuse
                // them before `pop` releases them.
                let bytes = unsafe { core::slice::from_raw_parts(cq.data(data_at, len), len) };
                self.write_pages(&dst, first, bytes)
                    .map_err(|e| (e, "write"))
            }
            Command::WriteFrom { dst, src } => {
                let len = dst.layout.num_pages() as usize * dst.layout.page_size() as usize;
                // SAFETY: the host checked that `src` holds the tensor's pages and waits for
                // this command before the caller's memory can go away.
                let bytes = unsafe { core::slice::from_raw_parts(src.ptr as *const u8, len) };
                self.write_pages(&dst, 0, bytes).map_err(|e| (e, "write"))
            }
            // SAFETY: the host checked `dst` against the tensor and the caller of a read
            // promised the buffer stays valid until the read completes.
            Command::Read { src, dst } => {
                unsafe { pages_to_host(&self.chip, &src, &dst) }.map_err(|e| (e, "read"))
            }
            Command::Program(p) => self.chip.run(&p).map_err(|e| (e, "program")),
            Command::WriteRaw { .. }
            | Command::WriteRawFrom { .. }
            | Command::ReadRaw { .. }
            | Command::Kernel(_) => {
                if let Command::WriteRaw { data_end: end, .. } = cmd {
                    data_end = end;
                }
                if let Err((text, what)) = self.run_raw(cq, &cmd) {
                    cq.set_error(format_args!(
                        "device error on CQ {} ({what}): {}",
                        cq.id,
                        text.as_str()
                    ));
                }
                cq.pop(data_end);
                return Step::Ran;
            }
            Command::Shutdown => {
                cq.pop(0);
                return Step::Shutdown;
            }
            Command::RecordEvent { id } => {
                // Retired before it is published: a host that saw the event finds the CQ's
                // head past it, so a CQ with nothing after the event looks idle at once.
                cq.pop(0);
                cq.completed.store(id);
                return Step::Ran;
            }
            Command::WaitEvent { cq: other, id } => {
                let done = self.cqs[other as usize].completed.load();
                if !reached(done, id) {
                    return Step::Stalled(other, done);
                }
                Ok(())
            }
            Command::ExecuteTrace { first, len } => (first..first + len)
                .try_for_each(|slot| {
                    // SAFETY: a published trace's slots hold its programs until release, which
                    // first waits for this CQ to finish.
                    let program = unsafe { self.store_slot(slot).read() };
                    self.chip.run(&program)
                })
                .map_err(|e| (e, "trace")),
        };
        if let Err((e, what)) = result {
            cq.set_error(format_args!("device error on CQ {} ({what}): {e}", cq.id));
        }
        cq.pop(data_end);
        Step::Ran
    }

    /// Program slot `slot` of the array at byte `offset` of host memory.
    fn program_at(&self, offset: usize, slot: u32) -> *mut Program {
        // SAFETY: callers index below the array's length (`store_slots`, `staging_slots`).
        unsafe {
            self.sysmem
                .base
                .add(offset)
                .cast::<Program>()
                .add(slot as usize)
        }
    }

    fn store_slot(&self, slot: u32) -> *mut Program {
        self.program_at(self.layout.store, slot)
    }

    fn staging_slot(&self, slot: u32) -> *mut Program {
        self.program_at(self.layout.staging, slot)
    }

    // ---------------------------------------------------------------- host waits

    fn is_threaded(&self) -> bool {
        self.threaded.load(Ordering::Acquire)
    }

    /// Waits for room in `cq`'s command ring.
    fn wait_room(&self, cq: &CommandQueue) {
        loop {
            // Read before the check, so a move of the head after it wakes the wait below.
            let head = cq.head.load();
            if cq.has_room() {
                return;
            }
            if self.is_threaded() {
                cq.head.wait_change(head, None);
            } else {
                self.poll();
            }
        }
    }

    #[inline(always)]
    fn push(&self, cq: &CommandQueue, guard: &HostGuard<'_>, cmd: Command) {
        self.wait_room(cq);
        cq.push(guard, cmd);
    }

    /// Waits until event `id` of `cq` completes, at most `timeout_us` (None: no limit), or,
    /// per `on_close`, until the device starts closing.
    fn wait_event(
        &self,
        cq: &CommandQueue,
        id: u32,
        timeout_us: Option<u64>,
        on_close: OnClose,
        cancel: Option<&WaitCancel>,
    ) -> Result<(), RuntimeError> {
        let clock = Clock::start();
        let mut closed_meanwhile = false;
        loop {
            let done = cq.completed.load();
            if reached(done, id) {
                // A close that began while this call waited may have woken it only through
                // the completion: the flag itself tells.
                if closed_meanwhile
                    || (on_close == OnClose::FinishFirst && self.closing.load(Ordering::SeqCst))
                {
                    return fail!(
                        Cancelled,
                        "the device was closed while this call waited for event {id} on CQ {} \
                         of device {} (the device finished with the call's memory first)",
                        cq.id,
                        self.id
                    );
                }
                return Ok(());
            }
            if let Some(c) = cancel {
                // Read after the waker's request (it wakes until this call has left), so a
                // wake that comes before the sleep below changes `completed` or repeats.
                if c.requested() {
                    return fail!(
                        Cancelled,
                        "the wait for event {id} on CQ {} of device {} was cancelled",
                        cq.id,
                        self.id
                    );
                }
            }
            if !self.is_threaded() {
                // The caller drives the device: run what is queued; if nothing can run, the
                // event can never complete.
                if !self.poll() && !reached(cq.completed.load(), id) {
                    return fail!(
                        InvalidState,
                        "event {id} on CQ {} of device {} cannot complete: no command can run",
                        cq.id,
                        self.id
                    );
                }
                continue;
            }
            let left = match timeout_us {
                None => None,
                Some(limit) => match limit.checked_sub(clock.elapsed_us()) {
                    Some(left) if left > 0 => Some(left),
                    _ => {
                        return fail!(
                            Timeout,
                            "event {id} on CQ {} of device {} did not complete within {} ms",
                            cq.id,
                            self.id,
                            limit / 1000
                        )
                    }
                },
            };
            let _asleep = Asleep::enter(&self.waiting);
            if self.closing.load(Ordering::SeqCst) {
                if on_close == OnClose::Return {
                    return fail!(
                        Cancelled,
                        "the device was closed while this call waited for event {id} on CQ {} \
                         of device {}",
                        cq.id,
                        self.id
                    );
                }
                closed_meanwhile = true;
            }
            cq.completed.wait_change(done, left);
        }
    }

    /// Issues an event on `cq` (the caller holds its host side) and returns its id.
    fn issue_event(&self, cq: &CommandQueue, guard: &HostGuard<'_>) -> u32 {
        let mut id = cq.issued.load(Ordering::Relaxed).wrapping_add(1);
        if id == 0 {
            // Ids count from 1 and wrap past 2^32 - 1 back to 1.
            id = 1;
            cq.wrapped.store(true, Ordering::Release);
        }
        self.wait_room(cq);
        cq.issued.store(id, Ordering::Release);
        cq.push(guard, Command::RecordEvent { id });
        id
    }

    /// Issues an event, waits for it and returns the first device error since the last call.
    fn complete(&self, cq: &CommandQueue, guard: &HostGuard<'_>) -> Result<(), RuntimeError> {
        let id = self.issue_event(cq, guard);
        self.wait_event(cq, id, None, OnClose::Return, None)?;
        cq.take_error()
    }

    /// [`Device::complete`] for a blocking transfer whose command reads or writes the caller's
    /// memory: when the device closes meanwhile, it returns only once the device is done with
    /// that memory.
    fn complete_transfer(
        &self,
        cq: &CommandQueue,
        guard: &HostGuard<'_>,
    ) -> Result<(), RuntimeError> {
        let id = self.issue_event(cq, guard);
        self.wait_event(cq, id, None, OnClose::FinishFirst, None)?;
        cq.take_error()
    }

    fn capture_of(guard: &mut HostGuard<'_>) -> Option<(u32, u32)> {
        guard.side().capture
    }

    // ---------------------------------------------------------------- CQs and events

    /// Waits until every command enqueued on `cq` has completed.
    pub fn finish(&self, cq: u8) -> Result<(), RuntimeError> {
        self.finish_or_cancel(cq, None)
    }

    /// [`Device::finish`] whose wait also ends at a request of `cancel`.
    fn finish_or_cancel(&self, cq: u8, cancel: Option<&WaitCancel>) -> Result<(), RuntimeError> {
        let queue = self.cq(cq)?;
        let mut guard = queue.host()?;
        if let Some((tid, _)) = Self::capture_of(&mut guard) {
            return fail!(
                InvalidState,
                "Finish is not supported during trace capture (CQ {cq} is capturing trace {tid})."
            );
        }
        let id = self.issue_event(queue, &guard);
        self.wait_event(queue, id, None, OnClose::Return, cancel)?;
        queue.take_error()
    }

    /// Waits for every CQ.
    pub fn synchronize(&self) -> Result<(), RuntimeError> {
        let mut first = Ok(());
        for cq in 0..self.num_cqs {
            let r = self.finish(cq);
            if first.is_ok() {
                first = r;
            }
        }
        first
    }

    /// [`Device::synchronize`] that ends with `Cancelled` once `cancel` has a request (see
    /// [`WaitCancel`]); the commands enqueued keep running.
    pub fn synchronize_or_cancel(&self, cancel: &WaitCancel) -> Result<(), RuntimeError> {
        let mut first = Ok(());
        for cq in 0..self.num_cqs {
            let r = self.finish_or_cancel(cq, Some(cancel));
            if let Err(e) = &r {
                if e.kind == ErrorKind::Cancelled {
                    return r;
                }
            }
            if first.is_ok() {
                first = r;
            }
        }
        first
    }

    pub fn record_event(&self, cq: u8) -> Result<Event, RuntimeError> {
        let queue = self.cq(cq)?;
        let mut guard = queue.host()?;
        if Self::capture_of(&mut guard).is_some() {
            return fail!(InvalidState, "{NO_EVENTS}");
        }
        let id = self.issue_event(queue, &guard);
        Ok(Event {
            device_id: self.id,
            cq_id: cq,
            id,
        })
    }

    /// The CQ of `ev`, checked to be this device's, and where `ev.id` stands among the ids
    /// issued on it.
    fn event_queue(&self, ev: &Event) -> Result<(&CommandQueue, Issued), RuntimeError> {
        if ev.device_id != self.id {
            return fail!(
                InvalidArgument,
                "event of device {} used on device {}",
                ev.device_id,
                self.id
            );
        }
        let queue = self.cq(ev.cq_id)?;
        let wrapped = queue.wrapped.load(Ordering::Acquire);
        let last = queue.issued.load(Ordering::Acquire);
        Ok((queue, issued(last, wrapped, ev.id)))
    }

    /// Checks that `ev` belongs to this device and was issued: ids 1 to the last recorded
    /// (any nonzero id once the ids have wrapped).
    fn check_event(&self, ev: &Event) -> Result<(&CommandQueue, Issued), RuntimeError> {
        let (queue, issued) = self.event_queue(ev)?;
        if issued == Issued::Never {
            return fail!(
                InvalidArgument,
                "event {} on CQ {} of device {} was never recorded (the last recorded id is {})",
                ev.id,
                ev.cq_id,
                self.id,
                queue.issued.load(Ordering::Acquire)
            );
        }
        Ok((queue, issued))
    }

    /// Makes `cq` wait for `ev` (the host does not wait).
    pub fn wait_for_event(&self, cq: u8, ev: &Event) -> Result<(), RuntimeError> {
        let queue = self.cq(cq)?;
        let mut guard = queue.host()?;
        if Self::capture_of(&mut guard).is_some() {
            return fail!(InvalidState, "{NO_EVENTS}");
        }
        if self.check_event(ev)?.1 == Issued::Old {
            // Completed long ago: nothing to wait for (the device compares recent ids only).
            return Ok(());
        }
        self.push(
            queue,
            &guard,
            Command::WaitEvent {
                cq: ev.cq_id,
                id: ev.id,
            },
        );
        Ok(())
    }

    /// Blocks the host until `ev` completes (`timeout_ms < 0`: no limit).
    pub fn event_synchronize(&self, ev: &Event, timeout_ms: i32) -> Result<(), RuntimeError> {
        let (queue, issued) = self.check_event(ev)?;
        if issued == Issued::Recent {
            let timeout = (timeout_ms >= 0).then(|| timeout_ms as u64 * 1000);
            self.wait_event(queue, ev.id, timeout, OnClose::Return, None)?;
        }
        queue.take_error()
    }

    /// Whether `ev` has completed. An id never recorded is refused, as by the waits.
    pub fn event_query(&self, ev: &Event) -> Result<bool, RuntimeError> {
        let (queue, issued) = self.check_event(ev)?;
        if issued == Issued::Old {
            return Ok(true);
        }
        if !self.is_threaded() {
            self.poll();
        }
        Ok(reached(queue.completed.load(), ev.id))
    }

    // ---------------------------------------------------------------- tensors

    #[inline(always)]
    fn layout_of(
        &self,
        spec: &TensorSpec,
        mem: &MemoryConfig,
    ) -> Result<BufferLayout, RuntimeError> {
        Ok(BufferLayout::new(
            spec.shape,
            spec.format,
            spec.layout,
            mem.buffer_type,
            mem.memory_layout,
            mem.shard,
            self.geometry,
        )?)
    }

    /// Allocates a tensor's buffer (host-side bookkeeping; nothing is enqueued).
    pub fn allocate_tensor(
        &self,
        spec: &TensorSpec,
        mem: &MemoryConfig,
    ) -> Result<Tensor, RuntimeError> {
        let layout = self.layout_of(spec, mem)?;
        self.allocate_laid_out(layout, signature(&(*spec, *mem)))
    }

    /// Allocates a buffer of `layout` for a tensor whose spec and memory config have
    /// signature `sig`.
    #[inline(always)]
    fn allocate_laid_out(&self, layout: BufferLayout, sig: u32) -> Result<Tensor, RuntimeError> {
        let addr = self.allocate_buffer(&layout)?;
        Ok(Tensor {
            device_id: self.id,
            allocated: true,
            sig,
            buffer: BufferRef { addr, layout },
        })
    }

    /// Allocates a buffer of `layout`: its base address.
    #[inline(always)]
    fn allocate_buffer(&self, layout: &BufferLayout) -> Result<u64, RuntimeError> {
        if layout.buffer_type() == BufferType::Trace {
            return fail!(
                InvalidArgument,
                "tensors cannot be allocated in the trace region"
            );
        }
        let addr = self.books.with(|b| {
            b.allocator.allocate(
                layout.buffer_type(),
                layout.total_size(),
                layout.size_per_bank(),
                layout.banks(),
            )
        })?;
        if self.warn_next_alloc.load(Ordering::Relaxed)
            && self.traces.any()
            && self.warn_next_alloc.swap(false, Ordering::AcqRel)
        {
            log::warn!("{ALLOC_WITH_TRACE}");
        }
        Ok(addr)
    }

    /// Frees a tensor's buffer. `force` is accepted for TT-NN's signature: ttrt tensors never
    /// share a buffer, so every deallocation is forced.
    pub fn deallocate(&self, t: &mut Tensor, _force: bool) -> Result<(), RuntimeError> {
        self.own(t)?;
        if !t.allocated {
            return fail!(
                InvalidState,
                "tensor at {:#x} is already deallocated",
                t.buffer.addr
            );
        }
        self.books.with(|b| {
            b.allocator
                .deallocate(t.buffer.layout.buffer_type(), t.buffer.addr)
        })?;
        t.allocated = false;
        Ok(())
    }

    fn own(&self, t: &Tensor) -> Result<(), RuntimeError> {
        if t.device_id != self.id {
            return fail!(
                InvalidArgument,
                "tensor of device {} used on device {}",
                t.device_id,
                self.id
            );
        }
        Ok(())
    }

    fn live(&self, t: &Tensor, what: &str) -> Result<(), RuntimeError> {
        self.own(t)?;
        if !t.allocated {
            return fail!(
                InvalidState,
                "{what} tensor was deallocated (its buffer was at {:#x})",
                t.buffer.addr
            );
        }
        Ok(())
    }

    /// Checks a host buffer against a device tensor.
    fn check_host(
        &self,
        h: &HostBuffer,
        t: &Tensor,
        direction: &'static str,
    ) -> Result<(), RuntimeError> {
        let shape = t.spec().shape.map(|d| d as usize);
        if h.shape != shape {
            return fail!(
                InvalidArgument,
                "host tensor shape {:?} does not match the device tensor's {:?}",
                h.shape,
                shape
            );
        }
        if h.ptr.is_null() {
            return fail!(InvalidArgument, "host tensor data is NULL");
        }
        if h.tiled {
            if h.format != t.spec().format {
                return fail!(
                    InvalidArgument,
                    "a TILE-layout host tensor is in the device's pages: format {} expected, found {}",
                    t.spec().format.name(),
                    h.format.name()
                );
            }
            let need = t.buffer.layout.num_pages() as usize * t.buffer.layout.page_size() as usize;
            if h.len < need {
                return fail!(
                    InvalidArgument,
                    "host tensor holds {} B; {} pages of {} B need {need} B",
                    h.len,
                    t.buffer.layout.num_pages(),
                    t.buffer.layout.page_size()
                );
            }
            return Ok(());
        }
        check_extent(h.len, h.format, h.shape, h.strides, direction)?;
        Ok(())
    }

    /// Copies a host tensor into a device tensor. The host bytes are converted into the CQ's
    /// data ring before this returns, so the caller may reuse them at once.
    pub fn write_tensor(
        &self,
        cq: u8,
        src: &HostBuffer,
        dst: &Tensor,
        blocking: bool,
    ) -> Result<(), RuntimeError> {
        let queue = self.cq(cq)?;
        let mut guard = queue.host()?;
        if Self::capture_of(&mut guard).is_some() {
            return fail!(InvalidState, "{NO_WRITES}");
        }
        self.live(dst, "destination")?;
        self.check_host(src, dst, "input")?;
        if blocking && src.tiled {
            // The caller's memory already holds the device's pages and stays valid until this
            // call returns: the device copies it from there, with no stop in the data ring.
            self.push(
                queue,
                &guard,
                Command::WriteFrom {
                    dst: dst.buffer,
                    src: *src,
                },
            );
            return self.complete_transfer(queue, &guard);
        }
        let layout = &dst.buffer.layout;
        let page = layout.page_size();
        let per_chunk = ((queue.data_cap / 2) / page).max(1) as u32;
        if page > queue.data_cap / 2 {
            return fail!(
                InvalidArgument,
                "a page of {page} B does not fit the CQ data ring of {} B",
                queue.data_cap
            );
        }
        let mut first = 0;
        while first < layout.num_pages() {
            let count = per_chunk.min(layout.num_pages() - first);
            let len = count as u64 * page;
            let (at, end) = self.reserve_data(queue, &mut guard, len);
            // SAFETY: `at..at + len` was just reserved; `src` was checked.
            let out = unsafe {
                core::slice::from_raw_parts_mut(queue.data(at, len as usize), len as usize)
            };
            // SAFETY: the C caller (or Rust wrapper) guarantees src.ptr/len; checked above.
            unsafe { host_to_pages(src, layout, first, count, self.rounding, out) }?;
            self.push(
                queue,
                &guard,
                Command::Write {
                    dst: dst.buffer,
                    first,
                    count,
                    data_at: at,
                    data_end: end,
                },
            );
            first += count;
        }
        if blocking {
            self.complete(queue, &guard)?;
        }
        Ok(())
    }

    /// Copies a device tensor into a host buffer. Non-blocking: the buffer is filled later, and
    /// is valid after an event, finish or synchronize that follows.
    ///
    /// # Safety
    /// `dst.ptr` must be valid for writes of `dst.len` bytes until the read completes, and not
    /// read or written by anyone else until then.
    pub unsafe fn read_tensor(
        &self,
        cq: u8,
        src: &Tensor,
        dst: HostBuffer,
        blocking: bool,
    ) -> Result<(), RuntimeError> {
        let queue = self.cq(cq)?;
        let mut guard = queue.host()?;
        if Self::capture_of(&mut guard).is_some() {
            return fail!(InvalidState, "{NO_READS}");
        }
        self.live(src, "source")?;
        self.check_host(&dst, src, "output")?;
        self.push(
            queue,
            &guard,
            Command::Read {
                src: src.buffer,
                dst,
            },
        );
        if blocking {
            self.complete_transfer(queue, &guard)?;
        }
        Ok(())
    }

    // ---------------------------------------------------------------- device ops

    /// Takes `cq`'s host side for one program with signature `key`: during capture, a program
    /// not in the cache is refused here, before anything is allocated for it.
    fn program_slot(
        &self,
        cq: u8,
        key: u32,
    ) -> Result<(&CommandQueue, HostGuard<'_>), RuntimeError> {
        let queue = self.cq(cq)?;
        let mut guard = queue.host()?;
        if Self::capture_of(&mut guard).is_some() && !self.program_cache.contains(key) {
            return fail!(InvalidState, "{NOT_CACHED}");
        }
        Ok((queue, guard))
    }

    /// Enqueues a program or, during capture, records it (the cache rule was checked by
    /// `program_slot`).
    ///
    /// The program is assembled where it is stored (ring record or staging slot), from the
    /// operands' buffers: it is the largest record, and every op enqueue writes one.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn submit(
        &self,
        queue: &CommandQueue,
        guard: &mut HostGuard<'_>,
        key: u32,
        op: OpKind,
        a: &BufferRef,
        b: &BufferRef,
        out: &BufferRef,
    ) {
        match guard.side().capture {
            Some((tid, n)) => {
                if (n as u64) < self.layout.staging_slots {
                    let program = Program {
                        op,
                        a: *a,
                        b: *b,
                        out: *out,
                    };
                    // SAFETY: slot n is inside the staging area, which only the capturing CQ
                    // (whose host side we hold) writes.
                    unsafe { self.staging_slot(n).write(program) };
                }
                guard.side().capture = Some((tid, n + 1));
            }
            None => {
                self.program_cache.insert(key);
                // Room first: the record is then built straight into its ring slot, with no
                // copy of the operands on the stack across the wait.
                self.wait_room(queue);
                queue.push(
                    guard,
                    Command::Program(Program {
                        op,
                        a: *a,
                        b: *b,
                        out: *out,
                    }),
                );
            }
        }
    }

    fn tile_operand(&self, t: &Tensor, what: &str) -> Result<(), RuntimeError> {
        self.live(t, what)?;
        if t.spec().layout != TensorLayout::Tile {
            return fail!(
                InvalidArgument,
                "{what} tensor is ROW_MAJOR; device ops need TILE layout"
            );
        }
        Ok(())
    }

    fn run_op(
        &self,
        cq: u8,
        op: OpKind,
        a: &Tensor,
        b: Option<&Tensor>,
        out_spec: TensorSpec,
        out_mem: &MemoryConfig,
    ) -> Result<Tensor, RuntimeError> {
        // The output is built in place. Its layout is the first input's when it has that
        // spec and memory config, as elementwise ops mostly do.
        let mut out = Tensor {
            device_id: self.id,
            allocated: false,
            sig: a.sig,
            buffer: a.buffer,
        };
        if a.spec() != out_spec || a.memory_config() != *out_mem {
            out.buffer.layout = self.layout_of(&out_spec, out_mem)?;
            out.sig = signature(&(out_spec, *out_mem));
        }
        let key = signature(&(op, a.sig, b.map(|b| b.sig), out.sig));
        let (queue, mut guard) = self.program_slot(cq, key)?;
        out.buffer.addr = self.allocate_buffer(&out.buffer.layout)?;
        out.allocated = true;
        let b = &b.unwrap_or(a).buffer;
        self.submit(queue, &mut guard, key, op, &a.buffer, b, &out.buffer);
        Ok(out)
    }

    /// `out = op(a)`, elementwise.
    pub fn unary(
        &self,
        cq: u8,
        op: UnaryOp,
        a: &Tensor,
        out_mem: &MemoryConfig,
    ) -> Result<Tensor, RuntimeError> {
        self.tile_operand(a, "input")?;
        self.run_op(cq, OpKind::Unary(op), a, None, a.spec(), out_mem)
    }

    /// `out = a op b`, elementwise over equal shapes.
    pub fn binary(
        &self,
        cq: u8,
        op: BinaryOp,
        a: &Tensor,
        b: &Tensor,
        out_mem: &MemoryConfig,
    ) -> Result<Tensor, RuntimeError> {
        self.tile_operand(a, "first input")?;
        self.tile_operand(b, "second input")?;
        if a.spec().shape != b.spec().shape {
            return fail!(
                InvalidArgument,
                "binary {} needs equal shapes: {:?} and {:?}",
                op.name(),
                a.spec().shape,
                b.spec().shape
            );
        }
        self.run_op(cq, OpKind::Binary(op), a, Some(b), a.spec(), out_mem)
    }

    /// `out = a · b` over the last two dimensions; `b`'s outer dimensions are 1 (broadcast)
    /// or equal to `a`'s.
    pub fn matmul(
        &self,
        cq: u8,
        a: &Tensor,
        b: &Tensor,
        out_mem: &MemoryConfig,
    ) -> Result<Tensor, RuntimeError> {
        self.tile_operand(a, "first input")?;
        self.tile_operand(b, "second input")?;
        let [a0, a1, m, k] = a.spec().shape;
        let [b0, b1, kb, n] = b.spec().shape;
        if k != kb {
            return fail!(
                InvalidArgument,
                "matmul inner dimensions differ: a is {:?}, b is {:?} ({k} != {kb})",
                a.spec().shape,
                b.spec().shape
            );
        }
        if !(b0 * b1 == 1 || (b0, b1) == (a0, a1)) {
            return fail!(
                InvalidArgument,
                "matmul b's outer dimensions {:?} are neither 1 nor a's {:?}",
                [b0, b1],
                [a0, a1]
            );
        }
        let spec = TensorSpec {
            shape: [a0, a1, m, n],
            ..a.spec()
        };
        self.run_op(cq, OpKind::Matmul, a, Some(b), spec, out_mem)
    }

    /// A copy of `a` in another memory config.
    pub fn to_memory_config(
        &self,
        cq: u8,
        a: &Tensor,
        mem: &MemoryConfig,
    ) -> Result<Tensor, RuntimeError> {
        self.live(a, "input")?;
        self.run_op(cq, OpKind::Copy, a, None, a.spec(), mem)
    }

    /// Copies `a` into the existing tensor `out` (same spec, any memory config), in place.
    pub fn reshard(&self, cq: u8, a: &Tensor, out: &Tensor) -> Result<(), RuntimeError> {
        self.live(a, "input")?;
        self.live(out, "output")?;
        if a.spec() != out.spec() {
            return fail!(
                InvalidArgument,
                "reshard needs equal specs: input {:?} {} {:?}, output {:?} {} {:?}",
                a.spec().shape,
                a.spec().format.name(),
                a.spec().layout,
                out.spec().shape,
                out.spec().format.name(),
                out.spec().layout
            );
        }
        // In place: not the program `to_memory_config` runs (that one allocates its output).
        let key = signature(&(OpKind::Copy, a.sig, out.sig, "in place"));
        let (queue, mut guard) = self.program_slot(cq, key)?;
        let op = OpKind::Copy;
        self.submit(
            queue,
            &mut guard,
            key,
            op,
            &a.buffer,
            &a.buffer,
            &out.buffer,
        );
        Ok(())
    }

    // ---------------------------------------------------------------- traces

    pub fn begin_trace_capture(&self, cq: u8) -> Result<u32, RuntimeError> {
        let queue = self.cq(cq)?;
        let mut guard = queue.host()?;
        if let Some((tid, _)) = Self::capture_of(&mut guard) {
            return fail!(
                InvalidState,
                "CQ {cq} is already being used for tracing tid {tid}"
            );
        }
        if self
            .capturing
            .compare_exchange(NO_CAPTURE, cq, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return fail!(
                InvalidState,
                "CQ {} of device {} is capturing a trace; one capture at a time",
                self.capturing.load(Ordering::Relaxed),
                self.id
            );
        }
        let tid = NEXT_TRACE_ID.fetch_add(1, Ordering::Relaxed);
        guard.side().capture = Some((tid, 0));
        Ok(tid)
    }

    pub fn end_trace_capture(&self, cq: u8, tid: u32) -> Result<(), RuntimeError> {
        let queue = self.cq(cq)?;
        let mut guard = queue.host()?;
        let n = match Self::capture_of(&mut guard) {
            Some((t, n)) if t == tid => n,
            _ => {
                return fail!(
                    InvalidState,
                    "CQ {cq} is not being used for tracing tid {tid}"
                )
            }
        };
        guard.side().capture = None;
        self.capturing.store(NO_CAPTURE, Ordering::Release);
        let size = trace_size(n);
        let banks = self.dram_banks as u64;
        let region = self.trace_region_size;
        let id = self.id;
        let too_big = || {
            RuntimeError::new(
                ErrorKind::OutOfMemory,
                format_args!(
                    "Creating trace buffers of size {size}B on device {id}, but only {region}B is allocated for trace region."
                ),
            )
        };
        self.books.with(|b| {
            if b.trace_used + size > region {
                return Err(too_big());
            }
            let addr = if size == 0 {
                self.trace_base
            } else {
                let per_bank = (size / TRACE_PAGE_SIZE).div_ceil(banks) * TRACE_PAGE_SIZE;
                b.allocator
                    .allocate(BufferType::Trace, size, per_bank, self.dram_banks)
                    .map_err(|_| too_big())?
            };
            let first = ((addr - self.trace_base) * banks / TRACE_RECORD_SIZE) as u32;
            if first as u64 + n as u64 > self.layout.store_slots {
                // Cannot happen: the trace's bytes lie inside the region the store mirrors.
                let _ = b.allocator.deallocate(BufferType::Trace, addr);
                return Err(too_big());
            }
            for i in 0..n {
                // SAFETY: the trace's slots lie inside the store (its region bytes are inside
                // the trace region), and no replay reads them before the trace is published.
                unsafe {
                    self.store_slot(first + i)
                        .write(self.staging_slot(i).read())
                };
            }
            let info = TraceInfo {
                index: 0,
                cq,
                first,
                len: n,
            };
            let Some(index) = self.traces.publish(tid, info) else {
                if size != 0 {
                    let _ = b.allocator.deallocate(BufferType::Trace, addr);
                }
                return fail!(
                    OutOfMemory,
                    "device {id} already holds {} traces; release one first",
                    MAX_TRACES
                );
            };
            b.trace_buffers[index] = (addr, size);
            b.trace_used += size;
            Ok(())
        })?;
        self.warn_next_alloc.store(true, Ordering::Release);
        Ok(())
    }

    fn find_trace(&self, tid: u32) -> Result<TraceInfo, RuntimeError> {
        self.traces.find(tid).ok_or_else(|| {
            RuntimeError::new(
                ErrorKind::NotFound,
                format_args!("Trace instance {tid} must exist on device {}", self.id),
            )
        })
    }

    /// Replays trace `tid` on `cq`: one command, whatever the trace's length.
    pub fn execute_trace(&self, cq: u8, tid: u32, blocking: bool) -> Result<(), RuntimeError> {
        let queue = self.cq(cq)?;
        let mut guard = queue.host()?;
        if let Some((t, _)) = Self::capture_of(&mut guard) {
            return fail!(
                InvalidState,
                "CQ {cq} is capturing trace {t}; a trace cannot be replayed during capture"
            );
        }
        let info = self.find_trace(tid)?;
        self.push(
            queue,
            &guard,
            Command::ExecuteTrace {
                first: info.first,
                len: info.len,
            },
        );
        if blocking {
            self.complete(queue, &guard)?;
        }
        Ok(())
    }

    /// Frees trace `tid` and its share of the trace region, once the CQ it was captured on
    /// has finished any replay of it.
    pub fn release_trace(&self, tid: u32) -> Result<(), RuntimeError> {
        let info = self.find_trace(tid)?;
        for cq in 0..self.num_cqs {
            let queue = self.cq(cq)?;
            let guard = queue.host()?;
            let id = self.issue_event(queue, &guard);
            self.wait_event(queue, id, None, OnClose::Return, None)?;
        }
        self.books.with(|b| {
            self.traces.retire(info.index);
            let (addr, size) = b.trace_buffers[info.index];
            if size != 0 {
                let _ = b.allocator.deallocate(BufferType::Trace, addr);
            }
            b.trace_used -= size;
        });
        Ok(())
    }

    /// Signals a blocking request during capture (used by wrappers with a `blocking` flag on
    /// ops).
    pub fn refuse_blocking_during_capture(&self, cq: u8) -> Result<(), RuntimeError> {
        let queue = self.cq(cq)?;
        let mut guard = queue.host()?;
        if Self::capture_of(&mut guard).is_some() {
            return fail!(InvalidState, "{NO_BLOCKING}");
        }
        Ok(())
    }
}

/// Time since a start, where there is a clock (`std`); without one, waits have no time limit
/// other than "nothing can run".
struct Clock {
    #[cfg(feature = "std")]
    start: std::time::Instant,
}

impl Clock {
    fn start() -> Clock {
        Clock {
            #[cfg(feature = "std")]
            start: std::time::Instant::now(),
        }
    }

    fn elapsed_us(&self) -> u64 {
        #[cfg(feature = "std")]
        return self.start.elapsed().as_micros() as u64;
        #[cfg(not(feature = "std"))]
        return 0;
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;
    use crate::hal::sim::SimChip;

    /// A device driven by the host's own polls (no workers), its CQ 0's event ids moved to
    /// `last` as if that many events had been recorded and completed.
    fn device_at(last: u32) -> Device<SimChip> {
        let config = DeviceConfig {
            num_command_queues: 2,
            ..DeviceConfig::default()
        };
        let d = Device::new(config, SimChip::new(config.arch).unwrap()).unwrap();
        d.cqs[0].issued.store(last, Ordering::Release);
        d.cqs[0].completed.store(last);
        d
    }

    fn ev(id: u32) -> Event {
        Event {
            device_id: 0,
            cq_id: 0,
            id,
        }
    }

    #[test]
    fn event_ids_wrap_from_2_pow_32_minus_1_to_1_and_stay_valid() {
        let d = device_at(0xFFFF_FFFE);
        assert_eq!(d.record_event(0).unwrap().id, 0xFFFF_FFFF);
        assert_eq!(d.record_event(0).unwrap().id, 1, "0 is skipped on the wrap");
        // CQ 1 waits for ids on both sides of the wrap: the device sees them complete.
        d.wait_for_event(1, &ev(0xFFFF_FFFF)).unwrap();
        d.wait_for_event(1, &ev(1)).unwrap();
        d.finish(1).unwrap();
        for id in [0xFFFF_FFFE, 0xFFFF_FFFF, 1] {
            assert!(d.event_query(&ev(id)).unwrap(), "id {id:#x}");
            d.event_synchronize(&ev(id), -1).unwrap();
        }
        // After the wrap every nonzero id was recorded once; those older than the last 2^31
        // are long complete (the CQ was still on its first lap then).
        assert!(d.event_query(&ev(2)).unwrap());
        d.wait_for_event(1, &ev(0x8000_0001)).unwrap();
        d.event_synchronize(&ev(0x8000_0001), 0).unwrap();
        d.finish(1).unwrap();
        let e = d.event_query(&ev(0)).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidArgument);
        // A record after the wrap is pending until the device runs it, then complete.
        let next = d.record_event(0).unwrap();
        assert_eq!(next.id, 2);
        d.event_synchronize(&next, -1).unwrap();
        assert!(d.event_query(&next).unwrap());
    }
}
