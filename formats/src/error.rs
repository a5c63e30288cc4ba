//! Errors of reading and writing capture files. Every error that concerns a file names
//! it, and every error about its contents names the byte offset, so an investigator can
//! look at the damage with a hex editor.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: is a directory, not a capture file")]
    IsDirectory { path: PathBuf },
    #[error("{path}: empty file (0 bytes), not a capture")]
    Empty { path: PathBuf },
    #[error("{path}: not a casefile capture: offset 0 holds {found:?}, expected \"CASEFILE\"")]
    BadMagic { path: PathBuf, found: String },
    #[error(
        "{path}: capture format {major}.{minor} is newer than this casefile reads \
         (up to {supported}.x); upgrade casefile to read it"
    )]
    TooNew {
        path: PathBuf,
        major: u16,
        minor: u16,
        supported: u16,
    },
    #[error(
        "{path}: its events use layout version {found}, which this casefile cannot decode \
         (it reads layouts 1 to {supported}); {advice}"
    )]
    UnsupportedLayout {
        path: PathBuf,
        found: u32,
        supported: u32,
        advice: &'static str,
    },
    #[error("{path}: file header damaged at offset {offset}: {detail}")]
    BadHeader {
        path: PathBuf,
        offset: u64,
        detail: String,
    },
    #[error("{path}: block at offset {offset}: {detail}")]
    Block {
        path: PathBuf,
        offset: u64,
        detail: String,
    },
    #[error("{path}: {detail}")]
    Write { path: PathBuf, detail: String },
}

impl FormatError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        FormatError::Io {
            path: path.into(),
            source,
        }
    }
}
