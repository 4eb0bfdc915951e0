//! A device: a chip, its allocator, one or two command queues, events, traces and the program
//! cache, with the host API TT-Metal programs are written against.
//!
//! The host side encodes commands into the CQ rings and returns; the device side
//! ([`Device::serve`] on a worker thread per CQ, or [`Device::poll`] from a firmware loop)
//! consumes them in order. Allocation is host-side bookkeeping and takes effect at once, as in
//! TT-Metal: a buffer freed on the host may be reused by the next command of the same CQ.
//!
//! Each concept has its own file, with its own `impl Device`:
//! - `mod.rs`: the [`Device`] struct, opening ([`Device::new`], [`Device::new_in`]) and
//!   [`Device::stop`], accessors;
//! - `config.rs`: [`DeviceConfig`] and the layout of the host memory a device keeps (the CQ
//!   rings, the trace store, the capture staging area);
//! - `workers.rs`: the device side of the CQs ([`Device::serve`], [`Device::poll`], threaded
//!   mode), room in a ring, ending and waking host waits ([`WaitCancel`]), errors the device met;
//! - `events.rs`: events within and between CQs, the host waits for them, finish and
//!   synchronize;
//! - `memory.rs`: tensor allocation and the transfers between host buffers and tensors;
//! - `ops.rs`: device ops (unary, binary, matmul, copies), enqueued or recorded into a capture;
//! - `trace.rs`: trace capture, replay and release, and the trace store's program slots;
//! - `raw.rs`: byte transfers by bank and address, and kernels.

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU8, Ordering};

use super::allocator::{Allocator, AllocatorConfig};
use super::command_queue::{Command, CommandQueue};
#[cfg(feature = "std")]
use super::error::ErrorKind;
use super::error::{fail, RuntimeError};
use super::host_memory::HostMemoryBudget;
use super::program_cache::ProgramCache;
use super::trace::{TraceTable, MAX_TRACES};
use crate::format::Rounding;
use crate::hal::layout::BankGeometry;
use crate::hal::Chip;
use crate::sync::Lock;

mod config;
mod events;
mod memory;
mod ops;
mod raw;
mod trace;
mod workers;

pub use config::DeviceConfig;
use config::{Sysmem, SysmemLayout};
pub use raw::{Kernel, KernelFn, KernelMessage};
pub use workers::WaitCancel;

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

const NO_CAPTURE: u8 = u8::MAX;

// SAFETY: the raw system memory is partitioned between the CQs (each used per the CQ rules)
// and the trace store/staging (used under the capture rules); see the field docs.
unsafe impl<C: Chip> Send for Device<C> {}
unsafe impl<C: Chip> Sync for Device<C> {}

impl<C: Chip> Device<C> {
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
}
