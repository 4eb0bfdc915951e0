//! Buda netlists: a typed model of the whole schema (queues, graphs, programs, fused ops,
//! devices, test config), read from YAML and validated. See notes/buda-backend.md, "Netlist
//! schema", and notes/golden-ops.md.
//!
//! [`parse`] reads in three passes: YAML events to an ordered tree that keeps every node's
//! line (`yaml.rs`), the tree to the typed model with upstream's defaults (`read.rs`), and the
//! rules between parts of the model (`validate.rs`). Every failure is one [`NetlistError`]
//! naming the file, line, key path and what was expected against what was found.

mod error;
pub mod exec;
mod fused_op;
pub mod interp;
mod model;
mod op_type;
mod program;
mod read;
mod scalar;
pub mod temporal;
mod test_config;
mod validate;
pub(crate) mod yaml;

use alloc::string::ToString;

pub use error::NetlistError;
pub use fused_op::{
    FusedOp, FusedOperand, FusedOutput, Schedule, ScheduledOp, ScheduledOpAttributes,
};
pub use interp::{Interpreter, PointerKind, ProgramError, ProgramHost, ResolvedSetting};
pub use model::{
    Devices, Dim, Graph, GridLoc, GridSize, InputPad, InputUnpad, IoType, KernelBroadcast,
    MathFidelity, Mblock, Netlist, Op, OpAttributes, Queue, QueueBuffer, QueueLocation, ReduceFunc,
    ReluMode, SpliceInput, SpliceMode, Tm, TopkSort, Ublock, Value,
};
pub use op_type::{OpFamily, OpType, OpTypeName};
pub use program::{Execute, Instruction, Operand, Program, QueueSetting, Step, VarDecl, VarInstOp};
pub use temporal::{TemporalError, TemporalGraphs};
pub use test_config::{
    ComparisonConfig, ComparisonMethod, ComparisonType, IoConfig, StimulusConfig, StimulusType,
    TestConfig, Verbosity,
};
pub use yaml::MAX_DEPTH;

/// Reads and validates the netlist `text`; `file` names it in errors (`<netlist>` when empty).
pub fn parse(text: &str, file: &str) -> Result<Netlist, NetlistError> {
    let file = if file.is_empty() { "<netlist>" } else { file };
    let Some(root) = yaml::parse_tree(text, file)? else {
        return Err(NetlistError {
            file: file.to_string(),
            line: None,
            path: alloc::string::String::new(),
            message: "the netlist is empty (no YAML content, only comments or whitespace)"
                .to_string(),
        });
    };
    let reader = read::Reader { file };
    let mut netlist = read::read_netlist(&reader, &root)?;
    validate::validate(&netlist)?;
    netlist.source = text.to_string();
    Ok(netlist)
}
