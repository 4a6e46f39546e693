//! `preprocess run --shift-audio offsets.parquet`: sync-corrected shards.
//!
//! The offsets come from `evaluator sync --out` (`sync.parquet`: `utt_id`, `offset_frames`;
//! positive means the audio lags the video). Utterance `utt_id` measured at K frames gets its
//! audio moved by K frames (K·640 samples at 16 kHz) and both ends trimmed so that audio and
//! video cover the same time: for K > 0 the first K·640 samples and the last K video frames go,
//! for K < 0 the first |K| frames and the last |K|·640 samples. An utterance without a measured
//! offset (absent, or a row with a reason) is skipped and recorded, never written uncorrected.

use std::collections::HashMap;
use std::path::Path;

use arrow::array::{Array, AsArray};
use arrow::datatypes::Int32Type;
use serde::{Deserialize, Serialize};

use crate::error::{PreprocessError, Result};

/// The measured offsets and where they came from (recorded in the manifest).
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct AudioShift {
    /// The offsets file as given.
    pub file: String,
    /// Its sha256.
    pub sha256: String,
    /// Offset in frames per utterance id (not serialised: the hash stands for it).
    #[serde(skip)]
    pub offsets: std::sync::Arc<HashMap<String, i32>>,
}

/// Two shifts are the same when their files are (so resume compares recorded and current ones).
impl PartialEq for AudioShift {
    fn eq(&self, other: &Self) -> bool {
        self.sha256 == other.sha256
    }
}

fn bad(path: &Path, detail: impl std::fmt::Display) -> PreprocessError {
    PreprocessError::Offsets { path: path.to_path_buf(), detail: detail.to_string() }
}

impl AudioShift {
    /// Reads `utt_id` and `offset_frames` of a `sync.parquet`; rows without an offset are left
    /// out (their utterances are skipped).
    pub fn read(path: &Path) -> Result<Self> {
        let file = std::fs::File::open(path).map_err(|e| bad(path, e))?;
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .map_err(|e| bad(path, format!("not a Parquet file ({e})")))?
            .build()
            .map_err(|e| bad(path, e))?;
        let mut offsets = HashMap::new();
        for batch in reader {
            let b = batch.map_err(|e| bad(path, e))?;
            let ids = b.column_by_name("utt_id").and_then(|c| c.as_string_opt::<i32>());
            let off = b.column_by_name("offset_frames").and_then(|c| c.as_primitive_opt::<Int32Type>());
            let (Some(ids), Some(off)) = (ids, off) else {
                return Err(bad(path, "no utt_id (string) and offset_frames (int32) columns: use the sync.parquet of `evaluator sync --out`"));
            };
            for i in 0..b.num_rows() {
                if !off.is_null(i) && offsets.insert(ids.value(i).to_string(), off.value(i)).is_some() {
                    return Err(bad(path, format!("utterance {} appears twice", ids.value(i))));
                }
            }
        }
        Ok(Self {
            file: path.display().to_string(),
            sha256: manifests::sha256_file(path)?,
            offsets: offsets.into(),
        })
    }

    /// The measured offset of `utt_id`.
    pub fn offset(&self, utt_id: &str) -> Option<i32> {
        self.offsets.get(utt_id).copied()
    }
}
