//! The Buda backend lifecycle (notes/buda-backend.md, DESIGN.md §3): create, initialize, push,
//! run_program, get/pop, finish, and every misuse the embedded loader can make, each giving its
//! status kind and a message naming what and where.

use ttrt::backend::{Backend, BackendConfig, BackendErrorKind};
use ttrt::format::{DataFormat, HostTensor, HostTensorMut};
use ttrt::netlist;

/// A datacopy graph (input_count 2) between a 4-entry Float16_b input queue and a 4-entry
/// Float32 output queue, plus a ram; the standard pointer program with a loop count param.
const NETLIST: &str = r#"
devices:
  arch: wormhole_b0
queues:
  in0: {type: queue, input: HOST, entries: 4, grid_size: [1, 1], t: 1, mblock: [1, 1], ublock: [1, 2], df: Float16_b, target_device: 0, loc: dram, dram: [[1, 0x10000000]]}
  w:   {type: ram, input: HOST, entries: 2, grid_size: [1, 1], t: 1, mblock: [1, 1], ublock: [1, 2], df: Float16_b, target_device: 0, loc: dram, dram: [[2, 0x10000000]]}
  out: {type: queue, input: copy, entries: 4, grid_size: [1, 1], t: 1, mblock: [1, 1], ublock: [1, 2], df: Float32, target_device: 0, loc: host, host: [0x0]}
graphs:
  g:
    target_device: 0
    input_count: 2
    copy: {type: datacopy, grid_loc: [0, 0], grid_size: [1, 1], inputs: [in0], in_df: [Float16_b], acc_df: Float16_b, out_df: Float32, intermed_df: Float16_b, ublock_order: r, buf_size_mb: 2, math_fidelity: HiFi3, untilize_output: false, t: 1, mblock: [1, 1], ublock: [1, 2]}
programs:
  - run:
      - param: [$p_loop_count]
      - staticvar: {$lptr: 0, $gptr: 0}
      - var: {$c_input_count: 2}
      - loop: $p_loop_count
      - execute: {graph_name: g, queue_settings: {in0: {prologue: false, epilogue: false, zero: false, rd_ptr_local: $lptr, rd_ptr_global: $gptr}}}
      - varinst: [$lptr, incwrap, $c_input_count, 8]
      - varinst: [$gptr, incwrap, $c_input_count, 8]
      - endloop
"#;

fn backend(cqs: u8) -> Backend {
    let n = netlist::parse(NETLIST, "copy.yaml").unwrap();
    let be = Backend::from_netlist(
        n,
        &BackendConfig {
            arch: None,
            num_command_queues: cqs,
            ..BackendConfig::default()
        },
    )
    .unwrap();
    be.initialize().unwrap();
    be
}

/// `w` entries of [1, 32, 64] float32 values, distinct per entry, exact in bfloat16.
fn entries(w: usize, seed: usize) -> Vec<f32> {
    (0..w * 32 * 64)
        .map(|i| (((i * 13 + seed * 7) % 61) as f32 - 30.0) * 0.25)
        .collect()
}

fn bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn push(
    be: &Backend,
    q: &str,
    w: usize,
    seed: usize,
    timeout: i32,
) -> Result<(), ttrt::backend::BackendError> {
    let data = bytes(&entries(w, seed));
    let t = HostTensor::contiguous(&data, DataFormat::Float32, [w, 1, 32, 64]);
    be.push_input(q, &t, false, timeout, -1)
}

fn floats(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

#[test]
fn the_embedded_loader_loop_copies_every_entry_through_the_device() {
    for cqs in [1, 2] {
        let be = backend(cqs);
        assert_eq!(be.program_names().collect::<Vec<_>>(), ["run"]);
        for round in 0..5 {
            push(&be, "in0", 2, round, 0).unwrap();
            be.run_program("run", &[("$p_loop_count", "1")]).unwrap();
            let out = be.get_output("out", false, 1000, -1).unwrap();
            assert_eq!(out.format, DataFormat::Float32);
            assert_eq!(out.shape, [2, 1, 32, 64]);
            assert_eq!(
                floats(&out.data),
                entries(2, round),
                "round {round}, {cqs} CQs"
            );
            // get_output peeks: a second get sees the same entries.
            assert_eq!(
                be.get_output("out", true, 0, -1).unwrap().data,
                out.data[..out.data.len() / 2]
            );
            be.pop_output("out", false, 0).unwrap();
        }
        be.finish().unwrap();
    }
}

#[test]
fn loops_run_the_graph_per_iteration_and_get_into_caller_memory() {
    let be = backend(2);
    assert_eq!(be.kernel_time().unwrap().0, 0);
    push(&be, "in0", 4, 9, 0).unwrap();
    be.run_program("run", &[("p_loop_count", "2")]).unwrap();
    // One graph kernel per loop iteration.
    assert_eq!(be.kernel_time().unwrap().0, 2);
    let mut buf = vec![0u8; 4 * 32 * 64 * 4];
    for half in 0..2 {
        let mut dst = HostTensorMut::contiguous(
            &mut buf[..2 * 32 * 64 * 4],
            DataFormat::Float32,
            [2, 1, 32, 64],
        );
        be.get_output_into("out", &mut dst, false, 0, -1).unwrap();
        be.pop_output("out", false, 0).unwrap();
        let want = entries(4, 9);
        assert_eq!(
            floats(&buf[..2 * 32 * 64 * 4]),
            want[half * 2 * 2048..(half + 1) * 2 * 2048]
        );
    }
    // Empty again: get with timeout 0 is a timeout.
    let e = be.get_output("out", false, 0, -1).unwrap_err();
    assert_eq!(e.kind, BackendErrorKind::Timeout);
    assert_eq!(
        e.message,
        "get_output from queue 'out' timed out after 0 ms: 2 entries needed, 0 available"
    );
}

#[test]
fn calls_out_of_order_are_invalid_state() {
    let n = netlist::parse(NETLIST, "copy.yaml").unwrap();
    let be = Backend::from_netlist(n, &BackendConfig::default()).unwrap();
    let e = push(&be, "in0", 2, 0, 0).unwrap_err();
    assert_eq!(e.kind, BackendErrorKind::InvalidState);
    assert_eq!(
        e.message,
        "push_input: the backend is not initialized (call initialize first)"
    );
    let e = be
        .run_program("run", &[("$p_loop_count", "1")])
        .unwrap_err();
    assert_eq!(e.kind, BackendErrorKind::InvalidState);
    be.initialize().unwrap();
    assert_eq!(
        be.initialize().unwrap_err().message,
        "initialize: the backend is already initialized"
    );
    be.finish().unwrap();
    for e in [
        push(&be, "in0", 2, 0, 0).unwrap_err(),
        be.run_program("run", &[]).unwrap_err(),
        be.get_output("out", false, 0, -1).unwrap_err(),
        be.pop_output("out", false, 0).unwrap_err(),
        be.wait_for_idle().unwrap_err(),
        be.finish().unwrap_err(),
        be.initialize().unwrap_err(),
    ] {
        assert_eq!(e.kind, BackendErrorKind::InvalidState, "{}", e.message);
        assert!(e.message.contains("finished"), "{}", e.message);
    }
}

#[test]
fn wrong_queues_tensors_and_pointers_are_refused_with_their_reason() {
    let be = backend(1);
    let e = push(&be, "nope", 2, 0, 0).unwrap_err();
    assert_eq!(e.kind, BackendErrorKind::NotFound);
    assert_eq!(
        e.message,
        "push_input: queue 'nope' is not in netlist copy.yaml"
    );
    // A queue an op writes.
    let e = push(&be, "out", 2, 0, 0).unwrap_err();
    assert_eq!(
        e.message,
        "push_input: queue 'out' is written by op 'copy', not by the host"
    );
    // W not a multiple of input_count.
    let e = push(&be, "in0", 3, 0, 0).unwrap_err();
    assert_eq!(e.kind, BackendErrorKind::InvalidArgument);
    assert!(
        e.message
            .contains("W must be 1 or a multiple of the input_count 2"),
        "{}",
        e.message
    );
    // Wrong shape.
    let data = bytes(&entries(2, 0));
    let t = HostTensor::contiguous(&data, DataFormat::Float32, [2, 1, 64, 32]);
    let e = be.push_input("in0", &t, false, 0, -1).unwrap_err();
    assert_eq!(e.kind, BackendErrorKind::InvalidArgument);
    assert!(
        e.message.starts_with("push_input to queue 'in0': "),
        "{}",
        e.message
    );
    assert!(e.message.contains("[2, 1, 32, 64]"), "{}", e.message);
    // Strides that reach past the data.
    let t = HostTensor {
        data: &data,
        format: DataFormat::Float32,
        shape: [2, 1, 32, 64],
        strides: [32 * 64 * 8, 32 * 64 * 8, 64 * 8, 8],
    };
    assert_eq!(
        be.push_input("in0", &t, false, 0, -1).unwrap_err().kind,
        BackendErrorKind::InvalidArgument
    );
    // A ptr on a queue; pop on a ram; a ram ptr out of range.
    let t = HostTensor::contiguous(&data, DataFormat::Float32, [2, 1, 32, 64]);
    let e = be.push_input("in0", &t, false, 0, 1).unwrap_err();
    assert!(
        e.message.contains("selects an entry of a ram"),
        "{}",
        e.message
    );
    let e = be.pop_output("w", false, 0).unwrap_err();
    assert_eq!(e.kind, BackendErrorKind::InvalidArgument);
    assert!(e.message.contains("is a ram"), "{}", e.message);
    let one = HostTensor::contiguous(&data[..32 * 64 * 4], DataFormat::Float32, [1, 1, 32, 64]);
    let e = be.push_input("w", &one, true, 0, 2).unwrap_err();
    assert_eq!(
        e.message,
        "push_input to ram 'w': ptr 2 is outside its 2 entries"
    );
    // A ram is written and read at ptr.
    be.push_input("w", &one, true, 0, 1).unwrap();
    let got = be.get_output("w", true, 0, 1).unwrap();
    assert_eq!(got.format, DataFormat::Float16B);
    let want: Vec<u8> = entries(1, 0)
        .iter()
        .flat_map(|x| ((x.to_bits() >> 16) as u16).to_le_bytes())
        .collect();
    assert_eq!(got.data, want);
    // Unknown program.
    let e = be.run_program("nope", &[]).unwrap_err();
    assert_eq!(e.kind, BackendErrorKind::NotFound);
    assert_eq!(
        e.message,
        "run_program: program 'nope' is not in netlist copy.yaml (programs: run)"
    );
}

#[test]
fn a_full_queue_times_out_and_a_get_waits_for_entries() {
    let be = backend(1);
    push(&be, "in0", 4, 0, 0).unwrap();
    let e = push(&be, "in0", 2, 1, 0).unwrap_err();
    assert_eq!(e.kind, BackendErrorKind::Timeout);
    assert_eq!(
        e.message,
        "push_input to queue 'in0' timed out after 0 ms: 4 of 4 entries are full and 2 are pushed"
    );
    let e = push(&be, "in0", 2, 1, 30).unwrap_err();
    assert_eq!(e.kind, BackendErrorKind::Timeout);
    // Running pops two entries: room for two more.
    be.run_program("run", &[("$p_loop_count", "1")]).unwrap();
    push(&be, "in0", 2, 1, 0).unwrap();
}

#[test]
fn program_params_missing_extra_or_malformed_are_errors_naming_them() {
    let be = backend(1);
    push(&be, "in0", 2, 0, 0).unwrap();
    let missing = be.run_program("run", &[]).unwrap_err();
    assert_eq!(missing.kind, BackendErrorKind::Runtime);
    assert!(
        missing.message.contains("p_loop_count"),
        "{}",
        missing.message
    );
    let extra = be
        .run_program("run", &[("$p_loop_count", "1"), ("$p_other", "1")])
        .unwrap_err();
    assert!(extra.message.contains("p_other"), "{}", extra.message);
    let bad = be
        .run_program("run", &[("$p_loop_count", "one")])
        .unwrap_err();
    assert!(bad.message.contains("p_loop_count"), "{}", bad.message);
    let zero = be
        .run_program("run", &[("$p_loop_count", "0")])
        .unwrap_err();
    assert!(zero.message.contains("run"), "{}", zero.message);
    // The backend still runs afterwards.
    be.run_program("run", &[("$p_loop_count", "1")]).unwrap();
    assert_eq!(
        floats(&be.get_output("out", false, 0, -1).unwrap().data),
        entries(2, 0)
    );
}

#[test]
fn running_without_inputs_fails_with_the_queue_named_and_does_not_hang() {
    let be = backend(1);
    let e = be
        .run_program("run", &[("$p_loop_count", "1")])
        .unwrap_err();
    assert_eq!(e.kind, BackendErrorKind::Runtime);
    assert!(
        e.message.contains("input_count 2 needs 2 entries of queue 'in0' from read pointer 0, and it holds 0 entries"),
        "{}",
        e.message
    );
}

#[test]
fn queue_headers_in_device_memory_follow_the_pointers() {
    let be = backend(1);
    let d = be.queue_desc("in0").unwrap();
    assert_eq!(d.buffers, [(1, 0x1000_0000)]);
    assert_eq!(d.entry_size, 2 * 2080);
    assert_eq!(d.input_count, 2);
    assert_eq!(be.queue_desc("out").unwrap().input_count, 2);
    // A ram no graph reads or writes moves one entry at a time.
    assert_eq!(be.queue_desc("w").unwrap().input_count, 1);
}

#[test]
fn an_io_thread_pushes_and_gets_while_another_runs_programs() {
    for cqs in [1, 2] {
        io_and_run_threads(cqs);
    }
}

fn io_and_run_threads(cqs: u8) {
    let be = backend(cqs);
    const ROUNDS: usize = 40;
    let (pushed, arrived) = std::sync::mpsc::channel::<usize>();
    std::thread::scope(|s| {
        let be = &be;
        s.spawn(move || {
            for r in arrived {
                be.run_program("run", &[("$p_loop_count", "1")])
                    .unwrap_or_else(|e| panic!("run {r}, {cqs} CQs: {}", e.message));
            }
        });
        let mut buf = vec![0u8; 2 * 32 * 64 * 4];
        let mut check = |r: usize| {
            let mut dst = HostTensorMut::contiguous(&mut buf, DataFormat::Float32, [2, 1, 32, 64]);
            // Bounded waits: a failed run must fail the test, not hang it.
            be.get_output_into("out", &mut dst, false, 20_000, -1)
                .unwrap_or_else(|e| panic!("get {r}, {cqs} CQs: {}", e.message));
            be.pop_output("out", false, 0).unwrap();
            assert_eq!(floats(&buf), entries(2, r), "round {r}, {cqs} CQs");
        };
        for r in 0..ROUNDS {
            // The input queue holds two rounds: this push may wait for run r - 2 to read.
            push(be, "in0", 2, r, 20_000).unwrap();
            pushed.send(r).unwrap();
            // While run r may be going on, round r - 1's outputs are read.
            if r > 0 {
                check(r - 1);
            }
        }
        drop(pushed);
        check(ROUNDS - 1);
    });
    be.finish().unwrap();
}
