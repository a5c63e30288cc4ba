//! A checkpoint loses nothing: run the state engine over random events, snapshot it
//! through the file's encoding, rebuild an engine from the snapshot, and on every later
//! event both engines must extract every field of every Falco field class alike.
//! (Before the snapshot carried the engine's descriptor detail, an accepted socket's
//! `fd.sip`/`fd.cip` swapped and `fd.is_server` turned false after a checkpoint; the
//! executable's inode and times, `fd.nameraw` and close-on-exec of sockets and pipes
//! were dropped.)

mod common;

use casefile_formats::event::{ArgsBuilder, OwnedEvent, SockAddr};
use casefile_formats::state::{
    ByteString, FdEntry, FdTarget, ProcessEntry, SocketInfo, StateSnapshot,
};
use casefile_rules::compile::{compile_field, Field};
use casefile_rules::fields::{ArgKind, Ctx, Value, FIELDS};
use casefile_rules::state::StateEngine;
use common::{event, exec_with, POD_CGROUP};
use proptest::prelude::*;

const PIDS: &[u32] = &[1, 100, 101, 102, 103];
const PATHS: &[&str] = &[
    "/etc/passwd",
    "tmp/../x",
    "/var/run",
    "data.txt",
    "/proc/self/fd/3",
];
const ADDRS: &[([u8; 4], u16)] = &[
    ([198, 51, 100, 7], 443),
    ([203, 0, 113, 9], 8080),
    ([127, 0, 0, 1], 0),
];
const O_CLOEXEC: u64 = 0o2_000_000;
const O_DIRECTORY: u64 = 0o200_000;

/// One thing a process does, in terms the state engine reacts to (plus reads, which it
/// does not, so that fields are also compared on events that change nothing).
#[derive(Clone, Debug)]
enum Op {
    Fork {
        parent: usize,
        child: u32,
        thread: bool,
    },
    Exec {
        pid: usize,
        path: usize,
        memfd: bool,
        caps: u64,
    },
    Open {
        pid: usize,
        path: usize,
        fd: i64,
        flags: u64,
        dirfd: Option<i64>,
    },
    FailedOpen {
        pid: usize,
        path: usize,
    },
    Socket {
        pid: usize,
        fd: i64,
        domain: u64,
        cloexec: bool,
    },
    Connect {
        pid: usize,
        fd: i64,
        remote: usize,
        local: usize,
    },
    Accept {
        pid: usize,
        fd: i64,
        new: i64,
        remote: usize,
        local: usize,
        cloexec: bool,
    },
    Bind {
        pid: usize,
        fd: i64,
        local: usize,
    },
    Close {
        pid: usize,
        fd: i64,
    },
    Dup {
        pid: usize,
        old: i64,
        new: i64,
        variant: u8,
    },
    Fcntl {
        pid: usize,
        fd: i64,
        cmd: i64,
        arg: u64,
        ret: i64,
    },
    Pipe {
        pid: usize,
        a: i64,
        b: i64,
        ino: u64,
        cloexec: bool,
    },
    Memfd {
        pid: usize,
        fd: i64,
        cloexec: bool,
    },
    Chdir {
        pid: usize,
        path: usize,
    },
    Fchdir {
        pid: usize,
        fd: i64,
    },
    SetResUid {
        pid: usize,
        ruid: u64,
        euid: u64,
    },
    Rename {
        pid: usize,
        name: usize,
    },
    Exit {
        pid: usize,
        thread: bool,
    },
    Read {
        pid: usize,
        fd: i64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let pid = 0..PIDS.len();
    let fd = 0i64..6;
    let path = 0..PATHS.len();
    let addr = 0..ADDRS.len();
    prop_oneof![
        (pid.clone(), 100u32..106, any::<bool>()).prop_map(|(parent, child, thread)| Op::Fork {
            parent,
            child,
            thread
        }),
        (pid.clone(), path.clone(), any::<bool>(), 0u64..4).prop_map(|(pid, path, memfd, caps)| {
            Op::Exec {
                pid,
                path,
                memfd,
                caps,
            }
        }),
        (
            pid.clone(),
            path.clone(),
            fd.clone(),
            0u64..4,
            proptest::option::of(fd.clone())
        )
            .prop_map(|(pid, path, fd, f, dirfd)| Op::Open {
                pid,
                path,
                fd,
                flags: [0, O_CLOEXEC, O_DIRECTORY, 0o101][f as usize],
                dirfd,
            }),
        (pid.clone(), path.clone()).prop_map(|(pid, path)| Op::FailedOpen { pid, path }),
        (pid.clone(), fd.clone(), 0u64..4, any::<bool>()).prop_map(|(pid, fd, d, cloexec)| {
            Op::Socket {
                pid,
                fd,
                domain: [2, 10, 1, 16][d as usize],
                cloexec,
            }
        }),
        (pid.clone(), fd.clone(), addr.clone(), addr.clone()).prop_map(
            |(pid, fd, remote, local)| Op::Connect {
                pid,
                fd,
                remote,
                local
            }
        ),
        (
            pid.clone(),
            fd.clone(),
            fd.clone(),
            addr.clone(),
            addr.clone(),
            any::<bool>()
        )
            .prop_map(|(pid, fd, new, remote, local, cloexec)| Op::Accept {
                pid,
                fd,
                new,
                remote,
                local,
                cloexec
            }),
        (pid.clone(), fd.clone(), addr.clone()).prop_map(|(pid, fd, local)| Op::Bind {
            pid,
            fd,
            local
        }),
        (pid.clone(), fd.clone()).prop_map(|(pid, fd)| Op::Close { pid, fd }),
        (pid.clone(), fd.clone(), fd.clone(), 0u8..3).prop_map(|(pid, old, new, variant)| {
            Op::Dup {
                pid,
                old,
                new,
                variant,
            }
        }),
        (pid.clone(), fd.clone(), 0usize..3, 0u64..2, fd.clone()).prop_map(
            |(pid, fd, cmd, arg, ret)| Op::Fcntl {
                pid,
                fd,
                cmd: [0, 2, 1030][cmd],
                arg,
                ret
            }
        ),
        (pid.clone(), fd.clone(), fd.clone(), 1u64..4, any::<bool>()).prop_map(
            |(pid, a, b, ino, cloexec)| Op::Pipe {
                pid,
                a,
                b,
                ino,
                cloexec
            }
        ),
        (pid.clone(), fd.clone(), any::<bool>()).prop_map(|(pid, fd, cloexec)| Op::Memfd {
            pid,
            fd,
            cloexec
        }),
        (pid.clone(), path.clone()).prop_map(|(pid, path)| Op::Chdir { pid, path }),
        (pid.clone(), fd.clone()).prop_map(|(pid, fd)| Op::Fchdir { pid, fd }),
        (pid.clone(), 0u64..3, 0u64..3).prop_map(|(pid, ruid, euid)| Op::SetResUid {
            pid,
            ruid: ruid * 1000,
            euid: euid * 1000
        }),
        (pid.clone(), path.clone()).prop_map(|(pid, name)| Op::Rename { pid, name }),
        (pid.clone(), any::<bool>()).prop_map(|(pid, thread)| Op::Exit { pid, thread }),
        (pid, fd).prop_map(|(pid, fd)| Op::Read { pid, fd }),
    ]
}

fn sock(addr: usize) -> SockAddr<'static> {
    let (addr, port) = ADDRS[addr];
    SockAddr::Inet { addr, port }
}

fn to_event(op: &Op) -> OwnedEvent {
    let p = |i: &usize| PIDS[*i];
    match op {
        Op::Fork {
            parent,
            child,
            thread,
        } => {
            let parent = p(parent);
            let mut e = event(parent, "procfork", 0, |a| {
                let tid = if *thread { child + 1000 } else { *child };
                let pid = if *thread { parent } else { *child };
                // The kernel writes the child's pid and tid signed.
                a.int(i64::from(pid))
                    .int(i64::from(tid))
                    .uint(if *thread { 0x10000 } else { 0 });
            });
            e.tid = parent;
            e
        }
        Op::Exec {
            pid,
            path,
            memfd,
            caps,
        } => {
            let path = if *memfd {
                "/proc/self/fd/3"
            } else {
                PATHS[*path]
            };
            let mut e = exec_with(p(pid), path, &[path, "-x"], POD_CGROUP, 0, *caps);
            e.args = {
                // exec_with writes inode 7 and no times; vary them so they must survive.
                let mut a = ArgsBuilder::new();
                let event = e.as_event();
                for (i, arg) in event.args.iter().enumerate() {
                    match i {
                        16 => drop(a.uint(7 + *caps)),
                        17 => drop(a.uint(1_700_000_000_000_000_000 + *caps)),
                        18 => drop(a.uint(1_600_000_000_000_000_000)),
                        _ => push(&mut a, arg),
                    }
                }
                a.finish()
            };
            e
        }
        Op::Open {
            pid,
            path,
            fd,
            flags,
            dirfd,
        } => event(p(pid), "openat", *fd, |a| {
            a.fd(dirfd.unwrap_or(-100))
                .str(PATHS[*path].as_bytes())
                .uint(*flags)
                .uint(0o644)
                .uint(1)
                .uint(2);
        }),
        Op::FailedOpen { pid, path } => event(p(pid), "openat", -2, |a| {
            a.fd(-100)
                .str(PATHS[*path].as_bytes())
                .uint(0)
                .uint(0)
                .absent()
                .absent();
        }),
        Op::Socket {
            pid,
            fd,
            domain,
            cloexec,
        } => event(p(pid), "socket", *fd, |a| {
            a.uint(*domain)
                .uint(1 | if *cloexec { O_CLOEXEC } else { 0 })
                .uint(0);
        }),
        Op::Connect {
            pid,
            fd,
            remote,
            local,
        } => event(p(pid), "connect", 0, |a| {
            a.fd(*fd).sock(&sock(*remote)).sock(&sock(*local));
        }),
        Op::Accept {
            pid,
            fd,
            new,
            remote,
            local,
            cloexec,
        } => event(p(pid), "accept4", *new, |a| {
            a.fd(*fd)
                .sock(&sock(*remote))
                .sock(&sock(*local))
                .uint(if *cloexec { O_CLOEXEC } else { 0 });
        }),
        Op::Bind { pid, fd, local } => event(p(pid), "bind", 0, |a| {
            a.fd(*fd).sock(&sock(*local));
        }),
        Op::Close { pid, fd } => event(p(pid), "close", 0, |a| {
            a.fd(*fd);
        }),
        Op::Dup {
            pid,
            old,
            new,
            variant,
        } => match variant {
            0 => event(p(pid), "dup", *new, |a| {
                a.fd(*old);
            }),
            1 => event(p(pid), "dup2", *new, |a| {
                a.fd(*old).fd(*new);
            }),
            _ => event(p(pid), "dup3", *new, |a| {
                a.fd(*old).fd(*new).uint(O_CLOEXEC);
            }),
        },
        Op::Fcntl {
            pid,
            fd,
            cmd,
            arg,
            ret,
        } => event(p(pid), "fcntl", *ret, |a| {
            a.fd(*fd).uint(*cmd as u64).uint(*arg);
        }),
        Op::Pipe {
            pid,
            a: fd1,
            b: fd2,
            ino,
            cloexec,
        } => event(p(pid), "pipe2", 0, |a| {
            a.fd(*fd1)
                .fd(*fd2)
                .uint(*ino)
                .uint(if *cloexec { O_CLOEXEC } else { 0 });
        }),
        Op::Memfd { pid, fd, cloexec } => event(p(pid), "memfd_create", *fd, |a| {
            a.str(b"payload").uint(u64::from(*cloexec));
        }),
        Op::Chdir { pid, path } => event(p(pid), "chdir", 0, |a| {
            a.str(PATHS[*path].as_bytes());
        }),
        Op::Fchdir { pid, fd } => event(p(pid), "fchdir", 0, |a| {
            a.fd(*fd);
        }),
        Op::SetResUid { pid, ruid, euid } => event(p(pid), "setresuid", 0, |a| {
            a.uint(*ruid).uint(*euid).uint(u64::from(u32::MAX));
        }),
        Op::Rename { pid, name } => event(p(pid), "prctl", 0, |a| {
            a.uint(15).uint(0).str(PATHS[*name].as_bytes());
        }),
        Op::Exit { pid, thread } => {
            let pid = p(pid);
            let mut e = event(pid, "procexit", 0, |a| {
                a.int(0).int(0).uint(0).uint(0);
            });
            if *thread {
                e.tid = pid + 1000;
            }
            e
        }
        Op::Read { pid, fd } => event(p(pid), "read", 5, |a| {
            a.fd(*fd).uint(5).bytes(b"hello");
        }),
    }
}

fn push(a: &mut ArgsBuilder, arg: casefile_formats::event::Arg<'_>) {
    use casefile_formats::event::Arg;
    match arg {
        Arg::Absent => a.absent(),
        Arg::Int(v) => a.int(v),
        Arg::Uint(v) => a.uint(v),
        Arg::Fd(v) => a.fd(v),
        Arg::Str(s) => a.str(s),
        Arg::Bytes(b) => a.bytes(b),
        Arg::StrList(list) => a.str_list(list.iter()),
        Arg::Sock(s) => a.sock(&s),
    };
}

/// What the recorder reads from /proc: targets only, no engine detail.
fn initial() -> StateSnapshot {
    let process = |pid: u32, ppid: u32, comm: &str, fds: Vec<FdEntry>| ProcessEntry {
        pid,
        ppid,
        tids: vec![pid],
        comm: ByteString::from(comm),
        exe: ByteString::from(comm),
        exepath: ByteString::from(format!("/usr/sbin/{comm}")),
        cwd: ByteString::from("/srv"),
        loginuid: u32::MAX,
        exe_ino: 99,
        exe_ctime: Some(1_500_000_000_000_000_000),
        fds,
        ..ProcessEntry::default()
    };
    let fds = vec![
        FdEntry::new(
            0,
            FdTarget::File {
                path: "/dev/null".into(),
                flags: O_CLOEXEC as u32,
            },
        ),
        FdEntry::new(
            1,
            FdTarget::Socket(SocketInfo {
                family: 2,
                l4proto: 6,
                local: "0.0.0.0:80".into(),
                remote: String::new(),
            }),
        ),
        FdEntry::new(2, FdTarget::Pipe { ino: 4 }),
        FdEntry::new(
            3,
            FdTarget::Unix {
                path: "/run/app.sock".into(),
            },
        ),
        FdEntry::new(4, FdTarget::Memfd { name: "jit".into() }),
        FdEntry::new(
            5,
            FdTarget::Directory {
                path: "/srv".into(),
            },
        ),
    ];
    StateSnapshot {
        ts: 0,
        processes: vec![
            process(1, 0, "systemd", Vec::new()),
            process(100, 1, "nginx", fds),
        ],
        ..StateSnapshot::default()
    }
}

/// Every field of every class, with each argument form it takes.
fn all_fields() -> Vec<(String, Field)> {
    let mut texts = Vec::new();
    for (_, name, _, arg, _) in FIELDS {
        match arg {
            ArgKind::None => texts.push(name.to_string()),
            ArgKind::Index => {
                texts.push(name.to_string());
                texts.extend((1..4).map(|i| format!("{name}[{i}]")));
            }
            ArgKind::Param => {
                texts.extend(["[0]", "[1]", "[2]", ".fd", ".name"].map(|a| format!("{name}{a}")))
            }
        }
    }
    texts
        .into_iter()
        .map(|text| {
            let field = compile_field(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
            (text, field)
        })
        .collect()
}

fn extract_all<'a>(fields: &[(String, Field)], ctx: &Ctx<'a>) -> Vec<Value<'a>> {
    fields.iter().map(|(_, f)| f.extract(ctx)).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn a_checkpoint_restores_every_field(
        ops in proptest::collection::vec(op(), 1..80),
        split in 0usize..80,
    ) {
        let fields = all_fields();
        let mut events: Vec<OwnedEvent> = ops.iter().map(to_event).collect();
        for (i, e) in events.iter_mut().enumerate() {
            e.ts = 1_000 + i as u64 * 10;
        }
        let split = split.min(events.len());
        let mut written = StateEngine::from_snapshot(&initial());
        for e in &events[..split] {
            written.update(&e.as_event());
        }
        let ts = split as u64;
        let checkpoint = written.snapshot(ts);
        let stored = StateSnapshot::from_cbor(&checkpoint.to_cbor()).unwrap();
        prop_assert_eq!(&stored, &checkpoint);
        let mut restored = StateEngine::from_snapshot(&stored);
        prop_assert_eq!(restored.snapshot(ts), checkpoint, "rebuilt from its snapshot");
        for (i, e) in events[split..].iter().enumerate() {
            let event = e.as_event();
            written.update(&event);
            restored.update(&event);
            let num = (split + i) as u64;
            let want = extract_all(&fields, &Ctx::new(&event, &written, num, 7));
            let got = extract_all(&fields, &Ctx::new(&event, &restored, num, 7));
            for ((name, _), (want, got)) in fields.iter().zip(want.iter().zip(&got)) {
                prop_assert_eq!(
                    want, got,
                    "{} differs on event {} ({:?}) after a checkpoint at {}",
                    name, split + i, ops[split + i], split
                );
            }
        }
    }
}
