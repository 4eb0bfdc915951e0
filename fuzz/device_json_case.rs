// One fuzz case for the JSON members of a TTI image: arbitrary bytes read as device.json and as
// compile_and_runtime_config.json. Any input must give Ok or an error, never a panic; what
// parses must survive `to_json` and parse back equal, and its tensor entries must check
// against arbitrary member bytes without a panic. Shared by the cargo-fuzz target
// (fuzz/fuzz_targets/device_json.rs) and the stable test (tests/image/fuzz_device_json.rs).

use ttrt::image::device_json::DeviceJson;
use ttrt::image::runtime_config::RuntimeConfig;
use ttrt::image::tensor_file::TensorFile;

/// Whether the JSON text may hold a float (a number with a fraction or exponent, or too many
/// digits for an integer) outside strings: serde_json without `float_roundtrip` may read a
/// float back one ulp off, so exact equality after a round trip is only asserted without them.
/// (The fuzz crate depends on ttrt alone, so this looks at the text rather than a Value.)
fn may_hold_float(data: &[u8]) -> bool {
    let (mut in_string, mut escaped, mut digits) = (false, false, 0usize);
    for (i, &b) in data.iter().enumerate() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        if b == b'"' {
            in_string = true;
        }
        if b.is_ascii_digit() {
            digits += 1;
            let next = data.get(i + 1).copied().unwrap_or(b' ');
            if digits >= 19 || matches!(next, b'.' | b'e' | b'E') {
                return true;
            }
        } else {
            digits = 0;
        }
    }
    false
}

/// Returns whether `data` parsed as device.json (so a test can check cases reach the typed
/// reader, not only the JSON syntax check).
pub fn device_json_case(data: &[u8]) -> bool {
    let _ = RuntimeConfig::parse(data).map(|c| c.entries().len());
    let Ok(d) = DeviceJson::parse(data) else {
        return false;
    };
    let text = d.to_json();
    let again = match DeviceJson::parse(text.as_bytes()) {
        Ok(again) => again,
        Err(e) => panic!("to_json wrote a device.json parse refuses: {e}\n{text}"),
    };
    if !may_hold_float(data) {
        assert_eq!(again, d, "parse(to_json(d)) differs from d");
    }
    let state = &d.compiled_graph_state;
    assert!(
        state.netlist_member().is_ok(),
        "a parsed image names a netlist member"
    );
    for (name, entry) in state
        .post_const_eval_constants
        .iter()
        .chain(&state.post_const_eval_parameters)
    {
        // The member bytes: the input itself, and a prefix of it.
        let _ = TensorFile::check(entry, name, data);
        let _ = TensorFile::check(entry, name, &data[..data.len() / 2]);
    }
    true
}
