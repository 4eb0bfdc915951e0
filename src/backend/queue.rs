//! A netlist queue as the backend runs it: its buffers (in device DRAM at the channel and
//! address the netlist gives, or in host memory), the header at the start of every buffer
//! (word 0: read pointer, word 1: write pointer), and the pointers themselves.
//!
//! Pointers count modulo `2 * entries` (slot = pointer % entries), so a full queue and an
//! empty one differ. Each pointer has one writer at a time: the host moves the write pointer of
//! the queues it pushes and the read pointer of the queues it pops; the device (a graph's
//! kernel) moves the others. The pointers themselves live in the block every process attached
//! to the device shares (shared.rs); the header mirrors them in the queue's memory, as on
//! silicon.

use alloc::string::String;
use alloc::vec::Vec;
use core::cell::UnsafeCell;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU8, Ordering};

use super::error::{err, BackendError, RunError};
use super::shared::QueueState;
use crate::format::{Arch, DataFormat, QueueLayout};
use crate::hal::{Chip, MemKind};
use crate::netlist::{IoType, Netlist, Queue, QueueLocation};
use crate::runtime::host_memory::{Bytes, HostMemoryBudget};
use crate::runtime::Device;

/// Where one queue's buffers live: one buffer per core of the queue's grid, at (bank, address)
/// of `kind`: in DRAM at the channel and address the netlist gives, or in the host memory the
/// device reaches, placed after the shared block (`HostPlacer`).
pub(crate) struct QueueMem {
    pub kind: MemKind,
    pub buffers: Vec<(u32, u64)>,
}

/// Places the buffers of host memory queues one after another in the chip's host memory
/// channels, from the end of the shared block on (so every process laying out the same
/// netlist finds them at the same addresses), within the host memory budget.
pub(crate) struct HostPlacer {
    budget: HostMemoryBudget,
    /// Bytes placed so far.
    used: u64,
    channel: u32,
    next: u64,
    channels: u32,
    channel_size: u64,
}

/// Host memory buffers start at multiples of this.
const HOST_ALIGN: u64 = 64;

impl HostPlacer {
    pub fn new(chip: &dyn Chip, budget: HostMemoryBudget, start: u64) -> HostPlacer {
        let g = chip.geometry();
        HostPlacer {
            budget,
            used: 0,
            channel: 0,
            next: start,
            channels: g.host_channels,
            channel_size: g.host_channel_size,
        }
    }

    /// (channel, address) of `size` bytes after what is placed, or None when no channel has
    /// room for them.
    pub fn place(&mut self, size: u64) -> Option<(u32, u64)> {
        self.next_buffer(size)
    }

    /// (channel, address) of the next buffer of `size` bytes, or None when no channel has
    /// room for it.
    fn next_buffer(&mut self, size: u64) -> Option<(u32, u64)> {
        loop {
            let at = self.next.div_ceil(HOST_ALIGN) * HOST_ALIGN;
            if at.checked_add(size)? <= self.channel_size {
                self.next = at + size;
                return Some((self.channel, at));
            }
            if self.channel + 1 >= self.channels {
                return None;
            }
            self.channel += 1;
            self.next = 0;
        }
    }
}

/// A queue of the netlist, allocated.
pub(crate) struct QueueRt {
    pub name: String,
    /// How the entries are laid out where they are kept: the netlist's layout, or in golden
    /// mode for a queue an op writes, the same in Float32 (`golden`).
    pub layout: QueueLayout,
    /// The netlist's format of the queue: what get_output converts to.
    pub df: DataFormat,
    /// Golden mode, a queue an op writes (or a flat queue only tilizers read): the entries are
    /// kept as float32 in host memory, as upstream's golden keeps them, and this is the
    /// format tag each slot's entry carries (the tag of the producer's output; the queue's
    /// format until written).
    pub golden: Option<Tags>,
    pub io_type: IoType,
    pub entries: u32,
    /// Entries a graph consumes or produces per execute (what get/pop without `one` move).
    pub input_count: u32,
    /// Written by the host (not by an op).
    pub host_fed: bool,
    pub mem: QueueMem,
    /// Bytes of one entry in one buffer.
    pub entry_size: usize,
    pub header_size: usize,
    /// Buffers (cores of the queue's grid).
    pub buffers: usize,
    /// The read and write pointers and whether the queue is allocated (`deallocate_queue`
    /// clears it, `allocate_queue` sets it), in the block every process attached to the
    /// device shares (shared.rs).
    state: NonNull<QueueState>,
    /// The header in front of the buffers is this queue's. A second view of a ram (`alias`)
    /// shares the buffers, header included, with the ram it names; each view keeps its own
    /// pointers (golden's views are separate rams over one memory), and the shared header
    /// mirrors those of the named ram only.
    pub owns_header: bool,
    /// The host side's conversion buffer (push and get; one io thread at a time).
    pub io_staging: UnsafeCell<Vec<u8>>,
    /// The device side's conversion buffer (one kernel at a time).
    pub dev_staging: UnsafeCell<Vec<u8>>,
}

// SAFETY: the staging buffers are used by one side at a time (the io side and the device side
// each own their staging); the state is atomics in memory that outlives the queue (the
// runtime's shared block), see the module text.
unsafe impl Sync for QueueRt {}
unsafe impl Send for QueueRt {}

/// Entries graphs move per execute for `q`: the consumer graph's input_count, else the
/// producer graph's; 1 for a ram with one entry.
pub(crate) fn input_count_of(netlist: &Netlist, q: &Queue) -> u32 {
    if q.io_type == IoType::Ram && q.entries == 1 {
        return 1;
    }
    let consumer = netlist
        .graphs
        .iter()
        .find(|g| g.ops.iter().any(|op| op.inputs.contains(&q.name)));
    let producer = netlist
        .graphs
        .iter()
        .find(|g| g.ops.iter().any(|op| op.name == q.input));
    consumer.or(producer).map_or(1, |g| g.input_count.max(1))
}

/// Whether golden mode keeps queue `q` as float32: a queue an op writes, or a flat queue the
/// host feeds that only tilizers read (golden's tilizer re-tilizes the host's unquantized
/// buffer, exec/tilizer.rs), in a format that is not integer or raw (golden quantizes those at
/// the op already), and not a view of a dual-view ram or a ram that has one (the views share
/// the memory of the device format).
fn keeps_f32(netlist: &Netlist, q: &Queue) -> bool {
    let integer = matches!(
        q.df,
        DataFormat::Int8 | DataFormat::Int32 | DataFormat::UInt8 | DataFormat::UInt16
    ) || q.df.is_raw();
    let viewed = q.alias.is_some()
        || netlist
            .queues
            .iter()
            .any(|o| o.alias.as_deref() == Some(q.name.as_str()));
    let mut readers = netlist
        .graphs
        .iter()
        .flat_map(|g| &g.ops)
        .filter(|op| op.inputs.contains(&q.name))
        .peekable();
    let tilized = q.layout == crate::format::IoLayout::Flat
        && readers.peek().is_some()
        && readers.all(|op| op.op_type.is(crate::netlist::OpType::Tilizer));
    (!q.is_host_input() || tilized) && !integer && !viewed
}

/// The format tags of a queue golden mode keeps as float32: one byte per slot, in host memory
/// the device reaches right after the queue's buffers, so the side that writes an entry (a
/// graph on the device) and the side that reads it (get_output) see the same tag.
pub(crate) struct Tags {
    at: NonNull<AtomicU8>,
    len: u32,
}

impl Tags {
    /// Places the tags of `q`'s slots after its buffers.
    fn place(q: &Queue, chip: &dyn Chip, host: &mut HostPlacer) -> Result<Tags, BackendError> {
        let bytes = u64::from(q.entries);
        let mapped = host
            .next_buffer(bytes)
            .and_then(|(ch, addr)| chip.map(MemKind::Host, ch, addr, q.entries as usize));
        let Some(at) = mapped else {
            return err!(
                OutOfMemory,
                "queue `{}`: no host memory the device maps for the format tags of its {} entries",
                q.name,
                q.entries
            );
        };
        host.used = host.used.saturating_add(bytes);
        Ok(Tags {
            at: at.cast(),
            len: q.entries,
        })
    }

    fn slot(&self, i: u32) -> &AtomicU8 {
        assert!(i < self.len);
        // SAFETY: `len` bytes at `at` are the chip's mapped memory, living as long as the chip
        // (which outlives the queue); accessed as atomics only.
        unsafe { &*self.at.as_ptr().add(i as usize) }
    }
}

impl QueueRt {
    /// The format tag of the entry at pointer `p`: in golden mode the tag it was written
    /// with, else the queue's format.
    pub fn tag_at(&self, p: u32) -> DataFormat {
        match &self.golden {
            Some(tags) => {
                let bits = tags.slot(p % self.entries).load(Ordering::Acquire);
                DataFormat::from_u32(u32::from(bits)).unwrap_or(self.df)
            }
            None => self.layout.format,
        }
    }

    /// Sets every slot's tag to the queue's format (the run side's initialize).
    pub fn reset_tags(&self) {
        if let Some(tags) = &self.golden {
            for i in 0..tags.len {
                tags.slot(i).store(self.df as u8, Ordering::Release);
            }
        }
    }

    /// The netlist's layout of the queue, what push and get_output see, whatever the queue
    /// keeps (golden mode keeps Float32).
    pub fn view(&self) -> QueueLayout {
        QueueLayout {
            format: self.df,
            ..self.layout
        }
    }

    /// Records the tag of the entry written at pointer `p` (golden mode only).
    pub fn set_tag(&self, p: u32, tag: DataFormat) {
        if let Some(tags) = &self.golden {
            tags.slot(p % self.entries)
                .store(tag as u8, Ordering::Release);
        }
    }

    /// Lays out queue `q` of `netlist` on a chip of `arch`, checking that its buffers fit: in
    /// DRAM, the chip's; in host memory, the budget and the chip's host memory channels
    /// (`host` places them). `state` is the queue's pointers in the shared block.
    /// With `golden`, a queue an op writes keeps float32 entries in host memory
    /// (`QueueRt::golden`).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        netlist: &Netlist,
        q: &Queue,
        arch: Arch,
        chip: &dyn Chip,
        host: &mut HostPlacer,
        state: &QueueState,
        golden: bool,
    ) -> Result<QueueRt, BackendError> {
        let mut layout = q.layout(arch);
        if let Err(e) = layout.validate() {
            return err!(Unsupported, "queue '{}' (line {}): {e}", q.name, q.line);
        }
        let keep_f32 = golden && keeps_f32(netlist, q);
        if keep_f32 {
            layout.format = DataFormat::Float32;
        }
        let entry_size = layout.entry_size();
        let header_size = arch.queue_header_size();
        let io_size = layout.io_size(q.entries) as u64;
        let buffers = layout.buffers();
        let loc = if keep_f32 { QueueLocation::Host } else { q.loc };
        let mem = match loc {
            QueueLocation::Dram => {
                let g = chip.geometry();
                let mut list = Vec::with_capacity(buffers);
                for (i, b) in q.buffers.iter().enumerate() {
                    let end = b.address.checked_add(io_size);
                    if b.channel >= g.dram_channels || end.is_none_or(|e| e > g.dram_channel_size) {
                        return err!(
                            InvalidArgument,
                            "queue '{}' (line {}): buffer {i} at [{}, {:#x}] of {io_size} B does not fit the {} DRAM ({} channels of {} B)",
                            q.name,
                            q.line,
                            b.channel,
                            b.address,
                            arch.name(),
                            g.dram_channels,
                            g.dram_channel_size
                        );
                    }
                    list.push((b.channel, b.address));
                }
                if list.len() != buffers {
                    return err!(
                        InvalidArgument,
                        "queue '{}' (line {}): {} buffer addresses for a grid of {buffers} cores",
                        q.name,
                        q.line,
                        list.len()
                    );
                }
                QueueMem {
                    kind: MemKind::Dram,
                    buffers: list,
                }
            }
            QueueLocation::Host => {
                let list = Self::place_in_host(q, entry_size, header_size, buffers, host)?;
                QueueMem {
                    kind: MemKind::Host,
                    buffers: list,
                }
            }
        };
        let golden = match keep_f32 {
            true => Some(Tags::place(q, chip, host)?),
            false => None,
        };
        Ok(QueueRt {
            name: q.name.clone(),
            layout,
            df: q.df,
            golden,
            io_type: q.io_type,
            entries: q.entries,
            input_count: input_count_of(netlist, q),
            host_fed: q.is_host_input(),
            mem,
            entry_size,
            header_size,
            buffers,
            state: NonNull::from(state),
            owns_header: q.alias.is_none(),
            io_staging: UnsafeCell::new(Vec::new()),
            dev_staging: UnsafeCell::new(Vec::new()),
        })
    }

    /// The buffers of a queue in host memory: sized by the netlist, so checked arithmetic,
    /// the budget, and room in the chip's host memory channels.
    fn place_in_host(
        q: &Queue,
        entry_size: usize,
        header_size: usize,
        buffers: usize,
        host: &mut HostPlacer,
    ) -> Result<Vec<(u32, u64)>, BackendError> {
        let per_buffer = u64::from(q.entries)
            .checked_mul(entry_size as u64)
            .and_then(|b| b.checked_add(header_size as u64));
        let need = per_buffer.and_then(|b| b.checked_mul(buffers as u64));
        let total = need.and_then(|n| n.checked_add(host.used));
        let fits = match (per_buffer, total) {
            (Some(size), Some(total)) if host.budget.admits(Some(total)) => Some((size, total)),
            _ => None,
        };
        let Some((size, total)) = fits else {
            let each = if buffers == 1 {
                String::new()
            } else {
                alloc::format!(", in each of {buffers} buffers")
            };
            let before = if host.used == 0 {
                String::new()
            } else {
                alloc::format!(" besides the {} B of the host queues before it", host.used)
            };
            return err!(
                OutOfMemory,
                "queue `{}` needs {} of host memory ({} entries of {entry_size} B and a {header_size} B header{each}){before}, over the host memory budget of {} B",
                q.name,
                Bytes(need),
                q.entries,
                host.budget.bytes()
            );
        };
        let mut list = Vec::new();
        if list.try_reserve_exact(buffers).is_err() {
            return err!(
                OutOfMemory,
                "queue `{}`: no memory for the addresses of its {buffers} buffers",
                q.name
            );
        }
        for _ in 0..buffers {
            let Some(at) = host.next_buffer(size) else {
                return err!(
                    OutOfMemory,
                    "queue `{}` needs {} buffers of {size} B in host memory, beyond the {} channels of {} B the device reaches",
                    q.name,
                    buffers,
                    host.channels,
                    host.channel_size
                );
            };
            list.push(at);
        }
        host.used = total;
        Ok(list)
    }

    /// The pointer wrap: `2 * entries`.
    pub fn wrap(&self) -> u32 {
        2 * self.entries
    }

    /// `p + n`, wrapped.
    pub fn advance(&self, p: u32, n: u32) -> u32 {
        ((p as u64 + n as u64) % self.wrap() as u64) as u32
    }

    /// Entries between `from` and `to` (`to - from`, wrapped).
    pub fn distance(&self, from: u32, to: u32) -> u32 {
        ((to as u64 + self.wrap() as u64 - from as u64) % self.wrap() as u64) as u32
    }

    /// The queue's pointers and allocation, in the shared block.
    pub fn st(&self) -> &QueueState {
        // SAFETY: the block outlives the queue (both belong to the runtime, the block's memory
        // to its chip); its words are atomics.
        unsafe { self.state.as_ref() }
    }

    /// The read pointer.
    pub fn rd(&self) -> u32 {
        self.st().rd.load(Ordering::Acquire)
    }

    /// The write pointer.
    pub fn wr(&self) -> u32 {
        self.st().wr.load(Ordering::Acquire)
    }

    /// Entries written and not yet popped.
    pub fn occupancy(&self) -> u32 {
        self.distance(self.rd(), self.wr())
    }

    /// Bytes `n` entries take in every buffer together (the staging layout of `tilize`).
    pub fn bytes_for(&self, n: usize) -> usize {
        n * self.entry_size * self.buffers
    }
}

/// How one side reaches a queue's memory.
pub(crate) trait Mem {
    fn write(&self, kind: MemKind, bank: u32, addr: u64, bytes: &[u8]) -> Result<(), RunError>;
    fn read(&self, kind: MemKind, bank: u32, addr: u64, bytes: &mut [u8]) -> Result<(), RunError>;
    /// A small write that need not be waited for (ordered with the side's later commands).
    fn post(&self, kind: MemKind, bank: u32, addr: u64, bytes: &[u8]) -> Result<(), RunError> {
        self.write(kind, bank, addr, bytes)
    }
    /// The memory in place, where this side may access it so (see `Chip::map`).
    fn map(&self, _kind: MemKind, _bank: u32, _addr: u64, _len: usize) -> Option<*mut u8> {
        None
    }
}

/// The host side: on the calling thread, in a command queue's order (`Device::run_inline`:
/// after what the CQ holds, before what is enqueued later), or with no CQ (`None`) straight
/// on the chip.
pub(crate) struct HostMem<'a, C: Chip> {
    pub device: &'a Device<C>,
    pub cq: Option<u8>,
}

impl<C: Chip> HostMem<'_, C> {
    fn with(&self, f: impl FnOnce(ChipMem<'_>) -> Result<(), RunError>) -> Result<(), RunError> {
        match self.cq {
            Some(cq) => self.device.run_inline(cq, |chip| f(ChipMem(chip)))?,
            None => f(ChipMem(self.device.chip())),
        }
    }
}

impl<C: Chip> Mem for HostMem<'_, C> {
    fn write(&self, kind: MemKind, bank: u32, addr: u64, bytes: &[u8]) -> Result<(), RunError> {
        self.with(|chip| chip.write(kind, bank, addr, bytes))
    }
    fn read(&self, kind: MemKind, bank: u32, addr: u64, bytes: &mut [u8]) -> Result<(), RunError> {
        self.with(|chip| chip.read(kind, bank, addr, bytes))
    }
}

/// The chip itself: inside a kernel, or on the host in a CQ's order (`Device::run_inline`).
pub(crate) struct ChipMem<'a>(pub &'a dyn Chip);

impl Mem for ChipMem<'_> {
    fn write(&self, kind: MemKind, bank: u32, addr: u64, bytes: &[u8]) -> Result<(), RunError> {
        Ok(self.0.write(kind, bank, addr, bytes)?)
    }
    fn read(&self, kind: MemKind, bank: u32, addr: u64, bytes: &mut [u8]) -> Result<(), RunError> {
        Ok(self.0.read(kind, bank, addr, bytes)?)
    }
    fn map(&self, kind: MemKind, bank: u32, addr: u64, len: usize) -> Option<*mut u8> {
        self.0.map(kind, bank, addr, len).map(|p| p.as_ptr())
    }
}

impl QueueRt {
    /// Moves `n` entries between `staging` (tilize's layout: for each buffer, the entries back
    /// to back) and the slots from `first` on, wrapping at the end of the queue.
    fn transfer(
        &self,
        mem: &dyn Mem,
        first: u32,
        n: usize,
        staging: *mut u8,
        write: bool,
    ) -> Result<(), RunError> {
        let es = self.entry_size;
        let slot0 = (first % self.entries) as usize;
        let until_end = self.entries as usize - slot0;
        let spans = [
            (slot0, n.min(until_end), 0usize),
            (0, n.saturating_sub(until_end), n.min(until_end)),
        ];
        for b in 0..self.buffers {
            for &(slot, count, skip) in &spans {
                if count == 0 {
                    continue;
                }
                let len = count * es;
                let at = (b * n + skip) * es;
                // SAFETY: `staging` holds `bytes_for(n)` bytes (the caller's), and `at + len`
                // stays inside buffer b's share of them.
                let bytes = unsafe { core::slice::from_raw_parts_mut(staging.add(at), len) };
                let offset = (self.header_size + slot * es) as u64;
                let (bank, addr) = self.mem.buffers[b];
                if write {
                    mem.write(self.mem.kind, bank, addr + offset, bytes)?;
                } else {
                    mem.read(self.mem.kind, bank, addr + offset, bytes)?;
                }
            }
        }
        Ok(())
    }

    /// Writes `n` entries from `staging` at the slots from pointer `first` on.
    pub fn write_entries(
        &self,
        mem: &dyn Mem,
        first: u32,
        n: usize,
        staging: &[u8],
    ) -> Result<(), RunError> {
        debug_assert!(staging.len() >= self.bytes_for(n));
        self.transfer(mem, first, n, staging.as_ptr().cast_mut(), true)
    }

    /// Reads `n` entries from the slots from pointer `first` on into `staging`.
    pub fn read_entries(
        &self,
        mem: &dyn Mem,
        first: u32,
        n: usize,
        staging: &mut [u8],
    ) -> Result<(), RunError> {
        debug_assert!(staging.len() >= self.bytes_for(n));
        self.transfer(mem, first, n, staging.as_mut_ptr(), false)
    }

    /// Writes header word `word` (0: read pointer, 1: write pointer) of every buffer.
    pub fn write_header(&self, mem: &dyn Mem, word: usize, value: u32) -> Result<(), RunError> {
        let bytes = value.to_le_bytes();
        for &(bank, addr) in &self.mem.buffers {
            mem.post(self.mem.kind, bank, addr + 4 * word as u64, &bytes)?;
        }
        Ok(())
    }

    /// Sets the read pointer and mirrors it into the header.
    pub fn set_rd(&self, mem: &dyn Mem, value: u32) -> Result<(), RunError> {
        self.st().rd.store(value, Ordering::Release);
        if !self.owns_header {
            return Ok(());
        }
        self.write_header(mem, 0, value & 0xffff)
    }

    /// Sets the write pointer and mirrors it into the header.
    pub fn set_wr(&self, mem: &dyn Mem, value: u32) -> Result<(), RunError> {
        self.st().wr.store(value, Ordering::Release);
        if !self.owns_header {
            return Ok(());
        }
        self.write_header(mem, 1, value)
    }
}

/// Grows `v` to at least `len` bytes (only the first use of a size allocates).
pub(crate) fn staging(v: &mut Vec<u8>, len: usize) -> &mut [u8] {
    if v.len() < len {
        v.resize(len, 0);
    }
    &mut v[..len]
}
