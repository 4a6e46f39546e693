//! Checkpoint import: PyTorch `.pth` files of VocaLiST and MTDVocaLiST (SPEC §3).
//!
//! Reads torch.save zip files with burn-store's `PytorchStore`, a pickle *parser* that never
//! executes pickled code. Accepts the official VocaLiST layout (`{state_dict, optimizer,
//! global_step, global_epoch}`), the MTDVocaLiST layout (`{state_dict}`), a bare state dict, and a
//! `module.` prefix. Loading is strict: every parameter and running statistic must be present
//! with its shape; only the buffers that carry no model information may be left over.

use std::io::Read;
use std::path::{Path, PathBuf};

use burn::store::{ModuleSnapshot, ModuleStore, PytorchStore};
use burn::tensor::Device;

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
    key.ends_with("num_batches_tracked")
        || key.ends_with(".version")
        || key.ends_with("._float_tensor")
}

/// Regex remaps from reference names to our module paths.
const REMAPS: [(&str, &str); 3] = [
    (r"^module\.", ""),
    (r"\.conv_block\.0\.", ".conv."),
    (r"\.conv_block\.1\.", ".bn."),
];

fn open_store(path: &Path, top_level: bool) -> PytorchStore {
    let mut store = PytorchStore::from_file(path)
        .allow_partial(true)
        .validate(false);
    if top_level {
        store = store.with_top_level_key("state_dict");
    }
    for (from, to) in REMAPS {
        store = store.with_key_remapping(from, to);
    }
    store
}

/// The conv channel list and width implied by the tensor shapes of a (remapped) state dict.
fn infer_shape(store: &mut PytorchStore) -> Option<([usize; 5], usize)> {
    let mut out = |key: &str| -> Option<usize> {
        store
            .get_tensor(key)
            .ok()??
            .shape
            .as_slice()
            .first()
            .copied()
    };
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

/// Loads a `.pth` checkpoint; infers the preset from the shapes when `preset` is None.
pub fn load_pth(
    path: &Path,
    preset: Option<Preset>,
    device: &Device,
) -> Result<(SyncTransformer, ModelConfig), CheckpointError> {
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .map_err(|source| CheckpointError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    if &magic != b"PK\x03\x04" {
        return Err(CheckpointError::NotACheckpoint {
            path: path.to_path_buf(),
            hint: "legacy (non-zip) torch files are not supported: re-save with torch >= 1.6",
        });
    }
    // Nested {state_dict: ...} first, then a bare state dict.
    let mut store = open_store(path, true);
    if store.keys().map(|k| k.is_empty()).unwrap_or(true) {
        store = open_store(path, false);
    }
    let keys = store.keys().map_err(|e| CheckpointError::Unreadable {
        path: path.to_path_buf(),
        detail: e.to_string(),
    })?;
    if keys.is_empty() {
        return Err(CheckpointError::Unreadable {
            path: path.to_path_buf(),
            detail: "no tensors found".into(),
        });
    }
    let inferred = infer_shape(&mut store);
    let config = match (preset, inferred) {
        (Some(p), _) => p.config(),
        (None, Some((c, d))) => Preset::ALL
            .iter()
            .map(|p| p.config())
            .find(|cfg| cfg.channels == c && cfg.d_model == d)
            .unwrap_or_else(|| ModelConfig {
                name: "custom".into(),
                channels: c,
                d_model: d,
                ..Preset::Vocalist.config()
            }),
        (None, None) => {
            return Err(CheckpointError::Mismatch {
                path: path.to_path_buf(),
                preset: "(inferred)".into(),
                detail: format!("no VocaLiST prenet keys; first keys: {}", first(&keys, 5)),
            })
        }
    };
    let mut model = config.init(device);
    let result = model
        .load_from(&mut store)
        .map_err(|e| CheckpointError::Unreadable {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?;
    let mismatch = |detail: String| CheckpointError::Mismatch {
        path: path.to_path_buf(),
        preset: config.name.clone(),
        detail,
    };
    if !result.errors.is_empty() {
        let errs: Vec<String> = result
            .errors
            .iter()
            .take(3)
            .map(|e| e.to_string())
            .collect();
        return Err(mismatch(errs.join("; ")));
    }
    if !result.missing.is_empty() {
        let miss: Vec<String> = result.missing.iter().map(|(k, _)| k.clone()).collect();
        return Err(mismatch(format!(
            "{} missing, e.g. {}",
            miss.len(),
            first(&miss, 3)
        )));
    }
    let unused: Vec<String> = result
        .unused
        .iter()
        .filter(|k| !is_inert_buffer(k))
        .cloned()
        .collect();
    if !unused.is_empty() {
        return Err(mismatch(format!(
            "{} unexpected keys, e.g. {}",
            unused.len(),
            first(&unused, 3)
        )));
    }
    Ok((model, config))
}

fn first(keys: &[String], n: usize) -> String {
    keys.iter().take(n).cloned().collect::<Vec<_>>().join(", ")
}
