//! `evaluator lse` on a full-frame video against syncnet_python's own run_pipeline.py +
//! SyncNetInstance.evaluate (issue #31; `tests/golden/fullframe.json`, made by
//! `scripts/goldens/fullframe.py` from the same clip and detections): a 1440×576 clip built here
//! from three GRID speakers, two side by side, then a cut to a third; run_pipeline's detector
//! replaced on both sides by the same injected boxes (a head turn's missed frames, a short burst, a
//! face too small), the random SyncNet weights of `../shared/golden/syncnet`.
//!
//! Compared: the shots and tracks (same frames, same boxes), the dropped candidates (each with its
//! reason), and each track's LSE row against SyncNet on the reference's own crops (`rows_raw`,
//! within 1e-4). The reference then writes each track to XVID and reads it back as JPEGs, which
//! `evaluator lse` does not do: the difference from those rows (`rows_xvid`) is printed and bounded
//! by what README "Your own videos" states.

use std::path::Path;

use arrow::array::Array;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(300);

/// The clip: bbaf2n | lbax4n side by side for 6 s (bbaf2n's audio), then lwbsza alone, its
/// colours turned (a cut PySceneDetect sees), 6 s. Bit-exact flags: the same bytes every time.
fn build_clip(out: &Path) -> Option<()> {
    let raw = |n: &str| lipsync_tests::shared(&format!("grid_samples/raw/{n}.mpg"));
    let (a, b, c) = (raw("bbaf2n")?, raw("lbax4n")?, raw("lwbsza")?);
    let graph = "[0:v]split[a0][a1];[a0][a1]concat=n=2:v=1:a=0,scale=720:576,setsar=1[l];\
        [1:v]split[b0][b1];[b0][b1]concat=n=2:v=1:a=0,scale=720:576,setsar=1[r];[l][r]hstack,fps=25[first];\
        [2:v]split[c0][c1];[c0][c1]concat=n=2:v=1:a=0,scale=720:576,setsar=1,hue=h=180,pad=1440:576:360:0,fps=25[second];\
        [first][second]concat=n=2:v=1:a=0[v];[0:a]asplit[x0][x1];[2:a]asplit[y0][y1];\
        [x0][x1][y0][y1]concat=n=4:v=0:a=1,aresample=48000,pan=mono|c0=c0[a]";
    let s = |p: &Path| p.to_str().unwrap().to_string();
    lipsync_tests::ffmpeg(&[
        "-i",
        &s(&a),
        "-i",
        &s(&b),
        "-i",
        &s(&c),
        "-filter_complex",
        graph,
        "-map",
        "[v]",
        "-map",
        "[a]",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-crf",
        "20",
        "-threads",
        "1",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "pcm_s16le",
        "-fflags",
        "+bitexact",
        "-flags:v",
        "+bitexact",
        "-flags:a",
        "+bitexact",
        &s(out),
    ]);
    Some(())
}

fn golden() -> serde_json::Value {
    let path = lipsync_tests::repo_root().join("tests/golden/fullframe.json");
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn f(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap()
}

#[test]
fn full_frame_tracks_and_lse_rows_equal_run_pipeline() {
    let Some(syncnet) = lipsync_tests::shared("golden/syncnet/syncnet_rand.model") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let clip = tmp.path().join("scene.mkv");
    if build_clip(&clip).is_none() {
        return;
    }
    let g = golden();
    let sha = manifests::sha256_file(&clip).unwrap();
    assert_eq!(
        sha,
        g["clip_sha256"].as_str().unwrap(),
        "the clip built here differs from the golden's (another ffmpeg/x264?): regenerate tests/golden/fullframe.json with scripts/goldens/fullframe.py"
    );
    let dets = tmp.path().join("dets.json");
    std::fs::write(&dets, g["detections"].to_string()).unwrap();
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let tracks = g["tracks"].as_array().unwrap();
    // Each track's row under one crop path: the largest difference in (confidence, min_dist,
    // every mean distance) from the golden rows `key`.
    let lse = |crop_video: &str, key: &str| -> [f64; 3] {
        let out = tmp.path().join(crop_video);
        let (ok, stdout, err) = lipsync_tests::run_bin(
            "evaluator",
            &[
                "lse",
                "--quiet",
                "--full-frame",
                "--detections",
                &s(&dets),
                "--crop-video",
                crop_video,
                "--syncnet",
                &s(&syncnet),
                "--out",
                &s(&out),
                &s(&clip),
            ],
            &[],
            LIMIT,
        );
        assert!(ok, "{stdout}{err}");
        // One row per kept track, in the reference's order, with its span.
        let csv = std::fs::read_to_string(out.join("lse.csv")).unwrap();
        let rows: Vec<Vec<&str>> = csv.lines().skip(1).map(|l| l.split(',').collect()).collect();
        assert_eq!(rows.len(), tracks.len(), "{csv}");
        let mut worst = [0f64; 3];
        for (t, row) in rows.iter().enumerate() {
            let span = &tracks[t]["frames"];
            assert_eq!(row[1], t.to_string());
            assert_eq!(
                (row[2], row[3]),
                (span[0].to_string().as_str(), span[1].to_string().as_str()),
                "track {t}"
            );
            let theirs = &g[key][t];
            assert_eq!(row[4].parse::<i64>().unwrap(), theirs["offset"].as_i64().unwrap(), "track {t}");
            assert_eq!(row[7].parse::<u64>().unwrap(), theirs["windows"].as_u64().unwrap(), "track {t}");
            let d = |a: &str, b: &serde_json::Value| (a.parse::<f64>().unwrap() - f(b)).abs();
            worst[0] = worst[0].max(d(row[5], &theirs["confidence"]));
            worst[1] = worst[1].max(d(row[6], &theirs["min_dist"]));
            for (a, b) in row[10..].iter().zip(theirs["mean_dists"].as_array().unwrap()) {
                worst[2] = worst[2].max(d(a, b));
            }
        }
        worst
    };
    let direct = lse("direct", "rows_raw");
    let xvid = lse("xvid", "rows_xvid");
    println!(
        "direct crops vs SyncNet on the reference's crops (confidence, min_dist, mean dists): {direct:?}"
    );
    println!("xvid crop videos vs the reference's rows: {xvid:?}");
    assert!(direct.iter().all(|&w| w <= 1e-4), "{direct:?}");
    assert!(xvid[0] <= 1e-4 && xvid[1] <= 0.005 && xvid[2] <= 0.005, "{xvid:?}");
    let out = tmp.path().join("xvid");

    // tracks.parquet: the kept tracks' boxes as the reference interpolated them; every dropped
    // candidate with its reason.
    let file = std::fs::File::open(out.join("tracks.parquet")).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let (mut kept, mut dropped) = (0, Vec::new());
    for batch in reader {
        let batch = batch.unwrap();
        let col = |n: &str| batch.column_by_name(n).unwrap().clone();
        let track = col("track");
        let track = track.as_any().downcast_ref::<arrow::array::UInt32Array>().unwrap();
        let reason = col("reason");
        let reason = reason.as_any().downcast_ref::<arrow::array::StringArray>().unwrap();
        let boxes = col("boxes");
        let boxes = boxes.as_any().downcast_ref::<arrow::array::ListArray>().unwrap();
        for i in 0..batch.num_rows() {
            if track.is_null(i) {
                dropped.push(reason.value(i).to_string());
                continue;
            }
            let t = track.value(i) as usize;
            let mine = boxes.value(i);
            let mine = mine.as_any().downcast_ref::<arrow::array::FixedSizeListArray>().unwrap();
            let theirs = tracks[t]["bboxes"].as_array().unwrap();
            assert_eq!(mine.len(), theirs.len(), "track {t}");
            for (k, b) in theirs.iter().enumerate() {
                let v = mine.value(k);
                let v = v.as_any().downcast_ref::<arrow::array::Float32Array>().unwrap();
                for c in 0..4 {
                    assert_eq!(v.value(c), f(&b[c]) as f32, "track {t} frame {k}");
                }
            }
            kept += 1;
        }
    }
    assert_eq!(kept, tracks.len());
    assert!(dropped.iter().any(|r| r.contains("frames 60..=64") && r.contains("too few")), "{dropped:?}");
    assert!(dropped.iter().any(|r| r.contains("too small")), "{dropped:?}");
    // The tracks picture: one tile per track.
    let pictures: Vec<_> = std::fs::read_dir(out.join("tracks")).unwrap().collect();
    assert_eq!(pictures.len(), 1);
}
