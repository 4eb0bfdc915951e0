//! TT-Metal tensors convert as TT-Metal's host does (DESIGN.md, "Device pages"): the TILE pages
//! a float32 write produces, and the float32 values a read of given pages produces, equal
//! ttnn's byte for byte. The expectations are ttnn's own output, made by
//! tests/fixtures/ttnn/gen.py (ttnn 0.81.1) and committed, so no ttnn is needed here.

use crate::support::served;

use served::Dev;
use ttrt::format::DataFormat;
use ttrt::hal::layout::TensorLayout;
use ttrt::runtime::{DeviceConfig, HostBuffer, MemoryConfig, TensorSpec};

const FORMATS: [DataFormat; 3] = [DataFormat::Float16B, DataFormat::Bfp8B, DataFormat::Bfp4B];

/// One fixture: the input, and per format ttnn's pages and ttnn's read-back of them.
struct Case {
    name: String,
    rows: usize,
    cols: usize,
    /// The pages came from `input` (false: random pages ttnn loaded; only reads apply).
    from_values: bool,
    input: Vec<f32>,
    outputs: Vec<(Vec<u8>, Vec<f32>)>,
    /// ttnn's ROW_MAJOR bfloat16 pages of `input` (empty for random pages).
    row_major_bf16: Vec<u8>,
}

fn floats(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

fn u32_at(bytes: &[u8], at: usize) -> usize {
    u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize
}

fn cases() -> Vec<Case> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ttnn");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "bin"))
        .collect();
    names.sort();
    let cases: Vec<Case> = names
        .iter()
        .map(|path| {
            let b = std::fs::read(path).unwrap();
            assert_eq!(&b[..8], b"TTNNPG01", "{}", path.display());
            let (rows, cols, kind) = (u32_at(&b, 8), u32_at(&b, 12), u32_at(&b, 16));
            let n = rows * cols;
            let mut at = 20;
            let input = floats(&b[at..at + 4 * n]);
            at += 4 * n;
            let mut outputs = Vec::new();
            for _ in FORMATS {
                let len = u32_at(&b, at);
                at += 4;
                let pages = b[at..at + len].to_vec();
                at += len;
                outputs.push((pages, floats(&b[at..at + 4 * n])));
                at += 4 * n;
            }
            let len = u32_at(&b, at);
            let row_major_bf16 = b[at + 4..at + 4 + len].to_vec();
            at += 4 + len;
            assert_eq!(at, b.len(), "{}", path.display());
            Case {
                name: path.file_stem().unwrap().to_string_lossy().into_owned(),
                rows,
                cols,
                from_values: kind == 0,
                input,
                outputs,
                row_major_bf16,
            }
        })
        .collect();
    assert!(cases.len() >= 12, "only {} fixtures", cases.len());
    cases
}

fn spec(case: &Case, format: DataFormat) -> TensorSpec {
    TensorSpec {
        shape: [1, 1, case.rows as u32, case.cols as u32],
        format,
        layout: TensorLayout::Tile,
    }
}

fn row_major_spec(case: &Case) -> TensorSpec {
    TensorSpec {
        layout: TensorLayout::RowMajor,
        ..spec(case, DataFormat::Float16B)
    }
}

fn host_f32(data: &mut [f32], case: &Case) -> HostBuffer {
    let c = case.cols;
    HostBuffer {
        ptr: data.as_mut_ptr().cast(),
        len: data.len() * 4,
        format: DataFormat::Float32,
        shape: [1, 1, case.rows, c],
        strides: [case.rows * c * 4, case.rows * c * 4, c * 4, 4],
        tiled: false,
    }
}

fn host_pages(bytes: &mut [u8], case: &Case, format: DataFormat) -> HostBuffer {
    HostBuffer {
        ptr: bytes.as_mut_ptr(),
        len: bytes.len(),
        format,
        shape: [1, 1, case.rows, case.cols],
        strides: [0; 4],
        tiled: true,
    }
}

fn open() -> Dev {
    Dev::serve(DeviceConfig::default())
}

/// Byte differences between two page sets, as "count, first at offset: got/want".
fn byte_diff(got: &[u8], want: &[u8]) -> Option<String> {
    let bad: Vec<usize> = (0..want.len()).filter(|&i| got[i] != want[i]).collect();
    bad.first().map(|&i| {
        format!(
            "{} of {} bytes differ; first at {i}: got {:#04x}, want {:#04x}",
            bad.len(),
            want.len(),
            got[i],
            want[i]
        )
    })
}

#[test]
fn float32_writes_make_ttnns_tile_pages() {
    let d = open();
    let mut failures = Vec::new();
    let mut checked = 0;
    for case in cases().iter().filter(|c| c.from_values) {
        for (format, (want, _)) in FORMATS.iter().zip(&case.outputs) {
            let t = d
                .allocate_tensor(&spec(case, *format), &MemoryConfig::DRAM_INTERLEAVED)
                .unwrap();
            let mut input = case.input.clone();
            d.write_tensor(0, &host_f32(&mut input, case), &t, true)
                .unwrap();
            let mut got = vec![0u8; want.len()];
            // SAFETY: blocking: `got` is filled before the call returns.
            unsafe { d.read_tensor(0, &t, host_pages(&mut got, case, *format), true) }.unwrap();
            if let Some(diff) = byte_diff(&got, want) {
                failures.push(format!("{} {}: {diff}", case.name, format.name()));
            }
            checked += 1;
        }
    }
    assert!(checked >= 30, "only {checked} conversions checked");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn float32_writes_to_row_major_bfloat16_make_ttnns_pages() {
    let d = open();
    let mut failures = Vec::new();
    let mut checked = 0;
    for case in cases().iter().filter(|c| c.from_values) {
        let want = &case.row_major_bf16;
        assert_eq!(want.len(), case.rows * case.cols * 2, "{}", case.name);
        let t = d
            .allocate_tensor(&row_major_spec(case), &MemoryConfig::DRAM_INTERLEAVED)
            .unwrap();
        let mut input = case.input.clone();
        d.write_tensor(0, &host_f32(&mut input, case), &t, true)
            .unwrap();
        let mut got = vec![0u8; want.len()];
        // SAFETY: blocking.
        unsafe {
            d.read_tensor(
                0,
                &t,
                host_pages(&mut got, case, DataFormat::Float16B),
                true,
            )
        }
        .unwrap();
        if let Some(diff) = byte_diff(&got, want) {
            failures.push(format!("{} ROW_MAJOR Float16_b: {diff}", case.name));
        }
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} conversions checked");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn reads_of_ttnns_pages_give_ttnns_values() {
    let d = open();
    let mut failures = Vec::new();
    for case in cases() {
        for (format, (pages, want)) in FORMATS.iter().zip(&case.outputs) {
            let t = d
                .allocate_tensor(&spec(&case, *format), &MemoryConfig::DRAM_INTERLEAVED)
                .unwrap();
            let mut bytes = pages.clone();
            d.write_tensor(0, &host_pages(&mut bytes, &case, *format), &t, true)
                .unwrap();
            let mut got = vec![0f32; want.len()];
            // SAFETY: blocking.
            unsafe { d.read_tensor(0, &t, host_f32(&mut got, &case), true) }.unwrap();
            let bad: Vec<usize> = (0..want.len())
                .filter(|&i| got[i].to_bits() != want[i].to_bits())
                .collect();
            if let Some(&i) = bad.first() {
                failures.push(format!(
                    "{} {}: {} of {} values differ; first at {i}: got {:#010x}, want {:#010x}",
                    case.name,
                    format.name(),
                    bad.len(),
                    want.len(),
                    got[i].to_bits(),
                    want[i].to_bits()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
