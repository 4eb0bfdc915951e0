//! A device opened with a SoC descriptor or a harvesting mask: through the C config (the
//! fields appended to `ttrt_device_config`, read only when `struct_size` covers them) and
//! through `ttrt sim-device --soc-descriptor/--harvested-rows`, whose control page carries
//! the geometry to every client, and a backend on it.

use std::ffi::{CStr, CString};
use std::path::PathBuf;

use crate::support::sim_device::SimDevice;
use ttrt::ffi::device::*;
use ttrt::ffi::status::ttrt_status;
use ttrt::format::Arch;
use ttrt::hal::select::AnyChip;
use ttrt::hal::{Chip, ChipGeometry};

fn message() -> String {
    unsafe { CStr::from_ptr(ttrt::ffi::error::ttrt_last_error_message()) }
        .to_string_lossy()
        .into_owned()
}

fn descriptor(name: &str) -> CString {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus/soc_descriptors")
        .join(name);
    CString::new(p.to_str().unwrap()).unwrap()
}

fn grayskull() -> ttrt_device_config {
    let mut cfg: ttrt_device_config = unsafe { std::mem::zeroed() };
    unsafe { ttrt_device_config_default(&mut cfg) };
    cfg.arch = ttrt::ffi::format::ttrt_arch::Grayskull as u32;
    cfg.cq_data_size = 1 << 20;
    cfg
}

/// Opens and closes a device of `cfg`; the status and the error text.
fn open(cfg: &ttrt_device_config) -> (ttrt_status, String) {
    let mut dev = std::ptr::null_mut();
    let st = unsafe { ttrt_device_open(cfg, &mut dev) };
    let text = message();
    if st == ttrt_status::Success {
        assert_eq!(unsafe { ttrt_device_close(dev) }, ttrt_status::Success);
    }
    (st, text)
}

#[test]
fn the_device_config_refuses_masks_and_descriptors_that_do_not_fit() {
    let mut cfg = grayskull();
    cfg.harvested_rows = 1 << 6 | 1 << 3;
    let (st, text) = open(&cfg);
    assert_eq!(st, ttrt_status::InvalidArgument);
    assert!(
        text.ends_with("cfg->harvested_rows: harvested rows mask 72 (0x48): Grayskull can harvest only rows 1-5 and 7-11, not row 6"),
        "{text}"
    );
    // A config that ends before the field: the mask is not read, the device opens.
    cfg.struct_size = core::mem::offset_of!(ttrt_device_config, soc_descriptor) as u32;
    assert_eq!(open(&cfg).0, ttrt_status::Success, "{}", message());

    let mut cfg = grayskull();
    cfg.arch = ttrt::ffi::format::ttrt_arch::Blackhole as u32;
    cfg.harvested_rows = 2;
    let (st, text) = open(&cfg);
    assert_eq!(st, ttrt_status::InvalidArgument);
    assert!(
        text.contains("Blackhole harvests Tensix columns, not rows"),
        "{text}"
    );

    let wh = descriptor("wormhole_b0_4x6.yaml");
    let mut cfg = grayskull();
    cfg.soc_descriptor = wh.as_ptr();
    let (st, text) = open(&cfg);
    assert_eq!(st, ttrt_status::InvalidArgument);
    assert!(
        text.ends_with(
            "the SoC descriptor describes a WORMHOLE_B0 chip, but the arch is Grayskull"
        ),
        "{text}"
    );
    assert!(text.contains("cfg->soc_descriptor: "), "{text}");
    // Not read below its struct_size either.
    cfg.struct_size = core::mem::offset_of!(ttrt_device_config, soc_descriptor) as u32;
    assert_eq!(open(&cfg).0, ttrt_status::Success, "{}", message());
}

/// The chip's L1 is part of the memory a device in the caller's arena needs: a descriptor of
/// one worker, or harvested rows, make a chip that fits where the default does not.
#[test]
fn the_descriptor_and_the_mask_size_the_chip() {
    let mut arena = vec![0u8; 100 << 20];
    let mut cfg = grayskull();
    cfg.arena = arena.as_mut_ptr().cast();
    cfg.arena_size = arena.len() as u64;
    // Grayskull's 12x9 cores of 1 MiB L1 (108 MiB) do not fit 100 MiB...
    let (st, text) = open(&cfg);
    assert_eq!(st, ttrt_status::InvalidArgument);
    assert!(text.contains("too small for Grayskull"), "{text}");
    // ...12x7 (rows 1 and 11 harvested) do.
    cfg.harvested_rows = 2050;
    assert_eq!(open(&cfg).0, ttrt_status::Success, "{}", message());
    // So does one worker, and a smaller arena with it.
    let one = descriptor("grayskull_1x1_arch.yaml");
    cfg.harvested_rows = 0;
    cfg.soc_descriptor = one.as_ptr();
    cfg.arena_size = 8 << 20;
    assert_eq!(open(&cfg).0, ttrt_status::Success, "{}", message());
}

#[cfg(target_os = "linux")]
#[test]
fn a_harvested_device_process_serves_its_geometry_and_refuses_other_masks() {
    use ttrt::backend::{Backend, BackendConfig};
    let d = SimDevice::start(
        "harvested",
        &["--arch", "Grayskull", "--harvested-rows", "2050"],
    );
    let want = ChipGeometry::of(Arch::Grayskull).harvested(2050).unwrap();
    // The control page carries the worker grid and the mask to a client asking for the default.
    let chip = AnyChip::open(&d.device(), Arch::Grayskull).unwrap();
    assert_eq!(*chip.geometry(), want);
    drop(chip);
    // A client asking for another harvesting is refused, naming both.
    let other = ChipGeometry::of(Arch::Grayskull).harvested(1 << 3).unwrap();
    let e = AnyChip::open_as(&d.device(), &other)
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("serves a chip of 8x12 workers (rows x columns) with harvested rows mask 2050; this device was asked for 9x12 with mask 8"),
        "{e}"
    );

    // The harvested image runs there; digits, compiled unharvested, is refused at initialize.
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let image =
        ttrt::image::Image::open(root.join("tests/fixtures/harvested/digits_gs_8x12.tti")).unwrap();
    let config = BackendConfig {
        device: Some(d.device()),
        harvested_rows: 2050,
        ..BackendConfig::default()
    };
    let be = Backend::create(&image, &config).unwrap();
    be.initialize().unwrap();
    be.finish().unwrap();
    let digits = ttrt::image::Image::open(root.join("examples/digits.tti")).unwrap();
    let config = BackendConfig {
        device: Some(d.device()),
        ..BackendConfig::default()
    };
    let be = Backend::create(&digits, &config).unwrap();
    let e = be.initialize().err().unwrap().to_string();
    assert!(
        e.contains("has harvested rows mask 2050 and a 8x12 worker grid, but the backend was created for mask 0 and a 10x12 grid"),
        "{e}"
    );
}
