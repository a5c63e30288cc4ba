//! A deterministic synthetic workload: a seeded stream of events shaped like a busy
//! Linux web host — mostly reads, writes, opens and closes with small arguments, a few
//! raw syscalls, occasional process starts with argv and outbound connects.
//!
//! It exists so the format can be tested and benchmarked without root or a kernel, and so
//! `casefile info`/`cat` have a file to show before a recording exists. It is not a
//! substitute for a recorded capture.

use crate::event::{ArgsBuilder, EventKind, OwnedEvent, SockAddr};
use crate::header::{CaptureConfig, FileHeader, HostInfo};
use crate::schema::{kind_info, syscall_nr, EVENT_LAYOUT_VERSION};
use crate::state::{ByteString, FdEntry, FdTarget, ProcessEntry, StateSnapshot, UserEntry};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

const AT_FDCWD: i64 = -100;
/// Buffer bytes kept per I/O event (sysdig's and casefile's default snaplen).
const SNAPLEN: usize = 80;
const ENOENT: i64 = 2;
const EAGAIN: i64 = 11;

/// Text the synthetic reads and writes carry, so that buffer snapshots look (and
/// compress) like real HTTP, logs and JSON rather than noise.
const PAYLOADS: &[&[u8]] = &[
    b"GET /api/v1/orders?page=2 HTTP/1.1\r\nHost: shop.internal\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n",
    b"{\"id\":1842,\"status\":\"shipped\",\"total\":\"19.99\"}",
    b"10.0.3.7 - - [23/Nov/2026:05:37:01 +0000] \"GET /healthz HTTP/1.1\" 200 2",
    b"SELECT id, status FROM orders WHERE customer_id = $1",
    b"2026-11-23T05:37:01Z INFO worker: processed job 77412 in 12ms",
];

const PATHS: &[&str] = &[
    "/etc/nsswitch.conf",
    "/etc/hosts",
    "/etc/resolv.conf",
    "/etc/localtime",
    "/usr/lib/x86_64-linux-gnu/libssl.so.3",
    "/usr/share/zoneinfo/UTC",
    "/var/www/shop/static/app.js",
    "/var/www/shop/static/logo.png",
    "/var/www/shop/templates/order.html",
    "/var/log/nginx/access.log",
    "/proc/self/status",
    "/sys/fs/cgroup/cpu.max",
    "/srv/app/config/settings.yaml",
    "/srv/app/cache/session-4f2a",
    "/tmp/upload-91ac.part",
    "/home/deploy/.bash_history",
];

/// Raw (undecoded) syscalls a busy host makes, with weights.
const RAW_SYSCALLS: &[&str] = &[
    "fstat",
    "lseek",
    "getpid",
    "brk",
    "rt_sigprocmask",
    "getrandom",
    "epoll_ctl",
    "newfstatat",
    "madvise",
    "getsockopt",
];

#[derive(Clone, Debug)]
struct SimFd {
    fd: i64,
    path: &'static str,
    socket: bool,
}

#[derive(Clone, Debug)]
struct SimProcess {
    pid: u32,
    ppid: u32,
    tids: Vec<u32>,
    comm: &'static str,
    exe: &'static str,
    args: Vec<&'static str>,
    fds: Vec<SimFd>,
    next_fd: i64,
    /// How often this process makes syscalls, relative to the others.
    weight: u32,
    start_ts: u64,
}

/// A seeded, endless stream of synthetic events with the header and snapshot that go
/// with it. The same seed gives the same stream.
pub struct SyntheticWorkload {
    rng: SmallRng,
    ts: u64,
    start_ts: u64,
    procs: Vec<SimProcess>,
    total_weight: u32,
    next_pid: u32,
    args: ArgsBuilder,
    /// Events already generated but not yet returned (a fork is followed by its exec).
    pending: Vec<OwnedEvent>,
    /// The thread on cpu: real threads make syscalls in bursts between context switches.
    running: Option<Running>,
}

#[derive(Clone, Copy, Debug)]
struct Running {
    proc_index: usize,
    tid: u32,
    cpu: u16,
    remaining: u32,
}

impl SyntheticWorkload {
    pub fn new(seed: u64) -> SyntheticWorkload {
        let start_ts = 86_400_000_000_000; // a day after boot
        let mut procs = Vec::new();
        let mut add =
            |pid: u32, ppid: u32, threads: u32, comm, exe, args: &[&'static str], weight| {
                procs.push(SimProcess {
                    pid,
                    ppid,
                    tids: (0..threads).map(|i| pid + i).collect(),
                    comm,
                    exe,
                    args: args.to_vec(),
                    fds: Vec::new(),
                    next_fd: 3,
                    weight,
                    start_ts: start_ts - 3_600_000_000_000,
                })
            };
        add(
            1,
            0,
            1,
            "systemd",
            "/usr/lib/systemd/systemd",
            &["--system"],
            1,
        );
        add(812, 1, 1, "sshd", "/usr/sbin/sshd", &["-D"], 1);
        add(
            1040,
            1,
            1,
            "nginx",
            "/usr/sbin/nginx",
            &["-g", "daemon off;"],
            1,
        );
        add(
            1041,
            1040,
            1,
            "nginx",
            "/usr/sbin/nginx",
            &["-g", "daemon off;"],
            30,
        );
        add(
            1042,
            1040,
            1,
            "nginx",
            "/usr/sbin/nginx",
            &["-g", "daemon off;"],
            30,
        );
        add(
            2210,
            1,
            4,
            "python3",
            "/usr/bin/python3",
            &["/srv/app/server.py", "--port", "8080"],
            25,
        );
        add(
            2380,
            1,
            3,
            "postgres",
            "/usr/lib/postgresql/15/bin/postgres",
            &["-D", "/var/lib/postgresql/15/main"],
            10,
        );
        add(3100, 812, 1, "bash", "/usr/bin/bash", &["-l"], 2);
        let mut workload = SyntheticWorkload {
            rng: SmallRng::seed_from_u64(seed),
            ts: start_ts,
            start_ts,
            total_weight: procs.iter().map(|p| p.weight).sum(),
            procs,
            next_pid: 4000,
            args: ArgsBuilder::new(),
            pending: Vec::new(),
            running: None,
        };
        for i in 0..workload.procs.len() {
            for path in &PATHS[..3] {
                workload.open_fd(i, path, false);
            }
            workload.open_fd(i, "socket", true);
        }
        workload
    }

    /// A header for a file of this workload (host facts are made up, marked synthetic).
    pub fn header(&self) -> FileHeader {
        FileHeader {
            writer: format!("casefile {} (synthetic)", env!("CARGO_PKG_VERSION")),
            event_layout_version: EVENT_LAYOUT_VERSION,
            start_ts: self.start_ts,
            host: HostInfo {
                hostname: "synthetic-web-1".into(),
                kernel_release: "6.1.0-synthetic".into(),
                kernel_version: "#1 SMP synthetic".into(),
                machine_id: "0123456789abcdef0123456789abcdef".into(),
                boot_time_ns: 1_795_300_000_000_000_000,
                cpus: 4,
                cloud_instance_id: None,
            },
            config: CaptureConfig {
                syscall_set: "security".into(),
                syscalls: Vec::new(),
                snaplen: 80,
                filters: Vec::new(),
                source: "synthetic".into(),
            },
        }
    }

    /// The state of the simulated host now.
    pub fn snapshot(&self) -> StateSnapshot {
        StateSnapshot {
            ts: self.ts,
            processes: self
                .procs
                .iter()
                .map(|p| ProcessEntry {
                    pid: p.pid,
                    ppid: p.ppid,
                    tids: p.tids.clone(),
                    comm: p.comm.into(),
                    exe: p.exe.into(),
                    exepath: p.exe.into(),
                    args: p.args.iter().map(|a| ByteString::from(*a)).collect(),
                    cwd: "/".into(),
                    loginuid: u32::MAX,
                    start_ts: p.start_ts,
                    fds: p
                        .fds
                        .iter()
                        .map(|f| {
                            let target = if f.socket {
                                FdTarget::Socket(crate::state::SocketInfo {
                                    family: crate::event::AF_INET,
                                    l4proto: 6,
                                    local: "10.0.3.7:8080".into(),
                                    remote: "10.0.3.1:51234".into(),
                                })
                            } else {
                                FdTarget::File {
                                    path: f.path.into(),
                                    flags: 0,
                                }
                            };
                            FdEntry::new(f.fd, target)
                        })
                        .collect(),
                    ..ProcessEntry::default()
                })
                .collect(),
            users: vec![UserEntry {
                uid: 0,
                gid: 0,
                name: "root".into(),
                home: "/root".into(),
                shell: "/bin/bash".into(),
            }],
            groups: Vec::new(),
            exited: Vec::new(),
            threads: None,
        }
    }

    fn open_fd(&mut self, proc_index: usize, path: &'static str, socket: bool) -> i64 {
        let p = &mut self.procs[proc_index];
        let fd = p.next_fd;
        p.next_fd += 1;
        p.fds.push(SimFd { fd, path, socket });
        fd
    }

    fn pick_process(&mut self) -> usize {
        let mut n = self.rng.random_range(0..self.total_weight);
        for (i, p) in self.procs.iter().enumerate() {
            if n < p.weight {
                return i;
            }
            n -= p.weight;
        }
        0
    }

    fn event(&mut self, proc_index: usize, name: &str, ret: i64) -> OwnedEvent {
        let p = &self.procs[proc_index];
        let (tid, cpu) = match self.running {
            Some(r) if r.proc_index == proc_index => (r.tid, r.cpu),
            _ => (p.pid, (p.pid % 4) as u16),
        };
        OwnedEvent {
            ts: self.ts,
            cpu,
            pid: p.pid,
            tid,
            kind: EventKind::syscall(syscall_nr(name).unwrap_or(0)),
            ret,
            args: self.args.as_bytes().to_vec(),
        }
    }

    /// One I/O syscall. Sizes and return values follow what programs do: writes and
    /// sends complete whole messages, file reads ask for a buffer and get a full one,
    /// the file's tail or end-of-file, and non-blocking socket reads sometimes find
    /// nothing. The buffer snapshot is the start of the data, up to the snaplen.
    fn io_event(&mut self, proc_index: usize) -> OwnedEvent {
        let fds = &self.procs[proc_index].fds;
        let fd = fds[self.rng.random_range(0..fds.len())].clone();
        let message = PAYLOADS[self.rng.random_range(0..PAYLOADS.len())];
        let reading = self.rng.random_bool(0.55);
        let (size, ret) = match (fd.socket, reading) {
            (true, true) if self.rng.random_bool(0.2) => (65_536, -EAGAIN),
            (true, true) => (65_536, message.len() as i64),
            (false, true) => {
                let tail = (fd.path.len() as i64 * 37) % 4096;
                let ret = match self.rng.random_range(0..10) {
                    0..=5 => 4096,
                    6..=7 => tail,
                    _ => 0,
                };
                (4096, ret)
            }
            (_, false) => (message.len() as u64, message.len() as i64),
        };
        let data = if ret > 0 {
            &message[..(ret as usize).min(message.len()).min(SNAPLEN)]
        } else {
            &[][..]
        };
        self.args.clear();
        self.args.fd(fd.fd).uint(size);
        let name = match (fd.socket, reading) {
            (true, true) => "recvfrom",
            (true, false) => "sendto",
            (false, true) => "read",
            (false, false) => "write",
        };
        if fd.socket {
            self.args.absent();
        }
        self.args.bytes(data);
        self.event(proc_index, name, ret)
    }

    fn open_event(&mut self, proc_index: usize) -> OwnedEvent {
        let path = PATHS[self.rng.random_range(0..PATHS.len())];
        let missing = self.rng.random_bool(0.1);
        let flags: u64 = if path.starts_with("/var/log") || path.starts_with("/tmp") {
            0o2101 // O_WRONLY|O_APPEND|O_CREAT
        } else {
            0o2000000 // O_RDONLY|O_CLOEXEC
        };
        let ret = if missing || self.procs[proc_index].fds.len() > 60 {
            -ENOENT
        } else {
            self.open_fd(proc_index, path, false)
        };
        self.args.clear();
        self.args
            .fd(AT_FDCWD)
            .str(path.as_bytes())
            .uint(flags)
            .uint(0o644);
        if ret >= 0 {
            self.args
                .uint(0x803)
                .uint(1_000_000 + (path.len() as u64) * 7919);
        } else {
            self.args.absent().absent();
        }
        self.event(proc_index, "openat", ret)
    }

    fn close_event(&mut self, proc_index: usize) -> OwnedEvent {
        let fds = &mut self.procs[proc_index].fds;
        // Keep the first few descriptors (stdio-like and the listening socket).
        let fd = if fds.len() > 4 {
            let i = 4 + self.rng.random_range(0..fds.len() - 4);
            fds.swap_remove(i).fd
        } else {
            99
        };
        let ret = if fd == 99 { -9 } else { 0 };
        self.args.clear();
        self.args.fd(fd);
        self.event(proc_index, "close", ret)
    }

    fn raw_event(&mut self, proc_index: usize) -> OwnedEvent {
        let name = RAW_SYSCALLS[self.rng.random_range(0..RAW_SYSCALLS.len())];
        self.args.clear();
        let stack = 0x7ffd_1234_0000u64 + u64::from(self.procs[proc_index].pid) * 0x1000;
        self.args
            .uint(self.rng.random_range(0..16))
            .uint(stack + self.rng.random_range(0..8) * 0x40)
            .uint(self.rng.random_range(0..4))
            .uint(0)
            .uint(0)
            .uint(0);
        debug_assert!(!kind_info(EventKind::syscall(syscall_nr(name).unwrap_or(0))).decoded);
        self.event(proc_index, name, 0)
    }

    fn connect_event(&mut self, proc_index: usize) -> OwnedEvent {
        let fd = self.open_fd(proc_index, "socket", true);
        let port = [443u16, 5432, 6379, 53][self.rng.random_range(0..4)];
        let host = self.rng.random_range(1..20u8);
        self.args.clear();
        self.args
            .fd(fd)
            .sock(&SockAddr::Inet {
                addr: [203, 0, 113, host],
                port,
            })
            .sock(&SockAddr::Inet {
                addr: [10, 0, 3, 7],
                port: 40000 + self.rng.random_range(0..20000u16),
            });
        self.event(proc_index, "connect", if port == 53 { 0 } else { -115 })
    }

    /// bash starts a short-lived command: fork, exec with argv, exit.
    fn spawn(&mut self) -> OwnedEvent {
        let parent = self
            .procs
            .iter()
            .position(|p| p.comm == "bash")
            .unwrap_or(0);
        let pid = self.next_pid;
        self.next_pid += 1;
        let (exe, argv): (&str, &[&str]) = match self.rng.random_range(0..4) {
            0 => ("/usr/bin/ls", &["ls", "-la", "/var/www/shop"]),
            1 => (
                "/usr/bin/curl",
                &["curl", "-s", "http://10.0.3.9:8080/healthz"],
            ),
            2 => ("/usr/bin/grep", &["grep", "-r", "ERROR", "/var/log/app"]),
            _ => ("/usr/bin/ps", &["ps", "aux"]),
        };
        self.args.clear();
        self.args
            .uint(u64::from(pid))
            .uint(u64::from(pid))
            .uint(0x0120_0011);
        let fork = self.event(parent, "", 0);
        let fork = OwnedEvent {
            kind: EventKind::FORK,
            ..fork
        };
        self.ts += 40_000;
        self.args.clear();
        let comm = exe.rsplit('/').next().unwrap_or(exe);
        self.args
            .str(exe.as_bytes())
            .str(exe.as_bytes())
            .str_list(argv.iter().map(|a| a.as_bytes()))
            .str(b"/home/deploy")
            .str_list([
                &b"PATH=/usr/bin:/bin"[..],
                b"HOME=/home/deploy",
                b"LANG=C.UTF-8",
            ])
            .str(comm.as_bytes())
            .uint(1000)
            .uint(1000)
            .uint(1000)
            .uint(1000)
            .uint(1000)
            .uint(34816)
            .uint(3100)
            .uint(u64::from(pid))
            .str(b"/user.slice/user-1000.slice/session-3.scope")
            .uint(0)
            .uint(1_311_000 + u64::from(self.rng.random_range(0..4u8)))
            .uint(1_700_000_000)
            .uint(1_700_000_000)
            .uint(0)
            .uint(0)
            .uint(0);
        let exec = OwnedEvent {
            ts: self.ts,
            cpu: (pid % 4) as u16,
            pid,
            tid: pid,
            kind: EventKind::syscall(syscall_nr("execve").unwrap_or(59)),
            ret: 0,
            args: self.args.as_bytes().to_vec(),
        };
        self.args.clear();
        self.args.int(0).int(0).absent().int(0);
        let exit = OwnedEvent {
            ts: self.ts + 2_000_000,
            kind: EventKind::PROC_EXIT,
            args: self.args.as_bytes().to_vec(),
            ..exec.clone()
        };
        self.pending.push(exit);
        self.pending.push(exec);
        fork
    }

    pub fn next_event(&mut self) -> OwnedEvent {
        if let Some(event) = self.pending.pop() {
            self.ts = self.ts.max(event.ts) + self.rng.random_range(200..900);
            return OwnedEvent {
                ts: self.ts,
                ..event
            };
        }
        let running = match self.running {
            Some(r) if r.remaining > 0 => {
                self.ts += self.rng.random_range(150..1_200);
                r
            }
            _ => {
                // A context switch: another thread gets a cpu for a burst of syscalls.
                self.ts += self.rng.random_range(500..6_000);
                let proc_index = self.pick_process();
                let p = &self.procs[proc_index];
                let tid = p.tids[self.rng.random_range(0..p.tids.len())];
                let cpu = if self.rng.random_bool(0.9) {
                    (tid % 4) as u16
                } else {
                    self.rng.random_range(0..4)
                };
                Running {
                    proc_index,
                    tid,
                    cpu,
                    remaining: self.rng.random_range(1..16),
                }
            }
        };
        self.running = Some(Running {
            remaining: running.remaining - 1,
            ..running
        });
        let proc_index = running.proc_index;
        match self.rng.random_range(0..1000) {
            0..=599 => self.io_event(proc_index),
            600..=719 => self.open_event(proc_index),
            720..=839 => self.close_event(proc_index),
            840..=989 => self.raw_event(proc_index),
            990..=996 => self.connect_event(proc_index),
            _ => self.spawn(),
        }
    }
}

impl Iterator for SyntheticWorkload {
    type Item = OwnedEvent;

    fn next(&mut self) -> Option<OwnedEvent> {
        Some(self.next_event())
    }
}
