//! TTI images end to end: an archive built the way PyBuda's `TTIArchive` builds it (a tar of
//! `unzipped_tti/...` with device.json in upstream's key set) opens and lists its names;
//! `ttrt pack` then `ttrt info` round-trips; broken images fail at open with the right status
//! and a message naming file, member and key; the C API over all of it.

use crate::support;

use std::ffi::{CStr, CString};
use std::path::{Path, PathBuf};
use std::process::Command;

use ttrt::ffi::image::*;
use ttrt::ffi::ttrt_status;
use ttrt::format::Arch;
use ttrt::image::archive::TarWriter;
use ttrt::image::{Image, ImageErrorKind, ImageSource};

/// A real PyBuda netlist: one BERT feed-forward block (grayskull), with one input, one output,
/// four parameters (ram queues) and two constants.
fn ff_netlist() -> PathBuf {
    support::root().join(
        "tests/corpus/netlists/verif/graph_tests/netlists/pybuda_pregenerated/feedforward/\
         grayskull/ff_1_128_128_netlist.yaml",
    )
}

const INPUT: &str = "input_0_ff_0_ff1";
const OUTPUT: &str = "ff.output_ff_0_ff2.bias";
const PARAMETER: &str = "ff.bert.encoder.layer.0.output.dense.bias";
/// `PARAMETER`'s queue: grid [1,1], mblock [1,2], ublock [1,2], t 1: one 32 x 128 entry.
const PARAMETER_SHAPE: [usize; 4] = [1, 1, 32, 128];

fn message() -> String {
    // SAFETY: the library keeps the text valid until the next failure on this thread.
    unsafe { CStr::from_ptr(ttrt::ffi::error::ttrt_last_error_message()) }
        .to_string_lossy()
        .into_owned()
}

/// float32 bytes of `n` values, value i = i / 8 - 3.
fn floats(n: usize) -> Vec<u8> {
    (0..n)
        .flat_map(|i| (i as f32 / 8.0 - 3.0).to_le_bytes())
        .collect()
}

/// device.json as PyBuda's `TTDeviceImage` serializes it (dataclasses_json, with `__enum__`
/// spellings for the backend enums), for the feed-forward netlist with one parameter stored.
fn pybuda_device_json(netlist_name: &str, with_parameter: bool) -> String {
    let params = if with_parameter {
        format!(
            r#""{PARAMETER}": {{"bin": "tensors/torch.Tensor.{PARAMETER}.bin", "itemsize": 4,
               "shape": [1, 1, 32, 128], "strides": [16384, 16384, 512, 4], "dim": 4,
               "format": "Float32"}}"#
        )
    } else {
        String::new()
    };
    let param_names = if with_parameter {
        format!(r#""{PARAMETER}""#)
    } else {
        String::new()
    };
    format!(
        r#"{{
  "version": "1.1.0",
  "device_image_name": "tt0",
  "arch": {{"__enum__": "BackendDevice.Grayskull"}},
  "devtype": {{"__enum__": "BackendType.Silicon"}},
  "chip_ids": [0],
  "fp32_fallback": {{"__enum__": "DataFormat.Float16_b"}},
  "optimizer": null,
  "training": false,
  "microbatch_size": 1,
  "microbatch_count": 1,
  "grid_size": [10, 12],
  "harvested_rows": [],
  "compiled_graph_state": {{
    "microbatch": 1,
    "graph_name": "fwd_0",
    "ordered_input_names": ["{INPUT}"],
    "ordered_output_names": ["{OUTPUT}"],
    "ordered_target_names": [],
    "ordered_constant_node_names": [],
    "ordered_parameter_node_names": [{param_names}],
    "ordered_input_shapes": [[1, 1, 128, 128]],
    "ordered_output_shapes": [[1, 1, 128, 128]],
    "ordered_target_shapes": [],
    "ordered_output_data_formats": [{{"__enum__": "DataFormat.Float16_b"}}],
    "ordered_input_runtime_tensor_transforms": [{{"type": {{"__enum__": "RuntimeTensorTransformType.NoTransform"}},
        "original_shape": null, "stride_height": null, "stride_width": null}}],
    "netlist_filename": "/home/user/tt_build/ff/{netlist_name}",
    "post_const_eval_constants": {{}},
    "post_const_eval_parameters": {{{params}}}
  }},
  "verify_cfg": null,
  "compiler_cfg": {{}},
  "loss_module": null,
  "module_name_to_metadata": {{}},
  "modules": [],
  "pybuda_pip_version_id": "0.1.240101",
  "pybuda_commit_hash": "abc123",
  "budabackend_commit_hash": "def456"
}}"#
    )
}

/// The members of an image: (name under `unzipped_tti/`, bytes).
fn ff_members(with_parameter: bool) -> Vec<(String, Vec<u8>)> {
    let netlist = std::fs::read(ff_netlist()).unwrap();
    let mut m = vec![
        (
            "device.json".to_string(),
            pybuda_device_json("ff_1_128_128_netlist.yaml", with_parameter).into_bytes(),
        ),
        (
            "compile_and_runtime_config.json".to_string(),
            br#"{"PYBUDA_TEST_IMAGE_VAR": "1"}"#.to_vec(),
        ),
        ("ff_1_128_128_netlist.yaml".to_string(), netlist),
    ];
    if with_parameter {
        m.push((
            format!("tensors/torch.Tensor.{PARAMETER}.bin"),
            floats(PARAMETER_SHAPE.iter().product()),
        ));
    }
    m
}

/// Writes a tar of `members` under `unzipped_tti/` with ttrt's tar writer.
fn write_tar(path: &Path, members: &[(String, Vec<u8>)]) {
    let mut tar = TarWriter::new(std::fs::File::create(path).unwrap());
    tar.add_dir("unzipped_tti").unwrap();
    for (name, bytes) in members {
        tar.add_file(&format!("unzipped_tti/{name}"), bytes)
            .unwrap();
    }
    tar.finish().unwrap();
}

/// Writes `members` to a directory, then tars it with Python's tarfile as PyBuda's
/// `TTIArchive` does (`tar.add(dir, arcname="unzipped_tti")`).
fn write_tar_with_python(dir: &Path, path: &Path, members: &[(String, Vec<u8>)]) {
    let root = dir.join("unzipped_tti");
    for (name, bytes) in members {
        let p = root.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
    support::run(Command::new("python3").args([
        "-c",
        "import sys, tarfile\n\
         with tarfile.open(sys.argv[2], 'w') as t:\n    t.add(sys.argv[1], arcname='unzipped_tti')",
        root.to_str().unwrap(),
        path.to_str().unwrap(),
    ]));
}

fn check_ff_image(image: &Image) {
    assert_eq!(image.arch(), Arch::Grayskull);
    assert_eq!(image.input_names(), [INPUT]);
    assert_eq!(image.output_names(), [OUTPUT]);
    assert_eq!(
        image.netlist_member(),
        "unzipped_tti/ff_1_128_128_netlist.yaml"
    );
    assert_eq!(image.netlist().queues().len(), 8);
    let d = image.device_json().unwrap();
    assert_eq!(d.device_image_name, "tt0");
    assert_eq!(d.compiled_graph_state.graph_name, "fwd_0");
    assert_eq!(image.tensors().len(), 1);
    assert_eq!(image.tensors()[0].name, PARAMETER);
    assert!(image.tensors()[0].parameter);
    let bytes = image.tensor_bytes(PARAMETER).unwrap();
    assert_eq!(&bytes[..], &floats(PARAMETER_SHAPE.iter().product())[..]);
    assert_eq!(
        image.runtime_config().unwrap().get("PYBUDA_TEST_IMAGE_VAR"),
        Some("1")
    );
}

#[test]
fn a_tti_built_as_pybuda_builds_it_opens_with_its_names() {
    let dir = support::scratch("image_pybuda_layout");
    let path = dir.join("ff.tti");
    write_tar(&path, &ff_members(true));
    let image = Image::open(&path).unwrap();
    assert_eq!(image.source(), ImageSource::TarArchive);
    check_ff_image(&image);
}

#[test]
fn a_tti_tarred_by_pythons_tarfile_opens_with_its_names() {
    if !support::have_tool("python3", "archives written by Python's tarfile") {
        return;
    }
    let dir = support::scratch("image_python_tar");
    let path = dir.join("ff.tti");
    write_tar_with_python(&dir.join("src"), &path, &ff_members(true));
    let image = Image::open(&path).unwrap();
    check_ff_image(&image);
}

#[test]
fn a_bare_netlist_opens_with_host_queues_as_inputs_and_unread_queues_as_outputs() {
    let image = Image::open(ff_netlist()).unwrap();
    assert_eq!(image.source(), ImageSource::Netlist);
    assert_eq!(image.arch(), Arch::Grayskull);
    // Every host-fed queue, parameters and constants included, in file order.
    assert_eq!(image.input_names().len(), 7);
    assert_eq!(image.input_names()[0], INPUT);
    assert_eq!(image.output_names(), [OUTPUT]);
    assert!(image.device_json().is_none());
}

fn open_error(members: &[(String, Vec<u8>)], name: &str) -> ttrt::image::ImageError {
    let dir = support::scratch(name);
    let path = dir.join("bad.tti");
    write_tar(&path, members);
    match Image::open(&path) {
        Ok(_) => panic!("{name}: the image opened"),
        Err(e) => e,
    }
}

#[test]
fn an_archive_without_device_json_is_not_an_image() {
    let members: Vec<_> = ff_members(true)
        .into_iter()
        .filter(|(n, _)| n != "device.json")
        .collect();
    let e = open_error(&members, "image_no_device_json");
    assert_eq!(e.kind, ImageErrorKind::Invalid);
    assert!(
        e.message().contains("no member unzipped_tti/device.json"),
        "{e}"
    );
    assert!(e.message().contains("bad.tti"), "{e}");
}

#[test]
fn an_archive_without_its_netlist_names_the_missing_member() {
    let members: Vec<_> = ff_members(true)
        .into_iter()
        .filter(|(n, _)| !n.ends_with(".yaml"))
        .collect();
    let e = open_error(&members, "image_no_netlist");
    assert!(
        e.message()
            .contains("no member unzipped_tti/ff_1_128_128_netlist.yaml"),
        "{e}"
    );
    assert!(e.message().contains("netlist_filename"), "{e}");
}

#[test]
fn a_tensor_member_of_the_wrong_size_is_rejected_at_open() {
    let mut members = ff_members(true);
    let last = members.last_mut().unwrap();
    last.1.truncate(last.1.len() - 4);
    let e = open_error(&members, "image_tensor_size");
    assert_eq!(e.kind, ImageErrorKind::Invalid);
    assert!(e.message().contains(PARAMETER), "{e}");
    assert!(e.message().contains("16380"), "{e}");
}

#[test]
fn a_missing_tensor_member_is_named() {
    let members: Vec<_> = ff_members(true)
        .into_iter()
        .filter(|(n, _)| !n.starts_with("tensors/"))
        .collect();
    let e = open_error(&members, "image_tensor_missing");
    assert!(
        e.message().contains(&format!(
            "no member unzipped_tti/tensors/torch.Tensor.{PARAMETER}.bin"
        )),
        "{e}"
    );
}

#[test]
fn an_image_cut_short_is_rejected() {
    let dir = support::scratch("image_cut_short");
    let path = dir.join("ff.tti");
    write_tar(&path, &ff_members(true));
    let bytes = std::fs::read(&path).unwrap();
    for cut in [100, 512 + 100, bytes.len() / 2, bytes.len() - 1024] {
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let e = Image::open(&path)
            .err()
            .unwrap_or_else(|| panic!("cut at {cut} opened"));
        assert_eq!(e.kind, ImageErrorKind::Invalid, "cut at {cut}: {e}");
    }
}

#[test]
fn a_graph_input_that_is_not_a_queue_is_rejected() {
    let mut members = ff_members(false);
    members[0].1 = pybuda_device_json("ff_1_128_128_netlist.yaml", false)
        .replace(INPUT, "no_such_queue")
        .into_bytes();
    let e = open_error(&members, "image_unknown_input");
    assert!(e.message().contains("\"no_such_queue\""), "{e}");
}

fn ttrt(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ttrt"))
        .args(args)
        .output()
        .expect("run ttrt")
}

/// The feed-forward netlist's weights in files: `PARAMETER` as `floats`, every other
/// parameter and constant zeros of its entry's size.
fn write_ff_tensors(tensors: &Path) {
    std::fs::create_dir_all(tensors).unwrap();
    let text = std::fs::read_to_string(ff_netlist()).unwrap();
    let netlist = ttrt::netlist::parse(&text, "ff.yaml").unwrap();
    for q in netlist.host_fed_queues().filter(|q| q.name != INPUT) {
        let items: usize = q.layout(Arch::Grayskull).host_shape(1).iter().product();
        let bytes = if q.name == PARAMETER {
            floats(items)
        } else {
            vec![0u8; items * 4]
        };
        std::fs::write(tensors.join(format!("{}.bin", q.name)), bytes).unwrap();
    }
}

#[test]
fn ttrt_pack_then_ttrt_info_round_trips() {
    let dir = support::scratch("image_pack_info");
    let tensors = dir.join("tensors");
    write_ff_tensors(&tensors);
    let out = dir.join("ff.tti");
    let netlist = ff_netlist();
    let o = ttrt(&[
        "pack",
        netlist.to_str().unwrap(),
        "--tensors",
        tensors.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Piped: no progress line rewriting itself.
    assert!(!o.stderr.contains(&b'\r') && !o.stdout.contains(&b'\r'));

    let image = Image::open(&out).unwrap();
    assert_eq!(image.arch(), Arch::Grayskull);
    // Four parameters and two constants have their files; the one other host-fed queue is the
    // input.
    assert_eq!(image.input_names(), [INPUT]);
    assert_eq!(image.output_names(), [OUTPUT]);
    assert_eq!(
        &image.tensor_bytes(PARAMETER).unwrap()[..],
        &floats(PARAMETER_SHAPE.iter().product())[..]
    );

    let o = ttrt(&["info", "--json", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["arch"], "Grayskull");
    assert_eq!(v["outputs"], serde_json::json!([OUTPUT]));
    assert_eq!(v["parameters"].as_array().unwrap().len(), 4);
    assert!(v["parameters"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!(PARAMETER)));
    assert_eq!(v["constants"].as_array().unwrap().len(), 2);
    assert_eq!(v["device_name"], "ff_1_128_128_netlist");
    assert_eq!(v["queues"].as_array().unwrap().len(), 8);
    let q = v["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["name"] == INPUT)
        .unwrap();
    // grid [2,1], mblock [1,2], ublock [2,2]: 2*1*2 = 4 tile rows, 1*2*2 = 4 tile columns.
    assert_eq!(q["shape"], serde_json::json!([1, 128, 128]));
    assert_eq!(q["format"], "Float16_b");
    assert_eq!(v["programs"][0]["name"], "run_fwd");
    assert_eq!(
        v["programs"][0]["params"],
        serde_json::json!(["$p_microbatch_count"])
    );

    let o = ttrt(&["info", out.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&o.stdout);
    for line in [
        "- Device Name: ff_1_128_128_netlist",
        "- arch: Grayskull",
        "- training: False",
        "- ordered input shapes:",
        "run_fwd",
    ] {
        assert!(text.contains(line), "`{line}` missing from:\n{text}");
    }
}

#[test]
fn ttrt_pack_rejects_a_tensor_file_of_the_wrong_size_or_name() {
    let dir = support::scratch("image_pack_bad");
    let tensors = dir.join("tensors");
    std::fs::create_dir_all(&tensors).unwrap();
    std::fs::write(tensors.join(format!("{PARAMETER}.bin")), floats(10)).unwrap();
    let netlist = ff_netlist();
    let out = dir.join("ff.tti");
    let args = [
        "pack",
        netlist.to_str().unwrap(),
        "--tensors",
        tensors.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ];
    let o = ttrt(&args);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("expected 16384 bytes"), "{err}");

    std::fs::remove_file(tensors.join(format!("{PARAMETER}.bin"))).unwrap();
    std::fs::write(tensors.join("not_a_queue.bin"), floats(4)).unwrap();
    let o = ttrt(&args);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("no queue of the netlist is named \"not_a_queue\""),
        "{err}"
    );
}

#[test]
fn ttrt_pack_refuses_to_make_weights_inputs_without_their_tensor_files() {
    let dir = support::scratch("image_pack_no_tensors");
    let netlist = ff_netlist();
    let out = dir.join("ff.tti");
    let pack = |extra: &[&str]| {
        let mut args = vec![
            "pack",
            netlist.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let o = ttrt(&args);
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    // The first weight queue in file order is the output bias (a ram: a parameter).
    let first = "\"ff.bert.encoder.layer.0.output.dense.bias\"";

    let (code, err) = pack(&[]);
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(first) && err.contains("--tensors"), "{err}");
    assert!(!out.exists());

    let missing = dir.join("no_such_dir");
    let (code, err) = pack(&["--tensors", missing.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(missing.to_str().unwrap()) && err.contains(first),
        "{err}"
    );

    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let (code, err) = pack(&["--tensors", empty.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(empty.to_str().unwrap()) && err.contains(first),
        "{err}"
    );
    assert!(
        err.contains("6 constant and parameter queues have no file"),
        "{err}"
    );
    assert!(!out.exists());

    // One constant missing: it is named, not made an input.
    let tensors = dir.join("tensors");
    write_ff_tensors(&tensors);
    let constant = "lc.input_tensor.ff.bert.encoder.layer.0.output.dense.bias_s_brcst_m2_0_0.0";
    std::fs::remove_file(tensors.join(format!("{constant}.bin"))).unwrap();
    let (code, err) = pack(&["--tensors", tensors.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(&format!("{constant:?}")) && err.contains("prologue"),
        "{err}"
    );

    // Asked for explicitly, every host-fed queue becomes an input.
    let (code, err) = pack(&["--no-tensors"]);
    assert_eq!(code, Some(0), "{err}");
    let image = Image::open(&out).unwrap();
    assert_eq!(image.input_names().len(), 7);
    assert!(image.tensors().is_empty());
}

// ------------------------------------------------------------------ C API

fn c_open(path: &Path) -> (ttrt_status, *mut ttrt_image) {
    let p = CString::new(path.to_str().unwrap()).unwrap();
    let mut img = std::ptr::null_mut();
    // SAFETY: valid string and out pointer.
    let s = unsafe { ttrt_image_open(p.as_ptr(), &mut img) };
    (s, img)
}

fn c_name(p: *const std::ffi::c_char) -> String {
    assert!(!p.is_null(), "{}", message());
    // SAFETY: non-NULL names are NUL-terminated strings owned by the image.
    unsafe { CStr::from_ptr(p) }.to_str().unwrap().to_string()
}

#[test]
fn the_c_api_opens_an_image_and_lists_its_inputs_outputs_and_arch() {
    let dir = support::scratch("image_c_api");
    let path = dir.join("ff.tti");
    write_tar(&path, &ff_members(true));
    let (s, img) = c_open(&path);
    assert_eq!(s, ttrt_status::Success, "{}", message());
    // SAFETY: `img` is a live image for the calls below, then freed once.
    unsafe {
        assert_eq!(ttrt_image_input_count(img), 1);
        assert_eq!(c_name(ttrt_image_input_name(img, 0)), INPUT);
        assert_eq!(ttrt_image_output_count(img), 1);
        assert_eq!(c_name(ttrt_image_output_name(img, 0)), OUTPUT);
        assert!(ttrt_image_input_name(img, 1).is_null());
        assert!(
            message().contains("index 1 is out of range"),
            "{}",
            message()
        );
        let mut arch = ttrt::ffi::format::ttrt_arch::WormholeB0;
        assert_eq!(ttrt_image_arch(img, &mut arch), ttrt_status::Success);
        assert_eq!(arch, ttrt::ffi::format::ttrt_arch::Grayskull);
        ttrt_image_free(img);
        // A freed handle is refused, not dereferenced.
        assert_eq!(ttrt_image_input_count(img), 0);
        assert!(message().contains("freed"), "{}", message());
        ttrt_image_free(std::ptr::null_mut());
    }
}

/// Constant and parameter names and the devtype come from device.json, in its order (the
/// digits image: two constants, four parameters, `Silicon`); a bare netlist has none of them.
#[test]
fn the_c_api_lists_constants_parameters_and_devtype() {
    let names =
        |img,
         count: unsafe extern "C" fn(*const ttrt_image) -> usize,
         name: unsafe extern "C" fn(*const ttrt_image, usize) -> *const std::ffi::c_char| {
            // SAFETY: `img` is a live image; indices below the count.
            unsafe {
                (0..count(img))
                    .map(|i| c_name(name(img, i)))
                    .collect::<Vec<_>>()
            }
        };
    let (s, img) = c_open(&support::root().join("examples/digits.tti"));
    assert_eq!(s, ttrt_status::Success, "{}", message());
    assert_eq!(
        names(img, ttrt_image_constant_count, ttrt_image_constant_name),
        [
            "lc.input_tensor.b1_s_brcst_m2_0_0.0",
            "lc.input_tensor.b2_s_brcst_m2_0_0.0"
        ]
    );
    assert_eq!(
        names(img, ttrt_image_parameter_count, ttrt_image_parameter_name),
        ["b1", "b2", "w1", "w2"]
    );
    // SAFETY: `img` is live until freed below; the freed handle is then refused.
    unsafe {
        assert_eq!(c_name(ttrt_image_devtype(img)), "Silicon");
        assert!(ttrt_image_parameter_name(img, 4).is_null());
        assert!(
            message().contains("index 4 is out of range"),
            "{}",
            message()
        );
        ttrt_image_free(img);
        assert!(ttrt_image_devtype(img).is_null());
        assert_eq!(ttrt_image_constant_count(img), 0);
        assert!(message().contains("freed"), "{}", message());
    }

    let (s, img) = c_open(&support::root().join("examples/digits/digits.yaml"));
    assert_eq!(s, ttrt_status::Success, "{}", message());
    // SAFETY: a live image, freed once.
    unsafe {
        assert_eq!(ttrt_image_constant_count(img), 0);
        assert_eq!(ttrt_image_parameter_count(img), 0);
        assert!(ttrt_image_devtype(img).is_null());
        assert!(
            message().starts_with("ttrt_image_devtype: ") && message().contains("bare netlist"),
            "{}",
            message()
        );
        ttrt_image_free(img);
    }
}

#[test]
fn the_c_api_reports_io_and_invalid_image_errors_with_file_and_member() {
    let dir = support::scratch("image_c_api_errors");
    let (s, img) = c_open(&dir.join("missing.tti"));
    assert_eq!(s, ttrt_status::IoError);
    assert!(img.is_null());
    assert!(message().contains("missing.tti"), "{}", message());

    let path = dir.join("bad.tti");
    let members: Vec<_> = ff_members(true)
        .into_iter()
        .filter(|(n, _)| !n.ends_with(".yaml"))
        .collect();
    write_tar(&path, &members);
    let (s, _) = c_open(&path);
    assert_eq!(s, ttrt_status::InvalidImage);
    let m = message();
    assert!(m.starts_with("ttrt_image_open: "), "{m}");
    assert!(
        m.contains("bad.tti") && m.contains("ff_1_128_128_netlist.yaml"),
        "{m}"
    );

    let mut out = std::ptr::null_mut();
    // SAFETY: a NULL path is what is being tested.
    let s = unsafe { ttrt_image_open(std::ptr::null(), &mut out) };
    assert_eq!(s, ttrt_status::InvalidArgument);
}

#[test]
fn the_runtime_config_is_applied_only_when_asked_and_never_overrides() {
    let dir = support::scratch("image_runtime_config");
    let path = dir.join("ff.tti");
    let mut members = ff_members(true);
    members[1].1 =
        br#"{"PYBUDA_TTRT_IMAGE_TEST_SET": "from_image", "PYBUDA_TTRT_IMAGE_TEST_KEEP": "from_image"}"#.to_vec();
    write_tar(&path, &members);
    std::env::set_var("PYBUDA_TTRT_IMAGE_TEST_KEEP", "from_caller");
    let (s, img) = c_open(&path);
    assert_eq!(s, ttrt_status::Success, "{}", message());
    assert!(
        std::env::var("PYBUDA_TTRT_IMAGE_TEST_SET").is_err(),
        "applied at open"
    );
    let mut n = 0usize;
    // SAFETY: live image, valid out pointer.
    assert_eq!(
        unsafe { ttrt_image_apply_runtime_config(img, &mut n) },
        ttrt_status::Success
    );
    assert_eq!(n, 1);
    assert_eq!(
        std::env::var("PYBUDA_TTRT_IMAGE_TEST_SET").unwrap(),
        "from_image"
    );
    assert_eq!(
        std::env::var("PYBUDA_TTRT_IMAGE_TEST_KEEP").unwrap(),
        "from_caller"
    );
    // SAFETY: live image, freed once.
    unsafe { ttrt_image_free(img) };
}
