//! Rows of the `events` table: one per event, with the context the rules saw at that
//! moment (process, user, container, file descriptor), built column by column into Arrow
//! arrays. Only the columns a query asks for are built.

use crate::args::{cached_text, ArgsWriter, TextCache};
use crate::schema::Table;
use arrow::array::{Array, ArrayRef, BooleanArray, DictionaryArray, PrimitiveArray, StringBuilder};
use arrow::buffer::{BooleanBuffer, NullBuffer, ScalarBuffer};
use arrow::datatypes::ArrowPrimitiveType;
use arrow::datatypes::SchemaRef;
use arrow::datatypes::{
    Int32Type, Int64Type, TimestampNanosecondType, UInt16Type, UInt32Type, UInt64Type,
};
use arrow::record_batch::RecordBatch;
use casefile_formats::event::{Event, EventKind};
use casefile_formats::render::errno_name;
use casefile_formats::schema::{kind_info, Category};
use casefile_formats::text::utf8_lossy;
use casefile_rules::fields::{Ctx, EventFd};
use casefile_rules::state::FdKind;
use casefile_rules::state::{Process, StateEngine};
use std::collections::HashMap;
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
        self.of_process()
            || matches!(
                self,
                Col::Host
                    | Col::Source
                    | Col::EvtType
                    | Col::Category
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
            name: text(&process.display_name()),
            exe: text(process.exe.as_bytes()),
            exepath: text(process.exepath.as_bytes()),
            cmdline: text(&process.cmdline()),
            // `user.name`: of the effective uid, as the rules read it.
            user: state.user(process.euid).map(|u| text(u.name.as_bytes())),
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
                // `user.uid`: the effective uid, as the rules read it.
                (Col::Uid, Builder::U32(b)) => b.push_option(process.map(|p| p.euid)),
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
                    match socket.and_then(|s| Some((s.l4proto, s.l4proto_name()?))) {
                        Some((proto, name)) => d.push_id(usize::from(proto), name),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_follow_the_schema_order() {
        let schema = Table::Events.schema();
        assert_eq!(schema.fields().len(), COLS.len());
        for (i, col) in COLS.iter().enumerate() {
            assert_eq!(*col as usize, i, "{col:?}");
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
    fn number_columns_keep_nulls_wherever_they_first_come() {
        let mut column = Values::<UInt32Type>::default();
        for rows in [
            vec![None, Some(1), None],
            vec![Some(2), Some(3), None, Some(4)],
            vec![Some(5)],
            vec![],
        ] {
            for &row in &rows {
                column.push_option(row);
            }
            let array = column.finish();
            assert_eq!(array.iter().collect::<Vec<_>>(), rows);
            assert_eq!(array.nulls().is_some(), rows.contains(&None), "{rows:?}");
        }
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
