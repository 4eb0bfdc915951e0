//! The C ABI. `include/ttrt.h` is generated from this module by cbindgen; a test regenerates it
//! and fails when the checked-in copy differs.
//!
//! Conventions (stated once, here and at the top of the header):
//! - every exported function returns a [`ttrt_status`] unless it is a pure query; output
//!   parameters are written only on success; a NULL where a pointer is required is
//!   `TTRT_STATUS_INVALID_ARGUMENT`, never a crash;
//! - a failure leaves one line of text, readable with `ttrt_last_error_message()` on the same
//!   thread until the next failure on that thread;
//! - handles are opaque tokens looked up in a per-type table, so a freed or foreign handle is
//!   reported, not dereferenced;
//! - every exported body runs inside [`boundary`], which turns a panic into `TTRT_STATUS_PANIC`.

#![allow(non_camel_case_types)]

#[cfg(feature = "std")]
pub mod backend;
pub mod boundary;
#[cfg(feature = "alloc")]
pub mod device;
pub mod error;
pub mod event;
pub mod format;
#[cfg(feature = "alloc")]
pub mod handle;
#[cfg(feature = "std")]
pub mod image;
pub mod library;
pub mod log;
#[cfg(feature = "alloc")]
pub mod pipeline;
pub mod status;
#[cfg(feature = "alloc")]
pub mod tensor;

pub use error::CError;
pub use status::ttrt_status;
