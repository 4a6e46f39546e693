//! The distillation terms of paper eq. 2 (SPEC §5.2): the KL divergence between teacher and
//! student behaviours, per (block, layer) pair, and the KL form KD shares with it.

use burn::tensor::Tensor;

use super::behaviour::{cad, vr};
use super::config::{Block, LAYERS, PAIRS};
use nets::model::{LayerTaps, Taps};

/// `xlogy(p_t, p_t) − p_t·log_p_s` element by element: the summand of KL(p_t ‖ p_s). Where
/// p_t = 0 the first product is 0, as torch's `xlogy`.
pub fn kl_elements<const D: usize>(p_t: Tensor<D>, log_p_s: Tensor<D>) -> Tensor<D> {
    let zero = p_t.clone().equal_elem(0.0);
    let t_log_t = (p_t.clone() * p_t.clone().log()).mask_fill(zero, 0.0);
    t_log_t - p_t * log_p_s
}

/// `xlogy(p, p)` by libtorch's own CPU kernel, for a small constant (teacher-side) vector.
///
/// KD's batch-softmax KL of nearly equal logits is dominated by f32 rounding: its value is
/// ~2e-5, and the one-ulp differences between `p·log p` (ATen's vectorised `log`) and torch's
/// `xlogy` kernel move it by ~1 % on some CPUs (seen on an AMD EPYC, not on the machine the golden
/// file was checked on). The term is constant for the student, so this changes no gradient; it
/// makes the logged KD value torch's, bit for bit. A host round trip of `B` values.
pub fn xlogy_self(p: Tensor<1>) -> Tensor<1> {
    let device = p.device();
    let values = p.into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 after convert");
    let t = tch::Tensor::from_slice(&values);
    let mut out = vec![0.0f32; values.len()];
    t.xlogy(&t).copy_data(&mut out, values.len());
    let n = out.len();
    Tensor::from_data(burn::tensor::TensorData::new(out, [n]), &device)
}

/// `nn.KLDivLoss(reduction="mean")(p_s.log(), p_t)`: the mean of [`kl_elements`] over every
/// element, with `log(softmax)` rather than `log_softmax`, as the authors' code (SPEC §5.2).
pub fn kl_mean<const D: usize>(p_t: Tensor<D>, p_s: Tensor<D>) -> Tensor<1> {
    kl_elements(p_t, p_s.log()).mean()
}

/// CAD and VR KL terms of one layer of `block` at temperature `temp` (× T²).
fn pair_terms(s: &LayerTaps, t: &LayerTaps, block: Block, temp: f64) -> (Tensor<1>, Tensor<1>) {
    let scaled = |taps: &LayerTaps| {
        let mut a = taps.attn.clone();
        if temp != 1.0 {
            a.logits = a.logits / temp;
            a.v_scaled = a.v_scaled / temp;
        }
        a
    };
    let (sa, ta) = (scaled(s), scaled(t));
    let t2 = temp * temp;
    let c = kl_mean(cad(&ta, block), cad(&sa, block)) * t2;
    let v = kl_mean(vr(&ta), vr(&sa)) * t2;
    (c, v)
}

/// The 24 KL terms of eq. 2, in pair order (SPEC §5.1): `(cad[k], vr[k])` for k in 0..12.
/// Teacher tensors live on a plain device, so autodiff treats them as constants.
pub fn mtd_terms(student: &Taps, teacher: &Taps, temp: f64) -> Vec<(Tensor<1>, Tensor<1>)> {
    let mut out = Vec::with_capacity(PAIRS);
    for block in Block::ALL {
        let (s, t) = (&block.taps(student).1, &block.taps(teacher).1);
        for l in 0..LAYERS {
            out.push(pair_terms(&s[l], &t[l], block, temp));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    #[test]
    fn kl_mean_matches_hand_computation() {
        let device = nets::device::DeviceSpec::Cpu.device();
        let pt = Tensor::<2>::from_data(TensorData::new(vec![0.5f32, 0.5, 1.0, 0.0], [2, 2]), &device);
        let ps = Tensor::<2>::from_data(TensorData::new(vec![0.25f32, 0.75, 0.5, 0.5], [2, 2]), &device);
        // Row 1: 0.5·ln(0.5/0.25) + 0.5·ln(0.5/0.75); row 2: 1·ln(1/0.5) + 0; mean over 4 elements.
        let want = (0.5 * (2.0f64).ln() + 0.5 * (0.5f64 / 0.75).ln() + 2.0f64.ln()) / 4.0;
        let got = kl_mean(pt, ps).into_scalar::<f32>() as f64;
        assert!((got - want).abs() < 1e-6, "{got} vs {want}");
    }
}
