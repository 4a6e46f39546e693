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
use crate::distill::{self, LossConfig, LossKind, LossParams, StepInputs, Trainable, Weighting};
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
    let student_model = student.config().init(&train_device);
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
    // The MTD step as training runs it: teacher forward with taps (eval), student forward with
    // taps (train mode), the UW-13D loss over all 24 terms, backward, Adam on model + weights.
    let cfg = LossConfig { kind: LossKind::Mtd, weighting: Weighting::Uw13, ..LossConfig::default() };
    let params = LossParams::new(&cfg, teacher.config().d_model, student.config().d_model, &train_device);
    let mut trainable = Trainable { model: student_model, loss: params };
    out.push(time(iters, batch, "full MTD step: teacher fwd + student fwd/bwd + UW-13D loss + Adam", || {
        let (tl, tt) = teacher_model.forward_taps(f.clone(), m.clone());
        let (sl, st) = trainable.model.forward_taps(sf.clone(), sm.clone());
        let loss = distill::compute(
            &cfg,
            &trainable.loss,
            StepInputs { logits: sl, taps: Some(&st), teacher: Some((tl, Some(&tt))), labels: sy.clone() },
        );
        let grads = GradientsParams::from_grads(loss.total.backward(), &trainable);
        trainable = optim.step(5e-5, trainable.clone(), grads);
    }));
    out
}

/// Share of step time a training step waits for data: the real pipeline (shards → sampled,
/// assembled batches on worker threads) feeding the student's forward/backward + Adam at `batch`.
/// Returns (wait fraction, samples/s of the whole loop).
pub fn data_wait(
    spec: DeviceSpec,
    shards: &std::path::Path,
    split: &str,
    batch: usize,
    iters: usize,
    student: Preset,
) -> Result<(f64, f64), String> {
    let device = spec.device().autodiff();
    device.seed(0);
    let mut model = student.config().init(&device);
    let mut optim = AdamConfig::new().with_epsilon(1e-8).init();
    let cfg = crate::data::StreamConfig {
        shards: shards.to_path_buf(),
        split: split.to_string(),
        batch,
        buffer_utts: 64,
        windows_per_utt: 8,
        prefetch: 4,
        seed: 1,
    };
    let rx = crate::data::batches(&cfg, student.config().input, None, 0)?;
    let (mut wait, mut total) = (0.0, 0.0);
    for i in 0..=iters {
        let t0 = Instant::now();
        let (b, _) = rx.recv().map_err(|_| "data pipeline stopped".to_string())??;
        let waited = t0.elapsed().as_secs_f64();
        let n = b.labels.len();
        let frames = Tensor::from_data(burn::tensor::TensorData::new(b.frames, [n, 15, 48, 96]), &device);
        let mels = Tensor::from_data(burn::tensor::TensorData::new(b.mels, [n, 1, 80, 16]), &device);
        let y = Tensor::from_data(burn::tensor::TensorData::new(b.labels, [n]), &device);
        let loss = bce_with_logits(model.forward(frames, mels), y);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(5e-5, model, grads);
        if i > 0 {
            // the first iteration fills the pipeline and warms up
            wait += waited;
            total += t0.elapsed().as_secs_f64();
        }
    }
    Ok((wait / total.max(1e-9), (iters * batch) as f64 / total.max(1e-9)))
}
