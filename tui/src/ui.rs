//! Drawing the [`App`] with ratatui: header and tabs, the current view, the status and
//! key lines, the help overlay. Reads the state and decodes only the rows on screen;
//! every string from the capture reaches the screen through `escape`.

use crate::app::{AlertSort, App, PromptKind, TreeRow, View};
use crate::ext::Table;
use casefile_formats::render::{arg_text, render_ret, wall_time};
use casefile_formats::schema::kind_info;
use casefile_formats::text::escape;
use casefile_rules::loader::Priority;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use ratatui::Frame;
use std::sync::atomic::Ordering;

/// Every key, for the help overlay (and docs/TUI.md, which lists the same).
pub const KEYS: &[(&str, &str)] = &[
    ("1 2 3", "Alerts, Timeline, Processes"),
    ("Tab / Shift-Tab", "next / previous view"),
    ("↑ ↓ j k", "move; mouse wheel scrolls"),
    ("PgUp PgDn b Space", "page"),
    ("Home End g G", "first / last"),
    (
        "Enter",
        "alert: its context · process: filter timeline to it · event: detail",
    ),
    ("p", "the selected event's or alert's process in the tree"),
    ("← → h l", "tree: collapse / expand, parent / first child"),
    ("x", "tree: fold or unfold the selected process"),
    ("d", "tree: Enter includes descendants (toggle)"),
    ("s", "alerts: sort by time, priority, rule"),
    ("i", "timeline: detail pane on / off"),
    ("J K", "scroll the detail pane"),
    (
        "/",
        "filter the timeline with a Falco condition (empty: none)",
    ),
    ("c Esc", "clear the timeline filter and process scope"),
    ("t", "jump to a time (+10s, RFC 3339, ns since boot)"),
    (":", "SQL console"),
    ("4 5", "Connections, Files of the selected process"),
    ("?", "this help"),
    ("q Ctrl-C", "quit"),
];

const SELECTED: Style = Style::new().add_modifier(Modifier::REVERSED);
const DIM: Style = Style::new().fg(Color::DarkGray);
const HEAD: Style = Style::new().add_modifier(Modifier::BOLD);

pub fn draw(frame: &mut Frame<'_>, app: &mut App) {
    let [header, main, status, keys] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(3),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    draw_header(frame, app, header);
    match app.view {
        View::Alerts => draw_alerts(frame, app, main),
        View::Timeline => draw_timeline(frame, app, main),
        View::Processes => draw_tree(frame, app, main),
        View::Connections | View::Files | View::Sql => draw_table(frame, app, main),
    }
    draw_status(frame, app, status, keys);
    if app.help {
        draw_help(frame);
    }
}

fn percent(done: u64, total: u64) -> u64 {
    (done.saturating_mul(100)).checked_div(total).unwrap_or(100)
}

fn draw_header(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let capture = &app.capture;
    let boot = capture.boot_time_ns();
    let range = capture
        .time_range()
        .map(|(a, b)| {
            format!(
                "{} +{:.1}s",
                wall_time(boot.saturating_add(a)),
                b.saturating_sub(a) as f64 / 1e9
            )
        })
        .unwrap_or_default();
    let title = Line::from(vec![
        Span::styled("casefile tui ", HEAD),
        Span::raw(format!(
            "{}  host {}  {} events  {}",
            escape(capture.path().as_os_str().as_encoded_bytes()),
            escape(capture.hostname().as_bytes()),
            capture.total(),
            range
        )),
    ]);
    let analysis = &app.analysis;
    let alerts = if app.analysis_done() {
        format!("{} ({})", app.alerts.len(), app.rules_label)
    } else {
        format!(
            "{} · replaying {}%",
            app.alerts.len(),
            percent(analysis.done.load(Ordering::Relaxed), analysis.total)
        )
    };
    let mut tabs = vec![
        (View::Alerts, format!("1 Alerts: {alerts}")),
        (View::Timeline, "2 Timeline".to_string()),
        (
            View::Processes,
            match &app.tree {
                Some(tree) => format!("3 Processes: {}", tree.nodes.len()),
                None => "3 Processes: building…".to_string(),
            },
        ),
    ];
    if matches!(app.view, View::Connections | View::Files | View::Sql) {
        tabs.push((app.view, app.view.title().to_string()));
    }
    let mut spans = Vec::new();
    for (view, label) in tabs {
        let style = if view == app.view {
            SELECTED.add_modifier(Modifier::BOLD)
        } else {
            Style::new()
        };
        spans.push(Span::styled(format!(" {label} "), style));
        spans.push(Span::raw(" "));
    }
    frame.render_widget(Paragraph::new(vec![title, Line::from(spans)]), area);
}

fn priority_style(priority: Priority) -> Style {
    match priority {
        Priority::Emergency | Priority::Alert | Priority::Critical => {
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
        }
        Priority::Error => Style::new().fg(Color::Red),
        Priority::Warning => Style::new().fg(Color::Yellow),
        Priority::Notice => Style::new().fg(Color::Cyan),
        Priority::Informational => Style::new().fg(Color::Green),
        Priority::Debug => DIM,
    }
}

/// `HH:MM:SS.fffffffff` of a wall-clock time in nanoseconds.
fn clock(ns: u64) -> String {
    let full = wall_time(ns);
    full.get(11..29).map_or(full.clone(), str::to_string)
}

fn draw_alerts(frame: &mut Frame<'_>, app: &mut App, area: Rect) {
    let block = Block::default().borders(Borders::TOP).title(format!(
        " Alerts — sorted by {} (s) — Enter: context, p: process ",
        app.alert_sort.name()
    ));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let height = usize::from(inner.height.saturating_sub(1));
    app.page = inner.height.saturating_sub(1);
    if app.alerts.is_empty() {
        let text = if app.analysis_done() {
            if app.analysis.rules == 0 {
                "No rules loaded: start with --rules FILE to see alerts.".to_string()
            } else {
                "No alerts.".to_string()
            }
        } else {
            "Replaying the capture through the rules…".to_string()
        };
        frame.render_widget(Paragraph::new(text), inner);
        return;
    }
    if app.alert_selected < app.alert_top {
        app.alert_top = app.alert_selected;
    } else if height > 0 && app.alert_selected >= app.alert_top + height {
        app.alert_top = app.alert_selected + 1 - height;
    }
    // Measured on the rows shown: a capture may have a million alerts.
    let rule_width = app
        .alert_order
        .iter()
        .skip(app.alert_top)
        .take(height)
        .map(|&i| escape(app.alerts[i].rule.as_bytes()).chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, 48);
    let mut lines = vec![Line::styled(
        format!(
            "{:<18}  {:<13} {:<rule_width$}  {:<28} output",
            "time", "priority", "rule", "process chain"
        ),
        HEAD,
    )];
    for (row, &index) in app
        .alert_order
        .iter()
        .enumerate()
        .skip(app.alert_top)
        .take(height)
    {
        let alert = &app.alerts[index];
        let chain: Vec<&str> = alert.lineage.iter().rev().map(String::as_str).collect();
        let rule = escape(alert.rule.as_bytes());
        let mut line = Line::from(vec![
            Span::raw(format!("{:<18}  ", clock(alert.time_ns))),
            Span::styled(
                format!("{:<13} ", alert.priority.as_str()),
                priority_style(alert.priority),
            ),
            Span::raw(format!(
                "{:<rule_width$}  {:<28} {}",
                truncate(&rule, rule_width),
                truncate_left(&escape(chain.join(" > ").as_bytes()), 28),
                escape(alert.output.as_bytes())
            )),
        ]);
        if row == app.alert_selected {
            line = line.patch_style(SELECTED);
        }
        lines.push(line);
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut out: String = text.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Keeps the end of `text`: of a process chain, the processes nearest the alert.
fn truncate_left(text: &str, width: usize) -> String {
    let count = text.chars().count();
    if count <= width {
        return text.to_string();
    }
    let mut out = String::from("…");
    out.extend(text.chars().skip(count + 1 - width));
    out
}

fn draw_timeline(frame: &mut Frame<'_>, app: &mut App, area: Rect) {
    let (list_area, detail_area) = if app.show_detail && area.height >= 12 {
        let [a, b] =
            Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(area);
        (a, Some(b))
    } else {
        (area, None)
    };
    let title = match &app.filter {
        Some(job) => {
            let mut parts = Vec::new();
            if let Some(scope) = &job.filter.scope {
                parts.push(format!("process {}", scope.label));
            }
            if let Some((text, _)) = &job.filter.condition {
                parts.push(escape(text.as_bytes()).into_owned());
            }
            let matches = job.matches();
            let state = if job.is_finished() {
                match matches.elapsed {
                    Some(t) => format!(
                        "{} matches in {:.2}s",
                        matches.positions.len(),
                        t.as_secs_f64()
                    ),
                    None => format!("{} matches", matches.positions.len()),
                }
            } else {
                format!(
                    "{} matches so far · scanning {}%",
                    matches.positions.len(),
                    percent(job.done.load(Ordering::Relaxed), job.total)
                )
            };
            format!(" Timeline — {} — {state} (c: clear) ", parts.join(" and "))
        }
        None => format!(" Timeline — {} events ", app.capture.total()),
    };
    let block = Block::default().borders(Borders::TOP).title(title);
    let inner = block.inner(list_area);
    frame.render_widget(block, list_area);
    app.page = inner.height;
    app.scroll_to_cursor();
    let len = app.timeline_len();
    let height = u64::from(inner.height);
    if app.top + height > len {
        app.top = len.saturating_sub(height);
    }
    let boot = app.capture.boot_time_ns();
    // The visible rows' positions and, when filtered, their process names, under one
    // lock of the matches.
    let visible: Vec<(u64, u64, Option<Vec<u8>>)> = match &app.filter {
        Some(job) => {
            let matches = job.matches();
            (app.top..(app.top + height).min(len))
                .filter_map(|r| {
                    let p = *matches.positions.get(r as usize)?;
                    Some((r, p, Some(matches.name(r as usize).to_vec())))
                })
                .collect()
        }
        None => (app.top..(app.top + height).min(len))
            .map(|r| (r, r, None))
            .collect(),
    };
    let mut lines = Vec::with_capacity(visible.len());
    for (row, position, name) in visible {
        let Some((block, index)) = app.capture.locate(position) else {
            continue;
        };
        // A match's name was kept by the filter: decoding its block is enough.
        let rows = if name.is_some() {
            app.rows.decoded(&app.capture, block)
        } else {
            app.rows.rows(&app.capture, block)
        };
        let Some(rows) = rows else {
            continue;
        };
        let mut line = match rows.decoded.event(index) {
            Some(event) => {
                let info = kind_info(event.kind);
                let name = name.unwrap_or_else(|| rows.name(index).to_vec());
                let mut args = String::new();
                for (i, arg) in event.args.iter().enumerate() {
                    let param = info.params.get(i);
                    let label = param.map_or_else(|| format!("arg{i}"), |p| p.name.to_string());
                    args.push_str(&format!("{label}={} ", arg_text(param, &arg)));
                }
                if event.kind.is_syscall() {
                    args.push_str(&format!("= {}", render_ret(event.ret)));
                }
                Line::from(vec![
                    Span::styled(format!("{:>9} ", position + 1), DIM),
                    Span::raw(format!("{} ", clock(event.wall_ns(boot)))),
                    Span::styled(format!("{:>2} ", event.cpu), DIM),
                    // A command name is at most 15 bytes; `<unknown pid 4194304>`, the
                    // longest name casefile gives a process it does not know, is 21.
                    Span::styled(
                        format!("{:<21} ", truncate(&escape(&name), 21)),
                        Style::new().fg(Color::Cyan),
                    ),
                    Span::raw(format!("{:>7}:{:<7} ", event.pid, event.tid)),
                    Span::styled(format!("{:<12} ", info.name), HEAD),
                    Span::raw(args),
                ])
            }
            None => Line::styled(
                format!(
                    "{:>9} <block did not decode: {}>",
                    position + 1,
                    escape(rows.error.as_deref().unwrap_or("?").as_bytes())
                ),
                Style::new().fg(Color::Red),
            ),
        };
        if row == app.cursor {
            line = line.patch_style(SELECTED);
        }
        lines.push(line);
    }
    if lines.is_empty() {
        let text = match &app.filter {
            Some(job) if !job.is_finished() => "Scanning the capture…",
            Some(_) => "No event matches.",
            None => "The capture has no events.",
        };
        lines.push(Line::raw(text));
    }
    frame.render_widget(Paragraph::new(lines), inner);
    if let Some(area) = detail_area {
        draw_detail(frame, app, area);
    }
}

fn draw_detail(frame: &mut Frame<'_>, app: &mut App, area: Rect) {
    let block = Block::default()
        .borders(Borders::TOP)
        .title(" Event detail (J/K scroll, i: hide) ");
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let scroll = app.detail_scroll;
    let Some(detail) = app.detail() else {
        frame.render_widget(Paragraph::new("No event selected."), inner);
        return;
    };
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(inner);
    let width = detail
        .fields
        .iter()
        .map(|(n, _)| n.len())
        .max()
        .unwrap_or(10);
    let fields: Vec<Line> = detail
        .fields
        .iter()
        .map(|(name, value)| {
            let style = if value == "<NA>" { DIM } else { Style::new() };
            Line::from(vec![
                Span::styled(format!("{name:<width$} "), Style::new().fg(Color::Cyan)),
                Span::styled(value.clone(), style),
            ])
        })
        .collect();
    frame.render_widget(Paragraph::new(fields).scroll((scroll, 0)), left);
    let mut lines = vec![Line::styled("Process and ancestors", HEAD)];
    for (depth, text) in detail.ancestry.iter().enumerate() {
        let arrow = if depth == 0 { "  " } else { "↑ " };
        lines.push(Line::raw(format!(
            "{}{arrow}{text}",
            " ".repeat(depth.min(12))
        )));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        format!("Open descriptors ({})", detail.fds.len()),
        HEAD,
    ));
    lines.extend(detail.fds.iter().map(|f| Line::raw(f.clone())));
    frame.render_widget(Paragraph::new(lines), right);
}

fn draw_tree(frame: &mut Frame<'_>, app: &mut App, area: Rect) {
    let block = Block::default().borders(Borders::TOP).title(format!(
        " Processes — Enter: timeline of {} (d), ←/→ fold, p from the timeline ",
        if app.with_descendants {
            "process and descendants"
        } else {
            "process"
        }
    ));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(tree) = app.tree.clone() else {
        frame.render_widget(
            Paragraph::new(format!(
                "Building the process tree… {}%",
                percent(
                    app.analysis.done.load(Ordering::Relaxed),
                    app.analysis.total
                )
            )),
            inner,
        );
        return;
    };
    let height = usize::from(inner.height.saturating_sub(2));
    app.page = inner.height.saturating_sub(2);
    if app.tree_selected < app.tree_top {
        app.tree_top = app.tree_selected;
    } else if height > 0 && app.tree_selected >= app.tree_top + height {
        app.tree_top = app.tree_selected + 1 - height;
    }
    let first_ts = app.capture.time_range().map_or(0, |(a, _)| a);
    let offset = |ts: u64| {
        if ts >= first_ts {
            format!("+{:.3}s", (ts - first_ts) as f64 / 1e9)
        } else {
            "before".to_string()
        }
    };
    let mut lines = Vec::new();
    let breadcrumb = app.selected_node().map(|node| {
        let mut chain: Vec<String> = tree
            .ancestors(node)
            .into_iter()
            .rev()
            .chain(std::iter::once(node))
            .map(|n| escape(&tree.nodes[n].comm).into_owned())
            .collect();
        if chain.len() > 8 {
            chain.drain(..chain.len() - 8);
            chain.insert(0, "…".into());
        }
        chain.join(" → ")
    });
    lines.push(Line::from(vec![
        Span::styled("ancestry: ", HEAD),
        Span::raw(breadcrumb.unwrap_or_default()),
    ]));
    lines.push(Line::styled(
        format!(
            "{:<40} {:>8} {:<10} {:<12} {:<10} {:>10} {:>10} {:>8}  command line",
            "process (pid)", "ppid", "user", "container", "pod", "start", "end", "events"
        ),
        HEAD,
    ));
    let rows: Vec<TreeRow> = app
        .tree_rows()
        .iter()
        .skip(app.tree_top)
        .take(height)
        .copied()
        .collect();
    for (i, row) in rows.iter().enumerate() {
        let p = &tree.nodes[row.node];
        let marker = if p.children.is_empty() {
            "  "
        } else if app.collapsed.contains(&row.node) {
            "▸ "
        } else {
            "▾ "
        };
        let name = format!(
            "{}{marker}{} ({})",
            "  ".repeat(row.depth.min(16)),
            escape(&p.comm),
            p.pid
        );
        let mut line = Line::from(vec![
            Span::styled(
                format!("{:<40} ", truncate(&name, 40)),
                Style::new().fg(Color::Cyan),
            ),
            Span::raw(format!(
                "{:>8} {:<10} {:<12} {:<10} {:>10} {:>10} {:>8}  {}",
                p.ppid,
                truncate(&escape(&p.user), 10),
                p.container,
                truncate(&escape(p.pod_uid.as_bytes()), 10),
                if p.created_at == 0 && p.start_ts < first_ts {
                    "before".to_string()
                } else {
                    offset(p.start_ts)
                },
                p.end_ts.map_or_else(|| "-".to_string(), offset),
                p.events,
                escape(&p.cmdline)
            )),
        ]);
        if app.tree_top + i == app.tree_selected {
            line = line.patch_style(SELECTED);
        }
        lines.push(line);
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

fn draw_table(frame: &mut Frame<'_>, app: &mut App, area: Rect) {
    let block = Block::default()
        .borders(Borders::TOP)
        .title(format!(" {} ", app.view.title()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    app.page = inner.height.saturating_sub(1);
    let lines = match &app.sql_result {
        None => vec![Line::raw("Nothing to show.")],
        Some(Err(e)) => vec![Line::styled(
            escape(e.as_bytes()).into_owned(),
            Style::new().fg(Color::Red),
        )],
        Some(Ok(table)) => table_lines(table),
    };
    frame.render_widget(Paragraph::new(lines).scroll((app.detail_scroll, 0)), inner);
}

/// A result table as aligned text lines; cells are escaped and cut at 60 columns.
fn table_lines(table: &Table) -> Vec<Line<'static>> {
    let cells = |row: &[String]| -> Vec<String> {
        row.iter()
            .map(|c| truncate(&escape(c.as_bytes()), 60))
            .collect()
    };
    let header = cells(&table.columns);
    let rows: Vec<Vec<String>> = table.rows.iter().map(|r| cells(r)).collect();
    let mut widths: Vec<usize> = header.iter().map(|c| c.chars().count()).collect();
    for row in &rows {
        for (i, c) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(c.chars().count());
            }
        }
    }
    let line = |row: &[String]| {
        row.iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths.get(i).copied().unwrap_or(0)))
            .collect::<Vec<_>>()
            .join("  ")
    };
    let mut out = vec![Line::styled(line(&header), HEAD)];
    out.extend(rows.iter().map(|r| Line::raw(line(r))));
    out.push(Line::styled(format!("({} rows)", rows.len()), DIM));
    out
}

fn draw_status(frame: &mut Frame<'_>, app: &App, status: Rect, keys: Rect) {
    if let Some(prompt) = &app.prompt {
        let label = match prompt.kind {
            PromptKind::Filter => "filter /",
            PromptKind::Time => "jump to time",
            PromptKind::Sql => "sql :",
        };
        frame.render_widget(
            Paragraph::new(Line::from(vec![
                Span::styled(format!("{label} "), HEAD),
                Span::raw(escape(prompt.text.as_bytes()).into_owned()),
                Span::styled("█", DIM),
            ])),
            status,
        );
        let hint = match &prompt.error {
            Some(e) => Line::styled(
                format!("✗ {}", escape(e.as_bytes())),
                Style::new().fg(Color::Red),
            ),
            None => Line::styled("Enter: apply · Esc: cancel · Ctrl-U: clear", DIM),
        };
        frame.render_widget(Paragraph::new(hint), keys);
        return;
    }
    let text = match &app.message {
        Some(m) => m.clone(),
        None => match app.view {
            View::Timeline => app
                .selected_position()
                .map(|p| format!("event {} of {}", p + 1, app.capture.total()))
                .unwrap_or_default(),
            View::Alerts if app.alert_sort != AlertSort::Time || !app.alerts.is_empty() => {
                format!("alert {} of {}", app.alert_selected + 1, app.alerts.len())
            }
            _ => String::new(),
        },
    };
    frame.render_widget(Paragraph::new(escape(text.as_bytes()).into_owned()), status);
    frame.render_widget(
        Paragraph::new(Line::styled(
            "?: help  1/2/3: views  Enter: open  p: process  /: filter  t: time  :: SQL  q: quit",
            DIM,
        )),
        keys,
    );
}

fn draw_help(frame: &mut Frame<'_>) {
    let area = frame.area();
    let width = area.width.saturating_sub(4).min(100);
    let height = (KEYS.len() as u16 + 4).min(area.height.saturating_sub(2));
    let rect = Rect {
        x: area.x + (area.width.saturating_sub(width)) / 2,
        y: area.y + (area.height.saturating_sub(height)) / 2,
        width,
        height,
    };
    let lines: Vec<Line> = KEYS
        .iter()
        .map(|(key, what)| {
            Line::from(vec![
                Span::styled(format!("{key:>18}  "), HEAD),
                Span::raw(*what),
            ])
        })
        .collect();
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::ALL)
                .title(" Keys (any key closes) "),
        ),
        rect,
    );
}

/// Draws `app` on an off-screen `width` × `height` terminal and returns the screen as
/// lines: for benchmarks and checks that need what a user would see, without a tty.
pub fn render_text(app: &mut App, width: u16, height: u16) -> Vec<String> {
    let backend = ratatui::backend::TestBackend::new(width, height);
    // The test backend cannot fail (its error type is `Infallible`).
    let Ok(mut terminal) = ratatui::Terminal::new(backend);
    if terminal.draw(|frame| draw(frame, app)).is_err() {
        return Vec::new();
    }
    let buffer = terminal.backend().buffer();
    (0..height)
        .map(|y| (0..width).map(|x| buffer[(x, y)].symbol()).collect())
        .collect()
}
