//! `preprocess import --layout wav2lip` (issue #15) against the reference loaders themselves: a
//! Wav2Lip-layout corpus written with OpenCV from the GRID clips (`wav2lip_reference.py build`),
//! then every stored crop compared byte for byte with `cv2.imread` + `cv2.resize` and with
//! `torchvision.io.read_image` + `transforms.Resize`, the PCM with `soundfile.read`, and the mel
//! with the torch pipeline of SPEC §1.3 (`wav2lip_reference.py reference`).

use std::path::{Path, PathBuf};
use std::process::Command;

use cli::Task;
use manifests::Manifest;
use media::resize::Resize;
use preprocess::engine::SetOptions;
use preprocess::wav2lip::{import, ImportConfig, Lists};
use shards::{ShardReader, Split, Utterance};

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/wav2lip_reference.py")
}

fn py(python: &Path, args: &[&Path]) {
    let out = Command::new(python).arg(script()).args(args).output().expect("run the test venv's python");
    assert!(
        out.status.success(),
        "wav2lip_reference.py {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprint!("{}", String::from_utf8_lossy(&out.stdout));
}

fn config(root: &Path, out: &Path, resize: Resize) -> ImportConfig {
    ImportConfig {
        root: root.to_path_buf(),
        lists: Lists::Splits(vec![Split::Test]),
        resize,
        zstd_level: preprocess::wav2lip::IMPORT_ZSTD_LEVEL,
        set: SetOptions {
            out: out.to_path_buf(),
            jobs: 2,
            utts_per_shard: 3,
            task: Task { index: 0, count: 1 },
            resume: true,
            quiet: true,
        },
    }
}

fn rows(dir: &Path) -> Vec<Utterance> {
    let m = Manifest::read(&dir.join("manifest.json")).unwrap();
    let mut out = Vec::new();
    for e in &m.shards {
        Manifest::verify_shard(dir, e).unwrap();
        out.extend(ShardReader::open(&dir.join(&e.file)).unwrap().iter().map(Result::unwrap));
    }
    out
}

fn f32s(path: &Path) -> Vec<f32> {
    std::fs::read(path)
        .unwrap()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

#[test]
fn imported_crops_pcm_and_mel_equal_the_reference_loaders() {
    let (Some(python), Some(grid), Some(golden)) = (
        lipsync_tests::python(),
        lipsync_tests::shared("grid_samples"),
        lipsync_tests::shared("golden/speech_librivox_mel.safetensors"),
    ) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (root, refs) = (tmp.path().join("lrs2_preprocessed"), tmp.path().join("reference"));
    py(&python, &[Path::new("build"), &grid.join("raw"), &grid.join("lrs2_layout/manifest.tsv"), &root]);
    let list = root.join("filelists/test.txt");
    py(&python, &[Path::new("reference"), &root, &list, &refs, &golden]);

    for resize in [Resize::Opencv, Resize::Torchvision] {
        let out = tmp.path().join(format!("shards-{resize:?}"));
        let report = import(&config(&root, &out, resize), &|_| {}).unwrap();
        assert_eq!((report.written, report.skipped), (8, 0), "{resize:?}: {:?}", report.warnings);
        let rows = rows(&out);
        assert_eq!(rows.len(), 8);
        let kind = match resize {
            Resize::Opencv => "opencv",
            Resize::Torchvision => "torchvision",
        };
        let mut frames = 0;
        for u in &rows {
            let stem = refs.join(u.utt_id.replace('/', "__"));
            let want = std::fs::read(stem.with_extension(kind)).unwrap();
            assert_eq!(u.frames.len(), want.len(), "{}: frame count", u.utt_id);
            let differ = u.frames.iter().zip(&want).filter(|(a, b)| a != b).count();
            assert_eq!(
                differ,
                0,
                "{resize:?} {}: {differ} of {} crop bytes differ from Python",
                u.utt_id,
                want.len()
            );
            frames += u.num_frames as usize;

            let pcm = f32s(&stem.with_extension("pcm"));
            let ours = features::pcm_to_f32(&u.pcm);
            assert!(ours == pcm, "{}: PCM differs from soundfile.read", u.utt_id);
            let mel = f32s(&stem.with_extension("mel"));
            assert_eq!(u.mel.len(), mel.len(), "{}: mel shape", u.utt_id);
            let d = u.mel.iter().zip(&mel).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
            assert!(d <= 1e-4, "{}: mel max |diff| {d} > 1e-4", u.utt_id);
            assert!(u.face_found.iter().all(|&f| f));
        }
        eprintln!("{resize:?}: {frames} crops of 8 utterances byte-identical with the Python loaders");
    }
}

/// A JPEG of `w × h` (a smooth gradient) as any encoder would write it.
fn jpeg(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 2) as u8, (y * 3) as u8, 128]));
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 95).encode_image(&img).unwrap();
    bytes
}

fn wav(path: &Path, rate: u32, channels: u16, samples_per_channel: usize) {
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..samples_per_channel * channels as usize {
        w.write_sample(((i * 37) % 2000) as i16 - 1000).unwrap();
    }
    w.finalize().unwrap();
}

/// An utterance directory with frames `numbers` and (unless `audio` is None) a 16 kHz mono wav of
/// `audio` samples.
fn utterance(root: &Path, id: &str, numbers: &[usize], audio: Option<usize>) -> PathBuf {
    let dir = root.join(id);
    std::fs::create_dir_all(&dir).unwrap();
    for &i in numbers {
        std::fs::write(dir.join(format!("{i}.jpg")), jpeg(100 + i as u32, 110)).unwrap();
    }
    if let Some(n) = audio {
        wav(&dir.join("audio.wav"), 16_000, 1, n);
    }
    dir
}

#[test]
fn bad_items_become_skip_records_and_good_ones_are_kept_once() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let frames: Vec<usize> = (0..8).collect();
    let enough = Some(8 * 640 + 100);
    utterance(&root, "prog/good", &frames, enough);
    utterance(&root, "prog/gap", &[0, 1, 2, 4, 5, 6, 7], enough);
    let bad = utterance(&root, "prog/badjpeg", &frames, enough);
    std::fs::write(bad.join("3.jpg"), b"\xFF\xD8 this is not a JPEG").unwrap();
    utterance(&root, "prog/noaudio", &frames, None);
    utterance(&root, "prog/shortaudio", &frames, Some(7 * 640 + 639));
    utterance(&root, "prog/few", &[0, 1, 2], enough);
    let named = utterance(&root, "prog/badname", &frames, enough);
    std::fs::write(named.join("cover.jpg"), jpeg(10, 10)).unwrap();
    let resampled = utterance(&root, "prog/resampled", &frames, None);
    wav(&resampled.join("audio.wav"), 44_100, 2, 8 * 1764 + 500);
    let outside = utterance(tmp.path(), "elsewhere/00001", &frames, enough);
    std::fs::create_dir_all(root.join("linked")).unwrap();
    std::os::unix::fs::symlink(&outside, root.join("linked/00001")).unwrap();
    let list = [
        "prog/good",
        "prog/gap",
        "prog/badjpeg",
        "",
        "prog/noaudio",
        "prog/shortaudio NF",
        "prog/few",
        "prog/badname",
        "prog/resampled",
        "prog/good",
        "../elsewhere/00001",
        "/etc/00001",
        "linked/00001",
        "prog/missing",
    ];
    std::fs::create_dir_all(root.join("filelists")).unwrap();
    std::fs::write(root.join("filelists/test.txt"), list.join("\n") + "\n").unwrap();

    let out = tmp.path().join("shards");
    let report = import(&config(&root, &out, Resize::Opencv), &|_| {}).unwrap();
    assert_eq!((report.written, report.skipped), (2, 10), "{report:?}");
    assert!(report
        .warnings
        .iter()
        .any(|w| w.starts_with("prog/resampled: audio.wav is 44100 Hz with 2 channel(s)")));
    let kept: Vec<String> = rows(&out).into_iter().map(|u| u.utt_id).collect();
    assert_eq!(kept, ["prog/good", "prog/resampled"]);
    let m = Manifest::read(&out.join("manifest.json")).unwrap();
    let reason = |id: &str| -> String {
        let s: Vec<_> = m.skipped.iter().filter(|s| s.utt_id == id).collect();
        assert_eq!(s.len(), 1, "{id} skipped {} times", s.len());
        assert!(!s[0].reason.contains('\n'), "{id}: reason is not one line");
        s[0].reason.clone()
    };
    let expect = [
        ("prog/gap", "frame numbering has a gap: 3.jpg is missing among 7 frames (test_lrs2.py would loop forever"),
        ("prog/badjpeg", "3.jpg: not a readable JPEG"),
        ("prog/noaudio", "no audio.wav"),
        ("prog/shortaudio", "audio.wav holds 5119 samples (7 frames at 25 fps), fewer than the 8 video frames (test_lrs2.py crashes"),
        ("prog/few", "3 frames, fewer than one 5-frame window"),
        ("prog/badname", "cover.jpg: not a frame file <N>.jpg"),
        ("../elsewhere/00001", "is not <programme>/<utt> inside the root: '.' and '..' components"),
        ("/etc/00001", "is not <programme>/<utt> inside the root: absolute paths"),
        ("linked/00001", "outside the root"),
        ("prog/missing", "no directory prog/missing"),
    ];
    for (id, want) in expect {
        let got = reason(id);
        assert!(got.contains(want), "{id}: reason {got:?} lacks {want:?}");
    }
    assert_eq!(m.skipped.len(), expect.len(), "one record per bad item: {:?}", m.skipped);

    // Resume keeps every shard and every skip record; a second run writes nothing.
    let again = import(&config(&root, &out, Resize::Opencv), &|_| {}).unwrap();
    assert_eq!((again.written, again.shards_written), (0, 0));
    let m2 = Manifest::read(&out.join("manifest.json")).unwrap();
    assert_eq!((m2.shards.len(), m2.skipped.len()), (m.shards.len(), m.skipped.len()));

    // Two cluster tasks and a merge make the same set.
    let split = tmp.path().join("split");
    for index in 0..2 {
        let mut cfg = config(&root, &split, Resize::Opencv);
        cfg.set.task = Task { index, count: 2 };
        import(&cfg, &|_| {}).unwrap();
    }
    let merged = preprocess::engine::merge(&split).unwrap();
    let sums = |m: &Manifest| m.shards.iter().map(|e| (e.file.clone(), e.sha256.clone())).collect::<Vec<_>>();
    assert_eq!(sums(&merged), sums(&m), "a two-task import differs from a one-task import");
    assert_eq!(merged.skipped, m.skipped);
}

/// Issue #20 point 8: `merge` used the task count of the alphabetically first partial manifest,
/// so a stale one from an earlier run with another task count won and the set failed `verify`.
/// The newest run's partial manifests are merged now.
#[test]
fn merge_uses_the_latest_runs_partial_manifests() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let frames: Vec<usize> = (0..6).collect();
    let mut list = String::new();
    for i in 0..6 {
        utterance(&root, &format!("prog/{i:05}"), &frames, Some(6 * 640));
        list += &format!("prog/{i:05}\n");
    }
    std::fs::create_dir_all(root.join("filelists")).unwrap();
    std::fs::write(root.join("filelists/test.txt"), list).unwrap();
    let out = tmp.path().join("shards");
    // An earlier run with 2 tasks and 3 utterances per shard, then this one with 4 tasks and 2.
    for (count, per_shard) in [(2, 3), (4, 2)] {
        for index in 0..count {
            let mut cfg = config(&root, &out, Resize::Opencv);
            cfg.set.task = Task { index, count };
            cfg.set.utts_per_shard = per_shard;
            cfg.set.resume = false;
            import(&cfg, &|_| {}).unwrap();
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let merged = preprocess::engine::merge(&out).unwrap();
    assert_eq!(merged.params["task_count"], 4);
    assert_eq!(merged.shards.len(), 3);
    for e in &merged.shards {
        Manifest::verify_shard(&out, e).unwrap();
    }
    assert_eq!(rows(&out).len(), 6);
}

/// Issue #33 point 8: a FIFO among the frames hung the import, and a FIFO `audio.wav` was "no
/// audio.wav"; a WAV that ffmpeg wrote to a pipe (RIFF and data sizes 0xFFFFFFFF) and one whose
/// data length overruns the file were dropped, though soundfile (the reference's reader) reads
/// both. Now the FIFOs are skips that say what they are, within a bounded time, and both WAVs are
/// imported with soundfile's samples.
#[test]
fn fifos_are_skipped_and_pipe_written_wavs_are_read_as_soundfile_reads_them() {
    let Some(python) = lipsync_tests::python() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let frames: Vec<usize> = (0..8).collect();
    let samples = 8 * 640 + 100;
    let mkfifo = |p: &Path| {
        let _ = std::fs::remove_file(p);
        assert!(Command::new("mkfifo").arg(p).status().unwrap().success());
    };
    let d = utterance(&root, "prog/fifojpg", &frames, Some(samples));
    mkfifo(&d.join("3.jpg"));
    let d = utterance(&root, "prog/fifowav", &frames, None);
    mkfifo(&d.join("audio.wav"));
    // ffmpeg writing a WAV to a pipe cannot seek back to fill in the sizes.
    let d = utterance(&root, "prog/pipewav", &frames, None);
    wav(&tmp.path().join("src.wav"), 16_000, 1, samples);
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(tmp.path().join("src.wav"))
        .args(["-f", "wav", "-"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(&out.stdout[4..8], &[0xFF; 4], "ffmpeg left the RIFF size unset");
    std::fs::write(d.join("audio.wav"), &out.stdout).unwrap();
    // A data length past the end of the file (a cut copy).
    let d = utterance(&root, "prog/longwav", &frames, Some(samples));
    let mut bytes = std::fs::read(d.join("audio.wav")).unwrap();
    let at = bytes.windows(4).position(|w| w == b"data").unwrap();
    bytes[at + 4..at + 8].copy_from_slice(&(10 * samples as u32).to_le_bytes());
    std::fs::write(d.join("audio.wav"), &bytes).unwrap();
    std::fs::create_dir_all(root.join("filelists")).unwrap();
    let list = "prog/fifojpg\nprog/fifowav\nprog/pipewav\nprog/longwav\n";
    std::fs::write(root.join("filelists/test.txt"), list).unwrap();

    // The import runs on a thread: a hang is a failure here, never a stuck test run.
    let out = tmp.path().join("shards");
    let cfg = config(&root, &out, Resize::Opencv);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(import(&cfg, &|_| {}).map_err(|e| e.to_string()));
    });
    let report = rx.recv_timeout(std::time::Duration::from_secs(120)).expect("the import hung").unwrap();
    assert_eq!((report.written, report.skipped), (2, 2), "{report:?}");
    let m = Manifest::read(&out.join("manifest.json")).unwrap();
    let reason = |id: &str| m.skipped.iter().find(|s| s.utt_id == id).map(|s| s.reason.clone()).unwrap();
    assert!(reason("prog/fifojpg").contains("3.jpg is a FIFO, not a regular file"), "{m:?}");
    assert!(reason("prog/fifowav").contains("audio.wav is a FIFO, not a regular file"), "{m:?}");
    assert!(
        report.warnings.iter().any(|w| w.starts_with("prog/pipewav: audio.wav declares 0xFFFFFFFF")),
        "{:?}",
        report.warnings
    );
    for u in rows(&out) {
        let path = root.join(&u.utt_id).join("audio.wav");
        let code = "import soundfile as sf, sys\nd, _ = sf.read(sys.argv[1], dtype='int16')\nsys.stdout.buffer.write(d.tobytes())";
        let o = Command::new(&python).args(["-c", code]).arg(&path).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let theirs: Vec<i16> = o.stdout.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])).collect();
        assert_eq!(theirs.len(), samples, "{}", u.utt_id);
        assert!(u.pcm == theirs, "{}: PCM differs from soundfile.read", u.utt_id);
    }
}
