//! `casefile replay`: captures through the rule engine, alerts out, then a summary.

use crate::timespec::parse_time;
use anyhow::{bail, Context, Result};
use casefile_replay::run::ReplayReport;
use casefile_replay::{replay, CaptureSet, ReplayOptions};
use casefile_rules::engine::{Alert, CompiledRules};
use casefile_rules::loader::{load_files, RuleSet};
use std::fs::OpenOptions;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

pub struct ReplayArgs {
    pub files: Vec<PathBuf>,
    pub rules: Vec<PathBuf>,
    pub json: bool,
    pub output: Option<PathBuf>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub threads: usize,
    pub timeline: bool,
    pub quiet: bool,
}

/// Loads rule files the way `record --rules` does: any error refuses them all, as Falco
/// refuses to start, since a rule that silently did not load is a detection gap.
pub fn load_rules(paths: &[PathBuf]) -> Result<CompiledRules> {
    Ok(CompiledRules::new(refuse_errors(load_files(paths))?))
}

/// `set`, or every error it has, escaped, when it has any.
pub fn refuse_errors(set: RuleSet) -> Result<RuleSet> {
    let errors: Vec<String> = set
        .errors()
        .map(|d| casefile_formats::text::escape(d.to_string().as_bytes()).into_owned())
        .collect();
    if !errors.is_empty() {
        bail!(
            "the rule files have {} error(s):\n{}\n(`casefile rules check FILE` shows every problem)",
            errors.len(),
            errors.join("\n")
        );
    }
    Ok(set)
}

/// Where alerts go: text like Falco's or JSON lines, to stdout or a file.
pub struct AlertWriter {
    out: Box<dyn Write + Send>,
    json: bool,
}

impl AlertWriter {
    pub fn new(output: Option<&PathBuf>, json: bool) -> Result<AlertWriter> {
        let out: Box<dyn Write + Send> = match output {
            Some(path) => Box::new(BufWriter::new(
                OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(path)
                    .with_context(|| {
                        format!("cannot create {} (it is never overwritten)", path.display())
                    })?,
            )),
            None => Box::new(BufWriter::new(std::io::stdout())),
        };
        Ok(AlertWriter { out, json })
    }

    pub fn write(&mut self, alert: &Alert) -> std::io::Result<()> {
        if self.json {
            serde_json::to_writer(&mut self.out, &alert.to_json())?;
            self.out.write_all(b"\n")
        } else {
            writeln!(self.out, "{}", alert.to_text())
        }
    }

    pub fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// Replays; returns whether damaged blocks were skipped.
pub fn run(args: &ReplayArgs) -> Result<bool> {
    let rules = load_rules(&args.rules)?;
    if rules.rules().is_empty() {
        bail!("no enabled rules in {}", join(&args.rules));
    }
    let set = CaptureSet::open(&args.files)?;
    let header = set.first().header();
    let boot = header.host.boot_time_ns;
    let start = set
        .files()
        .iter()
        .flat_map(|f| f.event_blocks())
        .map(|b| b.header.first_ts)
        .min()
        .unwrap_or(header.start_ts);
    let options = ReplayOptions {
        from: match &args.from {
            Some(t) => parse_time(t, boot, start).context("--from")?,
            None => 0,
        },
        to: match &args.to {
            Some(t) => parse_time(t, boot, start).context("--to")?,
            None => u64::MAX,
        },
        threads: args.threads,
        ..ReplayOptions::default()
    };
    let mut writer = AlertWriter::new(args.output.as_ref(), args.json)?;
    let mut write_error = None;
    let mut timeline = Vec::new();
    let progress = !args.quiet && std::io::stderr().is_terminal();
    let started = Instant::now();
    let mut last_progress = started;
    let report = replay(
        &set,
        Arc::new(rules),
        &options,
        |alert| {
            if write_error.is_none() {
                if let Err(e) = writer.write(alert) {
                    write_error = Some(e);
                }
            }
            if args.timeline {
                timeline.push(alert.clone());
            }
        },
        |done, total| {
            if progress && last_progress.elapsed().as_millis() >= 250 {
                last_progress = Instant::now();
                let secs = started.elapsed().as_secs_f64();
                eprint!(
                    "\rreplaying: {:>5.1}%  {} events  {:.1} M events/s ",
                    100.0 * done as f64 / total.max(1) as f64,
                    done,
                    done as f64 / secs.max(1e-9) / 1e6
                );
            }
        },
    );
    if progress && started.elapsed().as_millis() >= 250 {
        eprint!("\r{:70}\r", "");
    }
    if let Some(e) = write_error.or_else(|| writer.flush().err()) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            return Err(e).context("writing alerts");
        }
    }
    if args.timeline {
        print_timeline(&timeline);
    }
    if !args.quiet {
        print_summary(&report, &args.files);
    }
    Ok(!report.skipped.is_empty())
}

fn join(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The attack as a story: one line per alert, time from the first alert, the process
/// chain that acted, and what it did.
fn print_timeline(alerts: &[Alert]) {
    let Some(first) = alerts.first() else {
        println!("\nTimeline: no alerts.");
        return;
    };
    println!(
        "\nTimeline ({} alerts, from {}):",
        alerts.len(),
        casefile_formats::render::wall_time(first.time_ns)
    );
    let rules: Vec<String> = alerts
        .iter()
        .map(|a| casefile_formats::text::escape(a.rule.as_bytes()).into_owned())
        .collect();
    let width = rules.iter().map(|r| r.chars().count()).max().unwrap_or(0);
    for (alert, rule) in alerts.iter().zip(&rules) {
        let offset = alert.time_ns.saturating_sub(first.time_ns) as f64 / 1e9;
        let chain: Vec<&str> = alert.lineage.iter().rev().map(String::as_str).collect();
        println!(
            "  +{offset:>8.3}s  {:<9} {rule:<width$}  {}",
            alert.priority.as_str(),
            chain.join(" > ")
        );
    }
}

fn print_summary(report: &ReplayReport, files: &[PathBuf]) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(
        err,
        "\nreplayed {} file(s): {} events read, {} checked, {} alerts in {:.2}s ({:.2} M events/s, {} thread(s))",
        files.len(),
        report.events_read,
        report.events_checked,
        report.alerts,
        report.elapsed.as_secs_f64(),
        report.events_per_second() / 1e6,
        report.threads
    );
    if !report.by_priority.is_empty() {
        let parts: Vec<String> = report
            .by_priority
            .iter()
            .map(|(p, n)| format!("{p} {n}"))
            .collect();
        let _ = writeln!(err, "alerts by priority: {}", parts.join(", "));
        let _ = writeln!(err, "alerts by rule:");
        for (rule, count) in &report.by_rule {
            let _ = writeln!(
                err,
                "  {:>6}  {:<13} {}",
                count.alerts,
                count.priority.map_or("", |p| p.as_str()),
                casefile_formats::text::escape(rule.as_bytes())
            );
        }
    }
    for (file, bytes) in &report.truncated {
        let _ = writeln!(
            err,
            "note: {}: the last {bytes} bytes are not a complete block (the recorder was killed); everything before them was replayed",
            file.display()
        );
    }
    for skipped in &report.skipped {
        let _ = writeln!(
            err,
            "warning: {}: skipped at offset {} ({} events): {}",
            skipped.file.display(),
            skipped.offset,
            skipped.events,
            skipped.detail
        );
    }
    for warning in &report.warnings {
        let _ = writeln!(err, "warning: {warning}");
    }
}
