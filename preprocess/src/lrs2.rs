//! The LRS2 layout (SPEC §1.5) as a [`Layout`] of the shard-set engine: `mvlrs_v1/` with its split
//! lists, each utterance a video decoded into its mouth clip ([`media::clip`]) with its
//! transcript. The synthetic corpus (`preprocess synth`) is written in this layout and goes
//! through it too.

use std::path::{Path, PathBuf};

use manifests::parse_split_list;
use media::clip::{check_file, extract, ClipParams, ClipSkip, Identity};
use media::face::FaceDetector;
use serde::{Deserialize, Serialize};
use shards::Split;
use std::cell::RefCell;

use crate::engine::{Item, Layout, Outcome, RunReport, SetOptions};
use crate::error::{io, PreprocessError, Result};
use crate::shift::AudioShift;
use features::MelExtractor;

/// Every parameter that shapes a shard row (stored in shard metadata and the manifest).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Params {
    /// Faces, crops and the audio stream.
    #[serde(flatten)]
    pub clip: ClipParams,
    /// Measured offsets to correct (`--shift-audio`); recorded as file and sha256 when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shift_audio: Option<AudioShift>,
}

/// Why an LRS2 item was skipped: the one-line reason recorded in the manifest.
#[derive(Debug, thiserror::Error)]
pub enum Skip {
    /// The file could not be hashed.
    #[error(transparent)]
    Hash(#[from] manifests::Error),
    /// `--shift-audio` has no measured offset for it.
    #[error("no measured offset in the --shift-audio file (not scored there); not written uncorrected")]
    NoOffset,
    /// No mouth clip (missing, unreadable, too short, no face, …).
    #[error(transparent)]
    Clip(#[from] ClipSkip),
}

/// A located LRS2 root (`mvlrs_v1/`).
#[derive(Debug, Clone)]
pub struct Lrs2Root {
    /// The `mvlrs_v1` directory.
    pub root: PathBuf,
    /// Split lists found there.
    pub lists: Vec<Split>,
}

impl Lrs2Root {
    /// Accepts either `mvlrs_v1/` or its parent.
    pub fn discover(dir: &Path) -> Result<Self> {
        let root = if dir.join("mvlrs_v1").is_dir() { dir.join("mvlrs_v1") } else { dir.to_path_buf() };
        let lists: Vec<Split> =
            Split::ALL.into_iter().filter(|s| root.join(format!("{}.txt", s.as_str())).is_file()).collect();
        if lists.is_empty() {
            return Err(PreprocessError::NoSplitLists { root });
        }
        Ok(Self { root, lists })
    }

    /// The items of `split`, sorted by id. Ids are validated (none can escape the root).
    pub fn items(&self, split: Split) -> Result<Vec<Item>> {
        let list = self.root.join(format!("{}.txt", split.as_str()));
        let text = std::fs::read_to_string(&list).map_err(io(&list))?;
        let entries = parse_split_list(&text, &list.display().to_string())?;
        let dir = if split == Split::Pretrain { "pretrain" } else { "main" };
        let mut items: Vec<Item> = entries
            .into_iter()
            .map(|e| {
                let rel_path = format!("{dir}/{}.mp4", e.id.as_str());
                Item { split, utt_id: e.id.as_str().to_string(), video: self.root.join(&rel_path), rel_path }
            })
            .collect();
        items.sort();
        items.dedup_by(|a, b| a.utt_id == b.utt_id);
        Ok(items)
    }
}

/// Says when a list of LRS2 ids has another length than LRS2 v1's list of that split (SPEC
/// §1.5). A list of the user's own ids (their own dataset under an LRS2-shaped tree) gets no note:
/// it was never meant to be LRS2's (issue #33 point 10). LRS2's programme ids are 19 digits.
pub fn note_unknown_list(split: Split, items: &[Item], log: &dyn Fn(&str)) {
    let lrs2_like = |i: &Item| {
        let programme = i.utt_id.split('/').next().unwrap_or("");
        programme.len() == 19 && programme.bytes().all(|b| b.is_ascii_digit())
    };
    let Some(known) = manifests::known_lrs2_split(split.as_str()) else { return };
    if items.len() != known.lines && !items.is_empty() && items.iter().all(lrs2_like) {
        log(&format!(
            "note: {}.txt lists {} LRS2 utterances where LRS2 v1's {} list has {}: accuracies on it are not comparable with published LRS2 numbers",
            split.as_str(),
            items.len(),
            split.as_str(),
            known.lines
        ));
    }
}

/// A transcript that could not be read (a warning: the utterance is kept).
#[derive(Debug, thiserror::Error)]
pub enum TranscriptError {
    /// Reading failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The transcript.
        path: std::path::PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// Not UTF-8.
    #[error("{}: transcript is not UTF-8", path.display())]
    NotUtf8 {
        /// The transcript.
        path: std::path::PathBuf,
    },
}

/// Reads the `Text:` line of an LRS2 transcript next to the video.
fn transcript(item: &Item) -> Result<String, TranscriptError> {
    let path = item.video.with_extension("txt");
    if !path.exists() {
        return Ok(String::new());
    }
    let bytes = std::fs::read(&path).map_err(|source| TranscriptError::Io { path: path.clone(), source })?;
    let text = String::from_utf8(bytes).map_err(|_| TranscriptError::NotUtf8 { path })?;
    Ok(text.lines().find_map(|l| l.strip_prefix("Text:")).map(|t| t.trim().to_string()).unwrap_or_default())
}

/// Processes one utterance. Never panics on bad input: every failure is a skip reason.
pub fn process(item: &Item, params: &Params, det: &mut FaceDetector, mel: &MelExtractor) -> Outcome<Skip> {
    let before = (|| {
        check_file(&item.video)?;
        let shift = match &params.shift_audio {
            None => 0,
            Some(s) => s.offset(&item.utt_id).ok_or(Skip::NoOffset)?,
        };
        Ok::<_, Skip>((shift, manifests::sha256_file(&item.video)?))
    })();
    let (shift, sha) = match before {
        Ok(v) => v,
        Err(e) => {
            return Outcome {
                result: Err(e),
                warnings: Vec::new(),
                times: Default::default(),
                video_seconds: 0.0,
            }
        }
    };
    let out = extract(&item.video, shift, &params.clip, det, mel);
    let mut warnings = out.warnings;
    let result = out.result.map_err(Skip::from).map(|clip| {
        let text = transcript(item).unwrap_or_else(|w| {
            warnings.push(format!("transcript: {w}"));
            String::new()
        });
        clip.into_utterance(Identity {
            utt_id: item.utt_id.clone(),
            split: item.split,
            source_path: item.rel_path.clone(),
            source_sha256: sha,
            transcript: text,
        })
    });
    Outcome { result, warnings, times: out.times, video_seconds: out.video_seconds }
}

/// Everything `preprocess run` needs.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// LRS2 root (`mvlrs_v1/` or its parent).
    pub lrs2_root: PathBuf,
    /// Splits to process.
    pub splits: Vec<Split>,
    /// Processing parameters.
    pub params: Params,
    /// Where and how the set is written.
    pub set: SetOptions,
}

/// The LRS2 layout of one run: a located root, the splits asked for and the parameters.
struct Lrs2<'a> {
    root: Lrs2Root,
    cfg: &'a RunConfig,
}

thread_local! {
    static WORKER: RefCell<Option<(FaceDetector, MelExtractor)>> = const { RefCell::new(None) };
}

impl Layout for Lrs2<'_> {
    type Skip = Skip;

    fn items(&self, log: &dyn Fn(&str)) -> Result<Vec<(Split, Vec<Item>)>> {
        let mut by_split = Vec::new();
        for &split in &self.cfg.splits {
            let items = self.root.items(split)?;
            if items.is_empty() {
                return Err(PreprocessError::EmptyList {
                    path: self.root.root.join(format!("{}.txt", split.as_str())),
                });
            }
            note_unknown_list(split, &items, log);
            by_split.push((split, items));
        }
        Ok(by_split)
    }

    fn params(&self) -> Result<serde_json::Map<String, serde_json::Value>> {
        let mut m = serde_json::Map::new();
        m.insert("process".into(), serde_json::to_value(&self.cfg.params).expect("parameters serialise"));
        m.insert("splits".into(), serde_json::to_value(&self.cfg.splits).expect("splits serialise"));
        m.insert(
            "split_lists_found".into(),
            serde_json::to_value(&self.root.lists).expect("splits serialise"),
        );
        Ok(m)
    }

    fn process(&self, item: &Item) -> Result<Outcome<Skip>> {
        WORKER.with(|w| {
            let mut w = w.borrow_mut();
            if w.is_none() {
                *w = Some((FaceDetector::new(&self.cfg.params.clip.detect)?, MelExtractor::new()));
            }
            let (det, mel) = w.as_mut().expect("initialised above");
            Ok(process(item, &self.cfg.params, det, mel))
        })
    }
}

/// `preprocess run`: this task's share of the LRS2 shard set.
pub fn run(cfg: &RunConfig, log: &dyn Fn(&str)) -> Result<RunReport> {
    let root = Lrs2Root::discover(&cfg.lrs2_root)?;
    log(&format!(
        "LRS2 root {}: split lists found: {}",
        root.root.display(),
        root.lists.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
    ));
    for split in &cfg.splits {
        if !root.lists.contains(split) {
            return Err(PreprocessError::NoSplitList { root: root.root.clone(), split: split.as_str() });
        }
    }
    crate::engine::build(&Lrs2 { root, cfg }, &cfg.set, log)
}
