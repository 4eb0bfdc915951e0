//! The backend's steady-state loop allocates nothing on the heap: after a warm-up, push ->
//! run_program -> get_output_into -> pop of the digits image, through the C API, on one and two
//! command queues, makes no heap allocation on any thread. A counting global allocator proves it.

mod support;

use std::sync::atomic::Ordering;

use support::counting::{Counting, ALLOCATIONS, COUNTING};
use support::digits_ffi::{ok, Digits};

use ttrt::ffi::backend::*;

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn push_run_get_into_pop_allocates_nothing_once_warm() {
    for cqs in [1u32, 2] {
        let d = Digits::open(cqs);
        let mut out = vec![0u8; d.output_bytes()];
        let dst = d.output(&mut out);
        let step = |k: usize| unsafe {
            ok(ttrt_push_input(d.be, &d.x, &d.input(k), false, -1, -1));
            ok(d.run());
            ok(ttrt_get_output_into(d.be, &d.logits, &dst, false, -1, -1));
            ok(ttrt_pop_output(d.be, &d.logits, false, -1));
        };
        for k in 0..4 {
            step(k);
        }
        ALLOCATIONS.store(0, Ordering::SeqCst);
        COUNTING.store(true, Ordering::SeqCst);
        for k in 0..30 {
            step(k);
        }
        COUNTING.store(false, Ordering::SeqCst);
        assert_eq!(
            ALLOCATIONS.load(Ordering::SeqCst),
            0,
            "heap allocations in 30 steady-state loops on {cqs} CQ(s)"
        );
        // The loop computed something: the logits of the last push are not all zero.
        assert!(out.iter().any(|&b| b != 0));
        d.close();
    }
}
