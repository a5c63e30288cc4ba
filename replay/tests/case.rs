//! Rule regression cases: parsing with positions, expectation checks, and whole cases
//! run against a synthetic capture.

use casefile_formats::writer::WriterOptions;
use casefile_replay::case::{check_alerts, junit, parse_case_str, run_case, Count, Outcome};
use casefile_replay::fixture::write_synthetic_capture;
use casefile_rules::engine::Alert;
use casefile_rules::loader::Priority;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

const RULES: &str = r#"
- rule: etc read
  desc: reads of /etc
  condition: evt.type in (open, openat) and fd.name startswith /etc
  output: "%proc.name read %fd.name"
  priority: NOTICE
- rule: never
  desc: a rule the synthetic workload does not trigger
  condition: evt.type = openat and fd.name = /nonexistent/file
  output: "%proc.name %fd.name"
  priority: CRITICAL
"#;

#[test]
fn a_case_file_parses_with_paths_relative_to_it() {
    let text = "captures: [a.case]\nrules: [r.yaml, {path: ../f.yaml, optional: true}]\nexpect:\n  - rule: X\n    count: 2\n    match: {proc.name: curl}\n  - rule: Y\n    min_count: 1\n  - rule: Z\nmust_not_fire: [W]\n";
    let case = parse_case_str(Path::new("/cases/one/case.yaml"), text).unwrap();
    assert_eq!(case.captures, [Path::new("/cases/one/a.case")]);
    assert_eq!(case.rules[1].path, Path::new("/cases/one/../f.yaml"));
    assert!(case.rules[1].optional && !case.rules[0].optional);
    assert_eq!(case.expect[0].count, Count::Exactly(2));
    assert_eq!(
        case.expect[0].matches,
        [("proc.name".to_string(), "curl".to_string())]
    );
    assert_eq!(case.expect[0].line, 4);
    assert_eq!(case.expect[1].count, Count::AtLeast(1));
    assert_eq!(
        case.expect[2].count,
        Count::AtLeast(1),
        "no count means at least one"
    );
    assert_eq!(case.must_not_fire, [("W".to_string(), 10)]);
}

#[test]
fn malformed_case_files_are_refused_with_positions() {
    let file = Path::new("c/case.yaml");
    let cases = [
        (
            "rules: [r.yaml]\nexpect:\n  - rule: X\n    cuont: 2\n",
            "4:5",
            "unknown key \"cuont\"",
        ),
        (
            "rules: [r.yaml]\nexpect:\n  - rule: X\n    count: two\n",
            "4:12",
            "whole number",
        ),
        ("expect:\n  - rule: X\n", "1:", "needs rules"),
        (
            "rules: [r.yaml]\nexpect:\n  - count: 1\n",
            "3:",
            "needs a rule name",
        ),
        ("rules: [r.yaml]\n", "1:", "needs expect or must_not_fire"),
        (
            "rules: [r.yaml]\nexpect: [{rule: X, count: 1, min_count: 2}]\n",
            "2:",
            "not both",
        ),
        ("rules: [r.yaml\nexpect: x\n", "", ""),
    ];
    for (text, at, message) in cases {
        let err = parse_case_str(file, text).expect_err(text).to_string();
        assert!(
            err.starts_with(&format!("c/case.yaml:{at}")),
            "{err:?} for {text:?}"
        );
        assert!(err.contains(message), "{err:?} for {text:?}");
    }
}

fn alert(rule: &str, name: &str) -> Alert {
    Alert {
        time_ns: 1,
        rule: rule.into(),
        priority: Priority::Warning,
        source: "syscall".into(),
        tags: Vec::new(),
        hostname: "h".into(),
        output: format!("{rule} by {name}"),
        output_fields: BTreeMap::from([("proc.name".to_string(), name.to_string())]),
        event_num: 1,
        pid: 1,
        tid: 1,
        lineage: Vec::new(),
    }
}

#[test]
fn checks_say_what_was_expected_and_what_came() {
    let text = "rules: [r.yaml]\nexpect:\n  - rule: A\n    count: 2\n    match: {proc.name: curl}\n  - rule: B\n    min_count: 1\n  - rule: Typo\n  - rule: A\n    match: {fd.name: x}\nmust_not_fire: [C]\n";
    let case = parse_case_str(Path::new("case.yaml"), text).unwrap();
    let known: BTreeSet<String> = ["A", "B", "C", "D"].iter().map(|s| s.to_string()).collect();
    let alerts = [
        alert("A", "curl"),
        alert("A", "wget"),
        alert("B", "sh"),
        alert("C", "rm"),
        alert("D", "x"),
    ];
    let (checks, unlisted) = check_alerts(&case, &known, &alerts);
    let texts: Vec<(bool, &str, &str)> = checks
        .iter()
        .map(|c| (c.passed, c.at.as_str(), c.text.as_str()))
        .collect();
    assert!(!texts[0].0);
    assert_eq!(texts[0].1, "case.yaml:3");
    assert!(
        texts[0]
            .2
            .contains("expected 2 alerts with proc.name=\"curl\", got 1"),
        "{}",
        texts[0].2
    );
    assert!(
        texts[0].2.contains("proc.name=\"wget\" (1)"),
        "{}",
        texts[0].2
    );
    assert!(texts[1].0, "{}", texts[1].2);
    assert!(
        !texts[2].0 && texts[2].2.contains("no enabled rule"),
        "{}",
        texts[2].2
    );
    assert!(
        !texts[3].0
            && texts[3]
                .2
                .contains("fd.name not in the rule's output fields"),
        "{}",
        texts[3].2
    );
    assert!(
        !texts[4].0 && texts[4].2.contains("must not fire, fired 1 times"),
        "{}",
        texts[4].2
    );
    assert_eq!(unlisted, BTreeMap::from([("D".to_string(), 1)]));
}

/// A case directory with a synthetic capture and the rules above; returns the number
/// of `etc read` alerts a replay gives, found by replaying rather than assumed.
fn case_dir(dir: &Path) -> u64 {
    write_synthetic_capture(
        &dir.join("synthetic.case"),
        30_000,
        3,
        WriterOptions::default(),
    )
    .unwrap();
    std::fs::create_dir(dir.join("rules")).unwrap();
    std::fs::write(dir.join("rules/r.yaml"), RULES).unwrap();
    std::fs::write(
        dir.join("case.yaml"),
        "rules: [rules/r.yaml]\nexpect:\n  - rule: etc read\n    min_count: 1\n",
    )
    .unwrap();
    match run_case(&dir.join("case.yaml"), 1).outcome {
        Outcome::Ran { report, .. } => report.by_rule["etc read"].alerts,
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_case_passes_then_fails_on_a_wrong_expectation() {
    let dir = tempfile::tempdir().unwrap();
    let n = case_dir(dir.path());
    assert!(n > 0);
    let file = dir.path().join("case.yaml");
    std::fs::write(&file, format!("captures: [synthetic.case]\nrules: [rules/r.yaml]\nexpect:\n  - rule: etc read\n    count: {n}\nmust_not_fire: [never]\n")).unwrap();
    let result = run_case(&file, 2);
    assert!(result.passed(), "{result:?}");

    std::fs::write(
        &file,
        format!(
            "rules: [rules/r.yaml]\nexpect:\n  - rule: etc read\n    count: {}\n",
            n + 1
        ),
    )
    .unwrap();
    let result = run_case(&file, 2);
    assert!(!result.passed());
    let Outcome::Ran { checks, .. } = &result.outcome else {
        panic!("{result:?}")
    };
    assert_eq!(
        checks[0].text,
        format!("rule \"etc read\": expected {} alerts, got {n}", n + 1)
    );
    let xml = junit(std::slice::from_ref(&result));
    assert!(xml.contains("failures=\"1\""), "{xml}");
    assert!(
        xml.contains(&format!("expected {} alerts, got {n}", n + 1)),
        "{xml}"
    );
}

#[test]
fn an_absent_optional_rule_file_skips_the_case_and_an_absent_required_one_errors() {
    let dir = tempfile::tempdir().unwrap();
    case_dir(dir.path());
    let file = dir.path().join("case.yaml");
    std::fs::write(
        &file,
        "rules: [{path: gone.yaml, optional: true}]\nexpect: [{rule: x}]\n",
    )
    .unwrap();
    let result = run_case(&file, 1);
    assert!(result.skipped(), "{result:?}");
    assert!(
        matches!(&result.outcome, Outcome::Skipped(why) if why.contains("gone.yaml is absent"))
    );
    std::fs::write(&file, "rules: [gone.yaml]\nexpect: [{rule: x}]\n").unwrap();
    let result = run_case(&file, 1);
    assert!(
        matches!(&result.outcome, Outcome::Error(why) if why.contains("gone.yaml is absent")),
        "{result:?}"
    );
}
