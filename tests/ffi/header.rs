//! `include/ttrt.h` is generated from `src/ffi` and checked in. This test regenerates it and
//! fails on any difference, so the header a C program includes always describes the library.
//! `TTRT_BLESS=1` rewrites the checked-in copy instead.

use std::path::Path;

#[test]
fn checked_in_header_matches_src_ffi() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("cbindgen.toml");
    let mut generated = Vec::new();
    cbindgen::Builder::new()
        .with_crate(root)
        .with_config(config)
        .generate()
        .expect("cbindgen could not generate the header")
        .write(&mut generated);
    let generated = String::from_utf8(generated).expect("header is UTF-8");
    let path = root.join("include/ttrt.h");
    if std::env::var_os("TTRT_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("write include/ttrt.h");
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    if checked_in != generated {
        let line = checked_in
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .map_or(
                checked_in.lines().count().min(generated.lines().count()) + 1,
                |i| i + 1,
            );
        panic!(
            "include/ttrt.h differs from what src/ffi generates (first difference at line {line}); \
             regenerate with: TTRT_BLESS=1 cargo test --release --test ffi header::"
        );
    }
}

/// DESIGN.md §4: every name the header declares starts with `ttrt_` or `TTRT_`, so nothing
/// from the Rust side (constants, enums, structs cbindgen finds in the crate) leaks into the C
/// namespace of a program that includes it.
#[test]
fn every_name_in_the_header_is_prefixed() {
    let header =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("include/ttrt.h"))
            .expect("include/ttrt.h");
    let prefixed = |name: &str| name.starts_with("ttrt_") || name.starts_with("TTRT_");
    let mut bad = Vec::new();
    for line in header.lines() {
        let words: Vec<&str> = line
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '#'))
            .filter(|w| !w.is_empty())
            .collect();
        let name = match words.as_slice() {
            ["#define", name, ..] => Some(*name),
            ["enum" | "struct" | "union", name] => Some(*name),
            ["typedef", .., name] if !line.contains('(') => Some(*name),
            // A function pointer: `typedef ret (*ttrt_name)(...`.
            ["typedef", ..] => line
                .split("(*")
                .nth(1)
                .and_then(|rest| rest.split(')').next()),
            _ => None,
        };
        // A function declaration: `ret ttrt_name(...)`.
        let func = (!line
            .starts_with(|c: char| c.is_whitespace() || c == '/' || c == '#' || c == '}')
            && !line.starts_with("typedef")
            && line.contains('('))
        .then(|| {
            line.split('(')
                .next()
                .and_then(|head| head.split_whitespace().last())
        })
        .flatten()
        .map(|n| n.trim_start_matches('*'));
        for n in name.into_iter().chain(func) {
            if !prefixed(n) && n != "TTRT_H" {
                bad.push(n.to_string());
            }
        }
    }
    assert!(
        bad.is_empty(),
        "names without the ttrt_/TTRT_ prefix in include/ttrt.h: {bad:?}"
    );
}
