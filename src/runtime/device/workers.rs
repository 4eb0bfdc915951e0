//! The device side of the command queues ([`Device::serve`] on a worker thread per CQ, or
//! [`Device::poll`] from a firmware loop), and what host calls need of it: room in a ring,
//! ending and waking the host waits, the errors the device met.

use core::sync::atomic::{AtomicU32, Ordering};

use super::Device;
use crate::hal::{BufferRef, Chip, HalError};
use crate::runtime::command_queue::{Command, CommandQueue, HostGuard};
use crate::runtime::error::RuntimeError;
use crate::runtime::event::reached;
use crate::runtime::signal::Signal;
use crate::runtime::transfer::pages_to_host;

/// A request, from another thread, that a host wait of one caller end: the caller passes it to
/// [`Device::synchronize_or_cancel`]; another thread calls [`WaitCancel::request`], then
/// [`Device::wake_waits`] until the caller has left its call. A wait that sees a request
/// returns `Cancelled`; commands already enqueued keep running. Checking it is one atomic
/// load (no lock).
#[derive(Debug, Default)]
pub struct WaitCancel {
    requests: AtomicU32,
}

impl WaitCancel {
    pub const fn new() -> WaitCancel {
        WaitCancel {
            requests: AtomicU32::new(0),
        }
    }

    /// Asks waits that watch this to end (counted: each request is withdrawn once).
    pub fn request(&self) {
        self.requests.fetch_add(1, Ordering::SeqCst);
    }

    /// Withdraws one request.
    pub fn withdraw(&self) {
        self.requests.fetch_sub(1, Ordering::SeqCst);
    }

    /// Whether a request is standing.
    pub fn requested(&self) -> bool {
        self.requests.load(Ordering::SeqCst) != 0
    }
}

/// Counts a host call asleep in a wait (see `Device::waiting`).
pub(super) struct Asleep<'a>(&'a AtomicU32);

impl<'a> Asleep<'a> {
    pub(super) fn enter(count: &'a AtomicU32) -> Asleep<'a> {
        count.fetch_add(1, Ordering::SeqCst);
        Asleep(count)
    }
}

impl Drop for Asleep<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// What one step of a CQ's device side did.
enum Step {
    /// Ran a command.
    Ran,
    /// Nothing to do; the ring's head was this.
    Empty(u32),
    /// Waiting on event of CQ `.0`, whose completed id was `.1`.
    Stalled(u8, u32),
    /// Took the shutdown record.
    Shutdown,
}

impl<C: Chip> Device<C> {
    /// Marks the device as driven by worker threads ([`Device::serve`]): host waits sleep
    /// instead of polling.
    pub fn set_threaded(&self, threaded: bool) {
        self.threaded.store(threaded, Ordering::Release);
    }

    /// Makes a worker that waits for another CQ's event poll for it for up to `us`
    /// microseconds before it sleeps (default 0: it sleeps after a brief spin). For workers
    /// with CPUs of their own (pinned): polling takes the operating system's wake-up latency,
    /// tens of microseconds, off the path between the two queues, as a dispatcher on the chip
    /// polls. Without `std` there are no workers and it does nothing.
    pub fn set_event_poll(&self, us: u32) {
        self.event_poll_us.store(us, Ordering::Relaxed);
    }

    /// Runs queued commands of every CQ until each is empty or stalled on an event; returns
    /// whether anything ran. Firmware calls this in its loop; with worker threads it is not
    /// needed.
    pub fn poll(&self) -> bool {
        let mut any = false;
        loop {
            let mut ran = false;
            for cq in &self.cqs[..self.num_cqs as usize] {
                while let Step::Ran | Step::Shutdown = self.step(cq) {
                    ran = true;
                }
            }
            if !ran {
                return any;
            }
            any = true;
        }
    }

    /// The device side of CQ `cq` on the calling thread, until [`Device::stop`].
    pub fn serve(&self, cq: u8) {
        let Some(queue) = self.cqs[..self.num_cqs as usize].get(cq as usize) else {
            return;
        };
        loop {
            match self.step(queue) {
                Step::Ran => {}
                Step::Shutdown => return,
                Step::Empty(head) => queue.tail.wait_change(head, None),
                Step::Stalled(other, seen) => {
                    let done = &self.cqs[other as usize].completed;
                    self.poll_while(done, seen);
                    done.wait_change(seen, None)
                }
            }
        }
    }

    /// Polls `signal` while it still reads `seen`, for at most the event poll time.
    #[cfg(feature = "std")]
    fn poll_while(&self, signal: &Signal, seen: u32) {
        let us = self.event_poll_us.load(Ordering::Relaxed);
        if us == 0 {
            return;
        }
        let start = std::time::Instant::now();
        let limit = core::time::Duration::from_micros(u64::from(us));
        while signal.load() == seen && start.elapsed() < limit {
            core::hint::spin_loop();
        }
    }
    #[cfg(not(feature = "std"))]
    fn poll_while(&self, _signal: &Signal, _seen: u32) {}

    /// Ends the host waits of other threads on this device, for its close: those waiting
    /// (event_synchronize, finish, blocking transfers, trace release) return `Cancelled`, and
    /// later waits return it at once. A blocking transfer first lets the device finish with the
    /// caller's memory. Returns once no host call is asleep in a wait. The device keeps running
    /// what was enqueued (`stop` runs the rest).
    pub fn cancel_waits(&self) {
        self.closing.store(true, Ordering::SeqCst);
        // A waiter counts itself, then checks `closing`, then sleeps: it either sees the flag or
        // is counted here, and the wakes repeat until it has left.
        while self.waiting.load(Ordering::SeqCst) != 0 {
            for cq in &self.cqs[..self.num_cqs as usize] {
                cq.completed.wake();
                cq.head.wake();
            }
            #[cfg(feature = "std")]
            std::thread::sleep(core::time::Duration::from_micros(20));
            #[cfg(not(feature = "std"))]
            core::hint::spin_loop();
        }
    }

    /// Wakes every host wait on this device once, so that a wait watching a [`WaitCancel`]
    /// sees its request (the others check their event and sleep again). A wait that went to
    /// sleep just before the wake misses it: call this until the waiter has left.
    pub fn wake_waits(&self) {
        for cq in &self.cqs[..self.num_cqs as usize] {
            cq.completed.wake();
            cq.head.wake();
        }
    }

    /// Host calls asleep in a wait now.
    #[cfg(test)]
    pub(crate) fn waiters(&self) -> u32 {
        self.waiting.load(Ordering::SeqCst)
    }

    /// Whether `cancel_waits` was called.
    #[cfg(test)]
    pub(crate) fn is_closing(&self) -> bool {
        self.closing.load(Ordering::SeqCst)
    }

    /// The first failure the device met running commands that no blocking call collected
    /// (for close, once the workers have stopped).
    pub fn take_errors(&self) -> Result<(), RuntimeError> {
        let mut first = Ok(());
        for cq in &self.cqs[..self.num_cqs as usize] {
            let r = cq.take_error();
            if first.is_ok() {
                first = r;
            }
        }
        first
    }

    /// Writes `bytes`, whole pages of `dst` back to back, from page `first` on.
    fn write_pages(&self, dst: &BufferRef, first: u32, bytes: &[u8]) -> Result<(), HalError> {
        let kind = dst.kind();
        bytes
            .chunks_exact(dst.layout.page_size() as usize)
            .zip(first..)
            .try_for_each(|(data, p)| {
                let (bank, offset) = dst.layout.page_location(p);
                self.chip.write(kind, bank, dst.addr + offset, data)
            })
    }

    fn step(&self, cq: &CommandQueue) -> Step {
        let Some(cmd) = cq.front() else {
            return Step::Empty(cq.head.load());
        };
        let mut data_end = 0;
        let result = match cmd {
            Command::Write {
                dst,
                first,
                count,
                data_at,
                data_end: end,
            } => {
                data_end = end;
                let len = count as usize * dst.layout.page_size() as usize;
                // SAFETY: the host reserved these bytes for this command and does not reuse
                // them before `pop` releases them.
                let bytes = unsafe { core::slice::from_raw_parts(cq.data(data_at, len), len) };
                self.write_pages(&dst, first, bytes)
                    .map_err(|e| (e, "write"))
            }
            Command::WriteFrom { dst, src } => {
                let len = dst.layout.num_pages() as usize * dst.layout.page_size() as usize;
                // SAFETY: the host checked that `src` holds the tensor's pages and waits for
                // this command before the caller's memory can go away.
                let bytes = unsafe { core::slice::from_raw_parts(src.ptr as *const u8, len) };
                self.write_pages(&dst, 0, bytes).map_err(|e| (e, "write"))
            }
            // SAFETY: the host checked `dst` against the tensor and the caller of a read
            // promised the buffer stays valid until the read completes.
            Command::Read { src, dst } => {
                unsafe { pages_to_host(&self.chip, &src, &dst) }.map_err(|e| (e, "read"))
            }
            Command::Program(p) => self.chip.run(&p).map_err(|e| (e, "program")),
            // A kernel reaches the chip's memory in place, where a device that has gone away
            // cannot answer: it runs only while the device is there.
            Command::Kernel(_) if self.chip.check().is_err() => {
                self.chip.check().map_err(|e| (e, "kernel"))
            }
            Command::WriteRaw { .. }
            | Command::WriteRawFrom { .. }
            | Command::ReadRaw { .. }
            | Command::Kernel(_) => {
                if let Command::WriteRaw { data_end: end, .. } = cmd {
                    data_end = end;
                }
                if let Err((text, what)) = self.run_raw(cq, &cmd) {
                    cq.set_error(format_args!(
                        "device error on CQ {} ({what}): {}",
                        cq.id,
                        text.as_str()
                    ));
                }
                cq.pop(data_end);
                return Step::Ran;
            }
            Command::Shutdown => {
                cq.pop(0);
                return Step::Shutdown;
            }
            Command::RecordEvent { id } => {
                // Retired before it is published: a host that saw the event finds the CQ's
                // head past it, so a CQ with nothing after the event looks idle at once.
                cq.pop(0);
                cq.completed.store(id);
                return Step::Ran;
            }
            Command::WaitEvent { cq: other, id } => {
                let done = self.cqs[other as usize].completed.load();
                if !reached(done, id) {
                    return Step::Stalled(other, done);
                }
                Ok(())
            }
            Command::ExecuteTrace { first, len } => (first..first + len)
                .try_for_each(|slot| {
                    // SAFETY: a published trace's slots hold its programs until release, which
                    // first waits for this CQ to finish.
                    let program = unsafe { self.store_slot(slot).read() };
                    self.chip.run(&program)
                })
                .map_err(|e| (e, "trace")),
        };
        if let Err((e, what)) = result {
            let lost = matches!(e, HalError::Lost(_));
            cq.set_error_of(
                lost,
                format_args!("device error on CQ {} ({what}): {e}", cq.id),
            );
        }
        cq.pop(data_end);
        Step::Ran
    }

    pub(super) fn is_threaded(&self) -> bool {
        self.threaded.load(Ordering::Acquire)
    }

    /// Waits for room in `cq`'s command ring.
    pub(super) fn wait_room(&self, cq: &CommandQueue) {
        loop {
            // Read before the check, so a move of the head after it wakes the wait below.
            let head = cq.head.load();
            if cq.has_room() {
                return;
            }
            if self.is_threaded() {
                cq.head.wait_change(head, None);
            } else {
                self.poll();
            }
        }
    }

    #[inline(always)]
    pub(super) fn push(&self, cq: &CommandQueue, guard: &HostGuard<'_>, cmd: Command) {
        self.wait_room(cq);
        cq.push(guard, cmd);
    }
}
