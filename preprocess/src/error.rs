//! Errors of the preprocessing library. A [`PreprocessError`] stops a command (bad flags, an
//! unreadable corpus layout, a failed write); a bad *item* never does: it becomes a
//! skip reason recorded in the manifest (a layout's [`crate::engine::Layout::Skip`]).

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
    #[error(transparent)]
    Task(#[from] cli::TaskError),
    /// A partial manifest of this task written with other parameters (resume refused).
    #[error("{}: written with other parameters; use a fresh --out or --no-resume", path.display())]
    OtherParameters {
        /// The partial manifest.
        path: PathBuf,
    },
    /// `merge` found no partial manifest.
    #[error("{}: no partial manifests (manifest.task-*.json); run `preprocess run` first", out.display())]
    NoPartialManifests {
        /// The output directory.
        out: PathBuf,
    },
    /// `merge` before every task finished.
    #[error("{}: tasks not finished yet: {tasks}", out.display())]
    TasksUnfinished {
        /// The output directory.
        out: PathBuf,
        /// The partial manifests missing.
        tasks: String,
    },
    /// Two tasks of one set with other parameters.
    #[error("{}: {name} was written with other parameters", out.display())]
    MixedParameters {
        /// The output directory.
        out: PathBuf,
        /// The partial manifest that differs.
        name: String,
    },
    /// `--list` names no file.
    #[error("{}: no such list file; pass the split list (e.g. filelists/test.txt) with --list", path.display())]
    NoListFile {
        /// The list asked for.
        path: PathBuf,
    },
    /// `--root` of the import is no directory.
    #[error("{}: not a directory; pass the Wav2Lip preprocessed root (<root>/<programme>/<utt>/*.jpg) with --root", path.display())]
    NotARoot {
        /// The path given.
        path: PathBuf,
    },
    /// A shard set's manifest without a usable `params.process.adjust`.
    #[error("{}: params.process.adjust: {detail}", path.display())]
    BadAdjust {
        /// The manifest.
        path: PathBuf,
        /// What serde said.
        detail: String,
    },
    /// A source video that is not the file a shard row was made from.
    #[error("{}: sha256 differs from the one recorded in the shard; is --lrs2-root the corpus these shards were made from?", path.display())]
    SourceChanged {
        /// The video.
        path: PathBuf,
    },
    /// The embedded face model could not be read.
    #[error(transparent)]
    FaceModel(#[from] media::face::FaceModelError),
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
        source: media::decode::DecodeError,
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
