//! The shard-set engine every layout plugs into: plan → items → process → sink → manifest.
//!
//! A [`Layout`] says which items a corpus has and how one item becomes a shard row; the engine
//! does the rest, the same for LRS2 (`preprocess run`), the Wav2Lip import and every layout to
//! come: a deterministic plan of shards per split, this cluster task's share of it, items
//! processed on worker threads, rows written to shards atomically, skips recorded, partial
//! manifests per task, resume and merge.
//!
//! Crash safety: a shard becomes visible only by an atomic rename after it is complete, and the
//! task's partial manifest is rewritten atomically after every shard. On `--resume` a shard is
//! kept only when the partial manifest lists it and its size and sha256 still match; anything
//! else planned for this task is redone. A `kill -9` therefore loses at most the two shards in flight
//! (the one being written and the next, which the workers process meanwhile).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cli::Task;
use indicatif::ProgressStyle;
use manifests::{Manifest, ShardEntry, SkippedItem, MANIFEST_FILE};
use media::clip::StageTimes;
use rayon::prelude::*;
use serde::Serialize;
use shards::{ShardWriter, Split, Utterance, WriterOptions};

use crate::error::{io, PreprocessError, Result};
use features::mel::{F_MAX, F_MIN};

/// One input utterance.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Item {
    /// Split it is listed in.
    pub split: Split,
    /// `<programme_id>/<utt_id>`.
    pub utt_id: String,
    /// Its file or directory on disk.
    pub video: PathBuf,
    /// Its path relative to the dataset root (stored in the row).
    pub rel_path: String,
}

/// A processed item, or why it was skipped.
pub struct Outcome<S> {
    /// The row, or the skip reason (one line in the manifest).
    pub result: std::result::Result<Utterance, S>,
    /// Warnings that did not skip the item (e.g. an unreadable transcript).
    pub warnings: Vec<String>,
    /// Stage timings.
    pub times: StageTimes,
    /// Seconds of source video decoded (for throughput).
    pub video_seconds: f64,
}

/// A corpus layout: which items it has and how one becomes a shard row.
pub trait Layout: Sync {
    /// Why an item was skipped (its `Display` is the manifest's reason).
    type Skip: std::fmt::Display + Send;
    /// The items of each split, sorted by id, in plan order; notes go to `log`.
    fn items(&self, log: &dyn Fn(&str)) -> Result<Vec<(Split, Vec<Item>)>>;
    /// The layout's own processing parameters, recorded in every manifest of the set and in
    /// every shard (the engine adds the set's own: shard size, signal constants, mel).
    fn params(&self) -> Result<serde_json::Map<String, serde_json::Value>>;
    /// Row-group size and compression of the shards.
    fn writer(&self) -> WriterOptions {
        WriterOptions::default()
    }
    /// One item (called on the worker threads). An `Err` stops the run; a bad item is an
    /// [`Outcome`] with a skip reason.
    fn process(&self, item: &Item) -> Result<Outcome<Self::Skip>>;
}

/// Where and how a shard set is written: the options every layout shares.
#[derive(Debug, Clone)]
pub struct SetOptions {
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

/// The mel settings recorded in every manifest (SPEC §1.3).
pub fn mel_params() -> serde_json::Value {
    serde_json::json!({"n_fft": features::N_FFT, "hop": features::HOP, "n_mels": features::N_MELS,
                       "f_min": F_MIN, "f_max": F_MAX, "spec": "SPEC §1.3"})
}

/// One planned shard: its file name and its items.
#[derive(Debug, Clone)]
pub struct PlannedShard {
    /// Index in the global plan (the task assignment key).
    pub index: usize,
    /// `<split>-<k:05>.parquet`.
    pub file: String,
    /// Split of all its items.
    pub split: Split,
    /// Items, sorted by id.
    pub items: Vec<Item>,
}

/// Chunks each split's sorted items into shards of `per_shard`; the plan depends only on the
/// lists, so every cluster task computes the same one.
pub fn plan(items_by_split: Vec<(Split, Vec<Item>)>, per_shard: usize) -> Vec<PlannedShard> {
    let mut out = Vec::new();
    for (split, items) in items_by_split {
        for (k, chunk) in items.chunks(per_shard.max(1)).enumerate() {
            out.push(PlannedShard {
                index: out.len(),
                file: format!("{}-{k:05}.parquet", split.as_str()),
                split,
                items: chunk.to_vec(),
            });
        }
    }
    out
}

/// Builds this task's share of `layout`'s shard set under `opts`.
pub fn build<L: Layout>(layout: &L, opts: &SetOptions, log: &dyn Fn(&str)) -> Result<RunReport> {
    let start = Instant::now();
    let by_split = layout.items(log)?;
    let shards = plan(by_split, opts.utts_per_shard);
    let mut params = layout.params()?;
    params.insert("utts_per_shard".into(), opts.utts_per_shard.into());
    params.insert("task_count".into(), opts.task.count.into());
    params.insert("fps".into(), features::FPS.into());
    params.insert("sample_rate".into(), features::SAMPLE_RATE.into());
    params.insert("crop".into(), serde_json::json!([features::CROP_HEIGHT, features::CROP_WIDTH]));
    params.insert("mel".into(), mel_params());
    let mut report = execute(opts, &layout.writer(), &shards, params.into(), &|item| {
        let o = layout.process(item)?;
        Ok(Outcome {
            result: o.result.map_err(|s| s.to_string()),
            warnings: o.warnings,
            times: o.times,
            video_seconds: o.video_seconds,
        })
    })?;
    report.wall = start.elapsed();
    Ok(report)
}

/// Runs this task's share of `shards`: each item through `process_item` on `sink.jobs` threads,
/// the rows into shards (atomically), the skips into the task's partial manifest (rewritten
/// after every shard), complete shards of an earlier run with the same `params` kept; the set's
/// `manifest.json` is merged when this is the only task.
fn execute(
    sink: &SetOptions,
    writer_options: &WriterOptions,
    shards: &[PlannedShard],
    params: serde_json::Value,
    process_item: &(dyn Fn(&Item) -> Result<Outcome<String>> + Sync),
) -> Result<RunReport> {
    let start = Instant::now();
    let mine: Vec<&PlannedShard> = shards.iter().filter(|s| sink.task.owns(s.index)).collect();
    std::fs::create_dir_all(&sink.out).map_err(io(&sink.out))?;
    let partial_path = sink.out.join(task_manifest_name(sink.task));
    let previous = if sink.resume && partial_path.is_file() {
        let m = Manifest::read(&partial_path)?;
        if m.params != params {
            return Err(PreprocessError::OtherParameters { path: partial_path });
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
                if Manifest::verify_shard(&sink.out, entry).is_ok() {
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
    let process_shard = |shard: &PlannedShard| -> Result<Vec<Result<Outcome<String>>>> {
        remove_stale_temp_files(&sink.out, &shard.file)?;
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
    let join = |h: std::thread::ScopedJoinHandle<'_, Result<Vec<Result<Outcome<String>>>>>| {
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
                            writer = Some(ShardWriter::create(&path, &params_json, writer_options)?);
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
                            reason,
                        });
                    }
                }
            }
            if let Some(w) = writer {
                w.finish()?;
                manifest.shards.push(ShardEntry::describe(&sink.out, &shard.file, shard.split.as_str())?);
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
        merge(&sink.out)?;
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
        return Err(PreprocessError::NoPartialManifests { out: out.to_path_buf() });
    };
    let first_name = task_manifest_name(Task { index: 0, count });
    let expected: Vec<String> = (0..count).map(|i| task_manifest_name(Task { index: i, count })).collect();
    let names: Vec<&String> = parts.iter().map(|p| &p.0).collect();
    let missing: Vec<&String> = expected.iter().filter(|e| !names.contains(e)).collect();
    if !missing.is_empty() {
        let tasks = missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
        return Err(PreprocessError::TasksUnfinished { out: out.to_path_buf(), tasks });
    }
    let first = &parts.iter().find(|p| p.0 == first_name).expect("checked present above").1;
    let mut merged = Manifest::new("preprocess", env!("CARGO_PKG_VERSION"), first.params.clone());
    for (name, m) in &parts {
        if !expected.contains(name) {
            continue; // a partial manifest from an earlier run with another task count
        }
        if m.params != first.params {
            return Err(PreprocessError::MixedParameters { out: out.to_path_buf(), name: name.clone() });
        }
        merged.shards.extend(m.shards.iter().cloned());
        merged.skipped.extend(m.skipped.iter().cloned());
    }
    merged.shards.sort_by(|a, b| a.file.cmp(&b.file));
    merged.skipped.sort_by(|a, b| (&a.split, &a.utt_id).cmp(&(&b.split, &b.utt_id)));
    merged.write(&out.join(MANIFEST_FILE))?;
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_is_deterministic_and_covers_every_item_once() {
        let item = |i: usize| Item {
            split: Split::Test,
            utt_id: format!("p/{i:05}"),
            video: PathBuf::new(),
            rel_path: String::new(),
        };
        let p = plan(vec![(Split::Test, (0..10).map(item).collect())], 4);
        assert_eq!(p.iter().map(|s| s.items.len()).collect::<Vec<_>>(), vec![4, 4, 2]);
        assert_eq!(p[2].file, "test-00002.parquet");
        let t = [Task { index: 0, count: 2 }, Task { index: 1, count: 2 }];
        let owned: usize = p.iter().filter(|s| t.iter().any(|t| t.owns(s.index))).count();
        assert_eq!(owned, 3);
        assert!(t[0].owns(0) && t[1].owns(1) && t[0].owns(2));
    }
}
