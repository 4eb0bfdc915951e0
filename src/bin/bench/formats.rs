//! The `formats` suite: tilize and untilize of one queue entry against a plain memcpy.
//!
//! The entry is a `[1, 1, 1024, 1024]` float32 host tensor (4 MiB) of pseudo-random values over
//! eight binades, ±[2^-5, 8), so block floats align mantissas for real. The queue is Wormhole B0,
//! grid 1x1, mblock 8x8, ublock 4x4 of 32x32 tiles, t = 1, tilized. Throughput always counts
//! the 4 MiB of float32 host data, whichever way the conversion goes.
//!
//! Then the same tensor as TT-Metal TILE pages (TT-Metal's rules), against ttnn's host
//! conversion when `TTRT_BENCH_PYTHON` names a Python with ttnn (`metal_pages.rs`).

use std::hint::black_box;
use std::time::{Duration, Instant};

use ttrt::format::{
    tilize, untilize, DataFormat, FormatError, HostTensor, HostTensorMut, QueueLayout, Rounding,
};

use super::{gb_per_s, median, metal_pages, time, Plan};

const ROWS: usize = 1024;
const COLS: usize = 1024;
/// Bytes of float32 host data one run converts (and the baseline copies).
const HOST_BYTES: usize = ROWS * COLS * 4;
const SHAPE: [usize; 4] = [1, 1, ROWS, COLS];

/// The queue layout of the suite in `format`.
fn layout(format: DataFormat) -> QueueLayout {
    let mut layout = QueueLayout::single_tile(format);
    layout.mblock_m = 8;
    layout.mblock_n = 8;
    layout.ublock_rt = 4;
    layout.ublock_ct = 4;
    layout
}

/// Deterministic float32 values, little-endian: a random sign, an exponent in -5..=2 and a
/// random 23-bit mantissa (xorshift32, fixed seed).
fn host_input() -> Vec<u8> {
    let mut state = 0x9e37_79b9u32;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state
    };
    let mut out = Vec::with_capacity(HOST_BYTES);
    for _ in 0..ROWS * COLS {
        let r = next();
        let sign = r & 0x8000_0000;
        let exponent = 127 - 5 + (next() % 8);
        let bits = sign | (exponent << 23) | (r & 0x7f_ffff);
        out.extend_from_slice(&bits.to_le_bytes());
    }
    out
}

type Op<'a> = Box<dyn FnMut() -> Result<(), FormatError> + 'a>;

/// One measured operation: the baseline (no goal) or a conversion.
struct Figure<'a> {
    name: &'static str,
    /// The least acceptable ratio to the baseline.
    goal: Option<f64>,
    op: Op<'a>,
    samples: Vec<Duration>,
}

pub fn run(plan: Plan) -> Result<(), String> {
    let formats = [DataFormat::Float16B, DataFormat::Bfp8B];
    let layouts = formats.map(layout);
    let rounding = Rounding::default();
    for l in &layouts {
        l.validate().map_err(|e| e.to_string())?;
        if l.host_shape(1) != SHAPE {
            return Err(format!("layout gives host shape {:?}", l.host_shape(1)));
        }
    }

    // Every buffer exists (and every page is touched) before the clock starts.
    let host_in = host_input();
    let src = HostTensor::contiguous(&host_in, DataFormat::Float32, SHAPE);
    let mut copy_dst = vec![0x5au8; HOST_BYTES];
    let mut tiled_out = layouts.map(|l| vec![0x5au8; l.tilized_size(1)]);
    let mut tiled_in = layouts.map(|l| vec![0u8; l.tilized_size(1)]);
    for (l, buf) in layouts.iter().zip(&mut tiled_in) {
        tilize(&src, l, rounding, buf).map_err(|e| e.to_string())?;
    }
    let mut host_out = [vec![0x5au8; HOST_BYTES], vec![0x5au8; HOST_BYTES]];

    let lines = {
        let [out_f16, out_bfp] = &mut tiled_out;
        let [in_f16, in_bfp] = &tiled_in;
        let [host_f16, host_bfp] = &mut host_out;
        let [l_f16, l_bfp] = &layouts;
        let tilize_into = |layout: &QueueLayout, out: &mut Vec<u8>| {
            let n = tilize(black_box(&src), layout, rounding, black_box(&mut out[..]))?;
            black_box(n);
            Ok(())
        };
        let untilize_from = |layout: &QueueLayout, bytes: &[u8], out: &mut Vec<u8>| {
            let mut dst = HostTensorMut::contiguous(&mut out[..], DataFormat::Float32, SHAPE);
            untilize(black_box(bytes), layout, black_box(&mut dst))?;
            black_box(out);
            Ok(())
        };
        let figure = |name, goal, op| Figure {
            name,
            goal,
            op,
            samples: Vec::with_capacity(plan.runs),
        };
        let mut figures = [
            figure(
                "memcpy",
                None,
                Box::new(|| {
                    black_box(&mut copy_dst[..]).copy_from_slice(black_box(&host_in[..]));
                    black_box(&mut copy_dst);
                    Ok(())
                }),
            ),
            figure(
                "tilize Float16_b",
                Some(0.5),
                Box::new(|| tilize_into(l_f16, out_f16)),
            ),
            figure(
                "tilize Bfp8_b",
                Some(0.3),
                Box::new(|| tilize_into(l_bfp, out_bfp)),
            ),
            figure(
                "untilize Float16_b -> float32",
                Some(0.5),
                Box::new(|| untilize_from(l_f16, in_f16, host_f16)),
            ),
            figure(
                "untilize Bfp8_b -> float32",
                Some(0.3),
                Box::new(|| untilize_from(l_bfp, in_bfp, host_bfp)),
            ),
        ];

        // Every round times each operation once, the baseline included, starting one further
        // along each round: each one follows every other equally often (what the previous one
        // left in the caches matters at these sizes), and a noisy stretch hits them all alike.
        let err = |e: FormatError| e.to_string();
        let started = Instant::now();
        let mut round = 0;
        let mut timed = 0;
        while round < plan.warmup || plan.more(timed, started) {
            let keep = round >= plan.warmup;
            let n = figures.len();
            for k in 0..n {
                let fig = &mut figures[(round + k) % n];
                let t = time(&mut *fig.op).map_err(err)?;
                if keep {
                    fig.samples.push(t);
                }
            }
            if keep {
                timed += 1;
            }
            round += 1;
        }

        let copy = median(&figures[0].samples);
        figures
            .iter()
            .map(|fig| {
                let t = median(&fig.samples);
                let rate = gb_per_s(HOST_BYTES, t);
                match fig.goal {
                    None => format!(
                        "formats/{}: {rate:.1} GB/s (baseline: copy_from_slice of 4 MiB; \
                         medians of {timed} runs)",
                        fig.name
                    ),
                    Some(goal) => format!(
                        "formats/{}: {rate:.1} GB/s = {:.2} x memcpy (goal >= {goal})",
                        fig.name,
                        copy.as_secs_f64() / t.as_secs_f64().max(1e-12),
                    ),
                }
            })
            .collect::<Vec<_>>()
    };

    // Figures of conversions that did not do their whole job would mean nothing.
    check_results(&host_in, &tiled_out, &tiled_in, &host_out)?;
    for line in lines {
        outln!("{line}");
    }
    // TT-Metal tensors: the same tensor to and from TILE pages, against ttnn when present.
    for line in metal_pages::run(plan, &host_in, ROWS, COLS)? {
        outln!("{line}");
    }
    Ok(())
}

/// Makes sure the timed calls did the whole conversion: the tilized bytes equal the reference
/// ones, Float16_b comes back as the truncated input, Bfp8_b within its block precision.
fn check_results(
    host_in: &[u8],
    tiled_out: &[Vec<u8>; 2],
    tiled_in: &[Vec<u8>; 2],
    host_out: &[Vec<u8>; 2],
) -> Result<(), String> {
    if tiled_out != tiled_in {
        return Err("tilized bytes differ from the reference run".into());
    }
    let value = |b: &[u8]| f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    let triples = host_in
        .chunks_exact(4)
        .zip(host_out[0].chunks_exact(4))
        .zip(host_out[1].chunks_exact(4));
    for (i, ((x, f16), bfp)) in triples.enumerate() {
        let x = value(x);
        let truncated = f32::from_bits(x.to_bits() & 0xffff_0000);
        if value(f16) != truncated {
            return Err(format!(
                "untilized Float16_b value {i} is {}, expected {truncated}",
                value(f16)
            ));
        }
        // Seven magnitude bits under a block exponent of at most 2^2.
        if (value(bfp) - x).abs() > 1.0 / 16.0 {
            return Err(format!(
                "untilized Bfp8_b value {i} is {}, input {x}",
                value(bfp)
            ));
        }
    }
    Ok(())
}
