//! `casefile tui` on a ≥ 20M-event capture (issue 7's figures): time to the first
//! screen, to a screen in the middle of the file, to the detail pane there (state from
//! the nearest checkpoint), for a filter over the whole file, and for the background
//! pass (alerts and process tree). With tmux installed, also the real binary's first
//! screen in a tmux pane, process start-up included.
//!
//! `cargo bench --bench tui_open` uses the synthetic 20M-event capture that
//! `replay_throughput` caches in target/bench-data (written here if absent);
//! `CASEFILE_BENCH_CAPTURE=FILE` uses another. Falco's stable rules are loaded for the
//! background pass when `../shared/corpus/falco/falco_rules.yaml` exists.

use casefile_replay::fixture::bench_capture;
use casefile_rules::engine::CompiledRules;
use casefile_rules::loader::load_files;
use casefile_tui::ui::render_text;
use casefile_tui::{App, AppOptions, Capture};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

const EVENTS: u64 = 20_000_000;

fn capture_path(root: &Path) -> PathBuf {
    bench_capture(&root.join("target/bench-data"), EVENTS).expect("the bench capture")
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn options(root: &Path) -> AppOptions {
    let rules = root.join("../shared/corpus/falco/falco_rules.yaml");
    if !rules.exists() {
        return AppOptions::default();
    }
    let set = load_files(std::slice::from_ref(&rules));
    AppOptions {
        definitions: set.definitions().clone(),
        rules_label: "falco_rules.yaml".into(),
        rules: Arc::new(CompiledRules::new(set)),
        ..AppOptions::default()
    }
}

fn main() {
    let root = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("run by cargo"));
    let path = capture_path(&root);
    let size = std::fs::metadata(&path).map_or(0, |m| m.len());
    println!(
        "tui_open: {} ({:.0} MB), load average {}",
        path.display(),
        size as f64 / 1e6,
        load_average()
    );

    // First screen: open (header and block index), start the background pass, draw.
    let started = Instant::now();
    let capture = Arc::new(Capture::open(&path).expect("opens the capture"));
    let opened = started.elapsed();
    let mut app = App::new(capture.clone(), options(&root));
    let lines = render_text(&mut app, 200, 50);
    let first = started.elapsed();
    assert!(
        lines.iter().any(|l| l.contains("event 1 of")),
        "{}",
        lines.join("\n")
    );
    println!(
        "  first screen: {:.1} ms (open {:.1} ms), {} events in {} blocks, {} segments",
        first.as_secs_f64() * 1e3,
        opened.as_secs_f64() * 1e3,
        capture.total(),
        capture.blocks().len(),
        capture.segments().len()
    );

    // A jump into the middle of a segment: blocks from its checkpoint are decoded and
    // named; then the detail pane, whose state is replayed from the same checkpoint.
    let middle = capture.total() / 2 + 40_000;
    let started = Instant::now();
    app.follow(middle);
    render_text(&mut app, 200, 50);
    let jumped = started.elapsed();
    let started = Instant::now();
    app.show_detail = true;
    let lines = render_text(&mut app, 200, 50);
    let detail = started.elapsed();
    assert!(lines.iter().any(|l| l.contains("proc.name")));
    // Stepping back with the detail pane open: the state is replayed from the start
    // of the block (remembered by the walk), not from the segment's checkpoint.
    let started = Instant::now();
    app.view = casefile_tui::View::Timeline;
    app.handle_key(crossterm::event::KeyEvent::from(
        crossterm::event::KeyCode::Up,
    ));
    render_text(&mut app, 200, 50);
    let back = started.elapsed();
    println!(
        "  jump to event {}: {:.1} ms; detail pane there: {:.1} ms; one event back: {:.1} ms",
        middle + 1,
        jumped.as_secs_f64() * 1e3,
        detail.as_secs_f64() * 1e3,
        back.as_secs_f64() * 1e3
    );

    // The background pass, which the first screen did not wait for.
    let started = Instant::now();
    app.wait_for_analysis(Duration::from_secs(3600));
    println!(
        "  background pass (alerts, process tree): {:.1} s after the first screen, {} alerts, {} processes ({} rules)",
        started.elapsed().as_secs_f64(),
        app.alerts.len(),
        app.tree.as_ref().map_or(0, |t| t.nodes.len()),
        app.analysis.rules
    );

    // Filters over the whole file, with the pass done (both cores free).
    for condition in [
        "proc.name = curl and evt.type = execve",
        "proc.name = nginx and fd.name contains /var/www",
    ] {
        let started = Instant::now();
        app.apply_condition(condition).expect("compiles");
        let first_rows = loop {
            if app.timeline_len() > 0 || app.wait_for_filter(Duration::ZERO) {
                break started.elapsed();
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        app.wait_for_filter(Duration::from_secs(3600));
        let total = started.elapsed();
        println!(
            "  filter `{condition}`: {} matches in {:.2} s ({:.1} M events/s), first rows after {:.0} ms",
            app.timeline_len(),
            total.as_secs_f64(),
            capture.total() as f64 / total.as_secs_f64() / 1e6,
            first_rows.as_secs_f64() * 1e3
        );
    }

    tmux_first_screen(&path);
    println!("  load average after: {}", load_average());
}

/// The real binary's first screen in tmux: from starting the process to the first
/// event row on the pane.
fn tmux_first_screen(path: &Path) {
    let tmux = |args: &[&str]| {
        Command::new("tmux")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
    };
    if tmux(&["-V"]).is_none() {
        println!("  binary in tmux: SKIPPED (tmux is not installed)");
        return;
    }
    let session = format!("casefile-tui-bench-{}", std::process::id());
    let command = format!("{} tui {}", env!("CARGO_BIN_EXE_casefile"), path.display());
    let started = Instant::now();
    if tmux(&[
        "new-session",
        "-d",
        "-s",
        &session,
        "-x",
        "200",
        "-y",
        "50",
        &command,
    ])
    .is_none()
    {
        println!("  binary in tmux: could not start a session");
        return;
    }
    let mut shown = None;
    while started.elapsed() < Duration::from_secs(30) {
        let screen = tmux(&["capture-pane", "-p", "-t", &session]).unwrap_or_default();
        if screen.contains("event 1 of") {
            shown = Some(started.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = tmux(&["kill-session", "-t", &session]);
    match shown {
        Some(t) => println!(
            "  binary in tmux: first screen {:.0} ms after start (polled every 5 ms)",
            t.as_secs_f64() * 1e3
        ),
        None => println!("  binary in tmux: no first screen within 30 s"),
    }
}
