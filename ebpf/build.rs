//! Compiles the kernel programs in `bpf/` with clang into a BPF object that `src/lib.rs`
//! embeds. clang and llvm-strip come from Debian's packages (`scripts/setup` installs
//! them); libbpf-dev provides the `bpf/*.h` helper headers.

use std::path::{Path, PathBuf};
use std::process::Command;

const SOURCES: &[&str] = &[
    "bpf/recorder.bpf.c",
    "bpf/floor.bpf.c",
    "bpf/record.h",
    "bpf/vmlinux.h",
];

fn main() {
    for source in SOURCES {
        println!("cargo:rerun-if-changed={source}");
    }
    println!("cargo:rerun-if-env-changed=CLANG");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    for program in ["recorder", "floor"] {
        compile(&out_dir, program);
    }
}

fn compile(out_dir: &Path, program: &str) {
    let source = format!("bpf/{program}.bpf.c");
    let object = out_dir.join(format!("{program}.bpf.o"));
    let unstripped = out_dir.join(format!("{program}.debug.bpf.o"));
    let clang = std::env::var("CLANG").unwrap_or_else(|_| "clang".to_string());
    let arch_include = format!(
        "-I/usr/include/{}-linux-gnu",
        std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_else(|_| "x86_64".into())
    );
    run(
        Command::new(&clang)
            .args([
                "-O2",
                "-g",
                "-target",
                "bpf",
                "-D__TARGET_ARCH_x86",
                "-Wall",
                // 32-bit ALU and jumps (kernel 5.1+; recording needs 5.8): fewer
                // instructions and zero-extensions than the default v1.
                "-mcpu=v3",
            ])
            .arg(arch_include)
            .arg("-Ibpf")
            .arg("-c")
            .arg(&source)
            .arg("-o")
            .arg(&unstripped),
        &clang,
    );
    // Keeps .BTF and .BTF.ext (CO-RE relocations need them) and drops DWARF.
    run(
        Command::new("llvm-strip")
            .arg("-g")
            .arg(&unstripped)
            .arg("-o")
            .arg(&object),
        "llvm-strip",
    );
}

fn run(command: &mut Command, tool: &str) {
    let status = command.status().unwrap_or_else(|e| {
        panic!(
            "cannot run {tool} ({e}): the kernel programs need clang, llvm and libbpf-dev; \
             run scripts/setup (or apt-get install clang llvm libbpf-dev)"
        )
    });
    if !status.success() {
        panic!(
            "{tool} failed ({status}) building the kernel programs in {}",
            Path::new("bpf").display()
        );
    }
}
