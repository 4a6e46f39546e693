//! `evaluator sync` over many inputs: a shard set's split, a list of videos or a directory, scored
//! in parallel and resumably ([`crate::batch`]), one row per utterance in `sync.parquet` and
//! `sync.csv`, optionally cleaned by a `--keep` rule ([`super::clean`]).
//!
//! - Shards are scored from their stored crops and mel (nothing decoded); videos go through the
//!   preprocessing of `preprocess run` first ([`super::decode_video`]).
//! - Every forward runs on one libtorch thread, `--jobs` utterances at a time, so the numbers do not
//!   depend on `--jobs` or on a resume (libtorch's CPU sums depend on the thread count).
//! - Cluster tasks (`--num-shards K --shard-index i`, or SLURM / Kubernetes variables, as
//!   `preprocess`): task i scores items j with j mod K = i into `task-<i>-of-<K>/` under `--out`;
//!   `evaluator sync-merge --out` combines them once all have finished.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, FixedSizeListArray, Float32Array, Int32Array, RecordBatch, StringArray, UInt32Array,
};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{DataType, Field, Schema};
use cli::Task;
use features::MelExtractor;
use manifests::Manifest;
use media::clip::ClipParams as Params;
use media::face::FaceDetector;
use nets::checkpoint;
use nets::device::DeviceSpec;
use serde::{Deserialize, Serialize};
use shards::ShardReader;

use super::clean::{clean, CleanReport, KeepRule};
use super::row::SyncRow;
use super::{decode_video, score_utterance, SyncResult};
use crate::batch::{csv_field, csv_opt, Batch};
use crate::error::{io, EvalError, Result};
use crate::protocol::{CANDIDATES, V_SHIFT};

/// Journal of finished utterances.
pub const JOURNAL: &str = "sync.jsonl";
/// Per-utterance table.
pub const TABLE: &str = "sync.parquet";
/// The same as CSV.
pub const CSV: &str = "sync.csv";
/// A finished cluster task's rows and settings (what `sync-merge` reads).
pub const TASK_DONE: &str = "task.json";

/// What to score.
#[derive(Debug, Clone)]
pub enum Source {
    /// Every utterance of `splits` in the shard set `dir`, split by split.
    Shards {
        /// Shard set directory (with manifest.json).
        dir: PathBuf,
        /// Splits.
        splits: Vec<String>,
    },
    /// Videos, each with its utterance id (see [`crate::inputs::utt_key`]).
    Videos(Vec<(String, PathBuf)>),
}

/// What `evaluator sync` runs over many inputs.
#[derive(Debug, Clone)]
pub struct SyncBatchConfig {
    /// Inputs.
    pub source: Source,
    /// Checkpoint.
    pub model: PathBuf,
    /// Output directory.
    pub out: PathBuf,
    /// Utterances scored at once (one libtorch thread each).
    pub jobs: usize,
    /// This cluster task.
    pub task: Task,
    /// Device.
    pub device: DeviceSpec,
    /// Audio stream of videos (0: the first), as `--audio-stream` for every command.
    pub audio_stream: usize,
    /// Cleaning rule applied to the result (single-task runs and `sync-merge`).
    pub keep: Option<KeepRule>,
    /// No progress bar.
    pub quiet: bool,
}

/// The settings the journal's first line records: rows are reused only under the same ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncHeader {
    sync_journal: u32,
    /// sha256 of the checkpoint.
    pub model_sha256: String,
    /// `shards` (with the manifest's sha256 and the split) or `videos` (with the preprocessing).
    pub input: serde_json::Value,
    /// Cluster task index and count.
    pub task: [usize; 2],
}

/// A finished task's result: what `sync-merge` combines.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct TaskDone {
    header: SyncHeader,
    rows: Vec<SyncRow>,
}

/// The directory a task writes into: `--out` itself for a single task.
pub fn task_dir(out: &Path, task: Task) -> PathBuf {
    if task.count == 1 {
        out.to_path_buf()
    } else {
        out.join(format!("task-{}-of-{}", task.index, task.count))
    }
}

/// An item to score: utterance id and where it is.
enum Item {
    Shard { file: String },
    Video(PathBuf),
}

/// Each worker's own state: the model, a face detector for videos, the open shard.
struct Worker {
    model: nets::model::SyncTransformer,
    conv: nets::model::InputConvention,
    device: burn::tensor::Device,
    detector: RefCell<Option<FaceDetector>>,
    mel: MelExtractor,
    params: Params,
    shard: RefCell<Option<(String, ShardReader)>>,
}

impl Worker {
    fn utterance(
        &self,
        key: &str,
        item: &Item,
        shards: Option<(&Manifest, &Path)>,
    ) -> std::result::Result<shards::Utterance, String> {
        match item {
            Item::Video(video) => {
                media::decode::regular_file(video).map_err(|e| e.to_string())?;
                if !video.is_file() {
                    return Err("no such file".into());
                }
                let mut det = self.detector.borrow_mut();
                if det.is_none() {
                    *det = Some(FaceDetector::new(&self.params.detect).map_err(|e| e.to_string())?);
                }
                let (utt, warnings) =
                    decode_video(video, key, det.as_mut().expect("set above"), &self.mel, &self.params)?;
                for w in warnings {
                    eprintln!("{key}: warning: {w}");
                }
                Ok(utt)
            }
            Item::Shard { file } => {
                let (manifest, dir) = shards.expect("shard items come with their manifest");
                let mut open = self.shard.borrow_mut();
                if open.as_ref().is_none_or(|(f, _)| f != file) {
                    let reader = manifest.open_shard(dir, file).map_err(|e| e.to_string())?;
                    *open = Some((file.clone(), reader));
                }
                let (_, reader) = open.as_mut().expect("opened above");
                reader.get(key).map_err(|e| e.to_string())
            }
        }
    }
}

/// Runs this task's share; returns its rows (input order) and, for a single task with a rule,
/// the cleaning report.
pub fn run(cfg: &SyncBatchConfig) -> Result<(Vec<SyncRow>, Option<CleanReport>)> {
    let dir = task_dir(&cfg.out, cfg.task);
    let lock = manifests::DirLock::acquire(&dir, "evaluator sync")?;
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    lock.remove_stale_temp_files(&dir)?;
    let device = cfg.device.device();
    nets::device::set_threads(1);
    let loaded = checkpoint::load(&cfg.model, None, &device)?;
    let model_sha256 = manifests::sha256_file(&cfg.model)?;
    let mut manifest = None;
    let params = Params { audio_stream: cfg.audio_stream, ..Params::default() };
    let (input, all): (serde_json::Value, Vec<(String, String, Item)>) = match &cfg.source {
        Source::Shards { dir, splits } => {
            let (path, m, entries) = crate::run::split_entries(dir, splits)?;
            let sha = manifests::sha256_file(&path)?;
            manifest = Some((m, dir.clone()));
            let items = entries
                .iter()
                .flat_map(|e| {
                    e.utterances
                        .iter()
                        .map(|u| (u.clone(), e.file.clone(), Item::Shard { file: e.file.clone() }))
                })
                .collect();
            (serde_json::json!({"shards": {"manifest_sha256": sha, "splits": splits}}), items)
        }
        Source::Videos(videos) => {
            let mut seen = std::collections::HashMap::new();
            for (k, v) in videos {
                if let Some(first) = seen.insert(k.as_str(), v) {
                    return Err(EvalError::DuplicateId {
                        path: v.clone(),
                        id: k.clone(),
                        first: first.clone(),
                    });
                }
            }
            let items = videos
                .iter()
                .map(|(k, v)| (k.clone(), v.display().to_string(), Item::Video(v.clone())))
                .collect();
            (serde_json::json!({"videos": {"preprocess": params}}), items)
        }
    };
    let mine: Vec<&(String, String, Item)> =
        all.iter().enumerate().filter(|(j, _)| cfg.task.owns(*j)).map(|(_, x)| x).collect();
    let header = SyncHeader { sync_journal: 2, model_sha256, input, task: [cfg.task.index, cfg.task.count] };
    let keys: Vec<String> = mine.iter().map(|x| x.0.clone()).collect();
    // Videos are stamped (size, mtime): one replaced under the same name is scored again. Shards
    // need none: the header pins the manifest's sha256, which pins every shard's.
    let stamps: Vec<String> = mine
        .iter()
        .map(|x| match &x.2 {
            Item::Video(v) => crate::batch::file_stamp(v),
            Item::Shard { .. } => String::new(),
        })
        .collect();
    let batch = Batch {
        journal: &dir.join(JOURNAL),
        header: &header,
        jobs: cfg.jobs,
        quiet: cfg.quiet,
        unit: "utterances",
        stamps: &stamps,
    };
    let shards = manifest.as_ref().map(|(m, d)| (m, d.as_path()));
    let rows = crate::batch::run(
        &batch,
        &keys,
        || Worker {
            model: loaded.model.clone(),
            conv: loaded.config.input,
            device: device.clone(),
            detector: RefCell::new(None),
            mel: MelExtractor::new(),
            params: params.clone(),
            shard: RefCell::new(None),
        },
        |w, i| {
            let (key, source, item) = mine[i];
            let scored = w
                .utterance(key, item, shards)
                .and_then(|utt| score_utterance(&w.model, &w.conv, &utt, &w.device));
            let (result, reason) = match scored {
                Ok(r) => (Some(r), None),
                Err(why) => (None, Some(why)),
            };
            SyncRow { utt_id: key.clone(), source: source.clone(), result, reason }
        },
    )?;
    write_outputs(&dir, &rows)?;
    if cfg.task.count > 1 {
        let done = TaskDone { header, rows: rows.clone() };
        let json = serde_json::to_string(&done).expect("serialisable") + "\n";
        manifests::atomic_write(&dir.join(TASK_DONE), json.as_bytes())?;
        return Ok((rows, None));
    }
    let report = cfg.keep.as_ref().map(|rule| write_clean(&dir, &rows, rule)).transpose()?;
    Ok((rows, report))
}

/// Writes `sync.parquet` and `sync.csv`, each atomically.
pub fn write_outputs(dir: &Path, rows: &[SyncRow]) -> Result<()> {
    write_table(&dir.join(TABLE), rows)?;
    manifests::atomic_write(&dir.join(CSV), csv(rows).as_bytes()).map_err(EvalError::from)
}

/// Applies `rule` and writes `keep.txt` (a split list of the kept utterances) and `clean.json`.
pub fn write_clean(dir: &Path, rows: &[SyncRow], rule: &KeepRule) -> Result<CleanReport> {
    let (kept, report) = clean(rows, rule);
    let list: String = kept.iter().map(|r| format!("{}\n", r.utt_id)).collect();
    manifests::atomic_write(&dir.join(super::clean::KEEP_LIST), list.as_bytes())?;
    let json = serde_json::to_string_pretty(&report).expect("serialisable") + "\n";
    manifests::atomic_write(&dir.join(super::clean::REPORT), json.as_bytes())?;
    Ok(report)
}

/// `evaluator sync-merge`: combines the `task-<i>-of-<K>/` results under `out` into `out`'s
/// `sync.parquet` and `sync.csv` in input order; refuses a missing or unfinished task, and task
/// directories of two different task counts (a stale earlier run).
pub fn merge(out: &Path, keep: Option<&KeepRule>) -> Result<(Vec<SyncRow>, Option<CleanReport>)> {
    let _lock = manifests::DirLock::acquire(out, "evaluator sync-merge")?;
    let mut tasks: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
    for e in std::fs::read_dir(out).map_err(io(out))?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let parsed = name
            .strip_prefix("task-")
            .and_then(|r| r.split_once("-of-"))
            .and_then(|(i, k)| Some((i.parse::<usize>().ok()?, k.parse::<usize>().ok()?)));
        if let (Some((i, k)), true) = (parsed, e.path().is_dir()) {
            tasks.entry(k).or_default().push(i);
        }
    }
    let count = match tasks.keys().collect::<Vec<_>>().as_slice() {
        [] => return Err(EvalError::NoTasks(out.to_path_buf())),
        [k] => **k,
        ks => {
            let counts = ks.iter().map(|k| **k).collect();
            return Err(EvalError::TaskCounts { out: out.to_path_buf(), counts });
        }
    };
    let mut parts = Vec::with_capacity(count);
    for i in 0..count {
        let path = task_dir(out, Task { index: i, count }).join(TASK_DONE);
        let text = std::fs::read_to_string(&path).map_err(|_| EvalError::TaskUnfinished {
            out: out.to_path_buf(),
            index: i,
            count,
            done: path.clone(),
        })?;
        let done: TaskDone = serde_json::from_str(&text)
            .map_err(|source| EvalError::NotAFinishedTask { path: path.clone(), source })?;
        if let Some(first) = parts.first().map(|p: &TaskDone| &p.header) {
            let (a, b) = (first, &done.header);
            if a.model_sha256 != b.model_sha256 || a.input != b.input {
                return Err(EvalError::TaskMismatch(path));
            }
        }
        parts.push(done);
    }
    // Task i holds items i, i + K, i + 2K, ... in order: interleave them back.
    let total: usize = parts.iter().map(|p| p.rows.len()).sum();
    let mut iters: Vec<_> = parts.into_iter().map(|p| p.rows.into_iter()).collect();
    let rows: Vec<SyncRow> = (0..total).filter_map(|j| iters[j % count].next()).collect();
    write_outputs(out, &rows)?;
    let report = keep.map(|rule| write_clean(out, &rows, rule)).transpose()?;
    Ok((rows, report))
}

fn schema() -> Arc<Schema> {
    let item = Arc::new(Field::new("item", DataType::Float32, false));
    Arc::new(Schema::new(vec![
        Field::new("utt_id", DataType::Utf8, false),
        Field::new("source", DataType::Utf8, false),
        Field::new("offset_frames", DataType::Int32, true),
        Field::new("offset_ms", DataType::Int32, true),
        Field::new("confidence", DataType::Float32, true),
        Field::new("prominence", DataType::Float32, true),
        Field::new("mean_scores", DataType::FixedSizeList(item, CANDIDATES as i32), true),
        Field::new("windows", DataType::UInt32, true),
        Field::new("reason", DataType::Utf8, true),
    ]))
}

fn write_table(path: &Path, rows: &[SyncRow]) -> Result<()> {
    let item = Arc::new(Field::new("item", DataType::Float32, false));
    let r =
        |f: &dyn Fn(&SyncResult) -> i32| rows.iter().map(|x| x.result.as_ref().map(f)).collect::<Vec<_>>();
    let flat: Vec<f32> = rows
        .iter()
        .flat_map(|x| x.result.as_ref().map_or_else(|| vec![0.0; CANDIDATES], |r| r.mean_scores.clone()))
        .collect();
    let valid = NullBuffer::from(rows.iter().map(|x| x.result.is_some()).collect::<Vec<bool>>());
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(rows.iter().map(|x| x.utt_id.as_str()).collect::<Vec<_>>())),
        Arc::new(StringArray::from(rows.iter().map(|x| x.source.as_str()).collect::<Vec<_>>())),
        Arc::new(Int32Array::from(r(&|r| r.offset_frames))),
        Arc::new(Int32Array::from(r(&|r| r.offset_ms))),
        Arc::new(Float32Array::from(
            rows.iter().map(|x| x.result.as_ref().map(|r| r.confidence)).collect::<Vec<_>>(),
        )),
        Arc::new(Float32Array::from(
            rows.iter().map(|x| x.result.as_ref().map(|r| r.prominence)).collect::<Vec<_>>(),
        )),
        Arc::new(FixedSizeListArray::new(
            item,
            CANDIDATES as i32,
            Arc::new(Float32Array::from(flat)),
            Some(valid),
        )),
        Arc::new(UInt32Array::from(
            rows.iter().map(|x| x.result.as_ref().map(|r| r.windows as u32)).collect::<Vec<_>>(),
        )),
        Arc::new(StringArray::from(rows.iter().map(|x| x.reason.as_deref()).collect::<Vec<_>>())),
    ];
    crate::scores::write_parquet(
        path,
        RecordBatch::try_new(schema(), columns).expect("columns match the schema"),
    )
}

fn csv(rows: &[SyncRow]) -> String {
    let mut out = String::from("utt_id,source,offset_frames,offset_ms,confidence,prominence,windows,reason");
    for j in 0..CANDIDATES {
        out += &format!(",score_{}", j as i32 - V_SHIFT as i32);
    }
    out.push('\n');
    for x in rows {
        let r = x.result.as_ref();
        out += &[
            csv_field(&x.utt_id),
            csv_field(&x.source),
            csv_opt(r.map(|r| r.offset_frames)),
            csv_opt(r.map(|r| r.offset_ms)),
            csv_opt(r.map(|r| r.confidence)),
            csv_opt(r.map(|r| r.prominence)),
            csv_opt(r.map(|r| r.windows)),
            csv_field(x.reason.as_deref().unwrap_or("")),
        ]
        .join(",");
        match r {
            Some(r) => r.mean_scores.iter().for_each(|v| out += &format!(",{v}")),
            None => out += &",".repeat(CANDIDATES),
        }
        out.push('\n');
    }
    out
}

/// Reads `sync.parquet` back (for `sync-clean` and `preprocess --shift-audio`-style consumers).
pub fn read_table(path: &Path) -> Result<Vec<SyncRow>> {
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{Float32Type, Int32Type, UInt32Type};
    let bad = |detail: String| EvalError::NotScores { path: path.to_path_buf(), detail };
    let file = std::fs::File::open(path).map_err(io(path))?;
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| bad(e.to_string()))?
        .build()
        .map_err(|e| bad(e.to_string()))?;
    let mut rows = Vec::new();
    for batch in reader {
        let b = batch.map_err(|e| bad(e.to_string()))?;
        let col = |name: &str| {
            b.column_by_name(name).ok_or_else(|| bad(format!("no column {name:?}; not a sync.parquet")))
        };
        let (utt, src) = (col("utt_id")?.as_string_opt::<i32>(), col("source")?.as_string_opt::<i32>());
        let (off, ms) = (
            col("offset_frames")?.as_primitive_opt::<Int32Type>(),
            col("offset_ms")?.as_primitive_opt::<Int32Type>(),
        );
        let conf = col("confidence")?.as_primitive_opt::<Float32Type>();
        let prom = col("prominence")?.as_primitive_opt::<Float32Type>();
        let scores = col("mean_scores")?.as_fixed_size_list_opt();
        let win = col("windows")?.as_primitive_opt::<UInt32Type>();
        let reason = col("reason")?.as_string_opt::<i32>();
        let (
            Some(utt),
            Some(src),
            Some(off),
            Some(ms),
            Some(conf),
            Some(prom),
            Some(scores),
            Some(win),
            Some(reason),
        ) = (utt, src, off, ms, conf, prom, scores, win, reason)
        else {
            return Err(bad("a column has another type than sync.parquet's".into()));
        };
        for i in 0..b.num_rows() {
            let result = (!off.is_null(i)).then(|| {
                let s = scores.value(i);
                let s = s.as_primitive::<Float32Type>();
                SyncResult {
                    offset_frames: off.value(i),
                    offset_ms: ms.value(i),
                    confidence: conf.value(i),
                    prominence: prom.value(i),
                    mean_scores: s.values().to_vec(),
                    windows: win.value(i) as usize,
                }
            });
            rows.push(SyncRow {
                utt_id: utt.value(i).to_string(),
                source: src.value(i).to_string(),
                result,
                reason: (!reason.is_null(i)).then(|| reason.value(i).to_string()),
            });
        }
    }
    Ok(rows)
}
