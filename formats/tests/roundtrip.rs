//! Writing and reading whole files: what is written is what is read, in order, whether
//! read sequentially, by time range, or as parallel segments.

use casefile_formats::event::OwnedEvent;
use casefile_formats::reader::CaptureReader;
use casefile_formats::synthetic::SyntheticWorkload;
use casefile_formats::writer::{CaptureWriter, WriterOptions};
use rayon::prelude::*;
use std::ops::ControlFlow;
use std::path::Path;

fn write_synthetic(path: &Path, events: usize, options: WriterOptions) -> Vec<OwnedEvent> {
    let mut workload = SyntheticWorkload::new(7);
    let header = workload.header();
    let snapshot = workload.snapshot();
    let mut writer = CaptureWriter::create(path, &header, &snapshot, options).unwrap();
    let mut written = Vec::with_capacity(events);
    for _ in 0..events {
        let event = workload.next_event();
        writer.push(&event.as_event()).unwrap();
        if writer.checkpoint_due() {
            let mut state = workload.snapshot();
            state.ts = event.ts;
            writer.write_checkpoint(&state).unwrap();
        }
        written.push(event);
    }
    writer.finish_and_sync().unwrap();
    written
}

fn read_all(reader: &CaptureReader) -> Vec<OwnedEvent> {
    let mut out = Vec::new();
    let report = reader.for_each_event(0, u64::MAX, |e| {
        out.push(e.to_owned_event());
        ControlFlow::Continue(())
    });
    assert!(report.corrupt_blocks.is_empty(), "{report:?}");
    out
}

fn small_blocks() -> WriterOptions {
    WriterOptions {
        block_events: 500,
        checkpoint_blocks: 4,
        ..WriterOptions::default()
    }
}

#[test]
fn synthetic_file_reads_back_identically() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.cfcap");
    let written = write_synthetic(&path, 20_000, WriterOptions::default());
    let reader = CaptureReader::open(&path).unwrap();
    assert_eq!(read_all(&reader), written);
    let trailer = reader.trailer().expect("a finished file has a trailer");
    assert_eq!(trailer.events, 20_000);
    assert_eq!(reader.truncated_bytes(), 0);
    let len = std::fs::metadata(&path).unwrap().len();
    eprintln!("{} bytes/event", len as f64 / written.len() as f64);
}

#[test]
fn files_are_private_to_their_owner() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.cfcap");
    write_synthetic(&path, 10, WriterOptions::default());
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn parallel_segments_give_the_sequential_stream() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.cfcap");
    let written = write_synthetic(&path, 30_000, small_blocks());
    let reader = CaptureReader::open(&path).unwrap();
    let segments = reader.segments();
    assert!(
        segments.len() > 5,
        "expected checkpoints, got {}",
        segments.len()
    );
    for segment in &segments {
        let state = segment
            .state
            .expect("every segment starts from a state block");
        let snapshot = reader.read_state(&state).unwrap();
        assert!(!snapshot.processes.is_empty());
    }
    let parallel: Vec<OwnedEvent> = segments
        .par_iter()
        .map(|segment| {
            let mut events = Vec::new();
            for block in &segment.blocks {
                let decoded = reader.decode_events(block).unwrap();
                events.extend(decoded.events().map(|e| e.to_owned_event()));
            }
            events
        })
        .collect::<Vec<_>>()
        .concat();
    assert_eq!(parallel, written);
    assert_eq!(read_all(&reader), written);
}

#[test]
fn time_range_reads_only_events_inside_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.cfcap");
    let written = write_synthetic(&path, 10_000, small_blocks());
    let reader = CaptureReader::open(&path).unwrap();
    let from = written[3_000].ts;
    let to = written[6_000].ts;
    let mut got = Vec::new();
    let report = reader.for_each_event(from, to, |e| {
        got.push(e.to_owned_event());
        ControlFlow::Continue(())
    });
    let expected: Vec<_> = written
        .iter()
        .filter(|e| e.ts >= from && e.ts < to)
        .cloned()
        .collect();
    assert_eq!(got, expected);
    assert!(report.blocks < reader.event_blocks().count() as u64 / 2);
}

#[test]
fn unfinished_writer_leaves_a_readable_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("u.cfcap");
    let mut workload = SyntheticWorkload::new(3);
    let mut writer = CaptureWriter::create(
        &path,
        &workload.header(),
        &workload.snapshot(),
        small_blocks(),
    )
    .unwrap();
    let mut written = Vec::new();
    for _ in 0..1_234 {
        let event = workload.next_event();
        writer.push(&event.as_event()).unwrap();
        written.push(event);
    }
    drop(writer);
    let reader = CaptureReader::open(&path).unwrap();
    assert!(reader.trailer().is_none());
    assert_eq!(reader.truncated_bytes(), 0);
    assert_eq!(read_all(&reader), written);
}

#[test]
fn existing_files_are_not_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.cfcap");
    std::fs::write(&path, b"evidence").unwrap();
    let workload = SyntheticWorkload::new(1);
    let err = CaptureWriter::create(
        &path,
        &workload.header(),
        &workload.snapshot(),
        WriterOptions::default(),
    )
    .err()
    .expect("create must refuse an existing file");
    assert!(err.to_string().contains("x.cfcap"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), b"evidence");
}

/// A reader decodes events by the layout it knows: a file of another layout version is
/// refused with a clear error instead of being mis-decoded.
#[test]
fn a_file_of_another_event_layout_is_refused_with_what_to_do() {
    use casefile_formats::schema::EVENT_LAYOUT_VERSION;
    use casefile_formats::state::StateSnapshot;
    let dir = tempfile::tempdir().unwrap();
    for (found, advice) in [
        (EVENT_LAYOUT_VERSION + 1, "written by a newer casefile"),
        (0, "the header is damaged"),
    ] {
        let path = dir.path().join(format!("layout-{found}.case"));
        let mut header = SyntheticWorkload::new(1).header();
        header.event_layout_version = found;
        let writer = CaptureWriter::create(
            &path,
            &header,
            &StateSnapshot::default(),
            WriterOptions::default(),
        )
        .unwrap();
        writer.finish_and_sync().unwrap();
        let error = CaptureReader::open(&path)
            .err()
            .expect("refused")
            .to_string();
        assert!(error.starts_with(&path.display().to_string()), "{error}");
        assert!(
            error.contains(&format!("layout version {found}")) && error.contains(advice),
            "{error}"
        );
    }
}
