//! Round trips host tensor -> queue bytes -> host tensor for every queue format, on seeded
//! pseudo-random data and several queue layouts. Lossless formats must come back exactly; lossy
//! formats must come back as the golden Q(x) rule says (exactly where the rule is a closed form,
//! within the format's resolution for block floats).

use ttrt::format::{
    tilize, untilize, Arch, BfpRounding, DataFormat, Float16bRounding, FormatError, HostTensor,
    HostTensorMut, IoLayout, QueueLayout, Rounding, TileDim, UblockOrder,
};

use DataFormat::*;

// ------------------------------------------------------------------------------------------------
// Helpers

struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn u32(&mut self) -> u32 {
        (self.next() >> 32) as u32
    }
    /// Uniform integer in lo..=hi.
    fn int(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % ((hi - lo + 1) as u64)) as i64
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    /// A normal float with unbiased exponent in lo..=hi, random sign and mantissa; `zeros` percent
    /// of the time a signed zero.
    fn float(&mut self, lo: i32, hi: i32, zeros: u64) -> f32 {
        let sign = (self.u32() & 1) << 31;
        if self.chance(zeros) {
            return f32::from_bits(sign);
        }
        let e = self.int(lo as i64, hi as i64) as u32;
        let e = e.wrapping_add(127) & 0xFF;
        f32::from_bits(sign | (e << 23) | (self.u32() & 0x7F_FFFF))
    }
}

fn ok<T>(r: Result<T, FormatError>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("unexpected error: {e}"),
    }
}

struct Case {
    name: &'static str,
    layout: QueueLayout,
    w: usize,
}

fn cases(format: DataFormat, with_flat: bool) -> Vec<Case> {
    let base = QueueLayout::single_tile(format);
    let mut v = vec![
        Case {
            name: "grid2x3 mblock2x1 ublock1x2 t2 W3 order c",
            layout: QueueLayout {
                grid_r: 2,
                grid_c: 3,
                mblock_m: 2,
                mblock_n: 1,
                ublock_rt: 1,
                ublock_ct: 2,
                t: 2,
                ublock_order: UblockOrder::C,
                ..base
            },
            w: 3,
        },
        Case {
            name: "mblock3x1 ublock1x5 order r",
            layout: QueueLayout {
                mblock_m: 3,
                ublock_ct: 5,
                ublock_order: UblockOrder::R,
                ..base
            },
            w: 1,
        },
        Case {
            name: "tile16x32 grid3x1 ublock2x1 t3 W2",
            layout: QueueLayout {
                tile: TileDim::new(16, 32).expect("16x32"),
                grid_r: 3,
                ublock_rt: 2,
                t: 3,
                ..base
            },
            w: 2,
        },
        Case {
            name: "t4 hstack2 vstack2 column-major mblock1x3 W2",
            layout: QueueLayout {
                t: 4,
                hstack: 2,
                vstack: 2,
                stack_row_major: false,
                mblock_n: 3,
                ..base
            },
            w: 2,
        },
        Case {
            name: "t6 hstack3 row-major grid2x1 order c mblock2x2",
            layout: QueueLayout {
                t: 6,
                hstack: 3,
                stack_row_major: true,
                grid_r: 2,
                mblock_m: 2,
                mblock_n: 2,
                ublock_order: UblockOrder::C,
                ..base
            },
            w: 1,
        },
        Case {
            name: "blackhole tile1x32 grid1x2 mblock3x1",
            layout: QueueLayout {
                arch: Arch::Blackhole,
                tile: TileDim::new(1, 32).expect("1x32"),
                grid_c: 2,
                mblock_m: 3,
                ..base
            },
            w: 1,
        },
        Case {
            name: "grayskull tile32x16 mblock1x3 ublock3x1 W2",
            layout: QueueLayout {
                arch: Arch::Grayskull,
                tile: TileDim::new(32, 16).expect("32x16"),
                mblock_n: 3,
                ublock_rt: 3,
                ..base
            },
            w: 2,
        },
    ];
    if with_flat {
        v.push(Case {
            name: "flat mblock2x2 order c W2",
            layout: QueueLayout {
                mblock_m: 2,
                mblock_n: 2,
                ublock_order: UblockOrder::C,
                layout: IoLayout::Flat,
                ..base
            },
            w: 2,
        });
    }
    v
}

fn numel(shape: [usize; 4]) -> usize {
    shape.iter().product()
}

/// Tilize `host` (of `host_format`) for the case's layout and untilize it into `out_format`.
fn through_queue(
    case: &Case,
    host: &[u8],
    host_format: DataFormat,
    rounding: Rounding,
    out_format: DataFormat,
    out_item: usize,
) -> Vec<u8> {
    let l = &case.layout;
    let shape = l.host_shape(case.w);
    let size = l.tilized_size(case.w);
    let mut dev = vec![0xEEu8; size];
    let n = ok(tilize(
        &HostTensor::contiguous(host, host_format, shape),
        l,
        rounding,
        &mut dev,
    ));
    assert_eq!(n, size, "{}: tilize returns tilized_size", case.name);
    let mut out = vec![0xEEu8; numel(shape) * out_item];
    ok(untilize(
        &dev,
        l,
        &mut HostTensorMut::contiguous(&mut out, out_format, shape),
    ));
    out
}

fn to_f32s(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Round trip Float32 host data through a `format` queue back to Float32; `expect(x)` gives the
/// exact value that must come back (compared bit for bit).
fn exact_f32_roundtrip(
    format: DataFormat,
    rounding: Rounding,
    seed: u64,
    with_flat: bool,
    mut gen: impl FnMut(&mut Rng) -> f32,
    expect: impl Fn(f32) -> f32,
) {
    let mut rng = Rng::new(seed);
    for case in cases(format, with_flat) {
        let shape = case.layout.host_shape(case.w);
        let vals: Vec<f32> = (0..numel(shape)).map(|_| gen(&mut rng)).collect();
        let out = to_f32s(&through_queue(
            &case,
            &f32_bytes(&vals),
            Float32,
            rounding,
            Float32,
            4,
        ));
        for (i, (&x, &y)) in vals.iter().zip(&out).enumerate() {
            let e = expect(x);
            assert_eq!(
                y.to_bits(),
                e.to_bits(),
                "{format:?} [{}] element {i}: input {x:e} (0x{:08X}) expected {e:e} (0x{:08X}) got {y:e} (0x{:08X})",
                case.name,
                x.to_bits(),
                e.to_bits(),
                y.to_bits()
            );
        }
    }
}

fn exp8(x: f32) -> i32 {
    ((x.to_bits() >> 23) & 0xFF) as i32
}

/// fp16_a Q(x) from the golden table: e <= -15 -> signed zero, e > 16 -> +-131008, else the
/// mantissa truncated to `mant_bits`.
fn q_small_float(x: f32, mant_bits: u32, max: f32) -> f32 {
    let b = x.to_bits();
    let sign = b & 0x8000_0000;
    let e = exp8(x) - 127;
    if e <= -15 {
        f32::from_bits(sign)
    } else if e > 16 {
        if sign != 0 {
            -max
        } else {
            max
        }
    } else {
        f32::from_bits(b & !((1u32 << (23 - mant_bits)) - 1))
    }
}

/// fp16_a bits of a value already representable in fp16_a.
fn fp16a_bits(x: f32) -> u16 {
    let b = x.to_bits();
    let sign = ((b >> 16) & 0x8000) as u16;
    if x == 0.0 {
        return sign;
    }
    let e = exp8(x) - 127 + 15;
    assert!((1..=31).contains(&e), "{x} not representable in fp16_a");
    sign | ((e as u16) << 10) | ((b >> 13) & 0x3FF) as u16
}

// ------------------------------------------------------------------------------------------------
// Floating-point formats with a closed-form Q(x)

#[test]
fn roundtrip_float32_exact() {
    exact_f32_roundtrip(
        Float32,
        Rounding::default(),
        1,
        true,
        |r| {
            if r.chance(3) {
                f32::from_bits(r.u32() & 0x807F_FFFF) // subnormals and signed zeros
            } else {
                r.float(-126, 127, 5)
            }
        },
        |x| x,
    );
}

#[test]
fn roundtrip_tf32_keeps_10_mantissa_bits() {
    exact_f32_roundtrip(
        Tf32,
        Rounding::default(),
        2,
        true,
        |r| r.float(-100, 100, 5),
        |x| f32::from_bits(x.to_bits() & 0xFFFF_E000),
    );
}

#[test]
fn roundtrip_tf32_relative_error() {
    let mut rng = Rng::new(3);
    for case in cases(Tf32, false) {
        let shape = case.layout.host_shape(case.w);
        let vals: Vec<f32> = (0..numel(shape)).map(|_| rng.float(-60, 60, 0)).collect();
        let out = to_f32s(&through_queue(
            &case,
            &f32_bytes(&vals),
            Float32,
            Rounding::default(),
            Float32,
            4,
        ));
        for (&x, &y) in vals.iter().zip(&out) {
            assert!(
                ((x - y) / x).abs() <= 2f32.powi(-10),
                "{}: {x} -> {y}",
                case.name
            );
        }
    }
}

#[test]
fn roundtrip_float16_b_truncates() {
    exact_f32_roundtrip(
        Float16B,
        Rounding::default(),
        4,
        true,
        |r| r.float(-126, 127, 5),
        |x| f32::from_bits(x.to_bits() & 0xFFFF_0000),
    );
}

#[test]
fn roundtrip_float16_b_representable_values_exact() {
    exact_f32_roundtrip(
        Float16B,
        Rounding::default(),
        5,
        true,
        |r| f32::from_bits(r.float(-126, 127, 5).to_bits() & 0xFFFF_0000),
        |x| x,
    );
}

#[test]
fn roundtrip_float16_b_relative_error() {
    let mut rng = Rng::new(6);
    for (rounding, bound) in [
        (Rounding::default(), 2f32.powi(-7)),
        (
            Rounding {
                float16_b: Float16bRounding::NearestEven,
                ..Rounding::default()
            },
            2f32.powi(-8),
        ),
    ] {
        for case in cases(Float16B, true) {
            let shape = case.layout.host_shape(case.w);
            let vals: Vec<f32> = (0..numel(shape)).map(|_| rng.float(-60, 60, 0)).collect();
            let out = to_f32s(&through_queue(
                &case,
                &f32_bytes(&vals),
                Float32,
                rounding,
                Float32,
                4,
            ));
            for (&x, &y) in vals.iter().zip(&out) {
                assert_eq!(
                    y.to_bits() & 0xFFFF,
                    0,
                    "{}: {y} is not a bf16 value",
                    case.name
                );
                assert!(
                    ((x - y) / x).abs() <= bound,
                    "{}: {x} -> {y} ({rounding:?})",
                    case.name
                );
            }
        }
    }
}

#[test]
fn roundtrip_float16_b_nearest_even_matches_rule() {
    // Round to nearest, ties to even, on the upper 16 bits (finite values, no overflow here).
    let rne = Rounding {
        float16_b: Float16bRounding::NearestEven,
        ..Rounding::default()
    };
    exact_f32_roundtrip(
        Float16B,
        rne,
        7,
        true,
        |r| {
            let x = r.float(-100, 100, 5);
            if r.chance(20) {
                f32::from_bits((x.to_bits() & 0xFFFF_0000) | 0x8000) // exact ties
            } else {
                x
            }
        },
        |x| {
            let b = x.to_bits();
            let lsb = (b >> 16) & 1;
            f32::from_bits((b + 0x7FFF + lsb) & 0xFFFF_0000)
        },
    );
}

#[test]
fn roundtrip_float16_fp16a_rule() {
    exact_f32_roundtrip(
        Float16,
        Rounding::default(),
        8,
        true,
        |r| r.float(-20, 20, 5),
        |x| q_small_float(x, 10, 131008.0),
    );
}

#[test]
fn roundtrip_float16_relative_error_in_range() {
    let mut rng = Rng::new(9);
    for case in cases(Float16, false) {
        let shape = case.layout.host_shape(case.w);
        let vals: Vec<f32> = (0..numel(shape)).map(|_| rng.float(-14, 16, 0)).collect();
        let out = to_f32s(&through_queue(
            &case,
            &f32_bytes(&vals),
            Float32,
            Rounding::default(),
            Float32,
            4,
        ));
        for (&x, &y) in vals.iter().zip(&out) {
            assert!(
                ((x - y) / x).abs() <= 2f32.powi(-10),
                "{}: {x} -> {y}",
                case.name
            );
            assert!(
                y.abs() <= x.abs() && y.signum() == x.signum(),
                "truncation toward zero: {x} -> {y}"
            );
        }
    }
}

#[test]
fn roundtrip_lf8_rule() {
    exact_f32_roundtrip(
        Lf8,
        Rounding::default(),
        10,
        true,
        |r| r.float(-20, 20, 5),
        |x| q_small_float(x, 2, 114688.0),
    );
}

// ------------------------------------------------------------------------------------------------
// Block floats

/// Checks block-float round trips: |decoded - x| <= 2^(E - bias - P) with E the block's shared
/// exponent computed here from the input, and exact zeros decode to +0.
fn bfp_roundtrip(format: DataFormat, rounding: BfpRounding, seed: u64) {
    let a_family = matches!(format, Bfp8 | Bfp4 | Bfp2);
    let p = match format {
        Bfp8 | Bfp8B => 6,
        Bfp4 | Bfp4B => 2,
        _ => 0,
    };
    let bias = if a_family { 15 } else { 127 };
    let (lo, hi) = if a_family { (-14, 14) } else { (-40, 40) };
    let mut rng = Rng::new(seed);
    let r = Rounding {
        bfp: rounding,
        ..Rounding::default()
    };
    for case in cases(format, false) {
        let shape = case.layout.host_shape(case.w);
        let n = numel(shape);
        // Some blocks are all zero, some blocks have a narrow exponent spread, others wide.
        let mut vals = Vec::with_capacity(n);
        let mut block_kind = 0;
        for i in 0..n {
            if i % 16 == 0 {
                block_kind = rng.int(0, 9);
            }
            let v = match block_kind {
                0 => 0.0,
                1..=4 => {
                    let center = (lo + hi) / 2;
                    rng.float(center - 2, center + 2, 10)
                }
                _ => rng.float(lo, hi, 10),
            };
            vals.push(v);
        }
        let out = to_f32s(&through_queue(
            &case,
            &f32_bytes(&vals),
            Float32,
            r,
            Float32,
            4,
        ));

        // Shared exponent per block: a block is 16 consecutive columns of one host row.
        let cols = shape[3];
        let blocks_per_row = cols / 16;
        let mut e_max = vec![0i32; n / 16];
        for (i, &x) in vals.iter().enumerate() {
            let row = i / cols;
            let b = row * blocks_per_row + (i % cols) / 16;
            let e = if a_family {
                (exp8(x) - 112).clamp(0, 31)
            } else {
                exp8(x)
            };
            let e = if x == 0.0 { 0 } else { e };
            e_max[b] = e_max[b].max(e);
        }
        for (i, (&x, &y)) in vals.iter().zip(&out).enumerate() {
            let row = i / cols;
            let b = row * blocks_per_row + (i % cols) / 16;
            let bound = 2f64.powi(e_max[b] - bias - p);
            let err = (x as f64 - y as f64).abs();
            assert!(
                err <= bound,
                "{format:?} {rounding:?} [{}] element {i} (block E={}): {x:e} -> {y:e}, error {err:e} > {bound:e}",
                case.name,
                e_max[b]
            );
            if x == 0.0 {
                assert_eq!(
                    y.to_bits(),
                    0,
                    "{format:?} [{}]: zero must decode to +0",
                    case.name
                );
            }
            if y != 0.0 {
                assert_eq!(
                    y.is_sign_negative(),
                    x.is_sign_negative(),
                    "{format:?}: sign of {x} -> {y}"
                );
            }
        }

        // get_output hands block floats to the host in the host-compatible format.
        let hc = format.host_compatible();
        let host16 = through_queue(&case, &f32_bytes(&vals), Float32, r, hc, 2);
        for (i, &y) in out.iter().enumerate() {
            let got = u16::from_le_bytes([host16[2 * i], host16[2 * i + 1]]);
            let want = if hc == Float16B {
                (y.to_bits() >> 16) as u16
            } else {
                fp16a_bits(q_small_float(y, 10, 131008.0))
            };
            assert_eq!(
                got, want,
                "{format:?} [{}] element {i}: {hc:?} output of {y:e}",
                case.name
            );
        }
    }
}

#[test]
fn roundtrip_bfp8_b() {
    bfp_roundtrip(Bfp8B, BfpRounding::HalfUp, 11);
}

#[test]
fn roundtrip_bfp8_b_truncate() {
    bfp_roundtrip(Bfp8B, BfpRounding::Truncate, 12);
}

#[test]
fn roundtrip_bfp4_b() {
    bfp_roundtrip(Bfp4B, BfpRounding::HalfUp, 13);
}

#[test]
fn roundtrip_bfp2_b() {
    bfp_roundtrip(Bfp2B, BfpRounding::HalfUp, 14);
}

#[test]
fn roundtrip_bfp8_a() {
    bfp_roundtrip(Bfp8, BfpRounding::HalfUp, 15);
}

#[test]
fn roundtrip_bfp4_a() {
    bfp_roundtrip(Bfp4, BfpRounding::HalfUp, 16);
}

#[test]
fn roundtrip_bfp2_a() {
    bfp_roundtrip(Bfp2, BfpRounding::Truncate, 17);
}

#[test]
fn roundtrip_bfp8_b_representable_values_exact() {
    // Every block holds values k/64 * 2^s with |k| <= 127 and a common s, where one element has
    // |k| >= 64: these are exactly representable.
    let mut rng = Rng::new(18);
    for case in cases(Bfp8B, false) {
        let shape = case.layout.host_shape(case.w);
        let n = numel(shape);
        let mut vals = vec![0.0f32; n];
        for b in 0..n / 16 {
            let s = rng.int(-20, 20) as i32;
            for j in 0..16 {
                let k = if j == 0 {
                    rng.int(64, 127)
                } else {
                    rng.int(-127, 127)
                };
                let k = if j == 0 && rng.chance(50) { -k } else { k };
                vals[b * 16 + j] = k as f32 / 64.0 * 2f32.powi(s);
            }
        }
        let out = to_f32s(&through_queue(
            &case,
            &f32_bytes(&vals),
            Float32,
            Rounding::default(),
            Float32,
            4,
        ));
        for (i, (&x, &y)) in vals.iter().zip(&out).enumerate() {
            assert_eq!(y, x, "[{}] element {i}", case.name);
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Integer formats

fn round_half_away(x: f32) -> f32 {
    x.round()
}

#[test]
fn roundtrip_int8_integers_exact() {
    exact_f32_roundtrip(
        Int8,
        Rounding::default(),
        20,
        true,
        |r| r.int(-127, 127) as f32,
        |x| x,
    );
}

#[test]
fn roundtrip_int8_quantizes_non_integers() {
    exact_f32_roundtrip(
        Int8,
        Rounding::default(),
        21,
        true,
        |r| {
            let x = r.int(-4000, 4000) as f32 / 16.0; // includes exact .5 ties
            if r.chance(10) {
                x * 1000.0
            } else {
                x
            }
        },
        |x| round_half_away(x).clamp(-127.0, 127.0) + 0.0,
    );
}

#[test]
fn roundtrip_uint8() {
    exact_f32_roundtrip(
        UInt8,
        Rounding::default(),
        22,
        true,
        |r| r.int(0, 255) as f32,
        |x| x,
    );
    exact_f32_roundtrip(
        UInt8,
        Rounding::default(),
        23,
        true,
        |r| r.int(-200, 5000) as f32 / 16.0,
        |x| round_half_away(x).clamp(0.0, 255.0) + 0.0,
    );
}

#[test]
fn roundtrip_uint16() {
    exact_f32_roundtrip(
        UInt16,
        Rounding::default(),
        24,
        true,
        |r| r.int(0, 65535) as f32,
        |x| x,
    );
    exact_f32_roundtrip(
        UInt16,
        Rounding::default(),
        25,
        true,
        |r| r.int(-2000, 1_100_000) as f32 / 16.0,
        |x| round_half_away(x).clamp(0.0, 65535.0) + 0.0,
    );
}

#[test]
fn roundtrip_int32() {
    exact_f32_roundtrip(
        Int32,
        Rounding::default(),
        26,
        true,
        |r| r.int(-(1 << 24), 1 << 24) as f32,
        |x| x,
    );
    // x >= 0: truncate; x < 0: -round_half_away(-x).
    exact_f32_roundtrip(
        Int32,
        Rounding::default(),
        27,
        true,
        |r| r.int(-1 << 20, 1 << 20) as f32 / 8.0,
        |x| {
            if x >= 0.0 {
                x.trunc() + 0.0
            } else {
                -round_half_away(-x) + 0.0
            }
        },
    );
}

// ------------------------------------------------------------------------------------------------
// Raw formats and host-native round trips

fn native_roundtrip(
    format: DataFormat,
    item: usize,
    seed: u64,
    mut gen: impl FnMut(&mut Rng) -> Vec<u8>,
) {
    let mut rng = Rng::new(seed);
    for case in cases(format, true) {
        let shape = case.layout.host_shape(case.w);
        let host: Vec<u8> = (0..numel(shape)).flat_map(|_| gen(&mut rng)).collect();
        assert_eq!(host.len(), numel(shape) * item);
        let out = through_queue(&case, &host, format, Rounding::default(), format, item);
        if out != host {
            let i = out.iter().zip(&host).position(|(a, b)| a != b).unwrap_or(0) / item;
            panic!(
                "{format:?} [{}] element {i}: host {:02X?} came back {:02X?}",
                case.name,
                &host[i * item..(i + 1) * item],
                &out[i * item..(i + 1) * item]
            );
        }
    }
}

#[test]
fn roundtrip_raw_uint32_bit_patterns() {
    native_roundtrip(RawUInt32, 4, 30, |r| r.u32().to_le_bytes().to_vec());
}

#[test]
fn roundtrip_raw_uint16_bit_patterns() {
    native_roundtrip(RawUInt16, 2, 31, |r| {
        (r.u32() as u16).to_le_bytes().to_vec()
    });
}

#[test]
fn roundtrip_raw_uint8_masks_to_8_bits() {
    let mut rng = Rng::new(32);
    for case in cases(RawUInt8, true) {
        let shape = case.layout.host_shape(case.w);
        let vals: Vec<u32> = (0..numel(shape)).map(|_| rng.u32()).collect();
        let host: Vec<u8> = vals.iter().flat_map(|v| v.to_le_bytes()).collect();
        let out = to_f32s(&through_queue(
            &case,
            &host,
            RawUInt32,
            Rounding::default(),
            Float32,
            4,
        ));
        for (i, (&v, &y)) in vals.iter().zip(&out).enumerate() {
            assert_eq!(y.to_bits(), v & 0xFF, "[{}] element {i}", case.name);
        }
    }
}

#[test]
fn roundtrip_host_int8() {
    native_roundtrip(Int8, 1, 33, |r| vec![(r.int(-127, 127) as i8) as u8]);
}

#[test]
fn roundtrip_host_uint8() {
    native_roundtrip(UInt8, 1, 34, |r| vec![r.int(0, 255) as u8]);
}

#[test]
fn roundtrip_host_uint16() {
    native_roundtrip(UInt16, 2, 35, |r| {
        (r.int(0, 65535) as u16).to_le_bytes().to_vec()
    });
}

#[test]
fn roundtrip_host_int32() {
    native_roundtrip(Int32, 4, 36, |r| {
        (r.int(-(1 << 24), 1 << 24) as i32).to_le_bytes().to_vec()
    });
}

#[test]
fn roundtrip_host_float16_b() {
    native_roundtrip(Float16B, 2, 37, |r| {
        let mut v = r.u32() as u16;
        if (v >> 7) & 0xFF == 0xFF {
            v &= !0x0080; // no inf/NaN
        }
        v.to_le_bytes().to_vec()
    });
}

#[test]
fn roundtrip_host_float16_normal_halves() {
    // IEEE half normals have the same bits in fp16_a.
    native_roundtrip(Float16, 2, 38, |r| {
        let sign = (r.u32() & 1) as u16;
        let e = r.int(1, 30) as u16;
        let m = (r.u32() & 0x3FF) as u16;
        ((sign << 15) | (e << 10) | m).to_le_bytes().to_vec()
    });
}

#[test]
fn roundtrip_host_float32() {
    native_roundtrip(Float32, 4, 39, |r| {
        r.float(-126, 127, 5).to_le_bytes().to_vec()
    });
}

#[test]
fn tilize_deterministic_and_layout_sensitive() {
    // Same data, same layout: identical bytes; different ublock order on a multi-ublock mblock:
    // same multiset of tiles, different bytes.
    let mut rng = Rng::new(40);
    let l = QueueLayout {
        grid_r: 2,
        grid_c: 3,
        mblock_m: 2,
        mblock_n: 2,
        t: 2,
        ublock_order: UblockOrder::C,
        ..QueueLayout::single_tile(Bfp8B)
    };
    let w = 2;
    let shape = l.host_shape(w);
    let vals: Vec<f32> = (0..numel(shape)).map(|_| rng.float(-5, 5, 5)).collect();
    let host = f32_bytes(&vals);
    let run = |l: &QueueLayout| {
        let mut d = vec![0u8; l.tilized_size(w)];
        ok(tilize(
            &HostTensor::contiguous(&host, Float32, shape),
            l,
            Rounding::default(),
            &mut d,
        ));
        d
    };
    let a = run(&l);
    assert_eq!(a, run(&l));
    let r = QueueLayout {
        ublock_order: UblockOrder::R,
        ..l
    };
    let b = run(&r);
    assert_ne!(a, b);
    let tile = 1120;
    let mut ta: Vec<&[u8]> = a.chunks(tile).collect();
    let mut tb: Vec<&[u8]> = b.chunks(tile).collect();
    ta.sort();
    tb.sort();
    assert_eq!(ta, tb);
}
