//! A netlist shaped like PyBuda's BERT output, generated in memory (`ttrt bench netlist`; the
//! tests run it with `ttrt run` too, including this file).
//!
//! One graph per encoder layer (attention and feed-forward matmuls with m_k/u_kt, bias adds
//! with r broadcasts, an attention weighting made of reduce, subtract, sigmoid, exp, reciprocal
//! and multiply, gelu, layernorm pieces, a fused op, a tanh that keeps the layer's output
//! bounded), weight rams spread over the six DRAM channels, activations passed between
//! graphs through queues, and one program that loops over the layers with PyBuda's queue
//! settings.

use std::fmt::Write as _;

/// The weights of a layer, each with a bias.
pub const WEIGHTS: [&str; 6] = ["query", "key", "value", "attn_out", "ff1", "ff2"];

/// Size the generated netlist reaches (it stops after the layer that passes it).
pub const TARGET_BYTES: usize = 1 << 20;

/// Where the first layer's queues start in every DRAM channel; the model input sits below.
const LAYER_BASE: u64 = 0x1000_0000;

/// A layer's sizes in 32x32 tiles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dims {
    /// Rows of the activations (the sequence).
    pub seq: u32,
    /// Columns of the activations (hidden size).
    pub hidden: u32,
    /// Columns of the feed-forward activations.
    pub ff: u32,
    /// Cores (DRAM buffers) a weight or bias is split over, by columns.
    pub weight_grid: u32,
}

impl Dims {
    /// Small enough that `ttrt bench netlist` reaches 1 MB of text in about 40 layers: every
    /// weight 768 x 768.
    pub const BASE: Dims = Dims {
        seq: 4,
        hidden: 24,
        ff: 24,
        weight_grid: 6,
    };
    /// BERT-large's encoder layer: hidden size 1024, feed-forward 4096, a sequence of 128;
    /// 12.6M parameters per layer.
    pub const LARGE: Dims = Dims {
        seq: 4,
        hidden: 32,
        ff: 128,
        weight_grid: 8,
    };
    /// The same layer over BERT-large's longest sequence, 384 (the time figure).
    pub const LARGE_SEQ_384: Dims = Dims {
        seq: 12,
        ..Dims::LARGE
    };

    /// The (input, output) tiles of each of [`WEIGHTS`].
    pub fn weight_shapes(self) -> [(u32, u32); 6] {
        let (h, f) = (self.hidden, self.ff);
        [(h, h), (h, h), (h, h), (h, h), (h, f), (f, h)]
    }
}

/// Next free address of every DRAM channel: buffers are laid out one after another, each at
/// a 64 KiB boundary, so no two queues overlap (`ttrt run` runs it).
struct Dram {
    next: [u64; 6],
    turn: usize,
}

impl Dram {
    fn new() -> Dram {
        Dram {
            next: [LAYER_BASE; 6],
            turn: 0,
        }
    }

    /// `buffers` buffers of `tiles` tiles each (room for 2-byte datums, tile headers and the
    /// queue header), spread over the channels: the netlist's `dram` list.
    fn place(&mut self, buffers: u32, tiles: u32, entries: u32) -> String {
        let size = (u64::from(tiles) * 2112 * u64::from(entries) + 0x1000 + 0xffff) & !0xffff;
        (0..buffers)
            .map(|_| {
                let ch = self.turn % 6;
                self.turn += 1;
                let at = self.next[ch];
                self.next[ch] += size;
                format!("[{ch}, 0x{at:08x}]")
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// One layer's queues, graph and the execute of it.
fn layer(
    l: usize,
    d: Dims,
    dram: &mut Dram,
    queues: &mut String,
    graphs: &mut String,
    program: &mut String,
) {
    let g = d.weight_grid;
    // (name, rows, columns) of every weight, in tiles.
    for (name, (rows, cols)) in WEIGHTS.into_iter().zip(d.weight_shapes()) {
        let n = cols / (g * 4);
        let _ = writeln!(
            queues,
            "  bert.encoder.layer.{l}.{name}.weight: {{input: HOST, type: ram, entries: 1, grid_size: [1, {g}], t: 1, mblock: [{rows}, {n}], ublock: [1, 4], ublock_order: r, df: Bfp8_b, target_device: 0, loc: dram, dram: [{}]}}",
            dram.place(g, rows * n * 4, 1)
        );
        let _ = writeln!(
            queues,
            "  bert.encoder.layer.{l}.{name}.bias: {{input: HOST, type: ram, entries: 1, grid_size: [1, {g}], t: 1, mblock: [1, {n}], ublock: [1, 4], ublock_order: r, df: Float16_b, target_device: 0, loc: dram, dram: [{}]}}",
            dram.place(g, n * 4, 1)
        );
    }
    let input = if l == 0 {
        "hidden_states".to_string()
    } else {
        format!("e2e_layer_{}_output", l - 1)
    };
    let _ = writeln!(
        queues,
        "  e2e_layer_{l}_output: {{input: layer.{l}.output, type: queue, entries: 2, grid_size: [{}, 1], t: 1, mblock: [1, {}], ublock: [1, 4], ublock_order: r, df: Float16_b, target_device: 0, loc: dram, dram: [{}]}}",
        d.seq,
        d.hidden / 4,
        dram.place(d.seq, d.hidden, 2)
    );

    let _ = writeln!(
        graphs,
        "  fwd_{l}:\n    target_device: 0\n    input_count: 1"
    );
    let mut col = 0u32;
    // Output shapes in tiles (grid 1x1): activations seq x hidden, feed-forward activations
    // seq x ff, attention scores seq x seq, the reductions seq x 1.
    let act = format!("mblock: [{}, {}], ublock: [1, 4]", d.seq, d.hidden / 4);
    let act_ff = format!("mblock: [{}, {}], ublock: [1, 4]", d.seq, d.ff / 4);
    let scores = format!("mblock: [{}, {}], ublock: [1, 4]", d.seq, d.seq / 4);
    let reduced = format!("mblock: [{}, 1], ublock: [1, 1]", d.seq);
    let (act, act_ff, scores, reduced) = (&act[..], &act_ff[..], &scores[..], &reduced[..]);
    let mut op = |graphs: &mut String, name: &str, shape: &str, body: &str| {
        // On Wormhole B0's worker grid: 10 rows of 8 columns.
        let (r, c) = (col / 8, col % 8);
        col += 1;
        let _ = writeln!(
            graphs,
            "    layer.{l}.{name}: {{{body}, grid_loc: [{r}, {c}], grid_size: [1, 1], t: 1, {shape}, buf_size_mb: 2, ublock_order: r, out_df: Float16_b, intermed_df: Float16_b, acc_df: Float16_b, math_fidelity: HiFi3}}"
        );
    };
    let w = |name: &str| format!("bert.encoder.layer.{l}.{name}.weight");
    let b = |name: &str| format!("bert.encoder.layer.{l}.{name}.bias");
    let x = |name: &str| format!("layer.{l}.{name}");
    // Matmuls over `inner` tiles: ublocks of 4 (the first input's ublock width).
    let matmul = |a: &str, w: &str, in_df: &str, inner: u32| {
        format!("type: matmul, inputs: [{a}, {w}], in_df: [Float16_b, {in_df}], attributes: {{m_k: {}, u_kt: 4, l1_acc: false}}", inner / 4)
    };
    let seq = d.seq;
    let bias = |a: &str, b: &str| {
        format!("type: add, inputs: [{a}, {b}], in_df: [Float16_b, Float16_b], input_1_tms: [broadcast: {{r: {seq}}}]")
    };
    let unary = |ty: &str, a: &str, attrs: &str| {
        format!("type: {ty}, inputs: [{a}], in_df: [Float16_b]{attrs}")
    };
    for proj in ["query", "key", "value"] {
        op(
            graphs,
            proj,
            act,
            &matmul(&input, &w(proj), "Bfp8_b", d.hidden),
        );
        op(
            graphs,
            &format!("{proj}.bias"),
            act,
            &bias(&x(proj), &b(proj)),
        );
    }
    op(graphs, "scores", scores, &format!("type: matmul, inputs: [{}, {}], in_df: [Float16_b, Float16_b], attributes: {{m_k: {}, u_kt: 4}}, input_1_tms: [transpose]", x("query.bias"), x("key.bias"), d.hidden / 4));
    // An attention weighting that stays finite whatever the scores: shifted by the row
    // maximum, squashed, exponentiated and scaled by its reciprocal. (A reduce leaves its value
    // in one column of the tile, so a true softmax's reciprocal of the reduced sum would divide
    // by the zeros of the other columns; PyBuda broadcasts through a matmul with a constant.)
    op(
        graphs,
        "scores.max",
        reduced,
        &unary("reduce", &x("scores"), ", attributes: {dim: c, type: max}"),
    );
    op(
        graphs,
        "scores.shift",
        scores,
        &format!(
            "type: subtract, inputs: [{}, {}], in_df: [Float16_b, Float16_b], input_1_tms: [broadcast: {{c: {}}}]",
            x("scores"),
            x("scores.max"),
            d.seq
        ),
    );
    op(
        graphs,
        "scores.squash",
        scores,
        &unary("sigmoid", &x("scores.shift"), ""),
    );
    op(
        graphs,
        "scores.exp",
        scores,
        &unary(
            "exp",
            &x("scores.squash"),
            ", attributes: {approximate_mode: true}",
        ),
    );
    op(
        graphs,
        "scores.recip",
        scores,
        &unary(
            "reciprocal",
            &x("scores.exp"),
            ", attributes: {approximate_mode: true}",
        ),
    );
    op(
        graphs,
        "softmax",
        scores,
        &format!(
            "type: multiply, inputs: [{}, {}], in_df: [Float16_b, Float16_b]",
            x("scores.exp"),
            x("scores.recip")
        ),
    );
    op(graphs, "context", act, &format!("type: matmul, inputs: [{}, {}], in_df: [Float16_b, Float16_b], attributes: {{m_k: {}, u_kt: 4}}", x("softmax"), x("value.bias"), d.seq / 4));
    op(
        graphs,
        "attn_out",
        act,
        &matmul(&x("context"), &w("attn_out"), "Bfp8_b", d.hidden),
    );
    op(
        graphs,
        "attn_out.bias",
        act,
        &bias(&x("attn_out"), &b("attn_out")),
    );
    op(
        graphs,
        "residual",
        act,
        &format!(
            "type: add, inputs: [{}, {input}], in_df: [Float16_b, Float16_b]",
            x("attn_out.bias")
        ),
    );
    op(
        graphs,
        "ln.mean",
        reduced,
        &unary(
            "reduce",
            &x("residual"),
            ", attributes: {dim: c, type: max}",
        ),
    );
    op(graphs, "ln.sub", act, &format!("type: subtract, inputs: [{}, {}], in_df: [Float16_b, Float16_b], input_1_tms: [broadcast: {{c: {}}}]", x("residual"), x("ln.mean"), d.hidden));
    op(graphs, "ln.sqrt", act, &format!("type: fused_op, inputs: [{}, {}], in_df: [Float16_b, Float16_b], attributes: {{fused_op_id: 0, approximate_mode: false}}", x("ln.sub"), x("ln.sub")));
    op(
        graphs,
        "ff1",
        act_ff,
        &matmul(&x("ln.sqrt"), &w("ff1"), "Bfp8_b", d.hidden),
    );
    op(graphs, "ff1.bias", act_ff, &bias(&x("ff1"), &b("ff1")));
    op(graphs, "gelu", act_ff, &unary("gelu", &x("ff1.bias"), ""));
    op(
        graphs,
        "ff2",
        act,
        &matmul(&x("gelu"), &w("ff2"), "Bfp8_b", d.ff),
    );
    op(graphs, "ff2.bias", act, &bias(&x("ff2"), &b("ff2")));
    op(graphs, "output", act, &unary("tanh", &x("ff2.bias"), ""));

    let _ = writeln!(
        program,
        "    -   execute: {{graph_name: fwd_{l}, queue_settings: {{"
    );
    // Every layer reads its input at the model input's pointers, so each queue between
    // layers frees the entry once the loop moves past it (a program may run any number of
    // times).
    let _ = writeln!(program, "               {input}: {{prologue: false, epilogue: false, zero: False, rd_ptr_local: $lptr_q0, rd_ptr_global: $gptr_q0}},");
    for name in WEIGHTS {
        for kind in ["weight", "bias"] {
            let _ = writeln!(
                program,
                "               bert.encoder.layer.{l}.{name}.{kind}: {{prologue: true, epilogue: false, zero: False, rd_ptr_global: $c_zero, wr_ptr_global: $c_zero}},"
            );
        }
    }
    program.push_str("               } }\n");
}

/// A BERT-like netlist of `layers` layers (`None`: as many as reach `TARGET_BYTES`), and its
/// layer count.
pub fn generate_layers(layers_wanted: Option<usize>) -> (String, usize) {
    generate(Dims::BASE, layers_wanted)
}

/// A netlist of `layers` BERT-large encoder layers (`ttrt bench model`).
pub fn generate_large(layers: usize) -> String {
    generate(Dims::LARGE, Some(layers)).0
}

/// A BERT-like netlist of layers of `d` (`None`: as many as reach `TARGET_BYTES`), and its
/// layer count.
pub fn generate(d: Dims, layers_wanted: Option<usize>) -> (String, usize) {
    let mut dram = Dram::new();
    let mut queues = format!(
        "  hidden_states: {{input: HOST, type: queue, entries: 2, grid_size: [{}, 1], t: 1, mblock: [1, {}], ublock: [1, 4], ublock_order: r, df: Float16_b, target_device: 0, loc: dram, dram: [{}]}}\n",
        d.seq,
        d.hidden / 4,
        (0..d.seq)
            .map(|i| format!("[{}, 0x0f000000]", i % 6))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut graphs = String::new();
    let mut program = String::new();
    let mut layers = 0;
    while match layers_wanted {
        Some(n) => layers < n,
        None => queues.len() + graphs.len() + program.len() < TARGET_BYTES,
    } {
        layer(layers, d, &mut dram, &mut queues, &mut graphs, &mut program);
        layers += 1;
    }
    let fused = format!("mblock: [{}, {}], ublock: [1, 4]", d.seq, d.hidden / 4);
    let text = format!(
        "devices:\n  arch: [wormhole_b0, blackhole]\n\nqueues:\n{queues}\ngraphs:\n{graphs}\nprograms:\n  - run_fwd:\n    - param: [$p_microbatch_count]\n    - var: {{$c_microbatch_size: 1, $c_one: 1, $c_zero: 0}}\n    - staticvar: {{$gptr_q0: 0, $lptr_q0: 0}}\n    - loop: $p_microbatch_count\n{program}    -   varinst: [$gptr_q0, incwrap, $c_microbatch_size, 4]\n    -   varinst: [$lptr_q0, incwrap, $c_microbatch_size, 4]\n    - endloop\n\nfused_ops:\n  0:\n    inputs: 2\n    intermediates: 1\n    schedules:\n      -\n        - square0: {{type: multiply, inputs: [input0, input1], {fused}, output: intermed0}}\n        - sqrt0: {{type: sqrt, inputs: [intermed0], pop: [intermed0], {fused}, output: output}}\n\ntest-config:\n  comparison-config:\n    type: AllCloseHw\n    atol: 0.01\n    rtol: 0.15\n    check_pcc: 0.99\n  stimulus-config:\n    type: Uniform\n    uniform_lower_bound: -0.1\n    uniform_upper_bound: 0.1\n  io-config:\n    inputs: [hidden_states]\n    outputs: [e2e_layer_{}_output]\n",
        layers - 1
    );
    (text, layers)
}
