//! The simulated chip: a functional model of one Tenstorrent chip with golden numerics.
//!
//! Memory is one flat range per kind (every DRAM channel, then every core's L1). With `std` it
//! is an anonymous mapping reserved without swap, so the 12 GiB of a Wormhole n150 cost only the
//! pages a program touches; without `std` it is an arena the firmware provides. Programs run on
//! the calling thread (the command queue's worker): operands are read page by page, unpacked
//! from their data format to float32, computed as Buda's golden model does
//! ([`crate::compute`]) and packed back ([`crate::format::page`]).

mod exec;
#[cfg(all(feature = "std", target_os = "linux"))]
pub mod serve;

use core::ptr::NonNull;

use super::memory::FlatMemory;
#[cfg(feature = "alloc")]
use super::DeviceRange;
use super::{Chip, ChipGeometry, HalError, MemKind, Program};
use crate::format::{Arch, Rounding};

/// The simulated chip.
pub struct SimChip {
    geometry: ChipGeometry,
    memory: FlatMemory,
    rounding: Rounding,
    /// Graphs loaded into the installed graph firmware ([`crate::hal::firmware`]).
    #[cfg(feature = "alloc")]
    graphs: crate::hal::firmware::GraphSlots,
}

impl SimChip {
    /// A chip of `arch` with its full memory, reserved lazily.
    #[cfg(feature = "std")]
    pub fn new(arch: Arch) -> std::io::Result<SimChip> {
        SimChip::of(ChipGeometry::of(arch))
    }

    /// A chip of `geometry` (a SoC descriptor's, a harvested one) with its full memory,
    /// reserved lazily.
    #[cfg(feature = "std")]
    pub fn of(geometry: ChipGeometry) -> std::io::Result<SimChip> {
        Ok(SimChip {
            memory: FlatMemory::reserve(&geometry)?,
            geometry,
            rounding: Rounding::default(),
            #[cfg(feature = "alloc")]
            graphs: crate::hal::firmware::GraphSlots::new(),
        })
    }

    /// A chip of `arch` over caller-provided memory: `arena` is split into the DRAM channels
    /// and the L1 of every core, so the chip reports DRAM channels of
    /// `(arena.len() - l1 of all cores) / channels` bytes (rounded down to the alignment).
    /// `None` when the arena does not hold the L1 of every core plus one aligned DRAM page per
    /// channel.
    pub fn in_arena(arch: Arch, arena: &'static mut [u8]) -> Option<SimChip> {
        SimChip::of_in_arena(ChipGeometry::of(arch), arena)
    }

    /// [`SimChip::in_arena`] for a chip of `geometry` (its DRAM channel size is the arena's).
    pub fn of_in_arena(mut geometry: ChipGeometry, arena: &'static mut [u8]) -> Option<SimChip> {
        let l1_total = geometry.l1_size * geometry.l1_banks() as u64;
        let dram_total = (arena.len() as u64).checked_sub(l1_total)?;
        let per_channel = dram_total / geometry.dram_channels as u64;
        let per_channel = per_channel - per_channel % geometry.dram_alignment;
        if per_channel <= geometry.dram_unreserved_base {
            return None;
        }
        geometry.dram_channel_size = per_channel;
        // Bare metal has no host on the other side of a PCIe link.
        geometry.host_channels = 0;
        geometry.host_channel_size = 0;
        Some(SimChip {
            memory: FlatMemory::over(arena, &geometry),
            geometry,
            rounding: Rounding::default(),
            #[cfg(feature = "alloc")]
            graphs: crate::hal::firmware::GraphSlots::new(),
        })
    }

    /// A chip of `geometry` over `memory` (a shared mapping another process reaches too).
    pub fn with_memory(geometry: ChipGeometry, memory: FlatMemory) -> SimChip {
        SimChip {
            geometry,
            memory,
            rounding: Rounding::default(),
            #[cfg(feature = "alloc")]
            graphs: crate::hal::firmware::GraphSlots::new(),
        }
    }

    /// The bytes of `r`, in place.
    #[cfg(feature = "alloc")]
    fn bytes_of(&self, r: &DeviceRange) -> Result<&[u8], HalError> {
        let len = usize::try_from(r.len).map_err(|_| HalError::BadCommand("range length"))?;
        let p = self.memory.at(r.kind, r.bank, r.addr, len)?;
        // SAFETY: `at` checked the range lies inside the chip's memory, which lives as long as
        // `self`; a concurrent write to it is the host's race (see `Chip`).
        Ok(unsafe { core::slice::from_raw_parts(p, len) })
    }

    /// The rounding the chip's packers use (Buda's reference by default).
    pub fn set_rounding(&mut self, rounding: Rounding) {
        self.rounding = rounding;
    }
}

impl Chip for SimChip {
    fn geometry(&self) -> &ChipGeometry {
        &self.geometry
    }

    fn read(&self, kind: MemKind, bank: u32, addr: u64, dst: &mut [u8]) -> Result<(), HalError> {
        self.memory.read(kind, bank, addr, dst)
    }

    fn write(&self, kind: MemKind, bank: u32, addr: u64, src: &[u8]) -> Result<(), HalError> {
        self.memory.write(kind, bank, addr, src)
    }

    fn run(&self, program: &Program) -> Result<(), HalError> {
        exec::run(self, program, self.rounding)
    }

    /// The simulated memory is host memory: every range inside the chip maps.
    fn map(&self, kind: MemKind, bank: u32, addr: u64, len: usize) -> Option<NonNull<u8>> {
        self.memory.map(kind, bank, addr, len)
    }

    #[cfg(feature = "alloc")]
    fn load_graphs(&self, desc: &DeviceRange) -> Result<u32, HalError> {
        let Some(firmware) = crate::hal::firmware::installed() else {
            return Err(HalError::Unsupported(
                "no graph firmware is installed in the device's process",
            ));
        };
        let loaded = firmware
            .load(self, self.bytes_of(desc)?)
            .map_err(HalError::Device)?;
        self.graphs.insert(loaded).ok_or(HalError::Unsupported(
            "every graph slot of the device is taken (16 loads at once)",
        ))
    }

    #[cfg(feature = "alloc")]
    fn run_graph(&self, handle: u32, graph: u32, settings: &DeviceRange) -> Result<(), HalError> {
        let loaded = self
            .graphs
            .get(handle)
            .ok_or(HalError::BadCommand("graph handle (nothing loaded there)"))?;
        loaded
            .run(self, graph, self.bytes_of(settings)?)
            .map_err(HalError::Device)
    }

    #[cfg(feature = "alloc")]
    fn unload_graphs(&self, handle: u32) -> Result<(), HalError> {
        match self.graphs.remove(handle) {
            true => Ok(()),
            false => Err(HalError::BadCommand("graph handle (nothing loaded there)")),
        }
    }
}
