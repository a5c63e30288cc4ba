//! `casefile tui`: loads the rules, opens the capture and hands both to the
//! interactive investigator in `casefile-tui`.

use crate::timespec::parse_time;
use anyhow::{bail, Context, Result};
use casefile_rules::engine::CompiledRules;
use casefile_rules::loader::load_files;
use casefile_tui::{App, AppOptions, Capture};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub fn run(file: &Path, rules: &[PathBuf]) -> Result<()> {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        bail!("casefile tui needs a terminal (use `casefile cat` or `casefile replay` in scripts)");
    }
    let mut options = AppOptions::default();
    if !rules.is_empty() {
        // As `replay` does: a rule file with errors is refused whole, since a rule that
        // silently did not load would hide alerts.
        let set = load_files(rules);
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
        options.definitions = set.definitions().clone();
        let compiled = CompiledRules::new(set);
        options.rules_label = format!(
            "{} rules from {}",
            compiled.rules().len(),
            rules
                .iter()
                .map(|p| p.file_name().unwrap_or(p.as_os_str()).to_string_lossy())
                .collect::<Vec<_>>()
                .join(", ")
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
    let mut app = App::new(capture, options);
    casefile_tui::terminal::run(&mut app).context("terminal")?;
    Ok(())
}
