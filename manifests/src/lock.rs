//! One writer per output directory: an exclusive advisory lock (`flock`) on `.<name>.lock` beside
//! the directory, held as long as the [`DirLock`] lives. The operating system releases it when
//! the process exits, however it exits (a `kill -9` leaves no stale lock); the small file itself
//! is kept, since deleting a lock file races with the next holder.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// A held lock on an output directory.
#[derive(Debug)]
pub struct DirLock {
    _file: File,
    path: PathBuf,
}

impl DirLock {
    /// Takes the lock of `dir` for `what` (e.g. `"evaluator run"`), or fails at once naming the
    /// holder when another process has it.
    pub fn acquire(dir: &Path, what: &str) -> Result<Self> {
        let name = dir.file_name().map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
        let parent = dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).map_err(|source| Error::Io {
            path: parent.to_path_buf(),
            action: "create",
            source,
        })?;
        let path = parent.join(format!(".{name}.lock"));
        let io = |action, source| Error::Io { path: path.clone(), action, source };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| io("open", e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                return Err(Error::Locked { dir: dir.to_path_buf(), holder: holder.trim().to_string() });
            }
            Err(TryLockError::Error(e)) => return Err(io("lock", e)),
        }
        let since =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let holder = format!("{what}, pid {}, since unix time {since}", std::process::id());
        file.set_len(0).map_err(|e| io("write", e))?;
        file.rewind().map_err(|e| io("write", e))?;
        file.write_all(holder.as_bytes()).map_err(|e| io("write", e))?;
        Ok(Self { _file: file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Removes the `.<name>.tmp-<pid>` files that [`crate::atomic_write`] leaves in `dir` when
    /// its process is killed mid-write (SIGKILL runs no cleanup). Only the lock holder may call
    /// it: with the lock held no other process writes there, so every such file is stale.
    /// Returns how many were removed.
    pub fn remove_stale_temp_files(&self, dir: &Path) -> Result<usize> {
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(source) => return Err(Error::Io { path: dir.to_path_buf(), action: "list", source }),
        };
        let mut n = 0;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if shards::temp_target(&name).is_some() && entry.path().is_file() {
                std::fs::remove_file(entry.path()).map_err(|source| Error::Io {
                    path: entry.path(),
                    action: "remove",
                    source,
                })?;
                n += 1;
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::DirLock;

    #[test]
    fn a_second_writer_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("results");
        let first = DirLock::acquire(&out, "evaluator run").unwrap();
        let e = DirLock::acquire(&out, "evaluator run").unwrap_err().to_string();
        assert!(e.contains("another process is writing") && e.contains("evaluator run, pid"), "{e}");
        assert!(!e.contains('\n'));
        drop(first);
        DirLock::acquire(&out, "evaluator run").unwrap();
    }

    #[test]
    fn stale_atomic_temp_files_are_removed_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("run");
        std::fs::create_dir_all(&out).unwrap();
        for f in [
            ".last.safetensors.tmp-4242",
            ".metrics.jsonl.tmp-7",
            "last.safetensors",
            ".x.tmp-abc",
            "a.tmp-1",
        ] {
            std::fs::write(out.join(f), b"x").unwrap();
        }
        let lock = DirLock::acquire(&out, "trainer train").unwrap();
        assert_eq!(lock.remove_stale_temp_files(&out).unwrap(), 2);
        let mut left: Vec<String> =
            std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        left.sort();
        assert_eq!(left, [".x.tmp-abc", "a.tmp-1", "last.safetensors"]);
    }
}
