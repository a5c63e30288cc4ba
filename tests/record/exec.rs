//! What an exec record says about the program and where it ran: paths from the kernel
//! (through symlinks and bind mounts), the working directory, session, process group
//! and terminal.

use crate::common::*;
use casefile_formats::event::{Arg, OwnedEvent};
use std::process::Command;

/// The successful execve whose argv starts with `argv0` and ends with `marker`.
fn exec_with<'a>(events: &'a [OwnedEvent], argv0: &[u8], marker: &[u8]) -> &'a OwnedEvent {
    events
        .iter()
        .find(|e| {
            e.kind == kind("execve")
                && e.ret == 0
                && argv(e).first().is_some_and(|a| a == argv0)
                && argv(e).last().is_some_and(|a| a == marker)
        })
        .unwrap_or_else(|| panic!("execve of {}", String::from_utf8_lossy(argv0)))
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
    let _bind = Mounted::bind(env.parent().unwrap(), &bound);
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
    // Through the symlink: the file it names, not the link, nor what runs next.
    let link = d.join("link-to-env");
    let via_link = exec_with(&events, bytes(&link), b"marker-symlink");
    assert_eq!(
        str_arg(via_link, "exepath"),
        Some(bytes(&env)),
        "exepath via a symlink"
    );
    let then_true = exec_with(&events, b"true", b"marker-symlink");
    assert_eq!(then_true.pid, via_link.pid);
    assert_eq!(str_arg(then_true, "exepath"), Some(bytes(&true_)));
    // Through the bind mount: the path on the mount the process used.
    let bound_env = bound.join("env");
    let via_bind = exec_with(&events, bytes(&bound_env), b"marker-bind");
    assert_eq!(
        str_arg(via_bind, "exepath"),
        Some(bytes(&bound_env)),
        "exepath via a bind mount"
    );
    let bound_true = bound.join("true");
    let then_true = exec_with(&events, bytes(&bound_true), b"marker-bind");
    assert_eq!(str_arg(then_true, "exepath"), Some(bytes(&bound_true)));
    // The working directory at exec.
    let in_work = exec_with(&events, b"/bin/true", b"marker-cwd");
    assert_eq!(str_arg(in_work, "cwd"), Some(bytes(&work)), "cwd");
    // Every exec of the recording has an absolute exepath and cwd.
    for e in events
        .iter()
        .filter(|e| e.kind == kind("execve") && e.ret == 0)
    {
        assert!(
            str_arg(e, "exepath").is_some_and(|p| p.starts_with(b"/")),
            "{e:?}"
        );
        assert!(
            str_arg(e, "cwd").is_some_and(|p| p.starts_with(b"/")),
            "{e:?}"
        );
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
        let exec = exec_with(&events, b"/usr/bin/python3", bytes(&out_file));
        assert_eq!(
            (arg(exec, "pgid"), arg(exec, "sid"), arg(exec, "tty")),
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
