//! Errors of the manifests crate.

use std::path::PathBuf;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong with split lists and manifests.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A filesystem operation failed.
    #[error("{path}: {action} failed: {source}")]
    Io {
        /// File involved.
        path: PathBuf,
        /// What was being done.
        action: &'static str,
        /// Underlying error.
        source: std::io::Error,
    },
    /// A split-list line is not a safe `<programme_id>/<utt_id>`.
    #[error("{origin}:{line}: bad utterance id {id:?}: {why}; fix or remove that line")]
    BadId {
        /// File (or description) the list came from.
        origin: String,
        /// 1-based line number.
        line: usize,
        /// The offending id.
        id: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The manifest JSON is malformed.
    #[error("{path}: not a valid manifest ({source}); re-run `preprocess` or `preprocess merge`")]
    Json {
        /// File involved.
        path: PathBuf,
        /// Underlying error.
        source: serde_json::Error,
    },
    /// A shard's checksum or size does not match its manifest entry.
    #[error("{path}: {what} does not match the manifest (expected {expected}, found {found}); the shard is corrupt or was replaced: re-run `preprocess` for it")]
    Checksum {
        /// Shard file.
        path: PathBuf,
        /// "sha256" or "size".
        what: &'static str,
        /// Value recorded in the manifest.
        expected: String,
        /// Value found on disk.
        found: String,
    },
    /// The manifest does not list the shard asked for.
    #[error("{manifest}: lists no shard named {shard}")]
    UnknownShard {
        /// Manifest file.
        manifest: PathBuf,
        /// Shard file name.
        shard: String,
    },
    /// The manifest was written by an incompatible version.
    #[error("{path}: manifest version {found}, this build reads {expected}; re-run `preprocess merge` with this version")]
    Version {
        /// Manifest file.
        path: PathBuf,
        /// Found version.
        found: u32,
        /// Expected version.
        expected: u32,
    },
    /// The shard itself could not be read.
    #[error(transparent)]
    Shard(#[from] shards::Error),
    /// Another process holds the output directory's lock.
    #[error("{}: another process is writing here ({holder}); wait for it or choose another output directory", dir.display())]
    Locked {
        /// The output directory.
        dir: PathBuf,
        /// What the holder wrote into the lock file.
        holder: String,
    },
    /// A directory of shards that cannot be indexed as one set.
    #[error("{path}: {what}")]
    Index {
        /// The directory or shard.
        path: PathBuf,
        /// What is wrong and what to do.
        what: String,
    },
}

/// An error and its causes on one line, `outer: cause: cause`, as the binaries print it. A cause
/// whose text the line already holds (many messages quote their cause) is not repeated.
pub fn describe_error(err: &(dyn std::error::Error + 'static)) -> String {
    let mut line = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        cause = c.source();
    }
    // A full disk or quota reads as a bare OS message wherever it happens; say what to do.
    if ["No space left on device", "os error 28", "Disk quota exceeded", "os error 122"]
        .iter()
        .any(|m| line.contains(m))
    {
        line.push_str(
            " (the disk is full: free space or write to another disk, then rerun the same command; finished work is kept)",
        );
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_are_appended_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "gone");
        let quoted = Error::Io { path: "m.json".into(), action: "read", source: io };
        assert_eq!(describe_error(&quoted), "m.json: read failed: gone");
        #[derive(Debug, thiserror::Error)]
        #[error("evaluating")]
        struct Outer(#[source] Error);
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "gone");
        let outer = Outer(Error::Io { path: "m.json".into(), action: "read", source: io });
        assert_eq!(describe_error(&outer), "evaluating: m.json: read failed: gone");
    }

    /// Issue #20 point 10: ENOSPC says the disk is full and what to do (a real ENOSPC, from
    /// writing to /dev/full).
    #[test]
    fn a_full_disk_says_so() {
        use std::io::Write;
        let mut full = std::fs::OpenOptions::new().write(true).open("/dev/full").expect("/dev/full (Linux)");
        let source = full.write_all(&[0u8; 1 << 16]).and_then(|_| full.flush()).unwrap_err();
        assert_eq!(source.raw_os_error(), Some(28));
        let e = Error::Io { path: "out/shard-00001.parquet".into(), action: "write", source };
        let line = describe_error(&e);
        assert!(line.starts_with("out/shard-00001.parquet: write failed: "), "{line}");
        assert!(line.contains("the disk is full") && line.contains("rerun the same command"), "{line}");
    }
}
