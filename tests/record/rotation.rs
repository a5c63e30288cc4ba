//! Flight-recorder mode: a ring of rotated files, and the files around an alert kept
//! out of it.

use crate::common::*;
use casefile_formats::reader::CaptureReader;
use std::path::{Path, PathBuf};

/// ~30 KB of capture per round (random buffer snapshots do not compress); the pauses
/// let the writer's once-a-second flush cut the rounds into several files.
fn rounds(extra: &str) -> String {
    format!(
        "for i in $(seq 14); do dd if=/dev/urandom of=/dev/null bs=512 count=200 status=none; {extra} sleep 0.25; done"
    )
}

fn list(d: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

#[test]
fn rotation_keeps_the_newest_complete_files() {
    require_recorder!();
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("ring.case");
    let out = record_command(
        &["--rotate", "64k", "--keep", "2"],
        &base,
        &["sh", "-c", &rounds("")],
    );
    assert_success(&out, "record --rotate");
    let files = list(dir.path());
    assert_eq!(files.len(), 2, "keep 2: {files:?}");
    assert!(!base.exists(), "rotated files are numbered");
    let first_number = |p: &Path| {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        name.trim_start_matches("ring-")
            .trim_end_matches(".case")
            .parse::<u32>()
            .unwrap()
    };
    assert!(
        first_number(&files[0]) >= 1,
        "the oldest files were deleted: {files:?}"
    );
    for file in &files {
        let reader = CaptureReader::open(file).unwrap();
        assert!(reader.trailer().is_some(), "{} is complete", file.display());
        let state = reader
            .initial_state()
            .expect("each file has its own snapshot")
            .unwrap();
        assert!(
            !state.processes.is_empty(),
            "{}: snapshot carries the process table",
            file.display()
        );
        assert!(!read_events(file).is_empty());
    }
}

#[test]
fn keep_on_alert_saves_the_rotated_files_around_an_alert() {
    require_recorder!();
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.yaml");
    std::fs::write(&rules, crate::live::LIVE_RULES).unwrap();
    let ring = dir.path().join("ring");
    let kept = dir.path().join("kept");
    std::fs::create_dir(&ring).unwrap();
    // The marker is written in round 4; ten more rounds rotate its file out of a
    // two-file ring.
    let marker = format!(
        "[ $i = 4 ] && echo x > {}/casefile-live-marker;",
        dir.path().display()
    );
    let out = record_command(
        &[
            "--rotate",
            "64k",
            "--keep",
            "2",
            "--rules",
            rules.to_str().unwrap(),
            "--keep-on-alert",
            kept.to_str().unwrap(),
        ],
        &ring.join("ring.case"),
        &["sh", "-c", &rounds(&marker)],
    );
    assert_success(&out, "record --keep-on-alert");
    assert_eq!(list(&ring).len(), 2, "the ring still keeps its newest two");
    let saved = list(&kept);
    assert!(!saved.is_empty(), "the files around the alert were kept");
    let replayed = casefile()
        .args(["replay", "--json", "-q", "-r", rules.to_str().unwrap()])
        .args(&saved)
        .output()
        .unwrap();
    assert_success(&replayed, "replay of the kept files");
    let alerts = String::from_utf8_lossy(&replayed.stdout).into_owned();
    assert!(
        alerts.contains("\"marker written\""),
        "the kept files hold the alert: {alerts}"
    );
}
