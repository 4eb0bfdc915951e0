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

/// Writes `text` with line breaks and other control characters escaped: names quoted in a
/// netlist may hold them, and an error must stay one line.
pub(super) fn one_line(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    for c in text.chars() {
        if c.is_control() {
            write!(f, "{}", c.escape_default())?;
        } else {
            fmt::Write::write_char(f, c)?;
        }
    }
    Ok(())
}

impl fmt::Display for NetlistError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        one_line(f, &self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if !self.path.is_empty() {
            f.write_str(": ")?;
            one_line(f, &self.path)?;
        }
        f.write_str(": ")?;
        one_line(f, &self.message)
    }
}

impl fmt::Debug for NetlistError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(feature = "std")]
impl std::error::Error for NetlistError {}
