//! Device numerics: the golden model's elementwise ops and tile matmul, bit for bit.
//!
//! The simulated chip's firmware and the netlist engine both compute here, so a device op and
//! a netlist op give the same bits. They compute what Buda's golden model computes (the notes' golden-ops.md,
//! sections 6-8): all arithmetic in fp32, some ops evaluated in double and stored as float, and
//! matmul with golden's exact FMA summation tree. Nothing here rounds to a data format; the
//! caller quantizes where golden does (section 3). Where golden aborts the run (a NaN or -inf
//! that an op must not produce), these functions return a [`ComputeError`] instead.
//!
//! Golden calls the host's glibc for transcendentals, so no portable library reproduces it in
//! every last bit (golden-ops.md §14.6). The choices below were measured against glibc 2.36 on
//! 2x10^7 random inputs (|x| in 2^-22..2^18):
//! - `expf`/`logf`: glibc's are correctly rounded in all but rare cases, and so is the double
//!   function rounded to float: that agrees with glibc on all but 0.03% (exp) and 0.1% (log) of
//!   inputs, where libm's `expf`/`logf` (FreeBSD's, up to ~1 ulp off) disagree on about 3%.
//! - `tanhf`: neither glibc's nor libm's is correctly rounded (both err by up to 2 ulp, on
//!   different inputs); libm's `tanhf` disagrees with glibc's on 2.5%, `tanh` rounded on 15%.
//! - `sqrtf` is correctly rounded everywhere.
//!
//! No allocation, no `std`: the same code runs in bare-metal firmware.
//!
//! The ops the simulated chip runs are [`UnaryOp`] and [`BinaryOp`]; a netlist's elementwise
//! ops are [`Sfpu`] and [`Binary`], which hold those and golden's other ops with their
//! attributes (`unary.rs`, `binary.rs`; dropout's generator in `dropout.rs`). Tile matmul is
//! in `matmul.rs`.

use core::fmt;

mod binary;
mod dropout;
mod matmul;
mod unary;

pub use binary::{apply_binary, mul0, Binary, BinaryOp};
pub use dropout::{dropout_mask, Mt19937};
#[cfg(target_arch = "x86_64")]
pub use matmul::matmul_rows4_avx512;
pub use matmul::{has_avx512, matmul_tile_accumulate};
pub use unary::{apply_relu, apply_unary, fma64, ReluMode, Sfpu, UnaryOp};

/// What stops a computation. Golden aborts the whole run in these cases; ttrt reports them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ComputeError {
    /// Golden rejects this input of a unary op (a fatal error in golden); the values are left
    /// unchanged.
    Rejected {
        op: UnaryOp,
        /// Position of the offending element in the slice.
        index: usize,
        input: f32,
        /// What golden rejects.
        reason: &'static str,
    },
    /// The operands of a binary op have different lengths.
    Length { op: BinaryOp, a: usize, b: usize },
}

impl fmt::Display for ComputeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ComputeError::Rejected {
                op,
                index,
                input,
                reason,
            } => write!(
                f,
                "{op} of element {index} ({input:?}): golden rejects {reason}"
            ),
            ComputeError::Length { op, a, b } => write!(
                f,
                "{op}: operand a has {a} elements, operand b has {b}; they must be equal"
            ),
        }
    }
}
