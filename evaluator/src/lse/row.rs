//! One row of `lse.parquet` and one line of the LSE journal (a video's rows and its tracks).

use serde::{Deserialize, Serialize};

use super::score::SHIFTS;
use crate::batch::Row;

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
    pub tracks: Vec<TrackRecord>,
    /// Whether the video was taken as a full frame (its faces tracked).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tracked: bool,
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

/// A face track of a video, kept or dropped (`tracks.parquet`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackRecord {
    /// The video as given.
    pub video: String,
    /// Index among the video's kept tracks (None: dropped).
    pub track: Option<u32>,
    /// First frame (25 fps).
    pub first_frame: u32,
    /// Last frame.
    pub last_frame: u32,
    /// Why the candidate was dropped.
    pub reason: Option<String>,
    /// `[x1, y1, x2, y2]` per frame of a kept track (detected or interpolated, before smoothing).
    pub boxes: Vec<[f32; 4]>,
}
