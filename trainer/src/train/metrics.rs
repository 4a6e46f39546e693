//! One line of `metrics.jsonl` per event, typed: what a run logs, and the one place that says
//! which fields each event has (the plots and `make reproduce` read them by these names).
//! Lines are written as JSON objects with their keys sorted, as they always were.

use std::collections::BTreeMap;

use serde::Serialize;

use super::config::RunConfig;
use super::validate::Validation;

/// An event of a training run.
#[derive(Debug, Serialize)]
#[serde(tag = "event", rename_all = "lowercase")]
pub enum MetricsLine<'a> {
    /// The run starts: its config and data.
    Start {
        /// The whole run config.
        config: &'a RunConfig,
        /// sha256 of the shard manifest.
        manifest_sha256: &'a str,
        /// The student's model config.
        model: &'a nets::model::ModelConfig,
        /// Its trainable parameters.
        param_count: usize,
        /// Optimiser steps per epoch.
        steps_per_epoch: usize,
        /// Utterances of the training split.
        train_utterances: usize,
        /// This tool's version.
        tool_version: &'static str,
    },
    /// A run continued from its saved state.
    Resume {
        /// Steps done before.
        step: usize,
        /// Epochs done before.
        epoch: usize,
    },
    /// Every `log_every` steps.
    Step {
        /// Epoch, from 1.
        epoch: usize,
        /// Step, from 1.
        step: usize,
        /// Learning rate of the step.
        lr: f64,
        /// The total loss (eq. 4).
        loss: f32,
        /// Each term of the loss by name (`bce` first among them).
        terms: BTreeMap<String, f32>,
        /// The learned term weights (eq. 3), empty without them.
        weights: Vec<f32>,
        /// Whole-step throughput (data wait + forward + backward + Adam).
        samples_per_s: f64,
        /// Seconds waited for the batch.
        data_wait_s: f64,
    },
    /// The end of an epoch, after validation.
    Epoch {
        /// Epoch, from 1.
        epoch: usize,
        /// Steps done.
        step: usize,
        /// Mean training loss of the epoch.
        train_loss: f64,
        /// Learning rate of the epoch's last step.
        lr: f64,
        /// The validation pass.
        val: &'a Validation,
        /// Whether it is the best validation F1 so far.
        best: bool,
        /// Fraction of the epoch spent waiting for data.
        wait_fraction: f64,
        /// Wall seconds of the epoch.
        epoch_s: f64,
    },
}

impl MetricsLine<'_> {
    /// The JSON line (no newline), keys sorted.
    pub fn to_line(&self) -> String {
        serde_json::to_value(self).expect("metrics serialise").to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_name_their_event_and_sort_their_keys() {
        let line = MetricsLine::Resume { step: 12, epoch: 3 }.to_line();
        assert_eq!(line, r#"{"epoch":3,"event":"resume","step":12}"#);
        let terms = BTreeMap::from([("bce".to_string(), 0.5f32), ("attn".to_string(), 0.25)]);
        let step = MetricsLine::Step {
            epoch: 1,
            step: 2,
            lr: 1e-3,
            loss: 0.75,
            terms,
            weights: vec![],
            samples_per_s: 10.0,
            data_wait_s: 0.0,
        };
        let v: serde_json::Value = serde_json::from_str(&step.to_line()).unwrap();
        assert_eq!(v["event"], "step");
        assert_eq!(v["terms"]["bce"], 0.5);
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
    }
}
