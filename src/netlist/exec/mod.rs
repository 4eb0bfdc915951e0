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

use crate::format::{DataFormat, TileDim};

mod fused;
mod graph;
pub mod matmul;
mod nary;
mod op_error;
pub mod ops;
mod plan_error;
pub mod quantize;
pub mod sparse;
pub mod tilizer;
pub mod tm;
mod topk;
pub mod workers;

pub use graph::{BufferPool, GraphPlan};
pub use op_error::OpError;
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
        // Zeroed memory from the allocator: a large buffer stays untouched (and out of the
        // resident set) until it is written.
        let n = z as usize * rt as usize * TILE * ct as usize * TILE;
        Tensor {
            z,
            rt,
            ct,
            tag,
            data: alloc::vec![0.0; n],
        }
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

    /// Gives the tensor a new shape whose every value the caller then writes: the values are
    /// whatever the buffer held (only a buffer that grows gets +0.0 past its old length), so
    /// nothing is cleared twice. Allocates nothing once the buffer has held the shape.
    pub fn reshape_for_overwrite(&mut self, z: u32, rt: u32, ct: u32) {
        self.z = z;
        self.rt = rt;
        self.ct = ct;
        let n = z as usize * rt as usize * TILE * ct as usize * TILE;
        if n <= self.data.len() {
            self.data.truncate(n);
        } else {
            if n > self.data.capacity() {
                // Growing: nothing of the old values needs to move.
                self.data.clear();
            }
            self.data.resize(n, 0.0);
        }
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

    /// Spreads an entry of a queue with `tile`-sized tiles into the tensor's 32x32 tiles.
    ///
    /// On entry the first `z * rt*tile.height * ct*tile.width` values hold the entry as the
    /// host sees it (row-major per slice); afterwards element (R, C) of that slice sits at row
    /// `(R / height)*32 + R % height`, column `(C / width)*32 + C % width` of the tensor, and
    /// the rest of every tile is +0.0, as golden holds such tiles. Allocates nothing.
    pub fn spread_tiles(&mut self, tile: TileDim) {
        let (h, w) = (tile.height as usize, tile.width as usize);
        let (rows, cols) = (self.rows(), self.cols());
        let (crows, ccols) = (self.rt as usize * h, self.ct as usize * w);
        let compact = self.z as usize * crows * ccols;
        if compact == self.data.len() {
            return;
        }
        self.data[compact..].fill(0.0);
        // Every value moves to an index at or after its own, so walking backwards never
        // overwrites a value that has not moved yet; a vacated index that is nobody's target
        // becomes 0, and one that is a target is written later, by an earlier value.
        for i in (0..compact).rev() {
            let z = i / (crows * ccols);
            let (r, c) = ((i / ccols) % crows, i % ccols);
            let to = (z * rows + (r / h) * TILE + r % h) * cols + (c / w) * TILE + c % w;
            if to != i {
                self.data[to] = self.data[i];
                self.data[i] = 0.0;
            }
        }
    }

    /// The inverse of [`Tensor::spread_tiles`]: keeps the top-left `tile` corner of every
    /// 32x32 tile, packed in the host layout (element (R, C) of a slice at row-major index
    /// `R * ct*width + C` of that slice), and shortens `data` to those
    /// `z * rt*height * ct*width` values. This is how an entry of a queue with such tiles is
    /// handed to [`QueueIo::write`]. Allocates nothing (the buffer keeps its capacity).
    pub fn gather_tiles(&mut self, tile: TileDim) {
        let (h, w) = (tile.height as usize, tile.width as usize);
        let (rows, cols) = (self.rows(), self.cols());
        let (crows, ccols) = (self.rt as usize * h, self.ct as usize * w);
        let compact = self.z as usize * crows * ccols;
        if compact == self.data.len() {
            return;
        }
        // Every value moves to an index at or before its own: walking forwards reads each
        // source before anything overwrites it.
        for i in 0..compact {
            let z = i / (crows * ccols);
            let (r, c) = ((i / ccols) % crows, i % ccols);
            let from = (z * rows + (r / h) * TILE + r % h) * cols + (c / w) * TILE + c % w;
            self.data[i] = self.data[from];
        }
        self.data.truncate(compact);
    }

    /// Golden's clearing to `tile` after an op (golden-ops.md §4): values outside the top-left
    /// `height x width` of every tile are multiplied by a 0 mask, where 0·inf gives 0 and a NaN
    /// stays NaN.
    pub fn clear_outside(&mut self, tile: TileDim) {
        let (h, w) = (tile.height as usize, tile.width as usize);
        let cols = self.cols();
        for (i, v) in self.data.iter_mut().enumerate() {
            let (r, c) = ((i / cols) % TILE, i % cols % TILE);
            if r >= h || c >= w {
                *v = if v.is_nan() {
                    *v
                } else if v.is_infinite() {
                    0.0
                } else {
                    *v * 0.0
                };
            }
        }
    }
}

/// Where a graph's queue entries come from and go to.
pub trait QueueIo {
    /// Why a read or write failed, in the host's own terms; the engine puts its text into the
    /// [`ExecError`] that names the graph, the op and the queue.
    type Error: core::fmt::Display;

    /// Fills `out` (already shaped as one entry of the queue, tag = the queue's format) with
    /// the entry of queue `queue` (index into `Netlist::queues`) the current run reads. For a
    /// queue with tiles smaller than 32x32 (`tile_dim`), each tile's values sit in its top-left
    /// corner and the rest is 0 ([`Tensor::spread_tiles`] makes that from the host layout).
    fn read(&mut self, queue: usize, out: &mut Tensor) -> Result<(), Self::Error>;

    /// Stores `entry` (the producer's output after the queue's `input_tms`) as the entry of
    /// queue `queue` the current run writes. For a queue with tiles smaller than 32x32,
    /// `entry.data` holds only the values of the tiles, in the host layout
    /// ([`Tensor::gather_tiles`]).
    fn write(&mut self, queue: usize, entry: &Tensor) -> Result<(), Self::Error>;

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
