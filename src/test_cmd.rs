//! `casefile test`: rule regression cases — replays each case's captures with its rules
//! and compares the alerts with what the case expects.

use anyhow::{bail, Context, Result};
use casefile_formats::text::escape;
use casefile_replay::case::{discover, junit, run_case, Outcome};
use std::path::PathBuf;

/// Runs every case; returns whether all ran and passed (skipped cases do not fail).
pub fn run(paths: &[PathBuf], junit_path: Option<&PathBuf>, threads: usize) -> Result<bool> {
    let files = discover(paths).context("looking for case.yaml files")?;
    if files.is_empty() {
        bail!(
            "no case.yaml under {}",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let mut results = Vec::new();
    for file in &files {
        let result = run_case(file, threads);
        let name = escape(result.name.as_bytes()).into_owned();
        match &result.outcome {
            Outcome::Ran {
                checks,
                unlisted,
                report,
            } => {
                let failed = checks.iter().filter(|c| !c.passed).count();
                println!(
                    "{} {name}  ({} checks, {} events, {} alerts, {:.2}s)",
                    if failed == 0 { "PASS" } else { "FAIL" },
                    checks.len(),
                    report.events_read,
                    report.alerts,
                    result.elapsed.as_secs_f64()
                );
                for check in checks {
                    if check.passed {
                        println!("       ok  {}", escape(check.text.as_bytes()));
                    } else {
                        println!("  MISMATCH {}: {}", check.at, escape(check.text.as_bytes()));
                    }
                }
                if !unlisted.is_empty() {
                    let parts: Vec<String> = unlisted
                        .iter()
                        .map(|(rule, n)| format!("{} ({n})", escape(rule.as_bytes())))
                        .collect();
                    println!(
                        "     note  also fired, not listed in the case: {}",
                        parts.join(", ")
                    );
                }
                for skipped in &report.skipped {
                    println!(
                        "     note  {}: skipped at offset {}: {}",
                        skipped.file.display(),
                        skipped.offset,
                        skipped.detail
                    );
                }
            }
            Outcome::Skipped(why) => println!("SKIPPED {name}: {}", escape(why.as_bytes())),
            Outcome::Error(why) => println!("ERROR {name}: {}", escape(why.as_bytes())),
        }
        results.push(result);
    }
    let passed = results.iter().filter(|r| r.passed()).count();
    let skipped = results.iter().filter(|r| r.skipped()).count();
    let errors = results
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Error(_)))
        .count();
    let failed = results.len() - passed - skipped - errors;
    println!(
        "\n{} case(s): {passed} passed, {failed} failed, {skipped} skipped, {errors} could not run",
        results.len()
    );
    if let Some(path) = junit_path {
        std::fs::write(path, junit(&results))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(failed == 0 && errors == 0)
}
