//! Library and ABI versions.
//!
//! The header carries the same numbers as macros (`TTRT_VERSION_MAJOR` ... `TTRT_ABI_VERSION`,
//! defined in `ffi::library`) so a program can check at run time that the library it loaded is
//! the one it was built against; compile-time assertions there tie the macros to these values.

/// Version string of this build, `MAJOR.MINOR.PATCH`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Changes on every incompatible change of the C ABI (a removed or changed function, a changed
/// struct layout or enum value). Additions that old callers cannot observe keep it.
pub const ABI: u32 = 1;

pub(crate) const fn parse_decimal(s: &str) -> u32 {
    let b = s.as_bytes();
    let mut i = 0;
    let mut n = 0u32;
    while i < b.len() && b[i].is_ascii_digit() {
        n = n * 10 + (b[i] - b'0') as u32;
        i += 1;
    }
    n
}
