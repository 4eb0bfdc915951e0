//! Identity (sparse) matmul (golden-ops.md §8, "Identity (sparse) matmul"): `out = A · act`,
//! where the sparse left operand `A` never exists as a tensor. It arrives as two inputs: a
//! row of distinct 32x32 tiles (input 0, the "sparse tiles") and a byte stream (input 2, the
//! "encoding") saying which of those tiles sits where in `A`.
//!
//! Golden works per core, and so does ttrt (the split decides which encoding a core reads):
//! - input 0 and input 2 are cut into `grid_r` bands of tile rows; each band is cut into
//!   `fracture_factor` groups of tile columns. Core `(r, c)` reads band `r`, group
//!   `c / (grid_c / fracture_factor)`;
//! - the activations (input 1) are cut into `grid_c` groups of tile columns; core `(r, c)`
//!   reads group `c`;
//! - each core writes an output block of `mblock_m·ublock_rt x mblock_n·ublock_ct` tiles and
//!   `t` slices; the blocks are placed by core row and column (golden's hmerge/vmerge).
//!
//! The grid is the op's `grid_size` as written; `grid_transpose` only moves cores on the chip.
//! A bias (input 3, `bias: true`) is added elementwise after the merge: golden's identity path
//! adds the whole bias tile, not row 0 broadcast as the dense matmul does. `sfpu_op: gelu`
//! follows. Each tile product is golden's scalar tile matmul (`acc += a·b` over k in order,
//! no FMA), added to the output tile in fp32 in the order the encoding lists the tiles.
//!
//! # The encoding
//!
//! A core's encoding is its band/group of input 2 read as bytes: tiles in (t, row, column)
//! order, each tile's 1024 RawUInt32 words row-major, each word little-endian. An encoding
//! tile is therefore 4096 bytes. The byte stream is a list of strips:
//!
//! ```text
//! strip:   u32  bits 0..29  strip index s
//!               bit 30      last strip of the output slice (t advances after it)
//!               bit 31      last strip of this encoding tile (the next strip starts at the
//!                           next 4096-byte tile boundary instead of right after this one)
//!          u16  nz_ublocks: number of ublock records that follow
//!          per ublock:
//!            u16  low sparse_ublock_idx_bits (U) bits: ublock row index m (0..mblock_m),
//!                 high 16-U bits: number of tile records n (0 means 2^(16-U))
//!            n x u16  low 16-P bits (P = sparse_tile_ptr_bits): position in the ublock,
//!                       (tile row i << D) | k with D = bits(u_kt) (golden's width: the
//!                       smallest D >= 1 with (u_kt-1) >> D == 0), i < ublock_rt, k < u_kt;
//!                     high P bits: index of the sparse tile (column of the core's input 0)
//! ```
//!
//! Fields are packed with no padding: a strip is `6 + 2·(ublocks + tiles)` bytes and the
//! next one follows at once (so a strip may start at any even offset). `sparse_ublock_idx_bits`
//! defaults to `sparse_tile_ptr_bits` when absent or not positive.
//!
//! Meaning: strip `s` is the band of `u_kt` activation row tiles starting at row tile
//! `s·u_kt`, counted through the activation's t slices as one stack (row tile `q` is row tile
//! `q mod rt` of slice `q / rt`), so an activation with one slice serves every output slice and
//! one with `t` slices is addressed as `s = slice·m_k + strip`. Tile record `(i, k, p)` of
//! ublock `m` says `A[m·ublock_rt + i][s·u_kt + k] = sparse tile p` (tile column `p` of the
//! first tile row of the core's band/group of input 0): for every output column tile `c` of
//! the core, `out[t][m·ublock_rt + i][c] += sparse[p] · act[row tile s·u_kt + k][c]`.
//! Ublocks must be listed in increasing `m`, tile records in increasing `i·u_kt + k` (golden
//! walks them that way, comparing these linear positions, and silently skips anything out of
//! order; ttrt reports it). A slice with no nonzero strip still carries one strip, with no
//! ublocks, that ends it.
//!
//! The stream of a valid encoding ends with the strip that ends slice `t-1`; the rest of the
//! input (padding tiles) is never read. Reading past the core's bytes, a ublock index or tile
//! position outside the ublock grid or out of order, a sparse tile index past the core's sparse
//! tiles and a strip past the activation rows are errors ([`SparseError`]), never a panic.

use crate::format::DataFormat;
use crate::netlist::{Dim, Op};

use super::matmul::{add_bias, gather};
use super::ops::{apply_sfpu, Sfpu};
use super::tm::Shape;
use super::{OpError, Tensor, TILE};

const TILE_LEN: usize = TILE * TILE;

/// Bytes of one encoding tile: 1024 RawUInt32 words.
const ENCODING_TILE_BYTES: usize = TILE_LEN * 4;

/// Bytes of a strip's header: the u32 index word and the u16 ublock count.
const STRIP_HEADER_BYTES: usize = 6;

/// Golden's bit width of a count (`netlist_utils::get_bit_width`): the smallest `w >= 1` with
/// `(v - 1) >> w == 0`, so 1 for both 1 and 2, 5 for 32.
pub fn bit_width(v: u32) -> u32 {
    let mut w = 1;
    while w < 32 && (v.wrapping_sub(1) >> w) != 0 {
        w += 1;
    }
    w
}

/// Which core of the op's grid an encoding error belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Core {
    pub r: u32,
    pub c: u32,
}

/// Where in a core's encoding: the strip's ordinal in the stream and its byte offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StripAt {
    pub core: Core,
    pub strip: u32,
    pub offset: usize,
}

impl core::fmt::Display for StripAt {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "core ({}, {}): encoding strip #{} at byte {}",
            self.core.r, self.core.c, self.strip, self.offset
        )
    }
}

/// Why an identity matmul cannot be planned or its encoding cannot be followed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SparseError {
    /// A zero among the grid, `t`, mblock, ublock and `u_kt`, or an output too large to count.
    Geometry,
    /// `fracture_factor` is zero or does not divide the grid's columns.
    FractureFactor { factor: u32, grid_c: u32 },
    /// An input does not cut into the grid's bands and groups.
    Split {
        input: u32,
        shape: Shape,
        bands: u32,
        groups: u32,
    },
    /// The activations' per-core column group is narrower than the core's output block.
    ActivationWidth { ct: u32, grid_c: u32, needed: u32 },
    /// A bit field of the encoding is too narrow for what it must hold.
    Bits {
        field: &'static str,
        bits: u32,
        holds: &'static str,
        value: u32,
    },
    /// The encoding input is not RawUInt32.
    EncodingFormat(DataFormat),
    /// The core's bytes end inside a strip (a truncated strip list, or a last strip that does
    /// not end slice `t-1`).
    Truncated {
        at: StripAt,
        needed: usize,
        len: usize,
        batch: u32,
    },
    /// A ublock record whose index is past `mblock_m` or not above the previous one.
    UblockIndex {
        at: StripAt,
        record: u32,
        index: u32,
        mblock_m: u32,
    },
    /// A tile record whose position is outside the ublock or not after the previous one.
    TilePosition {
        at: StripAt,
        ublock: u32,
        record: u32,
        row: u32,
        k: u32,
    },
    /// A tile record naming a sparse tile the core does not have.
    SparseIndex { at: StripAt, index: u32, tiles: u32 },
    /// A strip past the last activation row.
    ActivationRow {
        at: StripAt,
        strip_index: u32,
        row: u64,
        rows: u64,
    },
}

impl core::fmt::Display for SparseError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            SparseError::Geometry => write!(
                f,
                "the grid, t, mblock, ublock and u_kt of an identity matmul must be positive and the output's tile counts fit 32 bits"
            ),
            SparseError::FractureFactor { factor, grid_c } => write!(
                f,
                "fracture_factor {factor} must be positive and divide the grid's {grid_c} columns"
            ),
            SparseError::Split {
                input,
                shape,
                bands,
                groups,
            } => write!(
                f,
                "input {input} {shape} does not cut into {bands} bands of tile rows and {groups} groups of tile columns"
            ),
            SparseError::ActivationWidth { ct, grid_c, needed } => write!(
                f,
                "input 1 has ct {ct}: {grid_c} core columns of at least {needed} tiles (mblock_n * ublock_ct) do not fit"
            ),
            SparseError::Bits {
                field,
                bits,
                holds,
                value,
            } => write!(
                f,
                "{field} ({bits} bits) cannot hold {holds} {value}"
            ),
            SparseError::EncodingFormat(df) => write!(
                f,
                "the encoding (input 2) must be RawUInt32, not {}",
                df.name()
            ),
            SparseError::Truncated {
                at,
                needed,
                len,
                batch,
            } => write!(
                f,
                "{at}: the encoding ends at byte {len} but the strip needs byte {needed} (truncated strip list; output slice {batch} was not ended)"
            ),
            SparseError::UblockIndex {
                at,
                record,
                index,
                mblock_m,
            } => write!(
                f,
                "{at}: ublock record {record} has index {index}, outside mblock_m {mblock_m} or not above the previous record"
            ),
            SparseError::TilePosition {
                at,
                ublock,
                record,
                row,
                k,
            } => write!(
                f,
                "{at}: tile record {record} of ublock {ublock} has position (row {row}, k {k}), outside the ublock or not after the previous record"
            ),
            SparseError::SparseIndex { at, index, tiles } => write!(
                f,
                "{at}: sparse tile index {index} is past the core's {tiles} sparse tiles"
            ),
            SparseError::ActivationRow {
                at,
                strip_index,
                row,
                rows,
            } => write!(
                f,
                "{at}: strip index {strip_index} reaches activation row tile {row}, past the activation's {rows}"
            ),
        }
    }
}

/// The geometry of an identity matmul: grid, blocks and the encoding's bit widths.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SparseLayout {
    pub grid_r: u32,
    pub grid_c: u32,
    pub fracture_factor: u32,
    /// Output slices (the op's `t`).
    pub t: u32,
    pub mblock_m: u32,
    pub mblock_n: u32,
    pub ublock_rt: u32,
    pub ublock_ct: u32,
    pub u_kt: u32,
    pub sparse_tile_ptr_bits: u32,
    pub sparse_ublock_idx_bits: u32,
}

impl SparseLayout {
    /// The output shape: the op's declared shape.
    pub fn output_shape(&self) -> Shape {
        Shape::new(
            self.t,
            self.grid_r
                .saturating_mul(self.mblock_m)
                .saturating_mul(self.ublock_rt),
            self.grid_c
                .saturating_mul(self.mblock_n)
                .saturating_mul(self.ublock_ct),
        )
    }

    /// Bits of a tile record's position field.
    fn position_bits(&self) -> u32 {
        16 - self.sparse_tile_ptr_bits
    }

    /// Bits of the `k` part of a tile position.
    fn k_bits(&self) -> u32 {
        bit_width(self.u_kt)
    }

    /// Core columns sharing one fracture group.
    fn cols_per_group(&self) -> u32 {
        self.grid_c / self.fracture_factor
    }

    /// Checks the geometry against the shapes of the sparse tiles, activations and encoding
    /// (after their TMs), as golden's asserts and splits do.
    pub fn check(&self, sparse: Shape, act: Shape, enc: Shape) -> Result<(), SparseError> {
        let dims = [
            self.grid_r,
            self.grid_c,
            self.t,
            self.mblock_m,
            self.mblock_n,
            self.ublock_rt,
            self.ublock_ct,
            self.u_kt,
        ];
        let fits =
            |a: u32, b: u32, c: u32| a.checked_mul(b).and_then(|x| x.checked_mul(c)).is_some();
        if dims.contains(&0)
            || !fits(self.grid_r, self.mblock_m, self.ublock_rt)
            || !fits(self.grid_c, self.mblock_n, self.ublock_ct)
        {
            return Err(SparseError::Geometry);
        }
        let ff = self.fracture_factor;
        if ff == 0 || self.grid_c % ff != 0 {
            return Err(SparseError::FractureFactor {
                factor: ff,
                grid_c: self.grid_c,
            });
        }
        let split = |input: u32, s: Shape, bands: u32, groups: u32| {
            if s.rt % bands != 0 || s.ct % groups != 0 || s.z == 0 || s.rt == 0 || s.ct == 0 {
                return Err(SparseError::Split {
                    input,
                    shape: s,
                    bands,
                    groups,
                });
            }
            Ok(())
        };
        split(0, sparse, self.grid_r, ff)?;
        split(1, act, 1, self.grid_c)?;
        split(2, enc, self.grid_r, ff)?;
        let needed = self.mblock_n * self.ublock_ct;
        if act.ct / self.grid_c < needed {
            return Err(SparseError::ActivationWidth {
                ct: act.ct,
                grid_c: self.grid_c,
                needed,
            });
        }
        let bits = |field, bits: u32, holds, value: u32, fits: bool| {
            if fits {
                Ok(())
            } else {
                Err(SparseError::Bits {
                    field,
                    bits,
                    holds,
                    value,
                })
            }
        };
        let ptr = self.sparse_tile_ptr_bits;
        bits(
            "sparse_tile_ptr_bits",
            ptr,
            "a width in 1..=15, not",
            ptr,
            (1..=15).contains(&ptr),
        )?;
        let ub = self.sparse_ublock_idx_bits;
        bits(
            "sparse_ublock_idx_bits",
            ub,
            "a width in 1..=15, not",
            ub,
            (1..=15).contains(&ub),
        )?;
        bits(
            "sparse_ublock_idx_bits",
            ub,
            "mblock_m",
            self.mblock_m,
            u64::from(self.mblock_m) <= 1u64 << ub,
        )?;
        // Golden's own assert, on the sparse tiles of one core column.
        let per_core = sparse.ct / self.grid_c / ff;
        bits(
            "sparse_tile_ptr_bits",
            ptr,
            "the sparse tiles per core",
            per_core,
            u64::from(per_core) <= 1u64 << ptr,
        )?;
        let pos = self.position_bits();
        let k_bits = self.k_bits();
        bits(
            "the tile position (16 - sparse_tile_ptr_bits)",
            pos,
            "the k bits of u_kt",
            self.u_kt,
            k_bits <= pos,
        )?;
        bits(
            "the tile row part of the tile position",
            pos.saturating_sub(k_bits),
            "ublock_rt",
            self.ublock_rt,
            k_bits <= pos && u64::from(self.ublock_rt) <= 1u64 << (pos - k_bits),
        )?;
        Ok(())
    }

    /// `out = A · act` per core and merged: `out` becomes the output shape (tag untouched),
    /// every tile written. The shapes must have passed [`SparseLayout::check`].
    pub fn run(
        &self,
        sparse: &Tensor,
        act: &Tensor,
        enc: &Tensor,
        out: &mut Tensor,
    ) -> Result<(), SparseError> {
        self.check(Shape::of(sparse), Shape::of(act), Shape::of(enc))?;
        if enc.tag != DataFormat::RawUInt32 {
            return Err(SparseError::EncodingFormat(enc.tag));
        }
        let s = self.output_shape();
        out.reshape(s.z, s.rt, s.ct);
        let act_finite = act.data.iter().all(|x| x.is_finite());
        for r in 0..self.grid_r {
            for c in 0..self.grid_c {
                self.run_core(Core { r, c }, sparse, act, act_finite, enc, out)?;
            }
        }
        Ok(())
    }

    /// One core: follows its encoding strip by strip.
    fn run_core(
        &self,
        core: Core,
        sparse: &Tensor,
        act: &Tensor,
        act_finite: bool,
        enc: &Tensor,
        out: &mut Tensor,
    ) -> Result<(), SparseError> {
        let group = core.c / self.cols_per_group();
        let ff = self.fracture_factor;
        let stream = Stream::new(enc, self.grid_r, ff, core.r, group);
        let sparse_cols = sparse.ct / ff;
        let sparse_row = (core.r * (sparse.rt / self.grid_r)) as usize;
        let sparse_col0 = (group * sparse_cols) as usize;
        let act_col0 = (core.c * (act.ct / self.grid_c)) as usize;
        let act_rows = u64::from(act.z) * u64::from(act.rt);
        let out_row0 = (core.r * self.mblock_m * self.ublock_rt) as usize;
        let out_col0 = (core.c * self.mblock_n * self.ublock_ct) as usize;
        let out_cols = (self.mblock_n * self.ublock_ct) as usize;
        let (ub_bits, pos_bits, k_bits) = (
            self.sparse_ublock_idx_bits,
            self.position_bits(),
            self.k_bits(),
        );
        let ub_mask = (1u32 << ub_bits) - 1;
        let pos_mask = (1u32 << pos_bits) - 1;
        let k_mask = (1u32 << k_bits) - 1;
        let max_tiles = 1u32 << (16 - ub_bits);

        let mut a = SparseTile::new();
        let mut offset = 0usize;
        let mut tile_base = 0usize;
        let mut batch = 0u32;
        let mut strip_no = 0u32;
        while batch < self.t {
            let at = StripAt {
                core,
                strip: strip_no,
                offset,
            };
            let read = |o: usize| {
                stream.u16_at(o).ok_or(SparseError::Truncated {
                    at,
                    needed: o + 2,
                    len: stream.len,
                    batch,
                })
            };
            let word = u32::from(read(offset)?) | (u32::from(read(offset + 2)?) << 16);
            let strip_index = word & ((1 << 30) - 1);
            let ends_slice = word & (1 << 30) != 0;
            let ends_tile = word & (1 << 31) != 0;
            let ublocks = u32::from(read(offset + 4)?);
            let records = offset + STRIP_HEADER_BYTES;
            // `next`: the u16 record being read, counted from `records`.
            let mut next = 0usize;
            let mut seen = 0u32;
            let mut m = 0u32;
            while seen < ublocks {
                let header = u32::from(read(records + 2 * next)?);
                let index = header & ub_mask;
                // Golden walks m upwards and matches the next record against it: a record
                // that is out of range or out of order is never reached.
                while m < self.mblock_m && m != index {
                    m += 1;
                }
                if m == self.mblock_m {
                    return Err(SparseError::UblockIndex {
                        at,
                        record: seen,
                        index,
                        mblock_m: self.mblock_m,
                    });
                }
                let tiles = match header >> ub_bits {
                    0 => max_tiles,
                    n => n,
                };
                let first = next + 1;
                let mut taken = 0u32;
                'positions: for i in 0..self.ublock_rt {
                    for k in 0..self.u_kt {
                        if taken == tiles {
                            break 'positions;
                        }
                        let rec = u32::from(read(records + 2 * (first + taken as usize))?);
                        let pos = rec & pos_mask;
                        // Golden compares linear positions `row·u_kt + k`, so with a k field
                        // wider than u_kt needs, (row, u_kt + j) stands for (row + 1, j).
                        let linear = (pos >> k_bits) * self.u_kt + (pos & k_mask);
                        if linear != i * self.u_kt + k {
                            continue;
                        }
                        taken += 1;
                        let p = rec >> pos_bits;
                        if p >= sparse_cols {
                            return Err(SparseError::SparseIndex {
                                at,
                                index: p,
                                tiles: sparse_cols,
                            });
                        }
                        let row = u64::from(strip_index) * u64::from(self.u_kt) + u64::from(k);
                        if row >= act_rows {
                            return Err(SparseError::ActivationRow {
                                at,
                                strip_index,
                                row,
                                rows: act_rows,
                            });
                        }
                        let (az, ar) = (
                            (row / u64::from(act.rt)) as usize,
                            (row % u64::from(act.rt)) as usize,
                        );
                        a.load(sparse, sparse_row, sparse_col0 + p as usize);
                        let orow = out_row0 + (m * self.ublock_rt + i) as usize;
                        for col in 0..out_cols {
                            a.accumulate(
                                act,
                                (az, ar, act_col0 + col),
                                act_finite,
                                out,
                                (batch as usize, orow, out_col0 + col),
                            );
                        }
                    }
                }
                if taken != tiles {
                    let rec = u32::from(read(records + 2 * (first + taken as usize))?);
                    let pos = rec & pos_mask;
                    return Err(SparseError::TilePosition {
                        at,
                        ublock: m,
                        record: taken,
                        row: pos >> k_bits,
                        k: pos & k_mask,
                    });
                }
                next = first + tiles as usize;
                seen += 1;
                m += 1;
            }
            offset = records + 2 * next;
            if ends_tile {
                tile_base += ENCODING_TILE_BYTES;
                offset = tile_base;
            }
            batch += u32::from(ends_slice);
            strip_no += 1;
        }
        Ok(())
    }
}

/// One core's band/group of the encoding input, read as little-endian bytes.
struct Stream<'a> {
    t: &'a Tensor,
    row0: usize,
    rows: usize,
    col0: usize,
    cols: usize,
    len: usize,
}

impl<'a> Stream<'a> {
    fn new(t: &'a Tensor, bands: u32, groups: u32, band: u32, group: u32) -> Stream<'a> {
        let rows = (t.rt / bands) as usize;
        let cols = (t.ct / groups) as usize;
        Stream {
            t,
            row0: band as usize * rows,
            rows,
            col0: group as usize * cols,
            cols,
            len: t.z as usize * rows * cols * ENCODING_TILE_BYTES,
        }
    }

    /// The u16 at an even byte offset, or None past the end.
    fn u16_at(&self, offset: usize) -> Option<u16> {
        if offset + 2 > self.len {
            return None;
        }
        let word = offset / 4;
        let (tile, w) = (word / TILE_LEN, word % TILE_LEN);
        let (z, r, c) = (
            tile / (self.rows * self.cols),
            tile / self.cols % self.rows,
            tile % self.cols,
        );
        let row = (z * self.t.rows()) + (self.row0 + r) * TILE + w / TILE;
        let bits = self.t.data[row * self.t.cols() + (self.col0 + c) * TILE + w % TILE].to_bits();
        Some(if offset % 4 == 0 {
            bits as u16
        } else {
            (bits >> 16) as u16
        })
    }
}

/// A sparse tile as golden's scalar tile matmul sees it, plus its nonzero entries row by row
/// (sparse tiles are mostly zeros: one 1 per row in upstream's tests).
struct SparseTile {
    a: [f32; TILE_LEN],
    /// Nonzero entries in row-major order: column and value.
    k: [u8; TILE_LEN],
    v: [f32; TILE_LEN],
    /// Row `i`'s entries are `start[i]..start[i + 1]`.
    start: [u16; TILE + 1],
}

impl SparseTile {
    fn new() -> SparseTile {
        SparseTile {
            a: [0.0; TILE_LEN],
            k: [0; TILE_LEN],
            v: [0.0; TILE_LEN],
            start: [0; TILE + 1],
        }
    }

    /// Loads tile `(0, r, c)` of `t`.
    fn load(&mut self, t: &Tensor, r: usize, c: usize) {
        gather(t, 0, r, c, &mut self.a);
        let mut n = 0;
        for i in 0..TILE {
            self.start[i] = n as u16;
            for k in 0..TILE {
                let x = self.a[i * TILE + k];
                if x != 0.0 {
                    self.k[n] = k as u8;
                    self.v[n] = x;
                    n += 1;
                }
            }
        }
        self.start[TILE] = n as u16;
    }

    /// `out tile += a · b tile`: golden's scalar tile matmul (`acc = +0`, then
    /// `acc += a[i][k]·b[k][j]` for k in order, no FMA) added to the output tile in fp32.
    ///
    /// With `b_finite` (no inf or NaN anywhere in `b`), a term with `a[i][k] = ±0` is ±0, which
    /// leaves an accumulator that started at +0 unchanged (it can never become -0), so only
    /// the nonzero entries are visited, in the same k order. Otherwise every term is taken,
    /// so 0·inf still gives NaN.
    fn accumulate(
        &self,
        b: &Tensor,
        (bz, br, bc): (usize, usize, usize),
        b_finite: bool,
        out: &mut Tensor,
        (oz, or, oc): (usize, usize, usize),
    ) {
        let (b_rows, b_cols) = (b.rows(), b.cols());
        let b_row = |k: usize| {
            let o = (bz * b_rows + br * TILE + k) * b_cols + bc * TILE;
            &b.data[o..o + TILE]
        };
        let (o_rows, o_cols) = (out.rows(), out.cols());
        for i in 0..TILE {
            let mut acc = [0f32; TILE];
            if b_finite {
                let (lo, hi) = (usize::from(self.start[i]), usize::from(self.start[i + 1]));
                for (&k, &a) in self.k[lo..hi].iter().zip(&self.v[lo..hi]) {
                    for (s, &x) in acc.iter_mut().zip(b_row(usize::from(k))) {
                        *s += a * x;
                    }
                }
            } else {
                for (k, &a) in self.a[i * TILE..(i + 1) * TILE].iter().enumerate() {
                    for (s, &x) in acc.iter_mut().zip(b_row(k)) {
                        *s += a * x;
                    }
                }
            }
            let o = (oz * o_rows + or * TILE + i) * o_cols + oc * TILE;
            for (d, &s) in out.data[o..o + TILE].iter_mut().zip(&acc) {
                *d += s;
            }
        }
    }
}

/// A compiled identity matmul op: the layout, whether a bias follows, and the fused gelu.
pub struct IdentityMatmulPlan {
    pub layout: SparseLayout,
    pub bias: bool,
    pub gelu: Option<Dim>,
    pub out_df: DataFormat,
}

impl IdentityMatmulPlan {
    /// Plans `op` (an identity matmul) on its inputs' shapes after their TMs; `vector` is the
    /// op's SFPU vector mode. The output shape is the declared one.
    pub fn new(op: &Op, shapes: &[Shape], vector: Dim) -> Result<IdentityMatmulPlan, OpError> {
        let a = &op.attributes;
        if a.requant || a.dequant {
            return Err(OpError::IdentityQuant);
        }
        if a.accumulate {
            return Err(OpError::IdentityAccumulate);
        }
        let gelu = super::matmul::fused_sfpu(a.sfpu_op.as_deref(), vector)?;
        let count = 3 + a.bias as usize;
        if shapes.len() != count {
            return Err(OpError::IdentityInputs {
                bias: a.bias,
                count,
                found: shapes.len(),
            });
        }
        if let Some(df) = op.in_df.get(2).filter(|&&df| df != DataFormat::RawUInt32) {
            return Err(SparseError::EncodingFormat(*df).into());
        }
        let width = |v: Option<i64>, attribute: &'static str| -> Result<u32, OpError> {
            match v {
                Some(b) if (1..=15).contains(&b) => Ok(b as u32),
                Some(bits) => Err(OpError::IdentityBits { attribute, bits }),
                None => Err(OpError::IdentityNoBits { attribute }),
            }
        };
        let ptr = width(a.sparse_tile_ptr_bits, "sparse_tile_ptr_bits")?;
        // Golden: a missing or non-positive sparse_ublock_idx_bits means sparse_tile_ptr_bits.
        let ub = match a.sparse_ublock_idx_bits {
            Some(b) if b > 0 => width(Some(b), "sparse_ublock_idx_bits")?,
            _ => ptr,
        };
        let ff = match a.fracture_factor {
            None => 1,
            Some(f) if f > 0 && f <= i64::from(u32::MAX) => f as u32,
            Some(factor) => return Err(OpError::IdentityFracture { factor }),
        };
        let layout = SparseLayout {
            grid_r: op.grid_size.r,
            grid_c: op.grid_size.c,
            fracture_factor: ff,
            t: op.t,
            mblock_m: op.mblock.m,
            mblock_n: op.mblock.n,
            ublock_rt: op.ublock.rt,
            ublock_ct: op.ublock.ct,
            u_kt: a.u_kt.unwrap_or(1),
            sparse_tile_ptr_bits: ptr,
            sparse_ublock_idx_bits: ub,
        };
        layout.check(shapes[0], shapes[1], shapes[2])?;
        if a.bias && shapes[3] != layout.output_shape() {
            return Err(OpError::IdentityBias {
                bias: shapes[3],
                output: layout.output_shape(),
            });
        }
        Ok(IdentityMatmulPlan {
            layout,
            bias: a.bias,
            gelu,
            out_df: op.out_df,
        })
    }

    /// The op: product, bias, gelu. `scratch` is a tensor the op may reuse.
    pub fn run(
        &self,
        sparse: &Tensor,
        act: &Tensor,
        enc: &Tensor,
        bias: Option<&Tensor>,
        scratch: &mut Tensor,
        dst: &mut Tensor,
    ) -> Result<(), OpError> {
        self.layout.run(sparse, act, enc, dst)?;
        dst.tag = self.out_df;
        if let Some(bias) = bias {
            add_bias(dst, bias, true);
        }
        if let Some(vector) = self.gelu {
            apply_sfpu(
                Sfpu::Compute(crate::compute::UnaryOp::Gelu),
                vector,
                dst,
                scratch,
            )?;
            core::mem::swap(dst, scratch);
        }
        Ok(())
    }
}
