//! The backend's steady-state loop allocates nothing on the heap: after a warm-up, push ->
//! run_program -> get_output_into -> pop of the digits image, through the C API, on one and two
//! command queues, makes no heap allocation on any thread. A counting global allocator proves it.

mod support;

use std::ffi::CString;
use std::sync::atomic::Ordering;

use support::counting::{Counting, ALLOCATIONS, COUNTING};

use ttrt::ffi::backend::*;
use ttrt::ffi::format::{ttrt_io_desc, ttrt_tensor_desc};
use ttrt::ffi::image::*;
use ttrt::ffi::status::ttrt_status;

#[global_allocator]
static GLOBAL: Counting = Counting;

#[track_caller]
fn ok(st: ttrt_status) {
    assert_eq!(st, ttrt_status::Success, "{:?}", unsafe {
        std::ffi::CStr::from_ptr(ttrt::ffi::error::ttrt_last_error_message())
    });
}

fn desc(ptr: *const u8, format: u32, item: u32, shape: [u32; 4]) -> ttrt_tensor_desc {
    let strides = [
        shape[1] * shape[2] * shape[3] * item,
        shape[2] * shape[3] * item,
        shape[3] * item,
        item,
    ];
    ttrt_tensor_desc {
        ptr: ptr.cast(),
        itemsize: item,
        format,
        shape,
        strides,
        dim: 4,
        owner: 0,
    }
}

#[test]
fn push_run_get_into_pop_allocates_nothing_once_warm() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let path = CString::new(root.join("digits.tti").to_str().unwrap()).unwrap();
    let inputs = std::fs::read(root.join("digits/test_inputs.bin")).unwrap();
    for cqs in [1u32, 2] {
        unsafe {
            let mut img = std::ptr::null_mut();
            ok(ttrt_image_open(path.as_ptr(), &mut img));
            let mut cfg = std::mem::zeroed::<ttrt_backend_config>();
            ttrt_backend_config_default(&mut cfg);
            cfg.num_command_queues = cqs;
            let mut be = std::ptr::null_mut();
            ok(ttrt_backend_create(img, &cfg, &mut be));
            ok(ttrt_backend_initialize(be));
            let (x, logits) = (CString::new("x").unwrap(), CString::new("logits").unwrap());
            let mut qx = std::mem::zeroed::<ttrt_io_desc>();
            let mut qy = std::mem::zeroed::<ttrt_io_desc>();
            ok(ttrt_backend_get_queue_descriptor(be, x.as_ptr(), &mut qx));
            ok(ttrt_backend_get_queue_descriptor(
                be,
                logits.as_ptr(),
                &mut qy,
            ));
            let n = qx.input_count;
            let per_push = (n * 32 * 64 * 4) as usize;
            let mut out = vec![0u8; (n * 32 * 32 * 4) as usize];
            let dst = desc(out.as_mut_ptr(), 0, 4, [n, 1, 32, 32]);
            let program = CString::new("run_fwd").unwrap();
            let (pn, pv) = (
                CString::new("$p_loop_count").unwrap(),
                CString::new("1").unwrap(),
            );
            let param = ttrt_program_param {
                name: pn.as_ptr(),
                value: pv.as_ptr(),
            };
            let step = |k: usize| {
                let at = (k % (inputs.len() / per_push)) * per_push;
                let src = desc(inputs[at..].as_ptr(), 0, 4, [n, 1, 32, 64]);
                ok(ttrt_push_input(be, &qx, &src, false, -1, -1));
                ok(ttrt_backend_run_program(be, program.as_ptr(), &param, 1));
                ok(ttrt_get_output_into(be, &qy, &dst, false, -1, -1));
                ok(ttrt_pop_output(be, &qy, false, -1));
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
            ok(ttrt_backend_finish(be));
            ttrt_backend_free(be);
            ttrt_image_free(img);
        }
    }
}
