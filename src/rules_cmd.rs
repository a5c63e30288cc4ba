//! `casefile rules check`: loads rule files the way replay and record will, and reports
//! what loaded and every problem with its position.

use casefile_formats::text::escape;
use casefile_rules::loader::{load_files, Severity};
use serde_json::json;
use std::path::PathBuf;

/// Returns whether every file loaded without errors.
pub fn check(files: &[PathBuf], as_json: bool) -> anyhow::Result<bool> {
    let set = load_files(files);
    let total = set.rules.len();
    let loaded = set.loaded_rules().count();
    let enabled = set.loaded_rules().filter(|r| r.enabled).count();
    let errors: Vec<_> = set.errors().collect();
    if as_json {
        let entry = |d: &casefile_rules::loader::Diagnostic| {
            json!({
                "file": d.file.display().to_string(),
                "line": d.line,
                "column": d.col,
                "item": d.item,
                "message": d.message,
            })
        };
        let value = json!({
            "files": files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>(),
            "lists": set.lists,
            "macros": set.macros,
            "rules_total": total,
            "rules_loaded": loaded,
            "rules_enabled": enabled,
            "errors": errors.iter().map(|d| entry(d)).collect::<Vec<_>>(),
            "warnings": set.diagnostics.iter().filter(|d| d.severity == Severity::Warning).map(entry).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        for diagnostic in &set.diagnostics {
            println!("{}", escape(diagnostic.to_string().as_bytes()));
        }
        println!(
            "{} lists, {} macros, {loaded}/{total} rules loaded ({enabled} enabled), {} errors, {} warnings",
            set.lists,
            set.macros,
            errors.len(),
            set.diagnostics.len() - errors.len()
        );
    }
    Ok(errors.is_empty())
}

/// `casefile rules fields`: every field with its type, argument and meaning. A closed
/// pipe (`| head`) ends the listing quietly.
pub fn fields() {
    use casefile_rules::fields::{ArgKind, FIELDS};
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    for (_, name, ty, arg, description) in FIELDS {
        let shown = match arg {
            ArgKind::None => name.to_string(),
            ArgKind::Index => format!("{name}[N]"),
            ArgKind::Param => format!("{name}.NAME, {name}[N]"),
        };
        if writeln!(out, "{shown:<44} {:<10} {description}", ty.name()).is_err() {
            return;
        }
    }
}
