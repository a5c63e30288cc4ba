//! What a scoped recording takes in: a cgroup's processes and nothing else, and a
//! snapshot without the rest of the host.

use crate::common::*;
use casefile_formats::event::{EventKind, OwnedEvent};
use casefile_formats::reader::CaptureReader;

#[test]
fn a_cgroup_scope_records_only_what_runs_in_it() {
    require_recorder!();
    let cgroup = TestCgroup::create(&format!("casefile-test-{}", std::process::id()));
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("cgroup.case");
    // The shell moves itself in and says so; it starts its children only once the
    // recorder is recording, so every one of them is in the capture with its fork.
    let mut inside = Workload::start(&format!(
        "echo $$ > {}; echo in; read go; for i in 1 2 3 4 5 6; do cat /etc/hostname > /dev/null; done; echo done",
        cgroup.procs()
    ));
    inside.expect("in");
    let recorder = Background::start(&["--cgroup", &cgroup.path.display().to_string()], &capture);
    inside.say("go");
    inside.expect("done");
    let shell = inside.pid();
    inside.finish();
    let out = recorder.stop(libc::SIGINT);
    assert_success(&out, "record --cgroup");

    let events = read_events(&capture);
    let cats: Vec<&OwnedEvent> = events
        .iter()
        .filter(|e| e.kind == kind("execve") && argv(e).first().is_some_and(|a| a == b"cat"))
        .collect();
    assert_eq!(cats.len(), 6, "the processes in the cgroup are recorded");
    let root = casefile_capture::cgroups::cgroup2_mount().unwrap();
    let relative = format!("/{}", cgroup.path.strip_prefix(&root).unwrap().display());
    for cat in &cats {
        assert_eq!(str_arg(cat, "cgroup"), Some(relative.as_bytes()));
    }
    // Everything recorded comes from the shell that moved itself in, or its children.
    let snapshot = CaptureReader::open(&capture)
        .unwrap()
        .initial_state()
        .unwrap()
        .unwrap();
    assert!(
        snapshot.process(shell).is_some(),
        "the shell is in the snapshot"
    );
    let mut tree = vec![shell];
    for e in &events {
        if e.kind == EventKind::FORK && tree.contains(&e.pid) {
            let child = arg(e, "child_pid").as_u64().expect("child_pid");
            tree.push(child as u32);
        }
    }
    let outside: Vec<&OwnedEvent> = events
        .iter()
        .filter(|e| !RECORDER_META.contains(&e.kind) && !tree.contains(&e.pid))
        .collect();
    assert!(
        outside.is_empty(),
        "recorded outside the cgroup: {:?}",
        &outside[..outside.len().min(3)]
    );
}

#[test]
fn a_scoped_recording_keeps_the_rest_of_the_host_out_of_its_snapshot() {
    require_recorder!();
    let dir = tempfile::tempdir().unwrap();
    // A process outside the scope, with a command line that must not be recorded.
    let mut bystander = std::process::Command::new("sleep")
        .arg("30.0424242")
        .spawn()
        .unwrap();
    let capture = dir.path().join("scoped.case");
    let out = record_command(
        &[],
        &capture,
        &["sh", "-c", "cat /etc/hostname > /dev/null"],
    );
    let _ = bystander.kill();
    let _ = bystander.wait();
    assert_success(&out, "record");
    let reader = CaptureReader::open(&capture).unwrap();
    let snapshot = reader.initial_state().unwrap().unwrap();
    assert!(
        snapshot.process(bystander.id()).is_none(),
        "a process outside the scope is not in the snapshot"
    );
    let recorder = snapshot
        .processes
        .iter()
        .find(|p| p.comm.as_bytes() == b"casefile")
        .expect("the recorder is there, for the command's lineage");
    assert!(
        recorder.args.is_empty() && recorder.fds.is_empty(),
        "lineage outside the scope is reduced to names"
    );
    assert!(
        snapshot.processes.len() < 64,
        "only the recorder's ancestors: {} processes",
        snapshot.processes.len()
    );
}

#[test]
fn a_recorded_command_descends_from_the_recorder_and_no_process_is_unknown() {
    require_recorder!();
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("lineage.case");
    let events = record_events(
        &[],
        &capture,
        &["sh", "-c", "cat /etc/hostname > /dev/null"],
    );
    let start = events
        .iter()
        .find(|e| e.kind == EventKind::CAPTURE_START)
        .unwrap();
    let shell = exec_of(&events, b"sh").expect("the command's execve");
    let fork = fork_of(&events, shell.pid).expect("the command's fork, written by the recorder");
    assert_eq!(fork.pid, start.pid, "forked by the recorder");
    assert!(fork.ts <= shell.ts, "the fork comes first");
    let info = casefile()
        .args(["info", "--json"])
        .arg(&capture)
        .output()
        .unwrap();
    assert_success(&info, "info");
    let value: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!(value["unknown_processes"], 0, "{value}");
}
