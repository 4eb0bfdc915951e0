//! The golden engine's blocked, SIMD and threaded kernels against plain scalar references
//! written here in golden's order (golden-ops.md §6-§8): every output value bit for bit.
//!
//! matmul: for output element (i, j), the tile starts at +0 and adds, K tile by K tile, the
//! tile product computed with 8 lanes `L_l = fma(a[i][k], b[k][j], L_l)` (k = l, l+8, ...)
//! reduced as `((L0 + L4) + (L2 + L6)) + ((L1 + L5) + (L3 + L7))`; then z accumulation in
//! order, then the bias's row 0. Elementwise ops: golden's function of each value alone.

use std::collections::HashMap;

use ttrt::compute::{self, BinaryOp, UnaryOp};
use ttrt::format::DataFormat;
use ttrt::netlist::exec::ops::{apply_binary, apply_sfpu, Binary, Sfpu};
use ttrt::netlist::exec::{workers, GraphPlan, QueueIo, Tensor};
use ttrt::netlist::Dim;

/// xorshift values in [-4, 4); with `specials`, +0, -0 and subnormals are common and
/// infinities and NaN rare (one in about 20000 values: most sums stay finite).
fn values(n: usize, seed: &mut u64, specials: bool) -> Vec<f32> {
    (0..n)
        .map(|_| {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            let r = *seed;
            let plain = ((r >> 40) as f32 / (1u64 << 24) as f32) * 8.0 - 4.0;
            if !specials {
                return plain;
            }
            match (r % 97, r / 97 % 20011) {
                (0, _) => 0.0,
                (1, _) => -0.0,
                (2, _) => f32::from_bits(1 + (r >> 40) as u32 % 0x7f_ffff),
                (_, 0) => f32::INFINITY,
                (_, 1) => f32::NEG_INFINITY,
                (_, 2) => f32::NAN,
                _ => plain,
            }
        })
        .collect()
}

fn tensor(t: u32, rt: u32, ct: u32, seed: &mut u64, specials: bool) -> Tensor {
    let mut x = Tensor::zeros(t, rt, ct, DataFormat::Float32);
    let n = x.data.len();
    x.data = values(n, seed, specials);
    x
}

/// Equal bits, or both NaN (which NaN an operation returns depends on operand order inside
/// one instruction, which golden does not pin either).
fn same(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

fn assert_same(what: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    if let Some(i) = (0..got.len()).find(|&i| !same(got[i], want[i])) {
        panic!(
            "{what}: value {i} is {:e} ({:#010x}), golden's order gives {:e} ({:#010x})",
            got[i],
            got[i].to_bits(),
            want[i],
            want[i].to_bits()
        );
    }
}

/// Element (z, r, c) of `x`.
fn at(x: &Tensor, z: usize, r: usize, c: usize) -> f32 {
    x.data[(z * x.rows() + r) * x.cols() + c]
}

/// Golden's matmul, one output value at a time, then z accumulation and the row-0 bias.
fn reference_matmul(
    a: &Tensor,
    b: &Tensor,
    accumulate: Option<u32>,
    bias: Option<&Tensor>,
) -> Vec<f32> {
    let (zs, rows, cols, kt) = (a.z as usize, a.rows(), b.cols(), a.ct as usize);
    let mut y = vec![0f32; zs * rows * cols];
    for z in 0..zs {
        for i in 0..rows {
            for j in 0..cols {
                let mut acc = 0f32;
                for t in 0..kt {
                    let mut lanes = [0f32; 8];
                    for kk in 0..32 {
                        let k = t * 32 + kk;
                        lanes[kk % 8] = at(a, z, i, k).mul_add(at(b, z, k, j), lanes[kk % 8]);
                    }
                    let l = lanes;
                    acc += ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]));
                }
                y[(z * rows + i) * cols + j] = acc;
            }
        }
    }
    let n = rows * cols;
    if let Some(group) = accumulate {
        let group = group as usize;
        let mut s = vec![0f32; zs / group * n];
        for g in 0..zs / group {
            for e in 0..n {
                let mut acc = y[g * group * n + e];
                for k in 1..group {
                    acc += y[(g * group + k) * n + e];
                }
                s[g * n + e] = acc;
            }
        }
        y = s;
    }
    if let Some(bias) = bias {
        for (e, v) in y.iter_mut().enumerate() {
            let (z, r, c) = (e / n, e % n / cols, e % cols);
            *v += at(bias, z, r - r % 32, c);
        }
    }
    y
}

/// Queue entries by name.
struct MemIo {
    names: Vec<String>,
    data: HashMap<String, Tensor>,
}

impl QueueIo for MemIo {
    type Error = String;

    fn read(&mut self, queue: usize, out: &mut Tensor) -> Result<(), String> {
        let src = &self.data[&self.names[queue]];
        assert!(src.same_shape(out), "queue {} shape", self.names[queue]);
        out.data.copy_from_slice(&src.data);
        Ok(())
    }
    fn write(&mut self, queue: usize, entry: &Tensor) -> Result<(), String> {
        self.data.insert(self.names[queue].clone(), entry.clone());
        Ok(())
    }
}

/// One matmul op in a netlist: `t` slices of `m x k` by `k x n` tiles, K split as `m_k` blocks
/// of `u_kt`, with a bias and z accumulation when asked; the output as the engine computes it.
fn run_matmul(
    (t, m, k, n): (u32, u32, u32, u32),
    (m_k, u_kt): (u32, u32),
    bias: bool,
    accumulate: Option<u32>,
    inputs: &[&Tensor],
) -> Tensor {
    let out_t = t / accumulate.unwrap_or(1);
    let queue = |name: &str, input: &str, t: u32, rt: u32, ct: u32, i: u32| {
        format!(
            "  {name}: {{input: {input}, type: queue, entries: 1, grid_size: [1, 1], t: {t}, mblock: [{rt}, {ct}], ublock: [1, 1], df: Float32, target_device: 0, loc: dram, dram: [[0, 0x{:x}]]}}\n",
            0x1000_0000u32 + i * 0x0400_0000
        )
    };
    let mut queues = queue("a", "HOST", t, m, k, 0) + &queue("b", "HOST", t, k, n, 1);
    let mut names = vec!["a", "b"];
    if bias {
        queues += &queue("bias", "HOST", out_t, m, n, 2);
        names.push("bias");
    }
    queues += &queue("y", "mm", out_t, m, n, 3);
    let mut attrs = format!("m_k: {m_k}, u_kt: {u_kt}");
    if bias {
        attrs += ", bias: true";
    }
    if let Some(z) = accumulate {
        attrs += &format!(", accumulate: true, z: {z}");
    }
    let in_df = vec!["Float32"; names.len()].join(", ");
    let settings: Vec<String> = names
        .iter()
        .map(|q| format!("{q}: {{prologue: false, epilogue: false, zero: false, rd_ptr_global: $c_zero, rd_ptr_local: $c_zero}}"))
        .collect();
    let text = format!(
        "devices:\n  arch: grayskull\nqueues:\n{queues}graphs:\n  g:\n    target_device: 0\n    input_count: 1\n    mm: {{type: matmul, grid_loc: [0, 0], grid_size: [1, 1], inputs: [{}], in_df: [{in_df}], out_df: Float32, intermed_df: Float32, acc_df: Float32, math_fidelity: HiFi4, buf_size_mb: 2, ublock_order: r, untilize_output: false, t: {out_t}, mblock: [{m}, {n}], ublock: [1, 1], attributes: {{{attrs}}}}}\nprograms:\n  - p:\n    - var: {{$c_zero: 0}}\n    - execute: {{graph_name: g, queue_settings: {{{}}}}}\n",
        names.join(", "),
        settings.join(", ")
    );
    let netlist =
        ttrt::netlist::parse(&text, "kernels.yaml").unwrap_or_else(|e| panic!("{e}\n{text}"));
    let mut plan = GraphPlan::new(&netlist, 0, ttrt::format::Arch::Grayskull).expect("compile");
    let mut io = MemIo {
        names: netlist.queues.iter().map(|q| q.name.clone()).collect(),
        data: names
            .iter()
            .zip(inputs)
            .map(|(n, t)| (n.to_string(), (*t).clone()))
            .collect(),
    };
    plan.run(&mut io).expect("run");
    io.data.remove("y").expect("output")
}

#[test]
fn matmuls_equal_golden_order_bit_for_bit() {
    let mut seed = 0x2545_f491_4f6c_dd1d;
    // (t, m, k, n), (m_k, u_kt), bias, accumulate z: odd tile counts, K split several ways,
    // output widths that are and are not whole column groups of the threaded kernel.
    let cases = [
        ((1, 1, 1, 1), (1, 1), false, None),
        ((1, 3, 5, 7), (5, 1), false, None),
        ((1, 7, 15, 11), (3, 5), true, None),
        ((2, 5, 6, 3), (2, 3), true, None),
        ((4, 2, 9, 5), (3, 3), true, Some(2)),
        ((3, 3, 4, 9), (1, 4), false, Some(3)),
        ((1, 12, 32, 8), (8, 4), true, None),
        ((2, 9, 3, 2), (3, 1), false, None),
        // Wide enough for column groups of 2 and 4 tiles, the last group narrower.
        ((2, 3, 2, 17), (1, 2), false, None),
        ((1, 5, 3, 35), (3, 1), true, None),
    ];
    for (i, &((t, m, k, n), split, bias, accumulate)) in cases.iter().enumerate() {
        let specials = i % 2 == 1;
        let a = tensor(t, m, k, &mut seed, specials);
        let b = tensor(t, k, n, &mut seed, specials);
        let out_t = t / accumulate.unwrap_or(1);
        let c = tensor(out_t, m, n, &mut seed, false);
        let mut inputs = vec![&a, &b];
        if bias {
            inputs.push(&c);
        }
        let want = reference_matmul(&a, &b, accumulate, bias.then_some(&c));
        let got = run_matmul((t, m, k, n), split, bias, accumulate, &inputs);
        assert_eq!((got.z, got.rt, got.ct), (out_t, m, n));
        let what = format!("matmul t {t}, {m}x{k} by {k}x{n} tiles, m_k/u_kt {split:?}, bias {bias}, accumulate {accumulate:?}");
        assert_same(&what, &got.data, &want);
    }
}

#[test]
fn tile_kernel_equals_golden_order() {
    let mut seed = 0x9e37_79b9_7f4a_7c15;
    let mut acc: [f32; 1024] = values(1024, &mut seed, false).try_into().unwrap();
    let mut want = acc;
    for _ in 0..3 {
        let a: [f32; 1024] = values(1024, &mut seed, true).try_into().unwrap();
        let b: [f32; 1024] = values(1024, &mut seed, true).try_into().unwrap();
        for i in 0..32 {
            for j in 0..32 {
                let mut lanes = [0f32; 8];
                for k in 0..32 {
                    lanes[k % 8] = a[i * 32 + k].mul_add(b[k * 32 + j], lanes[k % 8]);
                }
                let l = lanes;
                want[i * 32 + j] +=
                    ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]));
            }
        }
        compute::matmul_tile_accumulate(&mut acc, &a, &b);
    }
    assert_same("tile kernel", &acc, &want);
}

/// Golden's unary function on each value alone.
fn unary_reference(op: UnaryOp, x: &[f32]) -> Vec<f32> {
    x.iter()
        .map(|&v| {
            let mut one = [v];
            compute::apply_unary(op, &mut one).expect("value");
            one[0]
        })
        .collect()
}

#[test]
fn elementwise_ops_over_many_chunks_equal_each_value_alone() {
    workers::start();
    let mut seed = 0x1234_5678_9abc_def1;
    // 9 x 11 tiles: about six of the kernels' chunks, the last one partial.
    let a = tensor(1, 9, 11, &mut seed, true);
    let b = tensor(1, 9, 11, &mut seed, true);
    let mut dst = Tensor::zeros(0, 0, 0, DataFormat::Float32);
    for op in [
        UnaryOp::Gelu,
        UnaryOp::Exp,
        UnaryOp::Tanh,
        UnaryOp::Sigmoid,
        UnaryOp::Square,
    ] {
        apply_sfpu(Sfpu::Compute(op), Dim::Rc, &a, &mut dst).unwrap();
        assert_same(&format!("{op:?}"), &dst.data, &unary_reference(op, &a.data));
    }
    for op in [
        BinaryOp::Add,
        BinaryOp::Subtract,
        BinaryOp::Multiply,
        BinaryOp::Maximum,
    ] {
        apply_binary(Binary::Plain(op), &a, &b, &mut dst).unwrap();
        let want: Vec<f32> = a
            .data
            .iter()
            .zip(&b.data)
            .map(|(&x, &y)| {
                let mut one = [x];
                compute::apply_binary(op, &mut one, &[y]).unwrap();
                one[0]
            })
            .collect();
        assert_same(&format!("{op:?}"), &dst.data, &want);
    }
}

#[test]
fn an_elementwise_error_names_the_first_value_rejected_as_on_one_thread() {
    workers::start();
    let mut seed = 7;
    let mut a = tensor(1, 9, 11, &mut seed, false);
    for v in a.data.iter_mut() {
        *v = v.abs() + 1.0;
    }
    // Negative values in the fifth chunk and the second: sqrt names the second chunk's.
    a.data[70_001] = -2.0;
    a.data[20_003] = -3.0;
    let mut dst = Tensor::zeros(0, 0, 0, DataFormat::Float32);
    let err = apply_sfpu(Sfpu::Compute(UnaryOp::Sqrt), Dim::Rc, &a, &mut dst)
        .unwrap_err()
        .to_string();
    let mut serial = a.data.clone();
    let want = compute::apply_unary(UnaryOp::Sqrt, &mut serial)
        .unwrap_err()
        .to_string();
    assert_eq!(err, want);
    assert!(err.contains("20003"), "{err}");
}
