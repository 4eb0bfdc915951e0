//! Trace capture with a persistent L1 input (TT-Metal's "L1 input" trace pattern).
//!
//! The trace reads its input at the address the L1 input had during capture, so the persistent
//! input every replay reshards into must be allocated at that same address. TT-CNN gets there
//! by the allocator's determinism: it records the address, force-frees the warm-up output (it
//! would otherwise hold the L1 the input needs), captures the model, frees the capture's input
//! and allocates the persistent one, which lands where the freed one was; it checks that it
//! did.

use crate::hal::layout::TensorLayout;
use crate::hal::Chip;
use crate::runtime::{Device, Tensor};

use super::super::error::PipelineError;
use super::super::host::OutputSpec;
use super::super::model::{run_model, Model};
use super::Temp;

/// What a capture leaves: the trace, the output tensor its replays write and the persistent
/// L1 input they read.
#[derive(Debug)]
pub(crate) struct Captured {
    pub trace_id: u32,
    pub output: Tensor,
    pub l1_input: Tensor,
}

/// The compile of an executor whose L1 input comes from its DRAM input: a warm-up run on one
/// L1 input made by `l1_input` (it fills the program cache and gives the output's spec, in
/// `host_layout` on the host), then the capture on another.
pub(super) fn warm_up_and_capture<'d, C: Chip, M: Model<C>>(
    dev: &'d Device<C>,
    model: &mut M,
    cq: u8,
    host_layout: TensorLayout,
    mut l1_input: impl FnMut() -> Result<Temp<'d, C>, PipelineError>,
) -> Result<(OutputSpec, Captured), PipelineError> {
    let mut l1 = l1_input()?;
    let warm = Temp::new(dev, run_model(model, dev, cq, l1.get())?);
    l1.free()?;
    let spec = OutputSpec::of(&warm.tensor, host_layout);
    let captured = capture(dev, model, cq, l1_input()?, warm)?;
    dev.synchronize()?;
    Ok((spec, captured))
}

/// Captures `model` on `cq`. `l1` is the L1 input just made from the sample (the model's warm
/// up ran on one like it), `warm` the warm-up's output.
pub(super) fn capture<C: Chip, M: Model<C>>(
    dev: &Device<C>,
    model: &mut M,
    cq: u8,
    mut l1: Temp<'_, C>,
    warm: Temp<'_, C>,
) -> Result<Captured, PipelineError> {
    let expected = l1.get().address();
    let (spec, mem) = (l1.get().spec(), l1.get().memory_config());
    warm.free()?;
    let trace_id = dev.begin_trace_capture(cq)?;
    let captured = (|| {
        let output = Temp::new(dev, run_model(model, dev, cq, l1.get())?);
        l1.free()?;
        // Allocated before the end of capture, so that it does not warn about allocating while
        // a trace lives (it is allocated exactly where the trace expects it).
        let input = Temp::new(dev, dev.allocate_tensor(&spec, &mem)?);
        Ok::<_, PipelineError>((output, input))
    })();
    let end = dev.end_trace_capture(cq, trace_id);
    let (output, input) = match (captured, end) {
        (Ok(tensors), Ok(())) => tensors,
        (Err(e), end) => {
            if end.is_ok() {
                let _ = dev.release_trace(trace_id);
            }
            return Err(e);
        }
        (Ok(_), Err(e)) => return Err(e.into()),
    };
    let got = input.tensor.address();
    if got != expected {
        let _ = dev.release_trace(trace_id);
        return Err(PipelineError::L1AddressMismatch { expected, got });
    }
    Ok(Captured {
        trace_id,
        output: output.take(),
        l1_input: input.take(),
    })
}
