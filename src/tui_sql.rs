//! The TUI's SQL console and per-process Connections/Files views, backed by the `sql`
//! crate's tables over the open capture (the same tables `casefile sql` and exports
//! have), so every view agrees with a query an investigator runs later.

use arrow::record_batch::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use casefile_replay::CaptureSet;
use casefile_rules::engine::CompiledRules;
use casefile_sql::provider::{new_session, register_capture, CaptureSource};
use casefile_tui::ext::{ProcessActivity, SqlConsole, Table};
use datafusion::execution::context::SessionContext;
use std::path::Path;
use std::sync::Arc;

/// A DataFusion session over one capture, with a runtime of its own: the TUI calls it
/// from its (synchronous) event loop.
pub struct CaptureSql {
    runtime: tokio::runtime::Runtime,
    ctx: SessionContext,
    boot_time_ns: u64,
}

impl CaptureSql {
    pub fn open(file: &Path, rules: Arc<CompiledRules>) -> anyhow::Result<CaptureSql> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let set = CaptureSet::open(&[file])?;
        let boot_time_ns = set.first().header().host.boot_time_ns;
        let ctx = new_session(0);
        register_capture(&ctx, CaptureSource::new(set, rules, 0))?;
        Ok(CaptureSql {
            runtime,
            ctx,
            boot_time_ns,
        })
    }

    fn run(&self, sql: &str) -> Result<Table, String> {
        let batches = self.runtime.block_on(async {
            let frame = self.ctx.sql(sql).await?;
            frame.collect().await
        });
        to_table(&batches.map_err(|e| e.to_string())?)
    }

    fn activity(
        &self,
        table: &str,
        columns: &str,
        pid: u32,
        start_ts: u64,
    ) -> Result<Table, String> {
        let since = self.boot_time_ns.saturating_add(start_ts);
        self.run(&format!(
            "SELECT {columns} FROM {table} WHERE pid = {pid} \
             AND last_time >= to_timestamp_nanos({since}) ORDER BY first_time"
        ))
    }
}

fn to_table(batches: &[RecordBatch]) -> Result<Table, String> {
    let mut table = Table::default();
    let Some(first) = batches.first() else {
        return Ok(table);
    };
    table.columns = first
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let options = FormatOptions::default().with_null("");
    for batch in batches {
        let formatters = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        for row in 0..batch.num_rows() {
            table.rows.push(
                formatters
                    .iter()
                    .map(|f| f.value(row).to_string())
                    .collect(),
            );
        }
    }
    Ok(table)
}

/// One session serves both the console and the activity views, so the summary tables
/// are built once.
#[derive(Clone)]
pub struct SharedSql(pub Arc<CaptureSql>);

impl SqlConsole for SharedSql {
    fn query(&mut self, sql: &str) -> Result<Table, String> {
        self.0.run(sql)
    }
}

impl ProcessActivity for SharedSql {
    fn connections(&mut self, pid: u32, start_ts: u64) -> Result<Table, String> {
        self.0.activity(
            "connections",
            "proc_name, direction, l4proto, local_ip, local_port, remote_ip, remote_port, \
             bytes_sent, bytes_received, first_time, last_time",
            pid,
            start_ts,
        )
    }

    fn files(&mut self, pid: u32, start_ts: u64) -> Result<Table, String> {
        self.0.activity(
            "files",
            "proc_name, path, opens, opens_write, bytes_read, bytes_written, truncates, \
             renames, unlinks, chmods, execs, first_time",
            pid,
            start_ts,
        )
    }
}
