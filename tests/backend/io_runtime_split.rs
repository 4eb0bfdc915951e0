//! PyBuda's embedded loader split in two: a run side (initialize, run_program, finish) and an
//! io side (push_input, get_output, pop_output) attached to one shared device, meeting only in
//! its memory. Outputs must equal a single-process run of the same calls, and every misuse of
//! the split is refused with its status kind and what is wrong.

use std::sync::Arc;
use std::time::Duration;

use crate::support::sim_device::SimDevice;
use crate::support::test_name;
use ttrt::backend::{Backend, BackendConfig, BackendErrorKind, BackendRole};
use ttrt::format::{DataFormat, HostTensor};
use ttrt::netlist;

/// out = in0 + w: in0 and out in host memory (the region every attached process maps), the
/// ram w in DRAM, loaded by the run side.
const NETLIST: &str = r#"
devices:
  arch: grayskull
queues:
  in0: {type: queue, input: HOST, entries: 4, grid_size: [1, 1], t: 1, mblock: [1, 1], ublock: [1, 2], df: Float16_b, target_device: 0, loc: host, host: [0x0]}
  w:   {type: ram, input: HOST, entries: 1, grid_size: [1, 1], t: 1, mblock: [1, 1], ublock: [1, 2], df: Float16_b, target_device: 0, loc: dram, dram: [[2, 0x10000000]]}
  out: {type: queue, input: sum, entries: 4, grid_size: [1, 1], t: 1, mblock: [1, 1], ublock: [1, 2], df: Float32, target_device: 0, loc: host, host: [0x10000]}
graphs:
  g:
    target_device: 0
    input_count: 2
    sum: {type: add, grid_loc: [0, 0], grid_size: [1, 1], inputs: [in0, w], in_df: [Float16_b, Float16_b], acc_df: Float16_b, out_df: Float32, intermed_df: Float16_b, ublock_order: r, buf_size_mb: 2, math_fidelity: HiFi3, untilize_output: false, t: 1, mblock: [1, 1], ublock: [1, 2]}
programs:
  - run:
      - param: [$p_loop_count]
      - staticvar: {$lptr: 0, $gptr: 0}
      - var: {$c_input_count: 2}
      - loop: $p_loop_count
      - execute: {graph_name: g, queue_settings: {in0: {prologue: false, epilogue: false, zero: false, rd_ptr_local: $lptr, rd_ptr_global: $gptr}, w: {prologue: false, epilogue: false, zero: false, rd_ptr_global: 0, wr_ptr_global: 0}}}
      - varinst: [$lptr, incwrap, $c_input_count, 8]
      - varinst: [$gptr, incwrap, $c_input_count, 8]
      - endloop
"#;

const LOOPS: usize = 4;

fn config(device: &str, role: BackendRole) -> BackendConfig {
    BackendConfig {
        device: Some(device.to_string()),
        role,
        ..BackendConfig::default()
    }
}

fn create(text: &str, device: &str, role: BackendRole) -> Backend {
    backend(text, device, role, false)
}

fn backend(text: &str, device: &str, role: BackendRole, golden: bool) -> Backend {
    let n = netlist::parse(text, "split.yaml").unwrap();
    let cfg = BackendConfig {
        golden,
        ..config(device, role)
    };
    Backend::from_netlist(n, &cfg).unwrap()
}

/// `w` entries of [1, 32, 64] values, distinct per entry and seed, exact in bfloat16.
fn values(w: usize, seed: usize) -> Vec<u8> {
    (0..w * 32 * 64)
        .map(|i| (((i * 13 + seed * 7) % 61) as f32 - 30.0) * 0.25)
        .flat_map(|x| x.to_le_bytes())
        .collect()
}

fn push(
    be: &Backend,
    queue: &str,
    w: usize,
    seed: usize,
) -> Result<(), ttrt::backend::BackendError> {
    let data = values(w, seed);
    let t = HostTensor::contiguous(&data, DataFormat::Float32, [w, 1, 32, 64]);
    be.push_input(queue, &t, false, 10_000, -1)
}

/// The run side's setup: the ram its graph adds.
fn load_ram(run: &Backend) {
    let data = values(1, 99);
    let t = HostTensor::contiguous(&data, DataFormat::Float32, [1, 1, 32, 64]);
    run.push_input("w", &t, false, 0, 0).unwrap();
}

/// Every loop's output bytes, with the io calls on `io` and the programs on `run`.
fn loops(run: &Backend, io: &Backend) -> Vec<Vec<u8>> {
    load_ram(run);
    (0..LOOPS)
        .map(|l| {
            push(io, "in0", 2, l).unwrap();
            run.run_program("run", &[("$p_loop_count", "1")]).unwrap();
            let out = io.get_output("out", false, 10_000, -1).unwrap();
            io.pop_output("out", false, 10_000).unwrap();
            out.data
        })
        .collect()
}

#[test]
fn an_io_side_gets_what_the_run_side_computes_as_one_process_does() {
    let want = loops_alone(false);
    // The sums are what the graph computes (in0 + w, both exact in bfloat16 and Float32).
    let ram: Vec<f32> = values(1, 99)
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    for (l, out) in want.iter().enumerate() {
        let inputs = values(2, l);
        for (i, c) in out.chunks_exact(4).enumerate() {
            let x = f32::from_le_bytes(inputs[4 * i..4 * i + 4].try_into().unwrap());
            let got = f32::from_le_bytes(c.try_into().unwrap());
            assert_eq!(got, x + ram[i % ram.len()], "loop {l}, value {i}");
        }
    }

    assert!(
        want == split_loops(false),
        "the split run's outputs differ from one process's"
    );
}

/// Every loop's outputs in one process, on the simulated chip in it.
fn loops_alone(golden: bool) -> Vec<Vec<u8>> {
    let alone = backend(NETLIST, "sim", BackendRole::Run, golden);
    alone.initialize().unwrap();
    let outputs = loops(&alone, &alone);
    alone.finish().unwrap();
    outputs
}

/// Every loop's outputs with a run side and an io side on one device process.
fn split_loops(golden: bool) -> Vec<Vec<u8>> {
    let device = SimDevice::start("split", &["--arch", "Grayskull"]);
    let run = backend(NETLIST, &device.device(), BackendRole::Run, golden);
    let io = backend(NETLIST, &device.device(), BackendRole::Io, golden);
    run.initialize().unwrap();
    io.initialize().unwrap();
    let outputs = loops(&run, &io);
    io.finish().unwrap();
    run.finish().unwrap();
    outputs
}

#[test]
fn the_io_side_runs_in_its_own_process() {
    // The io side is a child process (this test binary, filtered to the helper below): the
    // two sides share nothing but the device.
    if let Ok(device) = std::env::var("TTRT_SPLIT_IO_CHILD") {
        io_child(&device);
        return;
    }
    let sim = SimDevice::start("split-child", &["--arch", "Grayskull"]);
    let run = create(NETLIST, &sim.device(), BackendRole::Run);
    run.initialize().unwrap();
    load_ram(&run);
    let child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            test_name(module_path!(), "the_io_side_runs_in_its_own_process").as_str(),
            "--exact",
            "--nocapture",
        ])
        .env("TTRT_SPLIT_IO_CHILD", sim.device())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = child;
    let mut to_child = child.stdin.take().unwrap();
    let mut from_child = std::io::BufReader::new(child.stdout.take().unwrap());
    use std::io::{BufRead, Write};
    for l in 0..LOOPS {
        // The child says when a loop's inputs are pushed.
        let mut line = String::new();
        loop {
            line.clear();
            assert!(
                from_child.read_line(&mut line).unwrap() > 0,
                "the io child ended"
            );
            if line.starts_with("pushed") {
                break;
            }
        }
        assert_eq!(line.trim(), format!("pushed {l}"));
        run.run_program("run", &[("$p_loop_count", "1")]).unwrap();
    }
    writeln!(to_child, "done").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "the io child failed");
    run.finish().unwrap();
}

/// The child side of `the_io_side_runs_in_its_own_process`: pushes, gets, checks each sum.
fn io_child(device: &str) {
    let io = create(NETLIST, device, BackendRole::Io);
    io.initialize().unwrap();
    let ram = values(1, 99);
    for l in 0..LOOPS {
        push(&io, "in0", 2, l).unwrap();
        println!("pushed {l}");
        let out = io.get_output("out", false, 10_000, -1).unwrap();
        io.pop_output("out", false, 10_000).unwrap();
        let inputs = values(2, l);
        for (i, c) in out.data.chunks_exact(4).enumerate() {
            let x = f32::from_le_bytes(inputs[4 * i..4 * i + 4].try_into().unwrap());
            let r = f32::from_le_bytes(ram[4 * (i % 2048)..4 * (i % 2048) + 4].try_into().unwrap());
            assert_eq!(
                f32::from_le_bytes(c.try_into().unwrap()),
                x + r,
                "loop {l}, value {i}"
            );
        }
    }
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).unwrap();
    io.finish().unwrap();
}

#[test]
fn misuses_of_the_split_are_refused_with_what_is_wrong() {
    let text = |r: Result<(), ttrt::backend::BackendError>| {
        let e = r.expect_err("refused");
        (e.kind, e.to_string())
    };
    // An io side needs a device another process shares.
    let io = create(NETLIST, "sim", BackendRole::Io);
    let (kind, msg) = text(io.initialize());
    assert_eq!(kind, BackendErrorKind::InvalidArgument, "{msg}");
    assert!(msg.contains("role io") && msg.contains("'sim'"), "{msg}");

    let device = SimDevice::start("split-misuse", &["--arch", "Grayskull"]);
    let d = device.device();
    let run = create(NETLIST, &d, BackendRole::Run);
    run.initialize().unwrap();
    // The two sides agree on golden mode (it decides the format queues keep).
    let golden = backend(NETLIST, &d, BackendRole::Io, true);
    let (kind, msg) = text(golden.initialize());
    assert_eq!(kind, BackendErrorKind::InvalidState, "{msg}");
    assert!(msg.contains("golden mode"), "{msg}");
    // The same netlist attaches; programs are the run side's.
    let io = create(NETLIST, &d, BackendRole::Io);
    io.initialize().unwrap();
    let (kind, msg) = text(io.run_program("run", &[("$p_loop_count", "1")]));
    assert_eq!(kind, BackendErrorKind::InvalidState, "{msg}");
    assert!(msg.contains("io side"), "{msg}");
    // Once the run side finished, the io side's calls say so.
    run.finish().unwrap();
    let (kind, msg) = text(push(&io, "in0", 2, 0));
    assert_eq!(kind, BackendErrorKind::InvalidState, "{msg}");
    assert!(
        msg.contains("run side") && msg.contains("finished"),
        "{msg}"
    );
    io.finish().unwrap();
}

#[test]
fn an_io_side_of_another_netlist_is_refused() {
    let device = SimDevice::start("split-other", &["--arch", "Grayskull"]);
    let d = device.device();
    let run = create(NETLIST, &d, BackendRole::Run);
    run.initialize().unwrap();
    // The output queue holds 8 entries instead of 4: not the run side's layout.
    let other_netlist = NETLIST.replace(
        "out: {type: queue, input: sum, entries: 4",
        "out: {type: queue, input: sum, entries: 8",
    );
    assert_ne!(other_netlist, NETLIST);
    let other = create(&other_netlist, &d, BackendRole::Io);
    let e = other.initialize().expect_err("refused");
    assert_eq!(e.kind, BackendErrorKind::InvalidState, "{e}");
    assert!(e.to_string().contains("another netlist"), "{e}");
    run.finish().unwrap();
}

#[test]
fn waits_of_an_io_side_end_when_either_side_finishes() {
    let device = SimDevice::start("split-waits", &["--arch", "Grayskull"]);
    let d = device.device();
    // An io side waiting for a run side to attach to is ended by its own finish.
    let io = Arc::new(create(NETLIST, &d, BackendRole::Io));
    let waiting = {
        let io = Arc::clone(&io);
        std::thread::spawn(move || io.initialize())
    };
    std::thread::sleep(Duration::from_millis(50));
    io.finish().unwrap();
    let e = waiting.join().unwrap().expect_err("initialize ended");
    assert_eq!(e.kind, BackendErrorKind::Cancelled, "{e}");

    // An io side waiting for outputs is ended by the run side's finish.
    let run = create(NETLIST, &d, BackendRole::Run);
    run.initialize().unwrap();
    let io = Arc::new(create(NETLIST, &d, BackendRole::Io));
    io.initialize().unwrap();
    let getting = {
        let io = Arc::clone(&io);
        std::thread::spawn(move || io.get_output("out", false, -1, -1).map(|_| ()))
    };
    std::thread::sleep(Duration::from_millis(50));
    run.finish().unwrap();
    let e = getting.join().unwrap().expect_err("get_output ended");
    assert_eq!(e.kind, BackendErrorKind::Cancelled, "{e}");
    assert!(
        e.to_string().contains("the run side finished its backend"),
        "{e}"
    );
    io.finish().unwrap();
}

#[test]
fn golden_mode_splits_too_with_its_format_tags_in_device_memory() {
    let want = loops_alone(true);
    assert!(
        want == split_loops(true),
        "the golden split run's outputs differ from one process's"
    );
}

#[test]
fn graphs_a_dead_client_loaded_are_freed_with_it() {
    // A child initializes a run side (loading its graphs into the device) and dies without
    // finishing. The device holds 16 loads at once: after more children than that, a backend
    // still loads, so each dead client's graphs went with it.
    if let Ok(device) = std::env::var("TTRT_SPLIT_DYING_CHILD") {
        let run = create(NETLIST, &device, BackendRole::Run);
        run.initialize().unwrap();
        std::process::abort();
    }
    let sim = SimDevice::start("split-dying", &["--arch", "Grayskull"]);
    for _ in 0..20 {
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                test_name(
                    module_path!(),
                    "graphs_a_dead_client_loaded_are_freed_with_it",
                )
                .as_str(),
                "--exact",
            ])
            .env("TTRT_SPLIT_DYING_CHILD", sim.device())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(!status.success(), "the child was to die");
    }
    // The device notices each hang-up on its own thread: allow it a moment (a watchdog, not
    // a timing assertion).
    let start = std::time::Instant::now();
    loop {
        let run = create(NETLIST, &sim.device(), BackendRole::Run);
        match run.initialize() {
            Ok(()) => {
                run.finish().unwrap();
                break;
            }
            Err(e) if start.elapsed() < Duration::from_secs(30) => {
                assert!(e.to_string().contains("graph slot"), "{e}");
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("the dead clients' graphs were never freed: {e}"),
        }
    }
}
