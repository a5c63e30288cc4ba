//! Export and SQL figures (issue 6): Parquet export rows/s and bytes per event on a
//! ≥ 20M-event capture, then each query of the SCARLETEEL pack timed on the export and
//! directly on the capture, and — when python3 has the duckdb module — the same queries
//! with DuckDB on the same Parquet, side by side.
//!
//! `cargo bench --bench sql_tables` uses the synthetic 20M-event capture the other
//! benches use (cached in target/bench-data; `CASEFILE_BENCH_CAPTURE=FILE` for another).
//! Falco's stable rules fill `alerts` when `../shared/corpus` is present. The pack's
//! queries ask about SCARLETEEL, so on the synthetic workload most return few rows; they
//! still scan and join the same tables.

use casefile_replay::fixture::bench_capture;
use casefile_replay::CaptureSet;
use casefile_rules::engine::CompiledRules;
use casefile_rules::loader::load_files;
use casefile_sql::export::{export, ExportOptions, Partitioning};
use casefile_sql::provider::{new_session, register_capture, register_export, CaptureSource};
use casefile_sql::Table;
use datafusion::execution::context::SessionContext;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

const EVENTS: u64 = 20_000_000;
const WARM_RUNS: usize = 3;

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn pack(root: &Path) -> Vec<(String, String)> {
    let dir = root.join("samples/queries/scarleteel");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("the query pack")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            (name, std::fs::read_to_string(&p).expect("query text"))
        })
        .collect()
}

/// Seconds and rows of one run of `sql`.
async fn run(ctx: &SessionContext, sql: &str) -> (f64, usize) {
    let started = Instant::now();
    let batches = ctx
        .sql(sql)
        .await
        .expect("plans")
        .collect()
        .await
        .expect("runs");
    let rows = batches.iter().map(|b| b.num_rows()).sum();
    (started.elapsed().as_secs_f64(), rows)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let root = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("run by cargo"));
    let capture = bench_capture(&root.join("target/bench-data"), EVENTS).expect("the capture");
    let rules_path = root.join("../shared/corpus/falco/falco_rules.yaml");
    let (rules, rules_note) = if rules_path.exists() {
        let set = load_files(std::slice::from_ref(&rules_path));
        (CompiledRules::new(set), rules_path.display().to_string())
    } else {
        (
            CompiledRules::default(),
            "none (../shared/corpus absent: alerts is empty)".into(),
        )
    };
    let rules = Arc::new(rules);
    let set = CaptureSet::open(&[&capture]).expect("opens the capture");
    let capture_bytes = std::fs::metadata(&capture).map(|m| m.len()).unwrap_or(0);
    let events = set.total_events();
    println!(
        "sql_tables: {} ({:.0} MB, {events} events, {} segments, {:.2} bytes/event), rules {rules_note}, load {}",
        capture.display(),
        capture_bytes as f64 / 1e6,
        set.work_units().len(),
        capture_bytes as f64 / events as f64,
        load_average()
    );

    let dir = root.join("target/bench-data/sql-export");
    let options = ExportOptions {
        dir: dir.clone(),
        partitioning: Partitioning::default(),
        overwrite: true,
        threads: 0,
        rules: rules.clone(),
        rule_files: vec![rules_path.clone()],
    };
    let report = export(&set, &options, |_, _| {}).expect("exports");
    let secs = report.elapsed.as_secs_f64();
    let event_table = &report.tables[&Table::Events];
    println!(
        "export: {} event rows in {secs:.2}s = {:.2} M rows/s on {} threads; Parquet {:.2} bytes/event (events table {:.2}), capture {:.2} bytes/event",
        event_table.rows,
        event_table.rows as f64 / secs / 1e6,
        rayon::current_num_threads(),
        report.bytes() as f64 / events as f64,
        event_table.bytes as f64 / events as f64,
        capture_bytes as f64 / events as f64,
    );
    for (table, t) in &report.tables {
        println!(
            "  {:<12} {:>10} rows {:>12} bytes",
            table.name(),
            t.rows,
            t.bytes
        );
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let queries = pack(&root);
    let on_export = new_session(0);
    runtime
        .block_on(register_export(&on_export, &dir))
        .expect("registers the export");
    let on_capture = new_session(0);
    register_capture(
        &on_capture,
        CaptureSource::new(
            CaptureSet::open(&[&capture]).expect("opens the capture"),
            rules.clone(),
            0,
        ),
    )
    .expect("registers the capture");

    println!(
        "\n{:<34} {:>6} {:>14} {:>16} {:>16}",
        "query", "rows", "export (ms)", "capture 1st (ms)", "capture (ms)"
    );
    for (name, sql) in &queries {
        let mut export_runs = Vec::new();
        let mut rows = 0;
        for _ in 0..WARM_RUNS {
            let (s, r) = runtime.block_on(run(&on_export, sql));
            export_runs.push(s);
            rows = r;
        }
        let (first, direct_rows) = runtime.block_on(run(&on_capture, sql));
        assert_eq!(rows, direct_rows, "{name}: export and capture disagree");
        let mut capture_runs = Vec::new();
        for _ in 1..WARM_RUNS {
            capture_runs.push(runtime.block_on(run(&on_capture, sql)).0);
        }
        println!(
            "{name:<34} {rows:>6} {:>14.1} {:>16.1} {:>16.1}",
            median(export_runs) * 1e3,
            first * 1e3,
            median(capture_runs) * 1e3
        );
    }
    println!(
        "(capture 1st: the first query on a capture also builds its summary tables in one pass)"
    );

    let duckdb = std::process::Command::new("python3")
        .args(["-c", "import duckdb"])
        .status()
        .is_ok_and(|s| s.success());
    let script = root.join("benches/duckdb_compare.py");
    if duckdb && script.exists() {
        println!("\nDuckDB on the same Parquet:");
        let status = std::process::Command::new("python3")
            .arg(&script)
            .args(["--export", &dir.display().to_string()])
            .args(["--casefile", env!("CARGO_BIN_EXE_casefile")])
            .args(["--time", "--repeat", "3"])
            .status();
        if !status.is_ok_and(|s| s.success()) {
            println!("duckdb_compare.py failed");
        }
    } else {
        println!("\nDuckDB: SKIPPED (python3 module duckdb not installed, or benches/duckdb_compare.py missing)");
    }
    println!("load after: {}", load_average());
}
