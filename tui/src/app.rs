//! The investigator's state machine: which view is shown, what is selected, what the
//! timeline is narrowed to, and what each key does. Nothing here touches a terminal:
//! keys go in through [`App::handle_key`], an [`Action`] comes out, and the renderer
//! (`ui`) reads the state, so every flow is testable without a screen.

use crate::analysis::{Analysis, ProcessTree};
use crate::capture::{Capture, RowCache};
use crate::ext::{Extensions, Table};
use crate::filter::{FilterJob, ProcessScope, TimelineFilter};
use casefile_formats::render::arg_text;
use casefile_formats::schema::kind_info;
use casefile_formats::text::escape;
use casefile_rules::compile::{compile_condition, Definitions};
use casefile_rules::engine::{Alert, CompiledRules};
use casefile_rules::fields::{ArgKind, Ctx, FIELDS};
use casefile_rules::output::value_text;
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEvent, MouseEventKind};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

/// The main views, in tab order; the last three need [`Extensions`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    Alerts,
    Timeline,
    Processes,
    Connections,
    Files,
    Sql,
}

impl View {
    pub fn title(self) -> &'static str {
        match self {
            View::Alerts => "Alerts",
            View::Timeline => "Timeline",
            View::Processes => "Processes",
            View::Connections => "Connections",
            View::Files => "Files",
            View::Sql => "SQL",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlertSort {
    Time,
    Priority,
    Rule,
}

impl AlertSort {
    pub fn name(self) -> &'static str {
        match self {
            AlertSort::Time => "time",
            AlertSort::Priority => "priority",
            AlertSort::Rule => "rule",
        }
    }
}

/// A line of input at the bottom of the screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PromptKind {
    /// `/`: a Falco condition for the timeline.
    Filter,
    /// `t`: a time to jump to.
    Time,
    /// `:`: a SQL query.
    Sql,
}

#[derive(Clone, Debug)]
pub struct Prompt {
    pub kind: PromptKind,
    pub text: String,
    /// Why the last Enter did not take (a condition that does not compile), shown in
    /// place until the text changes.
    pub error: Option<String>,
}

/// What the terminal loop should do after a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Continue,
    Quit,
}

/// Turns a time typed by the user into the event clock; the binary supplies the same
/// parser as `--from`/`--to`.
pub type TimeParser = Box<dyn Fn(&str) -> Result<u64, String>>;

pub struct AppOptions {
    pub rules: Arc<CompiledRules>,
    /// The rule files' lists and macros, for the filter bar.
    pub definitions: Definitions,
    /// Which rules are loaded, for the Alerts title (`scarleteel_rules.yaml`).
    pub rules_label: String,
    pub parse_time: Option<TimeParser>,
    pub extensions: Extensions,
    /// Decoded blocks kept in memory.
    pub cache_blocks: usize,
}

impl Default for AppOptions {
    fn default() -> Self {
        AppOptions {
            rules: Arc::new(CompiledRules::default()),
            definitions: Definitions::default(),
            rules_label: "no rules".into(),
            parse_time: None,
            extensions: Extensions::default(),
            cache_blocks: 24,
        }
    }
}

/// Everything the detail pane shows for one event.
#[derive(Clone, Debug, Default)]
pub struct Detail {
    pub position: u64,
    /// Field name and value (escaped), in the order of `casefile rules fields`.
    pub fields: Vec<(String, String)>,
    /// The event's process, then its parent, grandparent… (escaped).
    pub ancestry: Vec<String>,
    /// The process's open descriptors after the event (escaped).
    pub fds: Vec<String>,
}

/// One row of the process tree as shown: a node and its depth.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TreeRow {
    pub node: usize,
    pub depth: usize,
}

pub struct App {
    pub capture: Arc<Capture>,
    pub rows: RowCache,
    pub view: View,
    pub prompt: Option<Prompt>,
    pub help: bool,
    /// A one-line message for the status bar (until the next key).
    pub message: Option<String>,
    pub rules_label: String,

    pub analysis: Arc<Analysis>,
    pub alerts: Vec<Alert>,
    /// Indices into `alerts`, in display order.
    pub alert_order: Vec<usize>,
    pub alert_sort: AlertSort,
    pub alert_selected: usize,
    pub alert_top: usize,

    /// Position in the timeline's list: an event position when unfiltered, an index
    /// into the filter's matches when filtered.
    pub cursor: u64,
    pub top: u64,
    /// Rows the timeline showed last (set by the renderer; pages move by it).
    pub page: u16,
    pub show_detail: bool,
    pub detail_scroll: u16,
    detail: Option<Detail>,
    pub filter: Option<Arc<FilterJob>>,

    pub tree: Option<Arc<ProcessTree>>,
    pub collapsed: HashSet<usize>,
    tree_rows: Vec<TreeRow>,
    pub tree_selected: usize,
    pub tree_top: usize,
    pub with_descendants: bool,

    pub sql_result: Option<Result<Table, String>>,
    definitions: Definitions,
    parse_time: Option<TimeParser>,
    extensions: Extensions,
}

impl App {
    /// Opens the investigator on `capture` and starts the background pass (alerts and
    /// the process tree); the first screen needs only the first block.
    pub fn new(capture: Arc<Capture>, options: AppOptions) -> App {
        let analysis = Analysis::start(capture.clone(), options.rules.clone());
        App {
            rows: RowCache::new(options.cache_blocks),
            capture,
            view: View::Timeline,
            prompt: None,
            help: false,
            message: None,
            rules_label: options.rules_label,
            analysis,
            alerts: Vec::new(),
            alert_order: Vec::new(),
            alert_sort: AlertSort::Time,
            alert_selected: 0,
            alert_top: 0,
            cursor: 0,
            top: 0,
            page: 20,
            show_detail: false,
            detail_scroll: 0,
            detail: None,
            filter: None,
            tree: None,
            collapsed: HashSet::new(),
            tree_rows: Vec::new(),
            tree_selected: 0,
            tree_top: 0,
            with_descendants: false,
            sql_result: None,
            definitions: options.definitions,
            parse_time: options.parse_time,
            extensions: options.extensions,
        }
    }

    /// Takes in what background work found since the last call; true when the screen
    /// should be redrawn.
    pub fn tick(&mut self) -> bool {
        let (mut new_alerts, mut new_tree) = (false, false);
        {
            let out = self.analysis.out();
            if out.alerts.len() > self.alerts.len() {
                self.alerts
                    .extend_from_slice(&out.alerts[self.alerts.len()..]);
                new_alerts = true;
            }
            if self.tree.is_none() {
                if let Some(tree) = &out.tree {
                    self.tree = Some(tree.clone());
                    new_tree = true;
                }
            }
        }
        if new_alerts {
            if self.alert_sort == AlertSort::Time {
                // The pass finds alerts in event order: the new ones go at the end, and
                // a capture with a million alerts is not re-sorted ten times a second.
                let known = self.alert_order.len();
                self.alert_order.extend(known..self.alerts.len());
            } else {
                let selected = self.alert_order.get(self.alert_selected).copied();
                self.sort_alerts();
                if let Some(sel) = selected {
                    self.alert_selected =
                        self.alert_order.iter().position(|&i| i == sel).unwrap_or(0);
                }
            }
        }
        if new_tree {
            self.rebuild_tree_rows();
        }
        // Progress lines and filling filter results move on their own.
        new_alerts
            || new_tree
            || !self.analysis.is_finished()
            || self.filter.as_ref().is_some_and(|f| !f.is_finished())
    }

    /// Whether the background pass is over and its results taken in by [`App::tick`]
    /// (the analysis itself may finish between a tick and a draw).
    pub fn analysis_done(&self) -> bool {
        self.tree.is_some()
    }

    /// Waits for the background pass (tests, benchmarks), then takes its results.
    pub fn wait_for_analysis(&mut self, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        while !self.analysis.is_finished() {
            if std::time::Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        self.tick();
        true
    }

    /// Waits for the timeline filter to be evaluated over the whole capture.
    pub fn wait_for_filter(&mut self, timeout: Duration) -> bool {
        let done = self.filter.as_ref().is_none_or(|f| f.wait(timeout));
        self.tick();
        done
    }

    // ---- keys -------------------------------------------------------------------

    pub fn handle_key(&mut self, key: KeyEvent) -> Action {
        if key.kind == KeyEventKind::Release {
            return Action::Continue;
        }
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            return Action::Quit;
        }
        self.message = None;
        if self.prompt.is_some() {
            self.prompt_key(key);
            return Action::Continue;
        }
        if self.help {
            // Any key closes the overlay; `q` still quits.
            self.help = false;
            if key.code != KeyCode::Char('q') {
                return Action::Continue;
            }
        }
        match key.code {
            KeyCode::Char('q') => return Action::Quit,
            KeyCode::Char('?') => self.help = true,
            KeyCode::Tab => self.cycle_view(1),
            KeyCode::BackTab => self.cycle_view(-1),
            KeyCode::Char('1') => self.view = View::Alerts,
            KeyCode::Char('2') => self.view = View::Timeline,
            KeyCode::Char('3') => self.view = View::Processes,
            KeyCode::Char('4') => self.open_activity(View::Connections),
            KeyCode::Char('5') => self.open_activity(View::Files),
            KeyCode::Char(':') => {
                if self.extensions.sql.is_some() {
                    self.open_prompt(PromptKind::Sql);
                } else {
                    self.message = Some("SQL console: not in this build".into());
                }
            }
            KeyCode::Char('/') => self.open_prompt(PromptKind::Filter),
            KeyCode::Char('t') => {
                if self.parse_time.is_some() {
                    self.open_prompt(PromptKind::Time);
                } else {
                    self.message = Some("jump to time: not in this build".into());
                }
            }
            KeyCode::Char('c') => self.clear_filter(),
            _ => match self.view {
                View::Alerts => self.alerts_key(key),
                View::Timeline => self.timeline_key(key),
                View::Processes => self.tree_key(key),
                View::Connections | View::Files | View::Sql => self.table_key(key),
            },
        }
        Action::Continue
    }

    pub fn handle_mouse(&mut self, mouse: MouseEvent) -> Action {
        let step = match mouse.kind {
            MouseEventKind::ScrollDown => 3,
            MouseEventKind::ScrollUp => -3,
            _ => return Action::Continue,
        };
        self.move_selection(step);
        Action::Continue
    }

    fn cycle_view(&mut self, step: i32) {
        let mut views = vec![View::Alerts, View::Timeline, View::Processes];
        if self.extensions.activity.is_some() {
            views.extend([View::Connections, View::Files]);
        }
        if self.sql_result.is_some() {
            views.push(View::Sql);
        }
        let at = views.iter().position(|v| *v == self.view).unwrap_or(0) as i32;
        let n = views.len() as i32;
        self.view = views[((at + step).rem_euclid(n)) as usize];
    }

    fn open_prompt(&mut self, kind: PromptKind) {
        let text = match (kind, &self.filter) {
            (PromptKind::Filter, Some(job)) => job
                .filter
                .condition
                .as_ref()
                .map(|(text, _)| text.clone())
                .unwrap_or_default(),
            _ => String::new(),
        };
        self.prompt = Some(Prompt {
            kind,
            text,
            error: None,
        });
    }

    fn prompt_key(&mut self, key: KeyEvent) {
        let Some(prompt) = self.prompt.as_mut() else {
            return;
        };
        match key.code {
            KeyCode::Esc => self.prompt = None,
            KeyCode::Backspace => {
                prompt.text.pop();
                prompt.error = None;
            }
            KeyCode::Char('u') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                prompt.text.clear();
                prompt.error = None;
            }
            KeyCode::Char(c) => {
                prompt.text.push(c);
                prompt.error = None;
            }
            KeyCode::Enter => {
                let (kind, text) = (prompt.kind, prompt.text.trim().to_string());
                let result = match kind {
                    PromptKind::Filter => self.apply_condition(&text),
                    PromptKind::Time => self.jump_to_time(&text),
                    PromptKind::Sql => self.run_sql(&text),
                };
                match result {
                    Ok(()) => self.prompt = None,
                    Err(e) => {
                        if let Some(p) = self.prompt.as_mut() {
                            p.error = Some(e);
                        }
                    }
                }
            }
            _ => {}
        }
    }

    fn move_selection(&mut self, step: i64) {
        match self.view {
            View::Alerts => {
                let n = self.alert_order.len();
                if n > 0 {
                    self.alert_selected =
                        (self.alert_selected as i64 + step).clamp(0, n as i64 - 1) as usize;
                    self.follow_alert();
                }
            }
            View::Timeline => {
                let n = self.timeline_len();
                if n > 0 {
                    self.cursor = (self.cursor as i64)
                        .saturating_add(step)
                        .clamp(0, n as i64 - 1) as u64;
                    self.scroll_to_cursor();
                }
            }
            View::Processes => {
                let n = self.tree_rows.len();
                if n > 0 {
                    self.tree_selected =
                        (self.tree_selected as i64 + step).clamp(0, n as i64 - 1) as usize;
                    self.follow_process();
                }
            }
            View::Connections | View::Files | View::Sql => {
                self.detail_scroll = (self.detail_scroll as i64 + step).clamp(0, 65_000) as u16
            }
        }
    }

    fn page_step(&self) -> i64 {
        i64::from(self.page.max(2)) - 1
    }

    /// Movement keys shared by the list views.
    fn movement(&mut self, key: KeyEvent) -> bool {
        let step = match key.code {
            KeyCode::Down | KeyCode::Char('j') => 1,
            KeyCode::Up | KeyCode::Char('k') => -1,
            KeyCode::PageDown | KeyCode::Char(' ') => self.page_step(),
            KeyCode::PageUp | KeyCode::Char('b') => -self.page_step(),
            KeyCode::Home | KeyCode::Char('g') => i64::MIN / 2,
            KeyCode::End | KeyCode::Char('G') => i64::MAX / 2,
            _ => return false,
        };
        self.move_selection(step);
        true
    }

    // ---- alerts -----------------------------------------------------------------

    fn alerts_key(&mut self, key: KeyEvent) {
        if self.movement(key) {
            return;
        }
        match key.code {
            KeyCode::Char('s') => {
                self.alert_sort = match self.alert_sort {
                    AlertSort::Time => AlertSort::Priority,
                    AlertSort::Priority => AlertSort::Rule,
                    AlertSort::Rule => AlertSort::Time,
                };
                let selected = self.alert_order.get(self.alert_selected).copied();
                self.sort_alerts();
                self.alert_selected = selected
                    .and_then(|s| self.alert_order.iter().position(|&i| i == s))
                    .unwrap_or(0);
            }
            KeyCode::Enter => self.open_alert_context(),
            KeyCode::Char('p') => {
                if let Some(alert) = self.selected_alert() {
                    let (pid, position) = (alert.pid, alert.event_num.saturating_sub(1));
                    self.show_process(pid, position);
                }
            }
            _ => {}
        }
    }

    fn sort_alerts(&mut self) {
        let alerts = &self.alerts;
        let mut order: Vec<usize> = (0..alerts.len()).collect();
        match self.alert_sort {
            AlertSort::Time => order.sort_by_key(|&i| (alerts[i].event_num, i)),
            AlertSort::Priority => {
                order.sort_by_key(|&i| (alerts[i].priority, alerts[i].event_num, i))
            }
            AlertSort::Rule => order.sort_by(|&a, &b| {
                (&alerts[a].rule, alerts[a].event_num, a).cmp(&(
                    &alerts[b].rule,
                    alerts[b].event_num,
                    b,
                ))
            }),
        }
        self.alert_order = order;
    }

    pub fn selected_alert(&self) -> Option<&Alert> {
        self.alerts.get(*self.alert_order.get(self.alert_selected)?)
    }

    /// The timeline follows the alert selection (when it is not filtered away).
    fn follow_alert(&mut self) {
        if let Some(position) = self.selected_alert().map(|a| a.event_num.saturating_sub(1)) {
            self.follow(position);
        }
    }

    /// Enter on an alert: the timeline at the alert's event, unfiltered, with the
    /// detail pane (fields, ancestry, open descriptors) open.
    pub fn open_alert_context(&mut self) {
        let Some(alert) = self.selected_alert() else {
            self.message = Some("no alert selected".into());
            return;
        };
        let position = alert.event_num.saturating_sub(1);
        if self.filter.is_some() {
            self.clear_filter();
            self.message = Some("timeline filter cleared to show the alert's event".into());
        }
        self.view = View::Timeline;
        self.show_detail = true;
        self.detail_scroll = 0;
        self.follow(position);
    }

    // ---- timeline ---------------------------------------------------------------

    fn timeline_key(&mut self, key: KeyEvent) {
        if self.movement(key) {
            return;
        }
        match key.code {
            KeyCode::Enter | KeyCode::Char('i') => {
                self.show_detail = !self.show_detail;
                self.detail_scroll = 0;
            }
            KeyCode::Char('J') => self.detail_scroll = self.detail_scroll.saturating_add(1),
            KeyCode::Char('K') => self.detail_scroll = self.detail_scroll.saturating_sub(1),
            KeyCode::Char('p') => {
                if let Some(position) = self.selected_position() {
                    if let Some(pid) = self.event_pid(position) {
                        self.show_process(pid, position);
                    }
                }
            }
            KeyCode::Esc => self.clear_filter(),
            _ => {}
        }
    }

    /// Rows in the timeline: every event, or the matches found so far.
    pub fn timeline_len(&self) -> u64 {
        match &self.filter {
            Some(job) => job.matches().positions.len() as u64,
            None => self.capture.total(),
        }
    }

    /// The capture position of timeline row `row`.
    pub fn position_of_row(&self, row: u64) -> Option<u64> {
        match &self.filter {
            Some(job) => job.matches().positions.get(row as usize).copied(),
            None => (row < self.capture.total()).then_some(row),
        }
    }

    pub fn selected_position(&self) -> Option<u64> {
        self.position_of_row(self.cursor)
    }

    fn event_pid(&mut self, position: u64) -> Option<u32> {
        let (block, row) = self.capture.locate(position)?;
        let rows = self.rows.decoded(&self.capture, block)?;
        rows.decoded.event(row).map(|e| e.pid)
    }

    /// Moves the timeline cursor to capture position `position`, or to the first match
    /// after it when the timeline is filtered.
    pub fn follow(&mut self, position: u64) {
        self.cursor = match &self.filter {
            Some(job) => {
                let matches = job.matches();
                let at = matches.positions.partition_point(|&p| p < position);
                at.min(matches.positions.len().saturating_sub(1)) as u64
            }
            None => position.min(self.capture.total().saturating_sub(1)),
        };
        self.scroll_to_cursor();
    }

    /// Keeps the cursor on screen, a few rows from the top when it jumped.
    pub fn scroll_to_cursor(&mut self) {
        let page = u64::from(self.page.max(1));
        if self.cursor < self.top || self.cursor >= self.top + page {
            self.top = self.cursor.saturating_sub(page / 4);
        }
    }

    fn clear_filter(&mut self) {
        let position = self.selected_position();
        if let Some(job) = self.filter.take() {
            job.cancel();
        }
        if let Some(position) = position {
            self.follow(position);
        }
    }

    /// Compiles `text` with the rule files' macros and lists and starts narrowing the
    /// timeline to it (keeping a process scope). Empty text drops the condition.
    pub fn apply_condition(&mut self, text: &str) -> Result<(), String> {
        let scope = self.filter.as_ref().and_then(|f| f.filter.scope.clone());
        let condition = if text.is_empty() {
            None
        } else {
            let filter = compile_condition(text, &self.definitions).map_err(|e| {
                let within = e
                    .in_macro
                    .map(|m| format!(" (in macro {m})"))
                    .unwrap_or_default();
                format!("column {}{within}: {}", e.pos.col, e.message)
            })?;
            Some((text.to_string(), Arc::new(filter)))
        };
        self.start_filter(TimelineFilter { condition, scope });
        Ok(())
    }

    fn start_filter(&mut self, filter: TimelineFilter) {
        let position = self.selected_position();
        if let Some(job) = self.filter.take() {
            job.cancel();
        }
        if !filter.is_empty() {
            self.filter = Some(FilterJob::start(self.capture.clone(), filter));
        }
        self.view = View::Timeline;
        self.cursor = 0;
        self.top = 0;
        self.detail = None;
        if self.filter.is_none() {
            if let Some(position) = position {
                self.follow(position);
            }
        }
    }

    fn jump_to_time(&mut self, text: &str) -> Result<(), String> {
        let parse = self
            .parse_time
            .as_ref()
            .ok_or("jump to time: not in this build")?;
        let ts = parse(text)?;
        let position = self.position_at_time(ts);
        self.view = View::Timeline;
        self.follow(position);
        Ok(())
    }

    /// The first event at or after `ts` (event clock).
    pub fn position_at_time(&mut self, ts: u64) -> u64 {
        let block = self.capture.block_at_time(ts);
        let Some(entry) = self.capture.blocks().get(block).copied() else {
            return 0;
        };
        let Some(rows) = self.rows.decoded(&self.capture, block) else {
            return entry.first;
        };
        let row = rows
            .decoded
            .events()
            .position(|e| e.ts >= ts)
            .unwrap_or(rows.decoded.len().saturating_sub(1));
        entry.first + row as u64
    }

    /// What the detail pane shows for the selected event, computed once per event.
    pub fn detail(&mut self) -> Option<&Detail> {
        let position = self.selected_position()?;
        if self.detail.as_ref().is_none_or(|d| d.position != position) {
            self.detail = Some(self.compute_detail(position)?);
        }
        self.detail.as_ref()
    }

    fn compute_detail(&mut self, position: u64) -> Option<Detail> {
        let (block, row) = self.capture.locate(position)?;
        let rows = self.rows.decoded(&self.capture, block)?;
        let event = rows.decoded.event(row)?;
        let boot = self.capture.boot_time_ns();
        let state = self.rows.state_at(&self.capture, position)?;
        let ctx = Ctx::new(&event, state, position + 1, boot);
        let mut detail = Detail {
            position,
            ..Detail::default()
        };
        for &(id, name, _, arg, _) in FIELDS {
            if arg == ArgKind::Param {
                continue;
            }
            let value = value_text(&ctx.extract(id, None));
            detail
                .fields
                .push((name.to_string(), escape(value.as_bytes()).into_owned()));
        }
        let info = kind_info(event.kind);
        for (i, arg) in event.args.iter().enumerate() {
            let name = info.params.get(i).map_or_else(
                || format!("evt.arg[{i}]"),
                |p| format!("evt.arg.{}", p.name),
            );
            detail
                .fields
                .push((name, arg_text(info.params.get(i), &arg)));
        }
        if let Some(p) = ctx.process {
            for p in std::iter::once(p).chain(state.ancestors(p.pid)) {
                detail.ancestry.push(format!(
                    "{} ({})  {}",
                    escape(&p.display_name()),
                    p.pid,
                    escape(&p.cmdline())
                ));
            }
            for (num, fd) in &p.fds {
                detail.fds.push(format!(
                    "{num:>4} {} {}",
                    fd.kind.typechar(),
                    fd.name.escaped()
                ));
            }
        }
        Some(detail)
    }

    // ---- processes --------------------------------------------------------------

    pub fn tree_rows(&self) -> &[TreeRow] {
        &self.tree_rows
    }

    fn rebuild_tree_rows(&mut self) {
        let selected = self.tree_rows.get(self.tree_selected).map(|r| r.node);
        self.tree_rows.clear();
        let Some(tree) = self.tree.clone() else {
            return;
        };
        let mut stack: Vec<TreeRow> = tree
            .roots
            .iter()
            .rev()
            .map(|&node| TreeRow { node, depth: 0 })
            .collect();
        while let Some(row) = stack.pop() {
            if self.tree_rows.len() > tree.nodes.len() {
                break;
            }
            self.tree_rows.push(row);
            if !self.collapsed.contains(&row.node) {
                stack.extend(
                    tree.nodes[row.node]
                        .children
                        .iter()
                        .rev()
                        .map(|&c| TreeRow {
                            node: c,
                            depth: row.depth + 1,
                        }),
                );
            }
        }
        if let Some(node) = selected {
            self.select_node(node);
        }
    }

    pub fn selected_node(&self) -> Option<usize> {
        self.tree_rows.get(self.tree_selected).map(|r| r.node)
    }

    /// Selects `node`, expanding its ancestors so that it is visible.
    fn select_node(&mut self, node: usize) {
        let Some(tree) = self.tree.clone() else {
            return;
        };
        if !self.tree_rows.iter().any(|r| r.node == node) {
            let mut expanded = false;
            for a in tree.ancestors(node) {
                expanded |= self.collapsed.remove(&a);
            }
            if expanded {
                self.rebuild_tree_rows();
            }
        }
        if let Some(at) = self.tree_rows.iter().position(|r| r.node == node) {
            self.tree_selected = at;
            let page = usize::from(self.page.max(1));
            if at < self.tree_top || at >= self.tree_top + page {
                self.tree_top = at.saturating_sub(page / 4);
            }
        }
    }

    /// The Processes view with the process of `pid` at `position` selected.
    pub fn show_process(&mut self, pid: u32, position: u64) {
        self.view = View::Processes;
        let Some(tree) = self.tree.clone() else {
            self.message = Some("the process tree is still being built".into());
            return;
        };
        match tree.find(pid, position) {
            Some(node) => self.select_node(node),
            None => self.message = Some(format!("process {pid} is not in the tree")),
        }
    }

    /// The timeline follows the selected process to its first event.
    fn follow_process(&mut self) {
        let first = self
            .selected_node()
            .and_then(|n| self.tree.as_ref()?.nodes.get(n)?.first_event);
        if let Some(first) = first {
            self.follow(first);
        }
    }

    fn tree_key(&mut self, key: KeyEvent) {
        if self.movement(key) {
            return;
        }
        let Some(node) = self.selected_node() else {
            return;
        };
        let Some(tree) = self.tree.clone() else {
            return;
        };
        let has_children = !tree.nodes[node].children.is_empty();
        match key.code {
            KeyCode::Left | KeyCode::Char('h') => {
                if has_children && !self.collapsed.contains(&node) {
                    self.collapsed.insert(node);
                    self.rebuild_tree_rows();
                } else if let Some(parent) = tree.nodes[node].parent {
                    self.select_node(parent);
                    self.follow_process();
                }
            }
            KeyCode::Right | KeyCode::Char('l') => {
                if self.collapsed.remove(&node) {
                    self.rebuild_tree_rows();
                } else if let Some(&child) = tree.nodes[node].children.first() {
                    self.select_node(child);
                    self.follow_process();
                }
            }
            KeyCode::Char('x') => {
                if !self.collapsed.remove(&node) && has_children {
                    self.collapsed.insert(node);
                }
                self.rebuild_tree_rows();
            }
            KeyCode::Char('d') => {
                self.with_descendants = !self.with_descendants;
                self.message = Some(if self.with_descendants {
                    "Enter filters the timeline to the process and its descendants".into()
                } else {
                    "Enter filters the timeline to the process alone".into()
                });
            }
            KeyCode::Enter => self.filter_to_process(node),
            _ => {}
        }
    }

    /// Narrows the timeline to `node` (and its descendants when asked), keeping the
    /// filter bar's condition.
    pub fn filter_to_process(&mut self, node: usize) {
        let Some(tree) = self.tree.clone() else {
            return;
        };
        let nodes = if self.with_descendants {
            tree.subtree(node)
        } else {
            vec![node]
        };
        let mut scope = ProcessScope::default();
        for n in nodes {
            let p = &tree.nodes[n];
            scope
                .pids
                .entry(p.pid)
                .or_default()
                .push((p.created_at, p.exited_at.unwrap_or(u64::MAX)));
        }
        let p = &tree.nodes[node];
        scope.label = format!(
            "{} ({}){}",
            escape(&p.comm),
            p.pid,
            if self.with_descendants {
                " and descendants"
            } else {
                ""
            }
        );
        let condition = self
            .filter
            .as_ref()
            .and_then(|f| f.filter.condition.clone());
        self.start_filter(TimelineFilter {
            condition,
            scope: Some(scope),
        });
    }

    // ---- extension views --------------------------------------------------------

    fn open_activity(&mut self, view: View) {
        if self.extensions.activity.is_none() {
            self.message = Some(format!("{}: not in this build", view.title()));
            return;
        }
        let process = self
            .selected_node()
            .and_then(|n| self.tree.as_ref()?.nodes.get(n))
            .map(|p| (p.pid, p.start_ts));
        let Some((pid, start_ts)) = process else {
            self.message = Some("select a process first (3)".into());
            return;
        };
        let Some(activity) = self.extensions.activity.as_mut() else {
            return;
        };
        let result = match view {
            View::Connections => activity.connections(pid, start_ts),
            _ => activity.files(pid, start_ts),
        };
        self.sql_result = Some(result);
        self.detail_scroll = 0;
        self.view = view;
    }

    fn run_sql(&mut self, text: &str) -> Result<(), String> {
        let console = self
            .extensions
            .sql
            .as_mut()
            .ok_or("SQL console: not in this build")?;
        let table = console.query(text)?;
        self.sql_result = Some(Ok(table));
        self.detail_scroll = 0;
        self.view = View::Sql;
        Ok(())
    }

    fn table_key(&mut self, key: KeyEvent) {
        self.movement(key);
    }
}

impl Drop for App {
    /// Background work is of no use once the investigator is gone.
    fn drop(&mut self) {
        self.analysis
            .cancel
            .store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(job) = &self.filter {
            job.cancel();
        }
    }
}
