//! Tensors: allocation of their buffers (host-side bookkeeping that takes effect at once) and
//! the transfers between host buffers and tensors.

use core::sync::atomic::Ordering;

use super::trace::{ALLOC_WITH_TRACE, NO_READS, NO_WRITES};
use super::Device;
use crate::format::check_extent;
use crate::hal::layout::BufferLayout;
use crate::hal::{BufferRef, Chip};
use crate::runtime::allocator::BufferType;
use crate::runtime::command_queue::Command;
use crate::runtime::error::{fail, RuntimeError};
use crate::runtime::program_cache::signature;
use crate::runtime::tensor::{MemoryConfig, Tensor, TensorSpec};
use crate::runtime::transfer::{host_to_pages, HostBuffer};

impl<C: Chip> Device<C> {
    #[inline(always)]
    pub(super) fn layout_of(
        &self,
        spec: &TensorSpec,
        mem: &MemoryConfig,
    ) -> Result<BufferLayout, RuntimeError> {
        Ok(BufferLayout::new(
            spec.shape,
            spec.format,
            spec.layout,
            mem.buffer_type,
            mem.memory_layout,
            mem.shard,
            self.geometry,
        )?)
    }

    /// Allocates a tensor's buffer (host-side bookkeeping; nothing is enqueued).
    pub fn allocate_tensor(
        &self,
        spec: &TensorSpec,
        mem: &MemoryConfig,
    ) -> Result<Tensor, RuntimeError> {
        let layout = self.layout_of(spec, mem)?;
        self.allocate_laid_out(layout, signature(&(*spec, *mem)))
    }

    /// Allocates a buffer of `layout` for a tensor whose spec and memory config have
    /// signature `sig`.
    #[inline(always)]
    fn allocate_laid_out(&self, layout: BufferLayout, sig: u32) -> Result<Tensor, RuntimeError> {
        let addr = self.allocate_buffer(&layout)?;
        Ok(Tensor {
            device_id: self.id,
            allocated: true,
            sig,
            buffer: BufferRef { addr, layout },
        })
    }

    /// Allocates a buffer of `layout`: its base address.
    #[inline(always)]
    pub(super) fn allocate_buffer(&self, layout: &BufferLayout) -> Result<u64, RuntimeError> {
        if layout.buffer_type() == BufferType::Trace {
            return fail!(
                InvalidArgument,
                "tensors cannot be allocated in the trace region"
            );
        }
        let addr = self.books.with(|b| {
            b.allocator.allocate(
                layout.buffer_type(),
                layout.total_size(),
                layout.size_per_bank(),
                layout.banks(),
            )
        })?;
        if self.warn_next_alloc.load(Ordering::Relaxed)
            && self.traces.any()
            && self.warn_next_alloc.swap(false, Ordering::AcqRel)
        {
            log::warn!("{ALLOC_WITH_TRACE}");
        }
        Ok(addr)
    }

    /// Frees a tensor's buffer. `force` is accepted for TT-NN's signature: ttrt tensors never
    /// share a buffer, so every deallocation is forced.
    pub fn deallocate(&self, t: &mut Tensor, _force: bool) -> Result<(), RuntimeError> {
        self.own(t)?;
        if !t.allocated {
            return fail!(
                InvalidState,
                "tensor at {:#x} is already deallocated",
                t.buffer.addr
            );
        }
        self.books.with(|b| {
            b.allocator
                .deallocate(t.buffer.layout.buffer_type(), t.buffer.addr)
        })?;
        t.allocated = false;
        Ok(())
    }

    fn own(&self, t: &Tensor) -> Result<(), RuntimeError> {
        if t.device_id != self.id {
            return fail!(
                InvalidArgument,
                "tensor of device {} used on device {}",
                t.device_id,
                self.id
            );
        }
        Ok(())
    }

    pub(super) fn live(&self, t: &Tensor, what: &str) -> Result<(), RuntimeError> {
        self.own(t)?;
        if !t.allocated {
            return fail!(
                InvalidState,
                "{what} tensor was deallocated (its buffer was at {:#x})",
                t.buffer.addr
            );
        }
        Ok(())
    }

    /// Checks a host buffer against a device tensor.
    fn check_host(
        &self,
        h: &HostBuffer,
        t: &Tensor,
        direction: &'static str,
    ) -> Result<(), RuntimeError> {
        let shape = t.spec().shape.map(|d| d as usize);
        if h.shape != shape {
            return fail!(
                InvalidArgument,
                "host tensor shape {:?} does not match the device tensor's {:?}",
                h.shape,
                shape
            );
        }
        if h.ptr.is_null() {
            return fail!(InvalidArgument, "host tensor data is NULL");
        }
        if h.tiled {
            if h.format != t.spec().format {
                return fail!(
                    InvalidArgument,
                    "a TILE-layout host tensor is in the device's pages: format {} expected, found {}",
                    t.spec().format.name(),
                    h.format.name()
                );
            }
            let need = t.buffer.layout.num_pages() as usize * t.buffer.layout.page_size() as usize;
            if h.len < need {
                return fail!(
                    InvalidArgument,
                    "host tensor holds {} B; {} pages of {} B need {need} B",
                    h.len,
                    t.buffer.layout.num_pages(),
                    t.buffer.layout.page_size()
                );
            }
            return Ok(());
        }
        check_extent(h.len, h.format, h.shape, h.strides, direction)?;
        Ok(())
    }

    /// Copies a host tensor into a device tensor. The host bytes are converted into the CQ's
    /// data ring before this returns, so the caller may reuse them at once.
    pub fn write_tensor(
        &self,
        cq: u8,
        src: &HostBuffer,
        dst: &Tensor,
        blocking: bool,
    ) -> Result<(), RuntimeError> {
        let queue = self.cq(cq)?;
        let mut guard = queue.host()?;
        if Self::capture_of(&mut guard).is_some() {
            return fail!(InvalidState, "{NO_WRITES}");
        }
        self.live(dst, "destination")?;
        self.check_host(src, dst, "input")?;
        if blocking && src.tiled {
            // The caller's memory already holds the device's pages and stays valid until this
            // call returns: the device copies it from there, with no stop in the data ring.
            self.push(
                queue,
                &guard,
                Command::WriteFrom {
                    dst: dst.buffer,
                    src: *src,
                },
            );
            return self.complete_transfer(queue, &guard);
        }
        let layout = &dst.buffer.layout;
        let page = layout.page_size();
        let per_chunk = ((queue.data_cap / 2) / page).max(1) as u32;
        if page > queue.data_cap / 2 {
            return fail!(
                InvalidArgument,
                "a page of {page} B does not fit the CQ data ring of {} B",
                queue.data_cap
            );
        }
        let mut first = 0;
        while first < layout.num_pages() {
            let count = per_chunk.min(layout.num_pages() - first);
            let len = count as u64 * page;
            let (at, end) = self.reserve_data(queue, &mut guard, len);
            // SAFETY: `at..at + len` was just reserved; `src` was checked.
            let out = unsafe {
                core::slice::from_raw_parts_mut(queue.data(at, len as usize), len as usize)
            };
            // SAFETY: the C caller (or Rust wrapper) guarantees src.ptr/len; checked above.
            unsafe { host_to_pages(src, layout, first, count, self.rounding, out) }?;
            self.push(
                queue,
                &guard,
                Command::Write {
                    dst: dst.buffer,
                    first,
                    count,
                    data_at: at,
                    data_end: end,
                },
            );
            first += count;
        }
        if blocking {
            self.complete(queue, &guard)?;
        }
        Ok(())
    }

    /// Copies a device tensor into a host buffer. Non-blocking: the buffer is filled later, and
    /// is valid after an event, finish or synchronize that follows.
    ///
    /// # Safety
    /// `dst.ptr` must be valid for writes of `dst.len` bytes until the read completes, and not
    /// read or written by anyone else until then.
    pub unsafe fn read_tensor(
        &self,
        cq: u8,
        src: &Tensor,
        dst: HostBuffer,
        blocking: bool,
    ) -> Result<(), RuntimeError> {
        let queue = self.cq(cq)?;
        let mut guard = queue.host()?;
        if Self::capture_of(&mut guard).is_some() {
            return fail!(InvalidState, "{NO_READS}");
        }
        self.live(src, "source")?;
        self.check_host(&dst, src, "output")?;
        self.push(
            queue,
            &guard,
            Command::Read {
                src: src.buffer,
                dst,
            },
        );
        if blocking {
            self.complete_transfer(queue, &guard)?;
        }
        Ok(())
    }
}
