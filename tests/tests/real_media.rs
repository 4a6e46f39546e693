//! Real media as users bring it (issue #33), built in the test from the GRID samples with ffmpeg:
//! an mp4 that stores ~3 s of audio before its first video packet, 8-channel 384 kHz audio, a
//! 1000 fps H.264 mkv, a phone clip stored sideways with a rotation, two audio streams, a FIFO and
//! a file without audio among the videos; and the journals a resumed `evaluator sync` trusts.
//! Every command runs under a time limit: a hang fails the test instead of stalling the suite.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn model() -> PathBuf {
    lipsync_tests::repo_root().join("models/synth-micro-teacher.safetensors")
}

fn run(name: &str, args: &[&str], limit: Duration) -> (bool, String, String) {
    lipsync_tests::run_bin(name, args, &[], limit)
}

const LIMIT: Duration = Duration::from_secs(180);

/// The media of this file, under `dir`: (name, path).
fn hostile_media(dir: &Path) -> Option<Vec<(&'static str, PathBuf)>> {
    let grid = lipsync_tests::shared("grid_samples/lrs2_layout/mvlrs_v1/main/grid0002/00001.mp4")?;
    let raw = lipsync_tests::shared("grid_samples/raw/bbaf2n.mpg")?;
    let (g, r) = (grid.to_str().unwrap(), raw.to_str().unwrap());
    let p = |n: &str| dir.join(n).to_str().unwrap().to_string();
    let ff = lipsync_tests::ffmpeg;
    // Audio first: 6 s of audio from 0 s, the video's packets from 3 s on (stored after ~2.9 s of
    // audio packets, as some LRS3/TED files are).
    ff(&[
        "-stream_loop",
        "1",
        "-i",
        g,
        "-i",
        g,
        "-map",
        "1:v",
        "-map",
        "0:a",
        "-c:v",
        "libx264",
        "-c:a",
        "aac",
        "-t",
        "6",
        &p("base.mp4"),
    ]);
    ff(&[
        "-i",
        &p("base.mp4"),
        "-itsoffset",
        "3",
        "-i",
        &p("base.mp4"),
        "-map",
        "1:v",
        "-map",
        "0:a",
        "-c",
        "copy",
        &p("audiofirst.mp4"),
    ]);
    // 8 channels at 384 kHz.
    let pan = "[0:a]aresample=384000,pan=7.1|c0=c0|c1=c0|c2=c0|c3=c0|c4=c0|c5=c0|c6=c0|c7=c0[a]";
    ff(&[
        "-i",
        g,
        "-filter_complex",
        pan,
        "-map",
        "0:v",
        "-map",
        "[a]",
        "-c:v",
        "copy",
        "-c:a",
        "pcm_s16le",
        &p("ch8_384k.mkv"),
    ]);
    // 1000 fps H.264 (ffmpeg describes the stream as "1k fps").
    ff(&[
        "-i",
        g,
        "-vf",
        "fps=1000",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-c:a",
        "copy",
        &p("fps1000.mkv"),
    ]);
    // A phone clip: frames stored sideways (288x360), displayed upright by its rotation.
    lipsync_tests::clips::phone(&raw, &dir.join("sideways.mp4"), &dir.join("phone.mp4"));
    ff(&["-i", r, "-c:v", "libx264", "-c:a", "aac", &p("upright.mp4")]);
    std::fs::remove_file(dir.join("base.mp4")).unwrap();
    std::fs::remove_file(dir.join("sideways.mp4")).unwrap();
    Some(vec![
        ("audiofirst", dir.join("audiofirst.mp4")),
        ("ch8_384k", dir.join("ch8_384k.mkv")),
        ("fps1000", dir.join("fps1000.mkv")),
        ("phone", dir.join("phone.mp4")),
        ("upright", dir.join("upright.mp4")),
    ])
}

/// Issue #33 points 2 and 10: `evaluator sync --dir`, `sync --stream` and `preprocess run` hung
/// forever on the audio-first mp4 and the 8-channel 384 kHz clip (ffmpeg filled the audio pipe
/// before it described the video output, which is when the reader started draining it); a 1000
/// fps mkv was "no video stream"; a phone clip's frames were read with the stored (sideways) size.
/// Now every one is scored, in bounded time, and the phone clip as its upright twin.
#[test]
fn hostile_media_are_scored_without_hanging() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("videos");
    std::fs::create_dir_all(&dir).unwrap();
    let Some(media) = hostile_media(&dir) else { return };
    let m = model();
    let out = tmp.path().join("out");
    let (ok, stdout, err) = sync_dir(&dir, &out, &[]);
    assert!(ok, "{stdout}{err}");
    assert!(stdout.contains(&format!("{n} of {n} utterances scored", n = media.len())), "{stdout}{err}");
    assert!(err.contains("fps1000: warning: 1000 fps source resampled to 25 fps"), "{err}");
    let rows: Vec<evaluator::sync::row::SyncRow> =
        evaluator::sync::batch::read_table(&out.join("sync.parquet")).unwrap();
    let get = |id: &str| rows.iter().find(|r| r.utt_id == id).and_then(|r| r.result.clone()).unwrap();
    let (phone, upright) = (get("phone"), get("upright"));
    assert_eq!(phone.offset_frames, upright.offset_frames);
    assert!(
        (phone.confidence - upright.confidence).abs() < 0.02 && phone.windows == upright.windows,
        "the phone clip is not read upright: {phone:?} vs {upright:?}"
    );

    // The live path on the two that hung it.
    for name in ["audiofirst", "ch8_384k"] {
        let video = &media.iter().find(|(n, _)| *n == name).unwrap().1;
        let (ok, stdout, err) = run(
            "evaluator",
            &["sync", "--stream", video.to_str().unwrap(), "--model", m.to_str().unwrap()],
            LIMIT,
        );
        assert!(
            ok && stdout.lines().last().is_some_and(|l| l.contains("\"last\":true")),
            "{name}: {stdout}{err}"
        );
    }

    // The preprocessing: every clip stored.
    let root = tmp.path().join("lrs2/mvlrs_v1");
    std::fs::create_dir_all(root.join("main/prog")).unwrap();
    let mut list = String::new();
    for (name, path) in &media {
        std::fs::copy(path, root.join(format!("main/prog/{name}.mp4"))).unwrap();
        list += &format!("prog/{name}\n");
    }
    std::fs::write(root.join("test.txt"), list).unwrap();
    let shards = tmp.path().join("shards");
    let (ok, stdout, err) = lipsync_tests::preprocess_test_split(&root, &shards, LIMIT);
    assert!(ok, "{stdout}{err}");
    let m = manifests::Manifest::read(&shards.join("manifest.json")).unwrap();
    assert!(m.skipped.is_empty(), "{:?}", m.skipped);
    assert_eq!(m.total_rows(), media.len());
}

/// Two GRID clips under `dir` as `a.mp4` and `b.mp4`.
fn two_clips(dir: &Path) -> Option<()> {
    std::fs::create_dir_all(dir).unwrap();
    for (n, clip) in [("a", "grid0002/00001"), ("b", "grid0003/00001")] {
        let src = lipsync_tests::shared(&format!("grid_samples/lrs2_layout/mvlrs_v1/main/{clip}.mp4"))?;
        std::fs::copy(src, dir.join(format!("{n}.mp4"))).unwrap();
    }
    Some(())
}

fn sync_dir(dir: &Path, out: &Path, extra: &[&str]) -> (bool, String, String) {
    sync_dir_env(dir, out, extra, &[])
}

/// `evaluator sync --dir` (not `--quiet`: its log lines are checked too).
fn sync_dir_env(dir: &Path, out: &Path, extra: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let m = model();
    let args = [
        "sync",
        "--dir",
        dir.to_str().unwrap(),
        "--model",
        m.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    lipsync_tests::run_bin("evaluator", &[&args[..], extra].concat(), env, LIMIT)
}

/// Issue #33 points 5 and 6: a resumed `sync` trusted its journal blindly. A video replaced under
/// the same name kept its stale row; a second line for one id silently won; a row whose offset
/// contradicts its own scores, or whose score vector is not 31 long (a panic in arrow), was
/// written out. Now the journal's rows are checked and stamped with their video's size and
/// modification time: such rows are scored again, and the table equals a fresh run's.
#[test]
fn resumed_journals_are_checked_not_trusted() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("videos");
    if two_clips(&dir).is_none() {
        return;
    }
    let out = tmp.path().join("out");
    // Point 12: with stderr not a terminal (a log file here), progress comes as lines.
    let (ok, stdout, err) = sync_dir_env(&dir, &out, &[], &[("LIPSYNC_PROGRESS_S", "0.05")]);
    assert!(ok, "{stdout}{err}");
    assert!(err.contains("progress: 2/2 utterances (100 %)"), "no progress line in the log: {err}");
    let fresh = std::fs::read(out.join("sync.csv")).unwrap();
    let journal = out.join("sync.jsonl");
    let text = std::fs::read_to_string(&journal).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    // Rows are journalled as they finish: find a's and b's.
    let row =
        |id: &str| lines[1..].iter().find(|l| l.contains(&format!("\"utt_id\":\"{id}\""))).copied().unwrap();
    let (line_a, line_b) = (row("a"), row("b"));
    let a: serde_json::Value = serde_json::from_str(line_a).unwrap();

    // A row whose offset is not its scores' peak, then one with 30 scores, then a duplicate.
    type Edit = Box<dyn Fn(&mut serde_json::Value)>;
    let edits: Vec<(&str, Edit)> = vec![
        ("contradicting", Box::new(|v| v["result"]["offset_frames"] = 7.into())),
        (
            "short vector",
            Box::new(|v| {
                v["result"]["mean_scores"].as_array_mut().unwrap().pop();
            }),
        ),
        ("min value", Box::new(|v| v["result"]["confidence"] = (-1e30).into())),
    ];
    for (what, edit) in edits {
        let mut bad = a.clone();
        edit(&mut bad);
        std::fs::write(&journal, format!("{}\n{}\n{}\n", lines[0], bad, line_b)).unwrap();
        let (ok, stdout, err) = sync_dir(&dir, &out, &[]);
        assert!(ok, "{what}: {stdout}{err}");
        assert!(err.contains("line 2:") && err.contains("scored again"), "{what}: {err}");
        assert_eq!(
            std::fs::read(out.join("sync.csv")).unwrap(),
            fresh,
            "{what}: the table differs from a fresh run's"
        );
    }
    // Two different rows for one id: neither is trusted.
    let mut other = a.clone();
    other["result"]["windows"] = 3.into();
    std::fs::write(&journal, format!("{}\n{}\n{}\n{}\n", lines[0], line_a, line_b, other)).unwrap();
    let (ok, _, err) = sync_dir(&dir, &out, &[]);
    assert!(ok && err.contains("a second, different row for a"), "{err}");
    assert_eq!(std::fs::read(out.join("sync.csv")).unwrap(), fresh);

    // A video replaced under the same name is scored again: b's clip copied over a's.
    std::thread::sleep(Duration::from_millis(20));
    std::fs::copy(dir.join("b.mp4"), dir.join("a.mp4")).unwrap();
    let (ok, _, err) = sync_dir(&dir, &out, &[]);
    assert!(ok && err.contains("a changed since it was scored; scoring it again"), "{err}");
    let rows = evaluator::sync::batch::read_table(&out.join("sync.parquet")).unwrap();
    assert_eq!(rows[0].result, rows[1].result, "a is now b's clip and must score as b");
}

/// Issue #33 points 7, 8 and 10: with two audio streams `sync` took the first and `lse` ffmpeg's
/// pick, neither saying so; a FIFO among the videos blocked the batch; a file without audio gave
/// ffmpeg's own words. Now every command takes `--audio-stream` (the first by default) and warns,
/// a FIFO is a skip that names it, and a silent file says it has no audio stream.
#[test]
fn audio_streams_fifos_and_silent_files() {
    let Some(syncnet) = lipsync_tests::shared("golden/syncnet/syncnet_rand.model") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("videos");
    if two_clips(&dir).is_none() {
        return;
    }
    let g = dir.join("a.mp4");
    let two = dir.join("two.mp4");
    // Stream 0: the speech; stream 1: a tone (ffmpeg's own pick would be either).
    lipsync_tests::ffmpeg(&[
        "-i",
        g.to_str().unwrap(),
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000:duration=3",
        "-map",
        "0:v",
        "-map",
        "0:a",
        "-map",
        "1:a",
        "-c:v",
        "copy",
        "-c:a",
        "aac",
        "-ac:a:1",
        "2",
        two.to_str().unwrap(),
    ]);
    lipsync_tests::clips::without_audio(&g, &dir.join("silent.mp4"));
    std::fs::remove_file(&g).unwrap();
    std::fs::remove_file(dir.join("b.mp4")).unwrap();
    assert!(Command::new("mkfifo").arg(dir.join("fifo.mp4")).status().unwrap().success());

    let out = tmp.path().join("sync");
    let (ok, stdout, err) = sync_dir(&dir, &out, &[]);
    assert!(ok, "{stdout}{err}");
    assert!(
        err.contains("two: warning: 2 audio streams: the first is used (choose with --audio-stream N)"),
        "{err}"
    );
    let rows = evaluator::sync::batch::read_table(&out.join("sync.parquet")).unwrap();
    let reason =
        |id: &str| rows.iter().find(|r| r.utt_id == id).and_then(|r| r.reason.clone()).unwrap_or_default();
    assert!(reason("fifo").contains("is a FIFO"), "{rows:?}");
    assert!(reason("silent").starts_with("no audio stream"), "{rows:?}");
    assert!(!reason("silent").contains("matches no streams"), "{rows:?}");
    let first = rows.iter().find(|r| r.utt_id == "two").unwrap().result.clone().unwrap();
    let (ok, _, err) = sync_dir(&dir, &tmp.path().join("sync1"), &["--audio-stream", "1"]);
    assert!(ok && err.contains("2 audio streams: stream 1 is used (--audio-stream)"), "{err}");
    let rows1 = evaluator::sync::batch::read_table(&tmp.path().join("sync1/sync.parquet")).unwrap();
    let second = rows1.iter().find(|r| r.utt_id == "two").unwrap().result.clone().unwrap();
    assert_ne!(first.mean_scores, second.mean_scores, "--audio-stream 1 must score the tone");

    // lse: the same rule, the same words.
    let lse = |extra: &[&str], out: &str| {
        let o = tmp.path().join(out);
        let args = [
            "lse",
            "--resize",
            "--quiet",
            "--syncnet",
            syncnet.to_str().unwrap(),
            "--out",
            o.to_str().unwrap(),
        ];
        let (ok, stdout, err) =
            run("evaluator", &[&args[..], extra, &[two.to_str().unwrap()]].concat(), LIMIT);
        assert!(ok, "{stdout}{err}");
        (std::fs::read_to_string(o.join("lse.csv")).unwrap(), err)
    };
    let (default, err0) = lse(&[], "lse");
    let (zero, _) = lse(&["--audio-stream", "0"], "lse0");
    let (one, err1) = lse(&["--audio-stream", "1"], "lse1");
    assert!(err0.contains("2 audio streams: the first is used (choose with --audio-stream N)"), "{err0}");
    assert!(err1.contains("2 audio streams: stream 1 is used (--audio-stream)"), "{err1}");
    assert_eq!(default, zero, "lse's default is the first stream");
    assert_ne!(default, one);
}
