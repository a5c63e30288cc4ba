//! One scripted workload (files, network, setuid, a fileless exec, a process in a pod's
//! cgroup), recorded once and shared: each test checks one part of what was recorded.

use crate::common::*;
use casefile_formats::event::{Arg, EventKind, OwnedEvent, SockAddr};
use std::path::PathBuf;
use std::sync::OnceLock;

const FILE_OPS: &str = r#"
import os, sys
d = sys.argv[1]
fd = os.open(d + '/a.txt', os.O_CREAT | os.O_WRONLY, 0o644)
os.write(fd, b'casefile-data')
os.close(fd)
os.rename(d + '/a.txt', d + '/b.txt')
os.chmod(d + '/b.txt', 0o600)
os.unlink(d + '/b.txt')
"#;

const NET: &str = r#"
import socket, sys
srv = socket.socket()
srv.bind(('127.0.0.1', 0))
srv.listen(1)
cli = socket.create_connection(srv.getsockname())
conn, _ = srv.accept()
conn.sendall(b'hello')
cli.recv(5)
open(sys.argv[1], 'w').write('%d %d' % (srv.getsockname()[1], cli.getsockname()[1]))
"#;

const MEMFD: &str = r#"
import os
fd = os.memfd_create('payload', 0)
os.write(fd, open('/bin/true', 'rb').read())
os.execv('/proc/self/fd/%d' % fd, ['payload-run'])
"#;

/// What the recording left for the tests to look at.
struct Recorded {
    /// Kept for the files the workload wrote (the ports) and the capture.
    _dir: tempfile::TempDir,
    dir: PathBuf,
    capture: PathBuf,
    events: Vec<OwnedEvent>,
    container_id: String,
    pod_uid: String,
    cgroup: PathBuf,
}

/// The recording, made by the first test that asks for it; `None` where the recorder
/// cannot run.
fn recorded() -> Option<&'static Recorded> {
    static RECORDED: OnceLock<Option<Recorded>> = OnceLock::new();
    RECORDED
        .get_or_init(|| cannot_record().is_none().then(record))
        .as_ref()
}

fn record() -> Recorded {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let d = dir.display();
    std::fs::write(dir.join("files.py"), FILE_OPS).unwrap();
    std::fs::write(dir.join("net.py"), NET).unwrap();
    std::fs::write(dir.join("memfd.py"), MEMFD).unwrap();
    let container = FakeContainer::create();
    let script = format!(
        "/bin/echo casefile-marker-1 alpha beta\n\
         python3 {d}/files.py {d}\n\
         python3 {d}/net.py {d}/ports\n\
         python3 -c 'import os; os.setuid(65534)'\n\
         python3 {d}/memfd.py\n\
         sh -c 'echo $$ > {procs} && exec /bin/echo container-marker'\n",
        procs = container.cgroup.procs()
    );
    let capture = dir.join("workload.case");
    let events = record_events(&[], &capture, &["sh", "-c", &script]);
    // The container's process has exited: its cgroup can go.
    let cgroup = container.cgroup.path.clone();
    Recorded {
        _dir: tmp,
        dir,
        capture,
        events,
        container_id: container.container_id.clone(),
        pod_uid: container.pod_uid.clone(),
        cgroup,
    }
}

fn find<'a>(r: &'a Recorded, what: &str, pred: impl Fn(&OwnedEvent) -> bool) -> &'a OwnedEvent {
    r.events
        .iter()
        .find(|e| pred(e))
        .unwrap_or_else(|| panic!("no {what} in the recording"))
}

#[test]
fn an_exec_has_its_argv_exepath_and_its_parent_by_fork() {
    require_recorder!();
    let r = recorded().unwrap();
    let execve = kind("execve");
    let echo = find(r, "execve of /bin/echo with its argv", |e| {
        e.kind == execve && argv(e) == [&b"/bin/echo"[..], b"casefile-marker-1", b"alpha", b"beta"]
    });
    assert_eq!(echo.ret, 0);
    assert_eq!(str_arg(echo, "filename"), Some(&b"/bin/echo"[..]));
    // The kernel's path of the file run: /bin may be a symlink to /usr/bin.
    let echo_path = std::fs::canonicalize("/bin/echo").unwrap();
    assert_eq!(str_arg(echo, "exepath"), Some(bytes(&echo_path)), "exepath");
    let fork = find(r, "procfork of the echo process", |e| {
        e.kind == EventKind::FORK && has_arg(e, "child_pid", Arg::Int(i64::from(echo.pid)))
    });
    let parent = find(r, "execve of the parent shell", |e| {
        e.kind == execve && e.pid == fork.pid && e.ret == 0
    });
    let parent_argv = argv(parent);
    assert_eq!(parent_argv[0], b"sh");
    assert_eq!(parent_argv[1], b"-c");
}

#[test]
fn file_operations_have_their_paths_flags_and_data() {
    require_recorder!();
    let r = recorded().unwrap();
    let a_txt = format!("{}/a.txt", r.dir.display()).into_bytes();
    let b_txt = format!("{}/b.txt", r.dir.display()).into_bytes();
    let open = find(r, "openat of a.txt", |e| {
        e.kind == kind("openat") && str_arg(e, "name") == Some(&a_txt[..])
    });
    let flags = uint_arg(open, "flags").expect("openat flags");
    assert_eq!(flags & 0o3, 0o1, "O_WRONLY");
    assert_ne!(flags & 0o100, 0, "O_CREAT");
    assert!(open.ret >= 0);
    let write = find(r, "write on the opened fd", |e| {
        e.kind == kind("write") && e.pid == open.pid && arg(e, "fd") == Arg::Fd(open.ret)
    });
    assert_eq!(arg(write, "data"), Arg::Bytes(b"casefile-data"));
    assert_eq!(write.ret, 13);
    let rename = find(r, "rename a.txt → b.txt", |e| {
        matches!(kind_name(e), "rename" | "renameat" | "renameat2")
            && str_arg(e, "oldpath") == Some(&a_txt[..])
    });
    assert_eq!(rename.ret, 0);
    assert_eq!(str_arg(rename, "newpath"), Some(&b_txt[..]));
    let chmod = find(r, "chmod b.txt", |e| {
        matches!(kind_name(e), "chmod" | "fchmodat") && str_arg(e, "filename") == Some(&b_txt[..])
    });
    assert_eq!(arg(chmod, "mode"), Arg::Uint(0o600));
    find(r, "unlink of b.txt", |e| {
        (e.kind == kind("unlink") && str_arg(e, "path") == Some(&b_txt[..]))
            || (e.kind == kind("unlinkat") && str_arg(e, "name") == Some(&b_txt[..]))
    });
}

fn kind_name(e: &OwnedEvent) -> &'static str {
    casefile_formats::schema::kind_info(e.kind).name
}

#[test]
fn a_connect_and_its_accept_have_both_ends() {
    require_recorder!();
    let r = recorded().unwrap();
    let ports = std::fs::read_to_string(r.dir.join("ports")).unwrap();
    let (server_port, client_port) = ports
        .split_once(' ')
        .map(|(s, c)| (s.parse::<u16>().unwrap(), c.parse::<u16>().unwrap()))
        .unwrap();
    let server = Arg::Sock(SockAddr::Inet {
        addr: [127, 0, 0, 1],
        port: server_port,
    });
    let client = Arg::Sock(SockAddr::Inet {
        addr: [127, 0, 0, 1],
        port: client_port,
    });
    let connect = find(r, "connect to the listening port", |e| {
        e.kind == kind("connect") && arg(e, "addr") == server
    });
    assert!(
        connect.ret == 0 || connect.ret == -115,
        "ret {}",
        connect.ret
    );
    assert_eq!(arg(connect, "local"), client, "local end of the connect");
    let accept = find(r, "accept of the client", |e| {
        matches!(kind_name(e), "accept" | "accept4") && arg(e, "addr") == client
    });
    assert!(accept.ret >= 0);
    assert_eq!(arg(accept, "local"), server);
}

#[test]
fn setuid_is_recorded_in_the_child_that_called_it() {
    require_recorder!();
    let r = recorded().unwrap();
    let setuid = find(r, "setuid(65534)", |e| {
        e.kind == kind("setuid") && arg(e, "uid") == Arg::Uint(65534)
    });
    assert_eq!(setuid.ret, 0);
    let shell = find(r, "the script's shell", |e| {
        e.kind == kind("execve") && argv(e).first().is_some_and(|a| a == b"sh")
    });
    assert_ne!(setuid.pid, shell.pid);
}

#[test]
fn a_fileless_exec_of_a_memfd_is_marked() {
    require_recorder!();
    let r = recorded().unwrap();
    let memfd = find(r, "memfd_create", |e| {
        e.kind == kind("memfd_create") && str_arg(e, "name") == Some(&b"payload"[..])
    });
    let fd_path = format!("/proc/self/fd/{}", memfd.ret).into_bytes();
    let fileless = find(r, "execve of the memfd", |e| {
        e.kind == kind("execve")
            && e.pid == memfd.pid
            && str_arg(e, "filename") == Some(&fd_path[..])
    });
    assert_eq!(fileless.ret, 0);
    assert_eq!(
        str_arg(fileless, "exepath"),
        Some(&b"/memfd:payload (deleted)"[..])
    );
    assert_eq!(
        arg(fileless, "flags"),
        Arg::Uint(casefile_capture::decode::EXE_FROM_MEMFD)
    );
}

#[test]
fn a_process_in_a_pod_cgroup_gets_its_container_and_pod() {
    require_recorder!();
    let r = recorded().unwrap();
    let in_container = find(r, "execve inside the container cgroup", |e| {
        e.kind == kind("execve")
            && argv(e).first().is_some_and(|a| a == b"/bin/echo")
            && argv(e).get(1).is_some_and(|a| a == b"container-marker")
    });
    let cgroup = str_arg(in_container, "cgroup").expect("cgroup path");
    assert!(
        r.cgroup.as_os_str().as_encoded_bytes().ends_with(cgroup),
        "{} is below the cgroup2 mount",
        String::from_utf8_lossy(cgroup)
    );
    let found = casefile_rules::state::container::from_cgroup(cgroup).expect("a container cgroup");
    assert_eq!(found.id, r.container_id);
    assert_eq!(found.pod_uid, r.pod_uid);
}

#[test]
fn the_kernel_count_equals_what_the_file_holds() {
    require_recorder!();
    let r = recorded().unwrap();
    let a = kernel_accounting(&r.events);
    assert_eq!(a.kernel_sent, a.in_file, "kernel_sent = events in the file");
    assert_eq!(
        a.kernel_drops, a.drops_in_file,
        "kernel_drops = drops events"
    );
}

#[test]
fn cat_tells_the_story() {
    require_recorder!();
    let r = recorded().unwrap();
    let cat = casefile().arg("cat").arg(&r.capture).output().unwrap();
    assert_success(&cat, "cat");
    let text = String::from_utf8_lossy(&cat.stdout);
    for needle in [
        "casefile-marker-1",
        "a.txt",
        "payload",
        "setuid",
        "container-marker",
    ] {
        assert!(text.contains(needle), "cat output lacks {needle}");
    }
    // The command and everything it ran were forked in the capture: none is unknown.
    assert!(!text.contains("<unknown pid"), "{text}");
}
