//! LRS2 → Parquet shards of mouth crops, 16 kHz PCM and log-mel (SPEC §1).
//!
//! Modules follow the per-utterance pipeline: [`decode`] (ffmpeg) → [`face`] (rustface) →
//! [`crop`] → [`audio`] (rubato) → [`mel`] (realfft) → [`process`] (one row); [`layout`] finds
//! the corpus and plans shards and cluster tasks; [`run`] writes shards and manifests.

pub mod audio;
pub mod bench;
pub mod crop;
pub mod decode;
pub mod face;
pub mod inspect;
pub mod layout;
pub mod mel;
pub mod process;
pub mod run;
pub mod synth;
pub mod verify;
