//! Elementwise ops on whole tensors (golden-ops.md §6, §7): datacopy/nop, the SFPU ops with
//! their vector modes, relu, and the binary ops including (de/re)quantization, chunked over
//! the worker threads.
//!
//! What each op computes of a value is [`crate::compute`]'s ([`Sfpu`], [`Binary`]); here is
//! which op a netlist type is, and which values of a tensor it applies to. A `transpose` TM
//! has already transposed the input fully (see `tm.rs`), so nothing here transposes.

use crate::compute::{self, dropout_mask, BinaryOp, UnaryOp};
pub use crate::compute::{Binary, Sfpu};
use crate::netlist::{Dim, OpType, ReluMode};

use super::OpError;
use super::{workers, Tensor, TILE};

/// Values one thread maps at a time in an elementwise op (each value is computed alone, so
/// the split changes nothing).
const CHUNK: usize = 1 << 14;

/// The part of each tile an SFPU op computes (golden-ops.md §6.3): rows x columns from the
/// top-left corner.
#[inline]
fn region(vector: Dim) -> (usize, usize) {
    match vector {
        Dim::R => (4, TILE),
        Dim::C => (TILE, 16),
        _ => (TILE, TILE),
    }
}

/// Applies `op` to one run of values in place. `mask` (dropout only) holds the draws of the
/// run, in order.
fn apply_run(op: Sfpu, values: &mut [f32], mask: &[bool]) -> Result<(), OpError> {
    op.apply(values, mask)?;
    Ok(())
}

/// `dst = op(src)` over the vector-mode region of every tile; the rest of `dst` is +0.
///
/// ⚠ Golden leaves values outside the region as its reused output tensor held them; those are
/// zeros from the first run on (nothing writes outside the region), so ttrt writes zeros.
pub fn apply_sfpu(op: Sfpu, vector: Dim, src: &Tensor, dst: &mut Tensor) -> Result<(), OpError> {
    let (rows, cols) = region(vector);
    if (rows, cols) == (TILE, TILE) {
        // Every value is written below.
        dst.reshape_for_overwrite(src.z, src.rt, src.ct);
    } else {
        dst.reshape(src.z, src.rt, src.ct);
    }
    dst.tag = src.tag;
    let mut mask = [false; TILE * TILE];
    if let Sfpu::Dropout { p, .. } = op {
        dropout_mask(p, &mut mask[..rows * cols]);
    }
    if (rows, cols) == (TILE, TILE) && !matches!(op, Sfpu::Dropout { .. }) {
        let ok = workers::for_each_chunk(&mut dst.data, CHUNK, &|at, out| {
            out.copy_from_slice(&src.data[at..at + out.len()]);
            apply_run(op, out, &[]).is_ok()
        });
        if !ok {
            // Again on one thread, for the error as it names the first value rejected.
            dst.data.copy_from_slice(&src.data);
            return apply_run(op, &mut dst.data, &[]);
        }
        return Ok(());
    }
    let width = src.cols();
    let tile_rows = src.z as usize * src.rt as usize;
    for tr in 0..tile_rows {
        for i in 0..rows {
            let row = (tr * TILE + i) * width;
            for tc in 0..src.ct as usize {
                let o = row + tc * TILE;
                dst.data[o..o + cols].copy_from_slice(&src.data[o..o + cols]);
                apply_run(
                    op,
                    &mut dst.data[o..o + cols],
                    &mask[i * cols..(i + 1) * cols],
                )?;
            }
        }
    }
    Ok(())
}

/// Golden's relu (golden-ops.md §6.4), in place.
pub fn relu(values: &mut [f32], mode: Option<ReluMode>, threshold: f32) {
    let mode = match mode {
        Some(ReluMode::Max) => compute::ReluMode::Max,
        _ => compute::ReluMode::Min,
    };
    compute::apply_relu(values, mode, threshold)
}

/// An elementwise op of a graph or fused sub-op, with its attributes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Eltwise {
    Unary(Sfpu),
    Binary(Binary),
}

/// The attributes elementwise ops read: power `exp`, lrelu `slope`, dropout `p`, and the
/// (de/re)quantization `zero_point`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct EltwiseAttributes {
    pub exponent: Option<i64>,
    pub slope: Option<f32>,
    pub probability: Option<f32>,
    pub zero_point: Option<f32>,
}

/// What op type `t` computes elementwise with `attributes`, or `None` when it is not an
/// elementwise op.
pub fn eltwise(t: OpType, attributes: EltwiseAttributes) -> Option<Eltwise> {
    let unary = |u: UnaryOp| Some(Eltwise::Unary(Sfpu::Compute(u)));
    let zp = attributes.zero_point.unwrap_or(0.0);
    match t {
        OpType::Datacopy | OpType::Nop | OpType::EthernetDatacopy => unary(UnaryOp::Identity),
        OpType::Exp => unary(UnaryOp::Exp),
        OpType::Log => unary(UnaryOp::Log),
        OpType::Sqrt => unary(UnaryOp::Sqrt),
        OpType::Gelu => unary(UnaryOp::Gelu),
        OpType::Reciprocal => unary(UnaryOp::Reciprocal),
        OpType::Sigmoid => unary(UnaryOp::Sigmoid),
        OpType::Tanh => unary(UnaryOp::Tanh),
        OpType::Square => unary(UnaryOp::Square),
        OpType::Abs => unary(UnaryOp::Abs),
        OpType::GeluDerivative => Some(Eltwise::Unary(Sfpu::GeluDerivative)),
        OpType::Power => Some(Eltwise::Unary(Sfpu::Power(
            attributes.exponent.unwrap_or(0),
        ))),
        OpType::Sine => Some(Eltwise::Unary(Sfpu::Sine)),
        OpType::Cosine => Some(Eltwise::Unary(Sfpu::Cosine)),
        OpType::Lrelu => Some(Eltwise::Unary(Sfpu::Lrelu(
            attributes.slope.unwrap_or(0.01),
        ))),
        OpType::Dropout => Some(Eltwise::Unary(Sfpu::dropout(attributes.probability))),
        OpType::Add => Some(Eltwise::Binary(Binary::Plain(BinaryOp::Add))),
        OpType::Subtract => Some(Eltwise::Binary(Binary::Plain(BinaryOp::Subtract))),
        OpType::Multiply => Some(Eltwise::Binary(Binary::Plain(BinaryOp::Multiply))),
        OpType::Maximum => Some(Eltwise::Binary(Binary::Plain(BinaryOp::Maximum))),
        OpType::Quantization => Some(Eltwise::Binary(Binary::Quantization(zp))),
        OpType::Requantization => Some(Eltwise::Binary(Binary::Requantization(zp))),
        OpType::Dequantization => Some(Eltwise::Binary(Binary::Dequantization(zp))),
        OpType::Matmul
        | OpType::Depthwise
        | OpType::Reduce
        | OpType::Splice
        | OpType::Embedding
        | OpType::FusedOp
        | OpType::Topk
        | OpType::Tilizer => None,
    }
}

/// `dst = a op b`; the shapes must be equal (the plan checks it). `dst` takes `a`'s tag.
pub fn apply_binary(op: Binary, a: &Tensor, b: &Tensor, dst: &mut Tensor) -> Result<(), OpError> {
    if !a.same_shape(b) {
        return Err(OpError::BinaryShapes {
            a: [a.z, a.rt, a.ct],
            b: [b.z, b.rt, b.ct],
        });
    }
    // Every value is written below.
    dst.reshape_for_overwrite(a.z, a.rt, a.ct);
    dst.tag = a.tag;
    let ok = workers::for_each_chunk(&mut dst.data, CHUNK, &|at, out| {
        let n = out.len();
        out.copy_from_slice(&a.data[at..at + n]);
        binary_in_place(op, out, &b.data[at..at + n]).is_ok()
    });
    if !ok {
        dst.data.copy_from_slice(&a.data);
        return binary_in_place(op, &mut dst.data, &b.data);
    }
    Ok(())
}

/// `a = a op b` elementwise.
pub fn binary_in_place(op: Binary, a: &mut [f32], b: &[f32]) -> Result<(), OpError> {
    op.apply(a, b)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vector_mode_r_touches_rows_0_to_3() {
        let src = Tensor {
            data: alloc::vec![1.0; 1024],
            ..Tensor::zeros(1, 1, 1, crate::format::DataFormat::Float32)
        };
        let mut dst = Tensor::zeros(0, 0, 0, src.tag);
        apply_sfpu(Sfpu::Compute(UnaryOp::Square), Dim::R, &src, &mut dst).unwrap();
        assert_eq!(dst.data[3 * 32 + 31], 1.0);
        assert_eq!(dst.data[4 * 32], 0.0);
        apply_sfpu(Sfpu::Power(3), Dim::C, &src, &mut dst).unwrap();
        assert_eq!(dst.data[31 * 32 + 15], 1.0);
        assert_eq!(dst.data[16], 0.0);
    }
}
