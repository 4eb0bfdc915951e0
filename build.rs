//! Shared-library identity: `libttrt.so` carries the SONAME `libttrt.so.<major>` and exports
//! only the `ttrt_*` functions (rustc's own version script already hides Rust symbols; the
//! SONAME is ours to set).

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    // Reported at run time by ttrt_get_build_info.
    let target = std::env::var("TARGET").unwrap_or_default();
    println!("cargo:rustc-env=TTRT_TARGET={target}");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_else(|_| "0".into());
    if os == "linux" || os == "android" {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libttrt.so.{major}");
    }
}
