//! `evaluator run`: scores every utterance of a split and writes scores, tables and provenance.

use std::path::{Path, PathBuf};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use manifests::{Manifest, MANIFEST_FILE};
use serde::Serialize;
use trainer::checkpoint;
use trainer::device::DeviceSpec;

use crate::scores::VideoScores;
use crate::scoring::{prepare, score_fast, score_naive};
use crate::table::AccuracyTable;

/// Settings of one evaluation.
#[derive(Debug, Clone)]
pub struct EvalConfig {
    /// Checkpoint (.pth or ours).
    pub model: PathBuf,
    /// Shard set directory.
    pub shards: PathBuf,
    /// Split to evaluate.
    pub split: String,
    /// Results directory.
    pub out: PathBuf,
    /// Run the reference's 31 full forwards per window instead of the fast path.
    pub naive: bool,
    /// Device.
    pub device: DeviceSpec,
    /// Truncate each video to this many windows (verification only; changes the protocol).
    pub max_windows: Option<usize>,
    /// Evaluate only the first this-many utterances (verification only).
    pub limit: Option<usize>,
    /// No progress bar.
    pub quiet: bool,
}

/// An utterance left out, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Excluded {
    /// Utterance id.
    pub utt_id: String,
    /// Reason.
    pub reason: String,
}

/// Where the numbers came from.
#[derive(Debug, Clone, Serialize)]
pub struct Provenance {
    /// Model preset.
    pub model_preset: String,
    /// Trainable parameters.
    pub parameters: usize,
    /// Checkpoint file and sha256.
    pub checkpoint: String,
    /// sha256 of the checkpoint.
    pub checkpoint_sha256: String,
    /// sha256 of the shard set's manifest.json.
    pub shard_manifest_sha256: String,
    /// Split.
    pub split: String,
    /// lipsync version.
    pub tool_version: String,
    /// Device.
    pub device: String,
    /// Scoring path.
    pub path: String,
    /// Wall time (s).
    pub wall_s: f64,
    /// Non-default truncations, if any (the numbers are then not comparable).
    pub max_windows: Option<usize>,
    /// Utterance limit, if any.
    pub limit: Option<usize>,
    /// Utterances scored.
    pub videos: usize,
    /// Utterances excluded, with reasons.
    pub excluded: Vec<Excluded>,
}

/// The result of a run.
pub struct Evaluation {
    /// Raw scores per video.
    pub scores: Vec<VideoScores>,
    /// Accuracy table.
    pub table: AccuracyTable,
    /// Provenance.
    pub provenance: Provenance,
}

/// Scores a split and writes `scores.parquet`, `accuracy.{md,csv,json}` and `provenance.json`.
pub fn evaluate(cfg: &EvalConfig) -> Result<Evaluation, String> {
    let start = Instant::now();
    let device = cfg.device.device();
    let loaded = checkpoint::load(&cfg.model, None, &device).map_err(|e| e.to_string())?;
    let manifest_path = cfg.shards.join(MANIFEST_FILE);
    let manifest = Manifest::read(&manifest_path).map_err(|e| e.to_string())?;
    if manifest.shard_schema_version != shards::SCHEMA_VERSION {
        return Err(format!(
            "{}: shard schema version {}, this build reads version {}; re-run `preprocess` with this version",
            manifest_path.display(),
            manifest.shard_schema_version,
            shards::SCHEMA_VERSION
        ));
    }
    let entries: Vec<_> = manifest.shards_of(&cfg.split).collect();
    if entries.is_empty() {
        return Err(format!(
            "{}: no shards of split {:?} (is the split empty?)",
            manifest_path.display(),
            cfg.split
        ));
    }
    let total: usize = entries.iter().map(|e| e.rows).sum::<usize>().min(cfg.limit.unwrap_or(usize::MAX));
    let bar = if cfg.quiet { ProgressBar::hidden() } else { ProgressBar::new(total as u64) };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} videos  {per_sec}  ETA {eta}")
            .map_err(|e| e.to_string())?,
    );
    let mut scores = Vec::new();
    let mut excluded = Vec::new();
    'outer: for entry in entries {
        let reader = manifest.open_shard(&cfg.shards, &entry.file).map_err(|e| e.to_string())?;
        for utt in reader.iter() {
            if scores.len() + excluded.len() >= total {
                break 'outer;
            }
            let utt = utt.map_err(|e| e.to_string())?;
            match prepare(&utt, &loaded.config.input, cfg.max_windows) {
                Ok(input) => {
                    let rows = if cfg.naive {
                        score_naive(&loaded.model, &input, &device)
                    } else {
                        score_fast(&loaded.model, &input, &device, 31 * 16)
                    };
                    scores.push((input.utt_id, rows));
                }
                Err(reason) => excluded.push(Excluded { utt_id: utt.utt_id.clone(), reason }),
            }
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    if scores.is_empty() {
        return Err(format!(
            "no utterance of split {:?} could be scored ({} excluded)",
            cfg.split,
            excluded.len()
        ));
    }
    let table = AccuracyTable::from_scores(scores.iter().map(|(n, r)| (n.clone(), r.as_slice())));
    let provenance = Provenance {
        model_preset: loaded.config.name.clone(),
        parameters: loaded.model.param_count(),
        checkpoint: cfg.model.display().to_string(),
        checkpoint_sha256: manifests::sha256_file(&cfg.model).map_err(|e| e.to_string())?,
        shard_manifest_sha256: manifests::sha256_file(&manifest_path).map_err(|e| e.to_string())?,
        split: cfg.split.clone(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        device: format!("{:?}", cfg.device),
        path: if cfg.naive { "naive" } else { "fast" }.into(),
        wall_s: start.elapsed().as_secs_f64(),
        max_windows: cfg.max_windows,
        limit: cfg.limit,
        videos: scores.len(),
        excluded,
    };
    write_results(&cfg.out, &scores, &table, &provenance)?;
    Ok(Evaluation { scores, table, provenance })
}

/// Writes the results directory.
pub fn write_results(
    dir: &Path,
    scores: &[VideoScores],
    table: &AccuracyTable,
    prov: &Provenance,
) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    crate::scores::write(&dir.join("scores.parquet"), scores)?;
    let pretty = |r: serde_json::Result<String>| r.map(|s| s + "\n").map_err(|e| e.to_string());
    for (name, body) in [
        ("accuracy.md", table.to_markdown()),
        ("accuracy.csv", table.to_csv()),
        ("accuracy.json", pretty(serde_json::to_string_pretty(table))?),
        ("provenance.json", pretty(serde_json::to_string_pretty(prov))?),
    ] {
        manifests::atomic_write(&dir.join(name), body.as_bytes()).map_err(|e| e.to_string())?;
    }
    Ok(())
}
