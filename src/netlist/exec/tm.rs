//! Tensor manipulations on whole tensors (golden-ops.md §5): broadcast, slice and stack move
//! whole tiles, `transpose` is the full 2-D transpose of every slice (golden moves the tiles in
//! the TM and transposes inside each tile in the op; the two together are this), and
//! `tile_broadcast` copies row or column 0 inside every tile. `pad`/`unpad` add or drop whole
//! tiles at the bottom and right.
//!
//! Every function writes a destination tensor the caller owns: its buffer is reused, so once
//! it has held its largest shape nothing is allocated. The destination takes the source's tag.

use crate::netlist::{Dim, Tm};

use super::{Tensor, TILE};

/// The shape of a tensor in tiles: `z` slices of `rt x ct`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    pub z: u32,
    pub rt: u32,
    pub ct: u32,
}

impl Shape {
    pub const fn new(z: u32, rt: u32, ct: u32) -> Shape {
        Shape { z, rt, ct }
    }

    pub fn of(t: &Tensor) -> Shape {
        Shape::new(t.z, t.rt, t.ct)
    }
}

impl core::fmt::Display for Shape {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "[t {}, rt {}, ct {}]", self.z, self.rt, self.ct)
    }
}

/// The shape `tm` produces from `s`, or why it cannot apply.
pub fn tm_shape(tm: &Tm, s: Shape) -> Result<Shape, &'static str> {
    let divide = |n: u32, f: u32, what| {
        if f == 0 || n % f != 0 {
            Err(what)
        } else {
            Ok(n / f)
        }
    };
    let times = |n: u32, f: u32| n.checked_mul(f).ok_or("the factor overflows the shape");
    match *tm {
        Tm::Broadcast { dim, factor } => {
            if factor == 0 {
                return Err("a broadcast factor of 0");
            }
            match dim {
                Dim::R => Ok(Shape::new(s.z, times(s.rt, factor)?, s.ct)),
                Dim::C => Ok(Shape::new(s.z, s.rt, times(s.ct, factor)?)),
                Dim::Z => Ok(Shape::new(times(s.z, factor)?, s.rt, s.ct)),
                Dim::Rc => Err("a broadcast over rc"),
            }
        }
        Tm::Hslice(n) => Ok(Shape::new(
            times(s.z, n)?,
            s.rt,
            divide(s.ct, n, "hslice: the factor does not divide ct")?,
        )),
        Tm::Vslice(n) => Ok(Shape::new(
            times(s.z, n)?,
            divide(s.rt, n, "vslice: the factor does not divide rt")?,
            s.ct,
        )),
        Tm::Hstack(n) => {
            let n = if n == 0 { s.z } else { n };
            let z = divide(s.z, n, "hstack: the factor does not divide t")?;
            Ok(Shape::new(z, s.rt, times(s.ct, n)?))
        }
        Tm::Vstack(n) => {
            let n = if n == 0 { s.z } else { n };
            let z = divide(s.z, n, "vstack: the factor does not divide t")?;
            Ok(Shape::new(z, times(s.rt, n)?, s.ct))
        }
        Tm::Transpose => Ok(Shape::new(s.z, s.ct, s.rt)),
        Tm::TileBroadcast(Dim::R | Dim::C) => Ok(s),
        Tm::TileBroadcast(_) => Err("tile_broadcast other than r or c"),
        Tm::Pad { rt, ct, .. } => Ok(Shape::new(
            s.z,
            s.rt.checked_add(rt).ok_or("pad overflows the shape")?,
            s.ct.checked_add(ct).ok_or("pad overflows the shape")?,
        )),
    }
}

/// Copies tile `(sz, sr, sc)` of `src` to tile `(dz, dr, dc)` of `dst`.
#[inline]
fn copy_tile(src: &Tensor, s: (usize, usize, usize), dst: &mut Tensor, d: (usize, usize, usize)) {
    let (scols, srows) = (src.cols(), src.rows());
    let (dcols, drows) = (dst.cols(), dst.rows());
    for i in 0..TILE {
        let so = (s.0 * srows + s.1 * TILE + i) * scols + s.2 * TILE;
        let do_ = (d.0 * drows + d.1 * TILE + i) * dcols + d.2 * TILE;
        dst.data[do_..do_ + TILE].copy_from_slice(&src.data[so..so + TILE]);
    }
}

/// Fills tile `(z, r, c)` of `dst` with `v`.
#[inline]
fn fill_tile(dst: &mut Tensor, d: (usize, usize, usize), v: f32) {
    let (cols, rows) = (dst.cols(), dst.rows());
    for i in 0..TILE {
        let o = (d.0 * rows + d.1 * TILE + i) * cols + d.2 * TILE;
        dst.data[o..o + TILE].fill(v);
    }
}

/// Shapes `dst` as `out` and sets every tile from the tile of `src` that `from` names, or
/// `fill` where it names none.
fn map_tiles(
    src: &Tensor,
    dst: &mut Tensor,
    out: Shape,
    fill: f32,
    from: impl Fn(usize, usize, usize) -> Option<(usize, usize, usize)>,
) {
    // Every tile is copied or filled below.
    dst.reshape_for_overwrite(out.z, out.rt, out.ct);
    dst.tag = src.tag;
    for z in 0..out.z as usize {
        for r in 0..out.rt as usize {
            for c in 0..out.ct as usize {
                match from(z, r, c) {
                    Some(s) => copy_tile(src, s, dst, (z, r, c)),
                    None => fill_tile(dst, (z, r, c), fill),
                }
            }
        }
    }
}

/// `transpose` in a queue's `input_tms`: golden moves the tiles (tile (r, c) to (c, r)) and, no
/// op following, leaves each tile's values where they are.
pub fn transpose_tiles(src: &Tensor, dst: &mut Tensor) {
    let out = Shape::new(src.z, src.ct, src.rt);
    map_tiles(src, dst, out, 0.0, |z, r, c| Some((z, c, r)));
}

/// Applies `tm` to `src`, writing `dst`. Errors as [`tm_shape`].
pub fn apply_tm(tm: &Tm, src: &Tensor, dst: &mut Tensor) -> Result<(), &'static str> {
    let s = Shape::of(src);
    let out = tm_shape(tm, s)?;
    let (zin, rt, ct) = (s.z as usize, s.rt as usize, s.ct as usize);
    let (ort, oct) = (out.rt as usize, out.ct as usize);
    match *tm {
        Tm::Broadcast { dim, .. } => match dim {
            Dim::R => map_tiles(src, dst, out, 0.0, |z, r, c| Some((z, r % rt, c))),
            Dim::C => map_tiles(src, dst, out, 0.0, |z, r, c| Some((z, r, c % ct))),
            _ => map_tiles(src, dst, out, 0.0, |z, r, c| Some((z % zin, r, c))),
        },
        Tm::Hslice(n) => {
            let n = n as usize;
            map_tiles(src, dst, out, 0.0, |z, r, c| {
                Some((z / n, r, c + (z % n) * oct))
            })
        }
        Tm::Vslice(n) => {
            let n = n as usize;
            map_tiles(src, dst, out, 0.0, |z, r, c| {
                Some((z / n, r + (z % n) * ort, c))
            })
        }
        Tm::Hstack(n) => {
            let n = if n == 0 { zin } else { n as usize };
            map_tiles(src, dst, out, 0.0, |z, r, c| {
                Some((z * n + c / ct, r, c % ct))
            })
        }
        Tm::Vstack(n) => {
            let n = if n == 0 { zin } else { n as usize };
            map_tiles(src, dst, out, 0.0, |z, r, c| {
                Some((z * n + r / rt, r % rt, c))
            })
        }
        Tm::Pad { value, .. } => map_tiles(src, dst, out, value, |z, r, c| {
            (r < rt && c < ct).then_some((z, r, c))
        }),
        Tm::Transpose => transpose(src, dst),
        Tm::TileBroadcast(dim) => tile_broadcast(src, dst, dim),
    }
    Ok(())
}

/// The full 2-D transpose of every slice.
pub fn transpose(src: &Tensor, dst: &mut Tensor) {
    // Every value is written below.
    dst.reshape_for_overwrite(src.z, src.ct, src.rt);
    dst.tag = src.tag;
    let (rows, cols) = (src.rows(), src.cols());
    let n = rows * cols;
    for z in 0..src.z as usize {
        let s = &src.data[z * n..(z + 1) * n];
        let d = &mut dst.data[z * n..(z + 1) * n];
        // Tile by tile, so the rows read and written stay in the cache.
        for r0 in (0..rows).step_by(TILE) {
            for c0 in (0..cols).step_by(TILE) {
                for r in r0..r0 + TILE {
                    for c in c0..c0 + TILE {
                        d[c * rows + r] = s[r * cols + c];
                    }
                }
            }
        }
    }
}

/// `tile_broadcast: r` (every row of a tile = its row 0) or `c` (every column = column 0).
pub fn tile_broadcast(src: &Tensor, dst: &mut Tensor, dim: Dim) {
    // Every value is written below.
    dst.reshape_for_overwrite(src.z, src.rt, src.ct);
    dst.tag = src.tag;
    let cols = src.cols();
    let rows_total = src.z as usize * src.rows();
    for row in 0..rows_total {
        let first = row - row % TILE;
        let d = row * cols;
        if dim == Dim::R {
            let s = first * cols;
            dst.data[d..d + cols].copy_from_slice(&src.data[s..s + cols]);
        } else {
            for c in 0..cols {
                dst.data[d + c] = src.data[d + c - c % TILE];
            }
        }
    }
}

/// `input_N_pad`: `rt` tile rows and `ct` tile columns of `value` added below and right.
pub fn pad(src: &Tensor, dst: &mut Tensor, rt: u32, ct: u32, value: f32) {
    let tm = Tm::Pad { rt, ct, value };
    // Padding cannot fail.
    let _ = apply_tm(&tm, src, dst);
}

/// The shape `input_N_unpad: {rt, ct}` leaves, or why it cannot apply.
pub fn unpad_shape(s: Shape, rt: u32, ct: u32) -> Result<Shape, &'static str> {
    if rt >= s.rt || ct >= s.ct {
        return Err("unpad removes the whole input");
    }
    Ok(Shape::new(s.z, s.rt - rt, s.ct - ct))
}

/// `input_N_unpad`: keeps the top-left `(rt_in - rt) x (ct_in - ct)` tiles.
pub fn unpad(src: &Tensor, dst: &mut Tensor, rt: u32, ct: u32) -> Result<(), &'static str> {
    let out = unpad_shape(Shape::of(src), rt, ct)?;
    map_tiles(src, dst, out, 0.0, |z, r, c| Some((z, r, c)));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::DataFormat;

    /// A tensor whose tile (z, r, c) is filled with `100z + 10r + c`.
    fn tiles(z: u32, rt: u32, ct: u32) -> Tensor {
        let mut t = Tensor::zeros(z, rt, ct, DataFormat::Float32);
        for zz in 0..z as usize {
            for r in 0..rt as usize {
                for c in 0..ct as usize {
                    fill_tile(&mut t, (zz, r, c), (100 * zz + 10 * r + c) as f32);
                }
            }
        }
        t
    }

    fn tile_id(t: &Tensor, z: usize, r: usize, c: usize) -> f32 {
        t.data[(z * t.rows() + r * TILE) * t.cols() + c * TILE]
    }

    #[test]
    fn slice_and_stack_invert() {
        let x = tiles(2, 2, 4);
        let mut y = Tensor::zeros(0, 0, 0, DataFormat::Float32);
        let mut back = y.clone();
        apply_tm(&Tm::Hslice(2), &x, &mut y).unwrap();
        assert_eq!(Shape::of(&y), Shape::new(4, 2, 2));
        assert_eq!(tile_id(&y, 1, 0, 0), 2.0);
        assert_eq!(tile_id(&y, 3, 1, 1), 113.0);
        apply_tm(&Tm::Hstack(2), &y, &mut back).unwrap();
        assert_eq!(back, x);
        apply_tm(&Tm::Vslice(2), &x, &mut y).unwrap();
        assert_eq!(tile_id(&y, 1, 0, 3), 13.0);
        apply_tm(&Tm::Vstack(2), &y, &mut back).unwrap();
        assert_eq!(back, x);
    }

    #[test]
    fn broadcast_z_is_cyclic() {
        let x = tiles(2, 1, 1);
        let mut y = Tensor::zeros(0, 0, 0, DataFormat::Float32);
        apply_tm(
            &Tm::Broadcast {
                dim: Dim::Z,
                factor: 2,
            },
            &x,
            &mut y,
        )
        .unwrap();
        let ids: [f32; 4] = core::array::from_fn(|z| tile_id(&y, z, 0, 0));
        assert_eq!(ids, [0.0, 100.0, 0.0, 100.0]);
    }
}
