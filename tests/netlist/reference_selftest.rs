//! The test-side reference checked on its own: quantizers, TMs, ops, stimulus and comparison
//! rules on tiny cases whose expected values are worked out by hand here.

use crate::support;

use support::compare::{close, compare, default_config, pcc, pcc_passes};
use support::reference::*;
use support::stimulus::{generate, regex_full_match};
use support::XorShift;
use ttrt::format::DataFormat as F;
use ttrt::netlist::{ComparisonType, Dim, ReluMode, StimulusConfig, StimulusType, Tm};

/// A one-tile tensor whose element (r, c) is `f(r, c)`.
fn tile(f: impl Fn(usize, usize) -> f64) -> Tensor {
    Tensor::build(1, 32, 32, F::Float32, |_, r, c| f(r, c))
}

#[test]
fn float_quantizers_truncate() {
    assert_eq!(q_bf16(1.0 + 2f64.powi(-10)), 1.0);
    assert_eq!(q_bf16(-1.0 - 2f64.powi(-7)), -1.0 - 2f64.powi(-7));
    assert_eq!(q_tf32(1.0 + 2f64.powi(-11)), 1.0);
    assert_eq!(q_fp16a(1.0 + 2f64.powi(-11)), 1.0);
    assert_eq!(q_fp16a(2f64.powi(-15)), 0.0);
    assert_eq!(q_fp16a(2f64.powi(-14)), 2f64.powi(-14));
    assert_eq!(q_fp16a(1e9), 131008.0);
    assert_eq!(q_fp16a(-1e9), -131008.0);
    assert_eq!(q_fp16a(70000.0), 70000.0 - 70000.0 % 64.0);
}

#[test]
fn integer_quantizers_round_and_clamp() {
    assert_eq!(q_int(2.5, F::Int8), 3.0);
    assert_eq!(q_int(-2.5, F::Int8), -3.0);
    assert_eq!(q_int(200.0, F::Int8), 127.0);
    assert_eq!(q_int(-200.0, F::Int8), -127.0);
    assert_eq!(q_int(-3.0, F::UInt8), 0.0);
    assert_eq!(q_int(2.7, F::Int32), 2.0);
    assert_eq!(q_int(-2.5, F::Int32), -3.0);
    // get_output rounds half to even and saturates to the full range.
    assert_eq!(to_host(2.5, F::Int8), 2.0);
    assert_eq!(to_host(3.5, F::Int8), 4.0);
    assert_eq!(to_host(-300.0, F::Int8), -128.0);
    assert_eq!(to_host(1.0 + 2f64.powi(-9), F::Bfp8B), 1.0);
    assert_eq!(host_format(F::Bfp8), F::Float16);
}

#[test]
fn block_floats_share_one_exponent_per_16_values() {
    // Bfp8_b: 7-bit magnitudes scaled by the block maximum's exponent. With max 1.0 the step
    // is 2^-6; 0.01 = 0.64 steps rounds to 1 step.
    let mut b = vec![0.0; 16];
    b[0] = 1.0;
    b[1] = 0.01;
    b[2] = -0.5;
    b[3] = 1.0 / 256.0; // 0.25 steps: rounds to 0 and loses its sign
    b[4] = 1.99;
    q_bfp_block(&mut b, F::Bfp8B);
    assert_eq!(&b[..5], &[1.0, 2f64.powi(-6), -0.5, 0.0, 127.0 / 64.0]);
    // Bfp2_b: only 0 or ±2^(E-127).
    let mut b = vec![0.75, -0.3, 0.2, 0.5];
    q_bfp_block(&mut b, F::Bfp2B);
    assert_eq!(b, vec![0.5, -0.5, 0.0, 0.5]);
    // Blocks are 16 columns of one row: a large value in columns 16..32 does not affect 0..16.
    let mut t = tile(|r, c| if r == 0 && c == 16 { 64.0 } else { 0.01 });
    quantize(&mut t, F::Bfp4B).unwrap();
    assert_eq!(t.at(0, 0, 0), t.at(0, 1, 0));
    assert_eq!(t.at(0, 0, 17), 0.0);
    assert_eq!(t.tag, F::Bfp4B);
}

#[test]
fn broadcast_repeats_whole_tiles() {
    let x = Tensor::build(1, 32, 32, F::Float32, |_, r, c| (r * 32 + c) as f64);
    let y = apply_tm(
        &x,
        &Tm::Broadcast {
            dim: Dim::R,
            factor: 2,
        },
    )
    .unwrap();
    assert_eq!(y.dims(), (1, 2, 1));
    assert_eq!(y.at(0, 33, 5), x.at(0, 1, 5));
    let y = apply_tm(
        &x,
        &Tm::Broadcast {
            dim: Dim::Z,
            factor: 3,
        },
    )
    .unwrap();
    assert_eq!(y.dims(), (3, 1, 1));
    assert_eq!(y.at(2, 7, 7), x.at(0, 7, 7));
}

#[test]
fn slices_and_stacks() {
    // Two tiles side by side, values 1 and 2.
    let x = Tensor::build(1, 32, 64, F::Float32, |_, _, c| (c / 32 + 1) as f64);
    let s = apply_tm(&x, &Tm::Hslice(2)).unwrap();
    assert_eq!(s.dims(), (2, 1, 1));
    assert_eq!((s.at(0, 0, 0), s.at(1, 0, 0)), (1.0, 2.0));
    assert_eq!(apply_tm(&s, &Tm::Hstack(2)).unwrap(), x);
    let v = apply_tm(&s, &Tm::Vstack(2)).unwrap();
    assert_eq!(v.dims(), (1, 2, 1));
    assert_eq!((v.at(0, 0, 0), v.at(0, 32, 0)), (1.0, 2.0));
    let back = apply_tm(&v, &Tm::Vslice(2)).unwrap();
    assert_eq!(back, s);
    assert!(apply_tm(&x, &Tm::Hslice(3)).is_err());
}

#[test]
fn transpose_pad_unpad_tile_broadcast() {
    let x = Tensor::build(1, 32, 64, F::Float32, |_, r, c| (r * 100 + c) as f64);
    let t = apply_tm(&x, &Tm::Transpose).unwrap();
    assert_eq!((t.rows, t.cols), (64, 32));
    assert_eq!(t.at(0, 40, 3), 340.0);
    let p = apply_tm(
        &x,
        &Tm::Pad {
            rt: 1,
            ct: 0,
            value: 7.0,
        },
    )
    .unwrap();
    assert_eq!(p.dims(), (1, 2, 2));
    assert_eq!((p.at(0, 31, 63), p.at(0, 32, 0)), (3163.0, 7.0));
    assert_eq!(unpad(&p, 1, 0).unwrap(), x);
    let r = apply_tm(&x, &Tm::TileBroadcast(Dim::R)).unwrap();
    assert_eq!(r.at(0, 17, 40), 40.0);
    let c = apply_tm(&x, &Tm::TileBroadcast(Dim::C)).unwrap();
    assert_eq!(c.at(0, 17, 40), 1732.0);
}

#[test]
fn sfpu_edge_cases_and_vector_modes() {
    let p = SfpuParams {
        exponent: 3,
        slope: 0.5,
    };
    let f = |op: &str, x: f64| sfpu(op, x, p).unwrap().unwrap();
    assert_eq!(f("exp", f64::NAN), f32::MAX as f64);
    assert_eq!(f("exp", 1000.0), f32::MAX as f64);
    assert_eq!(f("log", 0.0), (f32::EPSILON as f64).ln());
    assert_eq!(f("reciprocal", -0.0), 8388608.0);
    assert_eq!(f("power", -2.0), -8.0);
    assert_eq!(f("lrelu", -2.0), -1.0);
    assert_eq!(f("gelu", 0.0), 0.0);
    assert!((f("gelu", 1.0) - 0.841192).abs() < 1e-6);
    assert!((f("gelu_derivative", 0.0) - 0.5).abs() < 1e-12);
    assert!((f("sigmoid", 0.0) - 0.5).abs() < 1e-12);
    assert!(sfpu("sqrt", -1.0, p).is_err());
    assert!(sfpu("add", 1.0, p).unwrap().is_none());
    let x = tile(|_, _| 0.0);
    let r = sfpu_tensor("exp", &x, Some(Dim::R), p).unwrap();
    assert_eq!((r.at(0, 3, 31), r.at(0, 4, 0)), (1.0, 0.0));
    let c = sfpu_tensor("exp", &x, Some(Dim::C), p).unwrap();
    assert_eq!((c.at(0, 31, 15), c.at(0, 0, 16)), (1.0, 0.0));
}

#[test]
fn relu_and_binary_rules() {
    assert_eq!(relu(-1.0, None, 0.0), 0.0);
    assert_eq!(relu(0.3, Some(ReluMode::Min), 0.5), 0.0);
    assert_eq!(relu(0.7, Some(ReluMode::Min), 0.5), 0.7);
    assert_eq!(relu(0.7, Some(ReluMode::Max), 0.5), 0.5);
    assert_eq!(relu(-0.7, Some(ReluMode::Max), 0.5), 0.0);
    assert_eq!(relu(f64::NAN, Some(ReluMode::Max), 0.5), 0.0);
    assert_eq!(mul0(0.0, f64::INFINITY), 0.0);
    assert!(mul0(-0.0, f64::INFINITY).is_nan());
    assert_eq!(binary("maximum", f64::NAN, 2.0, 0.0), Some(2.0));
    assert_eq!(binary("quantization", 3.0, 2.0, 1.0), Some(7.0));
    assert_eq!(binary("dequantization", 3.0, 2.0, 1.0), Some(4.0));
    assert_eq!(binary("subtract", 3.0, 2.0, 0.0), Some(1.0));
}

#[test]
fn matmul_accumulate_and_reduce() {
    // [1 1 ... 1] * [1, 2, ...]^T over K = 32: each output element sums k+1 for k < 32.
    let a = tile(|_, _| 1.0);
    let b = tile(|r, _| (r + 1) as f64);
    let y = matmul(&a, &b).unwrap();
    assert_eq!(y.at(0, 5, 9), 528.0);
    let z = Tensor::build(4, 32, 32, F::Float32, |zi, _, _| zi as f64);
    let acc = accumulate_z(&z, 2).unwrap();
    assert_eq!((acc.z, acc.at(0, 0, 0), acc.at(1, 0, 0)), (2, 1.0, 5.0));
    let x = Tensor::build(1, 64, 64, F::Float32, |_, r, c| {
        (r as f64) - (c as f64) * 0.5
    });
    let rc = reduce_max(&x, Dim::C, 1).unwrap();
    assert_eq!(
        (rc.dims(), rc.at(0, 40, 0), rc.at(0, 40, 1)),
        ((1, 2, 1), 40.0, 0.0)
    );
    let rr = reduce_max(&x, Dim::R, 1).unwrap();
    assert_eq!(
        (rr.dims(), rr.at(0, 0, 10), rr.at(0, 1, 10)),
        ((1, 1, 2), 58.0, 0.0)
    );
    let rrc = reduce_max(&x, Dim::Rc, 1).unwrap();
    assert_eq!((rrc.at(0, 0, 0), rrc.at(0, 0, 1)), (63.0, 0.0));
    let mut n = tile(|_, _| f64::NAN);
    n.set(0, 0, 3, -5.0);
    assert_eq!(reduce_max(&n, Dim::C, 1).unwrap().at(0, 0, 0), -5.0);
    assert_eq!(
        reduce_max(&n, Dim::C, 1).unwrap().at(0, 1, 0),
        f64::NEG_INFINITY
    );
    let zm = reduce_max(&z, Dim::Z, 4).unwrap();
    assert_eq!((zm.z, zm.at(0, 9, 9)), (1, 3.0));
}

fn stimulus(ty: StimulusType) -> StimulusConfig {
    StimulusConfig {
        line: 0,
        stimulus: Some(ty),
        uniform_lower_bound: None,
        uniform_upper_bound: None,
        normal_mean: None,
        normal_stddev: None,
        constant_value: None,
        debug_tile_id_base: None,
        debug_tile_id_step: None,
        step_start: None,
        step_increment: None,
        set_tile_rows: None,
        set_tile_cols: None,
        other: Vec::new(),
        overrides: Vec::new(),
    }
}

#[test]
fn stimulus_types() {
    let mut rng = XorShift(7);
    let mut c = stimulus(StimulusType::Constant);
    c.constant_value = Some(2.0);
    c.set_tile_rows = Some([0, 0]);
    let t = generate(Some(&c), "q", F::Float32, (1, 1, 2), false, &mut rng).unwrap();
    assert_eq!((t.at(0, 0, 40), t.at(0, 1, 40)), (2.0, 0.0));
    let mut d = stimulus(StimulusType::DebugTileId);
    d.debug_tile_id_base = Some(10.0);
    d.debug_tile_id_step = Some(2.0);
    let t = generate(Some(&d), "q", F::Float32, (2, 2, 2), false, &mut rng).unwrap();
    assert_eq!(
        (t.at(0, 0, 0), t.at(0, 0, 33), t.at(1, 33, 33)),
        (10.0, 12.0, 24.0)
    );
    let mut s = stimulus(StimulusType::Step);
    s.step_start = Some(1.0);
    s.step_increment = Some(0.5);
    let t = generate(Some(&s), "q", F::Float32, (1, 1, 2), false, &mut rng).unwrap();
    assert_eq!(
        (t.at(0, 0, 0), t.at(0, 0, 1), t.at(0, 1, 0), t.at(0, 0, 32)),
        (1.0, 1.5, 17.0, 513.0)
    );
    s.stimulus = Some(StimulusType::StepRowwise);
    let t = generate(Some(&s), "q", F::Float32, (1, 1, 2), false, &mut rng).unwrap();
    assert_eq!((t.at(0, 9, 3), t.at(0, 9, 33)), (2.5, 33.5));
    s.stimulus = Some(StimulusType::StepColumnwise);
    let t = generate(Some(&s), "q", F::Float32, (1, 2, 1), false, &mut rng).unwrap();
    assert_eq!((t.at(0, 3, 9), t.at(0, 35, 9)), (2.5, 34.5));
    let mut u = stimulus(StimulusType::Uniform);
    u.uniform_lower_bound = Some(-3.0);
    u.uniform_upper_bound = Some(3.0);
    let t = generate(Some(&u), "q", F::Int8, (1, 1, 1), false, &mut rng).unwrap();
    assert!(t
        .data
        .iter()
        .all(|&v| v.fract() == 0.0 && (-3.0..=3.0).contains(&v)));
    assert!(t.data.contains(&-3.0) && t.data.contains(&3.0));
    let t = generate(Some(&u), "q", F::Float16B, (1, 1, 1), false, &mut rng).unwrap();
    assert!(t
        .data
        .iter()
        .all(|&v| (-3.0..3.0).contains(&v) && v.fract() != 0.0));
    let t = generate(None, "q", F::Float32, (1, 1, 1), true, &mut rng).unwrap();
    assert!(t.data.iter().all(|&v| (0.0..1.0).contains(&v)));
    // Overrides: exact name first, then a whole-name regex.
    let mut top = stimulus(StimulusType::Constant);
    top.constant_value = Some(1.0);
    let mut w = stimulus(StimulusType::Constant);
    w.constant_value = Some(5.0);
    top.overrides.push((".*\\.weight".into(), w));
    let t = generate(
        Some(&top),
        "l0.weight",
        F::Float32,
        (1, 1, 1),
        false,
        &mut rng,
    )
    .unwrap();
    assert_eq!(t.at(0, 0, 0), 5.0);
    let t = generate(
        Some(&top),
        "l0.weights",
        F::Float32,
        (1, 1, 1),
        false,
        &mut rng,
    )
    .unwrap();
    assert_eq!(t.at(0, 0, 0), 1.0);
}

#[test]
fn regex_subset() {
    assert!(regex_full_match(
        ".*\\.bias_s_brcst.*",
        "ff.x.bias_s_brcst_m2_0"
    ));
    assert!(!regex_full_match(".*\\.bias", "ff.x.bias_s_brcst"));
    assert!(!regex_full_match(".*\\.bias", "ffxbias"));
    assert!(regex_full_match("in[0-9]+_?x", "in12x"));
    assert!(regex_full_match("in[^a-z]?", "in"));
    assert!(!regex_full_match("a(b)", "ab"));
}

#[test]
fn element_closeness_rules() {
    assert!(close(f64::NAN, f64::NAN, 0.0, 0.0));
    assert!(!close(f64::NAN, 1.0, 1.0, 1.0));
    assert!(close(f64::INFINITY, f64::INFINITY, 0.0, 0.0));
    assert!(close(f64::INFINITY, 2f64.powi(126), 0.0, 0.0));
    assert!(!close(f64::INFINITY, 2f64.powi(125), 0.0, 0.0));
    assert!(!close(f64::INFINITY, -2f64.powi(127), 0.0, 0.0));
    // |a-b| <= atol + rtol*max(|a|,|b|), symmetric.
    assert!(close(1.0, 1.5, 0.0, 1.0 / 3.0));
    assert!(close(1.5, 1.0, 0.0, 1.0 / 3.0));
    assert!(!close(1.0, 1.5, 0.0, 0.33));
    assert!(close(0.0, 0.25, 0.25, 0.0));
    assert!(!close(0.0, 0.25, 0.2499, 0.0));
}

#[test]
fn pcc_on_known_vectors() {
    let a: Vec<f64> = (0..8).map(f64::from).collect();
    let b: Vec<f64> = a.iter().map(|x| 3.0 * x + 1.0).collect();
    assert!((pcc(&a, &b).pcc - 1.0).abs() < 1e-12);
    let neg: Vec<f64> = a.iter().map(|x| -x).collect();
    assert!((pcc(&a, &neg).pcc + 1.0).abs() < 1e-12);
    // [1,2,3] vs [1,3,2]: cov 1/3, var 2/3 each, pcc 0.5.
    assert!((pcc(&[1.0, 2.0, 3.0], &[1.0, 3.0, 2.0]).pcc - 0.5).abs() < 1e-12);
    let cfg = default_config();
    assert!(pcc_passes(&cfg, &a, &b).is_ok());
    assert!(pcc_passes(&cfg, &a, &neg).is_err());
    // Constant tiles pass on close means, fail on distant ones.
    assert!(pcc_passes(&cfg, &[2.0; 4], &[2.0; 4]).is_ok());
    assert!(pcc_passes(&cfg, &[2.0; 4], &[3.0; 4]).is_err());
    let mut zero = default_config();
    zero.check_pcc = 0.0;
    assert!(pcc_passes(&zero, &a, &neg).is_ok());
}

#[test]
fn tensor_comparison() {
    let want = tile(|r, c| (r * 32 + c) as f64 / 1024.0);
    let mut got = want.clone();
    assert!(compare(&default_config(), &want, &got).is_ok());
    got.set(0, 3, 4, 0.5);
    let err = compare(&default_config(), &want, &got).unwrap_err();
    assert!(err.contains("tile (z 0, r 0, c 0)"), "{err}");
    let mut loose = default_config();
    loose.check_pct = 0.99;
    loose.check_pcc = 0.9;
    assert!(compare(&loose, &want, &got).is_ok());
    let mut exact = default_config();
    exact.comparison = ComparisonType::Exact;
    assert!(compare(&exact, &want, &got).unwrap_err().contains("[3][4]"));
    // A range that skips the bad row passes.
    exact.check_tile_rows_range = [4, 31];
    assert!(compare(&exact, &want, &got).is_ok());
    let other = Tensor::build(2, 32, 32, F::Float32, |_, _, _| 0.0);
    assert!(compare(&default_config(), &want, &other)
        .unwrap_err()
        .contains("shape"));
}

#[test]
fn small_tiles_sit_in_tile_corners_and_clear_outside() {
    // One 1x32 host row per tile: host row 1 is tile row 1, element row 32.
    let host = Tensor::build(1, 2, 32, F::Float32, |_, r, c| (r * 100 + c + 1) as f64);
    let t = spread_small_tiles(&host, 1, 32);
    assert_eq!((t.rows, t.cols), (64, 32));
    assert_eq!(
        (t.at(0, 0, 5), t.at(0, 32, 5), t.at(0, 1, 5)),
        (6.0, 106.0, 0.0)
    );
    let mut x = tile(|r, _| if r == 0 { 1.0 } else { -2.0 });
    x.set(0, 4, 4, f64::NAN);
    x.set(0, 5, 5, f64::INFINITY);
    clear_outside_tile(&mut x, 1, 32);
    assert_eq!(x.at(0, 0, 3), 1.0);
    assert!(x.at(0, 4, 4).is_nan());
    assert_eq!((x.at(0, 5, 5), x.at(0, 6, 6)), (0.0, 0.0));
}

#[test]
fn embedding_indices_are_the_bits_of_the_values() {
    use support::reference_ops::embedding;
    let text = r#"
devices:
  arch: wormhole_b0
queues:
  t: {type: queue, input: HOST, entries: 1, grid_size: [1, 1], t: 1, mblock: [1, 1], ublock: [1, 1], df: Float32, layout: flat, target_device: 0, loc: dram, dram: [[0, 0x10000000]]}
  i: {type: queue, input: HOST, entries: 1, grid_size: [1, 1], t: 1, mblock: [1, 1], ublock: [1, 1], df: RawUInt32, target_device: 0, loc: dram, dram: [[0, 0x11000000]]}
  o: {type: queue, input: e, entries: 1, grid_size: [1, 1], t: 1, mblock: [1, 1], ublock: [1, 1], df: Float32, target_device: 0, loc: dram, dram: [[0, 0x12000000]]}
graphs:
  g:
    target_device: 0
    input_count: 1
    e: {type: embedding, grid_loc: [0, 0], grid_size: [1, 1], inputs: [t, i], in_df: [Float32, RawUInt32], acc_df: Float32, out_df: Float32, intermed_df: Float32, ublock_order: r, buf_size_mb: 2, math_fidelity: HiFi4, untilize_output: false, t: 1, mblock: [1, 1], ublock: [1, 1], attributes: {num_indices: 2}}
programs:
  - p:
      - execute: {graph_name: g, queue_settings: {t: {prologue: false, epilogue: false, zero: false, rd_ptr_global: 0, rd_ptr_local: 0}, i: {prologue: false, epilogue: false, zero: false, rd_ptr_global: 0, rd_ptr_local: 0}}}
"#;
    let net = ttrt::netlist::parse(text, "e.yaml").unwrap();
    let op = &net.graphs[0].ops[0];
    let table = tile(|r, c| (r * 100 + c) as f64);
    // A raw queue holds the index itself; any other format the bits of its value.
    let raw = Tensor::build(1, 32, 32, F::RawUInt32, |_, r, c| (r * 32 + c + 3) as f64);
    let y = embedding(op, &table, &raw).unwrap();
    assert_eq!((y.at(0, 0, 1), y.at(0, 1, 1)), (301.0, 401.0));
    let zeros = Tensor::build(1, 32, 32, F::Float16, |_, _, _| 0.0);
    let y = embedding(op, &table, &zeros).unwrap();
    assert_eq!(
        (y.at(0, 0, 1), y.at(0, 1, 1), y.at(0, 2, 1)),
        (1.0, 1.0, 0.0)
    );
    let ones = Tensor::build(1, 32, 32, F::Float16, |_, _, _| 1.0);
    let e = embedding(op, &table, &ones).unwrap_err();
    assert!(
        e.to_string()
            .contains("index 1065353216 (from 1) past the table's 32 rows"),
        "{e}"
    );
}

#[test]
fn the_machine_models_dual_view_rams_and_temporal_graphs() {
    use support::reference_run::Machine;
    // writer: 4 entries of t 1; reader: 2 entries of t 2 over the same memory.
    let text = r#"
devices:
  arch: wormhole_b0
queues:
  q0: {type: queue, input: HOST, entries: 2, grid_size: [1, 1], t: 1, mblock: [1, 1], ublock: [1, 1], df: Float32, target_device: 0, loc: dram, dram: [[0, 0x10000000]]}
  writer: {type: ram, input: c0, entries: 4, grid_size: [1, 1], t: 1, mblock: [1, 1], ublock: [1, 1], df: Float32, target_device: 0, loc: dram, dram: [[0, 0x11000000]]}
  reader: {type: ram, input: HOST, alias: writer, entries: 2, grid_size: [1, 1], t: 2, mblock: [1, 1], ublock: [1, 1], df: Float32, target_device: 0, loc: dram, dram: [[0, 0x11000000]]}
  out: {type: queue, input: c2, entries: 2, grid_size: [1, 1], t: 1, mblock: [1, 1], ublock: [1, 1], df: Float32, target_device: 0, loc: dram, dram: [[0, 0x12000000]]}
graphs:
  a:
    target_device: 0
    input_count: 2
    c0: {type: datacopy, grid_loc: [0, 0], grid_size: [1, 1], inputs: [q0], in_df: [Float32], acc_df: Float32, out_df: Float32, intermed_df: Float32, ublock_order: r, buf_size_mb: 2, math_fidelity: HiFi4, untilize_output: false, t: 1, mblock: [1, 1], ublock: [1, 1]}
    c1: {type: datacopy, grid_loc: [0, 1], grid_size: [1, 1], inputs: [q0], in_df: [Float32], acc_df: Float32, out_df: Float32, intermed_df: Float32, ublock_order: r, buf_size_mb: 2, math_fidelity: HiFi4, untilize_output: false, t: 1, mblock: [1, 1], ublock: [1, 1]}
  b:
    target_device: 1
    input_count: 2
    c2: {type: multiply, grid_loc: [0, 0], grid_size: [1, 1], inputs: [c1, c1], in_df: [Float32, Float32], acc_df: Float32, out_df: Float32, intermed_df: Float32, ublock_order: r, buf_size_mb: 2, math_fidelity: HiFi4, untilize_output: false, t: 1, mblock: [1, 1], ublock: [1, 1]}
programs:
  - p:
      - execute: {graph_name: a, queue_settings: {q0: {prologue: false, epilogue: false, zero: false, rd_ptr_global: 0, rd_ptr_local: 0}, writer: {prologue: false, epilogue: false, zero: false, rd_ptr_global: 0, wr_ptr_global: 1, global_wrptr_autoinc: 1}}}
      - execute: {graph_name: b, queue_settings: {}}
"#;
    let net = ttrt::netlist::parse(text, "m.yaml").unwrap();
    let mut m = Machine::new(&net);
    let entry =
        |v: f64, z: usize| Tensor::build(z, 32, 32, F::Float32, move |zi, _, _| v + zi as f64);
    // Reader entry 1 is writer entries 2 and 3.
    m.host_push("reader", entry(10.0, 2), Some(0)).unwrap();
    m.host_push("reader", entry(20.0, 2), Some(1)).unwrap();
    let w: Vec<f64> = m
        .ram_entries("writer")
        .iter()
        .map(|(_, t)| t.at(0, 0, 0))
        .collect();
    assert_eq!(w, [10.0, 11.0, 20.0, 21.0]);
    m.host_push("q0", entry(3.0, 1), None).unwrap();
    m.host_push("q0", entry(4.0, 1), None).unwrap();
    m.run_program("p", &[]).unwrap();
    // Graph `a` wrote q0's entries into writer 1 and 2; reader entry 0 is writer 0 and 1.
    let r: Vec<Vec<f64>> = m
        .ram_entries("reader")
        .iter()
        .map(|(_, t)| (0..t.z).map(|z| t.at(z, 0, 0)).collect())
        .collect();
    assert_eq!(r, [vec![10.0, 3.0], vec![4.0, 21.0]]);
    // Graph `b` multiplied op c1 of graph `a` by itself, run by run: 9, then 16.
    assert_eq!(m.host_peek("out").unwrap().at(0, 0, 0), 9.0);
    m.host_pop("out");
    assert_eq!(m.host_peek("out").unwrap().at(0, 0, 0), 16.0);
}

/// The reference's topk on the hand-worked rows of golden_engine.rs
/// (topk_orders_ties_as_the_hardware_network_does): k = 2 over one tile, indices column + 0.75.
#[test]
fn topk_ties_and_index_truncation() {
    let text = "devices: {arch: grayskull}\nqueues:\n  a: {input: HOST, type: queue, entries: 1, grid_size: [1, 1], t: 1, mblock: [1, 1], ublock: [1, 1], df: Float32, target_device: 0, loc: dram, dram: [[0, 0x10000000]]}\n  b: {input: HOST, type: queue, entries: 1, grid_size: [1, 1], t: 1, mblock: [1, 1], ublock: [1, 1], df: Float32, target_device: 0, loc: dram, dram: [[0, 0x11000000]]}\n  out: {input: op0, type: queue, entries: 1, grid_size: [1, 1], t: 1, mblock: [1, 1], ublock: [1, 1], df: Float32, target_device: 0, loc: dram, dram: [[0, 0x12000000]]}\ngraphs:\n  g:\n    target_device: 0\n    input_count: 1\n    op0: {type: topk, grid_loc: [0, 0], grid_size: [1, 1], inputs: [a, b], in_df: [Float32, Float32], out_df: Float32, intermed_df: Float32, acc_df: Float32, math_fidelity: HiFi4, buf_size_mb: 2, ublock_order: r, t: 1, mblock: [1, 1], ublock: [1, 1], attributes: {k: 2, sort: SORT}}\nprograms:\n  - p:\n    - var: {$z: 0}\n    - execute: {graph_name: g, queue_settings: {a: {prologue: false, epilogue: false, zero: false, rd_ptr_global: $z, rd_ptr_local: $z}, b: {prologue: false, epilogue: false, zero: false, rd_ptr_global: $z, rd_ptr_local: $z}}}\n";
    let values = tile(|r, c| match (r, c) {
        (0, 0 | 1) => -1.0,
        (0, _) => -2.0 - c as f64,
        (1, 0 | 1) => 1.0,
        (1, _) => -(c as f64),
        _ => ((c * 7) % 32) as f64,
    });
    let indices = tile(|_, c| c as f64 + 0.75);
    let run = |sort: &str| {
        let net = ttrt::netlist::parse(&text.replace("SORT", sort), "topk.yaml").unwrap();
        let op = &net.graphs[0].ops[0];
        support::reference_ops::topk(op, &values, &indices).unwrap()
    };
    let (idx, val) = (run("argmax"), run("max"));
    let first = |t: &Tensor, r| [t.at(0, r, 0), t.at(0, r, 1), t.at(0, r, 2)];
    assert_eq!(first(&idx, 0), [1.0, 0.0, 0.0]);
    assert_eq!(first(&idx, 1), [0.0, 1.0, 0.0]);
    for r in 2..32 {
        assert_eq!(first(&idx, r), [9.0, 18.0, 0.0], "row {r}");
        assert_eq!(first(&val, r), [31.0, 30.0, 0.0], "row {r}");
    }
    assert_eq!(first(&val, 0), [-1.0, -1.0, 0.0]);
}
