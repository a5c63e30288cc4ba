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
