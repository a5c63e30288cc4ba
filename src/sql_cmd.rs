//! `casefile sql`: DataFusion SQL over captures or exports — one query, a file of
//! queries, or an interactive prompt with history.

use crate::replay_cmd::load_rules;
use anyhow::{bail, Context, Result};
use arrow::array::{Array, ArrayRef, StringArray};
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use casefile_formats::text::escape_str;
use casefile_replay::CaptureSet;
use casefile_rules::engine::CompiledRules;
use casefile_sql::provider::{
    is_export, new_session, register_capture, register_export, CaptureSource,
};
use datafusion::execution::context::SessionContext;
use datafusion::sql::parser::DFParser;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
}

#[derive(clap::Args)]
#[command(after_help = "\
Tables (docs/TABLES.md): events, processes, files, connections, alerts, captures.

Sources: capture files are queried in place (time filters on events.time start at the
nearest checkpoint; the summary tables are built on first use); an export directory
(casefile export) is read as Parquet. The same query runs on either.

Examples:
  casefile sql --on x.case \"SELECT evt_type, count(*) n FROM events GROUP BY 1 ORDER BY n DESC\"
  casefile sql --on x.case \"SELECT pid, ancestry, cmdline FROM processes WHERE exe = 'sh'\"
  casefile sql --on tables/ --file samples/queries/scarleteel/03_credential_files.sql
  casefile sql --on x.case -r rules.yaml     (interactive; end statements with ;)

In the prompt: \\d lists tables, \\d TABLE describes one, \\q quits.")]
pub struct SqlArgs {
    /// A query; without it and without --file, an interactive prompt.
    #[arg(value_name = "QUERY", allow_hyphen_values = true)]
    query: Option<String>,
    /// Capture files (queried in place) or one export directory.
    #[arg(long = "on", required = true, value_name = "SOURCE")]
    sources: Vec<PathBuf>,
    /// Run the statements in this file, in order.
    #[arg(short, long, value_name = "FILE.sql", conflicts_with = "query")]
    file: Option<PathBuf>,
    /// How results print: an aligned table, CSV, or JSON lines.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Rule files whose alerts fill the `alerts` table of a capture source.
    #[arg(short, long, value_name = "PATH")]
    rules: Vec<PathBuf>,
    /// Worker threads (0: every core).
    #[arg(long, value_name = "N", default_value_t = 0)]
    threads: usize,
}

pub fn run(args: &SqlArgs) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the query runtime")?;
    runtime.block_on(run_async(args))
}

async fn open(args: &SqlArgs) -> Result<SessionContext> {
    let ctx = new_session(args.threads);
    let exports: Vec<&PathBuf> = args.sources.iter().filter(|p| p.is_dir()).collect();
    match exports.as_slice() {
        [] => {
            let rules = if args.rules.is_empty() {
                CompiledRules::default()
            } else {
                load_rules(&args.rules)?
            };
            let set = CaptureSet::open(&args.sources)?;
            register_capture(&ctx, CaptureSource::new(set, Arc::new(rules), args.threads))?;
        }
        [dir] if args.sources.len() == 1 => {
            if !is_export(dir) {
                bail!(
                    "{} is a directory but not a casefile export (no casefile-export.json in it)",
                    dir.display()
                );
            }
            if !args.rules.is_empty() {
                bail!("--rules applies to capture sources; an export's alerts were fixed when it was exported");
            }
            register_export(&ctx, dir)
                .await
                .with_context(|| format!("opening the export {}", dir.display()))?;
        }
        _ => bail!("give capture files, or one export directory, not both"),
    }
    Ok(ctx)
}

async fn run_async(args: &SqlArgs) -> Result<()> {
    let ctx = open(args).await?;
    let mut out = std::io::stdout().lock();
    if let Some(query) = &args.query {
        return run_statements(&ctx, query, args.format, &mut out).await;
    }
    if let Some(path) = &args.file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        return run_statements(&ctx, &text, args.format, &mut out)
            .await
            .with_context(|| format!("in {}", path.display()));
    }
    drop(out);
    prompt(&ctx, args.format).await
}

/// Runs every statement of `sql` in order, printing each result.
pub async fn run_statements(
    ctx: &SessionContext,
    sql: &str,
    format: Format,
    out: &mut impl Write,
) -> Result<()> {
    let statements = DFParser::parse_sql(sql).map_err(|e| located(sql, &e.to_string()))?;
    let timing = std::io::stderr().is_terminal();
    for statement in statements {
        let started = Instant::now();
        let plan = ctx
            .state()
            .statement_to_plan(statement)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let batches = ctx
            .execute_logical_plan(plan)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .collect()
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        print_batches(&batches, format, out)?;
        if timing {
            let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
            eprintln!("{rows} row(s) in {:.3}s", started.elapsed().as_secs_f64());
        }
    }
    Ok(())
}

/// The parser's error with the line it points at and a caret under the column, when it
/// names one (`… at Line: 2, Column: 8`).
fn located(sql: &str, message: &str) -> anyhow::Error {
    let position = message.rsplit_once("Line: ").and_then(|(_, rest)| {
        let (line, rest) = rest.split_once(", Column: ")?;
        let column: String = rest.chars().take_while(char::is_ascii_digit).collect();
        Some((line.parse::<usize>().ok()?, column.parse::<usize>().ok()?))
    });
    let Some((line, column)) = position else {
        return anyhow::anyhow!("{message}");
    };
    let Some(text) = sql.lines().nth(line.saturating_sub(1)) else {
        return anyhow::anyhow!("{message}");
    };
    let caret = " ".repeat(column.saturating_sub(1));
    anyhow::anyhow!("{message}\n  {line:>4} | {text}\n       | {caret}^")
}

/// Strings from the observed host with control characters escaped, so results cannot
/// drive the terminal (JSON output escapes them by itself). Every column that can hold
/// text, in whatever Arrow type (views and dictionaries, as DataFusion reads Parquet,
/// or inside lists and structs), becomes the escaped text it would print as.
fn escaped(batch: &RecordBatch) -> Result<RecordBatch> {
    let options = FormatOptions::default();
    let columns: Vec<ArrayRef> = batch
        .columns()
        .iter()
        .map(|column| -> Result<ArrayRef> {
            if !holds_text(column.data_type()) {
                return Ok(column.clone());
            }
            let formatter = ArrayFormatter::try_new(column.as_ref(), &options)?;
            let clean: StringArray = (0..column.len())
                .map(|row| {
                    (!column.is_null(row))
                        .then(|| escape_str(&formatter.value(row).to_string()).into_owned())
                })
                .collect();
            Ok(Arc::new(clean))
        })
        .collect::<Result<_>>()?;
    let schema = Arc::new(arrow::datatypes::Schema::new(
        batch
            .schema()
            .fields()
            .iter()
            .zip(&columns)
            .map(|(f, c)| f.as_ref().clone().with_data_type(c.data_type().clone()))
            .collect::<Vec<_>>(),
    ));
    Ok(RecordBatch::try_new(schema, columns)?)
}

/// Whether values of `data_type` can carry text from the host.
fn holds_text(data_type: &DataType) -> bool {
    match data_type {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Union(..) => true,
        DataType::Dictionary(_, values) => holds_text(values),
        DataType::List(item)
        | DataType::LargeList(item)
        | DataType::ListView(item)
        | DataType::LargeListView(item)
        | DataType::FixedSizeList(item, _)
        | DataType::Map(item, _) => holds_text(item.data_type()),
        DataType::Struct(fields) => fields.iter().any(|f| holds_text(f.data_type())),
        DataType::RunEndEncoded(_, values) => holds_text(values.data_type()),
        _ => false,
    }
}

pub fn print_batches(batches: &[RecordBatch], format: Format, out: &mut impl Write) -> Result<()> {
    match format {
        Format::Table => {
            let clean = batches.iter().map(escaped).collect::<Result<Vec<_>>>()?;
            if clean.iter().all(|b| b.num_rows() == 0) {
                let names: Vec<String> = batches
                    .first()
                    .map(|b| {
                        b.schema()
                            .fields()
                            .iter()
                            .map(|f| f.name().clone())
                            .collect()
                    })
                    .unwrap_or_default();
                writeln!(out, "(no rows; columns: {})", names.join(", "))?;
            } else {
                writeln!(
                    out,
                    "{}",
                    arrow::util::pretty::pretty_format_batches(&clean)?
                )?;
            }
        }
        Format::Csv => {
            let mut writer = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut *out);
            for batch in batches {
                writer.write(&escaped(batch)?)?;
            }
        }
        Format::Json => {
            let mut writer = arrow::json::LineDelimitedWriter::new(&mut *out);
            for batch in batches {
                writer.write(batch)?;
            }
            writer.finish()?;
        }
    }
    Ok(())
}

fn history_path() -> Option<PathBuf> {
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".casefile_sql_history"))
}

async fn prompt(ctx: &SessionContext, format: Format) -> Result<()> {
    let mut editor = rustyline::DefaultEditor::new().context("starting the prompt")?;
    let history = history_path();
    if let Some(path) = &history {
        let _ = editor.load_history(path);
    }
    eprintln!(
        "casefile sql: end statements with ;  \\d lists tables, \\d TABLE describes one, \\q quits"
    );
    let mut buffer = String::new();
    loop {
        let line = match editor.readline(if buffer.is_empty() { "sql> " } else { "  -> " }) {
            Ok(line) => line,
            Err(rustyline::error::ReadlineError::Interrupted) => {
                buffer.clear();
                continue;
            }
            Err(rustyline::error::ReadlineError::Eof) => break,
            Err(e) => return Err(e).context("reading the prompt"),
        };
        let trimmed = line.trim();
        if buffer.is_empty() {
            let command = match trimmed {
                "\\q" | "quit" | "exit" => break,
                "\\d" => Some("SHOW TABLES".to_string()),
                _ => trimmed
                    .strip_prefix("\\d ")
                    .map(|table| format!("DESCRIBE {}", table.trim())),
            };
            if let Some(sql) = command {
                let _ = editor.add_history_entry(trimmed);
                let mut out = std::io::stdout().lock();
                if let Err(e) = run_statements(ctx, &sql, format, &mut out).await {
                    eprintln!("error: {e:#}");
                }
                continue;
            }
        }
        buffer.push_str(&line);
        buffer.push('\n');
        if !trimmed.ends_with(';') {
            continue;
        }
        let sql = std::mem::take(&mut buffer);
        let _ = editor.add_history_entry(sql.trim());
        let mut out = std::io::stdout().lock();
        if let Err(e) = run_statements(ctx, &sql, format, &mut out).await {
            eprintln!("error: {e:#}");
        }
    }
    if let Some(path) = &history {
        let _ = editor.save_history(path);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_errors_point_at_their_line_and_column() {
        let message = located(
            "SELECT pid\nFROM events WHER pid = 1",
            "SQL error: ParserError(\"Expected: end of statement, found: pid at Line: 2, Column: 18\")",
        )
        .to_string();
        assert!(
            message.ends_with("   2 | FROM events WHER pid = 1\n       |                  ^"),
            "{message}"
        );
    }

    #[test]
    fn table_and_csv_output_escape_control_characters_in_every_text_type() {
        use arrow::array::{DictionaryArray, ListBuilder, StringBuilder, StringViewArray};
        use arrow::datatypes::Int32Type;
        let evil = "evil\x1b[2Jname";
        let plain: ArrayRef = Arc::new(StringArray::from(vec![Some(evil), None]));
        // DataFusion reads exported Parquet text as views.
        let view: ArrayRef = Arc::new(StringViewArray::from(vec![Some(evil), Some("ok")]));
        let dictionary: ArrayRef = Arc::new(
            vec![Some(evil), None]
                .into_iter()
                .collect::<DictionaryArray<Int32Type>>(),
        );
        let mut argv = ListBuilder::new(StringBuilder::new());
        argv.values().append_value("sh");
        argv.values().append_value(evil);
        argv.append(true);
        argv.append(false);
        let list: ArrayRef = Arc::new(argv.finish());
        let batch = RecordBatch::try_from_iter([
            ("proc_name", plain),
            ("exe", view),
            ("user", dictionary),
            ("argv", list),
        ])
        .expect("batch");
        for format in [Format::Table, Format::Csv] {
            let mut out = Vec::new();
            print_batches(std::slice::from_ref(&batch), format, &mut out).expect("print");
            let text = String::from_utf8(out).expect("utf-8");
            assert!(!text.contains('\x1b'), "{text}");
            assert_eq!(text.matches("evil\\x1b[2Jname").count(), 4, "{text}");
        }
        let mut out = Vec::new();
        print_batches(&[batch], Format::Json, &mut out).expect("print");
        assert!(!String::from_utf8(out).expect("utf-8").contains('\x1b'));
    }
}
