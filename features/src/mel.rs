//! The log-mel spectrogram exactly as the VocaLiST / MTD training and test code computes it
//! (SPEC §1.3): centred reflect-padded STFT (periodic Hann 800, hop 200), magnitude, slaney mel
//! filterbank (80 bands, 55–7600 Hz), `20·log10(max(x, 1e-5)) − 20`, then `8·(S+100)/100 − 4`
//! clipped to [−4, 4]. No pre-emphasis (SPEC §0.6).
//!
//! Computed in f64 internally (the reference runs torch in f32; f64 keeps us within its
//! rounding) and returned as f32.

use std::sync::Arc;

use realfft::{RealFftPlanner, RealToComplex};

use crate::{HOP, N_FFT, N_MELS, N_STFT};

/// Sample rate of the mel's frequency axis (Hz), [`crate::SAMPLE_RATE`] as f64.
const SAMPLE_RATE: f64 = crate::SAMPLE_RATE as f64;
/// Lowest filter edge (Hz), `hparams.fmin`.
pub const F_MIN: f64 = 55.0;
/// Highest filter edge (Hz), `hparams.fmax`.
pub const F_MAX: f64 = 7600.0;
/// `MIN_LEVEL = exp(100 / −20 · ln 10)` = 1e-5 (`VL:test_lrs2.py:L39-40`).
pub const MIN_LEVEL: f64 = 1e-5;
/// `hparams.ref_level_db`.
pub const REF_LEVEL_DB: f64 = 20.0;
/// `TOP_DB = −min_level_db`.
pub const TOP_DB: f64 = 100.0;
/// `hparams.max_abs_value`.
pub const MAX_ABS: f64 = 4.0;
/// Slaney mel scale (linear below 1 kHz, logarithmic above), as torchaudio's `mel_scale="slaney"`.
fn hz_to_mel(f: f64) -> f64 {
    let f_sp = 200.0 / 3.0;
    let logstep = 6.4f64.ln() / 27.0;
    if f >= 1000.0 {
        15.0 + (f / 1000.0).ln() / logstep
    } else {
        f / f_sp
    }
}

fn mel_to_hz(m: f64) -> f64 {
    let f_sp = 200.0 / 3.0;
    let logstep = 6.4f64.ln() / 27.0;
    if m >= 15.0 {
        1000.0 * (logstep * (m - 15.0)).exp()
    } else {
        m * f_sp
    }
}

/// The slaney-normalised triangular filterbank, `[N_MELS][N_STFT]` row-major
/// (torchaudio `melscale_fbanks(..., norm="slaney", mel_scale="slaney")`, transposed).
pub fn mel_filterbank() -> Vec<f64> {
    let freqs: Vec<f64> = (0..N_STFT).map(|i| i as f64 * (SAMPLE_RATE / 2.0) / (N_STFT - 1) as f64).collect();
    let (m_min, m_max) = (hz_to_mel(F_MIN), hz_to_mel(F_MAX));
    let f_pts: Vec<f64> = (0..N_MELS + 2)
        .map(|i| mel_to_hz(m_min + (m_max - m_min) * i as f64 / (N_MELS + 1) as f64))
        .collect();
    let mut fb = vec![0.0; N_MELS * N_STFT];
    for m in 0..N_MELS {
        let (lo, mid, hi) = (f_pts[m], f_pts[m + 1], f_pts[m + 2]);
        let enorm = 2.0 / (hi - lo);
        for (k, &f) in freqs.iter().enumerate() {
            let down = (f - lo) / (mid - lo);
            let up = (hi - f) / (hi - mid);
            fb[m * N_STFT + k] = down.min(up).max(0.0) * enorm;
        }
    }
    fb
}

/// Reusable mel extractor: FFT plan, window and filterbank built once.
pub struct MelExtractor {
    fft: Arc<dyn RealToComplex<f64>>,
    window: Vec<f64>,
    filterbank: Vec<f64>,
    /// Per band, the bins where its filter is non-zero (the rest add exact zeros, so summing
    /// only these gives the same bits in a tenth of the time).
    support: Vec<std::ops::Range<usize>>,
}

impl Default for MelExtractor {
    fn default() -> Self {
        Self::new()
    }
}

impl MelExtractor {
    /// Plans the FFT and builds the window and filterbank.
    pub fn new() -> Self {
        let fft = RealFftPlanner::<f64>::new().plan_fft_forward(N_FFT);
        // torch.hann_window(800) is periodic: 0.5 − 0.5·cos(2πk/N).
        let window = (0..N_FFT)
            .map(|k| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * k as f64 / N_FFT as f64).cos())
            .collect();
        let filterbank = mel_filterbank();
        let support = (0..N_MELS)
            .map(|b| {
                let row = &filterbank[b * N_STFT..(b + 1) * N_STFT];
                let first = row.iter().position(|&w| w != 0.0).unwrap_or(0);
                let last = row.iter().rposition(|&w| w != 0.0).map_or(first, |l| l + 1);
                first..last
            })
            .collect();
        Self { fft, window, filterbank, support }
    }

    /// Number of frames `torch.stft(center=True)` yields for `n` samples: 1 + ⌊n / 200⌋.
    pub fn num_frames(n: usize) -> usize {
        1 + n / HOP
    }

    /// The normalised log-mel of `pcm` (floats in [−1, 1]) as `[80][frames]` band-major f32.
    /// Empty input gives an empty result (torch would reject it; callers skip such audio).
    pub fn compute(&self, pcm: &[f32]) -> Vec<f32> {
        let n = pcm.len();
        if n == 0 {
            return Vec::new();
        }
        let frames = Self::num_frames(n);
        let mut work = Work::new(self);
        let mut out = vec![0.0f32; N_MELS * frames];
        for t in 0..frames {
            let col = self.column(|i| reflect(pcm, i), t, &mut work);
            for (b, v) in col.iter().enumerate() {
                out[b * frames + t] = *v;
            }
        }
        out
    }

    /// Columns `t0..t1` of the mel of a signal of which `pcm` holds the samples from `start` on
    /// (streaming: [`Self::compute`] without the whole signal), one `[80]` column each. They are
    /// bit-identical to `compute`'s columns of the whole signal when every column's 800 samples
    /// (`200·t − 400 .. 200·t + 400`) lie in `pcm`, or reach before sample 0 with `start = 0`
    /// (reflected there, as `compute` does).
    pub fn columns(&self, pcm: &[f32], start: usize, t0: usize, t1: usize) -> Vec<[f32; N_MELS]> {
        let mut work = Work::new(self);
        let at = |i: isize| -> f64 {
            let j = if i < 0 && start == 0 { -i } else { i - start as isize };
            pcm.get(j.max(0) as usize).copied().unwrap_or(0.0) as f64
        };
        (t0..t1).map(|t| self.column(at, t, &mut work)).collect()
    }

    /// Mel column `t` of the signal `at` (sample by absolute index, reflected by the caller).
    fn column(&self, at: impl Fn(isize) -> f64, t: usize, w: &mut Work) -> [f32; N_MELS] {
        let start = (t * HOP) as isize - (N_FFT / 2) as isize;
        for (k, x) in w.input.iter_mut().enumerate() {
            *x = at(start + k as isize) * self.window[k];
        }
        self.fft
            .process_with_scratch(&mut w.input, &mut w.spectrum, &mut w.scratch)
            .expect("buffer sizes come from the plan");
        for (m, c) in w.mags.iter_mut().zip(&w.spectrum) {
            *m = c.norm();
        }
        let mut out = [0f32; N_MELS];
        for (b, o) in out.iter_mut().enumerate() {
            let band = self.support[b].clone();
            let row = &self.filterbank[b * N_STFT..(b + 1) * N_STFT][band.clone()];
            let mel: f64 = row.iter().zip(&w.mags[band]).map(|(w, m)| w * m).sum();
            let db = 20.0 * mel.max(MIN_LEVEL).log10() - REF_LEVEL_DB;
            let norm = (2.0 * MAX_ABS) * ((db + TOP_DB) / TOP_DB) - MAX_ABS;
            *o = norm.clamp(-MAX_ABS, MAX_ABS) as f32;
        }
        out
    }

    /// The training-path mel of one 3200-sample chunk: 17 frames computed on the chunk alone
    /// (reflect-padded at its own edges), the last dropped, giving `[80][16]` (SPEC §1.3 step 7).
    pub fn chunk(&self, chunk: &[f32]) -> Vec<f32> {
        let full = self.compute(chunk);
        let frames = Self::num_frames(chunk.len());
        let keep = frames.saturating_sub(1);
        full.chunks_exact(frames).flat_map(|band| band[..keep].iter().copied()).collect()
    }
}

/// Reflect padding (torch pad_mode="reflect": the edge sample is not repeated).
fn reflect(pcm: &[f32], i: isize) -> f64 {
    let n = pcm.len() as isize;
    let j = if i < 0 {
        -i
    } else if i >= n {
        2 * (n - 1) - i
    } else {
        i
    };
    pcm[j.clamp(0, n - 1) as usize] as f64
}

/// The FFT buffers of one computation.
struct Work {
    input: Vec<f64>,
    spectrum: Vec<realfft::num_complex::Complex<f64>>,
    scratch: Vec<realfft::num_complex::Complex<f64>>,
    mags: Vec<f64>,
}

impl Work {
    fn new(m: &MelExtractor) -> Self {
        Self {
            input: m.fft.make_input_vec(),
            spectrum: m.fft.make_output_vec(),
            scratch: m.fft.make_scratch_vec(),
            mags: vec![0.0; N_STFT],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sine_lands_in_its_band() {
        // 1 kHz sine: the strongest band is the one whose centre is nearest 1 kHz.
        let pcm: Vec<f32> = (0..16_000)
            .map(|i| (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 16_000.0).sin() * 0.5)
            .collect();
        let mel = MelExtractor::new().compute(&pcm);
        let frames = MelExtractor::num_frames(pcm.len());
        assert_eq!(frames, 81);
        let t = 40;
        let best = (0..N_MELS).max_by(|&a, &b| mel[a * frames + t].total_cmp(&mel[b * frames + t])).unwrap();
        let (m_min, m_max) = (hz_to_mel(F_MIN), hz_to_mel(F_MAX));
        let centre = |b: usize| mel_to_hz(m_min + (m_max - m_min) * (b + 1) as f64 / (N_MELS + 1) as f64);
        let nearest = (0..N_MELS)
            .min_by(|&a, &b| (centre(a) - 1000.0).abs().total_cmp(&(centre(b) - 1000.0).abs()))
            .unwrap();
        assert!(best.abs_diff(nearest) <= 1, "best band {best}, nearest {nearest}");
    }

    #[test]
    fn streamed_columns_are_the_whole_signal_columns() {
        let pcm: Vec<f32> = (0..9000).map(|i| ((i * 7919 % 2003) as f32 / 1001.5 - 1.0) * 0.3).collect();
        let ex = MelExtractor::new();
        let whole = ex.compute(&pcm);
        let frames = MelExtractor::num_frames(pcm.len());
        let check = |cols: &[[f32; N_MELS]], t0: usize| {
            for (k, col) in cols.iter().enumerate() {
                for b in 0..N_MELS {
                    assert_eq!(col[b].to_bits(), whole[b * frames + t0 + k].to_bits(), "t {} b {b}", t0 + k);
                }
            }
        };
        // From the start (reflected at 0), and from a later sample with only what is needed.
        check(&ex.columns(&pcm[..3000], 0, 0, 13), 0);
        check(&ex.columns(&pcm[4000..8000], 4000, 22, 38), 22);
    }

    #[test]
    fn silence_is_the_floor() {
        let mel = MelExtractor::new().compute(&[0.0; 3200]);
        // 20·log10(1e-5) − 20 = −120 → 8·(−20)/100 − 4 = −5.6 → clipped to −4.
        assert!(mel.iter().all(|&v| v == -4.0));
        assert_eq!(MelExtractor::new().chunk(&[0.0; 3200]).len(), N_MELS * crate::MEL_WINDOW);
    }

    #[test]
    fn summing_each_band_over_its_support_gives_the_dense_bits() {
        let ex = MelExtractor::new();
        // Magnitudes of every size, as a spectrum has.
        let mags: Vec<f64> =
            (0..N_STFT).map(|k| ((k * 7919) % 1000) as f64 * 1e-3 + 1e-9 * k as f64).collect();
        for b in 0..N_MELS {
            let row = &ex.filterbank[b * N_STFT..(b + 1) * N_STFT];
            let dense: f64 = row.iter().zip(&mags).map(|(w, m)| w * m).sum();
            let band = ex.support[b].clone();
            let sparse: f64 = row[band.clone()].iter().zip(&mags[band]).map(|(w, m)| w * m).sum();
            assert_eq!(dense.to_bits(), sparse.to_bits(), "band {b}");
        }
    }
}
