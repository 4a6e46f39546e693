//! Helpers shared by the end-to-end tests: where the repo, `../shared` and the test venv are.

use std::path::{Path, PathBuf};

/// The workspace root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

/// `../shared` beside the repo (golden files, GRID samples), whether or not it is there.
pub fn shared_dir() -> PathBuf {
    repo_root().parent().expect("the repo has a parent").join("shared")
}

/// Whether this run is CI's (`CI` set): a missing fixture or tool is then a failure.
pub fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// What a test does when something it needs is absent: under CI it fails (a clone without the
/// fixtures must not pass parity tests silently); elsewhere it prints `skipped: … absent` and
/// the test returns. Returns None so callers can `let Some(..) = .. else { return }`.
pub fn absent<T>(what: &str, hint: &str) -> Option<T> {
    assert!(!in_ci(), "CI: {what} is absent ({hint}); the test cannot check anything without it");
    eprintln!("skipped: {what} absent ({hint})");
    None
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
    absent(&format!("the test venv {}", p.display()), "run `make setup`")
}

/// A path under `../shared`; where it is absent, a CI failure, else None with
/// `skipped: ../shared/<rel> absent` printed (see [`absent`]).
pub fn shared(rel: &str) -> Option<PathBuf> {
    let p = shared_dir().join(rel);
    if p.exists() {
        Some(p)
    } else {
        absent(&format!("../shared/{rel}"), "the reference fixtures live beside the checkout")
    }
}

/// Runs ffmpeg quietly for test setup; panics with its stderr on failure.
pub fn ffmpeg(args: &[&str]) {
    let out = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y"])
        .args(args)
        .output()
        .expect("ffmpeg on PATH (run `make setup`)");
    assert!(out.status.success(), "ffmpeg {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Preprocesses the GRID samples (`test` split, 7 utterances) into `out`; None where
/// `../shared/grid_samples` is absent.
pub fn grid_shards(out: &Path) -> Option<()> {
    let root = shared("grid_samples/lrs2_layout")?;
    preprocess_corpus(&root, &[shards::Split::Test], out, &[]);
    Some(())
}

/// `preprocess run` (the binary) of `splits` of the LRS2-layout corpus `root` into `out` (2
/// workers, 4 utterances per shard, one task, no resume, quiet) with `extra` flags: the set's
/// manifest. The binary, not the library, so that crates testing with this one (the evaluator)
/// need not depend on `preprocess`.
pub fn preprocess_corpus(
    root: &Path,
    splits: &[shards::Split],
    out: &Path,
    extra: &[&str],
) -> manifests::Manifest {
    let splits = splits.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",");
    let (r, o) = (root.to_str().expect("UTF-8 path"), out.to_str().expect("UTF-8 path"));
    let mut args = vec!["run", "--lrs2-root", r, "--splits", &splits, "--out", o];
    args.extend(["--jobs", "2", "--utts-per-shard", "4", "--no-resume", "--quiet"]);
    args.extend_from_slice(extra);
    let (ok, _, err) = run_bin("preprocess", &args, &[], std::time::Duration::from_secs(1800));
    assert!(ok, "preprocess {}: {err}", root.display());
    manifests::Manifest::read(&out.join(manifests::MANIFEST_FILE)).expect("the set's manifest")
}

/// Test clips made from a real talking-face clip `src` (or from nothing), for bad-input tests.
#[rustfmt::skip] // one ffmpeg argument list per line group reads better than one per line
pub mod clips {
    use std::path::Path;

    use super::ffmpeg;

    fn s(p: &Path) -> &str {
        p.to_str().expect("UTF-8 temp path")
    }

    /// `src` without its audio stream.
    pub fn without_audio(src: &Path, out: &Path) {
        ffmpeg(&["-i", s(src), "-an", "-c:v", "copy", s(out)]);
    }

    /// `src` without its video stream.
    pub fn without_video(src: &Path, out: &Path) {
        ffmpeg(&["-i", s(src), "-vn", "-c:a", "copy", s(out)]);
    }

    /// A 2 s test pattern (no face) with a 16 kHz mono tone.
    pub fn faceless(out: &Path) {
        ffmpeg(&[
            "-f", "lavfi", "-i", "testsrc=size=160x160:rate=25", "-f", "lavfi", "-i",
            "sine=frequency=300:sample_rate=16000", "-t", "2", "-c:v", "libx264", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-ac", "1", s(out),
        ]);
    }

    /// The first 3 frames of `src`: shorter than one 5-frame window.
    pub fn short(src: &Path, out: &Path) {
        ffmpeg(&[
            "-i", s(src), "-frames:v", "3", "-t", "0.12", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a",
            "aac", s(out),
        ]);
    }

    /// A phone clip: `src`'s frames stored sideways (`transpose=clock`), displayed upright by a
    /// 90° rotation tag; `sideways` is the file without the tag.
    pub fn phone(src: &Path, sideways: &Path, out: &Path) {
        ffmpeg(&["-i", s(src), "-vf", "transpose=clock", "-c:v", "libx264", "-c:a", "aac", s(sideways)]);
        ffmpeg(&["-i", s(sideways), "-c", "copy", "-metadata:s:v:0", "rotate=90", s(out)]);
    }

    /// `src` played `1 + loops` times through the video filter `vf` (x264 ultrafast, AAC).
    pub fn reencoded(src: &Path, loops: usize, vf: &str, out: &Path) {
        let loops = loops.to_string();
        ffmpeg(&[
            "-stream_loop", &loops, "-i", s(src), "-vf", vf, "-c:v", "libx264", "-preset", "ultrafast",
            "-c:a", "aac", s(out),
        ]);
    }
}

/// Every row of the shard set at `dir`, in manifest order.
pub fn shard_rows(dir: &Path) -> Vec<shards::Utterance> {
    let m = manifests::Manifest::read(&dir.join(manifests::MANIFEST_FILE)).expect("manifest.json");
    m.shards
        .iter()
        .flat_map(|e| {
            let r = shards::ShardReader::open(&dir.join(&e.file)).expect("shard");
            r.iter().map(|u| u.expect("row")).collect::<Vec<_>>()
        })
        .collect()
}

/// A workspace binary of this build (`target/release/<name>`, beside the test's `deps/`).
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent().and_then(Path::parent).expect("target/release/deps/<test>").join(name)
}

/// Runs the workspace binary `name` with `args` and `env`, no stdin, within `limit`: (success,
/// stdout, stderr). A run past the limit is killed and fails the test as a hang (issue #33: a
/// hang must fail a test, never stall the suite).
pub fn run_bin(
    name: &str,
    args: &[&str],
    env: &[(&str, &str)],
    limit: std::time::Duration,
) -> (bool, String, String) {
    let out_file = tempfile::NamedTempFile::new().expect("temp file");
    let err_file = tempfile::NamedTempFile::new().expect("temp file");
    let mut child = std::process::Command::new(bin(name))
        .args(args)
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .stdout(out_file.reopen().expect("reopen"))
        .stderr(err_file.reopen().expect("reopen"))
        .spawn()
        .unwrap_or_else(|e| panic!("{name}: {e} (build the binaries first: make test does)"));
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            let err = std::fs::read_to_string(err_file.path()).unwrap_or_default();
            panic!("{name} {args:?} hung (killed after {limit:?}); stderr:\n{err}");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    (status.success(), read(out_file.path()), read(err_file.path()))
}

/// `preprocess run --lrs2-root ROOT --splits test --out OUT --quiet` through the binary, within
/// `limit` ([`run_bin`]): (success, stdout, stderr).
pub fn preprocess_test_split(root: &Path, out: &Path, limit: std::time::Duration) -> (bool, String, String) {
    let (root, out) = (root.to_str().expect("UTF-8 path"), out.to_str().expect("UTF-8 path"));
    run_bin(
        "preprocess",
        &["run", "--lrs2-root", root, "--splits", "test", "--out", out, "--quiet"],
        &[],
        limit,
    )
}
