//! `preprocess import --layout wav2lip`: the preprocessed LRS2 that Wav2Lip's `preprocess.py`
//! writes and VocaLiST's `test_lrs2.py` / MTDVocaLiST's `test_stu.py` read (SPEC §1.1, §1.5):
//! `<root>/<programme>/<utt>/{0.jpg … (T−1).jpg, audio.wav}`, with split lists naming
//! `<programme>/<utt>` (an optional second token, as in LRS2's `test.txt`, is ignored).
//!
//! Each utterance becomes one shard row of the usual schema: every frame decoded like the
//! reference ([`media::jpeg`]), resized to 96×96 like the chosen loader ([`media::resize`]), its
//! lower half (rows 48..95) stored as RGB; `audio.wav` stored as 16 kHz int16 PCM with the
//! whole-utterance mel of SPEC §1.3. The shard machinery (plan, cluster tasks, resume,
//! manifests, skip records) is the shard-set engine's ([`crate::engine`]); this module is its
//! [`Layout`].

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use shards::{FaceBox, Split, Utterance};

use crate::engine::{Item, Layout, Outcome, RunReport, SetOptions};
use crate::error::{io, PreprocessError, Result};
use features::{
    pcm_to_f32, MelExtractor, CROP_HEIGHT, FACE_SIZE, FPS, SAMPLES_PER_FRAME, SAMPLE_RATE, WINDOW_FRAMES,
};
use media::clip::StageTimes;
use media::decode::Audio;
use media::jpeg::{decode_rgb, JpegError};
use media::resize::Resize;

/// Which lists to import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lists {
    /// One list file; its rows are labelled with `split`.
    File {
        /// The list.
        path: PathBuf,
        /// The split its rows get.
        split: Split,
    },
    /// `<split>.txt` for each split, found in the root or in `root/filelists/`.
    Splits(Vec<Split>),
}

impl Lists {
    /// The (split, list file) pairs, each list located.
    pub fn resolve(&self, root: &Path) -> Result<Vec<(Split, PathBuf)>> {
        match self {
            Lists::File { path, split } => {
                if !path.is_file() {
                    return Err(PreprocessError::NoListFile { path: path.clone() });
                }
                Ok(vec![(*split, path.clone())])
            }
            Lists::Splits(splits) => splits
                .iter()
                .map(|&split| {
                    let name = format!("{}.txt", split.as_str());
                    [root.join(&name), root.join("filelists").join(&name)]
                        .into_iter()
                        .find(|p| p.is_file())
                        .map(|p| (split, p))
                        .ok_or_else(|| PreprocessError::NoSplitList {
                            root: root.to_path_buf(),
                            split: split.as_str(),
                        })
                })
                .collect(),
        }
    }
}

/// The items a list names, sorted by id, duplicates dropped. Lines that are not a valid
/// `<programme>/<utt>` are kept as items too, so that they become skip records (with the reason)
/// rather than stopping the import or vanishing.
pub fn items(root: &Path, split: Split, list: &Path) -> Result<Vec<Item>> {
    let text = std::fs::read_to_string(list).map_err(io(list))?;
    let mut items: Vec<Item> = text
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(|id| Item { split, utt_id: id.to_string(), video: root.join(id), rel_path: id.to_string() })
        .collect();
    items.sort();
    items.dedup_by(|a, b| a.utt_id == b.utt_id);
    Ok(items)
}

/// Why an utterance directory could not be imported (one line in the manifest).
#[derive(Debug, thiserror::Error)]
pub enum ImportSkip {
    /// The list entry is not a `<programme>/<utt>` inside the root.
    #[error("list entry {id:?} is not <programme>/<utt> inside the root: {why}")]
    BadEntry {
        /// The entry.
        id: String,
        /// What is wrong.
        why: String,
    },
    /// No directory for the entry.
    #[error("no directory {0}")]
    NoDir(String),
    /// A `*.jpg` whose name is not a frame number as Wav2Lip writes it.
    #[error("{0}: not a frame file <N>.jpg (the reference counts every *.jpg as a frame and would wait for the missing number forever)")]
    BadName(String),
    /// A hole in `0.jpg … (T−1).jpg`.
    #[error("frame numbering has a gap: {missing}.jpg is missing among {count} frames (test_lrs2.py would loop forever on it)")]
    Gap {
        /// The first missing index.
        missing: usize,
        /// `*.jpg` files present.
        count: usize,
    },
    /// Fewer frames than one window.
    #[error("{0} frames, fewer than one 5-frame window")]
    TooShort(usize),
    /// A frame libjpeg cannot decode.
    #[error("{name}: {source}")]
    Jpeg {
        /// The file.
        name: String,
        /// Why.
        source: JpegError,
    },
    /// A file that could not be read.
    #[error("{name}: {detail}")]
    Unreadable {
        /// The file.
        name: String,
        /// Why.
        detail: String,
    },
    /// No `audio.wav`.
    #[error("no audio.wav")]
    NoAudio,
    /// A frame or `audio.wav` that is not a regular file (a FIFO would block the reader forever).
    #[error("{name} is {kind}, not a regular file; replace it with the file itself")]
    NotAFile {
        /// The file.
        name: String,
        /// What it is.
        kind: &'static str,
    },
    /// Not a WAV file soundfile would read as PCM or float.
    #[error("audio.wav: {0}")]
    BadWav(String),
    /// Fewer whole 25 fps frames of audio than video frames.
    #[error("audio.wav holds {samples} samples ({frames} frames at 25 fps), fewer than the {jpgs} video frames (test_lrs2.py crashes on this in vid.view)")]
    AudioShort {
        /// Samples at 16 kHz.
        samples: usize,
        /// ⌊samples / 640⌋.
        frames: usize,
        /// `*.jpg` frames.
        jpgs: usize,
    },
}

/// The processing parameters recorded in the manifest and in every shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ImportParams {
    /// The input layout (`wav2lip`).
    pub layout: &'static str,
    /// Whose resize.
    pub resize: Resize,
    /// The JPEG decoder and its settings.
    pub decoder: &'static str,
}

impl ImportParams {
    /// The parameters for `resize`.
    pub fn new(resize: Resize) -> Self {
        Self {
            layout: "wav2lip",
            resize,
            decoder: "libjpeg-turbo (mozjpeg-sys 2.2), JDCT_ISLOW, fancy upsampling",
        }
    }
}

/// The frame count of a directory, checked: `0.jpg … (T−1).jpg` and nothing else ending in `.jpg`.
fn frame_count(dir: &Path) -> std::result::Result<usize, ImportSkip> {
    let unreadable =
        |e: std::io::Error| ImportSkip::Unreadable { name: dir.display().to_string(), detail: e.to_string() };
    let mut numbers = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(unreadable)? {
        let name = entry.map_err(unreadable)?.file_name().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(".jpg") else { continue };
        regular(&dir.join(&name), &name)?;
        match stem.parse::<usize>() {
            Ok(n) if n.to_string() == stem => numbers.push(n),
            _ => return Err(ImportSkip::BadName(name)),
        }
    }
    numbers.sort_unstable();
    if let Some(missing) = numbers.iter().enumerate().find(|(i, n)| i != *n).map(|(i, _)| i) {
        return Err(ImportSkip::Gap { missing, count: numbers.len() });
    }
    Ok(numbers.len())
}

/// Refuses a FIFO, device or directory where a file belongs (issue #33 point 8: `mkfifo 3.jpg`
/// hung the import; a FIFO `audio.wav` was "no audio.wav").
fn regular(path: &Path, name: &str) -> std::result::Result<(), ImportSkip> {
    match media::decode::regular_file(path) {
        Err(media::decode::DecodeError::NotAFile { kind }) => {
            Err(ImportSkip::NotAFile { name: name.into(), kind })
        }
        _ => Ok(()),
    }
}

/// A WAV whose RIFF or `data` sizes overrun the file, read as soundfile (libsndfile) reads it: the
/// `data` chunk runs to the end of the file (whole sample frames). ffmpeg writing WAV to a pipe
/// cannot seek back, and leaves both sizes at 0xFFFFFFFF; a cut copy keeps the full length. The
/// reference reads both (issue #33 point 8); hound refuses them, so the sizes are set to what the
/// file holds first. None when the sizes are consistent (or the file is no RIFF WAVE at all: hound
/// then names what is wrong).
fn fix_wav_sizes(bytes: &[u8]) -> Option<(Vec<u8>, u64, usize)> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return None;
    }
    let u32_at = |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    let mut at = 12;
    let mut block_align = 1usize;
    while at + 8 <= bytes.len() {
        let (id, size) = (&bytes[at..at + 4], u32_at(at + 4) as u64);
        let body = at + 8;
        if id == b"fmt " && body + 14 <= bytes.len() {
            block_align = (u16::from_le_bytes([bytes[body + 12], bytes[body + 13]]) as usize).max(1);
        }
        if id == b"data" {
            let present = bytes.len() - body;
            if size <= present as u64 {
                return None;
            }
            let present = present - present % block_align;
            let mut fixed = bytes[..body + present].to_vec();
            fixed[at + 4..at + 8].copy_from_slice(&(present as u32).to_le_bytes());
            let riff = (fixed.len() - 8) as u32;
            fixed[4..8].copy_from_slice(&riff.to_le_bytes());
            return Some((fixed, size, present));
        }
        at = body + size as usize + (size as usize & 1);
    }
    None
}

/// `audio.wav` as soundfile reads it (integers scaled by 2^(bits−1), floats as stored), brought
/// to 16 kHz mono int16; 16-bit 16 kHz mono passes through bit-exact.
fn read_wav(bytes: &[u8], warnings: &mut Vec<String>) -> std::result::Result<Vec<i16>, ImportSkip> {
    let bad = |e: hound::Error| ImportSkip::BadWav(e.to_string());
    let fixed = fix_wav_sizes(bytes);
    if let Some((_, declared, present)) = &fixed {
        let declared = if *declared == u32::MAX as u64 {
            "0xFFFFFFFF (written to a pipe)".to_string()
        } else {
            declared.to_string()
        };
        warnings.push(format!(
            "audio.wav declares {declared} data bytes but holds {present}: read to its end, as soundfile does"
        ));
    }
    let bytes = fixed.as_ref().map_or(bytes, |(b, _, _)| b.as_slice());
    let mut reader = hound::WavReader::new(std::io::Cursor::new(bytes)).map_err(bad)?;
    let spec = reader.spec();
    let samples: Vec<i16> = match (spec.sample_format, spec.bits_per_sample) {
        (hound::SampleFormat::Int, 16) => {
            reader.samples::<i16>().collect::<std::result::Result<_, _>>().map_err(bad)?
        }
        (hound::SampleFormat::Int, bits) => {
            warnings.push(format!("audio.wav is {bits}-bit PCM: stored as 16-bit"));
            let scale = (1u64 << (bits - 1)) as f64;
            let v: Vec<i32> = reader.samples::<i32>().collect::<std::result::Result<_, _>>().map_err(bad)?;
            v.iter().map(|&s| features::f32_to_pcm((s as f64 / scale) as f32)).collect()
        }
        (hound::SampleFormat::Float, _) => {
            warnings.push("audio.wav is float: stored as 16-bit PCM".into());
            let v: Vec<f32> = reader.samples::<f32>().collect::<std::result::Result<_, _>>().map_err(bad)?;
            v.iter().map(|&s| features::f32_to_pcm(s)).collect()
        }
    };
    if spec.sample_rate != SAMPLE_RATE || spec.channels != 1 {
        warnings.push(format!(
            "audio.wav is {} Hz with {} channel(s): downmixed and resampled to 16 kHz mono (the reference assumes 16 kHz mono)",
            spec.sample_rate, spec.channels
        ));
    }
    let audio =
        Audio { sample_rate: spec.sample_rate, channels: spec.channels as usize, samples, streams: 1 };
    media::audio::to_16k_mono(&audio).map_err(|e| ImportSkip::BadWav(e.to_string()))
}

/// The directory of `item`, checked to lie inside `root` (after following links).
fn utterance_dir(item: &Item, root: &Path) -> std::result::Result<PathBuf, ImportSkip> {
    let bad = |why: String| ImportSkip::BadEntry { id: item.utt_id.clone(), why };
    manifests::UttId::parse(&item.utt_id).map_err(|why| bad(why.to_string()))?;
    let dir = root.join(&item.utt_id);
    if !dir.is_dir() {
        return Err(ImportSkip::NoDir(item.utt_id.clone()));
    }
    let real = dir.canonicalize().map_err(|e| bad(e.to_string()))?;
    let real_root = root.canonicalize().map_err(|e| bad(e.to_string()))?;
    if !real.starts_with(&real_root) {
        return Err(bad(format!("it resolves to {}, outside the root", real.display())));
    }
    Ok(dir)
}

/// Imports one utterance directory. Never panics on bad input: every failure is a skip reason.
pub fn process(item: &Item, root: &Path, params: &ImportParams, mel: &MelExtractor) -> Outcome<ImportSkip> {
    let mut times = StageTimes::default();
    let mut warnings = Vec::new();
    let mut video_seconds = 0.0;
    let result = (|| -> std::result::Result<Utterance, ImportSkip> {
        let dir = utterance_dir(item, root)?;
        let n = frame_count(&dir)?;
        video_seconds = n as f64 / FPS as f64;
        if n < WINDOW_FRAMES {
            return Err(ImportSkip::TooShort(n));
        }
        let wav = dir.join("audio.wav");
        regular(&wav, "audio.wav")?;
        if !wav.is_file() {
            return Err(ImportSkip::NoAudio);
        }
        let t = std::time::Instant::now();
        // Read once: decoded here, hashed below with the frames.
        let wav_bytes = std::fs::read(&wav)
            .map_err(|e| ImportSkip::Unreadable { name: "audio.wav".into(), detail: e.to_string() })?;
        let pcm = read_wav(&wav_bytes, &mut warnings)?;
        times.audio = t.elapsed();
        if pcm.len() / SAMPLES_PER_FRAME < n {
            return Err(ImportSkip::AudioShort {
                samples: pcm.len(),
                frames: pcm.len() / SAMPLES_PER_FRAME,
                jpgs: n,
            });
        }

        let mut hasher = Sha256::new();
        let mut frames = Vec::with_capacity(n * Utterance::FRAME_BYTES);
        let mut boxes = Vec::with_capacity(n);
        for i in 0..n {
            let name = format!("{i}.jpg");
            let t = std::time::Instant::now();
            let bytes = std::fs::read(dir.join(&name))
                .map_err(|e| ImportSkip::Unreadable { name: name.clone(), detail: e.to_string() })?;
            hasher.update(&bytes);
            let img = decode_rgb(&bytes).map_err(|source| ImportSkip::Jpeg { name, source })?;
            times.decode += t.elapsed();
            let t = std::time::Instant::now();
            boxes.push(FaceBox { x: 0.0, y: 0.0, w: img.width as f32, h: img.height as f32, score: 0.0 });
            // Rows 48..95 of the 96×96 face (SPEC §1.2 `vid[:, 48:]`).
            let mouth =
                params.resize.apply_rows(&img, FACE_SIZE, FACE_SIZE, FACE_SIZE - CROP_HEIGHT..FACE_SIZE);
            frames.extend_from_slice(&mouth.data);
            times.crop += t.elapsed();
        }
        hasher.update(&wav_bytes);

        let t = std::time::Instant::now();
        let mel_values = mel.compute(&pcm_to_f32(&pcm));
        times.mel = t.elapsed();
        Ok(Utterance {
            utt_id: item.utt_id.clone(),
            split: item.split,
            source_path: item.rel_path.clone(),
            source_sha256: hex::encode(hasher.finalize()),
            transcript: String::new(),
            fps: FPS,
            num_frames: n as u32,
            frames,
            face_boxes: boxes,
            face_found: vec![true; n],
            sample_rate: SAMPLE_RATE,
            mel_frames: MelExtractor::num_frames(pcm.len()) as u32,
            mel: mel_values,
            pcm,
        })
    })();
    Outcome { result, warnings, times, video_seconds }
}

/// Everything `preprocess import` needs.
#[derive(Debug, Clone)]
pub struct ImportConfig {
    /// The preprocessed tree (`<root>/<programme>/<utt>/…`).
    pub root: PathBuf,
    /// Which lists.
    pub lists: Lists,
    /// Whose resize.
    pub resize: Resize,
    /// zstd level of the shards (recorded in the manifest).
    pub zstd_level: i32,
    /// Where and how the set is written.
    pub set: SetOptions,
}

/// The import's default zstd level. Decoded JPEG pixels compress poorly: on the GRID faces level 1
/// makes the shards 5.6 % larger than level 3 (`preprocess run`'s) and the import 30 % faster,
/// since compression is most of the shard writer's time.
pub const IMPORT_ZSTD_LEVEL: i32 = 1;

thread_local! {
    static MEL: MelExtractor = MelExtractor::new();
}

/// The Wav2Lip layout of one import: its located lists and the settings.
struct Wav2Lip<'a> {
    lists: Vec<(Split, PathBuf)>,
    params: ImportParams,
    cfg: &'a ImportConfig,
}

impl Layout for Wav2Lip<'_> {
    type Skip = ImportSkip;

    fn items(&self, log: &dyn Fn(&str)) -> Result<Vec<(Split, Vec<Item>)>> {
        let mut by_split = Vec::new();
        for (split, list) in &self.lists {
            let items = items(&self.cfg.root, *split, list)?;
            if items.is_empty() {
                return Err(PreprocessError::EmptyList { path: list.clone() });
            }
            log(&format!("{}: {} utterances for split {}", list.display(), items.len(), split.as_str()));
            crate::lrs2::note_unknown_list(*split, &items, log);
            by_split.push((*split, items));
        }
        Ok(by_split)
    }

    fn params(&self) -> Result<serde_json::Map<String, serde_json::Value>> {
        // Each list's own hash, so a set records exactly which list made it.
        let mut lists = Vec::new();
        for (split, list) in &self.lists {
            lists.push(serde_json::json!({"split": split, "sha256": manifests::sha256_file(list)?}));
        }
        let mut m = serde_json::Map::new();
        m.insert("import".into(), serde_json::to_value(self.params).expect("parameters serialise"));
        m.insert("lists".into(), lists.into());
        m.insert("zstd_level".into(), self.cfg.zstd_level.into());
        Ok(m)
    }

    fn writer(&self) -> shards::WriterOptions {
        shards::WriterOptions { zstd_level: self.cfg.zstd_level, ..Default::default() }
    }

    fn process(&self, item: &Item) -> Result<Outcome<ImportSkip>> {
        Ok(MEL.with(|mel| process(item, &self.cfg.root, &self.params, mel)))
    }
}

/// Runs this task's share of the import.
pub fn import(cfg: &ImportConfig, log: &dyn Fn(&str)) -> Result<RunReport> {
    if !cfg.root.is_dir() {
        return Err(PreprocessError::NotARoot { path: cfg.root.clone() });
    }
    let lists = cfg.lists.resolve(&cfg.root)?;
    crate::engine::build(&Wav2Lip { lists, params: ImportParams::new(cfg.resize), cfg }, &cfg.set, log)
}
