//! The `device` suite: what the host pays to drive the simulated device, and what a second
//! command queue buys, each figure against a baseline measured in the same rounds.
//!
//! 1. `enqueue op`: the host side of one device op (`unary` on one tile, then freeing its
//!    output) against copying one command-sized record into a ring array. The device is
//!    polled between timed runs, so nothing but the host thread runs while the clock does.
//! 2. `execute_trace N ops`: the host side of replaying traces of 1 to 1000 ops, each enqueue
//!    timed alone, against the 1-op trace (DESIGN.md §3: the cost does not grow with N).
//! 3. `2-CQ overlap`: the throughput of TT-Metal's loop "write the input, the first op consumes
//!    it, the rest of the model, read the output" with the writes on CQ 1 and events between
//!    the queues, against the same loop all on CQ 0.
//! 4. `event round trip`: record on CQ 0, wait for it on CQ 1, record on CQ 1, host
//!    synchronize, against two host threads bouncing an atomic.
//!
//! Figures 2 to 4 run the device as `ttrt_device_open` does: one worker thread per CQ.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use ttrt::compute::UnaryOp;
use ttrt::format::{contiguous_strides, Arch, DataFormat};
use ttrt::hal::layout::TensorLayout;
use ttrt::hal::select::AnyChip;
use ttrt::hal::Program;
use ttrt::runtime::{
    Device, DeviceConfig, Event, HostBuffer, MemoryConfig, RuntimeError, Tensor, TensorSpec,
    RING_RECORDS,
};

use super::{median, Plan, Served};

pub fn run(plan: Plan) -> Result<(), String> {
    enqueue_op(plan)?;
    trace_replay(plan)?;
    two_cq_overlap(plan)?;
    event_round_trip(plan)
}

fn rt(e: RuntimeError) -> String {
    e.to_string()
}

/// `a / b` of two durations.
fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-12)
}

fn ns(d: Duration) -> f64 {
    d.as_secs_f64() * 1e9
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Runs `round` `plan.warmup` times untimed (`keep` false), then timed until the plan says
/// stop; returns how many timed rounds ran.
fn rounds(plan: Plan, mut round: impl FnMut(bool) -> Result<(), String>) -> Result<usize, String> {
    let started = Instant::now();
    let (mut done, mut timed) = (0, 0);
    while done < plan.warmup || plan.more(timed, started) {
        let keep = done >= plan.warmup;
        round(keep)?;
        timed += keep as usize;
        done += 1;
    }
    Ok(timed)
}

/// A `[1, 1, rows, cols]` Float16_b tensor in tiles.
fn tiles(rows: u32, cols: u32) -> TensorSpec {
    TensorSpec {
        shape: [1, 1, rows, cols],
        format: DataFormat::Float16B,
        layout: TensorLayout::Tile,
    }
}

/// Bytes of the device pages of a `tiles` tensor (a Float16_b tile page has no header).
fn page_bytes(spec: &TensorSpec) -> usize {
    spec.shape.iter().product::<u32>() as usize * 2
}

/// Device pages of `spec` holding Float16_b values in ±[1, 2) of both signs.
fn pages_of(spec: &TensorSpec) -> Vec<u8> {
    (0..page_bytes(spec) / 2)
        .flat_map(|i| (0x3f80 | (i as u16 & 0x7f) | ((i as u16 & 1) << 15)).to_le_bytes())
        .collect()
}

/// A host tensor already in the device's pages, as TT-NN keeps a host tensor in TILE layout:
/// a write copies it and a read fills it without converting (conversion is what the `formats`
/// suite measures; here it would drown the queues).
fn host_pages(bytes: &mut [u8], spec: &TensorSpec) -> HostBuffer {
    let shape = spec.shape.map(|d| d as usize);
    HostBuffer {
        ptr: bytes.as_mut_ptr(),
        len: bytes.len(),
        format: spec.format,
        shape,
        strides: contiguous_strides(shape, 2),
        tiled: true,
    }
}

fn sim_chip() -> Result<AnyChip, String> {
    AnyChip::open("sim", Arch::WormholeB0)
        .map_err(|e| format!("cannot reserve the simulated chip: {e}"))
}

/// A simulated chip served by its workers.
fn served(config: DeviceConfig) -> Result<Served<AnyChip>, String> {
    Served::open(config, sim_chip()?, "bench", false)
}

/// Allocates a tensor and writes `bytes` (its device pages) into it on CQ 0, blocking.
fn tensor_with(
    dev: &Device<AnyChip>,
    spec: &TensorSpec,
    mem: &MemoryConfig,
    bytes: &mut [u8],
) -> Result<Tensor, String> {
    let t = dev.allocate_tensor(spec, mem).map_err(rt)?;
    dev.write_tensor(0, &host_pages(bytes, spec), &t, true)
        .map_err(rt)?;
    Ok(t)
}

/// Enqueues a Relu of `input` on CQ 0 and frees its output at once: both host-side
/// bookkeeping, nothing waits for the device.
fn relu_and_free(dev: &Device<AnyChip>, input: &Tensor, mem: &MemoryConfig) -> Result<(), String> {
    let mut out = dev.unary(0, UnaryOp::Relu, input, mem).map_err(rt)?;
    dev.deallocate(&mut out, true).map_err(rt)
}

// ------------------------------------------------------------------ 1. enqueue op

/// Ops enqueued per timed run, between polls: fewer than `RING_RECORDS`, so the ring never
/// fills while the clock runs.
const OPS_PER_RUN: usize = 500;
/// Timed runs per round of the plan (a run is short).
const RUNS_PER_ROUND: usize = 8;

/// Words of one command-sized record: `Program` is the payload of the ring's program command.
const RECORD_WORDS: usize = core::mem::size_of::<Program>().div_ceil(8);
type Record = [u64; RECORD_WORDS];

fn enqueue_op(plan: Plan) -> Result<(), String> {
    let dev = Device::new(DeviceConfig::default(), sim_chip()?).map_err(rt)?;
    let spec = tiles(32, 32);
    let mem = MemoryConfig::DRAM_INTERLEAVED;
    let input = tensor_with(&dev, &spec, &mem, &mut pages_of(&spec))?;
    relu_and_free(&dev, &input, &mem)?; // into the program cache
    dev.finish(0).map_err(rt)?;

    let record: Record = core::array::from_fn(|i| 0x5a5a_0000 + i as u64);
    // Every page of the ring is written before the clock starts.
    let mut ring: Vec<Record> = vec![record; RING_RECORDS as usize];
    let mut at = 0;
    let (mut copies, mut ops) = (Vec::new(), Vec::new());
    let timed = rounds(plan, |keep| {
        for _ in 0..RUNS_PER_ROUND {
            let start = Instant::now();
            for _ in 0..OPS_PER_RUN {
                ring[at % RING_RECORDS as usize] = *black_box(&record);
                at += 1;
            }
            black_box(&mut ring);
            let copy = start.elapsed();

            let start = Instant::now();
            for _ in 0..OPS_PER_RUN {
                relu_and_free(&dev, &input, &mem)?;
            }
            let op = start.elapsed();
            dev.poll();
            if keep {
                copies.push(copy);
                ops.push(op);
            }
        }
        Ok(())
    })?;
    dev.finish(0).map_err(rt)?;

    // Per record and per op, in float nanoseconds (a Duration divides to whole ones). The
    // ratio is the median of each run's op time over the copy timed just before it: the two
    // share the machine's state of the moment, which moves the copy by 2x between rounds.
    let (copy, op) = (median(&copies), median(&ops));
    let per = |d: Duration| ns(d) / OPS_PER_RUN as f64;
    let mut ratios: Vec<f64> = ops
        .iter()
        .zip(&copies)
        .map(|(o, c)| ratio(*o, *c))
        .collect();
    ratios.sort_unstable_by(f64::total_cmp);
    let paired = ratios[ratios.len() / 2];
    outln!(
        "device/record copy: {:.1} ns per {} B record (baseline: into a {}-record ring array; \
         medians of {} runs of {OPS_PER_RUN})",
        per(copy),
        core::mem::size_of::<Record>(),
        RING_RECORDS,
        timed * RUNS_PER_ROUND
    );
    outln!(
        "device/enqueue op: {:.0} ns = {:.1} x record copy (goal <= 10x; median of the runs' \
         ratios, each to the copy just before it; unary Relu on [1,1,32,32] Float16_b, then \
         free of its output; device polled between runs)",
        per(op),
        paired
    );
    Ok(())
}

// ------------------------------------------------------------------ 2. execute_trace

const TRACE_LENGTHS: [u32; 4] = [1, 10, 100, 1000];
/// Replays enqueued back to back in one run, each timed alone (fewer than `RING_RECORDS`, so
/// the ring never fills).
const REPLAYS_PER_RUN: usize = 32;

fn trace_replay(plan: Plan) -> Result<(), String> {
    let served = served(DeviceConfig {
        // 1111 captured programs take 569 KB of trace region; room to spare.
        trace_region_size: 4 << 20,
        ..DeviceConfig::default()
    })?;
    let dev = &*served.dev;
    let spec = tiles(32, 32);
    let mem = MemoryConfig::DRAM_INTERLEAVED;
    let input = tensor_with(dev, &spec, &mem, &mut pages_of(&spec))?;
    relu_and_free(dev, &input, &mem)?; // into the program cache
    dev.finish(0).map_err(rt)?;
    let mut tids = Vec::new();
    for n in TRACE_LENGTHS {
        let tid = dev.begin_trace_capture(0).map_err(rt)?;
        for _ in 0..n {
            relu_and_free(dev, &input, &mem)?;
        }
        dev.end_trace_capture(0, tid).map_err(rt)?;
        tids.push(tid);
    }

    let mut samples = vec![Vec::new(); tids.len()];
    let mut round = 0;
    let timed = rounds(plan, |keep| {
        // Each length goes first equally often.
        for k in 0..tids.len() {
            let which = (round + k) % tids.len();
            for _ in 0..REPLAYS_PER_RUN {
                let start = Instant::now();
                let replay = dev.execute_trace(0, tids[which], false);
                let t = start.elapsed();
                replay.map_err(rt)?;
                if keep {
                    samples[which].push(t);
                }
            }
            dev.finish(0).map_err(rt)?;
        }
        round += 1;
        Ok(())
    })?;
    for tid in tids {
        dev.release_trace(tid).map_err(rt)?;
    }

    let one = median(&samples[0]);
    outln!(
        "device/execute_trace 1 op: {:.0} ns per enqueue (baseline; medians of {} enqueues, \
         {REPLAYS_PER_RUN} back to back per run over {timed} runs, worker thread)",
        ns(one),
        samples[0].len()
    );
    for (n, s) in TRACE_LENGTHS.iter().zip(&samples).skip(1) {
        let t = median(s);
        outln!(
            "device/execute_trace {n} ops: {:.0} ns = {:.2} x 1-op replay (goal <= 2x)",
            ns(t),
            ratio(t, one)
        );
    }
    Ok(())
}

// ------------------------------------------------------------------ 3. 2-CQ overlap

/// Input sizes (rows of a `[1, 1, rows, 1024]` Float16_b tensor): 4 MiB and 1 MiB. At 4 MiB the
/// event hand-offs of each iteration (a worker woken from its futex each) are a small share of
/// the loop, but its data (two inputs, the L1 copy, two outputs) no longer stays in the CPU's
/// caches; at 1 MiB it does, and the hand-offs weigh more.
const INPUT_ROWS: [u32; 2] = [2048, 512];
const INPUT_COLS: u32 = 1024;
/// Iterations of the loop per timed run.
const LOOP_ITERATIONS: usize = 16;

/// The loop of the multi-CQ guide: each iteration writes an input (blocking, as TT-NN's
/// `copy_host_to_device_tensor` is), then the model consumes it: its first op copies the DRAM
/// input into L1 (as the reshard of TT-CNN's executors does), its last reads the output back.
///
/// On silicon that first copy runs at on-chip bandwidth, a small part of the write over
/// PCIe. On the simulated chip both are the same page copy, so with one input buffer the
/// next write must wait for a copy as long as itself (CQ 1 waits for the input to be
/// consumed) and the loop cannot beat (write + model) / max(2 x write, model). With two
/// input buffers used in turn, the next write only waits for the copy of the buffer it
/// overwrites, from the iteration before, so the write and the model can overlap whole: the
/// limit is 2x. On a host with few cores both workers' page copies also share one memory bus.
struct Loop<'a> {
    dev: &'a Device<AnyChip>,
    /// One or two DRAM input buffers, used in turn.
    inputs: Vec<Tensor>,
    src: HostBuffer,
}

impl Loop<'_> {
    /// Enqueues the model on `inputs[i % n]`; `consumed` runs once its first op is enqueued.
    fn model(
        &self,
        i: usize,
        out: &mut [u8],
        consumed: &mut dyn FnMut() -> Result<(), String>,
    ) -> Result<(), String> {
        let dev = self.dev;
        let input = &self.inputs[i % self.inputs.len()];
        let mut x = dev
            .to_memory_config(0, input, &MemoryConfig::L1_INTERLEAVED)
            .map_err(rt)?;
        consumed()?;
        // SAFETY: `out` outlives the read: every run ends with a synchronize, and on an early
        // return the device, dropped before the buffers, drains its queues.
        unsafe { dev.read_tensor(0, &x, host_pages(out, &input.spec()), false) }.map_err(rt)?;
        // The read is ahead of anything that could reuse the buffer on CQ 0.
        dev.deallocate(&mut x, true).map_err(rt)
    }

    fn write(&self, cq: u8, i: usize) -> Result<(), String> {
        let input = &self.inputs[i % self.inputs.len()];
        self.dev
            .write_tensor(cq, &self.src, input, true)
            .map_err(rt)
    }

    /// `LOOP_ITERATIONS` of: the write, then the model, all on CQ 0.
    fn single_cq(&self, outs: &mut [Vec<u8>; 2]) -> Result<Duration, String> {
        let start = Instant::now();
        for i in 0..LOOP_ITERATIONS {
            self.write(0, i)?;
            self.model(i, &mut outs[i % 2], &mut || Ok(()))?;
        }
        self.dev.synchronize().map_err(rt)?;
        Ok(start.elapsed())
    }

    /// `LOOP_ITERATIONS` of the guide's overlapped-input loop: CQ 1 waits until CQ 0 has
    /// consumed the input buffer it is about to overwrite (`consumed[buffer]`), writes it and
    /// records `write_event`; CQ 0 waits for that, runs the first op, records the buffer's
    /// consumed event, then the rest of the model and the read.
    fn two_cq(&self, outs: &mut [Vec<u8>; 2], consumed: &mut [Event]) -> Result<Duration, String> {
        let dev = self.dev;
        let start = Instant::now();
        for i in 0..LOOP_ITERATIONS {
            let buffer = i % self.inputs.len();
            dev.wait_for_event(1, &consumed[buffer]).map_err(rt)?;
            self.write(1, i)?;
            let write_event = dev.record_event(1).map_err(rt)?;
            dev.wait_for_event(0, &write_event).map_err(rt)?;
            self.model(i, &mut outs[i % 2], &mut || {
                consumed[buffer] = dev.record_event(0).map_err(rt)?;
                Ok(())
            })?;
        }
        dev.synchronize().map_err(rt)?;
        Ok(start.elapsed())
    }
}

fn two_cq_overlap(plan: Plan) -> Result<(), String> {
    for rows in INPUT_ROWS {
        overlap_at(plan, tiles(rows, INPUT_COLS))?;
    }
    Ok(())
}

/// The 2-CQ figures for one input size.
fn overlap_at(plan: Plan, spec: TensorSpec) -> Result<(), String> {
    let [_, _, rows, cols] = spec.shape;
    // Host buffers first: they must outlive the device, which drains its queues on drop.
    let mut host_in = pages_of(&spec);
    let mut outs = [vec![0x5au8; host_in.len()], vec![0x5au8; host_in.len()]];
    let served = served(DeviceConfig {
        num_command_queues: 2,
        ..DeviceConfig::default()
    })?;
    let dev = &*served.dev;
    let dram = MemoryConfig::DRAM_INTERLEAVED;
    let inputs = [
        tensor_with(dev, &spec, &dram, &mut host_in)?,
        tensor_with(dev, &spec, &dram, &mut host_in)?,
    ];
    let src = host_pages(&mut host_in, &spec);
    let one = Loop {
        dev,
        inputs: inputs[..1].to_vec(),
        src,
    };
    let two = Loop {
        dev,
        inputs: inputs.to_vec(),
        src,
    };
    let l1 = MemoryConfig::L1_INTERLEAVED;
    let in_l1 = dev.to_memory_config(0, &inputs[0], &l1).map_err(rt)?;
    relu_and_free(dev, &in_l1, &l1)?; // into the program cache
    dev.finish(0).map_err(rt)?;

    let mut parts: [Vec<Duration>; 3] = Default::default();
    let mut figures: [Vec<Duration>; 4] = Default::default();
    // Dummy records: CQ 1 waits on these first.
    let mut consumed = [dev.record_event(0).map_err(rt)?; 2];
    let mut round = 0;
    let timed = rounds(plan, |keep| {
        // Each part alone on an idle device.
        let start = Instant::now();
        one.write(0, 0)?;
        let write = start.elapsed();
        let start = Instant::now();
        one.model(0, &mut outs[0], &mut || Ok(()))?;
        dev.finish(0).map_err(rt)?;
        let model = start.elapsed();
        let start = Instant::now();
        let mut x = dev.to_memory_config(0, &inputs[0], &l1).map_err(rt)?;
        dev.deallocate(&mut x, true).map_err(rt)?;
        dev.finish(0).map_err(rt)?;
        let first = start.elapsed();

        // Each configuration goes first equally often.
        let mut run = |l: &Loop, two_cqs: bool| {
            if two_cqs {
                l.two_cq(&mut outs, &mut consumed)
            } else {
                l.single_cq(&mut outs)
            }
        };
        let order = if round % 2 == 0 {
            [false, true]
        } else {
            [true, false]
        };
        let mut t = [Duration::ZERO; 4];
        for (k, l) in [&one, &two].into_iter().enumerate() {
            for two_cqs in order {
                t[k * 2 + two_cqs as usize] = run(l, two_cqs)?;
            }
        }
        round += 1;
        if keep {
            for (samples, d) in parts.iter_mut().zip([write, model, first]) {
                samples.push(d);
            }
            for (samples, d) in figures.iter_mut().zip(t) {
                samples.push(d / LOOP_ITERATIONS as u32);
            }
        }
        Ok(())
    })?;

    let [write, model, first] = parts.each_ref().map(|s| median(s));
    let [one_single, one_double, two_single, two_double] = figures.each_ref().map(|s| median(s));
    let kib = page_bytes(&spec) >> 10;
    outln!(
        "device/2-CQ {kib} KiB input ([1,1,{rows},{cols}] Float16_b), parts alone: write {:.0} us \
         (blocking); model {:.0} us, of which its first op (to_memory_config DRAM->L1) {:.0} us, \
         then the read",
        us(write),
        us(model),
        us(first),
    );
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    // What overlap would give if the parts took in the loop what they take alone: the serial
    // time over the busier queue's. One buffer: the next write waits until the first op has
    // read the input, so CQ 1 writes twice per model; two: the write of one overlaps the model
    // of the other. (Only an estimate: alone, each part also pays a blocking call's wake-up.)
    let serial = (write + model).as_secs_f64();
    let one_estimate = serial / (write * 2).max(model).as_secs_f64();
    let two_estimate = serial / write.max(model).as_secs_f64();
    // The goal is for the loop the issue names: a write taking about as long as the model.
    let share = write.as_secs_f64() / model.as_secs_f64();
    let goal = if (0.6..=1.0 / 0.6).contains(&share) {
        format!("goal >= 1.6x, limit 2x; from the parts alone {two_estimate:.2}x")
    } else {
        format!(
            "no goal: the write takes {share:.2}x the model, not about as long; from the parts \
             alone {two_estimate:.2}x"
        )
    };
    for (name, single, double, note) in [
        (
            "one input buffer",
            one_single,
            one_double,
            format!("from the parts alone {one_estimate:.2}x"),
        ),
        ("two input buffers", two_single, two_double, goal),
    ] {
        outln!(
            "device/2-CQ overlap, {kib} KiB, {name}: {:.0} us per iteration = {:.2} x the \
             {:.0} us all on CQ 0 ({note}; medians of {timed} runs of {LOOP_ITERATIONS} \
             iterations, worker threads, {cpus} CPUs for the host and 2 workers)",
            us(double),
            ratio(single, double),
            us(single),
        );
    }
    Ok(())
}

// ------------------------------------------------------------------ 4. event round trip

/// Round trips per run, each timed alone.
const TRIPS_PER_RUN: usize = 200;
/// Spins before a waiting thread yields.
const SPINS: u32 = 200;
/// The ball's value while the partner sleeps between runs.
const REST: u32 = u32::MAX;

/// Two host threads bouncing an atomic: the host thread throws an odd value, the partner
/// answers with the next even one. The partner lives for the whole figure and sleeps between
/// runs, so it takes no CPU from the device's workers.
struct PingPong {
    ball: AtomicU32,
    stop: AtomicBool,
}

impl PingPong {
    /// Waits until the ball holds `want` or `REST`: a short spin, then yielding.
    fn wait(&self, want: u32) -> u32 {
        let mut spins = 0;
        loop {
            let v = self.ball.load(Ordering::Acquire);
            if v == want || v == REST {
                return v;
            }
            if spins < SPINS {
                spins += 1;
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }

    fn partner(&self) {
        let mut v = 1u32;
        loop {
            while self.ball.load(Ordering::Acquire) == REST {
                if self.stop.load(Ordering::Acquire) {
                    return;
                }
                std::thread::park();
            }
            if self.wait(v) == v {
                self.ball.store(v + 1, Ordering::Release);
                v += 2;
            }
        }
    }
}

fn event_round_trip(plan: Plan) -> Result<(), String> {
    let served = served(DeviceConfig {
        num_command_queues: 2,
        ..DeviceConfig::default()
    })?;
    let dev = &*served.dev;
    let pp = PingPong {
        ball: AtomicU32::new(REST),
        stop: AtomicBool::new(false),
    };
    // Left to the scheduler, a woken partner often lands on the host thread's CPU, and the
    // two then take turns by yielding: the baseline would measure the scheduler, bimodally.
    // Pinned to two CPUs it measures the hand-off between cores.
    let mask = cpu::Mask::current();
    let pair = mask
        .as_ref()
        .map(cpu::Mask::cpus)
        .filter(|c| c.len() >= 2)
        .map(|c| (c[0], c[1]));
    let (mut pings, mut trips) = (Vec::new(), Vec::new());
    let timed = std::thread::scope(|s| {
        let partner = s.spawn(|| {
            if let Some((_, b)) = pair {
                cpu::Mask::single(b).apply();
            }
            pp.partner()
        });
        let mut v = 0u32;
        let timed = rounds(plan, |keep| {
            if let Some((a, _)) = pair {
                cpu::Mask::single(a).apply();
            }
            pp.ball.store(v, Ordering::Release);
            partner.thread().unpark();
            for _ in 0..TRIPS_PER_RUN {
                let start = Instant::now();
                pp.ball.store(v + 1, Ordering::Release);
                pp.wait(v + 2);
                let t = start.elapsed();
                v += 2;
                if keep {
                    pings.push(t);
                }
            }
            pp.ball.store(REST, Ordering::Release);
            if let Some(m) = &mask {
                m.apply();
            }

            for _ in 0..TRIPS_PER_RUN {
                let start = Instant::now();
                let e0 = dev.record_event(0).map_err(rt)?;
                dev.wait_for_event(1, &e0).map_err(rt)?;
                let e1 = dev.record_event(1).map_err(rt)?;
                dev.event_synchronize(&e1, -1).map_err(rt)?;
                let t = start.elapsed();
                if keep {
                    trips.push(t);
                }
            }
            Ok(())
        });
        pp.stop.store(true, Ordering::Release);
        partner.thread().unpark();
        if let Some(m) = &mask {
            m.apply();
        }
        timed
    })?;

    let (ping, trip) = (median(&pings), median(&trips));
    let pinned = match pair {
        Some((a, b)) => format!("pinned to CPUs {a} and {b}"),
        None => "not pinned".to_string(),
    };
    outln!(
        "device/atomic ping-pong: {:.0} ns per round trip (baseline: two host threads {pinned}, \
         spin {SPINS} then yield; medians of {} trips over {timed} runs)",
        ns(ping),
        pings.len()
    );
    outln!(
        "device/event round trip: {:.2} us = {:.0} x atomic ping-pong (no goal; record on CQ 0, \
         wait on CQ 1, record on CQ 1, event_synchronize; worker threads)",
        us(trip),
        ratio(trip, ping)
    );
    Ok(())
}

/// The calling thread's CPU affinity (Linux; elsewhere there is none to set and the
/// ping-pong runs unpinned).
mod cpu {
    #[cfg(target_os = "linux")]
    pub struct Mask(libc::cpu_set_t);

    #[cfg(target_os = "linux")]
    impl Mask {
        const SIZE: usize = core::mem::size_of::<libc::cpu_set_t>();

        /// The CPUs the calling thread may run on.
        pub fn current() -> Option<Mask> {
            // SAFETY: a zeroed cpu_set_t is an empty set.
            let mut set: libc::cpu_set_t = unsafe { core::mem::zeroed() };
            // SAFETY: `set` is a writable cpu_set_t of SIZE bytes.
            let r = unsafe { libc::sched_getaffinity(0, Self::SIZE, &mut set) };
            (r == 0).then_some(Mask(set))
        }

        /// Only `cpu`.
        pub fn single(cpu: usize) -> Mask {
            // SAFETY: a zeroed cpu_set_t is an empty set.
            let mut set: libc::cpu_set_t = unsafe { core::mem::zeroed() };
            // SAFETY: `cpu` comes from `cpus`, so it is below CPU_SETSIZE.
            unsafe { libc::CPU_SET(cpu, &mut set) };
            Mask(set)
        }

        pub fn cpus(&self) -> Vec<usize> {
            (0..libc::CPU_SETSIZE as usize)
                // SAFETY: `c` is below CPU_SETSIZE.
                .filter(|&c| unsafe { libc::CPU_ISSET(c, &self.0) })
                .collect()
        }

        /// Restricts the calling thread to the set (best effort: a benchmark runs either way).
        pub fn apply(&self) {
            // SAFETY: `self.0` is a valid cpu_set_t of SIZE bytes.
            unsafe { libc::sched_setaffinity(0, Self::SIZE, &self.0) };
        }
    }

    #[cfg(not(target_os = "linux"))]
    pub struct Mask;

    #[cfg(not(target_os = "linux"))]
    impl Mask {
        pub fn current() -> Option<Mask> {
            None
        }

        pub fn single(_cpu: usize) -> Mask {
            Mask
        }

        pub fn cpus(&self) -> Vec<usize> {
            Vec::new()
        }

        pub fn apply(&self) {}
    }
}
