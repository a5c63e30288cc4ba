//! Escaping of untrusted bytes for terminals and text output.
//!
//! Process names, paths, command lines and buffers come from the observed host and may
//! hold ANSI escape sequences, newlines or invalid UTF-8 put there by an attacker. Every
//! piece of casefile that prints them goes through [`escape`], so a hostile process name
//! cannot repaint an investigator's screen or forge a line of output.

use std::borrow::Cow;
use std::fmt::Write;

/// Renders `bytes` as printable text: valid UTF-8 stays as it is, except control
/// characters (C0, DEL, C1) and backslashes, which become `\n`, `\t`, `\\` or `\xNN`/`\u{NNNN}`;
/// every byte that is not part of valid UTF-8 becomes `\xNN`.
pub fn escape(bytes: &[u8]) -> Cow<'_, str> {
    if let Ok(s) = std::str::from_utf8(bytes) {
        if !s.chars().any(needs_escape) {
            return Cow::Borrowed(s);
        }
    }
    let mut out = String::with_capacity(bytes.len() + 8);
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            push_char(&mut out, c);
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    Cow::Owned(out)
}

/// [`escape`] for text that is already a `str` (for example from JSON payloads).
pub fn escape_str(s: &str) -> Cow<'_, str> {
    escape(s.as_bytes())
}

fn needs_escape(c: char) -> bool {
    c.is_control() || c == '\\' || is_invisible_format(c)
}

/// Bidirectional overrides and zero-width characters: not control characters, but they
/// make a terminal show text in an order or shape other than its bytes ("Trojan Source").
fn is_invisible_format(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
}

fn push_char(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        '\r' => out.push_str("\\r"),
        '\\' => out.push_str("\\\\"),
        c if (c as u32) < 0x100 && c.is_control() => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c if c.is_control() || is_invisible_format(c) => {
            let _ = write!(out, "\\u{{{:04x}}}", c as u32);
        }
        c => out.push(c),
    }
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn plain_text_is_borrowed() {
        assert!(matches!(
            escape(b"/usr/bin/curl"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn control_characters_and_invalid_utf8_are_escaped() {
        assert_eq!(escape(b"evil\x1b[2Jname\n"), "evil\\x1b[2Jname\\n");
        assert_eq!(escape(b"a\xffb"), "a\\xffb");
        assert_eq!(escape("x\u{9b}y".as_bytes()), "x\\x9by");
        assert_eq!(escape("txt\u{202e}exe".as_bytes()), "txt\\u{202e}exe");
        assert_eq!(escape(b"back\\slash"), "back\\\\slash");
        assert_eq!(escape("caf\u{e9}".as_bytes()), "caf\u{e9}");
    }
}
