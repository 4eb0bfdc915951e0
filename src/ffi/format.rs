//! C API of the format layer: data formats, tile sizes, tilize/untilize of host tensors.
//! The descriptor structs mirror Buda's `tt_PytorchTensorDesc` and `tt_dram_io_desc`.

use core::ffi::{c_char, c_void};

use super::boundary::{arg, arg_mut, call, check_len, guard, out};
use super::error::{ArgError, CallError};
use super::ttrt_status;
use crate::format::{
    self, Arch, BfpRounding, DataFormat, Float16bRounding, FormatError, HostTensor, HostTensorMut,
    IoLayout, QueueLayout, Rounding, TileDim, UblockOrder,
};

/// Buda's data formats, with Buda's numeric values.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ttrt_data_format {
    Float32 = 0,
    Float16 = 1,
    Bfp8 = 2,
    Bfp4 = 3,
    Tf32 = 4,
    Float16B = 5,
    Bfp8B = 6,
    Bfp4B = 7,
    Int32 = 8,
    Uint16 = 9,
    Lf8 = 10,
    Bfp2 = 11,
    Int8 = 14,
    Bfp2B = 15,
    Fp8E4m3 = 0x1A,
    Uint8 = 30,
    RawUint8 = 0xf0,
    RawUint16 = 0xf1,
    RawUint32 = 0xf2,
    Invalid = 0xff,
}

// The C enum restates `DataFormat` (plus Invalid) because cbindgen needs it spelled out here;
// these checks keep the two from drifting apart.
const _: () = {
    use ttrt_data_format as C;
    use DataFormat as D;
    let pairs = [
        (C::Float32 as u32, D::Float32 as u32),
        (C::Float16 as u32, D::Float16 as u32),
        (C::Bfp8 as u32, D::Bfp8 as u32),
        (C::Bfp4 as u32, D::Bfp4 as u32),
        (C::Tf32 as u32, D::Tf32 as u32),
        (C::Float16B as u32, D::Float16B as u32),
        (C::Bfp8B as u32, D::Bfp8B as u32),
        (C::Bfp4B as u32, D::Bfp4B as u32),
        (C::Int32 as u32, D::Int32 as u32),
        (C::Uint16 as u32, D::UInt16 as u32),
        (C::Lf8 as u32, D::Lf8 as u32),
        (C::Bfp2 as u32, D::Bfp2 as u32),
        (C::Int8 as u32, D::Int8 as u32),
        (C::Bfp2B as u32, D::Bfp2B as u32),
        (C::Fp8E4m3 as u32, D::Fp8E4m3 as u32),
        (C::Uint8 as u32, D::UInt8 as u32),
        (C::RawUint8 as u32, D::RawUInt8 as u32),
        (C::RawUint16 as u32, D::RawUInt16 as u32),
        (C::RawUint32 as u32, D::RawUInt32 as u32),
    ];
    assert!(pairs.len() == DataFormat::ALL.len());
    let mut i = 0;
    while i < pairs.len() {
        assert!(pairs[i].0 == pairs[i].1);
        i += 1;
    }
};

/// Chip generation (ttrt's own values: upstream's changed over time).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ttrt_arch {
    Grayskull = 1,
    WormholeB0 = 2,
    Blackhole = 3,
}

/// `ttrt_io_desc::io_type`: a queue (entries pushed and popped in order) or a RAM (random access).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ttrt_io_type {
    Queue = 0,
    Ram = 1,
}

/// `ttrt_io_desc::layout`.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ttrt_io_layout {
    Tilized = 0,
    Flat = 1,
}

/// `ttrt_io_desc::location`.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ttrt_io_location {
    Dram = 0,
    Host = 1,
}

/// `ttrt_io_desc::ublock_order`: the scan order of ublocks in an mblock.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ttrt_ublock_order {
    R = 0,
    C = 1,
}

/// `ttrt_tensor_desc::owner`: who frees the data.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ttrt_tensor_owner {
    /// The caller's memory.
    Frontend = 0,
    /// Memory returned by the backend; release it with `ttrt_tensor_desc_free`.
    Backend = 1,
}

/// `ttrt_codec_options::bfp_rounding`.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ttrt_bfp_rounding {
    /// Buda's reference: half up on the aligned mantissa, saturating.
    HalfUp = 0,
    /// Truncation (Buda's `TT_BACKEND_DISABLE_BFP_RTE=1`).
    Truncate = 1,
}

/// `ttrt_codec_options::float16_b_rounding`.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ttrt_float16_b_rounding {
    /// Buda's reference: the top 16 bits of fp32.
    Truncate = 0,
    /// Round to nearest even.
    NearestEven = 1,
}

/// A host tensor (Buda's `tt_PytorchTensorDesc`). `shape` and `strides` always have four
/// entries, outermost first (`[w, z, y, x]`); strides are in bytes. `dim` is the tensor's rank:
/// with `dim < 4` the leading `4 - dim` entries of `shape` are 1 (0 is read as 1).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ttrt_tensor_desc {
    /// The data. For `ttrt_untilize` it must point to writable memory.
    pub ptr: *const c_void,
    /// Bytes per item; must match `format`.
    pub itemsize: u32,
    /// A `ttrt_data_format`.
    pub format: u32,
    pub shape: [u32; 4],
    pub strides: [u32; 4],
    pub dim: u32,
    /// A `ttrt_tensor_owner`.
    pub owner: u32,
}

/// A queue as the host sees it (Buda's `tt_dram_io_desc`), plus the two facts tilizing needs
/// that Buda kept elsewhere: `ublock_order` and `arch`. A zero `arch` means Wormhole B0, zero
/// tile dims mean 32x32, zero stack factors mean 1.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ttrt_io_desc {
    /// The queue's name (backend-owned when filled by the backend; may be NULL otherwise).
    pub queue_name: *const c_char,
    /// A `ttrt_io_type`.
    pub io_type: u32,
    /// A `ttrt_io_layout`.
    pub layout: u32,
    pub grid_r: u32,
    pub grid_c: u32,
    /// Slots of each buffer (`bufq_num_slots`).
    pub entries: u32,
    pub ublock_rt: u32,
    pub ublock_ct: u32,
    pub mblock_m: u32,
    pub mblock_n: u32,
    pub tile_height: u32,
    pub tile_width: u32,
    pub t: u32,
    pub input_count: u32,
    pub hstack_factor: u32,
    pub vstack_factor: u32,
    /// A `ttrt_data_format`: the queue's device format.
    pub format: u32,
    /// Bytes of one entry in one buffer (0 if unknown; checked when set).
    pub entry_size: u32,
    /// A `ttrt_io_location`.
    pub location: u32,
    /// A `ttrt_ublock_order`.
    pub ublock_order: u32,
    /// A `ttrt_arch` (0: Wormhole B0).
    pub arch: u32,
    /// t slices fill the stacked host slice row by row (true, Buda's default) or column by column.
    pub stack_row_major: bool,
}

/// Options of `ttrt_tilize_with_options`. Initialize with `ttrt_codec_options_default`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ttrt_codec_options {
    pub struct_size: u32,
    /// A `ttrt_bfp_rounding`.
    pub bfp_rounding: u32,
    /// A `ttrt_float16_b_rounding`.
    pub float16_b_rounding: u32,
}

// Pinned here and by _Static_assert in tests/c/abi_check.c.
const PTR: usize = core::mem::size_of::<usize>();
static_assertions::const_assert_eq!(core::mem::offset_of!(ttrt_tensor_desc, itemsize), PTR);
static_assertions::const_assert_eq!(core::mem::offset_of!(ttrt_tensor_desc, shape), PTR + 8);
static_assertions::const_assert_eq!(core::mem::offset_of!(ttrt_tensor_desc, strides), PTR + 24);
static_assertions::const_assert_eq!(core::mem::offset_of!(ttrt_tensor_desc, owner), PTR + 44);
static_assertions::const_assert_eq!(core::mem::size_of::<ttrt_tensor_desc>(), PTR + 48);
static_assertions::const_assert_eq!(core::mem::offset_of!(ttrt_io_desc, io_type), PTR);
static_assertions::const_assert_eq!(core::mem::offset_of!(ttrt_io_desc, format), PTR + 60);
static_assertions::const_assert_eq!(core::mem::offset_of!(ttrt_io_desc, arch), PTR + 76);
static_assertions::const_assert_eq!(
    core::mem::offset_of!(ttrt_io_desc, stack_row_major),
    PTR + 80
);
static_assertions::const_assert_eq!(core::mem::size_of::<ttrt_io_desc>(), PTR + 80 + PTR);
static_assertions::assert_eq_size!(ttrt_codec_options, [u32; 3]);

pub(crate) fn data_format(v: u32, arg: &'static str) -> Result<DataFormat, ArgError> {
    DataFormat::from_u32(v).ok_or(ArgError::Range {
        arg,
        found: v.into(),
        allowed: "a ttrt_data_format other than TTRT_DATA_FORMAT_INVALID",
    })
}

pub(crate) fn arch_of(v: u32, arg: &'static str) -> Result<Arch, ArgError> {
    match v {
        0 | 2 => Ok(Arch::WormholeB0),
        1 => Ok(Arch::Grayskull),
        3 => Ok(Arch::Blackhole),
        _ => Err(ArgError::Range {
            arg,
            found: v.into(),
            allowed: "a ttrt_arch (1..3)",
        }),
    }
}

/// A tile of `h` x `w` (0 x 0: 32 x 32), the arguments (or fields) `h_name` and `w_name`.
fn tile_dim(
    h: u32,
    w: u32,
    h_name: &'static str,
    w_name: &'static str,
) -> Result<TileDim, ArgError> {
    let (h, w) = if h == 0 && w == 0 { (32, 32) } else { (h, w) };
    TileDim::new(h, w).ok_or(match w {
        32 => ArgError::Range {
            arg: h_name,
            found: h.into(),
            allowed: "32, 16, 8, 4, 2 or 1 with a tile width of 32",
        },
        16 => ArgError::Range {
            arg: h_name,
            found: h.into(),
            allowed: "32 with a tile width of 16",
        },
        _ => ArgError::Range {
            arg: w_name,
            found: w.into(),
            allowed: "32, or 16 with a tile height of 32",
        },
    })
}

/// The codec's view of an io descriptor.
pub(crate) fn queue_layout(d: &ttrt_io_desc) -> Result<QueueLayout, CallError> {
    let one = |v: u32| if v == 0 { 1 } else { v };
    let layout = QueueLayout {
        format: data_format(d.format, "layout->format")?,
        arch: arch_of(d.arch, "layout->arch")?,
        tile: tile_dim(
            d.tile_height,
            d.tile_width,
            "layout->tile_height",
            "layout->tile_width",
        )?,
        grid_r: d.grid_r,
        grid_c: d.grid_c,
        mblock_m: d.mblock_m,
        mblock_n: d.mblock_n,
        ublock_rt: d.ublock_rt,
        ublock_ct: d.ublock_ct,
        ublock_order: match d.ublock_order {
            0 => UblockOrder::R,
            1 => UblockOrder::C,
            v => {
                return Err(ArgError::Range {
                    arg: "layout->ublock_order",
                    found: v.into(),
                    allowed: "0 (r) or 1 (c)",
                }
                .into())
            }
        },
        t: d.t,
        hstack: one(d.hstack_factor),
        vstack: one(d.vstack_factor),
        stack_row_major: d.stack_row_major,
        layout: match d.layout {
            0 => IoLayout::Tilized,
            1 => IoLayout::Flat,
            v => {
                return Err(ArgError::Range {
                    arg: "layout->layout",
                    found: v.into(),
                    allowed: "0 (tilized) or 1 (flat)",
                }
                .into())
            }
        },
    };
    layout.validate()?;
    let entry = layout.entry_size();
    if d.entry_size != 0 && d.entry_size as usize != entry {
        return Err(CallError::Mismatch {
            what: "layout->entry_size",
            expected: entry as u64,
            found: d.entry_size.into(),
        });
    }
    Ok(layout)
}

/// Shape, strides and byte extent of a tensor descriptor, checked.
///
/// `arg` names the descriptor in errors (`src`: `src->dim`).
fn tensor_geometry(
    t: &ttrt_tensor_desc,
    arg: &'static str,
) -> Result<(DataFormat, [usize; 4], [usize; 4], usize), CallError> {
    let format = DataFormat::from_u32(t.format).ok_or(ArgError::FieldRange {
        arg,
        field: "format",
        found: t.format.into(),
        allowed: "a ttrt_data_format other than TTRT_DATA_FORMAT_INVALID",
    })?;
    let itemsize = format.host_item_size().ok_or(FormatError::HostFormat {
        format,
        direction: "describe a host tensor",
    })?;
    if t.itemsize as usize != itemsize {
        return Err(CallError::Mismatch {
            what: "itemsize",
            expected: itemsize as u64,
            found: t.itemsize.into(),
        });
    }
    if t.dim > 4 {
        return Err(ArgError::FieldRange {
            arg,
            field: "dim",
            found: t.dim.into(),
            allowed: "0..=4",
        }
        .into());
    }
    let lead = 4 - t.dim.max(1) as usize;
    let mut shape = [0usize; 4];
    let mut strides = [0usize; 4];
    for d in 0..4 {
        shape[d] = t.shape[d] as usize;
        strides[d] = t.strides[d] as usize;
        if d < lead && shape[d] == 0 {
            shape[d] = 1;
        }
    }
    let mut last = 0usize;
    for d in 0..4 {
        if shape[d] == 0 {
            return Ok((format, shape, strides, 0));
        }
        let reach = (shape[d] - 1).checked_mul(strides[d]);
        last = reach
            .and_then(|r| last.checked_add(r))
            .ok_or(FormatError::TooLarge {
                what: "tensor extent",
            })?;
    }
    let extent = last
        .checked_add(itemsize)
        .filter(|&e| e <= isize::MAX as usize)
        .ok_or(FormatError::TooLarge {
            what: "tensor extent",
        })?;
    Ok((format, shape, strides, extent))
}

pub(crate) fn host_tensor<'a>(
    t: &'a ttrt_tensor_desc,
    arg: &'static str,
) -> Result<HostTensor<'a>, CallError> {
    let (format, shape, strides, extent) = tensor_geometry(t, arg)?;
    let data: &[u8] = if extent == 0 {
        &[]
    } else {
        if t.ptr.is_null() {
            return Err(ArgError::FieldNull { arg, field: "ptr" }.into());
        }
        // SAFETY: the caller's tensor spans `extent` bytes from `ptr` (its shape and strides).
        unsafe { core::slice::from_raw_parts(t.ptr.cast::<u8>(), extent) }
    };
    Ok(HostTensor {
        data,
        format,
        shape,
        strides,
    })
}

/// A writable view of the caller's tensor `t` (`t->ptr` must be writable over its extent).
pub(crate) fn host_tensor_mut<'a>(
    t: &'a ttrt_tensor_desc,
    arg: &'static str,
) -> Result<HostTensorMut<'a>, CallError> {
    let (format, shape, strides, extent) = tensor_geometry(t, arg)?;
    let data: &mut [u8] = if extent == 0 {
        &mut []
    } else {
        if t.ptr.is_null() {
            return Err(ArgError::FieldNull { arg, field: "ptr" }.into());
        }
        // SAFETY: the caller's tensor spans `extent` writable bytes from `ptr`.
        unsafe { core::slice::from_raw_parts_mut(t.ptr as *mut u8, extent) }
    };
    Ok(HostTensorMut {
        data,
        format,
        shape,
        strides,
    })
}

fn rounding_of(o: &ttrt_codec_options) -> Result<Rounding, ArgError> {
    let min = core::mem::size_of::<ttrt_codec_options>() as u32;
    if o.struct_size < min {
        return Err(ArgError::StructSize {
            arg: "options",
            found: o.struct_size,
            min,
        });
    }
    Ok(Rounding {
        bfp: match o.bfp_rounding {
            0 => BfpRounding::HalfUp,
            1 => BfpRounding::Truncate,
            v => {
                return Err(ArgError::Range {
                    arg: "options->bfp_rounding",
                    found: v.into(),
                    allowed: "0 or 1",
                })
            }
        },
        float16_b: match o.float16_b_rounding {
            0 => Float16bRounding::Truncate,
            1 => Float16bRounding::NearestEven,
            v => {
                return Err(ArgError::Range {
                    arg: "options->float16_b_rounding",
                    found: v.into(),
                    allowed: "0 or 1",
                })
            }
        },
    })
}

/// Bytes of one 32x32 tile of `format` on `arch` (a `ttrt_data_format` and a `ttrt_arch`, 0 for
/// Wormhole B0): with header, exponents and padding, or, with `untilized`, datums (and block
/// exponents) only. 0 for an invalid format or arch (the reason is in the last error).
#[no_mangle]
pub extern "C" fn ttrt_tile_size_bytes(format: u32, arch: u32, untilized: bool) -> u32 {
    tile_size("ttrt_tile_size_bytes", format, arch, untilized, || {
        Ok(TileDim::FULL)
    })
}

/// As `ttrt_tile_size_bytes` for a tile of `tile_height` x `tile_width` (32x32, 16x32, 32x16,
/// 8x32, 4x32, 2x32, 1x32).
#[no_mangle]
pub extern "C" fn ttrt_tile_size_bytes_dim(
    format: u32,
    arch: u32,
    tile_height: u32,
    tile_width: u32,
    untilized: bool,
) -> u32 {
    tile_size("ttrt_tile_size_bytes_dim", format, arch, untilized, || {
        tile_dim(tile_height, tile_width, "tile_height", "tile_width")
    })
}

fn tile_size(
    func: &'static str,
    format: u32,
    arch: u32,
    untilized: bool,
    dim: impl FnOnce() -> Result<TileDim, ArgError>,
) -> u32 {
    let mut size = 0;
    call(func, || {
        let f = data_format(format, "format")?;
        let a = arch_of(arch, "arch")?;
        size = format::tile_size_bytes(f, a, dim()?, untilized) as u32;
        Ok::<(), ArgError>(())
    });
    size
}

/// The host shape `[w, z, y, x]` of a tensor of `w` entries of the queue `layout`.
///
/// # Safety
/// `layout` points to a `ttrt_io_desc`; `shape` to 4 writable `uint32_t`.
#[no_mangle]
pub unsafe extern "C" fn ttrt_io_desc_host_shape(
    layout: *const ttrt_io_desc,
    w: u32,
    shape: *mut u32,
) -> ttrt_status {
    call("ttrt_io_desc_host_shape", || {
        // SAFETY: the caller's contract (NULL and misalignment are refused).
        let (layout, shape) = unsafe {
            (
                arg(layout, "layout")?,
                out(shape.cast::<[u32; 4]>(), "shape")?,
            )
        };
        let q = queue_layout(layout)?;
        let s = q.host_shape(w as usize);
        let narrow =
            |v: usize| u32::try_from(v).map_err(|_| FormatError::TooLarge { what: "host shape" });
        shape.write([narrow(s[0])?, narrow(s[1])?, narrow(s[2])?, narrow(s[3])?]);
        Ok::<(), CallError>(())
    })
}

/// Sizes of the queue `layout`: bytes of one entry in one buffer (`entry_size`, as Buda's
/// `get_entry_size_in_bytes`), of one buffer of `layout->entries` slots with its queue header
/// (`io_size`, `get_io_size_in_bytes`), and of what `ttrt_tilize` writes for `w` entries across
/// all buffers (`tilized_size`). Any output pointer may be NULL.
///
/// # Safety
/// `layout` points to a `ttrt_io_desc`; each non-NULL output to writable memory.
#[no_mangle]
pub unsafe extern "C" fn ttrt_io_desc_sizes(
    layout: *const ttrt_io_desc,
    w: u32,
    entry_size: *mut u64,
    io_size: *mut u64,
    tilized_size: *mut u64,
) -> ttrt_status {
    call("ttrt_io_desc_sizes", || {
        // SAFETY: the caller's contract.
        let d = unsafe { arg(layout, "layout")? };
        let q = queue_layout(d)?;
        let (io, tilized) = (q.io_size(d.entries), q.tilized_size(w as usize));
        if io > isize::MAX as usize {
            return Err(FormatError::TooLarge {
                what: "queue size (layout->entries entries)",
            }
            .into());
        }
        if tilized > isize::MAX as usize {
            return Err(FormatError::TooLarge {
                what: "tilized size of w entries",
            }
            .into());
        }
        let values = [q.entry_size() as u64, io as u64, tilized as u64];
        let outputs = [
            (entry_size, "entry_size"),
            (io_size, "io_size"),
            (tilized_size, "tilized_size"),
        ];
        for ((p, name), v) in outputs.into_iter().zip(values) {
            if !p.is_null() {
                // SAFETY: non-NULL outputs are writable by the caller's contract.
                unsafe { out(p, name)? }.write(v);
            }
        }
        Ok::<(), CallError>(())
    })
}

/// Fills `options` with the defaults (Buda's reference rounding).
///
/// # Safety
/// `options` is NULL (ignored) or points to a writable `ttrt_codec_options`.
#[no_mangle]
pub unsafe extern "C" fn ttrt_codec_options_default(options: *mut ttrt_codec_options) {
    guard("ttrt_codec_options_default", (), || {
        // SAFETY: the caller's contract.
        if let Ok(o) = unsafe { out(options, "options") } {
            o.write(ttrt_codec_options {
                struct_size: core::mem::size_of::<ttrt_codec_options>() as u32,
                bfp_rounding: ttrt_bfp_rounding::HalfUp as u32,
                float16_b_rounding: ttrt_float16_b_rounding::Truncate as u32,
            });
        }
    })
}

/// Converts the host tensor `src` (W entries: its outermost dimension) into the tilized bytes
/// of the queue `layout`, quantized to the queue's format: for each buffer in row-major grid
/// order, the W entries one after another, no queue header. `dst_len` must be at least the
/// `tilized_size` of `ttrt_io_desc_sizes`. Rounding is Buda's reference (Float16_b truncates,
/// block floats round half up); TT-Metal tensors (`ttrt_copy_host_to_device_tensor`) follow
/// TT-Metal's rules instead.
///
/// # Safety
/// `src` and `layout` point to valid descriptors, `src->ptr` to the tensor's data, `dst` to
/// `dst_len` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn ttrt_tilize(
    src: *const ttrt_tensor_desc,
    layout: *const ttrt_io_desc,
    dst: *mut c_void,
    dst_len: usize,
) -> ttrt_status {
    // SAFETY: forwarded contract.
    unsafe {
        tilize_impl("ttrt_tilize", src, layout, dst, dst_len, || {
            Ok(Rounding::default())
        })
    }
}

/// `ttrt_tilize` with rounding options (NULL: the defaults).
///
/// # Safety
/// As `ttrt_tilize`; `options` is NULL or points to an initialized `ttrt_codec_options`.
#[no_mangle]
pub unsafe extern "C" fn ttrt_tilize_with_options(
    src: *const ttrt_tensor_desc,
    layout: *const ttrt_io_desc,
    options: *const ttrt_codec_options,
    dst: *mut c_void,
    dst_len: usize,
) -> ttrt_status {
    let rounding = || {
        if options.is_null() {
            return Ok(Rounding::default());
        }
        // SAFETY: the caller's contract.
        rounding_of(unsafe { arg(options, "options")? })
    };
    // SAFETY: forwarded contract.
    unsafe {
        tilize_impl(
            "ttrt_tilize_with_options",
            src,
            layout,
            dst,
            dst_len,
            rounding,
        )
    }
}

/// `ttrt_tilize` as the function `func`, with the rounding `rounding` reads.
unsafe fn tilize_impl(
    func: &'static str,
    src: *const ttrt_tensor_desc,
    layout: *const ttrt_io_desc,
    dst: *mut c_void,
    dst_len: usize,
    rounding: impl FnOnce() -> Result<Rounding, ArgError>,
) -> ttrt_status {
    call(func, || {
        // SAFETY: the caller's contract (NULL and misalignment refused).
        let (src, layout) = unsafe { (arg(src, "src")?, arg(layout, "layout")?) };
        let rounding = rounding()?;
        let q = queue_layout(layout)?;
        let tensor = host_tensor(src, "src")?;
        if dst.is_null() {
            return Err(ArgError::Null { arg: "dst" }.into());
        }
        check_len::<u8>(dst_len, "dst_len")?;
        // SAFETY: `dst` holds `dst_len` writable bytes by the caller's contract.
        let dst = unsafe { core::slice::from_raw_parts_mut(dst.cast::<u8>(), dst_len) };
        format::tilize(&tensor, &q, rounding, dst)?;
        Ok::<(), CallError>(())
    })
}

/// Converts `src_len` tilized bytes of the queue `layout` (the layout `ttrt_tilize` writes) into
/// the host tensor `dst`: the caller sets `dst->ptr` (writable), `format` (Float32, or the
/// queue format's host format: Float16_b for the B family, Float16 for the A family, integer
/// formats unchanged), `itemsize`, `shape` (`[W, ...]` as `ttrt_io_desc_host_shape`) and
/// `strides`. Values convert as Buda's `get_output` does.
///
/// # Safety
/// `src` holds `src_len` readable bytes; `layout` and `dst` point to valid descriptors;
/// `dst->ptr` to the writable extent its shape and strides describe.
#[no_mangle]
pub unsafe extern "C" fn ttrt_untilize(
    src: *const c_void,
    src_len: usize,
    layout: *const ttrt_io_desc,
    dst: *mut ttrt_tensor_desc,
) -> ttrt_status {
    call("ttrt_untilize", || {
        // SAFETY: the caller's contract.
        let (layout, dst) = unsafe { (arg(layout, "layout")?, arg_mut(dst, "dst")?) };
        if src.is_null() {
            return Err(ArgError::Null { arg: "src" }.into());
        }
        check_len::<u8>(src_len, "src_len")?;
        let q = queue_layout(layout)?;
        let (format, shape, strides, extent) = tensor_geometry(dst, "dst")?;
        if extent > 0 && dst.ptr.is_null() {
            return Err(ArgError::Null { arg: "dst->ptr" }.into());
        }
        // SAFETY: `src` holds `src_len` bytes; `dst->ptr` is writable for `extent` bytes.
        let (src, data) = unsafe {
            (
                core::slice::from_raw_parts(src.cast::<u8>(), src_len),
                if extent == 0 {
                    &mut [][..]
                } else {
                    core::slice::from_raw_parts_mut(dst.ptr as *mut u8, extent)
                },
            )
        };
        let mut tensor = HostTensorMut {
            data,
            format,
            shape,
            strides,
        };
        format::untilize(src, &q, &mut tensor)?;
        Ok::<(), CallError>(())
    })
}
