//! Conv + BatchNorm (+ residual) + ReLU blocks and the two prenets (SPEC §2.2–2.4).

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig, Conv3d, Conv3dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d, PaddingConfig3d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, FloatDType, Tensor, TensorData};

/// `nn.Conv3d` (with bias) → `BatchNorm3d` → `+ x` if residual → ReLU (`VL:models/conv.py`).
/// State-dict names `conv_block.0.*` / `conv_block.1.*` map to `conv.*` / `bn.*`.
#[derive(Module, Debug)]
pub struct Conv3dBlock {
    /// The convolution.
    pub conv: Conv3d,
    /// Its BatchNorm.
    pub bn: BatchNorm,
    /// Whether the input is added before the ReLU.
    #[module(skip)]
    pub residual: bool,
}

/// The 2-D counterpart of [`Conv3dBlock`], used by the audio prenet.
#[derive(Module, Debug)]
pub struct Conv2dBlock {
    /// The convolution.
    pub conv: Conv2d,
    /// Its BatchNorm.
    pub bn: BatchNorm,
    /// Whether the input is added before the ReLU.
    #[module(skip)]
    pub residual: bool,
}

/// One row of a prenet table: (in, out, kernel, stride, padding, residual).
type Spec<const N: usize> = (usize, usize, usize, [usize; N], [usize; N], bool);

/// SPEC §2.3 table, generic over the channel list `c` and width `d`. Axes are (H, W, T).
fn vid_specs(c: [usize; 5], d: usize) -> Vec<Spec<3>> {
    let one = [1, 1, 1];
    let down = [2, 2, 1];
    let mut v = vec![(3, c[0], 7, one, [3, 3, 3], false), (c[0], c[1], 5, [1, 2, 1], [1, 1, 2], false)];
    v.extend([(c[1], c[1], 3, one, one, true); 2]);
    v.push((c[1], c[2], 3, down, one, false));
    v.extend([(c[2], c[2], 3, one, one, true); 3]);
    v.push((c[2], c[3], 3, down, one, false));
    v.extend([(c[3], c[3], 3, one, one, true); 2]);
    v.push((c[3], c[4], 3, down, one, false));
    v.extend([(c[4], c[4], 3, one, one, true); 2]);
    v.push((c[4], c[4], 3, down, one, false));
    v.push((c[4], d, 3, one, [0, 0, 1], false));
    v.push((d, d, 1, one, [0, 0, 0], false));
    v
}

/// SPEC §2.4 table. Axes are (F, T).
fn aud_specs(c: [usize; 5], d: usize) -> Vec<Spec<2>> {
    let one = [1, 1];
    let down = [3, 1];
    let mut v = vec![(1, c[0], 3, one, one, false)];
    v.extend([(c[0], c[0], 3, one, one, true); 2]);
    for i in 0..3 {
        v.push((c[i], c[i + 1], 3, down, one, false));
        v.extend([(c[i + 1], c[i + 1], 3, one, one, true); 2]);
    }
    v.push((c[3], d, 3, one, [0, 1], false));
    v.push((d, d, 1, one, [0, 0], false));
    v
}

/// The visual prenet: 17 Conv3d blocks.
pub fn vid_prenet(c: [usize; 5], d: usize, device: &Device) -> Vec<Conv3dBlock> {
    vid_specs(c, d)
        .into_iter()
        .map(|(cin, cout, k, stride, p, residual)| Conv3dBlock {
            conv: Conv3dConfig::new([cin, cout], [k; 3])
                .with_stride(stride)
                .with_padding(PaddingConfig3d::Explicit(p[0], p[1], p[2]))
                .init(device),
            bn: BatchNormConfig::new(cout).init(device),
            residual,
        })
        .collect()
}

/// The audio prenet: 14 Conv2d blocks.
pub fn aud_prenet(c: [usize; 5], d: usize, device: &Device) -> Vec<Conv2dBlock> {
    aud_specs(c, d)
        .into_iter()
        .map(|(cin, cout, k, stride, p, residual)| Conv2dBlock {
            conv: Conv2dConfig::new([cin, cout], [k; 2])
                .with_stride(stride)
                .with_padding(PaddingConfig2d::Explicit(p[0], p[1], p[0], p[1]))
                .init(device),
            bn: BatchNormConfig::new(cout).init(device),
            residual,
        })
        .collect()
}

/// torch's `rsqrt` kernel itself, run by libtorch on the CPU: ATen's BatchNorm inference uses
/// it for the inverse standard deviation, and its vectorised approximation differs from a
/// correctly rounded 1/√x in the last bit for some inputs.
fn torch_rsqrt(values: &[f32]) -> Vec<f32> {
    let t = tch::Tensor::from_slice(values).rsqrt();
    let mut out = vec![0.0f32; values.len()];
    t.copy_data(&mut out, values.len());
    out
}

/// The libtorch handle of a tensor on a LibTorch device (a shallow copy), None elsewhere.
#[allow(deprecated)] // burn_tch's types are marked deprecated in burn 0.22 but are the tch entry points (STACK.md).
fn libtorch_handle<const D: usize>(t: Tensor<D>) -> Option<tch::Tensor> {
    t.try_into_primitive::<burn_tch::LibTorch>().ok().map(|p| p.tensor)
}

/// Inference BatchNorm by ATen's own kernel (`at::batch_norm`, training false), which is what
/// `F.batch_norm` runs in eval mode: the reference's arithmetic by construction, in one pass
/// over the activations and without a host round trip (issue #16: the f64 emulation took 22 % of
/// the teacher's forward). None when a tensor is not a LibTorch one.
#[allow(deprecated)] // as above
fn libtorch_batch_norm<const D: usize>(bn: &BatchNorm, x: &Tensor<D>) -> Option<Tensor<D>> {
    let input = libtorch_handle(x.clone())?;
    let weight = libtorch_handle(bn.gamma.val())?;
    let bias = libtorch_handle(bn.beta.val())?;
    let mean = libtorch_handle(bn.running_mean.value())?;
    let var = libtorch_handle(bn.running_var.value())?;
    let y = input.batch_norm(
        Some(&weight),
        Some(&bias),
        Some(&mean),
        Some(&var),
        false,
        bn.momentum,
        bn.epsilon,
        true,
    );
    Some(Tensor::from_primitive::<burn_tch::LibTorch>(burn_tch::TchTensor::new(y)))
}

fn host(t: Tensor<1>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 after convert")
}

/// Inference BatchNorm exactly as torch computes it (SPEC §2.2); batch statistics on an
/// autodiff (training) device, as in torch's train mode. On LibTorch devices ATen's own kernel
/// runs ([`libtorch_batch_norm`]); elsewhere its arithmetic is emulated
/// ([`emulated_batch_norm`]). The two are bit-identical (tested).
pub(crate) fn batch_norm<const D: usize>(bn: &BatchNorm, x: Tensor<D>) -> Tensor<D> {
    if x.device().is_autodiff() && bn.training.is_enabled() {
        return train_batch_norm(bn, x);
    }
    libtorch_batch_norm(bn, &x).unwrap_or_else(|| emulated_batch_norm(bn, x))
}

/// Train-mode BatchNorm from burn's generic ops, with torch's running-statistics update (the
/// path for tensors that are not LibTorch ones; LibTorch blocks train natively, see
/// [`super::native::conv_bn_relu`]): `(1 − m)·running + m·batch`, with the batch variance
/// unbiased (`n/(n−1)`, `n` values a channel) where burn's `BatchNorm` uses the biased one.
fn train_batch_norm<const D: usize>(bn: &BatchNorm, x: Tensor<D>) -> Tensor<D> {
    let shape = x.shape();
    let n = (shape.num_elements() / shape[1]) as f64;
    let out = burn::tensor::module::batch_norm_train(x, bn.gamma.val(), bn.beta.val(), bn.epsilon);
    let m = bn.momentum;
    let mean = bn.running_mean.value_sync().mul_scalar(1.0 - m) + out.mean.detach().mul_scalar(m);
    let unbiased = out.variance.detach().mul_scalar(n / (n - 1.0).max(1.0));
    let var = bn.running_var.value_sync().mul_scalar(1.0 - m) + unbiased.mul_scalar(m);
    bn.running_mean.update(mean.detach());
    bn.running_var.update(var.detach());
    out.output
}

/// BatchNorm with torch's CPU inference arithmetic, bit for bit: `fma(x, α, β′)` with
/// `α = γ·rsqrt(var + ε)` and `β′ = fma(−mean, α, β)` (ATen's
/// `batch_norm_cpu_collect_linear_and_constant_terms`, compiled with FMA contraction; verified
/// layer by layer against `F.batch_norm`). burn's generic `(x − mean)/√(var+ε)·γ + β` rounds
/// differently, and a pre-activation that torch rounds to exactly 0 then comes out as ±1e-8,
/// which flips the positional-embedding padding rule (SPEC §0.3) downstream. The per-channel
/// terms are computed on the host; the final fused multiply-add runs in f64 (an f32 × f32
/// product is exact there) and is rounded once to f32.
fn emulated_batch_norm<const D: usize>(bn: &BatchNorm, x: Tensor<D>) -> Tensor<D> {
    let device = x.device();
    let eps = bn.epsilon as f32; // static_cast<float>(eps)
    let var: Vec<f32> = host(bn.running_var.value()).iter().map(|v| v + eps).collect();
    let alpha: Vec<f32> = torch_rsqrt(&var).iter().zip(host(bn.gamma.val())).map(|(r, g)| g * r).collect();
    let shift: Vec<f32> = host(bn.running_mean.value())
        .iter()
        .zip(host(bn.beta.val()))
        .zip(&alpha)
        .map(|((m, b), a)| (-m).mul_add(*a, b))
        .collect();
    let c = alpha.len();
    let mut shape = [1usize; D];
    shape[1] = c;
    let column = |v: Vec<f32>| {
        Tensor::<1>::from_data(TensorData::new(v, [c]), &device).cast(FloatDType::F64).reshape(shape)
    };
    let y = x.cast(FloatDType::F64) * column(alpha) + column(shift);
    y.cast(FloatDType::F32)
}

/// Whether a block trains as one op with libtorch's backward ([`super::native`]): in training
/// (an autodiff device, the BatchNorm not frozen). Every layer takes it: measured in one process
/// with the steps interleaved (2 threads, batch 16), the MTDVocaLiST BCE step takes 1.97 s
/// (median) with every block native, 1.96–1.99 s with the blocks under 3,000 or 10,000 weights
/// left generic, and 2.53 s with none native; the micro-student step (1 thread, batch 8) 0.279 s
/// native, 0.276 s generic. One path also gives every layer torch's running-variance update.
fn trains_natively<const D: usize>(bn: &BatchNorm, x: &Tensor<D>) -> bool {
    x.device().is_autodiff() && bn.training.is_enabled()
}

impl Conv3dBlock {
    /// # Shapes
    /// `[B, Cin, H, W, T]` → `[B, Cout, H', W', T]`
    pub fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        if let (true, Some(bias), PaddingConfig3d::Explicit(a, b, c)) =
            (trains_natively(&self.bn, &x), &self.conv.bias, &self.conv.padding)
        {
            let conv = (self.conv.weight.val(), bias.val(), &self.conv.stride[..], &[*a, *b, *c][..]);
            if let Some(y) = super::native::conv_bn_relu(&x, conv, &self.bn, self.residual) {
                return y;
            }
        }
        let out = batch_norm(&self.bn, self.conv.forward(x.clone()));
        relu(if self.residual { out + x } else { out })
    }
}

impl Conv2dBlock {
    /// # Shapes
    /// `[B, Cin, F, T]` → `[B, Cout, F', T]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        if let (true, Some(bias), &PaddingConfig2d::Explicit(top, left, bottom, right)) =
            (trains_natively(&self.bn, &x), &self.conv.bias, &self.conv.padding)
        {
            // at::convolution pads symmetrically
            if (top, left) == (bottom, right) {
                let conv = (self.conv.weight.val(), bias.val(), &self.conv.stride[..], &[top, left][..]);
                if let Some(y) = super::native::conv_bn_relu(&x, conv, &self.bn, self.residual) {
                    return y;
                }
            }
        }
        let out = batch_norm(&self.bn, self.conv.forward(x.clone()));
        relu(if self.residual { out + x } else { out })
    }
}

#[cfg(test)]
mod tests {
    use burn::module::Param;
    use burn::tensor::Distribution;

    use super::*;

    #[test]
    fn libtorch_kernel_equals_the_emulation_bit_for_bit() {
        let device = crate::device::DeviceSpec::Cpu.device();
        device.seed(3);
        let c = 48;
        let mut bn: BatchNorm = BatchNormConfig::new(c).init(&device);
        let param = |lo: f64, hi: f64| Tensor::<1>::random([c], Distribution::Uniform(lo, hi), &device);
        bn.gamma = Param::from_tensor(param(0.5, 1.5));
        bn.beta = Param::from_tensor(param(-0.5, 0.5));
        bn.running_mean = burn::module::RunningState::new(param(-0.3, 0.3));
        bn.running_var = burn::module::RunningState::new(param(0.01, 2.0));
        let x = Tensor::<4>::random([3, c, 17, 23], Distribution::Normal(0.0, 2.0), &device);
        let bits = |t: Tensor<4>| -> Vec<u32> {
            t.into_data().convert::<f32>().iter::<f32>().map(f32::to_bits).collect()
        };
        let fast = bits(libtorch_batch_norm(&bn, &x).expect("a LibTorch CPU tensor"));
        let slow = bits(emulated_batch_norm(&bn, x));
        let differ = fast.iter().zip(&slow).filter(|(a, b)| a != b).count();
        assert_eq!(differ, 0, "{differ} of {} values differ", fast.len());
    }
}
