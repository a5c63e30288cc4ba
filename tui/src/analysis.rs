//! The background pass over the whole capture that the first screen does not wait for:
//! the rules' alerts and the process tree, gathered in one sequential run of the rule
//! engine, with progress the status line shows.
//!
//! The pass numbers events (`evt.num`) and restarts from checkpoints after damaged
//! blocks exactly as `casefile replay --threads 1` does, so its alerts are replay's.

use crate::capture::Capture;
use casefile_formats::block::DecodedBlock;
use casefile_formats::event::{Event, EventKind};
use casefile_formats::schema::syscall_nr;
use casefile_rules::engine::{Alert, CompiledRules, Engine};
use casefile_rules::state::{forked_process, unknown_process_name, Process, StateEngine};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// One process (a pid between its fork, or the capture's start, and its exit). Its
/// name and command line are those of its last exec.
#[derive(Clone, Debug, Default)]
pub struct ProcNode {
    pub pid: u32,
    pub ppid: u32,
    pub parent: Option<usize>,
    pub children: Vec<usize>,
    pub comm: Vec<u8>,
    pub exepath: Vec<u8>,
    pub cmdline: Vec<u8>,
    pub uid: u32,
    pub user: Vec<u8>,
    /// `host`, or the short container id.
    pub container: String,
    pub pod_uid: String,
    pub start_ts: u64,
    pub end_ts: Option<u64>,
    /// Capture position of the fork that made it (0 for processes of the snapshot).
    pub created_at: u64,
    /// Position of its main thread's exit, when it exited in the capture.
    pub exited_at: Option<u64>,
    pub first_event: Option<u64>,
    pub events: u64,
}

impl ProcNode {
    fn refresh(&mut self, p: &Process, state: &StateEngine) {
        self.ppid = p.ppid;
        self.comm = p.display_name().into_owned();
        self.exepath = p.exepath.as_bytes().to_vec();
        self.cmdline = p.cmdline();
        self.uid = p.euid;
        self.user = state
            .user(p.euid)
            .map(|u| u.name.as_bytes().to_vec())
            .unwrap_or_default();
        self.container = if p.container_id.is_empty() {
            "host".to_string()
        } else {
            p.container_id.chars().take(12).collect()
        };
        self.pod_uid = p.pod_uid.clone();
        if self.start_ts == 0 {
            self.start_ts = p.start_ts;
        }
    }
}

/// Every process the capture knows, linked parent to children.
#[derive(Clone, Debug, Default)]
pub struct ProcessTree {
    pub nodes: Vec<ProcNode>,
    pub roots: Vec<usize>,
    by_pid: HashMap<u32, Vec<usize>>,
}

impl ProcessTree {
    /// The process of pid `pid` at capture position `position`.
    pub fn find(&self, pid: u32, position: u64) -> Option<usize> {
        let nodes = self.by_pid.get(&pid)?;
        nodes
            .iter()
            .rev()
            .find(|&&n| self.nodes[n].created_at <= position)
            .or_else(|| nodes.first())
            .copied()
    }

    /// `node` and everything below it, depth first.
    pub fn subtree(&self, node: usize) -> Vec<usize> {
        let mut out = Vec::new();
        let mut stack = vec![node];
        while let Some(n) = stack.pop() {
            if out.len() > self.nodes.len() {
                break; // a cycle would be a bug; never loop on it
            }
            out.push(n);
            if let Some(node) = self.nodes.get(n) {
                stack.extend(node.children.iter().rev());
            }
        }
        out
    }

    /// `node`'s ancestors, nearest first.
    pub fn ancestors(&self, node: usize) -> Vec<usize> {
        let mut out = Vec::new();
        let mut next = self.nodes.get(node).and_then(|n| n.parent);
        while let Some(n) = next {
            if out.contains(&n) || out.len() > 256 {
                break;
            }
            out.push(n);
            next = self.nodes[n].parent;
        }
        out
    }
}

/// Builds the tree from the events the rule engine's state has just applied.
struct TreeBuilder {
    nodes: Vec<ProcNode>,
    current: HashMap<u32, usize>,
    execve: u16,
    execveat: u16,
}

impl TreeBuilder {
    fn new(state: &StateEngine) -> TreeBuilder {
        let mut builder = TreeBuilder {
            nodes: Vec::new(),
            current: HashMap::new(),
            execve: syscall_nr("execve").unwrap_or(u16::MAX),
            execveat: syscall_nr("execveat").unwrap_or(u16::MAX),
        };
        let mut initial: Vec<&Process> = state.processes().collect();
        initial.sort_by_key(|p| p.pid);
        for p in initial {
            builder.add(p.pid, Some(p), state, 0, p.start_ts);
        }
        builder
    }

    fn add(
        &mut self,
        pid: u32,
        process: Option<&Process>,
        state: &StateEngine,
        position: u64,
        ts: u64,
    ) -> usize {
        let mut node = ProcNode {
            pid,
            created_at: position,
            start_ts: ts,
            container: "host".into(),
            ..ProcNode::default()
        };
        match process {
            Some(p) => node.refresh(p, state),
            None => node.comm = unknown_process_name(pid).into_bytes(),
        }
        node.parent = self.current.get(&node.ppid).copied();
        let index = self.nodes.len();
        self.nodes.push(node);
        self.current.insert(pid, index);
        index
    }

    fn observe(&mut self, event: &Event<'_>, state: &StateEngine, position: u64) {
        if let Some(child) = forked_process(event) {
            self.add(child, state.process(child), state, position, event.ts);
        }
        let node = match self.current.get(&event.pid) {
            Some(&n) => n,
            None => self.add(
                event.pid,
                state.process(event.pid),
                state,
                position,
                event.ts,
            ),
        };
        let is_exec = event.kind.0 == self.execve || event.kind.0 == self.execveat;
        if is_exec && event.ret == 0 {
            if let Some(p) = state.process(event.pid) {
                self.nodes[node].refresh(p, state);
            }
        }
        let n = &mut self.nodes[node];
        n.events += 1;
        n.first_event.get_or_insert(position);
        if event.kind == EventKind::PROC_EXIT && event.pid == event.tid {
            n.end_ts = Some(event.ts);
            n.exited_at = Some(position);
        }
    }

    fn finish(mut self) -> ProcessTree {
        let mut roots = Vec::new();
        let mut by_pid: HashMap<u32, Vec<usize>> = HashMap::new();
        for i in 0..self.nodes.len() {
            by_pid.entry(self.nodes[i].pid).or_default().push(i);
            // Processes of the snapshot were added in pid order, so a parent with a
            // higher pid was not known yet: link them now.
            if self.nodes[i].parent.is_none() && self.nodes[i].ppid != 0 {
                let ppid = self.nodes[i].ppid;
                self.nodes[i].parent = self
                    .nodes
                    .iter()
                    .position(|n| n.pid == ppid && n.created_at == 0)
                    .filter(|&p| p != i);
            }
            match self.nodes[i].parent {
                Some(p) => self.nodes[p].children.push(i),
                None => roots.push(i),
            }
        }
        let nodes = &self.nodes;
        let order = |a: &usize, b: &usize| {
            (nodes[*a].created_at, nodes[*a].pid).cmp(&(nodes[*b].created_at, nodes[*b].pid))
        };
        let mut children: Vec<Vec<usize>> = nodes.iter().map(|n| n.children.clone()).collect();
        for list in &mut children {
            list.sort_by(order);
        }
        roots.sort_by(order);
        for (node, list) in self.nodes.iter_mut().zip(children) {
            node.children = list;
        }
        ProcessTree {
            nodes: self.nodes,
            roots,
            by_pid,
        }
    }
}

/// What the pass has found so far.
#[derive(Default)]
pub struct AnalysisOut {
    pub alerts: Vec<Alert>,
    /// Set when the pass is over.
    pub tree: Option<Arc<ProcessTree>>,
    /// Blocks that did not decode, as messages.
    pub skipped: Vec<String>,
    pub elapsed: Option<Duration>,
}

/// Shared between the pass's thread and the interface.
pub struct Analysis {
    pub total: u64,
    pub done: AtomicU64,
    pub finished: AtomicBool,
    pub cancel: AtomicBool,
    pub rules: usize,
    out: Mutex<AnalysisOut>,
}

impl Analysis {
    pub fn out(&self) -> MutexGuard<'_, AnalysisOut> {
        // A panic in the pass leaves its results as far as they got; still show them.
        self.out.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn is_finished(&self) -> bool {
        self.finished.load(Ordering::Acquire)
    }

    /// Starts the pass on its own thread.
    pub fn start(capture: Arc<Capture>, rules: Arc<CompiledRules>) -> Arc<Analysis> {
        let analysis = Arc::new(Analysis {
            total: capture.total(),
            done: AtomicU64::new(0),
            finished: AtomicBool::new(false),
            cancel: AtomicBool::new(false),
            rules: rules.rules().len(),
            out: Mutex::new(AnalysisOut::default()),
        });
        let shared = analysis.clone();
        let spawned = std::thread::Builder::new()
            .name("casefile-analysis".into())
            .spawn(move || {
                let started = Instant::now();
                let tree = run(&capture, rules, &shared);
                let mut out = shared.out();
                out.tree = Some(Arc::new(tree));
                out.elapsed = Some(started.elapsed());
                drop(out);
                shared.finished.store(true, Ordering::Release);
            });
        if let Err(e) = spawned {
            let mut out = analysis.out();
            out.skipped
                .push(format!("could not start the analysis thread: {e}"));
            out.tree = Some(Arc::new(ProcessTree::default()));
            drop(out);
            analysis.finished.store(true, Ordering::Release);
        }
        analysis
    }
}

fn run(capture: &Capture, rules: Arc<CompiledRules>, shared: &Analysis) -> ProcessTree {
    let hostname = capture.hostname().to_string();
    let boot = capture.boot_time_ns();
    let new_engine = |segment: usize| {
        let snapshot = capture.segment_state(segment);
        let engine = Engine::with_rules(
            rules.clone(),
            &snapshot.unwrap_or_default(),
            &hostname,
            boot,
        );
        (engine, capture.segments()[segment].state.is_some())
    };
    let (mut engine, _) = new_engine(0);
    let mut tree = TreeBuilder::new(engine.state());
    let mut resync = false;
    let mut decoded = DecodedBlock::default();
    let mut raw = Vec::new();
    let mut batch = Vec::new();
    for (index, segment) in capture.segments().iter().enumerate() {
        if index > 0 && resync {
            // After damage, continue from this segment's checkpoint, as replay does.
            let (fresh, had_state) = new_engine(index);
            if had_state {
                engine = fresh;
            }
        }
        resync = false;
        for block in segment.blocks.clone() {
            if shared.cancel.load(Ordering::Relaxed) {
                return tree.finish();
            }
            let entry = capture.blocks()[block];
            engine.set_events_before(entry.first);
            if let Err(e) = capture
                .reader()
                .decode_events_into(&entry.info, &mut raw, &mut decoded)
            {
                shared.out().skipped.push(e.to_string());
                resync = true;
                continue;
            }
            for (row, event) in decoded.events().enumerate() {
                engine.process(&event, |alert| batch.push(alert));
                tree.observe(&event, engine.state(), entry.first + row as u64);
            }
            if !batch.is_empty() {
                shared.out().alerts.append(&mut batch);
            }
            shared
                .done
                .store(entry.first + entry.count(), Ordering::Relaxed);
        }
    }
    tree.finish()
}
