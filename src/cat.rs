//! `casefile cat`: the events of a capture as text lines or JSON lines.

use crate::timespec::parse_time;
use anyhow::{Context, Result};

use casefile_formats::reader::CaptureReader;
use casefile_formats::render::{event_json, event_line};
use casefile_rules::state::{event_process_name, StateEngine};
use std::io::{BufWriter, Write};
use std::ops::ControlFlow;
use std::path::Path;

pub struct CatOptions<'a> {
    pub json: bool,
    pub from: Option<&'a str>,
    pub to: Option<&'a str>,
}

/// Prints the events; returns whether damage was met on the way.
pub fn run(path: &Path, options: &CatOptions<'_>) -> Result<bool> {
    let reader = CaptureReader::open(path)?;
    let header = reader.header();
    let boot = header.host.boot_time_ns;
    let start = reader
        .event_blocks()
        .map(|b| b.header.first_ts)
        .min()
        .unwrap_or(header.start_ts);
    let from = match options.from {
        Some(t) => parse_time(t, boot, start).context("--from")?,
        None => 0,
    };
    let to = match options.to {
        Some(t) => parse_time(t, boot, start).context("--to")?,
        None => u64::MAX,
    };
    for warning in reader.warnings() {
        eprintln!("casefile: warning: {}: {warning}", path.display());
    }
    let snapshot = match reader.initial_state() {
        Some(Ok(s)) => Some(s),
        Some(Err(e)) => {
            eprintln!("casefile: warning: {e}; process names will be missing");
            None
        }
        None => None,
    };
    // Names must reflect forks and execs before the window, so walk from the start,
    // through the state engine every other view names processes with.
    let mut state = snapshot
        .as_ref()
        .map_or_else(StateEngine::new, StateEngine::from_snapshot);
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut write_error = None;
    let report = reader.for_each_event(0, to, |event| {
        state.update(event);
        let process = event_process_name(&state, event);
        if event.ts >= from {
            let result = if options.json {
                serde_json::to_writer(&mut out, &event_json(event, boot, &process))
                    .map_err(std::io::Error::from)
                    .and_then(|()| out.write_all(b"\n"))
            } else {
                writeln!(out, "{}", event_line(event, boot, &process))
            };
            if let Err(e) = result {
                write_error = Some(e);
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    });
    let flushed = out.flush();
    match write_error.map_or(flushed, Err) {
        // `casefile cat | head` is normal use, not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(false),
        Err(e) => return Err(e).context("writing to standard output"),
        Ok(()) => {}
    }
    for c in &report.corrupt_blocks {
        eprintln!(
            "casefile: {}: skipped corrupt block #{} at offset {}: {}",
            path.display(),
            c.seq,
            c.offset,
            c.detail
        );
    }
    for r in reader.damaged_regions() {
        eprintln!(
            "casefile: {}: skipped {} damaged bytes at offset {}: {}",
            path.display(),
            r.len,
            r.offset,
            r.detail
        );
    }
    if reader.truncated_bytes() > 0 {
        eprintln!(
            "casefile: {}: the last {} bytes are not a complete block and were not read",
            path.display(),
            reader.truncated_bytes()
        );
    }
    Ok(!report.corrupt_blocks.is_empty() || !reader.damaged_regions().is_empty())
}
