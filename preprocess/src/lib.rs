//! Corpora → Parquet shards of mouth crops, 16 kHz PCM and log-mel (SPEC §1).
//!
//! [`engine`] is the shard-set engine (plan → items → process → sink → manifest, cluster
//! tasks, resume, merge); each corpus layout plugs into it with one [`engine::Layout`]:
//! [`lrs2`] (videos, decoded into mouth clips by the `media` crate) and [`wav2lip`] (an already
//! preprocessed Wav2Lip-layout tree). [`synth`] writes a small corpus in the LRS2 layout;
//! [`shift`] reads measured offsets for sync-corrected sets; [`inspect`], [`verify`] and
//! [`bench`] look at the result. Errors: [`PreprocessError`] stops a command, a layout's skip
//! reason records one item.

pub mod bench;
pub mod cli;
pub mod engine;
mod error;
pub mod inspect;
pub mod lrs2;
pub mod shift;
pub mod synth;
pub mod verify;
pub mod wav2lip;

pub use error::{PreprocessError, Result};
