//! A counter one side advances and the other side waits on: ring positions, completed event
//! ids. Waiting spins briefly, then sleeps in the kernel (a futex on Linux) until the counter
//! moves; advancing makes a system call only when someone sleeps. No lock, no allocation.

use core::sync::atomic::{AtomicU32, Ordering};

pub struct Signal {
    value: AtomicU32,
    sleepers: AtomicU32,
}

impl Signal {
    pub const fn new(value: u32) -> Signal {
        Signal {
            value: AtomicU32::new(value),
            sleepers: AtomicU32::new(0),
        }
    }

    #[inline]
    pub fn load(&self) -> u32 {
        self.value.load(Ordering::Acquire)
    }

    /// Sets the counter and wakes whoever waits on it.
    #[inline]
    pub fn store(&self, value: u32) {
        // SeqCst pairs with `wait`: either the sleeper sees the new value before sleeping, or
        // this side sees the sleeper and wakes it.
        self.value.store(value, Ordering::SeqCst);
        if self.sleepers.load(Ordering::SeqCst) != 0 {
            wake_all(&self.value);
        }
    }

    /// Wakes whoever sleeps on the counter without changing it: they re-check what they wait
    /// for (a device closing). A waiter about to sleep may miss this wake; the caller repeats
    /// it until the waiters it knows of have left.
    pub fn wake(&self) {
        wake_all(&self.value);
    }

    /// Waits until the counter differs from `seen`, or until `timeout_us` microseconds have
    /// passed (`None`: no limit; always returns early on a change). Without `std` it returns at
    /// once: the caller drives the device between checks.
    pub fn wait_change(&self, seen: u32, timeout_us: Option<u64>) {
        for _ in 0..SPINS {
            if self.value.load(Ordering::Acquire) != seen {
                return;
            }
            core::hint::spin_loop();
        }
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        if self.value.load(Ordering::SeqCst) == seen {
            sleep_while(&self.value, seen, timeout_us);
        }
        self.sleepers.fetch_sub(1, Ordering::SeqCst);
    }
}

const SPINS: u32 = 200;

#[cfg(all(feature = "std", any(target_os = "linux", target_os = "android")))]
fn sleep_while(atom: &AtomicU32, seen: u32, timeout_us: Option<u64>) {
    let ts = timeout_us.map(|us| libc::timespec {
        tv_sec: (us / 1_000_000) as libc::time_t,
        tv_nsec: ((us % 1_000_000) * 1000) as libc::c_long,
    });
    let ts_ptr = ts
        .as_ref()
        .map_or(core::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: FUTEX_WAIT reads the u32 at `atom` (valid for the call) and sleeps while it equals
    // `seen`; a relative timeout or none. Spurious wakeups are fine: callers re-check.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            atom.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            seen,
            ts_ptr,
        );
    }
}

#[cfg(all(feature = "std", any(target_os = "linux", target_os = "android")))]
fn wake_all(atom: &AtomicU32) {
    // SAFETY: FUTEX_WAKE only uses the address as a key.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            atom.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            i32::MAX,
        );
    }
}

#[cfg(all(feature = "std", not(any(target_os = "linux", target_os = "android"))))]
fn sleep_while(atom: &AtomicU32, seen: u32, timeout_us: Option<u64>) {
    let step = timeout_us.unwrap_or(50).min(50);
    if atom.load(Ordering::Acquire) == seen {
        std::thread::sleep(std::time::Duration::from_micros(step));
    }
}

#[cfg(all(feature = "std", not(any(target_os = "linux", target_os = "android"))))]
fn wake_all(_atom: &AtomicU32) {}

#[cfg(not(feature = "std"))]
fn sleep_while(_atom: &AtomicU32, _seen: u32, _timeout_us: Option<u64>) {}

#[cfg(not(feature = "std"))]
fn wake_all(_atom: &AtomicU32) {}
