//! Host tensors as the caller lays them out: shape `[w, z, y, x]` (outermost first), byte
//! strides, a host data format. The codecs read and write through these views, so strided
//! (non-contiguous) tensors work without a copy.

use super::{DataFormat, FormatError};

/// A read-only host tensor.
#[derive(Clone, Copy, Debug)]
pub struct HostTensor<'a> {
    pub data: &'a [u8],
    pub format: DataFormat,
    pub shape: [usize; 4],
    /// Bytes between consecutive indices of each dimension.
    pub strides: [usize; 4],
}

/// A writable host tensor.
#[derive(Debug)]
pub struct HostTensorMut<'a> {
    pub data: &'a mut [u8],
    pub format: DataFormat,
    pub shape: [usize; 4],
    pub strides: [usize; 4],
}

/// Row-major strides for `shape` with items of `itemsize` bytes. The products saturate: a
/// shape too large for memory (from a caller's descriptor) gets strides that every extent
/// check refuses, instead of wrapped ones.
pub const fn contiguous_strides(shape: [usize; 4], itemsize: usize) -> [usize; 4] {
    let s3 = itemsize;
    let s2 = s3.saturating_mul(shape[3]);
    let s1 = s2.saturating_mul(shape[2]);
    [s1.saturating_mul(shape[1]), s1, s2, s3]
}

impl<'a> HostTensor<'a> {
    /// A row-major tensor over `data` (the item size comes from `format`; 4 if it has none,
    /// which `check` then refuses).
    pub fn contiguous(data: &'a [u8], format: DataFormat, shape: [usize; 4]) -> HostTensor<'a> {
        let itemsize = format.host_item_size().unwrap_or(4);
        HostTensor {
            data,
            format,
            shape,
            strides: contiguous_strides(shape, itemsize),
        }
    }
}

impl<'a> HostTensorMut<'a> {
    pub fn contiguous(
        data: &'a mut [u8],
        format: DataFormat,
        shape: [usize; 4],
    ) -> HostTensorMut<'a> {
        let itemsize = format.host_item_size().unwrap_or(4);
        HostTensorMut {
            data,
            format,
            shape,
            strides: contiguous_strides(shape, itemsize),
        }
    }
}

/// Byte offset of element (w, 0, row, col) under `strides`; `usize::MAX` if it overflows.
fn window_at(strides: [usize; 4], w: usize, row: usize, col: usize) -> usize {
    let at = w
        .checked_mul(strides[0])
        .zip(row.checked_mul(strides[2]))
        .zip(col.checked_mul(strides[3]))
        .and_then(|((a, b), c)| a.checked_add(b)?.checked_add(c));
    at.unwrap_or(usize::MAX)
}

impl<'a> HostTensor<'a> {
    /// The `[1, z, rows, cols]` part of the tensor whose first element is (w, 0, row, col),
    /// with the same strides (a window starting past the data has none, which the codecs'
    /// extent check refuses).
    pub fn window(&self, w: usize, row: usize, col: usize, rows: usize, cols: usize) -> Self {
        let at = window_at(self.strides, w, row, col);
        HostTensor {
            data: self.data.get(at..).unwrap_or(&[]),
            format: self.format,
            shape: [1, self.shape[1], rows, cols],
            strides: self.strides,
        }
    }
}

impl HostTensorMut<'_> {
    /// [`HostTensor::window`] of a writable tensor.
    pub fn window(
        &mut self,
        w: usize,
        row: usize,
        col: usize,
        rows: usize,
        cols: usize,
    ) -> HostTensorMut<'_> {
        let at = window_at(self.strides, w, row, col);
        HostTensorMut {
            data: self.data.get_mut(at..).unwrap_or(&mut []),
            format: self.format,
            shape: [1, self.shape[1], rows, cols],
            strides: self.strides,
        }
    }
}

/// Checks that every element of a tensor lies inside `len` bytes; returns the item size.
pub(crate) fn check_extent(
    len: usize,
    format: DataFormat,
    shape: [usize; 4],
    strides: [usize; 4],
    direction: &'static str,
) -> Result<usize, FormatError> {
    let itemsize = format
        .host_item_size()
        .ok_or(FormatError::HostFormat { format, direction })?;
    if shape.contains(&0) {
        return Ok(itemsize);
    }
    let mut last = 0usize;
    for d in 0..4 {
        let reach = (shape[d] - 1)
            .checked_mul(strides[d])
            .ok_or(FormatError::TooLarge {
                what: "tensor extent",
            })?;
        last = last.checked_add(reach).ok_or(FormatError::TooLarge {
            what: "tensor extent",
        })?;
        if shape[d] > 1 && strides[d] == 0 && d == 3 {
            return Err(FormatError::Stride {
                dim: d,
                stride: 0,
                itemsize,
            });
        }
    }
    let needed = last.checked_add(itemsize).ok_or(FormatError::TooLarge {
        what: "tensor extent",
    })?;
    if needed > len {
        return Err(FormatError::BufferSize {
            what: "tensor data",
            expected: needed,
            found: len,
        });
    }
    Ok(itemsize)
}
