//! Errors of the preprocessing library. A [`PreprocessError`] stops a command (bad flags, an
//! unreadable corpus layout, a failed write); a bad *item* never does: it becomes a
//! [`crate::process::Skip`] recorded in the manifest.

use std::path::PathBuf;

/// What can stop `preprocess run`, `merge`, `inspect`, `bench` or `synth`.
#[derive(Debug, thiserror::Error)]
pub enum PreprocessError {
    /// A file or directory could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// A split list, manifest or checksum failed.
    #[error(transparent)]
    Manifest(#[from] manifests::Error),
    /// A shard could not be read or written.
    #[error(transparent)]
    Shard(#[from] shards::Error),
    /// The corpus is not in the LRS2 layout.
    #[error("{}: no split lists (pretrain.txt, train.txt, val.txt, test.txt); point --lrs2-root at mvlrs_v1/ or its parent", root.display())]
    NoSplitLists {
        /// Where they were looked for.
        root: PathBuf,
    },
    /// A split asked for has no list.
    #[error("{}: no {split}.txt split list", root.display())]
    NoSplitList {
        /// The `mvlrs_v1` directory.
        root: PathBuf,
        /// The split.
        split: &'static str,
    },
    /// A split list without a single utterance.
    #[error("{}: lists no utterances; fill it or leave the split out", path.display())]
    EmptyList {
        /// The list.
        path: PathBuf,
    },
    /// An offsets file for `--shift-audio` that cannot be used.
    #[error("{}: {detail}", path.display())]
    Offsets {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// Cluster task flags or variables that do not make one task.
    #[error("{0}")]
    Task(&'static str),
    /// A task variable that is not a number.
    #[error("{name}={value:?} is not a number")]
    TaskVar {
        /// Variable.
        name: String,
        /// Its value.
        value: String,
    },
    /// A task index out of range.
    #[error("task index {index} is not below the task count {count}")]
    TaskIndex {
        /// Index.
        index: usize,
        /// Count.
        count: usize,
    },
    /// The output holds work of another run.
    #[error("{}: {detail}", path.display())]
    Conflict {
        /// The file.
        path: PathBuf,
        /// What differs and what to do.
        detail: String,
    },
    /// The embedded face model could not be read.
    #[error("embedded face model unreadable: {0}")]
    FaceModel(String),
    /// An external tool (ffmpeg, espeak-ng) failed.
    #[error("{tool}: {detail}")]
    Tool {
        /// The tool.
        tool: &'static str,
        /// What it said.
        detail: String,
    },
    /// An utterance asked for is not in the shards.
    #[error("{}: no utterance {utt_id} in the shards", dir.display())]
    NoUtterance {
        /// Shard directory.
        dir: PathBuf,
        /// The id.
        utt_id: String,
    },
    /// An utterance whose source could not be decoded again (`inspect --boxes-out`).
    #[error("{}: {source}", path.display())]
    Decode {
        /// The video.
        path: PathBuf,
        /// Why.
        source: crate::decode::DecodeError,
    },
    /// The worker pool could not start.
    #[error("cannot start {0} worker threads")]
    Pool(usize),
    /// One clip of the synthetic corpus could not be made.
    #[error("{rel}: {source}")]
    Clip {
        /// The clip's path under `mvlrs_v1/`.
        rel: String,
        /// Why.
        source: Box<PreprocessError>,
    },
    /// Bad synthetic-corpus settings.
    #[error("{0}")]
    SynthConfig(&'static str),
    /// Drawing an image failed.
    #[error("{}: {detail}", path.display())]
    Image {
        /// The image.
        path: PathBuf,
        /// What the image crate said.
        detail: String,
    },
}

/// Result alias for this crate.
pub type Result<T, E = PreprocessError> = std::result::Result<T, E>;

pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> PreprocessError + '_ {
    move |source| PreprocessError::Io { path: path.to_path_buf(), source }
}
