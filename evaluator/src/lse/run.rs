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

use super::score::SHIFTS;
use super::video::{evaluate, Embedder};
use crate::batch::{csv_field, csv_opt, Row};
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
}

/// One output row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LseRow {
    /// The video as given.
    pub video: String,
    /// The face track of a full-frame video (None: the video is a face crop).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub track: Option<u32>,
    /// The track's first frame (25 fps).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_frame: Option<u32>,
    /// The track's last frame.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_frame: Option<u32>,
    /// SyncNet's offset in frames (`vshift − argmin`).
    pub offset: Option<i32>,
    /// LSE-C term: median − min of the mean distances.
    pub confidence: Option<f32>,
    /// LSE-D term: min of the mean distances.
    pub min_dist: Option<f32>,
    /// Mean distance per shift, −15..=+15.
    pub mean_dists: Option<Vec<f32>>,
    /// Windows scored.
    pub windows: Option<u32>,
    /// Frames decoded.
    pub frames: Option<u32>,
    /// Why the video has no score.
    pub reason: Option<String>,
}

impl LseRow {
    /// The row of a scored video or track.
    pub fn scored(video: &str, v: &super::video::VideoLse) -> Self {
        LseRow {
            video: video.to_string(),
            track: None,
            first_frame: None,
            last_frame: None,
            offset: Some(v.score.offset),
            confidence: Some(v.score.confidence),
            min_dist: Some(v.score.min_dist),
            mean_dists: Some(v.score.mean_dists.to_vec()),
            windows: Some(v.score.windows as u32),
            frames: Some(v.frames as u32),
            reason: None,
        }
    }

    /// The row of a video or track that could not be scored.
    pub fn failed(video: &str, reason: String) -> Self {
        LseRow {
            video: video.to_string(),
            track: None,
            first_frame: None,
            last_frame: None,
            offset: None,
            confidence: None,
            min_dist: None,
            mean_dists: None,
            windows: None,
            frames: None,
            reason: Some(reason),
        }
    }

    /// A scored row's terms must be those of its own `mean_dists` (31 finite, non-negative
    /// distances), bit for bit; a row without a score must say why and hold nothing else.
    pub fn check(&self) -> std::result::Result<(), String> {
        self.check_terms()
    }
}

/// One journal line: a video's rows (one per track of a full-frame video, else one) and its
/// candidate tracks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LseVideo {
    /// The video as given.
    pub video: String,
    /// Its rows.
    pub rows: Vec<LseRow>,
    /// Kept and dropped face tracks (full-frame videos).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tracks: Vec<super::tracks::TrackRecord>,
}

impl Row for LseVideo {
    fn key(&self) -> &str {
        &self.video
    }
    fn reason(&self) -> Option<&str> {
        self.rows.iter().all(|r| r.reason.is_some()).then(|| self.rows.first()?.reason.as_deref()).flatten()
    }
    fn check(&self) -> std::result::Result<(), String> {
        if self.rows.is_empty() {
            return Err("a video without rows".into());
        }
        for (t, r) in self.rows.iter().enumerate() {
            let numbered = r.track == Some(t as u32) || (r.track.is_none() && self.rows.len() == 1);
            if r.video != self.video || !numbered {
                return Err("a row of another video, or track rows out of order".into());
            }
            r.check()?;
        }
        Ok(())
    }
}

impl LseRow {
    /// A scored row's terms must be those of its own `mean_dists` (31 finite, non-negative
    /// distances), bit for bit; a row without a score must say why and hold nothing else.
    fn check_terms(&self) -> std::result::Result<(), String> {
        let (Some(offset), Some(confidence), Some(min_dist), Some(d), Some(windows)) =
            (self.offset, self.confidence, self.min_dist, &self.mean_dists, self.windows)
        else {
            let empty = self.offset.is_none() && self.confidence.is_none() && self.min_dist.is_none();
            return match (&self.reason, empty && self.mean_dists.is_none()) {
                (Some(_), true) => Ok(()),
                _ => Err("a row with some scores missing".into()),
            };
        };
        if self.reason.is_some() {
            return Err("a scored row with a reason".into());
        }
        let d: [f32; SHIFTS] =
            d.as_slice().try_into().map_err(|_| format!("{} mean distances, not {SHIFTS}", d.len()))?;
        if d.iter().any(|v| !v.is_finite() || *v < 0.0) || windows == 0 {
            return Err("mean distances that are not finite and non-negative, or no windows".into());
        }
        let t = super::score::terms(d, windows as usize);
        if (t.offset, t.confidence.to_bits(), t.min_dist.to_bits())
            != (offset, confidence.to_bits(), min_dist.to_bits())
        {
            return Err(format!(
                "offset {offset}, confidence {confidence}, min_dist {min_dist} are not those of its mean distances ({}, {}, {})",
                t.offset, t.confidence, t.min_dist
            ));
        }
        Ok(())
    }
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
            Some(cfg.faces.settings(media::fullframe::TrackMode::Exact)?),
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
    if tracking {
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
    let one = |row: LseRow| LseVideo { video: name.to_string(), rows: vec![row], tracks: Vec::new() };
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
        let mut detector = worker.detector.borrow_mut();
        return match super::tracks::score_video(
            video,
            name,
            &worker.embedder,
            detector.as_mut(),
            settings,
            cfg.batch,
            cfg.audio_stream,
            Some(&picture),
        ) {
            Ok(t) => LseVideo { video: name.to_string(), rows: t.rows, tracks: t.tracks },
            Err(e) => one(LseRow::failed(name, e.to_string())),
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
