//! `evaluator sync --stream` (issue #18): synthetic clips shifted by known offsets are sent as
//! live streams, through stdin in the documented framing and through ffmpeg from the file; the
//! JSON lines come once per second of stream and the last one gives the true offset, as the
//! batch `evaluator sync` does. Bad streams fail with one line. `bench-stream` runs and reports.
//!
//! It uses the model shipped in `models/` (trained on the synthetic corpus, see its README).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use evaluator::sync::stream::{run, StreamConfig, StreamScorer};
use media::framing::{interleave, write_header, write_packet, FramedReader};
use preprocess::synth::{generate, SynthConfig};

fn model() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/synth-micro-teacher.safetensors")
}

/// Runs the evaluator with `stdin` on its standard input: (success, stdout, stderr).
fn evaluator(args: &[&str], stdin: &[u8]) -> (bool, String, String) {
    let mut child = Command::new(lipsync_tests::bin("evaluator"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data); // a refused stream closes the pipe early
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

/// The clip in the stdin framing, as the preprocessing decodes and resamples it; its frames.
fn framed(video: &Path) -> (Vec<u8>, usize) {
    let (v, a) = media::decode::decode_av(video, 0).unwrap();
    let pcm = media::audio::to_16k_mono(&a).unwrap();
    let mut buf = Vec::new();
    write_header(&mut buf, v.width, v.height).unwrap();
    for p in interleave(&v.frames, &pcm) {
        write_packet(&mut buf, &p).unwrap();
    }
    (buf, v.frames.len())
}

fn lines(stdout: &str) -> Vec<serde_json::Value> {
    stdout.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"))).collect()
}

#[test]
fn streams_give_the_true_offset_once_per_second() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = SynthConfig { speakers: 3, utterances_per_speaker: 1, seed: 7, offset_frames: vec![3, -4, 0] };
    generate(&dir.path().join("corpus"), &cfg, 2, true).unwrap();
    let meta: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("corpus/mvlrs_v1/synth.json")).unwrap(),
    )
    .unwrap();
    let m = model();
    let m = m.to_str().unwrap();
    let offsets = meta["offsets"].as_object().unwrap();
    assert_eq!(offsets.len(), 3);
    for (utt, truth) in offsets {
        let truth = truth.as_i64().unwrap();
        // Pretraining speakers' clips after the first are under pretrain/, the rest under main/.
        let root = dir.path().join("corpus/mvlrs_v1");
        let video = ["main", "pretrain"].map(|d| root.join(d).join(format!("{utt}.mp4")));
        let video = video.iter().find(|p| p.is_file()).unwrap_or_else(|| panic!("{utt}: no clip")).clone();
        let (stdin, frames) = framed(&video);

        // stdin framing: one line per 25 frames, then the last; the last has the true offset.
        let (ok, out, err) = evaluator(&["sync", "--stream", "-", "--model", m, "--window-s", "60"], &stdin);
        assert!(ok, "{err}");
        let l = lines(&out);
        assert_eq!(l.len(), frames / 25 + 1, "{out}");
        for (k, e) in l.iter().enumerate() {
            let last = k + 1 == l.len();
            assert_eq!(e["last"].as_bool(), Some(last));
            let f = if last { frames } else { 25 * (k + 1) };
            assert_eq!(e["frames"].as_u64(), Some(f as u64));
            assert!((e["t"].as_f64().unwrap() - f as f64 / 25.0).abs() < 1e-9);
        }
        let last = l.last().unwrap();
        assert_eq!(last["offset_frames"].as_i64(), Some(truth), "{utt}: {last}");
        assert_eq!(last["offset_ms"].as_i64(), Some(40 * truth));
        assert!(
            last["confidence"].as_f64().unwrap() > 0.0 && last["windows"].as_u64().unwrap() > 20,
            "{last}"
        );
        assert!(last["latency_ms"].as_f64().unwrap() >= 0.0);

        // The batch command on the same file agrees.
        let (ok, out, err) = evaluator(&["sync", video.to_str().unwrap(), "--model", m, "--json"], b"");
        assert!(ok, "{err}");
        let batch: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(batch["offset_frames"].as_i64(), Some(truth));

        // The file through ffmpeg: as many lines, the same offset.
        let (ok, out, err) = evaluator(&["sync", "--stream", video.to_str().unwrap(), "--model", m], b"");
        assert!(ok, "{err}");
        let l = lines(&out);
        assert_eq!(l.len(), frames / 25 + 1, "{out}");
        assert_eq!(l.last().unwrap()["offset_frames"].as_i64(), Some(truth), "{out}");

        // Every second window: half the windows, each scored as with hop 1 (the batches differ,
        // so libtorch may round the last bit differently).
        let hop = |h: usize| {
            let dev = nets::device::DeviceSpec::Cpu.device();
            let loaded = nets::checkpoint::load(&model(), None, &dev).unwrap();
            let cfg = StreamConfig { hop: h, window_s: 60.0, ..StreamConfig::default() };
            let mut s = StreamScorer::new(&loaded.model, loaded.config.input, &dev, cfg).unwrap();
            let r = FramedReader::new(stdin.as_slice()).unwrap();
            let size = (r.width, r.height);
            run(r, size, &mut s, |_| Ok(())).unwrap();
            s.rows().map(|(i, r)| (i, *r)).collect::<Vec<_>>()
        };
        let (all, half) = (hop(1), hop(2));
        assert_eq!(all.len() as u64, last["windows"].as_u64().unwrap());
        assert_eq!(half.len(), all.len().div_ceil(2));
        for (i, r) in &half {
            assert_eq!(i % 2, 0);
            let (_, full) = all[*i];
            let diff = r.iter().zip(&full).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
            assert!(diff < 1e-5, "window {i}: {diff}");
        }
    }
}

#[test]
fn bad_streams_fail_with_one_line() {
    let m = model();
    let m = m.to_str().unwrap();
    let one_line = |err: &str, want: &str| {
        let line = err.trim();
        assert!(line.lines().count() == 1 && line.contains(want), "wanted one line with {want:?}: {err}");
    };
    let (ok, _, err) =
        evaluator(&["sync", "--stream", "-", "--model", m], b"RIFF\x24\0\0\0WAVEfmt and so on");
    assert!(!ok);
    one_line(&err, "LSSTRM01");
    let mut cut = Vec::new();
    write_header(&mut cut, 64, 64).unwrap();
    cut.extend_from_slice(b"V\0\0\0");
    let (ok, _, err) = evaluator(&["sync", "--stream", "-", "--model", m], &cut);
    assert!(!ok);
    one_line(&err, "cut short");
    let (ok, _, err) = evaluator(&["sync", "--stream", "/nonexistent/clip.mp4", "--model", m], b"");
    assert!(!ok);
    one_line(&err, "/nonexistent/clip.mp4");
}

#[test]
fn bench_stream_reports_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = SynthConfig { speakers: 3, utterances_per_speaker: 1, seed: 5, offset_frames: vec![0] };
    generate(&dir.path().join("corpus"), &cfg, 1, true).unwrap();
    let video = dir.path().join("corpus/mvlrs_v1/main/spk0000/00001.mp4");
    let json = dir.path().join("bench.json");
    let args = ["bench-stream", "--video", video.to_str().unwrap(), "--presets", "micro", "--threads", "1"];
    let (ok, out, err) =
        evaluator(&[&args[..], &["--seconds", "2", "--json", json.to_str().unwrap()]].concat(), b"");
    assert!(ok, "{err}");
    assert!(out.contains("| micro |"), "{out}");
    let rows: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let r = &rows[0];
    assert_eq!(r["threads"].as_u64(), Some(1));
    assert_eq!(r["windows"].as_u64(), Some(45)); // 50 frames − 5
    assert!(r["windows_per_s"].as_f64().unwrap() > 0.0 && r["hop"].as_u64().unwrap() >= 1, "{r}");
    assert!(r["latency_p50_ms"].as_f64().is_some() && r["behind_ms"].as_f64().is_some(), "{r}");
}

/// Issue #33 point 4: when one medium starves, memory stays flat. 60 s of audio without video
/// held 0.66 MB per second before; 60 s of video without audio ~14 KB per frame. Now each side is
/// held at most `MAX_LEAD_FRAMES` ahead of the other, and when both flow again windows are scored.
#[test]
fn a_starved_medium_holds_bounded_memory() {
    use evaluator::sync::stream::MAX_LEAD_FRAMES;
    let dev = nets::device::DeviceSpec::Cpu.device();
    let loaded = nets::checkpoint::load(&model(), None, &dev).unwrap();
    let new =
        || StreamScorer::new(&loaded.model, loaded.config.input, &dev, StreamConfig::default()).unwrap();
    let noise: Vec<i16> = (0..640).map(|i| ((i * 7919) % 2000) as i16 - 1000).collect();
    let (w, h) = (64, 64);
    let frame = vec![128u8; w * h * 3];

    // Audio only for 60 s (1,500 frames' worth).
    let mut s = new();
    for _ in 0..1500 {
        s.push_audio(&noise);
    }
    let (crops, aud) = s.held();
    assert_eq!(crops, 0);
    assert!(aud <= MAX_LEAD_FRAMES + 15, "audio windows held: {aud}");

    // Video only for 60 s.
    let mut s = new();
    for _ in 0..1500 {
        s.push_frame(&frame, w, h);
    }
    let (crops, aud) = s.held();
    assert!(crops <= MAX_LEAD_FRAMES + 1, "crops held: {crops}");
    assert_eq!(aud, 0);
}

/// Issue #33 point 11: settings that made every estimate null are refused.
#[test]
fn stream_settings_that_score_nothing_are_refused() {
    let m = model();
    let m = m.to_str().unwrap();
    for (args, want) in [
        (vec!["--window-s", "0"], "--window-s"),
        (vec!["--window-s", "NaN"], "--window-s"),
        (vec!["--hop", "0"], "--hop"),
        (vec!["--hop", "4294967295"], "--hop 4294967295 must be from 1 to 250"),
        (vec!["--threads", "0"], "--threads"),
    ] {
        let (ok, _, err) = evaluator(&[&["sync", "--stream", "-", "--model", m][..], &args].concat(), b"");
        assert!(!ok, "{args:?} was accepted");
        assert!(err.contains(want), "{args:?}: {err}");
    }
    // Point 9: more threads than cores are reduced to the cores, and said so.
    let (_, _, err) = evaluator(&["sync", "--stream", "-", "--model", m, "--threads", "100000"], b"");
    assert!(err.contains("--threads 100000 is more than the"), "{err}");
}
