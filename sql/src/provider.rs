//! DataFusion over casefile's tables. A source is either capture files — queried in
//! place: `events` streams from the capture through the block index, starting at the
//! checkpoints a time filter selects and scanning segments in parallel; the summary
//! tables are built by one pass the first time a query needs them — or an export
//! directory, whose Parquet files DataFusion reads directly. Both register the same
//! table names, so a query runs unchanged on either.

use crate::build::{run_pass, BatchSink, PassOptions};
use crate::error::SqlError;
use crate::export::MANIFEST;
use crate::schema::Table;
use arrow::datatypes::{DataType, SchemaRef};
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use casefile_replay::CaptureSet;
use casefile_rules::engine::CompiledRules;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::ScalarValue;
use datafusion::datasource::{MemTable, TableType};
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::context::{SessionConfig, SessionContext};
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{BinaryExpr, Expr, Operator, TableProviderFilterPushDown};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::{PartitionStream, StreamingTableExec};
use datafusion::physical_plan::{ExecutionPlan, SendableRecordBatchStream};
use datafusion::prelude::ParquetReadOptions;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// A capture set and the rules whose alerts fill `alerts`.
pub struct CaptureSource {
    set: CaptureSet,
    rules: Arc<CompiledRules>,
    threads: usize,
    /// The summary tables, built on first use.
    summaries: OnceLock<Result<Vec<(Table, RecordBatch)>, String>>,
    /// Serializes the first build, so two tables asked for at once build once.
    building: Mutex<()>,
}

impl std::fmt::Debug for CaptureSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaptureSource")
            .field("files", &self.set.files().len())
            .finish()
    }
}

impl CaptureSource {
    pub fn new(set: CaptureSet, rules: Arc<CompiledRules>, threads: usize) -> CaptureSource {
        CaptureSource {
            set,
            rules,
            threads,
            summaries: OnceLock::new(),
            building: Mutex::new(()),
        }
    }

    fn summary(&self, table: Table) -> Result<RecordBatch, String> {
        let _guard = self.building.lock().unwrap_or_else(|e| e.into_inner());
        let all = self.summaries.get_or_init(|| {
            run_pass(
                &self.set,
                self.rules.clone(),
                &PassOptions {
                    summaries: true,
                    threads: self.threads,
                    ..PassOptions::default()
                },
                |_, _| NoSink,
                |_, _| {},
            )
            .map(|pass| pass.summaries)
            .map_err(|e| e.to_string())
        });
        match all {
            Ok(tables) => tables
                .iter()
                .find(|(t, _)| *t == table)
                .map(|(_, batch)| batch.clone())
                .ok_or_else(|| format!("table {} was not built", table.name())),
            Err(e) => Err(e.clone()),
        }
    }
}

struct NoSink;

impl BatchSink for NoSink {
    fn write(&mut self, _: RecordBatch) -> Result<(), SqlError> {
        Ok(())
    }
}

/// `events` straight from the capture.
#[derive(Debug)]
struct EventsTable {
    source: Arc<CaptureSource>,
}

/// A time bound on `time` in a filter, as event-clock nanoseconds: `(from, to)`.
fn time_bounds(filters: &[Expr], boot_time_ns: u64) -> (u64, Option<u64>) {
    let mut from = 0u64;
    let mut to: Option<u64> = None;
    let wall = |value: &ScalarValue| -> Option<i128> {
        let ns = match value {
            ScalarValue::TimestampNanosecond(Some(v), _) => i128::from(*v),
            ScalarValue::TimestampMicrosecond(Some(v), _) => i128::from(*v) * 1_000,
            ScalarValue::TimestampMillisecond(Some(v), _) => i128::from(*v) * 1_000_000,
            ScalarValue::TimestampSecond(Some(v), _) => i128::from(*v) * 1_000_000_000,
            _ => return None,
        };
        Some(ns - i128::from(boot_time_ns))
    };
    let clamp = |ns: i128| ns.clamp(0, i128::from(u64::MAX)) as u64;
    let comparisons = filters.iter().flat_map(|filter| match filter {
        Expr::Between(between) if !between.negated => [
            time_comparison(&between.expr.clone().gt_eq((*between.low).clone())),
            time_comparison(&between.expr.clone().lt_eq((*between.high).clone())),
        ],
        other => [time_comparison(other), None],
    });
    for (op, value) in comparisons.flatten() {
        let Some(ns) = wall(&value) else {
            continue;
        };
        match op {
            Operator::Gt | Operator::GtEq => from = from.max(clamp(ns)),
            Operator::Lt | Operator::LtEq => {
                // Inclusive bounds are widened by a nanosecond; DataFusion filters the
                // rows exactly afterwards.
                let end = clamp(ns + 1);
                to = Some(to.map_or(end, |t| t.min(end)));
            }
            Operator::Eq => {
                from = from.max(clamp(ns));
                let end = clamp(ns + 1);
                to = Some(to.map_or(end, |t| t.min(end)));
            }
            _ => {}
        }
    }
    (from, to)
}

/// `time OP literal`, turned around when the literal is on the left.
fn time_comparison(expr: &Expr) -> Option<(Operator, ScalarValue)> {
    let Expr::BinaryExpr(BinaryExpr { left, op, right }) = expr else {
        return None;
    };
    let is_time = |e: &Expr| matches!(e, Expr::Column(c) if c.name == "time");
    let literal = |e: &Expr| match e {
        Expr::Literal(v, _) => Some(v.clone()),
        _ => None,
    };
    if is_time(left) {
        return Some((*op, literal(right)?));
    }
    if is_time(right) {
        let swapped = match op {
            Operator::Gt => Operator::Lt,
            Operator::GtEq => Operator::LtEq,
            Operator::Lt => Operator::Gt,
            Operator::LtEq => Operator::GtEq,
            other => *other,
        };
        return Some((swapped, literal(left)?));
    }
    None
}

#[async_trait]
impl TableProvider for EventsTable {
    fn schema(&self) -> SchemaRef {
        Table::Events.schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> DfResult<Vec<TableProviderFilterPushDown>> {
        Ok(filters
            .iter()
            .map(|f| match (f, time_comparison(f)) {
                (_, Some(_)) => TableProviderFilterPushDown::Inexact,
                (Expr::Between(b), None) if matches!(&*b.expr, Expr::Column(c) if c.name == "time") => {
                    TableProviderFilterPushDown::Inexact
                }
                _ => TableProviderFilterPushDown::Unsupported,
            })
            .collect())
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let boot = self.source.set.first().header().host.boot_time_ns;
        let (from, to) = time_bounds(filters, boot);
        let full = Table::Events.schema();
        let schema = match projection {
            Some(p) => Arc::new(full.project(p)?),
            None => full,
        };
        let stream = EventsStream {
            source: self.source.clone(),
            schema: schema.clone(),
            projection: projection.cloned(),
            from,
            to,
        };
        Ok(Arc::new(StreamingTableExec::try_new(
            schema,
            vec![Arc::new(stream)],
            None,
            Vec::new(),
            false,
            limit,
        )?))
    }
}

/// One scan of `events`: a pass over the capture on its own thread (itself parallel over
/// segments), its batches handed over through a channel.
struct EventsStream {
    source: Arc<CaptureSource>,
    schema: SchemaRef,
    projection: Option<Vec<usize>>,
    from: u64,
    to: Option<u64>,
}

impl std::fmt::Debug for EventsStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventsStream")
            .field("from", &self.from)
            .field("to", &self.to)
            .finish()
    }
}

type Item = DfResult<RecordBatch>;

struct Channel {
    sender: tokio::sync::mpsc::Sender<Item>,
    cancel: Arc<AtomicBool>,
}

impl BatchSink for Channel {
    fn write(&mut self, batch: RecordBatch) -> Result<(), SqlError> {
        if self.sender.blocking_send(Ok(batch)).is_err() {
            // The query has what it needs (a LIMIT) or was dropped.
            self.cancel.store(true, Ordering::Relaxed);
        }
        Ok(())
    }
}

impl PartitionStream for EventsStream {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let (sender, receiver) = tokio::sync::mpsc::channel::<Item>(4);
        let cancel = Arc::new(AtomicBool::new(false));
        let source = self.source.clone();
        let options = PassOptions {
            events: Some(self.projection.clone()),
            summaries: false,
            from: self.from,
            to: self.to,
            threads: source.threads,
            cancel: Some(cancel.clone()),
        };
        let failure = sender.clone();
        std::thread::spawn(move || {
            let result = run_pass(
                &source.set,
                source.rules.clone(),
                &options,
                |_, _| Channel {
                    sender: sender.clone(),
                    cancel: cancel.clone(),
                },
                |_, _| {},
            );
            drop(sender);
            if let Err(e) = result {
                let _ = failure.blocking_send(Err(DataFusionError::External(Box::new(e))));
            }
        });
        let stream = futures::stream::unfold(receiver, |mut receiver| async move {
            receiver.recv().await.map(|item| (item, receiver))
        });
        Box::pin(RecordBatchStreamAdapter::new(self.schema.clone(), stream))
    }
}

/// A summary table of a capture, built on first scan.
#[derive(Debug)]
struct SummaryTable {
    source: Arc<CaptureSource>,
    table: Table,
}

#[async_trait]
impl TableProvider for SummaryTable {
    fn schema(&self) -> SchemaRef {
        self.table.schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let source = self.source.clone();
        let table = self.table;
        let batch = tokio::task::spawn_blocking(move || source.summary(table))
            .await
            .map_err(|e| DataFusionError::External(Box::new(e)))?
            .map_err(DataFusionError::Execution)?;
        let memory = MemTable::try_new(self.table.schema(), vec![vec![batch]])?;
        memory.scan(state, projection, filters, limit).await
    }
}

/// A session with information_schema on (so `SHOW TABLES` works) and `threads`
/// partitions.
pub fn new_session(threads: usize) -> SessionContext {
    let mut config = SessionConfig::new().with_information_schema(true);
    if threads > 0 {
        config = config.with_target_partitions(threads);
    }
    SessionContext::new_with_config(config)
}

/// Registers every table of `source` in `ctx`.
pub fn register_capture(ctx: &SessionContext, source: CaptureSource) -> Result<(), SqlError> {
    let source = Arc::new(source);
    ctx.register_table(
        Table::Events.name(),
        Arc::new(EventsTable {
            source: source.clone(),
        }),
    )?;
    for table in Table::ALL.into_iter().skip(1) {
        ctx.register_table(
            table.name(),
            Arc::new(SummaryTable {
                source: source.clone(),
                table,
            }),
        )?;
    }
    Ok(())
}

/// Whether `path` is an export directory (it has casefile's manifest).
pub fn is_export(path: &Path) -> bool {
    path.join(MANIFEST).is_file()
}

/// Registers the tables of the export at `dir`, with its Hive partition columns.
pub async fn register_export(ctx: &SessionContext, dir: &Path) -> Result<(), SqlError> {
    let manifest_path = dir.join(MANIFEST);
    let text =
        std::fs::read_to_string(&manifest_path).map_err(|e| SqlError::io(&manifest_path, e))?;
    let manifest: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| SqlError::Export {
            path: manifest_path.clone(),
            detail: format!("not a casefile export manifest: {e}"),
        })?;
    let partitioned = |key: &str| manifest["partitioning"][key].as_bool() == Some(true);
    for table in Table::ALL {
        let path: PathBuf = dir.join(table.name());
        if !path.is_dir() {
            return Err(SqlError::Export {
                path,
                detail: format!("table {} is missing from the export", table.name()),
            });
        }
        let mut columns = Vec::new();
        if partitioned("host") {
            columns.push(("host".to_string(), DataType::Utf8));
        }
        // Only tables with a time column are partitioned by date.
        if partitioned("date") && table != Table::Captures {
            columns.push(("date".to_string(), DataType::Utf8));
        }
        let options = ParquetReadOptions::default().table_partition_cols(columns);
        let url = format!("{}/", path.display());
        ctx.register_parquet(table.name(), &url, options).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::{col, lit};

    #[test]
    fn time_filters_become_bounds_on_the_event_clock() {
        let at = |ns: i64| {
            lit(ScalarValue::TimestampNanosecond(
                Some(ns),
                Some("UTC".into()),
            ))
        };
        let filters = vec![
            col("time").gt_eq(at(1_000_500)),
            at(2_000_000).gt(col("time")),
            col("pid").eq(lit(7u32)),
        ];
        assert_eq!(time_bounds(&filters, 1_000_000), (500, Some(1_000_001)));
        assert_eq!(time_bounds(&[], 1_000_000), (0, None));
        let between = col("time").between(at(1_000_100), at(1_000_200));
        assert_eq!(time_bounds(&[between], 1_000_000), (100, Some(201)));
    }
}
