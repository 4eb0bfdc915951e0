//! Status codes. The values are fixed forever; new codes are appended. 0, 1 and 2 equal Buda's
//! `DEVICE_STATUS_CODE` Success, RuntimeError and TimeoutError.

use core::ffi::c_char;

/// What a call did. `TTRT_STATUS_SUCCESS` is 0; every other value is a failure whose text
/// `ttrt_last_error_message()` returns.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ttrt_status {
    /// The call did what it was asked.
    Success = 0,
    /// The device or the model failed while running (Buda's RuntimeError).
    RuntimeError = 1,
    /// A queue stayed full or empty, or an event did not complete, within the timeout (Buda's
    /// TimeoutError).
    Timeout = 2,
    /// An argument is NULL, out of range, or does not match what it describes.
    InvalidArgument = 3,
    /// A named thing (queue, program, tensor, trace) does not exist.
    NotFound = 4,
    /// The call is not allowed now (out of order, during trace capture, after close).
    InvalidState = 5,
    /// Device or host memory ran out.
    OutOfMemory = 6,
    /// The request is valid but this build or device does not support it.
    Unsupported = 7,
    /// A file could not be read or written.
    IoError = 8,
    /// A TTI archive or netlist is malformed.
    InvalidImage = 9,
    /// ttrt panicked; the panic was caught at the boundary. Please report it.
    Panic = 10,
    /// The call was waiting (for a queue, an event or the device) when another thread
    /// finished, freed or closed the object it waited on; the call returned without doing its
    /// work. Appended after Panic.
    Cancelled = 11,
    /// The device is gone: the device process it was attached to ended (or its link went
    /// down). Nothing on it can be reached again; close it and open it anew. Appended after
    /// Cancelled.
    DeviceLost = 12,
}

static_assertions::assert_eq_size!(ttrt_status, u32);

/// Every status, in value order.
const ALL: [ttrt_status; 13] = [
    ttrt_status::Success,
    ttrt_status::RuntimeError,
    ttrt_status::Timeout,
    ttrt_status::InvalidArgument,
    ttrt_status::NotFound,
    ttrt_status::InvalidState,
    ttrt_status::OutOfMemory,
    ttrt_status::Unsupported,
    ttrt_status::IoError,
    ttrt_status::InvalidImage,
    ttrt_status::Panic,
    ttrt_status::Cancelled,
    ttrt_status::DeviceLost,
];

impl ttrt_status {
    /// The status with this value, if there is one.
    pub fn from_u32(value: u32) -> Option<Self> {
        ALL.get(value as usize).copied()
    }

    /// The enumerator's name as spelled in `ttrt.h`, NUL-terminated.
    pub const fn name_nul(self) -> &'static str {
        match self {
            Self::Success => "TTRT_STATUS_SUCCESS\0",
            Self::RuntimeError => "TTRT_STATUS_RUNTIME_ERROR\0",
            Self::Timeout => "TTRT_STATUS_TIMEOUT\0",
            Self::InvalidArgument => "TTRT_STATUS_INVALID_ARGUMENT\0",
            Self::NotFound => "TTRT_STATUS_NOT_FOUND\0",
            Self::InvalidState => "TTRT_STATUS_INVALID_STATE\0",
            Self::OutOfMemory => "TTRT_STATUS_OUT_OF_MEMORY\0",
            Self::Unsupported => "TTRT_STATUS_UNSUPPORTED\0",
            Self::IoError => "TTRT_STATUS_IO_ERROR\0",
            Self::InvalidImage => "TTRT_STATUS_INVALID_IMAGE\0",
            Self::Panic => "TTRT_STATUS_PANIC\0",
            Self::Cancelled => "TTRT_STATUS_CANCELLED\0",
            Self::DeviceLost => "TTRT_STATUS_DEVICE_LOST\0",
        }
    }

    /// The enumerator's name as spelled in `ttrt.h`.
    pub fn name(self) -> &'static str {
        let s = self.name_nul();
        &s[..s.len() - 1]
    }
}

/// The name of a status code as spelled in this header (`"TTRT_STATUS_TIMEOUT"`), or
/// `"TTRT_STATUS_UNKNOWN"` for a value that is not a status. Never NULL; the string is static.
///
/// `status` is a `ttrt_status` value; it is taken as an integer so that any value is safe.
#[no_mangle]
pub extern "C" fn ttrt_status_str(status: u32) -> *const c_char {
    let unknown = "TTRT_STATUS_UNKNOWN\0";
    super::boundary::guard("ttrt_status_str", unknown.as_ptr().cast(), || {
        let name = ttrt_status::from_u32(status).map_or(unknown, ttrt_status::name_nul);
        name.as_ptr().cast()
    })
}
