//! LRS2 → Parquet shards of mouth crops, 16 kHz PCM and log-mel (SPEC §1).
//!
//! Modules follow the per-utterance pipeline: [`decode`] (ffmpeg) → [`face`] (rustface) →
//! [`crop`] → [`audio`] (rubato) → the log-mel of [`features::mel`] → [`process`] (one row);
//! [`layout`] finds the corpus and plans shards and cluster tasks; [`run`] writes shards and
//! manifests. [`wav2lip`] imports an already preprocessed Wav2Lip-layout tree instead
//! ([`jpeg`] decoding and the reference loaders' [`resize`]s), through the same [`run::execute`].
//! Errors: [`PreprocessError`] stops a command, a [`process::Skip`] records one item.

pub mod audio;
pub mod bench;
pub mod cli;
pub mod crop;
pub mod decode;
mod error;
pub mod face;
pub mod inspect;
pub mod jpeg;
pub mod layout;
pub mod process;
pub mod resize;
pub mod run;
pub mod shift;
pub mod synth;
pub mod verify;
pub mod wav2lip;

pub use error::{PreprocessError, Result};
