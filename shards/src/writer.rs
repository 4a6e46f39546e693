//! Atomic, bounded-memory shard writer.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, FixedSizeListArray, Float32Array, Int16Array, LargeBinaryArray, ListArray,
    RecordBatch, StringArray, UInt32Array,
};
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::schema::{box_type, item, shard_schema, BOX_FIELDS, META_PARAMS, META_SCHEMA_VERSION};
use features::{CROP_HEIGHT, CROP_WIDTH, N_MELS};

use crate::{Error, Result, Utterance, SCHEMA_VERSION};

/// Knobs of the writer.
#[derive(Debug, Clone)]
pub struct WriterOptions {
    /// Utterances per row group: the unit a reader streams, and what the writer holds in memory.
    pub rows_per_group: usize,
    /// zstd level.
    pub zstd_level: i32,
}

impl Default for WriterOptions {
    fn default() -> Self {
        // A few utterances per group: LRS2 pretrain utterances reach ~1 MB of crops per 3 s,
        // so 8 rows keep a group around 10–50 MB, small enough to stream, large enough to compress.
        Self { rows_per_group: 8, zstd_level: 3 }
    }
}

/// Writes utterances to `<path>` through a temporary file in the same directory that is renamed
/// into place by [`ShardWriter::finish`]; a writer dropped before that leaves nothing visible.
pub struct ShardWriter {
    path: PathBuf,
    tmp: PathBuf,
    writer: Option<ArrowWriter<File>>,
    schema: SchemaRef,
    pending: Vec<Utterance>,
    rows_per_group: usize,
    rows: usize,
}

/// Where a file is written before the rename that publishes it: `.<name>.tmp-<pid>` beside it
/// (hidden, never taken for the file itself; the pid tells concurrent writers apart).
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// The file a [`temp_path`] name stands for (`.<name>.tmp-<digits>` → `<name>`), else None.
pub fn temp_target(file_name: &str) -> Option<&str> {
    let (target, pid) = file_name.strip_prefix('.')?.rsplit_once(".tmp-")?;
    (!pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit())).then_some(target)
}

impl ShardWriter {
    /// Creates a writer for `path`; `params_json` is stored as file metadata ([`META_PARAMS`]).
    pub fn create(path: &Path, params_json: &str, options: &WriterOptions) -> Result<Self> {
        let tmp = temp_path(path);
        let file =
            File::create(&tmp).map_err(|source| Error::Io { path: tmp.clone(), action: "create", source })?;
        let level = ZstdLevel::try_new(options.zstd_level)
            .map_err(|source| Error::Parquet { path: path.to_path_buf(), source })?;
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(level))
            .set_max_row_group_row_count(Some(options.rows_per_group.max(1)))
            .build();
        // The metadata goes on the Arrow schema, which the Parquet file embeds: pyarrow, polars
        // and duckdb then show it as the schema's metadata.
        let metadata = HashMap::from([
            (META_SCHEMA_VERSION.to_string(), SCHEMA_VERSION.to_string()),
            (META_PARAMS.to_string(), params_json.to_string()),
        ]);
        let schema = Arc::new(shard_schema().as_ref().clone().with_metadata(metadata));
        let writer = ArrowWriter::try_new(file, schema.clone(), Some(props))
            .map_err(|source| Error::Parquet { path: path.to_path_buf(), source })?;
        Ok(Self {
            path: path.to_path_buf(),
            tmp,
            writer: Some(writer),
            schema,
            pending: Vec::new(),
            rows_per_group: options.rows_per_group.max(1),
            rows: 0,
        })
    }

    /// Queues one utterance; a full row group is encoded and flushed at once.
    pub fn write(&mut self, utt: Utterance) -> Result<()> {
        utt.validate().map_err(|what| Error::BadUtterance { utt_id: utt.utt_id.clone(), what })?;
        self.pending.push(utt);
        if self.pending.len() >= self.rows_per_group {
            self.flush_group()?;
        }
        Ok(())
    }

    /// Rows written so far (including queued ones).
    pub fn rows(&self) -> usize {
        self.rows + self.pending.len()
    }

    fn flush_group(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let batch = to_batch(&self.schema, &self.pending)
            .map_err(|source| Error::Arrow { path: self.path.clone(), source })?;
        let writer = self.writer.as_mut().expect("writer present until finish");
        writer
            .write(&batch)
            .and_then(|_| writer.flush())
            .map_err(|source| Error::Parquet { path: self.path.clone(), source })?;
        self.rows += self.pending.len();
        self.pending.clear();
        Ok(())
    }

    /// Flushes, fsyncs and renames the shard into place; returns its final path.
    pub fn finish(mut self) -> Result<PathBuf> {
        self.flush_group()?;
        let writer = self.writer.take().expect("writer present until finish");
        let file =
            writer.into_inner().map_err(|source| Error::Parquet { path: self.path.clone(), source })?;
        file.sync_all().map_err(|source| Error::Io { path: self.tmp.clone(), action: "fsync", source })?;
        drop(file);
        std::fs::rename(&self.tmp, &self.path).map_err(|source| Error::Io {
            path: self.path.clone(),
            action: "rename",
            source,
        })?;
        Ok(self.path.clone())
    }
}

impl Drop for ShardWriter {
    fn drop(&mut self) {
        if self.writer.is_some() {
            // Abandoned before finish: remove the partial temp file; nothing was ever visible.
            // A failure here leaves only a dot-file that readers and resume logic ignore.
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

fn list<T: arrow::array::Array + 'static>(
    inner: arrow::datatypes::DataType,
    lengths: impl IntoIterator<Item = usize>,
    values: T,
) -> ArrayRef {
    Arc::new(ListArray::new(item(inner), OffsetBuffer::from_lengths(lengths), Arc::new(values), None))
}

fn to_batch(schema: &SchemaRef, utts: &[Utterance]) -> Result<RecordBatch, arrow::error::ArrowError> {
    let strs = |f: fn(&Utterance) -> &str| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(utts.iter().map(f)))
    };
    let u32s = |f: fn(&Utterance) -> u32| -> ArrayRef {
        Arc::new(UInt32Array::from_iter_values(utts.iter().map(f)))
    };
    let boxes: Vec<f32> =
        utts.iter().flat_map(|u| u.face_boxes.iter().flat_map(|b| [b.x, b.y, b.w, b.h, b.score])).collect();
    let boxes = FixedSizeListArray::new(
        item(arrow::datatypes::DataType::Float32),
        BOX_FIELDS,
        Arc::new(Float32Array::from(boxes)),
        None,
    );
    use arrow::datatypes::DataType as D;
    let columns: Vec<ArrayRef> = vec![
        strs(|u| &u.utt_id),
        strs(|u| u.split.as_str()),
        strs(|u| &u.source_path),
        strs(|u| &u.source_sha256),
        strs(|u| &u.transcript),
        u32s(|u| u.fps),
        u32s(|u| u.num_frames),
        u32s(|_| CROP_HEIGHT as u32),
        u32s(|_| CROP_WIDTH as u32),
        Arc::new(LargeBinaryArray::from_iter_values(utts.iter().map(|u| &u.frames))),
        list(box_type(), utts.iter().map(|u| u.face_boxes.len()), boxes),
        list(
            D::Boolean,
            utts.iter().map(|u| u.face_found.len()),
            BooleanArray::from(utts.iter().flat_map(|u| u.face_found.iter().copied()).collect::<Vec<_>>()),
        ),
        u32s(|u| u.sample_rate),
        list(
            D::Int16,
            utts.iter().map(|u| u.pcm.len()),
            Int16Array::from_iter_values(utts.iter().flat_map(|u| u.pcm.iter().copied())),
        ),
        u32s(|_| N_MELS as u32),
        u32s(|u| u.mel_frames),
        list(
            D::Float32,
            utts.iter().map(|u| u.mel.len()),
            Float32Array::from_iter_values(utts.iter().flat_map(|u| u.mel.iter().copied())),
        ),
    ];
    RecordBatch::try_new(schema.clone(), columns)
}
