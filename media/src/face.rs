//! Face detection with rustface and its packaged SeetaFace frontal model (BSD-2, vendored in
//! `assets/` with its licence), temporal smoothing, and gap handling (SPEC §1.1).

use rustface::{Detector, ImageData};
use serde::{Deserialize, Serialize};
use shards::FaceBox;

/// The SeetaFace frontal model shipped in the rustface 0.1.7 crate
/// (sha256 c4619d06…ff5d, see assets/LICENSE.seetaface).
static MODEL: &[u8] = include_bytes!("../assets/seeta_fd_frontal_v1.0.bin");

/// Detector settings (recorded in the manifest).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectParams {
    /// Smallest face searched, px (rustface clamps at 20).
    pub min_face: u32,
    /// Score threshold.
    pub score_thresh: f64,
    /// Image pyramid scale factor.
    pub pyramid_scale: f32,
    /// Sliding-window step, px.
    pub step: u32,
    /// Detect on every N-th frame and interpolate the boxes between (1 = every frame).
    pub detect_every: usize,
    /// Detect on the frame shrunk by this integer factor (box-filtered), boxes scaled back.
    pub downscale: usize,
    /// Half-width (frames) of the moving average applied to the boxes.
    pub smooth_radius: usize,
    /// An utterance with a smaller fraction of frames with a face is skipped.
    pub min_face_fraction: f32,
}

impl Default for DetectParams {
    fn default() -> Self {
        // The detector settings the GRID samples were cropped with (grid_samples/README.md),
        // run on every 5th frame at half resolution: `preprocess bench` measures the speed-up
        // and tests/detect_tolerance.rs bounds the crop difference from per-frame detection.
        Self {
            min_face: 20,
            score_thresh: 2.0,
            pyramid_scale: 0.8,
            step: 4,
            detect_every: 5,
            downscale: 2,
            smooth_radius: 2,
            min_face_fraction: 0.5,
        }
    }
}

/// The embedded face model could not be read.
#[derive(Debug, thiserror::Error)]
#[error("embedded face model unreadable: {0}")]
pub struct FaceModelError(pub String);

/// A face detector: rustface ([`FaceDetector`], embedded) or S3FD from the user's weights
/// (`evaluator`'s `faces` module, which sees the networks). Clips and streams take the most
/// confident face of a frame; face tracks ([`crate::fullframe`]) take every face.
pub trait FaceDetect {
    /// The most confident face in `rgb` (`width × height × 3`), in its pixel coordinates.
    fn detect(&mut self, rgb: &[u8], width: usize, height: usize) -> Option<FaceBox>;

    /// Every face in `rgb` as `[x1, y1, x2, y2, confidence]` (run_pipeline's `bboxes` rows), in
    /// the detector's own order.
    fn faces(&mut self, rgb: &[u8], width: usize, height: usize) -> Vec<[f64; 5]> {
        self.detect(rgb, width, height)
            .map(|b| [b.x as f64, b.y as f64, (b.x + b.w) as f64, (b.y + b.h) as f64, b.score as f64])
            .into_iter()
            .collect()
    }

    /// [`FaceDetect::faces`] of frame `frame` of the video (a detector that replays saved
    /// detections needs the index).
    fn faces_at(&mut self, frame: usize, rgb: &[u8], width: usize, height: usize) -> Vec<[f64; 5]> {
        let _ = frame;
        self.faces(rgb, width, height)
    }
}

/// Detections saved earlier, replayed by frame index: a JSON list with one list per frame of
/// `[x1, y1, x2, y2, confidence]` rows (run_pipeline's `faces.pckl` rows; `--detections`). Frames
/// past the list have no face.
#[derive(Debug, Clone)]
pub struct Replay {
    frames: Vec<Vec<[f64; 5]>>,
}

impl Replay {
    /// Reads a detections file; a bad one is one line naming it.
    pub fn load(path: &std::path::Path) -> Result<Self, FaceModelError> {
        let text =
            std::fs::read_to_string(path).map_err(|e| FaceModelError(format!("{}: {e}", path.display())))?;
        let frames = serde_json::from_str(&text).map_err(|e| {
            FaceModelError(format!(
                "{}: not a detections file ({e}); expected one list per frame of [x1, y1, x2, y2, confidence] rows",
                path.display()
            ))
        })?;
        Ok(Self { frames })
    }
}

impl FaceDetect for Replay {
    fn detect(&mut self, _: &[u8], _: usize, _: usize) -> Option<FaceBox> {
        None
    }

    fn faces_at(&mut self, frame: usize, _: &[u8], _: usize, _: usize) -> Vec<[f64; 5]> {
        self.frames.get(frame).cloned().unwrap_or_default()
    }
}

impl FaceDetect for FaceDetector {
    fn detect(&mut self, rgb: &[u8], width: usize, height: usize) -> Option<FaceBox> {
        FaceDetector::detect(self, rgb, width, height)
    }

    fn faces(&mut self, rgb: &[u8], width: usize, height: usize) -> Vec<[f64; 5]> {
        let k =
            if width / self.downscale >= 40 && height / self.downscale >= 40 { self.downscale } else { 1 };
        let mut found = self.detect_all_at(rgb, width, height, k);
        if found.is_empty() && k > 1 {
            found = self.detect_all_at(rgb, width, height, 1);
        }
        found.sort_by(|a, b| b.score.total_cmp(&a.score));
        found
            .iter()
            .map(|b| [b.x as f64, b.y as f64, (b.x + b.w) as f64, (b.y + b.h) as f64, b.score as f64])
            .collect()
    }
}

/// A configured detector (not `Send`: make one per worker thread).
pub struct FaceDetector {
    inner: Box<dyn Detector>,
    downscale: usize,
}

impl FaceDetector {
    /// Builds a detector from the embedded model.
    pub fn new(p: &DetectParams) -> Result<Self, FaceModelError> {
        let model = rustface::read_model(MODEL).map_err(|e| FaceModelError(e.to_string()))?;
        let mut inner = rustface::create_detector_with_model(model);
        inner.set_min_face_size(p.min_face.max(20));
        inner.set_score_thresh(p.score_thresh);
        inner.set_pyramid_scale_factor(p.pyramid_scale);
        inner.set_slide_window_step(p.step.max(1), p.step.max(1));
        Ok(Self { inner, downscale: p.downscale.max(1) })
    }

    /// The most confident face in an RGB frame, if any, at the configured downscale, falling back to full resolution when that finds nothing.
    pub fn detect(&mut self, rgb: &[u8], width: usize, height: usize) -> Option<FaceBox> {
        let k =
            if width / self.downscale >= 40 && height / self.downscale >= 40 { self.downscale } else { 1 };
        self.detect_at(rgb, width, height, k)
            .or_else(|| (k > 1).then(|| self.detect_at(rgb, width, height, 1)).flatten())
    }

    fn detect_at(&mut self, rgb: &[u8], width: usize, height: usize, k: usize) -> Option<FaceBox> {
        self.detect_all_at(rgb, width, height, k).into_iter().max_by(|a, b| a.score.total_cmp(&b.score))
    }

    /// Every face rustface finds on the frame shrunk by `k`, in frame coordinates.
    fn detect_all_at(&mut self, rgb: &[u8], width: usize, height: usize, k: usize) -> Vec<FaceBox> {
        if width < 20 || height < 20 {
            return Vec::new();
        }
        let (w, h) = (width / k, height / k);
        // ITU-R BT.601 luma, as rustface's examples feed it, averaged over k×k blocks.
        let mut gray = vec![0u8; w * h];
        for (y, row) in gray.chunks_exact_mut(w).enumerate() {
            for (x, g) in row.iter_mut().enumerate() {
                let mut sum = 0u32;
                for dy in 0..k {
                    let base = ((y * k + dy) * width + x * k) * 3;
                    for p in rgb[base..base + 3 * k].chunks_exact(3) {
                        sum += p[0] as u32 * 299 + p[1] as u32 * 587 + p[2] as u32 * 114;
                    }
                }
                *g = (sum / (1000 * (k * k) as u32)) as u8;
            }
        }
        let faces = self.inner.detect(&ImageData::new(&gray, w as u32, h as u32));
        let s = k as f32;
        faces
            .into_iter()
            .map(|f| {
                let b = f.bbox();
                FaceBox {
                    x: b.x() as f32 * s,
                    y: b.y() as f32 * s,
                    w: b.width() as f32 * s,
                    h: b.height() as f32 * s,
                    score: f.score() as f32,
                }
            })
            .collect()
    }
}

fn lerp(a: &FaceBox, b: &FaceBox, t: f32) -> FaceBox {
    let l = |x: f32, y: f32| x + (y - x) * t;
    FaceBox { x: l(a.x, b.x), y: l(a.y, b.y), w: l(a.w, b.w), h: l(a.h, b.h), score: l(a.score, b.score) }
}

/// Fills frames between detections: linear interpolation between two detected frames that are
/// at most `max_gap` apart (the detection stride), else the frame stays without a face.
pub fn fill_gaps(detected: &[Option<FaceBox>], max_gap: usize) -> Vec<Option<FaceBox>> {
    let mut out = detected.to_vec();
    let known: Vec<usize> = (0..detected.len()).filter(|&i| detected[i].is_some()).collect();
    for w in known.windows(2) {
        let (a, b) = (w[0], w[1]);
        if b - a <= max_gap {
            let (fa, fb) = (detected[a].expect("known"), detected[b].expect("known"));
            for (i, slot) in out.iter_mut().enumerate().take(b).skip(a + 1) {
                *slot = Some(lerp(&fa, &fb, (i - a) as f32 / (b - a) as f32));
            }
        }
    }
    out
}

/// Moving average of the boxes over ±`radius` frames (frames without a face are left out of
/// the average and stay without one).
pub fn smooth(boxes: &[Option<FaceBox>], radius: usize) -> Vec<Option<FaceBox>> {
    (0..boxes.len())
        .map(|i| {
            boxes[i]?;
            let lo = i.saturating_sub(radius);
            let hi = (i + radius + 1).min(boxes.len());
            let found: Vec<&FaceBox> = boxes[lo..hi].iter().flatten().collect();
            let n = found.len() as f32;
            let mean = |f: fn(&FaceBox) -> f32| found.iter().map(|b| f(b)).sum::<f32>() / n;
            Some(FaceBox {
                x: mean(|b| b.x),
                y: mean(|b| b.y),
                w: mean(|b| b.w),
                h: mean(|b| b.h),
                score: boxes[i].map_or(0.0, |b| b.score),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fb(x: f32) -> Option<FaceBox> {
        Some(FaceBox { x, y: 0.0, w: 10.0, h: 10.0, score: 1.0 })
    }

    #[test]
    fn gaps_are_interpolated_within_the_stride_only() {
        let d = vec![fb(0.0), None, None, fb(3.0), None, None, None, None, fb(9.0)];
        let f = fill_gaps(&d, 3);
        assert_eq!(f[1].unwrap().x, 1.0);
        assert_eq!(f[2].unwrap().x, 2.0);
        assert!(f[4].is_none() && f[7].is_none()); // gap of 5 > stride 3
    }

    #[test]
    fn smoothing_keeps_missing_frames_missing() {
        let s = smooth(&[fb(0.0), fb(3.0), None, fb(6.0)], 1);
        assert_eq!(s[0].unwrap().x, 1.5);
        assert_eq!(s[1].unwrap().x, 1.5);
        assert!(s[2].is_none());
        assert_eq!(s[3].unwrap().x, 6.0);
    }
}
