//! Errors of the table builders, the Parquet export and the SQL sources.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Parquet {
        path: PathBuf,
        source: parquet::errors::ParquetError,
    },
    #[error(transparent)]
    Arrow(#[from] arrow::error::ArrowError),
    #[error(transparent)]
    DataFusion(#[from] datafusion::error::DataFusionError),
    #[error(transparent)]
    Set(#[from] casefile_replay::set::SetError),
    #[error("{path}: {detail}")]
    Export { path: PathBuf, detail: String },
    #[error("{0}")]
    Source(String),
}

impl SqlError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> SqlError {
        SqlError::Io {
            path: path.into(),
            source,
        }
    }
}
