//! Transformer behaviours distilled by MTD (paper eq. 1; SPEC §5.1).
//!
//! CAD = softmax(Q·Kᵀ/√d_q) from the attention logits, VR = softmax(V·Vᵀ/√d_v) from the value
//! projections. Both are per head, so teacher and student compare element by element.

use burn::tensor::activation::softmax;
use burn::tensor::Tensor;

use crate::model::AttentionTaps;

/// The reference clamps V→A logits at this minimum before the softmax (SPEC §0.7).
pub const VA_CLAMP_MIN: f32 = 1e-5;

/// Cross-attention distribution `[B·H, Lq, Lk]`. With `clamp` (the V→A block in the authors'
/// code, `MTD:distiller_zoo/transdistill_full_layers_aw_loss_sqkv.py:L41-43`) the logits are
/// clamped at [`VA_CLAMP_MIN`] first, which also turns the −inf mask entries into 1e-5.
pub fn cad(taps: &AttentionTaps, clamp: bool) -> Tensor<3> {
    let logits = taps.logits.clone();
    let logits = if clamp { logits.clamp_min(VA_CLAMP_MIN) } else { logits };
    softmax(logits, 2)
}

/// Value relation `[B·H, Lk, Lk]`: softmax((v·hd^-0.5)·vᵀ).
pub fn vr(taps: &AttentionTaps) -> Tensor<3> {
    softmax(taps.v_scaled.clone().matmul(taps.v.clone().swap_dims(1, 2)), 2)
}

/// The attention probabilities the model itself used: softmax of the logits.
pub fn attention_probs(taps: &AttentionTaps) -> Tensor<3> {
    softmax(taps.logits.clone(), 2)
}
