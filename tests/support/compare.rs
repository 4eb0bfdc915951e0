//! Output comparison per a netlist's `comparison-config` (golden-ops.md section 13), on the
//! tilized path: every 32x32 tile of every z slice is checked on its own.
//!
//! One deliberate difference from upstream: the checked row and column ranges are inclusive
//! at both ends (upstream's loops skip the last row and column while still counting them).
#![allow(dead_code)]

use ttrt::netlist::{ComparisonConfig, ComparisonMethod, ComparisonType, Verbosity};

use super::reference::{Tensor, TILE};
use super::stimulus::regex_full_match;

/// The comparison used when a netlist has no comparison config: AllCloseHw with upstream's
/// defaults (atol 1e-3, rtol 1e-4, check_pct 1.0, check_pcc 0.999).
pub fn default_config() -> ComparisonConfig {
    ComparisonConfig {
        line: 0,
        comparison: ComparisonType::AllCloseHw,
        atol: 1e-3,
        rtol: 1e-4,
        check_pct: 1.0,
        check_pcc: 0.999,
        verbosity: Verbosity::Concise,
        method: ComparisonMethod::TilizedTensor,
        check_tile_rows_range: [0, 31],
        check_tile_cols_range: [0, 31],
        lhs_header: None,
        rhs_header: None,
        overrides: Vec::new(),
        other: Vec::new(),
    }
}

/// The config that applies to `queue`: an exact override key, else the first regex key that
/// matches the whole name, else `cfg`.
pub fn config_for<'a>(cfg: &'a ComparisonConfig, queue: &str) -> &'a ComparisonConfig {
    if let Some((_, c)) = cfg.overrides.iter().find(|(k, _)| k == queue) {
        return c;
    }
    cfg.overrides
        .iter()
        .find(|(k, _)| regex_full_match(k, queue))
        .map_or(cfg, |(_, c)| c)
}

/// Golden's element test: NaN only matches NaN; an infinity matches an equal infinity or a
/// same-signed finite value of magnitude >= 2^126; else `|a-b| <= atol + rtol*max(|a|,|b|)`.
pub fn close(a: f64, b: f64, atol: f64, rtol: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    if a.is_infinite() || b.is_infinite() {
        if a == b {
            return true;
        }
        let finite = if a.is_infinite() { b } else { a };
        return a.signum() == b.signum() && finite.abs() >= 2f64.powi(126);
    }
    (a - b).abs() <= atol + rtol * a.abs().max(b.abs())
}

/// What the PCC part of AllCloseHw computed for one tile.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PccResult {
    pub pcc: f64,
    pub mean_a: f64,
    pub mean_b: f64,
    /// All three rounding fixes (two variances, covariance) fired.
    pub all_fixes: bool,
}

/// Pearson correlation the way golden computes it: in double, infinities mapped to ±FLT_MAX,
/// variances and covariance from raw moments with the near-constant rounding fixes, and a
/// zero standard deviation replaced by 1e-5.
pub fn pcc(a: &[f64], b: &[f64]) -> PccResult {
    let fmax = f32::MAX as f64;
    let map = |x: f64| {
        if x.is_infinite() {
            x.signum() * fmax
        } else {
            x
        }
    };
    let n = a.len() as f64;
    let (mut s1, mut s2, mut q1, mut q2, mut p) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (map(x), map(y));
        s1 += x;
        s2 += y;
        q1 += x * x;
        q2 += y * y;
        p += x * y;
    }
    let (m1, m2, e1, e2, e12) = (s1 / n, s2 / n, q1 / n, q2 / n, p / n);
    let near_one = |r: f64| (1.0..=1.0000001).contains(&r);
    let mut fixes = 0;
    let mut fix = |v: f64, sq: f64, raw: f64| {
        if v < 0.0 && near_one(sq / raw) {
            fixes += 1;
            0.0
        } else {
            v
        }
    };
    let var1 = fix(e1 - m1 * m1, m1 * m1, e1);
    let var2 = fix(e2 - m2 * m2, m2 * m2, e2);
    let cov = fix(e12 - m1 * m2, m1 * m2, e12);
    let sd = |v: f64| {
        let s = v.sqrt();
        if s == 0.0 {
            1e-5
        } else {
            s
        }
    };
    PccResult {
        pcc: cov / (sd(var1) * sd(var2)),
        mean_a: m1,
        mean_b: m2,
        all_fixes: fixes == 3,
    }
}

/// The PCC verdict of AllCloseHw for one tile (the AllClose fraction is checked apart).
pub fn pcc_passes(cfg: &ComparisonConfig, a: &[f64], b: &[f64]) -> Result<(), String> {
    let r = pcc(a, b);
    let want = cfg.check_pcc;
    if r.pcc.abs() >= want.abs() && (r.pcc >= 0.0) == (want >= 0.0) && r.pcc.abs() <= 1.0000001 {
        return Ok(());
    }
    let constant = |v: &[f64]| v.iter().all(|&x| x == v[0]);
    let means_close = (r.mean_a - r.mean_b).abs() <= cfg.atol + cfg.rtol * r.mean_b;
    if (means_close && constant(a) && constant(b)) || r.all_fixes || want == 0.0 {
        return Ok(());
    }
    Err(format!("pcc {:.6} < {}", r.pcc, want))
}

/// Compares one output entry against the reference. Returns one line saying where and why it
/// differs.
pub fn compare(cfg: &ComparisonConfig, expected: &Tensor, actual: &Tensor) -> Result<(), String> {
    if expected.dims() != actual.dims() || expected.rows != actual.rows {
        return Err(format!(
            "shape (z, rt, ct) {:?} expected {:?}",
            actual.dims(),
            expected.dims()
        ));
    }
    let [r1, r2] = cfg
        .check_tile_rows_range
        .map(|v| (v as usize).min(TILE - 1));
    let [c1, c2] = cfg
        .check_tile_cols_range
        .map(|v| (v as usize).min(TILE - 1));
    let mut a = Vec::with_capacity(TILE * TILE);
    let mut b = Vec::with_capacity(TILE * TILE);
    for z in 0..expected.z {
        for tr in 0..expected.rt() {
            for tc in 0..expected.ct() {
                a.clear();
                b.clear();
                for i in r1..=r2 {
                    for j in c1..=c2 {
                        a.push(expected.at(z, tr * TILE + i, tc * TILE + j));
                        b.push(actual.at(z, tr * TILE + i, tc * TILE + j));
                    }
                }
                let at = format!("tile (z {z}, r {tr}, c {tc})");
                let first_bad = |ok: &dyn Fn(f64, f64) -> bool| {
                    a.iter()
                        .zip(&b)
                        .position(|(&x, &y)| !ok(x, y))
                        .map(|k| (k / (c2 - c1 + 1) + r1, k % (c2 - c1 + 1) + c1, a[k], b[k]))
                };
                match cfg.comparison {
                    ComparisonType::Invalid => {
                        return Err("comparison type Invalid (not set)".into());
                    }
                    ComparisonType::Exact => {
                        let same = |x: f64, y: f64| x == y || (x.is_nan() && y.is_nan());
                        if let Some((i, j, x, y)) = first_bad(&same) {
                            return Err(format!("{at} [{i}][{j}]: got {y}, expected {x} (Exact)"));
                        }
                    }
                    ComparisonType::AllClose | ComparisonType::AllCloseHw => {
                        let ok = |x: f64, y: f64| close(x, y, cfg.atol, cfg.rtol);
                        let bad = a.iter().zip(&b).filter(|(&x, &y)| !ok(x, y)).count();
                        let frac = (a.len() - bad) as f64 / a.len() as f64;
                        if frac < cfg.check_pct {
                            let (i, j, x, y) = first_bad(&ok).expect("a mismatch");
                            return Err(format!(
                                "{at}: {bad} of {} not close (pct {frac:.3} < {}); first [{i}][{j}] got {y}, expected {x}",
                                a.len(),
                                cfg.check_pct
                            ));
                        }
                        if cfg.comparison == ComparisonType::AllCloseHw {
                            pcc_passes(cfg, &a, &b).map_err(|e| format!("{at}: {e}"))?;
                        }
                    }
                }
            }
        }
    }
    Ok(())
}
