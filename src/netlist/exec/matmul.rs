//! matmul, depthwise and reduce on whole tensors (golden-ops.md §8, §9).
//!
//! matmul adds tile products with golden's 8-lane FMA tree
//! ([`compute::matmul_tile_accumulate`]), K tile by K tile, into an output tile that starts at
//! +0. Depthwise uses golden's scalar tile matmul: a plain `acc += a·b` loop over k, which g++
//! does not contract to FMA under `--std=c++17` (ISO mode turns `-ffp-contract` off).

use crate::compute::{self, mul0};
use crate::format::DataFormat;
use crate::netlist::{Dim, OpType};

use super::ops::{apply_sfpu, Sfpu};
use super::OpError;
use super::{workers, Tensor, TILE};

const TILE_LEN: usize = TILE * TILE;

/// Copies tile `(z, r, c)` of `t` into `out`, row-major.
#[inline]
pub(crate) fn gather(t: &Tensor, z: usize, r: usize, c: usize, out: &mut [f32; TILE_LEN]) {
    let (rows, cols) = (t.rows(), t.cols());
    for i in 0..TILE {
        let o = (z * rows + r * TILE + i) * cols + c * TILE;
        out[i * TILE..(i + 1) * TILE].copy_from_slice(&t.data[o..o + TILE]);
    }
}

/// Writes `tile` as tile `(z, r, c)` of `t`.
#[inline]
pub(crate) fn scatter(tile: &[f32; TILE_LEN], t: &mut Tensor, z: usize, r: usize, c: usize) {
    let (rows, cols) = (t.rows(), t.cols());
    for i in 0..TILE {
        let o = (z * rows + r * TILE + i) * cols + c * TILE;
        t.data[o..o + TILE].copy_from_slice(&tile[i * TILE..(i + 1) * TILE]);
    }
}

/// Output tile rows and columns one index of [`workers::for_each`] computes: each tile of
/// the left operand is copied out once per `COLUMN_GROUP` tile products, each tile of the
/// right one once per `ROW_BLOCK` (their rows may be far apart in memory).
const ROW_BLOCK: usize = 4;
const COLUMN_GROUP: usize = 2;

/// Tile products from which a matmul wakes the kernel threads (about 2 M FMAs: below, waking
/// them costs more than they save).
const THREADED_TILE_PRODUCTS: usize = 64;

/// `dst[z] = in0[z] · in1[z]` for `z < in0.z`: `(in0.z, in0.rt, in1.ct)`, tagged as `in0`.
/// The caller has checked `in0.ct == in1.rt` and `in1.z >= in0.z`.
///
/// Every output tile is golden's: it starts at +0 and adds the tile products of K tiles 0, 1,
/// 2, ... in order ([`compute::matmul_tile_accumulate`]). The output tiles are computed in
/// blocks of up to `ROW_BLOCK` x `COLUMN_GROUP` tiles spread over the kernel threads; which
/// thread computes a block, and when, changes no value.
pub fn matmul(in0: &Tensor, in1: &Tensor, dst: &mut Tensor) {
    // Every output tile is written below.
    dst.reshape_for_overwrite(in0.z, in0.rt, in1.ct);
    dst.tag = in0.tag;
    let (m, k, n) = (in0.rt as usize, in0.ct as usize, in1.ct as usize);
    #[cfg(target_arch = "x86_64")]
    if compute::has_avx512() {
        matmul_avx512(in0, in1, dst);
        return;
    }
    let (row_blocks, groups) = (m.div_ceil(ROW_BLOCK), n.div_ceil(COLUMN_GROUP));
    let per_slice = row_blocks * groups;
    let out = SharedOut::of(dst);
    let task = |index: usize| {
        let (z, rest) = (index / per_slice, index % per_slice);
        let (block, group) = (rest / groups, rest % groups);
        let rows = block * ROW_BLOCK..((block + 1) * ROW_BLOCK).min(m);
        let cols = group * COLUMN_GROUP..((group + 1) * COLUMN_GROUP).min(n);
        let mut acc = [[[0f32; TILE_LEN]; COLUMN_GROUP]; ROW_BLOCK];
        let mut a = [[0f32; TILE_LEN]; ROW_BLOCK];
        let mut b = [[0f32; TILE_LEN]; COLUMN_GROUP];
        for kk in 0..k {
            for (a, i) in a.iter_mut().zip(rows.clone()) {
                gather(in0, z, i, kk, a);
            }
            for (b, j) in b.iter_mut().zip(cols.clone()) {
                gather(in1, z, kk, j, b);
            }
            for (acc_row, a) in acc.iter_mut().zip(&a).take(rows.len()) {
                for (acc, b) in acc_row.iter_mut().zip(&b).take(cols.len()) {
                    compute::matmul_tile_accumulate(acc, a, b);
                }
            }
        }
        for (acc_row, i) in acc.iter().zip(rows) {
            for (acc, j) in acc_row.iter().zip(cols.clone()) {
                // SAFETY: index `index` alone computes output tile (z, i, j).
                unsafe { out.scatter(acc, z, i, j) };
            }
        }
    };
    let tasks = in0.z as usize * per_slice;
    if in0.z as usize * m * n * k >= THREADED_TILE_PRODUCTS {
        workers::for_each(tasks, &task);
    } else {
        (0..tasks).for_each(task);
    }
}

/// Output tile rows and columns one index of [`matmul_avx512`] computes at most.
#[cfg(target_arch = "x86_64")]
const WIDE_ROW_BLOCK: usize = 16;
#[cfg(target_arch = "x86_64")]
const WIDE_COLUMN_GROUP: usize = 4;

/// [`matmul`] with the AVX-512 kernel ([`compute::matmul_rows4_avx512`]): one index of
/// [`workers::for_each`] computes a block of up to `WIDE_ROW_BLOCK` x `WIDE_COLUMN_GROUP`
/// output tiles, K tile by K tile, straight into `dst` (each tile starts at +0): the tiles of
/// `in1` are copied out once per block and K tile (the next ones prefetched; adjacent columns
/// share rows of `in1`), and the kernel reads the rows of `in0` where they lie.
#[cfg(target_arch = "x86_64")]
fn matmul_avx512(in0: &Tensor, in1: &Tensor, dst: &mut Tensor) {
    let (m, k, n) = (in0.rt as usize, in0.ct as usize, in1.ct as usize);
    // Blocks of equal height, as tall as `WIDE_ROW_BLOCK` allows; column groups as wide as
    // `WIDE_COLUMN_GROUP` allows while there are at least 8 of them to share out.
    let block = m.div_ceil(m.div_ceil(WIDE_ROW_BLOCK).max(1)).max(1);
    let row_blocks = m.div_ceil(block);
    let group = (n / 8).clamp(1, WIDE_COLUMN_GROUP);
    let groups = n.div_ceil(group);
    let per_slice = row_blocks * groups;
    let out = SharedOut::of(dst);
    let (a_cols, out_cols) = (in0.cols(), dst.cols());
    let a_slice = in0.slice_len();
    let (b_rows, b_cols) = (in1.rows(), in1.cols());
    let task = |index: usize| {
        let (z, rest) = (index / per_slice, index % per_slice);
        let (rb, g) = (rest / groups, rest % groups);
        let rows = rb * block..((rb + 1) * block).min(m);
        let cols = g * group..((g + 1) * group).min(n);
        let zero = [0f32; TILE_LEN];
        for i in rows.clone() {
            for j in cols.clone() {
                // SAFETY: index `index` alone computes output tiles (z, rows, cols).
                unsafe { out.scatter(&zero, z, i, j) };
            }
        }
        let mut b = [[0f32; TILE_LEN]; WIDE_COLUMN_GROUP];
        for kk in 0..k {
            for (b, j) in b.iter_mut().zip(cols.clone()) {
                gather(in1, z, kk, j, b);
            }
            if kk + 1 < k {
                // The next tiles' rows lie a row of `in1` apart, too far for the hardware to
                // guess: ask for them while these products are computed.
                for i in 0..TILE {
                    let at = (z * b_rows + (kk + 1) * TILE + i) * b_cols + cols.start * TILE;
                    let row = &in1.data[at..at + cols.len() * TILE];
                    for line in row.chunks(16) {
                        // SAFETY: SSE is part of x86_64; a prefetch reads nothing.
                        unsafe {
                            use core::arch::x86_64::{_mm_prefetch, _MM_HINT_T1};
                            _mm_prefetch::<_MM_HINT_T1>(line.as_ptr().cast());
                        }
                    }
                }
            }
            for i in rows.clone() {
                for r in (0..TILE).step_by(4) {
                    let a_at = z * a_slice + (i * TILE + r) * a_cols + kk * TILE;
                    assert!(a_at + 3 * a_cols + TILE <= in0.data.len());
                    for (b, j) in b.iter().zip(cols.clone()) {
                        let out_at = (z * m * TILE + i * TILE + r) * out_cols + j * TILE;
                        assert!(out_at + 3 * out_cols + TILE <= out.1);
                        // SAFETY: AVX-512F (checked by the caller); the four rows of 32
                        // values at `a_at` and `out_at` (a row apart) are in bounds (checked),
                        // `b` is a whole tile, and index `index` alone writes tile (z, i, j).
                        unsafe {
                            compute::matmul_rows4_avx512(
                                out.0.add(out_at),
                                out_cols * 4,
                                in0.data.as_ptr().add(a_at),
                                a_cols * 4,
                                b.as_ptr(),
                            )
                        };
                    }
                }
            }
        }
    };
    let tasks = in0.z as usize * per_slice;
    if in0.z as usize * m * n * k >= THREADED_TILE_PRODUCTS {
        workers::for_each(tasks, &task);
    } else {
        (0..tasks).for_each(task);
    }
}

/// The output of a kernel whose threads each write their own tiles: the buffer, its length,
/// and the rows and columns of a slice.
#[derive(Clone, Copy)]
struct SharedOut(*mut f32, usize, usize, usize);

// SAFETY: threads write disjoint tiles through it, and the owner of the buffer waits for all
// of them before using it again.
unsafe impl Sync for SharedOut {}

impl SharedOut {
    /// `dst`'s values, for threads to write disjoint tiles of.
    fn of(dst: &mut Tensor) -> SharedOut {
        SharedOut(
            dst.data.as_mut_ptr(),
            dst.data.len(),
            dst.rows(),
            dst.cols(),
        )
    }

    /// Writes `tile` as tile `(z, r, c)`, as [`scatter`] does.
    ///
    /// # Safety
    /// No other thread may access that tile during the call.
    ///
    /// # Panics
    /// When the tile does not lie inside the buffer.
    #[inline]
    unsafe fn scatter(self, tile: &[f32; TILE_LEN], z: usize, r: usize, c: usize) {
        let (rows, cols) = (self.2, self.3);
        for (i, row) in tile.chunks_exact(TILE).enumerate() {
            let o = (z * rows + r * TILE + i) * cols + c * TILE;
            assert!(o + TILE <= self.1);
            // SAFETY: in bounds (checked); nobody else touches the tile (the caller's promise).
            unsafe { core::ptr::copy_nonoverlapping(row.as_ptr(), self.0.add(o), TILE) };
        }
    }
}

/// Sums groups of `group` consecutive slices in order (`acc = X[g·n]`, then `acc += X[g·n+1]`,
/// ...), writing `z / group` slices.
pub fn accumulate_z(src: &Tensor, group: u32, dst: &mut Tensor) {
    dst.reshape(src.z / group, src.rt, src.ct);
    dst.tag = src.tag;
    let n = src.slice_len();
    for g in 0..dst.z as usize {
        let out = &mut dst.data[g * n..(g + 1) * n];
        let first = g * group as usize;
        out.copy_from_slice(&src.data[first * n..(first + 1) * n]);
        for k in 1..group as usize {
            let s = &src.data[(first + k) * n..(first + k + 1) * n];
            for (o, &v) in out.iter_mut().zip(s) {
                *o += v;
            }
        }
    }
}

/// `y += bias`, with only row 0 of each bias tile, copied to all 32 rows (elementwise instead
/// when `elementwise`, golden's integer matmul).
pub fn add_bias(y: &mut Tensor, bias: &Tensor, elementwise: bool) {
    let cols = y.cols();
    for (row, out) in y.data.chunks_exact_mut(cols).enumerate() {
        let from = if elementwise { row } else { row - row % TILE };
        let b = &bias.data[from * cols..(from + 1) * cols];
        for (o, &v) in out.iter_mut().zip(b) {
            *o += v;
        }
    }
}

/// What a matmul op adds to the product (golden-ops.md §8, steps 5-8).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MatmulExtras {
    /// `accumulate: true` with `z`.
    pub accumulate: Option<u32>,
    pub bias: bool,
    pub requant: bool,
    pub dequant: bool,
    pub zero_point: f32,
    /// `sfpu_op: gelu`, with the op's vector mode.
    pub gelu: Option<Dim>,
}

/// A matmul's `sfpu_op` as golden reads it: `gelu` runs gelu with the op's vector mode; any
/// other SFPU op name is refused (upstream asserts that only gelu fuses with matmul); any
/// other text, `invalid` included, is upstream's `SfpuOp::Invalid`: no SFPU op.
pub fn fused_sfpu(sfpu_op: Option<&str>, vector: Dim) -> Result<Option<Dim>, OpError> {
    match sfpu_op.and_then(OpType::parse) {
        Some(OpType::Gelu) => Ok(Some(vector)),
        Some(other) if other.is_sfpu() => Err(OpError::MatmulSfpu {
            op: other.name().into(),
        }),
        _ => Ok(None),
    }
}

/// The matmul op: product, z accumulation, bias, requant/dequant and gelu. `inputs` are the
/// op's inputs after their TMs; `scratch` is a tensor the op may reuse.
pub fn matmul_op(
    extras: &MatmulExtras,
    in0: &Tensor,
    in1: &Tensor,
    bias: Option<&Tensor>,
    scale: Option<&Tensor>,
    scratch: &mut Tensor,
    dst: &mut Tensor,
) -> Result<(), OpError> {
    let is_int = |t: &Tensor| matches!(t.tag, DataFormat::Int8 | DataFormat::Int32);
    let any_int =
        is_int(in0) || is_int(in1) || bias.is_some_and(is_int) || scale.is_some_and(is_int);
    matmul(in0, in1, dst);
    if let Some(group) = extras.accumulate {
        accumulate_z(dst, group, scratch);
        core::mem::swap(dst, scratch);
    }
    if let Some(bias) = bias {
        if !bias.same_shape(dst) {
            return Err(OpError::MatmulOperand {
                scale: false,
                operand: [bias.z, bias.rt, bias.ct],
                product: [dst.z, dst.rt, dst.ct],
            });
        }
        add_bias(dst, bias, any_int);
    }
    if let Some(scale) = scale {
        if !scale.same_shape(dst) {
            return Err(OpError::MatmulOperand {
                scale: true,
                operand: [scale.z, scale.rt, scale.ct],
                product: [dst.z, dst.rt, dst.ct],
            });
        }
        let zp = extras.zero_point;
        for (y, &s) in dst.data.iter_mut().zip(&scale.data) {
            *y = if extras.requant {
                mul0(*y, s) + zp
            } else {
                mul0(*y + -zp, s)
            };
        }
    }
    if let Some(vector) = extras.gelu {
        apply_sfpu(Sfpu::Compute(compute::UnaryOp::Gelu), vector, dst, scratch)?;
        core::mem::swap(dst, scratch);
    }
    Ok(())
}

/// Depthwise: `out[z][r][c] = Σ_b tile_matmul(in0[z][r][c + b·ct_out], in1[z][b][c])`, with
/// `B = in1.rt` kernel positions and `ct_out = in0.ct / B`, plus an optional row-0 bias.
pub fn depthwise(in0: &Tensor, in1: &Tensor, bias: Option<&Tensor>, dst: &mut Tensor) {
    let kernels = in1.rt as usize;
    let ct = in0.ct as usize / kernels;
    dst.reshape(in0.z, in0.rt, ct as u32);
    dst.tag = in0.tag;
    let mut a = [0f32; TILE_LEN];
    let mut b = [0f32; TILE_LEN];
    let mut out = [0f32; TILE_LEN];
    for z in 0..in0.z as usize {
        for r in 0..in0.rt as usize {
            for c in 0..ct {
                out.fill(0.0);
                for k in 0..kernels {
                    gather(in0, z, r, c + k * ct, &mut a);
                    gather(in1, z, k, c, &mut b);
                    for i in 0..TILE {
                        for j in 0..TILE {
                            let mut acc = 0f32;
                            for m in 0..TILE {
                                acc += a[i * TILE + m] * b[m * TILE + j];
                            }
                            out[i * TILE + j] += acc;
                        }
                    }
                }
                scatter(&out, dst, z, r, c);
            }
        }
    }
    if let Some(bias) = bias {
        add_bias(dst, bias, false);
    }
}

/// The output shape of reduce max over `dim` (`z` groups of `group` slices).
pub fn reduce_shape(dim: Dim, group: u32, z: u32, rt: u32, ct: u32) -> (u32, u32, u32) {
    match dim {
        Dim::R => (z, 1, ct),
        Dim::C => (z, rt, 1),
        Dim::Rc => (z, 1, 1),
        Dim::Z => (z / group.max(1), rt, ct),
    }
}

/// reduce max (golden-ops.md §9). r/c/rc: the accumulator starts at -inf and takes `v` when
/// `acc < v`, so NaNs are ignored; the result sits in row 0, column 0 or element [0][0] of the
/// output tiles and the rest is 0. z: `acc = X[first]`, then `acc = X_k < acc ? acc : X_k`
/// elementwise over each group of `group` slices.
pub fn reduce_max(src: &Tensor, dim: Dim, group: u32, dst: &mut Tensor) {
    let (z, rt, ct) = reduce_shape(dim, group, src.z, src.rt, src.ct);
    dst.reshape(z, rt, ct);
    dst.tag = src.tag;
    let (rows, cols) = (src.rows(), src.cols());
    let n = rows * cols;
    let take = |acc: f32, v: f32| if acc < v { v } else { acc };
    match dim {
        Dim::C => {
            let ocols = dst.cols();
            for zz in 0..src.z as usize {
                for r in 0..rows {
                    let row = &src.data[zz * n + r * cols..zz * n + (r + 1) * cols];
                    let m = row.iter().fold(f32::NEG_INFINITY, |a, &v| take(a, v));
                    dst.data[(zz * rows + r) * ocols] = m;
                }
            }
        }
        Dim::R => {
            for zz in 0..src.z as usize {
                for c in 0..cols {
                    let mut m = f32::NEG_INFINITY;
                    for r in 0..rows {
                        m = take(m, src.data[zz * n + r * cols + c]);
                    }
                    dst.data[zz * TILE * cols + c] = m;
                }
            }
        }
        Dim::Rc => {
            for zz in 0..src.z as usize {
                let m = src.data[zz * n..(zz + 1) * n]
                    .iter()
                    .fold(f32::NEG_INFINITY, |a, &v| take(a, v));
                dst.data[zz * TILE_LEN] = m;
            }
        }
        Dim::Z => {
            let group = group.max(1) as usize;
            for g in 0..z as usize {
                let out = &mut dst.data[g * n..(g + 1) * n];
                out.copy_from_slice(&src.data[g * group * n..(g * group + 1) * n]);
                for k in 1..group {
                    let s = &src.data[(g * group + k) * n..(g * group + k + 1) * n];
                    for (o, &v) in out.iter_mut().zip(s) {
                        *o = if v < *o { *o } else { v };
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reduce_c_ignores_nan() {
        let mut src = Tensor::zeros(1, 1, 2, DataFormat::Float32);
        src.data[5] = f32::NAN;
        src.data[40] = 7.0;
        src.data[64] = -1.0; // row 1
        let mut dst = Tensor::zeros(0, 0, 0, DataFormat::Float32);
        reduce_max(&src, Dim::C, 1, &mut dst);
        assert_eq!((dst.rt, dst.ct), (1, 1));
        assert_eq!(dst.data[0], 7.0);
        assert_eq!(dst.data[1], 0.0);
        assert_eq!(dst.data[32], 0.0);
    }

    #[test]
    fn matmul_identity() {
        let mut a = Tensor::zeros(1, 1, 1, DataFormat::Float32);
        let mut id = a.clone();
        for i in 0..32 {
            id.data[i * 33] = 1.0;
            a.data[i * 32 + (i * 7) % 32] = i as f32;
        }
        let mut y = Tensor::zeros(0, 0, 0, DataFormat::Float32);
        matmul(&a, &id, &mut y);
        assert_eq!(y.data, a.data);
    }
}
