//! The in-memory utterance, one shard row.

use features::{CHANNELS, CROP_HEIGHT, CROP_WIDTH, N_MELS};
use serde::{Deserialize, Serialize};

use crate::error::{SizeMismatch, UnknownSplit};

/// LRS2 split an utterance belongs to (SPEC §1.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// `pretrain` list (the training data of VocaLiST and MTD).
    Pretrain,
    /// `train` list (used by neither reference trainer).
    Train,
    /// `val` list.
    Val,
    /// `test` list (the leaderboard split).
    Test,
}

impl Split {
    /// All splits in LRS2's order.
    pub const ALL: [Split; 4] = [Split::Pretrain, Split::Train, Split::Val, Split::Test];

    /// The name used in split lists, shard metadata and file names.
    pub fn as_str(self) -> &'static str {
        match self {
            Split::Pretrain => "pretrain",
            Split::Train => "train",
            Split::Val => "val",
            Split::Test => "test",
        }
    }
}

impl std::fmt::Display for Split {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Split {
    type Err = UnknownSplit;
    fn from_str(s: &str) -> Result<Self, UnknownSplit> {
        Split::ALL.into_iter().find(|x| x.as_str() == s).ok_or_else(|| UnknownSplit(s.to_string()))
    }
}

/// A detected face box in source-frame pixels, with the detector's score.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct FaceBox {
    /// Left edge.
    pub x: f32,
    /// Top edge.
    pub y: f32,
    /// Width.
    pub w: f32,
    /// Height.
    pub h: f32,
    /// Detector confidence (rustface score; 0 where no face was found).
    pub score: f32,
}

/// One utterance: identity, mouth crops, audio and mel. One Parquet row (see `SCHEMA.md`).
#[derive(Debug, Clone, PartialEq)]
pub struct Utterance {
    /// `<programme_id>/<utt_id>` as LRS2 names it.
    pub utt_id: String,
    /// Split the utterance was listed in.
    pub split: Split,
    /// Source video path, relative to the dataset root.
    pub source_path: String,
    /// sha256 (hex) of the source video file.
    pub source_sha256: String,
    /// Transcript (empty when none).
    pub transcript: String,
    /// Video frame rate (always [`features::FPS`] after preprocessing).
    pub fps: u32,
    /// Number of video frames.
    pub num_frames: u32,
    /// Mouth crops, RGB uint8, shape (num_frames, 48, 96, 3), row-major.
    pub frames: Vec<u8>,
    /// Face box per frame (zeros where `face_found` is false).
    pub face_boxes: Vec<FaceBox>,
    /// Whether a face was found in each frame (SPEC §1.1: the reference skips such frames).
    pub face_found: Vec<bool>,
    /// Audio sample rate (always [`features::SAMPLE_RATE`] after preprocessing).
    pub sample_rate: u32,
    /// Mono PCM, int16.
    pub pcm: Vec<i16>,
    /// Whole-utterance log-mel, shape (80, mel_frames), row-major (band-major), SPEC §1.3.
    pub mel: Vec<f32>,
    /// Number of mel frames (columns of `mel`).
    pub mel_frames: u32,
}

impl Utterance {
    /// Bytes of one RGB mouth crop.
    pub const FRAME_BYTES: usize = CROP_HEIGHT * CROP_WIDTH * CHANNELS;

    /// Checks that every array agrees with the declared sizes.
    pub fn validate(&self) -> Result<(), SizeMismatch> {
        let n = self.num_frames as usize;
        if self.frames.len() != n * Self::FRAME_BYTES {
            let (bytes, per_frame) = (self.frames.len(), Self::FRAME_BYTES);
            return Err(SizeMismatch::Frames { bytes, frames: n, per_frame });
        }
        if self.face_boxes.len() != n || self.face_found.len() != n {
            let (boxes, flags) = (self.face_boxes.len(), self.face_found.len());
            return Err(SizeMismatch::Faces { boxes, flags, frames: n });
        }
        if self.mel.len() != N_MELS * self.mel_frames as usize {
            let (values, frames) = (self.mel.len(), self.mel_frames);
            return Err(SizeMismatch::Mel { values, bands: N_MELS, frames });
        }
        Ok(())
    }

    /// The RGB crop of frame `t`, (48, 96, 3) row-major.
    pub fn frame(&self, t: usize) -> &[u8] {
        &self.frames[t * Self::FRAME_BYTES..(t + 1) * Self::FRAME_BYTES]
    }
}
