//! The layering rule, checked over the sources: each top-level module names (as
//! `crate::<module>`) only the modules at or below it.
//!
//! ```text
//! ffi -> backend, pipeline -> runtime -> hal -> compute -> format
//!                \-> image -> netlist --/
//! ```
//! `message`, `sync`, `version` and `affinity` are leaves every layer may use.

use std::path::Path;
use std::string::String;
use std::vec::Vec;

/// Modules each top-level module may name besides itself and the leaves.
const ALLOWED: &[(&str, &[&str])] = &[
    ("format", &[]),
    ("compute", &["format"]),
    ("hal", &["format", "compute"]),
    ("netlist", &["format", "compute", "hal"]),
    ("image", &["format", "netlist"]),
    ("runtime", &["format", "compute", "hal"]),
    (
        "backend",
        &["format", "compute", "hal", "netlist", "image", "runtime"],
    ),
    ("pipeline", &["format", "compute", "hal", "runtime"]),
    (
        "ffi",
        &[
            "format", "compute", "hal", "netlist", "image", "runtime", "backend", "pipeline",
        ],
    ),
];

const LEAVES: &[&str] = &["message", "sync", "version", "affinity"];

/// Every `.rs` file under `path` (or `path` itself).
fn sources(path: &Path, out: &mut Vec<std::path::PathBuf>) {
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            sources(&entry.unwrap().path(), out);
        }
    } else if path.is_file() && path.extension().is_some_and(|e| e == "rs") {
        out.push(path.to_path_buf());
    }
}

/// The modules a source names as `crate::<module>`.
fn named(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (at, _) in text.match_indices("crate::") {
        let rest = &text[at + "crate::".len()..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let before = text[..at].chars().next_back();
        // `ttrt::crate::x` does not occur; skip identifiers ending in "crate" (`my_crate::`).
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        out.push(String::from(&rest[..end]));
    }
    out
}

/// Only the simulated chip itself and the place that chooses a chip name it: everything else
/// drives a chip through the `Chip` trait, so a transport to silicon or to another process
/// takes its place unchanged.
#[test]
fn only_the_chip_chooser_names_the_simulated_chip() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    sources(&root.join("src"), &mut files);
    let allowed = [root.join("src/hal/sim"), root.join("src/hal/select.rs")];
    let wrong: Vec<String> = files
        .iter()
        .filter(|f| !allowed.iter().any(|a| f.starts_with(a)) && !f.ends_with("layers.rs"))
        .filter(|f| String::from_utf8_lossy(&std::fs::read(f).unwrap()).contains("SimChip"))
        .map(|f| f.display().to_string())
        .collect();
    assert!(
        wrong.is_empty(),
        "name SimChip outside hal::sim and hal::select: {wrong:?}"
    );
}

#[test]
fn every_module_names_only_the_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut wrong = Vec::new();
    for (module, allowed) in ALLOWED {
        let mut files = Vec::new();
        sources(&src.join(module), &mut files);
        sources(&src.join(format!("{module}.rs")), &mut files);
        assert!(!files.is_empty(), "no sources for {module}");
        for file in files {
            let bytes = std::fs::read(&file).unwrap();
            let text = String::from_utf8_lossy(&bytes);
            for name in named(&text) {
                let ok = name == *module
                    || allowed.contains(&name.as_str())
                    || LEAVES.contains(&name.as_str());
                if !ok {
                    wrong.push(format!("{} names crate::{name}", file.display()));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "layering broken:\n{}", wrong.join("\n"));
}

#[test]
fn the_check_sees_a_name_from_a_higher_layer() {
    let text = "use crate::runtime::buffer::X;\nfn f() { my_crate::y(); crate::hal::z(); }";
    assert_eq!(named(text), ["runtime", "hal"]);
}
