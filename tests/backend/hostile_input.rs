//! Sizes a netlist or an argument gives cannot abort the host: every allocation they size is
//! checked against the host memory budget and fails with TTRT_STATUS_OUT_OF_MEMORY (or
//! INVALID_ARGUMENT) and one line naming what and how much, and nothing is printed.
//!
//! Each case runs in a child process (this test binary, on that test alone): an allocation
//! failure aborts the process and a panic's default hook writes to stderr, neither of which a
//! test in the same process could observe. The parent checks that the child exited normally and
//! wrote nothing to stderr.

use std::ffi::{c_void, CStr, CString};
use std::path::PathBuf;
use std::process::Command;
use std::ptr;

use crate::support::test_name;

use ttrt::ffi::backend::*;
use ttrt::ffi::device::*;
use ttrt::ffi::error::ttrt_last_error_message;
use ttrt::ffi::format::{ttrt_io_desc, ttrt_tensor_desc};
use ttrt::ffi::image::*;
use ttrt::ffi::pipeline::*;
use ttrt::ffi::status::ttrt_status;
use ttrt::ffi::tensor::*;

const CHILD: &str = "TTRT_HOSTILE_INPUT_CASE";

/// Runs `body` in a child process (this binary, filtered to `name`) and checks that the child
/// passed and wrote nothing to stderr.
fn isolated(name: &str, body: impl FnOnce()) {
    if std::env::var(CHILD).as_deref() == Ok(name) {
        body();
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            test_name(module_path!(), name).as_str(),
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, name)
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{name}: the child failed ({:?})\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    assert!(
        stderr.is_empty(),
        "{name}: the library wrote to stderr:\n{stderr}"
    );
}

fn last() -> String {
    // SAFETY: never NULL, valid until the next failure on this thread.
    unsafe { CStr::from_ptr(ttrt_last_error_message()) }
        .to_string_lossy()
        .into_owned()
}

/// A copy graph from a host-fed DRAM queue `in0` to a host-located queue `out` of
/// `out_entries` entries of one Float32 tile each, running `input_count` entries per execute.
fn netlist(out_entries: u64, input_count: u64) -> String {
    format!(
        r#"
devices:
  arch: wormhole_b0
queues:
  in0: {{type: queue, input: HOST, entries: 4, grid_size: [1, 1], t: 1, mblock: [1, 1], ublock: [1, 1], df: Float32, target_device: 0, loc: dram, dram: [[1, 0x10000000]]}}
  out: {{type: queue, input: copy, entries: {out_entries}, grid_size: [1, 1], t: 1, mblock: [1, 1], ublock: [1, 1], df: Float32, target_device: 0, loc: host, host: [0x0]}}
graphs:
  g:
    target_device: 0
    input_count: {input_count}
    copy: {{type: datacopy, grid_loc: [0, 0], grid_size: [1, 1], inputs: [in0], in_df: [Float32], acc_df: Float32, out_df: Float32, intermed_df: Float32, ublock_order: r, buf_size_mb: 2, math_fidelity: HiFi3, untilize_output: false, t: 1, mblock: [1, 1], ublock: [1, 1]}}
programs:
  - run:
      - staticvar: {{$lptr: 0, $gptr: 0}}
      - execute: {{graph_name: g, queue_settings: {{in0: {{prologue: false, epilogue: false, zero: false, rd_ptr_local: $lptr, rd_ptr_global: $gptr}}}}}}
"#
    )
}

/// `text` as a netlist file of its own, opened as an image.
fn open_netlist(name: &str, text: &str) -> *mut ttrt_image {
    let dir = std::env::temp_dir().join(format!("ttrt_hostile_{}_{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path: PathBuf = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, text).unwrap();
    let c = CString::new(path.to_str().unwrap()).unwrap();
    let mut img = ptr::null_mut();
    // SAFETY: a valid path and out pointer.
    let st = unsafe { ttrt_image_open(c.as_ptr(), &mut img) };
    assert_eq!(st, ttrt_status::Success, "{}", last());
    // A bare netlist is read whole at open.
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_dir(&dir);
    img
}

fn backend_config(budget: u64) -> ttrt_backend_config {
    // SAFETY: the default fills every field.
    unsafe {
        let mut cfg = std::mem::zeroed::<ttrt_backend_config>();
        ttrt_backend_config_default(&mut cfg);
        cfg.host_memory_budget = budget;
        cfg
    }
}

#[test]
fn a_host_queue_of_two_billion_entries_is_out_of_memory_at_initialize() {
    isolated(
        "a_host_queue_of_two_billion_entries_is_out_of_memory_at_initialize",
        || unsafe {
            let img = open_netlist("two_billion", &netlist(2_000_000_000, 1));
            for budget in [1u64 << 30, 0] {
                let cfg = backend_config(budget);
                let mut be = ptr::null_mut();
                assert_eq!(
                    ttrt_backend_create(img, &cfg, &mut be),
                    ttrt_status::Success,
                    "{}",
                    last()
                );
                assert_eq!(ttrt_backend_initialize(be), ttrt_status::OutOfMemory);
                let text = last();
                // One Float32 tile with its 32 B header is 4128 B; the queue header is 32 B.
                let asked = 2_000_000_000u64 * 4128 + 32;
                assert!(
                    text.starts_with("ttrt_backend_initialize: queue `out` needs ")
                        && text.contains(&format!("{asked} B of host memory"))
                        && text.contains("2000000000 entries of 4128 B")
                        && text.contains("over the host memory budget of "),
                    "{text}"
                );
                if budget != 0 {
                    assert!(text.ends_with(&format!("budget of {budget} B")), "{text}");
                }
                ttrt_backend_free(be);
            }
            ttrt_image_free(img);
        },
    );
}

#[test]
fn a_host_queue_over_a_small_budget_is_refused_and_fits_a_larger_one() {
    isolated(
        "a_host_queue_over_a_small_budget_is_refused_and_fits_a_larger_one",
        || unsafe {
            // 64 entries of 4128 B and the header: 264224 B.
            let img = open_netlist("small_budget", &netlist(64, 1));
            let mut be = ptr::null_mut();
            let cfg = backend_config(200_000);
            assert_eq!(
                ttrt_backend_create(img, &cfg, &mut be),
                ttrt_status::Success
            );
            assert_eq!(ttrt_backend_initialize(be), ttrt_status::OutOfMemory);
            assert!(
                last().contains("queue `out` needs 264224 B of host memory"),
                "{}",
                last()
            );
            ttrt_backend_free(be);
            let cfg = backend_config(64 << 20);
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
            ttrt_backend_free(be);
            ttrt_image_free(img);
        },
    );
}

#[test]
fn an_input_count_of_u32_max_cannot_size_a_host_tensor() {
    isolated(
        "an_input_count_of_u32_max_cannot_size_a_host_tensor",
        || unsafe {
            let img = open_netlist("input_count", &netlist(4, u32::MAX as u64));
            let mut be = ptr::null_mut();
            let cfg = backend_config(1 << 30);
            assert_eq!(
                ttrt_backend_create(img, &cfg, &mut be),
                ttrt_status::Success
            );
            let st = ttrt_backend_initialize(be);
            if st == ttrt_status::Success {
                let name = CString::new("out").unwrap();
                let mut q = std::mem::zeroed::<ttrt_io_desc>();
                assert_eq!(
                    ttrt_backend_get_queue_descriptor(be, name.as_ptr(), &mut q),
                    ttrt_status::Success
                );
                let mut t = std::mem::zeroed::<ttrt_tensor_desc>();
                assert_eq!(
                    ttrt_backend_tensor_desc_for_queue(be, &q, false, &mut t),
                    ttrt_status::OutOfMemory
                );
                let text = last();
                assert!(
                    text.starts_with("ttrt_backend_tensor_desc_for_queue: ")
                        && text.contains("queue `out`")
                        && text.contains("4294967295 entries")
                        && text.contains("over the host memory budget of 1073741824 B"),
                    "{text}"
                );
                // One entry still fits.
                assert_eq!(
                    ttrt_backend_tensor_desc_for_queue(be, &q, true, &mut t),
                    ttrt_status::Success,
                    "{}",
                    last()
                );
                assert_eq!(ttrt_tensor_desc_free(&mut t), ttrt_status::Success);
            } else {
                // Refusing the netlist is as good, as long as it is a status with its text.
                assert!(!last().is_empty());
            }
            ttrt_backend_free(be);
            ttrt_image_free(img);
        },
    );
}

unsafe extern "C" fn relu_model(
    _user: *mut c_void,
    dev: *mut ttrt_device,
    cq: u8,
    input: *mut ttrt_tensor,
    output: *mut *mut ttrt_tensor,
) -> u32 {
    let l1 = ttrt_memory_config {
        buffer_type: ttrt_buffer_type::L1 as u32,
        memory_layout: ttrt_memory_layout::Interleaved as u32,
        shard: ttrt_shard_spec::default(),
    };
    ttrt_op_unary(dev, cq, ttrt_unary_op::Relu as u32, input, &l1, output) as u32
}

/// A compiled ModelExecutor pipeline on a device with `budget` bytes of host memory budget
/// (0: the default), its output 32x32 bfloat16 (2 KiB).
unsafe fn compiled_pipeline(budget: u64) -> (*mut ttrt_device, *mut ttrt_pipeline) {
    let mut dcfg = std::mem::zeroed::<ttrt_device_config>();
    ttrt_device_config_default(&mut dcfg);
    dcfg.host_memory_budget = budget;
    let mut dev = ptr::null_mut();
    assert_eq!(
        ttrt_device_open(&dcfg, &mut dev),
        ttrt_status::Success,
        "{}",
        last()
    );
    let mut cfg = std::mem::zeroed::<ttrt_pipeline_config>();
    ttrt_pipeline_config_default(&mut cfg);
    cfg.use_trace = false;
    cfg.num_command_queues = 1;
    cfg.all_transfers_on_separate_command_queue = false;
    let l1 = ttrt_memory_config {
        buffer_type: ttrt_buffer_type::L1 as u32,
        memory_layout: ttrt_memory_layout::Interleaved as u32,
        shard: ttrt_shard_spec::default(),
    };
    let mut p = ptr::null_mut();
    assert_eq!(
        ttrt_pipeline_create(
            dev,
            &cfg,
            Some(relu_model),
            ptr::null_mut(),
            &l1,
            ptr::null(),
            ptr::null(),
            &mut p
        ),
        ttrt_status::Success,
        "{}",
        last()
    );
    let mut bits = vec![0x3f80u16; 32 * 32];
    let sample = ttrt_host_tensor {
        data: bits.as_mut_ptr().cast(),
        size: bits.len() * 2,
        shape: [1, 1, 32, 32],
        format: 5,
        layout: ttrt_tensor_layout::RowMajor as u32,
    };
    assert_eq!(
        ttrt_pipeline_compile(p, &sample),
        ttrt_status::Success,
        "{}",
        last()
    );
    (dev, p)
}

#[test]
fn preallocating_two_to_the_40_outputs_is_out_of_memory() {
    isolated(
        "preallocating_two_to_the_40_outputs_is_out_of_memory",
        || unsafe {
            let (dev, p) = compiled_pipeline(1 << 30);
            let st = ttrt_pipeline_preallocate_output_tensors_on_host(p, 1 << 40);
            assert_eq!(st, ttrt_status::OutOfMemory, "{}", last());
            let text = last();
            assert!(
                text.starts_with("ttrt_pipeline_preallocate_output_tensors_on_host: ")
                    && text.contains("1099511627776 output tensors of 2048 B")
                    && text.contains("over the host memory budget of 1073741824 B"),
                "{text}"
            );
            // The pipeline is still usable: a count that fits succeeds.
            assert_eq!(
                ttrt_pipeline_preallocate_output_tensors_on_host(p, 4),
                ttrt_status::Success,
                "{}",
                last()
            );
            ttrt_pipeline_free(p);
            assert_eq!(ttrt_device_close(dev), ttrt_status::Success);
        },
    );
}

#[test]
fn preallocating_size_max_outputs_fails_without_a_panic_or_a_word_on_stderr() {
    isolated(
        "preallocating_size_max_outputs_fails_without_a_panic_or_a_word_on_stderr",
        || unsafe {
            let (dev, p) = compiled_pipeline(0);
            let st = ttrt_pipeline_preallocate_output_tensors_on_host(p, usize::MAX);
            assert_eq!(st, ttrt_status::OutOfMemory, "{}", last());
            assert!(
                last().contains(&format!("{} output tensors of 2048 B", usize::MAX)),
                "{}",
                last()
            );
            ttrt_pipeline_free(p);
            assert_eq!(ttrt_device_close(dev), ttrt_status::Success);
        },
    );
}

#[test]
fn a_panic_inside_an_exported_call_prints_nothing_and_the_hosts_own_panics_still_do() {
    let name = "a_panic_inside_an_exported_call_prints_nothing_and_the_hosts_own_panics_still_do";
    if std::env::var(CHILD).as_deref() == Ok(name) {
        let st = ttrt::ffi::boundary::call(
            "ttrt_example",
            || -> Result<(), ttrt::ffi::error::ArgError> { panic!("boom inside") },
        );
        assert_eq!(st, ttrt_status::Panic);
        assert_eq!(last(), "ttrt_example: internal error (panic): boom inside");
        if std::env::var("TTRT_HOSTILE_HOST_PANIC").is_ok() {
            // The host's own panic, outside any ttrt call, goes to the hook it had.
            let caught = std::panic::catch_unwind(|| panic!("the host's own panic"));
            assert!(caught.is_err());
        }
        return;
    }
    isolated(name, || {});
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            test_name(module_path!(), name).as_str(),
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, name)
        .env("TTRT_HOSTILE_HOST_PANIC", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("the host's own panic"), "{stderr}");
    assert!(!stderr.contains("boom inside"), "{stderr}");
}

#[test]
fn a_backend_config_of_the_first_size_reads_the_budget_as_the_default() {
    unsafe {
        let img = open_netlist("first_size", &netlist(64, 1));
        // struct_size 12: the fields appended since read as 0 (the default budget), so the
        // 1-byte budget past it is not seen.
        let mut cfg = backend_config(1);
        cfg.struct_size = 12;
        let mut be = ptr::null_mut();
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
        ttrt_backend_free(be);
        cfg.struct_size = 24;
        assert_eq!(
            ttrt_backend_create(img, &cfg, &mut be),
            ttrt_status::Success
        );
        assert_eq!(ttrt_backend_initialize(be), ttrt_status::OutOfMemory);
        ttrt_backend_free(be);
        ttrt_image_free(img);
    }
}
