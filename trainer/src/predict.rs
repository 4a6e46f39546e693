//! `trainer predict`: logits and every tap under the key names of the golden `model_io.safetensors`,
//! so anyone can compare this toolkit against PyTorch on their own inputs.

use std::collections::BTreeMap;

use burn::tensor::Device;

use crate::behaviour::{attention_probs, cad, vr};
use crate::model::SyncTransformer;
use crate::tensor_io::HostTensor;

/// Runs `model` (eval mode: `device` must not be autodiff) on `input.frames` / `input.mel` and
/// returns `<prefix>.logits`, prenet and block outputs, and per block/layer `attn_logits`,
/// `attn_probs`, `cad` and `vr`.
pub fn predict(
    model: &SyncTransformer,
    inputs: &BTreeMap<String, HostTensor>,
    prefix: &str,
    device: &Device,
) -> Result<BTreeMap<String, HostTensor>, String> {
    let get = |k: &str| inputs.get(k).ok_or_else(|| format!("inputs lack tensor {k:?}"));
    let frames = get("input.frames")?.to_tensor::<4>(device).map_err(|e| format!("input.frames: {e}"))?;
    let mel = get("input.mel")?.to_tensor::<4>(device).map_err(|e| format!("input.mel: {e}"))?;
    let (fd, md) = (frames.dims(), mel.dims());
    if fd[1..] != [15, 48, 96] || md[1..] != [1, 80, 16] || fd[0] != md[0] {
        return Err(format!(
            "expected input.frames [B,15,48,96] and input.mel [B,1,80,16], got {fd:?} and {md:?}"
        ));
    }
    let (logits, taps) = model.forward_taps(frames, mel);
    let mut out = BTreeMap::new();
    let mut put = |k: String, t: HostTensor| {
        out.insert(format!("{prefix}.{k}"), t);
    };
    put("logits".into(), HostTensor::from_tensor(logits));
    put("vid_prenet".into(), HostTensor::from_tensor(taps.vid_prenet));
    put("aud_prenet".into(), HostTensor::from_tensor(taps.aud_prenet));
    for (b, (block_out, layers)) in [("av", taps.av), ("va", taps.va), ("fus", taps.fus)] {
        put(format!("{b}.out"), HostTensor::from_tensor(block_out.swap_dims(0, 1))); // time-major
        for (l, t) in layers.iter().enumerate() {
            put(format!("{b}.{l}.attn_logits"), HostTensor::from_tensor(t.attn.logits.clone()));
            put(format!("{b}.{l}.attn_probs"), HostTensor::from_tensor(attention_probs(&t.attn)));
            put(format!("{b}.{l}.cad"), HostTensor::from_tensor(cad(&t.attn, b == "va")));
            put(format!("{b}.{l}.vr"), HostTensor::from_tensor(vr(&t.attn)));
        }
    }
    Ok(out)
}
