//! Decoding with the system ffmpeg through ffmpeg-sidecar (never downloads anything):
//! video as rgb24 at 25 fps (other rates resampled by ffmpeg's fps filter), audio as int16 PCM
//! at its native rate and channel count. ffmpeg's stderr is captured for error reasons.

use std::path::Path;

use ffmpeg_sidecar::command::FfmpegCommand;
use ffmpeg_sidecar::event::{FfmpegEvent, LogLevel, StreamTypeSpecificData};

use crate::ffmpeg::{ffprobe, stall_limit, Watchdog};

/// Decoded video.
#[derive(Debug, Clone)]
pub struct Video {
    /// Frame width.
    pub width: usize,
    /// Frame height.
    pub height: usize,
    /// Source frame rate as ffmpeg reported it.
    pub source_fps: f32,
    /// RGB24 frames at 25 fps.
    pub frames: Vec<Vec<u8>>,
}

/// Decoded audio (interleaved int16).
#[derive(Debug, Clone)]
pub struct Audio {
    /// Native sample rate.
    pub sample_rate: u32,
    /// Channels.
    pub channels: usize,
    /// Interleaved samples.
    pub samples: Vec<i16>,
    /// Audio streams in the file (the first is the one decoded).
    pub streams: usize,
}

/// Why decoding failed, in one line (ffmpeg's own words quoted where it gave any): the skip
/// reason a bad file gets.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// ffmpeg could not be started.
    #[error("cannot start ffmpeg for {what}: {source}")]
    Spawn {
        /// The streams asked for.
        what: &'static str,
        /// Cause.
        source: std::io::Error,
    },
    /// ffmpeg's output could not be read (ffmpeg-sidecar's words).
    #[error("ffmpeg {what}: {detail}")]
    Output {
        /// The streams asked for.
        what: &'static str,
        /// What went wrong.
        detail: String,
    },
    /// ffmpeg failed and produced nothing.
    #[error("ffmpeg could not decode the {what}: \"{why}\"")]
    Failed {
        /// The streams asked for.
        what: &'static str,
        /// ffmpeg's last error line, or its exit status.
        why: String,
    },
    /// The file has no video stream.
    #[error("no video stream")]
    NoVideo,
    /// The video stream gave no frame.
    #[error("video stream decoded to no frames{}", why.as_ref().map(|w| format!(": \"{w}\"")).unwrap_or_default())]
    NoFrames {
        /// ffmpeg's last error line, if any.
        why: Option<String>,
    },
    /// The file has no audio stream.
    #[error("no audio stream (a video without sound cannot be synchronised)")]
    NoAudio,
    /// The audio stream asked for (`--audio-stream`) is not in the file.
    #[error("no audio stream {stream} (ffmpeg's 0:a:{stream} matches none): choose one the file has with --audio-stream")]
    NoAudioStream {
        /// The stream asked for.
        stream: usize,
    },
    /// The audio stream gave no sample.
    #[error("audio stream decoded to no samples")]
    NoSamples,
    /// The joint decode's temporary file.
    #[error("cannot create a temporary video file: {0}")]
    TempFile(std::io::Error),
    /// The joint decode logged errors.
    #[error("ffmpeg reported errors")]
    Reported,
    /// The joint decode lacks a stream.
    #[error("a stream is missing")]
    StreamMissing,
    /// The joint decode's output is cut short.
    #[error("incomplete output")]
    Incomplete,
    /// The joint decode's video file could not be read back.
    #[error("reading the decoded video: {0}")]
    ReadBack(std::io::Error),
    /// ffmpeg made no progress for too long and was stopped (issue #33 point 2: a stuck decoder is
    /// a recorded skip, never a stalled batch).
    #[error(
        "ffmpeg made no progress for {seconds} s and was stopped (a stalled input or decoder); \
             re-encode the file, or raise LIPSYNC_DECODE_STALL_S if it is only slow"
    )]
    Stalled {
        /// The stall limit.
        seconds: u64,
    },
    /// Not a regular file (a FIFO, a device, a directory): reading it could block forever.
    #[error("is {kind}, not a regular file: point at a video file")]
    NotAFile {
        /// What it is.
        kind: &'static str,
    },
    /// Far fewer frames than the container's duration implies (a cut download, a damaged file).
    #[error("truncated or damaged: {frames} frames decoded ({:.2} s at 25 fps) but the container says {seconds:.2} s; re-download or re-encode the file", *frames as f64 / 25.0)]
    Truncated {
        /// Frames decoded.
        frames: usize,
        /// The container's duration.
        seconds: f64,
    },
}

fn channel_count(layout: &str) -> usize {
    match layout.trim() {
        "mono" => 1,
        "stereo" => 2,
        "2.1" | "3.0" => 3,
        "quad" | "4.0" => 4,
        "5.0" => 5,
        "5.1" | "5.1(side)" | "6.0" => 6,
        "7.1" => 8,
        other => other.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or(2),
    }
}

struct Run {
    streams: Vec<StreamTypeSpecificData>,
    /// The size of the rawvideo output, as ffmpeg described it (after autorotation).
    out_size: Option<(usize, usize)>,
    /// The PCM output's rate and channels: those of the audio stream chosen (`0:a:N`), which
    /// need not be the first's.
    out_audio: Option<(u32, usize)>,
    bytes: Vec<u8>,
    errors: Vec<String>,
    /// The input's duration from its header (`Duration:`), when ffmpeg prints one.
    duration: Option<f64>,
}

fn run(mut cmd: FfmpegCommand, what: &'static str) -> Result<Run, DecodeError> {
    run_with(&mut cmd, what, stall_limit())
}

/// Runs ffmpeg, reading its stdout and its stderr at the same time, each on its own thread, from
/// the start. ffmpeg-sidecar's iterator starts reading stdout only once ffmpeg has described
/// every output; with two outputs, a file whose audio comes seconds before its first video
/// packet (some LRS3 and TED mp4s) or 8-channel 384 kHz audio fills the stdout pipe before the
/// video output is described, and both sides waited forever (issue #33 point 2).
fn run_with(
    cmd: &mut FfmpegCommand,
    what: &'static str,
    limit: std::time::Duration,
) -> Result<Run, DecodeError> {
    let mut child = cmd.spawn().map_err(|source| DecodeError::Spawn { what, source })?;
    let mut out = Run {
        streams: Vec::new(),
        out_size: None,
        out_audio: None,
        bytes: Vec::new(),
        errors: Vec::new(),
        duration: None,
    };
    let dog = Watchdog::start(child.as_inner().id(), limit);
    let reader = child.take_stdout().map(|mut stdout| {
        let dog = dog.clone();
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let mut buf = vec![0u8; 1 << 16];
            loop {
                match std::io::Read::read(&mut stdout, &mut buf) {
                    Ok(0) => return Ok(bytes),
                    Ok(n) => {
                        dog.alive();
                        bytes.extend_from_slice(&buf[..n]);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
        })
    });
    let iter = child.iter().map_err(|e| DecodeError::Output { what, detail: e.to_string() });
    let started = iter.as_ref().map(|_| ()).map_err(|e| DecodeError::Output { what, detail: e.to_string() });
    if let Ok(iter) = iter {
        for event in iter {
            dog.alive();
            match event {
                FfmpegEvent::ParsedInputStream(s) => out.streams.push(s.type_specific_data),
                FfmpegEvent::ParsedOutputStream(s) => match &s.type_specific_data {
                    StreamTypeSpecificData::Video(v) if s.format == "rawvideo" => {
                        out.out_size = Some((v.width as usize, v.height as usize));
                    }
                    StreamTypeSpecificData::Audio(a) => {
                        out.out_audio = Some((a.sample_rate, channel_count(&a.channels)));
                    }
                    _ => {}
                },
                FfmpegEvent::Log(LogLevel::Error | LogLevel::Fatal, line) => out.errors.push(line),
                FfmpegEvent::Error(e) => out.errors.push(e),
                FfmpegEvent::ParsedDuration(d) if d.input_index == 0 => out.duration = Some(d.duration),
                _ => {}
            }
        }
    }
    let read = reader.map(|r| r.join());
    let stalled = dog.stop();
    let status = child.wait().map_err(|e| DecodeError::Output { what, detail: e.to_string() })?;
    if stalled {
        return Err(DecodeError::Stalled { seconds: limit.as_secs() });
    }
    match read {
        Some(Ok(Ok(bytes))) => out.bytes = bytes,
        Some(Ok(Err(e))) => {
            return Err(DecodeError::Output { what, detail: format!("reading its output: {e}") })
        }
        Some(Err(_)) => return Err(DecodeError::Output { what, detail: "its output reader failed".into() }),
        None => {}
    }
    started?;
    if !status.success() && out.bytes.is_empty() {
        // A missing stream is named before ffmpeg's hint on how to ignore it: keep that line.
        let missing = out.errors.iter().find(|e| e.contains("matches no streams"));
        let why = missing.or(out.errors.last()).cloned().unwrap_or_else(|| format!("exit status {status}"));
        return Err(DecodeError::Failed { what, why: why.trim().to_string() });
    }
    Ok(out)
}

/// Output options of the video stream: the first one, resampled to 25 fps, one decoder thread
/// (the pipeline already runs one worker per core, and ffmpeg's own frame threads would only
/// compete with them).
pub const VIDEO_OUT: [&str; 6] = ["-map", "0:v:0", "-vf", "fps=25", "-threads", "1"];
/// Output options of the audio stream: the first one, as interleaved int16 at its native rate.
/// The audio output's arguments for audio stream `stream` of the input.
fn audio_out(stream: usize) -> [String; 7] {
    [
        "-map".into(),
        format!("0:a:{stream}"),
        "-vn".into(),
        "-f".into(),
        "s16le".into(),
        "-acodec".into(),
        "pcm_s16le".into(),
    ]
}

/// The input video stream's frame rate and size, as ffmpeg reported them.
fn video_stream(streams: &[StreamTypeSpecificData]) -> Option<(f32, usize, usize)> {
    streams.iter().find_map(|s| match s {
        StreamTypeSpecificData::Video(v) => Some((v.fps, v.width as usize, v.height as usize)),
        _ => None,
    })
}

/// The warning for a file with several audio streams, in the same words in every command
/// (`preprocess`, `evaluator sync`, `evaluator lse`; issue #33 point 7).
pub fn several_audio_streams(streams: usize, chosen: usize) -> String {
    match chosen {
        0 => format!("{streams} audio streams: the first is used (choose with --audio-stream N)"),
        k => format!("{streams} audio streams: stream {k} is used (--audio-stream)"),
    }
}

/// The first video stream's frame rate from ffprobe (`r_frame_rate`), for inputs whose stream line
/// ffmpeg-sidecar cannot parse: ffmpeg writes 1000 fps as `1k fps`, and such a file was "no video
/// stream" (issue #33 point 10).
pub fn probe_fps(path: &Path) -> Option<f32> {
    let out = ffprobe(path, "v:0", "stream=r_frame_rate").ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let (n, d) = text.trim().split_once('/')?;
    let (n, d) = (n.parse::<f32>().ok()?, d.parse::<f32>().ok()?);
    (d > 0.0 && n > 0.0).then_some(n / d)
}

/// The source frame rate: as the sidecar parsed it, else ffprobe's (see [`probe_fps`]); None
/// when the file has no video stream at all.
fn source_fps(path: &Path, streams: &[StreamTypeSpecificData], described: bool) -> Option<f32> {
    video_stream(streams).map(|v| v.0).or_else(|| described.then(|| probe_fps(path)).flatten())
}

/// How many audio streams the input has.
fn audio_stream_count(streams: &[StreamTypeSpecificData]) -> usize {
    streams.iter().filter(|s| matches!(s, StreamTypeSpecificData::Audio(_))).count()
}

/// The input audio stream's sample rate and channel count.
fn audio_stream(streams: &[StreamTypeSpecificData]) -> Option<(u32, usize)> {
    streams.iter().find_map(|s| match s {
        StreamTypeSpecificData::Audio(a) => Some((a.sample_rate, channel_count(&a.channels))),
        _ => None,
    })
}

/// A decode whose frames fall short of the container's duration by more than 10 % (and two
/// frames) is truncated (issue #20 point 7: a cut faststart mp4 announces its full length and
/// decodes to its first frames with only warnings). The duration is the container's, the longest
/// stream's: a clip whose video is that much shorter than its audio is flagged too, which a sync
/// corpus wants to know about.
fn check_complete(frames: usize, duration: Option<f64>) -> Result<(), DecodeError> {
    match duration {
        Some(seconds) if seconds.is_finite() && (frames as f64 + 2.0) < 0.9 * seconds * 25.0 => {
            Err(DecodeError::Truncated { frames, seconds })
        }
        _ => Ok(()),
    }
}

fn int16_le(bytes: &[u8]) -> Vec<i16> {
    bytes.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])).collect()
}

/// Decodes the first video stream as rgb24 at 25 fps.
pub fn decode_video(path: &Path) -> Result<Video, DecodeError> {
    regular_file(path)?;
    let mut cmd = FfmpegCommand::new();
    cmd.hide_banner().args(["-threads", "1"]).input(path.as_os_str()).args(VIDEO_OUT).rawvideo();
    let r = run(cmd, "video")?;
    let source_fps = source_fps(path, &r.streams, r.out_size.is_some()).ok_or(DecodeError::NoVideo)?;
    let frame = r.out_size.map_or(0, |(w, h)| w * h * 3);
    let (width, height) = match r.out_size {
        Some(wh) if frame > 0 && !r.bytes.is_empty() => wh,
        _ => return Err(DecodeError::NoFrames { why: r.errors.last().map(|e| e.trim().to_string()) }),
    };
    let frames: Vec<Vec<u8>> = r.bytes.chunks_exact(frame).map(<[u8]>::to_vec).collect();
    check_complete(frames.len(), r.duration)?;
    Ok(Video { width, height, source_fps, frames })
}

/// Refuses what is not a regular file before ffmpeg opens it: a FIFO blocks the opener until a
/// writer comes (issue #33 point 8), a directory or device is no video.
pub fn regular_file(path: &Path) -> Result<(), DecodeError> {
    use std::os::unix::fs::FileTypeExt;
    let Ok(meta) = std::fs::metadata(path) else { return Ok(()) }; // ffmpeg names the error
    let t = meta.file_type();
    let kind = if t.is_file() {
        return Ok(());
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else {
        "not a file"
    };
    Err(DecodeError::NotAFile { kind })
}

/// Decodes the first audio stream as interleaved int16 at its native rate and channel count.
pub fn decode_audio(path: &Path, stream: usize) -> Result<Audio, DecodeError> {
    regular_file(path)?;
    let mut cmd = FfmpegCommand::new();
    cmd.hide_banner().args(["-threads", "1"]).input(path.as_os_str()).args(audio_out(stream)).output("-");
    let r = run(cmd, "audio").map_err(|e| match e {
        DecodeError::Failed { why, .. } if why.contains("matches no streams") && stream == 0 => {
            DecodeError::NoAudio
        }
        DecodeError::Failed { why, .. } if why.contains("matches no streams") => {
            DecodeError::NoAudioStream { stream }
        }
        e => e,
    })?;
    let (sample_rate, channels) = r.out_audio.or(audio_stream(&r.streams)).ok_or(DecodeError::NoAudio)?;
    let samples = int16_le(&r.bytes);
    if samples.is_empty() {
        return Err(DecodeError::NoSamples);
    }
    Ok(Audio { sample_rate, channels, samples, streams: audio_stream_count(&r.streams) })
}

/// Video and audio from one ffmpeg process: audio to stdout as int16 at its native rate, video
/// to a temporary file as rgb24 at 25 fps. For the 2–10 s clips of LRS2, ffmpeg's start-up is
/// about as costly as decoding a clip's audio, so one process instead of two cuts the decode
/// stage's time (issue #3). Where the joint run fails (a missing stream, a damaged file), the
/// streams are decoded separately, so the skip reasons are exactly those of [`decode_video`]
/// and [`decode_audio`].
pub fn decode_av(path: &Path, stream: usize) -> Result<(Video, Audio), DecodeError> {
    match decode_joint(path, stream) {
        Ok(av) => Ok(av),
        Err(e @ (DecodeError::Stalled { .. } | DecodeError::NotAFile { .. })) => Err(e),
        Err(_) => {
            // The audio first: it is small, and a file without it is skipped without holding
            // its whole video in memory (issue #33 point 10: 1.1 GB before failing).
            let audio = decode_audio(path, stream)?;
            Ok((decode_video(path)?, audio))
        }
    }
}

/// [`decode_av`] with the frames left where the joint decode put them, in its temporary file,
/// to be read one at a time ([`Frames::read`]): a worker then holds one frame, not the whole
/// video (issue #20 point 9: 1080p costs ~155 MB per second of clip held in memory). Where the
/// joint decode fails, the separate decodes run as in [`decode_av`] and the frames are in memory.
pub fn decode_av_frames(path: &Path, stream: usize) -> Result<(Frames, Audio), DecodeError> {
    match decode_joint_frames(path, stream) {
        Ok(av) => Ok(av),
        Err(e @ (DecodeError::Stalled { .. } | DecodeError::NotAFile { .. })) => Err(e),
        Err(_) => {
            let audio = decode_audio(path, stream)?;
            let v = decode_video(path)?;
            let len = v.frames.len();
            let store = Store::Memory(v.frames);
            Ok((
                Frames { width: v.width, height: v.height, source_fps: v.source_fps, store, start: 0, len },
                audio,
            ))
        }
    }
}

/// Decoded rgb24 frames at 25 fps, read one at a time: from the joint decode's temporary file
/// (no name, removed with the last handle) or from memory.
#[derive(Debug)]
pub struct Frames {
    /// Frame width.
    pub width: usize,
    /// Frame height.
    pub height: usize,
    /// Source frame rate as ffmpeg reported it.
    pub source_fps: f32,
    store: Store,
    /// The first frame kept (after [`Frames::trim`]) and how many are kept.
    start: usize,
    len: usize,
}

#[derive(Debug)]
enum Store {
    File(std::fs::File),
    Memory(Vec<Vec<u8>>),
}

impl Frames {
    /// Frames kept.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no frame is kept.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes per frame.
    pub fn frame_bytes(&self) -> usize {
        self.width * self.height * 3
    }

    /// Reads frame `i` (of those kept) into `buf`, resized to one frame.
    pub fn read(&self, i: usize, buf: &mut Vec<u8>) -> Result<(), DecodeError> {
        assert!(i < self.len, "frame {i} of {}", self.len);
        let j = self.start + i;
        match &self.store {
            Store::Memory(f) => {
                buf.clear();
                buf.extend_from_slice(&f[j]);
            }
            Store::File(file) => {
                buf.resize(self.frame_bytes(), 0);
                let at = (j * self.frame_bytes()) as u64;
                std::os::unix::fs::FileExt::read_exact_at(file, buf, at).map_err(DecodeError::ReadBack)?;
            }
        }
        Ok(())
    }

    /// Keeps the frames [`crate::trim::trim_frames`] keeps for a shift of `k` frames.
    pub fn trim(&mut self, k: i32) {
        let mut kept: Vec<usize> = (self.start..self.start + self.len).collect();
        crate::trim::trim_frames(&mut kept, k);
        self.start = kept.first().copied().unwrap_or(self.start);
        self.len = kept.len();
    }

    /// Every kept frame in memory.
    pub fn into_video(self) -> Result<Video, DecodeError> {
        let mut frames = Vec::with_capacity(self.len);
        for i in 0..self.len {
            let mut f = Vec::new();
            self.read(i, &mut f)?;
            frames.push(f);
        }
        Ok(Video { width: self.width, height: self.height, source_fps: self.source_fps, frames })
    }
}

/// The joint decode of [`decode_av`] without its fallback (an error names no precise reason).
pub fn decode_joint(path: &Path, stream: usize) -> Result<(Video, Audio), DecodeError> {
    let (frames, audio) = decode_joint_frames(path, stream)?;
    Ok((frames.into_video()?, audio))
}

/// [`decode_joint`] with the frames left in the temporary file.
fn decode_joint_frames(path: &Path, stream: usize) -> Result<(Frames, Audio), DecodeError> {
    regular_file(path)?;
    // The frames go to a temporary file that has no name (O_TMPFILE, or created and unlinked),
    // which ffmpeg opens through /proc/<our pid>/fd/<n>: no signal, not even SIGKILL, can leave
    // it behind (issue #20 point 9: named `lipsync-video-*.rgb` files of up to 1.9 GB survived
    // SIGINT/SIGTERM). Where /proc is not usable ffmpeg fails and the separate decodes run.
    let raw = tempfile::tempfile().map_err(DecodeError::TempFile)?;
    let target = format!("/proc/{}/fd/{}", std::process::id(), std::os::fd::AsRawFd::as_raw_fd(&raw));
    let mut cmd = FfmpegCommand::new();
    // Audio is output #0, on stdout: ffmpeg-sidecar 2.7 matches stdout streams to outputs by the
    // order in which ffmpeg announces them, and an unfiltered audio output is announced first.
    cmd.hide_banner()
        .overwrite()
        .args(["-threads", "1"])
        .input(path.as_os_str())
        .args(audio_out(stream))
        .output("-")
        .args(VIDEO_OUT)
        .args(["-f", "rawvideo", "-pix_fmt", "rgb24"])
        .output(&target);
    let r = run(cmd, "video and audio")?;
    if !r.errors.is_empty() {
        return Err(DecodeError::Reported);
    }
    // The output's size, not the input stream's: ffmpeg autorotates (a phone's portrait clip
    // stored as 1920x1080 with a rotation decodes to 1080x1920).
    let fps = source_fps(path, &r.streams, r.out_size.is_some());
    let (Some(source_fps), Some((sample_rate, channels)), Some((width, height))) =
        (fps, r.out_audio.or(audio_stream(&r.streams)), r.out_size)
    else {
        return Err(DecodeError::StreamMissing);
    };
    let samples = int16_le(&r.bytes);
    let frame = width * height * 3;
    let len = raw.metadata().map_err(DecodeError::ReadBack)?.len() as usize;
    if samples.is_empty() || frame == 0 || len == 0 || !len.is_multiple_of(frame) {
        return Err(DecodeError::Incomplete);
    }
    check_complete(len / frame, r.duration)?;
    let streams = audio_stream_count(&r.streams);
    let frames = Frames { width, height, source_fps, store: Store::File(raw), start: 0, len: len / frame };
    Ok((frames, Audio { sample_rate, channels, samples, streams }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue #33 point 2: a decoder that makes no progress is stopped and becomes a skip reason,
    /// never a stalled batch. The input is a local TCP server that accepts and never sends.
    #[test]
    fn a_stalled_decoder_is_stopped() {
        let (url, server) = crate::ffmpeg::silent_server();
        let mut cmd = FfmpegCommand::new();
        cmd.hide_banner().input(url).args(audio_out(0)).output("-");
        let start = std::time::Instant::now();
        let r = run_with(&mut cmd, "audio", std::time::Duration::from_secs(2));
        assert!(matches!(r, Err(DecodeError::Stalled { seconds: 2 })), "{:?}", r.err());
        assert!(start.elapsed() < std::time::Duration::from_secs(7), "stopped after {:?}", start.elapsed());
        let msg = DecodeError::Stalled { seconds: 2 }.to_string();
        assert!(msg.contains("no progress for 2 s") && !msg.contains('\n'), "{msg}");
        server.join().expect("server thread");
    }

    #[test]
    fn fifos_and_directories_are_not_files() {
        let d = tempfile::tempdir().expect("temp dir");
        let fifo = d.path().join("x.mp4");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo").success());
        let e = decode_av_frames(&fifo, 0).expect_err("a FIFO is refused");
        assert_eq!(e.to_string(), "is a FIFO, not a regular file: point at a video file");
        assert!(matches!(regular_file(d.path()), Err(DecodeError::NotAFile { kind: "a directory" })));
    }
}
