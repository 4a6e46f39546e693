//! The batch stream over real shards: model-ready shapes, about half positives, same seed →
//! same batches.

use std::path::PathBuf;

use preprocess::layout::Task;
use preprocess::run::{run, RunConfig};
use shards::Split;
use trainer::data::{assemble, raw_batches, StreamConfig};
use trainer::model::Preset;

#[test]
fn stream_is_deterministic_and_model_ready() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/grid_samples/lrs2_layout");
    if !root.is_dir() {
        eprintln!("skipping: {} is absent", root.display());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let shards = dir.path().join("shards");
    let cfg = RunConfig {
        lrs2_root: root,
        splits: vec![Split::Test],
        out: shards.clone(),
        jobs: 2,
        utts_per_shard: 4,
        task: Task { index: 0, count: 1 },
        resume: false,
        quiet: true,
        params: Default::default(),
    };
    run(&cfg, &|_| {}).unwrap();
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
    let err = raw_batches(&bad).err().unwrap();
    assert!(err.contains("no shards of split \"val\""), "{err}");
}
