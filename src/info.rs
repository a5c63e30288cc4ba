//! `casefile info`: what a capture holds and whether all of it is intact.

use anyhow::{Context, Result};
use casefile_formats::block::BlockKind;
use casefile_formats::event::{Arg, EventKind};
use casefile_formats::reader::{CaptureReader, CorruptBlock};
use casefile_formats::render::wall_time;
use casefile_formats::schema::kind_info;
use casefile_formats::state::StateSnapshot;
use casefile_formats::text::escape;
use rayon::prelude::*;
use serde_json::json;
use std::collections::{BTreeMap, HashSet};
use std::path::Path;

/// How many unknown pids `info` lists by number.
const UNKNOWN_LISTED: usize = 10;

/// Counts gathered by decoding every block (which also verifies every checksum).
#[derive(Default)]
struct Tally {
    events: u64,
    first_ts: Option<u64>,
    last_ts: Option<u64>,
    by_type: BTreeMap<&'static str, u64>,
    by_source: BTreeMap<String, u64>,
    drops: u64,
    corrupt: Vec<CorruptBlock>,
    /// In event order: the processes events showed and the children forks made, from
    /// which [`unknown_processes`] finds the processes the capture does not know.
    lifecycle: Vec<Lifecycle>,
}

#[derive(Clone, Copy)]
enum Lifecycle {
    /// The first event of this pid in its block.
    Seen(u32),
    Forked(u32),
}

impl Tally {
    fn merge(mut self, other: Tally) -> Tally {
        self.events += other.events;
        self.first_ts = min_opt(self.first_ts, other.first_ts);
        self.last_ts = self.last_ts.max(other.last_ts);
        for (k, v) in other.by_type {
            *self.by_type.entry(k).or_default() += v;
        }
        for (k, v) in other.by_source {
            *self.by_source.entry(k).or_default() += v;
        }
        self.drops += other.drops;
        self.corrupt.extend(other.corrupt);
        self.lifecycle.extend(other.lifecycle);
        self
    }
}

/// The pids of the processes the events show that are in neither the snapshot nor a
/// fork before them, in the order they were met: what the state engine counts as
/// `unknown_processes` on a replay from the start (and every view names
/// `<unknown pid N>`).
fn unknown_processes(snapshot: Option<&StateSnapshot>, lifecycle: &[Lifecycle]) -> Vec<u32> {
    let mut known: HashSet<u32> = snapshot
        .map(|s| s.processes.iter().map(|p| p.pid).collect())
        .unwrap_or_default();
    let mut unknown = Vec::new();
    for step in lifecycle {
        match *step {
            Lifecycle::Seen(pid) => {
                if known.insert(pid) {
                    unknown.push(pid);
                }
            }
            Lifecycle::Forked(child) => {
                known.insert(child);
            }
        }
    }
    unknown
}

fn min_opt(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn tally(reader: &CaptureReader) -> Tally {
    let blocks: Vec<_> = reader.blocks().to_vec();
    // Collected in block order (then merged in that order) so that the lifecycle steps
    // stay in event order.
    let tallies: Vec<Tally> = blocks
        .par_iter()
        .map(|block| {
            let mut t = Tally::default();
            let mut seen_here: HashSet<u32> = HashSet::new();
            match block.header.kind {
                BlockKind::EVENTS => match reader.decode_events(block) {
                    Ok(decoded) => {
                        for event in decoded.events() {
                            t.events += 1;
                            t.first_ts = min_opt(t.first_ts, Some(event.ts));
                            t.last_ts = t.last_ts.max(Some(event.ts));
                            *t.by_type.entry(kind_info(event.kind).name).or_default() += 1;
                            let source = match event.kind {
                                EventKind::SOURCE => match event.args.get(0) {
                                    Some(Arg::Str(s)) => escape(s).into_owned(),
                                    _ => "unknown".into(),
                                },
                                k if k.0 >= EventKind::CAPTURE_START.0 => "casefile".into(),
                                _ => "syscall".into(),
                            };
                            *t.by_source.entry(source).or_default() += 1;
                            let kind = event.kind;
                            if kind.is_syscall()
                                || kind == EventKind::FORK
                                || kind == EventKind::PROC_EXIT
                            {
                                if seen_here.insert(event.pid) {
                                    t.lifecycle.push(Lifecycle::Seen(event.pid));
                                }
                                let child = event.args.get(0).and_then(|a| a.as_u64());
                                if let (EventKind::FORK, Some(child)) = (kind, child) {
                                    let child = child as u32;
                                    seen_here.insert(child);
                                    t.lifecycle.push(Lifecycle::Forked(child));
                                }
                            }
                            if event.kind == EventKind::DROPS {
                                if let Some(Arg::Uint(n)) = event.args.get(1) {
                                    t.drops += n;
                                }
                            }
                        }
                    }
                    Err(e) => t.corrupt.push(corrupt(block, e)),
                },
                BlockKind::SNAPSHOT | BlockKind::CHECKPOINT => {
                    if let Err(e) = reader.read_state(block) {
                        t.corrupt.push(corrupt(block, e));
                    }
                }
                _ => {}
            }
            t
        })
        .collect();
    let mut tally = tallies.into_iter().fold(Tally::default(), Tally::merge);
    tally.corrupt.sort_by_key(|c| c.offset);
    tally
}

fn corrupt(
    block: &casefile_formats::reader::BlockInfo,
    e: casefile_formats::error::FormatError,
) -> CorruptBlock {
    CorruptBlock {
        offset: block.offset,
        seq: block.header.seq,
        detail: match e {
            casefile_formats::error::FormatError::Block { detail, .. } => detail,
            other => other.to_string(),
        },
    }
}

/// Prints the report; returns whether the file is damaged (corrupt blocks or regions).
pub fn run(path: &Path, as_json: bool) -> Result<bool> {
    let reader = CaptureReader::open(path)?;
    let tally = tally(&reader);
    let header = reader.header();
    let boot = header.host.boot_time_ns;
    let count = |kind: BlockKind| {
        reader
            .blocks()
            .iter()
            .filter(|b| b.header.kind == kind)
            .count()
    };
    let blocks = reader.blocks().len();
    let checkpoints = count(BlockKind::CHECKPOINT);
    let bytes = reader.file_len();
    let start_ts = tally.first_ts.unwrap_or(header.start_ts);
    let end_ts = tally.last_ts.unwrap_or(start_ts);
    let bytes_per_event = if tally.events > 0 {
        bytes as f64 / tally.events as f64
    } else {
        0.0
    };
    let damaged = !tally.corrupt.is_empty() || !reader.damaged_regions().is_empty();
    let snapshot = match reader.initial_state() {
        Some(Ok(snapshot)) => Some(snapshot),
        _ => None,
    };
    let unknown = unknown_processes(snapshot.as_ref(), &tally.lifecycle);
    let (major, minor) = reader.version();

    if as_json {
        let corrupt: Vec<_> = tally
            .corrupt
            .iter()
            .map(|c| json!({"offset": c.offset, "seq": c.seq, "detail": c.detail}))
            .collect();
        let regions: Vec<_> = reader
            .damaged_regions()
            .iter()
            .map(|r| json!({"offset": r.offset, "len": r.len, "detail": r.detail}))
            .collect();
        let report = json!({
            "file": path.display().to_string(),
            "format_version": format!("{major}.{minor}"),
            "writer": escape(header.writer.as_bytes()),
            "event_layout_version": header.event_layout_version,
            "host": {
                "hostname": escape(header.host.hostname.as_bytes()),
                "kernel_release": escape(header.host.kernel_release.as_bytes()),
                "machine_id": escape(header.host.machine_id.as_bytes()),
                "boot_time_ns": boot,
                "cpus": header.host.cpus,
                "cloud_instance_id": header.host.cloud_instance_id.as_deref().map(|s| escape(s.as_bytes()).into_owned()),
            },
            "config": {
                "syscall_set": header.config.syscall_set,
                "snaplen": header.config.snaplen,
                "filters": header.config.filters,
                "source": header.config.source,
            },
            "events": tally.events,
            "drops": tally.drops,
            "blocks": blocks,
            "checkpoints": checkpoints,
            "bytes": bytes,
            "bytes_per_event": bytes_per_event,
            "start_ns": boot.saturating_add(start_ts),
            "end_ns": boot.saturating_add(end_ts),
            "start_ts": start_ts,
            "end_ts": end_ts,
            "by_type": tally.by_type,
            "by_source": tally.by_source,
            "unknown_processes": unknown.len(),
            "unknown_pids": unknown.iter().take(UNKNOWN_LISTED).collect::<Vec<_>>(),
            "trailer": reader.trailer().is_some(),
            "truncated_bytes": reader.truncated_bytes(),
            "corrupt_blocks": tally.corrupt.len(),
            "corrupt": corrupt,
            "damaged_regions": regions,
            "warnings": reader.warnings(),
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&report).context("rendering JSON")?
        );
        return Ok(damaged);
    }

    let host = &header.host;
    println!(
        "File        {} ({}, format {major}.{minor}, written by {})",
        escape(path.as_os_str().as_encoded_bytes()),
        human_bytes(bytes),
        escape(header.writer.as_bytes())
    );
    println!(
        "Host        {} (kernel {}, {} cpus, machine-id {}{})",
        escape(host.hostname.as_bytes()),
        escape(host.kernel_release.as_bytes()),
        host.cpus,
        escape(host.machine_id.as_bytes()),
        host.cloud_instance_id
            .as_deref()
            .map(|id| format!(", instance {}", escape(id.as_bytes())))
            .unwrap_or_default()
    );
    println!(
        "Capture     syscalls: {}, snaplen {}, filters: {}, source: {}",
        header.config.syscall_set,
        header.config.snaplen,
        if header.config.filters.is_empty() {
            "none".to_string()
        } else {
            escape(header.config.filters.join(" ").as_bytes()).into_owned()
        },
        escape(header.config.source.as_bytes())
    );
    println!(
        "Time        {} .. {} ({:.3} s)",
        wall_time(boot.saturating_add(start_ts)),
        wall_time(boot.saturating_add(end_ts)),
        end_ts.saturating_sub(start_ts) as f64 / 1e9
    );
    println!(
        "Events      {} ({bytes_per_event:.2} bytes/event on disk), {} dropped by the kernel side",
        tally.events, tally.drops
    );
    println!(
        "Blocks      {blocks}: {} events, {} snapshot, {checkpoints} checkpoints{}",
        count(BlockKind::EVENTS),
        count(BlockKind::SNAPSHOT),
        if reader.trailer().is_some() {
            ", trailer with index"
        } else {
            ", no trailer (found by scanning)"
        }
    );
    if !damaged && reader.truncated_bytes() == 0 {
        println!("Integrity   all {blocks} block checksums verified");
    } else {
        println!(
            "Integrity   {} of {blocks} blocks verified",
            blocks - tally.corrupt.len()
        );
    }
    if reader.truncated_bytes() > 0 {
        println!(
            "            {} bytes at the end are not a complete block (recorder killed or disk full?)",
            reader.truncated_bytes()
        );
    }
    if reader.trailer().is_none() {
        println!(
            "            truncated: the recorder did not finish the file (killed, crashed or \
             disk full); every complete block was read"
        );
    }
    for c in &tally.corrupt {
        println!(
            "            corrupt block #{} at offset {}: {}",
            c.seq, c.offset, c.detail
        );
    }
    for r in reader.damaged_regions() {
        println!(
            "            {} damaged bytes at offset {}: {}",
            r.len, r.offset, r.detail
        );
    }
    for w in reader.warnings() {
        println!("            warning: {w}");
    }
    if !unknown.is_empty() {
        let mut pids: Vec<String> = unknown
            .iter()
            .take(UNKNOWN_LISTED)
            .map(u32::to_string)
            .collect();
        if unknown.len() > UNKNOWN_LISTED {
            pids.push("…".into());
        }
        println!(
            "Processes   {} not known to the capture (in neither its snapshot nor a fork; shown as <unknown pid N>): {}",
            unknown.len(),
            pids.join(", ")
        );
    }
    println!(
        "By source   {}",
        join_counts(tally.by_source.iter().map(|(k, v)| (k.as_str(), *v)))
    );
    let mut by_type: Vec<_> = tally.by_type.iter().map(|(k, v)| (*k, *v)).collect();
    by_type.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    println!("By type     {}", join_counts(by_type.into_iter()));
    Ok(damaged)
}

fn join_counts<'a>(counts: impl Iterator<Item = (&'a str, u64)>) -> String {
    let parts: Vec<String> = counts.map(|(k, v)| format!("{k} {v}")).collect();
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(", ")
    }
}

fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
