//! The recorder's running picture of the host: the `/proc` snapshot taken at start, kept
//! current from the event stream (fork, exec, exit, cwd changes, file descriptors), so
//! that checkpoints and rotated files start from the state of their moment.
//!
//! It follows what a checkpoint needs — process lineage, executables, command lines,
//! cgroups and fd tables — not every field a rule may ask about.

use crate::container;
use casefile_formats::event::{Arg, Event, EventKind, SockAddr};
use casefile_formats::schema::syscall_nr;
use casefile_formats::state::{
    ByteString, FdEntry, FdTarget, ProcessEntry, SocketInfo, StateSnapshot,
};
use std::collections::BTreeMap;

const CLONE_THREAD: u64 = 0x0001_0000;

pub struct Tracker {
    processes: BTreeMap<u32, ProcessEntry>,
    /// Thread id → its thread group.
    threads: BTreeMap<u32, u32>,
    base: StateSnapshot,
    nr: Numbers,
}

/// Syscall numbers the tracker reacts to, looked up once.
struct Numbers {
    execve: u16,
    execveat: u16,
    open: u16,
    openat: u16,
    openat2: u16,
    creat: u16,
    close: u16,
    chdir: u16,
    socket: u16,
    connect: u16,
    accept: u16,
    accept4: u16,
    dup: u16,
    dup2: u16,
    dup3: u16,
    pipe: u16,
    pipe2: u16,
    memfd_create: u16,
}

impl Numbers {
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
            socket: nr("socket"),
            connect: nr("connect"),
            accept: nr("accept"),
            accept4: nr("accept4"),
            dup: nr("dup"),
            dup2: nr("dup2"),
            dup3: nr("dup3"),
            pipe: nr("pipe"),
            pipe2: nr("pipe2"),
            memfd_create: nr("memfd_create"),
        }
    }
}

impl Tracker {
    pub fn new(snapshot: StateSnapshot) -> Tracker {
        let mut processes = BTreeMap::new();
        let mut threads = BTreeMap::new();
        for process in &snapshot.processes {
            for &tid in &process.tids {
                threads.insert(tid, process.pid);
            }
            threads.insert(process.pid, process.pid);
            processes.insert(process.pid, process.clone());
        }
        Tracker {
            processes,
            threads,
            base: StateSnapshot {
                processes: Vec::new(),
                ..snapshot
            },
            nr: Numbers::new(),
        }
    }

    pub fn snapshot(&self, ts: u64) -> StateSnapshot {
        StateSnapshot {
            ts,
            processes: self.processes.values().cloned().collect(),
            users: self.base.users.clone(),
            groups: self.base.groups.clone(),
        }
    }

    pub fn process(&self, pid: u32) -> Option<&ProcessEntry> {
        self.processes.get(&pid)
    }

    pub fn apply(&mut self, event: &Event<'_>) {
        match event.kind {
            EventKind::FORK => self.fork(event),
            EventKind::PROC_EXIT => self.exit(event),
            kind if kind.is_syscall() && event.ret >= 0 => self.syscall(event),
            _ => {}
        }
    }

    fn entry(&mut self, pid: u32) -> &mut ProcessEntry {
        self.processes.entry(pid).or_insert_with(|| ProcessEntry {
            pid,
            tids: vec![pid],
            loginuid: u32::MAX,
            ..ProcessEntry::default()
        })
    }

    fn fork(&mut self, event: &Event<'_>) {
        let (Some(Arg::Int(child_pid)), Some(Arg::Int(child_tid))) =
            (event.args.get(0), event.args.get(1))
        else {
            return;
        };
        let (child_pid, child_tid) = (child_pid as u32, child_tid as u32);
        let flags = match event.args.get(2) {
            Some(Arg::Uint(f)) => f,
            _ => 0,
        };
        self.threads.insert(child_tid, child_pid);
        if flags & CLONE_THREAD != 0 || child_pid == event.pid {
            let process = self.entry(child_pid);
            if !process.tids.contains(&child_tid) {
                process.tids.push(child_tid);
            }
            return;
        }
        let mut child = self.entry(event.pid).clone();
        child.pid = child_pid;
        child.ppid = event.pid;
        child.tids = vec![child_tid];
        child.start_ts = event.ts;
        self.processes.insert(child_pid, child);
    }

    fn exit(&mut self, event: &Event<'_>) {
        self.threads.remove(&event.tid);
        let Some(process) = self.processes.get_mut(&event.pid) else {
            return;
        };
        process.tids.retain(|t| *t != event.tid);
        if process.tids.is_empty() {
            self.processes.remove(&event.pid);
        }
    }

    fn syscall(&mut self, event: &Event<'_>) {
        let nr = event.kind.0;
        let n = &self.nr;
        let arg = |i: usize| event.args.get(i);
        let text = |a: Option<Arg<'_>>| match a {
            Some(Arg::Str(s)) => Some(ByteString(s.to_vec())),
            _ => None,
        };
        if nr == n.execve || nr == n.execveat {
            let base = usize::from(nr == n.execveat);
            let process = self.entry(event.pid);
            if let Some(Arg::StrList(argv)) = arg(base + 2) {
                let mut items = argv.iter();
                process.exe = items.next().map(ByteString::from).unwrap_or_default();
                process.args = items.map(ByteString::from).collect();
            }
            if let Some(path) = text(arg(base + 1)) {
                process.exepath = path;
            }
            if let Some(comm) = text(arg(base + 5)) {
                process.comm = comm;
            }
            let uint = |i: usize| match arg(base + i) {
                Some(Arg::Uint(v)) => Some(v as u32),
                _ => None,
            };
            process.uid = uint(6).unwrap_or(process.uid);
            process.gid = uint(7).unwrap_or(process.gid);
            process.euid = uint(8).unwrap_or(process.euid);
            process.egid = uint(9).unwrap_or(process.egid);
            process.loginuid = uint(10).unwrap_or(process.loginuid);
            if let Some(cgroup) = text(arg(base + 14)) {
                let found = container::from_cgroup(cgroup.as_bytes());
                process.container_id = found.as_ref().map(|c| c.id.clone()).unwrap_or_default();
                process.pod_uid = found.map(|c| c.pod_uid).unwrap_or_default();
                process.cgroup = cgroup;
            }
            // Exec closes close-on-exec descriptors; which ones is not known here, so
            // keep them: a later close or reuse corrects the table.
            return;
        }
        if nr == n.chdir {
            if let Some(path) = text(arg(0)) {
                let process = self.entry(event.pid);
                process.cwd = resolve(&process.cwd, path.as_bytes());
            }
            return;
        }
        let fd_ret = event.ret;
        if nr == n.close {
            if let Some(Arg::Fd(fd)) = arg(0) {
                self.entry(event.pid).fds.retain(|f| f.fd != fd);
            }
            return;
        }
        let target = if nr == n.open || nr == n.creat {
            let flags = match arg(1) {
                Some(Arg::Uint(f)) if nr == n.open => f as u32,
                _ => 0o1101, // creat: O_CREAT|O_WRONLY|O_TRUNC
            };
            text(arg(0)).map(|path| (fd_ret, FdTarget::File { path, flags }))
        } else if nr == n.openat || nr == n.openat2 {
            let flags = match arg(2) {
                Some(Arg::Uint(f)) => f as u32,
                _ => 0,
            };
            text(arg(1)).map(|path| (fd_ret, FdTarget::File { path, flags }))
        } else if nr == n.memfd_create {
            text(arg(0)).map(|name| (fd_ret, FdTarget::Memfd { name }))
        } else if nr == n.socket {
            Some((
                fd_ret,
                FdTarget::Socket(SocketInfo {
                    family: match arg(0) {
                        Some(Arg::Uint(f)) => f as u16,
                        _ => 0,
                    },
                    l4proto: 0,
                    local: String::new(),
                    remote: String::new(),
                }),
            ))
        } else if nr == n.connect || nr == n.accept || nr == n.accept4 {
            let (fd, remote, local) = if nr == n.connect {
                let fd = match arg(0) {
                    Some(Arg::Fd(fd)) => fd,
                    _ => return,
                };
                (fd, arg(1), arg(2))
            } else {
                (fd_ret, arg(1), arg(2))
            };
            fn addr(a: Option<Arg<'_>>) -> Option<SockAddr<'_>> {
                match a {
                    Some(Arg::Sock(s)) => Some(s),
                    _ => None,
                }
            }
            match (addr(remote), addr(local)) {
                (Some(SockAddr::Unix(path)), _) => Some((
                    fd,
                    FdTarget::Unix {
                        path: ByteString(path.to_vec()),
                    },
                )),
                (remote, local) => Some((
                    fd,
                    FdTarget::Socket(SocketInfo {
                        family: remote.or(local).map(|a| a.family()).unwrap_or(0),
                        l4proto: 6,
                        local: local.map(|a| a.to_string()).unwrap_or_default(),
                        remote: remote.map(|a| a.to_string()).unwrap_or_default(),
                    }),
                )),
            }
        } else if nr == n.dup || nr == n.dup2 || nr == n.dup3 {
            let Some(Arg::Fd(old)) = arg(0) else {
                return;
            };
            let process = self.entry(event.pid);
            process
                .fds
                .iter()
                .find(|f| f.fd == old)
                .map(|f| (fd_ret, f.target.clone()))
        } else if nr == n.pipe || nr == n.pipe2 {
            if let (Some(Arg::Fd(a)), Some(Arg::Fd(b))) = (arg(0), arg(1)) {
                let ino = match arg(2) {
                    Some(Arg::Uint(i)) => i,
                    _ => 0,
                };
                let process = self.entry(event.pid);
                for fd in [a, b] {
                    set_fd(process, fd, FdTarget::Pipe { ino });
                }
            }
            return;
        } else {
            None
        };
        if let Some((fd, target)) = target {
            if fd >= 0 {
                set_fd(self.entry(event.pid), fd, target);
            }
        }
    }
}

fn set_fd(process: &mut ProcessEntry, fd: i64, target: FdTarget) {
    match process.fds.iter_mut().find(|f| f.fd == fd) {
        Some(entry) => entry.target = target,
        None => {
            process.fds.push(FdEntry { fd, target });
            process.fds.sort_by_key(|f| f.fd);
        }
    }
}

/// `path` relative to `cwd` (absolute paths as they are; no `..` folding: the kernel's
/// view of symlinks is not known here).
fn resolve(cwd: &ByteString, path: &[u8]) -> ByteString {
    if path.starts_with(b"/") || cwd.is_empty() {
        return ByteString(path.to_vec());
    }
    let mut joined = cwd.as_bytes().to_vec();
    if !joined.ends_with(b"/") {
        joined.push(b'/');
    }
    joined.extend_from_slice(path);
    ByteString(joined)
}
