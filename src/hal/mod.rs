//! The chip behind one trait.
//!
//! The runtime sees a chip as banks of memory (DRAM channels and the L1 of each Tensix core) it
//! reads and writes by (bank, address), plus one call that runs a device program whose operands
//! are buffers in that memory. The simulated chip ([`sim`]) implements it in host memory with
//! golden numerics; a transport for silicon implements the same trait over the kernel driver
//! (memory over the NOC, programs as compiled kernels), and nothing in `runtime` changes.
//!
//! [`layout`] says where each page of a buffer lives (bank and offset): the runtime's
//! allocator places buffers by it and the chip reads a program's operands by it, so it
//! belongs to the chip's side of the boundary.

#[cfg(feature = "alloc")]
pub mod firmware;
pub mod layout;
pub mod memory;
pub mod select;
#[cfg(all(feature = "std", target_os = "linux"))]
pub mod shm;
pub mod sim;
pub mod soc;
pub mod transport;
pub mod wire;

use core::fmt;
use core::ptr::NonNull;

use crate::compute::{BinaryOp, ComputeError, UnaryOp};
use crate::format::{Arch, FormatError};
use layout::{BufferLayout, BufferType, TensorLayout};

/// Which memory a bank index refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemKind {
    /// A DRAM channel (bank index = channel).
    Dram,
    /// The L1 of one Tensix core (bank index = y * grid_x + x over the compute grid).
    L1,
    /// Host memory the device reaches over PCIe (system memory, bank index = host channel):
    /// where queues placed in host memory live, so every process attached to the device sees
    /// them, as every process mapping a card's hugepages does.
    Host,
}

impl MemKind {
    pub const fn name(self) -> &'static str {
        match self {
            MemKind::Dram => "DRAM",
            MemKind::L1 => "L1",
            MemKind::Host => "host",
        }
    }
}

/// The memory and compute geometry of one chip.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChipGeometry {
    pub arch: Arch,
    pub dram_channels: u32,
    /// Bytes of each DRAM channel.
    pub dram_channel_size: u64,
    /// Bytes of L1 in each Tensix core.
    pub l1_size: u64,
    /// The compute grid (x, y): the Tensix cores whose L1 the runtime allocates in. The arch
    /// defaults are TT-Metal's (Grayskull 12x9, Wormhole B0 8x8, Blackhole 13x10); a chip
    /// described by a SoC descriptor has its worker grid. Harvested rows shorten it.
    pub grid: (u32, u32),
    pub dram_alignment: u64,
    pub l1_alignment: u64,
    /// The first DRAM address buffers may use (below it: what firmware and dispatch keep).
    pub dram_unreserved_base: u64,
    /// The first L1 address buffers may use (below it: firmware, kernels, circular buffers).
    pub l1_unreserved_base: u64,
    /// Channels of host memory the device reaches ([`MemKind::Host`]), and the bytes of each.
    pub host_channels: u32,
    pub host_channel_size: u64,
    /// Buda's worker grid (columns, rows): the functional Tensix cores a netlist's ops are
    /// placed on (its `grid_loc` is [row, column] in it), after harvesting. For the arch
    /// defaults, that of upstream's default SoC descriptor (Grayskull 10x12, Wormhole B0 10x8,
    /// Blackhole 10x14); with a descriptor, the descriptor's ([`soc`]).
    pub worker_grid: (u32, u32),
    /// The harvested NOC rows (bit `i`: row `i`), as Buda's harvesting mask; 0 when none.
    pub harvested_rows: u64,
}

impl ChipGeometry {
    /// The geometry of one chip of `arch` as a single-chip board ships it: Grayskull e150,
    /// Wormhole B0 n150, Blackhole p150; with 4 channels of 1 GiB of host memory, the
    /// hugepages a driver maps for a card.
    pub const fn of(arch: Arch) -> ChipGeometry {
        const KIB: u64 = 1024;
        const HOST_CHANNELS: u32 = 4;
        const GIB: u64 = 1024 * 1024 * 1024;
        match arch {
            Arch::Grayskull => ChipGeometry {
                arch,
                dram_channels: 8,
                dram_channel_size: GIB,
                l1_size: 1024 * KIB,
                grid: (12, 9),
                dram_alignment: 32,
                l1_alignment: 16,
                dram_unreserved_base: 64 * KIB,
                l1_unreserved_base: 128 * KIB,
                host_channels: HOST_CHANNELS,
                host_channel_size: GIB,
                worker_grid: (12, 10),
                harvested_rows: 0,
            },
            Arch::WormholeB0 => ChipGeometry {
                arch,
                dram_channels: 6,
                dram_channel_size: 2 * GIB,
                l1_size: 1464 * KIB,
                grid: (8, 8),
                dram_alignment: 32,
                l1_alignment: 16,
                dram_unreserved_base: 64 * KIB,
                l1_unreserved_base: 128 * KIB,
                host_channels: HOST_CHANNELS,
                host_channel_size: GIB,
                worker_grid: (8, 10),
                harvested_rows: 0,
            },
            Arch::Blackhole => ChipGeometry {
                arch,
                dram_channels: 8,
                dram_channel_size: 4 * GIB,
                l1_size: 1536 * KIB,
                grid: (13, 10),
                dram_alignment: 64,
                l1_alignment: 16,
                dram_unreserved_base: 64 * KIB,
                l1_unreserved_base: 128 * KIB,
                host_channels: HOST_CHANNELS,
                host_channel_size: GIB,
                worker_grid: (14, 10),
                harvested_rows: 0,
            },
        }
    }

    /// Number of L1 banks (one per core of the compute grid).
    pub const fn l1_banks(&self) -> u32 {
        self.grid.0 * self.grid.1
    }

    /// Banks of `kind`.
    pub const fn banks(&self, kind: MemKind) -> u32 {
        match kind {
            MemKind::Dram => self.dram_channels,
            MemKind::L1 => self.l1_banks(),
            MemKind::Host => self.host_channels,
        }
    }

    /// Bytes of each bank of `kind`.
    pub const fn bank_size(&self, kind: MemKind) -> u64 {
        match kind {
            MemKind::Dram => self.dram_channel_size,
            MemKind::L1 => self.l1_size,
            MemKind::Host => self.host_channel_size,
        }
    }
}

/// `len` bytes at `addr` of bank `bank` of `kind`: what a graph command names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceRange {
    pub kind: MemKind,
    pub bank: u32,
    pub addr: u64,
    pub len: u64,
}

/// A buffer a program reads or writes: where it is and how its pages are laid out.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BufferRef {
    pub addr: u64,
    pub layout: BufferLayout,
}

impl BufferRef {
    /// The memory the buffer lives in.
    pub fn kind(&self) -> MemKind {
        match self.layout.buffer_type() {
            BufferType::Dram | BufferType::Trace => MemKind::Dram,
            BufferType::L1 | BufferType::L1Small => MemKind::L1,
        }
    }

    pub fn tensor_layout(&self) -> TensorLayout {
        self.layout.tensor_layout()
    }
}

/// What a device program computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpKind {
    /// Elementwise `out = op(a)`.
    Unary(UnaryOp),
    /// Elementwise `out = a op b`.
    Binary(BinaryOp),
    /// `out = a · b` over the last two dimensions (b broadcast over a's outer dimensions when
    /// it has none).
    Matmul,
    /// `out = a` into another memory layout (to_memory_config, reshard).
    Copy,
}

/// One device program: an op and its operand buffers. Input `b` is used by binary ops and
/// matmul only.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Program {
    pub op: OpKind,
    pub a: BufferRef,
    pub b: BufferRef,
    pub out: BufferRef,
}

/// A failure of the chip: an access outside its memory, or an op that failed on the device.
#[derive(Clone, Debug, PartialEq)]
pub enum HalError {
    OutOfRange {
        kind: MemKind,
        bank: u32,
        addr: u64,
        len: usize,
        banks: u32,
        bank_size: u64,
    },
    Compute(ComputeError),
    Format(FormatError),
    /// A program the chip cannot run (operands it does not support), with the reason.
    Unsupported(&'static str),
    /// A command record the device could not read: the field that is wrong.
    BadCommand(&'static str),
    /// A command failed on a device behind a transport: the text the device sent back.
    Device(wire::DeviceText),
    /// The device is gone (its process ended, its link went down): why.
    Lost(&'static str),
}

impl fmt::Display for HalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HalError::OutOfRange {
                kind,
                bank,
                addr,
                len,
                banks,
                bank_size,
            } => write!(
                f,
                "{} access of {len} B at {addr:#x} in bank {bank} is outside the chip \
                 ({banks} banks of {bank_size} B)",
                kind.name()
            ),
            HalError::Compute(e) => write!(f, "{e}"),
            HalError::Format(e) => write!(f, "{e}"),
            HalError::Unsupported(why) => write!(f, "program not supported: {why}"),
            HalError::BadCommand(what) => write!(f, "the device refused a command: bad {what}"),
            HalError::Device(text) => write!(f, "{text}"),
            HalError::Lost(why) => write!(f, "the device is lost: {why}"),
        }
    }
}

impl From<ComputeError> for HalError {
    fn from(e: ComputeError) -> Self {
        HalError::Compute(e)
    }
}

impl From<FormatError> for HalError {
    fn from(e: FormatError) -> Self {
        HalError::Format(e)
    }
}

/// A Tenstorrent chip as the runtime drives it.
///
/// Memory accesses from different command queues may run at the same time (two CQs are
/// independent, as on silicon); an implementation must make concurrent accesses to *different*
/// addresses correct. Concurrent accesses to the same bytes without an event between them are
/// the program's race, as on silicon: the bytes read are unspecified, but nothing else breaks.
pub trait Chip: Send + Sync {
    fn geometry(&self) -> &ChipGeometry;

    /// Reads `dst.len()` bytes at `addr` of `bank`.
    fn read(&self, kind: MemKind, bank: u32, addr: u64, dst: &mut [u8]) -> Result<(), HalError>;

    /// Writes `src` at `addr` of `bank`.
    fn write(&self, kind: MemKind, bank: u32, addr: u64, src: &[u8]) -> Result<(), HalError>;

    /// Runs one program to completion.
    fn run(&self, program: &Program) -> Result<(), HalError>;

    /// Whether the device is still there: `Err(HalError::Lost)` once a device behind a
    /// transport has gone (its process ended). Memory mapped in place stays readable after
    /// that, so code that reaches the chip only through [`Chip::map`] asks here first. The
    /// default (a chip in this process) is always there.
    fn check(&self) -> Result<(), HalError> {
        Ok(())
    }

    /// `len` bytes at `addr` of `bank` as memory the caller may access in place, when the
    /// chip's memory is reachable that way (the simulated chip's is host memory; a transport
    /// could map a PCIe BAR window); `None` when it is not, or the range is outside the chip:
    /// then only `read` and `write` reach it. The default is `None`.
    ///
    /// Accesses through the pointer are chip memory accesses like `read` and `write`, under
    /// the same rules: made where those would be (by a command on a CQ, in that CQ's order),
    /// and racing with any other access to the same bytes that no event orders. The pointer
    /// stays valid as long as the chip.
    fn map(&self, kind: MemKind, bank: u32, addr: u64, len: usize) -> Option<NonNull<u8>> {
        let _ = (kind, bank, addr, len);
        None
    }

    /// Loads the graphs the descriptor at `desc` describes into the chip's graph firmware
    /// ([`firmware`]), as Buda loads a model's binaries at initialize; returns their handle.
    /// The default: the chip runs no graph firmware.
    fn load_graphs(&self, desc: &DeviceRange) -> Result<u32, HalError> {
        let _ = desc;
        Err(HalError::Unsupported("this chip runs no graph firmware"))
    }

    /// Runs graph `graph` of loaded graphs `handle` once per its input_count, with the
    /// execute's queue settings at `settings` (device memory the host wrote).
    fn run_graph(&self, handle: u32, graph: u32, settings: &DeviceRange) -> Result<(), HalError> {
        let _ = (handle, graph, settings);
        Err(HalError::Unsupported("this chip runs no graph firmware"))
    }

    /// Forgets loaded graphs `handle`.
    fn unload_graphs(&self, handle: u32) -> Result<(), HalError> {
        let _ = handle;
        Err(HalError::Unsupported("this chip runs no graph firmware"))
    }
}
