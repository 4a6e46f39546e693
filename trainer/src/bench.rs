//! `trainer bench`: throughput of the model paths that training and distillation run.
//!
//! Each figure is samples per second over `iters` timed iterations after one warm-up, on random
//! inputs of the real shapes. They are measured in the same process, so their ratios are
//! meaningful on any machine; the absolute numbers depend on it. The steps are the training
//! loop's own ([`crate::train::step`]).

use std::time::Instant;

use burn::optim::AdamConfig;
use burn::tensor::{Device, Distribution, Tensor};
use features::{frames_shape, mel_shape};
use serde::Serialize;

use crate::data::{DataError, StreamConfig};
use crate::loss::{LossConfig, LossKind, LossParams, Trainable, Weighting};
use crate::train::step::{self, Objective, StepBatch, Teacher};
use nets::device::DeviceSpec;
use nets::model::Preset;

/// One measured path.
#[derive(Debug, Clone, Serialize)]
pub struct BenchResult {
    /// What was timed.
    pub name: String,
    /// Samples per second.
    pub samples_per_s: f64,
    /// Mean seconds per iteration.
    pub s_per_iter: f64,
    /// The process's peak resident set size after this path, in MB (the paths run in order, so
    /// each figure covers the ones before it too); None where the OS does not say.
    pub peak_rss_mb: Option<f64>,
}

fn time(iters: usize, batch: usize, name: &str, mut f: impl FnMut()) -> BenchResult {
    f(); // warm-up: allocator, kernels, page cache
    let start = Instant::now();
    for _ in 0..iters {
        f();
    }
    let s = start.elapsed().as_secs_f64() / iters as f64;
    let peak_rss_mb = nets::heap::peak_rss_mb();
    BenchResult { name: name.to_string(), samples_per_s: batch as f64 / s, s_per_iter: s, peak_rss_mb }
}

/// Random inputs of the real shapes: frames in [0, 1), mels in [−4, 4), fair labels.
fn random_batch(b: usize, device: &Device, train_device: &Device) -> StepBatch {
    StepBatch {
        frames: Tensor::random(frames_shape(b), Distribution::Uniform(0.0, 1.0), train_device),
        mels_plain: Tensor::random(mel_shape(b), Distribution::Uniform(-4.0, 4.0), device),
        labels: Tensor::random([b], Distribution::Bernoulli(0.5), train_device),
        teacher_frames: Some(Tensor::random(frames_shape(b), Distribution::Uniform(0.0, 1.0), device)),
    }
}

/// Teacher forward (eval), the student's BCE step (forward + backward + Adam) and the full MTD
/// step (teacher forward with taps + student forward/backward + UW-13D loss + Adam) at `batch`.
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
    let teacher = Teacher { model: teacher.config().init(&device), config: teacher.config() };
    let inputs = random_batch(batch, &device, &train_device);
    let input = || StepBatch {
        frames: inputs.frames.clone(),
        mels_plain: inputs.mels_plain.clone(),
        labels: inputs.labels.clone(),
        teacher_frames: inputs.teacher_frames.clone(),
    };
    let mut out = Vec::new();
    out.push(time(iters, batch, &format!("teacher forward ({})", teacher.config.name), || {
        let f = inputs.teacher_frames.clone().expect("teacher frames");
        let _ = teacher.model.forward(f, inputs.mels_plain.clone()).into_data();
    }));
    let s_cfg = student.config();
    for (cfg, name) in [
        (LossConfig::default(), format!("student BCE step: fwd+bwd+Adam ({})", s_cfg.name)),
        (
            LossConfig { kind: LossKind::Mtd, weighting: Weighting::Uw13, ..LossConfig::default() },
            "full MTD step: teacher fwd + student fwd/bwd + UW-13D loss + Adam".to_string(),
        ),
    ] {
        let params = LossParams::new(&cfg, teacher.config.d_model, s_cfg.d_model, &train_device);
        let mut trainable = Some(Trainable { model: s_cfg.init(&train_device), loss: params });
        let mut optim = AdamConfig::new().with_epsilon(1e-8).init();
        let objective = Objective::new(&cfg, Some(&teacher));
        out.push(time(iters, batch, &name, || {
            let t = trainable.take().expect("the model comes back after each step");
            let loss = objective.forward(&t, input()).expect("bench objectives are wired");
            trainable = Some(step::update(t, &mut optim, 5e-5, &loss.total));
        }));
    }
    out
}

/// The data pipeline alone (`trainer bench-data`): samples/s of raw batches of `split` assembled
/// for the MTDVocaLiST input convention, over `batches` batches after one warm-up batch.
pub fn data_pipeline(
    shards: &std::path::Path,
    split: &str,
    batch: usize,
    batches: usize,
    buffer_utts: usize,
) -> Result<f64, DataError> {
    let cfg = StreamConfig {
        shards: shards.to_path_buf(),
        split: split.to_string(),
        batch,
        buffer_utts,
        windows_per_utt: 8,
        prefetch: 8,
        seed: 1,
    };
    let rx = crate::data::raw_batches(&cfg)?;
    let conv = Preset::Mtdvocalist.config().input;
    let next = || rx.recv().unwrap_or(Err(DataError::Stopped));
    let _ = crate::data::assemble(&next()?, &conv);
    let t = Instant::now();
    for _ in 0..batches {
        std::hint::black_box(crate::data::assemble(&next()?, &conv));
    }
    Ok((batches * batch) as f64 / t.elapsed().as_secs_f64())
}

/// [`run`], plus with `shards` the training loop on real batches of `split` and the share of its
/// step time spent waiting for data.
pub fn run_all(
    spec: DeviceSpec,
    batch: usize,
    iters: usize,
    (teacher, student): (Preset, Preset),
    shards: Option<(&std::path::Path, &str)>,
) -> Result<Vec<BenchResult>, DataError> {
    let mut results = run(spec, batch, iters, teacher, student);
    if let Some((dir, split)) = shards {
        let (wait, rate) = data_wait(spec, dir, split, batch, iters.max(10), student)?;
        results.push(BenchResult {
            name: format!(
                "student training loop on real batches: {:.1} % of step time waiting for data",
                100.0 * wait
            ),
            samples_per_s: rate,
            s_per_iter: batch as f64 / rate,
            peak_rss_mb: nets::heap::peak_rss_mb(),
        });
    }
    Ok(results)
}

/// Share of step time a training step waits for data: the real pipeline (shards → sampled,
/// assembled batches on worker threads) feeding the student's BCE step at `batch`.
/// Returns (wait fraction, samples/s of the whole loop).
pub fn data_wait(
    spec: DeviceSpec,
    shards: &std::path::Path,
    split: &str,
    batch: usize,
    iters: usize,
    student: Preset,
) -> Result<(f64, f64), DataError> {
    let device = spec.device();
    let train_device = device.clone().autodiff();
    device.seed(0);
    let cfg = LossConfig::default();
    let mut trainable = Trainable {
        model: student.config().init(&train_device),
        loss: LossParams::new(&cfg, 1, 1, &train_device),
    };
    let mut optim = AdamConfig::new().with_epsilon(1e-8).init();
    let objective = Objective::new(&cfg, None);
    let stream = StreamConfig {
        shards: shards.to_path_buf(),
        split: split.to_string(),
        batch,
        buffer_utts: 64,
        windows_per_utt: 8,
        prefetch: 4,
        seed: 1,
    };
    let rx = crate::data::batches(&stream, student.config().input, None, 0)?;
    let (mut wait, mut total) = (0.0, 0.0);
    for i in 0..=iters {
        let t0 = Instant::now();
        let (b, _) = rx.recv().unwrap_or(Err(DataError::Stopped))?;
        let waited = t0.elapsed().as_secs_f64();
        let loss = objective
            .forward(&trainable, StepBatch::new(b, None, &device, &train_device))
            .expect("BCE needs nothing but the batch");
        trainable = step::update(trainable, &mut optim, 5e-5, &loss.total);
        if i > 0 {
            // the first iteration fills the pipeline and warms up
            wait += waited;
            total += t0.elapsed().as_secs_f64();
        }
    }
    Ok((wait / total.max(1e-9), (iters * batch) as f64 / total.max(1e-9)))
}
