//! Device pages of tensors: what one page of a TT-Metal buffer holds.
//!
//! A TILE-layout tensor is stored one 32x32 tile per page, laid out as a Buda tile without its
//! 16-byte header and without trailing padding:
//!
//! ```text
//! [exponent section, block floats only: 64 bytes, one shared exponent per 16 datums, face order]
//! [datums in face order: F0 F1 F2 F3, each face row-major, little-endian]
//! ```
//!
//! A ROW_MAJOR tensor is stored as its elements one after another, `device_bits() / 8` bytes
//! each, little-endian, in the device encodings of `element.rs`.
//!
//! The conversion rules are the caller's: TT-Metal tensors (the device's writes and reads) use
//! [`Rounding::tt_metal`] and [`BfpDecoding::TtMetal`], TT-Metal's host conversion, so their
//! pages equal what `ttnn.Tensor(values, dtype, layout=TILE_LAYOUT)` stores and read back as
//! ttnn reads them (tests/device/metal_pages.rs, against ttnn's own output); the simulated chip's ops
//! use Buda's golden codecs.
//!
//! Every 16 values of a tile row (columns 0-15 or 16-31) are one face row, and for block floats
//! one shared-exponent block, so the tile codecs below convert run by run between the row-major
//! values and the page: no face-order copy of the tile, no per-value index arithmetic. They
//! reuse the tile packer run by run and equal `encode_tile`/`decode_tile` bit for bit
//! (tests/device/sim_compute.rs).

use super::bfp::{decode_bfp8_b_metal, encode_bfp8_b_metal};
use super::tile::{data_offset, pack_datums, unpack_datums, TILE_HEADER_SIZE};
use super::{
    tile_size_bytes, Arch, BfpDecoding, BfpRounding, DataFormat, FormatError, Rounding, TileDim,
};

const TILE: TileDim = TileDim::FULL;
/// Values of one face row: one run of a tile row, one block of a block float.
const RUN: usize = 16;

/// Bytes of one tile page of `format`: the exponent section (block floats) and the datums.
pub const fn tile_page_size(format: DataFormat) -> usize {
    tile_size_bytes(format, Arch::WormholeB0, TILE, true)
}

/// Bytes of the exponent section of a tile page; raw formats have no tile pages (TT-Metal has no
/// raw data types: a raw value is a Buda queue convention, an integer in a float's bit pattern).
fn tile_page_exponents(format: DataFormat) -> Result<usize, FormatError> {
    if format.is_raw() {
        return Err(FormatError::DeviceFormat {
            format,
            usage: "a tile page",
        });
    }
    Ok(data_offset(format, TILE) - TILE_HEADER_SIZE)
}

/// Bytes of one element of a row-major page; block floats have none (their exponent is shared
/// by 16 datums of a face row, which a row-major page does not have).
fn row_item_size(format: DataFormat) -> Result<usize, FormatError> {
    if format.is_block_float() {
        return Err(FormatError::DeviceFormat {
            format,
            usage: "a row-major page",
        });
    }
    Ok(format.device_bits() / 8)
}

fn check_len(what: &'static str, expected: usize, found: usize) -> Result<(), FormatError> {
    if found < expected {
        return Err(FormatError::BufferSize {
            what,
            expected,
            found,
        });
    }
    Ok(())
}

/// Where the run of tile row `r` starting at column `c` (0 or 16) sits: its block number in face
/// order and the byte offset of its datums within the datum section.
#[inline(always)]
fn run_position(format: DataFormat, r: usize, c: usize) -> (usize, usize) {
    let k = TILE.face_index(r, c);
    (k / RUN, k * format.device_bits() / 8)
}

/// Encodes one 32x32 tile, given row-major (`values[r * 32 + c]`), into the first
/// [`tile_page_size`] bytes of `out`.
pub fn encode_tile_page(
    values: &[f32; 1024],
    format: DataFormat,
    rounding: Rounding,
    out: &mut [u8],
) -> Result<(), FormatError> {
    let exp_len = tile_page_exponents(format)?;
    let size = tile_page_size(format);
    check_len("tile page", size, out.len())?;
    let (exps, data) = out[..size].split_at_mut(exp_len);
    if format == DataFormat::Bfp8B && rounding.bfp == BfpRounding::NearestEven {
        // TT-Metal's Bfp8_b, the common device case: a run is a block of 16 one-byte codes.
        for (r, row) in values.chunks_exact(32).enumerate() {
            for (c, run) in [(0, &row[..RUN]), (RUN, &row[RUN..])] {
                let (block, at) = run_position(format, r, c);
                let run: &[f32; RUN] = run.try_into().expect("16 values");
                let codes: &mut [u8; RUN] = (&mut data[at..at + RUN]).try_into().expect("16");
                exps[block] = encode_bfp8_b_metal(run, codes);
            }
        }
        return Ok(());
    }
    let run_bytes = RUN * format.device_bits() / 8;
    for (r, row) in values.chunks_exact(32).enumerate() {
        for (c, run) in [(0, &row[..RUN]), (RUN, &row[RUN..])] {
            let (block, at) = run_position(format, r, c);
            let dst = &mut data[at..at + run_bytes];
            if exp_len == 0 {
                pack_datums(run, format, rounding, dst, 0);
            } else {
                // The packer writes a block's exponent in front of its datums; in the page the
                // exponents are gathered at the start.
                let mut packed = [0u8; 1 + RUN];
                pack_datums(run, format, rounding, &mut packed[..1 + run_bytes], 1);
                exps[block] = packed[0];
                dst.copy_from_slice(&packed[1..1 + run_bytes]);
            }
        }
    }
    Ok(())
}

/// Decodes one tile page (the first [`tile_page_size`] bytes of `bytes`) into row-major values,
/// block floats read as `decoding` says.
pub fn decode_tile_page(
    bytes: &[u8],
    format: DataFormat,
    decoding: BfpDecoding,
    out: &mut [f32; 1024],
) -> Result<(), FormatError> {
    let exp_len = tile_page_exponents(format)?;
    let size = tile_page_size(format);
    check_len("tile page", size, bytes.len())?;
    let (exps, data) = bytes[..size].split_at(exp_len);
    if format == DataFormat::Bfp8B && decoding == BfpDecoding::TtMetal {
        for (r, row) in out.chunks_exact_mut(32).enumerate() {
            let (left, right) = row.split_at_mut(RUN);
            for (c, run) in [(0, left), (RUN, right)] {
                let (block, at) = run_position(format, r, c);
                let codes: &[u8; RUN] = data[at..at + RUN].try_into().expect("16 codes");
                let run: &mut [f32; RUN] = run.try_into().expect("16 values");
                decode_bfp8_b_metal(exps[block], codes, run);
            }
        }
        return Ok(());
    }
    let run_bytes = RUN * format.device_bits() / 8;
    for (r, row) in out.chunks_exact_mut(32).enumerate() {
        let (left, right) = row.split_at_mut(RUN);
        for (c, run) in [(0, left), (RUN, right)] {
            let (block, at) = run_position(format, r, c);
            let src = &data[at..at + run_bytes];
            if exp_len == 0 {
                unpack_datums(src, format, 0, decoding, run);
            } else {
                let mut packed = [0u8; 1 + RUN];
                packed[0] = exps[block];
                packed[1..1 + run_bytes].copy_from_slice(src);
                unpack_datums(&packed[..1 + run_bytes], format, 1, decoding, run);
            }
        }
    }
    Ok(())
}

/// Encodes row-major values into the first `values.len() * device_bits() / 8` bytes of `out`.
/// Block floats are refused.
pub fn encode_row_page(
    values: &[f32],
    format: DataFormat,
    rounding: Rounding,
    out: &mut [u8],
) -> Result<(), FormatError> {
    let item = row_item_size(format)?;
    let size = values
        .len()
        .checked_mul(item)
        .ok_or(FormatError::TooLarge { what: "row page" })?;
    check_len("row page", size, out.len())?;
    // With no exponent section the packer is the element codecs (`to_device`) datum by datum.
    pack_datums(values, format, rounding, &mut out[..size], 0);
    Ok(())
}

/// Decodes `out.len()` elements from the start of a row-major page. Block floats are refused.
pub fn decode_row_page(
    bytes: &[u8],
    format: DataFormat,
    out: &mut [f32],
) -> Result<(), FormatError> {
    let item = row_item_size(format)?;
    let size = out
        .len()
        .checked_mul(item)
        .ok_or(FormatError::TooLarge { what: "row page" })?;
    check_len("row page", size, bytes.len())?;
    unpack_datums(&bytes[..size], format, 0, BfpDecoding::Buda, out);
    Ok(())
}
