//! Hostile inputs (issue #20): what a user who interrupts, kills and crafts files does to the
//! release binaries. The tests of the other points of the issue live beside the code they check
//! (`trainer/tests/train.rs`: exact resume after `kill -9`, mid-epoch too, one writer per run,
//! corrupt resume state; `evaluator/tests/run.rs`, `scores_keyed.rs`, `lse_batch.rs`;
//! `preprocess/tests/bad_input.rs`, `resume.rs`; `manifests` unit tests); these are the ones
//! about signals, what a kill leaves behind, and memory on long clips.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lipsync_tests::bin;

fn video_temps(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("lipsync-video-"))
                .collect()
        })
        .unwrap_or_default()
}

fn signal(child: &Child, sig: &str) {
    let st = Command::new("kill").args(["-s", sig, &child.id().to_string()]).status().unwrap();
    assert!(st.success(), "kill -s {sig}");
}

/// SIGTERM, SIGINT and SIGKILL during `preprocess run` leave nothing in `$TMPDIR` (the decoder's
/// frame file has no name; named `lipsync-video-*.rgb` files of up to 1.9 GB used to survive),
/// and no named temporary file ever appears there while it runs.
#[test]
fn signals_leave_no_video_temp_files() {
    let Some(root) = lipsync_tests::shared("grid_samples/lrs2_layout") else { return };
    for sig in ["TERM", "INT", "KILL"] {
        let tmp = tempfile::tempdir().unwrap();
        let scratch = tmp.path().join("tmp");
        std::fs::create_dir_all(&scratch).unwrap();
        let out = tmp.path().join("out");
        let mut child = Command::new(bin("preprocess"))
            .args([
                "run",
                "--lrs2-root",
                root.to_str().unwrap(),
                "--splits",
                "test",
                "--quiet",
                "--no-resume",
            ])
            .args(["--jobs", "2", "--utts-per-shard", "1", "--out", out.to_str().unwrap()])
            .env("TMPDIR", &scratch)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Signal once the first shard is written: the workers are decoding the next clips.
        let start = Instant::now();
        let mut named = Vec::new();
        while child.try_wait().unwrap().is_none() && start.elapsed() < Duration::from_secs(120) {
            named.extend(video_temps(&scratch));
            let shards = std::fs::read_dir(&out).map(|d| d.flatten().count()).unwrap_or(0);
            if shards >= 3 {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        let running = child.try_wait().unwrap().is_none();
        if running {
            signal(&child, sig);
        }
        child.wait().unwrap();
        std::thread::sleep(Duration::from_millis(300)); // any ffmpeg child has gone by now
        assert!(named.is_empty(), "named temporary files appeared: {named:?}");
        let left: Vec<String> = std::fs::read_dir(&scratch)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert!(left.is_empty(), "SIG{sig} (sent: {running}) left {left:?} in $TMPDIR");
    }
}

/// A `kill -9` mid-write leaves `.<name>.tmp-<pid>` beside an output; the next run that holds the
/// output's lock removes it.
#[test]
fn temp_files_a_kill_left_are_removed_by_the_next_run() {
    let Some(weights) = lipsync_tests::shared("golden/syncnet/syncnet_rand.model") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("lse");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join(".lse.csv.tmp-99999"), vec![0u8; 1 << 16]).unwrap();
    std::fs::write(out.join(".summary.json.tmp-12"), b"{").unwrap();
    let st = Command::new(bin("evaluator"))
        .args(["lse", tmp.path().join("absent.mp4").to_str().unwrap(), "--quiet"])
        .args(["--syncnet", weights.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let mut left: Vec<String> =
        std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    left.sort();
    assert_eq!(left, ["lse.csv", "lse.jsonl", "lse.parquet", "summary.json"]);
}

/// Peak resident memory (`VmHWM`, kB) of `cmd`, read from /proc while it runs (the high-water
/// mark only grows, so the last reading before it exits is its peak up to then).
fn peak_rss_kb(mut cmd: Command) -> u64 {
    let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let status = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    while child.try_wait().unwrap().is_none() {
        let hwm = std::fs::read_to_string(&status).ok().and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches(" kB").parse().ok())
        });
        peak = peak.max(hwm.unwrap_or(0));
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    peak
}

/// A worker's memory does not grow with the clip (issue #20 point 9: whole clips were decoded
/// into memory, ~155 MB per second of 1080p per worker): `preprocess run` on a 3 s and a 24 s
/// 640×480 clip peaks within 80 MB of each other, where holding the 24 s clip's frames alone
/// would take 553 MB more. The shards hold every frame's crop.
#[test]
fn preprocess_memory_does_not_grow_with_clip_length() {
    let Some(src) = lipsync_tests::shared("grid_samples/raw/bbaf2n.mpg") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let mut peaks = Vec::new();
    for (name, loops) in [("short", 0), ("long", 7)] {
        let root = tmp.path().join(name);
        let main = root.join("mvlrs_v1/main/clip");
        std::fs::create_dir_all(&main).unwrap();
        let clip = main.join("00001.mp4");
        lipsync_tests::clips::reencoded(&src, loops, "scale=640:480", &clip);
        let s = |p: &Path| p.to_str().unwrap().to_string();
        std::fs::write(root.join("mvlrs_v1/test.txt"), "clip/00001\n").unwrap();
        let out = tmp.path().join(format!("{name}-out"));
        let mut cmd = Command::new(bin("preprocess"));
        cmd.args([
            "run",
            "--lrs2-root",
            &s(&root),
            "--splits",
            "test",
            "--jobs",
            "1",
            "--quiet",
            "--out",
            &s(&out),
        ]);
        peaks.push(peak_rss_kb(cmd));
        let m = manifests::Manifest::read(&out.join("manifest.json")).unwrap();
        let rows: usize = m.shards.iter().map(|e| e.utterances.len()).sum();
        assert_eq!((rows, m.skipped.len()), (1, 0), "{name}: {m:?}");
    }
    let (short, long) = (peaks[0], peaks[1]);
    assert!(long < short + 80_000, "peak RSS {short} kB on 3 s, {long} kB on 24 s of 640x480");
}
