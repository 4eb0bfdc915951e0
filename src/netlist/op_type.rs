//! Op types: the `type:` of a graph op or a fused sub-op, parsed once when the netlist is read
//! (upstream spells them in `netlist_utils.cpp` and `netlist_op_info_types.hpp`). Validation
//! and the golden engine match on [`OpType`]; its spelling is here and nowhere else.

use alloc::string::{String, ToString};
use core::fmt;

/// An op type ttrt knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpType {
    Matmul,
    Depthwise,
    Reduce,
    Splice,
    Embedding,
    FusedOp,
    Topk,
    Tilizer,
    /// The unary copies: `datacopy`, `nop`, `ethernet_datacopy`. Upstream keeps them apart
    /// (an ethernet datacopy has no core and may have no input); they compute the same.
    Datacopy,
    Nop,
    EthernetDatacopy,
    // The SFPU ops (upstream `is_valid_sfpu_op`).
    Exp,
    Log,
    Sqrt,
    Gelu,
    GeluDerivative,
    Reciprocal,
    Sigmoid,
    Dropout,
    Tanh,
    Square,
    Power,
    Sine,
    Cosine,
    Lrelu,
    Abs,
    // The binary ops.
    Add,
    Subtract,
    Multiply,
    Maximum,
    Quantization,
    Requantization,
    Dequantization,
}

/// The families of op types validation and the engine tell apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpFamily {
    /// datacopy, nop, ethernet_datacopy.
    UnaryCopy,
    Sfpu,
    Binary,
    /// matmul, depthwise, reduce, splice, embedding, fused_op, topk, tilizer: each its own.
    Other,
}

impl OpType {
    /// Every op type.
    pub const ALL: [OpType; 33] = [
        OpType::Matmul,
        OpType::Depthwise,
        OpType::Reduce,
        OpType::Splice,
        OpType::Embedding,
        OpType::FusedOp,
        OpType::Topk,
        OpType::Tilizer,
        OpType::Datacopy,
        OpType::Nop,
        OpType::EthernetDatacopy,
        OpType::Exp,
        OpType::Log,
        OpType::Sqrt,
        OpType::Gelu,
        OpType::GeluDerivative,
        OpType::Reciprocal,
        OpType::Sigmoid,
        OpType::Dropout,
        OpType::Tanh,
        OpType::Square,
        OpType::Power,
        OpType::Sine,
        OpType::Cosine,
        OpType::Lrelu,
        OpType::Abs,
        OpType::Add,
        OpType::Subtract,
        OpType::Multiply,
        OpType::Maximum,
        OpType::Quantization,
        OpType::Requantization,
        OpType::Dequantization,
    ];

    /// The netlist spelling (`type: gelu_derivative`).
    pub const fn name(self) -> &'static str {
        match self {
            OpType::Matmul => "matmul",
            OpType::Depthwise => "depthwise",
            OpType::Reduce => "reduce",
            OpType::Splice => "splice",
            OpType::Embedding => "embedding",
            OpType::FusedOp => "fused_op",
            OpType::Topk => "topk",
            OpType::Tilizer => "tilizer",
            OpType::Datacopy => "datacopy",
            OpType::Nop => "nop",
            OpType::EthernetDatacopy => "ethernet_datacopy",
            OpType::Exp => "exp",
            OpType::Log => "log",
            OpType::Sqrt => "sqrt",
            OpType::Gelu => "gelu",
            OpType::GeluDerivative => "gelu_derivative",
            OpType::Reciprocal => "reciprocal",
            OpType::Sigmoid => "sigmoid",
            OpType::Dropout => "dropout",
            OpType::Tanh => "tanh",
            OpType::Square => "square",
            OpType::Power => "power",
            OpType::Sine => "sine",
            OpType::Cosine => "cosine",
            OpType::Lrelu => "lrelu",
            OpType::Abs => "abs",
            OpType::Add => "add",
            OpType::Subtract => "subtract",
            OpType::Multiply => "multiply",
            OpType::Maximum => "maximum",
            OpType::Quantization => "quantization",
            OpType::Requantization => "requantization",
            OpType::Dequantization => "dequantization",
        }
    }

    /// The op type spelled `name`, or `None` for a name ttrt does not know.
    pub fn parse(name: &str) -> Option<OpType> {
        OpType::ALL.iter().copied().find(|t| t.name() == name)
    }

    pub const fn family(self) -> OpFamily {
        match self {
            OpType::Datacopy | OpType::Nop | OpType::EthernetDatacopy => OpFamily::UnaryCopy,
            OpType::Exp
            | OpType::Log
            | OpType::Sqrt
            | OpType::Gelu
            | OpType::GeluDerivative
            | OpType::Reciprocal
            | OpType::Sigmoid
            | OpType::Dropout
            | OpType::Tanh
            | OpType::Square
            | OpType::Power
            | OpType::Sine
            | OpType::Cosine
            | OpType::Lrelu
            | OpType::Abs => OpFamily::Sfpu,
            OpType::Add
            | OpType::Subtract
            | OpType::Multiply
            | OpType::Maximum
            | OpType::Quantization
            | OpType::Requantization
            | OpType::Dequantization => OpFamily::Binary,
            OpType::Matmul
            | OpType::Depthwise
            | OpType::Reduce
            | OpType::Splice
            | OpType::Embedding
            | OpType::FusedOp
            | OpType::Topk
            | OpType::Tilizer => OpFamily::Other,
        }
    }

    /// Whether the op is an SFPU op (upstream `is_valid_sfpu_op`).
    pub fn is_sfpu(self) -> bool {
        self.family() == OpFamily::Sfpu
    }

    pub fn is_binary(self) -> bool {
        self.family() == OpFamily::Binary
    }

    /// datacopy, nop or ethernet_datacopy.
    pub fn is_unary_copy(self) -> bool {
        self.family() == OpFamily::UnaryCopy
    }

    pub fn is_matmul_or_reduce(self) -> bool {
        matches!(self, OpType::Matmul | OpType::Reduce)
    }
}

impl fmt::Display for OpType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An op's or sub-op's `type:` as read: an [`OpType`], or the text of a type ttrt does not
/// know. The reader takes any name, as upstream's parser does; compiling a graph refuses an
/// unknown one by name (validation refuses it in a fused op).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpTypeName {
    Known(OpType),
    Unknown(String),
}

impl OpTypeName {
    pub fn parse(text: &str) -> OpTypeName {
        match OpType::parse(text) {
            Some(t) => OpTypeName::Known(t),
            None => OpTypeName::Unknown(text.to_string()),
        }
    }

    /// The op type, when ttrt knows it.
    pub fn known(&self) -> Option<OpType> {
        match self {
            OpTypeName::Known(t) => Some(*t),
            OpTypeName::Unknown(_) => None,
        }
    }

    /// Whether this is op type `t`.
    pub fn is(&self, t: OpType) -> bool {
        self.known() == Some(t)
    }

    /// The type as the netlist spells it.
    pub fn as_str(&self) -> &str {
        match self {
            OpTypeName::Known(t) => t.name(),
            OpTypeName::Unknown(text) => text,
        }
    }
}

impl PartialEq<OpType> for OpTypeName {
    fn eq(&self, other: &OpType) -> bool {
        self.is(*other)
    }
}

impl fmt::Display for OpTypeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_op_type_parses_back_from_its_name() {
        for t in OpType::ALL {
            assert_eq!(OpType::parse(t.name()), Some(t), "{t}");
        }
        let mut names: alloc::vec::Vec<&str> = OpType::ALL.iter().map(|t| t.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), OpType::ALL.len(), "two op types share a name");
    }

    #[test]
    fn the_copies_stay_distinct_and_relu_is_not_an_op_type() {
        assert_eq!(OpType::parse("nop"), Some(OpType::Nop));
        assert_eq!(
            OpType::parse("ethernet_datacopy"),
            Some(OpType::EthernetDatacopy)
        );
        assert!(OpType::ALL.iter().filter(|t| t.is_unary_copy()).eq(&[
            OpType::Datacopy,
            OpType::Nop,
            OpType::EthernetDatacopy
        ]));
        // relu is an attribute in Buda (relu_en), neg a TT-Metal op; neither is a netlist type.
        for name in ["relu", "neg", "Matmul", "matmul ", ""] {
            assert_eq!(OpType::parse(name), None, "{name:?}");
        }
        let unknown = OpTypeName::parse("frobnicate");
        assert_eq!(unknown, OpTypeName::Unknown("frobnicate".into()));
        assert_eq!(unknown.as_str(), "frobnicate");
        assert_eq!(unknown.known(), None);
        assert!(OpTypeName::parse("matmul").is(OpType::Matmul));
    }

    #[test]
    fn families_match_upstreams_lists() {
        let sfpu: alloc::vec::Vec<&str> = OpType::ALL
            .iter()
            .filter(|t| t.is_sfpu())
            .map(|t| t.name())
            .collect();
        assert_eq!(
            sfpu,
            [
                "exp",
                "log",
                "sqrt",
                "gelu",
                "gelu_derivative",
                "reciprocal",
                "sigmoid",
                "dropout",
                "tanh",
                "square",
                "power",
                "sine",
                "cosine",
                "lrelu",
                "abs"
            ]
        );
        let binary: alloc::vec::Vec<&str> = OpType::ALL
            .iter()
            .filter(|t| t.is_binary())
            .map(|t| t.name())
            .collect();
        assert_eq!(
            binary,
            [
                "add",
                "subtract",
                "multiply",
                "maximum",
                "quantization",
                "requantization",
                "dequantization"
            ]
        );
    }
}
