//! MultiCQTracedModelPipelinedIOExecutor: two command queues, trace, every transfer on CQ 1.
//! CQ 0 only runs ops: the reshard into the persistent L1 input, the replay, and a reshard of
//! the output into a persistent DRAM output. CQ 1 writes input i+1 while CQ 0 runs input i and
//! reads output i from the DRAM output while CQ 0 starts on input i+1.
//!
//! Four events order the queues. Compile records dummies first_op_event = R(0) and
//! read_event = R(1). An enqueue of inputs x0..xn writes x0, then for each i:
//! W(0, write_event), reshard into L1, first_op_event = R(0), execute trace, W(0, read_event),
//! reshard the output into the DRAM output, last_op_event = R(0); write x(i+1) on CQ 1
//! (W(1, first_op_event) first); W(1, last_op_event), read the DRAM output on CQ 1,
//! read_event = R(1).
//!
//! read_event is recorded after the read is enqueued. Upstream recorded it before handing the
//! DRAM output to the read, so CQ 0 could overwrite the output while it was still being read (a
//! race its regression test, `test_multicq_pipelined_read_event_ordering`, now guards).

use crate::hal::Chip;
use crate::runtime::{Device, Event, HostBuffer, Tensor};

use super::super::error::PipelineError;
use super::super::host::{HostTensor, OutputSpec};
use super::super::model::{run_model, Model};
use super::capture::{capture, Captured};
use super::{read_into, Release, Setup, Temp};

const CQ_OPS: u8 = 0;
const CQ_IO: u8 = 1;

/// The events between the two queues.
#[derive(Clone, Copy, Debug)]
struct Events {
    /// CQ 0 has consumed the DRAM input (CQ 1 may write the next one).
    first_op: Event,
    /// CQ 1 has written the DRAM input (CQ 0 may reshard it).
    write: Event,
    /// CQ 0 has resharded the output into the DRAM output (CQ 1 may read it).
    last_op: Event,
    /// CQ 1 has read the DRAM output (CQ 0 may overwrite it).
    read: Event,
}

pub(crate) struct MultiCqTracedModelPipelinedIoExecutor {
    setup: Setup,
    dram_input: Option<Tensor>,
    dram_output: Option<Tensor>,
    events: Option<Events>,
    pub(super) captured: Option<Captured>,
}

impl MultiCqTracedModelPipelinedIoExecutor {
    pub fn new(setup: Setup) -> Self {
        MultiCqTracedModelPipelinedIoExecutor {
            setup,
            dram_input: None,
            dram_output: None,
            events: None,
            captured: None,
        }
    }

    /// CQ 1: once CQ 0 has consumed the DRAM input, writes `x` into it.
    fn transfer_input<C: Chip>(
        dev: &Device<C>,
        ev: &mut Events,
        dram: &Tensor,
        x: &HostBuffer,
    ) -> Result<(), PipelineError> {
        dev.wait_for_event(CQ_IO, &ev.first_op)?;
        dev.write_tensor(CQ_IO, x, dram, false)?;
        ev.write = dev.record_event(CQ_IO)?;
        Ok(())
    }

    /// CQ 0: reshards the written input into the persistent L1 input, replays the trace and,
    /// once the previous output has been read, reshards the output into the DRAM output.
    fn execute_model_and_transfer_output<C: Chip>(
        dev: &Device<C>,
        ev: &mut Events,
        dram_input: &Tensor,
        dram_output: &Tensor,
        c: &Captured,
    ) -> Result<(), PipelineError> {
        dev.wait_for_event(CQ_OPS, &ev.write)?;
        dev.reshard(CQ_OPS, dram_input, &c.l1_input)?;
        ev.first_op = dev.record_event(CQ_OPS)?;
        dev.execute_trace(CQ_OPS, c.trace_id, false)?;
        dev.wait_for_event(CQ_OPS, &ev.read)?;
        dev.reshard(CQ_OPS, &c.output, dram_output)?;
        ev.last_op = dev.record_event(CQ_OPS)?;
        Ok(())
    }

    /// CQ 1: once the output is in the DRAM output, reads it into `slot`; then records that
    /// the read is enqueued ahead of anything CQ 0 may do to the DRAM output.
    fn read_output<C: Chip>(
        dev: &Device<C>,
        ev: &mut Events,
        dram_output: &Tensor,
        slot: &mut HostTensor,
    ) -> Result<(), PipelineError> {
        dev.wait_for_event(CQ_IO, &ev.last_op)?;
        read_into(dev, CQ_IO, dram_output, slot)?;
        ev.read = dev.record_event(CQ_IO)?;
        Ok(())
    }

    pub fn compile<C: Chip, M: Model<C>>(
        &mut self,
        dev: &Device<C>,
        model: &mut M,
        sample: &HostBuffer,
    ) -> Result<OutputSpec, PipelineError> {
        let dram = dev.allocate_tensor(&self.setup.input, &self.setup.dram_input())?;
        self.dram_input = Some(dram);
        let first_op = dev.record_event(CQ_OPS)?;
        let read = dev.record_event(CQ_IO)?;
        let mut ev = Events {
            first_op,
            write: read,
            last_op: first_op,
            read,
        };

        // Warm-up: fills the program cache, and gives the output's spec.
        Self::transfer_input(dev, &mut ev, &dram, sample)?;
        dev.wait_for_event(CQ_OPS, &ev.write)?;
        let l1 = dev.to_memory_config(CQ_OPS, &dram, &self.setup.mems.l1_input)?;
        let mut l1 = Temp::new(dev, l1);
        ev.first_op = dev.record_event(CQ_OPS)?;
        let warm = Temp::new(dev, run_model(model, dev, CQ_OPS, l1.get())?);
        let out_spec = warm.tensor.spec();
        let dram_output = dev.allocate_tensor(&out_spec, &self.setup.dram_output())?;
        self.dram_output = Some(dram_output);
        dev.wait_for_event(CQ_OPS, &ev.read)?;
        dev.reshard(CQ_OPS, &warm.tensor, &dram_output)?;
        ev.last_op = dev.record_event(CQ_OPS)?;
        l1.free()?;
        let spec = OutputSpec::of(&dram_output, self.setup.host_layout);

        // Capture.
        Self::transfer_input(dev, &mut ev, &dram, sample)?;
        dev.wait_for_event(CQ_OPS, &ev.write)?;
        let l1 = dev.to_memory_config(CQ_OPS, &dram, &self.setup.mems.l1_input)?;
        let l1 = Temp::new(dev, l1);
        // Upstream records nothing here, so its first write of an enqueue may overwrite the
        // DRAM input before this reshard has read it (harmless there: capture runs nothing);
        // ttrt keeps the rule that every read of the DRAM input is followed by first_op.
        ev.first_op = dev.record_event(CQ_OPS)?;
        self.captured = Some(capture(dev, model, CQ_OPS, l1, warm)?);
        self.events = Some(ev);
        dev.synchronize()?;
        Ok(spec)
    }

    pub fn execute<C: Chip>(
        &mut self,
        dev: &Device<C>,
        input: &dyn Fn(usize) -> HostBuffer,
        outputs: &mut [HostTensor],
        issued: &mut usize,
    ) -> Result<(), PipelineError> {
        let (Some(dram_input), Some(dram_output), Some(c), Some(mut ev)) = (
            &self.dram_input,
            &self.dram_output,
            &self.captured,
            self.events,
        ) else {
            return Err(PipelineError::NotCompiled { call: "enqueue" });
        };
        let n = outputs.len();
        if n < 2 {
            return Err(PipelineError::TooFewInputs { found: n, min: 2 });
        }
        let r = (|| {
            Self::transfer_input(dev, &mut ev, dram_input, &input(0))?;
            for (i, slot) in outputs.iter_mut().enumerate() {
                Self::execute_model_and_transfer_output(dev, &mut ev, dram_input, dram_output, c)?;
                if i + 1 < n {
                    Self::transfer_input(dev, &mut ev, dram_input, &input(i + 1))?;
                }
                Self::read_output(dev, &mut ev, dram_output, slot)?;
                *issued += 1;
            }
            Ok(())
        })();
        self.events = Some(ev);
        r
    }

    pub fn release<C: Chip>(&mut self, dev: &Device<C>, r: &mut Release) {
        r.trace(dev, &mut self.captured);
        r.free(dev, &mut self.dram_input);
        r.free(dev, &mut self.dram_output);
    }
}
