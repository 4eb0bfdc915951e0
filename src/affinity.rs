//! Pinning a command queue's worker thread to one CPU.
//!
//! A 2-CQ device has two workers that wake each other through events. Linux places a woken
//! thread near the thread that woke it, so on a machine of a few CPUs both workers can end up
//! on one CPU: the worker that recorded the event waits, runnable, until the one it woke (a
//! model's programs, say) stops, while another CPU idles. Pinning each worker to its own CPU
//! keeps them apart. Placement is the operating system's business elsewhere, so pinning is
//! offered on Linux only.

use alloc::string::String;
use core::fmt::Write;

/// How long a pinned worker polls for another CQ's event before it sleeps
/// ([`crate::runtime::Device::set_event_poll`]): its CPU is its own, so polling costs no other
/// thread anything, and it spares the wake-up (about 50 us on a virtual machine) when the event
/// comes soon, as between the two queues of a pipeline.
pub const PINNED_EVENT_POLL_US: u32 = 200;

/// Why a worker could not be pinned.
#[derive(Debug)]
pub enum PinError {
    /// The CPU does not exist or this process may not use it.
    NotAllowed(String),
    /// This system does not offer pinning.
    Unsupported(String),
}

impl core::fmt::Display for PinError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            PinError::NotAllowed(s) | PinError::Unsupported(s) => f.write_str(s),
        }
    }
}

/// The CPUs the calling thread may run on, as a Linux CPU set.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn allowed() -> Option<libc::cpu_set_t> {
    // SAFETY: an all-zero cpu_set_t is the empty set.
    let mut set: libc::cpu_set_t = unsafe { core::mem::zeroed() };
    // SAFETY: `set` is a writable cpu_set_t of the size passed.
    let rc = unsafe { libc::sched_getaffinity(0, core::mem::size_of_val(&set), &mut set) };
    (rc == 0).then_some(set)
}

/// The CPUs of `set` as a list of ranges ("0-3,6").
#[cfg(any(target_os = "linux", target_os = "android"))]
fn list(set: &libc::cpu_set_t) -> String {
    let max = 8 * core::mem::size_of::<libc::cpu_set_t>();
    // SAFETY: CPU_ISSET reads the set for indices below its size.
    let has = |cpu: usize| cpu < max && unsafe { libc::CPU_ISSET(cpu, set) };
    let mut out = String::new();
    let mut cpu = 0;
    while cpu < max {
        if !has(cpu) {
            cpu += 1;
            continue;
        }
        let first = cpu;
        while has(cpu + 1) {
            cpu += 1;
        }
        let sep = if out.is_empty() { "" } else { "," };
        let _ = match cpu > first {
            true => write!(out, "{sep}{first}-{cpu}"),
            false => write!(out, "{sep}{first}"),
        };
        cpu += 1;
    }
    out
}

/// Pins the thread of `handle` to `cpu`; `what` names the setting in the message. The kernel
/// decides which CPUs the process may use (its cpuset), not the calling thread's own mask: a
/// host thread pinned to one CPU can still pin its workers to others.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn pin<T>(handle: &std::thread::JoinHandle<T>, cpu: u32, what: &str) -> Result<(), PinError> {
    use std::os::unix::thread::JoinHandleExt;
    let not_allowed = || {
        let mut text = alloc::format!("{what} is {cpu}, a CPU this process may not run on");
        if let Some(set) = allowed() {
            let _ = write!(text, " (the calling thread may run on CPUs {})", list(&set));
        }
        PinError::NotAllowed(text)
    };
    if cpu as usize >= 8 * core::mem::size_of::<libc::cpu_set_t>() {
        return Err(not_allowed());
    }
    // SAFETY: an all-zero cpu_set_t is the empty set; CPU_SET writes below its size (checked).
    let mut set: libc::cpu_set_t = unsafe { core::mem::zeroed() };
    unsafe { libc::CPU_SET(cpu as usize, &mut set) };
    // SAFETY: the handle's thread has not been joined, so its pthread_t is valid.
    let rc = unsafe {
        libc::pthread_setaffinity_np(handle.as_pthread_t(), core::mem::size_of_val(&set), &set)
    };
    match rc {
        0 => Ok(()),
        libc::EINVAL => Err(not_allowed()),
        rc => Err(PinError::NotAllowed(alloc::format!(
            "{what}: cannot pin the worker thread to CPU {cpu}: {}",
            std::io::Error::from_raw_os_error(rc)
        ))),
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub fn pin<T>(_handle: &std::thread::JoinHandle<T>, _cpu: u32, what: &str) -> Result<(), PinError> {
    Err(PinError::Unsupported(alloc::format!(
        "{what}: pinning worker threads to CPUs is supported on Linux only"
    )))
}
