//! Programs on the simulated chip: page by page through the chip's memory, float32 in between.

use super::SimChip;
use crate::compute::{apply_binary, apply_unary, matmul_tile_accumulate};
use crate::format::page::{decode_tile_page, encode_tile_page, tile_page_size};
use crate::format::{BfpDecoding, Rounding};
use crate::hal::layout::TensorLayout;
use crate::hal::{BufferRef, Chip, HalError, OpKind, Program};

/// The largest tile page (Float32, Int32: 32 x 32 x 4 bytes).
const MAX_TILE_PAGE: usize = 4096;
const TILE_DATUMS: usize = 1024;

pub fn run(chip: &SimChip, program: &Program, rounding: Rounding) -> Result<(), HalError> {
    match program.op {
        OpKind::Unary(op) => {
            tiles_only(program, 1)?;
            let mut io = TileIo::new(chip, rounding);
            let mut x = [0f32; TILE_DATUMS];
            for page in 0..program.out.layout.num_pages() {
                io.read(&program.a, page, &mut x)?;
                apply_unary(op, &mut x)?;
                io.write(&program.out, page, &x)?;
            }
            Ok(())
        }
        OpKind::Binary(op) => {
            tiles_only(program, 2)?;
            let mut io = TileIo::new(chip, rounding);
            let (mut x, mut y) = ([0f32; TILE_DATUMS], [0f32; TILE_DATUMS]);
            for page in 0..program.out.layout.num_pages() {
                io.read(&program.a, page, &mut x)?;
                io.read(&program.b, page, &mut y)?;
                apply_binary(op, &mut x, &y)?;
                io.write(&program.out, page, &x)?;
            }
            Ok(())
        }
        OpKind::Matmul => {
            tiles_only(program, 2)?;
            matmul(chip, program, rounding)
        }
        OpKind::Copy => copy(chip, &program.a, &program.out),
    }
}

/// Elementwise ops and matmul run on TILE-layout operands (the runtime checks it before
/// enqueueing; this is the chip's own guard).
fn tiles_only(program: &Program, inputs: usize) -> Result<(), HalError> {
    let tile = |b: &BufferRef| b.tensor_layout() == TensorLayout::Tile;
    let tiled = tile(&program.a) && tile(&program.out) && (inputs < 2 || tile(&program.b));
    if tiled {
        Ok(())
    } else {
        Err(HalError::Unsupported(
            "compute ops need TILE-layout operands",
        ))
    }
}

/// Reads and writes whole tiles, unpacked to float32 in row-major order.
struct TileIo<'a> {
    chip: &'a SimChip,
    rounding: Rounding,
    bytes: [u8; MAX_TILE_PAGE],
}

impl<'a> TileIo<'a> {
    fn new(chip: &'a SimChip, rounding: Rounding) -> Self {
        TileIo {
            chip,
            rounding,
            bytes: [0; MAX_TILE_PAGE],
        }
    }

    fn read(
        &mut self,
        buf: &BufferRef,
        page: u32,
        vals: &mut [f32; TILE_DATUMS],
    ) -> Result<(), HalError> {
        let format = buf.layout.format();
        let size = tile_page_size(format);
        let (bank, offset) = buf.layout.page_location(page);
        let bytes = &mut self.bytes[..size];
        self.chip.read(buf.kind(), bank, buf.addr + offset, bytes)?;
        decode_tile_page(bytes, format, BfpDecoding::Buda, vals)?;
        Ok(())
    }

    fn write(
        &mut self,
        buf: &BufferRef,
        page: u32,
        vals: &[f32; TILE_DATUMS],
    ) -> Result<(), HalError> {
        let format = buf.layout.format();
        let size = tile_page_size(format);
        let bytes = &mut self.bytes[..size];
        encode_tile_page(vals, format, self.rounding, bytes)?;
        let (bank, offset) = buf.layout.page_location(page);
        self.chip.write(buf.kind(), bank, buf.addr + offset, bytes)
    }
}

/// `out[i] = a[i] · b[i or 0]` for every outer index i, tile by tile, accumulating over the
/// inner dimension in float32 in tile order.
fn matmul(chip: &SimChip, p: &Program, rounding: Rounding) -> Result<(), HalError> {
    let [a0, a1, m, k] = p.a.layout.shape();
    let [b0, b1, _, n] = p.b.layout.shape();
    let (mt, kt, nt) = (m / 32, k / 32, n / 32);
    let b_batches = b0 * b1;
    let mut io = TileIo::new(chip, rounding);
    let (mut x, mut y, mut acc) = (
        [0f32; TILE_DATUMS],
        [0f32; TILE_DATUMS],
        [0f32; TILE_DATUMS],
    );
    for batch in 0..a0 * a1 {
        let b_batch = if b_batches == 1 { 0 } else { batch };
        for i in 0..mt {
            for j in 0..nt {
                acc.fill(0.0);
                for l in 0..kt {
                    io.read(&p.a, (batch * mt + i) * kt + l, &mut x)?;
                    io.read(&p.b, (b_batch * kt + l) * nt + j, &mut y)?;
                    matmul_tile_accumulate(&mut acc, &x, &y);
                }
                io.write(&p.out, (batch * mt + i) * nt + j, &acc)?;
            }
        }
    }
    Ok(())
}

/// Copies a tensor between memory layouts of the same tensor layout and format: page by page
/// for tiles (a tile is a page in every layout), run by run for rows (a row-major page is a
/// whole row when interleaved and a shard-wide piece of one when sharded).
fn copy(chip: &SimChip, src: &BufferRef, dst: &BufferRef) -> Result<(), HalError> {
    let mut bytes = [0u8; MAX_TILE_PAGE];
    if src.tensor_layout() == TensorLayout::Tile {
        let size = src.layout.page_size() as usize;
        for page in 0..src.layout.num_pages() {
            let (bank, offset) = src.layout.page_location(page);
            chip.read(src.kind(), bank, src.addr + offset, &mut bytes[..size])?;
            let (bank, offset) = dst.layout.page_location(page);
            chip.write(dst.kind(), bank, dst.addr + offset, &bytes[..size])?;
        }
        return Ok(());
    }
    let [s0, s1, s2, width] = src.layout.shape();
    let item = (src.layout.format().device_bits() / 8) as u64;
    let rows = s0 * s1 * s2;
    let (src_run, dst_run) = (src.layout.page_size() / item, dst.layout.page_size() / item);
    let runs_per_row = |run: u64| (width as u64).div_ceil(run);
    for row in 0..rows as u64 {
        let mut col = 0u64;
        while col < width as u64 {
            let (sp, so) = (row * runs_per_row(src_run) + col / src_run, col % src_run);
            let (dp, d_off) = (row * runs_per_row(dst_run) + col / dst_run, col % dst_run);
            let n = (src_run - so)
                .min(dst_run - d_off)
                .min(width as u64 - col)
                .min(MAX_TILE_PAGE as u64 / item);
            let len = (n * item) as usize;
            let (bank, offset) = src.layout.page_location(sp as u32);
            chip.read(
                src.kind(),
                bank,
                src.addr + offset + so * item,
                &mut bytes[..len],
            )?;
            let (bank, offset) = dst.layout.page_location(dp as u32);
            chip.write(
                dst.kind(),
                bank,
                dst.addr + offset + d_off * item,
                &bytes[..len],
            )?;
            col += n;
        }
    }
    Ok(())
}
