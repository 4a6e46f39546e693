//! Face detectors and face-track settings for full-frame videos (issue #31): rustface (embedded,
//! the default) or S3FD from the user's own `sfd_face.pth`, the detector syncnet_python's
//! `run_pipeline.py` and Wav2Lip download. This is the one place that sees both the networks
//! ([`nets::s3fd`]) and the media ([`media::face::FaceDetect`], [`media::fullframe`]).

use std::path::PathBuf;

use burn::tensor::Device;
use media::face::{DetectParams, FaceDetect, FaceDetector};
use media::fullframe::{FullFrameParams, TrackMode};
use media::resize::{opencv_linear_fx, Image};
use media::tracks::TrackParams;
use nets::s3fd::{self, S3fd};
use serde::{Deserialize, Serialize};
use shards::FaceBox;

use crate::error::Result;

/// Which detector finds the faces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Detector {
    /// rustface with its embedded SeetaFace frontal model (no download, frontal faces).
    Rustface,
    /// S3FD from `--detector-weights` (run_pipeline's detector), through libtorch.
    S3fd,
}

/// How `lse` hands a track's crops to SyncNet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CropVideo {
    /// As the reference: an XVID crop video, read back through ffmpeg's JPEGs.
    Xvid,
    /// The crops as cut, no lossy round trip.
    Direct,
}

/// The face-track flags of `evaluator lse` and `evaluator sync`.
#[derive(clap::Args, Debug, Clone)]
pub struct TrackArgs {
    /// Face detector for full-frame videos: rustface (embedded) or s3fd (run_pipeline's, from
    /// --detector-weights).
    #[arg(long, value_enum, default_value = "rustface")]
    pub detector: Detector,
    /// S3FD weights (`sfd_face.pth`, as run_pipeline and Wav2Lip download it; zip or legacy
    /// torch format, read without running pickle code).
    #[arg(long)]
    pub detector_weights: Option<PathBuf>,
    /// Saved detections to replay instead of a detector, for one video: a JSON list with one
    /// list per 25 fps frame of [x1, y1, x2, y2, confidence] rows (run_pipeline's faces.pckl).
    #[arg(long, conflicts_with = "detector_weights")]
    pub detections: Option<PathBuf>,
    /// S3FD's confidence threshold (run_pipeline: 0.9).
    #[arg(long, default_value_t = s3fd::detect::CONF_TH)]
    pub detector_conf: f64,
    /// S3FD's input scale (run_pipeline's `--facedet_scale`: 0.25).
    #[arg(long, default_value_t = 0.25)]
    pub detector_scale: f64,
    /// Face tracks from the reference's frames with a detection on every frame (exact) or from
    /// one 25 fps decode with a detection every --detect-every frames (fast). Default: exact for
    /// `lse` (the published numbers' pipeline), fast for `sync`.
    #[arg(long, value_enum)]
    pub tracks: Option<TrackMode>,
    /// A track needs more than this many frames (run_pipeline's --min_track; default 100 for
    /// `lse` as there, 25 for `sync`, which needs one second).
    #[arg(long)]
    pub min_track: Option<usize>,
    /// Frames a track may go without a detection (run_pipeline's --num_failed_det).
    #[arg(long, default_value_t = 25)]
    pub num_failed_det: usize,
    /// Smallest mean face side kept, pixels (run_pipeline's --min_face_size; default 100 for
    /// `lse` as there, 40 for `sync`).
    #[arg(long)]
    pub min_face_size: Option<f64>,
    /// `lse`: score each track as the reference does, from an XVID crop video read back through
    /// JPEGs (xvid), or from the crops as cut (direct).
    #[arg(long, value_enum, default_value = "xvid")]
    pub crop_video: CropVideo,
    /// Context around the face in the crop (run_pipeline's --crop_scale).
    #[arg(long, default_value_t = 0.4)]
    pub crop_scale: f64,
}

/// What decides the tracks, recorded in journals and summaries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackSettings {
    /// The detector.
    pub detector: Detector,
    /// sha256 of the S3FD weights.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detector_sha256: Option<String>,
    /// sha256 of replayed detections (`--detections`), which then stand for the detector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detections_sha256: Option<String>,
    /// S3FD's threshold and scale (0 for rustface).
    pub detector_conf: f64,
    /// S3FD's input scale.
    pub detector_scale: f64,
    /// Mode and thresholds.
    pub params: FullFrameParams,
    /// How `lse` reads each track's crops.
    pub crop_video: CropVideo,
}

/// A command's defaults for the flags it leaves open.
#[derive(Debug, Clone, Copy)]
pub struct TrackDefaults {
    /// Mode.
    pub mode: TrackMode,
    /// `--min-track`.
    pub min_track: usize,
    /// `--min-face-size`.
    pub min_face_size: f64,
}

impl TrackDefaults {
    /// `lse`: run_pipeline's own.
    pub const LSE: Self = Self { mode: TrackMode::Exact, min_track: 100, min_face_size: 100.0 };
    /// `sync`: fast tracks of a second or more.
    pub const SYNC: Self = Self { mode: TrackMode::Fast, min_track: 25, min_face_size: 40.0 };
}

impl TrackArgs {
    /// The settings, with the command's `defaults` where no flag was given and a detection every
    /// `detect_every` frames in fast mode; the S3FD weights are checked to exist and hashed.
    pub fn settings(&self, defaults: TrackDefaults, detect_every: usize) -> Result<TrackSettings> {
        let tracks = TrackParams {
            min_track: self.min_track.unwrap_or(defaults.min_track),
            num_failed_det: self.num_failed_det,
            min_face_size: self.min_face_size.unwrap_or(defaults.min_face_size),
            crop_scale: self.crop_scale,
            ..TrackParams::default()
        };
        let params = FullFrameParams::new(self.tracks.unwrap_or(defaults.mode), detect_every, tracks);
        let detector_sha256 = match (self.detector, &self.detector_weights) {
            (Detector::S3fd, Some(w)) => Some(manifests::sha256_file(w)?),
            (Detector::S3fd, None) => return Err(crate::EvalError::NoDetectorWeights),
            (Detector::Rustface, _) => None,
        };
        let detections_sha256 = self.detections.as_deref().map(manifests::sha256_file).transpose()?;
        Ok(TrackSettings {
            detector: self.detector,
            detector_sha256,
            detections_sha256,
            detector_conf: self.detector_conf,
            detector_scale: self.detector_scale,
            params,
            crop_video: self.crop_video,
        })
    }
}

/// A detector ready to be cloned into workers: the S3FD network loaded once.
#[derive(Clone)]
pub enum Loaded {
    /// rustface (made on each worker's thread: it is not `Send`).
    Rustface,
    /// Saved detections.
    Replay(media::face::Replay),
    /// S3FD on a device.
    S3fd {
        /// The network.
        net: Box<S3fd>,
        /// Its device.
        device: Device,
        /// Threshold.
        conf_th: f64,
        /// Input scale.
        scale: f64,
    },
}

impl Loaded {
    /// Loads the detector `args` name (S3FD's weights strictly checked; a bad file is one line).
    pub fn load(args: &TrackArgs, device: &Device) -> Result<Self> {
        if let Some(path) = &args.detections {
            return Ok(Loaded::Replay(media::face::Replay::load(path)?));
        }
        Ok(match (args.detector, &args.detector_weights) {
            (Detector::Rustface, _) => Loaded::Rustface,
            (Detector::S3fd, Some(w)) => Loaded::S3fd {
                net: Box::new(S3fd::load(w, device)?),
                device: device.clone(),
                conf_th: args.detector_conf,
                scale: args.detector_scale,
            },
            (Detector::S3fd, None) => return Err(crate::EvalError::NoDetectorWeights),
        })
    }

    /// A detector for one worker thread.
    pub fn detector(&self) -> Box<dyn FaceDetect> {
        match self {
            Loaded::Rustface => {
                Box::new(FaceDetector::new(&DetectParams::default()).expect("the embedded model reads"))
            }
            Loaded::Replay(r) => Box::new(r.clone()),
            Loaded::S3fd { net, device, conf_th, scale } => Box::new(S3fdDetector {
                net: net.as_ref().clone(),
                device: device.clone(),
                conf_th: *conf_th,
                scale: *scale,
            }),
        }
    }
}

/// S3FD as `S3FD.detect_faces(image, conf_th, scales=[scale])` runs it (`SP:detectors/s3fd/
/// __init__.py`): the RGB frame resized by `scale` with cv2.resize (INTER_LINEAR, fx = fy), the
/// network, `Detect`'s decoding and NMS, the threshold and numpy NMS at 0.1, boxes in the frame's
/// pixels.
pub struct S3fdDetector {
    net: S3fd,
    device: Device,
    conf_th: f64,
    scale: f64,
}

impl FaceDetect for S3fdDetector {
    fn detect(&mut self, rgb: &[u8], width: usize, height: usize) -> Option<FaceBox> {
        let best = self.faces(rgb, width, height).into_iter().max_by(|a, b| a[4].total_cmp(&b[4]))?;
        Some(FaceBox {
            x: best[0] as f32,
            y: best[1] as f32,
            w: (best[2] - best[0]) as f32,
            h: (best[3] - best[1]) as f32,
            score: best[4] as f32,
        })
    }

    fn faces(&mut self, rgb: &[u8], width: usize, height: usize) -> Vec<[f64; 5]> {
        let img = Image { width, height, channels: 3, data: rgb.to_vec() };
        let small = opencv_linear_fx(&img, self.scale);
        if small.width < 2 || small.height < 2 {
            return Vec::new();
        }
        let raw = self.net.forward(s3fd::prepare(&small.data, small.width, small.height, &self.device));
        s3fd::detect::faces(&raw, width, height, self.conf_th)
    }
}
