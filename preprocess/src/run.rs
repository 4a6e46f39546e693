//! `preprocess run` and `preprocess merge`: shards, partial manifests per cluster task, resume.
//!
//! Crash safety: a shard becomes visible only by an atomic rename after it is complete, and the
//! task's partial manifest is rewritten atomically after every shard. On `--resume` a shard is
//! kept only when the partial manifest lists it and its size and sha256 still match; anything
//! else planned for this task is redone. A `kill -9` therefore loses at most the two shards in flight
//! (the one being written and the next, which the workers process meanwhile).

use crate::error::{io, PreprocessError, Result};
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use indicatif::ProgressStyle;
use manifests::{Manifest, ShardEntry, SkippedItem, MANIFEST_FILE};
use rayon::prelude::*;
use serde::Serialize;
use shards::{ShardWriter, Split, WriterOptions};

use crate::face::FaceDetector;
use crate::layout::{plan, Layout, PlannedShard, Task};
use crate::process::{process, Item, Outcome, Params, StageTimes};
use features::mel::{F_MAX, F_MIN};
use features::MelExtractor;

/// Everything `preprocess run` needs.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// LRS2 root (`mvlrs_v1/` or its parent).
    pub lrs2_root: PathBuf,
    /// Splits to process.
    pub splits: Vec<Split>,
    /// Output directory.
    pub out: PathBuf,
    /// Worker threads.
    pub jobs: usize,
    /// Utterances per shard.
    pub utts_per_shard: usize,
    /// This process's cluster task.
    pub task: Task,
    /// Keep shards already complete in the output.
    pub resume: bool,
    /// No progress bar.
    pub quiet: bool,
    /// Processing parameters.
    pub params: Params,
}

/// What a run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunReport {
    /// Utterances written this run.
    pub written: usize,
    /// Items skipped this run.
    pub skipped: usize,
    /// Shards written this run.
    pub shards_written: usize,
    /// Shards kept from an earlier run.
    pub shards_kept: usize,
    /// Seconds of video decoded this run.
    pub video_seconds: f64,
    /// Wall time of the run.
    pub wall: Duration,
    /// Summed per-stage times.
    pub stages: StageTimes,
    /// Time spent writing shards and manifests.
    pub write: Duration,
    /// Warnings (one line each).
    pub warnings: Vec<String>,
}

/// The partial manifest of one task.
pub fn task_manifest_name(task: Task) -> String {
    format!("manifest.task-{:04}-of-{:04}.json", task.index, task.count)
}

/// The parameters recorded in every manifest of the set (identical across tasks).
fn manifest_params(cfg: &RunConfig, lists: &[Split]) -> serde_json::Value {
    serde_json::json!({
        "process": cfg.params,
        "splits": cfg.splits,
        "split_lists_found": lists,
        "utts_per_shard": cfg.utts_per_shard,
        "task_count": cfg.task.count,
        "fps": features::FPS,
        "sample_rate": features::SAMPLE_RATE,
        "crop": [features::CROP_HEIGHT, features::CROP_WIDTH],
        "mel": mel_params(),
    })
}

/// The mel settings recorded in every manifest (SPEC §1.3).
pub fn mel_params() -> serde_json::Value {
    serde_json::json!({"n_fft": features::N_FFT, "hop": features::HOP, "n_mels": features::N_MELS,
                       "f_min": F_MIN, "f_max": F_MAX, "spec": "SPEC §1.3"})
}

/// Says when a list of LRS2 ids has another length than LRS2 v1's list of that split (SPEC
/// §1.5). A list of the user's own ids (their own dataset under an LRS2-shaped tree) gets no note:
/// it was never meant to be LRS2's (issue #33 point 10). LRS2's programme ids are 19 digits.
pub fn note_unknown_list(split: Split, items: &[Item], log: &dyn Fn(&str)) {
    let lrs2_like = |i: &Item| {
        let programme = i.utt_id.split('/').next().unwrap_or("");
        programme.len() == 19 && programme.bytes().all(|b| b.is_ascii_digit())
    };
    let Some(known) = manifests::known_lrs2_split(split.as_str()) else { return };
    if items.len() != known.lines && !items.is_empty() && items.iter().all(lrs2_like) {
        log(&format!(
            "note: {}.txt lists {} LRS2 utterances where LRS2 v1's {} list has {}: accuracies on it are not comparable with published LRS2 numbers",
            split.as_str(),
            items.len(),
            split.as_str(),
            known.lines
        ));
    }
}

thread_local! {
    static WORKER: RefCell<Option<(FaceDetector, MelExtractor)>> = const { RefCell::new(None) };
}

/// Runs this task's share of the plan.
pub fn run(cfg: &RunConfig, log: &dyn Fn(&str)) -> Result<RunReport> {
    let start = Instant::now();
    let layout = Layout::discover(&cfg.lrs2_root)?;
    log(&format!(
        "LRS2 root {}: split lists found: {}",
        layout.root.display(),
        layout.lists.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
    ));
    for split in &cfg.splits {
        if !layout.lists.contains(split) {
            return Err(PreprocessError::NoSplitList { root: layout.root.clone(), split: split.as_str() });
        }
    }
    let mut by_split = Vec::new();
    for &split in &cfg.splits {
        let items = layout.items(split)?;
        if items.is_empty() {
            return Err(PreprocessError::EmptyList {
                path: layout.root.join(format!("{}.txt", split.as_str())),
            });
        }
        note_unknown_list(split, &items, log);
        by_split.push((split, items));
    }
    let shards = plan(by_split, cfg.utts_per_shard);
    let params = manifest_params(cfg, &layout.lists);
    let sink = Sink {
        out: &cfg.out,
        jobs: cfg.jobs,
        task: cfg.task,
        resume: cfg.resume,
        quiet: cfg.quiet,
        writer: WriterOptions::default(),
    };
    let process_item = |item: &Item| {
        WORKER.with(|w| {
            let mut w = w.borrow_mut();
            if w.is_none() {
                *w = Some((FaceDetector::new(&cfg.params.detect)?, MelExtractor::new()));
            }
            let (det, mel) = w.as_mut().expect("initialised above");
            Ok(process(item, &cfg.params, det, mel))
        })
    };
    let mut report = execute(&sink, &shards, params, &process_item)?;
    report.wall = start.elapsed();
    Ok(report)
}

/// Where and how [`execute`] writes a planned shard set.
#[derive(Debug, Clone)]
pub struct Sink<'a> {
    /// Output directory.
    pub out: &'a Path,
    /// Worker threads.
    pub jobs: usize,
    /// This process's cluster task.
    pub task: Task,
    /// Keep shards already complete in the output.
    pub resume: bool,
    /// No progress bar.
    pub quiet: bool,
    /// Row-group size and compression of the shards.
    pub writer: WriterOptions,
}

/// Runs this task's share of `shards`: each item through `process_item` on `sink.jobs` threads,
/// the rows into shards (atomically), the skips into the task's partial manifest (rewritten
/// after every shard), complete shards of an earlier run with the same `params` kept; the set's
/// `manifest.json` is merged when this is the only task. Shared by `preprocess run` and
/// `preprocess import`: only the per-item processing differs.
pub fn execute(
    sink: &Sink,
    shards: &[PlannedShard],
    params: serde_json::Value,
    process_item: &(dyn Fn(&Item) -> Result<Outcome> + Sync),
) -> Result<RunReport> {
    let start = Instant::now();
    let mine: Vec<&PlannedShard> = shards.iter().filter(|s| sink.task.owns(s.index)).collect();
    std::fs::create_dir_all(sink.out).map_err(io(sink.out))?;
    let partial_path = sink.out.join(task_manifest_name(sink.task));
    let previous = if sink.resume && partial_path.is_file() {
        let m = Manifest::read(&partial_path)?;
        if m.params != params {
            let detail = "written with other parameters; use a fresh --out or --no-resume".into();
            return Err(PreprocessError::Conflict { path: partial_path, detail });
        }
        Some(m)
    } else {
        None
    };
    let mut manifest = Manifest::new("preprocess", env!("CARGO_PKG_VERSION"), params);
    // Shards carry the processing parameters but not the task split, so a shard's bytes do not
    // depend on how many cluster tasks produced the set.
    let mut shard_params = manifest.params.clone();
    if let Some(obj) = shard_params.as_object_mut() {
        obj.remove("task_count");
    }
    let params_json = serde_json::to_string(&shard_params).expect("JSON values serialise");

    let total: usize = mine.iter().map(|s| s.items.len()).sum();
    let bar = progress::Progress::new(total as u64, "utterances", sink.quiet);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} utterances  {per_sec}  ETA {eta}  {msg}")
            .expect("valid template"),
    );
    let jobs = sink.jobs.max(1);
    let pool =
        rayon::ThreadPoolBuilder::new().num_threads(jobs).build().map_err(|_| PreprocessError::Pool(jobs))?;
    let mut report = RunReport::default();

    // Shards an earlier run finished are kept as they are; the rest are processed in order.
    let mut todo: Vec<&PlannedShard> = Vec::new();
    for shard in mine {
        let ids: std::collections::HashSet<&str> = shard.items.iter().map(|i| i.utt_id.as_str()).collect();
        if let Some(prev) = &previous {
            if let Some(entry) = prev.shards.iter().find(|e| e.file == shard.file) {
                if Manifest::verify_shard(sink.out, entry).is_ok() {
                    manifest.shards.push(entry.clone());
                    manifest
                        .skipped
                        .extend(prev.skipped.iter().filter(|s| ids.contains(s.utt_id.as_str())).cloned());
                    report.shards_kept += 1;
                    bar.inc(shard.items.len() as u64);
                    continue;
                }
            }
            // An empty planned shard (every item skipped) has no file: its skips are kept too.
            let skipped: Vec<&SkippedItem> =
                prev.skipped.iter().filter(|s| ids.contains(s.utt_id.as_str())).collect();
            if skipped.len() == shard.items.len() && !prev.shards.iter().any(|e| e.file == shard.file) {
                manifest.skipped.extend(skipped.into_iter().cloned());
                report.shards_kept += 1;
                bar.inc(shard.items.len() as u64);
                continue;
            }
        }
        todo.push(shard);
    }

    // The workers process shard k+1 while this thread writes shard k; shards are written, and
    // the partial manifest rewritten, strictly in plan order.
    let process_shard = |shard: &PlannedShard| -> Result<Vec<Result<Outcome>>> {
        remove_stale_temp_files(sink.out, &shard.file)?;
        Ok(pool.install(|| {
            shard
                .items
                .par_iter()
                .map(|item| {
                    let outcome = process_item(item);
                    bar.inc(1);
                    outcome
                })
                .collect()
        }))
    };
    let join = |h: std::thread::ScopedJoinHandle<'_, Result<Vec<Result<Outcome>>>>| {
        h.join().unwrap_or_else(|_| Err(PreprocessError::Pool(jobs)))
    };
    std::thread::scope(|scope| -> Result<()> {
        let mut next = todo.first().map(|&shard| scope.spawn(move || process_shard(shard)));
        for (k, shard) in todo.iter().enumerate() {
            let outcomes = join(next.take().expect("spawned for every shard"))?;
            next = todo.get(k + 1).map(|&shard| scope.spawn(move || process_shard(shard)));
            let t = Instant::now();
            let path = sink.out.join(&shard.file);
            let mut writer: Option<ShardWriter> = None;
            for (item, outcome) in shard.items.iter().zip(outcomes) {
                let outcome = outcome?;
                report.stages += outcome.times;
                report.video_seconds += outcome.video_seconds;
                report.warnings.extend(outcome.warnings.iter().map(|w| format!("{}: {w}", item.utt_id)));
                match outcome.result {
                    Ok(utt) => {
                        if writer.is_none() {
                            writer = Some(ShardWriter::create(&path, &params_json, &sink.writer)?);
                        }
                        writer.as_mut().expect("created above").write(utt)?;
                        report.written += 1;
                    }
                    Err(reason) => {
                        report.skipped += 1;
                        bar.set_message(format!("{} skipped", report.skipped));
                        manifest.skipped.push(SkippedItem {
                            utt_id: item.utt_id.clone(),
                            split: item.split.as_str().into(),
                            reason: reason.to_string(),
                        });
                    }
                }
            }
            if let Some(w) = writer {
                w.finish()?;
                manifest.shards.push(ShardEntry::describe(sink.out, &shard.file, shard.split.as_str())?);
                report.shards_written += 1;
            } else if path.exists() {
                // A shard left by an earlier run whose items are now all skipped.
                std::fs::remove_file(&path).map_err(io(&path))?;
            }
            manifest.write(&partial_path)?;
            report.write += t.elapsed();
        }
        Ok(())
    })?;
    manifest.write(&partial_path)?;
    if sink.task.count == 1 {
        merge(sink.out)?;
    }
    bar.finish();
    report.wall = start.elapsed();
    Ok(report)
}

/// Removes `.<file>.tmp-<pid>` left by a killed writer of this shard (never visible as a shard).
fn remove_stale_temp_files(out: &Path, file: &str) -> Result<()> {
    for entry in std::fs::read_dir(out).map_err(io(out))? {
        let entry = entry.map_err(io(out))?;
        if shards::temp_target(&entry.file_name().to_string_lossy()) == Some(file) {
            std::fs::remove_file(entry.path()).map_err(io(&entry.path()))?;
        }
    }
    Ok(())
}

/// Combines every task's partial manifest into `manifest.json`; all tasks must be present.
pub fn merge(out: &Path) -> Result<Manifest> {
    let mut parts: Vec<(String, Manifest)> = Vec::new();
    let mut newest: Option<(std::time::SystemTime, usize)> = None;
    let entries = std::fs::read_dir(out).map_err(io(out))?;
    for entry in entries {
        let entry = entry.map_err(io(out))?;
        let name = entry.file_name().to_string_lossy().to_string();
        if name.starts_with("manifest.task-") && name.ends_with(".json") {
            let m = Manifest::read(&out.join(&name))?;
            let modified = entry.metadata().and_then(|m| m.modified()).map_err(io(&out.join(&name)))?;
            let count = m.params["task_count"].as_u64().unwrap_or(1) as usize;
            if newest.is_none_or(|(t, _)| modified > t) {
                newest = Some((modified, count));
            }
            parts.push((name, m));
        }
    }
    parts.sort_by(|a, b| a.0.cmp(&b.0));
    // The set is the one the most recently written partial manifest belongs to: partial
    // manifests of an earlier run with another task count are older and are ignored.
    let Some((_, count)) = newest else {
        let detail = "no partial manifests (manifest.task-*.json); run `preprocess run` first".into();
        return Err(PreprocessError::Conflict { path: out.to_path_buf(), detail });
    };
    let first_name = task_manifest_name(Task { index: 0, count });
    let expected: Vec<String> = (0..count).map(|i| task_manifest_name(Task { index: i, count })).collect();
    let names: Vec<&String> = parts.iter().map(|p| &p.0).collect();
    let missing: Vec<&String> = expected.iter().filter(|e| !names.contains(e)).collect();
    if !missing.is_empty() {
        let names = missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
        let detail = format!("tasks not finished yet: {names}");
        return Err(PreprocessError::Conflict { path: out.to_path_buf(), detail });
    }
    let first = &parts.iter().find(|p| p.0 == first_name).expect("checked present above").1;
    let mut merged = Manifest::new("preprocess", env!("CARGO_PKG_VERSION"), first.params.clone());
    for (name, m) in &parts {
        if !expected.contains(name) {
            continue; // a partial manifest from an earlier run with another task count
        }
        if m.params != first.params {
            let detail = format!("{name} was written with other parameters");
            return Err(PreprocessError::Conflict { path: out.to_path_buf(), detail });
        }
        merged.shards.extend(m.shards.iter().cloned());
        merged.skipped.extend(m.skipped.iter().cloned());
    }
    merged.shards.sort_by(|a, b| a.file.cmp(&b.file));
    merged.skipped.sort_by(|a, b| (&a.split, &a.utt_id).cmp(&(&b.split, &b.utt_id)));
    merged.write(&out.join(MANIFEST_FILE))?;
    Ok(merged)
}
