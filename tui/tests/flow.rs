//! The state machine driven by keys, without a terminal: the investigation the issue
//! asks for (metadata alert → curl → its shell → the web app → the miner → the pool
//! connection), time jumps, sorting, scrolling, and lazy reading across checkpoints.

mod common;

use casefile_formats::synthetic::SyntheticWorkload;
use casefile_formats::writer::{CaptureWriter, WriterOptions};
use casefile_rules::state::event_process_name;
use casefile_rules::state::StateEngine;
use casefile_tui::app::View;
use casefile_tui::capture::RowCache;
use casefile_tui::{App, AppOptions, Capture};
use common::*;
use crossterm::event::{KeyCode, KeyModifiers, MouseEvent, MouseEventKind};
use std::sync::Arc;
use std::time::Duration;

fn selected_comm(app: &App) -> String {
    let tree = app.tree.as_ref().expect("the tree is built");
    let node = app.selected_node().expect("a process is selected");
    String::from_utf8_lossy(&tree.nodes[node].comm).into_owned()
}

#[test]
fn from_the_metadata_alert_to_the_miners_pool_connection() {
    let mut app = sample_app();
    // The metadata alert, from the alert list.
    press(&mut app, &[KeyCode::Char('1')]);
    while app
        .selected_alert()
        .is_some_and(|a| a.rule != "Contact Cloud Metadata Service From Container")
    {
        press(&mut app, &[KeyCode::Char('j')]);
    }
    let alert = app.selected_alert().expect("the metadata alert").clone();
    // Enter: its context, the timeline at its event with the detail pane.
    press(&mut app, &[KeyCode::Enter]);
    assert_eq!(app.view, View::Timeline);
    assert!(app.show_detail);
    assert_eq!(app.selected_position(), Some(alert.event_num - 1));
    // p: curl in the tree; h: the shell that ran it; h h: fold the shell, then up to
    // the web app.
    press(&mut app, &[KeyCode::Char('p')]);
    assert_eq!(app.view, View::Processes);
    assert_eq!(selected_comm(&app), "curl");
    press(&mut app, &[KeyCode::Char('h')]);
    assert_eq!(selected_comm(&app), "sh");
    let shell = app.selected_node().unwrap();
    press(&mut app, &[KeyCode::Char('h'), KeyCode::Char('h')]);
    assert_eq!(selected_comm(&app), "python3");
    let tree = app.tree.clone().unwrap();
    assert_eq!(tree.nodes[shell].parent, app.selected_node());
    // Down from the web app to the miner it downloaded and ran.
    for _ in 0..tree.nodes.len() {
        if selected_comm(&app) == "containerd" {
            break;
        }
        press(&mut app, &[KeyCode::Char('j')]);
    }
    assert_eq!(selected_comm(&app), "containerd");
    let miner = app.selected_node().unwrap();
    assert!(tree
        .ancestors(miner)
        .contains(&tree.nodes[shell].parent.unwrap()));
    // Enter: the miner's events; `/evt.type = connect`: its connections.
    press(&mut app, &[KeyCode::Enter]);
    assert_eq!(app.view, View::Timeline);
    assert!(app.wait_for_filter(Duration::from_secs(60)));
    let miner_events = app.timeline_len();
    assert_eq!(miner_events, tree.nodes[miner].events);
    press(&mut app, &[KeyCode::Char('/')]);
    type_text(&mut app, "evt.type = connect");
    press(&mut app, &[KeyCode::Enter]);
    assert!(app.wait_for_filter(Duration::from_secs(60)));
    assert!(app.timeline_len() >= 1 && app.timeline_len() < miner_events);
    let text = screen(&mut app, 200, 30).join("\n");
    assert!(text.contains("addr=198.51.100.23:3333"), "{text}");
    assert!(text.contains("process containerd"), "{text}");
    // c: back to every event, at the same place.
    let at = app.selected_position();
    press(&mut app, &[KeyCode::Char('c')]);
    assert!(app.filter.is_none());
    assert_eq!(app.selected_position(), at);
}

#[test]
fn a_process_with_its_descendants_includes_their_events() {
    let mut app = sample_app();
    let tree = app.tree.clone().unwrap();
    let web = tree
        .nodes
        .iter()
        .position(|n| n.comm == b"python3")
        .expect("the web app");
    press(&mut app, &[KeyCode::Char('3')]);
    while app.selected_node() != Some(web) {
        press(&mut app, &[KeyCode::Down]);
    }
    press(&mut app, &[KeyCode::Enter]);
    assert!(app.wait_for_filter(Duration::from_secs(60)));
    assert_eq!(app.timeline_len(), tree.nodes[web].events);
    press(
        &mut app,
        &[KeyCode::Char('3'), KeyCode::Char('d'), KeyCode::Enter],
    );
    assert!(app.wait_for_filter(Duration::from_secs(60)));
    let expected: u64 = tree
        .subtree(web)
        .iter()
        .map(|&n| tree.nodes[n].events)
        .sum();
    assert_eq!(app.timeline_len(), expected);
    assert!(expected > tree.nodes[web].events);
}

#[test]
fn jumping_to_a_time_lands_on_the_first_event_at_or_after_it() {
    let capture = Arc::new(Capture::open(&sample_capture()).unwrap());
    let (first, _) = capture.time_range().unwrap();
    let target = first + 2_000_000_000;
    let mut app = App::new(
        capture.clone(),
        AppOptions {
            parse_time: Some(Box::new(move |text: &str| {
                text.strip_prefix('+')
                    .and_then(|s| s.strip_suffix('s'))
                    .and_then(|s| s.parse::<u64>().ok())
                    .map(|s| first + s * 1_000_000_000)
                    .ok_or_else(|| format!("bad time {text}"))
            })),
            ..AppOptions::default()
        },
    );
    press(&mut app, &[KeyCode::Char('t')]);
    type_text(&mut app, "soon");
    press(&mut app, &[KeyCode::Enter]);
    assert_eq!(
        app.prompt.as_ref().and_then(|p| p.error.as_deref()),
        Some("bad time soon")
    );
    press(&mut app, &[KeyCode::Esc, KeyCode::Char('t')]);
    type_text(&mut app, "+2s");
    press(&mut app, &[KeyCode::Enter]);
    let position = app.selected_position().unwrap();
    let ts = |p: u64| {
        let mut rows = RowCache::new(4);
        let (block, row) = capture.locate(p).unwrap();
        rows.rows(&capture, block)
            .unwrap()
            .decoded
            .event(row)
            .unwrap()
            .ts
    };
    assert!(ts(position) >= target);
    assert!(position == 0 || ts(position - 1) < target);
}

#[test]
fn alerts_sort_by_priority_then_rule_and_the_wheel_scrolls() {
    let mut app = sample_app();
    press(&mut app, &[KeyCode::Char('1'), KeyCode::Char('s')]);
    let priorities: Vec<_> = app
        .alert_order
        .iter()
        .map(|&i| app.alerts[i].priority)
        .collect();
    assert!(
        priorities.windows(2).all(|w| w[0] <= w[1]),
        "{priorities:?}"
    );
    press(&mut app, &[KeyCode::Char('s')]);
    let rules: Vec<_> = app
        .alert_order
        .iter()
        .map(|&i| app.alerts[i].rule.clone())
        .collect();
    assert!(rules.windows(2).all(|w| w[0] <= w[1]));

    press(&mut app, &[KeyCode::Char('2')]);
    let before = app.cursor;
    let wheel = |kind| MouseEvent {
        kind,
        column: 0,
        row: 0,
        modifiers: KeyModifiers::NONE,
    };
    app.handle_mouse(wheel(MouseEventKind::ScrollDown));
    assert!(app.cursor > before);
    app.handle_mouse(wheel(MouseEventKind::ScrollUp));
    assert_eq!(app.cursor, before);
    press(&mut app, &[KeyCode::End]);
    assert_eq!(app.cursor, app.capture.total() - 1);
    assert_eq!(
        app.handle_key(key(KeyCode::Char('q'))),
        casefile_tui::Action::Quit
    );
}

/// The timeline's process names, computed lazily from the nearest checkpoint (and
/// reused forward, restarted backward), equal those of one pass from the start.
#[test]
fn lazy_reading_from_checkpoints_names_processes_as_a_full_pass_does() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("synthetic.case");
    let mut workload = SyntheticWorkload::new(7);
    let snapshot = workload.snapshot();
    let mut state = StateEngine::from_snapshot(&snapshot);
    let options = WriterOptions {
        block_events: 500,
        checkpoint_blocks: 4,
        ..WriterOptions::default()
    };
    let mut writer = CaptureWriter::create(&path, &workload.header(), &snapshot, options).unwrap();
    let mut names = Vec::new();
    for _ in 0..20_000 {
        let event = workload.next_event();
        let event = event.as_event();
        state.update(&event);
        names.push(event_process_name(&state, &event).into_owned());
        writer.push(&event).unwrap();
        if writer.checkpoint_due() {
            writer.write_checkpoint(&state.snapshot(event.ts)).unwrap();
        }
    }
    writer.finish_and_sync().unwrap();

    let capture = Capture::open(&path).unwrap();
    assert_eq!(capture.total(), 20_000);
    assert!(
        capture.segments().len() >= 5,
        "{}",
        capture.segments().len()
    );
    let mut cache = RowCache::new(3);
    // Forward, then backward across segments, into the middle of one, then stepping
    // back block by block (from the block-start states the walks remembered).
    let back = (12_000..16_000u64).rev().step_by(333);
    let positions = [
        0u64, 1, 499, 500, 2_100, 2_101, 19_999, 5, 10_250, 9_999, 10_001,
    ];
    for position in positions.into_iter().chain(back) {
        let (block, row) = capture.locate(position).unwrap();
        let rows = cache.rows(&capture, block).unwrap();
        assert_eq!(
            rows.name(row),
            names[position as usize].as_slice(),
            "event {position}"
        );
        let state = cache.state_at(&capture, position).unwrap();
        let event = rows.decoded.event(row).unwrap();
        assert_eq!(
            &*event_process_name(state, &event),
            names[position as usize].as_slice()
        );
    }
}
