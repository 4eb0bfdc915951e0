// One fuzz case for the netlist reader: arbitrary bytes, read as UTF-8 (invalid sequences
// replaced), go through YAML, the schema reader and validation. Any input must give Ok or one
// error line, never a panic, an overflow or an allocation sized by the input's numbers. Shared
// by the cargo-fuzz target (fuzz/fuzz_targets/netlist.rs) and the stable test
// (tests/netlist/fuzz_netlist.rs).

/// Returns whether the case parsed and validated (so a test can check mutations still reach
/// the later passes).
pub fn netlist_case(data: &[u8]) -> bool {
    let text = String::from_utf8_lossy(data);
    match ttrt::netlist::parse(&text, "fuzz.yaml") {
        Ok(netlist) => {
            // The accessors others call must hold up on whatever validated.
            for q in netlist.queues() {
                assert!(netlist.queue(&q.name).is_some());
            }
            for p in netlist.programs() {
                assert!(netlist.program(&p.name).is_some());
            }
            true
        }
        Err(e) => {
            let line = e.to_string();
            assert!(!line.contains('\n'), "error text must be one line: {line}");
            false
        }
    }
}
