//! Errors reading TTI archives and their members: whether the file could not be read
//! (`TTRT_STATUS_IO_ERROR`) or is malformed (`TTRT_STATUS_INVALID_IMAGE`), and one line saying
//! which file, member and key, formatted where the problem is found.

use std::fmt;

/// What kind of failure an image error is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageErrorKind {
    /// The file could not be opened, mapped or read.
    Io,
    /// The archive, a member or a key in it is malformed or missing.
    Invalid,
}

/// A failure to read an image.
#[derive(Clone, PartialEq, Eq)]
pub struct ImageError {
    pub kind: ImageErrorKind,
    message: String,
}

impl ImageError {
    pub fn new(kind: ImageErrorKind, message: String) -> ImageError {
        ImageError { kind, message }
    }

    /// A malformed-image error.
    pub fn invalid(message: String) -> ImageError {
        ImageError::new(ImageErrorKind::Invalid, message)
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// The same error with `context` (the file, the member) put in front of its text.
    pub fn context(mut self, context: impl fmt::Display) -> ImageError {
        self.message = format!("{context}: {}", self.message);
        self
    }
}

impl fmt::Display for ImageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for ImageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.message)
    }
}

impl std::error::Error for ImageError {}

/// `Err(ImageError)` of kind `Invalid` with a formatted message.
macro_rules! invalid {
    ($($arg:tt)*) => {
        Err($crate::image::ImageError::invalid(format!($($arg)*)))
    };
}
pub(crate) use invalid;
