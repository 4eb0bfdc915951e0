//! What can be wrong with a conversion request. Each variant names what was expected and what
//! was found, so the one line at the C boundary is enough to fix the call.

use core::fmt;

use super::DataFormat;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FormatError {
    /// A buffer is too small (or, for a source, has the wrong length).
    BufferSize {
        what: &'static str,
        expected: usize,
        found: usize,
    },
    /// A tensor's shape does not fit the queue layout.
    Shape {
        expected: [usize; 4],
        found: [usize; 4],
    },
    /// The number of entries (the outermost dimension) does not fit.
    Entries { found: usize, detail: &'static str },
    /// A host format that cannot be used in this direction.
    HostFormat {
        format: DataFormat,
        direction: &'static str,
    },
    /// The destination format of untilize is neither Float32 nor the queue's host format.
    OutputFormat {
        queue: DataFormat,
        expected: DataFormat,
        found: DataFormat,
    },
    /// A layout field is out of range.
    Layout {
        field: &'static str,
        found: u32,
        allowed: &'static str,
    },
    /// Stack factors must divide t.
    Stack { t: u32, hstack: u32, vstack: u32 },
    /// A stride would read or write outside the buffer.
    Stride {
        dim: usize,
        stride: usize,
        itemsize: usize,
    },
    /// A size computation overflowed.
    TooLarge { what: &'static str },
    /// A device format that this kind of data cannot be stored in.
    DeviceFormat {
        format: DataFormat,
        usage: &'static str,
    },
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormatError::BufferSize {
                what,
                expected,
                found,
            } => {
                write!(
                    f,
                    "{what} has {}, expected {expected}",
                    crate::message::count(*found, "byte")
                )
            }
            FormatError::Shape { expected, found } => write!(
                f,
                "tensor shape {found:?} does not match the queue layout: expected {expected:?} \
                 (the outermost dimension may be any number of entries)"
            ),
            FormatError::Entries { found, detail } => {
                write!(
                    f,
                    "tensor has {} (outermost dimension): {detail}",
                    crate::message::count(*found, "entry")
                )
            }
            FormatError::HostFormat { format, direction } => {
                write!(f, "host format {format} cannot be used to {direction}")
            }
            FormatError::OutputFormat {
                queue,
                expected,
                found,
            } => write!(
                f,
                "cannot untilize a {queue} queue into {found}: expected {expected} or Float32"
            ),
            FormatError::Layout {
                field,
                found,
                allowed,
            } => {
                write!(
                    f,
                    "queue layout field `{field}` is {found}, allowed: {allowed}"
                )
            }
            FormatError::Stack { t, hstack, vstack } => write!(
                f,
                "stack factors hstack {hstack} x vstack {vstack} must divide t = {t}"
            ),
            FormatError::Stride {
                dim,
                stride,
                itemsize,
            } => write!(
                f,
                "stride {stride} of dimension {dim} is not a multiple of the item size {itemsize} \
                 or reaches outside the buffer"
            ),
            FormatError::TooLarge { what } => write!(f, "{what} overflows"),
            FormatError::DeviceFormat { format, usage } => {
                write!(f, "device format {format} cannot be used for {usage}")
            }
        }
    }
}
