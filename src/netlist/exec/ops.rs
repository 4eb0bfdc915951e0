//! Elementwise ops on whole tensors (golden-ops.md §6, §7): datacopy/nop, the SFPU ops with
//! their vector modes, relu, and the binary ops including (de/re)quantization.
//!
//! The elementwise functions golden shares with the simulated chip come from
//! [`crate::compute`]; the ones only netlists use (gelu_derivative, power, sine,
//! cosine, lrelu, dropout) are here. A `transpose` TM has already transposed the input fully
//! (see `tm.rs`), so nothing here transposes.

use crate::compute::{self, BinaryOp, UnaryOp};
use crate::netlist::{Dim, ReluMode};

use super::OpError;
use super::{workers, Tensor, TILE};

/// Values one thread maps at a time in an elementwise op (each value is computed alone, so
/// the split changes nothing).
const CHUNK: usize = 1 << 14;

/// An SFPU op or datacopy (golden-ops.md §6.1, §6.2).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Sfpu {
    /// datacopy, nop, ethernet_datacopy (`Identity`), exp, log, sqrt, gelu, reciprocal,
    /// sigmoid, tanh, abs, square: the simulated chip's functions.
    Compute(UnaryOp),
    GeluDerivative,
    /// `power` with attribute `exp`.
    Power(i64),
    Sine,
    Cosine,
    /// `lrelu` with attribute `slope`.
    Lrelu(f32),
    /// `dropout` with attribute `p` and golden's scale (`1/(1-p)`, 1 when `p == 1`, 0 when `p`
    /// is not given).
    Dropout {
        p: f32,
        scale: f32,
    },
}

impl Sfpu {
    /// The op `name` with its attributes (`exp`, `slope`, `p`), or `None` when it is not an
    /// elementwise unary op.
    pub fn from_name(
        name: &str,
        exponent: Option<i64>,
        slope: Option<f32>,
        p: Option<f32>,
    ) -> Option<Sfpu> {
        Some(match name {
            "gelu_derivative" => Sfpu::GeluDerivative,
            "power" => Sfpu::Power(exponent.unwrap_or(0)),
            "sine" => Sfpu::Sine,
            "cosine" => Sfpu::Cosine,
            "lrelu" => Sfpu::Lrelu(slope.unwrap_or(0.01)),
            "dropout" => {
                // ⚠ As golden's parser: without `p` the scale stays 0 and the output is zero.
                let scale = match p {
                    None => 0.0,
                    Some(1.0) => 1.0,
                    Some(p) => 1.0 / (1.0 - p),
                };
                Sfpu::Dropout {
                    p: p.unwrap_or(0.0),
                    scale,
                }
            }
            "relu" | "neg" => return None,
            _ => Sfpu::Compute(UnaryOp::from_name(name)?),
        })
    }

    /// Whether the op is datacopy/nop.
    pub fn is_copy(self) -> bool {
        self == Sfpu::Compute(UnaryOp::Identity)
    }
}

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

/// `√(2/π)` as golden spells it (`M_2_SQRTPI / M_SQRT2`).
const SQRT_2_OVER_PI: f64 = core::f64::consts::FRAC_2_SQRT_PI / core::f64::consts::SQRT_2;

/// gelu_derivative in double: `0.5·(1 + tanh(√(2/π)·(x + 0.044715·x³))) + x·exp(-x²/2)/√(2π)`.
/// The inner sum is one FMA as in the simulated chip's gelu.
fn gelu_derivative(x: f32) -> f32 {
    let x = x as f64;
    let inner = compute::fma64(0.044715, x * x * x, x);
    let cdf = 0.5 * (1.0 + libm::tanh(SQRT_2_OVER_PI * inner));
    let pdf = libm::exp(-0.5 * x * x) * (0.5 * SQRT_2_OVER_PI);
    (cdf + x * pdf) as f32
}

/// `r = 1; repeat exp times: r = x·r` in fp32.
fn power(x: f32, exp: i64) -> f32 {
    let mut r = 1.0f32;
    for _ in 0..exp.max(0) {
        r *= x;
    }
    r
}

/// glibc's `sinf`/`cosf` are correctly rounded; the double function rounded to float is too
/// but in rare cases.
fn sine(x: f32) -> f32 {
    libm::sin(x as f64) as f32
}

fn cosine(x: f32) -> f32 {
    libm::cos(x as f64) as f32
}

/// Applies `op` to one run of values in place. `mask` (dropout only) holds the draws of the
/// run, in order.
fn apply_run(op: Sfpu, values: &mut [f32], mask: &[bool]) -> Result<(), OpError> {
    match op {
        Sfpu::Compute(u) => compute::apply_unary(u, values)?,
        Sfpu::GeluDerivative => values.iter_mut().for_each(|v| *v = gelu_derivative(*v)),
        Sfpu::Power(e) => values.iter_mut().for_each(|v| *v = power(*v, e)),
        Sfpu::Sine => values.iter_mut().for_each(|v| *v = sine(*v)),
        Sfpu::Cosine => values.iter_mut().for_each(|v| *v = cosine(*v)),
        Sfpu::Lrelu(slope) => values
            .iter_mut()
            .for_each(|v| *v = if *v > 0.0 { *v } else { *v * slope }),
        Sfpu::Dropout { scale, .. } => {
            for (v, &drop) in values.iter_mut().zip(mask) {
                let d = if drop { 1.0f32 } else { 0.0 };
                *v = (1.0 - d) * *v * scale;
            }
        }
    }
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

/// The mt19937 generator (32-bit Mersenne Twister) of the C++ standard library.
pub struct Mt19937 {
    state: [u32; 624],
    index: usize,
}

impl Mt19937 {
    /// `std::mt19937`'s default seed.
    const DEFAULT_SEED: u32 = 5489;

    pub fn new(seed: u32) -> Mt19937 {
        let mut state = [0u32; 624];
        state[0] = seed;
        for i in 1..624 {
            let prev = state[i - 1];
            state[i] = 1_812_433_253u32
                .wrapping_mul(prev ^ (prev >> 30))
                .wrapping_add(i as u32);
        }
        Mt19937 { state, index: 624 }
    }

    fn twist(&mut self) {
        for i in 0..624 {
            let y = (self.state[i] & 0x8000_0000) | (self.state[(i + 1) % 624] & 0x7fff_ffff);
            let mut next = self.state[(i + 397) % 624] ^ (y >> 1);
            if y & 1 != 0 {
                next ^= 0x9908_b0df;
            }
            self.state[i] = next;
        }
        self.index = 0;
    }

    pub fn next_u32(&mut self) -> u32 {
        if self.index >= 624 {
            self.twist();
        }
        let mut y = self.state[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// libstdc++'s `generate_canonical<double, 53>`: two words, `(g1 + g2·2^32) / 2^64`, kept
    /// below 1.
    pub fn canonical(&mut self) -> f64 {
        let g1 = self.next_u32() as f64;
        let g2 = self.next_u32() as f64;
        let sum = g1 + g2 * 4_294_967_296.0;
        let u = sum / 18_446_744_073_709_551_616.0;
        if u >= 1.0 {
            1.0 - f64::EPSILON / 2.0
        } else {
            u
        }
    }

    /// libstdc++'s `bernoulli_distribution(p)`: true when the canonical draw is below `p`.
    pub fn bernoulli(&mut self, p: f64) -> bool {
        self.canonical() < p
    }
}

/// Golden's dropout draws for one tile (the same for every tile: each tile gets a fresh
/// generator with the default seed; the op's `seed` is ignored). Draw `k` lands on the `k`-th
/// element of the region, row by row (⚠ the order inside a group of 8 columns follows g++'s
/// right-to-left argument evaluation, which makes it sequential).
pub fn dropout_mask(p: f32, mask: &mut [bool]) {
    let mut rng = Mt19937::new(Mt19937::DEFAULT_SEED);
    for m in mask.iter_mut() {
        *m = rng.bernoulli(p as f64);
    }
}

/// Golden's relu (golden-ops.md §6.4), in place.
pub fn relu(values: &mut [f32], mode: Option<ReluMode>, threshold: f32) {
    let mode = match mode {
        Some(ReluMode::Max) => compute::ReluMode::Max,
        _ => compute::ReluMode::Min,
    };
    compute::apply_relu(values, mode, threshold)
}

/// A binary op (golden-ops.md §7).
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
    pub fn from_name(name: &str, zero_point: Option<f32>) -> Option<Binary> {
        let zp = zero_point.unwrap_or(0.0);
        Some(match name {
            "quantization" => Binary::Quantization(zp),
            "requantization" => Binary::Requantization(zp),
            "dequantization" => Binary::Dequantization(zp),
            _ => Binary::Plain(BinaryOp::from_name(name)?),
        })
    }

    /// Whether the pipeline forces an Int8 output.
    pub fn forces_int8(self) -> bool {
        matches!(self, Binary::Quantization(_) | Binary::Requantization(_))
    }
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
    match op {
        Binary::Plain(op) => compute::apply_binary(op, a, b)?,
        Binary::Quantization(zp) | Binary::Requantization(zp) => {
            for (x, &y) in a.iter_mut().zip(b) {
                *x = mul0(*x, y) + zp;
            }
        }
        Binary::Dequantization(zp) => {
            // The parser stores -zp and golden adds it.
            let neg = -zp;
            for (x, &y) in a.iter_mut().zip(b) {
                *x = mul0(*x + neg, y);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mt19937_reference_value() {
        // The C++ standard requires the 10000th output of a default-seeded mt19937.
        let mut rng = Mt19937::new(Mt19937::DEFAULT_SEED);
        let mut v = 0;
        for _ in 0..10000 {
            v = rng.next_u32();
        }
        assert_eq!(v, 4_123_659_995);
    }

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
