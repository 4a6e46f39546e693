//! Training convolutions whose backward pass is libtorch's own (issue #16).
//!
//! burn-tch 0.22 does not override `conv{2,3}d_{x,weight}_backward`, so burn-autodiff computes a
//! convolution's gradients with its generic formulas: a transposed convolution for the input and a
//! convolution with batch and channels swapped for the weight. PyTorch runs
//! `aten::convolution_backward` instead, which on the CPU is oneDNN's backward-data and
//! backward-weights kernels (1.04–1.72× faster per layer on the student's prenet, measured in
//! PyTorch at batch 16). tch 0.22 does not bind `convolution_backward` itself, so the forward is
//! recorded by libtorch's autograd on detached leaves that share the tensors' storage, and the
//! backward asks that graph for the gradients of `Σ y ⊙ g`: `MulBackward` hands exactly `g` to
//! `ConvolutionBackward0`, so the convolution receives burn's incoming gradient bit for bit.
//! The forward runs the same `at::convolution` as burn-tch's `conv2d`/`conv3d` (bit-identical).

use std::fmt;
use std::sync::{Arc, Mutex};

use burn::tensor::Tensor;
use burn_autodiff::checkpoint::base::Checkpointer;
use burn_autodiff::checkpoint::strategy::NoCheckpointing;
use burn_autodiff::grads::Gradients;
use burn_autodiff::ops::{Backward, Ops, OpsKind};
#[allow(deprecated)] // burn_tch's types are the tch entry points (STACK.md)
use burn_tch::{LibTorch, TchTensor};

#[allow(deprecated)]
type AutodiffTorch = burn_autodiff::Autodiff<LibTorch>;

/// One convolution's libtorch autograd graph, kept from the forward to the backward.
#[allow(deprecated)]
struct Graph {
    /// The output, with `ConvolutionBackward0` (which saved the input and weight) behind it.
    y: tch::Tensor,
    /// The input, weight and bias leaves; `Some` where burn tracks gradients through them.
    leaves: [Option<tch::Tensor>; 3],
    /// burn's handles of the input and weight. While they are held, burn-tch counts the storage
    /// as shared and never writes into it in place, so what ATen saved stays valid.
    _pins: [TchTensor; 2],
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
struct NativeConvBackward;

#[allow(deprecated)]
impl Backward<LibTorch, 3> for NativeConvBackward {
    type State = SavedGraph;

    fn backward(self, ops: Ops<SavedGraph, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<LibTorch>(&ops.node);
        let graph = ops
            .state
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
            .expect("a convolution's backward runs once");
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

/// A biased N-d convolution (`D` = N + 2) on an autodiff LibTorch device with libtorch's own
/// backward. None when they are not autodiff LibTorch tensors (the caller's generic path runs).
#[allow(deprecated)]
pub(crate) fn conv<const D: usize>(
    x: &Tensor<D>,
    weight: Tensor<D>,
    bias: Tensor<1>,
    stride: &[usize],
    padding: &[usize],
) -> Option<Tensor<D>> {
    let xa = x.clone().try_into_primitive::<AutodiffTorch>().ok()?;
    let wa = weight.try_into_primitive::<AutodiffTorch>().ok()?;
    let ba = bias.try_into_primitive::<AutodiffTorch>().ok()?;
    let stride: Vec<i64> = stride.iter().map(|&s| s as i64).collect();
    let padding: Vec<i64> = padding.iter().map(|&p| p as i64).collect();
    let tracked = [xa.is_tracked(), wa.is_tracked(), ba.is_tracked()];
    let (xt, wt, bt) = (xa.primitive().clone(), wa.primitive().clone(), ba.primitive().clone());
    let prep = NativeConvBackward
        .prepare::<NoCheckpointing>([xa.node(), wa.node(), ba.node()])
        .compute_bound()
        .stateful();
    let out = match prep {
        OpsKind::Tracked(prep) => {
            let leaf = |t: &TchTensor, track: bool| {
                let l = t.tensor.detach();
                if track {
                    l.set_requires_grad(true)
                } else {
                    l
                }
            };
            let leaves = [leaf(&xt, tracked[0]), leaf(&wt, tracked[1]), leaf(&bt, tracked[2])];
            let y = tch::with_grad(|| convolution(&leaves[0], &leaves[1], &leaves[2], &stride, &padding));
            let output = TchTensor::new(y.detach());
            let [lx, lw, lb] = leaves;
            let keep = |l: tch::Tensor, track: bool| track.then_some(l);
            let graph = Graph {
                y,
                leaves: [keep(lx, tracked[0]), keep(lw, tracked[1]), keep(lb, tracked[2])],
                _pins: [xt, wt],
            };
            prep.finish(SavedGraph(Arc::new(Mutex::new(Some(graph)))), output)
        }
        OpsKind::UnTracked(prep) => {
            let y = tch::no_grad(|| convolution(&xt.tensor, &wt.tensor, &bt.tensor, &stride, &padding));
            prep.finish(TchTensor::new(y))
        }
    };
    Some(Tensor::from_primitive::<AutodiffTorch>(out))
}

#[cfg(test)]
mod tests {
    use burn::nn::conv::Conv3dConfig;
    use burn::nn::PaddingConfig3d;
    use burn::tensor::Distribution;

    use super::*;

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().convert::<f32>().try_to_vec::<f32>().expect("f32")
    }

    /// Same forward bits as burn's conv3d; gradients equal to burn's generic ones up to float
    /// reassociation (the kernels sum in another order).
    #[test]
    fn native_backward_matches_the_generic_one() {
        let device = crate::device::DeviceSpec::Cpu.device().autodiff();
        device.seed(5);
        let layer = Conv3dConfig::new([3, 4], [3; 3])
            .with_stride([2, 1, 1])
            .with_padding(PaddingConfig3d::Explicit(1, 1, 2))
            .init(&device);
        let x = Tensor::<5>::random([2, 3, 9, 7, 5], Distribution::Normal(0.0, 1.0), &device).require_grad();
        let target = Tensor::<5>::random([2, 4, 5, 7, 7], Distribution::Normal(0.0, 1.0), &device);
        let bias = layer.bias.as_ref().expect("biased").val();
        let native =
            conv::<5>(&x, layer.weight.val(), bias, &[2, 1, 1], &[1, 1, 2]).expect("LibTorch autodiff");
        let generic = layer.forward(x.clone());
        assert_eq!(values(native.clone().inner()), values(generic.clone().inner()), "forward bits");
        let grads_native = (native * target.clone()).sum().backward();
        let grads_generic = (generic * target).sum().backward();
        let pairs = [
            (x.grad(&grads_native).map(values), x.grad(&grads_generic).map(values)),
            (
                layer.weight.val().grad(&grads_native).map(values),
                layer.weight.val().grad(&grads_generic).map(values),
            ),
            (
                layer.bias.as_ref().and_then(|b| b.val().grad(&grads_native)).map(values),
                layer.bias.as_ref().and_then(|b| b.val().grad(&grads_generic)).map(values),
            ),
        ];
        for (i, (a, b)) in pairs.into_iter().enumerate() {
            let (a, b) = (a.expect("native grad"), b.expect("generic grad"));
            assert_eq!(a.len(), b.len());
            // Relative to the largest gradient: the sums have hundreds of terms (490 per weight).
            let scale = b.iter().fold(0.0f32, |m, q| m.max(q.abs()));
            let worst = a.iter().zip(&b).map(|(p, q)| (p - q).abs()).fold(0.0f32, f32::max) / scale;
            assert!(worst < 2e-6, "gradient {i}: worst difference {worst} of the largest");
        }
    }
}
