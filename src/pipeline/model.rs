//! The model a pipeline runs: a function of the device, the command queue to enqueue on and the
//! L1 input tensor, returning the output tensor.

use crate::hal::Chip;
use crate::runtime::{Device, RuntimeError, Tensor};

use super::error::PipelineError;

/// A model: enqueues device ops on `cq` that read `input` (a tensor in L1) and returns the
/// output tensor, a new tensor the pipeline then owns. The model may deallocate `input` (as
/// TT-NN models do after their first op) but not keep it.
///
/// In the traced executors the model runs twice at compile (a warm-up that fills the program
/// cache, then the capture) and never again: replays re-run what it enqueued. During the
/// capture it may only enqueue ops and allocate or deallocate tensors (no reads, writes or
/// events).
pub trait Model<C: Chip> {
    fn run(&mut self, dev: &Device<C>, cq: u8, input: &mut Tensor) -> Result<Tensor, RuntimeError>;
}

impl<C: Chip, F> Model<C> for F
where
    F: FnMut(&Device<C>, u8, &mut Tensor) -> Result<Tensor, RuntimeError>,
{
    fn run(&mut self, dev: &Device<C>, cq: u8, input: &mut Tensor) -> Result<Tensor, RuntimeError> {
        self(dev, cq, input)
    }
}

/// Runs the model on `input` and checks that what it returned is a tensor of its own.
pub(crate) fn run_model<C: Chip, M: Model<C>>(
    model: &mut M,
    dev: &Device<C>,
    cq: u8,
    input: &mut Tensor,
) -> Result<Tensor, PipelineError> {
    let out = model.run(dev, cq, input).map_err(PipelineError::Model)?;
    let same_buffer = out.address() == input.address()
        && out.memory_config().buffer_type == input.memory_config().buffer_type;
    if input.is_allocated() && same_buffer {
        return Err(PipelineError::ModelReturnedInput);
    }
    Ok(out)
}
