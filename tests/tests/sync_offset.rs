//! `evaluator sync` recovers known offsets: synthetic clips generated with `--offset-frames K`
//! (audio delayed by K frames for K > 0) must be reported at K ± 1 frames.
//!
//! It needs a model that has learned sync: by default the one shipped in `models/` (trained by
//! this toolkit on the synthetic corpus, see `models/README.md`); `LIPSYNC_SYNC_MODEL` names
//! another checkpoint (e.g. the teacher `make reproduce` trains).

use nets::device::DeviceSpec;
use preprocess::synth::{generate, SynthConfig};

#[test]
fn sync_finds_known_offsets_of_synthetic_clips() {
    let model = std::env::var_os("LIPSYNC_SYNC_MODEL").map(std::path::PathBuf::from).unwrap_or_else(|| {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/synth-micro-teacher.safetensors")
    });
    let dir = tempfile::tempdir().unwrap();
    let mut hits = 0;
    let mut total = 0;
    let mut report = Vec::new();
    for k in [-4i32, 0, 3, 6] {
        let out = dir.path().join(format!("k{k}"));
        let cfg = SynthConfig { speakers: 3, utterances_per_speaker: 2, seed: 99, offset_frames: vec![k] };
        generate(&out, &cfg, 2, true).unwrap();
        let mut clips: Vec<_> = walk(&out.join("mvlrs_v1"));
        clips.sort();
        for clip in clips {
            let r = evaluator::sync::sync(&clip, &model, DeviceSpec::Cpu, 0).unwrap();
            total += 1;
            if (r.offset_frames - k).abs() <= 1 {
                hits += 1;
            }
            report.push(format!("K={k}: reported {} (confidence {:.3})", r.offset_frames, r.confidence));
        }
    }
    eprintln!("{}", report.join("\n"));
    assert!(hits * 4 >= total * 3, "only {hits} of {total} clips within ±1 frame:\n{}", report.join("\n"));
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if p.extension().is_some_and(|x| x == "mp4") {
            out.push(p);
        }
    }
    out
}
