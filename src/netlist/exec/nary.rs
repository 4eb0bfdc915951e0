//! splice and embedding (golden-ops.md §10): the ops whose output shape is the declared one.
//!
//! splice takes, from every consecutive group of `index + stride` units of each input, units
//! `[index, index + length)`, interleaving the inputs round by round. Units are t slices
//! (`granularity: t`) or, per core of the op's grid, ublocks of the output's ublock shape walked
//! in the op's `ublock_order` (`granularity: ublock`, the default).
//!
//! embedding copies table rows chosen by indices. ⚠ Golden reads both the table and the
//! indices as "flat" data: the tensor's tiles in row-major tile order, each tile's 1024 values
//! row-major (the megarow layout of a Flat queue). ttrt follows that reading; it has not been
//! checked against a run of golden.

use alloc::vec::Vec;

use crate::format::UblockOrder;
use crate::netlist::{Op, SpliceMode};

use super::tm::Shape;
use super::OpError;
use super::{Tensor, TILE};

#[derive(Clone, Copy, Debug)]
struct Window {
    index: usize,
    length: usize,
    stride: usize,
}

/// A compiled splice.
pub struct SplicePlan {
    windows: Vec<Window>,
    rounds: usize,
    /// `None` for t granularity; else the op grid, ublock, output mblock and order.
    ublock: Option<UblockSplice>,
    tag: crate::format::DataFormat,
}

#[derive(Clone, Copy, Debug)]
struct UblockSplice {
    grid_r: usize,
    grid_c: usize,
    ur: usize,
    uc: usize,
    m: usize,
    n: usize,
    order: UblockOrder,
}

/// The tile origin of ublock `o` of an `m x n` mblock walked in `order`.
#[inline]
fn ublock_at(o: usize, m: usize, n: usize, order: UblockOrder) -> (usize, usize) {
    match order {
        UblockOrder::R => (o / n, o % n),
        UblockOrder::C => (o % m, o / m),
    }
}

impl SplicePlan {
    pub fn new(op: &Op, shapes: &[Shape], declared: Shape) -> Result<SplicePlan, OpError> {
        let a = &op.attributes;
        if shapes.is_empty() || shapes.len() > 8 {
            return Err(OpError::SpliceInputs {
                found: shapes.len(),
            });
        }
        let ublock = match a.granularity.unwrap_or(SpliceMode::Ublock) {
            SpliceMode::T => None,
            SpliceMode::Ublock => Some(UblockSplice {
                grid_r: op.grid_size.r as usize,
                grid_c: op.grid_size.c as usize,
                ur: op.ublock.rt as usize,
                uc: op.ublock.ct as usize,
                m: op.mblock.m as usize,
                n: op.mblock.n as usize,
                order: op.ublock_order,
            }),
        };
        let mut windows = Vec::new();
        let mut rounds = None;
        let mut out_units = 0;
        for (k, s) in shapes.iter().enumerate() {
            let w = a
                .splice
                .get(k)
                .copied()
                .flatten()
                .ok_or(OpError::SpliceNoWindow { input: k })?;
            if w.index < 0 || w.length < 0 || w.stride < w.length {
                return Err(OpError::SpliceWindow {
                    input: k,
                    window: w,
                });
            }
            let units = match ublock {
                None => {
                    if (s.rt, s.ct) != (declared.rt, declared.ct) {
                        return Err(OpError::SpliceTiles {
                            input: k,
                            shape: *s,
                            output: declared,
                        });
                    }
                    s.z as usize
                }
                Some(u) => {
                    let (rt, ct) = (s.rt as usize, s.ct as usize);
                    if s.z != declared.z
                        || rt % (u.grid_r * u.ur) != 0
                        || ct % (u.grid_c * u.uc) != 0
                    {
                        return Err(OpError::SpliceUblocks {
                            input: k,
                            shape: *s,
                        });
                    }
                    (rt / u.grid_r / u.ur) * (ct / u.grid_c / u.uc)
                }
            };
            let w = Window {
                index: w.index as usize,
                length: w.length as usize,
                stride: w.stride as usize,
            };
            let group = w.index + w.stride;
            if group == 0 || units % group != 0 || w.index + w.length > units {
                return Err(OpError::SpliceGroup {
                    input: k,
                    group,
                    units,
                });
            }
            let r = units / group;
            if *rounds.get_or_insert(r) != r {
                return Err(OpError::SpliceRounds);
            }
            out_units += w.length;
            windows.push(w);
        }
        let rounds = rounds.unwrap_or(0);
        let expected = match ublock {
            None => declared.z as usize,
            Some(u) => u.m * u.n,
        };
        if rounds * out_units != expected {
            return Err(OpError::SpliceUnits {
                produced: rounds * out_units,
                holds: expected,
            });
        }
        Ok(SplicePlan {
            windows,
            rounds,
            ublock,
            tag: op.out_df,
        })
    }

    /// Writes the splice of `input(0..)` to `dst` (already shaped as the declared output).
    pub fn run<'a>(&self, input: impl Fn(usize) -> &'a Tensor, dst: &mut Tensor) {
        dst.tag = self.tag;
        let mut out = 0;
        match self.ublock {
            None => {
                let n = dst.slice_len();
                for round in 0..self.rounds {
                    for (k, w) in self.windows.iter().enumerate() {
                        let src = input(k);
                        for u in 0..w.length {
                            let s = round * (w.index + w.stride) + w.index + u;
                            dst.data[out * n..(out + 1) * n]
                                .copy_from_slice(&src.data[s * n..(s + 1) * n]);
                            out += 1;
                        }
                    }
                }
            }
            Some(u) => {
                let (orows, ocols) = (dst.rows(), dst.cols());
                for z in 0..dst.z as usize {
                    for gr in 0..u.grid_r {
                        for gc in 0..u.grid_c {
                            out = 0;
                            for round in 0..self.rounds {
                                for (k, w) in self.windows.iter().enumerate() {
                                    let src = input(k);
                                    let (rows, cols) = (src.rows(), src.cols());
                                    let (crt, cct) =
                                        (src.rt as usize / u.grid_r, src.ct as usize / u.grid_c);
                                    let (m_in, n_in) = (crt / u.ur, cct / u.uc);
                                    for l in 0..w.length {
                                        let s = round * (w.index + w.stride) + w.index + l;
                                        let (sr, sc) = ublock_at(s, m_in, n_in, u.order);
                                        let (dr, dc) = ublock_at(out, u.m, u.n, u.order);
                                        let srow = (gr * crt + sr * u.ur) * TILE;
                                        let scol = (gc * cct + sc * u.uc) * TILE;
                                        let drow = (gr * u.m * u.ur + dr * u.ur) * TILE;
                                        let dcol = (gc * u.n * u.uc + dc * u.uc) * TILE;
                                        let width = u.uc * TILE;
                                        for i in 0..u.ur * TILE {
                                            let so = (z * rows + srow + i) * cols + scol;
                                            let d = (z * orows + drow + i) * ocols + dcol;
                                            dst.data[d..d + width]
                                                .copy_from_slice(&src.data[so..so + width]);
                                        }
                                        out += 1;
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A compiled embedding.
pub struct EmbeddingPlan {
    num_indices: usize,
    grid_r: usize,
    tag: crate::format::DataFormat,
}

/// Value `i` of slice `z` of `t` read as flat data (tiles in row-major tile order, each tile
/// row-major).
#[inline]
fn flat(t: &Tensor, z: usize, i: usize) -> f32 {
    let tile = i / (TILE * TILE);
    let within = i % (TILE * TILE);
    let (tr, tc) = (tile / t.ct as usize, tile % t.ct as usize);
    let row = tr * TILE + within / TILE;
    let col = tc * TILE + within % TILE;
    t.data[(z * t.rows() + row) * t.cols() + col]
}

impl EmbeddingPlan {
    pub fn new(op: &Op, shapes: &[Shape], declared: Shape) -> Result<EmbeddingPlan, OpError> {
        let num = op
            .attributes
            .num_indices
            .ok_or(OpError::EmbeddingNoNumIndices)? as usize;
        let grid_r = op.grid_size.r as usize;
        let (table, idx) = (shapes[0], shapes[1]);
        let per_core = num.div_ceil(TILE) * grid_r;
        if per_core != declared.rt as usize {
            return Err(OpError::EmbeddingRows {
                rt: declared.rt,
                grid_r,
                num,
            });
        }
        if table.ct != declared.ct || table.z != declared.z || idx.z != declared.z {
            return Err(OpError::EmbeddingShapes {
                table,
                indices: idx,
                output: declared,
            });
        }
        if idx.rt as usize % grid_r != 0
            || (idx.rt as usize / grid_r) * idx.ct as usize * TILE * TILE < num
        {
            return Err(OpError::EmbeddingIndices { indices: idx, num });
        }
        Ok(EmbeddingPlan {
            num_indices: num,
            grid_r,
            tag: op.out_df,
        })
    }

    pub fn run(&self, table: &Tensor, indices: &Tensor, dst: &mut Tensor) -> Result<(), OpError> {
        dst.data.fill(0.0);
        dst.tag = self.tag;
        let width = table.cols();
        let table_rows = table.slice_len() / width;
        let core_rows = indices.rt as usize / self.grid_r;
        let per_core = core_rows * TILE * indices.cols();
        let out_core_rows = self.num_indices.div_ceil(TILE) * TILE;
        for z in 0..dst.z as usize {
            for g in 0..self.grid_r {
                for w in 0..self.num_indices {
                    // Flat position of index w of core row g: the core's rows come first.
                    let i = g * per_core + w;
                    let v = flat(indices, z, i).to_bits();
                    if v == u32::MAX {
                        continue;
                    }
                    let k = v as usize;
                    if k >= table_rows {
                        return Err(OpError::EmbeddingIndex {
                            index: k,
                            rows: table_rows,
                        });
                    }
                    let d = (z * dst.rows() + g * out_core_rows + w) * dst.cols();
                    for c in 0..width {
                        dst.data[d + c] = flat(table, z, k * width + c);
                    }
                }
            }
        }
        Ok(())
    }
}
