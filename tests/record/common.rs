//! What every recording test shares: running `casefile record` (to its end, or in the
//! background until it says it is recording), reading a capture back, reading event
//! arguments by name, and the fixtures that need cleaning up (cgroups, mounts).

use casefile_formats::event::{Arg, EventKind, OwnedEvent};
use casefile_formats::reader::CaptureReader;
use casefile_formats::schema::{kind_by_name, kind_info};
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read, Write};
use std::ops::ControlFlow;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Output, Stdio};

pub fn casefile() -> Command {
    Command::new(env!("CARGO_BIN_EXE_casefile"))
}

/// Runs `casefile record --quiet OPTIONS -o OUTPUT -- COMMAND` to its end.
pub fn record_command(options: &[&str], output: &Path, command: &[&str]) -> Output {
    casefile()
        .args(["record", "--quiet"])
        .args(options)
        .arg("-o")
        .arg(output)
        .arg("--")
        .args(command)
        .output()
        .expect("casefile runs")
}

/// Records `command` with `options`, asserts the recorder succeeded, and reads the
/// capture's events.
pub fn record_events(options: &[&str], capture: &Path, command: &[&str]) -> Vec<OwnedEvent> {
    let out = record_command(options, capture, command);
    assert_success(&out, "record");
    read_events(capture)
}

pub fn assert_success(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({}): {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
}

/// Why this machine cannot run the recorder, if it cannot.
pub fn cannot_record() -> Option<&'static str> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("needs root");
    }
    if !Path::new("/sys/kernel/btf/vmlinux").exists() {
        return Some("needs a kernel with BTF");
    }
    None
}

/// Returns from the test, saying so on the terminal, where the recorder cannot run.
macro_rules! require_recorder {
    () => {
        if let Some(why) = $crate::common::cannot_record() {
            // Written to the terminal directly: libtest hides eprintln! of passing tests.
            let _ = std::io::Write::write_fmt(
                &mut std::io::stderr(),
                format_args!(
                    "SKIPPED {}: {why} (eBPF recording tests run as root)\n",
                    module_path!()
                ),
            );
            return;
        }
    };
}
pub(crate) use require_recorder;

/// Every event of a finished capture; asserts that no block was corrupt.
pub fn read_events(path: &Path) -> Vec<OwnedEvent> {
    let (events, corrupt) = read_events_leniently(path);
    assert!(
        corrupt == 0,
        "{corrupt} corrupt blocks in {}",
        path.display()
    );
    events
}

/// Every event a capture that may still be being written holds so far, and how many
/// blocks did not decode.
pub fn read_events_leniently(path: &Path) -> (Vec<OwnedEvent>, usize) {
    let reader = CaptureReader::open(path).expect("open capture");
    let mut events = Vec::new();
    let report = reader.for_each_event(0, u64::MAX, |e| {
        events.push(e.to_owned_event());
        ControlFlow::Continue(())
    });
    (events, report.corrupt_blocks.len())
}

pub fn kind(name: &str) -> EventKind {
    kind_by_name(name).unwrap_or_else(|| panic!("no kind {name}"))
}

/// The argument `name` of `e`, by the schema's parameter names.
pub fn arg<'e>(e: &'e OwnedEvent, name: &str) -> Arg<'e> {
    let event = e.as_event();
    let info = kind_info(event.kind);
    assert!(
        info.params.iter().any(|p| p.name == name),
        "{} has no parameter {name}",
        info.name
    );
    event.arg(name).unwrap_or(Arg::Absent)
}

/// Whether `e` has an argument `name` equal to `value`.
pub fn has_arg(e: &OwnedEvent, name: &str, value: Arg<'_>) -> bool {
    let info = kind_info(e.kind);
    info.params.iter().any(|p| p.name == name) && e.as_event().arg(name) == Some(value)
}

pub fn str_arg<'e>(e: &'e OwnedEvent, name: &str) -> Option<&'e [u8]> {
    match arg(e, name) {
        Arg::Str(s) => Some(s),
        _ => None,
    }
}

pub fn uint_arg(e: &OwnedEvent, name: &str) -> Option<u64> {
    match arg(e, name) {
        Arg::Uint(v) => Some(v),
        _ => None,
    }
}

pub fn argv(e: &OwnedEvent) -> Vec<Vec<u8>> {
    match arg(e, "argv") {
        Arg::StrList(list) => list.iter().map(<[u8]>::to_vec).collect(),
        _ => Vec::new(),
    }
}

/// The first successful execve whose argv[0] is `argv0`.
pub fn exec_of<'e>(events: &'e [OwnedEvent], argv0: &[u8]) -> Option<&'e OwnedEvent> {
    events.iter().find(|e| {
        e.kind == kind("execve") && e.ret == 0 && argv(e).first().is_some_and(|a| a == argv0)
    })
}

/// The fork that made process `child`.
pub fn fork_of(events: &[OwnedEvent], child: u32) -> Option<&OwnedEvent> {
    events.iter().find(|e| {
        e.kind == EventKind::FORK && arg(e, "child_pid").as_u64() == Some(u64::from(child))
    })
}

pub fn bytes(path: &Path) -> &[u8] {
    path.as_os_str().as_encoded_bytes()
}

/// The recorder's own events, which no process of a workload made.
pub const RECORDER_META: [EventKind; 3] = [
    EventKind::CAPTURE_START,
    EventKind::CAPTURE_STOP,
    EventKind::DROPS,
];

/// What the kernel side said it sent and dropped (from `capture_stop`), against what
/// the file holds.
#[derive(Debug)]
pub struct Accounting {
    pub kernel_sent: u64,
    pub in_file: u64,
    pub kernel_drops: u64,
    pub drops_in_file: u64,
}

pub fn kernel_accounting(events: &[OwnedEvent]) -> Accounting {
    let recorder = events
        .iter()
        .find(|e| e.kind == EventKind::CAPTURE_START)
        .expect("capture_start")
        .pid;
    // casefile is never recorded: what carries its pid it wrote itself (its meta events,
    // the fork of a recorded command).
    let in_file = events.iter().filter(|e| e.pid != recorder).count() as u64;
    let drops_in_file: u64 = events
        .iter()
        .filter(|e| e.kind == EventKind::DROPS)
        .map(|e| uint_arg(e, "count").unwrap_or(0))
        .sum();
    let stop = events
        .iter()
        .find(|e| e.kind == EventKind::CAPTURE_STOP)
        .expect("capture_stop");
    let counter =
        |name: &str| uint_arg(stop, name).unwrap_or_else(|| panic!("capture_stop argument {name}"));
    Accounting {
        kernel_sent: counter("kernel_sent"),
        in_file,
        kernel_drops: counter("kernel_drops"),
        drops_in_file,
    }
}

/// `casefile record` in the background, started with `--ready-fd 3`: [`Background::start`]
/// returns once the recorder has said that it is recording.
pub struct Background {
    child: Child,
    /// The ready line the recorder wrote.
    pub ready: String,
}

impl Background {
    /// `casefile record --quiet -o OUTPUT OPTIONS`.
    pub fn start(options: &[&str], output: &Path) -> Background {
        let mut args: Vec<OsString> = vec!["--quiet".into(), "-o".into(), output.into()];
        args.extend(options.iter().map(OsString::from));
        Background::start_args(&args)
    }

    /// `casefile record --ready-fd 3 ARGS`.
    pub fn start_args(args: &[OsString]) -> Background {
        let (mut ready_reader, ready_writer) = std::io::pipe().expect("pipe");
        let write_fd = ready_writer.as_raw_fd();
        let mut command = casefile();
        command
            .args(["record", "--ready-fd", "3"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // SAFETY: between fork and exec, only dup2/fcntl on descriptors of this
        // process: async-signal-safe.
        unsafe {
            command.pre_exec(move || {
                if write_fd == 3 {
                    // dup2 onto itself keeps close-on-exec: clear it instead.
                    if libc::fcntl(3, libc::F_SETFD, 0) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                } else if libc::dup2(write_fd, 3) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().expect("casefile record starts");
        // Only the recorder holds the write end now: the read below ends when it wrote
        // the ready line and closed it, or when it died.
        drop(ready_writer);
        let mut ready = String::new();
        ready_reader
            .read_to_string(&mut ready)
            .expect("read the ready line");
        if ready.is_empty() {
            let out = child.wait_with_output().expect("wait for the recorder");
            panic!(
                "the recorder ended without saying it was recording ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Background { child, ready }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the recorder to end by itself (its command exited, its duration).
    pub fn wait(self) -> Output {
        self.child
            .wait_with_output()
            .expect("wait for the recorder")
    }

    /// Sends `signal` to the recorder and waits for it to end.
    pub fn stop(self, signal: libc::c_int) -> Output {
        // SAFETY: signalling the recorder this test started, by its pid.
        unsafe { libc::kill(self.child.id() as i32, signal) };
        self.child
            .wait_with_output()
            .expect("wait for the recorder")
    }
}

/// A shell script run with its stdin and stdout on pipes, so that the test can tell it
/// when to go on (`read` in the script) and hear what it says (`echo`).
pub struct Workload {
    pub child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl Workload {
    pub fn start(script: &str) -> Workload {
        let mut child = Command::new("sh")
            .args(["-c", script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("sh starts");
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        Workload {
            child,
            stdin,
            stdout,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Answers the script's next `read`.
    pub fn say(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("the workload's stdin is open");
        writeln!(stdin, "{line}").expect("write to the workload");
        stdin.flush().expect("flush the workload's stdin");
    }

    /// Waits for the script to print `line`.
    pub fn expect(&mut self, line: &str) {
        let mut got = String::new();
        self.stdout
            .read_line(&mut got)
            .expect("read from the workload");
        assert_eq!(got.trim_end(), line, "the workload's output");
    }

    /// Closes its stdin (a pending `read` fails) and waits for it to end.
    pub fn finish(mut self) {
        drop(self.stdin.take());
        self.child.wait().expect("wait for the workload");
    }
}

impl Drop for Workload {
    fn drop(&mut self) {
        // A test that failed half-way leaves no shell behind (ours, by pid).
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A cgroup v2 directory of this test's, removed (if empty) on drop.
pub struct TestCgroup {
    created: Vec<PathBuf>,
    pub path: PathBuf,
}

impl TestCgroup {
    /// Creates `relative` (and the levels above it that do not exist) under the cgroup v2
    /// mount.
    pub fn create(relative: &str) -> TestCgroup {
        let root = casefile_capture::cgroups::cgroup2_mount().expect("cgroup2 is mounted");
        let mut created = Vec::new();
        let mut dir = root;
        for part in relative.split('/') {
            dir.push(part);
            if !dir.exists() {
                std::fs::create_dir(&dir).expect("create test cgroup");
                created.push(dir.clone());
            }
        }
        TestCgroup { created, path: dir }
    }

    pub fn procs(&self) -> String {
        self.path.join("cgroup.procs").display().to_string()
    }
}

impl Drop for TestCgroup {
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

/// A cgroup shaped like a Kubernetes pod's container.
pub struct FakeContainer {
    pub cgroup: TestCgroup,
    pub container_id: String,
    pub pod_uid: String,
}

impl FakeContainer {
    pub fn create() -> FakeContainer {
        let pod_uid = format!("1b2c3d4e-5f60-4a1b-8c2d-{:012x}", std::process::id());
        let container_id = format!("{:064x}", 0xcafe_0000_u64 + u64::from(std::process::id()));
        let relative = format!(
            "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{}.slice/cri-containerd-{container_id}.scope",
            pod_uid.replace('-', "_")
        );
        FakeContainer {
            cgroup: TestCgroup::create(&relative),
            container_id,
            pod_uid,
        }
    }
}

/// A mount undone on drop.
pub struct Mounted(pub PathBuf);

impl Mounted {
    pub fn bind(source: &Path, target: &Path) -> Mounted {
        std::fs::create_dir_all(target).unwrap();
        let status = Command::new("mount")
            .arg("--bind")
            .arg(source)
            .arg(target)
            .status()
            .unwrap();
        assert!(status.success(), "mount --bind {}", target.display());
        Mounted(target.to_path_buf())
    }

    pub fn tmpfs(target: &Path, size: &str) -> Mounted {
        std::fs::create_dir_all(target).unwrap();
        let status = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size}"),
                "casefile-test",
            ])
            .arg(target)
            .status()
            .unwrap();
        assert!(status.success(), "mount a small tmpfs");
        Mounted(target.to_path_buf())
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}
