//! The C API misused from C under AddressSanitizer and UndefinedBehaviorSanitizer.
//!
//! libttrt is built with nightly Rust's AddressSanitizer (`-Zsanitizer=address`) in the dev
//! profile, so integer overflow in the library panics (and comes back as TTRT_STATUS_PANIC,
//! which the program counts as a failure) instead of wrapping. tests/c/misuse.c is compiled
//! with `-fsanitize=address,undefined` against it: the C compiler's ASan runtime serves the
//! instrumented library too (the library leaves the runtime to the executable). Any sanitizer
//! report, crash, hang or wrong status fails the test.
//!
//! Needs the nightly toolchain and a C compiler with libasan and libubsan: outside CI a missing
//! one skips the test with the reason; in CI (`CI` set) it fails (.ci/run installs them).

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use support::{
    have_nightly, have_tool, nested_target_dir, root, run, scratch, stage_shared_lib, STRICT_C,
};

const TARGET: &str = "x86_64-unknown-linux-gnu";

/// libttrt built with AddressSanitizer; returns the directory holding libttrt.so.
fn build_asan_lib() -> PathBuf {
    let dir = nested_target_dir().join("asan");
    let mut cmd = Command::new("rustup");
    cmd.args([
        "run", "nightly", "cargo", "build", "--lib", "--target", TARGET,
    ])
    .current_dir(root())
    .env("CARGO_TARGET_DIR", &dir)
    // --target keeps the flag off build scripts and proc macros, which run on the host
    // without the ASan runtime.
    .env("RUSTFLAGS", "-Zsanitizer=address")
    .env_remove("CARGO_ENCODED_RUSTFLAGS")
    .env_remove("RUSTUP_TOOLCHAIN")
    .env_remove("RUSTC")
    .env_remove("RUSTC_WRAPPER")
    .env_remove("RUSTDOC")
    .env_remove("CARGO");
    run(&mut cmd);
    dir.join(TARGET).join("debug")
}

/// Runs `cmd` to completion or until `limit` passes (then kills it: a hang is a failure).
fn run_with_watchdog(cmd: &mut Command, limit: Duration) -> (bool, String, String) {
    let shown = format!("{cmd:?}");
    let out_path = nested_target_dir().join("tmp/sanitizers-stdout.txt");
    let err_path = nested_target_dir().join("tmp/sanitizers-stderr.txt");
    let mut child = cmd
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {shown}: {e}"));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    match status {
        Some(s) => (s.success(), stdout, stderr),
        None => panic!(
            "{shown} did not finish within {limit:?} (a hang)\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
        ),
    }
}

fn compile_misuse(lib: &Path, dir: &Path) -> PathBuf {
    let staged = dir.join("lib");
    stage_shared_lib(lib, &staged);
    let exe = dir.join("misuse");
    run(Command::new("cc")
        .args(STRICT_C)
        .args([
            "-g",
            "-fsanitize=address,undefined",
            "-fno-sanitize-recover=all",
            "-fno-omit-frame-pointer",
            "-pthread",
        ])
        .arg("-I")
        .arg(root().join("include"))
        .arg(root().join("tests/c/misuse.c"))
        .arg("-o")
        .arg(&exe)
        .arg(format!("-L{}", staged.display()))
        .arg(format!("-Wl,-rpath,{}", staged.display()))
        .arg("-lttrt"));
    exe
}

#[test]
fn c_api_misuse_is_refused_cleanly_under_address_and_undefined_sanitizers() {
    if !cfg!(all(target_os = "linux", target_arch = "x86_64")) {
        eprintln!("SKIP: the sanitized build runs on x86_64 Linux hosts");
        return;
    }
    let have = [
        have_nightly(
            &["rustc", "--version"],
            "nightly Rust (for the sanitized build)",
            "rustup toolchain install nightly",
        ),
        have_tool("cc", "compiling tests/c/misuse.c"),
        have_tool("nm", "checking that libttrt is instrumented"),
    ];
    if !have.iter().all(|&h| h) {
        return;
    }
    let lib = build_asan_lib();

    // The library's own code is instrumented (it calls the ASan runtime), so a bad access in
    // Rust code is reported, not only in the C program.
    let nm = run(Command::new("nm")
        .args(["-D", "--undefined-only"])
        .arg(lib.join("libttrt.so")));
    let undefined = String::from_utf8_lossy(&nm.stdout);
    assert!(
        undefined.contains("__asan_report_load8") && undefined.contains("__asan_report_store8"),
        "libttrt.so is not instrumented with AddressSanitizer:\n{undefined}"
    );

    let dir = scratch("sanitizers-misuse");
    let exe = compile_misuse(&lib, &dir);
    let (ok, stdout, stderr) = run_with_watchdog(
        Command::new(&exe)
            .arg(&dir)
            .env(
                "ASAN_OPTIONS",
                "detect_leaks=1:halt_on_error=1:abort_on_error=0",
            )
            .env("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
            .env("RUST_BACKTRACE", "1"),
        Duration::from_secs(600),
    );
    let summary = stdout.lines().last().unwrap_or("");
    assert!(
        ok && summary.ends_with(" passed, 0 failed") && !stderr.contains("Sanitizer"),
        "misuse failed ({summary})\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    let passed: u32 = summary.split(' ').next().unwrap().parse().unwrap();
    assert!(passed > 1000, "too few checks ran: {summary}");
}
