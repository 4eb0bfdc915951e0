//! Tensor files of a TTI image (`.bin`, `.tbin`): checking a member's bytes against its
//! descriptor before anything reads them, and, for `ttrt pack`, the descriptor and member name
//! PyBuda would give a host tensor.

use crate::format::{DataFormat, HostTensor};
use crate::image::device_json::{TensorDescriptor, TensorEntry, TilizedBuffers};
use crate::image::{invalid, ImageError};

/// A tensor member whose size agrees with its descriptor.
#[derive(Clone, Copy, Debug)]
pub enum TensorFile<'a> {
    /// A `.bin`: a contiguous row-major host tensor.
    Host(HostTensor<'a>),
    /// A `.tbin`: queue buffers already in the device layout.
    Tilized(TilizedTensor<'a>),
}

/// The bytes of a `.tbin` member: `num_buffers` buffers of `buffer_size_bytes` each.
#[derive(Clone, Copy, Debug)]
pub struct TilizedTensor<'a> {
    pub data: &'a [u8],
    /// The queue's (device) format.
    pub format: DataFormat,
    pub num_buffers: usize,
    pub buffer_size_bytes: usize,
}

impl<'a> TilizedTensor<'a> {
    /// Buffer `i` (in the queue's row-major grid order).
    pub fn buffer(&self, i: usize) -> Option<&'a [u8]> {
        let start = i.checked_mul(self.buffer_size_bytes)?;
        let end = start.checked_add(self.buffer_size_bytes)?;
        self.data.get(start..end)
    }
}

impl<'a> TensorFile<'a> {
    /// Checks the member `bytes` of the tensor `name` against its entry in device.json.
    pub fn check(
        entry: &TensorEntry,
        name: &str,
        bytes: &'a [u8],
    ) -> Result<TensorFile<'a>, ImageError> {
        let desc = match entry {
            TensorEntry::Binary(desc) => desc,
            TensorEntry::Pickled(member) => {
                return invalid!(
                    "tensor {name:?}: {member} is a pickled torch tensor, which only Python can \
                     read; re-export the image with PYBUDA_TTI_BACKEND_FORMAT=1 set"
                )
            }
        };
        match desc.tilized {
            None => check_host(desc, name, bytes).map(TensorFile::Host),
            Some(t) => check_tilized(desc, t, name, bytes).map(TensorFile::Tilized),
        }
    }
}

/// The bytes the member of a tensor of `desc` holds: a `.bin`'s shape times its itemsize, a
/// `.tbin`'s buffers times their size (`None` when that overflows). Known from device.json
/// alone, so a member's declared size is checked against it before anything is inflated.
pub fn expected_size(desc: &TensorDescriptor) -> Option<u64> {
    match desc.tilized {
        None => desc
            .shape
            .iter()
            .try_fold(desc.itemsize as u64, |acc, &n| acc.checked_mul(n as u64)),
        Some(t) => (t.num_buffers as u64).checked_mul(t.buffer_size_bytes as u64),
    }
}

fn check_host<'a>(
    desc: &TensorDescriptor,
    name: &str,
    bytes: &'a [u8],
) -> Result<HostTensor<'a>, ImageError> {
    let member = &desc.bin;
    let Some(itemsize) = desc.format.host_item_size() else {
        return invalid!(
            "tensor {name:?} ({member}): format {} has no host layout; a .bin holds host data \
             (Float32, Float16_b, Int8, ...)",
            desc.format.name()
        );
    };
    if desc.itemsize != itemsize {
        return invalid!(
            "tensor {name:?} ({member}): itemsize {} does not match format {} ({itemsize} bytes)",
            desc.itemsize,
            desc.format.name()
        );
    }
    let (Some(expected), Some(strides)) = (
        desc.shape
            .iter()
            .try_fold(itemsize, |acc, &n| acc.checked_mul(n)),
        row_major_strides(desc.shape, itemsize),
    ) else {
        return invalid!(
            "tensor {name:?} ({member}): shape {:?} is too large",
            desc.shape
        );
    };
    // Contiguous in every dimension longer than 1. PyBuda pads 2-D and 3-D tensors to 4-D by
    // repeating the outermost stride, so the strides of padded 1-long dimensions are not the
    // row-major ones; they never move the address, so any value is accepted there.
    for d in 0..4 {
        if desc.shape[d] > 1 && desc.strides[d] != strides[d] {
            return invalid!(
                "tensor {name:?} ({member}): strides {:?} are not contiguous for shape {:?} \
                 (expected {:?}); a .bin holds a row-major tensor",
                desc.strides,
                desc.shape,
                strides
            );
        }
    }
    if bytes.len() != expected {
        return invalid!(
            "tensor {name:?} ({member}): expected {expected} bytes for shape {:?} of {}, found {}",
            desc.shape,
            desc.format.name(),
            bytes.len()
        );
    }
    Ok(HostTensor {
        data: bytes,
        format: desc.format,
        shape: desc.shape,
        strides,
    })
}

fn check_tilized<'a>(
    desc: &TensorDescriptor,
    t: TilizedBuffers,
    name: &str,
    bytes: &'a [u8],
) -> Result<TilizedTensor<'a>, ImageError> {
    let member = &desc.bin;
    if t.num_buffers == 0 || t.buffer_size_bytes == 0 {
        return invalid!(
            "tensor {name:?} ({member}): expected at least one buffer of at least one byte, found \
             num_buffers {} of {} bytes",
            t.num_buffers,
            t.buffer_size_bytes
        );
    }
    let Some(expected) = t.num_buffers.checked_mul(t.buffer_size_bytes) else {
        return invalid!(
            "tensor {name:?} ({member}): {} buffers of {} bytes is too large",
            t.num_buffers,
            t.buffer_size_bytes
        );
    };
    if bytes.len() != expected {
        return invalid!(
            "tensor {name:?} ({member}): expected {expected} bytes ({} buffers of {} bytes), \
             found {}",
            t.num_buffers,
            t.buffer_size_bytes,
            bytes.len()
        );
    }
    Ok(TilizedTensor {
        data: bytes,
        format: desc.format,
        num_buffers: t.num_buffers,
        buffer_size_bytes: t.buffer_size_bytes,
    })
}

/// Row-major byte strides, `None` when one overflows (a zero-length dimension makes the
/// volume 0 while the strides outside it can still be huge).
fn row_major_strides(shape: [usize; 4], itemsize: usize) -> Option<[usize; 4]> {
    let s2 = itemsize.checked_mul(shape[3])?;
    let s1 = s2.checked_mul(shape[2])?;
    let s0 = s1.checked_mul(shape[1])?;
    Some([s0, s1, s2, itemsize])
}

/// The member PyBuda writes a tensor named `name` to: `tensors/torch.Tensor.<name>.bin`, with
/// every '/' in the name made '_' (so the name stays one path component).
pub fn tensor_member_name(name: &str) -> String {
    format!("tensors/torch.Tensor.{}.bin", name.replace('/', "_"))
}

/// The descriptor of a contiguous host tensor named `name`, as PyBuda's `encode_descriptor`
/// writes it for a `.bin`: `shape` already padded to 4-D, `dim` the rank before padding.
pub fn host_tensor_descriptor(
    name: &str,
    format: DataFormat,
    shape: [usize; 4],
    dim: u32,
) -> Result<TensorDescriptor, ImageError> {
    let Some(itemsize) = format.host_item_size() else {
        return invalid!(
            "tensor {name:?}: format {} has no host layout to write to a .bin",
            format.name()
        );
    };
    if dim > 4 {
        return invalid!("tensor {name:?}: expected 0 to 4 dimensions, found {dim}");
    }
    let (Some(_), Some(strides)) = (
        shape
            .iter()
            .try_fold(itemsize, |acc, &n| acc.checked_mul(n)),
        row_major_strides(shape, itemsize),
    ) else {
        return invalid!("tensor {name:?}: shape {shape:?} is too large");
    };
    Ok(TensorDescriptor {
        bin: tensor_member_name(name),
        itemsize,
        shape,
        strides,
        dim,
        format,
        tilized: None,
        extra: Default::default(),
    })
}
