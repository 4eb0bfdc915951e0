//! Temporal graphs: graphs whose ops read ops of other graphs directly, with no queue in
//! between (queueless multichip on Wormhole), run as one graph.
//!
//! Upstream (`netlist_parser::derive_temporal_graphs`, `golden_workload_data`): graphs joined by
//! such op-to-op edges form one temporal graph. An `execute` of one of its sub-graphs only
//! records that sub-graph's queue settings; when the execute of the last sub-graph not yet
//! executed is reached, the whole temporal graph runs `input_count` times, each run visiting
//! the ops of every sub-graph in dependency order, with the settings of all its executes
//! (a queue named by two of them must get identical settings). The sub-graphs must share
//! `input_count` and sit on different devices, and a program must execute all of them, one
//! after the other, before it executes another graph (`ensure_all_graphs_in_temporal_epoch_
//! included`). Upstream also merges adjacent temporal graphs on disjoint devices; ttrt does not
//! (their results are the same as running them one after the other).

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use super::model::Netlist;
use super::program::Instruction;

/// A netlist whose graphs or programs break upstream's rules on temporal graphs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TemporalError {
    /// Two sub-graphs of one temporal graph have different `input_count`s.
    InputCount {
        graph: String,
        input_count: u32,
        first: String,
        first_input_count: u32,
    },
    /// Two sub-graphs of one temporal graph target the same device.
    SharedDevice {
        first: String,
        second: String,
        device: u32,
    },
    /// A program's executes from `line` on run part of a temporal graph without its
    /// sub-graphs `missing` (comma-separated).
    Incomplete {
        program: String,
        line: u32,
        missing: String,
    },
}

impl fmt::Display for TemporalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TemporalError::InputCount {
                graph,
                input_count,
                first,
                first_input_count,
            } => write!(
                f,
                "graph {graph} has input_count {input_count} but graph {first} of the same \
                 temporal graph has {first_input_count}: sub-graphs of a temporal graph run \
                 together and must share it"
            ),
            TemporalError::SharedDevice {
                first,
                second,
                device,
            } => write!(
                f,
                "graphs {first} and {second} of one temporal graph both target device \
                 {device}: each sub-graph of a temporal graph runs on its own device"
            ),
            TemporalError::Incomplete {
                program,
                line,
                missing,
            } => write!(
                f,
                "program `{program}`, line {line}: the executes from here on run part of a \
                 temporal graph (graphs joined by ops reading ops) without graph {missing}: a \
                 program executes every sub-graph of a temporal graph, one after the other"
            ),
        }
    }
}

/// The temporal graphs of a netlist: every graph belongs to exactly one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemporalGraphs {
    /// Members of each temporal graph (indexes into `netlist.graphs`), producers before their
    /// consumers where that order exists (ties in file order); temporal graphs ordered by their
    /// first member.
    groups: Vec<Vec<usize>>,
    /// The temporal graph of each graph.
    group_of: Vec<usize>,
}

impl TemporalGraphs {
    /// Groups the graphs of `netlist`; an error names the graphs that break upstream's rules.
    pub fn new(netlist: &Netlist) -> Result<TemporalGraphs, TemporalError> {
        let n = netlist.graphs.len();
        // producers[g]: graphs whose ops the ops of g read directly.
        let mut producers: Vec<Vec<usize>> = alloc::vec![Vec::new(); n];
        for (g, graph) in netlist.graphs.iter().enumerate() {
            for op in &graph.ops {
                for input in &op.inputs {
                    if graph.op(input).is_some() || netlist.queue(input).is_some() {
                        continue;
                    }
                    let Some(p) = netlist.graphs.iter().position(|o| o.op(input).is_some()) else {
                        continue;
                    };
                    if !producers[g].contains(&p) {
                        producers[g].push(p);
                    }
                }
            }
        }
        // Connected components of the producer relation, labelled by their first graph.
        let mut group_of: Vec<usize> = (0..n).collect();
        let root = |group_of: &Vec<usize>, mut g: usize| {
            while group_of[g] != g {
                g = group_of[g];
            }
            g
        };
        for (g, ps) in producers.iter().enumerate() {
            for &p in ps {
                let (a, b) = (root(&group_of, g), root(&group_of, p));
                let (lo, hi) = (a.min(b), a.max(b));
                group_of[hi] = lo;
            }
        }
        let roots: Vec<usize> = (0..n).map(|g| root(&group_of, g)).collect();
        let mut groups: Vec<Vec<usize>> = Vec::new();
        let mut index_of_root: Vec<Option<usize>> = alloc::vec![None; n];
        let mut group_of = alloc::vec![0; n];
        for g in 0..n {
            let r = roots[g];
            let i = *index_of_root[r].get_or_insert_with(|| {
                groups.push(Vec::new());
                groups.len() - 1
            });
            group_of[g] = i;
        }
        // Members in dependency order where the graphs have one (ops of two graphs may read
        // each other's ops both ways: the ops themselves are ordered when the temporal graph is
        // compiled), else in file order.
        for (i, group) in groups.iter_mut().enumerate() {
            let members: Vec<usize> = (0..n).filter(|&g| group_of[g] == i).collect();
            while group.len() < members.len() {
                let left = || members.iter().copied().filter(|g| !group.contains(g));
                let ready = left().find(|&g| producers[g].iter().all(|p| group.contains(p)));
                let next = ready.or_else(|| left().next()).unwrap_or(members[0]);
                group.push(next);
            }
        }
        let groups = TemporalGraphs { groups, group_of };
        groups.check_members(netlist)?;
        Ok(groups)
    }

    /// Upstream's rules on the sub-graphs of one temporal graph.
    fn check_members(&self, netlist: &Netlist) -> Result<(), TemporalError> {
        for group in self.groups.iter().filter(|g| g.len() > 1) {
            let first = &netlist.graphs[group[0]];
            for (k, &g) in group.iter().enumerate().skip(1) {
                let graph = &netlist.graphs[g];
                if graph.input_count != first.input_count {
                    return Err(TemporalError::InputCount {
                        graph: graph.name.clone(),
                        input_count: graph.input_count,
                        first: first.name.clone(),
                        first_input_count: first.input_count,
                    });
                }
                for &other in &group[..k] {
                    let o = &netlist.graphs[other];
                    if let Some(d) = graph
                        .target_device
                        .iter()
                        .find(|d| o.target_device.contains(d))
                    {
                        return Err(TemporalError::SharedDevice {
                            first: o.name.clone(),
                            second: graph.name.clone(),
                            device: *d,
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// The temporal graph (index into [`TemporalGraphs::groups`]) graph `graph` belongs to.
    pub fn group_of(&self, graph: usize) -> usize {
        self.group_of[graph]
    }

    /// Every temporal graph's members, producers first.
    pub fn groups(&self) -> &[Vec<usize>] {
        &self.groups
    }

    /// Checks that each program executes every sub-graph of a temporal graph, one after the
    /// other, before it executes any other graph or one of them again (upstream asserts this
    /// when it loads the netlist). Loops are not unrolled: the executes are taken in the order
    /// they are written, as upstream does.
    pub fn check_programs(&self, netlist: &Netlist) -> Result<(), TemporalError> {
        for program in &netlist.programs {
            // (temporal graph, members seen, line of the first execute)
            let mut open: Option<(usize, Vec<usize>, u32)> = None;
            let incomplete = |(group, seen, line): &(usize, Vec<usize>, u32)| {
                let members = &self.groups[*group];
                (seen.len() < members.len()).then(|| {
                    let missing: Vec<&str> = members
                        .iter()
                        .filter(|m| !seen.contains(m))
                        .map(|&m| netlist.graphs[m].name.as_str())
                        .collect();
                    TemporalError::Incomplete {
                        program: program.name.clone(),
                        line: *line,
                        missing: missing.join(", "),
                    }
                })
            };
            for step in &program.instructions {
                let Instruction::Execute(e) = &step.instruction else {
                    continue;
                };
                let Some(g) = netlist.graphs.iter().position(|x| x.name == e.graph_name) else {
                    continue;
                };
                let group = self.group_of[g];
                let starts_new = match &open {
                    Some((og, seen, _)) => *og != group || seen.contains(&g),
                    None => true,
                };
                if starts_new {
                    if let Some(why) = open.as_ref().and_then(incomplete) {
                        return Err(why);
                    }
                    open = Some((group, Vec::new(), step.line));
                }
                if let Some((_, seen, _)) = open.as_mut() {
                    seen.push(g);
                }
            }
            if let Some(why) = open.as_ref().and_then(incomplete) {
                return Err(why);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::TemporalError;
    use alloc::string::{String, ToString};

    #[test]
    fn temporal_errors_name_the_graphs_and_the_rule() {
        let cases = [
            (
                TemporalError::InputCount {
                    graph: String::from("sum"),
                    input_count: 2,
                    first: String::from("first"),
                    first_input_count: 1,
                },
                "graph sum has input_count 2 but graph first of the same temporal graph has 1: \
                 sub-graphs of a temporal graph run together and must share it",
            ),
            (
                TemporalError::SharedDevice {
                    first: String::from("first"),
                    second: String::from("sum"),
                    device: 0,
                },
                "graphs first and sum of one temporal graph both target device 0: each \
                 sub-graph of a temporal graph runs on its own device",
            ),
            (
                TemporalError::Incomplete {
                    program: String::from("p"),
                    line: 7,
                    missing: String::from("first, other"),
                },
                "program `p`, line 7: the executes from here on run part of a temporal graph \
                 (graphs joined by ops reading ops) without graph first, other: a program \
                 executes every sub-graph of a temporal graph, one after the other",
            ),
        ];
        for (e, text) in cases {
            assert_eq!(e.to_string(), text);
        }
    }
}
