//! The device rules of DESIGN.md §3 ("Command queues and events", "Traces", "Allocator and
//! tensors"), one test per rule, on the simulated chip driven by a worker thread per CQ (as the
//! C API opens it). Expected values are computed on the host; texts are upstream's.

use crate::support::served;

use served::Dev;
use ttrt::compute::{BinaryOp, UnaryOp};
use ttrt::format::{Arch, DataFormat};
use ttrt::hal::layout::{CoreRange, MemoryLayout, ShardOrientation, ShardSpec, TensorLayout};
use ttrt::hal::select::{device_from_env, AnyChip};
use ttrt::runtime::allocator::BufferType;
use ttrt::runtime::{
    Device, DeviceConfig, ErrorKind, HostBuffer, MemoryConfig, Tensor, TensorSpec,
};

fn open(cqs: u8, trace_region_size: u64) -> Dev {
    let config = DeviceConfig {
        num_command_queues: cqs,
        trace_region_size,
        ..DeviceConfig::default()
    };
    Dev::serve(config)
}

const SHAPE: [u32; 4] = [1, 1, 64, 64];
const N: usize = 64 * 64;

fn spec() -> TensorSpec {
    TensorSpec {
        shape: SHAPE,
        format: DataFormat::Float16B,
        layout: TensorLayout::Tile,
    }
}

/// A float32 row-major host buffer over `data`.
fn host(data: &mut [f32], shape: [u32; 4]) -> HostBuffer {
    let shape = shape.map(|d| d as usize);
    HostBuffer {
        ptr: data.as_mut_ptr().cast(),
        len: data.len() * 4,
        format: DataFormat::Float32,
        shape,
        strides: [
            shape[1] * shape[2] * shape[3] * 4,
            shape[2] * shape[3] * 4,
            shape[3] * 4,
            4,
        ],
        tiled: false,
    }
}

/// Values exactly representable in bfloat16, distinct per `seed`.
fn values(seed: usize) -> Vec<f32> {
    (0..N)
        .map(|k| ((k * 7 + seed * 13) % 64) as f32 * 0.25 - 8.0)
        .collect()
}

fn write(d: &Device<AnyChip>, cq: u8, t: &Tensor, data: &[f32], blocking: bool) {
    let mut copy = data.to_vec();
    d.write_tensor(cq, &host(&mut copy, t.spec().shape), t, blocking)
        .unwrap();
}

fn read(d: &Device<AnyChip>, cq: u8, t: &Tensor) -> Vec<f32> {
    let mut out = vec![f32::NAN; t.spec().shape.iter().product::<u32>() as usize];
    // SAFETY: blocking: `out` is filled before the call returns.
    unsafe { d.read_tensor(cq, t, host(&mut out, t.spec().shape), true) }.unwrap();
    out
}

/// What the device stores for `x` in Float16_b: the top 16 bits (Buda truncates).
fn bf16(x: f32) -> f32 {
    f32::from_bits(x.to_bits() & 0xffff_0000)
}

/// Compares without printing thousands of values: the first difference and the count.
#[track_caller]
fn assert_values(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let bad: Vec<usize> = (0..got.len())
        .filter(|&i| got[i].to_bits() != want[i].to_bits() && got[i] != want[i])
        .collect();
    if let Some(&i) = bad.first() {
        panic!(
            "{what}: {} of {} values differ; first at {i}: got {}, want {}",
            bad.len(),
            got.len(),
            got[i],
            want[i]
        );
    }
}

fn dram() -> MemoryConfig {
    MemoryConfig::DRAM_INTERLEAVED
}

fn l1() -> MemoryConfig {
    MemoryConfig::L1_INTERLEAVED
}

// ------------------------------------------------------------------ command queues, events

#[test]
fn a_device_has_one_or_two_command_queues() {
    for bad in [0u8, 3] {
        let config = DeviceConfig {
            num_command_queues: bad,
            ..DeviceConfig::default()
        };
        let err = Device::new(
            config,
            AnyChip::open(&device_from_env(), Arch::WormholeB0).unwrap(),
        )
        .err()
        .expect("refused");
        assert_eq!(err.kind, ErrorKind::InvalidArgument);
        assert!(
            err.message().contains("1 or 2"),
            "message names the range: {err}"
        );
    }
    let d = open(2, 0);
    let err = d.record_event(2).unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidArgument);
    assert!(err.message().contains("CQ 2 does not exist"), "{err}");
}

#[test]
fn blocking_transfers_and_records_take_event_ids_in_order() {
    let d = open(1, 0);
    let t = d.allocate_tensor(&spec(), &dram()).unwrap();
    let data = values(1);
    for _ in 0..50 {
        write(&d, 0, &t, &data, true); // ids 1, 3, 5, ...
        assert_eq!(read(&d, 0, &t), data); // ids 2, 4, 6, ...
    }
    // 100 blocking transfers used ids 1..=100; the next record is 101.
    assert_eq!(d.record_event(0).unwrap().id, 101);
    d.finish(0).unwrap(); // 102
    assert_eq!(d.record_event(0).unwrap().id, 103);
}

#[test]
fn event_ids_stay_in_order_across_ring_wraps() {
    let d = open(1, 0);
    let records = 100_000u32;
    assert!(records > 50 * ttrt::runtime::RING_RECORDS);
    for i in 0..records {
        let ev = d.record_event(0).unwrap();
        assert_eq!(ev.id, i + 1);
        assert_eq!(ev.cq_id, 0);
    }
    d.finish(0).unwrap();
    let last = ttrt::runtime::Event {
        device_id: 0,
        cq_id: 0,
        id: records,
    };
    assert!(d.event_query(&last).unwrap());
}

#[test]
fn each_cq_counts_event_ids_from_one() {
    let d = open(2, 0);
    assert_eq!(d.record_event(0).unwrap().id, 1);
    assert_eq!(d.record_event(0).unwrap().id, 2);
    assert_eq!(d.record_event(1).unwrap().id, 1);
    assert_eq!(d.record_event(0).unwrap().id, 3);
    assert_eq!(d.record_event(1).unwrap().id, 2);
}

#[test]
fn waits_take_no_event_id() {
    let d = open(2, 0);
    let e = d.record_event(1).unwrap();
    d.wait_for_event(0, &e).unwrap();
    d.wait_for_event(0, &e).unwrap();
    assert_eq!(d.record_event(0).unwrap().id, 1);
}

#[test]
fn waiting_on_an_event_never_recorded_is_rejected() {
    let d = open(2, 0);
    let e = d.record_event(1).unwrap();
    let never = ttrt::runtime::Event { id: e.id + 1, ..e };
    let err = d.wait_for_event(0, &never).unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidArgument);
    assert!(err.message().contains("never recorded"), "{err}");
    let err = d.event_synchronize(&never, -1).unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidArgument);
    // A query of an id never issued is refused as well: it could never complete.
    let err = d.event_query(&never).unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidArgument);
    let zero = ttrt::runtime::Event { id: 0, ..e };
    assert!(d.wait_for_event(0, &zero).is_err());
}

/// Ids are accepted only from 1 to the last recorded one: ids far ahead of it are not "in
/// the past" by wrapping arithmetic.
#[test]
fn ids_beyond_the_last_recorded_are_refused_by_query_wait_and_synchronize() {
    let d = open(2, 0);
    let e = d.record_event(0).unwrap();
    assert_eq!(e.id, 1);
    d.event_synchronize(&e, -1).unwrap();
    for id in [0xFFFF_FFFF_u32, 0x8000_0002, 2] {
        let bad = ttrt::runtime::Event { id, ..e };
        let expected = format!(
            "event {id} on CQ 0 of device 0 was never recorded (the last recorded id is 1)"
        );
        let err = d.event_query(&bad).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidArgument);
        assert_eq!(err.message(), expected);
        let err = d.wait_for_event(1, &bad).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidArgument);
        assert_eq!(err.message(), expected);
        let err = d.event_synchronize(&bad, 0).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidArgument);
        assert_eq!(err.message(), expected);
    }
    assert!(d.event_query(&e).unwrap());
}

/// The event poll times the cross-CQ tests run with: none (a waiting worker sleeps at once)
/// and a pinned worker's (it polls first).
const EVENT_POLLS: [u32; 2] = [0, ttrt::affinity::PINNED_EVENT_POLL_US];

#[test]
fn a_cross_cq_wait_orders_the_waiting_cq_after_the_event() {
    for poll in EVENT_POLLS {
        let d = open(2, 0);
        d.set_event_poll(poll);
        a_cross_cq_wait_orders_the_waiting_cq_after_the_event_on(&d);
    }
}

fn a_cross_cq_wait_orders_the_waiting_cq_after_the_event_on(d: &Dev) {
    let big = TensorSpec {
        shape: [1, 4, 256, 256],
        ..spec()
    };
    let t = d.allocate_tensor(&big, &dram()).unwrap();
    let n = 4 * 256 * 256;
    let data: Vec<f32> = (0..n).map(|k| (k % 97) as f32).collect();
    for round in 0..5 {
        let fill: Vec<f32> = data.iter().map(|v| v + round as f32).collect();
        // A large write on CQ 1, then a read on CQ 0 that waits for it.
        let mut copy = fill.clone();
        d.write_tensor(1, &host(&mut copy, big.shape), &t, false)
            .unwrap();
        let written = d.record_event(1).unwrap();
        d.wait_for_event(0, &written).unwrap();
        let mut out = vec![0f32; n];
        // SAFETY: blocking read.
        unsafe { d.read_tensor(0, &t, host(&mut out, big.shape), true) }.unwrap();
        assert_eq!(out, fill, "round {round}");
    }
}

#[test]
fn write_after_read_ping_pong_across_cqs_on_one_buffer() {
    // CQ 1 writes, CQ 0 reads, alternating on one buffer; events keep each read between its
    // write and the next.
    for poll in EVENT_POLLS {
        let d = open(2, 0);
        d.set_event_poll(poll);
        ping_pong(&d);
    }
}

fn ping_pong(d: &Dev) {
    let t = d.allocate_tensor(&spec(), &dram()).unwrap();
    let rounds = 16;
    let mut outs = vec![vec![0f32; N]; rounds];
    let mut read_done = d.record_event(0).unwrap();
    for (i, out) in outs.iter_mut().enumerate() {
        d.wait_for_event(1, &read_done).unwrap();
        write(d, 1, &t, &values(i), false);
        let written = d.record_event(1).unwrap();
        d.wait_for_event(0, &written).unwrap();
        // SAFETY: `outs` outlives the synchronize below.
        unsafe { d.read_tensor(0, &t, host(out, SHAPE), false) }.unwrap();
        read_done = d.record_event(0).unwrap();
    }
    d.synchronize().unwrap();
    for (i, out) in outs.iter().enumerate() {
        assert_eq!(out, &values(i), "read {i} saw another write");
    }
}

#[test]
fn the_same_ping_pong_without_events_reads_stale_data() {
    // Polled, the simulated device runs CQ 0 until it is empty or stalled, then CQ 1: without
    // the events nothing holds CQ 0's read back until CQ 1's write has landed, and each read
    // sees the write before. With the events the same schedule gives every read its write.
    let d = Device::new(
        DeviceConfig {
            num_command_queues: 2,
            ..DeviceConfig::default()
        },
        AnyChip::open(&device_from_env(), Arch::WormholeB0).unwrap(),
    )
    .unwrap();
    let t = d.allocate_tensor(&spec(), &dram()).unwrap();
    write(&d, 0, &t, &values(0), true);
    for with_events in [false, true] {
        let rounds = 4;
        let mut outs = vec![vec![0f32; N]; rounds];
        let mut read_done = d.record_event(0).unwrap();
        for (i, out) in outs.iter_mut().enumerate() {
            let i = i + 1;
            if with_events {
                d.wait_for_event(1, &read_done).unwrap();
            }
            write(&d, 1, &t, &values(i), false);
            if with_events {
                let written = d.record_event(1).unwrap();
                d.wait_for_event(0, &written).unwrap();
            }
            // SAFETY: `outs` outlives the synchronize below.
            unsafe { d.read_tensor(0, &t, host(out, SHAPE), false) }.unwrap();
            read_done = d.record_event(0).unwrap();
            d.poll();
        }
        d.synchronize().unwrap();
        for (i, out) in outs.iter().enumerate() {
            let i = i + 1;
            let want = if with_events { i } else { i - 1 };
            assert_eq!(out, &values(want), "events {with_events}: read {i}");
        }
        // The next pass starts from the last write.
        write(&d, 0, &t, &values(0), true);
    }
}

#[test]
fn non_blocking_reads_and_writes_on_one_cq_are_fifo() {
    let d = open(1, 0);
    let t = d.allocate_tensor(&spec(), &dram()).unwrap();
    let mut outs = vec![vec![0f32; N]; 4];
    for (i, out) in outs.iter_mut().enumerate() {
        write(&d, 0, &t, &values(i), false);
        // SAFETY: `outs` outlives the finish below.
        unsafe { d.read_tensor(0, &t, host(out, SHAPE), false) }.unwrap();
    }
    d.finish(0).unwrap();
    for (i, out) in outs.iter().enumerate() {
        assert_eq!(out, &values(i));
    }
}

#[test]
fn non_blocking_writes_copy_the_callers_bytes_before_returning() {
    let d = open(1, 0);
    let t = d.allocate_tensor(&spec(), &dram()).unwrap();
    let mut data = values(3);
    d.write_tensor(0, &host(&mut data, SHAPE), &t, false)
        .unwrap();
    data.fill(99.0); // reused at once
    assert_eq!(read(&d, 0, &t), values(3));
}

/// A host buffer over `t`'s device pages (TILE layout, the tensor's own format).
fn pages(bytes: &mut [u8], t: &Tensor) -> HostBuffer {
    let shape = t.spec().shape.map(|d| d as usize);
    HostBuffer {
        ptr: bytes.as_mut_ptr(),
        len: bytes.len(),
        format: t.spec().format,
        shape,
        strides: [0; 4],
        tiled: true,
    }
}

#[test]
fn a_blocking_write_of_device_pages_lands_before_returning_and_in_queue_order() {
    let d = open(1, 0);
    let t = d.allocate_tensor(&spec(), &dram()).unwrap();
    // The device pages of values(2), as the device itself lays them out.
    let scratch = d.allocate_tensor(&spec(), &dram()).unwrap();
    write(&d, 0, &scratch, &values(2), true);
    let mut bytes = vec![0u8; N * 2];
    // SAFETY: blocking.
    unsafe { d.read_tensor(0, &scratch, pages(&mut bytes, &scratch), true) }.unwrap();

    write(&d, 0, &t, &values(1), false);
    let mut before = vec![0f32; N];
    // SAFETY: `before` outlives the blocking write, which completes every earlier command.
    unsafe { d.read_tensor(0, &t, host(&mut before, SHAPE), false) }.unwrap();
    d.write_tensor(0, &pages(&mut bytes, &t), &t, true).unwrap();
    bytes.fill(0xff); // the caller's memory is the caller's again
    assert_eq!(
        before,
        values(1),
        "the read queued before the write saw the write"
    );
    assert_eq!(read(&d, 0, &t), values(2));
}

#[test]
fn event_synchronize_and_query_see_completion() {
    let d = open(1, 0);
    let t = d.allocate_tensor(&spec(), &dram()).unwrap();
    write(&d, 0, &t, &values(0), false);
    let e = d.record_event(0).unwrap();
    d.event_synchronize(&e, 10_000).unwrap();
    assert!(d.event_query(&e).unwrap());
}

#[test]
fn a_device_error_surfaces_at_the_next_finish_and_the_device_stays_usable() {
    let d = open(1, 0);
    let t = d.allocate_tensor(&spec(), &dram()).unwrap();
    // reciprocal of NaN is fatal in Buda's golden model.
    let mut bad = values(0);
    bad[5] = f32::NAN;
    write(&d, 0, &t, &bad, false);
    let out = d.unary(0, UnaryOp::Reciprocal, &t, &dram()).unwrap();
    let err = d.finish(0).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Device);
    assert!(err.message().contains("reciprocal"), "{err}");
    // Reported once; the device keeps working.
    d.finish(0).unwrap();
    write(&d, 0, &t, &values(1), true);
    let ok = d.unary(0, UnaryOp::Relu, &t, &dram()).unwrap();
    let expect: Vec<f32> = values(1).iter().map(|v| v.max(0.0)).collect();
    assert_eq!(read(&d, 0, &ok), expect);
    let _ = out;
}

// ------------------------------------------------------------------ traces

/// Warms up and captures `ops` relu ops chained on `input`; returns the trace id and the
/// trace's output.
fn capture_chain(d: &Device<AnyChip>, input: &Tensor, ops: usize) -> (u32, Tensor) {
    let run = |d: &Device<AnyChip>| {
        let mut x = d.unary(0, UnaryOp::Relu, input, &l1()).unwrap();
        for _ in 1..ops {
            let mut y = d.unary(0, UnaryOp::Relu, &x, &l1()).unwrap();
            std::mem::swap(&mut x, &mut y);
            d.deallocate(&mut y, true).unwrap();
        }
        x
    };
    let mut warm = run(d);
    d.finish(0).unwrap();
    d.deallocate(&mut warm, true).unwrap();
    let tid = d.begin_trace_capture(0).unwrap();
    let out = run(d);
    d.end_trace_capture(0, tid).unwrap();
    (tid, out)
}

#[test]
fn trace_replays_rerun_the_captured_programs_on_new_inputs() {
    let d = open(1, 1 << 20);
    let input = d.allocate_tensor(&spec(), &dram()).unwrap();
    write(&d, 0, &input, &values(0), true);
    let (tid, out) = capture_chain(&d, &input, 3);
    for i in 0..6 {
        write(&d, 0, &input, &values(i), false);
        d.execute_trace(0, tid, false).unwrap();
        let expect: Vec<f32> = values(i).iter().map(|v| v.max(0.0)).collect();
        assert_eq!(read(&d, 0, &out), expect, "replay {i}");
    }
    // The same input replayed in a loop gives identical outputs.
    let first = read(&d, 0, &out);
    for _ in 0..5 {
        d.execute_trace(0, tid, true).unwrap();
        assert_eq!(read(&d, 0, &out), first);
    }
    d.release_trace(tid).unwrap();
}

#[test]
fn capture_executes_nothing() {
    let d = open(1, 1 << 20);
    let input = d.allocate_tensor(&spec(), &dram()).unwrap();
    write(&d, 0, &input, &values(2), true);
    let mut warm = d.unary(0, UnaryOp::Neg, &input, &dram()).unwrap();
    d.deallocate(&mut warm, true).unwrap();
    let marker = d.allocate_tensor(&spec(), &dram()).unwrap();
    write(&d, 0, &marker, &vec![7.0; N], true);
    let mut m = marker;
    d.deallocate(&mut m, true).unwrap();
    // The captured op's output lands where the marker was: it keeps the marker's bytes until
    // a replay.
    let tid = d.begin_trace_capture(0).unwrap();
    let out = d.unary(0, UnaryOp::Neg, &input, &dram()).unwrap();
    d.end_trace_capture(0, tid).unwrap();
    assert_eq!(out.address(), marker.address());
    assert_eq!(read(&d, 0, &out), vec![7.0; N]);
    d.execute_trace(0, tid, true).unwrap();
    let expect: Vec<f32> = values(2).iter().map(|v| -v).collect();
    assert_eq!(read(&d, 0, &out), expect);
}

#[test]
fn two_traces_on_one_cq() {
    let d = open(1, 1 << 20);
    let input = d.allocate_tensor(&spec(), &dram()).unwrap();
    write(&d, 0, &input, &values(4), true);
    let (relu_tid, relu_out) = capture_chain(&d, &input, 1);
    let mut warm = d.unary(0, UnaryOp::Square, &input, &dram()).unwrap();
    d.finish(0).unwrap();
    d.deallocate(&mut warm, true).unwrap();
    let sq_tid = d.begin_trace_capture(0).unwrap();
    let sq_out = d.unary(0, UnaryOp::Square, &input, &dram()).unwrap();
    d.end_trace_capture(0, sq_tid).unwrap();
    assert_ne!(relu_tid, sq_tid);
    d.execute_trace(0, sq_tid, false).unwrap();
    d.execute_trace(0, relu_tid, false).unwrap();
    d.finish(0).unwrap();
    let v = values(4);
    assert_eq!(
        read(&d, 0, &relu_out),
        v.iter().map(|x| x.max(0.0)).collect::<Vec<_>>()
    );
    assert_values(
        &read(&d, 0, &sq_out),
        &v.iter().map(|x| bf16(x * x)).collect::<Vec<_>>(),
        "square",
    );
    d.release_trace(relu_tid).unwrap();
    d.release_trace(sq_tid).unwrap();
}

#[test]
fn trace_region_overflow_message_gives_the_size_needed() {
    let d = open(1, 4096);
    let input = d.allocate_tensor(&spec(), &dram()).unwrap();
    // 9 programs of 512 B each: 4608 B, rounded up to whole 1024 B pages: 5120 B.
    let mut warm = d.unary(0, UnaryOp::Relu, &input, &l1()).unwrap();
    d.deallocate(&mut warm, true).unwrap();
    let tid = d.begin_trace_capture(0).unwrap();
    let mut outs = Vec::new();
    for _ in 0..9 {
        outs.push(d.unary(0, UnaryOp::Relu, &input, &l1()).unwrap());
    }
    let err = d.end_trace_capture(0, tid).unwrap_err();
    assert_eq!(
        err.message(),
        "Creating trace buffers of size 5120B on device 0, but only 4096B is allocated for trace region."
    );
    // The capture is over; a smaller one fits: 8 programs, exactly 4096 B.
    let tid = d.begin_trace_capture(0).unwrap();
    for _ in 0..8 {
        outs.push(d.unary(0, UnaryOp::Relu, &input, &l1()).unwrap());
    }
    d.end_trace_capture(0, tid).unwrap();
    // And nothing more fits while it lives.
    let tid2 = d.begin_trace_capture(0).unwrap();
    outs.push(d.unary(0, UnaryOp::Relu, &input, &l1()).unwrap());
    let err = d.end_trace_capture(0, tid2).unwrap_err();
    assert_eq!(
        err.message(),
        "Creating trace buffers of size 1024B on device 0, but only 4096B is allocated for trace region."
    );
    d.release_trace(tid).unwrap();
}

#[test]
fn capture_refuses_reads_writes_and_events() {
    let d = open(1, 1 << 20);
    let t = d.allocate_tensor(&spec(), &dram()).unwrap();
    let tid = d.begin_trace_capture(0).unwrap();
    let mut data = values(0);
    let err = d
        .write_tensor(0, &host(&mut data, SHAPE), &t, false)
        .unwrap_err();
    assert_eq!(
        (err.kind, err.message()),
        (
            ErrorKind::InvalidState,
            "Writes are not supported during trace capture."
        )
    );
    // SAFETY: refused before anything is queued.
    let err = unsafe { d.read_tensor(0, &t, host(&mut data, SHAPE), false) }.unwrap_err();
    assert_eq!(
        (err.kind, err.message()),
        (
            ErrorKind::InvalidState,
            "Reads are not supported during trace capture."
        )
    );
    let events = "Event Synchronization is not supported during trace capture.";
    assert_eq!(d.record_event(0).unwrap_err().message(), events);
    let other = ttrt::runtime::Event {
        device_id: 0,
        cq_id: 0,
        id: 1,
    };
    assert_eq!(d.wait_for_event(0, &other).unwrap_err().message(), events);
    let err = d.begin_trace_capture(0).unwrap_err();
    assert_eq!(
        err.message(),
        format!("CQ 0 is already being used for tracing tid {tid}")
    );
    let err = d.end_trace_capture(0, tid + 1).unwrap_err();
    assert_eq!(
        err.message(),
        format!("CQ 0 is not being used for tracing tid {}", tid + 1)
    );
    d.end_trace_capture(0, tid).unwrap();
    let err = d.execute_trace(0, tid + 1000, false).unwrap_err();
    assert_eq!(
        err.message(),
        format!("Trace instance {} must exist on device 0", tid + 1000)
    );
}

#[test]
fn only_programs_in_the_program_cache_can_be_captured() {
    let d = open(1, 1 << 20);
    let t = d.allocate_tensor(&spec(), &dram()).unwrap();
    let tid = d.begin_trace_capture(0).unwrap();
    let err = d.unary(0, UnaryOp::Exp, &t, &dram()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidState);
    assert!(
        err.message().contains(
            "This program is not yet in program cache. Warm up before capturing a trace."
        ),
        "{err}"
    );
    d.end_trace_capture(0, tid).unwrap();
    // Warmed up, the same program is captured; another memory config is another program.
    let _warm = d.unary(0, UnaryOp::Exp, &t, &dram()).unwrap();
    let tid = d.begin_trace_capture(0).unwrap();
    d.unary(0, UnaryOp::Exp, &t, &dram()).unwrap();
    assert!(d.unary(0, UnaryOp::Exp, &t, &l1()).is_err());
    d.end_trace_capture(0, tid).unwrap();
}

#[test]
fn allocating_while_a_trace_lives_warns_once() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static WARNINGS: AtomicUsize = AtomicUsize::new(0);
    struct Count;
    impl log::Log for Count {
        fn enabled(&self, _: &log::Metadata<'_>) -> bool {
            true
        }
        fn log(&self, r: &log::Record<'_>) {
            if r.level() == log::Level::Warn
                && r.args().to_string()
                    == "Allocating device buffers is unsafe due to the existence of an active trace. These buffers may be corrupted once a trace is executed."
            {
                WARNINGS.fetch_add(1, Ordering::SeqCst);
            }
        }
        fn flush(&self) {}
    }
    log::set_logger(&Count).unwrap();
    log::set_max_level(log::LevelFilter::Warn);
    let d = open(1, 1 << 20);
    let input = d.allocate_tensor(&spec(), &dram()).unwrap();
    assert_eq!(WARNINGS.load(Ordering::SeqCst), 0);
    let (tid, _out) = capture_chain(&d, &input, 2);
    assert_eq!(
        WARNINGS.load(Ordering::SeqCst),
        0,
        "allocations during capture are fine"
    );
    let _a = d.allocate_tensor(&spec(), &dram()).unwrap();
    let _b = d.allocate_tensor(&spec(), &dram()).unwrap();
    assert_eq!(WARNINGS.load(Ordering::SeqCst), 1);
    d.release_trace(tid).unwrap();
    let _c = d.allocate_tensor(&spec(), &dram()).unwrap();
    assert_eq!(WARNINGS.load(Ordering::SeqCst), 1, "no trace lives");
}

// ------------------------------------------------------------------ allocator and tensors

#[test]
fn freeing_an_output_then_allocating_the_same_spec_gives_the_same_address() {
    let d = open(1, 0);
    let input = d.allocate_tensor(&spec(), &dram()).unwrap();
    for mem in [dram(), l1()] {
        let mut out = d.unary(0, UnaryOp::Relu, &input, &mem).unwrap();
        let addr = out.address();
        d.deallocate(&mut out, true).unwrap();
        let again = d.allocate_tensor(&spec(), &mem).unwrap();
        assert_eq!(again.address(), addr, "{mem:?}");
    }
}

#[test]
fn dram_grows_up_and_l1_grows_down() {
    let d = open(1, 0);
    let a = d.allocate_tensor(&spec(), &dram()).unwrap();
    let b = d.allocate_tensor(&spec(), &dram()).unwrap();
    assert!(b.address() > a.address());
    let x = d.allocate_tensor(&spec(), &l1()).unwrap();
    let y = d.allocate_tensor(&spec(), &l1()).unwrap();
    assert!(y.address() < x.address());
}

#[test]
fn out_of_memory_names_the_size_type_and_banks() {
    let d = open(1, 0);
    // 16 x 4096 x 512 float32 = 32768 tiles of 4096 B over 64 L1 banks: 512 tiles, 2 MiB per
    // bank, more than a core's 1464 KiB of L1.
    let big = TensorSpec {
        shape: [1, 16, 4096, 512],
        format: DataFormat::Float32,
        layout: TensorLayout::Tile,
    };
    let err = d.allocate_tensor(&big, &l1()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::OutOfMemory);
    assert_eq!(
        err.message(),
        "Out of Memory: Not enough space to allocate 134217728 B L1 buffer across 64 banks, where each bank needs to store 2097152 B"
    );
}

#[test]
fn sharded_tensors_round_trip_through_every_layout() {
    let d = open(1, 0);
    let shape = [1, 1, 128, 128];
    let s = TensorSpec { shape, ..spec() };
    let data: Vec<f32> = (0..128 * 128).map(|k| (k % 251) as f32 - 125.0).collect();
    let shard = |h, w, end: (u32, u32)| ShardSpec {
        grid: CoreRange { start: (0, 0), end },
        shape: [h, w],
        orientation: ShardOrientation::RowMajor,
    };
    let configs = [
        MemoryConfig {
            buffer_type: BufferType::Dram,
            memory_layout: MemoryLayout::HeightSharded,
            shard: Some(shard(64, 128, (1, 0))),
        },
        MemoryConfig {
            buffer_type: BufferType::L1,
            memory_layout: MemoryLayout::HeightSharded,
            shard: Some(shard(32, 128, (3, 0))),
        },
        MemoryConfig {
            buffer_type: BufferType::L1,
            memory_layout: MemoryLayout::WidthSharded,
            shard: Some(shard(128, 64, (1, 0))),
        },
        MemoryConfig {
            buffer_type: BufferType::L1,
            memory_layout: MemoryLayout::BlockSharded,
            shard: Some(shard(64, 64, (1, 1))),
        },
        l1(),
    ];
    let src = d.allocate_tensor(&s, &dram()).unwrap();
    write(&d, 0, &src, &data, true);
    let mut prev = src;
    for mem in &configs {
        let next = d.to_memory_config(0, &prev, mem).unwrap();
        assert_eq!(read(&d, 0, &next), data, "{mem:?}");
        prev = next;
    }
    // reshard in place back into the DRAM tensor.
    write(&d, 0, &src, &vec![0.0; 128 * 128], true);
    d.reshard(0, &prev, &src).unwrap();
    assert_eq!(read(&d, 0, &src), data);
}

#[test]
fn matmul_matches_a_host_reference() {
    let d = open(1, 0);
    let (m, k, n) = (64usize, 96usize, 32usize);
    let a_vals: Vec<f32> = (0..m * k)
        .map(|i| ((i * 3) % 17) as f32 * 0.5 - 4.0)
        .collect();
    let b_vals: Vec<f32> = (0..k * n)
        .map(|i| ((i * 5) % 13) as f32 * 0.25 - 1.5)
        .collect();
    let fs = |shape| TensorSpec {
        shape,
        format: DataFormat::Float32,
        layout: TensorLayout::Tile,
    };
    let a = d
        .allocate_tensor(&fs([1, 1, m as u32, k as u32]), &dram())
        .unwrap();
    let b = d
        .allocate_tensor(&fs([1, 1, k as u32, n as u32]), &dram())
        .unwrap();
    write(&d, 0, &a, &a_vals, false);
    write(&d, 0, &b, &b_vals, false);
    let c = d.matmul(0, &a, &b, &l1()).unwrap();
    let got = read(&d, 0, &c);
    // Small multiples of 1/4: every product and partial sum is exact in float32.
    for i in 0..m {
        for j in 0..n {
            let want: f64 = (0..k)
                .map(|l| a_vals[i * k + l] as f64 * b_vals[l * n + j] as f64)
                .sum();
            assert_eq!(got[i * n + j] as f64, want, "c[{i}][{j}]");
        }
    }
}

#[test]
fn binary_ops_match_the_host() {
    let d = open(1, 0);
    let a = d.allocate_tensor(&spec(), &dram()).unwrap();
    let b = d.allocate_tensor(&spec(), &dram()).unwrap();
    write(&d, 0, &a, &values(1), false);
    write(&d, 0, &b, &values(5), false);
    let (va, vb) = (values(1), values(5));
    for (op, f) in [
        (BinaryOp::Add, (|x, y| x + y) as fn(f32, f32) -> f32),
        (BinaryOp::Subtract, |x, y| x - y),
        (BinaryOp::Maximum, |x: f32, y: f32| x.max(y)),
        (BinaryOp::Multiply, |x, y| x * y),
    ] {
        let c = d.binary(0, op, &a, &b, &l1()).unwrap();
        let want: Vec<f32> = va.iter().zip(&vb).map(|(x, y)| bf16(f(*x, *y))).collect();
        assert_values(&read(&d, 0, &c), &want, &format!("{op:?}"));
    }
}

#[test]
fn a_deallocated_tensor_is_refused() {
    let d = open(1, 0);
    let mut t = d.allocate_tensor(&spec(), &dram()).unwrap();
    d.deallocate(&mut t, true).unwrap();
    let err = d.unary(0, UnaryOp::Relu, &t, &dram()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidState);
    assert!(d.deallocate(&mut t, true).is_err());
}

/// The C API's last error text on this thread.
fn message() -> String {
    // SAFETY: the library keeps the text valid until the next failure on this thread.
    unsafe { std::ffi::CStr::from_ptr(ttrt::ffi::error::ttrt_last_error_message()) }
        .to_string_lossy()
        .into_owned()
}

/// A `SHAPE` Float16_b TILE tensor in DRAM, through the C API.
fn c_tensor(dev: *mut ttrt::ffi::device::ttrt_device) -> *mut ttrt::ffi::tensor::ttrt_tensor {
    use ttrt::ffi::tensor::*;
    let spec = ttrt_tensor_spec {
        shape: SHAPE,
        format: 5,
        layout: 0,
    };
    let mut t = std::ptr::null_mut();
    // SAFETY: `dev` is an open device; the arguments are valid.
    let status = unsafe {
        ttrt_allocate_tensor_on_device(dev, &spec, &ttrt_memory_config::default(), &mut t)
    };
    assert_eq!(
        status,
        ttrt::ffi::status::ttrt_status::Success,
        "{}",
        message()
    );
    t
}

#[test]
fn use_after_close_is_rejected() {
    use ttrt::ffi::device::*;
    use ttrt::ffi::status::ttrt_status;
    use ttrt::ffi::tensor::*;
    unsafe {
        let mut dev = std::ptr::null_mut();
        assert_eq!(
            ttrt_device_open(std::ptr::null(), &mut dev),
            ttrt_status::Success
        );
        let t = c_tensor(dev);
        assert_eq!(ttrt_device_close(dev), ttrt_status::Success);
        assert_eq!(ttrt_finish(dev, 0), ttrt_status::InvalidArgument);
        assert!(message().contains("freed"), "{}", message());
        assert_eq!(ttrt_tensor_deallocate(t, true), ttrt_status::InvalidState);
        assert!(message().contains("device 0 is closed"), "{}", message());
        ttrt_tensor_free(t);
        assert_eq!(
            ttrt_tensor_deallocate(t, true),
            ttrt_status::InvalidArgument
        );
        // Closing twice: the handle is gone.
        assert_eq!(ttrt_device_close(dev), ttrt_status::InvalidArgument);
    }
}

#[test]
fn a_device_opened_in_the_callers_arena_keeps_its_memory_there() {
    use ttrt::ffi::device::*;
    use ttrt::ffi::status::ttrt_status;
    use ttrt::ffi::tensor::*;
    let mut cfg: ttrt_device_config = unsafe { std::mem::zeroed() };
    unsafe { ttrt_device_config_default(&mut cfg) };
    cfg.cq_data_size = 1 << 20;
    let mut dev = std::ptr::null_mut();

    // Too small for Wormhole's L1 (64 cores x 1464 KiB): refused, naming what it needs.
    let mut small = vec![0u8; 8 << 20];
    cfg.arena = small.as_mut_ptr().cast();
    cfg.arena_size = small.len() as u64;
    assert_eq!(
        unsafe { ttrt_device_open(&cfg, &mut dev) },
        ttrt_status::InvalidArgument
    );
    assert!(
        message().contains("too small for Wormhole"),
        "{}",
        message()
    );
    cfg.arena = std::ptr::null_mut();
    assert_eq!(
        unsafe { ttrt_device_open(&cfg, &mut dev) },
        ttrt_status::InvalidArgument
    );
    assert!(message().contains("cfg->arena is NULL"), "{}", message());

    // A config of the size before the arena fields: they are not read (this pair would be
    // refused), and the device opens on its own memory.
    cfg.arena_size = 5;
    cfg.struct_size = 40;
    assert_eq!(
        unsafe { ttrt_device_open(&cfg, &mut dev) },
        ttrt_status::Success,
        "{}",
        message()
    );
    assert_eq!(unsafe { ttrt_device_close(dev) }, ttrt_status::Success);
    cfg.struct_size = std::mem::size_of::<ttrt_device_config>() as u32;

    // Zeroed pages, mapped when first touched: only what the device writes becomes nonzero.
    let mut arena = vec![0u8; 128 << 20];
    cfg.arena = arena.as_mut_ptr().cast();
    cfg.arena_size = arena.len() as u64;
    unsafe {
        assert_eq!(ttrt_device_open(&cfg, &mut dev), ttrt_status::Success);
        let mem = ttrt_memory_config::default();
        let t = c_tensor(dev);
        let mut x = values(5);
        let host = |data: &mut [f32]| ttrt_host_tensor {
            data: data.as_mut_ptr().cast(),
            size: data.len() * 4,
            shape: SHAPE,
            format: 0,
            layout: 1,
        };
        assert_eq!(
            ttrt_copy_host_to_device_tensor(dev, 0, &host(&mut x), t, true),
            ttrt_status::Success,
            "{}",
            message()
        );
        let mut y = std::ptr::null_mut();
        assert_eq!(
            ttrt_op_unary(dev, 0, 1, t, &mem, &mut y),
            ttrt_status::Success
        );
        let mut got = vec![f32::NAN; N];
        assert_eq!(
            ttrt_copy_device_to_host_tensor(dev, 0, y, &mut host(&mut got), true),
            ttrt_status::Success,
            "{}",
            message()
        );
        let want: Vec<f32> = values(5).iter().map(|&v| bf16(v.max(0.0))).collect();
        assert_values(&got, &want, "relu in the arena");
        // The input's Float16_b tiles are in the chip's part of the arena (after the host
        // memory, where the write passed through the data ring): 16 bytes of its first row.
        let row: Vec<u8> = values(5)[..8]
            .iter()
            .flat_map(|v| ((v.to_bits() >> 16) as u16).to_le_bytes())
            .collect();
        let host_part = Device::<AnyChip>::sysmem_size_for(
            &DeviceConfig {
                cq_data_size: 1 << 20,
                ..DeviceConfig::default()
            },
            &ttrt::hal::ChipGeometry::of(Arch::WormholeB0),
        ) + arena.as_ptr().align_offset(64);
        assert!(
            arena[host_part..]
                .windows(row.len())
                .any(|w| w == row.as_slice()),
            "the input's pages are not in the chip's part of the arena"
        );
        ttrt_tensor_free(y);
        ttrt_tensor_free(t);
        assert_eq!(ttrt_device_close(dev), ttrt_status::Success);
    }
    drop(arena);
}

/// The CPUs a thread of this process may run on (`task`: its id, or `None` for the calling
/// thread), as Linux lists them in the thread's status ("0-1", "3").
#[cfg(target_os = "linux")]
fn cpus_allowed(task: Option<&str>) -> String {
    let path = match task {
        Some(task) => format!("/proc/self/task/{task}/status"),
        None => "/proc/thread-self/status".to_string(),
    };
    let status = std::fs::read_to_string(path).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .map(|l| l.trim().to_string())
        .unwrap()
}

/// The ids of this process's threads named `name`.
#[cfg(target_os = "linux")]
fn threads_named(name: &str) -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|e| {
            let task = e.ok()?.file_name().into_string().ok()?;
            let comm = std::fs::read_to_string(format!("/proc/self/task/{task}/comm")).ok()?;
            (comm.trim() == name).then_some(task)
        })
        .collect()
}

/// The ids of the threads named `name`, once there are any (a new thread names itself when it
/// starts): at most 10 s.
#[cfg(target_os = "linux")]
fn started(name: &str) -> Vec<String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let tasks = threads_named(name);
        if !tasks.is_empty() || std::time::Instant::now() > deadline {
            return tasks;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// The CPUs this thread may use, from the kernel's own list, with the first and the last.
#[cfg(target_os = "linux")]
fn allowed_cpus() -> (String, u32, u32) {
    let allowed = cpus_allowed(None);
    let bounds: Vec<u32> = allowed
        .split([',', '-'])
        .map(|c| c.parse().unwrap())
        .collect();
    let (first, last) = (bounds[0], *bounds.last().unwrap());
    (allowed, first, last)
}

/// The default config of device `id` with 2 CQs, small rings and `pin_workers` set.
#[cfg(target_os = "linux")]
fn pinned_config(id: u32) -> ttrt::ffi::device::ttrt_device_config {
    use ttrt::ffi::device::*;
    let mut cfg: ttrt_device_config = unsafe { std::mem::zeroed() };
    unsafe { ttrt_device_config_default(&mut cfg) };
    cfg.device_id = id;
    cfg.num_command_queues = 2;
    cfg.cq_data_size = 1 << 20;
    cfg.pin_workers = 1;
    cfg
}

#[cfg(target_os = "linux")]
#[test]
fn pinned_workers_run_only_on_the_cpus_the_config_names() {
    use ttrt::ffi::device::*;
    use ttrt::ffi::status::ttrt_status;
    let (allowed, first, last) = allowed_cpus();
    let mut cfg: ttrt_device_config = unsafe { std::mem::zeroed() };
    unsafe { ttrt_device_config_default(&mut cfg) };
    assert_eq!((cfg.pin_workers, cfg.worker_cpu), (0, [0, 1]));
    let mut cfg = pinned_config(71);
    // Reversed, so that the default order would not pass.
    cfg.worker_cpu = [last, first];
    let mut dev = std::ptr::null_mut();
    assert_eq!(
        unsafe { ttrt_device_open(&cfg, &mut dev) },
        ttrt_status::Success,
        "{}",
        message()
    );
    for (cq, cpu) in [(0, last), (1, first)] {
        let tasks = started(&format!("ttrt-dev71-cq{cq}"));
        assert_eq!(tasks.len(), 1, "the worker of CQ {cq}");
        assert_eq!(cpus_allowed(Some(&tasks[0])), cpu.to_string(), "CQ {cq}");
    }
    // The device works as before.
    let t = c_tensor(dev);
    unsafe {
        assert_eq!(ttrt_finish(dev, 1), ttrt_status::Success);
        ttrt::ffi::tensor::ttrt_tensor_free(t);
        assert_eq!(ttrt_device_close(dev), ttrt_status::Success);
    }
    assert!(threads_named("ttrt-dev71-cq0").is_empty());

    // Unpinned (the default), the workers may run wherever the process may.
    cfg.pin_workers = 0;
    cfg.device_id = 72;
    assert_eq!(
        unsafe { ttrt_device_open(&cfg, &mut dev) },
        ttrt_status::Success
    );
    let tasks = started("ttrt-dev72-cq1");
    assert_eq!(cpus_allowed(Some(&tasks[0])), allowed);
    unsafe { ttrt_device_close(dev) };
}

#[cfg(target_os = "linux")]
#[test]
fn a_worker_cpu_the_process_may_not_use_is_refused_and_names_the_cpus_it_may() {
    use ttrt::ffi::device::*;
    use ttrt::ffi::status::ttrt_status;
    let allowed = cpus_allowed(None);
    let mut cfg = pinned_config(73);
    cfg.worker_cpu = [0, 100_000];
    let mut dev = std::ptr::null_mut();
    assert_eq!(
        unsafe { ttrt_device_open(&cfg, &mut dev) },
        ttrt_status::InvalidArgument
    );
    assert_eq!(
        message(),
        format!(
            "ttrt_device_open: cfg->worker_cpu[1] is 100000, a CPU this process may not run on \
             (the calling thread may run on CPUs {allowed})"
        )
    );
    assert!(dev.is_null());
    assert!(
        threads_named("ttrt-dev73-cq0").is_empty(),
        "no worker is left"
    );
    // With one CQ the second entry is not used.
    cfg.num_command_queues = 1;
    assert_eq!(
        unsafe { ttrt_device_open(&cfg, &mut dev) },
        ttrt_status::Success,
        "{}",
        message()
    );
    unsafe { ttrt_device_close(dev) };
}

#[cfg(target_os = "linux")]
#[test]
fn a_host_thread_pinned_to_one_cpu_can_pin_its_workers_to_others() {
    use ttrt::ffi::device::*;
    use ttrt::ffi::status::ttrt_status;
    let (_, first, last) = allowed_cpus();
    let (go, wait) = std::sync::mpsc::channel::<()>();
    let host = std::thread::spawn(move || {
        wait.recv().unwrap();
        assert_eq!(
            cpus_allowed(None),
            first.to_string(),
            "the host thread is pinned"
        );
        let mut cfg = pinned_config(74);
        cfg.worker_cpu = [last, last];
        let mut dev = std::ptr::null_mut();
        let status = unsafe { ttrt_device_open(&cfg, &mut dev) };
        let text = message();
        let pinned = started("ttrt-dev74-cq1")
            .first()
            .map(|t| cpus_allowed(Some(t)));
        unsafe { ttrt_device_close(dev) };
        (status, text, pinned)
    });
    ttrt::affinity::pin(&host, first, "the host thread").unwrap();
    go.send(()).unwrap();
    let (status, text, pinned) = host.join().unwrap();
    assert_eq!(status, ttrt_status::Success, "{text}");
    assert_eq!(pinned, Some(last.to_string()));
}
