//! Validation metrics (SPEC §4.3): sklearn's `f1_score(y, logit > 0.5, average="weighted")` per
//! batch, averaged over batches as the reference does; BCE; accuracy.

use serde_json::{json, Value};

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

/// Sums over validation batches.
#[derive(Debug, Default)]
pub struct ValAccumulator {
    f1: f64,
    batches: usize,
    correct: usize,
    samples: usize,
    /// Per-batch means of [bce, mtd, last_mtd, fitnets], summed.
    losses: Vec<f64>,
}

impl ValAccumulator {
    /// Adds one batch: its logits, labels and per-batch loss values (BCE first, then, with a
    /// teacher, the MTD sum, the Last-MTD terms and the FitNets MSE).
    pub fn add(&mut self, logits: &[f32], labels: &[f32], losses: &[f32]) {
        self.f1 += weighted_f1(logits, labels);
        self.batches += 1;
        self.correct += logits.iter().zip(labels).filter(|(&x, &y)| (x > 0.5) == (y == 1.0)).count();
        self.samples += labels.len();
        if self.losses.len() < losses.len() {
            self.losses.resize(losses.len(), 0.0);
        }
        for (acc, &l) in self.losses.iter_mut().zip(losses) {
            *acc += l as f64;
        }
    }

    /// `{f1, bce, accuracy, samples}` plus, with a teacher, `{mtd, last_mtd, fitnets}`.
    pub fn finish(&self, with_teacher: bool) -> Value {
        let n = self.batches.max(1) as f64;
        let l = |i: usize| self.losses.get(i).map(|v| v / n).unwrap_or(f64::NAN);
        let mut v = json!({
            "f1": self.f1 / n,
            "bce": l(0),
            "accuracy": self.correct as f64 / self.samples.max(1) as f64,
            "samples": self.samples,
        });
        if with_teacher {
            // MTD: BCE + all 24 KL terms; Last-MTD: BCE + the last fusion layer's CAD + VR.
            v["mtd"] = json!(l(0) + l(1));
            v["last_mtd"] = json!(l(0) + l(2));
            v["fitnets"] = json!(l(3));
        }
        v
    }
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
}
