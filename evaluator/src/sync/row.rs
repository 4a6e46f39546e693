//! One row of `sync.parquet` / the sync journal: an utterance's estimate or why it has none.

use serde::{Deserialize, Serialize};

use super::SyncResult;
use crate::batch::Row;

/// One output row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncRow {
    /// Utterance id (the shard's, or the video's path under `--dir`/the list without extension).
    pub utt_id: String,
    /// Where it came from: the video, or the shard file.
    pub source: String,
    /// The estimate; None when the item could not be scored.
    pub result: Option<SyncResult>,
    /// Why it has no estimate.
    pub reason: Option<String>,
}

impl Row for SyncRow {
    fn key(&self) -> &str {
        &self.utt_id
    }
    fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }
    /// A row with an estimate must be the estimate of its own mean scores
    /// ([`super::SyncResult::check`]); a row without one must say why.
    fn check(&self) -> std::result::Result<(), String> {
        match (&self.result, &self.reason) {
            (Some(r), None) => r.check(),
            (None, Some(_)) => Ok(()),
            (Some(_), Some(_)) => Err("an estimate with a reason".into()),
            (None, None) => Err("neither an estimate nor a reason".into()),
        }
    }
}
