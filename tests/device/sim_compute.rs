//! Device pages of tensors and the simulated chip's numerics, against expectations computed
//! another way: Buda tiles from the tile codecs and the queue tilizer, f64 math of the host
//! libm, hand-worked special cases of golden-ops.md, and a plain loop in golden's matmul order.

use crate::support;

use support::XorShift;
use ttrt::compute::{
    apply_binary, apply_relu, apply_unary, matmul_tile_accumulate, BinaryOp, ComputeError,
    ReluMode, UnaryOp,
};
use ttrt::format::element::{from_device, to_device};
use ttrt::format::page::{
    decode_row_page, decode_tile_page, encode_row_page, encode_tile_page, tile_page_size,
};
use ttrt::format::{
    decode_tile, encode_tile, tile_size_bytes, tilize, untilize, Arch, BfpDecoding, BfpRounding,
    DataFormat, Float16bRounding, FormatError, HostTensor, HostTensorMut, QueueLayout, Rounding,
    TileDim, TILE_HEADER_SIZE,
};

// ---------------------------------------------------------------------------------------------
// Inputs and comparisons

const ROUNDINGS: [Rounding; 2] = [
    Rounding {
        bfp: BfpRounding::HalfUp,
        float16_b: Float16bRounding::Truncate,
    },
    Rounding {
        bfp: BfpRounding::Truncate,
        float16_b: Float16bRounding::NearestEven,
    },
];

/// Values of every kind a page meets: per 16-value block, one regime (normals of any size,
/// denormals, zeros, an inf or NaN among normals, integers for the integer formats).
fn page_values(rng: &mut XorShift) -> [f32; 1024] {
    let mut out = [0f32; 1024];
    for block in out.chunks_exact_mut(16) {
        let regime = rng.next() % 7;
        for v in block {
            let r = rng.next();
            let sign = ((r >> 63) as u32) << 31;
            let mant = (r as u32) & 0x7f_ffff;
            *v = match regime {
                0 => f32::from_bits(sign | (((r >> 40) as u32 % 254 + 1) << 23) | mant),
                1 => f32::from_bits(sign | mant),
                2 => f32::from_bits(sign),
                3 if r % 16 == 0 => f32::from_bits(sign | 0x7f80_0000),
                4 if r % 16 == 0 => f32::from_bits(0x7fc0_0001),
                5 => ((r >> 32) as i32 % 300) as f32 + if r & 1 == 0 { 0.5 } else { 0.0 },
                _ => f32::from_bits(sign | ((110 + (r >> 40) as u32 % 30) << 23) | mant),
            };
        }
    }
    out
}

fn uniform(rng: &mut XorShift, lo: f32, hi: f32) -> f32 {
    let u = (rng.next() >> 40) as f32 / (1u64 << 24) as f32;
    lo + (hi - lo) * u
}

fn same_bits(a: &[f32], b: &[f32], what: &str) {
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert_eq!(
            x.to_bits(),
            y.to_bits(),
            "{what}: element {i}: {x:e} (0x{:08X}) vs {y:e} (0x{:08X})",
            x.to_bits(),
            y.to_bits()
        );
    }
}

/// Distance in units in the last place (both finite or both equal).
fn ulps(a: f32, b: f32) -> u32 {
    if a == b || (a.is_nan() && b.is_nan()) {
        return 0;
    }
    let key = |x: f32| {
        let bits = x.to_bits() as i64;
        if bits & 0x8000_0000 != 0 {
            0x8000_0000 - bits
        } else {
            bits
        }
    };
    (key(a) - key(b)).unsigned_abs() as u32
}

fn unary(op: UnaryOp, x: f32) -> f32 {
    let mut v = [x];
    apply_unary(op, &mut v).unwrap_or_else(|e| panic!("{op} of {x:e}: {e}"));
    v[0]
}

fn binary(op: BinaryOp, a: f32, b: f32) -> f32 {
    let mut v = [a];
    apply_binary(op, &mut v, &[b]).unwrap();
    v[0]
}

fn tile_formats() -> impl Iterator<Item = DataFormat> {
    DataFormat::ALL.into_iter().filter(|f| !f.is_raw())
}

// ---------------------------------------------------------------------------------------------
// Tile pages

#[test]
fn tile_page_size_is_a_buda_tile_without_header_and_padding() {
    for format in tile_formats() {
        let exponents = if format.is_block_float() { 64 } else { 0 };
        assert_eq!(
            tile_page_size(format),
            exponents + 1024 * format.device_bits() / 8,
            "{format}"
        );
        assert_eq!(
            tile_page_size(format),
            tile_size_bytes(format, Arch::WormholeB0, TileDim::FULL, true)
        );
    }
    assert_eq!(tile_page_size(DataFormat::Float16B), 2048);
    assert_eq!(tile_page_size(DataFormat::Bfp8B), 1088);
    assert_eq!(tile_page_size(DataFormat::Bfp2), 320);
}

#[test]
fn tile_page_is_the_bytes_of_a_buda_tile_after_its_header() {
    let mut rng = XorShift(0x5eed_0001_2345_6789);
    for format in tile_formats() {
        for rounding in ROUNDINGS {
            for _ in 0..4 {
                let values = page_values(&mut rng);
                let size = tile_page_size(format);
                let mut tile = vec![0xA5u8; 4096 + 64];
                encode_tile(
                    &values,
                    format,
                    Arch::WormholeB0,
                    TileDim::FULL,
                    rounding,
                    &mut tile,
                )
                .unwrap();
                let mut page = vec![0x5Au8; size + 8];
                encode_tile_page(&values, format, rounding, &mut page).unwrap();
                assert_eq!(
                    page[..size],
                    tile[TILE_HEADER_SIZE..TILE_HEADER_SIZE + size],
                    "{format} {rounding:?}"
                );
                assert!(
                    page[size..].iter().all(|&b| b == 0x5A),
                    "{format}: wrote past the page"
                );
            }
        }
    }
}

#[test]
fn tile_page_is_what_the_queue_tilizer_writes_after_the_header() {
    let mut rng = XorShift(0x5eed_0002_2345_6789);
    for format in tile_formats() {
        let values = page_values(&mut rng);
        let host: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let layout = QueueLayout::single_tile(format);
        let mut queue = vec![0u8; layout.tilized_size(1)];
        tilize(
            &HostTensor::contiguous(&host, DataFormat::Float32, [1, 1, 32, 32]),
            &layout,
            Rounding::default(),
            &mut queue,
        )
        .unwrap();
        let size = tile_page_size(format);
        let mut page = vec![0u8; size];
        encode_tile_page(&values, format, Rounding::default(), &mut page).unwrap();
        assert_eq!(
            page[..],
            queue[TILE_HEADER_SIZE..TILE_HEADER_SIZE + size],
            "{format}"
        );
    }
}

#[test]
fn tile_page_decodes_to_the_tilize_untilize_round_trip() {
    let mut rng = XorShift(0x5eed_0003_2345_6789);
    for format in tile_formats() {
        for _ in 0..4 {
            let values = page_values(&mut rng);
            let mut page = vec![0u8; tile_page_size(format)];
            encode_tile_page(&values, format, Rounding::default(), &mut page).unwrap();
            let mut decoded = [0f32; 1024];
            decode_tile_page(&page, format, BfpDecoding::Buda, &mut decoded).unwrap();

            // The same values through a one-tile queue and back to Float32 on the host.
            let host: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            let layout = QueueLayout::single_tile(format);
            let mut queue = vec![0u8; layout.tilized_size(1)];
            tilize(
                &HostTensor::contiguous(&host, DataFormat::Float32, [1, 1, 32, 32]),
                &layout,
                Rounding::default(),
                &mut queue,
            )
            .unwrap();
            let mut back = vec![0u8; 4096];
            untilize(
                &queue,
                &layout,
                &mut HostTensorMut::contiguous(&mut back, DataFormat::Float32, [1, 1, 32, 32]),
            )
            .unwrap();
            let back: Vec<f32> = back
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            same_bits(&decoded, &back, format.name());

            // And decode_tile of the same bytes with a header in front.
            let mut tile = vec![0u8; TILE_HEADER_SIZE + page.len() + 64];
            tile[TILE_HEADER_SIZE..TILE_HEADER_SIZE + page.len()].copy_from_slice(&page);
            let mut from_tile = [0f32; 1024];
            decode_tile(&tile, format, TileDim::FULL, &mut from_tile).unwrap();
            same_bits(&decoded, &from_tile, format.name());
        }
    }
}

#[test]
fn raw_formats_have_no_tile_pages() {
    let values = [1.0f32; 1024];
    let mut page = vec![0u8; 4096];
    let mut out = [0f32; 1024];
    for format in [
        DataFormat::RawUInt8,
        DataFormat::RawUInt16,
        DataFormat::RawUInt32,
    ] {
        let expected = FormatError::DeviceFormat {
            format,
            usage: "a tile page",
        };
        assert_eq!(
            encode_tile_page(&values, format, Rounding::default(), &mut page),
            Err(expected.clone())
        );
        assert_eq!(
            decode_tile_page(&page, format, BfpDecoding::Buda, &mut out),
            Err(expected)
        );
    }
}

#[test]
fn short_tile_page_buffers_are_refused() {
    let values = [1.0f32; 1024];
    let mut page = vec![0u8; 1087];
    let err = encode_tile_page(&values, DataFormat::Bfp8B, Rounding::default(), &mut page);
    assert_eq!(
        err,
        Err(FormatError::BufferSize {
            what: "tile page",
            expected: 1088,
            found: 1087
        })
    );
    let mut out = [0f32; 1024];
    assert!(matches!(
        decode_tile_page(&page, DataFormat::Bfp8B, BfpDecoding::Buda, &mut out),
        Err(FormatError::BufferSize { expected: 1088, .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// Row-major pages

#[test]
fn row_page_is_the_element_codecs_little_endian() {
    let mut rng = XorShift(0x5eed_0004_2345_6789);
    for format in DataFormat::ALL.into_iter().filter(|f| !f.is_block_float()) {
        for rounding in ROUNDINGS {
            let values = &page_values(&mut rng)[..100];
            let item = format.device_bits() / 8;
            let mut page = vec![0x77u8; values.len() * item + 3];
            encode_row_page(values, format, rounding, &mut page).unwrap();
            for (i, &x) in values.iter().enumerate() {
                let bits = to_device(x, format, rounding.float16_b);
                assert_eq!(
                    page[i * item..(i + 1) * item],
                    bits.to_le_bytes()[..item],
                    "{format} element {i}: {x:e}"
                );
            }
            assert_eq!(page[values.len() * item..], [0x77; 3]);

            let mut back = vec![0f32; values.len()];
            decode_row_page(&page, format, &mut back).unwrap();
            let expected: Vec<f32> = values
                .iter()
                .map(|&x| from_device(to_device(x, format, rounding.float16_b), format))
                .collect();
            same_bits(&back, &expected, format.name());
        }
    }
}

#[test]
fn row_page_round_trip_is_exact_where_the_format_holds_the_value() {
    let cases: [(DataFormat, &[f32]); 6] = [
        (
            DataFormat::Float32,
            &[1.5, -0.0, f32::MAX, 1e-45, f32::NEG_INFINITY],
        ),
        (
            DataFormat::Float16B,
            &[1.5, -2.0, 0.0, 65536.0, -1.0 / 128.0],
        ),
        (
            DataFormat::Float16,
            &[1.5, -2.0, 65504.0, 131008.0, 6.1035156e-5],
        ),
        (DataFormat::Int8, &[-127.0, 0.0, 5.0, 127.0]),
        (DataFormat::UInt16, &[0.0, 1.0, 65535.0]),
        (DataFormat::Int32, &[-16777216.0, 0.0, 123456.0]),
    ];
    for (format, values) in cases {
        let mut page = vec![0u8; values.len() * format.device_bits() / 8];
        encode_row_page(values, format, Rounding::default(), &mut page).unwrap();
        let mut back = vec![0f32; values.len()];
        decode_row_page(&page, format, &mut back).unwrap();
        same_bits(&back, values, format.name());
    }
}

#[test]
fn block_floats_have_no_row_pages() {
    let mut page = vec![0u8; 64];
    let mut out = [0f32; 16];
    for format in DataFormat::ALL.into_iter().filter(|f| f.is_block_float()) {
        let expected = FormatError::DeviceFormat {
            format,
            usage: "a row-major page",
        };
        assert_eq!(
            encode_row_page(&[0.0; 16], format, Rounding::default(), &mut page),
            Err(expected.clone())
        );
        assert_eq!(decode_row_page(&page, format, &mut out), Err(expected));
    }
}

#[test]
fn short_row_page_buffers_are_refused() {
    let mut page = [0u8; 7];
    assert_eq!(
        encode_row_page(
            &[1.0, 2.0],
            DataFormat::Float32,
            Rounding::default(),
            &mut page
        ),
        Err(FormatError::BufferSize {
            what: "row page",
            expected: 8,
            found: 7
        })
    );
    let mut out = [0f32; 4];
    assert!(matches!(
        decode_row_page(&page, DataFormat::Float16B, &mut out),
        Err(FormatError::BufferSize { expected: 8, .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// Unary ops

#[test]
fn op_names_and_numbers_round_trip() {
    for (i, op) in UnaryOp::ALL.into_iter().enumerate() {
        assert_eq!(op as u32, i as u32);
        assert_eq!(UnaryOp::from_u32(i as u32), Some(op));
        assert_eq!(UnaryOp::from_name(op.name()), Some(op));
    }
    assert_eq!(UnaryOp::from_u32(12), None);
    assert_eq!(UnaryOp::from_name("nop"), Some(UnaryOp::Identity));
    for (i, op) in BinaryOp::ALL.into_iter().enumerate() {
        assert_eq!(op as u32, i as u32);
        assert_eq!(BinaryOp::from_u32(i as u32), Some(op));
        assert_eq!(BinaryOp::from_name(op.name()), Some(op));
    }
    assert_eq!(BinaryOp::from_u32(4), None);
}

#[test]
fn identity_passes_every_bit_pattern_through() {
    let mut rng = XorShift(0x5eed_0005_2345_6789);
    let values: Vec<f32> = (0..4096)
        .map(|_| f32::from_bits(rng.next() as u32))
        .collect();
    let mut out = values.clone();
    apply_unary(UnaryOp::Identity, &mut out).unwrap();
    same_bits(&out, &values, "datacopy");
}

#[test]
fn gelu_is_the_tanh_formula_in_double_stored_as_float() {
    let k = (2.0f64 / std::f64::consts::PI).sqrt();
    let reference = |x: f32| {
        let x = x as f64;
        (0.5 * x * (1.0 + (k * (x + 0.044715 * x * x * x)).tanh())) as f32
    };
    let mut rng = XorShift(0x5eed_0006_2345_6789);
    let mut points = vec![
        0.0f32, -0.0, 0.5, -0.5, 1.0, -1.0, 3.0, -3.0, 1e-3, -5.5, 10.0, -10.0, 100.0, 1e-30,
    ];
    points.extend((0..10_000).map(|_| uniform(&mut rng, -8.0, 8.0)));
    for x in points {
        let got = unary(UnaryOp::Gelu, x);
        assert_eq!(got.to_bits(), reference(x).to_bits(), "gelu({x:e})");
    }
    assert!((unary(UnaryOp::Gelu, 1.0) - 0.841_192).abs() < 1e-6);
    assert_eq!(unary(UnaryOp::Gelu, f32::INFINITY), f32::INFINITY);
    assert!(unary(UnaryOp::Gelu, f32::NEG_INFINITY).is_nan());
    assert!(unary(UnaryOp::Gelu, f32::NAN).is_nan());
    assert_eq!(unary(UnaryOp::Gelu, -0.0).to_bits(), (-0.0f32).to_bits());
}

#[test]
fn exp_saturates_at_flt_max_and_sends_nan_there() {
    assert_eq!(unary(UnaryOp::Exp, f32::INFINITY), f32::MAX);
    assert_eq!(unary(UnaryOp::Exp, f32::NAN), f32::MAX);
    assert_eq!(unary(UnaryOp::Exp, 100.0), f32::MAX);
    assert_eq!(unary(UnaryOp::Exp, f32::NEG_INFINITY), 0.0);
    assert_eq!(unary(UnaryOp::Exp, 0.0), 1.0);
    assert_eq!(unary(UnaryOp::Exp, -0.0), 1.0);
    let mut rng = XorShift(0x5eed_0007_2345_6789);
    for _ in 0..10_000 {
        let x = uniform(&mut rng, -100.0, 88.0);
        let reference = (x as f64).exp() as f32;
        assert!(ulps(unary(UnaryOp::Exp, x), reference) <= 1, "exp({x:e})");
    }
}

#[test]
fn log_of_a_zero_is_the_log_of_flt_epsilon() {
    let log_eps = (f32::EPSILON as f64).ln() as f32;
    assert_eq!(unary(UnaryOp::Log, 0.0), log_eps);
    assert_eq!(unary(UnaryOp::Log, -0.0), log_eps);
    assert!((log_eps - -15.942_385).abs() < 1e-5);
    assert!(unary(UnaryOp::Log, -1.0).is_nan());
    assert!(unary(UnaryOp::Log, f32::NEG_INFINITY).is_nan());
    assert!(unary(UnaryOp::Log, f32::NAN).is_nan());
    assert_eq!(unary(UnaryOp::Log, f32::INFINITY), f32::INFINITY);
    assert_eq!(unary(UnaryOp::Log, 1.0), 0.0);
    let mut rng = XorShift(0x5eed_0008_2345_6789);
    for _ in 0..10_000 {
        let x = f32::from_bits(rng.next() as u32 & 0x7f7f_ffff);
        let reference = (x as f64).ln() as f32;
        assert!(ulps(unary(UnaryOp::Log, x), reference) <= 1, "log({x:e})");
    }
}

#[test]
fn sqrt_is_correctly_rounded_and_keeps_minus_zero() {
    assert_eq!(unary(UnaryOp::Sqrt, -0.0).to_bits(), (-0.0f32).to_bits());
    assert_eq!(unary(UnaryOp::Sqrt, f32::INFINITY), f32::INFINITY);
    assert_eq!(unary(UnaryOp::Sqrt, 2.0), std::f32::consts::SQRT_2);
    let mut rng = XorShift(0x5eed_0009_2345_6789);
    for _ in 0..10_000 {
        let x = f32::from_bits(rng.next() as u32 & 0x7f7f_ffff);
        assert_eq!(
            unary(UnaryOp::Sqrt, x).to_bits(),
            ((x as f64).sqrt() as f32).to_bits(),
            "sqrt({x:e})"
        );
    }
}

#[test]
fn sqrt_of_nan_or_a_negative_is_rejected_and_leaves_the_values_unchanged() {
    for (bad, reason) in [
        (f32::NAN, "a NaN input"),
        (-1.0, "a negative input (its square root is NaN)"),
        (
            f32::NEG_INFINITY,
            "a negative input (its square root is NaN)",
        ),
        (-1e-45, "a negative input (its square root is NaN)"),
    ] {
        let mut values = [4.0, 9.0, bad, 16.0];
        let err = apply_unary(UnaryOp::Sqrt, &mut values).unwrap_err();
        match err {
            ComputeError::Rejected {
                op,
                index,
                input,
                reason: r,
            } => {
                assert_eq!((op, index, r), (UnaryOp::Sqrt, 2, reason));
                assert_eq!(input.to_bits(), bad.to_bits());
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(values[..2], [4.0, 9.0], "nothing written");
    }
}

#[test]
fn reciprocal_of_either_zero_is_plus_8388608() {
    assert_eq!(unary(UnaryOp::Reciprocal, 0.0), 8388608.0);
    assert_eq!(unary(UnaryOp::Reciprocal, -0.0), 8388608.0);
    assert_eq!(
        unary(UnaryOp::Reciprocal, f32::INFINITY).to_bits(),
        0.0f32.to_bits()
    );
    assert_eq!(
        unary(UnaryOp::Reciprocal, f32::NEG_INFINITY).to_bits(),
        (-0.0f32).to_bits()
    );
    // A positive value too small to invert overflows to +inf, which golden allows.
    assert_eq!(unary(UnaryOp::Reciprocal, 1e-45), f32::INFINITY);
    let mut rng = XorShift(0x5eed_000a_2345_6789);
    for _ in 0..10_000 {
        let x = f32::from_bits(rng.next() as u32 & 0x7f7f_ffff) * 1e-3;
        if x == 0.0 {
            continue;
        }
        assert_eq!(
            unary(UnaryOp::Reciprocal, x).to_bits(),
            ((1.0 / x as f64) as f32).to_bits(),
            "1/{x:e}"
        );
    }
}

#[test]
fn reciprocal_giving_nan_or_minus_inf_is_rejected() {
    let mut values = [2.0, f32::NAN];
    let err = apply_unary(UnaryOp::Reciprocal, &mut values).unwrap_err();
    assert!(matches!(
        err,
        ComputeError::Rejected {
            op: UnaryOp::Reciprocal,
            index: 1,
            reason: "a NaN result",
            ..
        }
    ));
    assert_eq!(values[0], 2.0, "nothing written");
    let mut values = [-1e-45];
    let err = apply_unary(UnaryOp::Reciprocal, &mut values).unwrap_err();
    assert_eq!(
        err,
        ComputeError::Rejected {
            op: UnaryOp::Reciprocal,
            index: 0,
            input: -1e-45,
            reason: "a result of -inf",
        }
    );
    let text = err.to_string();
    assert_eq!(
        text,
        "reciprocal of element 0 (-1e-45): golden rejects a result of -inf"
    );
    assert!(!text.contains('\n'));
}

#[test]
fn sigmoid_of_nan_and_minus_inf_is_one_over_one_plus_flt_max() {
    let tiny = (1.0 / (1.0 + f32::MAX as f64)) as f32;
    assert!(tiny > 2.93e-39 && tiny < 2.95e-39);
    assert_eq!(unary(UnaryOp::Sigmoid, f32::NAN), tiny);
    assert_eq!(unary(UnaryOp::Sigmoid, f32::NEG_INFINITY), tiny);
    assert_eq!(unary(UnaryOp::Sigmoid, -100.0), tiny);
    assert_eq!(unary(UnaryOp::Sigmoid, f32::INFINITY), 1.0);
    assert_eq!(unary(UnaryOp::Sigmoid, 0.0), 0.5);
    let mut rng = XorShift(0x5eed_000b_2345_6789);
    for _ in 0..10_000 {
        let x = uniform(&mut rng, -80.0, 80.0);
        let e = ((-x) as f64).exp() as f32;
        let reference = (1.0 / (1.0 + e as f64)) as f32;
        assert!(
            ulps(unary(UnaryOp::Sigmoid, x), reference) <= 1,
            "sigmoid({x:e})"
        );
    }
}

/// Float tanh is not correctly rounded, in glibc (golden's) nor in libm: both are off by up to
/// 2 ulp on some inputs, and on different ones.
#[test]
fn tanh_is_the_float_tanh_within_two_ulp() {
    assert_eq!(unary(UnaryOp::Tanh, f32::INFINITY), 1.0);
    assert_eq!(unary(UnaryOp::Tanh, f32::NEG_INFINITY), -1.0);
    assert_eq!(unary(UnaryOp::Tanh, -0.0).to_bits(), (-0.0f32).to_bits());
    assert!(unary(UnaryOp::Tanh, f32::NAN).is_nan());
    let mut rng = XorShift(0x5eed_000c_2345_6789);
    for _ in 0..10_000 {
        let x = uniform(&mut rng, -10.0, 10.0);
        let reference = (x as f64).tanh() as f32;
        assert!(ulps(unary(UnaryOp::Tanh, x), reference) <= 2, "tanh({x:e})");
    }
}

#[test]
fn relu_keeps_minus_zero_and_sends_negatives_and_nan_to_plus_zero() {
    let mut values = [
        -0.0,
        0.0,
        -1.0,
        2.5,
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        -1e-45,
    ];
    apply_unary(UnaryOp::Relu, &mut values).unwrap();
    let expected = [-0.0, 0.0, 0.0, 2.5, 0.0, f32::INFINITY, 0.0, 0.0];
    same_bits(&values, &expected, "relu");
}

#[test]
fn relu_max_mode_clamps_to_zero_and_the_threshold() {
    let mut values = [-3.0, 0.5, 1.0, 7.0, f32::NAN, -0.0];
    apply_relu(&mut values, ReluMode::Max, 1.0);
    same_bits(&values, &[0.0, 0.5, 1.0, 1.0, 0.0, -0.0], "relu max 1.0");
    let mut values = [0.25, 0.5, 0.75, -0.0];
    apply_relu(&mut values, ReluMode::Min, 0.5);
    same_bits(&values, &[0.0, 0.5, 0.75, 0.0], "relu min 0.5");
}

#[test]
fn abs_square_and_neg_are_ieee_float32() {
    let nan = f32::from_bits(0xffc0_0001);
    let mut values = [-2.0, -0.0, nan, f32::NEG_INFINITY];
    apply_unary(UnaryOp::Abs, &mut values).unwrap();
    assert_eq!(
        values.map(f32::to_bits),
        [0x4000_0000, 0, 0x7fc0_0001, 0x7f80_0000]
    );
    let mut values = [3.0, -0.0, 1e20, -1e-30];
    apply_unary(UnaryOp::Square, &mut values).unwrap();
    same_bits(&values, &[9.0, 0.0, f32::INFINITY, 0.0], "square");
    let mut values = [3.0, 0.0, nan, f32::INFINITY];
    apply_unary(UnaryOp::Neg, &mut values).unwrap();
    assert_eq!(
        values.map(f32::to_bits),
        [0xc040_0000, 0x8000_0000, 0x7fc0_0001, 0xff80_0000]
    );
}

// ---------------------------------------------------------------------------------------------
// Binary ops

#[test]
fn add_and_subtract_are_float32() {
    let mut rng = XorShift(0x5eed_000d_2345_6789);
    let a: Vec<f32> = (0..1024).map(|_| uniform(&mut rng, -1e6, 1e6)).collect();
    let b: Vec<f32> = (0..1024).map(|_| uniform(&mut rng, -1e3, 1e3)).collect();
    let mut sum = a.clone();
    apply_binary(BinaryOp::Add, &mut sum, &b).unwrap();
    let mut difference = a.clone();
    apply_binary(BinaryOp::Subtract, &mut difference, &b).unwrap();
    for i in 0..a.len() {
        assert_eq!(sum[i], ((a[i] as f64 + b[i] as f64) as f32));
        assert_eq!(difference[i], ((a[i] as f64 - b[i] as f64) as f32));
    }
    assert_eq!(binary(BinaryOp::Add, -0.0, 0.0).to_bits(), 0);
    assert!(binary(BinaryOp::Subtract, f32::INFINITY, f32::INFINITY).is_nan());
}

#[test]
fn multiply_by_the_bits_of_plus_zero_is_plus_zero() {
    assert_eq!(binary(BinaryOp::Multiply, 0.0, f32::INFINITY).to_bits(), 0);
    assert_eq!(binary(BinaryOp::Multiply, f32::NAN, 0.0).to_bits(), 0);
    assert_eq!(binary(BinaryOp::Multiply, 0.0, -3.0).to_bits(), 0);
    assert_eq!(binary(BinaryOp::Multiply, -3.0, 0.0).to_bits(), 0);
    // Only +0.0 counts.
    assert!(binary(BinaryOp::Multiply, -0.0, f32::INFINITY).is_nan());
    assert_eq!(
        binary(BinaryOp::Multiply, -0.0, 3.0).to_bits(),
        (-0.0f32).to_bits()
    );
    assert_eq!(binary(BinaryOp::Multiply, 1.5, -2.0), -3.0);
    assert_eq!(binary(BinaryOp::Multiply, 3e38, 10.0), f32::INFINITY);
}

#[test]
fn maximum_returns_b_for_nan_and_zero_ties() {
    assert_eq!(binary(BinaryOp::Maximum, 2.0, 1.0), 2.0);
    assert_eq!(binary(BinaryOp::Maximum, 1.0, 2.0), 2.0);
    assert!(binary(BinaryOp::Maximum, 1.0, f32::NAN).is_nan());
    assert_eq!(binary(BinaryOp::Maximum, f32::NAN, 1.0), 1.0);
    assert_eq!(binary(BinaryOp::Maximum, 0.0, -0.0).to_bits(), 0x8000_0000);
    assert_eq!(binary(BinaryOp::Maximum, -0.0, 0.0).to_bits(), 0);
}

#[test]
fn binary_operands_of_different_lengths_are_refused() {
    let mut a = [1.0f32; 3];
    let err = apply_binary(BinaryOp::Add, &mut a, &[1.0; 4]).unwrap_err();
    assert_eq!(
        err,
        ComputeError::Length {
            op: BinaryOp::Add,
            a: 3,
            b: 4
        }
    );
    assert_eq!(a, [1.0; 3]);
    assert_eq!(
        err.to_string(),
        "add: operand a has 3 elements, operand b has 4; they must be equal"
    );
}

// ---------------------------------------------------------------------------------------------
// Matmul

/// Tile (tr, tc) of a row-major matrix with `cols` columns.
fn tile_of(m: &[f32], cols: usize, tr: usize, tc: usize) -> [f32; 1024] {
    std::array::from_fn(|i| m[(tr * 32 + i / 32) * cols + tc * 32 + i % 32])
}

/// Golden's order, one output element at a time: per K tile, eight FMA lanes over k = l,
/// l + 8, l + 16, l + 24, the 8-4-2-1 tree, then added to the element, which starts at +0.
fn golden_order(a: &[f32], b: &[f32], n: usize) -> Vec<f32> {
    let mut c = vec![0f32; n * n];
    for i in 0..n {
        for j in 0..n {
            let mut acc = 0f32;
            for kt in 0..n / 32 {
                let mut lanes = [0f32; 8];
                for k in 0..32 {
                    let kk = kt * 32 + k;
                    lanes[k % 8] = a[i * n + kk].mul_add(b[kk * n + j], lanes[k % 8]);
                }
                let s: Vec<f32> = (0..4).map(|l| lanes[l] + lanes[l + 4]).collect();
                acc += (s[0] + s[2]) + (s[1] + s[3]);
            }
            c[i * n + j] = acc;
        }
    }
    c
}

#[test]
fn matmul_of_tiles_in_k_order_is_golden_bit_for_bit_and_close_to_f64() {
    const N: usize = 64;
    let mut rng = XorShift(0x5eed_000e_2345_6789);
    let a: Vec<f32> = (0..N * N).map(|_| uniform(&mut rng, -2.0, 2.0)).collect();
    let b: Vec<f32> = (0..N * N).map(|_| uniform(&mut rng, -2.0, 2.0)).collect();

    let mut c = vec![0f32; N * N];
    for tr in 0..N / 32 {
        for tc in 0..N / 32 {
            let mut acc = [0f32; 1024];
            for kt in 0..N / 32 {
                let (at, bt) = (tile_of(&a, N, tr, kt), tile_of(&b, N, kt, tc));
                matmul_tile_accumulate(&mut acc, &at, &bt);
            }
            for (i, v) in acc.iter().enumerate() {
                c[(tr * 32 + i / 32) * N + tc * 32 + i % 32] = *v;
            }
        }
    }

    same_bits(&c, &golden_order(&a, &b, N), "golden order");

    for i in 0..N {
        for j in 0..N {
            let (mut exact, mut magnitude) = (0f64, 0f64);
            for k in 0..N {
                let p = a[i * N + k] as f64 * b[k * N + j] as f64;
                exact += p;
                magnitude += p.abs();
            }
            let err = (c[i * N + j] as f64 - exact).abs();
            assert!(
                err <= 8.0 * f32::EPSILON as f64 * magnitude,
                "C[{i}][{j}] = {} vs {exact}",
                c[i * N + j]
            );
        }
    }
}

#[test]
fn matmul_partial_sums_start_at_plus_zero() {
    // Every product is -0; a lane starting at +0 makes each partial sum +0, and adding it to an
    // accumulator of -0 gives +0 too.
    let a = [-0.0f32; 1024];
    let b = [1.0f32; 1024];
    let mut acc = [-0.0f32; 1024];
    matmul_tile_accumulate(&mut acc, &a, &b);
    assert!(acc.iter().all(|v| v.to_bits() == 0));
}

#[test]
fn matmul_accumulates_onto_what_acc_holds() {
    let mut rng = XorShift(0x5eed_000f_2345_6789);
    let a: [f32; 1024] = std::array::from_fn(|_| uniform(&mut rng, -1.0, 1.0));
    let b: [f32; 1024] = std::array::from_fn(|_| uniform(&mut rng, -1.0, 1.0));
    let start: [f32; 1024] = std::array::from_fn(|_| uniform(&mut rng, -100.0, 100.0));
    let mut product = [0f32; 1024];
    matmul_tile_accumulate(&mut product, &a, &b);
    let mut acc = start;
    matmul_tile_accumulate(&mut acc, &a, &b);
    for i in 0..1024 {
        assert_eq!(acc[i].to_bits(), (start[i] + product[i]).to_bits());
    }
}
