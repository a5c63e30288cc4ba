//! Rendering events for people and for machines: one sysdig-like text line, or one JSON
//! object. Both escape every string that came from the observed host.

use crate::event::{Arg, Event, EventKind};
use crate::schema::{kind_info, render_int, Hint, Param};
use crate::text::escape;
use serde_json::{json, Map, Value};
use std::fmt::Write;

const AT_FDCWD: i64 = -100;

/// An argument as text: symbolic flags, escaped strings, `<NA>` when absent.
pub fn arg_text(param: Option<&Param>, arg: &Arg<'_>) -> String {
    let hint = param.map_or(Hint::Dec, |p| p.hint);
    match arg {
        Arg::Absent => "<NA>".into(),
        Arg::Int(v) if *v >= 0 => render_int(hint, *v as u64),
        Arg::Int(v) => v.to_string(),
        Arg::Uint(v) => render_int(hint, *v),
        Arg::Fd(AT_FDCWD) => "AT_FDCWD".into(),
        Arg::Fd(v) => v.to_string(),
        Arg::Str(s) | Arg::Bytes(s) => escape(s).into_owned(),
        Arg::StrList(list) => {
            let mut out = String::new();
            for (i, item) in list.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(&escape(item));
            }
            out
        }
        Arg::Sock(addr) => addr.to_string(),
    }
}

/// An argument as JSON: numbers stay numbers unless the layout names symbolic flags,
/// strings are escaped the same way as in text, lists are arrays, absent is null.
pub fn arg_json(param: Option<&Param>, arg: &Arg<'_>) -> Value {
    let hint = param.map_or(Hint::Dec, |p| p.hint);
    let symbolic = matches!(hint, Hint::OpenFlags | Hint::Flags(_) | Hint::Enum(_));
    match arg {
        Arg::Absent => Value::Null,
        Arg::Int(v) | Arg::Fd(v) => json!(v),
        Arg::Uint(v) if symbolic => Value::String(render_int(hint, *v)),
        Arg::Uint(v) => json!(v),
        Arg::Str(s) | Arg::Bytes(s) => Value::String(escape(s).into_owned()),
        Arg::StrList(list) => Value::Array(
            list.iter()
                .map(|item| Value::String(escape(item).into_owned()))
                .collect(),
        ),
        Arg::Sock(addr) => Value::String(addr.to_string()),
    }
}

/// Name of argument `index` of `kind` (`argN` beyond the layout).
fn arg_name(params: &[Param], index: usize) -> String {
    params
        .get(index)
        .map(|p| p.name.to_string())
        .unwrap_or_else(|| format!("arg{index}"))
}

/// Formats nanoseconds since the Unix epoch as RFC 3339 UTC with nanoseconds.
pub fn wall_time(ns: u64) -> String {
    let secs = (ns / 1_000_000_000) as i64;
    let nanos = (ns % 1_000_000_000) as u32;
    match chrono::DateTime::from_timestamp(secs, nanos) {
        Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string(),
        None => format!("{ns}ns"),
    }
}

/// One line in the manner of sysdig:
/// `TIME CPU PROCESS (PID:TID) TYPE ARG=VALUE … = RET`.
pub fn event_line(event: &Event<'_>, boot_time_ns: u64, process: &[u8]) -> String {
    let info = kind_info(event.kind);
    let mut line = String::with_capacity(128);
    let _ = write!(
        line,
        "{} {} {} ({}:{}) {}",
        wall_time(event.wall_ns(boot_time_ns)),
        event.cpu,
        escape(process),
        event.pid,
        event.tid,
        if info.name == "unknown" || info.name == "syscall" {
            format!("{}#{}", info.name, event.kind.0)
        } else {
            info.name.to_string()
        }
    );
    for (i, arg) in event.args.iter().enumerate() {
        let _ = write!(
            line,
            " {}={}",
            arg_name(info.params, i),
            arg_text(info.params.get(i), &arg)
        );
    }
    if event.kind.is_syscall() {
        let _ = write!(line, " = {}", render_ret(event.ret));
    }
    line
}

/// A syscall return value, with the errno name for failures (`-2 ENOENT`).
pub fn render_ret(ret: i64) -> String {
    match errno_name(ret) {
        Some(name) => format!("{ret} {name}"),
        None => ret.to_string(),
    }
}

/// The errno name of a failed syscall's return value (`-2` → `ENOENT`).
pub fn errno_name(ret: i64) -> Option<&'static str> {
    const NAMES: &[(i64, &str)] = &[
        (1, "EPERM"),
        (2, "ENOENT"),
        (3, "ESRCH"),
        (4, "EINTR"),
        (5, "EIO"),
        (9, "EBADF"),
        (11, "EAGAIN"),
        (12, "ENOMEM"),
        (13, "EACCES"),
        (14, "EFAULT"),
        (16, "EBUSY"),
        (17, "EEXIST"),
        (20, "ENOTDIR"),
        (21, "EISDIR"),
        (22, "EINVAL"),
        (24, "EMFILE"),
        (28, "ENOSPC"),
        (32, "EPIPE"),
        (38, "ENOSYS"),
        (95, "EOPNOTSUPP"),
        (98, "EADDRINUSE"),
        (104, "ECONNRESET"),
        (110, "ETIMEDOUT"),
        (111, "ECONNREFUSED"),
        (113, "EHOSTUNREACH"),
        (114, "EALREADY"),
        (115, "EINPROGRESS"),
    ];
    if !(-4095..0).contains(&ret) {
        return None;
    }
    NAMES
        .iter()
        .find(|(n, _)| *n == -ret)
        .map(|(_, name)| *name)
}

/// One JSON object per event, with the argument names of the layout as keys.
pub fn event_json(event: &Event<'_>, boot_time_ns: u64, process: &[u8]) -> Value {
    let info = kind_info(event.kind);
    let mut args = Map::new();
    for (i, arg) in event.args.iter().enumerate() {
        args.insert(arg_name(info.params, i), arg_json(info.params.get(i), &arg));
    }
    let mut object = json!({
        "ts": event.ts,
        "time": wall_time(event.wall_ns(boot_time_ns)),
        "cpu": event.cpu,
        "pid": event.pid,
        "tid": event.tid,
        "proc": escape(process),
        "type": info.name,
        "kind": event.kind.0,
        "category": info.category.as_str(),
        "args": args,
    });
    if event.kind.is_syscall() {
        object["ret"] = json!(event.ret);
    }
    if event.kind == EventKind::SOURCE {
        object["source"] = match event.args.get(0) {
            Some(Arg::Str(s)) => Value::String(escape(s).into_owned()),
            _ => Value::Null,
        };
    }
    object
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{ArgsBuilder, OwnedEvent};

    fn openat() -> OwnedEvent {
        let mut args = ArgsBuilder::new();
        args.fd(AT_FDCWD)
            .str(b"/etc/\x1b[31mshadow")
            .uint(0o2000000)
            .uint(0)
            .absent()
            .absent();
        OwnedEvent {
            ts: 5_000_000_001,
            cpu: 1,
            pid: 10,
            tid: 11,
            kind: EventKind::syscall(257),
            ret: -13,
            args: args.finish(),
        }
    }

    #[test]
    fn text_lines_are_symbolic_and_escaped() {
        let e = openat();
        let line = event_line(&e.as_event(), 1_700_000_000_000_000_000, b"cat\n");
        assert_eq!(
            line,
            "2023-11-14T22:13:25.000000001Z 1 cat\\n (10:11) openat dirfd=AT_FDCWD \
             name=/etc/\\x1b[31mshadow flags=O_RDONLY|O_CLOEXEC mode=0 dev=<NA> ino=<NA> \
             = -13 EACCES"
        );
    }

    #[test]
    fn json_uses_layout_names_and_keeps_numbers() {
        let e = openat();
        let v = event_json(&e.as_event(), 0, b"cat");
        assert_eq!(v["type"], "openat");
        assert_eq!(v["args"]["dirfd"], -100);
        assert_eq!(v["args"]["flags"], "O_RDONLY|O_CLOEXEC");
        assert_eq!(v["args"]["name"], "/etc/\\x1b[31mshadow");
        assert_eq!(v["ret"], -13);
        assert!(v["args"]["dev"].is_null());
    }
}
