//! `trainer`: thin CLI over the trainer library.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use trainer::checkpoint::{self, Provenance};
use trainer::device::DeviceSpec;
use trainer::model::Preset;

/// VocaLiST / MTDVocaLiST training and inspection.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs one tensor op on the device and prints where it ran (checks the libtorch install).
    DeviceCheck {
        /// cpu, cuda or cuda:N.
        #[arg(long, default_value = "cpu")]
        device: DeviceSpec,
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
        /// cpu, cuda or cuda:N.
        #[arg(long, default_value = "cpu")]
        device: DeviceSpec,
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
        /// cpu, cuda or cuda:N.
        #[arg(long, default_value = "cpu")]
        device: DeviceSpec,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::DeviceCheck { device } => {
            let sum =
                trainer::device::check(device).map_err(|e| anyhow::anyhow!("device {device:?}: {e}"))?;
            println!("libtorch OK on {device:?}: sum(arange(10)) = {sum}");
        }
        Command::Import { pth, preset, out } => {
            let device = DeviceSpec::Cpu.device();
            let (model, config) = checkpoint::load_pth(&pth, preset, &device)?;
            let provenance = Provenance {
                source: Some(pth.display().to_string()),
                source_sha256: Some(manifests::sha256_file(&pth)?),
                tool_version: env!("CARGO_PKG_VERSION").into(),
                ..Default::default()
            };
            let meta = checkpoint::save(&model, &config, provenance, &out)?;
            println!(
                "{} → {} ({}, {} parameters, input {:?})",
                pth.display(),
                out.display(),
                config.name,
                meta.param_count,
                config.input
            );
        }
        Command::Predict { model, preset, inputs, out, prefix, device } => {
            let device = device.device();
            let loaded = checkpoint::load(&model, preset, &device)?;
            let inputs = trainer::tensor_io::read_safetensors(&inputs).map_err(anyhow::Error::msg)?;
            let outputs = trainer::predict::predict(&loaded.model, &inputs, &prefix, &device)
                .map_err(anyhow::Error::msg)?;
            trainer::tensor_io::write_safetensors(&out, &outputs).map_err(anyhow::Error::msg)?;
            println!(
                "{} ({}): wrote {} tensors to {}",
                model.display(),
                loaded.config.name,
                outputs.len(),
                out.display()
            );
        }
        Command::BenchData { shards, split, batch, batches, buffer_utts } => {
            let cfg = trainer::data::StreamConfig {
                shards,
                split,
                batch,
                buffer_utts,
                windows_per_utt: 8,
                prefetch: 8,
                seed: 1,
            };
            let rx = trainer::data::raw_batches(&cfg).map_err(anyhow::Error::msg)?;
            let conv = Preset::Mtdvocalist.config().input;
            let next = || -> anyhow::Result<Vec<trainer::sampling::Sample>> {
                rx.recv().context("data pipeline stopped")?.map_err(anyhow::Error::msg)
            };
            let _ = trainer::data::assemble(&next()?, &conv);
            let t = std::time::Instant::now();
            for _ in 0..batches {
                let b = trainer::data::assemble(&next()?, &conv);
                std::hint::black_box(b);
            }
            let s = t.elapsed().as_secs_f64();
            println!("data pipeline: {:.0} samples/s ({batches} batches of {batch}, buffer {buffer_utts} utterances)", (batches * batch) as f64 / s);
        }
        Command::Bench { batch, iters, teacher, student, device, json } => {
            let results = trainer::bench::run(device, batch, iters, teacher, student);
            if json {
                println!("{}", serde_json::to_string_pretty(&results).context("serialising results")?);
            } else {
                println!("batch {batch}, {iters} timed iterations, device {device:?}");
                for r in &results {
                    println!(
                        "{:<58} {:>9.1} samples/s  ({:.3} s/iter)",
                        r.name, r.samples_per_s, r.s_per_iter
                    );
                }
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("trainer: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
