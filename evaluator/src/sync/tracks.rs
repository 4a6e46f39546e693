//! `evaluator sync --tracks`: the offset of every face track of a video (issue #31), so that a
//! video with a cut or several people is measured face by face instead of on crops that jump
//! between faces. Tracks as run_pipeline.py makes them ([`media::fullframe`]); each track's mouth
//! clip ([`media::fullframe::mouth_clips`]) is scored as one utterance ([`super::score_utterance`]).
//!
//! The active speaker is the track whose offset stands out most: the highest prominence (best
//! mean score minus the best more than two frames away, [`super::SyncResult::prominence`]).
//! Confidence (best − median) does not separate speakers: a face saying something else still
//! gets a peak somewhere (measured on two synthetic faces, one playing backwards: confidence
//! 0.83 vs 0.76 and 1.06 vs 0.83, prominence 0.38 vs 0.12 and 0.72 vs 0.30). The speaker is named
//! clearly only when its prominence is positive and every track overlapping it in time has at
//! most [`RIVAL_SHARE`] of it; otherwise the result carries a warning.

use std::path::Path;

use burn::tensor::Device;
use features::MelExtractor;
use media::face::FaceDetect;
use media::fullframe::{self, Input};
use media::tracks::Track;
use nets::model::{InputConvention, SyncTransformer};
use serde::{Deserialize, Serialize};
use shards::Split;

use super::SyncResult;
use crate::faces::TrackSettings;

/// A rival track overlapping the speaker with more than this share of its prominence makes the
/// choice unclear.
pub const RIVAL_SHARE: f32 = 0.75;

/// One face track's estimate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackSync {
    /// Index among the video's kept tracks.
    pub track: usize,
    /// First frame (25 fps).
    pub first_frame: usize,
    /// Last frame.
    pub last_frame: usize,
    /// Mean face box `[x1, y1, x2, y2]` over the track.
    pub mean_box: [f32; 4],
    /// The estimate, or None with a reason.
    pub result: Option<SyncResult>,
    /// Why the track has no estimate.
    pub reason: Option<String>,
}

/// Every track of a video and who speaks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VideoSync {
    /// The kept tracks.
    pub tracks: Vec<TrackSync>,
    /// Candidates dropped, with their reasons.
    pub dropped: Vec<String>,
    /// The active track of each group of tracks that overlap in time.
    pub active: Vec<usize>,
    /// The speaker: the active track whose offset stands out most.
    pub speaker: Option<usize>,
    /// Set when no track clearly is the speaker.
    pub warning: Option<String>,
    /// The tracks picture (PNG bytes): each track's middle frame with its box.
    #[serde(skip)]
    pub picture: Vec<u8>,
}

fn overlaps(a: &TrackSync, b: &TrackSync) -> bool {
    a.first_frame <= b.last_frame && b.first_frame <= a.last_frame
}

/// Who speaks: the active track of each group of tracks that overlap in time (the highest
/// prominence among them: one per shot for one speaker at a time), the overall speaker (the
/// highest prominence of all, whose offset `--write-corrected` applies) and, when a choice is not
/// clear, why.
pub fn speakers(tracks: &[TrackSync]) -> (Vec<usize>, Option<usize>, Option<String>) {
    let prom = |t: &TrackSync| t.result.as_ref().map(|r| r.prominence).filter(|c| c.is_finite());
    let higher = |a: &TrackSync, b: &TrackSync| prom(a).unwrap_or(f32::MIN) > prom(b).unwrap_or(f32::MIN);
    let active: Vec<&TrackSync> = tracks
        .iter()
        .filter(|t| prom(t).is_some())
        .filter(|t| !tracks.iter().any(|o| o.track != t.track && overlaps(o, t) && higher(o, t)))
        .collect();
    let best = active.iter().copied().reduce(|a, b| if higher(b, a) { b } else { a });
    let Some(best) = best else {
        return (Vec::new(), None, Some("no track could be scored".into()));
    };
    let mut warnings = Vec::new();
    for t in &active {
        let c = prom(t).expect("scored");
        let confidence = t.result.as_ref().map_or(f32::NAN, |r| r.confidence);
        let rival = tracks
            .iter()
            .filter(|o| o.track != t.track && overlaps(o, t))
            .filter_map(|o| prom(o).map(|v| (o.track, v)))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        match rival {
            _ if c <= 0.0 => warnings.push(format!(
                "no track is clearly the speaker: track {} scores best but its offset does not stand out (prominence {c:.3}, confidence {confidence:.3})",
                t.track
            )),
            Some((o, v)) if v > RIVAL_SHARE * c => warnings.push(format!(
                "no track is clearly the speaker: tracks {} and {o} score alike (prominence {c:.3} and {v:.3})",
                t.track
            )),
            _ => {}
        }
    }
    let active = active.iter().map(|t| t.track).collect();
    (active, Some(best.track), (!warnings.is_empty()).then(|| warnings.join("; ")))
}

fn mean_box(track: &Track) -> [f32; 4] {
    let n = track.bboxes.len().max(1) as f64;
    std::array::from_fn(|k| (track.bboxes.iter().map(|b| b[k]).sum::<f64>() / n) as f32)
}

/// Tracks `video` and estimates each track's offset with `model`.
#[allow(clippy::too_many_arguments)]
pub fn sync_tracks(
    video: &Path,
    model: &SyncTransformer,
    conv: &InputConvention,
    device: &Device,
    detector: &mut dyn FaceDetect,
    settings: &TrackSettings,
    audio_stream: usize,
) -> std::result::Result<VideoSync, String> {
    media::clip::check_file(video).map_err(|e| e.to_string())?;
    let p = &settings.params;
    let input = Input::open(video, p.mode, audio_stream).map_err(|e| e.to_string())?;
    let pcm = input.pcm().map_err(|e| e.to_string())?;
    let det = fullframe::detect(&input, detector, p).map_err(|e| e.to_string())?;
    let (tracks, drops) = fullframe::track(&det, p);
    let dropped: Vec<String> = drops.iter().map(ToString::to_string).collect();
    if tracks.is_empty() {
        let why = if dropped.is_empty() { "no face detected".to_string() } else { dropped.join("; ") };
        return Err(format!("no face track ({why})"));
    }
    let (clips, snaps) =
        fullframe::mouth_clips(&input, &tracks, &Default::default(), &pcm, &MelExtractor::new())
            .map_err(|e| e.to_string())?;
    let picture = fullframe::picture_png(&snaps, 270).map_err(|e| e.to_string())?;
    let stem = video.file_stem().map_or("video".into(), |s| s.to_string_lossy().into_owned());
    let scored: Vec<TrackSync> = tracks
        .iter()
        .zip(clips)
        .enumerate()
        .map(|(t, (track, clip))| {
            let utt = clip.into_utterance(media::clip::Identity {
                utt_id: format!("{stem}#{t}"),
                split: Split::Test,
                source_path: video.display().to_string(),
                source_sha256: String::new(),
                transcript: String::new(),
            });
            let (result, reason) = match super::score_utterance(model, conv, &utt, device) {
                Ok(r) => (Some(r), None),
                Err(why) => (None, Some(why)),
            };
            TrackSync {
                track: t,
                first_frame: track.frames[0],
                last_frame: track.frames[track.frames.len() - 1],
                mean_box: mean_box(track),
                result,
                reason,
            }
        })
        .collect();
    let (active, speaker, warning) = speakers(&scored);
    Ok(VideoSync { tracks: scored, dropped, active, speaker, warning, picture })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(track: usize, span: (usize, usize), prominence: f32, confidence: f32) -> TrackSync {
        TrackSync {
            track,
            first_frame: span.0,
            last_frame: span.1,
            mean_box: [0.0; 4],
            result: Some(SyncResult {
                offset_frames: 0,
                offset_ms: 0,
                confidence,
                prominence,
                mean_scores: vec![0.0; 31],
                windows: 10,
            }),
            reason: None,
        }
    }

    #[test]
    fn the_speaker_is_clear_only_without_a_close_overlapping_rival() {
        let two = [t(0, (0, 99), 2.0, 1.0), t(1, (0, 99), 0.5, 0.2)];
        assert_eq!(speakers(&two), (vec![0], Some(0), None));
        let (a, s, w) = speakers(&[t(0, (0, 99), 2.0, 1.0), t(1, (0, 99), 1.8, 0.9)]);
        assert_eq!((a, s), (vec![0], Some(0)));
        assert!(w.unwrap().contains("score alike"));
        // A close score in another shot is no rival: each shot has its speaker.
        let shots = [t(0, (0, 99), 2.0, 1.0), t(1, (100, 199), 1.9, 0.9), t(2, (100, 199), 0.3, 0.9)];
        assert_eq!(speakers(&shots), (vec![0, 1], Some(0), None));
        let (_, _, w) = speakers(&[t(0, (0, 99), -0.1, 2.0)]);
        assert!(w.unwrap().contains("does not stand out"));
    }
}
