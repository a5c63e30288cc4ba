//! `casefile tui`: loads the rules, opens the capture and hands both to the
//! interactive investigator in `casefile-tui`.

use crate::replay_cmd::refuse_errors;
use crate::timespec::parse_time;
use crate::tui_sql::{CaptureSql, SharedSql};
use anyhow::{bail, Context, Result};
use casefile_rules::engine::CompiledRules;
use casefile_rules::loader::{load_files, load_str};
use casefile_tui::ext::Extensions;
use casefile_tui::{App, AppOptions, Capture};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The rules the Alerts view uses when none are given: Falco-syntax rules for attacks
/// on containers (web shell, metadata credential theft, dropped binaries, miners, log
/// tampering), written for and tested on the SCARLETEEL sample.
const BUNDLED_RULES: &str = include_str!("../samples/scarleteel/rules/scarleteel_rules.yaml");
const BUNDLED_RULES_NAME: &str = "bundled:scarleteel_rules.yaml";

pub fn run(file: &Path, rules: &[PathBuf]) -> Result<()> {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        bail!("casefile tui needs a terminal (use `casefile cat` or `casefile replay` in scripts)");
    }
    let mut options = AppOptions::default();
    {
        // As `replay` does: a rule file with errors is refused whole, since a rule that
        // silently did not load would hide alerts.
        let set = refuse_errors(if rules.is_empty() {
            load_str(BUNDLED_RULES_NAME, BUNDLED_RULES)
        } else {
            load_files(rules)
        })?;
        options.definitions = set.definitions().clone();
        let compiled = CompiledRules::new(set);
        options.rules_label = format!(
            "{} rules from {}",
            compiled.rules().len(),
            if rules.is_empty() {
                "casefile's bundled container-attack rules".to_string()
            } else {
                rules
                    .iter()
                    .map(|p| p.file_name().unwrap_or(p.as_os_str()).to_string_lossy())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        );
        options.rules = Arc::new(compiled);
    }
    let capture =
        Arc::new(Capture::open(file).with_context(|| format!("opening {}", file.display()))?);
    let boot = capture.boot_time_ns();
    let start = capture.time_range().map_or(0, |(first, _)| first);
    options.parse_time = Some(Box::new(move |text: &str| {
        parse_time(text, boot, start).map_err(|e| format!("{e:#}"))
    }));
    let sql = SharedSql(Arc::new(
        CaptureSql::open(file, options.rules.clone()).context("opening the capture for SQL")?,
    ));
    options.extensions = Extensions {
        sql: Some(Box::new(sql.clone())),
        activity: Some(Box::new(sql)),
    };
    let mut app = App::new(capture, options);
    casefile_tui::terminal::run(&mut app).context("terminal")?;
    Ok(())
}
