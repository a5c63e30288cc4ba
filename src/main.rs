//! The `casefile` command line: parses arguments, runs one command, and turns errors
//! into messages and exit codes. Each command lives in its own module.

mod cat;
mod info;
mod procnames;
mod timespec;

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
}

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
