//! The synthetic corpus: deterministic by seed, speaker-disjoint lists, faces found by the
//! preprocessor, and a sync signal that is there and aligned (mouth darkness in the preprocessed
//! crops correlates with the audio RMS envelope at lag 0 clearly more than at lags ±3..±15).

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::{manifest, preprocess, shard_rows};
use shards::Utterance;

fn files_with_sums(root: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((
                    p.strip_prefix(root).unwrap().display().to_string(),
                    manifests::sha256_file(&p).unwrap(),
                ));
            }
        }
    }
    out.sort();
    out
}

fn speakers(list: &Path) -> BTreeSet<String> {
    std::fs::read_to_string(list).unwrap().lines().map(|l| l.split('/').next().unwrap().to_string()).collect()
}

/// Mean darkness of the mouth area of each crop, and the RMS of each 40 ms of audio.
fn envelopes(u: &Utterance) -> (Vec<f64>, Vec<f64>) {
    let dark = (0..u.num_frames as usize)
        .map(|t| {
            let f = u.frame(t);
            let mut s = 0.0;
            for y in 8..40 {
                for x in 28..68 {
                    let p = &f[(y * 96 + x) * 3..(y * 96 + x) * 3 + 3];
                    s += 255.0 - (p[0] as f64 + p[1] as f64 + p[2] as f64) / 3.0;
                }
            }
            s
        })
        .collect();
    let rms = (0..u.num_frames as usize)
        .map(|t| {
            let s = &u.pcm[(t * 640).min(u.pcm.len())..((t + 1) * 640).min(u.pcm.len())];
            (s.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / s.len().max(1) as f64).sqrt()
        })
        .collect();
    (dark, rms)
}

fn corr(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
    cov / (va * vb).sqrt().max(1e-12)
}

/// Correlation of darkness[t] with rms[t + lag], over the overlapping frames.
fn lagged(dark: &[f64], rms: &[f64], lag: isize) -> f64 {
    let n = dark.len() as isize;
    let idx: Vec<isize> = (0..n).filter(|t| (0..n).contains(&(t + lag))).collect();
    let a: Vec<f64> = idx.iter().map(|&t| dark[t as usize]).collect();
    let b: Vec<f64> = idx.iter().map(|&t| rms[(t + lag) as usize]).collect();
    corr(&a, &b)
}

#[test]
fn synthetic_corpus_is_deterministic_learnable_and_aligned() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    for out in [&a, &b] {
        preprocess(&[
            "synth",
            "--quiet",
            "--out",
            out.to_str().unwrap(),
            "--speakers",
            "5",
            "--utterances-per-speaker",
            "3",
            "--seed",
            "7",
        ]);
    }
    let (ra, rb) = (a.join("mvlrs_v1"), b.join("mvlrs_v1"));
    assert_eq!(files_with_sums(&ra), files_with_sums(&rb), "same seed, different bytes");
    // Training and test speakers are disjoint.
    let train: BTreeSet<String> =
        speakers(&ra.join("pretrain.txt")).union(&speakers(&ra.join("train.txt"))).cloned().collect();
    let held: BTreeSet<String> =
        speakers(&ra.join("val.txt")).union(&speakers(&ra.join("test.txt"))).cloned().collect();
    assert!(train.is_disjoint(&held) && !held.is_empty() && !train.is_empty());

    let out = dir.path().join("shards");
    common::run(&a, "pretrain,train,val,test", &out, &[]);
    let m = manifest(&out);
    assert!(m.skipped.is_empty(), "{:?}", m.skipped);
    assert_eq!(m.total_rows(), 15);
    let (mut found, mut total) = (0, 0);
    let mut at = vec![0.0; 31];
    for u in shard_rows(&out) {
        found += u.face_found.iter().filter(|f| **f).count();
        total += u.face_found.len();
        let (dark, rms) = envelopes(&u);
        for (i, lag) in (-15..=15).enumerate() {
            at[i] += lagged(&dark, &rms, lag) / 15.0;
        }
    }
    assert!(found as f64 >= 0.99 * total as f64, "faces in {found} of {total} frames");
    let zero = at[15];
    let off = (3..=15).flat_map(|l| [at[15 + l], at[15 - l]]).fold(f64::MIN, f64::max);
    eprintln!("mean correlation at lag 0: {zero:.3}; best at |lag| 3..15: {off:.3}");
    assert!(zero > 0.5 && zero > off + 0.2, "lag 0 {zero:.3} vs off-lag {off:.3}");
}
