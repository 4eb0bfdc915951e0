//! After its first run, a graph plan allocates nothing: a counting global allocator watches the
//! second run of a graph that uses most op kinds, TMs, a fused op, a gradient op and a queue
//! read after an op writes it, and of a graph whose matmul and eltwise ops are large enough to
//! run on the kernel threads.

mod support;

use std::sync::atomic::Ordering;

use support::counting::{Counting, ALLOCATIONS, COUNTING};

use ttrt::format::{Arch, DataFormat};
use ttrt::netlist::exec::{GraphPlan, QueueIo, Tensor};

#[global_allocator]
static GLOBAL: Counting = Counting;

const NETLIST: &str = r#"
devices:
  arch: wormhole_b0
queues:
  a:    {input: HOST, type: queue, entries: 1, grid_size: [1, 1], t: 2, mblock: [2, 2], ublock: [1, 1], df: Bfp8_b, target_device: 0, loc: dram, dram: [[0, 0x10000000]]}
  w:    {input: HOST, type: queue, entries: 1, grid_size: [1, 1], t: 2, mblock: [2, 1], ublock: [1, 1], df: Float32, target_device: 0, loc: dram, dram: [[0, 0x11000000]]}
  bias: {input: HOST, type: queue, entries: 1, grid_size: [1, 1], t: 1, mblock: [2, 1], ublock: [1, 1], df: Float16_b, target_device: 0, loc: dram, dram: [[0, 0x12000000]]}
  mid:  {input: mm, type: queue, entries: 1, grid_size: [1, 1], t: 1, mblock: [1, 2], ublock: [1, 1], df: Float16_b, target_device: 0, loc: dram, dram: [[0, 0x13000000]], input_tms: [transpose]}
  out:  {input: fused, type: queue, entries: 1, grid_size: [1, 1], t: 1, mblock: [1, 2], ublock: [1, 1], df: Bfp4_b, target_device: 0, loc: dram, dram: [[0, 0x14000000]]}
  red:  {input: red0, type: queue, entries: 1, grid_size: [1, 1], t: 1, mblock: [1, 2], ublock: [1, 1], df: Float32, target_device: 0, loc: dram, dram: [[0, 0x15000000]]}
  grad: {input: gr, type: ram, entries: 1, grid_size: [1, 1], t: 1, mblock: [2, 1], ublock: [1, 1], df: Float32, target_device: 0, loc: dram, dram: [[0, 0x16000000]]}
graphs:
  g:
    target_device: 0
    input_count: 1
    mm: {type: matmul, grid_loc: [0, 0], grid_size: [1, 1], inputs: [a, w, bias], in_df: [Bfp8_b, Float32, Float16_b], out_df: Float16_b, intermed_df: Float16_b, acc_df: Float16_b, math_fidelity: HiFi4, buf_size_mb: 2, ublock_order: r, untilize_output: false, t: 1, mblock: [2, 1], ublock: [1, 1], attributes: {m_k: 1, u_kt: 2, bias: true, accumulate: true, z: 2, sfpu_op: gelu}}
    ex: {type: exp, grid_loc: [0, 1], grid_size: [1, 1], inputs: [mid], in_df: [Float16_b], out_df: Float16_b, intermed_df: Float16_b, acc_df: Float16_b, math_fidelity: HiFi4, buf_size_mb: 2, ublock_order: r, untilize_output: false, t: 2, mblock: [1, 1], ublock: [1, 1], input_0_tms: [hslice: 2], attributes: {relu_en: true}}
    red0: {type: reduce, grid_loc: [0, 2], grid_size: [1, 1], inputs: [a], in_df: [Bfp8_b], out_df: Float32, intermed_df: Float32, acc_df: Float32, math_fidelity: HiFi4, buf_size_mb: 2, ublock_order: r, untilize_output: false, t: 1, mblock: [1, 2], ublock: [1, 1], attributes: {type: max, dim: r}, input_0_tms: [vstack: 2], input_0_unpad: {rt: 1, ct: 0}}
    fused: {type: fused_op, grid_loc: [0, 3], grid_size: [1, 1], inputs: [ex, red0], in_df: [Float16_b, Float32], out_df: Bfp4_b, intermed_df: Float16_b, acc_df: Float16_b, math_fidelity: HiFi4, buf_size_mb: 2, ublock_order: r, untilize_output: false, t: 1, mblock: [1, 2], ublock: [1, 1], input_0_tms: [hstack: 2], input_1_tms: [broadcast: {z: 1}], attributes: {fused_op_id: 0}}
    gr: {type: multiply, grid_loc: [0, 4], grid_size: [1, 1], inputs: [mm, mm], in_df: [Float16_b, Float16_b], out_df: Float32, intermed_df: Float32, acc_df: Float32, math_fidelity: HiFi4, buf_size_mb: 2, ublock_order: r, untilize_output: false, t: 1, mblock: [2, 1], ublock: [1, 1], gradient_op: true}
programs:
  - p:
    - var: {$c_zero: 0}
    - execute: {graph_name: g, queue_settings: {
        a: {prologue: false, epilogue: false, zero: false, rd_ptr_global: $c_zero, rd_ptr_local: $c_zero},
        w: {prologue: false, epilogue: false, zero: false, rd_ptr_global: $c_zero, rd_ptr_local: $c_zero},
        bias: {prologue: false, epilogue: false, zero: false, rd_ptr_global: $c_zero, rd_ptr_local: $c_zero},
        mid: {prologue: false, epilogue: false, zero: false, rd_ptr_global: $c_zero, rd_ptr_local: $c_zero}}}
fused_ops:
  0:
    inputs: 2
    intermediates: 1
    schedules:
      -
        - s0: {type: add, inputs: [input0, input1], mblock: [1, 2], ublock: [1, 1], output: intermed0}
        - s1: {type: sigmoid, inputs: [intermed0], mblock: [1, 2], ublock: [1, 1], output: dest}
        - s2: {type: multiply, inputs: [dest, intermed0], pop: [intermed0], mblock: [1, 2], ublock: [1, 1], output: output, input_1_tms: [tile_broadcast: c]}
"#;

/// Entries by queue index; reads and writes copy into buffers that already exist.
struct Io {
    entries: Vec<Tensor>,
}

impl QueueIo for Io {
    type Error = String;

    fn read(&mut self, queue: usize, out: &mut Tensor) -> Result<(), String> {
        out.data.copy_from_slice(&self.entries[queue].data);
        Ok(())
    }
    fn write(&mut self, queue: usize, entry: &Tensor) -> Result<(), String> {
        self.entries[queue].copy_from(entry);
        Ok(())
    }
}

#[test]
fn second_run_allocates_nothing() {
    let netlist = ttrt::netlist::parse(NETLIST, "alloc.yaml").unwrap();
    let mut plan = GraphPlan::new(&netlist, 0, Arch::WormholeB0).unwrap();
    let mut entries: Vec<Tensor> = netlist
        .queues
        .iter()
        .map(|q| {
            let rt = q.grid_size.r * q.mblock.m * q.ublock.rt;
            let ct = q.grid_size.c * q.mblock.n * q.ublock.ct;
            Tensor::zeros(q.t, rt, ct, q.df)
        })
        .collect();
    for (k, e) in entries.iter_mut().enumerate() {
        for (i, v) in e.data.iter_mut().enumerate() {
            *v = ((i * 7 + k * 13) % 29) as f32 * 0.0625 - 0.75;
        }
    }
    let mut io = Io { entries };
    let names: Vec<&str> = plan
        .input_queues()
        .iter()
        .map(|&q| netlist.queues[q].name.as_str())
        .collect();
    assert_eq!(names, ["a", "w", "bias", "mid"]);
    let names: Vec<&str> = plan
        .output_queues()
        .iter()
        .map(|&q| netlist.queues[q].name.as_str())
        .collect();
    assert_eq!(names, ["mid", "out", "red", "grad"]);
    plan.run(&mut io).unwrap();
    let first = io.entries[4].clone();
    let grad_first = io.entries[6].clone();
    COUNTING.store(true, Ordering::SeqCst);
    plan.run(&mut io).unwrap();
    COUNTING.store(false, Ordering::SeqCst);
    assert_eq!(
        ALLOCATIONS.load(Ordering::SeqCst),
        0,
        "allocations in the second run"
    );
    // Same inputs, same output; the gradient op accumulated.
    assert_eq!(io.entries[4], first);
    for (a, b) in io.entries[6].data.iter().zip(&grad_first.data) {
        assert_eq!(*a, 2.0 * *b);
    }
    assert!(first.data.iter().any(|v| *v != 0.0));
    let _ = DataFormat::Float32;

    // Ops the kernel threads share: 512 tile products, then 64-tile gelu and add.
    let big = ttrt::netlist::parse(THREADED, "threaded.yaml").unwrap();
    let mut plan = GraphPlan::new(&big, 0, Arch::Grayskull).unwrap();
    let entries = big
        .queues
        .iter()
        .map(|q| {
            let mut t = Tensor::zeros(q.t, q.mblock.m, q.mblock.n, q.df);
            for (i, v) in t.data.iter_mut().enumerate() {
                *v = (i % 23) as f32 * 0.01 - 0.1;
            }
            t
        })
        .collect();
    let mut io = Io { entries };
    plan.run(&mut io).unwrap();
    let first = io.entries[2].clone();
    COUNTING.store(true, Ordering::SeqCst);
    plan.run(&mut io).unwrap();
    COUNTING.store(false, Ordering::SeqCst);
    assert_eq!(
        ALLOCATIONS.load(Ordering::SeqCst),
        0,
        "allocations in the second run of the threaded graph"
    );
    assert_eq!(io.entries[2], first);
    assert!(
        ttrt::netlist::exec::workers::threads() > 1
            || std::thread::available_parallelism().map_or(1, |n| n.get()) == 1
    );
}

const THREADED: &str = r#"
devices:
  arch: grayskull
queues:
  x:   {input: HOST, type: queue, entries: 1, grid_size: [1, 1], t: 1, mblock: [8, 8], ublock: [1, 1], df: Float32, target_device: 0, loc: dram, dram: [[0, 0x10000000]]}
  w:   {input: HOST, type: queue, entries: 1, grid_size: [1, 1], t: 1, mblock: [8, 8], ublock: [1, 1], df: Float32, target_device: 0, loc: dram, dram: [[0, 0x11000000]]}
  out: {input: sum, type: queue, entries: 1, grid_size: [1, 1], t: 1, mblock: [8, 8], ublock: [1, 1], df: Float32, target_device: 0, loc: dram, dram: [[0, 0x12000000]]}
graphs:
  g:
    target_device: 0
    input_count: 1
    mm: {type: matmul, grid_loc: [0, 0], grid_size: [1, 1], inputs: [x, w], in_df: [Float32, Float32], out_df: Float32, intermed_df: Float32, acc_df: Float32, math_fidelity: HiFi4, buf_size_mb: 2, ublock_order: r, untilize_output: false, t: 1, mblock: [8, 8], ublock: [1, 1], attributes: {m_k: 2, u_kt: 4}}
    ge: {type: gelu, grid_loc: [0, 1], grid_size: [1, 1], inputs: [mm], in_df: [Float32], out_df: Float32, intermed_df: Float32, acc_df: Float32, math_fidelity: HiFi4, buf_size_mb: 2, ublock_order: r, untilize_output: false, t: 1, mblock: [8, 8], ublock: [1, 1]}
    sum: {type: add, grid_loc: [0, 2], grid_size: [1, 1], inputs: [mm, ge], in_df: [Float32, Float32], out_df: Float32, intermed_df: Float32, acc_df: Float32, math_fidelity: HiFi4, buf_size_mb: 2, ublock_order: r, untilize_output: false, t: 1, mblock: [8, 8], ublock: [1, 1]}
programs:
  - p:
    - var: {$c_zero: 0}
    - execute: {graph_name: g, queue_settings: {x: {prologue: false, epilogue: false, zero: false, rd_ptr_global: $c_zero, rd_ptr_local: $c_zero}, w: {prologue: false, epilogue: false, zero: false, rd_ptr_global: $c_zero, rd_ptr_local: $c_zero}}}
"#;
