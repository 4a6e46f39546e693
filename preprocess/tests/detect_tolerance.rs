//! The default detection (every 5th frame at half resolution, interpolated, with full-resolution
//! fallback) stays within a stated tolerance of per-frame full-resolution detection on the GRID
//! clips: box centres within 0.15 box widths, box sizes within 15 %, a face in every frame.

mod common;

use common::{shard_rows, shared};

#[test]
fn sparse_detection_tracks_per_frame_detection() {
    let Some(root) = shared("grid_samples/lrs2_layout") else { return };
    let dir = tempfile::tempdir().unwrap();
    let (full, fast) = (dir.path().join("full"), dir.path().join("fast"));
    common::run(&root, "test", &full, &["--detect-every", "1", "--detect-downscale", "1"]);
    common::run(&root, "test", &fast, &[]);
    let (a, b) = (shard_rows(&full), shard_rows(&fast));
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
