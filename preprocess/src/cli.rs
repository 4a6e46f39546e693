//! Argument groups the `preprocess` commands share (clap `Args`), so each flag is declared once.

use cli::{at_least_one, JobsArgs, TaskArgs};

use crate::engine::SetOptions;
use crate::lrs2::Params;

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
        params.clip.detect.detect_every = self.detect_every.max(1);
        params.clip.detect.downscale = self.detect_downscale.max(1);
        params.clip.audio_stream = self.audio_stream;
        params
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

impl OutputArgs {
    /// The set options these flags name, the cluster task resolved from flags or environment.
    pub fn set(&self) -> crate::Result<SetOptions> {
        Ok(SetOptions {
            out: self.out.clone(),
            jobs: self.jobs.get(),
            utts_per_shard: self.utts_per_shard,
            task: self.task.task()?,
            resume: !self.no_resume,
            quiet: self.quiet,
        })
    }
}
