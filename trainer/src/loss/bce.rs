//! The sync objective every run optimises: binary cross-entropy on the logits (SPEC §4.2).

use burn::tensor::Tensor;

/// `BCEWithLogitsLoss` (mean reduction), in the numerically stable form torch uses:
/// `max(x, 0) − x·y + log(1 + exp(−|x|))`.
///
/// # Shapes
/// logits `[B]`, labels `[B]` (0 or 1) → scalar `[1]`
pub fn bce_with_logits(logits: Tensor<1>, labels: Tensor<1>) -> Tensor<1> {
    let pos = logits.clone().clamp_min(0.0);
    let softplus = logits.clone().abs().neg().exp().log1p();
    (pos - logits * labels + softplus).mean()
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    #[test]
    fn matches_hand_computation() {
        let device = nets::device::DeviceSpec::Cpu.device();
        let x = Tensor::<1>::from_data(TensorData::new(vec![2.0f32, -1.0, 0.0], [3]), &device);
        let y = Tensor::<1>::from_data(TensorData::new(vec![1.0f32, 0.0, 1.0], [3]), &device);
        // −log σ(2) = 0.126928, −log(1 − σ(−1)) = 0.313262, −log σ(0) = 0.693147.
        let want = (0.126_928_01 + 0.313_261_7 + std::f32::consts::LN_2) / 3.0;
        let got = bce_with_logits(x, y).into_scalar::<f32>();
        assert!((got - want).abs() < 1e-6, "{got} vs {want}");
    }
}
