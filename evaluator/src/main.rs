//! `evaluator`: thin CLI over the evaluator library.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use evaluator::run::EvalConfig;
use evaluator::table::AccuracyTable;
use trainer::device::DeviceArgs;

/// ±15-frame retrieval evaluation of sync models.
#[derive(Parser)]
#[command(version, about)]
enum Command {
    /// Scores every utterance of a split with the ±15-frame protocol and writes scores, tables and
    /// provenance to the results directory.
    Run {
        /// Checkpoint: a .pth (VocaLiST / MTDVocaLiST) or our .safetensors.
        #[arg(long)]
        model: PathBuf,
        /// Shard set directory (with manifest.json).
        #[arg(long)]
        shards: PathBuf,
        /// Split to evaluate.
        #[arg(long, default_value = "test")]
        split: String,
        /// Results directory.
        #[arg(long)]
        out: PathBuf,
        /// Run 31 full forwards per window, as the reference does (for verification).
        #[arg(long)]
        naive: bool,
        #[command(flatten)]
        device: DeviceArgs,
        /// Verification only: truncate every video to this many windows (not the protocol).
        #[arg(long)]
        max_windows: Option<usize>,
        /// Verification only: score only the first N utterances.
        #[arg(long)]
        limit: Option<usize>,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Reports the audio-visual offset of any video (frames, ms) and a confidence.
    Sync {
        /// The video file (any fps, any audio rate).
        video: PathBuf,
        /// Checkpoint: a .pth or our .safetensors.
        #[arg(long)]
        model: PathBuf,
        #[command(flatten)]
        device: DeviceArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// LSE-C / LSE-D of videos exactly as syncnet_python and Wav2Lip's scores_LSE compute them:
    /// writes lse.parquet, lse.csv (one row per video) and summary.json. Resumable: rerun with
    /// the same --out to score only the videos not yet done.
    Lse {
        /// Video files (224×224 face crops, as syncnet_python's evaluate takes).
        videos: Vec<PathBuf>,
        /// A file listing videos, one per line (relative paths from the list's directory).
        #[arg(long)]
        list: Option<PathBuf>,
        /// A directory: every video file under it, recursively, sorted.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// SyncNet weights (`syncnet_v2.model`).
        #[arg(long)]
        syncnet: PathBuf,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
        /// Videos scored at once, each on one libtorch thread (default: one per core). The
        /// numbers do not depend on it.
        #[arg(long)]
        jobs: Option<usize>,
        /// Windows per forward (the reference: 20).
        #[arg(long, default_value_t = 20)]
        batch: usize,
        /// Frames as the reference gets them (jpeg: ffmpeg MJPEG decoded as cv2.imread does) or
        /// ffmpeg's bgr24 frames without the JPEG round trip (direct; not the reference's numbers).
        #[arg(long, value_enum, default_value = "jpeg")]
        frames: evaluator::lse::FrameSource,
        /// Resize frames that are not 224×224 with cv2.resize's INTER_LINEAR, as Wav2Lip's
        /// scores_LSE does (syncnet_python itself, the default, takes only 224×224).
        #[arg(long)]
        resize: bool,
        #[command(flatten)]
        device: DeviceArgs,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Table 1 (one row per model, K = 5..15, parameters) as Markdown and CSV and the Fig. 2 plot
    /// (model size vs accuracy, SVG and PNG) from `evaluator run` results directories.
    Compare {
        /// Results directories written by `evaluator run`.
        #[arg(required = true)]
        results: Vec<PathBuf>,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
        /// Add the published LRS2 rows of SPEC §6.8, marked as published figures.
        #[arg(long)]
        published: bool,
    },
    /// Recomputes the accuracy tables from saved raw scores, without a model.
    Tabulate {
        /// `scores.parquet` from `evaluator run`, or a safetensors file with one `<video>.scores`
        /// tensor [N, 31] per video (raw, unmasked).
        scores: PathBuf,
        /// Directory to write accuracy.md / accuracy.csv / accuracy.json into.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Run { model, shards, split, out, naive, device, max_windows, limit, quiet } => {
            let device = device.device;
            let cfg = EvalConfig {
                model,
                shards,
                split,
                out: out.clone(),
                naive,
                device,
                max_windows,
                limit,
                quiet,
            };
            let e = evaluator::run::evaluate(&cfg)?;
            print!("{}", e.table.to_markdown());
            for x in &e.provenance.excluded {
                eprintln!("excluded {}: {}", x.utt_id, x.reason);
            }
            if e.non_finite_windows > 0 {
                eprintln!(
                    "evaluator: warning: {} windows have NaN or infinite scores (counted as misses): check the checkpoint",
                    e.non_finite_windows
                );
            }
            let p = &e.provenance;
            println!(
                "{} videos scored, {} excluded, {:.1} s ({} path); results in {}",
                p.videos,
                p.excluded.len(),
                p.wall_s,
                p.path,
                out.display()
            );
        }
        Command::Sync { video, model, device, json } => {
            let r = evaluator::sync::sync(&video, &model, device.device)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                let (v, o, ms, c, n) =
                    (video.display(), r.offset_frames, r.offset_ms, r.confidence, r.windows);
                println!("{v}: offset {o} frames ({ms} ms), confidence {c:.3}, {n} windows");
            }
        }
        Command::Lse { videos, list, dir, syncnet, out, jobs, batch, frames, resize, device, quiet } => {
            let videos = evaluator::lse::inputs::collect(&videos, list.as_deref(), dir.as_deref())?;
            let jobs = jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            let cfg = evaluator::lse::LseConfig {
                videos,
                syncnet,
                out: out.clone(),
                jobs,
                device: device.device,
                batch,
                frames,
                resize,
                quiet,
            };
            let (rows, s) = evaluator::lse::run(&cfg)?;
            let fmt = |v: Option<f32>| v.map_or("n/a".to_string(), |v| format!("{v:.3}"));
            println!(
                "LSE-D {}  LSE-C {}  ({} videos scored, {} with a reason; {} rows in {})",
                fmt(s.lse_d),
                fmt(s.lse_c),
                s.scored,
                s.failed,
                rows.len(),
                out.join(evaluator::lse::run::TABLE).display()
            );
        }
        Command::Compare { results, out, published } => {
            let rows = evaluator::compare::compare(&results, published, &out)?;
            print!("{}", evaluator::compare::to_markdown(&rows));
            println!("wrote {}/table1.md, .csv, .json, fig2_size_vs_accuracy.svg/.png", out.display());
        }
        Command::Tabulate { scores, out } => {
            let videos = evaluator::scores::read_any(&scores)?;
            let table = AccuracyTable::from_scores(videos.iter().map(|(n, r)| (n.clone(), r.as_slice())));
            print!("{}", table.to_markdown());
            if let Some(dir) = out {
                std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
                table.write(&dir)?;
                println!("wrote {}/accuracy.{{md,csv,json}}", dir.display());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    run(Command::parse()).unwrap_or_else(|err| {
        eprintln!("evaluator: error: {}", manifests::describe_error(err.as_ref()));
        ExitCode::FAILURE
    })
}
