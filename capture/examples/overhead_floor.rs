//! Attaches the benchmark floors of `ebpf/bpf/floor.bpf.c` until stdin closes; used by
//! `benches/record_overhead.sh`. Needs root. The argument picks the floor:
//! * `both` (the default): do-nothing programs on sys_enter and sys_exit;
//! * `exit`: a do-nothing program on sys_exit only, the floor of a recorder that, like
//!   casefile's, reads every argument at exit;
//! * `minimal`: the least record there is (timestamp, ids, number, return value) sent
//!   through a ring buffer this process drains; prints the records it read and the
//!   records the ring had no room for when it ends.

use aya::maps::{PerCpuArray, RingBuf};
use aya::programs::BtfTracePoint;
use aya::{Btf, EbpfLoader};
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mode = std::env::args().nth(1).unwrap_or_else(|| "both".into());
    let programs: &[(&str, &str)] = match mode.as_str() {
        "both" => &[("floor_enter", "sys_enter"), ("floor_exit", "sys_exit")],
        "exit" => &[("floor_exit", "sys_exit")],
        "minimal" => &[("floor_minimal", "sys_exit")],
        other => return Err(format!("unknown floor {other:?}: both, exit or minimal").into()),
    };
    let btf = Btf::from_sys_fs()?;
    let self_tgid = std::process::id();
    let mut ebpf = EbpfLoader::new()
        .btf(Some(&btf))
        .override_global("self_tgid", &self_tgid, true)
        .load(casefile_ebpf::FLOOR_OBJECT)?;
    for &(program, tracepoint) in programs {
        let prog: &mut BtfTracePoint = ebpf
            .program_mut(program)
            .ok_or("program missing")?
            .try_into()?;
        prog.load(tracepoint, &btf)?;
        prog.attach()?;
    }

    // The minimal floor's ring is drained the way the recorder drains its own: woken
    // by nothing, polled on a short timer.
    let done = Arc::new(AtomicBool::new(false));
    let drainer = if mode == "minimal" {
        let mut ring = RingBuf::try_from(ebpf.take_map("minimal_ring").ok_or("ring missing")?)?;
        let done = Arc::clone(&done);
        Some(std::thread::spawn(move || {
            let mut records = 0u64;
            loop {
                let finished = done.load(Ordering::Acquire);
                while let Some(record) = ring.next() {
                    records += u64::from(!record.is_empty());
                }
                if finished {
                    return records;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }))
    } else {
        None
    };

    println!("attached");
    std::io::stdout().flush()?;
    // Hold the programs until whoever started us closes our stdin.
    let mut sink = Vec::new();
    std::io::stdin().read_to_end(&mut sink)?;

    if let Some(drainer) = drainer {
        done.store(true, Ordering::Release);
        let records = drainer.join().map_err(|_| "drainer panicked")?;
        let drops: PerCpuArray<_, u64> =
            PerCpuArray::try_from(ebpf.map("minimal_drops").ok_or("drops missing")?)?;
        let dropped: u64 = drops.get(&0, 0)?.iter().sum();
        eprintln!("minimal floor: {records} records read, {dropped} dropped");
    }
    Ok(())
}
