//! Blocking calls can always be ended: a call waiting on another thread (push for room, get
//! and pop for entries) is woken by `ttrt_backend_finish` or `ttrt_backend_free` and returns
//! `TTRT_STATUS_CANCELLED` with a line saying so; then finish or free completes. Each case runs
//! under a watchdog, so a call that never returns fails the test instead of hanging it.

use std::ffi::{CStr, CString};
use std::ptr;
use std::sync::mpsc;
use std::time::Duration;

use ttrt::ffi::backend::*;
use ttrt::ffi::format::{ttrt_io_desc, ttrt_tensor_desc};
use ttrt::ffi::image::*;
use ttrt::ffi::status::ttrt_status;

use crate::support::copy_netlist;
use copy_netlist::NETLIST;

/// Long enough for a loaded machine; only a hang reaches it.
const WATCHDOG: Duration = Duration::from_secs(30);

fn last() -> String {
    unsafe { CStr::from_ptr(ttrt::ffi::error::ttrt_last_error_message()) }
        .to_string_lossy()
        .into_owned()
}

#[track_caller]
fn ok(st: ttrt_status) {
    assert_eq!(st, ttrt_status::Success, "{}", last());
}

/// Runs `f` on a thread of its own; fails if it has not returned within the watchdog time.
fn within_watchdog<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(WATCHDOG) {
        Ok(v) => v,
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("{what} did not return within {WATCHDOG:?}: it hangs")
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("{what} panicked"),
    }
}

/// Handles are tokens (integers): they may cross threads as such.
#[derive(Clone, Copy)]
struct Be(usize);

impl Be {
    fn ptr(self) -> *mut ttrt_backend {
        self.0 as *mut ttrt_backend
    }
}

/// Queue descriptors, whose names point into the backend (valid until it is freed).
#[derive(Clone, Copy)]
struct Desc(ttrt_io_desc);

// SAFETY: the name a descriptor points to is the backend's, immutable and alive until free;
// the tests free the backend only after the last use of a descriptor.
unsafe impl Send for Desc {}

impl Desc {
    fn get(self) -> ttrt_io_desc {
        self.0
    }
}

/// An initialized backend of NETLIST and the descriptors of its two queues.
fn backend(tag: &str) -> (Be, ttrt_io_desc, ttrt_io_desc) {
    let dir = std::env::temp_dir().join(format!("ttrt-cancellation-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("copy.yaml");
    std::fs::write(&file, NETLIST).unwrap();
    let path = CString::new(file.to_str().unwrap()).unwrap();
    unsafe {
        let mut img = ptr::null_mut();
        ok(ttrt_image_open(path.as_ptr(), &mut img));
        let mut be = ptr::null_mut();
        ok(ttrt_backend_create(img, ptr::null(), &mut be));
        ttrt_image_free(img);
        ok(ttrt_backend_initialize(be));
        let mut qin = std::mem::zeroed::<ttrt_io_desc>();
        let mut qout = std::mem::zeroed::<ttrt_io_desc>();
        let name = CString::new("in0").unwrap();
        ok(ttrt_backend_get_queue_descriptor(
            be,
            name.as_ptr(),
            &mut qin,
        ));
        let name = CString::new("out").unwrap();
        ok(ttrt_backend_get_queue_descriptor(
            be,
            name.as_ptr(),
            &mut qout,
        ));
        let _ = std::fs::remove_dir_all(&dir);
        (Be(be as usize), qin, qout)
    }
}

/// One entry of `in0`, as float32.
fn entry() -> Vec<f32> {
    (0..32 * 32).map(|i| i as f32).collect()
}

fn entry_desc(data: &[f32]) -> ttrt_tensor_desc {
    ttrt_tensor_desc {
        ptr: data.as_ptr().cast(),
        itemsize: 4,
        format: 0, // Float32
        shape: [1, 1, 32, 32],
        strides: [4 * 32 * 32, 4 * 32 * 32, 4 * 32, 4],
        dim: 4,
        owner: 0,
    }
}

/// Returns once another thread is inside an io call of `be` (push, get or pop): a pop that
/// tries once is refused while the io side is taken, and otherwise finds `out` empty.
fn wait_until_io_side_taken(be: Be, qout: &ttrt_io_desc) {
    loop {
        let st = unsafe { ttrt_pop_output(be.ptr(), qout, true, 0) };
        match st {
            ttrt_status::InvalidState
                if last().contains("another thread is inside a call on the same side") =>
            {
                return
            }
            ttrt_status::Timeout => std::thread::yield_now(),
            other => panic!("probe pop: {other:?}: {}", last()),
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Blocked {
    Get,
    GetInto,
    Pop,
    Push,
}

#[derive(Clone, Copy, Debug)]
enum Ender {
    Finish,
    Free,
}

/// The status and text of a call that blocks forever unless ended: `out` is empty (get, pop)
/// or `in0` full (push).
fn blocked_call(
    be: Be,
    qin: ttrt_io_desc,
    qout: ttrt_io_desc,
    call: Blocked,
) -> (ttrt_status, String) {
    let data = entry();
    let t = entry_desc(&data);
    let mut sink = vec![0f32; 32 * 32];
    loop {
        let st = unsafe { call_once(be, &qin, &qout, call, &t, &mut sink) };
        // The probe of `wait_until_io_side_taken` may hold the io side for a moment: retry.
        if st == ttrt_status::InvalidState && last().contains("another thread is inside") {
            std::thread::yield_now();
            continue;
        }
        return (st, last());
    }
}

unsafe fn call_once(
    be: Be,
    qin: &ttrt_io_desc,
    qout: &ttrt_io_desc,
    call: Blocked,
    t: &ttrt_tensor_desc,
    sink: &mut [f32],
) -> ttrt_status {
    unsafe {
        match call {
            Blocked::Get => {
                let mut got = std::mem::zeroed::<ttrt_tensor_desc>();
                ttrt_get_output(be.ptr(), qout, &mut got, true, -1, -1)
            }
            Blocked::GetInto => {
                let mut dst = entry_desc(sink);
                dst.ptr = sink.as_mut_ptr().cast();
                ttrt_get_output_into(be.ptr(), qout, &dst, true, -1, -1)
            }
            Blocked::Pop => ttrt_pop_output(be.ptr(), qout, true, -1),
            Blocked::Push => ttrt_push_input(be.ptr(), qin, t, true, -1, -1),
        }
    }
}

fn waiter_is_woken(call: Blocked, ender: Ender) {
    let tag = format!("{call:?}-{ender:?}");
    let (be, qin, qout) = backend(&tag);
    if let Blocked::Push = call {
        let data = entry();
        let t = entry_desc(&data);
        unsafe {
            ok(ttrt_push_input(be.ptr(), &qin, &t, true, 0, -1));
            ok(ttrt_push_input(be.ptr(), &qin, &t, true, 0, -1));
        }
    }
    let what = format!("{tag}: the blocked call and its ending");
    let (din, dout) = (Desc(qin), Desc(qout));
    let (status, text) = within_watchdog(&what, move || {
        let qout = dout.get();
        let waiter = std::thread::spawn(move || blocked_call(be, din.get(), dout.get(), call));
        wait_until_io_side_taken(be, &qout);
        match ender {
            Ender::Finish => {
                let st = unsafe { ttrt_backend_finish(be.ptr()) };
                assert_eq!(st, ttrt_status::Success, "finish: {}", last());
            }
            Ender::Free => unsafe { ttrt_backend_free(be.ptr()) },
        }
        waiter.join().unwrap()
    });
    assert_eq!(status, ttrt_status::Cancelled, "{tag}: {text}");
    let (func, side) = match call {
        Blocked::Get => (
            "ttrt_get_output: get_output from queue 'out'",
            "for 1 entry",
        ),
        Blocked::GetInto => (
            "ttrt_get_output_into: get_output from queue 'out'",
            "for 1 entry",
        ),
        Blocked::Pop => (
            "ttrt_pop_output: pop_output from queue 'out'",
            "for 1 entry",
        ),
        Blocked::Push => (
            "ttrt_push_input: push_input to queue 'in0'",
            "for room for 1 entry",
        ),
    };
    assert_eq!(
        text,
        format!("{func}: the backend was finished while this call waited {side}"),
        "{tag}"
    );
    unsafe {
        match ender {
            Ender::Finish => {
                // Finished: later calls are refused, and free still frees.
                let st = ttrt_pop_output(be.ptr(), &qout, true, 0);
                assert_eq!(st, ttrt_status::InvalidState, "{}", last());
                ttrt_backend_free(be.ptr());
            }
            Ender::Free => {}
        }
        assert_eq!(
            ttrt_backend_initialize(be.ptr()),
            ttrt_status::InvalidArgument
        );
        assert!(last().contains("already been freed"), "{}", last());
    }
}

#[test]
fn finish_wakes_a_get_output_waiting_for_an_entry() {
    waiter_is_woken(Blocked::Get, Ender::Finish);
}

#[test]
fn free_wakes_a_get_output_waiting_for_an_entry() {
    waiter_is_woken(Blocked::Get, Ender::Free);
}

#[test]
fn finish_wakes_a_get_output_into_waiting_for_an_entry() {
    waiter_is_woken(Blocked::GetInto, Ender::Finish);
}

#[test]
fn finish_wakes_a_pop_output_waiting_for_an_entry() {
    waiter_is_woken(Blocked::Pop, Ender::Finish);
}

#[test]
fn free_wakes_a_pop_output_waiting_for_an_entry() {
    waiter_is_woken(Blocked::Pop, Ender::Free);
}

#[test]
fn finish_wakes_a_push_input_waiting_for_room() {
    waiter_is_woken(Blocked::Push, Ender::Finish);
}

#[test]
fn free_wakes_a_push_input_waiting_for_room() {
    waiter_is_woken(Blocked::Push, Ender::Free);
}

/// Closing a device during a trace capture succeeds and ends the capture (nothing is stored);
/// the handle is freed. A close that fails changes nothing: it was refused before, yet freed.
#[test]
fn close_during_a_trace_capture_ends_the_capture_and_closes() {
    use ttrt::ffi::device::*;
    use ttrt::ffi::tensor::*;
    unsafe {
        let mut cfg = std::mem::zeroed::<ttrt_device_config>();
        ttrt_device_config_default(&mut cfg);
        cfg.trace_region_size = 65536;
        let mut dev = ptr::null_mut();
        ok(ttrt_device_open(&cfg, &mut dev));
        let spec = ttrt_tensor_spec {
            shape: [1, 1, 32, 32],
            format: 5,
            layout: ttrt_tensor_layout::Tile as u32,
        };
        let mem = ttrt_memory_config {
            buffer_type: ttrt_buffer_type::Dram as u32,
            memory_layout: ttrt_memory_layout::Interleaved as u32,
            shard: ttrt_shard_spec::default(),
        };
        let mut a = ptr::null_mut();
        ok(ttrt_allocate_tensor_on_device(dev, &spec, &mem, &mut a));
        let mut warm = ptr::null_mut();
        ok(ttrt_op_unary(
            dev,
            0,
            ttrt_unary_op::Relu as u32,
            a,
            &mem,
            &mut warm,
        ));
        ok(ttrt_finish(dev, 0));
        let mut tid = 0;
        ok(ttrt_begin_trace_capture(dev, 0, &mut tid));
        let mut captured = ptr::null_mut();
        ok(ttrt_op_unary(
            dev,
            0,
            ttrt_unary_op::Relu as u32,
            a,
            &mem,
            &mut captured,
        ));
        let d = dev as usize;
        let st = within_watchdog("ttrt_device_close during capture", move || {
            let st = ttrt_device_close(d as *mut ttrt_device);
            (st, last())
        });
        assert_eq!(st.0, ttrt_status::Success, "{}", st.1);
        assert_eq!(ttrt_finish(dev, 0), ttrt_status::InvalidArgument);
        assert!(last().contains("already been freed"), "{}", last());
        for t in [a, warm, captured] {
            ttrt_tensor_free(t);
        }
    }
}

/// Not a check: measures how long a waiter takes to return once finish is called, next to an
/// event round trip on a device in the same run. Run with
/// `cargo test --release --test backend measure_the_wake_up_of_a_waiter -- --ignored --nocapture`.
#[test]
#[ignore]
fn measure_the_wake_up_of_a_waiter() {
    use std::time::Instant;
    use ttrt::ffi::device::*;
    use ttrt::ffi::event::ttrt_event;
    const TRIALS: usize = 50;
    let median = |mut v: Vec<f64>| {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v[v.len() / 2]
    };
    let mut wake = Vec::new();
    let mut finish = Vec::new();
    for i in 0..TRIALS {
        let (be, qin, qout) = backend(&format!("measure-{i}"));
        let (din, dout) = (Desc(qin), Desc(qout));
        let waiter = std::thread::spawn(move || {
            let (st, _) = blocked_call(be, din.get(), dout.get(), Blocked::Get);
            (st, Instant::now())
        });
        wait_until_io_side_taken(be, &qout);
        std::thread::sleep(Duration::from_millis(2));
        let t0 = Instant::now();
        ok(unsafe { ttrt_backend_finish(be.ptr()) });
        let t1 = Instant::now();
        let (st, woke) = waiter.join().unwrap();
        assert_eq!(st, ttrt_status::Cancelled);
        wake.push((woke - t0).as_secs_f64() * 1e6);
        finish.push((t1 - t0).as_secs_f64() * 1e6);
        unsafe { ttrt_backend_free(be.ptr()) };
    }
    // Baseline: record an event on CQ 1 and synchronize on it from the host.
    let mut rtt = Vec::new();
    unsafe {
        let mut cfg = std::mem::zeroed::<ttrt_device_config>();
        ttrt_device_config_default(&mut cfg);
        cfg.num_command_queues = 2;
        let mut dev = ptr::null_mut();
        ok(ttrt_device_open(&cfg, &mut dev));
        for _ in 0..TRIALS * 20 {
            let t0 = Instant::now();
            let mut ev = ttrt_event::default();
            ok(ttrt_record_event(dev, 1, &mut ev));
            ok(ttrt_event_synchronize(dev, &ev, -1));
            rtt.push(t0.elapsed().as_secs_f64() * 1e6);
        }
        ok(ttrt_device_close(dev));
    }
    let (w, f, r) = (median(wake), median(finish), median(rtt));
    println!(
        "finish -> blocked get_output returns CANCELLED: median {w:.1} us; finish returns: median \
         {f:.1} us; event round trip (record + synchronize, CQ 1): median {r:.1} us; wake-up = \
         {:.1}x the event round trip ({TRIALS} trials)",
        w / r
    );
}

mod pipeline_free {
    //! ttrt_pipeline_free while another thread is inside a call on the pipeline: free waits
    //! for that call to end, then frees (it used to refuse, leaving the pipeline allocated).

    use super::*;
    use std::ffi::c_void;
    use std::sync::atomic::{AtomicBool, Ordering};
    use ttrt::ffi::device::*;
    use ttrt::ffi::pipeline::*;
    use ttrt::ffi::tensor::*;

    struct Gate {
        hold: AtomicBool,
        entered: AtomicBool,
        open: AtomicBool,
    }

    unsafe extern "C" fn model(
        user: *mut c_void,
        dev: *mut ttrt_device,
        cq: u8,
        input: *mut ttrt_tensor,
        output: *mut *mut ttrt_tensor,
    ) -> u32 {
        let gate = &*(user as *const Gate);
        if gate.hold.load(Ordering::Acquire) {
            gate.entered.store(true, Ordering::Release);
            while !gate.open.load(Ordering::Acquire) {
                std::thread::sleep(Duration::from_micros(100));
            }
        }
        let l1 = ttrt_memory_config {
            buffer_type: ttrt_buffer_type::L1 as u32,
            memory_layout: ttrt_memory_layout::Interleaved as u32,
            shard: ttrt_shard_spec::default(),
        };
        ttrt_op_unary(dev, cq, ttrt_unary_op::Relu as u32, input, &l1, output) as u32
    }

    fn until(what: &str, ready: impl Fn() -> bool) {
        let start = std::time::Instant::now();
        while !ready() {
            assert!(
                start.elapsed() < WATCHDOG,
                "{what} never happened: it hangs"
            );
            std::thread::sleep(Duration::from_micros(100));
        }
    }

    #[test]
    fn free_waits_for_a_call_of_another_thread_then_frees() {
        let gate: &'static Gate = Box::leak(Box::new(Gate {
            hold: AtomicBool::new(false),
            entered: AtomicBool::new(false),
            open: AtomicBool::new(false),
        }));
        unsafe {
            let mut dev = ptr::null_mut();
            ok(ttrt_device_open(ptr::null(), &mut dev));
            let mut cfg = std::mem::zeroed::<ttrt_pipeline_config>();
            ttrt_pipeline_config_default(&mut cfg);
            cfg.use_trace = false;
            let l1 = ttrt_memory_config {
                buffer_type: ttrt_buffer_type::L1 as u32,
                memory_layout: ttrt_memory_layout::HeightSharded as u32,
                shard: ttrt_shard_spec {
                    grid: ttrt_core_range {
                        start_x: 0,
                        start_y: 0,
                        end_x: 0,
                        end_y: 0,
                    },
                    shape: [32, 32],
                    orientation: ttrt_shard_orientation::RowMajor as u32,
                },
            };
            let mut p = ptr::null_mut();
            ok(ttrt_pipeline_create(
                dev,
                &cfg,
                Some(model),
                gate as *const Gate as *mut c_void,
                &l1,
                ptr::null(),
                ptr::null(),
                &mut p,
            ));
            let mut bits: Vec<u16> = (0..32 * 32).map(|i| 0x3f80 + i as u16 % 64).collect();
            let sample = ttrt_host_tensor {
                data: bits.as_mut_ptr().cast(),
                size: bits.len() * 2,
                shape: [1, 1, 32, 32],
                format: 5,
                layout: ttrt_tensor_layout::RowMajor as u32,
            };
            ok(ttrt_pipeline_compile(p, &sample));
            gate.hold.store(true, Ordering::Release);
            let (pp, input) = (p as usize, (bits.as_mut_ptr() as usize, bits.len()));
            let (ok_p, done) = (pp, mpsc::channel());
            let tx = done.0;
            std::thread::spawn(move || {
                let sample = ttrt_host_tensor {
                    data: input.0 as *mut c_void,
                    size: input.1 * 2,
                    shape: [1, 1, 32, 32],
                    format: 5,
                    layout: ttrt_tensor_layout::RowMajor as u32,
                };
                let st = ttrt_pipeline_enqueue(ok_p as *mut ttrt_pipeline, &sample, 1);
                let _ = tx.send((st, last()));
            });
            until("the model callback's start", || {
                gate.entered.load(Ordering::Acquire)
            });
            let (tx, freed) = mpsc::channel();
            std::thread::spawn(move || {
                ttrt_pipeline_free(pp as *mut ttrt_pipeline);
                let _ = tx.send(());
            });
            // Free has begun: the handle is refused from now on.
            until("the start of free", || {
                ttrt_pipeline_executor(pp as *const ttrt_pipeline).is_null()
            });
            gate.open.store(true, Ordering::Release);
            let (st, text) = done
                .1
                .recv_timeout(WATCHDOG)
                .expect("the enqueue in progress never returned");
            assert_eq!(st, ttrt_status::Success, "{text}");
            freed
                .recv_timeout(WATCHDOG)
                .expect("ttrt_pipeline_free never returned");
            assert!(ttrt_pipeline_executor(p).is_null());
            assert!(last().contains("already been freed"), "{}", last());
            ok(ttrt_device_close(dev));
            drop(bits);
        }
    }
}
