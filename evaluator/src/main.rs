//! `evaluator`: thin CLI over the evaluator library.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use evaluator::protocol::CANDIDATES;
use evaluator::run::EvalConfig;
use evaluator::table::AccuracyTable;
use trainer::device::DeviceSpec;

/// ±15-frame retrieval evaluation of sync models.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
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
        /// cpu, cuda or cuda:N.
        #[arg(long, default_value = "cpu")]
        device: DeviceSpec,
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
        /// cpu, cuda or cuda:N.
        #[arg(long, default_value = "cpu")]
        device: DeviceSpec,
        /// Print JSON.
        #[arg(long)]
        json: bool,
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

fn read_scores(path: &Path) -> anyhow::Result<Vec<(String, Vec<[f32; CANDIDATES]>)>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let st = safetensors::SafeTensors::deserialize(&bytes)
        .with_context(|| format!("{}: not a safetensors file", path.display()))?;
    let mut names: Vec<String> = st.names().into_iter().map(String::from).collect();
    names.sort();
    let mut out = Vec::new();
    for name in names {
        let t = st.tensor(&name)?;
        let video = name.strip_suffix(".scores").unwrap_or(&name).to_string();
        let shape = t.shape();
        if t.dtype() != safetensors::Dtype::F32 || shape.len() != 2 || shape[1] != CANDIDATES {
            anyhow::bail!(
                "{}: tensor {name} must be float32 [N, 31], found {:?} {shape:?}",
                path.display(),
                t.dtype()
            );
        }
        let vals: Vec<f32> =
            t.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        let rows = vals.chunks_exact(CANDIDATES).map(|c| c.try_into().expect("31 values")).collect();
        out.push((video, rows));
    }
    Ok(out)
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Run { model, shards, split, out, naive, device, max_windows, limit, quiet } => {
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
            let e = evaluator::run::evaluate(&cfg).map_err(anyhow::Error::msg)?;
            print!("{}", e.table.to_markdown());
            for x in &e.provenance.excluded {
                eprintln!("excluded {}: {}", x.utt_id, x.reason);
            }
            println!(
                "{} videos scored, {} excluded, {:.1} s ({} path); results in {}",
                e.provenance.videos,
                e.provenance.excluded.len(),
                e.provenance.wall_s,
                e.provenance.path,
                out.display()
            );
            Ok(())
        }
        Command::Sync { video, model, device, json } => {
            let r = evaluator::sync::sync(&video, &model, device).map_err(anyhow::Error::msg)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                println!(
                    "{}: offset {} frames ({} ms), confidence {:.3}, {} windows",
                    video.display(),
                    r.offset_frames,
                    r.offset_ms,
                    r.confidence,
                    r.windows
                );
            }
            Ok(())
        }
        Command::Compare { results, out, published } => {
            let rows = evaluator::compare::compare(&results, published, &out).map_err(anyhow::Error::msg)?;
            print!("{}", evaluator::compare::to_markdown(&rows));
            println!("wrote {}/table1.md, .csv, .json, fig2_size_vs_accuracy.svg/.png", out.display());
            Ok(())
        }
        Command::Tabulate { scores, out } => {
            let videos = if scores.extension().and_then(|e| e.to_str()) == Some("parquet") {
                evaluator::scores::read(&scores).map_err(anyhow::Error::msg)?
            } else {
                read_scores(&scores)?
            };
            let table = AccuracyTable::from_scores(videos.iter().map(|(n, r)| (n.clone(), r.as_slice())));
            print!("{}", table.to_markdown());
            if let Some(dir) = out {
                std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
                let json = serde_json::to_string_pretty(&table)? + "\n";
                for (name, body) in [
                    ("accuracy.md", table.to_markdown()),
                    ("accuracy.csv", table.to_csv()),
                    ("accuracy.json", json),
                ] {
                    manifests::atomic_write(&dir.join(name), body.as_bytes())?;
                }
                println!("wrote {}/accuracy.{{md,csv,json}}", dir.display());
            }
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("evaluator: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
