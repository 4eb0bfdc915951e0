//! The library on the targets its users deploy to: Linux SoCs (aarch64, riscv64), where the
//! README's cross-compile commands, run as written, install it and link a C program that runs
//! under qemu-user, and bare metal, where the no-feature core builds as a staticlib that
//! firmware links.

mod support;

use std::path::Path;
use std::process::Command;

use support::{
    build_lib, have_rust_target, have_tool, needed, readme, root, run, scratch, STRICT_C,
};

struct LinuxTarget {
    triple: &'static str,
    gcc: &'static str,
    qemu: &'static str,
    sysroot: &'static str,
}

const AARCH64: LinuxTarget = LinuxTarget {
    triple: "aarch64-unknown-linux-gnu",
    gcc: "aarch64-linux-gnu-gcc",
    qemu: "qemu-aarch64",
    sysroot: "/usr/aarch64-linux-gnu",
};

const RISCV64: LinuxTarget = LinuxTarget {
    triple: "riscv64gc-unknown-linux-gnu",
    gcc: "riscv64-linux-gnu-gcc",
    qemu: "qemu-riscv64",
    sysroot: "/usr/riscv64-linux-gnu",
};

fn tools_for(t: &LinuxTarget) -> bool {
    let why = format!("the {} cross test", t.triple);
    // Evaluate all three so every missing tool is reported.
    let have = [
        have_rust_target(t.triple),
        have_tool(t.gcc, &why),
        have_tool(t.qemu, &why),
    ];
    have.iter().all(|&h| h)
}

/// The README's cross-compile block, for `t` (written for aarch64; riscv64 is the same with the
/// name replaced, as the README says).
fn readme_block_for(t: &LinuxTarget) -> String {
    let blocks = readme::blocks("tests/cross.rs");
    assert_eq!(
        blocks.len(),
        1,
        "README.md should mark one block for tests/cross.rs: {blocks:?}"
    );
    let arch = t.gcc.split('-').next().unwrap();
    blocks[0].replace("aarch64", arch)
}

/// The README's route for a Linux SoC, run as written: CMake with the toolchain file builds and
/// installs the target's library (with its SONAME links) and CLI, the cross compiler links
/// version.c against libttrt.so and libttrt.a through pkg-config, and both run under qemu-user.
fn readme_cross_route_runs_on(t: &LinuxTarget) {
    if !tools_for(t)
        || !have_tool("cmake", "the README's cross route")
        || !have_tool("pkg-config", "the README's cross route")
    {
        return;
    }
    let arch = t.gcc.split('-').next().unwrap();
    let transcript = readme::run(&readme_block_for(t));
    let copy = readme::checkout();

    let shared = copy.join(format!("version-{arch}"));
    let out = readme::output_of(
        &transcript,
        &format!("{} -L {} ./version-{arch}\n", t.qemu, t.sysroot),
    );
    assert!(
        out.contains(&format!("target {}", t.triple)),
        "the shared {arch} program printed:\n{out}"
    );
    assert!(
        needed(&shared).contains(&"libttrt.so.0".to_string()),
        "{} should need libttrt.so.0: {:?}",
        shared.display(),
        needed(&shared)
    );

    let static_exe = copy.join(format!("version-{arch}-static"));
    let out = readme::output_of(
        &transcript,
        &format!("{} -L {} ./version-{arch}-static", t.qemu, t.sysroot),
    );
    assert!(
        out.contains("NULL argument -> TTRT_STATUS_INVALID_ARGUMENT"),
        "the static {arch} program printed:\n{out}"
    );
    let static_needs = needed(&static_exe);
    assert!(
        !static_needs.iter().any(|n| n.contains("libttrt")),
        "{} should contain libttrt.a but needs {static_needs:?}",
        static_exe.display()
    );

    // The install: SONAME links, and the CLI built for the target.
    let prefix = readme::opt().join(format!("ttrt-{arch}"));
    let lib = prefix.join("lib");
    for (link, to) in [
        ("libttrt.so", "libttrt.so.0"),
        (
            "libttrt.so.0",
            concat!("libttrt.so.", env!("CARGO_PKG_VERSION")),
        ),
    ] {
        assert_eq!(
            std::fs::read_link(lib.join(link)).ok().as_deref(),
            Some(Path::new(to)),
            "{arch}: lib/{link} should link to {to}"
        );
    }
    let out = run(Command::new(t.qemu)
        .arg("-L")
        .arg(t.sysroot)
        .arg(prefix.join("bin/ttrt"))
        .arg("--version"));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(env!("CARGO_PKG_VERSION")),
        "{arch}: bin/ttrt --version printed {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn aarch64_linux_readme_route_installs_links_and_runs_a_c_program() {
    readme_cross_route_runs_on(&AARCH64);
}

#[test]
fn riscv64_linux_readme_route_installs_links_and_runs_a_c_program() {
    readme_cross_route_runs_on(&RISCV64);
}

/// Symbols of a static library: (defined, undefined) names.
fn symbols(archive: &Path) -> (Vec<String>, Vec<String>) {
    let out = run(Command::new("nm")
        .args(["--format=posix", "-A"])
        .arg(archive));
    let (mut defined, mut undefined) = (Vec::new(), Vec::new());
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let mut fields = line.split_whitespace().skip(1);
        let (Some(name), Some(kind)) = (fields.next(), fields.next()) else {
            continue;
        };
        if kind == "U" {
            undefined.push(name.to_string());
        } else {
            defined.push(name.to_string());
        }
    }
    (defined, undefined)
}

/// The core as a bare-metal staticlib (`features`: extra cargo arguments): no std anywhere (a
/// bare-metal target has none, so a dependency that needs it fails the build), the C functions
/// are defined, and what it needs from the firmware besides the compiler's own routines are the
/// hooks ttrt.h declares for it.
fn core_builds_for_bare_metal(triple: &str, features: &[&str]) -> Option<std::path::PathBuf> {
    if !have_rust_target(triple) || !have_tool("nm", "reading the bare-metal archive") {
        return None;
    }
    // Each feature set gets its own target dir: the same triple with other features would
    // overwrite libttrt.a while another test links it.
    let dir = support::nested_target_dir().join(format!("bare{}", features.join("-")));
    let mut args = vec![
        "--no-default-features",
        "--target-dir",
        dir.to_str().unwrap(),
    ];
    if !features.is_empty() {
        args.push("--features");
        args.extend_from_slice(features);
    }
    build_lib(Some(triple), &args);
    let lib = dir.join(triple).join("release").join("libttrt.a");
    let (defined, undefined) = symbols(&lib);
    for f in [
        "ttrt_version",
        "ttrt_abi_version",
        "ttrt_get_build_info",
        "ttrt_last_error_message",
    ] {
        assert!(
            defined.iter().any(|d| d == f),
            "{triple}: {f} is not defined in libttrt.a"
        );
    }
    let hooks = [
        "ttrt_firmware_panic",
        "ttrt_firmware_alloc",
        "ttrt_firmware_free",
    ];
    let ttrt_undefined: Vec<&String> = undefined
        .iter()
        .filter(|u| u.starts_with("ttrt_"))
        .collect();
    assert!(
        ttrt_undefined.iter().all(|u| hooks.contains(&u.as_str()))
            && ttrt_undefined.iter().any(|u| *u == "ttrt_firmware_panic"),
        "{triple}: expected the firmware hooks (and no other ttrt_ symbol) to be undefined: {ttrt_undefined:?}"
    );
    for u in &undefined {
        assert!(
            !u.contains("std") && !u.starts_with("pthread") && !u.starts_with("malloc"),
            "{triple}: the bare-metal archive needs `{u}` from an OS"
        );
    }
    Some(lib)
}

/// Links `firmware_main.c` (with `defines`) against a bare-metal archive and runs it.
fn firmware_runs(lib: &Path, name: &str, defines: &[&str]) {
    if !have_tool(RISCV64.gcc, "linking the bare-metal firmware")
        || !have_tool(RISCV64.qemu, "running the bare-metal firmware")
    {
        return;
    }
    let dir = scratch(name);
    let exe = dir.join("firmware");
    run(Command::new(RISCV64.gcc)
        .args(STRICT_C)
        .args([
            "-ffreestanding",
            "-nostdlib",
            "-static",
            "-fno-pic",
            "-no-pie",
            "-O1",
        ])
        .args(defines)
        .arg("-I")
        .arg(root().join("include"))
        .arg(root().join("tests/c/firmware_main.c"))
        .arg(lib)
        .arg("-lgcc")
        .arg("-o")
        .arg(&exe));
    let status = Command::new(RISCV64.qemu)
        .arg(&exe)
        .status()
        .expect("run qemu-riscv64");
    assert_eq!(
        status.code(),
        Some(0),
        "firmware exit code (see tests/c/firmware_main.c for its meaning)"
    );
}

#[test]
fn core_builds_for_riscv64_bare_metal_and_runs_as_freestanding_firmware() {
    let triple = "riscv64gc-unknown-none-elf";
    if let Some(lib) = core_builds_for_bare_metal(triple, &[]) {
        firmware_runs(&lib, "firmware-riscv64", &[]);
    }
}

#[test]
fn core_with_alloc_builds_for_riscv64_bare_metal_on_the_firmware_heap() {
    let triple = "riscv64gc-unknown-none-elf";
    if let Some(lib) = core_builds_for_bare_metal(triple, &["alloc"]) {
        firmware_runs(&lib, "firmware-riscv64-alloc", &["-DWITH_ALLOC"]);
    }
}

#[test]
fn core_builds_for_thumbv7em_bare_metal() {
    core_builds_for_bare_metal("thumbv7em-none-eabihf", &[]);
}
