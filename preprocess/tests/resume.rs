//! Crash safety and cluster use: a run killed with SIGKILL midway and resumed ends with the same
//! manifest and shards as a clean run; two cluster tasks plus `merge` give the same set too.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{bin, manifest, preprocess, shared};

fn args(root: &Path, out: &Path) -> Vec<String> {
    common::run_args(root, "test", out, &["--utts-per-shard", "1", "--jobs", "1"])
}

fn strs(a: &[String]) -> Vec<&str> {
    a.iter().map(String::as_str).collect()
}

#[test]
fn killed_run_resumes_to_the_clean_result_and_tasks_merge() {
    let Some(root) = shared("grid_samples/lrs2_layout") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let clean = dir.path().join("clean");
    preprocess(&strs(&args(&root, &clean)));
    let want = manifest(&clean);
    assert_eq!(want.shards.len(), 7);

    // Kill -9 once two shards are done, then resume.
    let killed = dir.path().join("killed");
    let mut child = Command::new(bin()).args(args(&root, &killed)).stdout(Stdio::null()).spawn().unwrap();
    let partial = killed.join("manifest.task-0000-of-0001.json");
    let start = Instant::now();
    loop {
        let done = manifests::Manifest::read(&partial).map(|m| m.shards.len()).unwrap_or(0);
        if done >= 2 || start.elapsed() > Duration::from_secs(60) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let before = manifests::Manifest::read(&partial).unwrap();
    assert!(before.shards.len() < 7, "the run finished before it could be killed");
    assert!(!killed.join("manifest.json").exists());
    let out = preprocess(&strs(&args(&root, &killed)));
    assert!(out.contains(&format!("{} kept", before.shards.len())), "{out}");
    assert_eq!(manifest(&killed), want);
    let leftovers: Vec<_> = std::fs::read_dir(&killed)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");

    // Two cluster tasks into one directory, then merge.
    let tasks = dir.path().join("tasks");
    for i in ["0", "1"] {
        let mut a = args(&root, &tasks);
        a.extend(["--num-shards".to_string(), "2".into(), "--shard-index".into(), i.into()]);
        preprocess(&strs(&a));
    }
    assert!(!tasks.join("manifest.json").exists());
    preprocess(&["merge", "--out", tasks.to_str().unwrap()]);
    let merged = manifest(&tasks);
    assert_eq!(merged.shards, want.shards);
    assert_eq!(merged.skipped, want.skipped);
}
