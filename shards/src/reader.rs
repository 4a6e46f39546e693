//! Streaming shard reader: row group by row group, or one utterance by id through an index.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow::array::{
    Array, AsArray, BooleanArray, FixedSizeListArray, Float32Array, Int16Array, LargeBinaryArray, ListArray,
    RecordBatch, StringArray, UInt32Array,
};
use arrow::datatypes::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ProjectionMask;
use parquet::file::metadata::ParquetMetaData;

use crate::schema::{shard_schema, META_PARAMS, META_SCHEMA_VERSION};
use crate::{Error, FaceBox, Result, RowError, Split, Utterance, SCHEMA_VERSION};

/// Where an utterance lives inside a shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UttLocation {
    /// Row group index.
    pub row_group: usize,
    /// Row inside that group.
    pub row: usize,
}

/// An open shard. Reading never loads more than one row group at a time.
pub struct ShardReader {
    path: PathBuf,
    metadata: std::sync::Arc<ParquetMetaData>,
    schema_meta: HashMap<String, String>,
    index: Option<HashMap<String, UttLocation>>,
}

impl ShardReader {
    /// Opens a shard and checks its schema version and columns.
    pub fn open(path: &Path) -> Result<Self> {
        let builder = Self::builder(path)?;
        let metadata = builder.metadata().clone();
        let schema_meta = builder.schema().metadata().clone();
        let version = schema_meta.get(META_SCHEMA_VERSION).cloned();
        if version.as_deref() != Some(SCHEMA_VERSION.to_string().as_str()) {
            return Err(Error::SchemaVersion {
                path: path.to_path_buf(),
                found: version,
                expected: SCHEMA_VERSION,
            });
        }
        let expected = shard_schema();
        for field in expected.fields() {
            match builder.schema().field_with_name(field.name()) {
                Ok(found) if compatible(found.data_type(), field.data_type()) => {}
                Ok(found) => {
                    return Err(Error::Invalid {
                        path: path.to_path_buf(),
                        what: format!(
                        "column {} has type {}, expected {} (see SCHEMA.md, \"Writing shards from Python\")",
                        field.name(),
                        found.data_type(),
                        field.data_type()
                    ),
                    })
                }
                Err(_) => {
                    return Err(Error::Invalid {
                        path: path.to_path_buf(),
                        what: format!("column {} is missing", field.name()),
                    })
                }
            }
        }
        Ok(Self { path: path.to_path_buf(), metadata, schema_meta: schema_meta.into(), index: None })
    }

    fn builder(path: &Path) -> Result<ParquetRecordBatchReaderBuilder<File>> {
        let file = File::open(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            action: "open",
            source,
        })?;
        ParquetRecordBatchReaderBuilder::try_new(file)
            .map_err(|source| Error::Parquet { path: path.to_path_buf(), source })
    }

    /// Path of the shard.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of row groups (the streaming unit).
    pub fn num_row_groups(&self) -> usize {
        self.metadata.num_row_groups()
    }

    /// Number of utterances.
    pub fn num_rows(&self) -> usize {
        self.metadata.file_metadata().num_rows() as usize
    }

    /// The preprocessing parameters stored at write time (JSON), if any.
    pub fn params_json(&self) -> Option<&str> {
        self.schema_meta.get(META_PARAMS).map(String::as_str)
    }

    /// Reads one row group fully.
    pub fn read_row_group(&self, row_group: usize) -> Result<Vec<Utterance>> {
        if row_group >= self.num_row_groups() {
            return Err(Error::Invalid {
                path: self.path.clone(),
                what: format!("row group {row_group} out of {}", self.num_row_groups()),
            });
        }
        let reader = Self::builder(&self.path)?
            .with_row_groups(vec![row_group])
            .build()
            .map_err(|source| Error::Parquet { path: self.path.clone(), source })?;
        let mut out = Vec::new();
        for batch in reader {
            let batch = batch.map_err(|source| Error::Arrow { path: self.path.clone(), source })?;
            decode_batch(&batch, &mut out).map_err(|source| Error::Row {
                path: self.path.clone(),
                row_group,
                source,
            })?;
        }
        Ok(out)
    }

    /// Iterates over all utterances, one row group in memory at a time.
    pub fn iter(&self) -> impl Iterator<Item = Result<Utterance>> + '_ {
        (0..self.num_row_groups()).flat_map(move |g| match self.read_row_group(g) {
            Ok(rows) => rows.into_iter().map(Ok).collect::<Vec<_>>(),
            Err(e) => vec![Err(e)],
        })
    }

    /// Utterance ids in file order (reads only the `utt_id` column).
    pub fn utt_ids(&self) -> Result<Vec<String>> {
        let builder = Self::builder(&self.path)?;
        let mask = ProjectionMask::columns(builder.parquet_schema(), ["utt_id"]);
        let reader = builder
            .with_projection(mask)
            .build()
            .map_err(|source| Error::Parquet { path: self.path.clone(), source })?;
        let mut ids = Vec::with_capacity(self.num_rows());
        for batch in reader {
            let batch = batch.map_err(|source| Error::Arrow { path: self.path.clone(), source })?;
            let col = batch.column(0).as_string::<i32>();
            ids.extend(col.iter().map(|s| s.unwrap_or_default().to_string()));
        }
        Ok(ids)
    }

    /// The id → location index, built on first use from the `utt_id` column alone.
    pub fn index(&mut self) -> Result<&HashMap<String, UttLocation>> {
        if self.index.is_none() {
            let ids = self.utt_ids()?;
            let mut index = HashMap::with_capacity(ids.len());
            let mut ids = ids.into_iter();
            for g in 0..self.num_row_groups() {
                let rows = self.metadata.row_group(g).num_rows() as usize;
                for row in 0..rows {
                    let id = ids.next().ok_or_else(|| Error::Invalid {
                        path: self.path.clone(),
                        what: "fewer ids than rows".into(),
                    })?;
                    index.insert(id, UttLocation { row_group: g, row });
                }
            }
            self.index = Some(index);
        }
        Ok(self.index.as_ref().expect("index built above"))
    }

    /// Fetches one utterance by id, reading only its row group.
    pub fn get(&mut self, utt_id: &str) -> Result<Utterance> {
        let path = self.path.clone();
        let loc =
            *self.index()?.get(utt_id).ok_or_else(|| Error::NotFound { path, utt_id: utt_id.to_string() })?;
        let mut rows = self.read_row_group(loc.row_group)?;
        if loc.row >= rows.len() {
            return Err(Error::Invalid {
                path: self.path.clone(),
                what: format!("index points past row group {}", loc.row_group),
            });
        }
        Ok(rows.swap_remove(loc.row))
    }
}

/// Whether a column written by another tool can be read as `expected`: the same type up to the
/// names and nullability of list items. pyarrow ≥ 13 names list children `element` where arrow-rs
/// writes `item`, and pyarrow, polars and duckdb mark columns nullable by default; nulls
/// themselves are rejected row by row ([`RowError::Null`]).
pub(crate) fn compatible(found: &DataType, expected: &DataType) -> bool {
    match (found, expected) {
        (DataType::List(f), DataType::List(e)) => compatible(f.data_type(), e.data_type()),
        (DataType::FixedSizeList(f, n), DataType::FixedSizeList(e, m)) => {
            n == m && compatible(f.data_type(), e.data_type())
        }
        (f, e) => f == e,
    }
}

/// The first column of `batch`, or list items in it, holding a null.
fn first_null(batch: &RecordBatch) -> Option<String> {
    fn has_null(a: &dyn Array) -> bool {
        a.null_count() > 0
            || match a.data_type() {
                DataType::List(_) => has_null(a.as_list::<i32>().values().as_ref()),
                DataType::FixedSizeList(..) => has_null(a.as_fixed_size_list().values().as_ref()),
                _ => false,
            }
    }
    batch
        .schema()
        .fields()
        .iter()
        .zip(batch.columns())
        .find(|(_, c)| has_null(c.as_ref()))
        .map(|(f, _)| f.name().clone())
}

fn col<'a, T: 'static>(batch: &'a RecordBatch, name: &str) -> Result<&'a T, RowError> {
    batch
        .column_by_name(name)
        .ok_or_else(|| RowError::MissingColumn(name.into()))?
        .as_any()
        .downcast_ref::<T>()
        .ok_or_else(|| RowError::ColumnType(name.into()))
}

fn list_values<'a, T: 'static>(list: &'a ListArray, name: &str) -> Result<&'a T, RowError> {
    list.values().as_any().downcast_ref::<T>().ok_or_else(|| RowError::ItemType(name.into()))
}

fn decode_batch(batch: &RecordBatch, out: &mut Vec<Utterance>) -> Result<(), RowError> {
    if let Some(column) = first_null(batch) {
        return Err(RowError::Null(column));
    }
    let s = |n| col::<StringArray>(batch, n);
    let u = |n| col::<UInt32Array>(batch, n);
    let (ids, splits, paths, shas, texts) =
        (s("utt_id")?, s("split")?, s("source_path")?, s("source_sha256")?, s("transcript")?);
    let (fps, nf, sr, mel_frames) = (u("fps")?, u("num_frames")?, u("sample_rate")?, u("mel_frames")?);
    let frames = col::<LargeBinaryArray>(batch, "frames")?;
    let boxes = col::<ListArray>(batch, "face_boxes")?;
    let box_vals = list_values::<FixedSizeListArray>(boxes, "face_boxes")?;
    let box_floats = box_vals
        .values()
        .as_any()
        .downcast_ref::<Float32Array>()
        .ok_or_else(|| RowError::ItemType("face_boxes".into()))?;
    let found = col::<ListArray>(batch, "face_found")?;
    let found_vals = list_values::<BooleanArray>(found, "face_found")?;
    let pcm = col::<ListArray>(batch, "pcm")?;
    let pcm_vals = list_values::<Int16Array>(pcm, "pcm")?;
    let mel = col::<ListArray>(batch, "mel")?;
    let mel_vals = list_values::<Float32Array>(mel, "mel")?;
    let range = |l: &ListArray, i: usize| {
        let o = l.value_offsets();
        o[i] as usize..o[i + 1] as usize
    };
    for i in 0..batch.num_rows() {
        let split: Split = splits.value(i).parse()?;
        let b = range(boxes, i);
        let bf = box_floats.values();
        let face_boxes = b
            .map(|j| {
                let v = &bf[j * 5..j * 5 + 5];
                FaceBox { x: v[0], y: v[1], w: v[2], h: v[3], score: v[4] }
            })
            .collect();
        let utt = Utterance {
            utt_id: ids.value(i).to_string(),
            split,
            source_path: paths.value(i).to_string(),
            source_sha256: shas.value(i).to_string(),
            transcript: texts.value(i).to_string(),
            fps: fps.value(i),
            num_frames: nf.value(i),
            frames: frames.value(i).to_vec(),
            face_boxes,
            face_found: range(found, i).map(|j| found_vals.value(j)).collect(),
            sample_rate: sr.value(i),
            pcm: pcm_vals.values()[range(pcm, i)].to_vec(),
            mel: mel_vals.values()[range(mel, i)].to_vec(),
            mel_frames: mel_frames.value(i),
        };
        utt.validate().map_err(|what| RowError::Utterance { utt_id: utt.utt_id.clone(), what })?;
        out.push(utt);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::datatypes::{DataType, Field};

    use super::compatible;
    use crate::schema::shard_schema;

    /// The types pyarrow ≥ 13 writes by default: list children named `element`, nullable.
    fn as_pyarrow(dt: &DataType) -> DataType {
        match dt {
            DataType::List(f) => {
                DataType::List(Arc::new(Field::new("element", as_pyarrow(f.data_type()), true)))
            }
            DataType::FixedSizeList(f, n) => {
                DataType::FixedSizeList(Arc::new(Field::new("element", as_pyarrow(f.data_type()), true)), *n)
            }
            other => other.clone(),
        }
    }

    #[test]
    fn list_child_names_and_nullability_do_not_matter_but_types_do() {
        for field in shard_schema().fields() {
            let theirs = as_pyarrow(field.data_type());
            assert!(compatible(&theirs, field.data_type()), "{}: {theirs}", field.name());
        }
        let f = |dt| Arc::new(Field::new("item", dt, false));
        let list = |dt| DataType::List(f(dt));
        assert!(!compatible(&list(DataType::Float64), &list(DataType::Float32)));
        assert!(!compatible(&DataType::Binary, &DataType::LargeBinary));
        let boxes = |n| DataType::FixedSizeList(f(DataType::Float32), n);
        assert!(!compatible(&list(boxes(4)), &list(boxes(5))));
    }
}
