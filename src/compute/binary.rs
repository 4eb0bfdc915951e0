//! Elementwise binary ops: the simulated chip's [`BinaryOp`], and [`Binary`], every binary op
//! of a netlist with its attributes (golden-ops.md §7).

use core::fmt;

use super::ComputeError;

/// Elementwise binary ops of the golden model (golden-ops.md §7), `a op b` in fp32.
///
/// | Op | fp32 result |
/// |---|---|
/// | `Add` | `a + b` |
/// | `Subtract` | `a - b` |
/// | `Multiply` | `+0` if the bits of `a` or of `b` are `+0.0` (so `+0·inf = +0`, but `-0·inf = NaN`), else `a·b` |
/// | `Maximum` | `a > b ? a : b`: `b` when either is NaN and for `±0` against `±0` |
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    Add = 0,
    Subtract,
    Multiply,
    Maximum,
}

impl BinaryOp {
    /// Every op, in value order.
    pub const ALL: [BinaryOp; 4] = [
        BinaryOp::Add,
        BinaryOp::Subtract,
        BinaryOp::Multiply,
        BinaryOp::Maximum,
    ];

    /// The op's name in messages (Buda's spelling).
    pub const fn name(self) -> &'static str {
        match self {
            BinaryOp::Add => "add",
            BinaryOp::Subtract => "subtract",
            BinaryOp::Multiply => "multiply",
            BinaryOp::Maximum => "maximum",
        }
    }

    pub fn from_u32(v: u32) -> Option<BinaryOp> {
        BinaryOp::ALL.iter().copied().find(|op| *op as u32 == v)
    }

    /// The op named `name` ([`BinaryOp::name`]).
    pub fn from_name(name: &str) -> Option<BinaryOp> {
        BinaryOp::ALL.iter().copied().find(|op| op.name() == name)
    }
}

impl fmt::Display for BinaryOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[inline(always)]
fn zip_map(a: &mut [f32], b: &[f32], f: impl Fn(f32, f32) -> f32) {
    for (x, &y) in a.iter_mut().zip(b) {
        *x = f(*x, y);
    }
}

/// `a = a op b` elementwise, as golden computes it (see [`BinaryOp`]).
pub fn apply_binary(op: BinaryOp, a: &mut [f32], b: &[f32]) -> Result<(), ComputeError> {
    if a.len() != b.len() {
        return Err(ComputeError::Length {
            op,
            a: a.len(),
            b: b.len(),
        });
    }
    match op {
        BinaryOp::Add => zip_map(a, b, |x, y| x + y),
        BinaryOp::Subtract => zip_map(a, b, |x, y| x - y),
        // golden's x86 path zeroes both operands where either holds the bits of +0.0.
        BinaryOp::Multiply => zip_map(a, b, |x, y| {
            if x.to_bits() == 0 || y.to_bits() == 0 {
                0.0
            } else {
                x * y
            }
        }),
        BinaryOp::Maximum => zip_map(a, b, |x, y| if x > y { x } else { y }),
    }
    Ok(())
}

/// Golden's x86 multiply: +0 when the bits of either operand are +0.0.
#[inline(always)]
pub fn mul0(a: f32, b: f32) -> f32 {
    if a.to_bits() == 0 || b.to_bits() == 0 {
        0.0
    } else {
        a * b
    }
}

/// Every elementwise binary op of a netlist (golden-ops.md §7), with its attributes.
///
/// | Op | fp32 result |
/// |---|---|
/// | `Plain(op)` | [`BinaryOp`] |
/// | `Quantization(zp)`, `Requantization(zp)` | `mul0(a, b) + zp` (the caller then quantizes to Int8) |
/// | `Dequantization(zp)` | `mul0(a + -zp, b)` |
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Binary {
    Plain(BinaryOp),
    /// `a·b + zp`; the pipeline then quantizes to Int8.
    Quantization(f32),
    Requantization(f32),
    /// `(a - zp)·b`.
    Dequantization(f32),
}

impl Binary {
    /// Whether the pipeline forces an Int8 output.
    pub fn forces_int8(self) -> bool {
        matches!(self, Binary::Quantization(_) | Binary::Requantization(_))
    }

    /// `a = a op b` elementwise, as golden computes it (see [`Binary`]).
    pub fn apply(self, a: &mut [f32], b: &[f32]) -> Result<(), ComputeError> {
        match self {
            Binary::Plain(op) => apply_binary(op, a, b)?,
            Binary::Quantization(zp) | Binary::Requantization(zp) => {
                zip_map(a, b, |x, y| mul0(x, y) + zp);
            }
            Binary::Dequantization(zp) => {
                // The parser stores -zp and golden adds it.
                let neg = -zp;
                zip_map(a, b, |x, y| mul0(x + neg, y));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantization_ops_add_or_subtract_the_zero_point_around_golden_multiply() {
        let mut a = [2.0f32, 0.0, -0.0];
        Binary::Quantization(1.5)
            .apply(&mut a, &[3.0, f32::INFINITY, f32::INFINITY])
            .unwrap();
        // +0 times inf is +0 (golden's multiply), -0 times inf NaN.
        assert_eq!(a[..2], [7.5, 1.5]);
        assert!(a[2].is_nan());
        let mut a = [5.0f32];
        Binary::Dequantization(1.0).apply(&mut a, &[2.0]).unwrap();
        assert_eq!(a, [8.0]);
        assert!(Binary::Requantization(0.0).forces_int8());
        assert!(!Binary::Dequantization(0.0).forces_int8());
        assert!(Binary::Plain(BinaryOp::Add)
            .apply(&mut [1.0], &[1.0, 2.0])
            .is_err());
    }
}
