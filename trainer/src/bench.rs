//! `trainer bench`: throughput of the model paths that training and distillation run.
//!
//! Each figure is samples per second over `iters` timed iterations after one warm-up, on random
//! inputs of the real shapes. They are measured in the same process, so their ratios are
//! meaningful on any machine; the absolute numbers depend on it.

use std::time::Instant;

use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Distribution, Tensor};
use serde::Serialize;

use crate::device::DeviceSpec;
use crate::loss::bce_with_logits;
use crate::model::Preset;

/// One measured path.
#[derive(Debug, Clone, Serialize)]
pub struct BenchResult {
    /// What was timed.
    pub name: String,
    /// Samples per second.
    pub samples_per_s: f64,
    /// Mean seconds per iteration.
    pub s_per_iter: f64,
}

fn time(iters: usize, batch: usize, name: &str, mut f: impl FnMut()) -> BenchResult {
    f(); // warm-up: allocator, kernels, page cache
    let start = Instant::now();
    for _ in 0..iters {
        f();
    }
    let s = start.elapsed().as_secs_f64() / iters as f64;
    BenchResult { name: name.to_string(), samples_per_s: batch as f64 / s, s_per_iter: s }
}

/// Teacher forward (eval), student forward + backward, and the full step (teacher forward +
/// student forward/backward + Adam update) at `batch`, with the given presets.
pub fn run(
    spec: DeviceSpec,
    batch: usize,
    iters: usize,
    teacher: Preset,
    student: Preset,
) -> Vec<BenchResult> {
    let device = spec.device();
    device.seed(0);
    let train_device = device.clone().autodiff();
    let teacher_model = teacher.config().init(&device);
    let mut student_model = student.config().init(&train_device);
    let mut optim = AdamConfig::new().with_epsilon(1e-8).init();
    let inputs = |d: &burn::tensor::Device| {
        (
            Tensor::<4>::random([batch, 15, 48, 96], Distribution::Uniform(0.0, 1.0), d),
            Tensor::<4>::random([batch, 1, 80, 16], Distribution::Uniform(-4.0, 4.0), d),
            Tensor::<1>::random([batch], Distribution::Bernoulli(0.5), d),
        )
    };
    let (f, m, _) = inputs(&device);
    let (sf, sm, sy) = inputs(&train_device);
    let mut out = Vec::new();
    out.push(time(iters, batch, &format!("teacher forward ({})", teacher.config().name), || {
        let _ = teacher_model.forward(f.clone(), m.clone()).into_data();
    }));
    out.push(time(iters, batch, &format!("student forward+backward ({})", student.config().name), || {
        let loss = bce_with_logits(student_model.forward(sf.clone(), sm.clone()), sy.clone());
        let _ = loss.backward();
    }));
    out.push(time(iters, batch, "full step: teacher fwd + student fwd/bwd + Adam", || {
        let _ = teacher_model.forward(f.clone(), m.clone()).into_data();
        let loss = bce_with_logits(student_model.forward(sf.clone(), sm.clone()), sy.clone());
        let grads = GradientsParams::from_grads(loss.backward(), &student_model);
        student_model = optim.step(5e-5, student_model.clone(), grads);
    }));
    out
}
