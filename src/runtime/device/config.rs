//! How a device is opened, and where the parts of the host memory it keeps lie: each CQ's
//! command ring and data ring, the trace store and the capture staging area.

use super::Device;
use crate::format::Arch;
use crate::hal::{Chip, ChipGeometry, Program};
use crate::runtime::command_queue::{Command, RING_RECORDS};
use crate::runtime::trace::{TRACE_PAGE_SIZE, TRACE_RECORD_SIZE};

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

/// Host memory a device keeps: the CQ rings, the trace store and the capture staging area.
pub(super) struct Sysmem {
    pub(super) base: *mut u8,
    #[cfg(feature = "std")]
    pub(super) _map: Option<memmap2::MmapMut>,
}

/// Where each part of system memory lies.
#[derive(Clone, Copy)]
pub(super) struct SysmemLayout {
    pub(super) records: [usize; 2],
    pub(super) data: [usize; 2],
    pub(super) store: usize,
    pub(super) store_slots: u64,
    pub(super) staging: usize,
    pub(super) staging_slots: u64,
    total: usize,
}

impl SysmemLayout {
    /// The layout, or `None` when it does not fit the address space (sizes from the config
    /// are the caller's: checked, never wrapped).
    pub(super) fn of(cfg: &DeviceConfig, trace_per_bank: u64, banks: u32) -> Option<SysmemLayout> {
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

    pub(super) fn trace_geometry(config: &DeviceConfig, chip: &C) -> (u64, u32) {
        Self::trace_geometry_of(config, chip.geometry())
    }

    fn trace_geometry_of(config: &DeviceConfig, g: &ChipGeometry) -> (u64, u32) {
        let banks = g.dram_channels;
        let pages = config.trace_region_size.div_ceil(TRACE_PAGE_SIZE);
        (pages.div_ceil(banks as u64) * TRACE_PAGE_SIZE, banks)
    }
}
