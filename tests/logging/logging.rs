//! The log records a user can follow: the image opened, the backend created and initialized
//! (info), each program run (debug), queue traffic (trace); `TTRT_LOG` read by
//! `ttrt_init_log_from_env`. Logging is process-wide, so the tests here take turns.

use crate::support::digits_ffi;

use std::ffi::{c_char, c_void, CStr};
use std::sync::Mutex;

use digits_ffi::{ok, Digits};
use ttrt::ffi::backend::{ttrt_get_output_into, ttrt_pop_output, ttrt_push_input};
use ttrt::ffi::log::{
    parse_log_spec, ttrt_init_log_from_env, ttrt_log_level, ttrt_set_log_callback,
};
use ttrt::ffi::ttrt_status;

/// Held by each test: the logger and the environment are the process's.
static TURN: Mutex<()> = Mutex::new(());
static RECORDS: Mutex<Vec<(u32, String, String)>> = Mutex::new(Vec::new());

unsafe extern "C" fn record(
    _user: *mut c_void,
    level: ttrt_log_level,
    target: *const c_char,
    message: *const c_char,
) {
    // SAFETY: ttrt passes NUL-terminated strings valid for the call.
    let (t, m) = unsafe { (CStr::from_ptr(target), CStr::from_ptr(message)) };
    RECORDS.lock().unwrap().push((
        level as u32,
        t.to_string_lossy().into(),
        m.to_string_lossy().into(),
    ));
}

fn take_records() -> Vec<(u32, String, String)> {
    std::mem::take(&mut *RECORDS.lock().unwrap())
}

/// The embedded loader's loop once on the digits model: open, create, initialize, push, run,
/// get, pop.
fn one_loop() {
    let d = Digits::open(1);
    let mut out = vec![0u8; d.output_bytes()];
    // SAFETY: live backend, descriptors of the model's queues over live buffers.
    unsafe {
        ok(ttrt_push_input(d.be, &d.x, &d.input(0), false, 20_000, -1));
        ok(d.run());
        ok(ttrt_get_output_into(
            d.be,
            &d.logits,
            &d.output(&mut out),
            false,
            20_000,
            -1,
        ));
        ok(ttrt_pop_output(d.be, &d.logits, false, 20_000));
    }
    d.close();
}

/// The index of the first record at `level` whose message starts with `start` and contains
/// every one of `parts`.
fn find(
    records: &[(u32, String, String)],
    level: ttrt_log_level,
    start: &str,
    parts: &[&str],
) -> usize {
    records
        .iter()
        .position(|(l, _, m)| {
            *l == level as u32 && m.starts_with(start) && parts.iter().all(|p| m.contains(p))
        })
        .unwrap_or_else(|| {
            panic!("no {level:?} record `{start}...` with {parts:?} in:\n{records:#?}")
        })
}

#[test]
fn the_loader_loop_logs_each_step_in_order_at_its_level() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    take_records();
    assert_eq!(
        ttrt_set_log_callback(
            Some(record),
            std::ptr::null_mut(),
            ttrt_log_level::Trace as u32
        ),
        ttrt_status::Success
    );
    one_loop();
    let records = take_records();
    use ttrt_log_level::{Debug, Info, Trace};
    let opened = find(
        &records,
        Info,
        "opened ",
        &[
            "digits.tti (tar archive,",
            "for Grayskull",
            "8 queues, 1 graph, 1 program, 1 input, 1 output, 6 constant or parameter tensors",
        ],
    );
    let created = find(&records, Info, "backend created for ", &["1 command queue"]);
    let initialized = find(
        &records,
        Info,
        "initialized ",
        &[
            "7 queues in DRAM (",
            "1 queue in host memory (",
            "6 constant or parameter tensors loaded",
        ],
    );
    let pushed = find(
        &records,
        Trace,
        "push_input to queue 'x': 4 entries at pointer 0",
        &[],
    );
    let ran = find(
        &records,
        Debug,
        "run_program 'run_fwd' ($p_loop_count=1) took ",
        &[" ms"],
    );
    let got = find(
        &records,
        Trace,
        "get_output_into from queue 'logits': 4 entries at pointer 0",
        &[],
    );
    let popped = find(
        &records,
        Trace,
        "pop_output from queue 'logits': 4 entries, read pointer 0 -> 4",
        &[],
    );
    let order = [opened, created, initialized, pushed, ran, got, popped];
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "records out of order ({order:?}):\n{records:#?}"
    );
    assert_eq!(records[opened].1, "ttrt::image::tti");
    assert_eq!(records[ran].1, "ttrt::backend");
    // Initialize loads the constants and parameters with traced pushes before its summary.
    assert!(records[created..initialized]
        .iter()
        .any(|(l, _, m)| *l == Trace as u32 && m.starts_with("initialize to queue ")));

    // At WARN none of them is delivered.
    assert_eq!(
        ttrt_set_log_callback(
            Some(record),
            std::ptr::null_mut(),
            ttrt_log_level::Warn as u32
        ),
        ttrt_status::Success
    );
    one_loop();
    let records = take_records();
    assert!(
        records
            .iter()
            .all(|(l, _, _)| *l <= ttrt_log_level::Warn as u32),
        "{records:#?}"
    );
    assert_eq!(
        ttrt_set_log_callback(None, std::ptr::null_mut(), 0),
        ttrt_status::Success
    );
}

#[test]
fn log_specs_read_levels_and_rust_log_directives() {
    use ttrt_log_level::*;
    for (spec, level) in [
        ("error", Some(Error)),
        ("warn", Some(Warn)),
        ("INFO", Some(Info)),
        (" debug ", Some(Debug)),
        ("trace", Some(Trace)),
        ("off", Some(Off)),
        ("", None),
        ("ttrt=debug", Some(Debug)),
        ("warn,ttrt=trace", Some(Trace)),
        ("ttrt=info,error", Some(Info)),
        ("hyper=trace,info", Some(Info)),
        ("hyper=trace", None),
    ] {
        assert_eq!(parse_log_spec(spec), Ok(level), "{spec:?}");
    }
    for spec in ["verbose", "ttrt=loud", "3", "ttrt::backend=debug"] {
        assert!(parse_log_spec(spec).is_err(), "{spec:?}");
    }
}

fn last_error() -> String {
    // SAFETY: never NULL.
    unsafe { CStr::from_ptr(ttrt::ffi::error::ttrt_last_error_message()) }
        .to_string_lossy()
        .into_owned()
}

#[test]
fn ttrt_log_sets_the_level_of_the_callback() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    take_records();
    std::env::set_var("TTRT_LOG", "ttrt=debug");
    assert_eq!(
        ttrt_init_log_from_env(Some(record), std::ptr::null_mut()),
        ttrt_status::Success
    );
    log::debug!(target: "ttrt::test", "seen at debug");
    log::trace!(target: "ttrt::test", "not seen at debug");
    assert_eq!(
        take_records(),
        [(4, "ttrt::test".to_string(), "seen at debug".to_string())]
    );

    // A value it cannot read is refused, naming the variable and the value, and changes
    // nothing.
    std::env::set_var("TTRT_LOG", "loud");
    assert_eq!(
        ttrt_init_log_from_env(Some(record), std::ptr::null_mut()),
        ttrt_status::InvalidArgument
    );
    assert_eq!(
        last_error(),
        "ttrt_init_log_from_env: TTRT_LOG is \"loud\": expected off, error, warn, info, debug \
         or trace, or RUST_LOG-style ttrt=LEVEL"
    );
    log::debug!(target: "ttrt::test", "still seen at debug");
    assert_eq!(take_records().len(), 1);

    // Unset: warnings and errors.
    std::env::remove_var("TTRT_LOG");
    assert_eq!(
        ttrt_init_log_from_env(Some(record), std::ptr::null_mut()),
        ttrt_status::Success
    );
    log::info!(target: "ttrt::test", "not seen at warn");
    log::warn!(target: "ttrt::test", "seen at warn");
    assert_eq!(
        take_records(),
        [(2, "ttrt::test".to_string(), "seen at warn".to_string())]
    );

    assert_eq!(
        ttrt_init_log_from_env(None, std::ptr::null_mut()),
        ttrt_status::InvalidArgument
    );
    assert_eq!(
        last_error(),
        "ttrt_init_log_from_env: argument `cb` is NULL"
    );
    assert_eq!(
        ttrt_set_log_callback(None, std::ptr::null_mut(), 0),
        ttrt_status::Success
    );
}
