//! The `remote` suite: the simulated chip in a device process (`ttrt sim-device`, attached
//! over shared memory) against the same chip in this process. The backend's push ->
//! run_program -> get_output -> pop cycle of a datacopy netlist with 1 MiB entries, as a ratio
//! to the in-process cycle; and one command's round trip to the device process (record,
//! doorbell, completion) against an atomic ping-pong through shared memory between two
//! processes, the floor of any cross-process handshake.

use std::hint::black_box;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use ttrt::backend::{Backend, BackendConfig};
use ttrt::format::{Arch, DataFormat, HostTensor, HostTensorMut};
use ttrt::hal::layout::{BankGeometry, BufferLayout, BufferType, MemoryLayout, TensorLayout};
use ttrt::hal::select::AnyChip;
use ttrt::hal::{BufferRef, Chip, OpKind, Program};

use super::{median, Plan};

const ROWS: usize = 1024;
const COLS: usize = 512;
const SHAPE: [usize; 4] = [1, 1, ROWS, COLS];

/// The backend suite's datacopy netlist with 1024x512 queues (1 MiB an entry).
fn netlist() -> String {
    super::backend::NETLIST.replace("mblock: [16, 8]", "mblock: [16, 4]")
}

/// `ttrt sim-device` on a name of this process, killed when dropped.
struct DeviceProcess {
    name: String,
    child: Child,
}

impl DeviceProcess {
    fn start() -> Result<DeviceProcess, String> {
        let name = format!("bench-{}", std::process::id());
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut child = Command::new(exe)
            .args(["sim-device", &name, "--per-client"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start ttrt sim-device: {e}"))?;
        let mut line = String::new();
        let stdout = child.stdout.take().ok_or("no stdout")?;
        BufReader::new(stdout)
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        if !line.contains("serving") {
            let _ = child.kill();
            return Err(format!("ttrt sim-device did not start: {line}"));
        }
        Ok(DeviceProcess { name, child })
    }

    fn device(&self) -> String {
        format!("shm:{}", self.name)
    }
}

impl Drop for DeviceProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn input() -> Vec<u8> {
    (0..ROWS * COLS)
        .flat_map(|i| ((((i * 2654435761) >> 7) % 4093) as f32 / 512.0 - 4.0).to_le_bytes())
        .collect()
}

/// Medians of one datacopy cycle on a device: in all, and its push, run_program and
/// get_output + pop_output.
struct Cycle {
    total: Duration,
    push: Duration,
    run: Duration,
    get: Duration,
}

impl Cycle {
    fn ms(d: Duration) -> f64 {
        d.as_secs_f64() * 1e3
    }
}

/// The median datacopy cycle on `device`, and its output.
fn cycle_on(device: String, plan: Plan) -> Result<(Cycle, Vec<u8>), String> {
    let e = |e: ttrt::backend::BackendError| e.message;
    let netlist =
        ttrt::netlist::parse(&netlist(), "bench-remote.yaml").map_err(|e| e.to_string())?;
    let config = BackendConfig {
        device: Some(device),
        ..BackendConfig::default()
    };
    let be = Backend::from_netlist(netlist, &config).map_err(e)?;
    be.initialize().map_err(e)?;
    let data = input();
    let src = HostTensor::contiguous(&data, DataFormat::Float32, SHAPE);
    let mut out = vec![0u8; ROWS * COLS * 4];
    let mut cycle = || -> Result<[Duration; 4], String> {
        let t0 = Instant::now();
        be.push_input("x", &src, true, -1, -1).map_err(e)?;
        let t1 = Instant::now();
        be.run_program("run", &[("$p_loop_count", "1")])
            .map_err(e)?;
        let t2 = Instant::now();
        let mut dst = HostTensorMut::contiguous(&mut out, DataFormat::Float32, SHAPE);
        be.get_output_into("y", &mut dst, true, -1, -1).map_err(e)?;
        be.pop_output("y", true, -1).map_err(e)?;
        let t3 = Instant::now();
        Ok([t3 - t0, t1 - t0, t2 - t1, t3 - t2])
    };
    for _ in 0..plan.warmup.max(1) {
        cycle()?;
    }
    let mut times = Vec::new();
    let started = Instant::now();
    while plan.more(times.len(), started) {
        times.push(cycle()?);
    }
    be.finish().map_err(e)?;
    let of = |i: usize| median(&times.iter().map(|t| t[i]).collect::<Vec<_>>());
    let c = Cycle {
        total: of(0),
        push: of(1),
        run: of(2),
        get: of(3),
    };
    Ok((c, out))
}

/// One tile's identity program on `chip`: the smallest command there is.
fn one_tile_program(chip: &AnyChip) -> Result<Program, String> {
    let g = *chip.geometry();
    let layout = BufferLayout::new(
        [1, 1, 32, 32],
        DataFormat::Float16B,
        TensorLayout::Tile,
        BufferType::Dram,
        MemoryLayout::Interleaved,
        None,
        BankGeometry {
            dram_banks: g.dram_channels,
            compute_grid: g.grid,
            dram_alignment: g.dram_alignment,
            l1_alignment: g.l1_alignment,
        },
    )
    .map_err(|e| e.to_string())?;
    let at = |addr| BufferRef { addr, layout };
    Ok(Program {
        op: OpKind::Unary(ttrt::compute::UnaryOp::Identity),
        a: at(g.dram_unreserved_base),
        b: at(g.dram_unreserved_base),
        out: at(g.dram_unreserved_base + 4096),
    })
}

fn per_run(chip: &AnyChip, runs: u32) -> Result<Duration, String> {
    let p = one_tile_program(chip)?;
    for _ in 0..100 {
        chip.run(&p).map_err(|e| e.to_string())?;
    }
    let t0 = Instant::now();
    for _ in 0..runs {
        chip.run(black_box(&p)).map_err(|e| e.to_string())?;
    }
    Ok(t0.elapsed() / runs)
}

/// One round trip of an atomic ping-pong with a forked child through a shared mapping.
fn ping_pong(rounds: u32) -> Result<Duration, String> {
    // SAFETY: a fresh shared anonymous mapping of one page.
    let shared = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if shared == libc::MAP_FAILED {
        return Err("mmap failed".into());
    }
    // SAFETY: the page is aligned and lives until munmap below.
    let word = unsafe { &*(shared as *const AtomicU32) };
    word.store(0, Ordering::SeqCst);
    let total = 2 * rounds + 2;
    // SAFETY: the child only spins on the atomic and leaves with _exit.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err("fork failed".into());
    }
    if pid == 0 {
        let mut next = 1;
        while next < total {
            while word.load(Ordering::Acquire) != next {
                std::hint::spin_loop();
            }
            word.store(next + 1, Ordering::Release);
            next += 2;
        }
        // SAFETY: ends the child without running the parent's exit handlers.
        unsafe { libc::_exit(0) };
    }
    let mut t0 = Instant::now();
    let mut next = 0;
    while next < total {
        if next == 2 {
            t0 = Instant::now();
        }
        word.store(next + 1, Ordering::Release);
        while word.load(Ordering::Acquire) != next + 2 {
            std::hint::spin_loop();
        }
        next += 2;
    }
    let d = t0.elapsed() / rounds;
    let mut status = 0;
    // SAFETY: reaps our child; unmaps our page.
    unsafe {
        libc::waitpid(pid, &mut status, 0);
        libc::munmap(shared, 4096);
    }
    Ok(d)
}

pub fn run(plan: Plan) -> Result<(), String> {
    let process = DeviceProcess::start()?;
    let (local, local_out) = cycle_on("sim".into(), plan)?;
    let (remote, remote_out) = cycle_on(process.device(), plan)?;
    if local_out != remote_out {
        return Err("the device process's datacopy output differs from the in-process one".into());
    }
    outln!(
        "remote datacopy cycle 1024x512 Float16_b (1 MiB): {:.3} ms in a device process = {:.2}x in process ({:.3} ms); goal <= 1.3x",
        Cycle::ms(remote.total),
        remote.total.as_secs_f64() / local.total.as_secs_f64(),
        Cycle::ms(local.total)
    );
    outln!(
        "  where the cycle goes (medians, device process / in process): push {:.3} / {:.3} ms, run_program {:.3} / {:.3} ms (the graph runs in the device), get_output + pop {:.3} / {:.3} ms",
        Cycle::ms(remote.push),
        Cycle::ms(local.push),
        Cycle::ms(remote.run),
        Cycle::ms(local.run),
        Cycle::ms(remote.get),
        Cycle::ms(local.get)
    );
    let runs = if plan.runs < 10 { 200 } else { 2000 };
    let chip = AnyChip::open(&process.device(), Arch::WormholeB0).map_err(|e| e.to_string())?;
    let here = AnyChip::open("sim", Arch::WormholeB0).map_err(|e| e.to_string())?;
    let (remote_cmd, local_cmd) = (per_run(&chip, runs)?, per_run(&here, runs)?);
    let pong = ping_pong(runs * 10)?;
    outln!(
        "remote command round trip (1-tile program: record, doorbell, completion): {:.1} us = {:.1}x an atomic ping-pong between two processes ({:.2} us); the same program in process {:.1} us",
        remote_cmd.as_secs_f64() * 1e6,
        remote_cmd.as_secs_f64() / pong.as_secs_f64(),
        pong.as_secs_f64() * 1e6,
        local_cmd.as_secs_f64() * 1e6
    );
    Ok(())
}
