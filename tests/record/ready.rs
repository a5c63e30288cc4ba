//! The ready signal: `record` says when it is recording (stderr, `--ready-file`,
//! `--ready-fd`), and from that moment every new process is in the capture with its
//! fork.

use crate::common::*;
use casefile_formats::reader::CaptureReader;
use std::ffi::OsString;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// `casefile: recording: pid=PID snapshot=N start_ts=NS file=PATH`, as documented in
/// `casefile record --help`: the pid and the file, or a panic naming what is off.
fn parse_ready_line(line: &str) -> (u32, String) {
    let rest = line
        .trim_end_matches('\n')
        .strip_prefix("casefile: recording: ")
        .unwrap_or_else(|| panic!("not a ready line: {line:?}"));
    let (fields, file) = rest
        .split_once(" file=")
        .unwrap_or_else(|| panic!("no file= in {line:?}"));
    let mut pid = None;
    for (i, field) in fields.split(' ').enumerate() {
        let (key, value) = field
            .split_once('=')
            .unwrap_or_else(|| panic!("{field:?} in {line:?}"));
        assert_eq!(key, ["pid", "snapshot", "start_ts"][i], "{line:?}");
        let number: u64 = value
            .parse()
            .unwrap_or_else(|_| panic!("{key}={value:?} in {line:?}"));
        if key == "pid" {
            pid = Some(number as u32);
        }
    }
    (pid.expect("pid="), file.to_string())
}

#[test]
fn the_ready_file_appears_once_recording_has_begun() {
    require_recorder!();
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("ready.case");
    let ready = dir.path().join("recording.ready");
    let mut workload = Workload::start("read go; cat /etc/hostname > /dev/null; echo done");
    let mut recorder = casefile()
        .args(["record", "--quiet", "--pid", &workload.pid().to_string()])
        .arg("--ready-file")
        .arg(&ready)
        .arg("-o")
        .arg(&capture)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Waiting on the file itself: what a script given --ready-file does.
    let deadline = Instant::now() + Duration::from_secs(120);
    while !ready.exists() {
        if let Ok(Some(status)) = recorder.try_wait() {
            panic!("the recorder ended ({status}) before the ready file appeared");
        }
        assert!(Instant::now() < deadline, "no ready file after 120 s");
        std::thread::sleep(Duration::from_millis(10));
    }
    let line = std::fs::read_to_string(&ready).unwrap();
    let (pid, file) = parse_ready_line(&line);
    assert_eq!(pid, recorder.id());
    assert_eq!(file, capture.display().to_string());
    // When it appears, the capture holds its snapshot, with the workload in it.
    let snapshot = CaptureReader::open(&capture)
        .unwrap()
        .initial_state()
        .expect("the snapshot is written")
        .unwrap();
    assert!(snapshot.process(workload.pid()).is_some(), "{line}");

    // A process forked right after it: in the capture, with its fork.
    workload.say("go");
    workload.expect("done");
    let shell = workload.pid();
    workload.finish();
    // SAFETY: signalling the recorder this test started, by its pid.
    unsafe { libc::kill(recorder.id() as i32, libc::SIGINT) };
    let out = recorder.wait_with_output().unwrap();
    assert_success(&out, "record --ready-file");
    let events = read_events(&capture);
    let cat = exec_of(&events, b"cat").expect("the cat's execve");
    let fork = fork_of(&events, cat.pid).expect("the cat's fork");
    assert_eq!(fork.pid, shell, "forked by the workload's shell");
    assert!(fork.ts <= cat.ts);
}

#[test]
fn the_ready_line_is_the_same_on_stderr_and_on_the_ready_fd() {
    require_recorder!();
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("line.case");
    let args: Vec<OsString> = vec![
        "-o".into(),
        capture.clone().into(),
        "--".into(),
        "true".into(),
    ];
    let recorder = Background::start_args(&args);
    let on_fd = recorder.ready.clone();
    let (pid, file) = parse_ready_line(&on_fd);
    assert_eq!(pid, recorder.pid());
    assert_eq!(file, capture.display().to_string());
    let out = recorder.wait();
    assert_success(&out, "record -- true");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.lines().any(|l| l == on_fd.trim_end()),
        "stderr has the ready line {on_fd:?}: {stderr}"
    );
}

#[test]
fn a_ready_file_that_exists_is_refused_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    let ready = dir.path().join("stale.ready");
    std::fs::write(&ready, "from an earlier run").unwrap();
    let capture = dir.path().join("never.case");
    let out = casefile()
        .args(["record", "--quiet", "--ready-file"])
        .arg(&ready)
        .arg("-o")
        .arg(&capture)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("--ready-file {}: already exists", ready.display())),
        "{stderr}"
    );
    assert!(!capture.exists());
    assert_eq!(
        std::fs::read_to_string(&ready).unwrap(),
        "from an earlier run"
    );
}

#[test]
fn a_ready_fd_must_be_an_open_descriptor_above_2() {
    let dir = tempfile::tempdir().unwrap();
    for (fd, expected) in [
        ("1", "--ready-fd 1: use a descriptor above 2"),
        ("250", "--ready-fd 250: no such open file descriptor"),
    ] {
        let out = casefile()
            .args(["record", "--quiet", "--ready-fd", fd, "-o"])
            .arg(dir.path().join("never.case"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "--ready-fd {fd}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{stderr}");
    }
}
