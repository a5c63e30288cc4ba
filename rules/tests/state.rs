//! The state engine on hand-built event sequences: fork → exec → open → connect → dup
//! → close, ancestry, descriptors inherited across fork and exec, and the Falco rule
//! that removals wait one event.

use casefile_formats::event::{ArgsBuilder, EventKind, OwnedEvent, SockAddr};
use casefile_formats::schema::kind_by_name;
use casefile_formats::state::{ByteString, ProcessEntry, StateSnapshot};
use casefile_rules::state::{resolve_path, FdKind, Role, StateEngine};

struct Script {
    events: Vec<OwnedEvent>,
    ts: u64,
}

impl Script {
    fn new() -> Script {
        Script {
            events: Vec::new(),
            ts: 1_000,
        }
    }

    fn push(
        &mut self,
        pid: u32,
        kind: &str,
        ret: i64,
        build: impl FnOnce(&mut ArgsBuilder),
    ) -> &mut Self {
        let mut args = ArgsBuilder::new();
        build(&mut args);
        let kind = match kind {
            "procfork" => EventKind::FORK,
            "procexit" => EventKind::PROC_EXIT,
            name => kind_by_name(name).unwrap(),
        };
        self.ts += 10;
        self.events.push(OwnedEvent {
            ts: self.ts,
            cpu: 0,
            pid,
            tid: pid,
            kind,
            ret,
            args: args.finish(),
        });
        self
    }

    fn fork(&mut self, parent: u32, child: u32) -> &mut Self {
        self.push(parent, "procfork", 0, |a| {
            a.int(i64::from(child)).int(i64::from(child)).uint(0);
        })
    }

    fn exec(&mut self, pid: u32, path: &str, argv: &[&str]) -> &mut Self {
        self.exec_in(pid, path, argv, None)
    }

    /// An exec whose record carries the kernel's cwd (when `cwd` is given).
    fn exec_in(&mut self, pid: u32, path: &str, argv: &[&str], cwd: Option<&str>) -> &mut Self {
        let comm = path.rsplit('/').next().unwrap().to_string();
        self.push(pid, "execve", 0, |a| {
            a.str(path.as_bytes())
                .str(path.as_bytes())
                .str_list(argv.iter().map(|s| s.as_bytes()));
            match cwd {
                Some(cwd) => a.str(cwd.as_bytes()),
                None => a.absent(),
            };
            a.absent()
                .str(comm.as_bytes())
                .uint(1000)
                .uint(1000)
                .uint(1000)
                .uint(1000)
                .uint(1000)
                .absent()
                .absent()
                .absent()
                .str(b"/user.slice")
                .uint(0)
                .uint(42)
                .uint(0)
                .uint(0)
                .uint(0)
                .uint(0)
                .uint(0);
        })
    }
}

fn run(
    initial: StateSnapshot,
    script: &Script,
    mut check: impl FnMut(usize, &StateEngine),
) -> StateEngine {
    let mut engine = StateEngine::from_snapshot(&initial);
    for (i, e) in script.events.iter().enumerate() {
        engine.update(&e.as_event());
        check(i, &engine);
    }
    engine
}

fn shell_snapshot() -> StateSnapshot {
    let process = |pid, ppid, comm: &str| ProcessEntry {
        pid,
        ppid,
        tids: vec![pid],
        comm: ByteString::from(comm),
        exe: ByteString::from(comm),
        cwd: ByteString::from("/home/alice"),
        loginuid: 1000,
        ..ProcessEntry::default()
    };
    StateSnapshot {
        ts: 0,
        processes: vec![
            process(1, 0, "systemd"),
            process(900, 1, "sshd"),
            process(1000, 900, "bash"),
        ],
        ..StateSnapshot::default()
    }
}

#[test]
fn fork_exec_open_connect_dup_close() {
    let mut s = Script::new();
    s.fork(1000, 1001)
        .exec(
            1001,
            "/usr/bin/curl",
            &["curl", "-s", "http://198.51.100.7/x"],
        )
        .push(1001, "openat", 3, |a| {
            a.fd(-100)
                .str(b"notes/../secret.txt")
                .uint(0o2_000_001)
                .uint(0o644)
                .uint(1)
                .uint(7);
        })
        .push(1001, "socket", 4, |a| {
            a.uint(2).uint(1).uint(0);
        })
        .push(1001, "connect", 0, |a| {
            a.fd(4)
                .sock(&SockAddr::Inet {
                    addr: [198, 51, 100, 7],
                    port: 80,
                })
                .sock(&SockAddr::Inet {
                    addr: [10, 0, 0, 2],
                    port: 40000,
                });
        })
        .push(1001, "dup2", 1, |a| {
            a.fd(4).fd(1);
        })
        .push(1001, "close", 0, |a| {
            a.fd(4);
        })
        .push(1001, "write", 5, |a| {
            a.fd(1).uint(5).bytes(b"hello");
        });
    let engine = run(shell_snapshot(), &s, |i, engine| {
        let curl = engine.process(1001);
        match i {
            0 => {
                let curl = curl.expect("forked child");
                assert_eq!(curl.ppid, 1000);
                assert_eq!(curl.comm.as_bytes(), b"bash", "a fork is a copy until exec");
                assert_eq!(curl.cwd.as_bytes(), b"/home/alice");
            }
            1 => {
                let curl = curl.unwrap();
                assert_eq!(curl.comm.as_bytes(), b"curl");
                assert_eq!(curl.cmdline(), b"curl -s http://198.51.100.7/x");
                assert_eq!(curl.exe_ino, 42);
            }
            2 => {
                let fd = &curl.unwrap().fds[&3];
                assert_eq!(fd.name.as_bytes(), b"/home/alice/secret.txt");
                assert_eq!(fd.name_raw.as_bytes(), b"notes/../secret.txt");
                assert_eq!(fd.kind, FdKind::File);
                assert!(fd.cloexec);
            }
            4 => {
                let fd = &curl.unwrap().fds[&4];
                assert_eq!(fd.name.as_bytes(), b"10.0.0.2:40000->198.51.100.7:80");
                let socket = fd.socket.as_ref().unwrap();
                assert_eq!((socket.l4proto, socket.role), (6, Role::Client));
            }
            6 => {
                // The close is evaluated with fd 4 still present.
                assert!(curl.unwrap().fds.contains_key(&4));
            }
            7 => {
                let curl = curl.unwrap();
                assert!(!curl.fds.contains_key(&4), "closed one event later");
                assert_eq!(
                    curl.fds[&1].name.as_bytes(),
                    b"10.0.0.2:40000->198.51.100.7:80"
                );
                assert!(!curl.fds[&1].cloexec, "dup2 clears close-on-exec");
            }
            _ => {}
        }
    });
    let names: Vec<&[u8]> = engine.ancestors(1001).map(|p| p.comm.as_bytes()).collect();
    assert_eq!(names, [&b"bash"[..], b"sshd", b"systemd"]);
}

#[test]
fn exec_closes_close_on_exec_descriptors_and_children_inherit_the_rest() {
    let mut s = Script::new();
    s.push(1000, "openat", 3, |a| {
        a.fd(-100)
            .str(b"/var/log/app.log")
            .uint(0o2_000_002)
            .uint(0)
            .uint(1)
            .uint(2);
    })
    .push(1000, "openat", 4, |a| {
        a.fd(-100)
            .str(b"/etc/hosts")
            .uint(0)
            .uint(0)
            .uint(1)
            .uint(3);
    })
    .push(1000, "pipe2", 0, |a| {
        a.fd(5).fd(6).uint(777).uint(0);
    })
    .fork(1000, 1002)
    .exec(1002, "/bin/cat", &["cat"]);
    let engine = run(shell_snapshot(), &s, |_, _| {});
    let child = engine.process(1002).unwrap();
    let fds: Vec<i64> = child.fds.keys().copied().collect();
    assert_eq!(fds, [4, 5, 6], "fd 3 was O_CLOEXEC");
    assert_eq!(child.fds[&5].name.as_bytes(), b"pipe:[777]");
    assert_eq!(child.fds[&5].kind, FdKind::Pipe);
    let parent = engine.process(1000).unwrap();
    assert!(
        parent.fds.contains_key(&3),
        "the parent keeps its own descriptors"
    );
}

#[test]
fn paths_resolve_against_cwd_and_directory_descriptors() {
    let mut s = Script::new();
    s.push(1000, "chdir", 0, |a| {
        a.str(b"../bob/./work");
    })
    .push(1000, "openat", 7, |a| {
        a.fd(-100)
            .str(b"/srv")
            .uint(0o200_000)
            .uint(0)
            .uint(1)
            .uint(4);
    })
    .push(1000, "openat", 8, |a| {
        a.fd(7)
            .str(b"data/../app.db")
            .uint(2)
            .uint(0)
            .uint(1)
            .uint(5);
    })
    .push(1000, "open", 9, |a| {
        a.str(b"notes.txt").uint(0).uint(0).uint(1).uint(6);
    });
    let engine = run(shell_snapshot(), &s, |_, _| {});
    let bash = engine.process(1000).unwrap();
    assert_eq!(bash.cwd.as_bytes(), b"/home/bob/work");
    assert_eq!(bash.fds[&7].kind, FdKind::Directory);
    assert_eq!(bash.fds[&8].name.as_bytes(), b"/srv/app.db");
    assert_eq!(bash.fds[&9].name.as_bytes(), b"/home/bob/work/notes.txt");
    assert_eq!(resolve_path(b"/", b"../../x").as_bytes(), b"/x");
    assert_eq!(resolve_path(b"/a", b"").as_bytes(), b"/a");
}

#[test]
fn the_cwd_an_exec_record_carries_replaces_the_one_the_state_inherited() {
    let mut s = Script::new();
    // The snapshot says /home/alice; the child really runs in /srv/app (a chdir the
    // capture did not see), which the kernel reports at exec.
    s.fork(1000, 1001)
        .exec_in(1001, "/usr/bin/make", &["make"], Some("/srv/app"))
        .push(1001, "open", 5, |a| {
            a.str(b"Makefile").uint(0).uint(0).uint(1).uint(6);
        })
        .exec_in(1001, "/usr/bin/cc", &["cc"], None);
    let engine = run(shell_snapshot(), &s, |_, _| {});
    let child = engine.process(1001).unwrap();
    assert_eq!(child.fds[&5].name.as_bytes(), b"/srv/app/Makefile");
    assert_eq!(
        child.cwd.as_bytes(),
        b"/srv/app",
        "an exec without a cwd keeps it"
    );
    assert_eq!(engine.process(1000).unwrap().cwd.as_bytes(), b"/home/alice");
}

#[test]
fn accepted_connections_name_the_client_first_and_exits_wait_one_event() {
    let mut s = Script::new();
    s.push(900, "socket", 3, |a| {
        a.uint(2).uint(1).uint(6);
    })
    .push(900, "bind", 0, |a| {
        a.fd(3).sock(&SockAddr::Inet {
            addr: [0, 0, 0, 0],
            port: 22,
        });
    })
    .push(900, "accept4", 5, |a| {
        a.fd(3)
            .sock(&SockAddr::Inet {
                addr: [203, 0, 113, 9],
                port: 51000,
            })
            .sock(&SockAddr::Inet {
                addr: [10, 0, 0, 1],
                port: 22,
            })
            .uint(0);
    })
    .fork(1000, 1003)
    .push(1003, "procexit", 0, |a| {
        a.int(0).int(0).int(0).int(0);
    })
    .push(1000, "close", 0, |a| {
        a.fd(99);
    });
    let engine = run(shell_snapshot(), &s, |i, engine| {
        if i == 4 {
            assert!(
                !engine.process(1003).unwrap().exited,
                "procexit sees its process"
            );
        }
    });
    let sshd = engine.process(900).unwrap();
    let accepted = &sshd.fds[&5];
    assert_eq!(accepted.name.as_bytes(), b"203.0.113.9:51000->10.0.0.1:22");
    assert_eq!(accepted.socket.as_ref().unwrap().role, Role::Server);
    assert!(
        engine.process(1003).unwrap().exited,
        "gone after the next event"
    );
    assert!(engine.processes().all(|p| p.pid != 1003));
}

#[test]
fn snapshots_round_trip_through_the_engine() {
    let mut s = Script::new();
    s.fork(1000, 1001)
        .exec(1001, "/usr/bin/id", &["id", "-u"])
        .push(1001, "setuid", 0, |a| {
            a.uint(0);
        });
    let engine = run(shell_snapshot(), &s, |_, _| {});
    let snapshot = engine.snapshot(5_000);
    let again = StateEngine::from_snapshot(&snapshot).snapshot(5_000);
    assert_eq!(snapshot, again);
    let id = snapshot.processes.iter().find(|p| p.pid == 1001).unwrap();
    assert_eq!((id.uid, id.euid), (0, 0));
    assert_eq!(id.args, vec![ByteString::from("-u")]);
}

#[test]
fn a_non_blocking_connect_in_progress_names_its_socket() {
    let mut s = Script::new();
    s.fork(1000, 1001)
        .exec(1001, "/usr/bin/curl", &["curl", "http://169.254.169.254/"])
        .push(1001, "socket", 5, |a| {
            a.uint(2).uint(0o4001).uint(0);
        })
        .push(1001, "connect", -115, |a| {
            a.fd(5)
                .sock(&SockAddr::Inet {
                    addr: [169, 254, 169, 254],
                    port: 80,
                })
                .sock(&SockAddr::Inet {
                    addr: [10, 0, 0, 2],
                    port: 40001,
                });
        })
        .push(1001, "connect", -111, |a| {
            a.fd(6)
                .sock(&SockAddr::Inet {
                    addr: [203, 0, 113, 9],
                    port: 81,
                })
                .sock(&SockAddr::Inet {
                    addr: [10, 0, 0, 2],
                    port: 40002,
                });
        });
    let engine = run(shell_snapshot(), &s, |_, _| {});
    let curl = engine.process(1001).unwrap();
    assert_eq!(
        curl.fds[&5].name.as_bytes(),
        b"10.0.0.2:40001->169.254.169.254:80"
    );
    assert!(
        !curl.fds.contains_key(&6),
        "a refused connect leaves no socket behind"
    );
}
