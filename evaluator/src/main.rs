//! `evaluator`: thin CLI over the evaluator library.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use evaluator::run::EvalConfig;
use evaluator::table::AccuracyTable;
use nets::device::DeviceArgs;

/// ±15-frame retrieval evaluation of sync models.
#[derive(Parser)]
#[command(version, about)]
#[allow(clippy::large_enum_variant)] // parsed once per run; boxing would only obscure the flags
enum Command {
    /// Scores every utterance of a split with the ±15-frame protocol and writes scores, tables and
    /// provenance to the results directory.
    Run {
        /// Checkpoint: a .pth (VocaLiST / MTDVocaLiST) or our .safetensors.
        #[arg(long)]
        model: PathBuf,
        /// Shard set directory (with manifest.json).
        #[arg(long)]
        shards: PathBuf,
        /// Split to evaluate.
        #[arg(long, default_value = "test")]
        split: String,
        /// Results directory.
        #[arg(long)]
        out: PathBuf,
        /// Run 31 full forwards per window, as the reference does (for verification).
        #[arg(long)]
        naive: bool,
        #[command(flatten)]
        device: DeviceArgs,
        /// Score only the first N windows of every video (not the full protocol: for verification, and
        /// for the embedded `make reproduce` study, which uses 24 to fit its time budget).
        #[arg(long)]
        max_windows: Option<usize>,
        /// Verification only: score only the first N utterances.
        #[arg(long)]
        limit: Option<usize>,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Reports the audio-visual offset of videos or of a shard set's utterances (frames, ms) and a
    /// confidence. One video without --out prints its estimate; with --out, every input is
    /// scored (in parallel, resumable) into sync.parquet and sync.csv.
    Sync {
        /// Video files (any fps, any audio rate).
        videos: Vec<PathBuf>,
        /// A file listing videos, one per line (relative paths from the list's directory).
        #[arg(long)]
        list: Option<PathBuf>,
        /// A directory: every video file under it, recursively, sorted; utterance ids are the
        /// paths under it without extension (`--dir mvlrs_v1/main` gives LRS2's ids).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// A shard set: score its stored utterances (nothing is decoded).
        #[arg(long, conflicts_with_all = ["videos", "list", "dir"])]
        shards: Option<PathBuf>,
        /// The splits of --shards (comma-separated).
        #[arg(long, default_value = "test", requires = "shards", value_delimiter = ',')]
        split: Vec<String>,
        /// Checkpoint: a .pth or our .safetensors.
        #[arg(long)]
        model: PathBuf,
        /// Output directory (sync.parquet, sync.csv; with --keep also keep.txt and clean.json).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Utterances scored at once, each on one libtorch thread (default: one per core). The
        /// numbers do not depend on it.
        #[arg(long, value_parser = cli::at_least_one)]
        jobs: Option<usize>,
        /// Which audio stream of each video to use (0 = the first; a video with several gets a
        /// warning naming the one used), as in `preprocess` and `lse`.
        #[arg(long, default_value_t = 0)]
        audio_stream: usize,
        /// Keep rule, e.g. 'abs(offset) <= 1 && prominence > 0.35': writes the kept ids as a split
        /// list (keep.txt) and the counts kept and dropped (clean.json).
        #[arg(long, requires = "out")]
        keep: Option<evaluator::sync::clean::KeepRule>,
        #[command(flatten)]
        task: cli::TaskArgs,
        #[command(flatten)]
        device: DeviceArgs,
        /// Print JSON (one video).
        #[arg(long)]
        json: bool,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
        #[command(flatten)]
        live: StreamArgs,
        /// One video: write it here with its audio moved by the measured offset (the video
        /// stream copied; with --tracks, the active speaker's offset).
        #[arg(long, conflicts_with_all = ["out", "stream"])]
        write_corrected: Option<PathBuf>,
        /// One video with --tracks: write the tracks picture here (PNG: each track's middle
        /// frame with its box, in track order).
        #[arg(long, requires = "tracks")]
        picture: Option<PathBuf>,
        /// With --out: write every scored video here (its id plus its extension) with its audio
        /// moved by its offset.
        #[arg(long, requires = "out", conflicts_with = "shards")]
        corrected_dir: Option<PathBuf>,
        #[command(flatten)]
        faces: evaluator::faces::TrackArgs,
    },
    /// Times live scoring (`sync --stream`) per preset and thread count: windows/s, time per
    /// stage, the hop that keeps up with 25 fps, and the latency of a paced run at that hop.
    BenchStream {
        /// A clip with a face and audio (repeated to --seconds).
        #[arg(long)]
        video: PathBuf,
        /// Presets (random weights).
        #[arg(long, value_enum, value_delimiter = ',', default_value = "mtdvocalist,micro")]
        presets: Vec<nets::model::Preset>,
        /// libtorch thread counts.
        #[arg(long, value_delimiter = ',', default_value = "1,2")]
        threads: Vec<usize>,
        /// Seconds of stream per run.
        #[arg(long, default_value_t = 8.0)]
        seconds: f32,
        /// Throughput only (no paced run).
        #[arg(long)]
        no_live: bool,
        /// Also write the rows as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Combines the sync results of cluster tasks (`sync --num-shards K`) into --out's
    /// sync.parquet and sync.csv.
    SyncMerge {
        /// The --out the tasks wrote to.
        #[arg(long)]
        out: PathBuf,
        /// Keep rule, as for `sync`.
        #[arg(long)]
        keep: Option<evaluator::sync::clean::KeepRule>,
    },
    /// Applies a keep rule to an existing sync.parquet (no rescoring): keep.txt and clean.json.
    SyncClean {
        /// `sync.parquet` from `evaluator sync --out`.
        table: PathBuf,
        /// Keep rule, e.g. 'abs(offset) <= 1 && prominence > 0.35'.
        #[arg(long)]
        keep: evaluator::sync::clean::KeepRule,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
    },
    /// LSE-C / LSE-D of videos exactly as syncnet_python and Wav2Lip's scores_LSE compute them:
    /// writes lse.parquet, lse.csv (one row per video) and summary.json. Resumable: rerun with
    /// the same --out to score only the videos not yet done.
    Lse {
        /// Video files: 224×224 face crops (syncnet_python's evaluate) or full frames, whose
        /// faces are tracked as run_pipeline.py does, one row per track.
        videos: Vec<PathBuf>,
        /// A file listing videos, one per line (relative paths from the list's directory).
        #[arg(long)]
        list: Option<PathBuf>,
        /// A directory: every video file under it, recursively, sorted.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// SyncNet weights (`syncnet_v2.model`).
        #[arg(long)]
        syncnet: PathBuf,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
        /// Videos scored at once, each on one libtorch thread (default: one per core). The
        /// numbers do not depend on it.
        #[arg(long, value_parser = cli::at_least_one)]
        jobs: Option<usize>,
        /// Which audio stream of each video to use (0 = the first; a video with several gets a
        /// warning naming the one used), as in `preprocess` and `sync`.
        #[arg(long, default_value_t = 0)]
        audio_stream: usize,
        /// Windows per forward (the reference: 20).
        #[arg(long, default_value_t = 20, value_parser = cli::at_least_one)]
        batch: usize,
        /// Frames as the reference gets them (jpeg: ffmpeg MJPEG decoded as cv2.imread does) or
        /// ffmpeg's bgr24 frames without the JPEG round trip (direct; not the reference's numbers).
        #[arg(long, value_enum, default_value = "jpeg")]
        frames: evaluator::lse::FrameSource,
        /// Resize frames that are not 224×224 with cv2.resize's INTER_LINEAR, as Wav2Lip's
        /// scores_LSE does (syncnet_python itself, the default, takes only 224×224).
        #[arg(long, conflicts_with = "full_frame")]
        resize: bool,
        /// Every video is a 224×224 face crop (today's exact path; default: videos of that size).
        #[arg(long, conflicts_with = "full_frame")]
        crops: bool,
        /// Track the faces of every video, whatever its size (default: videos not 224×224).
        #[arg(long)]
        full_frame: bool,
        #[command(flatten)]
        faces: evaluator::faces::TrackArgs,
        /// With --tracks fast: detect faces every N frames (tracking bridges the frames between).
        #[arg(long, default_value_t = 5, value_parser = cli::at_least_one)]
        detect_every: usize,
        /// Write each face track's 224×224 crop video, with its audio, under this directory
        /// (`NNNNN-STEM/TTTTT.avi`, as run_pipeline's pycrop/), for inspection.
        #[arg(long)]
        write_crops: Option<PathBuf>,
        #[command(flatten)]
        device: DeviceArgs,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Table 1 (one row per model, K = 5..15, parameters) as Markdown and CSV and the Fig. 2 plot
    /// (model size vs accuracy, SVG and PNG) from `evaluator run` results directories.
    Compare {
        /// Results directories written by `evaluator run`.
        #[arg(required = true)]
        results: Vec<PathBuf>,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
        /// Add the published LRS2 rows of SPEC §6.8, marked as published figures.
        #[arg(long)]
        published: bool,
    },
    /// Recomputes the accuracy tables from saved raw scores, without a model.
    Tabulate {
        /// `scores.parquet` from `evaluator run`, or a safetensors file with one `<video>.scores`
        /// tensor [N, 31] per video (raw, unmasked).
        scores: PathBuf,
        /// Directory to write accuracy.md / accuracy.csv / accuracy.json into.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// `sync --stream`: a live source.
#[derive(clap::Args, Debug, Clone)]
struct StreamArgs {
    /// Score a live source, one JSON line per second on stdout: `-` for the documented framing
    /// on stdin (README, "Live streams"), or a file, URL or `pipe:0` that ffmpeg decodes.
    #[arg(long, conflicts_with_all = ["videos", "list", "dir", "shards", "out"])]
    stream: Option<String>,
    /// Keep reading a file that is still being written (ffmpeg's `-follow 1`).
    #[arg(long, requires = "stream")]
    follow: bool,
    /// Seconds of windows each estimate averages over (more than 0, at most a day).
    #[arg(long, default_value_t = 10.0, requires = "stream", value_parser = seconds)]
    window_s: f32,
    /// Detect faces every N frames (the last box is held between in a stream; tracking bridges
    /// them with --tracks fast).
    #[arg(long, default_value_t = 5, value_parser = cli::at_least_one)]
    detect_every: usize,
    /// Score every N-th window (1: all); `bench-stream` says which N keeps up on this machine.
    /// At most --window-s × 25, so that every estimate has a window.
    #[arg(long, default_value_t = 1, requires = "stream", value_parser = cli::at_least_one)]
    hop: usize,
    /// libtorch threads for the stream (at most the cores: more are reduced to them).
    #[arg(long, default_value_t = 1, requires = "stream", value_parser = cli::at_least_one)]
    threads: usize,
}

/// `--window-s`: a finite number of seconds above 0, at most a day (issue #33 point 11: 0 and
/// NaN were accepted and every estimate was null).
fn seconds(s: &str) -> Result<f32, String> {
    let v: f32 = s.trim().parse().map_err(|e| format!("{e}"))?;
    if v.is_finite() && v > 0.0 && v <= 86_400.0 {
        Ok(v)
    } else {
        Err(format!("{s} is not a number of seconds above 0 and at most 86400"))
    }
}

fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Run { model, shards, split, out, naive, device, max_windows, limit, quiet } => {
            let device = device.device;
            let cfg = EvalConfig {
                model,
                shards,
                split,
                out: out.clone(),
                naive,
                device,
                max_windows,
                limit,
                quiet,
            };
            let e = evaluator::run::evaluate(&cfg)?;
            print!("{}", e.table.to_markdown());
            for x in &e.provenance.excluded {
                eprintln!("excluded {}: {}", x.utt_id, x.reason);
            }
            if e.non_finite_windows > 0 {
                eprintln!(
                    "evaluator: warning: {} windows have NaN or infinite scores (counted as misses): check the checkpoint",
                    e.non_finite_windows
                );
            }
            let p = &e.provenance;
            let rss = nets::heap::peak_rss_mb().map(|mb| format!(", peak RSS {mb:.0} MB"));
            println!(
                "{} videos scored, {} excluded, {:.1} s ({} path{}); results in {}",
                p.videos,
                p.excluded.len(),
                p.wall_s,
                p.path,
                rss.unwrap_or_default(),
                out.display()
            );
        }
        Command::Sync {
            videos,
            list,
            dir,
            shards,
            split,
            model,
            out,
            jobs,
            audio_stream,
            keep,
            task,
            device,
            json,
            quiet,
            live,
            write_corrected,
            picture,
            corrected_dir,
            faces,
        } => {
            if let Some(source) = live.stream {
                use evaluator::sync::stream::{StreamConfig, StreamSettings};
                let cores = cli::cores();
                if live.threads > cores {
                    eprintln!(
                        "evaluator: --threads {} is more than the {cores} cores; using {cores}",
                        live.threads
                    );
                }
                let settings = StreamSettings {
                    source,
                    follow: live.follow,
                    model,
                    device: device.device,
                    threads: live.threads.min(cores),
                    audio_stream,
                    cfg: StreamConfig {
                        window_s: live.window_s,
                        detect_every: live.detect_every,
                        hop: live.hop,
                        ..StreamConfig::default()
                    },
                };
                evaluator::sync::stream::stream(&settings, &mut std::io::stdout().lock())?;
                return Ok(ExitCode::SUCCESS);
            }
            let Some(out) = out else {
                let [video] = videos.as_slice() else {
                    anyhow::bail!(
                        "give one video, or --out DIR to score several (or --list, --dir, --shards)"
                    );
                };
                if list.is_some() || dir.is_some() {
                    anyhow::bail!("--list and --dir need --out DIR");
                }
                let offset = if faces.tracks.is_some() {
                    let settings =
                        faces.settings(evaluator::faces::TrackDefaults::SYNC, live.detect_every)?;
                    let dev = device.device.device();
                    let loaded = nets::checkpoint::load(&model, None, &dev)?;
                    let mut det = evaluator::faces::Loaded::load(&faces, &dev)?.detector();
                    let r = evaluator::sync::tracks::sync_tracks(
                        video,
                        &loaded.model,
                        &loaded.config.input,
                        &dev,
                        det.as_mut(),
                        &settings,
                        audio_stream,
                    )
                    .map_err(|why| anyhow::anyhow!("{}: {why}", video.display()))?;
                    print_sync_tracks(video, &r, json)?;
                    if let Some(path) = picture {
                        manifests::atomic_write(&path, &r.picture)
                            .with_context(|| format!("writing {}", path.display()))?;
                    }
                    r.speaker.and_then(|t| r.tracks[t].result.as_ref()).map(|r| r.offset_frames)
                } else {
                    let r = evaluator::sync::sync(video, &model, device.device, audio_stream)?;
                    print_sync(video, &r, json)?;
                    Some(r.offset_frames)
                };
                if let Some(path) = write_corrected {
                    let Some(k) = offset else {
                        anyhow::bail!("{}: no offset was measured, so nothing was written", video.display());
                    };
                    media::correct::write_corrected(video, &path, k, audio_stream)
                        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
                    eprintln!("{}: audio moved by {} frames ({} ms)", path.display(), -k, -40 * k);
                }
                return Ok(ExitCode::SUCCESS);
            };
            use evaluator::sync::batch::{Source, SyncBatchConfig};
            let source = match shards {
                Some(dir) => Source::Shards { dir, splits: split },
                None => Source::Videos(evaluator::inputs::keyed(&videos, list.as_deref(), dir.as_deref())?),
            };
            let jobs = jobs.unwrap_or_else(cli::cores);
            let task = task.task()?;
            let cfg = SyncBatchConfig {
                source,
                model,
                out: out.clone(),
                jobs,
                task,
                device: device.device,
                audio_stream,
                keep,
                quiet,
            };
            let videos = match &cfg.source {
                Source::Videos(v) => v.clone(),
                Source::Shards { .. } => Vec::new(),
            };
            let (rows, report) = evaluator::sync::batch::run(&cfg)?;
            let dir = evaluator::sync::batch::task_dir(&out, task);
            print_sync_batch(&rows, report.as_ref(), &dir);
            if let Some(cdir) = corrected_dir {
                let written = write_corrected_dir(&rows, &videos, &cdir, audio_stream)?;
                println!("{written} corrected videos in {}", cdir.display());
            }
            if task.count > 1 {
                println!(
                    "task {}/{} done; when all are, run `evaluator sync-merge --out {}`",
                    task.index,
                    task.count,
                    out.display()
                );
            }
        }
        Command::BenchStream { video, presets, threads, seconds, no_live, json } => {
            use evaluator::sync::stream::bench;
            let settings = bench::BenchStreamSettings { video, presets, threads, seconds, no_live };
            let rows = bench::run(&settings, |r| {
                eprintln!(
                    "bench-stream: {} on {} thread(s): {:.1} windows/s",
                    r.preset, r.threads, r.windows_per_s
                )
            })?;
            print!("{}", bench::to_markdown(&rows));
            if let Some(path) = json {
                let text = serde_json::to_string_pretty(&rows)? + "\n";
                manifests::atomic_write(&path, text.as_bytes())
                    .with_context(|| format!("writing {}", path.display()))?;
            }
        }
        Command::SyncMerge { out, keep } => {
            let (rows, report) = evaluator::sync::batch::merge(&out, keep.as_ref())?;
            print_sync_batch(&rows, report.as_ref(), &out);
        }
        Command::SyncClean { table, keep, out } => {
            let rows = evaluator::sync::batch::read_table(&table)?;
            std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
            let report = evaluator::sync::batch::write_clean(&out, &rows, &keep)?;
            // Nothing is rescored or rewritten here: name the table read, not one in --out.
            let scored = rows.iter().filter(|r| r.result.is_some()).count();
            println!("{scored} of {} utterances scored in {}", rows.len(), table.display());
            print_clean(&report, &out);
        }
        Command::Lse {
            videos,
            list,
            dir,
            syncnet,
            out,
            jobs,
            audio_stream,
            batch,
            frames,
            resize,
            crops,
            full_frame,
            faces,
            detect_every,
            write_crops,
            device,
            quiet,
        } => {
            let videos = evaluator::inputs::collect(&videos, list.as_deref(), dir.as_deref())?;
            let input = match (crops, full_frame) {
                (true, _) => evaluator::lse::LseInput::Crops,
                (_, true) => evaluator::lse::LseInput::FullFrame,
                _ => evaluator::lse::LseInput::Auto,
            };
            let jobs = jobs.unwrap_or_else(cli::cores);
            let cfg = evaluator::lse::LseConfig {
                videos,
                syncnet,
                out: out.clone(),
                jobs,
                device: device.device,
                batch,
                frames,
                resize,
                audio_stream,
                quiet,
                input,
                faces,
                detect_every,
                write_crops,
            };
            let (_, s) = evaluator::lse::run(&cfg)?;
            let fmt = |v: Option<f32>| v.map_or("n/a".to_string(), |v| format!("{v:.3}"));
            println!(
                "LSE-D {}  LSE-C {}  ({} rows scored, {} with a reason, of {} videos; table in {})",
                fmt(s.lse_d),
                fmt(s.lse_c),
                s.scored,
                s.failed,
                cfg.videos.len(),
                out.join(evaluator::lse::run::TABLE).display()
            );
        }
        Command::Compare { results, out, published } => {
            let rows = evaluator::compare::compare(&results, published, &out)?;
            print!("{}", evaluator::compare::to_markdown(&rows));
            println!("wrote {}/table1.md, .csv, .json, fig2_size_vs_accuracy.svg/.png", out.display());
        }
        Command::Tabulate { scores, out } => {
            let videos = evaluator::scores::read_any(&scores)?;
            let table = AccuracyTable::from_scores(videos.iter().map(|(n, r)| (n.clone(), r.as_slice())));
            print!("{}", table.to_markdown());
            if let Some(dir) = out {
                std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
                table.write(&dir)?;
                println!("wrote {}/accuracy.{{md,csv,json}}", dir.display());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_sync(video: &std::path::Path, r: &evaluator::sync::SyncResult, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(r)?);
    } else {
        let (v, o, ms, c, n) = (video.display(), r.offset_frames, r.offset_ms, r.confidence, r.windows);
        let p = r.prominence;
        println!("{v}: offset {o} frames ({ms} ms), confidence {c:.3}, prominence {p:.3}, {n} windows");
    }
    Ok(())
}

/// `sync --corrected-dir`: every scored video with its audio moved by its offset, as
/// `DIR/<id>.<ext>`; a video that cannot be written is reported and the rest go on.
fn write_corrected_dir(
    rows: &[evaluator::sync::row::SyncRow],
    videos: &[(String, PathBuf)],
    dir: &std::path::Path,
    audio_stream: usize,
) -> anyhow::Result<usize> {
    let path_of: std::collections::HashMap<&str, &PathBuf> =
        videos.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let mut written = 0;
    for row in rows {
        let (Some(r), Some(video)) = (&row.result, path_of.get(row.utt_id.as_str())) else { continue };
        let ext = video.extension().map_or("mp4".into(), |e| e.to_string_lossy().into_owned());
        let out = dir.join(format!("{}.{ext}", row.utt_id));
        if let Some(parent) = out.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        match media::correct::write_corrected(video, &out, r.offset_frames, audio_stream) {
            Ok(()) => written += 1,
            Err(e) => eprintln!("{}: not written: {e}", out.display()),
        }
    }
    Ok(written)
}

fn print_sync_tracks(
    video: &std::path::Path,
    r: &evaluator::sync::tracks::VideoSync,
    json: bool,
) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(r)?);
    } else {
        println!("{}: {} face tracks", video.display(), r.tracks.len());
        println!("| track | frames | mean box | offset (frames) | confidence | prominence | |");
        println!("|---|---|---|---|---|---|---|");
        for t in &r.tracks {
            let b = t.mean_box.map(|v| v.round() as i64);
            let speaker = match (r.speaker == Some(t.track), r.active.contains(&t.track)) {
                (true, _) => "speaker",
                (false, true) => "speaker (its shot)",
                _ => "",
            };
            let (o, c, p) = match &t.result {
                Some(s) => (
                    s.offset_frames.to_string(),
                    format!("{:.3}", s.confidence),
                    format!("{:.3}", s.prominence),
                ),
                None => (t.reason.clone().unwrap_or_default(), String::new(), String::new()),
            };
            println!(
                "| {} | {}–{} | {},{},{},{} | {o} | {c} | {p} | {speaker} |",
                t.track, t.first_frame, t.last_frame, b[0], b[1], b[2], b[3]
            );
        }
        for d in &r.dropped {
            println!("dropped: {d}");
        }
    }
    if let Some(w) = &r.warning {
        eprintln!("{}: warning: {w}", video.display());
    }
    Ok(())
}

fn print_sync_batch(
    rows: &[evaluator::sync::row::SyncRow],
    report: Option<&evaluator::sync::clean::CleanReport>,
    dir: &std::path::Path,
) {
    let scored = rows.iter().filter(|r| r.result.is_some()).count();
    println!(
        "{scored} of {} utterances scored; {} in {}",
        rows.len(),
        evaluator::sync::batch::TABLE,
        dir.display()
    );
    if let Some(r) = report {
        print_clean(r, dir);
    }
}

fn print_clean(r: &evaluator::sync::clean::CleanReport, dir: &std::path::Path) {
    let dropped: usize = r.dropped_by_rule.values().sum::<usize>() + r.unscorable.values().sum::<usize>();
    println!(
        "kept {} of {} ({dropped} dropped) by {:?}: {}",
        r.kept,
        r.total,
        r.rule,
        dir.join("keep.txt").display()
    );
}

fn main() -> ExitCode {
    nets::heap::keep_freed_memory(true); // see nets::heap
    run(Command::parse()).unwrap_or_else(|err| {
        eprintln!("evaluator: error: {}", manifests::describe_error(err.as_ref()));
        ExitCode::FAILURE
    })
}
