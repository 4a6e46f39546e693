//! `evaluator sync --stream`: the running offset of a live source, one JSON line per second.
//!
//! Frames and audio are fed as they arrive ([`StreamScorer::push_frame`],
//! [`StreamScorer::push_audio`]), from the stdin framing ([`media::framing`]) or from ffmpeg
//! ([`media::live`]). Each frame gets a mouth crop (faces are detected every `detect_every` frames and
//! the last box is held between, since a live source has no future frames to interpolate with);
//! mel columns are computed as soon as their 800 samples are in
//! ([`features::MelExtractor::columns`], bit-identical to the whole-signal mel); each 5-frame
//! window is scored against its 31 candidates as soon as the audio of its latest candidate (15
//! frames ahead) is in, with both prenets run once per window and only the transformers per pair
//! (the fast path of [`crate::scoring`]). Every `emit_every` frames the windows of the last
//! `window_s` seconds give an estimate ([`super::estimate_masked`]: the offset and the
//! confidence of `evaluator sync`, over a sliding window).
//!
//! With `hop` = h only every h-th window is scored (the audio windows are all embedded, since
//! every one is a candidate of some scored window): 1/h of the compute, for a machine that
//! cannot score 25 windows a second (`evaluator bench-stream` says which h keeps up).
//!
//! Memory is flat whatever the source does (issue #33 point 4). When one medium starves, the other
//! is held for at most [`MAX_LEAD_FRAMES`] (10 s) ahead of it, and what is older is dropped: a
//! stream whose video stopped keeps ~265 audio windows (a few MB), one whose audio stopped keeps
//! 250 mouth crops (3.5 MB). Windows whose frames or candidates were dropped are not scored (their
//! candidates do not count), so estimates resume when both media flow again. Estimates are paced
//! by frames: with the video stopped no line is written until it resumes or the stream ends;
//! with the audio stopped lines keep coming, with the windows of the last `window_s` seconds
//! (none once the gap is that long: nulls).
//!
//! Latency: a window needs the audio of 20 frames after its first (its 5 frames and 15 of
//! lookahead for the latest candidate), so an estimate describes the stream up to 0.8 s before
//! the newest input, plus the compute time; `latency_ms` in each line is the wall time from the
//! arrival of the input that completed the newest scored window to the line being written.

pub mod bench;
mod live;

pub use live::{run, stream, StreamSettings};

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use burn::tensor::{Device, Tensor, TensorData};
use features::{
    frames_shape, mel_shape, MelExtractor, FRAME_INPUT_LEN, MEL_WINDOW, N_MELS, SAMPLES_PER_FRAME,
};
use features::{FPS, HOP, N_FFT, WINDOW_FRAMES};
use media::crop::{mouth_crop, BoxAdjust};
use media::face::{FaceDetect, FaceDetector};
use nets::model::{InputConvention, SyncTransformer, WindowKeys};
use serde::Serialize;
use shards::window::mel_window_start;
use shards::FaceBox;

use super::estimate_masked;
use crate::protocol::{candidate_window, CANDIDATES, V_SHIFT};
use crate::scoring::index;
use media::framing::Packet;

pub use media::framing::StreamError;

/// Settings of a stream.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct StreamConfig {
    /// Seconds of windows each estimate averages over.
    pub window_s: f32,
    /// Detect faces every N frames (the box is held between).
    pub detect_every: usize,
    /// Emit an estimate every this many frames (25: once per second of stream).
    pub emit_every: usize,
    /// Score every `hop`-th window (1: all).
    pub hop: usize,
}

impl StreamConfig {
    /// Checks the settings (issue #33 point 11): a positive finite `window_s`, and a `hop` that
    /// leaves every estimate at least one window.
    pub fn validate(&self) -> Result<(), StreamError> {
        if !(self.window_s.is_finite() && self.window_s > 0.0) {
            return Err(StreamError(format!(
                "--window-s {} must be a number of seconds above 0",
                self.window_s
            )));
        }
        let span = (self.window_s * FPS as f32).round().max(1.0) as usize;
        if self.hop == 0 || self.hop > span {
            return Err(StreamError(format!(
                "--hop {} must be from 1 to {span} (--window-s {} × 25 fps), or no estimate would hold a window",
                self.hop, self.window_s
            )));
        }
        Ok(())
    }
}

impl Default for StreamConfig {
    fn default() -> Self {
        Self { window_s: 10.0, detect_every: 5, emit_every: FPS as usize, hop: 1 }
    }
}

/// One emitted line.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Estimate {
    /// Stream time of the newest frame, seconds.
    pub t: f64,
    /// Frames read so far.
    pub frames: usize,
    /// Windows in this estimate.
    pub windows: usize,
    /// Offset in frames (positive: audio lags); null before the first scored window.
    pub offset_frames: Option<i32>,
    /// The same in ms.
    pub offset_ms: Option<i32>,
    /// Best − median of the averaged scores.
    pub confidence: Option<f32>,
    /// Best − the best rival more than 2 frames away ([`super::SyncResult::prominence`]).
    pub prominence: Option<f32>,
    /// Wall time from the input that completed the newest window to this line, ms.
    pub latency_ms: Option<f64>,
    /// Whether this is the line written at the end of the stream.
    pub last: bool,
}

/// Wall time per stage, summed over the stream (what `bench-stream` reports).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct StageTimes {
    /// Face detection and mouth crops.
    pub faces: Duration,
    /// Mel columns and the audio prenet.
    pub audio: Duration,
    /// The visual prenet.
    pub video: Duration,
    /// The three transformers and the head, 31 pairs per window.
    pub pairs: Duration,
}

/// How far one medium may run ahead of the other, in frames (10 s at 25 fps): beyond it the oldest
/// of the leading medium is dropped, so memory stays flat when one medium starves.
pub const MAX_LEAD_FRAMES: usize = 250;

/// A scored window: index, scores, which candidates count, when its input was complete.
type ScoredRow = (usize, [f32; CANDIDATES], [bool; CANDIDATES], Instant);

/// A stream being scored.
pub struct StreamScorer<'m> {
    model: &'m SyncTransformer,
    conv: InputConvention,
    device: Device,
    cfg: StreamConfig,
    det: Box<dyn FaceDetect>,
    adjust: BoxAdjust,
    mel: MelExtractor,
    last_box: Option<FaceBox>,
    /// Crops from frame `crops_start` on (None: no face yet).
    crops: VecDeque<Option<Vec<u8>>>,
    crops_start: usize,
    arrivals: VecDeque<Instant>,
    frames_in: usize,
    /// Samples from `pcm_start` on, as floats in [−1, 1].
    pcm: Vec<f32>,
    pcm_start: usize,
    /// Mel columns from `mel_start` on.
    mel_cols: VecDeque<[f32; N_MELS]>,
    mel_start: usize,
    /// Audio windows' per-window transformer parts from `aud_start` on, one row each, with the time each was
    /// complete.
    aud: VecDeque<(WindowKeys, Instant)>,
    aud_start: usize,
    zero_aud: WindowKeys,
    next_window: usize,
    rows: VecDeque<ScoredRow>,
    /// Windows scored in all.
    pub scored: usize,
    /// Time per stage.
    pub times: StageTimes,
    /// When each scored window's estimate input was complete, and when it was scored.
    pub window_latencies: Vec<Duration>,
}

impl<'m> StreamScorer<'m> {
    /// A scorer with its own face detector (the preprocessing's parameters).
    pub fn new(
        model: &'m SyncTransformer,
        conv: InputConvention,
        device: &Device,
        cfg: StreamConfig,
    ) -> crate::Result<Self> {
        cfg.validate().map_err(|e| crate::EvalError::Unscorable { video: "stream".into(), reason: e.0 })?;
        let params = media::clip::ClipParams::default();
        let zero_aud = model.audio_keys(model.embed_audio(Tensor::zeros(mel_shape(1), device)));
        Ok(Self {
            model,
            conv,
            device: device.clone(),
            cfg: StreamConfig { hop: cfg.hop.max(1), detect_every: cfg.detect_every.max(1), ..cfg },
            det: Box::new(FaceDetector::new(&params.detect)?),
            adjust: params.adjust,
            mel: MelExtractor::new(),
            last_box: None,
            crops: VecDeque::new(),
            crops_start: 0,
            arrivals: VecDeque::new(),
            frames_in: 0,
            pcm: Vec::new(),
            pcm_start: 0,
            mel_cols: VecDeque::new(),
            mel_start: 0,
            aud: VecDeque::new(),
            aud_start: 0,
            zero_aud,
            next_window: 0,
            rows: VecDeque::new(),
            scored: 0,
            times: StageTimes::default(),
            window_latencies: Vec::new(),
        })
    }

    /// Feeds one RGB24 frame; returns the estimate when one is due.
    pub fn push_frame(&mut self, rgb: &[u8], width: usize, height: usize) -> Option<Estimate> {
        let now = Instant::now();
        if self.frames_in.is_multiple_of(self.cfg.detect_every) || self.last_box.is_none() {
            if let Some(b) = self.det.detect(rgb, width, height) {
                self.last_box = Some(b);
            }
        }
        let crop = self.last_box.map(|b| mouth_crop(rgb, width, height, &b, &self.adjust));
        self.crops.push_back(crop);
        self.arrivals.push_back(now);
        self.frames_in += 1;
        self.times.faces += now.elapsed();
        self.score_ready(false);
        self.frames_in.is_multiple_of(self.cfg.emit_every.max(1)).then(|| self.estimate(false))
    }

    /// Feeds 16 kHz mono samples.
    pub fn push_audio(&mut self, samples: &[i16]) {
        let now = Instant::now();
        self.pcm.extend(samples.iter().map(|&s| s as f32 / 32768.0));
        // Mel columns whose 800 samples are all in.
        let end = self.pcm_start + self.pcm.len();
        let ready = if end >= N_FFT / 2 { (end - N_FFT / 2) / HOP + 1 } else { 0 };
        let next = self.mel_start + self.mel_cols.len();
        if ready > next {
            let cols = self.mel.columns(&self.pcm, self.pcm_start, next, ready);
            self.mel_cols.extend(cols);
        }
        // Audio windows whose 16 columns are all in, embedded together.
        let cols_end = self.mel_start + self.mel_cols.len();
        let mut m = Vec::new();
        let mut count = 0;
        loop {
            let first = mel_window_start(self.audio_windows() + count);
            if first + MEL_WINDOW > cols_end {
                break;
            }
            for b in 0..N_MELS {
                m.extend((first..first + MEL_WINDOW).map(|t| self.mel_cols[t - self.mel_start][b]));
            }
            count += 1;
        }
        if count > 0 {
            let mel = Tensor::from_data(TensorData::new(m, mel_shape(count)), &self.device);
            let keys = self.model.audio_keys(self.model.embed_audio(mel)); // count rows
            for k in 0..count {
                self.aud.push_back((keys.rows(k, 1), now));
            }
        }
        self.times.audio += now.elapsed();
        self.forget();
        self.score_ready(false);
    }

    /// Feeds one packet; returns the estimate when one is due.
    pub fn push(&mut self, p: &Packet, width: usize, height: usize) -> Option<Estimate> {
        match p {
            Packet::Video(f) => self.push_frame(f, width, height),
            Packet::Audio(s) => {
                self.push_audio(s);
                None
            }
        }
    }

    /// Ends the stream: scores the last windows (candidates past the end count as padding, as
    /// in the batch protocol) and returns the final estimate.
    pub fn finish(&mut self) -> Estimate {
        self.score_ready(true);
        self.estimate(true)
    }

    /// What the scorer holds: mouth crops (frames) and embedded audio windows (for the memory
    /// bound, [`MAX_LEAD_FRAMES`]).
    pub fn held(&self) -> (usize, usize) {
        (self.crops.len(), self.aud.len())
    }

    /// The scored windows the next estimate averages: window index and its 31 scores.
    pub fn rows(&self) -> impl Iterator<Item = (usize, &[f32; CANDIDATES])> {
        self.rows.iter().map(|r| (r.0, &r.1))
    }

    /// Audio windows available so far.
    fn audio_windows(&self) -> usize {
        self.aud_start + self.aud.len()
    }

    /// The protocol's window count at the end of the stream: N = min(frames, samples/640) − 5.
    fn final_windows(&self) -> usize {
        let samples = self.pcm_start + self.pcm.len();
        self.frames_in.min(samples / SAMPLES_PER_FRAME).saturating_sub(WINDOW_FRAMES)
    }

    fn score_ready(&mut self, at_end: bool) {
        let mut batch = Vec::new();
        loop {
            let i = self.next_window;
            if i + WINDOW_FRAMES > self.frames_in
                || (!at_end && i + V_SHIFT >= self.audio_windows())
                || (at_end && i >= self.final_windows())
            {
                break;
            }
            batch.push(i);
            self.next_window += self.cfg.hop;
        }
        if !batch.is_empty() {
            self.score(&batch, at_end);
        }
        // Also when nothing was scored: a medium that runs ahead is bounded here.
        self.forget();
    }

    fn score(&mut self, windows: &[usize], at_end: bool) {
        let limit =
            if at_end { self.final_windows().min(self.audio_windows()) } else { self.audio_windows() };
        let start = Instant::now();
        let mut frames = Vec::new();
        let mut kept = Vec::new();
        for &i in windows {
            // A window with a frame before the first face is not scored (as in the protocol).
            let crops: Option<Vec<&[u8]>> =
                (i..i + WINDOW_FRAMES).map(|t| self.crops[t - self.crops_start].as_deref()).collect();
            let Some(crops) = crops else { continue };
            frames.extend(self.conv.window_to_input(&crops.concat()));
            let mut mask = [false; CANDIDATES];
            let mut ready = self.arrivals[i + WINDOW_FRAMES - 1 - self.crops_start];
            for (j, m) in mask.iter_mut().enumerate() {
                let a = candidate_window(i, j);
                // Audio windows before `aud_start` were dropped (video starved them): not counted.
                if a >= self.aud_start as isize && (a as usize) < limit {
                    *m = true;
                    ready = ready.max(self.aud[a as usize - self.aud_start].1);
                }
            }
            kept.push((i, mask, ready));
        }
        if kept.is_empty() {
            return;
        }
        debug_assert_eq!(frames.len(), kept.len() * FRAME_INPUT_LEN);
        let f = Tensor::from_data(TensorData::new(frames, frames_shape(kept.len())), &self.device);
        let v = self.model.embed_video(f); // [W, d, 5]
        let after_video = Instant::now();
        self.times.video += after_video - start;
        let video = self.model.video_keys(v);
        // The distinct audio windows of the batch (row 0: the zero window) and each pair's rows.
        let mut table = vec![self.zero_aud.clone()];
        let mut row_of = std::collections::HashMap::new();
        let mut iv = Vec::with_capacity(kept.len() * CANDIDATES);
        let mut ia = Vec::with_capacity(kept.len() * CANDIDATES);
        for (w, (i, mask, _)) in kept.iter().enumerate() {
            for (j, m) in mask.iter().enumerate() {
                let a = candidate_window(*i, j) as usize; // counted (m) only inside the audio
                ia.push(if *m {
                    *row_of.entry(a).or_insert_with(|| {
                        table.push(self.aud[a - self.aud_start].0.clone());
                        table.len() as i64 - 1
                    })
                } else {
                    0
                });
                iv.push(w as i64);
            }
        }
        let (iv, ia) = (index(iv, &self.device), index(ia, &self.device));
        let logits = self.model.score_pairs(&video, &WindowKeys::cat(table), iv, ia);
        let scores: Vec<f32> =
            logits.into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 after convert");
        let done = Instant::now();
        self.times.pairs += done - after_video;
        for ((i, mask, ready), s) in kept.into_iter().zip(scores.chunks_exact(CANDIDATES)) {
            self.rows.push_back((i, s.try_into().expect("31 scores"), mask, ready));
            self.window_latencies.push(done - ready);
            self.scored += 1;
        }
        let horizon = (self.cfg.window_s * FPS as f32).round() as usize;
        while self.rows.front().is_some_and(|r| r.0 + horizon < self.next_window) {
            self.rows.pop_front();
        }
    }

    /// Drops what no future window needs: crops before the next window, audio windows before
    /// its earliest candidate, and the samples and columns before those.
    fn forget(&mut self) {
        // Video far ahead of the audio (the audio stopped): its oldest frames go, and the windows
        // that start in them are never scored.
        if self.frames_in > self.audio_windows() + MAX_LEAD_FRAMES {
            self.next_window = self.next_window.max(self.frames_in - MAX_LEAD_FRAMES);
        }
        while self.crops_start < self.next_window && !self.crops.is_empty() {
            self.crops.pop_front();
            self.arrivals.pop_front();
            self.crops_start += 1;
        }
        // Audio far ahead of the video (the video stopped): the oldest audio windows go.
        let mut first_aud = self.next_window.saturating_sub(V_SHIFT);
        if self.audio_windows() > self.frames_in + MAX_LEAD_FRAMES {
            first_aud = first_aud.max(self.audio_windows() - MAX_LEAD_FRAMES - V_SHIFT);
        }
        while self.aud_start < first_aud && !self.aud.is_empty() {
            self.aud.pop_front();
            self.aud_start += 1;
        }
        // Columns before the first audio window still to be built are not needed.
        let keep_col = mel_window_start(self.aud_start + self.aud.len());
        while self.mel_start < keep_col && !self.mel_cols.is_empty() {
            self.mel_cols.pop_front();
            self.mel_start += 1;
        }
        // Samples before the next column's first sample (keep sample 0 for reflection).
        let next_col = self.mel_start + self.mel_cols.len();
        let keep_sample = (next_col * HOP).saturating_sub(N_FFT / 2);
        if keep_sample > self.pcm_start
            && self.pcm_start + self.pcm.len() >= keep_sample
            && next_col * HOP > N_FFT / 2
        {
            self.pcm.drain(..keep_sample - self.pcm_start);
            self.pcm_start = keep_sample;
        }
    }

    fn estimate(&self, last: bool) -> Estimate {
        let t = self.frames_in as f64 / FPS as f64;
        let (frames, windows) = (self.frames_in, self.rows.len());
        if self.rows.is_empty() {
            let none = Estimate {
                t,
                frames,
                windows,
                offset_frames: None,
                offset_ms: None,
                confidence: None,
                prominence: None,
                latency_ms: None,
                last,
            };
            return none;
        }
        let r = estimate_masked(self.rows.iter().map(|(_, s, m, _)| (s, *m)));
        let newest = self.rows.back().expect("not empty").3;
        Estimate {
            t,
            frames,
            windows,
            offset_frames: Some(r.offset_frames),
            offset_ms: Some(r.offset_ms),
            confidence: Some(r.confidence),
            prominence: Some(r.prominence),
            latency_ms: Some(newest.elapsed().as_secs_f64() * 1e3),
            last,
        }
    }
}
