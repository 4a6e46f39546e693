//! `trainer`: thin CLI over the trainer library.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use nets::checkpoint;
use nets::device::{DeviceArgs, DeviceSpec};
use nets::model::Preset;

/// VocaLiST / MTDVocaLiST training and inspection.
#[derive(Parser)]
#[command(version, about)]
enum Command {
    /// Runs one tensor op on the device and prints where it ran (checks the libtorch install).
    DeviceCheck {
        #[command(flatten)]
        device: DeviceArgs,
    },
    /// Imports a PyTorch .pth checkpoint into our format (reference-named safetensors + JSON sidecar).
    Import {
        /// The .pth file (official VocaLiST, MTDVocaLiST, bare state dict, `module.` prefix).
        #[arg(long)]
        pth: PathBuf,
        /// Preset to load as (inferred from the weight shapes when absent).
        #[arg(long, value_enum)]
        preset: Option<Preset>,
        /// Output weights file (`.safetensors`); the sidecar is written beside it as `.json`.
        #[arg(long)]
        out: PathBuf,
    },
    /// Runs a checkpoint on `input.frames` / `input.mel` and writes logits and taps under the
    /// golden key names (compare against PyTorch on your own inputs).
    Predict {
        /// A .pth or our .safetensors checkpoint.
        #[arg(long)]
        model: PathBuf,
        /// Preset to load as (inferred from the weight shapes when absent).
        #[arg(long, value_enum)]
        preset: Option<Preset>,
        /// safetensors file with input.frames [B,15,48,96] and input.mel [B,1,80,16].
        #[arg(long)]
        inputs: PathBuf,
        /// Output safetensors file.
        #[arg(long)]
        out: PathBuf,
        /// Key prefix of the outputs.
        #[arg(long, default_value = "model")]
        prefix: String,
        #[command(flatten)]
        device: DeviceArgs,
    },
    /// Trains a model (teacher from scratch, or a student with any loss) from a TOML run config.
    Train {
        /// The run config (every field has a default; see the README, section "trainer").
        #[arg(long)]
        config: Option<PathBuf>,
        /// Override a config field: `--set epochs=3 --set loss.kind=\"mtd\"` (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
        /// Run directory to create.
        #[arg(long, required_unless_present = "resume")]
        out: Option<PathBuf>,
        /// Continue the run in this directory exactly where it stopped (uses its config.toml).
        #[arg(long, conflicts_with_all = ["config", "overrides", "out"])]
        resume: Option<PathBuf>,
        /// No progress bars.
        #[arg(long)]
        quiet: bool,
    },
    /// Figures from run directories (SVG + PNG): training curves, learned weights, Fig. 4 loss ratios.
    Plot {
        /// Run directories (each with metrics.jsonl).
        #[arg(required = true)]
        runs: Vec<PathBuf>,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
    },
    /// Every MTD term and total for a teacher/student pair, under the golden key names.
    LossTerms {
        /// Teacher checkpoint (.pth or ours).
        #[arg(long)]
        teacher: PathBuf,
        /// Student checkpoint (.pth or ours).
        #[arg(long)]
        student: PathBuf,
        /// safetensors with input.frames [B,15,48,96], input.mel [B,1,80,16], input.labels [B].
        #[arg(long)]
        inputs: PathBuf,
        /// Output JSON file.
        #[arg(long)]
        out: PathBuf,
    },
    /// Throughput of the data pipeline alone (shards → sampled, model-ready batches).
    BenchData {
        /// Shard set directory.
        #[arg(long)]
        shards: PathBuf,
        /// Split.
        #[arg(long, default_value = "pretrain")]
        split: String,
        /// Samples per batch.
        #[arg(long, default_value_t = 16)]
        batch: usize,
        /// Batches to time (after one warm-up batch).
        #[arg(long, default_value_t = 200)]
        batches: usize,
        /// Utterances in the shuffle buffer.
        #[arg(long, default_value_t = 64)]
        buffer_utts: usize,
    },
    /// Throughput of teacher forward, student forward+backward and the full distillation step.
    Bench {
        /// Samples per batch.
        #[arg(long, default_value_t = 16)]
        batch: usize,
        /// Timed iterations per path (after one warm-up).
        #[arg(long, default_value_t = 5)]
        iters: usize,
        /// Teacher preset.
        #[arg(long, value_enum, default_value = "vocalist")]
        teacher: Preset,
        /// Student preset.
        #[arg(long, value_enum, default_value = "mtdvocalist")]
        student: Preset,
        #[command(flatten)]
        device: DeviceArgs,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Also measure the share of step time spent waiting for data, reading this shard set.
        #[arg(long)]
        shards: Option<PathBuf>,
        /// Split read for the data-wait measurement.
        #[arg(long, default_value = "pretrain")]
        split: String,
    },
}

fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::DeviceCheck { device: DeviceArgs { device } } => {
            let sum = nets::device::check(device).with_context(|| format!("device {device}"))?;
            println!("libtorch OK on {device:?}: sum(arange(10)) = {sum}");
        }
        Command::Import { pth, preset, out } => {
            let meta = checkpoint::import_pth(&pth, preset, &out)?;
            let c = &meta.config;
            println!(
                "{} → {} ({}, {} parameters, input {:?})",
                pth.display(),
                out.display(),
                c.name,
                meta.param_count,
                c.input
            );
        }
        Command::Predict { model, preset, inputs, out, prefix, device } => {
            let device = device.device.device();
            let loaded = checkpoint::load(&model, preset, &device)?;
            let inputs = nets::tensor_io::read_safetensors(&inputs)?;
            let outputs = trainer::predict::predict(&loaded.model, &inputs, &prefix, &device)?;
            nets::tensor_io::write_safetensors(&out, &outputs)?;
            let (m, name, n) = (model.display(), &loaded.config.name, outputs.len());
            println!("{m} ({name}): wrote {n} tensors to {}", out.display());
        }
        Command::Train { config, overrides, out, resume, quiet } => {
            let (cfg, run_dir) = match &resume {
                Some(dir) => {
                    (trainer::train::RunConfig::load(Some(&dir.join("config.toml")), &[])?, dir.clone())
                }
                None => (
                    trainer::train::RunConfig::load(config.as_deref(), &overrides)?,
                    out.expect("clap requires --out without --resume"),
                ),
            };
            let opts = trainer::train::TrainOptions { quiet, resume: resume.is_some() };
            let s = trainer::train::train(&cfg, &run_dir, &opts)?;
            println!(
                "{}: {} steps, best val F1 {:.4} (epoch {}), data wait {:.1} % of step time, {:.0} s",
                s.run_dir.display(),
                s.steps,
                s.best_f1,
                s.best_epoch,
                100.0 * s.wait_fraction,
                s.wall_s
            );
        }
        Command::Plot { runs, out } => {
            for f in trainer::plot::plot(&runs, &out)? {
                println!("{}", f.display());
            }
        }
        Command::LossTerms { teacher, student, inputs, out } => {
            let device = DeviceSpec::Cpu.device();
            let t = checkpoint::load(&teacher, None, &device)?;
            let s = checkpoint::load(&student, None, &device)?;
            let io = nets::tensor_io::read_safetensors(&inputs)?;
            let terms = trainer::loss::report::loss_terms(&t.model, &s.model, &io, &device)
                .with_context(|| inputs.display().to_string())?;
            let text = serde_json::to_string_pretty(&terms).context("serialising terms")? + "\n";
            manifests::atomic_write(&out, text.as_bytes())?;
            println!("wrote {} (UW-13D total {})", out.display(), terms["uw13_total_init_ones"]);
        }
        Command::BenchData { shards, split, batch, batches, buffer_utts } => {
            let rate = trainer::bench::data_pipeline(&shards, &split, batch, batches, buffer_utts)
                .with_context(|| shards.display().to_string())?;
            println!("data pipeline: {rate:.0} samples/s ({batches} batches of {batch}, buffer {buffer_utts} utterances)");
        }
        Command::Bench { batch, iters, teacher, student, device, json, shards, split } => {
            let device = device.device;
            let data = shards.as_deref().map(|d| (d, split.as_str()));
            let results = trainer::bench::run_all(device, batch, iters, (teacher, student), data)
                .with_context(|| format!("{:?}", shards.as_deref().unwrap_or(std::path::Path::new(""))))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&results).context("serialising results")?);
            } else {
                println!("batch {batch}, {iters} timed iterations, device {device:?}");
                for r in &results {
                    let rss = r.peak_rss_mb.map(|m| format!(", peak RSS {m:.0} MB")).unwrap_or_default();
                    println!(
                        "{:<58} {:>9.1} samples/s  ({:.3} s/iter{rss})",
                        r.name, r.samples_per_s, r.s_per_iter
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    nets::heap::keep_freed_memory(false); // see nets::heap
    run(Command::parse()).unwrap_or_else(|err| {
        eprintln!("trainer: error: {}", manifests::describe_error(err.as_ref()));
        ExitCode::FAILURE
    })
}
