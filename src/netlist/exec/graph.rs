//! [`GraphPlan`]: one graph of a netlist compiled for golden execution, and the per-op pipeline
//! of golden-ops.md §1. Graphs whose ops read ops of other graphs directly (a temporal graph,
//! netlist::temporal) compile into one plan, whose runs visit all their ops.
//!
//! Compiling checks every op type, attribute and TM (anything ttrt does not model is refused
//! here, never answered wrongly later), computes every op's output shape from its inputs and
//! compares it with the shape the netlist declares, and with the shape of every queue the op
//! writes (golden itself does not check these and silently corrupts its outputs). The nodes are
//! then ordered: a queue an op of the graph writes is read after that write, unless the writer
//! itself depends on the queue (a ram updated in place), in which case the read comes first. A
//! queue no op of the plan writes is read before any op runs: so a view of a dual-view ram
//! whose other view an op of the run writes gives the memory as the run found it, as in golden,
//! whose topological order visits such a queue (a root) first.
//!
//! Running visits the nodes in that order. A queue read fills its tensor through
//! [`QueueIo::read`] once per run and every consumer copies from it. An op: collects copies of
//! its inputs, unpads, applies its TMs in order, pads, quantizes inputs tagged Bfp2/Bfp4 (and,
//! on Wormhole B0, truncates Float32-tagged inputs to Tf32), snapshots its previous output if it
//! is a gradient op, computes, accumulates the gradient, applies relu (not for fused_op) and
//! quantizes its output (Int8/Int32 always, Bfp2/Bfp4; quantization, requantization and
//! requantizing matmuls to Int8). Each queue the op writes gets the op's output after the
//! queue's `input_tms` through [`QueueIo::write`]; a `transpose` there moves the tiles only, as
//! in golden, where no op follows to transpose inside them.
//!
//! Tiles smaller than 32x32 (`tile_dim`, golden-ops.md §4) are held as golden holds them: in
//! 32x32 tiles whose top-left corner has the values, the rest 0. A queue's entries are read
//! into that form; an op's output has the op's tile_dim, and a queue an op writes (of the
//! op's tile_dim, as upstream requires) gets the corner of every tile. After computing,
//! eltwise ops and topk clear their output outside the smaller of input 0's tiles and the op's,
//! depthwise outside input 0's, matmul outside the op's (after clearing inputs from ops or
//! padded to theirs); reduce, splice, embedding and fused ops clear nothing. SFPU ops on such
//! tiles compute whole tiles (vector mode `rc`). Padding adds whole tiles of the pad value.
//! Splice, embedding, fused ops and topk take no such inputs (upstream's parser refuses
//! them). A tilizer re-tilizes its flat input with the input queue's tiles and clears its
//! output outside the op's (see `tilizer.rs`).

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::format::{Arch, DataFormat, TileDim};
use crate::netlist::{
    Dim, InputPad, InputUnpad, Netlist, Op, OpFamily, OpType, ReduceFunc, ReluMode, Tm,
};

use super::fused::FusedPlan;
use super::matmul::{depthwise, matmul_op, reduce_max, reduce_shape, MatmulExtras};
use super::nary::{EmbeddingPlan, SplicePlan};
use super::ops::{
    apply_binary, apply_sfpu, eltwise, relu, Binary, Eltwise, EltwiseAttributes, Sfpu,
};
use super::plan_error::{InnerTiles, InputError, PlanError, QueueError, TmError};
use super::quantize::quantize;
use super::sparse::IdentityMatmulPlan;
use super::tilizer::TilizerPlan;
use super::tm::{apply_tm, pad, tm_shape, transpose_tiles, unpad, unpad_shape, Shape};
use super::topk::TopkPlan;
use super::{ExecError, OpError, QueueIo, Tensor};

/// What an op computes.
enum Kind {
    Unary { op: Sfpu, vector: Dim },
    Binary(Binary),
    Matmul(MatmulExtras),
    IdentityMatmul(IdentityMatmulPlan),
    Depthwise { bias: bool },
    Reduce { dim: Dim, z: u32 },
    Splice(SplicePlan),
    Embedding(EmbeddingPlan),
    Fused(FusedPlan),
    Topk(TopkPlan),
    Tilizer(TilizerPlan),
}

/// One input of an op: where it comes from and how it is transformed. `t` holds the result,
/// unless `direct`: then the op reads its source slot as it is.
struct InputPlan {
    slot: usize,
    unpad: Option<InputUnpad>,
    tms: Vec<Tm>,
    pad: Option<InputPad>,
    t: Tensor,
    spare: Tensor,
    /// Set by each run: the input has no unpad, TMs or pad and its values are not quantized
    /// on the way in, so a copy of the source would equal it.
    direct: bool,
    /// A matmul input of tiles smaller than 32x32 from an op: cleared to them after the TMs
    /// (golden's matmul clears its inputs; queue reads are already 0 there).
    clear: Option<TileDim>,
    /// The op reads the source as it is, never quantized on the way in (a tilizer, whose
    /// golden reads the host's buffer, not the quantized tiles).
    as_read: bool,
}

/// Whether an input tagged `tag` is quantized when an op reads it (golden's step 5).
fn quantized_on_read(tag: DataFormat, arch: Arch) -> bool {
    low_bfp(tag) || (tag == DataFormat::Float32 && arch == Arch::WormholeB0)
}

/// A queue an op writes, with the queue's `input_tms`.
struct WritePlan {
    queue: usize,
    tms: Vec<Tm>,
    /// The queue's tiles, when smaller than 32x32: the entry is written gathered from them.
    tile: Option<TileDim>,
    t: Tensor,
    spare: Tensor,
}

struct OpPlan {
    name: String,
    line: u32,
    kind: Kind,
    inputs: Vec<InputPlan>,
    slot: usize,
    out_df: DataFormat,
    relu: Option<(Option<ReluMode>, f32)>,
    /// quantization, requantization, matmul with requant: the output quantizer is Int8.
    int8_output: bool,
    gradient: bool,
    has_run: bool,
    prev: Tensor,
    scratch: Tensor,
    writes: Vec<WritePlan>,
    /// Values the op's output and scratch tensors must hold at most (a matmul's product
    /// before z accumulation is larger than its output).
    reserve: usize,
    /// The region of every output tile that keeps its values (golden's clearing after the
    /// op, golden-ops.md §4), when smaller than 32x32.
    clear: Option<TileDim>,
}

enum Node {
    Read { queue: usize, slot: usize },
    Op(usize),
}

/// One graph of a netlist, compiled for golden execution (see the module documentation).
pub struct GraphPlan {
    file: String,
    graph: String,
    arch: Arch,
    nodes: Vec<Node>,
    values: Vec<Tensor>,
    ops: Vec<OpPlan>,
    input_queues: Vec<usize>,
    output_queues: Vec<usize>,
    /// Every queue's name, by index (for messages).
    queue_names: Vec<String>,
    /// Values each buffer of `for_each_buffer` must hold at most, in its order.
    needs: Vec<usize>,
    /// Each buffer's rank by need, largest first: the pool buffer it borrows.
    ranks: Vec<usize>,
}

/// Buffers that plans running one at a time borrow for each run ([`GraphPlan::run_pooled`]).
#[derive(Debug, Default)]
pub struct BufferPool {
    buffers: Vec<Vec<f32>>,
}

impl BufferPool {
    pub const fn new() -> BufferPool {
        BufferPool {
            buffers: Vec::new(),
        }
    }

    /// Bytes the pool holds (its buffers' capacities).
    pub fn bytes(&self) -> usize {
        self.buffers.iter().map(|b| b.capacity() * 4).sum()
    }
}

static_assertions::assert_impl_all!(GraphPlan: Send);

/// Whether golden requantizes an input tagged `df` (Bfp2 and Bfp4 of both families).
fn low_bfp(df: DataFormat) -> bool {
    matches!(
        df,
        DataFormat::Bfp2 | DataFormat::Bfp2B | DataFormat::Bfp4 | DataFormat::Bfp4B
    )
}

fn entry_shape(q: &crate::netlist::Queue) -> Shape {
    Shape::new(
        q.t,
        q.grid_size.r * q.mblock.m * q.ublock.rt,
        q.grid_size.c * q.mblock.n * q.ublock.ct,
    )
}

fn declared_shape(op: &Op) -> Shape {
    Shape::new(
        op.t,
        op.grid_size.r * op.mblock.m * op.ublock.rt,
        op.grid_size.c * op.mblock.n * op.ublock.ct,
    )
}

fn sized(s: Shape, tag: DataFormat) -> Tensor {
    Tensor::zeros(s.z, s.rt, s.ct, tag)
}

/// The shape after a list of TMs, and the largest shape met on the way (in values).
fn shapes_through(tms: &[Tm], mut s: Shape) -> Result<(Shape, usize), TmError> {
    let len = |s: Shape| s.z as usize * s.rt as usize * s.ct as usize * 1024;
    let mut max = len(s);
    for tm in tms {
        s = tm_shape(tm, s).map_err(|why| TmError {
            tm: *tm,
            why,
            shape: s,
        })?;
        max = max.max(len(s));
    }
    Ok((s, max))
}

/// Checks that input `index` of `op`, of `tile` tiles (smaller than 32x32), goes where ttrt
/// models such tiles: eltwise, matmul, depthwise and reduce ops, through TMs that move or pad
/// whole tiles. Upstream's parser takes them into no splice, embedding, fused op or topk.
fn check_small_tile_input(op: &Op, tile: TileDim, tms: &[Tm]) -> Result<(), InputError> {
    if let Some(t @ (OpType::Splice | OpType::Embedding | OpType::FusedOp | OpType::Topk)) =
        op.op_type.known()
    {
        return Err(InputError::SmallTileOp { tile, op: t });
    }
    let moves_tiles = |tm: &Tm| {
        matches!(
            tm,
            Tm::Broadcast { .. }
                | Tm::Hslice(_)
                | Tm::Hstack(_)
                | Tm::Vslice(_)
                | Tm::Vstack(_)
                | Tm::Transpose
                | Tm::Pad { .. }
        )
    };
    if let Some(tm) = tms.iter().find(|tm| !moves_tiles(tm)) {
        return Err(InputError::SmallTileTm { tm: *tm, tile });
    }
    Ok(())
}

/// Checks the TMs an op input carries: golden supports `transpose` only where the op
/// transposes inside tiles, `tile_broadcast` only inside fused ops.
fn check_input_tms(op: &Op, index: usize, tms: &[Tm]) -> Result<(), InputError> {
    let t = &op.op_type;
    for tm in tms {
        match tm {
            Tm::TileBroadcast(_) => return Err(InputError::TileBroadcast),
            Tm::Transpose => {
                let ok = match t.known() {
                    Some(OpType::Matmul) => index == 1,
                    Some(t) => match t.family() {
                        OpFamily::Binary => index == 0,
                        OpFamily::UnaryCopy | OpFamily::Sfpu => true,
                        OpFamily::Other => false,
                    },
                    None => false,
                };
                if !ok {
                    return Err(InputError::Transpose {
                        input: index,
                        op: t.clone(),
                    });
                }
            }
            _ => {}
        }
    }
    Ok(())
}

impl GraphPlan {
    /// Compiles graph `graph` (index into `netlist.graphs`) for a chip of `arch`. A graph whose
    /// ops read ops of other graphs (a temporal graph) is compiled with [`GraphPlan::temporal`].
    pub fn new(netlist: &Netlist, graph: usize, arch: Arch) -> Result<GraphPlan, ExecError> {
        GraphPlan::temporal(netlist, &[graph], arch)
    }

    /// Compiles the graphs `graphs` (indexes into `netlist.graphs`, producers first) as one
    /// temporal graph: one run visits the ops of all of them in dependency order, and an op
    /// may read an op of any of them directly (netlist::temporal).
    pub fn temporal(
        netlist: &Netlist,
        graphs: &[usize],
        arch: Arch,
    ) -> Result<GraphPlan, ExecError> {
        let mut members = Vec::with_capacity(graphs.len());
        for &i in graphs {
            members.push(netlist.graphs.get(i).ok_or_else(|| ExecError {
                message: format!("netlist {}: no graph {i}", netlist.file),
            })?);
        }
        if members.is_empty() {
            return Err(ExecError {
                message: format!("netlist {}: a plan needs at least one graph", netlist.file),
            });
        }
        let graph_name = members
            .iter()
            .map(|g| g.name.as_str())
            .collect::<Vec<_>>()
            .join("+");
        let all_ops: Vec<&Op> = members.iter().flat_map(|g| g.ops.iter()).collect();
        let graph_of = |op: &Op| {
            members
                .iter()
                .find(|g| g.ops.iter().any(|o| core::ptr::eq(o, op)))
                .map_or("", |g| g.name.as_str())
        };
        let err_op = |op: &Op, what: PlanError| ExecError {
            message: format!(
                "netlist {}: graph {}: op {} (line {}): {what}",
                netlist.file,
                graph_of(op),
                op.name,
                op.line
            ),
        };
        let op_index = |name: &str| all_ops.iter().position(|o| o.name == name);
        let queue_index = |name: &str| netlist.queues.iter().position(|q| q.name == name);

        // Slots: one per queue read, then one per op.
        let mut read_slots: Vec<(usize, usize)> = Vec::new(); // (queue, slot)
        let mut values: Vec<Tensor> = Vec::new();
        let op_slot0 = {
            let mut queues: Vec<usize> = Vec::new();
            for op in &all_ops {
                for name in &op.inputs {
                    if op_index(name).is_none() {
                        let q = queue_index(name).ok_or_else(|| {
                            let what = match netlist.op(name) {
                                Some((other, _)) => PlanError::InputOtherGraph {
                                    input: name.clone(),
                                    graph: other.name.clone(),
                                },
                                None => PlanError::InputUnknown {
                                    input: name.clone(),
                                },
                            };
                            err_op(op, what)
                        })?;
                        if !queues.contains(&q) {
                            queues.push(q);
                        }
                    }
                }
            }
            queues.sort_unstable();
            for q in queues {
                let queue = &netlist.queues[q];
                read_slots.push((q, values.len()));
                values.push(sized(entry_shape(queue), queue.df));
            }
            values.len()
        };
        let slot_of = |name: &str| -> usize {
            match op_index(name) {
                Some(i) => op_slot0 + i,
                None => {
                    let q = queue_index(name).unwrap_or(usize::MAX);
                    read_slots
                        .iter()
                        .find(|(qq, _)| *qq == q)
                        .map_or(0, |r| r.1)
                }
            }
        };

        // Ops in file order give their output slots; compile them in dependency order so the
        // input shapes are known.
        let n = all_ops.len();
        let mut shapes: Vec<Option<Shape>> = alloc::vec![None; n];
        let mut plans: Vec<Option<OpPlan>> = (0..n).map(|_| None).collect();
        let mut deps_done = 0;
        while deps_done < n {
            let before = deps_done;
            for (i, op) in all_ops.iter().copied().enumerate() {
                if plans[i].is_some() {
                    continue;
                }
                let mut in_shapes = Vec::new();
                let mut ready = true;
                for name in &op.inputs {
                    match op_index(name) {
                        Some(j) => match shapes[j] {
                            Some(s) => in_shapes.push(s),
                            None => ready = false,
                        },
                        None => {
                            let q = queue_index(name).unwrap_or(0);
                            in_shapes.push(entry_shape(&netlist.queues[q]));
                        }
                    }
                }
                if !ready {
                    continue;
                }
                let plan = compile_op(netlist, op, &in_shapes, arch, &slot_of, op_slot0 + i)
                    .map_err(|e| err_op(op, e))?;
                shapes[i] = Some(plan.1);
                plans[i] = Some(plan.0);
                deps_done += 1;
            }
            if deps_done == before {
                let stuck = all_ops.iter().zip(&plans).find(|(_, p)| p.is_none());
                let op = stuck.map(|s| *s.0).unwrap_or(all_ops[0]);
                return Err(err_op(op, PlanError::Cycle));
            }
        }
        let mut ops: Vec<OpPlan> = plans
            .into_iter()
            .map(|p| p.unwrap_or_else(|| unreachable!()))
            .collect();
        for (i, s) in shapes.iter().enumerate() {
            let s = s.unwrap_or(Shape::new(0, 0, 0));
            let mut t = sized(s, all_ops[i].out_df);
            let reserve = ops[i].reserve;
            t.data.reserve(reserve.saturating_sub(t.data.len()));
            ops[i].scratch.data.reserve(reserve);
            values.push(t);
        }

        // Queues the ops write, with their input_tms, checked against the queue shape.
        let mut output_queues = Vec::new();
        for (qi, q) in netlist.queues.iter().enumerate() {
            let Some(i) = op_index(&q.input) else {
                continue;
            };
            let op = all_ops[i];
            let what = |error: QueueError| {
                err_op(
                    op,
                    PlanError::OutputQueue {
                        queue: q.name.clone(),
                        line: q.line,
                        error,
                    },
                )
            };
            if q.tile_dim != op.tile_dim {
                return Err(what(QueueError::TileDim {
                    queue: q.tile_dim,
                    op: op.tile_dim,
                }));
            }
            let small = q.tile_dim != TileDim::FULL;
            if q.input_tms
                .iter()
                .any(|t| matches!(t, Tm::Pad { .. } | Tm::TileBroadcast(_)))
            {
                return Err(what(QueueError::InputTms));
            }
            let s = shapes[i].unwrap_or(Shape::new(0, 0, 0));
            let (after, max) =
                shapes_through(&q.input_tms, s).map_err(|e| what(QueueError::Tm(e)))?;
            if after != entry_shape(q) {
                return Err(what(QueueError::Shape {
                    output: s,
                    after,
                    entry: entry_shape(q),
                }));
            }
            let mut t = sized(after, op.out_df);
            t.data.reserve(max.saturating_sub(t.data.len()));
            let mut spare = Tensor::zeros(0, 0, 0, op.out_df);
            spare.data.reserve(max);
            ops[i].writes.push(WritePlan {
                queue: qi,
                tms: q.input_tms.clone(),
                tile: small.then_some(q.tile_dim),
                t,
                spare,
            });
            output_queues.push(qi);
        }

        // Node order: reads of queues an op writes come after the write unless the writer
        // depends on the queue.
        let reads_queue = |start: usize, q: usize| -> bool {
            let mut stack = alloc::vec![start];
            let mut seen = alloc::vec![false; n];
            while let Some(i) = stack.pop() {
                if core::mem::replace(&mut seen[i], true) {
                    continue;
                }
                for name in &all_ops[i].inputs {
                    match op_index(name) {
                        Some(j) => stack.push(j),
                        None => {
                            if queue_index(name) == Some(q) {
                                return true;
                            }
                        }
                    }
                }
            }
            false
        };
        // deps[node]: nodes that must come first. Nodes 0..reads are reads, then ops.
        let reads = read_slots.len();
        let mut deps: Vec<Vec<usize>> = Vec::new();
        for &(q, _) in &read_slots {
            let mut d = Vec::new();
            if let Some(p) = op_index(&netlist.queues[q].input) {
                if !reads_queue(p, q) {
                    d.push(reads + p);
                }
            }
            deps.push(d);
        }
        for op in &all_ops {
            let d = op
                .inputs
                .iter()
                .map(|name| match op_index(name) {
                    Some(j) => reads + j,
                    None => {
                        let q = queue_index(name).unwrap_or(0);
                        read_slots.iter().position(|r| r.0 == q).unwrap_or(0)
                    }
                })
                .collect();
            deps.push(d);
        }
        let total = deps.len();
        let mut placed = alloc::vec![false; total];
        let mut nodes = Vec::with_capacity(total);
        while nodes.len() < total {
            let next = (0..total).find(|&i| !placed[i] && deps[i].iter().all(|&d| placed[d]));
            let Some(i) = next else {
                return Err(ExecError {
                    message: format!(
                        "netlist {}: graph {}: the ops and the queues they write form a cycle",
                        netlist.file, graph_name
                    ),
                });
            };
            placed[i] = true;
            nodes.push(if i < reads {
                Node::Read {
                    queue: read_slots[i].0,
                    slot: read_slots[i].1,
                }
            } else {
                Node::Op(i - reads)
            });
        }
        for op in &mut ops {
            if op.gradient {
                op.prev = values[op.slot].clone();
            }
        }
        // The kernels' threads start with the first plan, never during a run.
        super::workers::start();
        let mut plan = GraphPlan {
            file: netlist.file.clone(),
            graph: graph_name,
            arch,
            nodes,
            values,
            ops,
            input_queues: read_slots.iter().map(|r| r.0).collect(),
            output_queues,
            queue_names: netlist.queues.iter().map(|q| q.name.clone()).collect(),
            needs: Vec::new(),
            ranks: Vec::new(),
        };
        // The plan keeps what each buffer needs, not the buffers: they come at the first run
        // (from the plan's own memory, or lent by a `BufferPool` for each run).
        // A working tensor and its spare trade buffers in a run: each needs what either does.
        let mut needs: Vec<usize> = Vec::new();
        let mut paired = false;
        plan.for_each_buffer(|t, pairs| {
            let need = t.data.capacity().max(t.data.len());
            if paired {
                let first = needs.len() - 1;
                needs[first] = needs[first].max(need);
                needs.push(needs[first]);
            } else {
                needs.push(need);
            }
            paired = pairs;
            t.data = Vec::new();
        });
        let mut order: Vec<usize> = (0..needs.len()).collect();
        order.sort_by_key(|&i| core::cmp::Reverse(needs[i]));
        let mut ranks = alloc::vec![0; needs.len()];
        for (rank, &i) in order.iter().enumerate() {
            ranks[i] = rank;
        }
        plan.needs = needs;
        plan.ranks = ranks;
        Ok(plan)
    }

    /// Every buffer a run of the plan may fill anew, in a fixed order: the queue reads'
    /// tensors, then per op its output (but a gradient op's, which it accumulates into from
    /// run to run) and scratch, its inputs' working tensors and the tensors of its queue
    /// writes. `f` learns whether the tensor trades buffers with the next one in a run (an
    /// output and the scratch an op computes into, a working tensor and its spare).
    fn for_each_buffer(&mut self, mut f: impl FnMut(&mut Tensor, bool)) {
        let GraphPlan { values, ops, .. } = self;
        for (slot, t) in values.iter_mut().enumerate() {
            if !ops.iter().any(|o| o.slot == slot) {
                f(t, false);
            }
        }
        for op in ops.iter_mut() {
            if !op.gradient {
                f(&mut values[op.slot], true);
            }
            f(&mut op.scratch, false);
            for input in op.inputs.iter_mut() {
                f(&mut input.t, true);
                f(&mut input.spare, false);
            }
            for w in op.writes.iter_mut() {
                f(&mut w.t, true);
                f(&mut w.spare, false);
            }
        }
    }

    /// Gives every buffer its memory: what it holds when that is enough, else the pool's
    /// buffer of its rank (the largest buffer of every plan shares the pool's first one), grown
    /// to its need the first time. A shaped tensor gets its shape's length back (its values are
    /// whatever the buffer held: a run writes every value before reading it).
    fn lend(&mut self, pool: &mut BufferPool) {
        let GraphPlan { needs, ranks, .. } = self;
        let (needs, ranks) = (core::mem::take(needs), core::mem::take(ranks));
        let mut i = 0;
        self.for_each_buffer(|t, _| {
            if t.data.capacity() < needs[i] {
                if pool.buffers.len() < needs.len() {
                    pool.buffers.resize_with(needs.len(), Vec::new);
                }
                let from = &mut pool.buffers[ranks[i]];
                if from.capacity() > t.data.capacity() {
                    core::mem::swap(&mut t.data, from);
                }
                if t.data.capacity() < needs[i] {
                    t.data.clear();
                    t.data.reserve(needs[i]);
                }
            }
            // The values stay as the buffer held them (nothing is cleared): only a buffer
            // shorter than the shape gets +0.0 past its end.
            let len = t.z as usize * t.rt as usize * t.ct as usize * super::TILE * super::TILE;
            if len <= t.data.len() {
                t.data.truncate(len);
            } else {
                t.data.resize(len, 0.0);
            }
            i += 1;
        });
        self.needs = needs;
        self.ranks = ranks;
    }

    /// Hands every buffer back to the pool (see `lend`).
    fn give_back(&mut self, pool: &mut BufferPool) {
        let ranks = core::mem::take(&mut self.ranks);
        if pool.buffers.len() < ranks.len() {
            pool.buffers.resize_with(ranks.len(), Vec::new);
        }
        let mut i = 0;
        self.for_each_buffer(|t, _| {
            let to = &mut pool.buffers[ranks[i]];
            if to.capacity() < t.data.capacity() {
                core::mem::swap(to, &mut t.data);
            }
            t.data = Vec::new();
            i += 1;
        });
        self.ranks = ranks;
    }

    /// One run with the buffers lent by `pool` for the run: plans that run one at a time and
    /// share a pool hold, between them, one set of buffers as large as the largest plan's
    /// (by rank), not one set each. After it the plan holds no output (`op_output`).
    pub fn run_pooled<IO: QueueIo + ?Sized>(
        &mut self,
        io: &mut IO,
        pool: &mut BufferPool,
    ) -> Result<(), ExecError> {
        self.lend(pool);
        let ran = self.run_lent(io);
        self.give_back(pool);
        ran
    }

    /// Queues (indexes into `Netlist::queues`) that ops of this graph read, in file order.
    pub fn input_queues(&self) -> &[usize] {
        &self.input_queues
    }

    /// Queues that ops of this graph write, in file order.
    pub fn output_queues(&self) -> &[usize] {
        &self.output_queues
    }

    /// When every run of the graph only copies one queue's entry into another queue (one
    /// datacopy or nop, no TMs, pads, relu or gradient, and no quantization that could change
    /// a value of the input queue's format): the (input, output) queues. A runtime may then
    /// move the entry's bytes when the two queues lay them out alike.
    pub fn queue_copy(
        &self,
        netlist_queue_df: impl Fn(usize) -> DataFormat,
    ) -> Option<(usize, usize)> {
        let [op] = &self.ops[..] else { return None };
        let ([input], [write]) = (&op.inputs[..], &op.writes[..]) else {
            return None;
        };
        let Kind::Unary {
            op: Sfpu::Compute(crate::compute::UnaryOp::Identity),
            vector: Dim::Rc,
        } = op.kind
        else {
            return None;
        };
        let plain = input.unpad.is_none() && input.tms.is_empty() && input.pad.is_none();
        if !plain
            || !write.tms.is_empty()
            || op.relu.is_some()
            || op.gradient
            || op.int8_output
            || op.clear.is_some()
        {
            return None;
        }
        let queue = self.nodes.iter().find_map(|n| match *n {
            Node::Read { queue, slot } if slot == input.slot => Some(queue),
            _ => None,
        })?;
        let df = netlist_queue_df(queue);
        // Float32 inputs are cut to Tf32 on Wormhole B0; Int8, Int32 and low block-float
        // outputs are quantized to out_df, which only leaves values alone in the same format.
        let tf32 = df == DataFormat::Float32 && self.arch == Arch::WormholeB0;
        let requantized = (matches!(op.out_df, DataFormat::Int8 | DataFormat::Int32)
            || low_bfp(op.out_df))
            && op.out_df != df;
        (!tf32 && !requantized).then_some((queue, write.queue))
    }

    /// The output of op `name` after the last run (before any queue's `input_tms`).
    pub fn op_output(&self, name: &str) -> Option<&Tensor> {
        self.ops
            .iter()
            .find(|o| o.name == name)
            .map(|o| &self.values[o.slot])
    }

    /// One run of the graph: every node once, in order (see the module documentation). The
    /// plan's buffers stay with it: the first run allocates them, later runs allocate nothing.
    pub fn run<IO: QueueIo + ?Sized>(&mut self, io: &mut IO) -> Result<(), ExecError> {
        let mut own = BufferPool::new();
        self.lend(&mut own);
        self.run_lent(io)
    }

    fn run_lent<IO: QueueIo + ?Sized>(&mut self, io: &mut IO) -> Result<(), ExecError> {
        let GraphPlan {
            file,
            graph,
            arch,
            nodes,
            values,
            ops,
            queue_names,
            ..
        } = self;
        for node in nodes.iter() {
            match *node {
                Node::Read { queue, slot } => {
                    io.read(queue, &mut values[slot]).map_err(|e| ExecError {
                        message: format!(
                            "netlist {file}: graph {graph}: reading queue {}: {e}",
                            queue_names[queue]
                        ),
                    })?;
                }
                Node::Op(i) => {
                    let op = &mut ops[i];
                    run_op(op, values, *arch, io).map_err(|e| {
                        let what = match e {
                            OpFailure::Op(e) => e.to_string(),
                            OpFailure::Write { queue, error } => {
                                format!("writing queue {}: {error}", queue_names[queue])
                            }
                        };
                        ExecError {
                            message: format!(
                                "netlist {file}: graph {graph}: op {} (line {}): {what}",
                                op.name, op.line
                            ),
                        }
                    })?;
                }
            }
        }
        Ok(())
    }
}

/// Why an op failed while it ran: its computation, or the host's write of a queue it feeds.
enum OpFailure<E> {
    Op(OpError),
    Write { queue: usize, error: E },
}

impl<E> From<OpError> for OpFailure<E> {
    fn from(e: OpError) -> Self {
        OpFailure::Op(e)
    }
}

impl<E> From<&'static str> for OpFailure<E> {
    fn from(what: &'static str) -> Self {
        OpFailure::Op(OpError::Tm(what))
    }
}

/// Steps 1-5 of the pipeline for one input.
fn prepare_input(input: &mut InputPlan, src: &Tensor, arch: Arch) -> Result<(), OpError> {
    input.direct = input.as_read;
    if input.direct {
        return Ok(());
    }
    input.direct = input.unpad.is_none()
        && input.tms.is_empty()
        && input.pad.is_none()
        && input.clear.is_none()
        && !quantized_on_read(src.tag, arch);
    if input.direct {
        return Ok(());
    }
    match input.unpad {
        Some(u) => unpad(src, &mut input.t, u.rt, u.ct)?,
        None => input.t.copy_from(src),
    }
    for tm in &input.tms {
        apply_tm(tm, &input.t, &mut input.spare)?;
        core::mem::swap(&mut input.t, &mut input.spare);
    }
    if let Some(p) = input.pad {
        pad(&input.t, &mut input.spare, p.rt, p.ct, p.pad_value);
        core::mem::swap(&mut input.t, &mut input.spare);
    }
    if let Some(tile) = input.clear {
        input.t.clear_outside(tile);
    }
    if low_bfp(input.t.tag) {
        let tag = input.t.tag;
        quantize(&mut input.t.data, tag);
    } else if input.t.tag == DataFormat::Float32 && arch == Arch::WormholeB0 {
        input.t.tag = DataFormat::Tf32;
        quantize(&mut input.t.data, DataFormat::Tf32);
    }
    Ok(())
}

fn run_op<IO: QueueIo + ?Sized>(
    op: &mut OpPlan,
    values: &mut [Tensor],
    arch: Arch,
    io: &mut IO,
) -> Result<(), OpFailure<IO::Error>> {
    for input in op.inputs.iter_mut() {
        prepare_input(input, &values[input.slot], arch)?;
    }
    let accumulate = op.gradient && op.has_run;
    if accumulate {
        op.prev.copy_from(&values[op.slot]);
    }
    // The output leaves its slot while the op computes, so direct inputs can borrow the other
    // slots (an op never reads its own output). Moving a tensor allocates nothing.
    let mut out_t = core::mem::replace(&mut values[op.slot], Tensor::zeros(0, 0, 0, op.out_df));
    let computed = compute(op, values, &mut out_t);
    values[op.slot] = out_t;
    computed?;
    let out = &mut values[op.slot];
    if let Some(tile) = op.clear {
        out.clear_outside(tile);
    }
    if accumulate && !op.writes.iter().any(|w| io.zero(w.queue)) {
        for (o, &p) in out.data.iter_mut().zip(&op.prev.data) {
            *o += p;
        }
    }
    op.has_run = true;
    if let Some((mode, threshold)) = op.relu {
        relu(&mut out.data, mode, threshold);
    }
    let df = op.out_df;
    if matches!(df, DataFormat::Int8 | DataFormat::Int32) || low_bfp(df) {
        quantize(
            &mut out.data,
            if op.int8_output { DataFormat::Int8 } else { df },
        );
    }
    let out = &values[op.slot];
    for w in op.writes.iter_mut() {
        if w.tms.is_empty() && w.tile.is_none() {
            io.write(w.queue, out).map_err(|error| OpFailure::Write {
                queue: w.queue,
                error,
            })?;
            continue;
        }
        w.t.copy_from(out);
        for tm in &w.tms {
            if *tm == Tm::Transpose {
                transpose_tiles(&w.t, &mut w.spare);
            } else {
                apply_tm(tm, &w.t, &mut w.spare)?;
            }
            core::mem::swap(&mut w.t, &mut w.spare);
        }
        if let Some(tile) = w.tile {
            w.t.gather_tiles(tile);
        }
        io.write(w.queue, &w.t).map_err(|error| OpFailure::Write {
            queue: w.queue,
            error,
        })?;
    }
    Ok(())
}

/// The op's computation proper, from its prepared inputs into `out`.
fn compute(op: &mut OpPlan, values: &[Tensor], out: &mut Tensor) -> Result<(), OpError> {
    let ins = &op.inputs;
    let input = |k: usize| {
        let i = &ins[k];
        if i.direct {
            &values[i.slot]
        } else {
            &i.t
        }
    };
    match &mut op.kind {
        Kind::Unary { op: f, vector } => apply_sfpu(*f, *vector, input(0), out)?,
        Kind::Binary(b) => apply_binary(*b, input(0), input(1), out)?,
        Kind::Matmul(extras) => {
            let mut next = 2;
            let bias = extras.bias.then(|| {
                next += 1;
                input(2)
            });
            let scale = (extras.requant || extras.dequant).then(|| input(next));
            matmul_op(
                extras,
                input(0),
                input(1),
                bias,
                scale,
                &mut op.scratch,
                out,
            )?
        }
        Kind::IdentityMatmul(p) => {
            let bias = p.bias.then(|| input(3));
            p.run(input(0), input(1), input(2), bias, &mut op.scratch, out)?
        }
        Kind::Depthwise { bias } => {
            depthwise(input(0), input(1), bias.then(|| input(2)), out);
        }
        Kind::Reduce { dim, z } => reduce_max(input(0), *dim, *z, out),
        Kind::Splice(s) => s.run(input, out),
        Kind::Embedding(e) => e.run(input(0), input(1), out)?,
        Kind::Fused(f) => f.run(input, out)?,
        Kind::Topk(p) => p.run(input(0), input(1), out),
        Kind::Tilizer(p) => p.run(input(0), out),
    }
    Ok(())
}

/// Compiles one op: its kind, its inputs' pipelines and its output shape, checked against the
/// declared shape.
fn compile_op(
    netlist: &Netlist,
    op: &Op,
    in_shapes: &[Shape],
    arch: Arch,
    slot_of: &dyn Fn(&str) -> usize,
    slot: usize,
) -> Result<(OpPlan, Shape), PlanError> {
    let a = &op.attributes;
    let t = &op.op_type;
    // An op's output has the op's tile_dim, a queue's entries the queue's.
    let tile_of = |name: &str| match (netlist.op(name), netlist.queue(name)) {
        (Some((_, o)), _) => o.tile_dim,
        (None, Some(q)) => q.tile_dim,
        (None, None) => TileDim::FULL,
    };
    let from_op = |name: &str| netlist.op(name).is_some();
    let matmul_like = t.is(OpType::Matmul);
    // A tilizer's input rules come first: its TMs, pad and unpad are refused, not computed.
    let mut tilizer = if t.is(OpType::Tilizer) {
        Some(TilizerPlan::new(netlist, op, arch)?)
    } else {
        None
    };
    let as_read = tilizer.is_some();
    // Inputs: unpad, TMs, pad.
    let mut inputs = Vec::new();
    let mut input_tiles = Vec::new();
    let mut shapes = Vec::new();
    for (k, name) in op.inputs.iter().enumerate() {
        let tms = op.input_tms.get(k).cloned().unwrap_or_default();
        let input_error = |error| PlanError::Input { input: k, error };
        check_input_tms(op, k, &tms).map_err(input_error)?;
        let unpad_attr = op.input_unpad.get(k).copied().flatten();
        let pad_attr = op.input_pad.get(k).copied().flatten();
        let mut tile = tile_of(name);
        if tile != TileDim::FULL {
            check_small_tile_input(op, tile, &tms).map_err(input_error)?;
            // Each transpose swaps the tiles' height and width.
            for _ in tms.iter().filter(|tm| matches!(tm, Tm::Transpose)) {
                tile = TileDim {
                    height: tile.width,
                    width: tile.height,
                };
            }
        }
        input_tiles.push(tile);
        // Queue reads are 0 outside their tiles already; padding fills whole tiles.
        let padded = pad_attr.is_some() || tms.iter().any(|tm| matches!(tm, Tm::Pad { .. }));
        let clear_input =
            (matmul_like && k < 2 && tile != TileDim::FULL && (from_op(name) || padded))
                .then_some(tile);
        let mut s = in_shapes[k];
        if let Some(u) = unpad_attr {
            s = unpad_shape(s, u.rt, u.ct).map_err(|e| input_error(InputError::Unpad(e)))?;
        }
        let (mut s, mut max) =
            shapes_through(&tms, s).map_err(|e| input_error(InputError::Tm(e)))?;
        if let Some(p) = pad_attr {
            s = Shape::new(s.z, s.rt + p.rt, s.ct + p.ct);
            max = max.max(s.z as usize * s.rt as usize * s.ct as usize * 1024);
        }
        // A plain input (no unpad, TMs or pad) never uses `spare`, and one read straight from a
        // queue whose format is not quantized on the way in is read in place (`direct`).
        let plain =
            unpad_attr.is_none() && tms.is_empty() && pad_attr.is_none() && clear_input.is_none();
        let in_place = plain
            && netlist.op(name).is_none()
            && (as_read
                || netlist
                    .queue(name)
                    .is_some_and(|q| !quantized_on_read(q.df, arch)));
        let mut tt = if in_place {
            Tensor::zeros(0, 0, 0, DataFormat::Float32)
        } else {
            sized(s, DataFormat::Float32)
        };
        if !in_place {
            tt.data.reserve(max.saturating_sub(tt.data.len()));
        }
        let mut spare = Tensor::zeros(0, 0, 0, DataFormat::Float32);
        if !plain {
            spare.data.reserve(max);
        }
        inputs.push(InputPlan {
            slot: slot_of(name),
            unpad: unpad_attr,
            tms,
            pad: pad_attr,
            t: tt,
            spare,
            direct: false,
            clear: clear_input,
            as_read,
        });
        shapes.push(s);
    }
    let need = |op: OpType, count: usize| -> Result<(), PlanError> {
        if shapes.len() != count {
            return Err(PlanError::Inputs {
                op,
                count,
                found: shapes.len(),
            });
        }
        Ok(())
    };
    let same = |op: OpType, i: usize, j: usize| -> Result<(), PlanError> {
        if shapes[i] != shapes[j] {
            return Err(PlanError::InputShapes {
                op,
                a: (i, shapes[i]),
                b: (j, shapes[j]),
            });
        }
        Ok(())
    };
    // Tile dims of input 0 (after its TMs): the clearing region of eltwise ops.
    let tile0 = input_tiles.first().copied().unwrap_or(TileDim::FULL);
    let vector = match a.vector {
        None | Some(Dim::Rc) => Dim::Rc,
        Some(Dim::R) => Dim::R,
        Some(Dim::C) => Dim::C,
        Some(Dim::Z) => return Err(PlanError::VectorZ),
    };
    // Golden's SFPU op forces `rc` when its input tiles are 16 or fewer rows or columns.
    let vector = if tile0 != TileDim::FULL {
        Dim::Rc
    } else {
        vector
    };
    let declared = declared_shape(op);
    let mut int8_output = false;
    let mut reserve = 0;
    let Some(known) = t.known() else {
        return Err(PlanError::UnsupportedType(t.clone()));
    };
    let (kind, shape) = match known {
        OpType::Matmul if a.identity => {
            let plan = IdentityMatmulPlan::new(op, &shapes, vector)?;
            (Kind::IdentityMatmul(plan), declared)
        }
        OpType::Matmul => {
            let gelu = super::matmul::fused_sfpu(a.sfpu_op.as_deref(), vector)?;
            if a.requant && a.dequant {
                return Err(PlanError::MatmulRequantDequant);
            }
            need(
                known,
                2 + a.bias as usize + (a.requant || a.dequant) as usize,
            )?;
            let (s0, s1) = (shapes[0], shapes[1]);
            if s0.ct != s1.rt {
                return Err(PlanError::MatmulInner { a: s0, b: s1 });
            }
            if let (Some(mk), Some(ukt)) = (a.m_k, a.u_kt) {
                if mk * ukt != s1.rt {
                    return Err(PlanError::MatmulMk(InnerTiles {
                        m_k: mk,
                        u_kt: ukt,
                        rt: s1.rt,
                    }));
                }
            }
            if s1.z < s0.z {
                return Err(PlanError::MatmulT { t0: s0.z, t1: s1.z });
            }
            let mut out = Shape::new(s0.z, s0.rt, s1.ct);
            let accumulate = if a.accumulate {
                let z = a.z.unwrap_or(0);
                if z == 0 || s0.z % z != 0 || s0.z <= 1 {
                    return Err(PlanError::MatmulAccumulate { z, t: s0.z });
                }
                out.z /= z;
                Some(z)
            } else {
                None
            };
            for (k, s) in shapes.iter().enumerate().skip(2) {
                if *s != out {
                    return Err(PlanError::MatmulInput {
                        input: k,
                        shape: *s,
                        product: out,
                    });
                }
            }
            int8_output = a.requant;
            reserve = reserve.max(s0.z as usize * s0.rt as usize * s1.ct as usize * 1024);
            let extras = MatmulExtras {
                accumulate,
                bias: a.bias,
                requant: a.requant,
                dequant: a.dequant,
                zero_point: a.zero_point.unwrap_or(0.0),
                gelu,
            };
            (Kind::Matmul(extras), out)
        }
        OpType::Depthwise => {
            need(known, 2 + a.bias as usize)?;
            if a.u_kt.is_some_and(|u| u != 1) {
                return Err(PlanError::DepthwiseUkt);
            }
            let (s0, s1) = (shapes[0], shapes[1]);
            let kernels = s1.rt;
            if a.m_k.is_some_and(|m| m != kernels) || kernels == 0 || s0.ct % kernels != 0 {
                return Err(PlanError::DepthwiseKernels { kernels, ct: s0.ct });
            }
            let out = Shape::new(s0.z, s0.rt, s0.ct / kernels);
            if s1.ct != out.ct || s1.z < s0.z {
                return Err(PlanError::DepthwiseInputs { a: s0, b: s1 });
            }
            if a.bias && shapes[2] != out {
                return Err(PlanError::DepthwiseBias {
                    bias: shapes[2],
                    output: out,
                });
            }
            (Kind::Depthwise { bias: a.bias }, out)
        }
        OpType::Reduce => {
            need(known, 1)?;
            match a.reduce_type {
                Some(ReduceFunc::Max) => {}
                Some(_) => return Err(PlanError::ReduceType),
                None => return Err(PlanError::ReduceNoType),
            }
            let dim = a.dim.ok_or(PlanError::ReduceNoDim)?;
            let z = if dim == Dim::Z {
                let z = a.z.unwrap_or(0);
                if z == 0 || shapes[0].z % z != 0 {
                    return Err(PlanError::ReduceZ { z, t: shapes[0].z });
                }
                z
            } else {
                1
            };
            let s = shapes[0];
            let (oz, ort, oct) = reduce_shape(dim, z, s.z, s.rt, s.ct);
            (Kind::Reduce { dim, z }, Shape::new(oz, ort, oct))
        }
        OpType::Splice => {
            let plan = SplicePlan::new(op, &shapes, declared)?;
            (Kind::Splice(plan), declared)
        }
        OpType::Embedding => {
            need(known, 2)?;
            let plan = EmbeddingPlan::new(op, &shapes, declared)?;
            (Kind::Embedding(plan), declared)
        }
        OpType::FusedOp => {
            let id = a.fused_op_id.as_deref().ok_or(PlanError::FusedNoId)?;
            let fused = netlist
                .fused_op(id)
                .ok_or_else(|| PlanError::FusedUndefined { id: id.into() })?;
            let (plan, s) = FusedPlan::new(fused, op, &shapes)?;
            (Kind::Fused(plan), s)
        }
        OpType::Topk => {
            need(known, 2)?;
            let (plan, s) = TopkPlan::new(op, &shapes)?;
            (Kind::Topk(plan), s)
        }
        OpType::Tilizer => {
            need(known, 1)?;
            (
                Kind::Tilizer(tilizer.take().ok_or(PlanError::TilizerUnchecked)?),
                shapes[0],
            )
        }
        // Every other type is elementwise (`eltwise` says what each computes).
        _ => {
            let attributes = EltwiseAttributes {
                exponent: a.exponent,
                slope: a.slope,
                probability: a.probability,
                zero_point: a.zero_point,
            };
            match eltwise(known, attributes) {
                Some(Eltwise::Binary(b)) => {
                    need(known, 2)?;
                    same(known, 0, 1)?;
                    int8_output = b.forces_int8();
                    (Kind::Binary(b), shapes[0])
                }
                Some(Eltwise::Unary(f)) => {
                    need(known, 1)?;
                    (Kind::Unary { op: f, vector }, shapes[0])
                }
                None => return Err(PlanError::UnsupportedType(t.clone())),
            }
        }
    };
    if shape != declared {
        return Err(PlanError::OutputShape {
            computed: shape,
            declared,
        });
    }
    let relu = (a.relu_en && !t.is(OpType::FusedOp))
        .then_some((a.relu_mode, a.relu_threshold.unwrap_or(0.0)));
    // Golden's clearing after the op (golden-ops.md §4): eltwise ops keep the smaller of input
    // 0's tile and the op's, depthwise input 0's tile, matmul the op's tile; reduce clears
    // nothing.
    let out_tile = op.tile_dim;
    let region = match kind {
        Kind::Unary { .. } | Kind::Binary(_) | Kind::Topk(_) => TileDim {
            height: tile0.height.min(out_tile.height),
            width: tile0.width.min(out_tile.width),
        },
        Kind::Depthwise { .. } => tile0,
        Kind::Matmul(_) | Kind::IdentityMatmul(_) | Kind::Tilizer(_) => out_tile,
        _ => TileDim::FULL,
    };
    let clear = (region != TileDim::FULL).then_some(region);
    let plan = OpPlan {
        name: op.name.clone(),
        line: op.line,
        kind,
        inputs,
        slot,
        out_df: op.out_df,
        relu,
        int8_output,
        gradient: op.gradient_op,
        has_run: false,
        prev: Tensor::zeros(0, 0, 0, op.out_df),
        scratch: sized(shape, op.out_df),
        writes: Vec::new(),
        reserve: reserve.max(shape.z as usize * shape.rt as usize * shape.ct as usize * 1024),
        clear,
    };
    Ok((plan, shape))
}
