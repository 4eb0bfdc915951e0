//! The library as a C program sees it: the header compiles as C11 and C++17 under strict
//! warnings with its layouts pinned, a C program exercises the error model against libttrt.so,
//! the shared library carries its SONAME and exports nothing but `ttrt_*`.

use crate::support;

use std::path::Path;
use std::process::Command;

use support::{
    have_tool, host_lib_dir, root, run, scratch, stage_shared_lib, STRICT_C, STRICT_CXX,
};

fn compile_and_run(compiler: &str, lang_flags: &[&str], name: &str) {
    if !have_tool(compiler, "compiling the C ABI check") {
        return;
    }
    let lib = host_lib_dir();
    let dir = scratch(name);
    stage_shared_lib(lib, &dir.join("lib"));
    let exe = dir.join("abi_check");
    run(Command::new(compiler)
        .args(lang_flags)
        .args([
            "-fsanitize=address,undefined",
            "-fno-sanitize-recover=all",
            "-pthread",
        ])
        .arg("-I")
        .arg(root().join("include"))
        .arg(root().join("tests/c/abi_check.c"))
        .arg("-o")
        .arg(&exe)
        .arg(format!("-L{}", dir.join("lib").display()))
        .arg(format!("-Wl,-rpath,{}", dir.join("lib").display()))
        .arg("-lttrt"));
    let out = run(Command::new(&exe).env("ASAN_OPTIONS", "detect_leaks=0"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
}

#[test]
fn header_compiles_as_c11_with_pinned_layouts_and_error_model_holds() {
    compile_and_run("cc", STRICT_C, "abi_c11");
}

#[test]
fn header_compiles_as_cxx17_with_pinned_layouts_and_error_model_holds() {
    compile_and_run("c++", STRICT_CXX, "abi_cxx17");
}

fn dynamic_section(lib: &Path) -> String {
    let out = run(Command::new("readelf").arg("-d").arg(lib));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn shared_library_soname_is_libttrt_so_major() {
    if !have_tool("readelf", "reading the SONAME") {
        return;
    }
    let dynamic = dynamic_section(&host_lib_dir().join("libttrt.so"));
    let soname = dynamic
        .lines()
        .find(|l| l.contains("(SONAME)"))
        .unwrap_or_else(|| panic!("libttrt.so has no SONAME:\n{dynamic}"));
    let major = env!("CARGO_PKG_VERSION_MAJOR");
    assert!(
        soname.contains(&format!("[libttrt.so.{major}]")),
        "{soname}"
    );
}

#[test]
fn shared_library_exports_only_ttrt_symbols() {
    if !have_tool("nm", "reading the dynamic symbol table") {
        return;
    }
    let out = run(Command::new("nm")
        .args(["-D", "--defined-only", "--format=posix"])
        .arg(host_lib_dir().join("libttrt.so")));
    let table = String::from_utf8_lossy(&out.stdout);
    let names: Vec<&str> = table
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let foreign: Vec<&&str> = names.iter().filter(|n| !n.starts_with("ttrt_")).collect();
    assert!(
        foreign.is_empty(),
        "libttrt.so exports symbols outside ttrt_*: {foreign:?}"
    );
    // The public functions of the header are all there.
    let header = std::fs::read_to_string(root().join("include/ttrt.h")).unwrap();
    let declared: Vec<&str> = header.lines().filter_map(declared_function).collect();
    assert!(
        declared.len() >= 6,
        "too few prototypes found in ttrt.h: {declared:?}"
    );
    for declared in declared {
        if declared.starts_with("ttrt_firmware_") {
            continue; // hooks the bare-metal firmware defines, not the library
        }
        assert!(
            names.contains(&declared),
            "{declared} is declared in ttrt.h but not exported"
        );
    }
}

/// The function name of a prototype line in the header (`... ttrt_x(...`), if it is one.
fn declared_function(line: &str) -> Option<&str> {
    if line.starts_with("//") || line.starts_with(' ') || line.starts_with('#') {
        return None;
    }
    let open = line.find('(')?;
    let name = line[..open].rsplit([' ', '*']).next()?;
    name.starts_with("ttrt_").then_some(name)
}
