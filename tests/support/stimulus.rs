//! Input data per a netlist's `stimulus-config` (golden-ops.md section 13), from a seeded
//! xorshift generator: deterministic, but not bit-exact with libstdc++'s distributions.
//!
//! Without a stimulus config, float queues get uniform values in [-1, 1) (in [0, 1) when
//! `positive` is set: the driver asks for it when the netlist takes a sqrt or log, which golden
//! refuses on negative values), integer queues uniform integers in [-16, 16] (unsigned
//! formats [0, 16]) and raw queues zeros.
#![allow(dead_code)]

use ttrt::format::DataFormat;
use ttrt::netlist::{StimulusConfig, StimulusType};

use super::reference::{unsupported, RefResult, Tensor, TILE};
use super::XorShift;

/// The config that applies to `queue`: an override with exactly that key, else the first
/// override whose key matches the whole name as a regex, else `cfg` itself.
pub fn config_for<'a>(cfg: &'a StimulusConfig, queue: &str) -> &'a StimulusConfig {
    if let Some((_, c)) = cfg.overrides.iter().find(|(k, _)| k == queue) {
        return c;
    }
    cfg.overrides
        .iter()
        .find(|(k, _)| regex_full_match(k, queue))
        .map_or(cfg, |(_, c)| c)
}

// ---------------------------------------------------------------------------------------------
// A tiny regex subset: literals, `.`, `\` escapes, `[...]` classes (ranges, `^` negation),
// and the postfix `*`, `+`, `?`. Matching is anchored at both ends, with backtracking.
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Atom {
    Any,
    Char(char),
    Class(Vec<(char, char)>, bool),
}

impl Atom {
    fn matches(&self, c: char) -> bool {
        match self {
            Atom::Any => true,
            Atom::Char(x) => *x == c,
            Atom::Class(ranges, negated) => {
                ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated
            }
        }
    }
}

/// Pieces: an atom with its (min, max) repetition (max None: unbounded).
fn parse_regex(pattern: &str) -> Option<Vec<(Atom, usize, Option<usize>)>> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out: Vec<(Atom, usize, Option<usize>)> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let atom = match chars[i] {
            '.' => Atom::Any,
            '\\' => {
                i += 1;
                Atom::Char(*chars.get(i)?)
            }
            '[' => {
                i += 1;
                let negated = chars.get(i) == Some(&'^');
                if negated {
                    i += 1;
                }
                let mut ranges = Vec::new();
                while *chars.get(i)? != ']' {
                    let lo = chars[i];
                    if chars.get(i + 1) == Some(&'-') && chars.get(i + 2).is_some_and(|&c| c != ']')
                    {
                        ranges.push((lo, chars[i + 2]));
                        i += 3;
                    } else {
                        ranges.push((lo, lo));
                        i += 1;
                    }
                }
                Atom::Class(ranges, negated)
            }
            '*' | '+' | '?' | '(' | ')' | '|' | '{' | '^' | '$' => return None,
            c => Atom::Char(c),
        };
        i += 1;
        let (min, max) = match chars.get(i) {
            Some('*') => (0, None),
            Some('+') => (1, None),
            Some('?') => (0, Some(1)),
            _ => (1, Some(1)),
        };
        if max != Some(1) || min != 1 {
            i += 1;
        }
        out.push((atom, min, max));
    }
    Some(out)
}

fn match_here(pieces: &[(Atom, usize, Option<usize>)], text: &[char]) -> bool {
    let Some(((atom, min, max), rest)) = pieces.split_first() else {
        return text.is_empty();
    };
    let mut n = 0;
    while n < text.len() && max.is_none_or(|m| n < m) && atom.matches(text[n]) {
        n += 1;
    }
    (*min..=n).rev().any(|k| match_here(rest, &text[k..]))
}

/// Whether `pattern` (the subset above) matches all of `text`. A pattern outside the subset
/// matches nothing.
pub fn regex_full_match(pattern: &str, text: &str) -> bool {
    let text: Vec<char> = text.chars().collect();
    parse_regex(pattern).is_some_and(|p| match_here(&p, &text))
}

// ---------------------------------------------------------------------------------------------
// Generation
// ---------------------------------------------------------------------------------------------

/// A uniform draw in [0, 1).
pub fn unit(rng: &mut XorShift) -> f64 {
    (rng.next() >> 11) as f64 / (1u64 << 53) as f64
}

/// A standard normal draw (Box-Muller).
pub fn standard_normal(rng: &mut XorShift) -> f64 {
    let u1 = 1.0 - unit(rng);
    let u2 = unit(rng);
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// The integer kind of a format: Some((lowest, highest)) for integer and raw formats.
fn int_range(df: DataFormat) -> Option<(f64, f64)> {
    match df {
        DataFormat::Int8 => Some((-128.0, 127.0)),
        DataFormat::UInt8 | DataFormat::RawUInt8 => Some((0.0, 255.0)),
        DataFormat::Int32 => Some((-2147483648.0, 2147483647.0)),
        DataFormat::UInt16 | DataFormat::RawUInt16 => Some((0.0, 65535.0)),
        DataFormat::RawUInt32 => Some((0.0, 4294967295.0)),
        _ => None,
    }
}

fn is_raw(df: DataFormat) -> bool {
    matches!(
        df,
        DataFormat::RawUInt8 | DataFormat::RawUInt16 | DataFormat::RawUInt32
    )
}

/// Values for one queue entry of `z x rt x ct` tiles in format `df`. `cfg` is the netlist's
/// stimulus config (overrides are resolved here by `queue`). Values are f32-representable
/// (integers for integer and raw formats).
pub fn generate(
    cfg: Option<&StimulusConfig>,
    queue: &str,
    df: DataFormat,
    shape: (usize, usize, usize),
    positive: bool,
    rng: &mut XorShift,
) -> RefResult<Tensor> {
    let (z, rt, ct) = shape;
    let (rows, cols) = (rt * TILE, ct * TILE);
    let ints = int_range(df);
    let Some(cfg) = cfg.map(|c| config_for(c, queue)) else {
        let data = (0..z * rows * cols)
            .map(|_| match ints {
                None if positive => unit(rng) as f32 as f64,
                None => (unit(rng) * 2.0 - 1.0) as f32 as f64,
                Some(_) if is_raw(df) => 0.0,
                Some((lo, _)) => {
                    let lo = lo.max(-16.0);
                    lo + (unit(rng) * (16.0 - lo + 1.0)).floor()
                }
            })
            .collect();
        return Ok(Tensor::from_vec(z, rows, cols, data, df));
    };
    let param = |v: Option<f64>, name: &str| -> RefResult<f64> {
        v.ok_or(())
            .or_else(|_| unsupported(format!("stimulus for {queue} without {name}")))
    };
    let fit = |v: f64| match ints {
        Some((lo, hi)) => v.clamp(lo, hi).trunc(),
        None => v as f32 as f64,
    };
    let ty = cfg.stimulus.unwrap_or(StimulusType::Uniform);
    let in_rect = |r: usize, c: usize| {
        let (ri, ci) = (r % TILE, c % TILE);
        cfg.set_tile_rows
            .is_none_or(|[a, b]| (a as usize..=b as usize).contains(&ri))
            && cfg
                .set_tile_cols
                .is_none_or(|[a, b]| (a as usize..=b as usize).contains(&ci))
    };
    let mut t = Tensor::filled(z, rows, cols, 0.0, df);
    // Tiles in (z, r, c) order, row-major inside each tile, as upstream generates them.
    let mut step = 0.0f32;
    let mut first = true;
    for zi in 0..z {
        for tr in 0..rt {
            for tc in 0..ct {
                for i in 0..TILE {
                    for j in 0..TILE {
                        let (r, c) = (tr * TILE + i, tc * TILE + j);
                        let v = match ty {
                            StimulusType::Uniform
                            | StimulusType::Normal
                            | StimulusType::Constant
                                if !in_rect(r, c) =>
                            {
                                0.0
                            }
                            StimulusType::Uniform => {
                                let lo = param(cfg.uniform_lower_bound, "uniform_lower_bound")?;
                                let hi = param(cfg.uniform_upper_bound, "uniform_upper_bound")?;
                                match ints {
                                    None => fit(lo + unit(rng) * (hi - lo)),
                                    Some(_) => {
                                        let (lo, hi) = (fit(lo), fit(hi));
                                        lo + (unit(rng) * (hi - lo + 1.0)).floor().min(hi - lo)
                                    }
                                }
                            }
                            StimulusType::Normal => {
                                let m = param(cfg.normal_mean, "normal_mean")?;
                                let sd = param(cfg.normal_stddev, "normal_stddev")?;
                                match ints {
                                    None => fit(m + sd * standard_normal(rng)),
                                    Some(_) => {
                                        fit((m.trunc() + sd.trunc() * standard_normal(rng)).round())
                                    }
                                }
                            }
                            StimulusType::Constant => {
                                fit(param(cfg.constant_value, "constant_value")?)
                            }
                            StimulusType::DebugTileId => {
                                let base = param(cfg.debug_tile_id_base, "debug_tile_id_base")?;
                                let st = param(cfg.debug_tile_id_step, "debug_tile_id_step")?;
                                fit(base + st * ((zi * rt + tr) * ct + tc) as f64)
                            }
                            StimulusType::Step => {
                                let start = param(cfg.step_start, "step_start")? as f32;
                                let inc = param(cfg.step_increment, "step_increment")? as f32;
                                step = if first { start } else { step + inc };
                                first = false;
                                fit(f64::from(step))
                            }
                            StimulusType::StepRowwise => {
                                let start = param(cfg.step_start, "step_start")?;
                                let inc = param(cfg.step_increment, "step_increment")?;
                                fit(start + (tc * TILE) as f64 + j as f64 * inc)
                            }
                            StimulusType::StepColumnwise => {
                                let start = param(cfg.step_start, "step_start")?;
                                let inc = param(cfg.step_increment, "step_increment")?;
                                fit(start + (tr * TILE) as f64 + i as f64 * inc)
                            }
                            other => return unsupported(format!("stimulus type {other:?}")),
                        };
                        t.set(zi, r, c, v);
                    }
                }
            }
        }
    }
    Ok(t)
}
