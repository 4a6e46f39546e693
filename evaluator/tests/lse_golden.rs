//! LSE-C / LSE-D against `joonson/syncnet_python` itself (`../shared/golden/syncnet`): the 16 kHz
//! samples exactly, MFCCs within 1e-6 relative, both encoders' embeddings and every distance
//! within 1e-4, and offset, minimum distance and confidence as the reference reports them.

use std::collections::BTreeMap;
use std::path::Path;

use evaluator::lse::{self, Embedder, FrameSource};
use media::reference;
use nets::device::DeviceSpec;
use nets::syncnet::{SyncNet, PARAMS};

const VIDEOS: [&str; 3] = ["sn_bbaf2n_sync", "sn_lbax4n_plus3", "sn_lwbsza_minus6"];

/// (dtype, shape, raw little-endian bytes) by name.
type Raw = BTreeMap<String, (safetensors::Dtype, Vec<usize>, Vec<u8>)>;

fn load(dir: &Path) -> Raw {
    let bytes = std::fs::read(dir.join("syncnet_io.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    st.tensors().into_iter().map(|(k, v)| (k, (v.dtype(), v.shape().to_vec(), v.data().to_vec()))).collect()
}

fn f32s(raw: &Raw, key: &str) -> (Vec<usize>, Vec<f32>) {
    let (dt, shape, b) = raw.get(key).unwrap_or_else(|| panic!("golden lacks {key}"));
    assert_eq!(*dt, safetensors::Dtype::F32, "{key}");
    (shape.clone(), b.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect())
}

/// ffmpeg's `image2` JPEG files of `video` in `dir`, as the reference writes them.
fn image2_files(video: &Path, dir: &Path) {
    let pattern = dir.join("%06d.jpg");
    lipsync_tests::ffmpeg(&[
        "-i",
        video.to_str().unwrap(),
        "-threads",
        "1",
        "-f",
        "image2",
        pattern.to_str().unwrap(),
    ]);
}

/// SyncNet with the golden random weights, on the CPU.
fn golden_embedder(dir: &Path) -> Embedder {
    let device = DeviceSpec::Cpu.device();
    let model = SyncNet::load(&dir.join("syncnet_rand.model"), &device).expect("golden weights load");
    Embedder { model, device }
}

fn max_abs(a: impl IntoIterator<Item = f32>, b: &[f32]) -> f32 {
    a.into_iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

#[test]
fn syncnet_matches_the_reference() {
    let Some(dir) = lipsync_tests::shared("golden/syncnet") else { return };
    let raw = load(&dir);
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("syncnet_expected.json")).unwrap()).unwrap();
    let embedder = golden_embedder(&dir);
    assert_eq!(embedder.model.param_count(), PARAMS);
    for name in VIDEOS {
        let video = dir.join(format!("{name}.mp4"));
        // Audio: the reference's WAV samples, exactly.
        let (dt, shape, b) = &raw[&format!("{name}.pcm")];
        assert_eq!(*dt, safetensors::Dtype::I16);
        let want_pcm: Vec<i16> = b.chunks_exact(2).map(|c| i16::from_le_bytes([c[0], c[1]])).collect();
        let pcm = reference::pcm_16k(&video, 0).unwrap();
        assert_eq!(pcm.len(), shape[0], "{name}: samples");
        assert!(pcm == want_pcm, "{name}: the 16 kHz samples differ from the reference's");
        // MFCC of the reference's samples: within 1e-6 relative (numpy `allclose(rtol=1e-6,
        // atol=1e-9)`: the cepstra of a silent frame's constant log-energies are 0 in exact
        // arithmetic and ~1e-15 in both implementations).
        let (dt, shape, b) = &raw[&format!("{name}.mfcc")];
        assert_eq!(*dt, safetensors::Dtype::F64);
        let want: Vec<f64> = b.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap())).collect();
        let (rows, cols) = (shape[0], shape[1]);
        let mfcc = features::mfcc::mfcc(&want_pcm);
        assert_eq!((rows, cols), (13, mfcc.len()), "{name}: MFCC shape");
        let mut worst = 0f64;
        for r in 0..rows {
            for c in 0..cols {
                let (x, y) = (mfcc[c][r], want[r * cols + c]);
                worst = worst.max(((x - y).abs() - 1e-9).max(0.0) / y.abs().max(f64::MIN_POSITIVE));
            }
        }
        assert!(worst <= 1e-6, "{name}: MFCC max relative diff {worst:e}");
        eprintln!("{name}: MFCC max relative diff {worst:e}");
        // Embeddings, distances and the LSE terms, with the reference's frames and batch size.
        let got = lse::evaluate(&video, &embedder, FrameSource::Jpeg, 20, false, 0).unwrap();
        let exp = &expected["videos"][name];
        assert_eq!(got.score.windows as u64, exp["num_windows"].as_u64().unwrap(), "{name}: windows");
        for (key, ours) in [("lip_feat", &got.lip), ("aud_feat", &got.aud)] {
            let (shape, want) = f32s(&raw, &format!("{name}.{key}"));
            assert_eq!(shape, vec![ours.len(), 1024], "{name}: {key} shape");
            let d = max_abs(ours.iter().flatten().copied(), &want);
            assert!(d <= 1e-4, "{name}: {key} max |diff| {d:e}");
            eprintln!("{name}: {key} max |diff| {d:e}");
        }
        let (_, want) = f32s(&raw, &format!("{name}.dists"));
        let d = max_abs(got.dists.iter().flatten().copied(), &want);
        assert!(d <= 1e-4, "{name}: dists max |diff| {d:e}");
        assert_eq!(got.score.offset as i64, exp["offset"].as_i64().unwrap(), "{name}: offset");
        for (key, ours) in [("min_dist", got.score.min_dist), ("confidence", got.score.confidence)] {
            let want = exp[key].as_f64().unwrap();
            assert!((ours as f64 - want).abs() <= 1e-4, "{name}: {key} {ours} vs {want}");
        }
        eprintln!(
            "{name}: dists max |diff| {d:e}; offset {} min_dist {} conf {}",
            got.score.offset, got.score.min_dist, got.score.confidence
        );
    }
}

/// The MJPEG packets read from the pipe are the files ffmpeg's image2 muxer writes.
#[test]
fn piped_jpegs_are_the_image2_files() {
    let Some(dir) = lipsync_tests::shared("golden/syncnet") else { return };
    let video = dir.join("sn_bbaf2n_sync.mp4");
    let tmp = tempfile::tempdir().unwrap();
    image2_files(&video, tmp.path());
    let out = std::process::Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-i",
            video.to_str().unwrap(),
            "-threads",
            "1",
            "-f",
            "image2pipe",
            "-c:v",
            "mjpeg",
            "pipe:1",
        ])
        .output()
        .unwrap();
    let mut stream = std::io::Cursor::new(out.stdout);
    let mut n = 0;
    while let Some(jpeg) = reference::next_jpeg(&mut stream).unwrap() {
        n += 1;
        let file = std::fs::read(tmp.path().join(format!("{n:06}.jpg"))).unwrap();
        assert!(jpeg == file, "frame {n}: piped JPEG differs from the image2 file");
    }
    assert_eq!(n, 75);
    assert!(!tmp.path().join(format!("{:06}.jpg", n + 1)).exists());
}

/// `--resize` (Wav2Lip's scores_LSE): a 160×160 clip's frames resized to 224×224 exactly as
/// `cv2.resize(cv2.imread(f), (224, 224))`, and the clip scored; without it, a reason.
#[test]
fn resize_is_cv2s_and_other_sizes_need_it() {
    let (Some(dir), Some(python)) = (lipsync_tests::shared("golden/syncnet"), lipsync_tests::python()) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let small = tmp.path().join("small.mp4");
    let src = dir.join("sn_bbaf2n_sync.mp4");
    lipsync_tests::ffmpeg(&["-i", src.to_str().unwrap(), "-vf", "scale=160:160", small.to_str().unwrap()]);
    // cv2's view of frame 1: the reference's JPEG file, imread, resize.
    image2_files(&small, tmp.path());
    let want_path = tmp.path().join("want.raw");
    let script = "import sys, cv2; cv2.resize(cv2.imread(sys.argv[1]), (224, 224)).tofile(sys.argv[2])";
    let first = tmp.path().join("000001.jpg");
    let st = std::process::Command::new(python)
        .args(["-c", script, first.to_str().unwrap(), want_path.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(st.success());
    let want = std::fs::read(&want_path).unwrap();
    let mut frames = reference::Frames::open(&small, FrameSource::Jpeg).unwrap();
    let f = frames.next_frame().unwrap().unwrap();
    assert_eq!((f.width, f.height), (160, 160));
    let img = media::resize::Image { width: 160, height: 160, channels: 3, data: f.bgr };
    let ours = media::resize::opencv_linear(&img, 224, 224);
    assert!(ours.data == want, "resized frame differs from cv2.resize");

    let embedder = golden_embedder(&dir);
    let e = lse::evaluate(&small, &embedder, FrameSource::Jpeg, 20, false, 0).unwrap_err().to_string();
    assert!(e.contains("160×160") && e.contains("--resize"), "{e}");
    let got = lse::evaluate(&small, &embedder, FrameSource::Jpeg, 20, true, 0).unwrap();
    assert_eq!(got.score.windows, 70);
    assert!(got.score.min_dist.is_finite() && got.score.confidence.is_finite());
}
