//! The default detection (every 5th frame at half resolution, interpolated, with full-resolution
//! fallback) stays within a stated tolerance of per-frame full-resolution detection on the GRID
//! clips: box centres within 0.15 box widths, box sizes within 15 %, a face in every frame.

mod common;

use common::{manifest, preprocess, shared};
use shards::{ShardReader, Utterance};

fn rows(dir: &std::path::Path) -> Vec<Utterance> {
    let m = manifest(dir);
    m.shards
        .iter()
        .flat_map(|s| {
            ShardReader::open(&dir.join(&s.file)).unwrap().iter().map(|u| u.unwrap()).collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn sparse_detection_tracks_per_frame_detection() {
    let Some(root) = shared("grid_samples/lrs2_layout") else { return };
    let dir = tempfile::tempdir().unwrap();
    let (full, fast) = (dir.path().join("full"), dir.path().join("fast"));
    let root = root.to_str().unwrap();
    preprocess(&[
        "run",
        "--quiet",
        "--lrs2-root",
        root,
        "--splits",
        "test",
        "--out",
        full.to_str().unwrap(),
        "--detect-every",
        "1",
        "--detect-downscale",
        "1",
    ]);
    preprocess(&["run", "--quiet", "--lrs2-root", root, "--splits", "test", "--out", fast.to_str().unwrap()]);
    let (a, b) = (rows(&full), rows(&fast));
    assert_eq!(a.len(), 7);
    for (x, y) in a.iter().zip(&b) {
        assert!(y.face_found.iter().all(|f| *f), "{}: frame without a face", y.utt_id);
        for (p, q) in x.face_boxes.iter().zip(&y.face_boxes) {
            let dc = ((p.x + p.w / 2.0) - (q.x + q.w / 2.0))
                .abs()
                .max(((p.y + p.h / 2.0) - (q.y + q.h / 2.0)).abs());
            assert!(dc <= 0.15 * p.w, "{}: centre moved {dc:.1} px for a {:.0} px box", x.utt_id, p.w);
            assert!((q.w / p.w - 1.0).abs() <= 0.15, "{}: size {:.1} vs {:.1}", x.utt_id, q.w, p.w);
        }
    }
}
