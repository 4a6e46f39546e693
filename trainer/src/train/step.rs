//! One training iteration (SPEC §4.2): teacher forward (eval, plain device) → student forward
//! (train mode) → loss → backward → Adam. `train` and `bench` both run this code, so what the
//! benchmark times is what training runs.

use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor, TensorData};
use features::{frames_shape, mel_shape};

use crate::data::Batch;
use crate::loss::{self, LossConfig, LossError, LossOutput, StepInputs, Trainable};
use nets::model::{ModelConfig, SyncTransformer};

/// A frozen teacher: evaluated in eval mode on the plain device, so its outputs are constants.
pub struct Teacher {
    /// The model.
    pub model: SyncTransformer,
    /// Its config (input convention, width).
    pub config: ModelConfig,
}

/// A `[b, 15, 48, 96]` frames tensor.
pub fn frames_tensor(v: Vec<f32>, b: usize, device: &Device) -> Tensor<4> {
    Tensor::from_data(TensorData::new(v, frames_shape(b)), device)
}

/// A `[b, 1, 80, 16]` mel tensor.
pub fn mels_tensor(v: Vec<f32>, b: usize, device: &Device) -> Tensor<4> {
    Tensor::from_data(TensorData::new(v, mel_shape(b)), device)
}

/// A `[n]` tensor.
pub fn vector(v: Vec<f32>, device: &Device) -> Tensor<1> {
    let n = v.len();
    Tensor::from_data(TensorData::new(v, [n]), device)
}

/// One batch on the devices a step reads it from.
pub struct StepBatch {
    /// Student frames (autodiff device).
    pub frames: Tensor<4>,
    /// Mels on the plain device (the teacher's).
    pub mels_plain: Tensor<4>,
    /// Labels (autodiff device).
    pub labels: Tensor<1>,
    /// The teacher's frames when it reads another input convention (plain device).
    pub teacher_frames: Option<Tensor<4>>,
}

impl StepBatch {
    /// Moves an assembled batch to `device` (teacher side) and `train_device` (student side).
    pub fn new(
        batch: Batch,
        teacher_frames: Option<Vec<f32>>,
        device: &Device,
        train_device: &Device,
    ) -> Self {
        let b = batch.labels.len();
        Self {
            mels_plain: mels_tensor(batch.mels, b, device),
            frames: frames_tensor(batch.frames, b, train_device),
            labels: vector(batch.labels, train_device),
            teacher_frames: teacher_frames.map(|f| frames_tensor(f, b, device)),
        }
    }
}

/// What one step optimises: the loss and, when the loss distils, the teacher.
pub struct Objective<'a> {
    /// The loss section of the run config.
    pub loss: &'a LossConfig,
    /// The teacher, present only when the loss reads it.
    pub teacher: Option<&'a Teacher>,
}

impl<'a> Objective<'a> {
    /// The objective of `loss`; `teacher` is dropped when the loss does not distil (a BCE run
    /// may load one for validation diagnostics only).
    pub fn new(loss: &'a LossConfig, teacher: Option<&'a Teacher>) -> Self {
        Self { loss, teacher: teacher.filter(|_| loss.needs_teacher()) }
    }

    /// The forward half of a step: the teacher (with taps when the loss reads them), the student
    /// (train mode: dropout from the device RNG), and the loss with every term.
    pub fn forward(&self, trainable: &Trainable, batch: StepBatch) -> Result<LossOutput, LossError> {
        let want_taps = self.loss.needs_taps();
        let mels = batch.mels_plain.clone().autodiff();
        let teacher_out = self.teacher.map(|t| {
            let tf = batch.teacher_frames.unwrap_or_else(|| batch.frames.clone().inner());
            if want_taps {
                let (l, taps) = t.model.forward_taps(tf, batch.mels_plain);
                (l, Some(taps))
            } else {
                (t.model.forward(tf, batch.mels_plain), None)
            }
        });
        let (logits, taps) = if want_taps {
            let (l, t) = trainable.model.forward_taps(batch.frames, mels);
            (l, Some(t))
        } else {
            (trainable.model.forward(batch.frames, mels), None)
        };
        loss::compute(
            self.loss,
            &trainable.loss,
            StepInputs {
                logits,
                taps: taps.as_ref(),
                teacher: teacher_out.as_ref().map(|(l, t)| (l.clone(), t.as_ref())),
                labels: batch.labels,
            },
        )
    }
}

/// The backward half of a step: gradients of `total` for the model and the loss parameters, and
/// one Adam update at `lr`.
pub fn update(trainable: Trainable, optim: &mut ModuleOptimizer, lr: f64, total: &Tensor<1>) -> Trainable {
    let grads = GradientsParams::from_grads(total.backward(), &trainable);
    optim.step(lr, trainable, grads)
}
