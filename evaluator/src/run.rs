//! `evaluator run`: scores every utterance of a split and writes scores, tables and provenance.

use std::path::{Path, PathBuf};
use std::time::Instant;

use indicatif::ProgressStyle;
use manifests::{Manifest, ShardEntry, MANIFEST_FILE};
use nets::checkpoint;
use nets::device::DeviceSpec;
use serde::Serialize;

use crate::error::{io, EvalError, Result};
use crate::protocol::PAIR_BATCH;
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
    /// Windows with a NaN or infinite score (they count as misses, as in the reference).
    pub non_finite_windows: usize,
}

/// Scores a split and writes `scores.parquet`, `accuracy.{md,csv,json}` and `provenance.json`.
pub fn evaluate(cfg: &EvalConfig) -> Result<Evaluation> {
    let start = Instant::now();
    // One writer per results directory: a second run into the same --out fails at once.
    let _lock = manifests::DirLock::acquire(&cfg.out, "evaluator run")?;
    let device = cfg.device.device();
    let loaded = checkpoint::load(&cfg.model, None, &device)?;
    let (manifest_path, manifest, entries) = split_entries(&cfg.shards, std::slice::from_ref(&cfg.split))?;
    let total: usize = entries.iter().map(|e| e.rows).sum::<usize>().min(cfg.limit.unwrap_or(usize::MAX));
    let bar = progress::Progress::new(total as u64, "videos", cfg.quiet);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} videos  {per_sec}  ETA {eta}")
            .expect("valid template"),
    );
    let mut scores = Vec::new();
    let mut excluded = Vec::new();
    'outer: for entry in entries {
        let reader = manifest.open_shard(&cfg.shards, &entry.file)?;
        for utt in reader.iter() {
            if scores.len() + excluded.len() >= total {
                break 'outer;
            }
            let utt = utt?;
            match prepare(&utt, &loaded.config.input, cfg.max_windows) {
                Ok(input) => {
                    let rows = if cfg.naive {
                        score_naive(&loaded.model, &input, &device)
                    } else {
                        score_fast(&loaded.model, &input, &device, PAIR_BATCH)
                    };
                    scores.push((input.utt_id, rows));
                }
                Err(why) => excluded.push(Excluded { utt_id: utt.utt_id.clone(), reason: why.to_string() }),
            }
            bar.inc(1);
        }
    }
    bar.finish();
    if scores.is_empty() {
        return Err(EvalError::NothingScored { split: cfg.split.clone(), excluded: excluded.len() });
    }
    let table = AccuracyTable::from_scores(scores.iter().map(|(n, r)| (n.clone(), r.as_slice())));
    let provenance = Provenance {
        model_preset: loaded.config.name.clone(),
        parameters: loaded.model.param_count(),
        checkpoint: cfg.model.display().to_string(),
        checkpoint_sha256: manifests::sha256_file(&cfg.model)?,
        shard_manifest_sha256: manifests::sha256_file(&manifest_path)?,
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
    let non_finite_windows =
        scores.iter().flat_map(|(_, rows)| rows.iter()).filter(|r| r.iter().any(|v| !v.is_finite())).count();
    Ok(Evaluation { scores, table, provenance, non_finite_windows })
}

/// The shards of `splits` (in that order) and their utterances in manifest order, refusing an
/// utterance listed twice and a split without shards.
pub fn split_entries(dir: &Path, splits: &[String]) -> Result<(PathBuf, Manifest, Vec<ShardEntry>)> {
    let manifest_path = dir.join(MANIFEST_FILE);
    let manifest = Manifest::read(&manifest_path)?;
    if manifest.shard_schema_version != shards::SCHEMA_VERSION {
        return Err(EvalError::SchemaVersion {
            path: manifest_path,
            found: manifest.shard_schema_version,
            expected: shards::SCHEMA_VERSION,
        });
    }
    let mut entries: Vec<ShardEntry> = Vec::new();
    for split in splits {
        let before = entries.len();
        entries.extend(manifest.shards_of(split).cloned());
        if entries.len() == before {
            return Err(EvalError::NoShards { path: manifest_path, split: split.to_string() });
        }
    }
    let mut seen = std::collections::HashMap::new();
    for e in &entries {
        for id in &e.utterances {
            if let Some(first) = seen.insert(id.clone(), e.file.clone()) {
                return Err(EvalError::Duplicate {
                    path: manifest_path.clone(),
                    utt_id: id.clone(),
                    first,
                    second: e.file.clone(),
                });
            }
        }
    }
    Ok((manifest_path, manifest, entries))
}

/// The files of a results directory.
pub const RESULT_FILES: [&str; 5] =
    ["scores.parquet", "accuracy.md", "accuracy.csv", "accuracy.json", "provenance.json"];

/// Writes the results directory as one set: every file goes into a fresh directory beside it,
/// which then replaces `dir` by renames, so a reader never sees files of two runs mixed. A `dir`
/// holding anything else than results is refused (it would be replaced).
pub fn write_results(
    dir: &Path,
    scores: &[VideoScores],
    table: &AccuracyTable,
    prov: &Provenance,
) -> Result<()> {
    let name = dir.file_name().map_or_else(|| "results".into(), |n| n.to_string_lossy().into_owned());
    let parent = dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf();
    if dir.is_dir() {
        for entry in std::fs::read_dir(dir).map_err(io(dir))? {
            let file = entry.map_err(io(dir))?.file_name().to_string_lossy().into_owned();
            if !RESULT_FILES.contains(&file.as_str()) && !file.starts_with('.') {
                return Err(EvalError::ForeignFile { dir: dir.to_path_buf(), file });
            }
        }
    }
    let pid = std::process::id();
    let fresh = parent.join(format!(".{name}.new-{pid}"));
    if fresh.exists() {
        std::fs::remove_dir_all(&fresh).map_err(io(&fresh))?;
    }
    std::fs::create_dir_all(&fresh).map_err(io(&fresh))?;
    crate::scores::write(&fresh.join("scores.parquet"), scores)?;
    table.write(&fresh)?;
    let body = serde_json::to_string_pretty(prov).expect("provenance serialises") + "\n";
    manifests::atomic_write(&fresh.join("provenance.json"), body.as_bytes())?;
    if dir.exists() {
        let old = parent.join(format!(".{name}.old-{pid}"));
        std::fs::rename(dir, &old).map_err(io(dir))?;
        std::fs::rename(&fresh, dir).map_err(io(dir))?;
        std::fs::remove_dir_all(&old).map_err(io(&old))?;
    } else {
        std::fs::rename(&fresh, dir).map_err(io(dir))?;
    }
    Ok(())
}
