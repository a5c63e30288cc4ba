//! Which syscalls the kernel side records: `all`, `security` (the default), or a list.

use crate::error::CaptureError;
use casefile_formats::schema::{syscall_nr, SYSCALL_NAMES};

/// High-rate scheduling, timing and polling calls left out of the `security` set: they
/// are most of a busy host's syscalls and say nothing an investigation needs (waiting,
/// sleeping, reading the clock).
pub const NOISY_SYSCALLS: &[&str] = &[
    "futex",
    "futex_waitv",
    "futex_wait",
    "futex_wake",
    "futex_requeue",
    "sched_yield",
    "nanosleep",
    "clock_nanosleep",
    "epoll_wait",
    "epoll_pwait",
    "epoll_pwait2",
    "poll",
    "ppoll",
    "select",
    "pselect6",
    "clock_gettime",
    "clock_getres",
    "gettimeofday",
    "time",
    "getitimer",
    "setitimer",
    "alarm",
    "io_getevents",
    "io_pgetevents",
    "rt_sigtimedwait",
];

/// A set of syscall numbers (below 1024), as the kernel side's bitmap.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyscallSet {
    mask: [u64; 16],
    /// How the set was asked for, for the capture header.
    pub description: String,
}

impl SyscallSet {
    pub fn all() -> SyscallSet {
        SyscallSet {
            mask: [u64::MAX; 16],
            description: "all".into(),
        }
    }

    pub fn security() -> SyscallSet {
        let mut set = SyscallSet::all();
        for name in NOISY_SYSCALLS {
            if let Some(nr) = syscall_nr(name) {
                set.remove(nr);
            }
        }
        set.description = "security".into();
        set
    }

    /// `all`, `security`, or a comma-separated list of syscall names.
    pub fn parse(text: &str) -> Result<SyscallSet, CaptureError> {
        match text.trim() {
            "all" => return Ok(SyscallSet::all()),
            "security" => return Ok(SyscallSet::security()),
            _ => {}
        }
        let mut set = SyscallSet {
            mask: [0; 16],
            description: text.trim().to_string(),
        };
        for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let nr = syscall_nr(name).ok_or_else(|| {
                CaptureError::Invalid(format!(
                    "--syscalls: no x86_64 syscall is named {:?} (use names such as \
                     openat,connect,execve, or `all` or `security`)",
                    name
                ))
            })?;
            set.insert(nr);
        }
        if set.is_empty() {
            return Err(CaptureError::Invalid(
                "--syscalls: the list names no syscall".into(),
            ));
        }
        Ok(set)
    }

    pub fn insert(&mut self, nr: u16) {
        if nr < 1024 {
            self.mask[usize::from(nr / 64)] |= 1 << (nr % 64);
        }
    }

    pub fn remove(&mut self, nr: u16) {
        if nr < 1024 {
            self.mask[usize::from(nr / 64)] &= !(1 << (nr % 64));
        }
    }

    pub fn contains(&self, nr: u16) -> bool {
        nr < 1024 && self.mask[usize::from(nr / 64)] & (1 << (nr % 64)) != 0
    }

    pub fn is_empty(&self) -> bool {
        self.mask.iter().all(|w| *w == 0)
    }

    pub fn mask(&self) -> [u64; 16] {
        self.mask
    }

    /// Names of the syscalls of this machine's table in the set.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        SYSCALL_NAMES
            .iter()
            .enumerate()
            .filter(|(nr, name)| !name.is_empty() && self.contains(*nr as u16))
            .map(|(_, name)| *name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn security_drops_only_the_noisy_calls() {
        let security = SyscallSet::security();
        for name in ["futex", "clock_gettime", "epoll_wait", "nanosleep"] {
            assert!(!security.contains(syscall_nr(name).unwrap()), "{name}");
        }
        for name in ["openat", "execve", "connect", "read", "write", "ptrace"] {
            assert!(security.contains(syscall_nr(name).unwrap()), "{name}");
        }
        let left_out = SyscallSet::all().names().count() - security.names().count();
        let known_noisy = NOISY_SYSCALLS
            .iter()
            .filter(|n| syscall_nr(n).is_some())
            .count();
        assert_eq!(left_out, known_noisy);
    }

    #[test]
    fn lists_parse_and_bad_names_are_named() {
        let set = SyscallSet::parse("openat, connect,execve").unwrap();
        assert_eq!(
            set.names().collect::<Vec<_>>(),
            ["connect", "execve", "openat"]
        );
        let err = SyscallSet::parse("openat,opne").unwrap_err().to_string();
        assert!(err.contains("\"opne\""), "{err}");
        assert!(SyscallSet::parse(" , ").is_err());
        assert_eq!(SyscallSet::parse("all").unwrap(), SyscallSet::all());
    }
}
