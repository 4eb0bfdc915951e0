//! The no_std format core (`src/format`) and the handle table (`src/ffi/handle.rs`) under Miri:
//! their unit tests run in the interpreter, which fails on undefined behaviour (out-of-bounds
//! or dangling accesses, data races, invalid values, leaks) that a native run may not show.
//! The library is built without `std` (`--no-default-features --features alloc`), as firmware
//! builds it.
//!
//! Miri is slow, so this runs in CI (`CI` set, where a missing Miri fails the test; .ci/run
//! installs it) or when `TTRT_MIRI=1`; otherwise it says how to run it and skips.

use crate::support;

use std::process::Command;

use support::{have_nightly, in_ci, nested_target_dir, root, run};

/// The unit tests Miri runs (name filters).
const FILTERS: &[&str] = &["format::", "ffi::handle::", "message::"];

fn have_miri() -> bool {
    have_nightly(
        &["cargo", "miri", "--version"],
        "Miri (nightly, component miri)",
        "rustup component add --toolchain nightly miri rust-src",
    )
}

#[test]
fn format_core_and_handle_table_unit_tests_pass_under_miri() {
    if !in_ci() && std::env::var_os("TTRT_MIRI").is_none_or(|v| v != "1") {
        eprintln!("SKIP: Miri runs in CI, or with TTRT_MIRI=1 (a few minutes)");
        return;
    }
    if !have_miri() {
        return;
    }
    let out = run(Command::new("rustup")
        .args(["run", "nightly", "cargo", "miri", "test", "--lib"])
        .args(["--no-default-features", "--features", "alloc", "--"])
        .args(FILTERS)
        .current_dir(root())
        .env("CARGO_TARGET_DIR", nested_target_dir().join("miri"))
        .env("MIRIFLAGS", "-Zmiri-strict-provenance")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("RUSTC")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("CARGO"));
    // The filters must have selected the tests: a run of none would pass vacuously.
    let stdout = String::from_utf8_lossy(&out.stdout);
    let ran: usize = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("test result: ok. "))
        .filter_map(|l| l.split(' ').next()?.parse::<usize>().ok())
        .sum();
    assert!(ran >= 10, "Miri ran {ran} tests:\n{stdout}");
    for filter in FILTERS {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(&format!("test {filter}")) && l.ends_with(" ok")),
            "no {filter} test ran under Miri:\n{stdout}"
        );
    }
}
