//! Device tensors: a spec (shape, data format, tile or row-major layout), a memory config
//! (DRAM or L1, interleaved or sharded) and the buffer the allocator gave them.

use crate::format::DataFormat;
use crate::hal::layout::{MemoryLayout, ShardSpec, TensorLayout};
use crate::hal::BufferRef;
use crate::runtime::allocator::BufferType;

/// What a tensor holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TensorSpec {
    /// Outermost first; the last two dimensions are rows and columns.
    pub shape: [u32; 4],
    pub format: DataFormat,
    pub layout: TensorLayout,
}

/// Where a tensor lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MemoryConfig {
    pub buffer_type: BufferType,
    pub memory_layout: MemoryLayout,
    /// Required for the sharded layouts, refused for interleaved.
    pub shard: Option<ShardSpec>,
}

impl MemoryConfig {
    pub const DRAM_INTERLEAVED: MemoryConfig = MemoryConfig {
        buffer_type: BufferType::Dram,
        memory_layout: MemoryLayout::Interleaved,
        shard: None,
    };
    pub const L1_INTERLEAVED: MemoryConfig = MemoryConfig {
        buffer_type: BufferType::L1,
        memory_layout: MemoryLayout::Interleaved,
        shard: None,
    };
}

/// A tensor on a device. Plain data: the device that allocated it frees its buffer
/// (`Device::deallocate`), after which it only remembers what it was.
///
/// The spec and memory config are those of the buffer's layout; `sig` is their program-cache
/// signature, computed once when the tensor is allocated (every op enqueue needs it).
#[derive(Clone, Copy, Debug)]
pub struct Tensor {
    pub(crate) device_id: u32,
    pub(crate) allocated: bool,
    pub(crate) sig: u32,
    pub(crate) buffer: BufferRef,
}

impl Tensor {
    pub fn spec(&self) -> TensorSpec {
        let l = &self.buffer.layout;
        TensorSpec {
            shape: l.shape(),
            format: l.format(),
            layout: l.tensor_layout(),
        }
    }

    pub fn memory_config(&self) -> MemoryConfig {
        let l = &self.buffer.layout;
        MemoryConfig {
            buffer_type: l.buffer_type(),
            memory_layout: l.memory_layout(),
            shard: l.shard_spec(),
        }
    }

    /// The buffer's base address (the same in every bank).
    pub fn address(&self) -> u64 {
        self.buffer.addr
    }

    pub fn buffer(&self) -> &BufferRef {
        &self.buffer
    }

    pub fn is_allocated(&self) -> bool {
        self.allocated
    }

    pub fn device_id(&self) -> u32 {
        self.device_id
    }
}
