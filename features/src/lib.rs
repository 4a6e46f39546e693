//! The signal side of the reference, in one place (SPEC §1.1–1.4): sample and frame rates, window
//! sizes, crop and model-input shapes, the int16 ↔ float PCM conversions and the log-mel
//! spectrogram. Pure functions and constants only, so `shards`, `preprocess`, `trainer` and
//! `evaluator` share them without pulling in any media crate.
//!
//! Names follow the reference (`hparams.py`, `test_lrs2.py`): `N_FFT`, `HOP`, `N_MELS`, …
#![deny(missing_docs)]

pub mod mel;
pub mod mfcc;
pub mod numpy;
pub mod pcm;

pub use mel::MelExtractor;
pub use pcm::{f32_to_pcm, pcm_to_f32, PCM_SCALE};

/// Video frame rate of every shard (SPEC §1.1: LRS2 is 25 fps; other rates are resampled).
pub const FPS: u32 = 25;
/// Audio sample rate of every shard and of the mel (SPEC §1.3).
pub const SAMPLE_RATE: u32 = 16_000;
/// Audio samples per video frame: 16000 / 25 (SPEC §1.4).
pub const SAMPLES_PER_FRAME: usize = (SAMPLE_RATE / FPS) as usize;
/// Frames per visual window (SPEC §1.4).
pub const WINDOW_FRAMES: usize = 5;
/// Samples in one window's audio chunk: 5 × 640 (SPEC §1.4).
pub const CHUNK_SAMPLES: usize = WINDOW_FRAMES * SAMPLES_PER_FRAME;
/// STFT size and Hann window length (`hparams.n_fft`).
pub const N_FFT: usize = 800;
/// Hop between STFT frames, 12.5 ms (`hparams.hop_size`).
pub const HOP: usize = 200;
/// One-sided STFT bins: N_FFT / 2 + 1.
pub const N_STFT: usize = N_FFT / 2 + 1;
/// Mel bands (`hparams.num_mels`).
pub const N_MELS: usize = 80;
/// Mel frames per window (`mel_step_size = 16`, `VL:test_lrs2.py:L37`): a chunk's 17 frames with
/// the last dropped (SPEC §1.3 step 7).
pub const MEL_WINDOW: usize = 16;
/// Side of the square face image the loaders resize every crop to (`hparams.img_size`, SPEC §1.2).
pub const FACE_SIZE: usize = 96;
/// Mouth-crop height: the lower half of a 96×96 face, rows 48..95 (SPEC §1.2).
pub const CROP_HEIGHT: usize = FACE_SIZE / 2;
/// Mouth-crop width (SPEC §1.2).
pub const CROP_WIDTH: usize = FACE_SIZE;
/// Colour channels of a stored crop (RGB).
pub const CHANNELS: usize = 3;
/// Channels of the visual model input: the window's frames stacked, 5 × 3 (SPEC §2.1).
pub const FRAME_CHANNELS: usize = WINDOW_FRAMES * CHANNELS;

/// Shape of a batch of visual inputs, `[b, 15, 48, 96]` (SPEC §2.1).
pub const fn frames_shape(b: usize) -> [usize; 4] {
    [b, FRAME_CHANNELS, CROP_HEIGHT, CROP_WIDTH]
}

/// Shape of a batch of mel inputs, `[b, 1, 80, 16]` (SPEC §2.1).
pub const fn mel_shape(b: usize) -> [usize; 4] {
    [b, 1, N_MELS, MEL_WINDOW]
}

/// Values in one visual input: 15 × 48 × 96.
pub const FRAME_INPUT_LEN: usize = FRAME_CHANNELS * CROP_HEIGHT * CROP_WIDTH;
/// Values in one mel input: 80 × 16.
pub const MEL_INPUT_LEN: usize = N_MELS * MEL_WINDOW;
