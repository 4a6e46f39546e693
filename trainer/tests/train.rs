//! The training loop on real shards (GRID samples) with tiny configs: a `kill -9`ed and resumed run
//! ends exactly like an uninterrupted one; every loss of the distillation issue runs; a non-finite
//! loss stops the run with the step and the terms.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use nets::checkpoint::{self, Provenance};
use nets::device::DeviceSpec;
use nets::model::Preset;
use serde_json::Value;
use trainer::train::{train, RunConfig, TrainError, TrainOptions};

fn shards(dir: &Path) -> Option<PathBuf> {
    let out = dir.join("shards");
    lipsync_tests::grid_shards(&out)?;
    Some(out)
}

fn tiny(shards: &Path, extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = [
        format!("shards={:?}", shards.display().to_string()),
        "train_split=\"test\"".into(),
        "val_split=\"test\"".into(),
        "model.preset=\"tiny-student\"".into(),
        "batch_size=4".into(),
        "steps_per_epoch=3".into(),
        "val_samples=8".into(),
        "val_batch_size=4".into(),
        "log_every=2".into(),
        "lr=1e-3".into(),
        "seed=7".into(),
        "data.buffer_utts=4".into(),
        "data.prefetch=2".into(),
    ]
    .into();
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

/// The epoch lines without their timing fields.
fn epochs(run: &Path) -> Vec<Value> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["event"] == "epoch")
        .map(|mut v| {
            let o = v.as_object_mut().unwrap();
            o.remove("epoch_s");
            o.remove("wait_fraction");
            v
        })
        .collect()
}

fn trainer_cmd(args: &[String]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_trainer"));
    c.arg("train").arg("--quiet").args(args);
    c
}

#[test]
fn killed_and_resumed_run_matches_an_uninterrupted_one() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(shards) = shards(tmp.path()) else { return };
    let sets: Vec<String> =
        tiny(&shards, &["epochs=4"]).into_iter().flat_map(|s| ["--set".to_string(), s]).collect();
    let a = tmp.path().join("a");
    let mut args = sets.clone();
    args.extend(["--out".into(), a.display().to_string()]);
    assert!(trainer_cmd(&args).status().unwrap().success());

    let b = tmp.path().join("b");
    let mut args = sets.clone();
    args.extend(["--out".into(), b.display().to_string()]);
    let mut child = trainer_cmd(&args).spawn().unwrap();
    // Kill once at least one epoch is saved and the run is somewhere inside the next one.
    let start = Instant::now();
    loop {
        let saved = std::fs::read_to_string(b.join("state/state.json")).ok();
        if saved.is_some_and(|s| s.contains("\"epoch\": 1") || s.contains("\"epoch\": 2")) {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(300), "no state saved");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(trainer_cmd(&["--resume".into(), b.display().to_string()]).status().unwrap().success());

    let (ea, eb) = (epochs(&a), epochs(&b));
    assert_eq!(ea.len(), 4);
    assert_eq!(ea, eb, "metrics after resume");
    let weights = |r: &Path| std::fs::read(r.join("last.safetensors")).unwrap();
    assert!(weights(&a) == weights(&b), "last.safetensors differs after resume");
    // The run directory has what it promises.
    for f in ["config.toml", "best.safetensors", "best.json", "last.json", "state/optim.bpk"] {
        assert!(a.join(f).is_file(), "{f}");
    }
    let first: Value = serde_json::from_str(
        std::fs::read_to_string(a.join("metrics.jsonl")).unwrap().lines().next().unwrap(),
    )
    .unwrap();
    assert_eq!(first["event"], "start");
    assert_eq!(first["manifest_sha256"].as_str().unwrap().len(), 64);
    assert_eq!(first["config"]["seed"], 7);
    // Starting over in a used directory is refused with a hint.
    let out = trainer_cmd(&args).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--resume"));
}

/// Issue #20 point 3: a resume from a state saved inside an epoch (`checkpoint_every > 0`) is
/// exact too, BatchNorm running statistics included (burn keeps a step's running-statistics
/// update pending until the next forward; the state must hold it).
#[test]
fn killed_mid_epoch_and_resumed_matches_an_uninterrupted_run() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(shards) = shards(tmp.path()) else { return };
    let sets: Vec<String> = tiny(&shards, &["epochs=2", "steps_per_epoch=6", "checkpoint_every=2"])
        .into_iter()
        .filter(|s| !s.starts_with("steps_per_epoch=3"))
        .flat_map(|s| ["--set".to_string(), s])
        .collect();
    let run = |dir: &Path| {
        let mut args = sets.clone();
        args.extend(["--out".into(), dir.display().to_string()]);
        args
    };
    let a = tmp.path().join("a");
    assert!(trainer_cmd(&run(&a)).status().unwrap().success());
    // Kill right after a mid-epoch save; retry when the kill lands after an epoch's end instead.
    let mut resumed_from = None;
    for attempt in 0..6 {
        let b = tmp.path().join(format!("b{attempt}"));
        let mut child = trainer_cmd(&run(&b)).spawn().unwrap();
        let start = Instant::now();
        let state = b.join("state/state.json");
        let mid = |s: &str| s.contains("\"step_in_epoch\": 2") || s.contains("\"step_in_epoch\": 4");
        while !std::fs::read_to_string(&state).is_ok_and(|s| mid(&s)) {
            assert!(start.elapsed() < Duration::from_secs(300), "no mid-epoch state saved");
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let saved = std::fs::read_to_string(&state).unwrap_or_default();
        if !mid(&saved) {
            continue;
        }
        assert!(trainer_cmd(&["--resume".into(), b.display().to_string()]).status().unwrap().success());
        resumed_from = Some(b);
        break;
    }
    let b = resumed_from.expect("a kill right after a mid-epoch save in 6 attempts");
    let (ea, eb) = (epochs(&a), epochs(&b));
    assert_eq!(ea.len(), 2);
    assert_eq!(ea, eb, "metrics after a mid-epoch resume");
    let weights = |r: &Path| std::fs::read(r.join("last.safetensors")).unwrap();
    assert!(weights(&a) == weights(&b), "last.safetensors differs after a mid-epoch resume");
}

#[test]
fn every_loss_runs_on_a_tiny_config() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(shards) = shards(tmp.path()) else { return };
    let device = DeviceSpec::Cpu.device();
    device.seed(3);
    let teacher = tmp.path().join("teacher.safetensors");
    let cfg = Preset::Tiny.config();
    checkpoint::save(&cfg.init(&device), &cfg, Provenance::default(), &teacher).unwrap();
    let teacher_set = format!("teacher.checkpoint={:?}", teacher.display().to_string());
    let cases: &[&[&str]] = &[
        &["loss.kind=\"mtd\"", "loss.weighting=\"uw13\""],
        &["loss.kind=\"mtd\"", "loss.weighting=\"uw25\""],
        &["loss.kind=\"mtd\"", "loss.weighting=\"uw25\"", "loss.layers=[\"F1\", \"VA4\"]"],
        &["loss.kind=\"mtd\"", "loss.behaviours=\"cad_only\""],
        &["loss.kind=\"nmtd\"", "loss.weighting=\"uniform\"", "loss.behaviours=\"vr_only\""],
        &["loss.kind=\"nmtd\"", "loss.weighting=\"manual\"", "loss.manual_weights=[1,1,1,1,0,0,0,0,2,2,2,2]"],
        &["loss.kind=\"nmtd\"", "loss.weighting=\"aw13\""],
        &["loss.kind=\"nmtd\"", "loss.weighting=\"aw25\""],
        &["loss.kind=\"kd\""],
        &["loss.kind=\"kd\"", "loss.kd_form=\"binary\""],
        &["loss.kind=\"rkd\""],
        &["loss.kind=\"minilm_star\""],
        &["loss.kind=\"fitnets\""],
        &["loss.kind=\"bce\""],
    ];
    for (i, case) in cases.iter().enumerate() {
        let mut extra: Vec<&str> = vec!["epochs=1", "steps_per_epoch=2", "log_every=1", &teacher_set];
        extra.extend_from_slice(case);
        let cfg = RunConfig::load(None, &tiny(&shards, &extra)).unwrap();
        let run = tmp.path().join(format!("run{i}"));
        let opts = TrainOptions { quiet: true, resume: false };
        let s = train(&cfg, &run, &opts).unwrap_or_else(|e| panic!("{case:?}: {e}"));
        assert_eq!(s.steps, 2, "{case:?}");
        let text = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
        let step: Value = serde_json::from_str(text.lines().nth(1).unwrap()).unwrap();
        assert!(step["loss"].as_f64().unwrap().is_finite(), "{case:?}");
        let terms = step["terms"].as_object().unwrap();
        if case[0].contains("mtd") || case[0].contains("minilm") {
            assert!(terms.contains_key("cad.va.3") && terms.contains_key("vr.fus.0"), "{case:?}: {terms:?}");
        }
        if case.iter().any(|c| c.contains("uw25")) {
            assert_eq!(step["weights"].as_array().unwrap().len(), 25);
        }
        // Validation with a teacher reports the Fig. 4 losses.
        let epoch: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
        for k in ["f1", "bce", "accuracy", "mtd", "last_mtd", "fitnets"] {
            assert!(epoch["val"][k].as_f64().is_some(), "{case:?}: val.{k}");
        }
    }
}

#[test]
fn a_non_finite_loss_stops_the_run_naming_the_step() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(shards) = shards(tmp.path()) else { return };
    // An absurd learning rate drives the weights, then the loss, to infinity or NaN.
    let cfg = RunConfig::load(
        None,
        &tiny(&shards, &["epochs=3", "steps_per_epoch=4", "lr=1e30", "schedule=\"none\""]),
    )
    .unwrap();
    let run = tmp.path().join("nan");
    let err = train(&cfg, &run, &TrainOptions { quiet: true, resume: false }).unwrap_err();
    let TrainError::NonFinite { step, .. } = &err else { panic!("expected a non-finite loss, got {err}") };
    let msg = err.to_string();
    assert!(msg.contains(&format!("step {step}")) && msg.contains("bce="), "{msg}");
    if *step >= 4 {
        assert!(run.join("last.safetensors").is_file(), "the last good checkpoint is kept");
    }
}

/// Issue #20 point 2: two `trainer train` into one `--out` both ran and interleaved their
/// metrics. The second now fails at once, naming the holder, and touches nothing.
#[test]
fn a_second_run_into_the_same_directory_fails_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(shards) = shards(tmp.path()) else { return };
    let cfg = RunConfig::load(None, &tiny(&shards, &["epochs=1", "steps_per_epoch=1"])).unwrap();
    let run = tmp.path().join("run");
    let held = manifests::DirLock::acquire(&run, "trainer train").unwrap();
    let err = train(&cfg, &run, &TrainOptions { quiet: true, resume: false }).unwrap_err().to_string();
    assert!(err.contains("another process is writing here") && err.contains("trainer train, pid"), "{err}");
    assert!(!run.join("config.toml").exists(), "the refused run wrote nothing");
    drop(held);
    train(&cfg, &run, &TrainOptions { quiet: true, resume: false }).unwrap();
}

/// Issue #20 point 5 (the resume half): a resume state whose bytes changed used to resume
/// silently with other weights; now the checksums written with it refuse it, naming the file.
#[test]
fn a_corrupt_resume_state_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(shards) = shards(tmp.path()) else { return };
    let cfg = RunConfig::load(None, &tiny(&shards, &["epochs=1", "steps_per_epoch=1"])).unwrap();
    let run = tmp.path().join("run");
    train(&cfg, &run, &TrainOptions { quiet: true, resume: false }).unwrap();
    assert!(run.join("state/checksums.json").is_file());
    let model = run.join("state/model.bpk");
    let mut bytes = std::fs::read(&model).unwrap();
    let k = bytes.len() - 10;
    bytes[k] ^= 0x55;
    std::fs::write(&model, bytes).unwrap();
    let err = train(&cfg, &run, &TrainOptions { quiet: true, resume: true }).unwrap_err().to_string();
    assert!(err.contains("model.bpk: does not match its checksum"), "{err}");
}
