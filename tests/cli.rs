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
