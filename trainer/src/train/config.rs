//! The run config (`trainer train --config run.toml`): every field has a documented default, and
//! `--set key=value` overrides any of them (dotted keys for sections, TOML values).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::loss::{LossConfig, LossError};
use crate::schedule::Schedule;
use nets::device::DeviceSpec;
use nets::model::{ModelConfig, Preset};

/// The model being trained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelSection {
    /// Architecture preset (default `mtdvocalist`): vocalist, mtdvocalist, tiny, tiny-student.
    pub preset: Preset,
    /// Start from these weights instead of a fresh initialisation (.pth or ours).
    pub init: Option<PathBuf>,
    /// Layers per cross-modal block, replacing the preset's 4 (small CPU studies only).
    pub layers: Option<usize>,
    /// Attention heads, replacing the preset's 8.
    pub heads: Option<usize>,
    /// Every dropout rate (embedding, ReLU, residual), replacing the preset's 0.25/0.1/0.1.
    pub dropout: Option<f64>,
}

impl Default for ModelSection {
    fn default() -> Self {
        Self { preset: Preset::Mtdvocalist, init: None, layers: None, heads: None, dropout: None }
    }
}

impl ModelSection {
    /// The preset's architecture with this section's overrides; the name gains a `+` suffix per
    /// override so checkpoints and tables never pass a changed model off as the preset.
    pub fn config(&self) -> ModelConfig {
        let mut c = self.preset.config();
        if let Some(l) = self.layers {
            c.layers = l;
            c.name.push_str(&format!("+l{l}"));
        }
        if let Some(h) = self.heads {
            c.heads = h;
            c.name.push_str(&format!("+h{h}"));
        }
        if let Some(p) = self.dropout {
            c.embed_dropout = p;
            c.relu_dropout = p;
            c.res_dropout = p;
            c.name.push_str(&format!("+d{p}"));
        }
        c
    }
}

/// The frozen teacher (distillation; also used for the validation MTD diagnostics of any run).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeacherSection {
    /// A public .pth or one of our checkpoints.
    pub checkpoint: PathBuf,
    /// Preset to load it as (inferred from the weights when absent).
    #[serde(default)]
    pub preset: Option<Preset>,
}

/// The data pipeline (SPEC §4.1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataSection {
    /// Utterances in the shuffle buffer (memory: about 0.4 MB per second of video: 25 crops of 48×96×3 bytes, PCM and mel).
    pub buffer_utts: usize,
    /// Samples drawn per buffered utterance before half the buffer is replaced.
    pub windows_per_utt: usize,
    /// Batches assembled ahead of the model step.
    pub prefetch: usize,
}

impl Default for DataSection {
    fn default() -> Self {
        Self { buffer_utts: 256, windows_per_utt: 8, prefetch: 4 }
    }
}

/// Everything a training run needs. Defaults are the paper's student run (SPEC §4.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunConfig {
    /// Shard set directory (with `manifest.json`), default `data/shards`.
    pub shards: PathBuf,
    /// Split sampled for training (`pretrain`, as the reference, SPEC §1.5).
    pub train_split: String,
    /// Split sampled for validation (`val`).
    pub val_split: String,
    /// The model trained.
    pub model: ModelSection,
    /// The teacher, if any.
    pub teacher: Option<TeacherSection>,
    /// The objective.
    pub loss: LossConfig,
    /// Samples per batch (128).
    pub batch_size: usize,
    /// Adam learning rate (5e-5), shared by the model and the loss weights.
    pub lr: f64,
    /// Adam ε (1e-8, torch's default; burn's own default is 1e-5).
    pub adam_eps: f64,
    /// Epochs (80).
    pub epochs: usize,
    /// Iterations per epoch; default ⌈training utterances / batch⌉, as the reference (753 on LRS2).
    pub steps_per_epoch: Option<usize>,
    /// `mtd` (10 warm-up epochs, then ×0.8 every 20, stepped per iteration) or `none`.
    pub schedule: Schedule,
    /// Seed of every random choice (20230101, the authors' `seed_everything`).
    pub seed: u64,
    /// cpu, cuda or cuda:N.
    pub device: DeviceSpec,
    /// Size of the fixed validation sample set (drawn once from `val_split` with the seed; the
    /// reference redraws it every epoch, which makes epochs incomparable).
    pub val_samples: usize,
    /// Validation batch size.
    pub val_batch_size: usize,
    /// Write a step metrics line every this many iterations.
    pub log_every: usize,
    /// Also save the resume state every this many iterations (0: at epoch ends only).
    pub checkpoint_every: usize,
    /// Keep a checkpoint of every epoch (`epoch-NNN.safetensors`) besides `best` and `last`.
    pub save_every_epoch: bool,
    /// Data pipeline.
    pub data: DataSection,
}

impl Default for RunConfig {
    fn default() -> Self {
        Self {
            shards: PathBuf::from("data/shards"),
            train_split: "pretrain".into(),
            val_split: "val".into(),
            model: ModelSection::default(),
            teacher: None,
            loss: LossConfig::default(),
            batch_size: 128,
            lr: 5e-5,
            adam_eps: 1e-8,
            epochs: 80,
            steps_per_epoch: None,
            schedule: Schedule::Mtd,
            seed: 20_230_101,
            device: DeviceSpec::Cpu,
            val_samples: 1024,
            val_batch_size: 128,
            log_every: 50,
            checkpoint_every: 0,
            save_every_epoch: false,
            data: DataSection::default(),
        }
    }
}

/// A config problem, naming the file or the override.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: cannot read config: {source}")]
    Io {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// Bad TOML or a bad field.
    #[error("{origin}: {detail}")]
    Invalid {
        /// File or `--set`.
        origin: String,
        /// What is wrong.
        detail: String,
    },
}

/// The largest batch accepted: 64 Ki samples. The paper trains at 128; a VocaLiST sample's
/// activations alone are ~1 MB, so 64 Ki samples would need ~64 GB before any weight.
pub const MAX_BATCH: usize = 1 << 16;

/// A run config whose values do not make sense together.
#[derive(Debug, thiserror::Error)]
pub enum ConfigProblem {
    /// A size that must be positive is 0.
    #[error("batch_size, val_batch_size and epochs must be positive")]
    NotPositive,
    /// `steps_per_epoch = 0`.
    #[error("steps_per_epoch must be positive (or absent for the reference's default)")]
    StepsPerEpoch,
    /// A negative or non-finite learning rate.
    #[error("lr {0} is not a valid learning rate")]
    Lr(f64),
    /// The loss section is inconsistent.
    #[error(transparent)]
    Loss(#[from] LossError),
    /// A dropout rate outside [0, 1] or not a number (issue #33 point 5: it panicked in bernoulli).
    #[error("model.dropout {0} is not a rate: use a number from 0 to 1")]
    Dropout(f64),
    /// A batch no machine holds (issue #33 point 11: it aborted in the allocator).
    #[error("{what} = {n} is more than {max}; a batch that large does not fit any machine's memory")]
    TooLarge {
        /// The field.
        what: &'static str,
        /// Its value.
        n: usize,
        /// The bound.
        max: usize,
    },
    /// Fields that must be at least 1.
    #[error("{0} must be at least 1")]
    Zero(&'static str),
    /// The device is not there.
    #[error(transparent)]
    Device(#[from] nets::device::DeviceError),
    /// A distilling loss without a teacher.
    #[error("loss.kind {0:?} distils from a teacher: add [teacher] checkpoint = \"…\"")]
    NoTeacher(String),
}

fn invalid(origin: impl Into<String>, detail: impl ToString) -> ConfigError {
    ConfigError::Invalid { origin: origin.into(), detail: detail.to_string() }
}

/// A serde/TOML message on one line, with the closest known field suggested for an unknown one
/// (`unknown field `bach_size`, expected one of …` → `… (did you mean `batch_size`?)`).
fn one_line(message: &str) -> String {
    let flat = message.split_whitespace().collect::<Vec<_>>().join(" ");
    let field = |s: &str| s.split('`').nth(1).map(str::to_string);
    let Some(rest) = flat.strip_prefix("unknown field ") else { return flat };
    let (Some(bad), Some(expected)) = (field(rest), rest.split_once("expected one of ").map(|(_, e)| e))
    else {
        return flat;
    };
    let best = expected
        .split('`')
        .skip(1)
        .step_by(2)
        .map(|k| (strsim::damerau_levenshtein(&bad, k), k))
        .min()
        .filter(|(d, k)| *d <= 2.max(k.len() / 3));
    match best {
        Some((_, k)) => format!("{flat} (did you mean `{k}`?)"),
        None => flat,
    }
}

/// The `--set` a field error is about: the first override whose key's last part is a field the
/// message names (`unknown field `bach_size``, `… in `batch_size``).
fn culprit(detail: &str, overrides: &[String]) -> Option<String> {
    let names: Vec<&str> = detail.split('`').skip(1).step_by(2).collect();
    // An unknown field names itself first (then the fields expected); a bad value names its
    // field last (`… in `batch_size``).
    let named = if detail.starts_with("unknown field") { names.first() } else { names.last() };
    let named: Vec<&str> = named.into_iter().copied().collect();
    overrides
        .iter()
        .find(|o| {
            let key = o.split_once('=').map_or(o.as_str(), |(k, _)| k).trim();
            named.contains(&key.rsplit('.').next().unwrap_or(key))
        })
        .map(|o| format!("--set {o}"))
}

/// Sets `dotted.key = value` in `table`; the value is parsed as TOML, else taken as a string.
pub fn apply_override(table: &mut toml::Table, assignment: &str) -> Result<(), ConfigError> {
    let origin = format!("--set {assignment}");
    let (key, raw) = assignment
        .split_once('=')
        .ok_or_else(|| invalid(&origin, "expected key=value, e.g. --set loss.kind=\"mtd\""))?;
    let value: toml::Value = match format!("v = {}", raw.trim()).parse::<toml::Table>() {
        Ok(mut t) => t.remove("v").expect("parsed key"),
        Err(_) => toml::Value::String(raw.trim().to_string()),
    };
    let parts: Vec<&str> = key.trim().split('.').collect();
    let mut cur = table;
    for p in &parts[..parts.len() - 1] {
        let entry = cur.entry(p.to_string()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        cur = entry.as_table_mut().ok_or_else(|| invalid(&origin, format!("{p} is not a section")))?;
    }
    cur.insert(parts[parts.len() - 1].to_string(), value);
    Ok(())
}

impl RunConfig {
    /// Reads `path` (or the defaults when None), applies `overrides`, and validates.
    pub fn load(path: Option<&Path>, overrides: &[String]) -> Result<Self, ConfigError> {
        let (mut table, origin) = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .map_err(|source| ConfigError::Io { path: p.to_path_buf(), source })?;
                (
                    text.parse::<toml::Table>().map_err(|e| invalid(p.display().to_string(), e))?,
                    p.display().to_string(),
                )
            }
            None => (toml::Table::new(), "(defaults)".to_string()),
        };
        for o in overrides {
            apply_override(&mut table, o)?;
        }
        let cfg: RunConfig = table.try_into().map_err(|e| {
            let detail = one_line(&e.to_string());
            invalid(culprit(&detail, overrides).unwrap_or(origin.clone()), detail)
        })?;
        cfg.validate().map_err(|e| invalid(&origin, e))?;
        Ok(cfg)
    }

    /// Checks the values.
    pub fn validate(&self) -> Result<(), ConfigProblem> {
        if self.batch_size == 0 || self.val_batch_size == 0 || self.epochs == 0 {
            return Err(ConfigProblem::NotPositive);
        }
        if self.steps_per_epoch == Some(0) {
            return Err(ConfigProblem::StepsPerEpoch);
        }
        if !(self.lr.is_finite() && self.lr >= 0.0) {
            return Err(ConfigProblem::Lr(self.lr));
        }
        for (what, n) in [
            ("val_samples", self.val_samples),
            ("log_every", self.log_every),
            ("data.buffer_utts", self.data.buffer_utts),
            ("data.windows_per_utt", self.data.windows_per_utt),
        ] {
            if n == 0 {
                return Err(ConfigProblem::Zero(what));
            }
        }
        for (what, n) in [("batch_size", self.batch_size), ("val_batch_size", self.val_batch_size)] {
            if n > MAX_BATCH {
                return Err(ConfigProblem::TooLarge { what, n, max: MAX_BATCH });
            }
        }
        if let Some(p) = self.model.dropout {
            if !(0.0..=1.0).contains(&p) {
                return Err(ConfigProblem::Dropout(p));
            }
        }
        self.device.available()?;
        self.loss.validate()?;
        if self.loss.needs_teacher() && self.teacher.is_none() {
            return Err(ConfigProblem::NoTeacher(self.loss.label()));
        }
        Ok(())
    }

    /// The resolved config as TOML (written to the run directory).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a RunConfig always serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue #33 points 5 and 11: values that panicked or aborted deep inside are refused up
    /// front, naming the `--set`.
    #[test]
    fn values_that_would_panic_are_config_errors() {
        for (set, words) in [
            ("model.dropout=1.5", "is not a rate"),
            ("model.dropout=nan", "is not a rate"),
            ("val_samples=0", "val_samples must be at least 1"),
            ("batch_size=100000000", "batch_size = 100000000 is more than 65536"),
            ("data.buffer_utts=0", "data.buffer_utts must be at least 1"),
        ] {
            let e = RunConfig::load(None, &[set.to_string()]).unwrap_err().to_string();
            assert!(e.contains(words), "{set}: {e}");
        }
        assert!(RunConfig::load(None, &["model.dropout=0.3".to_string()]).is_ok());
    }

    /// Issue #20 point 10: a `--set` typo names the `--set` (not "(defaults)"), on one line,
    /// with the field meant.
    #[test]
    fn a_set_typo_names_the_set_and_the_field_meant() {
        let sets = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let e = RunConfig::load(None, &sets(&["seed=3", "bach_size=4"])).unwrap_err().to_string();
        assert!(e.starts_with("--set bach_size=4: unknown field `bach_size`"), "{e}");
        assert!(e.ends_with("(did you mean `batch_size`?)") && !e.contains('\n'), "{e}");
        let e = RunConfig::load(None, &sets(&["batch_size=abc"])).unwrap_err().to_string();
        assert!(e.starts_with("--set batch_size=abc: invalid type") && !e.contains('\n'), "{e}");
        let e = RunConfig::load(None, &sets(&["model.presett=\"tiny\""])).unwrap_err().to_string();
        assert!(e.contains("--set model.presett") && e.contains("did you mean `preset`"), "{e}");
        let e = RunConfig::load(None, &sets(&["zzzzzz=1"])).unwrap_err().to_string();
        assert!(e.starts_with("--set zzzzzz=1") && !e.contains("did you mean"), "{e}");
    }

    #[test]
    fn defaults_overrides_and_errors() {
        let cfg = RunConfig::load(None, &[]).unwrap();
        assert_eq!((cfg.batch_size, cfg.lr, cfg.epochs, cfg.seed), (128, 5e-5, 80, 20_230_101));
        let cfg = RunConfig::load(
            None,
            &[
                "epochs=3".into(),
                "model.preset=tiny-student".into(),
                "loss.kind=mtd".into(),
                "loss.weighting=uw25".into(),
                "teacher.checkpoint=t.safetensors".into(),
                "device=cpu".into(),
            ],
        )
        .unwrap();
        assert_eq!(cfg.epochs, 3);
        assert_eq!(cfg.model.preset, Preset::TinyStudent);
        assert_eq!(cfg.loss.label(), "mtd-uw25");
        // Round trip through the written TOML.
        let back: RunConfig = toml::from_str(&cfg.to_toml()).unwrap();
        assert_eq!(back, cfg);
        let err = RunConfig::load(None, &["loss.kind=kd".into()]).unwrap_err().to_string();
        assert!(err.contains("teacher"), "{err}");
        let err = RunConfig::load(None, &["bogus=1".into()]).unwrap_err().to_string();
        assert!(err.contains("bogus"), "{err}");
    }

    #[test]
    fn model_overrides_rename_the_architecture() {
        let cfg = RunConfig::load(None, &["model.preset=micro".into()]).unwrap();
        assert_eq!(cfg.model.config(), Preset::Micro.config());
        let sets = ["model.preset=micro", "model.layers=1", "model.heads=4", "model.dropout=0.0"];
        let cfg = RunConfig::load(None, &sets.map(String::from)).unwrap();
        let c = cfg.model.config();
        assert_eq!(
            (c.layers, c.heads, c.embed_dropout, c.relu_dropout, c.res_dropout),
            (1, 4, 0.0, 0.0, 0.0)
        );
        assert_eq!(c.name, "micro+l1+h4+d0");
        assert_eq!(c.channels, Preset::Micro.config().channels);
        let bad = RunConfig::load(None, &["model.preset=micro".into(), "model.heads=5".into()]).unwrap();
        assert!(bad.model.config().validate().is_err());
    }
}
