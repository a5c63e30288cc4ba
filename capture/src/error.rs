//! Why a recording could not start or had to stop.

use std::path::PathBuf;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum CaptureError {
    /// Something the host lacks; the message says what and how to fix it.
    #[error("{0}")]
    Unsupported(String),
    #[error("loading the kernel programs failed: {0}")]
    Load(String),
    #[error("attaching {program} to {tracepoint} failed: {detail}")]
    Attach {
        program: &'static str,
        tracepoint: &'static str,
        detail: String,
    },
    #[error("kernel program map {map}: {detail}")]
    Map { map: &'static str, detail: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Format(#[from] casefile_formats::error::FormatError),
    #[error("{0}")]
    Invalid(String),
}
