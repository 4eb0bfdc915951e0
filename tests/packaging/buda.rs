//! Buda's C++ API (include/ttrt/buda/) from the installed package: PyBuda's embedded TTI loader,
//! verbatim (tests/cpp/buda/guide_loader.cpp), builds with `-std=c++17 -Wall -Wextra -Werror`
//! through CMake's `ttrt::buda` and through `pkg-config ttrt-buda` (the README's block), runs on
//! the digits image, and what it pushes and gets through the C ABI (recorded by an LD_PRELOAD
//! library, tests/cpp/buda/record_io.c) equals the C API's own run of the same inputs, bit for
//! bit. tests/cpp/buda/compat_test.cpp checks the rest of the API call by call.

use std::ffi::{CStr, CString};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use ttrt::ffi::backend::*;
use ttrt::ffi::format::{ttrt_io_desc, ttrt_tensor_desc};
use ttrt::ffi::image::*;

use super::support::{self, digits_ffi::ok, readme};
use super::{have_tools, installed, lib_dir, readme_blocks, text};

/// The guide's loader runs this many loops in every test.
const LOOPS: usize = 3;

/// tests/cpp/buda built against the installed package with CMake, once per test binary.
fn build() -> &'static Path {
    static BUILD: OnceLock<PathBuf> = OnceLock::new();
    BUILD.get_or_init(|| {
        let build = support::scratch("packaging-buda").join("build");
        support::run(
            Command::new("cmake")
                .arg("-S")
                .arg(support::root().join("tests/cpp/buda"))
                .arg("-B")
                .arg(&build)
                .arg(super::define("CMAKE_PREFIX_PATH", installed())),
        );
        support::run(Command::new("cmake").arg("--build").arg(&build));
        let cache = std::fs::read_to_string(build.join("CMakeCache.txt")).unwrap();
        assert!(
            cache.lines().any(|l| l
                == format!(
                    "ttrt_DIR:PATH={}",
                    lib_dir().join("cmake").join("ttrt").display()
                )),
            "tests/cpp/buda found ttrt elsewhere"
        );
        build
    })
}

fn digits() -> PathBuf {
    support::root().join("examples").join("digits.tti")
}

/// One input pushed ('I') or output got ('O') as record_io.c writes it.
#[derive(Debug)]
struct Record {
    kind: u8,
    name: String,
    format: u32,
    itemsize: u32,
    shape: [u32; 4],
    bytes: Vec<u8>,
}

fn parse(mut data: &[u8]) -> Vec<Record> {
    fn take<'a>(data: &mut &'a [u8], n: usize) -> &'a [u8] {
        assert!(data.len() >= n, "truncated record");
        let (head, rest) = data.split_at(n);
        *data = rest;
        head
    }
    let u32_of = |b: &[u8]| u32::from_ne_bytes(b.try_into().unwrap());
    let mut out = Vec::new();
    while !data.is_empty() {
        let kind = take(&mut data, 1)[0];
        let len = u32_of(take(&mut data, 4)) as usize;
        let name = String::from_utf8(take(&mut data, len).to_vec()).unwrap();
        let format = u32_of(take(&mut data, 4));
        let itemsize = u32_of(take(&mut data, 4));
        let mut shape = [0u32; 4];
        for s in &mut shape {
            *s = u32_of(take(&mut data, 4));
        }
        let n = u64::from_ne_bytes(take(&mut data, 8).try_into().unwrap()) as usize;
        let bytes = take(&mut data, n).to_vec();
        out.push(Record {
            kind,
            name,
            format,
            itemsize,
            shape,
            bytes,
        });
    }
    out
}

/// Runs a build of the guide's loader on the digits image for `LOOPS` loops under record_io
/// (filling inputs with `fill` as seed when given), checks what it printed, and returns the
/// records.
fn run_recorded(program: &Path, fill: Option<&str>, name: &str) -> Vec<Record> {
    let dir = support::scratch(name);
    let file = dir.join("io.bin");
    let mut cmd = Command::new(program);
    cmd.arg(digits())
        .arg(LOOPS.to_string())
        .current_dir(&dir)
        .env("LD_LIBRARY_PATH", lib_dir())
        .env("LD_PRELOAD", build().join("librecord_io.so"))
        .env("TTRT_RECORD_IO", &file)
        .env_remove("TTRT_RECORD_FILL");
    if let Some(seed) = fill {
        cmd.env("TTRT_RECORD_FILL", seed);
    }
    let out = cmd.output().expect("run the guide's loader");
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "{} failed ({}):\n{stdout}{}",
        program.display(),
        out.status,
        text(&out.stderr)
    );
    assert_guide_lines(&stdout);
    assert!(
        dir.join("tt_build/test_standalone_runtime").is_dir(),
        "the loader creates its output directory"
    );
    parse(&std::fs::read(&file).expect("record_io wrote nothing"))
}

/// The guide's loader prints, per loop, the pushed input and the output got, with pointers.
fn assert_guide_lines(stdout: &str) {
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2 * LOOPS, "{stdout}");
    for pair in lines.chunks(2) {
        assert!(
            pair[0].starts_with("Pushed Input tensor x data ptr: 0x")
                && pair[1].starts_with("Got Output tensor logits data ptr: 0x"),
            "{stdout}"
        );
    }
}

/// Pushes the recorded inputs through the C API on a backend of the same image (the
/// defaults, as the loader's `tt_backend_config{}` on a Silicon image), runs every program
/// with `$p_loop_count` 1 after each loop's inputs, and compares each output with the
/// recorded one: name, format, shape and every byte. Returns the loops compared.
fn replay_through_the_c_api(records: &[Record]) -> usize {
    let path = CString::new(digits().to_str().unwrap()).unwrap();
    let (loop_param, one) = (
        CString::new("$p_loop_count").unwrap(),
        CString::new("1").unwrap(),
    );
    let mut loops = 0;
    // SAFETY: live handles throughout; descriptors and tensors are valid for each call, and
    // every tensor the backend returns is freed before the backend.
    unsafe {
        let mut img = std::ptr::null_mut();
        ok(ttrt_image_open(path.as_ptr(), &mut img));
        let mut cfg = std::mem::zeroed::<ttrt_backend_config>();
        ttrt_backend_config_default(&mut cfg);
        let mut be = std::ptr::null_mut();
        ok(ttrt_backend_create(img, &cfg, &mut be));
        ok(ttrt_backend_initialize(be));
        let queue = |name: &str| {
            let c = CString::new(name).unwrap();
            let mut q = std::mem::zeroed::<ttrt_io_desc>();
            ok(ttrt_backend_get_queue_descriptor(be, c.as_ptr(), &mut q));
            q
        };
        let mut i = 0;
        while i < records.len() {
            assert_eq!(records[i].kind, b'I', "a loop starts with its inputs");
            while i < records.len() && records[i].kind == b'I' {
                let r = &records[i];
                let q = queue(&r.name);
                let s = r.shape;
                let item = r.itemsize;
                let t = ttrt_tensor_desc {
                    ptr: r.bytes.as_ptr().cast(),
                    itemsize: item,
                    format: r.format,
                    shape: s,
                    strides: [
                        s[1] * s[2] * s[3] * item,
                        s[2] * s[3] * item,
                        s[3] * item,
                        item,
                    ],
                    dim: 4,
                    owner: 0,
                };
                ok(ttrt_push_input(be, &q, &t, false, 1000, -1));
                i += 1;
            }
            for p in 0..ttrt_backend_program_count(be) {
                let name = ttrt_backend_program_name(be, p);
                let declared: Vec<String> = (0..ttrt_backend_program_param_count(be, p))
                    .map(|k| {
                        CStr::from_ptr(ttrt_backend_program_param_name(be, p, k))
                            .to_string_lossy()
                            .into_owned()
                    })
                    .collect();
                assert_eq!(declared, ["$p_loop_count"], "the digits program's params");
                let param = ttrt::ffi::backend::ttrt_program_param {
                    name: loop_param.as_ptr(),
                    value: one.as_ptr(),
                };
                ok(ttrt_backend_run_program(be, name, &param, 1));
            }
            while i < records.len() && records[i].kind == b'O' {
                let r = &records[i];
                let q = queue(&r.name);
                let mut t = std::mem::zeroed::<ttrt_tensor_desc>();
                ok(ttrt_get_output(be, &q, &mut t, false, 1000, -1));
                let n: usize =
                    t.shape.iter().map(|&d| d as usize).product::<usize>() * t.itemsize as usize;
                let got = std::slice::from_raw_parts(t.ptr.cast::<u8>(), n);
                assert_eq!(
                    (t.format, t.itemsize, t.shape),
                    (r.format, r.itemsize, r.shape),
                    "loop {loops}: output {} of the Buda API",
                    r.name
                );
                assert_eq!(t.strides[3], t.itemsize, "the C API's output is contiguous");
                assert!(
                    got == r.bytes.as_slice(),
                    "loop {loops}: output {} of the Buda API differs from the C API's",
                    r.name
                );
                ok(ttrt_tensor_desc_free(&mut t));
                ok(ttrt_pop_output(be, &q, false, 1000));
                i += 1;
            }
            loops += 1;
        }
        ok(ttrt_backend_finish(be));
        ttrt_backend_free(be);
        ttrt_image_free(img);
    }
    loops
}

/// The records of one run, checked against the guide's loop: per loop, one input `x` (Float16_b,
/// [4, 1, 32, 64]) and one output `logits` (Float32, [4, 1, 32, 32]).
fn assert_guide_records(records: &[Record]) {
    let kinds: Vec<(u8, &str)> = records.iter().map(|r| (r.kind, r.name.as_str())).collect();
    assert_eq!(kinds, [(b'I', "x"), (b'O', "logits")].repeat(LOOPS));
    for r in records {
        let (format, shape) = if r.kind == b'I' {
            (5, [4, 1, 32, 64])
        } else {
            (0, [4, 1, 32, 32])
        };
        assert_eq!((r.format, r.shape), (format, shape), "{}", r.name);
    }
}

/// What the verbatim loader pushes and gets through the C ABI equals the C API's own run of the
/// same inputs: with the zeroed inputs its fill_tensor_with_data gives, and with inputs
/// record_io fills with random values before they cross (so the outputs depend on them).
#[test]
fn buda_guide_loader_built_with_cmake_matches_the_c_api() {
    if !have_tools() {
        return;
    }
    let program = build().join("guide_loader");
    assert_outputs_match(&program, "buda-guide-cmake");
}

fn assert_outputs_match(program: &Path, name: &str) {
    let zeros = run_recorded(program, None, &format!("{name}-zeros"));
    assert_guide_records(&zeros);
    for r in zeros.iter().filter(|r| r.kind == b'I') {
        assert!(
            r.bytes.iter().all(|&b| b == 0),
            "fill_tensor_with_data gives zeroed memory, as upstream's"
        );
    }
    assert_eq!(replay_through_the_c_api(&zeros), LOOPS);

    let filled = run_recorded(program, Some("12345"), &format!("{name}-filled"));
    assert_guide_records(&filled);
    let inputs: Vec<&Record> = filled.iter().filter(|r| r.kind == b'I').collect();
    assert!(inputs.iter().all(|r| r.bytes.iter().any(|&b| b != 0)));
    assert!(
        inputs[0].bytes != inputs[1].bytes,
        "each loop pushes other inputs"
    );
    let outputs = |rs: &[Record]| -> Vec<Vec<u8>> {
        rs.iter()
            .filter(|r| r.kind == b'O')
            .map(|r| r.bytes.clone())
            .collect()
    };
    assert!(
        outputs(&filled)
            .iter()
            .zip(outputs(&zeros).iter())
            .all(|(a, b)| a != b),
        "the outputs depend on the inputs"
    );
    assert_eq!(replay_through_the_c_api(&filled), LOOPS);
}

/// The README's Buda block builds the verbatim loader with `pkg-config ttrt-buda` and runs it;
/// that build's outputs equal the C API's too.
#[test]
fn readme_buda_pkg_config_route_builds_and_runs_the_guide_loader() {
    if !have_tools() {
        return;
    }
    installed();
    let transcript = readme::run(&readme_blocks().2);
    let out = readme::output_of(&transcript, "./guide_loader ");
    assert_guide_lines(
        &out.lines()
            .filter(|l| !l.starts_with('+'))
            .map(|l| format!("{l}\n"))
            .collect::<String>(),
    );
    let program = readme::checkout().join("guide_loader");
    assert!(
        super::support::needed(&program).contains(&super::soname()),
        "the pkg-config build links libttrt.so"
    );
    assert_outputs_match(&program, "buda-guide-pkg-config");
}

/// The README's CMake lines for the Buda API are the ones tests/cpp/buda/CMakeLists.txt (built
/// above) uses.
#[test]
fn readme_buda_cmake_lines_are_the_tested_projects() {
    let readme = std::fs::read_to_string(support::root().join("README.md")).unwrap();
    let marker =
        "<!-- tests/packaging/buda.rs checks that these lines are in tests/cpp/buda/CMakeLists.txt -->";
    let at = readme
        .find(marker)
        .expect("README.md marks its Buda CMake lines");
    let block = readme[at + marker.len()..]
        .trim_start()
        .strip_prefix("```cmake\n")
        .expect("a ```cmake block after the marker");
    let block = &block[..block.find("```").unwrap()];
    let project =
        std::fs::read_to_string(support::root().join("tests/cpp/buda/CMakeLists.txt")).unwrap();
    let code = |l: &str| l.split('#').next().unwrap().trim().to_string();
    let project_lines: Vec<String> = project.lines().map(code).collect();
    let lines: Vec<String> = block.lines().map(code).filter(|l| !l.is_empty()).collect();
    assert!(!lines.is_empty());
    for l in &lines {
        assert!(
            project_lines.contains(l),
            "README's `{l}` is not in tests/cpp/buda/CMakeLists.txt"
        );
    }
}

/// compat_test (plain and under AddressSanitizer and UBSan) passes every check.
#[test]
fn buda_api_compat_checks_pass() {
    if !have_tools() {
        return;
    }
    let training = support::root().join(
        "tests/corpus/netlists/verif/netlist_tests/netlists/basic_program/\
         netlist_sanity_training_program.yaml",
    );
    for program in ["compat_test", "compat_test_asan"] {
        let dir = support::scratch(&format!("buda-{program}"));
        let out = Command::new(build().join(program))
            .arg(digits())
            .arg(support::root().join("examples/digits/digits.yaml"))
            .arg(&training)
            .arg(support::root().join("tests/cpp/buda/golden_modes.yaml"))
            .arg(support::root().join("tests/fixtures/harvested/digits_gs_8x12.tti"))
            .arg(support::root().join("tests/corpus/soc_descriptors"))
            .current_dir(&dir)
            .env("LD_LIBRARY_PATH", lib_dir())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
        let stdout = text(&out.stdout);
        assert!(
            out.status.success() && stdout.contains(", 0 failed"),
            "{program} failed ({}):\n{stdout}{}",
            out.status,
            text(&out.stderr)
        );
        for what in ["digits.tti", "digits.yaml"] {
            assert!(
                stdout.contains(&format!(
                    "{what}: 3 loops, 49152 output bytes equal the C API's"
                )),
                "{stdout}"
            );
        }
    }
}

/// The fixture is the guide's code block byte for byte (its SHA-256 is recorded in
/// tests/cpp/buda/README.md, taken from the guide when it was copied).
#[test]
fn the_guide_loader_fixture_is_unchanged() {
    let readme = std::fs::read_to_string(support::root().join("tests/cpp/buda/README.md")).unwrap();
    let recorded = readme
        .lines()
        .find_map(|l| l.trim().strip_prefix("SHA-256 of guide_loader.cpp: "))
        .expect("tests/cpp/buda/README.md records the fixture's SHA-256");
    let out = support::run(
        Command::new("sha256sum").arg(support::root().join("tests/cpp/buda/guide_loader.cpp")),
    );
    let sum = text(&out.stdout);
    assert_eq!(
        sum.split_whitespace().next(),
        Some(recorded.trim()),
        "guide_loader.cpp differs from the guide's code block"
    );
}
