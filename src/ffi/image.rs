//! `ttrt_image`: a compiled model as PyBuda leaves it, a TTI archive (tar or zip) or a bare
//! netlist `.yaml`, opened without extracting anything (PyBuda's `TTDeviceImage.load_from_disk`,
//! the embedded loader's `tt_backend::create` input).

use alloc::ffi::CString;
use alloc::vec::Vec;
use core::ffi::c_char;

use super::boundary::{arg, c_str, call, guard, out, sized_config, AppendOnlyConfig};
use super::error::{set_last_error, ArgError, CallError};
use super::format::ttrt_arch;
use super::handle::{Borrow, Handle, HandleTable};
use super::status::ttrt_status;
use crate::format::Arch;
use crate::image::{Image, ImageConfig, ImageError};

/// An open image (opaque).
pub struct ttrt_image {
    _private: [u8; 0],
}

/// How `ttrt_image_open_with_config` opens an image. Initialize with
/// `ttrt_image_config_default`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ttrt_image_config {
    pub struct_size: u32,
    /// Set to 0. (It keeps `max_metadata_bytes` at the same offset on every target.)
    pub reserved: u32,
    /// The largest metadata member (device.json, compile_and_runtime_config.json, the
    /// netlist) or bare netlist file, in bytes. A larger one is `TTRT_STATUS_INVALID_IMAGE`,
    /// decided from the size the zip central directory or tar header gives, before anything
    /// is inflated. Default 0: 256 MiB. (A tensor member is checked against the size its
    /// descriptor gives, also before it is inflated.)
    pub max_metadata_bytes: u64,
    /// The most a deflated metadata member over 16 MiB may expand, in inflated bytes per
    /// compressed byte (from the zip central directory, before inflating); more is
    /// `TTRT_STATUS_INVALID_IMAGE`, a decompression bomb. Default 0: 100 (real netlists and
    /// device.json deflate about 5-25:1). Added after `max_metadata_bytes`: a config whose
    /// `struct_size` ends before it gets the default.
    pub max_metadata_ratio: u32,
    /// Set to 0.
    pub reserved2: u32,
}

/// What `struct_size` must be at least: the config before `max_metadata_ratio` was added.
const CONFIG_SIZE_V1: u32 = 16;

// SAFETY: integers only, struct_size first.
unsafe impl AppendOnlyConfig for ttrt_image_config {}

static_assertions::const_assert_eq!(core::mem::size_of::<ttrt_image_config>(), 24);
static_assertions::const_assert_eq!(
    core::mem::offset_of!(ttrt_image_config, max_metadata_ratio),
    16
);
static_assertions::const_assert_eq!(
    core::mem::offset_of!(ttrt_image_config, max_metadata_bytes),
    8
);

pub(crate) struct ImageHandle {
    pub image: Image,
    /// The names as C strings, alive as long as the handle (the pointers the name getters
    /// return point here).
    inputs: Vec<CString>,
    outputs: Vec<CString>,
    /// device.json's `ordered_constant_node_names` and `ordered_parameter_node_names` (empty
    /// for a bare netlist).
    constants: Vec<CString>,
    parameters: Vec<CString>,
    /// device.json's `devtype` (`None` for a bare netlist).
    devtype: Option<CString>,
}

impl Handle for ImageHandle {
    type Opaque = ttrt_image;
    const KIND: &'static str = "ttrt_image";
    const TAG: usize = 4;
    fn table() -> &'static HandleTable<Self> {
        static TABLE: HandleTable<ImageHandle> = HandleTable::new();
        &TABLE
    }
}

pub(crate) fn image<'a>(
    img: *const ttrt_image,
    name: &'static str,
) -> Result<Borrow<'a, ImageHandle>, ArgError> {
    ImageHandle::table().get(img, name)
}

/// C strings of `names`; a name with a NUL byte inside cannot be handed to C and makes the
/// image invalid.
fn c_names(names: &[alloc::string::String], what: &str) -> Result<Vec<CString>, ImageError> {
    names
        .iter()
        .map(|n| {
            CString::new(n.as_str()).map_err(|_| {
                ImageError::invalid(alloc::format!("{what} name {n:?} contains a NUL byte"))
            })
        })
        .collect()
}

/// Fills the defaults: metadata members up to 256 MiB.
///
/// # Safety
/// `cfg` is NULL (ignored) or points to a writable `ttrt_image_config`.
#[no_mangle]
pub unsafe extern "C" fn ttrt_image_config_default(cfg: *mut ttrt_image_config) {
    guard("ttrt_image_config_default", (), || {
        // SAFETY: the caller's contract.
        if let Ok(o) = unsafe { out(cfg, "cfg") } {
            o.write(ttrt_image_config {
                struct_size: core::mem::size_of::<ttrt_image_config>() as u32,
                reserved: 0,
                max_metadata_bytes: 0,
                max_metadata_ratio: 0,
                reserved2: 0,
            });
        }
    })
}

/// Opens a compiled model: a `.tti` archive (PyBuda's tar, or zip) or a netlist (`.yaml` /
/// `.yml`). The archive is read in place (memory-mapped); nothing is extracted to disk.
/// Errors: `TTRT_STATUS_IO_ERROR` when the file cannot be read, `TTRT_STATUS_INVALID_IMAGE`
/// when it is malformed, with a message naming the file, the member and the key. Metadata
/// members over 256 MiB are refused (`ttrt_image_open_with_config` sets the limit).
///
/// # Safety
/// `path` is a NUL-terminated string; `out_img` points to writable storage for a handle.
#[no_mangle]
pub unsafe extern "C" fn ttrt_image_open(
    path: *const c_char,
    out_img: *mut *mut ttrt_image,
) -> ttrt_status {
    call("ttrt_image_open", || -> Result<(), CallError> {
        // SAFETY: the caller's contract.
        unsafe { open_image(path, &ImageConfig::default(), out_img) }
    })
}

/// `ttrt_image_open` with the limits of `cfg` (NULL: the defaults).
///
/// # Safety
/// `path` is a NUL-terminated string; `cfg` NULL or a config of `cfg->struct_size` bytes;
/// `out` points to writable storage for a handle.
#[no_mangle]
pub unsafe extern "C" fn ttrt_image_open_with_config(
    path: *const c_char,
    cfg: *const ttrt_image_config,
    out_img: *mut *mut ttrt_image,
) -> ttrt_status {
    call(
        "ttrt_image_open_with_config",
        || -> Result<(), CallError> {
            let config = if cfg.is_null() {
                ImageConfig::default()
            } else {
                // SAFETY: the caller's contract.
                let c = unsafe { sized_config(cfg, "cfg", CONFIG_SIZE_V1) }?;
                ImageConfig {
                    max_metadata_bytes: c.max_metadata_bytes,
                    max_metadata_ratio: c.max_metadata_ratio,
                }
            };
            // SAFETY: the caller's contract.
            unsafe { open_image(path, &config, out_img) }
        },
    )
}

/// # Safety
/// As `ttrt_image_open`.
unsafe fn open_image(
    path: *const c_char,
    config: &ImageConfig,
    out_img: *mut *mut ttrt_image,
) -> Result<(), CallError> {
    {
        // SAFETY: the caller's contract.
        let path = unsafe { c_str(path, "path") }?;
        // SAFETY: the caller's contract.
        let slot = unsafe { out(out_img, "out_img") }?;
        let image = Image::open_with_config(path, config)?;
        let inputs = c_names(image.input_names(), "input")?;
        let outputs = c_names(image.output_names(), "output")?;
        let (constants, parameters, devtype) = match image.device_json() {
            Some(d) => (
                c_names(
                    &d.compiled_graph_state.ordered_constant_node_names,
                    "constant",
                )?,
                c_names(
                    &d.compiled_graph_state.ordered_parameter_node_names,
                    "parameter",
                )?,
                Some(CString::new(d.devtype.as_str()).map_err(|_| {
                    ImageError::invalid(alloc::format!(
                        "devtype {:?} contains a NUL byte",
                        d.devtype
                    ))
                })?),
            ),
            None => (Vec::new(), Vec::new(), None),
        };
        let handle = ImageHandle::table()
            .insert(ImageHandle {
                image,
                inputs,
                outputs,
                constants,
                parameters,
                devtype,
            })
            .ok_or_else(|| ImageError::invalid("too many open images".into()))?;
        slot.write(handle);
        Ok(())
    }
}

/// Closes an image. NULL is accepted.
///
/// # Safety
/// `img` is NULL or an image handle.
#[no_mangle]
pub unsafe extern "C" fn ttrt_image_free(img: *mut ttrt_image) {
    guard("ttrt_image_free", (), || {
        if !img.is_null() {
            if let Err(e) = ImageHandle::table().remove(img, "img") {
                set_last_error(format_args!("ttrt_image_free: {e}"));
            }
        }
    })
}

/// How many inputs the model takes (`ordered_input_names` of the image's device.json; for a
/// bare netlist, its queues fed by the host). 0 for NULL or a freed handle.
///
/// # Safety
/// `img` is NULL or an image handle.
#[no_mangle]
pub unsafe extern "C" fn ttrt_image_input_count(img: *const ttrt_image) -> usize {
    count("ttrt_image_input_count", img, |h| h.inputs.len())
}

/// How many outputs the model gives (`ordered_output_names`; for a bare netlist, its queues
/// that an op writes and no op reads). 0 for NULL or a freed handle.
///
/// # Safety
/// `img` is NULL or an image handle.
#[no_mangle]
pub unsafe extern "C" fn ttrt_image_output_count(img: *const ttrt_image) -> usize {
    count("ttrt_image_output_count", img, |h| h.outputs.len())
}

/// The name of input `i` (its queue's name), valid until `ttrt_image_free`; NULL when `i` is
/// out of range or the handle is not a live image (the last error says which).
///
/// # Safety
/// `img` is NULL or an image handle.
#[no_mangle]
pub unsafe extern "C" fn ttrt_image_input_name(img: *const ttrt_image, i: usize) -> *const c_char {
    name("ttrt_image_input_name", img, i, |h| &h.inputs)
}

/// The name of output `i`, valid until `ttrt_image_free`; NULL when `i` is out of range or the
/// handle is not a live image.
///
/// # Safety
/// `img` is NULL or an image handle.
#[no_mangle]
pub unsafe extern "C" fn ttrt_image_output_name(img: *const ttrt_image, i: usize) -> *const c_char {
    name("ttrt_image_output_name", img, i, |h| &h.outputs)
}

/// How many constants the image's graph has (device.json `ordered_constant_node_names`, in
/// that order; 0 for a bare netlist). 0 for NULL or a freed handle.
///
/// # Safety
/// `img` is NULL or an image handle.
#[no_mangle]
pub unsafe extern "C" fn ttrt_image_constant_count(img: *const ttrt_image) -> usize {
    count("ttrt_image_constant_count", img, |h| h.constants.len())
}

/// The name of constant `i` (its queue's name), valid until `ttrt_image_free`; NULL when `i`
/// is out of range or the handle is not a live image.
///
/// # Safety
/// `img` is NULL or an image handle.
#[no_mangle]
pub unsafe extern "C" fn ttrt_image_constant_name(
    img: *const ttrt_image,
    i: usize,
) -> *const c_char {
    name("ttrt_image_constant_name", img, i, |h| &h.constants)
}

/// How many parameters the image's graph has (device.json `ordered_parameter_node_names`, in
/// that order; 0 for a bare netlist). 0 for NULL or a freed handle.
///
/// # Safety
/// `img` is NULL or an image handle.
#[no_mangle]
pub unsafe extern "C" fn ttrt_image_parameter_count(img: *const ttrt_image) -> usize {
    count("ttrt_image_parameter_count", img, |h| h.parameters.len())
}

/// The name of parameter `i` (its queue's name), valid until `ttrt_image_free`; NULL when `i`
/// is out of range or the handle is not a live image.
///
/// # Safety
/// `img` is NULL or an image handle.
#[no_mangle]
pub unsafe extern "C" fn ttrt_image_parameter_name(
    img: *const ttrt_image,
    i: usize,
) -> *const c_char {
    name("ttrt_image_parameter_name", img, i, |h| &h.parameters)
}

/// The backend device type the image was compiled for, as device.json's `devtype` names it
/// (`"Silicon"`, `"Golden"`, ...; PyBuda's `BackendType`), valid until `ttrt_image_free`.
/// ttrt runs every image on its own device; the name is for loaders that choose by it (Buda's
/// `tt_backend::create` runs a `Golden` image on its golden model). NULL (with the last error
/// set) for a bare netlist, which has no device.json, or a handle that is not a live image.
///
/// # Safety
/// `img` is NULL or an image handle.
#[no_mangle]
pub unsafe extern "C" fn ttrt_image_devtype(img: *const ttrt_image) -> *const c_char {
    let func = "ttrt_image_devtype";
    guard(func, core::ptr::null(), || match image(img, "img") {
        // The string lives in the handle's slot until ttrt_image_free.
        Ok(h) => match &h.devtype {
            Some(s) => s.as_ptr(),
            None => {
                set_last_error(format_args!(
                    "{func}: {} is a bare netlist: it has no device.json devtype",
                    h.image.file()
                ));
                core::ptr::null()
            }
        },
        Err(e) => {
            set_last_error(format_args!("{func}: {e}"));
            core::ptr::null()
        }
    })
}

/// The chip generation the image was compiled for (device.json `arch`; for a bare netlist the
/// first arch its `devices` entry names).
///
/// # Safety
/// `img` is an image handle; `out_arch` points to writable storage.
#[no_mangle]
pub unsafe extern "C" fn ttrt_image_arch(
    img: *const ttrt_image,
    out_arch: *mut ttrt_arch,
) -> ttrt_status {
    call("ttrt_image_arch", || -> Result<(), CallError> {
        let h = image(img, "img")?;
        // SAFETY: the caller's contract.
        let slot = unsafe { out(out_arch, "out_arch") }?;
        slot.write(match h.image.arch() {
            Arch::Grayskull => ttrt_arch::Grayskull,
            Arch::WormholeB0 => ttrt_arch::WormholeB0,
            Arch::Blackhole => ttrt_arch::Blackhole,
        });
        Ok(())
    })
}

/// Sets the environment variables of the image's `compile_and_runtime_config.json` that are not
/// set already (a variable the process has set is never overridden), as PyBuda does when it
/// loads an image. ttrt never does this by itself. `n_set` (may be NULL) receives how many were
/// set. An image without that file sets nothing.
///
/// # Safety
/// `img` is an image handle; `n_set` is NULL or points to writable storage.
#[no_mangle]
pub unsafe extern "C" fn ttrt_image_apply_runtime_config(
    img: *const ttrt_image,
    n_set: *mut usize,
) -> ttrt_status {
    call(
        "ttrt_image_apply_runtime_config",
        || -> Result<(), CallError> {
            let h = image(img, "img")?;
            let set = h
                .image
                .runtime_config()
                .map_or(0, |c| c.apply_to_environment().len());
            if !n_set.is_null() {
                // SAFETY: the caller's contract.
                unsafe { arg(n_set, "n_set") }?;
                // SAFETY: non-NULL and writable by the caller's contract.
                unsafe { n_set.write(set) };
            }
            Ok(())
        },
    )
}

fn count(
    func: &'static str,
    img: *const ttrt_image,
    f: impl FnOnce(&ImageHandle) -> usize,
) -> usize {
    guard(func, 0, || match image(img, "img") {
        Ok(h) => f(&h),
        Err(e) => {
            set_last_error(format_args!("{func}: {e}"));
            0
        }
    })
}

fn name(
    func: &'static str,
    img: *const ttrt_image,
    i: usize,
    names: impl FnOnce(&ImageHandle) -> &Vec<CString>,
) -> *const c_char {
    guard(func, core::ptr::null(), || match image(img, "img") {
        Ok(h) => {
            let list = names(&h);
            match list.get(i) {
                // The string lives in the handle's slot until ttrt_image_free.
                Some(s) => s.as_ptr(),
                None => {
                    set_last_error(format_args!(
                        "{func}: index {i} is out of range (the image has {})",
                        list.len()
                    ));
                    core::ptr::null()
                }
            }
        }
        Err(e) => {
            set_last_error(format_args!("{func}: {e}"));
            core::ptr::null()
        }
    })
}
