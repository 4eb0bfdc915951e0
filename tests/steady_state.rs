//! Steady-state inference allocates nothing on the heap: after a warm-up, a loop of write, op,
//! record, wait, execute_trace and read into a caller buffer, through the C API, makes no heap
//! allocation on any thread (host or device workers). A counting global allocator proves it.

mod support;

use std::ptr;
use std::sync::atomic::Ordering;

use support::counting::{Counting, ALLOCATIONS, COUNTING};

use ttrt::ffi::device::*;
use ttrt::ffi::event::ttrt_event;
use ttrt::ffi::status::ttrt_status;
use ttrt::ffi::tensor::*;

#[global_allocator]
static GLOBAL: Counting = Counting;

#[track_caller]
fn ok(st: ttrt_status) {
    assert_eq!(st, ttrt_status::Success, "{:?}", unsafe {
        std::ffi::CStr::from_ptr(ttrt::ffi::error::ttrt_last_error_message())
    });
}

#[test]
fn steady_state_enqueue_allocates_nothing() {
    unsafe {
        let mut cfg = std::mem::zeroed::<ttrt_device_config>();
        ttrt_device_config_default(&mut cfg);
        cfg.num_command_queues = 2;
        cfg.trace_region_size = 64 << 10;
        let mut dev = ptr::null_mut();
        ok(ttrt_device_open(&cfg, &mut dev));

        let spec = ttrt_tensor_spec {
            shape: [1, 1, 64, 64],
            format: 5, // Float16_b
            layout: ttrt_tensor_layout::Tile as u32,
        };
        let mem = |t: ttrt_buffer_type| ttrt_memory_config {
            buffer_type: t as u32,
            ..Default::default()
        };
        let (dram, l1) = (mem(ttrt_buffer_type::Dram), mem(ttrt_buffer_type::L1));
        let mut input = ptr::null_mut();
        ok(ttrt_allocate_tensor_on_device(
            dev, &spec, &dram, &mut input,
        ));
        let mut data: Vec<f32> = (0..64 * 64).map(|i| (i % 32) as f32 - 16.0).collect();
        let mut out_host = vec![0f32; 64 * 64];
        let host = |p: *mut f32| ttrt_host_tensor {
            data: p.cast(),
            size: 64 * 64 * 4,
            shape: [1, 1, 64, 64],
            format: 0, // Float32
            layout: ttrt_tensor_layout::RowMajor as u32,
        };

        // Warm up and capture: relu into L1, then negate into DRAM.
        let model = |dev: *mut ttrt_device, input: *mut ttrt_tensor| {
            let (mut x, mut y) = (ptr::null_mut(), ptr::null_mut());
            ok(ttrt_op_unary(dev, 0, 1, input, &l1, &mut x));
            ok(ttrt_op_unary(dev, 0, 11, x, &dram, &mut y));
            ttrt_tensor_free(x);
            y
        };
        let warm = model(dev, input);
        ok(ttrt_finish(dev, 0));
        ttrt_tensor_free(warm);
        let mut tid = 0;
        ok(ttrt_begin_trace_capture(dev, 0, &mut tid));
        let output = model(dev, input);
        ok(ttrt_end_trace_capture(dev, 0, tid));

        let mut write_event = ttrt_event::default();
        let mut op_event = ttrt_event::default();
        ok(ttrt_record_event(dev, 0, &mut op_event));
        let mut iteration = |i: usize, data: &mut Vec<f32>, out_host: &mut Vec<f32>| {
            data[0] = i as f32;
            ok(ttrt_wait_for_event(dev, 1, &op_event));
            ok(ttrt_copy_host_to_device_tensor(
                dev,
                1,
                &host(data.as_mut_ptr()),
                input,
                false,
            ));
            ok(ttrt_record_event(dev, 1, &mut write_event));
            ok(ttrt_wait_for_event(dev, 0, &write_event));
            // An eager op outside the trace: creates and frees a tensor handle.
            let mut extra = ptr::null_mut();
            ok(ttrt_op_unary(dev, 0, 0, input, &l1, &mut extra));
            ttrt_tensor_free(extra);
            ok(ttrt_record_event(dev, 0, &mut op_event));
            ok(ttrt_execute_trace(dev, 0, tid, false));
            let mut h = host(out_host.as_mut_ptr());
            ok(ttrt_copy_device_to_host_tensor(
                dev, 0, output, &mut h, true,
            ));
        };
        for i in 0..20 {
            iteration(i, &mut data, &mut out_host);
        }
        // The counter sees allocations (so a zero below means none happened).
        COUNTING.store(true, Ordering::SeqCst);
        drop(std::hint::black_box(Vec::<u8>::with_capacity(16)));
        COUNTING.store(false, Ordering::SeqCst);
        assert_eq!(ALLOCATIONS.swap(0, Ordering::SeqCst), 1);
        COUNTING.store(true, Ordering::SeqCst);
        for i in 0..200 {
            iteration(i, &mut data, &mut out_host);
        }
        COUNTING.store(false, Ordering::SeqCst);
        let allocations = ALLOCATIONS.load(Ordering::SeqCst);
        // The loop did run the model: -relu(x), with x[0] = 199.
        assert_eq!(out_host[0], -199.0);
        assert_eq!(out_host[1], 0.0, "-relu(-15)");
        assert_eq!(out_host[20], -4.0, "-relu(4)");
        assert_eq!(
            allocations, 0,
            "heap allocations in 200 steady-state iterations"
        );

        ok(ttrt_release_trace(dev, tid));
        ttrt_tensor_free(output);
        ttrt_tensor_free(input);
        ok(ttrt_device_close(dev));
    }
}
