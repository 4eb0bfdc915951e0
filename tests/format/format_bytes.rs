//! Byte-exact expectations for `ttrt::format`, worked out by hand from the Buda tile, queue and
//! number-format rules (shared notes "Tile bytes", "Queue descriptor", "Push / get / pop" and the
//! golden Q(x) table). Every constant below was computed on paper from those rules; none comes
//! from running a codec.

// Index loops mirror the tile diagrams they check; products spell out every layout field.
#![allow(clippy::needless_range_loop, clippy::identity_op)]

use ttrt::format::bfp;
use ttrt::format::element as el;
use ttrt::format::{
    decode_tile, encode_tile, tile_size_bytes, tilize, untilize, Arch, BfpRounding, DataFormat,
    ExponentFamily, Float16bRounding, FormatError, HostTensor, HostTensorMut, IoLayout,
    QueueLayout, Rounding, TileDim, UblockOrder,
};

use DataFormat::*;

// ------------------------------------------------------------------------------------------------
// Helpers

const ALL_FORMATS: [DataFormat; 19] = [
    Float32, Float16, Bfp8, Bfp4, Tf32, Float16B, Bfp8B, Bfp4B, Int32, UInt16, Lf8, Bfp2, Int8,
    Bfp2B, Fp8E4m3, UInt8, RawUInt8, RawUInt16, RawUInt32,
];

fn ok<T>(r: Result<T, FormatError>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("unexpected error: {e}"),
    }
}

fn err<T>(r: Result<T, FormatError>) -> String {
    match r {
        Ok(_) => panic!("expected an error, got Ok"),
        Err(e) => e.to_string(),
    }
}

fn dim(h: u32, w: u32) -> TileDim {
    TileDim::new(h, w).expect("valid tile dim")
}

fn full() -> TileDim {
    TileDim::FULL
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

fn u16_at(b: &[u8], off: usize) -> u16 {
    u16::from_le_bytes([b[off], b[off + 1]])
}

fn f32_at(b: &[u8], off: usize) -> f32 {
    f32::from_bits(u32_at(b, off))
}

fn f32_bytes(vals: &[f32]) -> Vec<u8> {
    vals.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn u16_bytes(vals: &[u16]) -> Vec<u8> {
    vals.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Encode one tile on Wormhole B0 with the given rounding.
fn encode_r(values: &[f32], format: DataFormat, d: TileDim, rounding: Rounding) -> Vec<u8> {
    let size = tile_size_bytes(format, Arch::WormholeB0, d, false);
    let mut out = vec![0xA5u8; size];
    let n = ok(encode_tile(
        values,
        format,
        Arch::WormholeB0,
        d,
        rounding,
        &mut out,
    ));
    assert_eq!(n, size, "encode_tile returns the tile size");
    out
}

fn encode(values: &[f32], format: DataFormat, d: TileDim) -> Vec<u8> {
    encode_r(values, format, d, Rounding::default())
}

fn decode(bytes: &[u8], format: DataFormat, d: TileDim) -> Vec<f32> {
    let mut out = vec![f32::from_bits(0x7FC0_1234); (d.height * d.width) as usize];
    ok(decode_tile(bytes, format, d, &mut out));
    out
}

/// Index of tile element (r, c) in face order, for a tile of height h and width w.
fn face_index(r: usize, c: usize, h: usize, w: usize) -> usize {
    let fh = h.min(16);
    let fw = w.min(16);
    let faces_per_row = w / fw;
    let face = (r / fh) * faces_per_row + c / fw;
    face * fh * fw + (r % fh) * fw + c % fw
}

/// A 32x32 tile of zeros with the given (row, col, value) entries.
fn sparse_tile(entries: &[(usize, usize, f32)]) -> Vec<f32> {
    let mut v = vec![0.0f32; 1024];
    for &(r, c, x) in entries {
        v[r * 32 + c] = x;
    }
    v
}

fn trunc() -> Rounding {
    Rounding {
        bfp: BfpRounding::Truncate,
        ..Rounding::default()
    }
}

fn layout(format: DataFormat) -> QueueLayout {
    QueueLayout::single_tile(format)
}

/// Row-major host tensor bytes (Float32) from a function of (w, z, row, col).
fn host_f32(shape: [usize; 4], f: impl Fn(usize, usize, usize, usize) -> f32) -> Vec<u8> {
    let mut v = Vec::with_capacity(shape.iter().product());
    for w in 0..shape[0] {
        for z in 0..shape[1] {
            for r in 0..shape[2] {
                for c in 0..shape[3] {
                    v.push(f(w, z, r, c));
                }
            }
        }
    }
    f32_bytes(&v)
}

fn tilize_f32(host: &[u8], shape: [usize; 4], l: &QueueLayout) -> Vec<u8> {
    let src = HostTensor::contiguous(host, Float32, shape);
    let size = l.tilized_size(shape[0]);
    let mut dst = vec![0xEEu8; size];
    let n = ok(tilize(&src, l, Rounding::default(), &mut dst));
    assert_eq!(n, size, "tilize returns tilized_size(w)");
    dst
}

/// The constant a Float32 32x32 tile (with header) at `idx` holds; checks that it is constant and
/// that its header and padding are right.
fn f32_tile_constant(bytes: &[u8], idx: usize) -> f32 {
    let off = idx * 4128;
    assert_eq!(u32_at(bytes, off), 258, "tile {idx}: header word 0");
    assert_eq!(
        &bytes[off + 4..off + 16],
        &[0u8; 12],
        "tile {idx}: header words 1..3"
    );
    let v = f32_at(bytes, off + 16);
    for i in 0..1024 {
        assert_eq!(
            f32_at(bytes, off + 16 + 4 * i),
            v,
            "tile {idx} is not constant at datum {i}"
        );
    }
    assert_eq!(
        &bytes[off + 4112..off + 4128],
        &[0u8; 16],
        "tile {idx}: trailing padding"
    );
    v
}

fn f32_tile_constants(bytes: &[u8]) -> Vec<f32> {
    assert_eq!(bytes.len() % 4128, 0);
    (0..bytes.len() / 4128)
        .map(|i| f32_tile_constant(bytes, i))
        .collect()
}

// ------------------------------------------------------------------------------------------------
// Data format enumeration

#[test]
fn data_format_codes_match_buda_enum() {
    let codes: [(DataFormat, u32); 19] = [
        (Float32, 0),
        (Float16, 1),
        (Bfp8, 2),
        (Bfp4, 3),
        (Tf32, 4),
        (Float16B, 5),
        (Bfp8B, 6),
        (Bfp4B, 7),
        (Int32, 8),
        (UInt16, 9),
        (Lf8, 10),
        (Bfp2, 11),
        (Int8, 14),
        (Bfp2B, 15),
        (Fp8E4m3, 0x1A),
        (UInt8, 30),
        (RawUInt8, 0xF0),
        (RawUInt16, 0xF1),
        (RawUInt32, 0xF2),
    ];
    for (f, v) in codes {
        assert_eq!(f as u32, v, "{f:?}");
        assert_eq!(DataFormat::from_u32(v), Some(f), "from_u32({v})");
    }
    for v in [12u32, 13, 16, 29, 31, 0xFF, 0xF3, 0x1B, 1000, u32::MAX] {
        assert_eq!(DataFormat::from_u32(v), None, "from_u32({v}) must be None");
    }
}

#[test]
fn data_format_names_use_buda_spelling() {
    let names = [
        (Float32, "Float32"),
        (Float16, "Float16"),
        (Bfp8, "Bfp8"),
        (Bfp4, "Bfp4"),
        (Tf32, "Tf32"),
        (Float16B, "Float16_b"),
        (Bfp8B, "Bfp8_b"),
        (Bfp4B, "Bfp4_b"),
        (Int32, "Int32"),
        (UInt16, "UInt16"),
        (Lf8, "Lf8"),
        (Bfp2, "Bfp2"),
        (Int8, "Int8"),
        (Bfp2B, "Bfp2_b"),
        (Fp8E4m3, "Fp8_e4m3"),
        (UInt8, "UInt8"),
        (RawUInt8, "RawUInt8"),
        (RawUInt16, "RawUInt16"),
        (RawUInt32, "RawUInt32"),
    ];
    for (f, n) in names {
        assert_eq!(f.name(), n);
    }
}

#[test]
fn host_item_sizes() {
    for f in ALL_FORMATS {
        let expected = match f {
            Float32 | Tf32 | Int32 | RawUInt32 => Some(4),
            Float16 | Float16B | UInt16 | RawUInt16 => Some(2),
            Int8 | UInt8 | RawUInt8 => Some(1),
            Bfp8 | Bfp4 | Bfp2 | Bfp8B | Bfp4B | Bfp2B | Lf8 | Fp8E4m3 => None,
            #[allow(unreachable_patterns)]
            _ => unreachable!(),
        };
        assert_eq!(f.host_item_size(), expected, "{f:?}");
    }
}

#[test]
fn block_float_classification() {
    for f in ALL_FORMATS {
        let bfp = matches!(f, Bfp8 | Bfp4 | Bfp2 | Bfp8B | Bfp4B | Bfp2B);
        assert_eq!(f.is_block_float(), bfp, "{f:?}");
    }
}

#[test]
fn exponent_families() {
    for f in ALL_FORMATS {
        let fam = f.exponent_family();
        match f {
            Float32 | Tf32 | Float16B | Bfp8B | Bfp4B | Bfp2B => {
                assert!(matches!(fam, Some(ExponentFamily::B)), "{f:?} is family B")
            }
            Float16 | Bfp8 | Bfp4 | Bfp2 | Lf8 => {
                assert!(matches!(fam, Some(ExponentFamily::A)), "{f:?} is family A")
            }
            _ => assert!(fam.is_none(), "{f:?} has no exponent family"),
        }
    }
}

#[test]
fn host_compatible_formats_follow_get_output() {
    for f in ALL_FORMATS {
        let expected = match f {
            Bfp8B | Bfp4B | Bfp2B | Float16B => Float16B,
            Bfp8 | Bfp4 | Bfp2 | Float16 | Lf8 => Float16,
            Tf32 => Float32,
            other => other,
        };
        if f != Fp8E4m3 {
            assert_eq!(f.host_compatible(), expected, "{f:?}");
        }
    }
}

#[test]
fn tile_dims_accepted_and_rejected() {
    for (h, w) in [
        (32, 32),
        (16, 32),
        (32, 16),
        (8, 32),
        (4, 32),
        (2, 32),
        (1, 32),
    ] {
        let d = TileDim::new(h, w).unwrap_or_else(|| panic!("{h}x{w} must be accepted"));
        assert_eq!((d.height, d.width), (h, w));
    }
    for (h, w) in [
        (16, 16),
        (0, 32),
        (32, 0),
        (64, 32),
        (32, 64),
        (3, 32),
        (32, 8),
        (1, 16),
        (8, 16),
    ] {
        assert!(TileDim::new(h, w).is_none(), "{h}x{w} must be rejected");
    }
    assert_eq!((TileDim::FULL.height, TileDim::FULL.width), (32, 32));
}

// ------------------------------------------------------------------------------------------------
// Tile sizes

#[test]
fn tile_sizes_full_tile_grayskull_wormhole() {
    for arch in [Arch::Grayskull, Arch::WormholeB0] {
        for f in ALL_FORMATS {
            let (with_header, untilized) = match f {
                Float32 | Tf32 | Int32 | RawUInt32 => (4128, 4096),
                Float16 | Float16B | UInt16 | RawUInt16 => (2080, 2048),
                Bfp8 | Bfp8B => (1120, 1088),
                Bfp4 | Bfp4B => (608, 576),
                Bfp2 | Bfp2B => (352, 320),
                Int8 | UInt8 | Lf8 | Fp8E4m3 | RawUInt8 => (1056, 1024),
                #[allow(unreachable_patterns)]
                _ => unreachable!(),
            };
            assert_eq!(
                tile_size_bytes(f, arch, full(), false),
                with_header,
                "{f:?} with header"
            );
            assert_eq!(
                tile_size_bytes(f, arch, full(), true),
                untilized,
                "{f:?} untilized"
            );
        }
    }
}

#[test]
fn tile_sizes_small_tile_dims() {
    // (format, h, w, with header, untilized), GS/WH.
    let table: [(DataFormat, u32, u32, usize, usize); 18] = [
        (Float16B, 16, 32, 1056, 1024),
        (Float16B, 32, 16, 1056, 1024),
        (Float16B, 8, 32, 544, 512),
        (Float16B, 4, 32, 288, 256),
        (Float16B, 2, 32, 160, 128),
        (Float16B, 1, 32, 96, 64),
        // Bfp with h >= 16: exponent section ceil(h/16)*16*ceil(w/16) bytes.
        (Bfp8B, 16, 32, 576, 544),
        (Bfp8B, 32, 16, 576, 544),
        // Partial face: 16-byte exponent section, no trailing padding.
        (Bfp8B, 8, 32, 288, 272),
        (Bfp8B, 4, 32, 160, 144),
        (Bfp8B, 2, 32, 96, 80),
        (Bfp8B, 1, 32, 64, 48),
        (Bfp2, 16, 32, 192, 160),
        (Bfp2, 32, 16, 192, 160),
        (Bfp2, 8, 32, 96, 80),
        (Bfp2, 4, 32, 64, 48),
        (Float32, 8, 32, 1056, 1024),
        (Int8, 1, 32, 64, 32),
    ];
    let mut wrong = Vec::new();
    for (f, h, w, with_header, untilized) in table {
        for arch in [Arch::Grayskull, Arch::WormholeB0] {
            let got = tile_size_bytes(f, arch, dim(h, w), false);
            if got != with_header {
                wrong.push(format!(
                    "{f:?} {h}x{w} {arch:?}: expected {with_header}, found {got}"
                ));
            }
            let got = tile_size_bytes(f, arch, dim(h, w), true);
            if got != untilized {
                wrong.push(format!(
                    "{f:?} {h}x{w} {arch:?} untilized: expected {untilized}, found {got}"
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn tile_sizes_tiny_partial_face_bfp_have_no_padding() {
    // h < 16 block floats: header 16 + exponent section 16 + data, with no trailing padding,
    // even when the data is shorter than 16 bytes (size formula data + 32).
    let table: [(DataFormat, u32, u32, usize, usize); 3] = [
        (Bfp2, 2, 32, 48, 32),
        (Bfp2, 1, 32, 40, 24),
        (Bfp4B, 1, 32, 48, 32),
    ];
    let mut wrong = Vec::new();
    for (f, h, w, with_header, untilized) in table {
        for arch in [Arch::Grayskull, Arch::WormholeB0] {
            let got = tile_size_bytes(f, arch, dim(h, w), false);
            if got != with_header {
                wrong.push(format!(
                    "{f:?} {h}x{w} {arch:?}: expected {with_header}, found {got}"
                ));
            }
            let got = tile_size_bytes(f, arch, dim(h, w), true);
            if got != untilized {
                wrong.push(format!(
                    "{f:?} {h}x{w} {arch:?} untilized: expected {untilized}, found {got}"
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn tile_sizes_blackhole_round_to_64() {
    let table: [(DataFormat, u32, u32, usize); 12] = [
        (Float32, 32, 32, 4160),
        (Float16B, 32, 32, 2112),
        (Bfp8B, 32, 32, 1152),
        (Bfp4, 32, 32, 640),
        (Bfp2B, 32, 32, 384),
        (Int8, 32, 32, 1088),
        (Float16B, 16, 32, 1088),
        (Bfp8B, 8, 32, 320),
        (Bfp8B, 1, 32, 64),
        (Bfp2, 1, 32, 64),
        (Float16B, 1, 32, 128),
        (Bfp8B, 32, 16, 576),
    ];
    for (f, h, w, size) in table {
        assert_eq!(
            tile_size_bytes(f, Arch::Blackhole, dim(h, w), false),
            size,
            "{f:?} {h}x{w}"
        );
        assert_eq!(size % 64, 0);
    }
}

#[test]
fn tile_sizes_blackhole_untilized_not_rounded() {
    assert_eq!(
        tile_size_bytes(Float32, Arch::Blackhole, full(), true),
        4096
    );
    assert_eq!(tile_size_bytes(Bfp8B, Arch::Blackhole, full(), true), 1088);
    assert_eq!(tile_size_bytes(Bfp2, Arch::Blackhole, dim(1, 32), true), 24);
}

#[test]
fn blackhole_tile_padding_is_zero_and_header_counts_rounded_size() {
    let mut v = vec![0.0f32; 1024];
    v[1023] = 1.0;
    let size = tile_size_bytes(Float16B, Arch::Blackhole, full(), false);
    assert_eq!(size, 2112);
    let mut out = vec![0xA5u8; size];
    assert_eq!(
        ok(encode_tile(
            &v,
            Float16B,
            Arch::Blackhole,
            full(),
            Rounding::default(),
            &mut out
        )),
        2112
    );
    assert_eq!(u32_at(&out, 0), 2112 / 16);
    assert_eq!(&out[4..16], &[0u8; 12]);
    assert_eq!(u16_at(&out, 16 + 2 * 1023), 0x3F80);
    assert!(
        out[2064..2112].iter().all(|&b| b == 0),
        "Blackhole trailing padding is zero"
    );
}

// ------------------------------------------------------------------------------------------------
// Float16_b

#[test]
fn float16_b_scalar_truncation() {
    let t = Float16bRounding::Truncate;
    assert_eq!(el::f32_to_float16_b(1.0, t), 0x3F80);
    assert_eq!(el::f32_to_float16_b(-2.5, t), 0xC020);
    assert_eq!(el::f32_to_float16_b(0.0, t), 0x0000);
    assert_eq!(el::f32_to_float16_b(-0.0, t), 0x8000);
    assert_eq!(el::f32_to_float16_b(f32::from_bits(0x3F80_8008), t), 0x3F80); // 1.00390625 + 2^-20
    assert_eq!(el::f32_to_float16_b(f32::from_bits(0x3FFF_FFFF), t), 0x3FFF);
    assert_eq!(el::f32_to_float16_b(f32::from_bits(0xBF81_8000), t), 0xBF81);
    assert_eq!(el::f32_to_float16_b(f32::INFINITY, t), 0x7F80);
    assert_eq!(el::f32_to_float16_b(f32::NEG_INFINITY, t), 0xFF80);
    // A NaN whose payload sits only in the low 16 bits becomes inf.
    assert_eq!(el::f32_to_float16_b(f32::from_bits(0x7F80_0001), t), 0x7F80);
    assert_eq!(el::f32_to_float16_b(f32::MAX, t), 0x7F7F);
}

#[test]
fn float16_b_scalar_nearest_even() {
    let n = Float16bRounding::NearestEven;
    assert_eq!(el::f32_to_float16_b(1.0, n), 0x3F80);
    assert_eq!(el::f32_to_float16_b(f32::from_bits(0x3F80_8000), n), 0x3F80); // tie, even stays
    assert_eq!(el::f32_to_float16_b(f32::from_bits(0x3F81_8000), n), 0x3F82); // tie, odd goes up
    assert_eq!(el::f32_to_float16_b(f32::from_bits(0xBF81_8000), n), 0xBF82);
    assert_eq!(el::f32_to_float16_b(f32::from_bits(0x3F80_8008), n), 0x3F81);
    assert_eq!(el::f32_to_float16_b(f32::from_bits(0x3F80_7FFF), n), 0x3F80);
    assert_eq!(el::f32_to_float16_b(f32::from_bits(0x3FFF_FFFF), n), 0x4000);
    assert_eq!(el::f32_to_float16_b(-0.0, n), 0x8000);
    assert_eq!(el::f32_to_float16_b(f32::MAX, n), 0x7F80);
}

#[test]
fn float16_b_scalar_decode_shifts_up() {
    assert_eq!(el::float16_b_to_f32(0x3F80), 1.0);
    assert_eq!(el::float16_b_to_f32(0xC020), -2.5);
    assert_eq!(el::float16_b_to_f32(0x8000).to_bits(), 0x8000_0000);
    assert_eq!(el::float16_b_to_f32(0x7F80), f32::INFINITY);
    assert_eq!(el::float16_b_to_f32(0x0001).to_bits(), 0x0001_0000);
}

#[test]
fn float16_b_tile_bytes_in_four_faces() {
    let v = sparse_tile(&[
        (0, 0, 1.0),                           // F0
        (3, 5, -2.5),                          // F0
        (2, 17, f32::from_bits(0x3F80_8008)),  // F1: 1.00390625 + 2^-20
        (20, 4, -0.0),                         // F2
        (31, 31, f32::from_bits(0x3FFF_FFFF)), // F3
    ]);
    let b = encode(&v, Float16B, full());
    assert_eq!(b.len(), 2080);
    assert_eq!(u32_at(&b, 0), 130);
    assert_eq!(&b[4..16], &[0u8; 12]);
    // offset = 16 + 2 * (face * 256 + r * 16 + c) with in-face (r, c).
    assert_eq!(&b[16..18], &[0x80, 0x3F]);
    assert_eq!(&b[122..124], &[0x20, 0xC0]);
    assert_eq!(&b[594..596], &[0x80, 0x3F]);
    assert_eq!(&b[1176..1178], &[0x00, 0x80]);
    assert_eq!(&b[2062..2064], &[0xFF, 0x3F]);
    let special = [16usize, 122, 594, 1176, 2062];
    for off in (16..2064).step_by(2) {
        if !special.contains(&off) {
            assert_eq!(u16_at(&b, off), 0, "datum at byte {off} should be +0");
        }
    }
    assert_eq!(&b[2064..2080], &[0u8; 16], "trailing padding");

    // Decoding gives the truncated values back in row-major order.
    let d = decode(&b, Float16B, full());
    assert_eq!(d[0], 1.0);
    assert_eq!(d[3 * 32 + 5], -2.5);
    assert_eq!(d[2 * 32 + 17], 1.0);
    assert_eq!(d[20 * 32 + 4].to_bits(), 0x8000_0000);
    assert_eq!(d[31 * 32 + 31].to_bits(), 0x3FFF_0000);
    assert_eq!(d[1].to_bits(), 0);
}

#[test]
fn float16_b_tile_nearest_even_option() {
    let v = sparse_tile(&[
        (31, 31, f32::from_bits(0x3FFF_FFFF)),
        (0, 1, f32::from_bits(0x3F81_8000)),
    ]);
    let t = encode(&v, Float16B, full());
    let rne = Rounding {
        float16_b: Float16bRounding::NearestEven,
        ..Rounding::default()
    };
    let n = encode_r(&v, Float16B, full(), rne);
    assert_eq!(&t[2062..2064], &[0xFF, 0x3F]);
    assert_eq!(&n[2062..2064], &[0x00, 0x40]);
    assert_eq!(&t[18..20], &[0x81, 0x3F]);
    assert_eq!(&n[18..20], &[0x82, 0x3F]);
}

#[test]
fn rounding_default_is_reference() {
    let r = Rounding::default();
    assert!(matches!(r.bfp, BfpRounding::HalfUp));
    assert!(matches!(r.float16_b, Float16bRounding::Truncate));
}

// ------------------------------------------------------------------------------------------------
// Float16 (fp16_a)

#[test]
fn fp16a_encoding() {
    assert_eq!(el::f32_to_fp16a(1.0), 0x3C00);
    assert_eq!(el::f32_to_fp16a(-2.5), 0xC100);
    assert_eq!(el::f32_to_fp16a(0.0), 0x0000);
    assert_eq!(el::f32_to_fp16a(-0.0), 0x8000);
    assert_eq!(
        el::f32_to_fp16a(65536.0),
        0x7C00,
        "exponent 31 (e = 16) is a valid value"
    );
    assert_eq!(el::f32_to_fp16a(131008.0), 0x7FFF);
    assert_eq!(
        el::f32_to_fp16a(131071.0),
        0x7FFF,
        "truncates into the top binade"
    );
    assert_eq!(el::f32_to_fp16a(131072.0), 0x7FFF, "e = 17 saturates");
    assert_eq!(el::f32_to_fp16a(1e6), 0x7FFF);
    assert_eq!(el::f32_to_fp16a(-1e6), 0xFFFF);
    assert_eq!(el::f32_to_fp16a(f32::INFINITY), 0x7FFF);
    assert_eq!(el::f32_to_fp16a(f32::NEG_INFINITY), 0xFFFF);
    assert_eq!(el::f32_to_fp16a(f32::NAN), 0x7FFF);
    assert_eq!(el::f32_to_fp16a(2f32.powi(-14)), 0x0400);
    assert_eq!(el::f32_to_fp16a(2f32.powi(-15)), 0x0000);
    assert_eq!(el::f32_to_fp16a(1.5 * 2f32.powi(-15)), 0x0000);
    assert_eq!(el::f32_to_fp16a(-(2f32.powi(-16))), 0x8000, "sign kept");
    assert_eq!(
        el::f32_to_fp16a(f32::from_bits(1)),
        0x0000,
        "fp32 subnormal"
    );
    assert_eq!(el::f32_to_fp16a(f32::from_bits(0x8000_0001)), 0x8000);
    assert_eq!(el::f32_to_fp16a(65504.0), 0x7BFF);
}

#[test]
fn fp16a_truncates_mantissa() {
    // 1 + 2^-10 + 2^-11 + 2^-12: any rounding would give 0x3C02.
    assert_eq!(
        el::f32_to_fp16a(1.0 + 2f32.powi(-10) + 2f32.powi(-11) + 2f32.powi(-12)),
        0x3C01
    );
    assert_eq!(el::f32_to_fp16a(f32::from_bits(0x3FFF_FFFF)), 0x3FFF);
    assert_eq!(el::f32_to_fp16a(-f32::from_bits(0x3FFF_FFFF)), 0xBFFF);
    // 0.1 = 0x3DCCCCCD: e = -4 -> field 11; top 10 mantissa bits of 0x4CCCCD = 0x266.
    assert_eq!(el::f32_to_fp16a(0.1), (11 << 10) | 0x266);
}

#[test]
fn fp16a_decoding() {
    assert_eq!(el::fp16a_to_f32(0x3C00), 1.0);
    assert_eq!(el::fp16a_to_f32(0xC100), -2.5);
    assert_eq!(el::fp16a_to_f32(0x7C00), 65536.0);
    assert_eq!(el::fp16a_to_f32(0x7FFF), 131008.0);
    assert_eq!(el::fp16a_to_f32(0xFFFF), -131008.0);
    assert_eq!(el::fp16a_to_f32(0x0400), 2f32.powi(-14));
    assert_eq!(el::fp16a_to_f32(0x0000).to_bits(), 0);
    assert_eq!(el::fp16a_to_f32(0x8000).to_bits(), 0x8000_0000);
    // Exponent field 0 keeps the mantissa bits with a zero fp32 exponent.
    assert_eq!(el::fp16a_to_f32(0x0001).to_bits(), 1 << 13);
    assert_eq!(
        el::fp16a_to_f32(0x8200).to_bits(),
        0x8000_0000 | (0x200 << 13)
    );
}

#[test]
fn ieee_half_host_decoding() {
    assert_eq!(el::ieee_half_to_f32(0x3C00), 1.0);
    assert_eq!(el::ieee_half_to_f32(0xC100), -2.5);
    assert_eq!(el::ieee_half_to_f32(0x7BFF), 65504.0);
    assert_eq!(el::ieee_half_to_f32(0x7C00), f32::INFINITY);
    assert_eq!(el::ieee_half_to_f32(0xFC00), f32::NEG_INFINITY);
    assert!(el::ieee_half_to_f32(0x7E00).is_nan());
    assert_eq!(el::ieee_half_to_f32(0x0001), 2f32.powi(-24));
    assert_eq!(el::ieee_half_to_f32(0x03FF), 1023.0 * 2f32.powi(-24));
    assert_eq!(el::ieee_half_to_f32(0x0400), 2f32.powi(-14));
    assert_eq!(el::ieee_half_to_f32(0x8000).to_bits(), 0x8000_0000);
}

#[test]
fn fp16a_tile_bytes() {
    let v = sparse_tile(&[
        (0, 0, 1.0),
        (0, 16, 65536.0),
        (16, 0, 1e6),
        (31, 31, -2.5),
        (1, 1, 2f32.powi(-15)),
    ]);
    let b = encode(&v, Float16, full());
    assert_eq!(b.len(), 2080);
    assert_eq!(u32_at(&b, 0), 130);
    assert_eq!(u16_at(&b, 16), 0x3C00);
    assert_eq!(u16_at(&b, 16 + 2 * 256), 0x7C00);
    assert_eq!(u16_at(&b, 16 + 2 * 512), 0x7FFF);
    assert_eq!(u16_at(&b, 16 + 2 * 1023), 0xC100);
    assert_eq!(u16_at(&b, 16 + 2 * 17), 0x0000);
    let d = decode(&b, Float16, full());
    assert_eq!(d[0], 1.0);
    assert_eq!(d[16], 65536.0);
    assert_eq!(d[16 * 32], 131008.0);
    assert_eq!(d[1023], -2.5);
}

// ------------------------------------------------------------------------------------------------
// Tf32, Lf8, integers, raw

#[test]
fn tf32_masks_low_13_bits() {
    assert_eq!(el::f32_to_tf32(f32::from_bits(0x3F80_1FFF)), 0x3F80_0000);
    assert_eq!(el::f32_to_tf32(f32::from_bits(0xC0AB_CDEF)), 0xC0AB_C000);
    assert_eq!(el::f32_to_tf32(f32::from_bits(0x3F80_2000)), 0x3F80_2000);
    assert_eq!(el::f32_to_tf32(f32::INFINITY), 0x7F80_0000);
    assert_eq!(el::f32_to_tf32(-0.0), 0x8000_0000);
    let v = sparse_tile(&[
        (0, 0, f32::from_bits(0xC0AB_CDEF)),
        (16, 16, f32::from_bits(0x3F80_1FFF)),
    ]);
    let b = encode(&v, Tf32, full());
    assert_eq!(b.len(), 4128);
    assert_eq!(u32_at(&b, 0), 258);
    assert_eq!(u32_at(&b, 16), 0xC0AB_C000);
    assert_eq!(u32_at(&b, 16 + 4 * 768), 0x3F80_0000);
    let d = decode(&b, Tf32, full());
    assert_eq!(d[0].to_bits(), 0xC0AB_C000);
    assert_eq!(d[16 * 32 + 16], 1.0);
}

#[test]
fn lf8_encoding_and_decoding() {
    assert_eq!(el::f32_to_lf8(1.0), 0x3C);
    assert_eq!(el::f32_to_lf8(-2.5), 0xC1);
    assert_eq!(el::f32_to_lf8(1.9), 0x3F);
    assert_eq!(el::f32_to_lf8(1.7), 0x3E, "mantissa truncated, not rounded");
    assert_eq!(el::f32_to_lf8(65536.0), 0x7C);
    assert_eq!(el::f32_to_lf8(1e6), 0x7F);
    assert_eq!(el::f32_to_lf8(f32::NEG_INFINITY), 0xFF);
    assert_eq!(el::f32_to_lf8(2f32.powi(-15)), 0x00);
    assert_eq!(el::f32_to_lf8(-(2f32.powi(-20))), 0x80);
    assert_eq!(el::f32_to_lf8(2f32.powi(-14)), 0x04);
    assert_eq!(el::f32_to_lf8(0.0), 0x00);
    assert_eq!(el::lf8_to_f32(0x3C), 1.0);
    assert_eq!(el::lf8_to_f32(0xC1), -2.5);
    assert_eq!(el::lf8_to_f32(0x3E), 1.5);
    assert_eq!(el::lf8_to_f32(0x7F), 114688.0);
    assert_eq!(el::lf8_to_f32(0x04), 2f32.powi(-14));
    assert_eq!(el::lf8_to_f32(0x00).to_bits(), 0);
    assert_eq!(el::lf8_to_f32(0x80).to_bits(), 0x8000_0000);
    assert_eq!(
        el::lf8_to_f32(0x02).to_bits(),
        2 << 21,
        "exponent 0 keeps the mantissa bits"
    );
}

#[test]
fn lf8_tile_bytes() {
    let v = sparse_tile(&[(0, 0, 1.0), (0, 1, -2.5), (31, 31, 1e6)]);
    let b = encode(&v, Lf8, full());
    assert_eq!(b.len(), 1056);
    assert_eq!(u32_at(&b, 0), 66);
    assert_eq!(&b[16..18], &[0x3C, 0xC1]);
    assert_eq!(b[16 + 1023], 0x7F);
    assert_eq!(&b[1040..1056], &[0u8; 16]);
}

#[test]
fn int8_quantize_round_half_away_and_clamp() {
    assert_eq!(el::quantize_int8(2.5), 3);
    assert_eq!(el::quantize_int8(-2.5), -3);
    assert_eq!(el::quantize_int8(2.49), 2);
    assert_eq!(el::quantize_int8(0.5), 1);
    assert_eq!(el::quantize_int8(-0.4), 0);
    assert_eq!(el::quantize_int8(126.5), 127);
    assert_eq!(el::quantize_int8(127.5), 127);
    assert_eq!(el::quantize_int8(200.0), 127);
    assert_eq!(el::quantize_int8(-127.5), -127, "-128 cannot occur");
    assert_eq!(el::quantize_int8(-1000.0), -127);
}

#[test]
fn int8_tile_bytes_are_sign_magnitude() {
    let v = sparse_tile(&[
        (0, 0, -3.0),
        (0, 1, 2.5),
        (0, 2, -2.5),
        (0, 3, 200.0),
        (0, 4, -200.0),
        (0, 5, -0.4),
        (0, 6, 127.0),
        (0, 7, 1.5),
        (31, 31, -1.0),
    ]);
    let b = encode(&v, Int8, full());
    assert_eq!(b.len(), 1056);
    assert_eq!(u32_at(&b, 0), 66);
    assert_eq!(
        &b[16..24],
        &[0x83, 0x03, 0x83, 0x7F, 0xFF, 0x00, 0x7F, 0x02]
    );
    assert_eq!(b[16 + 1023], 0x81);
    let d = decode(&b, Int8, full());
    assert_eq!(&d[0..8], &[-3.0, 3.0, -3.0, 127.0, -127.0, 0.0, 127.0, 2.0]);
    assert_eq!(d[1023], -1.0);
}

#[test]
fn uint8_and_uint16_quantize_and_clamp() {
    assert_eq!(el::quantize_uint8(2.5), 3);
    assert_eq!(el::quantize_uint8(0.4), 0);
    assert_eq!(el::quantize_uint8(-5.0), 0);
    assert_eq!(el::quantize_uint8(254.5), 255);
    assert_eq!(el::quantize_uint8(300.0), 255);
    assert_eq!(el::quantize_uint16(0.5), 1);
    assert_eq!(el::quantize_uint16(1.5), 2);
    assert_eq!(el::quantize_uint16(-1.0), 0);
    assert_eq!(el::quantize_uint16(65534.5), 65535);
    assert_eq!(el::quantize_uint16(70000.0), 65535);
    let v = sparse_tile(&[(0, 0, 200.0), (0, 1, 300.0), (0, 2, -1.0)]);
    let b = encode(&v, UInt8, full());
    assert_eq!(b.len(), 1056);
    assert_eq!(&b[16..19], &[200, 255, 0]);
    let v = sparse_tile(&[(0, 0, 513.0), (0, 1, 70000.0), (31, 31, 2.5)]);
    let b = encode(&v, UInt16, full());
    assert_eq!(b.len(), 2080);
    assert_eq!(&b[16..20], &[0x01, 0x02, 0xFF, 0xFF]);
    assert_eq!(u16_at(&b, 16 + 2 * 1023), 3);
}

#[test]
fn int32_asymmetric_rounding_and_sign_magnitude_bytes() {
    assert_eq!(el::quantize_int32(2.7), 2);
    assert_eq!(el::quantize_int32(2.5), 2);
    assert_eq!(el::quantize_int32(0.9), 0);
    assert_eq!(el::quantize_int32(-2.5), -3);
    assert_eq!(el::quantize_int32(-2.4), -2);
    assert_eq!(el::quantize_int32(-2.7), -3);
    assert_eq!(el::quantize_int32(-0.5), -1);
    assert_eq!(el::quantize_int32(16777216.0), 16777216);
    assert_eq!(el::quantize_int32(-16777216.0), -16777216);
    let v = sparse_tile(&[
        (0, 0, -3.0),
        (0, 1, 2.7),
        (0, 2, -2.5),
        (31, 31, -16777216.0),
    ]);
    let b = encode(&v, Int32, full());
    assert_eq!(b.len(), 4128);
    assert_eq!(u32_at(&b, 0), 258);
    assert_eq!(&b[16..20], &[0x03, 0x00, 0x00, 0x80]);
    assert_eq!(&b[20..24], &[0x02, 0x00, 0x00, 0x00]);
    assert_eq!(&b[24..28], &[0x03, 0x00, 0x00, 0x80]);
    assert_eq!(u32_at(&b, 16 + 4 * 1023), 0x8100_0000);
    let d = decode(&b, Int32, full());
    assert_eq!(&d[0..3], &[-3.0, 2.0, -3.0]);
    assert_eq!(d[1023], -16777216.0);
}

#[test]
fn raw_formats_keep_bit_patterns() {
    let v = sparse_tile(&[
        (0, 0, f32::from_bits(0xDEAD_BEEF)),
        (31, 31, f32::from_bits(0x0000_0001)),
    ]);
    let b = encode(&v, RawUInt32, full());
    assert_eq!(b.len(), 4128);
    assert_eq!(&b[16..20], &[0xEF, 0xBE, 0xAD, 0xDE]);
    assert_eq!(u32_at(&b, 16 + 4 * 1023), 1);
    assert_eq!(decode(&b, RawUInt32, full())[0].to_bits(), 0xDEAD_BEEF);

    let v = sparse_tile(&[
        (0, 0, f32::from_bits(0x0000_BEEF)),
        (0, 1, f32::from_bits(0x1234_5678)),
    ]);
    let b = encode(&v, RawUInt16, full());
    assert_eq!(b.len(), 2080);
    assert_eq!(&b[16..20], &[0xEF, 0xBE, 0x78, 0x56], "masked to 16 bits");
    assert_eq!(decode(&b, RawUInt16, full())[0].to_bits(), 0xBEEF);

    let v = sparse_tile(&[
        (0, 0, f32::from_bits(0xAB)),
        (0, 1, f32::from_bits(0x1234_5678)),
    ]);
    let b = encode(&v, RawUInt8, full());
    assert_eq!(b.len(), 1056);
    assert_eq!(&b[16..18], &[0xAB, 0x78], "masked to 8 bits");
    assert_eq!(decode(&b, RawUInt8, full())[0].to_bits(), 0xAB);
}

// ------------------------------------------------------------------------------------------------
// Face ordering

#[test]
fn face_order_full_tile() {
    let v: Vec<f32> = (0..1024).map(|i| i as f32).collect(); // value = r*32 + c
    let b = encode(&v, Float32, full());
    // Datum index in face order -> value r*32+c.
    let expect = [
        (0usize, 0.0f32),
        (1, 1.0),
        (15, 15.0),
        (16, 32.0),
        (255, 495.0),
        (256, 16.0),
        (257, 17.0),
        (272, 48.0),
        (512, 512.0),
        (768, 528.0),
        (1023, 1023.0),
    ];
    for (i, val) in expect {
        assert_eq!(f32_at(&b, 16 + 4 * i), val, "datum {i}");
    }
    for r in 0..32 {
        for c in 0..32 {
            assert_eq!(
                f32_at(&b, 16 + 4 * face_index(r, c, 32, 32)),
                (r * 32 + c) as f32
            );
        }
    }
    assert_eq!(&b[4112..4128], &[0u8; 16]);
    assert_eq!(decode(&b, Float32, full()), v);
}

#[test]
fn face_order_32x16_is_top_then_bottom() {
    let d = dim(32, 16);
    let v: Vec<f32> = (0..512).map(|i| i as f32).collect(); // value = r*16 + c
    let b = encode(&v, Float32, d);
    assert_eq!(b.len(), 2048 + 32);
    assert_eq!(u32_at(&b, 0), 130);
    // F0 = rows 0..15, F1 = rows 16..31: face order equals row-major order here.
    for i in 0..512 {
        assert_eq!(f32_at(&b, 16 + 4 * i), i as f32);
    }
    assert_eq!(decode(&b, Float32, d), v);
}

#[test]
fn face_order_16x32_is_left_then_right() {
    let d = dim(16, 32);
    let v: Vec<f32> = (0..512).map(|i| i as f32).collect(); // value = r*32 + c
    let b = encode(&v, Float32, d);
    assert_eq!(b.len(), 2080);
    assert_eq!(f32_at(&b, 16 + 4 * 15), 15.0);
    assert_eq!(f32_at(&b, 16 + 4 * 16), 32.0);
    assert_eq!(f32_at(&b, 16 + 4 * 256), 16.0);
    assert_eq!(f32_at(&b, 16 + 4 * 511), 511.0);
    for r in 0..16 {
        for c in 0..32 {
            assert_eq!(
                f32_at(&b, 16 + 4 * face_index(r, c, 16, 32)),
                (r * 32 + c) as f32
            );
        }
    }
    assert_eq!(decode(&b, Float32, d), v);
}

#[test]
fn face_order_8x32_and_1x32() {
    let d = dim(8, 32);
    let v: Vec<f32> = (0..256).map(|i| i as f32).collect();
    let b = encode(&v, Float32, d);
    assert_eq!(b.len(), 1056);
    assert_eq!(u32_at(&b, 0), 66);
    assert_eq!(f32_at(&b, 16 + 4 * 16), 32.0);
    assert_eq!(f32_at(&b, 16 + 4 * 128), 16.0);
    assert_eq!(f32_at(&b, 16 + 4 * 255), 255.0);
    assert_eq!(&b[1040..1056], &[0u8; 16]);
    assert_eq!(decode(&b, Float32, d), v);

    let d = dim(1, 32);
    let v: Vec<f32> = (0..32).map(|i| i as f32).collect();
    let b = encode(&v, Float32, d);
    assert_eq!(b.len(), 160);
    for i in 0..32 {
        assert_eq!(f32_at(&b, 16 + 4 * i), i as f32);
    }
    assert_eq!(decode(&b, Float32, d), v);
}

// ------------------------------------------------------------------------------------------------
// Block floats

fn block_a() -> [f32; 16] {
    [
        f32::from_bits(0x3FFF_FFFF), // 1.99999988: rounds to 128, clamped to 127
        1.0,
        -1.0,
        0.5,
        -0.75,
        2f32.powi(-8),    // shifted out
        -(2f32.powi(-8)), // shifted out, sign dropped
        2f32.powi(-7),    // exactly half an lsb: rounds up to 1
        -3.0 * 2f32.powi(-7),
        0.0,
        -0.0,
        f32::from_bits(0x0000_0001), // subnormal, shifted out
        1.25,
        1.0 + 2f32.powi(-7), // half an lsb above 1.0
        1.5,
        -1.984375,
    ]
}

#[test]
fn bfp8_b_block_half_up() {
    let mut m = [0u8; 16];
    let e = bfp::encode_block(&block_a(), Bfp8B, BfpRounding::HalfUp, &mut m);
    assert_eq!(e, 127);
    assert_eq!(
        m,
        [
            0x7F, 0x40, 0xC0, 0x20, 0xB0, 0x00, 0x00, 0x01, 0x82, 0x00, 0x00, 0x00, 0x50, 0x41,
            0x60, 0xFF
        ]
    );
}

#[test]
fn bfp8_b_block_truncate() {
    let mut m = [0u8; 16];
    let e = bfp::encode_block(&block_a(), Bfp8B, BfpRounding::Truncate, &mut m);
    assert_eq!(e, 127);
    assert_eq!(
        m,
        [
            0x7F, 0x40, 0xC0, 0x20, 0xB0, 0x00, 0x00, 0x00, 0x81, 0x00, 0x00, 0x00, 0x50, 0x40,
            0x60, 0xFF
        ]
    );
}

#[test]
fn bfp8_b_subnormal_inputs_force_hidden_bit() {
    let mut vals = [0.0f32; 16];
    vals[0] = f32::from_bits(0x0040_0000); // 2^-127
    vals[1] = f32::from_bits(0x8000_0001);
    let mut m = [0u8; 16];
    let e = bfp::encode_block(&vals, Bfp8B, BfpRounding::HalfUp, &mut m);
    assert_eq!(e, 0, "denormals contribute exponent 0");
    assert_eq!(m[0], 0x60, "M = 2^23 | 0x400000 -> 96");
    assert_eq!(m[1], 0xC0, "M = 2^23 | 1 -> 64, negative");
    assert!(m[2..].iter().all(|&x| x == 0));
}

#[test]
fn bfp8_b_decode_datum() {
    assert_eq!(bfp::decode_datum(127, 0x7F, Bfp8B), 1.984375);
    assert_eq!(bfp::decode_datum(127, 0x40, Bfp8B), 1.0);
    assert_eq!(bfp::decode_datum(127, 0xB0, Bfp8B), -0.75);
    assert_eq!(bfp::decode_datum(127, 0x01, Bfp8B), 2f32.powi(-6));
    assert_eq!(bfp::decode_datum(130, 0x41, Bfp8B), 65.0 / 64.0 * 8.0);
    assert_eq!(bfp::decode_datum(127, 0x00, Bfp8B).to_bits(), 0);
    assert_eq!(
        bfp::decode_datum(127, 0x80, Bfp8B).to_bits(),
        0,
        "zero magnitude gives +0"
    );
    assert_eq!(bfp::decode_datum(255, 0x40, Bfp8B), f32::INFINITY);
    assert_eq!(bfp::decode_datum(255, 0xC0, Bfp8B), f32::NEG_INFINITY);
}

#[test]
fn bfp8_b_decode_datum_subnormal_result() {
    // 96/64 * 2^(0-127) = 0.75 * 2^-126, an fp32 subnormal.
    assert_eq!(bfp::decode_datum(0, 0x60, Bfp8B).to_bits(), 0x0060_0000);
}

#[test]
fn bfp8_b_inf_dominates_block() {
    let mut vals = [0.0f32; 16];
    vals[0] = 1.0;
    vals[1] = f32::INFINITY;
    vals[2] = -2.0;
    vals[3] = f32::NEG_INFINITY;
    let mut m = [0u8; 16];
    let e = bfp::encode_block(&vals, Bfp8B, BfpRounding::HalfUp, &mut m);
    assert_eq!(e, 255);
    assert_eq!(&m[0..4], &[0x00, 0x40, 0x00, 0xC0]);
    let mut nan = [0.0f32; 16];
    nan[5] = f32::NAN;
    nan[6] = 1e30;
    let e = bfp::encode_block(&nan, Bfp8B, BfpRounding::HalfUp, &mut m);
    assert_eq!(e, 255);
    assert_eq!(m[5], 0x60, "NaN 0x7FC00000: M = 0xC00000 -> 96");
    assert_eq!(m[6], 0x00);

    let mut tile = vec![0.0f32; 1024];
    tile[..16].copy_from_slice(&vals);
    let b = encode(&tile, Bfp8B, full());
    assert_eq!(b[16], 255);
    let d = decode(&b, Bfp8B, full());
    assert_eq!(d[1], f32::INFINITY);
    assert_eq!(d[3], f32::NEG_INFINITY);
    assert_eq!(d[0].to_bits(), 0);
    assert_eq!(d[2].to_bits(), 0);
}

#[test]
fn bfp8_b_full_tile_layout() {
    // Block k = face*16 + row-in-face; element j of the block = 2^(k-40) * (64+j)/64, so every
    // block k has shared exponent 87+k and mantissa codes 64+j.
    let mut v = vec![0.0f32; 1024];
    for r in 0..32 {
        for c in 0..32 {
            let k = ((r / 16) * 2 + c / 16) * 16 + r % 16;
            let j = c % 16;
            v[r * 32 + c] = 2f32.powi(k as i32 - 40) * (64 + j) as f32 / 64.0;
        }
    }
    v[5 * 32 + 20] = -v[5 * 32 + 20]; // block 21, j = 4
    let b = encode(&v, Bfp8B, full());
    assert_eq!(b.len(), 1120);
    assert_eq!(u32_at(&b, 0), 70);
    assert_eq!(&b[4..16], &[0u8; 12]);
    for k in 0..64 {
        assert_eq!(b[16 + k] as usize, 87 + k, "exponent byte of block {k}");
    }
    // Hand-picked positions.
    assert_eq!(b[16], 87); // (0, 0): block 0
    assert_eq!(b[32], 103); // (0, 16): F1 row 0 = block 16
    assert_eq!(b[48], 119); // (16, 0): F2 row 0 = block 32
    assert_eq!(b[79], 150); // (31, 31): F3 row 15 = block 63
    assert_eq!(b[80], 64);
    assert_eq!(b[80 + 256], 64);
    assert_eq!(b[80 + 512], 64);
    assert_eq!(b[80 + 1023], 79);
    assert_eq!(b[420], 0xC4);
    for k in 0..64 {
        for j in 0..16 {
            let off = 80 + 16 * k + j;
            if off != 420 {
                assert_eq!(b[off] as usize, 64 + j, "block {k} datum {j}");
            }
        }
    }
    assert_eq!(&b[1104..1120], &[0u8; 16], "trailing padding");
    assert_eq!(decode(&b, Bfp8B, full()), v, "all values are representable");
}

#[test]
fn bfp8_b_zero_blocks_have_zero_exponent() {
    let v = sparse_tile(&[(0, 0, 1.0)]);
    let b = encode(&v, Bfp8B, full());
    assert_eq!(b[16], 127);
    assert!(b[17..80].iter().all(|&x| x == 0));
    assert_eq!(b[80], 0x40);
    assert!(b[81..1120].iter().all(|&x| x == 0));
}

#[test]
fn bfp8_b_tile_truncate_option() {
    let mut v = vec![0.0f32; 1024];
    v[..16].copy_from_slice(&block_a());
    let h = encode(&v, Bfp8B, full());
    let t = encode_r(&v, Bfp8B, full(), trunc());
    assert_eq!(h[16], 127);
    assert_eq!(t[16], 127);
    assert_eq!(
        &h[80..96],
        &[
            0x7F, 0x40, 0xC0, 0x20, 0xB0, 0x00, 0x00, 0x01, 0x82, 0x00, 0x00, 0x00, 0x50, 0x41,
            0x60, 0xFF
        ]
    );
    assert_eq!(
        &t[80..96],
        &[
            0x7F, 0x40, 0xC0, 0x20, 0xB0, 0x00, 0x00, 0x00, 0x81, 0x00, 0x00, 0x00, 0x50, 0x40,
            0x60, 0xFF
        ]
    );
}

#[test]
fn bfp8_a_small_values_become_2_pow_minus_15() {
    let mut vals = [0.0f32; 16];
    vals[0] = 2f32.powi(-14); // e5 = 1
    vals[1] = 2f32.powi(-20); // e5 < 0: clamped to 0 with M = 2^23
    vals[2] = -3.0 * 2f32.powi(-20); // mantissa dropped too
    vals[3] = 2f32.powi(-15); // e5 = 0
    vals[4] = 1.5 * 2f32.powi(-15); // e5 = 0, mantissa kept
    vals[6] = 1.5 * 2f32.powi(-14);
    vals[7] = f32::from_bits(1); // fp32 subnormal
    let mut m = [0u8; 16];
    let e = bfp::encode_block(&vals, Bfp8, BfpRounding::HalfUp, &mut m);
    assert_eq!(e, 1);
    assert_eq!(
        m,
        [0x40, 0x20, 0xA0, 0x20, 0x30, 0x00, 0x60, 0x20, 0, 0, 0, 0, 0, 0, 0, 0]
    );
    assert_eq!(bfp::decode_datum(1, 0x20, Bfp8), 2f32.powi(-15));
    assert_eq!(bfp::decode_datum(1, 0xA0, Bfp8), -(2f32.powi(-15)));
    assert_eq!(bfp::decode_datum(1, 0x40, Bfp8), 2f32.powi(-14));
}

#[test]
fn bfp8_a_large_values_saturate_exponent_31() {
    let mut vals = [0.0f32; 16];
    vals[0] = 65536.0; // e5 = 31
    vals[1] = 131072.0; // e5 = 32 -> 31 with an all-ones mantissa -> 127
    vals[2] = -1e10;
    vals[3] = 32768.0;
    vals[4] = 1.0; // shifted out
    vals[5] = -66560.0; // -(2^16 + 2^10)
    let mut m = [0u8; 16];
    let e = bfp::encode_block(&vals, Bfp8, BfpRounding::HalfUp, &mut m);
    assert_eq!(e, 31);
    assert_eq!(&m[0..6], &[0x40, 0x7F, 0xFF, 0x20, 0x00, 0xC1]);
    assert!(m[6..].iter().all(|&x| x == 0));
    assert_eq!(bfp::decode_datum(31, 0x7F, Bfp8), 130048.0);
    assert_eq!(bfp::decode_datum(31, 0x40, Bfp8), 65536.0);
    assert_eq!(bfp::decode_datum(15, 0x40, Bfp8), 1.0);
}

#[test]
fn bfp4_b_block_and_nibble_packing() {
    let vals: [f32; 16] = [
        1.0,
        -1.0,
        0.5,
        1.75,
        f32::from_bits(0x3FFF_FFFF),
        -0.25,
        0.125,
        0.0,
        -0.0625,
        1.25,
        -1.5,
        1.125,
        0.0,
        0.0,
        0.0,
        0.0,
    ];
    let mut m = [0u8; 16];
    assert_eq!(
        bfp::encode_block(&vals, Bfp4B, BfpRounding::HalfUp, &mut m),
        127
    );
    assert_eq!(m, [4, 0xC, 2, 7, 7, 9, 1, 0, 0, 5, 0xE, 5, 0, 0, 0, 0]);
    assert_eq!(
        bfp::encode_block(&vals, Bfp4B, BfpRounding::Truncate, &mut m),
        127
    );
    assert_eq!(m, [4, 0xC, 2, 7, 7, 9, 0, 0, 0, 5, 0xE, 4, 0, 0, 0, 0]);

    let mut tile = vec![0.0f32; 1024];
    tile[..16].copy_from_slice(&vals);
    for c in 16..32 {
        tile[c] = 2.0; // block 16 (F1 row 0): exponent 128, codes 4
    }
    let b = encode(&tile, Bfp4B, full());
    assert_eq!(b.len(), 608);
    assert_eq!(u32_at(&b, 0), 38);
    assert_eq!(b[16], 127);
    assert_eq!(b[32], 128);
    assert_eq!(
        &b[80..88],
        &[0xC4, 0x72, 0x97, 0x01, 0x50, 0x5E, 0x00, 0x00]
    );
    assert_eq!(&b[208..216], &[0x44; 8]);
    for (i, &x) in b.iter().enumerate() {
        if !(i <= 16 || i == 32 || (80..88).contains(&i) || (208..216).contains(&i)) {
            assert_eq!(x, 0, "byte {i}");
        }
    }
    let d = decode(&b, Bfp4B, full());
    assert_eq!(
        &d[0..12],
        &[1.0, -1.0, 0.5, 1.75, 1.75, -0.25, 0.25, 0.0, 0.0, 1.25, -1.5, 1.25]
    );
    assert_eq!(d[8].to_bits(), 0, "sign dropped");
    assert_eq!(d[16], 2.0);
    assert_eq!(bfp::decode_datum(128, 0x5, Bfp4B), 2.5);
    assert_eq!(bfp::decode_datum(16, 0x5, Bfp4), 2.5);
}

#[test]
fn bfp2_b_block_and_2bit_packing() {
    let vals: [f32; 16] = [
        1.0,
        -1.0,
        0.5,
        0.25,
        -0.25,
        -0.5,
        f32::from_bits(0x3FFF_FFFF),
        0.0,
        -1.5,
        0.0,
        0.0,
        1.0,
        0.0,
        0.0,
        0.0,
        0.0,
    ];
    let mut m = [0u8; 16];
    assert_eq!(
        bfp::encode_block(&vals, Bfp2B, BfpRounding::HalfUp, &mut m),
        127
    );
    assert_eq!(m, [1, 3, 1, 0, 0, 3, 1, 0, 3, 0, 0, 1, 0, 0, 0, 0]);
    assert_eq!(
        bfp::encode_block(&vals, Bfp2B, BfpRounding::Truncate, &mut m),
        127
    );
    assert_eq!(m, [1, 3, 0, 0, 0, 0, 1, 0, 3, 0, 0, 1, 0, 0, 0, 0]);

    let mut tile = vec![0.0f32; 1024];
    tile[..16].copy_from_slice(&vals);
    let b = encode(&tile, Bfp2B, full());
    assert_eq!(b.len(), 352);
    assert_eq!(u32_at(&b, 0), 22);
    assert_eq!(b[16], 127);
    assert_eq!(&b[80..84], &[0x1D, 0x1C, 0x43, 0x00]);
    assert!(b[84..352].iter().all(|&x| x == 0));
    assert!(b[17..80].iter().all(|&x| x == 0));
    let d = decode(&b, Bfp2B, full());
    assert_eq!(
        &d[0..12],
        &[1.0, -1.0, 1.0, 0.0, 0.0, -1.0, 1.0, 0.0, -1.0, 0.0, 0.0, 1.0]
    );
    assert_eq!(
        bfp::decode_datum(127, 2, Bfp2B).to_bits(),
        0,
        "zero magnitude gives +0"
    );
    assert_eq!(bfp::decode_datum(15, 1, Bfp2), 1.0);
    assert_eq!(bfp::decode_datum(17, 3, Bfp2), -4.0);
}

#[test]
fn bfp8_b_partial_face_8x32_layout() {
    // 8x32: faces 8x16 (F0 left, F1 right); block k = (c/16)*8 + r; 16-byte exponent section,
    // data at 32, no trailing padding.
    let d = dim(8, 32);
    let mut v = vec![0.0f32; 256];
    for r in 0..8 {
        for c in 0..32 {
            let k = (c / 16) * 8 + r;
            v[r * 32 + c] = 2f32.powi(k as i32 - 8);
        }
    }
    let b = encode(&v, Bfp8B, d);
    assert_eq!(b.len(), 288);
    assert_eq!(u32_at(&b, 0), 18);
    for k in 0..16 {
        assert_eq!(b[16 + k] as usize, 119 + k, "exponent byte of block {k}");
    }
    assert!(b[32..288].iter().all(|&x| x == 0x40));
    assert_eq!(decode(&b, Bfp8B, d), v);
}

#[test]
fn bfp8_b_partial_face_1x32_layout() {
    let d = dim(1, 32);
    let mut v = vec![0.0f32; 32];
    for c in 0..16 {
        v[c] = 1.0;
    }
    for c in 16..32 {
        v[c] = -4.0;
    }
    let b = encode(&v, Bfp8B, d);
    assert_eq!(b.len(), 64);
    assert_eq!(u32_at(&b, 0), 4);
    assert_eq!(b[16], 127);
    assert_eq!(b[17], 129);
    assert!(
        b[18..32].iter().all(|&x| x == 0),
        "exponent section zero padded to 16 bytes"
    );
    assert!(b[32..48].iter().all(|&x| x == 0x40));
    assert!(b[48..64].iter().all(|&x| x == 0xC0));
    assert_eq!(decode(&b, Bfp8B, d), v);
}

#[test]
fn bfp8_b_16x32_layout() {
    let d = dim(16, 32);
    let mut v = vec![0.0f32; 512];
    v[0] = 1.0; // block 0
    v[16] = 2.0; // (0, 16): F1 row 0 = block 16
    v[15 * 32 + 31] = -0.5; // (15, 31): F1 row 15 = block 31
    let b = encode(&v, Bfp8B, d);
    assert_eq!(b.len(), 576);
    assert_eq!(u32_at(&b, 0), 36);
    assert_eq!(b[16], 127);
    assert_eq!(b[16 + 16], 128);
    assert_eq!(b[16 + 31], 126);
    assert_eq!(b[48], 0x40);
    assert_eq!(b[48 + 256], 0x40);
    assert_eq!(b[48 + 511], 0xC0);
    assert_eq!(&b[560..576], &[0u8; 16]);
    assert_eq!(decode(&b, Bfp8B, d), v);
}

// ------------------------------------------------------------------------------------------------
// Queue layouts

fn tile_const_2d(tr: usize, tc: usize) -> f32 {
    (10 * tr + tc + 1) as f32
}

#[test]
fn queue_ublock_order_r_and_c_mblock_2x2() {
    let shape = [1, 1, 64, 64];
    let host = host_f32(shape, |_, _, r, c| tile_const_2d(r / 32, c / 32));
    let base = QueueLayout {
        mblock_m: 2,
        mblock_n: 2,
        ..layout(Float32)
    };
    let r = QueueLayout {
        ublock_order: UblockOrder::R,
        ..base
    };
    let c = QueueLayout {
        ublock_order: UblockOrder::C,
        ..base
    };
    assert_eq!(
        f32_tile_constants(&tilize_f32(&host, shape, &r)),
        [1.0, 2.0, 11.0, 12.0]
    );
    assert_eq!(
        f32_tile_constants(&tilize_f32(&host, shape, &c)),
        [1.0, 11.0, 2.0, 12.0]
    );
}

#[test]
fn queue_tiles_inside_ublock_are_row_major_in_both_orders() {
    let shape = [1, 1, 64, 64];
    let host = host_f32(shape, |_, _, r, c| tile_const_2d(r / 32, c / 32));
    for order in [UblockOrder::R, UblockOrder::C] {
        let l = QueueLayout {
            ublock_rt: 2,
            ublock_ct: 2,
            ublock_order: order,
            ..layout(Float32)
        };
        assert_eq!(
            f32_tile_constants(&tilize_f32(&host, shape, &l)),
            [1.0, 2.0, 11.0, 12.0]
        );
    }
}

#[test]
fn queue_mblock_2x2_of_ublock_2x1() {
    // Host tiles 4 rows x 2 cols; ublock (ur, uc) covers tile rows 2ur..2ur+1, tile col uc.
    let shape = [1, 1, 128, 64];
    let host = host_f32(shape, |_, _, r, c| tile_const_2d(r / 32, c / 32));
    let base = QueueLayout {
        mblock_m: 2,
        mblock_n: 2,
        ublock_rt: 2,
        ublock_ct: 1,
        ..layout(Float32)
    };
    let r = QueueLayout {
        ublock_order: UblockOrder::R,
        ..base
    };
    let c = QueueLayout {
        ublock_order: UblockOrder::C,
        ..base
    };
    assert_eq!(
        f32_tile_constants(&tilize_f32(&host, shape, &r)),
        [1.0, 11.0, 2.0, 12.0, 21.0, 31.0, 22.0, 32.0]
    );
    assert_eq!(
        f32_tile_constants(&tilize_f32(&host, shape, &c)),
        [1.0, 11.0, 21.0, 31.0, 2.0, 12.0, 22.0, 32.0]
    );
}

#[test]
fn queue_grid_2x1_rows_go_to_buffers() {
    let shape = [1, 1, 64, 32];
    let host = host_f32(shape, |_, _, r, c| tile_const_2d(r / 32, c / 32));
    let l = QueueLayout {
        grid_r: 2,
        ..layout(Float32)
    };
    assert_eq!(l.buffers(), 2);
    assert_eq!(
        f32_tile_constants(&tilize_f32(&host, shape, &l)),
        [1.0, 11.0]
    );
}

#[test]
fn queue_grid_1x2_cols_go_to_buffers() {
    let shape = [1, 1, 32, 64];
    let host = host_f32(shape, |_, _, r, c| tile_const_2d(r / 32, c / 32));
    let l = QueueLayout {
        grid_c: 2,
        ..layout(Float32)
    };
    assert_eq!(l.buffers(), 2);
    assert_eq!(
        f32_tile_constants(&tilize_f32(&host, shape, &l)),
        [1.0, 2.0]
    );
}

#[test]
fn queue_grid_2x1_with_mblock_2x1() {
    // Buffer 0 holds tile rows 0..1, buffer 1 tile rows 2..3.
    let shape = [1, 1, 128, 32];
    let host = host_f32(shape, |_, _, r, c| tile_const_2d(r / 32, c / 32));
    let l = QueueLayout {
        grid_r: 2,
        mblock_m: 2,
        ..layout(Float32)
    };
    assert_eq!(
        f32_tile_constants(&tilize_f32(&host, shape, &l)),
        [1.0, 11.0, 21.0, 31.0]
    );
}

#[test]
fn queue_grid_2x2_two_entries_buffer_major() {
    let shape = [2, 1, 64, 64];
    let host = host_f32(shape, |w, _, r, c| {
        (100 * w) as f32 + tile_const_2d(r / 32, c / 32)
    });
    let l = QueueLayout {
        grid_r: 2,
        grid_c: 2,
        ..layout(Float32)
    };
    assert_eq!(l.tilized_size(2), 4 * 2 * 4128);
    assert_eq!(
        f32_tile_constants(&tilize_f32(&host, shape, &l)),
        [1.0, 101.0, 2.0, 102.0, 11.0, 111.0, 12.0, 112.0]
    );
}

#[test]
fn queue_t2_slices_in_entry() {
    let shape = [1, 2, 32, 64];
    let host = host_f32(shape, |_, z, r, c| {
        (100 * z) as f32 + tile_const_2d(r / 32, c / 32)
    });
    let l = QueueLayout {
        t: 2,
        mblock_n: 2,
        ..layout(Float32)
    };
    assert_eq!(l.entry_size(), 4 * 4128);
    assert_eq!(
        f32_tile_constants(&tilize_f32(&host, shape, &l)),
        [1.0, 2.0, 101.0, 102.0]
    );
}

#[test]
fn queue_two_entries_per_buffer_with_t2() {
    let shape = [2, 2, 32, 32];
    let host = host_f32(shape, |w, z, _, _| (100 * w + 10 * z + 1) as f32);
    let l = QueueLayout {
        t: 2,
        ..layout(Float32)
    };
    assert_eq!(
        f32_tile_constants(&tilize_f32(&host, shape, &l)),
        [1.0, 11.0, 101.0, 111.0]
    );
}

#[test]
fn queue_hstack_vstack_row_major() {
    // t = 4, h = 2, v = 2: host [1, 1, 64, 64]; zd = vi*h + hi.
    let shape = [1, 1, 64, 64];
    let host = host_f32(shape, |_, _, r, c| tile_const_2d(r / 32, c / 32));
    let l = QueueLayout {
        t: 4,
        hstack: 2,
        vstack: 2,
        stack_row_major: true,
        ..layout(Float32)
    };
    assert_eq!(l.host_shape(1), shape);
    assert_eq!(
        f32_tile_constants(&tilize_f32(&host, shape, &l)),
        [1.0, 2.0, 11.0, 12.0]
    );
}

#[test]
fn queue_hstack_vstack_column_major() {
    // zd = hi*v + vi.
    let shape = [1, 1, 64, 64];
    let host = host_f32(shape, |_, _, r, c| tile_const_2d(r / 32, c / 32));
    let l = QueueLayout {
        t: 4,
        hstack: 2,
        vstack: 2,
        stack_row_major: false,
        ..layout(Float32)
    };
    assert_eq!(l.host_shape(1), shape);
    assert_eq!(
        f32_tile_constants(&tilize_f32(&host, shape, &l)),
        [1.0, 11.0, 2.0, 12.0]
    );
}

#[test]
fn queue_hstack_only_keeps_outer_z() {
    // t = 4, h = 2: host [1, 2, 32, 64]; zd = zh*2 + hi.
    let shape = [1, 2, 32, 64];
    let host = host_f32(shape, |_, z, r, c| {
        (100 * z) as f32 + tile_const_2d(r / 32, c / 32)
    });
    let l = QueueLayout {
        t: 4,
        hstack: 2,
        ..layout(Float32)
    };
    assert_eq!(l.host_shape(1), shape);
    assert_eq!(
        f32_tile_constants(&tilize_f32(&host, shape, &l)),
        [1.0, 2.0, 101.0, 102.0]
    );
}

#[test]
fn queue_hstack_with_two_tile_rows() {
    // t = 2, h = 2, mblock 2x1: host [1, 1, 64, 64]; slice hi holds tile column hi.
    let shape = [1, 1, 64, 64];
    let host = host_f32(shape, |_, _, r, c| tile_const_2d(r / 32, c / 32));
    let l = QueueLayout {
        t: 2,
        hstack: 2,
        mblock_m: 2,
        ..layout(Float32)
    };
    assert_eq!(l.host_shape(1), shape);
    assert_eq!(
        f32_tile_constants(&tilize_f32(&host, shape, &l)),
        [1.0, 11.0, 2.0, 12.0]
    );
}

#[test]
fn queue_vstack_with_two_tile_cols() {
    let shape = [1, 1, 64, 64];
    let host = host_f32(shape, |_, _, r, c| tile_const_2d(r / 32, c / 32));
    let l = QueueLayout {
        t: 2,
        vstack: 2,
        mblock_n: 2,
        ..layout(Float32)
    };
    assert_eq!(l.host_shape(1), shape);
    assert_eq!(
        f32_tile_constants(&tilize_f32(&host, shape, &l)),
        [1.0, 2.0, 11.0, 12.0]
    );
}

#[test]
fn queue_sizes_and_host_shape() {
    let l = layout(Float32);
    assert_eq!(l.entry_size(), 4128);
    assert_eq!(l.io_size(1), 4128 + 32);
    assert_eq!(l.buffers(), 1);
    assert_eq!(l.host_shape(1), [1, 1, 32, 32]);
    assert_eq!(l.tilized_size(1), 4128);
    assert_eq!(l.tilized_size(5), 5 * 4128);

    let q = QueueLayout {
        grid_r: 2,
        grid_c: 3,
        mblock_m: 2,
        mblock_n: 1,
        ublock_rt: 1,
        ublock_ct: 2,
        t: 2,
        ublock_order: UblockOrder::C,
        ..layout(Bfp8B)
    };
    assert_eq!(q.entry_size(), 2 * 2 * 1 * 1 * 2 * 1120);
    assert_eq!(q.entry_size(), 8960);
    assert_eq!(q.io_size(4), 4 * 8960 + 32);
    assert_eq!(q.buffers(), 6);
    assert_eq!(q.host_shape(3), [3, 2, 128, 192]);
    assert_eq!(q.tilized_size(3), 6 * 3 * 8960);

    let bh = QueueLayout {
        arch: Arch::Blackhole,
        ..q
    };
    assert_eq!(bh.entry_size(), 8 * 1152);
    assert_eq!(bh.io_size(4), 4 * 8 * 1152 + 64);

    let stacked = QueueLayout {
        t: 8,
        hstack: 2,
        vstack: 2,
        ..q
    };
    assert_eq!(stacked.host_shape(1), [1, 2, 256, 384]);

    let small = QueueLayout {
        tile: dim(16, 32),
        ..q
    };
    assert_eq!(small.entry_size(), 8 * 576);
    assert_eq!(small.host_shape(1), [1, 2, 64, 192]);
    let small = QueueLayout {
        tile: dim(1, 32),
        ..q
    };
    assert_eq!(small.entry_size(), 8 * 64);
    assert_eq!(small.host_shape(2), [2, 2, 4, 192]);
}

#[test]
fn queue_flat_layout_megarows() {
    // One 64x64 Float32 slice, mblock 2x2, order c: flat tile j = values [1024j, 1024j+1024) of
    // the row-major slice, tiles (tr, tc) visited (0,0), (1,0), (0,1), (1,1) = j 0, 2, 1, 3.
    let shape = [1, 1, 64, 64];
    let vals: Vec<f32> = (0..4096).map(|i| i as f32).collect();
    let host = f32_bytes(&vals);
    let l = QueueLayout {
        mblock_m: 2,
        mblock_n: 2,
        ublock_order: UblockOrder::C,
        layout: IoLayout::Flat,
        ..layout(Float32)
    };
    let size = l.tilized_size(1);
    assert_eq!(size, 4 * 4096);
    let mut dst = vec![0xEEu8; size];
    let src = HostTensor::contiguous(&host, Float32, shape);
    assert_eq!(ok(tilize(&src, &l, Rounding::default(), &mut dst)), size);
    for (pos, j) in [0usize, 2, 1, 3].into_iter().enumerate() {
        assert_eq!(
            &dst[pos * 4096..(pos + 1) * 4096],
            &host[j * 4096..(j + 1) * 4096],
            "flat tile {pos}"
        );
    }
    let mut back = vec![0u8; host.len()];
    let mut out = HostTensorMut::contiguous(&mut back, Float32, shape);
    ok(untilize(&dst, &l, &mut out));
    assert_eq!(back, host);
}

#[test]
fn queue_flat_layout_float16_b() {
    let shape = [1, 1, 32, 32];
    let vals: Vec<f32> = (0..1024)
        .map(|i| f32::from_bits(0x3F80_0000 + (i as u32) * 0x1_0001))
        .collect();
    let host = f32_bytes(&vals);
    let l = QueueLayout {
        layout: IoLayout::Flat,
        ..layout(Float16B)
    };
    assert_eq!(l.tilized_size(1), 2048);
    let mut dst = vec![0xEEu8; 2048];
    let src = HostTensor::contiguous(&host, Float32, shape);
    assert_eq!(ok(tilize(&src, &l, Rounding::default(), &mut dst)), 2048);
    for i in 0..1024 {
        assert_eq!(
            u16_at(&dst, 2 * i),
            0x3F80 + i as u16,
            "value {i}: truncated, row-major"
        );
    }
}

#[test]
fn queue_tilize_float16_b_full_tile_bytes() {
    // Tilize output of a single-tile queue equals the hand-laid tile.
    let shape = [1, 1, 32, 32];
    let host = host_f32(shape, |_, _, r, c| {
        if (r, c) == (20, 4) {
            -2.5
        } else if (r, c) == (2, 17) {
            1.0
        } else {
            0.0
        }
    });
    let l = layout(Float16B);
    let mut dst = vec![0xEEu8; 2080];
    let src = HostTensor::contiguous(&host, Float32, shape);
    assert_eq!(ok(tilize(&src, &l, Rounding::default(), &mut dst)), 2080);
    assert_eq!(u32_at(&dst, 0), 130);
    assert_eq!(&dst[1176..1178], &[0x20, 0xC0]);
    assert_eq!(&dst[594..596], &[0x80, 0x3F]);
    assert_eq!(dst.iter().filter(|&&b| b != 0).count(), 5);
}

// ------------------------------------------------------------------------------------------------
// Host formats at push

#[test]
fn push_host_float16_is_ieee_half() {
    let halves = [
        0x3C00u16, 0x0001, 0x7C00, 0xFC00, 0x7BFF, 0x8000, 0x03FF, 0xC100,
    ];
    let mut h = vec![0u16; 1024];
    h[..8].copy_from_slice(&halves);
    let host = u16_bytes(&h);
    let shape = [1, 1, 32, 32];
    let src = HostTensor::contiguous(&host, Float16, shape);

    let mut dst = vec![0u8; 4128];
    ok(tilize(
        &src,
        &layout(Float32),
        Rounding::default(),
        &mut dst,
    ));
    let expect = [
        0x3F80_0000u32,
        0x3380_0000,
        0x7F80_0000,
        0xFF80_0000,
        0x477F_E000,
        0x8000_0000,
        0x387F_C000,
        0xC020_0000,
    ];
    for (i, e) in expect.iter().enumerate() {
        assert_eq!(u32_at(&dst, 16 + 4 * i), *e, "half 0x{:04X}", halves[i]);
    }

    // Into a Float16 (fp16_a) queue: inf saturates, values below 2^-14 flush (sign kept).
    let mut dst = vec![0u8; 2080];
    ok(tilize(
        &src,
        &layout(Float16),
        Rounding::default(),
        &mut dst,
    ));
    let expect = [
        0x3C00u16, 0x0000, 0x7FFF, 0xFFFF, 0x7BFF, 0x8000, 0x0000, 0xC100,
    ];
    for (i, e) in expect.iter().enumerate() {
        assert_eq!(u16_at(&dst, 16 + 2 * i), *e, "half 0x{:04X}", halves[i]);
    }
}

#[test]
fn push_host_float16_b_shifts_up() {
    let mut h = vec![0u16; 1024];
    h[0] = 0x3F80;
    h[1] = 0xC020;
    h[1023] = 0x0001;
    let host = u16_bytes(&h);
    let src = HostTensor::contiguous(&host, Float16B, [1, 1, 32, 32]);
    let mut dst = vec![0u8; 4128];
    ok(tilize(
        &src,
        &layout(Float32),
        Rounding::default(),
        &mut dst,
    ));
    assert_eq!(u32_at(&dst, 16), 0x3F80_0000);
    assert_eq!(u32_at(&dst, 20), 0xC020_0000);
    assert_eq!(u32_at(&dst, 16 + 4 * 1023), 0x0001_0000);
    let mut dst = vec![0u8; 2080];
    ok(tilize(
        &src,
        &layout(Float16B),
        Rounding::default(),
        &mut dst,
    ));
    assert_eq!(&dst[16..20], &[0x80, 0x3F, 0x20, 0xC0]);
}

#[test]
fn push_host_integers_convert_to_value() {
    let shape = [1, 1, 32, 32];
    // Int8 (two's complement on the host) into Int8 (sign-magnitude on the device).
    let mut h = vec![0u8; 1024];
    h[..4].copy_from_slice(&[0xFD, 0x80, 0x7F, 0x05]); // -3, -128, 127, 5
    let src = HostTensor::contiguous(&h, Int8, shape);
    let mut dst = vec![0u8; 1056];
    ok(tilize(&src, &layout(Int8), Rounding::default(), &mut dst));
    assert_eq!(
        &dst[16..20],
        &[0x83, 0xFF, 0x7F, 0x05],
        "-128 clamps to -127"
    );
    let mut dst = vec![0u8; 4128];
    ok(tilize(
        &src,
        &layout(Float32),
        Rounding::default(),
        &mut dst,
    ));
    assert_eq!(f32_at(&dst, 16), -3.0);
    assert_eq!(f32_at(&dst, 20), -128.0);

    // Int32 host into Int32 queue.
    let mut v = vec![0i32; 1024];
    v[0] = -5;
    v[1] = 16777216;
    let host: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    let src = HostTensor::contiguous(&host, Int32, shape);
    let mut dst = vec![0u8; 4128];
    ok(tilize(&src, &layout(Int32), Rounding::default(), &mut dst));
    assert_eq!(u32_at(&dst, 16), 0x8000_0005);
    assert_eq!(u32_at(&dst, 20), 0x0100_0000);

    // UInt16 host into Float32 queue; UInt8 host into UInt8 queue.
    let mut v = vec![0u16; 1024];
    v[0] = 65535;
    let src_bytes = u16_bytes(&v);
    let src = HostTensor::contiguous(&src_bytes, UInt16, shape);
    ok(tilize(
        &src,
        &layout(Float32),
        Rounding::default(),
        &mut dst,
    ));
    assert_eq!(f32_at(&dst, 16), 65535.0);
    let mut h = vec![0u8; 1024];
    h[0] = 200;
    let src = HostTensor::contiguous(&h, UInt8, shape);
    let mut dst = vec![0u8; 1056];
    ok(tilize(&src, &layout(UInt8), Rounding::default(), &mut dst));
    assert_eq!(dst[16], 200);
}

#[test]
fn push_host_raw_is_bit_cast() {
    let shape = [1, 1, 32, 32];
    let mut v = vec![0u32; 1024];
    v[0] = 0xDEAD_BEEF;
    v[1023] = 0x7F80_0001;
    let host: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    let src = HostTensor::contiguous(&host, RawUInt32, shape);
    let mut dst = vec![0u8; 4128];
    ok(tilize(
        &src,
        &layout(RawUInt32),
        Rounding::default(),
        &mut dst,
    ));
    assert_eq!(u32_at(&dst, 16), 0xDEAD_BEEF);
    assert_eq!(u32_at(&dst, 16 + 4 * 1023), 0x7F80_0001);

    let mut v = vec![0u16; 1024];
    v[0] = 0xBEEF;
    let host = u16_bytes(&v);
    let src = HostTensor::contiguous(&host, RawUInt16, shape);
    let mut dst = vec![0u8; 2080];
    ok(tilize(
        &src,
        &layout(RawUInt16),
        Rounding::default(),
        &mut dst,
    ));
    assert_eq!(&dst[16..18], &[0xEF, 0xBE]);
}

// ------------------------------------------------------------------------------------------------
// Untilize conversions (get_output)

fn untilize_to(
    src: &[u8],
    l: &QueueLayout,
    format: DataFormat,
    shape: [usize; 4],
    item: usize,
) -> Vec<u8> {
    let mut out = vec![0xEEu8; shape.iter().product::<usize>() * item];
    let mut t = HostTensorMut::contiguous(&mut out, format, shape);
    ok(untilize(src, l, &mut t));
    out
}

#[test]
fn untilize_float32_is_exact() {
    let shape = [1, 1, 32, 32];
    let vals: Vec<f32> = (0..1024u32)
        .map(|i| match i {
            0 => -0.0,
            1 => f32::from_bits(1),
            2 => f32::INFINITY,
            3 => f32::from_bits(0x3F80_0001),
            _ => f32::from_bits(0x4000_0000 ^ (i * 7919)),
        })
        .collect();
    let host = f32_bytes(&vals);
    let l = layout(Float32);
    let dev = tilize_f32(&host, shape, &l);
    assert_eq!(untilize_to(&dev, &l, Float32, shape, 4), host);
}

#[test]
fn untilize_bfp8_b_to_float16_b_is_top_16_bits() {
    let shape = [1, 1, 32, 32];
    let mut vals = vec![0.0f32; 1024];
    vals[0] = 1.0;
    vals[1] = 0.5;
    vals[2] = f32::from_bits(0x3FFF_FFFF); // -> 127/64
    vals[3] = -0.75;
    vals[1023] = 3.0;
    let host = f32_bytes(&vals);
    let l = layout(Bfp8B);
    let mut dev = vec![0u8; 1120];
    ok(tilize(
        &HostTensor::contiguous(&host, Float32, shape),
        &l,
        Rounding::default(),
        &mut dev,
    ));
    let out = untilize_to(&dev, &l, Float16B, shape, 2);
    assert_eq!(
        &out[0..8],
        &[0x80, 0x3F, 0x00, 0x3F, 0xFE, 0x3F, 0x40, 0xBF]
    );
    assert_eq!(u16_at(&out, 2 * 1023), 0x4040);
    assert_eq!(u16_at(&out, 2 * 4), 0x0000);
    // Float32 output gives the decoded block-float values.
    let out = untilize_to(&dev, &l, Float32, shape, 4);
    assert_eq!(f32_at(&out, 8), 1.984375);
}

#[test]
fn untilize_float16_b_queue_to_float16_b() {
    let shape = [1, 1, 32, 32];
    let mut vals = vec![0.0f32; 1024];
    vals[0] = f32::from_bits(0x3FFF_FFFF);
    vals[40] = -2.5;
    let host = f32_bytes(&vals);
    let l = layout(Float16B);
    let mut dev = vec![0u8; 2080];
    ok(tilize(
        &HostTensor::contiguous(&host, Float32, shape),
        &l,
        Rounding::default(),
        &mut dev,
    ));
    let out = untilize_to(&dev, &l, Float16B, shape, 2);
    assert_eq!(u16_at(&out, 0), 0x3FFF);
    assert_eq!(u16_at(&out, 80), 0xC020);
}

#[test]
fn untilize_float16_queue_gives_fp16a_bits() {
    let shape = [1, 1, 32, 32];
    let mut vals = vec![0.0f32; 1024];
    vals[0] = 1.0;
    vals[1] = 65536.0;
    vals[2] = 1e6;
    vals[3] = -2.5;
    vals[4] = 2f32.powi(-15);
    let host = f32_bytes(&vals);
    let l = layout(Float16);
    let mut dev = vec![0u8; 2080];
    ok(tilize(
        &HostTensor::contiguous(&host, Float32, shape),
        &l,
        Rounding::default(),
        &mut dev,
    ));
    let out = untilize_to(&dev, &l, Float16, shape, 2);
    assert_eq!(u16_at(&out, 0), 0x3C00);
    assert_eq!(
        u16_at(&out, 2),
        0x7C00,
        "2^16 reads as exponent 31 in fp16_a"
    );
    assert_eq!(u16_at(&out, 4), 0x7FFF);
    assert_eq!(u16_at(&out, 6), 0xC100);
    assert_eq!(u16_at(&out, 8), 0x0000);
}

#[test]
fn untilize_int8_and_int32_queues_to_twos_complement() {
    let shape = [1, 1, 32, 32];
    let mut vals = vec![0.0f32; 1024];
    vals[0] = -3.0;
    vals[1] = 127.0;
    vals[2] = -127.0;
    vals[1023] = 5.0;
    let host = f32_bytes(&vals);
    let l = layout(Int8);
    let mut dev = vec![0u8; 1056];
    ok(tilize(
        &HostTensor::contiguous(&host, Float32, shape),
        &l,
        Rounding::default(),
        &mut dev,
    ));
    let out = untilize_to(&dev, &l, Int8, shape, 1);
    assert_eq!(&out[0..3], &[0xFD, 0x7F, 0x81]);
    assert_eq!(out[1023], 5);

    let l = layout(Int32);
    let mut dev = vec![0u8; 4128];
    ok(tilize(
        &HostTensor::contiguous(&host, Float32, shape),
        &l,
        Rounding::default(),
        &mut dev,
    ));
    let out = untilize_to(&dev, &l, Int32, shape, 4);
    assert_eq!(u32_at(&out, 0), (-3i32) as u32);
    assert_eq!(u32_at(&out, 8), (-127i32) as u32);
}

#[test]
fn get_output_host_conversion_is_half_even_and_saturating() {
    // get_output's conversion to the host format (unlike the golden Q(x)): integers round half
    // to even and saturate; Float16_b is the top 16 bits; Float16 is the fp16_a encoding.
    let int8 = |x: f32| {
        let mut b = [0u8; 1];
        el::to_host(x, Int8, &mut b);
        b[0] as i8
    };
    let probe = [2.5f32, 3.5, -2.5, -3.5, 0.5, 1000.0, -1000.0, 126.6, -127.5];
    let got: Vec<i8> = probe.iter().map(|&x| int8(x)).collect();
    assert_eq!(got, [2, 4, -2, -4, 0, 127, -128, 127, -128]);

    let uint8 = |x: f32| {
        let mut b = [0u8; 1];
        el::to_host(x, UInt8, &mut b);
        b[0]
    };
    assert_eq!(
        [uint8(2.5), uint8(1.5), uint8(255.5), uint8(-3.0)],
        [2, 2, 255, 0]
    );

    let uint16 = |x: f32| {
        let mut b = [0u8; 2];
        el::to_host(x, UInt16, &mut b);
        u16::from_le_bytes(b)
    };
    assert_eq!(
        [uint16(2.5), uint16(65534.5), uint16(70000.0), uint16(-1.0)],
        [2, 65534, 65535, 0]
    );

    let int32 = |x: f32| {
        let mut b = [0u8; 4];
        el::to_host(x, Int32, &mut b);
        i32::from_le_bytes(b)
    };
    assert_eq!(
        [int32(2.5), int32(-2.5), int32(3.5), int32(-16777216.0)],
        [2, -2, 4, -16777216]
    );
    assert_eq!(int32(3e9), i32::MIN, "overflow gives INT_MIN");
    assert_eq!(int32(-3e9), i32::MIN);

    let mut b = [0u8; 2];
    el::to_host(f32::from_bits(0x3FFF_FFFF), Float16B, &mut b);
    assert_eq!(u16::from_le_bytes(b), 0x3FFF);
    el::to_host(65536.0, Float16, &mut b);
    assert_eq!(u16::from_le_bytes(b), 0x7C00);
    el::to_host(1e6, Float16, &mut b);
    assert_eq!(u16::from_le_bytes(b), 0x7FFF);
    let mut b = [0u8; 4];
    el::to_host(-0.0, Float32, &mut b);
    assert_eq!(u32::from_le_bytes(b), 0x8000_0000);
}

#[test]
fn untilize_rejects_float32_queue_into_integer_host() {
    // The host format of a Float32 queue is Float32 only.
    let shape = [1, 1, 32, 32];
    let l = layout(Float32);
    let dev = tilize_f32(&f32_bytes(&[0.0; 1024]), shape, &l);
    let mut out = vec![0u8; 1024];
    let mut t = HostTensorMut::contiguous(&mut out, Int8, shape);
    err(untilize(&dev, &l, &mut t));
}

// ------------------------------------------------------------------------------------------------
// Strided host tensors

#[test]
fn strided_host_tensor_every_other_column() {
    // A 32x64 buffer; the view takes columns 0, 2, 4, ... as a 32x32 tensor.
    let big: Vec<f32> = (0..32 * 64).map(|i| i as f32 * 0.25 - 100.0).collect();
    let big_bytes = f32_bytes(&big);
    let compact: Vec<f32> = (0..32)
        .flat_map(|r| (0..32).map(move |c| (r, c)))
        .map(|(r, c)| big[r * 64 + 2 * c])
        .collect();
    let compact_bytes = f32_bytes(&compact);
    let shape = [1, 1, 32, 32];
    for f in [Float32, Float16B, Bfp8B, Int8] {
        let l = layout(f);
        let size = l.tilized_size(1);
        let view = HostTensor {
            data: &big_bytes,
            format: Float32,
            shape,
            strides: [32 * 64 * 4, 32 * 64 * 4, 64 * 4, 8],
        };
        let mut a = vec![0u8; size];
        let mut b = vec![1u8; size];
        ok(tilize(&view, &l, Rounding::default(), &mut a));
        ok(tilize(
            &HostTensor::contiguous(&compact_bytes, Float32, shape),
            &l,
            Rounding::default(),
            &mut b,
        ));
        assert_eq!(a, b, "{f:?}");
    }
}

#[test]
fn strided_host_tensor_transposed_view() {
    let shape = [1, 1, 32, 32];
    let stored: Vec<f32> = (0..1024).map(|i| i as f32).collect(); // stored[c*32 + r] is element (r, c)
    let stored_bytes = f32_bytes(&stored);
    let compact: Vec<f32> = (0..1024).map(|i| stored[(i % 32) * 32 + i / 32]).collect();
    let compact_bytes = f32_bytes(&compact);
    let l = layout(Float32);
    let view = HostTensor {
        data: &stored_bytes,
        format: Float32,
        shape,
        strides: [4096, 4096, 4, 128],
    };
    let mut a = vec![0u8; 4128];
    ok(tilize(&view, &l, Rounding::default(), &mut a));
    assert_eq!(a, tilize_f32(&compact_bytes, shape, &l));
}

#[test]
fn strided_untilize_writes_only_the_view() {
    let shape = [1, 1, 32, 32];
    let vals: Vec<f32> = (0..1024).map(|i| i as f32).collect();
    let l = layout(Float32);
    let dev = tilize_f32(&f32_bytes(&vals), shape, &l);
    let mut big = f32_bytes(&vec![-7.0f32; 32 * 64]);
    {
        let mut view = HostTensorMut {
            data: &mut big,
            format: Float32,
            shape,
            strides: [32 * 64 * 4, 32 * 64 * 4, 64 * 4, 8],
        };
        ok(untilize(&dev, &l, &mut view));
    }
    for r in 0..32 {
        for c in 0..64 {
            let got = f32_at(&big, 4 * (r * 64 + c));
            if c % 2 == 0 {
                assert_eq!(got, (r * 32 + c / 2) as f32);
            } else {
                assert_eq!(got, -7.0, "column {c} is outside the view");
            }
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Errors

#[test]
fn error_tilize_destination_too_small() {
    let host = f32_bytes(&[0.0; 1024]);
    let src = HostTensor::contiguous(&host, Float32, [1, 1, 32, 32]);
    let mut dst = vec![0u8; 4127];
    let msg = err(tilize(
        &src,
        &layout(Float32),
        Rounding::default(),
        &mut dst,
    ));
    assert!(msg.contains("4128") && msg.contains("4127"), "{msg}");
    assert!(!msg.contains('\n'), "one line: {msg}");
}

#[test]
fn error_tilize_shape_mismatch() {
    let host = f32_bytes(&[0.0; 2048]);
    let src = HostTensor::contiguous(&host, Float32, [1, 1, 32, 64]);
    let mut dst = vec![0u8; 8256];
    let msg = err(tilize(
        &src,
        &layout(Float32),
        Rounding::default(),
        &mut dst,
    ));
    assert!(msg.contains("64") && msg.contains("32"), "{msg}");

    let src = HostTensor::contiguous(&host, Float32, [1, 2, 32, 32]);
    let msg = err(tilize(
        &src,
        &layout(Float32),
        Rounding::default(),
        &mut dst,
    ));
    assert!(msg.contains('2') && msg.contains('1'), "{msg}");
}

#[test]
fn error_tilize_host_data_too_short() {
    let host = f32_bytes(&[0.0; 1000]);
    let src = HostTensor::contiguous(&host, Float32, [1, 1, 32, 32]);
    let mut dst = vec![0u8; 4128];
    err(tilize(
        &src,
        &layout(Float32),
        Rounding::default(),
        &mut dst,
    ));
}

#[test]
fn error_tilize_unsupported_host_format() {
    let host = vec![0u8; 4096];
    let mut dst = vec![0u8; 4128];
    for f in [Bfp8B, Bfp4, Lf8, Fp8E4m3] {
        let src = HostTensor {
            data: &host,
            format: f,
            shape: [1, 1, 32, 32],
            strides: [1024, 1024, 32, 1],
        };
        let msg = err(tilize(
            &src,
            &layout(Float32),
            Rounding::default(),
            &mut dst,
        ));
        assert!(!msg.is_empty());
    }
}

#[test]
fn error_untilize_source_too_small_or_bad_host_format() {
    let l = layout(Float16B);
    let dev = vec![0u8; 2079];
    let mut out = vec![0u8; 2048];
    let mut t = HostTensorMut::contiguous(&mut out, Float16B, [1, 1, 32, 32]);
    let msg = err(untilize(&dev, &l, &mut t));
    assert!(msg.contains("2080") && msg.contains("2079"), "{msg}");

    let dev = vec![0u8; 2080];
    let mut t = HostTensorMut::contiguous(&mut out, Float16, [1, 1, 32, 32]);
    err(untilize(&dev, &l, &mut t));

    let mut small = vec![0u8; 2047];
    let mut t = HostTensorMut::contiguous(&mut small, Float16B, [1, 1, 32, 32]);
    err(untilize(&dev, &l, &mut t));
}

#[test]
fn error_encode_decode_tile_buffer_sizes() {
    let v = vec![0.0f32; 1024];
    let mut out = vec![0u8; 1119];
    err(encode_tile(
        &v,
        Bfp8B,
        Arch::WormholeB0,
        full(),
        Rounding::default(),
        &mut out,
    ));
    let mut out = vec![0u8; 1120];
    err(encode_tile(
        &v[..1000],
        Bfp8B,
        Arch::WormholeB0,
        full(),
        Rounding::default(),
        &mut out,
    ));
    let bytes = vec![0u8; 1000];
    let mut vals = vec![0.0f32; 1024];
    err(decode_tile(&bytes, Bfp8B, full(), &mut vals));
}
