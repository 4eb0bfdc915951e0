//! fused_op (golden-ops.md §11): the schedules of a `fused_ops` entry, flattened into one list
//! of sub-ops run on whole tensors.
//!
//! Compiling walks the schedule once with shapes only: it checks that every `intermedK` and
//! `dest` a sub-op reads holds data, that no sub-op overwrites an intermediate still holding
//! data (unless it reads and pops it), that every intermediate is empty at the end, and it
//! computes every shape. Running then needs no checks: each sub-op reads the base op's inputs
//! (after their TMs), the intermediates or `dest`, applies its own TMs to copies, computes with
//! the standalone golden of its type, applies its relu, quantizes to Int8 (quantization,
//! requantization) or to its target buffer's format when that is Int8 or Int32, and stores the
//! result. Every buffer is sized for the largest tensor of the schedule up front.

use alloc::vec::Vec;

use crate::format::DataFormat;
use crate::netlist::{
    Dim, FusedOp, FusedOperand, FusedOutput, Op, OpType, ReduceFunc, ReluMode, Tm,
};

use super::matmul::{matmul, reduce_max, reduce_shape};
use super::ops::{
    apply_binary, apply_sfpu, eltwise, relu, Binary, Eltwise, EltwiseAttributes, Sfpu,
};
use super::plan_error::{FusedError, InnerTiles, SubOpError};
use super::quantize::quantize;
use super::tm::{apply_tm, tm_shape, Shape};
use super::{OpError, Tensor};

enum SubKind {
    Unary { op: Sfpu, vector: Dim },
    Binary(Binary),
    Matmul,
    Reduce(Dim),
}

struct SubInput {
    operand: FusedOperand,
    tms: Vec<Tm>,
    t: Tensor,
    spare: Tensor,
}

struct SubOp {
    kind: SubKind,
    inputs: Vec<SubInput>,
    output: FusedOutput,
    relu: Option<(Option<ReluMode>, f32)>,
    quantize: Option<DataFormat>,
    /// dequantization reading `dest` as input 1: `(dest - zp)·input0`.
    swap: bool,
}

/// A compiled fused op.
pub struct FusedPlan {
    subs: Vec<SubOp>,
    intermed: Vec<Tensor>,
    dest: Tensor,
    result: Tensor,
}

fn len(s: Shape) -> usize {
    s.z as usize * s.rt as usize * s.ct as usize * 1024
}

fn with_capacity(max: usize) -> Tensor {
    let mut t = Tensor::zeros(0, 0, 0, DataFormat::Float32);
    t.data.reserve(max);
    t
}

impl FusedPlan {
    /// Compiles `fused` for base op `op` whose inputs have `shapes` after their TMs; returns
    /// the plan and the output shape.
    pub fn new(
        fused: &FusedOp,
        op: &Op,
        shapes: &[Shape],
    ) -> Result<(FusedPlan, Shape), FusedError> {
        if fused.inputs as usize != shapes.len() {
            return Err(FusedError::Inputs {
                id: fused.id.clone(),
                count: fused.inputs,
                found: shapes.len(),
            });
        }
        let n_inter = fused.intermediates as usize;
        let mut inter: Vec<Option<Shape>> = alloc::vec![None; n_inter];
        let mut dest: Option<Shape> = None;
        let mut output: Option<Shape> = None;
        let mut max = 0usize;
        let mut subs = Vec::new();
        for sub in fused.schedules.iter().flat_map(|s| s.ops.iter()) {
            let here = |error: SubOpError| FusedError::SubOp {
                id: fused.id.clone(),
                sub: sub.name.clone(),
                line: sub.line,
                error,
            };
            let t = &sub.op_type;
            let sa = &sub.attributes;
            let attributes = EltwiseAttributes {
                exponent: sa.exponent,
                slope: sa.slope,
                probability: sa.probability,
                zero_point: sub.zero_point,
            };
            let unsupported = || here(SubOpError::UnsupportedType(t.clone()));
            let kind = match t.known() {
                Some(OpType::Matmul) => SubKind::Matmul,
                Some(OpType::Reduce) => {
                    if sa.reduce_type.is_some_and(|r| r != ReduceFunc::Max) {
                        return Err(here(SubOpError::ReduceType));
                    }
                    match sa.dim {
                        Some(d @ (Dim::R | Dim::C | Dim::Rc)) => SubKind::Reduce(d),
                        _ => return Err(here(SubOpError::ReduceDim)),
                    }
                }
                Some(known) => match eltwise(known, attributes) {
                    Some(Eltwise::Binary(b)) => SubKind::Binary(b),
                    Some(Eltwise::Unary(f)) => {
                        let vector = match sa.vector {
                            Some(Dim::R) => Dim::R,
                            Some(Dim::C) => Dim::C,
                            _ => Dim::Rc,
                        };
                        SubKind::Unary { op: f, vector }
                    }
                    None => return Err(unsupported()),
                },
                None => return Err(unsupported()),
            };
            let arity = match kind {
                SubKind::Unary { .. } | SubKind::Reduce(_) => 1,
                _ => 2,
            };
            if sub.inputs.len() != arity {
                return Err(here(SubOpError::Inputs {
                    op: t.clone(),
                    count: arity,
                    found: sub.inputs.len(),
                }));
            }
            let mut in_shapes = Vec::new();
            let mut inputs = Vec::new();
            for (j, &operand) in sub.inputs.iter().enumerate() {
                let mut s = match operand {
                    FusedOperand::Input(n) => *shapes
                        .get(n as usize)
                        .ok_or_else(|| here(SubOpError::NoInput(n)))?,
                    FusedOperand::Intermed(k) => inter
                        .get(k as usize)
                        .copied()
                        .flatten()
                        .ok_or_else(|| here(SubOpError::IntermedEmpty(k)))?,
                    FusedOperand::Dest => dest.ok_or_else(|| here(SubOpError::DestEmpty))?,
                };
                let tms = sub.input_tms.get(j).cloned().unwrap_or_default();
                for tm in &tms {
                    let ok = match tm {
                        Tm::Broadcast {
                            dim: Dim::R | Dim::C | Dim::Z,
                            ..
                        } => true,
                        Tm::TileBroadcast(Dim::R | Dim::C) => {
                            j == 1 && matches!(kind, SubKind::Binary(_))
                        }
                        _ => false,
                    };
                    if !ok || operand == FusedOperand::Dest {
                        return Err(here(SubOpError::TmUnsupported { tm: *tm, input: j }));
                    }
                    s = tm_shape(tm, s).map_err(|e| here(SubOpError::Tm(e)))?;
                    max = max.max(len(s));
                }
                in_shapes.push(s);
                inputs.push(SubInput {
                    operand,
                    tms,
                    t: Tensor::zeros(0, 0, 0, DataFormat::Float32),
                    spare: Tensor::zeros(0, 0, 0, DataFormat::Float32),
                });
            }
            let s0 = in_shapes[0];
            let out = match kind {
                SubKind::Unary { .. } => s0,
                SubKind::Binary(_) => {
                    if in_shapes[1] != s0 {
                        return Err(here(SubOpError::BinaryShapes {
                            a: s0,
                            b: in_shapes[1],
                        }));
                    }
                    s0
                }
                SubKind::Matmul => {
                    let s1 = in_shapes[1];
                    let mk = sa.m_k.filter(|&m| m > 0).or(op.attributes.m_k);
                    let ukt = sa.u_kt.filter(|&u| u > 0).or(op.attributes.u_kt);
                    if let (Some(mk), Some(ukt)) = (mk, ukt) {
                        if mk * ukt != s1.rt {
                            return Err(here(SubOpError::MatmulMk(InnerTiles {
                                m_k: mk,
                                u_kt: ukt,
                                rt: s1.rt,
                            })));
                        }
                    }
                    if s0.ct != s1.rt || s1.z < s0.z {
                        return Err(here(SubOpError::MatmulInputs { a: s0, b: s1 }));
                    }
                    Shape::new(s0.z, s0.rt, s1.ct)
                }
                SubKind::Reduce(d) => {
                    let (z, rt, ct) = reduce_shape(d, 1, s0.z, s0.rt, s0.ct);
                    Shape::new(z, rt, ct)
                }
            };
            max = max.max(len(out));
            let reads = |o: FusedOperand| sub.inputs.contains(&o);
            if !reads(FusedOperand::Dest) {
                dest = None;
            }
            let pops: Vec<u32> = sub
                .pop
                .iter()
                .chain(&sub.pop_last)
                .filter_map(|p| match p {
                    FusedOperand::Intermed(k) => Some(*k),
                    _ => None,
                })
                .collect();
            let target_df = match sub.output {
                FusedOutput::Intermed(k) => {
                    let slot = inter
                        .get_mut(k as usize)
                        .ok_or_else(|| here(SubOpError::NoIntermed(k)))?;
                    if slot.is_some() && !(reads(FusedOperand::Intermed(k)) && pops.contains(&k)) {
                        return Err(here(SubOpError::IntermedFull(k)));
                    }
                    *slot = Some(out);
                    op.intermed_df
                }
                FusedOutput::Dest => {
                    dest = Some(out);
                    op.acc_df
                }
                FusedOutput::Output => {
                    output = Some(out);
                    op.out_df
                }
            };
            for k in pops {
                if sub.output != FusedOutput::Intermed(k) {
                    if let Some(slot) = inter.get_mut(k as usize) {
                        *slot = None;
                    }
                }
            }
            let quantize = match kind {
                SubKind::Binary(b) if b.forces_int8() => Some(DataFormat::Int8),
                _ => matches!(target_df, DataFormat::Int8 | DataFormat::Int32).then_some(target_df),
            };
            let relu = if sa.relu_en {
                Some((sa.relu_mode, sa.relu_threshold.unwrap_or(0.0)))
            } else if sub.output == FusedOutput::Output && op.attributes.relu_en {
                Some((
                    op.attributes.relu_mode,
                    op.attributes.relu_threshold.unwrap_or(0.0),
                ))
            } else {
                None
            };
            let swap = matches!(kind, SubKind::Binary(Binary::Dequantization(_)))
                && sub.inputs.get(1) == Some(&FusedOperand::Dest);
            subs.push(SubOp {
                kind,
                inputs,
                output: sub.output,
                relu,
                quantize,
                swap,
            });
        }
        if let Some(k) = inter.iter().position(|s| s.is_some()) {
            return Err(FusedError::IntermedAtEnd {
                id: fused.id.clone(),
                intermed: k,
            });
        }
        let output = output.ok_or_else(|| FusedError::NoOutput {
            id: fused.id.clone(),
        })?;
        for sub in &mut subs {
            for i in &mut sub.inputs {
                if !i.tms.is_empty() {
                    i.t = with_capacity(max);
                    i.spare = with_capacity(max);
                }
            }
        }
        let plan = FusedPlan {
            subs,
            intermed: (0..n_inter).map(|_| with_capacity(max)).collect(),
            dest: with_capacity(max),
            result: with_capacity(max),
        };
        Ok((plan, output))
    }

    /// Runs the schedule on the base op's inputs `input(n)`, writing the op output `dst`.
    pub fn run<'a>(
        &mut self,
        input: impl Fn(usize) -> &'a Tensor,
        dst: &mut Tensor,
    ) -> Result<(), OpError> {
        let FusedPlan {
            subs,
            intermed,
            dest,
            result,
        } = self;
        for sub in subs.iter_mut() {
            for si in sub.inputs.iter_mut() {
                if si.tms.is_empty() {
                    continue;
                }
                let src = match si.operand {
                    FusedOperand::Input(n) => input(n as usize),
                    FusedOperand::Intermed(k) => &intermed[k as usize],
                    FusedOperand::Dest => &*dest,
                };
                si.t.copy_from(src);
                for tm in &si.tms {
                    apply_tm(tm, &si.t, &mut si.spare)?;
                    core::mem::swap(&mut si.t, &mut si.spare);
                }
            }
            let get = |j: usize| -> &Tensor {
                let si = &sub.inputs[j];
                if !si.tms.is_empty() {
                    return &si.t;
                }
                match si.operand {
                    FusedOperand::Input(n) => input(n as usize),
                    FusedOperand::Intermed(k) => &intermed[k as usize],
                    FusedOperand::Dest => dest,
                }
            };
            match sub.kind {
                SubKind::Unary { op, vector } => apply_sfpu(op, vector, get(0), result)?,
                SubKind::Binary(b) if sub.swap => apply_binary(b, get(1), get(0), result)?,
                SubKind::Binary(b) => apply_binary(b, get(0), get(1), result)?,
                SubKind::Matmul => matmul(get(0), get(1), result),
                SubKind::Reduce(d) => reduce_max(get(0), d, 1, result),
            }
            if let Some((mode, threshold)) = sub.relu {
                relu(&mut result.data, mode, threshold);
            }
            if let Some(df) = sub.quantize {
                quantize(&mut result.data, df);
            }
            match sub.output {
                FusedOutput::Intermed(k) => core::mem::swap(&mut intermed[k as usize], result),
                FusedOutput::Dest => core::mem::swap(dest, result),
                FusedOutput::Output => dst.copy_from(result),
            }
        }
        Ok(())
    }
}
