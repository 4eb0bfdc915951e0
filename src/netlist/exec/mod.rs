//! Graph execution with Buda's golden numerics (notes/golden-ops.md): a graph of the netlist is
//! compiled once into a [`GraphPlan`] (every op and TM checked, every shape computed and
//! compared with what the netlist declares), then run once per input.
//!
//! Tensors are whole, as in golden: `z` slices of `rt x ct` tiles of 32x32 float32, stored
//! row-major per slice (the host layout `[1, z, rt*32, ct*32]`). Queue entries come in and go
//! out through [`QueueIo`]; where they live (device memory, their format on the device) is the
//! caller's business. After the first run, a plan allocates nothing: every tensor it computes
//! keeps its buffer from one run to the next.

use alloc::string::String;
use alloc::vec::Vec;

use crate::format::DataFormat;

mod fused;
mod graph;
pub mod matmul;
mod nary;
pub mod ops;
pub mod quantize;
pub mod sparse;
pub mod tm;

pub use graph::GraphPlan;
pub use tm::Shape;

/// Rows and columns of a tile.
pub const TILE: usize = 32;

/// A golden tensor: `z` slices of `rt x ct` tiles, float32, row-major per slice.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    pub z: u32,
    pub rt: u32,
    pub ct: u32,
    /// The format tag golden carries with the values (it decides later quantization; it does
    /// not change the arithmetic).
    pub tag: DataFormat,
    /// `z * rt*32 * ct*32` values: element (z, row, col) at `(z * rows + row) * cols + col`.
    pub data: Vec<f32>,
}

impl Tensor {
    /// A tensor of +0.0.
    pub fn zeros(z: u32, rt: u32, ct: u32, tag: DataFormat) -> Tensor {
        let mut t = Tensor {
            z: 0,
            rt: 0,
            ct: 0,
            tag,
            data: Vec::new(),
        };
        t.reshape(z, rt, ct);
        t
    }

    /// Rows of one slice (`rt * 32`).
    pub fn rows(&self) -> usize {
        self.rt as usize * TILE
    }

    /// Columns of one slice (`ct * 32`).
    pub fn cols(&self) -> usize {
        self.ct as usize * TILE
    }

    /// Values in one slice.
    pub fn slice_len(&self) -> usize {
        self.rows() * self.cols()
    }

    /// Gives the tensor a new shape, every value +0.0. The buffer is kept, so once a tensor
    /// has held its largest shape this allocates nothing.
    pub fn reshape(&mut self, z: u32, rt: u32, ct: u32) {
        self.z = z;
        self.rt = rt;
        self.ct = ct;
        let n = z as usize * rt as usize * TILE * ct as usize * TILE;
        self.data.clear();
        self.data.resize(n, 0.0);
    }

    /// Makes this tensor a copy of `src` (shape, tag and values), reusing the buffer.
    pub fn copy_from(&mut self, src: &Tensor) {
        self.z = src.z;
        self.rt = src.rt;
        self.ct = src.ct;
        self.tag = src.tag;
        self.data.clear();
        self.data.extend_from_slice(&src.data);
    }

    /// Whether the shapes (z, rt, ct) are equal (golden ignores tile dims and tags here).
    pub fn same_shape(&self, other: &Tensor) -> bool {
        (self.z, self.rt, self.ct) == (other.z, other.rt, other.ct)
    }
}

/// Where a graph's queue entries come from and go to.
pub trait QueueIo {
    /// Fills `out` (already shaped as one entry of the queue, tag = the queue's format) with
    /// the entry of queue `queue` (index into `Netlist::queues`) the current run reads.
    fn read(&mut self, queue: usize, out: &mut Tensor) -> Result<(), String>;

    /// Stores `entry` (the producer's output after the queue's `input_tms`) as the entry of
    /// queue `queue` the current run writes.
    fn write(&mut self, queue: usize, entry: &Tensor) -> Result<(), String>;

    /// Whether the program set `zero` on queue `queue` for this execute (gradient ops then
    /// start over instead of accumulating).
    fn zero(&self, _queue: usize) -> bool {
        false
    }
}

/// A failure compiling or running a graph: one line naming the graph, the op and its line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecError {
    pub message: String,
}

impl core::fmt::Display for ExecError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.message)
    }
}
