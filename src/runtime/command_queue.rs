//! A command queue: a ring of fixed-size command records and a ring of data bytes in host
//! system memory, filled by the host and consumed in order by the device side, plus the
//! counters both sides share (commands done, event ids issued and completed).
//!
//! One host thread at a time enqueues on a CQ (the C API's thread rule; a second thread is
//! refused, not blocked) and one device side consumes it, so the rings need no lock: the host
//! owns the tail, the device the head.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU8, Ordering};

use super::device::Kernel;
use super::error::{fail, RuntimeError};
use super::signal::Signal;
use super::transfer::HostBuffer;
use crate::hal::{BufferRef, MemKind, Program};
use crate::message::MessageBuf;

/// Records in each command ring.
pub const RING_RECORDS: u32 = 1024;

/// One command record. Records are fixed-size ring slots, so variants differ in size.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Copy, Debug)]
pub enum Command {
    /// Scatter `count` pages, back to back in the data ring at `data_at`, to `dst` from page
    /// `first` on. The data is released (`data_end`) once written.
    Write {
        dst: BufferRef,
        first: u32,
        count: u32,
        data_at: u64,
        data_end: u64,
    },
    /// Copy every page of `dst` from a host buffer already in the device's pages (the host
    /// waits for this command: its memory stays valid until then).
    WriteFrom { dst: BufferRef, src: HostBuffer },
    /// Gather every page of `src` into the host buffer, converting on the way.
    Read { src: BufferRef, dst: HostBuffer },
    /// Run one device program.
    Program(Program),
    /// Copy `len` bytes from the data ring at `data_at` to `addr` of `bank`.
    WriteRaw {
        kind: MemKind,
        bank: u32,
        addr: u64,
        len: u32,
        data_at: u64,
        data_end: u64,
    },
    /// Copy `len` bytes from host memory at `src` to `addr` of `bank` (the host waits).
    WriteRawFrom {
        kind: MemKind,
        bank: u32,
        addr: u64,
        src: usize,
        len: usize,
    },
    /// Copy `len` bytes at `addr` of `bank` to host memory at `dst` (the host waits).
    ReadRaw {
        kind: MemKind,
        bank: u32,
        addr: u64,
        dst: usize,
        len: usize,
    },
    /// Run a kernel.
    Kernel(Kernel),
    /// Mark event `id` of this CQ complete.
    RecordEvent { id: u32 },
    /// Stall this CQ until event `id` of CQ `cq` has completed.
    WaitEvent { cq: u8, id: u32 },
    /// Run the `len` programs of a trace, stored from record `first` of the trace store.
    ExecuteTrace { first: u32, len: u32 },
    /// The worker serving this CQ returns (the device is closing).
    Shutdown,
}

/// The host's side of a CQ: the data ring's tail and the trace capture in progress.
pub(crate) struct HostSide {
    pub data_tail: u64,
    /// The trace being captured on this CQ and the programs captured so far.
    pub capture: Option<(u32, u32)>,
}

/// The first device-side failure on a CQ since the host last looked, kept for the next
/// blocking call.
struct ErrorSlot {
    /// 0: empty, 1: being written, 2: holds a message.
    state: AtomicU8,
    /// The failure was the device going away (written before state 2).
    lost: core::sync::atomic::AtomicBool,
    text: UnsafeCell<MessageBuf<256>>,
}

pub struct CommandQueue {
    pub(crate) id: u8,
    records: *mut Command,
    data: *mut u8,
    pub(crate) data_cap: u64,
    /// Commands enqueued (host).
    pub(crate) tail: Signal,
    /// Commands done (device).
    pub(crate) head: Signal,
    /// Data-ring position the device has released, modulo 2^32 (32-bit targets have no
    /// 64-bit atomics; the host recovers the full position from its own tail).
    data_head: AtomicU32,
    /// The last event id issued on this CQ.
    pub(crate) issued: AtomicU32,
    /// The ids have wrapped past 2^32 - 1 (back to 1): every nonzero id was issued once.
    pub(crate) wrapped: AtomicBool,
    /// The last event id completed on this CQ.
    pub(crate) completed: Signal,
    busy: AtomicBool,
    /// Set by the device's `stop` while it holds the host side, before the shutdown record:
    /// a call that takes the host side afterwards is refused, so nothing is enqueued behind
    /// the shutdown record (where no worker would run it).
    closed: AtomicBool,
    host: UnsafeCell<HostSide>,
    error: ErrorSlot,
}

// SAFETY: `records` and `data` point into system memory the device owns for its lifetime;
// the host side is reached only through `HostGuard` (one thread at a time) and the device side
// only by the CQ's consumer.
unsafe impl Send for CommandQueue {}
unsafe impl Sync for CommandQueue {}

/// Exclusive use of a CQ's host side for one call.
pub(crate) struct HostGuard<'a> {
    cq: &'a CommandQueue,
}

impl Drop for HostGuard<'_> {
    fn drop(&mut self) {
        self.cq.busy.store(false, Ordering::Release);
    }
}

impl HostGuard<'_> {
    pub fn side(&mut self) -> &mut HostSide {
        // SAFETY: `busy` is held by this guard.
        unsafe { &mut *self.cq.host.get() }
    }
}

impl CommandQueue {
    /// # Safety
    /// `records` must be valid for `RING_RECORDS` commands and `data` for `data_cap` bytes,
    /// for as long as the CQ lives, and used by nothing else.
    pub(crate) unsafe fn new(id: u8, records: *mut Command, data: *mut u8, data_cap: u64) -> Self {
        CommandQueue {
            id,
            records,
            data,
            data_cap,
            tail: Signal::new(0),
            head: Signal::new(0),
            data_head: AtomicU32::new(0),
            issued: AtomicU32::new(0),
            wrapped: AtomicBool::new(false),
            completed: Signal::new(0),
            busy: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            host: UnsafeCell::new(HostSide {
                data_tail: 0,
                capture: None,
            }),
            error: ErrorSlot {
                state: AtomicU8::new(0),
                lost: core::sync::atomic::AtomicBool::new(false),
                text: UnsafeCell::new(MessageBuf::new()),
            },
        }
    }

    /// Takes the host side for one call; another thread already in a call on this CQ is an
    /// error (the C API's rule: one thread per CQ at a time).
    pub(crate) fn host(&self) -> Result<HostGuard<'_>, RuntimeError> {
        if self
            .busy
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return fail!(
                InvalidState,
                "CQ {} is in use by another thread (use each CQ from one thread at a time)",
                self.id
            );
        }
        let guard = HostGuard { cq: self };
        if self.closed.load(Ordering::Acquire) {
            return fail!(
                InvalidState,
                "CQ {} is closed (its device was closed)",
                self.id
            );
        }
        Ok(guard)
    }

    /// Refuses every later call on this CQ (see `closed`); the caller holds the host side.
    pub(crate) fn close(&self, _guard: &HostGuard<'_>) {
        self.closed.store(true, Ordering::Release);
    }

    /// Room for one more record?
    pub(crate) fn has_room(&self) -> bool {
        self.tail.load().wrapping_sub(self.head.load()) < RING_RECORDS
    }

    /// Appends a record; the caller made sure there is room (`has_room`).
    #[inline(always)]
    pub(crate) fn push(&self, _guard: &HostGuard<'_>, cmd: Command) {
        let tail = self.tail.load();
        debug_assert!(tail.wrapping_sub(self.head.load()) < RING_RECORDS);
        // SAFETY: slot `tail % RING_RECORDS` is not in use by the device (the ring is not
        // full) and the guard makes this thread the only producer.
        unsafe { self.records.add((tail % RING_RECORDS) as usize).write(cmd) };
        self.tail.store(tail.wrapping_add(1));
    }

    /// Reserves `len` contiguous bytes of the data ring: `Some((offset, end))` where `end` is
    /// the ring position to release after use, or `None` while the device still holds the room.
    pub(crate) fn reserve(&self, side: &mut HostSide, len: u64) -> Option<(u64, u64)> {
        let mut start = side.data_tail;
        let at = start % self.data_cap;
        if at + len > self.data_cap {
            start += self.data_cap - at; // skip the ring's end: data never wraps
        }
        let end = start + len;
        let tail = side.data_tail;
        let head = tail - (tail as u32).wrapping_sub(self.data_head.load(Ordering::Acquire)) as u64;
        // An empty ring takes any block that fits it, wherever the last one ended.
        if head != tail && end - head > self.data_cap {
            return None;
        }
        side.data_tail = end;
        Some((start % self.data_cap, end))
    }

    /// The data ring's bytes at `offset`.
    ///
    /// # Safety
    /// `offset..offset + len` must be a range reserved by the caller and not yet released.
    pub(crate) unsafe fn data(&self, offset: u64, len: usize) -> *mut u8 {
        debug_assert!(offset + len as u64 <= self.data_cap);
        // SAFETY: inside the data ring (caller's promise).
        unsafe { self.data.add(offset as usize) }
    }

    /// The next record for the device, if any.
    pub(crate) fn front(&self) -> Option<Command> {
        let head = self.head.load();
        if head == self.tail.load() {
            return None;
        }
        // SAFETY: the record at `head` was written before `tail` moved past it (release /
        // acquire through the signals) and the host does not touch it until `head` moves.
        Some(unsafe { self.records.add((head % RING_RECORDS) as usize).read() })
    }

    /// Retires the front record, releasing its data up to `data_end` (0: none).
    pub(crate) fn pop(&self, data_end: u64) {
        if data_end != 0 {
            self.data_head.store(data_end as u32, Ordering::Release);
        }
        self.head.store(self.head.load().wrapping_add(1));
    }

    /// Keeps the first device-side failure until the host collects it.
    pub(crate) fn set_error(&self, args: core::fmt::Arguments<'_>) {
        self.set_error_of(false, args);
    }

    /// Keeps a failure whose cause was the device going away (`lost`), or another one.
    pub(crate) fn set_error_of(&self, lost: bool, args: core::fmt::Arguments<'_>) {
        if self
            .error
            .state
            .compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            // SAFETY: state 1 makes this the only writer; readers wait for state 2.
            unsafe { (*self.error.text.get()).set(args) };
            self.error.lost.store(lost, Ordering::Relaxed);
            self.error.state.store(2, Ordering::Release);
        }
    }

    /// Collects the kept failure, if any, as the error of a blocking call.
    pub(crate) fn take_error(&self) -> Result<(), RuntimeError> {
        if self.error.state.load(Ordering::Acquire) != 2 {
            return Ok(());
        }
        // SAFETY: state 2: the writer is done and no other writer starts until we reset it.
        let kind = match self.error.lost.load(Ordering::Relaxed) {
            true => super::error::ErrorKind::DeviceLost,
            false => super::error::ErrorKind::Device,
        };
        let err = RuntimeError::new(
            kind,
            format_args!("{}", unsafe { (*self.error.text.get()).as_str() }),
        );
        self.error.state.store(0, Ordering::Release);
        Err(err)
    }
}
