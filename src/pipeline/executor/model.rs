//! ModelExecutor: one command queue, no trace. Each input is written straight into a new L1
//! tensor, the model runs on it, the L1 input is freed and the output read back.

use crate::hal::Chip;
use crate::runtime::{Device, HostBuffer, Tensor};

use super::super::error::PipelineError;
use super::super::host::{HostTensor, OutputSpec};
use super::super::model::{run_model, Model};
use super::{run_and_read_each, warm_up_spec, Setup, Temp};

const CQ: u8 = 0;

pub(crate) struct ModelExecutor {
    setup: Setup,
}

impl ModelExecutor {
    pub fn new(setup: Setup) -> Self {
        ModelExecutor { setup }
    }

    /// host -> L1 input, model, free the L1 input: the output.
    fn run_one<C: Chip, M: Model<C>>(
        &self,
        dev: &Device<C>,
        model: &mut M,
        x: &HostBuffer,
    ) -> Result<Tensor, PipelineError> {
        let mut l1 = Temp::new(
            dev,
            dev.allocate_tensor(&self.setup.input, &self.setup.mems.l1_input)?,
        );
        dev.write_tensor(CQ, x, l1.get(), false)?;
        let out = run_model(model, dev, CQ, l1.get())?;
        l1.free()?;
        Ok(out)
    }

    pub fn compile<C: Chip, M: Model<C>>(
        &mut self,
        dev: &Device<C>,
        model: &mut M,
        sample: &HostBuffer,
    ) -> Result<OutputSpec, PipelineError> {
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
        run_and_read_each(dev, CQ, outputs, issued, |i| {
            self.run_one(dev, model, &input(i))
        })
    }
}
