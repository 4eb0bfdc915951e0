//! The `pipeline` suite: the throughput of the five TT-CNN executors, each as a ratio to
//! ModelExecutor measured in the same rounds, on the workload the executors are for: a model of
//! many small ops (a chain of elementwise ops on a small tensor) whose input takes about as long
//! to bring to the device as the model takes to run.
//!
//! The link. On silicon an input crosses PCIe, which takes device time on the command queue
//! that moves it but no host CPU (the transfer is DMA), while a reshard on the chip is far
//! faster. The simulated chip has no link: its transfers are host memcpys, as fast as its
//! reshard, so no executor could hide one behind the model. The suite therefore runs the
//! simulated chip behind a model of the link ([`LinkedChip`]): every host <-> device transfer
//! (the device's page reads and writes; programs, reshards included, run on the chip and do not
//! cross it) occupies its direction of a full-duplex link for bytes / bandwidth, during which
//! the CQ's worker waits. The bandwidth is set so that one input's transfer takes as long as
//! the model: its programs' time per input in ModelExecutor, the median over the rounds so far
//! (the machine's speed moves by half from one second to the next).
//!
//! Two workloads: the model ending in a matmul to a narrow output (1/8 of the input: the
//! overlapped-input executors can hide the whole input transfer), and the model's output as
//! large as its input (the read matters as much as the write: the case for putting every
//! transfer on CQ 1). Inputs are host tensors already in the device's pages (TILE), as in the
//! `device` suite: a host conversion would measure the codec, which the `formats` suite does.
//!
//! Each executor has its own device (its traces and persistent tensors to itself), driven as
//! `ttrt_device_open` drives one: a worker thread per CQ, each pinned to its own CPU
//! (`pin_workers`). Unpinned, Linux placed a woken worker on its waker's CPU: the worker that
//! recorded an event then waited, runnable, for the other's whole model while the second CPU
//! idled, a third of the pipelined executor's time. A round enqueues the same inputs into
//! every pipeline in turn, each `enqueue` + `pop_all` timed; the order rotates between rounds.
//! Times are medians over rounds; each ratio is the median of the rounds' own ratios. The
//! outputs of every executor are compared with ModelExecutor's.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ttrt::compute::UnaryOp;
use ttrt::format::{Arch, DataFormat};
use ttrt::hal::layout::{CoreRange, MemoryLayout, ShardOrientation, ShardSpec, TensorLayout};
use ttrt::hal::select::AnyChip;
use ttrt::hal::{Chip, ChipGeometry, HalError, MemKind, Program};
use ttrt::pipeline::{
    host_buffer, memory_config_for_persistent_dram_tensor, ExecutorKind, HostTensor, MemoryConfigs,
    Pipeline,
};
use ttrt::runtime::allocator::BufferType;
use ttrt::runtime::{Device, DeviceConfig, MemoryConfig, RuntimeError, Tensor, TensorSpec};

use super::{median, Plan, Served};

/// Rows and columns of an input.
const ROWS: u32 = 256;
const COLS: u32 = 256;
/// Elementwise ops in the model.
const OPS: u32 = 16;
/// Columns of the narrow output (the matmul's weight is `COLS x NARROW`).
const NARROW: u32 = 32;
/// Inputs per enqueue.
const INPUTS: usize = 32;

/// One workload: the model's output is narrow or as large as the input.
#[derive(Clone, Copy, Debug)]
struct Workload {
    name: &'static str,
    /// Columns of the matmul's output, or `None`: no matmul, the output is the input's size.
    narrow: Option<u32>,
}

const WORKLOADS: [Workload; 2] = [
    Workload {
        name: "narrow output",
        narrow: Some(NARROW),
    },
    Workload {
        name: "output as large as the input",
        narrow: None,
    },
];

fn shape() -> [u32; 4] {
    [1, 1, ROWS, COLS]
}

fn spec(shape: [u32; 4]) -> TensorSpec {
    TensorSpec {
        shape,
        format: DataFormat::Float16B,
        layout: TensorLayout::Tile,
    }
}

/// Bytes of one input (Float16_b tiles have no header).
const INPUT_BYTES: usize = (ROWS * COLS * 2) as usize;

fn rt(e: RuntimeError) -> String {
    e.to_string()
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

// ------------------------------------------------------------------ the link

/// One direction of the link: when it is next free, in nanoseconds since the link's epoch, and
/// the time its pages have lost to a late end of the wait (the worker preempted), which the
/// next pages get back.
#[derive(Default)]
struct Direction {
    free_at: AtomicU64,
    credit: AtomicU64,
}

/// A full-duplex host link of one bandwidth each way.
///
/// Transfers arrive page by page; each page takes the link for its bytes at the link's rate,
/// after the pages ahead of it, and the worker moving it waits until the link has carried it,
/// spinning: the worker stands for the CQ's dispatcher on the chip, busy with the transfer.
/// (Asleep instead, the worker left its CPU idle, and the virtual machine's CPUs came back
/// from idle slower: the model ran 10-35% slower after a transfer than back to back, by
/// amounts that differed between executors.)
struct Link {
    epoch: Instant,
    rate: Arc<Rate>,
    host_to_device: Direction,
    device_to_host: Direction,
}

/// The link's time per byte, in picoseconds (shared by the links of all the devices of a
/// workload, and set again every round).
struct Rate(AtomicU64);

impl Rate {
    /// `bytes` cross in `time`.
    fn set(&self, bytes: usize, time: Duration) {
        let ps = time.as_secs_f64() * 1e12 / bytes as f64;
        self.0.store(ps as u64, Ordering::Relaxed);
    }

    fn ns_per_byte(&self) -> f64 {
        self.0.load(Ordering::Relaxed) as f64 / 1e3
    }
}

impl Link {
    fn new(rate: Arc<Rate>) -> Link {
        Link {
            epoch: Instant::now(),
            rate,
            host_to_device: Direction::default(),
            device_to_host: Direction::default(),
        }
    }

    fn now(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    /// `bytes` cross in direction `d`: after the bytes ahead of them, at the link's rate; the
    /// caller waits until they have. Each direction is used by one worker at a time (a CQ's
    /// transfers are in order, and each executor moves one direction on one CQ), so plain
    /// loads and stores suffice.
    fn cross(&self, d: &Direction, bytes: usize) {
        let mut cost = (bytes as f64 * self.rate.ns_per_byte()) as u64;
        let credit = d.credit.load(Ordering::Relaxed);
        let refund = credit.min(cost);
        d.credit.store(credit - refund, Ordering::Relaxed);
        cost -= refund;
        let end = d.free_at.load(Ordering::Relaxed).max(self.now()) + cost;
        d.free_at.store(end, Ordering::Relaxed);
        loop {
            let now = self.now();
            if now >= end {
                d.credit.fetch_add(now - end, Ordering::Relaxed);
                return;
            }
            std::hint::spin_loop();
        }
    }
}

/// The simulated chip behind a [`Link`]: page reads and writes (the device's transfers) cross
/// it; programs run on the chip, which counts the time they take.
struct LinkedChip {
    chip: AnyChip,
    link: Arc<Link>,
    /// Nanoseconds spent running programs so far.
    program_time: AtomicU64,
}

impl LinkedChip {
    fn program_time(&self) -> Duration {
        Duration::from_nanos(self.program_time.load(Ordering::Relaxed))
    }
}

impl Chip for LinkedChip {
    fn geometry(&self) -> &ChipGeometry {
        self.chip.geometry()
    }

    fn read(&self, kind: MemKind, bank: u32, addr: u64, dst: &mut [u8]) -> Result<(), HalError> {
        self.chip.read(kind, bank, addr, dst)?;
        self.link.cross(&self.link.device_to_host, dst.len());
        Ok(())
    }

    fn write(&self, kind: MemKind, bank: u32, addr: u64, src: &[u8]) -> Result<(), HalError> {
        self.link.cross(&self.link.host_to_device, src.len());
        self.chip.write(kind, bank, addr, src)
    }

    fn run(&self, program: &Program) -> Result<(), HalError> {
        let start = Instant::now();
        let result = self.chip.run(program);
        let ns = start.elapsed().as_nanos() as u64;
        self.program_time.fetch_add(ns, Ordering::Relaxed);
        result
    }
}

/// A device on a linked chip, served by its workers, each pinned to its own CPU (as the
/// throughput configuration of `ttrt_device_open` does).
fn linked_device(rate: &Arc<Rate>) -> Result<Served<LinkedChip>, String> {
    let config = DeviceConfig {
        num_command_queues: 2,
        trace_region_size: 1 << 20,
        ..DeviceConfig::default()
    };
    let chip = LinkedChip {
        chip: AnyChip::open("sim", Arch::WormholeB0)
            .map_err(|e| format!("cannot reserve the simulated chip: {e}"))?,
        link: Arc::new(Link::new(Arc::clone(rate))),
        program_time: AtomicU64::new(0),
    };
    Served::open(config, chip, "bench-pipe", true)
}

// ------------------------------------------------------------------ the model

type ModelFn = Box<dyn FnMut(&Device<LinkedChip>, u8, &mut Tensor) -> Result<Tensor, RuntimeError>>;

/// `OPS` elementwise ops (relu and neg in turn, each into L1, freeing the one before), then,
/// for a narrow output, a matmul with `weight`.
fn model(weight: Option<Tensor>) -> ModelFn {
    Box::new(move |dev: &Device<LinkedChip>, cq: u8, x: &mut Tensor| {
        let l1 = MemoryConfig::L1_INTERLEAVED;
        let mut y = dev.unary(cq, UnaryOp::Relu, x, &l1)?;
        for k in 1..OPS {
            let op = if k % 2 == 1 {
                UnaryOp::Neg
            } else {
                UnaryOp::Relu
            };
            let mut z = dev.unary(cq, op, &y, &l1)?;
            std::mem::swap(&mut y, &mut z);
            dev.deallocate(&mut z, true)?;
        }
        if let Some(w) = &weight {
            let mut z = dev.matmul(cq, &y, w, &l1)?;
            std::mem::swap(&mut y, &mut z);
            dev.deallocate(&mut z, true)?;
        }
        Ok(y)
    })
}

/// The device input and, for a narrow output, the DRAM output: sharded over as many DRAM banks
/// (at most 6) as divide the tile rows; the L1 input over as many cores (at most 8).
fn memory_configs(narrow: Option<u32>) -> Result<MemoryConfigs, String> {
    let tile_rows = ROWS / 32;
    let divisor = |most: u32| (1..=most).rev().find(|c| tile_rows % c == 0).unwrap_or(1);
    let dram = |cols| {
        memory_config_for_persistent_dram_tensor(
            [1, 1, ROWS, cols],
            MemoryLayout::HeightSharded,
            (divisor(6), 1),
        )
        .map_err(|e| e.to_string())
    };
    let cores = divisor(8);
    Ok(MemoryConfigs {
        l1_input: MemoryConfig {
            buffer_type: BufferType::L1,
            memory_layout: MemoryLayout::HeightSharded,
            shard: Some(ShardSpec {
                grid: CoreRange {
                    start: (0, 0),
                    end: (cores - 1, 0),
                },
                shape: [ROWS / cores, COLS],
                orientation: ShardOrientation::RowMajor,
            }),
        },
        dram_input: Some(dram(COLS)?),
        dram_output: Some(dram(narrow.unwrap_or(COLS))?),
    })
}

/// Host inputs in the device's pages: Float16_b values in ±[1, 2).
fn inputs() -> Vec<HostTensor> {
    (0..INPUTS)
        .map(|k| {
            let bytes = (0..INPUT_BYTES / 2)
                .flat_map(|i| {
                    let v = 0x3f80 | ((i + k) as u16 & 0x7f) | (((i + k) as u16 & 1) << 15);
                    v.to_le_bytes()
                })
                .collect();
            HostTensor::new(bytes, shape(), DataFormat::Float16B, TensorLayout::Tile)
        })
        .collect()
}

/// The weight of the narrow matmul in DRAM: small values, so the sums stay near 1.
fn weight(dev: &Device<LinkedChip>, narrow: u32) -> Result<Tensor, String> {
    let spec = spec([1, 1, COLS, narrow]);
    let t = dev
        .allocate_tensor(&spec, &MemoryConfig::DRAM_INTERLEAVED)
        .map_err(rt)?;
    let values: Vec<f32> = (0..COLS * narrow)
        .map(|i| ((i % 7) as f32 - 3.0) / 256.0)
        .collect();
    let h = HostTensor::from_f32(&values, spec.shape);
    let buffer = host_buffer(
        h.as_bytes().as_ptr().cast_mut(),
        h.as_bytes().len(),
        h.shape(),
        h.format(),
        h.layout(),
    );
    dev.write_tensor(0, &buffer, &t, true).map_err(rt)?;
    Ok(t)
}

// ------------------------------------------------------------------ measuring

/// The model alone on an idle device of its own, whose link is instant: what the link's
/// transfer of one input is set to take until ModelExecutor has run the model.
struct ModelAlone {
    served: Served<LinkedChip>,
    model: ModelFn,
    dram: Tensor,
    l1_input: MemoryConfig,
}

impl ModelAlone {
    fn new(w: &Workload, mems: &MemoryConfigs, x: &HostTensor) -> Result<ModelAlone, String> {
        let served = linked_device(&Arc::new(Rate(AtomicU64::new(0))))?;
        let dev = &*served.dev;
        let weight = w.narrow.map(|n| weight(dev, n)).transpose()?;
        let dram = dev
            .allocate_tensor(
                &spec(shape()),
                &mems.dram_input.unwrap_or(MemoryConfig::DRAM_INTERLEAVED),
            )
            .map_err(rt)?;
        let buffer = host_buffer(
            x.as_bytes().as_ptr().cast_mut(),
            x.as_bytes().len(),
            x.shape(),
            x.format(),
            x.layout(),
        );
        dev.write_tensor(0, &buffer, &dram, true).map_err(rt)?;
        Ok(ModelAlone {
            served,
            model: model(weight),
            dram,
            l1_input: mems.l1_input,
        })
    }

    /// The model's time per input when it runs `runs` times back to back.
    fn time(&mut self, runs: u32) -> Result<Duration, String> {
        let dev = &*self.served.dev;
        let mut l1 = dev
            .to_memory_config(0, &self.dram, &self.l1_input)
            .map_err(rt)?;
        dev.finish(0).map_err(rt)?;
        let start = Instant::now();
        for _ in 0..runs {
            let mut y = (self.model)(dev, 0, &mut l1).map_err(rt)?;
            // Freed at once: the next run's ops, on the same CQ, come after this one's.
            dev.deallocate(&mut y, true).map_err(rt)?;
        }
        dev.finish(0).map_err(rt)?;
        let t = start.elapsed() / runs;
        dev.deallocate(&mut l1, true).map_err(rt)?;
        Ok(t)
    }
}

pub fn run(plan: Plan) -> Result<(), String> {
    let xs = inputs();
    for w in WORKLOADS {
        workload(plan, &w, &xs)?;
    }
    Ok(())
}

fn workload(plan: Plan, w: &Workload, xs: &[HostTensor]) -> Result<(), String> {
    let mems = memory_configs(w.narrow)?;
    // One input's transfer takes as long as the model: its programs' time per input in
    // ModelExecutor (the executor every ratio is to), the median over the rounds so far; the
    // model alone sets the first round's. The median follows a lasting change in the
    // machine's load but not one slow or fast moment.
    let alone = ModelAlone::new(w, &mems, &xs[0])?.time(INPUTS as u32)?;
    let rate = Arc::new(Rate(AtomicU64::new(0)));
    rate.set(INPUT_BYTES, alone);

    let mut served = Vec::new();
    let mut pipes = Vec::new();
    for kind in ExecutorKind::ALL {
        let s = linked_device(&rate)?;
        let weight = w.narrow.map(|n| weight(&s.dev, n)).transpose()?;
        let mut p = Pipeline::new(Arc::clone(&s.dev), kind.config(), model(weight), mems)
            .map_err(|e| format!("{kind}: {e}"))?;
        p.compile(&xs[0]).map_err(|e| format!("{kind}: {e}"))?;
        p.preallocate_output_tensors_on_host(xs.len())
            .map_err(|e| format!("{kind}: {e}"))?;
        pipes.push(p);
        served.push(s);
    }

    // Per executor and timed round: the round's wall time and its programs' time.
    let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); pipes.len()];
    let mut programs: Vec<Vec<Duration>> = vec![Vec::new(); pipes.len()];
    // ModelExecutor's programs' time per input, every round.
    let mut model_times = Vec::new();
    let started = Instant::now();
    let (mut done, mut timed) = (0, 0);
    while done < plan.warmup || plan.more(timed, started) {
        let keep = done >= plan.warmup;
        for k in 0..pipes.len() {
            let which = (done + k) % pipes.len();
            let (p, chip) = (&mut pipes[which], served[which].dev.chip());
            let before = chip.program_time();
            let start = Instant::now();
            p.enqueue(xs).map_err(|e| e.to_string())?;
            p.pop_all().map_err(|e| e.to_string())?;
            let t = start.elapsed();
            let busy = chip.program_time() - before;
            if which == 0 {
                model_times.push(busy / xs.len() as u32);
            }
            if keep {
                samples[which].push(t);
                programs[which].push(busy);
            }
        }
        rate.set(INPUT_BYTES, median(&model_times));
        timed += keep as usize;
        done += 1;
    }
    let reference = pipes[0].pop_all().map_err(|e| e.to_string())?.to_vec();
    for p in &mut pipes[1..] {
        if p.pop_all().map_err(|e| e.to_string())? != reference.as_slice() {
            return Err(format!(
                "{}: {} computed other outputs than ModelExecutor",
                w.name,
                p.executor()
            ));
        }
    }

    let out_bytes = reference[0].as_bytes().len();
    let model_time = median(&model_times);
    let ns_per_byte = model_time.as_secs_f64() * 1e9 / INPUT_BYTES as f64;
    let link_gbs = 1.0 / ns_per_byte;
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    outln!(
        "pipeline/{}: [1,1,{ROWS},{COLS}] Float16_b in ({} KiB), {} KiB out; model: {OPS} \
         elementwise ops{} into L1, {:.0} us per input in ModelExecutor ({:.0} us alone, \
         {INPUTS} runs back to back); link {:.3} GB/s each way (set every round so that an \
         input crosses in the median of the model's times in ModelExecutor so far), so an \
         input crosses in {:.0} us and an output in {:.0} us; {INPUTS} inputs per enqueue; \
         medians of {timed} rounds (ratios: of the rounds' own ratios), worker threads, {cpus} \
         CPUs",
        w.name,
        INPUT_BYTES >> 10,
        out_bytes >> 10,
        if w.narrow.is_some() {
            format!(" then a matmul to {NARROW} columns")
        } else {
            String::new()
        },
        us(model_time),
        us(alone),
        link_gbs,
        INPUT_BYTES as f64 * ns_per_byte / 1e3,
        out_bytes as f64 * ns_per_byte / 1e3,
    );
    outln!(
        "pipeline/{}: {:<42} {:>9} {:>9} {:>9} {:>8}  goal",
        w.name,
        "executor",
        "us/input",
        "inputs/s",
        "chip us",
        "x Model"
    );
    // What each executor could reach if only the link and the model took time (reshards,
    // events and dispatch free): the model m, an input's crossing i, an output's o.
    let (m, i, o) = (
        model_time.as_secs_f64(),
        INPUT_BYTES as f64 * ns_per_byte / 1e9,
        out_bytes as f64 * ns_per_byte / 1e9,
    );
    let serial = i + m + o;
    let ideal = |kind: ExecutorKind| {
        serial
            / match kind {
                ExecutorKind::Model | ExecutorKind::TracedModel => serial,
                // The next write waits until the model has run.
                ExecutorKind::MultiCqModelOverlappedInput => m + i.max(o),
                // The next write overlaps the model and the read.
                ExecutorKind::MultiCqTracedModelOverlappedInput => i.max(m + o),
                // CQ 0 runs the model only; CQ 1 writes and reads.
                ExecutorKind::MultiCqTracedModelPipelinedIo => m.max(i + o),
            }
    };
    // A ratio is the median over rounds of that round's ratio. The executors of one round run
    // back to back, within about a second; the machine's speed moves by half between rounds,
    // so a ratio of two medians taken from different rounds would mix speeds.
    let paired = |num: usize, den: usize| -> f64 {
        let mut r: Vec<f64> = samples[num]
            .iter()
            .zip(&samples[den])
            .map(|(a, b)| a.as_secs_f64() / b.as_secs_f64())
            .collect();
        r.sort_unstable_by(f64::total_cmp);
        r[r.len() / 2]
    };
    for (k, (kind, s)) in ExecutorKind::ALL.iter().zip(&samples).enumerate() {
        let per_input = |d: Duration| us(d) / xs.len() as f64;
        let goal = match (kind, w.narrow) {
            (ExecutorKind::Model, _) => "baseline".to_string(),
            (ExecutorKind::MultiCqTracedModelOverlappedInput, Some(_)) => ">= 1.7x".to_string(),
            (ExecutorKind::MultiCqTracedModelPipelinedIo, None) => format!(
                ">= MultiCQTracedModelOverlappedInput ({:.2}x of it)",
                paired(3, k)
            ),
            _ => String::new(),
        };
        outln!(
            "pipeline/{}: {:<42} {:>9.0} {:>9.0} {:>9.0} {:>7.2}x  (ideal {:.2}x) {goal}",
            w.name,
            kind.name(),
            per_input(median(s)),
            xs.len() as f64 / median(s).as_secs_f64(),
            per_input(median(&programs[k])),
            paired(0, k),
            ideal(*kind),
        );
    }
    drop(pipes);
    drop(served);
    Ok(())
}
