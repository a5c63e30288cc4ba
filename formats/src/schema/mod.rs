//! What each event kind means: its name (Falco's `evt.type`), its category and the names
//! and display hints of its arguments, in encoding order. This table *is* the event
//! layout, version [`EVENT_LAYOUT_VERSION`]; `docs/EVENTS.md` documents it.
//!
//! A syscall without a decoded layout is recorded with its six raw register arguments
//! (`a0`..`a5`), so nothing the kernel saw is ever thrown away for lack of a decoder.

mod flags;
mod syscall_names;

pub use flags::{render_int, FlagTable};
pub use syscall_names::SYSCALL_NAMES;

use crate::event::EventKind;
use std::sync::OnceLock;

/// Bumped when an existing layout changes meaning; appending a new kind or a new
/// trailing argument does not bump it (readers ignore arguments they do not name).
pub const EVENT_LAYOUT_VERSION: u32 = 1;

/// Falco's event categories (`evt.category`). I/O syscalls are `Io` here; what they touch
/// (file, network, pipe) is known only from the fd, which the state engine resolves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Category {
    File,
    Io,
    Net,
    Ipc,
    Memory,
    Process,
    Signal,
    System,
    User,
    Time,
    Sleep,
    Other,
    Plugin,
    Meta,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::File => "file",
            Category::Io => "io",
            Category::Net => "net",
            Category::Ipc => "ipc",
            Category::Memory => "memory",
            Category::Process => "process",
            Category::Signal => "signal",
            Category::System => "system",
            Category::User => "user",
            Category::Time => "time",
            Category::Sleep => "sleep",
            Category::Other => "other",
            Category::Plugin => "plugin",
            Category::Meta => "meta",
        }
    }
}

/// How to show an integer argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hint {
    Dec,
    Hex,
    Oct,
    /// `open(2)` flags: an access mode in the low bits plus flag bits.
    OpenFlags,
    Flags(&'static FlagTable),
    Enum(&'static FlagTable),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Param {
    pub name: &'static str,
    pub hint: Hint,
}

#[derive(Clone, Copy, Debug)]
pub struct KindInfo {
    pub kind: EventKind,
    pub name: &'static str,
    pub category: Category,
    pub params: &'static [Param],
    /// False for syscalls recorded with raw register arguments only.
    pub decoded: bool,
    /// Index of the `size` parameter (the byte count an I/O call asks for), which the
    /// capture format uses to predict the return value.
    pub size_param: Option<usize>,
}

impl KindInfo {
    fn new(
        kind: EventKind,
        name: &'static str,
        category: Category,
        params: &'static [Param],
        decoded: bool,
    ) -> KindInfo {
        KindInfo {
            kind,
            name,
            category,
            params,
            decoded,
            size_param: params.iter().position(|param| param.name == "size"),
        }
    }
}

const fn p(name: &'static str, hint: Hint) -> Param {
    Param { name, hint }
}

use flags::{
    AT_FLAGS, CLONE_FLAGS, FCNTL_CMDS, MMAP_FLAGS, PROT_FLAGS, PTRACE_REQUESTS, SIGNALS,
    SOCKET_DOMAINS, SOCKET_TYPES,
};
use Hint::{Dec, Enum, Flags, Hex, Oct, OpenFlags};

const FD: Param = p("fd", Dec);
const SIZE: Param = p("size", Dec);
const DATA: Param = p("data", Dec);
const POS: Param = p("pos", Dec);
const ADDR: Param = p("addr", Dec);
const MODE: Param = p("mode", Oct);
const DIRFD: Param = p("dirfd", Dec);
const UID: Param = p("uid", Dec);
const GID: Param = p("gid", Dec);
const SIG: Param = p("sig", Enum(&SIGNALS));

/// The successful exec of a new program image, merged from `sys_exit` and
/// `sched_process_exec` (Falco's execve exit event carries the same facts).
const EXEC_PARAMS: &[Param] = &[
    p("filename", Dec),
    p("exepath", Dec),
    p("argv", Dec),
    p("cwd", Dec),
    p("env", Dec),
    p("comm", Dec),
    UID,
    GID,
    p("euid", Dec),
    p("egid", Dec),
    p("loginuid", Dec),
    p("tty", Dec),
    p("sid", Dec),
    p("pgid", Dec),
    p("cgroup", Dec),
    p("flags", Hex),
    p("exe_ino", Dec),
    p("exe_ino_ctime", Dec),
    p("exe_ino_mtime", Dec),
    p("cap_inheritable", Hex),
    p("cap_permitted", Hex),
    p("cap_effective", Hex),
];

const EXECVEAT_PARAMS: &[Param] = &[
    DIRFD,
    p("filename", Dec),
    p("exepath", Dec),
    p("argv", Dec),
    p("cwd", Dec),
    p("env", Dec),
    p("comm", Dec),
    UID,
    GID,
    p("euid", Dec),
    p("egid", Dec),
    p("loginuid", Dec),
    p("tty", Dec),
    p("sid", Dec),
    p("pgid", Dec),
    p("cgroup", Dec),
    p("flags", Hex),
    p("exe_ino", Dec),
    p("exe_ino_ctime", Dec),
    p("exe_ino_mtime", Dec),
    p("cap_inheritable", Hex),
    p("cap_permitted", Hex),
    p("cap_effective", Hex),
    p("at_flags", Flags(&AT_FLAGS)),
];

const OPENAT_PARAMS: &[Param] = &[
    DIRFD,
    p("name", Dec),
    p("flags", OpenFlags),
    MODE,
    p("dev", Hex),
    p("ino", Dec),
];

const SEND_RECV_PARAMS: &[Param] = &[FD, SIZE, ADDR, DATA];
const ACCEPT_PARAMS: &[Param] = &[FD, ADDR, p("local", Dec), p("flags", Hex)];

use Category as C;

/// Decoded syscalls, by name. Return values are in the event's `ret`, never a parameter.
const SYSCALL_LAYOUTS: &[(&str, Category, &[Param])] = &[
    // Files
    (
        "open",
        C::File,
        &[
            p("name", Dec),
            p("flags", OpenFlags),
            MODE,
            p("dev", Hex),
            p("ino", Dec),
        ],
    ),
    ("openat", C::File, OPENAT_PARAMS),
    (
        "openat2",
        C::File,
        &[
            DIRFD,
            p("name", Dec),
            p("flags", OpenFlags),
            MODE,
            p("resolve", Hex),
            p("dev", Hex),
            p("ino", Dec),
        ],
    ),
    (
        "creat",
        C::File,
        &[p("name", Dec), MODE, p("dev", Hex), p("ino", Dec)],
    ),
    ("close", C::Io, &[FD]),
    ("read", C::Io, &[FD, SIZE, DATA]),
    ("pread64", C::Io, &[FD, SIZE, POS, DATA]),
    ("readv", C::Io, &[FD, SIZE, DATA]),
    ("preadv", C::Io, &[FD, SIZE, POS, DATA]),
    ("write", C::Io, &[FD, SIZE, DATA]),
    ("pwrite64", C::Io, &[FD, SIZE, POS, DATA]),
    ("writev", C::Io, &[FD, SIZE, DATA]),
    ("pwritev", C::Io, &[FD, SIZE, POS, DATA]),
    ("dup", C::Io, &[p("oldfd", Dec)]),
    ("dup2", C::Io, &[p("oldfd", Dec), p("newfd", Dec)]),
    (
        "dup3",
        C::Io,
        &[p("oldfd", Dec), p("newfd", Dec), p("flags", Hex)],
    ),
    (
        "fcntl",
        C::Io,
        &[FD, p("cmd", Enum(&FCNTL_CMDS)), p("arg", Dec)],
    ),
    ("unlink", C::File, &[p("path", Dec)]),
    (
        "unlinkat",
        C::File,
        &[DIRFD, p("name", Dec), p("flags", Flags(&AT_FLAGS))],
    ),
    ("rename", C::File, &[p("oldpath", Dec), p("newpath", Dec)]),
    (
        "renameat",
        C::File,
        &[
            p("olddirfd", Dec),
            p("oldpath", Dec),
            p("newdirfd", Dec),
            p("newpath", Dec),
        ],
    ),
    (
        "renameat2",
        C::File,
        &[
            p("olddirfd", Dec),
            p("oldpath", Dec),
            p("newdirfd", Dec),
            p("newpath", Dec),
            p("flags", Hex),
        ],
    ),
    ("mkdir", C::File, &[p("path", Dec), MODE]),
    ("mkdirat", C::File, &[DIRFD, p("path", Dec), MODE]),
    ("rmdir", C::File, &[p("path", Dec)]),
    ("link", C::File, &[p("oldpath", Dec), p("newpath", Dec)]),
    (
        "linkat",
        C::File,
        &[
            p("olddir", Dec),
            p("oldpath", Dec),
            p("newdir", Dec),
            p("newpath", Dec),
            p("flags", Flags(&AT_FLAGS)),
        ],
    ),
    ("symlink", C::File, &[p("target", Dec), p("linkpath", Dec)]),
    (
        "symlinkat",
        C::File,
        &[p("target", Dec), p("linkdirfd", Dec), p("linkpath", Dec)],
    ),
    ("chmod", C::File, &[p("filename", Dec), MODE]),
    ("fchmod", C::File, &[FD, MODE]),
    ("fchmodat", C::File, &[DIRFD, p("filename", Dec), MODE]),
    ("chown", C::File, &[p("path", Dec), UID, GID]),
    ("lchown", C::File, &[p("path", Dec), UID, GID]),
    ("fchown", C::File, &[FD, UID, GID]),
    (
        "fchownat",
        C::File,
        &[
            DIRFD,
            p("pathname", Dec),
            UID,
            GID,
            p("flags", Flags(&AT_FLAGS)),
        ],
    ),
    ("chdir", C::File, &[p("path", Dec)]),
    ("fchdir", C::File, &[FD]),
    ("truncate", C::File, &[p("path", Dec), p("length", Dec)]),
    ("ftruncate", C::File, &[FD, p("length", Dec)]),
    ("chroot", C::File, &[p("path", Dec)]),
    (
        "mount",
        C::File,
        &[
            p("dev", Dec),
            p("dir", Dec),
            p("type", Dec),
            p("flags", Hex),
        ],
    ),
    ("umount2", C::File, &[p("name", Dec), p("flags", Hex)]),
    ("memfd_create", C::File, &[p("name", Dec), p("flags", Hex)]),
    // Network
    (
        "socket",
        C::Net,
        &[
            p("domain", Enum(&SOCKET_DOMAINS)),
            p("type", Flags(&SOCKET_TYPES)),
            p("proto", Dec),
        ],
    ),
    (
        "socketpair",
        C::Ipc,
        &[
            p("domain", Enum(&SOCKET_DOMAINS)),
            p("type", Flags(&SOCKET_TYPES)),
            p("proto", Dec),
            p("fd1", Dec),
            p("fd2", Dec),
        ],
    ),
    ("connect", C::Net, &[FD, ADDR, p("local", Dec)]),
    ("accept", C::Net, ACCEPT_PARAMS),
    ("accept4", C::Net, ACCEPT_PARAMS),
    ("bind", C::Net, &[FD, ADDR]),
    ("listen", C::Net, &[FD, p("backlog", Dec)]),
    ("shutdown", C::Net, &[FD, p("how", Dec)]),
    ("sendto", C::Io, SEND_RECV_PARAMS),
    ("sendmsg", C::Io, SEND_RECV_PARAMS),
    ("recvfrom", C::Io, SEND_RECV_PARAMS),
    ("recvmsg", C::Io, SEND_RECV_PARAMS),
    (
        "pipe",
        C::Ipc,
        &[p("fd1", Dec), p("fd2", Dec), p("ino", Dec)],
    ),
    (
        "pipe2",
        C::Ipc,
        &[p("fd1", Dec), p("fd2", Dec), p("ino", Dec), p("flags", Hex)],
    ),
    // Processes
    ("execve", C::Process, EXEC_PARAMS),
    ("execveat", C::Process, EXECVEAT_PARAMS),
    ("clone", C::Process, &[p("flags", Flags(&CLONE_FLAGS))]),
    ("clone3", C::Process, &[p("flags", Flags(&CLONE_FLAGS))]),
    ("fork", C::Process, &[]),
    ("vfork", C::Process, &[]),
    ("kill", C::Signal, &[p("pid", Dec), SIG]),
    ("tkill", C::Signal, &[p("tid", Dec), SIG]),
    ("tgkill", C::Signal, &[p("pid", Dec), p("tid", Dec), SIG]),
    (
        "ptrace",
        C::Process,
        &[
            p("request", Enum(&PTRACE_REQUESTS)),
            p("pid", Dec),
            p("addr", Hex),
            p("data", Hex),
        ],
    ),
    (
        "prctl",
        C::Process,
        &[p("option", Dec), p("arg2", Hex), p("arg2_str", Dec)],
    ),
    ("unshare", C::Process, &[p("flags", Flags(&CLONE_FLAGS))]),
    ("setns", C::Process, &[FD, p("nstype", Flags(&CLONE_FLAGS))]),
    (
        "capset",
        C::Process,
        &[
            p("cap_inheritable", Hex),
            p("cap_permitted", Hex),
            p("cap_effective", Hex),
        ],
    ),
    // Users and groups
    ("setuid", C::User, &[UID]),
    ("setgid", C::User, &[GID]),
    ("setreuid", C::User, &[p("ruid", Dec), p("euid", Dec)]),
    ("setregid", C::User, &[p("rgid", Dec), p("egid", Dec)]),
    (
        "setresuid",
        C::User,
        &[p("ruid", Dec), p("euid", Dec), p("suid", Dec)],
    ),
    (
        "setresgid",
        C::User,
        &[p("rgid", Dec), p("egid", Dec), p("sgid", Dec)],
    ),
    ("setfsuid", C::User, &[UID]),
    ("setfsgid", C::User, &[GID]),
    // Memory
    (
        "mmap",
        C::Memory,
        &[
            p("addr", Hex),
            p("length", Dec),
            p("prot", Flags(&PROT_FLAGS)),
            p("flags", Flags(&MMAP_FLAGS)),
            FD,
            p("offset", Dec),
        ],
    ),
    (
        "mprotect",
        C::Memory,
        &[
            p("addr", Hex),
            p("length", Dec),
            p("prot", Flags(&PROT_FLAGS)),
        ],
    ),
    ("userfaultfd", C::Memory, &[p("flags", Hex)]),
    // Kernel
    (
        "init_module",
        C::System,
        &[p("length", Dec), p("uargs", Dec)],
    ),
    (
        "finit_module",
        C::System,
        &[FD, p("uargs", Dec), p("flags", Hex)],
    ),
    (
        "delete_module",
        C::System,
        &[p("name", Dec), p("flags", Hex)],
    ),
    ("bpf", C::System, &[p("cmd", Dec)]),
    (
        "io_uring_setup",
        C::System,
        &[p("entries", Dec), p("flags", Hex)],
    ),
];

/// Categories of syscalls recorded raw, where the name alone says enough.
fn raw_category(name: &str) -> Category {
    match name {
        "futex" | "futex_waitv" | "futex_wait" | "futex_wake" | "futex_requeue" => C::Ipc,
        "nanosleep" | "clock_nanosleep" | "sched_yield" | "pause" => C::Sleep,
        "clock_gettime" | "gettimeofday" | "time" | "clock_getres" | "times" => C::Time,
        "epoll_wait" | "epoll_pwait" | "epoll_pwait2" | "poll" | "ppoll" | "select"
        | "pselect6" => C::Sleep,
        "brk" | "munmap" | "mremap" | "madvise" | "mlock" | "munlock" => C::Memory,
        "exit" | "exit_group" | "wait4" | "waitid" | "getpid" | "getppid" | "gettid" => C::Process,
        "rt_sigaction" | "rt_sigprocmask" | "rt_sigreturn" | "sigaltstack" => C::Signal,
        "getuid" | "geteuid" | "getgid" | "getegid" | "getresuid" | "getresgid" => C::User,
        n if n.contains("stat") || n.contains("xattr") || n.starts_with("getdents") => C::File,
        n if n.starts_with("sock") || n.starts_with("getsock") || n.starts_with("setsock") => {
            C::Net
        }
        _ => C::Other,
    }
}

const RAW_PARAMS: &[Param] = &[
    p("a0", Hex),
    p("a1", Hex),
    p("a2", Hex),
    p("a3", Hex),
    p("a4", Hex),
    p("a5", Hex),
];

const NON_SYSCALL_KINDS: &[(EventKind, &str, Category, &[Param])] = &[
    (
        EventKind::FORK,
        "procfork",
        C::Process,
        &[
            p("child_pid", Dec),
            p("child_tid", Dec),
            p("flags", Flags(&CLONE_FLAGS)),
        ],
    ),
    (
        EventKind::PROC_EXIT,
        "procexit",
        C::Process,
        &[p("status", Dec), p("ret", Dec), SIG, p("core", Dec)],
    ),
    (
        EventKind::SOURCE,
        "pluginevent",
        C::Plugin,
        &[p("source", Dec), p("payload", Dec)],
    ),
    (
        EventKind::CAPTURE_START,
        "capture_start",
        C::Meta,
        &[p("config", Dec)],
    ),
    (
        EventKind::CAPTURE_STOP,
        "capture_stop",
        C::Meta,
        &[
            p("reason", Dec),
            p("kernel_sent", Dec),
            p("kernel_drops", Dec),
        ],
    ),
    (
        EventKind::DROPS,
        "drops",
        C::Meta,
        &[p("cpu", Dec), p("count", Dec), p("syscall", Dec)],
    ),
    (
        EventKind::CONFIG_CHANGE,
        "config_change",
        C::Meta,
        &[p("key", Dec), p("value", Dec)],
    ),
];

struct Table {
    syscalls: Vec<KindInfo>,
    others: Vec<KindInfo>,
    unknown: KindInfo,
}

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        let syscalls = (0..EventKind::SYSCALL_LIMIT)
            .map(|nr| {
                let kind = EventKind::syscall(nr);
                let name = SYSCALL_NAMES.get(usize::from(nr)).copied().unwrap_or("");
                if name.is_empty() {
                    return KindInfo::new(kind, "syscall", C::Other, RAW_PARAMS, false);
                }
                match SYSCALL_LAYOUTS.iter().find(|(n, _, _)| *n == name) {
                    Some(&(name, category, params)) => {
                        KindInfo::new(kind, name, category, params, true)
                    }
                    None => KindInfo::new(kind, name, raw_category(name), RAW_PARAMS, false),
                }
            })
            .collect();
        let others = NON_SYSCALL_KINDS
            .iter()
            .map(|&(kind, name, category, params)| {
                KindInfo::new(kind, name, category, params, true)
            })
            .collect();
        Table {
            syscalls,
            others,
            unknown: KindInfo::new(EventKind(u16::MAX), "unknown", C::Other, &[], false),
        }
    })
}

/// Everything known about an event kind. Unknown kinds (from a newer writer) get the
/// name `unknown` and no parameter names; their arguments still decode.
pub fn kind_info(kind: EventKind) -> &'static KindInfo {
    let table = table();
    match kind.syscall_nr() {
        Some(nr) => &table.syscalls[usize::from(nr)],
        None => table
            .others
            .iter()
            .find(|info| info.kind == kind)
            .unwrap_or(&table.unknown),
    }
}

/// The x86_64 number of a syscall by name.
pub fn syscall_nr(name: &str) -> Option<u16> {
    SYSCALL_NAMES
        .iter()
        .position(|n| !n.is_empty() && *n == name)
        .and_then(|nr| u16::try_from(nr).ok())
}

/// An event kind by its `evt.type` name (syscalls and the other kinds).
pub fn kind_by_name(name: &str) -> Option<EventKind> {
    syscall_nr(name).map(EventKind::syscall).or_else(|| {
        NON_SYSCALL_KINDS
            .iter()
            .find(|(_, n, _, _)| *n == name)
            .map(|(kind, ..)| *kind)
    })
}

/// Every kind with a decoded layout (for documentation and tests).
pub fn decoded_kinds() -> impl Iterator<Item = &'static KindInfo> {
    let table = table();
    table
        .syscalls
        .iter()
        .filter(|info| info.decoded)
        .chain(table.others.iter())
}

/// The layout table of `docs/EVENTS.md`, generated from this module so the two cannot
/// drift apart (a test compares them).
pub fn layouts_markdown() -> String {
    let mut out = String::from("| kind | type | category | arguments |\n|---|---|---|---|\n");
    for info in decoded_kinds() {
        let params: Vec<String> = info
            .params
            .iter()
            .map(|p| match p.hint {
                Hint::Dec => p.name.to_string(),
                Hint::Hex => format!("{} (hex)", p.name),
                Hint::Oct => format!("{} (octal)", p.name),
                Hint::OpenFlags => format!("{} (open flags)", p.name),
                Hint::Flags(_) => format!("{} (flags)", p.name),
                Hint::Enum(_) => format!("{} (enum)", p.name),
            })
            .collect();
        out.push_str(&format!(
            "| {} | `{}` | {} | {} |\n",
            info.kind.0,
            info.name,
            info.category.as_str(),
            if params.is_empty() {
                "—".to_string()
            } else {
                params.join(", ")
            }
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_layout_names_a_real_syscall_once() {
        for (name, _, params) in SYSCALL_LAYOUTS {
            let nr = syscall_nr(name).unwrap_or_else(|| panic!("{name} is not an x86_64 syscall"));
            assert_eq!(kind_info(EventKind::syscall(nr)).params, *params);
            let mut names: Vec<_> = params.iter().map(|p| p.name).collect();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), params.len(), "{name} repeats a parameter name");
        }
    }

    #[test]
    fn kinds_resolve_by_name_and_number() {
        assert_eq!(syscall_nr("openat"), Some(257));
        assert_eq!(kind_info(EventKind::syscall(59)).name, "execve");
        assert_eq!(kind_by_name("procexit"), Some(EventKind::PROC_EXIT));
        assert!(
            !kind_info(EventKind::syscall(202)).decoded,
            "futex is recorded raw"
        );
        assert_eq!(kind_info(EventKind(4000)).name, "unknown");
        assert_eq!(kind_info(EventKind::syscall(1000)).name, "syscall");
    }
}
