//! Every syscall Falco's stable ruleset names in `evt.type` conditions is decoded by the
//! kernel program (has its own `case` in recorder.bpf.c) and has a casefile layout.
//! Reads `../shared/corpus/falco/falco_rules.yaml` beside the project; says so when it
//! is absent.

use casefile_formats::schema::{kind_by_name, kind_info, syscall_nr};
use std::path::Path;

/// `evt.type` values that are not syscalls.
const NOT_SYSCALLS: &[&str] = &["switch"];

fn evt_types(rules: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = rules;
    while let Some(at) = rest.find("evt.type") {
        rest = &rest[at + "evt.type".len()..];
        let trimmed = rest.trim_start();
        let (operator, value) = if let Some(v) = trimmed.strip_prefix("in") {
            ("in", v.trim_start())
        } else if let Some(v) = trimmed.strip_prefix("!=") {
            ("=", v.trim_start())
        } else if let Some(v) = trimmed.strip_prefix('=') {
            ("=", v.trim_start())
        } else {
            continue;
        };
        if operator == "in" {
            if let Some(list) = value.strip_prefix('(').and_then(|v| v.split(')').next()) {
                names.extend(list.split(',').map(|n| n.trim().to_string()));
            }
        } else {
            let name: String = value
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            names.push(name);
        }
    }
    names.retain(|n| !n.is_empty());
    names.sort();
    names.dedup();
    names
}

#[test]
fn falcos_stable_ruleset_syscalls_are_decoded_in_the_kernel() {
    let corpus = Path::new(&std::env::var_os("CARGO_MANIFEST_DIR").expect("run by cargo"))
        .join("../../shared/corpus/falco/falco_rules.yaml");
    let Ok(rules) = std::fs::read_to_string(&corpus) else {
        eprintln!(
            "SKIPPED falco coverage: {} is absent (the shared corpus sits beside the project)",
            corpus.display()
        );
        return;
    };
    let source = include_str!("../bpf/recorder.bpf.c");
    let names = evt_types(&rules);
    assert!(names.len() >= 10, "found only {names:?} in the ruleset");
    for name in names.iter().filter(|n| !NOT_SYSCALLS.contains(&n.as_str())) {
        assert!(
            syscall_nr(name).is_some(),
            "{name} is not an x86_64 syscall"
        );
        let kind = kind_by_name(name).unwrap();
        assert!(kind_info(kind).decoded, "{name} has no casefile layout");
        assert!(
            source.contains(&format!("case __NR_{name}:")),
            "{name} is not decoded by recorder.bpf.c"
        );
    }
}

#[test]
fn evt_type_extraction_reads_lists_and_comparisons() {
    let text =
        "condition: (evt.type in (open, openat) and x) or evt.type=connect or evt.type != switch";
    assert_eq!(evt_types(text), ["connect", "open", "openat", "switch"]);
}
