//! The C ABI conventions of DESIGN.md section 4, held from Rust: handles refuse freed, foreign
//! and made-up values; the boundary turns errors and panics into a status and one line of text;
//! outputs are written only on success; log records reach the C callback.

#![allow(non_camel_case_types)]

use std::ffi::{c_char, c_void, CStr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use ttrt::ffi::boundary::{call, out};
use ttrt::ffi::error::{last_error, ArgError, HandleProblem};
use ttrt::ffi::handle::{Handle, HandleTable};
use ttrt::ffi::log::{ttrt_log_level, ttrt_set_log_callback};
use ttrt::ffi::ttrt_status;

pub struct widget {
    _private: [u8; 0],
}
struct Widget {
    value: u64,
    dropped: Option<&'static AtomicBool>,
}
impl Drop for Widget {
    fn drop(&mut self) {
        if let Some(flag) = self.dropped {
            flag.store(true, Ordering::SeqCst);
        }
    }
}
static WIDGETS: HandleTable<Widget> = HandleTable::new();
impl Handle for Widget {
    type Opaque = widget;
    const KIND: &'static str = "ttrt_widget";
    const TAG: usize = 14;
    fn table() -> &'static HandleTable<Self> {
        &WIDGETS
    }
}

pub struct gadget {
    _private: [u8; 0],
}
struct Gadget;
static GADGETS: HandleTable<Gadget> = HandleTable::new();
impl Handle for Gadget {
    type Opaque = gadget;
    const KIND: &'static str = "ttrt_gadget";
    const TAG: usize = 15;
    fn table() -> &'static HandleTable<Self> {
        &GADGETS
    }
}

fn widget(value: u64) -> *mut widget {
    WIDGETS
        .insert(Widget {
            value,
            dropped: None,
        })
        .expect("table has room")
}

fn problem(e: ArgError) -> HandleProblem {
    match e {
        ArgError::Handle { problem, .. } => problem,
        other => panic!("expected a handle error, got {other:?}"),
    }
}

#[test]
fn handle_resolves_to_its_object_until_freed() {
    let h = widget(7);
    assert_eq!(WIDGETS.get(h, "w").unwrap().value, 7);
    WIDGETS.remove(h, "w").unwrap();
    assert_eq!(
        problem(WIDGETS.get(h, "w").err().unwrap()),
        HandleProblem::Freed
    );
    assert_eq!(
        problem(WIDGETS.remove(h, "w").err().unwrap()),
        HandleProblem::Freed
    );
}

#[test]
fn freed_handle_stays_refused_after_its_slot_is_reused() {
    let old = widget(1);
    WIDGETS.remove(old, "w").unwrap();
    // The most recently freed slot is reused first; the old token must not reach the new object.
    let new = widget(2);
    assert_ne!(old, new);
    assert_eq!(
        problem(WIDGETS.get(old, "w").err().unwrap()),
        HandleProblem::Freed
    );
    assert_eq!(WIDGETS.get(new, "w").unwrap().value, 2);
    WIDGETS.remove(new, "w").unwrap();
}

#[test]
fn handle_of_another_type_is_refused_with_its_kind_named() {
    let g = GADGETS.insert(Gadget).unwrap();
    let err = WIDGETS.get(g.cast::<widget>(), "dev").err().unwrap();
    assert_eq!(
        err.to_string(),
        "argument `dev` is not a ttrt_widget (it is a handle of another type)"
    );
    GADGETS.remove(g, "g").unwrap();
}

#[test]
fn made_up_and_null_handles_are_refused() {
    let on_stack = 0u64;
    let address = &on_stack as *const u64 as *const widget;
    assert!(WIDGETS.get(address, "w").is_err());
    for bogus in [0x1000usize, 0xdead_bee0 | 14, usize::MAX & !0xf | 14] {
        let err = WIDGETS.get(bogus as *const widget, "w").err().unwrap();
        assert!(matches!(
            problem(err),
            HandleProblem::Invalid | HandleProblem::WrongType
        ));
    }
    assert_eq!(
        WIDGETS.get(std::ptr::null(), "w").err().unwrap(),
        ArgError::Null { arg: "w" }
    );
}

#[test]
fn table_grows_across_segments_and_keeps_every_handle_valid() {
    let handles: Vec<_> = (0..5000u64).map(widget).collect();
    for (i, h) in handles.iter().enumerate() {
        assert_eq!(WIDGETS.get(*h, "w").unwrap().value, i as u64);
    }
    for h in handles {
        WIDGETS.remove(h, "w").unwrap();
    }
}

#[test]
fn free_waits_for_a_call_in_flight_on_another_thread() {
    static DROPPED: AtomicBool = AtomicBool::new(false);
    let h = WIDGETS
        .insert(Widget {
            value: 3,
            dropped: Some(&DROPPED),
        })
        .unwrap() as usize;
    let borrowed = std::sync::Barrier::new(2);
    let released = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            let b = WIDGETS.get(h as *const widget, "w").unwrap();
            borrowed.wait();
            std::thread::sleep(std::time::Duration::from_millis(50));
            assert!(
                !DROPPED.load(Ordering::SeqCst),
                "object dropped while borrowed"
            );
            assert_eq!(b.value, 3);
            released.store(true, Ordering::SeqCst);
            drop(b);
        });
        borrowed.wait();
        WIDGETS.remove(h as *const widget, "w").unwrap();
        assert!(
            released.load(Ordering::SeqCst),
            "remove returned before the borrow ended"
        );
        assert!(DROPPED.load(Ordering::SeqCst));
    });
}

#[derive(Debug)]
struct Boom;
impl std::fmt::Display for Boom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("queue `q0` is full (entries 4)")
    }
}
impl ttrt::ffi::CError for Boom {
    fn status(&self) -> ttrt_status {
        ttrt_status::Timeout
    }
}

#[test]
fn error_becomes_its_status_and_one_line_prefixed_with_the_function() {
    let st = call("ttrt_push_input", || Err::<(), _>(Boom));
    assert_eq!(st, ttrt_status::Timeout);
    assert_eq!(
        last_error(),
        "ttrt_push_input: queue `q0` is full (entries 4)"
    );
}

#[test]
fn panic_is_caught_at_the_boundary_as_ttrt_status_panic() {
    let st = call("ttrt_example", || -> Result<(), ArgError> {
        panic!("index 9 out of range")
    });
    assert_eq!(st, ttrt_status::Panic);
    assert_eq!(
        last_error(),
        "ttrt_example: internal error (panic): index 9 out of range"
    );
    // The thread goes on working.
    assert_eq!(
        call("ttrt_example", || Ok::<(), ArgError>(())),
        ttrt_status::Success
    );
}

#[test]
fn outputs_are_written_only_on_success() {
    let mut slot = 0xAAu32;
    let st = call("ttrt_example", || {
        // SAFETY: `slot` is a live, aligned u32.
        let o = unsafe { out(&mut slot as *mut u32, "out") }?;
        Err::<(), _>(ArgError::Range {
            arg: "n",
            found: 3,
            allowed: "0..2",
        })
        .map(|_| o.write(1))
    });
    assert_eq!(st, ttrt_status::InvalidArgument);
    assert_eq!(slot, 0xAA);
    assert_eq!(
        last_error(),
        "ttrt_example: argument `n` is 3, allowed: 0..2"
    );
}

#[test]
fn misaligned_pointer_is_refused_not_dereferenced() {
    let words = [0u64; 2];
    let misaligned = (words.as_ptr() as *const u8).wrapping_add(1) as *mut u32;
    // SAFETY: the pointer is refused before any access.
    let r = unsafe { out(misaligned, "out") };
    assert_eq!(
        r.err().unwrap().to_string(),
        "argument `out` is not aligned to 4 bytes"
    );
}

static RECORDS: Mutex<Vec<(u32, String, String)>> = Mutex::new(Vec::new());
static CALLS: AtomicUsize = AtomicUsize::new(0);

unsafe extern "C" fn record(
    user: *mut c_void,
    level: ttrt_log_level,
    target: *const c_char,
    message: *const c_char,
) {
    assert_eq!(user as usize, 0x5eed);
    CALLS.fetch_add(1, Ordering::SeqCst);
    // SAFETY: ttrt passes NUL-terminated strings valid for the call.
    let (t, m) = unsafe { (CStr::from_ptr(target), CStr::from_ptr(message)) };
    RECORDS.lock().unwrap().push((
        level as u32,
        t.to_string_lossy().into(),
        m.to_string_lossy().into(),
    ));
}

#[test]
fn log_records_reach_the_callback_up_to_max_level() {
    let user = 0x5eed as *mut c_void;
    assert_eq!(
        ttrt_set_log_callback(Some(record), user, ttrt_log_level::Info as u32),
        ttrt_status::Success
    );
    log::info!(target: "ttrt::runtime::trace", "trace {} captured\nsecond line", 3);
    log::debug!(target: "ttrt::runtime", "not delivered above max_level");
    log::error!(target: "ttrt::backend", "queue {} underflow", "out0");
    {
        let got = RECORDS.lock().unwrap().clone();
        assert_eq!(
            got,
            vec![
                (
                    3,
                    "ttrt::runtime::trace".into(),
                    "trace 3 captured second line".into()
                ),
                (1, "ttrt::backend".into(), "queue out0 underflow".into()),
            ]
        );
    }
    // A NULL callback turns logging off.
    assert_eq!(
        ttrt_set_log_callback(None, std::ptr::null_mut(), 5),
        ttrt_status::Success
    );
    let before = CALLS.load(Ordering::SeqCst);
    log::error!("dropped");
    assert_eq!(CALLS.load(Ordering::SeqCst), before);
    // An out-of-range level is refused and changes nothing.
    assert_eq!(
        ttrt_set_log_callback(Some(record), user, 6),
        ttrt_status::InvalidArgument
    );
    assert!(last_error().contains("max_level"), "{}", last_error());
    log::error!("still dropped");
    assert_eq!(CALLS.load(Ordering::SeqCst), before);
}
