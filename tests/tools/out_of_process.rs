//! The test matrix's second column: the device, backend, pipeline and C example tests run
//! again against a simulated chip in another process. A device process (`ttrt sim-device
//! NAME --per-client`) serves every device those tests open, and `TTRT_DEVICE=shm:NAME` makes
//! each of them attach to it over shared memory instead of creating the chip in process; the
//! tests themselves are the same binaries `cargo test` just built and ran in process.

use crate::support::sim_device;

use std::path::PathBuf;
use std::process::Command;

use sim_device::SimDevice;

/// Test binaries that open devices, with the filters that select the tests which do: the
/// modules of a folded binary (a filter matches every test whose name contains it).
const SUITES: &[(&str, &[&str])] = &[
    (
        "device",
        &["device::", "device_raw::", "--skip", "sim_device::"],
    ),
    ("steady_state", &[]),
    (
        "backend",
        &[
            "backend::",
            "backend_ffi::",
            "backend_tbin::",
            "cancellation::",
            "digits::",
            "dual_view_ram::",
            "temporal_graphs::",
        ],
    ),
    ("backend_steady_state", &[]),
    ("backend_steady_state_graphs", &[]),
    ("backend_timeouts", &[]),
    ("pipeline", &[]),
    ("pipeline_steady_state", &[]),
    ("ffi", &["c_abi::"]),
    // The C examples and the Buda C++ programs, built with CMake against the installed library.
    (
        "packaging",
        &[
            "c_examples_link_the_shared_library_by_default",
            "buda::buda_guide_loader_built_with_cmake_matches_the_c_api",
            "buda::buda_api_compat_checks_pass",
            "--exact",
        ],
    ),
];

/// The test binary cargo built for `suite` (the newest, should older builds linger).
fn test_binary(suite: &str) -> PathBuf {
    let deps = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let prefix = format!("{suite}-");
    let mut found: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(&deps)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_prefix(&prefix)
                .is_some_and(|hash| hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
        })
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    found.sort();
    found
        .pop()
        .unwrap_or_else(|| panic!("no test binary for {suite} in {}", deps.display()))
        .1
}

fn run_suite(device: &str, suite: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(test_binary(suite))
        .args(args)
        .env("TTRT_DEVICE", device)
        .env("RUST_TEST_THREADS", "2")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn device_backend_pipeline_and_c_tests_pass_against_a_device_process() {
    let mut served = SimDevice::start("matrix", &["--per-client"]);
    let device = format!("shm:{}", served.name);
    // The tests honour TTRT_DEVICE: against a name nobody serves, opening a device fails.
    let (ok, text) = run_suite("shm:matrix-nobody-serves-this", "device", &["device_raw::"]);
    assert!(!ok, "device_raw passed without a device process:\n{text}");
    assert!(text.contains("no device process serves"), "{text}");
    let mut failed = Vec::new();
    for (suite, args) in SUITES {
        let (ok, text) = run_suite(&device, suite, args);
        // A filter that matches nothing would pass without testing anything.
        let ran = text.contains("test result: ok.") && !text.contains("test result: ok. 0 passed");
        if !ok || !ran {
            failed.push(format!("--- {suite} (TTRT_DEVICE={device}) ---\n{text}"));
        }
    }
    assert!(served.alive(), "the device process died during the suites");
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}
