//! ttrt.hpp, the C++ interface: tests/cpp/wrapper_test.cpp, built with AddressSanitizer and
//! UndefinedBehaviorSanitizer against include/ and libttrt.so, runs on examples/digits.tti with
//! LeakSanitizer on and passes every check. Then the same program is built against copies of
//! the header that each carry one defect (a destructor that releases nothing, a move that leaves
//! its source owning, an error text that is not the C API's, a span length not passed on, an
//! exception let into C...), and each run must fail, naming the check that caught it: the tests
//! can fail.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::{have_tool, host_lib_dir, root, run, scratch, stage_shared_lib, STRICT_CXX};

/// Builds wrapper_test.cpp against the headers in `include` into `dir`; returns the program.
/// `werror`: warnings are errors (off for a header with a defect put in, which a compiler may
/// warn about, as GCC does about a throw in a noexcept function).
fn build(include: &Path, dir: &Path, werror: bool) -> PathBuf {
    let lib = dir.join("lib");
    stage_shared_lib(host_lib_dir(), &lib);
    let exe = dir.join("wrapper_test");
    run(Command::new("c++")
        .args(STRICT_CXX.iter().filter(|&&f| werror || f != "-Werror"))
        .args([
            "-g",
            "-fsanitize=address,undefined",
            "-fno-sanitize-recover=all",
            "-pthread",
        ])
        .arg("-I")
        .arg(include)
        .arg(root().join("tests/cpp/wrapper_test.cpp"))
        .arg("-o")
        .arg(&exe)
        .arg(format!("-L{}", lib.display()))
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .arg("-lttrt"));
    exe
}

fn run_test(exe: &Path) -> (Output, String) {
    let out = Command::new(exe)
        .arg(root().join("examples/digits.tti"))
        .env("ASAN_OPTIONS", "detect_leaks=1")
        .env("UBSAN_OPTIONS", "print_stacktrace=1")
        // The checks count this process's threads: no device process may serve it.
        .env_remove("TTRT_DEVICE")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", exe.display()));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out, text)
}

#[test]
fn wrapper_test_passes_under_address_leak_and_undefined_sanitizers() {
    if !have_tool("c++", "compiling the C++ wrapper test") {
        return;
    }
    let exe = build(&root().join("include"), &scratch("cxx_wrapper"), true);
    let (out, text) = run_test(&exe);
    assert!(
        out.status.success(),
        "wrapper_test failed ({}):\n{text}",
        out.status
    );
    assert!(text.contains(" passed, 0 failed"), "{text}");
    assert!(!text.contains("LeakSanitizer"), "{text}");
}

/// One defect put into a copy of ttrt.hpp: the text replaced, what replaces it, and what the
/// test's output must then contain (any one of them).
struct Defect {
    what: &'static str,
    from: &'static str,
    to: &'static str,
    caught_by: &'static [&'static str],
}

const DEFECTS: &[Defect] = &[
    Defect {
        what: "the image destructor frees nothing",
        from: "~image() { ttrt_image_free(h_); }",
        to: "~image() {}",
        caught_by: &["image_mappings() == 0"],
    },
    Defect {
        what: "moving an image leaves the source owning it",
        from: "image(image &&other) noexcept : h_(std::exchange(other.h_, nullptr)) {}",
        to: "image(image &&other) noexcept : h_(other.h_) {}",
        caught_by: &["!a && a.get() == nullptr"],
    },
    Defect {
        what: "the device destructor does not close",
        from: "    ~device() {\n        if (d_ != nullptr) {",
        to: "    ~device() {\n        if (false && d_ != nullptr) {",
        caught_by: &["thread_count() == before"],
    },
    Defect {
        what: "the backend destructor frees nothing",
        from: "~backend() { ttrt_backend_free(h_); }",
        to: "~backend() {}",
        caught_by: &["thread_count() == before"],
    },
    Defect {
        what: "the tensor destructor frees nothing",
        from: "~tensor() { ttrt_tensor_free(t_); }",
        to: "~tensor() {}",
        caught_by: &["again.buffer_address() == first"],
    },
    Defect {
        what: "the backend tensor destructor frees nothing",
        from: "    ~backend_tensor() {\n        if (d_.ptr != nullptr) {",
        to: "    ~backend_tensor() {\n        if (false && d_.ptr != nullptr) {",
        caught_by: &["again.status == TTRT_STATUS_INVALID_ARGUMENT"],
    },
    Defect {
        what: "the trace destructor releases nothing",
        from: "~trace() { reset(); }",
        to: "~trace() {}",
        caught_by: &["gone.status == TTRT_STATUS_NOT_FOUND"],
    },
    Defect {
        what: "a capture left by an exception is not ended",
        from: "~trace_capture() { abandon(); }",
        to: "~trace_capture() {}",
        caught_by: &["again.ok()"],
    },
    Defect {
        what: "a freed pipeline leaks its model",
        from: "        model_.reset();\n    }",
        to: "        (void)model_.release();\n    }",
        caught_by: &["ERROR: LeakSanitizer: detected memory leaks"],
    },
    Defect {
        what: "errors carry the status name instead of the C API's text",
        from: "return result<T>(failure_tag{}, status, std::string(ttrt_last_error_message()));",
        to: "return result<T>(failure_tag{}, status, std::string(ttrt_status_str(status)));",
        caught_by: &["FAILED image::open of a missing file"],
    },
    Defect {
        what: "a host tensor passes the element count as its size",
        from: "    h.size = data.size_bytes();",
        to: "    h.size = data.size();",
        caught_by: &["h.size == short_tile.size() * sizeof(float)"],
    },
    Defect {
        what: "tilize passes one byte more than the span holds",
        from: "options, dst.data(), dst.size()));",
        to: "options, dst.data(), dst.size() + 1));",
        caught_by: &[
            "short_dst.status == TTRT_STATUS_INVALID_ARGUMENT",
            "heap-buffer-overflow",
        ],
    },
    Defect {
        what: "the log callback lets an exception into C",
        from: "        // No exception crosses back into C; the record is dropped.\n",
        to: "        throw;\n",
        caught_by: &["log receiver failed on purpose", "terminate"],
    },
    Defect {
        what: "a successful call allocates its (empty) message",
        from: "result() noexcept : status_(TTRT_STATUS_SUCCESS) {}",
        to: "result() : status_(TTRT_STATUS_SUCCESS), message_(40, ' ') {}",
        caught_by: &["cxx_allocations.load() == before"],
    },
    Defect {
        what: "a pipeline model's exception other than ttrt::error reaches C",
        from: "        } catch (...) {\n            h->pending = std::current_exception();\n            return TTRT_STATUS_RUNTIME_ERROR;\n        }\n",
        to: "        }\n",
        caught_by: &["model failed on purpose", "terminate"],
    },
    Defect {
        what: "a pipeline call drops the model's exception for a ttrt::error",
        from: "        if (pending) {\n            std::rethrow_exception(pending);\n        }\n",
        to: "",
        caught_by: &["rethrown"],
    },
];

fn with_defect(header: &str, d: &Defect) -> String {
    assert_eq!(
        header.matches(d.from).count(),
        1,
        "ttrt.hpp should contain `{}` exactly once (defect: {}); update tests/ffi/cxx_wrapper.rs",
        d.from,
        d.what
    );
    header.replacen(d.from, d.to, 1)
}

#[test]
fn wrapper_test_catches_each_broken_wrapper() {
    if !have_tool("c++", "compiling the C++ wrapper test") {
        return;
    }
    let header = std::fs::read_to_string(root().join("include/ttrt.hpp")).expect("read ttrt.hpp");
    let c_header = root().join("include/ttrt.h");
    let mut missed = Vec::new();
    for (i, d) in DEFECTS.iter().enumerate() {
        let dir = scratch(&format!("cxx_wrapper_defect_{i}"));
        let include = dir.join("include");
        std::fs::create_dir_all(&include).unwrap();
        std::fs::copy(&c_header, include.join("ttrt.h")).unwrap();
        std::fs::write(include.join("ttrt.hpp"), with_defect(&header, d)).unwrap();
        let exe = build(&include, &dir, false);
        let (out, text) = run_test(&exe);
        let caught = !out.status.success() && d.caught_by.iter().any(|s| text.contains(s));
        if !caught {
            missed.push(format!(
                "{} ({}; expected one of {:?}):\n{text}",
                d.what, out.status, d.caught_by
            ));
        }
    }
    assert!(
        missed.is_empty(),
        "wrapper_test did not catch:\n{}",
        missed.join("\n")
    );
}
