//! The `events` rows of a synthetic capture with forks, execs and exits, batch after
//! batch and segment after segment, against what the state engine says at each event:
//! the per-process text cache and the batch dictionaries must never show a row another
//! process's strings, or a process's strings from before its exec.

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, UInt64Type};
use casefile_formats::render::errno_name;
use casefile_formats::schema::kind_info;
use casefile_formats::text::utf8_lossy;
use casefile_formats::writer::WriterOptions;
use casefile_replay::fixture::write_synthetic_capture;
use casefile_replay::run::Observer;
use casefile_replay::{replay_observed, CaptureSet, ReplayOptions};
use casefile_rules::engine::{Alert, CompiledRules, Engine};
use casefile_rules::fields::EventFd;
use casefile_sql::build::{run_pass, Collect, PassOptions};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

const TEXT_COLUMNS: [&str; 9] = [
    "evt_type",
    "proc_name",
    "exe",
    "cmdline",
    "user",
    "fd_type",
    "errno",
    "l4proto",
    "uid",
];

/// The value of the rule field `name` at `ctx`, as text; `None` where the rules have
/// none (`<NA>`): docs/TABLES.md defines these columns by these fields.
fn field_text(ctx: &casefile_rules::fields::Ctx<'_>, name: &str) -> Option<String> {
    let field = casefile_rules::compile::compile_field(name).expect("a rule field");
    match field.extract(ctx) {
        casefile_rules::fields::Value::Missing => None,
        value => Some(casefile_rules::output::value_text(&value)).filter(|t| t != "<NA>"),
    }
}

type Row = Vec<Option<String>>;

/// Each event's text columns, straight from the engine's context.
#[derive(Default)]
struct Expected(BTreeMap<u64, Row>);

impl Observer for Expected {
    fn observe(
        &mut self,
        engine: &Engine,
        event: &casefile_formats::event::Event<'_>,
        _: &[Alert],
    ) {
        let ctx = engine.context(event);
        let text = |b: &[u8]| Some(utf8_lossy(b).into_owned());
        let process = ctx.process;
        let failed = event.kind.is_syscall() && event.ret < 0;
        let row = vec![
            Some(kind_info(event.kind).name.to_string()),
            // docs/TABLES.md: a process without a name is `<unknown pid N>`.
            process.map(|p| match p.comm.as_bytes() {
                b"" => format!("<unknown pid {}>", p.pid),
                comm => utf8_lossy(comm).into_owned(),
            }),
            process.and_then(|p| text(p.exe.as_bytes())),
            process.and_then(|p| text(&p.cmdline())),
            process.and_then(|_| field_text(&ctx, "user.name")),
            match &ctx.fd {
                Some(EventFd::Known(_, fd)) => Some(fd.kind.type_name().to_string()),
                Some(EventFd::FailedOpen(_)) => Some("file".to_string()),
                None => None,
            },
            failed
                .then(|| errno_name(event.ret))
                .flatten()
                .map(str::to_string),
            field_text(&ctx, "fd.l4proto"),
            process.and_then(|_| field_text(&ctx, "user.uid")),
        ];
        self.0.insert(ctx.num, row);
    }
}

fn rows_of(batches: &[RecordBatch]) -> BTreeMap<u64, Row> {
    let mut rows = BTreeMap::new();
    for batch in batches {
        let nums = batch
            .column_by_name("evt_num")
            .expect("evt_num")
            .as_primitive::<UInt64Type>();
        let columns: Vec<_> = TEXT_COLUMNS
            .iter()
            .map(|name| {
                let column = batch.column_by_name(name).expect("column");
                arrow::compute::cast(column, &DataType::Utf8).expect("text")
            })
            .collect();
        for i in 0..batch.num_rows() {
            let row = columns
                .iter()
                .map(|c| {
                    let c = c.as_string::<i32>();
                    c.is_valid(i).then(|| c.value(i).to_string())
                })
                .collect();
            rows.insert(nums.value(i), row);
        }
    }
    rows
}

/// Checks every `events` row of the capture at `path` against the engine's context.
fn check_rows(path: &Path, min_batches: usize, min_execs: usize) {
    let set = CaptureSet::open(&[path]).expect("open");
    let rules = Arc::new(CompiledRules::default());
    let pass = run_pass(
        &set,
        rules.clone(),
        &PassOptions {
            events: Some(None),
            threads: 2,
            ..PassOptions::default()
        },
        |_, _| Collect::default(),
        |_, _| {},
    )
    .expect("pass");
    let batches: Vec<RecordBatch> = pass.sinks.into_iter().flat_map(|c| c.0).collect();
    assert!(batches.len() >= min_batches, "{} batches", batches.len());
    let built = rows_of(&batches);

    let mut expected = BTreeMap::new();
    replay_observed(
        &set,
        rules,
        &ReplayOptions {
            threads: 1,
            ..ReplayOptions::default()
        },
        |_| Expected::default(),
        |_, part, _| expected.extend(part.0),
        |_, _| {},
    );
    assert_eq!(built.len(), expected.len());
    let execs = expected
        .values()
        .filter(|row| row[0].as_deref() == Some("execve"))
        .count();
    assert!(execs >= min_execs, "the capture execs ({execs} execs)");
    for (num, row) in &expected {
        assert_eq!(built.get(num), Some(row), "{}: event {num}", path.display());
    }
}

#[test]
fn every_events_row_shows_the_process_and_descriptor_of_its_moment() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("synthetic.case");
    // Small blocks and frequent checkpoints: several segments, each many batches long.
    let options = WriterOptions {
        block_events: 5_000,
        checkpoint_blocks: 4,
        ..WriterOptions::default()
    };
    write_synthetic_capture(&path, 60_000, 11, options).expect("capture");
    check_rows(&path, 6, 4);
}

/// The recorded sample: forked children run before they exec, so a process's strings
/// change under the same pid.
#[test]
fn every_events_row_of_the_recorded_sample_shows_its_process() {
    let root = std::env::var_os("CARGO_MANIFEST_DIR").expect("run by cargo");
    let sample = Path::new(&root).join("../samples/scarleteel/scarleteel.case");
    check_rows(&sample, 2, 4);
}

/// A setuid-root program run by alice (real uid 1000, effective 0) opens a raw ICMP
/// socket and sends on it: where the real and effective uid differ and the protocol is
/// neither TCP nor UDP, the columns still read as the rule fields `user.*` and
/// `fd.l4proto`.
#[test]
fn user_uid_and_l4proto_are_the_rule_fields() {
    use casefile_formats::event::{ArgsBuilder, EventKind, OwnedEvent};
    use casefile_formats::schema::syscall_nr;
    use casefile_formats::state::{ProcessEntry, StateSnapshot, UserEntry};
    use casefile_formats::synthetic::SyntheticWorkload;
    use casefile_formats::writer::CaptureWriter;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("setuid.case");
    let user = |uid, name: &str| UserEntry {
        uid,
        name: name.into(),
        ..UserEntry::default()
    };
    let snapshot = StateSnapshot {
        processes: vec![ProcessEntry {
            pid: 70,
            tids: vec![70],
            comm: "ping".into(),
            uid: 1000,
            euid: 0,
            ..ProcessEntry::default()
        }],
        users: vec![user(0, "root"), user(1000, "alice")],
        ..StateSnapshot::default()
    };
    let header = SyntheticWorkload::new(5).header();
    let mut writer =
        CaptureWriter::create(&path, &header, &snapshot, WriterOptions::default()).expect("create");
    let syscall = |name| EventKind::syscall(syscall_nr(name).expect("a syscall"));
    // socket(AF_INET, SOCK_RAW, IPPROTO_ICMP) = 3, then sendto(3, …).
    let socket = ArgsBuilder::new()
        .uint(2)
        .uint(3)
        .uint(1)
        .as_bytes()
        .to_vec();
    let sendto = ArgsBuilder::new()
        .fd(3)
        .uint(8)
        .absent()
        .bytes(b"ping")
        .as_bytes()
        .to_vec();
    for (ts, kind, ret, args) in [
        (1, syscall("socket"), 3, socket),
        (2, syscall("sendto"), 8, sendto),
    ] {
        let event = OwnedEvent {
            ts,
            cpu: 0,
            pid: 70,
            tid: 70,
            kind,
            ret,
            args,
        };
        writer.push(&event.as_event()).expect("push");
    }
    writer.finish_and_sync().expect("finish");
    check_rows(&path, 1, 0);
}
