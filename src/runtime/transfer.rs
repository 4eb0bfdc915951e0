//! Host tensors to device pages and back: the conversion of format and layout a write does on
//! the host thread (straight into the command queue's data ring) and a read does on the device
//! side (straight into the caller's buffer).

use crate::format::element::{from_device, from_host, to_device, to_host};
use crate::format::page::{decode_tile_page, encode_tile_page};
use crate::format::{BfpDecoding, DataFormat, FormatError, Rounding};
use crate::hal::layout::{BufferLayout, TensorLayout};
use crate::hal::{BufferRef, Chip, HalError};

const TILE: usize = 32;

/// A host tensor's memory as a command carries it: the caller's bytes, how to read them, and
/// whether they are already device pages (`tiled`: the tensor's own format and page order).
#[derive(Clone, Copy, Debug)]
pub struct HostBuffer {
    pub ptr: *mut u8,
    pub len: usize,
    pub format: DataFormat,
    pub shape: [usize; 4],
    /// Bytes between consecutive indices of each dimension (row-major hosts).
    pub strides: [usize; 4],
    pub tiled: bool,
}

// SAFETY: a HostBuffer is an address the caller promised stays valid until the command that
// carries it completes (non-blocking reads) or until the call returns (writes).
unsafe impl Send for HostBuffer {}

/// The host byte offset of element (`row`, `col`) of the tensor's 2D view (rows = all outer
/// dimensions flattened).
#[inline]
fn host_offset(h: &HostBuffer, row: usize, col: usize) -> usize {
    let [_, s1, s2, _] = h.shape;
    let y = row % s2;
    let z = (row / s2) % s1;
    let w = row / (s2 * s1);
    w * h.strides[0] + z * h.strides[1] + y * h.strides[2] + col * h.strides[3]
}

/// Pages of the row-major layout: how many columns one page holds.
fn row_page_columns(layout: &BufferLayout) -> usize {
    layout.page_size() as usize / (layout.format().device_bits() / 8)
}

/// Converts pages `first..first + count` of `layout` from the host tensor `h` into `out`
/// (`count * page_size` bytes, pages back to back).
///
/// # Safety
/// `h.ptr` must be valid for reads of `h.len` bytes, and `h` must have been checked against
/// the tensor (`check_host`).
pub unsafe fn host_to_pages(
    h: &HostBuffer,
    layout: &BufferLayout,
    first: u32,
    count: u32,
    rounding: Rounding,
    out: &mut [u8],
) -> Result<(), FormatError> {
    // SAFETY: the caller's promise.
    let data = unsafe { core::slice::from_raw_parts(h.ptr as *const u8, h.len) };
    let page = layout.page_size() as usize;
    if h.tiled {
        let start = first as usize * page;
        out.copy_from_slice(&data[start..start + count as usize * page]);
        return Ok(());
    }
    let format = layout.format();
    let [_, _, _, width] = layout.shape().map(|d| d as usize);
    let item = h.format.host_item_size().unwrap_or(4);
    match layout.tensor_layout() {
        TensorLayout::Tile => {
            let tiles_w = width / TILE;
            let mut vals = [0f32; TILE * TILE];
            for (i, out_page) in out.chunks_exact_mut(page).enumerate() {
                let p = first as usize + i;
                let (tr, tc) = (p / tiles_w, p % tiles_w);
                for r in 0..TILE {
                    for c in 0..TILE {
                        let at = host_offset(h, tr * TILE + r, tc * TILE + c);
                        vals[r * TILE + c] = from_host(&data[at..at + item], h.format);
                    }
                }
                encode_tile_page(&vals, format, rounding, out_page)?;
            }
        }
        TensorLayout::RowMajor => {
            let cols = row_page_columns(layout);
            let per_row = width.div_ceil(cols);
            let dev_item = format.device_bits() / 8;
            for (i, out_page) in out.chunks_exact_mut(page).enumerate() {
                let p = first as usize + i;
                let (row, col0) = (p / per_row, (p % per_row) * cols);
                out_page.fill(0);
                for c in col0..(col0 + cols).min(width) {
                    let at = host_offset(h, row, c);
                    let x = from_host(&data[at..at + item], h.format);
                    let bits = to_device(x, format, rounding.float16_b);
                    let o = (c - col0) * dev_item;
                    out_page[o..o + dev_item].copy_from_slice(&bits.to_le_bytes()[..dev_item]);
                }
            }
        }
    }
    Ok(())
}

/// Reads every page of `src` from the chip into the host tensor `h`, converting on the way.
///
/// # Safety
/// `h.ptr` must be valid for writes of `h.len` bytes and not otherwise accessed until this
/// returns, and `h` must have been checked against the tensor (`check_host`).
pub unsafe fn pages_to_host<C: Chip + ?Sized>(
    chip: &C,
    src: &BufferRef,
    h: &HostBuffer,
) -> Result<(), HalError> {
    // SAFETY: the caller's promise.
    let data = unsafe { core::slice::from_raw_parts_mut(h.ptr, h.len) };
    let layout = &src.layout;
    let page = layout.page_size() as usize;
    let kind = src.kind();
    let mut bytes = [0u8; 4096];
    if h.tiled {
        for p in 0..layout.num_pages() {
            let (bank, offset) = layout.page_location(p);
            let at = p as usize * page;
            chip.read(kind, bank, src.addr + offset, &mut data[at..at + page])?;
        }
        return Ok(());
    }
    let format = layout.format();
    let [_, _, _, width] = layout.shape().map(|d| d as usize);
    let item = h.format.host_item_size().unwrap_or(4);
    match layout.tensor_layout() {
        TensorLayout::Tile => {
            let tiles_w = width / TILE;
            let mut vals = [0f32; TILE * TILE];
            for p in 0..layout.num_pages() {
                let (bank, offset) = layout.page_location(p);
                chip.read(kind, bank, src.addr + offset, &mut bytes[..page])?;
                decode_tile_page(&bytes[..page], format, BfpDecoding::TtMetal, &mut vals)?;
                let (tr, tc) = (p as usize / tiles_w, p as usize % tiles_w);
                for r in 0..TILE {
                    for c in 0..TILE {
                        let at = host_offset(h, tr * TILE + r, tc * TILE + c);
                        to_host(vals[r * TILE + c], h.format, &mut data[at..at + item]);
                    }
                }
            }
        }
        TensorLayout::RowMajor => {
            let cols = row_page_columns(layout);
            let per_row = width.div_ceil(cols);
            let dev_item = format.device_bits() / 8;
            let chunk = bytes.len() / dev_item;
            for p in 0..layout.num_pages() {
                let (bank, offset) = layout.page_location(p);
                let (row, col0) = (p as usize / per_row, (p as usize % per_row) * cols);
                let end = (col0 + cols).min(width);
                let mut c = col0;
                while c < end {
                    let n = (end - c).min(chunk);
                    let off = ((c - col0) * dev_item) as u64;
                    chip.read(
                        kind,
                        bank,
                        src.addr + offset + off,
                        &mut bytes[..n * dev_item],
                    )?;
                    for (k, d) in bytes[..n * dev_item].chunks_exact(dev_item).enumerate() {
                        let mut word = [0u8; 4];
                        word[..dev_item].copy_from_slice(d);
                        let x = from_device(u32::from_le_bytes(word), format);
                        let at = host_offset(h, row, c + k);
                        to_host(x, h.format, &mut data[at..at + item]);
                    }
                    c += n;
                }
            }
        }
    }
    Ok(())
}
