//! The summary tables — `processes`, `files`, `connections`, `alerts` and `captures` —
//! gathered segment by segment while the events stream past, merged in timeline order,
//! then turned into Arrow batches.

use crate::classify::{op, Op};
use crate::schema::Table;
use arrow::array::{
    ArrayRef, BooleanBuilder, Int64Builder, ListBuilder, StringBuilder, TimestampNanosecondBuilder,
    UInt16Builder, UInt32Builder, UInt64Builder,
};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use casefile_formats::event::{Arg, EventKind};
use casefile_formats::render::arg_text;
use casefile_formats::schema::kind_info;
use casefile_formats::text::utf8_lossy;
use casefile_replay::CaptureSet;
use casefile_rules::engine::Alert;
use casefile_rules::fields::{Ctx, EventFd};
use casefile_rules::state::{forked_process, resolve_path, Process, StateEngine};
use casefile_rules::state::{FdKind, Role};
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::net::SocketAddr;
use std::sync::Arc;

const O_ACCMODE: u64 = 0o3;
const O_TRUNC: u64 = 0o1000;
const EINPROGRESS: i64 = -115;
const AT_FDCWD: i64 = -100;

fn lossy(bytes: &[u8]) -> String {
    utf8_lossy(bytes).into_owned()
}

fn nonempty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

/// `python3 > sh > curl`: the process's ancestors, oldest first, then the process.
pub fn ancestry(state: &StateEngine, process: &Process) -> String {
    let mut names: Vec<String> = state
        .ancestors(process.pid)
        .map(|p| lossy(&p.display_name()))
        .collect();
    names.reverse();
    names.push(lossy(&process.display_name()));
    names.join(" > ")
}

/// One process image: from an exec, a fork that never exec'd, or the capture's start.
#[derive(Clone, Debug)]
struct Image {
    pid: u32,
    ppid: Option<u32>,
    name: String,
    exe: String,
    exepath: String,
    cmdline: String,
    argv: Vec<String>,
    cwd: Option<String>,
    user: Option<String>,
    uid: u32,
    container_id: Option<String>,
    pod_uid: Option<String>,
    origin: &'static str,
    start_ns: u64,
    parent_name: Option<String>,
    parent_exe: Option<String>,
    parent_cmdline: Option<String>,
    ancestry: String,
}

impl Image {
    fn new(state: &StateEngine, p: &Process, origin: &'static str, start_ns: u64) -> Image {
        let parent = state.process(p.ppid).filter(|_| p.ppid != p.pid);
        Image {
            pid: p.pid,
            ppid: (p.ppid != 0).then_some(p.ppid),
            name: lossy(&p.display_name()),
            exe: lossy(p.exe.as_bytes()),
            exepath: lossy(p.exepath.as_bytes()),
            cmdline: lossy(&p.cmdline()),
            argv: p.args.iter().map(|a| lossy(a.as_bytes())).collect(),
            cwd: nonempty(&lossy(p.cwd.as_bytes())),
            // `user.name` and `user.uid`: the effective uid, as in `events`.
            user: state.user(p.euid).map(|u| lossy(u.name.as_bytes())),
            uid: p.euid,
            container_id: nonempty(&p.container_id),
            pod_uid: nonempty(&p.pod_uid),
            origin,
            start_ns,
            parent_name: parent.map(|q| lossy(&q.display_name())),
            parent_exe: parent.map(|q| lossy(q.exepath.as_bytes())),
            parent_cmdline: parent.map(|q| lossy(&q.cmdline())),
            ancestry: ancestry(state, p),
        }
    }
}

#[derive(Clone, Debug)]
struct Exit {
    pid: u32,
    ns: u64,
    code: Option<i64>,
    signal: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct FileKey {
    pid: u32,
    exepath: Vec<u8>,
    path: Vec<u8>,
}

#[derive(Clone, Debug, Default)]
struct FileCounts {
    name: String,
    container_id: Option<String>,
    opens: u64,
    opens_write: u64,
    failed_opens: u64,
    reads: u64,
    bytes_read: u64,
    writes: u64,
    bytes_written: u64,
    truncates: u64,
    renames: u64,
    unlinks: u64,
    chmods: u64,
    execs: u64,
    first_ns: u64,
    last_ns: u64,
}

impl FileCounts {
    fn merge(&mut self, other: &FileCounts) {
        self.opens += other.opens;
        self.opens_write += other.opens_write;
        self.failed_opens += other.failed_opens;
        self.reads += other.reads;
        self.bytes_read += other.bytes_read;
        self.writes += other.writes;
        self.bytes_written += other.bytes_written;
        self.truncates += other.truncates;
        self.renames += other.renames;
        self.unlinks += other.unlinks;
        self.chmods += other.chmods;
        self.execs += other.execs;
        self.first_ns = self.first_ns.min(other.first_ns);
        self.last_ns = self.last_ns.max(other.last_ns);
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct ConnKey {
    pid: u32,
    exepath: Vec<u8>,
    l4proto: u8,
    local: Option<SocketAddr>,
    remote: Option<SocketAddr>,
}

#[derive(Clone, Debug, Default)]
struct ConnCounts {
    name: String,
    container_id: Option<String>,
    direction: Option<&'static str>,
    connects: u64,
    failed_connects: u64,
    accepts: u64,
    sends: u64,
    bytes_sent: u64,
    recvs: u64,
    bytes_received: u64,
    first_ns: u64,
    last_ns: u64,
}

impl ConnCounts {
    fn merge(&mut self, other: &ConnCounts) {
        self.direction = self.direction.or(other.direction);
        self.connects += other.connects;
        self.failed_connects += other.failed_connects;
        self.accepts += other.accepts;
        self.sends += other.sends;
        self.bytes_sent += other.bytes_sent;
        self.recvs += other.recvs;
        self.bytes_received += other.bytes_received;
        self.first_ns = self.first_ns.min(other.first_ns);
        self.last_ns = self.last_ns.max(other.last_ns);
    }
}

#[derive(Clone, Debug)]
struct AlertRow {
    alert: Alert,
    evt_type: &'static str,
    exepath: Option<String>,
    cmdline: Option<String>,
    container_id: Option<String>,
    fd_name: Option<String>,
}

/// Rows found by a hash of their key, so that the key is built (allocated) only for a
/// new row, not for every event that counts towards one. The hash has a fixed seed:
/// summaries of different segments merge by it.
struct Keyed<K, V> {
    buckets: HashMap<u64, Vec<(K, V)>, foldhash::fast::RandomState>,
}

impl<K, V> Default for Keyed<K, V> {
    fn default() -> Self {
        Keyed {
            buckets: HashMap::default(),
        }
    }
}

fn key_hash(parts: impl FnOnce(&mut dyn Hasher)) -> u64 {
    let mut hasher = foldhash::fast::FixedState::with_seed(0x6361_7365_6669_6c65).build_hasher();
    parts(&mut hasher);
    hasher.finish()
}

impl<K: PartialEq, V> Keyed<K, V> {
    /// The row of the key `is` recognizes, made by `make` when there is none.
    fn get(&mut self, hash: u64, is: impl Fn(&K) -> bool, make: impl FnOnce() -> (K, V)) -> &mut V {
        let bucket = self.buckets.entry(hash).or_default();
        let index = match bucket.iter().position(|(k, _)| is(k)) {
            Some(i) => i,
            None => {
                bucket.push(make());
                bucket.len() - 1
            }
        };
        &mut bucket[index].1
    }

    fn merge(&mut self, other: Keyed<K, V>, combine: impl Fn(&mut V, &V)) {
        for (hash, entries) in other.buckets {
            let bucket = self.buckets.entry(hash).or_default();
            for (key, value) in entries {
                match bucket.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, mine)) => combine(mine, &value),
                    None => bucket.push((key, value)),
                }
            }
        }
    }

    fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.buckets.values().flatten().map(|(k, v)| (k, v))
    }
}

/// What one segment (or, merged, the whole capture set) says for the summary tables.
#[derive(Default)]
pub struct Summary {
    images: Vec<Image>,
    exits: Vec<Exit>,
    files: Keyed<FileKey, FileCounts>,
    conns: Keyed<ConnKey, ConnCounts>,
    alerts: Vec<AlertRow>,
    /// Drops recorded in each file of the set (by index).
    drops: HashMap<usize, u64>,
    /// The state's count of processes it did not know, as of the last event: when it
    /// grows, the event's process gets an `unknown` row.
    unknown_seen: u64,
}

impl Summary {
    /// Takes in `ctx`'s event (already applied to the state) and the alerts it raised.
    pub fn observe(&mut self, ctx: &Ctx<'_>, alerts: &[Alert], file: usize) {
        let event = ctx.event;
        let ns = ctx.boot_time_ns.saturating_add(event.ts);
        for alert in alerts {
            self.alerts.push(AlertRow {
                alert: alert.clone(),
                evt_type: event.kind.name(),
                exepath: ctx.process.map(|p| lossy(p.exepath.as_bytes())),
                cmdline: ctx.process.map(|p| lossy(&p.cmdline())),
                container_id: ctx.process.and_then(|p| nonempty(&p.container_id)),
                fd_name: match &ctx.fd {
                    Some(EventFd::Known(_, fd)) => nonempty(&lossy(fd.name.as_bytes())),
                    Some(EventFd::FailedOpen(path)) => nonempty(&lossy(path.as_bytes())),
                    None => None,
                },
            });
        }
        let unknown = ctx.state.unknown_processes();
        if unknown > self.unknown_seen {
            self.unknown_seen = unknown;
            if let Some(p) = ctx.process {
                self.images.push(Image::new(ctx.state, p, "unknown", ns));
            }
        }
        match event.kind {
            EventKind::FORK => {
                if let Some(p) = forked_process(event).and_then(|child| ctx.state.process(child)) {
                    self.images.push(Image::new(ctx.state, p, "fork", ns));
                }
                return;
            }
            EventKind::PROC_EXIT => {
                if event.tid == event.pid {
                    // The kernel writes these signed; a synthetic fixture may not.
                    let number = |name| event.arg(name).and_then(|a| a.as_i64());
                    let sig = number("sig").filter(|&sig| sig != 0);
                    // Killed by a signal, a process has no exit code (`exit_code` is
                    // "when the image ended by exit").
                    let code = if sig.is_some() { None } else { number("ret") };
                    let signal = sig.map(|sig| {
                        let info = kind_info(event.kind);
                        let param = info.params.iter().find(|p| p.name == "sig");
                        arg_text(param, &Arg::Int(sig))
                    });
                    self.exits.push(Exit {
                        pid: event.pid,
                        ns,
                        code,
                        signal,
                    });
                }
                return;
            }
            EventKind::DROPS => {
                let count = match event.arg("count") {
                    Some(Arg::Uint(v)) => v,
                    _ => 0,
                };
                *self.drops.entry(file).or_default() += count;
                return;
            }
            _ => {}
        }
        let Some(process) = ctx.process else {
            return;
        };
        let ret = event.ret;
        match op(event.kind) {
            Op::None => {}
            Op::Exec if ret == 0 => {
                self.images.push(Image::new(ctx.state, process, "exec", ns));
                self.file(process, process.exepath.as_bytes(), ns).execs += 1;
            }
            Op::Open => match &ctx.fd {
                Some(EventFd::Known(_, fd)) if ret >= 0 => {
                    let flags = match event.arg("flags") {
                        Some(Arg::Uint(v)) => v,
                        Some(Arg::Int(v)) => v as u64,
                        // creat(2) is open(O_CREAT|O_WRONLY|O_TRUNC).
                        _ if event.kind.name() == "creat" => O_TRUNC | 1,
                        _ => 0,
                    };
                    let counts = self.file(process, fd.name.as_bytes(), ns);
                    counts.opens += 1;
                    if flags & O_ACCMODE != 0 {
                        counts.opens_write += 1;
                        if flags & O_TRUNC != 0 {
                            counts.truncates += 1;
                        }
                    }
                }
                Some(EventFd::FailedOpen(path)) => {
                    self.file(process, path.as_bytes(), ns).failed_opens += 1;
                }
                _ => {}
            },
            io @ (Op::Read | Op::Write | Op::Send | Op::Recv) => {
                let Some(EventFd::Known(_, fd)) = &ctx.fd else {
                    return;
                };
                let bytes = ret.max(0) as u64;
                if ret < 0 {
                    return;
                }
                let inbound = matches!(io, Op::Read | Op::Recv);
                if let Some(socket) = fd.socket.as_ref().filter(|s| has_address(s)) {
                    let counts = self.conn(process, socket, ns);
                    if inbound {
                        counts.recvs += 1;
                        counts.bytes_received += bytes;
                    } else {
                        counts.sends += 1;
                        counts.bytes_sent += bytes;
                    }
                } else if matches!(fd.kind, FdKind::File | FdKind::Memfd) {
                    let counts = self.file(process, fd.name.as_bytes(), ns);
                    if inbound {
                        counts.reads += 1;
                        counts.bytes_read += bytes;
                    } else {
                        counts.writes += 1;
                        counts.bytes_written += bytes;
                    }
                }
            }
            Op::Connect | Op::Accept => {
                let Some(EventFd::Known(_, fd)) = &ctx.fd else {
                    return;
                };
                let Some(socket) = fd.socket.as_ref().filter(|s| has_address(s)) else {
                    return;
                };
                let counts = self.conn(process, socket, ns);
                match op(event.kind) {
                    Op::Accept => counts.accepts += ret.ge(&0) as u64,
                    _ if ret == 0 || ret == EINPROGRESS => counts.connects += 1,
                    _ => counts.failed_connects += 1,
                }
            }
            Op::Rename | Op::Unlink | Op::Chmod | Op::Truncate if ret == 0 => {
                for path in paths_of(ctx, process) {
                    let counts = self.file(process, &path, ns);
                    match op(event.kind) {
                        Op::Rename => counts.renames += 1,
                        Op::Unlink => counts.unlinks += 1,
                        Op::Chmod => counts.chmods += 1,
                        _ => counts.truncates += 1,
                    }
                }
            }
            _ => {}
        }
    }

    fn file(&mut self, process: &Process, path: &[u8], ns: u64) -> &mut FileCounts {
        let (pid, exepath) = (process.pid, process.exepath.as_bytes());
        let hash = key_hash(|h| {
            h.write_u32(pid);
            h.write(exepath);
            h.write_u8(0);
            h.write(path);
        });
        let counts = self.files.get(
            hash,
            |k| k.pid == pid && k.exepath == exepath && k.path == path,
            || {
                let key = FileKey {
                    pid,
                    exepath: exepath.to_vec(),
                    path: path.to_vec(),
                };
                let counts = FileCounts {
                    name: lossy(&process.display_name()),
                    container_id: nonempty(&process.container_id),
                    first_ns: ns,
                    ..FileCounts::default()
                };
                (key, counts)
            },
        );
        counts.last_ns = counts.last_ns.max(ns);
        counts
    }

    fn conn(
        &mut self,
        process: &Process,
        socket: &casefile_rules::state::Socket,
        ns: u64,
    ) -> &mut ConnCounts {
        let (pid, exepath) = (process.pid, process.exepath.as_bytes());
        let hash = key_hash(|mut h| {
            h.write_u32(pid);
            h.write(exepath);
            h.write_u8(socket.l4proto);
            socket.local.hash(&mut h);
            socket.remote.hash(&mut h);
        });
        let counts = self.conns.get(
            hash,
            |k| {
                k.pid == pid
                    && k.l4proto == socket.l4proto
                    && k.local == socket.local
                    && k.remote == socket.remote
                    && k.exepath == exepath
            },
            || {
                let key = ConnKey {
                    pid,
                    exepath: exepath.to_vec(),
                    l4proto: socket.l4proto,
                    local: socket.local,
                    remote: socket.remote,
                };
                let counts = ConnCounts {
                    name: lossy(&process.display_name()),
                    container_id: nonempty(&process.container_id),
                    first_ns: ns,
                    ..ConnCounts::default()
                };
                (key, counts)
            },
        );
        counts.direction = match socket.role {
            Role::Client => Some("outbound"),
            Role::Server => Some("inbound"),
            Role::Unknown => counts.direction,
        };
        counts.last_ns = counts.last_ns.max(ns);
        counts
    }

    /// Adds a later segment's summary.
    pub fn merge(&mut self, other: Summary) {
        self.images.extend(other.images);
        self.exits.extend(other.exits);
        self.files.merge(other.files, FileCounts::merge);
        self.conns.merge(other.conns, ConnCounts::merge);
        self.alerts.extend(other.alerts);
        for (file, n) in other.drops {
            *self.drops.entry(file).or_default() += n;
        }
    }

    /// The summary tables' batches, in [`Table`] order from `processes` on.
    pub fn finish(mut self, set: &CaptureSet) -> Result<Vec<(Table, RecordBatch)>, ArrowError> {
        // The processes running when the capture started.
        let first = set.first();
        if let Some(Ok(snapshot)) = first.initial_state() {
            let state = StateEngine::from_snapshot(&snapshot);
            let boot = first.header().host.boot_time_ns;
            let mut start: Vec<Image> = state
                .processes()
                .filter(|p| !p.exited)
                .map(|p| Image::new(&state, p, "snapshot", boot.saturating_add(p.start_ts)))
                .collect();
            start.append(&mut self.images);
            self.images = start;
        }
        // Stable: images of one pid keep their timeline order.
        self.images.sort_by_key(|i| (i.pid, i.start_ns));
        self.exits.sort_by_key(|e| (e.pid, e.ns));
        // The large tables are built side by side: this runs after the replay, with
        // every core free.
        let (processes, (files, connections)) = rayon::join(
            || self.processes_batch(),
            || rayon::join(|| self.files_batch(), || self.connections_batch()),
        );
        let tables = vec![
            (Table::Processes, processes?),
            (Table::Files, files?),
            (Table::Connections, connections?),
            (Table::Alerts, self.alerts_batch()?),
            (Table::Captures, captures_batch(set, &self.drops)?),
        ];
        drop_in_background(self);
        Ok(tables)
    }

    /// Needs `images` and `exits` sorted by pid and time.
    fn processes_batch(&self) -> Result<RecordBatch, ArrowError> {
        let mut c = Columns::new(Table::Processes);
        let mut exits = self.exits.iter().peekable();
        for (i, image) in self.images.iter().enumerate() {
            let next = self
                .images
                .get(i + 1)
                .filter(|n| n.pid == image.pid)
                .map(|n| n.start_ns);
            while exits
                .peek()
                .is_some_and(|e| (e.pid, e.ns) < (image.pid, image.start_ns))
            {
                exits.next();
            }
            let exit = exits
                .peek()
                .filter(|e| e.pid == image.pid && next.is_none_or(|n| e.ns <= n));
            // A fork's row only stands for a child that never exec'd; so does the row of
            // a process first met in the capture's events.
            if matches!(image.origin, "fork" | "unknown") && next.is_some() && exit.is_none() {
                continue;
            }
            c.u32(image.pid);
            c.opt_u32(image.ppid);
            c.str(&image.name);
            c.str(&image.exe);
            c.str(&image.exepath);
            c.str(&image.cmdline);
            c.list(&image.argv);
            c.opt_str(image.cwd.as_deref());
            c.opt_str(image.user.as_deref());
            c.u32(image.uid);
            c.opt_str(image.container_id.as_deref());
            c.opt_str(image.pod_uid.as_deref());
            c.str(image.origin);
            c.time(image.start_ns);
            c.opt_time(exit.map(|e| e.ns).or(next));
            c.opt_i64(exit.and_then(|e| e.code));
            c.opt_str(exit.and_then(|e| e.signal.as_deref()));
            c.opt_str(image.parent_name.as_deref());
            c.opt_str(image.parent_exe.as_deref());
            c.opt_str(image.parent_cmdline.as_deref());
            c.str(&image.ancestry);
        }
        c.finish()
    }

    fn files_batch(&self) -> Result<RecordBatch, ArrowError> {
        let mut rows: Vec<_> = self.files.iter().collect();
        rows.sort_by(|a, b| {
            (a.1.first_ns, &a.0.path, a.0.pid, &a.0.exepath).cmp(&(
                b.1.first_ns,
                &b.0.path,
                b.0.pid,
                &b.0.exepath,
            ))
        });
        let mut c = Columns::new(Table::Files);
        for (key, n) in rows {
            c.u32(key.pid);
            c.str(&n.name);
            c.str(&String::from_utf8_lossy(&key.exepath));
            c.opt_str(n.container_id.as_deref());
            c.str(&String::from_utf8_lossy(&key.path));
            for v in [
                n.opens,
                n.opens_write,
                n.failed_opens,
                n.reads,
                n.bytes_read,
                n.writes,
                n.bytes_written,
                n.truncates,
                n.renames,
                n.unlinks,
                n.chmods,
                n.execs,
            ] {
                c.u64(v);
            }
            c.time(n.first_ns);
            c.time(n.last_ns);
        }
        c.finish()
    }

    fn connections_batch(&self) -> Result<RecordBatch, ArrowError> {
        let mut rows: Vec<_> = self.conns.iter().collect();
        rows.sort_by_key(|(key, n)| (n.first_ns, key.pid, key.local, key.remote));
        let mut c = Columns::new(Table::Connections);
        for (key, n) in rows {
            c.u32(key.pid);
            c.str(&n.name);
            c.str(&String::from_utf8_lossy(&key.exepath));
            c.opt_str(n.container_id.as_deref());
            c.opt_str(casefile_rules::state::l4proto_name(key.l4proto));
            c.opt_str(n.direction);
            c.opt_str(key.local.map(|a| a.ip().to_string()).as_deref());
            c.opt_u16(key.local.map(|a| a.port()));
            c.opt_str(key.remote.map(|a| a.ip().to_string()).as_deref());
            c.opt_u16(key.remote.map(|a| a.port()));
            for v in [
                n.connects,
                n.failed_connects,
                n.accepts,
                n.sends,
                n.bytes_sent,
                n.recvs,
                n.bytes_received,
            ] {
                c.u64(v);
            }
            c.time(n.first_ns);
            c.time(n.last_ns);
        }
        c.finish()
    }

    fn alerts_batch(&self) -> Result<RecordBatch, ArrowError> {
        let mut c = Columns::new(Table::Alerts);
        for row in &self.alerts {
            let a = &row.alert;
            c.time(a.time_ns);
            c.u64(a.event_num);
            c.str(&a.rule);
            c.str(a.priority.as_str());
            c.str(&a.source);
            c.list(&a.tags);
            c.str(&a.hostname);
            c.str(&a.output);
            c.str(row.evt_type);
            c.u32(a.pid);
            c.u32(a.tid);
            c.opt_str(a.lineage.first().map(String::as_str));
            c.opt_str(row.exepath.as_deref());
            c.opt_str(row.cmdline.as_deref());
            c.opt_str(row.container_id.as_deref());
            c.opt_str(row.fd_name.as_deref());
            let mut lineage = a.lineage.clone();
            lineage.reverse();
            c.str(&lineage.join(" > "));
            c.str(&serde_json::to_string(&a.output_fields).unwrap_or_default());
        }
        c.finish()
    }
}

/// IP sockets with a known end; unix sockets and unbound sockets stay in `events`.
fn has_address(socket: &casefile_rules::state::Socket) -> bool {
    socket.local.is_some() || socket.remote.is_some()
}

/// The paths a rename, unlink, chmod or truncate names, resolved against its directory
/// descriptor or the process's working directory.
fn paths_of(ctx: &Ctx<'_>, process: &Process) -> Vec<Vec<u8>> {
    let event = ctx.event;
    let info = kind_info(event.kind);
    let arg_at = |name: &str| {
        let i = info.params.iter().position(|p| p.name == name)?;
        event.args.get(i)
    };
    let base_of = |dir_param: &str| -> Vec<u8> {
        match arg_at(dir_param) {
            Some(Arg::Fd(fd)) if fd != AT_FDCWD => process
                .fds
                .get(&fd)
                .map(|f| f.name.as_bytes().to_vec())
                .unwrap_or_else(|| process.cwd.as_bytes().to_vec()),
            _ => process.cwd.as_bytes().to_vec(),
        }
    };
    let mut out = Vec::new();
    let pairs: &[(&str, &str)] = &[
        ("oldpath", "olddirfd"),
        ("newpath", "newdirfd"),
        ("path", "dirfd"),
        ("name", "dirfd"),
        ("filename", "dirfd"),
    ];
    for (path_param, dir_param) in pairs {
        if let Some(Arg::Str(path)) = arg_at(path_param) {
            let base = base_of(dir_param);
            out.push(resolve_path(&base, path).as_bytes().to_vec());
        }
    }
    if out.is_empty() {
        if let Some(Arg::Fd(fd)) = arg_at("fd") {
            if let Some(f) = process.fds.get(&fd) {
                out.push(f.name.as_bytes().to_vec());
            }
        }
    }
    out
}

fn captures_batch(
    set: &CaptureSet,
    drops: &HashMap<usize, u64>,
) -> Result<RecordBatch, ArrowError> {
    let mut c = Columns::new(Table::Captures);
    for (i, file) in set.files().iter().enumerate() {
        let header = file.header();
        let boot = header.host.boot_time_ns;
        let blocks: Vec<_> = file.event_blocks().collect();
        let first = blocks.iter().map(|b| b.header.first_ts).min();
        let last = blocks.iter().map(|b| b.header.last_ts).max();
        c.str(&file.path().display().to_string());
        c.str(&header.host.hostname);
        c.str(&header.host.kernel_release);
        c.str(&header.host.machine_id);
        c.opt_str(header.host.cloud_instance_id.as_deref());
        c.time(boot);
        c.opt_time(first.map(|t| boot.saturating_add(t)));
        c.opt_time(last.map(|t| boot.saturating_add(t)));
        c.u64(blocks.iter().map(|b| u64::from(b.header.count)).sum());
        c.u64(
            file.trailer()
                .map_or_else(|| drops.get(&i).copied().unwrap_or(0), |t| t.drops),
        );
        c.u64(blocks.len() as u64);
        c.u64(file.file_len());
        c.u64(file.truncated_bytes());
        c.str(&header.config.syscall_set);
        c.bool(file.trailer().is_some() && file.truncated_bytes() == 0);
    }
    c.finish()
}

/// Frees `value` on a thread of its own. A large capture's summary is millions of small
/// allocations made on the replay's workers; freeing them on the calling thread took
/// 0.7 s of an export's wall time (3%) after all else was done.
fn drop_in_background<T: Send + 'static>(value: T) {
    // If no thread can be made, the closure and `value` with it are dropped here.
    let _ = std::thread::Builder::new()
        .name("casefile-free".into())
        .spawn(move || drop(value));
}

/// Row-by-row appends to a table's columns, in schema order.
struct Columns {
    table: Table,
    builders: Vec<Box<dyn arrow::array::ArrayBuilder>>,
    next: usize,
}

impl Columns {
    fn new(table: Table) -> Columns {
        let schema = table.schema();
        let builders = schema
            .fields()
            .iter()
            .map(|f| arrow::array::make_builder(f.data_type(), 64))
            .collect();
        Columns {
            table,
            builders,
            next: 0,
        }
    }

    fn builder<T: 'static>(&mut self) -> &mut T {
        let n = self.builders.len();
        let i = self.next;
        self.next = (i + 1) % n;
        self.builders[i]
            .as_any_mut()
            .downcast_mut::<T>()
            .unwrap_or_else(|| panic!("{} column {i} has another type", self.table.name()))
    }

    fn u64(&mut self, v: u64) {
        self.builder::<UInt64Builder>().append_value(v);
    }
    fn u32(&mut self, v: u32) {
        self.builder::<UInt32Builder>().append_value(v);
    }
    fn opt_u32(&mut self, v: Option<u32>) {
        self.builder::<UInt32Builder>().append_option(v);
    }
    fn opt_u16(&mut self, v: Option<u16>) {
        self.builder::<UInt16Builder>().append_option(v);
    }
    fn opt_i64(&mut self, v: Option<i64>) {
        self.builder::<Int64Builder>().append_option(v);
    }
    fn bool(&mut self, v: bool) {
        self.builder::<BooleanBuilder>().append_value(v);
    }
    fn str(&mut self, v: &str) {
        self.builder::<StringBuilder>().append_value(v);
    }
    fn opt_str(&mut self, v: Option<&str>) {
        self.builder::<StringBuilder>().append_option(v);
    }
    fn time(&mut self, ns: u64) {
        self.builder::<TimestampNanosecondBuilder>()
            .append_value(ns as i64);
    }
    fn opt_time(&mut self, ns: Option<u64>) {
        self.builder::<TimestampNanosecondBuilder>()
            .append_option(ns.map(|n| n as i64));
    }
    fn list(&mut self, items: &[String]) {
        let b = self.builder::<ListBuilder<Box<dyn arrow::array::ArrayBuilder>>>();
        for item in items {
            if let Some(values) = b.values().as_any_mut().downcast_mut::<StringBuilder>() {
                values.append_value(item);
            }
        }
        b.append(true);
    }

    fn finish(mut self) -> Result<RecordBatch, ArrowError> {
        let arrays: Vec<ArrayRef> = self.builders.iter_mut().map(|b| b.finish()).collect();
        let schema = self.table.schema();
        // make_builder's timestamp builders carry no time zone; the schema's does.
        let arrays = arrays
            .into_iter()
            .zip(schema.fields())
            .map(|(a, f)| {
                if a.data_type() != f.data_type() {
                    arrow::compute::cast(&a, f.data_type())
                } else {
                    Ok(a)
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        RecordBatch::try_new(Arc::clone(&schema), arrays)
    }
}
