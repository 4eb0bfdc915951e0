//! Netlists and the golden engine: the schema reader and validator, the upstream corpus, the
//! program interpreter, the graph engine and its kernels, the test-side reference and the
//! conformance of the backend against it, and the netlist fuzz case. One test binary, one
//! module per file; the allocation counts are tests/golden_engine_alloc.rs,
//! tests/golden_engine_sparse.rs and tests/interp_alloc.rs.

#[path = "../support/mod.rs"]
mod support;

mod fuzz_netlist;
mod golden_engine;
mod golden_engine_corpus;
mod golden_kernels;
mod interp;
mod netlist_conformance;
mod netlist_corpus;
mod netlist_schema;
mod reference_selftest;
