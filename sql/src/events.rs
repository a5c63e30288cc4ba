//! Rows of the `events` table: one per event, with the context the rules saw at that
//! moment (process, user, container, file descriptor), built column by column into Arrow
//! arrays. Only the columns a query asks for are built.

use crate::schema::Table;
use arrow::array::{Array, ArrayRef, BooleanArray, DictionaryArray, PrimitiveArray, StringBuilder};
use arrow::buffer::{BooleanBuffer, NullBuffer, ScalarBuffer};
use arrow::datatypes::ArrowPrimitiveType;
use arrow::datatypes::SchemaRef;
use arrow::datatypes::{
    Int32Type, Int64Type, TimestampNanosecondType, UInt16Type, UInt32Type, UInt64Type,
};
use arrow::record_batch::RecordBatch;
use casefile_formats::event::Arg;
use casefile_formats::event::{Event, EventKind};
use casefile_formats::render::{arg_text, errno_name};
use casefile_formats::schema::{kind_info, render_int, Category, Hint};
use casefile_formats::text::{escape_into, utf8_lossy};
use casefile_rules::fields::{Ctx, EventFd};
use casefile_rules::state::FdKind;
use casefile_rules::state::{Process, StateEngine};
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::IpAddr;
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

    /// Text with few distinct values in a batch, built as a dictionary (`DictText`).
    fn is_dictionary(self) -> bool {
        matches!(
            self,
            Col::Host
                | Col::Source
                | Col::EvtType
                | Col::Category
                | Col::ProcName
                | Col::Exe
                | Col::Exepath
                | Col::Cmdline
                | Col::User
                | Col::ContainerId
                | Col::PodUid
                | Col::FdType
                | Col::L4proto
                | Col::Errno
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
    Time(Values<TimestampNanosecondType>),
    U64(Values<UInt64Type>),
    U32(Values<UInt32Type>),
    U16(Values<UInt16Type>),
    I64(Values<Int64Type>),
    Bool(Vec<bool>),
    Str(StringBuilder),
    Dict(DictText),
}

impl Builder {
    fn for_col(col: Col) -> Builder {
        match col {
            Col::Time => Builder::Time(Values::default()),
            Col::EvtNum => Builder::U64(Values::default()),
            Col::Cpu | Col::LocalPort | Col::RemotePort => Builder::U16(Values::default()),
            Col::Pid | Col::Tid | Col::Ppid | Col::Uid => Builder::U32(Values::default()),
            Col::Fd | Col::Ret => Builder::I64(Values::default()),
            Col::Failed => Builder::Bool(Vec::new()),
            col if col.is_dictionary() => Builder::Dict(DictText::default()),
            _ => Builder::Str(StringBuilder::new()),
        }
    }

    /// The column so far. A finished builder would start over with no capacity; it is
    /// made again sized like this batch instead, so the next batch's columns do not grow
    /// by reallocating and copying as they fill (3% of an export).
    fn finish(&mut self) -> Result<ArrayRef, arrow::error::ArrowError> {
        Ok(match self {
            Builder::Time(b) => Arc::new(b.finish().with_timezone("UTC")),
            Builder::U64(b) => Arc::new(b.finish()),
            Builder::U32(b) => Arc::new(b.finish()),
            Builder::U16(b) => Arc::new(b.finish()),
            Builder::I64(b) => Arc::new(b.finish()),
            Builder::Bool(b) => {
                let array = BooleanArray::new(BooleanBuffer::from(b.as_slice()), None);
                b.clear();
                Arc::new(array)
            }
            Builder::Str(b) => {
                let bytes = b.values_slice().len();
                let array = b.finish();
                *b = StringBuilder::with_capacity(array.len(), bytes);
                Arc::new(array)
            }
            Builder::Dict(d) => Arc::new(d.finish()?),
        })
    }
}

/// A number column as plain vectors: Arrow's builders cost about 20 instructions a value
/// (two buffers, each checked for room), a vector push a few.
struct Values<T: ArrowPrimitiveType> {
    values: Vec<T::Native>,
    /// Row validity, kept once a column takes `push_option`.
    valid: Vec<bool>,
    nulls: usize,
}

impl<T: ArrowPrimitiveType> Default for Values<T> {
    fn default() -> Self {
        Values {
            values: Vec::new(),
            valid: Vec::new(),
            nulls: 0,
        }
    }
}

impl<T: ArrowPrimitiveType> Values<T> {
    /// A row of a column without nulls.
    fn push(&mut self, value: T::Native) {
        self.values.push(value);
    }

    /// A row of a column that has nulls (each of its rows comes through here).
    fn push_option(&mut self, value: Option<T::Native>) {
        self.values.push(value.unwrap_or_default());
        self.valid.push(value.is_some());
        self.nulls += usize::from(value.is_none());
    }

    fn finish(&mut self) -> PrimitiveArray<T> {
        let rows = self.values.len();
        let values = std::mem::replace(&mut self.values, Vec::with_capacity(rows));
        let nulls = (std::mem::take(&mut self.nulls) > 0)
            .then(|| NullBuffer::new(BooleanBuffer::from(self.valid.as_slice())));
        self.valid.clear();
        PrimitiveArray::new(ScalarBuffer::from(values), nulls)
    }
}

/// A text column whose values repeat within a batch (event types, process names, users):
/// each distinct value is stored once per batch and rows hold its key. A row costs a key
/// instead of a copy of its text, and Parquet dictionary-encodes the column either way.
/// Values are found by a small integer id ([`DictText::push_id`]) or by a key the caller
/// keeps ([`DictText::push_keyed`], for per-process text).
#[derive(Default)]
struct DictText {
    /// Row keys, [`NULL_KEY`] for a null row: a plain vector, because Arrow's key builder
    /// cost 30 instructions a row.
    keys: Vec<i32>,
    nulls: usize,
    values: StringBuilder,
    /// The key of each id seen in this batch, -1 for none.
    key_of_id: Vec<i32>,
    ids_seen: Vec<usize>,
}

const NULL_KEY: i32 = -1;

impl DictText {
    fn push_null(&mut self) {
        self.keys.push(NULL_KEY);
        self.nulls += 1;
    }

    /// A row of `text`, which is what `id` always stands for in this column.
    fn push_id(&mut self, id: usize, text: &str) {
        if id >= self.key_of_id.len() {
            self.key_of_id.resize(id + 1, -1);
        }
        let key = match self.key_of_id[id] {
            -1 => {
                let key = self.add_value(text);
                self.key_of_id[id] = key;
                self.ids_seen.push(id);
                key
            }
            key => key,
        };
        self.keys.push(key);
    }

    /// A row of the value under `key`; `new` when this row brings it (it is then added
    /// under the next key, which the caller has counted as `key`). `None` is a null row
    /// (an empty value keeps the caller's keys in step).
    fn push_keyed(&mut self, key: i32, new: bool, text: Option<&str>) {
        if new {
            let added = self.add_value(text.unwrap_or(""));
            debug_assert_eq!(added, key, "a keyed column takes only keyed rows");
        }
        match text {
            Some(_) => self.keys.push(key),
            None => self.push_null(),
        }
    }

    fn add_value(&mut self, text: &str) -> i32 {
        self.values.append_value(text);
        // At most one value per row, and batches are far below i32::MAX rows.
        (arrow::array::ArrayBuilder::len(&self.values) - 1) as i32
    }

    fn finish(&mut self) -> Result<DictionaryArray<Int32Type>, arrow::error::ArrowError> {
        for id in self.ids_seen.drain(..) {
            self.key_of_id[id] = -1;
        }
        let rows = self.keys.len();
        let mut keys = std::mem::replace(&mut self.keys, Vec::with_capacity(rows));
        let nulls = (std::mem::take(&mut self.nulls) > 0).then(|| {
            let valid = BooleanBuffer::collect_bool(rows, |i| keys[i] != NULL_KEY);
            // Null rows point at the first value, as Arrow's own builders leave them.
            for key in keys.iter_mut() {
                *key = (*key).max(0);
            }
            NullBuffer::new(valid)
        });
        let keys = PrimitiveArray::<Int32Type>::new(ScalarBuffer::from(keys), nulls);
        let bytes = self.values.values_slice().len();
        let values = self.values.finish();
        self.values = StringBuilder::with_capacity(values.len(), bytes);
        DictionaryArray::try_new(keys, Arc::new(values))
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
    /// The batch whose dictionaries hold these strings, and their key there.
    batch: u64,
    key: i32,
}

impl ProcessText {
    fn new(process: &Process, state: &StateEngine) -> ProcessText {
        let text = |b: &[u8]| utf8_lossy(b).into_owned();
        let nonempty = |s: &str| (!s.is_empty()).then(|| s.to_string());
        ProcessText {
            name: text(process.comm.as_bytes()),
            exe: text(process.exe.as_bytes()),
            exepath: text(process.exepath.as_bytes()),
            cmdline: text(&process.cmdline()),
            user: state.user(process.uid).map(|u| text(u.name.as_bytes())),
            container_id: nonempty(&process.container_id),
            pod_uid: nonempty(&process.pod_uid),
            batch: 0,
            key: 0,
        }
    }
}

/// The `source` column: where an event came from.
pub fn source_of(kind: EventKind) -> &'static str {
    source_of_category(kind_info(kind).category).1
}

/// The source of events of `category`, and a small number that stands for it.
fn source_of_category(category: Category) -> (usize, &'static str) {
    match category {
        Category::Meta => (0, "casefile"),
        Category::Plugin => (1, "plugin"),
        _ => (2, "syscall"),
    }
}

/// A row of one of the process's strings (`field`) in `column`, keyed as `push` found
/// the process in this batch; a null row for an event without a process.
fn push_process_text(
    column: &mut DictText,
    process: Option<(&ProcessText, i32, bool)>,
    field: impl Fn(&ProcessText) -> Option<&str>,
) {
    match process {
        Some((text, key, new)) => column.push_keyed(key, new, field(text)),
        None => column.push_null(),
    }
}

pub fn l4proto_name(proto: u8) -> Option<Cow<'static, str>> {
    match proto {
        0 => None,
        6 => Some(Cow::Borrowed("tcp")),
        17 => Some(Cow::Borrowed("udp")),
        other => Some(Cow::Owned(other.to_string())),
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
    /// Batches finished so far, plus one: the batch being built.
    batch: u64,
    /// Processes in this batch's dictionaries.
    process_keys: i32,
    /// Per pid; dropped when the process changes image, name or user.
    texts: HashMap<u32, ProcessText, foldhash::fast::RandomState>,
    args: ArgsWriter,
    /// Addresses as text: formatting one per socket event showed in profiles, and a
    /// capture talks to few addresses.
    ip_texts: TextCache<IpAddr>,
}

/// Text rendered once per distinct key, for values a capture repeats millions of times.
/// Bounded: it starts over when it holds `TEXT_CACHE_MAX` texts and a new one comes.
type TextCache<K> = HashMap<K, String, foldhash::fast::RandomState>;

const TEXT_CACHE_MAX: usize = 4096;

fn cached_text<K: std::hash::Hash + Eq>(
    cache: &mut TextCache<K>,
    key: K,
    render: impl FnOnce() -> String,
) -> &str {
    if cache.len() >= TEXT_CACHE_MAX && !cache.contains_key(&key) {
        cache.clear();
    }
    cache.entry(key).or_insert_with(render)
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
            batch: 1,
            process_keys: 0,
            texts: HashMap::default(),
            args: ArgsWriter::default(),
            ip_texts: HashMap::default(),
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
        let kind_id = usize::from(event.kind.0);
        let process = ctx.process;
        // The process's strings, their key in this batch's dictionaries, and whether
        // this row is the first of the batch to show them.
        let text = match (self.needs_process, process) {
            (true, Some(p)) => {
                let text = self
                    .texts
                    .entry(p.pid)
                    .or_insert_with(|| ProcessText::new(p, ctx.state));
                let new = text.batch != self.batch;
                if new {
                    text.batch = self.batch;
                    text.key = self.process_keys;
                    self.process_keys += 1;
                }
                Some((&*text, text.key, new))
            }
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
        let failed = event.kind.is_syscall() && event.ret < 0;
        for (col, builder) in self.cols.iter().zip(self.builders.iter_mut()) {
            match (col, builder) {
                (Col::Time, Builder::Time(b)) => {
                    b.push(ctx.boot_time_ns.saturating_add(event.ts) as i64)
                }
                (Col::EvtNum, Builder::U64(b)) => b.push(ctx.num),
                (Col::Host, Builder::Dict(d)) => d.push_id(0, &self.host),
                (Col::Source, Builder::Dict(d)) => {
                    let (id, source) = source_of_category(info.category);
                    d.push_id(id, source)
                }
                (Col::EvtType, Builder::Dict(d)) => d.push_id(kind_id, info.name),
                (Col::Category, Builder::Dict(d)) => {
                    d.push_id(info.category as usize, info.category.as_str())
                }
                (Col::Cpu, Builder::U16(b)) => b.push(event.cpu),
                (Col::Pid, Builder::U32(b)) => b.push(event.pid),
                (Col::Tid, Builder::U32(b)) => b.push(event.tid),
                (Col::Ppid, Builder::U32(b)) => b.push_option(process.map(|p| p.ppid)),
                (Col::Uid, Builder::U32(b)) => b.push_option(process.map(|p| p.uid)),
                (Col::ProcName, Builder::Dict(d)) => push_process_text(d, text, |t| Some(&t.name)),
                (Col::Exe, Builder::Dict(d)) => push_process_text(d, text, |t| Some(&t.exe)),
                (Col::Exepath, Builder::Dict(d)) => {
                    push_process_text(d, text, |t| Some(&t.exepath))
                }
                (Col::Cmdline, Builder::Dict(d)) => {
                    push_process_text(d, text, |t| Some(&t.cmdline))
                }
                (Col::User, Builder::Dict(d)) => push_process_text(d, text, |t| t.user.as_deref()),
                (Col::ContainerId, Builder::Dict(d)) => {
                    push_process_text(d, text, |t| t.container_id.as_deref())
                }
                (Col::PodUid, Builder::Dict(d)) => {
                    push_process_text(d, text, |t| t.pod_uid.as_deref())
                }
                (Col::Fd, Builder::I64(b)) => b.push_option(fd_num),
                (Col::FdType, Builder::Dict(d)) => match fd_kind {
                    Some(kind) => d.push_id(kind as usize, kind.type_name()),
                    None => d.push_null(),
                },
                (Col::FdName, Builder::Str(b)) => b.append_option(fd_name.map(utf8_lossy)),
                (Col::L4proto, Builder::Dict(d)) => {
                    match socket.and_then(|s| Some((s.l4proto, l4proto_name(s.l4proto)?))) {
                        Some((proto, name)) => d.push_id(usize::from(proto), &name),
                        None => d.push_null(),
                    }
                }
                (Col::LocalIp, Builder::Str(b)) => b.append_option(
                    socket
                        .and_then(|s| s.local)
                        .map(|a| cached_text(&mut self.ip_texts, a.ip(), || a.ip().to_string())),
                ),
                (Col::LocalPort, Builder::U16(b)) => {
                    b.push_option(socket.and_then(|s| s.local).map(|a| a.port()))
                }
                (Col::RemoteIp, Builder::Str(b)) => b.append_option(
                    socket
                        .and_then(|s| s.remote)
                        .map(|a| cached_text(&mut self.ip_texts, a.ip(), || a.ip().to_string())),
                ),
                (Col::RemotePort, Builder::U16(b)) => {
                    b.push_option(socket.and_then(|s| s.remote).map(|a| a.port()))
                }
                (Col::Flags, Builder::Str(b)) => b.append_option(self.args.flags(event)),
                (Col::Ret, Builder::I64(b)) => b.push(event.ret),
                (Col::Failed, Builder::Bool(b)) => b.push(failed),
                (Col::Errno, Builder::Dict(d)) => {
                    match failed.then(|| errno_name(event.ret)).flatten() {
                        // A failed syscall's return value is a small negative errno.
                        Some(name) => d.push_id(event.ret.unsigned_abs() as usize, name),
                        None => d.push_null(),
                    }
                }
                (Col::Args, Builder::Str(b)) => b.append_value(self.args.write(event)),
                _ => unreachable!("each column is made with its own builder"),
            }
        }
        self.rows += 1;
    }

    /// The rows so far as a batch; the builder starts empty again.
    pub fn finish(&mut self) -> Result<RecordBatch, arrow::error::ArrowError> {
        let arrays = self
            .builders
            .iter_mut()
            .map(Builder::finish)
            .collect::<Result<Vec<ArrayRef>, _>>()?;
        let rows = std::mem::take(&mut self.rows);
        self.batch += 1;
        self.process_keys = 0;
        RecordBatch::try_new_with_options(
            self.schema.clone(),
            arrays,
            &arrow::record_batch::RecordBatchOptions::new().with_row_count(Some(rows)),
        )
    }
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
    fn flags(&mut self, event: &Event<'_>) -> Option<Cow<'_, str>> {
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

    fn strings(array: &dyn Array) -> Vec<Option<String>> {
        let text = arrow::compute::cast(array, &arrow::datatypes::DataType::Utf8).expect("cast");
        let text = text
            .as_any()
            .downcast_ref::<arrow::array::StringArray>()
            .expect("strings");
        text.iter().map(|v| v.map(str::to_string)).collect()
    }

    #[test]
    fn dictionary_columns_hold_each_rows_text_across_batches() {
        let owned = |rows: &[Option<&str>]| -> Vec<Option<String>> {
            rows.iter().map(|v| v.map(str::to_string)).collect()
        };
        let (mut by_id, mut keyed) = (DictText::default(), DictText::default());
        for batch in 0..2 {
            by_id.push_id(7, "openat");
            by_id.push_null();
            by_id.push_id(3, "read");
            by_id.push_id(7, "openat");
            let array = by_id.finish().expect("valid keys");
            assert_eq!(
                strings(&array),
                owned(&[Some("openat"), None, Some("read"), Some("openat")]),
                "batch {batch}"
            );
            assert_eq!(array.values().len(), 2, "each value once per batch");

            // Three processes: one without a user (its empty value keeps keys in step).
            keyed.push_keyed(0, true, Some("root"));
            keyed.push_keyed(1, true, None);
            keyed.push_null();
            keyed.push_keyed(0, false, Some("root"));
            keyed.push_keyed(2, true, Some("www-data"));
            keyed.push_keyed(1, false, None);
            assert_eq!(
                strings(&keyed.finish().expect("valid keys")),
                owned(&[
                    Some("root"),
                    None,
                    None,
                    Some("root"),
                    Some("www-data"),
                    None
                ]),
                "batch {batch}"
            );
        }
        let mut nulls_only = DictText::default();
        nulls_only.push_null();
        assert_eq!(strings(&nulls_only.finish().expect("valid")), [None]);
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
