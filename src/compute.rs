//! Device numerics: the golden model's elementwise ops and tile matmul, bit for bit.
//!
//! The simulated chip's firmware and the netlist engine both compute here, so a device op and
//! a netlist op give the same bits. They compute what Buda's golden model computes (the notes' golden-ops.md,
//! sections 6-8): all arithmetic in fp32, some ops evaluated in double and stored as float, and
//! matmul with golden's exact FMA summation tree. Nothing here rounds to a data format; the
//! caller quantizes where golden does (section 3). Where golden aborts the run (a NaN or -inf
//! that an op must not produce), these functions return a [`ComputeError`] instead.
//!
//! Golden calls the host's glibc for transcendentals, so no portable library reproduces it in
//! every last bit (golden-ops.md §14.6). The choices below were measured against glibc 2.36 on
//! 2x10^7 random inputs (|x| in 2^-22..2^18):
//! - `expf`/`logf`: glibc's are correctly rounded in all but rare cases, and so is the double
//!   function rounded to float: that agrees with glibc on all but 0.03% (exp) and 0.1% (log) of
//!   inputs, where libm's `expf`/`logf` (FreeBSD's, up to ~1 ulp off) disagree on about 3%.
//! - `tanhf`: neither glibc's nor libm's is correctly rounded (both err by up to 2 ulp, on
//!   different inputs); libm's `tanhf` disagrees with glibc's on 2.5%, `tanh` rounded on 15%.
//! - `sqrtf` is correctly rounded everywhere.
//!
//! No allocation, no `std`: the same code runs in bare-metal firmware.

use core::fmt;

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

/// What stops a computation. Golden aborts the whole run in these cases; ttrt reports them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ComputeError {
    /// Golden rejects this input of a unary op (a fatal error in golden); the values are left
    /// unchanged.
    Rejected {
        op: UnaryOp,
        /// Position of the offending element in the slice.
        index: usize,
        input: f32,
        /// What golden rejects.
        reason: &'static str,
    },
    /// The operands of a binary op have different lengths.
    Length { op: BinaryOp, a: usize, b: usize },
}

impl fmt::Display for ComputeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ComputeError::Rejected {
                op,
                index,
                input,
                reason,
            } => write!(
                f,
                "{op} of element {index} ({input:?}): golden rejects {reason}"
            ),
            ComputeError::Length { op, a, b } => write!(
                f,
                "{op}: operand a has {a} elements, operand b has {b}; they must be equal"
            ),
        }
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

/// Rows and columns of a tile.
const T: usize = 32;
/// Golden's vector width: partial sums per output element of one tile product.
const LANES: usize = 8;

/// `acc += a·b` for row-major 32x32 tiles, rounded as golden's matmul (golden-ops.md §8).
///
/// Golden computes each tile product on its own and adds it to the output tile, K tile by K
/// tile, so `C[m][n] = Σ_k A[m][k]·B[k][n]` is golden's result when `acc` starts at +0 (as
/// golden's output tile does) and this is called for k = 0, 1, 2, … in order.
///
/// Within one tile product, element `(i, j)` has 8 partial sums, each starting at +0:
/// `L_l = fma(a[i][k], b[k][j], L_l)` for `k = l, l+8, l+16, l+24` in that order; then
/// `p = ((L_0 + L_4) + (L_2 + L_6)) + ((L_1 + L_5) + (L_3 + L_7))` and `acc[i][j] += p`, all
/// in fp32 (golden's AVX kernel: eight FMA lanes, then its 8-4-2-1 reduction tree).
pub fn matmul_tile_accumulate(acc: &mut [f32; 1024], a: &[f32; 1024], b: &[f32; 1024]) {
    #[cfg(target_arch = "x86_64")]
    if x86::has_fma() {
        // SAFETY: the CPU has AVX and FMA.
        unsafe { x86::matmul_tile_accumulate(acc, a, b) };
        return;
    }
    matmul_portable(acc, a, b);
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

/// `a·b + c` rounded once.
#[inline(always)]
fn fma32(a: f32, b: f32, c: f32) -> f32 {
    #[cfg(feature = "std")]
    {
        a.mul_add(b, c)
    }
    #[cfg(not(feature = "std"))]
    {
        libm::fmaf(a, b, c)
    }
}

/// The kernel in plain Rust, row by row with the 8 partial sums of a whole output row (the
/// inner loop runs over j, so it vectorizes where FMA is an instruction).
fn matmul_portable(acc: &mut [f32; 1024], a: &[f32; 1024], b: &[f32; 1024]) {
    for (acc_row, a_row) in acc.chunks_exact_mut(T).zip(a.chunks_exact(T)) {
        let mut lanes = [[0f32; T]; LANES];
        for (k, (&aik, b_row)) in a_row.iter().zip(b.chunks_exact(T)).enumerate() {
            let lane = &mut lanes[k % LANES];
            for (l, &bkj) in lane.iter_mut().zip(b_row) {
                *l = fma32(aik, bkj, *l);
            }
        }
        for (j, out) in acc_row.iter_mut().enumerate() {
            let s = [0, 1, 2, 3].map(|l| lanes[l][j] + lanes[l + 4][j]);
            *out += (s[0] + s[2]) + (s[1] + s[3]);
        }
    }
}

/// Whether [`matmul_rows4_avx512`] can run here (AVX-512F, detected at run time with `std`).
pub fn has_avx512() -> bool {
    #[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
    {
        true
    }
    #[cfg(all(
        target_arch = "x86_64",
        feature = "std",
        not(target_feature = "avx512f")
    ))]
    {
        std::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(any(
        all(target_arch = "x86_64", target_feature = "avx512f"),
        all(target_arch = "x86_64", feature = "std")
    )))]
    {
        false
    }
}

/// `acc += a·b` for four rows of a 32x32 tile product, rounded as
/// [`matmul_tile_accumulate`]: rows `r` < 4 of the accumulator are the 32 values at
/// `acc + r·acc_stride` (bytes), rows of the left tile the 32 values at `a + r·a_stride`
/// (bytes), and `b` is a row-major 32x32 tile. Each of the 128 elements gets golden's eight
/// FMA lanes from +0 (`L_l`, k = l, l+8, l+16, l+24) and golden's additions
/// `acc + (((L0 + L4) + (L2 + L6)) + ((L1 + L5) + (L3 + L7)))`, each with golden's first
/// operand; the elements are computed 16 at a time in AVX-512 registers.
///
/// # Safety
/// The CPU must support AVX-512F ([`has_avx512`]); the four accumulator rows must be valid
/// for reads and writes of 32 `f32`, the four left rows for reads of 32 `f32`, and `b` for
/// reads of 1024 `f32`; no other thread may access the accumulator rows during the call.
#[cfg(target_arch = "x86_64")]
pub unsafe fn matmul_rows4_avx512(
    acc: *mut f32,
    acc_stride: usize,
    a: *const f32,
    a_stride: usize,
    b: *const f32,
) {
    // SAFETY: the caller's promises; the block only uses zmm0-zmm15 (declared clobbered by
    // their ymm halves, and vzeroupper leaves their upper halves zero as AVX code expects)
    // and the stack buffer `t`.
    unsafe { x86::matmul_rows4_avx512(acc, acc_stride, a, a_stride, b) }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::T;
    use core::arch::x86_64::{
        _mm256_add_ps, _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_set1_ps, _mm256_setzero_ps,
        _mm256_storeu_ps,
    };

    /// Whether the AVX + FMA kernel can run here.
    #[inline]
    pub(super) fn has_fma() -> bool {
        #[cfg(all(target_feature = "avx", target_feature = "fma"))]
        {
            true
        }
        #[cfg(all(
            feature = "std",
            not(all(target_feature = "avx", target_feature = "fma"))
        ))]
        {
            std::is_x86_feature_detected!("avx") && std::is_x86_feature_detected!("fma")
        }
        #[cfg(not(any(feature = "std", all(target_feature = "avx", target_feature = "fma"))))]
        {
            false
        }
    }

    /// The kernel two rows by 16 columns at a time: for each lane pair `(l, l + 4)` (l = 0..3)
    /// `s_l = L_l + L_{l+4}` with eight independent FMA chains (four operand loads per four
    /// FMAs), then `acc += (s_0 + s_2) + (s_1 + s_3)`. Each element gets golden's FMAs and adds
    /// in golden's order; only the elements computed together differ from golden's loop.
    ///
    /// # Safety
    /// The CPU must support AVX and FMA.
    #[target_feature(enable = "avx,fma")]
    pub(super) unsafe fn matmul_tile_accumulate(
        acc: &mut [f32; 1024],
        a: &[f32; 1024],
        b: &[f32; 1024],
    ) {
        let (ap, bp, out) = (a.as_ptr(), b.as_ptr(), acc.as_mut_ptr());
        // s_l of one 2x16 block: four 8-wide vectors per lane pair.
        let mut sums = [[_mm256_setzero_ps(); 4]; 4];
        for i in (0..T).step_by(2) {
            for j in [0, 16] {
                for (l, s) in sums.iter_mut().enumerate() {
                    // SAFETY: AVX and FMA (the caller's promise); rows i, i + 1 < 32 and
                    // columns j..j + 16 <= 32 of 32x32 tiles; k < 32.
                    unsafe {
                        let mut lo = [_mm256_setzero_ps(); 4];
                        let mut hi = [_mm256_setzero_ps(); 4];
                        for step in 0..4 {
                            for (k, lane) in [(l + 8 * step, &mut lo), (l + 4 + 8 * step, &mut hi)]
                            {
                                let b0 = _mm256_loadu_ps(bp.add(k * T + j));
                                let b1 = _mm256_loadu_ps(bp.add(k * T + j + 8));
                                let a0 = _mm256_set1_ps(*ap.add(i * T + k));
                                let a1 = _mm256_set1_ps(*ap.add((i + 1) * T + k));
                                lane[0] = _mm256_fmadd_ps(a0, b0, lane[0]);
                                lane[1] = _mm256_fmadd_ps(a0, b1, lane[1]);
                                lane[2] = _mm256_fmadd_ps(a1, b0, lane[2]);
                                lane[3] = _mm256_fmadd_ps(a1, b1, lane[3]);
                            }
                        }
                        *s = [0, 1, 2, 3].map(|v| _mm256_add_ps(lo[v], hi[v]));
                    }
                }
                for v in 0..4 {
                    // SAFETY: AVX (the caller's promise); row i + v / 2 < 32, columns up to
                    // j + 16 <= 32.
                    unsafe {
                        let p = _mm256_add_ps(
                            _mm256_add_ps(sums[0][v], sums[2][v]),
                            _mm256_add_ps(sums[1][v], sums[3][v]),
                        );
                        let o = out.add((i + v / 2) * T + j + (v % 2) * 8);
                        _mm256_storeu_ps(o, _mm256_add_ps(_mm256_loadu_ps(o), p));
                    }
                }
            }
        }
    }
    /// zmm0..zmm7 = lane `$l` (the 4-FMA chain over k = l, l+8, l+16, l+24 from +0) of a
    /// 4x32 block: register 2r + h holds row r, columns 16h..16h+16. zmm8/9 hold a row of b,
    /// zmm10..13 the broadcast values of the left rows (row r's pointer: `a` + r·stride,
    /// registers `{a0}`..`{a3}`).
    macro_rules! lane {
        ($l:tt) => {
            concat!(
                "vxorps xmm0, xmm0, xmm0\n",
                "vxorps xmm1, xmm1, xmm1\n",
                "vxorps xmm2, xmm2, xmm2\n",
                "vxorps xmm3, xmm3, xmm3\n",
                "vxorps xmm4, xmm4, xmm4\n",
                "vxorps xmm5, xmm5, xmm5\n",
                "vxorps xmm6, xmm6, xmm6\n",
                "vxorps xmm7, xmm7, xmm7\n",
                step!($l, 0),
                step!($l, 1),
                step!($l, 2),
                step!($l, 3),
            )
        };
    }

    /// One FMA step of lane `$l`: k = l + 8·s.
    macro_rules! step {
        ($l:tt, $s:tt) => {
            concat!(
                "vmovups zmm8, [{b} + (",
                stringify!($l),
                " + 8*",
                stringify!($s),
                ")*128]\n",
                "vmovups zmm9, [{b} + (",
                stringify!($l),
                " + 8*",
                stringify!($s),
                ")*128 + 64]\n",
                "vbroadcastss zmm10, dword ptr [{a0} + (",
                stringify!($l),
                " + 8*",
                stringify!($s),
                ")*4]\n",
                "vbroadcastss zmm11, dword ptr [{a1} + (",
                stringify!($l),
                " + 8*",
                stringify!($s),
                ")*4]\n",
                "vbroadcastss zmm12, dword ptr [{a2} + (",
                stringify!($l),
                " + 8*",
                stringify!($s),
                ")*4]\n",
                "vbroadcastss zmm13, dword ptr [{a3} + (",
                stringify!($l),
                " + 8*",
                stringify!($s),
                ")*4]\n",
                "vfmadd231ps zmm0, zmm10, zmm8\n",
                "vfmadd231ps zmm1, zmm10, zmm9\n",
                "vfmadd231ps zmm2, zmm11, zmm8\n",
                "vfmadd231ps zmm3, zmm11, zmm9\n",
                "vfmadd231ps zmm4, zmm12, zmm8\n",
                "vfmadd231ps zmm5, zmm12, zmm9\n",
                "vfmadd231ps zmm6, zmm13, zmm8\n",
                "vfmadd231ps zmm7, zmm13, zmm9\n",
            )
        };
    }

    /// Applies `$op` (a macro taking a register number and its temp-slot offset) to the
    /// eight registers.
    macro_rules! each {
        ($op:ident) => {
            concat!(
                $op!(0, 0),
                $op!(1, 64),
                $op!(2, 128),
                $op!(3, 192),
                $op!(4, 256),
                $op!(5, 320),
                $op!(6, 384),
                $op!(7, 448),
            )
        };
    }
    /// Slot A (`{t}` + 0): stores.
    macro_rules! store_a {
        ($v:tt, $o:tt) => {
            concat!(
                "vmovups [{t} + ",
                stringify!($o),
                "], zmm",
                stringify!($v),
                "\n"
            )
        };
    }
    macro_rules! store_b {
        ($v:tt, $o:tt) => {
            concat!(
                "vmovups [{t} + 512 + ",
                stringify!($o),
                "], zmm",
                stringify!($v),
                "\n"
            )
        };
    }
    macro_rules! store_c {
        ($v:tt, $o:tt) => {
            concat!(
                "vmovups [{t} + 1024 + ",
                stringify!($o),
                "], zmm",
                stringify!($v),
                "\n"
            )
        };
    }
    /// zmm v = slot · zmm v (the slot's value as the first operand).
    macro_rules! add_a {
        ($v:tt, $o:tt) => {
            concat!(
                "vmovups zmm14, [{t} + ",
                stringify!($o),
                "]\n",
                "vaddps zmm",
                stringify!($v),
                ", zmm14, zmm",
                stringify!($v),
                "\n"
            )
        };
    }
    macro_rules! add_b {
        ($v:tt, $o:tt) => {
            concat!(
                "vmovups zmm14, [{t} + 512 + ",
                stringify!($o),
                "]\n",
                "vaddps zmm",
                stringify!($v),
                ", zmm14, zmm",
                stringify!($v),
                "\n"
            )
        };
    }
    macro_rules! add_c {
        ($v:tt, $o:tt) => {
            concat!(
                "vmovups zmm14, [{t} + 1024 + ",
                stringify!($o),
                "]\n",
                "vaddps zmm",
                stringify!($v),
                ", zmm14, zmm",
                stringify!($v),
                "\n"
            )
        };
    }
    /// The accumulator row of register v: row v / 2 at `{c0}`..`{c3}`, columns 16·(v % 2)...
    macro_rules! add_acc {
        ($v:tt, $o:tt) => {
            concat!(
                "vmovups zmm14, [",
                acc_row!($v),
                "]\n",
                "vaddps zmm",
                stringify!($v),
                ", zmm14, zmm",
                stringify!($v),
                "\n",
                "vmovups [",
                acc_row!($v),
                "], zmm",
                stringify!($v),
                "\n",
            )
        };
    }
    macro_rules! acc_row {
        (0) => {
            "{c0}"
        };
        (1) => {
            "{c0} + 64"
        };
        (2) => {
            "{c1}"
        };
        (3) => {
            "{c1} + 64"
        };
        (4) => {
            "{c2}"
        };
        (5) => {
            "{c2} + 64"
        };
        (6) => {
            "{c3}"
        };
        (7) => {
            "{c3} + 64"
        };
    }

    /// See [`super::matmul_rows4_avx512`].
    ///
    /// # Safety
    /// As there.
    #[target_feature(enable = "avx,fma")]
    pub(super) unsafe fn matmul_rows4_avx512(
        acc: *mut f32,
        acc_stride: usize,
        a: *const f32,
        a_stride: usize,
        b: *const f32,
    ) {
        // Slots A, B, C of eight 16-float vectors each: the partial sums between lanes.
        let mut t = [0f32; 3 * 8 * 16];
        let row = |p: *const f32, stride: usize, r: usize| p.cast::<u8>().wrapping_add(r * stride);
        // SAFETY: the caller's promises (see `super::matmul_rows4_avx512`): every address
        // read or written is inside the rows and tile described there, or `t`.
        unsafe {
            core::arch::asm!(
                // Lanes in the order of golden's tree: s0 = L0 + L4, s2 = L2 + L6,
                // t = s0 + s2 (slot A); s1 = L1 + L5 (slot B); s3 = L3 + L7, u = s1 + s3,
                // p = t + u; acc = acc + p.
                lane!(0), each!(store_a),
                lane!(4), each!(add_a), each!(store_a),
                lane!(2), each!(store_b),
                lane!(6), each!(add_b), each!(add_a), each!(store_a),
                lane!(1), each!(store_b),
                lane!(5), each!(add_b), each!(store_b),
                lane!(3), each!(store_c),
                lane!(7), each!(add_c), each!(add_b), each!(add_a), each!(add_acc),
                "vzeroupper",
                b = in(reg) b,
                a0 = in(reg) row(a, a_stride, 0),
                a1 = in(reg) row(a, a_stride, 1),
                a2 = in(reg) row(a, a_stride, 2),
                a3 = in(reg) row(a, a_stride, 3),
                c0 = in(reg) row(acc, acc_stride, 0),
                c1 = in(reg) row(acc, acc_stride, 1),
                c2 = in(reg) row(acc, acc_stride, 2),
                c3 = in(reg) row(acc, acc_stride, 3),
                t = in(reg) t.as_mut_ptr(),
                out("ymm0") _, out("ymm1") _, out("ymm2") _, out("ymm3") _,
                out("ymm4") _, out("ymm5") _, out("ymm6") _, out("ymm7") _,
                out("ymm8") _, out("ymm9") _, out("ymm10") _, out("ymm11") _,
                out("ymm12") _, out("ymm13") _, out("ymm14") _, out("ymm15") _,
                options(nostack, preserves_flags),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Random tiles with every kind of value golden can meet, signed zeros and infinities too.
    fn tile(seed: &mut u64, specials: bool) -> [f32; 1024] {
        core::array::from_fn(|_| {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            let r = *seed;
            match r % 64 {
                0 if specials => 0.0,
                1 if specials => -0.0,
                2 if specials => f32::INFINITY,
                3 if specials => f32::from_bits(0x0000_0003),
                _ => {
                    let e = 100 + (r >> 20) as u32 % 54;
                    f32::from_bits(
                        (((r >> 63) as u32) << 31) | (e << 23) | ((r >> 32) as u32 & 0x7f_ffff),
                    )
                }
            }
        })
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx512_row_kernel_equals_portable_kernel_bit_for_bit() {
        if !has_avx512() {
            return;
        }
        let mut seed = 0x0fed_cba9_8765_4321;
        for round in 0..20 {
            let specials = round % 2 == 1;
            let (a, b) = (tile(&mut seed, specials), tile(&mut seed, specials));
            let start = tile(&mut seed, false);
            let mut plain = start;
            matmul_portable(&mut plain, &a, &b);
            // The left tile and the accumulator inside wider row-major matrices, as the
            // kernel meets them: 3 tiles wide (left) and 5 tiles wide (accumulator).
            let (aw, cw) = (3 * 32, 5 * 32);
            let mut wide_a = alloc::vec![f32::NAN; 32 * aw];
            let mut wide_c = alloc::vec![f32::NAN; 32 * cw];
            for r in 0..32 {
                wide_a[r * aw + 32..r * aw + 64].copy_from_slice(&a[r * 32..(r + 1) * 32]);
                wide_c[r * cw + 64..r * cw + 96].copy_from_slice(&start[r * 32..(r + 1) * 32]);
            }
            for r in (0..32).step_by(4) {
                // SAFETY: AVX-512F (checked); rows r..r + 4 of both matrices are in bounds.
                unsafe {
                    matmul_rows4_avx512(
                        wide_c.as_mut_ptr().add(r * cw + 64),
                        cw * 4,
                        wide_a.as_ptr().add(r * aw + 32),
                        aw * 4,
                        b.as_ptr(),
                    )
                };
            }
            for r in 0..32 {
                for c in 0..cw {
                    let got = wide_c[r * cw + c];
                    if (64..96).contains(&c) {
                        let want = plain[r * 32 + c - 64];
                        assert!(
                            got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                            "round {round}, ({r}, {}): {got:?} != {want:?}",
                            c - 64
                        );
                    } else {
                        assert!(got.is_nan(), "({r}, {c}) outside the tile was written");
                    }
                }
            }
        }
    }

    #[test]
    fn vector_kernel_equals_portable_kernel_bit_for_bit() {
        let mut seed = 0x0123_4567_89ab_cdef;
        for round in 0..20 {
            let specials = round % 2 == 1;
            let (a, b) = (tile(&mut seed, specials), tile(&mut seed, specials));
            let start = tile(&mut seed, false);
            let (mut fast, mut plain) = (start, start);
            matmul_tile_accumulate(&mut fast, &a, &b);
            matmul_portable(&mut plain, &a, &b);
            for (x, y) in fast.iter().zip(&plain) {
                assert!(
                    x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()),
                    "{x:?} != {y:?}"
                );
            }
        }
    }
}
