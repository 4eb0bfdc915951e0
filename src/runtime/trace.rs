//! Traces: the programs captured on a command queue, stored in the device's trace region and
//! replayed by one command.
//!
//! A trace takes `TRACE_RECORD_SIZE` bytes of trace region per captured program, rounded up to
//! whole `TRACE_PAGE_SIZE` pages, interleaved over the DRAM banks like any buffer. The simulated
//! chip keeps the records themselves in a host-memory mirror of the region (the trace store),
//! one record slot per `TRACE_RECORD_SIZE` bytes of region, so a trace at region offset `o`
//! (per bank) starts at slot `o * banks / TRACE_RECORD_SIZE`.

use core::sync::atomic::{AtomicU32, Ordering};

/// Bytes of trace region one captured program takes.
pub const TRACE_RECORD_SIZE: u64 = 512;
/// Trace buffers are whole pages of this size.
pub const TRACE_PAGE_SIZE: u64 = 1024;
/// Traces alive on one device at a time.
pub const MAX_TRACES: usize = 64;

const EMPTY: u32 = u32::MAX;

/// One live trace. `tid` is written last when published and first when retired, so a lookup
/// that sees the id sees the rest.
pub(crate) struct TraceEntry {
    tid: AtomicU32,
    pub cq: AtomicU32,
    pub first: AtomicU32,
    pub len: AtomicU32,
}

pub(crate) struct TraceTable {
    entries: [TraceEntry; MAX_TRACES],
}

/// What a lookup finds.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TraceInfo {
    pub index: usize,
    pub cq: u8,
    pub first: u32,
    pub len: u32,
}

impl TraceTable {
    pub const fn new() -> TraceTable {
        TraceTable {
            entries: [const {
                TraceEntry {
                    tid: AtomicU32::new(EMPTY),
                    cq: AtomicU32::new(0),
                    first: AtomicU32::new(0),
                    len: AtomicU32::new(0),
                }
            }; MAX_TRACES],
        }
    }

    /// Finds trace `tid` (a scan of at most `MAX_TRACES` entries, whatever the trace's length).
    pub fn find(&self, tid: u32) -> Option<TraceInfo> {
        self.entries.iter().enumerate().find_map(|(index, e)| {
            (tid != EMPTY && e.tid.load(Ordering::Acquire) == tid).then(|| TraceInfo {
                index,
                cq: e.cq.load(Ordering::Relaxed) as u8,
                first: e.first.load(Ordering::Relaxed),
                len: e.len.load(Ordering::Relaxed),
            })
        })
    }

    /// Publishes a trace; returns its entry index, or None when `MAX_TRACES` are alive. Callers serialize publish and
    /// retire (the device's set-up lock).
    pub fn publish(&self, tid: u32, info: TraceInfo) -> Option<usize> {
        let index = self
            .entries
            .iter()
            .position(|e| e.tid.load(Ordering::Relaxed) == EMPTY)?;
        let e = &self.entries[index];
        e.cq.store(info.cq as u32, Ordering::Relaxed);
        e.first.store(info.first, Ordering::Relaxed);
        e.len.store(info.len, Ordering::Relaxed);
        e.tid.store(tid, Ordering::Release);
        Some(index)
    }

    pub fn retire(&self, index: usize) {
        self.entries[index].tid.store(EMPTY, Ordering::Release);
    }

    /// Whether any trace is alive.
    pub fn any(&self) -> bool {
        self.entries
            .iter()
            .any(|e| e.tid.load(Ordering::Relaxed) != EMPTY)
    }
}

/// Bytes of trace region a trace of `programs` programs takes: rounded up to whole pages.
pub const fn trace_size(programs: u32) -> u64 {
    (programs as u64 * TRACE_RECORD_SIZE).div_ceil(TRACE_PAGE_SIZE) * TRACE_PAGE_SIZE
}
