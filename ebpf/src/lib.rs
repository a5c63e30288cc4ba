//! casefile's kernel programs and the records they send.
//!
//! The programs are C (CO-RE) in `bpf/`, compiled by `build.rs` with clang and embedded
//! here; [`capture`](../casefile_capture) loads them with aya. [`record`] parses what they
//! write into the ring buffer (layout in `docs/RECORDS.md`).

pub mod record;

/// The compiled recorder object (`bpf/recorder.bpf.c`), BTF kept for CO-RE relocation.
pub static RECORDER_OBJECT: &[u8] =
    aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/recorder.bpf.o"));

/// Do-nothing programs on `sys_enter` and `sys_exit` (`bpf/floor.bpf.c`): the floor the
/// recorder's overhead is measured against in `benches/`.
pub static FLOOR_OBJECT: &[u8] =
    aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/floor.bpf.o"));

/// Program names in the recorder object, with the kernel tracepoint each attaches to.
pub const PROGRAMS: &[(&str, &str)] = &[
    ("on_sys_exit", "sys_exit"),
    ("on_fork", "sched_process_fork"),
    ("on_exec", "sched_process_exec"),
    ("on_exit", "sched_process_exit"),
];

/// Names of the object's maps and settings, shared with the C source.
pub mod names {
    pub const EVENTS: &str = "events";
    pub const DROPS: &str = "drops";
    pub const SENT: &str = "sent";
    pub const SCOPE_PIDS: &str = "scope_pids";
    pub const SELF_TGID: &str = "self_tgid";
    pub const SNAPLEN: &str = "snaplen";
    pub const ARGV_MAX: &str = "argv_max";
    pub const ENV_MAX: &str = "env_max";
    pub const SCOPE_MODE: &str = "scope_mode";
    pub const SCOPE_CGROUP_ID: &str = "scope_cgroup_id";
    pub const SCOPE_CGROUP_LEVEL: &str = "scope_cgroup_level";
    pub const WAKEUP_BYTES: &str = "wakeup_bytes";
    pub const SYSCALL_MASK: &str = "syscall_mask";
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_object_is_an_elf_bpf_file_with_btf() {
        let object = super::RECORDER_OBJECT;
        assert_eq!(&object[..4], b"\x7fELF");
        // e_machine 247 = EM_BPF.
        assert_eq!(u16::from_le_bytes([object[18], object[19]]), 247);
        let has = |needle: &[u8]| object.windows(needle.len()).any(|w| w == needle);
        assert!(
            has(b".BTF\0"),
            "BTF must survive stripping (CO-RE needs it)"
        );
        for (program, _) in super::PROGRAMS {
            assert!(has(program.as_bytes()), "program {program} missing");
        }
    }
}
