//! End-to-end tests of `casefile record` on this machine's kernel: they load the real
//! eBPF programs, so they need root and BTF. Elsewhere each test says it is skipped.

use casefile_formats::event::{Arg, EventKind, OwnedEvent, SockAddr};
use casefile_formats::reader::CaptureReader;
use casefile_formats::schema::kind_by_name;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::Command;

fn casefile() -> Command {
    Command::new(env!("CARGO_BIN_EXE_casefile"))
}

/// Runs `casefile record --quiet OPTIONS -o OUTPUT -- COMMAND` to its end.
fn record_command(options: &[&str], output: &Path, command: &[&str]) -> std::process::Output {
    casefile()
        .args(["record", "--quiet"])
        .args(options)
        .arg("-o")
        .arg(output)
        .arg("--")
        .args(command)
        .output()
        .unwrap()
}

/// Records `command` with `options`, asserts the recorder succeeded, and reads the
/// capture's events.
fn record_events(options: &[&str], capture: &Path, command: &[&str]) -> Vec<OwnedEvent> {
    let out = record_command(options, capture, command);
    assert!(
        out.status.success(),
        "record failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    read_events(capture)
}

/// Why this machine cannot run the recorder, if it cannot.
fn cannot_record() -> Option<&'static str> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("needs root");
    }
    if !Path::new("/sys/kernel/btf/vmlinux").exists() {
        return Some("needs a kernel with BTF");
    }
    None
}

macro_rules! require_recorder {
    () => {
        if let Some(why) = cannot_record() {
            eprintln!(
                "SKIPPED {}: {why} (eBPF recording tests run as root)",
                module_path!()
            );
            return;
        }
    };
}

fn read_events(path: &Path) -> Vec<OwnedEvent> {
    let reader = CaptureReader::open(path).expect("open capture");
    let mut events = Vec::new();
    let report = reader.for_each_event(0, u64::MAX, |e| {
        events.push(e.to_owned_event());
        ControlFlow::Continue(())
    });
    assert!(report.corrupt_blocks.is_empty(), "{report:?}");
    events
}

fn kind(name: &str) -> EventKind {
    kind_by_name(name).unwrap_or_else(|| panic!("no kind {name}"))
}

fn args(e: &OwnedEvent) -> Vec<Arg<'_>> {
    e.as_event().args.iter().collect()
}

fn str_arg(e: &OwnedEvent, index: usize) -> Option<&[u8]> {
    match e.as_event().args.get(index)? {
        Arg::Str(s) => Some(s),
        _ => None,
    }
}

fn argv(e: &OwnedEvent, index: usize) -> Vec<Vec<u8>> {
    match e.as_event().args.get(index) {
        Some(Arg::StrList(list)) => list.iter().map(<[u8]>::to_vec).collect(),
        _ => Vec::new(),
    }
}

/// A cgroup v2 directory shaped like a Kubernetes pod's container, removed on drop
/// (only the levels this test created).
struct FakeContainer {
    created: Vec<PathBuf>,
    leaf: PathBuf,
    container_id: String,
    pod_uid: String,
}

impl FakeContainer {
    fn create() -> FakeContainer {
        let root = casefile_capture::cgroups::cgroup2_mount().expect("cgroup2 is mounted");
        let pod_uid = format!("1b2c3d4e-5f60-4a1b-8c2d-{:012x}", std::process::id());
        let container_id = format!("{:064x}", 0xcafe_0000_u64 + u64::from(std::process::id()));
        let relative = format!(
            "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{}.slice/cri-containerd-{container_id}.scope",
            pod_uid.replace('-', "_")
        );
        let mut created = Vec::new();
        let mut dir = root.clone();
        for part in relative.split('/') {
            dir.push(part);
            if !dir.exists() {
                std::fs::create_dir(&dir).expect("create test cgroup");
                created.push(dir.clone());
            }
        }
        FakeContainer {
            created,
            leaf: dir,
            container_id,
            pod_uid,
        }
    }
}

impl Drop for FakeContainer {
    fn drop(&mut self) {
        for dir in self.created.iter().rev() {
            if let Err(e) = std::fs::remove_dir(dir) {
                eprintln!(
                    "warning: could not remove test cgroup {}: {e}",
                    dir.display()
                );
            }
        }
    }
}

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

#[test]
fn a_scripted_workload_is_recorded_with_arguments_lineage_and_containers() {
    require_recorder!();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("files.py"), FILE_OPS).unwrap();
    std::fs::write(d.join("net.py"), NET).unwrap();
    std::fs::write(d.join("memfd.py"), MEMFD).unwrap();
    let container = FakeContainer::create();
    let script = format!(
        "/bin/echo casefile-marker-1 alpha beta\n\
         python3 {d}/files.py {d}\n\
         python3 {d}/net.py {d}/ports\n\
         python3 -c 'import os; os.setuid(65534)'\n\
         python3 {d}/memfd.py\n\
         sh -c 'echo $$ > {cg}/cgroup.procs && exec /bin/echo container-marker'\n",
        d = d.display(),
        cg = container.leaf.display()
    );
    let capture = d.join("workload.case");
    let events = record_events(&[], &capture, &["sh", "-c", &script]);
    let execve = kind("execve");

    // Process tree: sh -c SCRIPT → /bin/echo with its argv, child of the sh.
    let echo = events
        .iter()
        .find(|e| {
            e.kind == execve
                && argv(e, 2) == [&b"/bin/echo"[..], b"casefile-marker-1", b"alpha", b"beta"]
        })
        .expect("execve of /bin/echo with its argv");
    assert_eq!(echo.ret, 0);
    assert_eq!(str_arg(echo, 0), Some(&b"/bin/echo"[..]));
    // The kernel's path of the file run: /bin may be a symlink to /usr/bin.
    let echo_path = std::fs::canonicalize("/bin/echo").unwrap();
    assert_eq!(
        str_arg(echo, 1),
        Some(echo_path.as_os_str().as_encoded_bytes()),
        "exepath"
    );
    let fork = events
        .iter()
        .find(|e| {
            e.kind == EventKind::FORK && args(e).first() == Some(&Arg::Int(i64::from(echo.pid)))
        })
        .expect("procfork of the echo process");
    let parent = events
        .iter()
        .find(|e| e.kind == execve && e.pid == fork.pid && e.ret == 0)
        .expect("execve of the parent shell");
    let parent_argv = argv(parent, 2);
    assert_eq!(parent_argv[0], b"sh");
    assert_eq!(parent_argv[1], b"-c");

    // Files: open with O_CREAT|O_WRONLY, write on that fd, rename, chmod, unlink.
    let a_txt = format!("{}/a.txt", d.display()).into_bytes();
    let b_txt = format!("{}/b.txt", d.display()).into_bytes();
    let open = events
        .iter()
        .find(|e| e.kind == kind("openat") && str_arg(e, 1) == Some(&a_txt[..]))
        .expect("openat of a.txt");
    let Some(Arg::Uint(flags)) = open.as_event().args.get(2) else {
        panic!("openat flags")
    };
    assert_eq!(flags & 0o3, 0o1, "O_WRONLY");
    assert_ne!(flags & 0o100, 0, "O_CREAT");
    assert!(open.ret >= 0);
    let write = events
        .iter()
        .find(|e| e.kind == kind("write") && e.pid == open.pid && args(e)[0] == Arg::Fd(open.ret))
        .expect("write on the opened fd");
    assert_eq!(args(write)[2], Arg::Bytes(b"casefile-data"));
    assert_eq!(write.ret, 13);
    let rename = events
        .iter()
        .find(|e| {
            (e.kind == kind("rename") && str_arg(e, 0) == Some(&a_txt[..]))
                || (e.kind == kind("renameat2") && str_arg(e, 1) == Some(&a_txt[..]))
        })
        .expect("rename a.txt → b.txt");
    assert_eq!(rename.ret, 0);
    assert!(args(rename).contains(&Arg::Str(&b_txt)));
    let chmod = events
        .iter()
        .find(|e| {
            (e.kind == kind("chmod") && str_arg(e, 0) == Some(&b_txt[..]))
                || (e.kind == kind("fchmodat") && str_arg(e, 1) == Some(&b_txt[..]))
        })
        .expect("chmod b.txt");
    assert!(args(chmod).contains(&Arg::Uint(0o600)));
    assert!(events.iter().any(|e| {
        (e.kind == kind("unlink") && str_arg(e, 0) == Some(&b_txt[..]))
            || (e.kind == kind("unlinkat") && str_arg(e, 1) == Some(&b_txt[..]))
    }));

    // Network: the connect and the accept on the other side, with both ends.
    let ports = std::fs::read_to_string(d.join("ports")).unwrap();
    let (server_port, client_port) = ports
        .split_once(' ')
        .map(|(s, c)| (s.parse::<u16>().unwrap(), c.parse::<u16>().unwrap()))
        .unwrap();
    let server = SockAddr::Inet {
        addr: [127, 0, 0, 1],
        port: server_port,
    };
    let client = SockAddr::Inet {
        addr: [127, 0, 0, 1],
        port: client_port,
    };
    let connect = events
        .iter()
        .find(|e| e.kind == kind("connect") && args(e).get(1) == Some(&Arg::Sock(server)))
        .expect("connect to the listening port");
    assert!(
        connect.ret == 0 || connect.ret == -115,
        "ret {}",
        connect.ret
    );
    assert_eq!(
        args(connect)[2],
        Arg::Sock(client),
        "local end of the connect"
    );
    let accept = events
        .iter()
        .find(|e| {
            (e.kind == kind("accept4") || e.kind == kind("accept"))
                && args(e).get(1) == Some(&Arg::Sock(client))
        })
        .expect("accept of the client");
    assert!(accept.ret >= 0);
    assert_eq!(args(accept)[2], Arg::Sock(server));

    // setuid to nobody, in a child of the shell.
    let setuid = events
        .iter()
        .find(|e| e.kind == kind("setuid") && args(e)[0] == Arg::Uint(65534))
        .expect("setuid(65534)");
    assert_eq!(setuid.ret, 0);
    assert_ne!(setuid.pid, parent.pid);

    // Fileless execution: memfd_create, then execve of /proc/self/fd/N.
    let memfd = events
        .iter()
        .find(|e| e.kind == kind("memfd_create") && str_arg(e, 0) == Some(&b"payload"[..]))
        .expect("memfd_create");
    let fd_path = format!("/proc/self/fd/{}", memfd.ret).into_bytes();
    let fileless = events
        .iter()
        .find(|e| e.kind == execve && e.pid == memfd.pid && str_arg(e, 0) == Some(&fd_path[..]))
        .expect("execve of the memfd");
    assert_eq!(fileless.ret, 0);
    assert_eq!(str_arg(fileless, 1), Some(&b"/memfd:payload (deleted)"[..]));
    assert_eq!(
        args(fileless)[15],
        Arg::Uint(casefile_capture::decode::EXE_FROM_MEMFD)
    );

    // The process in the pod's cgroup gets its container id and pod uid.
    let in_container = events
        .iter()
        .find(|e| {
            e.kind == execve
                && argv(e, 2).first().is_some_and(|a| a == b"/bin/echo")
                && argv(e, 2).get(1).is_some_and(|a| a == b"container-marker")
        })
        .expect("execve inside the container cgroup");
    let cgroup = str_arg(in_container, 14).expect("cgroup path");
    let found = casefile_rules::state::container::from_cgroup(cgroup).expect("a container cgroup");
    assert_eq!(found.id, container.container_id);
    assert_eq!(found.pod_uid, container.pod_uid);

    // The kernel side's own count equals what the file holds, plus recorded drops.
    let (sent, in_file, kernel_drops, drops_in_file) = kernel_accounting(&events);
    assert_eq!(sent, in_file, "kernel_sent = events in the file");
    assert_eq!(kernel_drops, drops_in_file, "kernel_drops = drops events");

    // `casefile cat` tells the story.
    let cat = casefile().arg("cat").arg(&capture).output().unwrap();
    assert!(cat.status.success());
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
}

/// A bind mount of `source` on `target`, undone on drop.
struct BindMount(PathBuf);

impl BindMount {
    fn new(source: &Path, target: &Path) -> BindMount {
        std::fs::create_dir_all(target).unwrap();
        let status = Command::new("mount")
            .arg("--bind")
            .arg(source)
            .arg(target)
            .status()
            .unwrap();
        assert!(status.success(), "mount --bind {}", target.display());
        BindMount(target.to_path_buf())
    }
}

impl Drop for BindMount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn bytes(path: &Path) -> &[u8] {
    path.as_os_str().as_encoded_bytes()
}

#[test]
fn exec_paths_and_the_working_directory_come_from_the_kernel() {
    require_recorder!();
    let dir = tempfile::tempdir().unwrap();
    let d = std::fs::canonicalize(dir.path()).unwrap();
    let env = std::fs::canonicalize("/usr/bin/env").unwrap();
    let true_ = std::fs::canonicalize("/bin/true").unwrap();
    // A symlink to env, and /usr/bin seen through a bind mount in the test directory.
    std::os::unix::fs::symlink(&env, d.join("link-to-env")).unwrap();
    let bound = d.join("bound bin");
    let _bind = BindMount::new(env.parent().unwrap(), &bound);
    let work = d.join("work dir");
    std::fs::create_dir(&work).unwrap();
    // Each env execs its argument at once in the same process, so by the time anything
    // could read /proc/PID/exe it shows the next program, or the process is gone.
    let script = format!(
        "'{d}/link-to-env' true marker-symlink\n\
         '{bound}/env' '{bound}/true' marker-bind\n\
         cd '{work}' && exec /bin/true marker-cwd\n",
        d = d.display(),
        bound = bound.display(),
        work = work.display(),
    );
    let capture = d.join("paths.case");
    let events = record_events(&[], &capture, &["sh", "-c", &script]);
    let exec_with = |argv0: &[u8], marker: &[u8]| {
        events
            .iter()
            .find(|e| {
                e.kind == kind("execve")
                    && e.ret == 0
                    && argv(e, 2).first().is_some_and(|a| a == argv0)
                    && argv(e, 2).last().is_some_and(|a| a == marker)
            })
            .unwrap_or_else(|| panic!("execve of {}", String::from_utf8_lossy(argv0)))
    };
    // Through the symlink: the file it names, not the link, nor what runs next.
    let link = d.join("link-to-env");
    let via_link = exec_with(bytes(&link), b"marker-symlink");
    assert_eq!(
        str_arg(via_link, 1),
        Some(bytes(&env)),
        "exepath via a symlink"
    );
    let then_true = exec_with(b"true", b"marker-symlink");
    assert_eq!(then_true.pid, via_link.pid);
    assert_eq!(str_arg(then_true, 1), Some(bytes(&true_)));
    // Through the bind mount: the path on the mount the process used.
    let bound_env = bound.join("env");
    let via_bind = exec_with(bytes(&bound_env), b"marker-bind");
    assert_eq!(
        str_arg(via_bind, 1),
        Some(bytes(&bound_env)),
        "exepath via a bind mount"
    );
    let bound_true = bound.join("true");
    let then_true = exec_with(bytes(&bound_true), b"marker-bind");
    assert_eq!(str_arg(then_true, 1), Some(bytes(&bound_true)));
    // The working directory at exec.
    let in_work = exec_with(b"/bin/true", b"marker-cwd");
    assert_eq!(str_arg(in_work, 3), Some(bytes(&work)), "cwd");
    // Every exec of the recording has an absolute exepath and cwd.
    for e in events
        .iter()
        .filter(|e| e.kind == kind("execve") && e.ret == 0)
    {
        assert!(str_arg(e, 1).is_some_and(|p| p.starts_with(b"/")), "{e:?}");
        assert!(str_arg(e, 3).is_some_and(|p| p.starts_with(b"/")), "{e:?}");
    }
}

const IDS: &str = r#"
import os, sys
fields = open('/proc/self/stat').read().rsplit(')', 1)[1].split()
# state ppid pgrp session tty_nr
open(sys.argv[1], 'w').write('%s %s %s' % (fields[2], fields[3], fields[4]))
"#;

#[test]
fn session_process_group_and_tty_match_proc() {
    require_recorder!();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("ids.py"), IDS).unwrap();
    // setsid gives the python a session and process group of its own, not the shell's.
    // (A python found on PATH may be a wrapper script that runs it later.)
    let script = format!(
        "/usr/bin/python3 {d}/ids.py {d}/plain\n\
         setsid /usr/bin/python3 {d}/ids.py {d}/own-session\n\
         script -qec '/usr/bin/python3 {d}/ids.py {d}/on-a-pty' /dev/null\n",
        d = d.display()
    );
    let capture = d.join("ids.case");
    let events = record_events(&[], &capture, &["sh", "-c", &script]);
    // script(1) runs it on a pseudo-terminal of its own, when script is installed.
    let has_script = Command::new("sh")
        .args(["-c", "command -v script"])
        .output()
        .is_ok_and(|o| o.status.success());
    let names: &[&str] = if has_script {
        &["plain", "own-session", "on-a-pty"]
    } else {
        &["plain", "own-session"]
    };
    for &name in names {
        let out_file = d.join(name);
        let proc_ids: Vec<u64> = std::fs::read_to_string(&out_file)
            .unwrap()
            .split(' ')
            .map(|f| f.parse().unwrap())
            .collect();
        let exec = events
            .iter()
            .find(|e| {
                e.kind == kind("execve")
                    && e.ret == 0
                    && argv(e, 2).first().is_some_and(|a| a == b"/usr/bin/python3")
                    && argv(e, 2).last().is_some_and(|a| a == bytes(&out_file))
            })
            .expect("execve of python");
        let a = args(exec);
        assert_eq!(
            (a[13], a[12], a[11]),
            (
                Arg::Uint(proc_ids[0]),
                Arg::Uint(proc_ids[1]),
                Arg::Uint(proc_ids[2])
            ),
            "{name}: pgid, sid, tty as /proc/self/stat"
        );
        if name == "own-session" {
            assert_eq!(proc_ids[1], u64::from(exec.pid), "setsid: its own session");
        }
        if name == "on-a-pty" {
            assert_ne!(proc_ids[2], 0, "a controlling terminal");
        }
    }
}

#[test]
fn the_command_exit_code_is_passed_on() {
    require_recorder!();
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("exit.case");
    let out = record_command(&[], &capture, &["sh", "-c", "exit 7"]);
    assert_eq!(
        out.status.code(),
        Some(7),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reader = CaptureReader::open(&capture).unwrap();
    assert!(
        reader.trailer().is_some(),
        "a clean stop writes the trailer"
    );
    // Never overwrite a capture.
    let again = record_command(&[], &capture, &["true"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
}

#[test]
fn a_killed_recorder_leaves_a_readable_truncated_file() {
    require_recorder!();
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("killed.case");
    // A busy workload in its own process, recorded by pid.
    let mut busy = Command::new("sh")
        .args(["-c", "while :; do cat /etc/hostname > /dev/null; done"])
        .spawn()
        .unwrap();
    let mut recorder = casefile()
        .args(["record", "--quiet", "--pid"])
        .arg(busy.id().to_string())
        .arg("-o")
        .arg(&capture)
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2500));
    recorder.kill().unwrap(); // SIGKILL
    recorder.wait().unwrap();
    busy.kill().unwrap();
    busy.wait().unwrap();

    let events = read_events(&capture);
    assert!(
        events.iter().any(|e| e.kind == kind("openat")),
        "the blocks flushed before the kill are readable"
    );
    let info = casefile().arg("info").arg(&capture).output().unwrap();
    assert_eq!(
        info.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&info.stderr)
    );
    let text = String::from_utf8_lossy(&info.stdout);
    assert!(
        text.contains("truncated: the recorder did not finish"),
        "{text}"
    );
    let json = casefile()
        .args(["info", "--json"])
        .arg(&capture)
        .output()
        .unwrap();
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(value["trailer"], false);
    assert!(value["events"].as_u64().unwrap() > 0);
}

/// Sums of what the kernel said it sent and dropped (from `capture_stop`), and what the
/// file holds.
fn kernel_accounting(events: &[OwnedEvent]) -> (u64, u64, u64, u64) {
    let meta = [
        EventKind::CAPTURE_START,
        EventKind::CAPTURE_STOP,
        EventKind::DROPS,
    ];
    let in_file = events.iter().filter(|e| !meta.contains(&e.kind)).count() as u64;
    let drops_in_file: u64 = events
        .iter()
        .filter(|e| e.kind == EventKind::DROPS)
        .map(|e| match args(e)[1] {
            Arg::Uint(n) => n,
            _ => 0,
        })
        .sum();
    let stop = events
        .iter()
        .find(|e| e.kind == EventKind::CAPTURE_STOP)
        .expect("capture_stop");
    let uint = |i: usize| match args(stop)[i] {
        Arg::Uint(n) => n,
        _ => panic!("capture_stop argument {i}"),
    };
    (uint(1), in_file, uint(2), drops_in_file)
}

#[test]
fn drops_from_a_full_ring_are_counted_and_written_down() {
    require_recorder!();
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("drops.case");
    // A one-page ring cannot hold a burst of 200k syscalls between two drains.
    let events = record_events(
        &["--ring-size", "4k", "--syscalls", "all"],
        &capture,
        &[
            "dd",
            "if=/dev/zero",
            "of=/dev/null",
            "bs=1",
            "count=100000",
            "status=none",
        ],
    );
    let (sent, in_file, kernel_drops, drops_in_file) = kernel_accounting(&events);
    assert_eq!(sent, in_file, "every delivered record is in the file");
    assert!(kernel_drops > 0, "a 4 KiB ring must overflow");
    assert_eq!(kernel_drops, drops_in_file, "every drop is written down");
    assert_eq!(sent + kernel_drops, in_file + drops_in_file);
    // The drops are attributed to the syscalls that lost records.
    let read_nr = kind("read").0 as u64;
    assert!(events.iter().any(|e| e.kind == EventKind::DROPS
        && matches!(args(e)[2], Arg::Uint(nr) if nr == read_nr || nr == read_nr + 1)));
    let info = casefile()
        .args(["info", "--json"])
        .arg(&capture)
        .output()
        .unwrap();
    let value: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!(value["drops"].as_u64(), Some(kernel_drops));
}

#[test]
fn rotation_keeps_the_newest_complete_files() {
    require_recorder!();
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("ring.case");
    // Random buffer snapshots do not compress: ~30 KB of capture per round.
    let out = record_command(&["--rotate", "64k", "--keep", "2"], &base, &["sh", "-c", "for i in $(seq 14); do dd if=/dev/urandom of=/dev/null bs=512 count=200 status=none; sleep 0.25; done"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 2, "keep 2: {files:?}");
    assert!(!base.exists(), "rotated files are numbered");
    let first_number = |p: &Path| {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        name.trim_start_matches("ring-")
            .trim_end_matches(".case")
            .parse::<u32>()
            .unwrap()
    };
    assert!(
        first_number(&files[0]) >= 1,
        "the oldest files were deleted: {files:?}"
    );
    for file in &files {
        let reader = CaptureReader::open(file).unwrap();
        assert!(reader.trailer().is_some(), "{} is complete", file.display());
        let state = reader
            .initial_state()
            .expect("each file has its own snapshot")
            .unwrap();
        assert!(
            !state.processes.is_empty(),
            "{}: snapshot carries the process table",
            file.display()
        );
        assert!(!read_events(file).is_empty());
    }
}

#[test]
fn a_full_disk_stops_cleanly_with_a_readable_file() {
    require_recorder!();
    let dir = tempfile::tempdir().unwrap();
    let mount = dir.path().join("small");
    std::fs::create_dir(&mount).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=256k", "casefile-test"])
        .arg(&mount)
        .status()
        .unwrap();
    assert!(mounted.success(), "mount a small tmpfs");
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(mount.clone());
    let capture = mount.join("full.case");
    let out = record_command(
        &["--syscalls", "all"],
        &capture,
        &[
            "sh",
            "-c",
            "i=0; while [ $i -lt 3000 ]; do cat /etc/passwd > /dev/null; i=$((i+1)); done",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "a full disk is an error");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("disk full"), "{stderr}");
    let events = read_events(&capture);
    assert!(
        !events.is_empty(),
        "what was flushed before the disk filled is readable"
    );
}

#[test]
fn without_root_the_error_says_what_is_missing() {
    require_recorder!();
    let dir = tempfile::tempdir().unwrap();
    // Drop to nobody for this one run (setpriv is util-linux, on every Debian).
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_casefile"))
        .args(["record", "-o"])
        .arg(dir.path().join("never.case"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("recording needs root"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one clear sentence: {stderr}");
    assert!(!dir.path().join("never.case").exists());
}

#[test]
fn a_cgroup_scope_records_only_what_runs_in_it() {
    require_recorder!();
    let root = casefile_capture::cgroups::cgroup2_mount().expect("cgroup2 is mounted");
    let cgroup = root.join(format!("casefile-test-{}", std::process::id()));
    std::fs::create_dir(&cgroup).unwrap();
    struct Remove(PathBuf);
    impl Drop for Remove {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir(&self.0);
        }
    }
    let _remove = Remove(cgroup.clone());
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("cgroup.case");
    let script = format!(
        "echo $$ > {}/cgroup.procs; sleep 1; for i in 1 2 3 4 5 6; do cat /etc/hostname > /dev/null; sleep 0.2; done",
        cgroup.display()
    );
    let mut inside = Command::new("sh").args(["-c", &script]).spawn().unwrap();
    let out = casefile()
        .args(["record", "--quiet", "--duration", "3", "--cgroup"])
        .arg(&cgroup)
        .arg("-o")
        .arg(&capture)
        .output()
        .unwrap();
    inside.wait().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events = read_events(&capture);
    let cats: Vec<&OwnedEvent> = events
        .iter()
        .filter(|e| e.kind == kind("execve") && argv(e, 2).first().is_some_and(|a| a == b"cat"))
        .collect();
    assert!(!cats.is_empty(), "the processes in the cgroup are recorded");
    let relative = format!("/{}", cgroup.strip_prefix(&root).unwrap().display());
    for cat in &cats {
        assert_eq!(str_arg(cat, 14), Some(relative.as_bytes()));
    }
    // Everything recorded comes from the shell that moved itself in, or its children.
    let recorder_meta = [
        EventKind::CAPTURE_START,
        EventKind::CAPTURE_STOP,
        EventKind::DROPS,
    ];
    let mut tree = vec![inside.id()];
    // Children forked before the recording began are in its snapshot.
    let snapshot = CaptureReader::open(&capture)
        .unwrap()
        .initial_state()
        .unwrap()
        .unwrap();
    tree.extend(
        snapshot
            .processes
            .iter()
            .filter(|p| p.ppid == inside.id())
            .map(|p| p.pid),
    );
    for e in &events {
        if e.kind == EventKind::FORK && tree.contains(&e.pid) {
            if let Arg::Int(child) = args(e)[0] {
                tree.push(child as u32);
            }
        }
    }
    let outside: Vec<&OwnedEvent> = events
        .iter()
        .filter(|e| !recorder_meta.contains(&e.kind) && !tree.contains(&e.pid))
        .collect();
    assert!(
        outside.is_empty(),
        "recorded outside the cgroup: {:?}",
        &outside[..outside.len().min(3)]
    );
}

#[test]
fn sigint_and_sigterm_end_the_file_cleanly() {
    require_recorder!();
    let dir = tempfile::tempdir().unwrap();
    for (signal, name) in [(libc::SIGINT, "int"), (libc::SIGTERM, "term")] {
        let capture = dir.path().join(format!("{name}.case"));
        let mut busy = Command::new("sh")
            .args([
                "-c",
                "while :; do cat /etc/hostname > /dev/null; sleep 0.05; done",
            ])
            .spawn()
            .unwrap();
        let recorder = casefile()
            .args(["record", "--quiet", "--pid"])
            .arg(busy.id().to_string())
            .arg("-o")
            .arg(&capture)
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1500));
        // SAFETY: signalling the recorder we started, by its pid.
        unsafe { libc::kill(recorder.id() as i32, signal) };
        let status = recorder.wait_with_output().unwrap().status;
        busy.kill().unwrap();
        busy.wait().unwrap();
        assert!(status.success(), "{name}: {status}");
        let reader = CaptureReader::open(&capture).unwrap();
        assert!(reader.trailer().is_some(), "{name}: the trailer is written");
        let events = read_events(&capture);
        let stop = events
            .iter()
            .find(|e| e.kind == EventKind::CAPTURE_STOP)
            .unwrap();
        assert_eq!(str_arg(stop, 0), Some(&b"signal"[..]));
        assert!(events
            .iter()
            .any(|e| e.kind == kind("openat") && e.pid != busy.id()));
    }
}

const LIVE_RULES: &str = r#"
- rule: marker written
  desc: a marker file opened by the test's workload
  condition: evt.type in (open, openat, openat2) and fd.name contains casefile-live-marker
  output: "%proc.name opened %fd.name (parent %proc.pname, user %user.name, num %evt.num)"
  priority: WARNING
- rule: cat started by a shell
  desc: exec of cat under sh
  condition: evt.type = execve and proc.name = cat and proc.pname = sh
  output: "%proc.cmdline under %proc.pname (exe %proc.exepath, num %evt.num)"
  priority: NOTICE
"#;

#[test]
fn live_alerts_equal_the_alerts_of_a_replay_of_the_file() {
    require_recorder!();
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.yaml");
    std::fs::write(&rules, LIVE_RULES).unwrap();
    let capture = dir.path().join("live.case");
    let alerts = dir.path().join("alerts.jsonl");
    let script = format!(
        "for i in 1 2 3; do cat /etc/hostname > {0}/casefile-live-marker-$i; done; rm {0}/casefile-live-marker-*",
        dir.path().display()
    );
    let rules_arg = rules.to_str().unwrap();
    let out = record_command(
        &["--rules", rules_arg, "--alerts", alerts.to_str().unwrap()],
        &capture,
        &["sh", "-c", &script],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let live_json = std::fs::read_to_string(&alerts).unwrap();
    let live_text = String::from_utf8_lossy(&out.stdout).into_owned();
    let live: Vec<&str> = live_json.lines().collect();
    assert!(
        live.iter()
            .filter(|l| l.contains("\"marker written\""))
            .count()
            >= 3
            && live
                .iter()
                .filter(|l| l.contains("\"cat started by a shell\""))
                .count()
                == 3,
        "the workload's alerts fired live: {live_json}"
    );
    for threads in ["1", "2"] {
        let replayed = casefile()
            .args([
                "replay",
                "--json",
                "-q",
                "--threads",
                threads,
                "-r",
                rules_arg,
            ])
            .arg(&capture)
            .output()
            .unwrap();
        assert!(replayed.status.success());
        let replayed_json = String::from_utf8_lossy(&replayed.stdout).into_owned();
        assert_eq!(
            replayed_json.lines().collect::<Vec<_>>(),
            live,
            "JSON, {threads} thread(s)"
        );
        let replayed_text = casefile()
            .args(["replay", "-q", "--threads", threads, "-r", rules_arg])
            .arg(&capture)
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&replayed_text.stdout),
            live_text,
            "text, {threads} thread(s)"
        );
    }
}

#[test]
fn keep_on_alert_saves_the_rotated_files_around_an_alert() {
    require_recorder!();
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.yaml");
    std::fs::write(&rules, LIVE_RULES).unwrap();
    let ring = dir.path().join("ring");
    let kept = dir.path().join("kept");
    std::fs::create_dir(&ring).unwrap();
    // ~30 KB of capture per round; the marker is written in round 4, and ten more
    // rounds rotate its file out of a two-file ring.
    let script = format!(
        "for i in $(seq 14); do dd if=/dev/urandom of=/dev/null bs=512 count=200 status=none; \
         [ $i = 4 ] && echo x > {}/casefile-live-marker; sleep 0.25; done",
        dir.path().display()
    );
    let out = record_command(
        &[
            "--rotate",
            "64k",
            "--keep",
            "2",
            "--rules",
            rules.to_str().unwrap(),
            "--keep-on-alert",
            kept.to_str().unwrap(),
        ],
        &ring.join("ring.case"),
        &["sh", "-c", &script],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list = |d: &Path| {
        let mut files: Vec<PathBuf> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        files
    };
    assert_eq!(list(&ring).len(), 2, "the ring still keeps its newest two");
    let saved = list(&kept);
    assert!(!saved.is_empty(), "the files around the alert were kept");
    let mut replay = casefile();
    replay
        .args(["replay", "--json", "-q", "-r", rules.to_str().unwrap()])
        .args(&saved);
    let replayed = replay.output().unwrap();
    assert!(
        replayed.status.success(),
        "{}",
        String::from_utf8_lossy(&replayed.stderr)
    );
    let alerts = String::from_utf8_lossy(&replayed.stdout).into_owned();
    assert!(
        alerts.contains("\"marker written\""),
        "the kept files hold the alert: {alerts}"
    );
}

#[test]
fn a_scoped_recording_keeps_the_rest_of_the_host_out_of_its_snapshot() {
    require_recorder!();
    let dir = tempfile::tempdir().unwrap();
    // A process outside the scope, with a command line that must not be recorded.
    let mut bystander = Command::new("sleep").arg("30.0424242").spawn().unwrap();
    let capture = dir.path().join("scoped.case");
    let out = record_command(
        &[],
        &capture,
        &["sh", "-c", "cat /etc/hostname > /dev/null"],
    );
    let _ = bystander.kill();
    let _ = bystander.wait();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reader = CaptureReader::open(&capture).unwrap();
    let snapshot = reader.initial_state().unwrap().unwrap();
    assert!(
        snapshot.process(bystander.id()).is_none(),
        "a process outside the scope is not in the snapshot"
    );
    let recorder = snapshot
        .processes
        .iter()
        .find(|p| p.comm.as_bytes() == b"casefile")
        .expect("the recorder is there, for the command's lineage");
    assert!(
        recorder.args.is_empty() && recorder.fds.is_empty(),
        "lineage outside the scope is reduced to names"
    );
    assert!(
        snapshot.processes.len() < 64,
        "only the recorder's ancestors: {} processes",
        snapshot.processes.len()
    );
}
