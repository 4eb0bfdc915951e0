//! Byte transfers by (bank, address) and kernels on the device's command queues: they land
//! where asked, in order with the CQ's other commands and with events between CQs, and a
//! failing kernel's text comes back from the next blocking call.

use crate::support::served;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use served::Dev;
use ttrt::format::Arch;
use ttrt::hal::select::{device_from_env, AnyChip};
use ttrt::hal::{Chip, MemKind};
use ttrt::runtime::{Device, DeviceConfig, ErrorKind, Kernel, KernelMessage};

fn open(cqs: u8) -> Dev {
    let config = DeviceConfig {
        num_command_queues: cqs,
        cq_data_size: 1 << 16,
        ..DeviceConfig::default()
    };
    Dev::serve(config)
}

fn pattern(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[test]
fn raw_writes_land_at_the_bank_and_address_asked() {
    let d = open(1);
    // Larger than half the data ring: the write goes in several chunks.
    let data = pattern(100_000, 7);
    d.write_raw(0, MemKind::Dram, 3, 0x1000_0000, &data, false)
        .unwrap();
    let mut back = vec![0u8; data.len()];
    d.read_raw(0, MemKind::Dram, 3, 0x1000_0000, &mut back)
        .unwrap();
    assert_eq!(back, data);
    // The chip holds the bytes in channel 3 only.
    d.finish(0).unwrap();
    let mut other = vec![0u8; 64];
    d.chip()
        .read(MemKind::Dram, 2, 0x1000_0000, &mut other)
        .unwrap();
    assert!(other.iter().all(|&b| b == 0));
    let mut direct = vec![0u8; 64];
    d.chip()
        .read(MemKind::Dram, 3, 0x1000_0000 + 70_000, &mut direct)
        .unwrap();
    assert_eq!(direct, data[70_000..70_064]);
    // A blocking write from the caller's memory, then L1.
    d.write_raw(0, MemKind::L1, 5, 0x20000, &data[..4096], true)
        .unwrap();
    let mut l1 = vec![0u8; 4096];
    d.read_raw(0, MemKind::L1, 5, 0x20000, &mut l1).unwrap();
    assert_eq!(l1, data[..4096]);
}

#[test]
fn accesses_outside_the_chip_are_refused_before_they_are_queued() {
    let d = open(1);
    let e = d
        .write_raw(0, MemKind::Dram, 6, 0, &[1, 2, 3], false)
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidArgument);
    assert_eq!(
        e.message(),
        "DRAM access of 3 B at 0x0 in bank 6 is outside the chip (6 banks of 2147483648 B)"
    );
    let mut buf = [0u8; 8];
    let e = d
        .read_raw(0, MemKind::Dram, 0, (2u64 << 30) - 4, &mut buf)
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidArgument);
    // The device is still usable.
    d.write_raw(0, MemKind::Dram, 0, 64, &[9; 8], true).unwrap();
}

/// A kernel adding 1 to the u32 at DRAM channel 0, address `ctx`.
fn increment(ctx: usize, chip: &dyn Chip, _msg: &mut KernelMessage) -> bool {
    let mut w = [0u8; 4];
    chip.read(MemKind::Dram, 0, ctx as u64, &mut w).unwrap();
    let v = u32::from_le_bytes(w) + 1;
    chip.write(MemKind::Dram, 0, ctx as u64, &v.to_le_bytes())
        .unwrap();
    true
}

fn failing(_ctx: usize, _chip: &dyn Chip, msg: &mut KernelMessage) -> bool {
    msg.set(format_args!("graph 'g': sqrt of -1"));
    false
}

#[test]
fn kernels_run_in_order_with_transfers() {
    let d = open(1);
    d.write_raw(0, MemKind::Dram, 0, 0x100, &5u32.to_le_bytes(), false)
        .unwrap();
    for _ in 0..3 {
        let k = Kernel {
            entry: increment,
            ctx: 0x100,
        };
        unsafe { d.enqueue_kernel(0, k) }.unwrap();
    }
    let mut w = [0u8; 4];
    d.read_raw(0, MemKind::Dram, 0, 0x100, &mut w).unwrap();
    assert_eq!(u32::from_le_bytes(w), 8);
}

#[test]
fn a_failing_kernel_reports_its_text_at_the_next_blocking_call() {
    let d = open(1);
    let k = Kernel {
        entry: failing,
        ctx: 0,
    };
    unsafe { d.enqueue_kernel(0, k) }.unwrap();
    let e = d.finish(0).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Device);
    assert_eq!(
        e.message(),
        "device error on CQ 0 (kernel): graph 'g': sqrt of -1"
    );
    d.finish(0).unwrap();
}

static SEEN: AtomicU32 = AtomicU32::new(0);

/// Records the u32 at DRAM channel 1, address `ctx`.
fn observe(ctx: usize, chip: &dyn Chip, _msg: &mut KernelMessage) -> bool {
    let mut w = [0u8; 4];
    chip.read(MemKind::Dram, 1, ctx as u64, &mut w).unwrap();
    SEEN.store(u32::from_le_bytes(w), Ordering::SeqCst);
    true
}

/// Enqueued after a wait for CQ 1's event, or run inline after it.
#[test]
fn a_kernel_on_cq0_sees_a_write_on_cq1_it_waited_for() {
    let d = open(2);
    for inline in [false, true] {
        for round in 1..=20u32 {
            let big = vec![round as u8; 50_000];
            d.write_raw(1, MemKind::Dram, 1, 0x2000, &big, false)
                .unwrap();
            d.write_raw(1, MemKind::Dram, 1, 0x1000, &round.to_le_bytes(), false)
                .unwrap();
            let ev = d.record_event(1).unwrap();
            let k = Kernel {
                entry: observe,
                ctx: 0x1000,
            };
            if inline {
                d.run_kernel_inline(0, Some(&ev), k).unwrap();
            } else {
                d.wait_for_event(0, &ev).unwrap();
                unsafe { d.enqueue_kernel(0, k) }.unwrap();
                d.finish(0).unwrap();
            }
            assert_eq!(SEEN.load(Ordering::SeqCst), round, "inline: {inline}");
        }
    }
}

#[test]
fn transfers_and_kernels_are_refused_during_trace_capture() {
    let config = DeviceConfig {
        trace_region_size: 1 << 20,
        ..DeviceConfig::default()
    };
    let dev = Arc::new(
        Device::new(
            config,
            AnyChip::open(&device_from_env(), Arch::WormholeB0).unwrap(),
        )
        .unwrap(),
    );
    let tid = dev.begin_trace_capture(0).unwrap();
    let e = dev
        .write_raw(0, MemKind::Dram, 0, 0, &[1], false)
        .unwrap_err();
    assert_eq!(
        e.message(),
        "Writes are not supported during trace capture."
    );
    let mut b = [0u8; 1];
    let e = dev.read_raw(0, MemKind::Dram, 0, 0, &mut b).unwrap_err();
    assert_eq!(e.message(), "Reads are not supported during trace capture.");
    let k = Kernel {
        entry: increment,
        ctx: 0,
    };
    let e = unsafe { dev.enqueue_kernel(0, k) }.unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidState);
    let e = dev.run_inline(0, |_| ()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidState);
    let e = dev.run_kernel_inline(0, None, k).unwrap_err();
    assert_eq!(
        e.message(),
        "kernels cannot be captured into a trace (CQ 0 is capturing)"
    );
    dev.end_trace_capture(0, tid).unwrap();
}

#[test]
fn the_simulated_chip_maps_its_memory_in_place() {
    let chip = AnyChip::open(&device_from_env(), Arch::WormholeB0).unwrap();
    let g = *chip.geometry();
    chip.write(MemKind::Dram, 3, 0x4000, &pattern(64, 1))
        .unwrap();
    let p = chip.map(MemKind::Dram, 3, 0x4000, 64).unwrap();
    // SAFETY: the map covers 64 bytes; nothing else touches them.
    let view = unsafe { std::slice::from_raw_parts_mut(p.as_ptr(), 64) };
    assert_eq!(view, &pattern(64, 1)[..]);
    view.copy_from_slice(&pattern(64, 2));
    let mut back = [0u8; 64];
    chip.read(MemKind::Dram, 3, 0x4000, &mut back).unwrap();
    assert_eq!(&back[..], &pattern(64, 2)[..]);
    // L1 maps too, bank by bank; nothing outside the chip does.
    chip.write(MemKind::L1, 5, 0x100, &[7; 4]).unwrap();
    let p = chip.map(MemKind::L1, 5, 0x100, 4).unwrap();
    assert_eq!(
        unsafe { std::slice::from_raw_parts(p.as_ptr(), 4) },
        &[7; 4]
    );
    assert!(chip.map(MemKind::Dram, g.dram_channels, 0, 1).is_none());
    assert!(chip
        .map(MemKind::Dram, 0, g.dram_channel_size - 3, 4)
        .is_none());
    assert!(chip.map(MemKind::L1, g.l1_banks(), 0, 1).is_none());
    assert!(chip.map(MemKind::Dram, 0, u64::MAX, 2).is_none());
}

#[test]
fn inline_host_work_runs_after_everything_the_cq_holds() {
    let d = open(1);
    for round in 0..20u32 {
        d.write_raw(0, MemKind::Dram, 0, 0x100, &round.to_le_bytes(), false)
            .unwrap();
        // Non-blocking writes and kernels still queued when run_inline is called.
        d.write_raw(
            0,
            MemKind::Dram,
            0,
            0x8000,
            &vec![round as u8; 60_000],
            false,
        )
        .unwrap();
        for _ in 0..3 {
            let k = Kernel {
                entry: increment,
                ctx: 0x100,
            };
            unsafe { d.enqueue_kernel(0, k) }.unwrap();
        }
        let (v, last) = d
            .run_inline(0, |chip| {
                let word = chip.map(MemKind::Dram, 0, 0x100, 4).unwrap();
                let tail = chip.map(MemKind::Dram, 0, 0x8000 + 59_999, 1).unwrap();
                // SAFETY: the maps cover these bytes; the CQ has run everything before.
                unsafe {
                    let w = std::slice::from_raw_parts(word.as_ptr(), 4);
                    (u32::from_le_bytes(w.try_into().unwrap()), *tail.as_ptr())
                }
            })
            .unwrap();
        assert_eq!((v, last), (round + 3, round as u8));
    }
    // A device error left by an earlier command is returned instead of running the work.
    let k = Kernel {
        entry: failing,
        ctx: 0,
    };
    unsafe { d.enqueue_kernel(0, k) }.unwrap();
    let mut ran = false;
    let e = d.run_inline(0, |_| ran = true).unwrap_err();
    assert_eq!(
        e.message(),
        "device error on CQ 0 (kernel): graph 'g': sqrt of -1"
    );
    assert!(!ran);
    assert_eq!(d.run_inline(0, |_| 5).unwrap(), 5);
}

#[test]
fn an_inline_kernel_runs_after_what_its_cq_holds_and_fails_as_a_worker_would() {
    let d = open(1);
    d.write_raw(0, MemKind::Dram, 0, 0x300, &40u32.to_le_bytes(), false)
        .unwrap();
    let k = Kernel {
        entry: increment,
        ctx: 0x300,
    };
    unsafe { d.enqueue_kernel(0, k) }.unwrap();
    d.run_kernel_inline(0, None, k).unwrap();
    let mut w = [0u8; 4];
    d.read_raw(0, MemKind::Dram, 0, 0x300, &mut w).unwrap();
    assert_eq!(u32::from_le_bytes(w), 42);

    let bad = Kernel {
        entry: failing,
        ctx: 0,
    };
    let e = d.run_kernel_inline(0, None, bad).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Device);
    assert_eq!(
        e.message(),
        "device error on CQ 0 (kernel): graph 'g': sqrt of -1"
    );
    // The error was returned, not left behind: the CQ goes on.
    d.finish(0).unwrap();
    // An event never recorded is refused before anything runs.
    let other = d.record_event(0).unwrap();
    let never = ttrt::runtime::Event {
        id: other.id + 5,
        ..other
    };
    let e = d.run_kernel_inline(0, Some(&never), k).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidArgument);
    d.read_raw(0, MemKind::Dram, 0, 0x300, &mut w).unwrap();
    assert_eq!(u32::from_le_bytes(w), 42);
}
