//! The command-line tool and the checks around the library: `ttrt` itself, the memory of
//! `ttrt run`, Miri and the sanitizers, and the out-of-process column of the test matrix. One
//! test binary, one module per file.
//!
//! The README's install routes (tests/packaging.rs, tests/cross.rs) share one checkout of the
//! repository, which `out_of_process` has the packaging tests rebuild in a child: they stay in
//! binaries of their own.

#[path = "../support/mod.rs"]
mod support;

#[allow(dead_code)]
#[path = "../../src/bin/bench/bert.rs"]
mod bert;

mod cli;
mod miri;
mod out_of_process;
mod run_memory;
mod sanitizers;
