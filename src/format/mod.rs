//! Data formats, tile layout and the tilize/untilize codecs.
//!
//! Two sets of host conversion rules live here. Buda queues (`tilize`/`untilize`, `encode_tile`,
//! `decode_tile`) follow Buda's reference codecs, bit-exact, with the roundings of
//! [`Rounding::default`] and [`BfpDecoding::Buda`]. TT-Metal tensors (`page`, what
//! `ttrt_tensor_*` writes and reads) follow TT-Metal's host conversion, byte-exact with
//! `ttnn.Tensor(..., layout=TILE_LAYOUT)` and its read-back: [`Rounding::tt_metal`] and
//! [`BfpDecoding::TtMetal`].
//!
//! Everything here works on caller buffers: no allocation, no `std`, so firmware can convert
//! tensors itself. The facts these codecs follow are in the notes' "Tile bytes" and "Golden
//! round-trip" sections; upstream quirks ttrt does not copy are marked where they are decided.

mod arch;
pub mod bfp;
mod data_format;
pub mod element;
mod error;
mod fast;
mod host;
pub mod page;
mod queue;
mod tile;

pub use arch::Arch;
pub use bfp::{decode_datum, decode_datum_with, encode_block};
pub use data_format::{DataFormat, ExponentFamily};
pub use error::FormatError;
pub(crate) use host::check_extent;
pub use host::{contiguous_strides, HostTensor, HostTensorMut};
pub use queue::{
    check_tilize, check_untilize, tilize, untilize, IoLayout, QueueLayout, UblockOrder,
};
pub use tile::{decode_tile, encode_tile, tile_size_bytes, TileDim, TILE_HEADER_SIZE};

/// How block floats round their mantissas.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BfpRounding {
    /// Half up on the aligned, already truncated mantissa, saturating (Buda's reference).
    #[default]
    HalfUp,
    /// Plain truncation (`TT_BACKEND_DISABLE_BFP_RTE=1`).
    Truncate,
    /// TT-Metal's host packer: to nearest on the aligned, already truncated mantissa, ties to
    /// even, saturating; a datum whose exponent field is 0 (a zero or a denormal) packs as 0
    /// and adds nothing to its block's exponent beyond 0.
    NearestEven,
}

/// How block-float datums read back as fp32. The two differ only for a code of zero
/// magnitude with its sign bit set and for values below fp32's normal range (blocks with a
/// shared exponent under 7 for Bfp8_b, under 3 for Bfp4_b).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BfpDecoding {
    /// Buda queues: a zero magnitude is +0; below fp32's normal range the exact value (a
    /// denormal), where Buda's unpacker assembles exponent 0 and loses the hidden bit.
    #[default]
    Buda,
    /// TT-Metal's `convert_bfp_to_u32`, as ttnn reads tile pages back: the sign is kept on a
    /// zero magnitude (-0); a value whose exponent would be 0 keeps its fraction under
    /// exponent 0 without the hidden bit; below that it is +0.
    TtMetal,
}

/// How fp32 becomes bfloat16 on the way to a Float16_b queue.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Float16bRounding {
    /// The top 16 bits (Buda's reference).
    #[default]
    Truncate,
    /// Round to nearest even (what PyBuda does on the host before handing data over).
    NearestEven,
    /// Round to nearest even, every NaN becoming the positive quiet NaN 0x7fc0 (TT-Metal's
    /// host conversion to bfloat16).
    NearestEvenCanonicalNan,
}

/// Rounding choices for encoding; the default is Buda's reference behaviour.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rounding {
    pub bfp: BfpRounding,
    pub float16_b: Float16bRounding,
}

impl Rounding {
    /// Buda's reference codecs (the default): Float16_b truncates, block floats round half up.
    pub const fn buda() -> Rounding {
        Rounding {
            bfp: BfpRounding::HalfUp,
            float16_b: Float16bRounding::Truncate,
        }
    }

    /// TT-Metal's host conversion (`ttnn.Tensor` from float32): bfloat16 and block floats
    /// round to nearest, ties to even; a bfloat16 NaN is 0x7fc0; block-float denormals pack
    /// as 0.
    pub const fn tt_metal() -> Rounding {
        Rounding {
            bfp: BfpRounding::NearestEven,
            float16_b: Float16bRounding::NearestEvenCanonicalNan,
        }
    }
}
