//! Export to a PyTorch state dict with the reference key names (SPEC §3), as safetensors.
//!
//! The keys and layouts are exactly those of `reference/*_state_dict.txt`, so a PyTorch user can
//! `model.load_state_dict(safetensors.torch.load_file(f))` into the authors' `SyncTransformer`.
//! `num_batches_tracked` is left out: PyTorch's BatchNorm fills it in when a state dict carries
//! no version metadata, and it holds no model information.

use std::collections::BTreeMap;

use burn::module::Param;
use burn::nn::{BatchNorm, LayerNorm, Linear};
use burn::tensor::Tensor;

use crate::model::{SyncTransformer, TransformerEncoder};
use crate::tensor_io::HostTensor;

fn host<const D: usize>(t: Tensor<D>) -> HostTensor {
    HostTensor::from_tensor(t)
}

fn param<const D: usize>(p: &Param<Tensor<D>>) -> HostTensor {
    host(p.val())
}

struct Dict(BTreeMap<String, HostTensor>);

impl Dict {
    fn put(&mut self, key: String, t: HostTensor) {
        self.0.insert(key, t);
    }

    /// burn stores Linear weights as [in, out]; PyTorch as [out, in].
    fn linear(&mut self, prefix: &str, l: &Linear) {
        self.put(format!("{prefix}.weight"), host(l.weight.val().transpose()));
        if let Some(b) = &l.bias {
            self.put(format!("{prefix}.bias"), param(b));
        }
    }

    fn layer_norm(&mut self, prefix: &str, ln: &LayerNorm) {
        self.put(format!("{prefix}.weight"), param(&ln.gamma));
        if let Some(b) = &ln.beta {
            self.put(format!("{prefix}.bias"), param(b));
        }
    }

    fn batch_norm(&mut self, prefix: &str, bn: &BatchNorm) {
        self.put(format!("{prefix}.weight"), param(&bn.gamma));
        self.put(format!("{prefix}.bias"), param(&bn.beta));
        self.put(format!("{prefix}.running_mean"), host(bn.running_mean.value()));
        self.put(format!("{prefix}.running_var"), host(bn.running_var.value()));
    }

    fn encoder(&mut self, prefix: &str, enc: &TransformerEncoder) {
        self.put(format!("{prefix}.version"), HostTensor { shape: vec![1], data: vec![2.0] });
        self.put(
            format!("{prefix}.embed_positions._float_tensor"),
            HostTensor { shape: vec![1], data: vec![0.0] },
        );
        for (i, layer) in enc.layers.iter().enumerate() {
            let p = format!("{prefix}.layers.{i}");
            self.put(format!("{p}.self_attn.in_proj_weight"), param(&layer.self_attn.in_proj_weight));
            self.put(format!("{p}.self_attn.in_proj_bias"), param(&layer.self_attn.in_proj_bias));
            self.linear(&format!("{p}.self_attn.out_proj"), &layer.self_attn.out_proj);
            self.linear(&format!("{p}.fc1"), &layer.fc1);
            self.linear(&format!("{p}.fc2"), &layer.fc2);
            for (j, ln) in layer.layer_norms.iter().enumerate() {
                self.layer_norm(&format!("{p}.layer_norms.{j}"), ln);
            }
        }
        self.layer_norm(&format!("{prefix}.layer_norm"), &enc.layer_norm);
    }
}

/// The model's state dict under the reference names, in PyTorch layouts.
pub fn state_dict(model: &SyncTransformer) -> BTreeMap<String, HostTensor> {
    let mut d = Dict(BTreeMap::new());
    for (i, b) in model.vid_prenet.iter().enumerate() {
        d.put(format!("vid_prenet.{i}.conv_block.0.weight"), param(&b.conv.weight));
        if let Some(bias) = &b.conv.bias {
            d.put(format!("vid_prenet.{i}.conv_block.0.bias"), param(bias));
        }
        d.batch_norm(&format!("vid_prenet.{i}.conv_block.1"), &b.bn);
    }
    for (i, b) in model.aud_prenet.iter().enumerate() {
        d.put(format!("aud_prenet.{i}.conv_block.0.weight"), param(&b.conv.weight));
        if let Some(bias) = &b.conv.bias {
            d.put(format!("aud_prenet.{i}.conv_block.0.bias"), param(bias));
        }
        d.batch_norm(&format!("aud_prenet.{i}.conv_block.1"), &b.bn);
    }
    d.encoder("av_transformer", &model.av_transformer);
    d.encoder("va_transformer", &model.va_transformer);
    d.encoder("mem_transformer", &model.mem_transformer);
    d.linear("fc", &model.fc);
    d.linear("classifier", &model.classifier);
    d.0
}
