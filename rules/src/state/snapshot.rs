//! The state engine's state as a capture stores it ([`StateSnapshot`]) and back.
//!
//! Parallel replay, the TUI and SQL start from checkpoints, so the mapping is lossless:
//! an engine rebuilt from its own snapshot extracts every field exactly as the engine
//! that wrote it would have, on every later event (`tests/state_snapshot.rs` checks
//! this on random event streams). Snapshots read from `/proc` by the recorder carry
//! less (no [`FdDetail`]); what is missing is derived from the descriptor's target.

use super::fd::{Fd, FdKind, Socket};
use super::{HashMap, Numbers, Process, StateEngine, NO_PID, O_CLOEXEC};
use casefile_formats::event::{AF_INET, AF_INET6};
use casefile_formats::state::{
    ByteString, FdDetail, FdEntry, FdTarget, ProcessEntry, SocketDetail, SocketInfo, StateSnapshot,
};
use std::collections::VecDeque;
use std::net::SocketAddr;

impl StateEngine {
    pub fn from_snapshot(snapshot: &StateSnapshot) -> StateEngine {
        let mut engine = StateEngine {
            processes: HashMap::default(),
            threads: HashMap::default(),
            tombstones: VecDeque::new(),
            users: snapshot.users.iter().map(|u| (u.uid, u.clone())).collect(),
            groups: snapshot.groups.iter().map(|g| (g.gid, g.clone())).collect(),
            pending: Vec::new(),
            nr: Numbers::new(),
            reacts: Numbers::new().bitmap(),
            unknown_processes: 0,
            last_met: NO_PID,
        };
        for entry in &snapshot.exited {
            let mut process = Process::from_entry(entry);
            process.exited = true;
            process.tids = entry.tids.clone();
            engine.tombstones.push_back(process.pid);
            engine.processes.insert(process.pid, process);
        }
        for entry in &snapshot.processes {
            let process = Process::from_entry(entry);
            engine.processes.insert(process.pid, process);
        }
        engine.threads = match &snapshot.threads {
            Some(threads) => threads.iter().copied().collect(),
            // A /proc snapshot: each live process's threads, its leader included.
            None => snapshot
                .processes
                .iter()
                .flat_map(|p| {
                    p.tids
                        .iter()
                        .map(|tid| (*tid, p.pid))
                        .chain([(p.pid, p.pid)])
                })
                .collect(),
        };
        engine
    }

    /// The state as a snapshot (for checkpoints and rotated files): as of the end of the
    /// last event, its deferred removals applied, as the next event would see it.
    pub fn snapshot(&self, ts: u64) -> StateSnapshot {
        if !self.pending.is_empty() {
            let mut settled = self.clone();
            settled.settle();
            return settled.snapshot(ts);
        }
        let mut processes: Vec<ProcessEntry> = self.processes().map(Process::to_entry).collect();
        processes.sort_by_key(|p| p.pid);
        let exited = self
            .tombstones
            .iter()
            .filter_map(|pid| self.processes.get(pid).filter(|p| p.exited))
            .map(Process::to_entry)
            .collect();
        let mut users: Vec<_> = self.users.values().cloned().collect();
        users.sort_by_key(|u| u.uid);
        let mut groups: Vec<_> = self.groups.values().cloned().collect();
        groups.sort_by_key(|g| g.gid);
        let mut threads: Vec<(u32, u32)> = self.threads.iter().map(|(t, p)| (*t, *p)).collect();
        threads.sort_unstable();
        StateSnapshot {
            ts,
            processes,
            users,
            groups,
            exited,
            threads: Some(threads),
        }
    }
}

impl Process {
    fn from_entry(e: &ProcessEntry) -> Process {
        let mut tids = e.tids.clone();
        if tids.is_empty() {
            tids.push(e.pid);
        }
        Process {
            pid: e.pid,
            ppid: e.ppid,
            tids,
            comm: e.comm.clone(),
            exe: e.exe.clone(),
            exepath: e.exepath.clone(),
            args: e.args.clone(),
            cwd: e.cwd.clone(),
            uid: e.uid,
            euid: e.euid,
            gid: e.gid,
            egid: e.egid,
            loginuid: e.loginuid,
            tty: e.tty,
            sid: e.sid,
            pgid: e.pgid,
            start_ts: e.start_ts,
            exe_ino: e.exe_ino,
            exe_ctime: e.exe_ctime,
            exe_mtime: e.exe_mtime,
            exe_from_memfd: e
                .exe_from_memfd
                .unwrap_or_else(|| e.exepath.as_bytes().starts_with(b"/memfd:")),
            cgroup: e.cgroup.clone(),
            container_id: e.container_id.clone(),
            pod_uid: e.pod_uid.clone(),
            cap_inheritable: e.cap_inheritable,
            cap_permitted: e.cap_permitted,
            cap_effective: e.cap_effective,
            namespaces: e.namespaces,
            fds: e.fds.iter().map(|f| (f.fd, Fd::from_entry(f))).collect(),
            exited: false,
        }
    }

    fn to_entry(&self) -> ProcessEntry {
        ProcessEntry {
            pid: self.pid,
            ppid: self.ppid,
            tids: self.tids.clone(),
            comm: self.comm.clone(),
            exe: self.exe.clone(),
            exepath: self.exepath.clone(),
            args: self.args.clone(),
            cwd: self.cwd.clone(),
            uid: self.uid,
            euid: self.euid,
            gid: self.gid,
            egid: self.egid,
            loginuid: self.loginuid,
            tty: self.tty,
            sid: self.sid,
            pgid: self.pgid,
            start_ts: self.start_ts,
            cgroup: self.cgroup.clone(),
            container_id: self.container_id.clone(),
            pod_uid: self.pod_uid.clone(),
            namespaces: self.namespaces,
            cap_permitted: self.cap_permitted,
            cap_effective: self.cap_effective,
            cap_inheritable: self.cap_inheritable,
            fds: self.fds.iter().map(|(num, fd)| fd.to_entry(*num)).collect(),
            exe_ino: self.exe_ino,
            exe_ctime: self.exe_ctime,
            exe_mtime: self.exe_mtime,
            exe_from_memfd: Some(self.exe_from_memfd),
        }
    }
}

impl Fd {
    fn to_entry(&self, num: i64) -> FdEntry {
        FdEntry {
            fd: num,
            target: self.to_target(),
            detail: Some(FdDetail {
                name: self.name.clone(),
                name_raw: self.name_raw.clone(),
                flags: self.flags,
                cloexec: self.cloexec,
                socket: self.socket.as_ref().map(|s| SocketDetail {
                    l4proto: s.l4proto,
                    local: s.local.map(|a| a.to_string()),
                    remote: s.remote.map(|a| a.to_string()),
                    role: s.role,
                }),
            }),
        }
    }

    /// An engine descriptor from a snapshot's: exact where the entry has the engine's
    /// detail, derived from the target where it does not.
    fn from_entry(entry: &FdEntry) -> Fd {
        let mut fd = Fd::from_target(&entry.target);
        if let Some(detail) = &entry.detail {
            fd.name = detail.name.clone();
            fd.name_raw = detail.name_raw.clone();
            fd.flags = detail.flags;
            fd.cloexec = detail.cloexec;
            fd.socket = detail.socket.as_ref().map(|s| Socket {
                l4proto: s.l4proto,
                local: s.local.as_deref().and_then(|a| a.parse().ok()),
                remote: s.remote.as_deref().and_then(|a| a.parse().ok()),
                role: s.role,
            });
        }
        fd
    }

    /// What a target alone says (a descriptor of the recorder's `/proc` snapshot).
    fn from_target(target: &FdTarget) -> Fd {
        match target {
            FdTarget::File { path, flags } => {
                Fd::new(FdKind::File, path.clone(), *flags, flags & O_CLOEXEC != 0)
            }
            FdTarget::Directory { path } => Fd::new(FdKind::Directory, path.clone(), 0, false),
            FdTarget::Pipe { ino } => Fd::new(
                FdKind::Pipe,
                ByteString(format!("pipe:[{ino}]").into_bytes()),
                0,
                false,
            ),
            FdTarget::Memfd { name } => {
                let mut label = b"memfd:".to_vec();
                label.extend_from_slice(name.as_bytes());
                Fd::new(FdKind::Memfd, ByteString(label), 0, false)
            }
            FdTarget::Unix { path } => Fd::new(FdKind::Unix, path.clone(), 0, false),
            FdTarget::Socket(info) => Fd::from_socket_info(info),
            FdTarget::Other { name } => Fd::new(FdKind::Other, name.clone(), 0, false),
        }
    }

    /// The target a snapshot's readers (SQL, the TUI) interpret: the descriptor's kind
    /// and the one name that identifies it.
    fn to_target(&self) -> FdTarget {
        match self.kind {
            FdKind::File => FdTarget::File {
                path: self.name.clone(),
                flags: self.flags,
            },
            FdKind::Directory => FdTarget::Directory {
                path: self.name.clone(),
            },
            FdKind::Memfd => FdTarget::Memfd {
                name: ByteString(
                    self.name
                        .as_bytes()
                        .strip_prefix(b"memfd:")
                        .unwrap_or(self.name.as_bytes())
                        .to_vec(),
                ),
            },
            FdKind::Pipe => FdTarget::Pipe {
                ino: std::str::from_utf8(self.name.as_bytes())
                    .ok()
                    .and_then(|n| n.strip_prefix("pipe:[")?.strip_suffix(']')?.parse().ok())
                    .unwrap_or(0),
            },
            FdKind::Unix => FdTarget::Unix {
                path: self.name.clone(),
            },
            FdKind::Ipv4 | FdKind::Ipv6 => {
                let socket = self.socket.clone().unwrap_or_default();
                let show = |a: Option<SocketAddr>| a.map(|a| a.to_string()).unwrap_or_default();
                FdTarget::Socket(SocketInfo {
                    family: if self.kind == FdKind::Ipv4 {
                        AF_INET
                    } else {
                        AF_INET6
                    },
                    l4proto: socket.l4proto,
                    local: show(socket.local),
                    remote: show(socket.remote),
                })
            }
            FdKind::Other => FdTarget::Other {
                name: self.name.clone(),
            },
        }
    }
}
