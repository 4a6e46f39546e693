//! The training objectives: BCE, MTD and its variants, and the paper's baselines (paper eq. 1–4,
//! SPEC §5), selected by [`LossConfig`] in the run config.
//!
//! One module per idea: [`config`] (kinds, weightings, pair indexing), [`behaviour`] (eq. 1: CAD,
//! VR, the V→A clamp), [`terms`] (eq. 2: the KL terms), [`weighting`] (eq. 3–4), [`baselines`]
//! (KD, RKD, MiniLM*, FitNets), [`bce`], and [`report`] (`trainer loss-terms`). [`compute`]
//! dispatches on the kind and fails, rather than falling back to BCE, when a step does not supply
//! what the objective reads.
//!
//! Exactness choices follow the authors' code by default (SPEC B, §5):
//! - KL(teacher ‖ student) as `nn.KLDivLoss(reduction="mean")(p_s.log(), p_t)` (§5.2);
//! - the V→A logits clamped at 1e-5 before the softmax, for teacher and student (§5.1);
//! - the student's taps come from its train-mode forward (dropout active), the teacher's from an
//!   eval-mode forward on a plain device, so they are constants (§4.3);
//! - uncertainty weights start at 1, have no positivity transform, and are trained by Adam with the
//!   model at the same learning rate (§5.3).

pub mod baselines;
pub mod bce;
pub mod behaviour;
pub mod config;
pub mod report;
pub mod terms;
pub mod weighting;

use burn::module::{Module, Param};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

pub use baselines::{fitnets, kd, minilm_star, rkd};
pub use bce::bce_with_logits;
pub use config::{
    pair_index, pair_name, term_key, Behaviours, Block, KdForm, LossConfig, LossKind, Weighting, AW25_PARAMS,
    LAYERS, PAIRS,
};
pub use terms::{kl_mean, mtd_terms};
pub use weighting::{combine, uncertainty, Weights};

use nets::model::{SyncTransformer, Taps};

/// A loss config that makes no sense, or a step that does not supply what its loss reads.
#[derive(Debug, thiserror::Error)]
pub enum LossError {
    /// `loss.layers` names no pair.
    #[error("loss.layers: unknown layer {0:?}; use F1..F4, AV1..AV4 or VA1..VA4")]
    UnknownLayer(String),
    /// `kind = "mtd"` with a weighting of NMTD.
    #[error("loss.weighting {0:?} is not an MTD weighting (uw13, uw25)")]
    NotMtdWeighting(Weighting),
    /// `kind = "nmtd"` with an uncertainty weighting.
    #[error("loss.weighting uw13/uw25 belongs to kind = \"mtd\"; nmtd takes uniform, manual, aw13, aw25")]
    UwForNmtd,
    /// `manual` with the wrong number of weights.
    #[error("loss.manual_weights has {0} values; give 12 (per layer) or 24 (CAD then VR)")]
    ManualWeights(usize),
    /// A temperature ≤ 0.
    #[error("loss temperatures must be positive")]
    Temperature,
    /// The step lacks an input the objective reads (a wiring bug, not a user error).
    #[error("loss {label}: the step supplied no {what}; this objective cannot be computed without it")]
    Missing {
        /// The objective's label.
        label: String,
        /// What is missing.
        what: &'static str,
    },
}

/// The learnable parts of a loss, trained with the model (SPEC §4.2: the second Adam group).
#[derive(Module, Debug)]
pub struct LossParams {
    /// Uncertainty or softmax weights, initialised to 1 (`nn.Parameter(torch.ones(n))`).
    pub weights: Option<Param<Tensor<1>>>,
    /// FitNets regressor from teacher width to student width.
    pub regressor: Option<Linear>,
}

impl LossParams {
    /// The parameters `cfg` needs for a teacher of width `d_teacher` and a student of `d_student`.
    pub fn new(cfg: &LossConfig, d_teacher: usize, d_student: usize, device: &Device) -> Self {
        let n = cfg.num_weights();
        Self {
            weights: (n > 0).then(|| Param::from_tensor(Tensor::ones([n], device))),
            regressor: (cfg.kind == LossKind::Fitnets)
                .then(|| LinearConfig::new(d_teacher, d_student).init(device)),
        }
    }
}

/// The student and its loss parameters: what Adam optimises.
#[derive(Module, Debug)]
pub struct Trainable {
    /// The model being trained.
    pub model: SyncTransformer,
    /// Learnable loss weights and regressors.
    pub loss: LossParams,
}

/// A computed objective.
pub struct LossOutput {
    /// The scalar to minimise, `[1]`.
    pub total: Tensor<1>,
    /// BCE on the student logits, `[1]`.
    pub bce: Tensor<1>,
    /// Named terms to log (the 24 KL terms when a teacher is present, KD/RKD/FitNets terms).
    pub terms: Vec<(String, Tensor<1>)>,
}

/// Everything a loss reads from one step.
pub struct StepInputs<'a> {
    /// Student logits `[B]`.
    pub logits: Tensor<1>,
    /// Student taps (when [`LossConfig::needs_taps`] or a teacher is present).
    pub taps: Option<&'a Taps>,
    /// Teacher logits and taps (eval mode, plain device; taps absent for KD).
    pub teacher: Option<(Tensor<1>, Option<&'a Taps>)>,
    /// Labels `[B]`.
    pub labels: Tensor<1>,
}

/// Computes the configured objective and every loggable term. Fails when `x` lacks what the
/// objective reads (teacher logits, either side's taps, the learnable weights or regressor).
pub fn compute(cfg: &LossConfig, params: &LossParams, x: StepInputs<'_>) -> Result<LossOutput, LossError> {
    let missing = |what| LossError::Missing { label: cfg.label(), what };
    let bce = bce_with_logits(x.logits.clone(), x.labels.clone());
    let mut terms: Vec<(String, Tensor<1>)> = Vec::new();
    let both_taps = match (x.taps, &x.teacher) {
        (Some(s), Some((_, Some(t)))) => Some((s, *t)),
        _ => None,
    };
    let kl = both_taps.map(|(s, t)| mtd_terms(s, t, cfg.temperature)).unwrap_or_default();
    for (k, (c, v)) in kl.iter().enumerate() {
        terms.push((term_key("cad", k), c.clone()));
        terms.push((term_key("vr", k), v.clone()));
    }
    let learned = || params.weights.as_ref().map(|w| w.val()).ok_or_else(|| missing("loss weights"));
    let total = match cfg.kind {
        LossKind::Bce => bce.clone(),
        LossKind::Mtd | LossKind::Nmtd => {
            both_taps.ok_or_else(|| missing("student and teacher taps"))?;
            let weights = match cfg.weighting {
                Weighting::Uniform => Weights::Uniform(cfg.alpha),
                Weighting::Manual => Weights::Manual(&cfg.manual_weights),
                Weighting::Uw13 | Weighting::Uw25 => Weights::Uncertainty(learned()?),
                Weighting::Aw13 | Weighting::Aw25 => Weights::Softmax(learned()?),
            };
            let pairs = cfg.selected_pairs()?;
            combine(cfg.weighting, &weights, bce.clone(), &kl, &pairs, cfg.behaviours)
        }
        LossKind::MinilmStar => {
            both_taps.ok_or_else(|| missing("student and teacher taps"))?;
            let (c, v) = minilm_star(&kl);
            bce.clone() + c + v
        }
        LossKind::Kd => {
            let (tl, _) = x.teacher.as_ref().ok_or_else(|| missing("teacher logits"))?;
            let k = kd(x.logits.clone(), tl.clone(), cfg.kd_temperature, cfg.kd_form);
            terms.push(("kd".into(), k.clone()));
            bce.clone() + k
        }
        LossKind::Rkd => {
            let (s, t) = both_taps.ok_or_else(|| missing("student and teacher taps"))?;
            let r = rkd(s.pooled.clone(), t.pooled.clone(), cfg.rkd_distance, cfg.rkd_angle);
            terms.push(("rkd".into(), r.clone()));
            bce.clone() + r
        }
        LossKind::Fitnets => {
            let (s, t) = both_taps.ok_or_else(|| missing("student and teacher taps"))?;
            let reg = params.regressor.as_ref().ok_or_else(|| missing("FitNets regressor"))?;
            let f = fitnets(s, t, reg);
            terms.push(("fitnets_mse".into(), f.clone()));
            bce.clone() + f * cfg.fitnets_beta
        }
    };
    Ok(LossOutput { total, bce, terms })
}
