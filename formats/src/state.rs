//! State snapshots: what the host looked like at one instant — processes with their fd
//! tables, users and groups. A capture starts with one and carries periodic checkpoints,
//! so a reader can rebuild state from the middle of a file instead of from its start.
//!
//! Snapshots are stored as CBOR (see `docs/FORMAT.md`); fields are added, never
//! renumbered, and readers ignore fields they do not know.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Bytes that are usually text (paths, names, command lines) but need not be UTF-8.
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ByteString(#[serde(with = "serde_bytes")] pub Vec<u8>);

impl ByteString {
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Printable form with control characters and invalid UTF-8 escaped.
    pub fn escaped(&self) -> std::borrow::Cow<'_, str> {
        crate::text::escape(&self.0)
    }
}

impl From<&[u8]> for ByteString {
    fn from(b: &[u8]) -> Self {
        ByteString(b.to_vec())
    }
}

impl From<&str> for ByteString {
    fn from(s: &str) -> Self {
        ByteString(s.as_bytes().to_vec())
    }
}

impl From<String> for ByteString {
    fn from(s: String) -> Self {
        ByteString(s.into_bytes())
    }
}

impl fmt::Debug for ByteString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.escaped())
    }
}

impl fmt::Display for ByteString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.escaped())
    }
}

/// The state of the host at `ts` (nanoseconds since boot, the events' clock).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StateSnapshot {
    pub ts: u64,
    pub processes: Vec<ProcessEntry>,
    pub users: Vec<UserEntry>,
    pub groups: Vec<GroupEntry>,
    /// Processes that have exited but that live children still name as their parent,
    /// oldest exit first: the state engine keeps a bounded number of them so that
    /// `proc.pname` and `proc.aname` of an orphan still resolve.
    pub exited: Vec<ProcessEntry>,
    /// Every thread id the state engine maps to a process, as `(tid, pid)` sorted by
    /// tid; `None` where each process's `tids` say it all (a snapshot read from /proc).
    /// Kept whole because the engine's map can hold what the lists do not (a thread
    /// seen only in its own events).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threads: Option<Vec<(u32, u32)>>,
}

impl StateSnapshot {
    pub fn process(&self, pid: u32) -> Option<&ProcessEntry> {
        self.processes.iter().find(|p| p.pid == pid)
    }

    /// The CBOR encoding a state block stores (`docs/FORMAT.md`).
    pub fn to_cbor(&self) -> Vec<u8> {
        crate::header::to_cbor(self)
    }

    /// Reads [`StateSnapshot::to_cbor`]'s encoding; fields it does not know are ignored.
    pub fn from_cbor(bytes: &[u8]) -> Result<StateSnapshot, String> {
        crate::header::from_cbor(bytes)
    }
}

/// One process (thread group) and the threads in it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProcessEntry {
    pub pid: u32,
    pub ppid: u32,
    /// Thread ids, the leader (`tid == pid`) included.
    pub tids: Vec<u32>,
    /// The kernel's 16-byte task name.
    pub comm: ByteString,
    /// `argv[0]` as the program was started.
    pub exe: ByteString,
    /// The resolved path of the executable (`/proc/PID/exe`).
    pub exepath: ByteString,
    /// `argv[1..]`.
    pub args: Vec<ByteString>,
    pub cwd: ByteString,
    pub uid: u32,
    pub euid: u32,
    pub gid: u32,
    pub egid: u32,
    /// `u32::MAX` when unset, as the kernel reports it.
    pub loginuid: u32,
    pub tty: u32,
    pub sid: u32,
    pub pgid: u32,
    /// Process start, nanoseconds since boot.
    pub start_ts: u64,
    /// The cgroup v2 path (or the v1 `cpu` hierarchy's path on v1-only hosts).
    pub cgroup: ByteString,
    /// Container id derived from the cgroup (empty on the host).
    pub container_id: String,
    /// Kubernetes pod uid derived from the cgroup (empty outside Kubernetes).
    pub pod_uid: String,
    pub namespaces: Namespaces,
    pub cap_permitted: Option<u64>,
    pub cap_effective: Option<u64>,
    pub cap_inheritable: Option<u64>,
    pub fds: Vec<FdEntry>,
    /// The executable's inode number (0 when unknown) and its inode change and
    /// modification times, nanoseconds since the epoch.
    pub exe_ino: u64,
    pub exe_ctime: Option<u64>,
    pub exe_mtime: Option<u64>,
    /// The program runs from a memfd, as its exec said; `None` where only the
    /// executable's path can tell (`/memfd:…`), as in a snapshot read from /proc.
    pub exe_from_memfd: Option<bool>,
}

/// Namespace inode numbers (0 when unknown).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Namespaces {
    pub pid: u64,
    pub mnt: u64,
    pub net: u64,
    pub uts: u64,
    pub ipc: u64,
    pub user: u64,
    pub cgroup: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FdEntry {
    pub fd: i64,
    pub target: FdTarget,
    /// Everything the state engine knew of the descriptor, for a checkpoint to restore it
    /// exactly; absent where the target says all there is (a snapshot read from /proc).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<FdDetail>,
}

impl FdEntry {
    /// A descriptor known only by what it refers to.
    pub fn new(fd: i64, target: FdTarget) -> FdEntry {
        FdEntry {
            fd,
            target,
            detail: None,
        }
    }
}

/// What the state engine keeps of a descriptor beyond its [`FdTarget`]: Falco's
/// `fd.name` and `fd.nameraw`, the open flags, close-on-exec and a socket's ends.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FdDetail {
    pub name: ByteString,
    pub name_raw: ByteString,
    pub flags: u32,
    pub cloexec: bool,
    pub socket: Option<SocketDetail>,
}

/// A socket's protocol and ends as the state engine knows them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SocketDetail {
    /// IP protocol number (6 TCP, 17 UDP, 0 unknown).
    pub l4proto: u8,
    /// `ip:port` (IPv6 in brackets).
    pub local: Option<String>,
    pub remote: Option<String>,
    pub role: SocketRole,
}

/// Which end of a connection a socket is: it connected (client) or accepted (server).
/// Falco's `fd.is_server`, and which address `fd.sip`/`fd.cip` show, follow from it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SocketRole {
    #[default]
    Unknown,
    Client,
    Server,
}

/// What a file descriptor refers to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FdTarget {
    File {
        path: ByteString,
        flags: u32,
    },
    Directory {
        path: ByteString,
    },
    Socket(SocketInfo),
    Unix {
        path: ByteString,
    },
    Pipe {
        ino: u64,
    },
    Memfd {
        name: ByteString,
    },
    /// Anything else (`anon_inode:[eventfd]`, devices without a path, …), by its link text.
    Other {
        name: ByteString,
    },
}

/// An inet socket's addresses as `ip:port` text (IPv6 in brackets).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SocketInfo {
    /// Linux address family (`AF_INET` = 2, `AF_INET6` = 10).
    pub family: u16,
    /// IP protocol number (6 TCP, 17 UDP).
    pub l4proto: u8,
    pub local: String,
    pub remote: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct UserEntry {
    pub uid: u32,
    pub gid: u32,
    pub name: ByteString,
    pub home: ByteString,
    pub shell: ByteString,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct GroupEntry {
    pub gid: u32,
    pub name: ByteString,
}
