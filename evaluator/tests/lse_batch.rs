//! `evaluator lse` as a batch job: bad inputs get a reason and never stop the batch, the summary
//! is the reference's mean, a run killed with SIGKILL and resumed writes the same bytes as an
//! uninterrupted run, a journal of other settings is refused, and wrong weights fail at once.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use lipsync_tests::clips;

const VIDEOS: [&str; 3] = ["sn_bbaf2n_sync", "sn_lbax4n_plus3", "sn_lwbsza_minus6"];

fn lse(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_evaluator"));
    c.arg("lse").args(args).arg("--quiet");
    c
}

fn ok(out: Output) -> Output {
    assert!(out.status.success(), "evaluator lse failed: {}", String::from_utf8_lossy(&out.stderr));
    out
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn outputs(dir: &Path) -> Vec<Vec<u8>> {
    ["lse.parquet", "lse.csv", "summary.json"].iter().map(|f| std::fs::read(dir.join(f)).unwrap()).collect()
}

#[test]
fn batch_with_bad_inputs_and_exact_resume() {
    let Some(golden) = lipsync_tests::shared("golden/syncnet") else { return };
    let weights = golden.join("syncnet_rand.model");
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(golden.join("syncnet_expected.json")).unwrap())
            .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let t = |n: &str| tmp.path().join(n);
    let first = golden.join(format!("{}.mp4", VIDEOS[0]));
    clips::without_audio(&first, &t("noaudio.mp4"));
    clips::without_video(&first, &t("novideo.mp4"));
    clips::short(&first, &t("short.mp4"));
    std::fs::write(t("junk.mp4"), b"not a video at all").unwrap();
    lipsync_tests::ffmpeg(&["-i", s(&first), "-vf", "scale=160:160", s(&t("small.mp4"))]);
    // A list: golden videos by absolute path, bad ones relative to the list, a comment.
    let mut list = String::from("# videos\n");
    for v in VIDEOS {
        list += &format!("{}\n", golden.join(format!("{v}.mp4")).display());
    }
    for b in ["noaudio.mp4", "novideo.mp4", "short.mp4", "junk.mp4", "small.mp4", "missing.mp4"] {
        list += &format!("{b}\n");
    }
    std::fs::write(t("list.txt"), list).unwrap();
    let a = t("a");
    let list_path = t("list.txt");
    let args = ["--list", s(&list_path), "--syncnet", s(&weights)];
    ok(lse(&args).args(["--out", s(&a), "--jobs", "2"]).output().unwrap());

    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(a.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["scored"], 3);
    assert_eq!(summary["failed"], 6);
    assert_eq!(summary["syncnet_sha256"].as_str().unwrap(), manifests::sha256_file(&weights).unwrap());
    let csv = std::fs::read_to_string(a.join("lse.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(rows.len(), 9, "one row per video, in list order:\n{csv}");
    let (mut conf, mut dist) = (0f32, 0f32);
    for (row, v) in rows.iter().zip(VIDEOS) {
        let f: Vec<&str> = row.split(',').collect();
        let exp = &expected["videos"][v];
        assert!(f[0].ends_with(&format!("{v}.mp4")), "{row}");
        assert_eq!(f[1..4], ["", "", ""], "a 224×224 video is a face crop, not tracked: {row}");
        assert_eq!(f[4].parse::<i64>().unwrap(), exp["offset"].as_i64().unwrap());
        let (c, d): (f32, f32) = (f[5].parse().unwrap(), f[6].parse().unwrap());
        assert!((c as f64 - exp["confidence"].as_f64().unwrap()).abs() <= 1e-4, "{v}: confidence {c}");
        assert!((d as f64 - exp["min_dist"].as_f64().unwrap()).abs() <= 1e-4, "{v}: min_dist {d}");
        assert_eq!(f[7].parse::<u64>().unwrap(), exp["num_windows"].as_u64().unwrap());
        assert_eq!(f.len(), 10 + 31);
        conf += c;
        dist += d;
    }
    assert_eq!(summary["lse_c"].as_f64().unwrap() as f32, conf / 3.0);
    assert_eq!(summary["lse_d"].as_f64().unwrap() as f32, dist / 3.0);
    for (row, (name, needle)) in rows[3..].iter().zip([
        ("noaudio.mp4", "no audio stream"),
        ("novideo.mp4", "no video stream"),
        ("short.mp4", "too short"),
        ("junk.mp4", "unreadable"),
        ("small.mp4", "160×160"),
        ("missing.mp4", "no such file"),
    ]) {
        assert!(row.contains(name) && row.contains(needle), "{name}: {row}");
        assert!(!row.contains("0x"), "{name}: the reason carries an address: {row}");
    }

    // Killed with SIGKILL mid-run, then resumed: the same bytes as the uninterrupted run.
    let b = t("b");
    let mut child = lse(&args).args(["--out", s(&b)]).spawn().unwrap();
    let journal = b.join("lse.jsonl");
    let start = std::time::Instant::now();
    while std::fs::read_to_string(&journal).map_or(0, |j| j.lines().count()) < 2
        && start.elapsed().as_secs() < 120
        && child.try_wait().unwrap().is_none()
    {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let kept = std::fs::read_to_string(&journal).unwrap().lines().count();
    ok(lse(&args).args(["--out", s(&b)]).output().unwrap());
    if outputs(&a) != outputs(&b) {
        let keep = tempfile::Builder::new().prefix("lse-resume-").tempdir().unwrap().keep();
        let _ = Command::new("cp").args(["-r", s(&a), s(&b), s(&keep)]).status();
        panic!("resumed run (killed after {} rows) differs; kept in {}", kept - 1, keep.display());
    }
    // A cut last journal line (a kill during the write) is scored again, not an error.
    let j = std::fs::read_to_string(&journal).unwrap();
    let lines: Vec<&str> = j.lines().collect();
    std::fs::write(&journal, format!("{}\n{}", lines[..3].join("\n"), &lines[3][..10])).unwrap();
    ok(lse(&args).args(["--out", s(&b)]).output().unwrap());
    assert!(outputs(&a) == outputs(&b), "resumed after a cut line differs");

    // Other settings into the same --out are refused, naming the journal.
    let out = lse(&args).args(["--out", s(&b), "--frames", "direct"]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("lse.jsonl") && err.contains("another --out"), "{err}");
}

#[test]
fn wrong_weights_fail_at_once_with_one_line() {
    let (Some(golden), Some(vocalist)) =
        (lipsync_tests::shared("golden/syncnet"), lipsync_tests::shared("golden/mtdvocalist_rand.pth"))
    else {
        return;
    };
    let video = golden.join("sn_bbaf2n_sync.mp4");
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("junk.model"), b"garbage").unwrap();
    for (weights, needle) in [
        (vocalist, "not syncnet_python's weights"),
        (tmp.path().join("junk.model"), "unreadable checkpoint"),
        (tmp.path().join("absent.model"), "no such file"),
    ] {
        let out =
            lse(&[s(&video), "--syncnet", s(&weights), "--out", s(&tmp.path().join("o"))]).output().unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains(weights.to_str().unwrap()) && err.contains(needle), "{err}");
    }
}

/// The public `syncnet_v2.model` predates torch 1.6's zip format: the legacy format loads too,
/// to the same weights.
#[test]
fn legacy_torch_save_loads_the_same_weights() {
    let (Some(golden), Some(python)) = (lipsync_tests::shared("golden/syncnet"), lipsync_tests::python())
    else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let legacy: PathBuf = tmp.path().join("legacy.model");
    let script = "import sys, torch; sd = torch.load(sys.argv[1], weights_only=True); \
                  torch.save(sd, sys.argv[2], _use_new_zipfile_serialization=False)";
    let zip = golden.join("syncnet_rand.model");
    let st = Command::new(python).args(["-c", script, s(&zip), s(&legacy)]).status().unwrap();
    assert!(st.success());
    assert_ne!(&std::fs::read(&legacy).unwrap()[..2], b"PK", "legacy format, not zip");
    let device = nets::device::DeviceSpec::Cpu.device();
    let a = nets::syncnet::SyncNet::load(&zip, &device).unwrap();
    let b = nets::syncnet::SyncNet::load(&legacy, &device).unwrap();
    let x = || {
        let v: Vec<f32> = (0..2 * 13 * 20).map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0).collect();
        burn::tensor::Tensor::<4>::from_data(burn::tensor::TensorData::new(v, [2, 1, 13, 20]), &device)
    };
    let ya: Vec<f32> = a.forward_aud(x()).into_data().try_into_vec().unwrap();
    let yb: Vec<f32> = b.forward_aud(x()).into_data().try_into_vec().unwrap();
    assert!(ya == yb);
}
