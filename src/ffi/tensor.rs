//! `ttrt_tensor`: device tensors (TT-NN's `allocate_tensor_on_device`, `copy_host_to_device_
//! tensor`, `to_memory_config`, `reshard`, `deallocate`) and the device ops that make them.

use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, Ordering};

use super::boundary::{arg, arg_mut, call, guard, len_fits, out, LEN_ALLOWED};
use super::device::{device, Shared};
use super::format::data_format;
use super::handle::{Handle, HandleTable};
use super::status::ttrt_status;
use crate::compute::{BinaryOp, UnaryOp};
use crate::format::contiguous_strides;
use crate::hal::layout::{
    persistent_dram_memory_config, CoreRange, MemoryLayout, ShardOrientation, ShardSpec,
    TensorLayout,
};
use crate::runtime::allocator::BufferType;
use crate::runtime::error::fail;
use crate::runtime::{HostBuffer, MemoryConfig, RuntimeError, Tensor, TensorSpec};

/// A tensor on a device (opaque).
pub struct ttrt_tensor {
    _private: [u8; 0],
}

/// Where a buffer lives.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ttrt_buffer_type {
    Dram = 0,
    L1 = 1,
    L1Small = 2,
    /// The trace region (traces only; tensors cannot be allocated there).
    Trace = 3,
}

/// How a buffer is spread over banks.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ttrt_memory_layout {
    /// Page i in bank i % banks.
    Interleaved = 0,
    HeightSharded = 1,
    WidthSharded = 2,
    BlockSharded = 3,
}

/// How a tensor's elements are arranged in pages.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ttrt_tensor_layout {
    /// 32x32 tiles in face order (a page is one tile).
    Tile = 0,
    /// Rows (a page is a row, or a shard-wide piece of one).
    RowMajor = 1,
}

/// The order shards are given to the cores of a shard grid.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ttrt_shard_orientation {
    RowMajor = 0,
    ColMajor = 1,
}

/// Elementwise unary device ops.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ttrt_unary_op {
    Identity = 0,
    Relu = 1,
    Gelu = 2,
    Exp = 3,
    Log = 4,
    Sqrt = 5,
    Reciprocal = 6,
    Sigmoid = 7,
    Tanh = 8,
    Abs = 9,
    Square = 10,
    Neg = 11,
}

/// Elementwise binary device ops.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ttrt_binary_op {
    Add = 0,
    Subtract = 1,
    Multiply = 2,
    Maximum = 3,
}

/// A rectangle of cores, corners inclusive. For DRAM sharding x is the DRAM bank, y is 0.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ttrt_core_range {
    pub start_x: u32,
    pub start_y: u32,
    pub end_x: u32,
    pub end_y: u32,
}

/// The shards of a sharded buffer.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ttrt_shard_spec {
    pub grid: ttrt_core_range,
    /// Height and width of one shard, in elements.
    pub shape: [u32; 2],
    /// A `ttrt_shard_orientation`.
    pub orientation: u32,
}

/// Where a tensor lives: a `ttrt_buffer_type`, a `ttrt_memory_layout` and, for the sharded
/// layouts, the shard spec (ignored for interleaved).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ttrt_memory_config {
    pub buffer_type: u32,
    pub memory_layout: u32,
    pub shard: ttrt_shard_spec,
}

/// What a tensor holds: shape (outermost first), a `ttrt_data_format`, a
/// `ttrt_tensor_layout`. TILE tensors need the last two dimensions to be multiples of 32.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ttrt_tensor_spec {
    pub shape: [u32; 4],
    pub format: u32,
    pub layout: u32,
}

/// A host buffer the caller owns. `TTRT_TENSOR_LAYOUT_ROW_MAJOR`: `shape` elements of
/// `format` (a host format: float32, bfloat16, float16, int32, uint16, uint8, int8),
/// contiguous, outermost first; converted to the device tensor's format on the way.
/// `TTRT_TENSOR_LAYOUT_TILE`: the device tensor's pages exactly (its format, 32x32 tiles in
/// face order without header, block-float exponents first), copied as they are.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ttrt_host_tensor {
    pub data: *mut core::ffi::c_void,
    /// Bytes at `data`.
    pub size: usize,
    pub shape: [u32; 4],
    pub format: u32,
    pub layout: u32,
}

// The C enums are the runtime's, value for value (their `from_u32` parses the C values).
macro_rules! same_values {
    ($($c:expr => $r:expr),* $(,)?) => {
        $(static_assertions::const_assert_eq!($c as u32, $r as u32);)*
    };
}
same_values!(
    ttrt_buffer_type::Dram => BufferType::Dram,
    ttrt_buffer_type::L1 => BufferType::L1,
    ttrt_buffer_type::L1Small => BufferType::L1Small,
    ttrt_buffer_type::Trace => BufferType::Trace,
    ttrt_memory_layout::Interleaved => MemoryLayout::Interleaved,
    ttrt_memory_layout::HeightSharded => MemoryLayout::HeightSharded,
    ttrt_memory_layout::WidthSharded => MemoryLayout::WidthSharded,
    ttrt_memory_layout::BlockSharded => MemoryLayout::BlockSharded,
    ttrt_tensor_layout::Tile => TensorLayout::Tile,
    ttrt_tensor_layout::RowMajor => TensorLayout::RowMajor,
    ttrt_shard_orientation::RowMajor => ShardOrientation::RowMajor,
    ttrt_shard_orientation::ColMajor => ShardOrientation::ColMajor,
    ttrt_unary_op::Identity => UnaryOp::Identity,
    ttrt_unary_op::Relu => UnaryOp::Relu,
    ttrt_unary_op::Gelu => UnaryOp::Gelu,
    ttrt_unary_op::Exp => UnaryOp::Exp,
    ttrt_unary_op::Log => UnaryOp::Log,
    ttrt_unary_op::Sqrt => UnaryOp::Sqrt,
    ttrt_unary_op::Reciprocal => UnaryOp::Reciprocal,
    ttrt_unary_op::Sigmoid => UnaryOp::Sigmoid,
    ttrt_unary_op::Tanh => UnaryOp::Tanh,
    ttrt_unary_op::Abs => UnaryOp::Abs,
    ttrt_unary_op::Square => UnaryOp::Square,
    ttrt_unary_op::Neg => UnaryOp::Neg,
    ttrt_binary_op::Add => BinaryOp::Add,
    ttrt_binary_op::Subtract => BinaryOp::Subtract,
    ttrt_binary_op::Multiply => BinaryOp::Multiply,
    ttrt_binary_op::Maximum => BinaryOp::Maximum,
);

static_assertions::assert_eq_size!(ttrt_core_range, [u32; 4]);
static_assertions::assert_eq_size!(ttrt_shard_spec, [u32; 7]);
static_assertions::assert_eq_size!(ttrt_memory_config, [u32; 9]);
static_assertions::assert_eq_size!(ttrt_tensor_spec, [u32; 6]);
static_assertions::const_assert_eq!(
    core::mem::offset_of!(ttrt_host_tensor, shape),
    2 * core::mem::size_of::<usize>()
);
static_assertions::const_assert_eq!(
    core::mem::size_of::<ttrt_host_tensor>(),
    2 * core::mem::size_of::<usize>() + 24
);

pub(crate) struct TensorHandle {
    shared: Arc<Shared>,
    tensor: Tensor,
    allocated: AtomicBool,
}

impl TensorHandle {
    /// The tensor as it is now (allocated or not).
    fn current(&self) -> Tensor {
        let mut t = self.tensor;
        t.allocated = self.allocated.load(Ordering::Acquire);
        t
    }

    /// Frees the buffer once (the first of racing calls wins).
    fn deallocate(&self) -> Result<(), RuntimeError> {
        if !self.allocated.swap(false, Ordering::AcqRel) {
            return fail!(
                InvalidState,
                "tensor at {:#x} is already deallocated",
                self.tensor.address()
            );
        }
        let mut t = self.tensor;
        self.shared.open()?.deallocate(&mut t, true)
    }
}

impl Handle for TensorHandle {
    type Opaque = ttrt_tensor;
    const KIND: &'static str = "ttrt_tensor";
    const TAG: usize = 3;
    fn table() -> &'static HandleTable<Self> {
        static TABLE: HandleTable<TensorHandle> = HandleTable::new();
        &TABLE
    }
}

fn tensor<'a>(
    t: *const ttrt_tensor,
    name: &'static str,
) -> Result<super::handle::Borrow<'a, TensorHandle>, RuntimeError> {
    Ok(TensorHandle::table().get(t, name)?)
}

fn enum_arg<T>(
    v: u32,
    name: &'static str,
    parse: impl Fn(u32) -> Option<T>,
    allowed: &'static str,
) -> Result<T, RuntimeError> {
    parse(v).ok_or_else(|| {
        super::error::ArgError::Range {
            arg: name,
            found: v.into(),
            allowed,
        }
        .into()
    })
}

fn spec_of(s: &ttrt_tensor_spec) -> Result<TensorSpec, RuntimeError> {
    Ok(TensorSpec {
        shape: s.shape,
        format: data_format(s.format, "spec->format")?,
        layout: enum_arg(
            s.layout,
            "spec->layout",
            TensorLayout::from_u32,
            "a ttrt_tensor_layout (0..1)",
        )?,
    })
}

/// A field of the struct argument `arg` that holds one of a C enum's values.
fn enum_field<T>(
    v: u32,
    arg: &'static str,
    field: &'static str,
    parse: impl Fn(u32) -> Option<T>,
    allowed: &'static str,
) -> Result<T, RuntimeError> {
    parse(v).ok_or_else(|| {
        super::error::ArgError::FieldRange {
            arg,
            field,
            found: v.into(),
            allowed,
        }
        .into()
    })
}

/// The memory config of the argument `name`.
pub(crate) fn memory_of(
    m: &ttrt_memory_config,
    name: &'static str,
) -> Result<MemoryConfig, RuntimeError> {
    let buffer_type = enum_field(
        m.buffer_type,
        name,
        "buffer_type",
        BufferType::from_u32,
        "a ttrt_buffer_type (0..3)",
    )?;
    let memory_layout = enum_field(
        m.memory_layout,
        name,
        "memory_layout",
        MemoryLayout::from_u32,
        "a ttrt_memory_layout (0..3)",
    )?;
    let shard = if memory_layout == MemoryLayout::Interleaved {
        None
    } else {
        let s = &m.shard;
        Some(ShardSpec {
            grid: CoreRange {
                start: (s.grid.start_x, s.grid.start_y),
                end: (s.grid.end_x, s.grid.end_y),
            },
            shape: s.shape,
            orientation: enum_field(
                s.orientation,
                name,
                "shard.orientation",
                ShardOrientation::from_u32,
                "a ttrt_shard_orientation (0..1)",
            )?,
        })
    };
    Ok(MemoryConfig {
        buffer_type,
        memory_layout,
        shard,
    })
}

/// The host tensor of the argument `name`.
pub(crate) fn host_of(
    h: &ttrt_host_tensor,
    name: &'static str,
) -> Result<HostBuffer, RuntimeError> {
    let format = enum_field(
        h.format,
        name,
        "format",
        crate::format::DataFormat::from_u32,
        "a ttrt_data_format other than TTRT_DATA_FORMAT_INVALID",
    )?;
    let tiled = enum_field(
        h.layout,
        name,
        "layout",
        TensorLayout::from_u32,
        "a ttrt_tensor_layout (0..1)",
    )? == TensorLayout::Tile;
    if !len_fits::<u8>(h.size) {
        return Err(super::error::ArgError::FieldRange {
            arg: name,
            field: "size",
            found: h.size as u64,
            allowed: LEN_ALLOWED,
        }
        .into());
    }
    let shape = h.shape.map(|d| d as usize);
    let strides = contiguous_strides(shape, format.host_item_size().unwrap_or(1));
    Ok(HostBuffer {
        ptr: h.data.cast(),
        len: h.size,
        format,
        shape,
        strides,
        tiled,
    })
}

/// Wraps a new device tensor in a handle.
fn new_handle(
    shared: &Arc<Shared>,
    t: Tensor,
    out_t: super::boundary::Out<'_, *mut ttrt_tensor>,
) -> Result<(), RuntimeError> {
    let handle = TensorHandle::table().insert(TensorHandle {
        shared: Arc::clone(shared),
        tensor: t,
        allocated: AtomicBool::new(true),
    });
    match handle {
        Some(h) => {
            out_t.write(h);
            Ok(())
        }
        None => {
            let mut t = t;
            let _ = shared.dev.deallocate(&mut t, true);
            fail!(OutOfMemory, "too many live tensors")
        }
    }
}

/// Lends `t`, a tensor the caller owns, to C code as a new handle (a pipeline's model callback
/// gets its input this way); [`take_tensor`] takes it back. `None` when the table is full.
pub(crate) fn lend_tensor(shared: &Arc<Shared>, t: Tensor) -> Option<*mut ttrt_tensor> {
    TensorHandle::table().insert(TensorHandle {
        shared: Arc::clone(shared),
        tensor: t,
        allocated: AtomicBool::new(t.is_allocated()),
    })
}

/// Takes the tensor behind `t` out of its handle, as it is now (allocated or deallocated): the
/// handle is freed, the device memory is not. A handle of another device is refused.
pub(crate) fn take_tensor(
    t: *mut ttrt_tensor,
    shared: &Arc<Shared>,
    name: &'static str,
) -> Result<Tensor, RuntimeError> {
    let current = {
        let h = tensor(t, name)?;
        if !Arc::ptr_eq(&h.shared, shared) {
            let (theirs, ours) = (h.shared.dev.id(), shared.dev.id());
            if theirs == ours {
                return fail!(
                    InvalidArgument,
                    "`{name}` is a tensor of another open device that also has device_id {ours}, \
                     not of this one"
                );
            }
            return fail!(
                InvalidArgument,
                "`{name}` is a tensor of device {theirs}, not of device {ours}"
            );
        }
        h.current()
    };
    TensorHandle::table().remove(t, name)?;
    Ok(current)
}

/// Allocates a tensor on the device. Host-side bookkeeping: nothing is enqueued. DRAM buffers
/// are placed bottom-up, L1 buffers top-down, first fit, so freeing a tensor and allocating
/// one of the same spec gives the same address.
///
/// # Safety
/// `dev` is a device handle; `spec`, `mem` point to their structs; `out_t` is writable.
#[no_mangle]
pub unsafe extern "C" fn ttrt_allocate_tensor_on_device(
    dev: *mut super::device::ttrt_device,
    spec: *const ttrt_tensor_spec,
    mem: *const ttrt_memory_config,
    out_t: *mut *mut ttrt_tensor,
) -> ttrt_status {
    call("ttrt_allocate_tensor_on_device", || {
        // SAFETY: the caller's contract (all three).
        let (s, m, o) = unsafe { (arg(spec, "spec")?, arg(mem, "mem")?, out(out_t, "out_t")?) };
        let (s, m) = (spec_of(s)?, memory_of(m, "mem")?);
        let h = device(dev)?;
        let t = h.shared.open()?.allocate_tensor(&s, &m)?;
        new_handle(&h.shared, t, o)
    })
}

/// The tensor's buffer address (the same in every bank), or 0 for NULL or a freed handle.
///
/// # Safety
/// `t` is NULL or a tensor handle.
#[no_mangle]
pub unsafe extern "C" fn ttrt_tensor_buffer_address(t: *const ttrt_tensor) -> u64 {
    guard("ttrt_tensor_buffer_address", 0, || match tensor(t, "t") {
        Ok(h) => h.tensor.address(),
        Err(e) => {
            super::error::set_last_error(format_args!("ttrt_tensor_buffer_address: {e}"));
            0
        }
    })
}

/// Frees the tensor's device memory; the handle stays valid (its address is still reported)
/// until `ttrt_tensor_free`. `force` is accepted for TT-NN's signature: ttrt tensors never
/// share buffers, so deallocation is always forced.
///
/// # Safety
/// `t` is a tensor handle.
#[no_mangle]
pub unsafe extern "C" fn ttrt_tensor_deallocate(t: *mut ttrt_tensor, force: bool) -> ttrt_status {
    let _ = force;
    call("ttrt_tensor_deallocate", || tensor(t, "t")?.deallocate())
}

/// Frees the handle, and the device memory if it is still allocated and the device open.
/// NULL is accepted.
///
/// # Safety
/// `t` is NULL or a tensor handle.
#[no_mangle]
pub unsafe extern "C" fn ttrt_tensor_free(t: *mut ttrt_tensor) {
    guard("ttrt_tensor_free", (), || {
        if t.is_null() {
            return;
        }
        if let Ok(h) = tensor(t, "t") {
            if h.allocated.load(Ordering::Acquire) && !h.shared.closed.load(Ordering::Acquire) {
                let _ = h.deallocate();
            }
        }
        let _ = TensorHandle::table().remove(t, "t");
    })
}

/// Runs `f` with the open device of `dev` and the live tensors.
fn on_device<R>(
    dev: *const super::device::ttrt_device,
    f: impl FnOnce(&Arc<Shared>) -> Result<R, RuntimeError>,
) -> Result<R, RuntimeError> {
    let h = device(dev)?;
    h.shared.open()?;
    f(&h.shared)
}

/// Copies a host tensor into `dst`. The bytes are converted and queued before this returns,
/// so `src` may be reused at once; `blocking` also waits until the device has them.
///
/// Conversion follows TT-Metal's host (`ttnn.Tensor(values, dtype, layout)`), not Buda's queue
/// codecs: TILE pages are byte for byte TT-Metal's (shared exponents of a block-float tile in
/// face order, then faces F0-F3; Bfp4_b low nibble first; pages row-major). Float16_b and
/// Bfp8_b/Bfp4_b round to nearest, ties to even; a NaN becomes bfloat16 0x7fc0; a block-float
/// denormal packs as 0. A host tensor already in device pages (TILE, the tensor's format) is
/// copied as is.
///
/// # Safety
/// `dev`, `dst` are handles; `src` points to a `ttrt_host_tensor` whose data is readable.
#[no_mangle]
pub unsafe extern "C" fn ttrt_copy_host_to_device_tensor(
    dev: *mut super::device::ttrt_device,
    cq: u8,
    src: *const ttrt_host_tensor,
    dst: *mut ttrt_tensor,
    blocking: bool,
) -> ttrt_status {
    call("ttrt_copy_host_to_device_tensor", || {
        // SAFETY: the caller's contract.
        let h = host_of(unsafe { arg(src, "src")? }, "src")?;
        let t = tensor(dst, "dst")?;
        on_device(dev, |s| s.dev.write_tensor(cq, &h, &t.current(), blocking))
    })
}

/// Copies `src` into the caller's host buffer `dst`. Non-blocking: the data is there after an
/// event, finish or synchronize that follows, and `dst->data` must stay valid until then.
///
/// Values read as TT-Metal's host reads pages back (ttnn's `to_torch`): a block-float code of
/// zero magnitude keeps its sign (-0); a value below fp32's normal range has the fraction
/// under exponent 0 without its hidden bit, or is +0 further down.
///
/// # Safety
/// `dev`, `src` are handles; `dst` points to a `ttrt_host_tensor` whose data is writable
/// until the read completes.
#[no_mangle]
pub unsafe extern "C" fn ttrt_copy_device_to_host_tensor(
    dev: *mut super::device::ttrt_device,
    cq: u8,
    src: *const ttrt_tensor,
    dst: *mut ttrt_host_tensor,
    blocking: bool,
) -> ttrt_status {
    call("ttrt_copy_device_to_host_tensor", || {
        // SAFETY: the caller's contract.
        let h = host_of(unsafe { arg_mut(dst, "dst")? }, "dst")?;
        let t = tensor(src, "src")?;
        // SAFETY: the caller promised dst->data stays writable until the read completes.
        on_device(dev, |s| unsafe {
            s.dev.read_tensor(cq, &t.current(), h, blocking)
        })
    })
}

/// An op's output: a new tensor in the memory config `out_mem` (the argument `mem_name`),
/// written to `out_t`.
fn op_out(
    dev: *const super::device::ttrt_device,
    out_mem: *const ttrt_memory_config,
    mem_name: &'static str,
    out_t: *mut *mut ttrt_tensor,
    f: impl FnOnce(&Arc<Shared>, &MemoryConfig) -> Result<Tensor, RuntimeError>,
) -> Result<(), RuntimeError> {
    // SAFETY: the caller's contract.
    let (m, o) = unsafe { (arg(out_mem, mem_name)?, out(out_t, "out_t")?) };
    let m = memory_of(m, mem_name)?;
    on_device(dev, |s| {
        let t = f(s, &m)?;
        new_handle(s, t, o)
    })
}

/// A copy of `input` in another memory config (a new tensor).
///
/// # Safety
/// `dev`, `input` are handles; `mem` points to a memory config; `out_t` is writable.
#[no_mangle]
pub unsafe extern "C" fn ttrt_to_memory_config(
    dev: *mut super::device::ttrt_device,
    cq: u8,
    input: *const ttrt_tensor,
    mem: *const ttrt_memory_config,
    out_t: *mut *mut ttrt_tensor,
) -> ttrt_status {
    call("ttrt_to_memory_config", || {
        let a = tensor(input, "input")?;
        op_out(dev, mem, "mem", out_t, |s, m| {
            s.dev.to_memory_config(cq, &a.current(), m)
        })
    })
}

/// Copies `input` into the existing tensor `out_in_place` (same spec, its own memory config).
///
/// # Safety
/// `dev`, `input`, `out_in_place` are handles.
#[no_mangle]
pub unsafe extern "C" fn ttrt_reshard(
    dev: *mut super::device::ttrt_device,
    cq: u8,
    input: *const ttrt_tensor,
    out_in_place: *mut ttrt_tensor,
) -> ttrt_status {
    call("ttrt_reshard", || {
        let (a, o) = (
            tensor(input, "input")?,
            tensor(out_in_place, "out_in_place")?,
        );
        on_device(dev, |s| s.dev.reshard(cq, &a.current(), &o.current()))
    })
}

/// `out = op(input)`, elementwise, as Buda's golden model computes it.
///
/// # Safety
/// `dev`, `input` are handles; `out_mem` points to a memory config; `out_t` is writable.
#[no_mangle]
pub unsafe extern "C" fn ttrt_op_unary(
    dev: *mut super::device::ttrt_device,
    cq: u8,
    op: u32,
    input: *const ttrt_tensor,
    out_mem: *const ttrt_memory_config,
    out_t: *mut *mut ttrt_tensor,
) -> ttrt_status {
    call("ttrt_op_unary", || {
        let op = enum_arg(op, "op", UnaryOp::from_u32, "a ttrt_unary_op (0..11)")?;
        let a = tensor(input, "input")?;
        op_out(dev, out_mem, "out_mem", out_t, |s, m| {
            s.dev.unary(cq, op, &a.current(), m)
        })
    })
}

/// `out = a op b`, elementwise over equal shapes.
///
/// # Safety
/// `dev`, `a`, `b` are handles; `out_mem` points to a memory config; `out_t` is writable.
#[no_mangle]
pub unsafe extern "C" fn ttrt_op_binary(
    dev: *mut super::device::ttrt_device,
    cq: u8,
    op: u32,
    a: *const ttrt_tensor,
    b: *const ttrt_tensor,
    out_mem: *const ttrt_memory_config,
    out_t: *mut *mut ttrt_tensor,
) -> ttrt_status {
    call("ttrt_op_binary", || {
        let op = enum_arg(op, "op", BinaryOp::from_u32, "a ttrt_binary_op (0..3)")?;
        let (a, b) = (tensor(a, "a")?, tensor(b, "b")?);
        op_out(dev, out_mem, "out_mem", out_t, |s, m| {
            s.dev.binary(cq, op, &a.current(), &b.current(), m)
        })
    })
}

/// `out = a · b` over the last two dimensions (float32 accumulation); `b`'s outer dimensions
/// are 1 or equal to `a`'s.
///
/// # Safety
/// `dev`, `a`, `b` are handles; `out_mem` points to a memory config; `out_t` is writable.
#[no_mangle]
pub unsafe extern "C" fn ttrt_op_matmul(
    dev: *mut super::device::ttrt_device,
    cq: u8,
    a: *const ttrt_tensor,
    b: *const ttrt_tensor,
    out_mem: *const ttrt_memory_config,
    out_t: *mut *mut ttrt_tensor,
) -> ttrt_status {
    call("ttrt_op_matmul", || {
        let (a, b) = (tensor(a, "a")?, tensor(b, "b")?);
        op_out(dev, out_mem, "out_mem", out_t, |s, m| {
            s.dev.matmul(cq, &a.current(), &b.current(), m)
        })
    })
}

/// The memory config TT-CNN uses for a persistent DRAM input: the tensor sharded over a 1-D
/// DRAM grid (`dram_grid_y` must be 1), height- or width-sharded per `shard_strategy`.
/// `dram_grid_x` is 1 to 8, the most DRAM banks of any supported chip; anything else is
/// TTRT_STATUS_INVALID_ARGUMENT.
///
/// # Safety
/// `shape` points to 4 values; `out_mem` is writable.
#[no_mangle]
pub unsafe extern "C" fn ttrt_memory_config_for_persistent_dram_tensor(
    shape: *const u32,
    shard_strategy: u32,
    dram_grid_x: u32,
    dram_grid_y: u32,
    out_mem: *mut ttrt_memory_config,
) -> ttrt_status {
    call("ttrt_memory_config_for_persistent_dram_tensor", || {
        // SAFETY: the caller's contract: 4 readable values.
        let s = unsafe { arg(shape.cast::<[u32; 4]>(), "shape")? };
        // SAFETY: the caller's contract.
        let o = unsafe { out(out_mem, "out_mem")? };
        let strategy = enum_arg(
            shard_strategy,
            "shard_strategy",
            MemoryLayout::from_u32,
            "a ttrt_memory_layout (0..3)",
        )?;
        let (layout, spec) =
            persistent_dram_memory_config(*s, strategy, (dram_grid_x, dram_grid_y))?;
        o.write(ttrt_memory_config {
            buffer_type: ttrt_buffer_type::Dram as u32,
            memory_layout: layout as u32,
            shard: ttrt_shard_spec {
                grid: ttrt_core_range {
                    start_x: spec.grid.start.0,
                    start_y: spec.grid.start.1,
                    end_x: spec.grid.end.0,
                    end_y: spec.grid.end.1,
                },
                shape: spec.shape,
                orientation: spec.orientation as u32,
            },
        });
        Ok::<(), RuntimeError>(())
    })
}
