//! What the processes attached to one device share about its backend: a block at the start of
//! host memory channel 0 of the chip ([`MemKind::Host`]), holding each queue's read pointer,
//! write pointer and allocation, and the backend's state. Queues placed in host memory follow
//! it in the same channels. So a process that pushes inputs and pops outputs (the io side) and
//! another that runs programs (the run side) meet only in device memory, as PyBuda's embedded
//! loader's "<io process>" and "<runtime process>" do on silicon.
//!
//! Block layout (little-endian; the words are atomics every side accesses in place):
//!
//! | Offset | Field |
//! |---|---|
//! | 0 | magic `TTRTBQS1` |
//! | 8 | `u32` state: 0 none, 1 initializing, 2 ready, 3 finished |
//! | 12 | `u32` generation: + 1 at every initialize of a run side |
//! | 16 | `u64` digest of the queue layout (FNV-1a 64, see [`Digest`]) |
//! | 24 | `u32` queues |
//! | 28 | `u32` flags: bit 0 golden mode |
//! | 64 + 16 i | queue i: `u32` read pointer, `u32` write pointer, `u32` allocated, `u32` 0 |
//!
//! The block is found where the chip maps its host memory (`Chip::map`). A chip that maps
//! nothing there (a transport without a mapped window) keeps the pointers in this process:
//! such a backend runs, but no io side can attach to it.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::hal::{Chip, MemKind};

pub(crate) const MAGIC: [u8; 8] = *b"TTRTBQS1";
const HEADER_SIZE: usize = 64;
const QUEUE_STATE_SIZE: usize = 16;

pub(crate) const INITIALIZING: u32 = 1;
pub(crate) const READY: u32 = 2;
pub(crate) const FINISHED: u32 = 3;

pub(crate) const FLAG_GOLDEN: u32 = 1;

/// One queue's pointers, where every side reaches them.
#[repr(C)]
pub(crate) struct QueueState {
    pub rd: AtomicU32,
    pub wr: AtomicU32,
    allocated: AtomicU32,
    _reserved: AtomicU32,
}

const _: () = assert!(core::mem::size_of::<QueueState>() == QUEUE_STATE_SIZE);

impl QueueState {
    /// Pointers 0, allocated.
    #[cfg(test)]
    pub const fn new() -> QueueState {
        QueueState {
            rd: AtomicU32::new(0),
            wr: AtomicU32::new(0),
            allocated: AtomicU32::new(1),
            _reserved: AtomicU32::new(0),
        }
    }

    pub fn allocated(&self) -> bool {
        self.allocated.load(Ordering::Acquire) != 0
    }

    pub fn set_allocated(&self, yes: bool) {
        self.allocated.store(u32::from(yes), Ordering::Release);
    }
}

#[repr(C)]
struct Header {
    magic: [u8; 8],
    state: AtomicU32,
    generation: AtomicU32,
    digest: AtomicU64,
    queues: AtomicU32,
    flags: AtomicU32,
}

const _: () = assert!(core::mem::size_of::<Header>() <= HEADER_SIZE);

/// The block, in device memory or (a chip that does not map it) in this process.
pub(crate) struct SharedState {
    base: NonNull<u8>,
    queues: usize,
    /// In device memory: other processes may attach.
    shared: bool,
    /// The block's memory when the chip does not map it (u64s: aligned for every word).
    _local: Option<Box<[u64]>>,
}

// SAFETY: the block is accessed through atomics only (the magic is written before the state
// word publishes it).
unsafe impl Send for SharedState {}
unsafe impl Sync for SharedState {}

/// Bytes the block of `queues` queues takes, rounded up to a 4 KiB page: where host queues
/// start in channel 0.
pub(crate) fn block_size(queues: usize) -> u64 {
    let bytes = (HEADER_SIZE + queues * QUEUE_STATE_SIZE) as u64;
    bytes.div_ceil(4096) * 4096
}

impl SharedState {
    /// The block of a backend of `queues` queues on `chip`: in its host memory where mapped,
    /// else in this process. `None`: no memory for it here.
    pub fn locate(chip: &dyn Chip, queues: usize) -> Option<SharedState> {
        let len = HEADER_SIZE + queues * QUEUE_STATE_SIZE;
        if let Some(base) = chip.map(MemKind::Host, 0, 0, len) {
            if base.as_ptr() as usize % 8 == 0 {
                return Some(SharedState {
                    base,
                    queues,
                    shared: true,
                    _local: None,
                });
            }
        }
        let mut words: Vec<u64> = Vec::new();
        words.try_reserve_exact(len.div_ceil(8)).ok()?;
        words.resize(len.div_ceil(8), 0);
        let mut local = words.into_boxed_slice();
        let base = NonNull::new(local.as_mut_ptr().cast::<u8>())?;
        Some(SharedState {
            base,
            queues,
            shared: false,
            _local: Some(local),
        })
    }

    /// Whether the block is in device memory, where other processes reach it.
    pub fn is_shared(&self) -> bool {
        self.shared
    }

    fn header(&self) -> &Header {
        // SAFETY: the block holds HEADER_SIZE bytes at `base`, 8-aligned (checked in
        // `locate`), living as long as the chip or `_local`, which outlive `self`'s users.
        unsafe { &*self.base.as_ptr().cast::<Header>() }
    }

    /// Queue `i`'s pointers.
    pub fn queue(&self, i: usize) -> &QueueState {
        assert!(i < self.queues);
        // SAFETY: as in `header`; slot i lies inside the block (checked above).
        unsafe {
            &*self
                .base
                .as_ptr()
                .add(HEADER_SIZE + i * QUEUE_STATE_SIZE)
                .cast::<QueueState>()
        }
    }

    /// The run side's initialize begins: the block is this backend's, every queue empty
    /// (pointers 0, allocated). Returns the new generation.
    pub fn begin(&self, digest: u64, flags: u32) -> u32 {
        let h = self.header();
        h.state.store(INITIALIZING, Ordering::Release);
        for i in 0..self.queues {
            let q = self.queue(i);
            q.rd.store(0, Ordering::Relaxed);
            q.wr.store(0, Ordering::Relaxed);
            q.set_allocated(true);
        }
        // SAFETY: the magic's bytes are only read once `state` says ready (Acquire), and
        // written while it says initializing.
        unsafe { core::ptr::copy_nonoverlapping(MAGIC.as_ptr(), self.base.as_ptr(), 8) };
        h.digest.store(digest, Ordering::Relaxed);
        h.queues.store(self.queues as u32, Ordering::Relaxed);
        h.flags.store(flags, Ordering::Relaxed);
        h.generation.fetch_add(1, Ordering::AcqRel).wrapping_add(1)
    }

    /// The run side's initialize is over: io sides may attach.
    pub fn publish(&self) {
        self.header().state.store(READY, Ordering::Release);
    }

    /// The run side has finished (or failed to initialize): io sides stop.
    pub fn close(&self) {
        self.header().state.store(FINISHED, Ordering::Release);
    }

    /// What an io side finds: the state, generation, digest and flags of the run side's
    /// backend, once ready (`None` before, and after it finished).
    pub fn ready(&self) -> Option<Attached> {
        let h = self.header();
        if h.state.load(Ordering::Acquire) != READY {
            return None;
        }
        // SAFETY: the magic was written before `state` became ready (Acquire above).
        let magic = unsafe { core::ptr::read_volatile(self.base.as_ptr().cast::<[u8; 8]>()) };
        Some(Attached {
            generation: h.generation.load(Ordering::Acquire),
            digest: h.digest.load(Ordering::Acquire),
            queues: h.queues.load(Ordering::Acquire),
            flags: h.flags.load(Ordering::Acquire),
            magic_ok: magic == MAGIC,
        })
    }

    /// Whether the run side of `generation` is still ready.
    pub fn still(&self, generation: u32) -> bool {
        let h = self.header();
        h.state.load(Ordering::Acquire) == READY
            && h.generation.load(Ordering::Acquire) == generation
    }
}

/// A ready run side, as an io side sees it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Attached {
    pub generation: u32,
    pub digest: u64,
    pub queues: u32,
    pub flags: u32,
    pub magic_ok: bool,
}

/// FNV-1a 64 over what makes two backends' queues the same: the arch, and for each queue its
/// name, kind, entries, entry size and buffer addresses. An io side attaches only to a run
/// side whose digest equals its own.
pub(crate) struct Digest(u64);

impl Digest {
    pub fn new() -> Digest {
        Digest(0xcbf2_9ce4_8422_2325)
    }

    pub fn bytes(&mut self, b: &[u8]) -> &mut Digest {
        for &x in b {
            self.0 ^= u64::from(x);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
        self
    }

    pub fn word(&mut self, w: u64) -> &mut Digest {
        self.bytes(&w.to_le_bytes())
    }

    pub fn value(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_is_fnv1a_64() {
        // FNV-1a 64 of "a" and of "foobar" (the published test vectors).
        assert_eq!(Digest::new().bytes(b"a").value(), 0xaf63dc4c8601ec8c);
        assert_eq!(Digest::new().bytes(b"foobar").value(), 0x85944171f73967e8);
    }

    #[test]
    fn block_sizes_round_to_pages() {
        assert_eq!(block_size(0), 4096);
        assert_eq!(block_size(252), 4096);
        assert_eq!(block_size(253), 8192);
    }
}
