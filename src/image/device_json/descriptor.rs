//! Tensor entries of `post_const_eval_constants` / `post_const_eval_parameters`: where a
//! constant's or parameter's bytes are in the archive and how they are laid out.

use serde_json::{json, Map, Value};

use super::reader::{self, Fields};
use crate::format::DataFormat;
use crate::image::{invalid, ImageError};

/// One tensor of an image, as device.json describes it.
#[derive(Clone, Debug, PartialEq)]
pub enum TensorEntry {
    /// `{"bin": ..., ...}`: a `.bin` or `.tbin` member ttrt can read.
    Binary(TensorDescriptor),
    /// A member name ending in `.pkl`: PyBuda's default export pickles torch tensors, which
    /// only Python can read. Kept so the image still parses (and `ttrt info` can show it);
    /// loading it fails with a message saying how to re-export.
    Pickled(String),
}

/// A tensor descriptor as PyBuda's `encode_descriptor` writes it.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorDescriptor {
    /// Member path under `unzipped_tti/` (`tensors/torch.Tensor.<name>.bin`).
    pub bin: String,
    /// Bytes of one host item.
    pub itemsize: usize,
    /// Host shape, outermost first, always 4-D (PyBuda pads with leading 1s).
    pub shape: [usize; 4],
    /// Host byte strides.
    pub strides: [usize; 4],
    /// How many dimensions the tensor had before padding to 4.
    pub dim: u32,
    /// The host format for `.bin`; for `.tbin`, the tilized queue format.
    pub format: DataFormat,
    /// Present for `.tbin` (pre-tilized) members.
    pub tilized: Option<TilizedBuffers>,
    /// Keys ttrt does not model, written back as found.
    pub extra: Map<String, Value>,
}

/// The queue buffers a `.tbin` member holds, back to back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TilizedBuffers {
    pub num_buffers: usize,
    /// Bytes of one buffer: its W entries, without the queue header (upstream's push of a
    /// tilized tensor writes them after the header, from the write pointer on).
    pub buffer_size_bytes: usize,
}

/// What kind of member a descriptor's `bin` names, from its extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TensorFileKind {
    /// `.bin`: raw contiguous host bytes.
    Host,
    /// `.tbin`: tilized queue buffers.
    Tilized,
}

impl TensorFileKind {
    /// By extension. (The backend's loader looked for ".tbin" anywhere in the name, so
    /// `a.tbin.bin` counted as tilized; ttrt goes by the extension only.)
    pub fn of_member(member: &str) -> Option<TensorFileKind> {
        if member.ends_with(".tbin") {
            Some(TensorFileKind::Tilized)
        } else if member.ends_with(".bin") {
            Some(TensorFileKind::Host)
        } else {
            None
        }
    }
}

/// Checks that `member` is a plain relative path inside the archive: an image must not name
/// files outside its own directory (`../x`, `/etc/x`), whatever reads the member later.
pub(crate) fn check_member_name(member: &str, path: &str) -> Result<(), ImageError> {
    let bad = if member.is_empty() {
        Some("it is empty")
    } else if member.starts_with('/') || member.starts_with('\\') {
        Some("it is absolute")
    } else if member.contains('\0') {
        Some("it holds a NUL byte")
    } else if member.split(['/', '\\']).any(|c| c == "..") {
        Some("it has a '..' component")
    } else if member.split('/').any(|c| c.is_empty() || c == ".") {
        Some("it has an empty or '.' component")
    } else {
        None
    };
    match bad {
        Some(why) => invalid!(
            "{path}: member name {} is not a relative path inside the archive: {why}",
            reader::found(&Value::String(member.to_string()))
        ),
        None => Ok(()),
    }
}

impl TensorEntry {
    pub(crate) fn from_json(v: &Value, path: &str) -> Result<TensorEntry, ImageError> {
        match v {
            Value::String(s) if s.ends_with(".pkl") => {
                check_member_name(s, path)?;
                Ok(TensorEntry::Pickled(s.clone()))
            }
            Value::Object(_) => TensorDescriptor::from_json(v, path).map(TensorEntry::Binary),
            _ => reader::mismatch(
                path,
                "a tensor descriptor {\"bin\": ...} or a .pkl member name",
                v,
            ),
        }
    }

    pub(crate) fn to_json(&self) -> Value {
        match self {
            TensorEntry::Binary(d) => d.to_json(),
            TensorEntry::Pickled(member) => Value::String(member.clone()),
        }
    }

    /// The member holding the tensor's bytes.
    pub fn member(&self) -> &str {
        match self {
            TensorEntry::Binary(d) => &d.bin,
            TensorEntry::Pickled(member) => member,
        }
    }
}

impl TensorDescriptor {
    pub(crate) fn from_json(v: &Value, path: &str) -> Result<TensorDescriptor, ImageError> {
        let mut f = Fields::new(v, path)?;
        let bin = f.required("bin", reader::string)?;
        check_member_name(&bin, &f.path("bin"))?;
        let Some(kind) = TensorFileKind::of_member(&bin) else {
            return invalid!(
                "{}: expected a .bin or .tbin member, found {}",
                f.path("bin"),
                reader::found(&Value::String(bin))
            );
        };
        let itemsize = f.required("itemsize", reader::uint)?;
        let shape = f.required("shape", reader::uint_array::<4>)?;
        let strides = f.required("strides", reader::uint_array::<4>)?;
        let dim = f.required("dim", reader::uint32)?;
        if dim > 4 {
            return invalid!("{}: expected 0 to 4 dimensions, found {dim}", f.path("dim"));
        }
        let format = f.required("format", data_format)?;
        let tilized = match kind {
            TensorFileKind::Host => None,
            TensorFileKind::Tilized => Some(tilized_buffers(&mut f)?),
        };
        Ok(TensorDescriptor {
            bin,
            itemsize,
            shape,
            strides,
            dim,
            format,
            tilized,
            extra: f.extras(),
        })
    }

    pub(crate) fn to_json(&self) -> Value {
        let mut m = self.extra.clone();
        m.insert("bin".into(), json!(self.bin));
        m.insert("itemsize".into(), json!(self.itemsize));
        m.insert("shape".into(), json!(self.shape));
        m.insert("strides".into(), json!(self.strides));
        m.insert("dim".into(), json!(self.dim));
        m.insert("format".into(), json!(self.format.name()));
        if let Some(t) = self.tilized {
            m.insert("num_buffers".into(), json!(t.num_buffers));
            // Both spellings: PyBuda reads `buf_size_bytes`, the backend's C++ loader read
            // `buffer_size_bytes`, so an image ttrt writes loads in either.
            m.insert("buf_size_bytes".into(), json!(t.buffer_size_bytes));
            m.insert("buffer_size_bytes".into(), json!(t.buffer_size_bytes));
        }
        Value::Object(m)
    }

    /// What kind of member `bin` is.
    pub fn kind(&self) -> TensorFileKind {
        match self.tilized {
            Some(_) => TensorFileKind::Tilized,
            None => TensorFileKind::Host,
        }
    }
}

/// `num_buffers` and the buffer size of a `.tbin` descriptor. PyBuda writes the size as
/// `buf_size_bytes` while the backend's loader read `buffer_size_bytes` (so upstream could not
/// load its own tilized exports); ttrt accepts either, and both when they agree.
fn tilized_buffers(f: &mut Fields<'_>) -> Result<TilizedBuffers, ImageError> {
    let num_buffers = f.required("num_buffers", reader::uint)?;
    let pybuda = f.optional("buf_size_bytes", reader::uint)?;
    let backend = f.optional("buffer_size_bytes", reader::uint)?;
    let buffer_size_bytes = match (pybuda, backend) {
        (Some(a), Some(b)) if a != b => {
            return invalid!(
                "{}: {a} disagrees with {}: {b}",
                f.path("buf_size_bytes"),
                f.path("buffer_size_bytes")
            )
        }
        (Some(a), _) | (None, Some(a)) => a,
        (None, None) => {
            return invalid!(
                "{}: required key is missing (also looked for buffer_size_bytes)",
                f.path("buf_size_bytes")
            )
        }
    };
    Ok(TilizedBuffers {
        num_buffers,
        buffer_size_bytes,
    })
}

/// A data format in either spelling (`"Float16_b"`, `{"__enum__": "DataFormat.Float16_b"}`).
pub(crate) fn data_format(v: &Value, path: &str) -> Result<DataFormat, ImageError> {
    let name = reader::enum_name(v, path)?;
    match DataFormat::from_name(&name) {
        Some(f) => Ok(f),
        None => reader::mismatch(
            path,
            "a data format name (Float32, Float16_b, Bfp8_b, ...)",
            v,
        ),
    }
}
