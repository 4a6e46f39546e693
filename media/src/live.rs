//! A live source decoded by ffmpeg (`evaluator sync --stream FILE|URL|pipe:0`): frames as RGB24
//! at 25 fps on ffmpeg's stdout (the preprocessing's own video options,
//! [`crate::decode::VIDEO_OUT`]), audio as 16 kHz mono `s16le` on a pipe, each read by its
//! own thread and handed over in arrival order.
//!
//! - The audio pipe has no name: ffmpeg opens it through `/proc/<our pid>/fd/<n>` (as the
//!   preprocessing's joint decode does), so nothing is left in `$TMPDIR`. Our write end is
//!   dropped once ffmpeg's stdout has ended, so the audio reader sees the end of the stream.
//! - The frame size is read from ffmpeg's description of its rawvideo output on stderr.
//! - The audio is resampled by ffmpeg (`-ar 16000 -ac 1`), not by the preprocessing's rubato
//!   resampler: a stream's offsets are those of ffmpeg's samples.
//! - `follow` keeps reading a file that is still being written (ffmpeg's file protocol
//!   `-follow 1`); the stream then ends when ffmpeg is stopped.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStderr, Command, Stdio};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};

use features::{CHANNELS, SAMPLES_PER_FRAME, SAMPLE_RATE};

use crate::framing::{Packet, StreamError};

/// Packets queued between the readers and the scorer (a few seconds of stream).
const QUEUE: usize = 128;
/// Seconds of audio kept before the first video frame is described; a source with more is
/// refused (a bounded wait and bounded memory, not a hang).
const PRE_VIDEO_S: usize = 60;

type Sender = SyncSender<Result<Packet, StreamError>>;

/// A running ffmpeg decode of a live source; iterate it for its packets.
pub struct FfmpegSource {
    child: Child,
    /// Packets read before the video's size was known, given out first.
    early: std::collections::VecDeque<Result<Packet, StreamError>>,
    rx: Receiver<Result<Packet, StreamError>>,
    last_error: Arc<Mutex<Option<String>>>,
    source: String,
    /// Frame width.
    pub width: usize,
    /// Frame height.
    pub height: usize,
}

impl FfmpegSource {
    /// Starts ffmpeg on `source` (a file, a URL ffmpeg reads, or `pipe:0` for a container on
    /// our stdin) and waits until it has described its video output.
    pub fn start(source: &str, follow: bool, audio_stream: usize) -> Result<Self, StreamError> {
        let (audio_r, audio_w) =
            std::io::pipe().map_err(|e| StreamError(format!("cannot make a pipe: {e}")))?;
        let target = format!("/proc/{}/fd/{}", std::process::id(), std::os::fd::AsRawFd::as_raw_fd(&audio_w));
        let on_stdin = source == "pipe:0";
        let mut cmd = Command::new("ffmpeg");
        // No progress lines: they end in '\r', so over a long stream they would pile up into one
        // ever-growing line on stderr.
        cmd.args(["-hide_banner", "-nostats", "-loglevel", "info", "-threads", "1"]);
        if !on_stdin {
            cmd.arg("-nostdin");
        }
        if follow {
            // A growing file may hold less than ffmpeg's default 5 MB probe for a long while.
            cmd.args(["-follow", "1", "-probesize", "65536", "-analyzeduration", "1000000"]);
        }
        let input =
            if follow && !source.contains(':') { format!("file:{source}") } else { source.to_string() };
        cmd.args(["-i", &input]);
        cmd.args(crate::decode::VIDEO_OUT).args(["-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]);
        let rate = SAMPLE_RATE.to_string();
        let map = format!("0:a:{audio_stream}");
        cmd.args(["-map", &map, "-vn", "-ac", "1", "-ar", &rate, "-f", "s16le", "-y", &target]);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd.stdin(if on_stdin { Stdio::inherit() } else { Stdio::null() });
        let mut child =
            cmd.spawn().map_err(|e| StreamError(format!("cannot start ffmpeg: {e} (is it installed?)")))?;
        let stderr = child.stderr.take().expect("piped above");
        let mut stdout = child.stdout.take().expect("piped above");
        let last_error = Arc::new(Mutex::new(None));
        let (size_tx, size_rx) = sync_channel(1);
        let errors = last_error.clone();
        std::thread::spawn(move || watch_stderr(stderr, size_tx, errors));
        // The audio is read from the start (issue #33 point 2): ffmpeg describes its video output
        // only once the first frame is through, and a source whose audio comes seconds before its
        // video filled the audio pipe first, so both sides waited forever. What comes before the
        // size is known is kept here (16 kHz mono: 32 KB a second), up to PRE_VIDEO_S seconds.
        let (tx, rx) = sync_channel(QUEUE);
        let audio_tx: Sender = tx.clone();
        std::thread::spawn(move || read_audio(audio_r, audio_tx));
        let mut early = std::collections::VecDeque::new();
        let mut early_samples = 0usize;
        let size = loop {
            match size_rx.recv_timeout(std::time::Duration::from_millis(50)) {
                Ok(size) => break size,
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break None,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            }
            while let Ok(p) = rx.try_recv() {
                if let Ok(Packet::Audio(a)) = &p {
                    early_samples += a.len();
                }
                early.push_back(p);
            }
            if early_samples > PRE_VIDEO_S * SAMPLE_RATE as usize {
                let _ = child.kill();
                let _ = child.wait();
                return Err(StreamError(format!(
                    "{source}: no video frame within the first {PRE_VIDEO_S} s of audio; is there a video stream?"
                )));
            }
        };
        let Some((width, height)) = size else {
            let _ = child.wait();
            let why = last_error.lock().expect("not poisoned").clone();
            let why = why.unwrap_or_else(|| "it stopped before describing the video".into());
            return Err(StreamError(format!("ffmpeg cannot read {source}: {why}")));
        };
        let video_tx: Sender = tx;
        let frame = width * height * CHANNELS;
        std::thread::spawn(move || {
            loop {
                let mut f = vec![0u8; frame];
                // The end of the stream (a cut last frame is dropped, as ffmpeg's own readers do).
                if stdout.read_exact(&mut f).is_err() || video_tx.send(Ok(Packet::Video(f))).is_err() {
                    break;
                }
            }
            drop(audio_w);
        });
        Ok(Self { child, early, rx, last_error, source: source.to_string(), width, height })
    }

    /// Waits for ffmpeg after the last packet: an error if it failed without having sent a
    /// frame (its last error line names why).
    pub fn finish(mut self, frames: usize) -> Result<(), StreamError> {
        let status = self.child.wait().map_err(|e| StreamError(format!("waiting for ffmpeg: {e}")))?;
        if !status.success() && frames == 0 {
            let why = self.last_error.lock().expect("not poisoned").clone();
            return Err(StreamError(format!(
                "ffmpeg failed on {}: {}",
                self.source,
                why.unwrap_or_else(|| status.to_string())
            )));
        }
        Ok(())
    }
}

impl Iterator for FfmpegSource {
    type Item = Result<Packet, StreamError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.early.pop_front().or_else(|| self.rx.recv().ok())
    }
}

impl Drop for FfmpegSource {
    fn drop(&mut self) {
        // Stopped early (an error downstream): do not leave ffmpeg running.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Reads the audio pipe, one packet per read (at most one frame's samples each).
fn read_audio(mut r: std::io::PipeReader, tx: Sender) {
    let mut buf = vec![0u8; SAMPLES_PER_FRAME * 2];
    let mut odd: Option<u8> = None;
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let mut bytes: Vec<u8> = odd.take().into_iter().chain(buf[..n].iter().copied()).collect();
        if bytes.len() % 2 == 1 {
            odd = bytes.pop();
        }
        let s = bytes.chunks_exact(2).map(|c| i16::from_le_bytes([c[0], c[1]])).collect();
        if tx.send(Ok(Packet::Audio(s))).is_err() {
            return;
        }
    }
}

/// Drains ffmpeg's stderr: sends the rawvideo output's size once (None if ffmpeg ends first)
/// and keeps the last error line.
fn watch_stderr(
    stderr: ChildStderr,
    size: SyncSender<Option<(usize, usize)>>,
    last_error: Arc<Mutex<Option<String>>>,
) {
    let mut in_output = false;
    let mut sent = false;
    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
        if line.starts_with("Output #") {
            in_output = true;
        }
        if !sent && in_output && line.contains("Video: rawvideo") {
            if let Some(wh) = frame_size(&line) {
                let _ = size.send(Some(wh));
                sent = true;
            }
        }
        let lower = line.to_lowercase();
        if lower.contains("error")
            || lower.contains("invalid")
            || lower.contains("no such")
            || lower.contains("matches no streams")
        {
            *last_error.lock().expect("not poisoned") = Some(line.trim().to_string());
        }
    }
    if !sent {
        let _ = size.send(None);
    }
}

/// The `WxH` of an ffmpeg stream line (`..., rgb24(pc, ...), 320x240 [SAR 1:1 ...], ...`).
fn frame_size(line: &str) -> Option<(usize, usize)> {
    line.split([',', ' ']).find_map(|tok| {
        let (w, h) = tok.split_once('x')?;
        let (w, h) = (w.parse::<usize>().ok()?, h.parse::<usize>().ok()?);
        (w > 0 && h > 0).then_some((w, h))
    })
}

#[cfg(test)]
mod tests {
    use super::frame_size;

    #[test]
    fn frame_size_of_ffmpeg_stream_lines() {
        let l = "  Stream #0:0: Video: rawvideo (RGB[24] / 0x18424752), rgb24(pc, gbr/unknown/unknown, progressive), 360x288 [SAR 1:1 DAR 5:4], q=2-31, 62208 kb/s, 25 fps, 25 tbn";
        assert_eq!(frame_size(l), Some((360, 288)));
        assert_eq!(frame_size("  Stream #1:0: Video: rawvideo, rgb24, 96x48, 25 fps"), Some((96, 48)));
        assert_eq!(frame_size("  Stream #0:1: Audio: pcm_s16le, 16000 Hz, mono, s16, 256 kb/s"), None);
    }
}
