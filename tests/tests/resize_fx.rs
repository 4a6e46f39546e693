//! `cv2.resize(frame, (0, 0), fx=0.25, fy=0.25)`, the scaling S3FD's `detect_faces` applies to every
//! frame in run_pipeline.py (issue #31), equal byte for byte: landscape and portrait 1080p, 720p,
//! and sizes that are not multiples of 4, where the sampling step (exactly 4) differs from a resize
//! to the rounded size. Values from `scripts/goldens/resize_fx.py` (opencv-python 4.14).

use media::resize::{opencv_linear_fx, Image};

const GOLDEN: [(usize, usize, usize, usize, &str); 5] = [
    (1920, 1080, 480, 270, "9b3b4fc3a56b6a942dd0d47182839c0245e5068f4afae2adbc098be0a809498f"),
    (1080, 1920, 270, 480, "a94a3254e05c4c8a5887de0f38ea5adefb03eaec4933756628a7f6cb03e60d19"),
    (1280, 720, 320, 180, "090ba87a77e72d8f9125e5f6aab4cbc73ebce054009986c2e403c9c7f6a4b621"),
    (642, 362, 160, 90, "2d1f4780487126f698b7c240cd65be69afad845c7d5677330e0393319ca8bcc8"),
    (333, 250, 83, 62, "269262e6931cdb036d971ae518ac13355d5b2c06bba401664d4fedf50d6feff3"),
];

fn frame(w: usize, h: usize) -> Image {
    let mut data = Vec::with_capacity(w * h * 3);
    for y in 0..h as u64 {
        for x in 0..w as u64 {
            for c in 0..3u64 {
                data.push((((x * 2654435761) ^ (y * 40503) ^ (c * 97)) >> 3 & 255) as u8);
            }
        }
    }
    Image { width: w, height: h, channels: 3, data }
}

#[test]
fn quarter_scale_equals_opencv() {
    for (w, h, ow, oh, sha) in GOLDEN {
        let r = opencv_linear_fx(&frame(w, h), 0.25);
        assert_eq!((r.width, r.height), (ow, oh), "{w}×{h}: size");
        assert_eq!(manifests::sha256_bytes(&r.data), sha, "{w}×{h}: bytes");
    }
}
