//! Rule files: Falco's stable ruleset loads whole; errors carry positions and do not
//! hide each other; later files amend earlier ones; exceptions apply.

use casefile_rules::loader::{load_files, load_str, Severity};
use std::path::PathBuf;

#[test]
fn falcos_stable_ruleset_loads_every_rule() {
    let path = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("run by cargo"))
        .join("../../shared/corpus/falco/falco_rules.yaml");
    if !path.exists() {
        eprintln!(
            "SKIPPED falco ruleset: {} is absent (the shared corpus sits beside the project)",
            path.display()
        );
        return;
    }
    let set = load_files(std::slice::from_ref(&path));
    let errors: Vec<String> = set.errors().map(|d| d.to_string()).collect();
    assert!(errors.is_empty(), "errors:\n{}", errors.join("\n"));
    assert_eq!(set.rules.len(), 25);
    assert_eq!(set.loaded_rules().count(), 25);
    assert!(
        set.macros > 50 && set.lists > 30,
        "{} macros, {} lists",
        set.macros,
        set.lists
    );
    // Rules are indexed by event type: none needs every event.
    let unindexed: Vec<&str> = set
        .loaded_rules()
        .filter(|r| r.filter.as_ref().unwrap().event_types.is_none())
        .map(|r| r.name.as_str())
        .collect();
    assert!(
        unindexed.is_empty(),
        "rules that match any event type: {unindexed:?}"
    );
}

#[test]
fn errors_point_at_file_line_and_column_and_do_not_hide_each_other() {
    let text = "\
- list: shells
  items: [bash, sh]

- macro: spawned
  condition: evt.type = execve

- rule: Unknown field
  desc: x
  condition: spawned and proc.nmae in (shells)
  output: o
  priority: WARNING

- rule: Unbalanced
  desc: x
  condition: >
    spawned and
    (proc.name = bash
  output: o
  priority: WARNING

- rule: Undefined list
  desc: x
  condition: proc.name in (shell_binaries_typo) and proc.pname in missing_list
  output: o
  priority: NOTICE

- rule: Bad priority
  desc: x
  condition: spawned
  output: o
  priority: LOUD

- rule: Fine
  desc: x
  condition: spawned and proc.name in (shells)
  output: shell %proc.name
  priority: NOTICE
";
    let set = load_str("mine.yaml", text);
    let errors: Vec<String> = set.errors().map(|d| d.to_string()).collect();
    let find = |needle: &str| {
        errors
            .iter()
            .find(|e| e.contains(needle))
            .unwrap_or_else(|| panic!("no error with {needle:?} in {errors:#?}"))
            .clone()
    };
    assert_eq!(
        find("unknown field"),
        "mine.yaml:9:26: error: Unknown field: unknown field 'proc.nmae' (casefile does not know this field; see `casefile rules fields`)"
    );
    assert!(
        find("unbalanced parenthesis").starts_with("mine.yaml:17:5: error: Unbalanced:"),
        "{errors:#?}"
    );
    assert!(find("undefined list 'missing_list'").starts_with("mine.yaml:23:"));
    assert!(find("unknown priority 'LOUD'").starts_with("mine.yaml:31:"));
    assert_eq!(set.rules.len(), 5);
    let loaded: Vec<&str> = set.loaded_rules().map(|r| r.name.as_str()).collect();
    assert!(loaded.contains(&"Fine"), "{loaded:?}");
    assert!(!loaded.contains(&"Undefined list"));
}

#[test]
fn later_files_amend_earlier_ones() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base.yaml");
    let local = dir.path().join("local.yaml");
    std::fs::write(
        &base,
        "- list: shells\n  items: [bash]\n- macro: spawned\n  condition: evt.type = execve\n\
         - rule: Shell\n  desc: d\n  condition: spawned and proc.name in (shells)\n  output: o\n  priority: NOTICE\n\
         - rule: Old\n  desc: d\n  condition: spawned\n  output: o\n  priority: NOTICE\n",
    )
    .unwrap();
    std::fs::write(
        &local,
        "- list: shells\n  items: [zsh]\n  override:\n    items: append\n\
         - rule: Shell\n  condition: and proc.pname != sshd\n  override:\n    condition: append\n\
         - rule: Old\n  enabled: false\n  override:\n    enabled: replace\n\
         - rule: Missing\n  condition: x\n  override:\n    condition: append\n",
    )
    .unwrap();
    let set = load_files(&[base, local]);
    let shell = set.rules.iter().find(|r| r.name == "Shell").unwrap();
    assert_eq!(
        shell.condition,
        "spawned and proc.name in (shells) and proc.pname != sshd"
    );
    assert!(shell.filter.is_some());
    assert!(!set.rules.iter().find(|r| r.name == "Old").unwrap().enabled);
    let errors: Vec<String> = set.errors().map(|d| d.to_string()).collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("amends rule 'Missing', which no earlier file defines"));
    assert!(errors[0].contains("local.yaml:"));
}

#[test]
fn exceptions_and_other_sources() {
    let text = "\
- rule: Shell
  desc: d
  condition: evt.type = execve and proc.name = bash
  output: o
  priority: NOTICE
  exceptions:
    - name: trusted_parents
      fields: [proc.pname, proc.cwd]
      comps: [=, startswith]
      values:
        - [sshd, /root]
    - name: names
      fields: proc.pname
      values: [cron, systemd]
- rule: Audit
  desc: d
  condition: ka.verb = create
  output: o
  priority: NOTICE
  source: k8s_audit
";
    let set = load_str("x.yaml", text);
    assert!(set.errors().next().is_none(), "{:?}", set.diagnostics);
    let shell = set.rules.iter().find(|r| r.name == "Shell").unwrap();
    assert!(shell.filter.is_some());
    let warnings: Vec<String> = set
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Warning)
        .map(|d| d.to_string())
        .collect();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("source 'k8s_audit' is not loaded")),
        "{warnings:?}"
    );
}

#[test]
fn a_condition_outside_the_files_compiles_with_their_macros_and_lists() {
    let set = load_str(
        "defs.yaml",
        "- list: miners\n  items: [xmrig, containerd]\n\
         - macro: spawned_process\n  condition: evt.type = execve\n",
    );
    let defs = set.definitions();
    let filter = casefile_rules::compile::compile_condition(
        "spawned_process and proc.name in (miners)",
        defs,
    )
    .expect("compiles with the file's macro and list");
    // The macro's `evt.type` term indexes the filter like a rule's.
    assert_eq!(filter.event_types.map(|t| t.len()), Some(1));
    let err = casefile_rules::compile::compile_condition("proc.name in (unknown_list) and", defs)
        .unwrap_err();
    assert!(err.pos.col > 1, "the error points into the text: {err}");
    let err = casefile_rules::compile::compile_condition("proc.nmae = x", defs).unwrap_err();
    assert!(err.message.contains("proc.nmae"), "{err}");
}
