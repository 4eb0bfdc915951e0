//! One test per rule of the netlist reader and validator, on small netlists written here: a
//! valid base netlist, changed in one place per test.

use ttrt::format::{Arch, DataFormat, UblockOrder};
use ttrt::netlist::{
    parse, Dim, Instruction, NetlistError, OpType, OpTypeName, Operand, QueueBuffer, QueueLocation,
    Tm, Value,
};

const BASE: &str = "\
devices:
  arch: [grayskull, wormhole_b0]
queues:
  in0: {type: queue, input: HOST, entries: 2, grid_size: [1, 1], t: 1, mblock: [1, 1], ublock: [2, 2], df: Float16_b, target_device: 0, loc: dram, dram: [[0, 0x30000000]]}
  in1: {type: ram, input: HOST, entries: 1, grid_size: [1, 2], t: 1, mblock: [1, 1], ublock: [2, 1], df: Bfp8_b, target_device: 0, loc: dram, dram: [[1, 0x31000000], [2, 4096]]}
  out0: {type: queue, input: mm, entries: 2, grid_size: [1, 1], t: 1, mblock: [1, 1], ublock: [2, 2], df: Float16_b, target_device: 0, loc: host, host: [0x1000]}
graphs:
  fwd:
    target_device: 0
    input_count: 1
    mm: {type: matmul, grid_loc: [0, 0], grid_size: [1, 1], inputs: [in0, in1], in_df: [Float16_b, Bfp8_b], acc_df: Float16_b, out_df: Float16_b, intermed_df: Float16_b, ublock_order: r, buf_size_mb: 2, math_fidelity: HiFi3, untilize_output: false, t: 1, mblock: [1, 1], ublock: [2, 2], attributes: {m_k: 1, u_kt: 2, future_knob: [1, 2]}, input_1_tms: [transpose]}
programs:
  - main:
    - param: [$p_loops]
    - var: {$c_zero: 0, $c_one: 1}
    - staticvar: [$lptr, $gptr]
    - loop: $p_loops
    - execute: {graph_name: fwd, queue_settings: {
        in0: {prologue: false, epilogue: false, zero: False, rd_ptr_local: $lptr, rd_ptr_global: $gptr},
        in1: {prologue: true, epilogue: false, zero: false, rd_ptr_global: $c_zero, wr_ptr_global: $c_zero}}}
    - varinst: [$lptr, incwrap, $c_one, 4]
    - varinst: [$gptr, incwrap, $c_one, 4]
    - endloop
";

/// BASE with `from` (which must occur exactly once) replaced by `to`.
fn with(from: &str, to: &str) -> String {
    assert_eq!(
        BASE.matches(from).count(),
        1,
        "`{from}` must occur once in BASE"
    );
    BASE.replacen(from, to, 1)
}

/// 1-based line of the first line of BASE containing `needle`.
fn line_of(text: &str, needle: &str) -> u32 {
    text.lines()
        .position(|l| l.contains(needle))
        .expect("needle in text") as u32
        + 1
}

fn rejected(text: &str) -> NetlistError {
    match parse(text, "t.yaml") {
        Ok(_) => panic!("netlist should be rejected:\n{text}"),
        Err(e) => e,
    }
}

fn assert_message(e: &NetlistError, words: &[&str]) {
    let shown = e.to_string();
    assert!(!shown.contains('\n'), "message is not one line: {shown}");
    assert!(
        shown.starts_with("t.yaml:"),
        "message does not start with file:line: {shown}"
    );
    for w in words {
        assert!(shown.contains(w), "message lacks `{w}`: {shown}");
    }
}

#[test]
fn the_base_netlist_is_valid() {
    let n = parse(BASE, "t.yaml").expect("base netlist");
    assert_eq!(n.devices.arch, [Arch::Grayskull, Arch::WormholeB0]);
    assert_eq!(n.queues().len(), 3);
    assert_eq!(n.graph("fwd").expect("graph").ops.len(), 1);
}

#[test]
fn hex_and_decimal_addresses_are_read_as_numbers() {
    let n = parse(BASE, "t.yaml").expect("base");
    let in1 = n.queue("in1").expect("in1");
    assert_eq!(
        in1.buffers,
        [
            QueueBuffer {
                channel: 1,
                address: 0x3100_0000
            },
            QueueBuffer {
                channel: 2,
                address: 4096
            }
        ]
    );
    let out0 = n.queue("out0").expect("out0");
    assert_eq!(out0.loc, QueueLocation::Host);
    assert_eq!(
        out0.buffers,
        [QueueBuffer {
            channel: 0,
            address: 4096
        }]
    );
}

#[test]
fn queue_defaults_are_upstreams() {
    let n = parse(BASE, "t.yaml").expect("base");
    let q = n.queue("in0").expect("in0");
    assert_eq!(q.ublock_order, UblockOrder::R);
    assert_eq!(q.layout, ttrt::format::IoLayout::Tilized);
    assert_eq!((q.tile_dim.height, q.tile_dim.width), (32, 32));
    assert_eq!(q.df, DataFormat::Float16B);
}

#[test]
fn unknown_attributes_are_kept_by_name_and_known_ones_typed() {
    let n = parse(BASE, "t.yaml").expect("base");
    let (_, op) = n.op("mm").expect("mm");
    assert_eq!((op.attributes.m_k, op.attributes.u_kt), (Some(1), Some(2)));
    assert_eq!(
        op.attributes.other,
        [(
            "future_knob".to_string(),
            Value::List(vec![Value::Int(1), Value::Int(2)])
        )]
    );
    assert_eq!(op.input_tms[1], [Tm::Transpose]);
    assert!(op.transposes_input(1));
}

#[test]
fn a_value_of_the_wrong_type_is_rejected_naming_key_line_and_found_value() {
    let text = with("entries: 2, grid_size: [1, 1], t: 1, mblock: [1, 1], ublock: [2, 2], df: Float16_b, target_device: 0, loc: dram", "entries: two, grid_size: [1, 1], t: 1, mblock: [1, 1], ublock: [2, 2], df: Float16_b, target_device: 0, loc: dram");
    let e = rejected(&text);
    assert_eq!(e.path, "queues.in0.entries");
    assert_eq!(e.line, Some(line_of(&text, "in0: {")));
    assert_message(&e, &["expected an integer", "`two`"]);
}

#[test]
fn a_list_where_a_number_belongs_is_rejected() {
    let e = rejected(&with("input_count: 1", "input_count: [1]"));
    assert_eq!(e.path, "graphs.fwd.input_count");
    assert_message(&e, &["expected an integer", "a list of 1"]);
}

#[test]
fn a_missing_required_key_is_named() {
    let e = rejected(&with("ublock: [2, 1], df: Bfp8_b,", "ublock: [2, 1],"));
    assert_eq!(e.path, "queues.in1");
    assert_message(&e, &["missing required key `df`"]);
}

#[test]
fn an_unknown_queue_key_is_rejected_naming_it() {
    let e = rejected(&with(
        "in0: {type: queue,",
        "in0: {colour: red, type: queue,",
    ));
    assert_eq!(e.path, "queues.in0.colour");
    assert_message(&e, &["unknown queue key `colour`", "expected one of"]);
}

#[test]
fn an_unknown_op_key_is_rejected_naming_it() {
    let e = rejected(&with("buf_size_mb: 2,", "buf_size_mb: 2, speed: fast,"));
    assert_eq!(e.path, "graphs.fwd.mm.speed");
    assert_message(&e, &["unknown op key `speed`"]);
}

#[test]
fn an_unknown_data_format_is_rejected_with_the_known_ones() {
    let e = rejected(&with("df: Bfp8_b,", "df: Bfp9,"));
    assert_message(&e, &["unknown data format `Bfp9`", "Float16_b"]);
}

#[test]
fn a_word_outside_its_choices_is_rejected_naming_the_choices_and_the_word() {
    let cases = [
        ("in0: {type: queue,", "in0: {type: fifo,", "expected queue or ram, found `fifo`"),
        (
            "target_device: 0, loc: dram, dram: [[0,",
            "target_device: 0, loc: disk, dram: [[0,",
            "expected dram or host, found `disk`",
        ),
        (
            "ublock_order: r,",
            "ublock_order: rc,",
            "expected ublock order r or c, found `rc`",
        ),
        (
            "ublock: [2, 2], df: Float16_b, target_device: 0, loc: host",
            "ublock: [2, 2], df: Float16_b, target_device: 0, layout: tiled, loc: host",
            "expected tilized or flat, found `tiled`",
        ),
        (
            "entries: 2, grid_size: [1, 1], t: 1, mblock: [1, 1], ublock: [2, 2], df: Float16_b, target_device: 0, loc: dram",
            "entries: -2, grid_size: [1, 1], t: 1, mblock: [1, 1], ublock: [2, 2], df: Float16_b, target_device: 0, loc: dram",
            "expected a non-negative 32-bit integer, found -2",
        ),
        ("host: [0x1000]", "host: [-4096]", "expected an address (>= 0), found -4096"),
    ];
    for (from, to, message) in cases {
        let e = rejected(&with(from, to));
        assert_eq!(e.message, message);
        assert_message(&e, &[message]);
    }
    // Both spellings upstream writes are read.
    let n = parse(
        &with("in0: {type: queue,", "in0: {ublock_order: C, type: queue,"),
        "t.yaml",
    )
    .expect("valid");
    assert_eq!(n.queue("in0").map(|q| q.ublock_order), Some(UblockOrder::C));
    let n = parse(&with("loc: host", "loc: HOST"), "t.yaml").expect("valid");
    assert_eq!(n.queue("out0").map(|q| q.loc), Some(QueueLocation::Host));
}

#[test]
fn attribute_words_outside_their_choices_are_rejected_naming_the_choices() {
    let cases = [
        (
            "attributes: {m_k: 1,",
            "attributes: {relu_en: true, relu_mode: low, m_k: 1,",
            "expected relu_mode min, max or none, found `low`",
        ),
        (
            "attributes: {m_k: 1,",
            "attributes: {granularity: z, m_k: 1,",
            "expected splice granularity t or ublock, found `z`",
        ),
        (
            "attributes: {m_k: 1,",
            "attributes: {sort: min, m_k: 1,",
            "expected topk sort max or argmax, found `min`",
        ),
    ];
    for (from, to, message) in cases {
        let e = rejected(&with(from, to));
        assert_eq!(e.message, message);
    }
    let reduce = with("mm: {type: matmul,", "mm: {type: reduce,").replacen(
        "attributes: {m_k: 1,",
        "attributes: {type: mean, m_k: 1,",
        1,
    );
    let e = rejected(&reduce);
    assert_eq!(
        e.message,
        "expected reduce type max, avg or sum, found `mean`"
    );
}

#[test]
fn a_duplicate_key_is_rejected_naming_the_key_and_its_line() {
    let text = with(
        "    input_count: 1\n",
        "    input_count: 1\n    input_count: 2\n",
    );
    let e = rejected(&text);
    assert_eq!(e.line, Some(line_of(&text, "input_count: 2")));
    assert_message(&e, &["duplicate key `input_count`"]);
}

/// `queues:` of `n` keys, `q0` to `q{n-1}`, then `dup` once more; its line and the text.
fn queues_with_a_late_duplicate(n: usize, dup: usize) -> (String, u32) {
    let mut text = String::from("devices:\n  arch: [wormhole_b0]\nqueues:\n");
    for i in 0..n {
        text.push_str(&format!("  q{i}: 0\n"));
    }
    text.push_str(&format!("  q{dup}: 0\n"));
    let line = text.lines().count() as u32;
    (text, line)
}

/// Parses on a thread and fails (instead of hanging the suite) if that takes minutes: a scan of
/// every earlier key per key took that long on 200k keys.
fn rejected_within_a_watchdog(text: String) -> NetlistError {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(parse(&text, "t.yaml"));
    });
    match rx.recv_timeout(std::time::Duration::from_secs(120)) {
        Ok(Ok(_)) => panic!("a netlist with a duplicate key was accepted"),
        Ok(Err(e)) => e,
        Err(_) => panic!("no answer within 2 minutes: the duplicate-key check is not linear"),
    }
}

#[test]
fn a_duplicate_key_at_the_end_of_a_200k_key_map_is_found_with_its_line() {
    // One duplicate of a key among the first few (which a small map scans) and one of a key
    // past them (which a large map looks up).
    for dup in [3, 123_456] {
        let (text, line) = queues_with_a_late_duplicate(200_000, dup);
        let e = rejected_within_a_watchdog(text);
        assert_eq!(e.line, Some(line), "{e}");
        assert_message(&e, &[&format!("duplicate key `q{dup}`")]);
    }
}

#[test]
fn a_duplicate_key_inside_a_flow_map_is_rejected() {
    let e = rejected(&with(
        "entries: 1, grid_size: [1, 2]",
        "entries: 1, entries: 1, grid_size: [1, 2]",
    ));
    assert_message(&e, &["duplicate key `entries`"]);
}

#[test]
fn an_op_input_that_names_no_queue_or_op_is_rejected() {
    let e = rejected(&with("inputs: [in0, in1]", "inputs: [in0, nowhere]"));
    assert_eq!(e.path, "graphs.fwd.mm.inputs[1]");
    assert_message(&e, &["input `nowhere` is neither a queue nor an op"]);
}

#[test]
fn a_queue_fed_by_an_unknown_op_is_rejected() {
    let e = rejected(&with("input: mm,", "input: mmm,"));
    assert_eq!(e.path, "queues.out0.input");
    assert_message(&e, &["`mmm` is neither HOST nor an op"]);
}

#[test]
fn a_buffer_list_must_have_one_buffer_per_core() {
    let e = rejected(&with(
        "dram: [[1, 0x31000000], [2, 4096]]",
        "dram: [[1, 0x31000000]]",
    ));
    assert_eq!(e.path, "queues.in1.dram");
    assert_message(&e, &["one buffer per core", "[1, 2] (2)", "found 1"]);
}

#[test]
fn zero_sized_grids_blocks_and_entries_are_rejected() {
    for (from, to, key) in [
        (
            "in0: {type: queue, input: HOST, entries: 2",
            "in0: {type: queue, input: HOST, entries: 0",
            "queues.in0.entries",
        ),
        (
            "ublock: [2, 1], df: Bfp8_b",
            "ublock: [0, 1], df: Bfp8_b",
            "queues.in1.ublock",
        ),
        (
            "ublock_order: r, buf_size_mb: 2, math_fidelity: HiFi3, untilize_output: false, t: 1,",
            "ublock_order: r, buf_size_mb: 2, math_fidelity: HiFi3, untilize_output: false, t: 0,",
            "graphs.fwd.mm.t",
        ),
    ] {
        let e = rejected(&with(from, to));
        assert_eq!(e.path, key);
        assert_message(&e, &["must be positive, found 0"]);
    }
}

#[test]
fn in_df_must_give_one_format_per_input() {
    let text = with(
        "in_df: [Float16_b, Bfp8_b]",
        "in_df: [Float16_b, Bfp8_b, Bfp8_b]",
    );
    let e = rejected(&text);
    assert_eq!(e.path, "graphs.fwd.mm.in_df");
    assert_message(&e, &["one data format per input (2), found 3"]);
}

#[test]
fn a_single_in_df_applies_to_every_input() {
    let n = parse(
        &with("in_df: [Float16_b, Bfp8_b]", "in_df: [Bfp8_b]"),
        "t.yaml",
    )
    .expect("valid");
    assert_eq!(
        n.op("mm").expect("mm").1.in_df,
        [DataFormat::Bfp8B, DataFormat::Bfp8B]
    );
}

#[test]
fn a_ublock_that_does_not_fit_dest_in_float32_is_rejected() {
    // Half-sync dest holds 8 tiles of 16-bit data and 4 of Float32: 2x2 fits, 4x2 does not.
    let text = with("acc_df: Float16_b", "acc_df: Float32");
    parse(&text, "t.yaml").expect("2x2 fits Float32 dest");
    let text = text
        .replace("ublock: [2, 2], attributes", "ublock: [4, 2], attributes")
        .replace("out0: {type: queue, input: mm, entries: 2, grid_size: [1, 1], t: 1, mblock: [1, 1], ublock: [2, 2]", "out0: {type: queue, input: mm, entries: 2, grid_size: [1, 1], t: 1, mblock: [1, 1], ublock: [4, 2]");
    let e = rejected(&text);
    assert_eq!(e.path, "graphs.fwd.mm.ublock");
    assert_message(
        &e,
        &[
            "ublock [4, 2] (8 tiles) cannot fit into dest",
            "at most 4",
            "Float32",
        ],
    );
}

#[test]
fn transpose_on_matmul_input_0_is_rejected() {
    let e = rejected(&with(
        "input_1_tms: [transpose]",
        "input_0_tms: [transpose]",
    ));
    assert_eq!(e.path, "graphs.fwd.mm.input_0_tms");
    assert_message(&e, &["transpose is only allowed on matmul input 1"]);
}

#[test]
fn tms_are_read_in_order_with_their_factors() {
    let n = parse(
        &with(
            "input_1_tms: [transpose]",
            "input_0_tms: [broadcast: {r: 2, c: 3}, hslice: 2, hstack: 2, vslice: 4, vstack: 4, pad: [1, 2, 0.5]]",
        ),
        "t.yaml",
    )
    .expect("valid");
    let (_, op) = n.op("mm").expect("mm");
    assert_eq!(
        op.input_tms[0],
        [
            Tm::Broadcast {
                dim: Dim::R,
                factor: 2
            },
            Tm::Broadcast {
                dim: Dim::C,
                factor: 3
            },
            Tm::Hslice(2),
            Tm::Hstack(2),
            Tm::Vslice(4),
            Tm::Vstack(4),
            Tm::Pad {
                rt: 1,
                ct: 2,
                value: 0.5
            },
        ]
    );
}

#[test]
fn tile_broadcast_outside_a_fused_op_is_rejected() {
    let e = rejected(&with(
        "input_1_tms: [transpose]",
        "input_1_tms: [tile_broadcast: r]",
    ));
    assert_message(&e, &["tile_broadcast is only allowed inside fused ops"]);
}

#[test]
fn a_tm_list_for_an_input_the_op_lacks_is_rejected() {
    let e = rejected(&with(
        "input_1_tms: [transpose]",
        "input_2_tms: [transpose]",
    ));
    assert_message(
        &e,
        &["`input_2_tms` names input 2, but the op has 2 inputs"],
    );
}

#[test]
fn a_loop_without_endloop_is_rejected() {
    let e = rejected(&with("    - endloop\n", ""));
    assert_eq!(e.path, "programs.main");
    assert_message(&e, &["1 loop without a matching endloop"]);
}

#[test]
fn an_endloop_without_loop_is_rejected_at_its_line() {
    let text = with("    - loop: $p_loops\n", "");
    let e = rejected(&text);
    assert_eq!(e.line, Some(line_of(&text, "- endloop")));
    assert_message(&e, &["endloop without a matching loop"]);
}

#[test]
fn a_varinst_on_an_undeclared_variable_is_rejected() {
    let text = with(
        "- varinst: [$gptr, incwrap, $c_one, 4]",
        "- varinst: [$gptr, incwrap, $c_two, 4]",
    );
    let e = rejected(&text);
    assert_eq!(e.line, Some(line_of(&text, "$c_two")));
    assert_message(&e, &["variable `$c_two` is used before it is declared"]);
}

#[test]
fn a_queue_setting_with_an_undeclared_variable_is_rejected() {
    let e = rejected(&with("rd_ptr_global: $gptr}", "rd_ptr_global: $gtpr}"));
    assert_eq!(
        e.path,
        "programs.main[4].execute.queue_settings.in0.rd_ptr_global"
    );
    assert_message(&e, &["`$gtpr` is used before it is declared"]);
}

#[test]
fn a_varinst_with_the_wrong_argument_count_is_rejected() {
    let e = rejected(&with(
        "- varinst: [$lptr, incwrap, $c_one, 4]",
        "- varinst: [$lptr, incwrap, $c_one]",
    ));
    assert_message(&e, &["varinst incwrap takes 2 arguments, found 1"]);
}

#[test]
fn an_unknown_instruction_is_rejected_naming_it() {
    let e = rejected(&with("    - endloop\n", "    - endloop\n    - jump: 3\n"));
    assert_message(&e, &["unknown instruction `jump`"]);
}

#[test]
fn param_must_be_the_first_instruction() {
    let e = rejected(&with(
        "    - param: [$p_loops]\n    - var: {$c_zero: 0, $c_one: 1}\n",
        "    - var: {$c_zero: 0, $c_one: 1}\n    - param: [$p_loops]\n",
    ));
    assert_message(&e, &["param must be the first instruction"]);
}

#[test]
fn execute_of_an_unknown_graph_is_rejected() {
    let e = rejected(&with("graph_name: fwd,", "graph_name: bwd,"));
    assert_eq!(e.path, "programs.main[4].execute.graph_name");
    assert_message(&e, &["graph `bwd`", "does not declare"]);
}

#[test]
fn queue_settings_for_an_unknown_queue_are_rejected() {
    let e = rejected(&with("        in0: {prologue", "        inX: {prologue"));
    assert_message(&e, &["queue settings for `inX`, which is not a queue"]);
}

#[test]
fn a_queue_must_not_set_wr_ptr_global() {
    let e = rejected(&with(
        "rd_ptr_global: $gptr}",
        "rd_ptr_global: $gptr, wr_ptr_global: $gptr}",
    ));
    assert_message(
        &e,
        &["queue `in0` sets wr_ptr_global, which only rams may set"],
    );
}

#[test]
fn a_host_input_queue_without_queue_settings_is_rejected() {
    let e = rejected(&with(
        "        in0: {prologue: false, epilogue: false, zero: False, rd_ptr_local: $lptr, rd_ptr_global: $gptr},\n",
        "",
    ));
    assert_message(&e, &["missing queue settings for input queue `in0`"]);
}

#[test]
fn program_operands_read_variables_booleans_and_integers() {
    let n = parse(BASE, "t.yaml").expect("base");
    let p = n.program("main").expect("main");
    let Instruction::Execute(e) = &p.instructions[4].instruction else {
        panic!("execute expected");
    };
    let in0 = e.queue_setting("in0").expect("in0");
    assert_eq!(in0.zero, Some(Operand::Imm(0)), "`False` is a boolean");
    assert_eq!(in0.rd_ptr_local, Some(Operand::Var("lptr".into())));
    let in1 = e.queue_setting("in1").expect("in1");
    assert_eq!(in1.prologue, Some(Operand::Imm(1)));
    assert_eq!(p.params().collect::<Vec<_>>(), ["p_loops"]);
    assert_eq!(
        p.instructions.last().map(|s| &s.instruction),
        Some(&Instruction::EndProgram)
    );
}

#[test]
fn an_op_type_ttrt_does_not_know_is_read_and_kept_by_name() {
    // The reader takes any type, as upstream's does; compiling the graph refuses it.
    let text = with("type: matmul,", "type: frobnicate,").replace(", input_1_tms: [transpose]", "");
    let n = parse(&text, "t.yaml").expect("an unknown op type is read");
    let op = n.graph("fwd").and_then(|g| g.op("mm")).expect("op mm");
    assert_eq!(op.op_type, OpTypeName::Unknown("frobnicate".into()));
    assert_eq!(op.op_type.as_str(), "frobnicate");
    assert_eq!(op.op_type.known(), None);
    // The attributes of a matmul mean nothing to it, and are kept as read.
    assert_eq!((op.attributes.m_k, op.attributes.u_kt), (Some(1), Some(2)));
    let base = parse(BASE, "t.yaml").expect("base netlist");
    assert_eq!(base.graphs[0].ops[0].op_type, OpType::Matmul);
}

#[test]
fn a_transpose_into_an_op_type_ttrt_does_not_know_is_rejected_naming_the_type() {
    let e = rejected(&with("type: matmul,", "type: frobnicate,"));
    assert_message(
        &e,
        &[
            "transpose is only allowed on matmul input 1",
            "found on frobnicate input 1",
        ],
    );
}

#[test]
fn a_fused_sub_op_of_a_type_fused_ops_do_not_take_is_rejected_naming_it() {
    // ethernet_datacopy stays its own type: fused ops take datacopy and nop, not it.
    for ty in ["frobnicate", "ethernet_datacopy", "relu", "splice"] {
        let e = rejected(&fused_netlist(
            &FUSED.replace("type: exp,", &format!("type: {ty},")),
        ));
        assert_message(
            &e,
            &[&format!(
                "sub-op `s1` has type `{ty}`, which fused ops do not support"
            )],
        );
    }
    for ty in ["datacopy", "nop", "sqrt"] {
        let n = parse(
            &fused_netlist(&FUSED.replace("type: exp,", &format!("type: {ty},"))),
            "t.yaml",
        )
        .unwrap_or_else(|e| panic!("{ty}: {e}"));
        let sub = &n.fused_op("7").expect("fused op").schedules[0].ops[1];
        assert_eq!(sub.op_type.as_str(), ty);
        assert!(sub.op_type.known().is_some());
    }
}

#[test]
fn a_fused_op_id_that_does_not_exist_is_rejected() {
    let text = with("type: matmul,", "type: fused_op,").replace(
        "attributes: {m_k: 1, u_kt: 2, future_knob: [1, 2]}, input_1_tms: [transpose]",
        "attributes: {fused_op_id: 7}",
    );
    let e = rejected(&text);
    assert_message(&e, &["fused_op_id `7` is not in the fused_ops section"]);
}

const FUSED: &str = "
fused_ops:
  7:
    inputs: 2
    intermediates: 1
    schedules:
      -
        - s0: {type: add, inputs: [input0, input1], mblock: [1, 1], ublock: [2, 2], output: intermed0}
        - s1: {type: exp, inputs: [intermed0], pop: [intermed0], mblock: [1, 1], ublock: [2, 2], output: output}
";

fn fused_netlist(fused: &str) -> String {
    let text = with("type: matmul,", "type: fused_op,")
        .replace(
            "attributes: {m_k: 1, u_kt: 2, future_knob: [1, 2]}, input_1_tms: [transpose]",
            "attributes: {fused_op_id: 7}",
        )
        .replace(
            "in_df: [Float16_b, Bfp8_b]",
            "in_df: [Float16_b, Float16_b]",
        );
    text + fused
}

#[test]
fn a_fused_op_with_matching_inputs_is_valid() {
    let n = parse(&fused_netlist(FUSED), "t.yaml").expect("valid fused op");
    let f = n.fused_op("7").expect("fused op 7");
    assert_eq!(f.schedules[0].ops.len(), 2);
}

#[test]
fn a_fused_op_input_count_must_match_the_op() {
    let e = rejected(&fused_netlist(&FUSED.replace("inputs: 2", "inputs: 3")));
    assert_message(
        &e,
        &["fused_op_id `7` has inputs: 3, but op `mm` has 2 inputs"],
    );
}

#[test]
fn an_intermediate_never_popped_is_rejected() {
    let e = rejected(&fused_netlist(&FUSED.replace("pop: [intermed0], ", "")));
    assert_message(&e, &["intermed0", "never popped"]);
}

#[test]
fn an_intermediate_read_before_it_is_written_is_rejected() {
    let e = rejected(&fused_netlist(
        &FUSED.replace("inputs: [input0, input1]", "inputs: [input0, intermed0]"),
    ));
    assert_message(&e, &["reads intermed0 before any sub-op writes it"]);
}

#[test]
fn a_sub_op_attribute_upstream_does_not_know_is_rejected() {
    let e = rejected(&fused_netlist(&FUSED.replace(
        "output: intermed0}",
        "output: intermed0, attributes: {colour: red}}",
    )));
    assert_message(&e, &["attribute `colour` is not supported on a add sub-op"]);
}

#[test]
fn an_empty_netlist_says_it_is_empty() {
    for text in ["", "   \n", "# only a comment\n", "---\n"] {
        let e = rejected(text);
        assert_message(&e, &["netlist is empty"]);
    }
}

#[test]
fn a_document_that_is_not_a_map_is_rejected() {
    let e = rejected("- a\n- b\n");
    assert_message(&e, &["expected a map", "a list of 2"]);
}

#[test]
fn a_yaml_syntax_error_names_its_line() {
    let text = with(
        "  arch: [grayskull, wormhole_b0]",
        "  arch: [grayskull, wormhole_b0",
    );
    let e = rejected(&text);
    assert!(e.line.is_some());
    assert_message(&e, &["YAML syntax error"]);
}

#[test]
fn deep_nesting_is_refused_without_overflowing_the_stack() {
    let text = "[".repeat(100_000);
    let e = rejected(&text);
    assert!(
        e.message.contains("nested deeper") || e.message.contains("YAML syntax error"),
        "{e}"
    );
    let text = format!("a: {}1{}", "[".repeat(200), "]".repeat(200));
    let e = rejected(&text);
    assert_message(&e, &["nested deeper than 64 levels"]);
}

#[test]
fn an_unknown_arch_is_rejected() {
    let e = rejected(&with("arch: [grayskull, wormhole_b0]", "arch: [greyskull]"));
    assert_eq!(e.path, "devices.arch[0]");
    assert_message(&e, &["unknown arch `greyskull`"]);
}

#[test]
fn errors_name_the_file_line_and_path_in_that_order() {
    let text = with("math_fidelity: HiFi3", "math_fidelity: HiFi9");
    let e = rejected(&text);
    let line = line_of(&text, "HiFi9");
    assert_eq!(
        e.to_string(),
        format!("t.yaml:{line}: graphs.fwd.mm.math_fidelity: unknown math fidelity `HiFi9` (expected LoFi, HiFi2, HiFi3 or HiFi4)")
    );
}
