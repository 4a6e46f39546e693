//! Transformer behaviours distilled by MTD (paper eq. 1; SPEC §5.1).
//!
//! CAD = softmax(Q·Kᵀ/√d_q) from the attention logits, VR = softmax(V·Vᵀ/√d_v) from the value
//! projections. Both are per head, so teacher and student compare element by element.

use burn::tensor::activation::softmax;
use burn::tensor::Tensor;

use super::config::Block;
use nets::model::AttentionTaps;

/// The reference clamps V→A logits at this minimum before the softmax (SPEC §0.7).
pub const VA_CLAMP_MIN: f32 = 1e-5;

/// Whether CAD of `block` clamps its logits first: only the V→A block does, in the authors' code
/// (`MTD:distiller_zoo/transdistill_full_layers_aw_loss_sqkv.py:L41-43`, SPEC §5.1). This is the
/// one place that decides it; the clamp also turns the −inf mask entries into 1e-5.
pub fn clamps_logits(block: Block) -> bool {
    block == Block::Va
}

/// Cross-attention distribution `[B·H, Lq, Lk]` of a layer of `block` (eq. 1, left).
pub fn cad(taps: &AttentionTaps, block: Block) -> Tensor<3> {
    let logits = taps.logits.clone();
    let logits = if clamps_logits(block) { logits.clamp_min(VA_CLAMP_MIN) } else { logits };
    softmax(logits, 2)
}

/// Value relation `[B·H, Lk, Lk]`: softmax((v·hd^-0.5)·vᵀ) (eq. 1, right).
pub fn vr(taps: &AttentionTaps) -> Tensor<3> {
    softmax(taps.v_scaled.clone().matmul(taps.v.clone().swap_dims(1, 2)), 2)
}

/// The attention probabilities the model itself used: softmax of the logits.
pub fn attention_probs(taps: &AttentionTaps) -> Tensor<3> {
    softmax(taps.logits.clone(), 2)
}
