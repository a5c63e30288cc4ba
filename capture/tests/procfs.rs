//! The /proc scan against this machine's live /proc.

use casefile_capture::procfs;
use casefile_formats::state::FdTarget;
use std::path::Path;

#[test]
fn scans_a_known_child_and_our_own_files_and_sockets() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new("sleep")
        .arg("30")
        .current_dir(dir.path())
        .spawn()
        .unwrap();
    let file_path = dir.path().join("evidence.log");
    let _file = std::fs::File::create(&file_path).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Let the child exec before looking at it.
    std::thread::sleep(std::time::Duration::from_millis(200));

    let scan = procfs::scan(Path::new("/proc"));
    assert!(scan.warnings.is_empty(), "{:?}", scan.warnings);
    let me = std::process::id();
    let sleeper = scan
        .processes
        .iter()
        .find(|p| p.pid == child.id())
        .expect("the child is in the scan");
    assert_eq!(sleeper.ppid, me);
    assert_eq!(sleeper.exe.as_bytes(), b"sleep");
    assert_eq!(sleeper.args.len(), 1);
    assert_eq!(sleeper.args[0].as_bytes(), b"30");
    assert_eq!(sleeper.comm.as_bytes(), b"sleep");
    let cwd = std::fs::canonicalize(dir.path()).unwrap();
    assert_eq!(sleeper.cwd.as_bytes(), cwd.as_os_str().as_encoded_bytes());
    assert!(sleeper.start_ts > 0);
    assert_ne!(sleeper.namespaces.pid, 0);

    let myself = scan
        .processes
        .iter()
        .find(|p| p.pid == me)
        .expect("our own process");
    let canonical = std::fs::canonicalize(&file_path).unwrap();
    let file = myself
        .fds
        .iter()
        .find(|f| matches!(&f.target, FdTarget::File { path, .. } if path.as_bytes() == canonical.as_os_str().as_encoded_bytes()))
        .expect("our open file");
    let FdTarget::File { flags, .. } = &file.target else {
        unreachable!()
    };
    assert_eq!(flags & 0o3, 0o1, "opened write-only");
    let socket = myself.fds.iter().find(|f| {
        matches!(&f.target, FdTarget::Socket(s) if s.local == format!("127.0.0.1:{port}") && s.l4proto == 6)
    });
    assert!(
        socket.is_some(),
        "the listening socket, in {:?}",
        myself.fds
    );
    assert!(myself.tids.contains(&me));

    child.kill().unwrap();
    child.wait().unwrap();
    assert!(procfs::read_process(Path::new("/proc"), child.id()).is_none());
}
