//! Errors of the shard crate: each names the file (and row group or utterance) it is about.

use std::path::PathBuf;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong reading or writing a shard.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A filesystem operation failed.
    #[error("{path}: {action} failed: {source}")]
    Io {
        /// File involved.
        path: PathBuf,
        /// What was being done ("create", "rename", ...).
        action: &'static str,
        /// Underlying error.
        source: std::io::Error,
    },
    /// The Parquet layer failed (corrupt or truncated file, usually).
    #[error("{path}: not a readable Parquet shard ({source}); re-run `preprocess` for it")]
    Parquet {
        /// File involved.
        path: PathBuf,
        /// Underlying error.
        source: parquet::errors::ParquetError,
    },
    /// The Arrow layer failed.
    #[error("{path}: Arrow error: {source}")]
    Arrow {
        /// File involved.
        path: PathBuf,
        /// Underlying error.
        source: arrow::error::ArrowError,
    },
    /// The shard was written with another schema version.
    #[error("{path}: shard schema version {found:?}, this build reads version {expected}; re-run `preprocess` with this version")]
    SchemaVersion {
        /// File involved.
        path: PathBuf,
        /// Version found in the file metadata (None when absent).
        found: Option<String>,
        /// Version this build understands.
        expected: u32,
    },
    /// A column is missing, has the wrong type, or a row is inconsistent.
    #[error("{path}: {what}")]
    Invalid {
        /// File involved.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
    /// An utterance to be written is inconsistent (e.g. frame bytes do not match the frame count).
    #[error("utterance {utt_id}: {what}")]
    BadUtterance {
        /// Utterance id.
        utt_id: String,
        /// What is wrong.
        what: String,
    },
    /// The requested utterance is not in this shard.
    #[error("{path}: no utterance {utt_id}")]
    NotFound {
        /// File searched.
        path: PathBuf,
        /// Utterance id looked for.
        utt_id: String,
    },
}
