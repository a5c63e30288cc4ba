//! The rule engine: events in, alerts out. It keeps the state engine current and checks
//! each event only against the rules indexed under its type. `record --rules` (live)
//! and `replay` (offline) drive this same code with the same events.

use crate::fields::Ctx;
use crate::loader::{Priority, Rule, RuleSet};
use crate::state::StateEngine;
use casefile_formats::event::Event;
use casefile_formats::state::StateSnapshot;
use std::collections::BTreeMap;
use std::sync::Arc;

/// An alert, shaped like Falco's JSON output so tools that read Falco alerts read these.
#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    /// Nanoseconds since the epoch.
    pub time_ns: u64,
    pub rule: String,
    pub priority: Priority,
    pub source: String,
    pub tags: Vec<String>,
    pub hostname: String,
    pub output: String,
    pub output_fields: BTreeMap<String, String>,
    /// The triggering event's `evt.num`: its position in the capture, counted from 1.
    pub event_num: u64,
    /// The process and thread of the triggering event.
    pub pid: u32,
    pub tid: u32,
    /// Process names from the triggering process up: `curl`, `sh`, `python3`, … (as
    /// far as the state knows them; escaped for display).
    pub lineage: Vec<String>,
}

impl Alert {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "time": casefile_formats::render::wall_time(self.time_ns),
            "rule": self.rule,
            "priority": self.priority.as_str(),
            "source": self.source,
            "tags": self.tags,
            "hostname": self.hostname,
            "output": self.output,
            "output_fields": self.output_fields,
        })
    }

    /// One line as Falco prints it: `TIME: Priority output`. The output holds strings
    /// from the observed host, so control characters are escaped.
    pub fn to_text(&self) -> String {
        format!(
            "{}: {} {}",
            casefile_formats::render::wall_time(self.time_ns),
            self.priority.as_str(),
            casefile_formats::text::escape(self.output.as_bytes())
        )
    }
}

/// Index slots: every syscall number and the lifecycle and meta kinds below 2048.
const INDEXED_KINDS: usize = 2048;

/// The enabled, compiled rules of a rule set, indexed by event kind. Immutable once
/// built, so parallel replay shares one copy between all its engines.
pub struct CompiledRules {
    rules: Vec<Rule>,
    /// Rule indices per event kind; rules that can match any kind are in every slot.
    by_kind: Vec<Vec<usize>>,
    any_kind: Vec<usize>,
}

impl Default for CompiledRules {
    /// No rules: an engine that only keeps the state.
    fn default() -> Self {
        CompiledRules::new(RuleSet::default())
    }
}

impl std::fmt::Debug for CompiledRules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CompiledRules({} rules)", self.rules.len())
    }
}

impl CompiledRules {
    pub fn new(set: RuleSet) -> CompiledRules {
        let rules: Vec<Rule> = set
            .rules
            .into_iter()
            .filter(|r| r.enabled && r.filter.is_some() && r.template.is_some())
            .collect();
        let mut by_kind = vec![Vec::new(); INDEXED_KINDS];
        let mut any_kind = Vec::new();
        for (index, rule) in rules.iter().enumerate() {
            match rule.filter.as_ref().and_then(|f| f.event_types.as_ref()) {
                Some(types) => {
                    for &kind in types {
                        if let Some(slot) = by_kind.get_mut(usize::from(kind)) {
                            slot.push(index);
                        }
                    }
                }
                None => any_kind.push(index),
            }
        }
        for slot in &mut by_kind {
            slot.extend(&any_kind);
            slot.sort_unstable();
        }
        CompiledRules {
            rules,
            by_kind,
            any_kind,
        }
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    fn candidates(&self, kind: u16) -> &[usize] {
        self.by_kind
            .get(usize::from(kind))
            .unwrap_or(&self.any_kind)
    }
}

pub struct Engine {
    rules: Arc<CompiledRules>,
    state: StateEngine,
    hostname: String,
    boot_time_ns: u64,
    /// Events seen so far, including those before this engine's start: `evt.num`.
    events: u64,
}

impl Engine {
    /// Builds an engine from the enabled, compiled rules of `set`.
    pub fn new(
        set: RuleSet,
        snapshot: &StateSnapshot,
        hostname: &str,
        boot_time_ns: u64,
    ) -> Engine {
        Engine::with_rules(
            Arc::new(CompiledRules::new(set)),
            snapshot,
            hostname,
            boot_time_ns,
        )
    }

    /// An engine over shared compiled rules, starting from `snapshot`.
    pub fn with_rules(
        rules: Arc<CompiledRules>,
        snapshot: &StateSnapshot,
        hostname: &str,
        boot_time_ns: u64,
    ) -> Engine {
        Engine {
            rules,
            state: StateEngine::from_snapshot(snapshot),
            hostname: hostname.to_string(),
            boot_time_ns,
            events: 0,
        }
    }

    pub fn rules(&self) -> &[Rule] {
        self.rules.rules()
    }

    pub fn state(&self) -> &StateEngine {
        &self.state
    }

    /// Events processed so far (the last event's `evt.num`).
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Sets how many events came before the next one, so that an engine started from a
    /// checkpoint numbers events (`evt.num`) as a replay from the start would.
    pub fn set_events_before(&mut self, events: u64) {
        self.events = events;
    }

    /// Updates the state with `event` without checking rules: for events before a
    /// replay's `--from`, which shape the state but must not alert.
    pub fn update_state(&mut self, event: &Event<'_>) {
        self.state.update(event);
        self.events += 1;
    }

    /// What the rules see of `event`, the last event given to [`Engine::process`]: its
    /// process, its file descriptor and the state around them. Exports and the TUI read
    /// their fields through this, so they agree with the rules.
    pub fn context<'a>(&'a self, event: &'a Event<'a>) -> Ctx<'a> {
        Ctx::new(event, &self.state, self.events, self.boot_time_ns)
    }

    /// Updates the state with `event`, then checks it; calls `alert` for each rule that
    /// fires, in rule-file order.
    pub fn process(&mut self, event: &Event<'_>, mut alert: impl FnMut(Alert)) {
        self.state.update(event);
        self.events += 1;
        let rules = &*self.rules;
        let candidates = rules.candidates(event.kind.0);
        if candidates.is_empty() {
            return;
        }
        let ctx = self.context(event);
        let process = ctx.process;
        for &index in candidates {
            let rule = &rules.rules[index];
            let (Some(filter), Some(template)) = (&rule.filter, &rule.template) else {
                continue;
            };
            if !filter.matches(&ctx) {
                continue;
            }
            let (output, fields) = template.render(&ctx);
            let lineage = process
                .into_iter()
                .chain(self.state.ancestors(event.pid))
                .map(|p| casefile_formats::text::escape(&p.display_name()).into_owned())
                .collect();
            alert(Alert {
                time_ns: self.boot_time_ns.saturating_add(event.ts),
                rule: rule.name.clone(),
                priority: rule.priority,
                source: rule.source.clone(),
                tags: rule.tags.clone(),
                hostname: self.hostname.clone(),
                output,
                output_fields: fields.into_iter().collect(),
                event_num: self.events,
                pid: event.pid,
                tid: event.tid,
                lineage,
            });
        }
    }
}
