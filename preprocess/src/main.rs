//! `preprocess`: thin CLI over the preprocess library.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

/// LRS2 → Parquet shards.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Checks every shard of a set against its manifest (size, sha256, schema, row count).
    Verify {
        /// Directory holding manifest.json and the shards.
        #[arg(long)]
        shards: PathBuf,
    },
}

fn run(cli: Cli) -> anyhow::Result<bool> {
    match cli.command {
        Command::Verify { shards } => {
            let report = preprocess::verify::verify_dir(&shards)
                .with_context(|| format!("verifying {}", shards.display()))?;
            for line in &report.bad {
                eprintln!("bad: {line}");
            }
            println!(
                "{} shards ok ({} utterances), {} bad",
                report.ok,
                report.rows,
                report.bad.len()
            );
            Ok(report.bad.is_empty())
        }
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("preprocess: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
