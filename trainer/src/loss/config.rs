//! The loss section of a run config (SPEC §5): objectives, weightings, layer and behaviour
//! selection, and the (block, layer) pair indexing every MTD term uses.

use serde::{Deserialize, Serialize};

use super::LossError;
use nets::model::{LayerTaps, Taps};

/// A cross-modal block of the model (SPEC §2.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Block {
    /// The fusion block (Fig. 3's `F`).
    Fus,
    /// A→V: audio queries attend to video.
    Av,
    /// V→A: video queries attend to audio.
    Va,
}

impl Block {
    /// The blocks in the order the MTD code iterates them (SPEC §5.1): pair `k` belongs to
    /// `ALL[k / LAYERS]`.
    pub const ALL: [Block; 3] = [Block::Fus, Block::Av, Block::Va];

    /// Key name in the golden files and metrics: `fus`, `av`, `va`.
    pub fn name(self) -> &'static str {
        match self {
            Block::Fus => "fus",
            Block::Av => "av",
            Block::Va => "va",
        }
    }

    /// The block named `name` (`fus`, `av`, `va`).
    pub fn from_name(name: &str) -> Option<Block> {
        Block::ALL.into_iter().find(|b| b.name() == name)
    }

    /// Prefix of its layers in Fig. 3: `F`, `AV`, `VA`.
    pub fn figure_prefix(self) -> &'static str {
        match self {
            Block::Fus => "F",
            Block::Av => "AV",
            Block::Va => "VA",
        }
    }

    /// This block's output and per-layer taps in `taps`.
    pub fn taps(self, taps: &Taps) -> &(burn::tensor::Tensor<3>, Vec<LayerTaps>) {
        match self {
            Block::Fus => &taps.fus,
            Block::Av => &taps.av,
            Block::Va => &taps.va,
        }
    }
}

/// Layers per block.
pub const LAYERS: usize = 4;
/// Number of (block, layer) pairs.
pub const PAIRS: usize = Block::ALL.len() * LAYERS;
/// Size of the AW-25D parameter vector in the authors' code (see [`Weighting::Aw25`]).
pub const AW25_PARAMS: usize = 1 + 4 * PAIRS;

/// Index of (block, layer) among the [`PAIRS`] pairs.
pub fn pair_index(block: Block, layer: usize) -> usize {
    let b = Block::ALL.iter().position(|&x| x == block).expect("every block is in ALL");
    b * LAYERS + layer
}

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
    format!("{}{}", Block::ALL[k / LAYERS].figure_prefix(), k % LAYERS + 1)
}

/// Golden/metric key of a term: `cad.fus.0`, `vr.va.3`.
pub fn term_key(behaviour: &str, k: usize) -> String {
    format!("{behaviour}.{}.{}", Block::ALL[k / LAYERS].name(), k % LAYERS)
}

impl LossConfig {
    /// Checks the combination and resolves the layer list to pair indices.
    pub fn selected_pairs(&self) -> Result<Vec<usize>, LossError> {
        if self.layers.is_empty() {
            return Ok((0..PAIRS).collect());
        }
        let mut out = Vec::new();
        for name in &self.layers {
            let k = (0..PAIRS)
                .find(|&k| pair_name(k).eq_ignore_ascii_case(name))
                .ok_or_else(|| LossError::UnknownLayer(name.clone()))?;
            if !out.contains(&k) {
                out.push(k);
            }
        }
        out.sort_unstable();
        Ok(out)
    }

    /// Checks that the fields make sense for the kind.
    pub fn validate(&self) -> Result<(), LossError> {
        self.selected_pairs()?;
        match (self.kind, self.weighting) {
            (LossKind::Mtd, Weighting::Uw13 | Weighting::Uw25) => {}
            (LossKind::Mtd, w) => return Err(LossError::NotMtdWeighting(w)),
            (LossKind::Nmtd, Weighting::Uw13 | Weighting::Uw25) => return Err(LossError::UwForNmtd),
            (LossKind::Nmtd, Weighting::Manual)
                if self.manual_weights.len() != PAIRS && self.manual_weights.len() != 2 * PAIRS =>
            {
                return Err(LossError::ManualWeights(self.manual_weights.len()));
            }
            _ => {}
        }
        if self.temperature <= 0.0 || self.kd_temperature <= 0.0 {
            return Err(LossError::Temperature);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_names_and_selection() {
        assert_eq!(
            (0..PAIRS).map(pair_name).collect::<Vec<_>>().join(","),
            "F1,F2,F3,F4,AV1,AV2,AV3,AV4,VA1,VA2,VA3,VA4"
        );
        assert_eq!(term_key("vr", 9), "vr.va.1");
        assert_eq!(pair_index(Block::Va, 1), 9);
        assert_eq!(Block::from_name("av"), Some(Block::Av));
        let cfg = LossConfig { layers: vec!["va2".into(), "F1".into()], ..Default::default() };
        assert_eq!(cfg.selected_pairs().unwrap(), vec![0, 9]);
        let bad = LossConfig { layers: vec!["X9".into()], ..Default::default() };
        assert!(bad.selected_pairs().unwrap_err().to_string().contains("X9"));
    }
}
