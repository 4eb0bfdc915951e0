//! The five executors of TT-CNN. Each runs the same model; they differ in where inputs are
//! written, whether the model is replayed from a trace, and how the two command queues are
//! ordered by events. `notes/metal-dispatch.md` ("TT-CNN pipeline") has the sequences.
//!
//! An executor enqueues, for every input, the commands that bring it to the device, run the
//! model and read the output into the host tensor the pipeline gives it; it never waits for the
//! device (the pipeline synchronizes in `pop_all`).

mod capture;
mod model;
mod multi_cq_model;
mod multi_cq_traced;
mod pipelined_io;
mod traced;

use crate::hal::layout::TensorLayout;
use crate::hal::Chip;
use crate::runtime::{Device, HostBuffer, MemoryConfig, Tensor, TensorSpec};

use super::config::{ExecutorKind, MemoryConfigs};
use super::error::PipelineError;
use super::host::{HostTensor, OutputSpec};
use super::model::Model;

pub(crate) use capture::Captured;

/// One of the five executors, with the device state it keeps between calls.
#[allow(clippy::large_enum_variant)] // one per pipeline, never moved on the hot path
pub(crate) enum Executor {
    Model(model::ModelExecutor),
    TracedModel(traced::TracedModelExecutor),
    MultiCqModelOverlappedInput(multi_cq_model::MultiCqModelOverlappedInputExecutor),
    MultiCqTracedModelOverlappedInput(multi_cq_traced::MultiCqTracedModelOverlappedInputExecutor),
    MultiCqTracedModelPipelinedIo(pipelined_io::MultiCqTracedModelPipelinedIoExecutor),
}

/// What every executor is built from: the device input's spec (the sample's shape and format,
/// in tiles) and the memory configs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Setup {
    pub input: TensorSpec,
    pub mems: MemoryConfigs,
    /// The layout host outputs come back in (the inputs').
    pub host_layout: TensorLayout,
}

impl Setup {
    /// The DRAM input config (checked present by `select_executor` for the executors that use
    /// it).
    fn dram_input(&self) -> MemoryConfig {
        self.mems
            .dram_input
            .unwrap_or(MemoryConfig::DRAM_INTERLEAVED)
    }

    fn dram_output(&self) -> MemoryConfig {
        self.mems
            .dram_output
            .unwrap_or(MemoryConfig::DRAM_INTERLEAVED)
    }
}

impl Executor {
    pub fn new(kind: ExecutorKind, setup: Setup) -> Executor {
        match kind {
            ExecutorKind::Model => Executor::Model(model::ModelExecutor::new(setup)),
            ExecutorKind::TracedModel => {
                Executor::TracedModel(traced::TracedModelExecutor::new(setup))
            }
            ExecutorKind::MultiCqModelOverlappedInput => Executor::MultiCqModelOverlappedInput(
                multi_cq_model::MultiCqModelOverlappedInputExecutor::new(setup),
            ),
            ExecutorKind::MultiCqTracedModelOverlappedInput => {
                Executor::MultiCqTracedModelOverlappedInput(
                    multi_cq_traced::MultiCqTracedModelOverlappedInputExecutor::new(setup),
                )
            }
            ExecutorKind::MultiCqTracedModelPipelinedIo => Executor::MultiCqTracedModelPipelinedIo(
                pipelined_io::MultiCqTracedModelPipelinedIoExecutor::new(setup),
            ),
        }
    }

    /// Warms the model up (and captures its trace): what one output looks like on the host.
    /// On failure everything compile allocated is released again.
    pub fn compile<C: Chip, M: Model<C>>(
        &mut self,
        dev: &Device<C>,
        model: &mut M,
        sample: &HostBuffer,
    ) -> Result<OutputSpec, PipelineError> {
        let r = match self {
            Executor::Model(e) => e.compile(dev, model, sample),
            Executor::TracedModel(e) => e.compile(dev, model, sample),
            Executor::MultiCqModelOverlappedInput(e) => e.compile(dev, model, sample),
            Executor::MultiCqTracedModelOverlappedInput(e) => e.compile(dev, model, sample),
            Executor::MultiCqTracedModelPipelinedIo(e) => e.compile(dev, model, sample),
        };
        if r.is_err() {
            let _ = dev.synchronize();
            let _ = self.release(dev);
        }
        r
    }

    /// Enqueues input `input(i)` for every slot `i` of `outputs`, each output read into its
    /// slot; `issued` counts the reads enqueued (the slots the device will fill).
    pub fn execute<C: Chip, M: Model<C>>(
        &mut self,
        dev: &Device<C>,
        model: &mut M,
        input: &dyn Fn(usize) -> HostBuffer,
        outputs: &mut [HostTensor],
        issued: &mut usize,
    ) -> Result<(), PipelineError> {
        match self {
            Executor::Model(e) => e.execute(dev, model, input, outputs, issued),
            Executor::TracedModel(e) => e.execute(dev, input, outputs, issued),
            Executor::MultiCqModelOverlappedInput(e) => {
                e.execute(dev, model, input, outputs, issued)
            }
            Executor::MultiCqTracedModelOverlappedInput(e) => {
                e.execute(dev, input, outputs, issued)
            }
            Executor::MultiCqTracedModelPipelinedIo(e) => e.execute(dev, input, outputs, issued),
        }
    }

    /// Releases the trace and the device tensors the executor keeps (the device must be
    /// synchronized first: replays and reads in flight use them). Returns the first failure,
    /// after trying everything.
    pub fn release<C: Chip>(&mut self, dev: &Device<C>) -> Result<(), PipelineError> {
        let mut r = Release::default();
        match self {
            Executor::Model(_) => {}
            Executor::TracedModel(e) => e.release(dev, &mut r),
            Executor::MultiCqModelOverlappedInput(e) => e.release(dev, &mut r),
            Executor::MultiCqTracedModelOverlappedInput(e) => e.release(dev, &mut r),
            Executor::MultiCqTracedModelPipelinedIo(e) => e.release(dev, &mut r),
        }
        r.result()
    }

    /// The trace the executor replays, if it has captured one.
    pub fn trace_id(&self) -> Option<u32> {
        let captured = match self {
            Executor::TracedModel(e) => e.captured.as_ref(),
            Executor::MultiCqTracedModelOverlappedInput(e) => e.captured.as_ref(),
            Executor::MultiCqTracedModelPipelinedIo(e) => e.captured.as_ref(),
            _ => None,
        };
        captured.map(|c| c.trace_id)
    }
}

/// The first failure of a release that goes on past failures.
#[derive(Default)]
pub(crate) struct Release {
    first: Option<PipelineError>,
}

impl Release {
    fn note(&mut self, r: Result<(), crate::runtime::RuntimeError>) {
        if let Err(e) = r {
            self.first.get_or_insert(PipelineError::Device(e));
        }
    }

    /// Frees `t` if it holds a buffer.
    fn free<C: Chip>(&mut self, dev: &Device<C>, t: &mut Option<Tensor>) {
        if let Some(mut t) = t.take() {
            if t.is_allocated() {
                self.note(dev.deallocate(&mut t, true));
            }
        }
    }

    fn trace<C: Chip>(&mut self, dev: &Device<C>, captured: &mut Option<Captured>) {
        if let Some(mut c) = captured.take() {
            self.note(dev.release_trace(c.trace_id));
            if c.output.is_allocated() {
                self.note(dev.deallocate(&mut c.output, true));
            }
            if c.l1_input.is_allocated() {
                self.note(dev.deallocate(&mut c.l1_input, true));
            }
        }
    }

    fn result(self) -> Result<(), PipelineError> {
        self.first.map_or(Ok(()), Err)
    }
}

/// Frees `t` if the model left it allocated.
fn free_if_allocated<C: Chip>(dev: &Device<C>, t: &mut Tensor) -> Result<(), PipelineError> {
    if t.is_allocated() {
        dev.deallocate(t, true)?;
    }
    Ok(())
}

/// Enqueues a non-blocking read of `src` into `dst` on `cq`.
fn read_into<C: Chip>(
    dev: &Device<C>,
    cq: u8,
    src: &Tensor,
    dst: &mut HostTensor,
) -> Result<(), PipelineError> {
    // SAFETY: `dst`'s bytes belong to the pipeline, which neither touches nor frees them before
    // the device is synchronized (pop_all, cleanup, drop).
    unsafe { dev.read_tensor(cq, src, dst.buffer_mut(), false) }?;
    Ok(())
}

/// The enqueue of an untraced executor: for every slot `i`, `run_one(i)` runs the model on
/// input `i`; its output, which the executor does not keep, is read into the slot on `cq` and
/// freed (a later op on the same CQ that reuses the buffer runs after the read).
fn run_and_read_each<C: Chip>(
    dev: &Device<C>,
    cq: u8,
    outputs: &mut [HostTensor],
    issued: &mut usize,
    mut run_one: impl FnMut(usize) -> Result<Tensor, PipelineError>,
) -> Result<(), PipelineError> {
    for (i, slot) in outputs.iter_mut().enumerate() {
        let mut out = run_one(i)?;
        let read = read_into(dev, cq, &out, slot);
        let free = free_if_allocated(dev, &mut out);
        read.and(free)?;
        *issued += 1;
    }
    Ok(())
}

/// The end of an untraced compile: the spec of the warm-up run's output, which is then freed
/// once the device is done with it.
fn warm_up_spec<C: Chip>(
    dev: &Device<C>,
    setup: &Setup,
    output: Tensor,
) -> Result<OutputSpec, PipelineError> {
    let out = Temp::new(dev, output);
    let spec = OutputSpec::of(&out.tensor, setup.host_layout);
    out.free()?;
    dev.synchronize()?;
    Ok(spec)
}

/// A tensor compile made for itself: freed when dropped (on every early return) unless taken.
struct Temp<'d, C: Chip> {
    dev: &'d Device<C>,
    tensor: Tensor,
    owned: bool,
}

impl<'d, C: Chip> Temp<'d, C> {
    fn new(dev: &'d Device<C>, tensor: Tensor) -> Self {
        Temp {
            dev,
            tensor,
            owned: true,
        }
    }

    fn get(&mut self) -> &mut Tensor {
        &mut self.tensor
    }

    /// The tensor, no longer freed on drop.
    fn take(mut self) -> Tensor {
        self.owned = false;
        self.tensor
    }

    /// Frees the tensor now (if the model left it allocated).
    fn free(mut self) -> Result<(), PipelineError> {
        self.owned = false;
        free_if_allocated(self.dev, &mut self.tensor)
    }
}

impl<C: Chip> Drop for Temp<'_, C> {
    fn drop(&mut self) {
        if self.owned {
            let _ = free_if_allocated(self.dev, &mut self.tensor);
        }
    }
}
