//! MTD loss parity with the authors' code (../shared/golden/losses.json): the 24 KL terms, BCE,
//! the UW-13D/UW-25D/AW-13D/AW-25D totals at initial weights and KD (T = 5, batch softmax), each
//! within 1e-5 relative, computed from the golden checkpoints' eval-mode taps.

use lipsync_tests::shared;
use nets::checkpoint::load_pth;
use nets::device::DeviceSpec;
use nets::tensor_io::read_safetensors;
use serde_json::Value;
use trainer::loss::report::loss_terms;

fn close(name: &str, got: f64, want: f64) {
    let rel = (got - want).abs() / want.abs().max(1e-30);
    assert!(rel <= 1e-5, "{name}: got {got:e}, want {want:e} (relative error {rel:e})");
}

#[test]
fn every_term_and_total_matches_pytorch() {
    let (Some(want), Some(io), Some(t), Some(s)) = (
        shared("golden/losses.json"),
        shared("golden/model_io.safetensors"),
        shared("golden/tiny_teacher_rand.pth"),
        shared("golden/mtdvocalist_rand.pth"),
    ) else {
        return; // `shared` said which file is absent (and failed under CI)
    };
    let want: Value = serde_json::from_str(&std::fs::read_to_string(want).unwrap()).unwrap();
    let device = DeviceSpec::Cpu.device();
    let (teacher, _) = load_pth(&t, None, &device).unwrap();
    let (student, _) = load_pth(&s, None, &device).unwrap();
    let got = loss_terms(&teacher, &student, &read_safetensors(&io).unwrap(), &device).unwrap();
    let want_terms = want["terms"].as_object().unwrap();
    assert_eq!(want_terms.len(), 24);
    for (k, w) in want_terms {
        close(k, got["terms"][k].as_f64().unwrap_or(f64::NAN), w.as_f64().unwrap());
    }
    // KD of nearly equal scalar logits is dominated by f32 rounding (the float64 value is 0.6 %
    // away from torch's float32 result), so it is checked on the golden eval-mode logits
    // themselves, computed with torch's float32 op sequence.
    let io = read_safetensors(&io).unwrap();
    let s_logits = io["student.logits"].to_tensor::<1>("student.logits", &device).unwrap();
    let t_logits = io["teacher.logits"].to_tensor::<1>("teacher.logits", &device).unwrap();
    let kd = trainer::loss::kd(s_logits, t_logits, 5.0, trainer::loss::KdForm::BatchSoftmax);
    close(
        "kd_T5_batch_softmax (golden logits)",
        kd.into_scalar::<f32>() as f64,
        want["kd_T5_batch_softmax"].as_f64().unwrap(),
    );
    for k in [
        "bce",
        "uw13_total_init_ones",
        "uw25_total_init_ones",
        "aw13_total_init_ones",
        "aw25_total_init_ones",
    ] {
        close(k, got[k].as_f64().unwrap_or(f64::NAN), want[k].as_f64().unwrap());
    }
}
