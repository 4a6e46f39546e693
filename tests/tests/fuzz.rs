//! Fuzzing on the stable toolchain (issue #33): every parser a user feeds gets mutated valid
//! inputs for a bounded time, and must answer with a value or an error, never a panic or a hang.
//!
//! The driver is arbtest (time-budgeted runs; a failure prints a seed that replays it). Each
//! target starts from valid inputs (a framed stream, keep rules, journal lines, a manifest, split
//! lists, a safetensors checkpoint with its sidecar, a `.pth`) and applies a few random mutations:
//! byte flips, interesting bytes, insertions, deletions, truncation and duplicated ranges.
//!
//! Budget per target: `LIPSYNC_FUZZ_MS` (default 2,000 ms, what CI runs). To fuzz longer, e.g.
//! ten minutes a target:
//!
//! ```sh
//! LIPSYNC_FUZZ_MS=600000 cargo test --release -p lipsync-tests --test fuzz -- --nocapture --test-threads 1
//! ```
//!
//! A failure prints `Seed: 0x…`; replay it with `LIPSYNC_FUZZ_SEED=0x… cargo test … --test fuzz NAME`.

use std::path::{Path, PathBuf};

use arbitrary::{Result, Unstructured};

/// The time each target runs.
fn budget_ms() -> u64 {
    std::env::var("LIPSYNC_FUZZ_MS").ok().and_then(|v| v.trim().parse().ok()).unwrap_or(2_000)
}

/// Runs `property` for the budget, or once with `LIPSYNC_FUZZ_SEED`.
fn fuzz(property: impl FnMut(&mut Unstructured<'_>) -> Result<()>) {
    let seed = std::env::var("LIPSYNC_FUZZ_SEED")
        .ok()
        .and_then(|s| u64::from_str_radix(s.trim().trim_start_matches("0x"), 16).ok());
    let t = arbtest::arbtest(property).budget_ms(budget_ms());
    match seed {
        Some(s) => t.seed(s).run(),
        None => t.run(),
    }
}

/// Bytes that parsers treat specially.
const INTERESTING: [u8; 14] =
    [0, 0xFF, 0x7F, 0x80, b'"', b'{', b'}', b'[', b',', b':', b'\n', b'9', b'-', b'e'];

/// `seed` with 1–8 mutations at positions below `region` (the header of a large file).
fn mutate(u: &mut Unstructured<'_>, seed: &[u8], region: usize) -> Result<Vec<u8>> {
    let mut b = seed.to_vec();
    for _ in 0..u.int_in_range(1..=8)? {
        let end = b.len().min(region).max(1);
        let at = u.int_in_range(0..=end - 1)?.min(b.len());
        match u.int_in_range(0..=6)? {
            0 if at < b.len() => b[at] ^= 1 << u.int_in_range(0..=7)?,
            1 if at < b.len() => b[at] = *u.choose(&INTERESTING)?,
            2 => {
                let n = u.int_in_range(1..=16)?;
                let bytes: Vec<u8> = (0..n).map(|_| u.arbitrary()).collect::<Result<_>>()?;
                b.splice(at..at, bytes);
            }
            3 if at < b.len() => {
                let n = u.int_in_range(1..=16)?.min(b.len() - at);
                b.drain(at..at + n);
            }
            4 => b.truncate(at),
            5 if at < b.len() => {
                let n = u.int_in_range(1..=32)?.min(b.len() - at);
                let copy = b[at..at + n].to_vec();
                let to = u.int_in_range(0..=b.len())?;
                b.splice(to..to, copy);
            }
            _ => {
                // A decimal number where a digit was: large, negative, non-finite spellings.
                let s =
                    *u.choose(&["1e999", "-1", "NaN", "inf", "4294967296", "18446744073709551616", "0"])?;
                b.splice(at..at, s.bytes());
            }
        }
    }
    Ok(b)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn stdin_framing() {
    use media::framing::{write_header, write_packet, FramedReader, Packet};
    let mut seed = Vec::new();
    write_header(&mut seed, 8, 6).unwrap();
    write_packet(&mut seed, &Packet::Video(vec![7; 8 * 6 * 3])).unwrap();
    write_packet(&mut seed, &Packet::Audio((0..640).map(|i| i as i16).collect())).unwrap();
    write_packet(&mut seed, &Packet::Video(vec![9; 8 * 6 * 3])).unwrap();
    fuzz(|u| {
        let b = mutate(u, &seed, usize::MAX)?;
        if let Ok(r) = FramedReader::new(b.as_slice()) {
            for p in r.take(1_000) {
                if p.is_err() {
                    break;
                }
            }
        }
        Ok(())
    });
}

#[test]
fn keep_rules() {
    use evaluator::sync::clean::KeepRule;
    let seeds =
        ["abs(offset) <= 1 && prominence > 0.35", "confidence >= 0.5", "offset_ms>=-40 && windows > 3"];
    fuzz(|u| {
        let seed = u.choose(&seeds)?;
        let b = mutate(u, seed.as_bytes(), usize::MAX)?;
        let _ = text(&b).parse::<KeepRule>();
        Ok(())
    });
}

/// Rows a journal keeps pass their own checks, once per key.
fn journal<R: evaluator::batch::Row>(seed_lines: &[String]) {
    let header = serde_json::json!({"journal": 1, "model_sha256": "ab"});
    let head = header.to_string() + "\n";
    let path = Path::new("fuzz.jsonl");
    fuzz(|u| {
        let line = u.choose(seed_lines)?;
        let mut body = String::new();
        for _ in 0..u.int_in_range(1..=3)? {
            body += &text(&mutate(u, line.as_bytes(), usize::MAX)?);
            body.push('\n');
        }
        if let Ok(j) = evaluator::batch::parse_journal::<_, R>(&(head.clone() + &body), path, &header) {
            let mut keys = std::collections::HashSet::new();
            for (r, _) in &j.rows {
                assert!(
                    r.check().is_ok(),
                    "a kept row fails its check: {}",
                    serde_json::to_string(r).unwrap()
                );
                assert!(keys.insert(r.key().to_string()), "a key kept twice: {}", r.key());
            }
        }
        Ok(())
    });
}

#[test]
fn sync_journal_lines() {
    use evaluator::sync::row::SyncRow;
    let mut scores = vec![0.1f32; 31];
    scores[18] = 0.9;
    let r = evaluator::sync::from_means(scores, 40);
    let row = SyncRow { utt_id: "a/1".into(), source: "a/1.mp4".into(), result: Some(r), reason: None };
    let bad = SyncRow {
        utt_id: "a/2".into(),
        source: "a/2.mp4".into(),
        result: None,
        reason: Some("no face".into()),
    };
    let lines: Vec<String> = [&row, &bad]
        .iter()
        .map(|r| {
            let mut v = serde_json::to_value(r).unwrap();
            v["input_stamp"] = "size 10 mtime 1.000000000".into();
            v.to_string()
        })
        .collect();
    journal::<SyncRow>(&lines);
}

#[test]
fn lse_journal_lines() {
    use evaluator::lse::run::{LseRow, LseVideo};
    let mut d = [3.0f32; 31];
    d[12] = 1.5;
    let s = evaluator::lse::score::terms(d, 20);
    let row = LseRow {
        video: "v.mp4".into(),
        track: None,
        first_frame: None,
        last_frame: None,
        offset: Some(s.offset),
        confidence: Some(s.confidence),
        min_dist: Some(s.min_dist),
        mean_dists: Some(d.to_vec()),
        windows: Some(20),
        frames: Some(30),
        reason: None,
    };
    let tracked = LseRow { track: Some(0), first_frame: Some(3), last_frame: Some(32), ..row.clone() };
    let record = evaluator::lse::tracks::TrackRecord {
        video: "w.mp4".into(),
        track: Some(0),
        first_frame: 3,
        last_frame: 32,
        reason: None,
        boxes: vec![[1.0, 2.0, 3.0, 4.0]; 30],
    };
    let one = LseVideo { video: "v.mp4".into(), rows: vec![row], tracks: Vec::new(), tracked: false };
    let two = LseVideo {
        video: "w.mp4".into(),
        rows: vec![LseRow { video: "w.mp4".into(), ..tracked }],
        tracks: vec![record],
        tracked: true,
    };
    journal::<LseVideo>(&[serde_json::to_string(&one).unwrap(), serde_json::to_string(&two).unwrap()]);
}

#[test]
fn manifests_and_split_lists() {
    let mut m = manifests::Manifest::new("preprocess", "0.1.0", serde_json::json!({"fps": 25}));
    m.skipped.push(manifests::SkippedItem {
        utt_id: "a/1".into(),
        split: "test".into(),
        reason: "no face".into(),
    });
    let seed = serde_json::to_vec(&m).unwrap();
    let lists =
        ["6300370419826092098/00004 NF\n6300370419826092098/00005\n", "prog/utt\n# comment\n\nprog/u2 MV\n"];
    let path = Path::new("manifest.json");
    fuzz(|u| {
        if u.arbitrary()? {
            let _ = manifests::Manifest::parse(&text(&mutate(u, &seed, usize::MAX)?), path);
        } else {
            let l = u.choose(&lists)?;
            let _ = manifests::parse_split_list(&text(&mutate(u, l.as_bytes(), usize::MAX)?), "test.txt");
        }
        Ok(())
    });
}

/// The shipped checkpoint and its sidecar.
fn shipped() -> (PathBuf, PathBuf) {
    let m = lipsync_tests::repo_root().join("models");
    (m.join("synth-micro-teacher.safetensors"), m.join("synth-micro-teacher.json"))
}

#[test]
fn safetensors_headers_and_sidecars() {
    let (weights, sidecar) = shipped();
    let w = std::fs::read(&weights).unwrap();
    let side = std::fs::read(&sidecar).unwrap();
    let header = 8 + u64::from_le_bytes(w[..8].try_into().unwrap()) as usize;
    let dir = tempfile::tempdir().unwrap();
    let device = nets::device::DeviceSpec::Cpu.device();
    let target = dir.path().join("m.safetensors");
    let target_side = nets::checkpoint::sidecar_path(&target);
    fuzz(|u| {
        let (wb, sb) = match u.int_in_range(0..=2)? {
            0 => (mutate(u, &w, header)?, Some(side.clone())),
            1 => (mutate(u, &w, header)?, None),
            _ => (w.clone(), Some(mutate(u, &side, usize::MAX)?)),
        };
        std::fs::write(&target, &wb).unwrap();
        match sb {
            Some(s) => std::fs::write(&target_side, s).unwrap(),
            None => {
                let _ = std::fs::remove_file(&target_side);
            }
        }
        let _ = nets::checkpoint::load(&target, None, &device);
        Ok(())
    });
}

#[test]
fn pth_headers() {
    let Some(python) = lipsync_tests::python() else { return };
    let (weights, _) = shipped();
    let dir = tempfile::tempdir().unwrap();
    let seed_path = dir.path().join("seed.pth");
    let code = "import sys, torch\nfrom safetensors.torch import load_file\ntorch.save(load_file(sys.argv[1]), sys.argv[2])";
    let out =
        std::process::Command::new(python).args(["-c", code]).arg(&weights).arg(&seed_path).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let seed = std::fs::read(&seed_path).unwrap();
    let device = nets::device::DeviceSpec::Cpu.device();
    nets::checkpoint::load(&seed_path, None, &device).expect("the seed .pth loads");
    let target = dir.path().join("m.pth");
    // The zip's local header and the pickle (data.pkl) come first; the central directory last.
    fuzz(|u| {
        let b = if u.arbitrary()? {
            mutate(u, &seed, 4096)?
        } else {
            let tail = seed.len().saturating_sub(4096);
            let mut b = seed[..tail].to_vec();
            b.extend(mutate(u, &seed[tail..], usize::MAX)?);
            b
        };
        std::fs::write(&target, &b).unwrap();
        let _ = nets::checkpoint::load(&target, None, &device);
        Ok(())
    });
}
