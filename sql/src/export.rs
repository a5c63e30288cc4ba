//! Parquet export: every table in its own directory under the export directory, zstd
//! compressed with statistics, optionally in Hive-style partitions
//! (`events/host=web-1/date=2026-11-23/part-00003.parquet`). `events` is written by the
//! pass's workers, one part file per segment, so encoding runs in parallel; a manifest
//! (`casefile-export.json`) says what was exported from what.

use crate::build::{run_pass, BatchSink, PassOptions};
use crate::error::SqlError;
use crate::schema::{Table, TABLES_VERSION};
use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, TimestampNanosecondType};
use arrow::record_batch::RecordBatch;
use casefile_replay::{CaptureSet, ReplayReport};
use casefile_rules::engine::CompiledRules;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The manifest at the top of an export directory.
pub const MANIFEST: &str = "casefile-export.json";

/// Rows per Parquet row group: small enough that statistics prune time ranges well.
const ROW_GROUP_ROWS: usize = 262_144;

/// Which Hive-style partition columns to write.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Partitioning {
    pub host: bool,
    pub date: bool,
}

impl Partitioning {
    /// Parses `host,date`, `host`, `date` or an empty list.
    pub fn parse(text: &str) -> Result<Partitioning, String> {
        let mut p = Partitioning::default();
        for part in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match part {
                "host" => p.host = true,
                "date" => p.date = true,
                other => {
                    return Err(format!(
                        "unknown partition column `{other}`: the choices are host and date"
                    ))
                }
            }
        }
        Ok(p)
    }
}

pub struct ExportOptions {
    pub dir: PathBuf,
    pub partitioning: Partitioning,
    pub overwrite: bool,
    pub threads: usize,
    /// Rules whose alerts fill `alerts` (empty rules: an empty table).
    pub rules: Arc<CompiledRules>,
    /// The rule files, for the manifest.
    pub rule_files: Vec<PathBuf>,
}

#[derive(Debug, Default)]
pub struct TableReport {
    pub rows: u64,
    pub files: u64,
    pub bytes: u64,
}

pub struct ExportReport {
    pub tables: BTreeMap<Table, TableReport>,
    pub replay: ReplayReport,
    pub elapsed: Duration,
}

impl ExportReport {
    pub fn bytes(&self) -> u64 {
        self.tables.values().map(|t| t.bytes).sum()
    }
}

/// Free text, paths and command lines, written without statistics in every table (see
/// `writer_properties`).
const UNRANGED_TEXT: [&str; 8] = [
    "args",
    "cmdline",
    "parent_cmdline",
    "exe",
    "exepath",
    "parent_exe",
    "fd_name",
    "path",
];

/// `events` id columns written without a dictionary.
const PLAIN_EVENT_IDS: [&str; 5] = ["pid", "tid", "ppid", "uid", "cpu"];

fn writer_properties(table: Table) -> WriterProperties {
    let mut builder = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        // Nearly every value of these is new: a dictionary only costs time and falls
        // back to plain encoding anyway.
        .set_column_dictionary_enabled(ColumnPath::from("args"), false)
        .set_column_dictionary_enabled(ColumnPath::from("time"), false)
        .set_column_dictionary_enabled(ColumnPath::from("evt_num"), false)
        // Event numbers count up by one and times by small steps: stored as deltas
        // they take a few bits a row, where plain values left zstd 13 bytes of every
        // 80 to squeeze.
        .set_column_encoding(ColumnPath::from("time"), Encoding::DELTA_BINARY_PACKED)
        .set_column_encoding(ColumnPath::from("evt_num"), Encoding::DELTA_BINARY_PACKED);
    if table == Table::Events {
        // Interning each event's ids in a dictionary cost 4% of an export's instructions;
        // plain, zstd still packs them (the events table grows 1.4%).
        for column in PLAIN_EVENT_IDS {
            builder = builder.set_column_dictionary_enabled(ColumnPath::from(column), false);
        }
    }
    // Minimum and maximum of text prune nothing when every row group spans the range,
    // as it does for free text and paths, and for the event types, names, users,
    // containers and addresses of a busy host's events; they cost two comparisons a
    // value (6% of the instructions of an export). `host` and `source` are the same in
    // every row group of a capture: a data lake finds a host's files by the `host=`
    // partition, not by reading ranges (which cost another 1.7%).
    let unranged: Vec<String> = match table {
        Table::Events => table
            .schema()
            .fields()
            .iter()
            .filter(|f| matches!(f.data_type(), DataType::Utf8 | DataType::Dictionary(..)))
            .map(|f| f.name().clone())
            .collect(),
        _ => UNRANGED_TEXT.iter().map(|s| s.to_string()).collect(),
    };
    for column in unranged {
        builder = builder
            .set_column_statistics_enabled(ColumnPath::from(column), EnabledStatistics::None);
    }
    builder
        .set_created_by(format!(
            "casefile {} (tables v{TABLES_VERSION})",
            env!("CARGO_PKG_VERSION")
        ))
        .build()
}

/// A partition value as a path segment: bytes outside `[A-Za-z0-9._-]` are %-escaped,
/// as Hive does, so a hostile hostname cannot climb out of the export directory.
fn partition_value(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-') && !value.starts_with('.') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.is_empty() {
        out.push_str("__HIVE_DEFAULT_PARTITION__");
    }
    out
}

fn date_of(ns: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(ns)
        .format("%Y-%m-%d")
        .to_string()
}

/// Writes batches of one table under `root`, into partition directories as rows ask.
struct PartitionedWriter {
    table: Table,
    root: PathBuf,
    file_name: String,
    host: Option<String>,
    /// The timestamp column that picks the date partition, when partitioning by date.
    date_column: Option<usize>,
    /// With host partitions, the table's own `host` column: it lives in the path (the
    /// Hive convention: readers add it back from there).
    host_column: Option<usize>,
    writers: BTreeMap<PathBuf, ArrowWriter<File>>,
    rows: u64,
}

impl PartitionedWriter {
    fn new(root: &Path, table: Table, part: usize, host: &str, p: Partitioning) -> Self {
        let date_column = match table {
            Table::Events | Table::Alerts => Some("time"),
            Table::Processes => Some("start_time"),
            Table::Files | Table::Connections => Some("first_time"),
            Table::Captures => None,
        }
        .filter(|_| p.date)
        .and_then(|name| table.schema().index_of(name).ok());
        PartitionedWriter {
            table,
            root: root.join(table.name()),
            file_name: format!("part-{part:05}.parquet"),
            host: p.host.then(|| partition_value(host)),
            date_column,
            host_column: table.schema().index_of("host").ok().filter(|_| p.host),
            writers: BTreeMap::new(),
            rows: 0,
        }
    }

    fn dir_for(&self, date: Option<&str>) -> PathBuf {
        let mut dir = self.root.clone();
        if let Some(host) = &self.host {
            dir.push(format!("host={host}"));
        }
        if let Some(date) = date {
            dir.push(format!("date={date}"));
        }
        dir
    }

    fn write_to(&mut self, dir: PathBuf, batch: &RecordBatch) -> Result<(), SqlError> {
        let path = dir.join(&self.file_name);
        let projected;
        let batch = match self.host_column {
            Some(host) => {
                let keep: Vec<usize> = (0..batch.num_columns()).filter(|&i| i != host).collect();
                projected = batch.project(&keep)?;
                &projected
            }
            None => batch,
        };
        if !self.writers.contains_key(&dir) {
            std::fs::create_dir_all(&dir).map_err(|e| SqlError::io(&dir, e))?;
            let file = File::create(&path).map_err(|e| SqlError::io(&path, e))?;
            let writer =
                ArrowWriter::try_new(file, batch.schema(), Some(writer_properties(self.table)))
                    .map_err(|source| SqlError::Parquet {
                        path: path.clone(),
                        source,
                    })?;
            self.writers.insert(dir.clone(), writer);
        }
        if let Some(writer) = self.writers.get_mut(&dir) {
            writer
                .write(batch)
                .map_err(|source| SqlError::Parquet { path, source })?;
        }
        Ok(())
    }

    fn close_all(&mut self) -> Result<(), SqlError> {
        for (dir, writer) in std::mem::take(&mut self.writers) {
            let path = dir.join(&self.file_name);
            writer
                .close()
                .map_err(|source| SqlError::Parquet { path, source })?;
        }
        Ok(())
    }
}

impl BatchSink for PartitionedWriter {
    fn write(&mut self, batch: RecordBatch) -> Result<(), SqlError> {
        self.rows += batch.num_rows() as u64;
        let Some(column) = self.date_column else {
            let dir = self.dir_for(None);
            return self.write_to(dir, &batch);
        };
        // Rows come in time order within a segment, so dates come in runs.
        let times = batch
            .column(column)
            .as_primitive::<TimestampNanosecondType>()
            .clone();
        let mut start = 0;
        while start < batch.num_rows() {
            let date = date_of(if times.is_null(start) {
                0
            } else {
                times.value(start)
            });
            let mut end = start + 1;
            while end < batch.num_rows() && !times.is_null(end) && date_of(times.value(end)) == date
            {
                end += 1;
            }
            let dir = self.dir_for(Some(&date));
            self.write_to(dir, &batch.slice(start, end - start))?;
            start = end;
        }
        Ok(())
    }

    fn close(&mut self) -> Result<(), SqlError> {
        self.close_all()
    }
}

/// Makes `dir` ready for an export: refuses a directory with an export in it unless
/// `overwrite`, in which case only casefile's own tables and manifest are removed.
fn prepare_dir(dir: &Path, overwrite: bool) -> Result<(), SqlError> {
    let ours = |name: &str| name == MANIFEST || Table::by_name(name).is_some();
    if dir.exists() {
        let entries = std::fs::read_dir(dir).map_err(|e| SqlError::io(dir, e))?;
        let mut found = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| SqlError::io(dir, e))?;
            found.push(entry.file_name().to_string_lossy().into_owned());
        }
        let existing: Vec<&String> = found.iter().filter(|n| ours(n)).collect();
        if !existing.is_empty() {
            if !overwrite {
                return Err(SqlError::Export {
                    path: dir.into(),
                    detail: "already holds an export; give --overwrite to replace it".into(),
                });
            }
            for name in existing {
                let path = dir.join(name);
                let result = if path.is_dir() {
                    std::fs::remove_dir_all(&path)
                } else {
                    std::fs::remove_file(&path)
                };
                result.map_err(|e| SqlError::io(&path, e))?;
            }
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| SqlError::io(dir, e))
}

fn disk_usage(path: &Path) -> (u64, u64) {
    let Ok(meta) = std::fs::metadata(path) else {
        return (0, 0);
    };
    if meta.is_file() {
        return (1, meta.len());
    }
    let mut total = (0, 0);
    if let Ok(entries) = std::fs::read_dir(path) {
        for entry in entries.flatten() {
            let (files, bytes) = disk_usage(&entry.path());
            total.0 += files;
            total.1 += bytes;
        }
    }
    total
}

/// Exports `set` to `options.dir`; `on_progress(done, total)` follows the events.
pub fn export(
    set: &CaptureSet,
    options: &ExportOptions,
    on_progress: impl FnMut(u64, u64),
) -> Result<ExportReport, SqlError> {
    let started = Instant::now();
    let dir = &options.dir;
    prepare_dir(dir, options.overwrite)?;
    let host = set.first().header().host.hostname.clone();
    let pass = run_pass(
        set,
        options.rules.clone(),
        &PassOptions {
            events: Some(None),
            summaries: true,
            threads: options.threads,
            ..PassOptions::default()
        },
        |part, _| PartitionedWriter::new(dir, Table::Events, part, &host, options.partitioning),
        on_progress,
    )?;
    let mut tables = BTreeMap::new();
    tables.insert(
        Table::Events,
        TableReport {
            rows: pass.event_rows,
            ..TableReport::default()
        },
    );
    // The summary tables are written side by side: the replay is over, every core free.
    let written: Vec<Result<(Table, TableReport), SqlError>> = pass
        .summaries
        .par_iter()
        .map(|(table, batch)| {
            let mut writer = PartitionedWriter::new(dir, *table, 0, &host, options.partitioning);
            if batch.num_rows() > 0 {
                writer.write(batch.clone())?;
            } else {
                // An empty table still gets a file, so readers see its schema.
                let path = writer.dir_for(None);
                writer.write_to(path, batch)?;
            }
            writer.close_all()?;
            let report = TableReport {
                rows: batch.num_rows() as u64,
                ..TableReport::default()
            };
            Ok((*table, report))
        })
        .collect();
    for result in written {
        let (table, report) = result?;
        tables.insert(table, report);
    }
    for (table, report) in tables.iter_mut() {
        (report.files, report.bytes) = disk_usage(&dir.join(table.name()));
    }
    if pass.event_rows == 0 {
        let mut writer = PartitionedWriter::new(dir, Table::Events, 0, &host, options.partitioning);
        let empty = RecordBatch::new_empty(Table::Events.schema());
        let path = writer.dir_for(None);
        writer.write_to(path, &empty)?;
        writer.close_all()?;
    }
    let manifest = serde_json::json!({
        "casefile_export": TABLES_VERSION,
        "writer": format!("casefile {}", env!("CARGO_PKG_VERSION")),
        "host": host,
        "captures": set.files().iter().map(|f| f.path().display().to_string()).collect::<Vec<_>>(),
        "rules": options.rule_files.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        "partitioning": {"host": options.partitioning.host, "date": options.partitioning.date},
        "tables": tables.iter().map(|(t, r)| (t.name().to_string(), serde_json::json!({"rows": r.rows, "files": r.files, "bytes": r.bytes}))).collect::<serde_json::Map<_, _>>(),
    });
    let manifest_path = dir.join(MANIFEST);
    let text = serde_json::to_string_pretty(&manifest).unwrap_or_default();
    std::fs::write(&manifest_path, text + "\n").map_err(|e| SqlError::io(&manifest_path, e))?;
    Ok(ExportReport {
        tables,
        replay: pass.report,
        elapsed: started.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_values_cannot_leave_the_directory() {
        assert_eq!(partition_value("web-1.example"), "web-1.example");
        assert_eq!(partition_value("../etc"), "%2E%2E%2Fetc");
        assert_eq!(partition_value("a/b"), "a%2Fb");
        assert_eq!(partition_value(""), "__HIVE_DEFAULT_PARTITION__");
    }

    #[test]
    fn events_keep_statistics_where_they_prune_and_dictionaries_where_they_pay() {
        let props = writer_properties(Table::Events);
        let stats = |c: &str| props.statistics_enabled(&ColumnPath::from(c));
        let dict = |c: &str| props.dictionary_enabled(&ColumnPath::from(c));
        for ranged in ["time", "evt_num", "pid", "ret"] {
            assert_eq!(stats(ranged), EnabledStatistics::Page, "{ranged}");
        }
        for unranged in [
            "args",
            "host",
            "proc_name",
            "evt_type",
            "fd_name",
            "remote_ip",
        ] {
            assert_eq!(stats(unranged), EnabledStatistics::None, "{unranged}");
        }
        for plain in ["args", "time", "pid", "tid", "cpu"] {
            assert!(!dict(plain), "{plain}");
        }
        for dictionary in ["proc_name", "evt_type", "fd", "ret", "fd_name"] {
            assert!(dict(dictionary), "{dictionary}");
        }
        // Other tables keep their ids in dictionaries and statistics on names.
        let processes = writer_properties(Table::Processes);
        assert!(processes.dictionary_enabled(&ColumnPath::from("pid")));
        assert_eq!(
            processes.statistics_enabled(&ColumnPath::from("proc_name")),
            EnabledStatistics::Page
        );
    }

    #[test]
    fn partitioning_parses() {
        assert_eq!(
            Partitioning::parse("host,date"),
            Ok(Partitioning {
                host: true,
                date: true
            })
        );
        assert!(Partitioning::parse("host,month").is_err());
    }
}
