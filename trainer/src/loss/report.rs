//! `trainer loss-terms`: every MTD term and total for a teacher/student pair on given inputs, under
//! the key names of `../shared/golden/losses.json`, so users can check the losses against PyTorch.

use std::collections::BTreeMap;

use burn::tensor::Device;
use serde_json::{json, Map, Value};

use super::{compute, kd, KdForm, LossConfig, LossError, LossKind, LossParams, StepInputs, Weighting, PAIRS};
use nets::model::SyncTransformer;
use nets::tensor_io::{model_inputs, HostTensor, TensorIoError};

/// Why the terms could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The inputs file lacks a tensor or has the wrong shapes.
    #[error(transparent)]
    Inputs(#[from] TensorIoError),
    /// A loss could not be computed.
    #[error(transparent)]
    Loss(#[from] LossError),
}

/// Runs both models in eval mode (`device` must not be autodiff) on `input.frames`, `input.mel`
/// and `input.labels` and returns `{bce, terms{cad.B.L, vr.B.L}, uw13_total_init_ones,
/// uw25_total_init_ones, aw13_total_init_ones, aw25_total_init_ones, kd_T5_batch_softmax}`.
pub fn loss_terms(
    teacher: &SyncTransformer,
    student: &SyncTransformer,
    inputs: &BTreeMap<String, HostTensor>,
    device: &Device,
) -> Result<Value, ReportError> {
    let (frames, mel, labels) = model_inputs(inputs, true, device)?;
    let labels = labels.expect("asked for labels");
    let (t_logits, t_taps) = teacher.forward_taps(frames.clone(), mel.clone());
    let (s_logits, s_taps) = student.forward_taps(frames, mel);
    let scalar = |t: burn::tensor::Tensor<1>| t.into_scalar::<f32>() as f64;
    let run = |kind: LossKind, weighting: Weighting| {
        let cfg = LossConfig { kind, weighting, ..LossConfig::default() };
        let params = LossParams::new(&cfg, 1, 1, device);
        compute(
            &cfg,
            &params,
            StepInputs {
                logits: s_logits.clone(),
                taps: Some(&s_taps),
                teacher: Some((t_logits.clone(), Some(&t_taps))),
                labels: labels.clone(),
            },
        )
    };
    let uw13 = run(LossKind::Mtd, Weighting::Uw13)?;
    let mut terms = Map::new();
    for (k, v) in &uw13.terms {
        terms.insert(k.clone(), json!(scalar(v.clone())));
    }
    debug_assert_eq!(terms.len(), 2 * PAIRS);
    let kd = kd(s_logits.clone(), t_logits.clone(), 5.0, KdForm::BatchSoftmax);
    Ok(json!({
        "bce": scalar(uw13.bce),
        "terms": terms,
        "uw13_total_init_ones": scalar(uw13.total),
        "uw25_total_init_ones": scalar(run(LossKind::Mtd, Weighting::Uw25)?.total),
        "aw13_total_init_ones": scalar(run(LossKind::Nmtd, Weighting::Aw13)?.total),
        "aw25_total_init_ones": scalar(run(LossKind::Nmtd, Weighting::Aw25)?.total),
        "kd_T5_batch_softmax": scalar(kd),
    }))
}
