//! The golden graph engine against values computed another way: hand-computed cases, f64
//! formulas and byte facts from the notes.

use std::collections::HashMap;

use ttrt::compute::{mul0, Mt19937};
use ttrt::format::{Arch, DataFormat};
use ttrt::netlist::exec::ops::{apply_sfpu, Sfpu};
use ttrt::netlist::exec::quantize::{quantize, quantize_value};
use ttrt::netlist::exec::tm::{apply_tm, Shape};
use ttrt::netlist::exec::{GraphPlan, QueueIo, Tensor};
use ttrt::netlist::{Dim, Netlist, Tm};

// ---------------------------------------------------------------------------------------------
// Netlists built from small pieces.

/// A queue of `t` slices of `rt x ct` tiles (one core, ublock 1x1).
fn q(name: &str, input: &str, t: u32, rt: u32, ct: u32, df: &str, n: u32) -> String {
    format!(
        "  {name}: {{input: {input}, type: queue, entries: 1, grid_size: [1, 1], t: {t}, mblock: [{rt}, {ct}], ublock: [1, 1], df: {df}, target_device: 0, loc: dram, dram: [[0, 0x{:x}]]}}\n",
        0x1000_0000u32 + n * 0x0100_0000
    )
}

#[allow(clippy::too_many_arguments)]
/// An op on core (0, n) of `t` slices of `rt x ct` tiles; `extra` is more YAML map entries.
fn op(
    name: &str,
    ty: &str,
    inputs: &[&str],
    t: u32,
    rt: u32,
    ct: u32,
    df: &str,
    n: u32,
    extra: &str,
) -> String {
    let in_df = vec![df; inputs.len()].join(", ");
    format!(
        "    {name}: {{type: {ty}, grid_loc: [0, {n}], grid_size: [1, 1], inputs: [{}], in_df: [{in_df}], out_df: {df}, intermed_df: {df}, acc_df: {df}, math_fidelity: HiFi4, buf_size_mb: 2, ublock_order: r, untilize_output: false, t: {t}, mblock: [{rt}, {ct}], ublock: [1, 1]{extra}}}\n",
        inputs.join(", ")
    )
}

fn netlist(queues: &[String], ops: &[String], fused: &str) -> Netlist {
    let settings: Vec<String> = queues
        .iter()
        .filter(|q| q.contains("input: HOST"))
        .map(|q| {
            let name = q.trim().split(':').next().unwrap();
            format!("{name}: {{prologue: false, epilogue: false, zero: false, rd_ptr_global: $c_zero, rd_ptr_local: $c_zero}}")
        })
        .collect();
    let text = format!(
        "devices:\n  arch: grayskull\nqueues:\n{}graphs:\n  g:\n    target_device: 0\n    input_count: 1\n{}programs:\n  - p:\n    - var: {{$c_zero: 0}}\n    - execute: {{graph_name: g, queue_settings: {{{}}}}}\n{fused}",
        queues.concat(),
        ops.concat(),
        settings.join(", ")
    );
    ttrt::netlist::parse(&text, "test.yaml").unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// Queue entries by name: reads come from here, writes go here.
struct MemIo {
    names: Vec<String>,
    data: HashMap<String, Tensor>,
    zero: bool,
}

impl MemIo {
    fn new(n: &Netlist) -> MemIo {
        MemIo {
            names: n.queues.iter().map(|q| q.name.clone()).collect(),
            data: HashMap::new(),
            zero: false,
        }
    }
    fn set(&mut self, name: &str, t: Tensor) {
        self.data.insert(name.to_string(), t);
    }
    fn get(&self, name: &str) -> &Tensor {
        &self.data[name]
    }
}

impl QueueIo for MemIo {
    type Error = String;

    fn read(&mut self, queue: usize, out: &mut Tensor) -> Result<(), String> {
        let src = self.data.get(&self.names[queue]).ok_or("no data")?;
        assert!(src.same_shape(out), "queue {} shape", self.names[queue]);
        out.data.copy_from_slice(&src.data);
        Ok(())
    }
    fn write(&mut self, queue: usize, entry: &Tensor) -> Result<(), String> {
        self.data.insert(self.names[queue].clone(), entry.clone());
        Ok(())
    }
    fn zero(&self, _queue: usize) -> bool {
        self.zero
    }
}

fn tensor(t: u32, rt: u32, ct: u32, f: impl Fn(usize, usize, usize) -> f32) -> Tensor {
    let mut x = Tensor::zeros(t, rt, ct, DataFormat::Float32);
    let (rows, cols) = (x.rows(), x.cols());
    for z in 0..t as usize {
        for r in 0..rows {
            for c in 0..cols {
                x.data[(z * rows + r) * cols + c] = f(z, r, c);
            }
        }
    }
    x
}

fn at(x: &Tensor, z: usize, r: usize, c: usize) -> f32 {
    x.data[(z * x.rows() + r) * x.cols() + c]
}

/// Runs a one-op graph `ty` on inputs `a` (and `b`) of one tile, output queue `out`.
fn run_one(ty: &str, inputs: &[Tensor], extra: &str) -> Result<Tensor, String> {
    let names = ["a", "b", "c"];
    let s = Shape::of(&inputs[0]);
    let mut queues: Vec<String> = (0..inputs.len())
        .map(|i| {
            q(
                names[i],
                "HOST",
                inputs[i].z,
                inputs[i].rt,
                inputs[i].ct,
                "Float32",
                i as u32,
            )
        })
        .collect();
    queues.push(q("out", "op0", s.z, s.rt, s.ct, "Float32", 9));
    let ops = [op(
        "op0",
        ty,
        &names[..inputs.len()],
        s.z,
        s.rt,
        s.ct,
        "Float32",
        0,
        extra,
    )];
    let n = netlist(&queues, &ops, "");
    let mut plan = GraphPlan::new(&n, 0, Arch::Grayskull).map_err(|e| e.message)?;
    let mut io = MemIo::new(&n);
    for (i, t) in inputs.iter().enumerate() {
        io.set(names[i], t.clone());
    }
    plan.run(&mut io).map_err(|e| e.message)?;
    Ok(io.get("out").clone())
}

// ---------------------------------------------------------------------------------------------
// Quantizers.

#[test]
fn float16_b_truncates() {
    let x = f32::from_bits(0x3f80_ffff); // 1.0078124...
    assert_eq!(
        quantize_value(x, DataFormat::Float16B).to_bits(),
        0x3f80_0000
    );
    assert_eq!(
        quantize_value(-x, DataFormat::Float16B).to_bits(),
        0xbf80_0000
    );
    // A NaN whose payload sits only in the low 16 bits becomes inf.
    assert_eq!(
        quantize_value(f32::from_bits(0x7f80_0001), DataFormat::Float16B),
        f32::INFINITY
    );
}

#[test]
fn int8_rounds_half_away_and_saturates_at_127() {
    for (x, y) in [
        (0.5, 1.0),
        (-0.5, -1.0),
        (1.49, 1.0),
        (2.5, 3.0),
        (-2.5, -3.0),
        (127.6, 127.0),
        (-1000.0, -127.0),
    ] {
        assert_eq!(quantize_value(x, DataFormat::Int8), y, "{x}");
    }
}

#[test]
fn bfp8_b_known_blocks() {
    // Block max exponent 2^1 (value 3.0): step 2^(1-6) = 1/32.
    let mut v = [0f32; 32];
    v[0] = 3.0;
    v[1] = 0.1; // 0.1 / (1/32) = 3.2 -> 3/32
    v[2] = -1.0 / 64.0; // half a step: rounds up in magnitude
    v[3] = 1.0 / 128.0; // a quarter step: 0 (sign dropped)
    v[16] = 1e-30; // its own block
    quantize(&mut v, DataFormat::Bfp8B);
    assert_eq!(v[0], 3.0);
    assert_eq!(v[1], 3.0 / 32.0);
    assert_eq!(v[2], -1.0 / 32.0);
    assert_eq!(v[3].to_bits(), 0);
    assert!(((v[16] - 1e-30) / 1e-30).abs() < 0.02);
    // Bfp2_b: only 0 or ±2^(E-127).
    let mut w = [0f32; 16];
    w[0] = 1.5;
    w[1] = -0.7;
    w[2] = 0.4;
    quantize(&mut w, DataFormat::Bfp2B);
    assert_eq!(&w[..3], &[1.0, -1.0, 0.0]);
}

// ---------------------------------------------------------------------------------------------
// TMs.

#[test]
fn transpose_is_a_full_2d_transpose() {
    let x = tensor(2, 1, 2, |z, r, c| (z * 10000 + r * 100 + c) as f32);
    let mut y = Tensor::zeros(0, 0, 0, DataFormat::Float32);
    apply_tm(&Tm::Transpose, &x, &mut y).unwrap();
    assert_eq!(Shape::of(&y), Shape::new(2, 2, 1));
    for (z, r, c) in [(0, 5, 40), (1, 31, 63), (1, 0, 0)] {
        assert_eq!(at(&y, z, c, r), at(&x, z, r, c));
    }
}

#[test]
fn broadcast_r_repeats_whole_tiles() {
    let x = tensor(1, 1, 1, |_, r, c| (r * 32 + c) as f32);
    let mut y = Tensor::zeros(0, 0, 0, DataFormat::Float32);
    apply_tm(
        &Tm::Broadcast {
            dim: Dim::R,
            factor: 3,
        },
        &x,
        &mut y,
    )
    .unwrap();
    assert_eq!(Shape::of(&y), Shape::new(1, 3, 1));
    assert_eq!(at(&y, 0, 64 + 5, 7), at(&x, 0, 5, 7));
    apply_tm(&Tm::TileBroadcast(Dim::C), &x, &mut y).unwrap();
    assert_eq!(at(&y, 0, 9, 20), at(&x, 0, 9, 0));
    apply_tm(
        &Tm::Pad {
            rt: 1,
            ct: 0,
            value: 7.5,
        },
        &x,
        &mut y,
    )
    .unwrap();
    assert_eq!((at(&y, 0, 33, 3), at(&y, 0, 3, 3)), (7.5, at(&x, 0, 3, 3)));
}

#[test]
fn graph_applies_tms_in_order() {
    // hslice 2 then transpose on a 1x2 tile input to a datacopy of t=2, 1x1.
    let a = tensor(1, 1, 2, |_, r, c| (r * 64 + c) as f32);
    let out = run_one(
        "datacopy",
        std::slice::from_ref(&a),
        ", input_0_tms: [hslice: 2, transpose]",
    );
    // Declared shape is [t 1, 1x2]: mismatch with the computed [t 2, 1x1].
    assert!(out.unwrap_err().contains("differs from the declared shape"));
    let s = [
        q("a", "HOST", 1, 1, 2, "Float32", 0),
        q("out", "op0", 2, 1, 1, "Float32", 1),
    ];
    let n = netlist(
        &s,
        &[op(
            "op0",
            "datacopy",
            &["a"],
            2,
            1,
            1,
            "Float32",
            0,
            ", input_0_tms: [hslice: 2, transpose]",
        )],
        "",
    );
    let mut plan = GraphPlan::new(&n, 0, Arch::Grayskull).unwrap();
    let mut io = MemIo::new(&n);
    io.set("a", a.clone());
    plan.run(&mut io).unwrap();
    let y = io.get("out");
    assert_eq!(at(y, 1, 3, 9), at(&a, 0, 9, 32 + 3));
    assert_eq!(at(y, 0, 31, 0), at(&a, 0, 0, 31));
}

// ---------------------------------------------------------------------------------------------
// Elementwise ops.

#[test]
fn sfpu_ops_follow_their_formulas() {
    let a = tensor(1, 1, 1, |_, r, c| {
        (r as f32 - 16.0) * 0.37 + c as f32 * 0.011
    });
    let check = |ty: &str, extra: &str, f: &dyn Fn(f64) -> f64, tol: f64| {
        let y = run_one(ty, std::slice::from_ref(&a), extra).unwrap();
        for (x, v) in a.data.iter().zip(&y.data) {
            let want = f(*x as f64);
            assert!(
                (*v as f64 - want).abs() <= tol * want.abs().max(1e-30),
                "{ty}({x}) = {v}, want {want}"
            );
        }
    };
    let k = (2.0 / std::f64::consts::PI).sqrt();
    check(
        "gelu",
        "",
        &|x| 0.5 * x * (1.0 + (k * (x + 0.044715 * x * x * x)).tanh()),
        1e-6,
    );
    check(
        "gelu_derivative",
        "",
        &|x| {
            0.5 * (1.0 + (k * (x + 0.044715 * x * x * x)).tanh())
                + x * (-0.5 * x * x).exp() * 0.5 * k
        },
        1e-6,
    );
    check("exp", "", &|x| x.exp(), 1e-6);
    check("sigmoid", "", &|x| 1.0 / (1.0 + (-x).exp()), 1e-6);
    check("tanh", "", &|x| x.tanh(), 1e-6);
    check("sine", "", &|x| x.sin(), 1e-6);
    check("cosine", "", &|x| x.cos(), 1e-5);
    check("square", "", &|x| x * x, 1e-6);
    check("abs", "", &|x| x.abs(), 0.0);
    check("power", ", attributes: {exp: 3}", &|x| x * x * x, 1e-6);
    check(
        "lrelu",
        ", attributes: {slope: 0.5}",
        &|x| if x > 0.0 { x } else { 0.5 * x },
        1e-7,
    );
}

#[test]
fn exp_log_reciprocal_edge_cases() {
    let mut a = Tensor::zeros(1, 1, 1, DataFormat::Float32);
    a.data[0] = f32::NAN;
    a.data[1] = 0.0;
    a.data[2] = -1.0;
    let e = run_one("exp", std::slice::from_ref(&a), "").unwrap();
    assert_eq!(e.data[0], f32::MAX);
    let l = run_one("log", std::slice::from_ref(&a), "").unwrap();
    assert_eq!(l.data[1], (f32::EPSILON as f64).ln() as f32);
    assert!(l.data[2].is_nan());
    let mut b = Tensor::zeros(1, 1, 1, DataFormat::Float32);
    b.data[0] = -0.0;
    b.data[1] = 4.0;
    let r = run_one("reciprocal", &[b], "").unwrap();
    assert_eq!(
        (r.data[0], r.data[1], r.data[2]),
        (8388608.0, 0.25, 8388608.0)
    );
}

#[test]
fn sqrt_of_a_negative_is_an_error_naming_the_op() {
    let mut a = Tensor::zeros(1, 1, 1, DataFormat::Float32);
    a.data[7] = -2.0;
    let e = run_one("sqrt", &[a], "").unwrap_err();
    assert!(e.contains("graph g: op op0 (line"), "{e}");
    assert!(e.contains("negative"), "{e}");
}

#[test]
fn vector_mode_r_computes_rows_0_to_3_only() {
    let a = tensor(1, 1, 1, |_, _, _| 2.0);
    let y = run_one("square", &[a], ", attributes: {vector: r}").unwrap();
    assert_eq!((at(&y, 0, 3, 31), at(&y, 0, 4, 0)), (4.0, 0.0));
    let b = tensor(1, 1, 1, |_, _, _| 3.0);
    let y = run_one("abs", &[b], ", attributes: {vector: c}").unwrap();
    assert_eq!((at(&y, 0, 31, 15), at(&y, 0, 0, 16)), (3.0, 0.0));
}

#[test]
fn dropout_uses_one_default_seeded_mt19937_per_tile() {
    let a = tensor(1, 1, 2, |_, _, _| 1.0);
    let mut y = Tensor::zeros(0, 0, 0, DataFormat::Float32);
    apply_sfpu(
        Sfpu::Dropout {
            p: 0.25,
            scale: 1.0 / 0.75,
        },
        Dim::Rc,
        &a,
        &mut y,
    )
    .unwrap();
    let mut rng = Mt19937::new(5489);
    for r in 0..32 {
        for c in 0..32 {
            let (g1, g2) = (rng.next_u32() as f64, rng.next_u32() as f64);
            let u = (g1 + g2 * 2f64.powi(32)) / 2f64.powi(64);
            let want = if u < 0.25 { 0.0 } else { 1.0 / 0.75f32 };
            assert_eq!(at(&y, 0, r, c), want);
            assert_eq!(at(&y, 0, r, 32 + c), want, "same mask in every tile");
        }
    }
}

#[test]
fn relu_modes() {
    let a = tensor(1, 1, 1, |_, r, c| r as f32 - 10.0 + c as f32 * 0.01);
    let y = run_one(
        "datacopy",
        std::slice::from_ref(&a),
        ", attributes: {relu_en: true, relu_threshold: 5.0, relu_mode: max}",
    )
    .unwrap();
    for (x, v) in a.data.iter().zip(&y.data) {
        assert_eq!(
            *v,
            if *x >= 5.0 {
                5.0
            } else if *x >= 0.0 {
                *x
            } else {
                0.0
            }
        );
    }
    let y = run_one(
        "nop",
        std::slice::from_ref(&a),
        ", attributes: {relu_en: true}",
    )
    .unwrap();
    for (x, v) in a.data.iter().zip(&y.data) {
        assert_eq!(*v, x.max(0.0));
    }
}

#[test]
fn multiply_plus_zero_rule_and_maximum() {
    assert_eq!(mul0(0.0, f32::INFINITY).to_bits(), 0);
    assert_eq!(mul0(f32::NAN, 0.0).to_bits(), 0);
    assert!(mul0(-0.0, f32::INFINITY).is_nan());
    let mut a = Tensor::zeros(1, 1, 1, DataFormat::Float32);
    let mut b = a.clone();
    b.data[0] = f32::INFINITY; // +0 * inf
    a.data[1] = -0.0;
    b.data[1] = f32::INFINITY; // -0 * inf
    a.data[2] = 3.0;
    b.data[2] = -2.0;
    let y = run_one("multiply", &[a.clone(), b.clone()], "").unwrap();
    assert_eq!(y.data[0].to_bits(), 0);
    assert!(y.data[1].is_nan());
    assert_eq!(y.data[2], -6.0);
    a.data[3] = f32::NAN;
    b.data[3] = 1.0;
    let m = run_one("maximum", &[a.clone(), b.clone()], "").unwrap();
    assert_eq!((m.data[2], m.data[3]), (3.0, 1.0));
    let s = run_one("subtract", &[a.clone(), b.clone()], "").unwrap();
    assert_eq!(s.data[2], 5.0);
}

#[test]
fn quantization_outputs_int8() {
    let a = tensor(1, 1, 1, |_, r, c| (r as f32 - 16.0) * 0.75 + c as f32 * 0.5);
    let b = tensor(1, 1, 1, |_, _, _| 2.0);
    let y = run_one(
        "quantization",
        &[a.clone(), b.clone()],
        ", attributes: {zero_point: 1.0}",
    );
    // out_df Float32: golden does not cast at all.
    let y = y.unwrap();
    assert_eq!(y.data[0], a.data[0] * 2.0 + 1.0);
    // With an Int8 output: clamp(round_half_away(a*b + zp)).
    let s = [
        q("a", "HOST", 1, 1, 1, "Float32", 0),
        q("b", "HOST", 1, 1, 1, "Float32", 1),
        q("out", "op0", 1, 1, 1, "Int8", 2),
    ];
    let o = op(
        "op0",
        "quantization",
        &["a", "b"],
        1,
        1,
        1,
        "Float32",
        0,
        ", attributes: {zero_point: 0.25}",
    )
    .replace("out_df: Float32", "out_df: Int8");
    let n = netlist(&s, &[o], "");
    let mut plan = GraphPlan::new(&n, 0, Arch::Grayskull).unwrap();
    let mut io = MemIo::new(&n);
    io.set("a", a.clone());
    let b = tensor(1, 1, 1, |_, _, _| 10.0);
    io.set("b", b);
    plan.run(&mut io).unwrap();
    for (x, v) in a.data.iter().zip(&io.get("out").data) {
        let y = (*x as f64) * 10.0 + 0.25;
        let r = (y.abs() + 0.5).floor().copysign(y).clamp(-127.0, 127.0);
        assert_eq!(*v as f64, r, "{x}");
    }
}

// ---------------------------------------------------------------------------------------------
// matmul, reduce, splice, fused ops.

#[test]
fn matmul_with_bias_and_accumulate() {
    // Small integers: every sum is exact in fp32 whatever the order.
    let a = tensor(2, 1, 2, |z, r, c| ((r * 3 + c * 7 + z) % 5) as f32 - 2.0);
    let w = tensor(2, 2, 1, |z, r, c| {
        ((r * 5 + c * 3 + 2 * z) % 7) as f32 - 3.0
    });
    let bias = tensor(1, 1, 1, |_, r, c| if r == 0 { c as f32 } else { 1000.0 });
    let s = [
        q("a", "HOST", 2, 1, 2, "Float32", 0),
        q("w", "HOST", 2, 2, 1, "Float32", 1),
        q("bias", "HOST", 1, 1, 1, "Float32", 2),
        q("out", "op0", 1, 1, 1, "Float32", 3),
    ];
    let n = netlist(
        &s,
        &[op(
            "op0",
            "matmul",
            &["a", "w", "bias"],
            1,
            1,
            1,
            "Float32",
            0,
            ", attributes: {m_k: 1, u_kt: 2, bias: true, accumulate: true, z: 2}",
        )],
        "",
    );
    let mut plan = GraphPlan::new(&n, 0, Arch::Grayskull).unwrap();
    let mut io = MemIo::new(&n);
    io.set("a", a.clone());
    io.set("w", w.clone());
    io.set("bias", bias);
    plan.run(&mut io).unwrap();
    let y = io.get("out");
    for (i, j) in [(0, 0), (5, 17), (31, 31), (13, 2)] {
        let mut want = j as f64;
        for z in 0..2 {
            for k in 0..64 {
                want += at(&a, z, i, k) as f64 * at(&w, z, k, j) as f64;
            }
        }
        assert_eq!(at(y, 0, i, j) as f64, want, "({i}, {j})");
    }
}

#[test]
fn relu_mode_none_is_upstreams_default_and_acts_as_min() {
    // ReluMode::None (upstream's default) is accepted; relu treats it as min.
    let a = tensor(1, 1, 1, |_, r, c| r as f32 - 10.0 + c as f32 * 0.01);
    let y = run_one(
        "datacopy",
        std::slice::from_ref(&a),
        ", attributes: {relu_mode: none, relu_en: true, relu_threshold: 3.0}",
    )
    .unwrap();
    for (x, v) in a.data.iter().zip(&y.data) {
        assert_eq!(*v, if *x >= 3.0 { *x } else { 0.0 }, "x {x}");
    }
    let y = run_one(
        "datacopy",
        std::slice::from_ref(&a),
        ", attributes: {relu_mode: none}",
    )
    .unwrap();
    assert_eq!(y.data, a.data);
    // Upstream's parser asserts min or max when relu_en came first.
    let text = format!(
        "devices:\n  arch: grayskull\nqueues:\n{}{}graphs:\n  g:\n    target_device: 0\n    input_count: 1\n{}programs:\n  - p:\n    - var: {{$c_zero: 0}}\n    - execute: {{graph_name: g, queue_settings: {{a: {{prologue: false, epilogue: false, zero: false, rd_ptr_global: $c_zero, rd_ptr_local: $c_zero}}}}}}\n",
        q("a", "HOST", 1, 1, 1, "Float32", 0),
        q("out", "op0", 1, 1, 1, "Float32", 9),
        op("op0", "datacopy", &["a"], 1, 1, 1, "Float32", 0, ", attributes: {relu_en: true, relu_mode: none}")
    );
    let e = ttrt::netlist::parse(&text, "test.yaml")
        .unwrap_err()
        .to_string();
    assert!(e.contains("relu_mode none with relu_en true"), "{e}");
    let swapped = text.replace(
        "relu_en: true, relu_mode: none",
        "relu_mode: none, relu_en: true",
    );
    ttrt::netlist::parse(&swapped, "test.yaml").unwrap();
}

#[test]
fn matmul_sfpu_op_invalid_is_no_sfpu_op() {
    let a = tensor(1, 1, 1, |_, r, c| {
        ((r * 5 + c * 3) % 11) as f32 * 0.25 - 1.0
    });
    let b = tensor(1, 1, 1, |_, r, c| ((r * 7 + c) % 13) as f32 * 0.125 - 0.5);
    let plain = run_one(
        "matmul",
        &[a.clone(), b.clone()],
        ", attributes: {m_k: 1, u_kt: 1}",
    )
    .unwrap();
    for text in ["invalid", "whatever"] {
        let y = run_one(
            "matmul",
            &[a.clone(), b.clone()],
            &format!(", attributes: {{m_k: 1, u_kt: 1, sfpu_op: {text}}}"),
        )
        .unwrap();
        assert_eq!(y.data, plain.data, "sfpu_op {text}");
    }
    // The product itself, in f64: a wrong fallback (gelu, or zeros) would differ.
    for (i, j) in [(0, 0), (3, 17), (31, 31)] {
        let want: f64 = (0..32)
            .map(|k| f64::from(at(&a, 0, i, k)) * f64::from(at(&b, 0, k, j)))
            .sum();
        assert!(
            (f64::from(at(&plain, 0, i, j)) - want).abs() < 1e-4,
            "({i}, {j})"
        );
    }
    // Any SFPU op but gelu is refused, as upstream asserts.
    let e = run_one(
        "matmul",
        &[a, b],
        ", attributes: {m_k: 1, u_kt: 1, sfpu_op: exp}",
    )
    .unwrap_err();
    assert!(e.contains("sfpu_op exp is not supported"), "{e}");
}

#[test]
fn matmul_uses_the_8_lane_fma_tree() {
    // Row 0 of A: 1 at k = 0, 1e8 at k = 4... the lane sums meet in golden's order.
    let mut a = Tensor::zeros(1, 1, 1, DataFormat::Float32);
    let mut b = Tensor::zeros(1, 1, 1, DataFormat::Float32);
    let vals = [1.0f32, 3e-8, 1e8, -1e8, 2.5, 7.0, -3.25, 1e-3];
    for k in 0..32 {
        a.data[k] = vals[k % 8] * (1.0 + k as f32 * 0.125);
        b.data[k * 32] = 1.0 + (k % 3) as f32;
    }
    let y = run_one(
        "matmul",
        &[a.clone(), b.clone()],
        ", attributes: {m_k: 1, u_kt: 1}",
    )
    .unwrap();
    let mut lanes = [0f32; 8];
    for k in 0..32 {
        lanes[k % 8] = a.data[k].mul_add(b.data[k * 32], lanes[k % 8]);
    }
    let s: [f32; 4] = std::array::from_fn(|l| lanes[l] + lanes[l + 4]);
    let want = 0.0 + ((s[0] + s[2]) + (s[1] + s[3]));
    assert_eq!(y.data[0].to_bits(), want.to_bits());
}

#[test]
fn reduce_max_ignores_nan_and_places_results() {
    let mut a = tensor(1, 2, 2, |_, r, c| ((r * 7 + c * 13) % 97) as f32 - 50.0);
    a.data[0] = f32::NAN;
    let row_max = |r: usize| {
        (0..64)
            .map(|c| at(&a, 0, r, c))
            .filter(|v| !v.is_nan())
            .fold(f32::NEG_INFINITY, f32::max)
    };
    let s = [
        q("a", "HOST", 1, 2, 2, "Float32", 0),
        q("out", "op0", 1, 2, 1, "Float32", 1),
    ];
    let n = netlist(
        &s,
        &[op(
            "op0",
            "reduce",
            &["a"],
            1,
            2,
            1,
            "Float32",
            0,
            ", attributes: {type: max, dim: c, m_k: 1, u_kt: 2}",
        )],
        "",
    );
    let mut plan = GraphPlan::new(&n, 0, Arch::Grayskull).unwrap();
    let mut io = MemIo::new(&n);
    io.set("a", a.clone());
    plan.run(&mut io).unwrap();
    let y = io.get("out");
    for r in [0, 1, 40, 63] {
        assert_eq!(at(y, 0, r, 0), row_max(r));
        assert_eq!(at(y, 0, r, 1), 0.0);
    }
}

#[test]
fn an_op_type_ttrt_does_not_know_is_refused_when_the_graph_compiles() {
    let a = tensor(1, 1, 1, |_, r, c| (r * 32 + c) as f32 - 500.0);
    // relu is an attribute in Buda and neg a TT-Metal op: neither is a netlist op type.
    for ty in ["frobnicate", "relu", "neg"] {
        let e = run_one(ty, std::slice::from_ref(&a), "").unwrap_err();
        assert!(
            e.starts_with("netlist test.yaml: graph g: op op0 (line ")
                && e.ends_with(&format!("): op type {ty} is not supported")),
            "{e}"
        );
    }
    // The three copies compute the same.
    for ty in ["datacopy", "nop", "ethernet_datacopy"] {
        let y = run_one(ty, std::slice::from_ref(&a), "").unwrap_or_else(|e| panic!("{ty}: {e}"));
        assert_eq!(y.data, a.data, "{ty}");
    }
}

#[test]
fn reduce_avg_is_refused() {
    let a = tensor(1, 1, 1, |_, _, _| 1.0);
    let e = run_one("reduce", &[a], ", attributes: {type: avg, dim: z, z: 1}").unwrap_err();
    assert!(e.contains("not supported"), "{e}");
}

#[test]
fn splice_t_interleaves_inputs() {
    let a = tensor(4, 1, 1, |z, _, _| z as f32);
    let b = tensor(2, 1, 1, |z, _, _| 100.0 + z as f32);
    let s = [
        q("a", "HOST", 4, 1, 1, "Float32", 0),
        q("b", "HOST", 2, 1, 1, "Float32", 1),
        q("out", "op0", 4, 1, 1, "Float32", 2),
    ];
    // a: groups of 2 (index 0, stride 2), take 1; b: groups of 1, take 1. Two rounds.
    let o = op(
        "op0",
        "splice",
        &["a", "b"],
        4,
        1,
        1,
        "Float32",
        0,
        ", attributes: {granularity: t, input0: [0, 1, 2], input1: [0, 1, 1]}",
    );
    let n = netlist(&s, &[o], "");
    let mut plan = GraphPlan::new(&n, 0, Arch::Grayskull).unwrap();
    let mut io = MemIo::new(&n);
    io.set("a", a);
    io.set("b", b);
    plan.run(&mut io).unwrap();
    let y = io.get("out");
    let firsts: Vec<f32> = (0..4).map(|z| at(y, z, 0, 0)).collect();
    assert_eq!(firsts, [0.0, 100.0, 2.0, 101.0]);
}

#[test]
fn fused_op_schedule() {
    let fused = "fused_ops:\n  0:\n    inputs: 2\n    intermediates: 1\n    schedules:\n      -\n        - add: {type: add, inputs: [input0, input1], mblock: [1, 1], ublock: [1, 1], output: intermed0}\n        - ex: {type: exp, inputs: [intermed0], mblock: [1, 1], ublock: [1, 1], output: dest}\n        - mul: {type: multiply, inputs: [dest, intermed0], pop: [intermed0], mblock: [1, 1], ublock: [1, 1], output: output, input_1_tms: [tile_broadcast: r], attributes: {relu_en: true}}\n";
    let a = tensor(1, 1, 1, |_, r, c| (r as f32 - 16.0) * 0.1 + c as f32 * 0.01);
    let b = tensor(1, 1, 1, |_, r, _| r as f32 * -0.05);
    let s = [
        q("a", "HOST", 1, 1, 1, "Float32", 0),
        q("b", "HOST", 1, 1, 1, "Float32", 1),
        q("out", "op0", 1, 1, 1, "Float32", 2),
    ];
    let n = netlist(
        &s,
        &[op(
            "op0",
            "fused_op",
            &["a", "b"],
            1,
            1,
            1,
            "Float32",
            0,
            ", attributes: {fused_op_id: 0}",
        )],
        fused,
    );
    let mut plan = GraphPlan::new(&n, 0, Arch::Grayskull).unwrap();
    let mut io = MemIo::new(&n);
    io.set("a", a.clone());
    io.set("b", b.clone());
    plan.run(&mut io).unwrap();
    let y = io.get("out");
    for r in 0..32 {
        for c in 0..32 {
            let s = at(&a, 0, r, c) + at(&b, 0, r, c);
            let s0 = at(&a, 0, 0, c) + at(&b, 0, 0, c); // tile_broadcast r of intermed0
            let e = ((s as f64).exp()) as f32;
            let want = (e * s0).max(0.0);
            assert!(
                (at(y, 0, r, c) - want).abs() <= 1e-6 * want.abs().max(1.0),
                "({r}, {c})"
            );
        }
    }
}

#[test]
fn gradient_op_accumulates_unless_zero() {
    let a = tensor(1, 1, 1, |_, r, c| (r + c) as f32);
    let s = [
        q("a", "HOST", 1, 1, 1, "Float32", 0),
        q("out", "op0", 1, 1, 1, "Float32", 1),
    ];
    let o = op(
        "op0",
        "datacopy",
        &["a"],
        1,
        1,
        1,
        "Float32",
        0,
        ", gradient_op: true",
    );
    let n = netlist(&s, &[o], "");
    let mut plan = GraphPlan::new(&n, 0, Arch::Grayskull).unwrap();
    let mut io = MemIo::new(&n);
    io.set("a", a.clone());
    plan.run(&mut io).unwrap();
    plan.run(&mut io).unwrap();
    assert_eq!(at(io.get("out"), 0, 3, 4), 14.0);
    io.zero = true;
    plan.run(&mut io).unwrap();
    assert_eq!(at(io.get("out"), 0, 3, 4), 7.0);
}

#[test]
fn wormhole_truncates_float32_inputs_to_tf32() {
    let a = tensor(1, 1, 1, |_, _, _| 1.0 + 2f32.powi(-20));
    let s = [
        q("a", "HOST", 1, 1, 1, "Float32", 0),
        q("out", "op0", 1, 1, 1, "Float32", 1),
    ];
    let n = netlist(
        &s,
        &[op("op0", "nop", &["a"], 1, 1, 1, "Float32", 0, "")],
        "",
    );
    for (arch, want) in [
        (Arch::WormholeB0, 1.0),
        (Arch::Grayskull, 1.0 + 2f32.powi(-20)),
    ] {
        let mut plan = GraphPlan::new(&n, 0, arch).unwrap();
        let mut io = MemIo::new(&n);
        io.set("a", a.clone());
        plan.run(&mut io).unwrap();
        assert_eq!(io.get("out").data[0], want);
    }
}

// ---------------------------------------------------------------------------------------------
// What GraphPlan::new refuses.

#[test]
fn refuses_unsupported_ops_and_bad_shapes() {
    // A tilizer over a queue the host feeds gives the host's values back in tiles (here a
    // tilized queue: golden re-tilizes the host buffer of its entry all the same).
    let a = tensor(1, 1, 1, |_, r, c| (r * 32 + c) as f32);
    assert_eq!(run_one("tilizer", std::slice::from_ref(&a), "").unwrap(), a);
    let e = run_one(
        "tilizer",
        std::slice::from_ref(&a),
        ", input_0_tms: [vslice: 1]",
    )
    .unwrap_err();
    assert!(e.contains("TMs on the input of a tilizer"), "{e}");
    assert!(
        e.starts_with("netlist test.yaml: graph g: op op0 (line"),
        "{e}"
    );
    let a = tensor(1, 1, 1, |_, _, _| 1.0);
    let b = tensor(1, 2, 1, |_, _, _| 1.0);
    let e = run_one("add", &[a.clone(), b], "").unwrap_err();
    assert!(e.contains("must be equal"), "{e}");
    // A queue whose shape differs from the producer's output.
    let s = [
        q("a", "HOST", 1, 1, 1, "Float32", 0),
        q("out", "op0", 1, 2, 1, "Float32", 1),
    ];
    let n = netlist(
        &s,
        &[op("op0", "nop", &["a"], 1, 1, 1, "Float32", 0, "")],
        "",
    );
    let e = GraphPlan::new(&n, 0, Arch::Grayskull)
        .err()
        .unwrap()
        .message;
    assert!(e.contains("output queue out"), "{e}");
    // matmul inner dimensions after TMs.
    let e = run_one(
        "matmul",
        &[a.clone(), a.clone()],
        ", input_1_tms: [broadcast: {r: 2}], attributes: {m_k: 1, u_kt: 2}",
    )
    .unwrap_err();
    assert!(e.contains("inner dimensions"), "{e}");
}

#[test]
fn splice_ublock_places_ublocks_in_order() {
    let a = tensor(1, 1, 2, |_, _, c| (c / 32) as f32);
    let b = tensor(1, 1, 1, |_, _, _| 10.0);
    let s = [
        q("a", "HOST", 1, 1, 2, "Float32", 0),
        q("b", "HOST", 1, 1, 1, "Float32", 1),
        q("out", "op0", 1, 1, 3, "Float32", 2),
    ];
    // Per round: a's ublock 1 (index 1, length 1), then b's only ublock.
    let o = op(
        "op0",
        "splice",
        &["a", "b"],
        1,
        1,
        3,
        "Float32",
        0,
        ", attributes: {input0: [1, 1, 1], input1: [0, 1, 1]}",
    );
    let n = netlist(&s, &[o], "");
    let e = GraphPlan::new(&n, 0, Arch::Grayskull)
        .err()
        .map(|e| e.message);
    // 1 round of 2 units cannot fill 3 output ublocks.
    assert!(e.unwrap().contains("splice produces 2 units"));
    let s = [
        q("a", "HOST", 1, 1, 2, "Float32", 0),
        q("b", "HOST", 1, 1, 1, "Float32", 1),
        q("out", "op0", 1, 1, 2, "Float32", 2),
    ];
    let o = op(
        "op0",
        "splice",
        &["a", "b"],
        1,
        1,
        2,
        "Float32",
        0,
        ", attributes: {input0: [1, 1, 1], input1: [0, 1, 1]}",
    );
    let n = netlist(&s, &[o], "");
    let mut plan = GraphPlan::new(&n, 0, Arch::Grayskull).unwrap();
    let mut io = MemIo::new(&n);
    io.set("a", a);
    io.set("b", b);
    plan.run(&mut io).unwrap();
    let y = io.get("out");
    assert_eq!((at(y, 0, 5, 3), at(y, 0, 5, 40)), (1.0, 10.0));
}

/// An embedding of `num_indices` indices in `index_df` from a Float32 table of one tile
/// (32 rows of 32, value r * 100 + c), the table loaded.
fn embedding(index_df: &str, num_indices: u32) -> (GraphPlan, MemIo) {
    let s = [
        q("t", "HOST", 1, 1, 1, "Float32", 0),
        q("i", "HOST", 1, 1, 1, index_df, 1),
        q("out", "op0", 1, 1, 1, "Float32", 2),
    ];
    let o = op(
        "op0",
        "embedding",
        &["t", "i"],
        1,
        1,
        1,
        "Float32",
        0,
        &format!(", attributes: {{num_indices: {num_indices}}}"),
    )
    .replace(
        "in_df: [Float32, Float32]",
        &format!("in_df: [Float32, {index_df}]"),
    );
    let n = netlist(&s, &[o], "");
    let plan = GraphPlan::new(&n, 0, Arch::Grayskull).unwrap();
    let mut io = MemIo::new(&n);
    io.set("t", tensor(1, 1, 1, |_, r, c| (r * 100 + c) as f32));
    (plan, io)
}

#[test]
fn embedding_reads_float16_indices_as_the_bits_of_their_values() {
    // Golden casts each index value's f32 bit pattern to uint32 (ops/embedding_op.cpp): from a
    // Float16 queue, +0.0 is row 0 and 1.0 is row 0x3f800000, past any table.
    let (mut plan, mut io) = embedding("Float16", 2);
    io.set("i", Tensor::zeros(1, 1, 1, DataFormat::Float16));
    plan.run(&mut io).unwrap();
    let y = io.get("out");
    assert_eq!(
        [at(y, 0, 0, 7), at(y, 0, 1, 7), at(y, 0, 2, 7)],
        [7.0, 7.0, 0.0]
    );
    let mut idx = Tensor::zeros(1, 1, 1, DataFormat::Float16);
    idx.data[1] = 1.0;
    io.set("i", idx);
    let e = plan.run(&mut io).unwrap_err().message;
    assert!(
        e.contains("embedding index 1065353216 is outside the table's 32 rows"),
        "{e}"
    );
}

#[test]
fn embedding_copies_table_rows_by_index_bits() {
    let mut idx = Tensor::zeros(1, 1, 1, DataFormat::RawUInt32);
    for (w, k) in [7u32, 0, u32::MAX, 31].iter().enumerate() {
        idx.data[w] = f32::from_bits(*k);
    }
    let (mut plan, mut io) = embedding("RawUInt32", 4);
    io.set("i", idx);
    plan.run(&mut io).unwrap();
    let y = io.get("out");
    assert_eq!(
        [
            at(y, 0, 0, 5),
            at(y, 0, 1, 5),
            at(y, 0, 2, 5),
            at(y, 0, 3, 5),
            at(y, 0, 4, 5)
        ],
        [705.0, 5.0, 0.0, 3105.0, 0.0]
    );
}

// ---------------------------------------------------------------------------------------------
// topk.

/// The rows of the hand-worked topk cases (one tile, k = 2, indices = column + 0.75):
/// row 0 ties two negative maxima, row 1 two positive ones, the other rows hold the distinct
/// values (7c mod 32).
fn topk_values(r: usize, c: usize) -> f32 {
    match (r, c) {
        (0, 0 | 1) => -1.0,
        (0, _) => -2.0 - c as f32,
        (1, 0 | 1) => 1.0,
        (1, _) => -(c as f32),
        _ => ((c * 7) % 32) as f32,
    }
}

fn run_topk(attributes: &str) -> Result<Tensor, String> {
    let values = tensor(1, 1, 1, |_, r, c| topk_values(r, c));
    let indices = tensor(1, 1, 1, |_, _, c| c as f32 + 0.75);
    run_one(
        "topk",
        &[values, indices],
        &format!(", attributes: {{{attributes}}}"),
    )
}

/// Golden's network (k = 2 over 32 values): the pair at columns 0 and 1 meets once in the
/// local sort and once after each of the 4 merges, 5 comparisons in all, each ordering the
/// larger first. Equal negatives trade places at every one of them (so the indices come out
/// 1, 0); equal non-negatives never do (0, 1). A sort by value with any fixed tie rule gives
/// the same order for both rows. Indices are truncated to integers on the way through.
#[test]
fn topk_orders_ties_as_the_hardware_network_does() {
    let idx = run_topk("k: 2, sort: argmax").unwrap();
    let val = run_topk("k: 2, sort: max").unwrap();
    let first = |t: &Tensor, r| [at(t, 0, r, 0), at(t, 0, r, 1), at(t, 0, r, 2)];
    assert_eq!(first(&idx, 0), [1.0, 0.0, 0.0]);
    assert_eq!(first(&idx, 1), [0.0, 1.0, 0.0]);
    // 7c mod 32 is 31 at c = 9 and 30 at c = 18.
    for r in 2..32 {
        assert_eq!(first(&idx, r), [9.0, 18.0, 0.0], "row {r}");
        assert_eq!(first(&val, r), [31.0, 30.0, 0.0], "row {r}");
    }
    assert_eq!(first(&val, 0), [-1.0, -1.0, 0.0]);
    assert!(idx
        .data
        .iter()
        .enumerate()
        .all(|(i, &v)| i % 32 < 2 || v == 0.0));
}

#[test]
fn topk_refuses_k_beyond_a_row() {
    for k in ["0", "64"] {
        let e = run_topk(&format!("k: {k}, sort: max")).unwrap_err();
        assert!(
            e.contains(&format!("topk k {k} must be 1 to the 32 values of a row")),
            "{e}"
        );
    }
}
