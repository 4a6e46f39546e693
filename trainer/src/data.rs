//! Training batches streamed from shards (SPEC §4.1 sampling, §1.3 step 7 chunk mels).
//!
//! A producer thread reads row groups in a seeded random order into a bounded shuffle buffer of
//! utterances and draws `windows_per_utt` samples per buffered utterance before evicting the
//! oldest half; it sends the raw samples ahead on a bounded channel. The model inputs (frames in
//! the model's input convention, the per-chunk mel computed with the preprocessor's function)
//! are built in parallel by rayon, in order, so the batches depend only on the seed and the
//! shards. Memory bound: `buffer_utts` utterances + `prefetch` batches of raw samples.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver};

use features::{pcm_to_f32, MelExtractor, FRAME_INPUT_LEN, MEL_INPUT_LEN};
use manifests::{Manifest, MANIFEST_FILE};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use shards::{ShardReader, Utterance};

use crate::sampling::{draw, usable, Sample};
use nets::model::InputConvention;

/// Why the data pipeline could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The shard manifest could not be read, or a shard failed its check.
    #[error(transparent)]
    Manifest(#[from] manifests::Error),
    /// A shard could not be read.
    #[error(transparent)]
    Shard(#[from] shards::Error),
    /// The split has no shards.
    #[error("{}: no shards of split {split:?}", dir.display())]
    NoShards {
        /// Shard set directory.
        dir: PathBuf,
        /// Split asked for.
        split: String,
    },
    /// No utterance of the split is long enough to sample from.
    #[error("no usable utterance (more than 25 frames) in the split")]
    NoUsable,
    /// The producer thread ended (it reports its own error first when it fails).
    #[error("the data pipeline stopped")]
    Stopped,
}

/// Settings of a batch stream.
#[derive(Debug, Clone)]
pub struct StreamConfig {
    /// Shard set directory.
    pub shards: PathBuf,
    /// Split to read (`pretrain` for training, `val` for validation, SPEC §1.5).
    pub split: String,
    /// Samples per batch.
    pub batch: usize,
    /// Utterances held in the shuffle buffer.
    pub buffer_utts: usize,
    /// Samples drawn per buffered utterance before half the buffer is replaced.
    pub windows_per_utt: usize,
    /// Batches prepared ahead.
    pub prefetch: usize,
    /// Seed of every random choice.
    pub seed: u64,
}

/// Model-ready batch.
#[derive(Debug, Clone)]
pub struct Batch {
    /// `[B, 15, 48, 96]` frames in the model's convention.
    pub frames: Vec<f32>,
    /// `[B, 1, 80, 16]` chunk mels.
    pub mels: Vec<f32>,
    /// `[B]` labels.
    pub labels: Vec<f32>,
}

/// The row groups of a split's shards: (shard path, row group).
fn units(dir: &Path, split: &str) -> Result<Vec<(PathBuf, usize)>, DataError> {
    let m = Manifest::read(&dir.join(MANIFEST_FILE))?;
    let mut out = Vec::new();
    for e in m.shards_of(split) {
        let r = m.open_shard(dir, &e.file)?;
        out.extend((0..r.num_row_groups()).map(|g| (dir.join(&e.file), g)));
    }
    if out.is_empty() {
        return Err(DataError::NoShards { dir: dir.to_path_buf(), split: split.to_string() });
    }
    Ok(out)
}

/// Starts the producer; returns the receiving end of raw-sample batches (endless: it cycles
/// through the row groups, reshuffled each pass).
pub fn raw_batches(cfg: &StreamConfig) -> Result<Receiver<Result<Vec<Sample>, DataError>>, DataError> {
    let all = units(&cfg.shards, &cfg.split)?;
    let (tx, rx) = sync_channel(cfg.prefetch.max(1));
    let cfg = cfg.clone();
    std::thread::spawn(move || {
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        let mut buffer: Vec<Utterance> = Vec::new();
        let mut pending: Vec<Sample> = Vec::new();
        loop {
            let mut order = all.clone();
            order.shuffle(&mut rng);
            for (path, g) in order {
                let rows = match ShardReader::open(&path).and_then(|r| r.read_row_group(g)) {
                    Ok(r) => r,
                    Err(e) => {
                        let _ = tx.send(Err(e.into()));
                        return;
                    }
                };
                buffer.extend(rows.into_iter().filter(usable));
                if buffer.len() < cfg.buffer_utts.max(1) {
                    continue;
                }
                for _ in 0..buffer.len() * cfg.windows_per_utt.max(1) {
                    if let Some(s) = draw(&buffer, &mut rng, 1000) {
                        pending.push(s);
                    }
                    if pending.len() == cfg.batch && tx.send(Ok(std::mem::take(&mut pending))).is_err() {
                        return; // the consumer is gone
                    }
                }
                let keep = buffer.len() / 2;
                buffer.drain(..buffer.len() - keep);
            }
            if buffer.is_empty() && pending.is_empty() {
                let _ = tx.send(Err(DataError::NoUsable));
                return;
            }
        }
    });
    Ok(rx)
}

/// Builds model inputs from raw samples, in parallel and in order.
pub fn assemble(samples: &[Sample], conv: &InputConvention) -> Batch {
    let parts: Vec<(Vec<f32>, Vec<f32>)> = samples
        .par_iter()
        .map_init(MelExtractor::new, |mel, s| {
            (conv.window_to_input(&s.frames), mel.chunk(&pcm_to_f32(&s.audio)))
        })
        .collect();
    let mut b = Batch {
        frames: Vec::with_capacity(samples.len() * FRAME_INPUT_LEN),
        mels: Vec::with_capacity(samples.len() * MEL_INPUT_LEN),
        labels: samples.iter().map(|s| s.label).collect(),
    };
    for (f, m) in parts {
        b.frames.extend(f);
        b.mels.extend(m);
    }
    b
}

/// Frames alone in `conv` (for a second model reading the same samples: the mels are shared).
pub fn frames_for(samples: &[Sample], conv: &InputConvention) -> Vec<f32> {
    let parts: Vec<Vec<f32>> = samples.par_iter().map(|s| conv.window_to_input(&s.frames)).collect();
    parts.concat()
}

/// A model-ready batch plus, when a second model reads frames in another convention (a teacher),
/// its frames.
pub type Assembled = (Batch, Option<Vec<f32>>);

/// The full pipeline: the raw producer thread plus an assembler thread that builds model inputs
/// ahead of the consumer (rayon inside), so a training step only waits when both fall behind.
/// The first `skip` raw batches are drawn but not assembled (exact mid-epoch resume).
pub fn batches(
    cfg: &StreamConfig,
    conv: InputConvention,
    second: Option<InputConvention>,
    skip: usize,
) -> Result<Receiver<Result<Assembled, DataError>>, DataError> {
    let raw = raw_batches(cfg)?;
    let (tx, rx) = sync_channel(cfg.prefetch.max(1));
    std::thread::spawn(move || {
        for (i, item) in raw.iter().enumerate() {
            if i < skip {
                continue;
            }
            let out = item.map(|samples| {
                let batch = assemble(&samples, &conv);
                let other = second.filter(|c| *c != conv).map(|c| frames_for(&samples, &c));
                (batch, other)
            });
            if tx.send(out).is_err() {
                return; // the consumer is gone
            }
        }
    });
    Ok(rx)
}

/// Rows of `split` in the shard set's manifest (the reference's epoch length is
/// `len(split list)` samples).
pub fn split_rows(dir: &Path, split: &str) -> Result<usize, DataError> {
    let m = Manifest::read(&dir.join(MANIFEST_FILE))?;
    Ok(m.shards_of(split).map(|e| e.rows).sum())
}
