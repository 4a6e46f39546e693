//! The distillation baselines of Table 1 (SPEC §5.4–5.5): KD on the logits, RKD on the pooled
//! fusion features, MiniLM* on the last fusion layer, FitNets on the block outputs. Each is added
//! to BCE by [`super::compute`].

use burn::nn::Linear;
use burn::tensor::activation::{log_softmax, sigmoid, softmax};
use burn::tensor::Tensor;

use super::config::{pair_index, Block, KdForm, LAYERS};
use super::terms::xlogy_self;
use nets::model::Taps;

/// KD on scalar logits at temperature `t` (SPEC §5.5).
/// - `BatchSoftmax` (as coded): `T²·KLDiv_batchmean(log_softmax(s/T, 0), softmax(t/T, 0))`, the
///   softmax running across the batch; the KL summand is eq. 2's, with torch's `xlogy` for the
///   teacher's entropy term ([`xlogy_self`]).
/// - `Binary`: the per-sample KL between Bernoulli(σ(t/T)) and Bernoulli(σ(s/T)), × T².
pub fn kd(student: Tensor<1>, teacher: Tensor<1>, t: f64, form: KdForm) -> Tensor<1> {
    let [b] = student.dims();
    match form {
        KdForm::BatchSoftmax => {
            let log_ps = log_softmax(student / t, 0);
            let pt = softmax(teacher / t, 0);
            (xlogy_self(pt.clone()) - pt * log_ps).sum() / b as f64 * (t * t)
        }
        KdForm::Binary => {
            let ps = sigmoid(student / t).clamp(1e-7, 1.0 - 1e-7);
            let pt = sigmoid(teacher / t).clamp(1e-7, 1.0 - 1e-7);
            let kl = pt.clone() * (pt.clone().log() - ps.clone().log())
                + (pt.clone().neg() + 1.0) * ((pt.neg() + 1.0).log() - (ps.neg() + 1.0).log());
            kl.mean() * (t * t)
        }
    }
}

/// Smooth L1 (β = 1), mean reduction.
fn smooth_l1<const D: usize>(x: Tensor<D>, y: Tensor<D>) -> Tensor<1> {
    let d = (x - y).abs();
    let small = d.clone().lower_elem(1.0);
    let quad = d.clone().powi_scalar(2) * 0.5;
    let lin = d - 0.5;
    lin.mask_where(small, quad).mean()
}

/// Pairwise Euclidean distances `[B, B]`, zero diagonal, normalised by the mean positive distance
/// (`RKD.py: pdist(squared=False)` then `/ d[d > 0].mean()`).
fn rkd_distances(e: Tensor<2>) -> Tensor<2> {
    let [b, _] = e.dims();
    let sq = e.clone().powi_scalar(2).sum_dim(1); // [B, 1]
    let prod = e.clone().matmul(e.transpose());
    let d = (sq.clone() + sq.transpose() - prod * 2.0).clamp_min(1e-12).sqrt();
    let eye = Tensor::<2>::eye(b, &d.device()).equal_elem(1.0);
    let d = d.mask_fill(eye, 0.0);
    let positive = d.clone().greater_elem(0.0).float().sum();
    let mean = d.clone().sum() / positive.clamp_min(1.0);
    d / mean.reshape([1, 1])
}

/// Cosines of the angles formed by every triple, flattened `[B·B·B]` (`RKD.py` angle term).
fn rkd_angles(e: Tensor<2>) -> Tensor<1> {
    let [b, d] = e.dims();
    let diff = e.clone().reshape([1, b, d]) - e.reshape([b, 1, d]); // [B, B, d]: e_j − e_i
                                                                    // max(‖x‖, 1e-12) as F.normalize, clamped before the sqrt so that the zero diagonal
                                                                    // differences get a zero gradient instead of 0·∞.
    let norm = diff.clone().powi_scalar(2).sum_dim(2).clamp_min(1e-24).sqrt();
    let unit = diff / norm;
    unit.clone().matmul(unit.swap_dims(1, 2)).reshape([b * b * b])
}

/// RKD loss: `w_d · smoothL1(ψ_D(s), ψ_D(t)) + w_a · smoothL1(ψ_A(s), ψ_A(t))` (SPEC §5.5).
pub fn rkd(student: Tensor<2>, teacher: Tensor<2>, w_d: f64, w_a: f64) -> Tensor<1> {
    let dist = smooth_l1(rkd_distances(student.clone()), rkd_distances(teacher.clone()));
    let angle = smooth_l1(rkd_angles(student), rkd_angles(teacher));
    dist * w_d + angle * w_a
}

/// The pair MiniLM* distils: the last layer of the fusion block (paper §4.2, SPEC §5.4).
pub fn minilm_pair() -> usize {
    pair_index(Block::Fus, LAYERS - 1)
}

/// MiniLM*'s terms: CAD and VR of the last fusion layer, from the 24 terms of eq. 2 (the loss
/// adds both to BCE; validation reports their sum as Last-MTD).
pub fn minilm_star(kl: &[(Tensor<1>, Tensor<1>)]) -> (Tensor<1>, Tensor<1>) {
    kl[minilm_pair()].clone()
}

/// Mean squared error.
fn mse<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> Tensor<1> {
    (a - b).powi_scalar(2).mean()
}

/// FitNets: Σ over the fus, A→V and V→A block outputs of MSE(student, regressor(teacher)).
pub fn fitnets(student: &Taps, teacher: &Taps, regressor: &Linear) -> Tensor<1> {
    Block::ALL
        .into_iter()
        .map(|b| mse(b.taps(student).0.clone(), regressor.forward(b.taps(teacher).0.clone())))
        .reduce(|a, b| a + b)
        .expect("three blocks")
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::Param;
    use burn::tensor::{Device, TensorData};

    fn device() -> Device {
        nets::device::DeviceSpec::Cpu.device()
    }

    fn t2(v: &[f32], dims: [usize; 2]) -> Tensor<2> {
        Tensor::from_data(TensorData::new(v.to_vec(), dims), &device())
    }

    fn scalar(t: Tensor<1>) -> f64 {
        t.into_scalar::<f32>() as f64
    }

    /// Three points: the student's at (0,0), (1,0), (0,2), the teacher's at (0,0), (2,0), (0,1).
    /// By hand (numpy, `RKD.py`'s formulas): distance term 0.0729490 (normalised distances
    /// [1, 2, √5] vs [2, 1, √5] over their mean (3+√5)/3, Smooth-L1 mean over the 3×3 matrix),
    /// angle term 4/270 = 0.0148148; with weights 25 and 50, 2.5644662.
    #[test]
    fn rkd_matches_hand_computation() {
        let s = t2(&[0.0, 0.0, 1.0, 0.0, 0.0, 2.0], [3, 2]);
        let t = t2(&[0.0, 0.0, 2.0, 0.0, 0.0, 1.0], [3, 2]);
        let dist = scalar(rkd(s.clone(), t.clone(), 1.0, 0.0));
        let angle = scalar(rkd(s.clone(), t.clone(), 0.0, 1.0));
        assert!((dist - 0.072_949_016_875).abs() < 1e-6, "distance {dist}");
        assert!((angle - 4.0 / 270.0).abs() < 1e-6, "angle {angle}");
        let total = scalar(rkd(s.clone(), t, 25.0, 50.0));
        assert!((total - 2.564_466_162_6).abs() < 1e-5, "total {total}");
        // Identical embeddings: zero loss.
        assert!(scalar(rkd(s.clone(), s, 25.0, 50.0)).abs() < 1e-7);
    }

    fn taps(fus: &[f32], av: &[f32], va: &[f32]) -> Taps {
        let d = device();
        let block =
            |v: &[f32]| (Tensor::<3>::from_data(TensorData::new(v.to_vec(), [1, 1, 2]), &d), Vec::new());
        Taps {
            vid_prenet: Tensor::zeros([1, 2, 5], &d),
            aud_prenet: Tensor::zeros([1, 2, 16], &d),
            av: block(av),
            va: block(va),
            fus: block(fus),
            pooled: Tensor::zeros([1, 2], &d),
        }
    }

    /// Regressor 2·I, no bias: Σ_blocks MSE(s, 2t) = fus ((1−0)² + (2−2)²)/2 = 0.5, av
    /// ((0−2)² + (0−2)²)/2 = 4, va ((3−2)² + (3−2)²)/2 = 1 → 5.5.
    #[test]
    fn fitnets_matches_hand_computation() {
        let s = taps(&[1.0, 2.0], &[0.0, 0.0], &[3.0, 3.0]);
        let t = taps(&[0.0, 1.0], &[1.0, 1.0], &[1.0, 1.0]);
        let reg = Linear { weight: Param::from_tensor(t2(&[2.0, 0.0, 0.0, 2.0], [2, 2])), bias: None };
        let got = scalar(fitnets(&s, &t, &reg));
        assert!((got - 5.5).abs() < 1e-6, "{got}");
    }

    /// MiniLM* reads F4, the last fusion layer (pair 3), whatever the iteration order of blocks.
    #[test]
    fn minilm_star_takes_the_last_fusion_layer() {
        let d = device();
        let s = |v: f32| Tensor::<1>::from_data(TensorData::new(vec![v], [1]), &d);
        let kl: Vec<_> = (0..crate::loss::PAIRS).map(|k| (s(k as f32), s(100.0 + k as f32))).collect();
        assert_eq!(crate::loss::pair_name(minilm_pair()), "F4");
        let (c, v) = minilm_star(&kl);
        assert_eq!((scalar(c), scalar(v)), (3.0, 103.0));
    }

    /// KD as coded, by hand: logits s = [0, 0], t = [ln 3·5, 0] at T = 5 → p_t = [3/4, 1/4],
    /// p_s = [1/2, 1/2]; KL = ¾·ln(3/2) + ¼·ln(1/2) = 0.1308154, / B = 2, × T² = 25 → 1.6351927.
    #[test]
    fn kd_batch_softmax_matches_hand_computation() {
        let d = device();
        let v = |x: Vec<f32>| Tensor::<1>::from_data(TensorData::new(x, [2]), &d);
        let got = scalar(kd(v(vec![0.0, 0.0]), v(vec![5.0 * 3f32.ln(), 0.0]), 5.0, KdForm::BatchSoftmax));
        let want = (0.75 * 1.5f64.ln() + 0.25 * 0.5f64.ln()) / 2.0 * 25.0;
        assert!((got - want).abs() < 1e-5, "{got} vs {want}");
    }
}
