//! `preprocess synth`: a small LRS2-shaped corpus with a real, learnable audio-visual sync
//! signal — the embedded default dataset (results on it are not LRS2 results).
//!
//! Speakers are one public-domain photo (assets/) flipped, scaled, shifted, tinted and re-lit;
//! each speaks GRID-grammar sentences with its own espeak-ng voice, speed and pitch; a mouth is
//! drawn whose opening follows the RMS envelope of the speech frame by frame, with small head
//! motion and lighting changes. Sync is exact by construction (offset 0); `offset_frames` writes
//! deliberately out-of-sync copies (audio shifted by K frames; a list K1,K2,… gives utterance j
//! the offset K_(j mod n), recorded per utterance in `synth.json`). Everything flows from one seed,
//! and the encoder is pinned (single-threaded x264, bit-exact flags), so the same seed gives
//! byte-identical files.

pub mod render;
pub mod speech;

use crate::error::{io, PreprocessError, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

use indicatif::ProgressStyle;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;

use render::{openings, Look, Photo, SIDE};
use speech::{sentence, speak, Voice};

/// Corpus settings (written to `synth.json` in the corpus root).
#[derive(Debug, Clone, Serialize)]
pub struct SynthConfig {
    /// Number of speakers.
    pub speakers: usize,
    /// Utterances per speaker.
    pub utterances_per_speaker: usize,
    /// Seed of every random choice.
    pub seed: u64,
    /// Audio shifted by this many frames relative to the mouth (0 = in sync); with several
    /// values, utterance j (speakers in order, then utterances) gets value j mod n.
    #[serde(serialize_with = "one_or_many")]
    pub offset_frames: Vec<i32>,
}

/// One offset is written as a number (as before lists existed), several as a list.
fn one_or_many<S: serde::Serializer>(v: &[i32], s: S) -> std::result::Result<S::Ok, S::Error> {
    match v {
        [one] => s.serialize_i32(*one),
        many => serde::Serialize::serialize(many, s),
    }
}

impl SynthConfig {
    /// The offset of the j-th utterance made.
    pub fn offset_of(&self, j: usize) -> i32 {
        if self.offset_frames.is_empty() {
            0
        } else {
            self.offset_frames[j % self.offset_frames.len()]
        }
    }
}

impl Default for SynthConfig {
    fn default() -> Self {
        Self { speakers: 24, utterances_per_speaker: 20, seed: 1, offset_frames: vec![0] }
    }
}

/// Which list a speaker's utterances go to: speakers are disjoint between training and test.
fn split_of(speaker: usize, speakers: usize) -> &'static str {
    let test = (speakers / 5).max(1);
    let val = (speakers / 10).max(1);
    if speaker >= speakers - test {
        "test"
    } else if speaker >= speakers.saturating_sub(test + val) {
        "val"
    } else {
        "pretrain"
    }
}

struct Speaker {
    look: Look,
    voice: Voice,
}

fn speaker(seed: u64, id: usize) -> Speaker {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    const VOICES: [&str; 8] =
        ["en-us", "en-gb", "en-gb-scotland", "en-us+f2", "en-gb+f3", "en-us+m3", "en-gb-x-rp", "en-us+f4"];
    Speaker {
        look: Look {
            flip: rng.random_bool(0.5),
            scale: rng.random_range(0.92..1.08),
            shift: (rng.random_range(-6.0..6.0), rng.random_range(-5.0..5.0)),
            tint: [rng.random_range(0.85..1.15), rng.random_range(0.85..1.15), rng.random_range(0.85..1.15)],
            phase: [
                rng.random_range(0.0..std::f32::consts::TAU),
                rng.random_range(0.0..std::f32::consts::TAU),
                rng.random_range(0.0..std::f32::consts::TAU),
            ],
        },
        voice: Voice {
            name: VOICES[id % VOICES.len()].to_string(),
            speed: rng.random_range(140..190),
            pitch: rng.random_range(25..75),
        },
    }
}

/// One utterance to make.
struct Job {
    speaker: usize,
    id: String,
    offset: i32,
    rel: String,
    seed: u64,
}

fn encode(frames: &[u8], pcm: &[i16], out: &Path, scratch: &Path) -> Result<()> {
    let (vraw, araw) = (scratch.with_extension("rgb"), scratch.with_extension("pcm"));
    std::fs::write(&vraw, frames).map_err(io(&vraw))?;
    let bytes: Vec<u8> = pcm.iter().flat_map(|s| s.to_le_bytes()).collect();
    std::fs::write(&araw, bytes).map_err(io(&araw))?;
    let tmp = out.with_extension("tmp.mp4");
    let size = format!("{SIDE}x{SIDE}");
    let st = Command::new("ffmpeg")
        .args([
            "-v", "error", "-nostdin", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", &size, "-r", "25",
            "-i",
        ])
        .arg(&vraw)
        .args(["-f", "s16le", "-ar", "16000", "-ac", "1", "-i"])
        .arg(&araw)
        // No `-frames:v`: the raw inputs hold exactly n frames and n·640 samples, and a frame
        // limit makes ffmpeg stop muxing before the buffered AAC frames are written (the audio
        // track came out ~0.4 s short).
        .args(["-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p"])
        .args(["-threads", "1", "-c:a", "aac", "-b:a", "64k", "-map_metadata", "-1"])
        .args(["-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact"])
        .arg(&tmp)
        .output()
        .map_err(|e| PreprocessError::Tool { tool: "ffmpeg", detail: format!("cannot run it: {e}") })?;
    let _ = std::fs::remove_file(&vraw); // scratch
    let _ = std::fs::remove_file(&araw);
    if !st.status.success() {
        let detail = format!("encode failed: {}", String::from_utf8_lossy(&st.stderr).trim());
        return Err(PreprocessError::Tool { tool: "ffmpeg", detail });
    }
    std::fs::rename(&tmp, out).map_err(io(out))
}

fn make(job: &Job, speakers: &[Speaker], photo: &Photo, root: &Path, offset: i32) -> Result<String> {
    let mut rng = ChaCha8Rng::seed_from_u64(job.seed);
    let text = sentence(&mut rng);
    let sp = &speakers[job.speaker];
    let mp4 = root.join(&job.rel).with_extension("mp4");
    let scratch = mp4.with_extension("scratch");
    let speech = speak(&text, &sp.voice, &scratch)?;
    // 0.2 s of silence either side, then whole 40 ms frames.
    let pad = 3200;
    let mut pcm = vec![0i16; pad];
    pcm.extend_from_slice(&speech);
    pcm.extend(std::iter::repeat_n(0, pad));
    let n = pcm.len().div_ceil(640);
    pcm.resize(n * 640, 0);
    let open = openings(&pcm, n);
    let mut frames = Vec::with_capacity(n * SIDE * SIDE * 3);
    for (t, o) in open.iter().enumerate() {
        frames.extend(photo.frame(&sp.look, *o, t));
    }
    // Out-of-sync copies: delay (K > 0) or advance (K < 0) the audio by K frames.
    let shift = offset.unsigned_abs() as usize * 640;
    let audio: Vec<i16> = if offset > 0 {
        std::iter::repeat_n(0, shift).chain(pcm.iter().copied()).take(pcm.len()).collect()
    } else if offset < 0 {
        pcm.iter().copied().skip(shift).chain(std::iter::repeat_n(0, shift)).collect()
    } else {
        pcm
    };
    encode(&frames, &audio, &mp4, &scratch)?;
    let txt = mp4.with_extension("txt");
    std::fs::write(&txt, format!("Text:  {text}\nConf:  9\n")).map_err(io(&txt))?;
    Ok(text)
}

/// Writes the corpus under `out` in the LRS2 layout; returns the number of utterances.
pub fn generate(out: &Path, cfg: &SynthConfig, jobs: usize, quiet: bool) -> Result<usize> {
    if cfg.speakers < 3 {
        return Err(PreprocessError::SynthConfig(
            "need at least 3 speakers (pretrain, val and test are speaker-disjoint)",
        ));
    }
    let photo = Photo::load()?;
    let speakers: Vec<Speaker> = (0..cfg.speakers).map(|i| speaker(cfg.seed, i)).collect();
    let mut jobs_list = Vec::new();
    let mut lists: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
    for s in 0..cfg.speakers {
        let split = split_of(s, cfg.speakers);
        for u in 0..cfg.utterances_per_speaker {
            // Pretraining speakers' first utterance also forms the (unused by training) train list.
            let (list, dir) = match split {
                "pretrain" if u == 0 => ("train", "main"),
                "pretrain" => ("pretrain", "pretrain"),
                other => (other, "main"),
            };
            let id = format!("spk{s:04}/{:05}", u + 1);
            lists.entry(list).or_default().push(id.clone());
            let offset = cfg.offset_of(jobs_list.len());
            jobs_list.push(Job {
                speaker: s,
                id: id.clone(),
                offset,
                rel: format!("{dir}/{id}"),
                seed: cfg.seed.wrapping_mul(1_000_003).wrapping_add((s * 10_007 + u) as u64),
            });
        }
    }
    let root = out.join("mvlrs_v1");
    for j in &jobs_list {
        let d = root.join(&j.rel);
        let parent = d.parent().expect("rel has a parent");
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    let bar = progress::Progress::new(jobs_list.len() as u64, "clips", quiet);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} clips  {per_sec}  ETA {eta}")
            .expect("valid template"),
    );
    let jobs = jobs.max(1);
    let pool =
        rayon::ThreadPoolBuilder::new().num_threads(jobs).build().map_err(|_| PreprocessError::Pool(jobs))?;
    pool.install(|| {
        jobs_list.par_iter().try_for_each(|j| {
            let r = make(j, &speakers, &photo, &root, j.offset).map(|_| ());
            bar.inc(1);
            r.map_err(|e| PreprocessError::Clip { rel: j.rel.clone(), source: Box::new(e) })
        })
    })?;
    bar.finish();
    for split in ["pretrain", "train", "val", "test"] {
        let ids = lists.get(split).cloned().unwrap_or_default();
        let text: String = ids.iter().map(|i| format!("{i}\n")).collect();
        manifests::atomic_write(&root.join(format!("{split}.txt")), text.as_bytes())?;
    }
    let mut meta = serde_json::json!({
        "config": cfg,
        "speakers": speakers.iter().map(|s| serde_json::json!({"look": s.look, "voice": s.voice})).collect::<Vec<_>>(),
        "photo": "assets/astronaut_face.png (NASA, public domain)",
        "note": "synthetic corpus: results on it are not LRS2 results",
    });
    if cfg.offset_frames.len() > 1 {
        let offsets: serde_json::Map<String, serde_json::Value> =
            jobs_list.iter().map(|j| (j.id.clone(), j.offset.into())).collect();
        meta["offsets"] = offsets.into();
    }
    let meta = serde_json::to_string_pretty(&meta).expect("JSON values serialise") + "\n";
    manifests::atomic_write(&root.join("synth.json"), meta.as_bytes())?;
    Ok(jobs_list.len())
}

/// Where a corpus's `mvlrs_v1` root is.
pub fn corpus_root(out: &Path) -> PathBuf {
    out.join("mvlrs_v1")
}
