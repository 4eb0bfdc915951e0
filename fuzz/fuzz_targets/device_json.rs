#![no_main]
//! `cargo fuzz run device_json` (nightly): device.json and compile_and_runtime_config.json
//! of TTI images from arbitrary bytes.

use libfuzzer_sys::fuzz_target;

include!("../device_json_case.rs");

fuzz_target!(|data: &[u8]| {
    device_json_case(data);
});
