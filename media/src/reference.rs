//! The reference's inputs, as `SyncNetInstance.evaluate` gets them (`../shared/golden/syncnet`
//! README, steps 1–2), streamed instead of written to a temporary directory:
//! - audio: `ffmpeg -y -i VIDEO -async 1 -ac 1 -vn -acodec pcm_s16le -ar 16000`, the same samples
//!   written as raw s16le to a pipe instead of a WAV file;
//! - frames ([`FrameSource::Jpeg`], the default): `ffmpeg -y -i VIDEO -threads 1 -f image2
//!   DIR/%06d.jpg` writes one ffmpeg-MJPEG file per frame at the encoder's default quality, which
//!   `cv2.imread` decodes with libjpeg-turbo to BGR. We ask ffmpeg for the same MJPEG packets on a
//!   pipe (`-f image2pipe -c:v mjpeg`: the same encoder with the same defaults; a test compares
//!   the bytes with the image2 files), split the stream at each JPEG's end, and decode each with
//!   libjpeg-turbo as OpenCV does ([`crate::jpeg`]);
//! - frames without the JPEG round trip ([`FrameSource::Direct`]): ffmpeg's own `bgr24`
//!   conversion. Cheaper, and not the reference's numbers (see the README for how far it moves
//!   them).
//!
//! Frames arrive one at a time, so memory does not grow with the video's length.

use std::io::{BufReader, Read};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::ffmpeg::{ffprobe, stall_limit, Watchdog};

/// How frames reach the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FrameSource {
    /// The reference's: ffmpeg's default-quality MJPEG, decoded as cv2.imread decodes it.
    Jpeg,
    /// ffmpeg's bgr24 frames, no JPEG round trip (faster; numbers move slightly).
    Direct,
}

/// A media problem: one line for the reason column.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct MediaError(pub String);

/// An ffmpeg process whose stderr is collected on a thread (so a full pipe never blocks it), under
/// a stall watchdog ([`Watchdog`]: no byte for `LIPSYNC_DECODE_STALL_S`
/// seconds stops it, and the video gets that reason instead of stalling the batch).
struct Ffmpeg {
    child: Child,
    stdout: Option<Watched>,
    stderr: Option<JoinHandle<String>>,
    dog: Arc<Watchdog>,
}

/// ffmpeg's stdout; every read is a sign of progress for the watchdog.
struct Watched {
    out: ChildStdout,
    dog: Arc<Watchdog>,
}

impl Read for Watched {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.dog.waiting(true);
        let n = self.out.read(buf);
        // Until the next read, the time is the consumer's (a slow detector is no stall).
        self.dog.waiting(false);
        n
    }
}

impl Ffmpeg {
    fn spawn(video: &Path, args: &[&str]) -> Result<Self, MediaError> {
        Self::spawn_to(video, args, Path::new("pipe:1"))
    }

    fn spawn_to(video: &Path, args: &[&str], output: &Path) -> Result<Self, MediaError> {
        let mut child = Command::new("ffmpeg")
            .args(["-nostdin", "-hide_banner", "-v", "error", "-y", "-i"])
            .arg(video)
            .args(args)
            .arg(output)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| MediaError(format!("cannot run ffmpeg ({e}); install it (make setup)")))?;
        let dog = Watchdog::start(child.id(), stall_limit());
        let stdout = child.stdout.take().map(|out| Watched { out, dog: dog.clone() });
        let mut err = child.stderr.take().expect("piped stderr");
        let stderr = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        });
        Ok(Self { child, stdout, stderr: Some(stderr), dog })
    }

    /// Waits for the exit; an error carries ffmpeg's first stderr line.
    fn finish(mut self, what: &str) -> Result<(), MediaError> {
        drop(self.stdout.take());
        let stalled = self.dog.stop();
        let status = self.child.wait().map_err(|e| MediaError(format!("ffmpeg ({what}): {e}")))?;
        if stalled {
            let seconds = stall_limit().as_secs();
            return Err(MediaError(crate::decode::DecodeError::Stalled { seconds }.to_string()));
        }
        let log = self.stderr.take().map(|h| h.join().unwrap_or_default()).unwrap_or_default();
        if status.success() {
            return Ok(());
        }
        Err(ffmpeg_reason(&log, what))
    }
}

impl Drop for Ffmpeg {
    fn drop(&mut self) {
        if self.stdout.is_some() {
            self.dog.stop();
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// One line from ffmpeg's stderr for the reason column: a missing stream named as such, else the
/// first message without its `[demuxer @ 0x…]` prefix (an address, which would make the output
/// differ from run to run).
fn ffmpeg_reason(log: &str, what: &str) -> MediaError {
    if log.contains("does not contain any stream") || log.contains("matches no streams") {
        return MediaError(format!("no {what} stream"));
    }
    let line = log.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("no message");
    let line = match (line.starts_with('['), line.find("] ")) {
        (true, Some(i)) => &line[i + 2..],
        _ => line,
    };
    MediaError(format!("unreadable file ({what}): {line}"))
}

/// The 16 kHz mono int16 samples the reference extracts (`scipy.io.wavfile.read` of its WAV), from
/// audio stream `stream` (0: the first). The reference names no stream, so ffmpeg picks one; with
/// a single audio stream that is the same stream. With several, every command takes the one
/// `--audio-stream` names, the first by default, and says so ([`audio_streams`]; issue #33
/// point 7: `sync` took the first and `lse` ffmpeg's pick).
pub fn pcm_16k(video: &Path, stream: usize) -> Result<Vec<i16>, MediaError> {
    let map = format!("0:a:{stream}");
    let mut ff = Ffmpeg::spawn(
        video,
        &[
            "-map",
            &map,
            "-async",
            "1",
            "-ac",
            "1",
            "-vn",
            "-acodec",
            "pcm_s16le",
            "-ar",
            "16000",
            "-f",
            "s16le",
        ],
    )?;
    let mut bytes = Vec::new();
    ff.stdout.as_mut().expect("piped").read_to_end(&mut bytes).map_err(|e| MediaError(e.to_string()))?;
    ff.finish("audio")?;
    if bytes.is_empty() {
        return Err(MediaError("no audio stream".into()));
    }
    Ok(bytes.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])).collect())
}

/// `ffmpeg -y -i VIDEO ARGS OUTPUT` to a file, under the stall watchdog (ffmpeg's `-progress`
/// lines on stdout are its signs of life): run_pipeline's AVI conversion. An error is one line.
pub fn transcode(video: &Path, args: &[&str], output: &Path, what: &str) -> Result<(), MediaError> {
    let args: Vec<&str> = args.iter().copied().chain(["-nostats", "-progress", "pipe:1"]).collect();
    let mut ff = Ffmpeg::spawn_to(video, &args, output)?;
    std::io::copy(ff.stdout.as_mut().expect("piped"), &mut std::io::sink())
        .map_err(|e| MediaError(format!("ffmpeg ({what}): {e}")))?;
    ff.finish(what)
}

/// One decoded frame: `height × width × 3` bytes in BGR order (as `cv2.imread`).
#[derive(Debug, Clone)]
pub struct Frame {
    /// Width.
    pub width: usize,
    /// Height.
    pub height: usize,
    /// BGR bytes, row-major.
    pub bgr: Vec<u8>,
}

/// Frames of a video, one at a time.
pub struct Frames {
    ff: Option<Ffmpeg>,
    reader: BufReader<Watched>,
    source: FrameSource,
    size: (usize, usize),
}

/// How many audio streams `video` has (ffprobe; 0 where it cannot tell).
pub fn audio_streams(video: &Path) -> usize {
    ffprobe(video, "a", "stream=index")
        .map(|o| String::from_utf8_lossy(&o.stdout).lines().filter(|l| !l.trim().is_empty()).count())
        .unwrap_or(0)
}

/// Width and height of the first video stream as ffmpeg decodes it (ffprobe): a stream with a
/// display rotation of ±90° (a phone's portrait clip stored landscape) is autorotated by ffmpeg,
/// so its sides are swapped here (issue #31: frames were read at the stored size, scrambled).
pub fn probe_size(video: &Path) -> Result<(usize, usize), MediaError> {
    let out = ffprobe(video, "v:0", "stream=width,height:stream_side_data=rotation")
        .map_err(|e| MediaError(format!("cannot run ffprobe ({e}); install ffmpeg (make setup)")))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut values = text.split([',', '\n']).filter(|v| !v.trim().is_empty());
    let mut it = values.by_ref().take(2).map(|v| v.trim().parse::<usize>());
    let size = (it.next(), it.next());
    let quarter_turn =
        values.filter_map(|v| v.trim().parse::<f64>().ok()).any(|r| (r.round() as i64).rem_euclid(180) == 90);
    let size = match size {
        (Some(Ok(w)), Some(Ok(h))) if quarter_turn => (Some(Ok(h)), Some(Ok(w))),
        s => s,
    };
    match (out.status.success(), size.0, size.1) {
        (true, Some(Ok(w)), Some(Ok(h))) if w > 0 && h > 0 => Ok((w, h)),
        (true, _, _) => Err(MediaError("no video stream".into())),
        _ => Err(ffmpeg_reason(&String::from_utf8_lossy(&out.stderr), "video")),
    }
}

impl Frames {
    /// Starts decoding `video`.
    pub fn open(video: &Path, source: FrameSource) -> Result<Self, MediaError> {
        Self::open_with(video, source, &[])
    }

    /// Starts decoding `video` with more output options before the format's own (run_pipeline's
    /// `-qscale:v 2` JPEGs, a `-r 25` resampling, `-vsync passthrough` as OpenCV reads).
    pub fn open_with(video: &Path, source: FrameSource, options: &[&str]) -> Result<Self, MediaError> {
        let size = probe_size(video)?;
        let format: &[&str] = match source {
            FrameSource::Jpeg => &["-threads", "1", "-f", "image2pipe", "-c:v", "mjpeg"],
            FrameSource::Direct => &["-threads", "1", "-f", "rawvideo", "-pix_fmt", "bgr24"],
        };
        let args: Vec<&str> = options.iter().chain(format).copied().collect();
        let mut ff = Ffmpeg::spawn(video, &args)?;
        let reader = BufReader::with_capacity(1 << 20, ff.stdout.take().expect("piped"));
        Ok(Self { ff: Some(ff), reader, source, size })
    }

    /// Frame size as probed.
    pub fn size(&self) -> (usize, usize) {
        self.size
    }

    /// The next frame, None at the end of the video.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, MediaError> {
        let (w, h) = self.size;
        let frame = match self.source {
            FrameSource::Jpeg => match next_jpeg(&mut self.reader)? {
                None => None,
                Some(bytes) => {
                    let img = crate::jpeg::decode_rgb(&bytes)
                        .map_err(|e| MediaError(format!("frame JPEG: {e}")))?;
                    let mut bgr = img.data;
                    bgr.chunks_exact_mut(3).for_each(|p| p.swap(0, 2));
                    Some(Frame { width: img.width, height: img.height, bgr })
                }
            },
            FrameSource::Direct => {
                let mut bgr = vec![0u8; w * h * 3];
                self.read_raw(&mut bgr)?.then_some(Frame { width: w, height: h, bgr })
            }
        };
        self.finish_at_end(frame.is_some())?;
        Ok(frame)
    }

    /// Passes over the next frame without decoding it (frames past the last scorable window are
    /// only counted); false at the end of the video.
    pub fn skip_frame(&mut self) -> Result<bool, MediaError> {
        let more = match self.source {
            FrameSource::Jpeg => next_jpeg(&mut self.reader)?.is_some(),
            FrameSource::Direct => {
                let (w, h) = self.size;
                let mut scratch = vec![0u8; w * h * 3];
                self.read_raw(&mut scratch)?
            }
        };
        self.finish_at_end(more)?;
        Ok(more)
    }

    /// Fills `buf` with one raw frame: false at a clean end, an error for a partial frame.
    fn read_raw(&mut self, buf: &mut [u8]) -> Result<bool, MediaError> {
        match read_full(&mut self.reader, buf)? {
            0 => Ok(false),
            n if n == buf.len() => Ok(true),
            n => Err(MediaError(format!("truncated raw frame ({n} of {} bytes)", buf.len()))),
        }
    }

    /// At the end of the stream, waits for ffmpeg and reports its failure.
    fn finish_at_end(&mut self, more: bool) -> Result<(), MediaError> {
        match (more, self.ff.take()) {
            (false, Some(ff)) => ff.finish("video"),
            (_, ff) => {
                self.ff = ff;
                Ok(())
            }
        }
    }
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> Result<usize, MediaError> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(MediaError(format!("reading frames: {e}"))),
        }
    }
    Ok(n)
}

fn byte(r: &mut impl Read) -> Result<Option<u8>, MediaError> {
    let mut b = [0u8];
    Ok((read_full(r, &mut b)? == 1).then_some(b[0]))
}

/// Reads one JPEG (SOI … EOI) from a stream of concatenated JPEGs, walking its segments: marker
/// segments by their lengths, entropy-coded data up to the next marker (`FF` followed by neither
/// a stuffed `00` nor a restart marker). None at a clean end of stream.
pub fn next_jpeg(r: &mut impl Read) -> Result<Option<Vec<u8>>, MediaError> {
    let bad = |what: &str| MediaError(format!("bad MJPEG stream from ffmpeg: {what}"));
    let mut out = Vec::with_capacity(64 << 10);
    match (byte(r)?, byte(r)?) {
        (None, _) => return Ok(None),
        (Some(0xFF), Some(0xD8)) => out.extend_from_slice(&[0xFF, 0xD8]),
        _ => return Err(bad("no start-of-image marker")),
    }
    let mut pending: Option<u8> = None; // a marker byte already read while scanning entropy data
    loop {
        let marker = match pending.take() {
            Some(m) => m,
            None => {
                if byte(r)? != Some(0xFF) {
                    return Err(bad("expected a marker"));
                }
                let mut m = byte(r)?.ok_or_else(|| bad("truncated"))?;
                while m == 0xFF {
                    m = byte(r)?.ok_or_else(|| bad("truncated"))?;
                }
                m
            }
        };
        out.extend_from_slice(&[0xFF, marker]);
        match marker {
            0xD9 => return Ok(Some(out)),
            0x01 | 0xD0..=0xD7 => continue,
            _ => {}
        }
        let (hi, lo) = (byte(r)?.ok_or_else(|| bad("truncated"))?, byte(r)?.ok_or_else(|| bad("truncated"))?);
        let len = u16::from_be_bytes([hi, lo]) as usize;
        if len < 2 {
            return Err(bad("segment length below 2"));
        }
        out.extend_from_slice(&[hi, lo]);
        let start = out.len();
        out.resize(start + len - 2, 0);
        if read_full(r, &mut out[start..])? != len - 2 {
            return Err(bad("truncated segment"));
        }
        if marker != 0xDA {
            continue;
        }
        // Entropy-coded data after start-of-scan.
        loop {
            let b = byte(r)?.ok_or_else(|| bad("truncated scan"))?;
            if b != 0xFF {
                out.push(b);
                continue;
            }
            let mut next = byte(r)?.ok_or_else(|| bad("truncated scan"))?;
            while next == 0xFF {
                next = byte(r)?.ok_or_else(|| bad("truncated scan"))?;
            }
            match next {
                0x00 | 0xD0..=0xD7 => out.extend_from_slice(&[0xFF, next]),
                m => {
                    pending = Some(m);
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue #33 point 2: an ffmpeg that makes no progress is stopped by the watchdog and the
    /// video gets that reason. The input is a loopback server that accepts and never sends.
    #[test]
    fn a_stalled_decoder_becomes_a_reason() {
        // Every other reader of the variable in this crate's unit tests sees progress well within 2 s.
        std::env::set_var("LIPSYNC_DECODE_STALL_S", "2");
        let (url, server) = crate::ffmpeg::silent_server();
        let start = std::time::Instant::now();
        let e = pcm_16k(Path::new(&url), 0).expect_err("stalled");
        assert!(e.0.contains("no progress for 2 s"), "{e}");
        assert!(start.elapsed() < std::time::Duration::from_secs(7), "{:?}", start.elapsed());
        server.join().expect("server thread");
    }
}
