//! The reference of a whole netlist run: queues as rings of entries with global read and
//! write pointers (modulo 2*entries), programs interpreted instruction by instruction
//! (notes/buda-backend.md, "Programs"), each graph run `input_count` times per execute with
//! the ops of `reference_ops.rs`.
//!
//! As on the simulated chip, every entry written to a queue (by the host or by an op) is
//! stored in the queue's `df`, after the queue's own `input_tms`.
//!
//! What golden does beyond one graph on its own (tt-budabackend `golden/`, `common/tt_ram.cpp`,
//! `netlist/netlist_workload_data.cpp`), modelled here:
//! - Temporal graphs: graphs whose ops read ops of other graphs directly form one temporal
//!   graph. An execute of one of them records its queue settings (values at that moment);
//!   the execute of the last one not yet executed runs them all, `input_count` times, each run
//!   visiting every op of every sub-graph in dependency order. Recorded executes are forgotten
//!   at the start of each run_program.
//! - Dual-view rams (`alias`): two rams over one memory. The view with more entries holds the
//!   memory; an entry of the other is `n` consecutive entries of it concatenated along t
//!   (tt_ram::update_from_base / update_to_base). Each view keeps its own pointers. A
//!   `read_only` execute setting leaves the view's write pointer alone.
//! - Rams have no local read pointer: each run reads at the global read pointer, which then
//!   moves by global_rdptr_autoinc (not for a prologue or epilogue ram).
//! - Within a run, a queue that no op of the graph writes is read before any op runs (so a
//!   view of a ram another view of which the graph writes gives the memory as it was when the
//!   run started, as golden's topological order visits such a root queue first); a queue an op
//!   of the graph writes is read when its reader runs, after the write.
//! - Tiles under 32x32 (`tile_dim`) on queues the host feeds: see reference.rs.
#![allow(dead_code)]

use std::collections::HashMap;

use ttrt::format::{Arch, DataFormat, IoLayout, TileDim};
use ttrt::netlist::{
    Instruction, IoType, Netlist, Op, Operand, QueueLocation, QueueSetting, Tm, VarInstOp,
};

use super::reference::{
    apply_tm, clear_outside_tile, gather_small_tiles, invalid, netlist_arch, quantize,
    spread_small_tiles, RefError, RefResult, Tensor, TILE,
};
use super::reference_ops::eval_op;

/// One queue or ram: its slots and pointers.
#[derive(Clone, Debug)]
pub struct QueueState {
    pub entries: usize,
    /// The entries, unless another view of the ram holds its memory (see `Machine::storage`).
    pub slots: Vec<Option<Tensor>>,
    /// Global read and write pointers, modulo `2 * entries`.
    pub rd: usize,
    pub wr: usize,
    pub ram: bool,
    pub df: DataFormat,
    /// Set by an execute with `zero: true`: the next gradient write starts over.
    pub zero: bool,
    /// Tile height and width (32x32 unless `tile_dim` says otherwise).
    pub tile: (usize, usize),
}

impl QueueState {
    fn wrap(&self) -> usize {
        2 * self.entries
    }
    /// Entries written and not yet popped.
    pub fn occupancy(&self) -> usize {
        (self.wr + self.wrap() - self.rd) % self.wrap()
    }
    pub fn free(&self) -> usize {
        self.entries - self.occupancy()
    }
}

fn small(d: TileDim) -> bool {
    (d.height as usize, d.width as usize) != (TILE, TILE)
}

/// Why a netlist uses something this model does not cover, or None.
pub fn unsupported_feature(net: &Netlist) -> Option<String> {
    // Flat queues that only tilizers read.
    let tilized = |q: &ttrt::netlist::Queue| {
        net.graphs.iter().flat_map(|g| &g.ops).all(|op| {
            op.inputs
                .iter()
                .all(|n| n != &q.name || op.op_type.as_str() == "tilizer")
        })
    };
    for q in net.queues.iter().filter(|q| small(q.tile_dim)) {
        if q.layout == IoLayout::Flat && !tilized(q) {
            return Some(format!("flat queue {} with tile_dim", q.name));
        }
        if let Some((_, op)) = net.op(&q.input) {
            if op.tile_dim != q.tile_dim {
                return Some(format!(
                    "queue {} of tile_dim {}x{} written by op {} of another tile_dim",
                    q.name, q.tile_dim.height, q.tile_dim.width, op.name
                ));
            }
        }
    }
    // Ops whose tiny-tile rules the reference models: copies, binary, SFPU, matmul, reduce
    // take such inputs; splice, embedding, fused ops and topk (which upstream gives none) write
    // such outputs too.
    let modelled = |t: &str| {
        !matches!(
            t,
            "splice" | "embedding" | "fused_op" | "topk" | "depthwise"
        )
    };
    let writes_small =
        |t: &str| modelled(t) || matches!(t, "splice" | "embedding" | "fused_op" | "topk");
    for g in &net.graphs {
        for op in &g.ops {
            if small(op.tile_dim) && !writes_small(op.op_type.as_str()) {
                return Some(format!("tile_dim of {} op {}", op.op_type, op.name));
            }
            for (i, input) in op.inputs.iter().enumerate() {
                let tile = match (net.op(input), net.queue(input)) {
                    (Some((_, p)), _) => p.tile_dim,
                    (None, Some(q)) => q.tile_dim,
                    _ => continue,
                };
                if !small(tile) {
                    continue;
                }
                let whole_tiles = |tm: &Tm| {
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
                let tms = op.input_tms.get(i).map_or(&[][..], Vec::as_slice);
                if !modelled(op.op_type.as_str()) || !tms.iter().all(whole_tiles) {
                    return Some(format!(
                        "input {input} of tile_dim {}x{} into {} {}",
                        tile.height, tile.width, op.op_type, op.name
                    ));
                }
            }
        }
    }
    for q in net.queues.iter().filter(|q| q.layout == IoLayout::Flat) {
        let only_tables = net.graphs.iter().flat_map(|g| &g.ops).all(|op| {
            op.inputs.iter().enumerate().all(|(i, n)| {
                n != &q.name || (matches!(op.op_type.as_str(), "embedding" | "tilizer") && i == 0)
            })
        });
        if !only_tables {
            return Some(format!(
                "flat queue {} feeding an op other than embedding or tilizer",
                q.name
            ));
        }
    }
    None
}

// ---------------------------------------------------------------------------------------------
// DRAM placement: what the device refuses at initialize
// ---------------------------------------------------------------------------------------------

/// Bytes of one tile as a queue stores it (notes/buda-backend.md, "Tile bytes"): a 16-byte
/// header, the exponent section of block floats (one byte per 16 datums, 16 bytes for tiles
/// under 16 rows, in place of the padding), the datums, padding to 32 bytes in all, and on
/// Blackhole to a multiple of 64. Flat queues hold the datums only.
fn tile_bytes(df: DataFormat, tile: TileDim, arch: Arch, layout: IoLayout) -> u64 {
    let datums = u64::from(tile.height) * u64::from(tile.width);
    let (bits, bfp) = match df {
        DataFormat::Float32 | DataFormat::Tf32 | DataFormat::Int32 | DataFormat::RawUInt32 => {
            (32, false)
        }
        DataFormat::Float16 | DataFormat::Float16B | DataFormat::UInt16 | DataFormat::RawUInt16 => {
            (16, false)
        }
        DataFormat::Bfp8 | DataFormat::Bfp8B => (8, true),
        DataFormat::Bfp4 | DataFormat::Bfp4B => (4, true),
        DataFormat::Bfp2 | DataFormat::Bfp2B => (2, true),
        _ => (8, false),
    };
    let data = datums * bits / 8;
    if layout == IoLayout::Flat {
        return data;
    }
    let exponents = if bfp && tile.height >= 16 {
        datums / 16
    } else {
        0
    };
    let size = data + exponents + 32;
    if arch == Arch::Blackhole {
        size.div_ceil(64) * 64
    } else {
        size
    }
}

/// Why the device refuses the netlist at initialize, or None: DRAM buffers of two queues that
/// overlap, unless the queues are views of one ram or both are dynamic (the device runtime's
/// check_queues_do_not_overlap).
pub fn refused_at_initialize(net: &Netlist) -> Option<String> {
    let arch = netlist_arch(net);
    let dynamic: Vec<&str> = net
        .programs
        .iter()
        .flat_map(|p| &p.instructions)
        .flat_map(|s| match &s.instruction {
            Instruction::AllocateQueue(n) | Instruction::DeallocateQueue(n) => n.as_slice(),
            _ => &[],
        })
        .map(String::as_str)
        .collect();
    let header = if arch == Arch::Blackhole { 64 } else { 32 };
    let mut spans = Vec::new();
    for q in net.queues.iter().filter(|q| q.loc == QueueLocation::Dram) {
        let tiles = u64::from(q.t)
            * u64::from(q.mblock.m)
            * u64::from(q.mblock.n)
            * u64::from(q.ublock.rt)
            * u64::from(q.ublock.ct);
        let size =
            header + u64::from(q.entries) * tiles * tile_bytes(q.df, q.tile_dim, arch, q.layout);
        for b in &q.buffers {
            spans.push((q, b.channel, b.address, b.address + size));
        }
    }
    for (i, &(a, ca, sa, ea)) in spans.iter().enumerate() {
        for &(b, cb, sb, eb) in &spans[i + 1..] {
            let views = a.name == b.name
                || a.alias.as_deref() == Some(b.name.as_str())
                || b.alias.as_deref() == Some(a.name.as_str());
            let both_dynamic =
                dynamic.contains(&a.name.as_str()) && dynamic.contains(&b.name.as_str());
            if ca == cb && sa < eb && sb < ea && !views && !both_dynamic {
                return Some(format!(
                    "queues {} and {} overlap in DRAM channel {ca} ({sa:#x}.. and {sb:#x}..)",
                    a.name, b.name
                ));
            }
        }
    }
    None
}

// ---------------------------------------------------------------------------------------------
// Temporal graphs
// ---------------------------------------------------------------------------------------------

/// The temporal graphs of `net`: members (graph indexes, producers first) of each, and the
/// temporal graph of each graph.
fn temporal_graphs(net: &Netlist) -> (Vec<Vec<usize>>, Vec<usize>) {
    let n = net.graphs.len();
    let graph_of_op = |name: &str| net.graphs.iter().position(|g| g.op(name).is_some());
    // reads[g]: other graphs whose ops g's ops read.
    let reads: Vec<Vec<usize>> = net
        .graphs
        .iter()
        .enumerate()
        .map(|(gi, g)| {
            let mut v: Vec<usize> = g
                .ops
                .iter()
                .flat_map(|op| &op.inputs)
                .filter(|i| net.queue(i).is_none())
                .filter_map(|i| graph_of_op(i))
                .filter(|&p| p != gi)
                .collect();
            v.sort_unstable();
            v.dedup();
            v
        })
        .collect();
    let mut label: Vec<usize> = (0..n).collect();
    loop {
        let mut changed = false;
        for g in 0..n {
            for &p in &reads[g] {
                let l = label[g].min(label[p]);
                if label[g] != l || label[p] != l {
                    label[g] = l;
                    label[p] = l;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut of = vec![0; n];
    let mut firsts: Vec<usize> = Vec::new();
    for g in 0..n {
        let k = match firsts.iter().position(|&f| f == label[g]) {
            Some(k) => k,
            None => {
                firsts.push(label[g]);
                groups.push(Vec::new());
                groups.len() - 1
            }
        };
        of[g] = k;
    }
    for (k, group) in groups.iter_mut().enumerate() {
        let members: Vec<usize> = (0..n).filter(|&g| of[g] == k).collect();
        while group.len() < members.len() {
            // Graphs reading each other's ops both ways: the op order decides (topo_order).
            let next = members
                .iter()
                .copied()
                .find(|g| !group.contains(g) && reads[*g].iter().all(|p| group.contains(p)))
                .or_else(|| members.iter().copied().find(|g| !group.contains(g)));
            group.push(next.expect("a member left"));
        }
    }
    (groups, of)
}

/// One queue's settings of one execute, evaluated when the execute instruction ran.
#[derive(Clone, Debug, PartialEq)]
struct Setting {
    name: String,
    rd_ptr_global: Option<i64>,
    wr_ptr_global: Option<i64>,
    rd_ptr_local: Option<i64>,
    rd_ptr_autoinc: i64,
    global_rdptr_autoinc: i64,
    global_wrptr_autoinc: i64,
    prologue: bool,
    epilogue: bool,
    zero: bool,
    read_only: bool,
}

fn evaluate(s: &QueueSetting, vars: &HashMap<String, i64>) -> RefResult<Setting> {
    let get = |o: &Option<Operand>| -> RefResult<Option<i64>> {
        o.as_ref().map(|x| resolve(vars, x)).transpose()
    };
    let flag = |o: &Option<Operand>| -> RefResult<bool> { Ok(get(o)?.unwrap_or(0) != 0) };
    Ok(Setting {
        name: s.name.clone(),
        rd_ptr_global: get(&s.rd_ptr_global)?,
        wr_ptr_global: get(&s.wr_ptr_global)?,
        rd_ptr_local: get(&s.rd_ptr_local)?,
        rd_ptr_autoinc: resolve(vars, &s.rd_ptr_autoinc)?,
        global_rdptr_autoinc: resolve(vars, &s.global_rdptr_autoinc)?,
        global_wrptr_autoinc: resolve(vars, &s.global_wrptr_autoinc)?,
        prologue: flag(&s.prologue)?,
        epilogue: flag(&s.epilogue)?,
        zero: flag(&s.zero)?,
        read_only: flag(&s.read_only)?,
    })
}

/// The reference state of a netlist across run_program calls.
#[derive(Clone)]
pub struct Machine<'a> {
    pub net: &'a Netlist,
    pub arch: Arch,
    pub queues: HashMap<String, QueueState>,
    /// Static variables, per program.
    statics: HashMap<String, HashMap<String, i64>>,
    /// Each gradient op's previous output.
    grad_prev: HashMap<String, Tensor>,
    /// Queue pointers bound to variables by the last execute naming them: (queue, var, read).
    bindings: Vec<(String, String, bool)>,
    /// For each view of a dual-view ram: the view whose slots hold the memory and how many of
    /// its entries make one entry of this view.
    storage: HashMap<String, (String, usize)>,
    /// Temporal graphs: members of each, and the temporal graph of each graph.
    temporal: Vec<Vec<usize>>,
    temporal_of: Vec<usize>,
    /// Executes of sub-graphs waiting for the rest of their temporal graph.
    pending: Vec<(usize, Vec<Setting>)>,
}

impl<'a> Machine<'a> {
    pub fn new(net: &'a Netlist) -> Machine<'a> {
        let queues = net
            .queues
            .iter()
            .map(|q| {
                let entries = q.entries.max(1) as usize;
                let state = QueueState {
                    entries,
                    slots: vec![None; entries],
                    rd: 0,
                    wr: 0,
                    ram: q.io_type == IoType::Ram,
                    df: q.df,
                    zero: false,
                    tile: (q.tile_dim.height as usize, q.tile_dim.width as usize),
                };
                (q.name.clone(), state)
            })
            .collect();
        let mut storage = HashMap::new();
        for q in &net.queues {
            let Some(base) = q.alias.as_ref().and_then(|b| net.queue(b)) else {
                continue;
            };
            let (fine, coarse) = if q.entries > base.entries {
                (q, base)
            } else {
                (base, q)
            };
            let n = (fine.entries / coarse.entries.max(1)).max(1) as usize;
            storage.insert(coarse.name.clone(), (fine.name.clone(), n));
        }
        let (temporal, temporal_of) = temporal_graphs(net);
        Machine {
            net,
            arch: netlist_arch(net),
            queues,
            statics: HashMap::new(),
            grad_prev: HashMap::new(),
            bindings: Vec::new(),
            storage,
            temporal,
            temporal_of,
            pending: Vec::new(),
        }
    }

    pub fn queue(&self, name: &str) -> &QueueState {
        &self.queues[name]
    }

    /// Where entry `slot` of view `name` lives: (queue holding the memory, its first slot,
    /// how many of its slots).
    fn place(&self, name: &str, slot: usize) -> (String, usize, usize) {
        let slot = slot % self.queues[name].entries;
        match self.storage.get(name) {
            Some((store, n)) => (store.clone(), slot * n, *n),
            None => (name.to_string(), slot, 1),
        }
    }

    /// Entry `slot` (a pointer) of queue `name`, through the view's memory.
    fn load(&self, name: &str, slot: usize) -> RefResult<Tensor> {
        let (store, first, n) = self.place(name, slot);
        let sq = &self.queues[&store];
        let parts = (first..first + n)
            .map(|s| read_slot(&store, sq, s))
            .collect::<RefResult<Vec<_>>>()?;
        if n == 1 {
            return Ok(parts.into_iter().next().expect("one part"));
        }
        let pz = parts[0].z;
        let (rows, cols) = (parts[0].rows, parts[0].cols);
        Ok(Tensor::build(
            pz * n,
            rows,
            cols,
            self.queues[name].df,
            |z, r, c| parts[z / pz].at(z % pz, r, c),
        ))
    }

    /// Stores `t` as entry `slot` (a pointer) of queue `name`, through the view's memory.
    fn store(&mut self, name: &str, slot: usize, t: Tensor) {
        let (store, first, n) = self.place(name, slot);
        let sq = self.queues.get_mut(&store).expect("known queue");
        if n == 1 {
            sq.slots[first] = Some(t);
            return;
        }
        let pz = t.z / n;
        for k in 0..n {
            let part = Tensor::build(pz, t.rows, t.cols, t.tag, |z, r, c| t.at(k * pz + z, r, c));
            sq.slots[first + k] = Some(part);
        }
    }

    /// Every entry of ram `name` whose memory has been written, by slot.
    pub fn ram_entries(&self, name: &str) -> Vec<(usize, Tensor)> {
        (0..self.queues[name].entries)
            .filter_map(|s| {
                self.load(name, s)
                    .ok()
                    .map(|t| (s, self.host_layout(name, t)))
            })
            .collect()
    }

    /// An entry of queue `name` as the host reads it: for tiles under 32x32, their values
    /// packed (`rt*th x ct*tw` per slice).
    fn host_layout(&self, name: &str, t: Tensor) -> Tensor {
        let (th, tw) = self.queues[name].tile;
        if (th, tw) == (TILE, TILE) {
            return t;
        }
        gather_small_tiles(&t, th, tw)
    }

    /// The host pushes one entry (values as the host gives them: `rt*th x ct*tw` per slice
    /// for a queue of `th x tw` tiles) at the write pointer, or at slot `ptr` of a ram.
    pub fn host_push(&mut self, queue: &str, t: Tensor, ptr: Option<usize>) -> RefResult<()> {
        let q = &self.queues[queue];
        let (th, tw) = q.tile;
        let mut t = if (th, tw) != (TILE, TILE) {
            spread_small_tiles(&t, th, tw)
        } else {
            t
        };
        quantize(&mut t, q.df)?;
        match ptr {
            Some(slot) => self.store(queue, slot, t),
            None => {
                if q.free() == 0 {
                    return invalid(format!("push to full queue {queue}"));
                }
                let slot = q.wr;
                self.store(queue, slot, t);
                let q = self.queues.get_mut(queue).expect("known queue");
                q.wr = (q.wr + 1) % q.wrap();
            }
        }
        Ok(())
    }

    /// The entry at the read pointer of an output queue (what get_output returns).
    pub fn host_peek(&self, queue: &str) -> RefResult<Tensor> {
        let t = self.load(queue, self.queues[queue].rd)?;
        Ok(self.host_layout(queue, t))
    }

    /// Advances an output queue's read pointer by one (pop_output).
    pub fn host_pop(&mut self, queue: &str) {
        let q = self.queues.get_mut(queue).expect("known queue");
        q.rd = (q.rd + 1) % q.wrap();
    }

    /// Runs program `name` with `params` (names without `$`).
    pub fn run_program(&mut self, name: &str, params: &[(String, i64)]) -> RefResult<()> {
        let prog = self
            .net
            .program(name)
            .ok_or_else(|| RefError::Invalid(format!("no program {name}")))?;
        // Golden forgets executes of sub-graphs left waiting by an earlier program.
        self.pending.clear();
        let mut vars: HashMap<String, i64> = self.statics.get(name).cloned().unwrap_or_default();
        let mut static_names: Vec<String> = vars.keys().cloned().collect();
        let mut loops: Vec<(usize, i64)> = Vec::new();
        let steps = &prog.instructions;
        let mut pc = 0;
        while pc < steps.len() {
            match &steps[pc].instruction {
                Instruction::Param(names) => {
                    for n in names {
                        let v = params
                            .iter()
                            .find(|(k, _)| k == n)
                            .map(|(_, v)| *v)
                            .ok_or_else(|| RefError::Invalid(format!("param ${n} not given")))?;
                        vars.insert(n.clone(), v);
                    }
                }
                Instruction::Var(decls) => {
                    for d in decls {
                        vars.insert(d.name.clone(), d.init);
                    }
                }
                Instruction::StaticVar(decls) => {
                    for d in decls {
                        if !static_names.contains(&d.name) {
                            vars.insert(d.name.clone(), d.init);
                            static_names.push(d.name.clone());
                        }
                    }
                }
                Instruction::Loop(count) => {
                    let n = resolve(&vars, count)?;
                    if n < 1 {
                        return invalid(format!("loop count {n}"));
                    }
                    loops.push((pc + 1, n));
                }
                Instruction::EndLoop => {
                    let top = loops
                        .last_mut()
                        .ok_or_else(|| RefError::Invalid("endloop without loop".into()))?;
                    top.1 -= 1;
                    if top.1 > 0 {
                        pc = top.0;
                        continue;
                    }
                    loops.pop();
                }
                Instruction::VarInst { dest, op, args } => {
                    let a: Vec<i64> = args
                        .iter()
                        .map(|x| resolve(&vars, x))
                        .collect::<RefResult<_>>()?;
                    let old = *vars.get(dest).unwrap_or(&0);
                    let v = match op {
                        VarInstOp::Set => a[0],
                        VarInstOp::Add => a[0] + a[1],
                        VarInstOp::Mul => a[0] * a[1],
                        VarInstOp::Inc => old + a[0],
                        VarInstOp::IncWrap => {
                            if a[1] <= 0 {
                                return invalid("incwrap by a wrap of 0 or less");
                            }
                            (old + a[0]).rem_euclid(a[1])
                        }
                    };
                    vars.insert(dest.clone(), v);
                    self.propagate(dest, v);
                }
                Instruction::Execute(ex) => {
                    let graph = self
                        .net
                        .graphs
                        .iter()
                        .position(|g| g.name == ex.graph_name)
                        .ok_or_else(|| RefError::Invalid(format!("no graph {}", ex.graph_name)))?;
                    let mut settings = Vec::new();
                    for s in &ex.queue_settings {
                        if !self.queues.contains_key(&s.name) {
                            return invalid(format!("settings for unknown queue {}", s.name));
                        }
                        let setting = evaluate(s, &vars)?;
                        // A read-only view's write pointer follows no variable.
                        let wr = if setting.read_only {
                            &None
                        } else {
                            &s.wr_ptr_global
                        };
                        settings.push(setting);
                        // Each execute rebinds the pointers it names to variables and unbinds
                        // the others (golden propagates through its latest settings only).
                        for (ptr, read) in [(&s.rd_ptr_global, true), (wr, false)] {
                            self.bindings
                                .retain(|(qn, _, r)| !(qn == &s.name && *r == read));
                            if let Some(Operand::Var(v)) = ptr {
                                self.bindings.push((s.name.clone(), v.clone(), read));
                            }
                        }
                    }
                    self.arrive(graph, settings)?;
                }
                Instruction::AllocateQueue(_) | Instruction::DeallocateQueue(_) => {}
                Instruction::EndProgram => break,
            }
            pc += 1;
        }
        let keep = static_names
            .into_iter()
            .filter_map(|n| vars.get(&n).map(|v| (n, *v)))
            .collect();
        self.statics.insert(name.to_string(), keep);
        Ok(())
    }

    /// The execute of `graph`: runs its temporal graph once every sub-graph has been executed.
    fn arrive(&mut self, graph: usize, settings: Vec<Setting>) -> RefResult<()> {
        let members = self.temporal[self.temporal_of[graph]].clone();
        if members.len() == 1 {
            return self.execute(&members, &settings);
        }
        if self.pending.iter().any(|(g, _)| *g == graph) {
            return invalid(format!(
                "graph {} executed twice before its temporal graph ran",
                self.net.graphs[graph].name
            ));
        }
        self.pending.push((graph, settings));
        if !members
            .iter()
            .all(|m| self.pending.iter().any(|(g, _)| g == m))
        {
            return Ok(());
        }
        let mut merged: Vec<Setting> = Vec::new();
        for (_, list) in self.pending.drain(..) {
            for s in list {
                match merged.iter().find(|m| m.name == s.name) {
                    Some(m) if *m != s => {
                        return invalid(format!(
                            "queue {} gets different settings from executes of one temporal graph",
                            s.name
                        ))
                    }
                    Some(_) => {}
                    None => merged.push(s),
                }
            }
        }
        self.execute(&members, &merged)
    }

    /// A varinst changed `var`: queue pointers bound to it follow.
    fn propagate(&mut self, var: &str, value: i64) {
        for (q, v, read) in &self.bindings {
            if v == var {
                let state = self.queues.get_mut(q).expect("bound queue");
                let p = value.rem_euclid(state.wrap() as i64) as usize;
                if *read {
                    state.rd = p;
                } else {
                    state.wr = p;
                }
            }
        }
    }

    /// Runs the graphs `graphs` (one temporal graph, producers first) `input_count` times.
    fn execute(&mut self, graphs: &[usize], settings: &[Setting]) -> RefResult<()> {
        let net = self.net;
        let ops: Vec<&Op> = graphs.iter().flat_map(|&g| &net.graphs[g].ops).collect();
        let input_count = net.graphs[graphs[0]].input_count.max(1) as usize;
        for s in settings {
            let q = self.queues.get_mut(&s.name).expect("known queue");
            let wrap = q.wrap() as i64;
            if let Some(v) = s.rd_ptr_global {
                q.rd = v.rem_euclid(wrap) as usize;
            }
            if let Some(v) = s.wr_ptr_global.filter(|_| !s.read_only) {
                q.wr = v.rem_euclid(wrap) as usize;
            }
            if s.zero {
                q.zero = true;
                let (store, _, _) = self.place(&s.name, 0);
                let sq = self.queues.get_mut(&store).expect("known queue");
                for slot in sq.slots.iter_mut().flatten() {
                    slot.data.iter_mut().for_each(|x| *x = 0.0);
                }
            }
        }
        // Input queues of the graph with their local pointer, increments and hold flag.
        struct Reader {
            name: String,
            ram: bool,
            local: usize,
            local_inc: usize,
            global_inc: usize,
            hold: bool,
            /// No op of the graph writes it: read when the run starts.
            early: bool,
        }
        let written: Vec<&str> = net
            .queues
            .iter()
            .filter(|q| ops.iter().any(|o| o.name == q.input))
            .map(|q| q.name.as_str())
            .collect();
        let mut readers: Vec<Reader> = Vec::new();
        for op in &ops {
            for name in &op.inputs {
                if self.queues.contains_key(name) && !readers.iter().any(|r| &r.name == name) {
                    let q = &self.queues[name];
                    let s = settings.iter().find(|s| &s.name == name);
                    let (local, local_inc, global_inc, hold) = match s {
                        Some(s) => (
                            s.rd_ptr_local
                                .map_or(q.rd, |v| v.rem_euclid(q.wrap() as i64) as usize),
                            s.rd_ptr_autoinc as usize,
                            s.global_rdptr_autoinc as usize,
                            s.prologue || s.epilogue,
                        ),
                        None => (q.rd, usize::from(!q.ram), 0, false),
                    };
                    readers.push(Reader {
                        name: name.clone(),
                        ram: q.ram,
                        local,
                        local_inc,
                        global_inc,
                        hold,
                        early: !written.contains(&name.as_str()),
                    });
                }
            }
        }
        let order = topo_order(net, &ops)?;
        for _ in 0..input_count {
            // A ram is read at its global read pointer, a queue at its local one.
            let at = |m: &Machine, r: &Reader| if r.ram { m.queues[&r.name].rd } else { r.local };
            let mut early: HashMap<&str, Tensor> = HashMap::new();
            for r in readers.iter().filter(|r| r.early) {
                early.insert(r.name.as_str(), self.load(&r.name, at(self, r))?);
            }
            // Ops run in dependency order; each op output is written to its queues at once, so
            // a queue relaying between two ops of one graph holds the new entry when its reader
            // runs.
            let mut outputs: HashMap<&str, Tensor> = HashMap::new();
            for &i in &order {
                let op = ops[i];
                let mut raw = Vec::with_capacity(op.inputs.len());
                for n in &op.inputs {
                    let t = if let Some(t) = early.get(n.as_str()) {
                        t.clone()
                    } else if let Some(r) = readers.iter().find(|r| &r.name == n) {
                        self.load(n, at(self, r))?
                    } else {
                        outputs.get(n.as_str()).cloned().ok_or_else(|| {
                            RefError::Invalid(format!("{}: no input {n}", op.name))
                        })?
                    };
                    raw.push(t);
                }
                let prev = if op.gradient_op {
                    self.gradient_prev(op)
                } else {
                    None
                };
                let out = eval_op(net, self.arch, op, &raw, prev.as_ref())?;
                if op.gradient_op {
                    self.grad_prev.insert(op.name.clone(), out.clone());
                }
                // The queues this op feeds store the output in their own format.
                for q in net.queues.iter().filter(|q| q.input == op.name) {
                    let mut t = out.clone();
                    for tm in &q.input_tms {
                        t = match tm {
                            Tm::Transpose => swap_tile_grid(&t),
                            _ => apply_tm(&t, tm)?,
                        };
                    }
                    let s = settings.iter().find(|s| s.name == q.name);
                    let state = &self.queues[&q.name];
                    let inc = match s {
                        Some(s) => s.global_wrptr_autoinc as usize,
                        None => usize::from(!state.ram),
                    };
                    quantize(&mut t, state.df)?;
                    // A queue of smaller tiles stores only their values.
                    let (th, tw) = state.tile;
                    if (th, tw) != (TILE, TILE) {
                        clear_outside_tile(&mut t, th, tw);
                    }
                    let wr = state.wr;
                    self.store(&q.name, wr, t);
                    let state = self.queues.get_mut(&q.name).expect("known queue");
                    state.wr = (state.wr + inc) % state.wrap();
                }
                outputs.insert(op.name.as_str(), out);
            }
            for r in &mut readers {
                let q = self.queues.get_mut(&r.name).expect("known queue");
                if !r.hold {
                    r.local = (r.local + r.local_inc) % q.wrap();
                }
                if !(r.ram && r.hold) {
                    q.rd = (q.rd + r.global_inc) % q.wrap();
                }
            }
        }
        Ok(())
    }

    /// A gradient op's previous output to accumulate onto, or None when it starts over
    /// (first run, or its output queue was zeroed by this execute).
    fn gradient_prev(&mut self, op: &Op) -> Option<Tensor> {
        let mut zeroed = false;
        for q in self.net.queues.iter().filter(|q| q.input == op.name) {
            let state = self.queues.get_mut(&q.name).expect("known queue");
            if state.zero {
                state.zero = false;
                zeroed = true;
            }
        }
        if zeroed {
            None
        } else {
            self.grad_prev.get(&op.name).cloned()
        }
    }
}

fn read_slot(name: &str, q: &QueueState, ptr: usize) -> RefResult<Tensor> {
    match &q.slots[ptr % q.entries] {
        Some(t) => Ok(t.clone()),
        None => Err(RefError::Unwritten(format!(
            "reads entry {} of {name}, which neither the host nor an op wrote",
            ptr % q.entries
        ))),
    }
}

fn resolve(vars: &HashMap<String, i64>, o: &Operand) -> RefResult<i64> {
    match o {
        Operand::Imm(v) => Ok(*v),
        Operand::Var(n) => vars
            .get(n)
            .copied()
            .ok_or_else(|| RefError::Invalid(format!("undeclared variable ${n}"))),
    }
}

/// Indices of `ops` so that every op comes after the ops it reads, directly or through a
/// queue (not a ram) the other op writes.
fn topo_order(net: &Netlist, ops: &[&Op]) -> RefResult<Vec<usize>> {
    let mut done = vec![false; ops.len()];
    let mut order = Vec::new();
    while order.len() < ops.len() {
        let before = order.len();
        for (i, op) in ops.iter().enumerate() {
            if done[i] {
                continue;
            }
            let ready = op.inputs.iter().all(|n| {
                // A ram read gives its previous contents: no dependency on its writer.
                let producer = match net.queue(n) {
                    Some(q) if q.io_type == IoType::Ram => return true,
                    Some(q) => q.input.as_str(),
                    None => n.as_str(),
                };
                ops.iter()
                    .position(|o| o.name == producer)
                    .is_none_or(|j| j == i || done[j])
            });
            if ready {
                done[i] = true;
                order.push(i);
            }
        }
        if order.len() == before {
            return invalid("the ops of a graph form a cycle");
        }
    }
    Ok(order)
}

/// A `transpose` in a queue's `input_tms`: golden swaps the grid of tiles, tile (r, c) becoming
/// tile (c, r), and nothing transposes the values inside a tile (that is an op's half of a
/// transpose, and no op follows).
fn swap_tile_grid(t: &Tensor) -> Tensor {
    Tensor::build(t.z, t.cols, t.rows, t.tag, |z, r, c| {
        let (tile_r, tile_c) = (r / TILE, c / TILE);
        t.at(z, tile_c * TILE + r % TILE, tile_r * TILE + c % TILE)
    })
}
