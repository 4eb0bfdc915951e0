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
    (out.status, String::from_utf8_lossy(&out.stderr).into_owned())
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
