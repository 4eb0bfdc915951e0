//! One line of text in a fixed buffer: error messages (the C last-error text, device errors
//! carried from a command queue's worker to the host) and log records. No allocation.

use core::fmt::{self, Write};

/// Capacity of the last-error text, including the terminating NUL. Longer text is cut with "...".
pub const MESSAGE_CAPACITY: usize = 512;

/// A NUL-terminated line of text in a fixed buffer of `N` bytes (the last-error text, log
/// records). Writes past the end are cut, line breaks become spaces, so the text stays one line.
pub struct MessageBuf<const N: usize = MESSAGE_CAPACITY> {
    bytes: [u8; N],
    len: usize,
    truncated: bool,
}

impl<const N: usize> MessageBuf<N> {
    pub const fn new() -> Self {
        MessageBuf {
            bytes: [0; N],
            len: 0,
            truncated: false,
        }
    }

    pub fn clear(&mut self) {
        self.len = 0;
        self.truncated = false;
        self.bytes[0] = 0;
    }

    pub fn as_str(&self) -> &str {
        // Only whole UTF-8 sequences are ever copied in (see write_str).
        core::str::from_utf8(&self.bytes[..self.len]).unwrap_or("")
    }

    pub fn as_c_ptr(&self) -> *const core::ffi::c_char {
        self.bytes.as_ptr().cast()
    }

    /// Replaces the text with `args`.
    pub fn set(&mut self, args: fmt::Arguments<'_>) {
        self.clear();
        let _ = self.write_fmt(args);
        if self.truncated {
            const ELLIPSIS: &[u8] = b"...";
            let mut end = (N - 1 - ELLIPSIS.len()).min(self.len);
            while end > 0 && (self.bytes[end] & 0xC0) == 0x80 {
                end -= 1;
            }
            self.bytes[end..end + ELLIPSIS.len()].copy_from_slice(ELLIPSIS);
            self.len = end + ELLIPSIS.len();
        }
        self.bytes[self.len] = 0;
    }
}

impl<const N: usize> Default for MessageBuf<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> fmt::Write for MessageBuf<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for ch in s.chars() {
            let ch = match ch {
                '\n' | '\r' | '\0' => ' ',
                c => c,
            };
            let mut utf8 = [0u8; 4];
            let enc = ch.encode_utf8(&mut utf8).as_bytes();
            if self.len + enc.len() > N - 1 {
                self.truncated = true;
                return Ok(());
            }
            self.bytes[self.len..self.len + enc.len()].copy_from_slice(enc);
            self.len += enc.len();
        }
        Ok(())
    }
}

/// `n` and a noun in the form the count takes: "1 input", "0 inputs", "2 entries". For the
/// counts in error texts, log records and the CLI's lines.
pub fn count(n: impl CountValue, noun: &str) -> Count<'_> {
    Count {
        n: n.value(),
        one: noun,
        many: None,
    }
}

/// As [`count`], for a noun whose plural the English rules of [`count`] do not give.
pub fn count_irregular<'a>(n: impl CountValue, one: &'a str, many: &'a str) -> Count<'a> {
    Count {
        n: n.value(),
        one,
        many: Some(many),
    }
}

/// An unsigned integer that [`count`] takes.
pub trait CountValue {
    fn value(self) -> u64;
}

macro_rules! count_value {
    ($($t:ty),*) => {$(
        impl CountValue for $t {
            fn value(self) -> u64 {
                self as u64
            }
        }
    )*};
}
count_value!(u8, u16, u32, u64, usize);

/// A count and its noun, shown as "1 entry" or "3 entries" (see [`count`]). Formats in place:
/// no allocation.
#[derive(Clone, Copy, Debug)]
pub struct Count<'a> {
    n: u64,
    one: &'a str,
    many: Option<&'a str>,
}

impl fmt::Display for Count<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ", self.n)?;
        if self.n == 1 {
            return f.write_str(self.one);
        }
        if let Some(many) = self.many {
            return f.write_str(many);
        }
        let noun = self.one;
        let b = noun.as_bytes();
        let vowel = |c: u8| matches!(c, b'a' | b'e' | b'i' | b'o' | b'u');
        if b.len() >= 2 && b[b.len() - 1] == b'y' && !vowel(b[b.len() - 2]) {
            // entry -> entries, but key -> keys.
            write!(f, "{}ies", &noun[..noun.len() - 1])
        } else if noun.ends_with('s')
            || noun.ends_with('x')
            || noun.ends_with("ch")
            || noun.ends_with("sh")
        {
            write!(f, "{noun}es")
        } else {
            write!(f, "{noun}s")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_cut_with_an_ellipsis_and_stays_nul_terminated() {
        let mut buf = MessageBuf::<MESSAGE_CAPACITY>::new();
        let long = "x".repeat(2 * MESSAGE_CAPACITY);
        buf.set(format_args!("{long}"));
        assert_eq!(buf.as_str().len(), MESSAGE_CAPACITY - 1);
        assert!(buf.as_str().ends_with("..."));
        assert_eq!(buf.bytes[buf.len], 0);
    }

    #[test]
    fn cut_never_splits_a_utf8_sequence() {
        let mut buf = MessageBuf::<MESSAGE_CAPACITY>::new();
        let long = "é".repeat(MESSAGE_CAPACITY);
        buf.set(format_args!("{long}"));
        assert!(buf.as_str().ends_with("..."));
        assert!(buf
            .as_str()
            .trim_end_matches("...")
            .chars()
            .all(|c| c == 'é'));
    }

    #[test]
    fn line_breaks_become_spaces_so_the_text_is_one_line() {
        let mut buf = MessageBuf::<MESSAGE_CAPACITY>::new();
        buf.set(format_args!("a\nb\r\nc"));
        assert_eq!(buf.as_str(), "a b  c");
    }

    fn text(c: Count<'_>) -> alloc::string::String {
        alloc::format!("{c}")
    }

    #[test]
    fn counts_take_the_singular_only_for_one() {
        assert_eq!(text(count(1u32, "input")), "1 input");
        assert_eq!(text(count(2u32, "input")), "2 inputs");
        assert_eq!(text(count(0u32, "loop")), "0 loops");
        assert_eq!(text(count(1u64, "entry")), "1 entry");
        assert_eq!(text(count(4u64, "entry")), "4 entries");
        assert_eq!(text(count(3u8, "key")), "3 keys");
        assert_eq!(text(count(2u32, "pass")), "2 passes");
        assert_eq!(text(count(2u32, "box")), "2 boxes");
        assert_eq!(text(count(2u32, "batch")), "2 batches");
        assert_eq!(text(count(1u32, "byte")), "1 byte");
        assert_eq!(text(count(1024u32, "byte")), "1024 bytes");
        assert_eq!(text(count_irregular(1u32, "datum", "datums")), "1 datum");
        assert_eq!(
            text(count_irregular(5u32, "child", "children")),
            "5 children"
        );
    }
}
