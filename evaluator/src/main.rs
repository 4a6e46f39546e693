//! `evaluator`: thin CLI over the evaluator library.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use evaluator::protocol::CANDIDATES;
use evaluator::table::AccuracyTable;

/// ±15-frame retrieval evaluation of sync models.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Recomputes the accuracy tables from saved raw scores, without a model.
    Tabulate {
        /// safetensors file with one `<video>.scores` tensor [N, 31] per video (raw, unmasked).
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
        Command::Tabulate { scores, out } => {
            let videos = read_scores(&scores)?;
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
