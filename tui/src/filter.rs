//! Narrowing the timeline: a Falco condition from the filter bar and/or a process scope
//! from the tree, evaluated over the whole capture on background threads.
//!
//! Each segment runs from its own checkpoint, so segments are checked in parallel;
//! chunks of segments finish in file order and their matches are appended as they
//! finish, so the timeline fills in from the top while the rest is still being read.
//! A match keeps its process name, so showing it later decodes its block but does not
//! run the state engine again.

use crate::capture::Capture;
use casefile_formats::block::DecodedBlock;
use casefile_rules::compile::Filter;
use casefile_rules::fields::Ctx;
use casefile_rules::state::event_process_name;
use rayon::prelude::*;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The events of some processes: pid → capture positions (inclusive) its process spans.
#[derive(Clone, Debug, Default)]
pub struct ProcessScope {
    /// Shown in the status line (`curl (4242) and descendants`).
    pub label: String,
    pub pids: HashMap<u32, Vec<(u64, u64)>>,
}

impl ProcessScope {
    pub fn contains(&self, pid: u32, position: u64) -> bool {
        self.pids.get(&pid).is_some_and(|spans| {
            spans
                .iter()
                .any(|&(from, to)| (from..=to).contains(&position))
        })
    }
}

/// What the timeline is narrowed to.
#[derive(Clone, Default)]
pub struct TimelineFilter {
    /// The condition's text and its compiled form.
    pub condition: Option<(String, Arc<Filter>)>,
    pub scope: Option<ProcessScope>,
}

impl TimelineFilter {
    pub fn is_empty(&self) -> bool {
        self.condition.is_none() && self.scope.is_none()
    }
}

/// Matches found so far, in capture order.
#[derive(Default)]
pub struct Matches {
    pub positions: Vec<u64>,
    /// Per match, an index into `names`.
    pub name_of: Vec<u32>,
    pub names: Vec<Box<[u8]>>,
    index: HashMap<Box<[u8]>, u32>,
    pub elapsed: Option<Duration>,
}

impl Matches {
    pub fn name(&self, i: usize) -> &[u8] {
        self.name_of
            .get(i)
            .and_then(|&n| self.names.get(n as usize))
            .map_or(b"?", |n| n)
    }

    fn intern(&mut self, name: &[u8]) -> u32 {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let i = self.names.len() as u32;
        self.names.push(name.into());
        self.index.insert(name.into(), i);
        i
    }

    fn append(&mut self, found: SegmentMatches) {
        for (position, name) in found.found {
            let name = self.intern(&found.names[name as usize]);
            self.positions.push(position);
            self.name_of.push(name);
        }
    }
}

/// A filter being evaluated; dropping the handle does not stop it, [`FilterJob::cancel`]
/// does.
pub struct FilterJob {
    pub filter: TimelineFilter,
    pub total: u64,
    pub done: AtomicU64,
    finished: AtomicBool,
    cancel: AtomicBool,
    matches: Mutex<Matches>,
}

impl FilterJob {
    pub fn matches(&self) -> MutexGuard<'_, Matches> {
        self.matches.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn is_finished(&self) -> bool {
        self.finished.load(Ordering::Acquire)
    }

    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    /// Starts evaluating `filter` over `capture` on the rayon pool.
    pub fn start(capture: Arc<Capture>, filter: TimelineFilter) -> Arc<FilterJob> {
        let job = Arc::new(FilterJob {
            filter,
            total: capture.total(),
            done: AtomicU64::new(0),
            finished: AtomicBool::new(false),
            cancel: AtomicBool::new(false),
            matches: Mutex::new(Matches::default()),
        });
        let shared = job.clone();
        let spawned = std::thread::Builder::new()
            .name("casefile-filter".into())
            .spawn(move || {
                let started = Instant::now();
                run(&capture, &shared);
                shared.matches().elapsed = Some(started.elapsed());
                shared.finished.store(true, Ordering::Release);
            });
        if spawned.is_err() {
            job.finished.store(true, Ordering::Release);
        }
        job
    }

    /// Blocks until the job is done (tests and benchmarks).
    pub fn wait(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while !self.is_finished() {
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        true
    }
}

#[derive(Default)]
struct SegmentMatches {
    found: Vec<(u64, u32)>,
    names: Vec<Box<[u8]>>,
    index: HashMap<Box<[u8]>, u32>,
}

fn run(capture: &Capture, job: &FilterJob) {
    let threads = rayon::current_num_threads().max(1);
    // One segment per thread first, so the first rows show as soon as possible; then
    // two per thread, so that a slow segment holds up fewer idle threads.
    let mut groups = Vec::new();
    let mut start = 0;
    let count = capture.segments().len();
    while start < count {
        let size = if start == 0 { threads } else { threads * 2 };
        groups.push(start..(start + size).min(count));
        start += size;
    }
    for group in groups {
        let group: Vec<usize> = group.collect();
        if job.cancel.load(Ordering::Relaxed) {
            return;
        }
        let results: Vec<SegmentMatches> = group
            .par_iter()
            .map(|&segment| check_segment(capture, segment, job))
            .collect();
        let mut matches = job.matches();
        for found in results {
            matches.append(found);
        }
        drop(matches);
        if let Some(&last) = group.last() {
            let end = capture.segments()[last]
                .blocks
                .clone()
                .last()
                .map_or(0, |b| {
                    capture.blocks()[b].first + capture.blocks()[b].count()
                });
            job.done.fetch_max(end, Ordering::Relaxed);
        }
    }
}

fn check_segment(capture: &Capture, segment: usize, job: &FilterJob) -> SegmentMatches {
    let mut out = SegmentMatches::default();
    let mut state = capture.state_engine_for(segment);
    let boot = capture.boot_time_ns();
    let condition = job.filter.condition.as_ref().map(|(_, f)| f.as_ref());
    let scope = job.filter.scope.as_ref();
    // The condition's `evt.type` terms as a table by kind: most events are rejected
    // by one lookup, before any field is read.
    let kinds: Option<Vec<bool>> = condition.and_then(|f| f.event_types.as_ref()).map(|types| {
        let mut table = vec![false; usize::from(u16::MAX) + 1];
        for &t in types {
            table[usize::from(t)] = true;
        }
        table
    });
    let mut decoded = DecodedBlock::default();
    let mut raw = Vec::new();
    for block in capture.segments()[segment].blocks.clone() {
        if job.cancel.load(Ordering::Relaxed) {
            break;
        }
        let entry = capture.blocks()[block];
        if capture
            .reader()
            .decode_events_into(&entry.info, &mut raw, &mut decoded)
            .is_err()
        {
            continue;
        }
        for (row, event) in decoded.events().enumerate() {
            state.update(&event);
            let position = entry.first + row as u64;
            if scope.is_some_and(|s| !s.contains(event.pid, position)) {
                continue;
            }
            if let Some(filter) = condition {
                if kinds
                    .as_ref()
                    .is_some_and(|table| !table[usize::from(event.kind.0)])
                {
                    continue;
                }
                let ctx = Ctx::new(&event, &state, position + 1, boot);
                if !filter.matches(&ctx) {
                    continue;
                }
            }
            let name = event_process_name(&state, &event);
            let name = &*name;
            let id = match out.index.get(name) {
                Some(&i) => i,
                None => {
                    let i = out.names.len() as u32;
                    out.names.push(name.into());
                    out.index.insert(name.into(), i);
                    i
                }
            };
            out.found.push((position, id));
        }
    }
    out
}
