//! The /proc scan, against this machine's live /proc and against fixture trees built
//! here, where every file says exactly what the test expects back.

use casefile_capture::procfs;
use casefile_formats::header::now_boot_ns;
use casefile_formats::state::{ByteString, FdTarget, ProcessEntry, SocketInfo};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, MetadataExt};
use std::path::Path;

fn bytes_of(path: &Path) -> Vec<u8> {
    path.as_os_str().as_bytes().to_vec()
}

/// Waits until `/proc/PID/cmdline` reads `cmdline`.
fn wait_for_exec(pid: u32, cmdline: &[u8]) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::fs::read(format!("/proc/{pid}/cmdline"))
        .ok()
        .as_deref()
        != Some(cmdline)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "pid {pid} did not show its exec in 60 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

#[test]
fn scans_a_known_child_and_our_own_files_and_sockets() {
    let dir = tempfile::tempdir().unwrap();
    let before = now_boot_ns();
    let mut child = std::process::Command::new("sleep")
        .arg("30")
        .current_dir(dir.path())
        .spawn()
        .unwrap();
    let file_path = dir.path().join("evidence.log");
    let _file = std::fs::File::create(&file_path).unwrap();
    let _dir_handle = std::fs::File::open(dir.path()).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (pipe_reader, _pipe_writer) = std::io::pipe().unwrap();
    let pipe_ino = std::fs::metadata(format!("/proc/self/fd/{}", pipe_reader.as_raw_fd()))
        .unwrap()
        .ino();
    // SAFETY: a NUL-terminated name and no flags; the fd is closed below.
    let memfd = unsafe { libc::memfd_create(c"casefile-test".as_ptr(), 0) };
    assert!(memfd >= 0);
    // spawn returns once the exec has begun; the new image's name and arguments are
    // set a little later. Look at the child only once /proc shows them.
    wait_for_exec(child.id(), b"sleep\x0030\x00");

    let scan = procfs::scan(Path::new("/proc"));
    // SAFETY: our own fd, closed once.
    unsafe { libc::close(memfd) };
    assert!(scan.warnings.is_empty(), "{:?}", scan.warnings);
    assert!(
        scan.processes.windows(2).all(|w| w[0].pid < w[1].pid),
        "sorted by pid, no duplicates"
    );
    let me = std::process::id();
    let sleeper = scan
        .processes
        .iter()
        .find(|p| p.pid == child.id())
        .expect("the child is in the scan");
    assert_eq!(sleeper.ppid, me);
    assert_eq!(sleeper.exe.as_bytes(), b"sleep");
    assert_eq!(sleeper.args, [ByteString::from("30")]);
    assert_eq!(sleeper.comm.as_bytes(), b"sleep");
    assert!(
        sleeper.exepath.as_bytes().ends_with(b"/sleep"),
        "{:?}",
        sleeper.exepath
    );
    assert_eq!(sleeper.tids, [child.id()]);
    let cwd = std::fs::canonicalize(dir.path()).unwrap();
    assert_eq!(sleeper.cwd.as_bytes(), bytes_of(&cwd));
    // SAFETY: getuid has no preconditions.
    let uid = unsafe { libc::getuid() };
    assert_eq!((sleeper.uid, sleeper.euid), (uid, uid));
    // Clock ticks are coarse: allow one tick on either side.
    assert!(
        sleeper.start_ts + 20_000_000 >= before && sleeper.start_ts <= now_boot_ns(),
        "start {} not between {before} and now",
        sleeper.start_ts
    );
    assert_ne!(sleeper.namespaces.pid, 0);
    assert_ne!(sleeper.namespaces.net, 0);

    let myself = scan
        .processes
        .iter()
        .find(|p| p.pid == me)
        .expect("our own process");
    assert_eq!(sleeper.namespaces, myself.namespaces);
    assert_eq!(sleeper.cgroup, myself.cgroup);
    assert!(myself.tids.contains(&me));
    assert!(myself.fds.windows(2).all(|w| w[0].fd < w[1].fd));
    let canonical = std::fs::canonicalize(&file_path).unwrap();
    let file = myself
        .fds
        .iter()
        .find(|f| matches!(&f.target, FdTarget::File { path, .. } if path.as_bytes() == bytes_of(&canonical)))
        .expect("our open file");
    let FdTarget::File { flags, .. } = &file.target else {
        unreachable!()
    };
    assert_eq!(flags & 0o3, 0o1, "opened write-only");
    assert!(
        myself.fds.iter().any(|f| matches!(&f.target,
            FdTarget::Directory { path } if path.as_bytes() == bytes_of(&cwd))),
        "the open directory, in {:?}",
        myself.fds
    );
    let socket = myself.fds.iter().find(|f| {
        matches!(&f.target, FdTarget::Socket(s) if s.local == format!("127.0.0.1:{port}") && s.l4proto == 6 && s.family == 2)
    });
    assert!(
        socket.is_some(),
        "the listening socket, in {:?}",
        myself.fds
    );
    assert!(myself
        .fds
        .iter()
        .any(|f| f.fd == pipe_reader.as_raw_fd() as i64
            && f.target == FdTarget::Pipe { ino: pipe_ino }));
    assert!(myself.fds.iter().any(|f| f.fd == memfd as i64
        && f.target
            == FdTarget::Memfd {
                name: ByteString::from("casefile-test")
            }));

    let alone = procfs::read_process(Path::new("/proc"), child.id()).expect("read alone");
    assert_eq!(alone.args, sleeper.args);
    assert_eq!(alone.start_ts, sleeper.start_ts);

    child.kill().unwrap();
    child.wait().unwrap();
    assert!(procfs::read_process(Path::new("/proc"), child.id()).is_none());
    drop(listener);
}

#[test]
fn thread_ids_are_not_processes() {
    let (tx, rx) = std::sync::mpsc::channel();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let thread = std::thread::spawn(move || {
        // SAFETY: gettid has no preconditions.
        tx.send(unsafe { libc::gettid() } as u32).unwrap();
        let _ = done_rx.recv();
    });
    let tid = rx.recv().unwrap();
    let me = std::process::id();
    assert_ne!(tid, me);
    assert!(Path::new(&format!("/proc/{tid}/stat")).exists());
    assert!(procfs::read_process(Path::new("/proc"), tid).is_none());
    let myself = procfs::read_process(Path::new("/proc"), me).unwrap();
    assert!(myself.tids.contains(&tid) && myself.tids.contains(&me));
    done_tx.send(()).unwrap();
    thread.join().unwrap();
}

const ID: &str = "4f1c2a9b8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a3928170695e4d3";
const POD: &str = "1b2c3d4e-5f60-4a1b-8c2d-3e4f5a6b7c8d";

/// A `/proc/PID` directory with the files the scan reads.
struct FakeProcess<'a> {
    pid: u32,
    stat: &'a [u8],
    status: &'a [u8],
    cmdline: &'a [u8],
    cgroup: &'a [u8],
    netns: Option<u64>,
}

fn fake_process(root: &Path, p: &FakeProcess<'_>) -> std::path::PathBuf {
    let dir = root.join(p.pid.to_string());
    std::fs::create_dir_all(dir.join("task").join(p.pid.to_string())).unwrap();
    std::fs::create_dir_all(dir.join("fd")).unwrap();
    std::fs::create_dir_all(dir.join("fdinfo")).unwrap();
    std::fs::create_dir_all(dir.join("ns")).unwrap();
    std::fs::create_dir_all(dir.join("net")).unwrap();
    std::fs::write(dir.join("stat"), p.stat).unwrap();
    std::fs::write(dir.join("status"), p.status).unwrap();
    std::fs::write(dir.join("cmdline"), p.cmdline).unwrap();
    std::fs::write(dir.join("cgroup"), p.cgroup).unwrap();
    if let Some(net) = p.netns {
        symlink(format!("net:[{net}]"), dir.join("ns/net")).unwrap();
    }
    dir
}

fn tick_ns() -> u64 {
    // SAFETY: sysconf has no preconditions.
    1_000_000_000 / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64
}

fn find(processes: &[ProcessEntry], pid: u32) -> &ProcessEntry {
    processes
        .iter()
        .find(|p| p.pid == pid)
        .unwrap_or_else(|| panic!("pid {pid} in the scan"))
}

fn fd(process: &ProcessEntry, n: i64) -> &FdTarget {
    &process
        .fds
        .iter()
        .find(|f| f.fd == n)
        .unwrap_or_else(|| panic!("fd {n} of {}", process.pid))
        .target
}

#[test]
fn a_fixture_tree_parses_field_by_field() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("proc");
    let pod_us = POD.replace('-', "_");
    let cgroup = format!(
        "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{pod_us}.slice/cri-containerd-{ID}.scope\n"
    );
    let dir = fake_process(
        &root,
        &FakeProcess {
            pid: 77,
            stat: b"77 (nginx: worker) S 12 70 71 34817 70 4194560 0 0 0 0 0 0 0 0 20 0 2 0 4242 0 0\n",
            status: b"Name:\tnginx\nTgid:\t77\nPid:\t77\nUid:\t101\t102\t103\t104\nGid:\t201\t202\t203\t204\nCapInh:\t0000000000000000\nCapPrm:\t00000000a80425fb\nCapEff:\t00000000a80425fb\n",
            cmdline: b"nginx: worker\0-g\0daemon off;\0\xff\xfe\0",
            cgroup: cgroup.as_bytes(),
            netns: Some(4026532001),
        },
    );
    std::fs::create_dir_all(dir.join("task/78")).unwrap();
    std::fs::write(dir.join("loginuid"), b"1000").unwrap();
    symlink("/usr/sbin/nginx (deleted)", dir.join("exe")).unwrap();
    symlink("/var/www", dir.join("cwd")).unwrap();
    symlink("pid:[4026532100]", dir.join("ns/pid")).unwrap();
    symlink("mnt:[4026532101]", dir.join("ns/mnt")).unwrap();
    symlink("garbage", dir.join("ns/uts")).unwrap();

    // Open files: each kind of link text the kernel writes.
    let data = tmp.path().join("access.log");
    std::fs::write(&data, b"x").unwrap();
    symlink(&data, dir.join("fd/3")).unwrap();
    std::fs::write(
        dir.join("fdinfo/3"),
        b"pos:\t0\nflags:\t0102001\nmnt_id:\t25\n",
    )
    .unwrap();
    symlink(tmp.path(), dir.join("fd/4")).unwrap();
    symlink("socket:[9001]", dir.join("fd/5")).unwrap();
    symlink("socket:[9002]", dir.join("fd/6")).unwrap();
    symlink("socket:[9003]", dir.join("fd/7")).unwrap();
    symlink("socket:[9004]", dir.join("fd/8")).unwrap();
    symlink("socket:[4444]", dir.join("fd/9")).unwrap();
    symlink("pipe:[31337]", dir.join("fd/10")).unwrap();
    symlink("/memfd:stage2 (deleted)", dir.join("fd/11")).unwrap();
    symlink("anon_inode:[eventfd]", dir.join("fd/12")).unwrap();
    symlink("/dev/null", dir.join("fd/0")).unwrap();
    std::fs::write(dir.join("fdinfo/0"), b"pos:\t0\nflags:\t02\n").unwrap();
    // Listed out of order on purpose; a non-number is ignored.
    symlink("/etc/hosts", dir.join("fd/not-a-fd")).unwrap();

    std::fs::write(
        dir.join("net/tcp"),
        b"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 9001 1 0000000000000000 100 0 0 10 0\n\
   1: 0A00000A:0050 0200000A:D431 01 00000000:00000000 00:00000000 00000000     0        0 9002 1 0000000000000000 100 0 0 10 0\n\
   garbage line\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("net/udp6"),
        b"  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n\
  0: 00000000000000000000000001000000:0035 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 9003 2 0000000000000000 0\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("net/unix"),
        b"Num       RefCount Protocol Flags    Type St Inode Path\n\
0000000000000000: 00000002 00000000 00010000 0001 01  9004 @/containerd-shim/x.sock\n",
    )
    .unwrap();

    // Not processes, or processes that went away mid-scan: no stat.
    std::fs::create_dir_all(root.join("self")).unwrap();
    std::fs::write(root.join("uptime"), b"1.0 1.0\n").unwrap();
    std::fs::create_dir_all(root.join("12345")).unwrap();

    let scan = procfs::scan(&root);
    assert!(scan.warnings.is_empty(), "{:?}", scan.warnings);
    assert_eq!(scan.processes.len(), 1, "only pid 77 is a whole process");
    let p = find(&scan.processes, 77);
    assert_eq!(p.ppid, 12);
    assert_eq!((p.pgid, p.sid, p.tty), (70, 71, 34817));
    assert_eq!(p.tids, [77, 78]);
    assert_eq!(p.comm.as_bytes(), b"nginx: worker");
    assert_eq!(p.exe.as_bytes(), b"nginx: worker");
    assert_eq!(
        p.args,
        [
            ByteString::from("-g"),
            ByteString::from("daemon off;"),
            ByteString(b"\xff\xfe".to_vec())
        ]
    );
    assert_eq!(p.exepath.as_bytes(), b"/usr/sbin/nginx (deleted)");
    assert_eq!(p.cwd.as_bytes(), b"/var/www");
    assert_eq!((p.uid, p.euid, p.gid, p.egid), (101, 102, 201, 202));
    assert_eq!(p.loginuid, 1000);
    assert_eq!(p.start_ts, 4242 * tick_ns());
    assert_eq!(p.cap_inheritable, Some(0));
    assert_eq!(p.cap_permitted, Some(0xa804_25fb));
    assert_eq!(p.cap_effective, Some(0xa804_25fb));
    assert_eq!(
        p.cgroup.as_bytes(),
        cgroup.trim_end().strip_prefix("0::").unwrap().as_bytes()
    );
    assert_eq!(p.container_id, ID);
    assert_eq!(p.pod_uid, POD);
    assert_eq!(p.namespaces.pid, 4026532100);
    assert_eq!(p.namespaces.mnt, 4026532101);
    assert_eq!(p.namespaces.net, 4026532001);
    assert_eq!(p.namespaces.uts, 0, "unparsable link");
    assert_eq!(p.namespaces.user, 0, "missing link");

    let fds: Vec<i64> = p.fds.iter().map(|f| f.fd).collect();
    assert_eq!(fds, [0, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    assert_eq!(
        fd(p, 0),
        &FdTarget::File {
            path: ByteString::from("/dev/null"),
            flags: 0o2
        }
    );
    assert_eq!(
        fd(p, 3),
        &FdTarget::File {
            path: ByteString(bytes_of(&data)),
            flags: 0o102001
        }
    );
    assert_eq!(
        fd(p, 4),
        &FdTarget::Directory {
            path: ByteString(bytes_of(tmp.path()))
        }
    );
    assert_eq!(
        fd(p, 5),
        &FdTarget::Socket(SocketInfo {
            family: 2,
            l4proto: 6,
            local: "0.0.0.0:80".into(),
            remote: "0.0.0.0:0".into()
        })
    );
    assert_eq!(
        fd(p, 6),
        &FdTarget::Socket(SocketInfo {
            family: 2,
            l4proto: 6,
            local: "10.0.0.10:80".into(),
            remote: "10.0.0.2:54321".into()
        })
    );
    assert_eq!(
        fd(p, 7),
        &FdTarget::Socket(SocketInfo {
            family: 10,
            l4proto: 17,
            local: "[::1]:53".into(),
            remote: "[::]:0".into()
        })
    );
    assert_eq!(
        fd(p, 8),
        &FdTarget::Unix {
            path: ByteString::from("@/containerd-shim/x.sock")
        }
    );
    assert_eq!(
        fd(p, 9),
        &FdTarget::Other {
            name: ByteString::from("socket:[4444]")
        }
    );
    assert_eq!(fd(p, 10), &FdTarget::Pipe { ino: 31337 });
    assert_eq!(
        fd(p, 11),
        &FdTarget::Memfd {
            name: ByteString::from("stage2")
        }
    );
    assert_eq!(
        fd(p, 12),
        &FdTarget::Other {
            name: ByteString::from("anon_inode:[eventfd]")
        }
    );

    let alone = procfs::read_process(&root, 77).expect("read_process agrees with scan");
    assert_eq!(&alone, p);
    assert!(procfs::read_process(&root, 12345).is_none());
    assert!(procfs::read_process(&root, 1).is_none());
}

#[test]
fn socket_tables_are_read_once_per_network_namespace() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let tcp = b"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5000 1 0000000000000000 100 0 0 10 0\n";
    let stat =
        |pid: u32| format!("{pid} (p) S 1 {pid} {pid} 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 1 0 0\n");
    let make = |pid: u32, netns: Option<u64>, with_table: bool| {
        let stat = stat(pid);
        let dir = fake_process(
            root,
            &FakeProcess {
                pid,
                stat: stat.as_bytes(),
                status: b"Uid:\t0\t0\t0\t0\n",
                cmdline: b"p\0",
                cgroup: b"0::/\n",
                netns,
            },
        );
        symlink("socket:[5000]", dir.join("fd/3")).unwrap();
        if with_table {
            std::fs::write(dir.join("net/tcp"), tcp).unwrap();
        }
    };
    // 10 and 20 share a namespace and only 10's table is on disk: 20 can only resolve
    // its socket from the table parsed for 10. 30 is elsewhere with no table; 40 and 50
    // have unknown namespaces, and 50 must not borrow 40's table.
    make(10, Some(4026531840), true);
    make(20, Some(4026531840), false);
    make(30, Some(4026532999), false);
    make(40, None, true);
    make(50, None, false);

    let scan = procfs::scan(root);
    let listening = FdTarget::Socket(SocketInfo {
        family: 2,
        l4proto: 6,
        local: "127.0.0.1:8080".into(),
        remote: "0.0.0.0:0".into(),
    });
    let unresolved = FdTarget::Other {
        name: ByteString::from("socket:[5000]"),
    };
    let pids: Vec<u32> = scan.processes.iter().map(|p| p.pid).collect();
    assert_eq!(pids, [10, 20, 30, 40, 50]);
    assert_eq!(fd(find(&scan.processes, 10), 3), &listening);
    assert_eq!(fd(find(&scan.processes, 20), 3), &listening);
    assert_eq!(fd(find(&scan.processes, 30), 3), &unresolved);
    assert_eq!(fd(find(&scan.processes, 40), 3), &listening);
    assert_eq!(fd(find(&scan.processes, 50), 3), &unresolved);
    // Defaults where files say nothing.
    let p = find(&scan.processes, 10);
    assert_eq!(p.loginuid, u32::MAX);
    assert_eq!(p.cap_effective, None);
    assert!(p.container_id.is_empty() && p.pod_uid.is_empty());
}

#[test]
fn hostile_stat_and_status_contents() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    // A name with ") (", spaces and digits that would shift every field if split naively.
    fake_process(
        root,
        &FakeProcess {
            pid: 5,
            stat: b"5 (a) (b 9 9 9) R 3 4 4 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 777 0 0\n",
            status: b"Tgid:\t5\nUid:\tx\ty\nGid:\t\nCapEff:\t-1\n",
            cmdline: b"",
            cgroup: b"\xff\xfe::\n0::/docker/\xff\n",
            netns: None,
        },
    );
    // Tgid says this is a thread of another process.
    fake_process(
        root,
        &FakeProcess {
            pid: 6,
            stat: b"6 (t) S 1 1 1 0 -1 0\n",
            status: b"Tgid:\t5\n",
            cmdline: b"",
            cgroup: b"",
            netns: None,
        },
    );
    // Garbage everywhere: skipped, never a panic.
    fake_process(
        root,
        &FakeProcess {
            pid: 7,
            stat: b"\xff\xff\xff",
            status: b"\0\0\0",
            cmdline: b"\0\0\0",
            cgroup: b"::::",
            netns: None,
        },
    );
    std::fs::write(root.join("5/loginuid"), b"4294967295").unwrap();

    let scan = procfs::scan(root);
    assert!(scan.warnings.is_empty(), "{:?}", scan.warnings);
    let pids: Vec<u32> = scan.processes.iter().map(|p| p.pid).collect();
    assert_eq!(pids, [5]);
    let p = &scan.processes[0];
    assert_eq!(p.comm.as_bytes(), b"a) (b 9 9 9");
    assert_eq!((p.ppid, p.pgid, p.sid), (3, 4, 4));
    assert_eq!(p.start_ts, 777 * tick_ns());
    assert_eq!((p.uid, p.gid), (0, 0), "unparsable ids stay at the default");
    assert_eq!(p.cap_effective, None);
    assert_eq!(p.loginuid, u32::MAX);
    assert!(p.exe.is_empty() && p.args.is_empty());
    assert_eq!(p.cgroup.as_bytes(), b"/docker/\xff");
    assert!(p.container_id.is_empty());
}

#[test]
fn missing_or_empty_proc_is_a_warning_not_a_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let scan = procfs::scan(&tmp.path().join("nonexistent"));
    assert!(scan.processes.is_empty());
    assert_eq!(scan.warnings.len(), 1);
    assert!(
        scan.warnings[0].contains("nonexistent"),
        "{:?}",
        scan.warnings
    );

    let scan = procfs::scan(tmp.path());
    assert!(scan.processes.is_empty());
    assert_eq!(scan.warnings.len(), 1, "an empty directory is not procfs");
}
