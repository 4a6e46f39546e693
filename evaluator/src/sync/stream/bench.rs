//! `evaluator bench-stream`: can a preset score a live 25 fps source in real time, on how many
//! threads, and with which latency?
//!
//! A clip is decoded once (the preprocessing's decoder and resampler), repeated to `seconds` of
//! stream and sent as a live source sends it: each frame, then its 640 samples
//! ([`media::framing::interleave`]). Per preset (random weights: the cost does not depend on
//! them) and libtorch thread count:
//! 1. **Throughput**: every window scored (`hop` 1), packets fed as fast as the scorer takes
//!    them: windows/s, and the time per stage per window.
//! 2. **The hop that keeps up**: from those stage times, the smallest `hop` for which one second
//!    of stream costs at most [`BUDGET`] s (the per-frame work, faces and audio, is paid for
//!    every frame; the per-window work, visual prenet and transformers, for 1/hop of them).
//! 3. **Live**: the packets paced at 25 fps with that hop: the latency of each scored window
//!    (from the arrival of its last input to its scores) and how far the scorer was behind the
//!    source when it ended.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use burn::tensor::Device;
use features::{FPS, SAMPLES_PER_FRAME};
use nets::model::{Preset, SyncTransformer};
use serde::Serialize;

use super::{StreamConfig, StreamScorer};
use crate::error::{EvalError, Result};
use media::framing::{interleave, Packet};

/// The share of a core one second of stream may take for a hop to count as keeping up (some
/// headroom for the decoder and the rest of the machine).
pub const BUDGET: f64 = 0.9;

/// Settings of the bench.
#[derive(Debug, Clone)]
pub struct BenchStreamSettings {
    /// The clip (any video with a face and audio).
    pub video: PathBuf,
    /// Presets to time.
    pub presets: Vec<Preset>,
    /// libtorch thread counts.
    pub threads: Vec<usize>,
    /// Seconds of stream per run.
    pub seconds: f32,
    /// Skip the paced (live) runs.
    pub no_live: bool,
}

/// One (preset, threads) row.
#[derive(Debug, Clone, Serialize)]
pub struct BenchStreamRow {
    /// Preset name.
    pub preset: String,
    /// Parameters.
    pub params: usize,
    /// libtorch threads.
    pub threads: usize,
    /// Windows scored in the throughput run.
    pub windows: usize,
    /// Windows per second with every window scored.
    pub windows_per_s: f64,
    /// Per window, ms: face detection and crops (per frame), mel and audio prenet (per frame),
    /// visual prenet, transformers (31 pairs).
    pub ms_faces: f64,
    /// See `ms_faces`.
    pub ms_audio: f64,
    /// See `ms_faces`.
    pub ms_video: f64,
    /// See `ms_faces`.
    pub ms_pairs: f64,
    /// Seconds of compute per second of stream at hop 1 (≤ 1: real time).
    pub load_hop1: f64,
    /// The smallest hop within [`BUDGET`].
    pub hop: usize,
    /// Paced run at that hop: median window latency, ms.
    pub latency_p50_ms: Option<f64>,
    /// 95th percentile.
    pub latency_p95_ms: Option<f64>,
    /// How far behind the source the scorer ended, ms (0: it kept up).
    pub behind_ms: Option<f64>,
}

/// The clip's packets, repeated to at least `seconds` of stream, and the frame size.
pub fn clip_packets(video: &std::path::Path, seconds: f32) -> Result<(Vec<Packet>, (usize, usize))> {
    let bad = |reason: String| EvalError::Unscorable { video: video.to_path_buf(), reason };
    let (v, a) = media::decode::decode_av(video, 0).map_err(|e| bad(e.to_string()))?;
    let pcm = media::audio::to_16k_mono(&a).map_err(|e| bad(e.to_string()))?;
    let n = v.frames.len().min(pcm.len() / SAMPLES_PER_FRAME);
    if n < 25 {
        return Err(bad(format!("{n} frames with audio: the bench needs a clip of at least 1 s")));
    }
    let want = (seconds * FPS as f32).ceil() as usize;
    let (mut frames, mut samples) = (Vec::with_capacity(want), Vec::with_capacity(want * SAMPLES_PER_FRAME));
    while frames.len() < want {
        let take = n.min(want - frames.len());
        frames.extend_from_slice(&v.frames[..take]);
        samples.extend_from_slice(&pcm[..take * SAMPLES_PER_FRAME]);
    }
    Ok((interleave(&frames, &samples), (v.width, v.height)))
}

fn feed(scorer: &mut StreamScorer<'_>, packets: &[Packet], size: (usize, usize), paced: bool) -> Duration {
    let start = Instant::now();
    let mut frame = 0usize;
    for p in packets {
        if paced {
            if let Packet::Video(_) = p {
                let due = start + Duration::from_secs_f64(frame as f64 / FPS as f64);
                std::thread::sleep(due.saturating_duration_since(Instant::now()));
                frame += 1;
            }
        }
        scorer.push(p, size.0, size.1);
    }
    scorer.finish();
    start.elapsed()
}

fn percentile(v: &mut [Duration], q: f64) -> Option<f64> {
    v.sort();
    let i = ((v.len() as f64 - 1.0) * q).round() as usize;
    v.get(i).map(|d| d.as_secs_f64() * 1e3)
}

/// Runs one preset at one thread count.
fn bench_one(
    model: &SyncTransformer,
    preset: Preset,
    threads: usize,
    device: &Device,
    packets: &[Packet],
    size: (usize, usize),
    live: bool,
) -> Result<BenchStreamRow> {
    nets::device::set_threads(threads);
    let conv = preset.config().input;
    let mut s = StreamScorer::new(model, conv, device, StreamConfig::default())?;
    let wall = feed(&mut s, packets, size, false).as_secs_f64();
    let frames = packets.iter().filter(|p| matches!(p, Packet::Video(_))).count() as f64;
    let per_window = |d: Duration| d.as_secs_f64() * 1e3 / s.scored.max(1) as f64;
    let per_frame = |d: Duration| d.as_secs_f64() * 1e3 / frames;
    let t = s.times;
    // One second of stream: 25 frames' faces and audio, 25/hop windows' prenet and pairs.
    let frame_s = (t.faces + t.audio).as_secs_f64() / frames;
    let window_s = (t.video + t.pairs).as_secs_f64() / s.scored.max(1) as f64;
    let load = |hop: usize| FPS as f64 * frame_s + FPS as f64 / hop as f64 * window_s;
    let hop = (1..=FPS as usize).find(|&h| load(h) <= BUDGET).unwrap_or(FPS as usize);
    let mut row = BenchStreamRow {
        preset: preset.config().name,
        params: model.param_count(),
        threads,
        windows: s.scored,
        windows_per_s: s.scored as f64 / wall,
        ms_faces: per_frame(t.faces),
        ms_audio: per_frame(t.audio),
        ms_video: per_window(t.video),
        ms_pairs: per_window(t.pairs),
        load_hop1: load(1),
        hop,
        latency_p50_ms: None,
        latency_p95_ms: None,
        behind_ms: None,
    };
    if live {
        let mut s = StreamScorer::new(model, conv, device, StreamConfig { hop, ..StreamConfig::default() })?;
        let wall = feed(&mut s, packets, size, true);
        let stream = Duration::from_secs_f64((frames - 1.0) / FPS as f64);
        row.latency_p50_ms = percentile(&mut s.window_latencies, 0.5);
        row.latency_p95_ms = percentile(&mut s.window_latencies, 0.95);
        row.behind_ms = Some(wall.saturating_sub(stream).as_secs_f64() * 1e3);
    }
    Ok(row)
}

/// Runs the bench: one row per preset and thread count.
pub fn run(
    s: &BenchStreamSettings,
    mut progress: impl FnMut(&BenchStreamRow),
) -> Result<Vec<BenchStreamRow>> {
    let (packets, size) = clip_packets(&s.video, s.seconds)?;
    let device = nets::device::DeviceSpec::Cpu.device();
    let mut rows = Vec::new();
    for &preset in &s.presets {
        device.seed(0);
        let model = preset.config().init(&device);
        for &threads in &s.threads {
            let row = bench_one(&model, preset, threads, &device, &packets, size, !s.no_live)?;
            progress(&row);
            rows.push(row);
        }
    }
    Ok(rows)
}

/// The rows as a Markdown table.
pub fn to_markdown(rows: &[BenchStreamRow]) -> String {
    let mut out = String::from(
        "| preset | params | threads | windows/s (hop 1) | ms/window: faces + audio + video + pairs | load at hop 1 | hop for real time | latency p50 / p95 (ms) | behind at end (ms) |\n|---|---:|---:|---:|---|---:|---:|---|---:|\n",
    );
    let opt = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{v:.0}"));
    for r in rows {
        out += &format!(
            "| {} | {} | {} | {:.1} | {:.1} + {:.1} + {:.1} + {:.1} | {:.2} | {} | {} / {} | {} |\n",
            r.preset,
            r.params,
            r.threads,
            r.windows_per_s,
            r.ms_faces,
            r.ms_audio,
            r.ms_video,
            r.ms_pairs,
            r.load_hop1,
            r.hop,
            opt(r.latency_p50_ms),
            opt(r.latency_p95_ms),
            opt(r.behind_ms),
        );
    }
    out
}
