//! Netlist errors: the file, the line, the key path (`graphs.fwd.op0.ublock`) and what was
//! expected against what was found, on one line.

use alloc::string::String;
use core::fmt;

/// A netlist that cannot be read or does not validate.
#[derive(Clone, PartialEq, Eq)]
pub struct NetlistError {
    /// The file as the caller named it (`<netlist>` for text without a file).
    pub file: String,
    /// 1-based line of the offending node, when known.
    pub line: Option<u32>,
    /// Key path from the document root, dot-separated; list items as `[i]`.
    pub path: String,
    /// What was wrong: expected against found, or the rule that failed.
    pub message: String,
}

impl fmt::Display for NetlistError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if !self.path.is_empty() {
            write!(f, ": {}", self.path)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl fmt::Debug for NetlistError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(feature = "std")]
impl std::error::Error for NetlistError {}
