//! MFCCs exactly as SyncNet's reference computes them: `python_speech_features.mfcc(audio, 16000)`
//! with its defaults, on the int16 samples unscaled (`joonson/syncnet_python`,
//! `SyncNetInstance.evaluate`; `../shared/golden/syncnet/README.md` step 2).
//!
//! The steps, in the library's order and arithmetic (all f64):
//! 1. pre-emphasis `y[0] = x[0]`, `y[n] = x[n] − 0.97·x[n−1]`;
//! 2. framing: 400-sample frames (25 ms, `round_half_up`) every 160 samples (10 ms),
//!    `1 + ceil((len − 400) / 160)` frames (one if the signal is shorter), the tail zero-padded;
//!    rectangular window;
//! 3. power spectrum `|rfft(frame, 512)|² / 512`; the frame energy is its sum (0 → machine ε);
//! 4. 26 triangular filters on the mel scale `2595·log10(1 + f/700)` from 0 Hz to 8 kHz, edges at
//!    FFT bins `floor(513·hz / 16000)`; filter energies (0 → machine ε), then `ln`;
//! 5. DCT-II with orthonormal scaling, first 13 coefficients;
//! 6. lifter `1 + 11·sin(π n / 22)`;
//! 7. coefficient 0 replaced by `ln(energy)`.

use realfft::RealFftPlanner;

/// Samples per frame: 25 ms at 16 kHz.
pub const WIN_LEN: usize = 400;
/// Samples between frames: 10 ms at 16 kHz.
pub const WIN_STEP: usize = 160;
/// FFT size.
pub const NFFT: usize = 512;
/// Mel filters.
pub const N_FILTERS: usize = 26;
/// Cepstra kept.
pub const N_CEPS: usize = 13;
/// Pre-emphasis coefficient.
pub const PREEMPH: f64 = 0.97;
/// Lifter parameter.
pub const LIFTER: f64 = 22.0;
/// MFCC frames per video frame at 25 fps (4 × 10 ms = 40 ms).
pub const FRAMES_PER_VIDEO_FRAME: usize = 4;
/// MFCC frames in one SyncNet audio window (5 video frames).
pub const WINDOW: usize = 20;

const SAMPLE_RATE: f64 = 16_000.0;
const N_BINS: usize = NFFT / 2 + 1;

fn hz2mel(hz: f64) -> f64 {
    2595.0 * (1.0 + hz / 700.0).log10()
}

fn mel2hz(mel: f64) -> f64 {
    700.0 * (10f64.powf(mel / 2595.0) - 1.0)
}

/// numpy's `linspace(start, stop, n)`: `start + i·step`, the last point exactly `stop`.
fn linspace(start: f64, stop: f64, n: usize) -> Vec<f64> {
    let step = (stop - start) / (n - 1) as f64;
    let mut v: Vec<f64> = (0..n).map(|i| start + i as f64 * step).collect();
    v[n - 1] = stop;
    v
}

/// The `[N_FILTERS][N_BINS]` filterbank of `get_filterbanks(26, 512, 16000, 0, 8000)`.
pub fn filterbank() -> Vec<[f64; N_BINS]> {
    let points = linspace(hz2mel(0.0), hz2mel(SAMPLE_RATE / 2.0), N_FILTERS + 2);
    let bin: Vec<f64> =
        points.iter().map(|&m| ((NFFT + 1) as f64 * mel2hz(m) / SAMPLE_RATE).floor()).collect();
    let mut fb = vec![[0.0; N_BINS]; N_FILTERS];
    for (j, row) in fb.iter_mut().enumerate() {
        let (lo, mid, hi) = (bin[j] as usize, bin[j + 1] as usize, bin[j + 2] as usize);
        for (i, w) in row.iter_mut().enumerate().take(mid).skip(lo) {
            *w = (i as f64 - bin[j]) / (bin[j + 1] - bin[j]);
        }
        for (i, w) in row.iter_mut().enumerate().take(hi).skip(mid) {
            *w = (bin[j + 2] - i as f64) / (bin[j + 2] - bin[j + 1]);
        }
    }
    fb
}

/// Number of MFCC frames for `samples` samples.
pub fn num_frames(samples: usize) -> usize {
    if samples <= WIN_LEN {
        1
    } else {
        1 + (samples - WIN_LEN).div_ceil(WIN_STEP)
    }
}

/// `python_speech_features.mfcc(pcm, 16000)`: returns `[frames][13]`.
pub fn mfcc(pcm: &[i16]) -> Vec<[f64; N_CEPS]> {
    let n = pcm.len();
    let frames = num_frames(n);
    let padlen = (frames - 1) * WIN_STEP + WIN_LEN;
    let mut signal = vec![0.0f64; padlen.max(n)];
    for (i, s) in signal.iter_mut().take(n).enumerate() {
        *s = if i == 0 { pcm[0] as f64 } else { pcm[i] as f64 - PREEMPH * pcm[i - 1] as f64 };
    }
    let fb = filterbank();
    let fft = RealFftPlanner::<f64>::new().plan_fft_forward(NFFT);
    let mut input = fft.make_input_vec();
    let mut spectrum = fft.make_output_vec();
    let mut scratch = fft.make_scratch_vec();
    let lift: Vec<f64> = (0..N_CEPS)
        .map(|k| 1.0 + (LIFTER / 2.0) * (std::f64::consts::PI * k as f64 / LIFTER).sin())
        .collect();
    // DCT-II, orthonormal: sqrt(1/N) for k = 0, sqrt(2/N) otherwise.
    let nf = N_FILTERS as f64;
    let dct: Vec<[f64; N_FILTERS]> = (0..N_CEPS)
        .map(|k| {
            let scale = if k == 0 { (1.0 / nf).sqrt() } else { (2.0 / nf).sqrt() };
            let mut row = [0.0; N_FILTERS];
            for (m, r) in row.iter_mut().enumerate() {
                *r = scale * (std::f64::consts::PI * k as f64 * (2 * m + 1) as f64 / (2.0 * nf)).cos();
            }
            row
        })
        .collect();
    let mut out = Vec::with_capacity(frames);
    let mut pspec = [0.0f64; N_BINS];
    for f in 0..frames {
        input.fill(0.0);
        input[..WIN_LEN].copy_from_slice(&signal[f * WIN_STEP..f * WIN_STEP + WIN_LEN]);
        fft.process_with_scratch(&mut input, &mut spectrum, &mut scratch).expect("fixed FFT sizes");
        for (p, c) in pspec.iter_mut().zip(&spectrum) {
            let mag = c.re.hypot(c.im);
            *p = 1.0 / NFFT as f64 * (mag * mag);
        }
        let energy = match crate::numpy::pairwise_sum(&pspec) {
            0.0 => f64::EPSILON,
            e => e,
        };
        let mut logfeat = [0.0f64; N_FILTERS];
        for (l, row) in logfeat.iter_mut().zip(&fb) {
            let e: f64 = pspec.iter().zip(row).map(|(p, w)| p * w).sum();
            *l = if e == 0.0 { f64::EPSILON } else { e }.ln();
        }
        let mut ceps = [0.0f64; N_CEPS];
        for (k, c) in ceps.iter_mut().enumerate() {
            let s: f64 = logfeat.iter().zip(&dct[k]).map(|(x, w)| x * w).sum();
            *c = lift[k] * s;
        }
        ceps[0] = energy.ln();
        out.push(ceps);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_count_follows_the_library() {
        assert_eq!(num_frames(100), 1);
        assert_eq!(num_frames(400), 1);
        assert_eq!(num_frames(401), 2);
        assert_eq!(num_frames(48_000), 299);
    }

    #[test]
    fn filterbank_edges_are_fft_bins() {
        let fb = filterbank();
        // The first filter starts at bin 0 and peaks at its upper edge bin with weight 1.
        assert_eq!(fb[0][0], 0.0);
        let peak = fb[0].iter().cloned().fold(0.0, f64::max);
        assert_eq!(peak, 1.0);
        // The last filter ends below the Nyquist bin (floor(513·8000/16000) = 256).
        assert_eq!(fb[N_FILTERS - 1][256], 0.0);
    }

    #[test]
    fn silence_gives_machine_epsilon_logs() {
        let c = mfcc(&[0i16; 1000]);
        assert_eq!(c.len(), num_frames(1000));
        assert_eq!(c[0][0], f64::EPSILON.ln());
    }
}
