//! Replay: the events of a capture set through the rule engine, as they went through it
//! live.
//!
//! Sequential replay runs one engine from the first snapshot to the end. Parallel replay
//! gives each segment (a checkpoint and the blocks after it) its own engine started from
//! the checkpoint, which the recorder wrote from the same state engine at that point of
//! the stream; alerts are gathered per segment and emitted in segment order, so both
//! give the same alerts in the same order. Two rules keep that true on damaged files:
//! after a segment with skipped blocks the sequential engine restarts from the next
//! checkpoint (as a parallel worker does), and a segment whose checkpoint does not read
//! continues from the engine of the segment before it (as the sequential engine does).

use crate::set::{CaptureSet, WorkUnit};
use casefile_formats::block::DecodedBlock;
use casefile_formats::event::Event;
use casefile_formats::state::StateSnapshot;
use casefile_rules::engine::{Alert, CompiledRules, Engine};
use casefile_rules::loader::Priority;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct ReplayOptions {
    /// Only events with `from <= ts < to` (event clock, nanoseconds since boot) are
    /// checked; earlier events of their segment still update the state.
    pub from: u64,
    pub to: u64,
    /// Worker threads; 1 replays sequentially; 0 uses every core.
    pub threads: usize,
    /// Set to stop early (a query that has its rows): segments not started are
    /// skipped, and running ones stop at their next block.
    pub cancel: Option<Arc<AtomicBool>>,
}

impl ReplayOptions {
    fn cancelled(&self) -> bool {
        self.cancel
            .as_ref()
            .is_some_and(|c| c.load(Ordering::Relaxed))
    }
}

impl Default for ReplayOptions {
    fn default() -> Self {
        ReplayOptions {
            from: 0,
            to: u64::MAX,
            threads: 0,
            cancel: None,
        }
    }
}

/// Something the replay stepped over, by file and offset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    pub file: PathBuf,
    pub offset: u64,
    /// Events lost with it (from the block header; 0 for a state block).
    pub events: u64,
    pub detail: String,
}

#[derive(Clone, Debug, Default)]
pub struct RuleCount {
    pub priority: Option<Priority>,
    pub alerts: u64,
}

#[derive(Clone, Debug, Default)]
pub struct ReplayReport {
    /// Events in the set's blocks, by their headers.
    pub events_in_files: u64,
    /// Events decoded (state updated).
    pub events_read: u64,
    /// Events inside the time range, checked against the rules.
    pub events_checked: u64,
    pub alerts: u64,
    pub by_rule: BTreeMap<String, RuleCount>,
    pub by_priority: BTreeMap<&'static str, u64>,
    pub skipped: Vec<Skipped>,
    /// Files whose recorder was killed: bytes at the end that are not a complete block.
    pub truncated: Vec<(PathBuf, u64)>,
    pub warnings: Vec<String>,
    pub threads: usize,
    pub elapsed: Duration,
}

impl ReplayReport {
    fn count(&mut self, alert: &Alert) {
        self.alerts += 1;
        let entry = self.by_rule.entry(alert.rule.clone()).or_default();
        entry.priority = Some(alert.priority);
        entry.alerts += 1;
        *self.by_priority.entry(alert.priority.as_str()).or_default() += 1;
    }

    pub fn events_per_second(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.events_read as f64 / secs
        } else {
            0.0
        }
    }
}

/// Sees every event of a replay's window right after the engine has processed it, with
/// the alerts it raised: what exports and queries build their rows from, so they read
/// the same state the rules did. One observer per segment; a replay hands each back
/// with its segment, in timeline order.
pub trait Observer: Send {
    fn observe(&mut self, engine: &Engine, event: &Event<'_>, alerts: &[Alert]);

    /// The segment is done: flush what is buffered (still on the worker's thread).
    fn finish(&mut self) {}
}

/// Observes nothing: a plain replay.
impl Observer for () {
    #[inline]
    fn observe(&mut self, _: &Engine, _: &Event<'_>, _: &[Alert]) {}
}

/// What one unit produced.
struct UnitResult<O> {
    observer: O,
    alerts: Vec<Alert>,
    read: u64,
    checked: u64,
    skipped: Vec<Skipped>,
    warnings: Vec<String>,
    /// The engine at the end of the unit, for a next unit that continues from it.
    engine: Option<Engine>,
    /// The unit's state block did not read; it has to continue from the unit before.
    state_failed: bool,
}

impl<O> UnitResult<O> {
    fn new(observer: O) -> UnitResult<O> {
        UnitResult {
            observer,
            alerts: Vec::new(),
            read: 0,
            checked: 0,
            skipped: Vec::new(),
            warnings: Vec::new(),
            engine: None,
            state_failed: false,
        }
    }
}

struct Runner<'a, F> {
    set: &'a CaptureSet,
    /// A fresh observer for a unit.
    observer: F,
    rules: Arc<CompiledRules>,
    options: &'a ReplayOptions,
    hostname: String,
    boot_time_ns: u64,
}

impl<O: Observer, F: Fn(&WorkUnit) -> O + Sync> Runner<'_, F> {
    /// The unit's starting state, or why it has none.
    fn load_state(&self, unit: &WorkUnit) -> Result<StateSnapshot, Skipped> {
        let file = &self.set.files()[unit.file];
        let Some(block) = unit.state else {
            return Err(Skipped {
                file: file.path().into(),
                offset: unit.blocks.first().map_or(0, |b| b.offset),
                events: 0,
                detail: "no state snapshot before these blocks".into(),
            });
        };
        file.read_state(&block).map_err(|e| Skipped {
            file: file.path().into(),
            offset: block.offset,
            events: 0,
            detail: format!("state block does not read: {e}"),
        })
    }

    fn engine_from(&self, snapshot: &StateSnapshot, events_before: u64) -> Engine {
        let mut engine = Engine::with_rules(
            self.rules.clone(),
            snapshot,
            &self.hostname,
            self.boot_time_ns,
        );
        engine.set_events_before(events_before);
        engine
    }

    /// Runs `unit`'s blocks through `engine`.
    fn run_unit(&self, unit: &WorkUnit, mut engine: Engine, result: &mut UnitResult<O>) {
        let file = &self.set.files()[unit.file];
        let (from, to) = (self.options.from, self.options.to);
        let mut raw = Vec::new();
        let mut decoded = DecodedBlock::default();
        for block in &unit.blocks {
            if block.header.first_ts >= to || self.options.cancelled() {
                break;
            }
            if let Err(e) = file.decode_events_into(block, &mut raw, &mut decoded) {
                result.skipped.push(Skipped {
                    file: file.path().into(),
                    offset: block.offset,
                    events: u64::from(block.header.count),
                    detail: e.to_string(),
                });
                engine.set_events_before(engine.events() + u64::from(block.header.count));
                continue;
            }
            for event in decoded.events() {
                if event.ts >= to {
                    break;
                }
                result.read += 1;
                if event.ts < from {
                    engine.update_state(&event);
                    continue;
                }
                result.checked += 1;
                let before = result.alerts.len();
                engine.process(&event, |alert| result.alerts.push(alert));
                result
                    .observer
                    .observe(&engine, &event, &result.alerts[before..]);
            }
        }
        result.observer.finish();
        result.engine = Some(engine);
    }

    /// The engine a unit starts with: from its own state block when `resync` (or when
    /// there is no engine to continue), else continuing `previous`. A state block that
    /// does not read is reported and the previous engine continues, or, with none, an
    /// empty state.
    fn start(
        &self,
        unit: &WorkUnit,
        previous: Option<Engine>,
        resync: bool,
        result: &mut UnitResult<O>,
    ) -> Engine {
        if resync || previous.is_none() {
            match self.load_state(unit) {
                Ok(snapshot) => return self.engine_from(&snapshot, unit.events_before),
                Err(skipped) => {
                    if previous.is_none() {
                        result.warnings.push(format!(
                            "{}: {} at offset {}; replaying from an empty state (process and file context is missing until processes exec)",
                            skipped.file.display(),
                            skipped.detail,
                            skipped.offset
                        ));
                    }
                    result.skipped.push(skipped);
                }
            }
        }
        match previous {
            Some(mut engine) => {
                engine.set_events_before(unit.events_before);
                engine
            }
            None => self.engine_from(&StateSnapshot::default(), unit.events_before),
        }
    }

    /// Runs one unit; see [`Runner::start`] for where its state comes from.
    fn run(&self, unit: &WorkUnit, previous: Option<Engine>, resync: bool) -> UnitResult<O> {
        let mut result = UnitResult::new((self.observer)(unit));
        let engine = self.start(unit, previous, resync, &mut result);
        self.run_unit(unit, engine, &mut result);
        result
    }

    /// A parallel worker: the unit from its own state block, or nothing when that block
    /// does not read (the unit then runs after the one before it).
    fn run_independent(&self, unit: &WorkUnit) -> UnitResult<O> {
        let mut result = UnitResult::new((self.observer)(unit));
        match self.load_state(unit) {
            Ok(snapshot) => {
                let engine = self.engine_from(&snapshot, unit.events_before);
                self.run_unit(unit, engine, &mut result);
            }
            Err(_) => result.state_failed = true,
        }
        result
    }
}

/// Runs `units` on the pool behind `scope`, at most `window` of them started and not yet
/// handed to `absorb`, and hands each result to `absorb` in unit order on the calling
/// thread. Workers never wait for each other: a new unit starts whenever one is handed
/// on, so segments of unequal length do not leave a core idle (waiting for a whole
/// batch of segments to finish cost 10% of an export's wall time on two cores).
fn run_window<'scope, O, F>(
    scope: &rayon::Scope<'scope>,
    runner: &'scope Runner<'scope, F>,
    units: &'scope [WorkUnit],
    window: usize,
    absorb: &mut impl FnMut(&WorkUnit, UnitResult<O>),
) where
    O: Observer + 'scope,
    F: Fn(&WorkUnit) -> O + Sync,
{
    type Done<O> = (usize, std::thread::Result<UnitResult<O>>);
    let (done_tx, done_rx) = mpsc::channel::<Done<O>>();
    let start = |index: usize| {
        let done_tx = done_tx.clone();
        scope.spawn(move |_| {
            // A panicking unit is handed on as such, so the loop below does not wait
            // for it forever; it is raised again there.
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                runner.run_independent(&units[index])
            }));
            let _ = done_tx.send((index, result));
        });
    };
    let mut started = 0;
    while started < units.len().min(window.max(1)) {
        start(started);
        started += 1;
    }
    let mut finished_early = BTreeMap::new();
    for (index, unit) in units.iter().enumerate() {
        let result = loop {
            if let Some(result) = finished_early.remove(&index) {
                break result;
            }
            match done_rx.recv() {
                Ok((i, result)) => {
                    finished_early.insert(i, result);
                }
                // Every unit started sends once, and this thread holds a sender.
                Err(_) => unreachable!("a started unit always reports"),
            }
        };
        if started < units.len() {
            start(started);
            started += 1;
        }
        match result {
            Ok(result) => absorb(unit, result),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

/// Replays `set` through `rules`, calling `on_alert` with every alert in timeline order
/// and `on_progress(events done, events total)` after each segment.
pub fn replay(
    set: &CaptureSet,
    rules: Arc<CompiledRules>,
    options: &ReplayOptions,
    mut on_alert: impl FnMut(&Alert),
    on_progress: impl FnMut(u64, u64),
) -> ReplayReport {
    replay_observed(
        set,
        rules,
        options,
        |_| (),
        |_, (), alerts| alerts.iter().for_each(&mut on_alert),
        on_progress,
    )
}

/// [`replay`] with an [`Observer`] per segment: `observer` makes one for a unit, and
/// `on_unit` receives it back with the unit's alerts when the unit is done, units in
/// timeline order.
pub fn replay_observed<O: Observer>(
    set: &CaptureSet,
    rules: Arc<CompiledRules>,
    options: &ReplayOptions,
    observer: impl Fn(&WorkUnit) -> O + Sync,
    mut on_unit: impl FnMut(&WorkUnit, O, &[Alert]),
    mut on_progress: impl FnMut(u64, u64),
) -> ReplayReport {
    let started = Instant::now();
    let header = set.first().header();
    let runner = Runner {
        observer,
        set,
        rules,
        options,
        hostname: header.host.hostname.clone(),
        boot_time_ns: header.host.boot_time_ns,
    };
    let mut report = ReplayReport {
        events_in_files: set.total_events(),
        threads: match options.threads {
            0 => rayon::current_num_threads(),
            n => n,
        },
        ..ReplayReport::default()
    };
    for file in set.files() {
        if file.truncated_bytes() > 0 {
            report
                .truncated
                .push((file.path().into(), file.truncated_bytes()));
        }
        for region in file.damaged_regions() {
            report.skipped.push(Skipped {
                file: file.path().into(),
                offset: region.offset,
                events: 0,
                detail: format!("{} damaged bytes: {}", region.len, region.detail),
            });
        }
        report.warnings.extend(
            file.warnings()
                .iter()
                .map(|w| format!("{}: {w}", file.path().display())),
        );
    }
    let units: Vec<WorkUnit> = set
        .work_units()
        .into_iter()
        .filter(|u| {
            !u.blocks.is_empty() && u.last_ts() >= options.from && u.first_ts() < options.to
        })
        .collect();
    let total: u64 = units.iter().map(WorkUnit::events).sum();
    let mut done = 0;
    let mut absorb = |report: &mut ReplayReport, result: UnitResult<O>, unit: &WorkUnit| {
        for alert in &result.alerts {
            report.count(alert);
        }
        on_unit(unit, result.observer, &result.alerts);
        report.events_read += result.read;
        report.events_checked += result.checked;
        report.skipped.extend(result.skipped);
        report.warnings.extend(result.warnings);
        done += unit.events();
        on_progress(done, total);
    };

    if report.threads <= 1 {
        let mut engine: Option<Engine> = None;
        let mut resync = true;
        for unit in &units {
            let mut result = runner.run(unit, engine.take(), resync || unit.starts_file);
            resync = !result.skipped.is_empty();
            engine = result.engine.take();
            absorb(&mut report, result, unit);
        }
    } else {
        // A pool of exactly the asked size; if one cannot be built, rayon's global one.
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(report.threads)
            .build()
            .ok();
        let window = report.threads * 4;
        let mut previous: Option<Engine> = None;
        let mut absorb_in_order = |unit: &WorkUnit, mut result: UnitResult<O>| {
            if result.state_failed {
                result = runner.run(unit, previous.take(), true);
            }
            previous = result.engine.take();
            absorb(&mut report, result, unit);
        };
        match &pool {
            Some(pool) => pool.in_place_scope(|scope| {
                run_window(scope, &runner, &units, window, &mut absorb_in_order)
            }),
            None => rayon::in_place_scope(|scope| {
                run_window(scope, &runner, &units, window, &mut absorb_in_order)
            }),
        }
    }
    report.elapsed = started.elapsed();
    report
}
