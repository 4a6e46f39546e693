//! `preprocess run` on the real GRID clips (../shared/grid_samples/lrs2_layout): every clip
//! becomes a row of 75 frames with a face in each, a mel of 80 × 241; two runs are byte-identical.

mod common;

use common::{manifest, preprocess, shard_rows, shared};

#[test]
fn grid_clips_become_rows_and_runs_are_deterministic() {
    let Some(root) = shared("grid_samples/lrs2_layout") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    for out in [&a, &b] {
        common::run(&root, "test", out, &["--utts-per-shard", "4"]);
    }
    let (ma, mb) = (manifest(&a), manifest(&b));
    assert!(ma.skipped.is_empty(), "{:?}", ma.skipped);
    assert_eq!(ma.total_rows(), 7);
    // Determinism: same shards, byte for byte.
    let sums = |m: &manifests::Manifest| {
        m.shards.iter().map(|s| (s.file.clone(), s.sha256.clone())).collect::<Vec<_>>()
    };
    assert_eq!(sums(&ma), sums(&mb));
    for u in shard_rows(&a) {
        assert_eq!(u.num_frames, 75, "{}", u.utt_id);
        assert!(u.face_found.iter().all(|f| *f), "{}: a frame without a face", u.utt_id);
        assert_eq!((u.mel_frames, u.mel.len()), (241, 80 * 241), "{}", u.utt_id);
        assert_eq!(u.sample_rate, 16_000);
        assert!(u.transcript.chars().all(|c| c.is_ascii_uppercase() || c == ' ') && !u.transcript.is_empty());
    }
    // The contact sheet renders.
    let png = dir.path().join("sheet.png");
    preprocess(&[
        "inspect",
        "--shards",
        a.to_str().unwrap(),
        "--utt",
        "grid0001/00001",
        "--out",
        png.to_str().unwrap(),
    ]);
    assert!(std::fs::metadata(&png).unwrap().len() > 10_000);
    preprocess(&["verify", "--shards", a.to_str().unwrap()]);
}
