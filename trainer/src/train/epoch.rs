//! One epoch of the training loop: the iterations (seeded per step) and the epoch's end
//! (validation, checkpoints, resume state). `train()` in the parent module sets a [`Run`] up.

use std::time::Instant;

use burn::module::Module;
use indicatif::ProgressBar;
use std::collections::BTreeMap;

use super::metrics::MetricsLine;

use super::run_dir::{RunDir, RunState};
use super::step::{self, Objective, StepBatch, Teacher};
use super::validate::{self, Validation};
use super::{mix, RunConfig, TrainError, SALT_EPOCH, SALT_STEP};
use crate::data::{self, DataError, StreamConfig};
use crate::loss::{LossKind, Trainable};

/// Everything one run holds between iterations.
pub(super) struct Run<'a> {
    pub(super) cfg: &'a RunConfig,
    pub(super) dir: RunDir,
    pub(super) device: burn::tensor::Device,
    pub(super) train_device: burn::tensor::Device,
    pub(super) teacher: Option<Teacher>,
    pub(super) model_config: nets::model::ModelConfig,
    pub(super) optim: burn::optim::ModuleOptimizer,
    pub(super) st: RunState,
    pub(super) spe: usize,
}

impl Run<'_> {
    /// The epoch's batches: seeded by the epoch, skipping what a resumed epoch already did.
    fn stream(&self) -> Result<std::sync::mpsc::Receiver<Result<data::Assembled, DataError>>, TrainError> {
        let cfg = self.cfg;
        let stream = StreamConfig {
            shards: cfg.shards.clone(),
            split: cfg.train_split.clone(),
            batch: cfg.batch_size,
            buffer_utts: cfg.data.buffer_utts,
            windows_per_utt: cfg.data.windows_per_utt,
            prefetch: cfg.data.prefetch,
            seed: mix(cfg.seed, SALT_EPOCH + self.st.epoch as u64),
        };
        let second = self.teacher.as_ref().filter(|_| cfg.loss.needs_teacher()).map(|t| t.config.input);
        data::batches(&stream, self.model_config.input, second, self.st.step_in_epoch)
            .map_err(|e| TrainError::Data { what: "training", source: e })
    }

    /// Runs the rest of the current epoch on `trainable`; returns it updated, with the seconds
    /// spent waiting for data and in steps.
    pub(super) fn epoch(
        &mut self,
        mut trainable: Trainable,
        bar: &ProgressBar,
    ) -> Result<(Trainable, (f64, f64)), TrainError> {
        let cfg = self.cfg;
        let rx = self.stream()?;
        let (mut ep_wait, mut ep_time) = (0.0f64, 0.0f64);
        while self.st.step_in_epoch < self.spe {
            let t0 = Instant::now();
            let (batch, t_frames) = rx
                .recv()
                .unwrap_or(Err(DataError::Stopped))
                .map_err(|e| TrainError::Data { what: "training", source: e })?;
            let waited = t0.elapsed().as_secs_f64();
            let b = batch.labels.len();
            let lr = cfg.schedule.lr(cfg.lr, self.st.step, self.spe);
            self.train_device.seed(mix(cfg.seed, SALT_STEP + self.st.step as u64));
            let batch = StepBatch::new(batch, t_frames, &self.device, &self.train_device);
            let out = Objective::new(&cfg.loss, self.teacher.as_ref()).forward(&trainable, batch)?;
            let total: f32 = out.total.clone().into_scalar::<f32>();
            let log_now = cfg.log_every > 0 && (self.st.step + 1).is_multiple_of(cfg.log_every);
            let mut pending = None;
            if !total.is_finite() || log_now {
                let mut named = vec![("bce".to_string(), out.bce.clone())];
                named.extend(out.terms.iter().cloned());
                let vals = validate::host_scalars(named.iter().map(|(_, t)| t.clone()).collect());
                let names = named.iter().map(|(n, _)| n.clone());
                if !total.is_finite() {
                    let terms =
                        names.zip(&vals).map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>().join(", ");
                    bar.abandon();
                    let (step, epoch, kept) = (self.st.step, self.st.epoch, self.dir.last_good());
                    return Err(TrainError::NonFinite { step, epoch, value: total, terms, kept });
                }
                let terms: BTreeMap<String, f32> = names.zip(vals.iter().copied()).collect();
                let weights: Vec<f32> = trainable
                    .loss
                    .weights
                    .as_ref()
                    .map(|w| w.val().into_data().convert::<f32>().try_to_vec::<f32>().expect("f32"))
                    .unwrap_or_default();
                pending = Some((self.st.epoch + 1, self.st.step + 1, terms, weights));
            }
            trainable = step::update(trainable, &mut self.optim, lr, &out.total);
            let st = &mut self.st;
            st.epoch_loss.0 += total as f64;
            st.epoch_loss.1 += 1;
            st.step += 1;
            st.step_in_epoch += 1;
            let dt = t0.elapsed().as_secs_f64();
            if let Some((epoch, step, terms, weights)) = pending {
                // Whole-step throughput (data wait + forward + backward + Adam).
                let samples_per_s = b as f64 / dt.max(1e-9);
                let (loss, data_wait_s) = (total, waited);
                let line =
                    MetricsLine::Step { epoch, step, lr, loss, terms, weights, samples_per_s, data_wait_s };
                self.dir.append(&line)?;
            }
            ep_wait += waited;
            ep_time += dt;
            bar.set_message(format!("loss {total:.4} lr {lr:.2e} {:.1} samples/s", b as f64 / dt));
            bar.inc(1);
            let st = &mut self.st;
            if cfg.checkpoint_every > 0
                && st.step.is_multiple_of(cfg.checkpoint_every)
                && st.step_in_epoch < self.spe
            {
                st.metrics_bytes = self.dir.metrics_len();
                self.dir.save_state(&trainable, &self.optim, &self.st)?;
            }
        }
        Ok((trainable, (ep_wait, ep_time)))
    }

    /// Validates, logs the epoch, writes the checkpoints and the resume state.
    pub(super) fn end_epoch(
        &mut self,
        trainable: &Trainable,
        val: &[Vec<crate::sampling::Sample>],
        diag_regressor: &burn::nn::Linear,
        (ep_wait, ep_time): (f64, f64),
    ) -> Result<Validation, TrainError> {
        let (cfg, epoch) = (self.cfg, self.st.epoch);
        // Validation (eval mode: the plain-device copy).
        let eval_model = trainable.model.valid();
        let regressor = match (&cfg.loss.kind, &trainable.loss.regressor) {
            (LossKind::Fitnets, Some(r)) => r.valid(),
            _ => diag_regressor.clone(),
        };
        let conv = self.model_config.input;
        let v = validate::validate(&eval_model, conv, self.teacher.as_ref(), &regressor, val, &self.device);
        let improved = self.st.best_f1.is_none_or(|b| v.f1 > b);
        let train_loss = self.st.epoch_loss.0 / self.st.epoch_loss.1.max(1) as f64;
        self.dir.append(&MetricsLine::Epoch {
            epoch: epoch + 1,
            step: self.st.step,
            train_loss,
            lr: cfg.schedule.lr(cfg.lr, self.st.step.saturating_sub(1), self.spe),
            val: &v,
            best: improved,
            wait_fraction: ep_wait / ep_time.max(1e-9),
            epoch_s: ep_time,
        })?;
        // One line per epoch even with --quiet (which hides only the progress bars): the
        // parallel steps of `make reproduce` relay these lines.
        eprintln!(
            "epoch {}/{}: train loss {train_loss:.4}, val F1 {:.4}, BCE {:.4}, acc {:.4}{}",
            epoch + 1,
            cfg.epochs,
            v.f1,
            v.bce,
            v.accuracy,
            if improved { " (best)" } else { "" }
        );
        let (seed, step) = (cfg.seed, self.st.step);
        self.dir.save_checkpoint(trainable, &self.model_config, "last", seed, step)?;
        if improved {
            self.st.best_f1 = Some(v.f1);
            self.st.best_epoch = Some(epoch + 1);
            self.dir.save_checkpoint(trainable, &self.model_config, "best", seed, step)?;
        }
        if cfg.save_every_epoch {
            let name = format!("epoch-{:03}", epoch + 1);
            self.dir.save_checkpoint(trainable, &self.model_config, &name, seed, step)?;
        }
        self.st.epoch += 1;
        self.st.step_in_epoch = 0;
        self.st.epoch_loss = (0.0, 0);
        self.st.metrics_bytes = self.dir.metrics_len();
        self.dir.save_state(trainable, &self.optim, &self.st)?;
        Ok(v)
    }
}
