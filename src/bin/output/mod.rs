//! Standard output of the command-line tool.
//!
//! A reader that stops early (`ttrt --help | head -1`) closes the pipe, and the next write fails
//! with EPIPE (Rust ignores SIGPIPE), which `println!` turns into a panic. Output goes through
//! `outln!`/`out!` instead: a closed pipe ends the process quietly with success, since nobody is
//! left to read the rest; any other write error is one line on stderr and exit status 1.

use std::fmt;
use std::io::{self, Write};

/// Writes `args` to stdout and flushes (a progress line on stderr may follow).
pub fn print(args: fmt::Arguments) {
    crate::progress::clear();
    let mut out = io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.flush()) {
        ended(e)
    }
}

/// The end of a write that failed with `e`.
fn ended(e: io::Error) -> ! {
    if e.kind() == io::ErrorKind::BrokenPipe {
        std::process::exit(0)
    }
    let _ = writeln!(io::stderr(), "ttrt: cannot write the output: {e}");
    std::process::exit(1)
}

/// `println!` that ends quietly when the reader has gone.
macro_rules! outln {
    () => {
        $crate::output::print(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::output::print(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` that ends quietly when the reader has gone.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::output::print(format_args!($($arg)*))
    };
}
