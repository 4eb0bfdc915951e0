//! Backend errors: a kind (it becomes the C status) and one line saying what and where.

use alloc::string::String;
use core::fmt;

use crate::runtime::{ErrorKind, RuntimeError};

/// What went wrong, mapped one to one onto the C status codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendErrorKind {
    InvalidArgument,
    NotFound,
    InvalidState,
    Timeout,
    /// Buda's RuntimeError: a program or graph failed.
    Runtime,
    OutOfMemory,
    Unsupported,
    InvalidImage,
    /// The backend was finished (or freed) while the call waited.
    Cancelled,
    /// The device process the backend's device was attached to ended.
    DeviceLost,
}

/// A backend failure: its kind and one line saying what and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackendError {
    pub kind: BackendErrorKind,
    pub message: String,
}

impl BackendError {
    pub fn new(kind: BackendErrorKind, message: String) -> BackendError {
        BackendError { kind, message }
    }
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<RuntimeError> for BackendError {
    fn from(e: RuntimeError) -> Self {
        let kind = match e.kind {
            ErrorKind::InvalidArgument => BackendErrorKind::InvalidArgument,
            ErrorKind::InvalidState => BackendErrorKind::InvalidState,
            ErrorKind::OutOfMemory => BackendErrorKind::OutOfMemory,
            ErrorKind::Timeout => BackendErrorKind::Timeout,
            ErrorKind::Device => BackendErrorKind::Runtime,
            ErrorKind::NotFound => BackendErrorKind::NotFound,
            ErrorKind::Unsupported => BackendErrorKind::Unsupported,
            ErrorKind::Cancelled => BackendErrorKind::Cancelled,
            ErrorKind::DeviceLost => BackendErrorKind::DeviceLost,
        };
        BackendError::new(kind, alloc::string::ToString::to_string(e.message()))
    }
}

/// `return Err(BackendError)` of a kind, with formatted text.
macro_rules! err {
    ($kind:ident, $($arg:tt)*) => {
        Err($crate::backend::error::BackendError::new(
            $crate::backend::error::BackendErrorKind::$kind,
            alloc::format!($($arg)*),
        ))
    };
}
pub(crate) use err;
