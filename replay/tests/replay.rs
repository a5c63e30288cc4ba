//! Replay: parallel equals sequential, time windows, several files as one timeline, and
//! damaged files — on synthetic captures written with checkpoints as the recorder does.

use casefile_formats::reader::CaptureReader;
use casefile_formats::writer::WriterOptions;
use casefile_replay::fixture::write_synthetic_capture;
use casefile_replay::run::ReplayReport;
use casefile_replay::{replay, CaptureSet, ReplayOptions};
use casefile_rules::engine::{Alert, CompiledRules};
use casefile_rules::loader::{load_files, load_str};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Rules that fire often on the synthetic workload and read state: ancestry, fds,
/// command lines, and the event number.
const RULES: &str = r#"
- rule: etc read by a child
  desc: reads of /etc files, with the process's parent
  condition: evt.type in (open, openat) and fd.name startswith /etc and proc.pname exists
  output: "%proc.name read %fd.name (parent %proc.pname, cmdline %proc.cmdline, num %evt.num)"
  priority: NOTICE
- rule: outbound connection
  desc: connects, with the fd's name
  condition: evt.type = connect
  output: "%proc.name connected %fd.name res %evt.rawres (num %evt.num)"
  priority: WARNING
- rule: program started
  desc: every exec, with its grandparent
  condition: evt.type = execve
  output: "%proc.cmdline started under %proc.aname[2] (num %evt.num)"
  priority: INFO
- rule: history written
  desc: I/O on a shell history file
  condition: evt.type in (read, write) and fd.name contains history
  output: "%proc.name %evt.type %fd.name (num %evt.num)"
  priority: ERROR
"#;

fn rules() -> Arc<CompiledRules> {
    let set = load_str("test_rules.yaml", RULES);
    assert_eq!(set.errors().count(), 0, "{:?}", set.diagnostics);
    Arc::new(CompiledRules::new(set))
}

fn small_blocks() -> WriterOptions {
    WriterOptions {
        block_events: 2_000,
        checkpoint_blocks: 4,
        ..WriterOptions::default()
    }
}

fn run(
    paths: &[PathBuf],
    rules: Arc<CompiledRules>,
    options: ReplayOptions,
) -> (Vec<Alert>, ReplayReport) {
    let set = CaptureSet::open(paths).expect("opens");
    let mut alerts = Vec::new();
    let report = replay(&set, rules, &options, |a| alerts.push(a.clone()), |_, _| {});
    (alerts, report)
}

fn threads(n: usize) -> ReplayOptions {
    ReplayOptions {
        threads: n,
        ..ReplayOptions::default()
    }
}

fn capture(dir: &Path, name: &str, events: u64) -> PathBuf {
    let path = dir.join(name);
    write_synthetic_capture(&path, events, 11, small_blocks()).expect("writes");
    path
}

/// A copy of the capture at `path` (`damaged.case` beside it) with 16 bytes from `at`
/// flipped.
fn damaged_copy(path: &Path, at: u64) -> PathBuf {
    let mut bytes = std::fs::read(path).unwrap();
    let at = at as usize;
    for b in &mut bytes[at..at + 16] {
        *b ^= 0x5a;
    }
    let damaged = path.with_file_name("damaged.case");
    std::fs::write(&damaged, &bytes).unwrap();
    damaged
}

#[test]
fn parallel_replay_gives_the_sequential_alerts_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = capture(dir.path(), "a.case", 200_000);
    let segments = CaptureReader::open(&path).unwrap().segments().len();
    assert!(segments >= 20, "the capture has {segments} segments");

    let (sequential, report) = run(std::slice::from_ref(&path), rules(), threads(1));
    assert_eq!(report.events_read, 200_000);
    assert_eq!(report.threads, 1);
    let by_rule = |alerts: &[Alert], rule: &str| alerts.iter().filter(|a| a.rule == rule).count();
    for rule in [
        "etc read by a child",
        "outbound connection",
        "program started",
        "history written",
    ] {
        assert!(
            by_rule(&sequential, rule) > 0,
            "{rule} never fired; the test would prove nothing"
        );
    }
    for n in [2, 4] {
        let (parallel, report) = run(std::slice::from_ref(&path), rules(), threads(n));
        assert_eq!(report.threads, n);
        assert_eq!(report.events_read, 200_000);
        assert_eq!(parallel.len(), sequential.len(), "{n} threads");
        for (i, (p, s)) in parallel.iter().zip(&sequential).enumerate() {
            assert_eq!(p, s, "alert {i} differs with {n} threads");
        }
    }
}

#[test]
fn parallel_replay_equals_sequential_with_falco_rules() {
    let path = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("run by cargo"))
        .join("../../shared/corpus/falco/falco_rules.yaml");
    if !path.exists() {
        eprintln!(
            "SKIPPED parallel_replay_equals_sequential_with_falco_rules: {} is absent",
            path.display()
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let capture = capture(dir.path(), "a.case", 100_000);
    let compiled = || Arc::new(CompiledRules::new(load_files(std::slice::from_ref(&path))));
    let (sequential, _) = run(std::slice::from_ref(&capture), compiled(), threads(1));
    let (parallel, _) = run(std::slice::from_ref(&capture), compiled(), threads(3));
    assert_eq!(parallel, sequential);
}

#[test]
fn a_time_window_alerts_exactly_on_the_events_inside_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = capture(dir.path(), "a.case", 100_000);
    let (all, _) = run(std::slice::from_ref(&path), rules(), threads(1));
    let first = all.first().unwrap().time_ns;
    let last = all.last().unwrap().time_ns;
    let boot = CaptureReader::open(&path)
        .unwrap()
        .header()
        .host
        .boot_time_ns;
    let (from, to) = (first + (last - first) / 3, first + 2 * (last - first) / 3);
    let expected: Vec<&Alert> = all
        .iter()
        .filter(|a| a.time_ns >= from && a.time_ns < to)
        .collect();
    assert!(!expected.is_empty() && expected.len() < all.len());
    for n in [1, 2] {
        let options = ReplayOptions {
            from: from - boot,
            to: to - boot,
            threads: n,
            ..ReplayOptions::default()
        };
        let (window, report) = run(std::slice::from_ref(&path), rules(), options);
        assert!(
            report.events_checked < report.events_read,
            "earlier events only update the state"
        );
        assert_eq!(window.iter().collect::<Vec<_>>(), expected, "{n} threads");
    }
}

#[test]
fn a_rotated_set_replays_as_one_timeline() {
    // Two files cut from one stream, as rotation writes them: the second starts with a
    // snapshot of the state where the first ended.
    use casefile_formats::synthetic::SyntheticWorkload;
    use casefile_formats::writer::CaptureWriter;
    use casefile_rules::state::StateEngine;
    let dir = tempfile::tempdir().unwrap();
    let mut workload = SyntheticWorkload::new(5);
    let snapshot = workload.snapshot();
    let mut state = StateEngine::from_snapshot(&snapshot);
    let whole = dir.path().join("whole.case");
    let parts = [
        dir.path().join("ring-0000.case"),
        dir.path().join("ring-0001.case"),
    ];
    let mut whole_writer =
        CaptureWriter::create(&whole, &workload.header(), &snapshot, small_blocks()).unwrap();
    let mut part =
        CaptureWriter::create(&parts[0], &workload.header(), &snapshot, small_blocks()).unwrap();
    for i in 0..60_000 {
        if i == 25_000 {
            part.finish_and_sync().unwrap();
            let now = state.snapshot(workload.snapshot().ts);
            let mut header = workload.header();
            header.start_ts = now.ts;
            part = CaptureWriter::create(&parts[1], &header, &now, small_blocks()).unwrap();
        }
        let event = workload.next_event();
        let event = event.as_event();
        state.update(&event);
        whole_writer.push(&event).unwrap();
        part.push(&event).unwrap();
        if whole_writer.checkpoint_due() {
            whole_writer
                .write_checkpoint(&state.snapshot(event.ts))
                .unwrap();
        }
        if part.checkpoint_due() {
            part.write_checkpoint(&state.snapshot(event.ts)).unwrap();
        }
    }
    whole_writer.finish_and_sync().unwrap();
    part.finish_and_sync().unwrap();
    let (expected, _) = run(std::slice::from_ref(&whole), rules(), threads(1));
    // Given out of order, as a shell glob of renamed files might.
    let reversed = [parts[1].clone(), parts[0].clone()];
    for n in [1, 2] {
        let (alerts, report) = run(&reversed, rules(), threads(n));
        assert_eq!(report.events_read, 60_000);
        assert_eq!(alerts, expected, "{n} threads");
    }
}

#[test]
fn a_truncated_capture_replays_every_intact_block() {
    let dir = tempfile::tempdir().unwrap();
    let path = capture(dir.path(), "a.case", 100_000);
    let (all, _) = run(std::slice::from_ref(&path), rules(), threads(1));
    let bytes = std::fs::read(&path).unwrap();
    let cut = dir.path().join("cut.case");
    std::fs::write(&cut, &bytes[..bytes.len() * 6 / 10]).unwrap();
    for n in [1, 2] {
        let (alerts, report) = run(std::slice::from_ref(&cut), rules(), threads(n));
        assert_eq!(report.truncated.len(), 1, "the truncation is reported");
        assert!(
            report.events_read > 40_000 && report.events_read < 70_000,
            "{}",
            report.events_read
        );
        assert!(!alerts.is_empty() && alerts.len() < all.len());
        assert_eq!(
            alerts[..],
            all[..alerts.len()],
            "{n} threads: the intact part gives the same alerts"
        );
    }
}

#[test]
fn a_corrupt_block_is_skipped_and_reported_the_same_way_at_any_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let path = capture(dir.path(), "a.case", 100_000);
    let (all, _) = run(std::slice::from_ref(&path), rules(), threads(1));
    let reader = CaptureReader::open(&path).unwrap();
    // Damage the payload of an events block in the middle (its header stays valid, so
    // the block is found, and its checksum fails when it is decoded).
    let victim = *reader.event_blocks().nth(20).unwrap();
    drop(reader);
    let damaged = damaged_copy(&path, victim.offset + 200);
    let (sequential, report) = run(std::slice::from_ref(&damaged), rules(), threads(1));
    assert_eq!(report.skipped.len(), 1, "{:?}", report.skipped);
    assert_eq!(report.skipped[0].offset, victim.offset);
    assert_eq!(report.skipped[0].events, u64::from(victim.header.count));
    assert_eq!(report.events_read, 100_000 - u64::from(victim.header.count));
    assert!(sequential.len() < all.len());
    // Alerts after the damaged segment are the undamaged file's: the next checkpoint
    // restores the state.
    let tail = |alerts: &[Alert]| -> Vec<Alert> {
        alerts
            .iter()
            .filter(|a| a.event_num > 30 * 2_000)
            .cloned()
            .collect()
    };
    assert_eq!(tail(&sequential), tail(&all));
    let (parallel, _) = run(std::slice::from_ref(&damaged), rules(), threads(2));
    assert_eq!(parallel, sequential);
}

#[test]
fn a_checkpoint_that_does_not_read_continues_the_segment_before_at_any_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let path = capture(dir.path(), "a.case", 100_000);
    let (all, _) = run(std::slice::from_ref(&path), rules(), threads(1));
    let reader = CaptureReader::open(&path).unwrap();
    let victim = reader.segments()[5]
        .state
        .expect("segment 5 starts at a checkpoint");
    drop(reader);
    let damaged = damaged_copy(&path, victim.offset + 100);
    let (sequential, report) = run(std::slice::from_ref(&damaged), rules(), threads(1));
    assert_eq!(
        report.events_read, 100_000,
        "no event is lost with a checkpoint"
    );
    // The sequential engine never needed that checkpoint: every alert is the
    // undamaged file's.
    assert_eq!(sequential, all);
    for n in [2, 4] {
        let (parallel, report) = run(std::slice::from_ref(&damaged), rules(), threads(n));
        assert_eq!(report.events_read, 100_000, "{n} threads");
        assert!(
            report.skipped.iter().any(|s| s.offset == victim.offset),
            "{n} threads: the damaged checkpoint is reported: {:?}",
            report.skipped
        );
        assert_eq!(parallel, sequential, "{n} threads");
    }
}

#[test]
fn a_file_given_twice_is_refused_as_an_overlap() {
    let dir = tempfile::tempdir().unwrap();
    let path = capture(dir.path(), "a.case", 10_000);
    let err = CaptureSet::open(&[&path, &path]).err().expect("refused");
    assert!(err.to_string().contains("overlap in time"), "{err}");
}
