//! SyncNet (`joonson/syncnet_python`, `SyncNetModel.S(num_layers_in_fc_layers=1024)`), the model
//! behind LSE-C / LSE-D: a 2-D CNN over 13 × 20 MFCC windows and a 3-D CNN over 5-frame
//! 224 × 224 BGR windows, each followed by a two-layer head to a 1024-d embedding.
//!
//! The weights are the public `syncnet_v2.model`, a pickled state dict read with burn-store's
//! `PytorchStore` (a pickle parser that never executes pickled code; zip and legacy `torch.save`
//! formats). Loading is strict, as for VocaLiST ([`crate::checkpoint`]): every one of the 102
//! entries present with its shape, nothing else but `num_batches_tracked`. Inference only: every
//! BatchNorm runs torch's CPU inference arithmetic ([`crate::model::batch_norm`]).

use std::path::Path;

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig, Conv3d, Conv3dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d, PaddingConfig3d};

use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

use crate::checkpoint::{load_reference, CheckpointError};
use crate::model::batch_norm;

/// Embedding width (`num_layers_in_fc_layers`).
pub const EMBED: usize = 1024;
/// Frames per visual window (the same 5-frame window as the transformer's, SPEC §1.3).
pub use features::WINDOW_FRAMES;
/// Side of the square frames the visual CNN takes (its last convolution needs exactly 6 × 6).
pub const FRAME_SIZE: usize = 224;
/// MFCC rows of an audio window: the cepstra of `python_speech_features.mfcc`.
pub use features::mfcc::N_CEPS as MFCC_ROWS;
/// MFCC columns of an audio window: one per 10 ms hop, 5 frames of 40 ms.
pub const MFCC_COLS: usize = features::WINDOW_FRAMES * features::SAMPLES_PER_FRAME / features::mfcc::WIN_STEP;
/// Trainable parameters of `S(1024)` (the README of `../shared/golden/syncnet`).
pub const PARAMS: usize = 13_631_616;
/// Name used in error messages.
pub const NAME: &str = "SyncNet";

/// Indices, within the reference's `nn.Sequential`s, of the convolutions (each BatchNorm follows
/// at index + 1). Both CNNs share them.
const CONV_INDEX: [usize; 6] = [0, 4, 8, 11, 14, 18];

/// A convolution and its BatchNorm (ReLU applied by the caller).
#[derive(Module, Debug)]
pub struct ConvBn2d {
    /// Convolution (with bias).
    pub conv: Conv2d,
    /// BatchNorm2d.
    pub bn: BatchNorm,
}

/// A 3-D convolution and its BatchNorm.
#[derive(Module, Debug)]
pub struct ConvBn3d {
    /// Convolution (with bias).
    pub conv: Conv3d,
    /// BatchNorm3d.
    pub bn: BatchNorm,
}

/// `Linear(512, 512) → BatchNorm1d → ReLU → Linear(512, 1024)`.
#[derive(Module, Debug)]
pub struct Head {
    /// First linear layer (`.0`).
    pub fc1: Linear,
    /// BatchNorm1d (`.1`).
    pub bn: BatchNorm,
    /// Output layer (`.3`).
    pub fc2: Linear,
}

/// `SyncNetModel.S`. Field names map to the reference's by [`remaps`].
#[derive(Module, Debug)]
pub struct SyncNet {
    /// `netcnnaud`: six Conv2d + BatchNorm2d.
    pub aud: Vec<ConvBn2d>,
    /// `netfcaud`.
    pub aud_fc: Head,
    /// `netcnnlip`: six Conv3d + BatchNorm3d.
    pub lip: Vec<ConvBn3d>,
    /// `netfclip`.
    pub lip_fc: Head,
    /// Max pools of the audio CNN (after its convolutions 1 and 4; the one after 0 is 1 × 1).
    aud_pool: [MaxPool2d; 2],
    /// Max pools of the visual CNN (after its convolutions 0, 1 and 4), run per frame.
    lip_pool: [MaxPool2d; 3],
}

/// (in, out, kernel, padding) of the audio CNN's convolutions (stride 1).
const AUD: [(usize, usize, [usize; 2], usize); 6] = [
    (1, 64, [3, 3], 1),
    (64, 192, [3, 3], 1),
    (192, 384, [3, 3], 1),
    (384, 256, [3, 3], 1),
    (256, 256, [3, 3], 1),
    (256, 512, [5, 4], 0),
];

/// (in, out, kernel (T, H, W), stride (H, W), padding (H, W)) of the visual CNN's convolutions.
const LIP: [(usize, usize, [usize; 3], usize, usize); 6] = [
    (3, 96, [5, 7, 7], 2, 0),
    (96, 256, [1, 5, 5], 2, 1),
    (256, 256, [1, 3, 3], 1, 1),
    (256, 256, [1, 3, 3], 1, 1),
    (256, 256, [1, 3, 3], 1, 1),
    (256, 512, [1, 6, 6], 1, 0),
];

fn head(device: &Device) -> Head {
    Head {
        fc1: LinearConfig::new(512, 512).init(device),
        bn: BatchNormConfig::new(512).init(device),
        fc2: LinearConfig::new(512, EMBED).init(device),
    }
}

fn pool(kernel: [usize; 2], stride: [usize; 2], padding: usize) -> MaxPool2d {
    MaxPool2dConfig::new(kernel)
        .with_strides(stride)
        .with_padding(PaddingConfig2d::Explicit(padding, padding, padding, padding))
        .init()
}

/// Reference state-dict names → our module paths (`netcnnaud.4.weight` → `aud.1.conv.weight`).
pub fn remaps() -> Vec<(String, String)> {
    let mut v = vec![(r"^module\.".to_string(), String::new())];
    for (net, ours) in [("netcnnaud", "aud"), ("netcnnlip", "lip")] {
        for (i, idx) in CONV_INDEX.iter().enumerate() {
            v.push((format!(r"^{net}\.{idx}\."), format!("{ours}.{i}.conv.")));
            v.push((format!(r"^{net}\.{}\.", idx + 1), format!("{ours}.{i}.bn.")));
        }
    }
    for (net, ours) in [("netfcaud", "aud_fc"), ("netfclip", "lip_fc")] {
        v.push((format!(r"^{net}\.0\."), format!("{ours}.fc1.")));
        v.push((format!(r"^{net}\.1\."), format!("{ours}.bn.")));
        v.push((format!(r"^{net}\.3\."), format!("{ours}.fc2.")));
    }
    v
}

impl SyncNet {
    /// The architecture with burn's default initialisation (weights are always loaded).
    pub fn new(device: &Device) -> Self {
        let aud = AUD
            .iter()
            .map(|&(cin, cout, k, p)| ConvBn2d {
                conv: Conv2dConfig::new([cin, cout], k)
                    .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
                    .init(device),
                bn: BatchNormConfig::new(cout).init(device),
            })
            .collect();
        let lip = LIP
            .iter()
            .map(|&(cin, cout, k, s, p)| ConvBn3d {
                conv: Conv3dConfig::new([cin, cout], k)
                    .with_stride([1, s, s])
                    .with_padding(PaddingConfig3d::Explicit(0, p, p))
                    .init(device),
                bn: BatchNormConfig::new(cout).init(device),
            })
            .collect();
        Self {
            aud,
            aud_fc: head(device),
            lip,
            lip_fc: head(device),
            aud_pool: [pool([3, 3], [1, 2], 0), pool([3, 3], [2, 2], 0)],
            lip_pool: [pool([3, 3], [2, 2], 0), pool([3, 3], [2, 2], 1), pool([3, 3], [2, 2], 0)],
        }
    }

    /// Trainable parameters (BatchNorm running statistics are buffers in PyTorch, not counted).
    pub fn param_count(&self) -> usize {
        let bn: usize = self.aud.iter().map(|b| b.bn.gamma.dims()[0]).sum::<usize>()
            + self.lip.iter().map(|b| b.bn.gamma.dims()[0]).sum::<usize>()
            + 2 * 512;
        self.num_params() - 2 * bn
    }

    /// `forward_aud`: `[N, 1, 13, 20]` MFCC windows → `[N, 1024]`.
    pub fn forward_aud(&self, x: Tensor<4>) -> Tensor<2> {
        let mut x = x;
        for (i, block) in self.aud.iter().enumerate() {
            x = relu(batch_norm(&block.bn, block.conv.forward(x)));
            match i {
                1 => x = self.aud_pool[0].forward(x),
                4 => x = self.aud_pool[1].forward(x),
                _ => {}
            }
        }
        let n = x.dims()[0];
        self.aud_fc.forward(x.reshape([n as i64, -1]))
    }

    /// `forward_lip`: `[N, 3, 5, 224, 224]` BGR windows (0–255, unscaled) → `[N, 1024]`.
    pub fn forward_lip(&self, x: Tensor<5>) -> Tensor<2> {
        let mut x = x;
        for (i, block) in self.lip.iter().enumerate() {
            x = relu(batch_norm(&block.bn, block.conv.forward(x)));
            let p = match i {
                0 => 0,
                1 => 1,
                4 => 2,
                _ => continue,
            };
            // The pools' temporal kernel is 1 and the time axis has length 1 after the first
            // convolution, so each is a 2-D pool over [N, C, H, W].
            let [n, c, t, h, w] = x.dims();
            let y = self.lip_pool[p].forward(x.reshape([n * t, c, h, w]));
            let [_, _, h2, w2] = y.dims();
            x = y.reshape([n, c, t, h2, w2]);
        }
        let n = x.dims()[0];
        self.lip_fc.forward(x.reshape([n as i64, -1]))
    }

    /// Loads `syncnet_v2.model` (or any state dict with its keys and shapes) strictly.
    pub fn load(path: &Path, device: &Device) -> Result<Self, CheckpointError> {
        load_reference(path, Self::new(device), NAME, remaps(), |keys| {
            if keys.iter().any(|k| k.starts_with("lip.") || k.starts_with("aud.")) {
                Ok(())
            } else {
                Err("no netcnnaud.* / netcnnlip.* keys, so not syncnet_python's weights (syncnet_v2.model)"
                    .into())
            }
        })
    }
}

impl Head {
    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.fc2.forward(relu(batch_norm(&self.bn, self.fc1.forward(x))))
    }
}
