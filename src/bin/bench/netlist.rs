//! The `netlist` suite: reading and validating a 1 MB netlist shaped like PyBuda's BERT output,
//! against reading the same bytes from a file.
//!
//! The netlist is generated in memory (`bert.rs`). It is written to a temporary file; the
//! baseline is `std::fs::read` of that file, so the ratio says how many times a plain read the
//! parse costs. The scaling figure parses a netlist of ten times the layers against it: linear
//! parsing takes about ten times as long (goal: at most 12x).

use std::hint::black_box;
use std::time::{Duration, Instant};

use super::bert::generate_layers;
use super::{median, time, Plan};

/// A BERT-like netlist of at least `TARGET_BYTES`, and its layer count.
fn generate() -> (String, usize) {
    generate_layers(None)
}

pub fn run(plan: Plan) -> Result<(), String> {
    let (text, layers) = generate();
    let bytes = text.len();
    // The netlist must be valid, or the figure would time an early error.
    let netlist = ttrt::netlist::parse(&text, "bench.yaml").map_err(|e| e.to_string())?;
    if netlist.graphs().len() != layers {
        return Err(format!(
            "generated {layers} graphs, parsed {}",
            netlist.graphs().len()
        ));
    }
    let ops: usize = netlist.graphs().iter().map(|g| g.ops.len()).sum();
    let queues = netlist.queues().len();
    drop(netlist);

    let path = std::env::temp_dir().join(format!("ttrt-bench-netlist-{}.yaml", std::process::id()));
    std::fs::write(&path, &text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    let result = measure(plan, &text, &path);
    let _ = std::fs::remove_file(&path);
    let (read, parse) = result?;

    let mb_per_s = |t: Duration| bytes as f64 / t.as_secs_f64().max(1e-12) / 1e6;
    outln!(
        "netlist/read file: {:.0} MB/s (baseline: std::fs::read of the {:.2} MB netlist; {layers} graphs, {ops} ops, {queues} queues)",
        mb_per_s(read),
        bytes as f64 / 1e6
    );
    outln!(
        "netlist/parse + validate: {:.1} MB/s, {:.2} ms = {:.1} x file read (no goal set)",
        mb_per_s(parse),
        parse.as_secs_f64() * 1e3,
        parse.as_secs_f64() / read.as_secs_f64().max(1e-12)
    );
    crate::progress::status("ttrt bench: measuring netlist/scaling (a 10x larger netlist)");
    scaling(plan, &text, layers, queues)
}

/// How parse + validate grows: the same generator with ten times the layers (so ten times the
/// queues, ops and queue settings), against the netlist above. Linear work takes about 10x the
/// time; a step that looks names up by scanning would take far more.
fn scaling(plan: Plan, small: &str, layers: usize, queues: usize) -> Result<(), String> {
    let (large, _) = generate_layers(Some(layers * 10));
    let large_queues = ttrt::netlist::parse(&large, "bench-10x.yaml")
        .map_err(|e| e.to_string())?
        .queues()
        .len();
    let mut small_samples = Vec::with_capacity(plan.runs);
    let mut large_samples = Vec::with_capacity(plan.runs);
    let started = Instant::now();
    let mut round = 0;
    while round < plan.warmup || plan.more(large_samples.len(), started) {
        let parse = |text: &str| {
            time(&mut || {
                let n = ttrt::netlist::parse(black_box(text), "bench.yaml")?;
                black_box(&n);
                Ok::<(), ttrt::netlist::NetlistError>(())
            })
            .map_err(|e| e.to_string())
        };
        let s = parse(small)?;
        let l = parse(&large)?;
        if round >= plan.warmup {
            small_samples.push(s);
            large_samples.push(l);
        }
        round += 1;
    }
    let (s, l) = (median(&small_samples), median(&large_samples));
    outln!(
        "netlist/scaling: {:.1}x larger netlist ({large_queues} queues, {:.1} MB, {:.1} ms): {:.1}x the time of {queues} queues (goal <= 12x)",
        large.len() as f64 / small.len() as f64,
        large.len() as f64 / 1e6,
        l.as_secs_f64() * 1e3,
        l.as_secs_f64() / s.as_secs_f64().max(1e-12)
    );
    Ok(())
}

/// Medians of reading the file and of parsing the text, timed in alternating rounds so a
/// noisy stretch hits both.
fn measure(plan: Plan, text: &str, path: &std::path::Path) -> Result<(Duration, Duration), String> {
    let mut read_samples = Vec::with_capacity(plan.runs);
    let mut parse_samples = Vec::with_capacity(plan.runs);
    let started = Instant::now();
    let mut round = 0;
    let mut timed = 0;
    while round < plan.warmup || plan.more(timed, started) {
        let read = time(&mut || {
            let bytes = std::fs::read(black_box(path))?;
            black_box(&bytes);
            Ok::<(), std::io::Error>(())
        })
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let parse = time(&mut || {
            let n = ttrt::netlist::parse(black_box(text), "bench.yaml")?;
            black_box(&n);
            Ok::<(), ttrt::netlist::NetlistError>(())
        })
        .map_err(|e| e.to_string())?;
        if round >= plan.warmup {
            read_samples.push(read);
            parse_samples.push(parse);
            timed += 1;
        }
        round += 1;
    }
    Ok((median(&read_samples), median(&parse_samples)))
}
