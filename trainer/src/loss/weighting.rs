//! How the per-pair CAD/VR terms and BCE combine into one objective: paper eq. 3 (NMTD: fixed or
//! softmax weights, SPEC §5.4) and eq. 4 (MTD: uncertainty weights, SPEC §5.3), at 13 or 25
//! dimensions.
//!
//! Every weighting reduces to the same two choices, made here once:
//! - the *slots*: at 13D CAD and VR of pair k share slot 1 + k (one term, `cad + vr`); at 25D
//!   CAD takes slot 1 + k and VR slot 1 + 12 + k. BCE is slot 0.
//! - the *weight* applied to a slot's term: `0.5/w² · L + ln(1 + w²)` (UW), `softmax(w)[slot] · L`
//!   (AW), a fixed factor (manual), or one shared scale on the sum (uniform).
//!
//! The sums are left folds in slot order, so the floating-point result is the one the authors'
//! loops compute.

use burn::tensor::activation::softmax;
use burn::tensor::Tensor;

use super::config::{Behaviours, Weighting, PAIRS};

/// `0.5/w² · L + ln(1 + w²)` (paper eq. 4, SPEC §5.3).
pub fn uncertainty(loss: Tensor<1>, w: Tensor<1>) -> Tensor<1> {
    let w2 = w.powi_scalar(2);
    loss * w2.clone().recip() * 0.5 + (w2 + 1.0).log()
}

/// The weights of one objective, resolved from the config and the learnable parameters.
pub enum Weights<'a> {
    /// `alpha · Σ terms` (NMTD uniform); BCE unweighted.
    Uniform(f64),
    /// Fixed factors per slot (NMTD manual: 12 per layer, or 24 CAD then VR); BCE unweighted.
    Manual(&'a [f64]),
    /// Learnable uncertainty weights, one per slot (UW-13D / UW-25D).
    Uncertainty(Tensor<1>),
    /// Learnable weights through a softmax over the whole vector (AW-13D / AW-25D).
    Softmax(Tensor<1>),
}

/// Whether `weighting` gives CAD and VR one slot per pair (13D) rather than one each (25D).
/// Manual and uniform weigh CAD and VR as separate terms, as the reference's loops do.
fn shares_slot(weighting: Weighting) -> bool {
    matches!(weighting, Weighting::Uw13 | Weighting::Aw13)
}

/// The terms to weigh, as `(slot, term)` in the reference's summation order.
fn slotted(
    kl: &[(Tensor<1>, Tensor<1>)],
    pairs: &[usize],
    behaviours: Behaviours,
    shared: bool,
) -> Vec<(usize, Tensor<1>)> {
    let (use_cad, use_vr) = match behaviours {
        Behaviours::Both => (true, true),
        Behaviours::CadOnly => (true, false),
        Behaviours::VrOnly => (false, true),
    };
    let mut out = Vec::new();
    for &k in pairs {
        let (c, v) = &kl[k];
        if shared {
            let term = match (use_cad, use_vr) {
                (true, true) => c.clone() + v.clone(),
                (true, false) => c.clone(),
                _ => v.clone(),
            };
            out.push((1 + k, term));
        } else {
            if use_cad {
                out.push((1 + k, c.clone()));
            }
            if use_vr {
                out.push((1 + PAIRS + k, v.clone()));
            }
        }
    }
    out
}

/// BCE plus the weighted CAD/VR terms of the selected `pairs` (eq. 3 or eq. 4).
pub fn combine(
    weighting: Weighting,
    weights: &Weights<'_>,
    bce: Tensor<1>,
    kl: &[(Tensor<1>, Tensor<1>)],
    pairs: &[usize],
    behaviours: Behaviours,
) -> Tensor<1> {
    let terms = slotted(kl, pairs, behaviours, shares_slot(weighting));
    let slice = |w: &Tensor<1>, i: usize| w.clone().slice(i..i + 1);
    match weights {
        Weights::Uniform(alpha) => {
            let sum = terms.into_iter().map(|(_, t)| t).reduce(|a, b| a + b);
            bce.clone() + sum.map(|s| s * *alpha).unwrap_or_else(|| bce.zeros_like())
        }
        Weights::Manual(m) => {
            let per_layer = m.len() == PAIRS;
            let factor = |slot: usize| if per_layer { m[(slot - 1) % PAIRS] } else { m[slot - 1] };
            terms.into_iter().fold(bce, |l, (slot, t)| l + t * factor(slot))
        }
        Weights::Uncertainty(w) => terms
            .into_iter()
            .fold(uncertainty(bce, slice(w, 0)), |l, (slot, t)| l + uncertainty(t, slice(w, slot))),
        Weights::Softmax(w) => {
            let sm = softmax(w.clone(), 0);
            terms.into_iter().fold(bce * slice(&sm, 0), |l, (slot, t)| l + t * slice(&sm, slot))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    /// d/dw [0.5/w²·L + ln(1+w²)] = −L/w³ + 2w/(1+w²), checked through autodiff.
    #[test]
    fn uncertainty_weight_gradient_is_analytic() {
        let device = nets::device::DeviceSpec::Cpu.device().autodiff();
        for (l, w) in [(0.7f32, 1.0f32), (2.5, 0.6), (0.01, 1.8)] {
            let wt = Tensor::<1>::from_data(TensorData::new(vec![w], [1]), &device).require_grad();
            let lt = Tensor::<1>::from_data(TensorData::new(vec![l], [1]), &device);
            let out = uncertainty(lt, wt.clone());
            let grads = out.backward();
            let g: f32 = wt.grad(&grads).unwrap().into_scalar::<f32>();
            let want = -l / w.powi(3) + 2.0 * w / (1.0 + w * w);
            assert!((g - want).abs() <= 1e-5 * want.abs().max(1.0), "L={l} w={w}: {g} vs {want}");
        }
    }
}

#[cfg(test)]
mod combine_tests {
    use super::*;
    use burn::tensor::TensorData;

    fn s(v: f32) -> Tensor<1> {
        Tensor::from_data(TensorData::new(vec![v], [1]), &nets::device::DeviceSpec::Cpu.device())
    }

    fn value(t: Tensor<1>) -> f64 {
        t.into_scalar::<f32>() as f64
    }

    /// CAD of pair k is 0.1·(k+1), VR 0.01·(k+1), BCE 0.5: Σ CAD = 7.8, Σ VR = 0.78.
    fn kl() -> Vec<(Tensor<1>, Tensor<1>)> {
        (0..PAIRS).map(|k| (s(0.1 * (k + 1) as f32), s(0.01 * (k + 1) as f32))).collect()
    }

    fn all() -> Vec<usize> {
        (0..PAIRS).collect()
    }

    fn close(got: f64, want: f64) {
        assert!((got - want).abs() < 1e-5 * want.abs().max(1.0), "{got} vs {want}");
    }

    #[test]
    fn nmtd_uniform_and_manual_by_hand() {
        let both = Behaviours::Both;
        // Uniform α = 2: 0.5 + 2·(7.8 + 0.78) = 17.66.
        close(value(combine(Weighting::Uniform, &Weights::Uniform(2.0), s(0.5), &kl(), &all(), both)), 17.66);
        // CAD only, F1 and VA2: 0.5 + 2·(0.1 + 1.0) = 2.7.
        let cad = Behaviours::CadOnly;
        close(value(combine(Weighting::Uniform, &Weights::Uniform(2.0), s(0.5), &kl(), &[0, 9], cad)), 2.7);
        // Manual per layer (w_k = k + 1), F2 only: 0.5 + 2·0.2 + 2·0.02 = 0.94.
        let per_layer: Vec<f64> = (1..=PAIRS).map(|k| k as f64).collect();
        close(
            value(combine(Weighting::Manual, &Weights::Manual(&per_layer), s(0.5), &kl(), &[1], both)),
            0.94,
        );
        // Manual CAD then VR (1 for CAD, 10 for VR), F2 only: 0.5 + 0.2 + 10·0.02 = 0.9.
        let split: Vec<f64> = [1.0; PAIRS].into_iter().chain([10.0; PAIRS]).collect();
        close(value(combine(Weighting::Manual, &Weights::Manual(&split), s(0.5), &kl(), &[1], both)), 0.9);
        // VR only drops every CAD term: 0.5 + 0.78.
        let vr = Behaviours::VrOnly;
        close(value(combine(Weighting::Uniform, &Weights::Uniform(1.0), s(0.5), &kl(), &all(), vr)), 1.28);
    }

    #[test]
    fn learned_weightings_at_their_initial_values_by_hand() {
        let ones = |n: usize| Tensor::<1>::ones([n], &nets::device::DeviceSpec::Cpu.device());
        let both = Behaviours::Both;
        // AW-13D, softmax of 13 ones: (0.5 + 8.58) / 13.
        let aw13 = combine(Weighting::Aw13, &Weights::Softmax(ones(1 + PAIRS)), s(0.5), &kl(), &all(), both);
        close(value(aw13), 9.08 / 13.0);
        // AW-25D over the authors' 49 values: (0.5 + 8.58) / 49.
        let aw25 = combine(Weighting::Aw25, &Weights::Softmax(ones(49)), s(0.5), &kl(), &all(), both);
        close(value(aw25), 9.08 / 49.0);
        // UW-13D at w = 1: Σ over 13 slots of 0.5·L + ln 2 = 0.5·9.08 + 13·ln 2.
        let uw13 =
            combine(Weighting::Uw13, &Weights::Uncertainty(ones(1 + PAIRS)), s(0.5), &kl(), &all(), both);
        close(value(uw13), 4.54 + 13.0 * std::f64::consts::LN_2);
        // UW-25D at w = 1: 25 slots.
        let uw25 =
            combine(Weighting::Uw25, &Weights::Uncertainty(ones(1 + 2 * PAIRS)), s(0.5), &kl(), &all(), both);
        close(value(uw25), 4.54 + 25.0 * std::f64::consts::LN_2);
    }
}
