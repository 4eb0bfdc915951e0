//! The `model` suite: a generated BERT-large encoder (`bert.rs`, 24 layers of 12.6M parameters
//! in Bfp8_b) run end to end: its time per inference through the backend against numpy's
//! float32 forward pass (`model_time.rs`), and `ttrt run` of it in a child process, as a user
//! runs a model, for the memory figure.
//!
//! The memory figure is the child's peak resident set (`ru_maxrss` of the waited-for child)
//! as a ratio to the model's bytes: every queue's buffers (parameters, constants and
//! activations) in their queue formats, what the simulated chip holds of it. The goal is at
//! most 2x those bytes plus the simulated memory written (the same queue bytes again, since
//! the run writes every queue): 3x.

use std::path::Path;
use std::process::Command;

use super::bert::generate_large;
use super::Plan;

/// Encoder layers of the generated model (BERT-large has 24).
pub const LAYERS: usize = 24;

/// `TTRT_BENCH_MODEL_LAYERS=N`: the time figure over the first N layers alone (quick
/// iterations on the kernels); the memory figure, about the whole model, is skipped.
pub const LAYERS_VAR: &str = "TTRT_BENCH_MODEL_LAYERS";

pub fn run(plan: Plan) -> Result<(), String> {
    let layers = match std::env::var(LAYERS_VAR) {
        Ok(v) => match v.parse::<usize>() {
            Ok(n) if (1..=LAYERS).contains(&n) => Some(n),
            _ => {
                return Err(format!(
                    "{LAYERS_VAR}=`{v}` is not a layer count from 1 to {LAYERS}"
                ))
            }
        },
        Err(_) => None,
    };
    super::model_time::run(plan, layers.unwrap_or(super::model_time::LAYERS))?;
    if layers.is_some() {
        return Ok(());
    }
    crate::progress::status("ttrt bench: measuring model/bert-large memory (ttrt run in a child)");
    let text = generate_large(LAYERS);
    let netlist = ttrt::netlist::parse(&text, "bert_large.yaml").map_err(|e| e.to_string())?;
    let bytes = model_bytes(&netlist);
    let path = std::env::temp_dir().join(format!("ttrt-bench-model-{}.yaml", std::process::id()));
    std::fs::write(&path, &text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    let result = memory(&path, &netlist, bytes);
    let _ = std::fs::remove_file(&path);
    result
}

/// Bytes of every queue of `netlist` in its queue format: its buffers (one per core of its
/// grid), each with its header and `entries` entries, on the netlist's first arch.
pub fn model_bytes(netlist: &ttrt::netlist::Netlist) -> u64 {
    queue_bytes(netlist, |_| true)
}

/// Bytes of the parameters alone (host-fed rams), in their queue formats.
fn parameter_bytes(netlist: &ttrt::netlist::Netlist) -> u64 {
    queue_bytes(netlist, |q| {
        q.is_host_input() && q.io_type == ttrt::netlist::IoType::Ram
    })
}

/// Bytes of the queues `which` picks, as [`model_bytes`] counts them.
fn queue_bytes(
    netlist: &ttrt::netlist::Netlist,
    which: impl Fn(&ttrt::netlist::Queue) -> bool,
) -> u64 {
    let arch = netlist
        .devices
        .arch
        .first()
        .copied()
        .unwrap_or(ttrt::format::Arch::WormholeB0);
    netlist
        .queues
        .iter()
        .filter(|q| which(q))
        .map(|q| {
            let layout = q.layout(arch);
            layout.io_size(q.entries) as u64 * layout.buffers() as u64
        })
        .sum()
}

/// The memory figure: `ttrt run` of the netlist at `path` in a child, its peak resident set
/// against `bytes`, the model's queue bytes.
pub fn memory(path: &Path, netlist: &ttrt::netlist::Netlist, bytes: u64) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find ttrt itself: {e}"))?;
    // Its output goes to a file, so that this thread can wait for the child alone and read
    // that child's own peak (other suites' children, numpy's among them, do not count).
    let log = path.with_extension("log");
    let file =
        std::fs::File::create(&log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let err = file
        .try_clone()
        .map_err(|e| format!("cannot reopen {}: {e}", log.display()))?;
    let child = Command::new(exe)
        .arg("run")
        .arg(path)
        .args(["--param", "$p_microbatch_count=2"])
        .stdout(file)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("cannot run ttrt run: {e}"))?;
    let waited = wait_with_peak_rss(child);
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    let (ok, rss) = waited?;
    if !ok {
        return Err(format!("ttrt run {}: {}", path.display(), text.trim()));
    }
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    outln!(
        "model/bert-large memory: peak RSS {:.0} MiB = {:.2} x the model's {:.0} MiB in queue formats ({} layers, {:.0} MiB of parameters; goal: at most 3 x, 2 x the model plus the simulated memory it writes)",
        mib(rss),
        rss as f64 / bytes.max(1) as f64,
        mib(bytes),
        netlist.graphs.len(),
        mib(parameter_bytes(netlist))
    );
    Ok(())
}

/// Waits for `child`: whether it exited with 0, and its peak resident set in bytes (Linux
/// reports KiB).
fn wait_with_peak_rss(child: std::process::Child) -> Result<(bool, u64), String> {
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: wait4 writes the status and into the zeroed rusage it is given; the child is
    // ours and waited for once (its `Child` is dropped without waiting).
    let mut u: libc::rusage = unsafe { core::mem::zeroed() };
    if unsafe { libc::wait4(pid, &mut status, 0, &mut u) } != pid {
        return Err(format!("wait4: {}", std::io::Error::last_os_error()));
    }
    drop(child);
    let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    Ok((ok, u.ru_maxrss as u64 * 1024))
}
