//! What can go wrong with a pipeline: a config the executors cannot serve, a call out of order,
//! inputs that do not fit, the L1 address check of trace capture, or the device itself.

use core::fmt;

use crate::runtime::{ErrorKind, RuntimeError};

use super::config::PipelineConfig;

/// A pipeline config that no executor serves. The texts are upstream's
/// (`models/tt_cnn/tt/pipeline.py`) where upstream has one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// `num_command_queues` is not 1 or 2.
    Unsupported { config: PipelineConfig },
    /// `all_transfers_on_separate_command_queue` with one command queue: there is no second
    /// queue to move the transfers to (upstream silently ignores the flag).
    SeparateQueueNeedsTwoQueues { config: PipelineConfig },
    /// A traced executor on one command queue without `dram_input_memory_config`.
    DramInputRequiredForTrace,
    /// A multi-CQ executor without `dram_input_memory_config`.
    DramInputRequiredForMultiCq,
    /// `all_transfers_on_separate_command_queue` without trace.
    PipelinedIoRequiresTrace,
    /// `all_transfers_on_separate_command_queue` without `dram_output_memory_config`.
    DramOutputRequired,
    /// A memory config in the wrong kind of memory.
    WrongBufferType {
        which: &'static str,
        expected: &'static str,
        found: &'static str,
    },
    /// The config needs more command queues than the device was opened with.
    DeviceQueues { needed: u8, device: u32, has: u8 },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ConfigError::Unsupported { config } => {
                write!(f, "Unsupported pipeline configuration: {config}")
            }
            ConfigError::SeparateQueueNeedsTwoQueues { config } => write!(
                f,
                "Unsupported pipeline configuration: {config}: \
                 all_transfers_on_separate_command_queue=True needs num_command_queues=2"
            ),
            // Upstream's text for this case speaks of all_transfers_on_separate_command_queue,
            // which the single-queue traced executor does not use; ttrt names the trace.
            ConfigError::DramInputRequiredForTrace => f.write_str(
                "dram_input_memory_config must be provided when using trace (use_trace=True)",
            ),
            ConfigError::DramInputRequiredForMultiCq => f.write_str(
                "dram_input_memory_config must be provided when using multi-CQ executor",
            ),
            ConfigError::PipelinedIoRequiresTrace => f.write_str(
                "Pipelined I/O (all_transfers_on_separate_command_queue) requires tracing",
            ),
            ConfigError::DramOutputRequired => f.write_str(
                "dram_output_memory_config must be provided when \
                 all_transfers_on_separate_command_queue=True.",
            ),
            ConfigError::WrongBufferType {
                which,
                expected,
                found,
            } => write!(f, "{which} must be in {expected} memory, found {found}"),
            ConfigError::DeviceQueues {
                needed,
                device,
                has,
            } => write!(
                f,
                "the pipeline needs {needed} command queues but device {device} was opened \
                 with {has} (num_command_queues)"
            ),
        }
    }
}

/// A failed pipeline call.
#[derive(Debug)]
pub enum PipelineError {
    Config(ConfigError),
    /// A call that needs `compile` first.
    NotCompiled {
        call: &'static str,
    },
    /// `compile` a second time.
    AlreadyCompiled,
    /// A call after `cleanup`.
    CleanedUp {
        call: &'static str,
    },
    /// `pop_all` waited for its outputs when another thread cleaned the pipeline up (or freed
    /// it): the wait ended; nothing changed.
    CancelledByCleanup,
    /// Fewer inputs than the executor needs: 1 for every executor, 2 for pipelined IO.
    TooFewInputs {
        found: usize,
        min: usize,
    },
    /// More inputs since the last `pop_all` than pre-allocated output slots.
    TooManyInputs {
        inputs: usize,
        slots: usize,
    },
    /// `preallocate_output_tensors_on_host` while outputs of an earlier `enqueue` are not
    /// popped yet (their buffers are still being filled).
    OutputsPending {
        pending: usize,
    },
    /// `preallocate_output_tensors_on_host` asked for more host memory than the device's
    /// budget allows (`need` is `None` when the size overflowed), or than the allocator gave.
    HostMemory {
        outputs: usize,
        len: usize,
        need: Option<u64>,
        budget: u64,
    },
    /// Input `index` is not the tensor the pipeline was compiled for.
    InputMismatch {
        index: usize,
        what: &'static str,
        expected: InputDescription,
        found: InputDescription,
    },
    /// The model returned its input tensor instead of a new one.
    ModelReturnedInput,
    /// The persistent L1 input did not land where the captured trace reads its input.
    L1AddressMismatch {
        expected: u64,
        got: u64,
    },
    /// The model callback of the C API failed; its status and text.
    Model(RuntimeError),
    /// A device call failed.
    Device(RuntimeError),
}

/// The part of an input a mismatch is about, for messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputDescription {
    Shape([usize; 4]),
    Format(crate::format::DataFormat),
    Layout(crate::hal::layout::TensorLayout),
    Bytes(usize),
}

impl fmt::Display for InputDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputDescription::Shape(s) => write!(f, "{s:?}"),
            InputDescription::Format(d) => f.write_str(d.name()),
            InputDescription::Layout(l) => f.write_str(l.name()),
            InputDescription::Bytes(n) => write!(f, "{n} B"),
        }
    }
}

impl PipelineError {
    /// What kind of failure this is (the C status).
    pub fn kind(&self) -> ErrorKind {
        match self {
            PipelineError::Config(ConfigError::DeviceQueues { .. }) => ErrorKind::InvalidArgument,
            PipelineError::Config(ConfigError::Unsupported { .. })
            | PipelineError::Config(ConfigError::SeparateQueueNeedsTwoQueues { .. }) => {
                ErrorKind::Unsupported
            }
            PipelineError::Config(_) => ErrorKind::InvalidArgument,
            PipelineError::NotCompiled { .. }
            | PipelineError::AlreadyCompiled
            | PipelineError::CleanedUp { .. }
            | PipelineError::OutputsPending { .. } => ErrorKind::InvalidState,
            PipelineError::CancelledByCleanup => ErrorKind::Cancelled,
            PipelineError::TooFewInputs { .. }
            | PipelineError::TooManyInputs { .. }
            | PipelineError::InputMismatch { .. }
            | PipelineError::ModelReturnedInput => ErrorKind::InvalidArgument,
            PipelineError::HostMemory { .. } => ErrorKind::OutOfMemory,
            PipelineError::L1AddressMismatch { .. } => ErrorKind::Device,
            PipelineError::Model(e) | PipelineError::Device(e) => e.kind,
        }
    }
}

impl fmt::Display for PipelineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PipelineError::Config(e) => e.fmt(f),
            PipelineError::NotCompiled { call } => {
                if *call == "preallocate_output_tensors_on_host" {
                    // Upstream's text.
                    f.write_str("Pipeline must be compiled before pre-allocating output tensors.")
                } else {
                    write!(f, "Pipeline must be compiled before {call}.")
                }
            }
            PipelineError::AlreadyCompiled => {
                f.write_str("the pipeline is already compiled (compile once per pipeline)")
            }
            PipelineError::CleanedUp { call } => write!(
                f,
                "{call} after cleanup: the pipeline's trace and device tensors are released"
            ),
            PipelineError::CancelledByCleanup => f.write_str(
                "the pipeline was cleaned up (ttrt_pipeline_cleanup or ttrt_pipeline_free on \
                 another thread) while this call waited for its outputs",
            ),
            PipelineError::TooFewInputs { found, min } if *min <= 1 => {
                write!(f, "n is {found}: enqueue needs at least one input")
            }
            PipelineError::TooFewInputs { found, min } => write!(
                f,
                "n is {found}: the Pipelined I/O executor requires at least {min} inputs for \
                 pipelining"
            ),
            PipelineError::TooManyInputs { inputs, slots } => write!(
                f,
                "Number of inputs ({inputs}) exceeds the number of pre-allocated output slots \
                 ({slots})."
            ),
            PipelineError::OutputsPending { pending } => write!(
                f,
                "{} of an earlier enqueue {} not popped yet; call pop_all first",
                crate::message::count(*pending, "output"),
                if *pending == 1 { "is" } else { "are" }
            ),
            PipelineError::HostMemory {
                outputs,
                len,
                need,
                budget,
            } => write!(
                f,
                "{outputs} output tensors of {len} B need {} of host memory, over the host \
                 memory budget of {budget} B (or more than the allocator gives)",
                crate::runtime::host_memory::Bytes(*need)
            ),
            PipelineError::InputMismatch {
                index,
                what,
                expected,
                found,
            } => write!(
                f,
                "input {index}: {what} is {found}, but the pipeline was compiled for {expected}"
            ),
            PipelineError::ModelReturnedInput => f.write_str(
                "the model returned its input tensor; it must return a new tensor \
                 (an identity model runs an identity op)",
            ),
            PipelineError::L1AddressMismatch { expected, got } => write!(
                f,
                "L1 input tensor address mismatch: expected {expected}, got {got}"
            ),
            PipelineError::Model(e) => write!(f, "the model failed: {e}"),
            PipelineError::Device(e) => e.fmt(f),
        }
    }
}

impl From<RuntimeError> for PipelineError {
    fn from(e: RuntimeError) -> Self {
        PipelineError::Device(e)
    }
}

impl From<ConfigError> for PipelineError {
    fn from(e: ConfigError) -> Self {
        PipelineError::Config(e)
    }
}
