//! The state engine: processes, threads, their ancestry and their file-descriptor
//! tables, started from a capture's snapshot (or checkpoint) and kept current by the
//! event stream exactly as the kernel changes them. The recorder (for checkpoints) and
//! the rule evaluator (live and on replay) run this same code, so the same events give
//! the same state.
//!
//! Removals wait one event: the `close` of fd 3, or a thread's `procexit`, is still
//! evaluated with fd 3 or the thread present, as Falco does.

pub mod container;
mod fd;
mod names;
mod snapshot;

pub use fd::{l4proto_name, Fd, FdKind, Role, Socket};
pub use names::{display_name, event_process_name, unknown_process_name};

use casefile_formats::event::{Arg, ArgList, Event, EventKind};
use casefile_formats::schema::syscall_nr;
use casefile_formats::state::{ByteString, GroupEntry, Namespaces, StateSnapshot, UserEntry};
use std::collections::{BTreeMap, VecDeque};

/// Keyed by kernel-assigned ids, which an observed program cannot pick to collide, so
/// a fast hash is safe; SipHash was a tenth of replay time.
type HashMap<K, V> = foldhash::HashMap<K, V>;

const CLONE_THREAD: u64 = 0x0001_0000;
const O_CLOEXEC: u32 = 0o2_000_000;
const AT_FDCWD: i64 = -100;
const EINPROGRESS: i64 = 115;

/// No process has this pid (the kernel's largest is 2^22).
const NO_PID: u32 = u32::MAX;

/// Exited processes kept so that their children can still name their ancestors.
const TOMBSTONES: usize = 4096;

/// A process (thread group) as the state engine knows it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Process {
    pub pid: u32,
    pub ppid: u32,
    pub tids: Vec<u32>,
    pub comm: ByteString,
    /// `argv[0]`.
    pub exe: ByteString,
    pub exepath: ByteString,
    pub args: Vec<ByteString>,
    pub cwd: ByteString,
    pub uid: u32,
    pub euid: u32,
    pub gid: u32,
    pub egid: u32,
    pub loginuid: u32,
    pub tty: u32,
    pub sid: u32,
    pub pgid: u32,
    pub start_ts: u64,
    pub exe_ino: u64,
    /// The executable's inode change and modification times (ns), when known.
    pub exe_ctime: Option<u64>,
    pub exe_mtime: Option<u64>,
    pub exe_from_memfd: bool,
    pub cgroup: ByteString,
    pub container_id: String,
    pub pod_uid: String,
    pub cap_inheritable: Option<u64>,
    pub cap_permitted: Option<u64>,
    pub cap_effective: Option<u64>,
    pub namespaces: Namespaces,
    pub fds: BTreeMap<i64, Fd>,
    /// It exited; kept for its children's ancestry.
    pub exited: bool,
}

/// Syscall numbers the engine reacts to, looked up once.
#[derive(Clone, Copy)]
struct Numbers {
    execve: u16,
    execveat: u16,
    open: u16,
    openat: u16,
    openat2: u16,
    creat: u16,
    close: u16,
    chdir: u16,
    fchdir: u16,
    socket: u16,
    socketpair: u16,
    connect: u16,
    accept: u16,
    accept4: u16,
    bind: u16,
    dup: u16,
    dup2: u16,
    dup3: u16,
    fcntl: u16,
    pipe: u16,
    pipe2: u16,
    memfd_create: u16,
    setuid: u16,
    setgid: u16,
    setreuid: u16,
    setregid: u16,
    setresuid: u16,
    setresgid: u16,
    prctl: u16,
}

impl Numbers {
    /// A bitmap of the syscalls the engine reacts to, by number.
    fn bitmap(&self) -> [u64; SYSCALL_WORDS] {
        let mut bits = [0u64; SYSCALL_WORDS];
        let all = [
            self.execve,
            self.execveat,
            self.open,
            self.openat,
            self.openat2,
            self.creat,
            self.close,
            self.chdir,
            self.fchdir,
            self.socket,
            self.socketpair,
            self.connect,
            self.accept,
            self.accept4,
            self.bind,
            self.dup,
            self.dup2,
            self.dup3,
            self.fcntl,
            self.pipe,
            self.pipe2,
            self.memfd_create,
            self.setuid,
            self.setgid,
            self.setreuid,
            self.setregid,
            self.setresuid,
            self.setresgid,
            self.prctl,
        ];
        for nr in all.map(usize::from) {
            if let Some(word) = bits.get_mut(nr / 64) {
                *word |= 1 << (nr % 64);
            }
        }
        bits
    }

    fn new() -> Numbers {
        let nr = |name| syscall_nr(name).unwrap_or(u16::MAX);
        Numbers {
            execve: nr("execve"),
            execveat: nr("execveat"),
            open: nr("open"),
            openat: nr("openat"),
            openat2: nr("openat2"),
            creat: nr("creat"),
            close: nr("close"),
            chdir: nr("chdir"),
            fchdir: nr("fchdir"),
            socket: nr("socket"),
            socketpair: nr("socketpair"),
            connect: nr("connect"),
            accept: nr("accept"),
            accept4: nr("accept4"),
            bind: nr("bind"),
            dup: nr("dup"),
            dup2: nr("dup2"),
            dup3: nr("dup3"),
            fcntl: nr("fcntl"),
            pipe: nr("pipe"),
            pipe2: nr("pipe2"),
            memfd_create: nr("memfd_create"),
            setuid: nr("setuid"),
            setgid: nr("setgid"),
            setreuid: nr("setreuid"),
            setregid: nr("setregid"),
            setresuid: nr("setresuid"),
            setresgid: nr("setresgid"),
            prctl: nr("prctl"),
        }
    }
}

const SYSCALL_WORDS: usize = EventKind::SYSCALL_LIMIT as usize / 64;

#[derive(Clone, Debug)]
enum Pending {
    CloseFd { pid: u32, fd: i64 },
    ThreadExit { pid: u32, tid: u32 },
}

#[derive(Clone)]
pub struct StateEngine {
    processes: HashMap<u32, Process>,
    /// Thread id → thread group id.
    threads: HashMap<u32, u32>,
    tombstones: VecDeque<u32>,
    users: HashMap<u32, UserEntry>,
    groups: HashMap<u32, GroupEntry>,
    pending: Vec<Pending>,
    nr: Numbers,
    /// [`Numbers::bitmap`]: most events (reads, writes, raw syscalls) change nothing,
    /// and one bit test tells so before the comparisons with every number above.
    reacts: [u64; SYSCALL_WORDS],
    /// Processes first met in an event of their own: in neither the snapshot (or
    /// checkpoint) nor a fork of the capture.
    unknown_processes: u64,
    /// The pid of the last event, known to be in `processes` ([`StateEngine::meet`]).
    last_met: u32,
}

/// The new process a `procfork` made, by its pid; `None` for a new thread, or for an
/// event that is not a fork. The kernel writes the child's pid signed: either integer
/// form is read.
pub fn forked_process(event: &Event<'_>) -> Option<u32> {
    if event.kind != EventKind::FORK {
        return None;
    }
    let child = event.args.get(0)?.as_u64()?;
    let flags = event.args.get(2).and_then(|a| a.as_u64()).unwrap_or(0);
    if flags & CLONE_THREAD != 0 || child == u64::from(event.pid) {
        return None;
    }
    u32::try_from(child).ok()
}

fn text(arg: Option<Arg<'_>>) -> Option<&[u8]> {
    match arg {
        Some(Arg::Str(s)) => Some(s),
        _ => None,
    }
}

fn uint(arg: Option<Arg<'_>>) -> Option<u64> {
    match arg {
        Some(Arg::Uint(v)) => Some(v),
        Some(Arg::Int(v)) => Some(v as u64),
        _ => None,
    }
}

fn fd_arg(arg: Option<Arg<'_>>) -> Option<i64> {
    match arg {
        Some(Arg::Fd(v)) | Some(Arg::Int(v)) => Some(v),
        _ => None,
    }
}

/// `path` resolved against `base` (a directory); `.` and `..` are folded lexically.
pub fn resolve_path(base: &[u8], path: &[u8]) -> ByteString {
    // Most paths programs open are absolute and already in canonical form.
    if is_canonical(path) {
        return ByteString(path.to_vec());
    }
    let mut joined = Vec::with_capacity(base.len() + path.len() + 1);
    if !path.starts_with(b"/") {
        joined.extend_from_slice(base);
        joined.push(b'/');
    }
    joined.extend_from_slice(path);
    let mut parts: Vec<&[u8]> = Vec::new();
    for part in joined.split(|b| *b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    let mut out = Vec::with_capacity(joined.len());
    for part in &parts {
        out.push(b'/');
        out.extend_from_slice(part);
    }
    if out.is_empty() {
        out.push(b'/');
    }
    ByteString(out)
}

/// An absolute path without empty, `.` or `..` components: what [`resolve_path`] would
/// return for it unchanged.
fn is_canonical(path: &[u8]) -> bool {
    match path {
        b"/" => true,
        [b'/', rest @ ..] => rest
            .split(|b| *b == b'/')
            .all(|part| !matches!(part, b"" | b"." | b"..")),
        _ => false,
    }
}

impl StateEngine {
    pub fn new() -> StateEngine {
        StateEngine::from_snapshot(&StateSnapshot::default())
    }

    /// The process a thread belongs to.
    pub fn process_of_thread(&self, tid: u32) -> Option<&Process> {
        self.processes.get(self.threads.get(&tid)?)
    }

    pub fn process(&self, pid: u32) -> Option<&Process> {
        self.processes.get(&pid)
    }

    /// The parent, grandparent, … of `pid`, nearest first, as far as known.
    pub fn ancestors(&self, pid: u32) -> impl Iterator<Item = &Process> + '_ {
        let mut next = self.processes.get(&pid).map(|p| p.ppid);
        let mut steps = 0;
        std::iter::from_fn(move || {
            let ppid = next?;
            steps += 1;
            if ppid == 0 || steps > 256 {
                return None;
            }
            let parent = self.processes.get(&ppid)?;
            next = (parent.ppid != parent.pid).then_some(parent.ppid);
            Some(parent)
        })
    }

    pub fn user(&self, uid: u32) -> Option<&UserEntry> {
        self.users.get(&uid)
    }

    pub fn group(&self, gid: u32) -> Option<&GroupEntry> {
        self.groups.get(&gid)
    }

    pub fn processes(&self) -> impl Iterator<Item = &Process> {
        self.processes.values().filter(|p| !p.exited)
    }

    /// How many processes the events showed that the capture does not know (see
    /// [`unknown_process_name`]); it grows on the event that first shows one.
    pub fn unknown_processes(&self) -> u64 {
        self.unknown_processes
    }

    fn entry(&mut self, pid: u32, tid: u32) -> &mut Process {
        self.threads.entry(tid).or_insert(pid);
        let unknown = &mut self.unknown_processes;
        self.processes.entry(pid).or_insert_with(|| {
            *unknown += 1;
            Process {
                pid,
                tids: vec![tid],
                loginuid: u32::MAX,
                ..Process::default()
            }
        })
    }

    /// Applies one event. Call it before evaluating rules on the event.
    pub fn update(&mut self, event: &Event<'_>) {
        self.settle();
        match event.kind {
            EventKind::FORK => {
                self.meet(event.pid, event.tid);
                self.fork(event)
            }
            EventKind::PROC_EXIT => {
                self.meet(event.pid, event.tid);
                self.pending.push(Pending::ThreadExit {
                    pid: event.pid,
                    tid: event.tid,
                })
            }
            kind if kind.is_syscall() => {
                self.meet(event.pid, event.tid);
                self.syscall(event)
            }
            _ => {}
        }
    }

    /// Applies the removals the last event deferred.
    fn settle(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        // Drained from a buffer that is put back, so that it keeps its allocation.
        let mut pending = std::mem::take(&mut self.pending);
        for item in pending.drain(..) {
            match item {
                Pending::CloseFd { pid, fd } => {
                    if let Some(p) = self.processes.get_mut(&pid) {
                        p.fds.remove(&fd);
                    }
                }
                Pending::ThreadExit { pid, tid } => self.thread_exit(pid, tid),
            }
        }
        self.pending = pending;
    }

    /// Every process an event shows is in the state from that event on, so that every
    /// view names it the same way, known or not. Runs of events of one process are the
    /// rule, so the last pid met is remembered and most events cost one comparison.
    fn meet(&mut self, pid: u32, tid: u32) {
        if pid != self.last_met {
            if !self.processes.contains_key(&pid) {
                self.entry(pid, tid);
            }
            self.last_met = pid;
        }
    }

    fn thread_exit(&mut self, pid: u32, tid: u32) {
        self.threads.remove(&tid);
        let Some(process) = self.processes.get_mut(&pid) else {
            return;
        };
        process.tids.retain(|t| *t != tid);
        if process.tids.is_empty() && !process.exited {
            process.exited = true;
            process.fds.clear();
            self.tombstones.push_back(pid);
            while self.tombstones.len() > TOMBSTONES {
                if let Some(old) = self.tombstones.pop_front() {
                    if self.processes.get(&old).is_some_and(|p| p.exited) {
                        self.processes.remove(&old);
                        if old == self.last_met {
                            self.last_met = NO_PID;
                        }
                    }
                }
            }
        }
    }

    fn fork(&mut self, event: &Event<'_>) {
        let args = event.args;
        let (Some(child_pid), Some(child_tid)) = (uint(args.get(0)), uint(args.get(1))) else {
            return;
        };
        let (child_pid, child_tid) = (child_pid as u32, child_tid as u32);
        let flags = uint(args.get(2)).unwrap_or(0);
        self.threads.insert(child_tid, child_pid);
        if flags & CLONE_THREAD != 0 || child_pid == event.pid {
            let process = self.entry(child_pid, child_tid);
            if !process.tids.contains(&child_tid) {
                process.tids.push(child_tid);
            }
            return;
        }
        let parent = self.entry(event.pid, event.tid).clone();
        // fork copies the parent's descriptor table and everything else but its identity.
        let child = Process {
            pid: child_pid,
            ppid: event.pid,
            tids: vec![child_tid],
            start_ts: event.ts,
            exited: false,
            ..parent
        };
        if self
            .processes
            .insert(child_pid, child)
            .is_some_and(|old| old.exited)
        {
            // A pid reused after its tombstone: the old process is gone for good, and
            // the queue of exited processes holds only exited ones (a checkpoint
            // stores that queue as it is).
            self.tombstones.retain(|pid| *pid != child_pid);
        }
    }

    fn syscall(&mut self, event: &Event<'_>) {
        let nr = event.kind.0;
        let reacts = self
            .reacts
            .get(usize::from(nr) / 64)
            .is_some_and(|word| word >> (nr % 64) & 1 != 0);
        if !reacts {
            return;
        }
        let n = self.nr;
        let args = event.args;
        if nr == n.execve || nr == n.execveat {
            if event.ret == 0 {
                let base = usize::from(nr == n.execveat);
                self.exec(event.pid, event.tid, args, base);
            }
            return;
        }
        // A non-blocking connect reports EINPROGRESS and completes later; the socket has
        // its peer from then on (Falco treats it as a success, and so does curl).
        if event.ret < 0 && !(nr == n.connect && event.ret == -EINPROGRESS) {
            return;
        }
        let (pid, tid, ret) = (event.pid, event.tid, event.ret);
        if nr == n.close {
            if let Some(fd) = fd_arg(args.get(0)) {
                self.pending.push(Pending::CloseFd { pid, fd });
            }
        } else if nr == n.open || nr == n.creat {
            if let Some(path) = text(args.get(0)) {
                let flags = if nr == n.creat {
                    0o1101
                } else {
                    uint(args.get(1)).unwrap_or(0) as u32
                };
                self.open_file(pid, tid, AT_FDCWD, path, flags, ret);
            }
        } else if nr == n.openat || nr == n.openat2 {
            if let Some(path) = text(args.get(1)) {
                let dirfd = fd_arg(args.get(0)).unwrap_or(AT_FDCWD);
                let flags = uint(args.get(2)).unwrap_or(0) as u32;
                self.open_file(pid, tid, dirfd, path, flags, ret);
            }
        } else if nr == n.memfd_create {
            let name = text(args.get(0)).unwrap_or_default();
            let flags = uint(args.get(1)).unwrap_or(0);
            let mut label = b"memfd:".to_vec();
            label.extend_from_slice(name);
            let fd = Fd::new(FdKind::Memfd, ByteString(label), 0o2, flags & 1 != 0);
            self.entry(pid, tid).fds.insert(ret, fd);
        } else if nr == n.chdir {
            if let Some(path) = text(args.get(0)) {
                let process = self.entry(pid, tid);
                process.cwd = resolve_path(process.cwd.as_bytes(), path);
            }
        } else if nr == n.fchdir {
            if let Some(fd) = fd_arg(args.get(0)) {
                let process = self.entry(pid, tid);
                if let Some(dir) = process.fds.get(&fd) {
                    process.cwd = dir.name.clone();
                }
            }
        } else if nr == n.socket {
            let domain = uint(args.get(0)).unwrap_or(0) as u16;
            let kind = uint(args.get(1)).unwrap_or(0);
            let proto = uint(args.get(2)).unwrap_or(0) as u8;
            let fd = Fd::socket(domain, kind, proto);
            self.entry(pid, tid).fds.insert(ret, fd);
        } else if nr == n.socketpair {
            if let (Some(a), Some(b)) = (fd_arg(args.get(3)), fd_arg(args.get(4))) {
                let domain = uint(args.get(0)).unwrap_or(0) as u16;
                let kind = uint(args.get(1)).unwrap_or(0);
                let process = self.entry(pid, tid);
                for fd in [a, b] {
                    process.fds.insert(fd, Fd::socket(domain, kind, 0));
                }
            }
        } else if nr == n.connect {
            if let Some(fd) = fd_arg(args.get(0)) {
                let process = self.entry(pid, tid);
                let entry = process.fds.entry(fd).or_insert_with(|| Fd::socket(0, 1, 0));
                entry.connect(args.get(1), args.get(2), Role::Client);
            }
        } else if nr == n.accept || nr == n.accept4 {
            let listening =
                fd_arg(args.get(0)).and_then(|fd| self.entry(pid, tid).fds.get(&fd).cloned());
            let mut fd = listening.unwrap_or_else(|| Fd::socket(0, 1, 6));
            fd.cloexec = nr == n.accept4 && uint(args.get(3)).unwrap_or(0) & 0o2_000_000 != 0;
            fd.connect(args.get(1), args.get(2), Role::Server);
            self.entry(pid, tid).fds.insert(ret, fd);
        } else if nr == n.bind {
            if let Some(fd) = fd_arg(args.get(0)) {
                let process = self.entry(pid, tid);
                if let Some(entry) = process.fds.get_mut(&fd) {
                    entry.bind(args.get(1));
                }
            }
        } else if nr == n.dup || nr == n.dup2 || nr == n.dup3 {
            if let Some(old) = fd_arg(args.get(0)) {
                let process = self.entry(pid, tid);
                if let Some(mut copy) = process.fds.get(&old).cloned() {
                    // dup and dup2 clear close-on-exec; dup3 sets it from its flags.
                    copy.cloexec =
                        nr == n.dup3 && uint(args.get(2)).unwrap_or(0) as u32 & O_CLOEXEC != 0;
                    process.fds.insert(ret, copy);
                }
            }
        } else if nr == n.fcntl {
            self.fcntl(pid, tid, args, ret);
        } else if nr == n.pipe || nr == n.pipe2 {
            if let (Some(a), Some(b)) = (fd_arg(args.get(0)), fd_arg(args.get(1))) {
                let ino = uint(args.get(2)).unwrap_or(0);
                let cloexec =
                    nr == n.pipe2 && uint(args.get(3)).unwrap_or(0) as u32 & O_CLOEXEC != 0;
                let process = self.entry(pid, tid);
                for fd in [a, b] {
                    let name = ByteString(format!("pipe:[{ino}]").into_bytes());
                    process
                        .fds
                        .insert(fd, Fd::new(FdKind::Pipe, name, 0, cloexec));
                }
            }
        } else {
            self.credentials(pid, tid, nr, args);
        }
    }

    fn credentials(&mut self, pid: u32, tid: u32, nr: u16, args: ArgList<'_>) {
        let n = self.nr;
        let id = |i: usize| {
            uint(args.get(i))
                .map(|v| v as u32)
                .filter(|v| *v != u32::MAX)
        };
        let (is_uid, real, effective) = if nr == n.setuid {
            (true, id(0), id(0))
        } else if nr == n.setgid {
            (false, id(0), id(0))
        } else if nr == n.setreuid || nr == n.setresuid {
            (true, id(0), id(1))
        } else if nr == n.setregid || nr == n.setresgid {
            (false, id(0), id(1))
        } else if nr == n.prctl {
            // PR_SET_NAME renames the thread (comm).
            if uint(args.get(0)) == Some(15) {
                if let Some(name) = text(args.get(2)) {
                    self.entry(pid, tid).comm = ByteString(name.to_vec());
                }
            }
            return;
        } else {
            return;
        };
        let process = self.entry(pid, tid);
        if is_uid {
            process.uid = real.unwrap_or(process.uid);
            process.euid = effective.unwrap_or(process.euid);
        } else {
            process.gid = real.unwrap_or(process.gid);
            process.egid = effective.unwrap_or(process.egid);
        }
    }

    fn fcntl(&mut self, pid: u32, tid: u32, args: ArgList<'_>, ret: i64) {
        const F_DUPFD: i64 = 0;
        const F_SETFD: i64 = 2;
        const F_DUPFD_CLOEXEC: i64 = 1030;
        let (Some(fd), Some(cmd)) = (fd_arg(args.get(0)), uint(args.get(1)).map(|c| c as i64))
        else {
            return;
        };
        let process = self.entry(pid, tid);
        match cmd {
            F_DUPFD | F_DUPFD_CLOEXEC => {
                if let Some(mut copy) = process.fds.get(&fd).cloned() {
                    copy.cloexec = cmd == F_DUPFD_CLOEXEC;
                    process.fds.insert(ret, copy);
                }
            }
            F_SETFD => {
                if let Some(entry) = process.fds.get_mut(&fd) {
                    entry.cloexec = uint(args.get(2)).unwrap_or(0) & 1 != 0;
                }
            }
            _ => {}
        }
    }

    fn open_file(&mut self, pid: u32, tid: u32, dirfd: i64, path: &[u8], flags: u32, ret: i64) {
        let process = self.entry(pid, tid);
        let base: &[u8] = if path.starts_with(b"/") {
            b""
        } else if dirfd == AT_FDCWD {
            process.cwd.as_bytes()
        } else {
            process
                .fds
                .get(&dirfd)
                .map(|d| d.name.as_bytes())
                .unwrap_or_default()
        };
        let name = resolve_path(base, path);
        const O_DIRECTORY: u32 = 0o200_000;
        let kind = if flags & O_DIRECTORY != 0 {
            FdKind::Directory
        } else {
            FdKind::File
        };
        let fd = Fd {
            kind,
            name,
            name_raw: ByteString(path.to_vec()),
            flags,
            cloexec: flags & O_CLOEXEC != 0,
            socket: None,
        };
        process.fds.insert(ret, fd);
    }

    fn exec(&mut self, pid: u32, tid: u32, args: ArgList<'_>, base: usize) {
        let process = self.entry(pid, tid);
        if let Some(Arg::StrList(argv)) = args.get(base + 2) {
            let mut items = argv.iter();
            process.exe = items.next().map(ByteString::from).unwrap_or_default();
            process.args = items.map(ByteString::from).collect();
        }
        if let Some(path) = text(args.get(base + 1)) {
            process.exepath = ByteString(path.to_vec());
        }
        // The kernel's own view of the working directory at exec: it corrects a cwd the
        // state could only guess (a chdir before the capture, or through a path the
        // state could not resolve).
        if let Some(cwd) = text(args.get(base + 3)).filter(|cwd| cwd.starts_with(b"/")) {
            process.cwd = ByteString(cwd.to_vec());
        }
        if let Some(comm) = text(args.get(base + 5)) {
            process.comm = ByteString(comm.to_vec());
        }
        let id = |i: usize| uint(args.get(base + i)).map(|v| v as u32);
        process.uid = id(6).unwrap_or(process.uid);
        process.gid = id(7).unwrap_or(process.gid);
        process.euid = id(8).unwrap_or(process.euid);
        process.egid = id(9).unwrap_or(process.egid);
        process.loginuid = id(10).unwrap_or(process.loginuid);
        process.tty = id(11).unwrap_or(process.tty);
        process.sid = id(12).unwrap_or(process.sid);
        process.pgid = id(13).unwrap_or(process.pgid);
        if let Some(cgroup) = text(args.get(base + 14)) {
            let found = container::from_cgroup(cgroup);
            process.container_id = found.as_ref().map(|c| c.id.clone()).unwrap_or_default();
            process.pod_uid = found.map(|c| c.pod_uid).unwrap_or_default();
            process.cgroup = ByteString(cgroup.to_vec());
        }
        if let Some(flags) = uint(args.get(base + 15)) {
            process.exe_from_memfd = flags & (1 << 2) != 0;
        }
        process.exe_ino = uint(args.get(base + 16)).unwrap_or(process.exe_ino);
        process.exe_ctime = uint(args.get(base + 17));
        process.exe_mtime = uint(args.get(base + 18));
        let cap = |i: usize| uint(args.get(base + i));
        process.cap_inheritable = cap(19).or(process.cap_inheritable);
        process.cap_permitted = cap(20).or(process.cap_permitted);
        process.cap_effective = cap(21).or(process.cap_effective);
        // The new image keeps only descriptors without close-on-exec.
        process.fds.retain(|_, fd| !fd.cloexec);
    }
}

impl Default for StateEngine {
    fn default() -> Self {
        StateEngine::new()
    }
}

impl Process {
    /// The command line as Falco's `proc.cmdline` shows it: `comm` then the arguments.
    pub fn cmdline(&self) -> Vec<u8> {
        let mut out = self.comm.as_bytes().to_vec();
        for arg in &self.args {
            out.push(b' ');
            out.extend_from_slice(arg.as_bytes());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_paths_resolve_to_themselves_and_others_are_folded() {
        for path in [&b"/"[..], b"/etc/passwd", b"/a/b.c/..d/.e"] {
            assert!(is_canonical(path));
            assert_eq!(resolve_path(b"/cwd", path).as_bytes(), path);
        }
        for (path, resolved) in [
            (&b"/etc/"[..], &b"/etc"[..]),
            (b"//etc//passwd", b"/etc/passwd"),
            (b"/a/./b/../c", b"/a/c"),
            (b"/..", b"/"),
            (b"/a/.", b"/a"),
            (b"rel/x", b"/cwd/rel/x"),
        ] {
            assert!(!is_canonical(path));
            assert_eq!(resolve_path(b"/cwd", path).as_bytes(), resolved);
        }
    }
}
