//! The device side of a Buda backend: the graph firmware a simulated chip runs (see
//! `hal::firmware`). The run side's initialize writes a descriptor into device memory and
//! loads it; each execute of a program writes its queue settings into device memory and runs
//! one graph. The firmware builds the graphs from the descriptor alone and reaches the queues
//! (their buffers, headers, pointers and golden format tags) only through the chip's memory,
//! so it runs the same in the backend's process and in a device process (`ttrt sim-device`).
//!
//! Descriptor (little-endian):
//!
//! | Offset | Field |
//! |---|---|
//! | 0 | magic `TTRTGRF1` |
//! | 8 | `u32` version 1 |
//! | 12 | `u32` arch: 0 Grayskull, 1 Wormhole B0, 2 Blackhole |
//! | 16 | `u32` flags: bit 0 golden mode |
//! | 20 | `u32` queues |
//! | 24 | `u64` host memory budget (the backend config's value) |
//! | 32 | `u64` digest of the queues' layout (shared.rs) |
//! | 40 | `u32` netlist text length, `u32` file name length |
//! | 48 | the file name, then the netlist text (UTF-8 YAML) |
//!
//! Settings of one execute: `u32` count at 0 (12 bytes reserved), then per queue the
//! execute names, 32 bytes: `u32` queue index, `u32` flags (bit 0 prologue, 1 epilogue, 2 zero,
//! 3 read-only view, 4 rd_ptr_local given, 5 rd_ptr_global given, 6 wr_ptr_global given),
//! `u32` rd_ptr_local, rd_ptr_global, wr_ptr_global, rd_ptr_autoinc, global_rdptr_autoinc,
//! global_wrptr_autoinc.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::cell::UnsafeCell;

use super::execute::{run_graph, GraphRt};
use super::queue::{ChipMem, HostPlacer, QueueRt};
use super::shared::{self, SharedState};
use crate::format::Arch;
use crate::hal::firmware::{GraphFirmware, LoadedGraphs};
use crate::hal::wire::DeviceText;
use crate::hal::Chip;
use crate::netlist::exec::{BufferPool, GraphPlan};
use crate::netlist::interp::ResolvedSetting;
use crate::netlist::{Netlist, TemporalGraphs};
use crate::runtime::host_memory::HostMemoryBudget;

pub(crate) const MAGIC: [u8; 8] = *b"TTRTGRF1";
const VERSION: u32 = 1;
const HEADER: usize = 48;
pub(crate) const FLAG_GOLDEN: u32 = 1;

const SETTINGS_HEADER: usize = 16;
const SETTING_SIZE: usize = 32;

/// Bytes the settings of an execute naming at most `queues` queues take.
pub(crate) fn settings_size(queues: usize) -> usize {
    SETTINGS_HEADER + queues * SETTING_SIZE
}

fn put(out: &mut [u8], at: usize, v: u32) {
    out[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn get(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Writes `settings` into `out` (at least `settings_size(settings.len())` bytes); returns the
/// bytes written.
pub(crate) fn encode_settings(settings: &[ResolvedSetting], out: &mut [u8]) -> usize {
    put(out, 0, settings.len() as u32);
    out[4..SETTINGS_HEADER].fill(0);
    for (i, s) in settings.iter().enumerate() {
        let at = SETTINGS_HEADER + i * SETTING_SIZE;
        let flags = u32::from(s.prologue)
            | u32::from(s.epilogue) << 1
            | u32::from(s.zero) << 2
            | u32::from(s.read_only) << 3
            | u32::from(s.rd_ptr_local.is_some()) << 4
            | u32::from(s.rd_ptr_global.is_some()) << 5
            | u32::from(s.wr_ptr_global.is_some()) << 6;
        let words = [
            s.queue as u32,
            flags,
            s.rd_ptr_local.unwrap_or(0),
            s.rd_ptr_global.unwrap_or(0),
            s.wr_ptr_global.unwrap_or(0),
            s.rd_ptr_autoinc,
            s.global_rdptr_autoinc,
            s.global_wrptr_autoinc,
        ];
        for (j, w) in words.into_iter().enumerate() {
            put(out, at + 4 * j, w);
        }
    }
    settings_size(settings.len())
}

/// The settings `bytes` hold, checked against their length.
fn decode_settings(bytes: &[u8]) -> Result<impl Iterator<Item = ResolvedSetting> + '_, DeviceText> {
    if bytes.len() < SETTINGS_HEADER {
        return Err(DeviceText::from_fmt(format_args!(
            "the settings of an execute are {} B, shorter than their header",
            bytes.len()
        )));
    }
    let n = get(bytes, 0) as usize;
    if n.checked_mul(SETTING_SIZE)
        .and_then(|b| b.checked_add(SETTINGS_HEADER))
        .is_none_or(|need| need > bytes.len())
    {
        return Err(DeviceText::from_fmt(format_args!(
            "the settings of an execute name {n} queues in {} B",
            bytes.len()
        )));
    }
    Ok((0..n).map(move |i| {
        let b = &bytes[SETTINGS_HEADER + i * SETTING_SIZE..];
        let flags = get(b, 4);
        let given = |bit: u32, v: u32| (flags >> bit & 1 == 1).then_some(v);
        ResolvedSetting {
            queue: get(b, 0) as usize,
            prologue: flags & 1 != 0,
            epilogue: flags >> 1 & 1 != 0,
            zero: flags >> 2 & 1 != 0,
            read_only: flags >> 3 & 1 != 0,
            rd_ptr_local: given(4, get(b, 8)),
            rd_ptr_global: given(5, get(b, 12)),
            wr_ptr_global: given(6, get(b, 16)),
            rd_ptr_autoinc: get(b, 20),
            global_rdptr_autoinc: get(b, 24),
            global_wrptr_autoinc: get(b, 28),
        }
    }))
}

fn arch_code(arch: Arch) -> u32 {
    match arch {
        Arch::Grayskull => 0,
        Arch::WormholeB0 => 1,
        Arch::Blackhole => 2,
    }
}

fn arch_of(code: u32) -> Option<Arch> {
    [Arch::Grayskull, Arch::WormholeB0, Arch::Blackhole]
        .get(code as usize)
        .copied()
}

/// What the run side loads.
pub(crate) struct Descriptor<'a> {
    pub arch: Arch,
    pub golden: bool,
    pub queues: usize,
    pub budget: u64,
    pub digest: u64,
    pub file: &'a str,
    pub text: &'a str,
}

impl Descriptor<'_> {
    /// Its bytes.
    pub fn encode(&self) -> Option<Vec<u8>> {
        let len = HEADER
            .checked_add(self.file.len())?
            .checked_add(self.text.len())?;
        let mut out = Vec::new();
        out.try_reserve_exact(len).ok()?;
        out.resize(HEADER, 0);
        out[..8].copy_from_slice(&MAGIC);
        put(&mut out, 8, VERSION);
        put(&mut out, 12, arch_code(self.arch));
        put(&mut out, 16, if self.golden { FLAG_GOLDEN } else { 0 });
        put(&mut out, 20, self.queues as u32);
        out[24..32].copy_from_slice(&self.budget.to_le_bytes());
        out[32..40].copy_from_slice(&self.digest.to_le_bytes());
        put(&mut out, 40, u32::try_from(self.text.len()).ok()?);
        put(&mut out, 44, u32::try_from(self.file.len()).ok()?);
        out.extend_from_slice(self.file.as_bytes());
        out.extend_from_slice(self.text.as_bytes());
        Some(out)
    }
}

fn decode_descriptor(b: &[u8]) -> Result<Descriptor<'_>, DeviceText> {
    let bad = |what: &str| {
        Err(DeviceText::from_fmt(format_args!(
            "the graph descriptor is not one this firmware reads: {what}"
        )))
    };
    if b.len() < HEADER || b[..8] != MAGIC {
        return bad("no TTRTGRF1 header");
    }
    if get(b, 8) != VERSION {
        return bad("another version");
    }
    let Some(arch) = arch_of(get(b, 12)) else {
        return bad("unknown arch");
    };
    let (text_len, file_len) = (get(b, 40) as usize, get(b, 44) as usize);
    if HEADER + file_len + text_len > b.len() {
        return bad("its texts run past its end");
    }
    let file = core::str::from_utf8(&b[HEADER..HEADER + file_len]);
    let text = core::str::from_utf8(&b[HEADER + file_len..HEADER + file_len + text_len]);
    let (Ok(file), Ok(text)) = (file, text) else {
        return bad("text that is not UTF-8");
    };
    let word = |at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap_or([0; 8]));
    Ok(Descriptor {
        arch,
        golden: get(b, 16) & FLAG_GOLDEN != 0,
        queues: get(b, 20) as usize,
        budget: word(24),
        digest: word(32),
        file,
        text,
    })
}

/// The graph firmware of the simulated chip.
pub struct NetlistFirmware;

/// The firmware, as `hal::firmware::install` takes it.
pub static FIRMWARE: &dyn GraphFirmware = &NetlistFirmware;

/// Installs the graph firmware in this process's simulated chips (what a device process
/// serving backends calls once at its start; backends do it themselves).
pub fn install_graph_firmware() {
    crate::hal::firmware::install(&FIRMWARE);
}

/// A model's graphs, loaded: the firmware's own view of the queues (the same device memory
/// the host's view reaches) and the compiled graphs.
struct Loaded {
    // The queues point into the block; it lives as long as they do.
    _shared: SharedState,
    queues: Box<[QueueRt]>,
    graphs: Box<[GraphRt]>,
    pool: UnsafeCell<BufferPool>,
}

// SAFETY: the host runs one graph of a load at a time (its run side), so `pool` and each
// graph's cells are used by one thread at a time; the queues follow queue.rs's rules.
unsafe impl Send for Loaded {}
unsafe impl Sync for Loaded {}

impl GraphFirmware for NetlistFirmware {
    fn load(&self, chip: &dyn Chip, desc: &[u8]) -> Result<Box<dyn LoadedGraphs>, DeviceText> {
        let d = decode_descriptor(desc)?;
        let fail = |e: &dyn core::fmt::Display| DeviceText::from_fmt(format_args!("{e}"));
        let netlist = crate::netlist::parse(d.text, d.file).map_err(|e| fail(&e))?;
        let shared = SharedState::locate(chip, netlist.queues.len())
            .filter(SharedState::is_shared)
            .ok_or_else(|| {
                DeviceText::from_fmt(format_args!(
                    "the device's host memory does not map, where the queues' pointers are"
                ))
            })?;
        let budget = HostMemoryBudget::new(d.budget);
        let mut host = HostPlacer::new(chip, budget, shared::block_size(netlist.queues.len()));
        let mut queues = Vec::new();
        for (i, q) in netlist.queues.iter().enumerate() {
            let state = shared.queue(i);
            let q = QueueRt::new(&netlist, q, d.arch, chip, &mut host, state, d.golden)
                .map_err(|e| fail(&e))?;
            queues.push(q);
        }
        let queues = queues.into_boxed_slice();
        if queues.len() != d.queues || super::layout_digest(&queues, d.arch) != d.digest {
            return Err(DeviceText::from_fmt(format_args!(
                "netlist {}: the firmware lays its queues out otherwise than the host did",
                d.file
            )));
        }
        let graphs = compile(&netlist, d.arch, &queues)?;
        Ok(Box::new(Loaded {
            _shared: shared,
            queues,
            graphs,
            pool: UnsafeCell::new(BufferPool::new()),
        }))
    }
}

/// The graphs of `netlist`, one per temporal graph (netlist::temporal).
fn compile(
    netlist: &Netlist,
    arch: Arch,
    queues: &[QueueRt],
) -> Result<Box<[GraphRt]>, DeviceText> {
    let temporal = TemporalGraphs::new(netlist)
        .map_err(|e| DeviceText::from_fmt(format_args!("netlist {}: {e}", netlist.file)))?;
    let mut graphs = Vec::with_capacity(temporal.groups().len());
    for members in temporal.groups() {
        let first = &netlist.graphs[members[0]];
        let name = members
            .iter()
            .map(|&m| netlist.graphs[m].name.as_str())
            .collect::<Vec<_>>()
            .join("+");
        let plan = GraphPlan::temporal(netlist, members, arch)
            .map_err(|e| DeviceText::from_fmt(format_args!("{}", e.message)))?;
        graphs.push(GraphRt::new(name, first.input_count, plan, queues));
    }
    Ok(graphs.into_boxed_slice())
}

impl LoadedGraphs for Loaded {
    fn run(&self, chip: &dyn Chip, graph: u32, settings: &[u8]) -> Result<(), DeviceText> {
        let Some(g) = self.graphs.get(graph as usize) else {
            return Err(DeviceText::from_fmt(format_args!(
                "graph {graph} is not one of the {} loaded",
                self.graphs.len()
            )));
        };
        // SAFETY: see `Loaded`: one graph of this load runs at a time.
        let exec = unsafe { &mut *g.exec.get() };
        for e in exec.iter_mut() {
            e.reset(self.queues[e.queue].io_type);
            if let Some(s) = decode_settings(settings)?.find(|s| s.queue == e.queue) {
                e.apply(&s);
            }
        }
        // SAFETY: as above.
        let pool = unsafe { &mut *self.pool.get() };
        run_graph(&self.queues, g, &ChipMem(chip), pool)
            .map_err(|e| DeviceText::from_fmt(format_args!("graph '{}': {e}", g.name)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_survive_their_bytes_where_the_table_says() {
        let s = ResolvedSetting {
            queue: 7,
            prologue: true,
            epilogue: false,
            zero: true,
            rd_ptr_local: Some(3),
            rd_ptr_global: None,
            wr_ptr_global: Some(9),
            rd_ptr_autoinc: 1,
            global_rdptr_autoinc: 2,
            global_wrptr_autoinc: 4,
            read_only: true,
        };
        let mut out = [0xa5u8; 16 + 64];
        assert_eq!(encode_settings(&[s.clone(), s.clone()], &mut out), 80);
        assert_eq!(get(&out, 0), 2);
        assert_eq!(get(&out, 16), 7);
        // prologue, zero, read-only, local given, write pointer given.
        assert_eq!(get(&out, 20), 0b101_1101);
        assert_eq!((get(&out, 24), get(&out, 32)), (3, 9));
        let back: Vec<ResolvedSetting> = decode_settings(&out).unwrap().collect();
        assert_eq!(back, [s.clone(), s]);
        assert!(decode_settings(&out[..40]).is_err());
    }

    #[test]
    fn a_descriptor_survives_its_bytes_and_a_damaged_one_is_refused() {
        let d = Descriptor {
            arch: Arch::WormholeB0,
            golden: true,
            queues: 3,
            budget: 1 << 40,
            digest: 0x0123_4567_89ab_cdef,
            file: "net.yaml",
            text: "devices: {}",
        };
        let bytes = d.encode().unwrap();
        assert_eq!(&bytes[..8], b"TTRTGRF1");
        assert_eq!(
            (get(&bytes, 12), get(&bytes, 16), get(&bytes, 20)),
            (1, 1, 3)
        );
        assert_eq!((get(&bytes, 40), get(&bytes, 44)), (11, 8));
        assert_eq!(&bytes[48..56], b"net.yaml");
        let back = decode_descriptor(&bytes).unwrap();
        assert_eq!(
            (
                back.arch,
                back.golden,
                back.queues,
                back.budget,
                back.digest,
                back.file,
                back.text
            ),
            (
                d.arch,
                true,
                3,
                1 << 40,
                d.digest,
                "net.yaml",
                "devices: {}"
            )
        );
        let mut bad = bytes.clone();
        bad[0] = b'X';
        assert!(decode_descriptor(&bad).is_err());
        assert!(decode_descriptor(&bytes[..bytes.len() - 1]).is_err());
    }
}
