//! Library identity: version string, ABI version and the macros a program compiles against.

use core::ffi::c_char;

use static_assertions::const_assert_eq;

use crate::version;

/// Major version of the header. With `ttrt_version()` a program can check, at run time, that
/// the library it loaded is the one it was compiled against.
pub const TTRT_VERSION_MAJOR: u32 = 0;
/// Minor version of the header.
pub const TTRT_VERSION_MINOR: u32 = 1;
/// Patch version of the header.
pub const TTRT_VERSION_PATCH: u32 = 0;
/// ABI version of the header: compare with `ttrt_abi_version()`. It changes on every
/// incompatible ABI change (a removed or changed function, struct layout or enum value).
pub const TTRT_ABI_VERSION: u32 = 1;

// The header's macros are literals (cbindgen copies them as written); these tie them to the
// package version so a release cannot ship a header that lies.
const_assert_eq!(
    TTRT_VERSION_MAJOR,
    version::parse_decimal(env!("CARGO_PKG_VERSION_MAJOR"))
);
const_assert_eq!(
    TTRT_VERSION_MINOR,
    version::parse_decimal(env!("CARGO_PKG_VERSION_MINOR"))
);
const_assert_eq!(
    TTRT_VERSION_PATCH,
    version::parse_decimal(env!("CARGO_PKG_VERSION_PATCH"))
);
const_assert_eq!(TTRT_ABI_VERSION, version::ABI);

const VERSION_NUL: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");

/// The library's version, `"MAJOR.MINOR.PATCH"`. Static; never NULL.
#[no_mangle]
pub extern "C" fn ttrt_version() -> *const c_char {
    super::boundary::guard("ttrt_version", VERSION_NUL.as_ptr().cast(), || {
        VERSION_NUL.as_ptr().cast()
    })
}

/// The ABI version of the loaded library; equal to `TTRT_ABI_VERSION` when the program was
/// compiled against a compatible header.
#[no_mangle]
pub extern "C" fn ttrt_abi_version() -> u32 {
    super::boundary::guard("ttrt_abi_version", version::ABI, || version::ABI)
}

/// Bit in `ttrt_build_info::features`: built with heap allocation (netlists, pipelines).
pub const TTRT_FEATURE_ALLOC: u32 = 1 << 0;
/// Bit in `ttrt_build_info::features`: built with the standard library (threads, files, the
/// device worker thread, panics caught at this interface).
pub const TTRT_FEATURE_STD: u32 = 1 << 1;

/// What the loaded library is: version, ABI, features and target. Filled by
/// `ttrt_get_build_info`; set `struct_size` to `sizeof(ttrt_build_info)` first.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ttrt_build_info {
    /// Set by the caller to `sizeof(ttrt_build_info)`; kept unchanged.
    pub struct_size: u32,
    pub version_major: u32,
    pub version_minor: u32,
    pub version_patch: u32,
    /// Equals `ttrt_abi_version()`.
    pub abi_version: u32,
    /// `TTRT_FEATURE_*` bits the library was built with.
    pub features: u32,
    /// Target triple the library was built for, e.g. `"aarch64-unknown-linux-gnu"`. Static.
    pub target: *const c_char,
}

// Pinned here and by _Static_assert in tests/c/abi_check.c.
static_assertions::const_assert_eq!(core::mem::offset_of!(ttrt_build_info, struct_size), 0);
static_assertions::const_assert_eq!(core::mem::offset_of!(ttrt_build_info, features), 20);
static_assertions::const_assert_eq!(core::mem::offset_of!(ttrt_build_info, target), 24);
static_assertions::const_assert_eq!(
    core::mem::size_of::<ttrt_build_info>(),
    if core::mem::size_of::<usize>() == 8 {
        32
    } else {
        28
    }
);

const TARGET_NUL: &str = concat!(env!("TTRT_TARGET"), "\0");

const fn features() -> u32 {
    let mut f = 0;
    if cfg!(feature = "alloc") {
        f |= TTRT_FEATURE_ALLOC;
    }
    if cfg!(feature = "std") {
        f |= TTRT_FEATURE_STD;
    }
    f
}

/// Describes the loaded library. `info->struct_size` must be set to `sizeof(ttrt_build_info)`
/// (at least the size of this first version); the other fields are written on success.
///
/// # Safety
/// `info` is NULL (refused) or points to a writable `ttrt_build_info`.
#[no_mangle]
pub unsafe extern "C" fn ttrt_get_build_info(info: *mut ttrt_build_info) -> super::ttrt_status {
    use super::error::ArgError;
    super::boundary::call("ttrt_get_build_info", || {
        // SAFETY: the caller passes a writable ttrt_build_info (or NULL, refused here).
        let info = unsafe { super::boundary::arg_mut(info, "info") }?;
        let min = core::mem::size_of::<ttrt_build_info>() as u32;
        if info.struct_size < min {
            return Err(ArgError::StructSize {
                arg: "info",
                found: info.struct_size,
                min,
            });
        }
        *info = ttrt_build_info {
            struct_size: info.struct_size,
            version_major: TTRT_VERSION_MAJOR,
            version_minor: TTRT_VERSION_MINOR,
            version_patch: TTRT_VERSION_PATCH,
            abi_version: TTRT_ABI_VERSION,
            features: features(),
            target: TARGET_NUL.as_ptr().cast(),
        };
        Ok(())
    })
}
