//! One datum at a time: fp32 to and from every device and host encoding, with Buda's rounding.
//!
//! Device encodings are the golden model's (the notes' "Golden round-trip" table): truncation
//! for the float formats, round-half-away-from-zero with saturation for the integers, Int8 and
//! Int32 in sign-magnitude. Host encodings at `get_output` are the host untilizer's: bf16 and
//! fp16_a bits, integers rounded half to even and saturated. No `std` float math is used, so
//! this builds for bare metal.

use super::{DataFormat, Float16bRounding};

#[inline(always)]
fn exponent8(bits: u32) -> i32 {
    ((bits >> 23) & 0xff) as i32
}

/// bfloat16 from fp32: the top 16 bits (the reference), or rounded to nearest even (NaN stays
/// a quiet NaN of its sign and top payload bits, or, TT-Metal's way, becomes 0x7fc0).
#[inline(always)]
pub fn f32_to_float16_b(x: f32, rounding: Float16bRounding) -> u16 {
    let bits = x.to_bits();
    match rounding {
        Float16bRounding::Truncate => (bits >> 16) as u16,
        Float16bRounding::NearestEven => {
            if (bits & 0x7fff_ffff) > 0x7f80_0000 {
                ((bits >> 16) as u16) | 0x0040
            } else {
                let bias = 0x7fff + ((bits >> 16) & 1);
                (bits.wrapping_add(bias) >> 16) as u16
            }
        }
        Float16bRounding::NearestEvenCanonicalNan => {
            if (bits & 0x7fff_ffff) > 0x7f80_0000 {
                0x7fc0
            } else {
                f32_to_float16_b(x, Float16bRounding::NearestEven)
            }
        }
    }
}

#[inline(always)]
pub fn float16_b_to_f32(v: u16) -> f32 {
    f32::from_bits((v as u32) << 16)
}

/// "fp16_a", the device's Float16: 5-bit exponent with bias 15 where exponent 31 is an ordinary
/// exponent (no infinities or NaN). Exponents below -14 flush to a signed zero; above 16 (and
/// inf/NaN) saturate to ±131008. The mantissa is truncated.
#[inline(always)]
pub fn f32_to_fp16a(x: f32) -> u16 {
    let bits = x.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let e = exponent8(bits) - 127;
    if e > 16 {
        sign | 0x7fff
    } else if e <= -15 {
        sign
    } else {
        sign | (((e + 15) as u16) << 10) | ((bits >> 13) & 0x3ff) as u16
    }
}

/// fp16_a bits to fp32. As upstream, an exponent field of 0 gives fp32 exponent 0 with the
/// mantissa kept (a tiny fp32 denormal); ttrt's encoder never produces such bits.
#[inline(always)]
pub fn fp16a_to_f32(v: u16) -> f32 {
    let v = v as u32;
    let exp = (v >> 10) & 0x1f;
    let exp32 = if exp == 0 { 0 } else { exp + 112 };
    f32::from_bits(((v & 0x8000) << 16) | (exp32 << 23) | ((v & 0x3ff) << 13))
}

/// IEEE binary16 to fp32 (host Float16 at push: subnormals, infinities and NaN kept).
#[inline(always)]
pub fn ieee_half_to_f32(v: u16) -> f32 {
    let v = v as u32;
    let sign = (v & 0x8000) << 16;
    let exp = (v >> 10) & 0x1f;
    let man = v & 0x3ff;
    let bits = match exp {
        0 if man == 0 => sign,
        0 => {
            // Subnormal: man * 2^-24, normalized.
            let shift = man.leading_zeros() - 21; // bring the top set bit to bit 10
            let man = (man << shift) & 0x3ff;
            sign | ((113 - shift) << 23) | (man << 13)
        }
        31 => sign | 0x7f80_0000 | (man << 13),
        _ => sign | ((exp + 112) << 23) | (man << 13),
    };
    f32::from_bits(bits)
}

/// Tf32: fp32 with the mantissa cut to its top 10 bits.
#[inline(always)]
pub fn f32_to_tf32(x: f32) -> u32 {
    x.to_bits() & 0xffff_e000
}

/// Lf8: as fp16_a with a 2-bit mantissa (sign, 5-bit exponent, 2-bit mantissa), truncated.
#[inline(always)]
pub fn f32_to_lf8(x: f32) -> u8 {
    let bits = x.to_bits();
    let sign = ((bits >> 24) & 0x80) as u8;
    let e = exponent8(bits) - 127;
    if e > 16 {
        sign | 0x7f
    } else if e <= -15 {
        sign
    } else {
        sign | (((e + 15) as u8) << 2) | ((bits >> 21) & 0x3) as u8
    }
}

#[inline(always)]
pub fn lf8_to_f32(v: u8) -> f32 {
    let v = v as u32;
    let exp = (v >> 2) & 0x1f;
    let exp32 = if exp == 0 { 0 } else { exp + 112 };
    f32::from_bits(((v & 0x80) << 24) | (exp32 << 23) | ((v & 0x3) << 21))
}

/// Fp8 e4m3 (OCP "E4M3FN": bias 7, no infinities, NaN = S.1111.111, largest ±448).
///
/// Upstream packs this format with the Lf8 encoder and unpacks it as e4m3, so its round trip is
/// garbled; ttrt encodes and decodes e4m3 consistently instead, truncating like its other float
/// encoders and saturating to ±448.
pub fn f32_to_fp8_e4m3(x: f32) -> u8 {
    let bits = x.to_bits();
    let sign = ((bits >> 24) & 0x80) as u8;
    let mag = bits & 0x7fff_ffff;
    if mag > 0x7f80_0000 {
        return sign | 0x7f;
    }
    let e = exponent8(bits) - 127;
    if e > 8 || (e == 8 && ((bits >> 20) & 0x7) == 0x7) {
        return sign | 0x7e; // 448
    }
    if e >= -6 {
        return sign | (((e + 7) as u8) << 3) | ((bits >> 20) & 0x7) as u8;
    }
    // Subnormal: m * 2^-9, m = trunc(|x| / 2^-9) in 0..8.
    if e < -10 {
        return sign;
    }
    let m = ((mag & 0x7f_ffff) | 0x80_0000) >> (20 + (-6 - e)) as u32;
    sign | (m as u8 & 0x7)
}

pub fn fp8_e4m3_to_f32(v: u8) -> f32 {
    let sign = if v & 0x80 != 0 { -1.0f32 } else { 1.0 };
    let exp = ((v >> 3) & 0xf) as i32;
    let man = (v & 0x7) as u32;
    if exp == 0xf && man == 0x7 {
        return f32::NAN;
    }
    if exp == 0 {
        return sign * (man as f32) * pow2(-9);
    }
    let bits = (((exp - 7 + 127) as u32) << 23) | (man << 20);
    sign * f32::from_bits(bits)
}

/// 2^k as fp32 for k in -149..=127 (exact, denormals included).
#[inline(always)]
pub(crate) fn pow2(k: i32) -> f32 {
    if k >= -126 {
        f32::from_bits(((k + 127) as u32) << 23)
    } else {
        f32::from_bits(1u32 << (k + 149))
    }
}

/// Truncation toward zero, for |x| < 2^62; NaN gives 0 (Rust's saturating cast).
#[inline(always)]
fn trunc(x: f32) -> i64 {
    x as i64
}

/// Round half away from zero (the golden quantizers).
#[inline(always)]
pub fn round_half_away(x: f32) -> i64 {
    let t = trunc(x);
    let frac = x - t as f32;
    if frac >= 0.5 {
        t + 1
    } else if frac <= -0.5 {
        t - 1
    } else {
        t
    }
}

/// Round half to even (the host untilizer's `cvtps`).
#[inline(always)]
pub fn round_half_even(x: f32) -> i64 {
    let t = trunc(x);
    let frac = x - t as f32;
    let away = if frac > 0.5 || (frac == 0.5 && t & 1 == 1) {
        1
    } else if frac < -0.5 || (frac == -0.5 && t & 1 == 1) {
        -1
    } else {
        0
    };
    t + away
}

/// Golden Q(x) for Int8: round half away from zero, clamp to ±127 (-128 cannot occur).
#[inline(always)]
pub fn quantize_int8(x: f32) -> i8 {
    round_half_away(x).clamp(-127, 127) as i8
}

#[inline(always)]
pub fn quantize_uint8(x: f32) -> u8 {
    round_half_away(x).clamp(0, 255) as u8
}

#[inline(always)]
pub fn quantize_uint16(x: f32) -> u16 {
    round_half_away(x).clamp(0, 65535) as u16
}

/// Golden Q(x) for Int32, asymmetric as upstream: `x >= 0` truncates (the value passes through
/// a float-to-unsigned conversion), `x < 0` rounds half away from zero. The device stores a
/// 31-bit magnitude, so magnitudes clamp to 2^31 - 1.
#[inline(always)]
pub fn quantize_int32(x: f32) -> i32 {
    const MAX: i64 = i32::MAX as i64;
    if x >= 0.0 {
        trunc(x).min(MAX) as i32
    } else if x < 0.0 {
        -(round_half_away(-x).min(MAX) as i32)
    } else {
        0 // NaN
    }
}

/// The device bits of `x` in a non-block format (`device_bits()` wide, zero-extended).
#[inline(always)]
pub fn to_device(x: f32, format: DataFormat, f16b: Float16bRounding) -> u32 {
    match format {
        DataFormat::Float32 => x.to_bits(),
        DataFormat::Tf32 => f32_to_tf32(x),
        DataFormat::Float16B => f32_to_float16_b(x, f16b) as u32,
        DataFormat::Float16 => f32_to_fp16a(x) as u32,
        DataFormat::Lf8 => f32_to_lf8(x) as u32,
        DataFormat::Fp8E4m3 => f32_to_fp8_e4m3(x) as u32,
        DataFormat::Int8 => sign_magnitude(quantize_int8(x) as i32, 8),
        DataFormat::Int32 => sign_magnitude(quantize_int32(x), 32),
        DataFormat::UInt8 => quantize_uint8(x) as u32,
        DataFormat::UInt16 => quantize_uint16(x) as u32,
        DataFormat::RawUInt8 => x.to_bits() & 0xff,
        DataFormat::RawUInt16 => x.to_bits() & 0xffff,
        DataFormat::RawUInt32 => x.to_bits(),
        // Block floats are encoded per block (bfp.rs).
        DataFormat::Bfp8
        | DataFormat::Bfp4
        | DataFormat::Bfp2
        | DataFormat::Bfp8B
        | DataFormat::Bfp4B
        | DataFormat::Bfp2B => 0,
    }
}

#[inline(always)]
fn sign_magnitude(v: i32, width: u32) -> u32 {
    let sign_bit = 1u32 << (width - 1);
    if v < 0 {
        sign_bit | v.unsigned_abs()
    } else {
        v as u32
    }
}

#[inline(always)]
fn from_sign_magnitude(bits: u32, width: u32) -> f32 {
    let sign_bit = 1u32 << (width - 1);
    let magnitude = (bits & (sign_bit - 1)) as f32;
    if bits & sign_bit != 0 {
        -magnitude
    } else {
        magnitude
    }
}

/// fp32 value of device bits in a non-block format.
#[inline(always)]
pub fn from_device(bits: u32, format: DataFormat) -> f32 {
    match format {
        DataFormat::Float32 | DataFormat::Tf32 => f32::from_bits(bits),
        DataFormat::Float16B => float16_b_to_f32(bits as u16),
        DataFormat::Float16 => fp16a_to_f32(bits as u16),
        DataFormat::Lf8 => lf8_to_f32(bits as u8),
        DataFormat::Fp8E4m3 => fp8_e4m3_to_f32(bits as u8),
        DataFormat::Int8 => from_sign_magnitude(bits & 0xff, 8),
        DataFormat::Int32 => from_sign_magnitude(bits, 32),
        DataFormat::UInt8 => (bits & 0xff) as f32,
        DataFormat::UInt16 => (bits & 0xffff) as f32,
        // Raw values live in the float's bit pattern.
        DataFormat::RawUInt8 => f32::from_bits(bits & 0xff),
        DataFormat::RawUInt16 => f32::from_bits(bits & 0xffff),
        DataFormat::RawUInt32 => f32::from_bits(bits),
        _ => 0.0,
    }
}

/// fp32 value of one host datum (push: host data is decoded to fp32 before tilizing). `bytes`
/// holds at least `format.host_item_size()` bytes, little-endian.
#[inline(always)]
pub fn from_host(bytes: &[u8], format: DataFormat) -> f32 {
    let u16_at = || u16::from_le_bytes([bytes[0], bytes[1]]);
    let u32_at = || u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    match format {
        DataFormat::Float32 | DataFormat::Tf32 => f32::from_bits(u32_at()),
        DataFormat::Float16 => ieee_half_to_f32(u16_at()),
        DataFormat::Float16B => float16_b_to_f32(u16_at()),
        DataFormat::Int8 => bytes[0] as i8 as f32,
        DataFormat::UInt8 => bytes[0] as f32,
        DataFormat::Int32 => u32_at() as i32 as f32,
        DataFormat::UInt16 => u16_at() as f32,
        DataFormat::RawUInt8 => f32::from_bits(bytes[0] as u32),
        DataFormat::RawUInt16 => f32::from_bits(u16_at() as u32),
        DataFormat::RawUInt32 => f32::from_bits(u32_at()),
        _ => 0.0,
    }
}

/// Writes `x` as one host datum of `format` (get_output's conversion), little-endian.
#[inline(always)]
pub fn to_host(x: f32, format: DataFormat, out: &mut [u8]) {
    match format {
        DataFormat::Float32 | DataFormat::Tf32 => {
            out[..4].copy_from_slice(&x.to_bits().to_le_bytes())
        }
        DataFormat::Float16B => {
            out[..2].copy_from_slice(&((x.to_bits() >> 16) as u16).to_le_bytes())
        }
        DataFormat::Float16 => out[..2].copy_from_slice(&f32_to_fp16a(x).to_le_bytes()),
        DataFormat::Int8 => out[0] = round_half_even(x).clamp(-128, 127) as i8 as u8,
        DataFormat::UInt8 => out[0] = round_half_even(x).clamp(0, 255) as u8,
        DataFormat::UInt16 => {
            out[..2].copy_from_slice(&(round_half_even(x).clamp(0, 65535) as u16).to_le_bytes())
        }
        DataFormat::Int32 => {
            let r = round_half_even(x);
            // cvtps_epi32: out of range (and NaN) gives INT_MIN.
            let v = if x.is_nan() || r > i32::MAX as i64 || r < i32::MIN as i64 {
                i32::MIN
            } else {
                r as i32
            };
            out[..4].copy_from_slice(&v.to_le_bytes())
        }
        DataFormat::RawUInt8 => out[0] = x.to_bits() as u8,
        DataFormat::RawUInt16 => out[..2].copy_from_slice(&(x.to_bits() as u16).to_le_bytes()),
        DataFormat::RawUInt32 => out[..4].copy_from_slice(&x.to_bits().to_le_bytes()),
        _ => {}
    }
}
