//! Harvested chips and SoC descriptors in the backend: an image compiled for a harvested
//! Grayskull (tests/fixtures/harvested/digits_gs_8x12.tti, PyBuda's harvested_rows [2050],
//! grid_size [8, 12]) runs on a device of that mask with digits' outputs, bit for bit, and is
//! refused elsewhere naming both masks; an op outside the usable worker grid is refused naming
//! the op and its grid_loc; a SoC descriptor in the image (or the config) sets the grid.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support;
use ttrt::backend::{Backend, BackendConfig, BackendErrorKind, SocSource};
use ttrt::format::{DataFormat, HostTensor, HostTensorMut};
use ttrt::image::Image;

const MASK: u64 = 2050;

fn fixture() -> PathBuf {
    support::root().join("tests/fixtures/harvested/digits_gs_8x12.tti")
}

fn digits() -> PathBuf {
    support::root().join("examples/digits.tti")
}

fn descriptor(name: &str) -> PathBuf {
    support::root()
        .join("tests/corpus/soc_descriptors")
        .join(name)
}

fn harvested(mask: u64) -> BackendConfig {
    BackendConfig {
        harvested_rows: mask,
        ..BackendConfig::default()
    }
}

/// `ttrt pack` of examples/digits with `extra` arguments, into `out`.
fn pack(out: &Path, netlist: &Path, extra: &[&str]) {
    support::run(
        Command::new(env!("CARGO_BIN_EXE_ttrt"))
            .current_dir(support::root())
            .arg("pack")
            .arg(netlist)
            .args(["--tensors", "examples/digits/tensors", "--name", "digits"])
            .args(extra)
            .arg("-o")
            .arg(out),
    );
}

/// Every held-out input through the image's program; the logits' bytes.
fn run_all(image: &Path, config: &BackendConfig) -> Vec<u8> {
    let image = Image::open(image).unwrap();
    let be = Backend::create(&image, config).unwrap();
    be.initialize().unwrap();
    let d = be.queue_desc("x").unwrap();
    let n = d.input_count as usize;
    let shape = d.layout.host_shape(n);
    let inputs = std::fs::read(support::root().join("examples/digits/test_inputs.bin")).unwrap();
    let per_push = shape.iter().product::<usize>() * 4;
    let mut out = Vec::new();
    for chunk in inputs.chunks(per_push) {
        let t = HostTensor::contiguous(chunk, DataFormat::Float32, shape);
        be.push_input("x", &t, false, 1000, -1).unwrap();
        be.run_program("run_fwd", &[("$p_loop_count", "1")])
            .unwrap();
        let mut buf = vec![0u8; n * 32 * 32 * 4];
        let mut dst = HostTensorMut::contiguous(&mut buf, DataFormat::Float32, [n, 1, 32, 32]);
        be.get_output_into("logits", &mut dst, false, 1000, -1)
            .unwrap();
        be.pop_output("logits", false, 1000).unwrap();
        out.extend_from_slice(&buf);
    }
    be.finish().unwrap();
    out
}

#[test]
fn the_committed_harvested_image_is_what_make_sh_builds() {
    let out = support::scratch("harvested_pack").join("digits_gs_8x12.tti");
    pack(
        &out,
        Path::new("examples/digits/digits.yaml"),
        &["--harvested-rows", "2050"],
    );
    assert!(
        std::fs::read(&out).unwrap() == std::fs::read(fixture()).unwrap(),
        "tests/fixtures/harvested/digits_gs_8x12.tti differs from what make.sh builds: rerun it"
    );
    let image = Image::open(fixture()).unwrap();
    let d = image.device_json().unwrap();
    assert_eq!(d.harvested_rows, vec![2050]);
    assert_eq!(d.grid_size, Some([8, 12]));
    assert_eq!(image.harvested_rows(), MASK);
}

#[test]
fn a_harvested_image_runs_on_its_mask_with_the_unharvested_outputs() {
    let here = run_all(&fixture(), &harvested(MASK));
    let there = run_all(&digits(), &BackendConfig::default());
    assert!(!here.is_empty());
    assert!(here == there, "harvesting changed the outputs");
}

#[test]
fn a_harvested_image_is_refused_on_an_unharvested_device_naming_both_masks() {
    let image = Image::open(fixture()).unwrap();
    let e = Backend::create(&image, &BackendConfig::default())
        .err()
        .unwrap();
    assert_eq!(e.kind, BackendErrorKind::InvalidArgument);
    let text = e.to_string();
    assert!(
        text.contains("compiled for harvested rows mask 2050 (rows 1, 11)")
            && text.contains("the device's harvested rows mask is 0 (rows none)"),
        "{text}"
    );
    // And on a device harvested otherwise.
    let e = Backend::create(&image, &harvested(1 << 3)).err().unwrap();
    assert!(e.to_string().contains("mask is 8 (rows 3)"), "{e}");
}

#[test]
fn an_unharvested_image_is_refused_on_the_harvested_device() {
    let image = Image::open(digits()).unwrap();
    let e = Backend::create(&image, &harvested(MASK)).err().unwrap();
    assert_eq!(e.kind, BackendErrorKind::InvalidArgument);
    let text = e.to_string();
    assert!(
        text.contains("compiled for harvested rows mask 0 (rows none)")
            && text.contains("the device's harvested rows mask is 2050 (rows 1, 11)"),
        "{text}"
    );
}

#[test]
fn masks_the_arch_cannot_harvest_are_refused() {
    let image = Image::open(digits()).unwrap();
    let e = Backend::create(&image, &harvested(1 << 6)).err().unwrap();
    assert_eq!(e.kind, BackendErrorKind::InvalidArgument);
    assert_eq!(
        e.to_string(),
        "config.harvested_rows: harvested rows mask 64 (0x40): Grayskull can harvest only rows 1-5 and 7-11, not row 6"
    );
}

/// digits.yaml with fc2.bias moved to `loc`.
fn moved(loc: &str) -> (ttrt::netlist::Netlist, String) {
    let path = support::root().join("examples/digits/digits.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let from = "fc2.bias: {type: add, grid_loc: [0, 5]";
    assert!(text.contains(from));
    let text = text.replace(from, &format!("fc2.bias: {{type: add, grid_loc: {loc}"));
    (ttrt::netlist::parse(&text, "digits.yaml").unwrap(), text)
}

#[test]
fn an_op_in_a_harvested_row_is_refused_naming_it_and_its_grid_loc() {
    let (netlist, _) = moved("[9, 5]");
    // Row 9 is on an unharvested Grayskull's 10x12 grid...
    Backend::from_netlist(netlist.clone(), &BackendConfig::default()).unwrap();
    // ...and past the 8 rows left with two harvested.
    let e = Backend::from_netlist(netlist, &harvested(MASK))
        .err()
        .unwrap();
    assert_eq!(e.kind, BackendErrorKind::InvalidArgument);
    assert_eq!(
        e.to_string(),
        "netlist digits.yaml: op `fc2.bias` of graph `fwd_0` at grid_loc [9, 5] with grid_size [1, 1] does not fit the 8x12 worker grid (rows x columns) of this Grayskull (harvested rows mask 2050: rows 1, 11)"
    );
    // Past the unharvested grid too: row 10, column 12.
    for loc in ["[10, 0]", "[0, 12]"] {
        let (netlist, _) = moved(loc);
        let e = Backend::from_netlist(netlist, &BackendConfig::default())
            .err()
            .unwrap();
        assert!(e.to_string().contains(&format!("at grid_loc {loc}")), "{e}");
        assert!(e.to_string().contains("the 10x12 worker grid"), "{e}");
    }
}

#[test]
fn a_soc_descriptor_in_the_image_sets_the_grid() {
    let dir = support::scratch("harvested_desc");
    // Grayskull's own default descriptor: runs as digits does.
    let gs = dir.join("digits_gs_10x12.tti");
    let d = descriptor("grayskull_10x12.yaml");
    pack(
        &gs,
        Path::new("examples/digits/digits.yaml"),
        &["--soc-descriptor", d.to_str().unwrap()],
    );
    let image = Image::open(&gs).unwrap();
    assert_eq!(image.device_json().unwrap().grid_size, Some([10, 12]));
    let be = Backend::create(&image, &BackendConfig::default()).unwrap();
    let (g, source) = be.chip();
    assert_eq!(*source, SocSource::Image);
    assert_eq!((g.worker_grid, g.dram_channels), ((12, 10), 8));
    drop(be);
    assert!(
        run_all(&gs, &BackendConfig::default()) == run_all(&digits(), &BackendConfig::default())
    );

    // A 1x1 Grayskull: the second op of digits (grid_loc [0, 1]) has no core.
    let one = dir.join("digits_gs_1x1.tti");
    let d = descriptor("grayskull_1x1_arch.yaml");
    pack(
        &one,
        Path::new("examples/digits/digits.yaml"),
        &["--soc-descriptor", d.to_str().unwrap()],
    );
    let image = Image::open(&one).unwrap();
    let e = Backend::create(&image, &BackendConfig::default())
        .err()
        .unwrap();
    assert!(
        e.to_string().contains("op `b2_s_brcst_m2_0_0.lc1` of graph `fwd_0` at grid_loc [0, 1] with grid_size [1, 1] does not fit the 1x1 worker grid"),
        "{e}"
    );
    // The config's descriptor wins over the image's.
    let config = BackendConfig {
        soc_descriptor: Some(descriptor("grayskull_120_arch.yaml").display().to_string()),
        ..BackendConfig::default()
    };
    let be = Backend::create(&image, &config).unwrap();
    assert!(matches!(be.chip().1, SocSource::Config(_)));

    // Wormhole B0 4x6: an op at row 4 is past its 4 rows.
    let (_, text) = moved("[4, 5]");
    let netlist = dir.join("digits_wh.yaml");
    std::fs::write(
        &netlist,
        text.replace("arch: grayskull", "arch: wormhole_b0"),
    )
    .unwrap();
    let wh = dir.join("digits_wh_4x6.tti");
    let d = descriptor("wormhole_b0_4x6.yaml");
    pack(&wh, &netlist, &["--soc-descriptor", d.to_str().unwrap()]);
    let image = Image::open(&wh).unwrap();
    assert_eq!(image.device_json().unwrap().grid_size, Some([4, 6]));
    let e = Backend::create(&image, &BackendConfig::default())
        .err()
        .unwrap();
    assert!(
        e.to_string().contains("op `fc2.bias` of graph `fwd_0` at grid_loc [4, 5] with grid_size [1, 1] does not fit the 4x6 worker grid (rows x columns) of this Wormhole_B0"),
        "{e}"
    );
}

#[test]
fn a_descriptor_of_another_arch_is_refused_naming_both() {
    let image = Image::open(digits()).unwrap();
    let path = descriptor("wormhole_b0_4x6.yaml").display().to_string();
    let config = BackendConfig {
        soc_descriptor: Some(path.clone()),
        ..BackendConfig::default()
    };
    let e = Backend::create(&image, &config).err().unwrap();
    assert_eq!(e.kind, BackendErrorKind::InvalidArgument);
    assert_eq!(
        e.to_string(),
        format!("config.soc_descriptor: {path}: the SoC descriptor describes a WORMHOLE_B0 chip, but the arch is Grayskull")
    );
    // A file that is not there.
    let config = BackendConfig {
        soc_descriptor: Some("/nonexistent/d.yaml".into()),
        ..BackendConfig::default()
    };
    let e = Backend::create(&image, &config).err().unwrap();
    assert!(
        e.to_string()
            .starts_with("config.soc_descriptor: /nonexistent/d.yaml: cannot open"),
        "{e}"
    );
}

/// The C config: `harvested_rows` and `soc_descriptor` are read only when `struct_size` covers
/// them.
#[test]
fn the_c_backend_config_carries_the_mask_and_the_descriptor() {
    use std::ffi::{CStr, CString};
    use ttrt::ffi::backend::*;
    use ttrt::ffi::image::*;
    use ttrt::ffi::status::ttrt_status;
    let last = || {
        unsafe { CStr::from_ptr(ttrt::ffi::error::ttrt_last_error_message()) }
            .to_string_lossy()
            .into_owned()
    };
    let path = CString::new(fixture().to_str().unwrap()).unwrap();
    unsafe {
        let mut img = std::ptr::null_mut();
        assert_eq!(
            ttrt_image_open(path.as_ptr(), &mut img),
            ttrt_status::Success
        );
        let mut cfg = std::mem::zeroed::<ttrt_backend_config>();
        ttrt_backend_config_default(&mut cfg);
        assert_eq!(
            (cfg.harvested_rows, cfg.soc_descriptor),
            (0, std::ptr::null())
        );
        let mut be = std::ptr::null_mut();
        assert_eq!(
            ttrt_backend_create(img, &cfg, &mut be),
            ttrt_status::InvalidArgument
        );
        assert!(
            last().contains("compiled for harvested rows mask 2050"),
            "{}",
            last()
        );
        cfg.harvested_rows = MASK;
        assert_eq!(
            ttrt_backend_create(img, &cfg, &mut be),
            ttrt_status::Success,
            "{}",
            last()
        );
        ttrt_backend_free(be);
        // A config of the size before the fields: the mask is not read.
        cfg.struct_size = 48;
        assert_eq!(
            ttrt_backend_create(img, &cfg, &mut be),
            ttrt_status::InvalidArgument
        );
        // The descriptor, by path.
        let one = CString::new(descriptor("grayskull_1x1_arch.yaml").to_str().unwrap()).unwrap();
        cfg.struct_size = std::mem::size_of::<ttrt_backend_config>() as u32;
        cfg.soc_descriptor = one.as_ptr();
        assert_eq!(
            ttrt_backend_create(img, &cfg, &mut be),
            ttrt_status::InvalidArgument
        );
        assert!(last().contains("config.harvested_rows: harvested rows mask 2050 (0x802): row 11 holds no worker in this descriptor"), "{}", last());
        ttrt_image_free(img);
    }
}

/// `ttrt run` takes the mask; `ttrt info` shows the descriptor in use, in text and JSON, and a
/// descriptor alone.
#[test]
fn the_cli_runs_and_shows_the_harvested_chip() {
    let ttrt = || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ttrt"));
        c.current_dir(support::root());
        c
    };
    let f = fixture();
    let out = support::run(ttrt().arg("run").arg(&f).args([
        "--inputs",
        "examples/digits",
        "--harvested-rows",
        "2050",
    ]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("accuracy 352/360"), "{text}");
    let out = ttrt().arg("run").arg(&f).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("compiled for harvested rows mask 2050 (rows 1, 11), but the device's harvested rows mask is 0"), "{err}");

    // The image's mask by default; the arch default's geometry.
    let out = support::run(ttrt().arg("info").arg(&f));
    let text = String::from_utf8_lossy(&out.stdout);
    for line in [
        "- grid size: [8, 12]",
        "- harvested rows: [2050]",
        "SoC Descriptor...\n- source: arch default\n- arch: Grayskull\n- worker grid: [8, 12] (rows, columns)\n- DRAM: 8 channels x 1073741824 B\n- L1: 1048576 B per worker\n- harvested rows: 2050 (rows 1, 11)\n",
    ] {
        assert!(text.contains(line), "{line} in {text}");
    }
    // A descriptor file from the command line, in JSON.
    let d = descriptor("grayskull_10x12.yaml");
    let out = support::run(
        ttrt()
            .arg("info")
            .arg(&f)
            .arg("--soc-descriptor")
            .arg(&d)
            .arg("--json"),
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let soc = &v["soc"];
    assert_eq!(soc["source"]["file"], d.to_str().unwrap());
    assert_eq!(soc["worker_grid"], serde_json::json!([8, 12]));
    assert_eq!(soc["harvested_rows_mask"], 2050);
    assert_eq!(soc["harvested_rows"], serde_json::json!([1, 11]));
    assert_eq!(soc["noc_grid"], serde_json::json!([13, 12]));
    assert_eq!(soc["dram_channels"], 8);
    // A descriptor alone.
    let d = descriptor("wormhole_b0_4x6.yaml");
    let out = support::run(ttrt().arg("info").arg("--soc-descriptor").arg(&d));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("- arch_name: WORMHOLE_B0\n- NOC grid: 10x12 (x, y)\n- ethernet cores: 16\n- worker grid: [4, 6] (rows, columns)\n- DRAM: 6 channels x 2147483648 B\n- L1: 1499136 B per worker\n- harvested rows: 0 (rows none)"), "{text}");
}
