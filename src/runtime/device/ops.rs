//! Device ops: elementwise unary and binary ops, matmul and copies into another memory
//! config. Each is one program, enqueued on a CQ or, during a trace capture, recorded.

use super::trace::NOT_CACHED;
use super::Device;
use crate::compute::{BinaryOp, UnaryOp};
use crate::hal::layout::TensorLayout;
use crate::hal::{BufferRef, Chip, OpKind, Program};
use crate::runtime::command_queue::{Command, CommandQueue, HostGuard};
use crate::runtime::error::{fail, RuntimeError};
use crate::runtime::program_cache::signature;
use crate::runtime::tensor::{MemoryConfig, Tensor, TensorSpec};

impl<C: Chip> Device<C> {
    /// Takes `cq`'s host side for one program with signature `key`: during capture, a program
    /// not in the cache is refused here, before anything is allocated for it.
    fn program_slot(
        &self,
        cq: u8,
        key: u32,
    ) -> Result<(&CommandQueue, HostGuard<'_>), RuntimeError> {
        let queue = self.cq(cq)?;
        let mut guard = queue.host()?;
        if Self::capture_of(&mut guard).is_some() && !self.program_cache.contains(key) {
            return fail!(InvalidState, "{NOT_CACHED}");
        }
        Ok((queue, guard))
    }

    /// Enqueues a program or, during capture, records it (the cache rule was checked by
    /// `program_slot`).
    ///
    /// The program is assembled where it is stored (ring record or staging slot), from the
    /// operands' buffers: it is the largest record, and every op enqueue writes one.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn submit(
        &self,
        queue: &CommandQueue,
        guard: &mut HostGuard<'_>,
        key: u32,
        op: OpKind,
        a: &BufferRef,
        b: &BufferRef,
        out: &BufferRef,
    ) {
        match guard.side().capture {
            Some((tid, n)) => {
                if (n as u64) < self.layout.staging_slots {
                    let program = Program {
                        op,
                        a: *a,
                        b: *b,
                        out: *out,
                    };
                    // SAFETY: slot n is inside the staging area, which only the capturing CQ
                    // (whose host side we hold) writes.
                    unsafe { self.staging_slot(n).write(program) };
                }
                guard.side().capture = Some((tid, n + 1));
            }
            None => {
                self.program_cache.insert(key);
                // Room first: the record is then built straight into its ring slot, with no
                // copy of the operands on the stack across the wait.
                self.wait_room(queue);
                queue.push(
                    guard,
                    Command::Program(Program {
                        op,
                        a: *a,
                        b: *b,
                        out: *out,
                    }),
                );
            }
        }
    }

    fn tile_operand(&self, t: &Tensor, what: &str) -> Result<(), RuntimeError> {
        self.live(t, what)?;
        if t.spec().layout != TensorLayout::Tile {
            return fail!(
                InvalidArgument,
                "{what} tensor is ROW_MAJOR; device ops need TILE layout"
            );
        }
        Ok(())
    }

    fn run_op(
        &self,
        cq: u8,
        op: OpKind,
        a: &Tensor,
        b: Option<&Tensor>,
        out_spec: TensorSpec,
        out_mem: &MemoryConfig,
    ) -> Result<Tensor, RuntimeError> {
        // The output is built in place. Its layout is the first input's when it has that
        // spec and memory config, as elementwise ops mostly do.
        let mut out = Tensor {
            device_id: self.id,
            allocated: false,
            sig: a.sig,
            buffer: a.buffer,
        };
        if a.spec() != out_spec || a.memory_config() != *out_mem {
            out.buffer.layout = self.layout_of(&out_spec, out_mem)?;
            out.sig = signature(&(out_spec, *out_mem));
        }
        let key = signature(&(op, a.sig, b.map(|b| b.sig), out.sig));
        let (queue, mut guard) = self.program_slot(cq, key)?;
        out.buffer.addr = self.allocate_buffer(&out.buffer.layout)?;
        out.allocated = true;
        let b = &b.unwrap_or(a).buffer;
        self.submit(queue, &mut guard, key, op, &a.buffer, b, &out.buffer);
        Ok(out)
    }

    /// `out = op(a)`, elementwise.
    pub fn unary(
        &self,
        cq: u8,
        op: UnaryOp,
        a: &Tensor,
        out_mem: &MemoryConfig,
    ) -> Result<Tensor, RuntimeError> {
        self.tile_operand(a, "input")?;
        self.run_op(cq, OpKind::Unary(op), a, None, a.spec(), out_mem)
    }

    /// `out = a op b`, elementwise over equal shapes.
    pub fn binary(
        &self,
        cq: u8,
        op: BinaryOp,
        a: &Tensor,
        b: &Tensor,
        out_mem: &MemoryConfig,
    ) -> Result<Tensor, RuntimeError> {
        self.tile_operand(a, "first input")?;
        self.tile_operand(b, "second input")?;
        if a.spec().shape != b.spec().shape {
            return fail!(
                InvalidArgument,
                "binary {} needs equal shapes: {:?} and {:?}",
                op.name(),
                a.spec().shape,
                b.spec().shape
            );
        }
        self.run_op(cq, OpKind::Binary(op), a, Some(b), a.spec(), out_mem)
    }

    /// `out = a · b` over the last two dimensions; `b`'s outer dimensions are 1 (broadcast)
    /// or equal to `a`'s.
    pub fn matmul(
        &self,
        cq: u8,
        a: &Tensor,
        b: &Tensor,
        out_mem: &MemoryConfig,
    ) -> Result<Tensor, RuntimeError> {
        self.tile_operand(a, "first input")?;
        self.tile_operand(b, "second input")?;
        let [a0, a1, m, k] = a.spec().shape;
        let [b0, b1, kb, n] = b.spec().shape;
        if k != kb {
            return fail!(
                InvalidArgument,
                "matmul inner dimensions differ: a is {:?}, b is {:?} ({k} != {kb})",
                a.spec().shape,
                b.spec().shape
            );
        }
        if !(b0 * b1 == 1 || (b0, b1) == (a0, a1)) {
            return fail!(
                InvalidArgument,
                "matmul b's outer dimensions {:?} are neither 1 nor a's {:?}",
                [b0, b1],
                [a0, a1]
            );
        }
        let spec = TensorSpec {
            shape: [a0, a1, m, n],
            ..a.spec()
        };
        self.run_op(cq, OpKind::Matmul, a, Some(b), spec, out_mem)
    }

    /// A copy of `a` in another memory config.
    pub fn to_memory_config(
        &self,
        cq: u8,
        a: &Tensor,
        mem: &MemoryConfig,
    ) -> Result<Tensor, RuntimeError> {
        self.live(a, "input")?;
        self.run_op(cq, OpKind::Copy, a, None, a.spec(), mem)
    }

    /// Copies `a` into the existing tensor `out` (same spec, any memory config), in place.
    pub fn reshard(&self, cq: u8, a: &Tensor, out: &Tensor) -> Result<(), RuntimeError> {
        self.live(a, "input")?;
        self.live(out, "output")?;
        if a.spec() != out.spec() {
            return fail!(
                InvalidArgument,
                "reshard needs equal specs: input {:?} {} {:?}, output {:?} {} {:?}",
                a.spec().shape,
                a.spec().format.name(),
                a.spec().layout,
                out.spec().shape,
                out.spec().format.name(),
                out.spec().layout
            );
        }
        // In place: not the program `to_memory_config` runs (that one allocates its output).
        let key = signature(&(OpKind::Copy, a.sig, out.sig, "in place"));
        let (queue, mut guard) = self.program_slot(cq, key)?;
        let op = OpKind::Copy;
        self.submit(
            queue,
            &mut guard,
            key,
            op,
            &a.buffer,
            &a.buffer,
            &out.buffer,
        );
        Ok(())
    }
}
