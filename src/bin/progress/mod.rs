//! Progress of long work on stderr (DESIGN.md §6: "Long work shows a progress bar on a terminal
//! and plain lines otherwise").
//!
//! On a terminal, one line that rewrites itself (`\r`) at most ten times a second and is wiped
//! before anything else is printed. Otherwise (a pipe, a file, CI logs) no `\r` ever: work
//! shorter than `PLAIN_EVERY` prints nothing, longer work a plain line every `PLAIN_EVERY`.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Between two redraws of the terminal line.
const REDRAW_EVERY: Duration = Duration::from_millis(100);
/// Between two plain lines when stderr is not a terminal.
const PLAIN_EVERY: Duration = Duration::from_secs(10);
/// Longest line drawn (a narrow terminal would wrap a longer one, and `\r` then rewrites only
/// its last part).
const WIDTH: usize = 79;

/// Characters of the progress line on the terminal now (0: none shown).
static SHOWN: AtomicUsize = AtomicUsize::new(0);

fn on_terminal() -> bool {
    std::io::stderr().is_terminal()
}

/// Wipes the progress line, if one is shown, so other output starts at the line's start.
pub fn clear() {
    let shown = SHOWN.swap(0, Ordering::Relaxed);
    if shown > 0 {
        let _ = write!(std::io::stderr(), "\r{:shown$}\r", "");
    }
}

/// Draws `text` as the progress line (terminal only).
fn draw(text: &str) {
    let text: String = text.chars().take(WIDTH).collect();
    let len = text.chars().count();
    let pad = SHOWN.swap(len, Ordering::Relaxed).saturating_sub(len);
    let _ = write!(std::io::stderr(), "\r{text}{:pad$}", "");
}

/// Shows what is being done now, on a terminal only (`ttrt bench`: the suite and figure).
pub fn status(text: &str) {
    if on_terminal() {
        draw(text);
    }
}

/// What a count measures.
#[derive(Clone, Copy)]
pub enum Unit {
    /// Bytes, shown in MB.
    Bytes,
    /// Things counted, with their name (plural).
    Count(&'static str),
}

impl Unit {
    fn show(self, n: u64) -> String {
        match self {
            Unit::Bytes => format!("{:.1} MB", n as f64 / 1e6),
            Unit::Count(name) => format!("{n} {name}"),
        }
    }
}

/// A count of work done towards a total.
pub struct Progress {
    what: String,
    total: u64,
    unit: Unit,
    tty: bool,
    started: Instant,
    last: Instant,
}

impl Progress {
    pub fn new(what: &str, total: u64, unit: Unit) -> Progress {
        let now = Instant::now();
        Progress {
            what: what.to_string(),
            total,
            unit,
            tty: on_terminal(),
            started: now,
            last: now,
        }
    }

    /// `done` of the total are done.
    pub fn set(&mut self, done: u64) {
        let now = Instant::now();
        let every = if self.tty { REDRAW_EVERY } else { PLAIN_EVERY };
        if now.duration_since(self.last) < every && done < self.total {
            return;
        }
        if !self.tty && now.duration_since(self.started) < PLAIN_EVERY {
            return;
        }
        self.last = now;
        let text = self.line(done);
        if self.tty {
            draw(&text);
        } else {
            let _ = writeln!(std::io::stderr(), "{text}");
        }
    }

    /// `what: done / total unit [#####     ] 42%`.
    fn line(&self, done: u64) -> String {
        const BAR: usize = 20;
        let fraction = if self.total == 0 {
            1.0
        } else {
            (done as f64 / self.total as f64).clamp(0.0, 1.0)
        };
        let filled = (fraction * BAR as f64) as usize;
        format!(
            "{}: {} / {} [{}{}] {:.0}%",
            self.what,
            self.unit.show(done),
            self.unit.show(self.total),
            "#".repeat(filled),
            " ".repeat(BAR - filled),
            fraction * 100.0
        )
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        clear();
    }
}

/// A reader that reports the bytes read through it to a [`Progress`] (`ttrt pack` copying
/// tensor files into the archive).
pub struct Counted<'a, R> {
    pub inner: R,
    pub progress: &'a mut Progress,
    pub done: &'a mut u64,
}

impl<R: std::io::Read> std::io::Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        *self.done += n as u64;
        self.progress.set(*self.done);
        Ok(n)
    }
}
