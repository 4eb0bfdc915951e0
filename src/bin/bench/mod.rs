//! `ttrt bench`: throughput suites, each figure one plain line.
//!
//! Every suite allocates its buffers before the clock starts, warms up, and reports the median
//! of its timed runs; `formats` is single-threaded, `device` drives the device's worker threads
//! as the C API does. Figures are printed next to a baseline measured
//! in the same rounds (interleaved with them), so a noisy machine moves both alike and the
//! ratio is what to compare across machines.

mod backend;
mod bert;
mod device;
mod formats;
mod metal_pages;
mod model;
mod model_time;
mod netlist;
mod pipeline;
mod remote;

use std::process::ExitCode;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ttrt::hal::Chip;
use ttrt::runtime::{Device, DeviceConfig};

pub const USAGE: &str = "\
ttrt bench - measure host-side throughput and device overheads

Usage:
  ttrt bench [SUITE...] [--quick]

Suites (all of them when none is named):
  formats   tilize/untilize of a 1024x1024 float32 tensor (Float16_b, Bfp8_b)
            against a memcpy of the same 4 MiB; the same tensor to and from
            TT-Metal TILE pages, against ttnn's host conversion when
            TTRT_BENCH_PYTHON names a Python with ttnn (with
            TT_METAL_MOCK_CLUSTER_DESC_PATH set for its device context)
  device    host cost of enqueueing an op (against a record copy) and of replaying
            traces of 1-1000 ops; 2-CQ overlapped input against 1 CQ; a cross-CQ
            event round trip against an atomic ping-pong between two threads
  netlist   parse + validate of a generated 1 MB BERT-like netlist against
            std::fs::read of the same file
  backend   a push -> run_program -> get_output -> pop cycle of a 1024x1024
            Float16_b datacopy netlist against tilize + untilize alone; the
            digits model's inferences/s and where its time goes
  pipeline  the five TT-CNN executors on a model of many small ops whose input
            and output transfers take about as long as the model: each
            executor's throughput against ModelExecutor
  model     a generated 24-layer BERT-large encoder (hidden 1024, feed-forward
            4096) end to end: at sequence 384 through the backend, time per
            inference against numpy's float32 forward pass of the same computation
            (skipped without numpy); at sequence 128 by `ttrt run` in a child, its
            peak RSS against the model's bytes in queue formats
            (TTRT_BENCH_MODEL_LAYERS=N: the time figure over N layers alone)
  remote    the simulated chip in a device process (ttrt sim-device, shared
            memory) against the same chip in process: the backend datacopy
            cycle with 1 MiB entries; one command's round trip against an
            atomic ping-pong between two processes

Options:
  --quick   fewer runs (a smoke test; the figures are rough)
  --help    print this help

Each figure is one line: its value and its ratio to the baseline, with the goal.";

/// How much to measure.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    /// Untimed rounds first (page faults, caches, branch predictors, CPU clocks).
    pub warmup: usize,
    /// Timed rounds; each figure reports the median over them.
    pub runs: usize,
    /// A suite stops early (after at least `MIN_RUNS` timed rounds) once it has spent this
    /// long, so a slow machine or an unoptimized build still finishes.
    pub budget: Duration,
}

impl Plan {
    pub const MIN_RUNS: usize = 3;
    const FULL: Plan = Plan {
        warmup: 5,
        runs: 40,
        budget: Duration::from_secs(8),
    };
    const QUICK: Plan = Plan {
        warmup: 1,
        runs: 3,
        budget: Duration::from_secs(8),
    };

    /// Whether to take another timed round after `done` of them, `started` at the suite start.
    pub fn more(&self, done: usize, started: Instant) -> bool {
        done < self.runs && (done < Self::MIN_RUNS || started.elapsed() < self.budget)
    }
}

struct Suite {
    name: &'static str,
    run: fn(Plan) -> Result<(), String>,
}

const SUITES: &[Suite] = &[
    Suite {
        name: "formats",
        run: formats::run,
    },
    Suite {
        name: "device",
        run: device::run,
    },
    Suite {
        name: "netlist",
        run: netlist::run,
    },
    Suite {
        name: "backend",
        run: backend::run,
    },
    Suite {
        name: "pipeline",
        run: pipeline::run,
    },
    Suite {
        name: "model",
        run: model::run,
    },
    Suite {
        name: "remote",
        run: remote::run,
    },
];

/// `ttrt bench ARGS...` (the arguments after `bench`).
pub fn main(args: &[String]) -> ExitCode {
    let mut plan = Plan::FULL;
    let mut chosen: Vec<&Suite> = Vec::new();
    for arg in args {
        match arg.as_str() {
            "--help" | "-h" => {
                outln!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            "--quick" => plan = Plan::QUICK,
            flag if flag.starts_with('-') => {
                eprintln!("ttrt bench: unknown option `{flag}`; see `ttrt bench --help`");
                return ExitCode::from(2);
            }
            name => match SUITES.iter().find(|s| s.name == name) {
                Some(suite) => {
                    if !chosen.iter().any(|c| c.name == suite.name) {
                        chosen.push(suite);
                    }
                }
                None => {
                    let known: Vec<&str> = SUITES.iter().map(|s| s.name).collect();
                    eprintln!(
                        "ttrt bench: unknown suite `{name}` (suites: {})",
                        known.join(", ")
                    );
                    return ExitCode::from(2);
                }
            },
        }
    }
    if chosen.is_empty() {
        chosen = SUITES.iter().collect();
    }
    for suite in chosen {
        crate::progress::status(&format!("ttrt bench: measuring {}", suite.name));
        let result = (suite.run)(plan);
        crate::progress::clear();
        if let Err(e) = result {
            eprintln!("ttrt bench: {}: {e}", suite.name);
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

/// Wall time of one call of `f`.
#[inline(never)]
pub fn time<E>(f: &mut dyn FnMut() -> Result<(), E>) -> Result<Duration, E> {
    let start = Instant::now();
    f()?;
    Ok(start.elapsed())
}

/// The median of `samples` (the mean of the middle two for an even count).
pub fn median(samples: &[Duration]) -> Duration {
    assert!(!samples.is_empty(), "no samples");
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2
    }
}

/// Decimal gigabytes per second.
pub fn gb_per_s(bytes: usize, elapsed: Duration) -> f64 {
    bytes as f64 / elapsed.as_secs_f64().max(1e-12) / 1e9
}

/// A device driven the way `ttrt_device_open` drives it: one worker thread per CQ, named
/// `{name}-cq{n}`; with `pinned`, CQ n's worker runs on CPU n (modulo the CPUs there are) and
/// polls for events before sleeping, as with `ttrt_device_config.pin_workers`. Dropping it
/// drains the queues (reads still queued write into host buffers: they land before those are
/// freed), then stops and joins the workers.
pub struct Served<C: Chip + 'static> {
    pub dev: Arc<Device<C>>,
    workers: Vec<JoinHandle<()>>,
}

impl<C: Chip + 'static> Served<C> {
    pub fn open(
        config: DeviceConfig,
        chip: C,
        name: &str,
        pinned: bool,
    ) -> Result<Served<C>, String> {
        let dev = Arc::new(Device::new(config, chip).map_err(|e| e.to_string())?);
        dev.set_threaded(true);
        if pinned {
            dev.set_event_poll(ttrt::affinity::PINNED_EVENT_POLL_US);
        }
        let mut served = Served {
            dev,
            workers: Vec::new(),
        };
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
        for cq in 0..config.num_command_queues {
            let dev = Arc::clone(&served.dev);
            let worker = std::thread::Builder::new()
                .name(format!("{name}-cq{cq}"))
                .spawn(move || dev.serve(cq))
                .map_err(|e| format!("cannot start the worker thread of CQ {cq}: {e}"))?;
            let pin = pinned.then(|| {
                ttrt::affinity::pin(&worker, u32::from(cq) % cpus, "CPU").map_err(|e| e.to_string())
            });
            served.workers.push(worker);
            pin.transpose()?;
        }
        Ok(served)
    }
}

impl<C: Chip + 'static> Drop for Served<C> {
    fn drop(&mut self) {
        let _ = self.dev.synchronize();
        self.dev.stop();
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}
