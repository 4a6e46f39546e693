//! The PyTorch baseline of `make bench` (`bench/torch_baseline.py`, issue #16) computes what the
//! reference computes: logits, prenet outputs and attention logits of both golden checkpoints
//! within 1e-4, and the BCE, the 24 KL terms and the UW-13D total within 1e-5 relative
//! (`../shared/golden/model_io.safetensors`, `losses.json`). So its timings are of the same work.

use std::process::Command;

#[test]
fn torch_baseline_matches_the_golden_outputs() {
    let (Some(python), Some(golden)) = (lipsync_tests::python(), lipsync_tests::shared("golden")) else {
        return;
    };
    let script = lipsync_tests::repo_root().join("bench/torch_baseline.py");
    let out = Command::new(&python).arg(&script).arg("parity").arg(&golden).output().expect("run python");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "parity failed: {text}{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
    eprintln!("torch baseline vs golden: {report}");
    assert_eq!(report["ok"], true);
    for key in ["teacher.logits", "student.logits", "teacher.attn_logits", "student.attn_logits"] {
        assert!(report[key].as_f64().unwrap() <= 1e-4, "{key}: {}", report[key]);
    }
    for key in ["bce_rel", "uw13_rel", "terms_rel"] {
        assert!(report[key].as_f64().unwrap() <= 1e-5, "{key}: {}", report[key]);
    }
}
