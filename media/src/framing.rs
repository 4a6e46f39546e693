//! The stdin framing of `evaluator sync --stream -`: raw RGB24 frames and 16 kHz PCM, tagged.
//!
//! Little-endian throughout:
//! - header: the 8 bytes `LSSTRM01`, then `u32` width and `u32` height of the frames;
//! - then packets until end of file: `V` followed by one RGB24 frame (`width·height·3` bytes, at
//!   25 fps), or `A` followed by a `u32` sample count n and n `i16` samples (16 kHz mono).
//!
//! Audio and video may come in any interleaving; stream time is counted in video frames.

use std::io::{Read, Write};

use features::CHANNELS;

/// Why a stream could not be read or scored, in one line.
#[derive(Debug, thiserror::Error)]
#[error("stream: {0}")]
pub struct StreamError(pub String);

/// The framing's magic bytes.
pub const MAGIC: &[u8; 8] = b"LSSTRM01";

/// The largest frame the header may announce (8K UHD is 7680×4320).
const MAX_PIXELS: usize = 8192 * 8192;
/// The largest audio packet: one minute at 16 kHz.
const MAX_SAMPLES: usize = 16_000 * 60;

/// One packet of a stream.
#[derive(Debug, Clone, PartialEq)]
pub enum Packet {
    /// An RGB24 frame.
    Video(Vec<u8>),
    /// 16 kHz mono samples.
    Audio(Vec<i16>),
}

/// A reader of the framing.
pub struct FramedReader<R> {
    r: R,
    /// Frame width.
    pub width: usize,
    /// Frame height.
    pub height: usize,
}

impl<R: Read> FramedReader<R> {
    /// Reads the header.
    pub fn new(mut r: R) -> Result<Self, StreamError> {
        let mut head = [0u8; 16];
        r.read_exact(&mut head).map_err(|e| {
            StreamError(format!("no LSSTRM01 header ({e}); the framing is in the README (\"Live streams\")"))
        })?;
        if &head[..8] != MAGIC {
            return Err(StreamError(
                "stdin does not start with LSSTRM01: send the documented framing, or give a file or URL to --stream (ffmpeg decodes it; use pipe:0 for a container on stdin)".into(),
            ));
        }
        let width = u32::from_le_bytes(head[8..12].try_into().expect("4 bytes")) as usize;
        let height = u32::from_le_bytes(head[12..16].try_into().expect("4 bytes")) as usize;
        if width == 0 || height == 0 || width * height > MAX_PIXELS {
            return Err(StreamError(format!("frame size {width}x{height} in the header is not usable")));
        }
        Ok(Self { r, width, height })
    }

    /// The next packet, None at the end of the stream.
    pub fn next_packet(&mut self) -> Result<Option<Packet>, StreamError> {
        let mut tag = [0u8; 1];
        loop {
            match self.r.read(&mut tag) {
                Ok(0) => return Ok(None),
                Ok(_) => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(StreamError(format!("reading the stream: {e}"))),
            }
        }
        let cut = |e: std::io::Error| StreamError(format!("packet cut short ({e})"));
        match tag[0] {
            b'V' => {
                let mut f = vec![0u8; self.width * self.height * CHANNELS];
                self.r.read_exact(&mut f).map_err(cut)?;
                Ok(Some(Packet::Video(f)))
            }
            b'A' => {
                let mut n = [0u8; 4];
                self.r.read_exact(&mut n).map_err(cut)?;
                let n = u32::from_le_bytes(n) as usize;
                if n > MAX_SAMPLES {
                    return Err(StreamError(format!("audio packet of {n} samples (more than a minute)")));
                }
                let mut b = vec![0u8; n * 2];
                self.r.read_exact(&mut b).map_err(cut)?;
                Ok(Some(Packet::Audio(b.chunks_exact(2).map(|c| i16::from_le_bytes([c[0], c[1]])).collect())))
            }
            t => Err(StreamError(format!("unknown packet tag {t:#04x} (expected 'V' or 'A')"))),
        }
    }
}

impl<R: Read> Iterator for FramedReader<R> {
    type Item = Result<Packet, StreamError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_packet().transpose()
    }
}

/// Writes the header of the framing.
pub fn write_header(w: &mut impl Write, width: usize, height: usize) -> std::io::Result<()> {
    w.write_all(MAGIC)?;
    w.write_all(&(width as u32).to_le_bytes())?;
    w.write_all(&(height as u32).to_le_bytes())
}

/// Writes one packet of the framing.
pub fn write_packet(w: &mut impl Write, p: &Packet) -> std::io::Result<()> {
    match p {
        Packet::Video(f) => {
            w.write_all(b"V")?;
            w.write_all(f)
        }
        Packet::Audio(s) => {
            w.write_all(b"A")?;
            w.write_all(&(s.len() as u32).to_le_bytes())?;
            let bytes: Vec<u8> = s.iter().flat_map(|v| v.to_le_bytes()).collect();
            w.write_all(&bytes)
        }
    }
}

/// The packets of a decoded clip as a live source would send them: frame k, then the 640
/// samples of frame k (the rest of the audio after the last frame).
pub fn interleave(frames: &[Vec<u8>], pcm: &[i16]) -> Vec<Packet> {
    let per = features::SAMPLES_PER_FRAME;
    let mut out = Vec::with_capacity(frames.len() * 2 + 1);
    for (k, f) in frames.iter().enumerate() {
        out.push(Packet::Video(f.clone()));
        let a = &pcm[(k * per).min(pcm.len())..((k + 1) * per).min(pcm.len())];
        if !a.is_empty() {
            out.push(Packet::Audio(a.to_vec()));
        }
    }
    if pcm.len() > frames.len() * per {
        out.push(Packet::Audio(pcm[frames.len() * per..].to_vec()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_round_trips_and_bad_input_is_one_line() {
        let mut buf = Vec::new();
        write_header(&mut buf, 2, 1).unwrap();
        write_packet(&mut buf, &Packet::Video(vec![1, 2, 3, 4, 5, 6])).unwrap();
        write_packet(&mut buf, &Packet::Audio(vec![-3, 7])).unwrap();
        let mut r = FramedReader::new(buf.as_slice()).unwrap();
        assert_eq!((r.width, r.height), (2, 1));
        assert_eq!(r.next_packet().unwrap(), Some(Packet::Video(vec![1, 2, 3, 4, 5, 6])));
        assert_eq!(r.next_packet().unwrap(), Some(Packet::Audio(vec![-3, 7])));
        assert_eq!(r.next_packet().unwrap(), None);
        let e = FramedReader::new(&b"RIFF0000\0\0\0\0\0\0\0\0"[..]).err().unwrap().to_string();
        assert!(e.contains("LSSTRM01") && !e.contains('\n'), "{e}");
        let mut cut = buf.clone();
        cut.truncate(buf.len() - 1);
        let mut r = FramedReader::new(cut.as_slice()).unwrap();
        r.next_packet().unwrap();
        let e = r.next_packet().unwrap_err().to_string();
        assert!(e.contains("cut short") && !e.contains('\n'), "{e}");
        let mut bad = Vec::new();
        write_header(&mut bad, 0, 4).unwrap();
        assert!(FramedReader::new(bad.as_slice()).err().unwrap().to_string().contains("0x4"));
    }

    #[test]
    fn interleave_sends_each_frame_with_its_audio() {
        let frames = vec![vec![0u8; 3]; 3];
        let pcm: Vec<i16> = (0..2000).map(|i| i as i16).collect();
        let p = interleave(&frames, &pcm);
        // V A V A V A A(rest: 2000 − 1920 = 80 samples)
        assert_eq!(p.len(), 7);
        assert!(matches!(&p[1], Packet::Audio(a) if a.len() == 640 && a[0] == 0));
        assert!(matches!(&p[6], Packet::Audio(a) if a.len() == 80 && a[0] == 1920));
    }
}
