//! `trainer predict`: logits and every tap under the key names of the golden `model_io.safetensors`,
//! so anyone can compare this toolkit against PyTorch on their own inputs.

use std::collections::BTreeMap;

use burn::tensor::Device;

use crate::loss::behaviour::{attention_probs, cad, vr};
use crate::loss::Block;
use nets::model::SyncTransformer;
use nets::tensor_io::{model_inputs, HostTensor, TensorIoError};

/// Runs `model` (eval mode: `device` must not be autodiff) on `input.frames` / `input.mel` and
/// returns `<prefix>.logits`, prenet and block outputs, and per block/layer `attn_logits`,
/// `attn_probs`, `cad` and `vr`.
pub fn predict(
    model: &SyncTransformer,
    inputs: &BTreeMap<String, HostTensor>,
    prefix: &str,
    device: &Device,
) -> Result<BTreeMap<String, HostTensor>, TensorIoError> {
    let (frames, mel, _) = model_inputs(inputs, false, device)?;
    let (logits, taps) = model.forward_taps(frames, mel);
    let mut out = BTreeMap::new();
    let mut put = |k: String, t: HostTensor| {
        out.insert(format!("{prefix}.{k}"), t);
    };
    put("logits".into(), HostTensor::from_tensor(logits));
    put("vid_prenet".into(), HostTensor::from_tensor(taps.vid_prenet.clone()));
    put("aud_prenet".into(), HostTensor::from_tensor(taps.aud_prenet.clone()));
    for block in Block::ALL {
        let (block_out, layers) = block.taps(&taps).clone();
        let b = block.name();
        put(format!("{b}.out"), HostTensor::from_tensor(block_out.swap_dims(0, 1))); // time-major
        for (l, t) in layers.iter().enumerate() {
            put(format!("{b}.{l}.attn_logits"), HostTensor::from_tensor(t.attn.logits.clone()));
            put(format!("{b}.{l}.attn_probs"), HostTensor::from_tensor(attention_probs(&t.attn)));
            put(format!("{b}.{l}.cad"), HostTensor::from_tensor(cad(&t.attn, block)));
            put(format!("{b}.{l}.vr"), HostTensor::from_tensor(vr(&t.attn)));
        }
    }
    Ok(out)
}
