//! Synthetic captures written the way the recorder writes a live one — blocks, and a
//! checkpoint of the state engine's state whenever the writer asks for one — so replay
//! (sequential against parallel) can be tested and benchmarked without root.

use casefile_formats::error::FormatError;
use casefile_formats::header::CaptureStats;
use casefile_formats::synthetic::SyntheticWorkload;
use casefile_formats::writer::{CaptureWriter, WriterOptions};
use casefile_rules::state::StateEngine;
use std::path::Path;

/// Writes `events` events of the seeded synthetic workload to `path` (which must not
/// exist), with checkpoints as `options` asks.
pub fn write_synthetic_capture(
    path: &Path,
    events: u64,
    seed: u64,
    options: WriterOptions,
) -> Result<CaptureStats, FormatError> {
    let mut workload = SyntheticWorkload::new(seed);
    let snapshot = workload.snapshot();
    let mut state = StateEngine::from_snapshot(&snapshot);
    let mut writer = CaptureWriter::create(path, &workload.header(), &snapshot, options)?;
    for _ in 0..events {
        let event = workload.next_event();
        let event = event.as_event();
        state.update(&event);
        writer.push(&event)?;
        if writer.checkpoint_due() {
            writer.write_checkpoint(&state.snapshot(event.ts))?;
        }
    }
    writer.finish_and_sync()
}

/// The benchmarks' capture: `CASEFILE_BENCH_CAPTURE` when set, else the seeded synthetic
/// capture of `events` events cached under `dir` (written once, through a partial file
/// renamed into place, so an interrupted write is never taken for a whole one).
pub fn bench_capture(dir: &Path, events: u64) -> Result<std::path::PathBuf, FormatError> {
    if let Some(path) = std::env::var_os("CASEFILE_BENCH_CAPTURE") {
        return Ok(path.into());
    }
    let path = dir.join(format!("synthetic-{events}.case"));
    if !path.exists() {
        std::fs::create_dir_all(dir).map_err(|e| FormatError::io(dir, e))?;
        let partial = dir.join("synthetic.partial");
        let _ = std::fs::remove_file(&partial);
        eprintln!(
            "writing a {events}-event synthetic capture to {} …",
            path.display()
        );
        write_synthetic_capture(&partial, events, 42, WriterOptions::default())?;
        std::fs::rename(&partial, &path).map_err(|e| FormatError::io(&path, e))?;
    }
    Ok(path)
}
