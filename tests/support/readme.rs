//! The README's build, install and cross-compile routes, run as written.
//!
//! A block to run is a fenced `sh` block right after an HTML comment naming the test file that
//! runs it. It runs with `sh -ex` in a copy of the repository (`target/nested/readme/ttrt`,
//! without the `target/` and `build*/` of this checkout, so nothing beside the copy is read);
//! the one change made to its text is that `/opt/` becomes `target/nested/readme/opt/`, so the
//! install lands in scratch space. The copy keeps its own `target/` between runs and file times
//! are kept, so cargo rebuilds only what changed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use super::{nested_target_dir, root};

/// The `sh` blocks of README.md preceded by a `<!-- ... -->` comment that names `runner`
/// (e.g. "tests/packaging.rs"), in order.
pub fn blocks(runner: &str) -> Vec<String> {
    let text = std::fs::read_to_string(root().join("README.md")).expect("read README.md");
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let line = line.trim();
        if !(line.starts_with("<!--") && line.ends_with("-->") && line.contains(runner)) {
            continue;
        }
        assert_eq!(
            lines.next().map(str::trim),
            Some("```sh"),
            "README.md: the comment `{line}` must be followed by a ```sh block"
        );
        let mut block = String::new();
        for l in lines.by_ref() {
            if l.trim() == "```" {
                break;
            }
            block.push_str(l);
            block.push('\n');
        }
        out.push(block);
    }
    out
}

/// The directory holding the copy (`ttrt/`) and the scratch `/opt` (`opt/`).
pub fn dir() -> PathBuf {
    nested_target_dir().join("readme")
}

/// The copy of the repository the blocks run in, refreshed once per test binary: everything
/// but its `target/` is replaced, and the scratch `/opt` is emptied.
pub fn checkout() -> &'static Path {
    static CHECKOUT: OnceLock<PathBuf> = OnceLock::new();
    CHECKOUT.get_or_init(|| {
        let copy = dir().join("ttrt");
        std::fs::create_dir_all(&copy).expect("create the README checkout");
        for entry in std::fs::read_dir(&copy).unwrap() {
            let entry = entry.unwrap();
            if entry.file_name() != "target" {
                remove(&entry.path());
            }
        }
        let _ = std::fs::remove_dir_all(dir().join("opt"));
        copy_tree(root(), &copy, true);
        copy
    })
}

fn remove(path: &Path) {
    let meta = std::fs::symlink_metadata(path).unwrap();
    if meta.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    }
    .unwrap_or_else(|e| panic!("remove {}: {e}", path.display()));
}

/// Copies `from` into `to`, keeping modification times; at the top level, leaves out what a
/// fresh clone would not have (`.git`, `target`, `build*` directories).
fn copy_tree(from: &Path, to: &Path, top: bool) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        let name_str = name.to_string_lossy();
        let kind = entry.file_type().unwrap();
        let build_dir = kind.is_dir() && name_str.starts_with("build");
        if top && (name_str == ".git" || name_str == "target" || build_dir) {
            continue;
        }
        if name_str == "target" && from.ends_with("fuzz") {
            continue;
        }
        let (src, dst) = (entry.path(), to.join(&name));
        if kind.is_dir() {
            copy_tree(&src, &dst, false);
        } else if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src).unwrap(), &dst).unwrap();
        } else {
            std::fs::copy(&src, &dst).unwrap_or_else(|e| panic!("copy {}: {e}", src.display()));
            let modified = entry.metadata().unwrap().modified().unwrap();
            std::fs::File::options()
                .write(true)
                .open(&dst)
                .and_then(|f| f.set_modified(modified))
                .unwrap_or_else(|e| panic!("set the time of {}: {e}", dst.display()));
        }
    }
}

/// The scratch directory standing for `/opt`.
pub fn opt() -> PathBuf {
    dir().join("opt")
}

/// Runs `block` in the copy as the README gives it (with `/opt/` moved to scratch space) and
/// returns what it printed, stdout and stderr interleaved, with each command traced by `+ `.
/// Fails the test, showing that transcript, if any command fails.
pub fn run(block: &str) -> String {
    assert!(
        block.contains("/opt/"),
        "README block installs nowhere under /opt/:\n{block}"
    );
    let script = block.replace("/opt/", &format!("{}/", opt().display()));
    let cwd = checkout();
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("exec 2>&1\nset -ex\n{script}"))
        .current_dir(cwd)
        // A reader's shell: no target dir of this test run, and cargo on PATH.
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET_DIR")
        .env_remove("PKG_CONFIG_PATH")
        .env_remove("PKG_CONFIG_LIBDIR");
    if let Some(cargo) = std::env::var_os("CARGO") {
        if let Some(bin) = Path::new(&cargo).parent() {
            let path = std::env::var_os("PATH").unwrap_or_default();
            let mut dirs = vec![bin.to_path_buf()];
            dirs.extend(std::env::split_paths(&path));
            cmd.env("PATH", std::env::join_paths(dirs).unwrap());
        }
    }
    let out = cmd.output().expect("run sh");
    let transcript = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "README block failed ({}) in {}:\n{block}\n--- transcript\n{transcript}",
        out.status,
        cwd.display()
    );
    transcript
}

/// The output of the first command whose trace (`+ ...`) in `transcript` starts with `command`,
/// up to the next trace.
pub fn output_of<'a>(transcript: &'a str, command: &str) -> &'a str {
    let marker = format!("\n+ {command}");
    let at = format!("\n{transcript}")
        .find(&marker)
        .unwrap_or_else(|| panic!("`{command}` did not run:\n{transcript}"));
    // `at` indexes the transcript with a newline in front, so it is the trace line's start.
    let rest = &transcript[at..];
    let rest = &rest[rest.find('\n').map_or(rest.len(), |i| i + 1)..];
    let end = rest.find("\n+ ").map_or(rest.len(), |i| i + 1);
    &rest[..end]
}
