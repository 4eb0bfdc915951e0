//! TT-Metal tile pages in the `formats` suite: ttrt's conversion of the suite's float32 tensor
//! to and from TILE pages under TT-Metal's rules (what a device write and read do on the host),
//! against ttnn's host conversion of the same tensor when a Python with ttnn is at hand.
//!
//! `TTRT_BENCH_PYTHON` names that Python (e.g. a venv's `bin/python` after
//! `pip install ttnn`); ttnn opens a device context even for host conversion, so it also needs
//! `TT_METAL_MOCK_CLUSTER_DESC_PATH` (a cluster descriptor such as
//! tests/fixtures/ttnn/wormhole_N150.yaml). ttnn runs in its own process, after ttrt's runs:
//! its figure is the median of its own runs, timed around `ttnn.Tensor(...)` and `to_numpy()`.
//! Its pages are compared with ttrt's, byte for byte.

use std::hint::black_box;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use ttrt::format::page::{decode_tile_page, encode_tile_page, tile_page_size};
use ttrt::format::{BfpDecoding, DataFormat, FormatError, Rounding};

use super::{gb_per_s, median, time, Plan};

const TILE: usize = 32;

/// Times `ttnn.Tensor(x, dtype, TILE_LAYOUT)` (and `to_numpy` of the Bfp8_b one) over the
/// float32 file argv[1] of shape argv[2] x argv[3], argv[4] runs after one warm-up; prints
/// `<what> <dtype> <median seconds>` lines and writes each dtype's pages to argv[5]/<dtype>.
const TTNN_SCRIPT: &str = r#"
import os, struct, sys, time
import numpy as np
import ttnn
path, rows, cols, runs, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
x = np.fromfile(path, dtype="<f4").reshape(rows, cols)
def timed(f):
    f()
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        r = f()
        samples.append(time.perf_counter() - t0)
    return float(np.median(samples)), r
for name, dt in (("bfloat16", ttnn.bfloat16), ("bfloat8_b", ttnn.bfloat8_b)):
    s, t = timed(lambda: ttnn.Tensor(x, dt, layout=ttnn.TILE_LAYOUT))
    print("write", name, repr(s))
    p = os.path.join(out, name + ".tensorbin")
    ttnn.dump_tensor(p, t)
    blob = open(p, "rb").read()
    (n,) = struct.unpack("<Q", blob[:8])
    open(os.path.join(out, name), "wb").write(blob[8 + n:])
    if dt == ttnn.bfloat8_b:
        s, _ = timed(lambda: t.to_numpy())
        print("read", name, repr(s))
sys.stdout.flush()
"#;

/// ttrt's side: TILE pages of a row-major float32 tensor and back, tile by tile, as the device's
/// host conversion does it.
struct Pages {
    rows: usize,
    cols: usize,
}

impl Pages {
    fn encode(&self, host: &[f32], format: DataFormat, out: &mut [u8]) -> Result<(), FormatError> {
        let page = tile_page_size(format);
        let tiles_w = self.cols / TILE;
        let mut vals = [0f32; TILE * TILE];
        for (p, out_page) in out.chunks_exact_mut(page).enumerate() {
            let (tr, tc) = (p / tiles_w, p % tiles_w);
            for (r, row) in vals.chunks_exact_mut(TILE).enumerate() {
                let at = (tr * TILE + r) * self.cols + tc * TILE;
                row.copy_from_slice(&host[at..at + TILE]);
            }
            encode_tile_page(&vals, format, Rounding::tt_metal(), out_page)?;
        }
        Ok(())
    }

    fn decode(
        &self,
        bytes: &[u8],
        format: DataFormat,
        host: &mut [f32],
    ) -> Result<(), FormatError> {
        let page = tile_page_size(format);
        let tiles_w = self.cols / TILE;
        let mut vals = [0f32; TILE * TILE];
        for (p, in_page) in bytes.chunks_exact(page).enumerate() {
            decode_tile_page(in_page, format, BfpDecoding::TtMetal, &mut vals)?;
            let (tr, tc) = (p / tiles_w, p % tiles_w);
            for (r, row) in vals.chunks_exact(TILE).enumerate() {
                let at = (tr * TILE + r) * self.cols + tc * TILE;
                host[at..at + TILE].copy_from_slice(row);
            }
        }
        Ok(())
    }

    fn page_bytes(&self, format: DataFormat) -> usize {
        self.rows / TILE * (self.cols / TILE) * tile_page_size(format)
    }
}

/// One of ttrt's timed conversions.
struct Figure {
    /// ttnn's name for it: `write bfloat8_b`.
    what: &'static str,
    dtype: &'static str,
    format: DataFormat,
    median: Duration,
}

/// The figure lines: ttrt's conversions, each against ttnn's when ttnn ran, or one line saying
/// why ttnn did not.
pub fn run(plan: Plan, host_in: &[u8], rows: usize, cols: usize) -> Result<Vec<String>, String> {
    let host: Vec<f32> = host_in
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let pages = Pages { rows, cols };
    let err = |e: FormatError| e.to_string();
    let mut f16_pages = vec![0x5au8; pages.page_bytes(DataFormat::Float16B)];
    let mut bfp_pages = vec![0x5au8; pages.page_bytes(DataFormat::Bfp8B)];
    let mut back = vec![0f32; rows * cols];

    let mut samples: [Vec<Duration>; 3] = Default::default();
    let started = Instant::now();
    let mut round = 0;
    let mut timed = 0;
    while round < plan.warmup || plan.more(timed, started) {
        let t = [
            time(&mut || pages.encode(black_box(&host), DataFormat::Float16B, &mut f16_pages))
                .map_err(err)?,
            time(&mut || pages.encode(black_box(&host), DataFormat::Bfp8B, &mut bfp_pages))
                .map_err(err)?,
            time(&mut || pages.decode(black_box(&bfp_pages), DataFormat::Bfp8B, &mut back))
                .map_err(err)?,
        ];
        if round >= plan.warmup {
            for (s, t) in samples.iter_mut().zip(t) {
                s.push(t);
            }
            timed += 1;
        }
        round += 1;
    }
    let figures = [
        ("write", "bfloat16", DataFormat::Float16B),
        ("write", "bfloat8_b", DataFormat::Bfp8B),
        ("read", "bfloat8_b", DataFormat::Bfp8B),
    ]
    .into_iter()
    .zip(&samples)
    .map(|((what, dtype, format), s)| Figure {
        what,
        dtype,
        format,
        median: median(s),
    })
    .collect::<Vec<_>>();

    let host_bytes = rows * cols * 4;
    let ttnn = match ttnn_run(plan, host_in, rows, cols) {
        Ok(t) => Some(t),
        Err(why) => {
            let mut lines = lines(&figures, host_bytes, timed, None);
            lines.push(format!("formats/ttnn: skipped: {why}"));
            return Ok(lines);
        }
    };
    let ttnn = ttnn.expect("set above");
    for (dtype, mine) in [("bfloat16", &f16_pages), ("bfloat8_b", &bfp_pages)] {
        let theirs = ttnn
            .pages
            .iter()
            .find(|(d, _)| d == dtype)
            .map(|(_, p)| p)
            .ok_or_else(|| format!("ttnn wrote no {dtype} pages"))?;
        if theirs != mine {
            let differ = theirs
                .iter()
                .zip(mine.iter())
                .filter(|(a, b)| a != b)
                .count();
            return Err(format!(
                "ttnn's {dtype} pages differ from ttrt's: {} and {} bytes, {differ} bytes differ",
                theirs.len(),
                mine.len()
            ));
        }
    }
    Ok(lines(&figures, host_bytes, timed, Some(&ttnn)))
}

fn lines(figures: &[Figure], host_bytes: usize, timed: usize, ttnn: Option<&Ttnn>) -> Vec<String> {
    figures
        .iter()
        .map(|f| {
            let ms = f.median.as_secs_f64() * 1e3;
            let mine = format!(
                "formats/TT-Metal pages {} {} ({}): {ms:.2} ms, {:.2} GB/s (medians of {timed} runs)",
                f.what,
                f.dtype,
                f.format.name(),
                gb_per_s(host_bytes, f.median)
            );
            let theirs = ttnn.and_then(|t| {
                t.medians
                    .iter()
                    .find(|(what, dtype, _)| what == f.what && dtype == f.dtype)
            });
            match theirs {
                Some((_, _, s)) => format!(
                    "{mine}; ttnn {:.2} ms: {:.2} x ttnn's speed{}",
                    s * 1e3,
                    s / f.median.as_secs_f64().max(1e-12),
                    if f.what == "write" { ", the same pages" } else { "" }
                ),
                None => mine,
            }
        })
        .collect()
}

/// What the ttnn process reported: `(what, dtype, median seconds)` and each dtype's pages.
struct Ttnn {
    medians: Vec<(String, String, f64)>,
    pages: Vec<(String, Vec<u8>)>,
}

/// A scratch directory removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs ttnn's conversions of the same tensor in `TTRT_BENCH_PYTHON`; the error is the reason
/// it did not run, for the one "skipped" line.
fn ttnn_run(plan: Plan, host_in: &[u8], rows: usize, cols: usize) -> Result<Ttnn, String> {
    let python = std::env::var_os("TTRT_BENCH_PYTHON").ok_or(
        "TTRT_BENCH_PYTHON is not set (a Python with ttnn installed, with \
         TT_METAL_MOCK_CLUSTER_DESC_PATH naming a cluster descriptor)",
    )?;
    let dir = std::env::temp_dir().join(format!("ttrt-bench-ttnn-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let scratch = Scratch(dir);
    let input = scratch.0.join("input.f32");
    std::fs::write(&input, host_in).map_err(|e| format!("{}: {e}", input.display()))?;
    let runs = plan.runs.clamp(Plan::MIN_RUNS, 10);
    let output = Command::new(&python)
        .arg("-c")
        .arg(TTNN_SCRIPT)
        .arg(&input)
        .arg(rows.to_string())
        .arg(cols.to_string())
        .arg(runs.to_string())
        .arg(&scratch.0)
        .env("TT_LOGGER_LEVEL", "error")
        .output()
        .map_err(|e| format!("cannot run {}: {e}", python.to_string_lossy()))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let hint = if std::env::var_os("TT_METAL_MOCK_CLUSTER_DESC_PATH").is_none() {
            " (TT_METAL_MOCK_CLUSTER_DESC_PATH is not set)"
        } else {
            ""
        };
        return Err(format!(
            "{} failed ({}): {}{hint}",
            python.to_string_lossy(),
            output.status,
            failure_of(&stderr)
        ));
    }
    let mut medians = Vec::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let mut words = line.split_whitespace();
        if let (Some(what @ ("write" | "read")), Some(dtype), Some(s)) =
            (words.next(), words.next(), words.next())
        {
            let s: f64 = s.parse().map_err(|_| format!("ttnn printed `{line}`"))?;
            medians.push((what.to_string(), dtype.to_string(), s));
        }
    }
    let mut pages = Vec::new();
    for dtype in ["bfloat16", "bfloat8_b"] {
        let path = scratch.0.join(dtype);
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        pages.push((dtype.to_string(), bytes));
    }
    if medians.len() != 3 {
        return Err(format!("ttnn reported {} figures, not 3", medians.len()));
    }
    Ok(Ttnn { medians, pages })
}

/// The line of a failed Python's stderr that says why: TT-Metal's `TT_FATAL` message, else the
/// exception line (`ModuleNotFoundError: No module named 'ttnn'`), else the last line.
fn failure_of(stderr: &str) -> &str {
    let lines = || stderr.lines().map(str::trim).filter(|l| !l.is_empty());
    if let Some(fatal) = lines().find_map(|l| l.split_once("TT_FATAL: ")) {
        return fatal.1;
    }
    let exception = |l: &&str| {
        l.split_once(": ").is_some_and(|(name, _)| {
            (name.ends_with("Error") || name.ends_with("Exception")) && !name.contains(' ')
        })
    };
    lines()
        .rev()
        .find(exception)
        .or_else(|| lines().next_back())
        .unwrap_or("no message")
}
