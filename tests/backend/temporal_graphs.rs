//! Temporal graphs (netlist::temporal): graphs whose ops read ops of other graphs directly run
//! as one graph when the last of them is executed. Expected values are worked out by hand.

use std::collections::HashMap;

use ttrt::backend::{Backend, BackendConfig, BackendErrorKind};
use ttrt::format::{Arch, DataFormat, HostTensor};
use ttrt::netlist::exec::{GraphPlan, QueueIo, Tensor};
use ttrt::netlist::{self, Netlist, TemporalGraphs};

/// `sum` (device 1, listed first) adds op `copy` of graph `first` (device 0) and queue q1, with
/// no queue between the graphs; `other` is a graph on its own. `{program}` is the program body.
fn text(first_input_count: u32, sum_device: u32, program: &str) -> String {
    format!(
        r#"
devices:
  arch: wormhole_b0
queues:
  q0:  {{type: queue, input: HOST, entries: 4, grid_size: [1, 1], t: 1, mblock: [1, 1], ublock: [1, 1], df: Float32, target_device: 0, loc: dram, dram: [[0, 0x10000000]]}}
  q1:  {{type: queue, input: HOST, entries: 4, grid_size: [1, 1], t: 1, mblock: [1, 1], ublock: [1, 1], df: Float32, target_device: 0, loc: dram, dram: [[0, 0x11000000]]}}
  out: {{type: queue, input: sum_op, entries: 4, grid_size: [1, 1], t: 1, mblock: [1, 1], ublock: [1, 1], df: Float32, target_device: 0, loc: dram, dram: [[0, 0x12000000]]}}
  out2: {{type: queue, input: lone, entries: 4, grid_size: [1, 1], t: 1, mblock: [1, 1], ublock: [1, 1], df: Float32, target_device: 0, loc: dram, dram: [[0, 0x13000000]]}}
graphs:
  sum:
    target_device: {sum_device}
    input_count: 2
    sum_op: {{type: add, grid_loc: [0, 0], grid_size: [1, 1], inputs: [copy, q1], in_df: [Float32, Float32], acc_df: Float32, out_df: Float32, intermed_df: Float32, ublock_order: r, buf_size_mb: 2, math_fidelity: HiFi4, untilize_output: false, t: 1, mblock: [1, 1], ublock: [1, 1]}}
  first:
    target_device: 0
    input_count: {first_input_count}
    copy: {{type: datacopy, grid_loc: [0, 0], grid_size: [1, 1], inputs: [q0], in_df: [Float32], acc_df: Float32, out_df: Float32, intermed_df: Float32, ublock_order: r, buf_size_mb: 2, math_fidelity: HiFi4, untilize_output: false, t: 1, mblock: [1, 1], ublock: [1, 1]}}
  other:
    target_device: 0
    input_count: 2
    lone: {{type: datacopy, grid_loc: [0, 0], grid_size: [1, 1], inputs: [q1], in_df: [Float32], acc_df: Float32, out_df: Float32, intermed_df: Float32, ublock_order: r, buf_size_mb: 2, math_fidelity: HiFi4, untilize_output: false, t: 1, mblock: [1, 1], ublock: [1, 1]}}
programs:
  - p:
{program}
"#
    )
}

/// Settings of queue `q` read from pointer 0.
macro_rules! at0 {
    ($q:literal) => {
        concat!(
            "{",
            $q,
            ": {prologue: false, epilogue: false, zero: false, rd_ptr_global: 0, rd_ptr_local: 0}}"
        )
    };
}

const FIRST: &str = concat!(
    "      - execute: {graph_name: first, queue_settings: ",
    at0!("q0"),
    "}\n"
);
const SUM: &str = concat!(
    "      - execute: {graph_name: sum, queue_settings: ",
    at0!("q1"),
    "}\n"
);
const OTHER: &str = concat!(
    "      - execute: {graph_name: other, queue_settings: ",
    at0!("q1"),
    "}\n"
);
const RUN: &str = concat!(
    "      - execute: {graph_name: first, queue_settings: ",
    at0!("q0"),
    "}\n",
    "      - execute: {graph_name: sum, queue_settings: ",
    at0!("q1"),
    "}\n"
);

fn parse(t: &str) -> Netlist {
    netlist::parse(t, "temporal.yaml").unwrap_or_else(|e| panic!("{e}\n{t}"))
}

#[test]
fn graphs_joined_by_op_reads_form_one_temporal_graph_producers_first() {
    let n = parse(&text(2, 1, RUN));
    let t = TemporalGraphs::new(&n).unwrap();
    // Graph 0 (`sum`) reads graph 1 (`first`): one temporal graph, `first` before `sum`.
    assert_eq!(t.groups(), [vec![1, 0], vec![2]]);
    assert_eq!((t.group_of(0), t.group_of(1), t.group_of(2)), (0, 0, 1));
    t.check_programs(&n).unwrap();
}

#[test]
fn sub_graphs_share_input_count_and_never_a_device() {
    let e = TemporalGraphs::new(&parse(&text(1, 1, RUN)))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("graph sum has input_count 2 but graph first of the same temporal graph has 1"),
        "{e}"
    );
    let e = TemporalGraphs::new(&parse(&text(2, 0, RUN)))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("graphs first and sum of one temporal graph both target device 0"),
        "{e}"
    );
}

#[test]
fn a_program_executes_every_sub_graph_one_after_the_other() {
    let n = parse(&text(2, 1, SUM));
    let e = TemporalGraphs::new(&n)
        .unwrap()
        .check_programs(&n)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("program `p`, line "), "{e}");
    assert!(e.contains("without graph first"), "{e}");
    let split = [FIRST, OTHER, SUM].concat();
    let n = parse(&text(2, 1, &split));
    let e = TemporalGraphs::new(&n)
        .unwrap()
        .check_programs(&n)
        .unwrap_err()
        .to_string();
    assert!(e.contains("without graph sum"), "{e}");
    // Either order of the two executes is one instance.
    let reversed = [SUM, FIRST, OTHER].concat();
    let n = parse(&text(2, 1, &reversed));
    TemporalGraphs::new(&n).unwrap().check_programs(&n).unwrap();
}

/// Queue entries by name.
struct MemIo {
    names: Vec<String>,
    data: HashMap<String, Tensor>,
}

impl QueueIo for MemIo {
    type Error = String;

    fn read(&mut self, queue: usize, out: &mut Tensor) -> Result<(), String> {
        out.data
            .copy_from_slice(&self.data[&self.names[queue]].data);
        Ok(())
    }
    fn write(&mut self, queue: usize, entry: &Tensor) -> Result<(), String> {
        self.data.insert(self.names[queue].clone(), entry.clone());
        Ok(())
    }
}

fn tile(f: impl Fn(usize) -> f32) -> Tensor {
    let mut t = Tensor::zeros(1, 1, 1, DataFormat::Float32);
    t.data.iter_mut().enumerate().for_each(|(i, v)| *v = f(i));
    t
}

#[test]
fn a_temporal_plan_hands_op_outputs_across_graphs() {
    let n = parse(&text(2, 1, RUN));
    let e = GraphPlan::new(&n, 0, Arch::WormholeB0)
        .err()
        .unwrap()
        .message;
    assert!(
        e.contains("input copy is an op of graph first, which is not compiled with this one"),
        "{e}"
    );
    let mut plan = GraphPlan::temporal(&n, &[1, 0], Arch::WormholeB0).unwrap();
    assert_eq!(plan.input_queues(), [0, 1]);
    assert_eq!(plan.output_queues(), [2]);
    let mut io = MemIo {
        names: n.queues.iter().map(|q| q.name.clone()).collect(),
        data: HashMap::new(),
    };
    // Values with at most 11 significant bits pass Wormhole's Tf32 input truncation whole.
    io.data.insert("q0".into(), tile(|i| (i % 128) as f32));
    io.data
        .insert("q1".into(), tile(|i| 0.5 - (i % 16) as f32 * 2.0));
    plan.run(&mut io).unwrap();
    let out = &io.data["out"];
    for i in [0, 1, 33, 1023] {
        let want = (i % 128) as f32 + 0.5 - (i % 16) as f32 * 2.0;
        assert_eq!(out.data[i], want, "value {i}");
    }
    assert_eq!(plan.op_output("copy").unwrap().data[7], 7.0);
}

fn floats(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

/// Value `i` of entry `k` pushed with `base`: at most 11 significant bits, so Wormhole's Tf32
/// input truncation keeps it.
fn value(base: f32, k: usize, i: usize) -> f32 {
    base + (k * 128 + i % 128) as f32
}

/// `w` entries of one tile each.
fn push(be: &Backend, q: &str, w: usize, base: f32) {
    let data: Vec<u8> = (0..w * 1024)
        .flat_map(|i| value(base, i / 1024, i % 1024).to_le_bytes())
        .collect();
    let t = HostTensor::contiguous(&data, DataFormat::Float32, [w, 1, 32, 32]);
    be.push_input(q, &t, false, 0, -1).unwrap();
}

#[test]
fn the_last_sub_graph_execute_runs_the_temporal_graph() {
    let be = Backend::from_netlist(parse(&text(2, 1, RUN)), &BackendConfig::default()).unwrap();
    be.initialize().unwrap();
    push(&be, "q0", 2, 0.0);
    push(&be, "q1", 2, 0.25);
    be.run_program("p", &[]).unwrap();
    let out = be.get_output("out", false, 0, -1).unwrap();
    assert_eq!(out.shape, [2, 1, 32, 32]);
    let v = floats(&out.data);
    for (k, i) in [(0, 0), (0, 5), (1, 0), (1, 1023)] {
        let want = value(0.0, k, i) + value(0.25, k, i);
        assert_eq!(v[k * 1024 + i], want, "entry {k}, value {i}");
    }
    be.finish().unwrap();
}

#[test]
fn a_sub_graph_executed_twice_before_the_rest_is_an_error() {
    // Statically the executes come one after the other; the loop repeats `first` at run time.
    let looped = ["      - loop: 2\n", FIRST, "      - endloop\n", SUM].concat();
    let be = Backend::from_netlist(parse(&text(2, 1, &looped)), &BackendConfig::default()).unwrap();
    be.initialize().unwrap();
    let e = be.run_program("p", &[]).unwrap_err();
    assert_eq!(e.kind, BackendErrorKind::Runtime);
    assert!(
        e.message
            .contains("graph `first` is executed again before the rest of its temporal graph (first, sum) was"),
        "{}",
        e.message
    );
    // A program that never completes the temporal graph is refused at initialize.
    let be = Backend::from_netlist(parse(&text(2, 1, FIRST)), &BackendConfig::default()).unwrap();
    let e = be.initialize().unwrap_err();
    assert_eq!(e.kind, BackendErrorKind::InvalidImage);
    assert!(e.message.contains("without graph sum"), "{}", e.message);
}

#[test]
fn graphs_reading_each_others_ops_both_ways_run_in_op_order() {
    // up: a1 = copy(q0), a2 = a1 + b1; down: b1 = copy(a1). The graphs depend
    // on each other, the ops do not.
    let text = r#"
devices:
  arch: wormhole_b0
queues:
  q0:  {type: queue, input: HOST, entries: 1, grid_size: [1, 1], t: 1, mblock: [1, 1], ublock: [1, 1], df: Float32, target_device: 0, loc: dram, dram: [[0, 0x10000000]]}
  out: {type: queue, input: a2, entries: 1, grid_size: [1, 1], t: 1, mblock: [1, 1], ublock: [1, 1], df: Float32, target_device: 0, loc: dram, dram: [[0, 0x11000000]]}
graphs:
  up:
    target_device: 0
    input_count: 1
    a1: {type: datacopy, grid_loc: [0, 0], grid_size: [1, 1], inputs: [q0], in_df: [Float32], acc_df: Float32, out_df: Float32, intermed_df: Float32, ublock_order: r, buf_size_mb: 2, math_fidelity: HiFi4, untilize_output: false, t: 1, mblock: [1, 1], ublock: [1, 1]}
    a2: {type: add, grid_loc: [0, 1], grid_size: [1, 1], inputs: [a1, b1], in_df: [Float32, Float32], acc_df: Float32, out_df: Float32, intermed_df: Float32, ublock_order: r, buf_size_mb: 2, math_fidelity: HiFi4, untilize_output: false, t: 1, mblock: [1, 1], ublock: [1, 1]}
  down:
    target_device: 1
    input_count: 1
    b1: {type: datacopy, grid_loc: [0, 0], grid_size: [1, 1], inputs: [a1], in_df: [Float32], acc_df: Float32, out_df: Float32, intermed_df: Float32, ublock_order: r, buf_size_mb: 2, math_fidelity: HiFi4, untilize_output: false, t: 1, mblock: [1, 1], ublock: [1, 1]}
programs:
  - p:
      - execute: {graph_name: up, queue_settings: {q0: {prologue: false, epilogue: false, zero: false, rd_ptr_global: 0, rd_ptr_local: 0}}}
      - execute: {graph_name: down, queue_settings: {}}
"#;
    let n = parse(text);
    let t = TemporalGraphs::new(&n).unwrap();
    assert_eq!(t.groups(), [vec![0, 1]]);
    let mut plan = GraphPlan::temporal(&n, &t.groups()[0], Arch::WormholeB0).unwrap();
    let mut io = MemIo {
        names: n.queues.iter().map(|q| q.name.clone()).collect(),
        data: HashMap::new(),
    };
    io.data.insert("q0".into(), tile(|i| (i % 100) as f32));
    plan.run(&mut io).unwrap();
    assert_eq!(io.data["out"].data[42], 84.0);
}
