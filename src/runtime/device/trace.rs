//! Traces: a CQ's programs captured once into the trace store, replayed as one command and
//! released; what a capture refuses; the program slots of the store and the staging area.

use core::sync::atomic::{AtomicU32, Ordering};

use super::events::OnClose;
use super::{Device, NO_CAPTURE};
use crate::hal::{Chip, Program};
use crate::runtime::allocator::BufferType;
use crate::runtime::command_queue::{Command, HostGuard};
use crate::runtime::error::{fail, ErrorKind, RuntimeError};
use crate::runtime::trace::{
    trace_size, TraceInfo, MAX_TRACES, TRACE_PAGE_SIZE, TRACE_RECORD_SIZE,
};

/// Upstream's texts for what a capture refuses.
pub(super) const NO_WRITES: &str = "Writes are not supported during trace capture.";
pub(super) const NO_READS: &str = "Reads are not supported during trace capture.";
pub(super) const NO_EVENTS: &str = "Event Synchronization is not supported during trace capture.";
pub(super) const NOT_CACHED: &str = "Cannot load new binaries during trace capture. This program is not yet in program cache. Warm up before capturing a trace.";
const NO_BLOCKING: &str = "Blocking is not supported when recording a trace.";
pub(super) const ALLOC_WITH_TRACE: &str = "Allocating device buffers is unsafe due to the existence of an active trace. These buffers may be corrupted once a trace is executed.";

/// Trace ids count from 0 per process, as upstream.
static NEXT_TRACE_ID: AtomicU32 = AtomicU32::new(0);

impl<C: Chip> Device<C> {
    pub(super) fn capture_of(guard: &mut HostGuard<'_>) -> Option<(u32, u32)> {
        guard.side().capture
    }

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

    pub(super) fn store_slot(&self, slot: u32) -> *mut Program {
        self.program_at(self.layout.store, slot)
    }

    pub(super) fn staging_slot(&self, slot: u32) -> *mut Program {
        self.program_at(self.layout.staging, slot)
    }
}
