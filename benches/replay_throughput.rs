//! Replay throughput (issue 5's figures): a ≥ 20M-event capture through the rule engine
//! with Falco's stable ruleset loaded — decompression, state and rules included — on one
//! thread and on every core, and the parallel speed-up.
//!
//! `cargo bench --bench replay_throughput` replays a synthetic 20M-event capture written
//! with checkpoints as the recorder writes them (cached in target/bench-data). Set
//! `CASEFILE_BENCH_CAPTURE=FILE` to replay a recorded capture instead. Needs
//! `../shared/corpus/falco/falco_rules.yaml`.

use casefile_replay::fixture::bench_capture;
use casefile_replay::{replay, CaptureSet, ReplayOptions};
use casefile_rules::engine::CompiledRules;
use casefile_rules::loader::load_files;
use std::path::PathBuf;
use std::sync::Arc;

const EVENTS: u64 = 20_000_000;
const ROUNDS: usize = 2;

fn main() {
    let root = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("run by cargo"));
    let rules_path = root.join("../shared/corpus/falco/falco_rules.yaml");
    if !rules_path.exists() {
        eprintln!(
            "replay_throughput: SKIPPED, {} is absent",
            rules_path.display()
        );
        return;
    }
    let capture =
        bench_capture(&root.join("target/bench-data"), EVENTS).expect("the bench capture");
    let set = CaptureSet::open(&[&capture]).expect("opens the capture");
    let size = std::fs::metadata(&capture).map(|m| m.len()).unwrap_or(0);
    let segments = set.work_units().len();
    println!(
        "replay_throughput: {} ({:.0} MB, {} events, {segments} segments), rules {}",
        capture.display(),
        size as f64 / 1e6,
        set.total_events(),
        rules_path.display()
    );
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut best = [0f64; 2];
    for round in 0..ROUNDS {
        for (slot, threads) in [1, cores].into_iter().enumerate() {
            let rules = Arc::new(CompiledRules::new(load_files(std::slice::from_ref(
                &rules_path,
            ))));
            let options = ReplayOptions {
                threads,
                ..ReplayOptions::default()
            };
            let mut alerts = 0u64;
            let report = replay(&set, rules, &options, |_| alerts += 1, |_, _| {});
            let rate = report.events_per_second();
            best[slot] = best[slot].max(rate);
            println!(
                "  round {round}: {threads} thread(s): {} events in {:.2}s = {:.2} M events/s ({:.2} M/s per thread), {alerts} alerts",
                report.events_read,
                report.elapsed.as_secs_f64(),
                rate / 1e6,
                rate / 1e6 / threads as f64
            );
        }
    }
    println!(
        "replay_throughput: best 1 thread {:.2} M events/s; best {cores} threads {:.2} M events/s; speed-up {:.2}x",
        best[0] / 1e6,
        best[1] / 1e6,
        best[1] / best[0].max(1.0)
    );
}
