//! How a recording ends — the command exits, a signal, SIGKILL, a full disk, no root —
//! and that each leaves a readable file and a clear exit status.

use crate::common::*;
use casefile_formats::event::EventKind;
use casefile_formats::reader::CaptureReader;
use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn the_command_exit_code_is_passed_on() {
    require_recorder!();
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("exit.case");
    let out = record_command(&[], &capture, &["sh", "-c", "exit 7"]);
    assert_eq!(
        out.status.code(),
        Some(7),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reader = CaptureReader::open(&capture).unwrap();
    assert!(
        reader.trailer().is_some(),
        "a clean stop writes the trailer"
    );
}

#[test]
fn a_capture_is_never_overwritten() {
    require_recorder!();
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("exists.case");
    std::fs::write(&capture, b"evidence").unwrap();
    let again = record_command(&[], &capture, &["true"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    assert_eq!(std::fs::read(&capture).unwrap(), b"evidence");
}

/// A workload recorded by pid: each `go` runs one `cat` (a process of its own, forked
/// after the recording began) and answers `done`.
fn cat_on_demand() -> Workload {
    Workload::start("while read go; do cat /etc/hostname > /dev/null; echo done; done")
}

#[test]
fn a_killed_recorder_leaves_a_readable_truncated_file() {
    require_recorder!();
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("killed.case");
    let mut workload = cat_on_demand();
    let recorder = Background::start(&["--pid", &workload.pid().to_string()], &capture);
    workload.say("go");
    workload.expect("done");
    // Blocks are flushed at least once a second: wait until the cat's open is on disk.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !read_events_leniently(&capture)
        .0
        .iter()
        .any(|e| e.kind == kind("openat") && e.pid != workload.pid())
    {
        assert!(
            Instant::now() < deadline,
            "the recorder flushed nothing in 60 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = recorder.stop(libc::SIGKILL);
    assert!(!out.status.success());
    workload.finish();

    let events = read_events(&capture);
    assert!(
        events.iter().any(|e| e.kind == kind("openat")),
        "the blocks flushed before the kill are readable"
    );
    let info = casefile().arg("info").arg(&capture).output().unwrap();
    assert_success(&info, "info");
    let text = String::from_utf8_lossy(&info.stdout);
    assert!(
        text.contains("truncated: the recorder did not finish"),
        "{text}"
    );
    let json = casefile()
        .args(["info", "--json"])
        .arg(&capture)
        .output()
        .unwrap();
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(value["trailer"], false);
    assert!(value["events"].as_u64().unwrap() > 0);
}

#[test]
fn sigint_and_sigterm_end_the_file_cleanly() {
    require_recorder!();
    let dir = tempfile::tempdir().unwrap();
    for (signal, name) in [(libc::SIGINT, "int"), (libc::SIGTERM, "term")] {
        let capture = dir.path().join(format!("{name}.case"));
        let mut workload = cat_on_demand();
        let recorder = Background::start(&["--pid", &workload.pid().to_string()], &capture);
        workload.say("go");
        workload.expect("done");
        let out = recorder.stop(signal);
        workload.finish();
        assert_success(&out, name);
        let reader = CaptureReader::open(&capture).unwrap();
        assert!(reader.trailer().is_some(), "{name}: the trailer is written");
        let events = read_events(&capture);
        let stop = events
            .iter()
            .find(|e| e.kind == EventKind::CAPTURE_STOP)
            .unwrap();
        assert_eq!(str_arg(stop, "reason"), Some(&b"signal"[..]));
        // The cat ran after the ready signal and before the stop: all of it is there.
        let cat = events
            .iter()
            .find(|e| e.kind == kind("execve") && argv(e).first().is_some_and(|a| a == b"cat"))
            .unwrap_or_else(|| panic!("{name}: the cat's execve"));
        assert!(events
            .iter()
            .any(|e| e.kind == kind("openat") && e.pid == cat.pid));
        assert!(events
            .iter()
            .any(|e| e.kind == EventKind::PROC_EXIT && e.pid == cat.pid));
    }
}

#[test]
fn a_full_disk_stops_cleanly_with_a_readable_file() {
    require_recorder!();
    let dir = tempfile::tempdir().unwrap();
    let mount = dir.path().join("small");
    let _mounted = Mounted::tmpfs(&mount, "256k");
    let capture = mount.join("full.case");
    let out = record_command(
        &["--syscalls", "all"],
        &capture,
        &[
            "sh",
            "-c",
            "i=0; while [ $i -lt 3000 ]; do cat /etc/passwd > /dev/null; i=$((i+1)); done",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "a full disk is an error");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("disk full"), "{stderr}");
    let events = read_events(&capture);
    assert!(
        !events.is_empty(),
        "what was flushed before the disk filled is readable"
    );
}

#[test]
fn without_root_the_error_says_what_is_missing() {
    require_recorder!();
    let dir = tempfile::tempdir().unwrap();
    // Drop to nobody for this one run (setpriv is util-linux, on every Debian).
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_casefile"))
        .args(["record", "-o"])
        .arg(dir.path().join("never.case"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("recording needs root"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one clear sentence: {stderr}");
    assert!(!dir.path().join("never.case").exists());
}
