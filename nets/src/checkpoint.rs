//! Checkpoints (SPEC §3): import of the public PyTorch `.pth` files, and our own format.
//!
//! Our format is a safetensors file holding the reference state dict (so PyTorch users can
//! `load_state_dict` it, see [`crate::export`]) plus a JSON sidecar `<name>.json` with the model
//! config, input convention, parameter count and provenance. A safetensors file without sidecar
//! (say, exported from PyTorch) loads too, with the preset inferred from its shapes.
//!
//! Reads torch.save zip files with burn-store's `PytorchStore`, a pickle *parser* that never
//! executes pickled code. Accepts the official VocaLiST layout (`{state_dict, optimizer,
//! global_step, global_epoch}`), the MTDVocaLiST layout (`{state_dict}`), a bare state dict, and a
//! `module.` prefix. Loading is strict: every parameter and running statistic must be present
//! with its shape; only the buffers that carry no model information may be left over.

use std::io::Read;
use std::path::{Path, PathBuf};

use burn::store::{
    ApplyResult, ModuleSnapshot, ModuleStore, PyTorchToBurnAdapter, PytorchStore, SafetensorsStore,
};
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use crate::model::{ModelConfig, Preset, SyncTransformer};

/// Why a checkpoint could not be loaded. Every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The file could not be read.
    #[error("{path}: cannot read checkpoint: {source}")]
    Io {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// Not a torch.save zip archive.
    #[error("{path}: not a PyTorch checkpoint (expected a torch.save zip archive); {hint}")]
    NotACheckpoint {
        /// File.
        path: PathBuf,
        /// What to do.
        hint: &'static str,
    },
    /// The archive is damaged or holds no state dict.
    #[error("{path}: unreadable checkpoint ({detail}); is the file truncated? re-download or re-save it")]
    Unreadable {
        /// File.
        path: PathBuf,
        /// Reader message.
        detail: String,
    },
    /// The sidecar JSON is malformed.
    #[error("{path}: bad checkpoint sidecar ({detail}); it must be the JSON written with the weights")]
    Sidecar {
        /// Sidecar file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// Writing failed.
    #[error("{path}: cannot write checkpoint: {detail}")]
    Write {
        /// File.
        path: PathBuf,
        /// Cause.
        detail: String,
    },
    /// The weights do not fit the architecture.
    #[error("{path}: does not match preset {preset}: {detail}")]
    Mismatch {
        /// File.
        path: PathBuf,
        /// Preset tried.
        preset: String,
        /// The first mismatched keys.
        detail: String,
    },
}

/// Keys that PyTorch saves but that carry no model information (SPEC §3).
fn is_inert_buffer(key: &str) -> bool {
    key.ends_with("num_batches_tracked") || key.ends_with(".version") || key.ends_with("._float_tensor")
}

/// Regex remaps from reference names to our module paths.
const REMAPS: [(&str, &str); 3] =
    [(r"^module\.", ""), (r"\.conv_block\.0\.", ".conv."), (r"\.conv_block\.1\.", ".bn.")];

fn open_pth(path: &Path, top_level: bool) -> PytorchStore {
    let mut store = PytorchStore::from_file(path).allow_partial(true).validate(false);
    if top_level {
        store = store.with_top_level_key("state_dict");
    }
    for (from, to) in REMAPS {
        store = store.with_key_remapping(from, to);
    }
    store
}

/// The conv channel list and width implied by the tensor shapes of a (remapped) state dict.
fn infer_shape<S: ModuleStore>(store: &mut S) -> Option<([usize; 5], usize)> {
    let mut out =
        |key: &str| -> Option<usize> { store.get_tensor(key).ok()??.shape.as_slice().first().copied() };
    let c = [
        out("vid_prenet.0.conv.weight")?,
        out("vid_prenet.1.conv.weight")?,
        out("vid_prenet.4.conv.weight")?,
        out("vid_prenet.8.conv.weight")?,
        out("vid_prenet.11.conv.weight")?,
    ];
    let d = out("fc.weight")?;
    Some((c, d))
}

pub(crate) fn unreadable(path: &Path, detail: impl ToString) -> CheckpointError {
    CheckpointError::Unreadable { path: path.to_path_buf(), detail: detail.to_string() }
}

fn read_magic(path: &Path) -> Result<[u8; 4], CheckpointError> {
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .map_err(|source| CheckpointError::Io { path: path.to_path_buf(), source })?;
    Ok(magic)
}

const ZIP_MAGIC: &[u8; 4] = b"PK\x03\x04";

/// Loads a `.pth` checkpoint; infers the preset from the shapes when `preset` is None.
pub fn load_pth(
    path: &Path,
    preset: Option<Preset>,
    device: &Device,
) -> Result<(SyncTransformer, ModelConfig), CheckpointError> {
    if &read_magic(path)? != ZIP_MAGIC {
        return Err(CheckpointError::NotACheckpoint {
            path: path.to_path_buf(),
            hint: "legacy (non-zip) torch files are not supported: re-save with torch >= 1.6",
        });
    }
    // Nested {state_dict: ...} first, then a bare state dict.
    let mut store = open_pth(path, true);
    if store.keys().map(|k| k.is_empty()).unwrap_or(true) {
        store = open_pth(path, false);
    }
    load_from_store(path, store, preset, device)
}

/// The preset whose widths match, else a custom config with those widths.
fn config_for(preset: Option<Preset>, inferred: Option<([usize; 5], usize)>) -> Option<ModelConfig> {
    match (preset, inferred) {
        (Some(p), _) => Some(p.config()),
        (None, Some((c, d))) => Some(
            Preset::ALL
                .iter()
                .map(|p| p.config())
                .find(|cfg| cfg.channels == c && cfg.d_model == d)
                .unwrap_or_else(|| ModelConfig {
                    name: "custom".into(),
                    channels: c,
                    d_model: d,
                    ..Preset::Vocalist.config()
                }),
        ),
        (None, None) => None,
    }
}

/// Builds the model for `preset` (or the preset the shapes imply) and loads `store` strictly.
fn load_from_store<S: ModuleStore>(
    path: &Path,
    mut store: S,
    preset: Option<Preset>,
    device: &Device,
) -> Result<(SyncTransformer, ModelConfig), CheckpointError> {
    let keys = store.keys().map_err(|e| unreadable(path, e))?;
    if keys.is_empty() {
        return Err(unreadable(path, "no tensors found"));
    }
    let inferred = infer_shape(&mut store);
    let config = config_for(preset, inferred).ok_or_else(|| CheckpointError::Mismatch {
        path: path.to_path_buf(),
        preset: "(inferred)".into(),
        detail: format!("no VocaLiST prenet keys; first keys: {}", first(&keys, 5)),
    })?;
    let mut model = config.init(device);
    let result = model.load_from(&mut store).map_err(|e| unreadable(path, e))?;
    check_strict(path, &config.name, &result)?;
    Ok((model, config))
}

/// A reference network's state dict (`.pth`, zip or legacy) loaded into `model` strictly: the
/// file must exist, its keys after `remaps` must look like the network's (`looks_right` names
/// what is wrong otherwise) and every tensor must fill the model. Shared by SyncNet and S3FD.
pub(crate) fn load_reference<M: ModuleSnapshot>(
    path: &Path,
    mut model: M,
    name: &str,
    remaps: Vec<(String, String)>,
    looks_right: impl Fn(&[String]) -> Result<(), String>,
) -> Result<M, CheckpointError> {
    if !path.is_file() {
        return Err(CheckpointError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        });
    }
    let mut store = PytorchStore::from_file(path).allow_partial(true).validate(false);
    for (from, to) in remaps {
        store = store.with_key_remapping(from, to);
    }
    let keys = store.keys().map_err(|e| unreadable(path, e))?;
    if keys.is_empty() {
        return Err(unreadable(path, "no tensors found"));
    }
    looks_right(&keys).map_err(|detail| CheckpointError::Mismatch {
        path: path.to_path_buf(),
        preset: name.into(),
        detail: format!(
            "{detail}; first keys: {}",
            keys.iter().take(3).cloned().collect::<Vec<_>>().join(", ")
        ),
    })?;
    let result = model.load_from(&mut store).map_err(|e| unreadable(path, e))?;
    check_strict(path, name, &result)?;
    Ok(model)
}

/// Every parameter found with its shape; only inert buffers left over.
pub(crate) fn check_strict(path: &Path, model: &str, result: &ApplyResult) -> Result<(), CheckpointError> {
    let mismatch = |detail: String| CheckpointError::Mismatch {
        path: path.to_path_buf(),
        preset: model.to_string(),
        detail,
    };
    if !result.errors.is_empty() {
        let errs: Vec<String> = result.errors.iter().take(3).map(|e| e.to_string()).collect();
        return Err(mismatch(errs.join("; ")));
    }
    if !result.missing.is_empty() {
        let miss: Vec<String> = result.missing.iter().map(|(k, _)| k.clone()).collect();
        return Err(mismatch(format!("{} missing, e.g. {}", miss.len(), first(&miss, 3))));
    }
    let unused: Vec<String> = result.unused.iter().filter(|k| !is_inert_buffer(k)).cloned().collect();
    if !unused.is_empty() {
        return Err(mismatch(format!("{} unexpected keys, e.g. {}", unused.len(), first(&unused, 3))));
    }
    Ok(())
}

fn first(keys: &[String], n: usize) -> String {
    keys.iter().take(n).cloned().collect::<Vec<_>>().join(", ")
}

/// Where a checkpoint came from (recorded in the sidecar).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// The file it was imported from, if any.
    pub source: Option<String>,
    /// sha256 of that file.
    pub source_sha256: Option<String>,
    /// Training run directory, if trained here.
    pub run: Option<String>,
    /// Seed of that run.
    pub seed: Option<u64>,
    /// Training step.
    pub step: Option<u64>,
    /// lipsync version that wrote it.
    pub tool_version: String,
}

/// The JSON sidecar of our checkpoint format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointMeta {
    /// Always `lipsync-checkpoint`.
    pub format: String,
    /// Layout version of this sidecar.
    pub format_version: u32,
    /// Architecture and input convention.
    pub config: ModelConfig,
    /// Trainable parameters.
    pub param_count: usize,
    /// Where the weights came from.
    pub provenance: Provenance,
}

/// The sidecar path of a weights file: `x.safetensors` → `x.json`.
pub fn sidecar_path(weights: &Path) -> PathBuf {
    weights.with_extension("json")
}

/// Writes `model` as `weights` (reference-named safetensors) plus its JSON sidecar, atomically.
pub fn save(
    model: &SyncTransformer,
    config: &ModelConfig,
    provenance: Provenance,
    weights: &Path,
) -> Result<CheckpointMeta, CheckpointError> {
    let write_err = |path: &Path, detail: String| CheckpointError::Write { path: path.to_path_buf(), detail };
    crate::tensor_io::write_safetensors(weights, &crate::export::state_dict(model))
        .map_err(|e| write_err(weights, e.to_string()))?;
    let meta = CheckpointMeta {
        format: "lipsync-checkpoint".into(),
        format_version: 1,
        config: config.clone(),
        param_count: model.param_count(),
        provenance,
    };
    let side = sidecar_path(weights);
    let json = serde_json::to_string_pretty(&meta).map_err(|e| write_err(&side, e.to_string()))? + "\n";
    manifests::atomic_write(&side, json.as_bytes()).map_err(|e| write_err(&side, e.to_string()))?;
    Ok(meta)
}

/// `trainer import`: loads a `.pth` and saves it in our format at `out`, with its sha256 as
/// provenance. Returns the sidecar written.
pub fn import_pth(pth: &Path, preset: Option<Preset>, out: &Path) -> Result<CheckpointMeta, CheckpointError> {
    let device = crate::device::DeviceSpec::Cpu.device();
    let (model, config) = load_pth(pth, preset, &device)?;
    let provenance = Provenance {
        source: Some(pth.display().to_string()),
        source_sha256: Some(manifests::sha256_file(pth).map_err(|e| unreadable(pth, e))?),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        ..Default::default()
    };
    save(&model, &config, provenance, out)
}

/// A loaded model with its config and, for our format, its sidecar.
pub struct Loaded {
    /// The model.
    pub model: SyncTransformer,
    /// Its config (from the sidecar, the preset asked for, or the shapes).
    pub config: ModelConfig,
    /// The sidecar, when the checkpoint is ours.
    pub meta: Option<CheckpointMeta>,
}

/// A sidecar's model config must be buildable (heads dividing the width, no empty layer) and
/// take an input convention the reference uses (BGR ÷ 255 or RGB ÷ 1); one that carries a
/// preset's name must be that preset exactly (overrides rename the model, e.g. `micro+l1`), so
/// an edited sidecar cannot silently change how a published model is run.
fn check_sidecar_config(config: &crate::model::ModelConfig) -> Result<(), String> {
    use crate::model::{InputConvention, Preset};
    config.validate().map_err(|e| e.to_string())?;
    if config.input != InputConvention::VOCALIST && config.input != InputConvention::MTDVOCALIST {
        return Err(format!(
            "input convention {:?} ÷ {} is neither VocaLiST's (BGR ÷ 255) nor MTDVocaLiST's (RGB ÷ 1)",
            config.input.channel_order, config.input.divisor
        ));
    }
    if let Some(preset) = Preset::ALL.into_iter().find(|p| p.config().name == config.name) {
        if *config != preset.config() {
            return Err(format!("config named {:?} differs from that preset", config.name));
        }
    }
    Ok(())
}

/// Loads any supported checkpoint: a `.pth` (zip) file, or a safetensors state dict with or
/// without our sidecar.
pub fn load(path: &Path, preset: Option<Preset>, device: &Device) -> Result<Loaded, CheckpointError> {
    if &read_magic(path)? == ZIP_MAGIC {
        let (model, config) = load_pth(path, preset, device)?;
        return Ok(Loaded { model, config, meta: None });
    }
    if path.extension().and_then(|e| e.to_str()) != Some("safetensors") {
        return Err(CheckpointError::NotACheckpoint {
            path: path.to_path_buf(),
            hint: "expected a PyTorch .pth (zip) file or a .safetensors state dict",
        });
    }
    let side = sidecar_path(path);
    let meta: Option<CheckpointMeta> = if side.is_file() {
        let text = std::fs::read_to_string(&side)
            .map_err(|source| CheckpointError::Io { path: side.clone(), source })?;
        let meta: CheckpointMeta = serde_json::from_str(&text)
            .map_err(|e| CheckpointError::Sidecar { path: side.clone(), detail: e.to_string() })?;
        check_sidecar_config(&meta.config)
            .map_err(|detail| CheckpointError::Sidecar { path: side.clone(), detail })?;
        Some(meta)
    } else {
        None
    };
    let mut store = SafetensorsStore::from_file(path)
        .with_from_adapter(PyTorchToBurnAdapter)
        .allow_partial(true)
        .validate(false);
    for (from, to) in REMAPS {
        store = store.with_key_remapping(from, to);
    }
    let preset_config = meta.as_ref().map(|m| m.config.clone());
    let (model, config) = match preset_config {
        Some(config) => {
            let mut model = config.init(device);
            let result = model.load_from(&mut store).map_err(|e| unreadable(path, e))?;
            check_strict(path, &config.name, &result)?;
            (model, config)
        }
        None => load_from_store(path, store, preset, device)?,
    };
    Ok(Loaded { model, config, meta })
}
