//! The command line's log flags: `-v`, `-vv`, `-vvv` and `-q` before the command, else
//! `TTRT_LOG`, else warnings; records go to stderr as `ttrt: LEVEL target: message`.

use std::process::{Command, Output};

fn ttrt(env: Option<&str>, args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ttrt"));
    c.args(args).current_dir(env!("CARGO_MANIFEST_DIR"));
    match env {
        Some(v) => c.env("TTRT_LOG", v),
        None => c.env_remove("TTRT_LOG"),
    };
    c.output().expect("ttrt runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const OPENED: &str = "ttrt: info ttrt::image::tti: opened examples/digits.tti (tar archive,";

#[test]
fn verbosity_flags_choose_the_records_on_stderr() {
    let quiet = ttrt(None, &["info", "examples/digits.tti"]);
    assert!(quiet.status.success());
    assert_eq!(stderr(&quiet), "", "warnings only by default");

    let v = ttrt(None, &["-v", "info", "examples/digits.tti"]);
    assert!(v.status.success(), "{}", stderr(&v));
    assert!(stderr(&v).starts_with(OPENED), "{}", stderr(&v));
    assert_eq!(v.stdout, quiet.stdout, "logging leaves stdout alone");

    let run = ttrt(None, &["-vv", "run", "examples/digits.tti", "--loops", "1"]);
    assert!(run.status.success(), "{}", stderr(&run));
    let text = stderr(&run);
    assert!(
        text.contains("ttrt: debug ttrt::backend: run_program 'run_fwd' ($p_loop_count=1) took "),
        "{text}"
    );
    assert!(!text.contains("ttrt: trace "), "{text}");

    let run = ttrt(
        None,
        &["-vvv", "run", "examples/digits.tti", "--loops", "1"],
    );
    let text = stderr(&run);
    assert!(
        text.contains("ttrt: trace ttrt::backend: push_input to queue 'x': 1 entry at pointer 0"),
        "{text}"
    );

    // -q wins over TTRT_LOG.
    let q = ttrt(Some("trace"), &["-q", "info", "examples/digits.tti"]);
    assert!(q.status.success());
    assert_eq!(stderr(&q), "");
}

#[test]
fn ttrt_log_sets_the_level_and_a_bad_value_is_refused() {
    let o = ttrt(Some("ttrt=info"), &["info", "examples/digits.tti"]);
    assert!(o.status.success());
    assert!(stderr(&o).starts_with(OPENED), "{}", stderr(&o));

    let o = ttrt(Some("loud"), &["info", "examples/digits.tti"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty());
    assert_eq!(
        stderr(&o),
        "ttrt: TTRT_LOG is \"loud\": expected off, error, warn, info, debug or trace, or \
         RUST_LOG-style ttrt=LEVEL\n"
    );
}
