//! Queues of tiles smaller than 32x32 (`tile_dim`, golden-ops.md §4 "Tiny tiles"): each tile's
//! values sit in the top-left corner of a 32x32 golden tile, the rest 0; eltwise ops clear their
//! output outside input 0's tiles; matmul uses row 0 of every bias tile. Expected values are
//! worked out by hand.

use std::collections::HashMap;

use ttrt::backend::{Backend, BackendConfig};
use ttrt::format::{Arch, DataFormat, HostTensor, TileDim};
use ttrt::netlist::exec::{GraphPlan, QueueIo, Tensor};
use ttrt::netlist::{self, Netlist};

fn at(t: &Tensor, r: usize, c: usize) -> f32 {
    t.data[r * t.cols() + c]
}

#[test]
fn spreading_puts_host_rows_in_tile_corners() {
    // Two 1x32 tiles stacked: host rows 0 and 1 (32 values each) land in rows 0 and 32.
    let mut t = Tensor::zeros(1, 2, 1, DataFormat::Float32);
    t.data.iter_mut().for_each(|v| *v = -1.0);
    for i in 0..64 {
        t.data[i] = 1.0 + i as f32;
    }
    t.spread_tiles(TileDim::new(1, 32).unwrap());
    for r in 0..64 {
        for c in 0..32 {
            let want = match r {
                0 => 1.0 + c as f32,
                32 => 33.0 + c as f32,
                _ => 0.0,
            };
            assert_eq!(at(&t, r, c), want, "({r}, {c})");
        }
    }
    // Two 32x16 tiles side by side: host column c goes to column c/16*32 + c%16.
    let mut t = Tensor::zeros(2, 1, 2, DataFormat::Float32);
    for i in 0..2 * 32 * 32 {
        t.data[i] = i as f32;
    }
    t.spread_tiles(TileDim::new(32, 16).unwrap());
    for z in 0..2 {
        for r in 0..32 {
            for c in 0..64 {
                let v = t.data[(z * 32 + r) * 64 + c];
                let want = if c % 32 < 16 {
                    ((z * 32 + r) * 32 + c / 32 * 16 + c % 32) as f32
                } else {
                    0.0
                };
                assert_eq!(v, want, "z {z} ({r}, {c})");
            }
        }
    }
}

#[test]
fn clearing_zeroes_outside_the_tile_but_keeps_nan() {
    let mut t = Tensor::zeros(1, 1, 1, DataFormat::Float32);
    t.data[0] = 3.0;
    t.data[32] = f32::INFINITY;
    t.data[33] = f32::NAN;
    t.data[34] = -2.0;
    t.clear_outside(TileDim::new(1, 32).unwrap());
    assert_eq!(t.data[0], 3.0);
    assert_eq!(t.data[32].to_bits(), 0.0f32.to_bits());
    assert!(t.data[33].is_nan());
    assert_eq!(t.data[34].to_bits(), (-0.0f32).to_bits());
}

/// One graph `g`, op `op0` of `ty` reading queues `a` (tile_dim `a_tile`) and optionally `b`
/// and `c`, writing `out` (`out_mblock`); `extra` is more of the op's YAML map.
fn netlist(
    ty: &str,
    inputs: &[(&str, &str, &str)],
    out_mblock: &str,
    out_tile: &str,
    extra: &str,
) -> Netlist {
    netlist_with(ty, inputs, out_mblock, out_tile, extra, "")
}

/// [`netlist`] with `tail` (a `fused_ops:` section) after the programs.
fn netlist_with(
    ty: &str,
    inputs: &[(&str, &str, &str)],
    out_mblock: &str,
    out_tile: &str,
    extra: &str,
    tail: &str,
) -> Netlist {
    let mut queues = String::new();
    for (k, (name, mblock, tile)) in inputs.iter().enumerate() {
        queues += &format!(
            "  {name}: {{type: queue, input: HOST, entries: 1, grid_size: [1, 1], t: 1, mblock: {mblock}, ublock: [1, 1], {tile} df: Float32, target_device: 0, loc: dram, dram: [[0, 0x{:x}]]}}\n",
            0x1000_0000 + k * 0x100_0000
        );
    }
    let names: Vec<&str> = inputs.iter().map(|i| i.0).collect();
    let in_df = vec!["Float32"; inputs.len()].join(", ");
    let settings: Vec<String> = names
        .iter()
        .map(|n| format!("{n}: {{prologue: false, epilogue: false, zero: false, rd_ptr_global: 0, rd_ptr_local: 0}}"))
        .collect();
    let text = format!(
        r#"devices:
  arch: grayskull
queues:
{queues}  out: {{type: queue, input: op0, entries: 1, grid_size: [1, 1], t: 1, mblock: {out_mblock}, ublock: [1, 1], {out_tile} df: Float32, target_device: 0, loc: dram, dram: [[0, 0x20000000]]}}
graphs:
  g:
    target_device: 0
    input_count: 1
    op0: {{type: {ty}, grid_loc: [0, 0], grid_size: [1, 1], inputs: [{}], in_df: [{in_df}], acc_df: Float32, out_df: Float32, intermed_df: Float32, ublock_order: r, buf_size_mb: 2, math_fidelity: HiFi4, untilize_output: false, t: 1, mblock: {out_mblock}, ublock: [1, 1]{extra}}}
programs:
  - p:
      - execute: {{graph_name: g, queue_settings: {{{}}}}}
{tail}"#,
        names.join(", "),
        settings.join(", ")
    );
    netlist::parse(&text, "small.yaml").unwrap_or_else(|e| panic!("{e}\n{text}"))
}

struct MemIo {
    names: Vec<String>,
    data: HashMap<String, Tensor>,
}

impl MemIo {
    fn new(n: &Netlist) -> MemIo {
        MemIo {
            names: n.queues.iter().map(|q| q.name.clone()).collect(),
            data: HashMap::new(),
        }
    }
}

impl QueueIo for MemIo {
    type Error = String;

    fn read(&mut self, queue: usize, out: &mut Tensor) -> Result<(), String> {
        out.data
            .copy_from_slice(&self.data[&self.names[queue]].data);
        Ok(())
    }
    fn write(&mut self, queue: usize, entry: &Tensor) -> Result<(), String> {
        self.data.insert(self.names[queue].clone(), entry.clone());
        Ok(())
    }
}

/// `rt x ct` tiles whose element (r, c) is `f(r, c)`.
fn tensor(rt: u32, ct: u32, f: impl Fn(usize, usize) -> f32) -> Tensor {
    let mut t = Tensor::zeros(1, rt, ct, DataFormat::Float32);
    let cols = t.cols();
    for (i, v) in t.data.iter_mut().enumerate() {
        *v = f(i / cols, i % cols);
    }
    t
}

const ROW: &str = "tile_dim: [1, 32],";

/// a [1 tile x 2] · b [2 x 2] + a 1x32-tile bias broadcast to 2 columns.
fn matmul_with_row_bias() -> Netlist {
    netlist(
        "matmul",
        &[
            ("a", "[1, 2]", ""),
            ("b", "[2, 2]", ""),
            ("bias", "[1, 1]", ROW),
        ],
        "[1, 2]",
        "",
        ", attributes: {m_k: 1, u_kt: 2, bias: true}, input_2_tms: [broadcast: {c: 2}]",
    )
}

#[test]
fn a_matmul_bias_of_1x32_tiles_adds_its_row_to_every_row() {
    let n = matmul_with_row_bias();
    let mut plan = GraphPlan::new(&n, 0, Arch::Grayskull).unwrap();
    let mut io = MemIo::new(&n);
    // a: 32x64 with a[r][k] = 1 where k == r, b: 64x64 with b[k][c] = k + c: a.b picks row r
    // of b. The bias tile is one row: bias[c] = 1000 + c, broadcast to both tile columns.
    io.data
        .insert("a".into(), tensor(1, 2, |r, k| f32::from(u8::from(k == r))));
    io.data
        .insert("b".into(), tensor(2, 2, |k, c| (k + c) as f32));
    io.data.insert(
        "bias".into(),
        tensor(1, 1, |r, c| if r == 0 { 1000.0 + c as f32 } else { 0.0 }),
    );
    plan.run(&mut io).unwrap();
    let y = &io.data["out"];
    for (r, c) in [(0, 0), (5, 3), (31, 31), (7, 40), (31, 63)] {
        let want = (r + c) as f32 + 1000.0 + (c % 32) as f32;
        assert_eq!(at(y, r, c), want, "({r}, {c})");
    }
}

#[test]
fn eltwise_ops_clear_outside_input_0s_tiles() {
    // exp of a 1x32 tile: exp(0) = 1 outside the row would survive without the clearing.
    let n = netlist("exp", &[("a", "[1, 1]", ROW)], "[1, 1]", "", "");
    let mut plan = GraphPlan::new(&n, 0, Arch::Grayskull).unwrap();
    let mut io = MemIo::new(&n);
    io.data.insert(
        "a".into(),
        tensor(1, 1, |r, c| if r == 0 { c as f32 * 0.125 } else { 0.0 }),
    );
    plan.run(&mut io).unwrap();
    let y = &io.data["out"];
    assert_eq!(at(y, 0, 8), 1.0f32.exp());
    assert_eq!((at(y, 1, 0), at(y, 31, 31)), (0.0, 0.0));
    // add: input 0 of full tiles keeps everything, input 0 of small tiles clears.
    let n = netlist(
        "add",
        &[("a", "[1, 1]", ""), ("b", "[1, 1]", ROW)],
        "[1, 1]",
        "",
        "",
    );
    let mut plan = GraphPlan::new(&n, 0, Arch::Grayskull).unwrap();
    let mut io = MemIo::new(&n);
    io.data.insert("a".into(), tensor(1, 1, |_, _| 2.0));
    io.data.insert(
        "b".into(),
        tensor(1, 1, |r, _| if r == 0 { 3.0 } else { 0.0 }),
    );
    plan.run(&mut io).unwrap();
    let y = &io.data["out"];
    assert_eq!((at(y, 0, 0), at(y, 9, 9)), (5.0, 2.0));
}

#[test]
fn sfpu_vector_mode_becomes_rc_on_small_tiles() {
    // vector: r computes rows 0-3 of a 32x32 tile only; on 32x16 tiles golden forces rc, so
    // every row of the left 16 columns is computed.
    let col = "tile_dim: [32, 16],";
    let n = netlist(
        "exp",
        &[("a", "[1, 1]", col)],
        "[1, 1]",
        "",
        ", attributes: {vector: r}",
    );
    let mut plan = GraphPlan::new(&n, 0, Arch::Grayskull).unwrap();
    let mut io = MemIo::new(&n);
    io.data.insert(
        "a".into(),
        tensor(1, 1, |_, c| if c < 16 { 1.0 } else { 0.0 }),
    );
    plan.run(&mut io).unwrap();
    let y = &io.data["out"];
    assert_eq!(at(y, 20, 3), 1.0f32.exp());
    assert_eq!(at(y, 20, 20), 0.0);
}

#[test]
fn small_tiles_are_refused_where_upstream_refuses_them() {
    let refused = |n: &Netlist| GraphPlan::new(n, 0, Arch::Grayskull).err().unwrap().message;
    let n = netlist(
        "splice",
        &[("a", "[1, 1]", ROW), ("b", "[1, 1]", "")],
        "[1, 2]",
        "",
        ", attributes: {input0: [0, 1, 1], input1: [0, 1, 1]}",
    );
    let e = refused(&n);
    assert!(
        e.contains(
            "input 0: tile_dim 1x32 inputs of splice are not supported (upstream refuses it too)"
        ),
        "{e}"
    );
    let n = netlist(
        "topk",
        &[("a", "[1, 1]", ""), ("b", "[1, 1]", ROW)],
        "[1, 1]",
        "",
        ", attributes: {k: 2, sort: max}",
    );
    let e = refused(&n);
    assert!(
        e.contains(
            "input 1: tile_dim 1x32 inputs of topk are not supported (upstream refuses it too)"
        ),
        "{e}"
    );
    // Upstream asserts that an op and the queue it feeds have one tile_dim.
    let n = netlist("datacopy", &[("a", "[1, 1]", "")], "[1, 1]", ROW, "");
    let e = refused(&n);
    assert!(
        e.contains("output queue out (line")
            && e.contains("the queue's tile_dim 1x32 differs from the op's 32x32"),
        "{e}"
    );
}

#[test]
fn a_1x32_bias_queue_runs_through_the_backend() {
    let n = matmul_with_row_bias();
    let be = Backend::from_netlist(n, &BackendConfig::default()).unwrap();
    be.initialize().unwrap();
    let push = |q: &str, rows: usize, cols: usize, f: &dyn Fn(usize, usize) -> f32| {
        let data: Vec<u8> = (0..rows * cols)
            .flat_map(|i| f(i / cols, i % cols).to_le_bytes())
            .collect();
        let t = HostTensor::contiguous(&data, DataFormat::Float32, [1, 1, rows, cols]);
        be.push_input(q, &t, false, 0, -1).unwrap();
    };
    // The bias entry, as the host holds it, is one row of 32 values.
    assert_eq!(be.output_format("bias", 1).unwrap().1, [1, 1, 1, 32]);
    push("a", 32, 64, &|r, k| f32::from(u8::from(k == r)));
    push("b", 64, 64, &|k, c| (k * 2 + c) as f32);
    push("bias", 1, 32, &|_, c| 0.5 * c as f32);
    be.run_program("p", &[]).unwrap();
    let out = be.get_output("out", true, 0, -1).unwrap();
    assert_eq!(out.shape, [1, 1, 32, 64]);
    let v: Vec<f32> = out
        .data
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    for (r, c) in [(0, 0), (3, 7), (31, 31), (30, 33), (31, 63)] {
        let want = (r * 2 + c) as f32 + 0.5 * (c % 32) as f32;
        assert_eq!(v[r * 64 + c], want, "({r}, {c})");
    }
    be.finish().unwrap();
}

/// A backend for one op `ty` whose op and output queue have `op_tile` tiles (a `tile_dim:`
/// entry or ""), inputs as in [`netlist`], on Wormhole B0 (Grayskull has no small tiles).
fn backend(
    ty: &str,
    inputs: &[(&str, &str, &str)],
    out_mblock: &str,
    op_tile: &str,
    extra: &str,
) -> Backend {
    let (queue_tile, op_attr) = if op_tile.is_empty() {
        (String::new(), extra.to_string())
    } else {
        (format!("{op_tile},"), format!(", {op_tile}{extra}"))
    };
    let mut n = netlist(ty, inputs, out_mblock, &queue_tile, &op_attr);
    n.devices.arch = vec![Arch::WormholeB0];
    let be = Backend::from_netlist(n, &BackendConfig::default()).unwrap();
    be.initialize().unwrap();
    be
}

/// Pushes `rows x cols` Float32 values `f(r, c)` to queue `q`.
fn push(be: &Backend, q: &str, rows: usize, cols: usize, f: &dyn Fn(usize, usize) -> f32) {
    let data: Vec<u8> = (0..rows * cols)
        .flat_map(|i| f(i / cols, i % cols).to_le_bytes())
        .collect();
    let t = HostTensor::contiguous(&data, DataFormat::Float32, [1, 1, rows, cols]);
    be.push_input(q, &t, true, 10_000, -1).unwrap();
}

/// Runs program p and returns output `out` as (shape, values), then finishes.
fn run_and_read(be: Backend) -> ([usize; 4], Vec<f32>) {
    be.run_program("p", &[]).unwrap();
    let out = be.get_output("out", true, 10_000, -1).unwrap();
    let v = out
        .data
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    be.finish().unwrap();
    (out.shape, v)
}

#[test]
fn an_op_of_16x32_tiles_writes_only_their_rows() {
    // datacopy of 32x32 tiles into an op and queue of 16x32 tiles: the host reads rows 0-15
    // of every tile, packed (32 rows for two tile rows).
    let half = "tile_dim: [16, 32]";
    let be = backend("datacopy", &[("a", "[2, 2]", "")], "[2, 2]", half, "");
    // Values exact in Tf32 (Wormhole B0 cuts Float32 inputs to it).
    let f = |r: usize, c: usize| ((r * 64 + c) % 1999) as f32;
    push(&be, "a", 64, 64, &f);
    let (shape, v) = run_and_read(be);
    assert_eq!(shape, [1, 1, 32, 64]);
    for r in 0..32 {
        for c in 0..64 {
            // Packed row r is row r % 16 of tile row r / 16.
            assert_eq!(v[r * 64 + c], f(r / 16 * 32 + r % 16, c), "({r}, {c})");
        }
    }
}

#[test]
fn a_16x32_tile_matmul_equals_the_32x32_one_on_zero_padded_rows() {
    // in0 of 16x32 tiles (queue and op): each output tile's 16 rows are the product of the
    // tile's 16 real rows. The same op on 32x32 tiles whose rows 16-31 are 0 gives equal rows.
    let a = |r: usize, k: usize| ((r * 7 + k * 3) % 17) as f32 * 0.25 - 2.0;
    let b = |k: usize, c: usize| ((k * 5 + c) % 11) as f32 * 0.5 - 2.5;
    let half = "tile_dim: [16, 32]";
    let mm = ", attributes: {m_k: 1, u_kt: 2}";
    let be = backend(
        "matmul",
        &[("a", "[2, 2]", &format!("{half},")), ("b", "[2, 2]", "")],
        "[2, 2]",
        half,
        mm,
    );
    push(&be, "a", 32, 64, &a);
    push(&be, "b", 64, 64, &b);
    let (shape, small) = run_and_read(be);
    assert_eq!(shape, [1, 1, 32, 64]);

    let be = backend(
        "matmul",
        &[("a", "[2, 2]", ""), ("b", "[2, 2]", "")],
        "[2, 2]",
        "",
        mm,
    );
    // Packed row r (tile row r / 16, row r % 16) sits at row r / 16 * 32 + r % 16.
    push(&be, "a", 64, 64, &|r, k| {
        if r % 32 < 16 {
            a(r / 32 * 16 + r % 32, k)
        } else {
            0.0
        }
    });
    push(&be, "b", 64, 64, &b);
    let (_, full) = run_and_read(be);
    for r in 0..32 {
        for c in 0..64 {
            let want: f64 = (0..64)
                .map(|k| f64::from(a(r, k)) * f64::from(b(k, c)))
                .sum();
            let got = small[r * 64 + c];
            assert_eq!(got, full[(r / 16 * 32 + r % 16) * 64 + c], "({r}, {c})");
            assert!(
                (f64::from(got) - want).abs() <= 1e-3 * want.abs().max(1.0),
                "({r}, {c})"
            );
        }
    }
}

#[test]
fn a_1x32_sfpu_op_clears_to_its_row_and_reduce_r_fills_row_0() {
    // exp on 32x32 tiles with an op of 1x32 tiles: the host reads exp of row 0 of each tile.
    let row = "tile_dim: [1, 32]";
    let be = backend("exp", &[("a", "[2, 1]", "")], "[2, 1]", row, "");
    let f = |r: usize, c: usize| (r as f32 - 20.0) * 0.0625 + c as f32 * 0.015625;
    push(&be, "a", 64, 32, &f);
    let (shape, v) = run_and_read(be);
    assert_eq!(shape, [1, 1, 2, 32]);
    for (r, c) in [(0, 0), (0, 31), (1, 5)] {
        let want = f(r * 32, c).exp();
        assert!((v[r * 32 + c] - want).abs() <= 1e-6 * want, "({r}, {c})");
    }
    // reduce max over r into 1x32 tiles: each column's max over all 64 rows.
    let be = backend(
        "reduce",
        &[("a", "[2, 1]", "")],
        "[1, 1]",
        row,
        ", attributes: {type: max, dim: r, m_k: 1, u_kt: 1}",
    );
    let g = |r: usize, c: usize| ((r * 13 + c * 7) % 61) as f32 - 30.0;
    push(&be, "a", 64, 32, &g);
    let (shape, v) = run_and_read(be);
    assert_eq!(shape, [1, 1, 1, 32]);
    for (c, &got) in v.iter().enumerate().take(32) {
        let want = (0..64).map(|r| g(r, c)).fold(f32::NEG_INFINITY, f32::max);
        assert_eq!(got, want, "column {c}");
    }
}

/// `rows x cols` host values of an output, from get_output's Float32 bytes.
fn values(v: &[f32], cols: usize, r: usize, c: usize) -> f32 {
    v[r * cols + c]
}

#[test]
fn splice_embedding_fused_op_and_topk_write_queues_of_1x32_tiles() {
    // Each op computes on 32x32 inputs as on 32x32 tiles; the queue of 1x32 tiles it writes
    // holds row 0 of every tile. (Values exact in Tf32.)
    let f = |r: usize, c: usize| (r * 64 + c) as f32;
    let g = |r: usize, c: usize| -((r * 64 + c) as f32);
    let one = [("a", "[1, 1]", ""), ("b", "[1, 1]", "")];

    // splice of one tile of a and one of b, side by side.
    let be = backend(
        "splice",
        &one,
        "[1, 2]",
        "tile_dim: [1, 32]",
        ", attributes: {input0: [0, 1, 1], input1: [0, 1, 1]}",
    );
    push(&be, "a", 32, 32, &f);
    push(&be, "b", 32, 32, &g);
    let (shape, v) = run_and_read(be);
    assert_eq!(shape, [1, 1, 1, 64]);
    for c in 0..32 {
        assert_eq!(values(&v, 64, 0, c), f(0, c));
        assert_eq!(values(&v, 64, 0, 32 + c), g(0, c));
    }

    // fused op: one scheduled add of its two inputs into the output.
    let fused = "fused_ops:\n  0:\n    inputs: 2\n    intermediates: 0\n    schedules:\n      -\n        - add: {type: add, inputs: [input0, input1], mblock: [1, 1], ublock: [1, 1], output: output}\n";
    let mut n = netlist_with(
        "fused_op",
        &one,
        "[1, 1]",
        ROW,
        &format!(", {ROW} attributes: {{fused_op_id: 0}}"),
        fused,
    );
    n.devices.arch = vec![Arch::WormholeB0];
    let be = Backend::from_netlist(n, &BackendConfig::default()).unwrap();
    be.initialize().unwrap();
    push(&be, "a", 32, 32, &f);
    push(&be, "b", 32, 32, &|r, c| 2.0 * (r + c) as f32);
    let (shape, v) = run_and_read(be);
    assert_eq!(shape, [1, 1, 1, 32]);
    for c in 0..32 {
        assert_eq!(values(&v, 32, 0, c), f(0, c) + 2.0 * c as f32);
    }

    // topk of row 0: the two largest of a's row 0 (columns 31 and 30), the rest 0.
    let be = backend(
        "topk",
        &one,
        "[1, 1]",
        "tile_dim: [1, 32]",
        ", attributes: {k: 2, sort: max}",
    );
    push(&be, "a", 32, 32, &f);
    push(&be, "b", 32, 32, &|_, c| c as f32);
    let (shape, v) = run_and_read(be);
    assert_eq!(shape, [1, 1, 1, 32]);
    assert_eq!(&v[..3], &[f(0, 31), f(0, 30), 0.0]);
    assert!(v[2..].iter().all(|&x| x == 0.0));
}

#[test]
fn an_embedding_of_1x32_tiles_writes_row_0_of_its_tile() {
    // Indices of a RawUInt32 queue [3, 0]: output rows 0 and 1 are table rows 3 and 0; the
    // 1x32 queue holds row 0 only.
    let text = r#"devices:
  arch: wormhole_b0
queues:
  t: {type: queue, input: HOST, entries: 1, grid_size: [1, 1], t: 1, mblock: [1, 1], ublock: [1, 1], df: Float32, target_device: 0, loc: dram, dram: [[0, 0x10000000]]}
  i: {type: queue, input: HOST, entries: 1, grid_size: [1, 1], t: 1, mblock: [1, 1], ublock: [1, 1], df: RawUInt32, target_device: 0, loc: dram, dram: [[0, 0x11000000]]}
  out: {type: queue, input: op0, entries: 1, grid_size: [1, 1], t: 1, mblock: [1, 1], ublock: [1, 1], tile_dim: [1, 32], df: Float32, target_device: 0, loc: dram, dram: [[0, 0x12000000]]}
graphs:
  g:
    target_device: 0
    input_count: 1
    op0: {type: embedding, grid_loc: [0, 0], grid_size: [1, 1], inputs: [t, i], in_df: [Float32, RawUInt32], acc_df: Float32, out_df: Float32, intermed_df: Float32, ublock_order: r, buf_size_mb: 2, math_fidelity: HiFi4, untilize_output: false, t: 1, mblock: [1, 1], ublock: [1, 1], tile_dim: [1, 32], attributes: {num_indices: 2}}
programs:
  - p:
      - execute: {graph_name: g, queue_settings: {t: {prologue: false, epilogue: false, zero: false, rd_ptr_global: 0, rd_ptr_local: 0}, i: {prologue: false, epilogue: false, zero: false, rd_ptr_global: 0, rd_ptr_local: 0}}}
"#;
    let n = netlist::parse(text, "embedding.yaml").unwrap();
    let be = Backend::from_netlist(n, &BackendConfig::default()).unwrap();
    be.initialize().unwrap();
    push(&be, "t", 32, 32, &|r, c| (r * 64 + c) as f32);
    let idx: Vec<u8> = (0..1024u32)
        .map(|w| if w == 0 { 3 } else { 0 })
        .flat_map(u32::to_le_bytes)
        .collect();
    let t = HostTensor::contiguous(&idx, DataFormat::RawUInt32, [1, 1, 32, 32]);
    be.push_input("i", &t, true, 10_000, -1).unwrap();
    let (shape, v) = run_and_read(be);
    assert_eq!(shape, [1, 1, 1, 32]);
    for (c, x) in v.iter().enumerate() {
        assert_eq!(*x, (3 * 64 + c) as f32, "column {c}");
    }
}

#[test]
fn padding_a_1x32_input_adds_whole_tiles_of_the_pad_value() {
    // datacopy of one 1x32 tile padded by a tile row of 2.0, into 1x32 tiles: the host reads
    // the input row, then row 0 of the pad tile.
    let be = backend(
        "datacopy",
        &[("a", "[1, 1]", ROW)],
        "[2, 1]",
        "tile_dim: [1, 32]",
        ", input_0_pad: {rt: 1, ct: 0, pad_value: 2.0}",
    );
    push(&be, "a", 1, 32, &|_, c| c as f32);
    let (shape, v) = run_and_read(be);
    assert_eq!(shape, [1, 1, 2, 32]);
    for c in 0..32 {
        assert_eq!((v[c], v[32 + c]), (c as f32, 2.0), "column {c}");
    }

    // matmul: a (one 1x32 tile, e_0 in row 0) padded by a tile column of 1.0, times b (2x1
    // tiles, b[k][c] = 2k + c). Golden clears the padded input to its 1x32 tiles first, so
    // only row 0 of the pad tile counts: out row 0 = b[0][c] + sum_{k=32..63} b[k][c]
    // = c + 3040 + 32c; every other row 0.
    let be = backend(
        "matmul",
        &[("a", "[1, 1]", ROW), ("b", "[2, 1]", "")],
        "[1, 1]",
        "",
        ", attributes: {m_k: 1, u_kt: 2}, input_0_pad: {rt: 0, ct: 1, pad_value: 1.0}",
    );
    push(&be, "a", 1, 32, &|_, k| f32::from(u8::from(k == 0)));
    push(&be, "b", 64, 32, &|k, c| (2 * k + c) as f32);
    let (shape, v) = run_and_read(be);
    assert_eq!(shape, [1, 1, 32, 32]);
    for c in 0..32 {
        assert_eq!(v[c], (3040 + 33 * c) as f32, "row 0, column {c}");
        for r in 1..32 {
            assert_eq!(v[r * 32 + c], 0.0, "({r}, {c})");
        }
    }
}

#[test]
fn a_transpose_into_a_queue_moves_tiles_but_not_their_values() {
    // nop of 1x2 tiles into a queue of 2x1 tiles through `input_tms: [transpose]`: golden
    // moves tile (0, c) to (c, 0) and, no op following, leaves the values inside each tile as
    // they are. For 16x32 tiles the host reads rows 0-15 of each.
    for (tile, h) in [("", 32usize), ("tile_dim: [16, 32],", 16)] {
        let text = format!(
            r#"devices:
  arch: wormhole_b0
queues:
  a: {{type: queue, input: HOST, entries: 1, grid_size: [1, 1], t: 1, mblock: [1, 2], ublock: [1, 1], {tile} df: Float32, target_device: 0, loc: dram, dram: [[0, 0x10000000]]}}
  out: {{type: queue, input: op0, entries: 1, grid_size: [1, 1], t: 1, mblock: [2, 1], ublock: [1, 1], {tile} input_tms: [transpose], df: Float32, target_device: 0, loc: dram, dram: [[0, 0x12000000]]}}
graphs:
  g:
    target_device: 0
    input_count: 1
    op0: {{type: nop, grid_loc: [0, 0], grid_size: [1, 1], inputs: [a], in_df: [Float32], acc_df: Float32, out_df: Float32, intermed_df: Float32, ublock_order: r, buf_size_mb: 2, math_fidelity: HiFi4, untilize_output: false, {tile} t: 1, mblock: [1, 2], ublock: [1, 1]}}
programs:
  - p:
      - execute: {{graph_name: g, queue_settings: {{a: {{prologue: false, epilogue: false, zero: false, rd_ptr_global: 0, rd_ptr_local: 0}}}}}}
"#
        );
        let n = netlist::parse(&text, "transpose.yaml").unwrap_or_else(|e| panic!("{e}"));
        let be = Backend::from_netlist(n, &BackendConfig::default()).unwrap();
        be.initialize().unwrap();
        let f = |r: usize, c: usize| (r * 64 + c) as f32;
        push(&be, "a", h, 64, &f);
        let (shape, v) = run_and_read(be);
        assert_eq!(shape, [1, 1, 2 * h, 32], "{tile}");
        for r in 0..2 * h {
            for c in 0..32 {
                assert_eq!(v[r * 32 + c], f(r % h, r / h * 32 + c), "{tile} ({r}, {c})");
            }
        }
    }
}
