//! Logging: the records a user of the C API can follow, and the command line's log flags.
//! One test binary, one module per file. The log callback is process-wide: no other test runs
//! ttrt in this process.

#[path = "../support/mod.rs"]
mod support;

mod cli_logging;
mod logging;
