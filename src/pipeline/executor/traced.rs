//! TracedModelExecutor: one command queue, trace. Each input is written into the persistent
//! DRAM input, resharded in place into the persistent L1 input the trace reads, the trace is
//! replayed and its output read back.

use crate::hal::Chip;
use crate::runtime::{Device, HostBuffer, Tensor};

use super::super::error::PipelineError;
use super::super::host::{HostTensor, OutputSpec};
use super::super::model::Model;
use super::capture::{warm_up_and_capture, Captured};
use super::{read_into, Release, Setup, Temp};

const CQ: u8 = 0;

pub(crate) struct TracedModelExecutor {
    setup: Setup,
    dram_input: Option<Tensor>,
    pub(super) captured: Option<Captured>,
}

impl TracedModelExecutor {
    pub fn new(setup: Setup) -> Self {
        TracedModelExecutor {
            setup,
            dram_input: None,
            captured: None,
        }
    }

    /// Writes `x` into the DRAM input and makes a new L1 input from it.
    fn l1_input_of<'d, C: Chip>(
        &self,
        dev: &'d Device<C>,
        dram: &Tensor,
        x: &HostBuffer,
    ) -> Result<Temp<'d, C>, PipelineError> {
        dev.write_tensor(CQ, x, dram, false)?;
        let l1 = dev.to_memory_config(CQ, dram, &self.setup.mems.l1_input)?;
        Ok(Temp::new(dev, l1))
    }

    pub fn compile<C: Chip, M: Model<C>>(
        &mut self,
        dev: &Device<C>,
        model: &mut M,
        sample: &HostBuffer,
    ) -> Result<OutputSpec, PipelineError> {
        let dram = dev.allocate_tensor(&self.setup.input, &self.setup.dram_input())?;
        self.dram_input = Some(dram);
        let (spec, captured) = warm_up_and_capture(dev, model, CQ, self.setup.host_layout, || {
            self.l1_input_of(dev, &dram, sample)
        })?;
        self.captured = Some(captured);
        Ok(spec)
    }

    pub fn execute<C: Chip>(
        &mut self,
        dev: &Device<C>,
        input: &dyn Fn(usize) -> HostBuffer,
        outputs: &mut [HostTensor],
        issued: &mut usize,
    ) -> Result<(), PipelineError> {
        let (Some(dram), Some(c)) = (&self.dram_input, &self.captured) else {
            return Err(PipelineError::NotCompiled { call: "enqueue" });
        };
        for (i, slot) in outputs.iter_mut().enumerate() {
            dev.write_tensor(CQ, &input(i), dram, false)?;
            dev.reshard(CQ, dram, &c.l1_input)?;
            dev.execute_trace(CQ, c.trace_id, false)?;
            read_into(dev, CQ, &c.output, slot)?;
            *issued += 1;
        }
        Ok(())
    }

    pub fn release<C: Chip>(&mut self, dev: &Device<C>, r: &mut Release) {
        r.trace(dev, &mut self.captured);
        r.free(dev, &mut self.dram_input);
    }
}
