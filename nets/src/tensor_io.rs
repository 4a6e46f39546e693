//! Reading and writing named f32 tensors as safetensors (inputs, outputs and taps of `predict`).

use std::collections::BTreeMap;
use std::path::Path;

use burn::tensor::{Device, Tensor, TensorData};
use features::{CROP_HEIGHT, CROP_WIDTH, FRAME_CHANNELS, MEL_WINDOW, N_MELS};
use safetensors::tensor::{Dtype, TensorView};

/// Why named tensors could not be read, written or used as model inputs.
#[derive(Debug, thiserror::Error)]
pub enum TensorIoError {
    /// Reading or writing the file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// File.
        path: std::path::PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// Not a valid safetensors file, or tensors it cannot hold.
    #[error("{}: not a safetensors file ({detail})", path.display())]
    Format {
        /// File.
        path: std::path::PathBuf,
        /// What the safetensors crate said.
        detail: String,
    },
    /// A tensor of another dtype.
    #[error("{}: tensor {name} is {dtype}, expected F32", path.display())]
    Dtype {
        /// File.
        path: std::path::PathBuf,
        /// Tensor name.
        name: String,
        /// Its dtype.
        dtype: String,
    },
    /// Writing the file atomically failed.
    #[error(transparent)]
    Write(#[from] manifests::Error),
    /// A tensor of the wrong rank.
    #[error("{name}: expected rank {want}, found shape {shape:?}")]
    Rank {
        /// Tensor name.
        name: String,
        /// Rank wanted.
        want: usize,
        /// Shape found.
        shape: Vec<usize>,
    },
    /// A tensor the inputs lack.
    #[error("inputs lack tensor {0:?}")]
    Missing(String),
    /// Model inputs of the wrong shapes.
    #[error("expected input.frames [B,15,48,96], input.mel [B,1,80,16]{labels}; got {got}")]
    Shapes {
        /// `, input.labels [B]` when labels are read.
        labels: &'static str,
        /// The shapes found.
        got: String,
    },
}

/// A named f32 tensor held on the host.
#[derive(Debug, Clone, PartialEq)]
pub struct HostTensor {
    /// Shape.
    pub shape: Vec<usize>,
    /// Row-major values.
    pub data: Vec<f32>,
}

impl HostTensor {
    /// Moves it to `device` as a rank-D tensor (`name` for the error).
    pub fn to_tensor<const D: usize>(&self, name: &str, device: &Device) -> Result<Tensor<D>, TensorIoError> {
        if self.shape.len() != D {
            let (name, shape) = (name.to_string(), self.shape.clone());
            return Err(TensorIoError::Rank { name, want: D, shape });
        }
        Ok(Tensor::from_data(TensorData::new(self.data.clone(), self.shape.clone()), device))
    }

    /// Copies a tensor back to the host.
    pub fn from_tensor<const D: usize>(t: Tensor<D>) -> Self {
        let shape = t.dims().to_vec();
        let data = t.into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 after convert");
        Self { shape, data }
    }
}

/// Reads every f32 tensor of a safetensors file (other dtypes are an error naming the key).
pub fn read_safetensors(path: &Path) -> Result<BTreeMap<String, HostTensor>, TensorIoError> {
    let bytes = std::fs::read(path).map_err(|source| TensorIoError::Io { path: path.into(), source })?;
    let st = safetensors::SafeTensors::deserialize(&bytes)
        .map_err(|e| TensorIoError::Format { path: path.into(), detail: e.to_string() })?;
    let mut out = BTreeMap::new();
    for (name, view) in st.tensors() {
        if view.dtype() != Dtype::F32 {
            let (name, dtype) = (name.to_string(), format!("{:?}", view.dtype()));
            return Err(TensorIoError::Dtype { path: path.into(), name, dtype });
        }
        let data =
            view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        out.insert(name.to_string(), HostTensor { shape: view.shape().to_vec(), data });
    }
    Ok(out)
}

/// Writes named f32 tensors to a safetensors file atomically.
pub fn write_safetensors(path: &Path, tensors: &BTreeMap<String, HostTensor>) -> Result<(), TensorIoError> {
    let bytes: Vec<(String, Vec<u8>, Vec<usize>)> = tensors
        .iter()
        .map(|(k, t)| (k.clone(), t.data.iter().flat_map(|v| v.to_le_bytes()).collect(), t.shape.clone()))
        .collect();
    let views: Vec<(String, TensorView)> = bytes
        .iter()
        .map(|(k, b, s)| TensorView::new(Dtype::F32, s.clone(), b).map(|v| (k.clone(), v)))
        .collect::<Result<_, _>>()
        .map_err(|e| TensorIoError::Format { path: path.into(), detail: e.to_string() })?;
    let out = safetensors::serialize(views, None)
        .map_err(|e| TensorIoError::Format { path: path.into(), detail: e.to_string() })?;
    Ok(manifests::atomic_write(path, &out)?)
}

/// The model inputs of a `predict`/`loss-terms` inputs file: `input.frames [B,15,48,96]`,
/// `input.mel [B,1,80,16]` and, with `labels`, `input.labels [B]`.
pub fn model_inputs(
    inputs: &BTreeMap<String, HostTensor>,
    labels: bool,
    device: &Device,
) -> Result<(Tensor<4>, Tensor<4>, Option<Tensor<1>>), TensorIoError> {
    let get = |k: &str| inputs.get(k).ok_or_else(|| TensorIoError::Missing(k.to_string()));
    let frames = get("input.frames")?.to_tensor::<4>("input.frames", device)?;
    let mel = get("input.mel")?.to_tensor::<4>("input.mel", device)?;
    let y = if labels { Some(get("input.labels")?.to_tensor::<1>("input.labels", device)?) } else { None };
    let (fd, md) = (frames.dims(), mel.dims());
    let b = fd[0];
    let ok = fd[1..] == [FRAME_CHANNELS, CROP_HEIGHT, CROP_WIDTH]
        && md[1..] == [1, N_MELS, MEL_WINDOW]
        && md[0] == b
        && y.as_ref().is_none_or(|y| y.dims()[0] == b);
    if !ok {
        let mut got = format!("{fd:?}, {md:?}");
        if let Some(y) = &y {
            got += &format!(", {:?}", y.dims());
        }
        let labels = if labels { ", input.labels [B]" } else { "" };
        return Err(TensorIoError::Shapes { labels, got });
    }
    Ok((frames, mel, y))
}
