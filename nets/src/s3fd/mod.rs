//! S3FD, the face detector of syncnet_python's run_pipeline.py and Wav2Lip (issue #31), from the
//! user's own `sfd_face.pth` (zip or legacy torch format, read without running pickle code by
//! burn's `PytorchStore`, every key and shape checked). `SP:` below is joonson/syncnet_python at
//! 6efbb1c, `detectors/s3fd/`: the network of `nets.py` ([`S3fd::forward`]: the box regressions
//! and softmaxed scores its `Detect` step receives) and the prior boxes of `box_utils.PriorBox`
//! ([`priors`]); [`detect`] turns them into face boxes as `Detect` and `detect_faces` do.

use std::path::Path;

use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::PaddingConfig2d;
use burn::tensor::activation::{relu, softmax};
use burn::tensor::{Device, Tensor};

pub mod detect;

use crate::checkpoint::{load_reference, CheckpointError};

/// Name used in error messages.
pub const NAME: &str = "S3FD";
/// `img_mean` (`SP:__init__.py:L9`), subtracted from B, G, R.
pub const BGR_MEAN: [f32; 3] = [104.0, 117.0, 123.0];
/// `PriorBox.min_sizes` (`SP:box_utils.py`).
const MIN_SIZES: [f64; 6] = [16.0, 32.0, 64.0, 128.0, 256.0, 512.0];
/// `PriorBox.steps`.
const STEPS: [f64; 6] = [4.0, 8.0, 16.0, 32.0, 64.0, 128.0];

/// (reference index in `vgg`, in, out, kernel, padding, dilation) of the VGG convolutions
/// (`SP:nets.py:L33-L78`); a ReLU follows each.
const VGG: [(usize, usize, usize, usize, usize, usize); 15] = [
    (0, 3, 64, 3, 1, 1),
    (2, 64, 64, 3, 1, 1),
    (5, 64, 128, 3, 1, 1),
    (7, 128, 128, 3, 1, 1),
    (10, 128, 256, 3, 1, 1),
    (12, 256, 256, 3, 1, 1),
    (14, 256, 256, 3, 1, 1),
    (17, 256, 512, 3, 1, 1),
    (19, 512, 512, 3, 1, 1),
    (21, 512, 512, 3, 1, 1),
    (24, 512, 512, 3, 1, 1),
    (26, 512, 512, 3, 1, 1),
    (28, 512, 512, 3, 1, 1),
    (31, 512, 1024, 3, 6, 6),
    (33, 1024, 1024, 1, 0, 1),
];
/// After which of our VGG convolutions a 2 × 2 pool follows (the third with `ceil_mode`).
const POOL_AFTER: [usize; 5] = [1, 3, 6, 9, 12];
/// (in, out, kernel, stride, padding) of `extras` (`SP:nets.py:L81-L86`).
const EXTRAS: [(usize, usize, usize, usize, usize); 4] =
    [(1024, 256, 1, 1, 0), (256, 512, 3, 2, 1), (512, 128, 1, 1, 0), (128, 256, 3, 2, 1)];
/// Input channels of the six heads.
const HEAD_IN: [usize; 6] = [256, 512, 512, 1024, 512, 256];

/// `L2Norm` (`SP:nets.py:L8-L24`): x / (‖x‖₂ over channels + 1e-10), times a learned weight.
#[derive(Module, Debug)]
pub struct L2Norm {
    /// Per-channel scale.
    pub weight: Param<Tensor<1>>,
}

impl L2Norm {
    fn new(channels: usize, device: &Device) -> Self {
        Self { weight: Param::from_tensor(Tensor::zeros([channels], device)) }
    }

    /// # Shapes
    /// `[N, C, H, W]` → `[N, C, H, W]`.
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [_, c, _, _] = x.dims();
        let norm = x.clone().powi_scalar(2).sum_dim(1).sqrt().add_scalar(1e-10); // [N, 1, H, W]
        let w = self.weight.val().reshape([1, c, 1, 1]); // [1, C, 1, 1]
        w * x.div(norm)
    }
}

/// The S3FD network (`SP:nets.py`, `S3FDNet`).
#[derive(Module, Debug)]
pub struct S3fd {
    /// The 15 convolutions of `vgg` (reference indices in [`VGG`]).
    pub vgg: Vec<Conv2d>,
    /// `L2Norm3_3`, `L2Norm4_3`, `L2Norm5_3`.
    pub l2norm: Vec<L2Norm>,
    /// `extras`.
    pub extras: Vec<Conv2d>,
    /// `loc`: four box regressions per prior.
    pub loc: Vec<Conv2d>,
    /// `conf`: two scores per prior (the first head has four, max-out background).
    pub conf: Vec<Conv2d>,
    pools: Vec<MaxPool2d>,
}

/// The network's outputs for one image: what `Detect.forward` receives.
#[derive(Debug, Clone)]
pub struct RawDetections {
    /// `[P, 4]` box regressions, one row per prior.
    pub loc: Vec<[f32; 4]>,
    /// `[P, 2]` softmaxed (background, face) scores.
    pub conf: Vec<[f32; 2]>,
    /// `[P, 4]` prior boxes (centre x, centre y, width, height, relative to the input).
    pub priors: Vec<[f32; 4]>,
}

fn conv(cin: usize, cout: usize, k: usize, stride: usize, pad: usize, dil: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([cin, cout], [k, k])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
        .with_dilation([dil, dil])
        .init(device)
}

/// Reference state-dict names → our module paths (`vgg.5.weight` → `vgg.2.weight`,
/// `L2Norm4_3.weight` → `l2norm.1.weight`).
pub fn remaps() -> Vec<(String, String)> {
    let mut r: Vec<(String, String)> = VGG
        .iter()
        .enumerate()
        .map(|(ours, v)| (format!(r"^vgg\.{}\.", v.0), format!("vgg.{ours}.")))
        .collect();
    for (i, name) in ["L2Norm3_3", "L2Norm4_3", "L2Norm5_3"].iter().enumerate() {
        r.push((format!(r"^{name}\."), format!("l2norm.{i}.")));
    }
    r
}

impl S3fd {
    /// The network with zero weights (filled by [`S3fd::load`]).
    pub fn new(device: &Device) -> Self {
        let pool = |ceil: bool| MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).with_ceil_mode(ceil).init();
        Self {
            vgg: VGG.iter().map(|&(_, i, o, k, p, d)| conv(i, o, k, 1, p, d, device)).collect(),
            l2norm: [256, 512, 512].iter().map(|&c| L2Norm::new(c, device)).collect(),
            extras: EXTRAS.iter().map(|&(i, o, k, s, p)| conv(i, o, k, s, p, 1, device)).collect(),
            loc: HEAD_IN.iter().map(|&i| conv(i, 4, 3, 1, 1, 1, device)).collect(),
            conf: HEAD_IN
                .iter()
                .enumerate()
                .map(|(h, &i)| conv(i, if h == 0 { 4 } else { 2 }, 3, 1, 1, 1, device))
                .collect(),
            pools: (0..POOL_AFTER.len()).map(|p| pool(p == 2)).collect(),
        }
    }

    /// Loads `sfd_face.pth` (or any state dict with its keys and shapes) strictly.
    pub fn load(path: &Path, device: &Device) -> Result<Self, CheckpointError> {
        load_reference(path, Self::new(device), NAME, remaps(), |keys| {
            if keys.iter().any(|k| k.starts_with("vgg.")) && keys.iter().any(|k| k.starts_with("l2norm.")) {
                Ok(())
            } else {
                Err("no vgg.* / L2Norm*_3 keys, so not S3FD's weights (sfd_face.pth)".into())
            }
        })
    }

    /// `S3FDNet.forward` up to its `Detect` step (`SP:nets.py:L107-L174`) for one image already
    /// prepared as the reference prepares it ([`prepare`]).
    ///
    /// # Shapes
    /// `[1, 3, H, W]` → [`RawDetections`] with one row per prior.
    pub fn forward(&self, x: Tensor<4>) -> RawDetections {
        let [_, _, h, w] = x.dims();
        let mut sources: Vec<Tensor<4>> = Vec::with_capacity(6);
        let mut x = x;
        let mut pool = 0;
        for (i, c) in self.vgg.iter().enumerate() {
            x = relu(c.forward(x));
            match i {
                6 => sources.push(self.l2norm[0].forward(x.clone())), // conv3_3
                9 => sources.push(self.l2norm[1].forward(x.clone())), // conv4_3
                12 => sources.push(self.l2norm[2].forward(x.clone())), // conv5_3
                14 => sources.push(x.clone()),                        // fc7
                _ => {}
            }
            if POOL_AFTER.get(pool) == Some(&i) {
                x = self.pools[pool].forward(x);
                pool += 1;
            }
        }
        for (k, e) in self.extras.iter().enumerate() {
            x = relu(e.forward(x));
            if k % 2 == 1 {
                sources.push(x.clone());
            }
        }
        let mut locs = Vec::new();
        let mut confs = Vec::new();
        let mut maps = Vec::new();
        for (i, s) in sources.into_iter().enumerate() {
            let l = self.loc[i].forward(s.clone()); // [1, 4, h, w]
            let mut c = self.conf[i].forward(s); // [1, 4 or 2, h, w]
            if i == 0 {
                // Max-out background: the largest of the first three scores, then the face score.
                let bg = c.clone().narrow(1, 0, 3).max_dim(1); // [1, 1, h, w]
                c = Tensor::cat(vec![bg, c.narrow(1, 3, 1)], 1); // [1, 2, h, w]
            }
            let [_, _, fh, fw] = l.dims();
            maps.push((fh, fw));
            locs.push(l.permute([0, 2, 3, 1]).reshape([fh * fw, 4])); // [h·w, 4]
            confs.push(c.permute([0, 2, 3, 1]).reshape([fh * fw, 2])); // [h·w, 2]
        }
        let loc = Tensor::cat(locs, 0); // [P, 4]
        let conf = softmax(Tensor::cat(confs, 0), 1); // [P, 2]
        let rows = |t: Tensor<2>| t.into_data().convert::<f32>().try_to_vec::<f32>().expect("f32 data");
        let (l, c) = (rows(loc), rows(conf));
        RawDetections {
            loc: l.chunks_exact(4).map(|r| [r[0], r[1], r[2], r[3]]).collect(),
            conf: c.chunks_exact(2).map(|r| [r[0], r[1]]).collect(),
            priors: priors(h, w, &maps),
        }
    }
}

/// `PriorBox.forward` (`SP:box_utils.py`): per feature map k and cell (i, j), the centre
/// `((j + 0.5) / (W / step_k), (i + 0.5) / (H / step_k))` and the size `(min_k / W, min_k / H)`,
/// computed in f64 as Python does and stored as f32 (`torch.FloatTensor`).
pub fn priors(h: usize, w: usize, maps: &[(usize, usize)]) -> Vec<[f32; 4]> {
    let (imh, imw) = (h as f64, w as f64);
    let mut out = Vec::new();
    for (k, &(fh, fw)) in maps.iter().enumerate() {
        let (f_kw, f_kh) = (imw / STEPS[k], imh / STEPS[k]);
        let (s_kw, s_kh) = (MIN_SIZES[k] / imw, MIN_SIZES[k] / imh);
        for i in 0..fh {
            for j in 0..fw {
                let (cx, cy) = ((j as f64 + 0.5) / f_kw, (i as f64 + 0.5) / f_kh);
                out.push([cx as f32, cy as f32, s_kw as f32, s_kh as f32]);
            }
        }
    }
    out
}

/// The network input of an RGB image (`SP:__init__.py:L37-L44` at scale 1): channels first,
/// `[R − 123, G − 117, B − 104]` as f32.
///
/// # Shapes
/// `H × W × 3` bytes → `[1, 3, H, W]`.
pub fn prepare(rgb: &[u8], width: usize, height: usize, device: &Device) -> Tensor<4> {
    let n = width * height;
    let mut data = vec![0f32; 3 * n];
    for (p, px) in rgb.chunks_exact(3).enumerate() {
        for c in 0..3 {
            data[c * n + p] = px[c] as f32 - BGR_MEAN[2 - c];
        }
    }
    Tensor::<1>::from_floats(data.as_slice(), device).reshape([1, 3, height, width])
}
