//! `evaluator sync` at scale (issue #18): synthetic clips shifted by known offsets are measured in
//! one batch call, filtered, corrected with `preprocess run --shift-audio`, and measured again;
//! a resumed run, a run with other `--jobs` and a two-task cluster run + `sync-merge` give
//! byte-identical tables; videos given by `--dir` are measured as their shards are.
//!
//! It uses the model shipped in `models/` (trained on the synthetic corpus, see its README).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use preprocess::synth::{generate, SynthConfig};

const OFFSETS: [i32; 4] = [-4, 0, 3, 6];
const SPLITS: &str = "pretrain,train,val,test";

fn model() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/synth-micro-teacher.safetensors")
}

fn evaluator(args: &[&str]) -> String {
    let out = Command::new(lipsync_tests::bin("evaluator")).args(args).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "evaluator {args:?}: {text}");
    text
}

fn shards(corpus: &Path, out: &Path, shift: Option<&Path>) {
    let shift = shift.map(|p| p.to_str().expect("UTF-8 path"));
    let extra: Vec<&str> = shift.into_iter().flat_map(|p| ["--shift-audio", p]).collect();
    let manifest = lipsync_tests::preprocess_corpus(corpus, &shards::Split::ALL, out, &extra);
    assert_eq!(manifest.skipped.len(), 0, "every synthetic clip preprocesses");
}

fn sync_shards(shards: &Path, out: &Path, extra: &[&str]) -> Vec<evaluator::sync::row::SyncRow> {
    let (s, o, m) = (shards.to_str().unwrap(), out.to_str().unwrap(), model());
    let mut args = vec!["sync", "--shards", s, "--split", SPLITS, "--model", m.to_str().unwrap(), "--out", o];
    args.extend_from_slice(extra);
    args.push("--quiet");
    evaluator(&args);
    let task =
        extra.iter().position(|a| *a == "--shard-index").map(|i| format!("task-{}-of-2", extra[i + 1]));
    evaluator::sync::batch::read_table(&task.map_or(out.to_path_buf(), |t| out.join(t)).join("sync.parquet"))
        .unwrap()
}

fn truth(corpus: &Path) -> BTreeMap<String, i32> {
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(corpus.join("mvlrs_v1/synth.json")).unwrap()).unwrap();
    meta["offsets"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_i64().unwrap() as i32))
        .collect()
}

fn bytes(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn measure_filter_correct_measure_again() {
    let dir = tempfile::tempdir().unwrap();
    let d = |n: &str| dir.path().join(n);
    let cfg =
        SynthConfig { speakers: 3, utterances_per_speaker: 4, seed: 99, offset_frames: OFFSETS.to_vec() };
    generate(&d("corpus"), &cfg, 2, true).unwrap();
    let truth = truth(&d("corpus"));
    assert_eq!(truth.len(), 12);
    shards(&d("corpus"), &d("shards"), None);

    // One batch call measures every clip: offset, ms, a 31-value curve whose best is the offset.
    let rows = sync_shards(&d("shards"), &d("m1"), &["--keep", "abs(offset) <= 1", "--jobs", "2"]);
    assert_eq!(rows.len(), 12);
    for r in &rows {
        let est = r.result.as_ref().unwrap_or_else(|| panic!("{} not scored: {:?}", r.utt_id, r.reason));
        assert_eq!(est.offset_frames, truth[&r.utt_id], "{}: {est:?}", r.utt_id);
        assert_eq!(est.offset_ms, 40 * est.offset_frames);
        assert_eq!(est.mean_scores.len(), 31);
        let best = est.mean_scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        assert_eq!(est.mean_scores[(est.offset_frames + 15) as usize], best);
        assert!(est.confidence > 0.0 && est.windows > 20, "{est:?}");
    }
    // The filter keeps exactly the in-sync clips and counts the rest.
    let kept: Vec<String> =
        std::fs::read_to_string(d("m1/keep.txt")).unwrap().lines().map(str::to_string).collect();
    let in_sync: Vec<String> =
        rows.iter().filter(|r| truth[&r.utt_id] == 0).map(|r| r.utt_id.clone()).collect();
    assert_eq!(kept, in_sync);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d("m1/clean.json")).unwrap()).unwrap();
    assert_eq!((report["total"].as_u64(), report["kept"].as_u64()), (Some(12), Some(3)));
    assert_eq!(report["dropped_by_rule"]["abs(offset) <= 1"].as_u64(), Some(9));
    // sync-clean re-filters the table without rescoring.
    evaluator(&[
        "sync-clean",
        d("m1/sync.parquet").to_str().unwrap(),
        "--keep",
        "offset > 0",
        "--out",
        d("c").to_str().unwrap(),
    ]);
    let late = std::fs::read_to_string(d("c/keep.txt")).unwrap();
    assert_eq!(late.lines().count(), 6, "{late}");

    // Correct: shards whose audio is moved by the measured offsets, measured again: all 0.
    shards(&d("corpus"), &d("shards2"), Some(&d("m1/sync.parquet")));
    let again = sync_shards(&d("shards2"), &d("m2"), &[]);
    let offsets: Vec<i32> = again.iter().map(|r| r.result.as_ref().expect("scored").offset_frames).collect();
    assert_eq!(offsets, vec![0; 12], "{again:?}");
    // Windows lost to the trimmed ends: |K| frames each.
    for (a, b) in rows.iter().zip(&again) {
        let (a, b) = (a.result.as_ref().unwrap(), b.result.as_ref().unwrap());
        assert_eq!(a.windows - b.windows, truth_abs(a.offset_frames), "{a:?} {b:?}");
    }

    // Resume after a kill: a journal cut after 5 rows, mid-line, is finished to the same bytes.
    let journal = std::fs::read_to_string(d("m1/sync.jsonl")).unwrap();
    let lines: Vec<&str> = journal.lines().collect();
    std::fs::create_dir_all(d("m3")).unwrap();
    let cut = lines[..6].join("\n") + "\n" + &lines[6][..lines[6].len() / 2];
    std::fs::write(d("m3/sync.jsonl"), cut).unwrap();
    sync_shards(&d("shards"), &d("m3"), &["--jobs", "1"]);
    assert_eq!(bytes(&d("m3/sync.parquet")), bytes(&d("m1/sync.parquet")), "resumed run differs");
    assert_eq!(bytes(&d("m3/sync.csv")), bytes(&d("m1/sync.csv")));

    // Two cluster tasks and a merge give the same table; a stale task count is refused.
    for i in ["0", "1"] {
        sync_shards(&d("shards"), &d("m4"), &["--num-shards", "2", "--shard-index", i]);
    }
    evaluator(&["sync-merge", "--out", d("m4").to_str().unwrap()]);
    assert_eq!(bytes(&d("m4/sync.parquet")), bytes(&d("m1/sync.parquet")), "merged run differs");
    std::fs::create_dir_all(d("m4/task-0-of-3")).unwrap();
    let out = Command::new(lipsync_tests::bin("evaluator"))
        .args(["sync-merge", "--out", d("m4").to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("2 different task counts") && err.trim().lines().count() == 1,
        "{err}"
    );

    // Videos: `--dir mvlrs_v1/main` gives LRS2 ids and the estimates of their shards.
    let main = d("corpus/mvlrs_v1/main");
    evaluator(&[
        "sync",
        "--dir",
        main.to_str().unwrap(),
        "--model",
        model().to_str().unwrap(),
        "--out",
        d("v").to_str().unwrap(),
        "--quiet",
    ]);
    let videos = evaluator::sync::batch::read_table(&d("v/sync.parquet")).unwrap();
    assert_eq!(videos.len(), 9);
    for v in &videos {
        let shard = rows
            .iter()
            .find(|r| r.utt_id == v.utt_id)
            .unwrap_or_else(|| panic!("{} has no shard row", v.utt_id));
        assert_eq!(v.result, shard.result, "{}", v.utt_id);
    }
}

fn truth_abs(k: i32) -> usize {
    k.unsigned_abs() as usize
}
