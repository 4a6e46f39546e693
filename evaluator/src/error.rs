//! Errors of the evaluator library: each names the file involved and what to do.

use std::path::PathBuf;

/// What can stop an evaluation, a comparison, `tabulate` or `sync`.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// The checkpoint could not be loaded.
    #[error(transparent)]
    Checkpoint(#[from] nets::checkpoint::CheckpointError),
    /// The shard manifest could not be read, or a shard failed its check.
    #[error(transparent)]
    Manifest(#[from] manifests::Error),
    /// A shard could not be read.
    #[error(transparent)]
    Shard(#[from] shards::Error),
    /// The shards were written by another schema version.
    #[error("{}: shard schema version {found}, this build reads version {expected}; re-run `preprocess` with this version", path.display())]
    SchemaVersion {
        /// The manifest.
        path: PathBuf,
        /// Version found.
        found: u32,
        /// Version read by this build.
        expected: u32,
    },
    /// The split has no shards.
    #[error("{}: no shards of split {split:?} (is the split empty?)", path.display())]
    NoShards {
        /// The manifest.
        path: PathBuf,
        /// Split asked for.
        split: String,
    },
    /// An utterance listed in two shards of the split (it would be counted twice).
    #[error("{}: utterance {utt_id} is in both {first} and {second}; a split must list each utterance once", path.display())]
    Duplicate {
        /// The manifest.
        path: PathBuf,
        /// The utterance.
        utt_id: String,
        /// The shard listing it first.
        first: String,
        /// The other shard.
        second: String,
    },
    /// Every utterance was excluded.
    #[error("no utterance of split {split:?} could be scored ({excluded} excluded)")]
    NothingScored {
        /// Split.
        split: String,
        /// Utterances excluded.
        excluded: usize,
    },
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// A scores file that is not one (Parquet or safetensors).
    #[error("{}: not a scores file ({detail})", path.display())]
    NotScores {
        /// File.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// Writing a Parquet file failed.
    #[error("{}: {source}", path.display())]
    Parquet {
        /// File.
        path: PathBuf,
        /// Cause.
        source: parquet::errors::ParquetError,
    },
    /// A JSON file that is not what `evaluator run` writes.
    #[error("{}: {detail}", path.display())]
    Results {
        /// File.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// Drawing a figure failed.
    #[error(transparent)]
    Figure(#[from] plots::PlotError),
    /// The face detector could not start.
    #[error(transparent)]
    Detector(#[from] preprocess::PreprocessError),
    /// A video that cannot be scored (`sync`).
    #[error("{}: {reason}", video.display())]
    Unscorable {
        /// The video.
        video: PathBuf,
        /// Why.
        reason: String,
    },
}

/// Result alias for this crate.
pub type Result<T, E = EvalError> = std::result::Result<T, E>;

pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> EvalError + '_ {
    move |source| EvalError::Io { path: path.to_path_buf(), source }
}
