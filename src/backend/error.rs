//! Backend errors: a kind (it becomes the C status) and one line saying what and where.

use alloc::string::String;
use core::fmt;

use crate::format::FormatError;
use crate::hal::HalError;
use crate::netlist::exec::ExecError;
use crate::runtime::{ErrorKind, RuntimeError};

/// What went wrong, mapped one to one onto the C status codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendErrorKind {
    InvalidArgument,
    NotFound,
    InvalidState,
    Timeout,
    /// Buda's RuntimeError: a program or graph failed.
    Runtime,
    OutOfMemory,
    Unsupported,
    InvalidImage,
    /// The backend was finished (or freed) while the call waited.
    Cancelled,
    /// The device process the backend's device was attached to ended.
    DeviceLost,
}

/// A backend failure: its kind and one line saying what and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackendError {
    pub kind: BackendErrorKind,
    pub message: String,
}

impl BackendError {
    pub fn new(kind: BackendErrorKind, message: String) -> BackendError {
        BackendError { kind, message }
    }
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<RuntimeError> for BackendError {
    fn from(e: RuntimeError) -> Self {
        let kind = match e.kind {
            ErrorKind::InvalidArgument => BackendErrorKind::InvalidArgument,
            ErrorKind::InvalidState => BackendErrorKind::InvalidState,
            ErrorKind::OutOfMemory => BackendErrorKind::OutOfMemory,
            ErrorKind::Timeout => BackendErrorKind::Timeout,
            ErrorKind::Device => BackendErrorKind::Runtime,
            ErrorKind::NotFound => BackendErrorKind::NotFound,
            ErrorKind::Unsupported => BackendErrorKind::Unsupported,
            ErrorKind::Cancelled => BackendErrorKind::Cancelled,
            ErrorKind::DeviceLost => BackendErrorKind::DeviceLost,
        };
        BackendError::new(kind, alloc::string::ToString::to_string(e.message()))
    }
}

/// `return Err(BackendError)` of a kind, with formatted text.
macro_rules! err {
    ($kind:ident, $($arg:tt)*) => {
        Err($crate::backend::error::BackendError::new(
            $crate::backend::error::BackendErrorKind::$kind,
            alloc::format!($($arg)*),
        ))
    };
}
pub(crate) use err;

/// A failure moving queue entries or running a graph: inside a graph's kernel, in the program
/// interpreter's calls, and in the io side's transfers. Each backend call puts itself and the
/// queue in front of it when it becomes a [`BackendError`]; in a kernel it becomes the
/// kernel's failure text.
#[derive(Debug)]
pub enum RunError {
    /// The chip refused an access.
    Chip(HalError),
    /// The device (a CQ, a kernel) failed.
    Device(RuntimeError),
    /// A tilize or untilize of one of the queue's entries failed.
    Format {
        queue: String,
        error: FormatError,
    },
    /// The graph engine failed (its text names the graph and op).
    Exec(ExecError),
    /// A graph named a queue it neither reads nor writes.
    NotInGraph {
        queue: usize,
    },
    Deallocated {
        queue: String,
    },
    /// A run found no entry at its read pointer within the kernel's wait.
    Starved {
        queue: String,
        /// The graph's input_count, and which of its runs (from 0) found nothing.
        runs: u32,
        run: u32,
        /// Entries the remaining runs need from the global read pointer `rd`, and how many
        /// the queue holds.
        needed: u32,
        holds: u32,
        rd: u32,
        /// The pointer the run read at.
        at: u32,
    },
    /// An output queue stayed full within the kernel's wait.
    Full {
        queue: String,
        entries: u32,
    },
    /// A sub-graph of a temporal graph was executed twice in one run of it.
    ExecutedTwice {
        graph: String,
        temporal: String,
    },
    /// Two sub-graphs of a temporal graph gave a queue different settings.
    SettingsDiffer {
        queue: String,
        temporal: String,
    },
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::message::count;
        match self {
            RunError::Chip(e) => e.fmt(f),
            RunError::Device(e) => e.fmt(f),
            RunError::Format { queue, error } => write!(f, "queue '{queue}': {error}"),
            RunError::Exec(e) => e.fmt(f),
            RunError::NotInGraph { queue } => {
                write!(f, "queue {queue} is not an input or output of the graph")
            }
            RunError::Deallocated { queue } => write!(f, "queue '{queue}' is deallocated"),
            RunError::Starved {
                queue,
                runs,
                run,
                needed,
                holds,
                rd,
                at,
            } => write!(
                f,
                "input_count {runs} needs {} of queue '{queue}' from read pointer {rd}, and it \
                 holds {}: push them before run_program (run {} of {runs} found none at \
                 pointer {at})",
                count(*needed, "entry"),
                count(*holds, "entry"),
                run + 1,
            ),
            RunError::Full { queue, entries } => write!(
                f,
                "output queue '{queue}' is full ({}): pop its outputs before running again",
                count(*entries, "entry")
            ),
            RunError::ExecutedTwice { graph, temporal } => write!(
                f,
                "graph `{graph}` is executed again before the rest of its temporal graph \
                 ({temporal}) was: each sub-graph is executed once per run of the temporal graph"
            ),
            RunError::SettingsDiffer { queue, temporal } => write!(
                f,
                "queue `{queue}` gets different settings from two executes of temporal graph \
                 {temporal}: they must be identical"
            ),
        }
    }
}

impl From<HalError> for RunError {
    fn from(e: HalError) -> Self {
        RunError::Chip(e)
    }
}

impl From<RuntimeError> for RunError {
    fn from(e: RuntimeError) -> Self {
        RunError::Device(e)
    }
}

impl From<ExecError> for RunError {
    fn from(e: ExecError) -> Self {
        RunError::Exec(e)
    }
}

#[cfg(test)]
mod tests {
    //! Each `RunError` prints the text the backend printed when these failures were strings
    //! (C callers and tests/ffi/error_texts.rs read it).

    use super::RunError;
    use alloc::string::{String, ToString};

    fn name(s: &str) -> String {
        s.to_string()
    }

    #[test]
    fn run_errors_print_the_text_of_the_backend_calls_they_fail() {
        let cases = [
            (
                RunError::NotInGraph { queue: 3 },
                "queue 3 is not an input or output of the graph",
            ),
            (
                RunError::Deallocated { queue: name("q0") },
                "queue 'q0' is deallocated",
            ),
            (
                RunError::Starved {
                    queue: name("in0"),
                    runs: 4,
                    run: 1,
                    needed: 4,
                    holds: 1,
                    rd: 0,
                    at: 1,
                },
                "input_count 4 needs 4 entries of queue 'in0' from read pointer 0, and it holds \
                 1 entry: push them before run_program (run 2 of 4 found none at pointer 1)",
            ),
            (
                RunError::Full {
                    queue: name("out"),
                    entries: 1,
                },
                "output queue 'out' is full (1 entry): pop its outputs before running again",
            ),
            (
                RunError::ExecutedTwice {
                    graph: name("first"),
                    temporal: name("first, sum"),
                },
                "graph `first` is executed again before the rest of its temporal graph \
                 (first, sum) was: each sub-graph is executed once per run of the temporal graph",
            ),
            (
                RunError::SettingsDiffer {
                    queue: name("q"),
                    temporal: name("a, b"),
                },
                "queue `q` gets different settings from two executes of temporal graph a, b: \
                 they must be identical",
            ),
            (
                RunError::Format {
                    queue: name("q"),
                    error: crate::format::FormatError::Entries {
                        found: 2,
                        detail: "one entry per call",
                    },
                },
                "queue 'q': tensor has 2 entries (outermost dimension): one entry per call",
            ),
        ];
        for (e, text) in cases {
            assert_eq!(e.to_string(), text);
        }
    }
}
