//! How processes end, as the capture's readers tell it: a process killed by a signal
//! has that signal and no exit code; one that exits has its code; a forked child is
//! named from its fork on, before it execs.

use crate::common::*;

/// `SELECT QUERY` on the capture, as CSV lines (header first).
fn sql_csv(capture: &std::path::Path, query: &str) -> Vec<String> {
    let out = casefile()
        .args(["sql", "--format", "csv", "--on"])
        .arg(capture)
        .arg(query)
        .output()
        .unwrap();
    assert_success(&out, "sql");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn a_killed_process_has_its_signal_and_an_exiting_one_its_code() {
    require_recorder!();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let capture = dir.path().join("exits.case");
    // `wait` returns once each child has ended: no timing involved.
    let script = format!(
        "sleep 30 & echo $! > {d}/killed; kill -9 $!; wait; \
         sh -c 'exit 3' & echo $! > {d}/exited; wait"
    );
    record_events(&[], &capture, &["sh", "-c", &script]);
    let pid_of = |name: &str| {
        std::fs::read_to_string(dir.path().join(name))
            .unwrap()
            .trim()
            .to_string()
    };
    let (killed, exited) = (pid_of("killed"), pid_of("exited"));
    let last_row = |pid: &str| {
        let rows = sql_csv(
            &capture,
            &format!(
                "SELECT exit_code, exit_signal FROM processes WHERE pid = {pid} ORDER BY start_time"
            ),
        );
        rows.last()
            .cloned()
            .unwrap_or_else(|| panic!("no processes row for {pid}: {rows:?}"))
    };
    assert_eq!(
        last_row(&killed),
        ",SIGKILL",
        "killed: no exit code, SIGKILL"
    );
    assert_eq!(last_row(&exited), "3,", "exited: code 3, no signal");

    // cat names the children from their fork on: never as unknown.
    let cat = casefile().arg("cat").arg(&capture).output().unwrap();
    assert_success(&cat, "cat");
    let text = String::from_utf8_lossy(&cat.stdout);
    for pid in [&killed, &exited] {
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| l.contains(&format!(" ({pid}:{pid}) ")))
            .collect();
        assert!(!lines.is_empty(), "events of {pid}");
        for line in lines {
            assert!(
                line.contains(" sh (") || line.contains(" sleep ("),
                "{pid} named: {line}"
            );
        }
    }
    assert!(!text.contains("<unknown pid"), "{text}");
}
