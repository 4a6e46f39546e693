//! The training objectives: BCE, MTD and its variants, and the paper's baselines (paper eq. 1–4,
//! SPEC §5), selected by [`LossConfig`] in the run config.
//!
//! Exactness choices follow the authors' code by default (SPEC B, §5):
//! - KL(teacher ‖ student) as `nn.KLDivLoss(reduction="mean")(p_s.log(), p_t)`: the mean over
//!   every element of `[B·H, Lq, Lk]`, with `log(softmax)` rather than `log_softmax` (§5.2);
//! - the V→A logits clamped at 1e-5 before the softmax, for teacher and student (§5.1);
//! - the student's taps come from its train-mode forward (dropout active), the teacher's from an
//!   eval-mode forward on a plain device, so they are constants (§4.3);
//! - uncertainty weights start at 1, have no positivity transform, and are trained by Adam with the
//!   model at the same learning rate (§5.3).

use burn::module::{Module, Param};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::{log_softmax, sigmoid, softmax};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::behaviour::{cad, vr};
use crate::loss::bce_with_logits;
use crate::model::{LayerTaps, SyncTransformer, Taps};

/// The three cross-modal blocks in the order the MTD code iterates them (SPEC §5.1).
pub const BLOCKS: [&str; 3] = ["fus", "av", "va"];
/// Layers per block.
pub const LAYERS: usize = 4;
/// Number of (block, layer) pairs.
pub const PAIRS: usize = BLOCKS.len() * LAYERS;
/// Size of the AW-25D parameter vector in the authors' code (see [`Weighting::Aw25`]).
pub const AW25_PARAMS: usize = 1 + 4 * PAIRS;

/// Which objective a run optimises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossKind {
    /// `BCEWithLogits` only (SPEC §4.2): the teacher and the "BCE only" student.
    Bce,
    /// BCE + uncertainty-weighted CAD and VR terms (paper eq. 4, SPEC §5.3): `uw13` or `uw25`.
    Mtd,
    /// BCE + a fixed or softmax-weighted sum of CAD and VR terms (paper eq. 3, SPEC §5.4).
    Nmtd,
    /// BCE + Hinton KD on the logits, T = 5 (SPEC §5.5).
    Kd,
    /// BCE + relational KD (distance and angle) on the pooled fusion features (SPEC §5.5).
    Rkd,
    /// BCE + CAD + VR of the last fusion layer only (paper §4.2, SPEC §5.4).
    MinilmStar,
    /// BCE + β·MSE(student block outputs, regressor(teacher block outputs)) (SPEC §5.5).
    Fitnets,
}

/// How the per-layer CAD/VR terms are weighted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Weighting {
    /// One uncertainty weight per layer shared by CAD and VR, plus one for BCE (the authors' default).
    Uw13,
    /// Separate uncertainty weights for CAD and VR (the paper's best).
    Uw25,
    /// `alpha · Σ (CAD + VR)` (NMTD as in `transdistill_layer_select_clip_c3_full_layers.py`).
    Uniform,
    /// Fixed per-layer weights from `manual_weights`.
    Manual,
    /// `softmax(params)` over 13 learnable values (BCE + one per layer), no regulariser.
    Aw13,
    /// `softmax(params)` with BCE at index 0, CAD at 1..=12 and VR at 13..=24. As the authors'
    /// file computes it, the softmax runs over 49 values (indices 25..49 weight nothing but take
    /// their share of the mass): `../shared/golden/losses.json` gives `aw25_total_init_ones`
    /// = (BCE + ΣCAD + ΣVR)/49, not /25, and this reproduces it.
    Aw25,
}

/// Which behaviours enter the loss (Table 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Behaviours {
    /// CAD and VR.
    Both,
    /// Cross-attention distributions only.
    CadOnly,
    /// Value relations only.
    VrOnly,
}

/// KD's softmax form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KdForm {
    /// As coded: softmax of the scalar logits across the batch, `batchmean` KL (SPEC §5.5).
    BatchSoftmax,
    /// The standard per-sample binary form: KL between Bernoulli(σ(t/T)) and Bernoulli(σ(s/T)).
    Binary,
}

/// The loss section of a run config. Every field has a default; unused fields are ignored by
/// objectives that do not read them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LossConfig {
    /// Objective (default `bce`).
    pub kind: LossKind,
    /// Weighting of the CAD/VR terms: `uw13`/`uw25` for `mtd` (default `uw13`), `uniform`,
    /// `manual`, `aw13`, `aw25` for `nmtd`.
    pub weighting: Weighting,
    /// (block, layer) pairs to distil, as `F1..F4`, `AV1..AV4`, `VA1..VA4` (Fig. 3); empty = all 12.
    pub layers: Vec<String>,
    /// CAD and VR, or one of them (Table 2).
    pub behaviours: Behaviours,
    /// Scale of the `uniform` sum (`distillzoo.ini [transdistill_all_layers] alpha = 1`).
    pub alpha: f64,
    /// `manual` weights: 12 (one per layer, shared by CAD and VR) or 24 (CAD then VR), in
    /// fus, av, va order.
    pub manual_weights: Vec<f64>,
    /// Softmax temperature of CAD/VR (`temperature = 1` in the default config; the KL is × T²).
    pub temperature: f64,
    /// KD temperature (5).
    pub kd_temperature: f64,
    /// KD form.
    pub kd_form: KdForm,
    /// RKD distance weight (25).
    pub rkd_distance: f64,
    /// RKD angle weight (50).
    pub rkd_angle: f64,
    /// FitNets β (100).
    pub fitnets_beta: f64,
}

impl Default for LossConfig {
    fn default() -> Self {
        Self {
            kind: LossKind::Bce,
            weighting: Weighting::Uw13,
            layers: Vec::new(),
            behaviours: Behaviours::Both,
            alpha: 1.0,
            manual_weights: Vec::new(),
            temperature: 1.0,
            kd_temperature: 5.0,
            kd_form: KdForm::BatchSoftmax,
            rkd_distance: 25.0,
            rkd_angle: 50.0,
            fitnets_beta: 100.0,
        }
    }
}

/// Name of pair `k` (0-based, fus/av/va order) as in Fig. 3: `F1`, `AV1`, `VA4`, …
pub fn pair_name(k: usize) -> String {
    let prefix = ["F", "AV", "VA"][k / LAYERS];
    format!("{prefix}{}", k % LAYERS + 1)
}

/// Golden/metric key of a term: `cad.fus.0`, `vr.va.3`.
pub fn term_key(behaviour: &str, k: usize) -> String {
    format!("{behaviour}.{}.{}", BLOCKS[k / LAYERS], k % LAYERS)
}

impl LossConfig {
    /// Checks the combination and resolves the layer list to pair indices.
    pub fn selected_pairs(&self) -> Result<Vec<usize>, String> {
        if self.layers.is_empty() {
            return Ok((0..PAIRS).collect());
        }
        let mut out = Vec::new();
        for name in &self.layers {
            let k = (0..PAIRS).find(|&k| pair_name(k).eq_ignore_ascii_case(name)).ok_or_else(|| {
                format!("loss.layers: unknown layer {name:?}; use F1..F4, AV1..AV4 or VA1..VA4")
            })?;
            if !out.contains(&k) {
                out.push(k);
            }
        }
        out.sort_unstable();
        Ok(out)
    }

    /// Checks that the fields make sense for the kind.
    pub fn validate(&self) -> Result<(), String> {
        self.selected_pairs()?;
        match (self.kind, self.weighting) {
            (LossKind::Mtd, Weighting::Uw13 | Weighting::Uw25) => {}
            (LossKind::Mtd, w) => {
                return Err(format!("loss.weighting {w:?} is not an MTD weighting (uw13, uw25)"))
            }
            (LossKind::Nmtd, Weighting::Uw13 | Weighting::Uw25) => return Err(
                "loss.weighting uw13/uw25 belongs to kind = \"mtd\"; nmtd takes uniform, manual, aw13, aw25"
                    .into(),
            ),
            (LossKind::Nmtd, Weighting::Manual)
                if self.manual_weights.len() != PAIRS && self.manual_weights.len() != 2 * PAIRS =>
            {
                return Err(format!(
                    "loss.manual_weights has {} values; give 12 (per layer) or 24 (CAD then VR)",
                    self.manual_weights.len()
                ));
            }
            _ => {}
        }
        if self.temperature <= 0.0 || self.kd_temperature <= 0.0 {
            return Err("loss temperatures must be positive".into());
        }
        Ok(())
    }

    /// Whether the objective needs a teacher.
    pub fn needs_teacher(&self) -> bool {
        self.kind != LossKind::Bce
    }

    /// Whether the objective reads the student's taps.
    pub fn needs_taps(&self) -> bool {
        !matches!(self.kind, LossKind::Bce | LossKind::Kd)
    }

    /// Number of learnable loss weights (0 when the weighting is fixed).
    pub fn num_weights(&self) -> usize {
        match (self.kind, self.weighting) {
            (LossKind::Mtd | LossKind::Nmtd, Weighting::Uw13 | Weighting::Aw13) => 1 + PAIRS,
            (LossKind::Mtd | LossKind::Nmtd, Weighting::Uw25) => 1 + 2 * PAIRS,
            (LossKind::Mtd | LossKind::Nmtd, Weighting::Aw25) => AW25_PARAMS,
            _ => 0,
        }
    }

    /// Short label of the objective for tables: `mtd-uw25`, `nmtd-uniform`, `kd`, …
    pub fn label(&self) -> String {
        let w = |w: Weighting| serde_json::to_value(w).ok().and_then(|v| v.as_str().map(str::to_owned));
        let kind = serde_json::to_value(self.kind).ok().and_then(|v| v.as_str().map(str::to_owned));
        let kind = kind.unwrap_or_default();
        match self.kind {
            LossKind::Mtd | LossKind::Nmtd => format!("{kind}-{}", w(self.weighting).unwrap_or_default()),
            _ => kind,
        }
    }
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

/// `nn.KLDivLoss(reduction="mean")(p_s.log(), p_t)`: `mean(xlogy(p_t, p_t) − p_t·log p_s)` over
/// every element (SPEC §5.2). Where p_t = 0 the first product is 0, as in torch.
pub fn kl_mean<const D: usize>(p_t: Tensor<D>, p_s: Tensor<D>) -> Tensor<1> {
    let zero = p_t.clone().equal_elem(0.0);
    let t_log_t = (p_t.clone() * p_t.clone().log()).mask_fill(zero, 0.0);
    (t_log_t - p_t * p_s.log()).mean()
}

/// CAD and VR KL terms of one (block, layer) pair at temperature `temp` (× T²).
fn pair_terms(s: &LayerTaps, t: &LayerTaps, clamp: bool, temp: f64) -> (Tensor<1>, Tensor<1>) {
    let scaled = |taps: &LayerTaps| {
        let mut a = taps.attn.clone();
        if temp != 1.0 {
            a.logits = a.logits / temp;
            a.v_scaled = a.v_scaled / temp;
        }
        a
    };
    let (sa, ta) = (scaled(s), scaled(t));
    let t2 = temp * temp;
    let c = kl_mean(cad(&ta, clamp), cad(&sa, clamp)) * t2;
    let v = kl_mean(vr(&ta), vr(&sa)) * t2;
    (c, v)
}

/// The 24 KL terms, in fus, av, va order: `(cad[k], vr[k])` for k in 0..12.
pub fn mtd_terms(student: &Taps, teacher: &Taps, temp: f64) -> Vec<(Tensor<1>, Tensor<1>)> {
    let blocks = [
        (&student.fus.1, &teacher.fus.1, false),
        (&student.av.1, &teacher.av.1, false),
        (&student.va.1, &teacher.va.1, true),
    ];
    let mut out = Vec::with_capacity(PAIRS);
    for (s, t, clamp) in blocks {
        for l in 0..LAYERS {
            // Teacher tensors live on a plain device: autodiff treats them as constants.
            out.push(pair_terms(&s[l], &t[l], clamp, temp));
        }
    }
    out
}

/// `0.5/w² · L + ln(1 + w²)` (paper eq. 4, SPEC §5.3).
pub fn uncertainty(loss: Tensor<1>, w: Tensor<1>) -> Tensor<1> {
    let w2 = w.powi_scalar(2);
    loss * w2.clone().recip() * 0.5 + (w2 + 1.0).log()
}

/// Smooth L1 (β = 1), mean reduction.
fn smooth_l1<const D: usize>(x: Tensor<D>, y: Tensor<D>) -> Tensor<1> {
    let d = (x - y).abs();
    let small = d.clone().lower_elem(1.0);
    let quad = d.clone().powi_scalar(2) * 0.5;
    let lin = d - 0.5;
    lin.mask_where(small, quad).mean()
}

/// Pairwise Euclidean distances `[B, B]`, zero diagonal, normalised by the mean positive distance
/// (`RKD.py: pdist(squared=False)` then `/ d[d > 0].mean()`).
fn rkd_distances(e: Tensor<2>) -> Tensor<2> {
    let [b, _] = e.dims();
    let sq = e.clone().powi_scalar(2).sum_dim(1); // [B, 1]
    let prod = e.clone().matmul(e.transpose());
    let d = (sq.clone() + sq.transpose() - prod * 2.0).clamp_min(1e-12).sqrt();
    let eye = Tensor::<2>::eye(b, &d.device()).equal_elem(1.0);
    let d = d.mask_fill(eye, 0.0);
    let positive = d.clone().greater_elem(0.0).float().sum();
    let mean = d.clone().sum() / positive.clamp_min(1.0);
    d / mean.reshape([1, 1])
}

/// Cosines of the angles formed by every triple, flattened `[B·B·B]` (`RKD.py` angle term).
fn rkd_angles(e: Tensor<2>) -> Tensor<1> {
    let [b, d] = e.dims();
    let diff = e.clone().reshape([1, b, d]) - e.reshape([b, 1, d]); // [B, B, d]: e_j − e_i
                                                                    // max(‖x‖, 1e-12) as F.normalize, clamped before the sqrt so that the zero diagonal
                                                                    // differences get a zero gradient instead of 0·∞.
    let norm = diff.clone().powi_scalar(2).sum_dim(2).clamp_min(1e-24).sqrt();
    let unit = diff / norm;
    unit.clone().matmul(unit.swap_dims(1, 2)).reshape([b * b * b])
}

/// RKD loss: `w_d · smoothL1(ψ_D(s), ψ_D(t)) + w_a · smoothL1(ψ_A(s), ψ_A(t))`.
pub fn rkd(student: Tensor<2>, teacher: Tensor<2>, w_d: f64, w_a: f64) -> Tensor<1> {
    let dist = smooth_l1(rkd_distances(student.clone()), rkd_distances(teacher.clone()));
    let angle = smooth_l1(rkd_angles(student), rkd_angles(teacher));
    dist * w_d + angle * w_a
}

/// KD on scalar logits at temperature `t` (SPEC §5.5).
pub fn kd(student: Tensor<1>, teacher: Tensor<1>, t: f64, form: KdForm) -> Tensor<1> {
    let [b] = student.dims();
    match form {
        KdForm::BatchSoftmax => {
            // T²·KLDiv_batchmean(log_softmax(s/T, 0), softmax(t/T, 0)): sum / B.
            let log_ps = log_softmax(student / t, 0);
            let pt = softmax(teacher / t, 0);
            let zero = pt.clone().equal_elem(0.0);
            let tlt = (pt.clone() * pt.clone().log()).mask_fill(zero, 0.0);
            (tlt - pt * log_ps).sum() / b as f64 * (t * t)
        }
        KdForm::Binary => {
            let ps = sigmoid(student / t).clamp(1e-7, 1.0 - 1e-7);
            let pt = sigmoid(teacher / t).clamp(1e-7, 1.0 - 1e-7);
            let kl = pt.clone() * (pt.clone().log() - ps.clone().log())
                + (pt.clone().neg() + 1.0) * ((pt.neg() + 1.0).log() - (ps.neg() + 1.0).log());
            kl.mean() * (t * t)
        }
    }
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

fn sum(ts: impl IntoIterator<Item = Tensor<1>>) -> Option<Tensor<1>> {
    ts.into_iter().reduce(|a, b| a + b)
}

/// Mean squared error.
fn mse<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> Tensor<1> {
    (a - b).powi_scalar(2).mean()
}

/// FitNets: Σ over the fus, A→V and V→A block outputs of MSE(student, regressor(teacher)).
pub fn fitnets(student: &Taps, teacher: &Taps, regressor: &Linear) -> Tensor<1> {
    let pairs =
        [(&student.fus.0, &teacher.fus.0), (&student.av.0, &teacher.av.0), (&student.va.0, &teacher.va.0)];
    sum(pairs.into_iter().map(|(s, t)| mse(s.clone(), regressor.forward(t.clone())))).expect("three blocks")
}

/// Computes the configured objective (and every loggable term).
pub fn compute(cfg: &LossConfig, params: &LossParams, x: StepInputs<'_>) -> LossOutput {
    let bce = bce_with_logits(x.logits.clone(), x.labels.clone());
    let mut terms: Vec<(String, Tensor<1>)> = Vec::new();
    let kl = match (x.taps, &x.teacher) {
        (Some(s), Some((_, Some(t)))) => mtd_terms(s, t, cfg.temperature),
        _ => Vec::new(),
    };
    for (k, (c, v)) in kl.iter().enumerate() {
        terms.push((term_key("cad", k), c.clone()));
        terms.push((term_key("vr", k), v.clone()));
    }
    let pairs = cfg.selected_pairs().unwrap_or_else(|_| (0..PAIRS).collect());
    let (use_cad, use_vr) = match cfg.behaviours {
        Behaviours::Both => (true, true),
        Behaviours::CadOnly => (true, false),
        Behaviours::VrOnly => (false, true),
    };
    let weight = |i: usize| -> Tensor<1> {
        params.weights.as_ref().expect("weights exist for this weighting").val().slice(i..i + 1)
    };
    let total = match cfg.kind {
        LossKind::Bce => bce.clone(),
        LossKind::Mtd | LossKind::Nmtd if kl.is_empty() => bce.clone(),
        LossKind::Mtd | LossKind::Nmtd => match cfg.weighting {
            Weighting::Uw13 => {
                let mut l = uncertainty(bce.clone(), weight(0));
                for &k in &pairs {
                    let (c, v) = &kl[k];
                    let term = match (use_cad, use_vr) {
                        (true, true) => c.clone() + v.clone(),
                        (true, false) => c.clone(),
                        _ => v.clone(),
                    };
                    l = l + uncertainty(term, weight(1 + k));
                }
                l
            }
            Weighting::Uw25 => {
                let mut l = uncertainty(bce.clone(), weight(0));
                for &k in &pairs {
                    let (c, v) = &kl[k];
                    if use_cad {
                        l = l + uncertainty(c.clone(), weight(1 + k));
                    }
                    if use_vr {
                        l = l + uncertainty(v.clone(), weight(1 + PAIRS + k));
                    }
                }
                l
            }
            Weighting::Uniform => {
                let s = sum(pairs.iter().flat_map(|&k| {
                    let (c, v) = &kl[k];
                    [use_cad.then(|| c.clone()), use_vr.then(|| v.clone())].into_iter().flatten()
                }));
                bce.clone() + s.map(|s| s * cfg.alpha).unwrap_or_else(|| bce.clone().zeros_like())
            }
            Weighting::Manual => {
                let per_layer = cfg.manual_weights.len() == PAIRS;
                let mut l = bce.clone();
                for &k in &pairs {
                    let (c, v) = &kl[k];
                    let (wc, wv) = if per_layer {
                        (cfg.manual_weights[k], cfg.manual_weights[k])
                    } else {
                        (cfg.manual_weights[k], cfg.manual_weights[PAIRS + k])
                    };
                    if use_cad {
                        l = l + c.clone() * wc;
                    }
                    if use_vr {
                        l = l + v.clone() * wv;
                    }
                }
                l
            }
            Weighting::Aw13 | Weighting::Aw25 => {
                let w = params.weights.as_ref().expect("aw weights").val();
                let sm = softmax(w, 0);
                let at = |i: usize| sm.clone().slice(i..i + 1);
                let mut l = bce.clone() * at(0);
                let separate = cfg.weighting == Weighting::Aw25;
                for &k in &pairs {
                    let (c, v) = &kl[k];
                    if separate {
                        if use_cad {
                            l = l + c.clone() * at(1 + k);
                        }
                        if use_vr {
                            l = l + v.clone() * at(1 + PAIRS + k);
                        }
                    } else {
                        let term = match (use_cad, use_vr) {
                            (true, true) => c.clone() + v.clone(),
                            (true, false) => c.clone(),
                            _ => v.clone(),
                        };
                        l = l + term * at(1 + k);
                    }
                }
                l
            }
        },
        LossKind::MinilmStar if kl.is_empty() => bce.clone(),
        LossKind::MinilmStar => {
            let (c, v) = &kl[LAYERS - 1]; // F4: the last fusion layer
            bce.clone() + c.clone() + v.clone()
        }
        LossKind::Kd => match &x.teacher {
            Some((tl, _)) => {
                let k = kd(x.logits.clone(), tl.clone(), cfg.kd_temperature, cfg.kd_form);
                terms.push(("kd".into(), k.clone()));
                bce.clone() + k
            }
            None => bce.clone(),
        },
        LossKind::Rkd => match (x.taps, &x.teacher) {
            (Some(s), Some((_, Some(t)))) => {
                let r = rkd(s.pooled.clone(), t.pooled.clone(), cfg.rkd_distance, cfg.rkd_angle);
                terms.push(("rkd".into(), r.clone()));
                bce.clone() + r
            }
            _ => bce.clone(),
        },
        LossKind::Fitnets => match (x.taps, &x.teacher, &params.regressor) {
            (Some(s), Some((_, Some(t))), Some(reg)) => {
                let f = fitnets(s, t, reg);
                terms.push(("fitnets_mse".into(), f.clone()));
                bce.clone() + f * cfg.fitnets_beta
            }
            _ => bce.clone(),
        },
    };
    LossOutput { total, bce, terms }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    #[test]
    fn layer_names_and_selection() {
        assert_eq!(
            (0..PAIRS).map(pair_name).collect::<Vec<_>>().join(","),
            "F1,F2,F3,F4,AV1,AV2,AV3,AV4,VA1,VA2,VA3,VA4"
        );
        assert_eq!(term_key("vr", 9), "vr.va.1");
        let cfg = LossConfig { layers: vec!["va2".into(), "F1".into()], ..Default::default() };
        assert_eq!(cfg.selected_pairs().unwrap(), vec![0, 9]);
        let bad = LossConfig { layers: vec!["X9".into()], ..Default::default() };
        assert!(bad.selected_pairs().unwrap_err().contains("X9"));
    }

    /// d/dw [0.5/w²·L + ln(1+w²)] = −L/w³ + 2w/(1+w²), checked through autodiff.
    #[test]
    fn uncertainty_weight_gradient_is_analytic() {
        let device = crate::device::DeviceSpec::Cpu.device().autodiff();
        for (l, w) in [(0.7f32, 1.0f32), (2.5, 0.6), (0.01, 1.8)] {
            let wt = Tensor::<1>::from_data(TensorData::new(vec![w], [1]), &device).require_grad();
            let lt = Tensor::<1>::from_data(TensorData::new(vec![l], [1]), &device);
            let out = uncertainty(lt, wt.clone());
            let grads = out.backward();
            let g: f32 = wt.grad(&grads).unwrap().into_scalar::<f32>();
            let want = -l / w.powi(3) + 2.0 * w / (1.0 + w * w);
            assert!((g - want).abs() <= 1e-5 * want.abs().max(1.0), "L={l} w={w}: {g} vs {want}");
        }
    }

    #[test]
    fn kl_mean_matches_hand_computation() {
        let device = crate::device::DeviceSpec::Cpu.device();
        let pt = Tensor::<2>::from_data(TensorData::new(vec![0.5f32, 0.5, 1.0, 0.0], [2, 2]), &device);
        let ps = Tensor::<2>::from_data(TensorData::new(vec![0.25f32, 0.75, 0.5, 0.5], [2, 2]), &device);
        // Row 1: 0.5·ln(0.5/0.25) + 0.5·ln(0.5/0.75); row 2: 1·ln(1/0.5) + 0; mean over 4 elements.
        let want = (0.5 * (2.0f64).ln() + 0.5 * (0.5f64 / 0.75).ln() + 2.0f64.ln()) / 4.0;
        let got = kl_mean(pt, ps).into_scalar::<f32>() as f64;
        assert!((got - want).abs() < 1e-6, "{got} vs {want}");
    }
}
