//! `trainer loss-terms`: every MTD term and total for a teacher/student pair on given inputs, under
//! the key names of `../shared/golden/losses.json`, so users can check the losses against PyTorch.

use std::collections::BTreeMap;

use burn::tensor::Device;
use serde_json::{json, Map, Value};

use crate::distill::{self, KdForm, LossConfig, LossKind, LossParams, StepInputs, Weighting, PAIRS};
use crate::model::SyncTransformer;
use crate::tensor_io::HostTensor;

/// Runs both models in eval mode (`device` must not be autodiff) on `input.frames`, `input.mel`
/// and `input.labels` and returns `{bce, terms{cad.B.L, vr.B.L}, uw13_total_init_ones,
/// uw25_total_init_ones, aw13_total_init_ones, aw25_total_init_ones, kd_T5_batch_softmax}`.
pub fn loss_terms(
    teacher: &SyncTransformer,
    student: &SyncTransformer,
    inputs: &BTreeMap<String, HostTensor>,
    device: &Device,
) -> Result<Value, String> {
    let get = |k: &str| inputs.get(k).ok_or_else(|| format!("inputs lack tensor {k:?}"));
    let frames = get("input.frames")?.to_tensor::<4>(device).map_err(|e| format!("input.frames: {e}"))?;
    let mel = get("input.mel")?.to_tensor::<4>(device).map_err(|e| format!("input.mel: {e}"))?;
    let labels = get("input.labels")?.to_tensor::<1>(device).map_err(|e| format!("input.labels: {e}"))?;
    let (fd, md, ld) = (frames.dims(), mel.dims(), labels.dims());
    if fd[1..] != [15, 48, 96] || md[1..] != [1, 80, 16] || fd[0] != md[0] || ld[0] != fd[0] {
        return Err(format!(
            "expected input.frames [B,15,48,96], input.mel [B,1,80,16], input.labels [B]; got {fd:?}, {md:?}, {ld:?}"
        ));
    }
    let (t_logits, t_taps) = teacher.forward_taps(frames.clone(), mel.clone());
    let (s_logits, s_taps) = student.forward_taps(frames, mel);
    let scalar = |t: burn::tensor::Tensor<1>| t.into_scalar::<f32>() as f64;
    let run = |kind: LossKind, weighting: Weighting| {
        let cfg = LossConfig { kind, weighting, ..LossConfig::default() };
        let params = LossParams::new(&cfg, 1, 1, device);
        distill::compute(
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
    let uw13 = run(LossKind::Mtd, Weighting::Uw13);
    let mut terms = Map::new();
    for (k, v) in &uw13.terms {
        terms.insert(k.clone(), json!(scalar(v.clone())));
    }
    debug_assert_eq!(terms.len(), 2 * PAIRS);
    let kd = distill::kd(s_logits.clone(), t_logits.clone(), 5.0, KdForm::BatchSoftmax);
    Ok(json!({
        "bce": scalar(uw13.bce),
        "terms": terms,
        "uw13_total_init_ones": scalar(uw13.total),
        "uw25_total_init_ones": scalar(run(LossKind::Mtd, Weighting::Uw25).total),
        "aw13_total_init_ones": scalar(run(LossKind::Nmtd, Weighting::Aw13).total),
        "aw25_total_init_ones": scalar(run(LossKind::Nmtd, Weighting::Aw25).total),
        "kd_T5_batch_softmax": scalar(kd),
    }))
}
