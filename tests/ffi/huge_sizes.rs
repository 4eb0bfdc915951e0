//! Sizes from C that no memory can hold are refused with a status, never wrapped into small
//! ones: buffer lengths past `isize::MAX`, queue layouts whose tile counts overflow 32 bits,
//! queue sizes past the address space, and device configs whose host memory would overflow.
//! (tests/c/misuse.c covers the same under AddressSanitizer and overflow checks.)

use std::ffi::CStr;
use std::ptr;

use ttrt::ffi::device::{
    ttrt_device_close, ttrt_device_config, ttrt_device_config_default, ttrt_device_open,
};
use ttrt::ffi::format::{ttrt_io_desc, ttrt_io_desc_sizes, ttrt_tensor_desc, ttrt_tilize};
use ttrt::ffi::ttrt_status;

fn last() -> String {
    unsafe { CStr::from_ptr(ttrt::ffi::error::ttrt_last_error_message()) }
        .to_string_lossy()
        .into_owned()
}

/// One 32x32 Float16_b tile per entry, one buffer.
fn tile_queue() -> ttrt_io_desc {
    let mut q: ttrt_io_desc = unsafe { std::mem::zeroed() };
    q.grid_r = 1;
    q.grid_c = 1;
    q.ublock_rt = 1;
    q.ublock_ct = 1;
    q.mblock_m = 1;
    q.mblock_n = 1;
    q.t = 1;
    q.entries = 4;
    q.format = 5; // Float16_b
    q.stack_row_major = true;
    q
}

#[test]
fn tilize_refuses_a_destination_longer_than_any_object() {
    let values = [0.5f32; 32 * 32];
    let mut src: ttrt_tensor_desc = unsafe { std::mem::zeroed() };
    src.ptr = values.as_ptr().cast();
    src.itemsize = 4;
    src.format = 0;
    src.shape = [1, 1, 32, 32];
    src.strides = [4096, 4096, 128, 4];
    src.dim = 4;
    let q = tile_queue();
    let mut dst = vec![0u8; 2080];
    let st = unsafe { ttrt_tilize(&src, &q, dst.as_mut_ptr().cast(), usize::MAX) };
    assert_eq!(st, ttrt_status::InvalidArgument, "{}", last());
    assert!(
        last().starts_with("ttrt_tilize: argument `dst_len`"),
        "{}",
        last()
    );
    let st = unsafe { ttrt_tilize(&src, &q, dst.as_mut_ptr().cast(), isize::MAX as usize + 1) };
    assert_eq!(st, ttrt_status::InvalidArgument, "{}", last());
    // The real length still works.
    let st = unsafe { ttrt_tilize(&src, &q, dst.as_mut_ptr().cast(), dst.len()) };
    assert_eq!(st, ttrt_status::Success, "{}", last());
}

#[test]
fn queue_sizes_past_the_address_space_are_refused() {
    // 2^20 tiles of 2080 B per entry is within the entry limit; 2^32 - 1 such entries in one
    // buffer are not, nor 2^32 - 1 entries of one tile across a 4096 x 4096 grid.
    let mut q = tile_queue();
    q.mblock_m = 1 << 10;
    q.mblock_n = 1 << 10;
    q.entries = u32::MAX;
    let (mut e, mut io, mut tz) = (0u64, 0u64, 0u64);
    let st = unsafe { ttrt_io_desc_sizes(&q, 1, &mut e, &mut io, &mut tz) };
    assert_eq!(st, ttrt_status::InvalidArgument, "io_size {io}: {}", last());
    assert!(last().contains("queue size"), "{}", last());
    q.entries = 1;
    q.mblock_m = 1;
    q.mblock_n = 1;
    q.grid_r = 1 << 12;
    q.grid_c = 1 << 12;
    let st = unsafe { ttrt_io_desc_sizes(&q, u32::MAX, &mut e, &mut io, &mut tz) };
    assert_eq!(st, ttrt_status::InvalidArgument, "tilized {tz}: {}", last());
    assert!(last().contains("tilized size"), "{}", last());
}

#[test]
fn tile_counts_past_32_bits_are_counted_not_wrapped() {
    // 2^16 x 2^16 tiles per core slice: 2^32 tiles, which a 32-bit product wraps to 0.
    let mut q = tile_queue();
    q.mblock_m = 1 << 16;
    q.mblock_n = 1 << 16;
    q.entries = 1;
    let mut e = 0u64;
    let st = unsafe { ttrt_io_desc_sizes(&q, 1, &mut e, ptr::null_mut(), ptr::null_mut()) };
    assert_eq!(st, ttrt_status::Success, "{}", last());
    assert_eq!(e, (1u64 << 32) * 2080);
}

fn open_with(mut edit: impl FnMut(&mut ttrt_device_config)) -> ttrt_status {
    let mut cfg: ttrt_device_config = unsafe { std::mem::zeroed() };
    unsafe { ttrt_device_config_default(&mut cfg) };
    edit(&mut cfg);
    let mut dev = ptr::null_mut();
    let st = unsafe { ttrt_device_open(&cfg, &mut dev) };
    if st == ttrt_status::Success {
        unsafe { ttrt_device_close(dev) };
    } else {
        assert!(dev.is_null());
    }
    st
}

#[test]
fn device_configs_whose_host_memory_overflows_are_refused() {
    let st = open_with(|c| c.cq_data_size = u64::MAX);
    assert_eq!(st, ttrt_status::OutOfMemory, "{}", last());
    let st = open_with(|c| {
        c.num_command_queues = 2;
        c.cq_data_size = 1 << 63;
    });
    assert_eq!(st, ttrt_status::OutOfMemory, "{}", last());
    let st = open_with(|c| c.trace_region_size = u64::MAX);
    assert_ne!(st, ttrt_status::Success, "{}", last());
    assert!(!last().contains('\n'), "{}", last());
    // An arena claiming more than any object is refused before it is looked at.
    let mut arena = [0u8; 64];
    let st = open_with(|c| {
        c.arena = arena.as_mut_ptr().cast();
        c.arena_size = u64::MAX;
    });
    assert_eq!(st, ttrt_status::InvalidArgument, "{}", last());
    assert!(last().contains("arena_size"), "{}", last());
}
