//! S3FD equal to syncnet_python's `detectors/s3fd` (issue #31): the stand-in weights of
//! `bench/s3fd_weights.py` are written in both torch formats users have (zip and the legacy
//! pre-1.6 pickles), loaded strictly, and run on the two synthetic images of
//! `tests/golden/s3fd.json` (made by `scripts/goldens/s3fd.py` with the reference's own network).
//! The box regressions, softmaxed scores and prior boxes its `Detect` step receives must agree
//! within 1e-4, and so must `Detect`'s rows and `detect_faces`' boxes (within 1e-3 px).

use std::path::Path;

use nets::s3fd::{detect, prepare, S3fd};
use serde_json::Value;

/// The golden's synthetic RGB image (the formula of `scripts/goldens/s3fd.py`).
fn image(h: usize, w: usize) -> Vec<u8> {
    let mut rgb = Vec::with_capacity(h * w * 3);
    for y in 0..h {
        for x in 0..w {
            let (xi, yi) = (x as i64, y as i64);
            let r = x * 255 / (w - 1).max(1);
            let g = y * 255 / (h - 1).max(1);
            let rad = (h.min(w) / 4) as i64;
            let blob = (xi - (w / 3) as i64).pow(2) + (yi - (h / 2) as i64).pow(2) < rad * rad;
            let b = if blob { 230 } else { (x + y) % 97 };
            rgb.extend([r as u8, g as u8, b as u8]);
        }
    }
    rgb
}

fn max_diff<const N: usize>(ours: &[[f32; N]], want: &Value) -> f32 {
    let want = want.as_array().unwrap();
    assert_eq!(ours.len(), want.len(), "rows");
    let mut m = 0f32;
    for (a, b) in ours.iter().zip(want) {
        for (x, y) in a.iter().zip(b.as_array().unwrap()) {
            m = m.max((x - y.as_f64().unwrap() as f32).abs());
        }
    }
    m
}

#[test]
fn raw_outputs_equal_the_reference_from_zip_and_legacy_files() {
    let Some(python) = lipsync_tests::python() else { return };
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("golden/s3fd.json");
    let g: Value = serde_json::from_str(&std::fs::read_to_string(golden).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/s3fd_weights.py");
    let device = nets::device::DeviceSpec::Cpu.device();
    for legacy in [false, true] {
        let file = dir.path().join(if legacy { "legacy.pth" } else { "zip.pth" });
        let mut cmd = std::process::Command::new(&python);
        cmd.arg(&script).arg(&file);
        if legacy {
            cmd.arg("--legacy");
        }
        let out = cmd.output().expect("python runs");
        assert!(out.status.success(), "s3fd_weights.py: {}", String::from_utf8_lossy(&out.stderr));
        let net = S3fd::load(&file, &device).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for case in g["cases"].as_array().unwrap() {
            let (h, w) =
                (case["height"].as_u64().unwrap() as usize, case["width"].as_u64().unwrap() as usize);
            let raw = net.forward(prepare(&image(h, w), w, h, &device));
            let (dl, dc, dp) = (
                max_diff(&raw.loc, &case["loc"]),
                max_diff(&raw.conf, &case["conf"]),
                max_diff(&raw.priors, &case["priors"]),
            );
            eprintln!("{h}×{w} (legacy {legacy}): max |Δ| loc {dl:.2e}, conf {dc:.2e}, priors {dp:.2e}");
            assert!(dl < 1e-4 && dc < 1e-4 && dp < 1e-6, "{h}×{w}: loc {dl}, conf {dc}, priors {dp}");
            // Detect: (score, box) rows after torch's suppression, best first.
            let det: Vec<[f32; 5]> =
                detect::detect(&raw).iter().map(|(s, b)| [*s, b[0], b[1], b[2], b[3]]).collect();
            let dd = max_diff(&det, &case["detect"]);
            // detect_faces at the golden's threshold: pixel boxes after numpy's suppression.
            let faces: Vec<[f32; 5]> = detect::faces(&raw, w, h, g["conf_th"].as_f64().unwrap())
                .iter()
                .map(|r| std::array::from_fn(|k| r[k] as f32))
                .collect();
            let df = max_diff(&faces, &case["faces"]);
            eprintln!(
                "  Detect: {} rows, max |Δ| {dd:.2e}; faces: {} rows, max |Δ| {df:.2e} px",
                det.len(),
                faces.len()
            );
            assert!(dd < 1e-4 && df < 1e-3, "{h}×{w}: detect {dd}, faces {df}");
        }
    }
}

#[test]
fn another_checkpoint_is_refused_with_its_reason() {
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/golden/mtdvocalist_rand.pth");
    let Some(path) = lipsync_tests::shared("golden/mtdvocalist_rand.pth") else { return };
    assert!(path == golden || path.exists());
    let e = S3fd::load(&path, &nets::device::DeviceSpec::Cpu.device()).unwrap_err().to_string();
    assert!(e.contains("not S3FD's weights"), "{e}");
}
