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

/// Bfp8_b under TT-Metal's rules, one block: equal to [`encode_block_kind`] with
/// `BfpRounding::NearestEven`, in a form that vectorizes. With the shared exponent E in
/// 24..=254 the aligned mantissa is `trunc(|x| * 2^(150 - E))` (as fast.rs's Bfp8_b codec
/// explains; a denormal gives 0 there, which is also its flushed code), and ties to even is
/// `(aligned + 0xffff + odd) >> 17` with `odd` the lowest kept bit. Other blocks (all tiny, or
/// holding inf/NaN) take the general code.
#[inline(always)]
pub(crate) fn encode_bfp8_b_metal(values: &[f32; 16], codes: &mut [u8; 16]) -> u8 {
    let bits = values.map(f32::to_bits);
    let mut largest = 0i32;
    for b in bits {
        largest = largest.max((b & 0x7fff_ffff) as i32);
    }
    let shared = largest as u32 >> 23;
    if !(24..=254).contains(&shared) {
        let kind = BfpKind::of(DataFormat::Bfp8B).expect("Bfp8_b is a block float");
        return encode_block_kind(values, kind, BfpRounding::NearestEven, codes);
    }
    let scale = f32::from_bits((277 - shared) << 23);
    for (c, b) in codes.iter_mut().zip(bits) {
        let magnitude = f32::from_bits(b & 0x7fff_ffff) * scale;
        // SAFETY: 0 <= magnitude < 2^24, so it fits an i32.
        let aligned = unsafe { magnitude.to_int_unchecked::<i32>() } as u32;
        let q = ((aligned + 0xffff + ((aligned >> 17) & 1)) >> 17).min(127);
        let sign = (b >> 31) & (q != 0) as u32;
        *c = ((sign << 7) | q) as u8;
    }
    shared as u8
}

/// Bfp8_b codes of one block read as TT-Metal reads them: equal to [`decode_kind_metal`] code
/// by code. With the shared exponent in 7..=254 every nonzero code is the normal float
/// `q * 2^(E - 133)`, exact, and a zero magnitude is a zero of the code's sign.
#[inline(always)]
pub(crate) fn decode_bfp8_b_metal(shared: u8, codes: &[u8; 16], out: &mut [f32; 16]) {
    if !(7..=254).contains(&shared) {
        let kind = BfpKind::of(DataFormat::Bfp8B).expect("Bfp8_b is a block float");
        for (v, &c) in out.iter_mut().zip(codes) {
            *v = decode_kind_metal(shared, c, kind);
        }
        return;
    }
    let scale = f32::from_bits((shared as u32 - 6) << 23);
    for (v, &c) in out.iter_mut().zip(codes) {
        let magnitude = ((c & 0x7f) as i32 as f32) * scale;
        *v = f32::from_bits(magnitude.to_bits() | ((c as u32 >> 7) << 31));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bfp8_b_metal_block_codecs_equal_the_general_ones() {
        let kind = BfpKind::of(DataFormat::Bfp8B).unwrap();
        // Every shared exponent with every code (under Miri, a few exponents of each kind).
        let exponents: &[u8] = if cfg!(miri) {
            &[0, 3, 6, 7, 8, 127, 254, 255]
        } else {
            &[]
        };
        for shared in (0..=255u8).filter(|e| !cfg!(miri) || exponents.contains(e)) {
            let mut codes = [0u8; 16];
            for base in (0..=255u8).step_by(16) {
                for (i, c) in codes.iter_mut().enumerate() {
                    *c = base + i as u8;
                }
                let mut fast = [0f32; 16];
                decode_bfp8_b_metal(shared, &codes, &mut fast);
                for (c, v) in codes.iter().zip(fast) {
                    let want = decode_kind_metal(shared, *c, kind);
                    assert_eq!(v.to_bits(), want.to_bits(), "E {shared} code {c:#x}");
                }
            }
        }
        // Blocks of few significant bits (ties) and full mantissas, exponents within 40 of
        // each other, over the whole range; zeros, denormals and specials among them.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..if cfg!(miri) { 40 } else { 20_000 } {
            let top = (next() % 256) as u32;
            let values: [f32; 16] = core::array::from_fn(|_| {
                let r = next();
                let e = top.saturating_sub((r >> 40) as u32 % 40);
                let m = if round % 2 == 0 {
                    (r as u32) & 0x7f_ffff
                } else {
                    ((r as u32) & 0x7f) << ((r >> 32) as u32 % 17)
                };
                let special = [0x7f80_0000, 0x7fc0_0001, 0x8000_0000, 0x0000_0001];
                let bits = if r >> 60 == 0 {
                    special[(r >> 56) as usize % 4]
                } else {
                    (e << 23) | (m & 0x7f_ffff)
                };
                f32::from_bits(bits | ((r >> 63) as u32) << 31)
            });
            let (mut fast, mut general) = ([0u8; 16], [0u8; 16]);
            let e_fast = encode_bfp8_b_metal(&values, &mut fast);
            let e_general =
                encode_block_kind(&values, kind, BfpRounding::NearestEven, &mut general);
            assert_eq!((e_fast, fast), (e_general, general), "{values:?}");
        }
    }
}
