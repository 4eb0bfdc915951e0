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
             regenerate with: TTRT_BLESS=1 cargo test --release --test header"
        );
    }
}
