//! Temporary files that a signal must not leave behind (issue #20 point 9).
//!
//! The joint decode writes a clip's frames to a temporary file (`lipsync-video-*.rgb`, up to
//! gigabytes for long 1080p clips). Rust runs no destructors when SIGINT, SIGTERM or SIGHUP ends
//! the process, so such files are registered here while they exist, and [`install`] sets a
//! handler that removes every registered file before exiting with status 130. SIGKILL cannot be
//! caught; what it leaves beside an output (`.<name>.tmp-<pid>`) is removed by the next run that
//! holds that output's lock.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

static LIVE: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());

/// A registered temporary file; dropping it unregisters the path (the file itself is removed by
/// its owner, e.g. `tempfile::NamedTempFile`).
#[derive(Debug)]
pub struct Registered(PathBuf);

impl Drop for Registered {
    fn drop(&mut self) {
        if let Ok(mut live) = LIVE.lock() {
            live.remove(&self.0);
        }
    }
}

/// Registers `path` for removal on a signal while the returned guard lives.
pub fn register(path: &Path) -> Registered {
    if let Ok(mut live) = LIVE.lock() {
        live.insert(path.to_path_buf());
    }
    Registered(path.to_path_buf())
}

/// Removes every registered file; returns how many were removed.
pub fn remove_registered() -> usize {
    let Ok(live) = LIVE.lock() else { return 0 };
    live.iter().filter(|p| std::fs::remove_file(p).is_ok()).count()
}

/// Installs the SIGINT / SIGTERM / SIGHUP handler (once per process; later calls do nothing).
pub fn install() {
    let _ = ctrlc::set_handler(|| {
        let n = remove_registered();
        eprintln!("interrupted: {n} temporary file(s) removed; rerun the same command to resume");
        std::process::exit(130);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_files_are_removed_and_dropped_guards_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.rgb"), dir.path().join("b.rgb"));
        std::fs::write(&a, b"x").unwrap();
        std::fs::write(&b, b"y").unwrap();
        let _ga = register(&a);
        drop(register(&b));
        assert_eq!(remove_registered(), 1);
        assert!(!a.exists() && b.exists());
    }
}
