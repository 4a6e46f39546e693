//! The `evaluator lse` batch job: every video scored once, in parallel, resumable.
//!
//! - One writer per `--out` ([`manifests::DirLock`]).
//! - Each finished video (scored or not) is appended to `lse.jsonl` and flushed to disk at once;
//!   a rerun with the same weights and options keeps those rows and scores only the rest, so a
//!   killed job loses at most the videos in flight. A journal of other weights or options is
//!   refused (use another `--out`).
//! - At the end `lse.parquet`, `lse.csv` and `summary.json` are written, each atomically, rows in
//!   input order whatever order the workers finished in.
//! - Every forward runs on one libtorch thread, `--jobs` videos at a time: libtorch's CPU kernels
//!   split their sums by thread count, so a thread count that followed `--jobs` would change the
//!   last bits of the distances (measured: 10.715581 with one thread, 10.715582 with two); this
//!   way the output is byte-identical whatever `--jobs` is, and across a resume.
//! - A video that cannot be scored gets a row with its reason and never stops the batch.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, FixedSizeListArray, Float32Array, Int32Array, RecordBatch, StringArray, UInt32Array,
};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{DataType, Field, Schema};
use nets::device::DeviceSpec;
use nets::syncnet::SyncNet;
use serde::{Deserialize, Serialize};

pub use super::row::{LseRow, LseVideo};
use super::score::SHIFTS;
use super::video::{evaluate, Embedder};
use crate::batch::{csv_field, csv_opt};
use crate::error::{io, Result};
use media::reference::FrameSource;

/// What the videos are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LseInput {
    /// 224 × 224 videos are face crops, any other size is tracked.
    Auto,
    /// Every video is a face crop (syncnet_python's evaluate; `--resize` for other sizes).
    Crops,
    /// Every video is a full frame whose faces are tracked.
    FullFrame,
}

/// Journal of finished videos.
pub const JOURNAL: &str = "lse.jsonl";
/// Per-video table.
pub const TABLE: &str = "lse.parquet";
/// The same as CSV.
pub const CSV: &str = "lse.csv";
/// LSE-C, LSE-D and provenance.
pub const SUMMARY: &str = "summary.json";

/// What `evaluator lse` runs.
#[derive(Debug, Clone)]
pub struct LseConfig {
    /// Videos, in output order.
    pub videos: Vec<PathBuf>,
    /// SyncNet weights (`syncnet_v2.model`).
    pub syncnet: PathBuf,
    /// Output directory.
    pub out: PathBuf,
    /// Videos scored at once (one libtorch thread each).
    pub jobs: usize,
    /// Device.
    pub device: DeviceSpec,
    /// Windows per forward.
    pub batch: usize,
    /// Frame decoding.
    pub frames: FrameSource,
    /// Resize frames of another size to 224 × 224 (Wav2Lip's scores_LSE).
    pub resize: bool,
    /// Audio stream (0: the first), as `--audio-stream` for every command.
    pub audio_stream: usize,
    /// No progress bar.
    pub quiet: bool,
    /// Crops, full frames, or by size.
    pub input: LseInput,
    /// The face-track flags (full-frame videos).
    pub faces: crate::faces::TrackArgs,
    /// Fast mode's detection cadence.
    pub detect_every: usize,
    /// Write each track's crop video under this directory (`NNNNN-STEM/TTTTT.avi`).
    pub write_crops: Option<PathBuf>,
}

/// What the journal's first line records: results are only reused under the same settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct JournalHeader {
    lse_journal: u32,
    input: LseInput,
    /// The face-track settings (when any video may be tracked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tracks: Option<crate::faces::TrackSettings>,
    syncnet_sha256: String,
    frames: FrameSource,
    batch: usize,
    #[serde(default)]
    resize: bool,
    /// Recorded only when not the first, so earlier journals stay valid.
    #[serde(default, skip_serializing_if = "is_first")]
    audio_stream: usize,
}

fn is_first(i: &usize) -> bool {
    *i == 0
}

/// `summary.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LseSummary {
    /// Mean confidence over scored videos (Wav2Lip's `calculate_scores_*`: float32 running sum in
    /// input order, divided by the count).
    pub lse_c: Option<f32>,
    /// Mean minimum distance over scored videos, computed the same way.
    pub lse_d: Option<f32>,
    /// Videos scored.
    pub scored: usize,
    /// Videos with a reason instead of a score.
    pub failed: usize,
    /// sha256 of the weights.
    pub syncnet_sha256: String,
    /// Weights file as given.
    pub syncnet: String,
    /// Frame decoding used.
    pub frames: FrameSource,
    /// Whether frames of another size were resized to 224 × 224.
    pub resize: bool,
    /// Crops, full frames, or by size.
    pub input: LseInput,
    /// Rows (a full-frame video has one per face track).
    pub rows: usize,
    /// The face-track settings (when any video may be tracked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracks: Option<crate::faces::TrackSettings>,
    /// Shifts searched each side.
    pub vshift: usize,
    /// lipsync version.
    pub tool_version: String,
}

/// A worker: SyncNet and a face detector, made on its own thread.
struct Worker {
    embedder: Embedder,
    detector: std::cell::RefCell<Box<dyn media::face::FaceDetect>>,
}

/// Runs the job; returns the rows (input order; a full-frame video has one per face track) and
/// the summary.
pub fn run(cfg: &LseConfig) -> Result<(Vec<LseRow>, LseSummary)> {
    if cfg.faces.detections.is_some() && cfg.videos.len() > 1 {
        return Err(crate::EvalError::DetectionsForOneVideo(cfg.videos.len()));
    }
    let lock = manifests::DirLock::acquire(&cfg.out, "evaluator lse")?;
    std::fs::create_dir_all(&cfg.out).map_err(io(&cfg.out))?;
    lock.remove_stale_temp_files(&cfg.out)?;
    let device = cfg.device.device();
    nets::device::set_threads(1);
    let model = SyncNet::load(&cfg.syncnet, &device)?;
    let sha = manifests::sha256_file(&cfg.syncnet)?;
    let tracking = cfg.input != LseInput::Crops && !cfg.resize;
    let (settings, detector) = match tracking {
        true => (
            Some(cfg.faces.settings(crate::faces::TrackDefaults::LSE, cfg.detect_every)?),
            Some(crate::faces::Loaded::load(&cfg.faces, &device)?),
        ),
        false => (None, None),
    };
    let header = JournalHeader {
        lse_journal: 2,
        input: cfg.input,
        tracks: settings.clone(),
        syncnet_sha256: sha.clone(),
        frames: cfg.frames,
        batch: cfg.batch,
        resize: cfg.resize,
        audio_stream: cfg.audio_stream,
    };
    let names: Vec<String> = cfg.videos.iter().map(|v| v.display().to_string()).collect();
    let batch = crate::batch::Batch {
        journal: &cfg.out.join(JOURNAL),
        header: &header,
        jobs: cfg.jobs,
        quiet: cfg.quiet,
        unit: "videos",
        stamps: &cfg.videos.iter().map(|v| crate::batch::file_stamp(v)).collect::<Vec<_>>(),
    };
    let videos = crate::batch::run(
        &batch,
        &names,
        || Worker {
            embedder: Embedder { model: model.clone(), device: device.clone() },
            detector: std::cell::RefCell::new(match &detector {
                Some(d) => d.detector(),
                None => {
                    Box::new(media::face::FaceDetector::new(&Default::default()).expect("embedded model"))
                }
            }),
        },
        |worker, i| score_video(i, &cfg.videos[i], &names[i], worker, cfg, settings.as_ref()),
    )?;
    let rows: Vec<LseRow> = videos.iter().flat_map(|v| v.rows.iter().cloned()).collect();
    let summary = summarise(&rows, cfg, sha, settings);
    write_table(&cfg.out.join(TABLE), &rows)?;
    manifests::atomic_write(&cfg.out.join(CSV), csv(&rows).as_bytes())?;
    if videos.iter().any(|v| v.tracked) {
        let records: Vec<_> = videos.iter().flat_map(|v| v.tracks.iter().cloned()).collect();
        super::tracks::write_table(&cfg.out.join(super::tracks::TRACKS_TABLE), &records)?;
    }
    let json = serde_json::to_string_pretty(&summary).expect("serialisable") + "\n";
    manifests::atomic_write(&cfg.out.join(SUMMARY), json.as_bytes())?;
    Ok((rows, summary))
}

/// Whether `video` is tracked: always, never, or when its frames are not 224 × 224.
fn is_full_frame(video: &Path, cfg: &LseConfig) -> bool {
    match (cfg.input, cfg.resize) {
        (LseInput::Crops, _) | (_, true) => false,
        (LseInput::FullFrame, false) => true,
        (LseInput::Auto, false) => {
            let side = nets::syncnet::FRAME_SIZE;
            media::reference::probe_size(video).is_ok_and(|s| s != (side, side))
        }
    }
}

fn score_video(
    i: usize,
    video: &Path,
    name: &str,
    worker: &Worker,
    cfg: &LseConfig,
    settings: Option<&crate::faces::TrackSettings>,
) -> LseVideo {
    let one = |row: LseRow| LseVideo {
        video: name.to_string(),
        rows: vec![row],
        tracks: Vec::new(),
        tracked: false,
    };
    if let Err(e) = media::decode::regular_file(video) {
        return one(LseRow::failed(name, e.to_string()));
    }
    if !video.is_file() {
        return one(LseRow::failed(name, "no such file".into()));
    }
    let streams = media::reference::audio_streams(video);
    if streams > 1 {
        eprintln!("{name}: {}", media::decode::several_audio_streams(streams, cfg.audio_stream));
    }
    if let (Some(settings), true) = (settings, is_full_frame(video, cfg)) {
        let picture = cfg.out.join(super::tracks::PICTURES).join(super::tracks::picture_name(i, video));
        let crops = cfg
            .write_crops
            .as_ref()
            .map(|d| d.join(super::tracks::picture_name(i, video).trim_end_matches(".png")));
        let extras = super::tracks::Extras { picture: Some(&picture), crops: crops.as_deref() };
        let mut detector = worker.detector.borrow_mut();
        return match super::tracks::score_video(
            video,
            name,
            &worker.embedder,
            detector.as_mut(),
            settings,
            cfg.batch,
            cfg.audio_stream,
            &extras,
        ) {
            Ok(t) => LseVideo { video: name.to_string(), rows: t.rows, tracks: t.tracks, tracked: true },
            Err(e) => LseVideo { tracked: true, ..one(LseRow::failed(name, e.to_string())) },
        };
    }
    match evaluate(video, &worker.embedder, cfg.frames, cfg.batch, cfg.resize, cfg.audio_stream) {
        Ok(v) => one(LseRow::scored(name, &v)),
        Err(e) => one(LseRow::failed(name, e.to_string())),
    }
}

/// Means as Wav2Lip's `calculate_scores_*.py` print them: `sum(list) / len(list)` over numpy
/// float32 scalars, i.e. a float32 running sum and a float32 division.
fn summarise(
    rows: &[LseRow],
    cfg: &LseConfig,
    sha: String,
    tracks: Option<crate::faces::TrackSettings>,
) -> LseSummary {
    let conf: Vec<f32> = rows.iter().filter_map(|r| r.confidence).collect();
    let dist: Vec<f32> = rows.iter().filter_map(|r| r.min_dist).collect();
    let mean = |v: &[f32]| (!v.is_empty()).then(|| v.iter().fold(0f32, |a, &b| a + b) / v.len() as f32);
    LseSummary {
        lse_c: mean(&conf),
        lse_d: mean(&dist),
        scored: conf.len(),
        failed: rows.len() - conf.len(),
        syncnet_sha256: sha,
        syncnet: cfg.syncnet.display().to_string(),
        frames: cfg.frames,
        resize: cfg.resize,
        input: cfg.input,
        rows: rows.len(),
        tracks,
        vshift: super::VSHIFT,
        tool_version: env!("CARGO_PKG_VERSION").into(),
    }
}

fn schema() -> Arc<Schema> {
    let item = Arc::new(Field::new("item", DataType::Float32, false));
    Arc::new(Schema::new(vec![
        Field::new("video", DataType::Utf8, false),
        Field::new("track", DataType::UInt32, true),
        Field::new("first_frame", DataType::UInt32, true),
        Field::new("last_frame", DataType::UInt32, true),
        Field::new("offset", DataType::Int32, true),
        Field::new("confidence", DataType::Float32, true),
        Field::new("min_dist", DataType::Float32, true),
        Field::new("mean_dists", DataType::FixedSizeList(item, SHIFTS as i32), true),
        Field::new("windows", DataType::UInt32, true),
        Field::new("frames", DataType::UInt32, true),
        Field::new("reason", DataType::Utf8, true),
    ]))
}

fn write_table(path: &Path, rows: &[LseRow]) -> Result<()> {
    let item = Arc::new(Field::new("item", DataType::Float32, false));
    let flat: Vec<f32> =
        rows.iter().flat_map(|r| r.mean_dists.clone().unwrap_or_else(|| vec![0.0; SHIFTS])).collect();
    let valid = NullBuffer::from(rows.iter().map(|r| r.mean_dists.is_some()).collect::<Vec<bool>>());
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(rows.iter().map(|r| r.video.as_str()).collect::<Vec<_>>())),
        Arc::new(UInt32Array::from(rows.iter().map(|r| r.track).collect::<Vec<_>>())),
        Arc::new(UInt32Array::from(rows.iter().map(|r| r.first_frame).collect::<Vec<_>>())),
        Arc::new(UInt32Array::from(rows.iter().map(|r| r.last_frame).collect::<Vec<_>>())),
        Arc::new(Int32Array::from(rows.iter().map(|r| r.offset).collect::<Vec<_>>())),
        Arc::new(Float32Array::from(rows.iter().map(|r| r.confidence).collect::<Vec<_>>())),
        Arc::new(Float32Array::from(rows.iter().map(|r| r.min_dist).collect::<Vec<_>>())),
        Arc::new(FixedSizeListArray::new(
            item,
            SHIFTS as i32,
            Arc::new(Float32Array::from(flat)),
            Some(valid),
        )),
        Arc::new(UInt32Array::from(rows.iter().map(|r| r.windows).collect::<Vec<_>>())),
        Arc::new(UInt32Array::from(rows.iter().map(|r| r.frames).collect::<Vec<_>>())),
        Arc::new(StringArray::from(rows.iter().map(|r| r.reason.as_deref()).collect::<Vec<_>>())),
    ];
    crate::scores::write_parquet(
        path,
        RecordBatch::try_new(schema(), columns).expect("columns match the schema"),
    )
}

fn csv(rows: &[LseRow]) -> String {
    let mut out =
        String::from("video,track,first_frame,last_frame,offset,confidence,min_dist,windows,frames,reason");
    for j in 0..SHIFTS {
        out += &format!(",dist_{}", j as i32 - super::VSHIFT as i32);
    }
    out.push('\n');
    for r in rows {
        out += &[
            csv_field(&r.video),
            csv_opt(r.track),
            csv_opt(r.first_frame),
            csv_opt(r.last_frame),
            csv_opt(r.offset),
            csv_opt(r.confidence),
            csv_opt(r.min_dist),
            csv_opt(r.windows),
            csv_opt(r.frames),
            csv_field(r.reason.as_deref().unwrap_or("")),
        ]
        .join(",");
        match &r.mean_dists {
            Some(d) => d.iter().for_each(|v| out += &format!(",{v}")),
            None => out += &",".repeat(SHIFTS),
        }
        out.push('\n');
    }
    out
}
