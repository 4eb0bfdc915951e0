//! MultiCQModelOverlappedInputExecutor: two command queues, no trace. CQ 1 writes each input
//! into the persistent DRAM input while CQ 0 still runs the model on the previous one; CQ 0
//! reshards it into a new L1 tensor, runs the model, signals that the DRAM input may be
//! overwritten and reads the output.
//!
//! Per input: W(1, op_event), write on CQ 1, write_event = R(1), W(0, write_event), reshard,
//! model, op_event = R(0), read on CQ 0. At compile a dummy op_event = R(0) comes first.

use crate::hal::Chip;
use crate::runtime::{Device, Event, HostBuffer, Tensor};

use super::super::error::PipelineError;
use super::super::host::{HostTensor, OutputSpec};
use super::super::model::{run_model, Model};
use super::{run_and_read_each, warm_up_spec, Release, Setup, Temp};

const CQ_OPS_AND_OUTPUT_READ: u8 = 0;
const CQ_INPUT_WRITE: u8 = 1;

pub(crate) struct MultiCqModelOverlappedInputExecutor {
    setup: Setup,
    dram_input: Option<Tensor>,
    op_event: Option<Event>,
}

impl MultiCqModelOverlappedInputExecutor {
    pub fn new(setup: Setup) -> Self {
        MultiCqModelOverlappedInputExecutor {
            setup,
            dram_input: None,
            op_event: None,
        }
    }

    fn run_one<C: Chip, M: Model<C>>(
        &mut self,
        dev: &Device<C>,
        model: &mut M,
        x: &HostBuffer,
    ) -> Result<Tensor, PipelineError> {
        let (Some(dram), Some(op_event)) = (&self.dram_input, &self.op_event) else {
            return Err(PipelineError::NotCompiled { call: "enqueue" });
        };
        dev.wait_for_event(CQ_INPUT_WRITE, op_event)?;
        dev.write_tensor(CQ_INPUT_WRITE, x, dram, false)?;
        let write_event = dev.record_event(CQ_INPUT_WRITE)?;
        dev.wait_for_event(CQ_OPS_AND_OUTPUT_READ, &write_event)?;
        let l1 = dev.to_memory_config(CQ_OPS_AND_OUTPUT_READ, dram, &self.setup.mems.l1_input)?;
        let mut l1 = Temp::new(dev, l1);
        let out = Temp::new(
            dev,
            run_model(model, dev, CQ_OPS_AND_OUTPUT_READ, l1.get())?,
        );
        self.op_event = Some(dev.record_event(CQ_OPS_AND_OUTPUT_READ)?);
        l1.free()?;
        Ok(out.take())
    }

    pub fn compile<C: Chip, M: Model<C>>(
        &mut self,
        dev: &Device<C>,
        model: &mut M,
        sample: &HostBuffer,
    ) -> Result<OutputSpec, PipelineError> {
        self.dram_input = Some(dev.allocate_tensor(&self.setup.input, &self.setup.dram_input())?);
        self.op_event = Some(dev.record_event(CQ_OPS_AND_OUTPUT_READ)?);
        let output = self.run_one(dev, model, sample)?;
        warm_up_spec(dev, &self.setup, output)
    }

    pub fn execute<C: Chip, M: Model<C>>(
        &mut self,
        dev: &Device<C>,
        model: &mut M,
        input: &dyn Fn(usize) -> HostBuffer,
        outputs: &mut [HostTensor],
        issued: &mut usize,
    ) -> Result<(), PipelineError> {
        run_and_read_each(dev, CQ_OPS_AND_OUTPUT_READ, outputs, issued, |i| {
            self.run_one(dev, model, &input(i))
        })
    }

    pub fn release<C: Chip>(&mut self, dev: &Device<C>, r: &mut Release) {
        r.free(dev, &mut self.dram_input);
    }
}
