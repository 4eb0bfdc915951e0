//! Why the engine cannot plan an op or an op fails while it runs: what the op holds against
//! what it needs. The graph puts the netlist, graph and op in front (see `ExecError`).

use alloc::string::String;
use core::fmt;

use super::sparse::SparseError;
use super::tm::Shape;
use crate::compute::ComputeError;
use crate::netlist::SpliceInput;

/// An op the engine cannot plan or run.
#[derive(Clone, Debug, PartialEq)]
pub enum OpError {
    /// The golden model's computation failed.
    Compute(ComputeError),
    /// A TM cannot apply to its input (what it would need).
    Tm(&'static str),
    /// An identity matmul's geometry or encoding.
    Sparse(SparseError),
    IdentityQuant,
    IdentityAccumulate,
    /// An identity matmul with (`bias`) or without a bias takes `count` inputs.
    IdentityInputs {
        bias: bool,
        count: usize,
        found: usize,
    },
    /// A `sparse_*_bits` attribute outside 1..=15.
    IdentityBits {
        attribute: &'static str,
        bits: i64,
    },
    IdentityNoBits {
        attribute: &'static str,
    },
    IdentityFracture {
        factor: i64,
    },
    IdentityBias {
        bias: Shape,
        output: Shape,
    },
    /// The two inputs of a binary op, `[t, rt, ct]` each.
    BinaryShapes {
        a: [u32; 3],
        b: [u32; 3],
    },
    /// A matmul's bias (or requant/dequant scale when `scale`) against the product,
    /// `[t, rt, ct]` each.
    MatmulOperand {
        scale: bool,
        operand: [u32; 3],
        product: [u32; 3],
    },
    /// An SFPU op other than gelu fused with a matmul.
    MatmulSfpu {
        op: String,
    },
    TopkShapes {
        values: Shape,
        indices: Shape,
    },
    /// `k` outside 1 to the `size` values one core holds of a row.
    TopkK {
        k: usize,
        size: usize,
        per_core: usize,
        ct: u32,
        cores: usize,
    },
    TopkRowMemory {
        size: usize,
    },
    TopkOutput {
        cores: usize,
        per_core: usize,
    },
    TilizerInputs {
        found: usize,
    },
    TilizerReadsOp {
        input: String,
    },
    TilizerNotQueue {
        input: String,
    },
    /// The tilizer's input queue is written by `writer`, not the host.
    TilizerWriter {
        input: String,
        writer: String,
    },
    TilizerTms,
    TilizerPad,
    /// The tilizer's ublock against its input queue's, `[rt, ct]` each.
    TilizerUblock {
        input: String,
        op: [u32; 2],
        queue: [u32; 2],
    },
    SpliceInputs {
        found: usize,
    },
    SpliceNoWindow {
        input: usize,
    },
    SpliceWindow {
        input: usize,
        window: SpliceInput,
    },
    /// A splice by t: an input whose rt and ct are not the output's.
    SpliceTiles {
        input: usize,
        shape: Shape,
        output: Shape,
    },
    SpliceUblocks {
        input: usize,
        shape: Shape,
    },
    SpliceGroup {
        input: usize,
        group: usize,
        units: usize,
    },
    SpliceRounds,
    SpliceUnits {
        produced: usize,
        holds: usize,
    },
    EmbeddingNoNumIndices,
    EmbeddingRows {
        rt: u32,
        grid_r: usize,
        num: usize,
    },
    EmbeddingShapes {
        table: Shape,
        indices: Shape,
        output: Shape,
    },
    EmbeddingIndices {
        indices: Shape,
        num: usize,
    },
    EmbeddingIndex {
        index: usize,
        rows: usize,
    },
}

impl fmt::Display for OpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpError::Compute(e) => e.fmt(f),
            OpError::Tm(what) => f.write_str(what),
            OpError::Sparse(e) => e.fmt(f),
            OpError::IdentityQuant => {
                f.write_str("identity matmul with requant or dequant is not supported")
            }
            OpError::IdentityAccumulate => {
                f.write_str("identity matmul with accumulate is not supported")
            }
            OpError::IdentityInputs { bias, count, found } => write!(
                f,
                "an identity matmul {} a bias takes {}, the op has {found}",
                if *bias { "with" } else { "without" },
                crate::message::count(*count, "input"),
            ),
            OpError::IdentityBits { attribute, bits } => {
                write!(f, "{attribute} {bits} must be in 1..=15")
            }
            OpError::IdentityNoBits { attribute } => {
                write!(f, "an identity matmul needs attribute {attribute}")
            }
            OpError::IdentityFracture { factor } => {
                write!(f, "fracture_factor {factor} must be positive")
            }
            OpError::IdentityBias { bias, output } => {
                write!(f, "the bias {bias} differs from the output {output}")
            }
            OpError::BinaryShapes { a, b } => write!(
                f,
                "binary inputs differ in shape ([{}, {}, {}] and [{}, {}, {}])",
                a[0], a[1], a[2], b[0], b[1], b[2]
            ),
            OpError::MatmulOperand {
                scale,
                operand: o,
                product: p,
            } => write!(
                f,
                "the {} has shape [t {}, rt {}, ct {}], the product [t {}, rt {}, ct {}]",
                if *scale {
                    "requant/dequant scale"
                } else {
                    "bias"
                },
                o[0],
                o[1],
                o[2],
                p[0],
                p[1],
                p[2]
            ),
            OpError::MatmulSfpu { op } => write!(
                f,
                "matmul sfpu_op {op} is not supported (upstream fuses only gelu with matmul)"
            ),
            OpError::TopkShapes { values, indices } => write!(
                f,
                "topk values {values} and indices {indices} must have the same shape after \
                 their TMs"
            ),
            OpError::TopkK {
                k,
                size,
                per_core,
                ct,
                cores,
            } => write!(
                f,
                "topk k {k} must be 1 to the {size} values of a row on one core ({per_core} of \
                 the input's {ct} tile columns over {cores} grid columns)"
            ),
            OpError::TopkRowMemory { size } => {
                write!(f, "topk: no memory for a row of {size} values")
            }
            OpError::TopkOutput { cores, per_core } => {
                write!(f, "topk output of {cores} x {per_core} tile columns")
            }
            OpError::TilizerInputs { found } => {
                write!(f, "tilizer takes 1 input, the op has {found}")
            }
            OpError::TilizerReadsOp { input } => write!(
                f,
                "tilizer input {input} is an op: a tilizer reads a queue the host feeds"
            ),
            OpError::TilizerNotQueue { input } => {
                write!(f, "tilizer input {input} is not a queue")
            }
            OpError::TilizerWriter { input, writer } => write!(
                f,
                "tilizer input queue {input} is written by {writer}: a tilizer reads a queue \
                 the host feeds (golden re-tilizes the host's buffer of a pushed entry)"
            ),
            OpError::TilizerTms => {
                f.write_str("TMs on the input of a tilizer are not allowed (upstream refuses them)")
            }
            OpError::TilizerPad => f.write_str(
                "input pad or unpad on a tilizer is not supported (golden's pad and unpad drop \
                 the host buffer it tilizes)",
            ),
            OpError::TilizerUblock { input, op, queue } => write!(
                f,
                "tilizer ublock [{}, {}] differs from its input queue {input}'s [{}, {}]; \
                 upstream requires them equal when either has more than one row",
                op[0], op[1], queue[0], queue[1]
            ),
            OpError::SpliceInputs { found } => {
                write!(f, "splice takes 1 to 8 inputs, the op has {found}")
            }
            OpError::SpliceNoWindow { input: k } => {
                write!(
                    f,
                    "splice input {k} has no input{k}: [index, length, stride]"
                )
            }
            OpError::SpliceWindow { input, window } => write!(
                f,
                "splice input{input}: {window:?} needs index, length >= 0 and stride >= length"
            ),
            OpError::SpliceTiles {
                input,
                shape,
                output,
            } => write!(
                f,
                "splice input {input} {shape} must have the output's rt and ct {output}"
            ),
            OpError::SpliceUblocks { input, shape } => write!(
                f,
                "splice input {input} {shape} does not split into the op grid's ublocks"
            ),
            OpError::SpliceGroup {
                input,
                group,
                units,
            } => write!(
                f,
                "splice input{input}: index + stride ({group}) must divide its {units} units"
            ),
            OpError::SpliceRounds => f.write_str("splice inputs need the same number of rounds"),
            OpError::SpliceUnits { produced, holds } => write!(
                f,
                "splice produces {produced} units, the output holds {holds}"
            ),
            OpError::EmbeddingNoNumIndices => {
                f.write_str("embedding without num_indices is not supported")
            }
            OpError::EmbeddingRows { rt, grid_r, num } => write!(
                f,
                "embedding output rt {rt} must be grid rows {grid_r} * ceil(num_indices {num} / 32)"
            ),
            OpError::EmbeddingShapes {
                table,
                indices,
                output,
            } => write!(
                f,
                "embedding table {table} and indices {indices} do not fit the output {output}"
            ),
            OpError::EmbeddingIndices { indices, num } => write!(
                f,
                "embedding indices {indices} do not hold {num} indices per grid row"
            ),
            OpError::EmbeddingIndex { index, rows } => write!(
                f,
                "embedding index {index} is outside the table's {rows} rows"
            ),
        }
    }
}

impl From<&'static str> for OpError {
    fn from(what: &'static str) -> Self {
        OpError::Tm(what)
    }
}

impl From<SparseError> for OpError {
    fn from(e: SparseError) -> Self {
        OpError::Sparse(e)
    }
}

impl From<ComputeError> for OpError {
    fn from(e: ComputeError) -> Self {
        OpError::Compute(e)
    }
}

#[cfg(test)]
mod tests {
    //! Each `OpError` prints the text the engine printed when these failures were strings.

    use super::OpError;
    use crate::netlist::exec::Shape;
    use crate::netlist::SpliceInput;
    use alloc::string::{String, ToString};

    fn shape(z: u32, rt: u32, ct: u32) -> Shape {
        Shape { z, rt, ct }
    }

    #[test]
    fn op_errors_print_what_the_op_holds_against_what_it_needs() {
        let s = String::from;
        let cases = [
            (
                OpError::Tm("a broadcast factor of 0"),
                "a broadcast factor of 0",
            ),
            (
                OpError::IdentityQuant,
                "identity matmul with requant or dequant is not supported",
            ),
            (
                OpError::IdentityAccumulate,
                "identity matmul with accumulate is not supported",
            ),
            (
                OpError::IdentityInputs {
                    bias: true,
                    count: 4,
                    found: 3,
                },
                "an identity matmul with a bias takes 4 inputs, the op has 3",
            ),
            (
                OpError::IdentityInputs {
                    bias: false,
                    count: 3,
                    found: 1,
                },
                "an identity matmul without a bias takes 3 inputs, the op has 1",
            ),
            (
                OpError::IdentityBits {
                    attribute: "sparse_tile_ptr_bits",
                    bits: 16,
                },
                "sparse_tile_ptr_bits 16 must be in 1..=15",
            ),
            (
                OpError::IdentityNoBits {
                    attribute: "sparse_tile_ptr_bits",
                },
                "an identity matmul needs attribute sparse_tile_ptr_bits",
            ),
            (
                OpError::IdentityFracture { factor: -2 },
                "fracture_factor -2 must be positive",
            ),
            (
                OpError::IdentityBias {
                    bias: shape(1, 1, 1),
                    output: shape(1, 2, 1),
                },
                "the bias [t 1, rt 1, ct 1] differs from the output [t 1, rt 2, ct 1]",
            ),
            (
                OpError::BinaryShapes {
                    a: [1, 2, 3],
                    b: [1, 2, 4],
                },
                "binary inputs differ in shape ([1, 2, 3] and [1, 2, 4])",
            ),
            (
                OpError::MatmulOperand {
                    scale: false,
                    operand: [1, 1, 2],
                    product: [1, 2, 2],
                },
                "the bias has shape [t 1, rt 1, ct 2], the product [t 1, rt 2, ct 2]",
            ),
            (
                OpError::MatmulOperand {
                    scale: true,
                    operand: [2, 1, 2],
                    product: [1, 2, 2],
                },
                "the requant/dequant scale has shape [t 2, rt 1, ct 2], the product [t 1, rt 2, \
                 ct 2]",
            ),
            (
                OpError::MatmulSfpu { op: s("exp") },
                "matmul sfpu_op exp is not supported (upstream fuses only gelu with matmul)",
            ),
            (
                OpError::TopkShapes {
                    values: shape(1, 1, 2),
                    indices: shape(1, 1, 4),
                },
                "topk values [t 1, rt 1, ct 2] and indices [t 1, rt 1, ct 4] must have the same \
                 shape after their TMs",
            ),
            (
                OpError::TopkK {
                    k: 70,
                    size: 64,
                    per_core: 2,
                    ct: 4,
                    cores: 2,
                },
                "topk k 70 must be 1 to the 64 values of a row on one core (2 of the input's 4 \
                 tile columns over 2 grid columns)",
            ),
            (
                OpError::TopkRowMemory { size: 64 },
                "topk: no memory for a row of 64 values",
            ),
            (
                OpError::TopkOutput {
                    cores: 3,
                    per_core: 2,
                },
                "topk output of 3 x 2 tile columns",
            ),
            (
                OpError::TilizerInputs { found: 2 },
                "tilizer takes 1 input, the op has 2",
            ),
            (
                OpError::TilizerReadsOp { input: s("op0") },
                "tilizer input op0 is an op: a tilizer reads a queue the host feeds",
            ),
            (
                OpError::TilizerNotQueue { input: s("x") },
                "tilizer input x is not a queue",
            ),
            (
                OpError::TilizerWriter {
                    input: s("q"),
                    writer: s("op0"),
                },
                "tilizer input queue q is written by op0: a tilizer reads a queue the host feeds \
                 (golden re-tilizes the host's buffer of a pushed entry)",
            ),
            (
                OpError::TilizerTms,
                "TMs on the input of a tilizer are not allowed (upstream refuses them)",
            ),
            (
                OpError::TilizerPad,
                "input pad or unpad on a tilizer is not supported (golden's pad and unpad drop \
                 the host buffer it tilizes)",
            ),
            (
                OpError::TilizerUblock {
                    input: s("q"),
                    op: [2, 1],
                    queue: [1, 1],
                },
                "tilizer ublock [2, 1] differs from its input queue q's [1, 1]; upstream \
                 requires them equal when either has more than one row",
            ),
            (
                OpError::SpliceInputs { found: 9 },
                "splice takes 1 to 8 inputs, the op has 9",
            ),
            (
                OpError::SpliceNoWindow { input: 1 },
                "splice input 1 has no input1: [index, length, stride]",
            ),
            (
                OpError::SpliceWindow {
                    input: 0,
                    window: SpliceInput {
                        index: -1,
                        length: 1,
                        stride: 1,
                    },
                },
                "splice input0: SpliceInput { index: -1, length: 1, stride: 1 } needs index, \
                 length >= 0 and stride >= length",
            ),
            (
                OpError::SpliceTiles {
                    input: 1,
                    shape: shape(2, 1, 1),
                    output: shape(4, 2, 1),
                },
                "splice input 1 [t 2, rt 1, ct 1] must have the output's rt and ct [t 4, rt 2, \
                 ct 1]",
            ),
            (
                OpError::SpliceUblocks {
                    input: 0,
                    shape: shape(1, 3, 1),
                },
                "splice input 0 [t 1, rt 3, ct 1] does not split into the op grid's ublocks",
            ),
            (
                OpError::SpliceGroup {
                    input: 2,
                    group: 3,
                    units: 4,
                },
                "splice input2: index + stride (3) must divide its 4 units",
            ),
            (
                OpError::SpliceRounds,
                "splice inputs need the same number of rounds",
            ),
            (
                OpError::SpliceUnits {
                    produced: 6,
                    holds: 4,
                },
                "splice produces 6 units, the output holds 4",
            ),
            (
                OpError::EmbeddingNoNumIndices,
                "embedding without num_indices is not supported",
            ),
            (
                OpError::EmbeddingRows {
                    rt: 3,
                    grid_r: 1,
                    num: 40,
                },
                "embedding output rt 3 must be grid rows 1 * ceil(num_indices 40 / 32)",
            ),
            (
                OpError::EmbeddingShapes {
                    table: shape(1, 4, 2),
                    indices: shape(1, 1, 1),
                    output: shape(1, 2, 3),
                },
                "embedding table [t 1, rt 4, ct 2] and indices [t 1, rt 1, ct 1] do not fit the \
                 output [t 1, rt 2, ct 3]",
            ),
            (
                OpError::EmbeddingIndices {
                    indices: shape(1, 1, 1),
                    num: 2000,
                },
                "embedding indices [t 1, rt 1, ct 1] do not hold 2000 indices per grid row",
            ),
            (
                OpError::EmbeddingIndex {
                    index: 130,
                    rows: 128,
                },
                "embedding index 130 is outside the table's 128 rows",
            ),
        ];
        for (e, text) in cases {
            assert_eq!(e.to_string(), text);
        }
    }
}
