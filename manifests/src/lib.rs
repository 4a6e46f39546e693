//! Split lists and shard-set manifests.
//!
//! A split list names the utterances of an LRS2 split (SPEC §1.5); a manifest describes a set of
//! shards written by `preprocess`: every parameter, every shard with its checksum, every skipped item.
#![deny(missing_docs)]

mod error;
mod hash;
mod lock;
mod manifest;
mod runs;
mod split;

pub use error::{describe_error, Error, Result};
pub use hash::{sha256_bytes, sha256_file};
pub use lock::DirLock;
pub use manifest::{atomic_write, Manifest, ShardEntry, SkippedItem, MANIFEST_FILE, MANIFEST_VERSION};
pub use runs::split_seed;
pub use split::{known_lrs2_split, parse_split_list, KnownSplit, SplitEntry, UttId, LRS2_V1_SPLITS};
