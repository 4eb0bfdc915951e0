//! Chip generations, as far as data layout cares.

/// A Tenstorrent chip generation. (Upstream changed the numeric values of its arch enum over
/// time; ttrt never exposes them.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Arch {
    Grayskull,
    WormholeB0,
    Blackhole,
}

impl Arch {
    /// The NOC's alignment: queue headers are this many bytes, and Blackhole pads tiles to it.
    pub const fn alignment(self) -> usize {
        match self {
            Arch::Grayskull | Arch::WormholeB0 => 32,
            Arch::Blackhole => 64,
        }
    }

    /// Bytes of a queue buffer's header (read pointer, write pointer, padding).
    pub const fn queue_header_size(self) -> usize {
        self.alignment()
    }

    /// The arch named in a netlist or device.json: "Grayskull", "Wormhole_B0", "Blackhole"
    /// (any case; `{"__enum__": "X.Y"}` spellings are reduced to Y by the caller).
    pub fn from_name(name: &str) -> Option<Arch> {
        let n = name.trim();
        if n.eq_ignore_ascii_case("grayskull") {
            Some(Arch::Grayskull)
        } else if n.eq_ignore_ascii_case("wormhole_b0") || n.eq_ignore_ascii_case("wormhole") {
            Some(Arch::WormholeB0)
        } else if n.eq_ignore_ascii_case("blackhole") {
            Some(Arch::Blackhole)
        } else {
            None
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            Arch::Grayskull => "Grayskull",
            Arch::WormholeB0 => "Wormhole_B0",
            Arch::Blackhole => "Blackhole",
        }
    }
}
