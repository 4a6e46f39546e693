//! `preprocess inspect`: a contact sheet of an utterance's mouth crops, so a person can check
//! crop quality. Frames without a face get a red bar. Optionally, the source frames with the face
//! boxes drawn on them.

use std::path::Path;

use features::{CROP_HEIGHT, CROP_WIDTH};
use image::imageops;
use image::{ImageBuffer, Rgb, RgbImage};
use manifests::{Manifest, MANIFEST_FILE};
use shards::Utterance;

use crate::error::{PreprocessError, Result};
use media::crop::{crop_rect, BoxAdjust};
use media::decode::Video;

/// Finds `utt_id` in the shard set at `dir` (verified against its manifest).
pub fn find_utterance(dir: &Path, utt_id: &str) -> Result<Utterance> {
    let m = Manifest::read(&dir.join(MANIFEST_FILE))?;
    let entry =
        m.shards.iter().find(|s| s.utterances.iter().any(|u| u == utt_id)).ok_or_else(|| {
            PreprocessError::NoUtterance { dir: dir.to_path_buf(), utt_id: utt_id.to_string() }
        })?;
    let mut reader = m.open_shard(dir, &entry.file)?;
    Ok(reader.get(utt_id)?)
}

/// The red bar (4 px, `width` wide, clipped to the image) marking a frame without a face.
fn no_face_bar(img: &mut RgbImage, ox: u32, oy: u32, width: u32) {
    let (w, h) = img.dimensions();
    for x in ox..(ox + width).min(w) {
        for y in oy..(oy + 4).min(h) {
            img.put_pixel(x, y, Rgb([255, 0, 0]));
        }
    }
}

/// Lays the crops out `columns` per row, 2 px apart.
pub fn contact_sheet(utt: &Utterance, columns: usize) -> RgbImage {
    let n = utt.num_frames as usize;
    let cols = columns.max(1).min(n.max(1));
    let rows = n.div_ceil(cols);
    let (cw, ch) = (CROP_WIDTH as u32 + 2, CROP_HEIGHT as u32 + 2);
    let mut sheet: RgbImage = ImageBuffer::from_pixel(cols as u32 * cw, rows as u32 * ch, Rgb([32, 32, 32]));
    for t in 0..n {
        let (ox, oy) = ((t % cols) as u32 * cw + 1, (t / cols) as u32 * ch + 1);
        let crop = utt.frame(t);
        for y in 0..CROP_HEIGHT {
            for x in 0..CROP_WIDTH {
                let p = &crop[(y * CROP_WIDTH + x) * 3..(y * CROP_WIDTH + x) * 3 + 3];
                sheet.put_pixel(ox + x as u32, oy + y as u32, Rgb([p[0], p[1], p[2]]));
            }
        }
        if !utt.face_found[t] {
            no_face_bar(&mut sheet, ox, oy, CROP_WIDTH as u32);
        }
    }
    sheet
}

/// Colour of the detector's (smoothed) face box on the source-frame sheet.
pub const DETECTOR_COLOUR: Rgb<u8> = Rgb([0, 255, 0]);
/// Colour of the adjusted box and of its lower half, the region the mouth crop is cut from.
pub const CROP_COLOUR: Rgb<u8> = Rgb([255, 255, 0]);

/// The box adjustment a shard set was made with (`params.process.adjust` of its manifest).
pub fn manifest_adjust(dir: &Path) -> Result<BoxAdjust> {
    let m = Manifest::read(&dir.join(MANIFEST_FILE))?;
    serde_json::from_value(m.params["process"]["adjust"].clone())
        .map_err(|e| PreprocessError::BadAdjust { path: dir.join(MANIFEST_FILE), detail: e.to_string() })
}

fn rect(img: &mut RgbImage, (x0, y0, x1, y1): (u32, u32, u32, u32), colour: Rgb<u8>) {
    let (w, h) = img.dimensions();
    let (x1, y1) = (x1.min(w).saturating_sub(1), y1.min(h).saturating_sub(1));
    for x in x0.min(x1)..=x1 {
        img.put_pixel(x, y0.min(y1), colour);
        img.put_pixel(x, y1, colour);
    }
    for y in y0.min(y1)..=y1 {
        img.put_pixel(x0.min(x1), y, colour);
        img.put_pixel(x1, y, colour);
    }
}

/// The longer side of a frame in the source sheet, px.
pub const SHEET_FRAME_SIDE: u32 = 320;

/// Every `every`-th source frame of `video` (the utterance's decoded source, 25 fps) with its
/// stored face box (green), the adjusted box and the lower half that becomes the mouth crop
/// (yellow), `columns` per row. Frames without a face get a red bar instead of boxes.
pub fn source_sheet(
    utt: &Utterance,
    video: &Video,
    adjust: &BoxAdjust,
    every: usize,
    columns: usize,
) -> RgbImage {
    let n = (utt.num_frames as usize).min(video.frames.len());
    let picked: Vec<usize> = (0..n).step_by(every.max(1)).collect();
    let cols = columns.max(1).min(picked.len().max(1));
    let rows = picked.len().div_ceil(cols);
    let (fw, fh) = (video.width as u32, video.height as u32);
    // Each frame at most SHEET_FRAME_SIDE px on its longer side (issue #33 point 10: a 10 s
    // 1080×1920 clip made a 110 MB PNG at full size); boxes are drawn after scaling.
    let scale = (SHEET_FRAME_SIDE as f32 / fw.max(fh) as f32).min(1.0);
    let (w, h) = (((fw as f32 * scale).round() as u32).max(1), ((fh as f32 * scale).round() as u32).max(1));
    let at = |v: f32, max: u32| ((v.max(0.0) * scale).round() as u32).min(max - 1);
    let mut sheet: RgbImage =
        ImageBuffer::from_pixel(cols as u32 * (w + 2), rows as u32 * (h + 2), Rgb([32, 32, 32]));
    for (i, &t) in picked.iter().enumerate() {
        let full: RgbImage = ImageBuffer::from_raw(fw, fh, video.frames[t].clone())
            .expect("decoded frame is width × height × 3");
        let mut frame =
            if scale < 1.0 { imageops::resize(&full, w, h, imageops::FilterType::Triangle) } else { full };
        if utt.face_found[t] {
            let b = &utt.face_boxes[t];
            rect(&mut frame, (at(b.x, w), at(b.y, h), at(b.x + b.w, w), at(b.y + b.h, h)), DETECTOR_COLOUR);
            let (cx0, cy0, cx1, cy1) = crop_rect(b, adjust, video.width, video.height);
            let (cx0, cy0, cx1, cy1) =
                (at(cx0 as f32, w), at(cy0 as f32, h), at(cx1 as f32, w), at(cy1 as f32, h));
            rect(&mut frame, (cx0, cy0, cx1, cy1), CROP_COLOUR);
            rect(&mut frame, (cx0, (cy0 + cy1) / 2, cx1, cy1), CROP_COLOUR);
        } else {
            no_face_bar(&mut frame, 0, 0, w);
        }
        let (ox, oy) = ((i % cols) as u32 * (w + 2) + 1, (i / cols) as u32 * (h + 2) + 1);
        imageops::replace(&mut sheet, &frame, ox as i64, oy as i64);
    }
    sheet
}

/// Decodes the utterance's source video under the dataset root (`mvlrs_v1/` or its parent) and
/// checks that it is the file the row was made from (sha256).
pub fn decode_source(lrs2_root: &Path, utt: &Utterance) -> Result<Video> {
    let root = crate::lrs2::Lrs2Root::discover(lrs2_root)?.root;
    let path = root.join(&utt.source_path);
    let sum = manifests::sha256_file(&path)?;
    if sum != utt.source_sha256 {
        return Err(PreprocessError::SourceChanged { path });
    }
    media::decode::decode_video(&path).map_err(|source| PreprocessError::Decode { path, source })
}
