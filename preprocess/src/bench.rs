//! `preprocess bench`: throughput of the pipeline against plain ffmpeg decoding of the same
//! files (`ffmpeg -i f -f null -`), measured in the same process, plus the time per stage.
//!
//! Per core means per worker on both sides: the pipeline's rate divided by its workers, and plain
//! decoding run as `-threads 1` processes on as many parallel workers. The single-process,
//! all-core plain rate is reported too.

use crate::error::{PreprocessError, Result};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use serde::Serialize;

use crate::engine::RunReport;
use crate::lrs2::{run, RunConfig};
use media::resize::Resize;

/// The bench figures.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// The pipeline run.
    pub run: RunReport,
    /// Worker threads it ran with.
    pub jobs: usize,
    /// Video seconds per wall second, pipeline.
    pub pipeline_video_s_per_s: f64,
    /// The same per worker thread.
    pub pipeline_video_s_per_s_per_core: f64,
    /// Wall seconds of plain ffmpeg decoding of the same files, sequentially.
    pub plain_decode_wall_s: f64,
    /// Video seconds per wall second, plain decoding (one ffmpeg process at a time, ffmpeg's
    /// default threading, i.e. every core).
    pub plain_video_s_per_s: f64,
    /// Video seconds per wall second per core, plain decoding with `-threads 1` in as many
    /// parallel processes as the pipeline has workers: the per-core baseline.
    pub plain_video_s_per_s_per_core: f64,
    /// Pipeline throughput per core divided by plain-decode throughput per core.
    pub ratio_per_core_to_plain: f64,
    /// Pipeline throughput per core divided by single-process, all-core plain decoding (the
    /// stricter figure reported before: it compares one core of ours with every core of ffmpeg).
    pub ratio_per_core_to_plain_all_cores: f64,
}

impl std::fmt::Display for BenchReport {
    /// The report as `preprocess bench` prints it: throughput, the ratios, the stage shares.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (r, s) = (&self.run, &self.run.stages);
        let total = (s.decode + s.detect + s.crop + s.audio + s.mel + r.write).as_secs_f64().max(1e-9);
        writeln!(f, "{:.1} s of video, {} utterances, {} threads", r.video_seconds, r.written, self.jobs)?;
        writeln!(
            f,
            "pipeline: {:.2} video s/s ({:.2} per core)",
            self.pipeline_video_s_per_s, self.pipeline_video_s_per_s_per_core
        )?;
        writeln!(
            f,
            "plain ffmpeg decode: {:.2} video s/s per core (-threads 1, {} workers); {:.2} video s/s one process at a time on all cores",
            self.plain_video_s_per_s_per_core, self.jobs, self.plain_video_s_per_s
        )?;
        writeln!(
            f,
            "ratio per core / plain decode per core: {:.3}  (against one all-core process: {:.3})",
            self.ratio_per_core_to_plain, self.ratio_per_core_to_plain_all_cores
        )?;
        let stages = [
            ("decode", s.decode),
            ("detect", s.detect),
            ("crop", s.crop),
            ("audio", s.audio),
            ("mel", s.mel),
            ("write", r.write),
        ];
        for (name, d) in stages {
            writeln!(f, "  {name:<7} {:>7.2} s  {:>5.1}%", d.as_secs_f64(), 100.0 * d.as_secs_f64() / total)?;
        }
        Ok(())
    }
}

/// Plain `ffmpeg -i f -f null -` over `files` with `jobs` parallel workers; wall seconds.
fn plain_decode(files: &[std::path::PathBuf], jobs: usize, threads: Option<usize>) -> Result<f64> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let t = Instant::now();
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..jobs.max(1))
            .map(|_| {
                s.spawn(|| -> Result<()> {
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(f) = files.get(i) else { return Ok(()) };
                        let mut cmd = Command::new("ffmpeg");
                        cmd.args(["-v", "quiet", "-nostdin"]);
                        if let Some(n) = threads {
                            cmd.args(["-threads", &n.to_string()]);
                        }
                        cmd.arg("-i").arg(f).args(["-f", "null", "-"]);
                        cmd.status()
                            .map_err(|e| PreprocessError::Tool { tool: "ffmpeg", detail: e.to_string() })?;
                    }
                })
            })
            .collect();
        workers.into_iter().try_for_each(|w| {
            w.join().unwrap_or_else(|_| {
                Err(PreprocessError::Tool { tool: "ffmpeg", detail: "worker panicked".into() })
            })
        })
    })?;
    Ok(t.elapsed().as_secs_f64())
}

/// Runs the pipeline into `scratch` (no resume), then plain-decodes every input video.
pub fn bench(cfg: &RunConfig, scratch: &Path) -> Result<BenchReport> {
    let mut cfg = cfg.clone();
    cfg.set.out = scratch.to_path_buf();
    cfg.set.resume = false;
    let report = run(&cfg, &|_| {})?;
    let layout = crate::lrs2::Lrs2Root::discover(&cfg.lrs2_root)?;
    let mut files = Vec::new();
    for &split in &cfg.splits {
        files.extend(layout.items(split)?.into_iter().map(|i| i.video).filter(|p| p.is_file()));
    }
    let plain = plain_decode(&files, 1, None)?;
    let plain_per_core_wall = plain_decode(&files, cfg.set.jobs, Some(1))?;
    let pipeline = report.video_seconds / report.wall.as_secs_f64();
    let per_core = pipeline / cfg.set.jobs.max(1) as f64;
    let plain_rate = report.video_seconds / plain.max(1e-9);
    let plain_per_core = report.video_seconds / plain_per_core_wall.max(1e-9) / cfg.set.jobs.max(1) as f64;
    Ok(BenchReport {
        pipeline_video_s_per_s: pipeline,
        pipeline_video_s_per_s_per_core: per_core,
        plain_decode_wall_s: plain,
        plain_video_s_per_s: plain_rate,
        plain_video_s_per_s_per_core: plain_per_core,
        ratio_per_core_to_plain: per_core / plain_per_core,
        ratio_per_core_to_plain_all_cores: per_core / plain_rate,
        run: report,
        jobs: cfg.set.jobs,
    })
}

/// The reference loaders' loop in Python (`bench/wav2lip_loader.py`), the import's baseline.
const LOADER_SCRIPT: &str = include_str!("../../bench/wav2lip_loader.py");

/// `preprocess bench --layout wav2lip`: import throughput against the Python loaders reading
/// the same files.
#[derive(Debug, Clone, Serialize)]
pub struct ImportBenchReport {
    /// The import run.
    pub run: RunReport,
    /// Whose resize both sides ran.
    pub resize: Resize,
    /// Worker threads of the import.
    pub jobs: usize,
    /// Frames imported.
    pub frames: usize,
    /// Frames per wall second, import (decode, resize, audio, mel, sha256, shard writing).
    pub import_frames_per_s: f64,
    /// The same per worker thread.
    pub import_frames_per_s_per_core: f64,
    /// Frames per wall second of the Python loop (one process, one thread: the reference's
    /// loader), reading and resizing the same frames and reading the audio.
    pub python_frames_per_s: f64,
    /// Import per core ÷ Python.
    pub ratio_per_core: f64,
    /// Import on all its workers ÷ Python.
    pub ratio: f64,
}

impl std::fmt::Display for ImportBenchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (r, s) = (&self.run, &self.run.stages);
        writeln!(
            f,
            "{} frames of {} utterances, --resize {:?}, {} threads",
            self.frames, r.written, self.resize, self.jobs
        )?;
        writeln!(f, "| path | frames/s | per core | ratio (ours ÷ Python) |")?;
        writeln!(f, "|---|---:|---:|---:|")?;
        writeln!(
            f,
            "| preprocess import (decode, resize, mel, shards) | {:.0} | {:.0} | {:.2}× ({:.2}× per core) |",
            self.import_frames_per_s, self.import_frames_per_s_per_core, self.ratio, self.ratio_per_core
        )?;
        writeln!(
            f,
            "| Python loader loop (1 process) | {:.0} | {:.0} | 1 |",
            self.python_frames_per_s, self.python_frames_per_s
        )?;
        let total = (s.decode + s.crop + s.audio + s.mel + r.write).as_secs_f64().max(1e-9);
        for (name, d) in
            [("decode", s.decode), ("resize", s.crop), ("audio", s.audio), ("mel", s.mel), ("write", r.write)]
        {
            writeln!(f, "  {name:<7} {:>7.2} s  {:>5.1}%", d.as_secs_f64(), 100.0 * d.as_secs_f64() / total)?;
        }
        Ok(())
    }
}

/// Runs the import into `scratch` (no resume), then the Python loop with `python` over the
/// same lists.
pub fn bench_import(
    cfg: &crate::wav2lip::ImportConfig,
    scratch: &Path,
    python: &Path,
) -> Result<ImportBenchReport> {
    let mut cfg = cfg.clone();
    cfg.set.out = scratch.to_path_buf();
    cfg.set.resume = false;
    cfg.set.quiet = true;
    let report = crate::wav2lip::import(&cfg, &|_| {})?;
    let frames = (report.video_seconds * features::FPS as f64).round() as usize;
    let lists = cfg.lists.resolve(&cfg.root)?;
    let kind = match cfg.resize {
        Resize::Opencv => "opencv",
        Resize::Torchvision => "torchvision",
    };
    let tool = |detail: String| PreprocessError::Tool { tool: "python", detail };
    let out = Command::new(python)
        .arg("-c")
        .arg(LOADER_SCRIPT)
        .arg(&cfg.root)
        .arg(kind)
        .args(lists.iter().map(|(_, p)| p))
        .output()
        .map_err(|e| tool(format!("{}: {e} (pass --python, or run `make setup`)", python.display())))?;
    if !out.status.success() {
        return Err(tool(
            String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("failed").to_string(),
        ));
    }
    let said: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| tool(format!("unexpected output: {e}")))?;
    let py_seconds = said["seconds"].as_f64().unwrap_or(f64::NAN);
    let py_frames = said["frames"].as_u64().unwrap_or(0) as usize;
    let python_rate = py_frames as f64 / py_seconds.max(1e-9);
    let import_rate = frames as f64 / report.wall.as_secs_f64().max(1e-9);
    let per_core = import_rate / cfg.set.jobs.max(1) as f64;
    Ok(ImportBenchReport {
        resize: cfg.resize,
        jobs: cfg.set.jobs,
        frames,
        import_frames_per_s: import_rate,
        import_frames_per_s_per_core: per_core,
        python_frames_per_s: python_rate,
        ratio_per_core: per_core / python_rate,
        ratio: import_rate / python_rate,
        run: report,
    })
}
