//! The videos of an `evaluator lse` or `evaluator sync` job: given on the command line, listed in
//! a file, or found under a directory.

use std::path::{Path, PathBuf};

use crate::error::{io, EvalError, Result};

/// The videos of `sync --out`, each under its utterance id ([`utt_key`]): the path relative to
/// `--dir`, or to the list's directory, without the extension.
pub fn keyed(videos: &[PathBuf], list: Option<&Path>, dir: Option<&Path>) -> Result<Vec<(String, PathBuf)>> {
    let found = collect(videos, list, dir)?;
    let base = list.map(|l| l.parent().unwrap_or(Path::new("")));
    let roots: Vec<&Path> = dir.into_iter().chain(base).collect();
    Ok(found.into_iter().map(|v| (utt_key(&v, &roots), v)).collect())
}

/// File extensions taken from a `--dir` (lower case).
pub const VIDEO_EXTENSIONS: [&str; 9] = ["mp4", "avi", "mov", "mkv", "webm", "m4v", "mpg", "mpeg", "flv"];

fn is_video(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| VIDEO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// The file system's identity of a path, its target's where it is a symlink.
fn identity(p: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()))
}

/// Collects the videos under `dir`, sorted. Each directory is entered once, whatever the
/// symlinks that lead to it (issue #33 point 3: `ln -s . dir/l1; ln -s . dir/l2` made the walk
/// exponential, `ln -s .. dir/sub/loop` listed one video 19 times): `dirs` holds the (device,
/// inode) of every directory entered.
fn walk(dir: &Path, dirs: &mut std::collections::HashSet<(u64, u64)>, out: &mut Vec<PathBuf>) -> Result<()> {
    if let Some(id) = identity(dir) {
        if !dirs.insert(id) {
            return Ok(());
        }
    }
    let mut entries: Vec<PathBuf> =
        std::fs::read_dir(dir).map_err(io(dir))?.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, dirs, out)?;
        } else if is_video(&p) {
            out.push(p);
        }
    }
    Ok(())
}

/// Videos from the arguments, then the list (blank lines and `#` comments skipped; relative
/// paths from the list's directory), then the directory (recursive, sorted, by extension; each
/// directory entered once however symlinks lead to it). A video named twice, or reached by two
/// names (symlinks, hard links), is kept once, at its first place. No video at all is an error.
pub fn collect(videos: &[PathBuf], list: Option<&Path>, dir: Option<&Path>) -> Result<Vec<PathBuf>> {
    let mut all: Vec<PathBuf> = videos.to_vec();
    if let Some(list) = list {
        let text = std::fs::read_to_string(list).map_err(io(list))?;
        let base = list.parent().unwrap_or(Path::new(""));
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
            let p = Path::new(line);
            all.push(if p.is_absolute() { p.to_path_buf() } else { base.join(p) });
        }
    }
    if let Some(dir) = dir {
        if !dir.is_dir() {
            return Err(EvalError::NotADirectory(dir.to_path_buf()));
        }
        walk(dir, &mut std::collections::HashSet::new(), &mut all)?;
    }
    // One place per file: the same path twice, or two names of one file (a symlink, a hard
    // link), are scored once, at the first place (issue #33 point 3).
    let mut seen = std::collections::HashSet::new();
    let mut files = std::collections::HashSet::new();
    all.retain(|p| seen.insert(p.clone()) && identity(p).is_none_or(|id| files.insert(id)));
    if all.is_empty() {
        let origin = list.or(dir).map_or_else(|| PathBuf::from("(command line)"), Path::to_path_buf);
        return Err(EvalError::NoVideos(origin));
    }
    Ok(all)
}

/// The utterance id of `video`: its path under the first of `roots` that holds it (the `--dir`,
/// the list's directory), without the extension, with `/` separators. So `--dir mvlrs_v1/main`
/// gives LRS2's `<programme_id>/<utt_id>`, the id `preprocess` and the shards use. A video under
/// no root keeps its path as given.
pub fn utt_key(video: &Path, roots: &[&Path]) -> String {
    let rel = roots.iter().find_map(|r| video.strip_prefix(r).ok()).unwrap_or(video);
    let rel = rel.with_extension("");
    rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlink_loops_are_walked_once_and_each_file_kept_once() {
        let d = tempfile::tempdir().expect("temp dir");
        let root = d.path();
        std::fs::create_dir_all(root.join("sub")).expect("mkdir");
        std::fs::write(root.join("a.mp4"), b"x").expect("write");
        std::fs::write(root.join("sub/b.mp4"), b"y").expect("write");
        std::os::unix::fs::symlink(".", root.join("l1")).expect("symlink");
        std::os::unix::fs::symlink(".", root.join("l2")).expect("symlink");
        std::os::unix::fs::symlink("..", root.join("sub/loop")).expect("symlink");
        std::os::unix::fs::symlink("a.mp4", root.join("c.mp4")).expect("symlink");
        let got = collect(&[], None, Some(root)).expect("videos");
        assert_eq!(got, vec![root.join("a.mp4"), root.join("sub/b.mp4")]);
    }

    #[test]
    fn keys_are_paths_under_the_root_without_extension() {
        let root = Path::new("data/mvlrs_v1/main");
        assert_eq!(utt_key(Path::new("data/mvlrs_v1/main/6330/00011.mp4"), &[root]), "6330/00011");
        assert_eq!(utt_key(Path::new("other/clip.mov"), &[root]), "other/clip");
    }
}
