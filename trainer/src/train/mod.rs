//! The training loop (`trainer train`): SPEC §4 sampling and optimisation, §4.3 validation and
//! checkpoint selection, with exact resume.
//!
//! Determinism: every random choice flows from `seed`. The model is initialised after
//! `device.seed(seed)`; epoch `e` streams batches seeded with `mix(seed, e)`; each iteration
//! re-seeds the device RNG (dropout) with `mix(seed, step)`; the validation set is drawn once with
//! `mix(seed, VAL)`. A resumed run therefore replays exactly what an uninterrupted run computes.
//!
//! Run directory: `config.toml` (resolved), `metrics.jsonl`, `last.safetensors`/`.json`,
//! `best.safetensors`/`.json` (strictly greater val F1), optional `epoch-NNN.*`, and `state/`
//! (model and Adam state in burnpack, counters in `state.json`), replaced atomically.

pub mod config;
pub mod metrics;

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::store::{BurnpackStore, ModuleSnapshot};
use burn::tensor::{Device, Tensor, TensorData};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::checkpoint::{self, Provenance};
use crate::data::{self, StreamConfig};
use crate::distill::{self, LossKind, LossParams, StepInputs, Trainable};
use crate::model::{InputConvention, ModelConfig, SyncTransformer};
use crate::sampling::Sample;
pub use config::RunConfig;
use metrics::ValAccumulator;

/// Why a run stopped early.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// Bad config, data, checkpoint or run directory: one line saying what to do.
    #[error("{0}")]
    Setup(String),
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
    #[error("{path}: {detail}")]
    Io {
        /// Path.
        path: PathBuf,
        /// Cause.
        detail: String,
    },
}

fn setup(e: impl ToString) -> TrainError {
    TrainError::Setup(e.to_string())
}

fn io_err(path: &Path, e: impl ToString) -> TrainError {
    TrainError::Io { path: path.to_path_buf(), detail: e.to_string() }
}

/// SplitMix64 of `seed` and `salt`: independent seeds for each epoch, step and purpose.
pub fn mix(seed: u64, salt: u64) -> u64 {
    let mut z = seed ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(0x632B_E59B_D9B4_E019);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

const SALT_VAL: u64 = 0x5641_4C00;
const SALT_STEP: u64 = 1 << 40;
const SALT_EPOCH: u64 = 1 << 41;
const SALT_DIAG: u64 = 0xD1A6;

/// Counters saved with the resume state.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunState {
    /// Iterations done.
    pub step: usize,
    /// Epoch the next iteration belongs to.
    pub epoch: usize,
    /// Iterations already done inside that epoch.
    pub step_in_epoch: usize,
    /// Best validation F1 so far (None before the first validation).
    pub best_f1: Option<f64>,
    /// Epoch of `best_f1`.
    pub best_epoch: Option<usize>,
    /// Sum and count of the training losses of the current epoch.
    pub epoch_loss: (f64, usize),
    /// Length of `metrics.jsonl` when the state was saved (a resume truncates it there).
    pub metrics_bytes: u64,
}

/// What a finished run reports.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Run directory.
    pub run_dir: PathBuf,
    /// Iterations done.
    pub steps: usize,
    /// Best validation F1 and its epoch (1-based).
    pub best_f1: f64,
    /// Epoch of the best F1 (1-based).
    pub best_epoch: usize,
    /// Final validation metrics.
    pub last_val: Value,
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

struct Teacher {
    model: SyncTransformer,
    config: ModelConfig,
}

/// The validation set: fixed raw samples drawn once.
fn validation_set(cfg: &RunConfig) -> Result<Vec<Vec<Sample>>, TrainError> {
    let stream = StreamConfig {
        shards: cfg.shards.clone(),
        split: cfg.val_split.clone(),
        batch: cfg.val_batch_size,
        buffer_utts: cfg.data.buffer_utts,
        windows_per_utt: cfg.data.windows_per_utt,
        prefetch: 2,
        seed: mix(cfg.seed, SALT_VAL),
    };
    let rx = data::raw_batches(&stream).map_err(|e| setup(format!("validation data: {e}")))?;
    let n = cfg.val_samples.div_ceil(cfg.val_batch_size).max(1);
    let mut out = Vec::with_capacity(n);
    let mut left = cfg.val_samples.max(1);
    for _ in 0..n {
        let mut b = rx.recv().map_err(|_| setup("validation data pipeline stopped"))?.map_err(setup)?;
        b.truncate(left);
        left -= b.len();
        out.push(b);
    }
    Ok(out)
}

fn tensor4(v: Vec<f32>, dims: [usize; 4], device: &Device) -> Tensor<4> {
    Tensor::from_data(TensorData::new(v, dims), device)
}

fn tensor1(v: Vec<f32>, device: &Device) -> Tensor<1> {
    let n = v.len();
    Tensor::from_data(TensorData::new(v, [n]), device)
}

fn scalars(ts: &[Tensor<1>]) -> Vec<f32> {
    if ts.is_empty() {
        return Vec::new();
    }
    Tensor::cat(ts.to_vec(), 0).into_data().convert::<f32>().try_to_vec::<f32>().expect("f32 data")
}

/// Evaluates `model` (plain device: eval mode) on the validation set: weighted F1 (logit > 0.5,
/// mean over batches, SPEC §4.3), BCE, accuracy, and with a teacher the MTD (BCE + all 24 terms),
/// Last-MTD (BCE + the last fusion layer's CAD and VR) and FitNets (Σ block MSE) losses.
fn validate(
    model: &SyncTransformer,
    conv: InputConvention,
    teacher: Option<&Teacher>,
    regressor: &burn::nn::Linear,
    val: &[Vec<Sample>],
    device: &Device,
) -> Value {
    let mut acc = ValAccumulator::default();
    for samples in val {
        let b = samples.len();
        let batch = data::assemble(samples, &conv);
        let frames = tensor4(batch.frames, [b, 15, 48, 96], device);
        let mels = tensor4(batch.mels, [b, 1, 80, 16], device);
        let labels = batch.labels.clone();
        let y = tensor1(labels.clone(), device);
        let mut extra = Vec::new();
        let logits_t = match teacher {
            Some(t) => {
                // The teacher reads the frames in its own input convention (the mels are shared).
                let tf = if t.config.input == conv {
                    frames.clone()
                } else {
                    tensor4(data::frames_for(samples, &t.config.input), [b, 15, 48, 96], device)
                };
                let (logits, taps) = model.forward_taps(frames, mels.clone());
                let (_, t_taps) = t.model.forward_taps(tf, mels);
                let terms = distill::mtd_terms(&taps, &t_taps, 1.0);
                let all = terms.iter().map(|(c, v)| c.clone() + v.clone()).reduce(|a, b| a + b);
                let (c4, v4) = &terms[distill::LAYERS - 1];
                extra.push(all.expect("12 pairs"));
                extra.push(c4.clone() + v4.clone());
                extra.push(distill::fitnets(&taps, &t_taps, regressor));
                logits
            }
            None => model.forward(frames, mels),
        };
        let bce = crate::loss::bce_with_logits(logits_t.clone(), y);
        let mut all = vec![bce];
        all.extend(extra);
        let vals = scalars(&all);
        let logits: Vec<f32> = logits_t.into_data().convert::<f32>().try_to_vec::<f32>().expect("f32");
        acc.add(&logits, &labels, &vals);
    }
    acc.finish(teacher.is_some())
}

fn append_line(path: &Path, v: &Value) -> Result<(), TrainError> {
    let mut f = OpenOptions::new().create(true).append(true).open(path).map_err(|e| io_err(path, e))?;
    writeln!(f, "{v}").map_err(|e| io_err(path, e))
}

fn save_state(
    run_dir: &Path,
    trainable: &Trainable,
    optim: &ModuleOptimizer,
    st: &RunState,
) -> Result<(), TrainError> {
    let dir = run_dir.join("state");
    let tmp = run_dir.join("state.new");
    let old = run_dir.join("state.old");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| io_err(&tmp, e))?;
    let mut store = BurnpackStore::from_file(tmp.join("model.bpk")).overwrite(true);
    trainable.save_into(&mut store).map_err(|e| io_err(&tmp.join("model.bpk"), e))?;
    optim.save(tmp.join("optim.bpk")).map_err(|e| io_err(&tmp.join("optim.bpk"), e))?;
    let json = serde_json::to_string_pretty(st).expect("state serialises");
    manifests::atomic_write(&tmp.join("state.json"), json.as_bytes()).map_err(|e| io_err(&tmp, e))?;
    // Swap in: state → state.old, state.new → state, drop state.old. A crash in between leaves
    // state.old, which `load_state` falls back to.
    let _ = std::fs::remove_dir_all(&old);
    if dir.exists() {
        std::fs::rename(&dir, &old).map_err(|e| io_err(&dir, e))?;
    }
    std::fs::rename(&tmp, &dir).map_err(|e| io_err(&dir, e))?;
    let _ = std::fs::remove_dir_all(&old);
    Ok(())
}

fn load_state(
    run_dir: &Path,
    trainable: &mut Trainable,
    optim: ModuleOptimizer,
) -> Result<(ModuleOptimizer, RunState), TrainError> {
    let dir = [run_dir.join("state"), run_dir.join("state.old")]
        .into_iter()
        .find(|d| d.join("state.json").is_file())
        .ok_or_else(|| {
            setup(format!("{}: no saved state to resume from (no state/state.json)", run_dir.display()))
        })?;
    let text = std::fs::read_to_string(dir.join("state.json")).map_err(|e| io_err(&dir, e))?;
    let st: RunState = serde_json::from_str(&text).map_err(|e| io_err(&dir.join("state.json"), e))?;
    let mut store = BurnpackStore::from_file(dir.join("model.bpk"));
    let result = trainable.load_from(&mut store).map_err(|e| io_err(&dir.join("model.bpk"), e))?;
    if !result.missing.is_empty() || !result.errors.is_empty() {
        return Err(setup(format!(
            "{}: the saved model does not match the config ({} missing, {} errors); resume with the run's own config",
            dir.display(),
            result.missing.len(),
            result.errors.len()
        )));
    }
    let optim = optim.load(dir.join("optim.bpk")).map_err(|e| io_err(&dir.join("optim.bpk"), e))?;
    Ok((optim, st))
}

fn save_checkpoint(
    trainable: &Trainable,
    config: &ModelConfig,
    run_dir: &Path,
    name: &str,
    seed: u64,
    step: usize,
) -> Result<(), TrainError> {
    let path = run_dir.join(format!("{name}.safetensors"));
    let provenance = Provenance {
        run: Some(run_dir.display().to_string()),
        seed: Some(seed),
        step: Some(step as u64),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        ..Default::default()
    };
    checkpoint::save(&trainable.model.valid(), config, provenance, &path).map_err(setup)?;
    Ok(())
}

/// Trains according to `cfg` in `run_dir` (created, or continued with `opts.resume`).
pub fn train(cfg: &RunConfig, run_dir: &Path, opts: &TrainOptions) -> Result<Summary, TrainError> {
    let started = Instant::now();
    cfg.validate().map_err(setup)?;
    let metrics_path = run_dir.join("metrics.jsonl");
    let config_path = run_dir.join("config.toml");
    let has_state =
        run_dir.join("state/state.json").is_file() || run_dir.join("state.old/state.json").is_file();
    if opts.resume {
        let saved = std::fs::read_to_string(&config_path)
            .map_err(|e| setup(format!("{}: cannot resume: {e}", config_path.display())))?;
        if saved != cfg.to_toml() {
            return Err(setup(format!(
                "{}: the run was started with another config; resume with `trainer train --resume {}` alone",
                config_path.display(),
                run_dir.display()
            )));
        }
    } else {
        if metrics_path.exists() || run_dir.join("state").exists() {
            return Err(setup(format!(
                "{}: already holds a run; pass --resume to continue it or choose another --out",
                run_dir.display()
            )));
        }
        std::fs::create_dir_all(run_dir).map_err(|e| io_err(run_dir, e))?;
        manifests::atomic_write(&config_path, cfg.to_toml().as_bytes())
            .map_err(|e| io_err(&config_path, e))?;
    }
    let manifest = cfg.shards.join(manifests::MANIFEST_FILE);
    let manifest_sha = manifests::sha256_file(&manifest)
        .map_err(|e| setup(format!("{}: cannot read the shard manifest: {e}", manifest.display())))?;
    let train_rows = data::split_rows(&cfg.shards, &cfg.train_split).map_err(setup)?;
    if train_rows == 0 {
        return Err(setup(format!(
            "{}: split {:?} has no utterances",
            cfg.shards.display(),
            cfg.train_split
        )));
    }
    let spe = cfg.steps_per_epoch.unwrap_or_else(|| train_rows.div_ceil(cfg.batch_size));

    let device = cfg.device.device();
    let train_device = device.clone().autodiff();
    // Teacher (frozen, eval mode on the plain device).
    let teacher = match &cfg.teacher {
        Some(t) => {
            let loaded = checkpoint::load(&t.checkpoint, t.preset, &device).map_err(setup)?;
            Some(Teacher { model: loaded.model, config: loaded.config })
        }
        None => None,
    };
    // Student and loss parameters, from the seed.
    device.seed(cfg.seed);
    let (model, model_config) = match &cfg.model.init {
        Some(p) => {
            let l = checkpoint::load(p, Some(cfg.model.preset), &train_device).map_err(setup)?;
            (l.model, l.config)
        }
        None => {
            let c = cfg.model.config();
            c.validate().map_err(|e| setup(format!("[model]: {e}")))?;
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
    if opts.resume && !has_state {
        // Killed before the first save: start over in the same directory.
        let _ = std::fs::remove_file(&metrics_path);
    }
    if opts.resume && has_state {
        let (o, s) = load_state(run_dir, &mut trainable, optim)?;
        optim = o;
        st = s;
        // Drop metric lines written after the saved state (they will be recomputed).
        let f = OpenOptions::new().write(true).open(&metrics_path).map_err(|e| io_err(&metrics_path, e))?;
        f.set_len(st.metrics_bytes).map_err(|e| io_err(&metrics_path, e))?;
        append_line(&metrics_path, &json!({"event": "resume", "step": st.step, "epoch": st.epoch}))?;
    }
    if !(opts.resume && has_state) {
        append_line(
            &metrics_path,
            &json!({
                "event": "start",
                "config": serde_json::to_value(cfg).expect("config serialises"),
                "manifest_sha256": manifest_sha,
                "model": model_config,
                "param_count": trainable.model.param_count(),
                "steps_per_epoch": spe,
                "train_utterances": train_rows,
                "tool_version": env!("CARGO_PKG_VERSION"),
            }),
        )?;
    }
    let val = validation_set(cfg)?;
    let conv = model_config.input;
    let t_conv = teacher.as_ref().map(|t| t.config.input);
    let use_teacher = cfg.loss.needs_teacher();
    let want_taps = cfg.loss.needs_taps();
    let mut wait_total = 0.0f64;
    let mut step_total = 0.0f64;
    let mut last_val = Value::Null;
    let style = ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} {msg} eta {eta}")
        .expect("valid template")
        .progress_chars("=> ");

    while st.epoch < cfg.epochs {
        let epoch = st.epoch;
        let stream = StreamConfig {
            shards: cfg.shards.clone(),
            split: cfg.train_split.clone(),
            batch: cfg.batch_size,
            buffer_utts: cfg.data.buffer_utts,
            windows_per_utt: cfg.data.windows_per_utt,
            prefetch: cfg.data.prefetch,
            seed: mix(cfg.seed, SALT_EPOCH + epoch as u64),
        };
        let rx = data::batches(&stream, conv, if use_teacher { t_conv } else { None }, st.step_in_epoch)
            .map_err(|e| setup(format!("training data: {e}")))?;
        let bar = if opts.quiet { ProgressBar::hidden() } else { ProgressBar::new(spe as u64) };
        bar.set_style(style.clone());
        bar.set_prefix(format!("{}/{}", epoch + 1, cfg.epochs));
        bar.set_position(st.step_in_epoch as u64);
        let (mut ep_wait, mut ep_time) = (0.0f64, 0.0f64);
        while st.step_in_epoch < spe {
            let t0 = Instant::now();
            let (batch, t_frames) =
                rx.recv().map_err(|_| setup("training data pipeline stopped"))?.map_err(setup)?;
            let waited = t0.elapsed().as_secs_f64();
            let b = batch.labels.len();
            let lr = cfg.schedule.lr(cfg.lr, st.step, spe);
            train_device.seed(mix(cfg.seed, SALT_STEP + st.step as u64));
            let mels_plain = tensor4(batch.mels, [b, 1, 80, 16], &device);
            let frames = tensor4(batch.frames, [b, 15, 48, 96], &train_device);
            let mels = mels_plain.clone().autodiff();
            let labels = tensor1(batch.labels, &train_device);
            let teacher_out = match (&teacher, use_teacher) {
                (Some(t), true) => {
                    let tf = match t_frames {
                        Some(f) => tensor4(f, [b, 15, 48, 96], &device),
                        None => frames.clone().inner(),
                    };
                    Some(if want_taps {
                        let (l, taps) = t.model.forward_taps(tf, mels_plain);
                        (l, Some(taps))
                    } else {
                        (t.model.forward(tf, mels_plain), None)
                    })
                }
                _ => None,
            };
            let (logits, taps) = if want_taps {
                let (l, t) = trainable.model.forward_taps(frames, mels);
                (l, Some(t))
            } else {
                (trainable.model.forward(frames, mels), None)
            };
            let out = distill::compute(
                &cfg.loss,
                &trainable.loss,
                StepInputs {
                    logits,
                    taps: taps.as_ref(),
                    teacher: teacher_out.as_ref().map(|(l, t)| (l.clone(), t.as_ref())),
                    labels,
                },
            );
            let mut pending: Option<Value> = None;
            let log_now = cfg.log_every > 0 && (st.step + 1) % cfg.log_every == 0;
            let total: f32 = out.total.clone().into_scalar::<f32>();
            if !total.is_finite() || log_now {
                let mut names = vec!["bce".to_string()];
                let mut ts = vec![out.bce.clone()];
                for (k, v) in &out.terms {
                    names.push(k.clone());
                    ts.push(v.clone());
                }
                let vals = scalars(&ts);
                if !total.is_finite() {
                    let terms = names
                        .iter()
                        .zip(&vals)
                        .map(|(n, v)| format!("{n}={v}"))
                        .collect::<Vec<_>>()
                        .join(", ");
                    let kept = if run_dir.join("last.safetensors").exists() {
                        format!(" {}", run_dir.join("last.safetensors").display())
                    } else {
                        " (none yet: no epoch finished)".into()
                    };
                    bar.abandon();
                    return Err(TrainError::NonFinite { step: st.step, epoch, value: total, terms, kept });
                }
                let mut terms = Map::new();
                for (n, v) in names.iter().zip(&vals) {
                    terms.insert(n.clone(), json!(v));
                }
                let weights: Vec<f32> = trainable
                    .loss
                    .weights
                    .as_ref()
                    .map(|w| w.val().into_data().convert::<f32>().try_to_vec::<f32>().expect("f32"))
                    .unwrap_or_default();
                pending = Some(json!({
                    "event": "step", "epoch": epoch + 1, "step": st.step + 1, "lr": lr,
                    "loss": total, "terms": terms, "weights": weights,
                }));
            }
            let grads = GradientsParams::from_grads(out.total.backward(), &trainable);
            trainable = optim.step(lr, trainable, grads);
            st.epoch_loss.0 += total as f64;
            st.epoch_loss.1 += 1;
            st.step += 1;
            st.step_in_epoch += 1;
            let dt = t0.elapsed().as_secs_f64();
            if let Some(mut line) = pending {
                // Whole-step throughput (data wait + forward + backward + Adam).
                line["samples_per_s"] = json!(b as f64 / dt.max(1e-9));
                line["data_wait_s"] = json!(waited);
                append_line(&metrics_path, &line)?;
            }
            ep_wait += waited;
            ep_time += dt;
            bar.set_message(format!("loss {total:.4} lr {lr:.2e} {:.1} samples/s", b as f64 / dt));
            bar.inc(1);
            if cfg.checkpoint_every > 0 && st.step % cfg.checkpoint_every == 0 && st.step_in_epoch < spe {
                st.metrics_bytes = std::fs::metadata(&metrics_path).map(|m| m.len()).unwrap_or(0);
                save_state(run_dir, &trainable, &optim, &st)?;
            }
        }
        bar.finish_and_clear();
        wait_total += ep_wait;
        step_total += ep_time;
        // Validation (eval mode: the plain-device copy).
        let eval_model = trainable.model.valid();
        let regressor = match (&cfg.loss.kind, &trainable.loss.regressor) {
            (LossKind::Fitnets, Some(r)) => r.valid(),
            _ => diag_regressor.clone(),
        };
        let v = validate(&eval_model, conv, teacher.as_ref(), &regressor, &val, &device);
        let f1 = v["f1"].as_f64().unwrap_or(0.0);
        let improved = st.best_f1.is_none_or(|b| f1 > b);
        let train_loss = st.epoch_loss.0 / st.epoch_loss.1.max(1) as f64;
        append_line(
            &metrics_path,
            &json!({
                "event": "epoch", "epoch": epoch + 1, "step": st.step, "train_loss": train_loss,
                "lr": cfg.schedule.lr(cfg.lr, st.step.saturating_sub(1), spe),
                "val": v, "best": improved,
                "wait_fraction": ep_wait / ep_time.max(1e-9), "epoch_s": ep_time,
            }),
        )?;
        // One line per epoch even with --quiet (which hides only the progress bars): the
        // parallel steps of `make reproduce` relay these lines.
        eprintln!(
            "epoch {}/{}: train loss {train_loss:.4}, val F1 {f1:.4}, BCE {:.4}, acc {:.4}{}",
            epoch + 1,
            cfg.epochs,
            v["bce"].as_f64().unwrap_or(f64::NAN),
            v["accuracy"].as_f64().unwrap_or(f64::NAN),
            if improved { " (best)" } else { "" }
        );
        save_checkpoint(&trainable, &model_config, run_dir, "last", cfg.seed, st.step)?;
        if improved {
            st.best_f1 = Some(f1);
            st.best_epoch = Some(epoch + 1);
            save_checkpoint(&trainable, &model_config, run_dir, "best", cfg.seed, st.step)?;
        }
        if cfg.save_every_epoch {
            save_checkpoint(
                &trainable,
                &model_config,
                run_dir,
                &format!("epoch-{:03}", epoch + 1),
                cfg.seed,
                st.step,
            )?;
        }
        last_val = v;
        st.epoch += 1;
        st.step_in_epoch = 0;
        st.epoch_loss = (0.0, 0);
        st.metrics_bytes = std::fs::metadata(&metrics_path).map(|m| m.len()).unwrap_or(0);
        save_state(run_dir, &trainable, &optim, &st)?;
    }
    Ok(Summary {
        run_dir: run_dir.to_path_buf(),
        steps: st.step,
        best_f1: st.best_f1.unwrap_or(0.0),
        best_epoch: st.best_epoch.unwrap_or(0),
        last_val,
        wait_fraction: wait_total / step_total.max(1e-9),
        wall_s: started.elapsed().as_secs_f64(),
    })
}
