//! Buda's data formats, with their numeric values (they are part of the C ABI and of TTI files).

/// A data format: how one datum is stored on the device or on the host.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DataFormat {
    Float32 = 0,
    /// "fp16_a": 5-bit exponent (bias 15), 10-bit mantissa, no infinities or NaN on the device.
    Float16 = 1,
    Bfp8 = 2,
    Bfp4 = 3,
    /// Float32 with the mantissa cut to 10 bits (Wormhole's math format).
    Tf32 = 4,
    /// bfloat16.
    Float16B = 5,
    Bfp8B = 6,
    Bfp4B = 7,
    Int32 = 8,
    UInt16 = 9,
    /// 8-bit float of the A family: 5-bit exponent, 2-bit mantissa.
    Lf8 = 10,
    Bfp2 = 11,
    Int8 = 14,
    Bfp2B = 15,
    Fp8E4m3 = 0x1A,
    UInt8 = 30,
    RawUInt8 = 0xf0,
    RawUInt16 = 0xf1,
    RawUInt32 = 0xf2,
}

/// Which exponent a float format shares with fp32. The A family has a 5-bit exponent (bias 15),
/// the B family fp32's 8-bit exponent (bias 127).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExponentFamily {
    A,
    B,
}

impl DataFormat {
    /// Every format, in value order.
    pub const ALL: [DataFormat; 19] = [
        DataFormat::Float32,
        DataFormat::Float16,
        DataFormat::Bfp8,
        DataFormat::Bfp4,
        DataFormat::Tf32,
        DataFormat::Float16B,
        DataFormat::Bfp8B,
        DataFormat::Bfp4B,
        DataFormat::Int32,
        DataFormat::UInt16,
        DataFormat::Lf8,
        DataFormat::Bfp2,
        DataFormat::Int8,
        DataFormat::Bfp2B,
        DataFormat::Fp8E4m3,
        DataFormat::UInt8,
        DataFormat::RawUInt8,
        DataFormat::RawUInt16,
        DataFormat::RawUInt32,
    ];

    /// The format with Buda's numeric value `v` (`Invalid`, 0xff, is not a format).
    pub fn from_u32(v: u32) -> Option<DataFormat> {
        DataFormat::ALL.iter().copied().find(|f| *f as u32 == v)
    }

    /// Buda's spelling, as in netlists (`df: Float16_b`).
    pub const fn name(self) -> &'static str {
        match self {
            DataFormat::Float32 => "Float32",
            DataFormat::Float16 => "Float16",
            DataFormat::Bfp8 => "Bfp8",
            DataFormat::Bfp4 => "Bfp4",
            DataFormat::Tf32 => "Tf32",
            DataFormat::Float16B => "Float16_b",
            DataFormat::Bfp8B => "Bfp8_b",
            DataFormat::Bfp4B => "Bfp4_b",
            DataFormat::Int32 => "Int32",
            DataFormat::UInt16 => "UInt16",
            DataFormat::Lf8 => "Lf8",
            DataFormat::Bfp2 => "Bfp2",
            DataFormat::Int8 => "Int8",
            DataFormat::Bfp2B => "Bfp2_b",
            DataFormat::Fp8E4m3 => "Fp8_e4m3",
            DataFormat::UInt8 => "UInt8",
            DataFormat::RawUInt8 => "RawUInt8",
            DataFormat::RawUInt16 => "RawUInt16",
            DataFormat::RawUInt32 => "RawUInt32",
        }
    }

    /// The format spelled `name` in a netlist (Buda's spelling, as [`DataFormat::name`]).
    pub fn from_name(name: &str) -> Option<DataFormat> {
        DataFormat::ALL.iter().copied().find(|f| f.name() == name)
    }

    /// Bytes of one datum in a host tensor; `None` for formats that exist only on the device.
    pub const fn host_item_size(self) -> Option<usize> {
        match self {
            DataFormat::Float32 | DataFormat::Tf32 | DataFormat::Int32 | DataFormat::RawUInt32 => {
                Some(4)
            }
            DataFormat::Float16
            | DataFormat::Float16B
            | DataFormat::UInt16
            | DataFormat::RawUInt16 => Some(2),
            DataFormat::Int8 | DataFormat::UInt8 | DataFormat::RawUInt8 => Some(1),
            _ => None,
        }
    }

    /// Bits of one datum on the device (block floats: without the shared exponent).
    pub const fn device_bits(self) -> usize {
        match self {
            DataFormat::Float32 | DataFormat::Tf32 | DataFormat::Int32 | DataFormat::RawUInt32 => {
                32
            }
            DataFormat::Float16
            | DataFormat::Float16B
            | DataFormat::UInt16
            | DataFormat::RawUInt16 => 16,
            DataFormat::Bfp8 | DataFormat::Bfp8B => 8,
            DataFormat::Bfp4 | DataFormat::Bfp4B => 4,
            DataFormat::Bfp2 | DataFormat::Bfp2B => 2,
            DataFormat::Int8
            | DataFormat::UInt8
            | DataFormat::RawUInt8
            | DataFormat::Lf8
            | DataFormat::Fp8E4m3 => 8,
        }
    }

    /// Block floating point: datums share one exponent per 16.
    pub const fn is_block_float(self) -> bool {
        matches!(
            self,
            DataFormat::Bfp8
                | DataFormat::Bfp4
                | DataFormat::Bfp2
                | DataFormat::Bfp8B
                | DataFormat::Bfp4B
                | DataFormat::Bfp2B
        )
    }

    /// The exponent family of a float format; `None` for integer, raw and e4m3 formats.
    pub const fn exponent_family(self) -> Option<ExponentFamily> {
        match self {
            DataFormat::Float32
            | DataFormat::Tf32
            | DataFormat::Float16B
            | DataFormat::Bfp8B
            | DataFormat::Bfp4B
            | DataFormat::Bfp2B => Some(ExponentFamily::B),
            DataFormat::Float16
            | DataFormat::Bfp8
            | DataFormat::Bfp4
            | DataFormat::Bfp2
            | DataFormat::Lf8 => Some(ExponentFamily::A),
            _ => None,
        }
    }

    /// The host format `get_output` returns for a queue of this format: the B family comes
    /// back as Float16_b, the A family as Float16 (fp16_a bits), Tf32 as Float32, integer and
    /// raw formats unchanged. Fp8_e4m3, whose upstream round trip is broken, comes back as
    /// Float32 (ttrt's choice).
    pub const fn host_compatible(self) -> DataFormat {
        match self {
            DataFormat::Float16B | DataFormat::Bfp8B | DataFormat::Bfp4B | DataFormat::Bfp2B => {
                DataFormat::Float16B
            }
            DataFormat::Float16
            | DataFormat::Bfp8
            | DataFormat::Bfp4
            | DataFormat::Bfp2
            | DataFormat::Lf8 => DataFormat::Float16,
            DataFormat::Tf32 | DataFormat::Fp8E4m3 => DataFormat::Float32,
            other => other,
        }
    }

    /// Formats a host tensor may be pushed in (decoded to fp32 first).
    pub const fn is_host_input(self) -> bool {
        matches!(
            self,
            DataFormat::Float32
                | DataFormat::Float16
                | DataFormat::Float16B
                | DataFormat::RawUInt32
                | DataFormat::RawUInt16
                | DataFormat::RawUInt8
                | DataFormat::Int32
                | DataFormat::Int8
                | DataFormat::UInt8
                | DataFormat::UInt16
        )
    }

    pub const fn is_raw(self) -> bool {
        matches!(
            self,
            DataFormat::RawUInt8 | DataFormat::RawUInt16 | DataFormat::RawUInt32
        )
    }
}

impl core::fmt::Display for DataFormat {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}
