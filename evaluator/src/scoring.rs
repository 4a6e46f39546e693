//! Scoring one video: every 5-frame window against its 31 candidate audio windows (SPEC §6.1–6.3).
//!
//! The fast path exploits that both prenets are window-local and, in eval mode, deterministic:
//! each visual window and each audio window (and the all-zero padding window) is embedded once,
//! and only the transformer part runs per (window, candidate) pair. The naive path runs the full
//! model 31 times per window, as `calc_pdist` does; both give the same scores.

use burn::tensor::{Device, Int, Tensor, TensorData};
use features::{frames_shape, mel_shape, FRAME_INPUT_LEN as FRAME_IN, MEL_INPUT_LEN as MEL_IN};
use features::{MEL_WINDOW, N_MELS, SAMPLES_PER_FRAME, WINDOW_FRAMES};
use nets::model::{InputConvention, SyncTransformer, WindowKeys};
use shards::window::{mel_window, mel_window_start, visual_window};
use shards::Utterance;

use crate::protocol::{candidate_window, CANDIDATES};

/// Why an utterance is left out of the protocol (recorded in `provenance.json`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Exclusion {
    /// Fewer than 6 usable frames.
    #[error("too short: {frames} frames and {samples} samples give no complete window")]
    TooShort {
        /// Video frames.
        frames: usize,
        /// Audio samples.
        samples: usize,
    },
    /// A frame without a face among those used.
    #[error("frame {0} has no face (the reference protocol needs contiguous frames)")]
    NoFace(usize),
    /// The stored mel ends before window i.
    #[error("mel too short for window {0}")]
    MelShort(usize),
}

/// One video's model inputs: N windows of frames and the N matching mel windows, built a chunk
/// at a time from the utterance ([`VideoInput::frames`], [`VideoInput::mels`]) so that memory
/// does not grow with the video (issue #20 point 9: all windows as floats took 276 KB per frame).
pub struct VideoInput<'u> {
    /// Utterance id.
    pub utt_id: String,
    /// Number of windows N.
    pub n: usize,
    utt: &'u Utterance,
    conv: InputConvention,
}

impl VideoInput<'_> {
    /// Windows `s..e` as `[e − s, 15, 48, 96]` in the model's input convention.
    pub fn frames(&self, s: usize, e: usize) -> Vec<f32> {
        let mut f = Vec::with_capacity((e - s) * FRAME_IN);
        for i in s..e {
            f.extend(self.conv.window_to_input(visual_window(self.utt, i).expect("i + 5 ≤ frames")));
        }
        f
    }

    /// Mel windows `s..e` as `[e − s, 1, 80, 16]`.
    pub fn mels(&self, s: usize, e: usize) -> Vec<f32> {
        let (mel, frames) = (&self.utt.mel, self.utt.mel_frames as usize);
        (s..e).flat_map(|i| mel_window(mel, frames, i).expect("prepare checked every mel window")).collect()
    }
}

/// Builds the inputs the reference builds: `N = min(frames, ⌊samples/640⌋) − 5` windows; window
/// i is frames i..i+4 and mel frames ⌊3.2i⌋..+16 of the whole-utterance mel. An utterance with
/// a faceless frame among those used is excluded (the reference needs contiguous frames, SPEC
/// §6.1), as is one with N < 1. `max_windows` truncates N (verification runs only).
pub fn prepare<'u>(
    utt: &'u Utterance,
    conv: &InputConvention,
    max_windows: Option<usize>,
) -> Result<VideoInput<'u>, Exclusion> {
    let frames = utt.num_frames as usize;
    let usable = frames.min(utt.pcm.len() / SAMPLES_PER_FRAME);
    let n = usable
        .checked_sub(WINDOW_FRAMES)
        .filter(|n| *n >= 1)
        .ok_or(Exclusion::TooShort { frames, samples: utt.pcm.len() })?;
    if let Some(t) = utt.face_found[..n + WINDOW_FRAMES].iter().position(|f| !f) {
        return Err(Exclusion::NoFace(t));
    }
    let n = max_windows.map_or(n, |m| n.min(m.max(1)));
    let mel_ok = utt.mel.len() == N_MELS * utt.mel_frames as usize;
    if let Some(i) = (0..n).find(|&i| !mel_ok || mel_window_start(i) + MEL_WINDOW > utt.mel_frames as usize) {
        return Err(Exclusion::MelShort(i));
    }
    Ok(VideoInput { utt_id: utt.utt_id.clone(), n, utt, conv: *conv })
}

fn tensor4(data: Vec<f32>, shape: [usize; 4], device: &Device) -> Tensor<4> {
    Tensor::from_data(TensorData::new(data, shape), device)
}

fn rows(logits: Vec<f32>) -> Vec<[f32; CANDIDATES]> {
    logits.chunks_exact(CANDIDATES).map(|c| c.try_into().expect("31 scores")).collect()
}

/// Row indices as a tensor, for `select`-style gathers of cached windows.
pub(crate) fn index(rows: Vec<i64>, device: &Device) -> Tensor<1, Int> {
    let n = rows.len();
    Tensor::from_data(TensorData::new(rows, [n]), device)
}

fn host(t: Tensor<1>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 after convert")
}

/// Audio-window index of candidate j for window i in the padded list (0 = the zero window).
fn padded_index(i: usize, j: usize, n: usize) -> usize {
    let a = candidate_window(i, j);
    if a >= 0 && (a as usize) < n {
        a as usize + 1
    } else {
        0
    }
}

/// Fast path: prenets, and the transformer parts that depend on one modality alone
/// ([`WindowKeys`]), once per window; the rest per pair in batches of `pair_batch`.
pub fn score_fast(
    model: &SyncTransformer,
    v: &VideoInput,
    device: &Device,
    pair_batch: usize,
) -> Vec<[f32; CANDIDATES]> {
    let chunk = 64;
    let mut vids = Vec::new();
    let mut auds = vec![model.audio_keys(model.embed_audio(Tensor::zeros(mel_shape(1), device)))];
    for s in (0..v.n).step_by(chunk) {
        let e = (s + chunk).min(v.n);
        let f = tensor4(v.frames(s, e), frames_shape(e - s), device);
        let m = tensor4(v.mels(s, e), mel_shape(e - s), device);
        vids.push(model.video_keys(model.embed_video(f)));
        auds.push(model.audio_keys(model.embed_audio(m)));
    }
    let vid = WindowKeys::cat(vids); // N rows
    let aud = WindowKeys::cat(auds); // N + 1 rows, row 0 = the zero window
    let (pairs, slots) = distinct_pairs(v.n);
    let mut scores = Vec::with_capacity(pairs.len());
    for batch in pairs.chunks(pair_batch.max(1)) {
        let iv: Vec<i64> = batch.iter().map(|p| p.0 as i64).collect();
        let ia: Vec<i64> = batch.iter().map(|p| p.1 as i64).collect();
        scores.extend(host(model.score_pairs(&vid, &aud, index(iv, device), index(ia, device))));
    }
    rows(slots.into_iter().map(|k| scores[k]).collect())
}

/// The distinct (window, padded audio index) pairs of a video of `n` windows, and for each
/// (window i, candidate j) in row-major order the position of its pair. The pairs differ except
/// where several candidates of one window fall outside the video and share the zero window (a
/// deterministic forward of the same inputs, computed once). A 3 s clip (70 windows) has 240
/// such candidates of 2,170, in 30 windows: 210 fewer forwards (10 %); a 1 s clip (20 windows)
/// 240 of 620, all 20 windows: 220 fewer (35 %).
fn distinct_pairs(n: usize) -> (Vec<(usize, usize)>, Vec<usize>) {
    let mut pairs = Vec::with_capacity(n * CANDIDATES);
    let mut slots = Vec::with_capacity(n * CANDIDATES);
    for i in 0..n {
        let mut zero = None;
        for j in 0..CANDIDATES {
            let a = padded_index(i, j, n);
            let slot = match (a, zero) {
                (0, Some(k)) => k,
                _ => {
                    pairs.push((i, a));
                    pairs.len() - 1
                }
            };
            if a == 0 {
                zero = Some(slot);
            }
            slots.push(slot);
        }
    }
    (pairs, slots)
}

/// Naive path: the full model on (window i × 31, candidate mels), exactly as `calc_pdist`.
pub fn score_naive(model: &SyncTransformer, v: &VideoInput, device: &Device) -> Vec<[f32; CANDIDATES]> {
    let zero = vec![0.0f32; MEL_IN];
    let mut scores = Vec::with_capacity(v.n * CANDIDATES);
    for i in 0..v.n {
        let window = &v.frames(i, i + 1);
        let mut f = Vec::with_capacity(CANDIDATES * FRAME_IN);
        let mut m = Vec::with_capacity(CANDIDATES * MEL_IN);
        for j in 0..CANDIDATES {
            f.extend_from_slice(window);
            let a = padded_index(i, j, v.n);
            m.extend(if a == 0 { zero.clone() } else { v.mels(a - 1, a) });
        }
        let logits = model
            .forward(tensor4(f, frames_shape(CANDIDATES), device), tensor4(m, mel_shape(CANDIDATES), device));
        scores.extend(host(logits));
    }
    rows(scores)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_pairs_cover_every_candidate_once() {
        for n in [1, 3, 20, 70] {
            let (pairs, slots) = distinct_pairs(n);
            assert_eq!(slots.len(), n * CANDIDATES);
            for (k, &slot) in slots.iter().enumerate() {
                let (i, j) = (k / CANDIDATES, k % CANDIDATES);
                assert_eq!(pairs[slot], (i, padded_index(i, j, n)), "n {n}, window {i}, candidate {j}");
            }
            let mut seen = pairs.clone();
            seen.sort_unstable();
            seen.dedup();
            assert_eq!(seen.len(), pairs.len(), "n {n}: a pair twice");
        }
        // A 3 s clip (70 windows): 240 padded candidates in 30 windows, one zero pair each.
        assert_eq!(distinct_pairs(70).0.len(), 70 * CANDIDATES - 240 + 30);
        // A 1 s clip (20 windows): 240 padded candidates, in every window.
        assert_eq!(distinct_pairs(20).0.len(), 20 * CANDIDATES - 240 + 20);
    }

    #[test]
    fn padding_indices() {
        // Window 0 of 3: candidates 0..14 are padding, 15 is audio window 0 (index 1).
        assert_eq!(padded_index(0, 14, 3), 0);
        assert_eq!(padded_index(0, 15, 3), 1);
        assert_eq!(padded_index(0, 17, 3), 3);
        assert_eq!(padded_index(0, 18, 3), 0);
        assert_eq!(padded_index(2, 13, 3), 1);
    }
}
