#![no_main]
//! `cargo fuzz run netlist` (nightly): the netlist reader and validator on arbitrary bytes.

use libfuzzer_sys::fuzz_target;

include!("../netlist_case.rs");

fuzz_target!(|data: &[u8]| {
    netlist_case(data);
});
