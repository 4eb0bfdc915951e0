//! Runtime errors: what kind of failure (it becomes the C status) and one line of text saying
//! what and where, formatted where the failure is found.

use core::fmt;

use crate::message::MessageBuf;

/// What kind of failure an error is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// An argument is out of range or does not fit the device or the tensor.
    InvalidArgument,
    /// The call is not allowed now (during trace capture, after close, on a busy CQ).
    InvalidState,
    /// Device memory ran out.
    OutOfMemory,
    /// An event did not complete within the timeout.
    Timeout,
    /// A command failed while the device ran it.
    Device,
    /// A trace or other named thing does not exist.
    NotFound,
    /// Valid, but not supported by this build or device.
    Unsupported,
    /// The device was closed (or the pipeline freed) while the call waited.
    Cancelled,
    /// The device is gone (its process ended).
    DeviceLost,
}

/// A runtime failure.
pub struct RuntimeError {
    pub kind: ErrorKind,
    message: Text,
}

/// The text lives behind a pointer where there is a heap: every device call returns a
/// `Result<_, RuntimeError>`, and an inline 256-byte buffer made each of them a few hundred
/// bytes to move on the success path too. Errors are off the steady-state path, so the
/// allocation costs nothing there. Bare-metal builds without `alloc` keep it inline.
#[cfg(feature = "alloc")]
type Text = alloc::boxed::Box<MessageBuf<256>>;
#[cfg(not(feature = "alloc"))]
type Text = MessageBuf<256>;

impl RuntimeError {
    #[cold]
    pub fn new(kind: ErrorKind, args: fmt::Arguments<'_>) -> RuntimeError {
        let mut message = Text::default();
        message.set(args);
        RuntimeError { kind, message }
    }

    pub fn message(&self) -> &str {
        self.message.as_str()
    }
}

impl fmt::Display for RuntimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message.as_str())
    }
}

impl fmt::Debug for RuntimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.message.as_str())
    }
}

/// `Err(RuntimeError)` of `kind` with a formatted message.
macro_rules! fail {
    ($kind:ident, $($arg:tt)*) => {
        Err($crate::runtime::error::RuntimeError::new(
            $crate::runtime::error::ErrorKind::$kind,
            format_args!($($arg)*),
        ))
    };
}
pub(crate) use fail;

impl From<crate::runtime::allocator::AllocError> for RuntimeError {
    fn from(e: crate::runtime::allocator::AllocError) -> Self {
        use crate::runtime::allocator::AllocError;
        let kind = match e {
            AllocError::OutOfMemory { .. } => ErrorKind::OutOfMemory,
            _ => ErrorKind::InvalidArgument,
        };
        RuntimeError::new(kind, format_args!("{e}"))
    }
}

impl From<crate::hal::layout::LayoutError> for RuntimeError {
    fn from(e: crate::hal::layout::LayoutError) -> Self {
        RuntimeError::new(ErrorKind::InvalidArgument, format_args!("{e}"))
    }
}

impl From<crate::format::FormatError> for RuntimeError {
    fn from(e: crate::format::FormatError) -> Self {
        RuntimeError::new(ErrorKind::InvalidArgument, format_args!("{e}"))
    }
}

impl From<crate::hal::HalError> for RuntimeError {
    fn from(e: crate::hal::HalError) -> Self {
        let kind = match e {
            crate::hal::HalError::Lost(_) => ErrorKind::DeviceLost,
            _ => ErrorKind::Device,
        };
        RuntimeError::new(kind, format_args!("{e}"))
    }
}
