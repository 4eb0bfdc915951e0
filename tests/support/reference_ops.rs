//! The reference evaluation of one op of a netlist graph (golden-ops.md section 1): input
//! unpad/TMs/pad and quantization, the op itself (sections 6-11, with splice and embedding
//! here), relu and output quantization. Works on [`Tensor`]s from `reference.rs`.
#![allow(dead_code)]

use ttrt::format::UblockOrder;
use ttrt::format::{Arch, DataFormat};
use ttrt::netlist::{
    Dim, FusedOperand, FusedOutput, Netlist, Op, ReduceFunc, ReluMode, ScheduledOp, SpliceMode, Tm,
};

use super::reference::{
    accumulate_z, apply_tm, binary_tensor, clear_outside_tile, invalid, matmul, prepare_input,
    quantize, quantize_op_input, reduce_max, relu, sfpu, sfpu_tensor, unsupported, RefError,
    RefResult, SfpuParams, Tensor, TILE,
};
use super::sparse_stimulus::SparseProblem;

const BINARY: &[&str] = &[
    "add",
    "subtract",
    "multiply",
    "maximum",
    "quantization",
    "requantization",
    "dequantization",
];
const COPY: &[&str] = &["datacopy", "nop", "ethernet_datacopy"];

fn sfpu_params(exponent: Option<i64>, slope: Option<f32>) -> SfpuParams {
    SfpuParams {
        exponent: exponent.unwrap_or(0),
        slope: slope.map_or(0.01, f64::from),
    }
}

fn is_sfpu(op: &str) -> bool {
    matches!(sfpu(op, 1.0, SfpuParams::default()), Ok(Some(_)) | Err(_))
}

fn apply_relu(t: &mut Tensor, mode: Option<ReluMode>, threshold: Option<f32>) {
    let thr = threshold.map_or(0.0, f64::from);
    t.data.iter_mut().for_each(|x| *x = relu(*x, mode, thr));
}

/// Golden's output quantization (section 1 step 10).
fn quantize_output(
    t: &mut Tensor,
    op_type: &str,
    requant: bool,
    out_df: DataFormat,
) -> RefResult<()> {
    let runs = matches!(
        out_df,
        DataFormat::Int8
            | DataFormat::Int32
            | DataFormat::Bfp2
            | DataFormat::Bfp2B
            | DataFormat::Bfp4
            | DataFormat::Bfp4B
    );
    if !runs {
        return Ok(());
    }
    let forced = matches!(op_type, "quantization" | "requantization") || requant;
    quantize(t, if forced { DataFormat::Int8 } else { out_df })
}

/// Evaluates `op` on the raw tensors of its inputs (queue entries or producer outputs, in
/// operand order). `prev` is a gradient op's previous output: it is added to the result before
/// relu and output quantization (section 12).
pub fn eval_op(
    net: &Netlist,
    arch: Arch,
    op: &Op,
    raw: &[Tensor],
    prev: Option<&Tensor>,
) -> RefResult<Tensor> {
    if raw.len() != op.inputs.len() {
        return invalid(format!("{}: {} inputs given", op.name, raw.len()));
    }
    if op.op_type.as_str() == "tilizer" {
        return eval_tilizer(net, arch, op, raw, prev);
    }
    let mut xs = Vec::with_capacity(raw.len());
    for (i, r) in raw.iter().enumerate() {
        let tms = op.input_tms.get(i).map_or(&[][..], Vec::as_slice);
        let mut t = prepare_input(
            r,
            op.input_unpad.get(i).and_then(Option::as_ref),
            tms,
            op.input_pad.get(i).and_then(Option::as_ref),
        )?;
        quantize_op_input(&mut t, arch)?;
        xs.push(t);
    }
    let a = &op.attributes;
    let ty = op.op_type.as_str();
    // Tiles under 32x32 (golden-ops.md 4 and 6.3): an input's tiles are its producer op's
    // tile_dim or its queue's, height and width swapped by each transpose. Eltwise ops clear
    // their output to the smaller of input 0's tiles and the op's; matmul clears its inputs
    // to their tiles and its output to the op's; topk clears as eltwise ops; reduce, splice,
    // embedding and fused ops clear nothing. SFPU ops on such tiles compute whole tiles.
    let tiles: Vec<(usize, usize)> = op
        .inputs
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let d = match (net.op(n), net.queue(n)) {
                (Some((_, p)), _) => p.tile_dim,
                (None, Some(q)) => q.tile_dim,
                _ => ttrt::format::TileDim::FULL,
            };
            let mut hw = (d.height as usize, d.width as usize);
            let tms = op.input_tms.get(i).map_or(&[][..], Vec::as_slice);
            for _ in tms.iter().filter(|t| matches!(t, Tm::Transpose)) {
                hw = (hw.1, hw.0);
            }
            hw
        })
        .collect();
    let tile0 = tiles.first().copied().unwrap_or((TILE, TILE));
    let out_tile = (op.tile_dim.height as usize, op.tile_dim.width as usize);
    let vector = if tile0 != (TILE, TILE) {
        None
    } else {
        a.vector
    };
    if ty == "matmul" && !a.identity {
        for (x, &(th, tw)) in xs.iter_mut().zip(&tiles).take(2) {
            if (th, tw) != (TILE, TILE) {
                clear_outside_tile(x, th, tw);
            }
        }
    }
    let mut out = if COPY.contains(&ty) {
        xs[0].clone()
    } else if BINARY.contains(&ty) {
        let zp = f64::from(a.zero_point.unwrap_or(0.0));
        binary_tensor(ty, &xs[0], &xs[1], zp)?
    } else if is_sfpu(ty) {
        sfpu_tensor(ty, &xs[0], vector, sfpu_params(a.exponent, a.slope))?
    } else {
        match ty {
            "matmul" if a.identity => eval_identity_matmul(net, op, raw, &xs)?,
            "matmul" => eval_matmul(op, &xs)?,
            "reduce" => {
                if a.reduce_type.unwrap_or(ReduceFunc::Max) != ReduceFunc::Max {
                    return unsupported("reduce other than max");
                }
                let dim = a
                    .dim
                    .ok_or_else(|| RefError::Invalid("reduce without dim".into()))?;
                reduce_max(&xs[0], dim, a.z.unwrap_or(1) as usize)?
            }
            "splice" => splice(op, &xs)?,
            "embedding" => embedding(op, &xs[0], &xs[1])?,
            "fused_op" => eval_fused(net, op, &xs)?,
            "topk" => topk(op, &xs[0], &xs[1])?,
            other => return unsupported(format!("op type {other}")),
        }
    };
    let keep = if COPY.contains(&ty) || BINARY.contains(&ty) || is_sfpu(ty) || ty == "topk" {
        (tile0.0.min(out_tile.0), tile0.1.min(out_tile.1))
    } else if ty == "matmul" {
        out_tile
    } else {
        (TILE, TILE)
    };
    if keep != (TILE, TILE) {
        clear_outside_tile(&mut out, keep.0, keep.1);
    }
    if let Some(p) = prev {
        let tag = out.tag;
        out = binary_tensor("add", p, &out, 0.0)?;
        out.tag = tag;
    }
    if a.relu_en && ty != "fused_op" {
        apply_relu(&mut out, a.relu_mode, a.relu_threshold);
    }
    quantize_output(&mut out, ty, a.requant, op.out_df)?;
    Ok(out)
}

/// tilizer (golden-ops.md section 10): golden ignores the tiles of its input. The entry of a
/// queue the host pushed carries the host's flat buffer (`rt*th x ct*tw` values per slice for
/// a queue of `th x tw` tiles, row-major), and the op tilizes that buffer again with the
/// queue's tile dims: element (R, C) into tile (R/th, C/tw) at (R%th, C%tw), zeros elsewhere.
/// A Raw format tilizes in megarow order: tile k (row-major) takes values k*th*tw.. of the
/// buffer. The output is then cleared outside the op's tile dims. It carries the input's tag
/// after the input quantization step, which changes the tag (Float32 to Tf32 on Wormhole B0)
/// but not the buffer. The queue here holds its entries in its `df` (as the simulated chip's
/// default mode does), so the buffer is the host's values quantized to `df`.
fn eval_tilizer(
    net: &Netlist,
    arch: Arch,
    op: &Op,
    raw: &[Tensor],
    prev: Option<&Tensor>,
) -> RefResult<Tensor> {
    let ([x], [name]) = (raw, &op.inputs[..]) else {
        return invalid(format!("tilizer {} takes one input", op.name));
    };
    let Some(q) = net.queue(name).filter(|_| net.op(name).is_none()) else {
        return invalid(format!("tilizer {} reads {name}, not a queue", op.name));
    };
    if op.input_tms.iter().any(|t| !t.is_empty())
        || op.input_pad.iter().any(Option::is_some)
        || op.input_unpad.iter().any(Option::is_some)
    {
        return invalid(format!(
            "tilizer {}: TMs, pad or unpad on its input",
            op.name
        ));
    }
    let (th, tw) = (q.tile_dim.height as usize, q.tile_dim.width as usize);
    // The host's buffer: the corner of every tile, packed.
    let buffer = Tensor::build(
        x.z,
        x.rows / TILE * th,
        x.cols / TILE * tw,
        x.tag,
        |z, r, c| x.at(z, r / th * TILE + r % th, c / tw * TILE + c % tw),
    );
    let tag = match x.tag {
        DataFormat::Float32 if arch == Arch::WormholeB0 => DataFormat::Tf32,
        t => t,
    };
    let ct = x.cols / TILE;
    let mut out = Tensor::zeros(x.z, x.rows / TILE, ct, tag);
    for z in 0..buffer.z {
        for r in 0..buffer.rows {
            for c in 0..buffer.cols {
                let (tile_r, tile_c, in_r, in_c) = if q.df.is_raw() {
                    let f = r * buffer.cols + c;
                    let (k, j) = (f / (th * tw), f % (th * tw));
                    (k / ct, k % ct, j / tw, j % tw)
                } else {
                    (r / th, c / tw, r % th, c % tw)
                };
                out.set(
                    z,
                    tile_r * TILE + in_r,
                    tile_c * TILE + in_c,
                    buffer.at(z, r, c),
                );
            }
        }
    }
    let (oh, ow) = (op.tile_dim.height as usize, op.tile_dim.width as usize);
    if (oh, ow) != (TILE, TILE) {
        clear_outside_tile(&mut out, oh, ow);
    }
    if let Some(p) = prev {
        out = binary_tensor("add", p, &out, 0.0)?;
        out.tag = tag;
    }
    let a = &op.attributes;
    if a.relu_en {
        apply_relu(&mut out, a.relu_mode, a.relu_threshold);
    }
    quantize_output(&mut out, "tilizer", false, op.out_df)?;
    Ok(out)
}

fn eval_matmul(op: &Op, xs: &[Tensor]) -> RefResult<Tensor> {
    let a = &op.attributes;
    if a.identity {
        return unsupported("identity (sparse) matmul");
    }
    let mut y = matmul(&xs[0], &xs[1])?;
    if a.accumulate {
        y = accumulate_z(&y, a.z.unwrap_or(1) as usize)?;
    }
    let is_int = xs
        .iter()
        .any(|x| matches!(x.tag, DataFormat::Int8 | DataFormat::Int32));
    let mut next = 2;
    if a.bias {
        let b = xs
            .get(2)
            .ok_or_else(|| RefError::Invalid("matmul bias input missing".into()))?;
        if b.dims() != y.dims() {
            return invalid(format!(
                "matmul bias {:?} vs output {:?}",
                b.dims(),
                y.dims()
            ));
        }
        for zi in 0..y.z {
            for r in 0..y.rows {
                let br = if is_int { r } else { r - r % TILE };
                for c in 0..y.cols {
                    let v = y.at(zi, r, c) + b.at(zi, br, c);
                    y.set(zi, r, c, v);
                }
            }
        }
        next = 3;
    }
    if a.requant || a.dequant {
        let s = xs
            .get(next)
            .ok_or_else(|| RefError::Invalid("matmul scale input missing".into()))?;
        let zp = f64::from(a.zero_point.unwrap_or(0.0));
        let scaled = if a.requant {
            binary_tensor("requantization", &y, s, zp)?
        } else {
            binary_tensor("dequantization", &y, s, zp)?
        };
        y = Tensor {
            tag: y.tag,
            ..scaled
        };
    }
    match a.sfpu_op.as_deref() {
        None => {}
        Some("gelu") => y = sfpu_tensor("gelu", &y, a.vector, SfpuParams::default())?,
        // Golden fuses gelu only; any text that names no SFPU op is no SFPU op.
        Some(other) if is_sfpu(other) => return unsupported(format!("matmul sfpu_op {other}")),
        Some(_) => {}
    }
    Ok(y)
}

/// An identity (sparse) matmul, from the dense truth the stimulus drew
/// (`sparse_stimulus.rs`), never from the encoding: `Y[z] = A[z] · act`, where column tile `K`
/// of `A` meets activation row tile `K` counted through the activation's slices. The op's
/// sparse-tile and encoding inputs must be the queue entries drawn from that same `A`. A bias
/// is added elementwise (golden's identity path adds the whole bias tile), then gelu.
fn eval_identity_matmul(
    net: &Netlist,
    op: &Op,
    raw: &[Tensor],
    xs: &[Tensor],
) -> RefResult<Tensor> {
    let p = SparseProblem::for_op(net, op)?;
    let sh = &p.shape;
    let dims = |t: &Tensor| (t.z, t.rt(), t.ct());
    if raw[0] != p.sparse_queue(dims(&raw[0]), raw[0].tag)? {
        return invalid(format!(
            "{}: input 0 is not the drawn sparse tiles",
            op.name
        ));
    }
    if raw[2] != p.encoding_queue(dims(&raw[2]))? {
        return invalid(format!("{}: input 2 is not the drawn encoding", op.name));
    }
    let act = &xs[1];
    if act.data.iter().any(|x| !x.is_finite()) {
        return unsupported("identity matmul on non-finite activations");
    }
    let cols = (op.grid_size.c * op.mblock.n * op.ublock.ct) as usize;
    if act.ct() < cols || act.ct() % op.grid_size.c as usize != 0 {
        return invalid(format!(
            "{}: activations {:?} for {cols} output column tiles",
            op.name,
            dims(act)
        ));
    }
    // Core column c reads its own group of activation columns; output column tile
    // c·(cols/grid_c) + j comes from activation column tile c·(act.ct/grid_c) + j.
    let (per_core_out, per_core_act) = (
        cols / op.grid_size.c as usize,
        act.ct() / op.grid_size.c as usize,
    );
    let mut y = Tensor::zeros(sh.slices, sh.rows(), cols, op.out_df);
    for z in 0..sh.slices {
        for r in 0..sh.rows() {
            for k in 0..sh.k_tiles() {
                let Some(tile) = p.at(z, r, k) else { continue };
                let (az, ar) = (k / act.rt(), k % act.rt());
                if az >= act.z {
                    return invalid(format!("{}: A reaches activation row tile {k}", op.name));
                }
                let core_row = r / sh.core_rows();
                for i in 0..TILE {
                    for kk in 0..TILE {
                        let v = p.tile_value(core_row, tile, i, kk);
                        if v == 0.0 {
                            continue;
                        }
                        for c in 0..op.grid_size.c as usize {
                            let width = per_core_out * TILE;
                            let b0 = act.idx(az, ar * TILE + kk, c * per_core_act * TILE);
                            let y0 = y.idx(z, r * TILE + i, c * width);
                            let b = &act.data[b0..b0 + width];
                            for (o, x) in y.data[y0..y0 + width].iter_mut().zip(b) {
                                *o += v * x;
                            }
                        }
                    }
                }
            }
        }
    }
    if op.attributes.bias {
        let b = &xs[3];
        if b.dims() != y.dims() {
            return invalid(format!(
                "identity matmul bias {:?} vs output {:?}",
                b.dims(),
                y.dims()
            ));
        }
        y.data.iter_mut().zip(&b.data).for_each(|(o, v)| *o += v);
    }
    match op.attributes.sfpu_op.as_deref() {
        None => {}
        Some("gelu") => y = sfpu_tensor("gelu", &y, op.attributes.vector, SfpuParams::default())?,
        // Golden fuses gelu only; any text that names no SFPU op is no SFPU op.
        Some(other) if is_sfpu(other) => return unsupported(format!("matmul sfpu_op {other}")),
        Some(_) => {}
    }
    Ok(y)
}

/// The sub-op TMs allowed inside fused ops (broadcast and tile_broadcast).
fn sub_input(x: &Tensor, tms: &[Tm]) -> RefResult<Tensor> {
    let mut t = x.clone();
    for tm in tms {
        t = apply_tm(&t, tm)?;
    }
    Ok(t)
}

fn eval_sub_op(base: &Op, s: &ScheduledOp, ins: &[Tensor], dest_is_in1: bool) -> RefResult<Tensor> {
    let ty = s.op_type.as_str();
    let a = &s.attributes;
    if COPY.contains(&ty) {
        Ok(ins[0].clone())
    } else if BINARY.contains(&ty) {
        let zp = f64::from(s.zero_point.unwrap_or(0.0));
        if ty == "dequantization" && dest_is_in1 {
            // (dest - zp) * input0
            let t = binary_tensor("subtract", &ins[1], &ins[1].map(|_| zp), 0.0)?;
            let mut out = binary_tensor("multiply", &t, &ins[0], 0.0)?;
            out.tag = ins[0].tag;
            Ok(out)
        } else {
            binary_tensor(ty, &ins[0], &ins[1], zp)
        }
    } else if is_sfpu(ty) {
        let v = Some(a.vector.unwrap_or(Dim::Rc));
        sfpu_tensor(ty, &ins[0], v, sfpu_params(a.exponent, a.slope))
    } else if ty == "matmul" {
        matmul(&ins[0], &ins[1])
    } else if ty == "reduce" {
        if a.reduce_type.unwrap_or(ReduceFunc::Max) != ReduceFunc::Max {
            return unsupported("fused reduce other than max");
        }
        let dim = a
            .dim
            .or(base.attributes.dim)
            .ok_or_else(|| RefError::Invalid("fused reduce without dim".into()))?;
        reduce_max(&ins[0], dim, 1)
    } else {
        unsupported(format!("fused sub-op type {ty}"))
    }
}

/// A fused op (section 11): its schedules run in order over intermediate buffers and `dest`.
fn eval_fused(net: &Netlist, op: &Op, xs: &[Tensor]) -> RefResult<Tensor> {
    let id = op
        .attributes
        .fused_op_id
        .as_deref()
        .ok_or_else(|| RefError::Invalid("fused_op without fused_op_id".into()))?;
    let fused = net
        .fused_op(id)
        .ok_or_else(|| RefError::Invalid(format!("no fused op {id}")))?;
    let mut inter: Vec<Option<Tensor>> = vec![None; fused.intermediates as usize];
    let mut dest: Option<Tensor> = None;
    let mut output: Option<Tensor> = None;
    for s in fused.schedules.iter().flat_map(|sc| &sc.ops) {
        let mut ins = Vec::new();
        for (i, operand) in s.inputs.iter().enumerate() {
            let t = match operand {
                FusedOperand::Input(n) => xs.get(*n as usize).cloned(),
                FusedOperand::Intermed(k) => inter.get(*k as usize).cloned().flatten(),
                FusedOperand::Dest => dest.clone(),
            }
            .ok_or_else(|| RefError::Invalid(format!("{}: {operand} holds no data", s.name)))?;
            let tms = s.input_tms.get(i).map_or(&[][..], Vec::as_slice);
            ins.push(sub_input(&t, tms)?);
        }
        let reads_dest = s.inputs.contains(&FusedOperand::Dest);
        let dest_is_in1 = s.inputs.get(1) == Some(&FusedOperand::Dest);
        let mut y = eval_sub_op(op, s, &ins, dest_is_in1)?;
        let (relu_en, mode, thr) = if s.output == FusedOutput::Output && op.attributes.relu_en {
            (true, op.attributes.relu_mode, op.attributes.relu_threshold)
        } else {
            (
                s.attributes.relu_en,
                s.attributes.relu_mode,
                s.attributes.relu_threshold,
            )
        };
        if relu_en {
            apply_relu(&mut y, mode, thr);
        }
        let buffer_df = match s.output {
            FusedOutput::Intermed(_) => op.intermed_df,
            FusedOutput::Dest => op.acc_df,
            FusedOutput::Output => op.out_df,
        };
        if matches!(s.op_type.as_str(), "quantization" | "requantization") {
            quantize(&mut y, DataFormat::Int8)?;
        } else if matches!(buffer_df, DataFormat::Int8 | DataFormat::Int32) {
            quantize(&mut y, buffer_df)?;
        }
        if !reads_dest {
            dest = None;
        }
        let written = match s.output {
            FusedOutput::Intermed(k) => {
                let slot = inter
                    .get_mut(k as usize)
                    .ok_or_else(|| RefError::Invalid(format!("intermed{k} out of range")))?;
                *slot = Some(y);
                Some(k)
            }
            FusedOutput::Dest => {
                dest = Some(y);
                None
            }
            FusedOutput::Output => {
                output = Some(y);
                None
            }
        };
        for p in s.pop.iter().chain(&s.pop_last) {
            if let FusedOperand::Intermed(k) = p {
                if Some(*k) != written {
                    if let Some(slot) = inter.get_mut(*k as usize) {
                        *slot = None;
                    }
                }
            }
        }
    }
    output.ok_or_else(|| RefError::Invalid(format!("fused op {id} writes no output")))
}

// ---------------------------------------------------------------------------------------------
// splice and embedding (section 10)
// ---------------------------------------------------------------------------------------------

/// Copies tile `(zs, rs, cs)` of `src` to tile `(zd, rd, cd)` of `dst`.
fn copy_tile(src: &Tensor, s: (usize, usize, usize), dst: &mut Tensor, d: (usize, usize, usize)) {
    for i in 0..TILE {
        for j in 0..TILE {
            let v = src.at(s.0, s.1 * TILE + i, s.2 * TILE + j);
            dst.set(d.0, d.1 * TILE + i, d.2 * TILE + j, v);
        }
    }
}

/// splice: round-robin windows of each input's units (t slices or ublocks).
pub fn splice(op: &Op, inputs: &[Tensor]) -> RefResult<Tensor> {
    let a = &op.attributes;
    let windows: Vec<_> = (0..inputs.len())
        .map(|i| a.splice.get(i).copied().flatten())
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| RefError::Invalid("splice: an input has no window".into()))?;
    let (ur, uc) = (op.ublock.rt as usize, op.ublock.ct as usize);
    let (m, n) = (op.mblock.m as usize, op.mblock.n as usize);
    let (gr, gc) = (op.grid_size.r as usize, op.grid_size.c as usize);
    let (rt, ct) = (gr * m * ur, gc * n * uc);
    let mut out = Tensor::zeros(op.t as usize, rt, ct, op.out_df);
    let mode = a.granularity.unwrap_or(SpliceMode::Ublock);
    // For each input, the units it contributes, in output order: t granularity works on whole
    // slices; ublock granularity on per-core ublocks of the output's ublock shape.
    match mode {
        SpliceMode::T => {
            let mut zo = 0;
            let mut next = vec![0usize; inputs.len()];
            while zo < out.z {
                let before = zo;
                for (i, (x, w)) in inputs.iter().zip(&windows).enumerate() {
                    if (x.rt(), x.ct()) != (rt, ct) {
                        return invalid("splice t: input tile shape differs from the op's");
                    }
                    let group = (w.index + w.stride) as usize;
                    let base = next[i];
                    if base + group > x.z && base < x.z {
                        return invalid("splice t: an input's slices are not consumed whole");
                    }
                    if base >= x.z {
                        continue;
                    }
                    for k in 0..w.length as usize {
                        if zo >= out.z {
                            return invalid("splice t: more slices than the op's t");
                        }
                        for r in 0..rt {
                            for c in 0..ct {
                                copy_tile(
                                    x,
                                    (base + w.index as usize + k, r, c),
                                    &mut out,
                                    (zo, r, c),
                                );
                            }
                        }
                        zo += 1;
                    }
                    next[i] = base + group;
                }
                if zo == before {
                    return invalid("splice t: inputs exhausted before the output is full");
                }
            }
        }
        SpliceMode::Ublock => {
            // Position of ublock `o` within an m x n mblock, in the output ublock order.
            let by_rows = op.ublock_order == UblockOrder::R;
            let place = |o: usize, mm: usize, nn: usize| {
                if by_rows {
                    (o / nn, o % nn)
                } else {
                    (o % mm, o / mm)
                }
            };
            for zi in 0..out.z {
                for cr in 0..gr {
                    for cc in 0..gc {
                        let mut units: Vec<Vec<(usize, usize)>> = Vec::new();
                        for x in inputs {
                            if x.rt() % (gr * ur) != 0 || x.ct() % (gc * uc) != 0 || zi >= x.z {
                                return invalid("splice ublock: input does not split into ublocks");
                            }
                            let (im, inn) = (x.rt() / gr / ur, x.ct() / gc / uc);
                            units.push(
                                (0..im * inn)
                                    .map(|o| {
                                        let (br, bc) = place(o, im, inn);
                                        (cr * im * ur + br * ur, cc * inn * uc + bc * uc)
                                    })
                                    .collect(),
                            );
                        }
                        let mut next = vec![0usize; inputs.len()];
                        let mut o = 0;
                        while o < m * n {
                            let before = o;
                            for (i, w) in windows.iter().enumerate() {
                                let base = next[i];
                                if base >= units[i].len() {
                                    continue;
                                }
                                for k in 0..w.length as usize {
                                    let Some(&(sr, sc)) = units[i].get(base + w.index as usize + k)
                                    else {
                                        return invalid("splice ublock: window past the input");
                                    };
                                    if o >= m * n {
                                        return invalid("splice ublock: more ublocks than fit");
                                    }
                                    let (br, bc) = place(o, m, n);
                                    let (dr, dc) = (cr * m * ur + br * ur, cc * n * uc + bc * uc);
                                    for i2 in 0..ur {
                                        for j2 in 0..uc {
                                            let x = &inputs[i];
                                            copy_tile(
                                                x,
                                                (zi, sr + i2, sc + j2),
                                                &mut out,
                                                (zi, dr + i2, dc + j2),
                                            );
                                        }
                                    }
                                    o += 1;
                                }
                                next[i] = base + (w.index + w.stride) as usize;
                            }
                            if o == before {
                                return invalid("splice ublock: inputs exhausted");
                            }
                        }
                    }
                }
            }
        }
    }
    Ok(out)
}

/// embedding: output row `w` of each core row is table row `indices[w]` (0xFFFFFFFF: zeros).
/// The table is read as row-major rows of its full width; indices come from the core row's
/// slice of input 1, flattened row-major. Golden takes each index as the bit pattern of the
/// f32 it holds: a raw queue's integer (raw values are bit-cast into floats on push), and for
/// any other format the bits of the value itself (so 0.0 is row 0 and 1.0 is row 0x3f800000).
pub fn embedding(op: &Op, table: &Tensor, indices: &Tensor) -> RefResult<Tensor> {
    let num = op.attributes.num_indices.unwrap_or(0) as usize;
    let gr = op.grid_size.r as usize;
    let rt_core = num.div_ceil(TILE);
    let ct = (op.grid_size.c * op.mblock.n * op.ublock.ct) as usize;
    if ct * TILE != table.cols {
        return invalid("embedding: table width differs from the op's");
    }
    let z = op.t as usize;
    let mut out = Tensor::zeros(z, gr * rt_core, ct, op.out_df);
    if indices.rows % gr != 0 {
        return invalid("embedding: indices do not split over the grid rows");
    }
    let slice_rows = indices.rows / gr;
    for zi in 0..z.min(indices.z) {
        for core in 0..gr {
            for w in 0..num {
                let flat = w;
                let (r, c) = (core * slice_rows + flat / indices.cols, flat % indices.cols);
                if r >= (core + 1) * slice_rows {
                    return invalid("embedding: fewer indices than num_indices");
                }
                let v = indices.at(zi, r, c);
                let bits = if indices.tag.is_raw() {
                    v as u32
                } else {
                    (v as f32).to_bits()
                };
                if bits == u32::MAX {
                    continue;
                }
                let k = bits as usize;
                if k >= table.rows {
                    return invalid(format!(
                        "embedding: index {k} (from {v}) past the table's {} rows",
                        table.rows
                    ));
                }
                for c in 0..table.cols {
                    out.set(zi, core * rt_core * TILE + w, c, table.at(0, k, c));
                }
            }
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// topk (section 10)
// ---------------------------------------------------------------------------------------------

/// One entry of a topk row: a value and the index it carries.
#[derive(Clone, Copy, Debug)]
struct Ranked {
    value: f64,
    index: f64,
}

/// Whether the entries at `a` (left) and `b` (right) trade places when a bitonic stage orders
/// them largest first (`desc`) or smallest first: out of order, or equal with the sign the
/// hardware's comparator treats as out of order (equal negatives going down, equal
/// non-negatives going up).
fn exchange(a: f64, b: f64, desc: bool) -> bool {
    if desc {
        b > a || (a == b && a < 0.0)
    } else {
        b < a || (a == b && a >= 0.0)
    }
}

/// Bitonic merge of the bitonic run `row[base..base + len]` (len a power of two) into order
/// `desc`: compare each entry with the one half the run away, then merge both halves.
fn bitonic_merge(row: &mut [Ranked], base: usize, len: usize, desc: bool) {
    if len < 2 {
        return;
    }
    let half = len / 2;
    for j in base..base + half {
        if exchange(row[j].value, row[j + half].value, desc) {
            row.swap(j, j + half);
        }
    }
    bitonic_merge(row, base, half, desc);
    bitonic_merge(row, base + half, half, desc);
}

/// Bitonic sort of `row[base..base + len]` into order `desc`: the first half goes largest
/// first, the second smallest first, then the whole bitonic run is merged. For `k >= 64` the
/// hardware merges runs of 16 and 32 lying in the second half of each 128 entries the other way
/// round (golden's unconditional swap after each comparison there; for values that are not
/// NaN, the same as merging in the opposite order).
fn bitonic_sort(row: &mut [Ranked], base: usize, len: usize, desc: bool, k: usize) {
    if len < 2 {
        return;
    }
    bitonic_sort(row, base, len / 2, true, k);
    bitonic_sort(row, base + len / 2, len / 2, false, k);
    let flipped = k >= 64 && (len == 16 || len == 32) && base % 128 >= 64;
    bitonic_merge(row, base, len, desc != flipped);
}

/// The k-sequences `row[base..base + count*k]` (count a power of two) reduced to one, in order
/// `desc`: each half is reduced (the first largest first, the second smallest first), the
/// larger of each pair of entries k apart is kept in the first half, and that bitonic run is
/// merged. A single sequence is sorted (or, with kreduce, only merged for k > 16: it comes
/// sorted from a previous topk).
fn reduce_sequences(
    row: &mut [Ranked],
    base: usize,
    count: usize,
    desc: bool,
    k: usize,
    kreduce: bool,
) {
    if count == 1 {
        if !kreduce {
            bitonic_sort(row, base, k, desc, k);
        } else if k > 16 {
            bitonic_merge(row, base, k, desc);
        }
        return;
    }
    let half = count / 2 * k;
    reduce_sequences(row, base, count / 2, true, k, kreduce);
    reduce_sequences(row, base + half, count / 2, false, k, kreduce);
    for j in base..base + k {
        if exchange(row[j].value, row[j + half].value, true) {
            row.swap(j, j + half);
        }
    }
    bitonic_merge(row, base, k, desc);
}

/// An index as golden's int conversion leaves it (x86: the integer part, or -2^31 out of
/// range and for NaN).
fn topk_index(x: f64) -> f64 {
    let t = x.trunc();
    if (-2_147_483_648.0..=2_147_483_647.0).contains(&t) {
        t
    } else {
        -2_147_483_648.0
    }
}

/// topk: for each core column of the grid and each row, the row's values (input 0) with their
/// indices (input 1) over that core's tile columns, reduced as above; the first `k` entries
/// (values for `sort: max`, else indices) fill `ceil(k/32)` tiles per core, the rest 0.
pub fn topk(op: &Op, values: &Tensor, indices: &Tensor) -> RefResult<Tensor> {
    let a = &op.attributes;
    if values.dims() != indices.dims() {
        return invalid("topk: values and indices differ in shape");
    }
    let k = a.k.unwrap_or(0) as usize;
    let cores = op.grid_size.c as usize;
    let width = values.ct() / cores * TILE;
    if k == 0 || !k.is_power_of_two() || width % k != 0 || !(width / k).is_power_of_two() {
        return unsupported(format!("topk k {k} over rows of {width}"));
    }
    if k >= 64 && values.data.iter().any(|v| v.is_nan()) {
        return unsupported("topk with k >= 64 on NaN values");
    }
    let want_values = a.sort == Some(ttrt::netlist::TopkSort::Max);
    let out_width = k.div_ceil(TILE) * TILE;
    let tag = if want_values { values.tag } else { indices.tag };
    let mut out = Tensor::zeros(values.z, values.rt(), cores * out_width / TILE, tag);
    let mut row = Vec::with_capacity(width);
    for z in 0..values.z {
        for r in 0..values.rows {
            for core in 0..cores {
                row.clear();
                for c in core * width..(core + 1) * width {
                    row.push(Ranked {
                        value: values.at(z, r, c),
                        index: topk_index(indices.at(z, r, c)),
                    });
                }
                reduce_sequences(&mut row, 0, width / k, true, k, a.kreduce);
                for (c, e) in row.iter().take(k).enumerate() {
                    let v = if want_values { e.value } else { e.index };
                    out.set(z, r, core * out_width + c, v);
                }
            }
        }
    }
    Ok(out)
}
