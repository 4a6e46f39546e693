//! The cross-modal Transformer encoder (SPEC §2.5, `VL:models/transformer_encoder.py`).

use burn::module::{Module, Param};
use burn::nn::{LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Distribution, Tensor, TensorData};

use super::attention::{AttentionTaps, KeyValues, MultiheadAttention};
use super::native;

/// Dropout that is active only on an autodiff (training) device, like the reference's
/// `F.dropout(..., training=self.training)` and like burn's BatchNorm train/eval switch.
pub fn dropout<const D: usize>(x: Tensor<D>, p: f64) -> Tensor<D> {
    if p == 0.0 || !x.device().is_autodiff() {
        return x;
    }
    let keep = 1.0 - p;
    let mask = x.random_like(Distribution::Bernoulli(keep));
    x * mask / keep
}

/// Sinusoidal table rows 1..=len (fairseq `get_embedding`), `[len, d]`: sin and cos halves
/// concatenated, ω_k = exp(−k·ln(10000)/(h−1)), computed in f32 as torch does.
fn sinusoid_rows(len: usize, d: usize) -> Vec<f32> {
    let half = d / 2;
    let step = (10000f64.ln() / (half as f64 - 1.0)) as f32;
    let freqs: Vec<f32> = (0..half).map(|k| (k as f32 * -step).exp()).collect();
    let mut out = vec![0.0f32; len * d];
    for n in 1..=len {
        let row = &mut out[(n - 1) * d..n * d];
        for (k, w) in freqs.iter().enumerate() {
            let a = n as f32 * w;
            row[k] = a.sin();
            row[half + k] = a.cos();
        }
    }
    out
}

/// `x·√d + PE(x)`: the position of step t is t+1, or 0 (a zero vector) where channel 0 of
/// the input is exactly 0.0, without renumbering the other steps (SPEC §0.3, §2.5).
///
/// # Shapes
/// `[B, L, d]` → `[B, L, d]`
fn embed(x: Tensor<3>, scale: f64) -> Tensor<3> {
    let [_, l, d] = x.dims();
    let device = x.device();
    let table = Tensor::<2>::from_data(TensorData::new(sinusoid_rows(l, d), [l, d]), &device).detach();
    let keep = x.clone().slice([0..x.dims()[0], 0..l, 0..1]).not_equal_elem(0.0).float().detach(); // [B, L, 1]
    x * scale + table.unsqueeze::<3>() * keep
}

/// `buffered_future_mask`: −inf where j ≥ i + 1 + |Lk − Lq|, else 0 (SPEC §0.4).
fn future_mask(lq: usize, lk: usize, device: &Device) -> Tensor<2> {
    let diag = 1 + lq.abs_diff(lk);
    let vals: Vec<f32> = (0..lq)
        .flat_map(|i| (0..lk).map(move |j| if j >= i + diag { f32::NEG_INFINITY } else { 0.0 }))
        .collect();
    Tensor::from_data(TensorData::new(vals, [lq, lk]), device)
}

/// One pre-LN encoder layer: attention over the (re-normalised) block inputs, then the FFN.
#[derive(Module, Debug)]
pub struct EncoderLayer {
    /// Cross-modal attention.
    pub self_attn: MultiheadAttention,
    /// d → 4d.
    pub fc1: Linear,
    /// 4d → d.
    pub fc2: Linear,
    /// LN0 (query, key and value) and LN1 (FFN input).
    pub layer_norms: Vec<LayerNorm>,
    /// Dropout after the FFN ReLU.
    #[module(skip)]
    pub relu_dropout: f64,
    /// Residual dropout.
    #[module(skip)]
    pub res_dropout: f64,
}

fn xavier_linear(d_in: usize, d_out: usize, device: &Device) -> Linear {
    let mut l = LinearConfig::new(d_in, d_out).init(device);
    let a = (6.0 / (d_in + d_out) as f64).sqrt();
    l.weight = Param::from_tensor(Tensor::random([d_in, d_out], Distribution::Uniform(-a, a), device));
    l.bias = Some(Param::from_tensor(Tensor::zeros([d_out], device)));
    l
}

impl EncoderLayer {
    /// # Shapes
    /// x `[B, Lq, d]`, x_k/x_v `[B, Lk, d]`, mask `[Lq, Lk]` → `[B, Lq, d]`
    pub fn forward(
        &self,
        x: Tensor<3>,
        x_k: Tensor<3>,
        x_v: Tensor<3>,
        mask: Tensor<2>,
        want_taps: bool,
    ) -> (Tensor<3>, Option<AttentionTaps>) {
        let ln0 = &self.layer_norms[0];
        let kv = self.self_attn.key_values(ln0.forward(x_k), ln0.forward(x_v));
        self.forward_kv(x, kv, mask, want_taps)
    }

    /// The layer from its keys and values already projected ([`EncoderLayer::key_values`]).
    ///
    /// # Shapes
    /// x `[B, Lq, d]`, kv `[B, H, Lk, hd]`, mask `[Lq, Lk]` → `[B, Lq, d]`
    pub fn forward_kv(
        &self,
        x: Tensor<3>,
        kv: KeyValues,
        mask: Tensor<2>,
        want_taps: bool,
    ) -> (Tensor<3>, Option<AttentionTaps>) {
        let (a, taps) = self.self_attn.attend(self.layer_norms[0].forward(x.clone()), kv, mask, want_taps);
        let x = x + dropout(a, self.res_dropout);
        let h = relu(native::apply(&self.fc1, self.layer_norms[1].forward(x.clone())));
        let h = native::apply(&self.fc2, dropout(h, self.relu_dropout));
        (x + dropout(h, self.res_dropout), taps)
    }

    /// Keys and values from an embedded key sequence that serves as both key and value (the
    /// inference case: no embedding dropout), normalised by LN0 once.
    pub fn key_values(&self, x_kv: Tensor<3>) -> KeyValues {
        let n = self.layer_norms[0].forward(x_kv);
        self.self_attn.key_values(n.clone(), n)
    }
}

/// One layer's distillation taps: its attention taps and its output through the block's final
/// LayerNorm (`inter_x`, SPEC §2.8).
#[derive(Debug, Clone)]
pub struct LayerTaps {
    /// Attention logits and value projections.
    pub attn: AttentionTaps,
    /// Layer output after the block's final LayerNorm, `[B, Lq, d]`.
    pub output: Tensor<3>,
}

/// A cross-modal block: 4 layers attending from `x_in` to `x_in_k`, then a final LayerNorm.
#[derive(Module, Debug)]
pub struct TransformerEncoder {
    /// The layers.
    pub layers: Vec<EncoderLayer>,
    /// Final LayerNorm.
    pub layer_norm: LayerNorm,
    /// Embedding dropout (x, x_k and x_v, independent masks).
    #[module(skip)]
    pub embed_dropout: f64,
}

impl TransformerEncoder {
    /// A block of `layers` layers of width `d` with `heads` heads and the reference dropouts.
    pub fn new(d: usize, heads: usize, layers: usize, dropouts: [f64; 3], device: &Device) -> Self {
        let [embed_dropout, relu_dropout, res_dropout] = dropouts;
        Self {
            layers: (0..layers)
                .map(|_| EncoderLayer {
                    self_attn: MultiheadAttention::new(d, heads, device),
                    fc1: xavier_linear(d, 4 * d, device),
                    fc2: xavier_linear(4 * d, d, device),
                    layer_norms: (0..2).map(|_| LayerNormConfig::new(d).init(device)).collect(),
                    relu_dropout,
                    res_dropout,
                })
                .collect(),
            layer_norm: LayerNormConfig::new(d).init(device),
            embed_dropout,
        }
    }

    /// # Shapes
    /// x_in `[B, Lq, d]`, x_in_kv `[B, Lk, d]` → `[B, Lq, d]` (+ per-layer taps when asked)
    pub fn forward(
        &self,
        x_in: Tensor<3>,
        x_in_kv: Tensor<3>,
        want_taps: bool,
    ) -> (Tensor<3>, Vec<LayerTaps>) {
        let [_, lq, d] = x_in.dims();
        let lk = x_in_kv.dims()[1];
        let scale = (d as f64).sqrt();
        let mask = future_mask(lq, lk, &x_in.device());
        let mut x = dropout(embed(x_in, scale), self.embed_dropout);
        let kv = embed(x_in_kv, scale);
        let x_k = dropout(kv.clone(), self.embed_dropout);
        let x_v = dropout(kv, self.embed_dropout);
        let mut taps = Vec::new();
        for layer in &self.layers {
            let (y, t) = layer.forward(x, x_k.clone(), x_v.clone(), mask.clone(), want_taps);
            x = y;
            if let Some(attn) = t {
                taps.push(LayerTaps { attn, output: self.layer_norm.forward(x.clone()) });
            }
        }
        (self.layer_norm.forward(x), taps)
    }

    /// The query input embedded (`x·√d + PE`), the first half of [`TransformerEncoder::forward`]
    /// that depends on the query modality alone. Inference only (no embedding dropout).
    ///
    /// # Shapes
    /// `[B, Lq, d]` → `[B, Lq, d]`
    pub fn embed_queries(&self, x_in: Tensor<3>) -> Tensor<3> {
        let d = x_in.dims()[2];
        embed(x_in, (d as f64).sqrt())
    }

    /// Every layer's keys and values of a key sequence: the part of the block that depends on the
    /// key modality alone (all layers attend to the same embedded input, SPEC §2.5). Inference
    /// only (no embedding dropout).
    ///
    /// # Shapes
    /// `[B, Lk, d]` → per layer `[B, H, Lk, hd]`
    pub fn key_values(&self, x_in_kv: Tensor<3>) -> Vec<KeyValues> {
        let kv = self.embed_queries(x_in_kv);
        self.layers.iter().map(|layer| layer.key_values(kv.clone())).collect()
    }

    /// The block from embedded queries ([`TransformerEncoder::embed_queries`]) and each layer's
    /// keys and values ([`TransformerEncoder::key_values`]); equals [`TransformerEncoder::forward`]
    /// in inference up to float reassociation.
    ///
    /// # Shapes
    /// x `[B, Lq, d]`, kv per layer `[B, H, Lk, hd]` → `[B, Lq, d]`
    pub fn forward_cached(&self, x: Tensor<3>, kv: Vec<KeyValues>) -> Tensor<3> {
        let lq = x.dims()[1];
        let lk = kv.first().map_or(lq, |kv| kv.k.dims()[2]);
        let mask = future_mask(lq, lk, &x.device());
        let mut x = x;
        for (layer, kv) in self.layers.iter().zip(kv) {
            x = layer.forward_kv(x, kv, mask.clone(), false).0;
        }
        self.layer_norm.forward(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_matches_spec() {
        // V→A (Lq=5, Lk=16): −inf at (0,12..15), (1,13..15), (2,14..15), (3,15).
        let device = crate::device::DeviceSpec::Cpu.device();
        let m: Vec<f32> = future_mask(5, 16, &device).into_data().try_to_vec().unwrap();
        let masked: Vec<(usize, usize)> =
            (0..80).filter(|i| m[*i].is_infinite()).map(|i| (i / 16, i % 16)).collect();
        let want =
            vec![(0, 12), (0, 13), (0, 14), (0, 15), (1, 13), (1, 14), (1, 15), (2, 14), (2, 15), (3, 15)];
        assert_eq!(masked, want);
        let m: Vec<f32> = future_mask(16, 5, &device).into_data().try_to_vec().unwrap();
        assert!(m.iter().all(|v| *v == 0.0));
    }

    #[test]
    fn sinusoid_first_row() {
        let r = sinusoid_rows(2, 8);
        // position 1, ω_0 = 1: sin 1, cos 1; ω_3 = 1e-4: sin ≈ 1e-4.
        assert!((r[0] - 1f32.sin()).abs() < 1e-7 && (r[4] - 1f32.cos()).abs() < 1e-7);
        assert!((r[3] - 1e-4).abs() < 1e-8);
    }
}
