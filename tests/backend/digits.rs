//! The digits example (examples/digits): the committed netlist, run over the committed
//! held-out set with golden's numerics by a small interpreter of the ops it uses, classifies as
//! well as examples/digits/train.py said it would; and `ttrt pack` rebuilds the committed
//! examples/digits.tti byte for byte. No Python needed.

use crate::support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use ttrt::format::{Arch, DataFormat};
use ttrt::netlist::{Dim, IoType, Netlist, Op, ReluMode, Tm};

/// Correct held-out predictions of the network as golden computes it (bf16 at the Float16_b
/// queues, float32 ops), out of `HELD_OUT`: train.py's printed output,
/// "bf16 (golden) held-out accuracy: 352/360 = 0.9778".
const BF16_CORRECT: usize = 352;
/// The float32 network's correct predictions: train.py's printed output,
/// "float32 held-out accuracy: 352/360 = 0.9778".
const F32_CORRECT: usize = 352;
const HELD_OUT: usize = 360;
const CLASSES: usize = 10;
const TILE: usize = 32;
/// The program's `$p_loop_count` that runs every entry of `x` once.
const LOOP_COUNT: usize = 3;

fn dir() -> PathBuf {
    support::root().join("examples/digits")
}

fn netlist() -> Netlist {
    let path = dir().join("digits.yaml");
    let text = std::fs::read_to_string(&path).expect("read digits.yaml");
    ttrt::netlist::parse(&text, &path.display().to_string()).expect("digits.yaml parses")
}

fn f32s(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(bytes.len() % 4, 0, "{}", path.display());
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect()
}

/// float32 to bfloat16 by truncation and back: what a push into a Float16_b queue keeps.
fn bf16(x: f32) -> f32 {
    f32::from_bits(x.to_bits() & 0xFFFF_0000)
}

/// A row-major matrix (t = 1 everywhere in this netlist).
#[derive(Clone, Debug, PartialEq)]
struct Mat {
    rows: usize,
    cols: usize,
    v: Vec<f32>,
}

impl Mat {
    fn at(&self, r: usize, c: usize) -> f32 {
        self.v[r * self.cols + c]
    }
}

/// `rows x cols` of an op or queue's declared grid, mblock and ublock (t must be 1).
fn declared(t: u32, grid: (u32, u32), mblock: (u32, u32), ublock: (u32, u32)) -> (usize, usize) {
    assert_eq!(t, 1, "the digits netlist has no t dimension");
    let r = grid.0 * mblock.0 * ublock.0;
    let c = grid.1 * mblock.1 * ublock.1;
    (r as usize * TILE, c as usize * TILE)
}

/// Golden's whole-tile TMs this netlist uses: `broadcast` r/c.
fn apply_tms(mut m: Mat, tms: &[Tm]) -> Mat {
    for tm in tms {
        match *tm {
            Tm::Broadcast {
                dim: Dim::R,
                factor,
            } => {
                let mut v = Vec::with_capacity(m.v.len() * factor as usize);
                for _ in 0..factor {
                    v.extend_from_slice(&m.v);
                }
                m = Mat {
                    rows: m.rows * factor as usize,
                    cols: m.cols,
                    v,
                };
            }
            Tm::Broadcast {
                dim: Dim::C,
                factor,
            } => {
                let cols = m.cols * factor as usize;
                let v = (0..m.rows * cols)
                    .map(|i| m.at(i / cols, i % cols % m.cols))
                    .collect();
                m = Mat {
                    rows: m.rows,
                    cols,
                    v,
                };
            }
            other => panic!("TM {other:?} is not used by the digits netlist"),
        }
    }
    m
}

/// One op as golden computes it: matmul (each dot product summed in f64, rounded to f32) or
/// add, then relu; the result must have the op's declared shape.
fn run_op(op: &Op, inputs: Vec<Mat>) -> Mat {
    let inputs: Vec<Mat> = inputs
        .into_iter()
        .enumerate()
        .map(|(i, m)| apply_tms(m, op.input_tms.get(i).map_or(&[][..], |t| &t[..])))
        .collect();
    let mut out = match op.op_type.as_str() {
        "matmul" => {
            let (a, b) = (&inputs[0], &inputs[1]);
            assert_eq!(inputs.len(), 2, "{}: no bias input expected", op.name);
            assert_eq!(a.cols, b.rows, "{}: inner dimensions", op.name);
            let (m_k, u_kt) = (op.attributes.m_k.unwrap(), op.attributes.u_kt.unwrap());
            assert_eq!(
                (m_k * u_kt) as usize * TILE,
                b.rows,
                "{}: m_k * u_kt must be K in tiles",
                op.name
            );
            let mut v = Vec::with_capacity(a.rows * b.cols);
            for r in 0..a.rows {
                for c in 0..b.cols {
                    let dot: f64 = (0..a.cols)
                        .map(|k| f64::from(a.at(r, k)) * f64::from(b.at(k, c)))
                        .sum();
                    v.push(dot as f32);
                }
            }
            Mat {
                rows: a.rows,
                cols: b.cols,
                v,
            }
        }
        "add" => {
            let (a, b) = (&inputs[0], &inputs[1]);
            assert_eq!(
                (a.rows, a.cols),
                (b.rows, b.cols),
                "{}: add shapes",
                op.name
            );
            Mat {
                rows: a.rows,
                cols: a.cols,
                v: a.v.iter().zip(&b.v).map(|(x, y)| x + y).collect(),
            }
        }
        other => panic!("op type {other} is not used by the digits netlist"),
    };
    if op.attributes.relu_en {
        assert!(matches!(
            op.attributes.relu_mode,
            None | Some(ReluMode::Min)
        ));
        let thr = op.attributes.relu_threshold.unwrap_or(0.0);
        for x in &mut out.v {
            if *x < thr {
                *x = 0.0;
            }
        }
    }
    let shape = declared(
        op.t,
        (op.grid_size.r, op.grid_size.c),
        (op.mblock.m, op.mblock.n),
        (op.ublock.rt, op.ublock.ct),
    );
    assert_eq!(
        (out.rows, out.cols),
        shape,
        "{}: the inputs produce a different shape than the op declares",
        op.name
    );
    let ublock_tiles = op.ublock.rt * op.ublock.ct;
    assert!(ublock_tiles <= 8, "{}: ublock beyond dest", op.name);
    out
}

/// The netlist's parameters and constants from examples/digits/tensors, each as its queue holds
/// it after the push (`quantize`: Float16_b queues truncate to bf16).
fn host_queues(n: &Netlist, quantize: bool) -> HashMap<String, Mat> {
    let mut held = HashMap::new();
    for q in n.host_fed_queues().filter(|q| q.name != "x") {
        let shape = q.layout(Arch::Grayskull).host_shape(1);
        assert_eq!(shape[..2], [1, 1], "{}", q.name);
        let v = f32s(&dir().join("tensors").join(format!("{}.bin", q.name)));
        assert_eq!(v.len(), shape[2] * shape[3], "{}.bin size", q.name);
        let m = Mat {
            rows: shape[2],
            cols: shape[3],
            v,
        };
        held.insert(q.name.clone(), quantized(q.df, m, quantize));
    }
    held
}

fn quantized(df: DataFormat, mut m: Mat, quantize: bool) -> Mat {
    match df {
        DataFormat::Float16B if quantize => m.v.iter_mut().for_each(|x| *x = bf16(*x)),
        DataFormat::Float16B | DataFormat::Float32 => {}
        other => panic!("the digits netlist uses no {other} queue"),
    }
    m
}

/// Logits of every held-out sample (`[n_padded, 32]` rows): the graph run once per entry of `x`.
fn classify(n: &Netlist, quantize: bool) -> Mat {
    let params = host_queues(n, quantize);
    let x_queue = n.queue("x").unwrap();
    let entry = x_queue.layout(Arch::Grayskull).host_shape(1);
    let inputs = f32s(&dir().join("test_inputs.bin"));
    let per_entry = entry[2] * entry[3];
    assert_eq!(inputs.len() % per_entry, 0);
    let entries = inputs.len() / per_entry;

    let graph = &n.graphs()[0];
    let out_q = n.output_queues().next().unwrap();
    assert_eq!(out_q.name, "logits");
    let mut logits = Vec::new();
    for e in 0..entries {
        let x = Mat {
            rows: entry[2],
            cols: entry[3],
            v: inputs[e * per_entry..(e + 1) * per_entry].to_vec(),
        };
        let mut values = params.clone();
        values.insert("x".into(), quantized(x_queue.df, x, quantize));
        for op in &graph.ops {
            let ins = op
                .inputs
                .iter()
                .map(|i| {
                    values
                        .get(i)
                        .unwrap_or_else(|| panic!("{i} not yet computed"))
                        .clone()
                })
                .collect();
            let out = run_op(op, ins);
            values.insert(op.name.clone(), out);
        }
        let out = values.remove(&out_q.input).unwrap();
        let shape = out_q.layout(Arch::Grayskull).host_shape(1);
        assert_eq!(
            (out.rows, out.cols),
            (shape[2], shape[3]),
            "logits entry shape"
        );
        assert_eq!(
            out_q.df,
            DataFormat::Float32,
            "logits are read back exactly"
        );
        logits.extend(out.v);
    }
    Mat {
        rows: logits.len() / TILE,
        cols: TILE,
        v: logits,
    }
}

fn correct(logits: &Mat) -> usize {
    let labels = std::fs::read(dir().join("test_labels.bin")).unwrap();
    assert_eq!(labels.len(), HELD_OUT);
    assert!(logits.rows >= HELD_OUT);
    for r in 0..logits.rows {
        for c in CLASSES..logits.cols {
            assert_eq!(
                logits.at(r, c),
                0.0,
                "padded class {c} of row {r} must be 0"
            );
        }
    }
    labels
        .iter()
        .enumerate()
        .filter(|&(r, &label)| {
            let best = (0..CLASSES)
                .max_by(|&a, &b| logits.at(r, a).total_cmp(&logits.at(r, b)))
                .unwrap();
            best == usize::from(label)
        })
        .count()
}

#[test]
fn the_netlist_classifies_the_held_out_digits_as_train_py_predicted() {
    let n = netlist();
    // One program loop per input_count entries: LOOP_COUNT loops read every entry of `x` once.
    let graph = &n.graphs()[0];
    let x = n.queue("x").unwrap();
    assert_eq!(
        LOOP_COUNT * graph.input_count as usize,
        x.entries as usize,
        "$p_loop_count {LOOP_COUNT} runs every entry of x"
    );
    let inputs = f32s(&dir().join("test_inputs.bin"));
    assert_eq!(inputs.len(), x.entries as usize * TILE * 64);
    assert!(inputs[HELD_OUT * 64..].iter().all(|&v| v == 0.0));
    for name in ["w1", "b1", "w2", "b2"] {
        assert_eq!(
            n.queue(name).unwrap().io_type,
            IoType::Ram,
            "{name} is a parameter"
        );
    }

    let golden = correct(&classify(&n, true));
    assert_eq!(
        golden, BF16_CORRECT,
        "bf16 accuracy {golden}/{HELD_OUT}, train.py printed {BF16_CORRECT}/{HELD_OUT}"
    );
    let exact = correct(&classify(&n, false));
    assert_eq!(exact, F32_CORRECT, "float32 accuracy {exact}/{HELD_OUT}");
    // Within 2 percentage points of the float32 network.
    assert!(
        (golden as f64 - F32_CORRECT as f64).abs() / HELD_OUT as f64 <= 0.02,
        "bf16 {golden} vs float32 {F32_CORRECT} of {HELD_OUT}"
    );
    assert!(golden as f64 / HELD_OUT as f64 > 0.95);
}

#[test]
fn the_bias_broadcast_constants_repeat_row_0_of_the_bias() {
    let n = netlist();
    let params = host_queues(&n, true);
    for (bias, lc) in [
        ("b1", "b1_s_brcst_m2_0_0.lc1"),
        ("b2", "b2_s_brcst_m2_0_0.lc1"),
    ] {
        let (_, op) = n.op(lc).unwrap();
        let ins = op.inputs.iter().map(|i| params[i].clone()).collect();
        let out = run_op(op, ins);
        let b = &params[bias];
        for r in 0..out.rows {
            for c in 0..out.cols {
                assert_eq!(out.at(r, c), b.at(0, c), "{lc} [{r}, {c}]");
            }
        }
        assert!((1..b.rows).all(|r| (0..b.cols).all(|c| b.at(r, c) == 0.0)));
    }
}

#[test]
fn ttrt_pack_rebuilds_the_committed_image() {
    let out_dir = support::scratch("digits_pack");
    let out = out_dir.join("digits.tti");
    support::run(
        Command::new(env!("CARGO_BIN_EXE_ttrt"))
            .current_dir(support::root())
            .args([
                "pack",
                "examples/digits/digits.yaml",
                "--tensors",
                "examples/digits/tensors",
                "--name",
                "digits",
                "-o",
            ])
            .arg(&out),
    );
    let built = std::fs::read(&out).unwrap();
    let committed = std::fs::read(support::root().join("examples/digits.tti")).unwrap();
    assert!(
        built == committed,
        "examples/digits.tti differs from what examples/digits/pack.sh builds ({} vs {} bytes): rerun it",
        committed.len(),
        built.len()
    );

    let info = support::run(
        Command::new(env!("CARGO_BIN_EXE_ttrt"))
            .current_dir(support::root())
            .args(["info", "examples/digits.tti"]),
    );
    let text = String::from_utf8_lossy(&info.stdout);
    assert!(text.contains("Inputs: x"), "{text}");
    assert!(text.contains("Outputs: logits"), "{text}");
}

/// The image through the backend on the simulated device: the logits agree with this file's
/// own evaluation (float rounding apart: golden sums matmuls in its 8-lane order) and classify
/// exactly as train.py's bf16 emulation.
#[test]
fn the_backend_runs_the_image_to_the_same_logits_and_accuracy() {
    use ttrt::backend::{Backend, BackendConfig};
    use ttrt::format::{HostTensor, HostTensorMut};
    let image = ttrt::image::Image::open(dir().with_extension("tti")).unwrap();
    let expected = classify(&netlist(), true);
    for cqs in [1, 2] {
        let be = Backend::create(
            &image,
            &BackendConfig {
                arch: None,
                num_command_queues: cqs,
                ..BackendConfig::default()
            },
        )
        .unwrap();
        be.initialize().unwrap();
        let d = be.queue_desc("x").unwrap();
        let n = d.input_count as usize;
        let shape = d.layout.host_shape(n);
        let inputs = std::fs::read(dir().join("test_inputs.bin")).unwrap();
        let per_push = shape.iter().product::<usize>() * 4;
        let mut logits = Vec::new();
        for chunk in inputs.chunks(per_push) {
            let t = HostTensor::contiguous(chunk, DataFormat::Float32, shape);
            be.push_input("x", &t, false, 1000, -1).unwrap();
            be.run_program("run_fwd", &[("$p_loop_count", "1")])
                .unwrap();
            let out_shape = [n, 1, TILE, TILE];
            let mut buf = vec![0u8; n * TILE * TILE * 4];
            let mut dst = HostTensorMut::contiguous(&mut buf, DataFormat::Float32, out_shape);
            be.get_output_into("logits", &mut dst, false, 1000, -1)
                .unwrap();
            be.pop_output("logits", false, 1000).unwrap();
            logits.extend(
                buf.chunks_exact(4)
                    .map(|c| f32::from_le_bytes(c.try_into().unwrap())),
            );
        }
        be.finish().unwrap();
        assert_eq!(logits.len(), expected.v.len());
        for (i, (&got, &want)) in logits.iter().zip(&expected.v).enumerate() {
            assert!(
                (got - want).abs() <= 1e-4 * want.abs().max(1.0),
                "logit {i}: device {got}, reference {want}"
            );
        }
        let device = Mat {
            rows: expected.rows,
            cols: TILE,
            v: logits,
        };
        assert_eq!(correct(&device), BF16_CORRECT, "{cqs} CQs");
    }
}

/// README's first command reports the accuracy over the held-out split.
#[test]
fn ttrt_run_reports_the_held_out_accuracy() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ttrt"))
        .arg("run")
        .arg(dir().with_extension("tti"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want = format!(
        "accuracy {BF16_CORRECT}/{HELD_OUT} = {:.2}% over the labelled samples",
        100.0 * BF16_CORRECT as f64 / HELD_OUT as f64
    );
    assert!(stdout.contains(&want), "{stdout}");
    assert!(stdout.contains("inferences/s"), "{stdout}");
}
