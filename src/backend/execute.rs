//! `execute`: a graph run `input_count` times on the device, reading its input queues at their
//! local read pointers and writing its output queues at their write pointers
//! (notes/buda-backend.md, "Programs"); and the host side of the program interpreter, which
//! turns each `execute` into a `CMD_RUN_GRAPH` naming the graph and the settings it wrote into
//! device memory (firmware.rs runs it), and each pointer change into the queue's pointers.

use alloc::string::String;
use alloc::vec::Vec;
use core::cell::UnsafeCell;
use core::sync::atomic::Ordering;

use super::error::RunError;
use super::queue::{HostMem, Mem, QueueRt};
use super::Runtime;
use crate::format::{DataFormat, HostTensor, HostTensorMut};
use crate::hal::Chip;
use crate::netlist::exec::{BufferPool, GraphPlan, QueueIo, Tensor};
use crate::netlist::interp::{PointerKind, ProgramHost, ResolvedSetting};
use crate::netlist::IoType;
use crate::runtime::Event;

#[cfg(target_endian = "big")]
compile_error!("the backend views float32 tensors as little-endian bytes");

/// How long a kernel waits for an input entry that is not there yet, or for room in an
/// output queue, before it fails (milliseconds).
const KERNEL_WAIT_MS: u64 = 1000;

/// One queue's part in the current execute of a graph.
#[derive(Clone, Copy, Debug)]
pub(crate) struct QueueExec {
    pub queue: usize,
    pub reads: bool,
    pub writes: bool,
    /// `rd_ptr_global` / `wr_ptr_global` given by the program: set before the first run.
    pub set_rd: Option<u32>,
    pub set_wr: Option<u32>,
    /// `rd_ptr_local`, else the global read pointer.
    pub local: Option<u32>,
    pub rd_autoinc: u32,
    pub global_rd_autoinc: u32,
    pub global_wr_autoinc: u32,
    /// prologue or epilogue: read once, the local pointer stays.
    pub hold: bool,
    pub zero: bool,
    /// The local read pointer during the execute.
    cur: u32,
}

impl QueueExec {
    fn new(queue: usize, reads: bool, writes: bool) -> QueueExec {
        QueueExec {
            queue,
            reads,
            writes,
            set_rd: None,
            set_wr: None,
            local: None,
            rd_autoinc: 0,
            global_rd_autoinc: 0,
            global_wr_autoinc: 0,
            hold: false,
            zero: false,
            cur: 0,
        }
    }

    /// The defaults of a queue not named in the execute's settings.
    pub fn reset(&mut self, io_type: IoType) {
        let q = io_type == IoType::Queue;
        *self = QueueExec {
            rd_autoinc: q as u32,
            global_wr_autoinc: q as u32,
            ..QueueExec::new(self.queue, self.reads, self.writes)
        };
    }

    pub fn apply(&mut self, s: &ResolvedSetting) {
        self.set_rd = s.rd_ptr_global;
        // A read-only view of a dual-view ram leaves the write pointer to the view that
        // writes (golden ignores its wr_ptr_global).
        self.set_wr = s.wr_ptr_global.filter(|_| !s.read_only);
        self.local = s.rd_ptr_local;
        self.rd_autoinc = s.rd_ptr_autoinc;
        self.global_rd_autoinc = s.global_rdptr_autoinc;
        self.global_wr_autoinc = s.global_wrptr_autoinc;
        self.hold = s.prologue || s.epilogue;
        self.zero = s.zero;
    }
}

/// A graph of the netlist, compiled.
pub(crate) struct GraphRt {
    pub name: String,
    pub input_count: u32,
    pub plan: UnsafeCell<GraphPlan>,
    /// A graph that only copies one queue's entries into another laid out alike: (from, to).
    pub copy: Option<(usize, usize)>,
    /// Every queue the graph reads or writes, with this execute's settings.
    pub exec: UnsafeCell<Vec<QueueExec>>,
}

// SAFETY: `plan` and `exec` are used by the run side while no kernel of the graph is queued,
// and by that kernel while it runs (the run side waits for it).
unsafe impl Sync for GraphRt {}
unsafe impl Send for GraphRt {}

impl GraphRt {
    pub fn new(name: String, input_count: u32, plan: GraphPlan, queues: &[QueueRt]) -> GraphRt {
        let copy = plan
            .queue_copy(|q| queues[q].layout.format)
            .filter(|&(a, b)| queues[a].layout == queues[b].layout);
        let mut exec: Vec<QueueExec> = Vec::new();
        for &q in plan.input_queues() {
            exec.push(QueueExec::new(q, true, false));
        }
        for &q in plan.output_queues() {
            match exec.iter_mut().find(|e| e.queue == q) {
                Some(e) => e.writes = true,
                None => exec.push(QueueExec::new(q, false, true)),
            }
        }
        GraphRt {
            name,
            input_count: input_count.max(1),
            plan: UnsafeCell::new(plan),
            copy,
            exec: UnsafeCell::new(exec),
        }
    }
}

/// Runs `graph` once per its input_count with the settings its `exec` holds (the device
/// side: firmware.rs).
pub(crate) fn run_graph(
    queues: &[QueueRt],
    graph: &GraphRt,
    mem: &dyn Mem,
    pool: &mut BufferPool,
) -> Result<(), RunError> {
    // SAFETY: see `GraphRt`.
    let (exec, plan) = unsafe { (&mut *graph.exec.get(), &mut *graph.plan.get()) };
    for e in exec.iter_mut() {
        let q = &queues[e.queue];
        if let Some(v) = e.set_rd {
            q.set_rd(mem, v)?;
        }
        if let Some(v) = e.set_wr {
            q.set_wr(mem, v)?;
        }
        // A ram has no local read pointer: each run reads at its global one (tt_ram::get).
        e.cur = match e.local {
            Some(local) if q.io_type == IoType::Queue => local,
            _ => q.rd(),
        };
    }
    for run in 0..graph.input_count {
        let mut io = KernelIo {
            queues,
            exec,
            mem,
            run,
            runs: graph.input_count,
        };
        match graph.copy {
            Some((from, to)) => io.copy_entry(from, to)?,
            None => plan.run_pooled(&mut io, pool)?,
        }
        for e in exec.iter_mut() {
            // `zero` starts a gradient op's accumulation over: on the first run only.
            e.zero = false;
            let q = &queues[e.queue];
            if e.reads {
                let ram = q.io_type == IoType::Ram;
                if !e.hold {
                    e.cur = q.advance(e.cur, e.rd_autoinc);
                }
                // A prologue or epilogue ram keeps its read pointer (tt_ram::get).
                if e.global_rd_autoinc > 0 && !(ram && e.hold) {
                    q.set_rd(mem, q.advance(q.rd(), e.global_rd_autoinc))?;
                }
                if ram {
                    e.cur = q.rd();
                }
            }
        }
    }
    Ok(())
}

/// Waits (a bounded time) for `ready`; false if it never became true.
fn wait_until(mut ready: impl FnMut() -> bool) -> bool {
    if ready() {
        return true;
    }
    let start = std::time::Instant::now();
    while start.elapsed().as_millis() < KERNEL_WAIT_MS as u128 {
        std::thread::sleep(std::time::Duration::from_micros(50));
        if ready() {
            return true;
        }
    }
    false
}

/// The float32 bytes of a tensor's values.
fn bytes_of(v: &[f32]) -> &[u8] {
    // SAFETY: f32 has no padding and any byte is a valid u8; the length is in bytes.
    unsafe { core::slice::from_raw_parts(v.as_ptr().cast(), v.len() * 4) }
}

fn bytes_of_mut(v: &mut [f32]) -> &mut [u8] {
    // SAFETY: as above; every bit pattern is a valid f32.
    unsafe { core::slice::from_raw_parts_mut(v.as_mut_ptr().cast(), v.len() * 4) }
}

struct KernelIo<'a> {
    queues: &'a [QueueRt],
    exec: &'a [QueueExec],
    mem: &'a dyn Mem,
    /// Which of the graph's `runs` (its input_count) this is, from 0.
    run: u32,
    runs: u32,
}

impl KernelIo<'_> {
    fn exec_of(&self, queue: usize) -> Result<&QueueExec, RunError> {
        self.exec
            .iter()
            .find(|e| e.queue == queue)
            .ok_or(RunError::NotInGraph { queue })
    }
}

impl KernelIo<'_> {
    /// The queue and the pointer the current run reads it at, once its entry is there.
    fn readable(&self, queue: usize) -> Result<(&QueueRt, u32), RunError> {
        let e = *self.exec_of(queue)?;
        let q = &self.queues[queue];
        if !q.st().allocated() {
            return Err(RunError::Deallocated {
                queue: q.name.clone(),
            });
        }
        if q.io_type == IoType::Queue {
            let present = || q.distance(q.rd(), e.cur) < q.occupancy();
            if !wait_until(present) {
                // The entries from the read pointer this run and the runs after it read.
                let rd = q.rd();
                let step = if e.hold { 0 } else { e.rd_autoinc };
                let later = (self.runs - self.run - 1).saturating_mul(step);
                let needed = q
                    .distance(rd, e.cur)
                    .saturating_add(1)
                    .saturating_add(later);
                return Err(RunError::Starved {
                    queue: q.name.clone(),
                    runs: self.runs,
                    run: self.run,
                    needed,
                    holds: q.occupancy(),
                    rd,
                    at: e.cur,
                });
            }
        }
        Ok((q, e.cur))
    }

    /// The queue the current run writes, once it has room.
    fn writable(&self, queue: usize) -> Result<&QueueRt, RunError> {
        let q = &self.queues[queue];
        self.exec_of(queue)?;
        if !q.st().allocated() {
            return Err(RunError::Deallocated {
                queue: q.name.clone(),
            });
        }
        if q.io_type == IoType::Queue && !wait_until(|| q.occupancy() < q.entries) {
            return Err(RunError::Full {
                queue: q.name.clone(),
                entries: q.entries,
            });
        }
        Ok(q)
    }

    /// A run of a graph that only copies: the entry's bytes move as they are (the two queues
    /// lay entries out alike).
    fn copy_entry(&mut self, from: usize, to: usize) -> Result<(), RunError> {
        let (src, at) = self.readable(from)?;
        let dst = self.writable(to)?;
        let wr = dst.wr();
        // SAFETY: the device side's staging is used by one kernel at a time.
        src.copy_entry(self.mem, at, dst, wr, unsafe {
            &mut *src.dev_staging.get()
        })?;
        // A datacopy's output carries its input's tag.
        dst.set_tag(wr, src.tag_at(at));
        self.written(to, wr)
    }

    /// After an entry of `queue` was written at `wr`: the write pointer moves on at once, so
    /// an op of the same run reading the queue (a relay queue) finds the entry.
    fn written(&self, queue: usize, wr: u32) -> Result<(), RunError> {
        let e = self.exec_of(queue)?;
        if e.global_wr_autoinc > 0 {
            let q = &self.queues[queue];
            q.set_wr(self.mem, q.advance(wr, e.global_wr_autoinc))?;
        }
        Ok(())
    }
}

impl QueueIo for KernelIo<'_> {
    type Error = RunError;

    fn read(&mut self, queue: usize, out: &mut Tensor) -> Result<(), RunError> {
        let (q, at) = self.readable(queue)?;
        let shape = q.layout.host_shape(1);
        // Tiles under 32x32 arrive in the host layout, then move into the plan's 32x32 tiles.
        let values = shape.iter().product::<usize>().min(out.data.len());
        let mut dst = HostTensorMut::contiguous(
            bytes_of_mut(&mut out.data[..values]),
            DataFormat::Float32,
            shape,
        );
        // SAFETY: the device side's staging is used by one kernel at a time.
        q.untilize_entries(self.mem, at, &mut dst, unsafe { &mut *q.dev_staging.get() })?;
        if q.layout.tile != crate::format::TileDim::FULL {
            out.spread_tiles(q.layout.tile);
        }
        if q.golden.is_some() {
            out.tag = q.tag_at(at);
        }
        Ok(())
    }

    fn write(&mut self, queue: usize, entry: &Tensor) -> Result<(), RunError> {
        let q = self.writable(queue)?;
        let shape = q.layout.host_shape(1);
        let src = HostTensor::contiguous(bytes_of(&entry.data), DataFormat::Float32, shape);
        let wr = q.wr();
        // SAFETY: as in `read`.
        q.tilize_entries(self.mem, wr, &src, unsafe { &mut *q.dev_staging.get() })?;
        q.set_tag(wr, entry.tag);
        self.written(queue, wr)
    }

    fn zero(&self, queue: usize) -> bool {
        self.exec.iter().any(|e| e.queue == queue && e.zero)
    }
}

/// The run side's answers to the program interpreter.
pub(crate) struct RunHost<'a> {
    pub rt: &'a Runtime,
}

impl RunHost<'_> {
    fn mem(&self) -> HostMem<'_, crate::hal::select::AnyChip> {
        HostMem {
            device: self.rt.device(),
            cq: Some(self.rt.run_cq),
        }
    }
}

impl ProgramHost for RunHost<'_> {
    type Error = RunError;

    fn execute(&mut self, graph: usize, settings: &[ResolvedSetting]) -> Result<(), RunError> {
        let rt = self.rt;
        // A sub-graph of a temporal graph only records its settings until the last one's
        // execute; `graph` becomes the runtime graph (temporal graph) to run.
        // SAFETY: the temporal state belongs to the run side, which this call holds.
        let temporal = unsafe { &mut *rt.temporal.get() };
        let Some(graph) = temporal.arrive(graph, settings)? else {
            return Ok(());
        };
        let settings = temporal.settings(graph, settings);
        // The settings go to device memory; the command names them.
        // SAFETY: the settings buffer belongs to the run side, which this call holds.
        let buf = unsafe { &mut *rt.settings_buf.get() };
        let len = super::firmware::encode_settings(settings, buf);
        let at = rt.settings_at;
        let device = rt.device();
        device
            .chip()
            .write(at.kind, at.bank, at.addr, &buf[..len])?;
        let range = crate::hal::DeviceRange {
            len: len as u64,
            ..at
        };
        // With 2 CQs the graph runs after the io CQ's last push. It runs on this thread, in
        // the run CQ's order: run_program waits for it anyway, so a worker would add only
        // the two hand-offs.
        let id = rt.last_io_event.load(Ordering::Acquire);
        let after = (rt.io_cq != rt.run_cq && id != 0).then(|| Event {
            device_id: device.id(),
            cq_id: rt.io_cq,
            id,
        });
        let start = std::time::Instant::now();
        let ran =
            device.run_graph_inline(rt.run_cq, after.as_ref(), rt.loaded, graph as u32, &range);
        rt.kernel_ns
            .fetch_add(start.elapsed().as_nanos() as u64, Ordering::Relaxed);
        rt.kernels_run.fetch_add(1, Ordering::Relaxed);
        let ran = ran.map_err(RunError::Device);
        temporal.ran(graph);
        ran
    }

    fn allocate_queues(&mut self, queues: &[usize]) -> Result<(), RunError> {
        for &i in queues {
            let q = &self.rt.queues[i];
            q.set_rd(&self.mem(), 0)?;
            q.set_wr(&self.mem(), 0)?;
            q.st().set_allocated(true);
        }
        Ok(())
    }

    fn deallocate_queues(&mut self, queues: &[usize]) -> Result<(), RunError> {
        for &i in queues {
            self.rt.queues[i].st().set_allocated(false);
        }
        Ok(())
    }

    fn set_queue_pointer(
        &mut self,
        queue: usize,
        which: PointerKind,
        value: u32,
    ) -> Result<(), RunError> {
        let q = &self.rt.queues[queue];
        match which {
            PointerKind::RdGlobal => q.set_rd(&self.mem(), value),
            PointerKind::WrGlobal => q.set_wr(&self.mem(), value),
        }
    }
}
