//! Byte transfers to and from chip memory by (bank, address), and kernels: what a runtime
//! built on command queues needs when its buffers are not tensors (Buda queues sit at the
//! DRAM channel and address their netlist gives, with a header the device and host share).
//!
//! Both go through the command queues like every other command, so they are ordered with the
//! CQ's other work and with events between CQs.

use core::fmt;

use super::trace::{NO_READS, NO_WRITES};
use super::Device;
use crate::hal::{Chip, MemKind};
use crate::message::MessageBuf;
use crate::runtime::command_queue::{Command, CommandQueue, HostGuard};
use crate::runtime::error::{fail, RuntimeError};
use crate::runtime::event::Event;

/// Text a failing kernel leaves for the host.
pub type KernelMessage = MessageBuf<256>;

/// A kernel's entry point: runs on the device side of a CQ with the kernel's context word and
/// the chip; on failure it writes one line into the message and returns `false`.
pub type KernelFn = fn(ctx: usize, chip: &dyn Chip, error: &mut KernelMessage) -> bool;

/// A device program given as code: on the simulated chip it runs on the CQ's worker, the way
/// compiled kernels run on silicon.
#[derive(Clone, Copy)]
pub struct Kernel {
    pub entry: KernelFn,
    /// What the entry point works on (its owner keeps it alive until the kernel has run).
    pub ctx: usize,
}

impl fmt::Debug for Kernel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Kernel {{ ctx: {:#x} }}", self.ctx)
    }
}

impl<C: Chip> Device<C> {
    /// Checks that `len` bytes at `addr` of `bank` lie inside the chip.
    fn check_span(
        &self,
        kind: MemKind,
        bank: u32,
        addr: u64,
        len: usize,
    ) -> Result<(), RuntimeError> {
        let g = self.chip.geometry();
        let (banks, size) = (g.banks(kind), g.bank_size(kind));
        if bank >= banks || addr.checked_add(len as u64).is_none_or(|end| end > size) {
            return fail!(
                InvalidArgument,
                "{} access of {len} B at {addr:#x} in bank {bank} is outside the chip ({banks} banks of {size} B)",
                kind.name()
            );
        }
        Ok(())
    }

    /// Room for `len` bytes in `queue`'s data ring, waiting while the device holds it.
    pub(super) fn reserve_data(
        &self,
        queue: &CommandQueue,
        guard: &mut HostGuard<'_>,
        len: u64,
    ) -> (u64, u64) {
        loop {
            let head = queue.head.load();
            if let Some(r) = queue.reserve(guard.side(), len) {
                return r;
            }
            if self.is_threaded() {
                queue.head.wait_change(head, None);
            } else {
                self.poll();
            }
        }
    }

    /// Writes `src` at `addr` of `bank`. The bytes are copied into the CQ's data ring before
    /// this returns, so the caller may reuse `src` at once; with `blocking` it also waits for
    /// the write (and returns the CQ's pending device error, if any).
    pub fn write_raw(
        &self,
        cq: u8,
        kind: MemKind,
        bank: u32,
        addr: u64,
        src: &[u8],
        blocking: bool,
    ) -> Result<(), RuntimeError> {
        let queue = self.cq(cq)?;
        let mut guard = queue.host()?;
        if Self::capture_of(&mut guard).is_some() {
            return fail!(InvalidState, "{NO_WRITES}");
        }
        self.check_span(kind, bank, addr, src.len())?;
        if blocking {
            // The caller's bytes stay borrowed until the write completes: the device copies
            // them from there, with no stop in the data ring.
            self.push(
                queue,
                &guard,
                Command::WriteRawFrom {
                    kind,
                    bank,
                    addr,
                    src: src.as_ptr() as usize,
                    len: src.len(),
                },
            );
            return self.complete_transfer(queue, &guard);
        }
        let chunk = (queue.data_cap / 2).max(1) as usize;
        for (i, part) in src.chunks(chunk).enumerate() {
            let len = part.len() as u64;
            let (at, end) = self.reserve_data(queue, &mut guard, len);
            // SAFETY: `at..at + len` was just reserved for this command.
            unsafe {
                core::ptr::copy_nonoverlapping(
                    part.as_ptr(),
                    queue.data(at, part.len()),
                    part.len(),
                )
            };
            self.push(
                queue,
                &guard,
                Command::WriteRaw {
                    kind,
                    bank,
                    addr: addr + (i * chunk) as u64,
                    len: part.len() as u32,
                    data_at: at,
                    data_end: end,
                },
            );
        }
        Ok(())
    }

    /// Reads `dst.len()` bytes at `addr` of `bank`, in order with the CQ's other commands,
    /// and waits for them.
    pub fn read_raw(
        &self,
        cq: u8,
        kind: MemKind,
        bank: u32,
        addr: u64,
        dst: &mut [u8],
    ) -> Result<(), RuntimeError> {
        let queue = self.cq(cq)?;
        let mut guard = queue.host()?;
        if Self::capture_of(&mut guard).is_some() {
            return fail!(InvalidState, "{NO_READS}");
        }
        self.check_span(kind, bank, addr, dst.len())?;
        self.push(
            queue,
            &guard,
            Command::ReadRaw {
                kind,
                bank,
                addr,
                dst: dst.as_mut_ptr() as usize,
                len: dst.len(),
            },
        );
        // `dst` is borrowed until the read has completed: this waits for it.
        self.complete_transfer(queue, &guard)
    }

    /// Enqueues `kernel` on `cq`. Kernels are not captured into traces.
    ///
    /// # Safety
    /// Whatever `kernel.ctx` refers to must stay valid, and be safe for the kernel to use from
    /// the CQ's worker thread, until the kernel has run (a later event, finish or synchronize
    /// on `cq` tells).
    pub unsafe fn enqueue_kernel(&self, cq: u8, kernel: Kernel) -> Result<(), RuntimeError> {
        let queue = self.cq(cq)?;
        let mut guard = queue.host()?;
        if Self::capture_of(&mut guard).is_some() {
            return fail!(
                InvalidState,
                "kernels cannot be captured into a trace (CQ {cq} is capturing)"
            );
        }
        self.push(queue, &guard, Command::Kernel(kernel));
        Ok(())
    }

    /// Runs `f` with the chip on the calling thread, in `cq`'s order: after every command
    /// enqueued on `cq` before has completed, and before any enqueued after (the call holds
    /// the CQ's host side throughout). For host code that accesses chip memory in place
    /// ([`Chip::map`]) as a transfer command would: an idle CQ is not waited for, so nothing
    /// goes through the CQ's worker. Returns the CQ's pending device error instead, if any.
    pub fn run_inline<R>(&self, cq: u8, f: impl FnOnce(&C) -> R) -> Result<R, RuntimeError> {
        self.inline(cq, "transfers", f)
    }

    /// Runs `kernel` on the calling thread in `cq`'s order, as [`Device::run_inline`] runs
    /// host code, once `after` (an event of any CQ of this device) has completed: what
    /// enqueueing it after a wait for `after`, then finishing `cq`, gives, without the hand-off
    /// to and from the CQ's worker. The host waits for `after`; its CQ's errors stay for that
    /// CQ's next blocking call. A failing kernel's text comes back as the error a worker leaves
    /// for the next blocking call. The kernel reads its context during this call only.
    pub fn run_kernel_inline(
        &self,
        cq: u8,
        after: Option<&Event>,
        kernel: Kernel,
    ) -> Result<(), RuntimeError> {
        if let Some(ev) = after {
            let (queue, issued) = self.check_event(ev)?;
            if issued == crate::runtime::event::Issued::Recent {
                self.wait_event(queue, ev.id, None, super::events::OnClose::Return, None)?;
            }
        }
        if let Err(e) = self.chip.check() {
            return fail!(DeviceLost, "device error on CQ {cq} (kernel): {e}");
        }
        let mut message = KernelMessage::new();
        let chip: &dyn Chip = &self.chip;
        if self.inline(cq, "kernels", |_| {
            (kernel.entry)(kernel.ctx, chip, &mut message)
        })? {
            return Ok(());
        }
        fail!(
            Device,
            "device error on CQ {cq} (kernel): {}",
            message.as_str()
        )
    }

    /// Runs graph `graph` of the graphs `handle` names (loaded into the chip's graph firmware)
    /// with the settings at `settings`, on the calling thread in `cq`'s order once `after` has
    /// completed, as [`Device::run_kernel_inline`] runs a kernel. A failing graph's text comes
    /// back as the device error.
    pub fn run_graph_inline(
        &self,
        cq: u8,
        after: Option<&Event>,
        handle: u32,
        graph: u32,
        settings: &crate::hal::DeviceRange,
    ) -> Result<(), RuntimeError> {
        if let Some(ev) = after {
            let (queue, issued) = self.check_event(ev)?;
            if issued == crate::runtime::event::Issued::Recent {
                self.wait_event(queue, ev.id, None, super::events::OnClose::Return, None)?;
            }
        }
        match self.inline(cq, "graphs", |chip| chip.run_graph(handle, graph, settings))? {
            Ok(()) => Ok(()),
            Err(e @ crate::hal::HalError::Lost(_)) => {
                fail!(DeviceLost, "device error on CQ {cq} (kernel): {e}")
            }
            Err(e) => fail!(Device, "device error on CQ {cq} (kernel): {e}"),
        }
    }

    fn inline<R>(&self, cq: u8, what: &str, f: impl FnOnce(&C) -> R) -> Result<R, RuntimeError> {
        let queue = self.cq(cq)?;
        let mut guard = queue.host()?;
        if Self::capture_of(&mut guard).is_some() {
            return fail!(
                InvalidState,
                "{what} cannot be captured into a trace (CQ {cq} is capturing)"
            );
        }
        if queue.head.load() == queue.tail.load() {
            queue.take_error()?;
        } else {
            self.complete(queue, &guard)?;
        }
        Ok(f(&self.chip))
    }

    /// Runs a raw write or read, or a kernel, on the device side.
    // The failure carries the kernel's text to the CQ's error slot; it is built in place on
    // the device side's stack, once per failing command.
    #[allow(clippy::result_large_err)]
    pub(super) fn run_raw(
        &self,
        queue: &CommandQueue,
        cmd: &Command,
    ) -> Result<(), (KernelMessage, &'static str)> {
        let mut message = KernelMessage::new();
        match *cmd {
            Command::WriteRaw {
                kind,
                bank,
                addr,
                len,
                data_at,
                ..
            } => {
                // SAFETY: the host reserved these bytes for this command; they are released
                // after it.
                let bytes = unsafe {
                    core::slice::from_raw_parts(queue.data(data_at, len as usize), len as usize)
                };
                self.chip.write(kind, bank, addr, bytes).map_err(|e| {
                    message.set(format_args!("{e}"));
                    (message, "write")
                })
            }
            Command::WriteRawFrom {
                kind,
                bank,
                addr,
                src,
                len,
            } => {
                // SAFETY: the host waits for this command while it borrows the source.
                let bytes = unsafe { core::slice::from_raw_parts(src as *const u8, len) };
                self.chip.write(kind, bank, addr, bytes).map_err(|e| {
                    message.set(format_args!("{e}"));
                    (message, "write")
                })
            }
            Command::ReadRaw {
                kind,
                bank,
                addr,
                dst,
                len,
            } => {
                // SAFETY: the host waits for this command while it borrows `dst` mutably.
                let out = unsafe { core::slice::from_raw_parts_mut(dst as *mut u8, len) };
                self.chip.read(kind, bank, addr, out).map_err(|e| {
                    message.set(format_args!("{e}"));
                    (message, "read")
                })
            }
            Command::Kernel(k) => {
                if (k.entry)(k.ctx, &self.chip, &mut message) {
                    Ok(())
                } else {
                    Err((message, "kernel"))
                }
            }
            _ => Ok(()),
        }
    }
}
