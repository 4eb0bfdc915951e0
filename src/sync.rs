//! A mutual-exclusion lock for set-up paths (creating and freeing handles, registering
//! callbacks), never for the hot path. With `std` it is the standard mutex; without, a spin
//! lock, which on the firmware's single thread never spins.

#[cfg(feature = "std")]
pub struct Lock<T>(std::sync::Mutex<T>);

#[cfg(feature = "std")]
impl<T> Lock<T> {
    pub const fn new(value: T) -> Self {
        Lock(std::sync::Mutex::new(value))
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        // A panic inside `f` is caught at the C boundary; the data it guards stays consistent
        // because every user below updates it in one step, so poisoning is ignored.
        let mut guard = self.0.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }
}

#[cfg(not(feature = "std"))]
pub struct Lock<T> {
    held: core::sync::atomic::AtomicBool,
    value: core::cell::UnsafeCell<T>,
}

// SAFETY: access to `value` is serialized by `held`.
#[cfg(not(feature = "std"))]
unsafe impl<T: Send> Sync for Lock<T> {}

#[cfg(not(feature = "std"))]
impl<T> Lock<T> {
    pub const fn new(value: T) -> Self {
        Lock {
            held: core::sync::atomic::AtomicBool::new(false),
            value: core::cell::UnsafeCell::new(value),
        }
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        use core::sync::atomic::Ordering;
        while self
            .held
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            core::hint::spin_loop();
        }
        struct Release<'a>(&'a core::sync::atomic::AtomicBool);
        impl Drop for Release<'_> {
            fn drop(&mut self) {
                self.0.store(false, core::sync::atomic::Ordering::Release);
            }
        }
        let _release = Release(&self.held);
        // SAFETY: `held` is ours until `_release` drops.
        f(unsafe { &mut *self.value.get() })
    }
}
