//! The Buda backend lifecycle of PyBuda's embedded TTI loader, on ttrt's device core:
//! create from an image (or a netlist), initialize (queues allocated in device DRAM or host
//! memory, constants and parameters loaded), then push_input -> run_program -> get_output ->
//! pop_output, and finish. See notes/buda-backend.md.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::format::{Arch, DataFormat, HostTensor, HostTensorMut};
use crate::netlist::Netlist;

/// What went wrong, mapped one to one onto the C status codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendErrorKind {
    InvalidArgument,
    NotFound,
    InvalidState,
    Timeout,
    Runtime,
    OutOfMemory,
    Unsupported,
    InvalidImage,
}

/// A backend failure: its kind and one line saying what and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackendError {
    pub kind: BackendErrorKind,
    pub message: String,
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// How a backend is created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackendConfig {
    /// The chip to simulate; `None`: the image's (or the netlist's first) arch.
    pub arch: Option<Arch>,
    /// 1, or 2: transfers on CQ 1, programs on CQ 0, ordered by events.
    pub num_command_queues: u8,
}

impl Default for BackendConfig {
    fn default() -> Self {
        BackendConfig {
            arch: None,
            num_command_queues: 1,
        }
    }
}

/// A tensor get_output returns in fresh memory.
#[derive(Clone, Debug, PartialEq)]
pub struct OutputTensor {
    pub data: Vec<u8>,
    pub format: DataFormat,
    /// `[w, z, rows, cols]`, outermost first, contiguous.
    pub shape: [usize; 4],
}

/// A Buda backend over a simulated device.
pub struct Backend {
    _private: (),
}

#[allow(unused_variables)]
impl Backend {
    /// A backend for a netlist alone (no constants or parameters are loaded).
    pub fn from_netlist(netlist: Netlist, config: &BackendConfig) -> Result<Backend, BackendError> {
        todo!()
    }

    /// A backend for a TTI image.
    #[cfg(feature = "std")]
    pub fn create(image: &crate::image::Image, config: &BackendConfig) -> Result<Backend, BackendError> {
        todo!()
    }

    pub fn netlist(&self) -> &Netlist {
        todo!()
    }

    pub fn initialize(&mut self) -> Result<(), BackendError> {
        todo!()
    }

    /// The host tensor shape of `w` entries of `queue` and its io descriptor fields.
    pub fn queue_shape(&self, queue: &str, single: bool) -> Result<([usize; 4], DataFormat), BackendError> {
        todo!()
    }

    pub fn push_input(&self, queue: &str, t: &HostTensor<'_>, push_one: bool, timeout_ms: i32, ptr: i32) -> Result<(), BackendError> {
        todo!()
    }

    pub fn run_program(&self, program: &str, params: &[(&str, &str)]) -> Result<(), BackendError> {
        todo!()
    }

    pub fn get_output(&self, queue: &str, get_one: bool, timeout_ms: i32, ptr: i32) -> Result<OutputTensor, BackendError> {
        todo!()
    }

    pub fn get_output_into(&self, queue: &str, dst: &mut HostTensorMut<'_>, get_one: bool, timeout_ms: i32, ptr: i32) -> Result<(), BackendError> {
        todo!()
    }

    pub fn pop_output(&self, queue: &str, pop_one: bool, timeout_ms: i32) -> Result<(), BackendError> {
        todo!()
    }

    pub fn wait_for_idle(&self) -> Result<(), BackendError> {
        todo!()
    }

    pub fn finish(&mut self) -> Result<(), BackendError> {
        todo!()
    }
}
