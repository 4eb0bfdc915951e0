//! The command-line tool and the checks around the library: `ttrt` itself, Miri and the
//! sanitizers, and the out-of-process column of the test matrix. One test binary, one module
//! per file.
//!
//! Not here, as they need their process to themselves: the peak memory of `ttrt run`
//! (tests/run_memory.rs reads the largest resident size of any child the process waited for),
//! and the README's install routes (tests/packaging.rs, tests/cross.rs), which share one
//! checkout of the repository that `out_of_process` has the packaging tests rebuild in a
//! child.

#[path = "../support/mod.rs"]
mod support;

#[allow(dead_code)]
#[path = "../../src/bin/bench/bert.rs"]
mod bert;

mod cli;
mod miri;
mod out_of_process;
mod sanitizers;
