//! Temporal graphs on the run side (netlist::temporal): an `execute` of a sub-graph records its
//! queue settings; the execute of the last sub-graph not yet executed runs the whole temporal
//! graph, as one kernel, with the settings of all of them. A graph that is a temporal graph on
//! its own runs at its execute.
//!
//! Upstream clears what was recorded at the start of every `run_program`; so does ttrt. The
//! settings live in a buffer sized for every queue of the netlist at initialize, so recording
//! allocates nothing.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

use super::error::RunError;
use crate::netlist::{Netlist, ResolvedSetting, TemporalGraphs};

pub(crate) struct TemporalRun {
    /// The runtime graph (temporal graph) of each netlist graph.
    graph_of: Box<[usize]>,
    /// Sub-graphs of each temporal graph.
    members: Box<[Box<[usize]>]>,
    /// Netlist graphs executed since their temporal graph last ran.
    executed: Box<[bool]>,
    /// The recorded settings, one per queue.
    pending: Vec<ResolvedSetting>,
    /// Names, for messages.
    graph_names: Box<[String]>,
    queue_names: Box<[String]>,
}

impl TemporalRun {
    pub fn new(netlist: &Netlist, temporal: &TemporalGraphs) -> TemporalRun {
        TemporalRun {
            graph_of: (0..netlist.graphs.len())
                .map(|g| temporal.group_of(g))
                .collect(),
            members: temporal
                .groups()
                .iter()
                .map(|m| m.clone().into_boxed_slice())
                .collect(),
            executed: alloc::vec![false; netlist.graphs.len()].into_boxed_slice(),
            pending: Vec::with_capacity(netlist.queues.len()),
            graph_names: netlist.graphs.iter().map(|g| g.name.clone()).collect(),
            queue_names: netlist.queues.iter().map(|q| q.name.clone()).collect(),
        }
    }

    /// Forgets what earlier executes recorded (a new `run_program`).
    pub fn reset(&mut self) {
        self.executed.iter_mut().for_each(|e| *e = false);
        self.pending.clear();
    }

    /// The execute of netlist graph `graph` with `settings`: the temporal graph to run now,
    /// or None while some of its sub-graphs have not been executed.
    pub fn arrive(
        &mut self,
        graph: usize,
        settings: &[ResolvedSetting],
    ) -> Result<Option<usize>, RunError> {
        let group = self.graph_of[graph];
        let members = &self.members[group];
        if members.len() == 1 {
            return Ok(Some(group));
        }
        if self.executed[graph] {
            return Err(RunError::ExecutedTwice {
                graph: self.graph_names[graph].clone(),
                temporal: self.group_name(group),
            });
        }
        for s in settings {
            match self.pending.iter().find(|p| p.queue == s.queue) {
                Some(p) if p != s => {
                    return Err(RunError::SettingsDiffer {
                        queue: self.queue_names[s.queue].clone(),
                        temporal: self.group_name(group),
                    })
                }
                Some(_) => {}
                // At most one setting per queue: the capacity reserved at initialize holds it.
                None => self.pending.push(*s),
            }
        }
        self.executed[graph] = true;
        let complete = members.iter().all(|&m| self.executed[m]);
        Ok(complete.then_some(group))
    }

    /// The settings temporal graph `group` runs with: its recorded ones, or `given` for a
    /// graph on its own.
    pub fn settings<'a>(
        &'a self,
        group: usize,
        given: &'a [ResolvedSetting],
    ) -> &'a [ResolvedSetting] {
        if self.members[group].len() == 1 {
            given
        } else {
            &self.pending
        }
    }

    /// Temporal graph `group` has run: its sub-graphs wait for their next executes.
    pub fn ran(&mut self, group: usize) {
        if self.members[group].len() > 1 {
            for &m in self.members[group].iter() {
                self.executed[m] = false;
            }
            self.pending.clear();
        }
    }

    fn group_name(&self, group: usize) -> String {
        let names: Vec<&str> = self.members[group]
            .iter()
            .map(|&m| self.graph_names[m].as_str())
            .collect();
        names.join(", ")
    }
}
