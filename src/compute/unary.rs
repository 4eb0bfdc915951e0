//! Elementwise unary ops: the simulated chip's [`UnaryOp`], and [`Sfpu`], every unary op of a
//! netlist with its attributes (golden-ops.md §6).

use core::fmt;

use super::ComputeError;

/// Elementwise unary ops of the golden model (golden-ops.md §6.1, §6.2, §6.4).
///
/// | Op | fp32 result for `x` |
/// |---|---|
/// | `Identity` | `x` (datacopy, nop: the bits pass through unchanged) |
/// | `Relu` | `x >= 0 ? x : +0` (§6.4 with threshold 0): `-0.0` is kept, NaN gives `+0` |
/// | `Gelu` | in double: `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`, stored as float |
/// | `Exp` | `min(FLT_MAX, expf(x))`: `+inf` and NaN give `FLT_MAX` |
/// | `Log` | `±0` gives `logf(FLT_EPSILON)` ≈ -15.942385; `x < 0` gives NaN; else `logf(x)` |
/// | `Sqrt` | `sqrtf(x)` (`sqrt(-0) = -0`); NaN or `x < 0` is an error |
/// | `Reciprocal` | `±0` gives `+8388608` (`1/FLT_EPSILON`); else `1.0/x` in double; a NaN or `-inf` result is an error |
/// | `Sigmoid` | in double: `1/(1 + Exp(-x))`; NaN and `-inf` give `1/(1 + FLT_MAX)` ≈ 2.94e-39 |
/// | `Tanh` | `tanhf(x)` |
/// | `Abs` | `fabsf(x)`: the sign bit cleared, NaN included |
/// | `Square` | `x·x` in fp32 |
/// | `Neg` | not a golden op (TT-Metal's `neg`): IEEE negation, the sign bit flipped, NaN included |
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    Identity = 0,
    Relu,
    Gelu,
    Exp,
    Log,
    Sqrt,
    Reciprocal,
    Sigmoid,
    Tanh,
    Abs,
    Square,
    Neg,
}

impl UnaryOp {
    /// Every op, in value order.
    pub const ALL: [UnaryOp; 12] = [
        UnaryOp::Identity,
        UnaryOp::Relu,
        UnaryOp::Gelu,
        UnaryOp::Exp,
        UnaryOp::Log,
        UnaryOp::Sqrt,
        UnaryOp::Reciprocal,
        UnaryOp::Sigmoid,
        UnaryOp::Tanh,
        UnaryOp::Abs,
        UnaryOp::Square,
        UnaryOp::Neg,
    ];

    /// The op's name in messages: Buda's spelling (`Identity` is `datacopy`), TT-Metal's for
    /// `neg`. Netlist op types are parsed by `netlist::OpType`.
    pub const fn name(self) -> &'static str {
        match self {
            UnaryOp::Identity => "datacopy",
            UnaryOp::Relu => "relu",
            UnaryOp::Gelu => "gelu",
            UnaryOp::Exp => "exp",
            UnaryOp::Log => "log",
            UnaryOp::Sqrt => "sqrt",
            UnaryOp::Reciprocal => "reciprocal",
            UnaryOp::Sigmoid => "sigmoid",
            UnaryOp::Tanh => "tanh",
            UnaryOp::Abs => "abs",
            UnaryOp::Square => "square",
            UnaryOp::Neg => "neg",
        }
    }

    pub fn from_u32(v: u32) -> Option<UnaryOp> {
        UnaryOp::ALL.iter().copied().find(|op| *op as u32 == v)
    }

    /// The op named `name` ([`UnaryOp::name`]); `nop` and `ethernet_datacopy` are `Identity`
    /// too. Netlists do not come through here: their op types are `netlist::OpType`.
    pub fn from_name(name: &str) -> Option<UnaryOp> {
        match name {
            "nop" | "ethernet_datacopy" => Some(UnaryOp::Identity),
            _ => UnaryOp::ALL.iter().copied().find(|op| op.name() == name),
        }
    }
}

impl fmt::Display for UnaryOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How relu clamps (`relu_mode`, golden-ops.md §6.4).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ReluMode {
    /// `x >= threshold ? x : 0` (also what no mode means).
    #[default]
    Min,
    /// `x >= threshold ? threshold : (x >= 0 ? x : 0)`: clamp to `[0, threshold]`, NaN gives 0.
    Max,
}

/// Golden's relu step (`relu_en`, applied after the op and before output quantization):
/// compares with `>=`, so with threshold 0 a `-0.0` is kept and NaN becomes `+0`.
pub fn apply_relu(values: &mut [f32], mode: ReluMode, threshold: f32) {
    match mode {
        ReluMode::Min => {
            for v in values {
                *v = if *v >= threshold { *v } else { 0.0 };
            }
        }
        ReluMode::Max => {
            for v in values {
                *v = if *v >= threshold {
                    threshold
                } else if *v >= 0.0 {
                    *v
                } else {
                    0.0
                };
            }
        }
    }
}

/// `√(2/π)` as golden spells it, `M_2_SQRTPI / M_SQRT2`, folded in double.
const SQRT_2_OVER_PI: f64 = core::f64::consts::FRAC_2_SQRT_PI / core::f64::consts::SQRT_2;

/// glibc's `expf`, correctly rounded but for rare cases: see the module comment.
#[inline]
fn expf(x: f32) -> f32 {
    libm::exp(x as f64) as f32
}

/// glibc's `logf`, as `expf`.
#[inline]
fn logf(x: f32) -> f32 {
    libm::log(x as f64) as f32
}

/// Golden's `exp`: `std::min(FLT_MAX, expf(x))`, which returns `expf(x)` only when it is below
/// `FLT_MAX`, so `+inf` and NaN both give `FLT_MAX`.
#[inline]
fn exp(x: f32) -> f32 {
    let e = expf(x);
    if e < f32::MAX {
        e
    } else {
        f32::MAX
    }
}

#[inline]
fn log(x: f32) -> f32 {
    // Golden avoids -inf for a zero by taking the log of the smallest step above 1 instead.
    logf(if x == 0.0 { f32::EPSILON } else { x })
}

/// In double as golden. `x³` is `(x·x)·x`: `x·x` of a float is exact in double, so this is the
/// correctly rounded cube, which glibc's `pow(x, 3)` returns but in rare cases. g++ with `-mfma`
/// contracts `x + 0.044715·x³` into one FMA (golden-ops.md §14.5 leaves it unverified; on 10^7
/// random inputs the float result is the same either way).
#[inline]
fn gelu(x: f32) -> f32 {
    let x = x as f64;
    let cube = x * x * x;
    let inner = fma64(0.044715, cube, x);
    (0.5 * x * (1.0 + libm::tanh(SQRT_2_OVER_PI * inner))) as f32
}

#[inline]
fn sigmoid(x: f32) -> f32 {
    (1.0 / (1.0 + exp(-x) as f64)) as f32
}

/// Reciprocal without golden's checks: `1/FLT_EPSILON` for either zero, else `1.0/x` in double.
#[inline]
fn reciprocal(x: f32) -> f32 {
    if x == 0.0 {
        (1.0 / f32::EPSILON as f64) as f32
    } else {
        (1.0 / x as f64) as f32
    }
}

/// What golden rejects about the reciprocal of `x`, if anything.
fn reciprocal_rejects(x: f32) -> Option<&'static str> {
    let r = reciprocal(x);
    if r.is_nan() {
        Some("a NaN result")
    } else if r == f32::NEG_INFINITY {
        Some("a result of -inf")
    } else {
        None
    }
}

/// What golden rejects about the square root of `x`, if anything.
fn sqrt_rejects(x: f32) -> Option<&'static str> {
    if x.is_nan() {
        Some("a NaN input")
    } else if x < 0.0 {
        Some("a negative input (its square root is NaN)")
    } else {
        None
    }
}

/// Checks every value before anything is written, so a rejected slice stays as it was.
fn check(
    op: UnaryOp,
    values: &[f32],
    rejects: fn(f32) -> Option<&'static str>,
) -> Result<(), ComputeError> {
    for (index, &input) in values.iter().enumerate() {
        if let Some(reason) = rejects(input) {
            return Err(ComputeError::Rejected {
                op,
                index,
                input,
                reason,
            });
        }
    }
    Ok(())
}

#[inline(always)]
fn map(values: &mut [f32], f: impl Fn(f32) -> f32) {
    for v in values {
        *v = f(*v);
    }
}

/// Applies `op` to every value in place, as golden computes it (see [`UnaryOp`]). A vector mode
/// (`vector: r|c`) is the caller's choice of which rows or row parts to pass.
pub fn apply_unary(op: UnaryOp, values: &mut [f32]) -> Result<(), ComputeError> {
    match op {
        UnaryOp::Identity => {}
        UnaryOp::Relu => apply_relu(values, ReluMode::Min, 0.0),
        UnaryOp::Gelu => map(values, gelu),
        UnaryOp::Exp => map(values, exp),
        UnaryOp::Log => map(values, log),
        UnaryOp::Sqrt => {
            check(op, values, sqrt_rejects)?;
            map(values, libm::sqrtf);
        }
        UnaryOp::Reciprocal => {
            check(op, values, reciprocal_rejects)?;
            map(values, reciprocal);
        }
        UnaryOp::Sigmoid => map(values, sigmoid),
        UnaryOp::Tanh => map(values, libm::tanhf),
        UnaryOp::Abs => map(values, |x| f32::from_bits(x.to_bits() & 0x7fff_ffff)),
        UnaryOp::Square => map(values, |x| x * x),
        UnaryOp::Neg => map(values, |x| -x),
    }
    Ok(())
}

/// `a·b + c` in double, rounded once (an FMA instruction with `std` where the CPU has one;
/// any correctly rounded fma gives the same bits).
#[inline(always)]
pub fn fma64(a: f64, b: f64, c: f64) -> f64 {
    #[cfg(feature = "std")]
    {
        a.mul_add(b, c)
    }
    #[cfg(not(feature = "std"))]
    {
        libm::fma(a, b, c)
    }
}

/// Every elementwise unary op of a netlist (golden-ops.md §6.1, §6.2), with its attributes:
/// the simulated chip's ops and the ones only netlists use.
///
/// | Op | fp32 result for `x` |
/// |---|---|
/// | `Compute(op)` | [`UnaryOp`] (datacopy, nop and ethernet_datacopy are `Identity`) |
/// | `GeluDerivative` | in double: `0.5·(1 + tanh(√(2/π)·(x + 0.044715·x³))) + x·exp(-x²/2)/√(2π)` |
/// | `Power(e)` | `r = 1; repeat e times: r = x·r` in fp32 (`e <= 0` gives 1) |
/// | `Sine`, `Cosine` | `sin(x)`, `cos(x)` in double, stored as float |
/// | `Lrelu(slope)` | `x > 0 ? x : x·slope` |
/// | `Dropout { p, scale }` | `(1 - d)·x·scale`, `d` 1 where the draw drops the value ([`super::dropout_mask`]) |
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
    /// `dropout` with attribute `p` and golden's scale ([`Sfpu::dropout`]).
    Dropout {
        p: f32,
        scale: f32,
    },
}

impl Sfpu {
    /// `dropout` with attribute `p`, scaled as golden's parser does: `1/(1-p)`, 1 when
    /// `p == 1`, and 0 when `p` is not given (⚠ the output is then zero).
    pub fn dropout(p: Option<f32>) -> Sfpu {
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

    /// Whether the op is datacopy/nop.
    pub fn is_copy(self) -> bool {
        self == Sfpu::Compute(UnaryOp::Identity)
    }

    /// Applies the op to one run of values in place, as golden computes it (see [`Sfpu`]).
    /// `mask` (dropout only) holds the draws of the run, in order. A vector mode is the
    /// caller's choice of which runs to pass.
    pub fn apply(self, values: &mut [f32], mask: &[bool]) -> Result<(), ComputeError> {
        match self {
            Sfpu::Compute(u) => apply_unary(u, values)?,
            Sfpu::GeluDerivative => map(values, gelu_derivative),
            Sfpu::Power(e) => map(values, |x| power(x, e)),
            Sfpu::Sine => map(values, sine),
            Sfpu::Cosine => map(values, cosine),
            Sfpu::Lrelu(slope) => map(values, |x| if x > 0.0 { x } else { x * slope }),
            Sfpu::Dropout { scale, .. } => {
                for (v, &drop) in values.iter_mut().zip(mask) {
                    let d = if drop { 1.0f32 } else { 0.0 };
                    *v = (1.0 - d) * *v * scale;
                }
            }
        }
        Ok(())
    }
}

/// gelu_derivative in double: `0.5·(1 + tanh(√(2/π)·(x + 0.044715·x³))) + x·exp(-x²/2)/√(2π)`.
/// The inner sum is one FMA as in [`gelu`].
#[inline]
fn gelu_derivative(x: f32) -> f32 {
    let x = x as f64;
    let inner = fma64(0.044715, x * x * x, x);
    let cdf = 0.5 * (1.0 + libm::tanh(SQRT_2_OVER_PI * inner));
    let pdf = libm::exp(-0.5 * x * x) * (0.5 * SQRT_2_OVER_PI);
    (cdf + x * pdf) as f32
}

/// `r = 1; repeat exp times: r = x·r` in fp32.
#[inline]
fn power(x: f32, exp: i64) -> f32 {
    let mut r = 1.0f32;
    for _ in 0..exp.max(0) {
        r *= x;
    }
    r
}

/// glibc's `sinf`/`cosf` are correctly rounded; the double function rounded to float is too
/// but in rare cases.
#[inline]
fn sine(x: f32) -> f32 {
    libm::sin(x as f64) as f32
}

#[inline]
fn cosine(x: f32) -> f32 {
    libm::cos(x as f64) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netlist_only_ops_follow_their_formulas() {
        let mut v = [2.0f32, -3.0, 0.5, -0.0];
        Sfpu::Power(3).apply(&mut v, &[]).unwrap();
        assert_eq!(v, [8.0, -27.0, 0.125, -0.0]);
        let mut v = [2.0f32, -3.0];
        Sfpu::Power(-1).apply(&mut v, &[]).unwrap();
        assert_eq!(v, [1.0, 1.0]);
        let mut v = [2.0f32, -3.0, -0.0];
        Sfpu::Lrelu(0.5).apply(&mut v, &[]).unwrap();
        assert_eq!(v, [2.0, -1.5, -0.0]);
        // gelu'(0) = 0.5 exactly; sin and cos of 0.
        let mut v = [0.0f32];
        Sfpu::GeluDerivative.apply(&mut v, &[]).unwrap();
        assert_eq!(v, [0.5]);
        let (mut s, mut c) = ([0.0f32], [0.0f32]);
        Sfpu::Sine.apply(&mut s, &[]).unwrap();
        Sfpu::Cosine.apply(&mut c, &[]).unwrap();
        assert_eq!((s, c), ([0.0], [1.0]));
        let mut v = [3.0f32, 5.0];
        Sfpu::dropout(Some(0.5))
            .apply(&mut v, &[true, false])
            .unwrap();
        assert_eq!(v, [0.0, 10.0]);
    }

    #[test]
    fn dropout_scale_is_golden_parsers() {
        assert_eq!(Sfpu::dropout(None), Sfpu::Dropout { p: 0.0, scale: 0.0 });
        assert_eq!(
            Sfpu::dropout(Some(1.0)),
            Sfpu::Dropout { p: 1.0, scale: 1.0 }
        );
        assert_eq!(
            Sfpu::dropout(Some(0.75)),
            Sfpu::Dropout {
                p: 0.75,
                scale: 4.0
            }
        );
    }
}
