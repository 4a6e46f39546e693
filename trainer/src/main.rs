//! `trainer`: thin CLI over the trainer library.

use std::process::ExitCode;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
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
    /// Runs a checkpoint on `input.frames` / `input.mel` and writes logits and taps under the
    /// golden key names (compare against PyTorch on your own inputs).
    Predict {
        /// A PyTorch .pth checkpoint (VocaLiST or MTDVocaLiST layout).
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
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::DeviceCheck { device } => {
            let sum = trainer::device::check(device)
                .map_err(|e| anyhow::anyhow!("device {device:?}: {e}"))?;
            println!("libtorch OK on {device:?}: sum(arange(10)) = {sum}");
            Ok(())
        }
        Command::Predict {
            model,
            preset,
            inputs,
            out,
            prefix,
            device,
        } => {
            let device = device.device();
            let (net, config) = trainer::checkpoint::load_pth(&model, preset, &device)?;
            let inputs =
                trainer::tensor_io::read_safetensors(&inputs).map_err(anyhow::Error::msg)?;
            let outputs = trainer::predict::predict(&net, &inputs, &prefix, &device)
                .map_err(anyhow::Error::msg)?;
            trainer::tensor_io::write_safetensors(&out, &outputs).map_err(anyhow::Error::msg)?;
            println!(
                "{} ({}): wrote {} tensors to {}",
                model.display(),
                config.name,
                outputs.len(),
                out.display()
            );
            Ok(())
        }
    }
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
