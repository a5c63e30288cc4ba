//! Property tests: any stream of events of any kind, with any arguments, reads back
//! exactly as written.

use casefile_formats::event::{Arg, ArgsBuilder, EventKind, OwnedEvent, SockAddr};
use casefile_formats::reader::CaptureReader;
use casefile_formats::schema::kind_info;
use casefile_formats::state::StateSnapshot;
use casefile_formats::synthetic::SyntheticWorkload;
use casefile_formats::writer::{CaptureWriter, WriterOptions};
use proptest::prelude::*;
use std::ops::ControlFlow;

#[derive(Clone, Debug)]
enum ArgValue {
    Absent,
    Int(i64),
    Uint(u64),
    Fd(i64),
    Str(Vec<u8>),
    Bytes(Vec<u8>),
    StrList(Vec<Vec<u8>>),
    Inet([u8; 4], u16),
    Inet6([u8; 16], u16),
    Unix(Vec<u8>),
    Other(u16, Vec<u8>),
}

fn arg_value() -> impl Strategy<Value = ArgValue> {
    // Half the strings come from a small pool, so blocks hold repeats (stored as
    // references to the block's string table) as well as unique strings.
    let pool: Vec<Vec<u8>> = [
        "",
        "abc",
        "/etc/passwd",
        "/etc/shadow",
        "GET / HTTP/1.1\r\n",
        "\u{1b}[2J",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    let bytes = move || {
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..40),
            prop::sample::select(pool.clone()),
        ]
    };
    prop_oneof![
        Just(ArgValue::Absent),
        any::<i64>().prop_map(ArgValue::Int),
        any::<u64>().prop_map(ArgValue::Uint),
        any::<i64>().prop_map(ArgValue::Fd),
        bytes().prop_map(ArgValue::Str),
        bytes().prop_map(ArgValue::Bytes),
        proptest::collection::vec(bytes(), 0..5).prop_map(ArgValue::StrList),
        (any::<[u8; 4]>(), any::<u16>()).prop_map(|(a, p)| ArgValue::Inet(a, p)),
        (any::<[u8; 16]>(), any::<u16>()).prop_map(|(a, p)| ArgValue::Inet6(a, p)),
        bytes().prop_map(ArgValue::Unix),
        (11u16..200, bytes()).prop_map(|(f, d)| ArgValue::Other(f, d)),
    ]
}

/// Every kind: all syscall numbers, the lifecycle/source/meta kinds, and kinds no
/// reader knows yet.
fn kind() -> impl Strategy<Value = EventKind> {
    prop_oneof![
        (0u16..EventKind::SYSCALL_LIMIT).prop_map(EventKind::syscall),
        prop::sample::select(vec![
            EventKind::FORK,
            EventKind::PROC_EXIT,
            EventKind::SOURCE,
            EventKind::CAPTURE_START,
            EventKind::CAPTURE_STOP,
            EventKind::DROPS,
            EventKind::CONFIG_CHANGE,
        ]),
        any::<u16>().prop_map(EventKind),
    ]
}

fn encode(args: &[ArgValue]) -> Vec<u8> {
    let mut b = ArgsBuilder::new();
    for a in args {
        match a {
            ArgValue::Absent => b.absent(),
            ArgValue::Int(v) => b.int(*v),
            ArgValue::Uint(v) => b.uint(*v),
            ArgValue::Fd(v) => b.fd(*v),
            ArgValue::Str(s) => b.str(s),
            ArgValue::Bytes(s) => b.bytes(s),
            ArgValue::StrList(l) => b.str_list(l.iter().map(|s| s.as_slice())),
            ArgValue::Inet(addr, port) => b.sock(&SockAddr::Inet {
                addr: *addr,
                port: *port,
            }),
            ArgValue::Inet6(addr, port) => b.sock(&SockAddr::Inet6 {
                addr: *addr,
                port: *port,
            }),
            ArgValue::Unix(p) => b.sock(&SockAddr::Unix(p)),
            ArgValue::Other(family, data) => b.sock(&SockAddr::Other {
                family: *family,
                data,
            }),
        };
    }
    b.finish()
}

fn event() -> impl Strategy<Value = OwnedEvent> {
    (
        any::<u64>(),
        any::<u16>(),
        any::<u32>(),
        any::<u32>(),
        kind(),
        any::<i64>(),
        proptest::collection::vec(arg_value(), 0..8),
    )
        .prop_map(|(ts, cpu, pid, tid, kind, ret, args)| OwnedEvent {
            ts,
            cpu,
            pid,
            tid,
            kind,
            ret,
            args: encode(&args),
        })
}

/// An I/O event whose return value is coded against its `size` argument: equal to it,
/// near it, its negation (its neighbour in the coding's order), an error, or any value
/// at all, including the extremes.
fn io_event() -> impl Strategy<Value = OwnedEvent> {
    let io_kinds = [
        "read", "write", "pread64", "pwrite64", "sendto", "recvfrom", "readv",
    ];
    (
        prop::sample::select(io_kinds.to_vec()),
        any::<u64>(),
        prop_oneof![
            Just(0i64),
            Just(1),
            Just(-1),
            (-4096i64..0),
            Just(i64::MIN),
            Just(i64::MAX),
            any::<i64>()
        ],
        0..3,
        any::<bool>(),
        any::<u32>(),
    )
        .prop_map(|(name, size, offset, mode, small, tid)| {
            let kind = casefile_formats::schema::kind_by_name(name).unwrap();
            let size = if small { size % 70_000 } else { size };
            let ret = match mode {
                0 => size as i64,
                1 => (size as i64).wrapping_neg(),
                _ => (size as i64).wrapping_add(offset),
            };
            let mut args = ArgsBuilder::new();
            args.fd(3).uint(size).bytes(b"GET / HTTP/1.1");
            if kind_info(kind).params.len() > 3 {
                args.uint(0);
            }
            OwnedEvent {
                ts: u64::from(tid) * 7,
                cpu: 0,
                pid: tid,
                tid,
                kind,
                ret,
                args: args.finish(),
            }
        })
}

fn round_trip(
    events: &[OwnedEvent],
    block_events: u32,
    compress: bool,
) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.cfcap");
    let workload = SyntheticWorkload::new(0);
    let options = WriterOptions {
        block_events,
        zstd_level: compress.then_some(1),
        ..WriterOptions::default()
    };
    let mut writer = CaptureWriter::create(
        &path,
        &workload.header(),
        &StateSnapshot::default(),
        options,
    )
    .unwrap();
    for e in events {
        writer.push(&e.as_event()).unwrap();
    }
    writer.finish_and_sync().unwrap();
    let reader = CaptureReader::open(&path).unwrap();
    let mut read = Vec::new();
    let report = reader.for_each_event(0, u64::MAX, |e| {
        read.push(e.to_owned_event());
        ControlFlow::Continue(())
    });
    prop_assert!(report.corrupt_blocks.is_empty());
    prop_assert_eq!(&read, events);
    prop_assert_eq!(reader.trailer().unwrap().events, events.len() as u64);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_event_stream_round_trips(events in proptest::collection::vec(event(), 0..300),
                                    block_events in 1u32..64,
                                    compress in any::<bool>()) {
        round_trip(&events, block_events, compress)?;
    }

    #[test]
    fn io_return_values_round_trip(io in proptest::collection::vec(io_event(), 1..200),
                                   other in proptest::collection::vec(event(), 0..50),
                                   block_events in 1u32..64) {
        // Interleaved with events of every other kind, so the per-kind argument
        // streams and the string table cross each other.
        let mut events: Vec<OwnedEvent> = io.into_iter().chain(other).collect();
        events.sort_by_key(|e| e.ts);
        round_trip(&events, block_events, false)?;
    }

    #[test]
    fn decoded_arguments_equal_the_encoded_values(args in proptest::collection::vec(arg_value(), 0..12)) {
        let encoded = encode(&args);
        let list = casefile_formats::event::ArgList::parse(&encoded).unwrap();
        prop_assert_eq!(list.len(), args.len());
        for (got, want) in list.iter().zip(&args) {
            let same = match (got, want) {
                (Arg::Absent, ArgValue::Absent) => true,
                (Arg::Int(a), ArgValue::Int(b)) | (Arg::Fd(a), ArgValue::Fd(b)) => a == *b,
                (Arg::Uint(a), ArgValue::Uint(b)) => a == *b,
                (Arg::Str(a), ArgValue::Str(b)) | (Arg::Bytes(a), ArgValue::Bytes(b)) => a == b.as_slice(),
                (Arg::StrList(a), ArgValue::StrList(b)) => a.iter().eq(b.iter().map(|s| s.as_slice())),
                (Arg::Sock(SockAddr::Inet { addr, port }), ArgValue::Inet(a, p)) => addr == *a && port == *p,
                (Arg::Sock(SockAddr::Inet6 { addr, port }), ArgValue::Inet6(a, p)) => addr == *a && port == *p,
                (Arg::Sock(SockAddr::Unix(p)), ArgValue::Unix(q)) => p == q.as_slice(),
                (Arg::Sock(SockAddr::Other { family, data }), ArgValue::Other(f, d)) => family == *f && data == d.as_slice(),
                _ => false,
            };
            prop_assert!(same, "{:?} != {:?}", got, want);
        }
        // Every kind has a name, known or not.
        prop_assert!(!kind_info(EventKind(7)).name.is_empty());
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_reader(noise in proptest::collection::vec(any::<u8>(), 0..2000), keep in 0usize..400) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("n.cfcap");
        let mut workload = SyntheticWorkload::new(5);
        let mut writer = CaptureWriter::create(&path, &workload.header(), &workload.snapshot(), WriterOptions { block_events: 16, ..WriterOptions::default() }).unwrap();
        for _ in 0..100 { writer.push(&workload.next_event().as_event()).unwrap(); }
        writer.finish_and_sync().unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        let keep = keep.min(bytes.len());
        let start = bytes.len() / 3;
        let end = (start + noise.len()).min(bytes.len());
        bytes[start..end].copy_from_slice(&noise[..end - start]);
        bytes.truncate(bytes.len() - keep);
        std::fs::write(&path, &bytes).unwrap();
        if let Ok(reader) = CaptureReader::open(&path) {
            let _ = reader.for_each_event(0, u64::MAX, |_| ControlFlow::Continue(()));
            for segment in reader.segments() {
                if let Some(state) = segment.state { let _ = reader.read_state(&state); }
            }
        }
    }
}
