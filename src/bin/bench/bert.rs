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

/// Size the generated netlist reaches (it stops after the layer that passes it).
pub const TARGET_BYTES: usize = 1 << 20;

/// Where layer 0's DRAM block starts; the model input sits below it.
const LAYER_BASE: u32 = 0x1000_0000;

/// One layer's queues, graph and the execute of it.
fn layer(l: usize, queues: &mut String, graphs: &mut String, program: &mut String) {
    // Each layer owns a 2 MiB block of every channel: a weight or bias has one buffer per
    // channel, 128 KiB per weight buffer (96 Bfp8_b tiles), 16 KiB per bias buffer, then the
    // layer's output; no two queues overlap (`ttrt run` runs it).
    let block = LAYER_BASE + (l as u32) * 0x20_0000;
    let dram = |first: u32, slot_size: u32, w: usize| {
        (0..6)
            .map(|i| format!("[{i}, 0x{:08x}]", block + first + (w as u32) * slot_size))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let weights = ["query", "key", "value", "attn_out", "ff1", "ff2"];
    for (w, name) in weights.iter().enumerate() {
        let _ = writeln!(
            queues,
            "  bert.encoder.layer.{l}.{name}.weight: {{input: HOST, type: ram, entries: 1, grid_size: [1, 6], t: 1, mblock: [24, 1], ublock: [1, 4], ublock_order: r, df: Bfp8_b, target_device: 0, loc: dram, dram: [{}]}}",
            dram(0, 0x2_0000, w)
        );
        let _ = writeln!(
            queues,
            "  bert.encoder.layer.{l}.{name}.bias: {{input: HOST, type: ram, entries: 1, grid_size: [1, 6], t: 1, mblock: [1, 1], ublock: [1, 4], ublock_order: r, df: Float16_b, target_device: 0, loc: dram, dram: [{}]}}",
            dram(0x18_0000, 0x4000, w)
        );
    }
    let input = if l == 0 {
        "hidden_states".to_string()
    } else {
        format!("e2e_layer_{}_output", l - 1)
    };
    let _ = writeln!(
        queues,
        "  e2e_layer_{l}_output: {{input: layer.{l}.output, type: queue, entries: 2, grid_size: [4, 1], t: 1, mblock: [1, 6], ublock: [1, 4], ublock_order: r, df: Float16_b, target_device: 0, loc: dram, dram: [[0, 0x{:08x}], [1, 0x{:08x}], [2, 0x{:08x}], [3, 0x{:08x}]]}}",
        block + 0x1C_0000,
        block + 0x1C_0000,
        block + 0x1C_0000,
        block + 0x1C_0000
    );

    let _ = writeln!(
        graphs,
        "  fwd_{l}:\n    target_device: 0\n    input_count: 1"
    );
    let mut col = 0u32;
    // Output shapes in tiles: activations 4 x 24 (grid 1x1), attention scores 4 x 4, the
    // reductions 4 x 1.
    const ACT: &str = "mblock: [4, 6], ublock: [1, 4]";
    const SCORES: &str = "mblock: [4, 1], ublock: [1, 4]";
    const REDUCED: &str = "mblock: [4, 1], ublock: [1, 1]";
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
    // Matmuls over 24 tiles: 6 ublocks of 4 (the first input's ublock width).
    let matmul = |a: &str, w: &str, in_df: &str| {
        format!("type: matmul, inputs: [{a}, {w}], in_df: [Float16_b, {in_df}], attributes: {{m_k: 6, u_kt: 4, l1_acc: false}}")
    };
    let bias = |a: &str, b: &str| {
        format!("type: add, inputs: [{a}, {b}], in_df: [Float16_b, Float16_b], input_1_tms: [broadcast: {{r: 4}}]")
    };
    let unary = |ty: &str, a: &str, attrs: &str| {
        format!("type: {ty}, inputs: [{a}], in_df: [Float16_b]{attrs}")
    };
    for proj in ["query", "key", "value"] {
        op(graphs, proj, ACT, &matmul(&input, &w(proj), "Bfp8_b"));
        op(
            graphs,
            &format!("{proj}.bias"),
            ACT,
            &bias(&x(proj), &b(proj)),
        );
    }
    op(graphs, "scores", SCORES, &format!("type: matmul, inputs: [{}, {}], in_df: [Float16_b, Float16_b], attributes: {{m_k: 6, u_kt: 4}}, input_1_tms: [transpose]", x("query.bias"), x("key.bias")));
    // An attention weighting that stays finite whatever the scores: shifted by the row
    // maximum, squashed, exponentiated and scaled by its reciprocal. (A reduce leaves its value
    // in one column of the tile, so a true softmax's reciprocal of the reduced sum would divide
    // by the zeros of the other columns; PyBuda broadcasts through a matmul with a constant.)
    op(
        graphs,
        "scores.max",
        REDUCED,
        &unary("reduce", &x("scores"), ", attributes: {dim: c, type: max}"),
    );
    op(
        graphs,
        "scores.shift",
        SCORES,
        &format!(
            "type: subtract, inputs: [{}, {}], in_df: [Float16_b, Float16_b], input_1_tms: [broadcast: {{c: 4}}]",
            x("scores"),
            x("scores.max")
        ),
    );
    op(
        graphs,
        "scores.squash",
        SCORES,
        &unary("sigmoid", &x("scores.shift"), ""),
    );
    op(
        graphs,
        "scores.exp",
        SCORES,
        &unary(
            "exp",
            &x("scores.squash"),
            ", attributes: {approximate_mode: true}",
        ),
    );
    op(
        graphs,
        "scores.recip",
        SCORES,
        &unary(
            "reciprocal",
            &x("scores.exp"),
            ", attributes: {approximate_mode: true}",
        ),
    );
    op(
        graphs,
        "softmax",
        SCORES,
        &format!(
            "type: multiply, inputs: [{}, {}], in_df: [Float16_b, Float16_b]",
            x("scores.exp"),
            x("scores.recip")
        ),
    );
    op(graphs, "context", ACT, &format!("type: matmul, inputs: [{}, {}], in_df: [Float16_b, Float16_b], attributes: {{m_k: 1, u_kt: 4}}", x("softmax"), x("value.bias")));
    op(
        graphs,
        "attn_out",
        ACT,
        &matmul(&x("context"), &w("attn_out"), "Bfp8_b"),
    );
    op(
        graphs,
        "attn_out.bias",
        ACT,
        &bias(&x("attn_out"), &b("attn_out")),
    );
    op(
        graphs,
        "residual",
        ACT,
        &format!(
            "type: add, inputs: [{}, {input}], in_df: [Float16_b, Float16_b]",
            x("attn_out.bias")
        ),
    );
    op(
        graphs,
        "ln.mean",
        REDUCED,
        &unary(
            "reduce",
            &x("residual"),
            ", attributes: {dim: c, type: max}",
        ),
    );
    op(graphs, "ln.sub", ACT, &format!("type: subtract, inputs: [{}, {}], in_df: [Float16_b, Float16_b], input_1_tms: [broadcast: {{c: 24}}]", x("residual"), x("ln.mean")));
    op(graphs, "ln.sqrt", ACT, &format!("type: fused_op, inputs: [{}, {}], in_df: [Float16_b, Float16_b], attributes: {{fused_op_id: 0, approximate_mode: false}}", x("ln.sub"), x("ln.sub")));
    op(
        graphs,
        "ff1",
        ACT,
        &matmul(&x("ln.sqrt"), &w("ff1"), "Bfp8_b"),
    );
    op(graphs, "ff1.bias", ACT, &bias(&x("ff1"), &b("ff1")));
    op(graphs, "gelu", ACT, &unary("gelu", &x("ff1.bias"), ""));
    op(graphs, "ff2", ACT, &matmul(&x("gelu"), &w("ff2"), "Bfp8_b"));
    op(graphs, "ff2.bias", ACT, &bias(&x("ff2"), &b("ff2")));
    op(graphs, "output", ACT, &unary("tanh", &x("ff2.bias"), ""));

    let _ = writeln!(
        program,
        "    -   execute: {{graph_name: fwd_{l}, queue_settings: {{"
    );
    let input_settings = if l == 0 {
        "rd_ptr_local: $lptr_q0, rd_ptr_global: $gptr_q0"
    } else {
        "rd_ptr_local: $c_zero, rd_ptr_global: $c_zero"
    };
    let _ = writeln!(program, "               {input}: {{prologue: false, epilogue: false, zero: False, {input_settings}}},");
    for name in weights {
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
    let mut queues = String::from(
        "  hidden_states: {input: HOST, type: queue, entries: 2, grid_size: [4, 1], t: 1, mblock: [1, 6], ublock: [1, 4], ublock_order: r, df: Float16_b, target_device: 0, loc: dram, dram: [[0, 0x0f000000], [1, 0x0f000000], [2, 0x0f000000], [3, 0x0f000000]]}\n",
    );
    let mut graphs = String::new();
    let mut program = String::new();
    let mut layers = 0;
    while match layers_wanted {
        Some(n) => layers < n,
        None => queues.len() + graphs.len() + program.len() < TARGET_BYTES,
    } {
        layer(layers, &mut queues, &mut graphs, &mut program);
        layers += 1;
    }
    let text = format!(
        "devices:\n  arch: [wormhole_b0, blackhole]\n\nqueues:\n{queues}\ngraphs:\n{graphs}\nprograms:\n  - run_fwd:\n    - param: [$p_microbatch_count]\n    - var: {{$c_microbatch_size: 1, $c_one: 1, $c_zero: 0}}\n    - staticvar: {{$gptr_q0: 0, $lptr_q0: 0}}\n    - loop: $p_microbatch_count\n{program}    -   varinst: [$gptr_q0, incwrap, $c_microbatch_size, 4]\n    -   varinst: [$lptr_q0, incwrap, $c_microbatch_size, 4]\n    - endloop\n\nfused_ops:\n  0:\n    inputs: 2\n    intermediates: 1\n    schedules:\n      -\n        - square0: {{type: multiply, inputs: [input0, input1], mblock: [4, 6], ublock: [1, 4], output: intermed0}}\n        - sqrt0: {{type: sqrt, inputs: [intermed0], pop: [intermed0], mblock: [4, 6], ublock: [1, 4], output: output}}\n\ntest-config:\n  comparison-config:\n    type: AllCloseHw\n    atol: 0.01\n    rtol: 0.15\n    check_pcc: 0.99\n  stimulus-config:\n    type: Uniform\n    uniform_lower_bound: -0.1\n    uniform_upper_bound: 0.1\n  io-config:\n    inputs: [hidden_states]\n    outputs: [e2e_layer_{}_output]\n",
        layers - 1
    );
    (text, layers)
}
