//! Threads for the golden kernels: [`for_each`] runs `f(0..n)` on the calling thread and the
//! pool's threads (one fewer than the CPUs, at most 7), each index once.
//!
//! The pool is started by [`start`], which compiling a graph calls, so its threads exist before
//! the first run; running a job then allocates nothing and takes no lock: the caller publishes
//! the job and wakes the threads (`unpark`), every thread takes indices from a shared counter,
//! and the caller returns once every thread has left the job. One job runs at a time: a caller
//! that finds the pool busy (another graph running on another thread, or a kernel called from
//! inside a job) runs its indices itself. Without `std` every job runs on the calling thread.
//!
//! Which thread computes an index never changes a value: each index writes its own outputs,
//! computed as the single-threaded kernel computes them.

/// Runs `f(i)` for every `i < n`, spread over the pool's threads when it has any.
pub fn for_each(n: usize, f: &(dyn Fn(usize) + Sync)) {
    #[cfg(feature = "std")]
    if n > 1 && pool::run(n, f) {
        return;
    }
    (0..n).for_each(f);
}

/// Runs `f(at, chunk)` on consecutive chunks of `data` (`chunk` values each, the last one
/// shorter; `at` is the chunk's offset), spread over the pool's threads when there are at
/// least `THREADED_CHUNKS` (4) of them; false when any call returned false (the others still
/// ran).
pub fn for_each_chunk(
    data: &mut [f32],
    chunk: usize,
    f: &(dyn Fn(usize, &mut [f32]) -> bool + Sync),
) -> bool {
    let chunk = chunk.max(1);
    let len = data.len();
    let base = Base(data.as_mut_ptr());
    let failed = core::sync::atomic::AtomicBool::new(false);
    let chunks = len.div_ceil(chunk);
    let each = |c: usize| {
        let at = c * chunk;
        let n = chunk.min(len - at);
        // SAFETY: chunk `c` is `data[at..at + n]`, inside `data`, and no other index touches
        // it; `data` stays borrowed until every index has run.
        let values = unsafe { core::slice::from_raw_parts_mut(base.get().add(at), n) };
        if !f(at, values) {
            failed.store(true, core::sync::atomic::Ordering::Relaxed);
        }
    };
    if chunks >= THREADED_CHUNKS {
        for_each(chunks, &each);
    } else {
        (0..chunks).for_each(each);
    }
    !failed.into_inner()
}

/// Chunks from which [`for_each_chunk`] wakes the pool's threads (fewer cost more to hand out
/// than they take to compute).
const THREADED_CHUNKS: usize = 4;

/// The start of a buffer whose disjoint parts threads write.
#[derive(Clone, Copy)]
struct Base(*mut f32);

// SAFETY: shared only by `for_each_chunk`, whose indices write disjoint chunks.
unsafe impl Sync for Base {}

impl Base {
    fn get(self) -> *mut f32 {
        self.0
    }
}

/// Starts the pool's threads (once per process); later calls do nothing.
pub fn start() {
    #[cfg(feature = "std")]
    pool::start();
}

/// How many threads [`for_each`] may use, the caller included (1 before [`start`]).
pub fn threads() -> usize {
    #[cfg(feature = "std")]
    {
        1 + pool::WORKERS.get().map_or(0, |w| w.len())
    }
    #[cfg(not(feature = "std"))]
    {
        1
    }
}

#[cfg(feature = "std")]
mod pool {
    use core::cell::UnsafeCell;
    use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
    use std::sync::OnceLock;
    use std::thread::Thread;
    use std::vec::Vec;

    /// Most threads the pool starts besides the caller.
    const MAX_WORKERS: usize = 7;

    type Job = *const (dyn Fn(usize) + Sync + 'static);

    struct Pool {
        /// A caller owns the pool from taking this flag until its job has been left by all.
        busy: AtomicBool,
        /// Bumped (release) after `job` and `n` are set: a thread that sees a new value joins.
        generation: AtomicU64,
        /// The next index to take.
        next: AtomicUsize,
        n: AtomicUsize,
        /// Threads that have not left the current job yet.
        active: AtomicUsize,
        job: UnsafeCell<Option<Job>>,
    }

    // SAFETY: `job` is written only by the caller that holds `busy`, while no thread reads it
    // (every thread has left the previous job), and read by threads only between the
    // `generation` bump that publishes it and their decrement of `active`.
    unsafe impl Sync for Pool {}

    static POOL: Pool = Pool {
        busy: AtomicBool::new(false),
        generation: AtomicU64::new(0),
        next: AtomicUsize::new(0),
        n: AtomicUsize::new(0),
        active: AtomicUsize::new(0),
        job: UnsafeCell::new(None),
    };

    pub(super) static WORKERS: OnceLock<Vec<Thread>> = OnceLock::new();

    /// Threads that have started and are about to wait for their first job.
    static READY: AtomicUsize = AtomicUsize::new(0);

    pub(super) fn start() {
        WORKERS.get_or_init(|| {
            let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
            let mut threads = Vec::new();
            for i in 0..cpus.saturating_sub(1).min(MAX_WORKERS) {
                // A thread that cannot start leaves the pool smaller; jobs still complete.
                if let Ok(h) = std::thread::Builder::new()
                    .name(std::format!("ttrt-golden-{i}"))
                    .spawn(work)
                {
                    threads.push(h.thread().clone());
                }
            }
            // A thread's start-up (its thread-locals, its handle) may allocate: let it happen
            // now, not during a run that the OS happens to schedule it in.
            while READY.load(Ordering::Acquire) < threads.len() {
                std::thread::yield_now();
            }
            threads
        });
    }

    /// Takes indices of the current job until none is left.
    fn take_all(job: &(dyn Fn(usize) + Sync)) {
        let n = POOL.n.load(Ordering::Relaxed);
        loop {
            let i = POOL.next.fetch_add(1, Ordering::Relaxed);
            if i >= n {
                break;
            }
            job(i);
        }
    }

    fn work() {
        let _ = std::thread::current();
        READY.fetch_add(1, Ordering::Release);
        let mut seen = 0u64;
        loop {
            let g = POOL.generation.load(Ordering::Acquire);
            if g == seen {
                std::thread::park();
                continue;
            }
            seen = g;
            // SAFETY: the job published with generation `g` stays alive until this thread
            // decrements `active` (the caller waits for it).
            let job = unsafe { (*POOL.job.get()).map(|j| &*j) };
            if let Some(job) = job {
                // A panicking kernel must still leave the job, or its caller would wait forever.
                let _ = std::panic::catch_unwind(core::panic::AssertUnwindSafe(|| take_all(job)));
            }
            POOL.active.fetch_sub(1, Ordering::Release);
        }
    }

    /// Waits, on drop, until every thread has left the job (also when the caller unwinds).
    struct Leave;

    impl Drop for Leave {
        fn drop(&mut self) {
            let mut spins = 0u32;
            while POOL.active.load(Ordering::Acquire) != 0 {
                if spins < 1 << 12 {
                    core::hint::spin_loop();
                    spins += 1;
                } else {
                    std::thread::yield_now();
                }
            }
            // SAFETY: no thread reads the job any more.
            unsafe { *POOL.job.get() = None };
            POOL.busy.store(false, Ordering::Release);
        }
    }

    /// Runs the job on the pool; false when there is no pool or it is busy.
    pub(super) fn run(n: usize, f: &(dyn Fn(usize) + Sync)) -> bool {
        let Some(workers) = WORKERS.get().filter(|w| !w.is_empty()) else {
            return false;
        };
        if POOL
            .busy
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return false;
        }
        // SAFETY: the lifetime is erased only while `Leave` keeps this frame until every
        // thread has left the job; no thread reads `job` now (the previous job was left).
        let job: Job = unsafe { core::mem::transmute::<&(dyn Fn(usize) + Sync), Job>(f) };
        unsafe { *POOL.job.get() = Some(job) };
        POOL.n.store(n, Ordering::Relaxed);
        POOL.next.store(0, Ordering::Relaxed);
        POOL.active.store(workers.len(), Ordering::Relaxed);
        let leave = Leave;
        POOL.generation.fetch_add(1, Ordering::Release);
        for t in workers {
            t.unpark();
        }
        take_all(f);
        drop(leave);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn every_index_runs_once() {
        start();
        for n in [0, 1, 2, 3, 17, 1000] {
            let hits: alloc::vec::Vec<AtomicUsize> = (0..n).map(|_| AtomicUsize::new(0)).collect();
            for_each(n, &|i| {
                hits[i].fetch_add(1, Ordering::Relaxed);
            });
            assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) == 1), "n {n}");
        }
    }
}
