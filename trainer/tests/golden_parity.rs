//! Parity with the reference implementation (../shared/golden/model_io.safetensors):
//! logits within 1e-4, every attention / value-relation probability within 1e-5, prenet and
//! block outputs within 1e-4 (absolute, plus 1e-4 relative for large activations).

use std::collections::BTreeMap;
use std::path::PathBuf;

use burn::tensor::Tensor;
use nets::checkpoint::load_pth;
use nets::device::DeviceSpec;
use nets::model::{LayerTaps, Preset};
use nets::tensor_io::{read_safetensors, HostTensor};
use trainer::loss::behaviour::{attention_probs, cad, vr};
use trainer::loss::Block;

fn golden() -> Option<PathBuf> {
    lipsync_tests::shared("golden")
}

/// Max |a − b| over finite pairs, after checking shapes and that infinities coincide.
fn check(name: &str, got: &HostTensor, want: &HostTensor, abs: f32, rel: f32) -> f32 {
    assert_eq!(got.shape, want.shape, "{name}: shape");
    let mut worst = 0f32;
    for (i, (g, w)) in got.data.iter().zip(&want.data).enumerate() {
        if w.is_infinite() || g.is_infinite() {
            assert_eq!(g, w, "{name}[{i}]: infinities differ");
            continue;
        }
        let d = (g - w).abs();
        assert!(d <= abs + rel * w.abs(), "{name}[{i}]: got {g}, want {w} (|diff| {d})");
        worst = worst.max(d);
    }
    worst
}

/// `[B, L, d]` → time-major `[L, B, d]` as the reference stores block outputs.
fn time_major(t: Tensor<3>) -> HostTensor {
    HostTensor::from_tensor(t.swap_dims(0, 1))
}

fn run(prefix: &str, file: &str, expect: Preset, io: &BTreeMap<String, HostTensor>) {
    let Some(dir) = golden() else { return };
    let device = DeviceSpec::Cpu.device();
    let (model, config) = load_pth(&dir.join(file), None, &device).unwrap();
    assert_eq!(config, expect.config(), "preset inferred from shapes");
    let frames = io["input.frames"].to_tensor::<4>("input.frames", &device).unwrap();
    let mel = io["input.mel"].to_tensor::<4>("input.mel", &device).unwrap();
    let (logits, taps) = model.forward_taps(frames, mel);
    let g = |k: &str| &io[&format!("{prefix}.{k}")];
    check("vid_prenet", &HostTensor::from_tensor(taps.vid_prenet), g("vid_prenet"), 1e-4, 1e-4);
    check("aud_prenet", &HostTensor::from_tensor(taps.aud_prenet), g("aud_prenet"), 1e-4, 1e-4);
    let blocks: [(&str, &(Tensor<3>, Vec<LayerTaps>)); 3] =
        [("av", &taps.av), ("va", &taps.va), ("fus", &taps.fus)];
    let mut worst_p = 0f32;
    for (b, (out, layers)) in blocks {
        assert_eq!(layers.len(), 4);
        for (l, t) in layers.iter().enumerate() {
            let key = |k: &str| format!("{b}.{l}.{k}");
            check(
                &key("attn_logits"),
                &HostTensor::from_tensor(t.attn.logits.clone()),
                g(&key("attn_logits")),
                1e-4,
                1e-4,
            );
            for (k, p) in [
                ("attn_probs", attention_probs(&t.attn)),
                ("cad", cad(&t.attn, Block::from_name(b).expect("a block name"))),
                ("vr", vr(&t.attn)),
            ] {
                worst_p = worst_p.max(check(&key(k), &HostTensor::from_tensor(p), g(&key(k)), 1e-5, 0.0));
            }
        }
        check(&format!("{b}.out"), &time_major(out.clone()), g(&format!("{b}.out")), 1e-4, 1e-4);
    }
    eprintln!("{prefix}: max |Δprob| = {worst_p:e}");
    let worst = check("logits", &HostTensor::from_tensor(logits), g("logits"), 1e-4, 0.0);
    eprintln!("{prefix}: max |Δlogit| = {worst:e}");
}

fn io() -> Option<BTreeMap<String, HostTensor>> {
    Some(read_safetensors(&golden()?.join("model_io.safetensors")).unwrap())
}

#[test]
fn student_matches_pytorch() {
    if let Some(io) = io() {
        run("student", "mtdvocalist_rand.pth", Preset::Mtdvocalist, &io);
    }
}

#[test]
fn tiny_teacher_matches_pytorch() {
    if let Some(io) = io() {
        run("teacher", "tiny_teacher_rand.pth", Preset::Tiny, &io);
    }
}

#[test]
fn parameter_counts_are_exact() {
    let device = DeviceSpec::Cpu.device();
    assert_eq!(Preset::Mtdvocalist.config().init(&device).param_count(), 13_280_961);
    assert_eq!(Preset::Vocalist.config().init(&device).param_count(), 80_106_561);
    assert_eq!(Preset::Tiny.config().init(&device).param_count(), 1_739_665);
    // The embedded study's pair (issue #17): the student is at most 1/5 of its teacher.
    let teacher = Preset::Micro.config().init(&device).param_count();
    let student = Preset::MicroStudent.config().init(&device).param_count();
    assert_eq!((teacher, student), (440_553, 84_121));
    assert!(5 * student <= teacher, "micro-student is {student} of {teacher} parameters, more than 1/5");
}
