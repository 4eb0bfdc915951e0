//! Running a program allocates nothing on the heap once the interpreter exists: params, nested
//! loops, static and local variables, every varinst op, executes with pointer bindings and
//! queue allocation, counted by a global allocator. Its own test binary (one test), so no other
//! test allocates while it counts.

mod support;

use std::sync::atomic::Ordering;

use support::counting::{Counting, ALLOCATIONS, COUNTING};

use ttrt::netlist::{parse, Interpreter, PointerKind, ProgramHost, ResolvedSetting};

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Counts what it is asked without allocating.
#[derive(Default)]
struct Tally {
    executes: usize,
    settings: usize,
    pointer_moves: usize,
    last_pointer: u32,
    allocations: usize,
    deallocations: usize,
}

impl ProgramHost for Tally {
    type Error = String;

    fn execute(&mut self, _graph: usize, settings: &[ResolvedSetting]) -> Result<(), String> {
        self.executes += 1;
        self.settings += settings.len();
        Ok(())
    }
    fn allocate_queues(&mut self, queues: &[usize]) -> Result<(), String> {
        self.allocations += queues.len();
        Ok(())
    }
    fn deallocate_queues(&mut self, queues: &[usize]) -> Result<(), String> {
        self.deallocations += queues.len();
        Ok(())
    }
    fn set_queue_pointer(
        &mut self,
        _queue: usize,
        _which: PointerKind,
        value: u32,
    ) -> Result<(), String> {
        self.pointer_moves += 1;
        self.last_pointer = value;
        Ok(())
    }
}

const NETLIST: &str = "
devices:
  arch: grayskull

queues:
  input0: {type: queue, input: HOST, entries: 4, grid_size: [1, 1], t: 1, mblock: [1, 1], ublock: [1, 1], df: Float16, target_device: 0, loc: dram, dram: [[0, 0x10000000]]}
  output0: {type: queue, input: unary0, entries: 4, grid_size: [1, 1], t: 1, mblock: [1, 1], ublock: [1, 1], df: Float16, target_device: 0, loc: dram, dram: [[0, 0x11000000]]}
  ram0: {type: ram, input: binary0, entries: 2, grid_size: [1, 1], t: 1, mblock: [1, 1], ublock: [1, 1], df: Float16, target_device: 0, loc: dram, dram: [[0, 0x12000000]]}
  grad0: {type: queue, input: HOST, entries: 8, grid_size: [1, 1], t: 1, mblock: [1, 1], ublock: [1, 1], df: Float16, target_device: 0, loc: dram, dram: [[0, 0x13000000]]}

graphs:
  g0:
    target_device: 0
    input_count: 1
    unary0: {type: datacopy, grid_loc: [0, 0], grid_size: [1, 1], inputs: [input0], in_df: [Float16], acc_df: Float16, out_df: Float16, intermed_df: Float16, ublock_order: r, buf_size_mb: 2, math_fidelity: HiFi3, untilize_output: false, t: 1, mblock: [1, 1], ublock: [1, 1]}
  g1:
    target_device: 0
    input_count: 1
    binary0: {type: add, grid_loc: [0, 0], grid_size: [1, 1], inputs: [grad0, ram0], in_df: [Float16, Float16], acc_df: Float16, out_df: Float16, intermed_df: Float16, ublock_order: r, buf_size_mb: 2, math_fidelity: HiFi3, untilize_output: false, t: 1, mblock: [1, 1], ublock: [1, 1]}

programs:
  - p:
      - param: [$p_loops, $p_flag]
      - staticvar: {$rd: 0, $grd: 0}
      - var: {$one: 1, $w: 0, $tmp: 0, $z: 0}
      - allocate_queue: [output0]
      - loop: $p_loops
      - loop: 2
      - execute: {graph_name: g0, queue_settings: {input0: {prologue: $p_flag, epilogue: false, zero: false, rd_ptr_local: $rd, rd_ptr_global: $rd}}}
      - varinst: [$rd, incwrap, $one, 8]
      - endloop
      - execute: {graph_name: g1, queue_settings: {ram0: {rd_ptr_global: $z, wr_ptr_global: $w}, grad0: {rd_ptr_local: $grd, rd_ptr_global: $grd}}}
      - varinst: [$grd, incwrap, -3, 16]
      - varinst: [$w, incwrap, 1, 4]
      - varinst: [$tmp, add, $w, 2]
      - varinst: [$tmp, mul, $tmp, 3]
      - varinst: [$tmp, inc, -1]
      - varinst: [$tmp, set, 0]
      - endloop
      - deallocate_queue: [output0]
";

#[test]
fn a_run_allocates_nothing() {
    let netlist = parse(NETLIST, "alloc.yaml").expect("netlist parses");
    let mut interp = Interpreter::new(&netlist).expect("program compiles");
    let mut host = Tally::default();
    let params = [("$p_loops", "3"), ("p_flag", "false")];

    // No warm-up: the first run allocates nothing either.
    ALLOCATIONS.store(0, Ordering::Relaxed);
    COUNTING.store(true, Ordering::Relaxed);
    let mut result = Ok(());
    for _ in 0..51 {
        result = result.and(interp.run(0, &params, &mut host));
    }
    COUNTING.store(false, Ordering::Relaxed);
    let allocations = ALLOCATIONS.load(Ordering::Relaxed);

    result.expect("runs");
    assert_eq!(allocations, 0, "run() allocated on the heap");
    // 51 runs of 3 outer iterations: 2 executes of g0 and one of g1 each.
    assert_eq!(host.executes, 51 * 9);
    assert_eq!(host.settings, 51 * (6 + 6));
    assert_eq!(host.allocations, 51);
    assert_eq!(host.deallocations, 51);
    // $rd moves input0 every inner iteration, $grd and $w move grad0 and ram0 every outer one
    // ($z never changes).
    assert_eq!(host.pointer_moves, 51 * 3 * (2 + 2));
}
