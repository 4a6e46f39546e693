//! Offset-based pair sampling (SPEC §4.1): a random utterance, a random 5-frame window whose
//! frames all have a face, a fair coin for the label; negatives take the audio of another start
//! in the same utterance (offset ≠ 0) with the reference's silence guard.

use features::WINDOW_FRAMES;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use shards::window::{audio_chunk, audio_chunk_start, visual_window, window_has_faces};
use shards::Utterance;

/// The reference skips videos with 25 frames or fewer (`tot_num_frames = 25`).
pub const MIN_FRAMES: usize = 26;
/// Silence threshold on the RMS of the float audio.
pub const SILENCE_RMS: f32 = 0.01;
/// Negative redraws before a silent sample is abandoned.
pub const SILENCE_RETRIES: usize = 10;

/// One training pair.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Index of the utterance in the pool.
    pub utt: usize,
    /// First frame of the visual window.
    pub frame: usize,
    /// First sample of the audio chunk.
    pub audio_start: usize,
    /// 1 = in sync, 0 = shifted.
    pub label: f32,
    /// (5, 48, 96, 3) RGB crops.
    pub frames: Vec<u8>,
    /// 3200 samples.
    pub audio: Vec<i16>,
}

/// RMS of int16 audio as floats in [−1, 1].
pub fn rms(pcm: &[i16]) -> f32 {
    let s: f64 = pcm.iter().map(|&v| (v as f64 / 32768.0).powi(2)).sum();
    (s / pcm.len().max(1) as f64).sqrt() as f32
}

/// Whether an utterance can give samples at all.
pub fn usable(u: &Utterance) -> bool {
    u.num_frames as usize >= MIN_FRAMES
}

/// Draws one sample from `pool` (utterances already filtered with [`usable`]); `None` only when
/// `max_tries` draws all failed (a pool without valid windows).
pub fn draw(pool: &[Utterance], rng: &mut ChaCha8Rng, max_tries: usize) -> Option<Sample> {
    if pool.is_empty() {
        return None;
    }
    for _ in 0..max_tries {
        let ui = rng.random_range(0..pool.len());
        let u = &pool[ui];
        let n = u.num_frames as usize;
        let last = n - WINDOW_FRAMES; // randint(0, n − 5), inclusive
        let pos = rng.random_range(0..=last);
        if !window_has_faces(u, pos) {
            continue;
        }
        let Some(pos_audio) = audio_chunk(&u.pcm, pos) else { continue };
        let positive = rng.random_bool(0.5);
        let start = if positive {
            Some(pos)
        } else {
            let pos_loud = rms(pos_audio) > SILENCE_RMS;
            let mut chosen = None;
            for _ in 0..=SILENCE_RETRIES {
                let neg = rng.random_range(0..=last);
                if neg == pos {
                    continue;
                }
                let Some(chunk) = audio_chunk(&u.pcm, neg) else { continue };
                if pos_loud || rms(chunk) > SILENCE_RMS {
                    chosen = Some(neg);
                    break;
                }
            }
            chosen
        };
        let Some(a) = start else { continue }; // abandoned: draw again
        return Some(Sample {
            utt: ui,
            frame: pos,
            audio_start: audio_chunk_start(a),
            label: if positive { 1.0 } else { 0.0 },
            frames: visual_window(u, pos).expect("pos ≤ n − 5").to_vec(),
            audio: audio_chunk(&u.pcm, a).expect("checked above").to_vec(),
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use shards::{FaceBox, Split};

    fn utt(frames: usize, faceless: &[usize], silent: bool) -> Utterance {
        let samples = frames * 640;
        Utterance {
            utt_id: "p/00001".into(),
            split: Split::Pretrain,
            source_path: String::new(),
            source_sha256: String::new(),
            transcript: String::new(),
            fps: 25,
            num_frames: frames as u32,
            frames: (0..frames * Utterance::FRAME_BYTES)
                .map(|i| (i / Utterance::FRAME_BYTES) as u8)
                .collect(),
            face_boxes: vec![FaceBox::default(); frames],
            face_found: (0..frames).map(|t| !faceless.contains(&t)).collect(),
            sample_rate: 16_000,
            // Sample i encodes its own index, so chunks identify their start; loud unless silent.
            pcm: (0..samples).map(|i| if silent { 0 } else { ((i % 30_000) + 1000) as i16 }).collect(),
            mel: vec![0.0; 80 * (1 + samples / 200)],
            mel_frames: (1 + samples / 200) as u32,
        }
    }

    #[test]
    fn positives_align_and_negatives_shift_within_the_utterance() {
        let pool = vec![utt(40, &[], false), utt(60, &[], false)];
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut positives = 0;
        for _ in 0..10_000 {
            let s = draw(&pool, &mut rng, 100).unwrap();
            assert_eq!(s.frames[0] as usize, s.frame, "frames are the window at `frame`");
            assert_eq!(s.audio.len(), 3200);
            assert_eq!(
                s.audio[0] as usize,
                (s.audio_start % 30_000) + 1000,
                "audio comes from the same utterance"
            );
            if s.label == 1.0 {
                assert_eq!(s.audio_start, 640 * s.frame);
                positives += 1;
            } else {
                assert_ne!(s.audio_start, 640 * s.frame, "offset 0 is never a negative");
                assert_eq!(s.audio_start % 640, 0);
            }
        }
        assert!((4_700..=5_300).contains(&positives), "{positives} positives of 10000");
    }

    #[test]
    fn windows_never_contain_a_faceless_frame() {
        let pool = vec![utt(40, &[7, 20, 33], false)];
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..2_000 {
            let s = draw(&pool, &mut rng, 100).unwrap();
            assert!(![7, 20, 33].iter().any(|f| (s.frame..s.frame + 5).contains(f)), "window at {}", s.frame);
        }
    }

    #[test]
    fn silence_guard_and_determinism() {
        // All-silent audio: positives pass, negatives are always abandoned.
        let pool = vec![utt(40, &[], true)];
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for _ in 0..500 {
            assert_eq!(draw(&pool, &mut rng, 1000).unwrap().label, 1.0);
        }
        let pool = vec![utt(40, &[], false)];
        let run = |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            (0..50).map(|_| draw(&pool, &mut rng, 100).unwrap()).collect::<Vec<_>>()
        };
        assert_eq!(run(9), run(9));
        assert_ne!(run(9), run(10));
    }

    #[test]
    fn short_utterances_are_unusable() {
        assert!(!usable(&utt(25, &[], false)));
        assert!(usable(&utt(26, &[], false)));
    }
}
