//! Capture format throughput and size on the synthetic workload (issue 2's figures):
//! writer events/s with zstd on one core, reader events/s on one core, bytes/event on
//! disk. Run with `cargo bench --bench capture_format`; the bytes/event figure is
//! printed before criterion's timings.

use casefile_formats::event::OwnedEvent;
use casefile_formats::reader::CaptureReader;
use casefile_formats::synthetic::SyntheticWorkload;
use casefile_formats::writer::{CaptureWriter, WriterOptions};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use std::path::Path;

const EVENTS: usize = 1_000_000;

fn events() -> (SyntheticWorkload, Vec<OwnedEvent>) {
    let mut workload = SyntheticWorkload::new(42);
    let events = (0..EVENTS).map(|_| workload.next_event()).collect();
    (SyntheticWorkload::new(42), events)
}

fn write_file(path: &Path, workload: &SyntheticWorkload, events: &[OwnedEvent]) -> u64 {
    let _ = std::fs::remove_file(path);
    let mut writer = CaptureWriter::create(
        path,
        &workload.header(),
        &workload.snapshot(),
        WriterOptions::default(),
    )
    .expect("create");
    for event in events {
        writer.push(&event.as_event()).expect("push");
        if writer.checkpoint_due() {
            writer
                .write_checkpoint(&workload.snapshot())
                .expect("checkpoint");
        }
    }
    writer.finish().expect("finish");
    std::fs::metadata(path).expect("stat").len()
}

fn bench(c: &mut Criterion) {
    // Keep everything on one core, as the figures are per core.
    rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build_global()
        .ok();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bench.cfcap");
    let (workload, events) = events();
    let bytes = write_file(&path, &workload, &events);
    println!(
        "capture_format: {} events, {} bytes on disk, {:.2} bytes/event",
        events.len(),
        bytes,
        bytes as f64 / events.len() as f64
    );

    let mut group = c.benchmark_group("capture_format");
    group.sample_size(10);
    group.throughput(Throughput::Elements(events.len() as u64));
    group.bench_function("write_zstd", |b| {
        b.iter(|| black_box(write_file(&path, &workload, &events)))
    });
    write_file(&path, &workload, &events);
    group.bench_function("read_sequential", |b| {
        b.iter(|| {
            let reader = CaptureReader::open(&path).expect("open");
            let mut sum = 0u64;
            let report = reader.for_each_event(0, u64::MAX, |e| {
                sum = sum.wrapping_add(e.ts ^ u64::from(e.tid));
                std::ops::ControlFlow::Continue(())
            });
            assert_eq!(report.events, EVENTS as u64);
            black_box(sum)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
