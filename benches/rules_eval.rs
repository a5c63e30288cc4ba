//! Rule evaluation throughput (issue 4's figure): the synthetic event stream through the
//! rule engine with Falco's stable ruleset loaded (state updates included, no I/O), and
//! the same stream through the engine with no rules (the state engine's cost alone).
//! Run with `cargo bench --bench rules_eval`; needs `../shared/corpus/falco/falco_rules.yaml`.

use casefile_formats::event::OwnedEvent;
use casefile_formats::synthetic::SyntheticWorkload;
use casefile_rules::engine::Engine;
use casefile_rules::loader::{load_files, load_str};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::hint::black_box;
use std::path::PathBuf;

const EVENTS: usize = 200_000;

fn bench(c: &mut Criterion) {
    let path = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("run by cargo"))
        .join("../shared/corpus/falco/falco_rules.yaml");
    if !path.exists() {
        eprintln!("rules_eval: SKIPPED, {} is absent", path.display());
        return;
    }
    let mut workload = SyntheticWorkload::new(7);
    let snapshot = workload.snapshot();
    let events: Vec<OwnedEvent> = (0..EVENTS).map(|_| workload.next_event()).collect();
    let mut alerts = 0usize;
    {
        let mut engine = Engine::new(
            load_files(std::slice::from_ref(&path)),
            &snapshot,
            "bench",
            0,
        );
        for e in &events {
            engine.process(&e.as_event(), |_| alerts += 1);
        }
    }
    println!("rules_eval: {EVENTS} synthetic events, {alerts} alerts with falco_rules.yaml");

    let mut group = c.benchmark_group("rules_eval");
    group.sample_size(10);
    group.throughput(Throughput::Elements(EVENTS as u64));
    // Loading the rules is set-up, not evaluation: engines are built outside the timing.
    group.bench_function("falco_rules", |b| {
        b.iter_batched(
            || {
                Engine::new(
                    load_files(std::slice::from_ref(&path)),
                    &snapshot,
                    "bench",
                    0,
                )
            },
            |mut engine| {
                let mut n = 0usize;
                for e in &events {
                    engine.process(&e.as_event(), |_| n += 1);
                }
                black_box(n)
            },
            BatchSize::LargeInput,
        )
    });
    group.bench_function("no_rules", |b| {
        b.iter_batched(
            || Engine::new(load_str("none.yaml", "[]"), &snapshot, "bench", 0),
            |mut engine| {
                for e in &events {
                    engine.process(&e.as_event(), |_| {});
                }
                black_box(engine.state().processes().count())
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
