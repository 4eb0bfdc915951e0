//! TT-CNN pipelines: a model run over a stream of host inputs for end-to-end throughput, by one
//! of five executors that combine traces and two command queues
//! (`reference/tt-cnn-pipeline.md`; upstream `models/tt_cnn/tt/pipeline.py` and
//! `executor.py`).
//!
//! ```text
//! config (use_trace, CQs, separate IO queue)  executor
//! no trace, 1 CQ                              ModelExecutor
//! trace, 1 CQ                                 TracedModelExecutor                        needs a DRAM input config
//! no trace, 2 CQs                             MultiCQModelOverlappedInputExecutor        needs a DRAM input config
//! trace, 2 CQs                                MultiCQTracedModelOverlappedInputExecutor  needs a DRAM input config
//! trace, 2 CQs, all transfers on CQ 1         MultiCQTracedModelPipelinedIOExecutor      also a DRAM output config; >= 2 inputs per enqueue
//! ```
//!
//! A pipeline is created with a config, a model and memory configs; `compile(sample)` warms the
//! model up (and captures its trace); `enqueue(inputs)` enqueues every input and the read of its
//! output without waiting; `pop_all()` synchronizes and returns one output per input enqueued
//! since the last `pop_all`, in order; `cleanup()` releases the trace and the device tensors.
//!
//! Where ttrt decides what upstream leaves open:
//! - The device input is the sample's shape and data format in TILE layout (device ops run on
//!   tiles): a ROW_MAJOR host input is tilized by its write, a TILE one copied as it is. Outputs
//!   come back in the layout the sample came in ([`OutputSpec`]).
//! - Outputs of several `enqueue`s add up until `pop_all` (upstream drops the earlier ones);
//!   with pre-allocated outputs they must fit the slots together, and `pop_all` returns the
//!   outputs of those inputs, not every slot.
//! - Output buffers are reused by the enqueue after a `pop_all`, pre-allocated or not, so a
//!   steady state allocates nothing once the pool is as large as a round; pre-allocation makes
//!   that hold from the first round.

mod config;
mod error;
mod executor;
mod host;
mod model;

use alloc::vec::Vec;
use core::ops::Deref;

use crate::format::check_extent;
use crate::hal::layout::{
    persistent_dram_memory_config, BankGeometry, BufferLayout, LayoutError, MemoryLayout,
    TensorLayout,
};
use crate::hal::Chip;
use crate::runtime::{Device, HostBuffer, MemoryConfig, RuntimeError, TensorSpec, WaitCancel};

pub use config::{select_executor, ExecutorKind, MemoryConfigs, PipelineConfig};
pub use error::{ConfigError, InputDescription, PipelineError};
pub use host::{host_buffer, HostTensor, OutputSpec};
pub use model::Model;

use executor::{Executor, Setup};

/// TT-CNN's `get_memory_config_for_persistent_dram_tensor`: the tensor sharded over a 1-D DRAM
/// grid `(x, 1)`, height- or width-sharded over as many banks (at most `x`) as divide the
/// sharded dimension evenly. A `(2, 1)` grid and a 64x64 tensor give `[64, 32]` width-sharded
/// and `[32, 64]` height-sharded; a grid with more than one row is an error.
pub fn memory_config_for_persistent_dram_tensor(
    shape: [u32; 4],
    shard_strategy: MemoryLayout,
    dram_grid: (u32, u32),
) -> Result<MemoryConfig, LayoutError> {
    let (memory_layout, shard) = persistent_dram_memory_config(shape, shard_strategy, dram_grid)?;
    Ok(MemoryConfig {
        buffer_type: crate::runtime::allocator::BufferType::Dram,
        memory_layout,
        shard: Some(shard),
    })
}

/// What inputs must look like: the sample's.
#[derive(Clone, Copy, Debug)]
struct InputSpec {
    shape: [usize; 4],
    format: crate::format::DataFormat,
    tiled: bool,
    /// Bytes a TILE input holds (its pages).
    tile_bytes: usize,
}

impl InputSpec {
    fn layout(&self) -> TensorLayout {
        if self.tiled {
            TensorLayout::Tile
        } else {
            TensorLayout::RowMajor
        }
    }

    fn check(&self, index: usize, h: &HostBuffer) -> Result<(), PipelineError> {
        let mismatch = |what, expected, found| {
            Err(PipelineError::InputMismatch {
                index,
                what,
                expected,
                found,
            })
        };
        if h.shape != self.shape {
            return mismatch(
                "shape",
                InputDescription::Shape(self.shape),
                InputDescription::Shape(h.shape),
            );
        }
        if h.format != self.format {
            return mismatch(
                "data format",
                InputDescription::Format(self.format),
                InputDescription::Format(h.format),
            );
        }
        if h.tiled != self.tiled {
            let layout = |tiled| {
                InputDescription::Layout(if tiled {
                    TensorLayout::Tile
                } else {
                    TensorLayout::RowMajor
                })
            };
            return mismatch("layout", layout(self.tiled), layout(h.tiled));
        }
        check_host(h, self.tile_bytes).map_err(|found| PipelineError::InputMismatch {
            index,
            what: "size",
            expected: InputDescription::Bytes(found.1),
            found: InputDescription::Bytes(found.0),
        })?;
        if h.ptr.is_null() {
            return Err(PipelineError::Device(RuntimeError::new(
                crate::runtime::ErrorKind::InvalidArgument,
                format_args!("input {index}: data is NULL"),
            )));
        }
        Ok(())
    }
}

/// Checks that `h` holds the bytes it claims: `Err((found, needed))` if not.
fn check_host(h: &HostBuffer, tile_bytes: usize) -> Result<(), (usize, usize)> {
    if h.tiled {
        return if h.len < tile_bytes {
            Err((h.len, tile_bytes))
        } else {
            Ok(())
        };
    }
    let item = h.format.host_item_size().unwrap_or(1);
    let needed = h.shape.iter().product::<usize>() * item;
    check_extent(h.len, h.format, h.shape, h.strides, "input").map_err(|_| (h.len, needed))?;
    Ok(())
}

/// Bytes of the pages of a TILE tensor of `spec` (a tile is a page in every memory layout).
fn tile_bytes(spec: &TensorSpec) -> Result<usize, RuntimeError> {
    // One bank is enough to count pages and their size.
    let geometry = BankGeometry {
        dram_banks: 1,
        compute_grid: (1, 1),
        dram_alignment: 32,
        l1_alignment: 16,
    };
    let l = BufferLayout::new(
        spec.shape,
        spec.format,
        TensorLayout::Tile,
        crate::runtime::allocator::BufferType::Dram,
        MemoryLayout::Interleaved,
        None,
        geometry,
    )?;
    Ok(l.num_pages() as usize * l.page_size() as usize)
}

/// What a pipeline holds its device by: `&Device`, `Arc<Device>`, anything that derefs to one.
pub trait DeviceRef {
    type Chip: Chip;
    fn device(&self) -> &Device<Self::Chip>;
}

impl<C: Chip, D: Deref<Target = Device<C>>> DeviceRef for D {
    type Chip = C;
    fn device(&self) -> &Device<C> {
        self
    }
}

/// A TT-CNN pipeline on device `D`, running model `M`.
pub struct Pipeline<D: DeviceRef, M: Model<D::Chip>> {
    dev: D,
    model: M,
    config: PipelineConfig,
    kind: ExecutorKind,
    mems: MemoryConfigs,
    executor: Option<Executor>,
    input: Option<InputSpec>,
    output: Option<OutputSpec>,
    /// Output buffers: the first `pending` are the outputs enqueued since the last `pop_all`.
    outputs: Vec<HostTensor>,
    pending: usize,
    /// `pop_all` has returned the pending outputs: the next enqueue starts a new round.
    popped: bool,
    /// Pre-allocated output slots.
    slots: Option<usize>,
    cleaned_up: bool,
}

impl<C: Chip, D: DeviceRef<Chip = C>, M: Model<C>> Pipeline<D, M> {
    /// TT-CNN's `create_pipeline_from_config`: checks the config and chooses the executor.
    pub fn new(
        dev: D,
        config: PipelineConfig,
        model: M,
        mems: MemoryConfigs,
    ) -> Result<Self, PipelineError> {
        let kind = select_executor(&config, &mems)?;
        let needed = config.num_command_queues;
        let has = dev.device().num_command_queues();
        if has < needed {
            return Err(ConfigError::DeviceQueues {
                needed,
                device: dev.device().id(),
                has,
            }
            .into());
        }
        Ok(Pipeline {
            dev,
            model,
            config,
            kind,
            mems,
            executor: None,
            input: None,
            output: None,
            outputs: Vec::new(),
            pending: 0,
            popped: false,
            slots: None,
            cleaned_up: false,
        })
    }

    pub fn config(&self) -> &PipelineConfig {
        &self.config
    }

    /// The executor the config chose.
    pub fn executor(&self) -> ExecutorKind {
        self.kind
    }

    pub fn memory_configs(&self) -> &MemoryConfigs {
        &self.mems
    }

    pub fn device(&self) -> &Device<C> {
        self.dev.device()
    }

    /// What each output looks like on the host (after `compile`).
    pub fn output_spec(&self) -> Option<OutputSpec> {
        self.output
    }

    /// The trace the pipeline replays (traced executors, after `compile`, before `cleanup`).
    pub fn trace_id(&self) -> Option<u32> {
        self.executor.as_ref().and_then(Executor::trace_id)
    }

    /// Pre-allocated output slots, if any.
    pub fn preallocated_output_slots(&self) -> Option<usize> {
        self.slots
    }

    /// Compiles the model with `sample`: a warm-up run that fills the program cache, and for
    /// the traced executors the capture of the trace, with the check that the persistent L1
    /// input lands where the trace reads it.
    pub fn compile(&mut self, sample: &HostTensor) -> Result<&mut Self, PipelineError> {
        // SAFETY: the tensor owns its bytes and is borrowed for the call.
        unsafe { self.compile_with(sample.buffer()) }
    }

    /// [`Pipeline::compile`] with a host buffer.
    ///
    /// # Safety
    /// `sample.ptr` must be readable for `sample.len` bytes during the call.
    pub unsafe fn compile_with(&mut self, sample: HostBuffer) -> Result<&mut Self, PipelineError> {
        if self.cleaned_up {
            return Err(PipelineError::CleanedUp { call: "compile" });
        }
        if self.executor.is_some() {
            return Err(PipelineError::AlreadyCompiled);
        }
        let mut shape = [0u32; 4];
        for (d, &s) in shape.iter_mut().zip(&sample.shape) {
            *d = u32::try_from(s).map_err(|_| {
                RuntimeError::new(
                    crate::runtime::ErrorKind::InvalidArgument,
                    format_args!(
                        "sample shape {:?} does not fit u32 dimensions",
                        sample.shape
                    ),
                )
            })?;
        }
        let spec = TensorSpec {
            shape,
            format: sample.format,
            layout: TensorLayout::Tile,
        };
        let input = InputSpec {
            shape: sample.shape,
            format: sample.format,
            tiled: sample.tiled,
            tile_bytes: tile_bytes(&spec)?,
        };
        if let Err((found, needed)) = check_host(&sample, input.tile_bytes) {
            return Err(RuntimeError::new(
                crate::runtime::ErrorKind::InvalidArgument,
                format_args!("sample holds {found} B; its shape and format need {needed} B"),
            )
            .into());
        }
        if sample.ptr.is_null() {
            return Err(RuntimeError::new(
                crate::runtime::ErrorKind::InvalidArgument,
                format_args!("sample data is NULL"),
            )
            .into());
        }
        let mut executor = Executor::new(
            self.kind,
            Setup {
                input: spec,
                mems: self.mems,
                host_layout: input.layout(),
            },
        );
        let output = executor.compile(self.dev.device(), &mut self.model, &sample)?;
        self.executor = Some(executor);
        self.input = Some(input);
        self.output = Some(output);
        Ok(self)
    }

    /// Allocates `n` output buffers now, so that `enqueue` and `pop_all` allocate nothing; from
    /// then on the inputs enqueued between two `pop_all`s must fit in them.
    pub fn preallocate_output_tensors_on_host(
        &mut self,
        n: usize,
    ) -> Result<&mut Self, PipelineError> {
        let Some(output) = self.output else {
            return Err(PipelineError::NotCompiled {
                call: "preallocate_output_tensors_on_host",
            });
        };
        if self.pending > 0 && !self.popped {
            return Err(PipelineError::OutputsPending {
                pending: self.pending,
            });
        }
        // `n` comes from the caller: checked against the device's host memory budget, and
        // allocated fallibly, before the current outputs are given up.
        let budget = self.dev.device().host_memory_budget();
        let need = (n as u64).checked_mul(output.len as u64);
        let over = || PipelineError::HostMemory {
            outputs: n,
            len: output.len,
            need,
            budget: budget.bytes(),
        };
        if !budget.admits(need) {
            return Err(over());
        }
        let mut outputs = Vec::new();
        outputs.try_reserve_exact(n).map_err(|_| over())?;
        for _ in 0..n {
            outputs.push(output.try_allocate().ok_or_else(over)?);
        }
        self.outputs = outputs;
        self.slots = Some(n);
        self.pending = 0;
        self.popped = false;
        Ok(self)
    }

    /// Enqueues every input and the read of its output, without waiting for the device.
    pub fn enqueue(&mut self, inputs: &[HostTensor]) -> Result<&mut Self, PipelineError> {
        // SAFETY: the tensors own their bytes and are borrowed for the call.
        unsafe { self.enqueue_with(inputs.len(), &|i| inputs[i].buffer()) }
    }

    /// [`Pipeline::enqueue`] with `n` host buffers, `input(i)` for i in `0..n`. Every input
    /// is checked against the sample before anything is enqueued.
    ///
    /// # Safety
    /// Each buffer's `ptr` must be readable for its `len` bytes during the call (writes copy
    /// the bytes before they return).
    pub unsafe fn enqueue_with(
        &mut self,
        n: usize,
        input: &dyn Fn(usize) -> HostBuffer,
    ) -> Result<&mut Self, PipelineError> {
        if self.cleaned_up {
            return Err(PipelineError::CleanedUp { call: "enqueue" });
        }
        let (Some(spec), Some(output), Some(executor)) =
            (self.input, self.output, self.executor.as_mut())
        else {
            return Err(PipelineError::NotCompiled { call: "enqueue" });
        };
        if n < self.kind.min_inputs() {
            return Err(PipelineError::TooFewInputs {
                found: n,
                min: self.kind.min_inputs(),
            });
        }
        if self.popped {
            self.pending = 0;
            self.popped = false;
        }
        let total = self.pending + n;
        if let Some(slots) = self.slots {
            if total > slots {
                return Err(PipelineError::TooManyInputs {
                    inputs: total,
                    slots,
                });
            }
        }
        for i in 0..n {
            spec.check(i, &input(i))?;
        }
        while self.outputs.len() < total {
            self.outputs.push(output.allocate());
        }
        let mut issued = 0;
        let r = executor.execute(
            self.dev.device(),
            &mut self.model,
            input,
            &mut self.outputs[self.pending..total],
            &mut issued,
        );
        self.pending += issued;
        r?;
        Ok(self)
    }

    /// Waits for the device, then returns the outputs of every input enqueued since the last
    /// `pop_all`, in order.
    pub fn pop_all(&mut self) -> Result<&[HostTensor], PipelineError> {
        let synced = self.dev.device().synchronize();
        if !self.popped {
            self.popped = true;
        }
        synced?;
        Ok(&self.outputs[..self.pending])
    }

    /// [`Pipeline::pop_all`] whose wait for the device ends once `cancel` has a request (another
    /// thread cleaning the pipeline up): it then fails with
    /// [`PipelineError::CancelledByCleanup`] and changes nothing (the outputs stay pending;
    /// the commands enqueued keep running).
    pub fn pop_all_or_cancel(
        &mut self,
        cancel: &WaitCancel,
    ) -> Result<&[HostTensor], PipelineError> {
        let synced = self.dev.device().synchronize_or_cancel(cancel);
        if let Err(e) = &synced {
            if e.kind == crate::runtime::ErrorKind::Cancelled && cancel.requested() {
                return Err(PipelineError::CancelledByCleanup);
            }
        }
        if !self.popped {
            self.popped = true;
        }
        synced?;
        Ok(&self.outputs[..self.pending])
    }

    /// Waits for the device, then releases the trace and the pipeline's device tensors. The
    /// outputs already enqueued can still be popped; nothing more can be enqueued.
    pub fn cleanup(&mut self) -> Result<(), PipelineError> {
        if self.cleaned_up {
            return Ok(());
        }
        self.cleaned_up = true;
        let synced = self.dev.device().synchronize();
        let released = match self.executor.as_mut() {
            Some(e) => e.release(self.dev.device()),
            None => Ok(()),
        };
        synced?;
        released
    }
}

impl<D: DeviceRef, M: Model<D::Chip>> Drop for Pipeline<D, M> {
    fn drop(&mut self) {
        // Reads in flight fill output buffers that go with the pipeline: cleanup waits for them.
        let _ = self.cleanup();
    }
}
