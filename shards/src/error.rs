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
    /// A row group that does not follow the schema.
    #[error("{path}: row group {row_group}: {source}")]
    Row {
        /// File involved.
        path: PathBuf,
        /// Row group.
        row_group: usize,
        /// What is wrong.
        source: RowError,
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
        what: SizeMismatch,
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

/// What is wrong with a row group read from a shard.
#[derive(Debug, thiserror::Error)]
pub enum RowError {
    /// A column of the schema is absent.
    #[error("column {0} missing")]
    MissingColumn(String),
    /// A column of another Arrow type.
    #[error("column {0} has an unexpected type")]
    ColumnType(String),
    /// A list column whose items have another type.
    #[error("column {0} has unexpected item type")]
    ItemType(String),
    /// A null in a column (every column of the schema is required).
    #[error("column {0} holds nulls; every column is required (see SCHEMA.md)")]
    Null(String),
    /// A split name outside the four of SPEC §1.5.
    #[error(transparent)]
    Split(#[from] UnknownSplit),
    /// A row whose arrays disagree with its sizes.
    #[error("utterance {utt_id}: {what}")]
    Utterance {
        /// Utterance id.
        utt_id: String,
        /// What disagrees.
        what: SizeMismatch,
    },
}

/// A split name that is not `pretrain`, `train`, `val` or `test`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown split {0:?} (expected pretrain, train, val or test)")]
pub struct UnknownSplit(pub String);

/// An utterance whose arrays disagree with its declared sizes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SizeMismatch {
    /// `frames` is not `num_frames` crops.
    #[error("frames hold {bytes} bytes, expected {frames} frames × {per_frame} = {}", frames * per_frame)]
    Frames {
        /// Bytes held.
        bytes: usize,
        /// Declared frames.
        frames: usize,
        /// Bytes per crop.
        per_frame: usize,
    },
    /// Face boxes or flags not one per frame.
    #[error("{boxes} face boxes and {flags} face flags for {frames} frames")]
    Faces {
        /// Boxes.
        boxes: usize,
        /// Flags.
        flags: usize,
        /// Frames.
        frames: usize,
    },
    /// `mel` is not 80 × `mel_frames`.
    #[error("mel holds {values} values, expected {bands} × {frames}")]
    Mel {
        /// Values held.
        values: usize,
        /// Mel bands.
        bands: usize,
        /// Declared mel frames.
        frames: u32,
    },
}
