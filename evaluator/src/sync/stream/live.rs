//! Running a stream: packets in, estimates out ([`run`]), and `evaluator sync --stream` over the
//! stdin framing or an ffmpeg source ([`stream`]).

use super::{Estimate, StreamConfig, StreamError, StreamScorer};
use media::framing::{FramedReader, Packet};
use media::live::FfmpegSource;

/// Scores a stream of packets (frames of `width`×`height`), calling `emit` with each estimate
/// and last with the final one (`last: true`), which is also returned.
pub fn run(
    packets: impl Iterator<Item = Result<Packet, StreamError>>,
    (width, height): (usize, usize),
    scorer: &mut StreamScorer<'_>,
    mut emit: impl FnMut(&Estimate) -> std::io::Result<()>,
) -> Result<Estimate, StreamError> {
    let out = |e: std::io::Error| StreamError(format!("writing estimates: {e}"));
    for p in packets {
        if let Some(e) = scorer.push(&p?, width, height) {
            emit(&e).map_err(out)?;
        }
    }
    let last = scorer.finish();
    emit(&last).map_err(out)?;
    Ok(last)
}

/// What `evaluator sync --stream` runs.
#[derive(Debug, Clone)]
pub struct StreamSettings {
    /// `-` for the stdin framing; otherwise a file, URL or `pipe:0` that ffmpeg decodes.
    pub source: String,
    /// Keep reading a file that is still being written.
    pub follow: bool,
    /// Checkpoint.
    pub model: std::path::PathBuf,
    /// Device.
    pub device: nets::device::DeviceSpec,
    /// libtorch threads (one core: 1).
    pub threads: usize,
    /// Audio stream of an ffmpeg source (0: the first).
    pub audio_stream: usize,
    /// Scoring settings.
    pub cfg: StreamConfig,
}

/// `evaluator sync --stream`: scores the source, writing one JSON line per estimate to `out`
/// (flushed at once); returns the final estimate.
pub fn stream(s: &StreamSettings, out: &mut impl std::io::Write) -> crate::Result<Estimate> {
    let device = s.device.device();
    nets::device::set_threads(s.threads);
    let loaded = nets::checkpoint::load(&s.model, None, &device)?;
    let mut scorer = StreamScorer::new(&loaded.model, loaded.config.input, &device, s.cfg)?;
    let mut emit = |e: &Estimate| {
        writeln!(out, "{}", serde_json::to_string(e).expect("serialisable"))?;
        out.flush()
    };
    let failed =
        |e: StreamError| crate::EvalError::Unscorable { video: s.source.clone().into(), reason: e.0 };
    if s.source == "-" {
        let reader = FramedReader::new(std::io::stdin().lock()).map_err(failed)?;
        let size = (reader.width, reader.height);
        run(reader, size, &mut scorer, &mut emit).map_err(failed)
    } else {
        let mut src = FfmpegSource::start(&s.source, s.follow, s.audio_stream).map_err(failed)?;
        let size = (src.width, src.height);
        let last = run(&mut src, size, &mut scorer, &mut emit).map_err(failed)?;
        src.finish(last.frames).map_err(failed)?;
        Ok(last)
    }
}
