//! Reading and writing named f32 tensors as safetensors (inputs, outputs and taps of `predict`).

use std::collections::BTreeMap;
use std::path::Path;

use burn::tensor::{Device, Tensor, TensorData};
use safetensors::tensor::{Dtype, TensorView};

/// A named f32 tensor held on the host.
#[derive(Debug, Clone, PartialEq)]
pub struct HostTensor {
    /// Shape.
    pub shape: Vec<usize>,
    /// Row-major values.
    pub data: Vec<f32>,
}

impl HostTensor {
    /// Moves it to `device` as a rank-D tensor.
    pub fn to_tensor<const D: usize>(&self, device: &Device) -> Result<Tensor<D>, String> {
        if self.shape.len() != D {
            return Err(format!("expected rank {D}, found shape {:?}", self.shape));
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
pub fn read_safetensors(path: &Path) -> Result<BTreeMap<String, HostTensor>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let st = safetensors::SafeTensors::deserialize(&bytes)
        .map_err(|e| format!("{}: not a safetensors file ({e})", path.display()))?;
    let mut out = BTreeMap::new();
    for (name, view) in st.tensors() {
        if view.dtype() != Dtype::F32 {
            return Err(format!("{}: tensor {name} is {:?}, expected F32", path.display(), view.dtype()));
        }
        let data =
            view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        out.insert(name.to_string(), HostTensor { shape: view.shape().to_vec(), data });
    }
    Ok(out)
}

/// Writes named f32 tensors to a safetensors file atomically.
pub fn write_safetensors(path: &Path, tensors: &BTreeMap<String, HostTensor>) -> Result<(), String> {
    let bytes: Vec<(String, Vec<u8>, Vec<usize>)> = tensors
        .iter()
        .map(|(k, t)| (k.clone(), t.data.iter().flat_map(|v| v.to_le_bytes()).collect(), t.shape.clone()))
        .collect();
    let views: Vec<(String, TensorView)> = bytes
        .iter()
        .map(|(k, b, s)| TensorView::new(Dtype::F32, s.clone(), b).map(|v| (k.clone(), v)))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let out = safetensors::serialize(views, None).map_err(|e| format!("{}: {e}", path.display()))?;
    manifests::atomic_write(path, &out).map_err(|e| e.to_string())
}
