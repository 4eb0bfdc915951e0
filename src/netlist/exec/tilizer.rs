//! tilizer (golden-ops.md §10): the rows of a queue's flat host buffer, tilized.
//!
//! Upstream's golden (`ops/tilizer.cpp`, `tt_tensor::tilize_inplace`) does not use the tiles of
//! its input: a pushed entry carries the host's flat buffer `F` (`rt*th x ct*tw` values per t
//! slice, row-major, for a queue of `th x tw` tiles), and the tilizer tilizes it anew with the
//! queue's tile dims: element (R, C) of a slice goes to tile (R/th, C/tw), at (R%th, C%tw).
//! Every row of `F` survives: a queue of 16x32 tiles holds `rt*16` rows and each lands in the
//! top 16 rows of an output tile (rows 16..31 are 0). Golden then clears every tile outside
//! the op's tile_dim and gives the output the op's tile dims; the output keeps the input's
//! format tag (golden copies the input tensor), which the usual output quantization may change.
//! For a Raw format golden tilizes in "megarow" order instead: output tile k (row-major over
//! the tile grid) holds values `k*th*tw..` of `F`, row-major within its `th x tw` corner.
//!
//! ttrt's engine reads a queue entry as the host sees it (`QueueIo::read`, small tiles spread
//! into the corners of 32x32 tiles), so for a flat queue its input tensor already is `F`
//! placed as the tilizer places it: the tilizer copies it (or reorders it, for Raw formats),
//! then the op's tile_dim clears it.
//!
//! Values. Golden's `F` is the host's data *unquantized*: a push converts the entry's tiles to
//! the queue's `df`, not the buffer the tilizer reads, and the input quantization before an op
//! (Float32 to Tf32 on Wormhole B0) changes the tiles and the tag, not `F`; ttrt keeps the
//! tag change and not the truncation. On silicon the device tilizes the bytes the queue holds,
//! the host data converted to `df`. ttrt's default mode does that: the tilizer reads the
//! queue's values, quantized to its `df` at the push. Golden mode (`BackendConfig::golden`)
//! reproduces golden: a flat queue the host feeds and only tilizers read keeps the pushed
//! values as float32, unquantized (`backend::queue::keeps_f32`), so the tilizer sees the
//! host's data. Not for integer or Raw formats, which golden mode keeps in their format (the
//! host's integers are exact in them), nor for a queue another op also reads (golden gives
//! that op the quantized tiles) or a view of a dual-view ram.
//!
//! What ttrt refuses, as upstream does: more than one input, an input 0 that is not a queue
//! (net2pipe), a queue an op writes (its entries carry no host buffer: golden's tilize
//! asserts), TMs on the input (the netlist parser), and input pad or unpad (golden rebuilds
//! the tensor without the host buffer); when either ublock has more than one row, the input
//! queue's and the op's ublocks must be equal (the netlist parser). A tilized queue the host
//! feeds is accepted: golden tilizes the host buffer of its entries just the same (on
//! silicon the kernel would read the tiles' bytes as rows).

use crate::format::{Arch, DataFormat, TileDim};
use crate::netlist::{Netlist, Op};

use super::OpError;
use super::{Tensor, TILE};

/// A compiled tilizer.
pub struct TilizerPlan {
    /// The input queue's tiles.
    tile: TileDim,
    /// A Raw input format: golden tilizes in megarow order.
    megarow: bool,
    arch: Arch,
}

impl TilizerPlan {
    /// Checks the op against upstream's rules (see the module documentation).
    pub fn new(netlist: &Netlist, op: &Op, arch: Arch) -> Result<TilizerPlan, OpError> {
        let [name] = &op.inputs[..] else {
            return Err(OpError::TilizerInputs {
                found: op.inputs.len(),
            });
        };
        if netlist.op(name).is_some() {
            return Err(OpError::TilizerReadsOp {
                input: name.clone(),
            });
        }
        let q = netlist
            .queue(name)
            .ok_or_else(|| OpError::TilizerNotQueue {
                input: name.clone(),
            })?;
        if !q.is_host_input() {
            return Err(OpError::TilizerWriter {
                input: name.clone(),
                writer: q.input.clone(),
            });
        }
        if op.input_tms.first().is_some_and(|t| !t.is_empty()) {
            return Err(OpError::TilizerTms);
        }
        if op.input_pad.first().copied().flatten().is_some()
            || op.input_unpad.first().copied().flatten().is_some()
        {
            return Err(OpError::TilizerPad);
        }
        if (q.ublock.rt > 1 || op.ublock.rt > 1) && q.ublock != op.ublock {
            return Err(OpError::TilizerUblock {
                input: name.clone(),
                op: [op.ublock.rt, op.ublock.ct],
                queue: [q.ublock.rt, q.ublock.ct],
            });
        }
        Ok(TilizerPlan {
            tile: q.tile_dim,
            megarow: q.df.is_raw(),
            arch,
        })
    }

    /// Tilizes `src`, the input queue's entry as read (not quantized for the op), into `dst`
    /// (already of the same shape). Allocates nothing.
    pub fn run(&self, src: &Tensor, dst: &mut Tensor) {
        // Golden's input quantization retags a Float32 input Tf32 on Wormhole B0; the
        // tilizer's output carries that tag, but its values come from the host buffer.
        let tag = if src.tag == DataFormat::Float32 && self.arch == Arch::WormholeB0 {
            DataFormat::Tf32
        } else {
            src.tag
        };
        if !self.megarow {
            dst.copy_from(src);
            dst.tag = tag;
            return;
        }
        dst.z = src.z;
        dst.rt = src.rt;
        dst.ct = src.ct;
        dst.tag = tag;
        dst.data.clear();
        dst.data.resize(src.data.len(), 0.0);
        let (th, tw) = (self.tile.height as usize, self.tile.width as usize);
        let (rt, ct) = (src.rt as usize, src.ct as usize);
        let (rows, cols) = (src.rows(), src.cols());
        // Host element (R, C) of a slice, from where the queue read placed it.
        let host = |z: usize, f: usize| {
            let (r, c) = (f / (ct * tw), f % (ct * tw));
            src.data[(z * rows + r / th * TILE + r % th) * cols + c / tw * TILE + c % tw]
        };
        for z in 0..src.z as usize {
            for k in 0..rt * ct {
                let (i, j) = (k / ct, k % ct);
                for r in 0..th {
                    for c in 0..tw {
                        let v = host(z, k * th * tw + r * tw + c);
                        dst.data[(z * rows + i * TILE + r) * cols + j * TILE + c] = v;
                    }
                }
            }
        }
    }
}
