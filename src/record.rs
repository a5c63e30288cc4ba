//! `casefile record`: the command line of the live recorder — options, signals, the
//! status line and the closing summary. The recording itself is `casefile_capture`.

use anyhow::{bail, Context};
use casefile_capture::probe::{ProbeConfig, Scope};
use casefile_capture::recorder::{self, Progress, Ready, RecordOptions, Rotation, StopReason};
use casefile_capture::syscalls::SyscallSet;
use casefile_formats::writer::WriterOptions;
use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub struct RecordArgs {
    pub output: PathBuf,
    pub duration: Option<u64>,
    pub max_size: Option<String>,
    pub rotate: Option<String>,
    pub keep: Option<usize>,
    pub syscalls: String,
    pub snaplen: u32,
    pub pid: Vec<u32>,
    pub cgroup: Option<PathBuf>,
    pub ring_size: String,
    pub quiet: bool,
    pub rules: Vec<PathBuf>,
    pub alerts: Option<PathBuf>,
    pub keep_on_alert: Option<PathBuf>,
    pub ready_file: Option<PathBuf>,
    pub ready_fd: Option<i32>,
    pub command: Vec<OsString>,
}

/// What `main` should exit with.
pub enum Outcome {
    /// The recording ended as asked (signal, duration, size).
    Done,
    /// The recorded command's exit code.
    Command(u8),
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn request_stop(_signal: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

fn install_signal_handlers() {
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe {
            libc::signal(signal, request_stop as *const () as libc::sighandler_t);
        }
    }
}

/// `64M`, `1G`, `500k`, `4096`: binary multiples.
pub fn parse_size(text: &str) -> anyhow::Result<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .with_context(|| format!("{text:?} is not a size (examples: 4096, 500k, 64M, 2G)"))?;
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        other => bail!("unknown size unit {other:?} in {text:?} (use k, M or G)"),
    };
    number
        .checked_mul(multiplier)
        .with_context(|| format!("{text:?} is too large"))
}

/// The ready line, the same on stderr, in `--ready-file` and on `--ready-fd`
/// (documented in `casefile record --help`): fixed keys in a fixed order, the file last
/// because it runs to the end of the line, escaped like every path casefile prints.
fn ready_line(ready: &Ready<'_>) -> String {
    format!(
        "casefile: recording: pid={} snapshot={} start_ts={} file={}",
        std::process::id(),
        ready.snapshot_processes,
        ready.start_ts,
        casefile_formats::text::escape(ready.file.as_os_str().as_encoded_bytes())
    )
}

/// Where the ready line goes besides stderr, checked before anything is loaded so that a
/// script's mistake is a clear error, not a recording nobody hears start.
struct ReadySignals {
    file: Option<PathBuf>,
    fd: Option<std::fs::File>,
}

impl ReadySignals {
    fn open(file: Option<&PathBuf>, fd: Option<i32>) -> anyhow::Result<ReadySignals> {
        if let Some(path) = file {
            // A file left from an earlier run would say "ready" before this one is.
            if path.symlink_metadata().is_ok() {
                bail!(
                    "--ready-file {}: already exists; remove it first (it must appear only once this recording has begun)",
                    path.display()
                );
            }
        }
        let fd = match fd {
            None => None,
            Some(n) if n <= 2 => {
                bail!("--ready-fd {n}: use a descriptor above 2 (0-2 are stdin, stdout, stderr)")
            }
            Some(n) => {
                // SAFETY: F_GETFD only asks whether the descriptor is open.
                if unsafe { libc::fcntl(n, libc::F_GETFD) } < 0 {
                    bail!("--ready-fd {n}: no such open file descriptor (pass one from the parent, e.g. `3>ready.fifo`)");
                }
                // SAFETY: the descriptor is open, was handed to us for this use alone,
                // and is owned (and closed) by this File from now on.
                Some(unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(n) })
            }
        };
        Ok(ReadySignals {
            file: file.cloned(),
            fd,
        })
    }

    /// Says the line everywhere it was asked for. A reader that went away is not a
    /// reason to stop recording: the failure is a warning.
    fn signal(&mut self, line: &str) {
        if let Some(path) = &self.file {
            // Written beside it and renamed: whoever sees the file sees all of it.
            let mut partial = path.as_os_str().to_owned();
            partial.push(format!(".partial-{}", std::process::id()));
            let partial = PathBuf::from(partial);
            let written = std::fs::write(&partial, format!("{line}\n"))
                .and_then(|()| std::fs::rename(&partial, path));
            if let Err(e) = written {
                let _ = std::fs::remove_file(&partial);
                eprintln!("casefile: warning: --ready-file {}: {e}", path.display());
            }
        }
        if let Some(mut fd) = self.fd.take() {
            // Closed after the line: a reader waiting for EOF is released too.
            if let Err(e) = writeln!(fd, "{line}") {
                eprintln!("casefile: warning: --ready-fd: {e}");
            }
        }
    }
}

pub fn run(args: RecordArgs) -> anyhow::Result<Outcome> {
    let mut ready_signals = ReadySignals::open(args.ready_file.as_ref(), args.ready_fd)?;
    let syscalls = SyscallSet::parse(&args.syscalls)?;
    let ring_bytes = parse_size(&args.ring_size).context("--ring-size")?;
    if !ring_bytes.is_power_of_two() || !(4096..=(1 << 30)).contains(&ring_bytes) {
        bail!("--ring-size must be a power of two between 4k and 1G (got {ring_bytes} bytes)");
    }
    let mut filters = Vec::new();
    let scope = match (&args.pid[..], &args.cgroup) {
        ([], None) => Scope::All,
        (pids, None) => {
            filters.extend(pids.iter().map(|p| format!("pid={p}")));
            Scope::Pids(pids.to_vec())
        }
        ([], Some(path)) => {
            let resolver = casefile_capture::cgroups::CgroupResolver::new();
            let (id, level) = resolver.id_of(path).with_context(|| {
                format!(
                    "--cgroup {}: not a cgroup v2 directory (cgroup2 is mounted at {})",
                    path.display(),
                    resolver
                        .root()
                        .map(|r| r.display().to_string())
                        .unwrap_or_else(|| "no place on this host".into())
                )
            })?;
            filters.push(format!("cgroup={}", path.display()));
            Scope::Cgroup { id, level }
        }
        _ => bail!("--pid and --cgroup cannot be combined"),
    };
    if !args.command.is_empty() && scope != Scope::All {
        bail!("with a command (-- COMMAND), the command and its children are the scope; drop --pid/--cgroup");
    }
    let rotate = match (&args.rotate, args.keep) {
        (Some(size), keep) => Some(Rotation {
            size: parse_size(size).context("--rotate")?,
            keep: keep.unwrap_or(10),
        }),
        (None, Some(_)) => bail!("--keep needs --rotate SIZE"),
        (None, None) => None,
    };
    if !args.command.is_empty() {
        filters.push("command".into());
    }
    let rules = if args.rules.is_empty() {
        if args.alerts.is_some() || args.keep_on_alert.is_some() {
            bail!("--alerts and --keep-on-alert need --rules PATH");
        }
        None
    } else {
        let rules = crate::replay_cmd::load_rules(&args.rules)?;
        if rules.rules().is_empty() {
            bail!("no enabled rules in the --rules files");
        }
        Some(std::sync::Arc::new(rules))
    };
    if let Some(dir) = &args.keep_on_alert {
        if rotate.is_none() {
            bail!("--keep-on-alert keeps rotated files: it needs --rotate SIZE --keep N");
        }
        std::fs::create_dir_all(dir)
            .with_context(|| format!("--keep-on-alert {}", dir.display()))?;
    }
    // Alerts print on stdout as they happen (text, as Falco prints them) and, with
    // --alerts, go to a file as JSON lines: the shape `casefile replay --json` gives.
    let mut alert_file = match &args.alerts {
        Some(path) => Some(crate::replay_cmd::AlertWriter::new(Some(path), true)?),
        None => None,
    };
    let on_alert: recorder::AlertSink = Box::new(move |alert| {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", alert.to_text());
        let _ = out.flush();
        if let Some(file) = alert_file.as_mut() {
            // Flushed per alert: a responder tails this file while the recording runs.
            let _ = file.write(alert).and_then(|()| file.flush());
        }
    });
    let options = RecordOptions {
        output: args.output.clone(),
        probe: ProbeConfig {
            syscalls,
            snaplen: args.snaplen,
            ring_bytes: ring_bytes as u32,
            scope,
            ..ProbeConfig::default()
        },
        duration: args.duration.map(Duration::from_secs),
        max_size: args
            .max_size
            .as_deref()
            .map(parse_size)
            .transpose()
            .context("--max-size")?,
        rotate,
        command: (!args.command.is_empty()).then(|| args.command.clone()),
        filters,
        writer: WriterOptions::default(),
        rules,
        keep_on_alert: args.keep_on_alert.clone(),
    };
    install_signal_handlers();
    let quiet = args.quiet;
    let mut status_shown = false;
    let mut on_progress = |p: &Progress| {
        if quiet {
            return;
        }
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r\x1b[2Krecording {:>5.0}s  {:>10} events  {:>9.0} ev/s  {:>6} dropped  {:>8.1} MB  {} alerts",
            p.elapsed.as_secs_f64(),
            p.events,
            p.events_per_sec,
            p.drops,
            p.bytes as f64 / 1e6,
            p.alerts
        );
        let _ = err.flush();
        status_shown = true;
    };
    let mut on_ready = |ready: &Ready<'_>| {
        let line = ready_line(ready);
        if !quiet {
            eprintln!("{line}");
        }
        ready_signals.signal(&line);
    };
    let summary = recorder::record(&options, &STOP, &mut on_ready, &mut on_progress, on_alert)?;
    if status_shown {
        eprintln!();
    }
    for warning in &summary.warnings {
        eprintln!("casefile: warning: {warning}");
    }
    if summary.malformed > 0 {
        eprintln!(
            "casefile: warning: {} kernel records could not be decoded (first: {})",
            summary.malformed,
            summary.first_malformed.as_deref().unwrap_or("?")
        );
    }
    if !quiet || matches!(summary.reason, StopReason::WriteFailed(_)) {
        let files: Vec<String> = summary
            .files
            .iter()
            .map(|f| f.display().to_string())
            .collect();
        eprintln!(
            "casefile: {} events, {} dropped by the kernel side, {:.1} MB in {}",
            summary.events,
            summary.drops,
            summary.bytes as f64 / 1e6,
            files.join(", ")
        );
        if options.rules.is_some() {
            let latencies = &summary.alert_latencies;
            let at = |q: f64| {
                let i = ((latencies.len() as f64 - 1.0) * q).round() as usize;
                latencies.get(i).map_or(0.0, |&ns| ns as f64 / 1e6)
            };
            if latencies.is_empty() {
                eprintln!("casefile: 0 alerts");
            } else {
                eprintln!(
                    "casefile: {} alerts; alert latency (syscall to alert printed) p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
                    summary.alerts,
                    at(0.5),
                    at(0.99),
                    at(1.0)
                );
            }
        }
        if !summary.kept.is_empty() {
            let kept: Vec<String> = summary
                .kept
                .iter()
                .map(|f| f.display().to_string())
                .collect();
            eprintln!("casefile: kept around alerts: {}", kept.join(", "));
        }
    }
    match summary.reason {
        StopReason::WriteFailed(why) => {
            bail!("recording stopped: {why}")
        }
        StopReason::CommandExited(status) => {
            use std::os::unix::process::ExitStatusExt;
            let code = status
                .code()
                .or_else(|| status.signal().map(|s| 128 + s))
                .unwrap_or(1);
            Ok(Outcome::Command(code.clamp(0, 255) as u8))
        }
        _ => Ok(Outcome::Done),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert_eq!(parse_size("500k").unwrap(), 500 << 10);
        assert_eq!(parse_size("64M").unwrap(), 64 << 20);
        assert_eq!(parse_size("2G").unwrap(), 2 << 30);
        assert!(parse_size("12 parsecs").is_err());
        assert!(parse_size("M").is_err());
        assert!(parse_size("99999999999999G").is_err());
    }
}
