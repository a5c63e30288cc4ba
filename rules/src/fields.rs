//! Falco's fields: names, types, arguments, and how each is read from an event and the
//! state engine. Field names are resolved once, when a condition compiles; extraction
//! is a `match` on a small enum, with no string lookups per event.
//!
//! Values the capture cannot know (a container image without a container runtime's
//! metadata) are [`Value::Missing`]: as in Falco, every comparison with a missing value
//! is false (so `not x = y` is true), and `exists` is false.

use crate::state::{Fd, FdKind, Process, Role, StateEngine};
use casefile_formats::event::{Arg, Event, EventKind};
use casefile_formats::schema::{kind_info, render_int};
use casefile_formats::state::ByteString;
use std::borrow::Cow;
use std::net::IpAddr;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldType {
    Str,
    Int,
    Bool,
    /// An IP address; `in` and `=` also accept CIDR networks for the `*net` fields.
    Ip,
}

impl FieldType {
    pub fn name(self) -> &'static str {
        match self {
            FieldType::Str => "string",
            FieldType::Int => "number",
            FieldType::Bool => "boolean",
            FieldType::Ip => "IP address",
        }
    }
}

/// What goes between `[` and `]` after a field name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgKind {
    None,
    /// `proc.aname[2]`: optional ancestor index.
    Index,
    /// `evt.arg.flags` or `evt.arg[0]`: required parameter name or index.
    Param,
}

/// A field's argument after parsing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldArg {
    Index(usize),
    Name(String),
}

/// A value extracted from an event.
#[derive(Clone, Debug, PartialEq)]
pub enum Value<'a> {
    Str(Cow<'a, [u8]>),
    Int(i64),
    Bool(bool),
    Ip(IpAddr),
    /// Several values: an ancestor field without index (any ancestor matches).
    Many(Vec<Value<'a>>),
    Missing,
}

macro_rules! fields {
    ($($id:ident $name:literal $ty:ident $arg:ident $desc:literal,)*) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum FieldId { $($id,)* }

        /// Every field casefile knows, with its type, argument kind and meaning.
        pub const FIELDS: &[(FieldId, &str, FieldType, ArgKind, &str)] = &[
            $((FieldId::$id, $name, FieldType::$ty, ArgKind::$arg, $desc),)*
        ];
    };
}

fields! {
    EvtType "evt.type" Str None "event type (syscall name, procfork, procexit…)",
    EvtNum "evt.num" Int None "event number within the capture or live stream",
    EvtRawtime "evt.rawtime" Int None "time, nanoseconds since the epoch",
    EvtTime "evt.time" Str None "wall-clock time, RFC 3339",
    EvtDir "evt.dir" Str None "direction: always < (casefile records completed syscalls)",
    EvtRes "evt.res" Str None "SUCCESS, or the errno name of a failure (ENOENT…)",
    EvtRawres "evt.rawres" Int None "return value",
    EvtFailed "evt.failed" Bool None "true when the syscall failed",
    EvtCategory "evt.category" Str None "event category (file, net, process…)",
    EvtArgs "evt.args" Str None "every argument as name=value text",
    EvtArg "evt.arg" Str Param "an argument by name or index, as text (flags symbolic)",
    EvtRawarg "evt.rawarg" Str Param "an argument by name or index, raw",
    EvtIsOpenRead "evt.is_open_read" Bool None "an open for reading",
    EvtIsOpenWrite "evt.is_open_write" Bool None "an open for writing",
    EvtIsOpenExec "evt.is_open_exec" Bool None "an open with O_EXEC semantics (never set on Linux)",
    ProcPid "proc.pid" Int None "process id",
    ProcPpid "proc.ppid" Int None "parent process id",
    ProcVpid "proc.vpid" Int None "process id in its pid namespace (the host pid when unknown)",
    ProcName "proc.name" Str None "process name (comm)",
    ProcExe "proc.exe" Str None "argv[0]",
    ProcExepath "proc.exepath" Str None "executable path",
    ProcArgs "proc.args" Str None "arguments after argv[0], space separated",
    ProcCmdline "proc.cmdline" Str None "name and arguments",
    ProcCwd "proc.cwd" Str None "working directory, with a trailing /",
    ProcTty "proc.tty" Int None "controlling terminal (0: none)",
    ProcSid "proc.sid" Int None "session id",
    ProcSname "proc.sname" Str None "name of the session leader",
    ProcPname "proc.pname" Str None "parent name",
    ProcPcmdline "proc.pcmdline" Str None "parent command line",
    ProcPexe "proc.pexe" Str None "parent argv[0]",
    ProcPexepath "proc.pexepath" Str None "parent executable path",
    ProcAname "proc.aname" Str Index "ancestor name: [0] self, [1] parent…; without index, any ancestor",
    ProcApid "proc.apid" Int Index "ancestor pid",
    ProcAexepath "proc.aexepath" Str Index "ancestor executable path",
    ProcDuration "proc.duration" Int None "nanoseconds since the process started",
    ProcExeIno "proc.exe_ino" Int None "inode of the executable",
    ProcExeInoCtime "proc.exe_ino.ctime" Int None "executable's inode change time (ns)",
    ProcExeInoMtime "proc.exe_ino.mtime" Int None "executable's modification time (ns)",
    ProcExeInoCtimeDurationProcStart "proc.exe_ino.ctime_duration_proc_start" Int None "process start minus executable ctime (ns)",
    ProcIsExeFromMemfd "proc.is_exe_from_memfd" Bool None "the executable is a memfd (fileless)",
    ProcIsExeUpperLayer "proc.is_exe_upper_layer" Bool None "the executable is in an overlayfs upper layer",
    ThreadTid "thread.tid" Int None "thread id",
    ThreadCapEffective "thread.cap_effective" Str None "effective capabilities, CAP_* names",
    ThreadCapPermitted "thread.cap_permitted" Str None "permitted capabilities, CAP_* names",
    UserUid "user.uid" Int None "effective user id",
    UserName "user.name" Str None "effective user name",
    UserLoginuid "user.loginuid" Int None "audit login uid (-1: none)",
    UserLoginname "user.loginname" Str None "name of the login uid",
    GroupGid "group.gid" Int None "effective group id",
    GroupName "group.name" Str None "effective group name",
    FdNum "fd.num" Int None "file descriptor number (-1 for a failed open)",
    FdName "fd.name" Str None "path, or client:port->server:port",
    FdNameraw "fd.nameraw" Str None "path as the program gave it",
    FdDirectory "fd.directory" Str None "directory of a file",
    FdFilename "fd.filename" Str None "file name without its directory",
    FdType "fd.type" Str None "file, directory, ipv4, ipv6, unix, pipe…",
    FdTypechar "fd.typechar" Str None "f, d, 4, 6, u, p…",
    FdL4proto "fd.l4proto" Str None "tcp, udp…",
    FdLport "fd.lport" Int None "local port",
    FdRport "fd.rport" Int None "remote port",
    FdSport "fd.sport" Int None "server port",
    FdCport "fd.cport" Int None "client port",
    FdSip "fd.sip" Ip None "server IP",
    FdCip "fd.cip" Ip None "client IP",
    FdIp "fd.ip" Ip None "either IP",
    FdSnet "fd.snet" Ip None "server IP, compared with networks",
    FdNet "fd.net" Ip None "either IP, compared with networks",
    FdSipName "fd.sip.name" Str None "server domain name (not known: empty)",
    FdConnected "fd.connected" Bool None "the socket has a peer",
    FdIsServer "fd.is_server" Bool None "the socket is the server end",
    FdNameChanged "fd.name_changed" Bool None "the fd name changed with this event",
    ContainerId "container.id" Str None "container id (12 characters), or host",
    ContainerFullId "container.full_id" Str None "full container id, or host",
    ContainerName "container.name" Str None "container name (needs runtime metadata: missing)",
    ContainerImage "container.image" Str None "image (needs runtime metadata: missing)",
    ContainerImageRepository "container.image.repository" Str None "image repository (needs runtime metadata: missing)",
    ContainerPrivileged "container.privileged" Bool None "privileged container (needs runtime metadata: missing)",
    ContainerStartTs "container.start_ts" Int None "container start (needs runtime metadata: missing)",
    K8sPodUid "k8s.pod.uid" Str None "Kubernetes pod uid, from the cgroup",
    K8sPodName "k8s.pod.name" Str None "pod name (needs Kubernetes metadata: missing)",
    K8sNsName "k8s.ns.name" Str None "namespace (needs Kubernetes metadata: missing)",
}

pub fn lookup(name: &str) -> Option<(FieldId, FieldType, ArgKind)> {
    FIELDS
        .iter()
        .find(|(_, n, ..)| *n == name)
        .map(|(id, _, ty, arg, _)| (*id, *ty, *arg))
}

/// What extraction reads: the event, its process, its file descriptor.
pub struct Ctx<'a> {
    pub event: &'a Event<'a>,
    pub state: &'a StateEngine,
    pub process: Option<&'a Process>,
    pub fd: Option<EventFd<'a>>,
    pub num: u64,
    pub boot_time_ns: u64,
}

impl<'a> Ctx<'a> {
    /// What the fields read of `event` once `state` has taken it in: the event's
    /// process (by thread, else by pid) and its descriptor. `num` is the event's
    /// `evt.num`. Every reader of fields — the rules, exports, the TUI — builds its
    /// context here, so they all see the same process and descriptor.
    pub fn new(event: &'a Event<'a>, state: &'a StateEngine, num: u64, boot_time_ns: u64) -> Self {
        let process = state
            .process_of_thread(event.tid)
            .or_else(|| state.process(event.pid));
        Ctx {
            event,
            state,
            process,
            fd: event_fd(event, process),
            num,
            boot_time_ns,
        }
    }
}

/// The descriptor an event is about: from the state, or made up from the arguments of
/// a failed open (Falco shows those with `fd.num = -1` and the attempted path).
pub enum EventFd<'a> {
    Known(i64, &'a Fd),
    FailedOpen(ByteString),
}

const CAP_NAMES: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

fn caps_text(caps: Option<u64>) -> Value<'static> {
    let Some(caps) = caps else {
        return Value::Missing;
    };
    let names: Vec<&str> = CAP_NAMES
        .iter()
        .enumerate()
        .filter(|(bit, _)| caps & (1 << bit) != 0)
        .map(|(_, name)| *name)
        .collect();
    Value::Str(Cow::Owned(names.join(" ").into_bytes()))
}

fn bytes(b: &[u8]) -> Value<'_> {
    Value::Str(Cow::Borrowed(b))
}

fn owned(b: Vec<u8>) -> Value<'static> {
    Value::Str(Cow::Owned(b))
}

fn joined(items: &[ByteString]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(item.as_bytes());
    }
    out
}

const O_ACCMODE: u32 = 3;

impl<'a> Ctx<'a> {
    fn open_flags(&self) -> Option<u32> {
        let index = match kind_facts(self.event.kind)?.open {
            OpenCall::No => return None,
            OpenCall::Creat(_) => return Some(0o1101),
            // The flags follow the path.
            OpenCall::Path(path) => path + 1,
        };
        match self.event.args.get(index)? {
            Arg::Uint(f) => Some(f as u32),
            _ => None,
        }
    }

    /// The process at ancestor level `n` (0 = the event's own process).
    fn ancestor(&self, n: usize) -> Option<&'a Process> {
        let own = self.process?;
        if n == 0 {
            return Some(own);
        }
        self.state.ancestors(own.pid).nth(n - 1)
    }

    fn known_fd(&self) -> Option<(i64, &'a Fd)> {
        match self.fd {
            Some(EventFd::Known(num, fd)) => Some((num, fd)),
            _ => None,
        }
    }

    fn socket_ends(
        &self,
    ) -> Option<(
        Option<std::net::SocketAddr>,
        Option<std::net::SocketAddr>,
        Role,
    )> {
        let (_, fd) = self.known_fd()?;
        let s = fd.socket.as_ref()?;
        Some((s.local, s.remote, s.role))
    }

    /// (server, client) ends of the event's socket.
    fn server_client(
        &self,
    ) -> Option<(Option<std::net::SocketAddr>, Option<std::net::SocketAddr>)> {
        let (local, remote, role) = self.socket_ends()?;
        Some(match role {
            Role::Server => (local, remote),
            _ => (remote, local),
        })
    }

    pub fn extract(&self, id: FieldId, arg: Option<&FieldArg>) -> Value<'a> {
        use FieldId::*;
        let e = self.event;
        let p = self.process;
        match id {
            EvtType => bytes(e.kind.name().as_bytes()),
            EvtNum => Value::Int(self.num as i64),
            EvtRawtime => Value::Int(self.boot_time_ns.saturating_add(e.ts) as i64),
            EvtTime => owned(
                casefile_formats::render::wall_time(self.boot_time_ns.saturating_add(e.ts))
                    .into_bytes(),
            ),
            EvtDir => bytes(b"<"),
            EvtRes => match casefile_formats::render::errno_name(e.ret) {
                Some(name) if e.ret < 0 => bytes(name.as_bytes()),
                _ if e.ret < 0 => owned(format!("E{}", -e.ret).into_bytes()),
                _ => bytes(b"SUCCESS"),
            },
            EvtRawres => Value::Int(e.ret),
            EvtFailed => Value::Bool(e.ret < 0),
            EvtCategory => bytes(kind_info(e.kind).category.as_str().as_bytes()),
            EvtArgs => {
                let info = kind_info(e.kind);
                let mut out = String::new();
                for (i, a) in e.args.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    let param = info.params.get(i);
                    out.push_str(param.map_or("arg", |p| p.name));
                    out.push('=');
                    out.push_str(&casefile_formats::render::arg_text(param, &a));
                }
                owned(out.into_bytes())
            }
            EvtArg | EvtRawarg => self.event_arg(arg, id == EvtArg),
            EvtIsOpenRead => match self.open_flags() {
                Some(f) => Value::Bool(matches!(f & O_ACCMODE, 0 | 2)),
                None => Value::Bool(false),
            },
            EvtIsOpenWrite => match self.open_flags() {
                Some(f) => Value::Bool(matches!(f & O_ACCMODE, 1 | 2)),
                None => Value::Bool(false),
            },
            EvtIsOpenExec => Value::Bool(false),
            ProcPid | ProcVpid => Value::Int(i64::from(e.pid)),
            ProcPpid => p.map_or(Value::Missing, |p| Value::Int(i64::from(p.ppid))),
            ProcName => p.map_or(Value::Missing, |p| bytes(p.comm.as_bytes())),
            ProcExe => p.map_or(Value::Missing, |p| bytes(p.exe.as_bytes())),
            ProcExepath => p.map_or(Value::Missing, |p| bytes(p.exepath.as_bytes())),
            ProcArgs => p.map_or(Value::Missing, |p| owned(joined(&p.args))),
            ProcCmdline => p.map_or(Value::Missing, |p| owned(p.cmdline())),
            ProcCwd => p.map_or(Value::Missing, |p| {
                let mut cwd = p.cwd.as_bytes().to_vec();
                if !cwd.ends_with(b"/") {
                    cwd.push(b'/');
                }
                owned(cwd)
            }),
            ProcTty => p.map_or(Value::Missing, |p| Value::Int(i64::from(p.tty))),
            ProcSid => p.map_or(Value::Missing, |p| Value::Int(i64::from(p.sid))),
            ProcSname => p
                .and_then(|p| self.state.process(p.sid))
                .map_or(Value::Missing, |leader| bytes(leader.comm.as_bytes())),
            ProcPname => self
                .ancestor(1)
                .map_or(Value::Missing, |a| bytes(a.comm.as_bytes())),
            ProcPcmdline => self
                .ancestor(1)
                .map_or(Value::Missing, |a| owned(a.cmdline())),
            ProcPexe => self
                .ancestor(1)
                .map_or(Value::Missing, |a| bytes(a.exe.as_bytes())),
            ProcPexepath => self
                .ancestor(1)
                .map_or(Value::Missing, |a| bytes(a.exepath.as_bytes())),
            ProcAname | ProcApid | ProcAexepath => {
                let pick = |a: &'a Process| match id {
                    ProcAname => bytes(a.comm.as_bytes()),
                    ProcApid => Value::Int(i64::from(a.pid)),
                    _ => bytes(a.exepath.as_bytes()),
                };
                match arg {
                    Some(FieldArg::Index(n)) => self.ancestor(*n).map_or(Value::Missing, pick),
                    _ => match p {
                        // Without an index: every ancestor, the process itself excluded.
                        Some(own) => Value::Many(self.state.ancestors(own.pid).map(pick).collect()),
                        None => Value::Missing,
                    },
                }
            }
            ProcDuration => p.map_or(Value::Missing, |p| {
                Value::Int(e.ts.saturating_sub(p.start_ts) as i64)
            }),
            ProcExeIno => p.map_or(Value::Missing, |p| Value::Int(p.exe_ino as i64)),
            ProcExeInoCtime => p
                .and_then(|p| p.exe_ctime)
                .map_or(Value::Missing, |t| Value::Int(t as i64)),
            ProcExeInoMtime => p
                .and_then(|p| p.exe_mtime)
                .map_or(Value::Missing, |t| Value::Int(t as i64)),
            ProcExeInoCtimeDurationProcStart => p
                .and_then(|p| Some((p.exe_ctime?, p.start_ts)))
                .map_or(Value::Missing, |(ctime, start)| {
                    // Both on the wall clock: the start is since boot.
                    Value::Int(self.boot_time_ns.saturating_add(start) as i64 - ctime as i64)
                }),
            ProcIsExeFromMemfd => p.map_or(Value::Missing, |p| Value::Bool(p.exe_from_memfd)),
            ProcIsExeUpperLayer => Value::Missing,
            ThreadTid => Value::Int(i64::from(e.tid)),
            ThreadCapEffective => p.map_or(Value::Missing, |p| caps_text(p.cap_effective)),
            ThreadCapPermitted => p.map_or(Value::Missing, |p| caps_text(p.cap_permitted)),
            UserUid => p.map_or(Value::Missing, |p| Value::Int(i64::from(p.euid))),
            UserName => p
                .and_then(|p| self.state.user(p.euid))
                .map_or(Value::Missing, |u| bytes(u.name.as_bytes())),
            UserLoginuid => p.map_or(Value::Missing, |p| Value::Int(i64::from(p.loginuid as i32))),
            UserLoginname => p
                .and_then(|p| self.state.user(p.loginuid))
                .map_or(Value::Missing, |u| bytes(u.name.as_bytes())),
            GroupGid => p.map_or(Value::Missing, |p| Value::Int(i64::from(p.egid))),
            GroupName => p
                .and_then(|p| self.state.group(p.egid))
                .map_or(Value::Missing, |g| bytes(g.name.as_bytes())),
            FdNum => match &self.fd {
                Some(EventFd::Known(num, _)) => Value::Int(*num),
                Some(EventFd::FailedOpen(_)) => Value::Int(-1),
                None => Value::Missing,
            },
            FdName | FdNameraw | FdDirectory | FdFilename => {
                // Names of known descriptors are borrowed from the state: no allocation on
                // the hot path of every open rule.
                let name: Cow<'a, [u8]> = match &self.fd {
                    Some(EventFd::Known(_, fd)) if id == FdNameraw => {
                        Cow::Borrowed(fd.name_raw.as_bytes())
                    }
                    Some(EventFd::Known(_, fd)) => Cow::Borrowed(fd.name.as_bytes()),
                    Some(EventFd::FailedOpen(path)) => Cow::Owned(path.as_bytes().to_vec()),
                    None => return Value::Missing,
                };
                let slash = name.iter().rposition(|b| *b == b'/');
                let part = |range: std::ops::Range<usize>| match &name {
                    Cow::Borrowed(b) => Value::Str(Cow::Borrowed(&b[range])),
                    Cow::Owned(v) => Value::Str(Cow::Owned(v[range].to_vec())),
                };
                match (id, slash) {
                    (FdDirectory, Some(0)) => bytes(b"/"),
                    (FdDirectory, Some(i)) => part(0..i),
                    (FdDirectory, None) => bytes(b""),
                    (FdFilename, Some(i)) => part(i + 1..name.len()),
                    _ => Value::Str(name),
                }
            }
            FdType | FdTypechar => {
                let kind = match &self.fd {
                    Some(EventFd::Known(_, fd)) => fd.kind,
                    Some(EventFd::FailedOpen(_)) => FdKind::File,
                    None => return Value::Missing,
                };
                if id == FdType {
                    bytes(kind.type_name().as_bytes())
                } else {
                    bytes(kind.typechar_str().as_bytes())
                }
            }
            FdL4proto => match self.known_fd().and_then(|(_, fd)| fd.socket.as_ref()) {
                Some(s) => bytes(s.l4proto_name().unwrap_or("<NA>").as_bytes()),
                None => Value::Missing,
            },
            FdLport | FdRport | FdSport | FdCport => {
                let pick = match (id, self.socket_ends(), self.server_client()) {
                    (FdLport, Some((l, _, _)), _) => l,
                    (FdRport, Some((_, r, _)), _) => r,
                    (FdSport, _, Some((s, _))) => s,
                    (FdCport, _, Some((_, c))) => c,
                    _ => None,
                };
                pick.map_or(Value::Missing, |a| Value::Int(i64::from(a.port())))
            }
            FdSip | FdSnet | FdCip => match (id, self.server_client()) {
                (FdCip, Some((_, Some(c)))) => Value::Ip(c.ip()),
                (FdSip | FdSnet, Some((Some(s), _))) => Value::Ip(s.ip()),
                _ => Value::Missing,
            },
            FdIp | FdNet => match self.socket_ends() {
                Some((l, r, _)) => Value::Many(
                    [l, r]
                        .into_iter()
                        .flatten()
                        .map(|a| Value::Ip(a.ip()))
                        .collect(),
                ),
                None => Value::Missing,
            },
            FdSipName => Value::Missing,
            FdConnected => Value::Bool(self.socket_ends().is_some_and(|(_, r, _)| r.is_some())),
            FdIsServer => Value::Bool(
                self.socket_ends()
                    .is_some_and(|(_, _, role)| role == Role::Server),
            ),
            FdNameChanged => Value::Bool(false),
            ContainerId | ContainerFullId => p.map_or(Value::Missing, |p| {
                if p.container_id.is_empty() {
                    bytes(b"host")
                } else if id == ContainerId {
                    bytes(&p.container_id.as_bytes()[..p.container_id.len().min(12)])
                } else {
                    bytes(p.container_id.as_bytes())
                }
            }),
            K8sPodUid => p.map_or(Value::Missing, |p| bytes(p.pod_uid.as_bytes())),
            ContainerName
            | ContainerImage
            | ContainerImageRepository
            | ContainerPrivileged
            | ContainerStartTs
            | K8sPodName
            | K8sNsName => Value::Missing,
        }
    }

    fn event_arg(&self, arg: Option<&FieldArg>, symbolic: bool) -> Value<'a> {
        let info = kind_info(self.event.kind);
        let index = match arg {
            Some(FieldArg::Index(i)) => *i,
            Some(FieldArg::Name(name)) => match info.params.iter().position(|p| p.name == name) {
                Some(i) => i,
                None => return Value::Missing,
            },
            None => return Value::Missing,
        };
        let param = info.params.get(index);
        match self.event.args.get(index) {
            None | Some(Arg::Absent) => Value::Missing,
            Some(Arg::Str(s)) | Some(Arg::Bytes(s)) => bytes(s),
            Some(Arg::Uint(v)) if symbolic => owned(
                render_int(
                    param.map_or(casefile_formats::schema::Hint::Dec, |p| p.hint),
                    v,
                )
                .into_bytes(),
            ),
            Some(Arg::Uint(v)) => Value::Int(v as i64),
            Some(Arg::Int(v)) | Some(Arg::Fd(v)) if !symbolic => Value::Int(v),
            Some(other) => owned(casefile_formats::render::arg_text(param, &other).into_bytes()),
        }
    }
}

/// Whether and how a syscall opens a file by path.
#[derive(Clone, Copy)]
enum OpenCall {
    No,
    /// open, openat, openat2: the index of the path argument.
    Path(usize),
    /// creat, with the index of its path argument (its flags are implied).
    Creat(usize),
}

/// What the fields need to know about a syscall kind, worked out from its name and
/// layout once rather than by string comparisons on every event.
struct KindFacts {
    open: OpenCall,
    /// It returns a new descriptor.
    creates_fd: bool,
    /// The index of its `fd` parameter.
    fd_param: Option<usize>,
}

fn kind_facts(kind: EventKind) -> Option<&'static KindFacts> {
    static FACTS: std::sync::OnceLock<Vec<KindFacts>> = std::sync::OnceLock::new();
    let facts = FACTS.get_or_init(|| {
        (0..EventKind::SYSCALL_LIMIT)
            .map(|nr| {
                let info = kind_info(EventKind::syscall(nr));
                let name = info.name;
                KindFacts {
                    open: match name {
                        "open" => OpenCall::Path(0),
                        "openat" | "openat2" => OpenCall::Path(1),
                        "creat" => OpenCall::Creat(0),
                        _ => OpenCall::No,
                    },
                    creates_fd: matches!(
                        name,
                        "open"
                            | "openat"
                            | "openat2"
                            | "creat"
                            | "socket"
                            | "accept"
                            | "accept4"
                            | "memfd_create"
                            | "dup"
                            | "dup2"
                            | "dup3"
                            | "userfaultfd"
                            | "io_uring_setup"
                    ),
                    fd_param: info.params.iter().position(|p| p.name == "fd"),
                }
            })
            .collect()
    });
    facts.get(usize::from(kind.syscall_nr()?))
}

/// The event's own file descriptor, as Falco picks it: the one returned by calls that
/// create descriptors, otherwise the `fd` argument.
pub fn event_fd<'a>(event: &Event<'_>, process: Option<&'a Process>) -> Option<EventFd<'a>> {
    if event.kind == EventKind::FORK
        || event.kind == EventKind::PROC_EXIT
        || !event.kind.is_syscall()
    {
        return None;
    }
    let facts = kind_facts(event.kind)?;
    let num = if facts.creates_fd {
        if event.ret < 0 {
            if let OpenCall::Path(path_index) | OpenCall::Creat(path_index) = facts.open {
                if let Some(Arg::Str(path)) = event.args.get(path_index) {
                    let base = process.map(|p| p.cwd.as_bytes()).unwrap_or(b"/");
                    return Some(EventFd::FailedOpen(crate::state::resolve_path(base, path)));
                }
            }
            return None;
        }
        event.ret
    } else {
        match event.args.get(facts.fd_param?)? {
            Arg::Fd(fd) => fd,
            _ => return None,
        }
    };
    let fd = process?.fds.get(&num)?;
    Some(EventFd::Known(num, fd))
}
