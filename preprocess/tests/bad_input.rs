//! A corpus of broken and unusual inputs built with ffmpeg: exactly the expected skips and
//! conversions, each skip with a one-line reason in the manifest; a corrupt transcript is a
//! warning, not a skip; the run never fails.

mod common;

use common::{ffmpeg, manifest, shard_rows, shared};
use lipsync_tests::clips;

#[test]
fn bad_items_are_skipped_with_reasons_and_odd_ones_converted() {
    let Some(grid) = shared("grid_samples/lrs2_layout/mvlrs_v1/main/grid0002/00001.mp4") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    let g = grid.to_str().unwrap();
    let p = |name: &str| src.join(name).to_str().unwrap().to_string();
    clips::without_audio(&grid, &src.join("noaudio.mp4"));
    clips::without_video(&grid, &src.join("novideo.mp4"));
    clips::faceless(&src.join("faceless.mp4"));
    ffmpeg(&["-i", g, "-r", "30", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "copy", &p("fps30.mp4")]);
    ffmpeg(&["-i", g, "-c:v", "copy", "-ar", "48000", "-ac", "2", "-c:a", "aac", &p("stereo48k.mp4")]);
    clips::short(&grid, &src.join("short.mp4"));
    // Two audio streams (issue #20 point 7): kept, the first used, with a warning.
    ffmpeg(&[
        "-i",
        g,
        "-i",
        g,
        "-map",
        "0:v",
        "-map",
        "0:a",
        "-map",
        "1:a",
        "-c",
        "copy",
        &p("twoaudio.mp4"),
    ]);
    let bytes = std::fs::read(&grid).unwrap();
    std::fs::write(p("truncated.mp4"), &bytes[..bytes.len() / 3]).unwrap();
    std::fs::write(p("empty.mp4"), b"").unwrap();
    // A faststart mp4 cut in half (issue #20 point 7): the header still announces 3 s, ffmpeg
    // decodes the first frames with warnings only; it used to be stored with 31 of 75 frames.
    ffmpeg(&["-i", g, "-c", "copy", "-movflags", "+faststart", &p("faststart.mp4")]);
    let fs = std::fs::read(p("faststart.mp4")).unwrap();
    std::fs::write(p("cutfaststart.mp4"), &fs[..fs.len() / 2]).unwrap();

    let root = dir.path().join("lrs2");
    let items: Vec<(String, std::path::PathBuf)> = [
        "noaudio",
        "novideo",
        "faceless",
        "fps30",
        "stereo48k",
        "short",
        "truncated",
        "empty",
        "twoaudio",
        "cutfaststart",
    ]
    .iter()
    .map(|n| (format!("prog/{n}"), src.join(format!("{n}.mp4"))))
    .collect();
    let refs: Vec<(&str, &std::path::Path)> = items.iter().map(|(i, p)| (i.as_str(), p.as_path())).collect();
    common::layout(&root, "val", &refs);
    // A listed file that does not exist.
    let list = root.join("val.txt");
    let mut text = std::fs::read_to_string(&list).unwrap();
    text.push_str("prog/missing\n");
    std::fs::write(&list, text).unwrap();

    // A corrupt (non-UTF-8) transcript is a warning, not a skip.
    std::fs::write(root.join("main/prog/fps30.txt"), b"Text:  BIN \xff\xfe GREEN\n").unwrap();

    let out = dir.path().join("out");
    let printed = common::run(&root, "val", &out, &[]);
    assert!(
        printed.contains("warning: prog/fps30: transcript") && printed.contains("not UTF-8"),
        "no transcript warning in: {printed}"
    );
    assert!(printed.contains("warning: prog/twoaudio: 2 audio streams: the first is used"), "{printed}");
    let m = manifest(&out);
    let reason = |id: &str| m.skipped.iter().find(|s| s.utt_id == id).map(|s| s.reason.clone());
    let expect = [
        ("prog/noaudio", "audio"),
        ("prog/novideo", "video"),
        ("prog/faceless", "no face"),
        ("prog/short", "shorter than one 5-frame window"),
        ("prog/truncated", "ffmpeg"),
        ("prog/empty", "zero-byte"),
        ("prog/cutfaststart", "truncated or damaged"),
        ("prog/missing", "missing"),
    ];
    for (id, needle) in expect {
        let r = reason(id).unwrap_or_else(|| panic!("{id} was not skipped; skipped: {:?}", m.skipped));
        assert!(r.contains(needle), "{id}: {r}");
        assert!(!r.contains('\n'), "{id}: reason must be one line: {r:?}");
    }
    assert_eq!(m.skipped.len(), expect.len(), "{:?}", m.skipped);
    // Converted, not skipped: 30 fps → 25 fps (3 s → 75 frames), 48 kHz stereo → 16 kHz mono.
    let rows = shard_rows(&out);
    assert_eq!(
        rows.iter().map(|u| u.utt_id.as_str()).collect::<Vec<_>>(),
        vec!["prog/fps30", "prog/stereo48k", "prog/twoaudio"]
    );
    for u in &rows {
        assert!((74..=76).contains(&u.num_frames), "{}: {} frames", u.utt_id, u.num_frames);
        assert!((u.pcm.len() as i64 - 48_000).abs() < 1_600, "{}: {} samples", u.utt_id, u.pcm.len());
    }
}

/// Issue #20 point 7 (part): an empty split list used to exit 0 with an empty manifest; now it
/// is an error naming the list, for `run` and for `import`.
#[test]
fn an_empty_split_list_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("mvlrs_v1");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("val.txt"), "\n\n").unwrap();
    let set = |out: &str| preprocess::engine::SetOptions {
        out: dir.path().join(out),
        jobs: 1,
        utts_per_shard: 4,
        task: cli::Task { index: 0, count: 1 },
        resume: false,
        quiet: true,
    };
    let cfg = preprocess::lrs2::RunConfig {
        lrs2_root: root.clone(),
        splits: vec![shards::Split::Val],
        params: Default::default(),
        set: set("out"),
    };
    let e = preprocess::lrs2::run(&cfg, &|_| {}).unwrap_err().to_string();
    assert!(e.contains("val.txt: lists no utterances"), "{e}");
    let import = preprocess::wav2lip::ImportConfig {
        root: root.clone(),
        lists: preprocess::wav2lip::Lists::File { path: root.join("val.txt"), split: shards::Split::Val },
        resize: media::resize::Resize::Opencv,
        zstd_level: 1,
        set: set("out2"),
    };
    let e = preprocess::wav2lip::import(&import, &|_| {}).unwrap_err().to_string();
    assert!(e.contains("val.txt: lists no utterances"), "{e}");
}

/// Issue #20 point 7: the audio stream is a choice (`--audio-stream`), recorded in the manifest
/// when it is not the first; a stream the file lacks is a skip with the reason.
#[test]
#[rustfmt::skip] // the ffmpeg argument list reads better grouped
fn the_audio_stream_is_chosen_explicitly() {
    let Some(grid) = shared("grid_samples/lrs2_layout/mvlrs_v1/main/grid0002/00001.mp4") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let two = dir.path().join("two.mp4");
    // Stream 0: the speech; stream 1: a 440 Hz tone of the same length.
    ffmpeg(&[
        "-i", grid.to_str().unwrap(), "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000:duration=3",
        "-map", "0:v", "-map", "0:a", "-map", "1:a", "-c:v", "copy", "-c:a", "aac", "-ac", "1",
        two.to_str().unwrap(),
    ]);
    let root = dir.path().join("lrs2");
    common::layout(&root, "val", &[("prog/two", two.as_path())]);
    let pcm = |extra: &[&str], out: &str| {
        let out = dir.path().join(out);
        let printed = common::run(&root, "val", &out, extra);
        (shard_rows(&out).first().map(|u| u.pcm.clone()), manifest(&out), printed)
    };
    let (first, m0, p0) = pcm(&[], "s0");
    let (second, m1, p1) = pcm(&["--audio-stream", "1"], "s1");
    assert!(p0.contains("2 audio streams: the first is used (choose with --audio-stream N)"), "{p0}");
    assert!(p1.contains("2 audio streams: stream 1 is used"), "{p1}");
    let (first, second) = (first.expect("stream 0 stored"), second.expect("stream 1 stored"));
    assert_ne!(first, second, "--audio-stream 1 must store the other stream");
    assert!(m0.params["process"].get("audio_stream").is_none(), "the default is not recorded");
    assert_eq!(m1.params["process"]["audio_stream"], 1);
    let (none, m5, _) = pcm(&["--audio-stream", "5"], "s5");
    assert!(none.is_none());
    let reason = &m5.skipped.first().expect("skipped").reason;
    assert!(reason.contains("0:a:5") && !reason.contains('\n'), "{reason}");
}
