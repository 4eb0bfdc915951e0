//! The simulated chip in a device process (`ttrt sim-device`), reached only through shared
//! memory: what crosses the boundary, and what happens when either side goes away.

use crate::support::{sim_device, test_name};

use std::ffi::CString;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use sim_device::SimDevice;
use ttrt::compute::UnaryOp;
use ttrt::format::{Arch, DataFormat};
use ttrt::hal::layout::TensorLayout;
use ttrt::hal::select::AnyChip;
use ttrt::hal::transport::Transport;
use ttrt::hal::wire::{self, COMPLETION_SIZE, RECORD_SIZE};
use ttrt::hal::{Chip, HalError, MemKind};
use ttrt::runtime::{Device, DeviceConfig, ErrorKind, MemoryConfig, TensorSpec};

fn pattern(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(29).wrapping_add(seed))
        .collect()
}

fn shm(chip: &AnyChip) -> &ttrt::hal::transport::RemoteChip<ttrt::hal::shm::ShmTransport> {
    match chip {
        AnyChip::Shm(c) => c,
        AnyChip::Sim(_) => panic!("an shm: device opened in process"),
    }
}

/// The text of an attach that fails.
fn refusal(device: &str, arch: Arch) -> String {
    match AnyChip::open(device, arch) {
        Ok(_) => panic!("{device} attached"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bytes_and_programs_cross_to_the_device_process_and_back() {
    let d = SimDevice::start("bytes", &["--per-client"]);
    let chip = AnyChip::open(&d.device(), Arch::WormholeB0).unwrap();
    assert!(chip.is_remote());
    // The geometry is the device's, as its control page reports it.
    assert_eq!(
        *chip.geometry(),
        ttrt::hal::ChipGeometry::of(Arch::WormholeB0)
    );
    let data = pattern(5000, 3);
    chip.write(MemKind::Dram, 5, 0x1234_5600, &data).unwrap();
    chip.write(MemKind::L1, 63, 0x10_0000, &data[..1000])
        .unwrap();
    let mut back = vec![0; 5000];
    chip.read(MemKind::Dram, 5, 0x1234_5600, &mut back).unwrap();
    assert_eq!(back, data);
    // The last bank's end is inside; one byte further is not, on this side of the link.
    let g = *chip.geometry();
    let e = chip.read(MemKind::L1, 64, 0, &mut back[..1]).unwrap_err();
    assert!(matches!(e, HalError::OutOfRange { bank: 64, .. }), "{e}");
    chip.read(MemKind::Dram, 5, g.dram_channel_size - 1, &mut back[..1])
        .unwrap();

    // A program runs on the device and its failures come back as the device's text.
    let dev = Device::new(DeviceConfig::default(), chip).unwrap();
    let spec = TensorSpec {
        shape: [1, 1, 32, 64],
        format: DataFormat::Float16B,
        layout: TensorLayout::RowMajor,
    };
    let a = dev
        .allocate_tensor(&spec, &MemoryConfig::DRAM_INTERLEAVED)
        .unwrap();
    // The runtime refuses row-major operands before they reach the device; the chip's own
    // guard answers a program that reaches it anyway.
    let mut p = [0u8; RECORD_SIZE];
    let program = ttrt::hal::Program {
        op: ttrt::hal::OpKind::Unary(UnaryOp::Exp),
        a: *a.buffer(),
        b: *a.buffer(),
        out: *a.buffer(),
    };
    let remote = shm(dev.chip());
    assert_eq!(
        remote.run(&program).unwrap_err().to_string(),
        "program not supported: compute ops need TILE-layout operands"
    );
    // A record the device cannot read is refused with the field, not run.
    wire::encode_program(&program, &mut p);
    p[16 + 24] = 0x77;
    let t = remote.transport().submit(&p).unwrap();
    let mut c = [0u8; COMPLETION_SIZE];
    remote.transport().complete(t, &mut c).unwrap();
    assert_eq!(
        wire::decode_completion(&c).unwrap_err().to_string(),
        "the device refused a command: bad data format"
    );
}

#[test]
fn a_reset_returns_the_device_memory_to_zero() {
    let d = SimDevice::start("reset", &["--per-client"]);
    let chip = AnyChip::open(&d.device(), Arch::Grayskull).unwrap();
    assert_eq!(chip.geometry().arch, Arch::Grayskull);
    chip.write(MemKind::Dram, 7, 0x40_0000, &pattern(4096, 9))
        .unwrap();
    chip.write(MemKind::L1, 0, 0x2_0000, &pattern(64, 1))
        .unwrap();
    shm(&chip).reset().unwrap();
    let mut back = vec![1u8; 4096];
    chip.read(MemKind::Dram, 7, 0x40_0000, &mut back).unwrap();
    assert!(back.iter().all(|&b| b == 0));
    chip.read(MemKind::L1, 0, 0x2_0000, &mut back[..64])
        .unwrap();
    assert!(back[..64].iter().all(|&b| b == 0));
}

#[test]
fn a_client_whose_device_process_died_gets_device_lost_not_a_hang() {
    let mut d = SimDevice::start("lost", &["--per-client"]);
    let chip = AnyChip::open(&d.device(), Arch::WormholeB0).unwrap();
    let dev = Arc::new(Device::new(DeviceConfig::default(), chip).unwrap());
    dev.set_threaded(true);
    let worker = {
        let dev = Arc::clone(&dev);
        std::thread::spawn(move || dev.serve(0))
    };
    let spec = TensorSpec {
        shape: [1, 1, 64, 64],
        format: DataFormat::Float16B,
        layout: TensorLayout::Tile,
    };
    let dram = MemoryConfig::DRAM_INTERLEAVED;
    let a = dev.allocate_tensor(&spec, &dram).unwrap();
    let out = dev.unary(0, UnaryOp::Relu, &a, &dram).unwrap();
    dev.finish(0).unwrap();
    d.kill();
    // The next program has no device to run it: the CQ reports the loss.
    let _ = dev.unary(0, UnaryOp::Exp, &out, &dram);
    let e = dev.finish(0).unwrap_err();
    assert_eq!(e.kind, ErrorKind::DeviceLost, "{}", e.message());
    assert!(
        e.message()
            .contains("the device is lost: the device process ended"),
        "{}",
        e.message()
    );
    dev.stop();
    worker.join().unwrap();
}

#[test]
fn the_c_api_reports_a_lost_device_with_its_own_status() {
    use ttrt::ffi::device::ttrt_finish;
    use ttrt::ffi::device::{
        ttrt_device_close, ttrt_device_config, ttrt_device_config_default, ttrt_device_open,
    };
    use ttrt::ffi::status::ttrt_status;
    use ttrt::ffi::tensor::{
        ttrt_allocate_tensor_on_device, ttrt_memory_config, ttrt_op_unary, ttrt_tensor_free,
        ttrt_tensor_spec,
    };
    let mut d = SimDevice::start("capi", &[]);
    let name = CString::new(d.device()).unwrap();
    let mut cfg = std::mem::MaybeUninit::<ttrt_device_config>::zeroed();
    // SAFETY: the out pointers are valid; the name outlives the open.
    unsafe {
        ttrt_device_config_default(cfg.as_mut_ptr());
        let mut cfg = cfg.assume_init();
        cfg.device = name.as_ptr();
        let mut dev = std::ptr::null_mut();
        assert_eq!(ttrt_device_open(&cfg, &mut dev), ttrt_status::Success);
        let spec = ttrt_tensor_spec {
            shape: [1, 1, 32, 32],
            format: DataFormat::Float16B as u32,
            layout: TensorLayout::Tile as u32,
        };
        let mem = ttrt_memory_config {
            buffer_type: 0,
            memory_layout: 0,
            shard: Default::default(),
        };
        let mut t = std::ptr::null_mut();
        assert_eq!(
            ttrt_allocate_tensor_on_device(dev, &spec, &mem, &mut t),
            ttrt_status::Success
        );
        let mut out = std::ptr::null_mut();
        assert_eq!(
            ttrt_op_unary(dev, 0, UnaryOp::Relu as u32, t, &mem, &mut out),
            ttrt_status::Success
        );
        assert_eq!(ttrt_finish(dev, 0), ttrt_status::Success);
        d.kill();
        let mut out2 = std::ptr::null_mut();
        let _ = ttrt_op_unary(dev, 0, UnaryOp::Exp as u32, out, &mem, &mut out2);
        assert_eq!(ttrt_finish(dev, 0), ttrt_status::DeviceLost);
        let text = std::ffi::CStr::from_ptr(ttrt::ffi::error::ttrt_last_error_message());
        assert!(
            text.to_str()
                .unwrap()
                .contains("the device is lost: the device process ended"),
            "{text:?}"
        );
        ttrt_tensor_free(t);
        ttrt_tensor_free(out);
        ttrt_tensor_free(out2);
        assert_eq!(ttrt_device_close(dev), ttrt_status::Success);

        // A device string that names no device kind, and arena memory for another device.
        cfg.device = c"tcp:1.2.3.4".as_ptr();
        let mut dev = std::ptr::null_mut();
        assert_eq!(
            ttrt_device_open(&cfg, &mut dev),
            ttrt_status::InvalidArgument
        );
        let text = std::ffi::CStr::from_ptr(ttrt::ffi::error::ttrt_last_error_message());
        assert_eq!(
            text.to_str().unwrap(),
            "ttrt_device_open: cfg->device: device 'tcp:1.2.3.4' is neither 'sim' nor 'shm:<name>'"
        );
    }
}

#[test]
fn attaching_is_refused_with_what_is_wrong() {
    let d = SimDevice::start("refuse", &["--arch", "Wormhole_B0"]);
    let text = refusal("shm:test-nobody-serves-this-name", Arch::WormholeB0);
    assert!(
        text.starts_with("no device process serves 'test-nobody-serves-this-name' (")
            && text.ends_with("); start one with `ttrt sim-device test-nobody-serves-this-name`"),
        "{text}"
    );
    assert_eq!(
        refusal(&d.device(), Arch::Grayskull),
        format!(
            "device process '{0}' refused the attach: device '{0}' is a Wormhole_B0 chip; the \
             client asked for Grayskull",
            d.name
        )
    );
    // A second device process cannot take a served name.
    let out = Command::new(env!("CARGO_BIN_EXE_ttrt"))
        .args(["sim-device", &d.name])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with(&format!(
            "ttrt sim-device: cannot serve device '{}': ",
            d.name
        )),
        "{err}"
    );
    // Nine clients at once are one more than a device serves.
    let clients: Vec<AnyChip> = (0..8)
        .map(|_| AnyChip::open(&d.device(), Arch::WormholeB0).unwrap())
        .collect();
    assert_eq!(
        refusal(&d.device(), Arch::WormholeB0),
        format!(
            "device process '{}' refused the attach: all 8 client slots are taken",
            d.name
        )
    );
    drop(clients);
}

/// Run by `clients_share_one_device_and_a_dead_clients_state_is_freed` in a child process:
/// attaches to the device `TTRT_SIM_CHILD` names, writes its mark, says so, and waits to be
/// killed.
#[test]
fn child_attaches_writes_and_waits() {
    let Ok(device) = std::env::var("TTRT_SIM_CHILD") else {
        return;
    };
    let seed: u8 = std::env::var("TTRT_SIM_SEED").unwrap().parse().unwrap();
    let chip = AnyChip::open(&device, Arch::WormholeB0).unwrap();
    chip.write(
        MemKind::Dram,
        1,
        0x80_0000 + 4096 * seed as u64,
        &pattern(4096, seed),
    )
    .unwrap();
    println!("attached");
    use std::io::Write;
    std::io::stdout().flush().unwrap();
    std::thread::sleep(Duration::from_secs(600));
}

#[test]
fn clients_share_one_device_and_a_dead_clients_state_is_freed() {
    let d = SimDevice::start("share", &[]);
    // Twice as many clients as the device has slots, one after another, each killed while
    // attached: the device frees each one's slot, or the ninth could not attach.
    for seed in 0..16u8 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                test_name(module_path!(), "child_attaches_writes_and_waits").as_str(),
                "--exact",
                "--nocapture",
            ])
            .env("TTRT_SIM_CHILD", d.device())
            .env("TTRT_SIM_SEED", seed.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut stdout, &mut text);
            let _ = tx.send(text);
        });
        // Wait for the mark (a watchdog, not a timing assertion).
        let mut attached = false;
        for _ in 0..600 {
            let mut chip_bytes = vec![0; 4096];
            if let Ok(chip) = AnyChip::open(&d.device(), Arch::WormholeB0) {
                chip.read(
                    MemKind::Dram,
                    1,
                    0x80_0000 + 4096 * seed as u64,
                    &mut chip_bytes,
                )
                .unwrap();
                if chip_bytes == pattern(4096, seed) {
                    attached = true;
                    break;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let text = rx.recv_timeout(Duration::from_secs(60)).unwrap_or_default();
        assert!(attached, "child {seed} never wrote its mark: {text}");
    }
    // Every client's bytes are the device's: all sixteen marks are there for a new client.
    let chip = AnyChip::open(&d.device(), Arch::WormholeB0).unwrap();
    for seed in 0..16u8 {
        let mut back = vec![0; 4096];
        chip.read(MemKind::Dram, 1, 0x80_0000 + 4096 * seed as u64, &mut back)
            .unwrap();
        assert_eq!(back, pattern(4096, seed), "mark {seed}");
    }
}

#[test]
fn the_readme_route_serves_the_main_job_from_a_device_process() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let marker = "<!-- run by tests/device/sim_device.rs -->\n```sh\n";
    let start = text
        .find(marker)
        .expect("README.md has the sim-device block")
        + marker.len();
    let block = &text[start..start + text[start..].find("```").unwrap()];
    // The block runs as written, in the repository, with the ttrt this test was built with.
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_ttrt"));
    assert!(bin.ends_with("target/release/ttrt"), "{}", bin.display());
    let run = |script: &str| {
        Command::new("sh")
            .args(["-ec", script])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap()
    };
    let out = run(block);
    let stopped = run("target/release/ttrt sim-device mychip --stop 2>/dev/null || true");
    assert!(stopped.status.success());
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("serving 'mychip' (Grayskull, one shared chip)"),
        "{text}"
    );
    // `ttrt run` reports the model's outputs.
    assert!(text.contains("digits"), "{text}");
    // Once stopped, the same client finds no device: it did attach to the device process.
    let after = run("TTRT_DEVICE=shm:mychip target/release/ttrt run examples/digits.tti");
    assert!(!after.status.success());
    let err = String::from_utf8_lossy(&after.stderr);
    assert!(err.contains("no device process serves 'mychip'"), "{err}");
}

#[test]
fn a_c_backend_runs_on_the_device_its_config_names() {
    use ttrt::ffi::backend::{
        ttrt_backend_config, ttrt_backend_config_default, ttrt_backend_create, ttrt_backend_finish,
        ttrt_backend_free, ttrt_backend_initialize, ttrt_backend_run_program, ttrt_program_param,
    };
    use ttrt::ffi::image::{ttrt_image_free, ttrt_image_open};
    use ttrt::ffi::status::ttrt_status;
    let d = SimDevice::start("backend", &["--per-client"]);
    let path = CString::new(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/digits.tti")).unwrap();
    let last = || {
        // SAFETY: never NULL, NUL-terminated.
        unsafe { std::ffi::CStr::from_ptr(ttrt::ffi::error::ttrt_last_error_message()) }
            .to_string_lossy()
            .into_owned()
    };
    // SAFETY: valid pointers throughout; the strings outlive the calls.
    unsafe {
        let mut img = std::ptr::null_mut();
        assert_eq!(
            ttrt_image_open(path.as_ptr(), &mut img),
            ttrt_status::Success
        );
        let mut cfg = std::mem::zeroed::<ttrt_backend_config>();
        ttrt_backend_config_default(&mut cfg);
        assert!(cfg.device.is_null());
        // A name nobody serves: initialize (which opens the device) says which and where.
        let nobody = CString::new("shm:test-backend-nobody-serves-this").unwrap();
        cfg.device = nobody.as_ptr();
        let mut be = std::ptr::null_mut();
        assert_eq!(
            ttrt_backend_create(img, &cfg, &mut be),
            ttrt_status::Success
        );
        assert_eq!(ttrt_backend_initialize(be), ttrt_status::RuntimeError);
        let text = last();
        assert!(
            text.starts_with(
                "ttrt_backend_initialize: config.device: no device process serves \
                 'test-backend-nobody-serves-this' ("
            ),
            "{text}"
        );
        ttrt_backend_free(be);
        // The served name: the model's device is the device process's chip.
        let served = CString::new(d.device()).unwrap();
        cfg.device = served.as_ptr();
        let mut be = std::ptr::null_mut();
        assert_eq!(
            ttrt_backend_create(img, &cfg, &mut be),
            ttrt_status::Success
        );
        assert_eq!(
            ttrt_backend_initialize(be),
            ttrt_status::Success,
            "{}",
            last()
        );
        let program = CString::new("run_fwd").unwrap();
        let name = CString::new("$p_loop_count").unwrap();
        let one = CString::new("1").unwrap();
        let param = ttrt_program_param {
            name: name.as_ptr(),
            value: one.as_ptr(),
        };
        let run = || ttrt_backend_run_program(be, program.as_ptr(), &param, 1);
        // With nothing pushed, the graph runs and finds its input queue empty.
        assert_eq!(run(), ttrt_status::RuntimeError);
        assert!(last().contains("and it holds 0 entries"), "{}", last());
        // The graphs reach the chip's memory in place; with the device process gone they
        // do not run on what it left behind.
        drop(d);
        assert_eq!(run(), ttrt_status::DeviceLost, "{}", last());
        assert!(
            last().contains("the device is lost: the device process ended"),
            "{}",
            last()
        );
        let _ = ttrt_backend_finish(be);
        ttrt_backend_free(be);
        ttrt_image_free(img);
    }
}
