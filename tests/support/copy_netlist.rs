//! A netlist of one datacopy: a 2-entry input queue copied into a 2-entry output queue, with
//! a `run` program that loops `$p_loop_count` times. Shared by the tests of blocking calls.

/// A 2-entry input queue copied into a 2-entry output queue.
pub const NETLIST: &str = r#"
devices:
  arch: wormhole_b0
queues:
  in0: {type: queue, input: HOST, entries: 2, grid_size: [1, 1], t: 1, mblock: [1, 1], ublock: [1, 1], df: Float16_b, target_device: 0, loc: dram, dram: [[1, 0x10000000]]}
  out: {type: queue, input: copy, entries: 2, grid_size: [1, 1], t: 1, mblock: [1, 1], ublock: [1, 1], df: Float16_b, target_device: 0, loc: dram, dram: [[2, 0x10000000]]}
graphs:
  g:
    target_device: 0
    input_count: 1
    copy: {type: datacopy, grid_loc: [0, 0], grid_size: [1, 1], inputs: [in0], in_df: [Float16_b], acc_df: Float16_b, out_df: Float16_b, intermed_df: Float16_b, ublock_order: r, buf_size_mb: 2, math_fidelity: HiFi3, untilize_output: false, t: 1, mblock: [1, 1], ublock: [1, 1]}
programs:
  - run:
      - param: [$p_loop_count]
      - staticvar: {$lptr: 0, $gptr: 0}
      - loop: $p_loop_count
      - execute: {graph_name: g, queue_settings: {in0: {prologue: false, epilogue: false, zero: false, rd_ptr_local: $lptr, rd_ptr_global: $gptr}}}
      - varinst: [$lptr, incwrap, 1, 4]
      - varinst: [$gptr, incwrap, 1, 4]
      - endloop
"#;
