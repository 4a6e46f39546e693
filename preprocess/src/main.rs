//! `preprocess`: thin CLI over the preprocess library.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use cli::{JobsArgs, Task};
use media::resize::Resize;
use preprocess::cli::{DetectorArgs, OutputArgs};
use preprocess::engine::{merge, RunReport, SetOptions};
use preprocess::lrs2::{run as run_task, RunConfig};
use preprocess::wav2lip::{ImportConfig, Lists};
use shards::Split;

/// LRS2 → Parquet shards of mouth crops, PCM and mel.
#[derive(Parser)]
#[command(version, about)]
enum Command {
    /// Preprocesses the listed splits into shards (this task's share on a cluster).
    Run {
        /// LRS2 root: `mvlrs_v1/` or its parent.
        #[arg(long)]
        lrs2_root: PathBuf,
        /// Comma-separated splits.
        #[arg(long, value_delimiter = ',', default_value = "pretrain,train,val,test")]
        splits: Vec<Split>,
        #[command(flatten)]
        output: OutputArgs,
        #[command(flatten)]
        detector: DetectorArgs,
        /// Sync-correct the audio by the offsets measured by `evaluator sync --out`
        /// (its sync.parquet): audio moved by each utterance's offset, ends trimmed; utterances
        /// without one are skipped.
        #[arg(long)]
        shift_audio: Option<PathBuf>,
    },
    /// Imports a tree already preprocessed by Wav2Lip's preprocess.py (<root>/<programme>/<utt>/
    /// {0.jpg…, audio.wav}) into shards, crops resized exactly as the chosen reference loader does.
    #[command(group(clap::ArgGroup::new("which").required(true).args(["list", "splits"])))]
    Import {
        /// The input layout.
        #[arg(long, value_enum, default_value_t = InputLayout::Wav2lip)]
        layout: InputLayout,
        /// The preprocessed root (the reference's --data_root).
        #[arg(long)]
        root: PathBuf,
        /// One split list (`<programme>/<utt>` per line); its rows get --split.
        #[arg(long, requires = "split")]
        list: Option<PathBuf>,
        /// The split the rows of --list belong to.
        #[arg(long)]
        split: Option<Split>,
        /// Comma-separated splits whose lists (`<split>.txt`) are in the root or root/filelists.
        #[arg(long, value_delimiter = ',', conflicts_with = "list")]
        splits: Option<Vec<Split>>,
        /// Whose decode+resize to reproduce: opencv (VocaLiST's test_lrs2.py) or torchvision
        /// (MTDVocaLiST's test_stu.py).
        #[arg(long, value_enum, default_value_t = Resize::Opencv)]
        resize: Resize,
        /// zstd level of the shards (1 is 30 % faster than 3 and 5.6 % larger on face crops).
        #[arg(long, default_value_t = preprocess::wav2lip::IMPORT_ZSTD_LEVEL, value_parser = clap::value_parser!(i32).range(1..=22))]
        zstd_level: i32,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Times the pipeline per stage against plain ffmpeg decoding of the same files; with
    /// `--layout wav2lip`, times `import` against the Python loaders reading the same files.
    Bench {
        /// What to time: `lrs2` (mp4s → shards, needs --lrs2-root) or `wav2lip` (import, needs --root).
        #[arg(long, value_enum, default_value_t = BenchLayout::Lrs2)]
        layout: BenchLayout,
        /// LRS2 root: `mvlrs_v1/` or its parent.
        #[arg(long, required_if_eq("layout", "lrs2"))]
        lrs2_root: Option<PathBuf>,
        /// The Wav2Lip preprocessed root (with --layout wav2lip).
        #[arg(long, required_if_eq("layout", "wav2lip"))]
        root: Option<PathBuf>,
        /// Comma-separated splits.
        #[arg(long, value_delimiter = ',', default_value = "test")]
        splits: Vec<Split>,
        #[command(flatten)]
        jobs: JobsArgs,
        #[command(flatten)]
        detector: DetectorArgs,
        /// With --layout wav2lip: whose loader both sides run.
        #[arg(long, value_enum, default_value_t = Resize::Opencv)]
        resize: Resize,
        /// With --layout wav2lip: the Python with OpenCV / torchvision / soundfile for the baseline.
        #[arg(long, env = "LIPSYNC_PYTHON", default_value = ".venv/bin/python")]
        python: PathBuf,
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
        /// Shift the audio by K frames against the mouth (0 = in sync); a list K1,K2,… gives the
        /// utterances these offsets in turn (recorded per utterance in synth.json).
        #[arg(long, default_value = "0", allow_hyphen_values = true, value_delimiter = ',')]
        offset_frames: Vec<i32>,
        #[command(flatten)]
        jobs: JobsArgs,
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
    /// Writes manifest.json for a directory of shards written by another tool (pyarrow, polars,
    /// duckdb), after checking each one's schema and rows (SCHEMA.md, "Writing shards from Python").
    Index {
        /// Directory holding the *.parquet shards.
        #[arg(long)]
        shards: PathBuf,
    },
    /// Checks every shard of a set against its manifest (size, sha256, schema, row count).
    Verify {
        /// Directory holding manifest.json and the shards.
        #[arg(long)]
        shards: PathBuf,
    },
}

/// The set options of a bench run: one task into a scratch directory, nothing kept.
fn scratch_set(scratch: &std::path::Path, jobs: usize) -> SetOptions {
    SetOptions {
        out: scratch.to_path_buf(),
        jobs,
        utts_per_shard: 64,
        task: Task { index: 0, count: 1 },
        resume: false,
        quiet: true,
    }
}

fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Run { lrs2_root, splits, output, detector, shift_audio } => {
            let set = output.set()?;
            let task = set.task;
            let mut params = detector.params();
            if let Some(path) = shift_audio {
                params.shift_audio = Some(preprocess::shift::AudioShift::read(&path)?);
            }
            let cfg = RunConfig { lrs2_root, splits, params, set };
            let report = run_task(&cfg, &logger(output.quiet))
                .with_context(|| format!("preprocessing into {}", output.out.display()))?;
            print_report(task, &report);
        }
        Command::Import {
            layout: InputLayout::Wav2lip,
            root,
            list,
            split,
            splits,
            resize,
            zstd_level,
            output,
        } => {
            let set = output.set()?;
            let task = set.task;
            let lists = match (list, split, splits) {
                (Some(path), Some(split), _) => Lists::File { path, split },
                (_, _, Some(splits)) => Lists::Splits(splits),
                _ => anyhow::bail!("pass --list FILE --split NAME, or --splits a,b"),
            };
            let cfg = ImportConfig { root, lists, resize, zstd_level, set };
            let report = preprocess::wav2lip::import(&cfg, &logger(output.quiet))
                .with_context(|| format!("importing into {}", output.out.display()))?;
            print_report(task, &report);
        }
        Command::Bench { layout: BenchLayout::Wav2lip, root, splits, jobs, resize, python, .. } => {
            let scratch = std::env::temp_dir().join(format!("lipsync-bench-{}", std::process::id()));
            let cfg = ImportConfig {
                root: root.context("--layout wav2lip needs --root")?,
                lists: Lists::Splits(splits),
                resize,
                zstd_level: preprocess::wav2lip::IMPORT_ZSTD_LEVEL,
                set: scratch_set(&scratch, jobs.get()),
            };
            let b = preprocess::bench::bench_import(&cfg, &scratch, &python);
            if let Err(e) = std::fs::remove_dir_all(&scratch) {
                eprintln!("preprocess: warning: could not remove scratch {}: {e}", scratch.display());
            }
            print!("{}", b?);
        }
        Command::Bench { layout: BenchLayout::Lrs2, lrs2_root, splits, jobs, detector, .. } => {
            let lrs2_root = lrs2_root.context("--layout lrs2 needs --lrs2-root")?;
            let scratch = std::env::temp_dir().join(format!("lipsync-bench-{}", std::process::id()));
            let cfg = RunConfig {
                lrs2_root,
                splits,
                params: detector.params(),
                set: scratch_set(&scratch, jobs.get()),
            };
            let b = preprocess::bench::bench(&cfg, &scratch);
            if let Err(e) = std::fs::remove_dir_all(&scratch) {
                eprintln!("preprocess: warning: could not remove scratch {}: {e}", scratch.display());
            }
            print!("{}", b?);
        }
        Command::Synth { out, speakers, utterances_per_speaker, seed, offset_frames, jobs, quiet } => {
            let cfg =
                preprocess::synth::SynthConfig { speakers, utterances_per_speaker, seed, offset_frames };
            let n = preprocess::synth::generate(&out, &cfg, jobs.get(), quiet)?;
            println!("{n} utterances written to {}", preprocess::synth::corpus_root(&out).display());
        }
        Command::Merge { out } => {
            let m = merge(&out)?;
            let (shards, rows, skipped) = (m.shards.len(), m.total_rows(), m.skipped.len());
            println!("{}: {shards} shards, {rows} utterances, {skipped} skipped", out.display());
        }
        Command::Inspect { shards, utt, out, columns, boxes_out, lrs2_root, boxes_every } => {
            use preprocess::inspect;
            let u = inspect::find_utterance(&shards, &utt)?;
            let sheet = inspect::contact_sheet(&u, columns);
            sheet.save(&out).with_context(|| format!("writing {}", out.display()))?;
            let found = u.face_found.iter().filter(|f| **f).count();
            println!("{utt}: {} frames ({found} with a face) → {}", u.num_frames, out.display());
            if let (Some(boxes_out), Some(root)) = (boxes_out, lrs2_root) {
                let adjust = inspect::manifest_adjust(&shards)?;
                let video = inspect::decode_source(&root, &u)?;
                let sheet = inspect::source_sheet(&u, &video, &adjust, boxes_every, 5);
                sheet.save(&boxes_out).with_context(|| format!("writing {}", boxes_out.display()))?;
                println!("source frames with face boxes (every {boxes_every}) → {}", boxes_out.display());
            }
        }
        Command::Index { shards } => {
            let path = shards.join(manifests::MANIFEST_FILE);
            if path.exists() {
                anyhow::bail!("{} exists; remove it to index the directory again", path.display());
            }
            let m = manifests::Manifest::index(&shards)
                .with_context(|| format!("indexing {}", shards.display()))?;
            m.write(&path)?;
            println!("{}: {} shards, {} utterances", path.display(), m.shards.len(), m.total_rows());
        }
        Command::Verify { shards } => {
            let report = preprocess::verify::verify_dir(&shards)
                .with_context(|| format!("verifying {}", shards.display()))?;
            for line in &report.bad {
                eprintln!("bad: {line}");
            }
            println!("{} shards ok ({} utterances), {} bad", report.ok, report.rows, report.bad.len());
            if !report.bad.is_empty() {
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What `preprocess bench` times.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum BenchLayout {
    /// LRS2 mp4s through `preprocess run`.
    Lrs2,
    /// A Wav2Lip-layout tree through `preprocess import`.
    Wav2lip,
}

/// The input layouts `preprocess import` reads.
#[derive(clap::ValueEnum, Debug, Clone, Copy)]
enum InputLayout {
    /// Wav2Lip's preprocess.py output, as VocaLiST and MTDVocaLiST read it.
    Wav2lip,
}

/// Progress lines on stderr unless `quiet`.
fn logger(quiet: bool) -> impl Fn(&str) {
    move |s: &str| {
        if !quiet {
            eprintln!("preprocess: {s}")
        }
    }
}

/// Warnings (a corrupt transcript, a resampled wav, …) are printed even with --quiet, which only
/// hides progress: they name data a person should look at. Then the one-line summary.
fn print_report(task: Task, report: &RunReport) {
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
}

fn main() -> ExitCode {
    run(Command::parse()).unwrap_or_else(|err| {
        eprintln!("preprocess: error: {}", manifests::describe_error(err.as_ref()));
        ExitCode::FAILURE
    })
}
