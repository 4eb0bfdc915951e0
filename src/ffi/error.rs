//! Failures as the C caller sees them: a status and one line of text.
//!
//! Rust errors stay typed enums in their own layers; each converts into [`CallError`] (`From`),
//! whose [`CError`] impl gives the status and whose `Display` the line, here, at the edge. The text
//! goes into a fixed buffer per thread (one static buffer without `std`, where the firmware
//! loop is the only thread), so reporting a failure never allocates.

use core::fmt;

use super::status::ttrt_status;

/// An error that can cross the C boundary: its status, and its `Display` text (one line, saying
/// what was wrong and where). [`CallError`] carries every layer's error to the boundary; calls
/// that fail only on their arguments, or only with the runtime's error (device and tensor
/// calls), return that error as it is.
pub trait CError: fmt::Display {
    fn status(&self) -> ttrt_status;
}

/// Errors in the arguments of an exported function, found before any work is done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgError {
    /// A required pointer argument is NULL.
    Null { arg: &'static str },
    /// A pointer argument is not a live handle of the expected type.
    Handle {
        arg: &'static str,
        kind: &'static str,
        problem: HandleProblem,
    },
    /// A config struct's `struct_size` is smaller than the first version of that struct.
    StructSize {
        arg: &'static str,
        found: u32,
        min: u32,
    },
    /// A value is out of its allowed range.
    Range {
        arg: &'static str,
        found: u64,
        allowed: &'static str,
    },
    /// A C string argument is not valid UTF-8.
    Utf8 { arg: &'static str },
    /// A pointer argument is not aligned for its type.
    Misaligned { arg: &'static str, align: usize },
    /// A required pointer field of a struct argument (`arg->field`) is NULL.
    FieldNull {
        arg: &'static str,
        field: &'static str,
    },
    /// A field of a struct argument (`arg->field`) is out of its allowed range.
    FieldRange {
        arg: &'static str,
        field: &'static str,
        found: u64,
        allowed: &'static str,
    },
}

impl CError for ArgError {
    fn status(&self) -> ttrt_status {
        ttrt_status::InvalidArgument
    }
}

/// Why a handle was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandleProblem {
    /// The handle was valid once and has been freed (or closed).
    Freed,
    /// The handle is a handle of another type.
    WrongType,
    /// The value was never a handle.
    Invalid,
}

impl fmt::Display for ArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArgError::Null { arg } => write!(f, "argument `{arg}` is NULL"),
            ArgError::Handle { arg, kind, problem } => match problem {
                HandleProblem::Freed => {
                    write!(
                        f,
                        "argument `{arg}` is a {kind} that has already been freed"
                    )
                }
                HandleProblem::WrongType => {
                    write!(
                        f,
                        "argument `{arg}` is not a {kind} (it is a handle of another type)"
                    )
                }
                HandleProblem::Invalid => write!(f, "argument `{arg}` is not a valid {kind}"),
            },
            ArgError::StructSize { arg, found, min } => write!(
                f,
                "argument `{arg}` has struct_size {found}, expected at least {min} \
                 (initialize it with its *_default() function)"
            ),
            ArgError::Range {
                arg,
                found,
                allowed,
            } => {
                write!(f, "argument `{arg}` is {found}, allowed: {allowed}")
            }
            ArgError::Utf8 { arg } => write!(f, "argument `{arg}` is not valid UTF-8"),
            ArgError::Misaligned { arg, align } => {
                write!(f, "argument `{arg}` is not aligned to {align} bytes")
            }
            ArgError::FieldNull { arg, field } => write!(f, "argument `{arg}->{field}` is NULL"),
            ArgError::FieldRange {
                arg,
                field,
                found,
                allowed,
            } => write!(
                f,
                "argument `{arg}->{field}` is {found}, allowed: {allowed}"
            ),
        }
    }
}

/// Any failure of an exported function, whichever layer it comes from. Each layer keeps its
/// own typed error; this enum only carries them to the boundary, where its `Display` is the
/// text and [`CError::status`] the status.
#[derive(Debug)]
pub enum CallError {
    Arg(ArgError),
    Format(crate::format::FormatError),
    /// A descriptor field disagrees with what the rest of it implies.
    Mismatch {
        what: &'static str,
        expected: u64,
        found: u64,
    },
    Runtime(crate::runtime::RuntimeError),
    #[cfg(feature = "alloc")]
    Pipeline(crate::pipeline::PipelineError),
    #[cfg(feature = "std")]
    Backend(crate::backend::BackendError),
    #[cfg(feature = "std")]
    Image(crate::image::ImageError),
    /// Another logger than ttrt's is installed (`log::set_logger`).
    OtherLogger,
    /// `TTRT_LOG` holds a value that is not a level or directive list.
    #[cfg(feature = "std")]
    LogSpec {
        value: alloc::string::String,
        why: &'static str,
    },
}

impl From<ArgError> for CallError {
    fn from(e: ArgError) -> Self {
        CallError::Arg(e)
    }
}

impl From<crate::format::FormatError> for CallError {
    fn from(e: crate::format::FormatError) -> Self {
        CallError::Format(e)
    }
}

impl From<crate::runtime::RuntimeError> for CallError {
    fn from(e: crate::runtime::RuntimeError) -> Self {
        CallError::Runtime(e)
    }
}

#[cfg(feature = "alloc")]
impl From<crate::pipeline::PipelineError> for CallError {
    fn from(e: crate::pipeline::PipelineError) -> Self {
        CallError::Pipeline(e)
    }
}

#[cfg(feature = "std")]
impl From<crate::backend::BackendError> for CallError {
    fn from(e: crate::backend::BackendError) -> Self {
        CallError::Backend(e)
    }
}

#[cfg(feature = "std")]
impl From<crate::image::ImageError> for CallError {
    fn from(e: crate::image::ImageError) -> Self {
        CallError::Image(e)
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Arg(e) => e.fmt(f),
            CallError::Format(e) => e.fmt(f),
            CallError::Mismatch {
                what,
                expected,
                found,
            } => {
                write!(f, "{what} is {found}, expected {expected}")
            }
            CallError::Runtime(e) => e.fmt(f),
            #[cfg(feature = "alloc")]
            CallError::Pipeline(e) => e.fmt(f),
            #[cfg(feature = "std")]
            CallError::Backend(e) => e.fmt(f),
            #[cfg(feature = "std")]
            CallError::Image(e) => e.fmt(f),
            CallError::OtherLogger => f.write_str(
                "another logger is already installed in this process (log::set_logger); \
                 ttrt's records go to it",
            ),
            #[cfg(feature = "std")]
            CallError::LogSpec { value, why } => write!(f, "TTRT_LOG is {value:?}: {why}"),
        }
    }
}

impl CError for CallError {
    fn status(&self) -> ttrt_status {
        match self {
            CallError::Arg(e) => e.status(),
            CallError::Format(_) | CallError::Mismatch { .. } => ttrt_status::InvalidArgument,
            CallError::Runtime(e) => e.status(),
            #[cfg(feature = "alloc")]
            CallError::Pipeline(e) => runtime_status(e.kind()),
            #[cfg(feature = "std")]
            CallError::Backend(e) => backend_status(e.kind),
            #[cfg(feature = "std")]
            CallError::Image(e) => match e.kind {
                crate::image::ImageErrorKind::Io => ttrt_status::IoError,
                crate::image::ImageErrorKind::Invalid => ttrt_status::InvalidImage,
            },
            CallError::OtherLogger => ttrt_status::InvalidState,
            #[cfg(feature = "std")]
            CallError::LogSpec { .. } => ttrt_status::InvalidArgument,
        }
    }
}

/// The status of a backend error of `kind`.
#[cfg(feature = "std")]
fn backend_status(kind: crate::backend::BackendErrorKind) -> ttrt_status {
    use crate::backend::BackendErrorKind;
    match kind {
        BackendErrorKind::InvalidArgument => ttrt_status::InvalidArgument,
        BackendErrorKind::NotFound => ttrt_status::NotFound,
        BackendErrorKind::InvalidState => ttrt_status::InvalidState,
        BackendErrorKind::Timeout => ttrt_status::Timeout,
        BackendErrorKind::Runtime => ttrt_status::RuntimeError,
        BackendErrorKind::OutOfMemory => ttrt_status::OutOfMemory,
        BackendErrorKind::Unsupported => ttrt_status::Unsupported,
        BackendErrorKind::InvalidImage => ttrt_status::InvalidImage,
        BackendErrorKind::Cancelled => ttrt_status::Cancelled,
        BackendErrorKind::DeviceLost => ttrt_status::DeviceLost,
    }
}

pub use crate::message::{MessageBuf, MESSAGE_CAPACITY};

#[cfg(feature = "std")]
mod storage {
    use super::MessageBuf;
    use core::cell::RefCell;

    std::thread_local! {
        static LAST_ERROR: RefCell<MessageBuf> = const { RefCell::new(MessageBuf::new()) };
    }

    pub fn with<R>(f: impl FnOnce(&mut MessageBuf) -> R) -> R {
        LAST_ERROR.with(|cell| f(&mut cell.borrow_mut()))
    }

    std::thread_local! {
        static RECORDED: core::cell::Cell<u32> = const { core::cell::Cell::new(0) };
    }

    pub fn count() -> u32 {
        RECORDED.with(|c| c.get())
    }

    pub fn bump() {
        RECORDED.with(|c| c.set(c.get().wrapping_add(1)));
    }
}

#[cfg(not(feature = "std"))]
mod storage {
    use super::MessageBuf;
    use core::cell::UnsafeCell;

    /// Without `std` the library runs on the firmware's one thread (DESIGN.md: the caller drives
    /// the device from its loop), so one buffer serves.
    struct Global(UnsafeCell<MessageBuf>);
    // SAFETY: without `std` the library is used from a single thread; see above.
    unsafe impl Sync for Global {}

    static LAST_ERROR: Global = Global(UnsafeCell::new(MessageBuf::new()));

    pub fn with<R>(f: impl FnOnce(&mut MessageBuf) -> R) -> R {
        // SAFETY: single-threaded use (see Global); no reference outlives this call.
        f(unsafe { &mut *LAST_ERROR.0.get() })
    }

    static RECORDED: core::sync::atomic::AtomicU32 = core::sync::atomic::AtomicU32::new(0);

    pub fn count() -> u32 {
        RECORDED.load(core::sync::atomic::Ordering::Relaxed)
    }

    pub fn bump() {
        RECORDED.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
    }
}

/// Records `args` as the calling thread's last error.
pub fn set_last_error(args: fmt::Arguments<'_>) {
    storage::with(|buf| buf.set(args));
    storage::bump();
}

/// How many failures the calling thread has recorded (wrapping): a caller compares two
/// readings to learn whether a failure was recorded between them (a model callback that
/// returned a failure status without any failing ttrt call leaves the count unchanged).
pub(crate) fn failures_recorded() -> u32 {
    storage::count()
}

/// The calling thread's last error text (for Rust callers and tests).
#[cfg(feature = "alloc")]
pub fn last_error() -> alloc::string::String {
    storage::with(|buf| alloc::string::String::from(buf.as_str()))
}

/// Text of the last failure on the calling thread: one line saying what was wrong and where,
/// prefixed with the name of the function that failed. Empty if nothing has failed on this
/// thread. Never NULL. The pointer stays valid until the next failing call on this thread.
#[no_mangle]
pub extern "C" fn ttrt_last_error_message() -> *const core::ffi::c_char {
    super::boundary::guard("ttrt_last_error_message", c"".as_ptr(), || {
        storage::with(|buf| buf.as_c_ptr())
    })
}

impl CError for crate::runtime::RuntimeError {
    fn status(&self) -> ttrt_status {
        runtime_status(self.kind)
    }
}

/// The status of a runtime error of `kind` (also the pipeline's, which reuses the kinds).
fn runtime_status(kind: crate::runtime::ErrorKind) -> ttrt_status {
    use crate::runtime::ErrorKind;
    match kind {
        ErrorKind::InvalidArgument => ttrt_status::InvalidArgument,
        ErrorKind::InvalidState => ttrt_status::InvalidState,
        ErrorKind::OutOfMemory => ttrt_status::OutOfMemory,
        ErrorKind::Timeout => ttrt_status::Timeout,
        ErrorKind::Device => ttrt_status::RuntimeError,
        ErrorKind::NotFound => ttrt_status::NotFound,
        ErrorKind::Unsupported => ttrt_status::Unsupported,
        ErrorKind::Cancelled => ttrt_status::Cancelled,
        ErrorKind::DeviceLost => ttrt_status::DeviceLost,
    }
}

impl From<ArgError> for crate::runtime::RuntimeError {
    fn from(e: ArgError) -> Self {
        crate::runtime::RuntimeError::new(
            crate::runtime::ErrorKind::InvalidArgument,
            format_args!("{e}"),
        )
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    //! Every layer's error keeps its status and its text through `CallError`: the statuses the
    //! backend, image, pipeline and log calls returned before they shared it.

    use super::{ArgError, CError, CallError};
    use crate::backend::{BackendError, BackendErrorKind};
    use crate::ffi::ttrt_status;
    use crate::image::{ImageError, ImageErrorKind};
    use crate::pipeline::PipelineError;
    use crate::runtime::{ErrorKind, RuntimeError};
    use alloc::string::{String, ToString};

    fn seen(e: impl Into<CallError>) -> (ttrt_status, String) {
        let e: CallError = e.into();
        (e.status(), e.to_string())
    }

    #[test]
    fn each_layer_keeps_its_status_and_text() {
        assert_eq!(
            seen(ArgError::Null { arg: "dev" }),
            (
                ttrt_status::InvalidArgument,
                "argument `dev` is NULL".into()
            )
        );
        assert_eq!(
            seen(CallError::Mismatch {
                what: "desc->entry_size",
                expected: 4,
                found: 8
            }),
            (
                ttrt_status::InvalidArgument,
                "desc->entry_size is 8, expected 4".into()
            )
        );
        let runtime = [
            (ErrorKind::InvalidArgument, ttrt_status::InvalidArgument),
            (ErrorKind::InvalidState, ttrt_status::InvalidState),
            (ErrorKind::OutOfMemory, ttrt_status::OutOfMemory),
            (ErrorKind::Timeout, ttrt_status::Timeout),
            (ErrorKind::Device, ttrt_status::RuntimeError),
            (ErrorKind::NotFound, ttrt_status::NotFound),
            (ErrorKind::Unsupported, ttrt_status::Unsupported),
            (ErrorKind::Cancelled, ttrt_status::Cancelled),
            (ErrorKind::DeviceLost, ttrt_status::DeviceLost),
        ];
        for (kind, status) in runtime {
            let e = RuntimeError::new(kind, format_args!("cq 1: {kind:?}"));
            assert_eq!(seen(e), (status, alloc::format!("cq 1: {kind:?}")));
            let e = RuntimeError::new(kind, format_args!("model"));
            assert_eq!(seen(PipelineError::Device(e)).0, status);
        }
        assert_eq!(
            seen(PipelineError::AlreadyCompiled).0,
            ttrt_status::InvalidState
        );
        let backend = [
            (
                BackendErrorKind::InvalidArgument,
                ttrt_status::InvalidArgument,
            ),
            (BackendErrorKind::NotFound, ttrt_status::NotFound),
            (BackendErrorKind::InvalidState, ttrt_status::InvalidState),
            (BackendErrorKind::Timeout, ttrt_status::Timeout),
            (BackendErrorKind::Runtime, ttrt_status::RuntimeError),
            (BackendErrorKind::OutOfMemory, ttrt_status::OutOfMemory),
            (BackendErrorKind::Unsupported, ttrt_status::Unsupported),
            (BackendErrorKind::InvalidImage, ttrt_status::InvalidImage),
            (BackendErrorKind::Cancelled, ttrt_status::Cancelled),
            (BackendErrorKind::DeviceLost, ttrt_status::DeviceLost),
        ];
        for (kind, status) in backend {
            let e = BackendError::new(kind, "push_input: queue 'q'".into());
            assert_eq!(seen(e), (status, "push_input: queue 'q'".into()));
        }
        assert_eq!(
            seen(ImageError::new(ImageErrorKind::Io, "a.tti: gone".into())),
            (ttrt_status::IoError, "a.tti: gone".into())
        );
        assert_eq!(
            seen(ImageError::invalid("a.tti: bad".into())).0,
            ttrt_status::InvalidImage
        );
        assert_eq!(seen(CallError::OtherLogger).0, ttrt_status::InvalidState);
        assert_eq!(
            seen(CallError::LogSpec {
                value: "loud".into(),
                why: "not a level"
            }),
            (
                ttrt_status::InvalidArgument,
                "TTRT_LOG is \"loud\": not a level".to_string()
            )
        );
    }
}
