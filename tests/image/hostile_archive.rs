//! Archives cannot make the library inflate gigabytes: a metadata member (device.json, the
//! runtime config, the netlist) larger than the image config's `max_metadata_bytes`, and a
//! tensor member larger than its descriptor says, are refused from the sizes the zip central
//! directory or the tar header gives, before anything is inflated.
//!
//! The bombs are built here at run time: a deflate stream of zeros is a few blocks of matches
//! that repeat, so a 3 GiB member takes about 3 MB. Each archive is opened in a child process
//! (this test binary, on one test), which reports its peak resident memory (VmHWM); the parent
//! checks the outcome and that the peak stayed under 64 MiB.

use std::path::{Path, PathBuf};
use std::process::Command;

use miniz_oxide::deflate::core::{
    compress_to_output, create_comp_flags_from_zip_params, CompressorOxide, TDEFLFlush, TDEFLStatus,
};

use crate::support::test_name;

use ttrt::image::{Image, ImageConfig, ImageErrorKind};

const CHILD: &str = "TTRT_HOSTILE_ARCHIVE_CASE";
const ARCHIVE: &str = "TTRT_HOSTILE_ARCHIVE_PATH";
const MIB: u64 = 1 << 20;
/// What every case may use at its peak, the test binary included.
const PEAK_LIMIT_KB: u64 = 64 * 1024;

/// A raw deflate stream of `mib` MiB of zeros: the first MiB, then the second MiB's blocks
/// repeated (after the first, every MiB is the same matches into a window of zeros).
fn deflated_zeros(mib: u64) -> Vec<u8> {
    assert!(mib >= 2);
    let mut c = CompressorOxide::new(create_comp_flags_from_zip_params(9, -15, 0));
    let chunk = vec![0u8; MIB as usize];
    let mut part = |input: &[u8], flush: TDEFLFlush| {
        let mut out = Vec::new();
        let (status, _) = compress_to_output(&mut c, input, flush, |b| {
            out.extend_from_slice(b);
            true
        });
        assert!(matches!(status, TDEFLStatus::Okay | TDEFLStatus::Done));
        out
    };
    let first = part(&chunk, TDEFLFlush::Sync);
    let again = part(&chunk, TDEFLFlush::Sync);
    let end = part(&[], TDEFLFlush::Finish);
    let mut stream = first;
    for _ in 1..mib {
        stream.extend_from_slice(&again);
    }
    stream.extend_from_slice(&end);
    stream
}

/// One zip member: its name, the bytes stored in the file, the size the central directory
/// declares, CRC-32, and method (0 stored, 8 deflate).
struct Entry {
    name: String,
    data: Vec<u8>,
    size: u64,
    crc: u32,
    method: u16,
}

fn stored(name: &str, data: &[u8]) -> Entry {
    Entry {
        name: name.into(),
        data: data.to_vec(),
        size: data.len() as u64,
        crc: ttrt::image::archive::crc32(data),
        method: 0,
    }
}

/// A member of `mib` MiB of zeros, deflated. The CRC is left 0: these members must be refused
/// before anything reads them.
fn zeros(name: &str, mib: u64) -> Entry {
    Entry {
        name: name.into(),
        data: deflated_zeros(mib),
        size: mib * MIB,
        crc: 0,
        method: 8,
    }
}

/// A zip (APPNOTE 4.3.6) of `entries`; sizes of 4 GiB or more go in a zip64 extra field.
fn zip(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut offsets = Vec::new();
    for e in entries {
        offsets.push(out.len() as u64);
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        out.extend_from_slice(&45u16.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&e.method.to_le_bytes());
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&e.crc.to_le_bytes());
        out.extend_from_slice(&[0; 8]); // sizes: the central directory's count
        out.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(e.name.as_bytes());
        out.extend_from_slice(&e.data);
    }
    let cd = out.len();
    for (e, &offset) in entries.iter().zip(&offsets) {
        let big = e.size >= u32::MAX as u64;
        let mut extra = Vec::new();
        if big {
            extra.extend_from_slice(&1u16.to_le_bytes());
            extra.extend_from_slice(&8u16.to_le_bytes());
            extra.extend_from_slice(&e.size.to_le_bytes());
        }
        out.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        out.extend_from_slice(&45u16.to_le_bytes());
        out.extend_from_slice(&45u16.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&e.method.to_le_bytes());
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&e.crc.to_le_bytes());
        out.extend_from_slice(&(e.data.len() as u32).to_le_bytes());
        let size = if big { u32::MAX } else { e.size as u32 };
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
        out.extend_from_slice(&(extra.len() as u16).to_le_bytes());
        out.extend_from_slice(&[0; 6]); // comment, disk, internal attributes
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&(offset as u32).to_le_bytes());
        out.extend_from_slice(e.name.as_bytes());
        out.extend_from_slice(&extra);
    }
    let cd_size = out.len() - cd;
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(cd_size as u32).to_le_bytes());
    out.extend_from_slice(&(cd as u32).to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

const NETLIST: &str = r#"
devices:
  arch: wormhole_b0
queues:
  in0: {type: queue, input: HOST, entries: 4, grid_size: [1, 1], t: 1, mblock: [1, 1], ublock: [1, 1], df: Float32, target_device: 0, loc: dram, dram: [[1, 0x10000000]]}
  w:   {type: ram, input: HOST, entries: 1, grid_size: [1, 1], t: 1, mblock: [1, 1], ublock: [1, 1], df: Float32, target_device: 0, loc: dram, dram: [[2, 0x10000000]]}
  out: {type: queue, input: add, entries: 4, grid_size: [1, 1], t: 1, mblock: [1, 1], ublock: [1, 1], df: Float32, target_device: 0, loc: host, host: [0x0]}
graphs:
  g:
    target_device: 0
    input_count: 1
    add: {type: add, grid_loc: [0, 0], grid_size: [1, 1], inputs: [in0, w], in_df: [Float32, Float32], acc_df: Float32, out_df: Float32, intermed_df: Float32, ublock_order: r, buf_size_mb: 2, math_fidelity: HiFi3, untilize_output: false, t: 1, mblock: [1, 1], ublock: [1, 1]}
programs:
  - run:
      - staticvar: {$lptr: 0, $gptr: 0}
      - execute: {graph_name: g, queue_settings: {in0: {prologue: false, epilogue: false, zero: false, rd_ptr_local: $lptr, rd_ptr_global: $gptr}, w: {prologue: true, epilogue: false, zero: false, rd_ptr_global: 0, wr_ptr_global: 0}}}
"#;

/// device.json for `NETLIST` with parameter `w`, a [1, 1, 32, 32] Float32 tensor (4096 B).
fn device_json() -> String {
    r#"{
  "version": "1.1.0", "device_image_name": "tt0", "arch": "Wormhole_B0", "devtype": "Golden",
  "chip_ids": [0], "fp32_fallback": "Float16_b", "optimizer": null, "training": false,
  "microbatch_size": 1, "microbatch_count": 1, "grid_size": [10, 8], "harvested_rows": [],
  "compiled_graph_state": {
    "microbatch": 1, "graph_name": "g",
    "ordered_input_names": ["in0"], "ordered_output_names": ["out"],
    "ordered_target_names": [], "ordered_constant_node_names": [],
    "ordered_parameter_node_names": ["w"],
    "ordered_input_shapes": [[1, 1, 32, 32]], "ordered_output_shapes": [[1, 1, 32, 32]],
    "ordered_target_shapes": [], "ordered_output_data_formats": ["Float32"],
    "ordered_input_runtime_tensor_transforms": [{"type": "NoTransform", "original_shape": null,
      "stride_height": null, "stride_width": null}],
    "netlist_filename": "net.yaml",
    "post_const_eval_constants": {},
    "post_const_eval_parameters": {"w": {"bin": "tensors/w.bin", "itemsize": 4,
      "shape": [1, 1, 32, 32], "strides": [4096, 4096, 128, 4], "dim": 4, "format": "Float32"}}
  }
}"#
    .into()
}

fn weights() -> Vec<u8> {
    (0..1024u32)
        .flat_map(|i| (i as f32).to_le_bytes())
        .collect()
}

/// A file in this process's scratch directory, removed when dropped.
struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
        if let Some(dir) = self.0.parent() {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

fn scratch(name: &str) -> Scratch {
    // A directory per file: the tests run in parallel and each removes its own.
    let dir = std::env::temp_dir().join(format!(
        "ttrt_hostile_archive_{}_{name}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    Scratch(dir.join(name))
}

/// What the child saw: Ok, or the error's kind and text; and its peak resident memory.
struct Outcome {
    result: Result<(), (String, String)>,
    peak_kb: u64,
}

/// Opens `path` with `config` in a child process that cannot map more than 1 GiB (so the code
/// before this fix failed to allocate the bombs rather than filling the machine).
fn open_in_child(case: &str, path: &Path) -> Outcome {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            test_name(module_path!(), case).as_str(),
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, case)
        .env(ARCHIVE, path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{case}: the child failed ({:?})\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    let field = |key: &str| {
        stdout
            .lines()
            .find_map(|l| l.find(key).map(|at| &l[at + key.len()..]))
            .unwrap_or_else(|| panic!("{case}: no {key} in\n{stdout}"))
            .to_string()
    };
    let peak_kb = field("peak_kb=").parse().unwrap();
    let result = match field("result=").split_once(' ') {
        Some(("Ok", _)) => Ok(()),
        Some((kind, text)) => Err((kind.to_string(), text.to_string())),
        None => Ok(()),
    };
    Outcome { result, peak_kb }
}

/// In the child: open the archive (and create a backend from it, which reads its tensors),
/// then print the outcome and VmHWM.
/// Writes the zip of `entries` (which must take under `max_bytes`) as `file` and opens it in a
/// child running `case`.
fn open_zip_in_child(case: &str, file: &str, entries: &[Entry], max_bytes: usize) -> Outcome {
    let path = scratch(file);
    let archive = zip(entries);
    assert!(archive.len() < max_bytes, "{} bytes", archive.len());
    std::fs::write(&*path, archive).unwrap();
    open_in_child(case, &path)
}

fn child(config: &ImageConfig) {
    let path = std::env::var(ARCHIVE).unwrap();
    let limit = libc::rlimit {
        rlim_cur: 1 << 30,
        rlim_max: 1 << 30,
    };
    // SAFETY: a plain setrlimit on this process.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_AS, &limit) }, 0);
    let result = Image::open_with_config(&path, config).and_then(|image| {
        ttrt::backend::Backend::create(&image, &Default::default())
            .map(drop)
            .map_err(|e| ttrt::image::ImageError::invalid(e.message))
    });
    match result {
        Ok(()) => println!("result=Ok "),
        Err(e) => println!(
            "result={} {}",
            if e.kind == ImageErrorKind::Io {
                "Io"
            } else {
                "Invalid"
            },
            e.message()
        ),
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let hwm = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .unwrap()
        .trim()
        .trim_end_matches("kB")
        .trim()
        .to_string();
    println!("peak_kb={hwm}");
}

fn in_child() -> bool {
    std::env::var(CHILD).is_ok()
}

#[test]
fn the_deflated_zeros_stream_inflates_to_its_size() {
    let stream = deflated_zeros(3);
    let out = miniz_oxide::inflate::decompress_to_vec(&stream).unwrap();
    assert_eq!(out.len() as u64, 3 * MIB);
    assert!(out.iter().all(|&b| b == 0));
    assert!(stream.len() < 8 * 1024, "{} bytes", stream.len());
}

#[test]
fn three_gib_metadata_members_are_refused_before_inflating() {
    if in_child() {
        return child(&ImageConfig::default());
    }
    let o = open_zip_in_child(
        "three_gib_metadata_members_are_refused_before_inflating",
        "metadata_bomb.tti",
        &[
            zeros("unzipped_tti/device.json", 3072),
            zeros("unzipped_tti/net.yaml", 3072),
        ],
        10 << 20,
    );
    let (kind, text) = o.result.expect_err("a 3 GiB device.json must be refused");
    assert_eq!(kind, "Invalid");
    assert!(
        text.contains("unzipped_tti/device.json")
            && text.contains("3221225472 B")
            && text.contains("max_metadata_bytes of 268435456 B"),
        "{text}"
    );
    assert!(o.peak_kb < PEAK_LIMIT_KB, "peak {} kB", o.peak_kb);
}

#[test]
fn a_metadata_limit_set_lower_refuses_a_netlist_over_it() {
    if in_child() {
        return child(&ImageConfig {
            max_metadata_bytes: 3000,
            ..ImageConfig::default()
        });
    }
    let path = scratch("small_limit.tti");
    let mut netlist = NETLIST.to_string();
    while netlist.len() < 4096 {
        netlist.push_str("# padding\n");
    }
    std::fs::write(
        &*path,
        zip(&[
            stored("unzipped_tti/device.json", device_json().as_bytes()),
            stored("unzipped_tti/net.yaml", netlist.as_bytes()),
            stored("unzipped_tti/tensors/w.bin", &weights()),
        ]),
    )
    .unwrap();
    let o = open_in_child(
        "a_metadata_limit_set_lower_refuses_a_netlist_over_it",
        &path,
    );
    let (_, text) = o.result.expect_err("over the limit");
    assert!(
        text.contains("unzipped_tti/net.yaml")
            && text.contains(&format!("{} B", netlist.len()))
            && text.contains("max_metadata_bytes of 3000 B"),
        "{text}"
    );
}

/// A device.json padded to 255 MiB, under max_metadata_bytes, that deflates about 1000:1: a
/// 254 KB archive that took 1.35 s and 258 MB to open before the ratio limit.
#[test]
fn metadata_deflating_past_the_ratio_limit_is_refused_before_inflating() {
    if in_child() {
        return child(&ImageConfig::default());
    }
    let o = open_zip_in_child(
        "metadata_deflating_past_the_ratio_limit_is_refused_before_inflating",
        "padded_metadata.tti",
        &[
            zeros("unzipped_tti/device.json", 255),
            stored("unzipped_tti/net.yaml", NETLIST.as_bytes()),
        ],
        1 << 20,
    );
    let (kind, text) = o.result.expect_err("a 1000:1 device.json must be refused");
    assert_eq!(kind, "Invalid");
    let compressed = deflated_zeros(255).len();
    assert!(
        text.contains("member unzipped_tti/device.json inflates")
            && text.contains(&format!("{compressed} B to {} B", 255 * MIB))
            && text.contains("max_metadata_ratio 100:1"),
        "{text}"
    );
    assert!(o.peak_kb < PEAK_LIMIT_KB, "peak {} kB", o.peak_kb);
}

/// The ratio limit starts above 16 MiB, and a trusted image may raise it: the same 20 MiB
/// member then gets as far as the JSON parser (zeros are not JSON).
#[test]
fn the_ratio_limit_spares_small_metadata_and_can_be_raised() {
    let case = "the_ratio_limit_spares_small_metadata_and_can_be_raised";
    if in_child() {
        let raised = std::env::var(ARCHIVE).unwrap().ends_with("_raised.tti");
        return child(&ImageConfig {
            max_metadata_ratio: if raised { 2000 } else { 0 },
            ..ImageConfig::default()
        });
    }
    for (mib, raised, refused_for_ratio) in
        [(16, false, false), (20, false, true), (20, true, false)]
    {
        let path = scratch(&format!(
            "ratio_{mib}{}.tti",
            if raised { "_raised" } else { "" }
        ));
        std::fs::write(
            &*path,
            zip(&[
                zeros("unzipped_tti/device.json", mib),
                stored("unzipped_tti/net.yaml", NETLIST.as_bytes()),
            ]),
        )
        .unwrap();
        let o = open_in_child(case, &path);
        let (_, text) = o.result.expect_err("zeros are not a device.json");
        assert_eq!(
            text.contains("max_metadata_ratio"),
            refused_for_ratio,
            "{mib} MiB, raised {raised}: {text}"
        );
        if !refused_for_ratio {
            assert!(text.contains("device.json"), "{text}");
        }
    }
}

#[test]
fn a_4_gib_tensor_member_is_refused_from_its_declared_size() {
    if in_child() {
        return child(&ImageConfig::default());
    }
    let o = open_zip_in_child(
        "a_4_gib_tensor_member_is_refused_from_its_declared_size",
        "tensor_bomb.tti",
        &[
            stored("unzipped_tti/device.json", device_json().as_bytes()),
            stored("unzipped_tti/net.yaml", NETLIST.as_bytes()),
            zeros("unzipped_tti/tensors/w.bin", 4096),
        ],
        10 << 20,
    );
    let (kind, text) = o.result.expect_err("a 4 GiB member for a 4 KiB tensor");
    assert_eq!(kind, "Invalid");
    assert!(
        text.contains("tensors/w.bin") && text.contains("4096") && text.contains("4294967296"),
        "{text}"
    );
    assert!(o.peak_kb < PEAK_LIMIT_KB, "peak {} kB", o.peak_kb);
}

#[test]
fn a_deflated_tensor_of_its_declared_size_is_read() {
    if in_child() {
        return child(&ImageConfig::default());
    }
    let path = scratch("deflated_tensor.tti");
    let w = weights();
    let mut entry = stored("unzipped_tti/tensors/w.bin", &w);
    entry.data = miniz_oxide::deflate::compress_to_vec(&w, 6);
    entry.method = 8;
    std::fs::write(
        &*path,
        zip(&[
            stored("unzipped_tti/device.json", device_json().as_bytes()),
            stored("unzipped_tti/net.yaml", NETLIST.as_bytes()),
            entry,
        ]),
    )
    .unwrap();
    let o = open_in_child("a_deflated_tensor_of_its_declared_size_is_read", &path);
    assert!(o.result.is_ok(), "{:?}", o.result.err());
    let image = Image::open(&*path).unwrap();
    assert_eq!(&*image.tensor_bytes("w").unwrap(), &w[..]);
}

#[test]
fn the_c_api_takes_the_metadata_limit_from_ttrt_image_config() {
    use ttrt::ffi::image::*;
    use ttrt::ffi::status::ttrt_status;
    let path = scratch("c_api_limit.tti");
    std::fs::write(
        &*path,
        zip(&[
            stored("unzipped_tti/device.json", device_json().as_bytes()),
            stored("unzipped_tti/net.yaml", NETLIST.as_bytes()),
            stored("unzipped_tti/tensors/w.bin", &weights()),
        ]),
    )
    .unwrap();
    let c_path = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    let last = || {
        // SAFETY: never NULL, valid until the next failure on this thread.
        unsafe { std::ffi::CStr::from_ptr(ttrt::ffi::error::ttrt_last_error_message()) }
            .to_string_lossy()
            .into_owned()
    };
    unsafe {
        let mut cfg = std::mem::zeroed::<ttrt_image_config>();
        ttrt_image_config_default(&mut cfg);
        assert_eq!(
            cfg.struct_size as usize,
            std::mem::size_of::<ttrt_image_config>()
        );
        cfg.max_metadata_bytes = 100;
        let mut img = std::ptr::null_mut();
        assert_eq!(
            ttrt_image_open_with_config(c_path.as_ptr(), &cfg, &mut img),
            ttrt_status::InvalidImage
        );
        assert!(img.is_null());
        let text = last();
        assert!(
            text.starts_with("ttrt_image_open_with_config: ")
                && text.contains("member unzipped_tti/device.json is ")
                && text.contains("over max_metadata_bytes of 100 B"),
            "{text}"
        );
        // A config of the first version (16 bytes, before max_metadata_ratio) is read up to
        // its end: the ratio takes its default.
        let mut v1 = [0u64; 2];
        std::ptr::copy_nonoverlapping(
            (&cfg as *const ttrt_image_config).cast::<u8>(),
            v1.as_mut_ptr().cast::<u8>(),
            16,
        );
        *v1.as_mut_ptr().cast::<u32>() = 16;
        assert_eq!(
            ttrt_image_open_with_config(c_path.as_ptr(), v1.as_ptr().cast(), &mut img),
            ttrt_status::InvalidImage
        );
        assert!(
            last().contains("over max_metadata_bytes of 100 B"),
            "{}",
            last()
        );
        cfg.struct_size = 4;
        assert_eq!(
            ttrt_image_open_with_config(c_path.as_ptr(), &cfg, &mut img),
            ttrt_status::InvalidArgument
        );
        for cfg in [std::ptr::null(), {
            ttrt_image_config_default(&mut cfg);
            &cfg as *const ttrt_image_config
        }] {
            assert_eq!(
                ttrt_image_open_with_config(c_path.as_ptr(), cfg, &mut img),
                ttrt_status::Success,
                "{}",
                last()
            );
            ttrt_image_free(img);
        }
    }
}

#[test]
fn a_parameter_over_the_backend_budget_is_refused_before_it_is_read() {
    if in_child() {
        return;
    }
    let path = scratch("load_budget.tti");
    std::fs::write(
        &*path,
        zip(&[
            stored("unzipped_tti/device.json", device_json().as_bytes()),
            stored("unzipped_tti/net.yaml", NETLIST.as_bytes()),
            stored("unzipped_tti/tensors/w.bin", &weights()),
        ]),
    )
    .unwrap();
    let image = Image::open(&*path).unwrap();
    let config = |budget| ttrt::backend::BackendConfig {
        host_memory_budget: budget,
        ..Default::default()
    };
    let e = match ttrt::backend::Backend::create(&image, &config(4095)) {
        Err(e) => e,
        Ok(_) => panic!("a 4096 B parameter fits no budget of 4095 B"),
    };
    assert_eq!(e.kind, ttrt::backend::BackendErrorKind::OutOfMemory);
    assert!(
        e.message
            .contains("tensor 'w' (tensors/w.bin) needs 4096 B of host memory")
            && e.message.ends_with("over the host memory budget of 4095 B"),
        "{}",
        e.message
    );
    assert!(ttrt::backend::Backend::create(&image, &config(4096)).is_ok());
}
