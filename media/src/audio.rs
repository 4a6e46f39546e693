//! Audio to the shard convention: mono int16 at 16 kHz (SPEC §1.1 [derived]).
//!
//! 16 kHz mono input passes through untouched (bit-exact); anything else is downmixed (mean of
//! channels) and resampled with rubato's FFT resampler, whose output is aligned with the input
//! (startup delay trimmed), then rounded back to int16.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

use features::{f32_to_pcm, PCM_SCALE, SAMPLE_RATE};

use crate::decode::Audio;

/// Why audio could not be brought to 16 kHz (rubato's words).
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    /// No resampler for this rate.
    #[error("cannot resample {rate} Hz: {detail}")]
    Rate {
        /// Source rate.
        rate: u32,
        /// What rubato said.
        detail: String,
    },
    /// Resampling itself failed.
    #[error("resampling failed: {0}")]
    Failed(String),
}

/// Converts decoded audio to 16 kHz mono int16.
pub fn to_16k_mono(audio: &Audio) -> Result<Vec<i16>, AudioError> {
    if audio.sample_rate == SAMPLE_RATE && audio.channels == 1 {
        return Ok(audio.samples.clone());
    }
    let ch = audio.channels.max(1);
    let mono: Vec<f32> = audio
        .samples
        .chunks_exact(ch)
        .map(|frame| frame.iter().map(|&s| s as f32).sum::<f32>() / (ch as f32 * PCM_SCALE))
        .collect();
    let resampled = if audio.sample_rate == SAMPLE_RATE { mono } else { resample(&mono, audio.sample_rate)? };
    Ok(resampled.iter().map(|&x| f32_to_pcm(x)).collect())
}

/// Resamples mono f32 from `rate` to 16 kHz; output length is ⌊n·16000/rate⌉-ish as rubato gives.
fn resample(mono: &[f32], rate: u32) -> Result<Vec<f32>, AudioError> {
    if mono.is_empty() {
        return Ok(Vec::new());
    }
    let mut r = Fft::<f32>::new(rate as usize, SAMPLE_RATE as usize, 1024, 1, FixedSync::Both)
        .map_err(|e| AudioError::Rate { rate, detail: e.to_string() })?;
    let input = InterleavedSlice::new(mono, 1, mono.len()).map_err(|e| AudioError::Failed(e.to_string()))?;
    let out = r.process_all(&input, mono.len(), None).map_err(|e| AudioError::Failed(e.to_string()))?;
    Ok(out.take_data())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mono_16k_is_untouched() {
        let a = Audio {
            sample_rate: 16_000,
            channels: 1,
            samples: vec![1, -2, 3, i16::MIN, i16::MAX],
            streams: 1,
        };
        assert_eq!(to_16k_mono(&a).unwrap(), a.samples);
    }

    #[test]
    fn stereo_48k_becomes_16k_mono_with_the_tone() {
        // 1 s of a 440 Hz tone, stereo, 48 kHz.
        let n = 48_000;
        let samples: Vec<i16> = (0..n)
            .flat_map(|i| {
                let v = ((2.0 * std::f32::consts::PI * 440.0 * i as f32 / 48_000.0).sin() * 10_000.0) as i16;
                [v, v]
            })
            .collect();
        let out = to_16k_mono(&Audio { sample_rate: 48_000, channels: 2, samples, streams: 1 }).unwrap();
        assert!((out.len() as i64 - 16_000).abs() <= 2, "{} samples", out.len());
        // Compare with the ideal 16 kHz tone away from the edges.
        let err = (1000..15_000)
            .map(|i| {
                let want = (2.0 * std::f32::consts::PI * 440.0 * i as f32 / 16_000.0).sin() * 10_000.0;
                (out[i] as f32 - want).abs()
            })
            .fold(0.0, f32::max);
        assert!(err < 60.0, "max error {err}");
    }
}
