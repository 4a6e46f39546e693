//! Full-frame videos as users bring them (issue #31), built here from a GRID clip with ffmpeg, all
//! in one `evaluator lse --full-frame` batch: no face, faces in short bursts, a head turn (frames
//! without a detection), a cut every 2 s, variable frame rate, a display-rotated phone video, 4K,
//! no audio, audio shorter than the video. Each gives a score or a clear per-video or per-track
//! reason, the batch goes on, and nothing disappears: every video has a row and every candidate
//! track is in tracks.parquet. The same videos through `sync --tracks` one by one.

use std::path::{Path, PathBuf};
use std::time::Duration;

use arrow::array::Array;

const LIMIT: Duration = Duration::from_secs(900);

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

/// (name, what must be in its rows).
const EXPECT: &[(&str, &str)] = &[
    ("plain.mp4", "scored"),
    ("noface.mp4", "no face"),
    ("bursts.mp4", "too few for a track"),
    ("headturn.mp4", "scored"),
    ("cuts.mp4", "scored"),
    ("vfr.mkv", "scored"),
    ("phone.mp4", "scored"),
    ("uhd.mp4", "scored"),
    ("noaudio.mp4", "no audio stream"),
    ("shortaudio.mp4", "scored"),
];

fn build(dir: &Path) -> Option<Vec<PathBuf>> {
    let raw = lipsync_tests::shared("grid_samples/raw/bbaf2n.mpg")?;
    let other = lipsync_tests::shared("grid_samples/raw/lwbsza.mpg")?;
    let p = |n: &str| s(&dir.join(n));
    let ff = lipsync_tests::ffmpeg;
    let enc = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac"];
    // 6 s of one speaker at 720×576.
    let reencoded = lipsync_tests::clips::reencoded;
    reencoded(&raw, 1, "scale=720:576,setsar=1", &dir.join("plain.mp4"));
    lipsync_tests::clips::faceless(&dir.join("noface.mp4"));
    // The face for 0.4 s of every 2 s (10 detections a burst, bursts 40 frames apart).
    let burst = "drawbox=enable='gte(mod(t,2),0.4)':x=0:y=0:w=iw:h=ih:color=black:t=fill";
    reencoded(&dir.join("plain.mp4"), 0, burst, &dir.join("bursts.mp4"));
    // The face lost for 9 frames (a head turn; blurred, so that the shot goes on): bridged.
    let turn = "boxblur=luma_radius=30:luma_power=3:enable='between(n,60,68)'";
    reencoded(&dir.join("plain.mp4"), 0, turn, &dir.join("headturn.mp4"));
    // A cut every 2 s: the speakers alternate, the second with its colours turned.
    let cuts = "[0:v]scale=720:576,setsar=1,trim=0:2,setpts=PTS-STARTPTS[a];\
        [1:v]scale=720:576,setsar=1,hue=h=180,trim=0:2,setpts=PTS-STARTPTS[b];\
        [0:v]scale=720:576,setsar=1,trim=2:3,setpts=PTS-STARTPTS[c];[a][b][c]concat=n=3:v=1:a=0[v]";
    ff(&[
        &["-i", &s(&raw), "-i", &s(&other), "-filter_complex", cuts, "-map", "[v]", "-map", "0:a"][..],
        &enc,
        &[&p("cuts.mp4")],
    ]
    .concat());
    // Variable frame rate: frames dropped in a pattern, timestamps kept (mkv).
    ff(&[
        "-i",
        &p("plain.mp4"),
        "-vf",
        "select='not(eq(mod(n,4),1))'",
        "-fps_mode",
        "vfr",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-c:a",
        "copy",
        &p("vfr.mkv"),
    ]);
    // A phone video stored sideways with a 90° display rotation.
    lipsync_tests::clips::phone(&dir.join("plain.mp4"), &dir.join("sideways.mp4"), &dir.join("phone.mp4"));
    // 4K: the face small in a large frame.
    reencoded(&raw, 0, "scale=1440:1152,pad=3840:2160:1200:504", &dir.join("uhd.mp4"));
    lipsync_tests::clips::without_audio(&dir.join("plain.mp4"), &dir.join("noaudio.mp4"));
    // Audio for the first 2.5 s of 6.
    ff(&["-i", &p("plain.mp4"), "-af", "atrim=0:2.5", "-c:v", "copy", "-c:a", "aac", &p("shortaudio.mp4")]);
    Some(EXPECT.iter().map(|(n, _)| dir.join(n)).collect())
}

#[test]
fn every_input_gets_a_score_or_a_reason() {
    let Some(syncnet) = lipsync_tests::shared("golden/syncnet/syncnet_rand.model") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let Some(videos) = build(tmp.path()) else { return };
    let out = tmp.path().join("lse");
    let args: Vec<String> = ["lse", "--quiet", "--full-frame", "--min-track", "40", "--min-face-size", "60"]
        .iter()
        .map(|a| a.to_string())
        .chain(["--syncnet".into(), s(&syncnet), "--out".into(), s(&out)])
        .chain(videos.iter().map(|v| s(v)))
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (ok, stdout, err) = lipsync_tests::run_bin("evaluator", &args, &[], LIMIT);
    assert!(ok, "{stdout}{err}");
    let csv = std::fs::read_to_string(out.join("lse.csv")).unwrap();
    for (name, want) in EXPECT {
        let rows: Vec<&str> = csv.lines().filter(|l| l.contains(&format!("/{name},"))).collect();
        assert!(!rows.is_empty(), "{name} has no row:\n{csv}");
        let ok = match *want {
            // A scored row has an offset (the fifth column).
            "scored" => rows.iter().any(|r| r.split(',').nth(4).is_some_and(|o| !o.is_empty())),
            needle => rows.iter().all(|r| r.contains(needle)),
        };
        assert!(ok, "{name}: want {want}:\n{}", rows.join("\n"));
    }
    let rows_of = |name: &str| csv.lines().filter(|l| l.contains(&format!("/{name},"))).count();
    // The cuts: the first and third shots hold the same speaker but are separate tracks.
    assert!(rows_of("cuts.mp4") >= 2, "{csv}");
    // The head turn is bridged: one track, as the plain clip, though the detector missed it.
    assert_eq!(rows_of("headturn.mp4"), 1, "{csv}");
    let input = media::fullframe::Input::open(
        &tmp.path().join("headturn.mp4"),
        media::fullframe::TrackMode::Exact,
        0,
    )
    .unwrap();
    let mut rustface = media::face::FaceDetector::new(&Default::default()).unwrap();
    let params =
        media::fullframe::FullFrameParams::new(media::fullframe::TrackMode::Exact, 1, Default::default());
    let det = media::fullframe::detect(&input, &mut rustface, &params).unwrap();
    let missed = det.faces[60..69].iter().filter(|f| f.is_empty()).count();
    assert!(missed >= 5, "the head turn hid the face in only {missed} of 9 frames");

    // tracks.parquet: every dropped burst has its row and reason.
    let file = std::fs::File::open(out.join("tracks.parquet")).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let mut burst_drops = 0;
    for batch in reader {
        let batch = batch.unwrap();
        let video = batch.column_by_name("video").unwrap().clone();
        let video = video.as_any().downcast_ref::<arrow::array::StringArray>().unwrap();
        let reason = batch.column_by_name("reason").unwrap().clone();
        let reason = reason.as_any().downcast_ref::<arrow::array::StringArray>().unwrap();
        for i in 0..batch.num_rows() {
            if video.value(i).ends_with("bursts.mp4") && !reason.is_null(i) {
                burst_drops += 1;
            }
        }
    }
    assert!(burst_drops >= 3, "one dropped candidate per burst, got {burst_drops}");

    // `sync --tracks fast` on the same files: a result or a one-line reason, never a panic.
    let model = lipsync_tests::repo_root().join("models/synth-micro-teacher.safetensors");
    for (name, want) in EXPECT {
        let v = tmp.path().join(name);
        let (ok, stdout, err) = lipsync_tests::run_bin(
            "evaluator",
            &["sync", &s(&v), "--model", &s(&model), "--tracks", "fast", "--json"],
            &[],
            LIMIT,
        );
        assert!(!err.contains("panicked"), "{name}: {err}");
        match *want {
            "no face" | "no audio stream" => assert!(!ok && err.trim().lines().count() == 1, "{name}: {err}"),
            _ => assert!(ok || err.trim().lines().count() == 1, "{name}: {stdout}{err}"),
        }
    }
}
