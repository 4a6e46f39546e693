//! Hostile inputs (issue #20): what a user who interrupts, kills and crafts files does to the
//! release binaries. The tests of the other points of the issue live beside the code they check
//! (`trainer/tests/train.rs`: exact resume after `kill -9`, mid-epoch too, one writer per run,
//! corrupt resume state; `evaluator/tests/run.rs`, `scores_keyed.rs`, `lse_batch.rs`;
//! `preprocess/tests/bad_input.rs`, `resume.rs`; `manifests` unit tests); these are the ones
//! about signals and what a kill leaves behind.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent().and_then(Path::parent).expect("target/release/deps/<test>").join(name)
}

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

/// SIGTERM and SIGINT during `preprocess run` remove the decoder's `lipsync-video-*.rgb` files
/// (up to gigabytes each for long clips), and the run exits with status 130.
#[test]
fn signals_leave_no_video_temp_files() {
    let Some(root) = lipsync_tests::shared("grid_samples/lrs2_layout") else { return };
    for sig in ["TERM", "INT"] {
        let mut caught = false;
        for _attempt in 0..8 {
            let tmp = tempfile::tempdir().unwrap();
            let scratch = tmp.path().join("tmp");
            std::fs::create_dir_all(&scratch).unwrap();
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
                .args(["--jobs", "2", "--out", tmp.path().join("out").to_str().unwrap()])
                .env("TMPDIR", &scratch)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let start = Instant::now();
            let mut seen = false;
            while child.try_wait().unwrap().is_none() && start.elapsed() < Duration::from_secs(120) {
                if !video_temps(&scratch).is_empty() {
                    seen = true;
                    break;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            if !seen {
                let _ = child.kill();
                let _ = child.wait();
                continue; // the run ended between two polls: try again
            }
            signal(&child, sig);
            let out = child.wait_with_output().unwrap();
            std::thread::sleep(Duration::from_millis(300)); // any ffmpeg child has gone by now
            assert_eq!(out.status.code(), Some(130), "SIG{sig}: {}", String::from_utf8_lossy(&out.stderr));
            assert!(String::from_utf8_lossy(&out.stderr).contains("temporary file"));
            let left = video_temps(&scratch);
            assert!(left.is_empty(), "SIG{sig} left {left:?}");
            caught = true;
            break;
        }
        assert!(caught, "SIG{sig}: never caught the run with a temporary file open in 8 attempts");
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
