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
    if let Some(text) = unescaped(bytes) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(bytes.len() + 8);
    push_escaped(bytes, &mut out);
    Cow::Owned(out)
}

/// [`escape`] appended to `out`: for writers that render many values into reused
/// buffers, where an allocation per value would show.
pub fn escape_into(bytes: &[u8], out: &mut String) {
    match unescaped(bytes) {
        Some(text) => out.push_str(text),
        None => push_escaped(bytes, out),
    }
}

/// `bytes` as UTF-8 text, invalid sequences replaced by U+FFFD: what
/// `String::from_utf8_lossy` gives, but valid text (nearly all of it) is checked by
/// `str::from_utf8`'s fast ASCII path instead of chunk by chunk.
pub fn utf8_lossy(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// `bytes` as text, when nothing in them needs escaping. Nearly every name and path is
/// printable ASCII, and most buffers are ASCII with a few line ends: byte loops answer
/// for those, where decoding each character cost 5% of an export.
fn unescaped(bytes: &[u8]) -> Option<&str> {
    // A fold without an early exit: the compiler turns it into wide compares.
    if bytes
        .iter()
        .fold(true, |plain, &b| plain & is_plain_ascii(b))
    {
        return std::str::from_utf8(bytes).ok();
    }
    if bytes.is_ascii() {
        return None;
    }
    let text = std::str::from_utf8(bytes).ok()?;
    (!text.chars().any(needs_escape)).then_some(text)
}

fn push_escaped(bytes: &[u8], out: &mut String) {
    match std::str::from_utf8(bytes) {
        Ok(text) if bytes.is_ascii() => {
            let mut plain_from = 0;
            for (i, &b) in bytes.iter().enumerate() {
                if !is_plain_ascii(b) {
                    // ASCII text: every index is a char boundary.
                    out.push_str(&text[plain_from..i]);
                    push_char(out, char::from(b));
                    plain_from = i + 1;
                }
            }
            out.push_str(&text[plain_from..]);
        }
        _ => push_escaped_any(bytes, out),
    }
}

/// The general case, character by character.
fn push_escaped_any(bytes: &[u8], out: &mut String) {
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            push_char(out, c);
        }
        for &b in chunk.invalid() {
            push_hex_byte(out, b);
        }
    }
}

/// Printable ASCII other than the backslash: the bytes that stand for themselves.
fn is_plain_ascii(b: u8) -> bool {
    (0x20..0x7f).contains(&b) && b != b'\\'
}

fn push_hex_byte(out: &mut String, b: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push_str("\\x");
    out.push(char::from(HEX[usize::from(b >> 4)]));
    out.push(char::from(HEX[usize::from(b & 0xf)]));
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
        c if (c as u32) < 0x100 && c.is_control() => push_hex_byte(out, c as u8),
        c if c.is_control() || is_invisible_format(c) => {
            let _ = write!(out, "\\u{{{:04x}}}", c as u32);
        }
        c => out.push(c),
    }
}

#[cfg(test)]
mod tests {
    use super::{escape, escape_into, push_escaped_any};
    use proptest::prelude::*;

    proptest! {
        /// The ASCII shortcuts answer exactly as the character-by-character rules.
        #[test]
        fn shortcuts_agree_with_the_general_rules(
            bytes in prop::collection::vec(
                prop_oneof![4 => 0x20u8..0x7f, 1 => Just(b'\\'), 1 => 0u8..0x20, 1 => any::<u8>()],
                0..64,
            )
        ) {
            let mut general = String::new();
            push_escaped_any(&bytes, &mut general);
            prop_assert_eq!(escape(&bytes).into_owned(), general.clone());
            prop_assert_eq!(super::utf8_lossy(&bytes), String::from_utf8_lossy(&bytes));
            let mut appended = String::from("before:");
            escape_into(&bytes, &mut appended);
            prop_assert_eq!(appended, format!("before:{general}"));
        }
    }

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
        assert_eq!(escape(b"del\x7f"), "del\\x7f");
        assert!(matches!(
            escape(b" ~!#tilde and space~ "),
            std::borrow::Cow::Borrowed(_)
        ));
    }
}
