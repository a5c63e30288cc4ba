//! End-to-end tests of the `casefile` binary on generated captures.

use casefile_formats::event::{ArgsBuilder, EventKind, OwnedEvent};
use casefile_formats::reader::CaptureReader;
use casefile_formats::schema::syscall_nr;
use casefile_formats::state::{ProcessEntry, StateSnapshot};
use casefile_formats::synthetic::SyntheticWorkload;
use casefile_formats::writer::{CaptureWriter, WriterOptions};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

fn casefile(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_casefile"))
        .args(args)
        .output()
        .expect("running casefile")
}

fn synthetic(path: &Path, events: usize) -> Vec<OwnedEvent> {
    let mut workload = SyntheticWorkload::new(21);
    let options = WriterOptions {
        block_events: 1_000,
        checkpoint_blocks: 3,
        ..WriterOptions::default()
    };
    let mut writer =
        CaptureWriter::create(path, &workload.header(), &workload.snapshot(), options).unwrap();
    let mut out = Vec::new();
    for _ in 0..events {
        let e = workload.next_event();
        writer.push(&e.as_event()).unwrap();
        if writer.checkpoint_due() {
            writer.write_checkpoint(&workload.snapshot()).unwrap();
        }
        out.push(e);
    }
    writer.finish_and_sync().unwrap();
    out
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("UTF-8 output")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn info_json_describes_the_whole_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.cfcap");
    let events = synthetic(&path, 12_345);
    let out = casefile(&["info", "--json", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["events"], 12_345);
    let by_type_total: u64 = v["by_type"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(by_type_total, 12_345);
    let reads = events
        .iter()
        .filter(|e| e.kind.0 == syscall_nr("read").unwrap())
        .count();
    assert_eq!(v["by_type"]["read"], reads);
    assert_eq!(v["truncated_bytes"], 0);
    assert_eq!(v["corrupt_blocks"], 0);
    assert_eq!(v["drops"], 0);
    assert_eq!(v["bytes"], std::fs::metadata(&path).unwrap().len());
    let boot = v["host"]["boot_time_ns"].as_u64().unwrap();
    assert_eq!(v["start_ns"].as_u64().unwrap(), boot + events[0].ts);
    assert_eq!(
        v["end_ns"].as_u64().unwrap(),
        boot + events.iter().map(|e| e.ts).max().unwrap()
    );
    assert!(v["checkpoints"].as_u64().unwrap() >= 3);
}

#[test]
fn info_reports_a_truncated_tail_and_keeps_what_is_complete() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("killed.cfcap");
    synthetic(&path, 5_000);
    let reader = CaptureReader::open(&path).unwrap();
    // Cut in the middle of the fourth events block, as a killed recorder would.
    let fourth = *reader.event_blocks().nth(3).unwrap();
    let cut = fourth.offset + 100;
    drop(reader);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..cut as usize]).unwrap();
    let out = casefile(&["info", "--json", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["events"], 3_000);
    assert_eq!(v["truncated_bytes"], 100);
    assert_eq!(v["trailer"], false);
    let text = stdout(&casefile(&["info", path.to_str().unwrap()]));
    assert!(
        text.contains("100 bytes at the end are not a complete block"),
        "{text}"
    );
}

#[test]
fn info_and_cat_report_a_corrupt_block_by_offset_and_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flip.cfcap");
    let events = synthetic(&path, 5_000);
    let reader = CaptureReader::open(&path).unwrap();
    let victim = *reader.event_blocks().nth(1).unwrap();
    drop(reader);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[victim.offset as usize + 60] ^= 0x04;
    std::fs::write(&path, &bytes).unwrap();

    let out = casefile(&["info", "--json", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["corrupt_blocks"], 1);
    assert_eq!(v["corrupt"][0]["offset"], victim.offset);
    assert_eq!(
        v["events"],
        events.len() as u64 - u64::from(victim.header.count)
    );

    let out = casefile(&["cat", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        stdout(&out).lines().count(),
        events.len() - victim.header.count as usize
    );
    assert!(
        stderr(&out).contains(&format!("at offset {}", victim.offset)),
        "{}",
        stderr(&out)
    );
}

#[test]
fn cat_prints_every_event_with_its_process_and_honours_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.cfcap");
    let events = synthetic(&path, 3_000);
    let out = casefile(&["cat", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 3_000);
    assert!(
        text.contains(" nginx (1041:1041) "),
        "process names from the snapshot"
    );
    assert!(!text.contains(" ? ("), "every process has a name");

    let from = events[1_000].ts;
    let to = events[2_000].ts;
    let out = casefile(&[
        "cat",
        "--json",
        "--from",
        &from.to_string(),
        "--to",
        &to.to_string(),
        path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let lines: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let expected = events.iter().filter(|e| e.ts >= from && e.ts < to).count();
    assert_eq!(lines.len(), expected);
    assert_eq!(lines[0]["ts"], from);

    let out = casefile(&[
        "cat",
        "--from",
        "+1s",
        "--to",
        "+2s",
        path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let start = events[0].ts;
    let expected = events
        .iter()
        .filter(|e| e.ts >= start + 1_000_000_000 && e.ts < start + 2_000_000_000)
        .count();
    assert_eq!(stdout(&out).lines().count(), expected);
}

#[test]
fn hostile_names_and_paths_never_reach_the_terminal_raw() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("evil.cfcap");
    let workload = SyntheticWorkload::new(1);
    let snapshot = StateSnapshot {
        ts: 1,
        processes: vec![ProcessEntry {
            pid: 66,
            tids: vec![66],
            comm: b"\x1b]0;pwned\x07evil\n".as_slice().into(),
            ..ProcessEntry::default()
        }],
        ..StateSnapshot::default()
    };
    let mut writer = CaptureWriter::create(
        &path,
        &workload.header(),
        &snapshot,
        WriterOptions::default(),
    )
    .unwrap();
    let mut args = ArgsBuilder::new();
    args.fd(-100)
        .str(b"/tmp/\x1b[2J\xff\xfe\r\nfake line")
        .uint(0)
        .uint(0)
        .absent()
        .absent();
    let event = OwnedEvent {
        ts: 2,
        cpu: 0,
        pid: 66,
        tid: 66,
        kind: EventKind::syscall(syscall_nr("openat").unwrap()),
        ret: 3,
        args: args.finish(),
    };
    writer.push(&event.as_event()).unwrap();
    writer.finish_and_sync().unwrap();
    for extra in [None, Some("--json")] {
        let mut argv = vec!["cat", path.to_str().unwrap()];
        argv.extend(extra);
        let out = casefile(&argv);
        assert_eq!(out.status.code(), Some(0));
        let raw = &out.stdout;
        assert!(!raw.contains(&0x1b), "raw escape byte in {extra:?} output");
        assert!(!raw.contains(&0x07));
        assert!(!raw.contains(&b'\r'));
        assert_eq!(raw.iter().filter(|b| **b == b'\n').count(), 1);
        let text = String::from_utf8(raw.clone()).unwrap();
        assert!(text.contains("x1b]0;pwned"), "{text}");
        assert!(text.contains("xff"), "{text}");
    }
}

#[test]
fn bad_inputs_get_clear_errors_and_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let notes = dir.path().join("notes.txt");
    std::fs::write(&notes, "hello, this is not a capture").unwrap();
    let out = casefile(&["info", notes.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("notes.txt"), "{}", stderr(&out));
    assert!(stderr(&out).contains("not a casefile capture"));

    let out = casefile(&["cat", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("is a directory"));

    let empty = dir.path().join("empty.cfcap");
    std::fs::write(&empty, "").unwrap();
    let out = casefile(&["info", empty.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("empty"));

    let good = dir.path().join("good.cfcap");
    synthetic(&good, 10);
    let out = casefile(&["cat", "--from", "yesterday", good.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--from"), "{}", stderr(&out));

    let out = casefile(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));

    let help = stdout(&casefile(&["--help"]));
    assert!(help.contains("Exit status"), "{help}");
}

/// A capture whose snapshot knows only `web` (pid 66): it forks 67, and pid 555 (alive
/// before the recorder attached, gone from its scan) reads twice, in two blocks.
fn capture_with_an_unknown_process(path: &Path) {
    let workload = SyntheticWorkload::new(3);
    let snapshot = StateSnapshot {
        processes: vec![ProcessEntry {
            pid: 66,
            tids: vec![66],
            comm: "web".into(),
            ..ProcessEntry::default()
        }],
        ..StateSnapshot::default()
    };
    let options = WriterOptions {
        block_events: 2,
        ..WriterOptions::default()
    };
    let mut writer = CaptureWriter::create(path, &workload.header(), &snapshot, options).unwrap();
    let syscall = |name: &str| EventKind::syscall(syscall_nr(name).unwrap());
    let read_args = ArgsBuilder::new()
        .fd(3)
        .uint(4)
        .bytes(b"data")
        .as_bytes()
        .to_vec();
    let fork_args = ArgsBuilder::new()
        .int(67)
        .int(67)
        .uint(0)
        .as_bytes()
        .to_vec();
    let close_args = ArgsBuilder::new().fd(3).as_bytes().to_vec();
    for (ts, pid, kind, ret, args) in [
        (10, 66, syscall("read"), 4, read_args.clone()),
        (11, 555, syscall("read"), 4, read_args.clone()),
        (12, 66, EventKind::FORK, 0, fork_args),
        (13, 67, syscall("close"), 0, close_args),
        (14, 555, syscall("read"), 4, read_args),
    ] {
        let event = OwnedEvent {
            ts,
            cpu: 0,
            pid,
            tid: pid,
            kind,
            ret,
            args,
        };
        writer.push(&event.as_event()).unwrap();
    }
    writer.finish_and_sync().unwrap();
}

#[test]
fn a_process_the_capture_does_not_know_is_named_and_counted_alike_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("unknown.case");
    capture_with_an_unknown_process(&path);
    let capture = path.to_str().unwrap();

    let info = casefile(&["info", "--json", capture]);
    assert_eq!(info.status.code(), Some(0), "{}", stderr(&info));
    let v: Value = serde_json::from_str(&stdout(&info)).unwrap();
    assert_eq!(v["unknown_processes"], 1, "{v}");
    assert_eq!(v["unknown_pids"], serde_json::json!([555]));
    let info = casefile(&["info", capture]);
    assert!(
        stdout(&info).contains("Processes   1 not known to the capture"),
        "{}",
        stdout(&info)
    );

    // cat: the unknown process by its pid, the forked child by its parent's name.
    let cat = stdout(&casefile(&["cat", capture]));
    let line_of = |pid: &str| {
        cat.lines()
            .filter(|l| l.contains(&format!("({pid}:{pid})")))
            .collect::<Vec<_>>()
    };
    let unknown = line_of("555");
    assert_eq!(unknown.len(), 2, "{cat}");
    assert!(
        unknown.iter().all(|l| l.contains(" <unknown pid 555> ")),
        "{cat}"
    );
    assert!(line_of("67")[0].contains(" web "), "{cat}");
    assert!(!cat.contains("<unknown pid 67>") && !cat.contains("<unknown pid 66>"));

    // The replay timeline names it the same way.
    let rules = dir.path().join("reads.yaml");
    std::fs::write(
        &rules,
        "- rule: data read\n  desc: a read\n  condition: evt.type = read\n  output: \"read by %proc.pid\"\n  priority: NOTICE\n",
    )
    .unwrap();
    let replay = casefile(&[
        "replay",
        "-q",
        "--timeline",
        "-r",
        rules.to_str().unwrap(),
        capture,
    ]);
    assert_eq!(replay.status.code(), Some(0), "{}", stderr(&replay));
    let timeline = stdout(&replay);
    assert_eq!(
        timeline.matches("<unknown pid 555>").count(),
        2,
        "{timeline}"
    );

    // SQL: the events rows and a processes row of origin `unknown`.
    let sql_csv = |query: &str| {
        let out = casefile(&["sql", "--on", capture, "--format", "csv", query]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        stdout(&out)
    };
    let rows = sql_csv("SELECT pid, proc_name, origin FROM processes ORDER BY pid");
    assert!(rows.contains("555,<unknown pid 555>,unknown"), "{rows}");
    assert!(rows.contains("66,web,snapshot"), "{rows}");
    assert!(rows.contains("67,web,fork"), "{rows}");
    let count = sql_csv(
        "SELECT count(*) AS n FROM events WHERE proc_name = '<unknown pid 555>' AND pid = 555",
    );
    assert!(count.lines().any(|l| l == "2"), "{count}");
}

#[test]
fn info_counts_the_unknown_processes_the_state_engine_meets() {
    use casefile_rules::state::StateEngine;
    let root = std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let dir = tempfile::tempdir().unwrap();
    let synthetic_path = dir.path().join("unknown.case");
    capture_with_an_unknown_process(&synthetic_path);
    for path in [
        root.join("samples/scarleteel/scarleteel.case"),
        synthetic_path,
    ] {
        let reader = CaptureReader::open(&path).unwrap();
        let snapshot = reader.initial_state().unwrap().unwrap();
        let mut state = StateEngine::from_snapshot(&snapshot);
        let _ = reader.for_each_event(0, u64::MAX, |e| {
            state.update(e);
            std::ops::ControlFlow::Continue(())
        });
        let info = casefile(&["info", "--json", path.to_str().unwrap()]);
        let v: Value = serde_json::from_str(&stdout(&info)).unwrap();
        assert_eq!(
            v["unknown_processes"].as_u64(),
            Some(state.unknown_processes()),
            "{}",
            path.display()
        );
    }
}
