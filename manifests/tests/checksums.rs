//! A shard set described by a manifest; corruption is caught and names the file.

use manifests::{Error, Manifest, ShardEntry, SkippedItem, MANIFEST_FILE};
use shards::{FaceBox, ShardWriter, Split, Utterance, WriterOptions};

fn tiny(id: &str) -> Utterance {
    Utterance {
        utt_id: id.into(),
        split: Split::Test,
        source_path: format!("main/{id}.mp4"),
        source_sha256: "0".repeat(64),
        transcript: "HI".into(),
        fps: 25,
        num_frames: 6,
        frames: vec![7; 6 * Utterance::FRAME_BYTES],
        face_boxes: vec![FaceBox::default(); 6],
        face_found: vec![true; 6],
        sample_rate: 16_000,
        pcm: vec![1; 3840],
        mel: vec![0.5; 80 * 20],
        mel_frames: 20,
    }
}

fn shard_set(dir: &std::path::Path) -> Manifest {
    let mut w =
        ShardWriter::create(&dir.join("test-00000.parquet"), "{}", &WriterOptions::default()).unwrap();
    w.write(tiny("p1/00001")).unwrap();
    w.write(tiny("p1/00002")).unwrap();
    w.finish().unwrap();
    let mut m = Manifest::new("preprocess", "0.1.0", serde_json::json!({"fps": 25}));
    m.shards.push(ShardEntry::describe(dir, "test-00000.parquet", "test").unwrap());
    m.skipped.push(SkippedItem {
        utt_id: "p1/00003".into(),
        split: "test".into(),
        reason: "no audio stream".into(),
    });
    m.write(&dir.join(MANIFEST_FILE)).unwrap();
    m
}

#[test]
fn manifest_round_trip_and_verified_open() {
    let dir = tempfile::tempdir().unwrap();
    let m = shard_set(dir.path());
    let back = Manifest::read(&dir.path().join(MANIFEST_FILE)).unwrap();
    assert_eq!(back, m);
    assert_eq!(back.total_rows(), 2);
    assert_eq!(back.shards[0].utterances, vec!["p1/00001", "p1/00002"]);
    let r = back.open_shard(dir.path(), "test-00000.parquet").unwrap();
    assert_eq!(r.num_rows(), 2);
}

#[test]
fn corrupted_shard_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let m = shard_set(dir.path());
    let path = dir.path().join("test-00000.parquet");
    let mut bytes = std::fs::read(&path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xFF; // same size, one flipped byte
    std::fs::write(&path, &bytes).unwrap();
    let err = m.open_shard(dir.path(), "test-00000.parquet").err().unwrap();
    assert!(matches!(err, Error::Checksum { what: "sha256", .. }), "{err}");
    assert!(err.to_string().contains("test-00000.parquet"), "{err}");

    bytes.truncate(mid);
    std::fs::write(&path, &bytes).unwrap();
    let err = m.open_shard(dir.path(), "test-00000.parquet").err().unwrap();
    assert!(matches!(err, Error::Checksum { what: "size", .. }), "{err}");
}

#[test]
fn bad_manifest_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(MANIFEST_FILE);
    std::fs::write(&path, "{ not json").unwrap();
    let err = Manifest::read(&path).unwrap_err().to_string();
    assert!(err.contains("manifest.json") && err.contains("not a valid manifest"), "{err}");
}

/// Issue #20 point 5: a manifest naming `../x.parquet`, an absolute path or a device is refused
/// with a one-line reason instead of being followed (a device used to hang the reader).
#[test]
fn manifest_paths_are_confined_to_their_directory() {
    let dir = tempfile::tempdir().unwrap();
    let m = shard_set(dir.path());
    let outside = tempfile::tempdir().unwrap();
    std::fs::copy(dir.path().join("test-00000.parquet"), outside.path().join("x.parquet")).unwrap();
    let rel = format!("../{}/x.parquet", outside.path().file_name().unwrap().to_string_lossy());
    for name in [rel.as_str(), "/dev/zero", "/tmp/x.parquet", ".hidden.parquet", "test-00000.txt"] {
        let mut bad = m.clone();
        bad.shards[0].file = name.to_string();
        bad.write(&dir.path().join(MANIFEST_FILE)).unwrap();
        let e = Manifest::read(&dir.path().join(MANIFEST_FILE)).unwrap_err();
        assert!(matches!(e, Error::Index { .. }), "{name}: {e}");
        assert!(e.to_string().contains("may only name files beside it"), "{name}: {e}");
        assert!(Manifest::verify_shard(dir.path(), &bad.shards[0]).is_err(), "{name}");
    }
    // A link to a device beside the manifest is not a regular file either.
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("zero.parquet")).unwrap();
    let mut dev = m.shards[0].clone();
    dev.file = "zero.parquet".into();
    let e = Manifest::verify_shard(dir.path(), &dev).unwrap_err();
    assert!(e.to_string().contains("is not a regular file"), "{e}");
}
