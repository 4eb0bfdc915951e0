//! `ttrt run` of a generated multi-layer netlist holds memory in proportion to its queues: the
//! peak resident size of the child stays under a bound derived from the netlist's queue bytes.

use std::process::Command;

#[allow(dead_code)]
#[path = "../src/bin/bench/bert.rs"]
mod bert;

mod support;

/// Peak resident set of the children waited for so far, in bytes (Linux reports KiB).
fn children_max_rss() -> u64 {
    // SAFETY: getrusage writes into the zeroed struct it is given.
    let mut u: libc::rusage = unsafe { core::mem::zeroed() };
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut u) }, 0);
    u.ru_maxrss as u64 * 1024
}

/// Bytes of every queue of `netlist` in its own format (buffers with headers and entries) and
/// the part of them in DRAM: what a run writes into the simulated chip.
fn queue_bytes(netlist: &ttrt::netlist::Netlist) -> (u64, u64) {
    let arch = ttrt::format::Arch::WormholeB0;
    let mut all = 0;
    let mut dram = 0;
    for q in &netlist.queues {
        let layout = q.layout(arch);
        let bytes = layout.io_size(q.entries) as u64 * layout.buffers() as u64;
        all += bytes;
        if q.loc == ttrt::netlist::QueueLocation::Dram {
            dram += bytes;
        }
    }
    (all, dram)
}

/// BERT-large's 24 encoder layers (12.6M parameters each, in Bfp8_b): the peak resident set
/// of `ttrt run` is at most twice the model's bytes in their queue formats, plus the simulated
/// DRAM the run writes (every queue there), plus 64 MiB for the process itself. Before the
/// graphs borrowed their float32 buffers from one pool, every layer's plan held a float32
/// copy of its weights and its activations for good: 8.4x the model's bytes.
#[test]
fn run_of_bert_large_peaks_under_twice_the_model_plus_the_memory_it_writes() {
    let text = bert::generate_large(24);
    let netlist = ttrt::netlist::parse(&text, "bert_large.yaml").expect("parse");
    assert_eq!(netlist.graphs.len(), 24);
    let (model, dram) = queue_bytes(&netlist);
    // 24 layers of 12.6M parameters, about a byte each in Bfp8_b.
    assert!(model > 24 * 12_600_000, "the model holds {model} B");
    let dir = support::scratch("run_memory");
    let path = dir.join("bert_large.yaml");
    std::fs::write(&path, &text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ttrt"))
        .arg("run")
        .arg(&path)
        .args(["--param", "$p_microbatch_count=2"])
        .output()
        .expect("run ttrt");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rss = children_max_rss();
    let bound = 64 * 1024 * 1024 + 2 * model + dram;
    eprintln!(
        "peak RSS {} MiB, bound {} MiB, the model {} MiB in queue formats, {} MiB in DRAM",
        rss >> 20,
        bound >> 20,
        model >> 20,
        dram >> 20
    );
    assert!(
        rss < bound,
        "peak RSS {} MiB, bound {} MiB (the model holds {} MiB in queue formats)",
        rss >> 20,
        bound >> 20,
        model >> 20
    );
}
