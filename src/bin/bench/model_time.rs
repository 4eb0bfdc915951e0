//! The time figure of the `model` suite: one inference of a 24-layer encoder of BERT-large's
//! shapes (sequence 384, hidden 1024, feed-forward 4096; `bert.rs`) through the Buda backend
//! with golden numerics (push, run_program, get_output, pop), against numpy's float32 forward
//! pass of the same computation, timed in the same run.
//!
//! numpy runs in a `python3` child after the backend's rounds: the same matmul shapes, bias
//! adds, attention weighting (row max, subtract, sigmoid, exp, reciprocal, multiply), the
//! layernorm pieces (row max, subtract, square, sqrt), tanh-form gelu and tanh as the netlist's
//! ops, on float32 arrays. Without python3 or numpy the comparison is skipped with a line
//! saying so.

use std::process::Command;
use std::time::{Duration, Instant};

use ttrt::backend::{Backend, BackendConfig};
use ttrt::format::{DataFormat, HostTensor, HostTensorMut};

use super::bert::{generate, Dims, WEIGHTS};
use super::{median, Plan};

/// Encoder layers of BERT-large.
pub const LAYERS: usize = 24;

/// numpy's forward pass: `argv[1]` timed rounds after one warm-up, the median printed in
/// seconds. Shapes in elements come as `argv[2:]`: layers, sequence, hidden, feed-forward.
const NUMPY_FORWARD: &str = r#"
import sys, time
try:
    import numpy as np
except ImportError:
    sys.exit(3)
runs, layers, seq, hidden, ff = (int(a) for a in sys.argv[1:6])
rng = np.random.default_rng(0)
def uniform(*shape):
    return rng.random(shape, dtype=np.float32) * np.float32(0.2) - np.float32(0.1)
shapes = [(hidden, hidden)] * 4 + [(hidden, ff), (ff, hidden)]
# A bias is one tile row of values broadcast over the sequence, as the netlist's r broadcast.
params = [[(uniform(i, o), uniform(32, o)) for (i, o) in shapes] for _ in range(layers)]
x0 = uniform(seq, hidden)
c = np.float32(np.sqrt(2.0 / np.pi))
def dense(a, w, b):
    y = a @ w
    y3 = y.reshape(seq // 32, 32, -1)
    y3 += b
    return y
def forward(x):
    for (q, k, v, o, f1, f2) in params:
        qb, kb, vb = dense(x, *q), dense(x, *k), dense(x, *v)
        s = qb @ kb.T
        s -= s.max(axis=1, keepdims=True)
        e = np.exp(np.float32(1) / (np.float32(1) + np.exp(-s)))
        w = e * (np.float32(1) / e)
        r = dense(w @ vb, *o) + x
        r -= r.max(axis=1, keepdims=True)
        n = np.sqrt(r * r)
        h = dense(n, *f1)
        g = np.float32(0.5) * h * (np.float32(1) + np.tanh(c * (h + np.float32(0.044715) * h * h * h)))
        x = np.tanh(dense(g, *f2))
    return x
forward(x0)
times = []
for _ in range(runs):
    t = time.perf_counter()
    out = forward(x0)
    times.append(time.perf_counter() - t)
assert out.dtype == np.float32 and np.isfinite(out).all()
times.sort()
print(times[len(times) // 2])
"#;

/// Seeded values in [-0.1, 0.1), as the netlist's stimulus-config.
struct Uniform(u64);

impl Uniform {
    fn fill(&mut self, out: &mut [u8]) {
        for v in out.chunks_exact_mut(4) {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            let x = (self.0 >> 40) as f32 / (1u64 << 24) as f32 * 0.2 - 0.1;
            v.copy_from_slice(&x.to_le_bytes());
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Runs the backend's rounds and numpy's, and prints the figure.
pub fn run(plan: Plan, layers: usize) -> Result<(), String> {
    let dims = Dims::LARGE_SEQ_384;
    let (text, layers) = generate(dims, Some(layers));
    let netlist = ttrt::netlist::parse(&text, "bert_large.yaml").map_err(|e| e.to_string())?;
    let e = |e: ttrt::backend::BackendError| e.message;
    let be = Backend::from_netlist(netlist, &BackendConfig::default()).map_err(e)?;
    be.initialize().map_err(e)?;

    crate::progress::status("ttrt bench: model: writing the weights");
    let mut seeded = Uniform(0x9e37_79b9_7f4a_7c15);
    let mut weight_bytes = 0usize;
    for l in 0..layers {
        for name in WEIGHTS {
            for kind in ["weight", "bias"] {
                let queue = format!("bert.encoder.layer.{l}.{name}.{kind}");
                let shape = be.queue_desc(&queue).map_err(e)?.layout.host_shape(1);
                let mut bytes = vec![0u8; shape.iter().product::<usize>() * 4];
                seeded.fill(&mut bytes);
                weight_bytes += bytes.len();
                let t = HostTensor::contiguous(&bytes, DataFormat::Float32, shape);
                be.push_input(&queue, &t, true, -1, 0).map_err(e)?;
            }
        }
    }
    let shape = be
        .queue_desc("hidden_states")
        .map_err(e)?
        .layout
        .host_shape(1);
    let mut input = vec![0u8; shape.iter().product::<usize>() * 4];
    seeded.fill(&mut input);
    let output = format!("e2e_layer_{}_output", layers - 1);
    let out_shape = be.queue_desc(&output).map_err(e)?.layout.host_shape(1);
    let mut out = vec![0u8; out_shape.iter().product::<usize>() * 4];
    let params = [("$p_microbatch_count", "1")];
    let mut inference = || -> Result<Duration, String> {
        let t0 = Instant::now();
        let t = HostTensor::contiguous(&input, DataFormat::Float32, shape);
        be.push_input("hidden_states", &t, true, -1, -1)
            .map_err(e)?;
        be.run_program("run_fwd", &params).map_err(e)?;
        let mut dst = HostTensorMut::contiguous(&mut out, DataFormat::Float32, out_shape);
        be.get_output_into(&output, &mut dst, true, -1, -1)
            .map_err(e)?;
        be.pop_output(&output, true, -1).map_err(e)?;
        Ok(t0.elapsed())
    };
    let mut samples = Vec::new();
    let started = Instant::now();
    let warmup = plan.warmup.min(1);
    let mut round = 0;
    while round < warmup || plan.more(samples.len(), started) {
        crate::progress::status(&format!(
            "ttrt bench: model: golden inference {}",
            round + 1
        ));
        let t = inference()?;
        if round >= warmup {
            samples.push(t);
        }
        round += 1;
    }
    // The output went through tanh: finite, and not all zero unless nothing ran.
    let values: Vec<f32> = out
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    if values.iter().any(|v| !v.is_finite()) || values.iter().all(|&v| v == 0.0) {
        return Err(format!("the output {output} is not finite or all zero"));
    }
    be.finish().map_err(e)?;
    let golden = median(&samples);
    let (seq, hidden, ff) = (dims.seq * 32, dims.hidden * 32, dims.ff * 32);
    let what = format!(
        "{layers} layers, sequence {seq}, hidden {hidden}, feed-forward {ff}; {:.0} MB of weights as float32",
        weight_bytes as f64 / 1e6
    );

    crate::progress::status("ttrt bench: model: numpy's forward pass");
    let runs = samples.len().max(Plan::MIN_RUNS).to_string();
    let numpy = Command::new("python3")
        .args(["-c", NUMPY_FORWARD, &runs])
        .args([layers as u32, seq, hidden, ff].map(|n| n.to_string()))
        .output();
    match numpy {
        Ok(o) if o.status.success() => {
            let text = String::from_utf8_lossy(&o.stdout);
            let secs: f64 = text
                .trim()
                .parse()
                .map_err(|_| format!("numpy's forward pass printed `{}`", text.trim()))?;
            let base = Duration::from_secs_f64(secs);
            outln!(
                "model/time per inference: {:.0} ms = {:.2}x numpy float32 ({:.0} ms; {what}); goal <= 2x",
                ms(golden),
                golden.as_secs_f64() / secs.max(1e-12),
                ms(base)
            );
        }
        Ok(o) if o.status.code() == Some(3) => {
            outln!(
                "model/time per inference: {:.0} ms ({what}); numpy comparison skipped: python3 has no numpy",
                ms(golden)
            );
        }
        Ok(o) => {
            return Err(format!(
                "numpy's forward pass failed: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            ))
        }
        Err(err) => {
            outln!(
                "model/time per inference: {:.0} ms ({what}); numpy comparison skipped: cannot run python3 ({err})",
                ms(golden)
            );
        }
    }
    Ok(())
}
