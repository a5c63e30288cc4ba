//! Shared set-up: the SCARLETEEL sample opened with its rules, keys, and the screen as
//! text lines from ratatui's `TestBackend`.

#![allow(dead_code)]

use casefile_rules::engine::CompiledRules;
use casefile_rules::loader::load_files;
use casefile_tui::{App, AppOptions, Capture};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub fn sample_dir() -> PathBuf {
    PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("run by cargo"))
        .join("../samples/scarleteel")
}

pub fn sample_capture() -> PathBuf {
    sample_dir().join("scarleteel.case")
}

pub fn sample_rules() -> PathBuf {
    sample_dir().join("rules/scarleteel_rules.yaml")
}

pub fn rules_options() -> AppOptions {
    let set = load_files(&[sample_rules()]);
    assert_eq!(set.errors().count(), 0, "the sample's rules load cleanly");
    AppOptions {
        definitions: set.definitions().clone(),
        rules: Arc::new(CompiledRules::new(set)),
        rules_label: "scarleteel_rules.yaml".into(),
        ..AppOptions::default()
    }
}

/// The sample opened with its rules, the background pass finished.
pub fn sample_app() -> App {
    let capture = Arc::new(Capture::open(&sample_capture()).expect("the sample opens"));
    let mut app = App::new(capture, rules_options());
    assert!(app.wait_for_analysis(Duration::from_secs(120)));
    app
}

pub fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

pub fn press(app: &mut App, codes: &[KeyCode]) {
    for &code in codes {
        app.handle_key(key(code));
    }
}

pub fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        app.handle_key(key(KeyCode::Char(c)));
    }
}

/// Draws the app on a `width` × `height` test terminal; the screen as lines.
pub fn screen(app: &mut App, width: u16, height: u16) -> Vec<String> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test terminal");
    terminal
        .draw(|frame| casefile_tui::ui::draw(frame, app))
        .expect("draw");
    let buffer = terminal.backend().buffer();
    (0..height)
        .map(|y| (0..width).map(|x| buffer[(x, y)].symbol()).collect())
        .collect()
}

/// Every cell's text, to look for bytes that must never reach a terminal.
pub fn cells(app: &mut App, width: u16, height: u16) -> Vec<String> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test terminal");
    terminal
        .draw(|frame| casefile_tui::ui::draw(frame, app))
        .expect("draw");
    terminal
        .backend()
        .buffer()
        .content()
        .iter()
        .map(|c| c.symbol().to_string())
        .collect()
}
