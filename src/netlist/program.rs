//! Netlist programs (tt_program_info / tt_instruction_info in tt-budabackend
//! `netlist/netlist_program.*`): the instructions a `run_program` call interprets.

use alloc::string::String;
use alloc::vec::Vec;

/// An instruction argument: a `$variable` or an immediate (booleans are 1 and 0, as upstream's
/// `get_immediate` reads them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Operand {
    /// A variable, named without its `$`.
    Var(String),
    Imm(i64),
}

impl Operand {
    pub fn var(&self) -> Option<&str> {
        match self {
            Operand::Var(name) => Some(name),
            Operand::Imm(_) => None,
        }
    }
}

/// A variable declared by `var` or `staticvar`, with its initial value (0 in the list form).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VarDecl {
    /// Without its `$`.
    pub name: String,
    pub init: i64,
}

/// VAR_INSTRUCTION_OPCODE of `varinst: [$out, op, args...]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VarInstOp {
    /// `set a`: out = a.
    Set,
    /// `add a b`: out = a + b.
    Add,
    /// `mul a b`: out = a * b.
    Mul,
    /// `inc a`: out += a.
    Inc,
    /// `incwrap inc wrap`: out = (out + inc + k*wrap) % wrap, k the smallest making it
    /// non-negative.
    IncWrap,
}

impl VarInstOp {
    pub fn from_name(name: &str) -> Option<VarInstOp> {
        match name {
            "set" => Some(VarInstOp::Set),
            "add" => Some(VarInstOp::Add),
            "mul" => Some(VarInstOp::Mul),
            "inc" => Some(VarInstOp::Inc),
            "incwrap" => Some(VarInstOp::IncWrap),
            _ => None,
        }
    }
    pub const fn name(self) -> &'static str {
        match self {
            VarInstOp::Set => "set",
            VarInstOp::Add => "add",
            VarInstOp::Mul => "mul",
            VarInstOp::Inc => "inc",
            VarInstOp::IncWrap => "incwrap",
        }
    }
    /// How many arguments follow the opcode.
    pub const fn arity(self) -> usize {
        match self {
            VarInstOp::Set | VarInstOp::Inc => 1,
            VarInstOp::Add | VarInstOp::Mul | VarInstOp::IncWrap => 2,
        }
    }
}

/// How one queue is read and written during an `execute` (tt_queue_setting_info). Values are
/// variables or immediates. The autoincrements carry upstream's defaults when not written:
/// for a queue rd_ptr_autoinc 1, global_wrptr_autoinc 1, global_rdptr_autoinc 0; for a ram 0.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueSetting {
    /// The queue's name.
    pub name: String,
    pub line: u32,
    /// Read once before the graph's loop (kept resident in L1).
    pub prologue: Option<Operand>,
    /// Written back once after the loop.
    pub epilogue: Option<Operand>,
    /// Zero the buffer before use.
    pub zero: Option<Operand>,
    pub rd_ptr_local: Option<Operand>,
    pub rd_ptr_global: Option<Operand>,
    pub wr_ptr_global: Option<Operand>,
    pub rd_ptr_autoinc: Operand,
    pub global_rdptr_autoinc: Operand,
    pub global_wrptr_autoinc: Operand,
    pub read_only: Option<Operand>,
}

/// `execute: {graph_name, queue_settings}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Execute {
    pub graph_name: String,
    /// In file order.
    pub queue_settings: Vec<QueueSetting>,
}

impl Execute {
    pub fn queue_setting(&self, queue: &str) -> Option<&QueueSetting> {
        self.queue_settings.iter().find(|s| s.name == queue)
    }
}

/// INSTRUCTION_OPCODE with its operands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Instruction {
    /// `param: [$p...]`: values passed to run_program (names without `$`).
    Param(Vec<String>),
    /// `var`: locals, reset on every run_program.
    Var(Vec<VarDecl>),
    /// `staticvar`: keep their value across run_program calls.
    StaticVar(Vec<VarDecl>),
    /// `loop: count` (count >= 1 at run time).
    Loop(Operand),
    EndLoop,
    VarInst {
        dest: String,
        op: VarInstOp,
        args: Vec<Operand>,
    },
    Execute(Execute),
    AllocateQueue(Vec<String>),
    DeallocateQueue(Vec<String>),
    /// Appended after the last instruction, as upstream does.
    EndProgram,
}

/// One instruction and the line it was written on (0 for the appended EndProgram).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub line: u32,
    pub instruction: Instruction,
}

/// A program: a named list of instructions ending with EndProgram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    pub name: String,
    pub line: u32,
    pub instructions: Vec<Step>,
}

impl Program {
    /// The names declared with `param`, in order.
    pub fn params(&self) -> impl Iterator<Item = &str> {
        self.instructions
            .iter()
            .flat_map(|s| match &s.instruction {
                Instruction::Param(names) => names.as_slice(),
                _ => &[],
            })
            .map(String::as_str)
    }
}
