//! A shard written by the Rust code is readable by pyarrow without this code (SCHEMA.md holds).

use std::process::Command;

use shards::{FaceBox, ShardWriter, Split, Utterance, WriterOptions};

#[test]
fn pyarrow_reads_a_rust_shard() {
    let Some(python) = lipsync_tests::python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("val-00000.parquet");
    let frames = 7u32;
    let utt = Utterance {
        utt_id: "6300370419826092098/00004".into(),
        split: Split::Val,
        source_path: "main/6300370419826092098/00004.mp4".into(),
        source_sha256: "ab".repeat(32),
        transcript: "THE CAT SAT".into(),
        fps: 25,
        num_frames: frames,
        frames: (0..frames as usize * Utterance::FRAME_BYTES).map(|i| (i % 251) as u8).collect(),
        face_boxes: (0..frames)
            .map(|t| FaceBox { x: t as f32, y: 1.0, w: 2.0, h: 3.0, score: 9.5 })
            .collect(),
        face_found: (0..frames).map(|t| t != 2).collect(),
        sample_rate: 16_000,
        pcm: (0..frames as i32 * 640).map(|i| (i * 37 % 65_536 - 32_768) as i16).collect(),
        mel: (0..80 * 36).map(|i| i as f32 * 0.25 - 100.0).collect(),
        mel_frames: 36,
    };
    let mut w = ShardWriter::create(&path, r#"{"fps":25}"#, &WriterOptions::default()).unwrap();
    w.write(utt.clone()).unwrap();
    w.finish().unwrap();

    // The reader follows SCHEMA.md only: reshape by the documented shapes and compare.
    let script = r#"
import json, sys
import numpy as np, pyarrow.parquet as pq
f = pq.ParquetFile(sys.argv[1])
meta = {k.decode(): v.decode() for k, v in f.schema_arrow.metadata.items()}
t = f.read().to_pylist()[0]
n = t["num_frames"]
frames = np.frombuffer(t["frames"], dtype=np.uint8).reshape(n, t["crop_height"], t["crop_width"], 3)
mel = np.asarray(t["mel"], dtype=np.float32).reshape(t["mel_bins"], t["mel_frames"])
pcm = np.asarray(t["pcm"], dtype=np.int16)
print(json.dumps({
  "schema_version": meta["lipsync.schema_version"], "params": json.loads(meta["lipsync.params"]),
  "utt_id": t["utt_id"], "split": t["split"], "n": n, "fps": t["fps"], "sr": t["sample_rate"],
  "frame_3_px": frames[3, 10, 20].tolist(), "frames_sum": int(frames.astype(np.int64).sum()),
  "box_4": t["face_boxes"][4], "face_found": t["face_found"],
  "pcm_len": len(pcm), "pcm_100": int(pcm[100]), "mel_shape": list(mel.shape), "mel_79_35": float(mel[79, 35]),
}))
"#;
    let out = Command::new(&python).arg("-c").arg(script).arg(&path).output().unwrap();
    assert!(out.status.success(), "pyarrow failed: {}", String::from_utf8_lossy(&out.stderr));
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();

    let px = |t: usize, y: usize, x: usize| -> Vec<u8> {
        let o = t * Utterance::FRAME_BYTES + (y * 96 + x) * 3;
        utt.frames[o..o + 3].to_vec()
    };
    let frames_sum: i64 = utt.frames.iter().map(|&b| b as i64).sum();
    assert_eq!(got["schema_version"], "1");
    assert_eq!(got["params"]["fps"], 25);
    assert_eq!(got["utt_id"], utt.utt_id);
    assert_eq!(got["split"], "val");
    assert_eq!(
        (got["n"].as_u64(), got["fps"].as_u64(), got["sr"].as_u64()),
        (Some(7), Some(25), Some(16_000))
    );
    assert_eq!(got["frame_3_px"], serde_json::json!(px(3, 10, 20)));
    assert_eq!(got["frames_sum"].as_i64(), Some(frames_sum));
    assert_eq!(got["box_4"], serde_json::json!([4.0, 1.0, 2.0, 3.0, 9.5]));
    assert_eq!(got["face_found"], serde_json::json!(utt.face_found));
    assert_eq!(got["pcm_len"].as_u64(), Some(utt.pcm.len() as u64));
    assert_eq!(got["pcm_100"].as_i64(), Some(utt.pcm[100] as i64));
    assert_eq!(got["mel_shape"], serde_json::json!([80, 36]));
    assert_eq!(got["mel_79_35"].as_f64(), Some(utt.mel[79 * 36 + 35] as f64));
}
