//! Host tensors a pipeline takes in and gives back: bytes the tensor owns, with shape, data
//! format and layout (TT-NN's host storage).
//!
//! ROW_MAJOR: the elements in a host format (float32, bfloat16, ...), contiguous, outermost
//! first; a write converts and tilizes them. TILE: the device tensor's pages exactly (its format,
//! 32x32 tiles in face order), copied as they are.

use alloc::vec;
use alloc::vec::Vec;

use crate::format::element::from_host;
use crate::format::{contiguous_strides, DataFormat};
use crate::hal::layout::TensorLayout;
use crate::runtime::{HostBuffer, Tensor};

/// A tensor in host memory.
#[derive(Clone, Debug, PartialEq)]
pub struct HostTensor {
    data: Vec<u8>,
    shape: [u32; 4],
    format: DataFormat,
    layout: TensorLayout,
}

impl HostTensor {
    /// A tensor over `data`. The pipeline checks the size against what it was compiled for.
    pub fn new(data: Vec<u8>, shape: [u32; 4], format: DataFormat, layout: TensorLayout) -> Self {
        HostTensor {
            data,
            shape,
            format,
            layout,
        }
    }

    /// A ROW_MAJOR float32 tensor.
    pub fn from_f32(values: &[f32], shape: [u32; 4]) -> Self {
        let data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        Self::new(data, shape, DataFormat::Float32, TensorLayout::RowMajor)
    }

    /// A ROW_MAJOR bfloat16 (`Float16_b`) tensor from the values' bits.
    pub fn from_bf16_bits(bits: &[u16], shape: [u32; 4]) -> Self {
        let data = bits.iter().flat_map(|v| v.to_le_bytes()).collect();
        Self::new(data, shape, DataFormat::Float16B, TensorLayout::RowMajor)
    }

    /// `len` zero bytes.
    pub fn zeroed(len: usize, shape: [u32; 4], format: DataFormat, layout: TensorLayout) -> Self {
        Self::new(vec![0; len], shape, format, layout)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.data
    }

    pub fn shape(&self) -> [u32; 4] {
        self.shape
    }

    pub fn format(&self) -> DataFormat {
        self.format
    }

    pub fn layout(&self) -> TensorLayout {
        self.layout
    }

    /// The elements as f32, for a ROW_MAJOR tensor in a host format (`None` otherwise).
    pub fn to_f32(&self) -> Option<Vec<f32>> {
        let item = self.format.host_item_size()?;
        if self.layout != TensorLayout::RowMajor {
            return None;
        }
        let n = self.shape.iter().map(|&d| d as usize).product::<usize>();
        let bytes = self.data.get(..n * item)?;
        Some(
            bytes
                .chunks_exact(item)
                .map(|b| from_host(b, self.format))
                .collect(),
        )
    }

    /// The bits of a ROW_MAJOR bfloat16 tensor (`None` otherwise).
    pub fn to_bf16_bits(&self) -> Option<Vec<u16>> {
        if self.layout != TensorLayout::RowMajor || self.format != DataFormat::Float16B {
            return None;
        }
        let n = self.shape.iter().map(|&d| d as usize).product::<usize>();
        let bytes = self.data.get(..n * 2)?;
        Some(
            bytes
                .chunks_exact(2)
                .map(|b| u16::from_le_bytes([b[0], b[1]]))
                .collect(),
        )
    }

    /// The tensor as a write reads it. The pointer is only read through (writes copy the
    /// bytes before they return).
    pub(crate) fn buffer(&self) -> HostBuffer {
        host_buffer(
            self.data.as_ptr().cast_mut(),
            self.data.len(),
            self.shape,
            self.format,
            self.layout,
        )
    }

    /// The tensor as a read fills it.
    pub(crate) fn buffer_mut(&mut self) -> HostBuffer {
        host_buffer(
            self.data.as_mut_ptr(),
            self.data.len(),
            self.shape,
            self.format,
            self.layout,
        )
    }
}

/// A contiguous host buffer of `len` bytes at `ptr`.
pub fn host_buffer(
    ptr: *mut u8,
    len: usize,
    shape: [u32; 4],
    format: DataFormat,
    layout: TensorLayout,
) -> HostBuffer {
    let shape = shape.map(|d| d as usize);
    HostBuffer {
        ptr,
        len,
        format,
        shape,
        strides: contiguous_strides(shape, format.host_item_size().unwrap_or(1)),
        tiled: layout == TensorLayout::Tile,
    }
}

/// What one output looks like on the host: the model output's shape, in the layout the inputs
/// came in. TILE: the output's own format and pages. ROW_MAJOR: its format when that has a host
/// representation, float32 otherwise (block floats exist only on the device).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutputSpec {
    pub shape: [u32; 4],
    pub format: DataFormat,
    pub layout: TensorLayout,
    /// Bytes of one output.
    pub len: usize,
}

impl OutputSpec {
    pub(crate) fn of(output: &Tensor, layout: TensorLayout) -> OutputSpec {
        let spec = output.spec();
        let (format, len) = match layout {
            TensorLayout::Tile => {
                let l = &output.buffer().layout;
                (spec.format, l.num_pages() as usize * l.page_size() as usize)
            }
            TensorLayout::RowMajor => {
                let format = if spec.format.host_item_size().is_some() {
                    spec.format
                } else {
                    DataFormat::Float32
                };
                let n = spec.shape.iter().map(|&d| d as usize).product::<usize>();
                (format, n * format.host_item_size().unwrap_or(4))
            }
        };
        OutputSpec {
            shape: spec.shape,
            format,
            layout,
            len,
        }
    }

    /// A zeroed host tensor of this spec.
    pub fn allocate(&self) -> HostTensor {
        HostTensor::zeroed(self.len, self.shape, self.format, self.layout)
    }

    /// A zeroed host tensor of this spec, or `None` when the allocator refuses its bytes.
    pub fn try_allocate(&self) -> Option<HostTensor> {
        let data = crate::runtime::host_memory::try_zeroed(self.len)?;
        Some(HostTensor::new(data, self.shape, self.format, self.layout))
    }
}
