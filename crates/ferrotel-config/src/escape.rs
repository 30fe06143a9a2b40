//! Printing foreign text: values of the environment and of configuration files, file paths,
//! and what a collector answers. Such text can hold CR and LF (a forged log line), ESC
//! (terminal control sequences), BEL, BS, and can be megabytes long; [`printable`] is the one
//! way ferrotel prints it.
//!
//! ```
//! use ferrotel_config::escape::printable;
//!
//! let hostile = "ok\r\n2026-01-01 INFO forged line \u{1b}[2J";
//! assert_eq!(
//!     printable(hostile).to_string(),
//!     r"ok\r\n2026-01-01 INFO forged line \u{1b}[2J"
//! );
//! assert!(printable(&"x".repeat(100_000)).to_string().len() < 600);
//! ```

use std::fmt;

/// The most characters of a foreign text [`printable`] shows; the rest is counted, not shown.
pub const MAX_PRINTED_CHARS: usize = 512;

/// `text`, ready to be printed: control characters (C0, DEL, C1), Unicode line and paragraph
/// separators and bidirectional overrides written as escapes (`\r`, `\n`, `\t`, `\u{1b}`), and
/// at most [`MAX_PRINTED_CHARS`] characters followed by how many bytes were left out.
pub fn printable(text: &str) -> Printable<'_> {
    Printable { text }
}

/// Foreign text that prints safely; see [`printable`].
#[derive(Debug, Clone, Copy)]
pub struct Printable<'t> {
    text: &'t str,
}

impl fmt::Display for Printable<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (count, (at, c)) in self.text.char_indices().enumerate() {
            if count == MAX_PRINTED_CHARS {
                return write!(f, "…({} more bytes)", self.text.len() - at);
            }
            match c {
                '\r' => f.write_str("\\r")?,
                '\n' => f.write_str("\\n")?,
                '\t' => f.write_str("\\t")?,
                c if needs_escape(c) => write!(f, "\\u{{{:x}}}", u32::from(c))?,
                c => fmt::Write::write_char(f, c)?,
            }
        }
        Ok(())
    }
}

/// Characters that move the cursor, end a line, or reorder what a terminal shows.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
        )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn every_control_character_is_escaped() {
        let text = "a\rb\nc\u{1b}[31md\u{7}e\u{8}f\tg\u{0}h\u{7f}i\u{85}j\u{9b}k\u{2028}l\u{202e}m";
        let shown = printable(text).to_string();
        assert_eq!(
            shown,
            r"a\rb\nc\u{1b}[31md\u{7}e\u{8}f\tg\u{0}h\u{7f}i\u{85}j\u{9b}k\u{2028}l\u{202e}m"
        );
        assert!(!shown.chars().any(needs_escape), "{shown}");
        assert_eq!(
            printable("/etc/ssl/ca.pem é").to_string(),
            "/etc/ssl/ca.pem é"
        );
    }

    #[test]
    fn long_text_is_cut_at_a_character_boundary_and_says_how_much_is_missing() {
        let text = format!("{}{}", "é".repeat(MAX_PRINTED_CHARS), "x".repeat(128 << 10));
        let shown = printable(&text).to_string();
        assert!(shown.starts_with(&"é".repeat(MAX_PRINTED_CHARS)));
        assert!(
            shown.ends_with(&format!("…({} more bytes)", 128 << 10)),
            "{shown}"
        );
        let exact = "y".repeat(MAX_PRINTED_CHARS);
        assert_eq!(printable(&exact).to_string(), exact);
    }
}
