//! Writes a synthetic capture (see `casefile_formats::synthetic`) for trying the CLI and
//! for tests: `cargo run -p casefile-formats --example write_synthetic -- OUT [EVENTS] [SEED]`.

use casefile_formats::synthetic::SyntheticWorkload;
use casefile_formats::writer::{CaptureWriter, WriterOptions};
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(out) = args.next().map(PathBuf::from) else {
        eprintln!("usage: write_synthetic OUT [EVENTS] [SEED]");
        return ExitCode::from(2);
    };
    let parse = |value: Option<String>, default: u64, what: &str| match value {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| format!("{what} must be a number, not {v:?}")),
    };
    let (events, seed) = match (
        parse(args.next(), 100_000, "EVENTS"),
        parse(args.next(), 1, "SEED"),
    ) {
        (Ok(e), Ok(s)) => (e, s),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("write_synthetic: {e}");
            return ExitCode::from(2);
        }
    };
    let mut workload = SyntheticWorkload::new(seed);
    let options = WriterOptions {
        block_events: 8_192,
        checkpoint_blocks: 4,
        ..WriterOptions::default()
    };
    let result = (|| {
        let mut writer =
            CaptureWriter::create(&out, &workload.header(), &workload.snapshot(), options)?;
        for _ in 0..events {
            let event = workload.next_event();
            writer.push(&event.as_event())?;
            if writer.checkpoint_due() {
                writer.write_checkpoint(&workload.snapshot())?;
            }
        }
        writer.finish_and_sync()
    })();
    match result {
        Ok(stats) => {
            eprintln!("wrote {} events to {}", stats.events, out.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("write_synthetic: {e}");
            ExitCode::from(1)
        }
    }
}
