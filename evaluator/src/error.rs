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
    /// A results file that cannot be read (`compare`).
    #[error("{}: {source}; is this an `evaluator run` results directory?", path.display())]
    ResultsUnreadable {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// A JSON file that is not JSON.
    #[error("{}: {source}", path.display())]
    Json {
        /// File.
        path: PathBuf,
        /// Cause.
        source: serde_json::Error,
    },
    /// `accuracy.json` without its six macro means.
    #[error("{}: no macro_mean of {count} values", path.display())]
    NoMacroMean {
        /// `accuracy.json`.
        path: PathBuf,
        /// Values expected.
        count: usize,
    },
    /// Two seeds of one model name with different sizes (`compare`).
    #[error("{}: {run} has {parameters} parameters but another seed of {model} has {other}; pass only runs of the same model under one name", path.display())]
    SizeMismatch {
        /// The results directory.
        path: PathBuf,
        /// Its run name.
        run: String,
        /// The model name.
        model: String,
        /// Its parameters.
        parameters: usize,
        /// The other seed's.
        other: usize,
    },
    /// A results directory given twice (`compare`).
    #[error("{}: {run} is given twice; pass each results directory once", path.display())]
    GivenTwice {
        /// The results directory.
        path: PathBuf,
        /// Its run name.
        run: String,
    },
    /// `--dir` that is no directory.
    #[error("{}: not a directory", .0.display())]
    NotADirectory(PathBuf),
    /// Nothing to score.
    #[error("{}: no videos to score: give video files, --list FILE or --dir DIR", .0.display())]
    NoVideos(PathBuf),
    /// A results `--out` holding other files (it would be replaced).
    #[error("{}: holds {file}, which is not a result file; choose an empty or results-only --out", dir.display())]
    ForeignFile {
        /// The output directory.
        dir: PathBuf,
        /// The file found there.
        file: String,
    },
    /// Two videos with one utterance id.
    #[error("{}: has the utterance id {id} of {} too; ids must be unique (use --dir so ids keep their directories)", path.display(), first.display())]
    DuplicateId {
        /// The second video.
        path: PathBuf,
        /// The id.
        id: String,
        /// The first video.
        first: PathBuf,
    },
    /// A journal whose header is no header of this command.
    #[error("{}: not a journal of this command ({source}); use an empty --out", path.display())]
    NotAJournal {
        /// The journal.
        path: PathBuf,
        /// Why its first line does not parse.
        source: serde_json::Error,
    },
    /// A journal of other settings.
    #[error("{}: holds results of other settings ({differences}); use another --out", path.display())]
    OtherSettings {
        /// The journal.
        path: PathBuf,
        /// The header keys that differ.
        differences: String,
    },
    /// `sync-merge` of a directory without task directories.
    #[error("{}: no task-<i>-of-<K> directories to merge (run the tasks with --num-shards first)", .0.display())]
    NoTasks(PathBuf),
    /// `sync-merge` of task directories of several task counts.
    #[error("{}: holds task directories of {} different task counts ({}); remove the stale ones and merge again", out.display(), counts.len(), counts.iter().map(|k| k.to_string()).collect::<Vec<_>>().join(", "))]
    TaskCounts {
        /// The output directory.
        out: PathBuf,
        /// The task counts found.
        counts: Vec<usize>,
    },
    /// `sync-merge` before a task finished.
    #[error("{}: task {index} of {count} has not finished (no {}); run it, then merge", out.display(), done.display())]
    TaskUnfinished {
        /// The output directory.
        out: PathBuf,
        /// The task.
        index: usize,
        /// Tasks.
        count: usize,
        /// Its completion file.
        done: PathBuf,
    },
    /// A task's completion file that does not parse.
    #[error("{}: not a finished task ({source})", path.display())]
    NotAFinishedTask {
        /// The completion file.
        path: PathBuf,
        /// Why.
        source: serde_json::Error,
    },
    /// A task scored with another model or input than task 0.
    #[error("{}: was scored with another model or input than task 0; rerun it with the same flags", .0.display())]
    TaskMismatch(PathBuf),
    /// Drawing a figure failed.
    #[error(transparent)]
    Figure(#[from] plots::PlotError),
    /// The face detector could not start.
    #[error(transparent)]
    Detector(#[from] media::face::FaceModelError),
    /// `--detector s3fd` without its weights.
    #[error("--detector s3fd needs --detector-weights sfd_face.pth (the file run_pipeline.py and Wav2Lip download; nothing is downloaded here)")]
    NoDetectorWeights,
    /// `--detections` with several videos (the file holds one video's frames).
    #[error("--detections replays one video's detections; {0} videos were given (score them one at a time)")]
    DetectionsForOneVideo(usize),
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
