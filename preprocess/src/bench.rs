//! `preprocess bench`: throughput of the pipeline against plain ffmpeg decoding of the same
//! files (`ffmpeg -i f -f null -`), measured in the same process, plus the time per stage.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use serde::Serialize;

use crate::run::{run, RunConfig, RunReport};

/// The bench figures.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// The pipeline run.
    pub run: RunReport,
    /// Video seconds per wall second, pipeline.
    pub pipeline_video_s_per_s: f64,
    /// The same per worker thread.
    pub pipeline_video_s_per_s_per_core: f64,
    /// Wall seconds of plain ffmpeg decoding of the same files, sequentially.
    pub plain_decode_wall_s: f64,
    /// Video seconds per wall second, plain decoding (one ffmpeg process at a time).
    pub plain_video_s_per_s: f64,
    /// Pipeline throughput per core divided by plain-decode throughput (single process).
    pub ratio_per_core_to_plain: f64,
}

/// Runs the pipeline into `scratch` (no resume), then plain-decodes every input video.
pub fn bench(cfg: &RunConfig, scratch: &Path) -> Result<BenchReport, String> {
    let mut cfg = cfg.clone();
    cfg.out = scratch.to_path_buf();
    cfg.resume = false;
    let report = run(&cfg, &|_| {})?;
    let layout = crate::layout::Layout::discover(&cfg.lrs2_root)?;
    let mut files = Vec::new();
    for &split in &cfg.splits {
        files.extend(layout.items(split)?.into_iter().map(|i| i.video).filter(|p| p.is_file()));
    }
    let t = Instant::now();
    for f in &files {
        Command::new("ffmpeg")
            .args(["-v", "quiet", "-nostdin", "-i"])
            .arg(f)
            .args(["-f", "null", "-"])
            .status()
            .map_err(|e| format!("ffmpeg: {e}"))?;
    }
    let plain = t.elapsed().as_secs_f64();
    let pipeline = report.video_seconds / report.wall.as_secs_f64();
    let per_core = pipeline / cfg.jobs.max(1) as f64;
    let plain_rate = report.video_seconds / plain.max(1e-9);
    Ok(BenchReport {
        pipeline_video_s_per_s: pipeline,
        pipeline_video_s_per_s_per_core: per_core,
        plain_decode_wall_s: plain,
        plain_video_s_per_s: plain_rate,
        ratio_per_core_to_plain: per_core / plain_rate,
        run: report,
    })
}
