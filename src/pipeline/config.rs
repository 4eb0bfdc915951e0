//! The pipeline config and the executor it chooses (TT-CNN's `PipelineConfig` and
//! `create_pipeline_from_config`).

use core::fmt;

use crate::runtime::allocator::BufferType;
use crate::runtime::MemoryConfig;

use super::error::ConfigError;

/// How a pipeline runs its model. The defaults are upstream's: trace on, one command queue,
/// transfers on the ops queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PipelineConfig {
    /// Capture the model once and replay it (no host dispatch per op).
    pub use_trace: bool,
    /// 1, or 2: input writes (and with `all_transfers_on_separate_command_queue` also output
    /// reads) on CQ 1, overlapping the model on CQ 0.
    pub num_command_queues: u8,
    /// With 2 CQs and trace: CQ 0 runs ops only, CQ 1 does every transfer.
    pub all_transfers_on_separate_command_queue: bool,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            use_trace: true,
            num_command_queues: 1,
            all_transfers_on_separate_command_queue: false,
        }
    }
}

impl fmt::Display for PipelineConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let py = |b: bool| if b { "True" } else { "False" };
        write!(
            f,
            "PipelineConfig(use_trace: {}, num_command_queues: {}, \
             all_transfers_on_separate_command_queue: {})",
            py(self.use_trace),
            self.num_command_queues,
            py(self.all_transfers_on_separate_command_queue)
        )
    }
}

/// The five executors of TT-CNN, named as upstream names their classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExecutorKind {
    /// 1 CQ, no trace: host -> L1 input, model, read.
    Model,
    /// 1 CQ, trace: persistent DRAM input, reshard into the persistent L1 input, replay.
    TracedModel,
    /// 2 CQs, no trace: writes on CQ 1 overlap the model on CQ 0.
    MultiCqModelOverlappedInput,
    /// 2 CQs, trace: writes on CQ 1 overlap the replay on CQ 0.
    MultiCqTracedModelOverlappedInput,
    /// 2 CQs, trace, every transfer on CQ 1: ops only on CQ 0, output through a persistent
    /// DRAM tensor read on CQ 1.
    MultiCqTracedModelPipelinedIo,
}

impl ExecutorKind {
    /// Every executor, in the order of the config table.
    /// cbindgen:ignore
    pub const ALL: [ExecutorKind; 5] = [
        ExecutorKind::Model,
        ExecutorKind::TracedModel,
        ExecutorKind::MultiCqModelOverlappedInput,
        ExecutorKind::MultiCqTracedModelOverlappedInput,
        ExecutorKind::MultiCqTracedModelPipelinedIo,
    ];

    /// Upstream's class name.
    pub fn name(self) -> &'static str {
        let s = self.name_nul();
        &s[..s.len() - 1]
    }

    /// [`ExecutorKind::name`], NUL-terminated (for the C API).
    pub const fn name_nul(self) -> &'static str {
        match self {
            ExecutorKind::Model => "ModelExecutor\0",
            ExecutorKind::TracedModel => "TracedModelExecutor\0",
            ExecutorKind::MultiCqModelOverlappedInput => "MultiCQModelOverlappedInputExecutor\0",
            ExecutorKind::MultiCqTracedModelOverlappedInput => {
                "MultiCQTracedModelOverlappedInputExecutor\0"
            }
            ExecutorKind::MultiCqTracedModelPipelinedIo => {
                "MultiCQTracedModelPipelinedIOExecutor\0"
            }
        }
    }

    /// The config that chooses this executor.
    pub const fn config(self) -> PipelineConfig {
        let (use_trace, num_command_queues, all_transfers_on_separate_command_queue) = match self {
            ExecutorKind::Model => (false, 1, false),
            ExecutorKind::TracedModel => (true, 1, false),
            ExecutorKind::MultiCqModelOverlappedInput => (false, 2, false),
            ExecutorKind::MultiCqTracedModelOverlappedInput => (true, 2, false),
            ExecutorKind::MultiCqTracedModelPipelinedIo => (true, 2, true),
        };
        PipelineConfig {
            use_trace,
            num_command_queues,
            all_transfers_on_separate_command_queue,
        }
    }

    pub const fn uses_trace(self) -> bool {
        self.config().use_trace
    }

    /// The CQ output reads go on.
    pub const fn read_cq(self) -> u8 {
        match self {
            ExecutorKind::MultiCqTracedModelPipelinedIo => 1,
            _ => 0,
        }
    }

    /// The fewest inputs one `enqueue` takes.
    pub const fn min_inputs(self) -> usize {
        match self {
            ExecutorKind::MultiCqTracedModelPipelinedIo => 2,
            _ => 1,
        }
    }
}

impl fmt::Display for ExecutorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The memory configs a pipeline is created with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryConfigs {
    /// Where the model's input lives (required): L1, typically sharded.
    pub l1_input: MemoryConfig,
    /// The persistent DRAM input the traced and multi-CQ executors write into.
    pub dram_input: Option<MemoryConfig>,
    /// The persistent DRAM output of the pipelined-IO executor.
    pub dram_output: Option<MemoryConfig>,
}

fn check_buffer_type(
    mem: &MemoryConfig,
    which: &'static str,
    dram: bool,
) -> Result<(), ConfigError> {
    let ok = if dram {
        mem.buffer_type == BufferType::Dram
    } else {
        matches!(mem.buffer_type, BufferType::L1 | BufferType::L1Small)
    };
    if ok {
        return Ok(());
    }
    Err(ConfigError::WrongBufferType {
        which,
        expected: if dram { "DRAM" } else { "L1" },
        found: mem.buffer_type.name(),
    })
}

/// The executor `config` chooses, after upstream's rules (`create_pipeline_from_config`), plus
/// the combinations upstream lets through and ttrt names: the separate-queue flag with one
/// queue, and a multi-CQ traced config without a DRAM input.
pub fn select_executor(
    config: &PipelineConfig,
    mems: &MemoryConfigs,
) -> Result<ExecutorKind, ConfigError> {
    let kind = match (config.num_command_queues, config.use_trace) {
        (1, _) if config.all_transfers_on_separate_command_queue => {
            return Err(ConfigError::SeparateQueueNeedsTwoQueues { config: *config })
        }
        (1, false) => ExecutorKind::Model,
        (1, true) => {
            if mems.dram_input.is_none() {
                return Err(ConfigError::DramInputRequiredForTrace);
            }
            ExecutorKind::TracedModel
        }
        (2, false) => {
            if config.all_transfers_on_separate_command_queue {
                return Err(ConfigError::PipelinedIoRequiresTrace);
            }
            if mems.dram_input.is_none() {
                return Err(ConfigError::DramInputRequiredForMultiCq);
            }
            ExecutorKind::MultiCqModelOverlappedInput
        }
        (2, true) => {
            if config.all_transfers_on_separate_command_queue && mems.dram_output.is_none() {
                return Err(ConfigError::DramOutputRequired);
            }
            if mems.dram_input.is_none() {
                return Err(ConfigError::DramInputRequiredForMultiCq);
            }
            if config.all_transfers_on_separate_command_queue {
                ExecutorKind::MultiCqTracedModelPipelinedIo
            } else {
                ExecutorKind::MultiCqTracedModelOverlappedInput
            }
        }
        _ => return Err(ConfigError::Unsupported { config: *config }),
    };
    check_buffer_type(&mems.l1_input, "l1_input_memory_config", false)?;
    if kind != ExecutorKind::Model {
        if let Some(m) = &mems.dram_input {
            check_buffer_type(m, "dram_input_memory_config", true)?;
        }
    }
    if kind == ExecutorKind::MultiCqTracedModelPipelinedIo {
        if let Some(m) = &mems.dram_output {
            check_buffer_type(m, "dram_output_memory_config", true)?;
        }
    }
    Ok(kind)
}
