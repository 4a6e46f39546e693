//! `evaluator lse`: LSE-C and LSE-D, SyncNet's confidence and minimum distance, exactly as
//! `joonson/syncnet_python`'s `SyncNetInstance.evaluate` and Wav2Lip's `evaluation/scores_LSE`
//! compute them, for many videos at once on a CPU.
//!
//! - [`media::reference`]: the reference's frames (ffmpeg MJPEG decoded as OpenCV does) and 16 kHz
//!   audio;
//! - MFCCs: [`features::mfcc`] (`python_speech_features.mfcc`);
//! - the model: [`nets::syncnet`];
//! - [`video`]: one video through the encoders; [`score`]: `calc_pdist`, offset, confidence,
//!   minimum distance;
//! - [`tracks`]: full-frame videos, one row per face track (run_pipeline's tracks, issue #31);
//! - [`row`]: the output row and the journal line;
//! - [`run`]: the batch job (parallel, resumable, `lse.parquet`, `lse.csv`, `summary.json`,
//!   `tracks.parquet` and a tracks picture per full-frame video).

pub mod row;
pub mod run;
pub mod score;
pub mod tracks;
pub mod video;

pub use media::reference::FrameSource;
pub use row::{LseRow, LseVideo};
pub use run::{run, LseConfig, LseInput, LseSummary};
pub use score::{LseScore, SHIFTS, VSHIFT};
pub use video::{evaluate, Embedder, VideoLse};
