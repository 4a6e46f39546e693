//! The Arrow schema of a shard (documented column by column in `SCHEMA.md`).

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, FieldRef, Schema, SchemaRef};

/// Version of the shard layout; bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;
/// Parquet key/value metadata key holding [`SCHEMA_VERSION`].
pub const META_SCHEMA_VERSION: &str = "lipsync.schema_version";
/// Parquet key/value metadata key holding the preprocessing parameters as JSON.
pub const META_PARAMS: &str = "lipsync.params";

/// Values per face box: x, y, w, h, score.
pub(crate) const BOX_FIELDS: i32 = 5;

pub(crate) fn item(dt: DataType) -> FieldRef {
    Arc::new(Field::new("item", dt, false))
}

pub(crate) fn box_type() -> DataType {
    DataType::FixedSizeList(item(DataType::Float32), BOX_FIELDS)
}

/// The shard schema: one row per utterance.
pub fn shard_schema() -> SchemaRef {
    use DataType::*;
    let f = |name: &str, dt: DataType| Field::new(name, dt, false);
    Arc::new(Schema::new(vec![
        f("utt_id", Utf8),
        f("split", Utf8),
        f("source_path", Utf8),
        f("source_sha256", Utf8),
        f("transcript", Utf8),
        f("fps", UInt32),
        f("num_frames", UInt32),
        f("crop_height", UInt32),
        f("crop_width", UInt32),
        f("frames", LargeBinary),
        f("face_boxes", List(item(box_type()))),
        f("face_found", List(item(Boolean))),
        f("sample_rate", UInt32),
        f("pcm", List(item(Int16))),
        f("mel_bins", UInt32),
        f("mel_frames", UInt32),
        f("mel", List(item(Float32))),
    ]))
}
