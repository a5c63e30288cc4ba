//! Rows of the `events` table: one per event, with the context the rules saw at that
//! moment (process, user, container, file descriptor), built column by column into Arrow
//! arrays. Only the columns a query asks for are built.

use crate::schema::Table;
use arrow::array::{
    ArrayRef, BooleanBuilder, Int64Builder, StringBuilder, TimestampNanosecondBuilder,
    UInt16Builder, UInt32Builder, UInt64Builder,
};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use casefile_formats::event::Arg;
use casefile_formats::event::{Event, EventKind};
use casefile_formats::render::{arg_text, errno_name};
use casefile_formats::schema::{kind_info, render_int, Category, Hint};
use casefile_formats::text::escape;
use casefile_rules::fields::{Ctx, EventFd};
use casefile_rules::state::FdKind;
use casefile_rules::state::{Process, StateEngine};
use std::collections::HashMap;
use std::io::Write as _;
use std::sync::Arc;

/// Columns of `events`, in schema order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Col {
    Time,
    EvtNum,
    Host,
    Source,
    EvtType,
    Category,
    Cpu,
    Pid,
    Tid,
    Ppid,
    ProcName,
    Exe,
    Exepath,
    Cmdline,
    User,
    Uid,
    ContainerId,
    PodUid,
    Fd,
    FdType,
    FdName,
    L4proto,
    LocalIp,
    LocalPort,
    RemoteIp,
    RemotePort,
    Flags,
    Ret,
    Failed,
    Errno,
    Args,
}

const COLS: [Col; 31] = [
    Col::Time,
    Col::EvtNum,
    Col::Host,
    Col::Source,
    Col::EvtType,
    Col::Category,
    Col::Cpu,
    Col::Pid,
    Col::Tid,
    Col::Ppid,
    Col::ProcName,
    Col::Exe,
    Col::Exepath,
    Col::Cmdline,
    Col::User,
    Col::Uid,
    Col::ContainerId,
    Col::PodUid,
    Col::Fd,
    Col::FdType,
    Col::FdName,
    Col::L4proto,
    Col::LocalIp,
    Col::LocalPort,
    Col::RemoteIp,
    Col::RemotePort,
    Col::Flags,
    Col::Ret,
    Col::Failed,
    Col::Errno,
    Col::Args,
];

impl Col {
    fn of_process(self) -> bool {
        matches!(
            self,
            Col::ProcName
                | Col::Exe
                | Col::Exepath
                | Col::Cmdline
                | Col::User
                | Col::ContainerId
                | Col::PodUid
        )
    }

    fn of_fd(self) -> bool {
        matches!(
            self,
            Col::Fd
                | Col::FdType
                | Col::FdName
                | Col::L4proto
                | Col::LocalIp
                | Col::LocalPort
                | Col::RemoteIp
                | Col::RemotePort
        )
    }
}

enum Builder {
    Time(TimestampNanosecondBuilder),
    U64(UInt64Builder),
    U32(UInt32Builder),
    U16(UInt16Builder),
    I64(Int64Builder),
    Bool(BooleanBuilder),
    Str(StringBuilder),
}

impl Builder {
    fn for_col(col: Col) -> Builder {
        match col {
            Col::Time => Builder::Time(TimestampNanosecondBuilder::new().with_timezone("UTC")),
            Col::EvtNum => Builder::U64(UInt64Builder::new()),
            Col::Cpu | Col::LocalPort | Col::RemotePort => Builder::U16(UInt16Builder::new()),
            Col::Pid | Col::Tid | Col::Ppid | Col::Uid => Builder::U32(UInt32Builder::new()),
            Col::Fd | Col::Ret => Builder::I64(Int64Builder::new()),
            Col::Failed => Builder::Bool(BooleanBuilder::new()),
            _ => Builder::Str(StringBuilder::new()),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Builder::Time(b) => Arc::new(b.finish()),
            Builder::U64(b) => Arc::new(b.finish()),
            Builder::U32(b) => Arc::new(b.finish()),
            Builder::U16(b) => Arc::new(b.finish()),
            Builder::I64(b) => Arc::new(b.finish()),
            Builder::Bool(b) => Arc::new(b.finish()),
            Builder::Str(b) => Arc::new(b.finish()),
        }
    }
}

/// A process's strings as the events table shows them, made once per process image
/// instead of once per event.
#[derive(Clone, Default)]
struct ProcessText {
    name: String,
    exe: String,
    exepath: String,
    cmdline: String,
    user: Option<String>,
    container_id: Option<String>,
    pod_uid: Option<String>,
}

impl ProcessText {
    fn new(process: &Process, state: &StateEngine) -> ProcessText {
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let nonempty = |s: &str| (!s.is_empty()).then(|| s.to_string());
        ProcessText {
            name: text(process.comm.as_bytes()),
            exe: text(process.exe.as_bytes()),
            exepath: text(process.exepath.as_bytes()),
            cmdline: text(&process.cmdline()),
            user: state.user(process.uid).map(|u| text(u.name.as_bytes())),
            container_id: nonempty(&process.container_id),
            pod_uid: nonempty(&process.pod_uid),
        }
    }
}

/// The `source` column: where an event came from.
pub fn source_of(kind: EventKind) -> &'static str {
    match kind_info(kind).category {
        Category::Meta => "casefile",
        Category::Plugin => "plugin",
        _ => "syscall",
    }
}

pub fn l4proto_name(proto: u8) -> Option<String> {
    match proto {
        0 => None,
        6 => Some("tcp".into()),
        17 => Some("udp".into()),
        other => Some(other.to_string()),
    }
}

/// Builds `events` batches of the projected columns.
pub struct EventColumns {
    cols: Vec<Col>,
    builders: Vec<Builder>,
    schema: SchemaRef,
    host: String,
    needs_process: bool,
    needs_fd: bool,
    rows: usize,
    /// Per pid; dropped when the process changes image, name or user.
    texts: HashMap<u32, ProcessText, foldhash::fast::RandomState>,
    /// The `args` text being built, kept for its allocation.
    json: Vec<u8>,
}

impl EventColumns {
    /// A builder of the columns at `projection` (indices into the `events` schema; all
    /// when `None`).
    pub fn new(projection: Option<&[usize]>, host: &str) -> EventColumns {
        let full = Table::Events.schema();
        let indices: Vec<usize> = match projection {
            Some(p) => p.to_vec(),
            None => (0..full.fields().len()).collect(),
        };
        let cols: Vec<Col> = indices
            .iter()
            .filter_map(|&i| COLS.get(i).copied())
            .collect();
        let schema = Arc::new(full.project(&indices).unwrap_or_else(|_| (*full).clone()));
        EventColumns {
            builders: cols.iter().map(|&c| Builder::for_col(c)).collect(),
            needs_process: cols.iter().any(|c| c.of_process()),
            needs_fd: cols.iter().any(|c| c.of_fd()),
            cols,
            schema,
            host: host.to_string(),
            rows: 0,
            texts: HashMap::default(),
            json: Vec::new(),
        }
    }

    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Forgets what was cached of `pid`'s process: call it when an event may have
    /// changed its image, name or user.
    pub fn forget(&mut self, pid: u32) {
        self.texts.remove(&pid);
    }

    /// Adds the row of the event `ctx` is about.
    pub fn push(&mut self, ctx: &Ctx<'_>) {
        let event: &Event<'_> = ctx.event;
        let info = kind_info(event.kind);
        let process = ctx.process;
        let text = match (self.needs_process, process) {
            (true, Some(p)) => Some(
                &*self
                    .texts
                    .entry(p.pid)
                    .or_insert_with(|| ProcessText::new(p, ctx.state)),
            ),
            _ => None,
        };
        let fd = if self.needs_fd { ctx.fd.as_ref() } else { None };
        let (fd_num, fd_kind, fd_name, socket) = match fd {
            Some(EventFd::Known(num, fd)) => (
                Some(*num),
                Some(fd.kind),
                Some(fd.name.as_bytes()),
                fd.socket.as_ref(),
            ),
            Some(EventFd::FailedOpen(path)) => {
                (None, Some(FdKind::File), Some(path.as_bytes()), None)
            }
            None => (None, None, None, None),
        };
        for (col, builder) in self.cols.iter().zip(self.builders.iter_mut()) {
            match (col, builder) {
                (Col::Time, Builder::Time(b)) => {
                    b.append_value(ctx.boot_time_ns.saturating_add(event.ts) as i64)
                }
                (Col::EvtNum, Builder::U64(b)) => b.append_value(ctx.num),
                (Col::Host, Builder::Str(b)) => b.append_value(&self.host),
                (Col::Source, Builder::Str(b)) => b.append_value(source_of(event.kind)),
                (Col::EvtType, Builder::Str(b)) => b.append_value(info.name),
                (Col::Category, Builder::Str(b)) => b.append_value(info.category.as_str()),
                (Col::Cpu, Builder::U16(b)) => b.append_value(event.cpu),
                (Col::Pid, Builder::U32(b)) => b.append_value(event.pid),
                (Col::Tid, Builder::U32(b)) => b.append_value(event.tid),
                (Col::Ppid, Builder::U32(b)) => b.append_option(process.map(|p| p.ppid)),
                (Col::Uid, Builder::U32(b)) => b.append_option(process.map(|p| p.uid)),
                (Col::ProcName, Builder::Str(b)) => b.append_option(text.map(|t| &t.name)),
                (Col::Exe, Builder::Str(b)) => b.append_option(text.map(|t| &t.exe)),
                (Col::Exepath, Builder::Str(b)) => b.append_option(text.map(|t| &t.exepath)),
                (Col::Cmdline, Builder::Str(b)) => b.append_option(text.map(|t| &t.cmdline)),
                (Col::User, Builder::Str(b)) => b.append_option(text.and_then(|t| t.user.as_ref())),
                (Col::ContainerId, Builder::Str(b)) => {
                    b.append_option(text.and_then(|t| t.container_id.as_ref()))
                }
                (Col::PodUid, Builder::Str(b)) => {
                    b.append_option(text.and_then(|t| t.pod_uid.as_ref()))
                }
                (Col::Fd, Builder::I64(b)) => b.append_option(fd_num),
                (Col::FdType, Builder::Str(b)) => b.append_option(fd_kind.map(|k| k.type_name())),
                (Col::FdName, Builder::Str(b)) => {
                    b.append_option(fd_name.map(String::from_utf8_lossy))
                }
                (Col::L4proto, Builder::Str(b)) => {
                    b.append_option(socket.and_then(|s| l4proto_name(s.l4proto)))
                }
                (Col::LocalIp, Builder::Str(b)) => {
                    b.append_option(socket.and_then(|s| s.local).map(|a| a.ip().to_string()))
                }
                (Col::LocalPort, Builder::U16(b)) => {
                    b.append_option(socket.and_then(|s| s.local).map(|a| a.port()))
                }
                (Col::RemoteIp, Builder::Str(b)) => {
                    b.append_option(socket.and_then(|s| s.remote).map(|a| a.ip().to_string()))
                }
                (Col::RemotePort, Builder::U16(b)) => {
                    b.append_option(socket.and_then(|s| s.remote).map(|a| a.port()))
                }
                (Col::Flags, Builder::Str(b)) => {
                    let flags = info
                        .params
                        .iter()
                        .position(|p| p.name == "flags")
                        .and_then(|i| event.args.get(i).map(|a| (i, a)))
                        .filter(|(_, a)| !matches!(a, casefile_formats::event::Arg::Absent))
                        .map(|(i, a)| arg_text(info.params.get(i), &a));
                    b.append_option(flags)
                }
                (Col::Ret, Builder::I64(b)) => b.append_value(event.ret),
                (Col::Failed, Builder::Bool(b)) => {
                    b.append_value(event.kind.is_syscall() && event.ret < 0)
                }
                (Col::Errno, Builder::Str(b)) => b.append_option(
                    (event.kind.is_syscall() && event.ret < 0)
                        .then(|| errno_name(event.ret))
                        .flatten(),
                ),
                (Col::Args, Builder::Str(b)) => {
                    write_args_json(event, &mut self.json);
                    b.append_value(String::from_utf8_lossy(&self.json));
                }
                _ => unreachable!("each column is made with its own builder"),
            }
        }
        self.rows += 1;
    }

    /// The rows so far as a batch; the builder starts empty again.
    pub fn finish(&mut self) -> Result<RecordBatch, arrow::error::ArrowError> {
        let arrays: Vec<ArrayRef> = self.builders.iter_mut().map(Builder::finish).collect();
        let rows = std::mem::take(&mut self.rows);
        RecordBatch::try_new_with_options(
            self.schema.clone(),
            arrays,
            &arrow::record_batch::RecordBatchOptions::new().with_row_count(Some(rows)),
        )
    }
}

/// The event's arguments as a JSON object, named and rendered as `casefile cat --json`
/// shows them (`arg_json`), written straight into `out`: this runs for every row of an
/// export, and building a `serde_json::Value` per event cost a fifth of the export.
pub fn write_args_json(event: &Event<'_>, out: &mut Vec<u8>) {
    let params = kind_info(event.kind).params;
    out.clear();
    out.push(b'{');
    for (i, arg) in event.args.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let param = params.get(i);
        match param {
            Some(p) => json_str(out, p.name),
            None => {
                let _ = write!(out, "\"arg{i}\"");
            }
        }
        out.push(b':');
        let symbolic = param
            .is_some_and(|p| matches!(p.hint, Hint::OpenFlags | Hint::Flags(_) | Hint::Enum(_)));
        match arg {
            Arg::Absent => out.extend_from_slice(b"null"),
            Arg::Int(v) | Arg::Fd(v) => {
                let _ = write!(out, "{v}");
            }
            Arg::Uint(v) if symbolic => {
                json_str(out, &render_int(param.map_or(Hint::Dec, |p| p.hint), v))
            }
            Arg::Uint(v) => {
                let _ = write!(out, "{v}");
            }
            Arg::Str(bytes) | Arg::Bytes(bytes) => json_str(out, &escape(bytes)),
            Arg::StrList(list) => {
                out.push(b'[');
                for (j, item) in list.iter().enumerate() {
                    if j > 0 {
                        out.push(b',');
                    }
                    json_str(out, &escape(item));
                }
                out.push(b']');
            }
            Arg::Sock(addr) => json_str(out, &addr.to_string()),
        }
    }
    out.push(b'}');
}

fn json_str(out: &mut Vec<u8>, text: &str) {
    // Writing a &str to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, text);
}

/// [`write_args_json`] as a string.
pub fn args_json(event: &Event<'_>) -> String {
    let mut out = Vec::new();
    write_args_json(event, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use casefile_formats::render::arg_json;

    #[test]
    fn columns_follow_the_schema_order() {
        let schema = Table::Events.schema();
        assert_eq!(schema.fields().len(), COLS.len());
        for (i, col) in COLS.iter().enumerate() {
            assert_eq!(*col as usize, i, "{col:?}");
        }
    }

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
    fn a_projection_builds_only_its_columns() {
        let mut cols = EventColumns::new(Some(&[7, 4]), "h");
        assert_eq!(cols.schema().field(0).name(), "pid");
        assert_eq!(cols.schema().field(1).name(), "evt_type");
        let batch = cols.finish().expect("empty batch");
        assert_eq!(batch.num_columns(), 2);
        assert_eq!(batch.num_rows(), 0);
    }
}
