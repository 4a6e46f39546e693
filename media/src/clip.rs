//! One video → its mouth clip: decode at 25 fps → faces → mouth crops → 16 kHz audio → mel
//! (SPEC §1.1–1.3). What `preprocess run` stores as a shard row and what `evaluator sync` scores.

use std::path::Path;
use std::time::{Duration, Instant};

use features::{pcm_to_f32, MelExtractor, FPS, SAMPLE_RATE, WINDOW_FRAMES};
use serde::{Deserialize, Serialize};
use shards::{FaceBox, Split, Utterance};

use crate::crop::{mouth_crop, BoxAdjust};
use crate::face::{fill_gaps, smooth, DetectParams, FaceDetect};
use crate::{audio, decode, trim};

/// Every parameter that shapes a clip (stored in shard metadata, manifests and journal headers).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ClipParams {
    /// Face detection.
    pub detect: DetectParams,
    /// Box adjustment from rustface to S3FD-like boxes.
    pub adjust: BoxAdjust,
    /// Audio stream used (`--audio-stream`, 0 = the first). Recorded only when not the first, so
    /// default runs keep their manifests byte for byte.
    #[serde(default, skip_serializing_if = "is_first")]
    pub audio_stream: usize,
}

fn is_first(i: &usize) -> bool {
    *i == 0
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

/// Why a video gave no clip: the one-line reason recorded in manifests and journals.
#[derive(Debug, thiserror::Error)]
pub enum ClipSkip {
    /// The video file does not exist.
    #[error("file is missing")]
    Missing,
    /// The video file is empty.
    #[error("zero-byte file")]
    Empty,
    /// ffmpeg could not decode it (or it is no regular file).
    #[error(transparent)]
    Decode(#[from] decode::DecodeError),
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
    Audio(#[from] audio::AudioError),
}

/// The mouth clip of a video: what a shard row holds apart from its identity.
#[derive(Debug, Clone)]
pub struct MouthClip {
    /// Frames at 25 fps.
    pub num_frames: usize,
    /// `num_frames` mouth crops (SPEC §1.2), RGB, row-major.
    pub frames: Vec<u8>,
    /// The smoothed face box of each frame (None: no face near it).
    pub boxes: Vec<Option<FaceBox>>,
    /// 16 kHz mono int16.
    pub pcm: Vec<i16>,
    /// Log-mel of the whole clip (SPEC §1.3).
    pub mel: Vec<f32>,
}

/// Who a clip is in a shard set.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The utterance id.
    pub utt_id: String,
    /// Its split.
    pub split: Split,
    /// Its path as recorded (relative to the corpus root).
    pub source_path: String,
    /// sha256 of the source file (empty where nobody asked for it).
    pub source_sha256: String,
    /// Its transcript (empty when there is none).
    pub transcript: String,
}

impl MouthClip {
    /// The shard row of this clip.
    pub fn into_utterance(self, id: Identity) -> Utterance {
        Utterance {
            utt_id: id.utt_id,
            split: id.split,
            source_path: id.source_path,
            source_sha256: id.source_sha256,
            transcript: id.transcript,
            fps: FPS,
            num_frames: self.num_frames as u32,
            frames: self.frames,
            face_boxes: self.boxes.iter().map(|b| b.unwrap_or_default()).collect(),
            face_found: self.boxes.iter().map(Option::is_some).collect(),
            sample_rate: SAMPLE_RATE,
            mel_frames: MelExtractor::num_frames(self.pcm.len()) as u32,
            mel: self.mel,
            pcm: self.pcm,
        }
    }
}

/// A clip, or why there is none, with what happened on the way.
pub struct ClipOutcome {
    /// The clip, or the one-line skip reason.
    pub result: Result<MouthClip, ClipSkip>,
    /// Warnings that did not skip it (several audio streams, a frame rate resampled).
    pub warnings: Vec<String>,
    /// Stage timings.
    pub times: StageTimes,
    /// Seconds of source video decoded (for throughput).
    pub video_seconds: f64,
}

/// The checks before any decoding: the file exists, is a regular file (a FIFO would block
/// every reader forever, issue #33) and is not empty.
pub fn check_file(video: &Path) -> Result<(), ClipSkip> {
    let meta = std::fs::metadata(video).map_err(|_| ClipSkip::Missing)?;
    decode::regular_file(video)?;
    if meta.len() == 0 {
        return Err(ClipSkip::Empty);
    }
    Ok(())
}

/// The mouth clip of `video` (checked with [`check_file`] first), its audio shifted by `shift`
/// frames ([`trim`]). Never panics on bad input: every failure is a skip reason.
pub fn extract(
    video: &Path,
    shift: i32,
    params: &ClipParams,
    det: &mut dyn FaceDetect,
    mel: &MelExtractor,
) -> ClipOutcome {
    let mut times = StageTimes::default();
    let mut warnings = Vec::new();
    let mut video_seconds = 0.0;
    let result = (|| {
        let t = Instant::now();
        // Frames are read one at a time from the decoder's temporary file: a worker holds one
        // frame and the crops, whatever the clip's length and resolution (issue #20 point 9).
        let (mut frames_in, audio) = decode::decode_av_frames(video, params.audio_stream)?;
        times.decode = t.elapsed();
        frames_in.trim(shift);
        let n = frames_in.len();
        video_seconds = n as f64 / FPS as f64;
        if n < WINDOW_FRAMES {
            return Err(ClipSkip::TooShort(n));
        }
        if audio.streams > 1 {
            warnings.push(decode::several_audio_streams(audio.streams, params.audio_stream));
        }
        if (frames_in.source_fps - FPS as f32).abs() > 0.01 {
            warnings.push(format!("{} fps source resampled to 25 fps", frames_in.source_fps));
        }

        let t = Instant::now();
        let stride = params.detect.detect_every.max(1);
        let mut frame = Vec::with_capacity(frames_in.frame_bytes());
        let mut detected: Vec<Option<FaceBox>> = vec![None; n];
        for (i, d) in detected.iter_mut().enumerate() {
            if i % stride == 0 || i == n - 1 {
                frames_in.read(i, &mut frame)?;
                *d = det.detect(&frame, frames_in.width, frames_in.height);
            }
        }
        let boxes = smooth(&fill_gaps(&detected, stride), params.detect.smooth_radius);
        times.detect = t.elapsed();
        let found = boxes.iter().filter(|b| b.is_some()).count();
        if found == 0 {
            return Err(ClipSkip::NoFace);
        }
        let fraction = found as f32 / n as f32;
        if fraction < params.detect.min_face_fraction {
            let min_fraction = params.detect.min_face_fraction;
            return Err(ClipSkip::FewFaces { found, frames: n, min_fraction });
        }

        let t = Instant::now();
        let mut frames = Vec::with_capacity(n * Utterance::FRAME_BYTES);
        for i in 0..n {
            frames_in.read(i, &mut frame)?;
            // Frames without a face are kept (flagged) and cropped with the nearest box.
            let b = boxes[i].or_else(|| {
                (1..n).find_map(|d| {
                    boxes.get(i + d).copied().flatten().or_else(|| i.checked_sub(d).and_then(|j| boxes[j]))
                })
            });
            let b = b.expect("at least one face was found");
            frames.extend_from_slice(&mouth_crop(
                &frame,
                frames_in.width,
                frames_in.height,
                &b,
                &params.adjust,
            ));
        }
        times.crop = t.elapsed();

        let t = Instant::now();
        let mut pcm = audio::to_16k_mono(&audio)?;
        trim::trim_audio(&mut pcm, shift);
        times.audio = t.elapsed();
        let t = Instant::now();
        let mel_values = mel.compute(&pcm_to_f32(&pcm));
        times.mel = t.elapsed();
        Ok(MouthClip { num_frames: n, frames, boxes, pcm, mel: mel_values })
    })();
    ClipOutcome { result, warnings, times, video_seconds }
}
