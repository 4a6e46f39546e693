//! Issue #33 points 10 and 11, as a user meets them on the command line: counts of 0 and an
//! out-of-range zstd level are refused before any work, a journal of other settings names the
//! setting that differs (not 1.2 KB of JSON), `sync-clean` names the table it read, and the face
//! box sheet of a 1080×1920 clip is a small PNG.

/// (success, stdout, stderr), within 3 minutes.
fn run(name: &str, args: &[&str]) -> (bool, String, String) {
    lipsync_tests::run_bin(name, args, &[], std::time::Duration::from_secs(180))
}

#[test]
fn counts_of_zero_and_bad_levels_are_refused_up_front() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().to_str().unwrap();
    let m = lipsync_tests::repo_root().join("models/synth-micro-teacher.safetensors");
    let m = m.to_str().unwrap();
    for (name, args, want) in [
        ("preprocess", vec!["run", "--lrs2-root", d, "--out", d, "--jobs", "0"], "must be at least 1"),
        (
            "preprocess",
            vec!["run", "--lrs2-root", d, "--out", d, "--utts-per-shard", "0"],
            "must be at least 1",
        ),
        ("preprocess", vec!["import", "--root", d, "--out", d, "--zstd-level", "99"], "99 is not in 1..=22"),
        (
            "evaluator",
            vec!["sync", "--dir", d, "--model", m, "--out", d, "--jobs", "0"],
            "must be at least 1",
        ),
        (
            "evaluator",
            vec!["lse", "--dir", d, "--syncnet", m, "--out", d, "--jobs", "0"],
            "must be at least 1",
        ),
        ("evaluator", vec!["sync", "x.mp4", "--model", m, "--device", "cuda:99"], "use --device cpu"),
    ] {
        let (ok, _, err) = run(name, &args);
        assert!(!ok && err.contains(want), "{name} {args:?}: {err}");
        assert!(err.lines().count() <= 4, "{name} {args:?}: a long message: {err}");
    }
}

#[test]
fn other_settings_name_the_difference_and_sync_clean_names_its_table() {
    let Some(clip) = lipsync_tests::shared("grid_samples/lrs2_layout/mvlrs_v1/main/grid0002/00001.mp4")
    else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let videos = tmp.path().join("videos");
    std::fs::create_dir_all(&videos).unwrap();
    std::fs::copy(&clip, videos.join("a.mp4")).unwrap();
    let m = lipsync_tests::repo_root().join("models/synth-micro-teacher.safetensors");
    let out = tmp.path().join("out");
    let sync = |extra: &[&str]| {
        let args = [
            "sync",
            "--dir",
            videos.to_str().unwrap(),
            "--model",
            m.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--quiet",
        ];
        run("evaluator", &[&args[..], extra].concat())
    };
    let (ok, _, err) = sync(&[]);
    assert!(ok, "{err}");
    let (ok, _, err) = sync(&["--audio-stream", "1"]);
    assert!(!ok, "other settings into the same --out must be refused");
    assert!(
        err.contains("holds results of other settings (input.videos.preprocess.audio_stream: null → 1)"),
        "{err}"
    );
    assert!(err.len() < 400, "the message should name the setting, not print both headers: {err}");

    let clean = tmp.path().join("clean");
    let table = out.join("sync.parquet");
    let (ok, stdout, err) = run(
        "evaluator",
        &["sync-clean", table.to_str().unwrap(), "--keep", "offset == 0", "--out", clean.to_str().unwrap()],
    );
    assert!(ok, "{err}");
    assert!(stdout.contains(&format!("utterances scored in {}", table.display())), "{stdout}");
    assert!(!stdout.contains(&format!("sync.parquet in {}", clean.display())), "{stdout}");
    assert!(clean.join("keep.txt").is_file());
}

#[test]
fn the_box_sheet_of_a_tall_clip_is_small() {
    let Some(raw) = lipsync_tests::shared("grid_samples/raw/bbaf2n.mpg") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("mvlrs_v1");
    std::fs::create_dir_all(root.join("main/prog")).unwrap();
    let tall = root.join("main/prog/tall.mp4");
    lipsync_tests::clips::reencoded(&raw, 0, "scale=1080:864,pad=1080:1920:0:528", &tall);
    std::fs::write(root.join("test.txt"), "prog/tall\n").unwrap();
    let shards = tmp.path().join("shards");
    let (ok, _, err) =
        lipsync_tests::preprocess_test_split(&root, &shards, std::time::Duration::from_secs(180));
    assert!(ok, "{err}");
    let sheet = tmp.path().join("sheet.png");
    let boxes = tmp.path().join("boxes.png");
    let (ok, _, err) = run(
        "preprocess",
        &[
            "inspect",
            "--shards",
            shards.to_str().unwrap(),
            "--utt",
            "prog/tall",
            "--out",
            sheet.to_str().unwrap(),
            "--boxes-out",
            boxes.to_str().unwrap(),
            "--lrs2-root",
            root.to_str().unwrap(),
        ],
    );
    assert!(ok, "{err}");
    let img = image::open(&boxes).unwrap();
    let size = std::fs::metadata(&boxes).unwrap().len();
    // 15 frames of at most 320 px on their longer side (180×320 here), not 1080×1920 each
    // (31 Mpx at full size).
    let px = img.width() as u64 * img.height() as u64;
    assert!(px <= 15 * 182 * 322 && size < 4_000_000, "{}×{}, {size} bytes", img.width(), img.height());
}
