//! The Buda backend: its lifecycle and C functions, blocking calls and their cancellation,
//! pre-tilized tensors, dual-view rams, temporal graphs, the tilizer, golden mode, small tiles,
//! the digits example and hostile sizes. One test binary, one module per file.
//!
//! The timeouts read from the environment at create (tests/backend_timeouts.rs) and the
//! allocation counts (tests/*steady_state*.rs) need a process of their own, so they are not
//! here.

#[path = "../support/mod.rs"]
mod support;

mod backend;
mod backend_ffi;
mod backend_tbin;
mod cancellation;
mod digits;
mod dual_view_ram;
mod golden_mode;
mod harvesting;
mod hostile_input;
mod io_runtime_split;
mod merge;
mod small_tiles;
mod temporal_graphs;
mod tilizer;
