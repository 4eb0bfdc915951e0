//! Tile, queue and number-format bytes (`ttrt::format`): hand-worked bytes, round trips, the
//! fast path, and the untilize fuzz case. One test binary, one module per file.

#[path = "../support/mod.rs"]
mod support;

mod format_bytes;
mod format_fast_path;
mod format_roundtrip;
mod fuzz_untilize;
