//! Logging keeps the backend's steady state allocation-free: with a callback registered at
//! TRACE (every record of push, run_program, get and pop formatted and delivered) and at WARN
//! (none delivered), push -> run_program -> get_output_into -> pop of the digits image makes
//! no heap allocation once warm. The callback here only counts.

mod support;

use std::ffi::{c_char, c_void};
use std::sync::atomic::{AtomicUsize, Ordering};

use support::counting::{Counting, ALLOCATIONS, COUNTING};
use support::digits_ffi::{ok, Digits};

use ttrt::ffi::backend::*;
use ttrt::ffi::log::{ttrt_log_level, ttrt_set_log_callback};
use ttrt::ffi::ttrt_status;

#[global_allocator]
static GLOBAL: Counting = Counting;

static DELIVERED: AtomicUsize = AtomicUsize::new(0);

unsafe extern "C" fn count(
    _user: *mut c_void,
    _level: ttrt_log_level,
    _target: *const c_char,
    _message: *const c_char,
) {
    DELIVERED.fetch_add(1, Ordering::Relaxed);
}

#[test]
fn logging_allocates_nothing_in_the_steady_state() {
    let d = Digits::open(1);
    let mut out = vec![0u8; d.output_bytes()];
    let dst = d.output(&mut out);
    let step = |k: usize| unsafe {
        ok(ttrt_push_input(d.be, &d.x, &d.input(k), false, -1, -1));
        ok(d.run());
        ok(ttrt_get_output_into(d.be, &d.logits, &dst, false, -1, -1));
        ok(ttrt_pop_output(d.be, &d.logits, false, -1));
    };
    for (level, records_per_loop) in [(ttrt_log_level::Trace, 4), (ttrt_log_level::Warn, 0)] {
        assert_eq!(
            ttrt_set_log_callback(Some(count), std::ptr::null_mut(), level as u32),
            ttrt_status::Success
        );
        for k in 0..4 {
            step(k);
        }
        DELIVERED.store(0, Ordering::SeqCst);
        ALLOCATIONS.store(0, Ordering::SeqCst);
        COUNTING.store(true, Ordering::SeqCst);
        for k in 0..30 {
            step(k);
        }
        COUNTING.store(false, Ordering::SeqCst);
        assert_eq!(
            ALLOCATIONS.load(Ordering::SeqCst),
            0,
            "heap allocations in 30 steady-state loops logging at {level:?}"
        );
        // push, run_program, get_output_into and pop each give one record at TRACE.
        assert_eq!(
            DELIVERED.load(Ordering::SeqCst),
            30 * records_per_loop,
            "{level:?}"
        );
    }
    assert_eq!(
        ttrt_set_log_callback(None, std::ptr::null_mut(), 0),
        ttrt_status::Success
    );
    d.close();
}
