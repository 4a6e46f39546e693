//! Window helpers shared by every stage (SPEC §1.4).
//!
//! One video frame is 16000 / 25 = 640 samples; a 5-frame window is 3200 samples = 0.2 s; hop 200
//! gives 80 mel frames per second, 3.2 per video frame, so a window spans 16 mel frames.

use features::{CHUNK_SAMPLES, MEL_WINDOW, N_MELS, SAMPLES_PER_FRAME, WINDOW_FRAMES};

use crate::Utterance;

/// The visual window at frame `v`: frames v..v+5 as (5, 48, 96, 3) RGB bytes, or None past the end.
pub fn visual_window(utt: &Utterance, v: usize) -> Option<&[u8]> {
    let end = v.checked_add(WINDOW_FRAMES)?;
    (end <= utt.num_frames as usize)
        .then(|| &utt.frames[v * Utterance::FRAME_BYTES..end * Utterance::FRAME_BYTES])
}

/// Whether every frame of the window at `v` has a face (the reference rejects windows with a
/// missing frame index, SPEC §1.1).
pub fn window_has_faces(utt: &Utterance, v: usize) -> bool {
    utt.face_found.get(v..v + WINDOW_FRAMES).is_some_and(|f| f.iter().all(|&x| x))
}

/// First sample of the audio chunk at frame `v` (training path, SPEC §1.4): 640·v.
pub fn audio_chunk_start(v: usize) -> usize {
    v * SAMPLES_PER_FRAME
}

/// The 3200-sample chunk `[640·v, 640·v + 3200)`, or None when it runs past the audio.
pub fn audio_chunk(pcm: &[i16], v: usize) -> Option<&[i16]> {
    let start = audio_chunk_start(v);
    pcm.get(start..start + CHUNK_SAMPLES)
}

/// Mel start index for video frame `v`: `int(80. * (v / 25.))`, i.e. ⌊3.2·v⌋ (`VL:test_lrs2.py:L160`).
/// Computed in f64 exactly as Python does it, so rounding matches for every v.
pub fn mel_window_start(v: usize) -> usize {
    (80.0 * (v as f64 / 25.0)) as usize
}

/// The 16-frame mel window at ⌊3.2·v⌋ as (80, 16) band-major values, or None past the end.
pub fn mel_window(mel: &[f32], mel_frames: usize, v: usize) -> Option<Vec<f32>> {
    let start = mel_window_start(v);
    if start + MEL_WINDOW > mel_frames || mel.len() != N_MELS * mel_frames {
        return None;
    }
    let mut out = Vec::with_capacity(N_MELS * MEL_WINDOW);
    for band in mel.chunks_exact(mel_frames) {
        out.extend_from_slice(&band[start..start + MEL_WINDOW]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mel_starts_match_spec_measurement() {
        // SPEC §1.4 [measured]: v = 0..10 → 0,3,6,9,12,16,19,22,25,28,32.
        let got: Vec<usize> = (0..=10).map(mel_window_start).collect();
        assert_eq!(got, vec![0, 3, 6, 9, 12, 16, 19, 22, 25, 28, 32]);
        // Hand-computed further out: 3.2·25 = 80, 3.2·31 = 99.2, 3.2·124 = 396.8.
        assert_eq!(mel_window_start(25), 80);
        assert_eq!(mel_window_start(31), 99);
        assert_eq!(mel_window_start(124), 396);
    }

    #[test]
    fn audio_chunks_are_640v() {
        let pcm: Vec<i16> = (0..8000).map(|i| i as i16).collect();
        assert_eq!(CHUNK_SAMPLES, 3200);
        let c = audio_chunk(&pcm, 3).unwrap();
        assert_eq!((c[0], c.len(), c[3199]), (1920, 3200, 5119));
        assert!(audio_chunk(&pcm, 8).is_none()); // 5120 + 3200 > 8000
        assert!(audio_chunk(&pcm, 7).is_some()); // 4480 + 3200 = 7680
    }

    #[test]
    fn mel_window_slices_every_band() {
        let frames = 40;
        let mel: Vec<f32> = (0..N_MELS * frames).map(|i| i as f32).collect();
        let w = mel_window(&mel, frames, 5).unwrap(); // start 16
        assert_eq!(w.len(), N_MELS * MEL_WINDOW);
        assert_eq!(w[0], 16.0);
        assert_eq!(w[15], 31.0);
        assert_eq!(w[16], 40.0 + 16.0); // band 1, frame 16
        assert!(mel_window(&mel, frames, 8).is_none()); // start 25, 25 + 16 > 40
    }
}
