//! One video through SyncNet: frames streamed from ffmpeg into window batches, MFCC windows, the
//! two encoders, then [`super::score`]. Each embedding is computed once; a batch holds `batch`
//! consecutive windows (the reference: 20), and only the frames of the batch being built are in
//! memory (`batch + 4` frames), whatever the video's length.

use std::path::Path;

use burn::tensor::{Device, Tensor, TensorData};
use features::mfcc::{self, N_CEPS};
use nets::syncnet::{SyncNet, FRAME_SIZE, MFCC_COLS, MFCC_ROWS, WINDOW_FRAMES};

use super::score::{self, LseScore, SHIFTS};
use media::reference::{self, Frame, FrameSource, MediaError};

/// SyncNet on a device.
pub struct Embedder {
    /// The model.
    pub model: SyncNet,
    /// Its device.
    pub device: Device,
}

/// Everything computed for one video (the golden test compares each part).
#[derive(Debug, Clone)]
pub struct VideoLse {
    /// The 16 kHz samples.
    pub pcm: Vec<i16>,
    /// `[frames][13]` MFCCs.
    pub mfcc: Vec<[f64; N_CEPS]>,
    /// Decoded frames.
    pub frames: usize,
    /// Visual embeddings, one per scored window.
    pub lip: Vec<Vec<f32>>,
    /// Audio embeddings, one per scored window.
    pub aud: Vec<Vec<f32>>,
    /// `[windows][31]` distances.
    pub dists: Vec<[f32; SHIFTS]>,
    /// The LSE terms.
    pub score: LseScore,
}

fn rows(t: Tensor<2>) -> Vec<Vec<f32>> {
    let [_, d] = t.dims();
    let v: Vec<f32> = t.into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 after convert");
    v.chunks_exact(d).map(<[f32]>::to_vec).collect()
}

impl Embedder {
    /// Visual embeddings of windows starting at frames `0..n` of `frames` (which holds n + 4).
    fn lip(&self, frames: &[Frame], n: usize) -> Vec<Vec<f32>> {
        let plane = FRAME_SIZE * FRAME_SIZE;
        let mut x = vec![0f32; n * 3 * WINDOW_FRAMES * plane];
        for w in 0..n {
            for t in 0..WINDOW_FRAMES {
                let bgr = &frames[w + t].bgr;
                for c in 0..3 {
                    let base = ((w * 3 + c) * WINDOW_FRAMES + t) * plane;
                    for (dst, px) in x[base..base + plane].iter_mut().zip(bgr.chunks_exact(3)) {
                        *dst = px[c] as f32;
                    }
                }
            }
        }
        let shape = [n, 3, WINDOW_FRAMES, FRAME_SIZE, FRAME_SIZE];
        rows(self.model.forward_lip(Tensor::from_data(TensorData::new(x, shape), &self.device)))
    }

    /// Audio embeddings of windows `first..first + n` (MFCC columns 4i..4i+19).
    fn aud(&self, mfcc: &[[f64; N_CEPS]], first: usize, n: usize) -> Vec<Vec<f32>> {
        let mut x = vec![0f32; n * MFCC_ROWS * MFCC_COLS];
        for w in 0..n {
            let col0 = (first + w) * mfcc::FRAMES_PER_VIDEO_FRAME;
            for r in 0..MFCC_ROWS {
                for k in 0..MFCC_COLS {
                    x[(w * MFCC_ROWS + r) * MFCC_COLS + k] = mfcc[col0 + k][r] as f32;
                }
            }
        }
        let shape = [n, 1, MFCC_ROWS, MFCC_COLS];
        rows(self.model.forward_aud(Tensor::from_data(TensorData::new(x, shape), &self.device)))
    }
}

/// SyncNet's visual windows over a stream of frames, `batch` consecutive windows per forward
/// (the reference's batching), with only the `batch + 4` frames of the batch being built in
/// memory. Frames past the last window the audio allows are only counted.
pub struct LipWindows<'a> {
    embedder: &'a Embedder,
    batch: usize,
    limit: usize,
    buf: Vec<Frame>,
    lip: Vec<Vec<f32>>,
    count: usize,
}

impl<'a> LipWindows<'a> {
    /// Windows for audio of `pcm_len` samples.
    pub fn new(embedder: &'a Embedder, batch: usize, pcm_len: usize) -> Self {
        let batch = batch.max(1);
        let limit = score::num_windows(usize::MAX, pcm_len);
        Self {
            embedder,
            batch,
            limit,
            buf: Vec::with_capacity(batch + WINDOW_FRAMES),
            lip: Vec::new(),
            count: 0,
        }
    }

    /// Whether the next frame is still needed (else [`LipWindows::count`] it).
    pub fn wants(&self) -> bool {
        self.lip.len() < self.limit
    }

    /// Counts a frame that is not needed.
    pub fn count(&mut self) {
        self.count += 1;
    }

    /// The next frame (224 × 224 BGR).
    pub fn push(&mut self, f: Frame) {
        self.count += 1;
        if !self.wants() {
            return;
        }
        self.buf.push(f);
        if self.buf.len() == self.batch + WINDOW_FRAMES - 1 {
            let n = self.batch.min(self.limit - self.lip.len());
            self.lip.extend(self.embedder.lip(&self.buf, n));
            self.buf.drain(..self.batch);
        }
    }

    /// The last windows, the audio embeddings and the scores, given the audio.
    pub fn finish(mut self, pcm: Vec<i16>) -> Result<VideoLse, MediaError> {
        let mfcc = mfcc::mfcc(&pcm);
        let count = self.count;
        let windows = score::num_windows(count, pcm.len());
        if windows == 0 {
            return Err(MediaError(format!(
                "too short: {count} frames and {:.2} s of audio; SyncNet needs at least 6 frames of both",
                pcm.len() as f64 / 16_000.0
            )));
        }
        if self.lip.len() < windows && self.buf.len() >= WINDOW_FRAMES {
            let n = (self.buf.len() + 1 - WINDOW_FRAMES).min(windows - self.lip.len());
            self.lip.extend(self.embedder.lip(&self.buf, n));
        }
        let mut lip = self.lip;
        lip.truncate(windows);
        let mut aud = Vec::with_capacity(windows);
        while aud.len() < windows {
            let n = self.batch.min(windows - aud.len());
            aud.extend(self.embedder.aud(&mfcc, aud.len(), n));
        }
        let dists = score::pdist(&lip, &aud);
        let score = score::score(&dists).expect("windows > 0");
        Ok(VideoLse { pcm, mfcc, frames: count, lip, aud, dists, score })
    }
}

/// Scores `video`; `batch` windows per forward. With `resize`, frames of another size are first
/// resized to 224 × 224 as Wav2Lip's `scores_LSE` does (`cv2.resize`, INTER_LINEAR, bit-exact
/// through [`media::resize::opencv_linear`]); without it they are a reason, as in
/// syncnet_python. An error is a reason for the output's reason column (no audio, no video, too
/// short, unreadable, wrong frame size).
pub fn evaluate(
    video: &Path,
    embedder: &Embedder,
    source: FrameSource,
    batch: usize,
    resize: bool,
    audio_stream: usize,
) -> Result<VideoLse, MediaError> {
    let pcm = reference::pcm_16k(video, audio_stream)?;
    let mut frames = reference::Frames::open(video, source)?;
    let (w, h) = frames.size();
    let other_size = (w, h) != (FRAME_SIZE, FRAME_SIZE);
    if other_size && !resize {
        return Err(MediaError(format!(
            "frames are {w}×{h}; SyncNet takes {FRAME_SIZE}×{FRAME_SIZE} face crops (crop the faces first, or pass --resize to resize them as Wav2Lip's scores_LSE does)"
        )));
    }
    let mut windows = LipWindows::new(embedder, batch, pcm.len());
    // Frames past the last window the audio allows are counted, not decoded.
    while windows.wants() {
        let Some(mut f) = frames.next_frame()? else { break };
        if other_size {
            let img = media::resize::Image { width: f.width, height: f.height, channels: 3, data: f.bgr };
            let out = media::resize::opencv_linear(&img, FRAME_SIZE, FRAME_SIZE);
            f = Frame { width: FRAME_SIZE, height: FRAME_SIZE, bgr: out.data };
        }
        windows.push(f);
    }
    while frames.skip_frame()? {
        windows.count();
    }
    windows.finish(pcm)
}
