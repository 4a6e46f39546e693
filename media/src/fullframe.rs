//! A full-frame video → shots → faces → face tracks → 224 × 224 crops, as syncnet_python's
//! `run_pipeline.py` makes them (issue #31; `SP:` is joonson/syncnet_python at 6efbb1c). Two
//! passes over the frames, so memory does not grow with the video's length (4K included): the
//! first detects shots and faces and keeps only boxes, the second crops every kept track.
//!
//! Two modes ([`TrackMode`]):
//! - **exact**: the reference's frames. The video is converted as `SP:run_pipeline.py:L276`
//!   (`-qscale:v 2 -async 1 -r 25` AVI; we add `-threads 1`, see below); the detector and the
//!   crops read that AVI's `-qscale:v 2` JPEGs (`SP:L279`, decoded as `cv2.imread`), the shot
//!   detector reads the AVI as OpenCV does (`-vsync passthrough`: OpenCV does not repeat a
//!   frame for an empty AVI packet where ffmpeg's image2 does, so, as in the reference, shot
//!   frame numbers can run one behind the JPEG numbering after such a packet), the audio is the
//!   AVI's. Every frame is detected.
//! - **fast**: the video decoded once at 25 fps (`-r 25`, no AVI and no JPEG round trip) and the
//!   detector run every `detect_every` frames; tracking bridges the frames between (up to
//!   `num_failed_det`), so spans and boxes stay close to exact mode's (README "Your own videos").
//!
//! `-threads 1` on the AVI conversion: ffmpeg's mpeg4 encoder cuts each frame into one slice per
//! thread, so the reference's AVI (and everything after it) depends on the machine's core count
//! (measured: three different files from 1, 2 and 4 threads). One thread makes the frames the
//! same on every machine; it is the reference's output on a one-core machine.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::face::FaceDetect;
use crate::reference::{self, Frame, FrameSource, Frames, MediaError};
use crate::resize::Image;
use crate::shots::{self, ContentDetector};
use crate::tracks::{self, Detection, Dropped, Track, TrackParams};

/// How frames are read and how often faces are detected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrackMode {
    /// The reference's frames, a detection on every frame.
    Exact,
    /// One decode at 25 fps, a detection every `detect_every` frames.
    Fast,
}

/// Everything that decides the tracks (recorded with the results).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FullFrameParams {
    /// Frames and cadence.
    pub mode: TrackMode,
    /// run_pipeline's thresholds; `detect_every` is 1 in exact mode.
    pub tracks: TrackParams,
}

impl FullFrameParams {
    /// `mode` with run_pipeline's defaults and, in fast mode, a detection every `every` frames.
    pub fn new(mode: TrackMode, every: usize, tracks: TrackParams) -> Self {
        let detect_every = match mode {
            TrackMode::Exact => 1,
            TrackMode::Fast => every.max(1),
        };
        Self { mode, tracks: TrackParams { detect_every, ..tracks } }
    }
}

/// A video opened for tracking: in exact mode its AVI in a temporary directory.
pub struct Input {
    video: PathBuf,
    avi: Option<(tempfile::TempDir, PathBuf)>,
    audio_stream: usize,
}

impl Input {
    /// Opens `video`; in exact mode converts it as run_pipeline does (audio stream
    /// `audio_stream`, the first by default).
    pub fn open(video: &Path, mode: TrackMode, audio_stream: usize) -> Result<Self, MediaError> {
        let avi = match mode {
            TrackMode::Fast => None,
            TrackMode::Exact => {
                let dir = tempfile::Builder::new()
                    .prefix("lipsync-tracks-")
                    .tempdir()
                    .map_err(|e| MediaError(format!("temporary directory: {e}")))?;
                let avi = dir.path().join("video.avi");
                let audio = format!("0:a:{audio_stream}?");
                reference::transcode(
                    video,
                    &[
                        "-map",
                        "0:v:0",
                        "-map",
                        &audio,
                        "-qscale:v",
                        "2",
                        "-async",
                        "1",
                        "-r",
                        "25",
                        "-threads",
                        "1",
                    ],
                    &avi,
                    "video",
                )?;
                Some((dir, avi))
            }
        };
        Ok(Self { video: video.to_path_buf(), avi, audio_stream })
    }

    /// The frames the detector and the crops see, BGR.
    pub fn frames(&self) -> Result<Frames, MediaError> {
        match &self.avi {
            Some((_, avi)) => Frames::open_with(avi, FrameSource::Jpeg, &["-qscale:v", "2"]),
            None => Frames::open_with(&self.video, FrameSource::Direct, &["-r", "25"]),
        }
    }

    /// The frames the shot detector sees when they are not [`Input::frames`] (exact mode: the
    /// AVI as `cv2.VideoCapture` reads it).
    fn shot_frames(&self) -> Result<Option<Frames>, MediaError> {
        match &self.avi {
            Some((_, avi)) => {
                Frames::open_with(avi, FrameSource::Direct, &["-vsync", "passthrough"]).map(Some)
            }
            None => Ok(None),
        }
    }

    /// The 16 kHz mono samples the tracks' audio is cut from (exact mode: the AVI's, as
    /// `SP:run_pipeline.py:L282`).
    pub fn pcm(&self) -> Result<Vec<i16>, MediaError> {
        match &self.avi {
            Some((_, avi)) => reference::pcm_16k(avi, 0),
            None => reference::pcm_16k(&self.video, self.audio_stream),
        }
    }
}

/// What the first pass found.
#[derive(Debug, Clone)]
pub struct Detected {
    /// Every frame's faces (empty on frames not detected in fast mode).
    pub faces: Vec<Vec<Detection>>,
    /// Frames where a new shot starts.
    pub cuts: Vec<usize>,
    /// Frames the shot detector saw.
    pub shot_frames: usize,
    /// Frame width and height.
    pub size: (usize, usize),
    /// Frames the detector ran on.
    pub detector_runs: usize,
}

impl Detected {
    /// Frames decoded.
    pub fn frames(&self) -> usize {
        self.faces.len()
    }

    /// `[start, end)` shots (`SP:run_pipeline.py:L233-L251`: the whole video when no cut).
    pub fn shots(&self) -> Vec<(usize, usize)> {
        shots::scenes(&self.cuts, self.shot_frames)
    }
}

fn image(f: Frame) -> Image {
    Image { width: f.width, height: f.height, channels: 3, data: f.bgr }
}

fn rgb_of(bgr: &[u8]) -> Vec<u8> {
    let mut rgb = bgr.to_vec();
    rgb.chunks_exact_mut(3).for_each(|p| p.swap(0, 2));
    rgb
}

/// The first pass: shots (`SP:run_pipeline.py:L233`) and faces (`SP:L190-L217`: RGB frames,
/// every box the detector returns).
pub fn detect(
    input: &Input,
    detector: &mut dyn FaceDetect,
    p: &FullFrameParams,
) -> Result<Detected, MediaError> {
    let mut frames = input.frames()?;
    let mut shot_src = input.shot_frames()?;
    let size = frames.size();
    let shot_width = shot_src.as_ref().map_or(size.0, |s| s.size().0);
    let k = shots::downscale_factor(shot_width);
    let mut content = ContentDetector::default();
    let (mut faces, mut cuts, mut shot_frames, mut detector_runs) = (Vec::new(), Vec::new(), 0, 0);
    let mut cut = |content: &mut ContentDetector, n: usize, f: &Image| {
        if let (Some(c), _) = content.process(n, &shots::subsample(f, k)) {
            cuts.push(c);
        }
    };
    while let Some(frame) = frames.next_frame()? {
        let i = faces.len();
        let frame = image(frame);
        match shot_src.as_mut() {
            Some(src) => {
                if let Some(s) = src.next_frame()? {
                    cut(&mut content, shot_frames, &image(s));
                    shot_frames += 1;
                }
            }
            None => {
                cut(&mut content, shot_frames, &frame);
                shot_frames += 1;
            }
        }
        let found = if i % p.tracks.detect_every.max(1) == 0 {
            detector_runs += 1;
            let rgb = rgb_of(&frame.data);
            detector
                .faces_at(i, &rgb, frame.width, frame.height)
                .into_iter()
                .map(|b| Detection { frame: i, bbox: [b[0], b[1], b[2], b[3]], conf: b[4] })
                .collect()
        } else {
            Vec::new()
        };
        faces.push(found);
    }
    if let Some(src) = shot_src.as_mut() {
        while let Some(s) = src.next_frame()? {
            cut(&mut content, shot_frames, &image(s));
            shot_frames += 1;
        }
    }
    if faces.is_empty() {
        return Err(MediaError("no video frames".into()));
    }
    Ok(Detected { faces, cuts, shot_frames, size, detector_runs })
}

/// The tracks of every shot and the candidates dropped (`SP:run_pipeline.py:L295-L301`).
pub fn track(det: &Detected, p: &FullFrameParams) -> (Vec<Track>, Vec<Dropped>) {
    tracks::tracks(&det.shots(), &det.faces, &p.tracks)
}

/// One picture per track for the tracks PNG: the track's middle frame and its box there.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The track.
    pub track: usize,
    /// Its middle frame, BGR.
    pub frame: Image,
    /// The detected (interpolated) box on it.
    pub bbox: [f64; 4],
}

/// The second pass over the frames: `each(t, j, i, frame)` for frame `i`, the `j`-th of track
/// `t`, for every kept track in frame order (BGR; frames past the last track are not decoded);
/// returns one [`Snapshot`] per track, at its middle frame.
fn track_frames(
    input: &Input,
    tracks: &[Track],
    mut each: impl FnMut(usize, usize, usize, &Image) -> Result<(), MediaError>,
) -> Result<Vec<Snapshot>, MediaError> {
    let end = tracks.iter().filter_map(|t| t.frames.last()).max().map_or(0, |l| l + 1);
    let mut snaps = Vec::new();
    if end == 0 {
        return Ok(snaps);
    }
    let mut frames = input.frames()?;
    for i in 0..end {
        let Some(frame) = frames.next_frame()? else {
            return Err(MediaError(format!(
                "the video ended at frame {i}, before its tracks (read it again?)"
            )));
        };
        let frame = image(frame);
        for (t, track) in tracks.iter().enumerate() {
            let Some(j) = i.checked_sub(track.frames[0]).filter(|&j| j < track.frames.len()) else {
                continue;
            };
            each(t, j, i, &frame)?;
            if j == track.frames.len() / 2 {
                snaps.push(Snapshot { track: t, frame: frame.clone(), bbox: track.bboxes[j] });
            }
        }
    }
    snaps.sort_by_key(|s| s.track);
    Ok(snaps)
}

/// Every kept track's 224 × 224 crops in frame order (`SP:run_pipeline.py:L111-L146`), given to
/// `sink(track, crop)`, and one [`Snapshot`] per track ([`track_frames`]).
pub fn crops(
    input: &Input,
    tracks: &[Track],
    p: &TrackParams,
    mut sink: impl FnMut(usize, Image) -> Result<(), MediaError>,
) -> Result<Vec<Snapshot>, MediaError> {
    let smoothed: Vec<tracks::Smoothed> = tracks.iter().map(|t| tracks::smooth(t, p.median_kernel)).collect();
    track_frames(input, tracks, |t, j, i, frame| {
        let s = &smoothed[t];
        let crop = tracks::crop(frame, s.s[j], s.x[j], s.y[j], p.crop_scale)
            .ok_or_else(|| MediaError(format!("track {t}: empty crop window at frame {i}")))?;
        sink(t, crop)
    })
}

/// Every kept track's mouth clip (SPEC §1.1–1.3, as [`crate::clip`] makes it for one face): each
/// frame's mouth crop around the track's box, the audio of the track's span and its mel; and one
/// [`Snapshot`] per track ([`track_frames`]). A track's crops are held until the end (13.8 KB a
/// frame).
pub fn mouth_clips(
    input: &Input,
    tracks: &[Track],
    adjust: &crate::crop::BoxAdjust,
    pcm: &[i16],
    mel: &features::MelExtractor,
) -> Result<(Vec<crate::clip::MouthClip>, Vec<Snapshot>), MediaError> {
    let mut crops: Vec<Vec<u8>> = tracks.iter().map(|_| Vec::new()).collect();
    let mut boxes: Vec<Vec<Option<shards::FaceBox>>> = tracks.iter().map(|_| Vec::new()).collect();
    // The RGB of the frame at hand, made once however many tracks it holds.
    let mut rgb: Option<(usize, Vec<u8>)> = None;
    let snaps = track_frames(input, tracks, |t, j, i, frame| {
        if rgb.as_ref().is_none_or(|(at, _)| *at != i) {
            rgb = Some((i, rgb_of(&frame.data)));
        }
        let rgb = &rgb.as_ref().expect("set above").1;
        let [x1, y1, x2, y2] = tracks[t].bboxes[j];
        let b = shards::FaceBox {
            x: x1 as f32,
            y: y1 as f32,
            w: (x2 - x1) as f32,
            h: (y2 - y1) as f32,
            score: 1.0,
        };
        crops[t].extend(crate::crop::mouth_crop(rgb, frame.width, frame.height, &b, adjust));
        boxes[t].push(Some(b));
        Ok(())
    })?;
    let clips = tracks
        .iter()
        .zip(crops.into_iter().zip(boxes))
        .map(|(track, (frames, boxes))| {
            let pcm = track_audio(pcm, track).to_vec();
            let mel = mel.compute(&features::pcm_to_f32(&pcm));
            crate::clip::MouthClip { num_frames: track.frames.len(), frames, boxes, pcm, mel }
        })
        .collect();
    Ok((clips, snaps))
}

/// The samples of a track's span (`SP:run_pipeline.py:L150-L156`: `-ss first/25 -to (last+1)/25`
/// on the 16 kHz WAV, 640 samples a frame), cut short where the audio ends.
pub fn track_audio<'a>(pcm: &'a [i16], track: &Track) -> &'a [i16] {
    const PER_FRAME: usize = 16_000 / 25;
    let first = track.frames[0] * PER_FRAME;
    let end = (track.frames[track.frames.len() - 1] + 1) * PER_FRAME;
    &pcm[first.min(pcm.len())..end.min(pcm.len())]
}

/// A track's crops written as a video, as run_pipeline's `pycrop/REF/NNNNN.avi`: 224 × 224 at
/// 25 fps, MPEG-4 tagged XVID, with the track's audio as 16 kHz PCM. The reference writes it with
/// `cv2.VideoWriter`; ffmpeg's mpeg4 encoder at `-q:v 2` comes closest of the settings tried
/// (`-q:v` 2, 3, 4, `-g 12` with and without `-b:v` 1254400): read back as SyncNet reads it, its
/// rows are within 0.003 in min_dist of the reference's (README "Your own videos"). Frames go to
/// an ffmpeg process as they are cut; the file appears under its name only once complete.
pub struct CropWriter {
    child: std::process::Child,
    stdin: Option<std::process::ChildStdin>,
    tmp: PathBuf,
    out: PathBuf,
    _audio: tempfile::NamedTempFile,
    log: tempfile::NamedTempFile,
}

impl CropWriter {
    /// Starts writing `out` (an `.avi`) with `audio` (16 kHz mono samples).
    pub fn create(out: &Path, audio: &[i16]) -> Result<Self, MediaError> {
        use std::io::Write;
        let io = |e: std::io::Error| MediaError(format!("{}: {e}", out.display()));
        let dir = out.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut pcm = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
        let bytes: Vec<u8> = audio.iter().flat_map(|v| v.to_le_bytes()).collect();
        pcm.write_all(&bytes).map_err(io)?;
        let log = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
        let name = out.file_name().map_or("crops.avi".into(), |n| n.to_string_lossy().into_owned());
        let tmp = out.with_file_name(format!(".{name}.partial-{}.avi", std::process::id()));
        let side = format!("{0}x{0}", tracks::CROP_SIDE);
        let mut cmd = std::process::Command::new("ffmpeg");
        cmd.args(["-nostdin", "-hide_banner", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24"])
            .args(["-s", side.as_str(), "-r", "25", "-i", "pipe:0"]);
        // Every frame is kept, whatever the audio's length (as the reference's crop video: audio
        // cut where the video's audio ends); a track past the audio's end gets a video stream only
        // (scored as "no audio stream").
        if !audio.is_empty() {
            cmd.args(["-f", "s16le", "-ar", "16000", "-ac", "1", "-i"]).arg(pcm.path());
        }
        let mut child = cmd
            .args(["-c:v", "mpeg4", "-vtag", "XVID", "-q:v", "2", "-c:a", "pcm_s16le"])
            .arg(&tmp)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(log.reopen().map_err(io)?)
            .spawn()
            .map_err(|e| MediaError(format!("cannot run ffmpeg ({e}); install it (make setup)")))?;
        let stdin = child.stdin.take();
        Ok(Self { child, stdin, tmp, out: out.to_path_buf(), _audio: pcm, log })
    }

    /// The next crop (224 × 224 BGR). An ffmpeg that has stopped reading is reported by
    /// [`CropWriter::finish`] with its own message; the frames after it are dropped.
    pub fn write(&mut self, crop: &Image) {
        use std::io::Write;
        if let Some(stdin) = self.stdin.as_mut() {
            if stdin.write_all(&crop.data).is_err() {
                self.stdin = None;
            }
        }
    }

    /// Closes the stream, waits for ffmpeg and moves the file to its name.
    pub fn finish(mut self) -> Result<(), MediaError> {
        drop(self.stdin.take());
        let status = self.child.wait().map_err(|e| MediaError(format!("{}: {e}", self.out.display())))?;
        if !status.success() {
            let log = std::fs::read_to_string(self.log.path()).unwrap_or_default();
            let _ = std::fs::remove_file(&self.tmp);
            let line = log.lines().next().unwrap_or("no message");
            return Err(MediaError(format!("{}: ffmpeg: {line}", self.out.display())));
        }
        std::fs::rename(&self.tmp, &self.out).map_err(|e| MediaError(format!("{}: {e}", self.out.display())))
    }
}

/// Box colours of the tracks picture, one per track in turn (RGB).
const COLOURS: [[u8; 3]; 6] =
    [[230, 25, 75], [60, 180, 75], [0, 130, 200], [245, 130, 48], [145, 30, 180], [70, 240, 240]];

/// The tracks picture: each track's middle frame scaled to `height` pixels with its box drawn,
/// side by side in track order (RGB, for a PNG).
pub fn picture(snaps: &[Snapshot], height: usize) -> image::RgbImage {
    let tiles: Vec<image::RgbImage> = snaps
        .iter()
        .map(|s| {
            let f = &s.frame;
            let mut rgb = image::RgbImage::from_raw(f.width as u32, f.height as u32, rgb_of(&f.data))
                .expect("a frame's own size");
            let colour = image::Rgb(COLOURS[s.track % COLOURS.len()]);
            let thick = (f.height / 150).max(2) as i64;
            let [x1, y1, x2, y2] = s.bbox.map(|v| v.round() as i64);
            for (x, y, px) in rgb.enumerate_pixels_mut() {
                let (x, y) = (x as i64, y as i64);
                let inside = x >= x1 - thick && x <= x2 + thick && y >= y1 - thick && y <= y2 + thick;
                let core = x > x1 && x < x2 && y > y1 && y < y2;
                if inside && !core {
                    *px = colour;
                }
            }
            let w = (f.width * height / f.height.max(1)).max(1) as u32;
            image::imageops::resize(&rgb, w, height as u32, image::imageops::FilterType::Triangle)
        })
        .collect();
    let gap = 8u32;
    let width = tiles.iter().map(|t| t.width() + gap).sum::<u32>().saturating_sub(gap).max(1);
    let mut out = image::RgbImage::from_pixel(width, height as u32, image::Rgb([255, 255, 255]));
    let mut x = 0;
    for t in &tiles {
        image::imageops::replace(&mut out, t, x as i64, 0);
        x += t.width() + gap;
    }
    out
}

/// [`picture`] as PNG bytes.
pub fn picture_png(snaps: &[Snapshot], height: usize) -> Result<Vec<u8>, MediaError> {
    let mut png = Vec::new();
    picture(snaps, height)
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|e| MediaError(format!("tracks picture: {e}")))?;
    Ok(png)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn track_audio_is_the_span_and_stops_at_the_end() {
        let pcm: Vec<i16> = (0..3000).map(|i| i as i16).collect();
        let t = Track { frames: vec![2, 3], bboxes: vec![[0.0; 4]; 2] };
        assert_eq!(track_audio(&pcm, &t), &pcm[1280..2560]);
        let t = Track { frames: vec![4, 5], bboxes: vec![[0.0; 4]; 2] };
        assert_eq!(track_audio(&pcm, &t), &pcm[2560..3000]);
    }

    #[test]
    fn fast_mode_keeps_its_cadence_and_exact_mode_detects_every_frame() {
        let fast = FullFrameParams::new(TrackMode::Fast, 5, TrackParams::default());
        let exact = FullFrameParams::new(TrackMode::Exact, 5, TrackParams::default());
        assert_eq!((fast.tracks.detect_every, exact.tracks.detect_every), (5, 1));
    }
}
