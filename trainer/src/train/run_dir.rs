//! The run directory (`trainer train --out`): `config.toml` (resolved), `metrics.jsonl`,
//! `last`/`best`/`epoch-NNN` checkpoints in our format, and `state/` (model and Adam state in
//! burnpack, counters in `state.json`) for exact resume, replaced atomically.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::store::{BurnpackStore, ModuleSnapshot};
use serde::{Deserialize, Serialize};

use super::metrics::MetricsLine;
use super::{RunConfig, TrainError};
use crate::loss::Trainable;
use nets::checkpoint::{self, Provenance};
use nets::model::ModelConfig;

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

fn io_err(path: &Path, e: impl ToString) -> TrainError {
    TrainError::Io { path: path.to_path_buf(), detail: e.to_string() }
}

/// The files of a resume state, each checksummed in [`CHECKSUMS`].
const STATE_FILES: [&str; 3] = ["model.bpk", "optim.bpk", "state.json"];
/// sha256 of each of [`STATE_FILES`], written last.
const CHECKSUMS: &str = "checksums.json";

/// Checks a saved state against its checksums, so that a state whose bytes changed is never
/// resumed from silently (a state saved before checksums existed has none and is accepted).
fn verify_state(dir: &Path) -> Result<(), TrainError> {
    let path = dir.join(CHECKSUMS);
    if !path.is_file() {
        return Ok(());
    }
    let text = std::fs::read_to_string(&path).map_err(|e| io_err(&path, e))?;
    let sums: std::collections::BTreeMap<String, String> =
        serde_json::from_str(&text).map_err(|e| io_err(&path, e))?;
    for name in STATE_FILES {
        let file = dir.join(name);
        let found = manifests::sha256_file(&file).map_err(|e| io_err(&file, e))?;
        if sums.get(name) != Some(&found) {
            return Err(TrainError::CorruptState { file, checksums: CHECKSUMS });
        }
    }
    Ok(())
}

/// A run directory and the files in it.
pub struct RunDir {
    root: PathBuf,
}

impl RunDir {
    /// The run directory at `root` (nothing is touched yet).
    pub fn new(root: &Path) -> Self {
        Self { root: root.to_path_buf() }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// `metrics.jsonl`.
    pub fn metrics_path(&self) -> PathBuf {
        self.root.join("metrics.jsonl")
    }

    /// Whether a resume state was saved (`state/`, or `state.old/` after a crash mid-swap).
    pub fn has_state(&self) -> bool {
        self.root.join("state/state.json").is_file() || self.root.join("state.old/state.json").is_file()
    }

    /// A new run writes `config.toml`; a resumed one checks that `cfg` is the config it started
    /// with. A new run refuses a directory that already holds one.
    pub fn open(&self, cfg: &RunConfig, resume: bool) -> Result<(), TrainError> {
        let config_path = self.root.join("config.toml");
        if resume {
            let saved = std::fs::read_to_string(&config_path)
                .map_err(|source| TrainError::NoRunConfig { path: config_path.clone(), source })?;
            if saved != cfg.to_toml() {
                return Err(TrainError::OtherConfig { path: config_path, run: self.root.clone() });
            }
            return Ok(());
        }
        if self.metrics_path().exists() || self.root.join("state").exists() {
            return Err(TrainError::RunExists(self.root.clone()));
        }
        std::fs::create_dir_all(&self.root).map_err(|e| io_err(&self.root, e))?;
        manifests::atomic_write(&config_path, cfg.to_toml().as_bytes()).map_err(|e| io_err(&config_path, e))
    }

    /// Appends one JSON line to `metrics.jsonl`.
    pub fn append(&self, line: &MetricsLine) -> Result<(), TrainError> {
        let path = self.metrics_path();
        let mut f = OpenOptions::new().create(true).append(true).open(&path).map_err(|e| io_err(&path, e))?;
        writeln!(f, "{}", line.to_line()).map_err(|e| io_err(&path, e))
    }

    /// Current length of `metrics.jsonl` (0 when absent).
    pub fn metrics_len(&self) -> u64 {
        std::fs::metadata(self.metrics_path()).map(|m| m.len()).unwrap_or(0)
    }

    /// Drops the metric lines written after a saved state (a resume recomputes them), or the
    /// whole file when the run was killed before its first save.
    pub fn truncate_metrics(&self, len: Option<u64>) -> Result<(), TrainError> {
        let path = self.metrics_path();
        match len {
            None => {
                let _ = std::fs::remove_file(&path);
                Ok(())
            }
            Some(len) => {
                let f = OpenOptions::new().write(true).open(&path).map_err(|e| io_err(&path, e))?;
                f.set_len(len).map_err(|e| io_err(&path, e))
            }
        }
    }

    /// Saves the resume state: written to `state.new/`, then swapped in (state → state.old,
    /// state.new → state, drop state.old). A crash in between leaves `state.old`, which
    /// [`RunDir::load_state`] falls back to.
    pub fn save_state(
        &self,
        trainable: &Trainable,
        optim: &ModuleOptimizer,
        st: &RunState,
    ) -> Result<(), TrainError> {
        let dir = self.root.join("state");
        let tmp = self.root.join("state.new");
        let old = self.root.join("state.old");
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).map_err(|e| io_err(&tmp, e))?;
        // burn keeps the last training step's BatchNorm running-statistics update pending (per
        // thread) until the next forward, and saving reads the committed value: commit it first,
        // or a state saved inside an epoch holds statistics one step old (issue #20 point 3).
        // `valid()` commits every running state of the module as a side effect.
        let _ = trainable.model.valid();
        let mut store = BurnpackStore::from_file(tmp.join("model.bpk")).overwrite(true);
        trainable.save_into(&mut store).map_err(|e| io_err(&tmp.join("model.bpk"), e))?;
        optim.save(tmp.join("optim.bpk")).map_err(|e| io_err(&tmp.join("optim.bpk"), e))?;
        let json = serde_json::to_string_pretty(st).expect("state serialises");
        manifests::atomic_write(&tmp.join("state.json"), json.as_bytes()).map_err(|e| io_err(&tmp, e))?;
        let mut sums = serde_json::Map::new();
        for name in STATE_FILES {
            let path = tmp.join(name);
            sums.insert(name.into(), manifests::sha256_file(&path).map_err(|e| io_err(&path, e))?.into());
        }
        let sums = serde_json::to_string_pretty(&sums).expect("checksums serialise") + "\n";
        manifests::atomic_write(&tmp.join(CHECKSUMS), sums.as_bytes()).map_err(|e| io_err(&tmp, e))?;
        let _ = std::fs::remove_dir_all(&old);
        if dir.exists() {
            std::fs::rename(&dir, &old).map_err(|e| io_err(&dir, e))?;
        }
        std::fs::rename(&tmp, &dir).map_err(|e| io_err(&dir, e))?;
        let _ = std::fs::remove_dir_all(&old);
        Ok(())
    }

    /// Loads the saved model, loss parameters and Adam state into `trainable` and `optim`.
    pub fn load_state(
        &self,
        trainable: &mut Trainable,
        optim: ModuleOptimizer,
    ) -> Result<(ModuleOptimizer, RunState), TrainError> {
        let dir = [self.root.join("state"), self.root.join("state.old")]
            .into_iter()
            .find(|d| d.join("state.json").is_file())
            .ok_or_else(|| TrainError::NoState(self.root.clone()))?;
        verify_state(&dir)?;
        let text = std::fs::read_to_string(dir.join("state.json")).map_err(|e| io_err(&dir, e))?;
        let st: RunState = serde_json::from_str(&text).map_err(|e| io_err(&dir.join("state.json"), e))?;
        let mut store = BurnpackStore::from_file(dir.join("model.bpk"));
        let result = trainable.load_from(&mut store).map_err(|e| io_err(&dir.join("model.bpk"), e))?;
        if !result.missing.is_empty() || !result.errors.is_empty() {
            let (missing, errors) = (result.missing.len(), result.errors.len());
            return Err(TrainError::StateMismatch { dir, missing, errors });
        }
        let optim = optim.load(dir.join("optim.bpk")).map_err(|e| io_err(&dir.join("optim.bpk"), e))?;
        Ok((optim, st))
    }

    /// Writes `<name>.safetensors` + sidecar: the student in our checkpoint format, with the seed
    /// and step as provenance.
    pub fn save_checkpoint(
        &self,
        trainable: &Trainable,
        config: &ModelConfig,
        name: &str,
        seed: u64,
        step: usize,
    ) -> Result<(), TrainError> {
        let path = self.root.join(format!("{name}.safetensors"));
        let provenance = Provenance {
            run: Some(self.root.display().to_string()),
            seed: Some(seed),
            step: Some(step as u64),
            tool_version: env!("CARGO_PKG_VERSION").into(),
            ..Default::default()
        };
        checkpoint::save(&trainable.model.valid(), config, provenance, &path)?;
        Ok(())
    }

    /// Where the last good checkpoint is, for the message of a stopped run.
    pub fn last_good(&self) -> String {
        let last = self.root.join("last.safetensors");
        if last.exists() {
            format!(" {}", last.display())
        } else {
            " (none yet: no epoch finished)".into()
        }
    }
}
