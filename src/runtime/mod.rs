//! The TT-Metal execution model: a device with one or two command queues, events between them,
//! traces captured once and replayed, the allocator, tensors and device ops.

// Errors carry their one line of text inline (no allocation, no_std), so they are large.

pub mod allocator;
mod command_queue;
mod device;
pub mod error;
mod event;
pub mod host_memory;
mod program_cache;
mod signal;
mod tensor;
mod trace;
mod transfer;

pub use command_queue::RING_RECORDS;
pub use device::{Device, DeviceConfig, Kernel, KernelFn, KernelMessage, WaitCancel};
pub use error::{ErrorKind, RuntimeError};
pub use event::Event;
pub use program_cache::PROGRAM_CACHE_CAPACITY;
pub use tensor::{MemoryConfig, Tensor, TensorSpec};
pub use trace::{trace_size, MAX_TRACES, TRACE_PAGE_SIZE, TRACE_RECORD_SIZE};
pub use transfer::HostBuffer;
