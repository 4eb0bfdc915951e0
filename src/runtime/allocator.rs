//! The device allocator: where buffers live in DRAM and L1.
//!
//! A buffer spans several banks (DRAM channels or Tensix L1s) and has the same address in every
//! bank it spans, so each buffer type needs one address range shared by all its banks, handed out
//! by one [`BankAllocator`]. Per bank:
//!
//! ```text
//! DRAM bank: [reserved | DRAM (bottom-up) ............... | TRACE (bottom-up)]
//!            0         dram_unreserved_base               bank_size - trace_per_bank   bank_size
//! L1 bank:   [reserved | L1_SMALL (top-down) | L1 (top-down) ....................]
//!            0         l1_unreserved_base    + l1_small_size                      l1_bank_size
//! ```
//!
//! First fit, merging of adjacent free blocks and no randomness make addresses a function of the
//! call sequence: freeing a buffer and allocating the same size with nothing in between gives the
//! same address back, which the TT-CNN trace executors check.
//!
//! Everything here is `core` plus `heapless`: the block lists have a fixed capacity
//! ([`MAX_BLOCKS`] per buffer type) and running out of it is an error, never a panic.

use core::fmt;

use heapless::Vec;

pub use crate::hal::layout::BufferType;

/// Capacity of each buffer type's block list: live buffers and free holes together. A region
/// whose buffers are packed (DRAM weights allocated once, never freed) holds `MAX_BLOCKS - 1`
/// buffers; a fully fragmented one (a hole between every two buffers) about half that. With
/// 4 bytes a block this keeps the whole [`Allocator`] near 8 KiB.
pub const MAX_BLOCKS: usize = 512;

/// What went wrong in the allocator. Each variant names the values involved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AllocError {
    /// No free block of a buffer type's region can hold the buffer (TT-Metal's message).
    OutOfMemory {
        ty: BufferType,
        total_size: u64,
        banks: u32,
        size_per_bank: u64,
    },
    /// A [`BankAllocator`] has no free block of `size` bytes (aligned).
    NoFreeBlock { size: u64, largest_free: u64 },
    /// The block list is full: too many live buffers and holes in one region.
    BlockListFull {
        region: Option<BufferType>,
        capacity: usize,
    },
    /// Deallocating an address where no buffer starts.
    NotAllocated {
        region: Option<BufferType>,
        addr: u64,
    },
    /// A buffer asks for more banks than its type has (or none).
    BankCount {
        ty: BufferType,
        found: u32,
        available: u32,
    },
    /// A bank count in the config is zero.
    NoBanks { what: &'static str },
    /// An alignment is not a power of two.
    Alignment { what: &'static str, found: u64 },
    /// A region bound is not a multiple of its alignment.
    Misaligned {
        what: &'static str,
        value: u64,
        alignment: u64,
    },
    /// A range whose base is above its end.
    BadRange { base: u64, end: u64 },
    /// An unreserved base beyond the end of its bank.
    ReservedBeyondBank {
        memory: &'static str,
        reserved: u64,
        bank_size: u64,
    },
    /// A carved-out region (TRACE, L1_SMALL) larger than what its bank has left.
    RegionDoesNotFit {
        ty: BufferType,
        needed: u64,
        available: u64,
        bank_size: u64,
        reserved: u64,
    },
    /// A region with more alignment units than the block list can address.
    RegionTooLarge { size: u64, alignment: u64, max: u64 },
}

struct RegionPrefix(Option<BufferType>);

impl fmt::Display for RegionPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(ty) => write!(f, "{ty} "),
            None => Ok(()),
        }
    }
}

impl fmt::Display for AllocError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            AllocError::OutOfMemory {
                ty,
                total_size,
                banks,
                size_per_bank,
            } => write!(
                f,
                "Out of Memory: Not enough space to allocate {total_size} B {ty} buffer across \
                 {banks} banks, where each bank needs to store {size_per_bank} B"
            ),
            AllocError::NoFreeBlock { size, largest_free } => write!(
                f,
                "no free block of {size} B: the largest free block is {largest_free} B"
            ),
            AllocError::BlockListFull { region, capacity } => write!(
                f,
                "{}allocator block list is full: {capacity} blocks (live buffers and free holes) \
                 are in use; free some buffers",
                RegionPrefix(region)
            ),
            AllocError::NotAllocated { region, addr } => write!(
                f,
                "no {}buffer is allocated at address {addr:#x}",
                RegionPrefix(region)
            ),
            AllocError::BankCount {
                ty,
                found,
                available,
            } => write!(
                f,
                "a {ty} buffer spans 1 to {available} banks, found {found}"
            ),
            AllocError::NoBanks { what } => write!(f, "{what} must be at least 1, found 0"),
            AllocError::Alignment { what, found } => {
                write!(f, "{what} must be a power of two, found {found}")
            }
            AllocError::Misaligned {
                what,
                value,
                alignment,
            } => write!(
                f,
                "{what} {value:#x} is not a multiple of the alignment {alignment}"
            ),
            AllocError::BadRange { base, end } => write!(
                f,
                "allocator range base {base:#x} is above its end {end:#x}"
            ),
            AllocError::ReservedBeyondBank {
                memory,
                reserved,
                bank_size,
            } => write!(
                f,
                "{memory} unreserved base {reserved:#x} is beyond the bank size of {bank_size} B"
            ),
            AllocError::RegionDoesNotFit {
                ty,
                needed,
                available,
                bank_size,
                reserved,
            } => write!(
                f,
                "{ty} region of {needed} B per bank does not fit: a {bank_size} B bank has \
                 {available} B above its reserved {reserved} B"
            ),
            AllocError::RegionTooLarge {
                size,
                alignment,
                max,
            } => write!(
                f,
                "allocator range of {size} B is too large for alignment {alignment}: at most \
                 {max} B"
            ),
        }
    }
}

/// Which end of the range buffers are taken from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// The lowest free block that fits, allocated from its low end (DRAM).
    BottomUp,
    /// The highest free block that fits, allocated from its high end (L1, so buffers stay away
    /// from the kernel and circular-buffer space at the bottom of L1).
    TopDown,
}

/// One block of a [`BankAllocator`]'s range: its start in alignment units with the top bit
/// set when free. Blocks tile the range in address order, so a block ends where the next
/// begins and four bytes are enough.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Block(u32);

const FREE: u32 = 1 << 31;

/// Largest number of alignment units a range may have (block starts are 31 bits).
const MAX_UNITS: u64 = FREE as u64;

impl Block {
    const fn new(start: u32, free: bool) -> Block {
        Block(if free { start | FREE } else { start })
    }
    const fn start(self) -> u32 {
        self.0 & !FREE
    }
    const fn is_free(self) -> bool {
        self.0 & FREE != 0
    }
}

/// Usage of one range, in bytes per bank.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Statistics {
    /// Size of the range.
    pub total_bytes: u64,
    pub allocated_bytes: u64,
    pub free_bytes: u64,
    pub largest_free_block: u64,
    /// Number of free blocks (1 when nothing is allocated in a non-empty range).
    pub free_blocks: u32,
    pub live_buffers: u32,
}

/// First-fit allocator of one address range `[base, end)` shared by all banks of a buffer
/// type, with at most `N` blocks (live buffers plus free holes).
#[derive(Clone, Debug)]
pub struct BankAllocator<const N: usize> {
    base: u64,
    alignment: u64,
    /// Size of the range in alignment units.
    units: u32,
    direction: Direction,
    /// Blocks in address order, tiling `[0, units)`; no two free blocks are adjacent.
    blocks: Vec<Block, N>,
}

impl<const N: usize> BankAllocator<N> {
    /// An allocator of `[base, end)`. `alignment` must be a power of two and both bounds
    /// multiples of it; an empty range is allowed (every allocation then fails).
    pub fn new(
        base: u64,
        end: u64,
        alignment: u64,
        direction: Direction,
    ) -> Result<BankAllocator<N>, AllocError> {
        if !alignment.is_power_of_two() {
            return Err(AllocError::Alignment {
                what: "allocator alignment",
                found: alignment,
            });
        }
        if base > end {
            return Err(AllocError::BadRange { base, end });
        }
        for (what, value) in [("allocator range base", base), ("allocator range end", end)] {
            if value % alignment != 0 {
                return Err(AllocError::Misaligned {
                    what,
                    value,
                    alignment,
                });
            }
        }
        let units = (end - base) / alignment;
        if units >= MAX_UNITS {
            return Err(AllocError::RegionTooLarge {
                size: end - base,
                alignment,
                max: (MAX_UNITS - 1) * alignment,
            });
        }
        let mut allocator = BankAllocator {
            base,
            alignment,
            units: units as u32,
            direction,
            blocks: Vec::new(),
        };
        allocator.deallocate_all();
        Ok(allocator)
    }

    pub fn base(&self) -> u64 {
        self.base
    }

    pub fn end(&self) -> u64 {
        self.base + u64::from(self.units) * self.alignment
    }

    pub fn alignment(&self) -> u64 {
        self.alignment
    }

    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// Capacity of the block list.
    pub const fn capacity(&self) -> usize {
        N
    }

    /// Bytes `size` takes: rounded up to the alignment, at least one alignment unit. `None` when
    /// that cannot fit any range.
    pub fn rounded_size(&self, size: u64) -> Option<u64> {
        self.units_for(size).map(|u| u64::from(u) * self.alignment)
    }

    fn units_for(&self, size: u64) -> Option<u32> {
        let units = size.div_ceil(self.alignment).max(1);
        u32::try_from(units).ok()
    }

    fn block_end(&self, i: usize) -> u32 {
        match self.blocks.get(i + 1) {
            Some(next) => next.start(),
            None => self.units,
        }
    }

    fn block_units(&self, i: usize) -> u32 {
        self.block_end(i) - self.blocks[i].start()
    }

    fn addr_of(&self, start: u32) -> u64 {
        self.base + u64::from(start) * self.alignment
    }

    /// Allocates `size` bytes (rounded up to the alignment) and returns the address.
    pub fn allocate(&mut self, size: u64) -> Result<u64, AllocError> {
        let no_block = |s: &Self| AllocError::NoFreeBlock {
            size: s.rounded_size(size).unwrap_or(size),
            largest_free: s.statistics().largest_free_block,
        };
        let Some(need) = self.units_for(size) else {
            return Err(no_block(self));
        };
        let fits = |i: &usize| self.blocks[*i].is_free() && self.block_units(*i) >= need;
        let found = match self.direction {
            Direction::BottomUp => (0..self.blocks.len()).find(fits),
            Direction::TopDown => (0..self.blocks.len()).rev().find(fits),
        };
        let Some(i) = found else {
            return Err(no_block(self));
        };
        let start = self.blocks[i].start();
        let have = self.block_units(i);
        if have == need {
            self.blocks[i] = Block::new(start, false);
            return Ok(self.addr_of(start));
        }
        if self.blocks.is_full() {
            return Err(AllocError::BlockListFull {
                region: None,
                capacity: N,
            });
        }
        let (taken, rest) = match self.direction {
            Direction::BottomUp => (Block::new(start, false), Block::new(start + need, true)),
            Direction::TopDown => (
                Block::new(start, true),
                Block::new(start + have - need, false),
            ),
        };
        self.blocks[i] = taken;
        // Cannot fail: the list was checked not to be full.
        let _ = self.blocks.insert(i + 1, rest);
        let buffer = if taken.is_free() { rest } else { taken };
        Ok(self.addr_of(buffer.start()))
    }

    /// Frees the buffer at `addr` and returns its size in bytes (as rounded by `allocate`).
    pub fn deallocate(&mut self, addr: u64) -> Result<u64, AllocError> {
        let not_allocated = AllocError::NotAllocated { region: None, addr };
        let offset = match addr.checked_sub(self.base) {
            Some(o) if o % self.alignment == 0 => o / self.alignment,
            _ => return Err(not_allocated),
        };
        let Ok(start) = u32::try_from(offset) else {
            return Err(not_allocated);
        };
        let i = match self.blocks.binary_search_by_key(&start, |b| b.start()) {
            Ok(i) if !self.blocks[i].is_free() => i,
            _ => return Err(not_allocated),
        };
        let size = u64::from(self.block_units(i)) * self.alignment;
        self.blocks[i] = Block::new(start, true);
        if self.blocks.get(i + 1).is_some_and(|b| b.is_free()) {
            self.blocks.remove(i + 1);
        }
        if i > 0 && self.blocks[i - 1].is_free() {
            self.blocks.remove(i);
        }
        Ok(size)
    }

    /// Frees every buffer: the range becomes one free block.
    pub fn deallocate_all(&mut self) {
        self.blocks.clear();
        if self.units > 0 {
            // Cannot fail on an empty list unless N == 0, where the range stays unusable.
            let _ = self.blocks.push(Block::new(0, true));
        }
    }

    /// Usage of the range, in bytes per bank.
    pub fn statistics(&self) -> Statistics {
        let mut s = Statistics {
            total_bytes: u64::from(self.units) * self.alignment,
            ..Statistics::default()
        };
        for (i, block) in self.blocks.iter().enumerate() {
            let bytes = u64::from(self.block_units(i)) * self.alignment;
            if block.is_free() {
                s.free_bytes += bytes;
                s.free_blocks += 1;
                s.largest_free_block = s.largest_free_block.max(bytes);
            } else {
                s.allocated_bytes += bytes;
                s.live_buffers += 1;
            }
        }
        s
    }

    /// The free blocks as `(address, size)`, in address order.
    pub fn free_blocks(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.blocks_where(true)
    }

    /// The live buffers as `(address, size)`, in address order.
    pub fn allocated_blocks(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.blocks_where(false)
    }

    fn blocks_where(&self, free: bool) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.blocks
            .iter()
            .enumerate()
            .filter(move |(_, b)| b.is_free() == free)
            .map(|(i, b)| {
                (
                    self.addr_of(b.start()),
                    u64::from(self.block_units(i)) * self.alignment,
                )
            })
    }
}

/// The device memory the allocator manages. Sizes and bases are per bank, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AllocatorConfig {
    pub dram_banks: u32,
    pub dram_bank_size: u64,
    pub dram_unreserved_base: u64,
    pub dram_alignment: u64,
    pub l1_banks: u32,
    pub l1_bank_size: u64,
    pub l1_unreserved_base: u64,
    pub l1_alignment: u64,
    /// Bytes of every L1 bank set aside for L1_SMALL buffers (0: none).
    pub l1_small_size: u64,
    /// Bytes of DRAM, over all banks, set aside for traces (0: none).
    pub trace_region_size: u64,
}

/// The device allocator: one [`BankAllocator`] per buffer type.
#[derive(Clone, Debug)]
pub struct Allocator {
    config: AllocatorConfig,
    dram: BankAllocator<MAX_BLOCKS>,
    l1: BankAllocator<MAX_BLOCKS>,
    l1_small: BankAllocator<MAX_BLOCKS>,
    trace: BankAllocator<MAX_BLOCKS>,
}

impl Allocator {
    /// Lays the regions out as in the module documentation. Alignments must be powers of two and
    /// bank sizes and unreserved bases multiples of them; L1_SMALL and TRACE must fit their
    /// banks (an empty DRAM or L1 region is allowed).
    pub fn new(config: &AllocatorConfig) -> Result<Allocator, AllocError> {
        let c = *config;
        if c.dram_banks == 0 {
            return Err(AllocError::NoBanks { what: "dram_banks" });
        }
        if c.l1_banks == 0 {
            return Err(AllocError::NoBanks { what: "l1_banks" });
        }
        for (what, found) in [
            ("dram_alignment", c.dram_alignment),
            ("l1_alignment", c.l1_alignment),
        ] {
            if !found.is_power_of_two() {
                return Err(AllocError::Alignment { what, found });
            }
        }
        for (what, value, alignment) in [
            ("dram_bank_size", c.dram_bank_size, c.dram_alignment),
            (
                "dram_unreserved_base",
                c.dram_unreserved_base,
                c.dram_alignment,
            ),
            ("l1_bank_size", c.l1_bank_size, c.l1_alignment),
            ("l1_unreserved_base", c.l1_unreserved_base, c.l1_alignment),
            ("l1_small_size", c.l1_small_size, c.l1_alignment),
        ] {
            if value % alignment != 0 {
                return Err(AllocError::Misaligned {
                    what,
                    value,
                    alignment,
                });
            }
        }
        for (memory, reserved, bank_size) in [
            ("DRAM", c.dram_unreserved_base, c.dram_bank_size),
            ("L1", c.l1_unreserved_base, c.l1_bank_size),
        ] {
            if reserved > bank_size {
                return Err(AllocError::ReservedBeyondBank {
                    memory,
                    reserved,
                    bank_size,
                });
            }
        }

        let dram_available = c.dram_bank_size - c.dram_unreserved_base;
        let trace_per_bank = c
            .trace_region_size
            .div_ceil(u64::from(c.dram_banks))
            .checked_next_multiple_of(c.dram_alignment)
            .unwrap_or(u64::MAX);
        if trace_per_bank > dram_available {
            return Err(AllocError::RegionDoesNotFit {
                ty: BufferType::Trace,
                needed: trace_per_bank,
                available: dram_available,
                bank_size: c.dram_bank_size,
                reserved: c.dram_unreserved_base,
            });
        }
        let l1_available = c.l1_bank_size - c.l1_unreserved_base;
        if c.l1_small_size > l1_available {
            return Err(AllocError::RegionDoesNotFit {
                ty: BufferType::L1Small,
                needed: c.l1_small_size,
                available: l1_available,
                bank_size: c.l1_bank_size,
                reserved: c.l1_unreserved_base,
            });
        }

        let trace_base = c.dram_bank_size - trace_per_bank;
        let l1_base = c.l1_unreserved_base + c.l1_small_size;
        Ok(Allocator {
            config: c,
            dram: BankAllocator::new(
                c.dram_unreserved_base,
                trace_base,
                c.dram_alignment,
                Direction::BottomUp,
            )?,
            trace: BankAllocator::new(
                trace_base,
                c.dram_bank_size,
                c.dram_alignment,
                Direction::BottomUp,
            )?,
            l1_small: BankAllocator::new(
                c.l1_unreserved_base,
                l1_base,
                c.l1_alignment,
                Direction::TopDown,
            )?,
            l1: BankAllocator::new(l1_base, c.l1_bank_size, c.l1_alignment, Direction::TopDown)?,
        })
    }

    pub fn config(&self) -> &AllocatorConfig {
        &self.config
    }

    /// The allocator of one buffer type's region.
    pub fn region(&self, ty: BufferType) -> &BankAllocator<MAX_BLOCKS> {
        match ty {
            BufferType::Dram => &self.dram,
            BufferType::L1 => &self.l1,
            BufferType::L1Small => &self.l1_small,
            BufferType::Trace => &self.trace,
        }
    }

    fn region_mut(&mut self, ty: BufferType) -> &mut BankAllocator<MAX_BLOCKS> {
        match ty {
            BufferType::Dram => &mut self.dram,
            BufferType::L1 => &mut self.l1,
            BufferType::L1Small => &mut self.l1_small,
            BufferType::Trace => &mut self.trace,
        }
    }

    /// Lowest address of a buffer type's region (same in every bank).
    pub fn base(&self, ty: BufferType) -> u64 {
        self.region(ty).base()
    }

    /// End (exclusive) of a buffer type's region.
    pub fn end(&self, ty: BufferType) -> u64 {
        self.region(ty).end()
    }

    pub fn alignment(&self, ty: BufferType) -> u64 {
        self.region(ty).alignment()
    }

    /// Banks a buffer of this type may span.
    pub fn num_banks(&self, ty: BufferType) -> u32 {
        if ty.is_dram() {
            self.config.dram_banks
        } else {
            self.config.l1_banks
        }
    }

    /// Usage of a buffer type's region, per bank.
    pub fn statistics(&self, ty: BufferType) -> Statistics {
        self.region(ty).statistics()
    }

    /// Allocates a buffer of `total_size` bytes that stores `size_per_bank` bytes (already
    /// aligned by its layout) in each of `banks` banks, and returns its address in every bank.
    pub fn allocate(
        &mut self,
        ty: BufferType,
        total_size: u64,
        size_per_bank: u64,
        banks: u32,
    ) -> Result<u64, AllocError> {
        let available = self.num_banks(ty);
        if banks == 0 || banks > available {
            return Err(AllocError::BankCount {
                ty,
                found: banks,
                available,
            });
        }
        self.region_mut(ty)
            .allocate(size_per_bank)
            .map_err(|e| match e {
                AllocError::NoFreeBlock { .. } => AllocError::OutOfMemory {
                    ty,
                    total_size,
                    banks,
                    size_per_bank,
                },
                AllocError::BlockListFull { capacity, .. } => AllocError::BlockListFull {
                    region: Some(ty),
                    capacity,
                },
                other => other,
            })
    }

    /// Frees the buffer of type `ty` at `addr`.
    pub fn deallocate(&mut self, ty: BufferType, addr: u64) -> Result<(), AllocError> {
        self.region_mut(ty)
            .deallocate(addr)
            .map(|_| ())
            .map_err(|e| match e {
                AllocError::NotAllocated { addr, .. } => AllocError::NotAllocated {
                    region: Some(ty),
                    addr,
                },
                other => other,
            })
    }

    /// Frees every buffer of every type.
    pub fn deallocate_all(&mut self) {
        for ty in BufferType::ALL {
            self.region_mut(ty).deallocate_all();
        }
    }
}
