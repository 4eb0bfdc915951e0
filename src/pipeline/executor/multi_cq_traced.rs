//! MultiCQTracedModelOverlappedInputExecutor: two command queues, trace. CQ 1 writes each input
//! into the persistent DRAM input; CQ 0 reshards it in place into the persistent L1 input,
//! signals at once that the DRAM input is consumed, replays the trace and reads the output. The
//! next write overlaps the current replay.
//!
//! Per input: W(1, op_event), write on CQ 1, write_event = R(1), W(0, write_event), reshard in
//! place, op_event = R(0), execute trace on CQ 0, read on CQ 0.

use crate::hal::Chip;
use crate::runtime::{Device, Event, HostBuffer, Tensor};

use super::super::error::PipelineError;
use super::super::host::{HostTensor, OutputSpec};
use super::super::model::Model;
use super::capture::{warm_up_and_capture, Captured};
use super::{read_into, Release, Setup, Temp};

const CQ_OPS_AND_OUTPUT_READ: u8 = 0;
const CQ_INPUT_WRITE: u8 = 1;

pub(crate) struct MultiCqTracedModelOverlappedInputExecutor {
    setup: Setup,
    dram_input: Option<Tensor>,
    op_event: Option<Event>,
    pub(super) captured: Option<Captured>,
}

impl MultiCqTracedModelOverlappedInputExecutor {
    pub fn new(setup: Setup) -> Self {
        MultiCqTracedModelOverlappedInputExecutor {
            setup,
            dram_input: None,
            op_event: None,
            captured: None,
        }
    }

    /// Writes `x` on CQ 1 once CQ 0 has consumed the DRAM input, and makes CQ 0 wait for it.
    fn write_input<C: Chip>(
        &self,
        dev: &Device<C>,
        dram: &Tensor,
        op_event: &Event,
        x: &HostBuffer,
    ) -> Result<(), PipelineError> {
        dev.wait_for_event(CQ_INPUT_WRITE, op_event)?;
        dev.write_tensor(CQ_INPUT_WRITE, x, dram, false)?;
        let write_event = dev.record_event(CQ_INPUT_WRITE)?;
        dev.wait_for_event(CQ_OPS_AND_OUTPUT_READ, &write_event)?;
        Ok(())
    }

    /// Writes `x` and makes a new L1 input from it on CQ 0; records the consumed event.
    fn l1_input_of<'d, C: Chip>(
        &mut self,
        dev: &'d Device<C>,
        dram: &Tensor,
        x: &HostBuffer,
    ) -> Result<Temp<'d, C>, PipelineError> {
        let Some(op_event) = self.op_event else {
            return Err(PipelineError::NotCompiled { call: "enqueue" });
        };
        self.write_input(dev, dram, &op_event, x)?;
        let l1 = dev.to_memory_config(CQ_OPS_AND_OUTPUT_READ, dram, &self.setup.mems.l1_input)?;
        let l1 = Temp::new(dev, l1);
        self.op_event = Some(dev.record_event(CQ_OPS_AND_OUTPUT_READ)?);
        Ok(l1)
    }

    pub fn compile<C: Chip, M: Model<C>>(
        &mut self,
        dev: &Device<C>,
        model: &mut M,
        sample: &HostBuffer,
    ) -> Result<OutputSpec, PipelineError> {
        let dram = dev.allocate_tensor(&self.setup.input, &self.setup.dram_input())?;
        self.dram_input = Some(dram);
        self.op_event = Some(dev.record_event(CQ_OPS_AND_OUTPUT_READ)?);
        let host_layout = self.setup.host_layout;
        let (spec, captured) =
            warm_up_and_capture(dev, model, CQ_OPS_AND_OUTPUT_READ, host_layout, || {
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
        let (Some(dram), Some(c), Some(mut op_event)) =
            (&self.dram_input, &self.captured, self.op_event)
        else {
            return Err(PipelineError::NotCompiled { call: "enqueue" });
        };
        let cq = CQ_OPS_AND_OUTPUT_READ;
        let r = (|| {
            for (i, slot) in outputs.iter_mut().enumerate() {
                self.write_input(dev, dram, &op_event, &input(i))?;
                dev.reshard(cq, dram, &c.l1_input)?;
                op_event = dev.record_event(cq)?;
                dev.execute_trace(cq, c.trace_id, false)?;
                read_into(dev, cq, &c.output, slot)?;
                *issued += 1;
            }
            Ok(())
        })();
        self.op_event = Some(op_event);
        r
    }

    pub fn release<C: Chip>(&mut self, dev: &Device<C>, r: &mut Release) {
        r.trace(dev, &mut self.captured);
        r.free(dev, &mut self.dram_input);
    }
}
