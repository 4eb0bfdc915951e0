//! Why the engine cannot plan a graph's op or a fused op's schedule: what the netlist holds
//! against what the engine needs. The graph puts the netlist, graph and op in front (see
//! `ExecError`).

use alloc::string::String;
use core::fmt;

use super::tm::Shape;
use super::OpError;
use crate::format::TileDim;
use crate::netlist::{OpType, OpTypeName, Tm};

/// A TM that cannot apply to the shape it meets.
#[derive(Clone, Debug, PartialEq)]
pub struct TmError {
    pub tm: Tm,
    /// What the TM would need.
    pub why: &'static str,
    /// The shape the TM meets.
    pub shape: Shape,
}

impl fmt::Display for TmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "TM {:?}: {} (input shape {})",
            self.tm, self.why, self.shape
        )
    }
}

/// A matmul's `m_k * u_kt` against input 1's `rt` (after its TMs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InnerTiles {
    pub m_k: u32,
    pub u_kt: u32,
    pub rt: u32,
}

impl fmt::Display for InnerTiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let InnerTiles { m_k, u_kt, rt } = self;
        write!(f, "m_k {m_k} * u_kt {u_kt} must equal input 1's rt {rt}")
    }
}

/// An input of an op the engine cannot prepare.
#[derive(Clone, Debug, PartialEq)]
pub enum InputError {
    /// Tiles smaller than 32x32 into an op that takes none.
    SmallTileOp {
        tile: TileDim,
        op: OpType,
    },
    /// A TM on tiles smaller than 32x32 that does not move or pad whole tiles.
    SmallTileTm {
        tm: Tm,
        tile: TileDim,
    },
    TileBroadcast,
    /// A transpose on input `input` of an op that does not transpose inside its tiles there.
    Transpose {
        input: usize,
        op: OpTypeName,
    },
    Unpad(&'static str),
    Tm(TmError),
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputError::SmallTileOp { tile, op } => write!(
                f,
                "tile_dim {}x{} inputs of {op} are not supported (upstream refuses it too)",
                tile.height, tile.width
            ),
            InputError::SmallTileTm { tm, tile } => write!(
                f,
                "{tm:?} on tile_dim {}x{} tiles is not supported",
                tile.height, tile.width
            ),
            InputError::TileBroadcast => {
                f.write_str("tile_broadcast outside a fused op is not supported")
            }
            InputError::Transpose { input, op } => {
                write!(f, "transpose on input {input} of {op} is not supported")
            }
            InputError::Unpad(why) => f.write_str(why),
            InputError::Tm(e) => e.fmt(f),
        }
    }
}

/// A queue an op writes that does not take the op's output.
#[derive(Clone, Debug, PartialEq)]
pub enum QueueError {
    TileDim {
        queue: TileDim,
        op: TileDim,
    },
    /// `pad` or `tile_broadcast` in the queue's `input_tms`.
    InputTms,
    Tm(TmError),
    /// The op's `output` becomes `after` through the queue's `input_tms`, not `entry`.
    Shape {
        output: Shape,
        after: Shape,
        entry: Shape,
    },
}

impl fmt::Display for QueueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueueError::TileDim { queue, op } => write!(
                f,
                "the queue's tile_dim {}x{} differs from the op's {}x{} (upstream requires them \
                 equal)",
                queue.height, queue.width, op.height, op.width
            ),
            QueueError::InputTms => {
                f.write_str("pad and tile_broadcast in queue input_tms are not supported")
            }
            QueueError::Tm(e) => e.fmt(f),
            QueueError::Shape {
                output,
                after,
                entry,
            } => write!(
                f,
                "the op's output {output} becomes {after} after the queue's input_tms, but a \
                 queue entry is {entry}"
            ),
        }
    }
}

/// A graph's op the engine cannot plan.
#[derive(Clone, Debug, PartialEq)]
pub enum PlanError {
    /// What the op's own plan (or its golden model) refuses.
    Op(OpError),
    Fused(FusedError),
    Input {
        input: usize,
        error: InputError,
    },
    /// An input named `input` that an op of graph `graph` writes, outside the plan.
    InputOtherGraph {
        input: String,
        graph: String,
    },
    InputUnknown {
        input: String,
    },
    Cycle,
    OutputQueue {
        queue: String,
        line: u32,
        error: QueueError,
    },
    UnsupportedType(OpTypeName),
    VectorZ,
    /// An op of type `op` takes `count` inputs.
    Inputs {
        op: OpType,
        count: usize,
        found: usize,
    },
    /// Two inputs of an elementwise op of type `op`, `(index, shape)` each.
    InputShapes {
        op: OpType,
        a: (usize, Shape),
        b: (usize, Shape),
    },
    MatmulRequantDequant,
    MatmulInner {
        a: Shape,
        b: Shape,
    },
    MatmulMk(InnerTiles),
    /// Input 1's `t` below input 0's.
    MatmulT {
        t0: u32,
        t1: u32,
    },
    MatmulAccumulate {
        z: u32,
        t: u32,
    },
    /// A bias or scale input of a matmul against the product's shape.
    MatmulInput {
        input: usize,
        shape: Shape,
        product: Shape,
    },
    DepthwiseUkt,
    DepthwiseKernels {
        kernels: u32,
        ct: u32,
    },
    DepthwiseInputs {
        a: Shape,
        b: Shape,
    },
    DepthwiseBias {
        bias: Shape,
        output: Shape,
    },
    ReduceType,
    ReduceNoType,
    ReduceNoDim,
    ReduceZ {
        z: u32,
        t: u32,
    },
    FusedNoId,
    FusedUndefined {
        id: String,
    },
    /// A tilizer whose input rules were not checked first (a defect of the engine).
    TilizerUnchecked,
    OutputShape {
        computed: Shape,
        declared: Shape,
    },
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanError::Op(e) => e.fmt(f),
            PlanError::Fused(e) => e.fmt(f),
            PlanError::Input { input, error } => write!(f, "input {input}: {error}"),
            PlanError::InputOtherGraph { input, graph } => write!(
                f,
                "input {input} is an op of graph {graph}, which is not compiled with this one: \
                 graphs joined by ops reading ops run as one temporal graph \
                 (GraphPlan::temporal)"
            ),
            PlanError::InputUnknown { input } => {
                write!(f, "input {input} is neither a queue nor an op of the graph")
            }
            PlanError::Cycle => f.write_str("the ops form a cycle"),
            PlanError::OutputQueue { queue, line, error } => {
                write!(f, "output queue {queue} (line {line}): {error}")
            }
            PlanError::UnsupportedType(t) => write!(f, "op type {t} is not supported"),
            PlanError::VectorZ => f.write_str("vector: z is not supported"),
            PlanError::Inputs { op, count, found } => write!(
                f,
                "{op} takes {}, the op has {found}",
                crate::message::count(*count, "input")
            ),
            PlanError::InputShapes { op, a, b } => write!(
                f,
                "{op}: input {} has shape {} and input {} {} after their TMs; they must be equal",
                a.0, a.1, b.0, b.1
            ),
            PlanError::MatmulRequantDequant => {
                f.write_str("matmul with both requant and dequant is not supported")
            }
            PlanError::MatmulInner { a, b } => write!(
                f,
                "matmul inner dimensions differ: input 0 {a} and input 1 {b}"
            ),
            PlanError::MatmulMk(e) => write!(f, "{e} (after TMs)"),
            PlanError::MatmulT { t0, t1 } => {
                write!(f, "input 1 has t {t1} below input 0's t {t0}")
            }
            PlanError::MatmulAccumulate { z, t } => {
                write!(f, "accumulate with z {z} does not divide input t {t}")
            }
            PlanError::MatmulInput {
                input,
                shape,
                product,
            } => write!(
                f,
                "input {input} has shape {shape} but the product is {product}"
            ),
            PlanError::DepthwiseUkt => f.write_str("depthwise needs u_kt 1"),
            PlanError::DepthwiseKernels { kernels, ct } => write!(
                f,
                "depthwise kernel count (input 1 rt {kernels}) must equal m_k and divide input \
                 0's ct {ct}"
            ),
            PlanError::DepthwiseInputs { a, b } => {
                write!(f, "depthwise input 1 {b} does not fit input 0 {a}")
            }
            PlanError::DepthwiseBias { bias, output } => {
                write!(f, "the bias {bias} differs from the output {output}")
            }
            PlanError::ReduceType => {
                f.write_str("reduce type avg/sum is not supported (golden's parser rejects it)")
            }
            PlanError::ReduceNoType => f.write_str("reduce without type is not supported"),
            PlanError::ReduceNoDim => f.write_str("reduce without dim is not supported"),
            PlanError::ReduceZ { z, t } => {
                write!(f, "reduce z {z} does not divide input t {t}")
            }
            PlanError::FusedNoId => f.write_str("fused_op without fused_op_id"),
            PlanError::FusedUndefined { id } => write!(f, "fused op {id} is not defined"),
            PlanError::TilizerUnchecked => f.write_str("tilizer not checked"),
            PlanError::OutputShape { computed, declared } => write!(
                f,
                "the computed output shape {computed} differs from the declared shape \
                 {declared} (grid_size * mblock * ublock, t)"
            ),
        }
    }
}

impl From<OpError> for PlanError {
    fn from(e: OpError) -> Self {
        PlanError::Op(e)
    }
}

impl From<FusedError> for PlanError {
    fn from(e: FusedError) -> Self {
        PlanError::Fused(e)
    }
}

/// A fused op's schedule the engine cannot plan.
#[derive(Clone, Debug, PartialEq)]
pub enum FusedError {
    /// The fused op takes `count` inputs, the base op has `found`.
    Inputs {
        id: String,
        count: u32,
        found: usize,
    },
    SubOp {
        id: String,
        sub: String,
        line: u32,
        error: SubOpError,
    },
    IntermedAtEnd {
        id: String,
        intermed: usize,
    },
    NoOutput {
        id: String,
    },
}

impl fmt::Display for FusedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FusedError::Inputs { id, count, found } => write!(
                f,
                "fused op {id} takes {}, the op has {found}",
                crate::message::count(*count, "input")
            ),
            FusedError::SubOp {
                id,
                sub,
                line,
                error,
            } => write!(f, "fused op {id} sub-op {sub} (line {line}): {error}"),
            FusedError::IntermedAtEnd { id, intermed } => write!(
                f,
                "fused op {id}: intermed{intermed} still holds data at the end"
            ),
            FusedError::NoOutput { id } => write!(f, "fused op {id}: no sub-op writes output"),
        }
    }
}

/// A sub-op of a fused op's schedule the engine cannot plan.
#[derive(Clone, Debug, PartialEq)]
pub enum SubOpError {
    UnsupportedType(OpTypeName),
    ReduceType,
    ReduceDim,
    Inputs {
        op: OpTypeName,
        count: usize,
        found: usize,
    },
    /// `inputN` of the base op, which has fewer inputs.
    NoInput(u32),
    /// An `intermedN` read while it holds no data.
    IntermedEmpty(u32),
    DestEmpty,
    /// A TM a fused op does not take on input `input`.
    TmUnsupported {
        tm: Tm,
        input: usize,
    },
    /// A TM that cannot apply to its input (what it would need).
    Tm(&'static str),
    BinaryShapes {
        a: Shape,
        b: Shape,
    },
    MatmulMk(InnerTiles),
    MatmulInputs {
        a: Shape,
        b: Shape,
    },
    /// An `intermedN` beyond the fused op's intermediates.
    NoIntermed(u32),
    /// Writes `intermedN` while it holds data the sub-op neither reads nor pops.
    IntermedFull(u32),
}

impl fmt::Display for SubOpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubOpError::UnsupportedType(t) => write!(f, "sub-op type {t} is not supported"),
            SubOpError::ReduceType => {
                f.write_str("reduce type avg/sum is not supported (golden's parser rejects it)")
            }
            SubOpError::ReduceDim => f.write_str("reduce needs dim r, c or rc"),
            SubOpError::Inputs { op, count, found } => write!(
                f,
                "{op} takes {}, the sub-op has {found}",
                crate::message::count(*count, "input")
            ),
            SubOpError::NoInput(n) => write!(f, "input{n} does not exist"),
            SubOpError::IntermedEmpty(k) => write!(f, "intermed{k} holds no data"),
            SubOpError::DestEmpty => f.write_str("dest holds no data"),
            SubOpError::TmUnsupported { tm, input } => write!(
                f,
                "TM {tm:?} on input {input} is not supported in a fused op"
            ),
            SubOpError::Tm(why) => f.write_str(why),
            SubOpError::BinaryShapes { a, b } => {
                write!(f, "inputs differ in shape: {a} and {b}")
            }
            SubOpError::MatmulMk(e) => e.fmt(f),
            SubOpError::MatmulInputs { a, b } => {
                write!(f, "matmul inputs {a} and {b} do not fit")
            }
            SubOpError::NoIntermed(k) => write!(f, "intermed{k} does not exist"),
            SubOpError::IntermedFull(k) => {
                write!(f, "writes intermed{k}, which still holds data")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! Each error prints the text the engine printed when these failures were strings.

    use super::{FusedError, InnerTiles, InputError, PlanError, QueueError, SubOpError, TmError};
    use crate::format::TileDim;
    use crate::netlist::exec::{OpError, Shape};
    use crate::netlist::{Dim, OpType, OpTypeName, Tm};
    use alloc::string::{String, ToString};

    fn shape(z: u32, rt: u32, ct: u32) -> Shape {
        Shape { z, rt, ct }
    }

    const TILE_16X32: TileDim = TileDim {
        height: 16,
        width: 32,
    };

    #[test]
    fn plan_errors_print_what_the_netlist_holds_against_what_the_engine_needs() {
        let s = String::from;
        let hslice = TmError {
            tm: Tm::Hslice(3),
            why: "hslice factor must divide ct",
            shape: shape(1, 1, 4),
        };
        let cases = [
            (
                PlanError::Op(OpError::IdentityQuant),
                "identity matmul with requant or dequant is not supported",
            ),
            (
                PlanError::Input {
                    input: 1,
                    error: InputError::SmallTileOp {
                        tile: TILE_16X32,
                        op: OpType::Splice,
                    },
                },
                "input 1: tile_dim 16x32 inputs of splice are not supported (upstream refuses \
                 it too)",
            ),
            (
                PlanError::Input {
                    input: 0,
                    error: InputError::SmallTileTm {
                        tm: Tm::TileBroadcast(Dim::R),
                        tile: TILE_16X32,
                    },
                },
                "input 0: TileBroadcast(R) on tile_dim 16x32 tiles is not supported",
            ),
            (
                PlanError::Input {
                    input: 2,
                    error: InputError::TileBroadcast,
                },
                "input 2: tile_broadcast outside a fused op is not supported",
            ),
            (
                PlanError::Input {
                    input: 1,
                    error: InputError::Transpose {
                        input: 1,
                        op: OpTypeName::Known(OpType::Add),
                    },
                },
                "input 1: transpose on input 1 of add is not supported",
            ),
            (
                PlanError::Input {
                    input: 0,
                    error: InputError::Unpad("unpad leaves no tiles"),
                },
                "input 0: unpad leaves no tiles",
            ),
            (
                PlanError::Input {
                    input: 0,
                    error: InputError::Tm(hslice.clone()),
                },
                "input 0: TM Hslice(3): hslice factor must divide ct (input shape [t 1, rt 1, \
                 ct 4])",
            ),
            (
                PlanError::InputOtherGraph {
                    input: s("op0"),
                    graph: s("fwd"),
                },
                "input op0 is an op of graph fwd, which is not compiled with this one: graphs \
                 joined by ops reading ops run as one temporal graph (GraphPlan::temporal)",
            ),
            (
                PlanError::InputUnknown { input: s("x") },
                "input x is neither a queue nor an op of the graph",
            ),
            (PlanError::Cycle, "the ops form a cycle"),
            (
                PlanError::OutputQueue {
                    queue: s("out"),
                    line: 7,
                    error: QueueError::TileDim {
                        queue: TileDim::FULL,
                        op: TILE_16X32,
                    },
                },
                "output queue out (line 7): the queue's tile_dim 32x32 differs from the op's \
                 16x32 (upstream requires them equal)",
            ),
            (
                PlanError::OutputQueue {
                    queue: s("out"),
                    line: 7,
                    error: QueueError::InputTms,
                },
                "output queue out (line 7): pad and tile_broadcast in queue input_tms are not \
                 supported",
            ),
            (
                PlanError::OutputQueue {
                    queue: s("out"),
                    line: 7,
                    error: QueueError::Tm(hslice),
                },
                "output queue out (line 7): TM Hslice(3): hslice factor must divide ct (input \
                 shape [t 1, rt 1, ct 4])",
            ),
            (
                PlanError::OutputQueue {
                    queue: s("out"),
                    line: 7,
                    error: QueueError::Shape {
                        output: shape(1, 2, 2),
                        after: shape(2, 1, 2),
                        entry: shape(1, 2, 2),
                    },
                },
                "output queue out (line 7): the op's output [t 1, rt 2, ct 2] becomes [t 2, rt \
                 1, ct 2] after the queue's input_tms, but a queue entry is [t 1, rt 2, ct 2]",
            ),
            (
                PlanError::UnsupportedType(OpTypeName::Unknown(s("conv"))),
                "op type conv is not supported",
            ),
            (PlanError::VectorZ, "vector: z is not supported"),
            (
                PlanError::Inputs {
                    op: OpType::Add,
                    count: 2,
                    found: 1,
                },
                "add takes 2 inputs, the op has 1",
            ),
            (
                PlanError::Inputs {
                    op: OpType::Exp,
                    count: 1,
                    found: 2,
                },
                "exp takes 1 input, the op has 2",
            ),
            (
                PlanError::InputShapes {
                    op: OpType::Multiply,
                    a: (0, shape(1, 1, 1)),
                    b: (1, shape(1, 1, 2)),
                },
                "multiply: input 0 has shape [t 1, rt 1, ct 1] and input 1 [t 1, rt 1, ct 2] \
                 after their TMs; they must be equal",
            ),
            (
                PlanError::MatmulRequantDequant,
                "matmul with both requant and dequant is not supported",
            ),
            (
                PlanError::MatmulInner {
                    a: shape(1, 1, 2),
                    b: shape(1, 3, 1),
                },
                "matmul inner dimensions differ: input 0 [t 1, rt 1, ct 2] and input 1 [t 1, \
                 rt 3, ct 1]",
            ),
            (
                PlanError::MatmulMk(InnerTiles {
                    m_k: 2,
                    u_kt: 2,
                    rt: 3,
                }),
                "m_k 2 * u_kt 2 must equal input 1's rt 3 (after TMs)",
            ),
            (
                PlanError::MatmulT { t0: 4, t1: 2 },
                "input 1 has t 2 below input 0's t 4",
            ),
            (
                PlanError::MatmulAccumulate { z: 3, t: 4 },
                "accumulate with z 3 does not divide input t 4",
            ),
            (
                PlanError::MatmulInput {
                    input: 2,
                    shape: shape(1, 1, 1),
                    product: shape(1, 2, 1),
                },
                "input 2 has shape [t 1, rt 1, ct 1] but the product is [t 1, rt 2, ct 1]",
            ),
            (PlanError::DepthwiseUkt, "depthwise needs u_kt 1"),
            (
                PlanError::DepthwiseKernels { kernels: 3, ct: 4 },
                "depthwise kernel count (input 1 rt 3) must equal m_k and divide input 0's ct 4",
            ),
            (
                PlanError::DepthwiseInputs {
                    a: shape(1, 1, 4),
                    b: shape(1, 2, 3),
                },
                "depthwise input 1 [t 1, rt 2, ct 3] does not fit input 0 [t 1, rt 1, ct 4]",
            ),
            (
                PlanError::DepthwiseBias {
                    bias: shape(1, 1, 1),
                    output: shape(1, 1, 2),
                },
                "the bias [t 1, rt 1, ct 1] differs from the output [t 1, rt 1, ct 2]",
            ),
            (
                PlanError::ReduceType,
                "reduce type avg/sum is not supported (golden's parser rejects it)",
            ),
            (
                PlanError::ReduceNoType,
                "reduce without type is not supported",
            ),
            (
                PlanError::ReduceNoDim,
                "reduce without dim is not supported",
            ),
            (
                PlanError::ReduceZ { z: 3, t: 4 },
                "reduce z 3 does not divide input t 4",
            ),
            (PlanError::FusedNoId, "fused_op without fused_op_id"),
            (
                PlanError::FusedUndefined { id: s("7") },
                "fused op 7 is not defined",
            ),
            (PlanError::TilizerUnchecked, "tilizer not checked"),
            (
                PlanError::OutputShape {
                    computed: shape(1, 1, 2),
                    declared: shape(1, 1, 1),
                },
                "the computed output shape [t 1, rt 1, ct 2] differs from the declared shape [t \
                 1, rt 1, ct 1] (grid_size * mblock * ublock, t)",
            ),
        ];
        for (e, text) in cases {
            assert_eq!(e.to_string(), text);
        }
    }

    #[test]
    fn fused_errors_print_the_fused_op_and_sub_op() {
        let s = String::from;
        let sub = |error| {
            PlanError::Fused(FusedError::SubOp {
                id: s("0"),
                sub: s("mul"),
                line: 12,
                error,
            })
        };
        let cases = [
            (
                PlanError::Fused(FusedError::Inputs {
                    id: s("0"),
                    count: 1,
                    found: 2,
                }),
                s("fused op 0 takes 1 input, the op has 2"),
            ),
            (
                PlanError::Fused(FusedError::IntermedAtEnd {
                    id: s("0"),
                    intermed: 1,
                }),
                s("fused op 0: intermed1 still holds data at the end"),
            ),
            (
                PlanError::Fused(FusedError::NoOutput { id: s("0") }),
                s("fused op 0: no sub-op writes output"),
            ),
        ];
        for (e, text) in cases {
            assert_eq!(e.to_string(), text);
        }
        let subs = [
            (
                SubOpError::UnsupportedType(OpTypeName::Known(OpType::Splice)),
                "sub-op type splice is not supported",
            ),
            (
                SubOpError::ReduceType,
                "reduce type avg/sum is not supported (golden's parser rejects it)",
            ),
            (SubOpError::ReduceDim, "reduce needs dim r, c or rc"),
            (
                SubOpError::Inputs {
                    op: OpTypeName::Known(OpType::Multiply),
                    count: 2,
                    found: 3,
                },
                "multiply takes 2 inputs, the sub-op has 3",
            ),
            (SubOpError::NoInput(3), "input3 does not exist"),
            (SubOpError::IntermedEmpty(0), "intermed0 holds no data"),
            (SubOpError::DestEmpty, "dest holds no data"),
            (
                SubOpError::TmUnsupported {
                    tm: Tm::Transpose,
                    input: 1,
                },
                "TM Transpose on input 1 is not supported in a fused op",
            ),
            (
                SubOpError::Tm("a broadcast factor of 0"),
                "a broadcast factor of 0",
            ),
            (
                SubOpError::BinaryShapes {
                    a: shape(1, 1, 1),
                    b: shape(1, 1, 2),
                },
                "inputs differ in shape: [t 1, rt 1, ct 1] and [t 1, rt 1, ct 2]",
            ),
            (
                SubOpError::MatmulMk(InnerTiles {
                    m_k: 2,
                    u_kt: 1,
                    rt: 1,
                }),
                "m_k 2 * u_kt 1 must equal input 1's rt 1",
            ),
            (
                SubOpError::MatmulInputs {
                    a: shape(1, 1, 2),
                    b: shape(1, 1, 1),
                },
                "matmul inputs [t 1, rt 1, ct 2] and [t 1, rt 1, ct 1] do not fit",
            ),
            (SubOpError::NoIntermed(4), "intermed4 does not exist"),
            (
                SubOpError::IntermedFull(0),
                "writes intermed0, which still holds data",
            ),
        ];
        for (error, text) in subs {
            assert_eq!(
                sub(error).to_string(),
                alloc::format!("fused op 0 sub-op mul (line 12): {text}")
            );
        }
    }
}
