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
}
