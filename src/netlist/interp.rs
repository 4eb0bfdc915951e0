//! The Buda program interpreter (tt-budabackend `netlist_program.cpp` and the program loop of
//! `tt_runtime`): what `run_program(name, params)` does with a netlist program. See
//! notes/buda-backend.md, "Programs".
//!
//! [`Interpreter::new`] compiles every program once: variable names become slots of a value
//! array, queue and graph names become indexes, `endloop` finds its loop through a loop stack
//! whose depth is known. [`Interpreter::run`] then walks the compiled steps and asks a
//! [`ProgramHost`] to execute graphs, allocate and deallocate queues and move queue pointers.
//! Once the interpreter exists, a run allocates nothing on the heap on its success path: the
//! values, the loop stack and the settings handed to the host live in arrays sized at compile
//! time.
//!
//! Decisions where the notes are silent (upstream's behaviour unless said otherwise):
//! - Params are checked before the first instruction runs: every declared param passed exactly
//!   once, no undeclared one, values integers or `true`/`false` (any case). Upstream ignores
//!   extra params; ttrt rejects them so a misspelt name does not go unnoticed.
//! - `var` sets its initial value each time it runs; `staticvar` only the first time its
//!   program runs. Locals and params start each run at 0 until declared.
//! - Values are 64-bit; an overflowing `add`, `mul`, `inc` or `incwrap` is an error (upstream
//!   wraps 32-bit ints silently). `incwrap` with a wrap <= 0 is an error (upstream divides by
//!   zero or loops forever); its result is `(old + inc) mod wrap` made non-negative.
//! - Boolean settings (prologue, epilogue, zero, read_only) must evaluate to 0 or 1; pointers
//!   to `0..2*entries`; autoincrements to `0..=u32::MAX`.
//! - Binding: each execute (re)binds a queue's global read (write) pointer to the variable its
//!   setting names, or unbinds it when the setting is an immediate (or, for the write pointer,
//!   when the execute marks the queue `read_only`); a queue the execute does not mention keeps
//!   its binding. A varinst that changes a bound variable's value calls
//!   [`ProgramHost::set_queue_pointer`] for every queue bound to it, in the order the bindings
//!   were first written in the program; a varinst that leaves the value as it was calls
//!   nothing. Bindings last until the run ends.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use super::error::one_line;
use super::model::Netlist;
use super::program::{Instruction, Operand, QueueSetting, VarInstOp};

/// A queue's pointer a program variable is bound to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PointerKind {
    RdGlobal,
    WrGlobal,
}

impl PointerKind {
    const fn setting(self) -> &'static str {
        match self {
            PointerKind::RdGlobal => "rd_ptr_global",
            PointerKind::WrGlobal => "wr_ptr_global",
        }
    }
}

/// One queue's settings for one execute, with every operand evaluated. Settings the program
/// did not write are false and `None`; autoincrements carry upstream's defaults (for a queue
/// rd_ptr_autoinc 1, global_wrptr_autoinc 1, global_rdptr_autoinc 0; for a ram all 0).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ResolvedSetting {
    /// Index in `netlist.queues`.
    pub queue: usize,
    pub prologue: bool,
    pub epilogue: bool,
    pub zero: bool,
    pub rd_ptr_local: Option<u32>,
    pub rd_ptr_global: Option<u32>,
    pub wr_ptr_global: Option<u32>,
    pub rd_ptr_autoinc: u32,
    pub global_rdptr_autoinc: u32,
    pub global_wrptr_autoinc: u32,
    pub read_only: bool,
}

/// What the interpreter asks of the backend. An `Err` stops the run; its text becomes part of
/// the [`ProgramError`].
pub trait ProgramHost {
    /// Why a call failed, in the host's own terms.
    type Error: fmt::Display;

    /// Runs graph `graph` (index in `netlist.graphs`) with these queue settings, in the order
    /// the execute wrote them.
    fn execute(&mut self, graph: usize, settings: &[ResolvedSetting]) -> Result<(), Self::Error>;
    /// Indexes in `netlist.queues`, in the order the instruction lists them.
    fn allocate_queues(&mut self, queues: &[usize]) -> Result<(), Self::Error>;
    fn deallocate_queues(&mut self, queues: &[usize]) -> Result<(), Self::Error>;
    /// A variable bound to `queue`'s global pointer changed (varinst): the queue's pointer
    /// follows.
    fn set_queue_pointer(
        &mut self,
        queue: usize,
        which: PointerKind,
        value: u32,
    ) -> Result<(), Self::Error>;
}

/// A program that does not compile or a run that fails: one line naming the program, the
/// instruction's line and what was wrong.
#[derive(Clone, PartialEq, Eq)]
pub struct ProgramError {
    pub message: String,
}

impl fmt::Display for ProgramError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        one_line(f, &self.message)
    }
}

impl fmt::Debug for ProgramError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ProgramError {}

/// An operand: a slot of the program's value array or an immediate.
#[derive(Clone, Copy, Debug)]
enum Arg {
    Slot(usize),
    Imm(i64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum VarKind {
    Param,
    Local,
    Static,
}

/// A queue setting with its operands resolved.
#[derive(Debug)]
struct Setting {
    queue: usize,
    prologue: Option<Arg>,
    epilogue: Option<Arg>,
    zero: Option<Arg>,
    rd_ptr_local: Option<Arg>,
    rd_ptr_global: Option<Arg>,
    wr_ptr_global: Option<Arg>,
    rd_ptr_autoinc: Arg,
    global_rdptr_autoinc: Arg,
    global_wrptr_autoinc: Arg,
    read_only: Option<Arg>,
}

#[derive(Debug)]
enum Op {
    /// `param` (checked before the run starts) and anything else that does nothing.
    Nop,
    /// One variable of `var`.
    Init {
        slot: usize,
        value: i64,
    },
    /// One variable of `staticvar`.
    StaticInit {
        slot: usize,
        value: i64,
    },
    Loop(Arg),
    EndLoop,
    VarInst {
        dest: usize,
        op: VarInstOp,
        a: Arg,
        b: Arg,
    },
    /// Settings `start..end` of the program's setting list.
    Execute {
        graph: usize,
        start: usize,
        end: usize,
    },
    Allocate(Vec<usize>),
    Deallocate(Vec<usize>),
    End,
}

#[derive(Debug)]
struct CompiledStep {
    line: u32,
    op: Op,
}

/// A variable that some execute may bind to a queue's global pointer.
#[derive(Debug)]
struct Binding {
    slot: usize,
    queue: usize,
    kind: PointerKind,
}

/// What compiling a program produces; never changes afterwards.
#[derive(Debug)]
struct Code {
    name: String,
    steps: Vec<CompiledStep>,
    settings: Vec<Setting>,
    /// Variable names (without `$`) and kinds, by slot.
    vars: Vec<(String, VarKind)>,
    /// Slots of the declared params, in declaration order.
    params: Vec<usize>,
    bindings: Vec<Binding>,
}

/// What a run changes: values (statics kept across runs), which bindings hold, the loop stack.
#[derive(Debug)]
struct State {
    values: Vec<i64>,
    static_done: Vec<bool>,
    bound: Vec<bool>,
    /// (iterations left after the current one, first step of the body).
    loops: Vec<(i64, usize)>,
}

#[derive(Debug)]
struct CompiledProgram {
    code: Code,
    state: State,
}

/// Every program of one netlist, compiled, with the state of its static variables.
#[derive(Debug)]
pub struct Interpreter {
    programs: Vec<CompiledProgram>,
    /// Queue names and pointer limits (2 * entries), by index in `netlist.queues`.
    queues: Vec<(String, u64)>,
    /// Graph names, by index in `netlist.graphs`.
    graphs: Vec<String>,
    /// Reused by every execute; its capacity is the largest execute's setting count.
    resolved: Vec<ResolvedSetting>,
}

fn at(program: &str, line: u32, what: impl fmt::Display) -> ProgramError {
    ProgramError {
        message: format!("program `{program}`, line {line}: {what}"),
    }
}

impl Interpreter {
    /// Compiles every program of the netlist: variable names resolved to slots, queue and graph
    /// names to indexes; errors name the program and instruction line.
    pub fn new(netlist: &Netlist) -> Result<Interpreter, ProgramError> {
        let queues: Vec<(String, u64)> = netlist
            .queues
            .iter()
            .map(|q| (q.name.clone(), 2 * u64::from(q.entries)))
            .collect();
        let mut programs = Vec::with_capacity(netlist.programs.len());
        let mut widest = 0;
        for p in &netlist.programs {
            let (code, depth) = compile(netlist, p)?;
            for step in &code.steps {
                if let Op::Execute { start, end, .. } = step.op {
                    widest = widest.max(end - start);
                }
            }
            let state = State {
                values: alloc::vec![0; code.vars.len()],
                static_done: alloc::vec![false; code.vars.len()],
                bound: alloc::vec![false; code.bindings.len()],
                loops: Vec::with_capacity(depth),
            };
            programs.push(CompiledProgram { code, state });
        }
        Ok(Interpreter {
            programs,
            queues,
            graphs: netlist.graphs.iter().map(|g| g.name.clone()).collect(),
            resolved: Vec::with_capacity(widest),
        })
    }

    pub fn program_count(&self) -> usize {
        self.programs.len()
    }

    /// The name of program `i` (panics when `i >= program_count()`).
    pub fn program_name(&self, i: usize) -> &str {
        &self.programs[i].code.name
    }

    pub fn program_index(&self, name: &str) -> Option<usize> {
        self.programs.iter().position(|p| p.code.name == name)
    }

    /// Runs program `program` with `params` ("$name" or "name" -> value string; values integers
    /// or "true"/"false"), calling `host`.
    pub fn run<H: ProgramHost + ?Sized>(
        &mut self,
        program: usize,
        params: &[(&str, &str)],
        host: &mut H,
    ) -> Result<(), ProgramError> {
        let count = self.programs.len();
        let Interpreter {
            programs,
            queues,
            graphs,
            resolved,
        } = self;
        let Some(CompiledProgram { code, state }) = programs.get_mut(program) else {
            return Err(ProgramError {
                message: format!("no program with index {program} (the netlist has {count})"),
            });
        };
        state.start(code);
        bind_params(code, state, params)?;
        let mut pc = 0;
        loop {
            let step = &code.steps[pc];
            let line = step.line;
            match &step.op {
                Op::Nop => {}
                Op::Init { slot, value } => state.values[*slot] = *value,
                Op::StaticInit { slot, value } => {
                    if !state.static_done[*slot] {
                        state.values[*slot] = *value;
                        state.static_done[*slot] = true;
                    }
                }
                Op::Loop(count) => {
                    let n = state.get(*count);
                    if n < 1 {
                        return Err(at(
                            &code.name,
                            line,
                            format!("loop count must be >= 1, found {n}"),
                        ));
                    }
                    // The capacity is the program's loop depth: this push never reallocates.
                    state.loops.push((n - 1, pc + 1));
                }
                Op::EndLoop => {
                    if let Some(top) = state.loops.last_mut() {
                        if top.0 > 0 {
                            top.0 -= 1;
                            pc = top.1;
                            continue;
                        }
                        state.loops.pop();
                    }
                }
                Op::VarInst { dest, op, a, b } => {
                    let old = state.values[*dest];
                    let new = var_inst(*op, old, state.get(*a), state.get(*b))
                        .map_err(|what| at(&code.name, line, what))?;
                    state.values[*dest] = new;
                    if new != old {
                        propagate(code, state, queues, *dest, line, host)?;
                    }
                }
                Op::Execute { graph, start, end } => {
                    resolved.clear();
                    for s in &code.settings[*start..*end] {
                        let r =
                            resolve(s, state, queues).map_err(|what| at(&code.name, line, what))?;
                        resolved.push(r);
                        state.rebind(code, s.queue, PointerKind::RdGlobal, s.rd_ptr_global);
                        // A read-only view of a dual-view ram does not follow its write
                        // pointer's variable (golden's propagate skips it).
                        let wr = if r.read_only { None } else { s.wr_ptr_global };
                        state.rebind(code, s.queue, PointerKind::WrGlobal, wr);
                    }
                    host.execute(*graph, resolved).map_err(|e| {
                        at(
                            &code.name,
                            line,
                            format!("execute of graph `{}` failed: {e}", graphs[*graph]),
                        )
                    })?;
                }
                Op::Allocate(list) => host
                    .allocate_queues(list)
                    .map_err(|e| at(&code.name, line, format!("allocate_queue failed: {e}")))?,
                Op::Deallocate(list) => host
                    .deallocate_queues(list)
                    .map_err(|e| at(&code.name, line, format!("deallocate_queue failed: {e}")))?,
                Op::End => return Ok(()),
            }
            pc += 1;
        }
    }
}

impl State {
    /// Locals and params back to 0, no binding, no loop.
    fn start(&mut self, code: &Code) {
        for (v, (_, kind)) in self.values.iter_mut().zip(&code.vars) {
            if *kind != VarKind::Static {
                *v = 0;
            }
        }
        self.bound.iter_mut().for_each(|b| *b = false);
        self.loops.clear();
    }

    fn get(&self, a: Arg) -> i64 {
        match a {
            Arg::Slot(s) => self.values[s],
            Arg::Imm(v) => v,
        }
    }

    /// `queue`'s `kind` pointer now follows the variable `setting` names, if any.
    fn rebind(&mut self, code: &Code, queue: usize, kind: PointerKind, setting: Option<Arg>) {
        let slot = match setting {
            Some(Arg::Slot(s)) => Some(s),
            _ => None,
        };
        for (b, bound) in code.bindings.iter().zip(self.bound.iter_mut()) {
            if b.queue == queue && b.kind == kind {
                *bound = Some(b.slot) == slot;
            }
        }
    }
}

/// Checks and stores the params of one run.
fn bind_params(
    code: &Code,
    state: &mut State,
    params: &[(&str, &str)],
) -> Result<(), ProgramError> {
    let program = &code.name;
    let declared = || {
        let names: Vec<String> = code
            .params
            .iter()
            .map(|&s| format!("${}", code.vars[s].0))
            .collect();
        if names.is_empty() {
            String::from("none")
        } else {
            names.join(", ")
        }
    };
    for &(name, value) in params {
        let key = name.strip_prefix('$').unwrap_or(name);
        let Some(&slot) = code.params.iter().find(|&&s| code.vars[s].0 == key) else {
            return Err(ProgramError {
                message: format!(
                    "program `{program}`: param `${key}` is not declared by the program (it declares {})",
                    declared()
                ),
            });
        };
        let v = if value.eq_ignore_ascii_case("true") {
            1
        } else if value.eq_ignore_ascii_case("false") {
            0
        } else {
            value.parse::<i64>().map_err(|_| ProgramError {
                message: format!(
                    "program `{program}`: param `${key}` has value `{value}`, expected an integer or true/false"
                ),
            })?
        };
        state.values[slot] = v;
    }
    for &slot in &code.params {
        let name = &code.vars[slot].0;
        let passed = params
            .iter()
            .filter(|(n, _)| n.strip_prefix('$').unwrap_or(n) == name)
            .count();
        if passed != 1 {
            let what = if passed == 0 {
                "is declared but not passed"
            } else {
                "is passed more than once"
            };
            return Err(ProgramError {
                message: format!("program `{program}`: param `${name}` {what}"),
            });
        }
    }
    Ok(())
}

/// Why one instruction of a running program failed; the program and line go in front.
#[derive(Clone, Debug, PartialEq, Eq)]
enum StepError<'a> {
    /// A varinst's result does not fit 64 bits.
    Overflow { op: VarInstOp },
    /// `varinst incwrap` with a wrap below 1.
    Wrap { wrap: i64 },
    /// A queue pointer outside 0..2*entries.
    Pointer {
        queue: &'a str,
        setting: &'a str,
        value: i64,
        limit: u64,
    },
    /// A flag setting that is neither 0 nor 1.
    Flag {
        queue: &'a str,
        key: &'a str,
        value: i64,
    },
    /// An autoinc setting outside u32.
    Autoinc {
        queue: &'a str,
        key: &'a str,
        value: i64,
    },
}

impl fmt::Display for StepError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StepError::Overflow { op } => {
                write!(f, "varinst {} overflows a 64-bit value", op.name())
            }
            StepError::Wrap { wrap } => {
                write!(f, "varinst incwrap needs a wrap >= 1, found {wrap}")
            }
            StepError::Pointer {
                queue,
                setting,
                value,
                limit,
            } => write!(
                f,
                "pointer overflow: queue `{queue}` {setting} = {value}, expected 0..{limit} \
                 (2 * entries)"
            ),
            StepError::Flag { queue, key, value } => write!(
                f,
                "queue `{queue}` {key} = {value}, expected a boolean (0/1, false/true)"
            ),
            StepError::Autoinc { queue, key, value } => {
                write!(
                    f,
                    "queue `{queue}` {key} = {value}, expected 0..={}",
                    u32::MAX
                )
            }
        }
    }
}

/// The value a varinst writes, given the destination's old value and its arguments (`b` is
/// unused by the one-argument ops).
fn var_inst(op: VarInstOp, old: i64, a: i64, b: i64) -> Result<i64, StepError<'static>> {
    let overflow = || StepError::Overflow { op };
    match op {
        VarInstOp::Set => Ok(a),
        VarInstOp::Add => a.checked_add(b).ok_or_else(overflow),
        VarInstOp::Mul => a.checked_mul(b).ok_or_else(overflow),
        VarInstOp::Inc => old.checked_add(a).ok_or_else(overflow),
        VarInstOp::IncWrap => {
            if b <= 0 {
                return Err(StepError::Wrap { wrap: b });
            }
            // (old mod wrap + inc mod wrap) cannot overflow once both are reduced.
            let sum = old.rem_euclid(b) + a.rem_euclid(b);
            Ok(sum.rem_euclid(b))
        }
    }
}

/// A pointer value of `queue` checked against 0..2*entries.
fn pointer<'a>(
    queues: &'a [(String, u64)],
    queue: usize,
    setting: &'a str,
    v: i64,
) -> Result<u32, StepError<'a>> {
    let (name, limit) = &queues[queue];
    match u64::try_from(v) {
        Ok(p) if p < *limit => Ok(p as u32),
        _ => Err(StepError::Pointer {
            queue: name,
            setting,
            value: v,
            limit: *limit,
        }),
    }
}

/// Calls the host for every queue pointer bound to `slot` (its value just changed).
fn propagate<H: ProgramHost + ?Sized>(
    code: &Code,
    state: &State,
    queues: &[(String, u64)],
    slot: usize,
    line: u32,
    host: &mut H,
) -> Result<(), ProgramError> {
    let value = state.values[slot];
    for (b, _) in code
        .bindings
        .iter()
        .zip(&state.bound)
        .filter(|(b, bound)| **bound && b.slot == slot)
    {
        let setting = b.kind.setting();
        let p = pointer(queues, b.queue, setting, value).map_err(|what| {
            at(
                &code.name,
                line,
                format!("{what} (bound to `${}`)", code.vars[slot].0),
            )
        })?;
        host.set_queue_pointer(b.queue, b.kind, p).map_err(|e| {
            at(
                &code.name,
                line,
                format!(
                    "moving queue `{}` {setting} to {p} failed: {e}",
                    queues[b.queue].0
                ),
            )
        })?;
    }
    Ok(())
}

/// Evaluates one queue setting.
fn resolve<'a>(
    s: &Setting,
    state: &State,
    queues: &'a [(String, u64)],
) -> Result<ResolvedSetting, StepError<'a>> {
    let name = queues[s.queue].0.as_str();
    let flag = |o: Option<Arg>, key: &'static str| match o.map(|a| state.get(a)) {
        None | Some(0) => Ok(false),
        Some(1) => Ok(true),
        Some(value) => Err(StepError::Flag {
            queue: name,
            key,
            value,
        }),
    };
    let ptr = |o: Option<Arg>, key: &'static str| {
        o.map(|a| pointer(queues, s.queue, key, state.get(a)))
            .transpose()
    };
    let inc = |a: Arg, key: &'static str| {
        let value = state.get(a);
        u32::try_from(value).map_err(|_| StepError::Autoinc {
            queue: name,
            key,
            value,
        })
    };
    Ok(ResolvedSetting {
        queue: s.queue,
        prologue: flag(s.prologue, "prologue")?,
        epilogue: flag(s.epilogue, "epilogue")?,
        zero: flag(s.zero, "zero")?,
        rd_ptr_local: ptr(s.rd_ptr_local, "rd_ptr_local")?,
        rd_ptr_global: ptr(s.rd_ptr_global, "rd_ptr_global")?,
        wr_ptr_global: ptr(s.wr_ptr_global, "wr_ptr_global")?,
        rd_ptr_autoinc: inc(s.rd_ptr_autoinc, "rd_ptr_autoinc")?,
        global_rdptr_autoinc: inc(s.global_rdptr_autoinc, "global_rdptr_autoinc")?,
        global_wrptr_autoinc: inc(s.global_wrptr_autoinc, "global_wrptr_autoinc")?,
        read_only: flag(s.read_only, "read_only")?,
    })
}

/// Compiles one program; also returns its deepest loop nesting.
fn compile(netlist: &Netlist, p: &super::program::Program) -> Result<(Code, usize), ProgramError> {
    let mut code = Code {
        name: p.name.clone(),
        steps: Vec::with_capacity(p.instructions.len() + 1),
        settings: Vec::new(),
        vars: Vec::new(),
        params: Vec::new(),
        bindings: Vec::new(),
    };
    // First pass: every declaration gets a slot (a name declared twice keeps its first).
    for step in &p.instructions {
        let (decls, kind): (Vec<&str>, VarKind) = match &step.instruction {
            Instruction::Param(names) => {
                (names.iter().map(String::as_str).collect(), VarKind::Param)
            }
            Instruction::Var(d) => (d.iter().map(|d| d.name.as_str()).collect(), VarKind::Local),
            Instruction::StaticVar(d) => {
                (d.iter().map(|d| d.name.as_str()).collect(), VarKind::Static)
            }
            _ => continue,
        };
        for name in decls {
            if !code.vars.iter().any(|(n, _)| n == name) {
                code.vars.push((String::from(name), kind));
                if kind == VarKind::Param {
                    code.params.push(code.vars.len() - 1);
                }
            }
        }
    }
    let (mut depth, mut deepest) = (0usize, 0usize);
    for step in &p.instructions {
        let line = step.line;
        let err = |what: String| at(&p.name, line, &what);
        let slot = |name: &str| {
            code.vars
                .iter()
                .position(|(n, _)| n == name)
                .ok_or_else(|| err(format!("variable `${name}` is not declared by the program")))
        };
        let arg = |o: &Operand| match o {
            Operand::Var(name) => slot(name).map(Arg::Slot),
            Operand::Imm(v) => Ok(Arg::Imm(*v)),
        };
        let queue = |name: &str| {
            netlist
                .queues
                .iter()
                .position(|q| q.name == name)
                .ok_or_else(|| err(format!("queue `{name}` is not a queue of the netlist")))
        };
        let mut ops = Vec::new();
        match &step.instruction {
            Instruction::Param(_) => ops.push(Op::Nop),
            Instruction::Var(decls) => {
                for d in decls {
                    ops.push(Op::Init {
                        slot: slot(&d.name)?,
                        value: d.init,
                    });
                }
            }
            Instruction::StaticVar(decls) => {
                for d in decls {
                    ops.push(Op::StaticInit {
                        slot: slot(&d.name)?,
                        value: d.init,
                    });
                }
            }
            Instruction::Loop(count) => {
                depth += 1;
                deepest = deepest.max(depth);
                ops.push(Op::Loop(arg(count)?));
            }
            Instruction::EndLoop => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| err(String::from("endloop without a matching loop")))?;
                ops.push(Op::EndLoop);
            }
            Instruction::VarInst { dest, op, args } => {
                let (a, b) = match args.as_slice() {
                    [a] if op.arity() == 1 => (arg(a)?, Arg::Imm(0)),
                    [a, b] if op.arity() == 2 => (arg(a)?, arg(b)?),
                    _ => {
                        return Err(err(format!(
                            "varinst {} takes {}, found {}",
                            op.name(),
                            crate::message::count(op.arity(), "argument"),
                            args.len()
                        )))
                    }
                };
                ops.push(Op::VarInst {
                    dest: slot(dest)?,
                    op: *op,
                    a,
                    b,
                });
            }
            Instruction::Execute(e) => {
                let graph = netlist
                    .graphs
                    .iter()
                    .position(|g| g.name == e.graph_name)
                    .ok_or_else(|| {
                        err(format!(
                            "execute names graph `{}`, which the netlist does not declare",
                            e.graph_name
                        ))
                    })?;
                let start = code.settings.len();
                for s in &e.queue_settings {
                    let setting = compile_setting(s, queue(&s.name)?, &arg)?;
                    for (o, kind) in [
                        (setting.rd_ptr_global, PointerKind::RdGlobal),
                        (setting.wr_ptr_global, PointerKind::WrGlobal),
                    ] {
                        if let Some(Arg::Slot(v)) = o {
                            let q = setting.queue;
                            let known = code
                                .bindings
                                .iter()
                                .any(|b| b.slot == v && b.queue == q && b.kind == kind);
                            if !known {
                                code.bindings.push(Binding {
                                    slot: v,
                                    queue: q,
                                    kind,
                                });
                            }
                        }
                    }
                    code.settings.push(setting);
                }
                let end = code.settings.len();
                ops.push(Op::Execute { graph, start, end });
            }
            Instruction::AllocateQueue(names) => ops.push(Op::Allocate(
                names.iter().map(|n| queue(n)).collect::<Result<_, _>>()?,
            )),
            Instruction::DeallocateQueue(names) => ops.push(Op::Deallocate(
                names.iter().map(|n| queue(n)).collect::<Result<_, _>>()?,
            )),
            Instruction::EndProgram => ops.push(Op::End),
        }
        code.steps
            .extend(ops.into_iter().map(|op| CompiledStep { line, op }));
    }
    if depth != 0 {
        return Err(at(
            &p.name,
            p.line,
            format!(
                "{} without a matching endloop",
                crate::message::count(depth, "loop")
            ),
        ));
    }
    // A program built without its trailing EndProgram still ends.
    if !matches!(code.steps.last(), Some(CompiledStep { op: Op::End, .. })) {
        code.steps.push(CompiledStep {
            line: 0,
            op: Op::End,
        });
    }
    Ok((code, deepest))
}

fn compile_setting(
    s: &QueueSetting,
    queue: usize,
    arg: &dyn Fn(&Operand) -> Result<Arg, ProgramError>,
) -> Result<Setting, ProgramError> {
    let opt = |o: &Option<Operand>| o.as_ref().map(arg).transpose();
    Ok(Setting {
        queue,
        prologue: opt(&s.prologue)?,
        epilogue: opt(&s.epilogue)?,
        zero: opt(&s.zero)?,
        rd_ptr_local: opt(&s.rd_ptr_local)?,
        rd_ptr_global: opt(&s.rd_ptr_global)?,
        wr_ptr_global: opt(&s.wr_ptr_global)?,
        rd_ptr_autoinc: arg(&s.rd_ptr_autoinc)?,
        global_rdptr_autoinc: arg(&s.global_rdptr_autoinc)?,
        global_wrptr_autoinc: arg(&s.global_wrptr_autoinc)?,
        read_only: opt(&s.read_only)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn varinst_arithmetic() {
        use VarInstOp::*;
        assert_eq!(var_inst(Set, 9, -4, 0), Ok(-4));
        assert_eq!(var_inst(Add, 9, -4, 6), Ok(2));
        assert_eq!(var_inst(Mul, 9, -4, 6), Ok(-24));
        assert_eq!(var_inst(Inc, 9, -4, 0), Ok(5));
        assert_eq!(var_inst(IncWrap, 6, 3, 8), Ok(1));
        assert_eq!(var_inst(IncWrap, 0, -1, 8), Ok(7));
        assert_eq!(var_inst(IncWrap, -3, -30, 8), Ok(7));
        assert_eq!(var_inst(IncWrap, i64::MAX, i64::MAX, 7), Ok(0));
        assert_eq!(var_inst(IncWrap, 1, 1, 0), Err(StepError::Wrap { wrap: 0 }));
        assert_eq!(
            var_inst(IncWrap, 1, 1, -8),
            Err(StepError::Wrap { wrap: -8 })
        );
        assert_eq!(
            var_inst(Add, 0, i64::MAX, 1),
            Err(StepError::Overflow { op: Add })
        );
        assert_eq!(
            var_inst(Mul, 0, i64::MIN, -1),
            Err(StepError::Overflow { op: Mul })
        );
        assert_eq!(
            var_inst(Inc, i64::MIN, -1, 0),
            Err(StepError::Overflow { op: Inc })
        );
    }

    #[test]
    fn pointers_run_below_twice_the_entries() {
        let queues = [(String::from("q"), 8u64)];
        assert_eq!(pointer(&queues, 0, "rd_ptr_global", 7), Ok(7));
        for v in [8, -1, i64::MAX, i64::MIN] {
            let e = pointer(&queues, 0, "rd_ptr_global", v).unwrap_err();
            assert_eq!(
                e,
                StepError::Pointer {
                    queue: "q",
                    setting: "rd_ptr_global",
                    value: v,
                    limit: 8
                }
            );
        }
    }

    #[test]
    fn step_errors_say_what_the_instruction_got_wrong() {
        let cases = [
            (
                StepError::Overflow {
                    op: VarInstOp::IncWrap,
                },
                "varinst incwrap overflows a 64-bit value",
            ),
            (
                StepError::Wrap { wrap: -8 },
                "varinst incwrap needs a wrap >= 1, found -8",
            ),
            (
                StepError::Pointer {
                    queue: "q",
                    setting: "wr_ptr_global",
                    value: -1,
                    limit: 8,
                },
                "pointer overflow: queue `q` wr_ptr_global = -1, expected 0..8 (2 * entries)",
            ),
            (
                StepError::Flag {
                    queue: "q",
                    key: "zero",
                    value: 2,
                },
                "queue `q` zero = 2, expected a boolean (0/1, false/true)",
            ),
            (
                StepError::Autoinc {
                    queue: "q",
                    key: "rd_ptr_autoinc",
                    value: -1,
                },
                "queue `q` rd_ptr_autoinc = -1, expected 0..=4294967295",
            ),
        ];
        for (e, text) in cases {
            assert_eq!(e.to_string(), text);
        }
    }

    #[test]
    fn an_error_stays_on_one_line() {
        let e = at("p\nq", 3, "bad");
        assert_eq!(e.to_string(), "program `p\\nq`, line 3: bad");
    }
}
