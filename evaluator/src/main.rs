//! `evaluator`: thin CLI over the evaluator library.

use std::process::ExitCode;

use clap::Parser;

/// ±15-frame retrieval evaluation of sync models.
#[derive(Parser)]
#[command(version, about)]
struct Cli {}

fn main() -> ExitCode {
    let _cli = Cli::parse();
    ExitCode::SUCCESS
}
