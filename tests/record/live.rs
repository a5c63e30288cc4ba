//! Rules evaluated live during a recording give the alerts a replay of the file gives.

use crate::common::*;

pub const LIVE_RULES: &str = r#"
- rule: marker written
  desc: a marker file opened by the test's workload
  condition: evt.type in (open, openat, openat2) and fd.name contains casefile-live-marker
  output: "%proc.name opened %fd.name (parent %proc.pname, user %user.name, num %evt.num)"
  priority: WARNING
- rule: cat started by a shell
  desc: exec of cat under sh
  condition: evt.type = execve and proc.name = cat and proc.pname = sh
  output: "%proc.cmdline under %proc.pname (exe %proc.exepath, num %evt.num)"
  priority: NOTICE
"#;

#[test]
fn live_alerts_equal_the_alerts_of_a_replay_of_the_file() {
    require_recorder!();
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.yaml");
    std::fs::write(&rules, LIVE_RULES).unwrap();
    let capture = dir.path().join("live.case");
    let alerts = dir.path().join("alerts.jsonl");
    let script = format!(
        "for i in 1 2 3; do cat /etc/hostname > {0}/casefile-live-marker-$i; done; rm {0}/casefile-live-marker-*",
        dir.path().display()
    );
    let rules_arg = rules.to_str().unwrap();
    let out = record_command(
        &["--rules", rules_arg, "--alerts", alerts.to_str().unwrap()],
        &capture,
        &["sh", "-c", &script],
    );
    assert_success(&out, "record --rules");
    let live_json = std::fs::read_to_string(&alerts).unwrap();
    let live_text = String::from_utf8_lossy(&out.stdout).into_owned();
    let live: Vec<&str> = live_json.lines().collect();
    let count = |rule: &str| live.iter().filter(|l| l.contains(rule)).count();
    assert!(
        count("\"marker written\"") >= 3 && count("\"cat started by a shell\"") == 3,
        "the workload's alerts fired live: {live_json}"
    );
    for threads in ["1", "2"] {
        let replayed = casefile()
            .args([
                "replay",
                "--json",
                "-q",
                "--threads",
                threads,
                "-r",
                rules_arg,
            ])
            .arg(&capture)
            .output()
            .unwrap();
        assert_success(&replayed, "replay --json");
        let replayed_json = String::from_utf8_lossy(&replayed.stdout).into_owned();
        assert_eq!(
            replayed_json.lines().collect::<Vec<_>>(),
            live,
            "JSON, {threads} thread(s)"
        );
        let replayed_text = casefile()
            .args(["replay", "-q", "--threads", threads, "-r", rules_arg])
            .arg(&capture)
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&replayed_text.stdout),
            live_text,
            "text, {threads} thread(s)"
        );
    }
}
