//! Rules between the parts of a read netlist, after upstream's `verify_*` passes
//! (tt-budabackend `netlist/netlist_parser.cpp`, `netlist_op_info_types.cpp`,
//! `netlist_fused_op_info_types.cpp`, `netlist_program.cpp`): references resolve, sizes are
//! positive and consistent, ublocks fit the destination register, programs are well formed,
//! fused ops use their buffers legally.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::format::{DataFormat, UblockOrder};

use super::error::NetlistError;
use super::fused_op::{FusedOp, FusedOperand, FusedOutput, ScheduledOp};
use super::model::{Dim, Graph, IoType, Mblock, Netlist, Op, Queue, Tm, Ublock};
use super::op_type::{OpFamily, OpType, OpTypeName};
use super::program::{Instruction, Operand, Program};

type R = Result<(), NetlistError>;

/// Tiles the destination register holds for 16-bit accumulation in half-sync mode (upstream
/// `DstSize::HalfSize`; full sync would double it). Upstream checks every op against half sync.
const DEST_TILES_HALF_SYNC: u64 = 8;

/// Upstream's `MAX_NUM_INTERMEDIATE_BUFFERS`.
const MAX_INTERMEDIATES: u32 = 8;

/// The netlist and name indexes of its queues, graphs and ops, so checks that resolve names
/// stay linear in the netlist's size.
struct Checker<'a> {
    netlist: &'a Netlist,
    queues: BTreeMap<&'a str, &'a Queue>,
    graphs: BTreeMap<&'a str, &'a Graph>,
    ops: BTreeMap<&'a str, (&'a Graph, &'a Op)>,
}

impl<'a> Checker<'a> {
    fn new(netlist: &'a Netlist) -> Checker<'a> {
        let mut c = Checker {
            netlist,
            queues: BTreeMap::new(),
            graphs: BTreeMap::new(),
            ops: BTreeMap::new(),
        };
        // The first of duplicate names wins, as the linear lookups of `Netlist` do.
        for q in &netlist.queues {
            c.queues.entry(q.name.as_str()).or_insert(q);
        }
        for g in &netlist.graphs {
            c.graphs.entry(g.name.as_str()).or_insert(g);
            for op in &g.ops {
                c.ops.entry(op.name.as_str()).or_insert((g, op));
            }
        }
        c
    }
    fn queue(&self, name: &str) -> Option<&'a Queue> {
        self.queues.get(name).copied()
    }
    fn graph(&self, name: &str) -> Option<&'a Graph> {
        self.graphs.get(name).copied()
    }
    fn op(&self, name: &str) -> Option<(&'a Graph, &'a Op)> {
        self.ops.get(name).copied()
    }

    fn err(&self, line: u32, path: String, message: String) -> NetlistError {
        NetlistError {
            file: self.netlist.file.clone(),
            line: Some(line),
            path,
            message,
        }
    }
}

/// Checks every rule; the first broken one is the error.
pub fn validate(netlist: &Netlist) -> R {
    let c = Checker::new(netlist);
    if netlist.queues.is_empty() {
        return Err(c.err(1, "queues".into(), "the netlist declares no queues".into()));
    }
    if netlist.graphs.is_empty() {
        return Err(c.err(1, "graphs".into(), "the netlist declares no graphs".into()));
    }
    if netlist.programs.is_empty() {
        return Err(c.err(
            1,
            "programs".into(),
            "the netlist declares no programs".into(),
        ));
    }
    unique_names(&c)?;
    for q in &netlist.queues {
        queue(&c, q)?;
    }
    for g in &netlist.graphs {
        graph(&c, g)?;
    }
    for f in &netlist.fused_ops {
        fused_op(&c, f)?;
    }
    for g in &netlist.graphs {
        for op in &g.ops {
            if op.op_type.is(OpType::FusedOp) {
                fused_op_use(&c, g, op)?;
            }
        }
    }
    untilized_outputs(&c)?;
    for p in &netlist.programs {
        program(&c, p)?;
    }
    Ok(())
}

fn unique_names(c: &Checker) -> R {
    let n = c.netlist;
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for q in &n.queues {
        seen.insert(&q.name, "queue");
    }
    for g in &n.graphs {
        if n.graphs.iter().filter(|o| o.name == g.name).count() > 1 {
            return Err(c.err(
                g.line,
                format!("graphs.{}", g.name),
                format!("graph name `{}` is used twice", g.name),
            ));
        }
        for op in &g.ops {
            if let Some(kind) = seen.insert(&op.name, "op") {
                return Err(c.err(
                    op.line,
                    format!("graphs.{}.{}", g.name, op.name),
                    format!(
                        "op name `{}` is already used by another {kind}; op names must be unique across graphs and queues",
                        op.name
                    ),
                ));
            }
        }
    }
    let mut programs: Vec<&str> = Vec::new();
    for p in &n.programs {
        if programs.contains(&p.name.as_str()) {
            return Err(c.err(
                p.line,
                format!("programs.{}", p.name),
                format!("program name `{}` is used twice", p.name),
            ));
        }
        programs.push(&p.name);
    }
    let mut fused: Vec<&str> = Vec::new();
    for f in &n.fused_ops {
        if fused.contains(&f.id.as_str()) {
            return Err(c.err(
                f.line,
                format!("fused_ops.{}", f.id),
                format!("fused op id `{}` is used twice", f.id),
            ));
        }
        fused.push(&f.id);
    }
    Ok(())
}

/// grid, mblock, ublock and t of a queue, op or sub-op must all be positive.
fn positive_dims(c: &Checker, line: u32, path: &str, dims: &[(&str, u32)]) -> R {
    for (name, v) in dims {
        if *v == 0 {
            return Err(c.err(
                line,
                format!("{path}.{}", name.split('[').next().unwrap_or(name)),
                format!("{name} must be positive, found 0"),
            ));
        }
    }
    Ok(())
}

fn queue(c: &Checker, q: &Queue) -> R {
    let path = format!("queues.{}", q.name);
    positive_dims(
        c,
        q.line,
        &path,
        &[
            ("entries", q.entries),
            ("grid_size[0]", q.grid_size.r),
            ("grid_size[1]", q.grid_size.c),
            ("t", q.t),
            ("mblock[0]", q.mblock.m),
            ("mblock[1]", q.mblock.n),
            ("ublock[0]", q.ublock.rt),
            ("ublock[1]", q.ublock.ct),
        ],
    )?;
    let cores = q.grid_size.cores();
    let key = match q.loc {
        super::model::QueueLocation::Dram => "dram",
        super::model::QueueLocation::Host => "host",
    };
    if q.buffers.len() as u64 != cores {
        return Err(c.err(
            q.line,
            format!("{path}.{key}"),
            format!(
                "expected one buffer per core of grid_size [{}, {}] ({cores}), found {}",
                q.grid_size.r,
                q.grid_size.c,
                q.buffers.len()
            ),
        ));
    }
    for (ports, name) in [
        (&q.read_ports, "read_ports"),
        (&q.write_ports, "write_ports"),
    ] {
        if ports.is_empty() {
            continue;
        }
        if ports.len() != q.buffers.len() {
            return Err(c.err(
                q.line,
                format!("{path}.{name}"),
                format!(
                    "{name} must have one element per queue buffer ({}), found {}",
                    q.buffers.len(),
                    ports.len()
                ),
            ));
        }
        if let Some(bad) = ports.iter().find(|p| **p > 2) {
            return Err(c.err(
                q.line,
                format!("{path}.{name}"),
                format!("{name} must be in the range 0-2, found {bad}"),
            ));
        }
    }
    if !q.is_host_input() && c.op(&q.input).is_none() {
        return Err(c.err(
            q.line,
            format!("{path}.input"),
            format!("input `{}` is neither HOST nor an op of any graph", q.input),
        ));
    }
    if let Some(alias) = &q.alias {
        let bad = |m: String| Err(c.err(q.line, format!("{path}.alias"), m));
        if alias == &q.name {
            return bad(format!("queue `{}` cannot alias itself", q.name));
        }
        let Some(target) = c.queue(alias) else {
            return bad(format!("alias `{alias}` is not a queue of the netlist"));
        };
        if target.alias.is_some() {
            return bad(format!("alias `{alias}` is itself an alias"));
        }
        if q.io_type != IoType::Ram || target.io_type != IoType::Ram {
            return bad(format!(
                "only a ram can alias a ram (`{}` and `{alias}`)",
                q.name
            ));
        }
        if q.buffers != target.buffers {
            return bad(format!(
                "`{}` aliases `{alias}` but their buffers (channel, address) differ",
                q.name
            ));
        }
        let volume = |x: &Queue| {
            u128::from(x.entries)
                * u128::from(x.t)
                * u128::from(x.grid_size.cores())
                * u128::from(x.mblock.m)
                * u128::from(x.mblock.n)
                * u128::from(x.ublock.tiles())
                * u128::from(x.tile_dim.height)
                * u128::from(x.tile_dim.width)
        };
        if volume(q) != volume(target) {
            return bad(format!(
                "`{}` aliases `{alias}` but holds a different number of elements",
                q.name
            ));
        }
        // The views differ only in how t slices group into entries: an entry of the view with
        // fewer entries is a run of whole entries of the other, concatenated along t (golden's
        // tt_ram::update_from_base), which is also how their bytes coincide.
        let per_slice = |x: &Queue| {
            (
                x.grid_size,
                x.mblock,
                x.ublock,
                x.ublock_order,
                x.df,
                x.tile_dim,
                x.layout,
            )
        };
        if per_slice(q) != per_slice(target) {
            return bad(format!(
                "`{}` aliases `{alias}` but their grid, blocks, ublock_order, df, tile_dim or layout differ: views of one ram differ only in t and entries",
                q.name
            ));
        }
        let (many, few) = if q.entries >= target.entries {
            (q.entries, target.entries)
        } else {
            (target.entries, q.entries)
        };
        if few == 0 || many % few != 0 {
            return bad(format!(
                "`{}` has {} and `{alias}` {}: the entries of views of one ram must divide each other",
                q.name, crate::message::count(q.entries, "entry"), target.entries
            ));
        }
    }
    Ok(())
}

/// Tiles the destination register holds for ublocks accumulated in `acc_df`.
fn dest_tiles(acc_df: DataFormat) -> u64 {
    if matches!(acc_df, DataFormat::Float32 | DataFormat::Int32) {
        DEST_TILES_HALF_SYNC / 2
    } else {
        DEST_TILES_HALF_SYNC
    }
}

fn ublock_fits_dest(
    c: &Checker,
    line: u32,
    path: String,
    what: &str,
    ublock: Ublock,
    acc_df: DataFormat,
) -> R {
    let max = dest_tiles(acc_df);
    if ublock.tiles() > max {
        return Err(c.err(
            line,
            path,
            format!(
                "{what} ublock [{}, {}] ({} tiles) cannot fit into dest: at most {max} tiles with acc_df {acc_df} in half-sync mode",
                ublock.rt,
                ublock.ct,
                ublock.tiles()
            ),
        ));
    }
    Ok(())
}

fn graph(c: &Checker, g: &Graph) -> R {
    let gpath = format!("graphs.{}", g.name);
    if g.input_count == 0 {
        return Err(c.err(
            g.line,
            format!("{gpath}.input_count"),
            "input_count must be positive, found 0".into(),
        ));
    }
    let mut cores: Vec<(u32, u32, u32, u32, &str)> = Vec::new();
    for op in &g.ops {
        op_rules(c, g, op, &gpath)?;
        let Some(loc) = op.grid_loc else { continue };
        if op.op_type.is(OpType::EthernetDatacopy) {
            continue;
        }
        // Ops share no core: compare placed rectangles (grid_transpose swaps the extent).
        let (h, w) = if op.grid_transpose {
            (op.grid_size.c, op.grid_size.r)
        } else {
            (op.grid_size.r, op.grid_size.c)
        };
        let (r0, c0) = (loc.r, loc.c);
        let (r1, c1) = (r0.saturating_add(h), c0.saturating_add(w));
        if let Some(other) = cores
            .iter()
            .find(|(ar0, ac0, ar1, ac1, _)| r0 < *ar1 && *ar0 < r1 && c0 < *ac1 && *ac0 < c1)
        {
            return Err(c.err(
                op.line,
                format!("{gpath}.{}.grid_loc", op.name),
                format!(
                    "op `{}` overlaps cores with op `{}` in graph `{}`",
                    op.name, other.4, g.name
                ),
            ));
        }
        cores.push((r0, c0, r1, c1, &op.name));
    }
    Ok(())
}

fn op_rules(c: &Checker, g: &Graph, op: &Op, gpath: &str) -> R {
    let n = c.netlist;
    let path = format!("{gpath}.{}", op.name);
    positive_dims(
        c,
        op.line,
        &path,
        &[
            ("grid_size[0]", op.grid_size.r),
            ("grid_size[1]", op.grid_size.c),
            ("t", op.t),
            ("mblock[0]", op.mblock.m),
            ("mblock[1]", op.mblock.n),
            ("ublock[0]", op.ublock.rt),
            ("ublock[1]", op.ublock.ct),
        ],
    )?;
    if op.inputs.is_empty() && !op.op_type.is(OpType::EthernetDatacopy) {
        return Err(c.err(
            op.line,
            format!("{path}.inputs"),
            "an op needs at least one input".into(),
        ));
    }
    if op.in_df.len() != op.inputs.len() {
        return Err(c.err(
            op.line,
            format!("{path}.in_df"),
            format!(
                "expected one data format per input ({}), found {}",
                op.inputs.len(),
                op.in_df.len()
            ),
        ));
    }
    for (i, input) in op.inputs.iter().enumerate() {
        let is_queue = c.queue(input).is_some();
        let is_local_op = g.op(input).is_some();
        // Wormhole and later chips connect graphs of one temporal epoch without queues
        // (upstream `is_queueless_multichip_supported`); Grayskull only through queues.
        let queueless = n
            .devices
            .arch
            .iter()
            .any(|a| *a != crate::format::Arch::Grayskull);
        let is_remote_op = queueless && c.op(input).is_some();
        if !is_queue && !is_local_op && !is_remote_op {
            let message = match c.op(input) {
                Some((other, _)) => format!(
                    "input `{input}` is an op of graph `{}`; on Grayskull inputs must be a queue or an op of the same graph (graphs talk through queues)",
                    other.name
                ),
                None => format!("input `{input}` is neither a queue nor an op of graph `{}`", g.name),
            };
            return Err(c.err(op.line, format!("{path}.inputs[{i}]"), message));
        }
        if input == &op.name {
            return Err(c.err(
                op.line,
                format!("{path}.inputs[{i}]"),
                format!("op `{}` cannot be its own input", op.name),
            ));
        }
    }
    if op.ublock_order != UblockOrder::R && op.op_type.is(OpType::Matmul) {
        return Err(c.err(
            op.line,
            format!("{path}.ublock_order"),
            "a matmul op must have ublock_order r".into(),
        ));
    }
    if op.untilize_output && op.ublock_order != UblockOrder::R {
        return Err(c.err(
            op.line,
            format!("{path}.untilize_output"),
            "untilize_output needs ublock_order r".into(),
        ));
    }
    ublock_fits_dest(
        c,
        op.line,
        format!("{path}.ublock"),
        &format!("op `{}`", op.name),
        op.ublock,
        op.acc_df,
    )?;
    let a = &op.attributes;
    let apath = format!("{path}.attributes");
    match op.op_type.known() {
        Some(OpType::Matmul) => {
            let (Some(m_k), Some(u_kt)) = (a.m_k, a.u_kt) else {
                return Err(c.err(
                    op.line,
                    apath,
                    "a matmul op needs attributes m_k and u_kt".into(),
                ));
            };
            if m_k == 0 || u_kt == 0 {
                return Err(c.err(
                    op.line,
                    apath,
                    format!("matmul m_k and u_kt must be positive, found m_k {m_k}, u_kt {u_kt}"),
                ));
            }
            if a.accumulate && a.identity {
                return Err(c.err(
                    op.line,
                    apath,
                    "matmul attributes accumulate and identity cannot both be set".into(),
                ));
            }
            if op.inputs.len() < 2 {
                return Err(c.err(
                    op.line,
                    format!("{path}.inputs"),
                    format!(
                        "a matmul op needs at least 2 inputs, found {}",
                        op.inputs.len()
                    ),
                ));
            }
            if a.identity && op.inputs.len() < 3 {
                return Err(c.err(
                    op.line,
                    format!("{path}.inputs"),
                    "an identity matmul needs 3 inputs (the third is the encoding)".into(),
                ));
            }
        }
        Some(OpType::Reduce) => {
            if a.dim.is_none() || a.reduce_type.is_none() {
                return Err(c.err(
                    op.line,
                    apath,
                    "a reduce op needs attributes dim and type".into(),
                ));
            }
            if a.z.is_some() && a.dim != Some(Dim::Z) {
                return Err(c.err(
                    op.line,
                    apath,
                    "the z attribute of a reduce op needs dim: z".into(),
                ));
            }
        }
        Some(OpType::FusedOp) if a.fused_op_id.is_none() => {
            return Err(c.err(
                op.line,
                apath,
                "a fused_op needs attribute fused_op_id".into(),
            ));
        }
        Some(OpType::Splice) => {
            for (i, s) in a.splice.iter().enumerate() {
                let Some(s) = s else { continue };
                if s.length <= 0 || s.stride <= 0 || s.index < 0 {
                    return Err(c.err(
                        op.line,
                        format!("{apath}.input{i}"),
                        format!(
                            "splice input {i} needs index >= 0, length > 0 and stride > 0, found [{}, {}, {}]",
                            s.index, s.length, s.stride
                        ),
                    ));
                }
            }
        }
        _ => {}
    }
    if a.z.is_some() && op.op_type.is(OpType::Matmul) && !a.accumulate {
        return Err(c.err(
            op.line,
            apath,
            "the z attribute of a matmul op needs accumulate: true".into(),
        ));
    }
    for kb in &a.kernel_broadcast {
        kernel_broadcast_input(c, op, &apath, kb.input as usize, kb.tiles > 0)?;
    }
    for &i in &a.single_tile {
        kernel_broadcast_input(c, op, &apath, i as usize, true)?;
    }
    for (i, tms) in op.input_tms.iter().enumerate() {
        op_input_tms(c, op, &path, i, tms)?;
    }
    Ok(())
}

fn kernel_broadcast_input(c: &Checker, op: &Op, apath: &str, input: usize, set: bool) -> R {
    let Some(tms) = op.input_tms.get(input) else {
        return Err(c.err(
            op.line,
            apath.to_string(),
            format!(
                "kernel broadcast names input {input}, but the op has {}",
                crate::message::count(op.inputs.len(), "input")
            ),
        ));
    };
    if set && !tms.iter().any(|t| matches!(t, Tm::Broadcast { .. })) {
        return Err(c.err(
            op.line,
            apath.to_string(),
            format!(
                "kernel broadcast is set for input {input}, but input_{input}_tms has no broadcast"
            ),
        ));
    }
    Ok(())
}

fn op_input_tms(c: &Checker, op: &Op, path: &str, i: usize, tms: &[Tm]) -> R {
    let tpath = format!("{path}.input_{i}_tms");
    let mut pads = 0;
    for tm in tms {
        match tm {
            Tm::Transpose => {
                let int32_in0 = op.in_df.first() == Some(&DataFormat::Int32);
                let allowed = match op.op_type.known() {
                    Some(OpType::Matmul) => i == 1,
                    Some(t) => match t.family() {
                        OpFamily::UnaryCopy | OpFamily::Sfpu => !int32_in0,
                        OpFamily::Binary => i == 0 && !int32_in0,
                        OpFamily::Other => false,
                    },
                    None => false,
                };
                if !allowed {
                    return Err(c.err(
                        op.line,
                        tpath,
                        format!(
                            "transpose is only allowed on matmul input 1, a unary/SFPU input or binary input 0 (not Int32); found on {} input {i}",
                            op.op_type
                        ),
                    ));
                }
            }
            Tm::Broadcast { factor: 0, .. } | Tm::Hslice(0) | Tm::Vslice(0) | Tm::Vstack(0) => {
                return Err(c.err(
                    op.line,
                    tpath,
                    "TM factors must be positive, found 0".into(),
                ));
            }
            Tm::Pad { .. } => pads += 1,
            _ => {}
        }
    }
    let pad_key = op.input_pad.get(i).is_some_and(Option::is_some);
    if pads > 1 || (pads == 1 && pad_key) {
        return Err(c.err(
            op.line,
            tpath,
            format!("padding must be specified once for input {i} (a pad TM or input_{i}_pad)"),
        ));
    }
    Ok(())
}

/// Upstream's "untilized output queue rules": an op with untilize_output feeds exactly one
/// queue, of grid [1, 1], and neither the op nor that queue feeds another op.
fn untilized_outputs(c: &Checker) -> R {
    let n = c.netlist;
    for g in &n.graphs {
        for op in g.ops.iter().filter(|o| o.untilize_output) {
            let path = format!("graphs.{}.{}.untilize_output", g.name, op.name);
            let fed: Vec<&Queue> = n.queues.iter().filter(|q| q.input == op.name).collect();
            match fed.as_slice() {
                [] => {
                    return Err(c.err(
                        op.line,
                        path,
                        format!("op `{}` has untilize_output but feeds no queue", op.name),
                    ))
                }
                [q] => {
                    if q.grid_size.cores() != 1 {
                        return Err(c.err(
                            q.line,
                            format!("queues.{}.grid_size", q.name),
                            format!(
                                "queue `{}` is fed by untilize_output op `{}` and must have grid_size [1, 1]",
                                q.name, op.name
                            ),
                        ));
                    }
                    for consumer in n.graphs.iter().flat_map(|g| g.ops.iter()) {
                        if consumer
                            .inputs
                            .iter()
                            .any(|i| *i == op.name || *i == q.name)
                        {
                            return Err(c.err(
                                consumer.line,
                                format!("{}.inputs", consumer.name),
                                format!(
                                    "op `{}` reads the untilized output of `{}`; untilized outputs may not feed ops",
                                    consumer.name, op.name
                                ),
                            ));
                        }
                    }
                }
                [a, b, ..] => {
                    return Err(c.err(
                        op.line,
                        path,
                        format!(
                            "op `{}` has untilize_output and feeds several queues (`{}`, `{}`)",
                            op.name, a.name, b.name
                        ),
                    ))
                }
            }
        }
    }
    Ok(())
}

fn program(c: &Checker, p: &Program) -> R {
    let path = format!("programs.{}", p.name);
    let mut declared: Vec<&str> = Vec::new();
    let mut depth = 0usize;
    let var_used = |declared: &Vec<&str>, o: &Operand, line: u32, at: String| -> R {
        match o.var() {
            Some(v) if !declared.contains(&v) => Err(c.err(
                line,
                at,
                format!("variable `${v}` is used before it is declared (param, var or staticvar)"),
            )),
            _ => Ok(()),
        }
    };
    for (i, step) in p.instructions.iter().enumerate() {
        let at = format!("{path}[{i}]");
        let line = step.line;
        match &step.instruction {
            Instruction::Param(names) => {
                if i != 0 {
                    return Err(c.err(
                        line,
                        at,
                        "param must be the first instruction of a program".into(),
                    ));
                }
                for name in names {
                    declare(c, &mut declared, name, line, &at)?;
                }
            }
            Instruction::Var(decls) | Instruction::StaticVar(decls) => {
                for d in decls {
                    declare(c, &mut declared, &d.name, line, &at)?;
                }
            }
            Instruction::Loop(count) => {
                var_used(&declared, count, line, format!("{at}.loop"))?;
                if let Operand::Imm(v) = count {
                    if *v < 1 {
                        return Err(c.err(
                            line,
                            format!("{at}.loop"),
                            format!("loop count must be >= 1, found {v}"),
                        ));
                    }
                }
                depth += 1;
            }
            Instruction::EndLoop => {
                if depth == 0 {
                    return Err(c.err(line, at, "endloop without a matching loop".into()));
                }
                depth -= 1;
            }
            Instruction::VarInst { dest, args, .. } => {
                var_used(
                    &declared,
                    &Operand::Var(dest.clone()),
                    line,
                    format!("{at}.varinst[0]"),
                )?;
                for (k, a) in args.iter().enumerate() {
                    var_used(&declared, a, line, format!("{at}.varinst[{}]", k + 2))?;
                }
            }
            Instruction::Execute(e) => {
                let epath = format!("{at}.execute");
                let Some(g) = c.graph(&e.graph_name) else {
                    return Err(c.err(
                        line,
                        format!("{epath}.graph_name"),
                        format!(
                            "execute names graph `{}`, which the netlist does not declare",
                            e.graph_name
                        ),
                    ));
                };
                for s in &e.queue_settings {
                    let spath = format!("{epath}.queue_settings.{}", s.name);
                    let Some(q) = c.queue(&s.name) else {
                        return Err(c.err(
                            s.line,
                            spath,
                            format!(
                                "queue settings for `{}`, which is not a queue of the netlist",
                                s.name
                            ),
                        ));
                    };
                    let produced = g.op(&q.input).is_some();
                    let consumed = g.ops.iter().any(|o| o.inputs.contains(&q.name));
                    if !produced && !consumed {
                        return Err(c.err(
                            s.line,
                            spath,
                            format!(
                                "queue settings for `{}`, which graph `{}` neither reads nor writes",
                                s.name, g.name
                            ),
                        ));
                    }
                    for (o, key) in [
                        (&s.prologue, "prologue"),
                        (&s.epilogue, "epilogue"),
                        (&s.zero, "zero"),
                        (&s.rd_ptr_local, "rd_ptr_local"),
                        (&s.rd_ptr_global, "rd_ptr_global"),
                        (&s.wr_ptr_global, "wr_ptr_global"),
                        (&s.read_only, "read_only"),
                    ] {
                        if let Some(o) = o {
                            var_used(&declared, o, s.line, format!("{spath}.{key}"))?;
                        }
                    }
                    for (o, key) in [
                        (&s.rd_ptr_autoinc, "rd_ptr_autoinc"),
                        (&s.global_rdptr_autoinc, "global_rdptr_autoinc"),
                        (&s.global_wrptr_autoinc, "global_wrptr_autoinc"),
                    ] {
                        var_used(&declared, o, s.line, format!("{spath}.{key}"))?;
                    }
                    match q.io_type {
                        IoType::Queue => {
                            if s.wr_ptr_global.is_some() {
                                return Err(c.err(
                                    s.line,
                                    spath,
                                    format!(
                                        "queue `{}` sets wr_ptr_global, which only rams may set",
                                        s.name
                                    ),
                                ));
                            }
                            if s.rd_ptr_global.is_none() || s.rd_ptr_local.is_none() {
                                return Err(c.err(
                                    s.line,
                                    spath,
                                    format!(
                                        "queue `{}` must set rd_ptr_global and rd_ptr_local",
                                        s.name
                                    ),
                                ));
                            }
                            if s.epilogue == Some(Operand::Imm(1)) && !q.is_host_input() {
                                return Err(c.err(
                                    s.line,
                                    spath,
                                    format!("queue `{}` is an op's output and may not set epilogue: true", s.name),
                                ));
                            }
                        }
                        IoType::Ram => {
                            if s.rd_ptr_local.is_some() {
                                return Err(c.err(
                                    s.line,
                                    spath,
                                    format!(
                                        "ram `{}` sets rd_ptr_local, which only queues may set",
                                        s.name
                                    ),
                                ));
                            }
                            if s.rd_ptr_global.is_none() || s.wr_ptr_global.is_none() {
                                return Err(c.err(
                                    s.line,
                                    spath,
                                    format!(
                                        "ram `{}` must set rd_ptr_global and wr_ptr_global",
                                        s.name
                                    ),
                                ));
                            }
                        }
                    }
                    if let (Operand::Imm(local), Operand::Imm(global)) =
                        (&s.rd_ptr_autoinc, &s.global_rdptr_autoinc)
                    {
                        if *local != 0 && *global != 0 && local != global {
                            return Err(c.err(
                                s.line,
                                spath,
                                format!(
                                    "rd_ptr_autoinc ({local}) and global_rdptr_autoinc ({global}) must match when both are set"
                                ),
                            ));
                        }
                    }
                }
                // Every host-fed queue the graph reads needs its pointers.
                for op in &g.ops {
                    for input in &op.inputs {
                        let Some(q) = c.queue(input) else { continue };
                        if q.input == "HOST"
                            && q.io_type == IoType::Queue
                            && e.queue_setting(input).is_none()
                        {
                            return Err(c.err(
                                line,
                                format!("{epath}.queue_settings"),
                                format!(
                                    "missing queue settings for input queue `{input}` of graph `{}`",
                                    g.name
                                ),
                            ));
                        }
                    }
                }
            }
            Instruction::AllocateQueue(queues) | Instruction::DeallocateQueue(queues) => {
                for (k, q) in queues.iter().enumerate() {
                    if c.queue(q).is_none() {
                        return Err(c.err(
                            line,
                            format!("{at}[{k}]"),
                            format!("queue `{q}` being allocated/deallocated is not a queue of the netlist"),
                        ));
                    }
                }
            }
            Instruction::EndProgram => {}
        }
    }
    if depth != 0 {
        return Err(c.err(
            p.line,
            path,
            format!(
                "{} without a matching endloop",
                crate::message::count(depth, "loop")
            ),
        ));
    }
    Ok(())
}

fn declare<'n>(c: &Checker, declared: &mut Vec<&'n str>, name: &'n str, line: u32, at: &str) -> R {
    if declared.contains(&name) {
        // Upstream keeps a staticvar redeclared on a later run; within one program text a second
        // declaration would mask the first.
        return Err(c.err(
            line,
            at.to_string(),
            format!("variable `${name}` is declared twice"),
        ));
    }
    declared.push(name);
    Ok(())
}

/// The dims a sub-op's operand was produced with (intermediates and dest), for the fused-op
/// dimension checks; base-op inputs have none.
#[derive(Clone, Copy)]
struct BufferDims {
    mblock: Mblock,
    ublock: Ublock,
}

/// Whether a sub-op is a matmul or reduce (an unknown type is neither).
fn is_matmul_or_reduce(t: &OpTypeName) -> bool {
    t.known().is_some_and(OpType::is_matmul_or_reduce)
}

/// Whether a sub-op is a binary op.
fn is_binary(t: &OpTypeName) -> bool {
    t.known().is_some_and(OpType::is_binary)
}

/// The rules of a fused op on its own (golden-ops.md section 11; upstream
/// `netlist_fused_op_info_types.cpp`), in upstream's order: per sub-op structure, TMs,
/// intermediate buffer use, then dimensions.
fn fused_op(c: &Checker, f: &FusedOp) -> R {
    let path = format!("fused_ops.{}", f.id);
    if f.intermediates > MAX_INTERMEDIATES {
        return Err(c.err(
            f.line,
            format!("{path}.intermediates"),
            format!(
                "intermediates {} is more than the maximum of {MAX_INTERMEDIATES}",
                f.intermediates
            ),
        ));
    }
    if f.schedules.is_empty() {
        return Err(c.err(
            f.line,
            format!("{path}.schedules"),
            "a fused op needs at least one schedule".into(),
        ));
    }
    let op_path = |s: usize, o: &ScheduledOp| format!("{path}.schedules[{s}].{}", o.name);
    for (s, sched) in f.schedules.iter().enumerate() {
        if sched.ops.is_empty() {
            return Err(c.err(
                f.line,
                format!("{path}.schedules[{s}]"),
                "a schedule needs at least one sub-op".into(),
            ));
        }
        let last = sched.ops.len() - 1;
        for (k, o) in sched.ops.iter().enumerate() {
            let p = op_path(s, o);
            if o.op_type.is(OpType::FusedOp) {
                return Err(c.err(o.line, p, "fused ops cannot be nested".into()));
            }
            if k != last && is_matmul_or_reduce(&o.op_type) {
                return Err(c.err(
                    o.line,
                    p,
                    format!(
                        "{} sub-op `{}` must be the last one in its schedule",
                        o.op_type, o.name
                    ),
                ));
            }
            if o.inputs.is_empty() {
                return Err(c.err(
                    o.line,
                    format!("{p}.inputs"),
                    "a sub-op needs inputs".into(),
                ));
            }
            positive_dims(
                c,
                o.line,
                &p,
                &[
                    ("mblock[0]", o.mblock.m),
                    ("mblock[1]", o.mblock.n),
                    ("ublock[0]", o.ublock.rt),
                    ("ublock[1]", o.ublock.ct),
                ],
            )?;
            for b in o.inputs.iter().chain(&o.pop).chain(&o.pop_last) {
                match *b {
                    FusedOperand::Input(i) if i >= f.inputs => {
                        return Err(c.err(
                            o.line,
                            p,
                            format!(
                                "{b} is not an input of a fused op with {}",
                                crate::message::count(f.inputs, "input")
                            ),
                        ))
                    }
                    FusedOperand::Intermed(k) if k >= f.intermediates => {
                        return Err(c.err(
                            o.line,
                            p,
                            format!(
                                "{b} is not one of the fused op's {} intermediates",
                                f.intermediates
                            ),
                        ))
                    }
                    _ => {}
                }
            }
            if let FusedOutput::Intermed(k) = o.output {
                if k >= f.intermediates {
                    return Err(c.err(
                        o.line,
                        format!("{p}.output"),
                        format!(
                            "intermed{k} is not one of the fused op's {} intermediates",
                            f.intermediates
                        ),
                    ));
                }
            }
            for b in o.pop.iter().chain(&o.pop_last) {
                if !o.inputs.contains(b) {
                    return Err(c.err(
                        o.line,
                        format!("{p}.pop"),
                        format!("{b} is popped but is not an input of sub-op `{}`", o.name),
                    ));
                }
            }
            if let Some(b) = o.pop.iter().find(|b| o.pop_last.contains(b)) {
                return Err(c.err(
                    o.line,
                    format!("{p}.pop"),
                    format!("{b} is listed in both pop and pop_last"),
                ));
            }
            if o.op_type.is(OpType::Matmul) {
                if o.inputs.len() < 2 {
                    return Err(c.err(
                        o.line,
                        format!("{p}.inputs"),
                        "a matmul sub-op needs 2 inputs".into(),
                    ));
                }
                if o.mblock.n != 1 {
                    return Err(c.err(
                        o.line,
                        format!("{p}.mblock"),
                        format!(
                            "matmul sub-op `{}` must have mblock_n 1 (input 1 is a column of ublocks), found {}",
                            o.name, o.mblock.n
                        ),
                    ));
                }
                let m_k = o.attributes.m_k.unwrap_or(0);
                if !matches!(o.inputs[1], FusedOperand::Input(_)) && m_k != 1 {
                    return Err(c.err(
                        o.line,
                        format!("{p}.inputs"),
                        format!(
                            "matmul sub-op `{}` can read {} as input 1 only with m_k 1 (found {m_k}); use a fused op input",
                            o.name, o.inputs[1]
                        ),
                    ));
                }
            }
            for (i, b) in o.inputs.iter().enumerate() {
                if *b == FusedOperand::Dest {
                    if o.op_type.is(OpType::Matmul) {
                        return Err(c.err(
                            o.line,
                            format!("{p}.inputs"),
                            "dest cannot be an input of a matmul sub-op".into(),
                        ));
                    }
                    if i > 1 {
                        return Err(c.err(
                            o.line,
                            format!("{p}.inputs"),
                            "dest may only be input 0 or 1".into(),
                        ));
                    }
                }
            }
            if is_matmul_or_reduce(&o.op_type)
                && o.attributes.m_k.unwrap_or(0) > 1
                && !matches!(o.output, FusedOutput::Intermed(_))
            {
                return Err(c.err(
                    o.line,
                    format!("{p}.output"),
                    format!(
                        "{} sub-op `{}` with m_k > 1 must write an intermediate buffer",
                        o.op_type, o.name
                    ),
                ));
            }
            if o.op_type.is(OpType::Reduce)
                && (o.attributes.dim.is_none() || o.attributes.reduce_type.is_none())
            {
                return Err(c.err(
                    o.line,
                    format!("{p}.attributes"),
                    "a reduce sub-op needs attributes type and dim".into(),
                ));
            }
        }
        // Upstream (parser): after a sub-op that writes dest, the next one must read it; dest
        // is read only right after it was written.
        let mut previous: Option<FusedOutput> = None;
        for o in &sched.ops {
            let reads_dest = o.inputs.contains(&FusedOperand::Dest);
            if previous == Some(FusedOutput::Dest) && !reads_dest {
                return Err(c.err(
                    o.line,
                    op_path(s, o),
                    format!(
                        "sub-op `{}` must read dest, since the previous sub-op writes dest",
                        o.name
                    ),
                ));
            }
            if reads_dest && previous != Some(FusedOutput::Dest) {
                return Err(c.err(
                    o.line,
                    op_path(s, o),
                    format!("sub-op `{}` reads dest, but the previous sub-op in its schedule does not write dest", o.name),
                ));
            }
            previous = Some(o.output);
        }
    }
    fused_tms(c, f, &path)?;
    fused_intermeds(c, f, &path)?;
    fused_dims(c, f, &path)?;
    Ok(())
}

/// Output dims of the latest producer of each buffer, in schedule order.
struct Producers {
    intermed: Vec<Option<BufferDims>>,
    dest: Option<BufferDims>,
}

impl Producers {
    fn new(count: u32) -> Producers {
        Producers {
            intermed: alloc::vec![None; count as usize],
            dest: None,
        }
    }
    fn get(&self, b: FusedOperand) -> Option<BufferDims> {
        match b {
            FusedOperand::Input(_) => None,
            FusedOperand::Intermed(k) => self.intermed.get(k as usize).copied().flatten(),
            FusedOperand::Dest => self.dest,
        }
    }
    fn set(&mut self, o: &ScheduledOp) {
        let dims = Some(BufferDims {
            mblock: o.mblock,
            ublock: o.ublock,
        });
        match o.output {
            FusedOutput::Intermed(k) => {
                if let Some(slot) = self.intermed.get_mut(k as usize) {
                    *slot = dims;
                }
            }
            FusedOutput::Dest => self.dest = dims,
            FusedOutput::Output => {}
        }
    }
}

fn fused_tms(c: &Checker, f: &FusedOp, path: &str) -> R {
    let mut producers = Producers::new(f.intermediates);
    for (s, sched) in f.schedules.iter().enumerate() {
        for o in &sched.ops {
            let p = format!("{path}.schedules[{s}].{}", o.name);
            for (i, tms) in o.input_tms.iter().enumerate() {
                if tms.is_empty() {
                    continue;
                }
                let tp = format!("{p}.input_{i}_tms");
                let input = o.inputs[i];
                let has = |d: Dim| {
                    tms.iter()
                        .any(|t| matches!(t, Tm::Broadcast { dim, .. } if *dim == d))
                };
                let (r, col) = (has(Dim::R), has(Dim::C));
                if has(Dim::Z) {
                    return Err(c.err(o.line, tp, "fused ops do not support z broadcast".into()));
                }
                for tm in tms {
                    match tm {
                        Tm::Broadcast { .. } => {}
                        Tm::TileBroadcast(_) => {
                            if !is_binary(&o.op_type) || i != 1 {
                                return Err(c.err(
                                    o.line,
                                    tp,
                                    "tile_broadcast is only allowed on input 1 of a binary sub-op"
                                        .into(),
                                ));
                            }
                        }
                        Tm::Transpose => {
                            return Err(c.err(
                                o.line,
                                tp,
                                "transpose is not supported inside fused ops".into(),
                            ))
                        }
                        _ => return Err(c.err(
                            o.line,
                            tp,
                            "only broadcast and tile_broadcast TMs are allowed inside fused ops"
                                .into(),
                        )),
                    }
                }
                if !(r || col) {
                    continue;
                }
                if !matches!(input, FusedOperand::Intermed(_)) {
                    return Err(c.err(
                        o.line,
                        tp,
                        format!(
                            "broadcast inside a fused op is only supported on intermediate buffers; sub-op `{}` broadcasts {input}",
                            o.name
                        ),
                    ));
                }
                if r && col {
                    return Err(c.err(
                        o.line,
                        tp,
                        "fused ops do not support r and c broadcast on one input".into(),
                    ));
                }
                let Some(dims) = producers.get(input) else {
                    return Err(c.err(
                        o.line,
                        tp,
                        format!("{input} is broadcast before any sub-op writes it"),
                    ));
                };
                if r {
                    if o.op_type.is(OpType::Matmul) {
                        return Err(c.err(
                            o.line,
                            tp,
                            "fused ops do not support r broadcast into a matmul sub-op".into(),
                        ));
                    }
                    if dims.mblock.m != 1 || dims.ublock.rt != 1 {
                        return Err(c.err(
                            o.line,
                            tp,
                            format!(
                                "r broadcast in a fused op needs mblock_m and ublock_rt of 1 on {input}, found mblock [{}, {}], ublock [{}, {}]",
                                dims.mblock.m, dims.mblock.n, dims.ublock.rt, dims.ublock.ct
                            ),
                        ));
                    }
                    if o.mblock.m != 1 && dims.mblock.n != 1 {
                        return Err(c.err(
                            o.line,
                            tp,
                            format!(
                                "r broadcast that grows mblock_m (to {}) requires mblock_n == 1 on {input}, found mblock_n {}: the intermediate buffer holds one ublock at a time",
                                o.mblock.m, dims.mblock.n
                            ),
                        ));
                    }
                }
                if col {
                    if o.op_type.is(OpType::Matmul) {
                        let m_k = o.attributes.m_k.unwrap_or(0);
                        if !(dims.mblock.n == 1 || dims.mblock.n == m_k) || i != 0 {
                            return Err(c.err(
                                o.line,
                                tp,
                                "c broadcast into a matmul sub-op is only supported on input 0 with mblock_n 1 or m_k".into(),
                            ));
                        }
                    } else if dims.mblock.n != 1 || dims.ublock.ct != 1 {
                        return Err(c.err(
                            o.line,
                            tp,
                            format!(
                                "c broadcast in a fused op needs mblock_n and ublock_ct of 1 on {input}, found mblock [{}, {}], ublock [{}, {}]",
                                dims.mblock.m, dims.mblock.n, dims.ublock.rt, dims.ublock.ct
                            ),
                        ));
                    }
                }
            }
            producers.set(o);
        }
    }
    Ok(())
}

/// Intermediate buffer use across schedules (upstream `verify_intermed_buffers`).
fn fused_intermeds(c: &Checker, f: &FusedOp, path: &str) -> R {
    #[derive(Clone, Copy, Default)]
    struct Use {
        active: bool,
        schedule: usize,
        by_matmul_or_reduce: bool,
        single_mblock: bool,
    }
    let mut buffers: Vec<Use> = alloc::vec![Use::default(); f.intermediates as usize];
    for (s, sched) in f.schedules.iter().enumerate() {
        for o in &sched.ops {
            let p = format!("{path}.schedules[{s}].{}", o.name);
            for b in &o.inputs {
                let FusedOperand::Intermed(k) = *b else {
                    continue;
                };
                let Some(u) = buffers.get(k as usize).copied() else {
                    continue;
                };
                if !u.active {
                    return Err(c.err(
                        o.line,
                        format!("{p}.inputs"),
                        format!("sub-op `{}` reads {b} before any sub-op writes it (or after it was popped)", o.name),
                    ));
                }
                let same_schedule = u.schedule == s
                    || f.schedules
                        .get(u.schedule)
                        .and_then(|sc| sc.ops.last())
                        .is_some_and(|last| !is_matmul_or_reduce(&last.op_type));
                if !(same_schedule || u.single_mblock || u.by_matmul_or_reduce) {
                    return Err(c.err(
                        o.line,
                        format!("{p}.inputs"),
                        format!(
                            "sub-op `{}` reads {b}, produced in schedule {} by a sub-op that is not matmul or reduce and holding more than a single macro block; an intermediate buffer from an earlier schedule that ends with matmul/reduce must hold a single macro block or come from matmul/reduce",
                            o.name, u.schedule
                        ),
                    ));
                }
            }
            for b in o.pop.iter().chain(&o.pop_last) {
                let FusedOperand::Intermed(k) = *b else {
                    continue;
                };
                if let Some(u) = buffers.get_mut(k as usize) {
                    if !u.active {
                        return Err(c.err(
                            o.line,
                            format!("{p}.pop"),
                            format!("sub-op `{}` pops {b}, which holds no data", o.name),
                        ));
                    }
                    u.active = false;
                }
            }
            if let FusedOutput::Intermed(k) = o.output {
                if let Some(u) = buffers.get_mut(k as usize) {
                    if u.active {
                        return Err(c.err(
                            o.line,
                            format!("{p}.output"),
                            format!(
                                "sub-op `{}` writes intermed{k}, which still holds data: pop it before it is produced again",
                                o.name
                            ),
                        ));
                    }
                    *u = Use {
                        active: true,
                        schedule: s,
                        by_matmul_or_reduce: is_matmul_or_reduce(&o.op_type),
                        single_mblock: o.mblock.m == 1 && o.mblock.n == 1,
                    };
                }
            }
        }
    }
    if let Some((k, u)) = buffers.iter().enumerate().find(|(_, u)| u.active) {
        return Err(c.err(
            f.line,
            path.to_string(),
            format!(
                "intermed{k}, produced in schedule {}, is never popped by the end of the fused op (missing pop on an intermediate buffer)",
                u.schedule
            ),
        ));
    }
    Ok(())
}

/// Input/output dimension agreement inside a fused op (upstream `verify_op_dims`); the dims of
/// base-op inputs are unknown here and not checked.
fn fused_dims(c: &Checker, f: &FusedOp, path: &str) -> R {
    let mut producers = Producers::new(f.intermediates);
    for (s, sched) in f.schedules.iter().enumerate() {
        for o in &sched.ops {
            let p = format!("{path}.schedules[{s}].{}", o.name);
            let factor = |i: usize, d: Dim| -> u64 {
                o.input_tms.get(i).map_or(1, |tms| {
                    tms.iter()
                        .filter_map(|t| match t {
                            Tm::Broadcast { dim, factor } if *dim == d => Some(u64::from(*factor)),
                            _ => None,
                        })
                        .product()
                })
            };
            let mismatch = |detail: String| {
                Err(c.err(
                    o.line,
                    p.clone(),
                    format!("dimension mismatch in sub-op `{}`: {detail}", o.name),
                ))
            };
            let out = BufferDims {
                mblock: o.mblock,
                ublock: o.ublock,
            };
            let eltwise = |i: usize| -> R {
                let Some(input) = o.inputs.get(i).and_then(|b| producers.get(*b)) else {
                    return Ok(());
                };
                let rows_in =
                    u64::from(input.mblock.m) * u64::from(input.ublock.rt) * factor(i, Dim::R);
                let cols_in =
                    u64::from(input.mblock.n) * u64::from(input.ublock.ct) * factor(i, Dim::C);
                let ok = rows_in == u64::from(out.mblock.m) * u64::from(out.ublock.rt)
                    && out.mblock.m >= input.mblock.m
                    && out.ublock.rt >= input.ublock.rt
                    && cols_in == u64::from(out.mblock.n) * u64::from(out.ublock.ct)
                    && out.mblock.n >= input.mblock.n
                    && out.ublock.ct >= input.ublock.ct;
                if ok {
                    Ok(())
                } else {
                    mismatch(format!(
                        "input {i} has mblock [{}, {}], ublock [{}, {}], output mblock [{}, {}], ublock [{}, {}]",
                        input.mblock.m, input.mblock.n, input.ublock.rt, input.ublock.ct,
                        out.mblock.m, out.mblock.n, out.ublock.rt, out.ublock.ct
                    ))
                }
            };
            let t = &o.op_type;
            let family = t.known().map(OpType::family);
            // ethernet_datacopy moves data between chips: upstream takes no such sub-op.
            if family == Some(OpFamily::Sfpu) || t.is(OpType::Datacopy) || t.is(OpType::Nop) {
                eltwise(0)?;
            } else if family == Some(OpFamily::Binary) {
                eltwise(0)?;
                eltwise(1)?;
            } else if t.is(OpType::Reduce) {
                // Without m_k/u_kt a reduce sub-op takes its extent from its input.
                let input = producers.get(o.inputs[0]);
                let m_k = o
                    .attributes
                    .m_k
                    .or(match o.attributes.dim {
                        Some(Dim::R) => input.map(|i| i.mblock.m),
                        _ => input.map(|i| i.mblock.n),
                    })
                    .unwrap_or(0);
                let u_kt = o
                    .attributes
                    .u_kt
                    .or(match o.attributes.dim {
                        Some(Dim::R) => input.map(|i| i.ublock.rt),
                        _ => input.map(|i| i.ublock.ct),
                    })
                    .unwrap_or(0);
                match o.attributes.dim {
                    Some(Dim::R) => {
                        if let Some(i) = input {
                            if !(i.mblock.n == out.mblock.n
                                && i.ublock.ct == out.ublock.ct
                                && i.mblock.m == m_k
                                && i.ublock.rt == u_kt)
                            {
                                return mismatch(format!("reduce r needs input mblock_m == m_k ({m_k}) and ublock_rt == u_kt ({u_kt}), found mblock_m {} and ublock_rt {}", i.mblock.m, i.ublock.rt));
                            }
                        }
                        if out.mblock.m != 1 || out.ublock.rt != 1 {
                            return mismatch(
                                "reduce r needs output mblock_m and ublock_rt of 1".into(),
                            );
                        }
                    }
                    Some(Dim::C) => {
                        if let Some(i) = input {
                            if !(i.mblock.m == out.mblock.m
                                && i.ublock.rt == out.ublock.rt
                                && i.mblock.n == m_k
                                && i.ublock.ct == u_kt)
                            {
                                return mismatch(format!("reduce c needs input mblock_n == m_k ({m_k}) and ublock_ct == u_kt ({u_kt}), found mblock_n {} and ublock_ct {}", i.mblock.n, i.ublock.ct));
                            }
                        }
                        if out.mblock.n != 1 || out.ublock.ct != 1 {
                            return mismatch(
                                "reduce c needs output mblock_n and ublock_ct of 1".into(),
                            );
                        }
                    }
                    _ => {
                        return Err(c.err(
                            o.line,
                            format!("{p}.attributes.dim"),
                            format!("reduce sub-op `{}` must reduce dim r or c", o.name),
                        ))
                    }
                }
            } else if t.is(OpType::Matmul) {
                let m_k = o.attributes.m_k.unwrap_or(0);
                let u_kt = o.attributes.u_kt.unwrap_or(0);
                let in0 = producers.get(o.inputs[0]);
                let in1 = o.inputs.get(1).and_then(|b| producers.get(*b));
                if let Some(i) = in0 {
                    let c_bcast = factor(0, Dim::C);
                    if c_bcast == 1 {
                        if i.mblock.n != m_k || i.ublock.ct != u_kt {
                            return Err(c.err(
                                o.line,
                                format!("{p}.attributes"),
                                format!(
                                    "matmul sub-op `{}`: without a broadcast on input 0, m_k must equal input 0's mblock_n ({}) and u_kt its ublock_ct ({}); found m_k {m_k}, u_kt {u_kt}",
                                    o.name, i.mblock.n, i.ublock.ct
                                ),
                            ));
                        }
                    } else if u64::from(i.mblock.n) * u64::from(i.ublock.ct) * c_bcast
                        != u64::from(m_k) * u64::from(u_kt)
                    {
                        return mismatch(format!(
                            "broadcast input 0 is {} tiles wide, m_k * u_kt is {}",
                            u64::from(i.mblock.n) * u64::from(i.ublock.ct) * c_bcast,
                            u64::from(m_k) * u64::from(u_kt)
                        ));
                    }
                    if i.mblock.m != out.mblock.m || i.ublock.rt != out.ublock.rt {
                        return mismatch("input 0 rows differ from the output's".into());
                    }
                }
                if let Some(i) = in1 {
                    if !(i.mblock.m == m_k
                        && i.ublock.rt == u_kt
                        && i.mblock.n == out.mblock.n
                        && i.ublock.ct == out.ublock.ct)
                    {
                        return mismatch(format!(
                            "input 1 needs mblock_m == m_k ({m_k}), ublock_rt == u_kt ({u_kt}) and the output's columns"
                        ));
                    }
                }
                if let (Some(a), Some(b)) = (in0, in1) {
                    if b.mblock.m < a.mblock.n || b.ublock.rt < a.ublock.ct {
                        return mismatch("input 1 rows are fewer than input 0 columns".into());
                    }
                }
            } else {
                return Err(c.err(
                    o.line,
                    format!("{p}.type"),
                    format!(
                        "sub-op `{}` has type `{t}`, which fused ops do not support",
                        o.name
                    ),
                ));
            }
            producers.set(o);
        }
    }
    Ok(())
}

/// Rules between a fused op and the op that runs it: the id exists, the input counts agree,
/// sub-ops writing `output` have the op's dims, every sub-op's ublock fits dest in the op's
/// acc_df, integer fused ops use only what they support.
fn fused_op_use(c: &Checker, g: &Graph, op: &Op) -> R {
    let path = format!("graphs.{}.{}", g.name, op.name);
    let Some(id) = &op.attributes.fused_op_id else {
        return Ok(());
    };
    let Some(f) = c.netlist.fused_op(id) else {
        return Err(c.err(
            op.line,
            format!("{path}.attributes.fused_op_id"),
            format!("fused_op_id `{id}` is not in the fused_ops section"),
        ));
    };
    if f.inputs as usize != op.inputs.len() {
        return Err(c.err(
            op.line,
            format!("{path}.inputs"),
            format!(
                "fused_op_id `{id}` has inputs: {}, but op `{}` has {}",
                f.inputs,
                op.name,
                crate::message::count(op.inputs.len(), "input")
            ),
        ));
    }
    let int_fused = op.acc_df == DataFormat::Int32;
    for (s, sched) in f.schedules.iter().enumerate() {
        for o in &sched.ops {
            let p = format!("fused_ops.{}.schedules[{s}].{}", f.id, o.name);
            ublock_fits_dest(
                c,
                o.line,
                format!("{p}.ublock"),
                &format!("sub-op `{}` of op `{}`", o.name, op.name),
                o.ublock,
                op.acc_df,
            )?;
            if o.output == FusedOutput::Output && (o.mblock != op.mblock || o.ublock != op.ublock) {
                return Err(c.err(
                    o.line,
                    p.clone(),
                    format!(
                        "sub-op `{}` writes the output, but its mblock [{}, {}] / ublock [{}, {}] differ from op `{}` ([{}, {}] / [{}, {}])",
                        o.name, o.mblock.m, o.mblock.n, o.ublock.rt, o.ublock.ct,
                        op.name, op.mblock.m, op.mblock.n, op.ublock.rt, op.ublock.ct
                    ),
                ));
            }
            if o.output == FusedOutput::Output
                && o.op_type.is(OpType::Matmul)
                && o.attributes.m_k.unwrap_or(0) > 1
            {
                return Err(c.err(
                    o.line,
                    p.clone(),
                    format!(
                        "matmul sub-op `{}` with m_k > 1 cannot write the output",
                        o.name
                    ),
                ));
            }
            let quant = matches!(
                o.op_type.known(),
                Some(OpType::Quantization | OpType::Requantization | OpType::Dequantization)
            );
            if int_fused
                && !(is_binary(&o.op_type)
                    || o.op_type.is(OpType::Datacopy)
                    || o.op_type.is(OpType::Nop))
            {
                return Err(c.err(
                    o.line,
                    p,
                    "integer fused ops (acc_df Int32) support only binary sub-ops and datacopy"
                        .into(),
                ));
            }
            if quant && !int_fused {
                return Err(c.err(
                    o.line,
                    p,
                    "quantization sub-ops are only supported in integer fused ops (acc_df Int32)"
                        .into(),
                ));
            }
        }
    }
    Ok(())
}
