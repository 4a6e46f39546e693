//! A video with its audio moved by a measured offset (issue #31: "how do I fix the offset of my
//! video"): the video stream copied as it is, the audio shifted and trimmed to the video.

use std::path::Path;

use crate::reference::{transcode, MediaError};

/// The audio filter that undoes an offset of `offset_frames` 25 fps frames (positive: the audio
/// lags the video, as `evaluator sync` reports it): late audio loses its first frames, early audio
/// is delayed with silence; `apad` and `-shortest` end it with the video.
pub fn shift_filter(offset_frames: i32) -> String {
    let ms = offset_frames.unsigned_abs() * 40;
    match offset_frames {
        0 => "apad".into(),
        k if k > 0 => format!("atrim=start={:.3},asetpts=PTS-STARTPTS,apad", ms as f64 / 1000.0),
        _ => format!("adelay=delays={ms}:all=1,apad"),
    }
}

/// Writes `out` (its container from its extension): `video`'s first video stream copied, audio
/// stream `audio_stream` moved by `offset_frames` ([`shift_filter`]) and encoded with the
/// container's default audio codec. Written to a temporary file beside `out`, then renamed.
pub fn write_corrected(
    video: &Path,
    out: &Path,
    offset_frames: i32,
    audio_stream: usize,
) -> Result<(), MediaError> {
    let name = out.file_name().ok_or_else(|| MediaError(format!("{}: not a file name", out.display())))?;
    let ext = out.extension().map_or(String::new(), |e| format!(".{}", e.to_string_lossy()));
    let tmp = out.with_file_name(format!(".{}.partial-{}{ext}", name.to_string_lossy(), std::process::id()));
    let audio = format!("0:a:{audio_stream}");
    let filter = shift_filter(offset_frames);
    let result = transcode(
        video,
        &["-map", "0:v:0", "-map", &audio, "-c:v", "copy", "-af", &filter, "-shortest"],
        &tmp,
        "corrected video",
    )
    .and_then(|_| std::fs::rename(&tmp, out).map_err(|e| MediaError(format!("{}: {e}", out.display()))));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn late_audio_is_cut_and_early_audio_delayed() {
        assert_eq!(shift_filter(3), "atrim=start=0.120,asetpts=PTS-STARTPTS,apad");
        assert_eq!(shift_filter(-2), "adelay=delays=80:all=1,apad");
        assert_eq!(shift_filter(0), "apad");
    }
}
