//! Checkpoint round trips: .pth → our format → load → same logits; the exported safetensors
//! loads into the authors' PyTorch layout (same keys and shapes as the reference listing).

use std::collections::BTreeSet;

use burn::tensor::{Distribution, Tensor};
use lipsync_tests::shared;
use nets::checkpoint::{load, save, Provenance};
use nets::device::DeviceSpec;
use nets::export::state_dict;
use nets::tensor_io::HostTensor;

#[test]
fn pth_to_ours_and_back_gives_identical_logits() {
    let Some(pth) = shared("golden/mtdvocalist_rand.pth") else {
        return;
    };
    let device = DeviceSpec::Cpu.device();
    let a = load(&pth, None, &device).unwrap();
    assert!(a.meta.is_none());
    let frames = Tensor::<4>::random([2, 15, 48, 96], Distribution::Uniform(0.0, 255.0), &device);
    let mel = Tensor::<4>::random([2, 1, 80, 16], Distribution::Uniform(-4.0, 4.0), &device);
    let want = HostTensor::from_tensor(a.model.forward(frames.clone(), mel.clone()));

    let dir = tempfile::tempdir().unwrap();
    let ours = dir.path().join("student.safetensors");
    let prov = Provenance {
        source: Some(pth.display().to_string()),
        tool_version: "test".into(),
        ..Default::default()
    };
    let meta = save(&a.model, &a.config, prov.clone(), &ours).unwrap();
    assert_eq!(meta.param_count, 13_280_961);
    let b = load(&ours, None, &device).unwrap();
    assert_eq!(b.meta.as_ref().unwrap().provenance, prov);
    assert_eq!(b.config, a.config);
    let got = HostTensor::from_tensor(b.model.forward(frames, mel));
    assert_eq!(got, want, "logits must be bit-identical after the round trip");
}

#[test]
fn export_has_the_reference_keys_and_shapes() {
    let Some(listing) = shared("reference/mtdvocalist_state_dict.txt") else {
        return;
    };
    let device = DeviceSpec::Cpu.device();
    let model = nets::model::Preset::Mtdvocalist.config().init(&device);
    let sd = state_dict(&model);
    let text = std::fs::read_to_string(listing).unwrap();
    let mut want = BTreeSet::new();
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let cols: Vec<&str> = line.split('\t').collect();
        if cols[0].ends_with("num_batches_tracked") {
            continue; // filled in by PyTorch's BatchNorm loader, see export.rs
        }
        let shape: Vec<usize> = cols[1]
            .trim_matches(|c| c == '(' || c == ')')
            .split(',')
            .filter_map(|s| s.trim().parse().ok())
            .collect();
        assert_eq!(sd.get(cols[0]).map(|t| t.shape.clone()), Some(shape), "{}", cols[0]);
        want.insert(cols[0].to_string());
    }
    let got: BTreeSet<String> = sd.keys().cloned().collect();
    assert_eq!(got, want);
}

/// PyTorch itself loads the export strictly into a state dict of the reference layout.
#[test]
fn pytorch_loads_the_export() {
    let Some(pth) = shared("golden/tiny_teacher_rand.pth") else {
        return;
    };
    let Some(python) = lipsync_tests::python() else {
        return;
    };
    let device = DeviceSpec::Cpu.device();
    let a = load(&pth, None, &device).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tiny.safetensors");
    save(&a.model, &a.config, Provenance::default(), &out).unwrap();
    let script = r#"
import sys, torch
from safetensors.torch import load_file
ref = torch.load(sys.argv[1], map_location="cpu", weights_only=True)["state_dict"]
ours = load_file(sys.argv[2])
missing = [k for k in ref if k not in ours and not k.endswith("num_batches_tracked")]
extra = [k for k in ours if k not in ref]
assert not missing and not extra, (missing[:3], extra[:3])
for k, v in ours.items():
    if k.endswith("_float_tensor"):
        continue
    assert v.shape == ref[k].shape, k
    assert torch.equal(v, ref[k].float()), k
print("ok", len(ours))
"#;
    let o = std::process::Command::new(python).args(["-c", script]).arg(&pth).arg(&out).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}
