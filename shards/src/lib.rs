//! The shard format: one LRS2 utterance per Parquet row (frames, PCM, mel, metadata).
//!
//! Every stage of the toolkit meets here: `preprocess` writes shards, `trainer` samples windows
//! from them and `evaluator` scores them. The column layout is documented in `SCHEMA.md` so that
//! pyarrow, polars or duckdb users can read a shard without this crate.
#![deny(missing_docs)]

mod error;
mod reader;
mod schema;
mod utterance;
pub mod window;
mod writer;

pub use error::{Error, Result, RowError, SizeMismatch, UnknownSplit};
pub use reader::{ShardReader, UttLocation};
pub use schema::{shard_schema, META_PARAMS, META_SCHEMA_VERSION, SCHEMA_VERSION};
pub use utterance::{FaceBox, Split, Utterance};
pub use writer::{temp_path, temp_target, ShardWriter, WriterOptions};
