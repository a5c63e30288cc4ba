//! Field extraction along fork → exec → open → connect → dup → close, with ancestors
//! and descriptors inherited across fork and dup.

mod common;

use casefile_formats::event::{OwnedEvent, SockAddr};
use casefile_formats::state::{ByteString, ProcessEntry, StateSnapshot, UserEntry};
use casefile_rules::compile::compile_field;
use casefile_rules::fields::{Ctx, Value};
use casefile_rules::output::value_text;
use casefile_rules::state::StateEngine;
use common::*;

/// Applies the events and returns the text of each field on the last one.
fn fields_after(events: &[OwnedEvent], names: &[&str]) -> Vec<String> {
    let process = |pid, ppid, comm: &str| ProcessEntry {
        pid,
        ppid,
        tids: vec![pid],
        comm: ByteString::from(comm),
        exe: ByteString::from(format!("/usr/sbin/{comm}").as_str()),
        exepath: ByteString::from(format!("/usr/sbin/{comm}").as_str()),
        cwd: ByteString::from("/srv"),
        uid: 33,
        euid: 33,
        loginuid: u32::MAX,
        ..ProcessEntry::default()
    };
    let snapshot = StateSnapshot {
        processes: vec![
            process(1, 0, "systemd"),
            process(10, 1, "nginx"),
            process(11, 10, "php-fpm"),
        ],
        users: vec![UserEntry {
            uid: 33,
            gid: 33,
            name: ByteString::from("www-data"),
            ..UserEntry::default()
        }],
        ..StateSnapshot::default()
    };
    let mut state = StateEngine::from_snapshot(&snapshot);
    for e in events {
        state.update(&e.as_event());
    }
    let last = events.last().unwrap().as_event();
    let ctx = Ctx::new(&last, &state, 9, 0);
    names
        .iter()
        .map(|name| {
            value_text(
                &compile_field(name)
                    .unwrap_or_else(|e| panic!("{name}: {e}"))
                    .extract(&ctx),
            )
        })
        .collect()
}

fn attack() -> Vec<OwnedEvent> {
    vec![
        fork(11, 20),
        exec(
            20,
            "/bin/sh",
            &["sh", "-c", "id"],
            "/system.slice/php.service",
        ),
        openat(20, "uploads/../cache/x.php", 0o101, 3),
        event(20, "socket", 4, |a| {
            a.uint(2).uint(1).uint(0);
        }),
        event(20, "connect", 0, |a| {
            a.fd(4)
                .sock(&SockAddr::Inet {
                    addr: [203, 0, 113, 9],
                    port: 4444,
                })
                .sock(&SockAddr::Inet {
                    addr: [10, 0, 0, 3],
                    port: 51234,
                });
        }),
        fork(20, 21),
        event(21, "dup2", 0, |a| {
            a.fd(4).fd(0);
        }),
    ]
}

#[test]
fn process_and_ancestor_fields() {
    let got = fields_after(
        &attack(),
        &[
            "proc.name",
            "proc.pname",
            "proc.aname[2]",
            "proc.aname[3]",
            "proc.apid[1]",
            "proc.cmdline",
            "proc.pcmdline",
            "proc.cwd",
            "user.name",
            "user.uid",
            "user.loginuid",
            "container.id",
            "thread.tid",
            "evt.type",
            "evt.res",
            "evt.num",
        ],
    );
    assert_eq!(
        got,
        // The exec set uid 0 and loginuid 0; the snapshot names no user 0.
        [
            "sh", "sh", "php-fpm", "nginx", "20", "sh -c id", "sh -c id", "/srv/", "<NA>", "0",
            "0", "host", "21", "dup2", "SUCCESS", "9"
        ]
    );
}

#[test]
fn descriptors_inherited_across_fork_and_dup() {
    let got = fields_after(
        &attack(),
        &[
            "fd.num",
            "fd.name",
            "fd.type",
            "fd.typechar",
            "fd.l4proto",
            "fd.sip",
            "fd.sport",
            "fd.cip",
            "fd.cport",
            "fd.lport",
            "fd.rport",
            "fd.connected",
            "fd.is_server",
            "fd.snet",
        ],
    );
    assert_eq!(
        got,
        [
            "0",
            "10.0.0.3:51234->203.0.113.9:4444",
            "ipv4",
            "4",
            "tcp",
            "203.0.113.9",
            "4444",
            "10.0.0.3",
            "51234",
            "51234",
            "4444",
            "true",
            "false",
            "203.0.113.9"
        ]
    );
    // The file opened before the fork, as its own event saw it.
    let open = &attack()[..3];
    let got = fields_after(
        open,
        &[
            "fd.name",
            "fd.nameraw",
            "fd.directory",
            "fd.filename",
            "evt.arg.flags",
            "evt.rawarg.flags",
            "evt.is_open_write",
            "evt.is_open_read",
            "evt.arg[1]",
            "evt.arg.name",
        ],
    );
    assert_eq!(
        got,
        [
            "/srv/cache/x.php",
            "uploads/../cache/x.php",
            "/srv/cache",
            "x.php",
            "O_WRONLY|O_CREAT",
            "65",
            "true",
            "false",
            "uploads/../cache/x.php",
            "uploads/../cache/x.php"
        ]
    );
}

#[test]
fn unknown_values_are_missing_not_empty() {
    let got = fields_after(
        &attack()[..2],
        &[
            "container.image.repository",
            "k8s.ns.name",
            "fd.name",
            "proc.is_exe_upper_layer",
            "proc.exe_ino",
        ],
    );
    assert_eq!(got, ["<NA>", "<NA>", "<NA>", "<NA>", "7"]);
    // An event whose process the state does not know: missing, not empty.
    let events = attack();
    let last = events[1].as_event();
    let state = StateEngine::new();
    let ctx = Ctx {
        event: &last,
        state: &state,
        process: None,
        fd: None,
        num: 0,
        boot_time_ns: 0,
    };
    assert_eq!(
        compile_field("proc.name").unwrap().extract(&ctx),
        Value::Missing
    );
}
