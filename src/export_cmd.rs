//! `casefile export`: captures to Parquet tables (docs/TABLES.md), with progress and a
//! summary.

use crate::replay_cmd::load_rules;
use anyhow::{Context, Result};
use casefile_replay::CaptureSet;
use casefile_rules::engine::CompiledRules;
use casefile_sql::export::{export, ExportOptions, Partitioning};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

#[derive(clap::Args)]
#[command(after_help = "\
Layout of DIR:
  casefile-export.json             what was exported, from which captures and rules
  events/part-00000.parquet        one row per event (a part file per capture segment)
  processes/ files/ connections/   summaries: one row per process image, per (process,
  alerts/ captures/                path), per socket, per alert, per capture file
With --partition host,date: events/host=web-1/date=2026-11-23/part-00000.parquet;
the partition columns come back from the paths (Hive style).

Examples:
  casefile export incident.case -o incident-tables -r rules/falco_rules.yaml
  duckdb -c \"SELECT proc_name, count(*) FROM 'incident-tables/events/**/*.parquet' GROUP BY 1\"
  casefile sql --on incident-tables \"SELECT * FROM connections ORDER BY bytes_sent DESC\"")]
pub struct ExportArgs {
    /// Capture files (one capture, or every file of a rotated set).
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// The export directory (created; an existing export is only replaced with
    /// --overwrite).
    #[arg(short, long, value_name = "DIR")]
    output: PathBuf,
    /// Rule files whose alerts fill the `alerts` table; repeatable.
    #[arg(short, long, value_name = "PATH")]
    rules: Vec<PathBuf>,
    /// Hive-style partition columns: host, date or host,date.
    #[arg(long, value_name = "COLUMNS", default_value = "")]
    partition: String,
    /// Replace an export already in DIR (only casefile's own tables are removed).
    #[arg(long)]
    overwrite: bool,
    /// Worker threads (0: every core).
    #[arg(long, value_name = "N", default_value_t = 0)]
    threads: usize,
    /// No progress and no summary on stderr.
    #[arg(short, long)]
    quiet: bool,
}

pub fn run(args: &ExportArgs) -> Result<()> {
    let partitioning = Partitioning::parse(&args.partition)
        .map_err(anyhow::Error::msg)
        .context("--partition")?;
    let rules = if args.rules.is_empty() {
        CompiledRules::default()
    } else {
        load_rules(&args.rules)?
    };
    let set = CaptureSet::open(&args.files)?;
    let options = ExportOptions {
        dir: args.output.clone(),
        partitioning,
        overwrite: args.overwrite,
        threads: args.threads,
        rules: Arc::new(rules),
        rule_files: args.rules.clone(),
    };
    let progress = !args.quiet && std::io::stderr().is_terminal();
    let started = Instant::now();
    let mut last = started;
    let report = export(&set, &options, |done, total| {
        if progress && last.elapsed().as_millis() >= 250 {
            last = Instant::now();
            let secs = started.elapsed().as_secs_f64().max(1e-9);
            eprint!(
                "\rexporting: {:>5.1}%  {done} events  {:.2} M rows/s ",
                100.0 * done as f64 / total.max(1) as f64,
                done as f64 / secs / 1e6
            );
        }
    })
    .with_context(|| format!("exporting to {}", args.output.display()))?;
    if progress {
        eprint!("\r{:60}\r", "");
    }
    if !args.quiet {
        let secs = report.elapsed.as_secs_f64().max(1e-9);
        let events = report
            .tables
            .get(&casefile_sql::Table::Events)
            .map_or(0, |t| t.rows);
        eprintln!(
            "exported {} in {:.2}s ({:.2} M event rows/s, {} bytes of Parquet)",
            args.output.display(),
            secs,
            events as f64 / secs / 1e6,
            report.bytes()
        );
        for (table, t) in &report.tables {
            eprintln!(
                "  {:<12} {:>10} rows  {:>4} files  {:>12} bytes",
                table.name(),
                t.rows,
                t.files,
                t.bytes
            );
        }
        for (path, bytes) in &report.replay.truncated {
            eprintln!(
                "note: {}: the last {bytes} bytes are not a complete block (the recorder was stopped hard); every complete block was exported",
                path.display()
            );
        }
        for skipped in &report.replay.skipped {
            eprintln!(
                "warning: {}: skipped at offset {}: {}",
                skipped.file.display(),
                skipped.offset,
                skipped.detail
            );
        }
    }
    Ok(())
}
