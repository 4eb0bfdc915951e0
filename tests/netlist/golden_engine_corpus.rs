//! Compiles every graph of every corpus netlist (except the error tests) with `GraphPlan`, the
//! graphs of a temporal graph together,
//! and reports the ones ttrt refuses, with the reason.

use crate::support;

use support::{corpus, yaml_files};

use ttrt::format::Arch;
use ttrt::netlist::exec::GraphPlan;
use ttrt::netlist::TemporalGraphs;

#[test]
fn corpus_graphs_compile_or_are_refused_with_a_reason() {
    let root = corpus();
    let mut files = Vec::new();
    yaml_files(&root, &mut files);
    files.retain(|p| !p.to_string_lossy().contains("verif/error_tests"));
    files.sort();
    if files.is_empty() {
        eprintln!("no corpus at {}", root.display());
        return;
    }
    let (mut graphs, mut refused, mut unparsed) = (0, 0, 0);
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let name = path
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let netlist = match ttrt::netlist::parse(&text, &name) {
            Ok(n) => n,
            Err(e) => {
                unparsed += 1;
                eprintln!("not parsed: {e}");
                continue;
            }
        };
        let arch = if netlist.devices.arch.contains(&Arch::WormholeB0) {
            Arch::WormholeB0
        } else {
            netlist
                .devices
                .arch
                .first()
                .copied()
                .unwrap_or(Arch::WormholeB0)
        };
        // Graphs joined by ops reading ops compile together, as one temporal graph.
        let temporal = match TemporalGraphs::new(&netlist) {
            Ok(t) => t,
            Err(e) => {
                refused += 1;
                eprintln!("refused: {name}: {e}");
                continue;
            }
        };
        for members in temporal.groups() {
            graphs += members.len();
            if let Err(e) = GraphPlan::temporal(&netlist, members, arch) {
                refused += 1;
                eprintln!("refused: {e}");
                assert!(!e.message.contains('\n'), "one line: {e}");
            }
        }
    }
    eprintln!(
        "{} netlists ({unparsed} not parsed), {graphs} graphs, {refused} refused",
        files.len()
    );
}
