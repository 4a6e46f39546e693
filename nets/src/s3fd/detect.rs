//! From S3FD's raw outputs to face boxes, as the reference does it (`SP:` = joonson/syncnet_python
//! at 6efbb1c, `detectors/s3fd/`): [`decode`] the regressions against the priors
//! (`box_utils.decode`, f32), keep scores above 0.05 and suppress overlaps with torch's
//! [`nms_torch`] (`box_utils.nms`, IoU 0.3, at most 750 kept: `Detect.forward`), then
//! `S3FD.detect_faces`' own pass: boxes above `conf_th` scaled to pixels and a second, stricter
//! suppression in f64 ([`nms_numpy`], `box_utils.nms_`, IoU 0.1).

use super::RawDetections;

/// `Detect(variance=[0.1, 0.2])`.
const VARIANCE: [f32; 2] = [0.1, 0.2];
/// `Detect.conf_thresh`.
const CONF_THRESH: f32 = 0.05;
/// `Detect.nms_thresh`.
const NMS_THRESH: f32 = 0.3;
/// `Detect.nms_top_k`: candidates considered by the suppression.
const NMS_TOP_K: usize = 5000;
/// `Detect.top_k`: detections kept.
const TOP_K: usize = 750;
/// `S3FD.detect_faces`' suppression threshold (`nms_(bboxes, 0.1)`).
pub const FACE_NMS: f64 = 0.1;
/// run_pipeline's `conf_th` for `detect_faces`.
pub const CONF_TH: f64 = 0.9;

/// `box_utils.decode`: centre offsets scaled by the prior size, sizes by `exp`, then corners
/// `[x1, y1, x2, y2]` relative to the input.
pub fn decode(loc: &[f32; 4], prior: &[f32; 4]) -> [f32; 4] {
    let cx = prior[0] + loc[0] * VARIANCE[0] * prior[2];
    let cy = prior[1] + loc[1] * VARIANCE[0] * prior[3];
    let w = prior[2] * (loc[2] * VARIANCE[1]).exp();
    let h = prior[3] * (loc[3] * VARIANCE[1]).exp();
    let (x1, y1) = (cx - w / 2.0, cy - h / 2.0);
    [x1, y1, w + x1, h + y1]
}

/// `box_utils.nms` (torch, f32): repeatedly keep the highest score and drop the boxes whose IoU
/// with it exceeds `overlap`; at most [`NMS_TOP_K`] candidates. Returns indices into `boxes`.
pub fn nms_torch(boxes: &[[f32; 4]], scores: &[f32], overlap: f32) -> Vec<usize> {
    let area: Vec<f32> = boxes.iter().map(|b| (b[2] - b[0]) * (b[3] - b[1])).collect();
    // `scores.sort(0)` ascending, the top k at the end.
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut idx: Vec<usize> = idx[idx.len().saturating_sub(NMS_TOP_K)..].to_vec();
    let mut keep = Vec::new();
    while let Some(i) = idx.pop() {
        keep.push(i);
        let b = boxes[i];
        idx.retain(|&j| {
            let c = boxes[j];
            let w = (c[2].min(b[2]) - c[0].max(b[0])).max(0.0);
            let h = (c[3].min(b[3]) - c[1].max(b[1])).max(0.0);
            let inter = w * h;
            inter / ((area[j] - inter) + area[i]) <= overlap
        });
    }
    keep
}

/// `Detect.forward` for one image and the face class: (score, box) rows, best first.
pub fn detect(raw: &RawDetections) -> Vec<(f32, [f32; 4])> {
    let mut boxes = Vec::new();
    let mut scores = Vec::new();
    for ((l, c), p) in raw.loc.iter().zip(&raw.conf).zip(&raw.priors) {
        if c[1] > CONF_THRESH {
            boxes.push(decode(l, p));
            scores.push(c[1]);
        }
    }
    let keep = nms_torch(&boxes, &scores, NMS_THRESH);
    keep.into_iter().take(TOP_K).map(|i| (scores[i], boxes[i])).collect()
}

/// `box_utils.nms_` (numpy, f64): the same suppression on `[x1, y1, x2, y2, score]` rows, by
/// descending score. Returns the rows kept, in that order.
pub fn nms_numpy(rows: &[[f64; 5]], thresh: f64) -> Vec<[f64; 5]> {
    let area: Vec<f64> = rows.iter().map(|r| (r[2] - r[0]) * (r[3] - r[1])).collect();
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by(|&a, &b| rows[b][4].total_cmp(&rows[a][4]));
    let mut keep = Vec::new();
    while let Some((&i, rest)) = order.split_first() {
        keep.push(rows[i]);
        let r = rows[i];
        order = rest
            .iter()
            .copied()
            .filter(|&j| {
                let c = rows[j];
                let w = (r[2].min(c[2]) - r[0].max(c[0])).max(0.0);
                let h = (r[3].min(c[3]) - r[1].max(c[1])).max(0.0);
                let inter = w * h;
                inter / (area[i] + area[j] - inter) <= thresh
            })
            .collect();
    }
    keep
}

/// `S3FD.detect_faces` at one scale whose input was `width × height` pixels of the original
/// image: the detections above `conf_th` (in `Detect`'s order, stopping at the first below),
/// scaled to pixels in f32, then [`nms_numpy`] at [`FACE_NMS`]. Rows `[x1, y1, x2, y2, score]`.
pub fn faces(raw: &RawDetections, width: usize, height: usize, conf_th: f64) -> Vec<[f64; 5]> {
    let scale = [width as f32, height as f32, width as f32, height as f32];
    let rows: Vec<[f64; 5]> = detect(raw)
        .into_iter()
        .take_while(|(s, _)| *s > conf_th as f32) // torch compares in f32
        .map(|(s, b)| {
            let p: [f32; 4] = std::array::from_fn(|k| b[k] * scale[k]);
            [p[0] as f64, p[1] as f64, p[2] as f64, p[3] as f64, s as f64]
        })
        .collect();
    nms_numpy(&rows, FACE_NMS)
}
