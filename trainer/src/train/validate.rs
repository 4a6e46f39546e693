//! Validation (SPEC §4.3): a fixed, seeded sample set; sklearn's weighted F1 of `logit > 0.5` per
//! batch, averaged over batches as the reference does; BCE; accuracy; and with a teacher the
//! distillation measures of Fig. 4 (MTD, Last-MTD, FitNets).

use burn::nn::Linear;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::step::{frames_tensor, mels_tensor, vector, Teacher};
use super::{mix, RunConfig, TrainError, SALT_VAL};
use crate::data::{self, StreamConfig};
use crate::loss::{bce_with_logits, fitnets, minilm_star, mtd_terms};
use crate::sampling::Sample;
use nets::model::{InputConvention, SyncTransformer};

/// Weighted F1 of one batch: per class c present in `labels`, F1_c = 2·tp/(2·tp + fp + fn),
/// weighted by its support (sklearn `average="weighted"`, zero_division = 0). The prediction is
/// `logit > 0.5` (the reference thresholds the raw logit, not the probability).
pub fn weighted_f1(logits: &[f32], labels: &[f32]) -> f64 {
    let n = labels.len();
    if n == 0 {
        return 0.0;
    }
    let mut total = 0.0;
    for class in [0.0f32, 1.0] {
        let (mut tp, mut fp, mut fn_, mut support) = (0usize, 0usize, 0usize, 0usize);
        for (&x, &y) in logits.iter().zip(labels) {
            let pred = if x > 0.5 { 1.0 } else { 0.0 };
            match (pred == class, y == class) {
                (true, true) => tp += 1,
                (true, false) => fp += 1,
                (false, true) => fn_ += 1,
                _ => {}
            }
            support += (y == class) as usize;
        }
        let denom = 2 * tp + fp + fn_;
        let f1 = if denom == 0 { 0.0 } else { 2.0 * tp as f64 / denom as f64 };
        total += f1 * support as f64;
    }
    total / n as f64
}

/// One validation pass. Serialised as the `val` object of an `epoch` line in `metrics.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Validation {
    /// Weighted F1, mean over batches.
    #[serde(deserialize_with = "nan_if_null")]
    pub f1: f64,
    /// BCE, mean over batches (NaN, written as null, when nothing was scored).
    #[serde(deserialize_with = "nan_if_null")]
    pub bce: f64,
    /// Share of samples with `(logit > 0.5) == label`.
    #[serde(deserialize_with = "nan_if_null")]
    pub accuracy: f64,
    /// Samples scored.
    pub samples: usize,
    /// MTD: BCE + all 24 KL terms (with a teacher).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtd: Option<f64>,
    /// Last-MTD: BCE + the last fusion layer's CAD + VR (with a teacher).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_mtd: Option<f64>,
    /// FitNets: Σ block MSE through the regressor (with a teacher).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fitnets: Option<f64>,
}

/// JSON writes NaN as null; read it back as NaN.
fn nan_if_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// One `epoch` line of `metrics.jsonl` (the fields the figures read).
#[derive(Debug, Clone, Deserialize)]
pub struct EpochLine {
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean training loss over the epoch.
    #[serde(deserialize_with = "nan_if_null")]
    pub train_loss: f64,
    /// The validation pass after it.
    pub val: Validation,
}

/// Per-batch means of each measure, summed over batches.
#[derive(Debug, Default)]
struct Sums {
    f1: f64,
    batches: usize,
    correct: usize,
    samples: usize,
    bce: f64,
    /// (Σ 24 KL terms, Last-MTD terms, FitNets MSE), with a teacher.
    teacher: Option<(f64, f64, f64)>,
}

impl Sums {
    fn add(&mut self, logits: &[f32], labels: &[f32], bce: f32, teacher: Option<[f32; 3]>) {
        self.f1 += weighted_f1(logits, labels);
        self.batches += 1;
        self.correct += logits.iter().zip(labels).filter(|(&x, &y)| (x > 0.5) == (y == 1.0)).count();
        self.samples += labels.len();
        self.bce += bce as f64;
        if let Some([a, b, c]) = teacher {
            let t = self.teacher.get_or_insert((0.0, 0.0, 0.0));
            t.0 += a as f64;
            t.1 += b as f64;
            t.2 += c as f64;
        }
    }

    fn finish(&self) -> Validation {
        let n = self.batches.max(1) as f64;
        let bce = if self.batches == 0 { f64::NAN } else { self.bce / n };
        let t = self.teacher.map(|(a, b, c)| (a / n, b / n, c / n));
        Validation {
            f1: self.f1 / n,
            bce,
            accuracy: self.correct as f64 / self.samples.max(1) as f64,
            samples: self.samples,
            mtd: t.map(|t| bce + t.0),
            last_mtd: t.map(|t| bce + t.1),
            fitnets: t.map(|t| t.2),
        }
    }
}

/// The validation set: `val_samples` raw samples of `val_split`, drawn once from the seed.
pub fn validation_set(cfg: &RunConfig) -> Result<Vec<Vec<Sample>>, TrainError> {
    let stream = StreamConfig {
        shards: cfg.shards.clone(),
        split: cfg.val_split.clone(),
        batch: cfg.val_batch_size,
        buffer_utts: cfg.data.buffer_utts,
        windows_per_utt: cfg.data.windows_per_utt,
        prefetch: 2,
        seed: mix(cfg.seed, SALT_VAL),
    };
    let rx = data::raw_batches(&stream).map_err(|e| TrainError::Data { what: "validation", source: e })?;
    let n = cfg.val_samples.div_ceil(cfg.val_batch_size).max(1);
    let mut out = Vec::with_capacity(n);
    let mut left = cfg.val_samples.max(1);
    for _ in 0..n {
        let b = rx.recv().unwrap_or(Err(data::DataError::Stopped));
        let mut b = b.map_err(|e| TrainError::Data { what: "validation", source: e })?;
        b.truncate(left);
        left -= b.len();
        out.push(b);
    }
    Ok(out)
}

/// Scalars `[1]` read back to the host in one transfer.
pub fn host_scalars(ts: Vec<Tensor<1>>) -> Vec<f32> {
    Tensor::cat(ts, 0).into_data().convert::<f32>().try_to_vec::<f32>().expect("f32 data")
}

/// Evaluates `model` (plain device: eval mode) on the validation set; with a teacher, also the
/// MTD, Last-MTD and FitNets measures (`regressor` maps teacher to student width).
pub fn validate(
    model: &SyncTransformer,
    conv: InputConvention,
    teacher: Option<&Teacher>,
    regressor: &Linear,
    val: &[Vec<Sample>],
    device: &Device,
) -> Validation {
    let mut sums = Sums::default();
    for samples in val {
        let b = samples.len();
        let batch = data::assemble(samples, &conv);
        let frames = frames_tensor(batch.frames, b, device);
        let mels = mels_tensor(batch.mels, b, device);
        let y = vector(batch.labels.clone(), device);
        let mut extra = Vec::new();
        let logits_t = match teacher {
            Some(t) => {
                // The teacher reads the frames in its own input convention (the mels are shared).
                let tf = if t.config.input == conv {
                    frames.clone()
                } else {
                    frames_tensor(data::frames_for(samples, &t.config.input), b, device)
                };
                let (logits, taps) = model.forward_taps(frames, mels.clone());
                let (_, t_taps) = t.model.forward_taps(tf, mels);
                let terms = mtd_terms(&taps, &t_taps, 1.0);
                let (c4, v4) = minilm_star(&terms);
                let all = terms.into_iter().map(|(c, v)| c + v).reduce(|a, b| a + b);
                extra.push(all.expect("12 pairs"));
                extra.push(c4 + v4);
                extra.push(fitnets(&taps, &t_taps, regressor));
                logits
            }
            None => model.forward(frames, mels),
        };
        let mut all = vec![bce_with_logits(logits_t.clone(), y)];
        all.extend(extra);
        let vals = host_scalars(all);
        let logits: Vec<f32> = logits_t.into_data().convert::<f32>().try_to_vec::<f32>().expect("f32");
        sums.add(&logits, &batch.labels, vals[0], (vals.len() == 4).then(|| [vals[1], vals[2], vals[3]]));
    }
    sums.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weighted_f1_matches_sklearn() {
        // sklearn: f1_score([1,1,0,0,1], [1,0,0,1,1], average="weighted") = 0.6 (computed by hand:
        // class 1: tp 2, fp 1, fn 1 → 2/3; class 0: tp 1, fp 1, fn 1 → 1/2; (3·2/3 + 2·1/2)/5).
        let labels = [1.0, 1.0, 0.0, 0.0, 1.0];
        let logits = [0.9, 0.2, -1.0, 0.7, 3.0];
        assert!((weighted_f1(&logits, &labels) - 0.6).abs() < 1e-12);
        // A logit of 0.5 is not > 0.5: predicted negative.
        assert_eq!(weighted_f1(&[0.5, 0.5], &[0.0, 0.0]), 1.0);
        // All predicted positive, all negative labels: class 0 F1 = 0 (zero_division).
        assert_eq!(weighted_f1(&[1.0, 1.0], &[0.0, 0.0]), 0.0);
    }

    #[test]
    fn sums_average_per_batch() {
        let mut s = Sums::default();
        s.add(&[1.0, -1.0], &[1.0, 0.0], 0.5, Some([2.0, 1.0, 0.25]));
        s.add(&[1.0, 1.0], &[1.0, 0.0], 1.5, Some([4.0, 3.0, 0.75]));
        let v = s.finish();
        assert_eq!((v.bce, v.samples, v.accuracy), (1.0, 4, 0.75));
        assert_eq!((v.mtd, v.last_mtd, v.fitnets), (Some(4.0), Some(3.0), Some(0.5)));
    }
}
