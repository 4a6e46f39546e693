//! Drawing a speaker's frame: the photo, transformed per speaker, moved and re-lit per frame,
//! with a mouth whose opening follows the speech.

use image::RgbImage;

/// The public-domain photo the speakers are made from (see assets/README.md).
static PHOTO: &[u8] = include_bytes!("../../../assets/astronaut_face.png");
/// Mouth centre in photo pixels (measured on the asset).
const MOUTH: (f32, f32) = (129.0, 146.0);
/// Face centre in photo pixels (rustface box centre on the asset).
const FACE: (f32, f32) = (128.0, 118.0);
/// Output frame side, px (LRS2 clips are 160×160, face-centred).
pub const SIDE: usize = 160;

/// Per-speaker appearance.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Look {
    /// Mirror the photo.
    pub flip: bool,
    /// Zoom relative to the default framing.
    pub scale: f32,
    /// Offset of the face centre, px.
    pub shift: (f32, f32),
    /// Per-channel gain.
    pub tint: [f32; 3],
    /// Phases of the head motion and lighting oscillations.
    pub phase: [f32; 3],
}

/// The decoded photo.
pub struct Photo {
    img: RgbImage,
    skin: [f32; 3],
}

impl Photo {
    /// Decodes the embedded photo.
    pub fn load() -> crate::Result<Self> {
        let img = image::load_from_memory(PHOTO)
            .map_err(|e| crate::PreprocessError::Image {
                path: "assets/astronaut_face.png".into(),
                detail: e.to_string(),
            })?
            .to_rgb8();
        // Skin tone for covering the photo's own (smiling) mouth: mean of a chin patch.
        let mut skin = [0f32; 3];
        let mut n = 0.0;
        for y in 160..168 {
            for x in 120..138 {
                for (acc, v) in skin.iter_mut().zip(img.get_pixel(x, y).0) {
                    *acc += v as f32;
                }
                n += 1.0;
            }
        }
        Ok(Self { img, skin: skin.map(|s| s / n) })
    }

    fn sample(&self, x: f32, y: f32) -> [f32; 3] {
        let (w, h) = (self.img.width() as f32, self.img.height() as f32);
        let x = x.clamp(0.0, w - 1.001);
        let y = y.clamp(0.0, h - 1.001);
        let (x0, y0) = (x.floor(), y.floor());
        let (fx, fy) = (x - x0, y - y0);
        let px = |xx: f32, yy: f32| self.img.get_pixel(xx as u32, yy as u32).0.map(|v| v as f32);
        let (a, b, c, d) = (px(x0, y0), px(x0 + 1.0, y0), px(x0, y0 + 1.0), px(x0 + 1.0, y0 + 1.0));
        std::array::from_fn(|k| {
            (a[k] * (1.0 - fx) + b[k] * fx) * (1.0 - fy) + (c[k] * (1.0 - fx) + d[k] * fx) * fy
        })
    }

    /// One RGB frame: `open` ∈ [0, 1] is the lip separation, `t` the frame index.
    pub fn frame(&self, look: &Look, open: f32, t: usize) -> Vec<u8> {
        let tau = std::f32::consts::TAU;
        let tf = t as f32;
        let jitter =
            (1.5 * (tau * tf / 37.0 + look.phase[0]).sin(), 1.0 * (tau * tf / 53.0 + look.phase[1]).sin());
        let light = 1.0 + 0.06 * (tau * tf / 61.0 + look.phase[2]).sin();
        // 176 photo px → 160 output px at scale 1: the face box (~99 px) fills ~90 px of the frame.
        let k = 176.0 / SIDE as f32 / look.scale;
        let centre = (FACE.0 + look.shift.0 + jitter.0, FACE.1 + look.shift.1 + jitter.1);
        let lip_ry = 3.0 + 7.0 * open;
        let gap_ry = 7.0 * open;
        let mut out = Vec::with_capacity(SIDE * SIDE * 3);
        for oy in 0..SIDE {
            for ox in 0..SIDE {
                let mut dx = (ox as f32 - SIDE as f32 / 2.0) * k;
                let dy = (oy as f32 - SIDE as f32 / 2.0) * k;
                if look.flip {
                    dx = -dx;
                }
                let (sx, sy) = (centre.0 + dx, centre.1 + dy);
                let (mx, my) = (sx - MOUTH.0, sy - MOUTH.1);
                let inside = |rx: f32, ry: f32| ry > 0.3 && (mx / rx).powi(2) + (my / ry).powi(2) <= 1.0;
                let rgb = if inside(15.0, gap_ry) {
                    [38.0, 14.0, 16.0] // mouth interior
                } else if inside(19.0, lip_ry) {
                    [168.0, 78.0, 82.0] // lips
                } else if inside(25.0, 14.0) {
                    self.skin // the photo's own mouth, covered
                } else {
                    self.sample(sx, sy)
                };
                for (v, g) in rgb.iter().zip(look.tint) {
                    out.push((v * g * light).round().clamp(0.0, 255.0) as u8);
                }
            }
        }
        out
    }
}

/// Lip opening per 40 ms video frame from the speech itself: RMS of the frame's 640 samples in
/// dB, mapped linearly from −50 dBFS (closed) to −15 dBFS (open), smoothed with [¼, ½, ¼].
pub fn openings(pcm: &[i16], frames: usize) -> Vec<f32> {
    let raw: Vec<f32> = (0..frames)
        .map(|t| {
            let s = pcm.get(t * 640..((t + 1) * 640).min(pcm.len())).unwrap_or(&[]);
            if s.is_empty() {
                return 0.0;
            }
            let rms = (s.iter().map(|&v| (v as f32 / 32768.0).powi(2)).sum::<f32>() / s.len() as f32).sqrt();
            let db = 20.0 * rms.max(1e-6).log10();
            ((db + 50.0) / 35.0).clamp(0.0, 1.0)
        })
        .collect();
    (0..frames)
        .map(|t| {
            let at = |i: isize| raw[i.clamp(0, frames as isize - 1) as usize];
            0.25 * at(t as isize - 1) + 0.5 * at(t as isize) + 0.25 * at(t as isize + 1)
        })
        .collect()
}
