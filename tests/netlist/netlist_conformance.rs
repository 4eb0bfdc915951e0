//! Conformance of the backend against the test-side reference, over every valid netlist of
//! the upstream corpus (`tests/corpus/netlists`, outside `verif/error_tests/`).
//!
//! For each netlist the reference (tests/support/reference*.rs) first plans the whole run:
//! - invocations: every program in netlist order, repeated `program_loop_count` times (a
//!   test-arg, default 1);
//! - params: each declared `$name` takes the test-arg `name` without a `p_` prefix (or `name`
//!   itself); otherwise 1 when the name mentions a count or loop, else 0;
//! - order: programs that read a queue entry nothing has written yet wait for the other
//!   programs of the round (some netlists list consumers first);
//! - pushes before each invocation: every host-fed queue is filled up to its capacity (its
//!   free slots by the reference's pointers); a ram the host feeds, or that an op writes and
//!   an op reads, is written once, every slot, at the first invocation (its initial value).
//!   Values come from the stimulus config (tests/support/stimulus.rs; the sparse tiles and
//!   encodings of identity matmuls from tests/support/sparse_stimulus.rs), one seeded
//!   generator per queue, drawn again from the same state when driving, pushed as Float32
//!   for float queues and in the integer host format for integer and raw queues; without a
//!   stimulus config, uniform [-1, 1), or [0, 1) when the netlist takes a sqrt or log;
//! - after each invocation: every entry each output queue holds is read (get_output one entry
//!   at a time, then pop_output); every written slot of an output ram is read by pointer.
//!
//! The backend then replays exactly that through its Rust API, and each output entry is
//! compared with the netlist's comparison config (AllCloseHw with upstream's defaults when it
//! has none). Each netlist runs under catch_unwind, so a panic fails that netlist only.
//! Netlists using something the reference does not model are listed as UNSUPPORTED and do not
//! fail the test; any FAIL does. A netlist the reference expects the device to refuse at
//! initialize (queues overlapping in DRAM) passes when the backend's initialize fails saying
//! so, and is counted as refused.

use crate::support;

use support::{corpus, yaml_files};

use std::panic::{catch_unwind, AssertUnwindSafe};

use support::compare::{compare, config_for, default_config};
use support::reference::{host_format, to_host, RefError, Tensor, TILE};
use support::reference_run::{refused_at_initialize, unsupported_feature, Machine};
use support::sparse_stimulus;
use support::stimulus::generate;
use support::XorShift;
use ttrt::backend::{Backend, BackendConfig};
use ttrt::format::{DataFormat, HostTensor};
use ttrt::netlist::{parse, IoType, Netlist, Program, Value};

const TIMEOUT_MS: i32 = 60_000;

/// One push: queue, the generator state its host values are drawn from (drawn again when
/// driving, so a plan holds no copies of its inputs), ram slot (None: at the write pointer).
type Push = (String, XorShift, Option<usize>);

/// The host values of one push to queue `name`, drawn from `rng`.
fn draw(net: &Netlist, name: &str, positive: bool, rng: &mut XorShift) -> Result<Tensor, RefError> {
    let df = net.queue(name).expect("known queue").df;
    let stim = net.test_config.as_ref().and_then(|t| t.stimulus.as_ref());
    let shape = entry_shape(net, name);
    match sparse_stimulus::generate(net, name, shape) {
        Some(t) => t,
        None => generate(stim, name, df, shape, positive, rng).map(|t| host_entry(net, name, t)),
    }
}

/// One run_program call and what surrounds it.
struct Invocation {
    program: String,
    /// Param names without `$`, with values.
    params: Vec<(String, i64)>,
    pushes: Vec<Push>,
    /// Output queue entries in read order, as the host should see them.
    outputs: Vec<(String, Tensor)>,
    /// Output ram slots after the call, as the host should see them.
    rams: Vec<(String, usize, Tensor)>,
}

fn test_arg_int(net: &Netlist, key: &str) -> Option<i64> {
    let v = net.test_config.as_ref()?.test_arg(key)?;
    match v {
        Value::Int(i) => Some(*i),
        Value::Bool(b) => Some(i64::from(*b)),
        Value::Str(s) => s.trim().parse().ok(),
        Value::Float(f) => Some(*f as i64),
        _ => None,
    }
}

fn param_value(net: &Netlist, name: &str) -> i64 {
    let key = name.strip_prefix("p_").unwrap_or(name);
    test_arg_int(net, key)
        .or_else(|| test_arg_int(net, name))
        .unwrap_or(if name.contains("count") || name.contains("loop") {
            1
        } else {
            0
        })
}

/// The shape `(z, rt, ct)` of one entry of a queue.
fn entry_shape(net: &Netlist, name: &str) -> (usize, usize, usize) {
    let q = net.queue(name).expect("known queue");
    let rt = q.grid_size.r * q.mblock.m * q.ublock.rt;
    let ct = q.grid_size.c * q.mblock.n * q.ublock.ct;
    (q.t as usize, rt as usize, ct as usize)
}

/// A generated entry of 32x32 tiles as the host holds it for queue `name`: for a queue of
/// smaller tiles (`tile_dim`), the top-left corner of every tile, packed (`rt*th x ct*tw`).
fn host_entry(net: &Netlist, name: &str, t: Tensor) -> Tensor {
    let d = net.queue(name).expect("known queue").tile_dim;
    let (th, tw) = (d.height as usize, d.width as usize);
    if (th, tw) == (TILE, TILE) {
        return t;
    }
    let (rows, cols) = (t.rows / TILE * th, t.cols / TILE * tw);
    Tensor::build(t.z, rows, cols, t.tag, |z, r, c| {
        t.at(z, r / th * TILE + r % th, c / tw * TILE + c % tw)
    })
}

/// Host values as get_output returns them for a queue of format `df`.
fn host_view(t: &Tensor, df: DataFormat) -> Tensor {
    let mut out = t.map(|x| to_host(x, df));
    out.tag = host_format(df);
    out
}

/// Whether some op or fused sub-op takes a sqrt or log (golden stops on negative inputs), so
/// the default stimulus must be non-negative.
fn needs_positive_inputs(net: &Netlist) -> bool {
    let domain = |t: &str| matches!(t, "sqrt" | "log");
    net.graphs
        .iter()
        .flat_map(|g| &g.ops)
        .any(|op| domain(op.op_type.as_str()))
        || net
            .fused_ops
            .iter()
            .flat_map(|f| &f.schedules)
            .flat_map(|s| &s.ops)
            .any(|s| domain(s.op_type.as_str()))
}

/// The queues the driver writes from the host: host-fed queues and rams, and rams an op
/// writes but some op reads (their initial contents), in file order.
fn pushed_queues(net: &Netlist) -> Vec<String> {
    let read = |name: &str| {
        net.graphs
            .iter()
            .flat_map(|g| &g.ops)
            .any(|op| op.inputs.iter().any(|n| n == name))
    };
    net.queues
        .iter()
        .filter(|q| q.is_host_input() || (q.io_type == IoType::Ram && read(&q.name)))
        .map(|q| q.name.clone())
        .collect()
}

/// The reference state while planning.
struct Planner<'a> {
    net: &'a Netlist,
    machine: Machine<'a>,
    rngs: Vec<XorShift>,
    pushed: Vec<String>,
    rams_filled: bool,
    positive: bool,
}

impl Planner<'_> {
    /// Pushes, runs `prog` and drains the outputs on the reference.
    fn invoke(&mut self, prog: &Program) -> Result<Invocation, RefError> {
        let net = self.net;
        let m = &mut self.machine;
        let mut pushes = Vec::new();
        for (name, rng) in self.pushed.iter().zip(&mut self.rngs) {
            let q = net.queue(name).expect("known queue");
            let slots: Vec<Option<usize>> = if q.io_type == IoType::Ram {
                if self.rams_filled {
                    continue;
                }
                (0..q.entries as usize).map(Some).collect()
            } else {
                vec![None; m.queue(name).free()]
            };
            for slot in slots {
                pushes.push((name.clone(), rng.clone(), slot));
                let t = draw(net, name, self.positive, rng)?;
                m.host_push(name, t, slot)?;
            }
        }
        self.rams_filled = true;
        let params: Vec<(String, i64)> = prog
            .params()
            .map(|p| (p.to_string(), param_value(net, p)))
            .collect();
        m.run_program(&prog.name, &params)?;
        let mut outputs = Vec::new();
        let mut rams = Vec::new();
        for q in net.output_queues() {
            if m.queue(&q.name).ram {
                for (slot, t) in m.ram_entries(&q.name) {
                    rams.push((q.name.clone(), slot, host_view(&t, q.df)));
                }
                continue;
            }
            for _ in 0..m.queue(&q.name).occupancy() {
                outputs.push((q.name.clone(), host_view(&m.host_peek(&q.name)?, q.df)));
                m.host_pop(&q.name);
            }
        }
        Ok(Invocation {
            program: prog.name.clone(),
            params,
            pushes,
            outputs,
            rams,
        })
    }
}

/// Plans the run of `net` on the reference. Each round runs every program once, in netlist
/// order, except that a program reading a queue entry nothing has written yet waits until
/// another program of the round has written it (netlists that list consumers first).
fn plan(net: &Netlist) -> Result<Vec<Invocation>, RefError> {
    if let Some(why) = unsupported_feature(net) {
        return Err(RefError::Unsupported(why));
    }
    if let Some(why) = refused_at_initialize(net) {
        return Err(RefError::Refused(why));
    }
    let repeats = test_arg_int(net, "program_loop_count").unwrap_or(1).max(1);
    let pushed = pushed_queues(net);
    let mut planner = Planner {
        net,
        machine: Machine::new(net),
        rngs: (0..pushed.len())
            .map(|i| XorShift(0x9E37_79B9_7F4A_7C15 ^ ((i as u64 + 1) * 0x2545_F491_4F6C_DD1D)))
            .collect(),
        pushed,
        rams_filled: false,
        positive: needs_positive_inputs(net),
    };
    let mut plan = Vec::new();
    for _ in 0..repeats {
        let mut pending: Vec<&Program> = net.programs.iter().collect();
        while !pending.is_empty() {
            let mut last_err = None;
            let mut ran = None;
            for (k, prog) in pending.iter().enumerate() {
                // Only worth a copy when another program could run instead.
                let saved = (pending.len() > 1).then(|| {
                    (
                        planner.machine.clone(),
                        planner.rngs.clone(),
                        planner.rams_filled,
                    )
                });
                match planner.invoke(prog) {
                    Ok(inv) => {
                        ran = Some((k, inv));
                        break;
                    }
                    Err(RefError::Unwritten(why)) => {
                        if let Some(saved) = saved {
                            (planner.machine, planner.rngs, planner.rams_filled) = saved;
                        }
                        last_err.get_or_insert(why);
                    }
                    Err(e) => return Err(e),
                }
            }
            match ran {
                Some((k, inv)) => {
                    pending.remove(k);
                    plan.push(inv);
                }
                None => {
                    let why = last_err.expect("an error");
                    return Err(RefError::Unsupported(format!("no program order: {why}")));
                }
            }
        }
    }
    Ok(plan)
}

/// The host format pushed for a queue of format `df`.
fn push_format(df: DataFormat) -> DataFormat {
    match df {
        DataFormat::Int8
        | DataFormat::UInt8
        | DataFormat::Int32
        | DataFormat::UInt16
        | DataFormat::RawUInt16
        | DataFormat::RawUInt32 => df,
        DataFormat::RawUInt8 => DataFormat::UInt8,
        _ => DataFormat::Float32,
    }
}

/// Little-endian host bytes of `t` in `format`.
fn encode(t: &Tensor, format: DataFormat) -> Vec<u8> {
    let mut out = Vec::new();
    for &x in &t.data {
        match format {
            DataFormat::Int8 => out.push(x as i8 as u8),
            DataFormat::UInt8 => out.push(x as u8),
            DataFormat::Int32 => out.extend_from_slice(&(x as i32).to_le_bytes()),
            DataFormat::UInt16 | DataFormat::RawUInt16 => {
                out.extend_from_slice(&(x as u16).to_le_bytes())
            }
            DataFormat::RawUInt32 => out.extend_from_slice(&(x as u32).to_le_bytes()),
            _ => out.extend_from_slice(&(x as f32).to_le_bytes()),
        }
    }
    out
}

/// The fp16_a encoding: 5-bit exponent biased by 15 (0 means zero), 10-bit mantissa.
fn fp16a_value(h: u16) -> f64 {
    let e = i32::from((h >> 10) & 0x1F);
    if e == 0 {
        return 0.0;
    }
    let v = (1.0 + f64::from(h & 0x3FF) / 1024.0) * 2f64.powi(e - 15);
    if h & 0x8000 != 0 {
        -v
    } else {
        v
    }
}

/// Values of get_output bytes in `format`.
fn decode(bytes: &[u8], format: DataFormat) -> Result<Vec<f64>, String> {
    let w = |n: usize| bytes.chunks_exact(n);
    Ok(match format {
        DataFormat::Float32 => w(4)
            .map(|b| f64::from(f32::from_le_bytes(b.try_into().unwrap())))
            .collect(),
        DataFormat::Float16B => w(2)
            .map(|b| {
                f64::from(f32::from_bits(
                    u32::from(u16::from_le_bytes([b[0], b[1]])) << 16,
                ))
            })
            .collect(),
        DataFormat::Float16 => w(2)
            .map(|b| fp16a_value(u16::from_le_bytes([b[0], b[1]])))
            .collect(),
        DataFormat::Int8 => bytes.iter().map(|&b| f64::from(b as i8)).collect(),
        DataFormat::UInt8 => bytes.iter().map(|&b| f64::from(b)).collect(),
        DataFormat::Int32 => w(4)
            .map(|b| f64::from(i32::from_le_bytes(b.try_into().unwrap())))
            .collect(),
        DataFormat::UInt16 => w(2)
            .map(|b| f64::from(u16::from_le_bytes([b[0], b[1]])))
            .collect(),
        DataFormat::RawUInt32 => w(4)
            .map(|b| f64::from(u32::from_le_bytes(b.try_into().unwrap())))
            .collect(),
        other => return Err(format!("get_output returned format {}", other.name())),
    })
}

fn be<T>(what: &str, r: Result<T, ttrt::backend::BackendError>) -> Result<T, String> {
    r.map_err(|e| format!("{what}: {e}"))
}

/// Checks one get_output result against the expected host view.
fn check_output(
    net: &Netlist,
    queue: &str,
    got: ttrt::backend::OutputTensor,
    want: &Tensor,
) -> Result<(), String> {
    let shape = [1, want.z, want.rows, want.cols];
    if got.shape != shape || got.format != want.tag {
        return Err(format!(
            "{queue}: get_output gave {:?} {}, expected {shape:?} {}",
            got.shape,
            got.format.name(),
            want.tag.name()
        ));
    }
    let data = decode(&got.data, got.format)?;
    if data.len() != want.data.len() {
        return Err(format!(
            "{queue}: {} values, expected {}",
            data.len(),
            want.data.len()
        ));
    }
    let actual = Tensor::from_vec(want.z, want.rows, want.cols, data, want.tag);
    let base = net.test_config.as_ref().and_then(|t| t.comparison.clone());
    let cfg = base.unwrap_or_else(default_config);
    let mut cfg = config_for(&cfg, queue).clone();
    cfg.rtol += rounding_slack(net.queue(queue).map(|q| q.df));
    compare(&cfg, want, &actual).map_err(|e| format!("{queue}: {e}"))
}

/// Relative slack for one unit in the last place of a lossy queue format. The reference sums
/// in f64 and the device in golden's f32 order; where the exact value sits near a boundary of
/// the queue's format, the two land on neighbouring values of it (seen: bf16 matmul outputs one
/// ulp apart). The netlists' tolerances were set for hardware against golden, not for this.
fn rounding_slack(df: Option<ttrt::format::DataFormat>) -> f64 {
    use ttrt::format::DataFormat as F;
    match df {
        Some(F::Float16B) => 2f64.powi(-7),
        Some(F::Bfp8B | F::Bfp8) => 2f64.powi(-6),
        Some(F::Float16) => 2f64.powi(-10),
        Some(F::Tf32) => 2f64.powi(-10),
        _ => 0.0,
    }
}

/// Replays the plan on the backend.
fn drive(net: &Netlist, plan: &[Invocation]) -> Result<(), String> {
    let backend = be(
        "create",
        Backend::from_netlist(net.clone(), &BackendConfig::default()),
    )?;
    be("initialize", backend.initialize())?;
    for (i, inv) in plan.iter().enumerate() {
        for (queue, rng, slot) in &inv.pushes {
            let t = draw(net, queue, needs_positive_inputs(net), &mut rng.clone())
                .map_err(|e| format!("stimulus of {queue}: {e}"))?;
            let df = net.queue(queue).expect("known queue").df;
            let fmt = push_format(df);
            let bytes = encode(&t, fmt);
            let host = HostTensor::contiguous(&bytes, fmt, [1, t.z, t.rows, t.cols]);
            let ptr = slot.map_or(-1, |s| s as i32);
            be(
                &format!("push_input {queue}"),
                backend.push_input(queue, &host, true, TIMEOUT_MS, ptr),
            )?;
        }
        let names: Vec<String> = inv.params.iter().map(|(k, _)| format!("${k}")).collect();
        let values: Vec<String> = inv.params.iter().map(|(_, v)| v.to_string()).collect();
        let params: Vec<(&str, &str)> = names
            .iter()
            .zip(&values)
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        be(
            &format!("run_program {} (call {i})", inv.program),
            backend.run_program(&inv.program, &params),
        )?;
        for (queue, want) in &inv.outputs {
            let got = be(
                &format!("get_output {queue}"),
                backend.get_output(queue, true, TIMEOUT_MS, -1),
            )?;
            check_output(net, queue, got, want).map_err(|e| format!("call {i}: {e}"))?;
            be(
                &format!("pop_output {queue}"),
                backend.pop_output(queue, true, TIMEOUT_MS),
            )?;
        }
        for (queue, slot, want) in &inv.rams {
            let got = be(
                &format!("get_output {queue}[{slot}]"),
                backend.get_output(queue, true, TIMEOUT_MS, *slot as i32),
            )?;
            check_output(net, queue, got, want).map_err(|e| format!("call {i}: {e}"))?;
        }
    }
    be("finish", backend.finish())
}

enum Verdict {
    Pass,
    /// The backend refused the netlist at initialize, as the reference predicts.
    Refused(String),
    Fail(String),
    Unsupported(String),
}

/// The reference expects initialize to fail (`why`): checks that the backend's does, saying
/// that queues overlap.
fn expect_refusal(net: &Netlist, why: &str) -> Verdict {
    let outcome = Backend::from_netlist(net.clone(), &BackendConfig::default())
        .and_then(|b| b.initialize().map(|()| b));
    match outcome {
        Err(e) if e.message.contains("overlaps") => {
            Verdict::Refused(format!("{why}; backend: {}", e.message))
        }
        Err(e) => Verdict::Fail(format!("expected a refusal ({why}), got: {e}")),
        Ok(b) => {
            let _ = b.finish();
            Verdict::Fail(format!("expected initialize to refuse the netlist: {why}"))
        }
    }
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic".into())
}

fn run_one(rel: &str, text: &str) -> Verdict {
    let net = match parse(text, rel) {
        Ok(n) => n,
        Err(e) => return Verdict::Fail(format!("parse: {e}")),
    };
    let planned = match catch_unwind(AssertUnwindSafe(|| plan(&net))) {
        Ok(Ok(p)) => p,
        Ok(Err(RefError::Unsupported(why))) => return Verdict::Unsupported(why),
        Ok(Err(RefError::Refused(why))) => {
            return match catch_unwind(AssertUnwindSafe(|| expect_refusal(&net, &why))) {
                Ok(v) => v,
                Err(p) => Verdict::Fail(format!("panic: {}", panic_message(&*p))),
            }
        }
        Ok(Err(e)) => return Verdict::Fail(format!("reference: {e}")),
        Err(p) => return Verdict::Fail(format!("reference panic: {}", panic_message(&*p))),
    };
    if std::env::var_os("TTRT_CONFORMANCE_REFERENCE_ONLY").is_some() {
        return Verdict::Pass;
    }
    match catch_unwind(AssertUnwindSafe(|| drive(&net, &planned))) {
        Ok(Ok(())) => Verdict::Pass,
        Ok(Err(e)) => Verdict::Fail(e),
        Err(p) => Verdict::Fail(format!("panic: {}", panic_message(&*p))),
    }
}

#[test]
fn every_corpus_netlist_matches_the_reference() {
    let mut files = Vec::new();
    yaml_files(&corpus(), &mut files);
    files.sort();
    // TTRT_CONFORMANCE_ONLY=text: only the netlists whose path contains it (while working).
    let only = std::env::var("TTRT_CONFORMANCE_ONLY").ok();
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut lines = Vec::new();
    let (mut pass, mut refused, mut fail, mut unsupported) = (0, 0, 0, 0);
    for path in &files {
        let rel = path
            .strip_prefix(corpus())
            .expect("under corpus")
            .to_string_lossy()
            .replace('\\', "/");
        if rel.starts_with("verif/error_tests/") || !only.as_ref().is_none_or(|o| rel.contains(o)) {
            continue;
        }
        let text = std::fs::read_to_string(path).expect("read netlist");
        let line = match run_one(&rel, &text) {
            Verdict::Pass => {
                pass += 1;
                format!("PASS {rel}")
            }
            Verdict::Refused(why) => {
                pass += 1;
                refused += 1;
                format!("PASS(refused at initialize as predicted: {why}) {rel}")
            }
            Verdict::Fail(why) => {
                fail += 1;
                format!("FAIL({why}) {rel}")
            }
            Verdict::Unsupported(why) => {
                unsupported += 1;
                format!("UNSUPPORTED({why}) {rel}")
            }
        };
        println!("{line}");
        lines.push(line);
    }
    std::panic::set_hook(hook);
    let unsupported_list: Vec<&String> = lines
        .iter()
        .filter(|l| l.starts_with("UNSUPPORTED"))
        .collect();
    println!("unsupported by the driver:");
    for l in &unsupported_list {
        println!("  {l}");
    }
    println!(
        "{pass} passed ({refused} refused at initialize as predicted), {fail} failed, {unsupported} unsupported"
    );
    assert!(
        only.is_some() || pass + fail + unsupported >= 200,
        "corpus not found"
    );
    assert_eq!(fail, 0, "{fail} netlists failed (see the lines above)");
}

/// Queue entries of a one-graph run of the engine, by queue index.
struct Entries(Vec<Option<ttrt::netlist::exec::Tensor>>);

impl ttrt::netlist::exec::QueueIo for Entries {
    type Error = String;

    fn read(&mut self, queue: usize, out: &mut ttrt::netlist::exec::Tensor) -> Result<(), String> {
        let t = self.0[queue].as_ref().ok_or("no entry")?;
        out.data.copy_from_slice(&t.data);
        Ok(())
    }
    fn write(&mut self, queue: usize, entry: &ttrt::netlist::exec::Tensor) -> Result<(), String> {
        self.0[queue] = Some(entry.clone());
        Ok(())
    }
}

/// topk on rows full of equal values of both signs (the corpus' normal stimuli rarely tie):
/// the engine's step-by-step network and the reference's recursive one give the same values
/// and the same indices, for every k, with and without kreduce, over one and two cores.
#[test]
fn topk_matches_the_reference_on_rows_of_ties() {
    use ttrt::format::Arch;
    use ttrt::netlist::exec::{GraphPlan, Tensor as EngineTensor};
    let mut rng = XorShift(0x1234_5678_9abc_def1);
    for (cores, ct) in [(1u32, 4u32), (2, 8)] {
        for k in [1u32, 2, 4, 8, 16, 32, 64, 128] {
            for kreduce in [false, true] {
                for sort in ["max", "argmax"] {
                    let out_ct = cores * k.div_ceil(32);
                    let text = format!(
                        "devices: {{arch: grayskull}}\nqueues:\n  v: {{input: HOST, type: queue, entries: 1, grid_size: [1, 1], t: 1, mblock: [1, {ct}], ublock: [1, 1], df: Float32, target_device: 0, loc: dram, dram: [[0, 0x10000000]]}}\n  i: {{input: HOST, type: queue, entries: 1, grid_size: [1, 1], t: 1, mblock: [1, {ct}], ublock: [1, 1], df: Float32, target_device: 0, loc: dram, dram: [[0, 0x11000000]]}}\n  out: {{input: op0, type: queue, entries: 1, grid_size: [1, {cores}], t: 1, mblock: [1, {}], ublock: [1, 1], df: Float32, target_device: 0, loc: dram, dram: [{}]}}\ngraphs:\n  g:\n    target_device: 0\n    input_count: 1\n    op0: {{type: topk, grid_loc: [0, 0], grid_size: [1, {cores}], inputs: [v, i], in_df: [Float32, Float32], out_df: Float32, intermed_df: Float32, acc_df: Float32, math_fidelity: HiFi4, buf_size_mb: 2, ublock_order: r, t: 1, mblock: [1, {}], ublock: [1, 1], attributes: {{k: {k}, sort: {sort}, kreduce: {kreduce}}}}}\nprograms:\n  - p:\n    - var: {{$z: 0}}\n    - execute: {{graph_name: g, queue_settings: {{v: {{prologue: false, epilogue: false, zero: false, rd_ptr_global: $z, rd_ptr_local: $z}}, i: {{prologue: false, epilogue: false, zero: false, rd_ptr_global: $z, rd_ptr_local: $z}}}}}}\n",
                        out_ct / cores,
                        (0..cores)
                            .map(|c| format!("[0, 0x{:x}]", 0x1200_0000 + c * 0x10_0000))
                            .collect::<Vec<_>>()
                            .join(", "),
                        out_ct / cores,
                    );
                    let net = parse(&text, "topk.yaml").unwrap_or_else(|e| panic!("{e}"));
                    // Values in {-2, -1, -0, 0, 1, 2}: ties everywhere, of both signs.
                    let n = ct as usize * TILE;
                    let draws: Vec<f64> = (0..32 * n)
                        .map(|_| [-2.0, -1.0, -0.0, 0.0, 1.0, 2.0][(rng.next() % 6) as usize])
                        .collect();
                    let values = Tensor::from_vec(1, 32, n, draws, DataFormat::Float32);
                    let indices =
                        Tensor::build(1, 32, ct as usize * TILE, DataFormat::Float32, |_, _, c| {
                            c as f64
                        });
                    let op = &net.graphs[0].ops[0];
                    let want = support::reference_ops::topk(op, &values, &indices).unwrap();
                    let engine = |t: &Tensor| {
                        let mut e = EngineTensor::zeros(1, 1, ct, DataFormat::Float32);
                        for (d, s) in e.data.iter_mut().zip(&t.data) {
                            *d = *s as f32;
                        }
                        Some(e)
                    };
                    let mut io = Entries(vec![engine(&values), engine(&indices), None]);
                    let mut plan = GraphPlan::new(&net, 0, Arch::Grayskull).unwrap();
                    plan.run(&mut io).unwrap();
                    let got = io.0[2].as_ref().unwrap();
                    let what = format!("cores {cores}, k {k}, kreduce {kreduce}, {sort}");
                    assert_eq!(got.data.len(), want.data.len(), "{what}");
                    for (n, (g, w)) in got.data.iter().zip(&want.data).enumerate() {
                        assert!(
                            f64::from(*g).to_bits() == w.to_bits(),
                            "{what}: value {n}: engine {g}, reference {w}"
                        );
                    }
                }
            }
        }
    }
}
