//! The kernel side, as the recorder sees it: checks that the host can run it, loads the
//! embedded programs with aya (settings written into their read-only data first),
//! attaches them, and reads their counters.

use crate::error::CaptureError;
use crate::syscalls::SyscallSet;
use aya::maps::{Array, MapData, PerCpuArray, RingBuf};
use aya::programs::tp_btf::BtfTracePointLinkId;
use aya::programs::BtfTracePoint;
use aya::{Btf, Ebpf, EbpfLoader};
use casefile_ebpf::{names, record, PROGRAMS, RECORDER_OBJECT};
use std::path::Path;

/// Where the kernel publishes its own type information (BTF), which CO-RE needs.
const KERNEL_BTF: &str = "/sys/kernel/btf/vmlinux";
/// Ring buffers (5.8) are the newest kernel feature the programs need.
const MIN_KERNEL: (u32, u32) = (5, 8);

/// Which processes the kernel side records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    All,
    /// These thread groups and every process they start from now on.
    Pids(Vec<u32>),
    /// Tasks in this cgroup v2 directory or below it: its id (the directory's inode
    /// number) and its depth below the cgroup2 root.
    Cgroup {
        id: u64,
        level: u32,
    },
}

#[derive(Clone, Debug)]
pub struct ProbeConfig {
    pub syscalls: SyscallSet,
    /// Buffer bytes kept per I/O syscall; 0 keeps none.
    pub snaplen: u32,
    /// Bytes of argv (and of the environment) kept per exec; at most 8191.
    pub argv_max: u32,
    pub env_max: u32,
    /// Ring buffer size in bytes: a power of two, at least a page.
    pub ring_bytes: u32,
    pub scope: Scope,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        ProbeConfig {
            syscalls: SyscallSet::security(),
            snaplen: 80,
            argv_max: 4096,
            env_max: 4096,
            ring_bytes: 64 << 20,
            scope: Scope::All,
        }
    }
}

/// Kernel-side counts since the programs were loaded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KernelCounters {
    /// Records delivered into the ring buffer.
    pub sent: u64,
    /// Records the ring had no room for: (cpu, slot, count) with count > 0, where the
    /// slot is a syscall number, 1024 for fork or 1025 for exit.
    pub drops: Vec<(u32, u32, u64)>,
}

impl KernelCounters {
    pub fn total_drops(&self) -> u64 {
        self.drops.iter().map(|(_, _, n)| n).sum()
    }
}

/// The loaded and attached programs. Dropping it detaches them.
pub struct Probe {
    ebpf: Ebpf,
    links: Vec<(&'static str, BtfTracePointLinkId)>,
}

/// Says in one sentence what the host lacks for recording, or `Ok` when nothing.
pub fn preflight() -> Result<(), CaptureError> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Err(CaptureError::Unsupported(
            "recording needs root (CAP_BPF and CAP_PERFMON): run casefile record with sudo".into(),
        ));
    }
    if !Path::new(KERNEL_BTF).exists() {
        return Err(CaptureError::Unsupported(format!(
            "this kernel publishes no BTF type information ({KERNEL_BTF} is missing): \
             casefile needs a kernel built with CONFIG_DEBUG_INFO_BTF=y (most distributions \
             since 2020 are)"
        )));
    }
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    if let Some(version) = parse_kernel_version(&release) {
        if version < MIN_KERNEL {
            return Err(CaptureError::Unsupported(format!(
                "kernel {} is too old: casefile needs {}.{} or newer (BPF ring buffers)",
                release.trim(),
                MIN_KERNEL.0,
                MIN_KERNEL.1
            )));
        }
    }
    Ok(())
}

fn parse_kernel_version(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.trim().split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

impl Probe {
    /// Loads and attaches the programs. The calling process is never recorded.
    pub fn load(config: &ProbeConfig) -> Result<Probe, CaptureError> {
        preflight()?;
        if !config.ring_bytes.is_power_of_two() || config.ring_bytes < 4096 {
            return Err(CaptureError::Invalid(format!(
                "ring buffer size {} is not a power of two of at least 4096 bytes",
                config.ring_bytes
            )));
        }
        let btf =
            Btf::from_sys_fs().map_err(|e| CaptureError::Load(format!("{KERNEL_BTF}: {e}")))?;
        let self_tgid = std::process::id();
        let (scope_mode, cgroup_id, cgroup_level) = match &config.scope {
            Scope::All => (record::scope::ALL, 0u64, 0u32),
            Scope::Pids(_) => (record::scope::PIDS, 0, 0),
            Scope::Cgroup { id, level } => (record::scope::CGROUP, *id, *level),
        };
        let mask = config.syscalls.mask();
        let snaplen = config.snaplen.min(8191);
        let argv_max = config.argv_max.min(8191);
        let env_max = config.env_max.min(8191);
        // Wake the reader once an eighth of the ring waits; its timer collects the rest.
        let wakeup_bytes = u64::from(config.ring_bytes / 8);
        let scope_words = scope_words();
        let mut ebpf = EbpfLoader::new()
            .btf(Some(&btf))
            .override_global(names::SELF_TGID, &self_tgid, true)
            .override_global(names::SNAPLEN, &snaplen, true)
            .override_global(names::ARGV_MAX, &argv_max, true)
            .override_global(names::ENV_MAX, &env_max, true)
            .override_global(names::SCOPE_MODE, &scope_mode, true)
            .override_global(names::SCOPE_CGROUP_ID, &cgroup_id, true)
            .override_global(names::SCOPE_CGROUP_LEVEL, &cgroup_level, true)
            .override_global(names::WAKEUP_BYTES, &wakeup_bytes, true)
            .override_global(names::SYSCALL_MASK, &mask, true)
            .map_max_entries(names::EVENTS, config.ring_bytes)
            .map_max_entries(names::SCOPE_PIDS, scope_words)
            .load(RECORDER_OBJECT)
            .map_err(|e| CaptureError::Load(error_chain(&e)))?;
        if let Scope::Pids(pids) = &config.scope {
            for &pid in pids {
                add_to_scope(&mut ebpf, pid)?;
            }
        }
        let mut links = Vec::new();
        for &(program, tracepoint) in PROGRAMS {
            let attach_error = |detail: String| CaptureError::Attach {
                program,
                tracepoint,
                detail,
            };
            let prog: &mut BtfTracePoint = ebpf
                .program_mut(program)
                .ok_or_else(|| attach_error("not in the object".into()))?
                .try_into()
                .map_err(|e| attach_error(error_chain(&e)))?;
            prog.load(tracepoint, &btf)
                .map_err(|e| attach_error(error_chain(&e)))?;
            links.push((
                program,
                prog.attach().map_err(|e| attach_error(error_chain(&e)))?,
            ));
        }
        Ok(Probe { ebpf, links })
    }

    /// Detaches every program: no record is sent after this returns, so a last drain
    /// of the ring and a read of the counters agree exactly.
    pub fn detach(&mut self) {
        for (program, link) in self.links.drain(..) {
            let prog: Option<&mut BtfTracePoint> = self
                .ebpf
                .program_mut(program)
                .and_then(|p| p.try_into().ok());
            if let Some(prog) = prog {
                let _ = prog.detach(link);
            }
        }
    }

    /// The ring buffer the records arrive in (can be taken once).
    pub fn take_ring(&mut self) -> Result<RingBuf<MapData>, CaptureError> {
        let map = self
            .ebpf
            .take_map(names::EVENTS)
            .ok_or_else(|| missing(names::EVENTS))?;
        RingBuf::try_from(map).map_err(|e| map_error(names::EVENTS, e))
    }

    pub fn counters(&self) -> Result<KernelCounters, CaptureError> {
        let sent: PerCpuArray<_, u64> = PerCpuArray::try_from(
            self.ebpf
                .map(names::SENT)
                .ok_or_else(|| missing(names::SENT))?,
        )
        .map_err(|e| map_error(names::SENT, e))?;
        let total_sent = sent
            .get(&0, 0)
            .map_err(|e| map_error(names::SENT, e))?
            .iter()
            .sum();
        let drops: PerCpuArray<_, u64> = PerCpuArray::try_from(
            self.ebpf
                .map(names::DROPS)
                .ok_or_else(|| missing(names::DROPS))?,
        )
        .map_err(|e| map_error(names::DROPS, e))?;
        let mut counted = Vec::new();
        for slot in 0..record::DROP_SLOTS {
            let per_cpu = drops
                .get(&slot, 0)
                .map_err(|e| map_error(names::DROPS, e))?;
            for (cpu, &n) in per_cpu.iter().enumerate() {
                if n > 0 {
                    counted.push((cpu as u32, slot, n));
                }
            }
        }
        Ok(KernelCounters {
            sent: total_sent,
            drops: counted,
        })
    }

    /// The scope map's descriptor, for a child that adds itself before it execs
    /// ([`register_self_in_scope`]). Valid while the probe lives.
    pub fn scope_map_fd(&self) -> Result<std::os::fd::RawFd, CaptureError> {
        use std::os::fd::{AsFd, AsRawFd};
        match self.ebpf.map(names::SCOPE_PIDS) {
            Some(aya::maps::Map::Array(data)) => Ok(data.fd().as_fd().as_raw_fd()),
            _ => Err(missing(names::SCOPE_PIDS)),
        }
    }

    /// Adds a thread group to a `Scope::Pids` recording (its children follow it).
    pub fn add_scope_pid(&mut self, pid: u32) -> Result<(), CaptureError> {
        add_to_scope(&mut self.ebpf, pid)
    }
}

/// Words of the scope bitmap: one bit per possible pid (`/proc/sys/kernel/pid_max`).
fn scope_words() -> u32 {
    let pid_max: u32 = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(1 << 22);
    pid_max.div_ceil(64).max(1)
}

/// Sets `pid`'s bit in the scope bitmap.
fn add_to_scope(ebpf: &mut Ebpf, pid: u32) -> Result<(), CaptureError> {
    let mut map: Array<_, u64> = Array::try_from(
        ebpf.map_mut(names::SCOPE_PIDS)
            .ok_or_else(|| missing(names::SCOPE_PIDS))?,
    )
    .map_err(|e| map_error(names::SCOPE_PIDS, e))?;
    let word = pid / 64;
    let bits = map
        .get(&word, 0)
        .map_err(|e| map_error(names::SCOPE_PIDS, e))?;
    map.set(word, bits | 1 << (pid % 64), 0)
        .map_err(|e| map_error(names::SCOPE_PIDS, e))
}

/// Puts the calling process into the scope bitmap behind `map_fd`. Meant for a child
/// between fork and exec (`CommandExt::pre_exec`): only raw syscalls, no allocation, so
/// it is async-signal-safe, and the command is recorded from its exec on. Reading and
/// writing back the word is safe here: before the command runs, nothing else in its
/// scope can fork and set a neighbouring bit.
pub fn register_self_in_scope(map_fd: std::os::fd::RawFd) -> std::io::Result<()> {
    /// `union bpf_attr` as BPF_MAP_LOOKUP_ELEM and BPF_MAP_UPDATE_ELEM read it.
    #[repr(C)]
    struct MapElem {
        map_fd: u32,
        _pad: u32,
        key: u64,
        value: u64,
        flags: u64,
    }
    const BPF_MAP_LOOKUP_ELEM: libc::c_long = 1;
    const BPF_MAP_UPDATE_ELEM: libc::c_long = 2;
    // SAFETY: getpid cannot fail.
    let pid: u32 = unsafe { libc::getpid() } as u32;
    let word: u32 = pid / 64;
    let mut bits: u64 = 0;
    let bpf = |cmd: libc::c_long, value: *mut u64| {
        let attr = MapElem {
            map_fd: map_fd as u32,
            _pad: 0,
            key: &word as *const u32 as u64,
            value: value as u64,
            flags: 0,
        };
        // SAFETY: bpf(2) reads `size` bytes of `attr`, a valid MapElem whose pointers
        // refer to locals that outlive the call.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_bpf,
                cmd,
                &attr as *const MapElem,
                std::mem::size_of::<MapElem>() as libc::c_uint,
            )
        };
        if rc < 0 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(())
        }
    };
    bpf(BPF_MAP_LOOKUP_ELEM, &mut bits)?;
    bits |= 1 << (pid % 64);
    bpf(BPF_MAP_UPDATE_ELEM, &mut bits)
}

fn missing(map: &'static str) -> CaptureError {
    CaptureError::Map {
        map,
        detail: "not in the kernel object".into(),
    }
}

fn map_error(map: &'static str, e: impl std::error::Error) -> CaptureError {
    CaptureError::Map {
        map,
        detail: error_chain(&e),
    }
}

/// An error and its sources on one line: aya's top-level messages alone ("the BPF_PROG_LOAD
/// syscall failed") do not say why.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_versions_parse() {
        assert_eq!(parse_kernel_version("6.18.44-fc-v782\n"), Some((6, 18)));
        assert_eq!(parse_kernel_version("5.4.0-150-generic"), Some((5, 4)));
        assert_eq!(parse_kernel_version("garbage"), None);
        assert!(parse_kernel_version("5.4.0").unwrap() < MIN_KERNEL);
    }
}
