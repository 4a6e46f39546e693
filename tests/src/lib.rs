//! Helpers shared by the end-to-end tests: where the repo, `../shared` and the test venv are.

use std::path::{Path, PathBuf};

/// The workspace root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

/// `../shared` beside the repo, if present (golden files, GRID samples).
pub fn shared_dir() -> Option<PathBuf> {
    let dir = repo_root().parent()?.join("shared");
    dir.is_dir().then_some(dir)
}

/// The test venv's python (`LIPSYNC_PYTHON`, else `.venv/bin/python`), which has pyarrow, numpy,
/// safetensors and torch. `make test` always provides it; a bare `cargo test` without
/// `make setup` gets None, and the tests that need it say so and skip — except under CI, where
/// its absence is a failure.
pub fn python() -> Option<PathBuf> {
    let p = std::env::var_os("LIPSYNC_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv/bin/python"));
    if p.exists() {
        return Some(p);
    }
    assert!(std::env::var_os("CI").is_none(), "CI: the test venv is missing at {}", p.display());
    eprintln!("skipping: no test venv at {} (run `make setup`)", p.display());
    None
}
