//! The backend's C functions on bad input: NULLs, freed handles, unknown queues, descriptors
//! that disagree with the netlist, and memory the backend does not own. Each returns its status
//! and a one-line message; none crashes.

use crate::support::digits_ffi;

use std::ffi::{CStr, CString};
use std::ptr;

use digits_ffi::Digits;

use ttrt::ffi::backend::*;
use ttrt::ffi::format::{ttrt_io_desc, ttrt_tensor_desc};
use ttrt::ffi::image::*;
use ttrt::ffi::status::ttrt_status;

fn last() -> String {
    unsafe { CStr::from_ptr(ttrt::ffi::error::ttrt_last_error_message()) }
        .to_string_lossy()
        .into_owned()
}

#[track_caller]
fn ok(st: ttrt_status) {
    assert_eq!(st, ttrt_status::Success, "{}", last());
}

#[test]
fn bad_arguments_give_a_status_and_a_line_of_text() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let path = CString::new(root.join("digits.tti").to_str().unwrap()).unwrap();
    unsafe {
        let mut img = ptr::null_mut();
        ok(ttrt_image_open(path.as_ptr(), &mut img));
        // NULL handle and NULL out pointer.
        assert_eq!(
            ttrt_backend_initialize(ptr::null_mut()),
            ttrt_status::InvalidArgument
        );
        assert!(last().contains("be"), "{}", last());
        assert_eq!(
            ttrt_backend_create(img, ptr::null(), ptr::null_mut()),
            ttrt_status::InvalidArgument
        );
        // A config with an out-of-range queue count.
        let mut cfg = std::mem::zeroed::<ttrt_backend_config>();
        ttrt_backend_config_default(&mut cfg);
        cfg.num_command_queues = 3;
        let mut be = ptr::null_mut();
        assert_eq!(
            ttrt_backend_create(img, &cfg, &mut be),
            ttrt_status::InvalidArgument
        );
        assert!(last().contains("num_command_queues"), "{}", last());
        ok(ttrt_backend_create(img, ptr::null(), &mut be));
        // Before initialize: out of order.
        let x = CString::new("x").unwrap();
        let mut q = std::mem::zeroed::<ttrt_io_desc>();
        ok(ttrt_backend_get_queue_descriptor(be, x.as_ptr(), &mut q));
        assert_eq!(ttrt_pop_output(be, &q, false, 0), ttrt_status::InvalidState);
        ok(ttrt_backend_initialize(be));
        // An unknown queue.
        let nope = CString::new("nope").unwrap();
        let mut other = std::mem::zeroed::<ttrt_io_desc>();
        assert_eq!(
            ttrt_backend_get_queue_descriptor(be, nope.as_ptr(), &mut other),
            ttrt_status::NotFound
        );
        assert!(
            last().contains("queue 'nope' is not in netlist"),
            "{}",
            last()
        );
        // A descriptor that disagrees with the netlist.
        let mut t = std::mem::zeroed::<ttrt_tensor_desc>();
        ok(ttrt_backend_tensor_desc_for_queue(be, &q, false, &mut t));
        let mut wrong = q;
        wrong.t = 2;
        assert_eq!(
            ttrt_push_input(be, &wrong, &t, false, 0, -1),
            ttrt_status::InvalidArgument
        );
        assert!(last().contains("q->t"), "{}", last());
        // Memory the caller owns is not the backend's to free; backend memory frees once.
        let mut mine = t;
        mine.owner = 0;
        assert_eq!(
            ttrt_tensor_desc_free(&mut mine),
            ttrt_status::InvalidArgument
        );
        ok(ttrt_tensor_desc_free(&mut t));
        assert!(t.ptr.is_null());
        t.ptr = mine.ptr;
        assert_eq!(ttrt_tensor_desc_free(&mut t), ttrt_status::InvalidArgument);
        assert!(
            last().contains("not live backend-owned memory"),
            "{}",
            last()
        );
        // An unknown program.
        let p = CString::new("nope").unwrap();
        assert_eq!(
            ttrt_backend_run_program(be, p.as_ptr(), ptr::null(), 0),
            ttrt_status::NotFound
        );
        // After free, the handle is refused.
        ttrt_backend_free(be);
        assert_eq!(ttrt_backend_initialize(be), ttrt_status::InvalidArgument);
        assert!(last().contains("freed"), "{}", last());
        ttrt_backend_free(ptr::null_mut());
        ttrt_image_free(img);
    }
}

/// The digits model through the C API, `rounds` pushes of its held-out inputs: the logits of
/// each, with push/get/pop on this thread and run_program on another when `threads`.
fn digits_logits(cqs: u32, rounds: usize, threads: bool) -> Vec<Vec<u8>> {
    let d = Digits::open(cqs);
    let get = |out: &mut Vec<Vec<u8>>| {
        let mut logits = vec![0u8; d.output_bytes()];
        let dst = d.output(&mut logits);
        // Bounded: a failed run fails the test instead of hanging it.
        ok(unsafe { ttrt_get_output_into(d.be, &d.logits, &dst, false, 20_000, -1) });
        ok(unsafe { ttrt_pop_output(d.be, &d.logits, false, 0) });
        out.push(logits);
    };
    let (pushed, arrived) = std::sync::mpsc::channel::<()>();
    let mut out = Vec::new();
    std::thread::scope(|s| {
        let d = &d;
        let runner = threads.then(|| {
            s.spawn(move || {
                for () in arrived {
                    ok(d.run());
                }
            })
        });
        for k in 0..rounds {
            ok(unsafe { ttrt_push_input(d.be, &d.x, &d.input(k), false, 20_000, -1) });
            if threads {
                pushed.send(()).unwrap();
                // Round k - 1's logits are read while round k may be running.
                if k > 0 {
                    get(&mut out);
                }
            } else {
                ok(d.run());
                get(&mut out);
            }
        }
        drop(pushed);
        if threads {
            get(&mut out);
        }
        if let Some(r) = runner {
            r.join().unwrap();
        }
    });
    d.close();
    out
}

#[test]
fn push_and_get_on_one_thread_and_run_program_on_another_give_the_same_logits() {
    let want = digits_logits(1, 9, false);
    assert!(want.iter().all(|l| l.iter().any(|&b| b != 0)));
    for cqs in [1, 2] {
        assert!(
            digits_logits(cqs, 9, true) == want,
            "{cqs} CQ(s): the logits differ from the single-threaded run's"
        );
    }
}

#[test]
fn programs_and_their_declared_parameters_are_listed_from_c() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let path = CString::new(root.join("digits.tti").to_str().unwrap()).unwrap();
    let name = |p: *const std::os::raw::c_char| unsafe { CStr::from_ptr(p) }.to_str().unwrap();
    unsafe {
        let mut img = ptr::null_mut();
        ok(ttrt_image_open(path.as_ptr(), &mut img));
        let mut be = ptr::null_mut();
        ok(ttrt_backend_create(img, ptr::null(), &mut be));
        // What the image's netlist declares, read independently of the C API.
        let netlist = ttrt::image::Image::open(root.join("digits.tti")).unwrap();
        let programs = &netlist.netlist().programs;
        assert_eq!(ttrt_backend_program_count(be), programs.len());
        for (i, p) in programs.iter().enumerate() {
            let declared: Vec<String> = p.params().map(|n| format!("${n}")).collect();
            assert_eq!(ttrt_backend_program_param_count(be, i), declared.len());
            for (j, d) in declared.iter().enumerate() {
                assert_eq!(name(ttrt_backend_program_param_name(be, i, j)), d);
                assert!(ttrt_backend_program_param_required(be, i, j));
            }
        }
        // The digits model's program takes the guide's loop count.
        assert_eq!(
            name(ttrt_backend_program_param_name(be, 0, 0)),
            "$p_loop_count"
        );
        // Bad indexes and handles: nothing, and a line saying what.
        let n = programs.len();
        assert_eq!(ttrt_backend_program_param_count(be, n), 0);
        assert!(
            last().contains("program index") && last().contains("out of range"),
            "{}",
            last()
        );
        assert!(ttrt_backend_program_param_name(be, 0, 99).is_null());
        assert!(last().contains("parameter index 99"), "{}", last());
        assert!(!ttrt_backend_program_param_required(be, 0, 99));
        assert!(
            last().starts_with("ttrt_backend_program_param_required:"),
            "{}",
            last()
        );
        assert_eq!(ttrt_backend_program_param_count(ptr::null(), 0), 0);
        assert!(last().contains("be"), "{}", last());
        ttrt_backend_free(be);
        ttrt_image_free(img);
    }
}
