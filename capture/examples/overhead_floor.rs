//! Attaches do-nothing programs to sys_enter and sys_exit until stdin closes: the floor
//! `benches/record_overhead.sh` measures the recorder against. Needs root.

use aya::programs::BtfTracePoint;
use aya::{Btf, EbpfLoader};
use std::io::{Read, Write};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let btf = Btf::from_sys_fs()?;
    let mut ebpf = EbpfLoader::new()
        .btf(Some(&btf))
        .load(casefile_ebpf::FLOOR_OBJECT)?;
    for (program, tracepoint) in [("floor_enter", "sys_enter"), ("floor_exit", "sys_exit")] {
        let prog: &mut BtfTracePoint = ebpf
            .program_mut(program)
            .ok_or("program missing")?
            .try_into()?;
        prog.load(tracepoint, &btf)?;
        prog.attach()?;
    }
    println!("attached");
    std::io::stdout().flush()?;
    // Hold the programs until whoever started us closes our stdin.
    let mut sink = Vec::new();
    std::io::stdin().read_to_end(&mut sink)?;
    Ok(())
}
