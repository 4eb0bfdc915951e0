//! TT-CNN pipelines (src/pipeline) from Rust and through their C API. One test binary, one
//! module per file; the allocation count is tests/pipeline_steady_state.rs.

#[path = "../support/mod.rs"]
mod support;

mod pipeline;
mod pipeline_ffi;
