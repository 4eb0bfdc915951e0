//! A netlist shaped like PyBuda's BERT output, generated in memory (`ttrt bench netlist`; the
//! tests run it with `ttrt run` too, including this file).
//!
//! One graph per encoder layer (attention and feed-forward matmuls with m_k/u_kt, bias adds
//! with r broadcasts, an attention weighting made of reduce, subtract, sigmoid, exp, reciprocal
//! and multiply, gelu, layernorm pieces, a fused op, a tanh that keeps the layer's output
//! bounded), weight rams spread over the six DRAM channels, activations passed between
//! graphs through queues, and one program that loops over the layers with PyBuda's queue
//! settings. [`Dims`] sets the shapes: the default is small (a sequence of 128, hidden 768 and
//! a feed-forward of 768); [`Dims::BERT_LARGE`] has BERT-large's (384, 1024, 4096).

use std::fmt::Write as _;

/// The shapes of a layer, in 32x32 tiles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dims {
    /// Sequence length (rows of the activations); a multiple of 4.
    pub seq: u32,
    /// Hidden size; a multiple of 4 * `weight_grid`.
    pub hidden: u32,
    /// Feed-forward size; a multiple of 4 * `weight_grid`.
    pub ff: u32,
    /// Grid columns of a weight or bias queue (one DRAM buffer each, on channels 0 to 5).
    pub weight_grid: u32,
}

impl Dims {
    /// The shapes of `ttrt bench netlist`: about 1 MB of netlist text per 16 layers.
    pub const SMALL: Dims = Dims {
        seq: 4,
        hidden: 24,
        ff: 24,
        weight_grid: 6,
    };
    /// BERT-large: sequence 384, hidden 1024, feed-forward 4096.
    pub const BERT_LARGE: Dims = Dims {
        seq: 12,
        hidden: 32,
        ff: 128,
        weight_grid: 4,
    };

    /// The (input, output) tiles of each weight, in the order of `WEIGHTS`.
    pub fn weight_shapes(self) -> [(u32, u32); 6] {
        let (h, f) = (self.hidden, self.ff);
        [(h, h), (h, h), (h, h), (h, h), (h, f), (f, h)]
    }
}

/// The weights of a layer, each with a bias.
pub const WEIGHTS: [&str; 6] = ["query", "key", "value", "attn_out", "ff1", "ff2"];

/// Bytes a DRAM buffer of `tiles` tiles may take per entry, with room for headers.
fn slot(tiles: u32, tile_bytes: u32, align: u32) -> u32 {
    (tiles * tile_bytes + 0x1000).div_ceil(align) * align
}

/// Size the generated netlist reaches (it stops after the layer that passes it).
pub const TARGET_BYTES: usize = 1 << 20;

/// Where layer 0's DRAM block starts; the model input sits below it.
const LAYER_BASE: u32 = 0x1000_0000;

/// One layer's queues, graph and the execute of it.
fn layer(d: Dims, l: usize, queues: &mut String, graphs: &mut String, program: &mut String) {
    // Each layer owns a block of every channel: the weights' buffers (Bfp8_b), then the
    // biases' (Float16_b), then the layer's output; a weight or bias has one buffer per grid
    // column, on channels 0 to 5 in turn, and no two queues overlap (`ttrt run` runs it).
    let g = d.weight_grid;
    let shapes = d.weight_shapes();
    let most = shapes.iter().map(|&(i, o)| i * o / g).max().unwrap_or(0);
    let wslot = slot(most, 1184, 0x1_0000);
    let bslot = slot(d.hidden.max(d.ff) / g, 2112, 0x4000);
    let out_at = 6 * wslot + 6 * bslot;
    let layer_size =
        (out_at + slot(2 * d.seq / 4 * d.hidden, 2112, 0x1_0000)).div_ceil(0x10_0000) * 0x10_0000;
    let block = LAYER_BASE + (l as u32) * layer_size;
    // Buffer `i` of a queue at offset `first` of the block in channel `i`.
    let dram = |first: u32| {
        (0..g)
            .map(|i| format!("[{i}, 0x{:08x}]", block + first))
            .collect::<Vec<_>>()
            .join(", ")
    };
    for (w, name) in WEIGHTS.iter().enumerate() {
        let (rows, cols) = shapes[w];
        let n = cols / 4 / g;
        let _ = writeln!(
            queues,
            "  bert.encoder.layer.{l}.{name}.weight: {{input: HOST, type: ram, entries: 1, grid_size: [1, {g}], t: 1, mblock: [{rows}, {n}], ublock: [1, 4], ublock_order: r, df: Bfp8_b, target_device: 0, loc: dram, dram: [{}]}}",
            dram(w as u32 * wslot)
        );
        let _ = writeln!(
            queues,
            "  bert.encoder.layer.{l}.{name}.bias: {{input: HOST, type: ram, entries: 1, grid_size: [1, {g}], t: 1, mblock: [1, {n}], ublock: [1, 4], ublock_order: r, df: Float16_b, target_device: 0, loc: dram, dram: [{}]}}",
            dram(6 * wslot + w as u32 * bslot)
        );
    }
    let input = if l == 0 {
        "hidden_states".to_string()
    } else {
        format!("e2e_layer_{}_output", l - 1)
    };
    let out = block + out_at;
    let _ = writeln!(
        queues,
        "  e2e_layer_{l}_output: {{input: layer.{l}.output, type: queue, entries: 2, grid_size: [4, 1], t: 1, mblock: [{}, {}], ublock: [1, 4], ublock_order: r, df: Float16_b, target_device: 0, loc: dram, dram: [[0, 0x{out:08x}], [1, 0x{out:08x}], [2, 0x{out:08x}], [3, 0x{out:08x}]]}}",
        d.seq / 4,
        d.hidden / 4,
    );

    let _ = writeln!(
        graphs,
        "  fwd_{l}:\n    target_device: 0\n    input_count: 1"
    );
    let mut col = 0u32;
    // Output shapes in tiles (grid 1x1): activations seq x hidden, the feed-forward's seq x
    // ff, attention scores seq x seq, the reductions seq x 1.
    let (seq, hidden, ff) = (d.seq, d.hidden, d.ff);
    let act = format!("mblock: [{seq}, {}], ublock: [1, 4]", hidden / 4);
    let wide = format!("mblock: [{seq}, {}], ublock: [1, 4]", ff / 4);
    let scores = format!("mblock: [{seq}, {}], ublock: [1, 4]", seq / 4);
    let reduced = format!("mblock: [{seq}, 1], ublock: [1, 1]");
    let (act, wide, scores, reduced) = (&act[..], &wide[..], &scores[..], &reduced[..]);
    let mut op = |graphs: &mut String, name: &str, shape: &str, body: &str| {
        let (r, c) = (col / 12, col % 12);
        col += 1;
        let _ = writeln!(
            graphs,
            "    layer.{l}.{name}: {{{body}, grid_loc: [{r}, {c}], grid_size: [1, 1], t: 1, {shape}, buf_size_mb: 2, ublock_order: r, out_df: Float16_b, intermed_df: Float16_b, acc_df: Float16_b, math_fidelity: HiFi3}}"
        );
    };
    let w = |name: &str| format!("bert.encoder.layer.{l}.{name}.weight");
    let b = |name: &str| format!("bert.encoder.layer.{l}.{name}.bias");
    let x = |name: &str| format!("layer.{l}.{name}");
    // Matmuls over K tiles: K/4 ublocks of 4 (the first input's ublock width).
    let matmul = |a: &str, w: &str, k: u32| {
        format!("type: matmul, inputs: [{a}, {w}], in_df: [Float16_b, Bfp8_b], attributes: {{m_k: {}, u_kt: 4, l1_acc: false}}", k / 4)
    };
    let bias = |a: &str, b: &str| {
        format!("type: add, inputs: [{a}, {b}], in_df: [Float16_b, Float16_b], input_1_tms: [broadcast: {{r: {seq}}}]")
    };
    let unary = |ty: &str, a: &str, attrs: &str| {
        format!("type: {ty}, inputs: [{a}], in_df: [Float16_b]{attrs}")
    };
    for proj in ["query", "key", "value"] {
        op(graphs, proj, act, &matmul(&input, &w(proj), hidden));
        op(
            graphs,
            &format!("{proj}.bias"),
            act,
            &bias(&x(proj), &b(proj)),
        );
    }
    op(graphs, "scores", scores, &format!("type: matmul, inputs: [{}, {}], in_df: [Float16_b, Float16_b], attributes: {{m_k: {}, u_kt: 4}}, input_1_tms: [transpose]", x("query.bias"), x("key.bias"), hidden / 4));
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
            "type: subtract, inputs: [{}, {}], in_df: [Float16_b, Float16_b], input_1_tms: [broadcast: {{c: {seq}}}]",
            x("scores"),
            x("scores.max")
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
    op(graphs, "context", act, &format!("type: matmul, inputs: [{}, {}], in_df: [Float16_b, Float16_b], attributes: {{m_k: {}, u_kt: 4}}", x("softmax"), x("value.bias"), seq / 4));
    op(
        graphs,
        "attn_out",
        act,
        &matmul(&x("context"), &w("attn_out"), hidden),
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
    op(graphs, "ln.sub", act, &format!("type: subtract, inputs: [{}, {}], in_df: [Float16_b, Float16_b], input_1_tms: [broadcast: {{c: {hidden}}}]", x("residual"), x("ln.mean")));
    op(graphs, "ln.sqrt", act, &format!("type: fused_op, inputs: [{}, {}], in_df: [Float16_b, Float16_b], attributes: {{fused_op_id: 0, approximate_mode: false}}", x("ln.sub"), x("ln.sub")));
    op(
        graphs,
        "ff1",
        wide,
        &matmul(&x("ln.sqrt"), &w("ff1"), hidden),
    );
    op(graphs, "ff1.bias", wide, &bias(&x("ff1"), &b("ff1")));
    op(graphs, "gelu", wide, &unary("gelu", &x("ff1.bias"), ""));
    op(graphs, "ff2", act, &matmul(&x("gelu"), &w("ff2"), ff));
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
    generate(Dims::SMALL, layers_wanted)
}

/// A BERT-like netlist of `layers_wanted` layers of shapes `d` (`None`: as many as reach
/// `TARGET_BYTES`), and its layer count.
pub fn generate(d: Dims, layers_wanted: Option<usize>) -> (String, usize) {
    let mut queues = format!(
        "  hidden_states: {{input: HOST, type: queue, entries: 2, grid_size: [4, 1], t: 1, mblock: [{}, {}], ublock: [1, 4], ublock_order: r, df: Float16_b, target_device: 0, loc: dram, dram: [[0, 0x0f000000], [1, 0x0f000000], [2, 0x0f000000], [3, 0x0f000000]]}}\n",
        d.seq / 4,
        d.hidden / 4
    );
    let mut graphs = String::new();
    let mut program = String::new();
    let mut layers = 0;
    while match layers_wanted {
        Some(n) => layers < n,
        None => queues.len() + graphs.len() + program.len() < TARGET_BYTES,
    } {
        layer(d, layers, &mut queues, &mut graphs, &mut program);
        layers += 1;
    }
    let text = format!(
        "devices:\n  arch: [wormhole_b0, blackhole]\n\nqueues:\n{queues}\ngraphs:\n{graphs}\nprograms:\n  - run_fwd:\n    - param: [$p_microbatch_count]\n    - var: {{$c_microbatch_size: 1, $c_one: 1, $c_zero: 0}}\n    - staticvar: {{$gptr_q0: 0, $lptr_q0: 0}}\n    - loop: $p_microbatch_count\n{program}    -   varinst: [$gptr_q0, incwrap, $c_microbatch_size, 4]\n    -   varinst: [$lptr_q0, incwrap, $c_microbatch_size, 4]\n    - endloop\n\nfused_ops:\n  0:\n    inputs: 2\n    intermediates: 1\n    schedules:\n      -\n        - square0: {{type: multiply, inputs: [input0, input1], mblock: [{seq}, {n}], ublock: [1, 4], output: intermed0}}\n        - sqrt0: {{type: sqrt, inputs: [intermed0], pop: [intermed0], mblock: [{seq}, {n}], ublock: [1, 4], output: output}}\n\ntest-config:\n  comparison-config:\n    type: AllCloseHw\n    atol: 0.01\n    rtol: 0.15\n    check_pcc: 0.99\n  stimulus-config:\n    type: Uniform\n    uniform_lower_bound: -0.1\n    uniform_upper_bound: 0.1\n  io-config:\n    inputs: [hidden_states]\n    outputs: [e2e_layer_{}_output]\n",
        layers - 1,
        seq = d.seq,
        n = d.hidden / 4
    );
    (text, layers)
}
