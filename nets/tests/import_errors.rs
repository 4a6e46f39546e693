//! Import errors: each a clear one-line error naming the file, never a panic.

use nets::checkpoint::{load_pth, CheckpointError};
use nets::device::DeviceSpec;
use nets::model::Preset;

fn golden_file(name: &str) -> Option<std::path::PathBuf> {
    lipsync_tests::shared(&format!("golden/{name}"))
}

#[test]
fn not_a_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("notes.pth");
    std::fs::write(&p, b"this is a text file, not a checkpoint").unwrap();
    let err = load_pth(&p, None, &DeviceSpec::Cpu.device()).err().unwrap();
    assert!(matches!(err, CheckpointError::NotACheckpoint { .. }), "{err}");
    assert!(err.to_string().contains("notes.pth"));
    let err = load_pth(&dir.path().join("missing.pth"), None, &DeviceSpec::Cpu.device()).err().unwrap();
    assert!(matches!(err, CheckpointError::Io { .. }), "{err}");
}

#[test]
fn truncated_file() {
    let Some(src) = golden_file("tiny_teacher_rand.pth") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("truncated.pth");
    let bytes = std::fs::read(src).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    let err = load_pth(&p, None, &DeviceSpec::Cpu.device()).err().unwrap();
    assert!(matches!(err, CheckpointError::Unreadable { .. }), "{err}");
    assert!(err.to_string().contains("truncated.pth"), "{err}");
}

#[test]
fn wrong_preset_names_the_keys() {
    let Some(src) = golden_file("tiny_teacher_rand.pth") else {
        return;
    };
    let err = load_pth(&src, Some(Preset::Mtdvocalist), &DeviceSpec::Cpu.device()).err().unwrap();
    let msg = err.to_string();
    assert!(matches!(err, CheckpointError::Mismatch { .. }), "{msg}");
    assert!(msg.contains("tiny_teacher_rand.pth") && msg.contains("mtdvocalist"), "{msg}");
}

/// A state dict missing one key, and one with a wrong shape, written by torch itself.
#[test]
fn missing_key_and_wrong_shape() {
    let Some(src) = golden_file("tiny_teacher_rand.pth") else {
        return;
    };
    let Some(python) = lipsync_tests::python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let script = r#"
import sys, torch
sd = torch.load(sys.argv[1], map_location="cpu", weights_only=True)["state_dict"]
a = dict(sd); del a["va_transformer.layers.2.fc1.bias"]
torch.save({"state_dict": a}, sys.argv[2] + "/missing.pth")
b = dict(sd); b["fc.bias"] = torch.zeros(3)
torch.save({"state_dict": {"module." + k: v for k, v in b.items()}}, sys.argv[2] + "/shape.pth")
torch.save(dict(sd), sys.argv[2] + "/bare.pth")
torch.save({"state_dict": {"module." + k: v for k, v in sd.items()}}, sys.argv[2] + "/prefixed.pth")
"#;
    let st =
        std::process::Command::new(python).args(["-c", script]).arg(&src).arg(dir.path()).status().unwrap();
    assert!(st.success());
    let device = DeviceSpec::Cpu.device();
    let err = load_pth(&dir.path().join("missing.pth"), None, &device).err().unwrap().to_string();
    assert!(err.contains("missing.pth") && err.contains("va_transformer.layers.2.fc1.bias"), "{err}");
    let err = load_pth(&dir.path().join("shape.pth"), None, &device).err().unwrap().to_string();
    assert!(err.contains("shape.pth") && err.contains("fc.bias"), "{err}");
    // A bare state dict loads.
    let (_, cfg) = load_pth(&dir.path().join("bare.pth"), None, &device).unwrap();
    assert_eq!(cfg.name, "tiny");
    // A DataParallel `module.` prefix loads too.
    let (_, cfg) = load_pth(&dir.path().join("prefixed.pth"), None, &device).unwrap();
    assert_eq!(cfg.name, "tiny");
}

/// Issue #20 point 6: an edited sidecar used to panic (heads 0 or 3: divide by zero, reshape) or
/// silently change how a model is run (heads 16, another channel order or divisor). Each is now
/// a one-line sidecar error naming the file.
#[test]
fn edited_sidecars_are_refused() {
    use nets::checkpoint::{load, save, sidecar_path, Provenance};
    let device = DeviceSpec::Cpu.device();
    let config = Preset::Micro.config();
    let dir = tempfile::tempdir().unwrap();
    let weights = dir.path().join("micro.safetensors");
    save(&config.init(&device), &config, Provenance::default(), &weights).unwrap();
    assert!(load(&weights, None, &device).is_ok(), "the saved checkpoint loads");
    let side = sidecar_path(&weights);
    let original: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&side).unwrap()).unwrap();
    let edits: [(&str, serde_json::Value); 5] = [
        ("heads", 0.into()),
        ("heads", 3.into()),
        ("heads", 16.into()),
        ("input", serde_json::json!({"channel_order": "bgr", "divisor": 1.0})),
        ("input", serde_json::json!({"channel_order": "rgb", "divisor": 0.0})),
    ];
    for (key, value) in edits {
        let mut edited = original.clone();
        edited["config"][key] = value.clone();
        std::fs::write(&side, serde_json::to_string(&edited).unwrap()).unwrap();
        let err = load(&weights, None, &device).err().unwrap_or_else(|| panic!("{key}={value} was accepted"));
        let msg = err.to_string();
        assert!(matches!(err, CheckpointError::Sidecar { .. }), "{key}={value}: {msg}");
        assert!(msg.contains("micro.json") && !msg.contains('\n'), "{key}={value}: {msg}");
    }
}
