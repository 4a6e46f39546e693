//! Shot boundaries equal to PySceneDetect 0.5.1's ContentDetector, as run_pipeline.py's
//! scene_detect runs it (issue #31): `tests/golden/shots.json` holds what scenedetect's own
//! SceneManager, StatsManager and ContentDetector measured on synthetic clips
//! (`scripts/goldens/shots.py`): every frame's HSV deltas, the cuts (one suppressed by
//! `min_scene_len`) and the shots, at three widths and so three downscale factors. All equal here,
//! the deltas bit for bit (OpenCV's integer HSV, numpy's integer sums).

use media::resize::Image;
use media::shots::{downscale_factor, scenes, subsample, ContentDetector};
use serde_json::Value;

/// The golden's BGR frame `f` of scene `s` (the formula of `scripts/goldens/shots.py`).
fn frame(s: usize, f: usize, w: usize, h: usize) -> Image {
    let mut data = Vec::with_capacity(w * h * 3);
    for y in 0..h {
        for x in 0..w {
            data.push(((x * 3 / 5 + 2 * f + 70 * s) % 256) as u8);
            data.push(((y * 2 / 3 + 41 * s) % 256) as u8);
            data.push((((x + y) / 4 + f + 101 * s) % 256) as u8);
        }
    }
    Image { width: w, height: h, channels: 3, data }
}

#[test]
fn cuts_and_shots_equal_scenedetect_0_5_1() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("golden/shots.json");
    let g: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let clips = g["clips"].as_array().unwrap();
    assert_eq!(clips.len(), 3);
    for clip in clips {
        let name = clip["name"].as_str().unwrap();
        let (w, h) = (clip["width"].as_u64().unwrap() as usize, clip["height"].as_u64().unwrap() as usize);
        let k = downscale_factor(w);
        assert_eq!(k as u64, clip["downscale"].as_u64().unwrap(), "{name}: downscale");
        let mut det = ContentDetector::default();
        let (mut cuts, mut n) = (Vec::new(), 0);
        for (s, len) in clip["scenes"].as_array().unwrap().iter().enumerate() {
            for f in 0..len.as_u64().unwrap() as usize {
                let (cut, d) = det.process(n, &subsample(&frame(s, f, w, h), k));
                let want = &clip["metrics"][n];
                match d {
                    None => assert!(want.is_null(), "{name}: frame {n} has metrics there"),
                    Some([dh, ds, dv, avg]) => {
                        let m: Vec<f64> =
                            want.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
                        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                        assert_eq!(
                            bits(&[avg, dh, ds, dv]),
                            bits(&m),
                            "{name}: frame {n}: {:?} vs {m:?}",
                            [avg, dh, ds, dv]
                        );
                    }
                }
                cuts.extend(cut);
                n += 1;
            }
        }
        let want_cuts: Vec<usize> =
            clip["cuts"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
        assert_eq!(cuts, want_cuts, "{name}: cuts");
        let want_shots: Vec<(usize, usize)> = clip["shots"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (s[0].as_u64().unwrap() as usize, s[1].as_u64().unwrap() as usize))
            .collect();
        assert_eq!(scenes(&cuts, n), want_shots, "{name}: shots");
    }
}

#[test]
fn hsv_of_every_colour_equals_opencv() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("golden/shots.json");
    let g: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut hsv = Vec::with_capacity(3 << 24);
    for i in 0u32..1 << 24 {
        hsv.extend(media::shots::bgr_to_hsv((i & 255) as u8, (i >> 8 & 255) as u8, (i >> 16) as u8));
    }
    assert_eq!(manifests::sha256_bytes(&hsv), g["hsv_every_colour_sha256"].as_str().unwrap());
}
