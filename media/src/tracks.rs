//! Face tracks as syncnet_python's `run_pipeline.py` makes them (issue #31), one small function
//! per rule of the reference (`SP:run_pipeline.py` below is joonson/syncnet_python at 6efbb1c):
//! detections of a shot are chained into tracks by box overlap ([`track_shot`]), tracks too short
//! or with too small a face are dropped with their reason ([`Dropped`]), gaps are interpolated
//! ([`interpolate`]), size and centre are median-filtered ([`smooth`]) and each frame is cropped
//! around the smoothed box from a frame padded with grey ([`crop`]).
//!
//! Boxes are `[x1, y1, x2, y2]` in pixels as f64 (the reference's Python floats); every
//! arithmetic step follows the reference's order so that the same detections give the same
//! tracks, boxes and crops, bit for bit (`tests/tests/face_tracks.rs`, goldens made by
//! `scripts/goldens/face_tracks.py` running the reference's own functions).

use crate::resize::{opencv_linear, Image};

/// One face detection: its frame, box and confidence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    /// Frame index in the video (25 fps).
    pub frame: usize,
    /// `[x1, y1, x2, y2]`.
    pub bbox: [f64; 4],
    /// Detector confidence.
    pub conf: f64,
}

/// The thresholds of `run_pipeline.py` (its argparse defaults, `SP:run_pipeline.py:L28-L33`).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrackParams {
    /// `--min_track`: a track needs more detections than this, a shot at least this many frames.
    pub min_track: usize,
    /// `--num_failed_det`: frames a track may go without a detection before it ends.
    pub num_failed_det: usize,
    /// `--min_face_size`: the mean box width or height must exceed this (pixels).
    pub min_face_size: f64,
    /// `iouThres`: overlap with the track's last box needed to join it (`SP:run_pipeline.py:L68`).
    pub iou_threshold: f64,
    /// `--crop_scale`: context around the face in the crop.
    pub crop_scale: f64,
    /// `signal.medfilt` kernel on size and centre (`SP:run_pipeline.py:L128-L130`).
    pub median_kernel: usize,
    /// Detections come every this many frames (1 in the reference; the fast mode's cadence):
    /// a chain then needs more than `min_track / detect_every` detections, the same span.
    #[serde(default = "one")]
    pub detect_every: usize,
}

fn one() -> usize {
    1
}

impl Default for TrackParams {
    fn default() -> Self {
        Self {
            min_track: 100,
            num_failed_det: 25,
            min_face_size: 100.0,
            iou_threshold: 0.5,
            crop_scale: 0.4,
            median_kernel: 13,
            detect_every: 1,
        }
    }
}

/// A face track: every frame from its first to its last detection, a box on each.
#[derive(Debug, Clone, PartialEq)]
pub struct Track {
    /// Consecutive frame indices.
    pub frames: Vec<usize>,
    /// The interpolated box of each frame.
    pub bboxes: Vec<[f64; 4]>,
}

/// A candidate track that was not kept, and why (reported, never dropped silently).
#[derive(Debug, Clone, PartialEq)]
pub enum Dropped {
    /// A shot shorter than `min_track` frames is not tracked at all.
    ShortShot {
        /// First frame of the shot.
        start: usize,
        /// One past its last frame.
        end: usize,
    },
    /// `min_track` or fewer detections chained.
    TooShort {
        /// First detection's frame.
        first: usize,
        /// Last detection's frame.
        last: usize,
        /// Detections in the chain.
        detections: usize,
    },
    /// The mean box width and height are both at most `min_face_size`.
    TooSmall {
        /// First frame.
        first: usize,
        /// Last frame.
        last: usize,
        /// The larger of the mean width and mean height.
        mean_side: f64,
    },
}

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Dropped::ShortShot { start, end } => {
                write!(f, "shot of frames {start}..{end} is too short to hold a track")
            }
            Dropped::TooShort { first, last, detections } => {
                write!(f, "face at frames {first}..={last}: {detections} detections, too few for a track")
            }
            Dropped::TooSmall { first, last, mean_side } => {
                write!(f, "face at frames {first}..={last}: {mean_side:.1} px on average, too small")
            }
        }
    }
}

/// `bb_intersection_over_union` (`SP:run_pipeline.py:L43-L58`). No `+1` pixel convention; a pair
/// of empty boxes gives NaN, as there (which never passes the threshold).
pub fn iou(a: &[f64; 4], b: &[f64; 4]) -> f64 {
    let (xa, ya) = (a[0].max(b[0]), a[1].max(b[1]));
    let (xb, yb) = (a[2].min(b[2]), a[3].min(b[3]));
    let inter = (xb - xa).max(0.0) * (yb - ya).max(0.0);
    let area_a = (a[2] - a[0]) * (a[3] - a[1]);
    let area_b = (b[2] - b[0]) * (b[3] - b[1]);
    inter / (area_a + area_b - inter)
}

/// One chain of `track_shot`'s `while True` loop (`SP:run_pipeline.py:L70-L85`), taking its
/// detections out of `faces`. The reference removes a face from the list it is iterating over, so
/// the face after a taken one in the same frame is not looked at in that pass; a face of the same
/// frame that overlaps the track's last box joins it too. Both are kept.
fn chain(faces: &mut [Vec<Detection>], p: &TrackParams) -> Vec<Detection> {
    let mut track: Vec<Detection> = Vec::new();
    for frame_faces in faces.iter_mut() {
        let mut i = 0;
        while i < frame_faces.len() {
            let face = frame_faces[i];
            match track.last() {
                None => {
                    track.push(face);
                    frame_faces.remove(i);
                }
                Some(last) if face.frame - last.frame <= p.num_failed_det => {
                    if iou(&face.bbox, &last.bbox) > p.iou_threshold {
                        track.push(face);
                        frame_faces.remove(i);
                    }
                }
                Some(_) => break,
            }
            // Python's list iterator moves on by one whether or not the face was removed.
            i += 1;
        }
    }
    track
}

/// `interp1d(framenum, bboxes[:, k])` over `first..=last` (`SP:run_pipeline.py:L91-L97`): scipy
/// hands integer frames and float boxes to `np.interp`, which returns a sample's own value at
/// its frame (the last of several at one frame) and `slope·(f − x_j) + y_j` between samples.
pub fn interpolate(detections: &[Detection]) -> Track {
    let mut sorted: Vec<&Detection> = detections.iter().collect();
    sorted.sort_by_key(|d| d.frame); // stable, as scipy's mergesort argsort
    let (first, last) = (sorted[0].frame, sorted[sorted.len() - 1].frame);
    let n = sorted.len();
    let frames: Vec<usize> = (first..=last).collect();
    let bboxes = frames
        .iter()
        .map(|&f| {
            // The last sample at or before f.
            let j = sorted.partition_point(|d| d.frame <= f) - 1;
            std::array::from_fn(|k| {
                let (xj, yj) = (sorted[j].frame as f64, sorted[j].bbox[k]);
                if j == n - 1 || xj == f as f64 {
                    return yj;
                }
                let (xn, yn) = (sorted[j + 1].frame as f64, sorted[j + 1].bbox[k]);
                let slope = (yn - yj) / (xn - xj);
                let v = slope * (f as f64 - xj) + yj;
                if v.is_nan() {
                    let w = slope * (f as f64 - xn) + yn;
                    if w.is_nan() && yj == yn {
                        return yj;
                    }
                    return w;
                }
                v
            })
        })
        .collect();
    Track { frames, bboxes }
}

/// `np.mean` of a column, as numpy sums float64: pairwise in blocks of 8 (its `pairwise_sum`).
fn numpy_mean(v: &[f64]) -> f64 {
    fn pairwise(a: &[f64]) -> f64 {
        if a.len() < 8 {
            return a.iter().fold(0.0, |s, x| s + x);
        }
        if a.len() <= 128 {
            let mut r = [0.0f64; 8];
            r.copy_from_slice(&a[..8]);
            let mut i = 8;
            while i + 8 <= a.len() {
                for (k, rk) in r.iter_mut().enumerate() {
                    *rk += a[i + k];
                }
                i += 8;
            }
            let mut s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
            for x in &a[i..] {
                s += x;
            }
            return s;
        }
        let half = (a.len() / 2) / 8 * 8;
        pairwise(&a[..half]) + pairwise(&a[half..])
    }
    pairwise(v) / v.len() as f64
}

/// `track_shot` (`SP:run_pipeline.py:L65-L101`): the tracks of one shot's detections (one list
/// per frame) and the candidates dropped.
pub fn track_shot(mut faces: Vec<Vec<Detection>>, p: &TrackParams) -> (Vec<Track>, Vec<Dropped>) {
    let (mut tracks, mut dropped) = (Vec::new(), Vec::new());
    loop {
        let chained = chain(&mut faces, p);
        let (Some(first), Some(last)) = (chained.first(), chained.last()) else { break };
        let (first, last) = (first.frame, last.frame);
        if chained.len() * p.detect_every.max(1) <= p.min_track {
            dropped.push(Dropped::TooShort { first, last, detections: chained.len() });
            continue;
        }
        let track = interpolate(&chained);
        let widths: Vec<f64> = track.bboxes.iter().map(|b| b[2] - b[0]).collect();
        let heights: Vec<f64> = track.bboxes.iter().map(|b| b[3] - b[1]).collect();
        let mean_side = numpy_mean(&widths).max(numpy_mean(&heights));
        if mean_side > p.min_face_size {
            tracks.push(track);
        } else {
            let (first, last) = (track.frames[0], track.frames[track.frames.len() - 1]);
            dropped.push(Dropped::TooSmall { first, last, mean_side });
        }
    }
    (tracks, dropped)
}

/// Every shot's tracks (`SP:run_pipeline.py:L297-L301`): shots are `[start, end)` frame ranges; a
/// shot of fewer than `min_track` frames is not tracked. `faces` holds one list per frame.
pub fn tracks(
    shots: &[(usize, usize)],
    faces: &[Vec<Detection>],
    p: &TrackParams,
) -> (Vec<Track>, Vec<Dropped>) {
    let (mut all, mut dropped) = (Vec::new(), Vec::new());
    for &(start, end) in shots {
        if end.saturating_sub(start) >= p.min_track && start < end {
            let shot = faces[start.min(faces.len())..end.min(faces.len())].to_vec();
            let (t, d) = track_shot(shot, p);
            all.extend(t);
            dropped.extend(d);
        } else {
            dropped.push(Dropped::ShortShot { start, end });
        }
    }
    (all, dropped)
}

/// `scipy.signal.medfilt(x, k)`: the median of each `k`-window, zero-padded at both ends (an
/// `ndimage.rank_filter` of rank k/2 in mode `constant`), so the ends are pulled towards 0 as in
/// the reference.
pub fn medfilt(x: &[f64], k: usize) -> Vec<f64> {
    let h = k / 2;
    (0..x.len())
        .map(|i| {
            let mut w: Vec<f64> = (0..k)
                .map(|d| (i + d).checked_sub(h).and_then(|j| x.get(j)).copied().unwrap_or(0.0))
                .collect();
            w.sort_by(f64::total_cmp);
            w[h]
        })
        .collect()
}

/// The smoothed crop geometry of a track (`SP:run_pipeline.py:L120-L130`): half the larger box
/// side, and the centre, each median-filtered.
#[derive(Debug, Clone, PartialEq)]
pub struct Smoothed {
    /// Half side per frame.
    pub s: Vec<f64>,
    /// Centre x per frame.
    pub x: Vec<f64>,
    /// Centre y per frame.
    pub y: Vec<f64>,
}

/// [`Smoothed`] of `track` with a `k`-wide median.
pub fn smooth(track: &Track, k: usize) -> Smoothed {
    let s: Vec<f64> = track.bboxes.iter().map(|d| (d[3] - d[1]).max(d[2] - d[0]) / 2.0).collect();
    let y: Vec<f64> = track.bboxes.iter().map(|d| (d[1] + d[3]) / 2.0).collect();
    let x: Vec<f64> = track.bboxes.iter().map(|d| (d[0] + d[2]) / 2.0).collect();
    Smoothed { s: medfilt(&s, k), x: medfilt(&x, k), y: medfilt(&y, k) }
}

/// numpy's slice bounds of `start..stop` on an axis of `len` (negative counts from the end, then
/// both clipped): the `frame[a:b, c:d]` of the crop.
fn slice_bounds(start: i64, stop: i64, len: usize) -> (usize, usize) {
    let len = len as i64;
    let fix = |v: i64| if v < 0 { (v + len).max(0) } else { v.min(len) };
    let (a, b) = (fix(start), fix(stop));
    (a as usize, b.max(a) as usize)
}

/// The pad and the `[rows, cols]` window of one frame's crop (`SP:run_pipeline.py:L134-L144`):
/// `bsi = int(bs·(1 + 2cs))`, the frame padded by `bsi` on every side, rows
/// `int(my − bs) .. int(my + bs·(1 + 2cs))`, columns `int(mx − bs·(1 + cs)) .. int(mx + bs·(1 + cs))`
/// around the padded centre (Python's `int` truncates towards zero).
pub fn crop_window(s: f64, x: f64, y: f64, cs: f64) -> (usize, [i64; 4]) {
    let bsi = (s * (1.0 + 2.0 * cs)) as i64;
    let my = y + bsi as f64;
    let mx = x + bsi as f64;
    let rows = [(my - s) as i64, (my + s * (1.0 + 2.0 * cs)) as i64];
    let cols = [(mx - s * (1.0 + cs)) as i64, (mx + s * (1.0 + cs)) as i64];
    (bsi.max(0) as usize, [rows[0], rows[1], cols[0], cols[1]])
}

/// Grey of the padding (`constant_values=(110, 110)`).
pub const PAD_VALUE: u8 = 110;
/// Side of the crops (`cv2.resize(face, (224, 224))`).
pub const CROP_SIDE: usize = 224;

/// One frame's crop (`SP:run_pipeline.py:L136-L146`): the frame (3 channels, BGR as `cv2.imread`
/// gives it) padded with [`PAD_VALUE`], cut at [`crop_window`] and resized to 224 × 224 with
/// OpenCV's bilinear resize. None when the window is empty (cv2 would raise).
pub fn crop(frame: &Image, s: f64, x: f64, y: f64, cs: f64) -> Option<Image> {
    let (pad, [r0, r1, c0, c1]) = crop_window(s, x, y, cs);
    let (ph, pw) = (frame.height + 2 * pad, frame.width + 2 * pad);
    let (ra, rb) = slice_bounds(r0, r1, ph);
    let (ca, cb) = slice_bounds(c0, c1, pw);
    if ra >= rb || ca >= cb {
        return None;
    }
    let ch = frame.channels;
    let (w, h) = (cb - ca, rb - ra);
    let mut data = vec![PAD_VALUE; w * h * ch];
    for (r, row) in data.chunks_exact_mut(w * ch).enumerate() {
        let py = ra + r;
        if py < pad || py >= pad + frame.height {
            continue;
        }
        let fy = py - pad;
        for c in 0..w {
            let px = ca + c;
            if px < pad || px >= pad + frame.width {
                continue;
            }
            let src = (fy * frame.width + px - pad) * ch;
            row[c * ch..(c + 1) * ch].copy_from_slice(&frame.data[src..src + ch]);
        }
    }
    let face = Image { width: w, height: h, channels: ch, data };
    Some(opencv_linear(&face, CROP_SIDE, CROP_SIDE))
}

/// The audio span of a track in seconds (`SP:run_pipeline.py:L150-L151`): from its first frame
/// to the end of its last, at 25 fps.
pub fn audio_span(track: &Track) -> (f64, f64) {
    let first = track.frames[0] as f64;
    let last = track.frames[track.frames.len() - 1] as f64;
    (first / 25.0, (last + 1.0) / 25.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(frame: usize, x: f64) -> Detection {
        Detection { frame, bbox: [x, 10.0, x + 120.0, 130.0], conf: 0.99 }
    }

    #[test]
    fn iou_of_known_boxes() {
        assert_eq!(iou(&[0.0, 0.0, 10.0, 10.0], &[5.0, 0.0, 15.0, 10.0]), 50.0 / 150.0);
        assert_eq!(iou(&[0.0, 0.0, 10.0, 10.0], &[20.0, 0.0, 30.0, 10.0]), 0.0);
    }

    #[test]
    fn a_gap_is_interpolated_and_a_long_gap_ends_the_track() {
        let p = TrackParams { min_track: 3, ..Default::default() };
        // Frames 0..5 with a detection every frame but 2; then a gap of 30 frames.
        let mut faces: Vec<Vec<Detection>> = vec![Vec::new(); 45];
        for f in [0, 1, 3, 4, 5] {
            faces[f].push(det(f, f as f64));
        }
        faces[40].push(det(40, 40.0));
        let (t, d) = track_shot(faces, &p);
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].frames, vec![0, 1, 2, 3, 4, 5]);
        assert_eq!(t[0].bboxes[2][0], 2.0);
        assert_eq!(d, vec![Dropped::TooShort { first: 40, last: 40, detections: 1 }]);
    }

    #[test]
    fn medfilt_pads_with_zeros() {
        let x = [5.0, 5.0, 5.0, 5.0, 5.0];
        assert_eq!(medfilt(&x, 3), vec![5.0, 5.0, 5.0, 5.0, 5.0]);
        assert_eq!(medfilt(&x, 5), vec![5.0, 5.0, 5.0, 5.0, 5.0]);
        assert_eq!(medfilt(&x, 7), vec![5.0, 5.0, 5.0, 5.0, 5.0]);
        assert_eq!(medfilt(&[1.0, 2.0, 3.0], 5), vec![1.0, 1.0, 1.0]);
    }

    #[test]
    fn numpy_mean_sums_pairwise() {
        let v: Vec<f64> = (0..300).map(|i| 0.1 * i as f64).collect();
        let plain = v.iter().sum::<f64>() / 300.0;
        assert!((numpy_mean(&v) - plain).abs() < 1e-9);
    }
}
