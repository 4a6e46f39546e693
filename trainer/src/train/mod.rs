//! The training loop (`trainer train`): SPEC §4 sampling and optimisation, §4.3 validation and
//! checkpoint selection, with exact resume.
//!
//! Determinism: every random choice flows from `seed`. The model is initialised after
//! `device.seed(seed)`; epoch `e` streams batches seeded with `mix(seed, e)`; each iteration
//! re-seeds the device RNG (dropout) with `mix(seed, step)`; the validation set is drawn once with
//! `mix(seed, VAL)`. A resumed run therefore replays exactly what an uninterrupted run computes.
//!
//! Modules: [`config`] (the run config), [`step`] (one iteration, shared with `bench`),
//! [`validate`] (the validation pass), [`run_dir`] (files, checkpoints, resume state).

pub mod config;
mod epoch;
pub mod metrics;
pub mod run_dir;
pub mod step;
pub mod validate;

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::optim::AdamConfig;
use indicatif::ProgressStyle;
use serde::Serialize;

use crate::data::{self, DataError};
use crate::loss::{LossError, LossParams, Trainable};
pub use config::RunConfig;
use epoch::Run;
use metrics::MetricsLine;
use nets::checkpoint::{self, CheckpointError};
use run_dir::{RunDir, RunState};
use step::Teacher;
use validate::Validation;

/// Why a run stopped early.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The run directory is another process's (its lock), or its stale files cannot go.
    #[error("{}", manifests::describe_error(.0))]
    RunDirLock(manifests::Error),
    /// The shard manifest of the config cannot be read.
    #[error("{}: cannot read the shard manifest: {source}", path.display())]
    ShardManifest {
        /// `manifest.json` of the shards.
        path: PathBuf,
        /// Why.
        source: manifests::Error,
    },
    /// The training split is empty.
    #[error("{}: split {split:?} has no utterances", shards.display())]
    EmptySplit {
        /// The shard directory.
        shards: PathBuf,
        /// The split.
        split: String,
    },
    /// The `[model]` section does not make a model.
    #[error("[model]: {0}")]
    Model(nets::model::ModelConfigError),
    /// `--resume` without the run's `config.toml`.
    #[error("{}: cannot resume: {source}", path.display())]
    NoRunConfig {
        /// The run's `config.toml`.
        path: PathBuf,
        /// Why it could not be read.
        source: std::io::Error,
    },
    /// `--resume` with another config than the run's.
    #[error("{}: the run was started with another config; resume with `trainer train --resume {}` alone", path.display(), run.display())]
    OtherConfig {
        /// The run's `config.toml`.
        path: PathBuf,
        /// The run directory.
        run: PathBuf,
    },
    /// A new run into a directory that holds one.
    #[error("{}: already holds a run; pass --resume to continue it or choose another --out", .0.display())]
    RunExists(PathBuf),
    /// `--resume` of a run that saved no state.
    #[error("{}: no saved state to resume from (no state/state.json)", .0.display())]
    NoState(PathBuf),
    /// A state file whose checksum differs.
    #[error("{}: does not match its checksum in {checksums}; the resume state is corrupt: restore it or start a new run", file.display())]
    CorruptState {
        /// The file.
        file: PathBuf,
        /// The checksum file's name.
        checksums: &'static str,
    },
    /// A saved model that does not fit the config.
    #[error("{}: the saved model does not match the config ({missing} missing, {errors} errors); resume with the run's own config", dir.display())]
    StateMismatch {
        /// The state directory.
        dir: PathBuf,
        /// Tensors missing.
        missing: usize,
        /// Tensors that failed.
        errors: usize,
    },
    /// A checkpoint (teacher, init, or one being written) failed.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// The training or validation data failed.
    #[error("{what} data: {source}")]
    Data {
        /// `training` or `validation`.
        what: &'static str,
        /// Cause.
        source: DataError,
    },
    /// The run config is inconsistent.
    #[error(transparent)]
    Config(#[from] config::ConfigProblem),
    /// The loss could not be computed (a config the loss rejects, or a miswired step).
    #[error(transparent)]
    Loss(#[from] LossError),
    /// The loss stopped being finite.
    #[error(
        "step {step} (epoch {epoch}): the loss is {value} ({terms}); stopped, keeping the last good checkpoint{kept}"
    )]
    NonFinite {
        /// Global iteration.
        step: usize,
        /// Epoch.
        epoch: usize,
        /// The total.
        value: f32,
        /// Every term, `name=value`.
        terms: String,
        /// Where the last good checkpoint is.
        kept: String,
    },
    /// Writing the run directory failed.
    #[error("{}: {detail}", path.display())]
    Io {
        /// Path.
        path: PathBuf,
        /// Cause.
        detail: String,
    },
}

/// SplitMix64 of `seed` and `salt`: independent seeds for each epoch, step and purpose.
pub fn mix(seed: u64, salt: u64) -> u64 {
    let mut z = seed ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(0x632B_E59B_D9B4_E019);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

pub(crate) const SALT_VAL: u64 = 0x5641_4C00;
pub(crate) const SALT_STEP: u64 = 1 << 40;
pub(crate) const SALT_EPOCH: u64 = 1 << 41;
const SALT_DIAG: u64 = 0xD1A6;

/// What a finished run reports.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Run directory.
    pub run_dir: PathBuf,
    /// Iterations done.
    pub steps: usize,
    /// Best validation F1.
    pub best_f1: f64,
    /// Epoch of the best F1 (1-based).
    pub best_epoch: usize,
    /// Final validation metrics (None when no epoch ran in this invocation).
    pub last_val: Option<Validation>,
    /// Mean share of step time spent waiting for data.
    pub wait_fraction: f64,
    /// Wall time of this invocation.
    pub wall_s: f64,
}

/// Options that do not change results.
#[derive(Debug, Clone, Default)]
pub struct TrainOptions {
    /// No progress bars.
    pub quiet: bool,
    /// Continue the run in `run_dir`.
    pub resume: bool,
}

/// Trains according to `cfg` in `run_dir` (created, or continued with `opts.resume`).
pub fn train(cfg: &RunConfig, run_dir: &Path, opts: &TrainOptions) -> Result<Summary, TrainError> {
    let started = Instant::now();
    cfg.validate()?;
    // One writer per run directory: a second `trainer train` into the same --out fails at once
    // (the check for an existing run below would otherwise race with the other's creation).
    let _lock = manifests::DirLock::acquire(run_dir, "trainer train").map_err(TrainError::RunDirLock)?;
    // What a SIGKILL left mid-write (`.last.safetensors.tmp-<pid>`, …) goes now.
    _lock.remove_stale_temp_files(run_dir).map_err(TrainError::RunDirLock)?;
    let dir = RunDir::new(run_dir);
    let has_state = dir.has_state();
    dir.open(cfg, opts.resume)?;
    let manifest = cfg.shards.join(manifests::MANIFEST_FILE);
    let manifest_sha = manifests::sha256_file(&manifest)
        .map_err(|source| TrainError::ShardManifest { path: manifest.clone(), source })?;
    let rows = data::split_rows(&cfg.shards, &cfg.train_split)
        .map_err(|e| TrainError::Data { what: "training", source: e })?;
    if rows == 0 {
        return Err(TrainError::EmptySplit { shards: cfg.shards.clone(), split: cfg.train_split.clone() });
    }
    let spe = cfg.steps_per_epoch.unwrap_or_else(|| rows.div_ceil(cfg.batch_size));
    let device = cfg.device.device();
    let train_device = device.clone().autodiff();
    // Teacher (frozen, eval mode on the plain device), then the student and loss parameters
    // from the seed, then the diagnostic FitNets regressor from its own seed.
    let teacher = match &cfg.teacher {
        Some(t) => {
            let loaded = checkpoint::load(&t.checkpoint, t.preset, &device)?;
            Some(Teacher { model: loaded.model, config: loaded.config })
        }
        None => None,
    };
    device.seed(cfg.seed);
    let (model, model_config) = match &cfg.model.init {
        Some(p) => {
            let l = checkpoint::load(p, Some(cfg.model.preset), &train_device)?;
            (l.model, l.config)
        }
        None => {
            let c = cfg.model.config();
            c.validate().map_err(TrainError::Model)?;
            (c.init(&train_device), c)
        }
    };
    let d_t = teacher.as_ref().map(|t| t.config.d_model).unwrap_or(model_config.d_model);
    let loss_params = LossParams::new(&cfg.loss, d_t, model_config.d_model, &train_device);
    let mut trainable = Trainable { model, loss: loss_params };
    device.seed(mix(cfg.seed, SALT_DIAG));
    let diag_regressor = burn::nn::LinearConfig::new(d_t, model_config.d_model).init(&device);
    let mut optim = AdamConfig::new().with_epsilon(cfg.adam_eps as f32).init();
    let mut st = RunState::default();
    match (opts.resume, has_state) {
        (true, true) => {
            (optim, st) = dir.load_state(&mut trainable, optim)?;
            dir.truncate_metrics(Some(st.metrics_bytes))?;
            dir.append(&MetricsLine::Resume { step: st.step, epoch: st.epoch })?;
        }
        (resume, _) => {
            if resume {
                dir.truncate_metrics(None)?; // killed before the first save: start over
            }
            dir.append(&MetricsLine::Start {
                config: cfg,
                manifest_sha256: &manifest_sha,
                model: &model_config,
                param_count: trainable.model.param_count(),
                steps_per_epoch: spe,
                train_utterances: rows,
                tool_version: env!("CARGO_PKG_VERSION"),
            })?;
        }
    }
    let val = validate::validation_set(cfg)?;
    let mut run = Run { cfg, dir, device, train_device, teacher, model_config, optim, st, spe };
    let style = ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} {msg} eta {eta}")
        .expect("valid template")
        .progress_chars("=> ");
    let (mut wait_total, mut step_total, mut last_val) = (0.0f64, 0.0f64, None);
    while run.st.epoch < cfg.epochs {
        let bar = progress::Progress::new(spe as u64, "steps", opts.quiet);
        bar.set_style(style.clone());
        bar.set_prefix(format!("{}/{}", run.st.epoch + 1, cfg.epochs));
        bar.set_position(run.st.step_in_epoch as u64);
        let (t, times) = run.epoch(trainable, &bar)?;
        trainable = t;
        bar.finish();
        wait_total += times.0;
        step_total += times.1;
        last_val = Some(run.end_epoch(&trainable, &val, &diag_regressor, times)?);
    }
    Ok(Summary {
        run_dir: run_dir.to_path_buf(),
        steps: run.st.step,
        best_f1: run.st.best_f1.unwrap_or(0.0),
        best_epoch: run.st.best_epoch.unwrap_or(0),
        last_val,
        wait_fraction: wait_total / step_total.max(1e-9),
        wall_s: started.elapsed().as_secs_f64(),
    })
}
