//! Where queues sit in device DRAM, checked at initialize: two queues may share bytes only as
//! views of one ram (`alias`, netlist validation checks they cover the same buffers), or when
//! both are dynamic (named by `allocate_queue`/`deallocate_queue`), which take turns.
//!
//! Golden never compares addresses and keeps every queue apart; the device runtime refuses
//! overlapping buffers (`tt_runtime_workload::check_queues_do_not_overlap`: "The following
//! device buffers overlap"). ttrt lays queues out at their netlist addresses in the simulated
//! chip, where a push to one would overwrite the other, so it refuses them as the device does.

use alloc::vec::Vec;

use super::error::{err, BackendError};
use crate::format::Arch;
use crate::netlist::{Instruction, Netlist, QueueLocation};

/// Queues named by an allocate_queue or deallocate_queue instruction of some program.
fn dynamic(netlist: &Netlist) -> Vec<bool> {
    let mut out = alloc::vec![false; netlist.queues.len()];
    for p in &netlist.programs {
        for step in &p.instructions {
            let names = match &step.instruction {
                Instruction::AllocateQueue(n) | Instruction::DeallocateQueue(n) => n,
                _ => continue,
            };
            for name in names {
                if let Some(i) = netlist.queues.iter().position(|q| &q.name == name) {
                    out[i] = true;
                }
            }
        }
    }
    out
}

/// Refuses DRAM buffers of two queues that overlap, unless the queues may share them.
pub(crate) fn check_dram_overlaps(netlist: &Netlist, arch: Arch) -> Result<(), BackendError> {
    let dynamic = dynamic(netlist);
    // (channel, first byte, end byte, queue, buffer)
    let mut spans: Vec<(u32, u64, u64, usize, usize)> = Vec::new();
    for (qi, q) in netlist.queues.iter().enumerate() {
        if q.loc != QueueLocation::Dram {
            continue;
        }
        let size = q.layout(arch).io_size(q.entries) as u64;
        for (b, buf) in q.buffers.iter().enumerate() {
            spans.push((
                buf.channel,
                buf.address,
                buf.address.saturating_add(size),
                qi,
                b,
            ));
        }
    }
    spans.sort_unstable();
    let views = |a: usize, b: usize| {
        let (qa, qb) = (&netlist.queues[a], &netlist.queues[b]);
        a == b
            || qa.alias.as_deref() == Some(qb.name.as_str())
            || qb.alias.as_deref() == Some(qa.name.as_str())
            || (qa.alias.is_some() && qa.alias == qb.alias)
    };
    for (i, &(ch, start, end, qa, ba)) in spans.iter().enumerate() {
        for &(ch2, start2, end2, qb, bb) in &spans[i + 1..] {
            if ch2 != ch || start2 >= end {
                break;
            }
            if views(qa, qb) || (dynamic[qa] && dynamic[qb]) {
                continue;
            }
            let (a, b) = (&netlist.queues[qa], &netlist.queues[qb]);
            return err!(
                InvalidImage,
                "netlist {}: queue '{}' (line {}) buffer {ba} at [{ch}, {start:#x}..{end:#x}) overlaps queue '{}' (line {}) buffer {bb} at [{ch}, {start2:#x}..{end2:#x}): only views of one ram (alias) or two dynamic queues may share DRAM (upstream does not check this, but each would overwrite the other's entries: undefined on a device)",
                netlist.file,
                a.name,
                a.line,
                b.name,
                b.line
            );
        }
    }
    Ok(())
}

/// Refuses an op placed outside the usable worker grid of `g` (after harvesting): its
/// `grid_loc` plus its `grid_size` (swapped by `grid_transpose`) must stay inside
/// `g.worker_grid` (columns, rows). Buda's placer and runtime place ops only on functional
/// workers; a core past the grid does not exist on the chip.
pub(crate) fn check_grid(
    netlist: &Netlist,
    g: &crate::hal::ChipGeometry,
) -> Result<(), BackendError> {
    let (cols, rows) = g.worker_grid;
    for graph in &netlist.graphs {
        for op in &graph.ops {
            let Some(loc) = op.grid_loc else { continue };
            if op.op_type.is(crate::netlist::OpType::EthernetDatacopy) {
                continue;
            }
            let (h, w) = match op.grid_transpose {
                true => (op.grid_size.c, op.grid_size.r),
                false => (op.grid_size.r, op.grid_size.c),
            };
            if loc.r.saturating_add(h) > rows || loc.c.saturating_add(w) > cols {
                let harvested = match g.harvested_rows {
                    0 => alloc::string::String::new(),
                    m => alloc::format!(
                        " (harvested rows mask {m}: rows {})",
                        crate::hal::soc::Rows(m)
                    ),
                };
                return err!(
                    InvalidArgument,
                    "netlist {}: op `{}` of graph `{}` at grid_loc [{}, {}] with grid_size [{}, {}] \
                     does not fit the {rows}x{cols} worker grid (rows x columns) of this {}{harvested}",
                    netlist.file,
                    op.name,
                    graph.name,
                    loc.r,
                    loc.c,
                    op.grid_size.r,
                    op.grid_size.c,
                    g.arch.name()
                );
            }
        }
    }
    Ok(())
}
