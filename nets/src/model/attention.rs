//! fairseq/MulT multi-head attention with a fused `in_proj` (SPEC §2.5, `VL:models/multihead_attention.py`).

use burn::module::{Module, Param};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Int, Tensor};

use super::native;

/// Multi-head attention with the reference's parameter layout: `in_proj_weight` (3d, d) packs
/// [W_q; W_k; W_v] row-wise, `in_proj_bias` (3d), `out_proj` Linear(d, d).
#[derive(Module, Debug)]
pub struct MultiheadAttention {
    /// [W_q; W_k; W_v], PyTorch layout (out, in).
    pub in_proj_weight: Param<Tensor<2>>,
    /// [b_q; b_k; b_v].
    pub in_proj_bias: Param<Tensor<1>>,
    /// Output projection.
    pub out_proj: Linear,
    /// Number of heads.
    #[module(skip)]
    pub heads: usize,
}

/// What one attention call exposes to the distillation losses (SPEC §2.8).
#[derive(Debug, Clone)]
pub struct AttentionTaps {
    /// Scaled q·kᵀ plus the mask, `[B·H, Lq, Lk]`, head index b·H + h.
    pub logits: Tensor<3>,
    /// The value projection scaled by head_dim^-0.5, `[B·H, Lk, hd]`.
    pub v_scaled: Tensor<3>,
    /// The raw value projection, `[B·H, Lk, hd]`.
    pub v: Tensor<3>,
}

/// xavier-uniform init for a (fan_out, fan_in) matrix, as `nn.init.xavier_uniform_`.
fn xavier(rows: usize, cols: usize, device: &Device) -> Tensor<2> {
    let a = (6.0 / (rows + cols) as f64).sqrt();
    Tensor::random([rows, cols], burn::tensor::Distribution::Uniform(-a, a), device)
}

impl MultiheadAttention {
    /// A new layer with the reference initialisation (xavier-uniform weights, zero biases).
    pub fn new(d: usize, heads: usize, device: &Device) -> Self {
        let mut out_proj = LinearConfig::new(d, d).init(device);
        out_proj.weight = Param::from_tensor(xavier(d, d, device));
        out_proj.bias = Some(Param::from_tensor(Tensor::zeros([d], device)));
        Self {
            in_proj_weight: Param::from_tensor(xavier(3 * d, d, device)),
            in_proj_bias: Param::from_tensor(Tensor::zeros([3 * d], device)),
            out_proj,
            heads,
        }
    }

    /// Projects `x` with rows `[part·d, (part+1)·d)` of the fused weights.
    ///
    /// # Shapes
    /// `[B, L, d]` → `[B, H, L, hd]`
    fn project(&self, x: Tensor<3>, part: usize) -> Tensor<4> {
        let [b, l, d] = x.dims();
        let w = self.in_proj_weight.val().slice([part * d..(part + 1) * d, 0..d]); // [d_out, d_in]
        let bias = self.in_proj_bias.val().narrow(0, part * d, d);
        let x = x.reshape([b * l, d]);
        let y = match native::linear(&x, w.clone(), bias.clone()) {
            Some(y) => y,
            None => x.matmul(w.transpose()) + bias.unsqueeze_dim(0),
        }; // [B·L, d]
        y.reshape([b, l, self.heads, d / self.heads]).swap_dims(1, 2) // [B, H, L, hd]
    }

    /// The key and value projections of a key sequence (one modality only, so the evaluator
    /// computes them once per window instead of once per candidate pair).
    ///
    /// # Shapes
    /// key/value `[B, Lk, d]` → k, v `[B, H, Lk, hd]`
    pub fn key_values(&self, key: Tensor<3>, value: Tensor<3>) -> KeyValues {
        KeyValues { k: self.project(key, 1), v: self.project(value, 2) }
    }

    /// Attention of `query` over `key`/`value` with an additive `mask` `[Lq, Lk]`.
    ///
    /// # Shapes
    /// query `[B, Lq, d]`, key/value `[B, Lk, d]` → `[B, Lq, d]`
    pub fn forward(
        &self,
        query: Tensor<3>,
        key: Tensor<3>,
        value: Tensor<3>,
        mask: Tensor<2>,
        want_taps: bool,
    ) -> (Tensor<3>, Option<AttentionTaps>) {
        self.attend(query, self.key_values(key, value), mask, want_taps)
    }

    /// Attention of `query` over projected keys and values (SPEC §2.5: q scaled by hd^-0.5,
    /// logits plus mask, softmax over keys, P·v, out_proj).
    ///
    /// # Shapes
    /// query `[B, Lq, d]`, kv `[B, H, Lk, hd]` → `[B, Lq, d]`
    pub fn attend(
        &self,
        query: Tensor<3>,
        kv: KeyValues,
        mask: Tensor<2>,
        want_taps: bool,
    ) -> (Tensor<3>, Option<AttentionTaps>) {
        let [b, lq, d] = query.dims();
        let hd = d / self.heads;
        // head_dim ** -0.5 in double precision, applied as an f32 scalar (L86-89).
        let scaling = (hd as f64).powf(-0.5);
        let q = self.project(query, 0) * scaling;
        let KeyValues { k, v } = kv;
        let lk = k.dims()[2];
        if lk < lq && !want_taps && !q.device().is_autodiff() {
            // Inference with fewer keys than queries (A→V and fusion: 16 queries, 5 keys): the
            // logits transposed, `[B, H, Lk, Lq]`, so the softmax runs over a non-last axis.
            // ATen's last-axis softmax vectorises along the 5 keys and took 3.3 ms for 496
            // pairs; across the 16 queries it takes 0.17 ms (and k·qᵀ 0.6 ms against q·kᵀ's
            // 1.4 ms). The same sums in another order: equal to float rounding.
            let logits_t = k.matmul(q.swap_dims(2, 3)) + mask.transpose().unsqueeze::<4>(); // [B, H, Lk, Lq]
            let probs_t = softmax(logits_t, 2);
            let ctx = probs_t.swap_dims(2, 3).matmul(v); // [B, H, Lq, hd]
            return (native::apply(&self.out_proj, ctx.swap_dims(1, 2).reshape([b, lq, d])), None);
        }
        let logits = q.matmul(k.swap_dims(2, 3)) + mask.unsqueeze::<4>(); // [B, H, Lq, Lk]
        let probs = softmax(logits.clone(), 3);
        let ctx = probs.matmul(v.clone()); // [B, H, Lq, hd]
        let out = native::apply(&self.out_proj, ctx.swap_dims(1, 2).reshape([b, lq, d])); // [B, Lq, d]
        let taps = want_taps.then(|| {
            let v = v.reshape([b * self.heads, lk, hd]);
            AttentionTaps {
                logits: logits.reshape([b * self.heads, lq, lk]),
                v_scaled: v.clone() * scaling,
                v,
            }
        });
        (out, taps)
    }
}

/// One attention layer's projected keys and values, `[B, H, Lk, hd]` each.
#[derive(Debug, Clone)]
pub struct KeyValues {
    /// `key·W_kᵀ + b_k`, split into heads.
    pub k: Tensor<4>,
    /// `value·W_vᵀ + b_v`, split into heads.
    pub v: Tensor<4>,
}

impl KeyValues {
    /// Rows `start..start + len` of the batch.
    pub fn narrow(&self, start: usize, len: usize) -> Self {
        Self { k: self.k.clone().narrow(0, start, len), v: self.v.clone().narrow(0, start, len) }
    }

    /// The rows `index` of the batch (the evaluator's gather of cached windows).
    pub fn select(&self, index: Tensor<1, Int>) -> Self {
        Self { k: self.k.clone().select(0, index.clone()), v: self.v.clone().select(0, index) }
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::Distribution;

    use super::*;

    /// The inference layout for fewer keys than queries (logits transposed, softmax over a
    /// non-last axis) gives the attention that the tapped (reference-layout) path gives.
    #[test]
    fn transposed_logits_give_the_same_attention() {
        let device = crate::device::DeviceSpec::Cpu.device();
        device.seed(11);
        let attn = MultiheadAttention::new(64, 8, &device);
        let x = |l: usize| Tensor::<3>::random([6, l, 64], Distribution::Normal(0.0, 1.0), &device);
        let (query, key) = (x(16), x(5));
        let mask = Tensor::<2>::zeros([16, 5], &device);
        let fast = attn.forward(query.clone(), key.clone(), key.clone(), mask.clone(), false).0;
        let (reference, taps) = attn.forward(query, key.clone(), key, mask, true);
        assert!(taps.is_some(), "the tapped call takes the reference layout");
        let worst: f32 = (fast - reference.clone()).abs().max().into_scalar();
        let scale: f32 = reference.abs().max().into_scalar();
        assert!(worst <= 1e-5 * scale, "worst difference {worst} of {scale}");
    }
}
