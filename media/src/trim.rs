//! Trimming both media of a clip for an audio shift of K frames (`preprocess run --shift-audio`,
//! README "Prepare your own dataset"): after it, audio and video cover the same time.

use features::SAMPLES_PER_FRAME;

/// The video side of a shift by `k` frames: late audio (K > 0) drops the last K frames, early
/// audio (K < 0) the first |K|.
pub fn trim_frames<F>(frames: &mut Vec<F>, k: i32) {
    let d = (k.unsigned_abs() as usize).min(frames.len());
    if k > 0 {
        frames.truncate(frames.len() - d);
    } else if k < 0 {
        frames.drain(..d);
    }
}

/// The audio side of a shift by `k` frames: late audio (K > 0) drops its first K·640 samples,
/// early audio (K < 0) its last |K|·640.
pub fn trim_audio(pcm: &mut Vec<i16>, k: i32) {
    let n = (k.unsigned_abs() as usize * SAMPLES_PER_FRAME).min(pcm.len());
    if k > 0 {
        pcm.drain(..n);
    } else if k < 0 {
        pcm.truncate(pcm.len() - n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn late_audio_loses_its_start_and_the_video_its_end() {
        let mut frames: Vec<usize> = (0..10).collect();
        let mut pcm: Vec<i16> = (0..6400).map(|i| (i / 640) as i16).collect();
        trim_frames(&mut frames, 2);
        trim_audio(&mut pcm, 2);
        // Video frame 0 now meets the audio of frame 2.
        assert_eq!((frames.len(), frames[0], pcm.len(), pcm[0]), (8, 0, 6400 - 1280, 2));
        let mut frames: Vec<usize> = (0..10).collect();
        let mut pcm: Vec<i16> = (0..6400).map(|i| (i / 640) as i16).collect();
        trim_frames(&mut frames, -3);
        trim_audio(&mut pcm, -3);
        assert_eq!((frames.len(), frames[0], pcm.len(), pcm[0]), (7, 3, 6400 - 1920, 0));
    }
}
