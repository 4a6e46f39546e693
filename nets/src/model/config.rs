//! Model configuration and presets (SPEC §2.3–2.7, §3).

use serde::{Deserialize, Serialize};

/// Channel order a model's weights expect (SPEC §0.1, §8.1, SPEC B).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelOrder {
    /// Red, green, blue (MTDVocaLiST loads frames with torchvision).
    Rgb,
    /// Blue, green, red (VocaLiST loads frames with OpenCV).
    Bgr,
}

/// How stored RGB uint8 frames become this model's input floats.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct InputConvention {
    /// Channel order of the input tensor.
    pub channel_order: ChannelOrder,
    /// The uint8 values are divided by this (255 for VocaLiST, 1 for MTDVocaLiST), in f64 and then
    /// rounded to f32, exactly as numpy's `uint8 / 255.` followed by `torch.FloatTensor`.
    pub divisor: f64,
}

impl InputConvention {
    /// Public VocaLiST weights: BGR, ×1/255 (`VL:test_lrs2.py:L89,L103`).
    pub const VOCALIST: Self = Self { channel_order: ChannelOrder::Bgr, divisor: 255.0 };
    /// Public MTDVocaLiST weights: RGB, ×1 (`MTD:test_stu.py:L78,L93-94`).
    pub const MTDVOCALIST: Self = Self { channel_order: ChannelOrder::Rgb, divisor: 1.0 };

    /// Converts a (5, 48, 96, 3) RGB uint8 window to the model's (15, 48, 96) input, channel
    /// index 3t + c (SPEC §1.2).
    pub fn window_to_input(&self, rgb: &[u8]) -> Vec<f32> {
        const HW: usize = features::CROP_HEIGHT * features::CROP_WIDTH;
        let frames = rgb.len() / (HW * 3);
        let mut out = vec![0.0f32; frames * 3 * HW];
        for t in 0..frames {
            for p in 0..HW {
                let px = &rgb[(t * HW + p) * 3..(t * HW + p) * 3 + 3];
                for c in 0..3 {
                    let src = match self.channel_order {
                        ChannelOrder::Rgb => c,
                        ChannelOrder::Bgr => 2 - c,
                    };
                    out[(t * 3 + c) * HW + p] = (px[src] as f64 / self.divisor) as f32;
                }
            }
        }
        out
    }
}

/// Everything that shapes a VocaLiST-family model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// Preset name (or "custom").
    pub name: String,
    /// Conv channel list (SPEC §2.3: `[32,64,128,256,512]` for the teacher).
    pub channels: [usize; 5],
    /// Transformer width.
    pub d_model: usize,
    /// Attention heads (8 in every reference model).
    pub heads: usize,
    /// Layers per cross-modal block (4).
    pub layers: usize,
    /// Embedding dropout on x, x_k, x_v (0.25, SPEC §7).
    pub embed_dropout: f64,
    /// Dropout after the FFN ReLU (0.1).
    pub relu_dropout: f64,
    /// Residual dropout (0.1).
    pub res_dropout: f64,
    /// Input convention of the weights.
    pub input: InputConvention,
}

/// Named configurations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Preset {
    /// The VocaLiST teacher: channels 32..512, d_model 512, 80,106,561 parameters.
    Vocalist,
    /// The MTDVocaLiST student: channels 16..200, d_model 200, 13,280,961 parameters.
    Mtdvocalist,
    /// The golden tiny teacher: channels 8..64, d_model 64 (1,739,665 parameters).
    Tiny,
    /// A small student for tests and the embedded default: channels 8..48, d_model 48.
    TinyStudent,
    /// The smallest model, for CPU-budget studies: channels 4..32, d_model 32 (8 heads of 4).
    Micro,
    /// The embedded study's student, derived from `micro` as MTDVocaLiST is from VocaLiST (same
    /// blocks, layers and heads; thinner channels and width): channels 2..10, d_model 16
    /// (8 heads of 2), 84,121 parameters, 19.1 % of `micro`'s 440,553 (MTDVocaLiST: 16.6 %).
    MicroStudent,
}

impl Preset {
    /// Every preset.
    pub const ALL: [Preset; 6] = [
        Preset::Vocalist,
        Preset::Mtdvocalist,
        Preset::Tiny,
        Preset::TinyStudent,
        Preset::Micro,
        Preset::MicroStudent,
    ];

    /// Its configuration.
    pub fn config(self) -> ModelConfig {
        let (name, channels, d_model, input) = match self {
            Preset::Vocalist => ("vocalist", [32, 64, 128, 256, 512], 512, InputConvention::VOCALIST),
            Preset::Mtdvocalist => ("mtdvocalist", [16, 32, 64, 128, 200], 200, InputConvention::MTDVOCALIST),
            Preset::Tiny => ("tiny", [8, 16, 32, 64, 64], 64, InputConvention::VOCALIST),
            Preset::TinyStudent => ("tiny-student", [8, 16, 24, 32, 48], 48, InputConvention::MTDVOCALIST),
            Preset::Micro => ("micro", [4, 8, 16, 32, 32], 32, InputConvention::MTDVOCALIST),
            // MTDVocaLiST halves VocaLiST's first channels and takes the last ones and the width to
            // ~0.39×; here the first three are halved and the rest are ~0.31–0.5× (d_model must
            // stay a multiple of the 8 heads), which keeps the student under 1/5 of the teacher.
            Preset::MicroStudent => ("micro-student", [2, 4, 8, 12, 10], 16, InputConvention::MTDVOCALIST),
        };
        ModelConfig {
            name: name.to_string(),
            channels,
            d_model,
            heads: 8,
            layers: 4,
            embed_dropout: 0.25,
            relu_dropout: 0.1,
            res_dropout: 0.1,
            input,
        }
    }
}

/// An architecture the model cannot be built with.
#[derive(Debug, thiserror::Error)]
pub enum ModelConfigError {
    /// The heads do not divide the width.
    #[error("d_model {d_model} is not divisible by {heads} heads")]
    Heads {
        /// Width.
        d_model: usize,
        /// Heads.
        heads: usize,
    },
    /// A zero channel count or no layers.
    #[error("channels and layers must be positive")]
    Empty,
}

impl ModelConfig {
    /// Width of each attention head.
    pub fn head_dim(&self) -> usize {
        self.d_model / self.heads
    }

    /// Checks the invariants the architecture relies on.
    pub fn validate(&self) -> Result<(), ModelConfigError> {
        if self.heads == 0 || !self.d_model.is_multiple_of(self.heads) {
            return Err(ModelConfigError::Heads { d_model: self.d_model, heads: self.heads });
        }
        if self.channels.contains(&0) || self.layers == 0 {
            return Err(ModelConfigError::Empty);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_rgb_becomes_each_models_input() {
        // Two frames of 48×96; pixel 0 of frame 1 is (R, G, B) = (10, 20, 30).
        let mut rgb = vec![0u8; 2 * 48 * 96 * 3];
        rgb[48 * 96 * 3..48 * 96 * 3 + 3].copy_from_slice(&[10, 20, 30]);
        let hw = 48 * 96;
        let student = InputConvention::MTDVOCALIST.window_to_input(&rgb);
        // Channel index 3t + c (SPEC §1.2): frame 1 → channels 3, 4, 5.
        assert_eq!([student[3 * hw], student[4 * hw], student[5 * hw]], [10.0, 20.0, 30.0]);
        let teacher = InputConvention::VOCALIST.window_to_input(&rgb);
        let want = [(30.0 / 255.0f64) as f32, (20.0 / 255.0f64) as f32, (10.0 / 255.0f64) as f32]; // BGR, ÷255
        assert_eq!([teacher[3 * hw], teacher[4 * hw], teacher[5 * hw]], want);
    }
}
