//! Upstream's environment overrides of the transfer timeouts (notes/buda-backend.md, "Push /
//! get / pop"): TT_BACKEND_PUSH_TIMEOUT, TT_BACKEND_GET_TIMEOUT and TT_BACKEND_POP_TIMEOUT, in
//! seconds, replace the timeout a call passes; they are read once, when the backend is created.
//! The environment is process-wide, so this file holds one test that sets the variables in turn.

use ttrt::backend::{Backend, BackendConfig, BackendErrorKind};
use ttrt::format::{DataFormat, HostTensor};
use ttrt::netlist;

mod support;
use support::copy_netlist::NETLIST;

const VARS: [&str; 3] = [
    "TT_BACKEND_PUSH_TIMEOUT",
    "TT_BACKEND_GET_TIMEOUT",
    "TT_BACKEND_POP_TIMEOUT",
];

fn create() -> Result<Backend, ttrt::backend::BackendError> {
    let n = netlist::parse(NETLIST, "timeouts.yaml").unwrap();
    Backend::from_netlist(n, &BackendConfig::default())
}

fn started() -> Backend {
    let be = create().unwrap();
    be.initialize().unwrap();
    be
}

fn set(vars: &[(&str, &str)]) {
    for name in VARS {
        std::env::remove_var(name);
    }
    for (name, value) in vars {
        std::env::set_var(name, value);
    }
}

#[test]
fn the_environment_replaces_push_get_and_pop_timeouts_read_once_at_create() {
    let entry: Vec<u8> = (0..32 * 32)
        .flat_map(|i| (i as f32).to_le_bytes())
        .collect();
    let t = HostTensor::contiguous(&entry, DataFormat::Float32, [1, 1, 32, 32]);

    // A value that is not a whole number of seconds is refused at create, naming it.
    for bad in ["10s", "1.5", "soon"] {
        set(&[("TT_BACKEND_GET_TIMEOUT", bad)]);
        let e = create().err().expect("a malformed timeout must be refused");
        assert_eq!(e.kind, BackendErrorKind::InvalidArgument);
        assert_eq!(
            e.message,
            format!(
                "TT_BACKEND_GET_TIMEOUT is {bad:?}: expected a whole number of seconds (< 0 waits forever, 0 tries once)"
            )
        );
    }

    // 0 seconds: one try. Calls that pass "forever" (-1) fail at once instead of hanging.
    set(&[
        ("TT_BACKEND_PUSH_TIMEOUT", "0"),
        ("TT_BACKEND_GET_TIMEOUT", " 0 "),
        ("TT_BACKEND_POP_TIMEOUT", "0"),
    ]);
    let be = started();
    let e = be.get_output("out", true, -1, -1).unwrap_err();
    assert_eq!(e.kind, BackendErrorKind::Timeout);
    assert_eq!(
        e.message,
        "get_output from queue 'out' timed out after 0 ms (set by TT_BACKEND_GET_TIMEOUT): 1 entry needed, 0 available"
    );
    let mut sink = vec![0u8; 32 * 32 * 4];
    let mut dst =
        ttrt::format::HostTensorMut::contiguous(&mut sink, DataFormat::Float32, [1, 1, 32, 32]);
    let e = be
        .get_output_into("out", &mut dst, true, -1, -1)
        .unwrap_err();
    assert_eq!(e.kind, BackendErrorKind::Timeout);
    assert!(
        e.message.contains("(set by TT_BACKEND_GET_TIMEOUT)"),
        "{}",
        e.message
    );
    let e = be.pop_output("out", true, -1).unwrap_err();
    assert_eq!(e.kind, BackendErrorKind::Timeout);
    assert_eq!(
        e.message,
        "pop_output from queue 'out' timed out after 0 ms (set by TT_BACKEND_POP_TIMEOUT): 1 entry needed, 0 available"
    );
    be.push_input("in0", &t, true, -1, -1).unwrap();
    be.push_input("in0", &t, true, -1, -1).unwrap();
    let e = be.push_input("in0", &t, true, -1, -1).unwrap_err();
    assert_eq!(e.kind, BackendErrorKind::Timeout);
    assert_eq!(
        e.message,
        "push_input to queue 'in0' timed out after 0 ms (set by TT_BACKEND_PUSH_TIMEOUT): 2 of 2 entries are full and 1 is pushed"
    );
    // With entries there, the same calls succeed: the override shortens waits, nothing else.
    be.run_program("run", &[("$p_loop_count", "1")]).unwrap();
    let got = be.get_output("out", true, -1, -1).unwrap();
    assert_eq!(got.shape, [1, 1, 32, 32]);
    assert_eq!(&got.data[2..4], &1f32.to_le_bytes()[2..4]);
    be.pop_output("out", true, -1).unwrap();

    // Read once: changing the environment later does not change a backend already created.
    // (The run freed one entry of in0: fill it, then push once more.)
    set(&[]);
    be.push_input("in0", &t, true, -1, -1).unwrap();
    let e = be.push_input("in0", &t, true, 0, -1).unwrap_err();
    assert_eq!(
        e.message,
        "push_input to queue 'in0' timed out after 0 ms (set by TT_BACKEND_PUSH_TIMEOUT): 2 of 2 entries are full and 1 is pushed"
    );
    be.finish().unwrap();

    // Seconds become milliseconds; an unset variable leaves the caller's timeout alone.
    set(&[("TT_BACKEND_PUSH_TIMEOUT", "1")]);
    let be = started();
    be.push_input("in0", &t, true, 0, -1).unwrap();
    be.push_input("in0", &t, true, 0, -1).unwrap();
    let e = be.push_input("in0", &t, true, 0, -1).unwrap_err();
    assert_eq!(
        e.message,
        "push_input to queue 'in0' timed out after 1000 ms (set by TT_BACKEND_PUSH_TIMEOUT): 2 of 2 entries are full and 1 is pushed"
    );
    let e = be.pop_output("out", true, 0).unwrap_err();
    assert_eq!(
        e.message,
        "pop_output from queue 'out' timed out after 0 ms: 1 entry needed, 0 available"
    );
    be.finish().unwrap();

    // Set but empty counts as unset.
    set(&[("TT_BACKEND_GET_TIMEOUT", "")]);
    let be = started();
    let e = be.get_output("out", true, 0, -1).unwrap_err();
    assert_eq!(
        e.message,
        "get_output from queue 'out' timed out after 0 ms: 1 entry needed, 0 available"
    );
    be.finish().unwrap();
    set(&[]);
}
