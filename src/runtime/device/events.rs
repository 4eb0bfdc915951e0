//! Events within and between command queues, and the host waits for them: record, wait,
//! query, finish and synchronize.

use core::sync::atomic::Ordering;

use super::trace::NO_EVENTS;
use super::workers::{Asleep, WaitCancel};
use super::Device;
use crate::hal::Chip;
use crate::runtime::command_queue::{Command, CommandQueue, HostGuard};
use crate::runtime::error::{fail, ErrorKind, RuntimeError};
use crate::runtime::event::{issued, reached, Event, Issued};

/// What a host wait does when the device starts closing.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum OnClose {
    /// Return `Cancelled` at once.
    Return,
    /// The device still holds the caller's memory (a blocking transfer from or to it): wait
    /// until the command has run (close runs what was enqueued), then return `Cancelled`.
    FinishFirst,
}

impl<C: Chip> Device<C> {
    /// Waits until event `id` of `cq` completes, at most `timeout_us` (None: no limit), or,
    /// per `on_close`, until the device starts closing.
    pub(super) fn wait_event(
        &self,
        cq: &CommandQueue,
        id: u32,
        timeout_us: Option<u64>,
        on_close: OnClose,
        cancel: Option<&WaitCancel>,
    ) -> Result<(), RuntimeError> {
        let clock = Clock::start();
        let mut closed_meanwhile = false;
        loop {
            let done = cq.completed.load();
            if reached(done, id) {
                // A close that began while this call waited may have woken it only through
                // the completion: the flag itself tells.
                if closed_meanwhile
                    || (on_close == OnClose::FinishFirst && self.closing.load(Ordering::SeqCst))
                {
                    return fail!(
                        Cancelled,
                        "the device was closed while this call waited for event {id} on CQ {} \
                         of device {} (the device finished with the call's memory first)",
                        cq.id,
                        self.id
                    );
                }
                return Ok(());
            }
            if let Some(c) = cancel {
                // Read after the waker's request (it wakes until this call has left), so a
                // wake that comes before the sleep below changes `completed` or repeats.
                if c.requested() {
                    return fail!(
                        Cancelled,
                        "the wait for event {id} on CQ {} of device {} was cancelled",
                        cq.id,
                        self.id
                    );
                }
            }
            if !self.is_threaded() {
                // The caller drives the device: run what is queued; if nothing can run, the
                // event can never complete.
                if !self.poll() && !reached(cq.completed.load(), id) {
                    return fail!(
                        InvalidState,
                        "event {id} on CQ {} of device {} cannot complete: no command can run",
                        cq.id,
                        self.id
                    );
                }
                continue;
            }
            let left = match timeout_us {
                None => None,
                Some(limit) => match limit.checked_sub(clock.elapsed_us()) {
                    Some(left) if left > 0 => Some(left),
                    _ => {
                        return fail!(
                            Timeout,
                            "event {id} on CQ {} of device {} did not complete within {} ms",
                            cq.id,
                            self.id,
                            limit / 1000
                        )
                    }
                },
            };
            let _asleep = Asleep::enter(&self.waiting);
            if self.closing.load(Ordering::SeqCst) {
                if on_close == OnClose::Return {
                    return fail!(
                        Cancelled,
                        "the device was closed while this call waited for event {id} on CQ {} \
                         of device {}",
                        cq.id,
                        self.id
                    );
                }
                closed_meanwhile = true;
            }
            cq.completed.wait_change(done, left);
        }
    }

    /// Issues an event on `cq` (the caller holds its host side) and returns its id.
    pub(super) fn issue_event(&self, cq: &CommandQueue, guard: &HostGuard<'_>) -> u32 {
        let mut id = cq.issued.load(Ordering::Relaxed).wrapping_add(1);
        if id == 0 {
            // Ids count from 1 and wrap past 2^32 - 1 back to 1.
            id = 1;
            cq.wrapped.store(true, Ordering::Release);
        }
        self.wait_room(cq);
        cq.issued.store(id, Ordering::Release);
        cq.push(guard, Command::RecordEvent { id });
        id
    }

    /// Issues an event, waits for it and returns the first device error since the last call.
    pub(super) fn complete(
        &self,
        cq: &CommandQueue,
        guard: &HostGuard<'_>,
    ) -> Result<(), RuntimeError> {
        let id = self.issue_event(cq, guard);
        self.wait_event(cq, id, None, OnClose::Return, None)?;
        cq.take_error()
    }

    /// [`Device::complete`] for a blocking transfer whose command reads or writes the caller's
    /// memory: when the device closes meanwhile, it returns only once the device is done with
    /// that memory.
    pub(super) fn complete_transfer(
        &self,
        cq: &CommandQueue,
        guard: &HostGuard<'_>,
    ) -> Result<(), RuntimeError> {
        let id = self.issue_event(cq, guard);
        self.wait_event(cq, id, None, OnClose::FinishFirst, None)?;
        cq.take_error()
    }

    /// Waits until every command enqueued on `cq` has completed.
    pub fn finish(&self, cq: u8) -> Result<(), RuntimeError> {
        self.finish_or_cancel(cq, None)
    }

    /// [`Device::finish`] whose wait also ends at a request of `cancel`.
    fn finish_or_cancel(&self, cq: u8, cancel: Option<&WaitCancel>) -> Result<(), RuntimeError> {
        let queue = self.cq(cq)?;
        let mut guard = queue.host()?;
        if let Some((tid, _)) = Self::capture_of(&mut guard) {
            return fail!(
                InvalidState,
                "Finish is not supported during trace capture (CQ {cq} is capturing trace {tid})."
            );
        }
        let id = self.issue_event(queue, &guard);
        self.wait_event(queue, id, None, OnClose::Return, cancel)?;
        queue.take_error()
    }

    /// Waits for every CQ.
    pub fn synchronize(&self) -> Result<(), RuntimeError> {
        let mut first = Ok(());
        for cq in 0..self.num_cqs {
            let r = self.finish(cq);
            if first.is_ok() {
                first = r;
            }
        }
        first
    }

    /// [`Device::synchronize`] that ends with `Cancelled` once `cancel` has a request (see
    /// [`WaitCancel`]); the commands enqueued keep running.
    pub fn synchronize_or_cancel(&self, cancel: &WaitCancel) -> Result<(), RuntimeError> {
        let mut first = Ok(());
        for cq in 0..self.num_cqs {
            let r = self.finish_or_cancel(cq, Some(cancel));
            if let Err(e) = &r {
                if e.kind == ErrorKind::Cancelled {
                    return r;
                }
            }
            if first.is_ok() {
                first = r;
            }
        }
        first
    }

    pub fn record_event(&self, cq: u8) -> Result<Event, RuntimeError> {
        let queue = self.cq(cq)?;
        let mut guard = queue.host()?;
        if Self::capture_of(&mut guard).is_some() {
            return fail!(InvalidState, "{NO_EVENTS}");
        }
        let id = self.issue_event(queue, &guard);
        Ok(Event {
            device_id: self.id,
            cq_id: cq,
            id,
        })
    }

    /// The CQ of `ev`, checked to be this device's, and where `ev.id` stands among the ids
    /// issued on it.
    fn event_queue(&self, ev: &Event) -> Result<(&CommandQueue, Issued), RuntimeError> {
        if ev.device_id != self.id {
            return fail!(
                InvalidArgument,
                "event of device {} used on device {}",
                ev.device_id,
                self.id
            );
        }
        let queue = self.cq(ev.cq_id)?;
        let wrapped = queue.wrapped.load(Ordering::Acquire);
        let last = queue.issued.load(Ordering::Acquire);
        Ok((queue, issued(last, wrapped, ev.id)))
    }

    /// Checks that `ev` belongs to this device and was issued: ids 1 to the last recorded
    /// (any nonzero id once the ids have wrapped).
    pub(super) fn check_event(&self, ev: &Event) -> Result<(&CommandQueue, Issued), RuntimeError> {
        let (queue, issued) = self.event_queue(ev)?;
        if issued == Issued::Never {
            return fail!(
                InvalidArgument,
                "event {} on CQ {} of device {} was never recorded (the last recorded id is {})",
                ev.id,
                ev.cq_id,
                self.id,
                queue.issued.load(Ordering::Acquire)
            );
        }
        Ok((queue, issued))
    }

    /// Makes `cq` wait for `ev` (the host does not wait).
    pub fn wait_for_event(&self, cq: u8, ev: &Event) -> Result<(), RuntimeError> {
        let queue = self.cq(cq)?;
        let mut guard = queue.host()?;
        if Self::capture_of(&mut guard).is_some() {
            return fail!(InvalidState, "{NO_EVENTS}");
        }
        if self.check_event(ev)?.1 == Issued::Old {
            // Completed long ago: nothing to wait for (the device compares recent ids only).
            return Ok(());
        }
        self.push(
            queue,
            &guard,
            Command::WaitEvent {
                cq: ev.cq_id,
                id: ev.id,
            },
        );
        Ok(())
    }

    /// Blocks the host until `ev` completes (`timeout_ms < 0`: no limit).
    pub fn event_synchronize(&self, ev: &Event, timeout_ms: i32) -> Result<(), RuntimeError> {
        let (queue, issued) = self.check_event(ev)?;
        if issued == Issued::Recent {
            let timeout = (timeout_ms >= 0).then(|| timeout_ms as u64 * 1000);
            self.wait_event(queue, ev.id, timeout, OnClose::Return, None)?;
        }
        queue.take_error()
    }

    /// Whether `ev` has completed. An id never recorded is refused, as by the waits.
    pub fn event_query(&self, ev: &Event) -> Result<bool, RuntimeError> {
        let (queue, issued) = self.check_event(ev)?;
        if issued == Issued::Old {
            return Ok(true);
        }
        if !self.is_threaded() {
            self.poll();
        }
        Ok(reached(queue.completed.load(), ev.id))
    }
}

/// Time since a start, where there is a clock (`std`); without one, waits have no time limit
/// other than "nothing can run".
struct Clock {
    #[cfg(feature = "std")]
    start: std::time::Instant,
}

impl Clock {
    fn start() -> Clock {
        Clock {
            #[cfg(feature = "std")]
            start: std::time::Instant::now(),
        }
    }

    fn elapsed_us(&self) -> u64 {
        #[cfg(feature = "std")]
        return self.start.elapsed().as_micros() as u64;
        #[cfg(not(feature = "std"))]
        return 0;
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;
    use crate::hal::select::AnyChip;
    use crate::runtime::DeviceConfig;

    /// A device driven by the host's own polls (no workers), its CQ 0's event ids moved to
    /// `last` as if that many events had been recorded and completed.
    fn device_at(last: u32) -> Device<AnyChip> {
        let config = DeviceConfig {
            num_command_queues: 2,
            ..DeviceConfig::default()
        };
        let d = Device::new(config, AnyChip::open("sim", config.arch).unwrap()).unwrap();
        d.cqs[0].issued.store(last, Ordering::Release);
        d.cqs[0].completed.store(last);
        d
    }

    fn ev(id: u32) -> Event {
        Event {
            device_id: 0,
            cq_id: 0,
            id,
        }
    }

    #[test]
    fn event_ids_wrap_from_2_pow_32_minus_1_to_1_and_stay_valid() {
        let d = device_at(0xFFFF_FFFE);
        assert_eq!(d.record_event(0).unwrap().id, 0xFFFF_FFFF);
        assert_eq!(d.record_event(0).unwrap().id, 1, "0 is skipped on the wrap");
        // CQ 1 waits for ids on both sides of the wrap: the device sees them complete.
        d.wait_for_event(1, &ev(0xFFFF_FFFF)).unwrap();
        d.wait_for_event(1, &ev(1)).unwrap();
        d.finish(1).unwrap();
        for id in [0xFFFF_FFFE, 0xFFFF_FFFF, 1] {
            assert!(d.event_query(&ev(id)).unwrap(), "id {id:#x}");
            d.event_synchronize(&ev(id), -1).unwrap();
        }
        // After the wrap every nonzero id was recorded once; those older than the last 2^31
        // are long complete (the CQ was still on its first lap then).
        assert!(d.event_query(&ev(2)).unwrap());
        d.wait_for_event(1, &ev(0x8000_0001)).unwrap();
        d.event_synchronize(&ev(0x8000_0001), 0).unwrap();
        d.finish(1).unwrap();
        let e = d.event_query(&ev(0)).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidArgument);
        // A record after the wrap is pending until the device runs it, then complete.
        let next = d.record_event(0).unwrap();
        assert_eq!(next.id, 2);
        d.event_synchronize(&next, -1).unwrap();
        assert!(d.event_query(&next).unwrap());
    }
}
