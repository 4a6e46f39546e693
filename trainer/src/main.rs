//! `trainer`: thin CLI over the trainer library.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use trainer::device::DeviceSpec;

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
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::DeviceCheck { device } => {
            let sum = trainer::device::check(device).with_context(|| format!("device {device:?}"))?;
            println!("libtorch OK on {device:?}: sum(arange(10)) = {sum}");
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
