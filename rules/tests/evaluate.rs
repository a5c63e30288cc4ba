//! Conditions compiled with macros and lists, evaluated on event sequences through the
//! state engine: each rule must fire on its attack and stay quiet on a near miss.

mod common;

use casefile_formats::event::{OwnedEvent, SockAddr};
use casefile_formats::state::{ByteString, ProcessEntry, StateSnapshot};
use casefile_rules::compile::{compile, Definitions, Filter};
use casefile_rules::condition::{parse, ListItem, Pos};
use casefile_rules::fields::Ctx;
use casefile_rules::state::StateEngine;
use common::*;

fn definitions() -> Definitions {
    let mut defs = Definitions::default();
    let list = |items: &[&str]| {
        items
            .iter()
            .map(|t| ListItem {
                text: t.to_string(),
                quoted: false,
                pos: Pos::default(),
            })
            .collect::<Vec<_>>()
    };
    defs.lists
        .insert("shell_binaries".into(), list(&["ash", "bash", "sh", "zsh"]));
    defs.lists.insert(
        "sensitive_file_names".into(),
        list(&["/etc/shadow", "/etc/sudoers"]),
    );
    defs.lists.insert(
        "all_sensitive".into(),
        list(&["sensitive_file_names", "/etc/pam.conf"]),
    );
    for (name, body) in [
        ("spawned_process", "evt.type in (execve, execveat) and evt.dir=<"),
        ("container", "container.id != host"),
        ("shell_procs", "proc.name in (shell_binaries)"),
        ("open_read", "evt.type in (open,openat,openat2) and evt.is_open_read=true and fd.typechar='f' and fd.num>=0"),
        ("open_file_failed", "evt.type in (open,openat,openat2) and fd.typechar='f' and fd.num=-1 and evt.res startswith E"),
    ] {
        defs.macros.insert(name.into(), parse(body).unwrap());
    }
    defs
}

fn filter(condition: &str) -> Filter {
    compile(&parse(condition).unwrap(), &definitions())
        .unwrap_or_else(|e| panic!("{condition}: {e}"))
}

/// Runs the events through a fresh engine; returns whether the filter fired on the last.
fn fires(filter: &Filter, events: &[OwnedEvent]) -> bool {
    let snapshot = StateSnapshot {
        processes: vec![ProcessEntry {
            pid: 100,
            ppid: 1,
            tids: vec![100],
            comm: ByteString::from("containerd-shim"),
            cwd: ByteString::from("/"),
            ..ProcessEntry::default()
        }],
        ..StateSnapshot::default()
    };
    let mut state = StateEngine::from_snapshot(&snapshot);
    let mut fired = false;
    for (num, owned) in events.iter().enumerate() {
        let event = owned.as_event();
        state.update(&event);
        let ctx = Ctx::new(&event, &state, num as u64, 0);
        let in_index = filter
            .event_types
            .as_ref()
            .is_none_or(|types| types.contains(&event.kind.0));
        fired = in_index && filter.matches(&ctx);
    }
    fired
}

const POD: &str = POD_CGROUP;

#[test]
fn terminal_shell_in_container() {
    let rule = filter("spawned_process and container and shell_procs and proc.tty != 0 and proc.aname[1] = containerd-shim");
    let fork = event(100, "procfork", 0, |a| {
        a.int(200).int(200).uint(0);
    });
    assert!(fires(
        &rule,
        &[
            fork.clone(),
            exec_with(200, "/bin/bash", &["bash", "-i"], POD, 34816, 0)
        ]
    ));
    // Near misses: the same shell on the host; another program in the container.
    assert!(!fires(
        &rule,
        &[
            fork.clone(),
            exec(200, "/bin/bash", &["bash"], "/user.slice")
        ]
    ));
    assert!(!fires(
        &rule,
        &[fork, exec(200, "/usr/bin/python3", &["python3"], POD)]
    ));
    assert_eq!(
        rule.event_types.as_ref().map(|t| t.len()),
        Some(2),
        "indexed by execve, execveat"
    );
}

#[test]
fn sensitive_files_read_through_nested_lists() {
    let rule = filter("open_read and fd.name in (all_sensitive) and not proc.name in (sshd)");
    let open = |path: &str, flags: u64, ret: i64| {
        event(100, "openat", ret, |a| {
            a.fd(-100)
                .str(path.as_bytes())
                .uint(flags)
                .uint(0)
                .uint(1)
                .uint(2);
        })
    };
    assert!(fires(&rule, &[open("/etc/shadow", 0, 3)]));
    assert!(
        fires(&rule, &[open("/etc/../etc/sudoers", 0, 3)]),
        "paths are resolved"
    );
    assert!(!fires(&rule, &[open("/etc/hosts", 0, 3)]));
    assert!(
        !fires(&rule, &[open("/etc/shadow", 1, 3)]),
        "write-only is not a read"
    );
    let failed = filter("open_file_failed and fd.name = /etc/shadow");
    assert!(fires(&failed, &[open("/etc/shadow", 0, -13)]));
    assert!(!fires(&failed, &[open("/etc/shadow", 0, 3)]));
}

#[test]
fn fileless_execution_and_ptrace_attach() {
    let fileless = filter("spawned_process and proc.is_exe_from_memfd = true");
    assert!(fires(
        &fileless,
        &[exec(100, "/proc/self/fd/3", &["x"], "/")]
    ));
    assert!(!fires(&fileless, &[exec(100, "/usr/bin/x", &["x"], "/")]));
    let ptrace = filter("evt.type=ptrace and evt.arg.request contains PTRACE_ATTACH");
    let call = |request: u64| {
        event(100, "ptrace", 0, |a| {
            a.int(request as i64).int(42).uint(0).uint(0);
        })
    };
    assert!(fires(&ptrace, &[call(16)]), "16 is PTRACE_ATTACH");
    assert!(!fires(&ptrace, &[call(0)]), "0 is PTRACE_TRACEME");
}

#[test]
fn metadata_service_contact_and_stdout_redirect_to_a_socket() {
    let imds =
        filter("evt.type = connect and fd.sip = 169.254.169.254 and fd.snet in (169.254.0.0/16)");
    let connect = |ip: [u8; 4]| {
        vec![
            event(100, "socket", 3, |a| {
                a.uint(2).uint(1).uint(0);
            }),
            event(100, "connect", 0, |a| {
                a.fd(3)
                    .sock(&SockAddr::Inet { addr: ip, port: 80 })
                    .sock(&SockAddr::Inet {
                        addr: [10, 0, 0, 5],
                        port: 41000,
                    });
            }),
        ]
    };
    assert!(fires(&imds, &connect([169, 254, 169, 254])));
    assert!(!fires(&imds, &connect([198, 51, 100, 1])));
    let redirect = filter(
        "evt.type in (dup, dup2, dup3) and evt.rawres in (0, 1, 2) and fd.type in (ipv4, ipv6)",
    );
    let mut events = connect([203, 0, 113, 5]);
    events.push(event(100, "dup2", 1, |a| {
        a.fd(3).fd(1);
    }));
    assert!(fires(&redirect, &events));
    let mut file = vec![event(100, "openat", 3, |a| {
        a.fd(-100).str(b"/tmp/log").uint(1).uint(0).uint(1).uint(2);
    })];
    file.push(event(100, "dup2", 1, |a| {
        a.fd(3).fd(1);
    }));
    assert!(
        !fires(&redirect, &file),
        "a file on stdout is not a network redirect"
    );
}

#[test]
fn load_time_errors_name_the_problem() {
    let defs = definitions();
    let err = |c: &str| compile(&parse(c).unwrap(), &defs).unwrap_err().message;
    assert!(err("proc.nmae = bash").contains("unknown field 'proc.nmae'"));
    assert!(err("spawned_proces").contains("unknown macro 'spawned_proces'"));
    assert!(err("proc.name in undefined_list").contains("undefined list 'undefined_list'"));
    assert!(err("proc.pid = bash").contains("type mismatch"));
    assert!(err("proc.name > 3").contains("type mismatch"));
    assert!(err("proc.name regex '('").contains("invalid regex"));
    assert!(err("proc.aname[x] = a").contains("must be a number"));
}
