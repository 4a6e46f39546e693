//! `evaluator run` on real shards (the GRID clips through `preprocess`) with a real checkpoint
//! format (the golden MTDVocaLiST .pth): the fast path equals the reference's naive path within
//! 5e-5 (typically 3e-7), results are written and re-tabulated identically, and bad inputs give
//! one clear error.

use std::path::Path;

use evaluator::run::{evaluate, EvalConfig};
use lipsync_tests::{grid_shards, shared};
use nets::device::DeviceSpec;

fn config(model: &Path, shards: &Path, out: &Path, naive: bool) -> EvalConfig {
    EvalConfig {
        model: model.to_path_buf(),
        shards: shards.to_path_buf(),
        split: "test".into(),
        out: out.to_path_buf(),
        naive,
        device: DeviceSpec::Cpu,
        max_windows: Some(4),
        limit: Some(2),
        quiet: true,
    }
}

#[test]
fn fast_equals_naive_and_results_round_trip() {
    let Some(model) = shared("golden/mtdvocalist_rand.pth") else { return };
    let dir = tempfile::tempdir().unwrap();
    let shards = dir.path().join("shards");
    if grid_shards(&shards).is_none() {
        return;
    }
    let t = std::time::Instant::now();
    let fast = evaluate(&config(&model, &shards, &dir.path().join("fast"), false)).unwrap();
    let t_fast = t.elapsed();
    let t = std::time::Instant::now();
    let naive = evaluate(&config(&model, &shards, &dir.path().join("naive"), true)).unwrap();
    let t_naive = t.elapsed();
    eprintln!(
        "fast {t_fast:?}, naive {t_naive:?}: speed-up {:.1}×",
        t_naive.as_secs_f64() / t_fast.as_secs_f64()
    );
    assert_eq!(fast.scores.len(), 2);
    let mut worst = 0f32;
    for ((ia, ra), (ib, rb)) in fast.scores.iter().zip(&naive.scores) {
        assert_eq!(ia, ib);
        assert_eq!(ra.len(), 4);
        for (x, y) in ra.iter().flatten().zip(rb.iter().flatten()) {
            worst = worst.max((x - y).abs());
        }
    }
    // Typically 3e-7 on scores below 0.5; once, under CI, 1.33e-5: the two paths batch the same
    // forwards differently and libtorch's CPU kernels do not always round alike. A wrong pairing
    // of windows and offsets would differ by orders of magnitude more.
    eprintln!("fast vs naive: max |diff| {worst:e}");
    assert!(worst <= 5e-5, "fast vs naive max |diff| {worst}");
    // The saved scores re-tabulate to the same table.
    let back = evaluator::scores::read(&dir.path().join("fast/scores.parquet")).unwrap();
    assert_eq!(back, fast.scores);
    let table =
        evaluator::table::AccuracyTable::from_scores(back.iter().map(|(n, r)| (n.clone(), r.as_slice())));
    assert_eq!(table, fast.table);
    for f in ["accuracy.md", "accuracy.csv", "accuracy.json", "provenance.json"] {
        assert!(dir.path().join("fast").join(f).is_file(), "{f}");
    }
    assert_eq!(fast.provenance.parameters, 13_280_961);
}

#[test]
fn bad_inputs_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let shards = dir.path().join("shards");
    if grid_shards(&shards).is_none() {
        return;
    }
    let junk = dir.path().join("junk.pth");
    std::fs::write(&junk, b"not a checkpoint").unwrap();
    let err = evaluate(&config(&junk, &shards, &dir.path().join("o1"), false)).err().unwrap().to_string();
    assert!(err.contains("junk.pth") && err.contains("not a PyTorch checkpoint"), "{err}");
    let Some(model) = shared("golden/mtdvocalist_rand.pth") else { return };
    let mut cfg = config(&model, &shards, &dir.path().join("o2"), false);
    cfg.split = "val".into();
    let err = evaluate(&cfg).err().unwrap().to_string();
    assert!(err.contains("no shards of split \"val\""), "{err}");
    // A shard of another schema version.
    let other = dir.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    let m = manifests::Manifest::read(&shards.join("manifest.json")).unwrap();
    let mut m2 = m.clone();
    m2.shard_schema_version = 99;
    m2.write(&other.join("manifest.json")).unwrap();
    for s in &m.shards {
        std::fs::copy(shards.join(&s.file), other.join(&s.file)).unwrap();
    }
    let cfg = config(&model, &other, &dir.path().join("o3"), false);
    let err = evaluate(&cfg).err().unwrap().to_string();
    assert!(err.contains("schema version"), "{err}");
}

/// Issue #20 point 10: an utterance listed in two shards of the split used to be scored twice;
/// now the run stops before scoring, naming the utterance and both shards.
#[test]
fn an_utterance_in_two_shards_is_an_error() {
    let Some(model) = shared("golden/mtdvocalist_rand.pth") else { return };
    let dir = tempfile::tempdir().unwrap();
    let shards = dir.path().join("shards");
    if grid_shards(&shards).is_none() {
        return;
    }
    let path = shards.join("manifest.json");
    let mut m = manifests::Manifest::read(&path).unwrap();
    assert!(m.shards.len() >= 2, "the GRID set has two shards");
    let copy = m.shards[0].clone();
    std::fs::copy(shards.join(&copy.file), shards.join("test-00099.parquet")).unwrap();
    m.shards.push(manifests::ShardEntry { file: "test-00099.parquet".into(), ..copy.clone() });
    m.write(&path).unwrap();
    let err = evaluate(&config(&model, &shards, &dir.path().join("out"), false)).err().unwrap().to_string();
    let id = &copy.utterances[0];
    assert!(
        err.contains(&format!("utterance {id} is in both {} and test-00099.parquet", copy.file)),
        "{err}"
    );
}

/// Issue #20 point 1: two `evaluator run` into one `--out` mixed their files. Now the second
/// fails at once naming the holder, and results replace the directory as one set.
#[test]
fn one_writer_per_results_directory_and_results_as_a_set() {
    let Some(model) = shared("golden/mtdvocalist_rand.pth") else { return };
    let dir = tempfile::tempdir().unwrap();
    let shards = dir.path().join("shards");
    if grid_shards(&shards).is_none() {
        return;
    }
    let out = dir.path().join("results");
    let held = manifests::DirLock::acquire(&out, "evaluator run").unwrap();
    let err = evaluate(&config(&model, &shards, &out, false)).err().unwrap().to_string();
    assert!(err.contains("another process is writing here"), "{err}");
    drop(held);
    evaluate(&config(&model, &shards, &out, false)).unwrap();
    evaluate(&config(&model, &shards, &out, false)).unwrap(); // replaces the set
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["accuracy.csv", "accuracy.json", "accuracy.md", "provenance.json", "scores.parquet"]);
    // A directory holding something else is not replaced.
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    let err = evaluate(&config(&model, &shards, &out, false)).err().unwrap().to_string();
    assert!(err.contains("holds notes.txt"), "{err}");
    assert!(out.join("notes.txt").exists());
}
