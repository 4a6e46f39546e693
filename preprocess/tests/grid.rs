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
    let sheet = [
        "inspect",
        "--shards",
        a.to_str().unwrap(),
        "--utt",
        "grid0001/00001",
        "--out",
        png.to_str().unwrap(),
    ];
    preprocess(&sheet);
    assert!(std::fs::metadata(&png).unwrap().len() > 10_000);
    // With the face boxes on the source frames: 75 frames, every 5th → 15 frames, 5 per row.
    let boxes = dir.path().join("boxes.png");
    let with_boxes = ["--boxes-out", boxes.to_str().unwrap(), "--lrs2-root", root.to_str().unwrap()];
    preprocess(&[&sheet[..], &with_boxes[..]].concat());
    let img = image::open(&boxes).unwrap().to_rgb8();
    let u = shard_rows(&a).into_iter().find(|u| u.utt_id == "grid0001/00001").unwrap();
    let (w, h) = (img.width() / 5 - 2, img.height() / 3 - 2);
    assert_eq!(img.height(), 3 * (h + 2), "15 frames in 3 rows of 5");
    // Frame 0's detector box is drawn in green where the row says it is.
    let b = &u.face_boxes[0];
    let (x, y) = ((b.x + b.w / 2.0).round() as u32 + 1, b.y.max(0.0).round() as u32 + 1);
    assert!(x < w && y < h);
    assert_eq!(img.get_pixel(x, y).0, preprocess::inspect::DETECTOR_COLOUR.0, "box top edge at ({x}, {y})");
    let yellow = img.pixels().filter(|p| p.0 == preprocess::inspect::CROP_COLOUR.0).count();
    assert!(yellow > 15 * 100, "the crop regions are drawn ({yellow} yellow pixels)");
    preprocess(&["verify", "--shards", a.to_str().unwrap()]);
}

/// The joint decode (one ffmpeg process for video and audio) gives exactly what the two separate
/// decoders give, on a GRID clip and on a 48 kHz stereo copy of it, without its fallback.
#[test]
fn joint_decode_equals_separate_decoders() {
    let Some(root) = shared("grid_samples/lrs2_layout") else {
        return;
    };
    let clip = root.join("mvlrs_v1/main/grid0001/00001.mp4");
    let dir = tempfile::tempdir().unwrap();
    let stereo = dir.path().join("stereo48k.mp4");
    common::ffmpeg(&[
        "-i",
        clip.to_str().unwrap(),
        "-c:v",
        "copy",
        "-c:a",
        "aac",
        "-ar",
        "48000",
        "-ac",
        "2",
        stereo.to_str().unwrap(),
    ]);
    for path in [clip, stereo] {
        let (v, a) =
            media::decode::decode_joint(&path, 0).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let v2 = media::decode::decode_video(&path).unwrap();
        let a2 = media::decode::decode_audio(&path, 0).unwrap();
        assert_eq!(
            (v.width, v.height, v.source_fps, v.frames.len()),
            (v2.width, v2.height, v2.source_fps, 75)
        );
        assert!(v.frames == v2.frames, "{}: frames differ", path.display());
        assert_eq!((a.sample_rate, a.channels), (a2.sample_rate, a2.channels));
        assert!(a.samples == a2.samples, "{}: samples differ", path.display());
    }
}
