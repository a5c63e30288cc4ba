//! What a syscall does to the files and connections tables, looked up by number once.

use casefile_formats::event::EventKind;
use casefile_formats::schema::syscall_nr;
use std::sync::OnceLock;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Nothing the summaries count.
    None,
    Open,
    Read,
    Write,
    Send,
    Recv,
    Connect,
    Accept,
    /// Paths in the `oldpath`/`newpath` arguments (or `name`).
    Rename,
    Unlink,
    Chmod,
    Truncate,
    Exec,
}

const NAMES: &[(&str, Op)] = &[
    ("open", Op::Open),
    ("openat", Op::Open),
    ("openat2", Op::Open),
    ("creat", Op::Open),
    ("read", Op::Read),
    ("pread64", Op::Read),
    ("readv", Op::Read),
    ("preadv", Op::Read),
    ("preadv2", Op::Read),
    ("write", Op::Write),
    ("pwrite64", Op::Write),
    ("writev", Op::Write),
    ("pwritev", Op::Write),
    ("pwritev2", Op::Write),
    ("sendto", Op::Send),
    ("sendmsg", Op::Send),
    ("sendmmsg", Op::Send),
    ("recvfrom", Op::Recv),
    ("recvmsg", Op::Recv),
    ("recvmmsg", Op::Recv),
    ("connect", Op::Connect),
    ("accept", Op::Accept),
    ("accept4", Op::Accept),
    ("rename", Op::Rename),
    ("renameat", Op::Rename),
    ("renameat2", Op::Rename),
    ("unlink", Op::Unlink),
    ("unlinkat", Op::Unlink),
    ("rmdir", Op::Unlink),
    ("chmod", Op::Chmod),
    ("fchmod", Op::Chmod),
    ("fchmodat", Op::Chmod),
    ("truncate", Op::Truncate),
    ("ftruncate", Op::Truncate),
    ("execve", Op::Exec),
    ("execveat", Op::Exec),
];

/// The [`Op`] of an event kind.
pub fn op(kind: EventKind) -> Op {
    static TABLE: OnceLock<Vec<Op>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut table = vec![Op::None; usize::from(EventKind::SYSCALL_LIMIT)];
        for &(name, op) in NAMES {
            if let Some(nr) = syscall_nr(name) {
                table[usize::from(nr)] = op;
            }
        }
        table
    });
    table.get(usize::from(kind.0)).copied().unwrap_or(Op::None)
}

/// Whether `kind` may change what the events table shows of its own process: a new
/// image, name or user.
pub fn changes_process(kind: EventKind) -> bool {
    static TABLE: OnceLock<Vec<bool>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut table = vec![false; usize::from(EventKind::SYSCALL_LIMIT)];
        for name in [
            "execve",
            "execveat",
            "prctl",
            "setuid",
            "setreuid",
            "setresuid",
        ] {
            if let Some(nr) = syscall_nr(name) {
                table[usize::from(nr)] = true;
            }
        }
        table
    });
    table.get(usize::from(kind.0)).copied().unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_syscalls_classify() {
        let kind = |name| EventKind::syscall(syscall_nr(name).expect("x86_64 syscall"));
        assert_eq!(op(kind("openat")), Op::Open);
        assert_eq!(op(kind("writev")), Op::Write);
        assert_eq!(op(kind("renameat2")), Op::Rename);
        assert_eq!(op(kind("futex")), Op::None);
        assert_eq!(op(EventKind::FORK), Op::None);
        assert!(changes_process(kind("setresuid")));
        assert!(!changes_process(kind("read")));
    }
}
