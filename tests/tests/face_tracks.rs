//! Face tracks equal to syncnet_python's run_pipeline.py given the same detections (issue #31):
//! `tests/golden/face_tracks.json` holds seeded synthetic detections (two people, a head turn, a
//! duplicate box, a burst, a small face, a face that leaves and returns, shuffled within each
//! frame) and what the reference's own `track_shot` and `crop_video` made of them
//! (`scripts/goldens/face_tracks.py` runs them): the tracks and their interpolated boxes, the
//! median-filtered size and centre, and the sha256 of every 224 × 224 crop. All must be equal
//! bit for bit; the candidates the reference drops silently must be reported with their reason.

use media::resize::Image;
use media::tracks::{crop, smooth, tracks, Detection, Dropped, TrackParams};
use serde_json::Value;

fn golden() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("golden/face_tracks.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn f64s(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

/// The golden's synthetic BGR frame `f` (the formula in its `frame` entry).
fn frame(f: u64, width: usize, height: usize) -> Image {
    let mut data = Vec::with_capacity(width * height * 3);
    for y in 0..height as u64 {
        for x in 0..width as u64 {
            for c in 0..3u64 {
                let v = (x * 2654435761) ^ (y * 40503) ^ (c * 97) ^ (f * 131);
                data.push(((v >> 3) & 255) as u8);
            }
        }
    }
    Image { width, height, channels: 3, data }
}

#[test]
fn tracks_boxes_and_crops_equal_run_pipeline() {
    let g = golden();
    let p = &g["params"];
    let params = TrackParams {
        min_track: p["min_track"].as_u64().unwrap() as usize,
        num_failed_det: p["num_failed_det"].as_u64().unwrap() as usize,
        min_face_size: p["min_face_size"].as_f64().unwrap(),
        crop_scale: p["crop_scale"].as_f64().unwrap(),
        ..TrackParams::default()
    };
    let faces: Vec<Vec<Detection>> = g["faces"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(frame, dets)| {
            dets.as_array()
                .unwrap()
                .iter()
                .map(|d| {
                    let v = f64s(d);
                    Detection { frame, bbox: [v[0], v[1], v[2], v[3]], conf: v[4] }
                })
                .collect()
        })
        .collect();
    let shots: Vec<(usize, usize)> = g["shots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s[0].as_u64().unwrap() as usize, s[1].as_u64().unwrap() as usize))
        .collect();
    let (ours, dropped) = tracks(&shots, &faces, &params);
    let want = g["tracks"].as_array().unwrap();
    assert_eq!(ours.len(), want.len(), "tracks");
    let (w, h) =
        (g["frame"]["width"].as_u64().unwrap() as usize, g["frame"]["height"].as_u64().unwrap() as usize);
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    for (k, (t, r)) in ours.iter().zip(want).enumerate() {
        let frames: Vec<usize> =
            r["frames"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
        assert_eq!(t.frames, frames, "track {k}: frames");
        for (i, (b, rb)) in t.bboxes.iter().zip(r["bboxes"].as_array().unwrap()).enumerate() {
            assert_eq!(bits(b), bits(&f64s(rb)), "track {k}, frame {i}: box {b:?} vs {rb}");
        }
        let s = smooth(t, params.median_kernel);
        assert_eq!(bits(&s.s), bits(&f64s(&r["s"])), "track {k}: size");
        assert_eq!(bits(&s.x), bits(&f64s(&r["x"])), "track {k}: centre x");
        assert_eq!(bits(&s.y), bits(&f64s(&r["y"])), "track {k}: centre y");
        let hashes = r["crops_sha256"].as_array().unwrap();
        for (i, &f) in t.frames.iter().enumerate() {
            let img = frame(f as u64, w, h);
            let c = crop(&img, s.s[i], s.x[i], s.y[i], params.crop_scale).expect("a non-empty crop");
            assert_eq!(
                manifests::sha256_bytes(&c.data),
                hashes[i].as_str().unwrap(),
                "track {k}, frame {f}: crop"
            );
        }
    }
    // What the reference drops without a word, each with its reason here.
    assert!(dropped.contains(&Dropped::ShortShot { start: 200, end: 210 }), "{dropped:?}");
    assert!(dropped.contains(&Dropped::TooShort { first: 150, last: 184, detections: 35 }), "{dropped:?}");
    assert!(
        dropped
            .iter()
            .any(|d| matches!(d, Dropped::TooSmall { first: 210, mean_side, .. } if *mean_side < 100.0)),
        "{dropped:?}"
    );
}
