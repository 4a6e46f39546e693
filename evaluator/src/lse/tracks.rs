//! `evaluator lse` on full-frame videos (issue #31): Wav2Lip's `calculate_scores_real_videos.sh`
//! without its temporary files. run_pipeline's face tracks ([`media::fullframe`]), then SyncNet on
//! each track's 224 × 224 crops and the audio of its span, one row per (video, track).
//!
//! The reference writes each track's crops to an XVID AVI (`cv2.VideoWriter`) and SyncNet reads
//! that back through ffmpeg's JPEGs: two lossy steps. By default (`--crop-video xvid`) we do the
//! same with ffmpeg's mpeg4 encoder ([`fullframe::CropWriter`]) and the reference's frame path
//! ([`super::video::evaluate`]); `--crop-video direct` hands the crops to SyncNet as they are cut.
//! README "Your own videos" gives the measured distance of each from the reference.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, FixedSizeListBuilder, Float32Builder, ListBuilder, RecordBatch, StringArray,
    UInt32Array,
};
use arrow::datatypes::{DataType, Field, Schema};
use media::face::FaceDetect;
use media::fullframe::{self, Input};
use media::reference::{Frame, MediaError};
use media::tracks::{Dropped, Track};

use super::row::LseRow;
pub use super::row::TrackRecord;
use super::video::{Embedder, LipWindows};
use crate::error::Result;
use crate::faces::TrackSettings;

/// Per-track table.
pub const TRACKS_TABLE: &str = "tracks.parquet";
/// Directory of the tracks pictures (one PNG per video).
pub const PICTURES: &str = "tracks";

fn kept(video: &str, t: usize, track: &Track) -> TrackRecord {
    TrackRecord {
        video: video.to_string(),
        track: Some(t as u32),
        first_frame: track.frames[0] as u32,
        last_frame: track.frames[track.frames.len() - 1] as u32,
        reason: None,
        boxes: track.bboxes.iter().map(|b| b.map(|v| v as f32)).collect(),
    }
}

fn dropped(video: &str, d: &Dropped) -> TrackRecord {
    let (first, last) = match *d {
        Dropped::ShortShot { start, end } => (start, end.saturating_sub(1)),
        Dropped::TooShort { first, last, .. } | Dropped::TooSmall { first, last, .. } => (first, last),
    };
    TrackRecord {
        video: video.to_string(),
        track: None,
        first_frame: first as u32,
        last_frame: last as u32,
        reason: Some(d.to_string()),
        boxes: Vec::new(),
    }
}

/// What one full-frame video gave: a row per kept track (or one row with the video's reason) and
/// every candidate track.
pub struct Tracked {
    /// LSE rows.
    pub rows: Vec<LseRow>,
    /// Kept and dropped tracks.
    pub tracks: Vec<TrackRecord>,
}

/// Why a video has no track, in one line: the frame size (so a crop of another size is
/// recognisable) and the first dropped candidates.
fn no_track_reason(size: (usize, usize), records: &[TrackRecord]) -> String {
    let why: Vec<&str> = records.iter().filter_map(|r| r.reason.as_deref()).take(3).collect();
    let more = records.len().saturating_sub(3);
    let why = match (why.is_empty(), more) {
        (true, _) => "no face detected".to_string(),
        (false, 0) => why.join("; "),
        (false, m) => format!("{}; and {m} more", why.join("; ")),
    };
    format!(
        "no face track ({why}); frames are {}×{}, so faces were tracked (pass --crops for 224×224 face crops)",
        size.0, size.1
    )
}

/// Where one video's extra outputs go.
pub struct Extras<'a> {
    /// The tracks picture (PNG).
    pub picture: Option<&'a Path>,
    /// A directory for each track's crop video (`NNNNN.avi`).
    pub crops: Option<&'a Path>,
}

/// Tracks `video` and scores each kept track; writes the `extras` asked for.
#[allow(clippy::too_many_arguments)]
pub fn score_video(
    video: &Path,
    name: &str,
    embedder: &Embedder,
    detector: &mut dyn FaceDetect,
    settings: &TrackSettings,
    batch: usize,
    audio_stream: usize,
    extras: &Extras,
) -> std::result::Result<Tracked, MediaError> {
    let p = &settings.params;
    let clock = std::time::Instant::now();
    let input = Input::open(video, p.mode, audio_stream)?;
    let pcm = input.pcm()?;
    let det = fullframe::detect(&input, detector, p)?;
    let (tracks, drops) = fullframe::track(&det, p);
    let mut records: Vec<TrackRecord> = tracks.iter().enumerate().map(|(t, tr)| kept(name, t, tr)).collect();
    records.extend(drops.iter().map(|d| dropped(name, d)));
    if tracks.is_empty() {
        let t = clock.elapsed().as_secs_f64();
        stage_times(name, t, t, t);
        let row = LseRow::failed(name, no_track_reason(det.size, &records));
        return Ok(Tracked { rows: vec![row], tracks: records });
    }
    let spans: Vec<Vec<i16>> = tracks.iter().map(|t| fullframe::track_audio(&pcm, t).to_vec()).collect();
    let via_xvid = settings.crop_video == crate::faces::CropVideo::Xvid;
    // Direct: each track's SyncNet windows are built as its crops come (none in xvid mode, which
    // scores the crop videos afterwards).
    let mut windows: Vec<Option<LipWindows>> =
        spans.iter().map(|a| (!via_xvid).then(|| LipWindows::new(embedder, batch, a.len()))).collect();
    let tmp = match (via_xvid, extras.crops) {
        (true, None) => Some(
            tempfile::Builder::new()
                .prefix("lipsync-crops-")
                .tempdir()
                .map_err(|e| MediaError(format!("temporary directory: {e}")))?,
        ),
        _ => None,
    };
    let crop_dir = extras.crops.or(tmp.as_ref().map(|t| t.path()));
    let avi = |dir: &Path, t: usize| dir.join(format!("{t:05}.avi"));
    let mut writers = match crop_dir {
        Some(dir) => spans
            .iter()
            .enumerate()
            .map(|(t, a)| fullframe::CropWriter::create(&avi(dir, t), a).map(Some))
            .collect::<std::result::Result<Vec<_>, _>>()?,
        None => tracks.iter().map(|_| None).collect(),
    };
    let detected = clock.elapsed().as_secs_f64();
    let snaps = fullframe::crops(&input, &tracks, &p.tracks, |t, crop| {
        if let Some(w) = writers[t].as_mut() {
            w.write(&crop);
        }
        match windows[t].as_mut() {
            Some(w) if w.wants() => w.push(Frame { width: crop.width, height: crop.height, bgr: crop.data }),
            Some(w) => w.count(),
            None => {}
        }
        Ok(())
    })?;
    // A crop video that could not be written is that track's reason, not the video's.
    let written: Vec<Option<String>> =
        writers.into_iter().map(|w| w.and_then(|w| w.finish().err()).map(|e| e.to_string())).collect();
    if let Some(path) = extras.picture {
        write_picture(path, &snaps)?;
    }
    let cropped = clock.elapsed().as_secs_f64();
    let rows: Vec<LseRow> = windows
        .into_iter()
        .zip(spans)
        .zip(&tracks)
        .enumerate()
        .map(|(t, ((w, audio), track))| {
            let scored = match (w, crop_dir) {
                _ if written[t].is_some() => Err(MediaError(written[t].clone().expect("checked"))),
                (Some(w), _) => w.finish(audio),
                (None, Some(dir)) => super::video::evaluate(
                    &avi(dir, t),
                    embedder,
                    media::reference::FrameSource::Jpeg,
                    batch,
                    false,
                    0,
                ),
                (None, None) => Err(MediaError("no crop video was written".into())),
            };
            let mut row = match scored {
                Ok(v) => LseRow::scored(name, &v),
                Err(e) => LseRow::failed(name, e.to_string()),
            };
            row.track = Some(t as u32);
            row.first_frame = Some(track.frames[0] as u32);
            row.last_frame = Some(track.frames[track.frames.len() - 1] as u32);
            row
        })
        .collect();
    stage_times(name, detected, cropped, clock.elapsed().as_secs_f64());
    Ok(Tracked { rows, tracks: records })
}

/// With `LIPSYNC_STAGE_TIMES` set, one stderr line of wall seconds per stage, read by `make bench`
/// (never in the outputs, which stay byte-identical).
fn stage_times(name: &str, detected: f64, cropped: f64, done: f64) {
    if std::env::var_os("LIPSYNC_STAGE_TIMES").is_some() {
        eprintln!(
            "stage times {name}: face tracks {cropped:.3} s (decode, shots, faces, tracking {detected:.3} s; crops {:.3} s), syncnet {:.3} s",
            cropped - detected,
            done - cropped
        );
    }
}

/// The tracks picture as a PNG, written atomically.
fn write_picture(path: &Path, snaps: &[fullframe::Snapshot]) -> std::result::Result<(), MediaError> {
    let png = fullframe::picture_png(snaps, 270)?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| MediaError(format!("{}: {e}", dir.display())))?;
    }
    manifests::atomic_write(path, &png).map_err(|e| MediaError(e.to_string()))
}

/// The picture's file for the `i`-th video: its index and file stem, so two videos of one name
/// in different directories do not collide.
pub fn picture_name(i: usize, video: &Path) -> String {
    let stem = video.file_stem().map_or("video".into(), |s| s.to_string_lossy().into_owned());
    let stem: String =
        stem.chars().map(|c| if c.is_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect();
    format!("{i:05}-{stem}.png")
}

fn schema() -> Arc<Schema> {
    let corner = Arc::new(Field::new("item", DataType::Float32, false));
    let bbox = Arc::new(Field::new("item", DataType::FixedSizeList(corner, 4), false));
    Arc::new(Schema::new(vec![
        Field::new("video", DataType::Utf8, false),
        Field::new("track", DataType::UInt32, true),
        Field::new("first_frame", DataType::UInt32, false),
        Field::new("last_frame", DataType::UInt32, false),
        Field::new("kept", DataType::Boolean, false),
        Field::new("reason", DataType::Utf8, true),
        Field::new("boxes", DataType::List(bbox), false),
    ]))
}

/// `tracks.parquet`: every candidate track of every video, in input order.
pub fn write_table(path: &Path, records: &[TrackRecord]) -> Result<()> {
    let mut boxes = ListBuilder::new(
        FixedSizeListBuilder::new(Float32Builder::new(), 4).with_field(Arc::new(Field::new(
            "item",
            DataType::Float32,
            false,
        ))),
    )
    .with_field(Arc::new(Field::new(
        "item",
        DataType::FixedSizeList(Arc::new(Field::new("item", DataType::Float32, false)), 4),
        false,
    )));
    for r in records {
        for b in &r.boxes {
            boxes.values().values().append_slice(b);
            boxes.values().append(true);
        }
        boxes.append(true);
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(records.iter().map(|r| r.video.as_str()).collect::<Vec<_>>())),
        Arc::new(UInt32Array::from(records.iter().map(|r| r.track).collect::<Vec<_>>())),
        Arc::new(UInt32Array::from(records.iter().map(|r| r.first_frame).collect::<Vec<_>>())),
        Arc::new(UInt32Array::from(records.iter().map(|r| r.last_frame).collect::<Vec<_>>())),
        Arc::new(BooleanArray::from(records.iter().map(|r| r.track.is_some()).collect::<Vec<_>>())),
        Arc::new(StringArray::from(records.iter().map(|r| r.reason.as_deref()).collect::<Vec<_>>())),
        Arc::new(boxes.finish()),
    ];
    crate::scores::write_parquet(
        path,
        RecordBatch::try_new(schema(), columns).expect("columns match the schema"),
    )
}
