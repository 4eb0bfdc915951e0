//! Block floating point: Bfp8/4/2 (A family, 5-bit shared exponent) and Bfp8_b/4_b/2_b (B family,
//! 8-bit shared exponent). Sixteen consecutive datums (one face row) share one exponent byte.
//!
//! Encoding follows Buda's reference packer: the shared exponent is the block's largest
//! exponent; each mantissa (hidden bit forced, even for denormals) is shifted right by the
//! distance to it and rounded half up on the already-truncated value, saturating instead of
//! bumping the exponent. `BfpRounding::Truncate` is `TT_BACKEND_DISABLE_BFP_RTE=1`.
//!
//! TT-Metal's host packer (`BfpRounding::NearestEven`, TT-Metal tensors) aligns the same way and
//! differs in two rules: ties go to the even code, and a datum with exponent field 0 (a
//! denormal) packs as 0. Its reader ([`decode_kind_metal`]) differs from Buda's below fp32's
//! normal range and on a signed zero code.

use super::element::pow2;
use super::{BfpDecoding, BfpRounding, DataFormat};

/// Per-format constants: mantissa bits kept (including the hidden one), the right shift from a
/// 24-bit mantissa, and the largest magnitude code.
#[derive(Clone, Copy)]
pub(crate) struct BfpKind {
    /// Bits of one code including the sign (8, 4, 2).
    pub bits: u32,
    shift: u32,
    qmax: u32,
    family_a: bool,
}

impl BfpKind {
    pub(crate) const fn of(format: DataFormat) -> Option<BfpKind> {
        let (bits, family_a) = match format {
            DataFormat::Bfp8 => (8, true),
            DataFormat::Bfp4 => (4, true),
            DataFormat::Bfp2 => (2, true),
            DataFormat::Bfp8B => (8, false),
            DataFormat::Bfp4B => (4, false),
            DataFormat::Bfp2B => (2, false),
            _ => return None,
        };
        // Magnitude bits = bits - 1; the 24-bit mantissa is shifted down to them.
        let shift = 24 - (bits - 1);
        Some(BfpKind {
            bits,
            shift,
            qmax: (1 << (bits - 1)) - 1,
            family_a,
        })
    }
}

/// The exponent a datum contributes to its block (0 for zeros and denormals, the maximum for
/// inf and NaN), and the datum's own exponent and 24-bit mantissa for alignment.
#[inline(always)]
fn exponent_of(bits: u32, family_a: bool) -> u32 {
    let e8 = (bits >> 23) & 0xff;
    if family_a {
        e8.saturating_sub(112).min(31)
    } else {
        e8
    }
}

/// Encodes 16 values; returns the shared exponent and writes one code per datum (sign above
/// the magnitude: Bfp8 `s<<7 | m`, Bfp4 `s<<3 | m`, Bfp2 `s<<1 | m`).
#[inline(always)]
pub(crate) fn encode_block_kind(
    values: &[f32; 16],
    kind: BfpKind,
    rounding: BfpRounding,
    codes: &mut [u8; 16],
) -> u8 {
    let mut bits = [0u32; 16];
    for (b, v) in bits.iter_mut().zip(values) {
        *b = v.to_bits();
    }
    let mut shared = 0u32;
    for b in &bits {
        shared = shared.max(exponent_of(*b, kind.family_a));
    }
    let round = match rounding {
        BfpRounding::HalfUp => 1u32 << (kind.shift - 1),
        BfpRounding::Truncate | BfpRounding::NearestEven => 0,
    };
    let nearest_even = rounding == BfpRounding::NearestEven;
    let rest_mask = (1u32 << kind.shift) - 1;
    let half = 1u32 << (kind.shift - 1);
    for (code, b) in codes.iter_mut().zip(&bits) {
        let magnitude = b & 0x7fff_ffff;
        let mut m = (1u32 << 23) | (b & 0x7f_ffff);
        let e = if kind.family_a {
            let e5 = ((b >> 23) & 0xff) as i32 - 112;
            if e5 > 31 {
                m = 0xff_ffff;
                31
            } else if e5 < 0 {
                // Below 2^-15 the A family has no exponent: the value becomes 2^-15 before
                // alignment (upstream does not flush it to zero).
                m = 1 << 23;
                0
            } else {
                e5 as u32
            }
        } else {
            (b >> 23) & 0xff
        };
        let distance = shared - e;
        let aligned = if distance >= 31 { 0 } else { m >> distance };
        let q = if nearest_even {
            let t = aligned >> kind.shift;
            let rest = aligned & rest_mask;
            let up = rest > half || (rest == half && t & 1 == 1);
            (t + up as u32).min(kind.qmax)
        } else {
            ((aligned + round) >> kind.shift).min(kind.qmax)
        };
        // A zero is 0; so is a denormal for TT-Metal (exponent field 0).
        let flushed = nearest_even && (b >> 23) & 0xff == 0;
        let q = if magnitude == 0 || flushed { 0 } else { q };
        let sign = if q == 0 { 0 } else { b >> 31 };
        *code = ((sign << (kind.bits - 1)) | q) as u8;
    }
    shared as u8
}

/// Encodes 16 values of a block-float `format` (see [`encode_block_kind`]).
pub fn encode_block(
    values: &[f32; 16],
    format: DataFormat,
    rounding: BfpRounding,
    codes: &mut [u8; 16],
) -> u8 {
    match BfpKind::of(format) {
        Some(kind) => encode_block_kind(values, kind, rounding, codes),
        None => {
            *codes = [0; 16];
            0
        }
    }
}

/// The fp32 value of one code with its block's shared exponent, as Buda's unpacker assembles
/// it: the magnitude is normalized under a hidden bit and the exponent lowered by the shift. A
/// zero magnitude is +0. (An inf/NaN block exponent decodes to inf/NaN for full-scale codes.)
#[inline(always)]
pub(crate) fn decode_kind(shared: u8, code: u8, kind: BfpKind) -> f32 {
    let top = kind.bits - 2; // bit index of the highest magnitude bit
    let q = code as u32 & kind.qmax;
    if q == 0 {
        return 0.0;
    }
    let sign = ((code as u32 >> (kind.bits - 1)) & 1) << 31;
    let msb = 31 - q.leading_zeros();
    let lowered = top - msb;
    let fraction = ((q << lowered) & ((1 << top) - 1)) << (23 - top);
    let exp = shared as i32 - lowered as i32 + if kind.family_a { 112 } else { 0 };
    if exp >= 1 {
        f32::from_bits(sign | ((exp as u32) << 23) | fraction)
    } else {
        // Below fp32's normal range (a _b block of denormals): the exact value q * 2^(E-127-P),
        // as the notes define it. (Upstream assembles exponent 0 here and loses the hidden bit.)
        let v = q as f32 * pow2(shared as i32 - 127 - top as i32);
        if sign != 0 {
            -v
        } else {
            v
        }
    }
}

/// The fp32 value of one code as TT-Metal's host reads it back (`convert_bfp_to_u32`, what
/// ttnn's `to_torch` of a tile page gives): the magnitude is normalized under a hidden bit and
/// the exponent lowered by the shift, as in [`decode_kind`], but the sign stays on a zero
/// magnitude (-0), a lowered exponent of exactly 0 keeps the fraction without the hidden bit
/// (a denormal of about half the value), and one below 0 gives +0.
#[inline(always)]
pub(crate) fn decode_kind_metal(shared: u8, code: u8, kind: BfpKind) -> f32 {
    let top = kind.bits - 2;
    let q = code as u32 & kind.qmax;
    let sign = ((code as u32 >> (kind.bits - 1)) & 1) << 31;
    if q == 0 {
        return f32::from_bits(sign);
    }
    let msb = 31 - q.leading_zeros();
    let lowered = top - msb;
    let fraction = ((q << lowered) & ((1 << top) - 1)) << (23 - top);
    let exp = shared as i32 - lowered as i32 + if kind.family_a { 112 } else { 0 };
    if exp < 0 {
        return 0.0;
    }
    f32::from_bits(sign | ((exp as u32) << 23) | fraction)
}

/// The fp32 value of one code of a block-float `format` with shared exponent `exponent`, as
/// Buda queues read it.
pub fn decode_datum(exponent: u8, code: u8, format: DataFormat) -> f32 {
    decode_datum_with(exponent, code, format, BfpDecoding::Buda)
}

/// The fp32 value of one code of a block-float `format` with shared exponent `exponent`, read
/// as `decoding` reads it.
pub fn decode_datum_with(exponent: u8, code: u8, format: DataFormat, decoding: BfpDecoding) -> f32 {
    BfpKind::of(format).map_or(0.0, |kind| match decoding {
        BfpDecoding::Buda => decode_kind(exponent, code, kind),
        BfpDecoding::TtMetal => decode_kind_metal(exponent, code, kind),
    })
}
