#![no_main]
//! `cargo fuzz run archive` (nightly): the TTI archive reader (tar and zip) on arbitrary bytes.

use libfuzzer_sys::fuzz_target;

include!("../archive_case.rs");

fuzz_target!(|data: &[u8]| {
    archive_case(data);
});
