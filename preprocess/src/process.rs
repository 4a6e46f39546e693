//! One utterance: decode → faces → mouth crops → 16 kHz audio → mel → a shard row.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use shards::{FaceBox, Split, Utterance};

use crate::crop::{mouth_crop, BoxAdjust};
use crate::face::{fill_gaps, smooth, DetectParams, FaceDetector};
use crate::{audio, decode};
use features::{pcm_to_f32, MelExtractor, FPS, SAMPLE_RATE, WINDOW_FRAMES};

/// Every parameter that shapes a shard row (stored in shard metadata and the manifest).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Params {
    /// Face detection.
    pub detect: DetectParams,
    /// Box adjustment from rustface to S3FD-like boxes.
    pub adjust: BoxAdjust,
    /// Audio stream used (`--audio-stream`, 0 = the first). Recorded only when not the first, so
    /// default runs keep their manifests byte for byte.
    #[serde(default, skip_serializing_if = "is_first")]
    pub audio_stream: usize,
    /// Measured offsets to correct (`--shift-audio`); recorded as file and sha256 when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shift_audio: Option<crate::shift::AudioShift>,
}

fn is_first(i: &usize) -> bool {
    *i == 0
}

/// One input utterance.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Item {
    /// Split it is listed in.
    pub split: Split,
    /// `<programme_id>/<utt_id>`.
    pub utt_id: String,
    /// Video path on disk.
    pub video: PathBuf,
    /// Video path relative to the dataset root (stored in the row).
    pub rel_path: String,
}

/// Wall time per stage, for `preprocess bench`.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct StageTimes {
    /// ffmpeg decoding (video and audio).
    pub decode: Duration,
    /// Face detection.
    pub detect: Duration,
    /// Cropping and resizing.
    pub crop: Duration,
    /// Downmix and resampling.
    pub audio: Duration,
    /// Mel spectrogram.
    pub mel: Duration,
}

impl std::ops::AddAssign for StageTimes {
    fn add_assign(&mut self, o: Self) {
        self.decode += o.decode;
        self.detect += o.detect;
        self.crop += o.crop;
        self.audio += o.audio;
        self.mel += o.mel;
    }
}

/// Why an item was skipped: the one-line reason recorded in the manifest.
#[derive(Debug, thiserror::Error)]
pub enum Skip {
    /// The video file does not exist.
    #[error("file is missing")]
    Missing,
    /// The video file is empty.
    #[error("zero-byte file")]
    Empty,
    /// The file could not be hashed.
    #[error(transparent)]
    Hash(#[from] manifests::Error),
    /// ffmpeg could not decode it.
    #[error(transparent)]
    Decode(#[from] crate::decode::DecodeError),
    /// `--shift-audio` has no measured offset for it.
    #[error("no measured offset in the --shift-audio file (not scored there); not written uncorrected")]
    NoOffset,
    /// Fewer frames than one window.
    #[error("shorter than one 5-frame window ({0} frames at 25 fps)")]
    TooShort(usize),
    /// No face anywhere.
    #[error("no face found in any frame")]
    NoFace,
    /// Too few frames with a face.
    #[error("face found in only {found} of {frames} frames ({:.0}% < {:.0}%)", 100.0 * *found as f32 / *frames as f32, 100.0 * min_fraction)]
    FewFaces {
        /// Frames with a face.
        found: usize,
        /// Frames.
        frames: usize,
        /// The threshold.
        min_fraction: f32,
    },
    /// The audio could not be resampled.
    #[error(transparent)]
    Audio(#[from] crate::audio::AudioError),
    /// A Wav2Lip-layout utterance that could not be imported.
    #[error(transparent)]
    Import(#[from] crate::wav2lip::ImportSkip),
}

/// A transcript that could not be read (a warning: the utterance is kept).
#[derive(Debug, thiserror::Error)]
pub enum TranscriptError {
    /// Reading failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The transcript.
        path: std::path::PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// Not UTF-8.
    #[error("{}: transcript is not UTF-8", path.display())]
    NotUtf8 {
        /// The transcript.
        path: std::path::PathBuf,
    },
}

/// A processed utterance, or why it was skipped.
pub struct Outcome {
    /// The row, or the one-line skip reason.
    pub result: Result<Utterance, Skip>,
    /// Warnings that did not skip the item (e.g. an unreadable transcript).
    pub warnings: Vec<String>,
    /// Stage timings.
    pub times: StageTimes,
    /// Seconds of source video decoded (for throughput).
    pub video_seconds: f64,
}

/// Reads the `Text:` line of an LRS2 transcript next to the video.
fn transcript(item: &Item) -> Result<String, TranscriptError> {
    let path = item.video.with_extension("txt");
    if !path.exists() {
        return Ok(String::new());
    }
    let bytes = std::fs::read(&path).map_err(|source| TranscriptError::Io { path: path.clone(), source })?;
    let text = String::from_utf8(bytes).map_err(|_| TranscriptError::NotUtf8 { path })?;
    Ok(text.lines().find_map(|l| l.strip_prefix("Text:")).map(|t| t.trim().to_string()).unwrap_or_default())
}

/// Processes one utterance. Never panics on bad input: every failure is a skip reason.
pub fn process(item: &Item, params: &Params, det: &mut FaceDetector, mel: &MelExtractor) -> Outcome {
    let mut times = StageTimes::default();
    let mut warnings = Vec::new();
    let mut video_seconds = 0.0;
    let result = (|| {
        let meta = std::fs::metadata(&item.video).map_err(|_| Skip::Missing)?;
        // A FIFO would block the hash below forever, and is no "zero-byte file" (issue #33).
        decode::regular_file(&item.video)?;
        if meta.len() == 0 {
            return Err(Skip::Empty);
        }
        let shift = match &params.shift_audio {
            None => 0,
            Some(s) => s.offset(&item.utt_id).ok_or(Skip::NoOffset)?,
        };
        let sha = manifests::sha256_file(&item.video)?;
        let t = Instant::now();
        // Frames are read one at a time from the decoder's temporary file: a worker holds one
        // frame and the crops, whatever the clip's length and resolution (issue #20 point 9).
        let (mut video, audio) = decode::decode_av_frames(&item.video, params.audio_stream)?;
        times.decode = t.elapsed();
        video.trim(shift);
        let n = video.len();
        video_seconds = n as f64 / FPS as f64;
        if n < WINDOW_FRAMES {
            return Err(Skip::TooShort(n));
        }
        if audio.streams > 1 {
            warnings.push(decode::several_audio_streams(audio.streams, params.audio_stream));
        }
        if (video.source_fps - FPS as f32).abs() > 0.01 {
            warnings.push(format!("{} fps source resampled to 25 fps", video.source_fps));
        }

        let t = Instant::now();
        let stride = params.detect.detect_every.max(1);
        let mut frame = Vec::with_capacity(video.frame_bytes());
        let mut detected: Vec<Option<FaceBox>> = vec![None; n];
        for (i, d) in detected.iter_mut().enumerate() {
            if i % stride == 0 || i == n - 1 {
                video.read(i, &mut frame)?;
                *d = det.detect(&frame, video.width, video.height);
            }
        }
        let boxes = smooth(&fill_gaps(&detected, stride), params.detect.smooth_radius);
        times.detect = t.elapsed();
        let found = boxes.iter().filter(|b| b.is_some()).count();
        if found == 0 {
            return Err(Skip::NoFace);
        }
        let fraction = found as f32 / n as f32;
        if fraction < params.detect.min_face_fraction {
            let min_fraction = params.detect.min_face_fraction;
            return Err(Skip::FewFaces { found, frames: n, min_fraction });
        }

        let t = Instant::now();
        let mut frames = Vec::with_capacity(n * Utterance::FRAME_BYTES);
        for i in 0..n {
            video.read(i, &mut frame)?;
            // Frames without a face are kept (flagged) and cropped with the nearest box.
            let b = boxes[i].or_else(|| {
                (1..n).find_map(|d| {
                    boxes.get(i + d).copied().flatten().or_else(|| i.checked_sub(d).and_then(|j| boxes[j]))
                })
            });
            let b = b.expect("at least one face was found");
            frames.extend_from_slice(&mouth_crop(&frame, video.width, video.height, &b, &params.adjust));
        }
        times.crop = t.elapsed();

        let t = Instant::now();
        let mut pcm = audio::to_16k_mono(&audio)?;
        crate::shift::trim_audio(&mut pcm, shift);
        times.audio = t.elapsed();
        let t = Instant::now();
        let mel_values = mel.compute(&pcm_to_f32(&pcm));
        times.mel = t.elapsed();

        let text = transcript(item).unwrap_or_else(|w| {
            warnings.push(format!("transcript: {w}"));
            String::new()
        });
        Ok(Utterance {
            utt_id: item.utt_id.clone(),
            split: item.split,
            source_path: item.rel_path.clone(),
            source_sha256: sha,
            transcript: text,
            fps: FPS,
            num_frames: n as u32,
            frames,
            face_boxes: boxes.iter().map(|b| b.unwrap_or_default()).collect(),
            face_found: boxes.iter().map(Option::is_some).collect(),
            sample_rate: SAMPLE_RATE,
            mel_frames: MelExtractor::num_frames(pcm.len()) as u32,
            mel: mel_values,
            pcm,
        })
    })();
    Outcome { result, warnings, times, video_seconds }
}
