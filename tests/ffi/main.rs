//! The C ABI: the header as C and C++ compile it and as cbindgen regenerates it, the library
//! as a C program links it, the conventions of the boundary (handles, statuses, panics, the log
//! callback), and sizes from C that no memory can hold. One test binary, one module per file.
//!
//! `ffi_conventions::log_records_reach_the_callback_up_to_max_level` expects exactly the
//! records it logs, so nothing here runs a backend or opens an image (they log at info).

#[path = "../support/mod.rs"]
mod support;

mod c_abi;
mod ffi_conventions;
mod header;
mod huge_sizes;
