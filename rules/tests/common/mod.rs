//! Hand-built events for the rules tests.
#![allow(dead_code)]

use casefile_formats::event::{ArgsBuilder, EventKind, OwnedEvent};
use casefile_formats::schema::kind_by_name;

pub const POD_CGROUP: &str = "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1b2c3d4e_5f60_4a1b_8c2d_3e4f5a6b7c8d.slice/cri-containerd-4f1c2a9b8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a3928170695e4d3.scope";

pub fn event(pid: u32, kind: &str, ret: i64, build: impl FnOnce(&mut ArgsBuilder)) -> OwnedEvent {
    let mut args = ArgsBuilder::new();
    build(&mut args);
    let kind = match kind {
        "procfork" => EventKind::FORK,
        "procexit" => EventKind::PROC_EXIT,
        name => kind_by_name(name).unwrap_or_else(|| panic!("no kind {name}")),
    };
    OwnedEvent {
        ts: 1_000,
        cpu: 0,
        pid,
        tid: pid,
        kind,
        ret,
        args: args.finish(),
    }
}

pub fn fork(parent: u32, child: u32) -> OwnedEvent {
    event(parent, "procfork", 0, |a| {
        a.int(i64::from(child)).int(i64::from(child)).uint(0);
    })
}

/// A successful execve in the casefile layout; `/proc/self/fd/N` paths run from a memfd.
pub fn exec(pid: u32, path: &str, argv: &[&str], cgroup: &str) -> OwnedEvent {
    exec_with(pid, path, argv, cgroup, 0, 0)
}

pub fn exec_with(
    pid: u32,
    path: &str,
    argv: &[&str],
    cgroup: &str,
    tty: u64,
    caps: u64,
) -> OwnedEvent {
    let comm = path.rsplit('/').next().unwrap_or(path).to_string();
    let memfd = path.starts_with("/proc/self/fd");
    let exepath = if memfd {
        "/memfd:payload (deleted)".to_string()
    } else {
        path.to_string()
    };
    event(pid, "execve", 0, |a| {
        a.str(path.as_bytes())
            .str(exepath.as_bytes())
            .str_list(argv.iter().map(|s| s.as_bytes()))
            .absent()
            .absent()
            .str(comm.as_bytes());
        for _ in 0..5 {
            a.uint(0);
        }
        a.uint(tty)
            .absent()
            .absent()
            .str(cgroup.as_bytes())
            .uint(if memfd { 4 } else { 0 });
        a.uint(7).uint(0).uint(0).uint(caps).uint(caps).uint(caps);
    })
}

pub fn openat(pid: u32, path: &str, flags: u64, ret: i64) -> OwnedEvent {
    event(pid, "openat", ret, |a| {
        a.fd(-100)
            .str(path.as_bytes())
            .uint(flags)
            .uint(0o644)
            .uint(1)
            .uint(2);
    })
}
