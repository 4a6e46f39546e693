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
    if x.device().is_autodiff() {
        return bn.forward(x);
    }
    libtorch_batch_norm(bn, &x).unwrap_or_else(|| emulated_batch_norm(bn, x))
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

/// Smallest convolution (weight elements) that takes libtorch's own backward. Each native backward
/// also runs a libtorch autograd pass (a multiply and a sum over the output), which costs more than
/// it saves on the micro presets' thin layers (`trainer bench`, 1 thread, micro-student step: 0.49 s
/// generic, 0.56 s native everywhere), while MTDVocaLiST's wide layers gain (2.31 → 2.17 s).
const NATIVE_MIN_WEIGHTS: usize = 10_000;

/// `self.conv.forward(x)`; in training on LibTorch, for layers of at least
/// [`NATIVE_MIN_WEIGHTS`] weights, with libtorch's own convolution backward
/// ([`super::native_conv`]). The forward bits are the same either way.
fn conv3d(conv: &Conv3d, x: Tensor<5>) -> Tensor<5> {
    if conv.weight.shape().num_elements() < NATIVE_MIN_WEIGHTS {
        return conv.forward(x);
    }
    if let (true, Some(bias), PaddingConfig3d::Explicit(a, b, c)) =
        (x.device().is_autodiff(), &conv.bias, &conv.padding)
    {
        if let Some(y) =
            super::native_conv::conv(&x, conv.weight.val(), bias.val(), &conv.stride, &[*a, *b, *c])
        {
            return y;
        }
    }
    conv.forward(x)
}

/// The 2-D counterpart of [`conv3d`].
fn conv2d(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    if conv.weight.shape().num_elements() < NATIVE_MIN_WEIGHTS {
        return conv.forward(x);
    }
    if let (true, Some(bias), &PaddingConfig2d::Explicit(top, left, bottom, right)) =
        (x.device().is_autodiff(), &conv.bias, &conv.padding)
    {
        if (top, left) != (bottom, right) {
            return conv.forward(x); // at::convolution pads symmetrically
        }
        if let Some(y) =
            super::native_conv::conv(&x, conv.weight.val(), bias.val(), &conv.stride, &[top, left])
        {
            return y;
        }
    }
    conv.forward(x)
}

impl Conv3dBlock {
    /// # Shapes
    /// `[B, Cin, H, W, T]` → `[B, Cout, H', W', T]`
    pub fn forward(&self, x: Tensor<5>) -> Tensor<5> {
        let out = batch_norm(&self.bn, conv3d(&self.conv, x.clone()));
        relu(if self.residual { out + x } else { out })
    }
}

impl Conv2dBlock {
    /// # Shapes
    /// `[B, Cin, F, T]` → `[B, Cout, F', T]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let out = batch_norm(&self.bn, conv2d(&self.conv, x.clone()));
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
