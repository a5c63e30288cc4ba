//! `casefile export` and `casefile sql` on the SCARLETEEL sample: the tables hold what
//! the capture holds, each query of the pack in `samples/queries/scarleteel/` answers its
//! question (asserted on the rows), and a capture queried in place answers exactly as
//! its export does, partitioned or not.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn casefile(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_casefile"))
        .args(args)
        .output()
        .expect("casefile runs")
}

fn repo() -> PathBuf {
    PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("run by cargo"))
}

fn capture() -> String {
    repo()
        .join("samples/scarleteel/scarleteel.case")
        .display()
        .to_string()
}

fn rules() -> String {
    repo()
        .join("samples/scarleteel/rules/scarleteel_rules.yaml")
        .display()
        .to_string()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn export(dir: &Path, extra: &[&str]) {
    let cap = capture();
    let mut args = vec!["export", cap.as_str(), "-o", dir.to_str().unwrap(), "-q"];
    let rules = rules();
    args.extend(["-r", rules.as_str()]);
    args.extend(extra);
    let out = casefile(&args);
    assert!(out.status.success(), "export failed: {}", text(&out.stderr));
}

/// Rows of a query as JSON objects.
fn query(source: &str, sql: &str, with_rules: bool) -> Vec<Value> {
    let rules = rules();
    let mut args = vec!["sql", "--on", source, "--format", "json", sql];
    if with_rules {
        args.extend(["-r", rules.as_str()]);
    }
    let out = casefile(&args);
    assert!(
        out.status.success(),
        "query failed on {source}: {sql}\n{}",
        text(&out.stderr)
    );
    text(&out.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON row"))
        .collect()
}

fn pack() -> Vec<(String, String)> {
    let dir = repo().join("samples/queries/scarleteel");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("the query pack")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).expect("query text"))
        })
        .collect()
}

fn pack_query(name: &str) -> String {
    pack()
        .into_iter()
        .find(|(n, _)| n.starts_with(name))
        .unwrap_or_else(|| panic!("no query {name} in the pack"))
        .1
}

fn s<'a>(row: &'a Value, key: &str) -> &'a str {
    row[key].as_str().unwrap_or("")
}

fn n(row: &Value, key: &str) -> i64 {
    row[key].as_i64().unwrap_or(-1)
}

const CONTAINER: &str = "9fe9b73af39c";

#[test]
fn the_tables_hold_what_the_capture_holds() {
    let cap = capture();
    let info = casefile(&["info", "--json", &cap]);
    let info: Value = serde_json::from_slice(&info.stdout).expect("info JSON");
    let events = query(&cap, "SELECT count(*) AS n FROM events", false);
    assert_eq!(n(&events[0], "n"), info["events"].as_i64().unwrap());
    let captured = query(&cap, "SELECT events, drops, complete FROM captures", false);
    assert_eq!(captured.len(), 1);
    assert_eq!(n(&captured[0], "events"), info["events"].as_i64().unwrap());

    // Every successful exec is a process image.
    let execs = query(
        &cap,
        "SELECT count(*) AS n FROM events WHERE evt_type IN ('execve', 'execveat') AND ret = 0",
        false,
    );
    let images = query(
        &cap,
        "SELECT count(*) AS n FROM processes WHERE origin = 'exec'",
        false,
    );
    assert!(n(&execs[0], "n") > 30, "{execs:?}");
    assert_eq!(n(&execs[0], "n"), n(&images[0], "n"));

    // The metadata service, the C2 and the pool.
    let peers = query(
        &cap,
        "SELECT DISTINCT proc_name, remote_ip, remote_port FROM connections WHERE direction = 'outbound' ORDER BY remote_ip",
        false,
    );
    for (name, ip, port) in [
        ("curl", "169.254.169.254", 80),
        ("curl", "203.0.113.66", 8080),
        ("containerd", "198.51.100.23", 3333),
    ] {
        assert!(
            peers.iter().any(|r| s(r, "proc_name") == name
                && s(r, "remote_ip") == ip
                && n(r, "remote_port") == port),
            "no {name} -> {ip}:{port} in {peers:?}"
        );
    }

    // Alerts from the rules given, the same count `casefile replay` gives.
    let alerts = query(&cap, "SELECT count(*) AS n FROM alerts", true);
    let replay = casefile(&["replay", "-q", "--json", &cap, "-r", &rules()]);
    assert_eq!(
        n(&alerts[0], "n") as usize,
        text(&replay.stdout).lines().count()
    );
    let no_rules = query(&cap, "SELECT count(*) AS n FROM alerts", false);
    assert_eq!(n(&no_rules[0], "n"), 0);
}

#[test]
fn the_query_pack_reconstructs_the_container_stage() {
    let cap = capture();

    let tree = query(&cap, &pack_query("01"), false);
    assert_eq!(s(&tree[0], "proc_name"), "sh");
    assert_eq!(n(&tree[0], "depth"), 0);
    assert!(
        s(&tree[0], "ancestry").ends_with("python3 > sh"),
        "{tree:?}"
    );
    let children: Vec<&str> = tree[1..].iter().map(|r| s(r, "proc_name")).collect();
    assert_eq!(children, ["getent", "id", "uname", "cat"], "{tree:?}");
    assert!(tree[1..].iter().all(|r| n(r, "ppid") == n(&tree[0], "pid")));

    let imds = query(&cap, &pack_query("02"), false);
    assert_eq!(imds.len(), 2, "{imds:?}");
    for row in &imds {
        assert_eq!(s(row, "proc_name"), "curl");
        assert!(s(row, "container_id").starts_with(CONTAINER), "{row}");
        assert_eq!(s(row, "pod_uid"), "a88bf1dc-5bc2-5ce2-af8e-48294591ae32");
        assert_eq!(n(row, "remote_port"), 80);
        assert!(n(row, "bytes_received") > 0, "{row}");
    }
    assert!(s(&imds[1], "cmdline").ends_with("scarleteel-demo-eks-node-role"));

    let creds = query(&cap, &pack_query("03"), false);
    for (name, path) in [
        ("cat", "/root/.aws/credentials"),
        ("grep", "/root/.aws/credentials"),
        ("cat", "/root/.git-credentials"),
    ] {
        assert!(
            creds.iter().any(|r| s(r, "proc_name") == name
                && s(r, "path") == path
                && n(r, "bytes_read") > 0),
            "{name} reading {path} missing: {creds:?}"
        );
    }
    assert!(creds
        .iter()
        .all(|r| s(r, "container_id").starts_with(CONTAINER)));

    let drift = query(&cap, &pack_query("04"), false);
    assert_eq!(drift.len(), 1, "{drift:?}");
    assert_eq!(s(&drift[0], "path"), "/root/.configure/containerd");
    assert_eq!(s(&drift[0], "written_by"), "curl");
    assert_ne!(n(&drift[0], "writer_pid"), n(&drift[0], "exec_pid"));

    let outbound = query(&cap, &pack_query("05"), false);
    let pool = outbound
        .iter()
        .find(|r| s(r, "remote_ip") == "198.51.100.23")
        .expect("the pool connection");
    assert_eq!(s(pool, "exepath"), "/root/.configure/containerd");
    assert_eq!(n(pool, "remote_port"), 3333);
    assert!(n(pool, "bytes_sent") > 0 && n(pool, "bytes_received") > 0);

    let tampered = query(&cap, &pack_query("06"), false);
    let found = |name: &str, path: &str, column: &str| {
        tampered
            .iter()
            .any(|r| s(r, "proc_name") == name && s(r, "path") == path && n(r, column) > 0)
    };
    assert!(found("sh", "/var/log/app.log", "truncates"), "{tampered:?}");
    assert!(
        found("truncate", "/var/log/access.log", "truncates"),
        "{tampered:?}"
    );
    assert!(
        found("rm", "/root/.bash_history", "unlinks"),
        "{tampered:?}"
    );

    let timeline = query(&cap, &pack_query("07"), false);
    assert_eq!(s(&timeline[0], "step"), "exec");
    assert_eq!(s(&timeline[0], "proc_name"), "sh");
    let last = timeline.last().expect("steps");
    assert_eq!(
        (s(last, "step"), s(last, "detail")),
        ("remove", "/root/.bash_history")
    );
    let position = |detail_prefix: &str| {
        timeline
            .iter()
            .position(|r| s(r, "step") == "connect" && s(r, "detail").starts_with(detail_prefix))
            .unwrap_or_else(|| panic!("no connect to {detail_prefix}: {timeline:?}"))
    };
    let (imds, c2, pool) = (
        position("169.254.169.254:80"),
        position("203.0.113.66:8080"),
        position("198.51.100.23:3333"),
    );
    assert!(imds < c2 && c2 < pool, "{imds} {c2} {pool}");
    let times: Vec<&str> = timeline.iter().map(|r| s(r, "time")).collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "steps in time order"
    );
}

/// Rows as sorted JSON texts, so results compare whatever order ties come in.
fn canonical(rows: Vec<Value>) -> Vec<String> {
    let mut texts: Vec<String> = rows.iter().map(Value::to_string).collect();
    texts.sort();
    texts
}

#[test]
fn a_capture_and_its_export_answer_alike() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let plain = tmp.path().join("plain");
    let partitioned = tmp.path().join("partitioned");
    export(&plain, &[]);
    export(&partitioned, &["--partition", "host,date"]);
    let day = std::fs::read_dir(partitioned.join("events/host=scarleteel-demo-node"))
        .expect("a host partition")
        .count();
    assert!(day >= 1);

    let cap = capture();
    let mut checks: Vec<(String, String)> = pack();
    checks.push((
        "alerts".into(),
        "SELECT rule, priority, evt_num, pid, proc_name, output FROM alerts".into(),
    ));
    checks.push((
        "events".into(),
        "SELECT evt_num, time, evt_type, pid, proc_name, fd_name, remote_ip, ret, args FROM events WHERE pid % 7 = 3".into(),
    ));
    for (name, sql) in checks {
        let direct = canonical(query(&cap, &sql, true));
        assert!(!direct.is_empty(), "{name} returned nothing");
        for dir in [&plain, &partitioned] {
            let exported = canonical(query(dir.to_str().unwrap(), &sql, false));
            assert_eq!(direct, exported, "{name} differs on {}", dir.display());
        }
    }

    // The host comes back from the partition path.
    let hosts = query(
        partitioned.to_str().unwrap(),
        "SELECT DISTINCT host FROM events",
        false,
    );
    assert_eq!(hosts.len(), 1);
    assert_eq!(s(&hosts[0], "host"), "scarleteel-demo-node");
}

#[test]
fn an_export_is_not_overwritten_unless_asked() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("tables");
    export(&dir, &[]);
    let again = casefile(&["export", &capture(), "-o", dir.to_str().unwrap(), "-q"]);
    assert!(!again.status.success());
    assert!(
        text(&again.stderr).contains("--overwrite"),
        "{}",
        text(&again.stderr)
    );
    std::fs::write(dir.join("notes.txt"), "mine").expect("write");
    export(&dir, &["--overwrite"]);
    assert!(
        dir.join("notes.txt").exists(),
        "files that are not casefile's stay"
    );
}

#[test]
fn bad_sql_and_bad_sources_say_what_is_wrong() {
    let cap = capture();
    let out = casefile(&["sql", "--on", &cap, "SELEC pid FROM events"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("SELEC"), "{}", text(&out.stderr));

    let out = casefile(&["sql", "--on", &cap, "SELECT nope FROM processes"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("nope"), "{}", text(&out.stderr));

    let tmp = tempfile::tempdir().expect("tempdir");
    let out = casefile(&["sql", "--on", tmp.path().to_str().unwrap(), "SELECT 1"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("not a casefile export"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_time_filter_on_a_capture_returns_exactly_its_window() {
    let cap = capture();
    let bounds = query(
        &cap,
        "SELECT CAST(min(time) AS BIGINT) AS lo, CAST(max(time) AS BIGINT) AS hi FROM events",
        false,
    );
    let (lo, hi) = (n(&bounds[0], "lo"), n(&bounds[0], "hi"));
    let mid = lo + (hi - lo) / 2;
    let window = format!(
        "SELECT count(*) AS n FROM events WHERE time >= to_timestamp_nanos({mid}) AND time < to_timestamp_nanos({hi})"
    );
    let filtered = query(&cap, &window, false);
    let all = query(
        &cap,
        &format!(
            "SELECT sum(CASE WHEN CAST(time AS BIGINT) >= {mid} AND CAST(time AS BIGINT) < {hi} THEN 1 ELSE 0 END) AS n FROM events"
        ),
        false,
    );
    assert!(n(&filtered[0], "n") > 0);
    assert_eq!(n(&filtered[0], "n"), n(&all[0], "n"));
}
