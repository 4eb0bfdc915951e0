//! The program interpreter against a recording host: loops, variables, every varinst op,
//! queue settings and their defaults, pointer bindings, params, allocation, and every program
//! of the upstream netlist corpus.

use crate::support;

use support::{corpus, yaml_files};

use ttrt::netlist::{
    parse, Interpreter, Netlist, PointerKind, ProgramHost, ResolvedSetting, Value,
};

/// What the host was asked, in order.
#[derive(Clone, Debug, PartialEq)]
enum Call {
    Execute(usize, Vec<ResolvedSetting>),
    Allocate(Vec<usize>),
    Deallocate(Vec<usize>),
    Pointer(usize, PointerKind, u32),
}

#[derive(Default)]
struct Recorder {
    calls: Vec<Call>,
    /// Fail the nth execute (0-based) when set.
    fail_execute: Option<usize>,
}

impl Recorder {
    fn executes(&self) -> Vec<&[ResolvedSetting]> {
        self.calls
            .iter()
            .filter_map(|c| match c {
                Call::Execute(_, s) => Some(s.as_slice()),
                _ => None,
            })
            .collect()
    }
    fn pointers(&self) -> Vec<(usize, PointerKind, u32)> {
        self.calls
            .iter()
            .filter_map(|c| match c {
                Call::Pointer(q, k, v) => Some((*q, *k, *v)),
                _ => None,
            })
            .collect()
    }
}

impl ProgramHost for Recorder {
    type Error = String;

    fn execute(&mut self, graph: usize, settings: &[ResolvedSetting]) -> Result<(), String> {
        let n = self.executes().len();
        if self.fail_execute == Some(n) {
            return Err("device hung".into());
        }
        self.calls.push(Call::Execute(graph, settings.to_vec()));
        Ok(())
    }
    fn allocate_queues(&mut self, queues: &[usize]) -> Result<(), String> {
        self.calls.push(Call::Allocate(queues.to_vec()));
        Ok(())
    }
    fn deallocate_queues(&mut self, queues: &[usize]) -> Result<(), String> {
        self.calls.push(Call::Deallocate(queues.to_vec()));
        Ok(())
    }
    fn set_queue_pointer(
        &mut self,
        queue: usize,
        which: PointerKind,
        value: u32,
    ) -> Result<(), String> {
        self.calls.push(Call::Pointer(queue, which, value));
        Ok(())
    }
}

/// Queues: 0 input0 (host queue, 4 entries), 1 output0 (written by g0), 2 ram0 (ram of 2
/// entries, read and written by g1), 3 grad0 (host queue, 8 entries). Graphs: 0 g0, 1 g1.
const HEAD: &str = "
devices:
  arch: grayskull

queues:
  input0: {type: queue, input: HOST, entries: 4, grid_size: [1, 1], t: 1, mblock: [1, 1], ublock: [1, 1], df: Float16, target_device: 0, loc: dram, dram: [[0, 0x10000000]]}
  output0: {type: queue, input: unary0, entries: 4, grid_size: [1, 1], t: 1, mblock: [1, 1], ublock: [1, 1], df: Float16, target_device: 0, loc: dram, dram: [[0, 0x11000000]]}
  ram0: {type: ram, input: binary0, entries: 2, grid_size: [1, 1], t: 1, mblock: [1, 1], ublock: [1, 1], df: Float16, target_device: 0, loc: dram, dram: [[0, 0x12000000]]}
  grad0: {type: queue, input: HOST, entries: 8, grid_size: [1, 1], t: 1, mblock: [1, 1], ublock: [1, 1], df: Float16, target_device: 0, loc: dram, dram: [[0, 0x13000000]]}

graphs:
  g0:
    target_device: 0
    input_count: 1
    unary0: {type: datacopy, grid_loc: [0, 0], grid_size: [1, 1], inputs: [input0], in_df: [Float16], acc_df: Float16, out_df: Float16, intermed_df: Float16, ublock_order: r, buf_size_mb: 2, math_fidelity: HiFi3, untilize_output: false, t: 1, mblock: [1, 1], ublock: [1, 1]}
  g1:
    target_device: 0
    input_count: 1
    binary0: {type: add, grid_loc: [0, 0], grid_size: [1, 1], inputs: [grad0, ram0], in_df: [Float16, Float16], acc_df: Float16, out_df: Float16, intermed_df: Float16, ublock_order: r, buf_size_mb: 2, math_fidelity: HiFi3, untilize_output: false, t: 1, mblock: [1, 1], ublock: [1, 1]}

programs:
";

const INPUT0: usize = 0;
const OUTPUT0: usize = 1;
const RAM0: usize = 2;
const GRAD0: usize = 3;

/// The netlist line of line `k` (1-based) of the programs text.
fn line(k: usize) -> usize {
    HEAD.matches('\n').count() + k
}

fn netlist(programs: &str) -> Netlist {
    let text = format!("{HEAD}{programs}");
    parse(&text, "test.yaml").unwrap_or_else(|e| panic!("netlist should parse: {e}"))
}

fn interp(programs: &str) -> Interpreter {
    Interpreter::new(&netlist(programs)).unwrap_or_else(|e| panic!("should compile: {e}"))
}

/// Runs program 0 and returns what the host saw.
fn run(programs: &str, params: &[(&str, &str)]) -> Recorder {
    let mut i = interp(programs);
    let mut host = Recorder::default();
    i.run(0, params, &mut host)
        .unwrap_or_else(|e| panic!("should run: {e}"));
    host
}

fn run_err(programs: &str, params: &[(&str, &str)]) -> String {
    let mut i = interp(programs);
    let mut host = Recorder::default();
    i.run(0, params, &mut host)
        .expect_err("should fail")
        .to_string()
}

/// An execute of g0 reading input0 at `$v`.
const EXEC_G0: &str = "      - execute: {graph_name: g0, queue_settings: {input0: {prologue: false, epilogue: false, zero: false, rd_ptr_local: $v, rd_ptr_global: $v}}}\n";

#[test]
fn names_and_indexes() {
    let i = interp("  - first:\n      - var: {$v: 0}\n  - second:\n      - var: {$v: 0}\n");
    assert_eq!(i.program_count(), 2);
    assert_eq!(i.program_name(1), "second");
    assert_eq!(i.program_index("first"), Some(0));
    assert_eq!(i.program_index("third"), None);
}

#[test]
fn unknown_program_index_is_an_error() {
    let mut i = interp("  - p:\n      - var: {$v: 0}\n");
    let e = i.run(3, &[], &mut Recorder::default()).unwrap_err();
    assert!(e.message.contains("no program with index 3"), "{e}");
}

#[test]
fn loop_count_from_a_param() {
    let p = format!("  - p:\n      - param: [$n]\n      - var: {{$v: 0}}\n      - loop: $n\n{EXEC_G0}      - varinst: [$v, incwrap, 1, 8]\n      - endloop\n");
    for (n, expect) in [("1", 1), ("5", 5), ("$n", 0)] {
        if n.starts_with('$') {
            continue;
        }
        let host = run(&p, &[("$n", n)]);
        let ptrs: Vec<_> = host
            .executes()
            .iter()
            .map(|s| s[0].rd_ptr_global.unwrap())
            .collect();
        assert_eq!(ptrs, (0..expect).collect::<Vec<u32>>());
    }
    // The name may be passed without its `$`.
    assert_eq!(run(&p, &[("n", "3")]).executes().len(), 3);
}

#[test]
fn nested_loops() {
    let p = format!(
        "  - p:\n      - var: {{$v: 0, $outer: 3, $inner: 4}}\n      - loop: $outer\n      - loop: $inner\n{EXEC_G0}      - endloop\n      - varinst: [$v, incwrap, 1, 8]\n      - loop: 2\n{EXEC_G0}      - endloop\n      - endloop\n"
    );
    let host = run(&p, &[]);
    let ptrs: Vec<_> = host
        .executes()
        .iter()
        .map(|s| s[0].rd_ptr_global.unwrap())
        .collect();
    assert_eq!(ptrs, [0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 3, 3]);
}

#[test]
fn loop_count_below_one_is_an_error() {
    let p = format!("  - p:\n      - param: [$n]\n      - var: {{$v: 0}}\n      - loop: $n\n{EXEC_G0}      - endloop\n");
    for n in ["0", "-2"] {
        let e = run_err(&p, &[("$n", n)]);
        assert!(e.contains("program `p`, line "), "{e}");
        assert!(
            e.contains(&format!("loop count must be >= 1, found {n}")),
            "{e}"
        );
    }
    // Nothing ran before the loop failed, and a later run works.
    let mut i = interp(&p);
    let mut host = Recorder::default();
    i.run(0, &[("$n", "0")], &mut host).unwrap_err();
    assert!(host.calls.is_empty());
    i.run(0, &[("$n", "2")], &mut host).unwrap();
    assert_eq!(host.executes().len(), 2);
}

#[test]
fn static_vars_keep_their_value_across_runs() {
    let p = format!("  - p:\n      - staticvar: {{$v: 1}}\n      - var: {{$local: 5}}\n{EXEC_G0}      - varinst: [$v, incwrap, 1, 8]\n      - varinst: [$local, inc, 1]\n");
    let mut i = interp(&p);
    let mut host = Recorder::default();
    for _ in 0..9 {
        i.run(0, &[], &mut host).unwrap();
    }
    let ptrs: Vec<_> = host
        .executes()
        .iter()
        .map(|s| s[0].rd_ptr_global.unwrap())
        .collect();
    assert_eq!(ptrs, [1, 2, 3, 4, 5, 6, 7, 0, 1]);
}

#[test]
fn local_vars_reset_each_run() {
    let p = "  - p:\n      - var: {$v: 2}\n      - execute: {graph_name: g0, queue_settings: {input0: {rd_ptr_local: $v, rd_ptr_global: $v}}}\n      - varinst: [$v, inc, 3]\n";
    let mut i = interp(p);
    let mut host = Recorder::default();
    i.run(0, &[], &mut host).unwrap();
    i.run(0, &[], &mut host).unwrap();
    let ptrs: Vec<_> = host.executes().iter().map(|s| s[0].rd_ptr_local).collect();
    assert_eq!(ptrs, [Some(2), Some(2)]);
}

/// Runs `varinst: [$v, ...]` after `var: {$v: init, $a: 3, $b: -5}` and returns `$v`, read back
/// through an execute's rd_ptr_autoinc (so results must be in 0..=u32::MAX).
fn varinst(init: i64, inst: &str) -> u32 {
    let p = format!("  - p:\n      - var: {{$v: {init}, $a: 3, $b: -5, $z: 0}}\n      - varinst: [$v, {inst}]\n      - execute: {{graph_name: g0, queue_settings: {{input0: {{rd_ptr_local: $z, rd_ptr_global: $z, rd_ptr_autoinc: $v}}}}}}\n");
    run(&p, &[]).executes()[0][0].rd_ptr_autoinc
}

#[test]
fn every_varinst_op() {
    assert_eq!(varinst(0, "set, 6"), 6);
    assert_eq!(varinst(0, "set, $a"), 3);
    assert_eq!(varinst(7, "add, $a, 2"), 5);
    assert_eq!(varinst(7, "add, $a, $a"), 6);
    assert_eq!(varinst(7, "add, 10, $b"), 5);
    assert_eq!(varinst(7, "mul, $a, 2"), 6);
    assert_eq!(varinst(7, "mul, $b, $b"), 25);
    assert_eq!(varinst(7, "mul, $b, -2"), 10);
    assert_eq!(varinst(1, "inc, $a"), 4);
    assert_eq!(varinst(6, "inc, $b"), 1);
    assert_eq!(varinst(2, "incwrap, 3, 4"), 1);
    assert_eq!(varinst(2, "incwrap, $a, 8"), 5);
    // Negative increments wrap to a non-negative result.
    assert_eq!(varinst(2, "incwrap, $b, 8"), 5);
    assert_eq!(varinst(0, "incwrap, -1, 8"), 7);
    assert_eq!(varinst(1, "incwrap, -17, 8"), 0);
    assert_eq!(varinst(3, "incwrap, -20, 6"), 1);
}

#[test]
fn incwrap_needs_a_positive_wrap() {
    let p = "  - p:\n      - var: {$v: 0, $w: 0}\n      - varinst: [$v, incwrap, 1, $w]\n";
    let e = run_err(p, &[]);
    assert!(
        e.contains(&format!("line {}:", line(3))) && e.contains("wrap >= 1, found 0"),
        "{e}"
    );
}

#[test]
fn settings_are_evaluated_with_queue_defaults() {
    let p = "  - p:\n      - param: [$pro, $ptr]\n      - var: {$t: 1, $inc: 2}\n      - execute: {graph_name: g0, queue_settings: {input0: {prologue: $pro, epilogue: false, zero: $t, rd_ptr_local: 3, rd_ptr_global: $ptr, read_only: true}}}\n      - execute: {graph_name: g0, queue_settings: {input0: {rd_ptr_local: 0, rd_ptr_global: 0, rd_ptr_autoinc: $inc, global_rdptr_autoinc: $inc, global_wrptr_autoinc: 0}}}\n";
    let host = run(p, &[("$pro", "true"), ("ptr", "7")]);
    assert_eq!(
        host.calls[0],
        Call::Execute(
            0,
            vec![ResolvedSetting {
                queue: INPUT0,
                prologue: true,
                epilogue: false,
                zero: true,
                rd_ptr_local: Some(3),
                rd_ptr_global: Some(7),
                wr_ptr_global: None,
                rd_ptr_autoinc: 1,
                global_rdptr_autoinc: 0,
                global_wrptr_autoinc: 1,
                read_only: true,
            }]
        )
    );
    let second = host.executes()[1][0];
    assert_eq!(
        (
            second.rd_ptr_autoinc,
            second.global_rdptr_autoinc,
            second.global_wrptr_autoinc
        ),
        (2, 2, 0)
    );
    assert!(!second.prologue && !second.zero && !second.read_only);
}

#[test]
fn ram_settings_default_to_no_autoincrement() {
    let p = "  - p:\n      - var: {$z: 0, $g: 5}\n      - execute: {graph_name: g1, queue_settings: {ram0: {rd_ptr_global: $z, wr_ptr_global: 1}, grad0: {rd_ptr_local: $g, rd_ptr_global: $g}}}\n";
    let host = run(p, &[]);
    let s = host.executes()[0];
    assert!(matches!(host.calls[0], Call::Execute(1, _)));
    assert_eq!(s.len(), 2);
    assert_eq!(
        s[0],
        ResolvedSetting {
            queue: RAM0,
            rd_ptr_global: Some(0),
            wr_ptr_global: Some(1),
            ..ResolvedSetting::default()
        }
    );
    assert_eq!(
        (
            s[1].queue,
            s[1].rd_ptr_local,
            s[1].rd_ptr_autoinc,
            s[1].global_wrptr_autoinc
        ),
        (GRAD0, Some(5), 1, 1)
    );
}

#[test]
fn a_boolean_setting_must_be_zero_or_one() {
    let p = "  - p:\n      - var: {$z: 0, $two: 2}\n      - execute: {graph_name: g0, queue_settings: {input0: {zero: $two, rd_ptr_local: $z, rd_ptr_global: $z}}}\n";
    let e = run_err(p, &[]);
    assert!(e.contains("input0") && e.contains("zero = 2"), "{e}");
}

#[test]
fn varinst_changes_propagate_to_bound_queue_pointers() {
    let p = "  - p:\n      - staticvar: {$rd: 0}\n      - var: {$z: 0, $loops: 3, $w: 0}\n      - loop: $loops\n      - execute: {graph_name: g1, queue_settings: {ram0: {rd_ptr_global: $z, wr_ptr_global: $w}, grad0: {rd_ptr_local: $rd, rd_ptr_global: $rd}}}\n      - varinst: [$rd, incwrap, 3, 16]\n      - varinst: [$w, incwrap, 1, 4]\n      - varinst: [$z, add, $z, 0]\n      - endloop\n";
    let host = run(p, &[]);
    assert_eq!(
        host.pointers(),
        [
            (GRAD0, PointerKind::RdGlobal, 3),
            (RAM0, PointerKind::WrGlobal, 1),
            (GRAD0, PointerKind::RdGlobal, 6),
            (RAM0, PointerKind::WrGlobal, 2),
            (GRAD0, PointerKind::RdGlobal, 9),
            (RAM0, PointerKind::WrGlobal, 3),
        ]
    );
    // The pointer move comes after the execute that bound it.
    assert!(matches!(host.calls[0], Call::Execute(..)));
    assert!(matches!(host.calls[1], Call::Pointer(..)));
}

#[test]
fn a_variable_bound_to_two_queues_moves_both() {
    let p = "  - p:\n      - var: {$v: 0}\n      - execute: {graph_name: g0, queue_settings: {input0: {rd_ptr_local: $v, rd_ptr_global: $v}}}\n      - execute: {graph_name: g1, queue_settings: {ram0: {rd_ptr_global: $v, wr_ptr_global: $v}, grad0: {rd_ptr_local: 0, rd_ptr_global: 0}}}\n      - varinst: [$v, inc, 1]\n";
    assert_eq!(
        run(p, &[]).pointers(),
        [
            (INPUT0, PointerKind::RdGlobal, 1),
            (RAM0, PointerKind::RdGlobal, 1),
            (RAM0, PointerKind::WrGlobal, 1),
        ]
    );
}

#[test]
fn a_later_execute_rebinds_and_unbound_variables_move_nothing() {
    // Before any execute nothing is bound; the second execute binds input0 to an immediate.
    let p = "  - p:\n      - var: {$v: 0, $u: 0}\n      - varinst: [$v, inc, 1]\n      - execute: {graph_name: g0, queue_settings: {input0: {rd_ptr_local: $v, rd_ptr_global: $v}}}\n      - varinst: [$u, inc, 1]\n      - varinst: [$v, set, 1]\n      - varinst: [$v, inc, 1]\n      - execute: {graph_name: g0, queue_settings: {input0: {rd_ptr_local: $v, rd_ptr_global: 0}}}\n      - varinst: [$v, inc, 1]\n";
    assert_eq!(run(p, &[]).pointers(), [(INPUT0, PointerKind::RdGlobal, 2)]);
}

#[test]
fn a_read_only_ram_does_not_bind_its_write_pointer() {
    // The same execute with read_only: true binds ram0's read pointer to $r but not its write
    // pointer to $w (golden's varinst propagation skips the write pointer of a read_only view).
    let p = "  - p:\n      - var: {$r: 0, $w: 0}\n      - execute: {graph_name: g1, queue_settings: {ram0: {rd_ptr_global: $r, wr_ptr_global: $w, read_only: true}, grad0: {rd_ptr_local: 0, rd_ptr_global: 0}}}\n      - varinst: [$w, inc, 1]\n      - varinst: [$r, inc, 3]\n";
    assert_eq!(run(p, &[]).pointers(), [(RAM0, PointerKind::RdGlobal, 3)]);
    let p = p.replace("read_only: true", "read_only: false");
    assert_eq!(
        run(&p, &[]).pointers(),
        [
            (RAM0, PointerKind::WrGlobal, 1),
            (RAM0, PointerKind::RdGlobal, 3)
        ]
    );
}

#[test]
fn bindings_end_with_the_run() {
    let p = "  - p:\n      - staticvar: {$v: 0}\n      - varinst: [$v, incwrap, 1, 8]\n      - execute: {graph_name: g0, queue_settings: {input0: {rd_ptr_local: $v, rd_ptr_global: $v}}}\n";
    let mut i = interp(p);
    let mut host = Recorder::default();
    i.run(0, &[], &mut host).unwrap();
    i.run(0, &[], &mut host).unwrap();
    assert!(host.pointers().is_empty());
}

#[test]
fn pointer_overflow_in_a_setting() {
    let p = "  - p:\n      - param: [$p]\n      - execute: {graph_name: g0, queue_settings: {input0: {rd_ptr_local: 0, rd_ptr_global: $p}}}\n";
    // input0 has 4 entries: pointers run in 0..8.
    assert_eq!(
        run(p, &[("$p", "7")]).executes()[0][0].rd_ptr_global,
        Some(7)
    );
    for v in ["8", "-1"] {
        let e = run_err(p, &[("$p", v)]);
        assert!(
            e.starts_with(&format!("program `p`, line {}:", line(3))),
            "{e}"
        );
        assert!(e.contains("pointer overflow"), "{e}");
        assert!(
            e.contains("`input0` rd_ptr_global") && e.contains(&format!("= {v}")),
            "{e}"
        );
    }
}

#[test]
fn pointer_overflow_through_a_binding() {
    // grad0 has 8 entries; the program wraps at 32, which is too far.
    let p = "  - p:\n      - var: {$v: 12}\n      - loop: 2\n      - execute: {graph_name: g1, queue_settings: {ram0: {rd_ptr_global: 0, wr_ptr_global: 0}, grad0: {rd_ptr_local: $v, rd_ptr_global: $v}}}\n      - varinst: [$v, incwrap, 4, 32]\n      - endloop\n";
    let e = run_err(p, &[]);
    assert!(
        e.starts_with(&format!("program `p`, line {}:", line(5))),
        "{e}"
    );
    assert!(
        e.contains("pointer overflow") && e.contains("`grad0` rd_ptr_global = 16"),
        "{e}"
    );
}

#[test]
fn params_missing_extra_and_malformed() {
    let p = "  - p:\n      - param: [$a, $b]\n";
    run(p, &[("$a", "1"), ("b", "-3")]);
    run(p, &[("$a", "TRUE"), ("$b", "false")]);
    let e = run_err(p, &[("$a", "1")]);
    assert!(
        e.contains("program `p`") && e.contains("`$b` is declared but not passed"),
        "{e}"
    );
    let e = run_err(p, &[("$a", "1"), ("$b", "2"), ("$c", "3")]);
    assert!(
        e.contains("program `p`") && e.contains("`$c` is not declared"),
        "{e}"
    );
    for bad in ["", " 1", "1.5", "yes", "0x10", "$a"] {
        let e = run_err(p, &[("$a", "1"), ("$b", bad)]);
        assert!(e.contains("`$b` has value"), "{bad}: {e}");
    }
    let e = run_err(p, &[("$a", "1"), ("$b", "1"), ("b", "2")]);
    assert!(e.contains("more than once"), "{e}");
    // A program without params takes none.
    let e = run_err("  - q:\n      - var: [$v]\n", &[("$v", "1")]);
    assert!(e.contains("declares none"), "{e}");
}

#[test]
fn allocate_and_deallocate() {
    let p = "  - p:\n      - var: {$v: 0}\n      - allocate_queue: [output0, grad0]\n      - execute: {graph_name: g0, queue_settings: {input0: {rd_ptr_local: $v, rd_ptr_global: $v}}}\n      - deallocate_queue: [output0]\n";
    let host = run(p, &[]);
    assert_eq!(host.calls.len(), 3);
    assert_eq!(host.calls[0], Call::Allocate(vec![OUTPUT0, GRAD0]));
    assert_eq!(host.calls[2], Call::Deallocate(vec![OUTPUT0]));
}

#[test]
fn a_host_error_names_program_and_line() {
    let p = format!("  - p:\n      - var: {{$v: 0}}\n      - loop: 3\n{EXEC_G0}      - endloop\n");
    let mut i = interp(&p);
    let mut host = Recorder {
        fail_execute: Some(1),
        ..Recorder::default()
    };
    let e = i.run(0, &[], &mut host).unwrap_err().to_string();
    assert!(
        e == format!(
            "program `p`, line {}: execute of graph `g0` failed: device hung",
            line(4)
        ),
        "{e}"
    );
    assert_eq!(host.executes().len(), 1);
}

#[test]
fn unknown_names_fail_to_compile() {
    use ttrt::netlist::{Instruction, Operand};
    let mut n = netlist(&format!("  - p:\n      - var: {{$v: 0}}\n{EXEC_G0}"));
    let mut bad = n.clone();
    bad.programs[0].instructions[0].instruction = Instruction::Loop(Operand::Var("nope".into()));
    let e = Interpreter::new(&bad).unwrap_err().to_string();
    assert!(
        e.contains(&format!("program `p`, line {}:", line(2))) && e.contains("`$nope`"),
        "{e}"
    );
    let Instruction::Execute(x) = &mut n.programs[0].instructions[1].instruction else {
        panic!("an execute")
    };
    x.graph_name = "g9".into();
    let e = Interpreter::new(&n).unwrap_err().to_string();
    assert!(
        e.contains(&format!("line {}:", line(3))) && e.contains("graph `g9`"),
        "{e}"
    );
}

/// The value of a test-arg as a param string.
fn arg_text(v: &Value) -> Option<String> {
    match v {
        Value::Int(i) => Some(i.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Str(s) => Some(s.clone()),
        _ => None,
    }
}

#[test]
fn every_corpus_program_compiles_and_runs() {
    let mut files = Vec::new();
    yaml_files(&corpus(), &mut files);
    files.sort();
    let mut programs = 0;
    for path in &files {
        let rel = path
            .strip_prefix(corpus())
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if rel.starts_with("verif/error_tests/") {
            continue;
        }
        let n = parse(&std::fs::read_to_string(path).unwrap(), &rel)
            .unwrap_or_else(|e| panic!("{rel}: {e}"));
        let mut i = Interpreter::new(&n).unwrap_or_else(|e| panic!("{rel}: {e}"));
        for (k, p) in n.programs.iter().enumerate() {
            // `$p_microbatch_count` takes test-arg `microbatch_count`, else 1.
            let values: Vec<(String, String)> = p
                .params()
                .map(|name| {
                    let arg = name.strip_prefix("p_").unwrap_or(name);
                    let value = n
                        .test_config
                        .as_ref()
                        .and_then(|t| t.test_arg(arg).or_else(|| t.test_arg(name)))
                        .and_then(arg_text)
                        .unwrap_or_else(|| "1".into());
                    (name.to_string(), value)
                })
                .collect();
            let params: Vec<(&str, &str)> = values
                .iter()
                .map(|(a, b)| (a.as_str(), b.as_str()))
                .collect();
            // Twice: static variables carry over into the second run. A netlist whose
            // test-args say the program runs once (program_loop_count: 1) may overflow its
            // pointers on a second run (netlist_matmul_ident_kernel_broadcast.yaml).
            let runs = match n
                .test_config
                .as_ref()
                .and_then(|t| t.test_arg("program_loop_count"))
            {
                Some(ttrt::netlist::Value::Int(1)) => 1,
                _ => 2,
            };
            let mut host = Recorder::default();
            for _ in 0..runs {
                i.run(k, &params, &mut host)
                    .unwrap_or_else(|e| panic!("{rel}: {e} (params {params:?})"));
            }
            assert!(
                !host.calls.is_empty() || p.instructions.len() <= 1,
                "{rel}: {}",
                p.name
            );
            programs += 1;
        }
    }
    assert!(programs > 100, "only {programs} corpus programs ran");
}
