//! An independent reference of the Buda golden model (notes/golden-ops.md), for tests only.
//!
//! It computes one op at a time on whole tensors `[z][rows][cols]` (rows = rt*32, cols = ct*32)
//! in f64, with its own small quantizers. It shares no code with the engine in `src/`, so the
//! two cannot share a bug. Points where golden quantizes (queue pushes, integer and Bfp2/Bfp4
//! outputs, Tf32 inputs on Wormhole) are modelled with f32 bit manipulations; everything else
//! is plain f64 arithmetic, so results differ from golden's f32 math by rounding only.
//!
//! Tiles are 32x32 here. A queue with smaller tiles (`tile_dim`) holds each entry the way golden
//! does: every value of the host's entry in the top-left `tile_dim` corner of a 32x32 tile, the
//! rest 0 ([`spread_small_tiles`]).
#![allow(dead_code)]

use ttrt::format::{Arch, DataFormat};
use ttrt::netlist::{Dim, InputPad, InputUnpad, Netlist, ReluMode, Tm};

pub const TILE: usize = 32;
const FLT_MAX: f64 = f32::MAX as f64;
const FLT_EPSILON: f64 = f32::EPSILON as f64;

/// Why the reference could not evaluate something.
#[derive(Clone, Debug, PartialEq)]
pub enum RefError {
    /// A feature the reference does not model (the driver lists these, it does not fail them).
    Unsupported(String),
    /// The netlist asks for something golden would reject (shape mismatch, bad attribute).
    Invalid(String),
    /// A read of a queue slot nothing has written yet (the program order is wrong for it, or
    /// the slot holds device memory that was never initialized).
    Unwritten(String),
    /// The device refuses the netlist at initialize (the driver checks that it does).
    Refused(String),
}

impl std::fmt::Display for RefError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RefError::Unsupported(m) => write!(f, "unsupported: {m}"),
            RefError::Invalid(m) => write!(f, "invalid: {m}"),
            RefError::Unwritten(m) => write!(f, "unwritten: {m}"),
            RefError::Refused(m) => write!(f, "refused: {m}"),
        }
    }
}

pub type RefResult<T> = Result<T, RefError>;

pub fn unsupported<T>(msg: impl Into<String>) -> RefResult<T> {
    Err(RefError::Unsupported(msg.into()))
}

pub fn invalid<T>(msg: impl Into<String>) -> RefResult<T> {
    Err(RefError::Invalid(msg.into()))
}

/// A whole tensor of one queue entry or op output: `z` slices of `rows x cols` elements,
/// row-major, plus golden's format tag (which decides later quantization).
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    pub z: usize,
    pub rows: usize,
    pub cols: usize,
    pub data: Vec<f64>,
    pub tag: DataFormat,
}

impl Tensor {
    /// All zeros, `z x rt x ct` tiles.
    pub fn zeros(z: usize, rt: usize, ct: usize, tag: DataFormat) -> Tensor {
        Tensor::filled(z, rt * TILE, ct * TILE, 0.0, tag)
    }

    /// `z` slices of `rows x cols` elements, all `v`.
    pub fn filled(z: usize, rows: usize, cols: usize, v: f64, tag: DataFormat) -> Tensor {
        Tensor {
            z,
            rows,
            cols,
            data: vec![v; z * rows * cols],
            tag,
        }
    }

    /// A tensor from row-major values; panics if the length does not fit.
    pub fn from_vec(z: usize, rows: usize, cols: usize, data: Vec<f64>, tag: DataFormat) -> Tensor {
        assert_eq!(data.len(), z * rows * cols, "tensor data length");
        Tensor {
            z,
            rows,
            cols,
            data,
            tag,
        }
    }

    pub fn rt(&self) -> usize {
        self.rows / TILE
    }
    pub fn ct(&self) -> usize {
        self.cols / TILE
    }
    pub fn idx(&self, z: usize, r: usize, c: usize) -> usize {
        (z * self.rows + r) * self.cols + c
    }
    pub fn at(&self, z: usize, r: usize, c: usize) -> f64 {
        self.data[self.idx(z, r, c)]
    }
    pub fn set(&mut self, z: usize, r: usize, c: usize, v: f64) {
        let i = self.idx(z, r, c);
        self.data[i] = v;
    }
    /// `(z, rt, ct)` in tiles, for messages and shape checks.
    pub fn dims(&self) -> (usize, usize, usize) {
        (self.z, self.rt(), self.ct())
    }

    /// A tensor of the given shape whose element `(z, r, c)` is `f(z, r, c)`.
    pub fn build(
        z: usize,
        rows: usize,
        cols: usize,
        tag: DataFormat,
        f: impl Fn(usize, usize, usize) -> f64,
    ) -> Tensor {
        let mut data = Vec::with_capacity(z * rows * cols);
        for zi in 0..z {
            for r in 0..rows {
                for c in 0..cols {
                    data.push(f(zi, r, c));
                }
            }
        }
        Tensor::from_vec(z, rows, cols, data, tag)
    }

    /// Applies `f` to every element.
    pub fn map(&self, f: impl Fn(f64) -> f64) -> Tensor {
        Tensor {
            data: self.data.iter().map(|&x| f(x)).collect(),
            ..self.clone()
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Quantizers (golden-ops.md section 2)
// ---------------------------------------------------------------------------------------------

fn f32_bits(x: f64) -> u32 {
    (x as f32).to_bits()
}

fn from_bits(b: u32) -> f64 {
    f32::from_bits(b) as f64
}

/// Float16_b: keep the top 16 bits of the f32 value (truncation).
pub fn q_bf16(x: f64) -> f64 {
    from_bits(f32_bits(x) & 0xFFFF_0000)
}

/// Tf32: keep a 10-bit mantissa (truncation).
pub fn q_tf32(x: f64) -> f64 {
    from_bits(f32_bits(x) & 0xFFFF_E000)
}

/// The "a" 5-bit-exponent formats: Float16 (`mantissa_mask` keeps 10 bits) and Lf8 (2 bits).
/// Below 2^-14 flushes to a signed zero; above 2^16 exponent saturates to the largest value.
fn q_fp_a(x: f64, mantissa_bits: u32) -> f64 {
    let b = f32_bits(x);
    let sign = b & 0x8000_0000;
    let e = ((b >> 23) & 0xFF) as i32 - 127;
    let drop = 23 - mantissa_bits;
    let mask = !((1u32 << drop) - 1);
    if e <= -15 {
        from_bits(sign)
    } else if e > 16 {
        from_bits(sign | ((16 + 127) << 23) | (0x007F_FFFF & mask))
    } else {
        from_bits(b & mask)
    }
}

/// Float16 ("fp16_a"): 5-bit exponent, 10-bit mantissa, truncated, no inf.
pub fn q_fp16a(x: f64) -> f64 {
    q_fp_a(x, 10)
}

/// Round half away from zero.
pub fn round_half_away(x: f64) -> f64 {
    x.round()
}

/// Round half to even.
pub fn round_half_even(x: f64) -> f64 {
    let r = x.round();
    if (x - x.trunc()).abs() == 0.5 && r % 2.0 != 0.0 {
        r - x.signum()
    } else {
        r
    }
}

/// Golden's integer round trips (Int8 symmetric ±127, UInt8, UInt16, Int32 asymmetric).
pub fn q_int(x: f64, df: DataFormat) -> f64 {
    let x = x as f32 as f64;
    if x.is_nan() {
        return 0.0;
    }
    match df {
        DataFormat::Int8 => round_half_away(x).clamp(-127.0, 127.0),
        DataFormat::UInt8 => round_half_away(x).clamp(0.0, 255.0),
        DataFormat::UInt16 => round_half_away(x).clamp(0.0, 65535.0),
        DataFormat::Int32 => {
            if x >= 0.0 {
                x.trunc().min(4294967295.0)
            } else {
                -round_half_away((-x).min(2147483648.0))
            }
        }
        _ => x,
    }
}

/// Block float parameters: (rounding shift, largest magnitude code, mantissa power, "_b").
fn bfp_params(df: DataFormat) -> Option<(u32, u32, i32, bool)> {
    match df {
        DataFormat::Bfp8B => Some((17, 127, 6, true)),
        DataFormat::Bfp4B => Some((21, 7, 2, true)),
        DataFormat::Bfp2B => Some((23, 1, 0, true)),
        DataFormat::Bfp8 => Some((17, 127, 6, false)),
        DataFormat::Bfp4 => Some((21, 7, 2, false)),
        DataFormat::Bfp2 => Some((23, 1, 0, false)),
        _ => None,
    }
}

/// Rounds one block of up to 16 values to a block float format sharing one exponent.
pub fn q_bfp_block(block: &mut [f64], df: DataFormat) {
    let (shift, qmax, p, is_b) = bfp_params(df).expect("a block float format");
    // Per element: (sign, exponent in the format's bias, 24-bit mantissa), None for zero.
    let parts: Vec<Option<(bool, i32, u64)>> = block
        .iter()
        .map(|&x| {
            let b = f32_bits(x);
            if b & 0x7FFF_FFFF == 0 {
                return None;
            }
            let sign = b >> 31 == 1;
            let e8 = ((b >> 23) & 0xFF) as i32;
            let mut m = u64::from((1 << 23) | (b & 0x007F_FFFF));
            let mut e = e8;
            if !is_b {
                e = e8 - 112;
                if e > 31 {
                    e = 31;
                    m = 0x00FF_FFFF;
                } else if e < 0 {
                    e = 0;
                    m = 1 << 23;
                }
            }
            Some((sign, e, m))
        })
        .collect();
    // Shared exponent: the maximum field (zeros and denormals count as 0).
    let shared = block
        .iter()
        .map(|&x| {
            let e8 = ((f32_bits(x) >> 23) & 0xFF) as i32;
            if is_b {
                e8
            } else {
                (e8 - 112).clamp(0, 31)
            }
        })
        .max()
        .unwrap_or(0);
    let bias = if is_b { 127 } else { 15 };
    let scale = 2f64.powi(shared - bias - p);
    for (v, part) in block.iter_mut().zip(parts) {
        *v = match part {
            None => 0.0,
            Some((sign, e, m)) => {
                let d = (shared - e) as u32;
                let aligned = if d >= 31 { 0 } else { m >> d };
                let q = ((aligned + (1 << (shift - 1))) >> shift).min(u64::from(qmax));
                let mag = q as f64 * scale;
                if sign && q != 0 {
                    -mag
                } else {
                    mag
                }
            }
        };
    }
}

/// Rounds every value of `t` the way golden's tile round trip through `df` does, and tags it.
/// Bfp blocks are 16 consecutive columns of one row starting at a multiple of 16 (one face row
/// of a tile).
pub fn quantize(t: &mut Tensor, df: DataFormat) -> RefResult<()> {
    match df {
        DataFormat::Float32
        | DataFormat::RawUInt8
        | DataFormat::RawUInt16
        | DataFormat::RawUInt32 => {}
        DataFormat::Tf32 => t.data.iter_mut().for_each(|x| *x = q_tf32(*x)),
        DataFormat::Float16B => t.data.iter_mut().for_each(|x| *x = q_bf16(*x)),
        DataFormat::Float16 => t.data.iter_mut().for_each(|x| *x = q_fp16a(*x)),
        DataFormat::Lf8 => t.data.iter_mut().for_each(|x| *x = q_fp_a(*x, 2)),
        DataFormat::Int8 | DataFormat::UInt8 | DataFormat::UInt16 | DataFormat::Int32 => {
            t.data.iter_mut().for_each(|x| *x = q_int(*x, df))
        }
        _ if bfp_params(df).is_some() => {
            for row in t.data.chunks_mut(t.cols) {
                for block in row.chunks_mut(16) {
                    q_bfp_block(block, df);
                }
            }
        }
        _ => return unsupported(format!("quantizing to {}", df.name())),
    }
    t.tag = df;
    Ok(())
}

/// What `get_output` hands the host for a value stored in a queue of format `df` (section 3).
pub fn to_host(x: f64, df: DataFormat) -> f64 {
    let sat = |lo: f64, hi: f64| {
        if x.is_nan() {
            0.0
        } else {
            round_half_even(x as f32 as f64).clamp(lo, hi)
        }
    };
    match df {
        DataFormat::Float16B | DataFormat::Bfp8B | DataFormat::Bfp4B | DataFormat::Bfp2B => {
            q_bf16(x)
        }
        DataFormat::Float16 | DataFormat::Bfp8 | DataFormat::Bfp4 | DataFormat::Bfp2 => q_fp16a(x),
        DataFormat::Int8 => sat(-128.0, 127.0),
        DataFormat::UInt8 => sat(0.0, 255.0),
        DataFormat::UInt16 => sat(0.0, 65535.0),
        DataFormat::Int32 => {
            let r = round_half_even(x as f32 as f64);
            if x.is_nan() || !(-2147483648.0..2147483648.0).contains(&r) {
                -2147483648.0
            } else {
                r
            }
        }
        _ => x as f32 as f64,
    }
}

/// The host data format `get_output` returns for a queue of format `df`.
pub fn host_format(df: DataFormat) -> DataFormat {
    match df {
        DataFormat::Float16B | DataFormat::Bfp8B | DataFormat::Bfp4B | DataFormat::Bfp2B => {
            DataFormat::Float16B
        }
        DataFormat::Float16 | DataFormat::Bfp8 | DataFormat::Bfp4 | DataFormat::Bfp2 => {
            DataFormat::Float16
        }
        other => other,
    }
}

pub fn is_int(df: DataFormat) -> bool {
    matches!(
        df,
        DataFormat::Int8 | DataFormat::UInt8 | DataFormat::UInt16 | DataFormat::Int32
    )
}

// ---------------------------------------------------------------------------------------------
// TMs (section 5)
// ---------------------------------------------------------------------------------------------

/// Applies one TM to a whole tensor.
pub fn apply_tm(x: &Tensor, tm: &Tm) -> RefResult<Tensor> {
    let (z, rows, cols, tag) = (x.z, x.rows, x.cols, x.tag);
    let div = |n: usize, f: u32, what: &str| -> RefResult<usize> {
        let f = f as usize;
        if f == 0 || n % f != 0 {
            invalid(format!("{what}: {n} is not divisible by {f}"))
        } else {
            Ok(n / f)
        }
    };
    Ok(match *tm {
        Tm::Broadcast { dim, factor } => {
            let n = factor as usize;
            match dim {
                Dim::R => Tensor::build(z, rows * n, cols, tag, |zi, r, c| x.at(zi, r % rows, c)),
                Dim::C => Tensor::build(z, rows, cols * n, tag, |zi, r, c| x.at(zi, r, c % cols)),
                Dim::Z => Tensor::build(z * n, rows, cols, tag, |zi, r, c| x.at(zi % z, r, c)),
                Dim::Rc => return invalid("broadcast over rc"),
            }
        }
        Tm::Hslice(n) => {
            let ct = div(x.ct(), n, "hslice")?;
            let w = ct * TILE;
            let n = n as usize;
            Tensor::build(z * n, rows, w, tag, |zo, r, c| {
                x.at(zo / n, r, c + (zo % n) * w)
            })
        }
        Tm::Hstack(n) => {
            let n = if n == 0 { z as u32 } else { n };
            let zo = div(z, n, "hstack")?;
            let n = n as usize;
            Tensor::build(zo, rows, cols * n, tag, |zi, r, c| {
                x.at(zi * n + c / cols, r, c % cols)
            })
        }
        Tm::Vslice(n) => {
            let rt = div(x.rt(), n, "vslice")?;
            let h = rt * TILE;
            let n = n as usize;
            Tensor::build(z * n, h, cols, tag, |zo, r, c| {
                x.at(zo / n, r + (zo % n) * h, c)
            })
        }
        Tm::Vstack(n) => {
            let n = if n == 0 { z as u32 } else { n };
            let zo = div(z, n, "vstack")?;
            let n = n as usize;
            Tensor::build(zo, rows * n, cols, tag, |zi, r, c| {
                x.at(zi * n + r / rows, r % rows, c)
            })
        }
        Tm::Transpose => Tensor::build(z, cols, rows, tag, |zi, r, c| x.at(zi, c, r)),
        Tm::TileBroadcast(dim) => match dim {
            Dim::R => Tensor::build(z, rows, cols, tag, |zi, r, c| x.at(zi, r - r % TILE, c)),
            Dim::C => Tensor::build(z, rows, cols, tag, |zi, r, c| x.at(zi, r, c - c % TILE)),
            _ => return invalid("tile_broadcast over z or rc"),
        },
        Tm::Pad { rt, ct, value } => pad(x, rt as usize, ct as usize, f64::from(value)),
    })
}

/// Appends `rt` tile rows and `ct` tile columns filled with `value`.
pub fn pad(x: &Tensor, rt: usize, ct: usize, value: f64) -> Tensor {
    Tensor::build(
        x.z,
        x.rows + rt * TILE,
        x.cols + ct * TILE,
        x.tag,
        |zi, r, c| {
            if r < x.rows && c < x.cols {
                x.at(zi, r, c)
            } else {
                value
            }
        },
    )
}

/// Removes `rt` tile rows and `ct` tile columns from the bottom and right.
pub fn unpad(x: &Tensor, rt: usize, ct: usize) -> RefResult<Tensor> {
    if rt >= x.rt() || ct >= x.ct() {
        return invalid(format!("unpad {rt}x{ct} of a {:?} tensor", x.dims()));
    }
    let (rows, cols) = (x.rows - rt * TILE, x.cols - ct * TILE);
    Ok(Tensor::build(x.z, rows, cols, x.tag, |zi, r, c| {
        x.at(zi, r, c)
    }))
}

/// One op input after unpad, its TM list and pad (section 1 steps 2-4).
pub fn prepare_input(
    x: &Tensor,
    unpad_by: Option<&InputUnpad>,
    tms: &[Tm],
    pad_by: Option<&InputPad>,
) -> RefResult<Tensor> {
    let mut t = match unpad_by {
        Some(u) => unpad(x, u.rt as usize, u.ct as usize)?,
        None => x.clone(),
    };
    for tm in tms {
        t = apply_tm(&t, tm)?;
    }
    if let Some(p) = pad_by {
        t = pad(&t, p.rt as usize, p.ct as usize, f64::from(p.pad_value));
    }
    Ok(t)
}

/// Golden's op input quantization (section 3): Bfp2/Bfp4 tags are re-rounded; on Wormhole a
/// Float32 tag becomes Tf32 and is truncated.
pub fn quantize_op_input(t: &mut Tensor, arch: Arch) -> RefResult<()> {
    match t.tag {
        DataFormat::Bfp2 | DataFormat::Bfp2B | DataFormat::Bfp4 | DataFormat::Bfp4B => {
            quantize(t, t.tag)
        }
        DataFormat::Float32 if arch == Arch::WormholeB0 => quantize(t, DataFormat::Tf32),
        _ => Ok(()),
    }
}

// ---------------------------------------------------------------------------------------------
// Element functions (sections 6 and 7)
// ---------------------------------------------------------------------------------------------

fn gelu(x: f64) -> f64 {
    let k = (2.0 / std::f64::consts::PI).sqrt();
    0.5 * x * (1.0 + (k * (x + 0.044715 * x * x * x)).tanh())
}

fn gelu_derivative(x: f64) -> f64 {
    let k = (2.0 / std::f64::consts::PI).sqrt();
    0.5 * (1.0 + (k * (x + 0.044715 * x * x * x)).tanh()) + x * (-0.5 * x * x).exp() * (0.5 * k)
}

fn exp_clamped(x: f64) -> f64 {
    if x.is_nan() {
        FLT_MAX
    } else {
        x.exp().min(FLT_MAX)
    }
}

/// The parameters an SFPU function reads from its op.
#[derive(Clone, Copy, Debug, Default)]
pub struct SfpuParams {
    pub exponent: i64,
    pub slope: f64,
}

/// The golden formula of an SFPU op on one value, or None for an op that is not an SFPU op.
pub fn sfpu(op: &str, x: f64, p: SfpuParams) -> RefResult<Option<f64>> {
    Ok(Some(match op {
        "exp" => exp_clamped(x),
        "log" => {
            if x == 0.0 {
                FLT_EPSILON.ln()
            } else {
                x.ln()
            }
        }
        "sqrt" => {
            if x.is_nan() || x < 0.0 {
                return invalid(format!("sqrt of {x}: golden stops with a fatal error"));
            }
            x.sqrt()
        }
        "gelu" => gelu(x),
        "gelu_derivative" => gelu_derivative(x),
        "reciprocal" => {
            if x == 0.0 {
                1.0 / FLT_EPSILON
            } else {
                1.0 / x
            }
        }
        "sigmoid" => 1.0 / (1.0 + exp_clamped(-x)),
        "tanh" => x.tanh(),
        "square" => x * x,
        "power" => {
            let mut r = 1.0;
            for _ in 0..p.exponent.max(0) {
                r *= x;
            }
            r
        }
        "sine" => x.sin(),
        "cosine" => x.cos(),
        "lrelu" => {
            if x > 0.0 {
                x
            } else {
                x * p.slope
            }
        }
        "abs" => x.abs(),
        "dropout" => return unsupported("dropout (golden's mask follows libstdc++'s mt19937)"),
        _ => return Ok(None),
    }))
}

/// Whether element `(r, c)` lies in the region an SFPU op with vector mode `v` computes.
pub fn in_vector_region(v: Option<Dim>, r: usize, c: usize) -> bool {
    match v {
        Some(Dim::R) => r % TILE < 4,
        Some(Dim::C) => c % TILE < 16,
        _ => true,
    }
}

/// Applies an SFPU op over its vector-mode region; the rest of the output is 0.
pub fn sfpu_tensor(op: &str, x: &Tensor, v: Option<Dim>, p: SfpuParams) -> RefResult<Tensor> {
    let mut out = Tensor::filled(x.z, x.rows, x.cols, 0.0, x.tag);
    for zi in 0..x.z {
        for r in 0..x.rows {
            for c in 0..x.cols {
                if in_vector_region(v, r, c) {
                    let y = sfpu(op, x.at(zi, r, c), p)?.expect("an SFPU op");
                    out.set(zi, r, c, y);
                }
            }
        }
    }
    Ok(out)
}

/// relu after an op (section 6.4).
pub fn relu(x: f64, mode: Option<ReluMode>, threshold: f64) -> f64 {
    match mode {
        Some(ReluMode::Max) => {
            if x >= threshold {
                threshold
            } else if x >= 0.0 {
                x
            } else {
                0.0
            }
        }
        _ => {
            if x >= threshold {
                x
            } else {
                0.0
            }
        }
    }
}

/// Golden's multiply with its zero rule: a +0.0 operand gives +0.0 (so +0 * inf = +0).
pub fn mul0(a: f64, b: f64) -> f64 {
    let pos_zero = |v: f64| v == 0.0 && v.is_sign_positive();
    if pos_zero(a) || pos_zero(b) {
        0.0
    } else {
        a * b
    }
}

/// A binary op on one pair of values; `zp` is the op's zero point (as written).
pub fn binary(op: &str, a: f64, b: f64, zp: f64) -> Option<f64> {
    Some(match op {
        "add" => a + b,
        "subtract" => a - b,
        "multiply" => mul0(a, b),
        "maximum" => {
            if a > b {
                a
            } else {
                b
            }
        }
        "quantization" | "requantization" => mul0(a, b) + zp,
        "dequantization" => mul0(a - zp, b),
        _ => return None,
    })
}

/// Elementwise binary op on equal shapes.
pub fn binary_tensor(op: &str, a: &Tensor, b: &Tensor, zp: f64) -> RefResult<Tensor> {
    if a.dims() != b.dims() {
        return invalid(format!(
            "{op}: input shapes {:?} and {:?} differ",
            a.dims(),
            b.dims()
        ));
    }
    let data = a
        .data
        .iter()
        .zip(&b.data)
        .map(|(&x, &y)| binary(op, x, y, zp).expect("a binary op"))
        .collect();
    Ok(Tensor { data, ..a.clone() })
}

// ---------------------------------------------------------------------------------------------
// matmul and reduce (sections 8 and 9)
// ---------------------------------------------------------------------------------------------

/// Plain matmul of every z slice of `a` with the same slice of `b`.
pub fn matmul(a: &Tensor, b: &Tensor) -> RefResult<Tensor> {
    if a.cols != b.rows || b.z < a.z {
        return invalid(format!(
            "matmul of {:?} by {:?} (tiles z, rt, ct)",
            a.dims(),
            b.dims()
        ));
    }
    let mut out = Tensor::filled(a.z, a.rows, b.cols, 0.0, a.tag);
    for zi in 0..a.z {
        for i in 0..a.rows {
            for k in 0..a.cols {
                let av = a.at(zi, i, k);
                if av == 0.0 {
                    continue;
                }
                let brow = b.idx(zi, k, 0);
                let orow = out.idx(zi, i, 0);
                for j in 0..b.cols {
                    out.data[orow + j] += av * b.data[brow + j];
                }
            }
        }
    }
    Ok(out)
}

/// Sums groups of `n` consecutive z slices.
pub fn accumulate_z(x: &Tensor, n: usize) -> RefResult<Tensor> {
    if n == 0 || x.z % n != 0 {
        return invalid(format!("accumulate z by {n} over {} slices", x.z));
    }
    Ok(Tensor::build(x.z / n, x.rows, x.cols, x.tag, |zi, r, c| {
        (0..n).map(|k| x.at(zi * n + k, r, c)).sum()
    }))
}

/// reduce max over `dim` (r, c, rc, or z in groups of `zn`).
pub fn reduce_max(x: &Tensor, dim: Dim, zn: usize) -> RefResult<Tensor> {
    let pick = |acc: f64, v: f64| if acc < v { v } else { acc };
    match dim {
        Dim::C => {
            let mut out = Tensor::filled(x.z, x.rows, TILE, 0.0, x.tag);
            for zi in 0..x.z {
                for r in 0..x.rows {
                    let m = (0..x.cols).fold(f64::NEG_INFINITY, |a, c| pick(a, x.at(zi, r, c)));
                    out.set(zi, r, 0, m);
                }
            }
            Ok(out)
        }
        Dim::R => {
            let mut out = Tensor::filled(x.z, TILE, x.cols, 0.0, x.tag);
            for zi in 0..x.z {
                for c in 0..x.cols {
                    let m = (0..x.rows).fold(f64::NEG_INFINITY, |a, r| pick(a, x.at(zi, r, c)));
                    out.set(zi, 0, c, m);
                }
            }
            Ok(out)
        }
        Dim::Rc => {
            let mut out = Tensor::filled(x.z, TILE, TILE, 0.0, x.tag);
            for zi in 0..x.z {
                let m = (0..x.rows * x.cols).fold(f64::NEG_INFINITY, |a, i| {
                    pick(a, x.at(zi, i / x.cols, i % x.cols))
                });
                out.set(zi, 0, 0, m);
            }
            Ok(out)
        }
        Dim::Z => {
            if zn == 0 || x.z % zn != 0 {
                return invalid(format!("reduce z by {zn} over {} slices", x.z));
            }
            Ok(Tensor::build(
                x.z / zn,
                x.rows,
                x.cols,
                x.tag,
                |zi, r, c| {
                    let mut acc = x.at(zi * zn, r, c);
                    for k in 1..zn {
                        let v = x.at(zi * zn + k, r, c);
                        acc = if v < acc { acc } else { v };
                    }
                    acc
                },
            ))
        }
    }
}

/// The arch the backend simulates for a netlist created with the default config: its first.
pub fn netlist_arch(n: &Netlist) -> Arch {
    n.devices.arch.first().copied().unwrap_or(Arch::Grayskull)
}

// ---------------------------------------------------------------------------------------------
// Tiles smaller than 32x32 (golden-ops.md section 4, "Tiny tiles")
// ---------------------------------------------------------------------------------------------

/// A host entry of `th x tw` tiles (`rows = rt*th`, `cols = ct*tw`) in golden's 32x32 tiles:
/// host element (R, C) at row `R/th*32 + R%th`, column `C/tw*32 + C%tw`, zeros elsewhere.
pub fn spread_small_tiles(host: &Tensor, th: usize, tw: usize) -> Tensor {
    let (rt, ct) = (host.rows / th, host.cols / tw);
    let mut out = Tensor::zeros(host.z, rt, ct, host.tag);
    for z in 0..host.z {
        for r in 0..host.rows {
            for c in 0..host.cols {
                out.set(
                    z,
                    r / th * TILE + r % th,
                    c / tw * TILE + c % tw,
                    host.at(z, r, c),
                );
            }
        }
    }
    out
}

/// What the host reads back from a queue of `th x tw` tiles: the top-left `th x tw` corner of
/// every 32x32 tile, packed (`rows = rt*th`, `cols = ct*tw`).
pub fn gather_small_tiles(t: &Tensor, th: usize, tw: usize) -> Tensor {
    let (rt, ct) = (t.rows / TILE, t.cols / TILE);
    Tensor::build(t.z, rt * th, ct * tw, t.tag, |z, r, c| {
        t.at(z, r / th * TILE + r % th, c / tw * TILE + c % tw)
    })
}

/// Golden's clearing after an op whose input 0 has `th x tw` tiles: every value outside the
/// top-left `th x tw` of its tile is multiplied by a 0 mask (0 times inf is 0, NaN stays).
pub fn clear_outside_tile(t: &mut Tensor, th: usize, tw: usize) {
    for z in 0..t.z {
        for r in 0..t.rows {
            for c in 0..t.cols {
                if r % TILE >= th || c % TILE >= tw {
                    let v = t.at(z, r, c);
                    let cleared = if v.is_nan() {
                        v
                    } else if v.is_infinite() {
                        0.0
                    } else {
                        v * 0.0
                    };
                    t.set(z, r, c, cleared);
                }
            }
        }
    }
}
