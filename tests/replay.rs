//! `casefile replay` and `casefile test` end to end, on synthetic captures written with
//! checkpoints as the recorder writes them (no root needed).

use casefile_formats::writer::WriterOptions;
use casefile_replay::fixture::write_synthetic_capture;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const RULES: &str = r#"
- rule: etc read
  desc: reads of /etc files
  condition: evt.type in (open, openat) and fd.name startswith /etc
  output: "%proc.name read %fd.name (parent %proc.pname)"
  priority: NOTICE
  tags: [filesystem]
- rule: outbound connection
  desc: connects
  condition: evt.type = connect
  output: "%proc.name connected %fd.name"
  priority: WARNING
"#;

fn casefile(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_casefile"))
        .args(args)
        .output()
        .expect("casefile runs")
}

fn setup(dir: &Path) -> (PathBuf, PathBuf) {
    let capture = dir.join("s.case");
    let options = WriterOptions {
        block_events: 4_000,
        checkpoint_blocks: 2,
        ..WriterOptions::default()
    };
    write_synthetic_capture(&capture, 60_000, 9, options).unwrap();
    let rules = dir.join("rules.yaml");
    std::fs::write(&rules, RULES).unwrap();
    (capture, rules)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn replay_prints_falco_shaped_alerts_and_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let (capture, rules) = setup(dir.path());
    let (capture, rules) = (capture.to_str().unwrap(), rules.to_str().unwrap());
    let json = casefile(&["replay", capture, "-r", rules, "--json", "--threads", "1"]);
    assert!(json.status.success(), "{}", text(&json.stderr));
    let lines: Vec<serde_json::Value> = text(&json.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    assert!(lines.len() > 10, "{} alerts", lines.len());
    let first = &lines[0];
    for key in [
        "time",
        "rule",
        "priority",
        "source",
        "tags",
        "hostname",
        "output",
        "output_fields",
    ] {
        assert!(first.get(key).is_some(), "{key} missing from {first}");
    }
    assert_eq!(first["hostname"], "synthetic-web-1");
    let summary = text(&json.stderr);
    assert!(summary.contains("60000 events read"), "{summary}");
    assert!(
        summary.contains(&format!("{} alerts", lines.len())),
        "{summary}"
    );
    assert!(summary.contains("alerts by rule:"), "{summary}");

    // Text output: one Falco-like line per alert, the same alerts in the same order,
    // with every thread count.
    let parallel = casefile(&["replay", capture, "-r", rules, "--threads", "2", "-q"]);
    assert!(parallel.status.success());
    let text_lines: Vec<String> = text(&parallel.stdout).lines().map(String::from).collect();
    assert_eq!(text_lines.len(), lines.len());
    for (line, alert) in text_lines.iter().zip(&lines) {
        let expected = format!(
            "{}: {} {}",
            alert["time"].as_str().unwrap(),
            alert["priority"].as_str().unwrap(),
            alert["output"].as_str().unwrap()
        );
        assert_eq!(line, &expected);
    }
    assert!(
        parallel.stderr.is_empty(),
        "--quiet prints nothing on stderr"
    );
}

#[test]
fn replay_refuses_rules_with_errors_and_names_the_position() {
    let dir = tempfile::tempdir().unwrap();
    let (capture, _) = setup(dir.path());
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "- rule: x\n  desc: d\n  condition: evt.type = = open\n  output: o\n  priority: INFO\n",
    )
    .unwrap();
    let out = casefile(&[
        "replay",
        capture.to_str().unwrap(),
        "-r",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("bad.yaml:3:"), "{err}");
}

#[test]
fn test_command_passes_a_right_case_and_diffs_a_wrong_one() {
    let dir = tempfile::tempdir().unwrap();
    let (_, _) = setup(dir.path());
    // The expected count comes from a replay, not from this test's assumptions.
    let out = casefile(&[
        "replay",
        dir.path().join("s.case").to_str().unwrap(),
        "-r",
        dir.path().join("rules.yaml").to_str().unwrap(),
        "--json",
        "-q",
    ]);
    let connects = text(&out.stdout)
        .lines()
        .filter(|l| l.contains("\"outbound connection\""))
        .count();
    assert!(connects > 0);
    let good = dir.path().join("good");
    let wrong = dir.path().join("wrong");
    for (case, count) in [(&good, connects), (&wrong, connects + 3)] {
        std::fs::create_dir(case).unwrap();
        std::fs::write(
            case.join("case.yaml"),
            format!("captures: [../s.case]\nrules: [../rules.yaml]\nexpect:\n  - rule: outbound connection\n    count: {count}\n  - rule: etc read\n"),
        )
        .unwrap();
    }
    let out = casefile(&["test", good.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(text(&out.stdout).contains("1 passed, 0 failed"));

    let junit = dir.path().join("results.xml");
    let out = casefile(&[
        "test",
        dir.path().to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "MISMATCH {}:4: rule \"outbound connection\": expected {} alerts, got {connects}",
            wrong.join("case.yaml").display(),
            connects + 3
        )),
        "{stdout}"
    );
    assert!(stdout.contains("2 case(s): 1 passed, 1 failed"), "{stdout}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("tests=\"2\" failures=\"1\""), "{xml}");
}
