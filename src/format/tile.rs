//! One tile on the device.
//!
//! ```text
//! [16-byte header: u32 size/16, 0, 0, 0]
//! [exponent section, block floats only: one byte per 16 datums; 16 bytes for tiles under 16 rows]
//! [datums in face order: F0 F1 F2 F3, each face row-major, little-endian]
//! [zero padding: 16 bytes on Grayskull/Wormhole (none for block floats under 16 rows);
//!  up to a multiple of 64 on Blackhole]
//! ```
//! A tile of height h and width w has faces of min(h,16) x min(w,16): 32x32 has four (F0
//! top-left, F1 top-right, F2 bottom-left, F3 bottom-right), 16x32 and shorter have two side by
//! side, 32x16 two stacked. Sizes follow Buda's `get_tile_size_in_bytes`.

use super::bfp::{decode_kind, decode_kind_metal, encode_block_kind, BfpKind};
use super::element::{from_device, to_device};
use super::{Arch, BfpDecoding, DataFormat, FormatError, Rounding};

/// Bytes of the header in front of every tilized tile.
pub const TILE_HEADER_SIZE: usize = 16;

/// The shape of a tile. Buda supports 32x32 (the default), 16x32, 32x16, 8x32, 4x32, 2x32, 1x32.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TileDim {
    pub height: u32,
    pub width: u32,
}

impl TileDim {
    pub const FULL: TileDim = TileDim {
        height: 32,
        width: 32,
    };

    pub const fn new(height: u32, width: u32) -> Option<TileDim> {
        match (height, width) {
            (32, 32) | (16, 32) | (32, 16) | (8, 32) | (4, 32) | (2, 32) | (1, 32) => {
                Some(TileDim { height, width })
            }
            _ => None,
        }
    }

    pub const fn datums(self) -> usize {
        (self.height * self.width) as usize
    }
    pub const fn faces_x(self) -> usize {
        self.width.div_ceil(16) as usize
    }
    pub const fn faces_y(self) -> usize {
        self.height.div_ceil(16) as usize
    }
    pub const fn face_height(self) -> usize {
        if self.height < 16 {
            self.height as usize
        } else {
            16
        }
    }
    pub const fn face_width(self) -> usize {
        if self.width < 16 {
            self.width as usize
        } else {
            16
        }
    }
    /// Tiles of 1, 2, 4 or 8 rows: one partial face row.
    pub const fn is_partial_face(self) -> bool {
        self.height < 16
    }

    /// Position in face order of the datum at row `r`, column `c`.
    #[inline(always)]
    pub const fn face_index(self, r: usize, c: usize) -> usize {
        let (fh, fw) = (self.face_height(), self.face_width());
        let face = (r / 16) * self.faces_x() + c / 16;
        (face * fh + r % 16) * fw + c % 16
    }
}

/// Bytes of the exponent section of a block-float tile.
const fn exponent_section(dim: TileDim) -> usize {
    if dim.is_partial_face() {
        16
    } else {
        dim.faces_y() * 16 * dim.faces_x()
    }
}

/// Bytes of the datums of one tile.
const fn data_bytes(format: DataFormat, dim: TileDim) -> usize {
    dim.datums() * format.device_bits() / 8
}

/// Size of one tile in bytes: with header, exponents and padding (`untilized == false`, as it
/// sits in a tilized queue), or datums and exponents only (`untilized == true`).
pub const fn tile_size_bytes(
    format: DataFormat,
    arch: Arch,
    dim: TileDim,
    untilized: bool,
) -> usize {
    let data = data_bytes(format, dim);
    let bfp = format.is_block_float();
    if untilized {
        return data + if bfp { exponent_section(dim) } else { 0 };
    }
    // Header and trailing padding are 32 bytes together; for a partial-face block float the
    // 16-byte exponent section takes the place of the padding. On Grayskull and Wormhole this is
    // Buda's size exactly, even where it is not a multiple of 32 (1x32 Bfp4, 1x32 and 2x32 Bfp2);
    // Blackhole pads every tile to its 64-byte alignment.
    let exps = if bfp && !dim.is_partial_face() {
        exponent_section(dim)
    } else {
        0
    };
    let size = data + exps + 32;
    match arch {
        Arch::Blackhole => size.div_ceil(64) * 64,
        Arch::Grayskull | Arch::WormholeB0 => size,
    }
}

/// Byte offset of the datums in a tilized tile.
pub(crate) const fn data_offset(format: DataFormat, dim: TileDim) -> usize {
    TILE_HEADER_SIZE
        + if format.is_block_float() {
            exponent_section(dim)
        } else {
            0
        }
}

/// Packs one tile whose values are given in face order into `out` (exactly one tilized tile).
pub(crate) fn pack_tile(
    face_vals: &[f32],
    format: DataFormat,
    dim: TileDim,
    rounding: Rounding,
    out: &mut [u8],
) {
    let size = out.len();
    out[..4].copy_from_slice(&((size / 16) as u32).to_le_bytes());
    out[4..TILE_HEADER_SIZE].fill(0);
    let data_at = data_offset(format, dim);
    let end = pack_datums(
        face_vals,
        format,
        rounding,
        &mut out[TILE_HEADER_SIZE..],
        data_at - TILE_HEADER_SIZE,
    );
    out[TILE_HEADER_SIZE + end..].fill(0);
}

/// Packs datums (and, for block floats, the exponent section of `exp_len` bytes first) into
/// `out`; returns the bytes written.
pub(crate) fn pack_datums(
    vals: &[f32],
    format: DataFormat,
    rounding: Rounding,
    out: &mut [u8],
    exp_len: usize,
) -> usize {
    let n = vals.len();
    if let Some(kind) = BfpKind::of(format) {
        let (exps, data) = out.split_at_mut(exp_len);
        exps.fill(0);
        let per_byte = (8 / kind.bits) as usize;
        let mut codes = [0u8; 16];
        for (block, chunk) in vals.chunks_exact(16).enumerate() {
            let chunk: &[f32; 16] = chunk.try_into().expect("16 values");
            exps[block] = encode_block_kind(chunk, kind, rounding.bfp, &mut codes);
            let dst = &mut data[block * 16 / per_byte..(block + 1) * 16 / per_byte];
            match kind.bits {
                8 => dst.copy_from_slice(&codes),
                4 => {
                    for (d, pair) in dst.iter_mut().zip(codes.chunks_exact(2)) {
                        *d = pair[0] | (pair[1] << 4);
                    }
                }
                _ => {
                    for (d, quad) in dst.iter_mut().zip(codes.chunks_exact(4)) {
                        *d = quad[0] | (quad[1] << 2) | (quad[2] << 4) | (quad[3] << 6);
                    }
                }
            }
        }
        return exp_len + n * kind.bits as usize / 8;
    }
    match format {
        DataFormat::Float32 | DataFormat::RawUInt32 => {
            for (d, v) in out.chunks_exact_mut(4).zip(vals) {
                d.copy_from_slice(&v.to_bits().to_le_bytes());
            }
        }
        DataFormat::Float16B => {
            for (d, v) in out.chunks_exact_mut(2).zip(vals) {
                let h = super::element::f32_to_float16_b(*v, rounding.float16_b);
                d.copy_from_slice(&h.to_le_bytes());
            }
        }
        _ => match format.device_bits() {
            32 => {
                for (d, v) in out.chunks_exact_mut(4).zip(vals) {
                    d.copy_from_slice(&to_device(*v, format, rounding.float16_b).to_le_bytes());
                }
            }
            16 => {
                for (d, v) in out.chunks_exact_mut(2).zip(vals) {
                    d.copy_from_slice(
                        &(to_device(*v, format, rounding.float16_b) as u16).to_le_bytes(),
                    );
                }
            }
            _ => {
                for (d, v) in out.iter_mut().zip(vals) {
                    *d = to_device(*v, format, rounding.float16_b) as u8;
                }
            }
        },
    }
    n * format.device_bits() / 8
}

/// Unpacks datums (after an exponent section of `exp_len` bytes for block floats) into `vals`,
/// block floats read as `decoding` says.
pub(crate) fn unpack_datums(
    bytes: &[u8],
    format: DataFormat,
    exp_len: usize,
    decoding: BfpDecoding,
    vals: &mut [f32],
) {
    if let Some(kind) = BfpKind::of(format) {
        let (exps, data) = bytes.split_at(exp_len);
        let per_byte = (8 / kind.bits) as usize;
        let mask = ((1u32 << kind.bits) - 1) as u8;
        for (block, out) in vals.chunks_exact_mut(16).enumerate() {
            let e = exps[block];
            let src = &data[block * 16 / per_byte..(block + 1) * 16 / per_byte];
            for (i, v) in out.iter_mut().enumerate() {
                let byte = src[i / per_byte];
                let code = (byte >> ((i % per_byte) as u32 * kind.bits)) & mask;
                *v = match decoding {
                    BfpDecoding::Buda => decode_kind(e, code, kind),
                    BfpDecoding::TtMetal => decode_kind_metal(e, code, kind),
                };
            }
        }
        return;
    }
    match format {
        DataFormat::Float32 | DataFormat::RawUInt32 | DataFormat::Tf32 => {
            for (v, s) in vals.iter_mut().zip(bytes.chunks_exact(4)) {
                *v = f32::from_bits(u32::from_le_bytes([s[0], s[1], s[2], s[3]]));
            }
        }
        DataFormat::Float16B => {
            for (v, s) in vals.iter_mut().zip(bytes.chunks_exact(2)) {
                *v = f32::from_bits((u16::from_le_bytes([s[0], s[1]]) as u32) << 16);
            }
        }
        _ => match format.device_bits() {
            32 => {
                for (v, s) in vals.iter_mut().zip(bytes.chunks_exact(4)) {
                    *v = from_device(u32::from_le_bytes([s[0], s[1], s[2], s[3]]), format);
                }
            }
            16 => {
                for (v, s) in vals.iter_mut().zip(bytes.chunks_exact(2)) {
                    *v = from_device(u16::from_le_bytes([s[0], s[1]]) as u32, format);
                }
            }
            _ => {
                for (v, s) in vals.iter_mut().zip(bytes) {
                    *v = from_device(*s as u32, format);
                }
            }
        },
    }
}

/// Unpacks one tilized tile into values in face order.
pub(crate) fn unpack_tile(bytes: &[u8], format: DataFormat, dim: TileDim, face_vals: &mut [f32]) {
    let exp_len = data_offset(format, dim) - TILE_HEADER_SIZE;
    unpack_datums(
        &bytes[TILE_HEADER_SIZE..],
        format,
        exp_len,
        BfpDecoding::Buda,
        face_vals,
    );
}

fn check_tile_args(
    values: usize,
    bytes: usize,
    format: DataFormat,
    arch: Arch,
    dim: TileDim,
) -> Result<usize, FormatError> {
    if values != dim.datums() {
        return Err(FormatError::BufferSize {
            what: "tile values",
            expected: dim.datums(),
            found: values,
        });
    }
    let size = tile_size_bytes(format, arch, dim, false);
    if bytes < size {
        return Err(FormatError::BufferSize {
            what: "tile buffer",
            expected: size,
            found: bytes,
        });
    }
    Ok(size)
}

/// Encodes one tile from its values in row-major order (`values[r * width + c]`) into `out`;
/// returns the tile's size in bytes (header and padding included).
pub fn encode_tile(
    values: &[f32],
    format: DataFormat,
    arch: Arch,
    dim: TileDim,
    rounding: Rounding,
    out: &mut [u8],
) -> Result<usize, FormatError> {
    let size = check_tile_args(values.len(), out.len(), format, arch, dim)?;
    let mut face_vals = [0f32; 1024];
    let w = dim.width as usize;
    for (i, v) in values.iter().enumerate() {
        face_vals[dim.face_index(i / w, i % w)] = *v;
    }
    pack_tile(
        &face_vals[..dim.datums()],
        format,
        dim,
        rounding,
        &mut out[..size],
    );
    Ok(size)
}

/// Decodes one tilized tile (starting at its header) into values in row-major order.
pub fn decode_tile(
    bytes: &[u8],
    format: DataFormat,
    dim: TileDim,
    out: &mut [f32],
) -> Result<(), FormatError> {
    // Blackhole's extra padding is at the end; the Wormhole size is all that is read.
    check_tile_args(out.len(), bytes.len(), format, Arch::WormholeB0, dim)?;
    let mut face_vals = [0f32; 1024];
    unpack_tile(bytes, format, dim, &mut face_vals[..dim.datums()]);
    let w = dim.width as usize;
    for (i, v) in out.iter_mut().enumerate() {
        *v = face_vals[dim.face_index(i / w, i % w)];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    //! One 1x32 tile of every format, small enough for Miri (`.ci/run` runs it under it).

    use super::*;
    use crate::format::Rounding;

    #[test]
    fn every_format_encodes_a_tile_of_its_size_and_requantizing_changes_nothing() {
        let dim = TileDim::new(1, 32).unwrap();
        let values: [f32; 32] = core::array::from_fn(|i| i as f32 - 12.0);
        let mut encoded = 0;
        for format in DataFormat::ALL {
            let size = tile_size_bytes(format, Arch::WormholeB0, dim, false);
            let mut tile = [0u8; 256];
            let Ok(n) = encode_tile(
                &values,
                format,
                Arch::WormholeB0,
                dim,
                Rounding::default(),
                &mut tile,
            ) else {
                continue;
            };
            encoded += 1;
            assert_eq!(n, size, "{format:?}");
            let mut once = [0f32; 32];
            decode_tile(&tile[..n], format, dim, &mut once).unwrap();
            // Quantizing what is already quantized is exact.
            let mut again_tile = [0u8; 256];
            encode_tile(
                &once,
                format,
                Arch::WormholeB0,
                dim,
                Rounding::default(),
                &mut again_tile,
            )
            .unwrap();
            assert_eq!(&again_tile[..n], &tile[..n], "{format:?}");
            if matches!(
                format,
                DataFormat::Float32 | DataFormat::Float16B | DataFormat::Int32 | DataFormat::Bfp8B
            ) {
                assert_eq!(once, values, "{format:?} holds small integers exactly");
            }
            // A buffer one byte short is refused, not overrun.
            assert!(encode_tile(
                &values,
                format,
                Arch::WormholeB0,
                dim,
                Rounding::default(),
                &mut tile[..n - 1]
            )
            .is_err());
            assert!(decode_tile(&tile[..n - 1], format, dim, &mut once).is_err());
        }
        assert!(encoded >= 15, "only {encoded} formats encode tiles");
    }
}
