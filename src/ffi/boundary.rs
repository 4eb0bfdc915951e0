//! The one way into the library from C. Every exported function runs its body through [`call`]
//! (functions that return a status) or [`guard`] (pure queries that return a value), so that
//! errors become a status plus one line of text and, with `std`, a panic becomes
//! `TTRT_STATUS_PANIC` instead of unwinding into C. Without `std` the build aborts on panic and
//! the firmware's hook is called (see `firmware.rs`).

use core::ffi::{c_char, CStr};

use super::error::{set_last_error, ArgError, CError};
use super::status::ttrt_status;

/// Runs the body of the exported function `func`. `Ok` is `TTRT_STATUS_SUCCESS`; an error
/// records `"{func}: {error}"` as the thread's last error and returns its status.
#[inline]
pub fn call<E: CError>(func: &'static str, body: impl FnOnce() -> Result<(), E>) -> ttrt_status {
    match catch(func, body) {
        Some(Ok(())) => ttrt_status::Success,
        Some(Err(e)) => {
            set_last_error(format_args!("{func}: {e}"));
            e.status()
        }
        None => ttrt_status::Panic,
    }
}

/// Runs the body of a query that returns a plain value; a panic records its text and yields
/// `on_panic`.
#[inline]
pub fn guard<T>(func: &'static str, on_panic: T, body: impl FnOnce() -> T) -> T {
    catch(func, body).unwrap_or(on_panic)
}

#[cfg(feature = "std")]
std::thread_local! {
    /// How many exported calls this thread is inside (a model callback may call back in).
    static INSIDE: core::cell::Cell<u32> = const { core::cell::Cell::new(0) };
}

/// Installs, once, a panic hook that is silent for panics raised inside an exported call
/// (their text goes to the last error and the log callback) and hands every other panic, the
/// host's own, to the hook that was there before. The default hook writes to stderr, and the
/// library prints nothing itself.
#[cfg(feature = "std")]
fn install_quiet_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(alloc::boxed::Box::new(move |info| {
            if INSIDE.with(|n| n.get()) == 0 {
                previous(info);
            }
        }));
    });
}

#[cfg(feature = "std")]
#[inline]
fn catch<T>(func: &'static str, body: impl FnOnce() -> T) -> Option<T> {
    install_quiet_hook();
    INSIDE.with(|n| n.set(n.get() + 1));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body));
    INSIDE.with(|n| n.set(n.get() - 1));
    match result {
        Ok(v) => Some(v),
        Err(payload) => {
            let text = if let Some(s) = payload.downcast_ref::<&str>() {
                s
            } else if let Some(s) = payload.downcast_ref::<std::string::String>() {
                s.as_str()
            } else {
                "(no message)"
            };
            set_last_error(format_args!("{func}: internal error (panic): {text}"));
            log::error!(target: "ttrt::ffi", "{func}: internal error (panic): {text}");
            None
        }
    }
}

#[cfg(not(feature = "std"))]
#[inline]
fn catch<T>(_func: &'static str, body: impl FnOnce() -> T) -> Option<T> {
    Some(body())
}

/// A required input pointer, as a reference.
///
/// # Safety
/// If non-NULL and aligned, `p` must point to a valid `T` that outlives `'a` and is not mutated
/// meanwhile (the C caller's side of the contract).
pub unsafe fn arg<'a, T>(p: *const T, name: &'static str) -> Result<&'a T, ArgError> {
    check_pointer(p, name)?;
    // SAFETY: non-NULL and aligned (checked); validity is the caller's contract.
    Ok(unsafe { &*p })
}

/// A required in/out pointer, as a mutable reference.
///
/// # Safety
/// As [`arg`], and nothing else may access `*p` during `'a`.
pub unsafe fn arg_mut<'a, T>(p: *mut T, name: &'static str) -> Result<&'a mut T, ArgError> {
    check_pointer(p, name)?;
    // SAFETY: non-NULL and aligned (checked); exclusivity is the caller's contract.
    Ok(unsafe { &mut *p })
}

/// A required output pointer. Nothing is written until [`Out::write`], which the exported
/// function calls only once it has succeeded ("outputs are written only on success").
///
/// # Safety
/// If non-NULL and aligned, `p` must be valid for writes of a `T` during `'a`.
pub unsafe fn out<'a, T>(p: *mut T, name: &'static str) -> Result<Out<'a, T>, ArgError> {
    check_pointer(p, name)?;
    Ok(Out {
        ptr: p,
        _life: core::marker::PhantomData,
    })
}

/// A checked output location (see [`out`]).
pub struct Out<'a, T> {
    ptr: *mut T,
    _life: core::marker::PhantomData<&'a mut T>,
}

impl<T> Out<'_, T> {
    pub fn write(self, value: T) {
        // SAFETY: checked non-NULL and aligned in `out`; writable by the caller's contract.
        // `write` does not read or drop the (possibly uninitialized) old value.
        unsafe { self.ptr.write(value) }
    }
}

/// A required NUL-terminated UTF-8 string argument.
///
/// # Safety
/// If non-NULL, `p` must point to a NUL-terminated string that outlives `'a`.
pub unsafe fn c_str<'a>(p: *const c_char, name: &'static str) -> Result<&'a str, ArgError> {
    if p.is_null() {
        return Err(ArgError::Null { arg: name });
    }
    // SAFETY: non-NULL; NUL termination is the caller's contract.
    let s = unsafe { CStr::from_ptr(p) };
    s.to_str().map_err(|_| ArgError::Utf8 { arg: name })
}

/// What a length argument must be: no object is larger than `isize::MAX` bytes.
pub const LEN_ALLOWED: &str = "a length whose bytes fit in memory (at most isize::MAX)";

/// Whether `len` elements of `T` can exist in memory (at most `isize::MAX` bytes), so that a
/// longer caller length is refused before a slice over it is made.
pub fn len_fits<T>(len: usize) -> bool {
    len.checked_mul(core::mem::size_of::<T>())
        .is_some_and(|bytes| bytes <= isize::MAX as usize)
}

/// Checks that `len` elements of `T` (a caller's buffer or array length, the argument named
/// `name`) can exist; see [`len_fits`].
pub fn check_len<T>(len: usize, name: &'static str) -> Result<(), ArgError> {
    if len_fits::<T>(len) {
        Ok(())
    } else {
        Err(ArgError::Range {
            arg: name,
            found: len as u64,
            allowed: LEN_ALLOWED,
        })
    }
}

/// A C config struct that begins with `uint32_t struct_size` and grows only by appending
/// fields, whose defaults are zero.
///
/// # Safety
/// All-zero bytes are a valid value of the type, and its first field is the `u32` struct_size.
pub unsafe trait AppendOnlyConfig: Copy {}

/// Reads a config of the caller's `struct_size` bytes: fields past it read as zero (their
/// defaults); a `struct_size` under `min`, the first version's size, is refused.
///
/// # Safety
/// If non-NULL and aligned, `p` points to at least its `struct_size` readable bytes.
pub unsafe fn sized_config<T: AppendOnlyConfig>(
    p: *const T,
    name: &'static str,
    min: u32,
) -> Result<T, ArgError> {
    check_pointer(p, name)?;
    // SAFETY: non-NULL and aligned (checked); the first field is the u32 struct_size (the
    // trait's contract), which every version has.
    let size = unsafe { p.cast::<u32>().read() };
    if size < min {
        return Err(ArgError::StructSize {
            arg: name,
            found: size,
            min,
        });
    }
    let mut full = core::mem::MaybeUninit::<T>::zeroed();
    let known = (size as usize).min(core::mem::size_of::<T>());
    // SAFETY: the caller's struct has `size` readable bytes, `full` room for `known`; all-zero
    // bytes overwritten by some of a valid T's are a valid T (integers and pointers only).
    unsafe {
        core::ptr::copy_nonoverlapping(p.cast::<u8>(), full.as_mut_ptr().cast::<u8>(), known);
        Ok(full.assume_init())
    }
}

fn check_pointer<T>(p: *const T, name: &'static str) -> Result<(), ArgError> {
    if p.is_null() {
        Err(ArgError::Null { arg: name })
    } else if !p.is_aligned() {
        Err(ArgError::Misaligned {
            arg: name,
            align: core::mem::align_of::<T>(),
        })
    } else {
        Ok(())
    }
}
