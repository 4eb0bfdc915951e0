//! The upstream netlist corpus (`tests/corpus/netlists`): every netlist outside
//! `verif/error_tests/` reads and validates, a few values match the file text, and every file
//! under `verif/error_tests/` is rejected with a message that states its reason.

use crate::support;

use support::{corpus, yaml_files};

use std::path::Path;

use ttrt::format::{Arch, DataFormat};
use ttrt::netlist::{
    parse, ComparisonType, Dim, FusedOperand, FusedOutput, Instruction, IoType, Netlist, OpType,
    Operand, QueueBuffer, StimulusType, Tm, Value, VarInstOp,
};

fn relative(path: &Path) -> String {
    path.strip_prefix(corpus())
        .expect("under corpus")
        .to_string_lossy()
        .replace('\\', "/")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(corpus().join(rel)).expect("read corpus netlist")
}

fn load(rel: &str) -> Netlist {
    parse(&read(rel), rel).unwrap_or_else(|e| panic!("{rel} should parse: {e}"))
}

#[test]
fn every_netlist_outside_error_tests_parses_and_validates() {
    let mut files = Vec::new();
    yaml_files(&corpus(), &mut files);
    files.sort();
    let mut valid = 0;
    let mut failures = Vec::new();
    for path in &files {
        let rel = relative(path);
        if rel.starts_with("verif/error_tests/") {
            continue;
        }
        let text = std::fs::read_to_string(path).expect("read netlist");
        match parse(&text, &rel) {
            Ok(n) => {
                valid += 1;
                assert!(
                    !n.queues().is_empty() && !n.graphs().is_empty() && !n.programs().is_empty()
                );
            }
            Err(e) => failures.push(e.to_string()),
        }
    }
    assert!(
        failures.is_empty(),
        "corpus netlists rejected:\n{}",
        failures.join("\n")
    );
    // The corpus holds 95 valid netlists besides the error tests.
    assert!(valid >= 90, "only {valid} corpus netlists were found");
}

/// Each error test and the words its message must hold (the file's leading comment says why it
/// is invalid).
const ERROR_TESTS: &[(&str, &[&str])] = &[
    ("default_invalid_netlist.yaml", &["netlist is empty"]),
    (
        "netlist_ublock_cannot_fit_into_dest.yaml",
        &[
            "op0",
            "ublock [4, 3]",
            "12 tiles",
            "cannot fit into dest",
            "at most 8",
        ],
    ),
    (
        "fused_op/netlist_fused_op_ublock_cannot_fit_into_dest.yaml",
        &["subop0", "ublock [4, 3]", "cannot fit into dest"],
    ),
    (
        "fused_op/netlist_fused_op_invalid_intermed_buffer_usage.yaml",
        &[
            "intermed0",
            "schedule 0",
            "not matmul or reduce",
            "single macro block",
        ],
    ),
    (
        "fused_op/netlist_fused_op_matmul_invalid_m_k_u_kt.yaml",
        &[
            "m_k must equal input 0's mblock_n (1)",
            "u_kt its ublock_ct (4)",
            "found m_k 4, u_kt 1",
        ],
    ),
    (
        "fused_op/netlist_fused_op_missing_pop_on_intermed.yaml",
        &["intermed0", "never popped"],
    ),
    (
        "fused_op/netlist_fused_op_with_bcast_invalid_input.yaml",
        &[
            "broadcast inside a fused op is only supported on intermediate buffers",
            "input0",
        ],
    ),
    (
        "fused_op/netlist_fused_op_with_bcast_invalid_mblock_c.yaml",
        &["r broadcast", "requires mblock_n == 1", "intermed0"],
    ),
];

#[test]
fn every_error_test_is_rejected_with_its_reason() {
    let dir = corpus().join("verif/error_tests/netlists/invalid");
    let mut files = Vec::new();
    yaml_files(&dir, &mut files);
    assert_eq!(
        files.len(),
        ERROR_TESTS.len(),
        "an error test without expected words: {files:?}"
    );
    for (name, words) in ERROR_TESTS {
        let rel = format!("verif/error_tests/netlists/invalid/{name}");
        let message = match parse(&read(&rel), &rel) {
            Ok(_) => panic!("{rel} must be rejected"),
            Err(e) => e.to_string(),
        };
        assert!(
            message.starts_with(&rel),
            "message does not name the file: {message}"
        );
        assert!(
            !message.contains('\n'),
            "message is not one line: {message}"
        );
        for w in *words {
            assert!(message.contains(w), "{rel}: message lacks `{w}`: {message}");
        }
    }
}

#[test]
fn the_dest_error_names_the_ops_line_and_key_path() {
    let rel = "verif/error_tests/netlists/invalid/netlist_ublock_cannot_fit_into_dest.yaml";
    let text = read(rel);
    let e = parse(&text, rel).expect_err("invalid");
    let op_line = text
        .lines()
        .position(|l| l.trim() == "op0:")
        .expect("op0 line")
        + 1;
    assert_eq!(e.line, Some(op_line as u32));
    assert_eq!(e.path, "graphs.test_op.op0.ublock");
}

const FF: &str = "verif/graph_tests/netlists/pybuda_pregenerated/feedforward/grayskull/ff_1_128_1024_netlist.yaml";

#[test]
fn a_pybuda_feedforward_netlist_reads_its_queues_as_written() {
    let text = read(FF);
    let n = load(FF);
    assert_eq!(n.devices.arch, vec![Arch::Grayskull]);
    // Every queue of this file is one line ending in its buffer list.
    let queue_lines = text
        .lines()
        .filter(|l| l.contains("loc: dram") || l.contains("loc: host"))
        .count();
    assert_eq!(n.queues().len(), queue_lines);
    let q = n.queue("input_0_ff_0_ff1").expect("input queue");
    assert_eq!(q.input, "HOST");
    assert_eq!(q.io_type, IoType::Queue);
    assert_eq!((q.grid_size.r, q.grid_size.c), (2, 1));
    assert_eq!((q.mblock.m, q.mblock.n), (2, 32));
    assert_eq!(q.df, DataFormat::Float16B);
    assert_eq!(
        q.buffers,
        vec![
            QueueBuffer {
                channel: 1,
                address: 0x3000_0840
            },
            QueueBuffer {
                channel: 1,
                address: 0x3100_0840
            }
        ]
    );
    let out = n.queue("ff.output_ff_0_ff2.bias").expect("output queue");
    assert_eq!(out.input, "ff_0_ff2.bias");
    assert_eq!(
        out.buffers,
        vec![QueueBuffer {
            channel: 0,
            address: 0
        }]
    );
    let weight = n
        .queue("ff.bert.encoder.layer.0.output.dense.weight")
        .expect("weight");
    assert_eq!(weight.io_type, IoType::Ram);
    assert_eq!(weight.buffers.len(), 8);
    assert_eq!(
        weight.buffers[7],
        QueueBuffer {
            channel: 0,
            address: 0x3700_0000
        }
    );
}

#[test]
fn a_pybuda_feedforward_netlist_reads_ops_attributes_and_tms() {
    let n = load(FF);
    let g = n.graph("fwd_0").expect("graph");
    assert_eq!(g.input_count, 1);
    let names: Vec<&str> = g.ops.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names[2..5], ["ff_0_ff1", "ff_0_ff1.bias", "ff0_gelu"]);
    let mm = g.op("ff_0_ff1").expect("matmul");
    assert_eq!(mm.op_type, OpType::Matmul);
    assert_eq!((mm.attributes.m_k, mm.attributes.u_kt), (Some(32), Some(1)));
    assert_eq!(
        mm.inputs,
        [
            "input_0_ff_0_ff1",
            "ff.bert.encoder.layer.0.intermediate.dense.weight"
        ]
    );
    let bias = g.op("ff_0_ff1.bias").expect("add");
    assert_eq!(bias.input_tms[0], []);
    assert_eq!(
        bias.input_tms[1],
        [Tm::Broadcast {
            dim: Dim::R,
            factor: 4
        }]
    );
    assert!(g.op("ff_0_ff2.bias").expect("last").untilize_output);
    let loc = g
        .op("ff_0_ff2.bias")
        .expect("last")
        .grid_loc
        .expect("placed");
    assert_eq!((loc.r, loc.c), (8, 8));
}

#[test]
fn a_pybuda_feedforward_netlist_reads_its_program_in_order() {
    let n = load(FF);
    let p = n.program("run_fwd").expect("program");
    let ins: Vec<&Instruction> = p.instructions.iter().map(|s| &s.instruction).collect();
    assert_eq!(
        ins.len(),
        9,
        "8 written instructions and the appended endprogram"
    );
    assert_eq!(
        ins[0],
        &Instruction::Param(vec!["p_microbatch_count".into()])
    );
    let Instruction::Var(vars) = ins[1] else {
        panic!("var expected, found {:?}", ins[1])
    };
    let pairs: Vec<(&str, i64)> = vars.iter().map(|v| (v.name.as_str(), v.init)).collect();
    assert_eq!(
        pairs,
        [("c_microbatch_size", 1), ("c_one", 1), ("c_zero", 0)]
    );
    assert!(matches!(ins[2], Instruction::StaticVar(v) if v.len() == 2));
    assert_eq!(
        ins[3],
        &Instruction::Loop(Operand::Var("p_microbatch_count".into()))
    );
    let Instruction::Execute(e) = ins[4] else {
        panic!("execute expected")
    };
    assert_eq!(e.graph_name, "fwd_0");
    assert_eq!(e.queue_settings.len(), 7);
    let input = e.queue_setting("input_0_ff_0_ff1").expect("input settings");
    assert_eq!(input.rd_ptr_local, Some(Operand::Var("lptr_q0".into())));
    assert_eq!(input.prologue, Some(Operand::Imm(0)));
    // Defaults for a queue: the local read pointer and the write pointer advance by one.
    assert_eq!(input.rd_ptr_autoinc, Operand::Imm(1));
    assert_eq!(input.global_rdptr_autoinc, Operand::Imm(0));
    let ram = e
        .queue_setting("ff.bert.encoder.layer.0.output.dense.weight")
        .expect("ram settings");
    assert_eq!(ram.wr_ptr_global, Some(Operand::Var("c_zero".into())));
    // `zero: False` is a boolean immediate.
    assert_eq!(ram.zero, Some(Operand::Imm(0)));
    assert_eq!(
        ram.rd_ptr_autoinc,
        Operand::Imm(0),
        "a ram moves nothing by default"
    );
    assert_eq!(
        ins[5],
        &Instruction::VarInst {
            dest: "gptr_q0".into(),
            op: VarInstOp::IncWrap,
            args: vec![Operand::Var("c_microbatch_size".into()), Operand::Imm(2)],
        }
    );
    assert_eq!(ins[7], &Instruction::EndLoop);
    assert_eq!(ins[8], &Instruction::EndProgram);
}

#[test]
fn a_pybuda_feedforward_netlist_reads_its_test_config() {
    let n = load(FF);
    let tc = n.test_config.as_ref().expect("test-config");
    let cmp = tc.comparison.as_ref().expect("comparison");
    assert_eq!(cmp.comparison, ComparisonType::AllCloseHw);
    assert_eq!(
        (cmp.atol, cmp.rtol, cmp.check_pcc, cmp.check_pct),
        (0.01, 0.15, 0.99, 0.80)
    );
    let stim = tc.stimulus.as_ref().expect("stimulus");
    assert_eq!(stim.stimulus, Some(StimulusType::Uniform));
    assert_eq!(stim.uniform_lower_bound, Some(-1.0));
    let keys: Vec<&str> = stim.overrides.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, [r".*\.weight", r".*\.bias", r".*\.bias_s_brcst.*"]);
    let (_, weight) = &stim.overrides[0];
    assert_eq!(weight.stimulus, Some(StimulusType::Normal));
    assert_eq!(weight.normal_stddev, Some(0.001));
    // Written 1-based, stored 0-based.
    assert_eq!(stim.overrides[1].1.set_tile_rows, Some([0, 0]));
    let io = tc.io_config.as_ref().expect("io-config");
    assert_eq!(io.inputs, ["input_0_ff_0_ff1"]);
    assert_eq!(io.outputs, ["ff.output_ff_0_ff2.bias"]);
}

#[test]
fn an_identity_matmul_netlist_reads_its_sparse_attributes() {
    let rel = "verif/op_tests/netlists/netlist_matmul_ident_op.yaml";
    let n = load(rel);
    let (_, op) = n.op("op0").expect("op0");
    let a = &op.attributes;
    assert!(a.identity);
    assert_eq!((a.m_k, a.u_kt), (Some(58), Some(2)));
    assert_eq!(a.num_sparse_tiles, Some(128));
    assert_eq!(a.num_index_tiles, Some(16));
    assert_eq!(a.sparse_tile_ptr_bits, Some(8));
    assert!(op.grid_transpose);
    assert_eq!(
        op.in_df,
        [DataFormat::Bfp2, DataFormat::Bfp8, DataFormat::RawUInt32]
    );
    assert_eq!(
        op.input_tms[2],
        [Tm::Broadcast {
            dim: Dim::C,
            factor: 2
        }]
    );
    // A buffer list continued on the next line.
    let q = n.queue("input0_sparse").expect("queue");
    assert_eq!(
        q.buffers[3],
        QueueBuffer {
            channel: 0,
            address: 0x1002_40c0
        }
    );
    let tc = n.test_config.as_ref().expect("test-config");
    assert_eq!(tc.test_arg("program_loop_count"), Some(&Value::Int(2)));
}

#[test]
fn a_flow_map_continued_at_its_keys_indentation_is_read_as_upstream_reads_it() {
    // The execute's queue_settings continue on lines indented like `execute` itself, which
    // yaml-cpp accepts and strict YAML does not.
    let rel = "verif/netlist_tests/netlists/basic/netlist_matmul.yaml";
    let text = read(rel);
    let n = load(rel);
    let p = &n.programs()[0];
    let execute_line = text
        .lines()
        .position(|l| l.contains("- execute:"))
        .expect("execute")
        + 1;
    let q1_line = text
        .lines()
        .position(|l| l.trim_start().starts_with("q1:"))
        .expect("q1")
        + 1;
    let step = p
        .instructions
        .iter()
        .find(|s| matches!(s.instruction, Instruction::Execute(_)))
        .expect("execute step");
    assert_eq!(step.line as usize, execute_line);
    let Instruction::Execute(e) = &step.instruction else {
        unreachable!()
    };
    let names: Vec<&str> = e.queue_settings.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["q0", "q1", "q2"]);
    assert_eq!(e.queue_settings[1].line as usize, q1_line);
}

#[test]
fn a_fused_op_netlist_reads_its_schedules() {
    let rel = "verif/netlist_tests/netlists/basic/netlist_fused_op_with_reduce.yaml";
    let n = load(rel);
    let f = n.fused_op("0").expect("fused op 0");
    assert_eq!((f.inputs, f.intermediates), (2, 2));
    assert_eq!(f.schedules.len(), 2);
    assert_eq!(f.schedules[0].ops.len(), 6);
    let sqrt = &f.schedules[0].ops[2];
    assert_eq!(sqrt.name, "sqrt");
    assert_eq!(sqrt.inputs, [FusedOperand::Intermed(0)]);
    assert_eq!(sqrt.pop, [FusedOperand::Intermed(0)]);
    assert_eq!(sqrt.output, FusedOutput::Dest);
    let reduce = &f.schedules[1].ops[0];
    assert_eq!(reduce.attributes.dim, Some(Dim::C));
    assert_eq!(reduce.output, FusedOutput::Output);
    let (_, op) = n
        .graphs()
        .iter()
        .flat_map(|g| g.ops.iter().map(move |o| (g, o)))
        .find(|(_, o)| o.op_type == OpType::FusedOp)
        .expect("a fused_op op");
    assert_eq!(op.attributes.fused_op_id.as_deref(), Some("0"));
}
