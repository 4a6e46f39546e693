//! `make reproduce` reduced to tiny sizes (issues #9, #17): `scripts/reproduce.sh` runs every
//! step — synthetic corpus, shards, teacher from scratch, the eight students with three seeds
//! each, evaluation, tables (mean ± std over seeds) and figures — and writes `results/` in full; a second study with the same seed gives identical
//! tables; a third invocation over the first one's directories redoes nothing.
//!
//! The sizes come from the script's knobs (`SYNTH_ARGS`, `TRAIN_SET`, `EVAL_ARGS`); every step is
//! the one `make reproduce` runs. The binaries are the workspace's release build (`make test`
//! builds them first).

use std::path::{Path, PathBuf};
use std::process::Command;

const STUDENTS: [&str; 8] =
    ["bce", "kd", "rkd", "minilm_star", "fitnets", "nmtd_uniform", "mtd_uw13", "mtd_uw25"];
const SEEDS: [u64; 3] = [1, 2, 3];

/// `target/release`, where this test binary's `deps/` folder lives.
fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent().and_then(Path::parent).expect("target/release/deps/<test>").to_path_buf()
}

/// Runs the script with the reduced sizes; returns its stdout and stderr together.
fn reproduce(data: &Path, runs: &Path, results: &Path) -> String {
    let script = lipsync_tests::repo_root().join("scripts/reproduce.sh");
    let out = Command::new("bash")
        .arg(&script)
        .env("BIN", bin_dir())
        .env("DATA", data)
        .env("RUNS", runs)
        .env("RESULTS", results)
        .env("SEED", "3")
        .env("SYNTH_ARGS", "--speakers 3 --utterances-per-speaker 3 --quiet")
        .env(
            "TRAIN_SET",
            "--set epochs=1 --set steps_per_epoch=2 --set batch_size=4 --set val_samples=8 \
             --set val_batch_size=8 --set data.buffer_utts=4",
        )
        .env("EVAL_ARGS", "--limit 2 --max-windows 6")
        .env("JOBS", "2")
        .env("SEEDS", "1 2 3")
        .env_remove("DRY_RUN")
        .env_remove("LRS2_ROOT")
        .env_remove("TEACHER")
        .output()
        .expect("bash runs scripts/reproduce.sh");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "reproduce.sh failed:\n{text}");
    text
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn reduced_study_runs_every_step_and_repeats_exactly() {
    if lipsync_tests::python().is_none() {
        return;
    }
    for b in ["preprocess", "trainer", "evaluator"] {
        assert!(
            bin_dir().join(b).is_file(),
            "{} is missing: build the release binaries first (`make test` does)",
            bin_dir().join(b).display()
        );
    }
    let tmp = tempfile::tempdir().unwrap();
    let (data, runs, results) =
        (tmp.path().join("data"), tmp.path().join("runs"), tmp.path().join("results"));
    let log = reproduce(&data, &runs, &results);
    for step in 1..=6 {
        assert!(log.contains(&format!("reproduce: step {step}")), "step {step} did not run:\n{log}");
    }

    // Every step's output.
    assert!(data.join("synth/mvlrs_v1/synth.json").is_file());
    let manifest: serde_json::Value =
        serde_json::from_str(&read(&data.join("shards/manifest.json"))).unwrap();
    assert!(manifest["shards"].as_array().is_some_and(|s| !s.is_empty()), "no shards written");
    let mut names = vec!["teacher".to_string()];
    for seed in SEEDS {
        names.extend(STUDENTS.iter().map(|s| format!("student_{s}_s{seed}")));
    }
    for name in &names {
        assert!(runs.join(name).join("best.safetensors").is_file(), "{name}: no best checkpoint");
        let acc: serde_json::Value =
            serde_json::from_str(&read(&results.join(name).join("accuracy.json"))).unwrap();
        assert_eq!(acc["macro_mean"].as_array().map(Vec::len), Some(6), "{name}: accuracy for K=5..15");
    }
    // The students' losses are the ones asked for (the start line records the resolved config).
    // Each seed's run records its seed; the student is the 1/5-size preset.
    for seed in SEEDS {
        let start = read(&runs.join(format!("student_mtd_uw25_s{seed}/metrics.jsonl")));
        assert!(start.contains(r#""kind":"mtd""#) && start.contains(r#""weighting":"uw25""#));
        assert!(start.contains(&format!(r#""seed":{seed}"#)), "seed {seed} not recorded");
        assert!(start.contains(r#""preset":"micro-student""#), "student preset not recorded");
    }

    // Table 1 in three formats: one row per model (mean ± std over its seeds), every seed's
    // figures in the CSV and JSON, and the published rows.
    let csv = read(&results.join("table1.csv"));
    let per_seed: Vec<&str> = csv.lines().skip(1).filter(|l| l.contains(",seed,")).collect();
    assert_eq!(per_seed.len(), 1 + 3 * STUDENTS.len(), "{csv}");
    for name in &names {
        assert!(per_seed.iter().any(|l| l.contains(&format!(",seed,{name},"))), "{name} missing:\n{csv}");
    }
    for s in STUDENTS {
        for row in ["mean", "std"] {
            let line = format!("student_{s},{row},,,84121,false,");
            assert!(csv.contains(&line), "{line} missing:\n{csv}");
        }
    }
    let json: serde_json::Value = serde_json::from_str(&read(&results.join("table1.json"))).unwrap();
    let rows = json["rows"].as_array().expect("rows");
    let measured: Vec<_> = rows.iter().filter(|r| r["published"] == false).collect();
    assert_eq!(measured.len(), 9);
    for r in &measured[1..] {
        assert_eq!((r["seeds"].as_u64(), r["runs"].as_array().map(Vec::len)), (Some(3), Some(3)), "{r}");
        assert_eq!(r["parameters"], 84_121);
    }
    assert_eq!(measured[0]["parameters"], 440_553);
    let md = read(&results.join("table1.md"));
    assert!(md.contains("| student_mtd_uw25 | 84.1k | 3 |") && md.contains(" ± "), "{md}");
    assert!(md.contains("**Seed spread.**"), "{md}");
    // Figures: Fig. 2 and Fig. 4 (the loss ratio), as PNG files of real size.
    for fig in
        ["fig2_size_vs_accuracy.png", "plots/loss_ratio.png", "plots/val_f1.png", "plots/train_loss.png"]
    {
        let len = std::fs::metadata(results.join(fig)).map(|m| m.len()).unwrap_or(0);
        assert!(len > 1000, "{fig}: {len} bytes");
    }
    let readme = read(&results.join("README.md"));
    for want in
        ["not LRS2 results", "Reduced run", "| student_fitnets_s2 |", "**Seed spread.**", "| **total** |"]
    {
        assert!(readme.contains(want), "results/README.md lacks {want:?}:\n{readme}");
    }

    // The same seed again (fresh runs and results over the same shards): identical tables.
    let (runs2, results2) = (tmp.path().join("runs2"), tmp.path().join("results2"));
    reproduce(&data, &runs2, &results2);
    for t in ["table1.csv", "table1.json", "table1.md"] {
        assert_eq!(read(&results.join(t)), read(&results2.join(t)), "{t} differs between two runs");
    }

    // A third invocation over the first study: every step is already done.
    let again = reproduce(&data, &runs, &results);
    assert!(again.contains("already generated"), "{again}");
    assert_eq!(again.matches("already trained").count(), 25, "{again}");
    assert_eq!(again.matches("already evaluated").count(), 25, "{again}");
    assert_eq!(read(&results.join("table1.csv")), csv);
}
