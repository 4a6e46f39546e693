//! Shot boundaries as PySceneDetect 0.5.1's `ContentDetector` finds them for run_pipeline.py's
//! `scene_detect` (issue #31): frames subsampled by the `VideoManager`'s automatic downscale
//! factor, converted to 8-bit HSV exactly as `cv2.cvtColor(…, COLOR_BGR2HSV)`, and a cut wherever
//! the mean absolute HSV difference from the previous frame reaches the threshold, at least
//! `min_scene_len` frames after the previous cut. One small function per rule; `PSD:` below is
//! scenedetect 0.5.1 (PyPI), `CV:` OpenCV 4's `color_hsv.simd.hpp`.

use crate::resize::Image;

/// `DEFAULT_DOWNSCALE_FACTORS` (`PSD:video_manager.py:L130-L138`): (minimum width, factor).
const DOWNSCALE: [(usize, usize); 7] =
    [(3200, 12), (2100, 8), (1700, 6), (1200, 5), (900, 4), (600, 3), (400, 2)];

/// `compute_downscale_factor` (`PSD:video_manager.py:L145-L156`).
pub fn downscale_factor(width: usize) -> usize {
    DOWNSCALE.iter().find(|(w, _)| width >= *w).map_or(1, |(_, k)| *k)
}

/// `frame_im[::k, ::k, :]` (`PSD:video_manager.py:L718-L720`): every k-th row and column from 0.
pub fn subsample(frame: &Image, k: usize) -> Image {
    if k <= 1 {
        return frame.clone();
    }
    let ch = frame.channels;
    let (w, h) = (frame.width.div_ceil(k), frame.height.div_ceil(k));
    let mut data = Vec::with_capacity(w * h * ch);
    for y in (0..frame.height).step_by(k) {
        for x in (0..frame.width).step_by(k) {
            let at = (y * frame.width + x) * ch;
            data.extend_from_slice(&frame.data[at..at + ch]);
        }
    }
    Image { width: w, height: h, channels: ch, data }
}

const HSV_SHIFT: u32 = 12;

/// OpenCV's division tables of the 8-bit HSV conversion (`CV: RGB2HSV_b`): `sdiv[i] =
/// round(255·2^12 / i)`, `hdiv[i] = round(180·2^12 / (6i))`, both 0 at 0.
fn tables() -> &'static ([i32; 256], [i32; 256]) {
    static T: std::sync::OnceLock<([i32; 256], [i32; 256])> = std::sync::OnceLock::new();
    T.get_or_init(|| {
        let mut s = [0i32; 256];
        let mut h = [0i32; 256];
        for i in 1..256 {
            // saturate_cast<int>(double) rounds half to even (cvRound).
            s[i] = ((255i32 << HSV_SHIFT) as f64 / i as f64).round_ties_even() as i32;
            h[i] = ((180i32 << HSV_SHIFT) as f64 / (6.0 * i as f64)).round_ties_even() as i32;
        }
        (s, h)
    })
}

/// One BGR pixel to OpenCV's 8-bit HSV (H in 0..180): integer arithmetic of `CV: RGB2HSV_b`.
pub fn bgr_to_hsv(b: u8, g: u8, r: u8) -> [u8; 3] {
    let (sdiv, hdiv) = tables();
    let (b, g, r) = (b as i32, g as i32, r as i32);
    let v = b.max(g).max(r);
    let vmin = b.min(g).min(r);
    let diff = v - vmin;
    let vr = if v == r { -1 } else { 0 };
    let vg = if v == g { -1 } else { 0 };
    let half = 1 << (HSV_SHIFT - 1);
    let s = (diff * sdiv[v as usize] + half) >> HSV_SHIFT;
    let mut h = (vr & (g - b)) + (!vr & ((vg & (b - r + 2 * diff)) + (!vg & (r - g + 4 * diff))));
    h = (h * hdiv[diff as usize] + half) >> HSV_SHIFT;
    if h < 0 {
        h += 180;
    }
    [h.clamp(0, 255) as u8, s as u8, v as u8]
}

/// The H, S and V planes of a BGR frame.
pub fn hsv_planes(frame: &Image) -> [Vec<u8>; 3] {
    let n = frame.width * frame.height;
    let mut planes = [Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n)];
    for px in frame.data.chunks_exact(frame.channels) {
        let hsv = bgr_to_hsv(px[0], px[1], px[2]);
        for (p, v) in planes.iter_mut().zip(hsv) {
            p.push(v);
        }
    }
    planes
}

/// `ContentDetector(threshold=30.0, min_scene_len=15)` (`PSD:detectors/content_detector.py`), fed
/// one frame at a time.
#[derive(Debug, Clone)]
pub struct ContentDetector {
    /// Cut where the mean HSV change reaches this.
    pub threshold: f64,
    /// Frames after a cut before the next may be.
    pub min_scene_len: usize,
    last: Option<[Vec<u8>; 3]>,
    last_cut: Option<usize>,
}

impl Default for ContentDetector {
    fn default() -> Self {
        Self { threshold: 30.0, min_scene_len: 15, last: None, last_cut: None }
    }
}

/// The mean absolute difference of each plane and their mean (`delta_hsv`): per plane the integer
/// sum over the pixels divided by their count, then `sum(deltas) / 3.0`.
pub fn content_val(curr: &[Vec<u8>; 3], last: &[Vec<u8>; 3]) -> [f64; 4] {
    let mut d = [0f64; 4];
    for i in 0..3 {
        let sum: i64 = curr[i].iter().zip(&last[i]).map(|(a, b)| (*a as i64 - *b as i64).abs()).sum();
        d[i] = sum as f64 / curr[i].len() as f64;
    }
    d[3] = (d[0] + d[1] + d[2]) / 3.0;
    d
}

impl ContentDetector {
    /// `process_frame` (`PSD:detectors/content_detector.py`): the frame's (subsampled) BGR image;
    /// Some(frame_num) when it starts a new shot. The first cut may come at any frame.
    pub fn process(&mut self, frame_num: usize, frame: &Image) -> (Option<usize>, Option<[f64; 4]>) {
        let curr = hsv_planes(frame);
        let Some(last) = self.last.replace(curr) else { return (None, None) };
        let d = content_val(self.last.as_ref().expect("set above"), &last);
        if d[3] >= self.threshold && self.last_cut.is_none_or(|c| frame_num - c >= self.min_scene_len) {
            self.last_cut = Some(frame_num);
            return (Some(frame_num), Some(d));
        }
        (None, Some(d))
    }
}

/// `get_scenes_from_cuts` (`PSD:scene_manager.py:L72-L110`): `[start, end)` shots from the cuts,
/// the whole video when there is none.
pub fn scenes(cuts: &[usize], num_frames: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::with_capacity(cuts.len() + 1);
    let mut last = 0;
    for &c in cuts {
        out.push((last, c));
        last = c;
    }
    out.push((last, num_frames));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hsv_of_primaries_and_greys() {
        assert_eq!(bgr_to_hsv(0, 0, 255), [0, 255, 255]); // red
        assert_eq!(bgr_to_hsv(0, 255, 0), [60, 255, 255]); // green
        assert_eq!(bgr_to_hsv(255, 0, 0), [120, 255, 255]); // blue
        assert_eq!(bgr_to_hsv(128, 128, 128), [0, 0, 128]);
        assert_eq!(bgr_to_hsv(0, 0, 0), [0, 0, 0]);
    }

    #[test]
    fn factors_and_scenes() {
        assert_eq!(downscale_factor(1920), 6);
        assert_eq!(downscale_factor(640), 3);
        assert_eq!(downscale_factor(399), 1);
        assert_eq!(scenes(&[], 10), vec![(0, 10)]);
        assert_eq!(scenes(&[4, 7], 10), vec![(0, 4), (4, 7), (7, 10)]);
    }
}
