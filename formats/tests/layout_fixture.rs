//! A capture of event layout version 1, kept as a fixture, must decode to the same
//! events for as long as casefile reads that version — whatever later layouts add.
//!
//! `fixtures/layout-v1.case` holds a synthetic workload plus one event of every kind
//! layout 1 decodes; `fixtures/layout-v1.events` lists what it must decode to, one event
//! a line (`ts cpu pid tid kind ret` and the arguments' canonical encoding in hex), so
//! the expectation depends on no display code. Both were written by this test with
//! `CASEFILE_WRITE_FIXTURES=1` (and `--test-threads=1`); do that again only for a new layout version's fixture,
//! never to make this one pass.

use casefile_formats::block::{BlockKind, DecodedBlock, EventBlockBuilder};
use casefile_formats::codec_table::{CodecTable, KindCodec};
use casefile_formats::event::{ArgsBuilder, EventKind, OwnedEvent};
use casefile_formats::reader::CaptureReader;
use casefile_formats::schema::{decoded_kinds, syscall_nr};
use casefile_formats::synthetic::SyntheticWorkload;
use casefile_formats::writer::{CaptureWriter, WriterOptions};
use std::fmt::Write as _;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// One event of every decoded kind, its arguments alternating numbers, strings and
/// signed values, and the I/O calls returning their size (what the codec predicts).
fn every_kind(first_ts: u64) -> Vec<OwnedEvent> {
    decoded_kinds()
        .enumerate()
        .map(|(i, info)| {
            let mut args = ArgsBuilder::new();
            for (n, param) in info.params.iter().enumerate() {
                match (Some(n) == info.size_param, n % 3) {
                    (true, _) => args.uint(4096),
                    (false, 0) => args.uint(n as u64 * 1000 + i as u64),
                    (false, 1) => {
                        args.str(format!("/fixture/{}/{}", info.name, param.name).as_bytes())
                    }
                    _ => args.int(-(n as i64)),
                };
            }
            OwnedEvent {
                ts: first_ts + i as u64 * 1_000,
                cpu: (i % 2) as u16,
                pid: 4000 + i as u32,
                tid: 4000 + i as u32,
                kind: info.kind,
                ret: if info.size_param.is_some() { 4096 } else { 0 },
                args: args.finish(),
            }
        })
        .collect()
}

fn fixture_events() -> Vec<OwnedEvent> {
    let mut workload = SyntheticWorkload::new(19);
    let mut events: Vec<OwnedEvent> = (0..300).map(|_| workload.next_event()).collect();
    let last = events.last().map_or(0, |e| e.ts);
    events.extend(every_kind(last + 1_000));
    events
}

fn dump<'a>(events: impl Iterator<Item = &'a OwnedEvent>) -> String {
    let mut out = String::new();
    for e in events {
        let _ = write!(
            out,
            "{} {} {} {} {} {} ",
            e.ts, e.cpu, e.pid, e.tid, e.kind.0, e.ret
        );
        for byte in &e.args {
            let _ = write!(out, "{byte:02x}");
        }
        out.push('\n');
    }
    out
}

fn read_all(path: &Path) -> Vec<OwnedEvent> {
    let reader = CaptureReader::open(path).unwrap();
    let mut events = Vec::new();
    let report = reader.for_each_event(0, u64::MAX, |e| {
        events.push(e.to_owned_event());
        ControlFlow::Continue(())
    });
    assert!(report.corrupt_blocks.is_empty(), "{report:?}");
    events
}

#[test]
fn a_layout_1_capture_decodes_to_its_recorded_events() {
    let case = fixture("layout-v1.case");
    let expected = fixture("layout-v1.events");
    if std::env::var_os("CASEFILE_WRITE_FIXTURES").is_some() {
        let workload = SyntheticWorkload::new(19);
        let options = WriterOptions {
            block_events: 256,
            ..WriterOptions::default()
        };
        let _ = std::fs::remove_file(&case);
        let mut writer =
            CaptureWriter::create(&case, &workload.header(), &workload.snapshot(), options)
                .unwrap();
        let events = fixture_events();
        for event in &events {
            writer.push(&event.as_event()).unwrap();
        }
        writer.finish_and_sync().unwrap();
        std::fs::write(&expected, dump(events.iter())).unwrap();
    }
    let reader = CaptureReader::open(&case).unwrap();
    assert_eq!(reader.header().event_layout_version, 1);
    let decoded = read_all(&case);
    let expected = std::fs::read_to_string(&expected).unwrap();
    assert_eq!(
        dump(decoded.iter()),
        expected,
        "the layout 1 fixture no longer decodes to its events"
    );
    assert!(decoded.len() > 300, "the fixture holds every decoded kind");
}

/// A later layout that gives `connect` a fourth argument: its own codec table, written
/// beside the frozen one.
fn layout_with_longer_connect() -> &'static CodecTable {
    let connect = EventKind::syscall(syscall_nr("connect").unwrap());
    let v1 = CodecTable::current();
    let exceptions: Vec<(EventKind, KindCodec)> = (0..=u16::MAX)
        .map(EventKind)
        .map(|kind| (kind, v1.kind(kind)))
        .map(|(kind, codec)| {
            if kind == connect {
                (
                    kind,
                    KindCodec {
                        args: codec.args + 1,
                        ..codec
                    },
                )
            } else {
                (kind, codec)
            }
        })
        .collect();
    Box::leak(Box::new(CodecTable::new(2, exceptions)))
}

/// The events of the fixture's blocks, decoded with `codec`.
fn decode_fixture_blocks(codec: &CodecTable) -> Result<Vec<OwnedEvent>, String> {
    let reader = CaptureReader::open(&fixture("layout-v1.case")).unwrap();
    let mut events = Vec::new();
    for block in reader
        .blocks()
        .iter()
        .filter(|b| b.header.kind == BlockKind::EVENTS)
    {
        // The reader inflates the payload (and decodes it by the file's own table).
        let mut raw = Vec::new();
        reader
            .decode_events_into(block, &mut raw, &mut DecodedBlock::default())
            .unwrap();
        let decoded =
            DecodedBlock::decode(raw, block.header.count, codec).map_err(|e| e.to_string())?;
        events.extend(decoded.events().map(|e| e.to_owned_event()));
    }
    Ok(events)
}

#[test]
fn appending_an_argument_to_a_kind_leaves_older_files_readable() {
    let longer = layout_with_longer_connect();
    let v1_events = read_all(&fixture("layout-v1.case"));
    // Under its own version's table the old file decodes as it always did...
    assert_eq!(
        decode_fixture_blocks(CodecTable::for_layout(1).unwrap()).unwrap(),
        v1_events
    );
    // ...while the newer table would read it wrongly: the version is what keeps them apart.
    assert_ne!(decode_fixture_blocks(longer).ok(), Some(v1_events.clone()));

    // And the newer layout's own events, four-argument connects, round-trip under it.
    let connect = EventKind::syscall(syscall_nr("connect").unwrap());
    let mut builder = EventBlockBuilder::with_codec_table(longer);
    let mut written = Vec::new();
    for i in 0..50u64 {
        let mut args = ArgsBuilder::new();
        args.fd(3).absent().absent().uint(i);
        let event = OwnedEvent {
            ts: 1_000 + i,
            cpu: 0,
            pid: 10,
            tid: 10,
            kind: connect,
            ret: 0,
            args: args.finish(),
        };
        builder.push(&event.as_event());
        written.push(event);
    }
    let raw = builder.take();
    let decoded = DecodedBlock::decode(raw.raw, raw.count, longer).unwrap();
    let read: Vec<OwnedEvent> = decoded.events().map(|e| e.to_owned_event()).collect();
    assert_eq!(read, written);
}
