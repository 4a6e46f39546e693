//! Shard round trip: write → read → identical values, streaming and by id.

use features::N_MELS;
use shards::{FaceBox, ShardReader, ShardWriter, Split, Utterance, WriterOptions};

fn utterance(i: u32, frames: u32) -> Utterance {
    let mut x = 0x9E37_79B9u32.wrapping_mul(i + 1);
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x
    };
    let samples = frames as usize * 640 + 123;
    let mel_frames = 1 + samples as u32 / 200;
    Utterance {
        utt_id: format!("600000{i:04}/{:05}", i + 1),
        split: Split::ALL[i as usize % 4],
        source_path: format!("main/600000{i:04}/{:05}.mp4", i + 1),
        source_sha256: format!("{:064x}", i),
        transcript: format!("HELLO WORLD {i} ünïcode"),
        fps: 25,
        num_frames: frames,
        frames: (0..frames as usize * Utterance::FRAME_BYTES).map(|_| next() as u8).collect(),
        face_boxes: (0..frames)
            .map(|t| FaceBox { x: t as f32, y: 2.5, w: 40.0, h: 41.0, score: next() as f32 / 1e9 })
            .collect(),
        face_found: (0..frames).map(|t| t % 7 != 3).collect(),
        sample_rate: 16_000,
        pcm: (0..samples).map(|_| next() as i16).collect(),
        mel: (0..N_MELS * mel_frames as usize)
            .map(|_| (next() as f32 / u32::MAX as f32) * 8.0 - 4.0)
            .collect(),
        mel_frames,
    }
}

#[test]
fn write_read_identical() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test-00000.parquet");
    let utts: Vec<Utterance> = (0..7).map(|i| utterance(i, 5 + i * 3)).collect();
    let opts = WriterOptions { rows_per_group: 3, ..Default::default() };
    let mut w = ShardWriter::create(&path, r#"{"k":1}"#, &opts).unwrap();
    for u in &utts {
        w.write(u.clone()).unwrap();
    }
    // Nothing visible until finish.
    assert!(!path.exists());
    assert_eq!(w.finish().unwrap(), path);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temp file left behind");

    let mut r = ShardReader::open(&path).unwrap();
    assert_eq!(r.num_rows(), 7);
    assert_eq!(r.num_row_groups(), 3); // 3 + 3 + 1
    assert_eq!(r.params_json(), Some(r#"{"k":1}"#));
    let back: Vec<Utterance> = r.iter().collect::<Result<_, _>>().unwrap();
    assert_eq!(back, utts);
    assert_eq!(r.get("6000000005/00006").unwrap(), utts[5]);
    assert_eq!(r.index().unwrap()["6000000005/00006"].row_group, 1);
    assert!(matches!(r.get("nope/00001"), Err(shards::Error::NotFound { .. })));
}

#[test]
fn abandoned_writer_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.parquet");
    let mut w = ShardWriter::create(&path, "{}", &WriterOptions::default()).unwrap();
    w.write(utterance(0, 6)).unwrap();
    drop(w);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn inconsistent_utterance_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = ShardWriter::create(&dir.path().join("b.parquet"), "{}", &WriterOptions::default()).unwrap();
    let mut u = utterance(1, 6);
    u.frames.pop();
    let err = w.write(u).unwrap_err().to_string();
    assert!(err.contains("frames hold"), "{err}");
}

#[test]
fn not_a_shard_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("junk.parquet");
    std::fs::write(&path, b"definitely not parquet").unwrap();
    let err = ShardReader::open(&path).err().unwrap().to_string();
    assert!(err.contains("junk.parquet") && err.contains("not a readable Parquet shard"), "{err}");
}
