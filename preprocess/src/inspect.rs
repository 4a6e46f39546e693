//! `preprocess inspect`: a contact sheet of an utterance's mouth crops, so a person can check
//! crop quality. Frames without a face get a red bar.

use std::path::Path;

use image::{ImageBuffer, Rgb, RgbImage};
use manifests::{Manifest, MANIFEST_FILE};
use shards::{Utterance, CROP_HEIGHT, CROP_WIDTH};

/// Finds `utt_id` in the shard set at `dir` (verified against its manifest).
pub fn find_utterance(dir: &Path, utt_id: &str) -> Result<Utterance, String> {
    let m = Manifest::read(&dir.join(MANIFEST_FILE)).map_err(|e| e.to_string())?;
    let entry = m
        .shards
        .iter()
        .find(|s| s.utterances.iter().any(|u| u == utt_id))
        .ok_or_else(|| format!("{}: no shard holds utterance {utt_id}", dir.display()))?;
    let mut reader = m.open_shard(dir, &entry.file).map_err(|e| e.to_string())?;
    reader.get(utt_id).map_err(|e| e.to_string())
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
            for x in 0..CROP_WIDTH as u32 {
                for y in 0..4 {
                    sheet.put_pixel(ox + x, oy + y, Rgb([255, 0, 0]));
                }
            }
        }
    }
    sheet
}
