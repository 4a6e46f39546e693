//! Helpers for the preprocess end-to-end tests: the binary, ffmpeg, the shared samples.

#![allow(dead_code)] // each test file uses its own subset

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_preprocess"))
}

#[allow(unused_imports)] // each test file uses its own subset
pub use lipsync_tests::{ffmpeg, shared};

/// Runs `preprocess` with `args`; returns stdout, panicking with stderr on failure.
/// Runs the binary, asserting success; returns stdout followed by stderr.
pub fn preprocess(args: &[&str]) -> String {
    let out = Command::new(bin()).args(args).output().unwrap();
    assert!(out.status.success(), "preprocess {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

pub fn manifest(dir: &Path) -> manifests::Manifest {
    manifests::Manifest::read(&dir.join(manifests::MANIFEST_FILE)).unwrap()
}

/// Writes an LRS2-like layout: `main/<id>.mp4` links for the given (id, source) pairs and a list.
pub fn layout(root: &Path, split: &str, items: &[(&str, &Path)]) {
    let mut list = String::new();
    for (id, src) in items {
        let dst = root.join("main").join(format!("{id}.mp4"));
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::fs::copy(src, &dst).unwrap();
        list.push_str(id);
        list.push('\n');
    }
    std::fs::write(root.join(format!("{split}.txt")), list).unwrap();
}

/// The `preprocess run` arguments for `root` → `out` over `splits`, quiet, plus `extra`.
pub fn run_args(root: &Path, splits: &str, out: &Path, extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = ["run", "--quiet", "--lrs2-root", root.to_str().unwrap(), "--splits", splits]
        .iter()
        .map(|s| s.to_string())
        .collect();
    a.extend(["--out".to_string(), out.to_str().unwrap().to_string()]);
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

/// Runs `preprocess run` (see [`run_args`]); returns its stdout.
pub fn run(root: &Path, splits: &str, out: &Path, extra: &[&str]) -> String {
    let a = run_args(root, splits, out, extra);
    preprocess(&a.iter().map(String::as_str).collect::<Vec<_>>())
}

#[allow(unused_imports)] // each test file uses its own subset
pub use lipsync_tests::shard_rows;
