//! The contiguous-Float32 fast path of tilize/untilize equals the general path bit for bit.
//! The general path is taken for the same values by viewing them with a column stride of 8
//! bytes (every other float of an interleaved buffer).

use crate::support;

use support::XorShift;
use ttrt::format::{
    tilize, untilize, Arch, BfpRounding, DataFormat, Float16bRounding, HostTensor, HostTensorMut,
    QueueLayout, Rounding, TileDim, UblockOrder,
};

/// Values that stress block floats: per 16-value run, one of several regimes.
fn nasty_values(n: usize, rng: &mut XorShift) -> Vec<f32> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let regime = rng.next() % 8;
        for _ in 0..16 {
            let r = rng.next();
            let sign = ((r >> 63) as u32) << 31;
            let mant = (r as u32) & 0x7f_ffff;
            let bits = match regime {
                0 => sign | (((r >> 40) as u32 % 254 + 1) << 23) | mant, // any normal
                1 => sign | mant,                                        // denormals only
                2 => 0,                                                  // zeros
                3 => {
                    if r % 16 == 0 {
                        0x7f80_0000 | sign // inf among normals
                    } else {
                        sign | ((100 + (r >> 40) as u32 % 40) << 23) | mant
                    }
                }
                4 => {
                    if r % 16 == 0 {
                        0x7fc0_0001 // NaN among normals
                    } else {
                        sign | ((120 + (r >> 40) as u32 % 10) << 23) | mant
                    }
                }
                5 => sign | ((1 + (r >> 40) as u32 % 30) << 23) | mant, // tiny normals (E < 24)
                6 => sign | ((240 + (r >> 40) as u32 % 15) << 23) | mant, // huge
                _ => sign | ((127 + (r >> 40) as u32 % 3) << 23) | (mant | 0x7f_0000), // rounding edges
            };
            out.push(f32::from_bits(bits));
        }
    }
    out.truncate(n);
    out
}

fn layouts(format: DataFormat) -> Vec<QueueLayout> {
    let base = QueueLayout {
        grid_r: 2,
        grid_c: 1,
        mblock_m: 1,
        mblock_n: 2,
        ublock_rt: 2,
        ublock_ct: 1,
        t: 2,
        ..QueueLayout::single_tile(format)
    };
    vec![
        base,
        QueueLayout {
            ublock_order: UblockOrder::C,
            hstack: 2,
            ..base
        },
        QueueLayout {
            tile: TileDim::new(16, 32).unwrap(),
            arch: Arch::Blackhole,
            ..base
        },
        QueueLayout {
            tile: TileDim::new(32, 16).unwrap(),
            vstack: 2,
            stack_row_major: false,
            ..base
        },
        QueueLayout {
            tile: TileDim::new(2, 32).unwrap(),
            arch: Arch::Grayskull,
            ..base
        },
    ]
}

fn bytes_of(values: &[f32]) -> Vec<u8> {
    values
        .iter()
        .flat_map(|v| v.to_bits().to_le_bytes())
        .collect()
}

/// The same values interleaved with garbage, for a view with column stride 8.
fn interleaved(values: &[f32]) -> Vec<u8> {
    values
        .iter()
        .flat_map(|v| [v.to_bits().to_le_bytes(), [0xAB; 4]])
        .flatten()
        .collect()
}

#[test]
fn fast_path_tilize_equals_general_path_for_every_rounding() {
    let mut rng = XorShift(0x1234_5678_9abc_def1);
    let roundings = [
        Rounding::default(),
        Rounding {
            bfp: BfpRounding::Truncate,
            float16_b: Float16bRounding::NearestEven,
        },
    ];
    for format in [DataFormat::Float32, DataFormat::Float16B, DataFormat::Bfp8B] {
        for layout in layouts(format) {
            let shape = layout.host_shape(2);
            let n = shape.iter().product::<usize>();
            let values = nasty_values(n, &mut rng);
            let contiguous = bytes_of(&values);
            let spread = interleaved(&values);
            let strides = [
                shape[1] * shape[2] * shape[3] * 8,
                shape[2] * shape[3] * 8,
                shape[3] * 8,
                8,
            ];
            for rounding in roundings {
                let mut fast = vec![0x55u8; layout.tilized_size(2)];
                let mut general = vec![0xAAu8; layout.tilized_size(2)];
                tilize(
                    &HostTensor::contiguous(&contiguous, DataFormat::Float32, shape),
                    &layout,
                    rounding,
                    &mut fast,
                )
                .unwrap();
                let view = HostTensor {
                    data: &spread,
                    format: DataFormat::Float32,
                    shape,
                    strides,
                };
                tilize(&view, &layout, rounding, &mut general).unwrap();
                if let Some(i) = fast.iter().zip(&general).position(|(a, b)| a != b) {
                    panic!("{format} {layout:?} {rounding:?}: first difference at byte {i}: fast {:#x}, general {:#x}", fast[i], general[i]);
                }
            }
        }
    }
}

#[test]
fn fast_path_untilize_equals_general_path() {
    let mut rng = XorShift(0xfeed_beef_0bad_cafe);
    for format in [DataFormat::Float32, DataFormat::Float16B, DataFormat::Bfp8B] {
        for layout in layouts(format) {
            let shape = layout.host_shape(2);
            let n = shape.iter().product::<usize>();
            // Device bytes: random, with the headers and exponents the format implies.
            let values = nasty_values(n, &mut rng);
            let mut device = vec![0u8; layout.tilized_size(2)];
            tilize(
                &HostTensor::contiguous(&bytes_of(&values), DataFormat::Float32, shape),
                &layout,
                Rounding::default(),
                &mut device,
            )
            .unwrap();
            // Scramble the datums too (every byte but the headers), for codes the encoder never makes.
            for b in device.iter_mut().skip(16).step_by(7) {
                *b = rng.next() as u8;
            }
            let mut fast = vec![0u8; n * 4];
            untilize(
                &device,
                &layout,
                &mut HostTensorMut::contiguous(&mut fast, DataFormat::Float32, shape),
            )
            .unwrap();
            let mut spread = vec![0u8; n * 8];
            let strides = [
                shape[1] * shape[2] * shape[3] * 8,
                shape[2] * shape[3] * 8,
                shape[3] * 8,
                8,
            ];
            untilize(
                &device,
                &layout,
                &mut HostTensorMut {
                    data: &mut spread,
                    format: DataFormat::Float32,
                    shape,
                    strides,
                },
            )
            .unwrap();
            for i in 0..n {
                let f = &fast[4 * i..4 * i + 4];
                let g = &spread[8 * i..8 * i + 4];
                assert_eq!(f, g, "{format} {layout:?}: value {i} differs");
            }
        }
    }
}
