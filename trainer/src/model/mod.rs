//! VocaLiST and MTDVocaLiST: prenets, three cross-modal blocks, head (SPEC §2).

mod attention;
mod config;
mod conv;
pub(crate) use conv::batch_norm;
mod encoder;
mod native;

pub use attention::{AttentionTaps, MultiheadAttention};
pub use config::{ChannelOrder, InputConvention, ModelConfig, ModelConfigError, Preset};
pub use conv::{Conv2dBlock, Conv3dBlock};
pub use encoder::{dropout, EncoderLayer, LayerTaps, TransformerEncoder};

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

/// Everything the distillation losses and the parity checks read from one forward (SPEC §2.8).
#[derive(Debug, Clone)]
pub struct Taps {
    /// Visual prenet output `[B, d, 5]` (before the permute).
    pub vid_prenet: Tensor<3>,
    /// Audio prenet output `[B, d, 16]`.
    pub aud_prenet: Tensor<3>,
    /// A→V block: output `[B, 16, d]` and per-layer taps.
    pub av: (Tensor<3>, Vec<LayerTaps>),
    /// V→A block: output `[B, 5, d]` and per-layer taps.
    pub va: (Tensor<3>, Vec<LayerTaps>),
    /// Fusion block: output `[B, 16, d]` and per-layer taps.
    pub fus: (Tensor<3>, Vec<LayerTaps>),
    /// Pooled fusion features after fc + tanh, `[B, d]` (the RKD features).
    pub pooled: Tensor<2>,
}

/// The reference `SyncTransformer`, generic over widths. Field names follow the state dict.
#[derive(Module, Debug)]
pub struct SyncTransformer {
    /// Visual prenet (17 Conv3d blocks).
    pub vid_prenet: Vec<Conv3dBlock>,
    /// Audio prenet (14 Conv2d blocks).
    pub aud_prenet: Vec<Conv2dBlock>,
    /// A→V block: audio queries attend to video.
    pub av_transformer: TransformerEncoder,
    /// V→A block: video queries attend to audio.
    pub va_transformer: TransformerEncoder,
    /// Fusion block: A→V output attends to V→A output.
    pub mem_transformer: TransformerEncoder,
    /// d → d, then tanh.
    pub fc: Linear,
    /// d → 1.
    pub classifier: Linear,
}

impl ModelConfig {
    /// Builds the model with the reference initialisation (SPEC §7).
    pub fn init(&self, device: &Device) -> SyncTransformer {
        let d = self.d_model;
        let drop = [self.embed_dropout, self.relu_dropout, self.res_dropout];
        let block = || TransformerEncoder::new(d, self.heads, self.layers, drop, device);
        SyncTransformer {
            vid_prenet: conv::vid_prenet(self.channels, d, device),
            aud_prenet: conv::aud_prenet(self.channels, d, device),
            av_transformer: block(),
            va_transformer: block(),
            mem_transformer: block(),
            fc: LinearConfig::new(d, d).init(device),
            classifier: LinearConfig::new(d, 1).init(device),
        }
    }
}

impl SyncTransformer {
    /// Logits only.
    ///
    /// # Shapes
    /// frames `[B, 15, 48, 96]`, mel `[B, 1, 80, 16]` → `[B]`
    pub fn forward(&self, frames: Tensor<4>, mel: Tensor<4>) -> Tensor<1> {
        self.forward_impl(frames, mel, false).0
    }

    /// Logits and every distillation tap.
    pub fn forward_taps(&self, frames: Tensor<4>, mel: Tensor<4>) -> (Tensor<1>, Taps) {
        let (logits, taps) = self.forward_impl(frames, mel, true);
        (logits, taps.expect("taps requested"))
    }

    /// The visual prenet alone (window-local; the evaluator caches it per window).
    ///
    /// # Shapes
    /// `[B, 3T, 48, 96]` → `[B, d, T]`
    pub fn embed_video(&self, frames: Tensor<4>) -> Tensor<3> {
        let [b, c, h, w] = frames.dims();
        let t = c / 3;
        let mut x = frames.reshape([b, t, 3, h, w]).permute([0, 2, 3, 4, 1]); // [B, 3, H, W, T]
        for blk in &self.vid_prenet {
            x = blk.forward(x);
        }
        let [_, d, _, _, t] = x.dims();
        x.reshape([b, d, t]) // squeeze H = W = 1
    }

    /// The audio prenet alone.
    ///
    /// # Shapes
    /// `[B, 1, 80, 16]` → `[B, d, 16]`
    pub fn embed_audio(&self, mel: Tensor<4>) -> Tensor<3> {
        let mut x = mel;
        for blk in &self.aud_prenet {
            x = blk.forward(x);
        }
        let [b, d, _, t] = x.dims();
        x.reshape([b, d, t]) // squeeze F = 1
    }

    /// The transformer part from prenet embeddings (what the evaluator batches over candidates).
    ///
    /// # Shapes
    /// vid `[B, d, 5]`, aud `[B, d, 16]` → `[B]`
    pub fn forward_embeddings(&self, vid: Tensor<3>, aud: Tensor<3>) -> Tensor<1> {
        self.head(vid, aud, false).0
    }

    fn forward_impl(&self, frames: Tensor<4>, mel: Tensor<4>, want: bool) -> (Tensor<1>, Option<Taps>) {
        let vid = self.embed_video(frames);
        let aud = self.embed_audio(mel);
        self.head(vid, aud, want)
    }

    fn head(&self, vid: Tensor<3>, aud: Tensor<3>, want: bool) -> (Tensor<1>, Option<Taps>) {
        let [b, d, _] = vid.dims();
        let vid_seq = vid.clone().swap_dims(1, 2); // [B, 5, d]
        let aud_seq = aud.clone().swap_dims(1, 2); // [B, 16, d]
        let (av, av_taps) = self.av_transformer.forward(aud_seq.clone(), vid_seq.clone(), want);
        let (va, va_taps) = self.va_transformer.forward(vid_seq, aud_seq, want);
        let (fus, fus_taps) = self.mem_transformer.forward(av.clone(), va.clone(), want);
        let pooled = fus.clone().max_dim(1).reshape([b, d]); // max_pool1d over time
        let h = self.fc.forward(pooled).tanh();
        let logits = self.classifier.forward(h.clone()).reshape([b]);
        let taps = want.then(|| Taps {
            vid_prenet: vid,
            aud_prenet: aud,
            av: (av, av_taps),
            va: (va, va_taps),
            fus: (fus, fus_taps),
            pooled: h,
        });
        (logits, taps)
    }

    /// Number of trainable parameters, as PyTorch counts them (`requires_grad`): burn's
    /// `num_params` also counts the BatchNorm running mean and variance, which are buffers there.
    pub fn param_count(&self) -> usize {
        let bn_channels: usize = self.vid_prenet.iter().map(|b| b.bn.gamma.dims()[0]).sum::<usize>()
            + self.aud_prenet.iter().map(|b| b.bn.gamma.dims()[0]).sum::<usize>();
        self.num_params() - 2 * bn_channels
    }
}
