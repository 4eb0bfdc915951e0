//! Data formats, tile layout and the tilize/untilize codecs, bit-exact with Buda.
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
pub use bfp::{decode_datum, encode_block};
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
}

/// How fp32 becomes bfloat16 on the way to a Float16_b queue.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Float16bRounding {
    /// The top 16 bits (Buda's reference).
    #[default]
    Truncate,
    /// Round to nearest even (what PyBuda does on the host before handing data over).
    NearestEven,
}

/// Rounding choices for encoding; the default is Buda's reference behaviour.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rounding {
    pub bfp: BfpRounding,
    pub float16_b: Float16bRounding,
}
