//! `evaluator sync`: the audio-visual offset of any video (SPEC §7, vskadandale/vocalist #19).
//!
//! The video goes through the preprocessing's mouth clip ([`media::clip`]: decode at 25 fps,
//! faces, mouth crops, 16 kHz mel), every window is scored against the 31 candidates, and the scores are averaged
//! over windows per candidate offset. As syncnet_python reports it, the offset is the best
//! candidate and the confidence is best − median of those averages (here the model outputs
//! logits, so higher is better). Edge candidates that fall outside the video are left out of
//! each average.

pub mod batch;
pub mod clean;
pub mod row;
pub mod stream;
pub mod tracks;

use std::path::Path;

use burn::tensor::Device;
use features::MelExtractor;
use media::clip::{check_file, extract, ClipParams, Identity};
use media::face::{FaceDetect, FaceDetector};
use nets::checkpoint;
use nets::device::DeviceSpec;
use nets::model::{InputConvention, SyncTransformer};
use serde::{Deserialize, Serialize};
use shards::{Split, Utterance};

use crate::error::{EvalError, Result};
use crate::protocol::{candidate_window, CANDIDATES, PAIR_BATCH, V_SHIFT};
use crate::scoring::{prepare, score_fast};

/// The sync estimate of one video.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncResult {
    /// Audio offset in video frames (positive: audio lags video).
    pub offset_frames: i32,
    /// The same in milliseconds (40 ms per frame).
    pub offset_ms: i32,
    /// Best mean score minus the median of the 31 mean scores (syncnet_python's confidence).
    pub confidence: f32,
    /// Best mean score minus the best mean score more than [`PROMINENCE_GUARD`] frames away from
    /// it: how much the peak stands out from any rival offset. It separates clips whose true
    /// offset lies in the ±15 range from clips with none far better than `confidence` (measured
    /// by `scripts/sync_confidence.sh`, README "Check and clean your own videos").
    pub prominence: f32,
    /// Mean score per candidate offset, from −15 to +15 frames.
    pub mean_scores: Vec<f32>,
    /// 5-frame windows scored.
    pub windows: usize,
}

/// Offsets within this many frames of the best are its shoulders, not rivals, for
/// [`SyncResult::prominence`] (a true peak spreads over about ±2 frames: a 5-frame window
/// shifted by 1–2 frames still overlaps its audio by 60–80 %).
pub const PROMINENCE_GUARD: usize = 2;

/// Mean score per offset over the windows where that candidate lies inside the audio, then the
/// best offset and best − median. Candidate j of window i is audio window
/// [`candidate_window`]`(i, j)`.
pub fn estimate(rows: &[[f32; CANDIDATES]]) -> SyncResult {
    let n = rows.len();
    let inside = |i: usize, j: usize| {
        let a = candidate_window(i, j);
        a >= 0 && (a as usize) < n
    };
    estimate_masked(rows.iter().enumerate().map(|(i, r)| (r, std::array::from_fn(|j| inside(i, j)))))
}

/// [`estimate`] over rows that each say which of their candidates count (a candidate outside
/// the audio, which the protocol pads with silence, does not): per candidate the mean over the
/// rows where it counts, the best of those means, and best − median.
pub fn estimate_masked<'a>(
    rows: impl IntoIterator<Item = (&'a [f32; CANDIDATES], [bool; CANDIDATES])>,
) -> SyncResult {
    let mut sums = [0f32; CANDIDATES];
    let mut counts = [0usize; CANDIDATES];
    let mut n = 0;
    for (row, mask) in rows {
        n += 1;
        for j in (0..CANDIDATES).filter(|&j| mask[j]) {
            sums[j] += row[j];
            counts[j] += 1;
        }
    }
    let means: Vec<f32> = (0..CANDIDATES)
        .map(|j| if counts[j] == 0 { f32::NEG_INFINITY } else { sums[j] / counts[j] as f32 })
        .collect();
    from_means(means, n)
}

/// The estimate from the mean score per candidate (−∞ where no window counted it) over `n`
/// windows: the best offset, best − median and the prominence.
pub fn from_means(means: Vec<f32>, n: usize) -> SyncResult {
    let best = (0..CANDIDATES).fold(0, |b, j| if means[j] > means[b] { j } else { b });
    let mut finite: Vec<f32> = means.iter().copied().filter(|v| v.is_finite()).collect();
    finite.sort_by(f32::total_cmp);
    // Every candidate has at least window 15's score when n > 15; with fewer windows, or scores
    // that are not finite, there may be none: then the confidence is NaN, never a panic.
    let median = finite.get(finite.len() / 2).copied().unwrap_or(f32::NAN);
    let rival = (0..CANDIDATES)
        .filter(|j| j.abs_diff(best) > PROMINENCE_GUARD && means[*j].is_finite())
        .map(|j| means[j])
        .fold(f32::NAN, f32::max);
    let offset = best as i32 - V_SHIFT as i32;
    SyncResult {
        offset_frames: offset,
        offset_ms: offset * 40,
        confidence: means[best] - median,
        prominence: means[best] - rival,
        mean_scores: means,
        windows: n,
    }
}

impl SyncResult {
    /// Whether this is the estimate of its own `mean_scores` (31 of them, none NaN or +∞), bit
    /// for bit: a journal line is checked this way before it is reused (issue #33 point 6).
    pub fn check(&self) -> std::result::Result<(), String> {
        if self.mean_scores.len() != CANDIDATES {
            return Err(format!("{} mean scores, not {CANDIDATES}", self.mean_scores.len()));
        }
        if self.mean_scores.iter().any(|v| v.is_nan() || *v == f32::INFINITY) || self.windows == 0 {
            return Err("mean scores that are NaN or +inf, or no windows".into());
        }
        let again = from_means(self.mean_scores.clone(), self.windows);
        let b = |v: f32| if v.is_nan() { u32::MAX } else { v.to_bits() };
        let bits = |r: &SyncResult| (r.offset_frames, r.offset_ms, b(r.confidence), b(r.prominence));
        if bits(&again) != bits(self) {
            return Err(format!(
                "offset {} (confidence {}, prominence {}) is not the estimate of its mean scores (offset {}, confidence {}, prominence {})",
                self.offset_frames, self.confidence, self.prominence, again.offset_frames, again.confidence, again.prominence
            ));
        }
        Ok(())
    }
}

/// Scores a whole utterance and estimates its offset; the error is the reason it has no
/// estimate (excluded by the protocol's rules, or scores that are not finite).
pub fn score_utterance(
    model: &SyncTransformer,
    conv: &InputConvention,
    utt: &Utterance,
    device: &Device,
) -> std::result::Result<SyncResult, String> {
    let input = prepare(utt, conv, None).map_err(|why| why.to_string())?;
    let rows = score_fast(model, &input, device, PAIR_BATCH);
    let bad = rows.iter().filter(|r| r.iter().any(|v| !v.is_finite())).count();
    if bad > 0 {
        return Err(format!(
            "non-finite scores in {bad} of {} windows: the model's weights are not usable",
            rows.len()
        ));
    }
    Ok(estimate(&rows))
}

/// Decodes `video` into its mouth clip as `preprocess run` does ([`media::clip`]: faces, mouth
/// crops, 16 kHz mel) with `params`: the utterance `utt_id` as a shard would hold it (without
/// the source's sha256, which nothing here reads), and the warnings `preprocess` would record
/// (several audio streams, a frame rate resampled to 25).
pub fn decode_video(
    video: &Path,
    utt_id: &str,
    det: &mut dyn FaceDetect,
    mel: &MelExtractor,
    params: &ClipParams,
) -> std::result::Result<(Utterance, Vec<String>), String> {
    check_file(video).map_err(|why| why.to_string())?;
    let out = extract(video, 0, params, det, mel);
    let id = Identity {
        utt_id: utt_id.to_string(),
        split: Split::Test,
        source_path: video.display().to_string(),
        source_sha256: String::new(),
        transcript: String::new(),
    };
    out.result.map(|clip| (clip.into_utterance(id), out.warnings)).map_err(|why| why.to_string())
}

/// Estimates the offset of `video` with the checkpoint `model`, from audio stream
/// `audio_stream` (0: the first); warnings go to stderr.
pub fn sync(video: &Path, model: &Path, device: DeviceSpec, audio_stream: usize) -> Result<SyncResult> {
    let dev = device.device();
    let loaded = checkpoint::load(model, None, &dev)?;
    let params = ClipParams { audio_stream, ..ClipParams::default() };
    let mut det = FaceDetector::new(&params.detect)?;
    let unscorable = |reason: String| EvalError::Unscorable { video: video.to_path_buf(), reason };
    let utt_id = video.file_stem().map_or("video".into(), |s| s.to_string_lossy().into_owned());
    let (utt, warnings) =
        decode_video(video, &utt_id, &mut det, &MelExtractor::new(), &params).map_err(unscorable)?;
    for w in warnings {
        eprintln!("{}: warning: {w}", video.display());
    }
    score_utterance(&loaded.model, &loaded.config.input, &utt, &dev)
        .map_err(|why| unscorable(format!("{}: {why}", model.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_is_the_best_mean_candidate() {
        // 40 windows whose score peaks at candidate 18 (audio 3 frames late).
        let rows: Vec<[f32; CANDIDATES]> = (0..40)
            .map(|_| {
                let mut r = [0.0; CANDIDATES];
                r[18] = 2.0;
                r[17] = 1.0;
                r
            })
            .collect();
        let s = estimate(&rows);
        assert_eq!((s.offset_frames, s.offset_ms), (3, 120));
        assert_eq!(s.confidence, 2.0);
        // The best rival more than 2 frames away is 0 (candidate 17, one frame off, is a shoulder).
        assert_eq!(s.prominence, 2.0);
        let mut rows = rows;
        rows[0][3] = 31.0; // window 0's candidate 3 is padding: it does not count
        rows[20][3] = 31.0; // over the 28 windows (12..40) where candidate 3 lies inside the audio
        let s = estimate(&rows);
        assert_eq!(s.offset_frames, 3);
        assert_eq!(s.prominence, 2.0 - 31.0 / 28.0);
    }

    #[test]
    fn nan_scores_do_not_panic() {
        // Issue #20 point 6: NaN weights gave NaN scores and an index out of bounds here.
        let s = estimate(&vec![[f32::NAN; CANDIDATES]; 20]);
        assert!(s.confidence.is_nan());
        assert_eq!(s.windows, 20);
        assert!(estimate(&[]).confidence.is_nan());
    }
}
