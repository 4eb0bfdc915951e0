//! The installed C package (docs/DESIGN.md section 5), installed by the README's own commands:
//! its "Install with CMake" blocks run as written in a copy of the repository
//! (tests/support/readme.rs), which builds with cargo, installs with CMake and links a program
//! with pkg-config, shared and static. C programs then also build against the install with
//! CMake (`c-examples/`), and so do the C++ ones on ttrt.hpp (`cpp-examples/`), whose outputs are
//! compared with the C examples' and `ttrt run`'s. Buda's C++ API (include/ttrt/buda/) is
//! checked from the install in the `buda` module (tests/packaging/buda.rs).
//!
//! The package is installed once per test binary, under `target/nested/readme/opt/ttrt`.

mod support;

#[path = "packaging/buda.rs"]
mod buda;

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use support::{needed, readme};

const VERSION: &str = env!("CARGO_PKG_VERSION");
const MAJOR: &str = env!("CARGO_PKG_VERSION_MAJOR");

fn real_so_name() -> String {
    format!("libttrt.so.{VERSION}")
}

fn soname() -> String {
    format!("libttrt.so.{MAJOR}")
}

/// Every test needs both tools; each is asked so that a skip names everything missing.
fn have_tools() -> bool {
    let cmake = support::have_tool("cmake", "building and installing the ttrt package");
    let pkg_config = support::have_tool("pkg-config", "checking the installed ttrt.pc");
    cmake && pkg_config
}

/// `-D<name>=<path>` without assuming the path is UTF-8.
fn define(name: &str, value: impl AsRef<OsStr>) -> OsString {
    let mut arg = OsString::from(format!("-D{name}="));
    arg.push(value.as_ref());
    arg
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The README's four host blocks: install, use from C, build the Buda C++ loader, use ttrt.hpp.
fn readme_blocks() -> (String, String, String, String) {
    let blocks = readme::blocks("tests/packaging.rs");
    assert_eq!(
        blocks.len(),
        4,
        "README.md should mark four blocks for tests/packaging.rs (install, use, Buda C++, C++): \
         {blocks:?}"
    );
    (
        blocks[0].clone(),
        blocks[1].clone(),
        blocks[2].clone(),
        blocks[3].clone(),
    )
}

/// What the README's install block printed, after running it once for all tests in this
/// binary. A failed install is remembered so every test reports it without retrying.
fn install_transcript() -> &'static str {
    static TRANSCRIPT: OnceLock<Result<String, String>> = OnceLock::new();
    let result = TRANSCRIPT.get_or_init(|| {
        std::panic::catch_unwind(|| readme::run(&readme_blocks().0)).map_err(|e| {
            e.downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panic without a message".into())
        })
    });
    match result {
        Ok(transcript) => transcript,
        Err(e) => panic!("installing the ttrt package as README.md says failed:\n{e}"),
    }
}

/// The install prefix (the README's /opt/ttrt, in scratch space).
fn installed() -> PathBuf {
    install_transcript();
    readme::opt().join("ttrt")
}

fn lib_dir() -> PathBuf {
    installed().join("lib")
}

/// `readelf -d` of `file`.
fn dynamic_section(file: &Path) -> String {
    text(&support::run(Command::new("readelf").arg("-d").arg(file)).stdout)
}

/// Runs a built `version` example, which checks header against library and exits non-zero on
/// any mismatch.
fn run_version(program: &Path, shared: bool) -> Output {
    let mut cmd = Command::new(program);
    if shared {
        // The CMake build sets an rpath, a hand-built program has none; this covers both.
        cmd.env("LD_LIBRARY_PATH", lib_dir());
    }
    let out = support::run(&mut cmd);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(&format!("ttrt {VERSION} ")),
        "{} did not report version {VERSION}:\n{stdout}",
        program.display()
    );
    out
}

fn assert_links_shared(program: &Path) {
    let needed = needed(program);
    assert!(
        needed.contains(&soname()),
        "{} should need {} but needs {needed:?}",
        program.display(),
        soname()
    );
}

fn assert_links_static(program: &Path) {
    let needed = needed(program);
    assert!(
        !needed.iter().any(|n| n.contains("libttrt")),
        "{} should contain libttrt.a but needs {needed:?}",
        program.display()
    );
}

fn pkg_config_of(package: &str, args: &[&str]) -> Vec<String> {
    let out = support::run(
        Command::new("pkg-config")
            .env("PKG_CONFIG_PATH", lib_dir().join("pkgconfig"))
            .args(args)
            .arg(package),
    );
    text(&out.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// Configures and builds `c-examples/` against the installed package; returns the build dir.
fn build_c_examples(name: &str, use_static: bool) -> PathBuf {
    build_examples("c-examples", name, use_static)
}

/// Configures and builds the CMake project `project` (`c-examples`, `cpp-examples`) against the
/// installed package; returns the build dir.
fn build_examples(project: &str, name: &str, use_static: bool) -> PathBuf {
    let build = support::scratch(name).join("build");
    support::run(
        Command::new("cmake")
            .arg("-S")
            .arg(support::root().join(project))
            .arg("-B")
            .arg(&build)
            .arg(define("CMAKE_PREFIX_PATH", installed()))
            .arg(format!(
                "-DTTRT_USE_STATIC={}",
                if use_static { "ON" } else { "OFF" }
            )),
    );
    support::run(Command::new("cmake").arg("--build").arg(&build));
    // The package found must be the one just installed, not one elsewhere on the system.
    let cache = std::fs::read_to_string(build.join("CMakeCache.txt")).expect("CMakeCache.txt");
    let found = cache
        .lines()
        .find_map(|l| l.strip_prefix("ttrt_DIR:PATH="))
        .unwrap_or("");
    let expected = lib_dir().join("cmake").join("ttrt");
    assert_eq!(Path::new(found), expected, "{project} found ttrt elsewhere");
    build
}

/// The list after `note: native-static-libs:` in cargo's output, if any.
fn native_static_libs_note(out: &Output) -> Option<Vec<String>> {
    let all = format!("{}{}", text(&out.stderr), text(&out.stdout));
    all.lines().find_map(|l| {
        let list = l.split_once("native-static-libs:")?.1;
        Some(list.split_whitespace().map(str::to_string).collect())
    })
}

/// What rustc says a program linking libttrt.a needs. Cargo replays a fresh unit's cached
/// diagnostics, this note included, so a second run that compiles nothing still reports it.
/// Should a cargo ever stop replaying it, the crate is recompiled in a target dir of its own
/// (leaving the shared one alone) so the note is always printed.
fn rustc_native_static_libs() -> Vec<String> {
    let print = [
        "rustc",
        "--release",
        "--lib",
        "--crate-type",
        "staticlib",
        "--",
    ];
    let print = [&print[..], &["--print", "native-static-libs"]].concat();
    let out = support::run(support::cargo().args(&print));
    if let Some(list) = native_static_libs_note(&out) {
        return list;
    }
    let own_dir = support::nested_target_dir().join("native-libs");
    support::run(support::cargo().env("CARGO_TARGET_DIR", &own_dir).args([
        "clean",
        "--release",
        "-p",
        "ttrt",
    ]));
    let out = support::run(
        support::cargo()
            .env("CARGO_TARGET_DIR", &own_dir)
            .args(&print),
    );
    native_static_libs_note(&out).unwrap_or_else(|| {
        panic!(
            "cargo printed no `native-static-libs:` note even after recompiling:\n{}",
            text(&out.stderr)
        )
    })
}

/// The items of `set(TTRT_NATIVE_STATIC_LIBS ...)` in a CMake file, quoted or not.
fn cmake_native_static_libs(file: &Path) -> Vec<String> {
    let source = std::fs::read_to_string(file).expect("read CMake file");
    let start = source
        .find("set(TTRT_NATIVE_STATIC_LIBS")
        .unwrap_or_else(|| panic!("no set(TTRT_NATIVE_STATIC_LIBS ...) in {}", file.display()));
    let args = &source[start + "set(TTRT_NATIVE_STATIC_LIBS".len()..];
    let args = &args[..args.find(')').expect("unterminated set(")];
    args.split(|c: char| c.is_whitespace() || c == ';' || c == '"')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn install_lays_out_header_libraries_and_package_files() {
    if !have_tools() {
        return;
    }
    let prefix = installed();
    let lib = lib_dir();

    let header = std::fs::read(prefix.join("include/ttrt.h")).expect("installed include/ttrt.h");
    let checked_in = std::fs::read(support::root().join("include/ttrt.h")).unwrap();
    assert!(
        header == checked_in,
        "installed ttrt.h differs from include/ttrt.h"
    );
    let hpp = std::fs::read(prefix.join("include/ttrt.hpp")).expect("installed include/ttrt.hpp");
    let hpp_checked_in = std::fs::read(support::root().join("include/ttrt.hpp")).unwrap();
    assert!(
        hpp == hpp_checked_in,
        "installed ttrt.hpp differs from include/ttrt.hpp"
    );

    let real = lib.join(real_so_name());
    let meta =
        std::fs::symlink_metadata(&real).unwrap_or_else(|e| panic!("{}: {e}", real.display()));
    assert!(
        meta.is_file(),
        "{} should be a regular file",
        real.display()
    );
    let dynamic = dynamic_section(&real);
    assert!(
        dynamic.contains(&format!("Library soname: [{}]", soname())),
        "{} should have SONAME {}:\n{dynamic}",
        real.display(),
        soname()
    );

    for (link, target) in [(soname(), real_so_name()), ("libttrt.so".into(), soname())] {
        let path = lib.join(&link);
        let points_to = std::fs::read_link(&path)
            .unwrap_or_else(|e| panic!("{} should be a symlink: {e}", path.display()));
        assert_eq!(
            points_to,
            Path::new(&target),
            "{link} points to the wrong file"
        );
    }

    let archive = std::fs::read(lib.join("libttrt.a")).expect("installed lib/libttrt.a");
    assert!(
        archive.starts_with(b"!<arch>\n"),
        "libttrt.a is not an ar archive"
    );

    let cmake_dir = lib.join("cmake/ttrt");
    let config =
        std::fs::read_to_string(cmake_dir.join("ttrtConfig.cmake")).expect("ttrtConfig.cmake");
    assert!(
        cmake_dir.join("ttrtConfigVersion.cmake").is_file(),
        "no ttrtConfigVersion.cmake"
    );
    for target in ["ttrt::ttrt_shared", "ttrt::ttrt_static", "ttrt::ttrt"] {
        assert!(
            config.contains(&format!("add_library({target} ")),
            "ttrtConfig.cmake lacks {target}"
        );
    }
    // Relocatable: paths come from the config's own location, never the install prefix.
    assert!(
        !config.contains(&*prefix.to_string_lossy()),
        "ttrtConfig.cmake hard-codes the install prefix {}",
        prefix.display()
    );

    // Buda's C++ API: its headers as checked in, its target and its pkg-config file.
    for name in [
        "tt_backend.hpp",
        "tt_backend_api.hpp",
        "tt_backend_api_types.hpp",
        "io_utils.h",
    ] {
        let installed = std::fs::read(prefix.join("include/ttrt/buda").join(name))
            .unwrap_or_else(|e| panic!("installed include/ttrt/buda/{name}: {e}"));
        let checked_in =
            std::fs::read(support::root().join("include/ttrt/buda").join(name)).unwrap();
        assert!(
            installed == checked_in,
            "installed {name} differs from include/ttrt/buda/{name}"
        );
    }
    assert!(
        config.contains("add_library(ttrt::buda INTERFACE IMPORTED)")
            && config.contains("INTERFACE_COMPILE_FEATURES cxx_std_17")
            && config.contains("INTERFACE_LINK_LIBRARIES ttrt::ttrt"),
        "ttrtConfig.cmake lacks ttrt::buda as it should be:\n{config}"
    );
    let buda_cflags = pkg_config_of("ttrt-buda", &["--cflags"]);
    let include = prefix.join("include");
    assert_eq!(
        buda_cflags,
        [
            format!("-I{}", include.join("ttrt/buda").display()),
            format!("-I{}", include.display())
        ],
        "ttrt-buda.pc cflags"
    );
    assert_eq!(
        pkg_config_of("ttrt-buda", &["--libs"]),
        [format!("-L{}", lib.display()), "-lttrt".into()]
    );

    for pc in ["ttrt", "ttrt-static", "ttrt-buda"] {
        assert!(
            lib.join(format!("pkgconfig/{pc}.pc")).is_file(),
            "no lib/pkgconfig/{pc}.pc"
        );
        assert_eq!(
            pkg_config_of(pc, &["--modversion"]),
            [VERSION],
            "{pc}.pc version"
        );
    }

    // The CLI, built with the library.
    let cli = prefix.join("bin/ttrt");
    let out = support::run(Command::new(&cli).arg("--version"));
    assert!(
        text(&out.stdout).contains(VERSION),
        "{} --version printed {}",
        cli.display(),
        text(&out.stdout)
    );
}

#[test]
fn c_examples_link_the_shared_library_by_default() {
    if !have_tools() {
        return;
    }
    let build = build_c_examples("packaging-examples-shared", false);
    let program = build.join("version");
    assert_links_shared(&program);
    run_version(&program, true);
    run_device_examples(&build);
    let cpp = build_examples("cpp-examples", "packaging-cpp-examples-shared", false);
    assert_links_shared(&cpp.join("digits"));
    assert_links_shared(&cpp.join("trace_2cq"));
    run_cpp_examples(&cpp, &build);
}

#[test]
fn c_examples_link_the_static_library_with_ttrt_use_static() {
    if !have_tools() {
        return;
    }
    let build = build_c_examples("packaging-examples-static", true);
    let program = build.join("version");
    assert_links_static(&program);
    run_version(&program, false);
    run_device_examples(&build);
    let cpp = build_examples("cpp-examples", "packaging-cpp-examples-static", true);
    assert_links_static(&cpp.join("digits"));
    assert_links_static(&cpp.join("trace_2cq"));
    run_cpp_examples(&cpp, &build);
}

/// Runs the device examples of `c-examples/`: each checks every output against a value the
/// host computes and exits non-zero on any difference.
fn run_device_examples(build: &Path) {
    for (name, says) in [
        (
            "trace_2cq",
            "8 iterations, 4096 values each: all equal to 2 * relu(x)",
        ),
        (
            "events_2cq",
            "8 iterations, 6144 values each: all equal to relu(x) * x",
        ),
        (
            "pipeline",
            "5 configs x 2 rounds x 16 inputs, 4096 values each: all equal to relu(x) . w + b",
        ),
    ] {
        let out = Command::new(build.join(name))
            .env("LD_LIBRARY_PATH", lib_dir())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {name}: {e}"));
        let stdout = text(&out.stdout);
        assert!(
            out.status.success() && stdout.contains(says),
            "{name} failed ({}):\n{stdout}{}",
            out.status,
            text(&out.stderr)
        );
    }
    run_tti_loader(build);
    run_io_runtime_split(build);
}

/// The embedded loader split in two processes on one shared device (a `ttrt sim-device`
/// without `--per-client`): the example compares every output of the io process with a run of
/// the same loops in one process, and says so. Its device is its own, whatever `TTRT_DEVICE`
/// says (the out-of-process matrix reruns this test).
fn run_io_runtime_split(build: &Path) {
    let device =
        support::sim_device::SimDevice::start("io-runtime-split", &["--arch", "Grayskull"]);
    let image = support::root().join("examples").join("digits.tti");
    let out = Command::new(build.join("io_runtime_split"))
        .arg(&image)
        .arg(device.device())
        .arg("4")
        .env("LD_LIBRARY_PATH", lib_dir())
        .output()
        .expect("cannot run io_runtime_split");
    let stdout = text(&out.stdout);
    assert!(
        out.status.success()
            && stdout.contains(
                "4 loops, 1 outputs each: the io process's outputs equal the single process run's"
            ),
        "io_runtime_split failed ({}):\n{stdout}{}",
        out.status,
        text(&out.stderr)
    );
}

/// The embedded loader in C runs the digits image and prints, for each output, the name, shape,
/// format and checksum that `ttrt run` prints for one loop of the same inputs.
fn run_tti_loader(build: &Path) {
    let image = support::root().join("examples").join("digits.tti");
    let out = Command::new(build.join("tti_loader"))
        .arg(&image)
        .env("LD_LIBRARY_PATH", lib_dir())
        .output()
        .expect("cannot run tti_loader");
    let c_lines = text(&out.stdout);
    assert!(
        out.status.success(),
        "tti_loader failed ({}):\n{c_lines}{}",
        out.status,
        text(&out.stderr)
    );
    let empty = support::scratch("tti-loader-no-inputs");
    let run = support::run(
        Command::new(env!("CARGO_BIN_EXE_ttrt"))
            .args(["run", "--loops", "1", "--inputs"])
            .arg(&empty)
            .arg(&image),
    );
    let outputs = |s: &str| -> Vec<String> {
        s.lines()
            .filter(|l| l.starts_with("output "))
            .map(str::to_string)
            .collect()
    };
    let rust_lines = text(&run.stdout);
    assert_eq!(outputs(&c_lines).len(), 1, "{c_lines}");
    assert!(
        c_lines.contains("output logits shape [4, 1, 32, 32] format Float32 checksum 0x"),
        "{c_lines}"
    );
    assert_eq!(
        outputs(&c_lines),
        outputs(&rust_lines),
        "tti_loader:\n{c_lines}ttrt run:\n{rust_lines}"
    );
}

/// Runs an example program of `build` with `args`; fails the test unless it succeeds. Returns
/// its stdout.
fn run_example(build: &Path, name: &str, args: &[&OsStr]) -> String {
    let out = Command::new(build.join(name))
        .args(args)
        .env("LD_LIBRARY_PATH", lib_dir())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {name}: {e}"));
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "{name} failed ({}):\n{stdout}{}",
        out.status,
        text(&out.stderr)
    );
    stdout
}

/// The `output ...` lines of an embedded loader's output.
fn output_lines(s: &str) -> Vec<String> {
    s.lines()
        .filter(|l| l.starts_with("output "))
        .map(str::to_string)
        .collect()
}

/// Correct held-out predictions of the digits image, out of the held-out samples, as
/// examples/digits/train.py printed them ("bf16 (golden) held-out accuracy: 352/360").
const DIGITS_ACCURACY: &str = "accuracy 352/360 = 97.78% over the labelled samples";

/// The C++ examples of `cpp` (built from `cpp-examples/`) against the C examples of `c` (built
/// from `c-examples/`) and `ttrt run`:
/// - `trace_2cq` checks every output against 2 * relu(x) computed on the host, and prints what
///   the C program prints (the trace id, the L1 input's address, the summary);
/// - `digits` prints for the pattern inputs the output lines that `tti_loader` and `ttrt run
///   --loops 1` print, and classifies the held-out digits as train.py and `ttrt run` report.
fn run_cpp_examples(cpp: &Path, c: &Path) {
    let cpp_trace = run_example(cpp, "trace_2cq", &[]);
    let c_trace = run_example(c, "trace_2cq", &[]);
    assert!(
        cpp_trace.contains("8 iterations, 4096 values each: all equal to 2 * relu(x)"),
        "{cpp_trace}"
    );
    assert_eq!(cpp_trace, c_trace, "trace_2cq in C++ and in C");

    let digits = support::root().join("examples").join("digits.tti");
    let inputs = support::root().join("examples/digits/test_inputs.bin");
    let labels = support::root().join("examples/digits/test_labels.bin");
    let cpp_lines = run_example(cpp, "digits", &[digits.as_os_str()]);
    let c_lines = run_example(c, "tti_loader", &[digits.as_os_str()]);
    let empty = support::scratch("cpp-digits-no-inputs");
    let rust_lines = text(
        &support::run(
            Command::new(env!("CARGO_BIN_EXE_ttrt"))
                .args(["run", "--loops", "1", "--inputs"])
                .arg(&empty)
                .arg(&digits),
        )
        .stdout,
    );
    assert_eq!(output_lines(&cpp_lines).len(), 1, "{cpp_lines}");
    assert_eq!(
        output_lines(&cpp_lines),
        output_lines(&c_lines),
        "digits (C++):\n{cpp_lines}tti_loader (C):\n{c_lines}"
    );
    assert_eq!(
        output_lines(&cpp_lines),
        output_lines(&rust_lines),
        "digits (C++):\n{cpp_lines}ttrt run:\n{rust_lines}"
    );

    let classified = run_example(
        cpp,
        "digits",
        &[digits.as_os_str(), inputs.as_os_str(), labels.as_os_str()],
    );
    assert!(classified.contains(DIGITS_ACCURACY), "{classified}");
    let rust_run = text(
        &support::run(
            Command::new(env!("CARGO_BIN_EXE_ttrt"))
                .arg("run")
                .arg(&digits)
                .arg("--inputs")
                .arg(support::root().join("examples/digits"))
                .arg("--labels")
                .arg(&labels),
        )
        .stdout,
    );
    let accuracy = |s: &str| {
        s.lines()
            .find(|l| l.starts_with("accuracy "))
            .map(str::to_string)
    };
    assert_eq!(
        accuracy(&classified),
        accuracy(&rust_run),
        "digits (C++):\n{classified}ttrt run:\n{rust_run}"
    );
}

/// The README's C++ block: a program on ttrt.hpp built with `ttrt.pc` classifies the held-out
/// digits, and the C++ examples build with CMake and run.
#[test]
fn readme_cxx_route_builds_and_runs_the_cpp_examples() {
    if !have_tools() {
        return;
    }
    installed();
    let transcript = readme::run(&readme_blocks().3);
    let copy = readme::checkout();
    assert_links_shared(&copy.join("digits-cpp"));
    let out = readme::output_of(&transcript, "./digits-cpp");
    assert!(
        out.contains("output logits shape [4, 1, 32, 32] format Float32 checksum 0x")
            && out.contains(DIGITS_ACCURACY),
        "./digits-cpp printed:\n{out}"
    );
    let out = readme::output_of(&transcript, "build-cpp-examples/trace_2cq");
    assert!(
        out.contains("8 iterations, 4096 values each: all equal to 2 * relu(x)"),
        "build-cpp-examples/trace_2cq printed:\n{out}"
    );
}

/// The README's pkg-config block: a program linked with `ttrt.pc` needs libttrt.so.0 and starts
/// from the install with no help (the block runs it), one linked with `ttrt-static.pc` contains
/// libttrt.a, and the installed CLI runs.
#[test]
fn readme_pkg_config_route_links_the_shared_and_the_static_library() {
    if !have_tools() {
        return;
    }
    installed();
    let transcript = readme::run(&readme_blocks().1);
    let copy = readme::checkout();

    let shared = copy.join("version");
    assert_links_shared(&shared);
    let out = readme::output_of(&transcript, "./version\n");
    assert!(
        out.contains(&format!("ttrt {VERSION} ")) && out.contains("target x86_64"),
        "./version printed:\n{out}"
    );

    let static_exe = copy.join("version-static");
    assert_links_static(&static_exe);
    let out = readme::output_of(&transcript, "./version-static");
    assert!(
        out.contains("NULL argument -> TTRT_STATUS_INVALID_ARGUMENT"),
        "./version-static printed:\n{out}"
    );

    let out = readme::output_of(
        &transcript,
        &format!("{}", installed().join("bin/ttrt").display()),
    );
    assert!(
        out.contains("- Device Name: digits") && out.contains("- arch: Grayskull"),
        "ttrt info printed:\n{out}"
    );
}

/// `pkg-config --static --libs ttrt-static` names the archive itself: `-lttrt` would find
/// libttrt.so beside it.
#[test]
fn pkg_config_static_names_the_archive() {
    if !have_tools() {
        return;
    }
    let libs = pkg_config_of("ttrt-static", &["--static", "--libs"]);
    let archive = lib_dir().join("libttrt.a").to_string_lossy().into_owned();
    assert_eq!(libs.first(), Some(&archive), "{libs:?}");
    assert!(!libs.iter().any(|l| l == "-lttrt"), "{libs:?}");
}

/// The README's install block builds with cargo, then has CMake build into the same target dir:
/// cargo must find the library and the CLI up to date.
#[test]
fn cmake_build_reuses_the_target_dir_it_is_given() {
    if !have_tools() {
        return;
    }
    let transcript = install_transcript();
    let out = readme::output_of(transcript, "cmake --build build");
    assert!(
        !out.contains("Compiling ttrt") && out.contains("Finished"),
        "`cmake --build build` should find cargo's build up to date:\n{out}"
    );
}

/// Configured with `CARGO_TARGET_DIR` in the environment, the CMake build reuses that dir.
#[test]
fn cmake_build_reuses_cargo_target_dir_from_the_environment() {
    if !have_tools() {
        return;
    }
    install_transcript();
    let copy = readme::checkout();
    let target = copy.join("target");
    let build = copy.join("build-env");
    let _ = std::fs::remove_dir_all(&build);
    support::run(
        Command::new("cmake")
            .current_dir(copy)
            .env("CARGO_TARGET_DIR", &target)
            .args(["-S", "cmake", "-B"])
            .arg(&build),
    );
    let out = support::run(
        Command::new("cmake")
            .current_dir(copy)
            .env_remove("CARGO_TARGET_DIR")
            .arg("--build")
            .arg(&build),
    );
    let out = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(
        !out.contains("Compiling ttrt") && out.contains("Finished"),
        "a build configured with CARGO_TARGET_DIR={} should find it up to date:\n{out}",
        target.display()
    );
}

#[test]
fn declared_native_static_libs_match_what_rustc_reports() {
    if !have_tools() {
        return;
    }
    let reported = rustc_native_static_libs();

    let declared_in = support::root().join("cmake/native-static-libs.cmake");
    let declared = cmake_native_static_libs(&declared_in);

    let pc =
        std::fs::read_to_string(lib_dir().join("pkgconfig/ttrt.pc")).expect("installed ttrt.pc");
    let libs_private: Vec<String> = pc
        .lines()
        .find_map(|l| l.strip_prefix("Libs.private:"))
        .expect("ttrt.pc has no Libs.private")
        .split_whitespace()
        .map(str::to_string)
        .collect();

    let static_pc = std::fs::read_to_string(lib_dir().join("pkgconfig/ttrt-static.pc"))
        .expect("installed ttrt-static.pc");
    let static_libs: Vec<String> = static_pc
        .lines()
        .find_map(|l| l.strip_prefix("Libs:"))
        .expect("ttrt-static.pc has no Libs")
        .split_whitespace()
        .skip(1) // the archive
        .map(str::to_string)
        .collect();

    let config = lib_dir().join("cmake/ttrt/ttrtConfig.cmake");
    let in_config = cmake_native_static_libs(&config);

    for (what, list) in [
        (format!("declared in {}", declared_in.display()), &declared),
        (
            "in the installed ttrt.pc Libs.private".to_string(),
            &libs_private,
        ),
        (
            "after libttrt.a in the installed ttrt-static.pc Libs".to_string(),
            &static_libs,
        ),
        ("in the installed ttrtConfig.cmake".to_string(), &in_config),
    ] {
        assert!(
            *list == reported,
            "native static libs {what} differ from what rustc reports\n  rustc:    {}\n  packaged: {}",
            reported.join(" "),
            list.join(" ")
        );
    }
}
