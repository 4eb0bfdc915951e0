//! Fused ops (tt_fused_op_info / tt_scheduled_op_info in tt-budabackend
//! `netlist/netlist_fused_op_info_types.*`): schedules of sub-ops that pass data through
//! intermediate buffers and the destination register inside one op. See golden-ops.md
//! section 11.

use alloc::string::String;
use alloc::vec::Vec;

use super::model::{Dim, Mblock, ReduceFunc, ReluMode, Tm, Ublock};
use super::op_type::OpTypeName;

/// A buffer a sub-op reads: the base op's input N, intermediate buffer K, or the destination
/// register.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FusedOperand {
    /// `inputN`.
    Input(u32),
    /// `intermedK`.
    Intermed(u32),
    /// `dest`.
    Dest,
}

/// Where a sub-op writes: intermediate buffer K, the destination register, or the base op's
/// output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FusedOutput {
    Intermed(u32),
    Dest,
    Output,
}

impl FusedOperand {
    /// `inputN`, `intermedK` or `dest`.
    pub fn from_name(name: &str) -> Option<FusedOperand> {
        if name == "dest" {
            return Some(FusedOperand::Dest);
        }
        let index = |rest: &str| {
            if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit()) {
                None
            } else {
                rest.parse::<u32>().ok()
            }
        };
        if let Some(rest) = name.strip_prefix("intermed") {
            return index(rest).map(FusedOperand::Intermed);
        }
        name.strip_prefix("input")
            .and_then(index)
            .map(FusedOperand::Input)
    }
}

impl FusedOutput {
    pub fn from_name(name: &str) -> Option<FusedOutput> {
        match name {
            "output" => Some(FusedOutput::Output),
            "dest" => Some(FusedOutput::Dest),
            _ => match FusedOperand::from_name(name) {
                Some(FusedOperand::Intermed(k)) => Some(FusedOutput::Intermed(k)),
                _ => None,
            },
        }
    }
}

impl core::fmt::Display for FusedOperand {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            FusedOperand::Input(n) => write!(f, "input{n}"),
            FusedOperand::Intermed(k) => write!(f, "intermed{k}"),
            FusedOperand::Dest => f.write_str("dest"),
        }
    }
}

impl core::fmt::Display for FusedOutput {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            FusedOutput::Intermed(k) => write!(f, "intermed{k}"),
            FusedOutput::Dest => f.write_str("dest"),
            FusedOutput::Output => f.write_str("output"),
        }
    }
}

/// Attributes a sub-op may set; the rest of its settings come from the base op.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScheduledOpAttributes {
    pub m_k: Option<u32>,
    pub u_kt: Option<u32>,
    pub vector: Option<Dim>,
    /// reduce `type`.
    pub reduce_type: Option<ReduceFunc>,
    /// reduce `dim`.
    pub dim: Option<Dim>,
    pub relu_en: bool,
    pub relu_threshold: Option<f32>,
    pub relu_mode: Option<ReluMode>,
    /// dropout `p`.
    pub probability: Option<f32>,
    pub seed: Option<i64>,
    /// lrelu `slope`.
    pub slope: Option<f32>,
    /// power `exp`.
    pub exponent: Option<i64>,
}

/// One sub-op of a schedule.
#[derive(Clone, Debug, PartialEq)]
pub struct ScheduledOp {
    pub name: String,
    pub line: u32,
    /// `type`: a binary, unary, SFPU, matmul or reduce op.
    pub op_type: OpTypeName,
    pub inputs: Vec<FusedOperand>,
    pub output: FusedOutput,
    /// Per-core output blocking, used by the checks only.
    pub mblock: Mblock,
    pub ublock: Ublock,
    /// Buffers freed after this sub-op (`pop`), and after its last use (`pop_last`).
    pub pop: Vec<FusedOperand>,
    pub pop_last: Vec<FusedOperand>,
    pub zero_point: Option<f32>,
    /// `input_N_tms`, indexed by input.
    pub input_tms: Vec<Vec<Tm>>,
    pub attributes: ScheduledOpAttributes,
}

/// A schedule: sub-ops run in order; matmul/reduce may only end one.
#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    pub ops: Vec<ScheduledOp>,
}

/// A `fused_ops` entry, referenced by ops with `attributes: {fused_op_id: <id>}`.
#[derive(Clone, Debug, PartialEq)]
pub struct FusedOp {
    /// The key under `fused_ops` (usually a number).
    pub id: String,
    pub line: u32,
    /// Inputs of the base op that runs it.
    pub inputs: u32,
    /// Intermediate buffers it uses.
    pub intermediates: u32,
    pub custom_kernel_path: Option<String>,
    pub schedules: Vec<Schedule>,
}
