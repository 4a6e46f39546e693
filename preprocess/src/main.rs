//! `preprocess`: thin CLI over the preprocess library.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use preprocess::layout::Task;
use preprocess::process::Params;
use preprocess::run::{merge, run, RunConfig};
use shards::Split;

/// LRS2 → Parquet shards of mouth crops, PCM and mel.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Preprocesses the listed splits into shards (this task's share on a cluster).
    Run {
        /// LRS2 root: `mvlrs_v1/` or its parent.
        #[arg(long)]
        lrs2_root: PathBuf,
        /// Comma-separated splits.
        #[arg(long, value_delimiter = ',', default_value = "pretrain,train,val,test")]
        splits: Vec<Split>,
        /// Output directory for shards and manifests.
        #[arg(long)]
        out: PathBuf,
        /// Worker threads (default: all cores).
        #[arg(long)]
        jobs: Option<usize>,
        /// Utterances per shard.
        #[arg(long, default_value_t = 64)]
        utts_per_shard: usize,
        /// Number of cluster tasks (else SLURM_ARRAY_TASK_COUNT; with JOB_COMPLETION_INDEX, required).
        #[arg(long)]
        num_shards: Option<usize>,
        /// This task's index (else SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX).
        #[arg(long)]
        shard_index: Option<usize>,
        /// Redo everything instead of keeping complete shards.
        #[arg(long)]
        no_resume: bool,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
        /// Detect faces on every N-th frame and interpolate between.
        #[arg(long, default_value_t = 5)]
        detect_every: usize,
        /// Detect faces on frames shrunk by this factor.
        #[arg(long, default_value_t = 2)]
        detect_downscale: usize,
    },
    /// Times the pipeline per stage against plain ffmpeg decoding of the same files.
    Bench {
        /// LRS2 root: `mvlrs_v1/` or its parent.
        #[arg(long)]
        lrs2_root: PathBuf,
        /// Comma-separated splits.
        #[arg(long, value_delimiter = ',', default_value = "test")]
        splits: Vec<Split>,
        /// Worker threads (default: all cores).
        #[arg(long)]
        jobs: Option<usize>,
        /// Detect faces on every N-th frame and interpolate between.
        #[arg(long, default_value_t = 5)]
        detect_every: usize,
        /// Detect faces on frames shrunk by this factor.
        #[arg(long, default_value_t = 2)]
        detect_downscale: usize,
    },
    /// Generates the synthetic LRS2-like corpus (the embedded default dataset).
    Synth {
        /// Output directory (the corpus is written to OUT/mvlrs_v1).
        #[arg(long)]
        out: PathBuf,
        /// Number of speakers (pretrain / val / test are speaker-disjoint).
        #[arg(long, default_value_t = 24)]
        speakers: usize,
        /// Utterances per speaker.
        #[arg(long, default_value_t = 20)]
        utterances_per_speaker: usize,
        /// Seed of every random choice.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Shift the audio by K frames against the mouth (0 = in sync).
        #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
        offset_frames: i32,
        /// Worker threads (default: all cores).
        #[arg(long)]
        jobs: Option<usize>,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Combines the partial manifests of all cluster tasks into manifest.json.
    Merge {
        /// The output directory the tasks wrote to.
        #[arg(long)]
        out: PathBuf,
    },
    /// Writes a contact sheet (PNG) of an utterance's mouth crops.
    Inspect {
        /// Directory holding manifest.json and the shards.
        #[arg(long)]
        shards: PathBuf,
        /// Utterance id, `<programme_id>/<utt_id>`.
        #[arg(long)]
        utt: String,
        /// Output PNG.
        #[arg(long)]
        out: PathBuf,
        /// Crops per row.
        #[arg(long, default_value_t = 15)]
        columns: usize,
        /// Also write the source frames with the face boxes drawn on them (green: the detector's
        /// smoothed box; yellow: the adjusted box and its lower half, the mouth crop's region) to
        /// this PNG; needs --lrs2-root.
        #[arg(long, requires = "lrs2_root")]
        boxes_out: Option<PathBuf>,
        /// The dataset root the shards were made from (`mvlrs_v1/` or its parent), for --boxes-out.
        #[arg(long)]
        lrs2_root: Option<PathBuf>,
        /// With --boxes-out: draw every N-th source frame.
        #[arg(long, default_value_t = 5)]
        boxes_every: usize,
    },
    /// Checks every shard of a set against its manifest (size, sha256, schema, row count).
    Verify {
        /// Directory holding manifest.json and the shards.
        #[arg(long)]
        shards: PathBuf,
    },
}

fn main_impl(cli: Cli) -> anyhow::Result<bool> {
    match cli.command {
        Command::Run {
            lrs2_root,
            splits,
            out,
            jobs,
            utts_per_shard,
            num_shards,
            shard_index,
            no_resume,
            quiet,
            detect_every,
            detect_downscale,
        } => {
            let task = Task::resolve(shard_index, num_shards, |k| std::env::var(k).ok())
                .map_err(anyhow::Error::msg)?;
            let mut params = Params::default();
            params.detect.detect_every = detect_every.max(1);
            params.detect.downscale = detect_downscale.max(1);
            let cfg = RunConfig {
                lrs2_root,
                splits,
                out: out.clone(),
                jobs: jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
                utts_per_shard,
                task,
                resume: !no_resume,
                quiet,
                params,
            };
            let log = |s: &str| {
                if !quiet {
                    eprintln!("preprocess: {s}")
                }
            };
            let report = run(&cfg, &log)
                .map_err(anyhow::Error::msg)
                .with_context(|| format!("preprocessing into {}", out.display()))?;
            // Warnings (a corrupt transcript, …) are printed even with --quiet, which only hides
            // progress: they name data a person should look at.
            for w in &report.warnings {
                eprintln!("preprocess: warning: {w}");
            }
            println!(
                "task {}/{}: {} utterances written, {} skipped, {} shards written, {} kept, {:.1} s of video in {:.1} s",
                task.index,
                task.count,
                report.written,
                report.skipped,
                report.shards_written,
                report.shards_kept,
                report.video_seconds,
                report.wall.as_secs_f64()
            );
            Ok(true)
        }
        Command::Bench { lrs2_root, splits, jobs, detect_every, detect_downscale } => {
            let mut params = Params::default();
            params.detect.detect_every = detect_every.max(1);
            params.detect.downscale = detect_downscale.max(1);
            let scratch = std::env::temp_dir().join(format!("lipsync-bench-{}", std::process::id()));
            let cfg = RunConfig {
                lrs2_root,
                splits,
                out: scratch.clone(),
                jobs: jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
                utts_per_shard: 64,
                task: Task { index: 0, count: 1 },
                resume: false,
                quiet: true,
                params,
            };
            let b = preprocess::bench::bench(&cfg, &scratch).map_err(anyhow::Error::msg);
            if let Err(e) = std::fs::remove_dir_all(&scratch) {
                eprintln!("preprocess: warning: could not remove scratch {}: {e}", scratch.display());
            }
            let b = b?;
            let s = &b.run.stages;
            let total =
                (s.decode + s.detect + s.crop + s.audio + s.mel + b.run.write).as_secs_f64().max(1e-9);
            println!(
                "{:.1} s of video, {} utterances, {} threads",
                b.run.video_seconds, b.run.written, cfg.jobs
            );
            println!(
                "pipeline: {:.2} video s/s ({:.2} per core)",
                b.pipeline_video_s_per_s, b.pipeline_video_s_per_s_per_core
            );
            println!(
                "plain ffmpeg decode: {:.2} video s/s per core (-threads 1, {} workers); {:.2} video s/s one process at a time on all cores",
                b.plain_video_s_per_s_per_core, cfg.jobs, b.plain_video_s_per_s
            );
            println!(
                "ratio per core / plain decode per core: {:.3}  (against one all-core process: {:.3})",
                b.ratio_per_core_to_plain, b.ratio_per_core_to_plain_all_cores
            );
            for (name, d) in [
                ("decode", s.decode),
                ("detect", s.detect),
                ("crop", s.crop),
                ("audio", s.audio),
                ("mel", s.mel),
                ("write", b.run.write),
            ] {
                println!("  {name:<7} {:>7.2} s  {:>5.1}%", d.as_secs_f64(), 100.0 * d.as_secs_f64() / total);
            }
            Ok(true)
        }
        Command::Synth { out, speakers, utterances_per_speaker, seed, offset_frames, jobs, quiet } => {
            let cfg =
                preprocess::synth::SynthConfig { speakers, utterances_per_speaker, seed, offset_frames };
            let jobs = jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            let n = preprocess::synth::generate(&out, &cfg, jobs, quiet).map_err(anyhow::Error::msg)?;
            println!("{n} utterances written to {}", preprocess::synth::corpus_root(&out).display());
            Ok(true)
        }
        Command::Merge { out } => {
            let m = merge(&out).map_err(anyhow::Error::msg)?;
            println!(
                "{}: {} shards, {} utterances, {} skipped",
                out.display(),
                m.shards.len(),
                m.total_rows(),
                m.skipped.len()
            );
            Ok(true)
        }
        Command::Inspect { shards, utt, out, columns, boxes_out, lrs2_root, boxes_every } => {
            use preprocess::inspect;
            let u = inspect::find_utterance(&shards, &utt).map_err(anyhow::Error::msg)?;
            let sheet = inspect::contact_sheet(&u, columns);
            sheet.save(&out).with_context(|| format!("writing {}", out.display()))?;
            let found = u.face_found.iter().filter(|f| **f).count();
            println!("{utt}: {} frames ({found} with a face) → {}", u.num_frames, out.display());
            if let (Some(boxes_out), Some(root)) = (boxes_out, lrs2_root) {
                let adjust = inspect::manifest_adjust(&shards).map_err(anyhow::Error::msg)?;
                let video = inspect::decode_source(&root, &u).map_err(anyhow::Error::msg)?;
                let sheet = inspect::source_sheet(&u, &video, &adjust, boxes_every, 5);
                sheet.save(&boxes_out).with_context(|| format!("writing {}", boxes_out.display()))?;
                println!("source frames with face boxes (every {boxes_every}) → {}", boxes_out.display());
            }
            Ok(true)
        }
        Command::Verify { shards } => {
            let report = preprocess::verify::verify_dir(&shards)
                .with_context(|| format!("verifying {}", shards.display()))?;
            for line in &report.bad {
                eprintln!("bad: {line}");
            }
            println!("{} shards ok ({} utterances), {} bad", report.ok, report.rows, report.bad.len());
            Ok(report.bad.is_empty())
        }
    }
}

fn main() -> ExitCode {
    match main_impl(Cli::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("preprocess: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
