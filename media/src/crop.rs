//! Mouth crops: the (adjusted) face box → 96×96 → rows 48..95 → 48×96 RGB (SPEC §1.1–1.2).

use features::{CROP_HEIGHT, CROP_WIDTH, FACE_SIZE};
use image::imageops::{self, FilterType};
use image::{ImageBuffer, Rgb};
use serde::{Deserialize, Serialize};
use shards::FaceBox;

/// Maps a rustface box to an S3FD-like box. rustface's SeetaFace box is tighter than Wav2Lip's
/// S3FD box and ends near the upper lip, so it is scaled and moved down until the lower half
/// holds the whole mouth and chin. Recorded in the manifest.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BoxAdjust {
    /// Width multiplier.
    pub scale_w: f32,
    /// Height multiplier.
    pub scale_h: f32,
    /// Downward shift of the centre, in box heights.
    pub shift_y: f32,
}

impl Default for BoxAdjust {
    fn default() -> Self {
        // Calibrated on the GRID samples by eye with `preprocess inspect`: with these values the
        // lower half runs from the nose tip to just below the chin with the mouth in the middle,
        // as in Wav2Lip's S3FD crops.
        Self { scale_w: 1.1, scale_h: 1.15, shift_y: -0.05 }
    }
}

/// The pixel rectangle (x0, y0, x1, y1) cropped for `b`, clipped to the frame (like Wav2Lip's
/// clipping of negative coordinates, SPEC §1.1).
pub fn crop_rect(b: &FaceBox, adj: &BoxAdjust, width: usize, height: usize) -> (u32, u32, u32, u32) {
    let cx = b.x + b.w / 2.0;
    let cy = b.y + b.h / 2.0 + adj.shift_y * b.h;
    let (hw, hh) = (b.w * adj.scale_w / 2.0, b.h * adj.scale_h / 2.0);
    let clip = |v: f32, max: usize| v.round().clamp(0.0, max as f32) as u32;
    let (x0, x1) = (clip(cx - hw, width), clip(cx + hw, width));
    let (y0, y1) = (clip(cy - hh, height), clip(cy + hh, height));
    (x0, y0, x1.max(x0 + 1).min(width as u32), y1.max(y0 + 1).min(height as u32))
}

/// The 48×96 RGB mouth crop of one RGB frame.
pub fn mouth_crop(rgb: &[u8], width: usize, height: usize, b: &FaceBox, adj: &BoxAdjust) -> Vec<u8> {
    let (x0, y0, x1, y1) = crop_rect(b, adj, width, height);
    let (cw, ch) = (x1 - x0, y1 - y0);
    let mut region = Vec::with_capacity((cw * ch * 3) as usize);
    for y in y0..y1 {
        let row = (y as usize * width + x0 as usize) * 3;
        region.extend_from_slice(&rgb[row..row + cw as usize * 3]);
    }
    let face: ImageBuffer<Rgb<u8>, Vec<u8>> =
        ImageBuffer::from_raw(cw, ch, region).expect("region size matches");
    let side = FACE_SIZE as u32;
    let face = imageops::resize(&face, side, side, FilterType::Triangle);
    let lower =
        imageops::crop_imm(&face, 0, side - CROP_HEIGHT as u32, CROP_WIDTH as u32, CROP_HEIGHT as u32)
            .to_image();
    lower.into_raw()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crop_takes_the_lower_half_of_the_box() {
        // A 100×100 frame: top half red, bottom half blue; box = whole frame, no adjustment.
        let rgb: Vec<u8> =
            (0..100 * 100).flat_map(|i| if i / 100 < 50 { [255, 0, 0] } else { [0, 0, 255] }).collect();
        let b = FaceBox { x: 0.0, y: 0.0, w: 100.0, h: 100.0, score: 1.0 };
        let adj = BoxAdjust { scale_w: 1.0, scale_h: 1.0, shift_y: 0.0 };
        let c = mouth_crop(&rgb, 100, 100, &b, &adj);
        assert_eq!(c.len(), 48 * 96 * 3);
        // Away from the seam every pixel is blue.
        assert_eq!(&c[(5 * 96 + 10) * 3..(5 * 96 + 10) * 3 + 3], &[0, 0, 255]);
        assert_eq!(&c[(47 * 96 + 95) * 3..], &[0, 0, 255]);
    }

    #[test]
    fn boxes_are_clipped_to_the_frame() {
        let b = FaceBox { x: -10.0, y: 150.0, w: 40.0, h: 40.0, score: 1.0 };
        let (x0, y0, x1, y1) = crop_rect(&b, &BoxAdjust::default(), 160, 160);
        assert_eq!((x0, y1), (0, 160));
        assert!(x1 > x0 && y1 > y0);
    }
}
