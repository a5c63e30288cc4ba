//! Render tests: each view drawn on ratatui's `TestBackend` from the SCARLETEEL sample,
//! with the cells read back. Expected values come from the capture itself (a replay, a
//! sequential read), not from copies of earlier output.

mod common;

use casefile_formats::reader::CaptureReader;
use casefile_formats::state::{ProcessEntry, StateSnapshot};
use casefile_formats::synthetic::SyntheticWorkload;
use casefile_formats::writer::{CaptureWriter, WriterOptions};
use casefile_replay::{replay, CaptureSet, ReplayOptions};
use casefile_rules::compile::compile_condition;
use casefile_rules::fields::Ctx;
use casefile_rules::loader::load_files;
use casefile_rules::state::StateEngine;
use casefile_tui::app::View;
use casefile_tui::ext::{Extensions, SqlConsole, Table};
use casefile_tui::{App, AppOptions, Capture};
use common::*;
use crossterm::event::KeyCode;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Duration;

const METADATA_RULE: &str = "Contact Cloud Metadata Service From Container";

#[test]
fn the_alert_list_is_replays_and_shows_the_metadata_alert() {
    let mut app = sample_app();
    let set = CaptureSet::open(&[sample_capture()]).unwrap();
    let mut expected = Vec::new();
    replay(
        &set,
        common::rules_options().rules,
        &ReplayOptions::default(),
        |a| expected.push((a.rule.clone(), a.event_num, a.priority)),
        |_, _| {},
    );
    let got: Vec<_> = app
        .alerts
        .iter()
        .map(|a| (a.rule.clone(), a.event_num, a.priority))
        .collect();
    assert_eq!(got, expected, "the TUI's alerts are replay's");

    press(&mut app, &[KeyCode::Char('1')]);
    let lines = screen(&mut app, 220, 60);
    let priority = expected
        .iter()
        .find(|(rule, ..)| rule == METADATA_RULE)
        .map(|(_, _, p)| p.as_str())
        .expect("the sample raises the metadata alert");
    let line = lines
        .iter()
        .find(|l| l.contains(METADATA_RULE))
        .unwrap_or_else(|| panic!("no metadata alert on screen:\n{}", lines.join("\n")));
    assert!(line.contains(priority), "{line}");
    assert!(line.contains("python3 > sh > curl"), "{line}");
    assert!(
        lines[1].contains(&format!("Alerts: {}", expected.len())),
        "{}",
        lines[1]
    );
}

/// Selects the first alert of `rule` with the keys an investigator would press.
fn select_alert(app: &mut App, rule: &str) {
    press(app, &[KeyCode::Char('1'), KeyCode::Home]);
    for _ in 0..app.alerts.len() {
        if app.selected_alert().is_some_and(|a| a.rule == rule) {
            return;
        }
        press(app, &[KeyCode::Down]);
    }
    panic!("no alert of {rule}");
}

#[test]
fn the_tree_shows_the_web_app_its_shell_and_curl() {
    let mut app = sample_app();
    select_alert(&mut app, METADATA_RULE);
    press(&mut app, &[KeyCode::Char('p')]);
    assert_eq!(app.view, View::Processes);
    let lines = screen(&mut app, 200, 60);
    let ancestry = lines
        .iter()
        .find(|l| l.starts_with("ancestry:"))
        .expect("an ancestry line");
    assert!(
        ancestry.trim_end().ends_with("python3 → sh → curl"),
        "{ancestry}"
    );
    // In the rows, curl is one level below the shell that ran it.
    let alert = app.selected_alert().unwrap();
    let curl = lines
        .iter()
        .find(|l| l.contains(&format!("curl ({})", alert.pid)))
        .expect("the curl row");
    let tree = app.tree.clone().unwrap();
    let node = tree.find(alert.pid, alert.event_num - 1).unwrap();
    let parent = &tree.nodes[tree.nodes[node].parent.unwrap()];
    let sh = lines
        .iter()
        .find(|l| l.contains(&format!("sh ({})", parent.pid)))
        .expect("the shell row");
    let indent = |l: &str| l.len() - l.trim_start().len();
    assert!(indent(curl) > indent(sh), "{sh}\n{curl}");
}

/// Positions of the events matching `condition`, by one sequential pass of the state
/// engine from the snapshot: what the parallel, per-segment filter must find.
fn sequential_matches(condition: &str) -> Vec<u64> {
    let set = load_files(&[sample_rules()]);
    let filter = compile_condition(condition, set.definitions()).unwrap();
    let reader = CaptureReader::open(&sample_capture()).unwrap();
    let mut state = StateEngine::from_snapshot(&reader.initial_state().unwrap().unwrap());
    let boot = reader.header().host.boot_time_ns;
    let mut position = 0u64;
    let mut found = Vec::new();
    reader.for_each_event(0, u64::MAX, |event| {
        state.update(event);
        let ctx = Ctx::new(event, &state, position + 1, boot);
        if filter.matches(&ctx) {
            found.push(position);
        }
        position += 1;
        ControlFlow::Continue(())
    });
    found
}

#[test]
fn the_filter_narrows_the_timeline_to_the_matching_events() {
    let condition = "proc.name = curl and fd.sip = 169.254.169.254";
    let expected = sequential_matches(condition);
    assert!(!expected.is_empty());
    let mut app = sample_app();
    press(&mut app, &[KeyCode::Char('/')]);
    type_text(&mut app, condition);
    press(&mut app, &[KeyCode::Enter]);
    assert!(app.prompt.is_none(), "the condition compiles");
    assert!(app.wait_for_filter(Duration::from_secs(60)));
    let positions = app.filter.as_ref().unwrap().matches().positions.clone();
    assert_eq!(positions, expected);
    assert!((positions.len() as u64) < app.capture.total());

    let lines = screen(&mut app, 200, 80);
    assert!(
        lines[2].contains(&format!("{} matches", expected.len())),
        "{}",
        lines[2]
    );
    // Rows on screen: event numbers of the matches, all of curl.
    let rows: Vec<&String> = lines[3..]
        .iter()
        .take_while(|l| !l.trim().is_empty() && !l.contains("Event detail"))
        .collect();
    assert_eq!(rows.len(), expected.len().min(rows.len()));
    for (row, position) in rows.iter().zip(&expected) {
        let num: u64 = row.split_whitespace().next().unwrap().parse().unwrap();
        assert_eq!(num, position + 1, "{row}");
        assert!(row.contains(" curl "), "{row}");
    }
}

#[test]
fn a_process_the_capture_does_not_know_is_shown_by_its_pid() {
    // The sample's recorded command began before the recorder wrote a command's fork:
    // its first events belong to a process the snapshot and the forks do not explain.
    let reader = CaptureReader::open(&sample_capture()).unwrap();
    let snapshot = reader.initial_state().unwrap().unwrap();
    let mut state = StateEngine::from_snapshot(&snapshot);
    let mut unknown = None;
    let _ = reader.for_each_event(0, u64::MAX, |e| {
        state.update(e);
        if unknown.is_none() && state.unknown_processes() > 0 {
            unknown = Some(e.pid);
        }
        ControlFlow::Continue(())
    });
    let pid = unknown.expect("the sample has a process the capture does not know");

    let mut app = sample_app();
    press(&mut app, &[KeyCode::Char('/')]);
    type_text(&mut app, &format!("proc.pid = {pid}"));
    press(&mut app, &[KeyCode::Enter]);
    assert!(app.wait_for_filter(Duration::from_secs(60)));
    let lines = screen(&mut app, 200, 40);
    let first = &lines[3];
    assert!(
        first.contains(&format!(" <unknown pid {pid}> ")),
        "as cat and SQL name it: {first}"
    );
}

#[test]
fn a_condition_that_does_not_compile_shows_its_error_in_place() {
    let mut app = sample_app();
    press(&mut app, &[KeyCode::Char('/')]);
    type_text(&mut app, "proc.nmae = curl");
    press(&mut app, &[KeyCode::Enter]);
    let prompt = app.prompt.as_ref().expect("the prompt stays open");
    assert!(prompt.error.is_some());
    assert!(app.filter.is_none(), "nothing was applied");
    let lines = screen(&mut app, 160, 30);
    assert!(lines[28].contains("proc.nmae = curl"), "{}", lines[28]);
    assert!(
        lines[29].contains('✗') && lines[29].contains("proc.nmae"),
        "{}",
        lines[29]
    );
    // Fixing the text clears the error; Esc leaves without applying.
    press(&mut app, &[KeyCode::Backspace]);
    assert!(app.prompt.as_ref().unwrap().error.is_none());
    press(&mut app, &[KeyCode::Esc]);
    assert!(app.prompt.is_none() && app.filter.is_none());
}

#[test]
fn the_first_screen_is_the_first_events_without_waiting_for_the_rules() {
    let capture = Arc::new(Capture::open(&sample_capture()).unwrap());
    let reader = CaptureReader::open(&sample_capture()).unwrap();
    let mut first_types = Vec::new();
    reader.for_each_event(0, u64::MAX, |e| {
        first_types.push(casefile_formats::schema::kind_info(e.kind).name);
        if first_types.len() == 3 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    let mut app = App::new(capture, rules_options());
    let lines = screen(&mut app, 200, 30);
    for (i, kind) in first_types.iter().enumerate() {
        let row = &lines[3 + i];
        assert!(
            row.trim_start().starts_with(&format!("{} ", i + 1)) && row.contains(kind),
            "row {i}: {row}"
        );
    }
}

#[test]
fn the_detail_pane_has_the_rule_fields_ancestry_and_open_descriptors() {
    let mut app = sample_app();
    select_alert(&mut app, METADATA_RULE);
    press(&mut app, &[KeyCode::Enter]);
    assert_eq!(app.view, View::Timeline);
    let alert = app.selected_alert().unwrap().clone();
    assert_eq!(app.selected_position(), Some(alert.event_num - 1));
    let detail = app.detail().expect("a detail").clone();
    let field = |name: &str| {
        detail
            .fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    // The alert's own output fields, recomputed from the state at the event.
    for (name, value) in &alert.output_fields {
        if !name.contains('[') && field(name).is_some() {
            assert_eq!(field(name).as_deref(), Some(value.as_str()), "{name}");
        }
    }
    assert_eq!(field("evt.num"), Some(alert.event_num.to_string()));
    assert_eq!(field("proc.name").as_deref(), Some("curl"));
    assert!(
        detail.ancestry[1].starts_with("sh "),
        "{:?}",
        detail.ancestry
    );
    assert!(
        detail.ancestry[2].starts_with("python3 "),
        "{:?}",
        detail.ancestry
    );
    assert!(
        detail
            .fds
            .iter()
            .any(|f| f.contains("->169.254.169.254:80")),
        "{:?}",
        detail.fds
    );
    let lines = screen(&mut app, 200, 60);
    let text = lines.join("\n");
    assert!(text.contains("Event detail"), "{text}");
    assert!(text.contains("Open descriptors"), "{text}");
    assert!(text.contains("↑ python3"), "{text}");
}

#[test]
fn hostile_names_and_paths_are_escaped_on_screen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("evil.case");
    let workload = SyntheticWorkload::new(1);
    let snapshot = StateSnapshot {
        ts: 1,
        processes: vec![ProcessEntry {
            pid: 66,
            tids: vec![66],
            comm: b"\x1b[2J\x1b[31mev\nil\xff".as_slice().into(),
            args: vec![b"--\x1b]0;pwned\x07".as_slice().into()],
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
    let mut args = casefile_formats::event::ArgsBuilder::new();
    args.fd(-100)
        .str(b"/tmp/\x1b[2J\xff\r\nfake line")
        .uint(0)
        .uint(0)
        .absent()
        .absent();
    let event = casefile_formats::event::OwnedEvent {
        ts: 2,
        cpu: 0,
        pid: 66,
        tid: 66,
        kind: casefile_formats::event::EventKind::syscall(
            casefile_formats::schema::syscall_nr("openat").unwrap(),
        ),
        ret: 3,
        args: args.finish(),
    };
    writer.push(&event.as_event()).unwrap();
    writer.finish_and_sync().unwrap();

    let capture = Arc::new(Capture::open(&path).unwrap());
    let mut app = App::new(capture, AppOptions::default());
    assert!(app.wait_for_analysis(Duration::from_secs(30)));
    press(&mut app, &[KeyCode::Enter]); // the detail pane, with fields and fds
    for view in ['2', '3'] {
        press(&mut app, &[KeyCode::Char(view)]);
        let cells = cells(&mut app, 200, 40);
        for cell in &cells {
            assert!(
                !cell.chars().any(|c| c.is_control()),
                "a control character reached the screen in view {view}: {cell:?}"
            );
        }
        let text = screen(&mut app, 200, 40).join("\n");
        assert!(text.contains("\\x1b[2J\\x1b[31mev\\nil\\xff"), "{text}");
    }
    press(&mut app, &[KeyCode::Char('2')]);
    let text = screen(&mut app, 200, 40).join("\n");
    assert!(text.contains("/tmp/\\x1b[2J\\xff\\r\\nfake line"), "{text}");
    assert!(text.contains("--\\x1b]0;pwned\\x07"), "{text}");
}

struct FakeSql;

impl SqlConsole for FakeSql {
    fn query(&mut self, sql: &str) -> Result<Table, String> {
        if sql.starts_with("select") {
            Ok(Table {
                columns: vec!["proc".into(), "n".into()],
                rows: vec![vec!["cu\x1b[2Jrl".into(), sql.len().to_string()]],
            })
        } else {
            Err(format!("not a query: {sql}"))
        }
    }
}

#[test]
fn the_sql_console_says_when_it_is_absent_and_shows_a_plugged_in_backend() {
    let mut app = sample_app();
    press(&mut app, &[KeyCode::Char(':')]);
    assert!(app.prompt.is_none());
    assert_eq!(
        app.message.as_deref(),
        Some("SQL console: not in this build")
    );
    let lines = screen(&mut app, 120, 20);
    assert!(lines[18].contains("SQL console: not in this build"));

    let capture = Arc::new(Capture::open(&sample_capture()).unwrap());
    let mut app = App::new(
        capture,
        AppOptions {
            extensions: Extensions {
                sql: Some(Box::new(FakeSql)),
                activity: None,
            },
            ..AppOptions::default()
        },
    );
    press(&mut app, &[KeyCode::Char(':')]);
    type_text(&mut app, "drop it");
    press(&mut app, &[KeyCode::Enter]);
    assert_eq!(
        app.prompt.as_ref().and_then(|p| p.error.as_deref()),
        Some("not a query: drop it")
    );
    press(&mut app, &[KeyCode::Esc, KeyCode::Char(':')]);
    type_text(&mut app, "select 1");
    press(&mut app, &[KeyCode::Enter]);
    assert_eq!(app.view, View::Sql);
    let text = screen(&mut app, 120, 20).join("\n");
    assert!(text.contains("cu\\x1b[2Jrl  8"), "{text}");
}

#[test]
fn help_lists_every_key_and_any_key_closes_it() {
    let mut app = sample_app();
    press(&mut app, &[KeyCode::Char('?')]);
    let text = screen(&mut app, 120, 40).join("\n");
    for (key, what) in casefile_tui::ui::KEYS {
        assert!(text.contains(key), "{key} missing:\n{text}");
        assert!(text.contains(what), "{what} missing:\n{text}");
    }
    press(&mut app, &[KeyCode::Char('j')]);
    assert!(!app.help);
}

#[test]
fn every_view_draws_at_any_size() {
    let mut app = sample_app();
    press(&mut app, &[KeyCode::Char('1'), KeyCode::Enter]);
    for view in ['1', '2', '3'] {
        press(&mut app, &[KeyCode::Char(view)]);
        for (w, h) in [(200, 60), (80, 24), (20, 5), (1, 1), (300, 8)] {
            let lines = screen(&mut app, w, h);
            assert_eq!(lines.len(), usize::from(h));
        }
    }
    press(&mut app, &[KeyCode::Char('?')]);
    screen(&mut app, 10, 4);
}
