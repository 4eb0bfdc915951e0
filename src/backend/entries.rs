//! Queue entries to and from host tensors: the conversions push and get make, and the reads,
//! writes and copies of graph kernels.
//!
//! Where the side's memory maps the queue in place (the simulated chip's DRAM and host memory,
//! see `Chip::map`) and every core's share of an entry is one rectangle
//! of the host tensor (`QueueLayout::core_share`), an entry converts straight between the
//! tensor and the queue's slot, core by core: no staging copy. Otherwise it converts into a
//! staging buffer (tilize's layout) that moves through the side's read and write.
//!
//! Push and get convert on the calling thread: with two CQs in the io CQ's order
//! (`Device::run_inline`), with one straight on the chip. The queues' pointers order them with
//! the graphs (see the backend module).

use alloc::vec::Vec;

use super::error::RunError;
use super::queue::{staging, Mem, QueueRt};
use crate::format::{tilize, untilize, HostTensor, HostTensorMut, QueueLayout, Rounding};

impl QueueRt {
    /// Bytes of one buffer: the header and every slot.
    #[cfg(test)]
    fn io_size(&self) -> usize {
        self.header_size + self.entries as usize * self.entry_size
    }

    /// The slot `slot` of buffer `b` in place, if `mem` maps it.
    fn slot_in_place(&self, mem: &dyn Mem, b: usize, slot: usize) -> Option<*mut u8> {
        let offset = self.header_size + slot * self.entry_size;
        let (bank, addr) = self.mem.buffers[b];
        mem.map(self.mem.kind, bank, addr + offset as u64, self.entry_size)
    }

    /// Whether every buffer of the queue is in place for `mem`.
    fn in_place(&self, mem: &dyn Mem) -> bool {
        (0..self.buffers).all(|b| self.slot_in_place(mem, b, 0).is_some())
    }

    /// Slot `slot` of buffer `b` in place, as bytes; the caller checked `in_place`.
    ///
    /// # Safety
    /// No other access to the slot's bytes may overlap the returned slice's use: the queue's
    /// pointers give the slot to the calling side.
    unsafe fn slot_bytes<'s>(&self, mem: &dyn Mem, b: usize, slot: usize) -> &'s mut [u8] {
        match self.slot_in_place(mem, b, slot) {
            // SAFETY: the map covers `entry_size` bytes (inside the queue's buffer, which
            // QueueRt::new checked against the chip); exclusive per the caller's promise.
            Some(p) => unsafe { core::slice::from_raw_parts_mut(p, self.entry_size) },
            None => &mut [],
        }
    }

    /// The layout and size of one core's share, and the core's (row, col) in the grid, when
    /// the queue converts in place for `mem`.
    fn shares(&self, mem: &dyn Mem) -> Option<(QueueLayout, usize, usize)> {
        let share = self.layout.core_share()?;
        self.in_place(mem).then_some(share)
    }

    fn core_of(&self, b: usize) -> (usize, usize) {
        let grid_c = self.layout.grid_c as usize;
        (b / grid_c, b % grid_c)
    }

    /// Converts the W entries of `src` into the slots from pointer `first` on (wrapping).
    pub fn tilize_entries(
        &self,
        mem: &dyn Mem,
        first: u32,
        src: &HostTensor<'_>,
        staging_buf: &mut Vec<u8>,
    ) -> Result<(), RunError> {
        let n = src.shape[0];
        let fail = |error| RunError::Format {
            queue: self.name.clone(),
            error,
        };
        let rounding = Rounding::default();
        let Some((share, rows, cols)) = self.shares(mem) else {
            let buf = staging(staging_buf, self.bytes_for(n));
            tilize(src, &self.layout, rounding, buf).map_err(fail)?;
            return self.write_entries(mem, first, n, buf);
        };
        for w in 0..n {
            let slot = (first as usize + w) % self.entries as usize;
            for b in 0..self.buffers {
                let (gr, gc) = self.core_of(b);
                let part = src.window(w, gr * rows, gc * cols, rows, cols);
                // SAFETY: the slot is past the write pointer: no other side reads it.
                let dst = unsafe { self.slot_bytes(mem, b, slot) };
                tilize(&part, &share, rounding, dst).map_err(fail)?;
            }
        }
        Ok(())
    }

    /// Converts the entries from pointer `first` on (wrapping) into `dst`, whose outermost
    /// dimension is the number of entries.
    pub fn untilize_entries(
        &self,
        mem: &dyn Mem,
        first: u32,
        dst: &mut HostTensorMut<'_>,
        staging_buf: &mut Vec<u8>,
    ) -> Result<(), RunError> {
        let n = dst.shape[0];
        let fail = |error| RunError::Format {
            queue: self.name.clone(),
            error,
        };
        let Some((share, rows, cols)) = self.shares(mem) else {
            let buf = staging(staging_buf, self.bytes_for(n));
            self.read_entries(mem, first, n, buf)?;
            return untilize(buf, &self.layout, dst).map_err(fail);
        };
        for w in 0..n {
            let slot = (first as usize + w) % self.entries as usize;
            for b in 0..self.buffers {
                let (gr, gc) = self.core_of(b);
                let mut part = dst.window(w, gr * rows, gc * cols, rows, cols);
                // SAFETY: the slot is before the write pointer: its writer is done with it,
                // and it is not written again before the read pointer passes it.
                let src = unsafe { self.slot_bytes(mem, b, slot) };
                untilize(src, &share, &mut part).map_err(fail)?;
            }
        }
        Ok(())
    }

    /// Copies the entry at pointer `at` into slot `wr` of `to`, which lays entries out alike.
    pub fn copy_entry(
        &self,
        mem: &dyn Mem,
        at: u32,
        to: &QueueRt,
        wr: u32,
        staging_buf: &mut Vec<u8>,
    ) -> Result<(), RunError> {
        debug_assert!(self.layout == to.layout);
        if self.in_place(mem) && to.in_place(mem) {
            let (from_slot, to_slot) = ((at % self.entries) as usize, (wr % to.entries) as usize);
            for b in 0..self.buffers {
                let (src, dst) = (
                    self.slot_in_place(mem, b, from_slot),
                    to.slot_in_place(mem, b, to_slot),
                );
                if let (Some(src), Some(dst)) = (src, dst) {
                    // SAFETY: both spans are `entry_size` bytes inside their queues (same
                    // layout, so the same entry size); the source slot is written and the
                    // destination free, per the pointers. `copy` allows overlapping queues.
                    unsafe { core::ptr::copy(src, dst, self.entry_size) };
                }
            }
            return Ok(());
        }
        let buf = staging(staging_buf, self.bytes_for(1));
        self.read_entries(mem, at, 1, buf)?;
        to.write_entries(mem, wr, 1, buf)
    }
}

#[cfg(test)]
mod tests {
    //! The in-place conversions against the staging path they replace (tilize's layout moved
    //! by `read_entries` / `write_entries`), on queues of several grids, formats, layouts and
    //! locations, across the end of the queue.

    use super::super::error::RunError;
    use super::super::queue::{ChipMem, HostPlacer, Mem, QueueRt};
    use super::super::shared::QueueState;
    use crate::format::{tilize, untilize, Arch, DataFormat, HostTensor, HostTensorMut, Rounding};
    use crate::hal::select::AnyChip;
    use crate::hal::{Chip, MemKind};
    use alloc::vec::Vec;

    const NETLIST: &str = r#"
devices:
  arch: wormhole_b0
queues:
  grid:  {type: queue, input: HOST, entries: 3, grid_size: [2, 3], t: 2, mblock: [2, 1], ublock: [1, 2], df: Bfp8_b, target_device: 0, loc: dram, dram: [[0, 0x1000000], [1, 0x1000000], [2, 0x1000000], [3, 0x1000000], [4, 0x1000000], [5, 0x1000000]]}
  grid2: {type: queue, input: HOST, entries: 4, grid_size: [2, 3], t: 2, mblock: [2, 1], ublock: [1, 2], df: Bfp8_b, target_device: 0, loc: dram, dram: [[0, 0x3000000], [1, 0x3000000], [2, 0x3000000], [3, 0x3000000], [4, 0x3000000], [5, 0x3000000]]}
  col:   {type: queue, input: HOST, entries: 2, grid_size: [1, 2], t: 1, mblock: [1, 2], ublock: [2, 1], ublock_order: c, df: Float32, target_device: 0, loc: dram, dram: [[0, 0x5000000], [1, 0x5000000]]}
  flat:  {type: queue, input: HOST, entries: 2, grid_size: [1, 2], t: 1, mblock: [1, 1], ublock: [1, 1], df: Float16_b, layout: flat, target_device: 0, loc: dram, dram: [[2, 0x5000000], [3, 0x5000000]]}
  host:  {type: queue, input: HOST, entries: 2, grid_size: [2, 1], t: 1, mblock: [1, 1], ublock: [1, 1], df: Float16, target_device: 0, loc: host, host: [0x0, 0x10000]}
graphs:
  g:
    target_device: 0
    input_count: 1
    op: {type: datacopy, grid_loc: [0, 0], grid_size: [1, 1], inputs: [col], in_df: [Float32], acc_df: Float32, out_df: Float32, intermed_df: Float32, ublock_order: r, buf_size_mb: 2, math_fidelity: HiFi3, untilize_output: false, t: 1, mblock: [1, 1], ublock: [1, 1]}
programs:
  - run:
      - execute: {graph_name: g, queue_settings: {col: {prologue: false, epilogue: false, zero: false, rd_ptr_local: 0, rd_ptr_global: 0}}}
"#;

    /// The chip, seen without its in-place view: what a transport over PCIe gives.
    struct NoMap<'a>(ChipMem<'a>);

    impl Mem for NoMap<'_> {
        fn write(&self, kind: MemKind, bank: u32, addr: u64, bytes: &[u8]) -> Result<(), RunError> {
            self.0.write(kind, bank, addr, bytes)
        }
        fn read(
            &self,
            kind: MemKind,
            bank: u32,
            addr: u64,
            bytes: &mut [u8],
        ) -> Result<(), RunError> {
            self.0.read(kind, bank, addr, bytes)
        }
    }

    fn queue(name: &str, chip: &dyn Chip) -> QueueRt {
        let n = crate::netlist::parse(NETLIST, "entries.yaml").unwrap();
        let q = n.queue(name).unwrap();
        let budget = crate::runtime::host_memory::HostMemoryBudget::default();
        let mut host = HostPlacer::new(chip, budget, 4096);
        let state = alloc::boxed::Box::leak(alloc::boxed::Box::new(QueueState::new()));
        QueueRt::new(&n, q, Arch::WormholeB0, chip, &mut host, state, false).unwrap()
    }

    /// Every byte of every buffer of `q`.
    fn contents(q: &QueueRt, chip: &dyn Chip) -> Vec<u8> {
        let io = q.io_size();
        q.mem
            .buffers
            .iter()
            .flat_map(|&(bank, addr)| {
                let mut b = alloc::vec![0u8; io];
                chip.read(q.mem.kind, bank, addr, &mut b).unwrap();
                b
            })
            .collect()
    }

    fn tensor(q: &QueueRt, w: usize, seed: u32) -> Vec<u8> {
        let n: usize = q.layout.host_shape(w).iter().product();
        (0..n as u32)
            .flat_map(|i| {
                let v = ((i.wrapping_mul(2654435761) ^ seed) % 2001) as f32 / 64.0 - 15.0;
                v.to_le_bytes()
            })
            .collect()
    }

    #[test]
    fn in_place_conversions_write_and_read_what_the_staging_path_does() {
        let (a, b) = (
            AnyChip::open("sim", Arch::WormholeB0).unwrap(),
            AnyChip::open("sim", Arch::WormholeB0).unwrap(),
        );
        for name in ["grid", "col", "flat", "host"] {
            let (qa, qb) = (queue(name, &a), queue(name, &b));
            let (in_place, staged) = (ChipMem(&a), NoMap(ChipMem(&b)));
            let (mut sa, mut sb) = (Vec::new(), Vec::new());
            // Two entries from the last slot on: the second wraps to slot 0.
            let first = qa.entries - 1;
            let data = tensor(&qa, 2, 7);
            let src = HostTensor::contiguous(&data, DataFormat::Float32, qa.layout.host_shape(2));
            qa.tilize_entries(&in_place, first, &src, &mut sa).unwrap();
            qb.tilize_entries(&staged, first, &src, &mut sb).unwrap();
            // The staging path: the whole tensor tilized, moved slot by slot.
            let mut expected = alloc::vec![0u8; qa.bytes_for(2)];
            tilize(&src, &qa.layout, Rounding::default(), &mut expected).unwrap();
            let (ca, cb) = (contents(&qa, &a), contents(&qb, &b));
            assert!(ca == cb, "{name}: in place and staged writes differ");
            let es = qa.entry_size;
            let slots = [first as usize, 0];
            for buf in 0..qa.buffers {
                for (w, &slot) in slots.iter().enumerate() {
                    let at = buf * qa.io_size() + qa.header_size + slot * es;
                    let want = &expected[(buf * 2 + w) * es..][..es];
                    assert!(&ca[at..at + es] == want, "{name}: buffer {buf}, entry {w}");
                }
            }
            // Reading back, both ways, gives the values through the queue's format.
            let shape = qa.layout.host_shape(2);
            let mut through = alloc::vec![0u8; data.len()];
            untilize(
                &expected,
                &qa.layout,
                &mut HostTensorMut::contiguous(&mut through, DataFormat::Float32, shape),
            )
            .unwrap();
            let (mut ga, mut gb) = (alloc::vec![0u8; data.len()], alloc::vec![0u8; data.len()]);
            let mut da = HostTensorMut::contiguous(&mut ga, DataFormat::Float32, shape);
            qa.untilize_entries(&in_place, first, &mut da, &mut sa)
                .unwrap();
            let mut db = HostTensorMut::contiguous(&mut gb, DataFormat::Float32, shape);
            qb.untilize_entries(&staged, first, &mut db, &mut sb)
                .unwrap();
            assert!(ga == through && gb == through, "{name}: read back differs");
        }
    }

    #[test]
    fn an_entry_copies_between_queues_alike_in_place_as_staged() {
        let (a, b) = (
            AnyChip::open("sim", Arch::WormholeB0).unwrap(),
            AnyChip::open("sim", Arch::WormholeB0).unwrap(),
        );
        let (from_a, to_a) = (queue("grid", &a), queue("grid2", &a));
        let (from_b, to_b) = (queue("grid", &b), queue("grid2", &b));
        let data = tensor(&from_a, 1, 3);
        let src = HostTensor::contiguous(&data, DataFormat::Float32, from_a.layout.host_shape(1));
        let (in_place, staged) = (ChipMem(&a), NoMap(ChipMem(&b)));
        let mut s = Vec::new();
        from_a.tilize_entries(&in_place, 2, &src, &mut s).unwrap();
        from_b.tilize_entries(&staged, 2, &src, &mut s).unwrap();
        from_a.copy_entry(&in_place, 2, &to_a, 3, &mut s).unwrap();
        from_b.copy_entry(&staged, 2, &to_b, 3, &mut s).unwrap();
        let (ca, cb) = (contents(&to_a, &a), contents(&to_b, &b));
        assert!(ca == cb, "in place and staged copies differ");
        let es = to_a.entry_size;
        let from = contents(&from_a, &a);
        for buf in 0..to_a.buffers {
            let at = buf * to_a.io_size() + to_a.header_size + 3 * es;
            let src_at = buf * from_a.io_size() + from_a.header_size + 2 * es;
            assert!(ca[at..at + es] == from[src_at..src_at + es], "buffer {buf}");
        }
    }
}
