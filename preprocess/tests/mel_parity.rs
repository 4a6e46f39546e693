//! Mel parity with the reference pipeline on real speech (../shared/golden/speech_librivox_mel):
//! filterbank within 1e-6, whole-utterance and chunk mels within 1e-4.

use features::mel::mel_filterbank;
use features::{MelExtractor, CHUNK_SAMPLES, MEL_WINDOW, N_MELS, N_STFT};

/// (name, shape, values) of every tensor in the golden file.
type Named = (String, Vec<usize>, Vec<f32>);

fn load() -> Option<Vec<Named>> {
    let p = lipsync_tests::shared("golden/speech_librivox_mel.safetensors")?;
    let bytes = std::fs::read(&p).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    Some(
        st.tensors()
            .into_iter()
            .map(|(k, v)| {
                let data =
                    v.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
                (k, v.shape().to_vec(), data)
            })
            .collect(),
    )
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

#[test]
fn mel_matches_reference() {
    let Some(tensors) = load() else { return };
    let get = |k: &str| tensors.iter().find(|t| t.0 == k).unwrap_or_else(|| panic!("golden lacks {k}"));
    let fb: Vec<f32> = mel_filterbank().iter().map(|&v| v as f32).collect();
    let (_, shape, want_fb) = get("mel_filterbank");
    assert_eq!(shape, &vec![N_MELS, N_STFT]);
    let d = max_diff(&fb, want_fb);
    assert!(d <= 1e-6, "filterbank max |diff| {d}");

    let (_, _, pcm) = get("pcm");
    let ex = MelExtractor::new();
    let (_, shape, want) = get("mel_utterance");
    let mel = ex.compute(pcm);
    assert_eq!(shape, &vec![N_MELS, MelExtractor::num_frames(pcm.len())]);
    let d = max_diff(&mel, want);
    eprintln!("whole-utterance mel max |diff| = {d:e}");
    assert!(d <= 1e-4, "utterance mel max |diff| {d}");

    let mut chunks = 0;
    for (k, shape, want) in &tensors {
        let Some(f) = k.strip_prefix("mel_chunk_frame") else {
            continue;
        };
        let f: usize = f.parse().unwrap();
        assert_eq!(shape, &vec![N_MELS, MEL_WINDOW]);
        let got = ex.chunk(&pcm[640 * f..640 * f + CHUNK_SAMPLES]);
        let d = max_diff(&got, want);
        assert!(d <= 1e-4, "{k}: max |diff| {d}");
        chunks += 1;
    }
    assert!(chunks > 0, "golden file holds no chunk mels");
}
