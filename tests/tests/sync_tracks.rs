//! `evaluator sync --tracks` (issue #31): two synthetic-corpus faces side by side, one saying the
//! audio and the other saying something else (its clip played backwards), must give two tracks
//! with the speaker named on the right side, by the shipped model, without a warning; and
//! `--write-corrected` must undo a known offset (re-measured within one frame of 0).

use std::path::{Path, PathBuf};
use std::time::Duration;

use preprocess::synth::{generate, SynthConfig};

const LIMIT: Duration = Duration::from_secs(180);

fn model() -> String {
    lipsync_tests::repo_root().join("models/synth-micro-teacher.safetensors").to_str().unwrap().to_string()
}

fn clips(dir: &Path, offset: i32) -> Vec<PathBuf> {
    let cfg = SynthConfig { speakers: 3, utterances_per_speaker: 1, seed: 7, offset_frames: vec![offset] };
    generate(dir, &cfg, 2, true).unwrap();
    let main = dir.join("mvlrs_v1/main");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&main)
        .unwrap()
        .flatten()
        .map(|e| e.path().join("00001.mp4"))
        .filter(|p| p.is_file())
        .collect();
    out.sort();
    out
}

fn sync(args: &[&str]) -> String {
    let m = model();
    let (ok, out, err) =
        lipsync_tests::run_bin("evaluator", &[&["sync", "--model", &m][..], args].concat(), &[], LIMIT);
    assert!(ok, "{out}{err}");
    out
}

#[test]
fn the_speaking_face_is_named_among_two() {
    let tmp = tempfile::tempdir().unwrap();
    let c = clips(&tmp.path().join("synth"), 0);
    let s = |p: &Path| p.to_str().unwrap().to_string();
    for (speaker_left, name) in [(true, "left.mp4"), (false, "right.mp4")] {
        let video = tmp.path().join(name);
        // The speaker plays forwards with its own audio; the other face plays backwards.
        let (graph, audio) = if speaker_left {
            ("[1:v]reverse[o];[0:v][o]hstack=shortest=1,scale=640:320[v]", "0:a")
        } else {
            ("[0:v]reverse[o];[o][1:v]hstack=shortest=1,scale=640:320[v]", "1:a")
        };
        lipsync_tests::ffmpeg(&[
            "-i",
            &s(&c[0]),
            "-i",
            &s(&c[1]),
            "-filter_complex",
            graph,
            "-map",
            "[v]",
            "-map",
            audio,
            "-shortest",
            "-c:v",
            "libx264",
            "-crf",
            "18",
            "-c:a",
            "aac",
            &s(&video),
        ]);
        let r: serde_json::Value =
            serde_json::from_str(&sync(&[&s(&video), "--tracks", "fast", "--json"])).unwrap();
        let tracks = r["tracks"].as_array().unwrap();
        assert_eq!(tracks.len(), 2, "{r}");
        let t = r["speaker"].as_u64().expect("a speaker") as usize;
        let b = &tracks[t]["mean_box"];
        let centre = (b[0].as_f64().unwrap() + b[2].as_f64().unwrap()) / 2.0;
        assert_eq!(centre < 320.0, speaker_left, "{name}: {r}");
        assert!(r["warning"].is_null(), "{name}: {r}");
        assert!(tracks[t]["result"]["offset_frames"].as_i64().unwrap().abs() <= 1, "{name}: {r}");
    }
}

#[test]
fn write_corrected_undoes_the_offset() {
    let tmp = tempfile::tempdir().unwrap();
    let c = clips(&tmp.path().join("synth"), 4);
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let offset = |v: &Path, extra: &[&str]| {
        let r: serde_json::Value =
            serde_json::from_str(&sync(&[&[&s(v)[..], "--json"][..], extra].concat())).unwrap();
        r["offset_frames"].as_i64().unwrap()
    };
    let before = offset(&c[0], &[]);
    assert!((before - 4).abs() <= 1, "{before}");
    let fixed = tmp.path().join("fixed.mp4");
    offset(&c[0], &["--write-corrected", &s(&fixed)]);
    let after = offset(&fixed, &[]);
    assert!(after.abs() <= 1, "measured {before} frames, {after} after the correction");
    // The video stream is copied, not re-encoded.
    let packets = |v: &Path| {
        let out = std::process::Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-select_streams",
                "v:0",
                "-show_entries",
                "packet=size",
                "-of",
                "csv=p=0",
                &s(v),
            ])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(packets(&c[0]), packets(&fixed));
}
