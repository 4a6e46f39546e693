//! int16 PCM ↔ floats, as the reference reads 16-bit WAV (SPEC §1.3 step 1).

/// Full scale of int16 PCM: samples are divided by 2¹⁵.
pub const PCM_SCALE: f32 = 32768.0;

/// int16 PCM to floats in [−1, 1) (÷32768, as soundfile reads 16-bit WAV).
pub fn pcm_to_f32(pcm: &[i16]) -> Vec<f32> {
    pcm.iter().map(|&s| s as f32 / PCM_SCALE).collect()
}

/// A float sample back to int16: ×32768, rounded half away from zero, clamped to the int16 range.
pub fn f32_to_pcm(x: f32) -> i16 {
    (x * PCM_SCALE).round().clamp(-32768.0, 32767.0) as i16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_clamps() {
        let pcm = [i16::MIN, -1, 0, 1, i16::MAX];
        let f = pcm_to_f32(&pcm);
        assert_eq!(f[0], -1.0);
        assert_eq!(f.iter().map(|&x| f32_to_pcm(x)).collect::<Vec<_>>(), pcm);
        assert_eq!(f32_to_pcm(1.5), i16::MAX);
        assert_eq!(f32_to_pcm(-2.0), i16::MIN);
    }
}
