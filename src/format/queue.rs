//! Queue entries: a host tensor to and from the tilized bytes of a queue's buffers.
//!
//! A queue has grid_r x grid_c buffers (one per core, row-major grid order). One entry, as a
//! host tensor, is `[1, t/(h*v), rt*TH*v, ct*TW*h]` with rt = grid_r*mblock_m*ublock_rt and
//! ct = grid_c*mblock_n*ublock_ct tiles (h, v the stack factors). Core (gr, gc) holds the tile
//! rows and columns of its grid cell; within its buffer an entry is, for each t slice, for each
//! ublock of the mblock (ublock_order r: ublock rows outer; c: ublock columns outer), for each
//! tile row then tile column of the ublock: the tile.
//!
//! `tilize` writes, for each buffer in grid order, the W entries of the tensor one after the
//! other (no queue header: that belongs to the queue, not to the data), which is how they land
//! in consecutive slots. `untilize` reads the same layout.

use super::element::{from_host, to_host};
use super::fast::{with_codec, RunCodec};
use super::host::check_extent;
use super::tile::{
    data_offset, pack_datums, pack_tile, tile_size_bytes, unpack_datums, unpack_tile, TileDim,
    TILE_HEADER_SIZE,
};
use super::{Arch, DataFormat, FormatError, HostTensor, HostTensorMut, Rounding};
use super::{BfpDecoding, BfpRounding, Float16bRounding};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UblockOrder {
    /// Ublocks of an mblock row by row (the default).
    R,
    /// Column by column.
    C,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IoLayout {
    /// Tiles with headers, in face order.
    Tilized,
    /// Untilized "megarows": each tile holds TH*TW consecutive values of the row-major slice,
    /// with no header, exponents or padding. Block-float formats cannot be flat.
    Flat,
}

/// Everything about a queue that decides where each value's bytes go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueLayout {
    pub format: DataFormat,
    pub arch: Arch,
    pub tile: TileDim,
    pub grid_r: u32,
    pub grid_c: u32,
    pub mblock_m: u32,
    pub mblock_n: u32,
    pub ublock_rt: u32,
    pub ublock_ct: u32,
    pub ublock_order: UblockOrder,
    pub t: u32,
    pub hstack: u32,
    pub vstack: u32,
    /// Device t slices fill the stacked host slice row by row (true) or column by column.
    pub stack_row_major: bool,
    pub layout: IoLayout,
}

/// Where one device tile comes from in the host tensor.
#[derive(Clone, Copy, Debug)]
struct TileSite {
    /// Byte offset of the tile in the tilized buffer set.
    offset: usize,
    w: usize,
    z: usize,
    /// Top-left element of the device slice's region in the host slice.
    slice_row: usize,
    slice_col: usize,
    /// Tile row and column within the device slice.
    tile_r: usize,
    tile_c: usize,
}

impl QueueLayout {
    /// One 32x32 tile per entry on one core, Wormhole B0, tilized.
    pub const fn single_tile(format: DataFormat) -> QueueLayout {
        QueueLayout {
            format,
            arch: Arch::WormholeB0,
            tile: TileDim::FULL,
            grid_r: 1,
            grid_c: 1,
            mblock_m: 1,
            mblock_n: 1,
            ublock_rt: 1,
            ublock_ct: 1,
            ublock_order: UblockOrder::R,
            t: 1,
            hstack: 1,
            vstack: 1,
            stack_row_major: true,
            layout: IoLayout::Tilized,
        }
    }

    /// Checks every field; the sizes below assume a valid layout.
    pub fn validate(&self) -> Result<(), FormatError> {
        let fields = [
            ("grid_r", self.grid_r),
            ("grid_c", self.grid_c),
            ("mblock_m", self.mblock_m),
            ("mblock_n", self.mblock_n),
            ("ublock_rt", self.ublock_rt),
            ("ublock_ct", self.ublock_ct),
            ("t", self.t),
            ("hstack_factor", self.hstack),
            ("vstack_factor", self.vstack),
        ];
        for (field, v) in fields {
            if v == 0 || v > 65536 {
                return Err(FormatError::Layout {
                    field,
                    found: v,
                    allowed: "1..=65536",
                });
            }
        }
        if self.t % (self.hstack * self.vstack) != 0 {
            return Err(FormatError::Stack {
                t: self.t,
                hstack: self.hstack,
                vstack: self.vstack,
            });
        }
        if self.layout == IoLayout::Flat && self.format.is_block_float() {
            return Err(FormatError::Layout {
                field: "layout",
                found: 1,
                allowed: "tilized for block-float formats (flat holds whole datums)",
            });
        }
        // Everything must fit comfortably in usize arithmetic (also on 32-bit targets).
        let tiles = [
            self.grid_r,
            self.grid_c,
            self.mblock_m,
            self.mblock_n,
            self.ublock_rt,
            self.ublock_ct,
            self.t,
        ]
        .iter()
        .try_fold(1usize, |acc, &v| acc.checked_mul(v as usize));
        match tiles.and_then(|n| n.checked_mul(self.tile_size())) {
            Some(bytes) if bytes <= isize::MAX as usize / 1024 => Ok(()),
            _ => Err(FormatError::TooLarge {
                what: "queue entry size",
            }),
        }
    }

    /// Tile rows of one device t slice of an entry.
    pub const fn tiles_r(&self) -> usize {
        self.grid_r as usize * self.mblock_m as usize * self.ublock_rt as usize
    }
    /// Tile columns of one device t slice of an entry.
    pub const fn tiles_c(&self) -> usize {
        self.grid_c as usize * self.mblock_n as usize * self.ublock_ct as usize
    }
    pub const fn buffers(&self) -> usize {
        self.grid_r as usize * self.grid_c as usize
    }
    const fn tiles_per_core_slice(&self) -> usize {
        self.mblock_m as usize
            * self.mblock_n as usize
            * self.ublock_rt as usize
            * self.ublock_ct as usize
    }

    /// Bytes of one tile as stored in this queue.
    pub const fn tile_size(&self) -> usize {
        match self.layout {
            IoLayout::Tilized => tile_size_bytes(self.format, self.arch, self.tile, false),
            IoLayout::Flat => self.tile.datums() * self.format.device_bits() / 8,
        }
    }

    /// Bytes of one entry in one buffer (`get_entry_size_in_bytes`).
    pub const fn entry_size(&self) -> usize {
        self.t as usize * self.tiles_per_core_slice() * self.tile_size()
    }

    /// Bytes of one buffer holding `entries` entries, queue header included
    /// (`get_io_size_in_bytes`). Saturates at `usize::MAX` for a count no memory holds.
    pub const fn io_size(&self, entries: u32) -> usize {
        (entries as usize)
            .saturating_mul(self.entry_size())
            .saturating_add(self.arch.queue_header_size())
    }

    /// Bytes `tilize` writes for a tensor of `w` entries: every buffer's share. Saturates at
    /// `usize::MAX` for a count no memory holds.
    pub const fn tilized_size(&self, w: usize) -> usize {
        self.buffers()
            .saturating_mul(w)
            .saturating_mul(self.entry_size())
    }

    /// Shape of a host tensor of `w` entries: `[w, t/(h*v), rt*TH*v, ct*TW*h]`.
    pub const fn host_shape(&self, w: usize) -> [usize; 4] {
        let (h, v) = (self.hstack as usize, self.vstack as usize);
        [
            w,
            self.t as usize / (h * v),
            self.tiles_r() * self.tile.height as usize * v,
            self.tiles_c() * self.tile.width as usize * h,
        ]
    }

    /// One core's share of an entry as a layout of its own (a 1x1 grid), and the height and
    /// width in host elements of the rectangle it covers: core (gr, gc) holds rows
    /// `gr * height..` and columns `gc * width..` of every host slice, and tilizing that
    /// rectangle with the share's layout gives exactly the core's bytes of the entry. So a
    /// queue whose buffers are not one contiguous range converts in place, core by core.
    /// `None` when a core's tiles are not one rectangle of the host slice: stacked t slices
    /// over several cores, or a flat layout over several cores (flat numbers tiles across
    /// the grid).
    pub const fn core_share(&self) -> Option<(QueueLayout, usize, usize)> {
        let one_core = self.grid_r == 1 && self.grid_c == 1;
        let rectangle =
            self.hstack == 1 && self.vstack == 1 && matches!(self.layout, IoLayout::Tilized);
        if !one_core && !rectangle {
            return None;
        }
        let share = QueueLayout {
            grid_r: 1,
            grid_c: 1,
            ..*self
        };
        let height = share.tiles_r() * self.tile.height as usize * self.vstack as usize;
        let width = share.tiles_c() * self.tile.width as usize * self.hstack as usize;
        Some((share, height, width))
    }

    /// Calls `visit` for every tile of `w_count` entries, in the order of the output bytes.
    #[inline(always)]
    fn for_each_tile<E>(
        &self,
        w_count: usize,
        mut visit: impl FnMut(TileSite) -> Result<(), E>,
    ) -> Result<(), E> {
        let (m, n) = (self.mblock_m as usize, self.mblock_n as usize);
        let (urt, uct) = (self.ublock_rt as usize, self.ublock_ct as usize);
        let (h, v) = (self.hstack as usize, self.vstack as usize);
        let (th, tw) = (self.tile.height as usize, self.tile.width as usize);
        let (rt, ct) = (self.tiles_r(), self.tiles_c());
        let tile_size = self.tile_size();
        let mut offset = 0;
        for gr in 0..self.grid_r as usize {
            for gc in 0..self.grid_c as usize {
                for w in 0..w_count {
                    for zd in 0..self.t as usize {
                        let within = zd % (h * v);
                        let (vi, hi) = if self.stack_row_major {
                            (within / h, within % h)
                        } else {
                            (within % v, within / v)
                        };
                        let z = zd / (h * v);
                        let slice_row = vi * rt * th;
                        let slice_col = hi * ct * tw;
                        for ub in 0..m * n {
                            let (ur, uc) = match self.ublock_order {
                                UblockOrder::R => (ub / n, ub % n),
                                UblockOrder::C => (ub % m, ub / m),
                            };
                            for tr in 0..urt {
                                for tc in 0..uct {
                                    visit(TileSite {
                                        offset,
                                        w,
                                        z,
                                        slice_row,
                                        slice_col,
                                        tile_r: gr * m * urt + ur * urt + tr,
                                        tile_c: gc * n * uct + uc * uct + tc,
                                    })?;
                                    offset += tile_size;
                                }
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Byte offset, in the output of `tilize` for `w_count` entries, of device tile (`tile_r`,
    /// `tile_c`) of t slice `zd` of entry `w` (the inverse of [`QueueLayout::for_each_tile`]).
    #[inline(always)]
    fn tile_offset(
        &self,
        w_count: usize,
        w: usize,
        zd: usize,
        tile_r: usize,
        tile_c: usize,
    ) -> usize {
        let (m, n) = (self.mblock_m as usize, self.mblock_n as usize);
        let (urt, uct) = (self.ublock_rt as usize, self.ublock_ct as usize);
        let (gr, lr) = (tile_r / (m * urt), tile_r % (m * urt));
        let (gc, lc) = (tile_c / (n * uct), tile_c % (n * uct));
        let (ur, tr, uc, tc) = (lr / urt, lr % urt, lc / uct, lc % uct);
        let ub = match self.ublock_order {
            UblockOrder::R => ur * n + uc,
            UblockOrder::C => uc * m + ur,
        };
        let tile = (zd * m * n + ub) * urt * uct + tr * uct + tc;
        let buffer = gr * self.grid_c as usize + gc;
        (buffer * w_count + w) * self.entry_size() + tile * self.tile_size()
    }

    /// Visits the host tensor strip by strip: each strip is one tile row (TH host rows) of one
    /// host slice, cut into chunks of up to [`STRIP_CHUNK`] tiles side by side.
    /// `visit(strip_at, tiles)` gets the byte offset of the strip's first row at column 0 (host
    /// strides `s`) and, per tile of the chunk, the byte offset of its first column in a host row
    /// and the byte offset of the tile in the tilized output. Converting row by row within a
    /// chunk streams the host tensor through the caches in order.
    #[inline(always)]
    fn for_each_strip(
        &self,
        w_count: usize,
        s: [usize; 4],
        mut visit: impl FnMut(usize, &[(usize, usize)]),
    ) {
        let (h, v) = (self.hstack as usize, self.vstack as usize);
        let (th, tw) = (self.tile.height as usize, self.tile.width as usize);
        let (rt, ct) = (self.tiles_r(), self.tiles_c());
        let mut chunk = [(0usize, 0usize); STRIP_CHUNK];
        for w in 0..w_count {
            for z in 0..self.t as usize / (h * v) {
                for vi in 0..v {
                    for tile_r in 0..rt {
                        let strip_at = w * s[0] + z * s[1] + (vi * rt + tile_r) * th * s[2];
                        let mut filled = 0;
                        for hi in 0..h {
                            let within = if self.stack_row_major {
                                vi * h + hi
                            } else {
                                hi * v + vi
                            };
                            let zd = z * h * v + within;
                            for tile_c in 0..ct {
                                let col_at = (hi * ct + tile_c) * tw * s[3];
                                chunk[filled] =
                                    (col_at, self.tile_offset(w_count, w, zd, tile_r, tile_c));
                                filled += 1;
                                if filled == STRIP_CHUNK {
                                    visit(strip_at, &chunk);
                                    filled = 0;
                                }
                            }
                        }
                        if filled > 0 {
                            visit(strip_at, &chunk[..filled]);
                        }
                    }
                }
            }
        }
    }

    /// Host (row, col) within the z slice of element `j` of a flat tile at (tile_r, tile_c).
    #[inline(always)]
    fn flat_position(&self, site: &TileSite, j: usize) -> (usize, usize) {
        let width = self.tiles_c() * self.tile.width as usize;
        let k = site.tile_r * self.tiles_c() + site.tile_c;
        let f = k * self.tile.datums() + j;
        (site.slice_row + f / width, site.slice_col + f % width)
    }
}

/// Tiles per chunk of a strip in the fast paths: 32 tiles of 32 rows keep the chunk's output
/// (64 KiB of Float32 tiles) in L2 while its host rows stream past.
const STRIP_CHUNK: usize = 32;

/// Validates a (layout, host tensor) pair; returns W.
fn check_pair(
    layout: &QueueLayout,
    len: usize,
    format: DataFormat,
    shape: [usize; 4],
    strides: [usize; 4],
    direction: &'static str,
) -> Result<usize, FormatError> {
    layout.validate()?;
    check_extent(len, format, shape, strides, direction)?;
    let w = shape[0];
    if w == 0 {
        return Err(FormatError::Entries {
            found: 0,
            detail: "at least one entry is needed",
        });
    }
    let expected = layout.host_shape(w);
    if shape != expected {
        return Err(FormatError::Shape {
            expected,
            found: shape,
        });
    }
    Ok(w)
}

/// The checks `tilize` makes of its source before converting anything: the host format, the
/// shape the layout gives W entries and the extent of the strides; returns W.
pub fn check_tilize(src: &HostTensor<'_>, layout: &QueueLayout) -> Result<usize, FormatError> {
    if !src.format.is_host_input() {
        return Err(FormatError::HostFormat {
            format: src.format,
            direction: "push (tilize) from the host",
        });
    }
    check_pair(
        layout,
        src.data.len(),
        src.format,
        src.shape,
        src.strides,
        "push (tilize) from the host",
    )
}

/// The checks `untilize` makes of its destination before converting anything: Float32 or the
/// queue format's host-compatible format, the shape of W entries and the extent of the
/// strides; returns W.
pub fn check_untilize(dst: &HostTensorMut<'_>, layout: &QueueLayout) -> Result<usize, FormatError> {
    let compatible = layout.format.host_compatible();
    if dst.format != DataFormat::Float32 && dst.format != compatible {
        return Err(FormatError::OutputFormat {
            queue: layout.format,
            expected: compatible,
            found: dst.format,
        });
    }
    check_pair(
        layout,
        dst.data.len(),
        dst.format,
        dst.shape,
        dst.strides,
        "untilize into",
    )
}

/// Converts a host tensor of W entries into the queue's tilized bytes (see the module text for
/// the layout) in `dst`; returns the bytes written. Host data is decoded to fp32 and then
/// quantized to the queue format, as Buda's push does.
pub fn tilize(
    src: &HostTensor<'_>,
    layout: &QueueLayout,
    rounding: Rounding,
    dst: &mut [u8],
) -> Result<usize, FormatError> {
    let w_count = check_tilize(src, layout)?;
    let total = layout.tilized_size(w_count);
    if dst.len() < total {
        return Err(FormatError::BufferSize {
            what: "destination",
            expected: total,
            found: dst.len(),
        });
    }
    let dim = layout.tile;
    let (th, tw) = (dim.height as usize, dim.width as usize);
    let tile_size = layout.tile_size();
    let itemsize = src.format.host_item_size().unwrap_or(4);
    let [s0, s1, s2, s3] = src.strides;
    if layout.layout == IoLayout::Tilized
        && src.format == DataFormat::Float32
        && s3 == 4
        && with_codec!(
            layout.format,
            rounding,
            tilize_fast(src, layout, w_count, dst)
        )
        .is_some()
    {
        return Ok(total);
    }
    let mut vals = [0f32; 1024];
    let n = dim.datums();
    layout.for_each_tile(w_count, |site| {
        let base = site.w * s0 + site.z * s1;
        let out = &mut dst[site.offset..site.offset + tile_size];
        match layout.layout {
            IoLayout::Tilized => {
                let row0 = site.slice_row + site.tile_r * th;
                let col0 = site.slice_col + site.tile_c * tw;
                for r in 0..th {
                    let row_at = base + (row0 + r) * s2 + col0 * s3;
                    gather_row(
                        src.data, row_at, s3, itemsize, src.format, dim, r, &mut vals,
                    );
                }
                pack_tile(&vals[..n], layout.format, dim, rounding, out);
            }
            IoLayout::Flat => {
                for (j, v) in vals[..n].iter_mut().enumerate() {
                    let (r, c) = layout.flat_position(&site, j);
                    let at = base + r * s2 + c * s3;
                    *v = from_host(&src.data[at..at + itemsize], src.format);
                }
                pack_datums(&vals[..n], layout.format, rounding, out, 0);
            }
        }
        Ok::<(), FormatError>(())
    })?;
    Ok(total)
}

/// The fast path of `tilize` (row-major Float32 host, tilized queue, a `RunCodec` format).
#[inline(always)]
fn tilize_fast<C: RunCodec>(
    src: &HostTensor<'_>,
    layout: &QueueLayout,
    w_count: usize,
    dst: &mut [u8],
) {
    let dim = layout.tile;
    let s2 = src.strides[2];
    let tile_size = layout.tile_size();
    let data_at = data_offset(layout.format, dim);
    let data_end = data_at + dim.datums() * layout.format.device_bits() / 8;
    let exps_end = TILE_HEADER_SIZE
        + if layout.format.is_block_float() {
            dim.datums() / 16
        } else {
            0
        };
    layout.for_each_strip(w_count, src.strides, |strip_at, tiles| {
        for &(_, tile_at) in tiles {
            let out = &mut dst[tile_at..tile_at + tile_size];
            out[..4].copy_from_slice(&((tile_size / 16) as u32).to_le_bytes());
            out[4..TILE_HEADER_SIZE].fill(0);
            out[exps_end..data_at].fill(0);
            out[data_end..].fill(0);
        }
        for r in 0..dim.height as usize {
            let row_at = strip_at + r * s2;
            for &(col_at, tile_at) in tiles {
                let out = &mut dst[tile_at..tile_at + tile_size];
                for fx in 0..dim.faces_x() {
                    let at = row_at + col_at + fx * 64;
                    let run: &[u8; 64] = src.data[at..at + 64].try_into().unwrap();
                    C::encode(run, out, data_at, dim.face_index(r, fx * 16));
                }
            }
        }
    });
}

/// The fast path of `untilize` (tilized queue of a `RunCodec` format, row-major Float32 host).
/// Tile by tile: measured faster here than the strip walk `tilize_fast` uses, which wins for
/// tilize (`ttrt bench formats`).
#[inline(always)]
fn untilize_fast<C: RunCodec>(
    src: &[u8],
    layout: &QueueLayout,
    w_count: usize,
    strides: [usize; 4],
    data: &mut [u8],
) {
    let dim = layout.tile;
    let (th, tw) = (dim.height as usize, dim.width as usize);
    let [s0, s1, s2, _] = strides;
    let tile_size = layout.tile_size();
    let data_at = data_offset(layout.format, dim);
    let _ = layout.for_each_tile(w_count, |site| {
        let tile = &src[site.offset..site.offset + tile_size];
        let base = site.w * s0 + site.z * s1 + (site.slice_col + site.tile_c * tw) * 4;
        let row0 = site.slice_row + site.tile_r * th;
        for r in 0..th {
            let row_at = base + (row0 + r) * s2;
            for fx in 0..dim.faces_x() {
                let run: &mut [u8; 64] = (&mut data[row_at + fx * 64..row_at + fx * 64 + 64])
                    .try_into()
                    .unwrap();
                C::decode(tile, data_at, dim.face_index(r, fx * 16), run);
            }
        }
        Ok::<(), FormatError>(())
    });
}

/// Reads one tile row (`tw` host elements from `at`, `step` bytes apart) into face order.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn gather_row(
    data: &[u8],
    at: usize,
    step: usize,
    itemsize: usize,
    format: DataFormat,
    dim: TileDim,
    r: usize,
    vals: &mut [f32; 1024],
) {
    let fw = dim.face_width();
    for fx in 0..dim.faces_x() {
        let dst_at = dim.face_index(r, fx * 16);
        let dst = &mut vals[dst_at..dst_at + fw];
        let src_at = at + fx * 16 * step;
        if format == DataFormat::Float32 && step == 4 {
            let src = &data[src_at..src_at + 4 * fw];
            for (v, b) in dst.iter_mut().zip(src.chunks_exact(4)) {
                *v = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            }
        } else {
            for (i, v) in dst.iter_mut().enumerate() {
                let e = src_at + i * step;
                *v = from_host(&data[e..e + itemsize], format);
            }
        }
    }
}

/// Writes one tile row from face order into `tw` host elements at `at`, `step` bytes apart.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn scatter_row(
    data: &mut [u8],
    at: usize,
    step: usize,
    itemsize: usize,
    format: DataFormat,
    dim: TileDim,
    r: usize,
    vals: &[f32; 1024],
) {
    let fw = dim.face_width();
    for fx in 0..dim.faces_x() {
        let src_at = dim.face_index(r, fx * 16);
        let src = &vals[src_at..src_at + fw];
        let dst_at = at + fx * 16 * step;
        match (format, step) {
            (DataFormat::Float32, 4) => {
                let dst = &mut data[dst_at..dst_at + 4 * fw];
                for (b, v) in dst.chunks_exact_mut(4).zip(src) {
                    b.copy_from_slice(&v.to_bits().to_le_bytes());
                }
            }
            (DataFormat::Float16B, 2) => {
                let dst = &mut data[dst_at..dst_at + 2 * fw];
                for (b, v) in dst.chunks_exact_mut(2).zip(src) {
                    b.copy_from_slice(&((v.to_bits() >> 16) as u16).to_le_bytes());
                }
            }
            _ => {
                for (i, v) in src.iter().enumerate() {
                    let e = dst_at + i * step;
                    to_host(*v, format, &mut data[e..e + itemsize]);
                }
            }
        }
    }
}

/// Converts the tilized bytes of W entries (the layout `tilize` writes; W is `dst.shape[0]`)
/// into the host tensor `dst`, whose format must be Float32 or the queue format's
/// host-compatible format (get_output's conversion).
pub fn untilize(
    src: &[u8],
    layout: &QueueLayout,
    dst: &mut HostTensorMut<'_>,
) -> Result<(), FormatError> {
    let w_count = check_untilize(dst, layout)?;
    let total = layout.tilized_size(w_count);
    if src.len() != total {
        return Err(FormatError::BufferSize {
            what: "source",
            expected: total,
            found: src.len(),
        });
    }
    let dim = layout.tile;
    let (th, tw) = (dim.height as usize, dim.width as usize);
    let tile_size = layout.tile_size();
    let itemsize = dst.format.host_item_size().unwrap_or(4);
    let [s0, s1, s2, s3] = dst.strides;
    let format = dst.format;
    let data = &mut *dst.data;
    if layout.layout == IoLayout::Tilized && format == DataFormat::Float32 && s3 == 4 {
        let rounding = Rounding::default();
        if with_codec!(
            layout.format,
            rounding,
            untilize_fast(src, layout, w_count, dst.strides, &mut *data)
        )
        .is_some()
        {
            return Ok(());
        }
    }
    let mut vals = [0f32; 1024];
    let n = dim.datums();
    layout.for_each_tile(w_count, |site| {
        let base = site.w * s0 + site.z * s1;
        let bytes = &src[site.offset..site.offset + tile_size];
        match layout.layout {
            IoLayout::Tilized => {
                unpack_tile(bytes, layout.format, dim, &mut vals[..n]);
                let row0 = site.slice_row + site.tile_r * th;
                let col0 = site.slice_col + site.tile_c * tw;
                for r in 0..th {
                    let row_at = base + (row0 + r) * s2 + col0 * s3;
                    scatter_row(data, row_at, s3, itemsize, format, dim, r, &vals);
                }
            }
            IoLayout::Flat => {
                unpack_datums(bytes, layout.format, 0, BfpDecoding::Buda, &mut vals[..n]);
                for (j, v) in vals[..n].iter().enumerate() {
                    let (r, c) = layout.flat_position(&site, j);
                    let at = base + r * s2 + c * s3;
                    to_host(*v, format, &mut data[at..at + itemsize]);
                }
            }
        }
        Ok::<(), FormatError>(())
    })
}

#[cfg(test)]
mod tests {
    //! Tilize and untilize on layouts small enough for Miri (`.ci/run` runs them under it):
    //! round trips, the tile header, where each entry and buffer lands, and the refusals.

    use super::*;
    use crate::format::TILE_HEADER_SIZE;

    /// `t` slices of one row of `ct` 1x32 tiles per core, on a `grid_c`-wide grid.
    fn row_layout(format: DataFormat, grid_c: u32, ct: u32, t: u32) -> QueueLayout {
        QueueLayout {
            tile: TileDim::new(1, 32).unwrap(),
            grid_c,
            ublock_ct: ct,
            t,
            ..QueueLayout::single_tile(format)
        }
    }

    fn bytes_of(values: &[f32]) -> [u8; 4 * 256] {
        let mut out = [0u8; 4 * 256];
        for (chunk, v) in out.chunks_exact_mut(4).zip(values) {
            chunk.copy_from_slice(&v.to_le_bytes());
        }
        out
    }

    fn values_of(bytes: &[u8], n: usize) -> [f32; 256] {
        let mut out = [0f32; 256];
        for (v, chunk) in out.iter_mut().zip(bytes.chunks_exact(4)).take(n) {
            *v = f32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        }
        out
    }

    /// Tilizes `n` values of `shape` into `layout`, checks the size written, untilizes them
    /// back as Float32 and returns them with the tilized bytes.
    fn round_trip(
        layout: &QueueLayout,
        shape: [usize; 4],
        values: &[f32],
    ) -> ([f32; 256], [u8; 2048]) {
        let n = shape.iter().product::<usize>();
        assert_eq!(n, values.len());
        let src_bytes = bytes_of(values);
        let src = HostTensor::contiguous(&src_bytes[..4 * n], DataFormat::Float32, shape);
        let mut tiles = [0u8; 2048];
        let written = tilize(&src, layout, Rounding::default(), &mut tiles).unwrap();
        assert_eq!(written, layout.tilized_size(shape[0]));
        let mut back_bytes = [0u8; 4 * 256];
        let mut dst =
            HostTensorMut::contiguous(&mut back_bytes[..4 * n], DataFormat::Float32, shape);
        untilize(&tiles[..written], layout, &mut dst).unwrap();
        (values_of(&back_bytes, n), tiles)
    }

    #[test]
    fn float32_round_trips_exactly_through_buffers_and_t_slices() {
        // t = 2, two cores of two 1x32 tiles: host shape [1, 2, 1, 128].
        let layout = row_layout(DataFormat::Float32, 2, 2, 2);
        assert_eq!(layout.host_shape(1), [1, 2, 1, 128]);
        let values: [f32; 256] = core::array::from_fn(|i| i as f32 * 0.25 - 17.0);
        let (back, tiles) = round_trip(&layout, [1, 2, 1, 128], &values);
        assert_eq!(back, values);
        // Each buffer holds its two tiles of each t slice; entries follow one another.
        let tile = tile_size_bytes(DataFormat::Float32, Arch::WormholeB0, layout.tile, false);
        assert_eq!(layout.entry_size(), 2 * 2 * tile);
        assert_eq!(layout.tilized_size(3), 2 * 3 * layout.entry_size());
        // The first tile holds host columns 0..32 of slice 0: values 0..32, after its header.
        let first = f32::from_le_bytes([
            tiles[TILE_HEADER_SIZE],
            tiles[TILE_HEADER_SIZE + 1],
            tiles[TILE_HEADER_SIZE + 2],
            tiles[TILE_HEADER_SIZE + 3],
        ]);
        assert_eq!(first, values[0]);
        // The second core's buffer starts after the first's entry: host column 64 of slice 0.
        let second_buffer = layout.entry_size() + TILE_HEADER_SIZE;
        let v = f32::from_le_bytes([
            tiles[second_buffer],
            tiles[second_buffer + 1],
            tiles[second_buffer + 2],
            tiles[second_buffer + 3],
        ]);
        assert_eq!(v, values[64]);
    }

    #[test]
    fn the_tile_header_holds_the_tile_size_in_16_byte_units() {
        let layout = row_layout(DataFormat::Float16B, 1, 1, 1);
        let values: [f32; 32] = core::array::from_fn(|i| i as f32);
        let (_, tiles) = round_trip(&layout, [1, 1, 1, 32], &values);
        let size = tile_size_bytes(DataFormat::Float16B, Arch::WormholeB0, layout.tile, false);
        assert_eq!(u16::from_le_bytes([tiles[0], tiles[1]]) as usize, size / 16);
    }

    #[test]
    fn float16_b_truncates_and_keeps_what_it_can_hold() {
        let layout = row_layout(DataFormat::Float16B, 1, 1, 1);
        // 1 + 2^-10 needs more than bfloat16's 7 mantissa bits: truncated to 1. The others
        // are exact in bfloat16.
        let mut values: [f32; 32] = core::array::from_fn(|i| (i as f32 - 16.0) * 0.5);
        values[3] = 1.0 + 1.0 / 1024.0;
        values[4] = -3.0e38;
        let (back, _) = round_trip(&layout, [1, 1, 1, 32], &values);
        for i in 0..32 {
            let want = match i {
                3 => 1.0,
                4 => f32::from_bits((-3.0e38f32).to_bits() & 0xffff_0000),
                _ => values[i],
            };
            assert_eq!(back[i], want, "datum {i}");
        }
    }

    #[test]
    fn bfp8_b_shares_an_exponent_per_16_datums() {
        let layout = row_layout(DataFormat::Bfp8B, 1, 1, 1);
        // Block 0 (datums 0..16): largest magnitude 40 (exponent 5), so steps of 2^(5-6) = 0.5
        // are exact and 0.25 rounds half up to 0.5. Block 1 holds small values, exact at its
        // own exponent.
        let mut values: [f32; 32] = core::array::from_fn(|i| {
            if i < 16 {
                i as f32 - 8.0
            } else {
                (i as f32 - 24.0) / 64.0
            }
        });
        values[0] = 40.0;
        values[1] = 0.25;
        let (back, _) = round_trip(&layout, [1, 1, 1, 32], &values);
        assert_eq!(back[0], 40.0);
        assert_eq!(back[1], 0.5);
        for i in 2..32 {
            assert_eq!(back[i], values[i], "datum {i}");
        }
    }

    #[test]
    fn ublock_order_moves_bytes_not_values() {
        let r = QueueLayout {
            ublock_ct: 1,
            mblock_n: 2,
            ..row_layout(DataFormat::Float32, 1, 1, 1)
        };
        let c = QueueLayout {
            ublock_order: UblockOrder::C,
            ..r
        };
        let values: [f32; 64] = core::array::from_fn(|i| i as f32);
        let (back_r, _) = round_trip(&r, [1, 1, 1, 64], &values);
        let (back_c, _) = round_trip(&c, [1, 1, 1, 64], &values);
        assert_eq!(&back_r[..64], &values[..]);
        assert_eq!(&back_c[..64], &values[..]);
    }

    #[test]
    fn short_buffers_and_inconsistent_layouts_are_refused() {
        let layout = row_layout(DataFormat::Float32, 1, 1, 1);
        let values = bytes_of(&[1.0; 32]);
        let src = HostTensor::contiguous(&values[..128], DataFormat::Float32, [1, 1, 1, 32]);
        let need = layout.tilized_size(1);
        let mut tiles = [0u8; 256];
        assert_eq!(
            tilize(&src, &layout, Rounding::default(), &mut tiles[..need - 1]),
            Err(FormatError::BufferSize {
                what: "destination",
                expected: need,
                found: need - 1,
            })
        );
        let mut back = [0u8; 128];
        let mut dst = HostTensorMut::contiguous(&mut back, DataFormat::Float32, [1, 1, 1, 32]);
        assert!(matches!(
            untilize(&tiles[..need + 1], &layout, &mut dst),
            Err(FormatError::BufferSize { what: "source", .. })
        ));
        // A host tensor of the wrong width; a stack factor that does not divide t.
        let narrow = HostTensor::contiguous(&values[..64], DataFormat::Float32, [1, 1, 1, 16]);
        assert!(tilize(&narrow, &layout, Rounding::default(), &mut tiles).is_err());
        let stacked = QueueLayout {
            hstack: 2,
            ..layout
        };
        assert!(matches!(stacked.validate(), Err(FormatError::Stack { .. })));
        assert!(tilize(&src, &stacked, Rounding::default(), &mut tiles).is_err());
        // Sizes that no memory holds saturate instead of wrapping.
        let huge = QueueLayout {
            grid_r: u32::MAX,
            grid_c: u32::MAX,
            ..layout
        };
        assert_eq!(huge.tilized_size(usize::MAX), usize::MAX);
    }
}
