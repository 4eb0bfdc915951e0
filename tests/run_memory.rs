//! `ttrt run` of a generated multi-layer netlist holds memory in proportion to its queues: the
//! peak resident size of the child stays under a bound derived from the netlist's queue bytes.

use std::process::Command;

#[allow(dead_code)]
#[path = "../src/bin/bench/bert.rs"]
mod bert;

#[path = "support/mod.rs"]
mod support;

/// Peak resident set of the children waited for so far, in bytes (Linux reports KiB).
fn children_max_rss() -> u64 {
    // SAFETY: getrusage writes into the zeroed struct it is given.
    let mut u: libc::rusage = unsafe { core::mem::zeroed() };
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut u) }, 0);
    u.ru_maxrss as u64 * 1024
}

/// Bytes the queues of `netlist` hold as float32 values: every entry of every buffer.
fn queue_f32_bytes(netlist: &ttrt::netlist::Netlist) -> u64 {
    netlist
        .queues
        .iter()
        .map(|q| {
            let values = u64::from(q.t)
                * u64::from(q.grid_size.r * q.mblock.m * q.ublock.rt)
                * u64::from(q.grid_size.c * q.mblock.n * q.ublock.ct)
                * 1024;
            values * 4 * u64::from(q.entries)
        })
        .sum()
}

/// The golden engine holds one float32 copy of each queue entry its graphs read, plus scratch
/// per op; before the ops read their plain queue inputs in place, every weight had two more
/// float32 copies (the op's input and its unused TM spare), and 24 layers peaked near 4.5x
/// the queues' float32 bytes.
#[test]
fn run_of_a_24_layer_netlist_holds_memory_in_proportion_to_its_queues() {
    let (text, layers) = bert::generate_layers(Some(24));
    assert_eq!(layers, 24);
    let netlist = ttrt::netlist::parse(&text, "bert_24_layers.yaml").expect("parse");
    let queues = queue_f32_bytes(&netlist);
    let dir = support::scratch("run_memory");
    let path = dir.join("bert_24_layers.yaml");
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
    // 64 MiB for the process itself, 3.5x the queues for the engine's copies and scratch.
    let bound = 64 * 1024 * 1024 + queues * 7 / 2;
    eprintln!(
        "peak RSS {} MiB, bound {} MiB, queues {} MiB as float32",
        rss >> 20,
        bound >> 20,
        queues >> 20
    );
    assert!(
        rss < bound,
        "peak RSS {} MiB, bound {} MiB (queues hold {} MiB as float32)",
        rss >> 20,
        bound >> 20,
        queues >> 20
    );
}
