//! The `netlist` suite: reading and validating a 1 MB netlist shaped like PyBuda's BERT output,
//! against reading the same bytes from a file.
//!
//! The netlist is generated in memory: one graph per encoder layer (attention and
//! feed-forward matmuls with m_k/u_kt, bias adds with r broadcasts, a softmax made of exp,
//! reduce, reciprocal and multiply, gelu, layernorm pieces, a fused op), weight rams spread over
//! eight DRAM buffers, activations passed between graphs through queues, and one program that
//! loops over the layers with PyBuda's queue settings. It is written to a temporary file; the
//! baseline is `std::fs::read` of that file, so the ratio says how many times a plain read the
//! parse costs.

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::{Duration, Instant};

use super::{median, time, Plan};

/// Size the generated netlist reaches (it stops after the layer that passes it).
const TARGET_BYTES: usize = 1 << 20;

/// One layer's queues, graph and the execute of it.
fn layer(l: usize, queues: &mut String, graphs: &mut String, program: &mut String) {
    let dram = |base: u32| {
        (0..8)
            .map(|i| {
                format!(
                    "[{}, 0x{:08x}]",
                    i % 6,
                    base + (i as u32) * 0x0100_0000 + (l as u32) * 0x4000
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let weights = ["query", "key", "value", "attn_out", "ff1", "ff2"];
    for (w, name) in weights.iter().enumerate() {
        let _ = writeln!(
            queues,
            "  bert.encoder.layer.{l}.{name}.weight: {{input: HOST, type: ram, entries: 1, grid_size: [1, 8], t: 1, mblock: [24, 1], ublock: [1, 4], ublock_order: r, df: Bfp8_b, target_device: 0, loc: dram, dram: [{}]}}",
            dram(0x1000_0000 + (w as u32) * 0x0020_0000)
        );
        let _ = writeln!(
            queues,
            "  bert.encoder.layer.{l}.{name}.bias: {{input: HOST, type: ram, entries: 1, grid_size: [1, 8], t: 1, mblock: [1, 1], ublock: [1, 4], ublock_order: r, df: Float16_b, target_device: 0, loc: dram, dram: [{}]}}",
            dram(0x2000_0000 + (w as u32) * 0x0020_0000)
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
        0x3000_0000 + l * 0x10_0000,
        0x3000_0000 + l * 0x10_0000,
        0x3000_0000 + l * 0x10_0000,
        0x3000_0000 + l * 0x10_0000
    );

    let _ = writeln!(
        graphs,
        "  fwd_{l}:\n    target_device: 0\n    input_count: 1"
    );
    let mut col = 0u32;
    let mut op = |graphs: &mut String, name: &str, body: &str| {
        let (r, c) = (col / 12, col % 12);
        col += 1;
        let _ = writeln!(
            graphs,
            "    layer.{l}.{name}: {{{body}, grid_loc: [{r}, {c}], grid_size: [1, 1], t: 1, mblock: [4, 6], ublock: [1, 4], buf_size_mb: 2, ublock_order: r, out_df: Float16_b, intermed_df: Float16_b, acc_df: Float16_b, math_fidelity: HiFi3}}"
        );
    };
    let w = |name: &str| format!("bert.encoder.layer.{l}.{name}.weight");
    let b = |name: &str| format!("bert.encoder.layer.{l}.{name}.bias");
    for proj in ["query", "key", "value"] {
        op(graphs, proj, &format!("type: matmul, inputs: [{input}, {}], in_df: [Float16_b, Bfp8_b], attributes: {{m_k: 24, u_kt: 1, l1_acc: false}}", w(proj)));
        op(graphs, &format!("{proj}.bias"), &format!("type: add, inputs: [layer.{l}.{proj}, {}], in_df: [Float16_b, Float16_b], input_1_tms: [broadcast: {{r: 4}}]", b(proj)));
    }
    op(graphs, "scores", &format!("type: matmul, inputs: [layer.{l}.query.bias, layer.{l}.key.bias], in_df: [Float16_b, Float16_b], attributes: {{m_k: 6, u_kt: 4}}, input_1_tms: [transpose]"));
    op(graphs, "scores.exp", &format!("type: exp, inputs: [layer.{l}.scores], in_df: [Float16_b], attributes: {{approximate_mode: true}}"));
    op(graphs, "scores.sum", &format!("type: reduce, inputs: [layer.{l}.scores.exp], in_df: [Float16_b], attributes: {{dim: c, type: sum}}"));
    op(graphs, "scores.recip", &format!("type: reciprocal, inputs: [layer.{l}.scores.sum], in_df: [Float16_b], attributes: {{approximate_mode: true}}"));
    op(graphs, "softmax", &format!("type: multiply, inputs: [layer.{l}.scores.exp, layer.{l}.scores.recip], in_df: [Float16_b, Float16_b], input_1_tms: [broadcast: {{c: 6}}]"));
    op(graphs, "context", &format!("type: matmul, inputs: [layer.{l}.softmax, layer.{l}.value.bias], in_df: [Float16_b, Float16_b], attributes: {{m_k: 6, u_kt: 4}}"));
    op(graphs, "attn_out", &format!("type: matmul, inputs: [layer.{l}.context, {}], in_df: [Float16_b, Bfp8_b], attributes: {{m_k: 24, u_kt: 1}}", w("attn_out")));
    op(graphs, "attn_out.bias", &format!("type: add, inputs: [layer.{l}.attn_out, {}], in_df: [Float16_b, Float16_b], input_1_tms: [broadcast: {{r: 4}}]", b("attn_out")));
    op(
        graphs,
        "residual",
        &format!(
            "type: add, inputs: [layer.{l}.attn_out.bias, {input}], in_df: [Float16_b, Float16_b]"
        ),
    );
    op(graphs, "ln.mean", &format!("type: reduce, inputs: [layer.{l}.residual], in_df: [Float16_b], attributes: {{dim: c, type: avg}}"));
    op(graphs, "ln.sub", &format!("type: subtract, inputs: [layer.{l}.residual, layer.{l}.ln.mean], in_df: [Float16_b, Float16_b], input_1_tms: [broadcast: {{c: 6}}]"));
    op(graphs, "ln.sqrt", &format!("type: fused_op, inputs: [layer.{l}.ln.sub, layer.{l}.ln.mean], in_df: [Float16_b, Float16_b], attributes: {{fused_op_id: 0, approximate_mode: false}}"));
    op(graphs, "ff1", &format!("type: matmul, inputs: [layer.{l}.ln.sqrt, {}], in_df: [Float16_b, Bfp8_b], attributes: {{m_k: 24, u_kt: 1}}", w("ff1")));
    op(graphs, "ff1.bias", &format!("type: add, inputs: [layer.{l}.ff1, {}], in_df: [Float16_b, Float16_b], input_1_tms: [broadcast: {{r: 4}}]", b("ff1")));
    op(
        graphs,
        "gelu",
        &format!("type: gelu, inputs: [layer.{l}.ff1.bias], in_df: [Float16_b]"),
    );
    op(graphs, "ff2", &format!("type: matmul, inputs: [layer.{l}.gelu, {}], in_df: [Float16_b, Bfp8_b], attributes: {{m_k: 24, u_kt: 1}}", w("ff2")));
    op(graphs, "ff2.bias", &format!("type: add, inputs: [layer.{l}.ff2, {}], in_df: [Float16_b, Float16_b], input_1_tms: [broadcast: {{r: 4}}]", b("ff2")));
    op(graphs, "output", &format!("type: nop, inputs: [layer.{l}.ff2.bias], in_df: [Float16_b], attributes: {{relu_en: false}}"));

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

/// A BERT-like netlist of at least `TARGET_BYTES`, and its layer count.
fn generate() -> (String, usize) {
    generate_layers(None)
}

/// A BERT-like netlist of `layers` layers (`None`: as many as reach `TARGET_BYTES`), and its
/// layer count.
pub fn generate_layers(layers_wanted: Option<usize>) -> (String, usize) {
    let mut queues = String::from(
        "  hidden_states: {input: HOST, type: queue, entries: 2, grid_size: [4, 1], t: 1, mblock: [1, 6], ublock: [1, 4], ublock_order: r, df: Float16_b, target_device: 0, loc: dram, dram: [[0, 0x38000000], [1, 0x38000000], [2, 0x38000000], [3, 0x38000000]]}\n",
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
        "devices:\n  arch: [wormhole_b0, blackhole]\n\nqueues:\n{queues}\ngraphs:\n{graphs}\nprograms:\n  - run_fwd:\n    - param: [$p_microbatch_count]\n    - var: {{$c_microbatch_size: 1, $c_one: 1, $c_zero: 0}}\n    - staticvar: {{$gptr_q0: 0, $lptr_q0: 0}}\n    - loop: $p_microbatch_count\n{program}    -   varinst: [$gptr_q0, incwrap, $c_microbatch_size, 4]\n    -   varinst: [$lptr_q0, incwrap, $c_microbatch_size, 4]\n    - endloop\n\nfused_ops:\n  0:\n    inputs: 2\n    intermediates: 1\n    schedules:\n      -\n        - sub0: {{type: subtract, inputs: [input0, input1], input_1_tms: [], mblock: [4, 6], ublock: [1, 4], output: intermed0}}\n        - sqrt0: {{type: sqrt, inputs: [intermed0], pop: [intermed0], mblock: [4, 6], ublock: [1, 4], output: output}}\n\ntest-config:\n  comparison-config:\n    type: AllCloseHw\n    atol: 0.01\n    rtol: 0.15\n    check_pcc: 0.99\n  stimulus-config:\n    type: Uniform\n    uniform_lower_bound: -1.0\n    uniform_upper_bound: 1.0\n  io-config:\n    inputs: [hidden_states]\n    outputs: [e2e_layer_{}_output]\n",
        layers - 1
    );
    (text, layers)
}

pub fn run(plan: Plan) -> Result<(), String> {
    let (text, layers) = generate();
    let bytes = text.len();
    // The netlist must be valid, or the figure would time an early error.
    let netlist = ttrt::netlist::parse(&text, "bench.yaml").map_err(|e| e.to_string())?;
    if netlist.graphs().len() != layers {
        return Err(format!(
            "generated {layers} graphs, parsed {}",
            netlist.graphs().len()
        ));
    }
    let ops: usize = netlist.graphs().iter().map(|g| g.ops.len()).sum();
    let queues = netlist.queues().len();
    drop(netlist);

    let path = std::env::temp_dir().join(format!("ttrt-bench-netlist-{}.yaml", std::process::id()));
    std::fs::write(&path, &text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    let result = measure(plan, &text, &path);
    let _ = std::fs::remove_file(&path);
    let (read, parse) = result?;

    let mb_per_s = |t: Duration| bytes as f64 / t.as_secs_f64().max(1e-12) / 1e6;
    outln!(
        "netlist/read file: {:.0} MB/s (baseline: std::fs::read of the {:.2} MB netlist; {layers} graphs, {ops} ops, {queues} queues)",
        mb_per_s(read),
        bytes as f64 / 1e6
    );
    outln!(
        "netlist/parse + validate: {:.1} MB/s, {:.2} ms = {:.1} x file read (no goal set)",
        mb_per_s(parse),
        parse.as_secs_f64() * 1e3,
        parse.as_secs_f64() / read.as_secs_f64().max(1e-12)
    );
    scaling(plan, &text, layers, queues)
}

/// How parse + validate grows: the same generator with ten times the layers (so ten times the
/// queues, ops and queue settings), against the netlist above. Linear work takes about 10x the
/// time; a step that looks names up by scanning would take far more.
fn scaling(plan: Plan, small: &str, layers: usize, queues: usize) -> Result<(), String> {
    let (large, _) = generate_layers(Some(layers * 10));
    let large_queues = ttrt::netlist::parse(&large, "bench-10x.yaml")
        .map_err(|e| e.to_string())?
        .queues()
        .len();
    let mut small_samples = Vec::with_capacity(plan.runs);
    let mut large_samples = Vec::with_capacity(plan.runs);
    let started = Instant::now();
    let mut round = 0;
    while round < plan.warmup || plan.more(large_samples.len(), started) {
        let parse = |text: &str| {
            time(&mut || {
                let n = ttrt::netlist::parse(black_box(text), "bench.yaml")?;
                black_box(&n);
                Ok::<(), ttrt::netlist::NetlistError>(())
            })
            .map_err(|e| e.to_string())
        };
        let s = parse(small)?;
        let l = parse(&large)?;
        if round >= plan.warmup {
            small_samples.push(s);
            large_samples.push(l);
        }
        round += 1;
    }
    let (s, l) = (median(&small_samples), median(&large_samples));
    outln!(
        "netlist/scaling: {:.1}x larger netlist ({large_queues} queues, {:.1} MB, {:.1} ms): {:.1}x the time of {queues} queues (goal <= 12x)",
        large.len() as f64 / small.len() as f64,
        large.len() as f64 / 1e6,
        l.as_secs_f64() * 1e3,
        l.as_secs_f64() / s.as_secs_f64().max(1e-12)
    );
    Ok(())
}

/// Medians of reading the file and of parsing the text, timed in alternating rounds so a
/// noisy stretch hits both.
fn measure(plan: Plan, text: &str, path: &std::path::Path) -> Result<(Duration, Duration), String> {
    let mut read_samples = Vec::with_capacity(plan.runs);
    let mut parse_samples = Vec::with_capacity(plan.runs);
    let started = Instant::now();
    let mut round = 0;
    let mut timed = 0;
    while round < plan.warmup || plan.more(timed, started) {
        let read = time(&mut || {
            let bytes = std::fs::read(black_box(path))?;
            black_box(&bytes);
            Ok::<(), std::io::Error>(())
        })
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let parse = time(&mut || {
            let n = ttrt::netlist::parse(black_box(text), "bench.yaml")?;
            black_box(&n);
            Ok::<(), ttrt::netlist::NetlistError>(())
        })
        .map_err(|e| e.to_string())?;
        if round >= plan.warmup {
            read_samples.push(read);
            parse_samples.push(parse);
            timed += 1;
        }
        round += 1;
    }
    Ok((median(&read_samples), median(&parse_samples)))
}
