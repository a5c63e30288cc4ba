//! A recording from start to finish: load the kernel programs, snapshot `/proc`, drain
//! the ring buffer on this thread while a writer thread decodes, tracks state and
//! compresses, and stop cleanly on a signal, a time limit, a size limit, the end of the
//! recorded command, or a failed write — leaving a readable file in every case.

use crate::cgroups::CgroupResolver;
use crate::decode::Decoder;
use crate::error::CaptureError;
use crate::probe::{register_self_in_scope, KernelCounters, Probe, ProbeConfig, Scope};
use crate::scope::{descendants, scope_snapshot};
use crate::{procfs, users};
use casefile_ebpf::record::Record;
use casefile_formats::event::{ArgsBuilder, Event, EventKind};
use casefile_formats::header::{now_boot_ns, CaptureConfig, FileHeader, HostInfo};
use casefile_formats::schema::EVENT_LAYOUT_VERSION;
use casefile_formats::state::StateSnapshot;
use casefile_formats::writer::{CaptureWriter, WriterOptions};
use casefile_rules::engine::{Alert, CompiledRules, Engine};
use std::ffi::OsString;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often the reader drains the ring when the kernel has not woken it.
const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// A batch of records handed to the writer thread.
const BATCH_BYTES: usize = 1 << 20;

#[derive(Clone, Debug)]
pub struct Rotation {
    /// Start a new file once the current one reaches this many bytes.
    pub size: u64,
    /// Keep this many files, deleting the oldest.
    pub keep: usize,
}

#[derive(Clone, Debug)]
pub struct RecordOptions {
    pub output: PathBuf,
    pub probe: ProbeConfig,
    pub duration: Option<Duration>,
    pub max_size: Option<u64>,
    pub rotate: Option<Rotation>,
    /// Run this command, record it and what it starts, and stop when it exits.
    pub command: Option<Vec<OsString>>,
    /// How the scope was asked for, for the file header (`pid=…`, `cgroup=…`).
    pub filters: Vec<String>,
    pub writer: WriterOptions,
    /// Rules evaluated on the live stream, by the engine replay uses.
    pub rules: Option<Arc<CompiledRules>>,
    /// With rotation and rules: files that would be deleted while they hold, precede or
    /// follow an alert are moved here instead.
    pub keep_on_alert: Option<PathBuf>,
}

/// Receives every live alert, on the writer thread, as soon as its event is decoded.
pub type AlertSink = Box<dyn FnMut(&Alert) + Send>;

/// The moment recording has begun: the probes are attached, the `/proc` snapshot is
/// taken, and the first file exists with its header and snapshot. Every process forked
/// after this is in the capture with its fork; every process alive before it is in the
/// snapshot (or, outside the scope, is not recorded at all).
#[derive(Clone, Debug)]
pub struct Ready<'a> {
    /// The first file of the recording (with rotation, `FILE-0000.case`).
    pub file: &'a Path,
    /// Processes in the snapshot.
    pub snapshot_processes: usize,
    /// The snapshot's time, boot-clock nanoseconds: events after it are recorded.
    pub start_ts: u64,
}

/// What the status line shows.
#[derive(Clone, Debug, Default)]
pub struct Progress {
    pub elapsed: Duration,
    pub events: u64,
    pub events_per_sec: f64,
    pub drops: u64,
    pub bytes: u64,
    pub alerts: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StopReason {
    Signal,
    Duration,
    MaxSize,
    CommandExited(ExitStatus),
    WriteFailed(String),
}

impl StopReason {
    fn describe(&self) -> String {
        match self {
            StopReason::Signal => "signal".into(),
            StopReason::Duration => "duration reached".into(),
            StopReason::MaxSize => "maximum size reached".into(),
            StopReason::CommandExited(status) => format!("command exited ({status})"),
            StopReason::WriteFailed(e) => format!("write failed: {e}"),
        }
    }
}

#[derive(Debug)]
pub struct RecordSummary {
    pub reason: StopReason,
    /// Every file written and still on disk, oldest first.
    pub files: Vec<PathBuf>,
    pub events: u64,
    pub drops: u64,
    pub bytes: u64,
    pub alerts: u64,
    /// Files moved to the keep-on-alert directory.
    pub kept: Vec<PathBuf>,
    /// Per alert, nanoseconds from its syscall to its delivery (sorted).
    pub alert_latencies: Vec<u64>,
    /// Records that could not be decoded (counted, never silently lost).
    pub malformed: u64,
    pub first_malformed: Option<String>,
    pub kernel: KernelCounters,
    pub warnings: Vec<String>,
}

/// Counters the writer thread shares with the reader.
#[derive(Default)]
struct Shared {
    events: AtomicU64,
    alerts: AtomicU64,
    drops: AtomicU64,
    bytes: AtomicU64,
    max_size_reached: AtomicBool,
    failure: Mutex<Option<String>>,
}

enum Message {
    Records(Vec<u8>),
    /// The recorded command was started at `ts`: its fork is the recorder's own (outside
    /// the scope, so the kernel side did not record it).
    Spawned {
        pid: u32,
        ts: u64,
    },
    Drops(Vec<(u32, u32, u64)>),
    Finish {
        reason: String,
        kernel_sent: u64,
        kernel_drops: u64,
    },
}

/// Records until a stop condition; `on_ready` is called once, when recording has begun
/// ([`Ready`]), before the recorded command (if any) is started. It is not called when
/// the first file cannot be created.
pub fn record(
    options: &RecordOptions,
    stop: &AtomicBool,
    on_ready: &mut dyn FnMut(&Ready<'_>),
    on_progress: &mut dyn FnMut(&Progress),
    on_alert: AlertSink,
) -> Result<RecordSummary, CaptureError> {
    crate::probe::preflight()?;
    if options.output.exists() {
        return Err(CaptureError::Invalid(format!(
            "{}: already exists; casefile never overwrites a capture (choose another -o)",
            options.output.display()
        )));
    }
    let mut probe_config = options.probe.clone();
    if options.command.is_some() {
        probe_config.scope = Scope::Pids(Vec::new());
    }
    let mut probe = Probe::load(&probe_config)?;
    let mut ring = probe.take_ring()?;
    let start_ts = now_boot_ns();
    let scan = procfs::scan(Path::new("/proc"));
    if let Scope::Pids(pids) = &probe_config.scope {
        // Children the given processes already had are theirs too; later ones join at
        // fork in the kernel.
        for pid in descendants(&scan.processes, pids) {
            probe.add_scope_pid(pid)?;
        }
    }
    let (users, groups) = users::load(Path::new("/"));
    let processes = scope_snapshot(scan.processes, &probe_config.scope);
    let snapshot_processes = processes.len();
    let snapshot = StateSnapshot {
        ts: start_ts,
        processes,
        users,
        groups,
        exited: Vec::new(),
        threads: None,
    };
    let header = FileHeader {
        writer: format!("casefile {}", env!("CARGO_PKG_VERSION")),
        event_layout_version: EVENT_LAYOUT_VERSION,
        start_ts,
        host: HostInfo::detect(),
        config: CaptureConfig {
            syscall_set: probe_config.syscalls.description.clone(),
            syscalls: Vec::new(),
            snaplen: probe_config.snaplen,
            filters: options.filters.clone(),
            source: "record".into(),
        },
    };
    let shared = Arc::new(Shared::default());
    let (sender, receiver) = sync_channel::<Message>(64);
    let (created_sender, created) = sync_channel::<Option<PathBuf>>(1);
    let writer = {
        let shared = Arc::clone(&shared);
        let options = options.clone();
        let header = header.clone();
        std::thread::Builder::new()
            .name("casefile-writer".into())
            .spawn(move || {
                write_loop(
                    &options,
                    header,
                    snapshot,
                    receiver,
                    created_sender,
                    &shared,
                    on_alert,
                )
            })
            .map_err(|e| CaptureError::Invalid(format!("cannot start the writer thread: {e}")))?
    };
    // The kernel side has been recording since the probes attached; once the writer has
    // the file, nothing that happens from now on can be missing from it.
    if let Ok(Some(file)) = created.recv() {
        on_ready(&Ready {
            file: &file,
            snapshot_processes,
            start_ts,
        });
    }
    let mut child = match &options.command {
        Some(command) => {
            // Sent before the first drain, so the writer has the fork before any event of
            // the child's, and timed before the spawn, so it sorts before them too.
            let ts = now_boot_ns();
            let child = spawn_recorded(command, probe.scope_map_fd()?)?;
            let _ = sender.send(Message::Spawned {
                pid: child.id(),
                ts,
            });
            Some(child)
        }
        None => None,
    };

    let started = Instant::now();
    let mut batch = Vec::with_capacity(BATCH_BYTES);
    let mut reported_drops = KernelCounters::default();
    let mut last_status = Instant::now();
    let mut last_events = 0u64;
    let reason = loop {
        wait_readable(ring.as_raw_fd(), POLL_INTERVAL);
        drain(&mut ring, &mut batch, &sender, &shared);
        if last_status.elapsed() >= Duration::from_secs(1) {
            report_drops(&probe, &mut reported_drops, &sender);
            let events = shared.events.load(Ordering::Relaxed);
            let secs = last_status.elapsed().as_secs_f64();
            on_progress(&Progress {
                elapsed: started.elapsed(),
                events,
                events_per_sec: (events - last_events) as f64 / secs,
                drops: shared.drops.load(Ordering::Relaxed),
                bytes: shared.bytes.load(Ordering::Relaxed),
                alerts: shared.alerts.load(Ordering::Relaxed),
            });
            last_events = events;
            last_status = Instant::now();
        }
        if let Some(failure) = shared.failure.lock().map(|f| f.clone()).unwrap_or(None) {
            break StopReason::WriteFailed(failure);
        }
        if stop.load(Ordering::Relaxed) {
            break StopReason::Signal;
        }
        if shared.max_size_reached.load(Ordering::Relaxed) {
            break StopReason::MaxSize;
        }
        if options.duration.is_some_and(|d| started.elapsed() >= d) {
            break StopReason::Duration;
        }
        if let Some(child) = child.as_mut() {
            if let Ok(Some(status)) = child.try_wait() {
                break StopReason::CommandExited(status);
            }
        }
    };
    // Nothing is recorded after the detach, so one last drain takes everything and the
    // counters read after it match the file exactly.
    probe.detach();
    drain(&mut ring, &mut batch, &sender, &shared);
    report_drops(&probe, &mut reported_drops, &sender);
    let kernel = probe.counters().unwrap_or_default();
    drop(probe);
    if let Some(child) = child.as_mut() {
        if !matches!(reason, StopReason::CommandExited(_)) {
            // The recording ends here; the command goes on unrecorded, as the user was
            // told by the stop message. Reap it if it already ended.
            let _ = child.try_wait();
        }
    }
    let _ = sender.send(Message::Finish {
        reason: reason.describe(),
        kernel_sent: kernel.sent,
        kernel_drops: kernel.total_drops(),
    });
    drop(sender);
    let written = writer
        .join()
        .map_err(|_| CaptureError::Invalid("the writer thread panicked".into()))?;
    let reason = match (&reason, &written.failure) {
        (StopReason::WriteFailed(_), _) | (_, None) => reason,
        (_, Some(failure)) => StopReason::WriteFailed(failure.clone()),
    };
    let mut warnings = scan.warnings;
    warnings.extend(written.warnings);
    Ok(RecordSummary {
        reason,
        files: written.files,
        events: shared.events.load(Ordering::Relaxed),
        drops: shared.drops.load(Ordering::Relaxed),
        bytes: shared.bytes.load(Ordering::Relaxed),
        alerts: shared.alerts.load(Ordering::Relaxed),
        kept: written.kept,
        alert_latencies: {
            let mut l = written.alert_latencies;
            l.sort_unstable();
            l
        },
        malformed: written.malformed,
        first_malformed: written.first_malformed,
        kernel,
        warnings,
    })
}

/// Starts the command so that it puts itself into the recording's scope between fork
/// and exec: nothing it runs escapes, and nothing of ours is recorded.
fn spawn_recorded(command: &[OsString], map_fd: i32) -> Result<Child, CaptureError> {
    let (program, args) = command
        .split_first()
        .ok_or_else(|| CaptureError::Invalid("no command after --".into()))?;
    let mut cmd = std::process::Command::new(program);
    cmd.args(args);
    // SAFETY: the closure makes one raw syscall on locals: async-signal-safe.
    unsafe {
        cmd.pre_exec(move || register_self_in_scope(map_fd));
    }
    cmd.spawn().map_err(|e| {
        CaptureError::Invalid(format!(
            "cannot run {}: {e}",
            casefile_formats::text::escape(program.as_encoded_bytes())
        ))
    })
}

fn wait_readable(fd: i32, timeout: Duration) {
    let mut pollfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd; a failed or interrupted poll just means drain now.
    unsafe {
        libc::poll(&mut pollfd, 1, timeout.as_millis() as libc::c_int);
    }
}

/// Moves every record waiting in the ring into batches for the writer: the reading
/// thread only copies, so it keeps up with the kernel.
fn drain(
    ring: &mut aya::maps::RingBuf<aya::maps::MapData>,
    batch: &mut Vec<u8>,
    sender: &std::sync::mpsc::SyncSender<Message>,
    shared: &Shared,
) {
    while let Some(item) = ring.next() {
        batch.extend_from_slice(&(item.len() as u32).to_le_bytes());
        batch.extend_from_slice(&item);
        drop(item);
        if batch.len() >= BATCH_BYTES {
            send_batch(batch, sender, shared);
        }
    }
    if !batch.is_empty() {
        send_batch(batch, sender, shared);
    }
}

fn send_batch(batch: &mut Vec<u8>, sender: &std::sync::mpsc::SyncSender<Message>, shared: &Shared) {
    let full = std::mem::replace(batch, Vec::with_capacity(BATCH_BYTES));
    if sender.send(Message::Records(full)).is_err() {
        // The writer is gone; it recorded why in `failure`.
        let mut failure = shared.failure.lock().unwrap_or_else(|e| e.into_inner());
        failure.get_or_insert_with(|| "the writer thread stopped".into());
    }
}

fn report_drops(
    probe: &Probe,
    reported: &mut KernelCounters,
    sender: &std::sync::mpsc::SyncSender<Message>,
) {
    let Ok(now) = probe.counters() else {
        return;
    };
    let mut fresh = Vec::new();
    for &(cpu, slot, count) in &now.drops {
        let before = reported
            .drops
            .iter()
            .find(|(c, s, _)| *c == cpu && *s == slot)
            .map_or(0, |(_, _, n)| *n);
        if count > before {
            fresh.push((cpu, slot, count - before));
        }
    }
    if !fresh.is_empty() {
        let _ = sender.send(Message::Drops(fresh));
    }
    *reported = now;
}

/// What the writer thread hands back.
struct Written {
    files: Vec<PathBuf>,
    kept: Vec<PathBuf>,
    alert_latencies: Vec<u64>,
    failure: Option<String>,
    malformed: u64,
    first_malformed: Option<String>,
    warnings: Vec<String>,
}

/// The file being written, and the rotation's older files.
struct Output {
    writer: Option<CaptureWriter<File>>,
    path: PathBuf,
    files: Vec<PathBuf>,
    /// Bytes of files already finished (rotation).
    finished_bytes: u64,
    sequence: u32,
    /// Rotation sequences to keep: those in the ring when an alert fired, and the one
    /// after the alert's file.
    protected: std::collections::BTreeSet<u32>,
    /// The sequence of each file in `files`.
    sequences: Vec<u32>,
    kept: Vec<PathBuf>,
}

impl Output {
    /// Marks the files around an alert to be kept: every file still in the ring, the
    /// one being written, and the next.
    fn protect_around_alert(&mut self) {
        self.protected.extend(self.sequences.iter().copied());
        self.protected.insert(self.sequence + 1);
    }
}

fn rotated_path(base: &Path, sequence: u32) -> PathBuf {
    let stem = base
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match base.extension() {
        Some(ext) => format!("{stem}-{sequence:04}.{}", ext.to_string_lossy()),
        None => format!("{stem}-{sequence:04}"),
    };
    base.with_file_name(name)
}

fn write_loop(
    options: &RecordOptions,
    mut header: FileHeader,
    snapshot: StateSnapshot,
    receiver: Receiver<Message>,
    created: std::sync::mpsc::SyncSender<Option<PathBuf>>,
    shared: &Shared,
    on_alert: AlertSink,
) -> Written {
    let mut on_alert = Alerting {
        sink: on_alert,
        latencies: Vec::new(),
    };
    let mut written = Written {
        files: Vec::new(),
        kept: Vec::new(),
        alert_latencies: Vec::new(),
        failure: None,
        malformed: 0,
        first_malformed: None,
        warnings: Vec::new(),
    };
    let mut decoder = Decoder::new(CgroupResolver::new());
    // Every event written goes through the engine replay runs, in file order: its state
    // keeps checkpoints and rotated files current, and its alerts are the ones a replay
    // of the file gives.
    let rules = options
        .rules
        .clone()
        .unwrap_or_else(|| Arc::new(CompiledRules::default()));
    let mut engine = Engine::with_rules(
        rules,
        &snapshot,
        &header.host.hostname,
        header.host.boot_time_ns,
    );
    let first_path = match options.rotate {
        Some(_) => rotated_path(&options.output, 0),
        None => options.output.clone(),
    };
    let mut output = Output {
        writer: None,
        path: first_path.clone(),
        files: Vec::new(),
        finished_bytes: 0,
        sequence: 0,
        protected: Default::default(),
        sequences: vec![0],
        kept: Vec::new(),
    };
    match CaptureWriter::create(&first_path, &header, &snapshot, options.writer.clone()) {
        Ok(w) => {
            output.writer = Some(w);
            let _ = created.send(Some(first_path.clone()));
            output.files.push(first_path);
        }
        Err(e) => {
            let _ = created.send(None);
            written.failure = Some(e.to_string());
            *shared.failure.lock().unwrap_or_else(|e| e.into_inner()) = Some(e.to_string());
            return written;
        }
    }
    let mut meta = ArgsBuilder::new();
    let mut last_ts = header.start_ts;
    let result = (|| -> Result<(), casefile_formats::error::FormatError> {
        {
            meta.clear();
            meta.str(header.config.syscall_set.as_bytes());
            let event = meta_event(EventKind::CAPTURE_START, header.start_ts, &meta);
            emit(&mut output, &mut engine, &event, shared, &mut on_alert)?;
        }
        loop {
            let message = match receiver.recv_timeout(Duration::from_millis(200)) {
                Ok(m) => m,
                Err(RecvTimeoutError::Timeout) => {
                    if let Some(w) = output.writer.as_mut() {
                        w.tick()?;
                    }
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            };
            match message {
                Message::Records(batch) => {
                    let mut pos = 0;
                    while pos + 4 <= batch.len() {
                        let len =
                            u32::from_le_bytes(batch[pos..pos + 4].try_into().unwrap_or([0; 4]))
                                as usize;
                        let Some(bytes) = batch.get(pos + 4..pos + 4 + len) else {
                            break;
                        };
                        pos += 4 + len;
                        let decoded = Record::parse(bytes).and_then(|r| decoder.decode(&r));
                        match decoded {
                            Ok(event) => {
                                last_ts = last_ts.max(event.ts);
                                emit(&mut output, &mut engine, &event, shared, &mut on_alert)?;
                                shared.events.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(e) => {
                                written.malformed += 1;
                                written.first_malformed.get_or_insert_with(|| e.to_string());
                            }
                        }
                    }
                }
                Message::Spawned { pid, ts } => {
                    // As the kernel side writes a fork: the child's pid and tid (the same
                    // for a new process), signed, and the clone flags.
                    meta.clear();
                    meta.int(i64::from(pid)).int(i64::from(pid)).uint(0);
                    let event = meta_event(EventKind::FORK, ts, &meta);
                    emit(&mut output, &mut engine, &event, shared, &mut on_alert)?;
                }
                Message::Drops(drops) => {
                    for (cpu, slot, count) in drops {
                        meta.clear();
                        meta.uint(u64::from(cpu)).uint(count).uint(u64::from(slot));
                        let event = meta_event(EventKind::DROPS, now_boot_ns(), &meta);
                        emit(&mut output, &mut engine, &event, shared, &mut on_alert)?;
                        shared.drops.fetch_add(count, Ordering::Relaxed);
                    }
                }
                Message::Finish {
                    reason,
                    kernel_sent,
                    kernel_drops,
                } => {
                    meta.clear();
                    meta.str(reason.as_bytes())
                        .uint(kernel_sent)
                        .uint(kernel_drops);
                    let event = meta_event(EventKind::CAPTURE_STOP, now_boot_ns(), &meta);
                    emit(&mut output, &mut engine, &event, shared, &mut on_alert)?;
                    break;
                }
            }
            let Some(w) = output.writer.as_mut() else {
                break;
            };
            w.tick()?;
            if w.checkpoint_due() {
                w.write_checkpoint(&engine.state().snapshot(last_ts))?;
            }
            let position = w.position();
            shared
                .bytes
                .store(output.finished_bytes + position, Ordering::Relaxed);
            if options.max_size.is_some_and(|max| position >= max) {
                shared.max_size_reached.store(true, Ordering::Relaxed);
            }
            if let Some(rotation) = &options.rotate {
                if position >= rotation.size {
                    rotate(
                        &mut output,
                        options,
                        rotation,
                        &mut header,
                        &engine,
                        last_ts,
                    )?;
                }
            }
        }
        if let Some(w) = output.writer.take() {
            let (file, _) = w.finish()?;
            file.sync_all()
                .map_err(|e| casefile_formats::error::FormatError::io(&output.path, e))?;
        }
        Ok(())
    })();
    if let Err(e) = result {
        let message = describe_write_error(&e);
        written.failure = Some(message.clone());
        *shared.failure.lock().unwrap_or_else(|e| e.into_inner()) = Some(message);
        // Dropping the writer writes what it still holds, if the disk lets it.
        drop(output.writer.take());
    }
    if let Ok(meta) = std::fs::metadata(&output.path) {
        shared
            .bytes
            .store(output.finished_bytes + meta.len(), Ordering::Relaxed);
    }
    written.files = output.files;
    written.kept = output.kept;
    written.alert_latencies = on_alert.latencies;
    written
}

fn describe_write_error(e: &casefile_formats::error::FormatError) -> String {
    use std::error::Error;
    let no_space = e
        .source()
        .and_then(|s| s.downcast_ref::<std::io::Error>())
        .is_some_and(|io| io.raw_os_error() == Some(libc::ENOSPC));
    if no_space {
        format!("disk full ({e}); everything flushed before it is readable")
    } else {
        e.to_string()
    }
}

/// An event casefile itself adds (capture start and stop, drops).
fn meta_event(kind: EventKind, ts: u64, args: &ArgsBuilder) -> Event<'_> {
    Event {
        ts,
        cpu: 0,
        pid: std::process::id(),
        tid: std::process::id(),
        kind,
        ret: 0,
        args: args.as_list(),
    }
}

/// Where live alerts go, and how long each took from its syscall to its sink.
struct Alerting {
    sink: AlertSink,
    /// Nanoseconds from the event's timestamp to the sink's return, per alert (the
    /// first [`MAX_LATENCIES`]).
    latencies: Vec<u64>,
}

const MAX_LATENCIES: usize = 1 << 20;

/// One event into the engine (state, rules) and then into the file.
fn emit(
    output: &mut Output,
    engine: &mut Engine,
    event: &Event<'_>,
    shared: &Shared,
    alerting: &mut Alerting,
) -> Result<(), casefile_formats::error::FormatError> {
    let mut alerted = false;
    engine.process(event, |alert| {
        alerted = true;
        shared.alerts.fetch_add(1, Ordering::Relaxed);
        (alerting.sink)(&alert);
        if alerting.latencies.len() < MAX_LATENCIES {
            alerting
                .latencies
                .push(now_boot_ns().saturating_sub(event.ts));
        }
    });
    if alerted {
        output.protect_around_alert();
    }
    match output.writer.as_mut() {
        Some(w) => w.push(event),
        None => Ok(()),
    }
}

fn rotate(
    output: &mut Output,
    options: &RecordOptions,
    rotation: &Rotation,
    header: &mut FileHeader,
    engine: &Engine,
    last_ts: u64,
) -> Result<(), casefile_formats::error::FormatError> {
    if let Some(w) = output.writer.take() {
        let (file, _) = w.finish()?;
        output.finished_bytes += file.metadata().map(|m| m.len()).unwrap_or(0);
    }
    output.sequence += 1;
    let path = rotated_path(&options.output, output.sequence);
    header.start_ts = last_ts;
    let snapshot = engine.state().snapshot(last_ts);
    output.writer = Some(CaptureWriter::create(
        &path,
        header,
        &snapshot,
        options.writer.clone(),
    )?);
    output.path = path.clone();
    output.files.push(path);
    output.sequences.push(output.sequence);
    while output.files.len() > rotation.keep.max(1) {
        let oldest = output.files.remove(0);
        let sequence = output.sequences.remove(0);
        if let Ok(meta) = std::fs::metadata(&oldest) {
            output.finished_bytes = output.finished_bytes.saturating_sub(meta.len());
        }
        match &options.keep_on_alert {
            Some(dir) if output.protected.remove(&sequence) => {
                let kept = keep_file(&oldest, dir)?;
                output.kept.push(kept);
            }
            _ => {
                let _ = std::fs::remove_file(&oldest);
            }
        }
    }
    Ok(())
}

/// Moves a rotated file into the keep-on-alert directory (copying when it is on another
/// file system).
fn keep_file(path: &Path, dir: &Path) -> Result<PathBuf, casefile_formats::error::FormatError> {
    let target = dir.join(path.file_name().unwrap_or_default());
    if std::fs::rename(path, &target).is_err() {
        std::fs::copy(path, &target)
            .map_err(|e| casefile_formats::error::FormatError::io(&target, e))?;
        let _ = std::fs::remove_file(path);
    }
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotated_files_are_numbered_before_the_extension() {
        assert_eq!(
            rotated_path(Path::new("/tmp/incident.case"), 3),
            PathBuf::from("/tmp/incident-0003.case")
        );
        assert_eq!(
            rotated_path(Path::new("capture"), 12),
            PathBuf::from("capture-0012")
        );
    }
}
