//! Argument groups the `preprocess` commands share (clap `Args`), so each flag is declared once.

use crate::layout::Task;
use crate::process::Params;

/// A count flag's parser: a whole number of at least 1 (issue #33 point 11: `--jobs 0` and
/// `--utts-per-shard 0` were accepted, and ran nothing or everything in one shard).
pub fn at_least_one(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("{e}")),
    }
}

/// `--jobs N`.
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct JobsArgs {
    /// Worker threads (default: all cores).
    #[arg(long, value_parser = at_least_one)]
    pub jobs: Option<usize>,
}

impl JobsArgs {
    /// The worker count: the flag, else every core.
    pub fn get(&self) -> usize {
        self.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
    }
}

/// The processing settings of `run` and `bench`: the face detector's speed and the audio stream.
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct DetectorArgs {
    /// Detect faces on every N-th frame and interpolate between.
    #[arg(long, default_value_t = 5, value_parser = at_least_one)]
    pub detect_every: usize,
    /// Detect faces on frames shrunk by this factor.
    #[arg(long, default_value_t = 2, value_parser = at_least_one)]
    pub detect_downscale: usize,
    /// Which audio stream of each file to use (0 = the first; a file with several gets a
    /// warning naming the one used).
    #[arg(long, default_value_t = 0)]
    pub audio_stream: usize,
}

impl DetectorArgs {
    /// The processing parameters with these detector settings (everything else default).
    pub fn params(&self) -> Params {
        let mut params = Params::default();
        params.detect.detect_every = self.detect_every.max(1);
        params.detect.downscale = self.detect_downscale.max(1);
        params.audio_stream = self.audio_stream;
        params
    }
}

/// `--num-shards K --shard-index i`, or the cluster's variables.
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct TaskArgs {
    /// Number of cluster tasks (else SLURM_ARRAY_TASK_COUNT; with JOB_COMPLETION_INDEX, required).
    #[arg(long)]
    pub num_shards: Option<usize>,
    /// This task's index (else SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX).
    #[arg(long)]
    pub shard_index: Option<usize>,
}

impl TaskArgs {
    /// This process's task, from the flags or the environment ([`Task::resolve`]).
    pub fn task(&self) -> crate::Result<Task> {
        Task::resolve(self.shard_index, self.num_shards, |k| std::env::var(k).ok())
    }
}

/// Where and how a command writes its shard set: `--out`, `--jobs`, `--utts-per-shard`, the
/// cluster task, `--no-resume`, `--quiet` (shared by `run` and `import`).
#[derive(clap::Args, Debug, Clone)]
pub struct OutputArgs {
    /// Output directory for shards and manifests.
    #[arg(long)]
    pub out: std::path::PathBuf,
    #[command(flatten)]
    pub jobs: JobsArgs,
    /// Utterances per shard.
    #[arg(long, default_value_t = 64, value_parser = at_least_one)]
    pub utts_per_shard: usize,
    #[command(flatten)]
    pub task: TaskArgs,
    /// Redo everything instead of keeping complete shards.
    #[arg(long)]
    pub no_resume: bool,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}
