//! Symbolic names of flag bits and enumerated values, for readable output (`casefile cat`,
//! the TUI). Values are Linux x86_64's.

use super::Hint;
use std::fmt::Write;

/// `(value, name)` pairs. For flag sets each value is a bit (or a mask, listed first);
/// for enumerations each value is one choice.
#[derive(Debug, PartialEq, Eq)]
pub struct FlagTable(pub &'static [(u64, &'static str)]);

pub static OPEN_FLAG_BITS: FlagTable = FlagTable(&[
    // Multi-bit flags first: they contain O_DSYNC and O_DIRECTORY.
    (0o4010000, "O_SYNC"),
    (0o20200000, "O_TMPFILE"),
    (0o100, "O_CREAT"),
    (0o200, "O_EXCL"),
    (0o400, "O_NOCTTY"),
    (0o1000, "O_TRUNC"),
    (0o2000, "O_APPEND"),
    (0o4000, "O_NONBLOCK"),
    (0o10000, "O_DSYNC"),
    (0o20000, "O_ASYNC"),
    (0o40000, "O_DIRECT"),
    (0o100000, "O_LARGEFILE"),
    (0o200000, "O_DIRECTORY"),
    (0o400000, "O_NOFOLLOW"),
    (0o1000000, "O_NOATIME"),
    (0o2000000, "O_CLOEXEC"),
    (0o10000000, "O_PATH"),
]);

pub static PROT_FLAGS: FlagTable =
    FlagTable(&[(1, "PROT_READ"), (2, "PROT_WRITE"), (4, "PROT_EXEC")]);

pub static MMAP_FLAGS: FlagTable = FlagTable(&[
    (0x01, "MAP_SHARED"),
    (0x02, "MAP_PRIVATE"),
    (0x10, "MAP_FIXED"),
    (0x20, "MAP_ANONYMOUS"),
    (0x100, "MAP_GROWSDOWN"),
    (0x800, "MAP_DENYWRITE"),
    (0x1000, "MAP_EXECUTABLE"),
    (0x2000, "MAP_LOCKED"),
    (0x4000, "MAP_NORESERVE"),
    (0x8000, "MAP_POPULATE"),
    (0x10000, "MAP_NONBLOCK"),
    (0x20000, "MAP_STACK"),
    (0x40000, "MAP_HUGETLB"),
]);

pub static CLONE_FLAGS: FlagTable = FlagTable(&[
    (0x100, "CLONE_VM"),
    (0x200, "CLONE_FS"),
    (0x400, "CLONE_FILES"),
    (0x800, "CLONE_SIGHAND"),
    (0x1000, "CLONE_PIDFD"),
    (0x2000, "CLONE_PTRACE"),
    (0x4000, "CLONE_VFORK"),
    (0x8000, "CLONE_PARENT"),
    (0x10000, "CLONE_THREAD"),
    (0x20000, "CLONE_NEWNS"),
    (0x40000, "CLONE_SYSVSEM"),
    (0x80000, "CLONE_SETTLS"),
    (0x100000, "CLONE_PARENT_SETTID"),
    (0x200000, "CLONE_CHILD_CLEARTID"),
    (0x800000, "CLONE_UNTRACED"),
    (0x1000000, "CLONE_CHILD_SETTID"),
    (0x2000000, "CLONE_NEWCGROUP"),
    (0x4000000, "CLONE_NEWUTS"),
    (0x8000000, "CLONE_NEWIPC"),
    (0x10000000, "CLONE_NEWUSER"),
    (0x20000000, "CLONE_NEWPID"),
    (0x40000000, "CLONE_NEWNET"),
    (0x80000000, "CLONE_IO"),
]);

pub static AT_FLAGS: FlagTable = FlagTable(&[
    (0x100, "AT_SYMLINK_NOFOLLOW"),
    (0x200, "AT_REMOVEDIR"),
    (0x400, "AT_SYMLINK_FOLLOW"),
    (0x800, "AT_NO_AUTOMOUNT"),
    (0x1000, "AT_EMPTY_PATH"),
]);

pub static SOCKET_DOMAINS: FlagTable = FlagTable(&[
    (0, "AF_UNSPEC"),
    (1, "AF_UNIX"),
    (2, "AF_INET"),
    (10, "AF_INET6"),
    (16, "AF_NETLINK"),
    (17, "AF_PACKET"),
    (38, "AF_ALG"),
    (40, "AF_VSOCK"),
    (44, "AF_XDP"),
]);

/// Socket types: the low nibble is an enumeration, the high bits flags.
pub static SOCKET_TYPES: FlagTable = FlagTable(&[
    (0xf, ""),
    (1, "SOCK_STREAM"),
    (2, "SOCK_DGRAM"),
    (3, "SOCK_RAW"),
    (4, "SOCK_RDM"),
    (5, "SOCK_SEQPACKET"),
    (10, "SOCK_PACKET"),
    (0o4000, "SOCK_NONBLOCK"),
    (0o2000000, "SOCK_CLOEXEC"),
]);

pub static FCNTL_CMDS: FlagTable = FlagTable(&[
    (0, "F_DUPFD"),
    (1, "F_GETFD"),
    (2, "F_SETFD"),
    (3, "F_GETFL"),
    (4, "F_SETFL"),
    (5, "F_GETLK"),
    (6, "F_SETLK"),
    (7, "F_SETLKW"),
    (8, "F_SETOWN"),
    (9, "F_GETOWN"),
    (1030, "F_DUPFD_CLOEXEC"),
]);

pub static PTRACE_REQUESTS: FlagTable = FlagTable(&[
    (0, "PTRACE_TRACEME"),
    (1, "PTRACE_PEEKTEXT"),
    (2, "PTRACE_PEEKDATA"),
    (3, "PTRACE_PEEKUSR"),
    (4, "PTRACE_POKETEXT"),
    (5, "PTRACE_POKEDATA"),
    (6, "PTRACE_POKEUSR"),
    (7, "PTRACE_CONT"),
    (8, "PTRACE_KILL"),
    (9, "PTRACE_SINGLESTEP"),
    (12, "PTRACE_GETREGS"),
    (13, "PTRACE_SETREGS"),
    (16, "PTRACE_ATTACH"),
    (17, "PTRACE_DETACH"),
    (24, "PTRACE_SYSCALL"),
    (0x4200, "PTRACE_SETOPTIONS"),
    (0x4206, "PTRACE_SEIZE"),
    (0x4207, "PTRACE_INTERRUPT"),
]);

pub static SIGNALS: FlagTable = FlagTable(&[
    (0, "0"),
    (1, "SIGHUP"),
    (2, "SIGINT"),
    (3, "SIGQUIT"),
    (4, "SIGILL"),
    (5, "SIGTRAP"),
    (6, "SIGABRT"),
    (7, "SIGBUS"),
    (8, "SIGFPE"),
    (9, "SIGKILL"),
    (10, "SIGUSR1"),
    (11, "SIGSEGV"),
    (12, "SIGUSR2"),
    (13, "SIGPIPE"),
    (14, "SIGALRM"),
    (15, "SIGTERM"),
    (17, "SIGCHLD"),
    (18, "SIGCONT"),
    (19, "SIGSTOP"),
    (20, "SIGTSTP"),
]);

/// Renders an integer argument as its hint says: `O_WRONLY|O_CREAT`, `0644`, `0x1f`,
/// `SIGKILL`. Unnamed bits are kept as a hex remainder so nothing is hidden.
pub fn render_int(hint: Hint, value: u64) -> String {
    match hint {
        Hint::Dec => value.to_string(),
        Hint::Hex => format!("{value:#x}"),
        Hint::Oct if value == 0 => "0".into(),
        Hint::Oct => format!("0{value:o}"),
        Hint::OpenFlags => {
            let access = match value & 3 {
                0 => "O_RDONLY",
                1 => "O_WRONLY",
                2 => "O_RDWR",
                _ => "O_ACCMODE",
            };
            let rest = render_bits(&OPEN_FLAG_BITS, value & !3);
            if rest.is_empty() {
                access.to_string()
            } else {
                format!("{access}|{rest}")
            }
        }
        Hint::Flags(table) => {
            let out = render_bits(table, value);
            if out.is_empty() {
                "0".to_string()
            } else {
                out
            }
        }
        Hint::Enum(table) => table
            .0
            .iter()
            .find(|(v, _)| *v == value)
            .map(|(_, name)| (*name).to_string())
            .unwrap_or_else(|| value.to_string()),
    }
}

fn render_bits(table: &FlagTable, value: u64) -> String {
    let mut out = String::new();
    let mut rest = value;
    let mut entries = table.0.iter().peekable();
    // A leading `(mask, "")` entry marks an enumerated low field (socket types).
    if let Some(&&(mask, "")) = entries.peek() {
        entries.next();
        let low = value & mask;
        if let Some((_, name)) = table.0.iter().skip(1).find(|(v, _)| *v == low) {
            out.push_str(name);
            rest &= !mask;
        }
    }
    for &(bits, name) in entries {
        if bits != 0 && rest & bits == bits && !name.is_empty() {
            if !out.is_empty() {
                out.push('|');
            }
            out.push_str(name);
            rest &= !bits;
        }
    }
    if rest != 0 {
        if !out.is_empty() {
            out.push('|');
        }
        let _ = write!(out, "{rest:#x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_render_symbolically_and_keep_unknown_bits() {
        assert_eq!(
            render_int(Hint::OpenFlags, 0o1101),
            "O_WRONLY|O_CREAT|O_TRUNC"
        );
        assert_eq!(render_int(Hint::OpenFlags, 0o2000000), "O_RDONLY|O_CLOEXEC");
        assert_eq!(render_int(Hint::OpenFlags, 0o4010002), "O_RDWR|O_SYNC");
        assert_eq!(
            render_int(Hint::Flags(&PROT_FLAGS), 5),
            "PROT_READ|PROT_EXEC"
        );
        assert_eq!(render_int(Hint::Flags(&PROT_FLAGS), 0x19), "PROT_READ|0x18");
        assert_eq!(
            render_int(Hint::Flags(&SOCKET_TYPES), 0o2000001),
            "SOCK_STREAM|SOCK_CLOEXEC"
        );
        assert_eq!(render_int(Hint::Enum(&SIGNALS), 9), "SIGKILL");
        assert_eq!(render_int(Hint::Enum(&SIGNALS), 64), "64");
        assert_eq!(render_int(Hint::Oct, 0o644), "0644");
    }
}
