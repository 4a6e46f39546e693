//! Training ops whose backward pass is libtorch's own (issue #16).
//!
//! burn-tch 0.22 does not override `conv{2,3}d_{x,weight}_backward`, so burn-autodiff computes a
//! convolution's gradients with its generic formulas: a transposed convolution for the input and a
//! convolution with batch and channels swapped for the weight. PyTorch runs
//! `aten::convolution_backward` instead, which on the CPU is oneDNN's backward-data and
//! backward-weights kernels (1.04–1.72× faster per layer on the student's prenet, measured in
//! PyTorch at batch 16). Train-mode BatchNorm is likewise composed of about ten generic ops in
//! burn (mean, centring, square, mean, scale, shift, each with its own backward), where ATen runs
//! one fused `native_batch_norm` and one `native_batch_norm_backward`.
//!
//! tch 0.22 binds neither backward, so [`record`] runs the forward under libtorch's autograd on
//! detached leaves that share the burn tensors' storage, and the backward asks that graph for the
//! gradients of `Σ y ⊙ g`: `MulBackward` hands exactly `g` to the recorded ops, so they receive
//! burn's incoming gradient bit for bit. The forwards run the same ATen calls as burn-tch
//! (`at::convolution`) or as PyTorch (`at::batch_norm`, `at::relu`).

use std::fmt;
use std::sync::{Arc, Mutex};

use burn::nn::{BatchNorm, Linear};
use burn::tensor::Tensor;
use burn_autodiff::checkpoint::base::Checkpointer;
use burn_autodiff::checkpoint::strategy::NoCheckpointing;
use burn_autodiff::grads::Gradients;
use burn_autodiff::ops::{Backward, Ops, OpsKind};
#[allow(deprecated)] // burn_tch's types are the tch entry points (STACK.md)
use burn_tch::{LibTorch, TchTensor};

#[allow(deprecated)]
type AutodiffTorch = burn_autodiff::Autodiff<LibTorch>;
#[allow(deprecated)]
type Primitive = <AutodiffTorch as burn_backend::BackendTypes>::FloatTensorPrimitive;

/// One op's libtorch autograd graph, kept from the forward to the backward.
#[allow(deprecated)]
struct Graph {
    /// The output, with the recorded ops (which saved what they need) behind it.
    y: tch::Tensor,
    /// One leaf per parent; `Some` where burn tracks gradients through it.
    leaves: Vec<Option<tch::Tensor>>,
    /// burn's handles of the parents and the output. While they are held, burn-tch counts the
    /// storage as shared and never writes into it in place, so what ATen saved stays valid.
    _pins: Vec<TchTensor>,
}

/// The backward state: the graph, taken once by the backward pass.
#[derive(Clone)]
struct SavedGraph(Arc<Mutex<Option<Graph>>>);

impl fmt::Debug for SavedGraph {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SavedGraph")
    }
}

#[derive(Debug)]
struct NativeBackward<const N: usize>;

#[allow(deprecated)]
impl<const N: usize> Backward<LibTorch, N> for NativeBackward<N> {
    type State = SavedGraph;

    fn backward(self, ops: Ops<SavedGraph, N>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<LibTorch>(&ops.node);
        let graph = ops
            .state
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
            .expect("a native op's backward runs once");
        let wanted: Vec<_> = ops
            .parents
            .iter()
            .zip(&graph.leaves)
            .filter_map(|(parent, leaf)| Some((parent.as_ref()?.id, leaf.as_ref()?)))
            .collect();
        if wanted.is_empty() {
            return;
        }
        let root = tch::with_grad(|| (&graph.y * &grad.tensor).sum(tch::Kind::Float));
        let inputs: Vec<&tch::Tensor> = wanted.iter().map(|(_, leaf)| *leaf).collect();
        let computed = tch::Tensor::run_backward(&[root], &inputs, false, false);
        for ((id, _), g) in wanted.into_iter().zip(computed) {
            grads.register::<LibTorch>(id, TchTensor::new(g));
        }
    }
}

/// `f` over `parents` with libtorch's autograd as the backward: the output is a burn autodiff
/// tensor whose gradients flow to every tracked parent. `f` receives one tensor per parent,
/// sharing its storage (a leaf that requires grad where the parent is tracked).
#[allow(deprecated)]
fn record<const N: usize>(
    parents: [Primitive; N],
    f: impl FnOnce(&[tch::Tensor]) -> tch::Tensor,
) -> Primitive {
    let tracked: Vec<bool> = parents.iter().map(|p| p.is_tracked()).collect();
    let pins: Vec<TchTensor> = parents.iter().map(|p| p.primitive().clone()).collect();
    let prep =
        NativeBackward::<N>.prepare::<NoCheckpointing>(parents.map(|p| p.node())).compute_bound().stateful();
    match prep {
        OpsKind::Tracked(prep) => {
            let leaves: Vec<tch::Tensor> = pins
                .iter()
                .zip(&tracked)
                .map(|(t, &track)| {
                    let l = t.tensor.detach();
                    if track {
                        l.set_requires_grad(true)
                    } else {
                        l
                    }
                })
                .collect();
            let y = tch::with_grad(|| f(&leaves));
            let output = TchTensor::new(y.detach());
            let leaves = leaves.into_iter().zip(&tracked).map(|(l, &track)| track.then_some(l)).collect();
            // The output is pinned too: ReLU saves it for its backward.
            let mut pins = pins;
            pins.push(output.clone());
            let graph = Graph { y, leaves, _pins: pins };
            prep.finish(SavedGraph(Arc::new(Mutex::new(Some(graph)))), output)
        }
        OpsKind::UnTracked(prep) => {
            let handles: Vec<tch::Tensor> = pins.iter().map(|t| t.tensor.shallow_clone()).collect();
            let y = tch::no_grad(|| f(&handles));
            prep.finish(TchTensor::new(y))
        }
    }
}

/// `at::convolution` (no transposition, dilation 1, one group), what `conv2d`/`conv3d` call.
fn convolution(
    x: &tch::Tensor,
    w: &tch::Tensor,
    b: &tch::Tensor,
    stride: &[i64],
    padding: &[i64],
) -> tch::Tensor {
    let ones = vec![1i64; stride.len()];
    let zeros = vec![0i64; stride.len()];
    tch::Tensor::convolution(x, w, Some(b), stride, padding, &ones, false, &zeros, 1)
}

fn to_i64(v: &[usize]) -> Vec<i64> {
    v.iter().map(|&s| s as i64).collect()
}

/// The libtorch handle of a tensor that burn does not differentiate (a running statistic).
#[allow(deprecated)]
fn untracked_handle(t: Tensor<1>) -> Option<tch::Tensor> {
    let t = if t.device().is_autodiff() { t.inner() } else { t };
    t.try_into_primitive::<LibTorch>().ok().map(|p| p.tensor)
}

/// Fewest input channels for which a training block runs its convolution channels-last.
const CHANNELS_LAST_MIN: i64 = 8;

/// `x` with channels-last strides (`NDHWC` in memory; shape and values unchanged) when it is a
/// 5-D tensor of at least [`CHANNELS_LAST_MIN`] channels, else `x`. oneDNN's 3-D convolution
/// backward is faster channels-last: measured in PyTorch at batch 16, the student's visual
/// prenet's convolutions take 1.71 s instead of 1.89 s forward and backward, and the student's
/// BCE step 1.84–1.94 s instead of 2.00–2.16 s (the first layer, three channels, is slower
/// channels-last and is left alone). The output of a channels-last convolution is channels-last,
/// and BatchNorm, the residual sum and ReLU keep it, so only the first wide block converts. The
/// forward's bits differ from the contiguous kernel's (the sums run in another order), which is
/// why inference, held to the golden outputs bit for bit, stays contiguous.
fn channels_last(x: &tch::Tensor) -> tch::Tensor {
    let size = x.size();
    if size.len() != 5 || size[1] < CHANNELS_LAST_MIN || x.stride()[1] == 1 {
        return x.shallow_clone();
    }
    x.permute([0, 2, 3, 4, 1]).contiguous().permute([0, 4, 1, 2, 3])
}

/// A prenet block in training (SPEC §2.2): `relu(bn(conv(x)) [+ x])`, with train-mode
/// BatchNorm (batch statistics) as `F.batch_norm(training=True)` computes it, all recorded as one
/// op whose backward is libtorch's (`ConvolutionBackward0`, `NativeBatchNormBackward0`,
/// `ReluBackward0`). The running statistics are updated as torch updates them, on a copy that
/// replaces `bn`'s state: `(1 − m)·running + m·batch`, the variance unbiased (`n/(n−1)`).
/// None when the tensors are not autodiff LibTorch ones.
pub(crate) fn conv_bn_relu<const D: usize>(
    x: &Tensor<D>,
    (weight, bias, stride, padding): (Tensor<D>, Tensor<1>, &[usize], &[usize]),
    bn: &BatchNorm,
    residual: bool,
) -> Option<Tensor<D>> {
    let device = x.device();
    let parents = [
        x.clone().try_into_primitive::<AutodiffTorch>().ok()?,
        weight.try_into_primitive::<AutodiffTorch>().ok()?,
        bias.try_into_primitive::<AutodiffTorch>().ok()?,
        bn.gamma.val().try_into_primitive::<AutodiffTorch>().ok()?,
        bn.beta.val().try_into_primitive::<AutodiffTorch>().ok()?,
    ];
    let running_mean = untracked_handle(bn.running_mean.value_sync())?.copy();
    let running_var = untracked_handle(bn.running_var.value_sync())?.copy();
    let (stride, padding) = (to_i64(stride), to_i64(padding));
    let out = record(parents, |t| {
        let z = convolution(&channels_last(&t[0]), &t[1], &t[2], &stride, &padding);
        let z = z.batch_norm(
            Some(&t[3]),
            Some(&t[4]),
            Some(&running_mean),
            Some(&running_var),
            true,
            bn.momentum,
            bn.epsilon,
            true,
        );
        let z = if residual { z + &t[0] } else { z };
        z.relu()
    });
    // burn gets copies: `NativeBatchNormBackward0` saved these two, and burn may write into a
    // tensor it holds alone (RunningState's sync divides in place), which libtorch's version
    // check would refuse at the backward.
    #[allow(deprecated)]
    let state =
        |t: &tch::Tensor| Tensor::<1>::from_primitive::<LibTorch>(TchTensor::new(t.copy())).autodiff();
    bn.running_mean.update(state(&running_mean).to_device(&device));
    bn.running_var.update(state(&running_var).to_device(&device));
    Some(Tensor::from_primitive::<AutodiffTorch>(out))
}

/// `x·Wᵀ + b` as `F.linear` computes it in PyTorch (`at::linear`: one `addmm` with the bias as
/// its addend when `x` is contiguous), for inference tensors on LibTorch; `weight` is in PyTorch's
/// `(out, in)` layout (a transposed view is fine). burn's generic `linear` runs a matmul and then
/// a separate broadcast add, one more pass over the output: in the evaluator's transformer part
/// (496 pairs a batch, the FFN's hidden layer is 31 MB) that pass is ~2 % of the time. None on
/// an autodiff device (training keeps burn's linear and its backward) or another backend.
pub(crate) fn linear<const D: usize>(x: &Tensor<D>, weight: Tensor<2>, bias: Tensor<1>) -> Option<Tensor<D>> {
    if x.device().is_autodiff() {
        return None;
    }
    #[allow(deprecated)]
    let handle = |t: TchTensor| t.tensor;
    #[allow(deprecated)]
    let [x, w, b] = [
        handle(x.clone().try_into_primitive::<LibTorch>().ok()?),
        handle(weight.try_into_primitive::<LibTorch>().ok()?),
        handle(bias.try_into_primitive::<LibTorch>().ok()?),
    ];
    let y = tch::no_grad(|| x.linear(&w, Some(&b)));
    #[allow(deprecated)]
    Some(Tensor::from_primitive::<LibTorch>(TchTensor::new(y)))
}

/// A [`Linear`] layer's forward through [`linear`] where that applies, else burn's.
pub(crate) fn apply<const D: usize>(layer: &Linear, x: Tensor<D>) -> Tensor<D> {
    if let Some(b) = &layer.bias {
        // burn stores (in, out); the transpose is a view in PyTorch's (out, in) layout
        if let Some(y) = linear(&x, layer.weight.val().transpose(), b.val()) {
            return y;
        }
    }
    layer.forward(x)
}

#[cfg(test)]
mod tests {
    use burn::module::{Param, RunningState};
    use burn::nn::conv::{Conv2dConfig, Conv3dConfig};
    use burn::nn::{BatchNormConfig, PaddingConfig2d, PaddingConfig3d};
    use burn::tensor::activation::relu;
    use burn::tensor::{Device, Distribution};

    use super::super::{batch_norm, Conv2dBlock, Conv3dBlock};
    use super::*;

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.inner().into_data().convert::<f32>().try_to_vec::<f32>().expect("f32")
    }

    /// Worst difference relative to the largest magnitude of `b`.
    fn relative(a: &[f32], b: &[f32]) -> f32 {
        assert_eq!(a.len(), b.len());
        let scale = b.iter().fold(0.0f32, |m, q| m.max(q.abs()));
        a.iter().zip(b).map(|(p, q)| (p - q).abs()).fold(0.0f32, f32::max) / scale
    }

    fn randomised(c: usize, device: &Device) -> BatchNorm {
        let mut bn: BatchNorm = BatchNormConfig::new(c).init(device);
        let param = |lo: f64, hi: f64| Tensor::<1>::random([c], Distribution::Uniform(lo, hi), device);
        bn.gamma = Param::from_tensor(param(0.5, 1.5));
        bn.beta = Param::from_tensor(param(-0.5, 0.5));
        bn.running_mean = RunningState::new(param(-0.3, 0.3));
        bn.running_var = RunningState::new(param(0.5, 2.0));
        bn
    }

    /// The native block (`native`) against burn's generic ops, the path it replaces (`generic`):
    /// the outputs and the gradients of the input and all four parameters agree to float
    /// reassociation, and both update the running statistics as torch does, from the batch
    /// statistics of the convolution's output `pre` (computed here in f64): `(1 − m)·running +
    /// m·batch`, the variance unbiased.
    fn check<const D: usize>(
        x: &Tensor<D>,
        bn: &BatchNorm,
        (native, generic, pre): (impl Fn() -> Tensor<D>, impl Fn() -> Tensor<D>, Tensor<D>),
        params: impl Fn(&burn::tensor::Gradients) -> Vec<Vec<f32>>,
    ) {
        let stats = || (values(bn.running_mean.value_sync()), values(bn.running_var.value_sync()));
        let start = stats();
        let y_native = native();
        let after_native = stats();
        bn.running_mean.update(Tensor::from_data(start.0.as_slice(), &x.device()));
        bn.running_var.update(Tensor::from_data(start.1.as_slice(), &x.device()));
        let y_generic = generic();
        let after_generic = stats();
        let forward = relative(&values(y_native.clone()), &values(y_generic.clone()));
        assert!(forward < 1e-5, "forward: worst difference {forward} of the largest");
        let target = Tensor::<D>::random(y_native.dims(), Distribution::Normal(0.0, 1.0), &x.device());
        let gn = (y_native * target.clone()).sum().backward();
        let gg = (y_generic * target).sum().backward();
        let worst = relative(&values(x.grad(&gn).expect("x")), &values(x.grad(&gg).expect("x")));
        assert!(worst < 1e-4, "input gradient: worst difference {worst} of the largest");
        // The convolution bias (parameter 1) has a zero gradient in exact arithmetic, as the
        // BatchNorm removes the mean: both sides are rounding noise, so it is held to the scale of
        // the weight's gradient instead.
        let (native, generic) = (params(&gn), params(&gg));
        let weight_scale = generic[0].iter().fold(0.0f32, |m, q| m.max(q.abs()));
        let noise = native[1].iter().chain(&generic[1]).fold(0.0f32, |m, q| m.max(q.abs()));
        assert!(noise < 1e-4 * weight_scale, "bias gradient {noise}, weight's up to {weight_scale}");
        for (i, (a, b)) in native.iter().zip(&generic).enumerate().filter(|(i, _)| *i != 1) {
            let worst = relative(a, b);
            assert!(worst < 1e-4, "parameter {i}: worst difference {worst} of the largest");
        }
        // torch's update, from the batch statistics in f64
        let c = pre.dims()[1];
        let z: Vec<f64> =
            values(pre.swap_dims(0, 1).reshape([c as i32, -1])).iter().map(|&v| v as f64).collect();
        let n = z.len() / c;
        let m = bn.momentum;
        let (mut mean, mut var) = (Vec::new(), Vec::new());
        for (k, row) in z.chunks(n).enumerate() {
            let mu = row.iter().sum::<f64>() / n as f64;
            let s2 = row.iter().map(|v| (v - mu) * (v - mu)).sum::<f64>() / (n - 1) as f64;
            mean.push(((1.0 - m) * start.0[k] as f64 + m * mu) as f32);
            var.push(((1.0 - m) * start.1[k] as f64 + m * s2) as f32);
        }
        for (name, got) in [("native", &after_native), ("generic", &after_generic)] {
            assert!(relative(&got.0, &mean) < 1e-5, "{name} running mean {:?}, torch's {mean:?}", got.0);
            assert!(relative(&got.1, &var) < 1e-5, "{name} running variance {:?}, torch's {var:?}", got.1);
        }
    }

    /// The gradients of a block's convolution weight and bias and its BatchNorm's γ and β.
    fn params_of<const D: usize>(
        weight: &Param<Tensor<D>>,
        bias: &Option<Param<Tensor<1>>>,
        bn: &BatchNorm,
        grads: &burn::tensor::Gradients,
    ) -> Vec<Vec<f32>> {
        let bias = bias.as_ref().expect("biased").val();
        let one = |t: Tensor<1>| values(t.grad(grads).expect("a gradient"));
        vec![
            values(weight.val().grad(grads).expect("a gradient")),
            one(bias),
            one(bn.gamma.val()),
            one(bn.beta.val()),
        ]
    }

    #[test]
    fn channels_last_keeps_shape_and_values() {
        let x = tch::Tensor::randn([2, 8, 3, 4, 5], (tch::Kind::Float, tch::Device::Cpu));
        let y = channels_last(&x);
        assert_eq!((y.size(), y.stride()[1]), (x.size(), 1));
        assert!(y.equal(&x));
        assert_eq!(channels_last(&y).data_ptr(), y.data_ptr(), "already channels-last: no copy");
        let thin = tch::Tensor::randn([2, 3, 3, 4, 5], (tch::Kind::Float, tch::Device::Cpu));
        assert_eq!(channels_last(&thin).stride(), thin.stride(), "under CHANNELS_LAST_MIN: as it was");
    }

    #[test]
    fn native_blocks_match_the_generic_ones() {
        let device = crate::device::DeviceSpec::Cpu.device().autodiff();
        device.seed(5);
        for residual in [false, true] {
            // 8 channels: the residual block runs channels-last (CHANNELS_LAST_MIN), the other not
            let (cin, stride) = if residual { (8, [1, 1, 1]) } else { (3, [2, 1, 1]) };
            let conv = Conv3dConfig::new([cin, 8], [3; 3])
                .with_stride(stride)
                .with_padding(PaddingConfig3d::Explicit(1, 1, 1))
                .init(&device);
            let block = Conv3dBlock { conv, bn: randomised(8, &device), residual };
            let x = Tensor::<5>::random([3, cin, 9, 7, 5], Distribution::Normal(0.0, 1.0), &device)
                .require_grad();
            let generic = || {
                let out = batch_norm(&block.bn, block.conv.forward(x.clone()));
                relu(if residual { out + x.clone() } else { out })
            };
            let params =
                |g: &burn::tensor::Gradients| params_of(&block.conv.weight, &block.conv.bias, &block.bn, g);
            let pre = block.conv.forward(x.clone());
            check(&x, &block.bn, (|| block.forward(x.clone()), generic, pre), params);
        }
        let conv = Conv2dConfig::new([2, 5], [3; 2])
            .with_stride([3, 1])
            .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
            .init(&device);
        let block = Conv2dBlock { conv, bn: randomised(5, &device), residual: false };
        let x = Tensor::<4>::random([4, 2, 20, 16], Distribution::Normal(0.0, 1.0), &device).require_grad();
        let generic = || relu(batch_norm(&block.bn, block.conv.forward(x.clone())));
        let params =
            |g: &burn::tensor::Gradients| params_of(&block.conv.weight, &block.conv.bias, &block.bn, g);
        let pre = block.conv.forward(x.clone());
        check(&x, &block.bn, (|| block.forward(x.clone()), generic, pre), params);
    }
}
