//! The tables and their Arrow schemas (table layout version [`TABLES_VERSION`], specified
//! in `docs/TABLES.md`). Times are UTC timestamps in nanoseconds, ids are integers, names
//! and paths are strings (bytes that are not UTF-8 become U+FFFD), and what does not fit
//! a typed column is JSON text.

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use std::sync::{Arc, OnceLock};

/// Bumped whenever a column is added, removed, renamed or retyped.
pub const TABLES_VERSION: u32 = 3;

/// The tables, in the order exports write them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    Events,
    Processes,
    Files,
    Connections,
    Alerts,
    Captures,
}

impl Table {
    pub const ALL: [Table; 6] = [
        Table::Events,
        Table::Processes,
        Table::Files,
        Table::Connections,
        Table::Alerts,
        Table::Captures,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Table::Events => "events",
            Table::Processes => "processes",
            Table::Files => "files",
            Table::Connections => "connections",
            Table::Alerts => "alerts",
            Table::Captures => "captures",
        }
    }

    pub fn by_name(name: &str) -> Option<Table> {
        Table::ALL.into_iter().find(|t| t.name() == name)
    }

    pub fn schema(self) -> SchemaRef {
        static SCHEMAS: OnceLock<[SchemaRef; 6]> = OnceLock::new();
        let all = SCHEMAS.get_or_init(|| Table::ALL.map(build_schema));
        all[self as usize].clone()
    }
}

pub fn timestamp() -> DataType {
    DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
}

/// Text stored once per distinct value of a batch, rows holding keys: the `events` columns
/// that repeat a few values (types, process names, users, containers).
pub fn dictionary_text() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

fn string_list() -> DataType {
    DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)))
}

fn f(name: &str, ty: DataType, nullable: bool) -> Field {
    Field::new(name, ty, nullable)
}

fn build_schema(table: Table) -> SchemaRef {
    use DataType::*;
    let fields = match table {
        Table::Events => vec![
            f("time", timestamp(), false),
            f("evt_num", UInt64, false),
            f("host", dictionary_text(), false),
            f("source", dictionary_text(), false),
            f("evt_type", dictionary_text(), false),
            f("category", dictionary_text(), false),
            f("cpu", UInt16, false),
            f("pid", UInt32, false),
            f("tid", UInt32, false),
            f("ppid", UInt32, true),
            f("proc_name", dictionary_text(), true),
            f("exe", dictionary_text(), true),
            f("exepath", dictionary_text(), true),
            f("cmdline", dictionary_text(), true),
            f("user", dictionary_text(), true),
            f("uid", UInt32, true),
            f("container_id", dictionary_text(), true),
            f("pod_uid", dictionary_text(), true),
            f("fd", Int64, true),
            f("fd_type", dictionary_text(), true),
            f("fd_name", Utf8, true),
            f("l4proto", dictionary_text(), true),
            f("local_ip", Utf8, true),
            f("local_port", UInt16, true),
            f("remote_ip", Utf8, true),
            f("remote_port", UInt16, true),
            f("flags", Utf8, true),
            f("ret", Int64, false),
            f("failed", Boolean, false),
            f("errno", dictionary_text(), true),
            f("args", Utf8, false),
        ],
        Table::Processes => vec![
            f("pid", UInt32, false),
            f("ppid", UInt32, true),
            f("proc_name", Utf8, false),
            f("exe", Utf8, false),
            f("exepath", Utf8, false),
            f("cmdline", Utf8, false),
            f("argv", string_list(), false),
            f("cwd", Utf8, true),
            f("user", Utf8, true),
            f("uid", UInt32, false),
            f("container_id", Utf8, true),
            f("pod_uid", Utf8, true),
            f("origin", Utf8, false),
            f("start_time", timestamp(), false),
            f("end_time", timestamp(), true),
            f("exit_code", Int64, true),
            f("exit_signal", Utf8, true),
            f("parent_name", Utf8, true),
            f("parent_exe", Utf8, true),
            f("parent_cmdline", Utf8, true),
            f("ancestry", Utf8, false),
        ],
        Table::Files => vec![
            f("pid", UInt32, false),
            f("proc_name", Utf8, false),
            f("exepath", Utf8, false),
            f("container_id", Utf8, true),
            f("path", Utf8, false),
            f("opens", UInt64, false),
            f("opens_write", UInt64, false),
            f("failed_opens", UInt64, false),
            f("reads", UInt64, false),
            f("bytes_read", UInt64, false),
            f("writes", UInt64, false),
            f("bytes_written", UInt64, false),
            f("truncates", UInt64, false),
            f("renames", UInt64, false),
            f("unlinks", UInt64, false),
            f("chmods", UInt64, false),
            f("execs", UInt64, false),
            f("first_time", timestamp(), false),
            f("last_time", timestamp(), false),
        ],
        Table::Connections => vec![
            f("pid", UInt32, false),
            f("proc_name", Utf8, false),
            f("exepath", Utf8, false),
            f("container_id", Utf8, true),
            f("l4proto", Utf8, true),
            f("direction", Utf8, true),
            f("local_ip", Utf8, true),
            f("local_port", UInt16, true),
            f("remote_ip", Utf8, true),
            f("remote_port", UInt16, true),
            f("connects", UInt64, false),
            f("failed_connects", UInt64, false),
            f("accepts", UInt64, false),
            f("sends", UInt64, false),
            f("bytes_sent", UInt64, false),
            f("recvs", UInt64, false),
            f("bytes_received", UInt64, false),
            f("first_time", timestamp(), false),
            f("last_time", timestamp(), false),
        ],
        Table::Alerts => vec![
            f("time", timestamp(), false),
            f("evt_num", UInt64, false),
            f("rule", Utf8, false),
            f("priority", Utf8, false),
            f("source", Utf8, false),
            f("tags", string_list(), false),
            f("host", Utf8, false),
            f("output", Utf8, false),
            f("evt_type", Utf8, false),
            f("pid", UInt32, false),
            f("tid", UInt32, false),
            f("proc_name", Utf8, true),
            f("exepath", Utf8, true),
            f("cmdline", Utf8, true),
            f("container_id", Utf8, true),
            f("fd_name", Utf8, true),
            f("ancestry", Utf8, false),
            f("output_fields", Utf8, false),
        ],
        Table::Captures => vec![
            f("path", Utf8, false),
            f("host", Utf8, false),
            f("kernel", Utf8, false),
            f("machine_id", Utf8, false),
            f("cloud_instance_id", Utf8, true),
            f("boot_time", timestamp(), false),
            f("start_time", timestamp(), true),
            f("end_time", timestamp(), true),
            f("events", UInt64, false),
            f("drops", UInt64, false),
            f("blocks", UInt64, false),
            f("bytes", UInt64, false),
            f("truncated_bytes", UInt64, false),
            f("syscall_set", Utf8, false),
            f("complete", Boolean, false),
        ],
    };
    Arc::new(Schema::new(fields))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_has_a_schema_and_round_trips_its_name() {
        for table in Table::ALL {
            assert_eq!(Table::by_name(table.name()), Some(table));
            assert!(!table.schema().fields().is_empty());
        }
        assert_eq!(Table::by_name("nope"), None);
    }
}
