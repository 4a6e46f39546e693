//! Mel parity through the whole `preprocess run`: the golden speech as the ALAC or PCM track of
//! an .mp4 with a face video gives the reference whole-utterance mel within 1e-4.

mod common;

use common::{ffmpeg, manifest, shard_rows, shared};

fn golden_mel() -> Option<Vec<f32>> {
    let p = shared("golden/speech_librivox_mel.safetensors")?;
    let bytes = std::fs::read(p).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let t = st.tensor("mel_utterance").unwrap();
    Some(t.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
}

#[test]
fn mel_through_the_pipeline_matches_reference() {
    let (Some(wav), Some(grid), Some(want)) = (
        shared("golden/speech_librivox.wav"),
        shared("grid_samples/lrs2_layout/mvlrs_v1/main/grid0004/00001.mp4"),
        golden_mel(),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (w, g) = (wav.to_str().unwrap(), grid.to_str().unwrap());
    let alac = dir.path().join("alac.mp4");
    let pcm = dir.path().join("pcm.mp4");
    let base = ["-i", g, "-i", w, "-map", "0:v:0", "-map", "1:a:0", "-c:v", "copy"];
    let mut a: Vec<&str> = base.to_vec();
    a.extend(["-c:a", "alac", alac.to_str().unwrap()]);
    ffmpeg(&a);
    let mut a: Vec<&str> = base.to_vec();
    a.extend(["-c:a", "pcm_s16le", "-f", "mov", pcm.to_str().unwrap()]);
    ffmpeg(&a);
    let root = dir.path().join("lrs2");
    common::layout(&root, "test", &[("speech/alac", alac.as_path()), ("speech/pcm", pcm.as_path())]);
    let out = dir.path().join("out");
    common::run(&root, "test", &out, &[]);
    let m = manifest(&out);
    assert!(m.skipped.is_empty(), "{:?}", m.skipped);
    let mut n = 0;
    for u in shard_rows(&out) {
        assert_eq!(u.pcm.len(), 47_840, "{}", u.utt_id);
        assert_eq!(u.mel.len(), want.len(), "{}", u.utt_id);
        let d = u.mel.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        assert!(d <= 1e-4, "{}: mel max |diff| {d}", u.utt_id);
        n += 1;
    }
    assert_eq!(n, 2);
}
