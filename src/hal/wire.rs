//! Device commands and completions as bytes: what a host writes into a device's command ring
//! and what the device writes back, so a chip in another process (or behind a driver) runs
//! the same programs the simulated chip runs in process.
//!
//! All fields are little-endian. A command record is [`RECORD_SIZE`] bytes:
//!
//! | Offset | Field |
//! |---|---|
//! | 0 | `u32` command: [`CMD_RUN`], [`CMD_RESET`], [`CMD_LOAD_GRAPHS`], [`CMD_RUN_GRAPH`] or [`CMD_UNLOAD_GRAPHS`] |
//! | 4 | `u32` op class: 0 unary, 1 binary, 2 matmul, 3 copy |
//! | 8 | `u32` op code: the `UnaryOp` / `BinaryOp` value (0 otherwise) |
//! | 12 | `u32` reserved, 0 |
//! | 16, 144, 272 | operand buffers `a`, `b`, `out`, [`BUFFER_RECORD`] bytes each |
//!
//! An operand buffer is its address and what its layout was built from (shape, data format,
//! tensor layout, buffer type, memory layout, shard spec), plus the page geometry the host
//! computed from them. The device rebuilds the layout with its own bank geometry and refuses
//! the command when the page geometry differs (host and device disagree about the chip):
//!
//! | Offset | Field |
//! |---|---|
//! | 0 | `u64` address |
//! | 8 | `u32` shape\[4\] |
//! | 24 | `u32` data format, tensor layout, buffer type, memory layout |
//! | 40 | `u32` 1 when sharded, then grid start x, y, end x, y, shard rows, columns, orientation |
//! | 72 | `u32` pages, banks; `u64` aligned page size, size per bank |
//!
//! The graph commands name device memory only: a range is a `u32` memory kind (0 DRAM, 1 L1,
//! 2 host), a `u32` bank, a `u64` address and a `u64` length.
//!
//! | Command | Fields |
//! |---|---|
//! | [`CMD_LOAD_GRAPHS`] | range of the graph descriptor at 4 (kind, bank), 16 (address, length) |
//! | [`CMD_RUN_GRAPH`] | `u32` program handle at 4, `u32` graph at 8; range of the execute's settings at 12 (kind, bank), 24 (address, length) |
//! | [`CMD_UNLOAD_GRAPHS`] | `u32` program handle at 4 |
//!
//! What a descriptor and the settings hold is the graph firmware's ([`super::firmware`]).
//!
//! A completion is [`COMPLETION_SIZE`] bytes: `u32` status (0 done, 1 failed); when done, a
//! `u32` value (the handle [`CMD_LOAD_GRAPHS`] loaded, else 0); when failed, the `u32` text
//! length, then the failure's text (UTF-8, one line) from byte 8.

use core::fmt;

use super::layout::{
    BankGeometry, BufferLayout, BufferType, CoreRange, MemoryLayout, ShardOrientation, ShardSpec,
    TensorLayout,
};
use super::{BufferRef, ChipGeometry, DeviceRange, HalError, MemKind, OpKind, Program};
use crate::compute::{BinaryOp, UnaryOp};
use crate::format::DataFormat;

/// Bytes of one command record.
pub const RECORD_SIZE: usize = 512;
/// Bytes of one operand buffer inside a command record.
pub const BUFFER_RECORD: usize = 128;
/// Bytes of one completion record.
pub const COMPLETION_SIZE: usize = 256;
/// Bytes of failure text a completion carries.
pub const TEXT_CAPACITY: usize = COMPLETION_SIZE - 8;

/// Runs the program the record describes.
pub const CMD_RUN: u32 = 1;
/// Returns the device to its power-on state: every byte of its memory reads as 0.
pub const CMD_RESET: u32 = 2;
/// Loads the graphs a descriptor in device memory describes; completes with their handle.
pub const CMD_LOAD_GRAPHS: u32 = 3;
/// Runs one graph of loaded graphs with the settings at a range of device memory.
pub const CMD_RUN_GRAPH: u32 = 4;
/// Forgets loaded graphs.
pub const CMD_UNLOAD_GRAPHS: u32 = 5;

const STATUS_DONE: u32 = 0;
const STATUS_FAILED: u32 = 1;

/// A command record.
pub type Record = [u8; RECORD_SIZE];
/// A completion record.
pub type Completion = [u8; COMPLETION_SIZE];

/// The text of a failure the device reported, carried back in its completion.
#[derive(Clone, PartialEq, Eq)]
pub struct DeviceText {
    bytes: [u8; TEXT_CAPACITY],
    len: usize,
}

impl DeviceText {
    /// The text `args` writes, on one line (line breaks become spaces), cut at a character
    /// boundary when it does not fit.
    pub fn from_fmt(args: fmt::Arguments<'_>) -> DeviceText {
        let mut text = DeviceText {
            bytes: [0; TEXT_CAPACITY],
            len: 0,
        };
        let _ = fmt::write(&mut text, args);
        text
    }

    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.bytes[..self.len]).unwrap_or("(text not UTF-8)")
    }
}

impl fmt::Write for DeviceText {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.chars() {
            let c = if c == '\n' { ' ' } else { c };
            let mut utf8 = [0; 4];
            let bytes = c.encode_utf8(&mut utf8).as_bytes();
            if self.len + bytes.len() > TEXT_CAPACITY {
                return Err(fmt::Error);
            }
            self.bytes[self.len..self.len + bytes.len()].copy_from_slice(bytes);
            self.len += bytes.len();
        }
        Ok(())
    }
}

impl fmt::Debug for DeviceText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for DeviceText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn put_u32(out: &mut [u8], at: usize, v: u32) {
    out[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn put_u64(out: &mut [u8], at: usize, v: u64) {
    out[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

fn get_u32(b: &[u8], at: usize) -> u32 {
    let mut w = [0; 4];
    w.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(w)
}

fn get_u64(b: &[u8], at: usize) -> u64 {
    let mut w = [0; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

/// The command that runs `program`.
pub fn encode_program(program: &Program, out: &mut Record) {
    out.fill(0);
    let (class, code) = match program.op {
        OpKind::Unary(op) => (0, op as u32),
        OpKind::Binary(op) => (1, op as u32),
        OpKind::Matmul => (2, 0),
        OpKind::Copy => (3, 0),
    };
    put_u32(out, 0, CMD_RUN);
    put_u32(out, 4, class);
    put_u32(out, 8, code);
    for (i, buf) in [&program.a, &program.b, &program.out]
        .into_iter()
        .enumerate()
    {
        encode_buffer(
            buf,
            &mut out[16 + i * BUFFER_RECORD..16 + (i + 1) * BUFFER_RECORD],
        );
    }
}

/// The command that resets the device.
pub fn encode_reset(out: &mut Record) {
    out.fill(0);
    put_u32(out, 0, CMD_RESET);
}

fn put_range(out: &mut [u8], at: usize, at_addr: usize, r: &DeviceRange) {
    let kind = match r.kind {
        MemKind::Dram => 0,
        MemKind::L1 => 1,
        MemKind::Host => 2,
    };
    put_u32(out, at, kind);
    put_u32(out, at + 4, r.bank);
    put_u64(out, at_addr, r.addr);
    put_u64(out, at_addr + 8, r.len);
}

fn get_range(b: &[u8], at: usize, at_addr: usize) -> Result<DeviceRange, HalError> {
    let kind = match get_u32(b, at) {
        0 => MemKind::Dram,
        1 => MemKind::L1,
        2 => MemKind::Host,
        _ => return Err(HalError::BadCommand("memory kind")),
    };
    Ok(DeviceRange {
        kind,
        bank: get_u32(b, at + 4),
        addr: get_u64(b, at_addr),
        len: get_u64(b, at_addr + 8),
    })
}

/// The command that loads the graphs described at `desc`.
pub fn encode_load_graphs(desc: &DeviceRange, out: &mut Record) {
    out.fill(0);
    put_u32(out, 0, CMD_LOAD_GRAPHS);
    put_range(out, 4, 16, desc);
}

/// The command that runs graph `graph` of loaded graphs `handle` with the settings at
/// `settings`.
pub fn encode_run_graph(handle: u32, graph: u32, settings: &DeviceRange, out: &mut Record) {
    out.fill(0);
    put_u32(out, 0, CMD_RUN_GRAPH);
    put_u32(out, 4, handle);
    put_u32(out, 8, graph);
    put_range(out, 12, 24, settings);
}

/// The command that forgets loaded graphs `handle`.
pub fn encode_unload_graphs(handle: u32, out: &mut Record) {
    out.fill(0);
    put_u32(out, 0, CMD_UNLOAD_GRAPHS);
    put_u32(out, 4, handle);
}

fn encode_buffer(b: &BufferRef, out: &mut [u8]) {
    let l = &b.layout;
    put_u64(out, 0, b.addr);
    for (i, d) in l.shape().into_iter().enumerate() {
        put_u32(out, 8 + 4 * i, d);
    }
    put_u32(out, 24, l.format() as u32);
    put_u32(out, 28, l.tensor_layout() as u32);
    put_u32(out, 32, l.buffer_type() as u32);
    put_u32(out, 36, l.memory_layout() as u32);
    if let Some(s) = l.shard_spec() {
        let words = [
            1,
            s.grid.start.0,
            s.grid.start.1,
            s.grid.end.0,
            s.grid.end.1,
            s.shape[0],
            s.shape[1],
            s.orientation as u32,
        ];
        for (i, w) in words.into_iter().enumerate() {
            put_u32(out, 40 + 4 * i, w);
        }
    }
    put_u32(out, 72, l.num_pages());
    put_u32(out, 76, l.banks());
    put_u64(out, 80, l.aligned_page_size());
    put_u64(out, 88, l.size_per_bank());
}

/// What a command record asks for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Command {
    Run(Program),
    Reset,
    LoadGraphs(DeviceRange),
    RunGraph {
        handle: u32,
        graph: u32,
        settings: DeviceRange,
    },
    UnloadGraphs(u32),
}

/// Reads a command record on the device of `geometry`. A record that names no command, an op
/// that does not exist or a buffer whose layout is invalid (or computes differently on this
/// device) is refused with what is wrong.
pub fn decode(record: &Record, geometry: &ChipGeometry) -> Result<Command, HalError> {
    match get_u32(record, 0) {
        CMD_RUN => {}
        CMD_RESET => return Ok(Command::Reset),
        CMD_LOAD_GRAPHS => return Ok(Command::LoadGraphs(get_range(record, 4, 16)?)),
        CMD_RUN_GRAPH => {
            return Ok(Command::RunGraph {
                handle: get_u32(record, 4),
                graph: get_u32(record, 8),
                settings: get_range(record, 12, 24)?,
            })
        }
        CMD_UNLOAD_GRAPHS => return Ok(Command::UnloadGraphs(get_u32(record, 4))),
        _ => return Err(HalError::BadCommand("unknown command")),
    }
    let code = get_u32(record, 8);
    let op = match get_u32(record, 4) {
        0 => OpKind::Unary(UnaryOp::from_u32(code).ok_or(HalError::BadCommand("unary op"))?),
        1 => OpKind::Binary(BinaryOp::from_u32(code).ok_or(HalError::BadCommand("binary op"))?),
        2 => OpKind::Matmul,
        3 => OpKind::Copy,
        _ => return Err(HalError::BadCommand("op class")),
    };
    let bank = BankGeometry {
        dram_banks: geometry.dram_channels,
        compute_grid: geometry.grid,
        dram_alignment: geometry.dram_alignment,
        l1_alignment: geometry.l1_alignment,
    };
    let buffer = |i: usize| decode_buffer(&record[16 + i * BUFFER_RECORD..], bank);
    Ok(Command::Run(Program {
        op,
        a: buffer(0)?,
        b: buffer(1)?,
        out: buffer(2)?,
    }))
}

fn decode_buffer(b: &[u8], geometry: BankGeometry) -> Result<BufferRef, HalError> {
    let bad = HalError::BadCommand;
    let shape = [
        get_u32(b, 8),
        get_u32(b, 12),
        get_u32(b, 16),
        get_u32(b, 20),
    ];
    let format = DataFormat::from_u32(get_u32(b, 24)).ok_or(bad("data format"))?;
    let layout = TensorLayout::from_u32(get_u32(b, 28)).ok_or(bad("tensor layout"))?;
    let ty = BufferType::from_u32(get_u32(b, 32)).ok_or(bad("buffer type"))?;
    let mem = MemoryLayout::from_u32(get_u32(b, 36)).ok_or(bad("memory layout"))?;
    let shard = match get_u32(b, 40) {
        0 => None,
        1 => Some(ShardSpec {
            grid: CoreRange {
                start: (get_u32(b, 44), get_u32(b, 48)),
                end: (get_u32(b, 52), get_u32(b, 56)),
            },
            shape: [get_u32(b, 60), get_u32(b, 64)],
            orientation: ShardOrientation::from_u32(get_u32(b, 68))
                .ok_or(bad("shard orientation"))?,
        }),
        _ => return Err(bad("shard flag")),
    };
    let l = BufferLayout::new(shape, format, layout, ty, mem, shard, geometry)
        .map_err(|_| bad("buffer layout"))?;
    let pages = (
        get_u32(b, 72),
        get_u32(b, 76),
        get_u64(b, 80),
        get_u64(b, 88),
    );
    if pages
        != (
            l.num_pages(),
            l.banks(),
            l.aligned_page_size(),
            l.size_per_bank(),
        )
    {
        return Err(bad(
            "page layout (the device lays the buffer out otherwise)",
        ));
    }
    Ok(BufferRef {
        addr: get_u64(b, 0),
        layout: l,
    })
}

/// The completion of a command that ran to its end (`Ok`, with its value) or failed (with its
/// text).
pub fn encode_completion(result: &Result<u32, HalError>, out: &mut Completion) {
    out.fill(0);
    let e = match result {
        Ok(value) => {
            put_u32(out, 0, STATUS_DONE);
            put_u32(out, 4, *value);
            return;
        }
        Err(e) => e,
    };
    let text = DeviceText::from_fmt(format_args!("{e}"));
    let len = text.len;
    out[8..8 + len].copy_from_slice(&text.bytes[..len]);
    put_u32(out, 0, STATUS_FAILED);
    put_u32(out, 4, len as u32);
}

/// What a completion says: done (with its value), or the device's failure.
pub fn decode_completion(c: &Completion) -> Result<u32, HalError> {
    match get_u32(c, 0) {
        STATUS_DONE => Ok(get_u32(c, 4)),
        STATUS_FAILED => {
            let len = (get_u32(c, 4) as usize).min(TEXT_CAPACITY);
            let mut text = DeviceText {
                bytes: [0; TEXT_CAPACITY],
                len,
            };
            text.bytes[..len].copy_from_slice(&c[8..8 + len]);
            Err(HalError::Device(text))
        }
        _ => Err(HalError::BadCommand("completion status")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::Arch;
    use crate::hal::layout::BankGeometry;

    fn buffer(addr: u64, ty: BufferType, shard: Option<ShardSpec>) -> BufferRef {
        let g = ChipGeometry::of(Arch::WormholeB0);
        let mem = if shard.is_some() {
            MemoryLayout::HeightSharded
        } else {
            MemoryLayout::Interleaved
        };
        let geometry = BankGeometry {
            dram_banks: g.dram_channels,
            compute_grid: g.grid,
            dram_alignment: g.dram_alignment,
            l1_alignment: g.l1_alignment,
        };
        BufferRef {
            addr,
            layout: BufferLayout::new(
                [1, 2, 64, 96],
                DataFormat::Bfp8B,
                TensorLayout::Tile,
                ty,
                mem,
                shard,
                geometry,
            )
            .unwrap(),
        }
    }

    #[test]
    fn a_program_survives_its_record_field_for_field() {
        let shard = ShardSpec {
            grid: CoreRange {
                start: (0, 0),
                end: (3, 0),
            },
            shape: [32, 96],
            orientation: ShardOrientation::RowMajor,
        };
        let p = Program {
            op: OpKind::Binary(BinaryOp::Maximum),
            a: buffer(0x1_0000, BufferType::Dram, None),
            b: buffer(0x2_0040, BufferType::L1, Some(shard)),
            out: buffer(0xdead_0000_0000, BufferType::Dram, None),
        };
        let mut rec = [0xa5; RECORD_SIZE];
        encode_program(&p, &mut rec);
        // The fields sit where the module's table says.
        assert_eq!(get_u32(&rec, 0), CMD_RUN);
        assert_eq!((get_u32(&rec, 4), get_u32(&rec, 8)), (1, 3));
        assert_eq!(get_u64(&rec, 16 + 2 * BUFFER_RECORD), 0xdead_0000_0000);
        assert_eq!(get_u32(&rec, 16 + BUFFER_RECORD + 40), 1);
        assert_eq!(get_u32(&rec, 16 + BUFFER_RECORD + 52), 3);
        let g = ChipGeometry::of(Arch::WormholeB0);
        assert_eq!(decode(&rec, &g), Ok(Command::Run(p)));
    }

    #[test]
    fn a_record_the_device_cannot_read_is_refused_with_the_field() {
        let g = ChipGeometry::of(Arch::WormholeB0);
        let p = Program {
            op: OpKind::Matmul,
            a: buffer(0, BufferType::Dram, None),
            b: buffer(0, BufferType::Dram, None),
            out: buffer(0, BufferType::Dram, None),
        };
        let mut rec = [0; RECORD_SIZE];
        encode_program(&p, &mut rec);
        let mut bad = rec;
        put_u32(&mut bad, 0, 99);
        assert_eq!(
            decode(&bad, &g),
            Err(HalError::BadCommand("unknown command"))
        );
        let mut bad = rec;
        put_u32(&mut bad, 16 + 24, 0x77);
        assert_eq!(decode(&bad, &g), Err(HalError::BadCommand("data format")));
        let mut bad = rec;
        put_u32(&mut bad, 16 + 20, 0);
        assert_eq!(decode(&bad, &g), Err(HalError::BadCommand("buffer layout")));
        // A device of another geometry lays the pages out differently.
        let other = ChipGeometry::of(Arch::Grayskull);
        assert_eq!(
            decode(&rec, &other),
            Err(HalError::BadCommand(
                "page layout (the device lays the buffer out otherwise)"
            ))
        );
        let mut reset = [0; RECORD_SIZE];
        encode_reset(&mut reset);
        assert_eq!(decode(&reset, &g), Ok(Command::Reset));
    }

    #[test]
    fn graph_commands_name_device_memory_where_the_table_says() {
        let g = ChipGeometry::of(Arch::WormholeB0);
        let desc = DeviceRange {
            kind: MemKind::Host,
            bank: 3,
            addr: 0x1234_5678_9a,
            len: 0x10_0000,
        };
        let mut rec = [0xa5; RECORD_SIZE];
        encode_load_graphs(&desc, &mut rec);
        assert_eq!(get_u32(&rec, 0), CMD_LOAD_GRAPHS);
        assert_eq!((get_u32(&rec, 4), get_u32(&rec, 8)), (2, 3));
        assert_eq!(
            (get_u64(&rec, 16), get_u64(&rec, 24)),
            (0x1234_5678_9a, 0x10_0000)
        );
        assert_eq!(decode(&rec, &g), Ok(Command::LoadGraphs(desc)));

        let settings = DeviceRange {
            kind: MemKind::Dram,
            bank: 5,
            addr: 0x40,
            len: 48,
        };
        encode_run_graph(9, 2, &settings, &mut rec);
        assert_eq!(get_u32(&rec, 0), CMD_RUN_GRAPH);
        assert_eq!((get_u32(&rec, 4), get_u32(&rec, 8)), (9, 2));
        assert_eq!((get_u32(&rec, 12), get_u32(&rec, 16)), (0, 5));
        assert_eq!((get_u64(&rec, 24), get_u64(&rec, 32)), (0x40, 48));
        assert_eq!(
            decode(&rec, &g),
            Ok(Command::RunGraph {
                handle: 9,
                graph: 2,
                settings
            })
        );
        let mut bad = rec;
        put_u32(&mut bad, 12, 7);
        assert_eq!(decode(&bad, &g), Err(HalError::BadCommand("memory kind")));

        encode_unload_graphs(9, &mut rec);
        assert_eq!(get_u32(&rec, 0), CMD_UNLOAD_GRAPHS);
        assert_eq!(decode(&rec, &g), Ok(Command::UnloadGraphs(9)));
    }

    #[test]
    fn a_failure_comes_back_as_its_one_line_of_text() {
        let mut c = [0xff; COMPLETION_SIZE];
        encode_completion(&Ok(0), &mut c);
        assert_eq!(decode_completion(&c), Ok(0));
        encode_completion(&Ok(7), &mut c);
        assert_eq!((get_u32(&c, 0), get_u32(&c, 4)), (STATUS_DONE, 7));
        assert_eq!(decode_completion(&c), Ok(7));
        let e = HalError::Unsupported("compute ops need\nTILE-layout operands");
        encode_completion(&Err(e), &mut c);
        let back = decode_completion(&c).unwrap_err();
        assert_eq!(
            DeviceText::from_fmt(format_args!("{back}")).as_str(),
            "program not supported: compute ops need TILE-layout operands"
        );
        let long = HalError::OutOfRange {
            kind: crate::hal::MemKind::Dram,
            bank: u32::MAX,
            addr: u64::MAX,
            len: usize::MAX,
            banks: 6,
            bank_size: 1 << 31,
        };
        encode_completion(&Err(long.clone()), &mut c);
        let back = decode_completion(&c).unwrap_err();
        let text = DeviceText::from_fmt(format_args!("{back}"));
        let full = DeviceText::from_fmt(format_args!("{long}"));
        let (text, full) = (text.as_str(), full.as_str());
        assert!(full.len() < TEXT_CAPACITY, "{full}");
        assert_eq!(text, full);
    }
}
