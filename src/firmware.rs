//! Panics on bare metal. Without `std` the library is built `panic=abort` (the bare-metal
//! targets' default) and, when it is the final artifact's Rust code (the staticlib firmware
//! links), provides the `#[panic_handler]`: it formats the panic into a static buffer and calls
//! `ttrt_firmware_panic`, which the firmware defines (log it, reset the core, ...). The hook must
//! not return; if it does, the core spins.

use core::fmt::Write;

use crate::ffi::error::MessageBuf;

// Declared by hand in the header (cbindgen.toml, after_includes) so it stands inside the guard.
#[allow(unused_doc_comments)]
/// cbindgen:ignore
extern "C" {
    /// Provided by the firmware that links ttrt without `std`. `message` is one NUL-terminated
    /// line describing the panic (location and text).
    fn ttrt_firmware_panic(message: *const core::ffi::c_char);
}

struct PanicText(core::cell::UnsafeCell<MessageBuf>);
// SAFETY: only the panic handler touches it, and a bare-metal panic does not return.
unsafe impl Sync for PanicText {}
static PANIC_TEXT: PanicText = PanicText(core::cell::UnsafeCell::new(MessageBuf::new()));

#[cfg(not(test))]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    // SAFETY: see PanicText.
    let text = unsafe { &mut *PANIC_TEXT.0.get() };
    text.clear();
    match info.location() {
        Some(loc) => text.set(format_args!(
            "ttrt panicked at {}:{}: {}",
            loc.file(),
            loc.line(),
            info.message()
        )),
        None => text.set(format_args!("ttrt panicked: {}", info.message())),
    }
    let _ = text.write_str("");
    // SAFETY: the firmware defines the hook with this signature (documented in ttrt.h).
    unsafe { ttrt_firmware_panic(text.as_c_ptr()) };
    loop {
        core::hint::spin_loop();
    }
}

/// With `alloc` but without `std`, heap memory comes from the firmware: ttrt's global allocator
/// forwards to two hooks the firmware defines (a pool, an RTOS heap, ...).
#[cfg(feature = "alloc")]
mod heap {
    use core::alloc::{GlobalAlloc, Layout};
    use core::ffi::c_void;

    #[allow(unused_doc_comments)]
    /// cbindgen:ignore
    extern "C" {
        fn ttrt_firmware_alloc(size: usize, align: usize) -> *mut c_void;
        fn ttrt_firmware_free(ptr: *mut c_void, size: usize, align: usize);
    }

    struct FirmwareHeap;

    // SAFETY: the hooks' contract (documented in ttrt.h) is that of GlobalAlloc: return NULL or
    // a block of `size` bytes aligned to `align`, and take back exactly such blocks.
    unsafe impl GlobalAlloc for FirmwareHeap {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            // SAFETY: see above.
            unsafe { ttrt_firmware_alloc(layout.size(), layout.align()).cast() }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: see above.
            unsafe { ttrt_firmware_free(ptr.cast(), layout.size(), layout.align()) }
        }
    }

    #[global_allocator]
    static HEAP: FirmwareHeap = FirmwareHeap;
}
