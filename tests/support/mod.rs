//! Helpers shared by the test binaries, each of which declares `mod support` once: the tests
//! that build and run C programs, packages and cross builds use the ones below; the modules at
//! the end serve the device, backend, netlist and allocation-counting tests.
//!
//! `cargo test` holds the lock on `target/release` while tests run, so every nested cargo build
//! goes to its own target directory, `target/nested`. Tools that a developer machine may lack
//! (cmake, qemu, cross compilers) make a test skip with a printed reason, except in CI
//! (`CI` set), where a missing tool fails the test: CI must never skip these.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, OnceLock};

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub fn nested_target_dir() -> PathBuf {
    root().join("target").join("nested")
}

/// The name the test harness gives test function `name` of the module `module` (its
/// `module_path!()`): the module's path inside the test binary, then the function, as a child
/// process of the binary selects it with `--exact`.
pub fn test_name(module: &str, name: &str) -> String {
    match module.split_once("::") {
        Some((_binary, path)) => format!("{path}::{name}"),
        None => name.to_string(),
    }
}

/// A fresh empty directory under `target/nested/tmp`, named after the test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = nested_target_dir().join("tmp").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

pub fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Whether `program` can be run. Missing outside CI: prints why the caller skips. Missing in
/// CI: fails, since CI installs every tool the tests use (.ci/run).
pub fn have_tool(program: &str, why: &str) -> bool {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program} >/dev/null 2>&1"))
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            !in_ci(),
            "`{program}` is not installed in CI (needed for {why}); see .ci/run"
        );
        eprintln!("SKIP: {why}: `{program}` is not installed (.ci/run installs it)");
    }
    found
}

/// Whether `rustup run nightly ARGS` succeeds (the nightly toolchain, with what `args` asks of
/// it). Missing outside CI: prints why the caller skips and how to `install` it. Missing in CI:
/// fails, since .ci/run installs it.
pub fn have_nightly(args: &[&str], why: &str, install: &str) -> bool {
    let found = Command::new("rustup")
        .args(["run", "nightly"])
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(!in_ci(), "{why} is not installed in CI; see .ci/run");
        eprintln!("SKIP: {why} is not installed ({install})");
    }
    found
}

/// Whether the rust standard library for `target` is installed.
pub fn have_rust_target(target: &str) -> bool {
    let out = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output();
    let found = out.is_ok_and(|o| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .any(|l| l.trim() == target)
    });
    if !found {
        assert!(
            !in_ci(),
            "rust target {target} is not installed in CI; see .ci/run"
        );
        eprintln!("SKIP: rust target {target} is not installed (rustup target add {target})");
    }
    found
}

/// Runs `cmd`, failing the test with its output if it does not succeed.
pub fn run(cmd: &mut Command) -> Output {
    let shown = format!("{cmd:?}");
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {shown}: {e}"));
    if !out.status.success() {
        panic!(
            "{shown} failed with {}\n--- stdout\n{}\n--- stderr\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out
}

/// A cargo command for a nested build of this crate, in `target/nested`.
pub fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(root())
        .env("CARGO_TARGET_DIR", nested_target_dir());
    cmd
}

static NESTED_BUILDS: Mutex<()> = Mutex::new(());

/// `cargo build --release --lib` for `target` (None: the host), with extra args; returns the
/// directory holding libttrt.so / libttrt.a. Builds are serialized within one test binary.
pub fn build_lib(target: Option<&str>, extra: &[&str]) -> PathBuf {
    let _one_at_a_time = NESTED_BUILDS.lock().unwrap_or_else(|p| p.into_inner());
    let mut cmd = cargo();
    cmd.args(["build", "--release", "--lib"]).args(extra);
    if let Some(t) = target {
        cmd.args(["--target", t]);
    }
    run(&mut cmd);
    match target {
        Some(t) => nested_target_dir().join(t).join("release"),
        None => nested_target_dir().join("release"),
    }
}

/// The host shared and static libraries, built once per test binary.
pub fn host_lib_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| build_lib(None, &[]))
}

/// Copies `libttrt.so` from `lib_dir` into `dest` under its SONAME with the usual symlinks
/// (libttrt.so -> libttrt.so.0), as an installed library would be laid out.
pub fn stage_shared_lib(lib_dir: &Path, dest: &Path) {
    std::fs::create_dir_all(dest).unwrap();
    let soname = "libttrt.so.0";
    std::fs::copy(lib_dir.join("libttrt.so"), dest.join(soname)).expect("copy libttrt.so");
    let link = dest.join("libttrt.so");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(soname, &link).expect("symlink libttrt.so");
}

/// The NEEDED entries of an ELF file (`readelf -d`).
pub fn needed(file: &Path) -> Vec<String> {
    let out = run(Command::new("readelf").arg("-d").arg(file));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .filter_map(|l| l.split('[').nth(1)?.split(']').next().map(str::to_string))
        .collect()
}

/// Flags every C test program is compiled with.
pub const STRICT_C: &[&str] = &["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic"];
pub const STRICT_CXX: &[&str] = &[
    "-x",
    "c++",
    "-std=c++17",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-pedantic",
];

/// A small deterministic generator for seeded test inputs (xorshift64).
#[derive(Clone, Debug)]
pub struct XorShift(pub u64);

impl XorShift {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// The upstream netlist corpus carried in the repository (`tests/corpus/netlists`).
pub fn corpus() -> PathBuf {
    root().join("tests/corpus/netlists")
}

/// Every `.yaml` file under `dir`, recursively, appended to `out`.
pub fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read corpus dir") {
        let path = entry.expect("corpus entry").path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "yaml") {
            out.push(path);
        }
    }
}

pub mod compare;
pub mod copy_netlist;
pub mod counting;
pub mod digits_ffi;
pub mod readme;
pub mod reference;
pub mod reference_ops;
pub mod reference_run;
pub mod served;
pub mod sim_device;
pub mod sparse_stimulus;
pub mod stimulus;
