//! End-to-end tests of `casefile rules check`.

use std::process::Command;

fn casefile() -> Command {
    Command::new(env!("CARGO_BIN_EXE_casefile"))
}

#[test]
fn falcos_stable_ruleset_checks_clean() {
    let path =
        std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("run by cargo"))
            .join("../shared/corpus/falco/falco_rules.yaml");
    if !path.exists() {
        eprintln!(
            "SKIPPED rules check of Falco's ruleset: {} is absent",
            path.display()
        );
        return;
    }
    let out = casefile()
        .args(["rules", "check", "--json"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(value["rules_total"], 25);
    assert_eq!(value["rules_loaded"], 25);
    assert_eq!(value["errors"].as_array().unwrap().len(), 0);
}

#[test]
fn a_broken_file_reports_positions_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.yaml");
    std::fs::write(
        &file,
        "- rule: Typo\n  desc: d\n  condition: evt.type = execve and proc.nmae = bash\n  output: o\n  priority: NOTICE\n\
         - rule: Good\n  desc: d\n  condition: evt.type = execve\n  output: o\n  priority: NOTICE\n",
    )
    .unwrap();
    let out = casefile()
        .args(["rules", "check"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("broken.yaml:3:36: error: Typo: unknown field 'proc.nmae'"),
        "{text}"
    );
    assert!(text.contains("1/2 rules loaded"), "{text}");
    let json = casefile()
        .args(["rules", "check", "--json"])
        .arg(&file)
        .output()
        .unwrap();
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(value["errors"][0]["line"], 3);
    assert_eq!(value["errors"][0]["column"], 36);
    let missing = casefile()
        .args(["rules", "check"])
        .arg(dir.path().join("nope.yaml"))
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stdout).contains("cannot read the file"));
}
