//! The MTD learning-rate schedule (SPEC §4.2, measured from `GW:warmup_scheduler` with torch 2.9):
//! `GradualWarmupScheduler(multiplier=1, total_epoch=10, after=StepLR(20, 0.8))` stepped every
//! iteration with `step(global_epoch + 1)`.

/// Learning rate of epoch `e` once the scheduler has stepped into it: linear warm-up
/// base·(e+1)/10 for e ≤ 9, then base·0.8^⌊(e−9)/20⌋.
pub fn epoch_lr(base: f64, e: usize) -> f64 {
    if e <= 9 {
        base * (e + 1) as f64 / 10.0
    } else {
        base * 0.8f64.powi(((e - 9) / 20) as i32)
    }
}

/// Learning rate used at global iteration `k` (0-based) with `steps_per_epoch` iterations per
/// epoch. The very first iteration runs with lr 0 (the constructor sets base·0/10), and because
/// the scheduler steps after the optimiser, the first iteration of each epoch still uses the
/// previous epoch's rate.
pub fn mtd_lr(base: f64, k: usize, steps_per_epoch: usize) -> f64 {
    let s = steps_per_epoch.max(1);
    let (e, i) = (k / s, k % s);
    match (k, i) {
        (0, _) => 0.0,
        (_, 0) => epoch_lr(base, e - 1),
        _ => epoch_lr(base, e),
    }
}

/// The schedule of a run (recorded in its config).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Schedule {
    /// Constant learning rate (the VocaLiST teacher).
    None,
    /// The MTD warm-up + StepLR schedule.
    Mtd,
}

impl Schedule {
    /// The rate at global iteration `k`.
    pub fn lr(self, base: f64, k: usize, steps_per_epoch: usize) -> f64 {
        match self {
            Schedule::None => base,
            Schedule::Mtd => mtd_lr(base, k, steps_per_epoch),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_measured_sequence() {
        let (b, s) = (5e-5, 753);
        assert_eq!(mtd_lr(b, 0, s), 0.0);
        assert!((mtd_lr(b, 1, s) - 5e-6).abs() < 1e-18); // epoch 0 warm-up
        assert!((mtd_lr(b, s, s) - 5e-6).abs() < 1e-18); // first iteration of epoch 1: previous rate
        assert!((mtd_lr(b, s + 1, s) - 1e-5).abs() < 1e-18);
        let at = |e: usize| mtd_lr(b, e * s + 1, s);
        for (e, want) in [
            (9, 5e-5),
            (28, 5e-5),
            (29, 4e-5),
            (48, 4e-5),
            (49, 3.2e-5),
            (68, 3.2e-5),
            (69, 2.56e-5),
            (79, 2.56e-5),
        ] {
            assert!((at(e) - want).abs() < 1e-15, "epoch {e}: {} vs {want}", at(e));
        }
        assert_eq!(Schedule::None.lr(b, 12345, s), b);
    }
}
