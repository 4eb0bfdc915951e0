//! The `ttrt` command-line tool.

use std::process::Command;

fn ttrt(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ttrt"))
        .args(args)
        .output()
        .expect("run ttrt")
}

#[test]
fn version_prints_the_package_version_and_abi() {
    let out = ttrt(&["--version"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        text.trim(),
        format!("ttrt {} (ABI 1)", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn help_lists_the_commands() {
    let out = ttrt(&["--help"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("Usage:") && text.contains("--version"),
        "{text}"
    );
}

#[test]
fn unknown_command_fails_with_one_line_naming_it() {
    let out = ttrt(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8(out.stderr).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.contains("`frobnicate`"), "{text}");
}

#[test]
fn bench_formats_prints_each_figure_as_a_ratio_to_memcpy() {
    let out = ttrt(&["bench", "formats", "--quick"]);
    let text = String::from_utf8(out.stdout).unwrap();
    let errors = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(0), "{text}{errors}");
    let lines_for = |label: &str| {
        text.lines()
            .filter(|l| l.starts_with(&format!("formats/{label}:")))
            .collect::<Vec<_>>()
    };
    assert_eq!(lines_for("memcpy").len(), 1, "{text}");
    for figure in [
        "tilize Float16_b",
        "tilize Bfp8_b",
        "untilize Float16_b -> float32",
        "untilize Bfp8_b -> float32",
    ] {
        let lines = lines_for(figure);
        assert_eq!(lines.len(), 1, "{figure}: {text}");
        assert!(lines[0].contains("x memcpy"), "{}", lines[0]);
    }
    // Plain text: no terminal escapes.
    assert!(!text.contains('\u{1b}'), "{text}");
}

#[test]
fn bench_formats_measures_tt_metal_pages_and_says_why_ttnn_is_skipped() {
    for (python, why) in [
        (None, "TTRT_BENCH_PYTHON is not set"),
        (
            Some("/nonexistent/ttrt-test/python"),
            "cannot run /nonexistent/ttrt-test/python",
        ),
    ] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ttrt"));
        cmd.args(["bench", "formats", "--quick"]);
        match python {
            Some(p) => cmd.env("TTRT_BENCH_PYTHON", p),
            None => cmd.env_remove("TTRT_BENCH_PYTHON"),
        };
        let out = cmd.output().expect("run ttrt");
        let text = String::from_utf8(out.stdout).unwrap();
        assert_eq!(out.status.code(), Some(0), "{text}");
        for figure in [
            "write bfloat16 (Float16_b)",
            "write bfloat8_b (Bfp8_b)",
            "read bfloat8_b (Bfp8_b)",
        ] {
            let label = format!("formats/TT-Metal pages {figure}:");
            let lines: Vec<_> = text.lines().filter(|l| l.starts_with(&label)).collect();
            assert_eq!(lines.len(), 1, "{figure}: {text}");
            assert!(lines[0].contains("GB/s"), "{}", lines[0]);
        }
        let skipped: Vec<_> = text
            .lines()
            .filter(|l| l.starts_with("formats/ttnn: skipped: "))
            .collect();
        assert_eq!(skipped.len(), 1, "{text}");
        assert!(skipped[0].contains(why), "{}", skipped[0]);
    }
}

#[test]
fn bench_unknown_suite_fails_with_one_line_naming_it() {
    let out = ttrt(&["bench", "nosuchsuite"]);
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8(out.stderr).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.contains("`nosuchsuite`"), "{text}");
    assert!(out.stdout.is_empty());
}

#[test]
fn bench_help_names_the_suites_and_quick() {
    let out = ttrt(&["bench", "--help"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("formats") && text.contains("--quick"),
        "{text}"
    );
}

/// Runs ttrt with its stdout a pipe whose reading end is closed before ttrt writes (a reader
/// like `head -1` that has gone), and returns its status and stderr.
fn with_stdout_closed(args: &[&str]) -> (std::process::ExitStatus, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ttrt"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run ttrt");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait for ttrt");
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    for args in [
        &["--help"][..],
        &["--version"],
        &["info", "examples/digits.tti"],
        &["run", "examples/digits.tti", "--loops", "2"],
    ] {
        let (status, stderr) = with_stdout_closed(args);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(status.code(), Some(0), "{args:?}: {stderr}");
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
    }
}

use crate::bert;

use crate::support;

/// `ttrt run ARGS` from the repository root: status code, stdout, stderr.
fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ttrt"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("run")
        .args(args)
        .output()
        .expect("run ttrt");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The line of `text` containing `needle`.
fn line_with<'a>(text: &'a str, needle: &str) -> &'a str {
    text.lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with `{needle}`:\n{text}"))
}

/// The word after `key` in `line`.
fn after<'a>(line: &'a str, key: &str) -> &'a str {
    let at = line
        .find(key)
        .unwrap_or_else(|| panic!("no `{key}` in {line}"));
    line[at + key.len()..].split_whitespace().next().unwrap()
}

#[test]
fn run_with_missing_inputs_outputs_or_labels_fails_naming_the_path() {
    for (flag, path) in [
        ("--inputs", "/nonexistent/inputs"),
        ("--outputs", "/nonexistent/outputs"),
        ("--labels", "/nonexistent/labels.bin"),
    ] {
        let (code, out, err) = run(&["examples/digits.tti", flag, path]);
        assert_eq!(code, Some(1), "{flag}: {out}{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(path) && err.contains(flag), "{err}");
        assert!(out.is_empty(), "{out}");
    }
}

#[test]
fn run_reports_inferences_per_second_of_the_entries_run() {
    // digits: a program run reads input_count = 4 entries of `x` and writes 4 of `logits`.
    let loops = 30;
    let (code, out, err) = run(&["examples/digits.tti", "--loops", &loops.to_string()]);
    assert_eq!(code, Some(0), "{out}{err}");
    let line = line_with(&out, "inferences/s");
    let inferences: usize = line.split_whitespace().next().unwrap().parse().unwrap();
    assert_eq!(inferences, 4 * loops, "{out}");
    let ms: f64 = after(line, " in ").parse().unwrap();
    let rate: f64 = after(line, "ms: ").parse().unwrap();
    let expected = inferences as f64 / (ms / 1e3);
    assert!(
        (rate - expected).abs() <= expected * 0.01 + 0.1,
        "{rate} inferences/s printed, {inferences} in {ms} ms is {expected}: {out}"
    );
    // Every labelled sample is classified once, however many loops ran.
    assert!(out.contains("accuracy 352/360"), "{out}");
}

#[test]
fn run_streams_a_program_that_consumes_more_entries_than_its_queues_hold() {
    // `x` and `logits` hold 12 entries; with $p_loop_count = 6 one program run reads 24
    // entries of `x` and writes 24 of `logits`, so they must be pushed and popped while it runs.
    let dir = support::scratch("cli_run_streams");
    let (once, twice) = (dir.join("once"), dir.join("twice"));
    std::fs::create_dir_all(&once).unwrap();
    std::fs::create_dir_all(&twice).unwrap();
    let (code, out, err) = run(&["examples/digits.tti", "--outputs", once.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{out}{err}");
    let (code, out, err) = run(&[
        "examples/digits.tti",
        "--loops",
        "1",
        "--param",
        "$p_loop_count=6",
        "--outputs",
        twice.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("popped 24 entries of logits"), "{out}");
    // The inputs file holds the 12 entries once: the second 12 outputs repeat the first, and
    // those are what 3 runs of 4 entries give.
    let a = std::fs::read(once.join("logits.bin")).unwrap();
    let b = std::fs::read(twice.join("logits.bin")).unwrap();
    assert_eq!(b.len(), 2 * a.len());
    assert!(b[..a.len()] == a[..] && b[a.len()..] == a[..]);
    assert!(out.contains("accuracy 352/360"), "{out}");
}

/// Runs `netlist` bare with `ttrt run` twice and checks both report the same outputs.
fn smoke_test(netlist: &std::path::Path, extra: &[&str]) -> String {
    let mut args = vec![netlist.to_str().unwrap()];
    args.extend_from_slice(extra);
    let (code, out, err) = run(&args);
    assert_eq!(code, Some(0), "{}: {out}{err}", netlist.display());
    assert!(!out.contains('\r') && !err.contains('\r'), "{out}{err}");
    let outputs = |s: &str| -> Vec<String> {
        s.lines()
            .filter(|l| l.starts_with("output "))
            .map(str::to_string)
            .collect()
    };
    assert!(!outputs(&out).is_empty(), "{out}");
    for line in outputs(&out) {
        assert!(
            line.contains(" shape [") && line.contains(" checksum 0x"),
            "{line}"
        );
    }
    let (_, again, _) = run(&args);
    assert_eq!(
        outputs(&out),
        outputs(&again),
        "seeded inputs: the same outputs"
    );
    out
}

#[test]
fn run_smoke_tests_a_bare_netlist_filling_its_constants_and_parameters_once() {
    // digits.yaml without its image: input_count 4, constants and parameters of one entry.
    let out = smoke_test(
        &support::root().join("examples/digits/digits.yaml"),
        &["--param", "$p_loop_count=3"],
    );
    assert!(
        out.contains("6 constant and parameter queues written once"),
        "{out}"
    );
    assert!(out.contains("popped 12 entries of logits"), "{out}");
    let (_, out, _) = run(&["examples/digits/digits.yaml"]);
    assert!(
        out.contains("param run_fwd: $p_loop_count = 1 (not given: default)"),
        "{out}"
    );
    // A parameter no program declares is refused, naming it.
    let (code, _, err) = run(&["examples/digits/digits.yaml", "--param", "$p_nope=2"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("$p_nope"), "{err}");
}

#[test]
fn run_smoke_tests_corpus_netlists() {
    let corpus = support::corpus();
    for netlist in [
        "verif/graph_tests/netlists/pybuda_pregenerated/feedforward/grayskull/ff_1_128_128_netlist.yaml",
        "verif/netlist_tests/netlists/basic_graph/netlist_input_count.yaml",
        "verif/netlist_tests/netlists/basic_ram/netlist_ram_autoinc.yaml",
        "verif/netlist_tests/netlists/basic/netlist_fused_op.yaml",
    ] {
        smoke_test(&corpus.join(netlist), &[]);
    }
}
/// `ttrt run` runs every corpus netlist outside the error tests. The exceptions are refused
/// at load, saying why: running them would be undefined, or ttrt does not model them yet.
#[test]
fn run_smoke_tests_every_corpus_netlist() {
    let corpus = support::corpus();
    let mut files = Vec::new();
    support::yaml_files(&corpus, &mut files);
    files.sort();
    let refused = [
        // Queues q0 and q1 share DRAM: upstream's golden keeps them apart, a device would not.
        ("netlist_embedding.yaml", "undefined on a device"),
    ];
    let mut ran = 0;
    for path in &files {
        let rel = path
            .strip_prefix(&corpus)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if rel.starts_with("verif/error_tests/") {
            continue;
        }
        let (code, out, err) = run(&[path.to_str().unwrap()]);
        let name = path.file_name().unwrap().to_string_lossy();
        match refused.iter().find(|(n, _)| *n == name) {
            Some((_, why)) => {
                assert_eq!(code, Some(1), "{rel}: {out}");
                assert!(
                    err.contains(why) && err.lines().count() == 1,
                    "{rel}: {err}"
                );
            }
            None => {
                assert_eq!(code, Some(0), "{rel}: {err}");
                ran += 1;
            }
        }
    }
    assert!(ran >= 200, "{ran} netlists ran");
}

#[test]
fn run_smoke_tests_a_bert_shaped_netlist() {
    let (text, layers) = bert::generate_layers(Some(2));
    assert_eq!(layers, 2);
    let dir = support::scratch("cli_run_bert");
    let path = dir.join("bert_2_layers.yaml");
    std::fs::write(&path, text).unwrap();
    let out = smoke_test(&path, &["--param", "$p_microbatch_count=2"]);
    assert!(out.contains("output e2e_layer_1_output shape"), "{out}");
}

/// `ttrt run` with stdout and stderr on a pseudo-terminal (util-linux `script`): the progress
/// line is drawn with `\r` and wiped before the summary. The line is drawn whatever the timing
/// once every loop is done (a count at its total always draws), so a short run shows it. Piped,
/// the same run prints no `\r` at all.
#[test]
fn run_draws_a_progress_line_on_a_terminal_and_none_into_a_pipe() {
    if !support::have_tool("script", "running `ttrt run` on a pseudo-terminal") {
        return;
    }
    let cmd = format!(
        "'{}' run examples/digits.tti --loops 3",
        env!("CARGO_BIN_EXE_ttrt")
    );
    let mut child = Command::new("script")
        .args(["-qfec", &cmd, "/dev/null"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run script");
    // A watchdog only: a hang fails instead of blocking the suite.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("`script -c {cmd}` still running after 300 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let tty = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{tty}");
    let bar = "\rttrt run: 3 loops / 3 loops [####################] 100%";
    let drawn = tty
        .find(bar)
        .unwrap_or_else(|| panic!("no {bar:?} in {tty:?}"));
    // Wiped: a `\r`, blanks over the line, and a `\r` before the summary starts.
    let summary = tty
        .find("image examples/digits.tti (")
        .unwrap_or_else(|| panic!("no summary in {tty:?}"));
    assert!(drawn < summary, "{tty:?}");
    let last_bar = tty.rfind(bar).unwrap() + bar.len();
    let wipe = &tty[last_bar..summary];
    assert!(
        wipe.len() > 2
            && wipe.starts_with('\r')
            && wipe.ends_with('\r')
            && wipe[1..wipe.len() - 1].chars().all(|c| c == ' '),
        "{wipe:?}"
    );
    // The summary's lines are whole: nothing of the progress line after the wipe.
    let rest = &tty[summary..];
    assert!(!rest.contains("ttrt run:"), "{rest:?}");
    for line in ["popped 12 entries of logits", "3 loops in ", "inferences/s"] {
        assert!(rest.contains(line), "no {line:?} in {rest:?}");
    }

    let (code, out, err) = run(&["examples/digits.tti", "--loops", "3"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(!out.contains('\r') && !err.contains('\r'), "{out:?}{err:?}");
    assert!(out.contains("popped 12 entries of logits"), "{out}");
}

/// Every command that takes `--harvested-rows` reads a decimal or 0x-hex mask the same way, and
/// refuses anything else with exit status 2 and one line naming the value.
#[test]
fn harvested_rows_takes_a_decimal_or_hex_mask_in_every_command() {
    let digits = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/digits.tti");
    let netlist = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/digits/digits.yaml");
    let commands: [&[&str]; 4] = [
        &["info", digits],
        &["run", digits],
        &["pack", netlist, "-o", "/nonexistent/never-written.tti"],
        &["sim-device", "never-served"],
    ];
    for command in commands {
        let mut args = command.to_vec();
        args.extend(["--harvested-rows", "0xzz"]);
        let out = ttrt(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("--harvested-rows `0xzz` is not a mask (an integer, or 0x hex)"),
            "{args:?}: {stderr}"
        );
    }
    // The same mask in decimal and in hex: info shows rows 1 and 11 for both.
    for mask in ["2050", "0x802"] {
        let out = ttrt(&["info", digits, "--harvested-rows", mask]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{mask}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("2050"), "{mask}: {stdout}");
    }
}
