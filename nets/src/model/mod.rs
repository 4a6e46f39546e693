//! VocaLiST and MTDVocaLiST: prenets, three cross-modal blocks, head (SPEC §2).

mod attention;
mod config;
mod conv;
pub(crate) use conv::batch_norm;
mod encoder;
mod native;

pub use attention::{AttentionTaps, KeyValues, MultiheadAttention};
pub use config::{ChannelOrder, InputConvention, ModelConfig, ModelConfigError, Preset};
pub use conv::{Conv2dBlock, Conv3dBlock};
pub use encoder::{dropout, EncoderLayer, LayerTaps, TransformerEncoder};

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Int, Tensor};

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

    fn forward_impl(&self, frames: Tensor<4>, mel: Tensor<4>, want: bool) -> (Tensor<1>, Option<Taps>) {
        let vid = self.embed_video(frames);
        let aud = self.embed_audio(mel);
        self.head(vid, aud, want)
    }

    /// The video side of pair scoring: the V→A block's embedded queries and the A→V block's
    /// keys and values of each layer, from visual prenet outputs (see [`WindowKeys`]).
    ///
    /// # Shapes
    /// vid `[N, d, 5]` → N rows
    pub fn video_keys(&self, vid: Tensor<3>) -> WindowKeys {
        let seq = vid.swap_dims(1, 2); // [N, 5, d]
        WindowKeys {
            queries: self.va_transformer.embed_queries(seq.clone()),
            kv: self.av_transformer.key_values(seq),
        }
    }

    /// The audio side of pair scoring: the A→V block's embedded queries and the V→A block's
    /// keys and values of each layer, from audio prenet outputs (see [`WindowKeys`]).
    ///
    /// # Shapes
    /// aud `[N, d, 16]` → N rows
    pub fn audio_keys(&self, aud: Tensor<3>) -> WindowKeys {
        let seq = aud.swap_dims(1, 2); // [N, 16, d]
        WindowKeys {
            queries: self.av_transformer.embed_queries(seq.clone()),
            kv: self.va_transformer.key_values(seq),
        }
    }

    /// Logits of the pairs (video row `iv[k]`, audio row `ia[k]`): [`SyncTransformer::forward`]
    /// of those windows, from the per-window parts. Inference only.
    ///
    /// # Shapes
    /// iv, ia `[B]` → `[B]`
    pub fn score_pairs(
        &self,
        video: &WindowKeys,
        audio: &WindowKeys,
        iv: Tensor<1, Int>,
        ia: Tensor<1, Int>,
    ) -> Tensor<1> {
        let gather = |kv: &[KeyValues], index: &Tensor<1, Int>| -> Vec<KeyValues> {
            kv.iter().map(|kv| kv.select(index.clone())).collect()
        };
        let av = self
            .av_transformer
            .forward_cached(audio.queries.clone().select(0, ia.clone()), gather(&video.kv, &iv));
        let va =
            self.va_transformer.forward_cached(video.queries.clone().select(0, iv), gather(&audio.kv, &ia));
        self.fuse(av, va, false).0
    }

    fn head(&self, vid: Tensor<3>, aud: Tensor<3>, want: bool) -> (Tensor<1>, Option<Taps>) {
        let vid_seq = vid.clone().swap_dims(1, 2); // [B, 5, d]
        let aud_seq = aud.clone().swap_dims(1, 2); // [B, 16, d]
        let (av, av_taps) = self.av_transformer.forward(aud_seq.clone(), vid_seq.clone(), want);
        let (va, va_taps) = self.va_transformer.forward(vid_seq, aud_seq, want);
        let (logits, fus, pooled) = self.fuse(av.clone(), va.clone(), want);
        let taps = want.then(|| Taps {
            vid_prenet: vid,
            aud_prenet: aud,
            av: (av, av_taps),
            va: (va, va_taps),
            fus,
            pooled,
        });
        (logits, taps)
    }

    /// The fusion block and the head (SPEC §2.6): logits, the fusion block's output and taps,
    /// and the pooled features after fc + tanh.
    fn fuse(
        &self,
        av: Tensor<3>,
        va: Tensor<3>,
        want: bool,
    ) -> (Tensor<1>, (Tensor<3>, Vec<LayerTaps>), Tensor<2>) {
        let [b, _, d] = av.dims();
        let (fus, fus_taps) = self.mem_transformer.forward(av, va, want);
        let pooled = fus.clone().max_dim(1).reshape([b, d]); // max_pool1d over time
        let h = self.fc.forward(pooled).tanh();
        let logits = self.classifier.forward(h.clone()).reshape([b]);
        (logits, (fus, fus_taps), h)
    }

    /// Number of trainable parameters, as PyTorch counts them (`requires_grad`): burn's
    /// `num_params` also counts the BatchNorm running mean and variance, which are buffers there.
    pub fn param_count(&self) -> usize {
        let bn_channels: usize = self.vid_prenet.iter().map(|b| b.bn.gamma.dims()[0]).sum::<usize>()
            + self.aud_prenet.iter().map(|b| b.bn.gamma.dims()[0]).sum::<usize>();
        self.num_params() - 2 * bn_channels
    }
}

/// One modality's windows prepared for scoring many pairs (SPEC §6.7 [derived]): besides the
/// prenet, every attention layer's keys and values depend on the key modality alone (each layer
/// of a block attends to the same embedded input), and each block's embedded queries on the
/// query modality alone. The evaluator computes these once per window, not once per candidate
/// pair: 11 % of the transformer part's multiply-adds for MTDVocaLiST (the V→A block's keys and
/// values of the 16 audio steps are 39 % of that block).
#[derive(Debug, Clone)]
pub struct WindowKeys {
    /// `[N, L, d]`: the embedded sequence as queries of the block attending from this modality.
    queries: Tensor<3>,
    /// Per layer `[N, H, L, hd]`: keys and values of the block attending to this modality.
    kv: Vec<KeyValues>,
}

impl WindowKeys {
    /// Number of windows.
    pub fn len(&self) -> usize {
        self.queries.dims()[0]
    }

    /// Whether there are no windows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Windows `start..start + len`.
    pub fn rows(&self, start: usize, len: usize) -> WindowKeys {
        WindowKeys {
            queries: self.queries.clone().narrow(0, start, len),
            kv: self.kv.iter().map(|kv| kv.narrow(start, len)).collect(),
        }
    }

    /// The windows of `parts`, in order.
    pub fn cat(parts: Vec<WindowKeys>) -> WindowKeys {
        let layers = parts.first().map_or(0, |p| p.kv.len());
        let kv = (0..layers)
            .map(|l| KeyValues {
                k: Tensor::cat(parts.iter().map(|p| p.kv[l].k.clone()).collect(), 0),
                v: Tensor::cat(parts.iter().map(|p| p.kv[l].v.clone()).collect(), 0),
            })
            .collect();
        WindowKeys { queries: Tensor::cat(parts.into_iter().map(|p| p.queries).collect(), 0), kv }
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Distribution, TensorData};

    use super::*;
    use crate::device::DeviceSpec;

    /// Pair scoring from per-window parts is the full forward of those pairs, up to float
    /// reassociation, the all-zero padding mel window (no positional embedding) included.
    #[test]
    fn pair_scoring_equals_the_forward() {
        let device = DeviceSpec::Cpu.device();
        device.seed(7);
        let model = Preset::Tiny.config().init(&device);
        let frames = Tensor::<4>::random([3, 15, 48, 96], Distribution::Uniform(0.0, 1.0), &device);
        let mel = Tensor::cat(
            vec![
                Tensor::zeros([1, 1, 80, 16], &device),
                Tensor::random([3, 1, 80, 16], Distribution::Uniform(-4.0, 4.0), &device),
            ],
            0,
        );
        let video = model.video_keys(model.embed_video(frames.clone()));
        let audio = model.audio_keys(model.embed_audio(mel.clone()));
        assert_eq!((video.len(), audio.len()), (3, 4));
        let (iv, ia): (Vec<i64>, Vec<i64>) = (0..12).map(|k| (k / 4, k % 4)).unzip();
        let index = |v: Vec<i64>| Tensor::<1, Int>::from_data(TensorData::new(v, [12]), &device);
        let got = model.score_pairs(&video, &audio, index(iv.clone()), index(ia.clone()));
        let want = model.forward(frames.select(0, index(iv)), mel.select(0, index(ia)));
        let host = |t: Tensor<1>| t.into_data().convert::<f32>().try_to_vec::<f32>().expect("f32");
        for (k, (g, w)) in host(got).into_iter().zip(host(want)).enumerate() {
            assert!((g - w).abs() <= 1e-5 * w.abs().max(1.0), "pair {k}: {g} against the forward's {w}");
        }
    }
}
