//! The batch stream over real shards: model-ready shapes, about half positives, same seed →
//! same batches.

use nets::model::Preset;
use trainer::data::{assemble, raw_batches, StreamConfig};

#[test]
fn stream_is_deterministic_and_model_ready() {
    let dir = tempfile::tempdir().unwrap();
    let shards = dir.path().join("shards");
    if lipsync_tests::grid_shards(&shards).is_none() {
        return;
    }
    let stream = |seed| StreamConfig {
        shards: shards.clone(),
        split: "test".into(),
        batch: 32,
        buffer_utts: 4,
        windows_per_utt: 8,
        prefetch: 2,
        seed,
    };
    let take = |seed| {
        let rx = raw_batches(&stream(seed)).unwrap();
        (0..5).map(|_| rx.recv().unwrap().unwrap()).collect::<Vec<_>>()
    };
    let (a, b, c) = (take(4), take(4), take(5));
    assert_eq!(a, b, "same seed, same batches");
    assert_ne!(a, c);
    let conv = Preset::Mtdvocalist.config().input;
    let batch = assemble(&a[0], &conv);
    assert_eq!(batch.frames.len(), 32 * 15 * 48 * 96);
    assert_eq!(batch.mels.len(), 32 * 80 * 16);
    assert!(batch.mels.iter().all(|v| (-4.0..=4.0).contains(v)));
    let pos: f32 = a.iter().flatten().map(|s| s.label).sum();
    assert!((40.0..=120.0).contains(&pos), "{pos} positives of 160");
    // An empty split is a clear error.
    let mut bad = stream(1);
    bad.split = "val".into();
    let err = raw_batches(&bad).err().unwrap().to_string();
    assert!(err.contains("no shards of split \"val\""), "{err}");
}
