#![no_main]
//! `cargo fuzz run untilize` (nightly): untilize, and tilize back, on arbitrary layouts,
//! descriptors and bytes.

use libfuzzer_sys::fuzz_target;

include!("../untilize_case.rs");

fuzz_target!(|data: &[u8]| {
    untilize_case(data);
});
