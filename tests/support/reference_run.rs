//! The reference of a whole netlist run: queues as rings of entries with global read and
//! write pointers (modulo 2*entries), programs interpreted instruction by instruction
//! (notes/buda-backend.md, "Programs"), each graph run `input_count` times per execute with
//! the ops of `reference_ops.rs`.
//!
//! As on the simulated chip, every entry written to a queue (by the host or by an op) is
//! stored in the queue's `df`, after the queue's own `input_tms`.
#![allow(dead_code)]

use std::collections::HashMap;

use ttrt::format::{Arch, DataFormat, IoLayout, TileDim};
use ttrt::netlist::{Graph, Instruction, IoType, Netlist, Op, Operand, QueueSetting, VarInstOp};

use super::reference::{
    apply_tm, invalid, netlist_arch, quantize, RefError, RefResult, Tensor, TILE,
};
use super::reference_ops::eval_op;

/// One queue or ram: its slots and pointers.
#[derive(Clone, Debug)]
pub struct QueueState {
    pub entries: usize,
    pub slots: Vec<Option<Tensor>>,
    /// Global read and write pointers, modulo `2 * entries`.
    pub rd: usize,
    pub wr: usize,
    pub ram: bool,
    pub df: DataFormat,
    /// Set by an execute with `zero: true`: the next gradient write starts over.
    pub zero: bool,
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

/// Why a netlist uses something this model does not cover, or None.
pub fn unsupported_feature(net: &Netlist) -> Option<String> {
    if let Some(q) = net.queues.iter().find(|q| q.alias.is_some()) {
        return Some(format!("dual-view ram {} (alias)", q.name));
    }
    let full = TileDim {
        height: TILE as u32,
        width: TILE as u32,
    };
    if let Some(q) = net.queues.iter().find(|q| q.tile_dim != full) {
        return Some(format!("tile_dim of queue {}", q.name));
    }
    for g in &net.graphs {
        for op in &g.ops {
            if op.tile_dim != full {
                return Some(format!("tile_dim of op {}", op.name));
            }
            // Golden reads embedding indices as the bit patterns of the values: only raw or
            // integer queues hold indices; float ones give meaningless rows (upstream's
            // basic/netlist_embedding.yaml only exercises parsing, and places both of its
            // inputs at one DRAM address).
            if op.op_type == "embedding" {
                let index_df = op.inputs.get(1).and_then(|i| net.queue(i)).map(|q| q.df);
                if let Some(df) = index_df.filter(|df| {
                    !df.is_raw()
                        && !matches!(
                            df,
                            ttrt::format::DataFormat::Int32
                                | ttrt::format::DataFormat::UInt16
                                | ttrt::format::DataFormat::UInt8
                                | ttrt::format::DataFormat::Int8
                        )
                }) {
                    return Some(format!(
                        "embedding {} with indices in a {} queue",
                        op.name,
                        df.name()
                    ));
                }
            }
        }
    }
    // ttrt's engine refuses, at initialize, an op reading an op of another graph (temporal
    // graphs on two chips, joined without a queue): the reference would model it.
    for g in &net.graphs {
        for op in &g.ops {
            for input in &op.inputs {
                if let Some((other, _)) = net.op(input).filter(|(other, _)| other.name != g.name) {
                    return Some(format!(
                        "op {} reads op {input} of graph {} (no queue between temporal graphs): refused by the backend",
                        op.name, other.name
                    ));
                }
            }
        }
    }
    for q in net.queues.iter().filter(|q| q.layout == IoLayout::Flat) {
        let only_tables = net.graphs.iter().flat_map(|g| &g.ops).all(|op| {
            op.inputs
                .iter()
                .enumerate()
                .all(|(i, n)| n != &q.name || (op.op_type == "embedding" && i == 0))
        });
        if !only_tables {
            return Some(format!(
                "flat queue {} feeding an op other than embedding",
                q.name
            ));
        }
    }
    None
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
    /// Every op's outputs of its graph's last execute, one per run: ops of a later temporal
    /// graph read them directly.
    op_outputs: HashMap<String, Vec<Tensor>>,
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
                };
                (q.name.clone(), state)
            })
            .collect();
        Machine {
            net,
            arch: netlist_arch(net),
            queues,
            statics: HashMap::new(),
            grad_prev: HashMap::new(),
            bindings: Vec::new(),
            op_outputs: HashMap::new(),
        }
    }

    pub fn queue(&self, name: &str) -> &QueueState {
        &self.queues[name]
    }

    /// The host pushes one entry (values as the host gives them) at the write pointer, or at
    /// slot `ptr` of a ram.
    pub fn host_push(&mut self, queue: &str, mut t: Tensor, ptr: Option<usize>) -> RefResult<()> {
        let q = self.queues.get_mut(queue).expect("known queue");
        quantize(&mut t, q.df)?;
        match ptr {
            Some(slot) => q.slots[slot % q.entries] = Some(t),
            None => {
                if q.free() == 0 {
                    return invalid(format!("push to full queue {queue}"));
                }
                let slot = q.wr % q.entries;
                q.slots[slot] = Some(t);
                q.wr = (q.wr + 1) % q.wrap();
            }
        }
        Ok(())
    }

    /// The entry at the read pointer of an output queue (what get_output returns).
    pub fn host_peek(&self, queue: &str) -> RefResult<Tensor> {
        let q = &self.queues[queue];
        read_slot(queue, q, q.rd)
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
                        .graph(&ex.graph_name)
                        .ok_or_else(|| RefError::Invalid(format!("no graph {}", ex.graph_name)))?;
                    self.execute(graph, &ex.queue_settings, &vars)?;
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

    fn execute(
        &mut self,
        graph: &Graph,
        settings: &[QueueSetting],
        vars: &HashMap<String, i64>,
    ) -> RefResult<()> {
        let get = |o: &Option<Operand>| -> RefResult<Option<i64>> {
            o.as_ref().map(|x| resolve(vars, x)).transpose()
        };
        for s in settings {
            let Some(q) = self.queues.get_mut(&s.name) else {
                return invalid(format!("settings for unknown queue {}", s.name));
            };
            let wrap = q.wrap() as i64;
            if let Some(v) = get(&s.rd_ptr_global)? {
                q.rd = v.rem_euclid(wrap) as usize;
            }
            if let Some(v) = get(&s.wr_ptr_global)? {
                q.wr = v.rem_euclid(wrap) as usize;
            }
            if get(&s.zero)?.unwrap_or(0) != 0 {
                q.zero = true;
                for slot in q.slots.iter_mut().flatten() {
                    slot.data.iter_mut().for_each(|x| *x = 0.0);
                }
            }
            for (ptr, read) in [(&s.rd_ptr_global, true), (&s.wr_ptr_global, false)] {
                if let Some(Operand::Var(v)) = ptr {
                    self.bindings
                        .retain(|(qn, _, r)| !(qn == &s.name && *r == read));
                    self.bindings.push((s.name.clone(), v.clone(), read));
                }
            }
        }
        // Input queues of the graph with their local pointer, increments and prologue flag.
        struct Reader {
            name: String,
            local: usize,
            local_inc: usize,
            global_inc: usize,
            prologue: bool,
        }
        let mut readers: Vec<Reader> = Vec::new();
        for op in &graph.ops {
            for name in &op.inputs {
                if self.queues.contains_key(name) && !readers.iter().any(|r| &r.name == name) {
                    let q = &self.queues[name];
                    let s = settings.iter().find(|s| &s.name == name);
                    let (local, local_inc, global_inc, prologue) = match s {
                        Some(s) => (
                            get(&s.rd_ptr_local)?
                                .map_or(q.rd, |v| v.rem_euclid(q.wrap() as i64) as usize),
                            resolve(vars, &s.rd_ptr_autoinc)? as usize,
                            resolve(vars, &s.global_rdptr_autoinc)? as usize,
                            get(&s.prologue)?.unwrap_or(0) != 0,
                        ),
                        None => (q.rd, usize::from(!q.ram), 0, false),
                    };
                    readers.push(Reader {
                        name: name.clone(),
                        local,
                        local_inc,
                        global_inc,
                        prologue,
                    });
                }
            }
        }
        let order = topo_order(self.net, graph)?;
        let mut runs: HashMap<String, Vec<Tensor>> = HashMap::new();
        for run in 0..graph.input_count.max(1) as usize {
            // Ops run in dependency order; each queue entry is read when an op needs it and
            // each op output is written to its queues at once, so a queue relaying between
            // two ops of one graph holds the new entry when its reader runs.
            let mut outputs: HashMap<&str, Tensor> = HashMap::new();
            for &i in &order {
                let op = &graph.ops[i];
                let mut raw = Vec::with_capacity(op.inputs.len());
                for n in &op.inputs {
                    let t = if let Some(r) = readers.iter().find(|r| &r.name == n) {
                        read_slot(n, &self.queues[n], r.local)?
                    } else {
                        outputs
                            .get(n.as_str())
                            .or_else(|| self.op_outputs.get(n).and_then(|v| v.get(run)))
                            .cloned()
                            .ok_or_else(|| {
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
                let out = eval_op(self.net, self.arch, op, &raw, prev.as_ref())?;
                if op.gradient_op {
                    self.grad_prev.insert(op.name.clone(), out.clone());
                }
                runs.entry(op.name.clone()).or_default().push(out.clone());
                // The queues this op feeds store the output in their own format.
                for q in self.net.queues.iter().filter(|q| q.input == op.name) {
                    let mut t = out.clone();
                    for tm in &q.input_tms {
                        t = apply_tm(&t, tm)?;
                    }
                    let s = settings.iter().find(|s| s.name == q.name);
                    let state = self.queues.get_mut(&q.name).expect("known queue");
                    let inc = match s {
                        Some(s) => resolve(vars, &s.global_wrptr_autoinc)? as usize,
                        None => usize::from(!state.ram),
                    };
                    quantize(&mut t, state.df)?;
                    let slot = state.wr % state.entries;
                    state.slots[slot] = Some(t);
                    state.wr = (state.wr + inc) % state.wrap();
                }
                outputs.insert(op.name.as_str(), out);
            }
            for r in &mut readers {
                let q = self.queues.get_mut(&r.name).expect("known queue");
                if !r.prologue {
                    r.local = (r.local + r.local_inc) % q.wrap();
                }
                q.rd = (q.rd + r.global_inc) % q.wrap();
            }
        }
        self.op_outputs.extend(runs);
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

/// Indices of the graph's ops so that every op comes after the ops it reads, directly or
/// through a queue (not a ram) the other op writes.
fn topo_order(net: &Netlist, graph: &Graph) -> RefResult<Vec<usize>> {
    let mut done = vec![false; graph.ops.len()];
    let mut order = Vec::new();
    while order.len() < graph.ops.len() {
        let before = order.len();
        for (i, op) in graph.ops.iter().enumerate() {
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
                graph
                    .ops
                    .iter()
                    .position(|o| o.name == producer)
                    .is_none_or(|j| j == i || done[j])
            });
            if ready {
                done[i] = true;
                order.push(i);
            }
        }
        if order.len() == before {
            return invalid(format!("graph {} has a cycle", graph.name));
        }
    }
    Ok(order)
}
