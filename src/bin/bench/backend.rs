//! The `backend` suite: one push -> run_program -> get_output (into caller memory) -> pop
//! cycle of a datacopy netlist with a `[1, 1, 1024, 1024]` Float16_b queue, against the format
//! codec alone (tilize + untilize of the same tensor, which every cycle must do); and the
//! digits model of `examples/`, in inferences per second with where its time goes.

use std::hint::black_box;
use std::time::{Duration, Instant};

use ttrt::backend::{Backend, BackendConfig};
use ttrt::format::{tilize, untilize, DataFormat, HostTensor, HostTensorMut, Rounding};

use super::{median, Plan};

const ROWS: usize = 1024;
const COLS: usize = 1024;
const SHAPE: [usize; 4] = [1, 1, ROWS, COLS];

/// A datacopy between two 1024x1024 Float16_b queues on one core (mblock 16x8 of 2x4 ublocks).
pub const NETLIST: &str = r#"
devices:
  arch: wormhole_b0
queues:
  x: {type: queue, input: HOST, entries: 2, grid_size: [1, 1], t: 1, mblock: [16, 8], ublock: [2, 4], df: Float16_b, target_device: 0, loc: dram, dram: [[0, 0x10000000]]}
  y: {type: queue, input: copy, entries: 2, grid_size: [1, 1], t: 1, mblock: [16, 8], ublock: [2, 4], df: Float16_b, target_device: 0, loc: dram, dram: [[1, 0x10000000]]}
graphs:
  g:
    target_device: 0
    input_count: 1
    copy: {type: datacopy, grid_loc: [0, 0], grid_size: [1, 1], inputs: [x], in_df: [Float16_b], acc_df: Float16_b, out_df: Float16_b, intermed_df: Float16_b, ublock_order: r, buf_size_mb: 2, math_fidelity: HiFi3, untilize_output: false, t: 1, mblock: [16, 8], ublock: [2, 4]}
programs:
  - run:
      - param: [$p_loop_count]
      - staticvar: {$lptr: 0, $gptr: 0}
      - loop: $p_loop_count
      - execute: {graph_name: g, queue_settings: {x: {prologue: false, epilogue: false, zero: false, rd_ptr_local: $lptr, rd_ptr_global: $gptr}}}
      - varinst: [$lptr, incwrap, 1, 4]
      - varinst: [$gptr, incwrap, 1, 4]
      - endloop
"#;

fn host_input() -> Vec<u8> {
    (0..ROWS * COLS)
        .flat_map(|i| ((((i * 2654435761) >> 7) % 4093) as f32 / 512.0 - 4.0).to_le_bytes())
        .collect()
}

pub fn run(plan: Plan) -> Result<(), String> {
    let netlist =
        ttrt::netlist::parse(NETLIST, "bench-datacopy.yaml").map_err(|e| e.to_string())?;
    let layout = netlist.queues[0].layout(ttrt::format::Arch::WormholeB0);
    let e = |e: ttrt::backend::BackendError| e.message;
    let be = Backend::from_netlist(netlist, &BackendConfig::default()).map_err(e)?;
    be.initialize().map_err(e)?;

    let input = host_input();
    let src = HostTensor::contiguous(&input, DataFormat::Float32, SHAPE);
    let mut out = vec![0u8; ROWS * COLS * 4];
    let mut tiles = vec![0u8; layout.tilized_size(1)];
    let params = [("$p_loop_count", "1")];

    // The cycle's output is the input through Float16_b: what the codec alone gives.
    let mut ref_tiles = vec![0u8; layout.tilized_size(1)];
    let mut reference = vec![0u8; ROWS * COLS * 4];
    {
        tilize(&src, &layout, Rounding::default(), &mut ref_tiles).map_err(|e| e.to_string())?;
        let mut dst = HostTensorMut::contiguous(&mut reference, DataFormat::Float32, SHAPE);
        untilize(&ref_tiles, &layout, &mut dst).map_err(|e| e.to_string())?;
    }
    // The codec alone, and when its tilize ended.
    let mut codec = || -> Result<[Instant; 3], String> {
        let t0 = Instant::now();
        tilize(&src, &layout, Rounding::default(), &mut tiles).map_err(|e| e.to_string())?;
        let t1 = Instant::now();
        let mut dst = HostTensorMut::contiguous(&mut out, DataFormat::Float32, SHAPE);
        untilize(&tiles, &layout, &mut dst).map_err(|e| e.to_string())?;
        black_box(&out);
        Ok([t0, t1, Instant::now()])
    };
    let mut out2 = vec![0u8; ROWS * COLS * 4];
    // One cycle, and when each of its four calls ended.
    let mut cycle = || -> Result<[Instant; 5], String> {
        let t0 = Instant::now();
        be.push_input("x", &src, true, -1, -1).map_err(e)?;
        let t1 = Instant::now();
        be.run_program("run", &params).map_err(e)?;
        let t2 = Instant::now();
        let mut dst = HostTensorMut::contiguous(&mut out2, DataFormat::Float32, SHAPE);
        be.get_output_into("y", &mut dst, true, -1, -1).map_err(e)?;
        let t3 = Instant::now();
        be.pop_output("y", true, -1).map_err(e)?;
        let t4 = Instant::now();
        black_box(&out2);
        Ok([t0, t1, t2, t3, t4])
    };
    for _ in 0..plan.warmup.max(1) {
        codec()?;
        cycle()?;
    }
    let (mut base, mut tilize_part, mut untilize_part) = (Vec::new(), Vec::new(), Vec::new());
    let mut phases: [Vec<Duration>; 5] = Default::default();
    let started = Instant::now();
    while plan.more(base.len(), started) {
        let c = codec()?;
        base.push(c[2] - c[0]);
        tilize_part.push(c[1] - c[0]);
        untilize_part.push(c[2] - c[1]);
        let t = cycle()?;
        phases[0].push(t[4] - t[0]);
        for (i, p) in phases[1..].iter_mut().enumerate() {
            p.push(t[i + 1] - t[i]);
        }
    }
    if out2 != reference {
        return Err("the datacopy cycle's output differs from the input through Float16_b".into());
    }
    let (b, f) = (median(&base), median(&phases[0]));
    let [push, run, get, pop] = [1, 2, 3, 4].map(|i| median(&phases[i]));
    outln!(
        "backend datacopy cycle 1024x1024 Float16_b: {:.3} ms = {:.2}x tilize+untilize ({:.3} ms); goal <= 1.5x",
        ms(f),
        ratio(f, b),
        ms(b)
    );
    outln!(
        "  where the cycle goes (medians): push {:.3} ms, run_program {:.3} ms, get_output {:.3} ms, pop {:.3} ms; codec: tilize {:.3} ms, untilize {:.3} ms",
        ms(push),
        ms(run),
        ms(get),
        ms(pop),
        ms(median(&tilize_part)),
        ms(median(&untilize_part))
    );
    be.finish().map_err(e)?;
    digits(plan)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-12)
}

/// The digits model: inferences per second over its held-out set, and the share of push,
/// run_program (the program interpreter's dispatch, and the graph kernel: conversion of its
/// queue entries and compute) and get + pop.
fn digits(plan: Plan) -> Result<(), String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let image = ttrt::image::Image::open(root.join("digits.tti")).map_err(|e| e.to_string())?;
    let inputs = std::fs::read(root.join("digits/test_inputs.bin")).map_err(|e| e.to_string())?;
    let e = |e: ttrt::backend::BackendError| e.message;
    let be = Backend::create(&image, &BackendConfig::default()).map_err(e)?;
    be.initialize().map_err(e)?;
    let d = be.queue_desc("x").map_err(e)?;
    let n = d.input_count as usize;
    let shape = d.layout.host_shape(n);
    let per_push = shape.iter().product::<usize>() * 4;
    let pushes = inputs.len() / per_push;
    let (format, out_shape) = be.output_format("logits", n).map_err(e)?;
    let mut out =
        vec![0u8; out_shape.iter().product::<usize>() * format.host_item_size().unwrap_or(4)];
    let params = [("$p_loop_count", "1")];
    let (mut push, mut run, mut get) = (Vec::new(), Vec::new(), Vec::new());
    let mut kernel = Vec::new();
    let started = Instant::now();
    let mut k = 0;
    while plan.more(push.len(), started) || k < pushes + plan.warmup {
        let at = (k % pushes) * per_push;
        let t = HostTensor::contiguous(&inputs[at..at + per_push], DataFormat::Float32, shape);
        let t0 = Instant::now();
        be.push_input("x", &t, false, -1, -1).map_err(e)?;
        let t1 = Instant::now();
        let (_, k0) = be.kernel_time().map_err(e)?;
        be.run_program("run_fwd", &params).map_err(e)?;
        let (_, k1) = be.kernel_time().map_err(e)?;
        let t2 = Instant::now();
        let mut dst = HostTensorMut::contiguous(&mut out, format, out_shape);
        be.get_output_into("logits", &mut dst, false, -1, -1)
            .map_err(e)?;
        be.pop_output("logits", false, -1).map_err(e)?;
        let t3 = Instant::now();
        if k >= plan.warmup {
            push.push(t1 - t0);
            run.push(t2 - t1);
            get.push(t3 - t2);
            kernel.push(k1 - k0);
        }
        k += 1;
    }
    let (p, r, g) = (median(&push), median(&run), median(&get));
    let k = median(&kernel).min(r);
    let total = p + r + g;
    let samples = n * shape[2];
    outln!(
        "backend digits MLP: {:.0} inferences/s ({samples} per loop in {:.3} ms: push {:.0}% (conversion), run_program {:.0}% = dispatch {:.0}% + graph kernel {:.0}% (compute and queue conversions), get+pop {:.0}% (conversion))",
        samples as f64 / total.as_secs_f64(),
        ms(total),
        100.0 * ratio(p, total),
        100.0 * ratio(r, total),
        100.0 * ratio(r - k, total),
        100.0 * ratio(k, total),
        100.0 * ratio(g, total)
    );
    be.finish().map_err(e)
}
