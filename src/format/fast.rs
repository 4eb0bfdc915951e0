//! The common case at memory speed: a row-major Float32 host tensor to and from Float32,
//! Float16_b and Bfp8_b tilized queues. Every run of 16 values of a host row is one face row of a
//! tile (and, for Bfp8_b, one shared-exponent block), so each run converts straight between host
//! bytes and tile bytes. Each codec is its own type, so the loops are compiled once per format
//! and rounding with every constant fixed: no intermediate tile buffer, no per-value dispatch.
//! The results equal the general path's bit for bit (tests/format/format_fast_path.rs).

use super::bfp::{decode_kind, encode_block_kind, BfpKind};
use super::tile::TILE_HEADER_SIZE;
use super::{BfpRounding, DataFormat};

/// Converts runs of 16 values between host Float32 bytes and one device format. `k` is the
/// run's first datum in face order (a multiple of 16); `tile` is the whole tilized tile, whose
/// datums start at `data_at`.
pub(crate) trait RunCodec {
    fn encode(src: &[u8; 64], tile: &mut [u8], data_at: usize, k: usize);
    fn decode(tile: &[u8], data_at: usize, k: usize, dst: &mut [u8; 64]);
}

/// Calls `f` with the codec for `format` and `rounding`, if there is a fast one (the caller has
/// `DataFormat`, `Float16bRounding` and `BfpRounding` in scope).
macro_rules! with_codec {
    ($format:expr, $rounding:expr, $f:ident ( $($arg:expr),* )) => {
        match ($format, $rounding.float16_b, $rounding.bfp) {
            (DataFormat::Float32, _, _) => Some($f::<$crate::format::fast::Float32Codec>($($arg),*)),
            (DataFormat::Float16B, Float16bRounding::Truncate, _) => {
                Some($f::<$crate::format::fast::Float16bCodec<false>>($($arg),*))
            }
            (DataFormat::Float16B, Float16bRounding::NearestEven, _) => {
                Some($f::<$crate::format::fast::Float16bCodec<true>>($($arg),*))
            }
            (DataFormat::Bfp8B, _, BfpRounding::HalfUp) => Some($f::<$crate::format::fast::Bfp8bCodec<true>>($($arg),*)),
            (DataFormat::Bfp8B, _, BfpRounding::Truncate) => Some($f::<$crate::format::fast::Bfp8bCodec<false>>($($arg),*)),
            _ => None,
        }
    };
}
pub(crate) use with_codec;

#[inline(always)]
fn load16(src: &[u8; 64]) -> [u32; 16] {
    // SAFETY: [u8; 64] and [u32; 16] have the same size and every bit pattern is valid for both;
    // a by-value transmute has no alignment requirement.
    let words: [u32; 16] = unsafe { core::mem::transmute::<[u8; 64], [u32; 16]>(*src) };
    words.map(u32::from_le)
}

#[inline(always)]
fn store16(bits: &[u32; 16], dst: &mut [u8; 64]) {
    // SAFETY: as in load16.
    *dst = unsafe { core::mem::transmute::<[u32; 16], [u8; 64]>(bits.map(u32::to_le)) };
}

pub(crate) struct Float32Codec;

impl RunCodec for Float32Codec {
    #[inline(always)]
    fn encode(src: &[u8; 64], tile: &mut [u8], data_at: usize, k: usize) {
        tile[data_at + 4 * k..data_at + 4 * k + 64].copy_from_slice(src);
    }
    #[inline(always)]
    fn decode(tile: &[u8], data_at: usize, k: usize, dst: &mut [u8; 64]) {
        dst.copy_from_slice(&tile[data_at + 4 * k..data_at + 4 * k + 64]);
    }
}

/// bfloat16: the top 16 bits, or rounded to nearest even (`RNE`).
pub(crate) struct Float16bCodec<const RNE: bool>;

impl<const RNE: bool> RunCodec for Float16bCodec<RNE> {
    #[inline(always)]
    fn encode(src: &[u8; 64], tile: &mut [u8], data_at: usize, k: usize) {
        let bits = load16(src);
        let mut half = [0u16; 16];
        for (h, b) in half.iter_mut().zip(bits) {
            *h = if RNE {
                if (b & 0x7fff_ffff) > 0x7f80_0000 {
                    ((b >> 16) | 0x40) as u16
                } else {
                    (b.wrapping_add(0x7fff + ((b >> 16) & 1)) >> 16) as u16
                }
            } else {
                (b >> 16) as u16
            };
        }
        let dst: &mut [u8; 32] = (&mut tile[data_at + 2 * k..data_at + 2 * k + 32])
            .try_into()
            .unwrap();
        for (d, h) in dst.chunks_exact_mut(2).zip(half) {
            d.copy_from_slice(&h.to_le_bytes());
        }
    }
    #[inline(always)]
    fn decode(tile: &[u8], data_at: usize, k: usize, dst: &mut [u8; 64]) {
        let src: &[u8; 32] = tile[data_at + 2 * k..data_at + 2 * k + 32]
            .try_into()
            .unwrap();
        let mut bits = [0u32; 16];
        for (b, s) in bits.iter_mut().zip(src.chunks_exact(2)) {
            *b = (u16::from_le_bytes([s[0], s[1]]) as u32) << 16;
        }
        store16(&bits, dst);
    }
}

/// Bfp8_b, rounding half up (`HALF_UP`) or truncating.
pub(crate) struct Bfp8bCodec<const HALF_UP: bool>;

impl<const HALF_UP: bool> RunCodec for Bfp8bCodec<HALF_UP> {
    /// With the shared exponent E in 24..=254, aligning the 24-bit mantissa of a datum with
    /// exponent e, `M >> (E - e)`, equals `trunc(|x| * 2^(150 - E))`: scaling by a power of two is
    /// exact, the product is below 2^24, denormals and distances of 31 or more give 0 either way,
    /// and so does a zero. That form vectorizes (no per-lane shifts); other blocks (all tiny, or
    /// holding inf/NaN) take the general code.
    #[inline(always)]
    fn encode(src: &[u8; 64], tile: &mut [u8], data_at: usize, k: usize) {
        let bits = load16(src);
        // The largest magnitude has the largest exponent field (compared as i32: SSE2 has that).
        let mut largest = 0i32;
        for b in bits {
            largest = largest.max((b & 0x7fff_ffff) as i32);
        }
        let mut shared = largest as u32 >> 23;
        let mut codes = [0u8; 16];
        if (24..=254).contains(&shared) {
            let scale = f32::from_bits((277 - shared) << 23); // 2^(150 - E), a normal float
            let round = if HALF_UP { 1u32 << 16 } else { 0 };
            for (c, b) in codes.iter_mut().zip(bits) {
                let magnitude = f32::from_bits(b & 0x7fff_ffff) * scale;
                // SAFETY: 0 <= magnitude < 2^24 (see above), so it fits an i32.
                let aligned = unsafe { magnitude.to_int_unchecked::<i32>() } as u32;
                let q = ((aligned + round) >> 17).min(127);
                let sign = (b >> 31) & (q != 0) as u32;
                *c = ((sign << 7) | q) as u8;
            }
        } else {
            let mut values = [0f32; 16];
            for (v, b) in values.iter_mut().zip(bits) {
                *v = f32::from_bits(b);
            }
            let kind = BfpKind::of(DataFormat::Bfp8B).expect("Bfp8_b is a block float");
            let rounding = if HALF_UP {
                BfpRounding::HalfUp
            } else {
                BfpRounding::Truncate
            };
            shared = encode_block_kind(&values, kind, rounding, &mut codes) as u32;
        }
        tile[TILE_HEADER_SIZE + k / 16] = shared as u8;
        tile[data_at + k..data_at + k + 16].copy_from_slice(&codes);
    }

    #[inline(always)]
    fn decode(tile: &[u8], data_at: usize, k: usize, dst: &mut [u8; 64]) {
        let shared = tile[TILE_HEADER_SIZE + k / 16];
        let codes: &[u8; 16] = tile[data_at + k..data_at + k + 16].try_into().unwrap();
        if (7..=254).contains(&shared) {
            // q * 2^(E - 127 - 6), exact. The sign goes on the integer, so a zero magnitude
            // stays +0; signed conversions because SSE2 has them and not the unsigned ones.
            // Branch-free (`(q ^ s) - s` negates where `s` is all ones) and into a word array,
            // so the loop vectorizes.
            let scale = f32::from_bits((shared as u32 - 6) << 23);
            let mut bits = [0u32; 16];
            for (b, &c) in bits.iter_mut().zip(codes) {
                let q = (c & 0x7f) as i32;
                let s = (c as i8 as i32) >> 7;
                *b = (((q ^ s) - s) as f32 * scale).to_bits();
            }
            store16(&bits, dst);
        } else {
            let kind = BfpKind::of(DataFormat::Bfp8B).expect("Bfp8_b is a block float");
            for (d, &c) in dst.chunks_exact_mut(4).zip(codes) {
                d.copy_from_slice(&decode_kind(shared, c, kind).to_bits().to_le_bytes());
            }
        }
    }
}
