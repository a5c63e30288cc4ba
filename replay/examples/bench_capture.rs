//! Prints the path of the benchmarks' synthetic capture, writing it first when it is
//! not cached yet (`replay::fixture::bench_capture`): lets benchmark scripts share the
//! capture the Rust benchmarks use.
//!
//!     cargo run --release -p casefile-replay --example bench_capture -- DIR EVENTS

use casefile_replay::fixture::bench_capture;
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(dir), Some(events)) = (args.next(), args.next()) else {
        return Err("usage: bench_capture DIR EVENTS".into());
    };
    let events: u64 = events
        .parse()
        .map_err(|e| format!("EVENTS {events:?}: {e}"))?;
    let path = bench_capture(&PathBuf::from(dir), events)?;
    println!("{}", path.display());
    Ok(())
}
