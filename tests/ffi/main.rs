//! The C ABI: the header as C and C++ compile it and as cbindgen regenerates it, the library
//! as a C program links it, the names in error texts against the header's, sizes from C
//! that no memory can hold, and ttrt.hpp, the C++ interface over it. One test binary, one
//! module per file.
//!
//! The conventions of the boundary (tests/ffi_conventions.rs) stay a binary of their own: one
//! of them expects exactly the records it logs through the process-wide log callback, and
//! cbindgen, a backend or an image here log too.

#[path = "../support/mod.rs"]
mod support;

mod c_abi;
mod cxx_wrapper;
mod error_texts;
mod header;
mod huge_sizes;
