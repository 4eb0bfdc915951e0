//! The backend's steady state allocates nothing also for a temporal graph (two graphs joined by
//! an op reading an op, run at the second execute) fed by a queue of 1x32 tiles and a view of a
//! dual-view ram: push -> run_program -> get_output_into -> pop, counted by a global allocator.

mod support;

use std::sync::atomic::Ordering;

use support::counting::{Counting, ALLOCATIONS, COUNTING};

use ttrt::backend::{Backend, BackendConfig};
use ttrt::format::{DataFormat, HostTensor, HostTensorMut};
use ttrt::netlist;

#[global_allocator]
static GLOBAL: Counting = Counting;

const NETLIST: &str = r#"
devices:
  arch: wormhole_b0
queues:
  x:      {type: queue, input: HOST, entries: 2, grid_size: [1, 1], t: 1, mblock: [1, 1], ublock: [1, 1], df: Float16_b, target_device: 0, loc: dram, dram: [[0, 0x10000000]]}
  row:    {type: queue, input: HOST, entries: 2, grid_size: [1, 1], t: 1, mblock: [1, 1], ublock: [1, 1], tile_dim: [1, 32], df: Float16_b, target_device: 0, loc: dram, dram: [[0, 0x11000000]]}
  cache:  {type: ram, input: HOST, entries: 2, grid_size: [1, 1], t: 1, mblock: [1, 1], ublock: [1, 1], df: Float16_b, target_device: 0, loc: dram, dram: [[0, 0x12000000]]}
  view:   {type: ram, input: HOST, alias: cache, entries: 1, grid_size: [1, 1], t: 2, mblock: [1, 1], ublock: [1, 1], df: Float16_b, target_device: 0, loc: dram, dram: [[0, 0x12000000]]}
  out:    {type: queue, input: sum, entries: 2, grid_size: [1, 1], t: 1, mblock: [1, 1], ublock: [1, 1], df: Float32, target_device: 0, loc: dram, dram: [[0, 0x13000000]]}
graphs:
  first:
    target_device: 0
    input_count: 1
    copy: {type: datacopy, grid_loc: [0, 0], grid_size: [1, 1], inputs: [x], in_df: [Float16_b], acc_df: Float16_b, out_df: Float16_b, intermed_df: Float16_b, ublock_order: r, buf_size_mb: 2, math_fidelity: HiFi4, untilize_output: false, t: 1, mblock: [1, 1], ublock: [1, 1]}
    slice: {type: datacopy, grid_loc: [0, 1], grid_size: [1, 1], inputs: [view], in_df: [Float16_b], acc_df: Float16_b, out_df: Float16_b, intermed_df: Float16_b, ublock_order: r, buf_size_mb: 2, math_fidelity: HiFi4, untilize_output: false, t: 1, mblock: [1, 2], ublock: [1, 1], input_0_tms: [hstack: 2]}
  second:
    target_device: 1
    input_count: 1
    sum: {type: add, grid_loc: [0, 0], grid_size: [1, 1], inputs: [copy, row], in_df: [Float16_b, Float16_b], acc_df: Float32, out_df: Float32, intermed_df: Float32, ublock_order: r, buf_size_mb: 2, math_fidelity: HiFi4, untilize_output: false, t: 1, mblock: [1, 1], ublock: [1, 1]}
programs:
  - run:
      - staticvar: {$ptr: 0}
      - var: {$c0: 0}
      - execute: {graph_name: first, queue_settings: {x: {prologue: false, epilogue: false, zero: false, rd_ptr_global: $ptr, rd_ptr_local: $ptr}, view: {prologue: false, epilogue: false, zero: false, read_only: true, rd_ptr_global: $c0, wr_ptr_global: $c0}}}
      - execute: {graph_name: second, queue_settings: {row: {prologue: false, epilogue: false, zero: false, rd_ptr_global: $ptr, rd_ptr_local: $ptr}}}
      - varinst: [$ptr, incwrap, 1, 4]
"#;

#[test]
fn a_temporal_graph_with_small_tiles_and_views_allocates_nothing_once_warm() {
    let n = netlist::parse(NETLIST, "steady.yaml").unwrap();
    let be = Backend::from_netlist(n, &BackendConfig::default()).unwrap();
    be.initialize().unwrap();
    let tile: Vec<u8> = (0..1024)
        .flat_map(|i| ((i % 64) as f32).to_le_bytes())
        .collect();
    let row: Vec<u8> = (0..32)
        .flat_map(|i| (0.5 * i as f32).to_le_bytes())
        .collect();
    let two: Vec<u8> = [tile.clone(), tile.clone()].concat();
    be.push_input(
        "view",
        &HostTensor::contiguous(&two, DataFormat::Float32, [1, 2, 32, 32]),
        true,
        0,
        0,
    )
    .unwrap();
    let mut out = vec![0u8; 1024 * 4];
    let step = |out: &mut Vec<u8>| {
        be.push_input(
            "x",
            &HostTensor::contiguous(&tile, DataFormat::Float32, [1, 1, 32, 32]),
            true,
            0,
            -1,
        )
        .unwrap();
        be.push_input(
            "row",
            &HostTensor::contiguous(&row, DataFormat::Float32, [1, 1, 1, 32]),
            true,
            0,
            -1,
        )
        .unwrap();
        be.run_program("run", &[]).unwrap();
        let mut dst = HostTensorMut::contiguous(out, DataFormat::Float32, [1, 1, 32, 32]);
        be.get_output_into("out", &mut dst, true, 0, -1).unwrap();
        be.pop_output("out", true, 0).unwrap();
    };
    for _ in 0..4 {
        step(&mut out);
    }
    ALLOCATIONS.store(0, Ordering::SeqCst);
    COUNTING.store(true, Ordering::SeqCst);
    for _ in 0..20 {
        step(&mut out);
    }
    COUNTING.store(false, Ordering::SeqCst);
    assert_eq!(ALLOCATIONS.load(Ordering::SeqCst), 0, "heap allocations");
    // Row 0 adds the 1x32 row, the other rows only x.
    let v: Vec<f32> = out
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!((v[3], v[35]), (3.0 + 1.5, 35.0 % 64.0));
    be.finish().unwrap();
}
