//! Attaches do-nothing programs to sys_enter and sys_exit until stdin closes: the floor
//! `benches/record_overhead.sh` measures the recorder against. With the argument
//! `exit`, only the sys_exit one: the floor of a recorder that, like casefile's, reads
//! every argument at exit. Needs root.

use aya::programs::BtfTracePoint;
use aya::{Btf, EbpfLoader};
use std::io::{Read, Write};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let btf = Btf::from_sys_fs()?;
    let mut ebpf = EbpfLoader::new()
        .btf(Some(&btf))
        .load(casefile_ebpf::FLOOR_OBJECT)?;
    let exit_only = std::env::args().nth(1).as_deref() == Some("exit");
    let programs: &[(&str, &str)] = if exit_only {
        &[("floor_exit", "sys_exit")]
    } else {
        &[("floor_enter", "sys_enter"), ("floor_exit", "sys_exit")]
    };
    for &(program, tracepoint) in programs {
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
