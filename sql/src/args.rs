//! The `args` column: an event's arguments as a JSON object, named and rendered as
//! `casefile cat --json` shows them, written row after row into kept buffers, with
//! control characters escaped as `casefile cat` escapes them.

use casefile_formats::event::{Arg, Event, EventKind};
use casefile_formats::render::arg_text;
use casefile_formats::schema::{kind_info, render_int, Hint};
use casefile_formats::text::escape_into;
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write as _;

/// Text rendered once per distinct key, for values a capture repeats millions of times.
/// Bounded: it starts over when it holds `TEXT_CACHE_MAX` texts and a new one comes.
pub(crate) type TextCache<K> = HashMap<K, String, foldhash::fast::RandomState>;

const TEXT_CACHE_MAX: usize = 4096;

pub(crate) fn cached_text<K: std::hash::Hash + Eq>(
    cache: &mut TextCache<K>,
    key: K,
    render: impl FnOnce() -> String,
) -> &str {
    if cache.len() >= TEXT_CACHE_MAX && !cache.contains_key(&key) {
        cache.clear();
    }
    cache.entry(key).or_insert_with(render)
}

/// Renders events' arguments as JSON, row after row, into buffers it keeps. Flag and
/// enum arguments are rendered symbolically (`O_RDONLY|O_CLOEXEC`) through a cache: a
/// capture repeats a few values millions of times, and rendering one allocated twice.
#[derive(Default)]
pub struct ArgsWriter {
    json: String,
    escaped: String,
    /// By event kind, argument position and value.
    symbols: TextCache<(u16, usize, u64)>,
}

impl ArgsWriter {
    /// The event's arguments as a JSON object, named and rendered as `casefile cat
    /// --json` shows them (`arg_json`).
    pub fn write(&mut self, event: &Event<'_>) -> &str {
        let params = kind_info(event.kind).params;
        let mut numbers = itoa::Buffer::new();
        let out = &mut self.json;
        out.clear();
        out.push('{');
        for (i, arg) in event.args.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let param = params.get(i);
            // Parameter names are the schema's identifiers: nothing in them to escape.
            out.push('"');
            match param {
                Some(p) => out.push_str(p.name),
                None => {
                    out.push_str("arg");
                    out.push_str(numbers.format(i));
                }
            }
            out.push_str("\":");
            match arg {
                Arg::Absent => out.push_str("null"),
                Arg::Int(v) | Arg::Fd(v) => out.push_str(numbers.format(v)),
                Arg::Uint(v) => match param.filter(|p| is_symbolic(p.hint)) {
                    Some(p) => {
                        let text = symbol(&mut self.symbols, event.kind, i, p.hint, v);
                        push_json_str(out, text);
                    }
                    None => out.push_str(numbers.format(v)),
                },
                Arg::Str(bytes) | Arg::Bytes(bytes) => {
                    push_json_text(out, &mut self.escaped, bytes)
                }
                Arg::StrList(list) => {
                    out.push('[');
                    for (j, item) in list.iter().enumerate() {
                        if j > 0 {
                            out.push(',');
                        }
                        push_json_text(out, &mut self.escaped, item);
                    }
                    out.push(']');
                }
                Arg::Sock(addr) => push_json_str(out, &addr.to_string()),
            }
        }
        out.push('}');
        out
    }

    /// The `flags` column: the event's `flags` argument as `casefile cat` shows it.
    pub(crate) fn flags(&mut self, event: &Event<'_>) -> Option<Cow<'_, str>> {
        let info = kind_info(event.kind);
        let index = info.params.iter().position(|p| p.name == "flags")?;
        let param = info.params.get(index);
        match event.args.get(index)? {
            Arg::Absent => None,
            Arg::Uint(v) => Some(Cow::Borrowed(symbol(
                &mut self.symbols,
                event.kind,
                index,
                param.map_or(Hint::Dec, |p| p.hint),
                v,
            ))),
            arg => Some(Cow::Owned(arg_text(param, &arg))),
        }
    }
}

fn is_symbolic(hint: Hint) -> bool {
    matches!(hint, Hint::OpenFlags | Hint::Flags(_) | Hint::Enum(_))
}

fn symbol(
    symbols: &mut TextCache<(u16, usize, u64)>,
    kind: EventKind,
    index: usize,
    hint: Hint,
    value: u64,
) -> &str {
    cached_text(symbols, (kind.0, index, value), || render_int(hint, value))
}

/// Untrusted `bytes` as a JSON string literal of their escaped text ([`escape_into`],
/// through `scratch`).
fn push_json_text(out: &mut String, scratch: &mut String, bytes: &[u8]) {
    // Printable ASCII without quotes or backslashes, nearly every path and most
    // buffers, needs neither escaping: one pass over it instead of two and a copy.
    let plain = bytes
        .iter()
        .fold(true, |plain, &b| plain & is_json_plain(b));
    match std::str::from_utf8(bytes) {
        Ok(text) if plain => {
            out.push('"');
            out.push_str(text);
            out.push('"');
        }
        Ok(text) if text.is_ascii() => push_json_ascii(out, text),
        _ => {
            scratch.clear();
            escape_into(bytes, scratch);
            push_json_str(out, scratch);
        }
    }
}

/// Printable ASCII other than quotes and backslashes: what neither `escape` nor JSON
/// changes.
const fn is_json_plain(b: u8) -> bool {
    (b >= 0x20) & (b < 0x7f) & (b != b'"') & (b != b'\\')
}

/// ASCII `text` as a JSON string of its escaped text, both escapings in one pass:
/// buffers with line ends and quotes (requests, logs, JSON bodies) are common.
fn push_json_ascii(out: &mut String, text: &str) {
    out.push('"');
    let mut plain_from = 0;
    for (i, b) in text.bytes().enumerate() {
        // A table look-up instead of the chain of comparisons a `match` makes: the loop
        // runs for every byte of such buffers.
        if JSON_PLAIN_ASCII[usize::from(b & 0x7f)] {
            continue;
        }
        // ASCII: every index is a char boundary.
        out.push_str(&text[plain_from..i]);
        push_json_escaped_ascii(out, b);
        plain_from = i + 1;
    }
    out.push_str(&text[plain_from..]);
    out.push('"');
}

/// [`is_json_plain`] for each ASCII byte.
static JSON_PLAIN_ASCII: [bool; 128] = {
    let mut table = [false; 128];
    let mut b = 0;
    while b < 128 {
        table[b] = is_json_plain(b as u8);
        b += 1;
    }
    table
};

/// The JSON text of what `escape` makes of the ASCII byte `b`, which is not plain.
fn push_json_escaped_ascii(out: &mut String, b: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    match b {
        b'"' => out.push_str("\\\""),
        // `escape` doubles a backslash; JSON doubles each again.
        b'\\' => out.push_str("\\\\\\\\"),
        b'\n' => out.push_str("\\\\n"),
        b'\t' => out.push_str("\\\\t"),
        b'\r' => out.push_str("\\\\r"),
        _ => {
            out.push_str("\\\\x");
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
}

/// `text` as a JSON string literal. Text from [`escape`] holds no control characters,
/// so only quotes and backslashes usually need escaping here.
fn push_json_str(out: &mut String, text: &str) {
    out.push('"');
    // Most text has nothing to escape: a fold without an early exit vectorizes.
    if text.bytes().fold(true, |plain, b| {
        plain & (b >= 0x20 && b != b'"' && b != b'\\')
    }) {
        out.push_str(text);
        out.push('"');
        return;
    }
    let mut plain_from = 0;
    for (i, byte) in text.bytes().enumerate() {
        let escaped = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0x00..=0x1f => "",
            _ => continue,
        };
        // Quotes, backslashes and control characters are ASCII: `i` is a char boundary.
        out.push_str(&text[plain_from..i]);
        if escaped.is_empty() {
            let _ = write!(out, "\\u{byte:04x}");
        } else {
            out.push_str(escaped);
        }
        plain_from = i + 1;
    }
    out.push_str(&text[plain_from..]);
    out.push('"');
}

/// The event's arguments as a JSON object (see [`ArgsWriter::write`]).
pub fn args_json(event: &Event<'_>) -> String {
    ArgsWriter::default().write(event).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use casefile_formats::render::arg_json;

    #[test]
    fn args_json_is_what_cat_json_shows() {
        use casefile_formats::event::{ArgsBuilder, OwnedEvent};
        use casefile_formats::schema::syscall_nr;
        let openat = EventKind::syscall(syscall_nr("openat").expect("openat"));
        let mut args = ArgsBuilder::new();
        args.fd(-100)
            .str(b"/etc/sh\x1badow\"")
            .uint(0o1101)
            .uint(0o644)
            .absent();
        let owned = OwnedEvent {
            ts: 1,
            cpu: 0,
            pid: 7,
            tid: 7,
            kind: openat,
            ret: 3,
            args: args.finish(),
        };
        let event = owned.as_event();
        let params = kind_info(openat).params;
        let mut expected = serde_json::Map::new();
        for (i, arg) in event.args.iter().enumerate() {
            let name = params
                .get(i)
                .map_or(format!("arg{i}"), |p| p.name.to_string());
            expected.insert(name, arg_json(params.get(i), &arg));
        }
        let ours: serde_json::Value = serde_json::from_str(&args_json(&event)).expect("JSON");
        assert_eq!(ours, serde_json::Value::Object(expected));
    }

    #[test]
    fn cached_flag_renderings_belong_to_their_event_kind() {
        use casefile_formats::event::{ArgsBuilder, OwnedEvent};
        use casefile_formats::schema::syscall_nr;
        let event = |name: &str, build: &dyn Fn(&mut ArgsBuilder)| {
            let mut args = ArgsBuilder::new();
            build(&mut args);
            OwnedEvent {
                ts: 1,
                cpu: 0,
                pid: 7,
                tid: 7,
                kind: EventKind::syscall(syscall_nr(name).expect("known syscall")),
                ret: 0,
                args: args.finish(),
            }
        };
        // The same value in the same position: open flags for openat, hex for dup3.
        let openat = event("openat", &|a| {
            a.fd(-100).str(b"/x").uint(0o1101).uint(0o644).absent();
        });
        let dup3 = event("dup3", &|a| {
            a.fd(3).fd(4).uint(0o1101);
        });
        let mut writer = ArgsWriter::default();
        for _ in 0..2 {
            for owned in [&openat, &dup3] {
                let e = owned.as_event();
                let info = kind_info(e.kind);
                let i = info.params.iter().position(|p| p.name == "flags").unwrap();
                let expected = arg_text(info.params.get(i), &e.args.get(i).unwrap());
                assert_eq!(writer.flags(&e).as_deref(), Some(expected.as_str()));
            }
        }
        let open_flags = writer.flags(&openat.as_event()).map(Cow::into_owned);
        assert_eq!(open_flags.as_deref(), Some("O_WRONLY|O_CREAT|O_TRUNC"));
        assert_ne!(
            writer.flags(&dup3.as_event()).map(Cow::into_owned),
            open_flags
        );
    }

    #[test]
    fn parameter_names_need_no_json_escaping() {
        use casefile_formats::schema::decoded_kinds;
        let raw = kind_info(EventKind::syscall(EventKind::SYSCALL_LIMIT - 1));
        for info in decoded_kinds().chain([raw]) {
            for param in info.params {
                assert!(
                    !param.name.is_empty()
                        && param
                            .name
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'_'),
                    "{}: parameter `{}`",
                    info.name,
                    param.name
                );
            }
        }
    }

    proptest::proptest! {
        /// Every shortcut of `push_json_text` gives the JSON of `escape`'s text.
        #[test]
        fn args_text_is_the_json_of_the_escaped_text(
            bytes in proptest::collection::vec(
                proptest::sample::select(vec![
                    b'a', b'/', b' ', b'"', b'\\', b'\n', b'\r', b'\t', 0x1b, 0x00, 0x7f,
                    0xc3, 0xa9, 0xe2, 0x80, 0xae, 0xff,
                ]),
                0..24,
            )
        ) {
            let mut out = String::new();
            push_json_text(&mut out, &mut String::new(), &bytes);
            let back: String = serde_json::from_str(&out).expect("a JSON string");
            proptest::prop_assert_eq!(back, casefile_formats::text::escape(&bytes));
        }
    }

    #[test]
    fn args_text_escapes_like_cat_in_every_shape() {
        use casefile_formats::text::escape;
        let mut out = String::new();
        let mut scratch = String::new();
        for bytes in [
            &b"/etc/passwd"[..],
            b"say \"hi\"",
            b"back\\slash",
            b"line\r\n",
            b"\x1b[31mred",
            b"caf\xc3\xa9",
            b"bad \xff utf8",
            b"",
        ] {
            out.clear();
            push_json_text(&mut out, &mut scratch, bytes);
            let back: String = serde_json::from_str(&out).expect("a JSON string");
            assert_eq!(back, escape(bytes), "{out}");
        }
    }

    #[test]
    fn json_strings_escape_quotes_backslashes_and_control_characters() {
        for text in [
            "plain",
            "quote\" back\\slash",
            "nul\0 bell\u{7} esc\u{1b}",
            "caf\u{e9}\"",
        ] {
            let mut out = String::new();
            push_json_str(&mut out, text);
            let back: String = serde_json::from_str(&out).expect("a JSON string");
            assert_eq!(back, text, "{out}");
        }
    }
}
