//! Golden's round trip Q(x) to a data format (golden-ops.md §2): the values are packed into the
//! format's device encoding and unpacked back to float32, in place, allocating nothing.
//!
//! Block floats work on blocks of 16 consecutive values of one face row: tile row `r`, columns
//! 0..15 or 16..31. In a row-major slice whose width is a multiple of 32 those are simply the
//! consecutive runs of 16 values, so any whole tensor (or any slice of it that starts at a
//! multiple of 16) quantizes block by block without looking at its shape.

use crate::format::bfp::{decode_kind, encode_block_kind, BfpKind};
use crate::format::element::{
    f32_to_fp16a, f32_to_lf8, f32_to_tf32, fp16a_to_f32, fp8_e4m3_to_f32, lf8_to_f32,
    quantize_int32, quantize_int8, quantize_uint16, quantize_uint8,
};
use crate::format::{BfpRounding, DataFormat};

use super::Tensor;

/// Q(x) of one value in a format that is not a block float (block floats give `x`).
#[inline(always)]
pub fn quantize_value(x: f32, format: DataFormat) -> f32 {
    match format {
        DataFormat::Float32 => x,
        DataFormat::Tf32 => f32::from_bits(f32_to_tf32(x)),
        // Truncation to the top 16 bits: inf stays inf; a NaN with a payload only in the low
        // 16 bits becomes inf, as in golden.
        DataFormat::Float16B => f32::from_bits(x.to_bits() & 0xffff_0000),
        DataFormat::Float16 => fp16a_to_f32(f32_to_fp16a(x)),
        DataFormat::Lf8 => lf8_to_f32(f32_to_lf8(x)),
        // ⚠ Golden packs Fp8_e4m3 with the Lf8 encoder and unpacks it as e4m3, which garbles
        // the values; this follows golden (only a push to an Fp8_e4m3 queue would reach it).
        DataFormat::Fp8E4m3 => fp8_e4m3_to_f32(f32_to_lf8(x)),
        DataFormat::Int8 => quantize_int8(x) as f32,
        DataFormat::UInt8 => quantize_uint8(x) as f32,
        DataFormat::UInt16 => quantize_uint16(x) as f32,
        DataFormat::Int32 => quantize_int32(x) as f32,
        DataFormat::RawUInt8 => f32::from_bits(x.to_bits() & 0xff),
        DataFormat::RawUInt16 => f32::from_bits(x.to_bits() & 0xffff),
        DataFormat::RawUInt32 => x,
        DataFormat::Bfp8
        | DataFormat::Bfp4
        | DataFormat::Bfp2
        | DataFormat::Bfp8B
        | DataFormat::Bfp4B
        | DataFormat::Bfp2B => x,
    }
}

/// Q(x) of every value, with Buda's reference rounding for block floats (half up). For block
/// floats `values.len()` must be a multiple of 16 and start at a block boundary; a shorter
/// tail is quantized as a block padded with zeros.
pub fn quantize(values: &mut [f32], format: DataFormat) {
    quantize_with(values, format, BfpRounding::HalfUp)
}

/// [`quantize`] with a choice of block-float rounding (`Truncate` is
/// `TT_BACKEND_DISABLE_BFP_RTE=1`).
pub fn quantize_with(values: &mut [f32], format: DataFormat, rounding: BfpRounding) {
    match BfpKind::of(format) {
        Some(kind) => {
            let mut codes = [0u8; 16];
            for chunk in values.chunks_mut(16) {
                let mut block = [0f32; 16];
                block[..chunk.len()].copy_from_slice(chunk);
                let shared = encode_block_kind(&block, kind, rounding, &mut codes);
                for (v, &code) in chunk.iter_mut().zip(&codes) {
                    *v = decode_kind(shared, code, kind);
                }
            }
        }
        None => {
            if format != DataFormat::Float32 && format != DataFormat::RawUInt32 {
                for v in values.iter_mut() {
                    *v = quantize_value(*v, format);
                }
            }
        }
    }
}

/// Q(x) of a whole tensor to `format`; the tag is left as it is.
pub fn quantize_tensor(tensor: &mut Tensor, format: DataFormat) {
    quantize(&mut tensor.data, format)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalar_formats() {
        assert_eq!(
            quantize_value(1.0 + 2f32.powi(-9), DataFormat::Float16B),
            1.0
        );
        assert_eq!(quantize_value(-2.5, DataFormat::Int8), -3.0);
        assert_eq!(quantize_value(300.0, DataFormat::Int8), 127.0);
        assert_eq!(quantize_value(-300.0, DataFormat::Int8), -127.0);
        assert_eq!(quantize_value(2.7, DataFormat::Int32), 2.0);
        assert_eq!(quantize_value(-2.5, DataFormat::Int32), -3.0);
        assert_eq!(quantize_value(1e6, DataFormat::Float16), 131008.0);
        assert_eq!(quantize_value(1e-6, DataFormat::Float16), 0.0);
        assert_eq!(quantize_value(1.0 + 2f32.powi(-11), DataFormat::Tf32), 1.0);
    }

    #[test]
    fn bfp8_b_block() {
        let mut v = [0f32; 32];
        v[0] = 1.0;
        v[1] = 1.0 / 128.0; // half of the last step (1/64): rounds up
        v[2] = 1.0 / 256.0; // a quarter step: 0
        v[16] = 3.0;
        quantize(&mut v, DataFormat::Bfp8B);
        assert_eq!(v[0], 1.0);
        assert_eq!(v[1], 1.0 / 64.0);
        assert_eq!(v[2], 0.0);
        assert_eq!(v[16], 3.0);
    }
}
