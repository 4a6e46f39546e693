//! Raw per-window scores as Parquet: `utt_id`, `window`, `scores` (31 × float32, candidate j is
//! audio window i − 15 + j, before edge masking), and reading them back for `tabulate`.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, FixedSizeListArray, Float32Array, RecordBatch, StringArray, UInt32Array,
};
use arrow::datatypes::{DataType, Field, Schema};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;

use crate::error::{io, EvalError, Result};
use crate::protocol::CANDIDATES;

/// One video's raw scores.
pub type VideoScores = (String, Vec<[f32; CANDIDATES]>);

/// One row of a scores file: its window index and its 31 scores.
type WindowRow = (u32, [f32; CANDIDATES]);

fn schema() -> Arc<Schema> {
    let item = Arc::new(Field::new("item", DataType::Float32, false));
    Arc::new(Schema::new(vec![
        Field::new("utt_id", DataType::Utf8, false),
        Field::new("window", DataType::UInt32, false),
        Field::new("scores", DataType::FixedSizeList(item, CANDIDATES as i32), false),
    ]))
}

/// Writes all videos' scores to `path` atomically.
pub fn write(path: &Path, videos: &[VideoScores]) -> Result<()> {
    let ids: Vec<&str> = videos.iter().flat_map(|(id, r)| r.iter().map(move |_| id.as_str())).collect();
    let windows: Vec<u32> = videos.iter().flat_map(|(_, r)| 0..r.len() as u32).collect();
    let flat: Vec<f32> = videos.iter().flat_map(|(_, r)| r.iter().flatten().copied()).collect();
    let item = Arc::new(Field::new("item", DataType::Float32, false));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(ids)),
        Arc::new(UInt32Array::from(windows)),
        Arc::new(FixedSizeListArray::new(item, CANDIDATES as i32, Arc::new(Float32Array::from(flat)), None)),
    ];
    write_parquet(path, RecordBatch::try_new(schema(), columns).expect("columns match the schema"))
}

/// Writes one record batch to `path` atomically (temporary file, then rename).
pub(crate) fn write_parquet(path: &Path, batch: RecordBatch) -> Result<()> {
    let tmp = path.with_extension("parquet.tmp");
    let parquet = |source| EvalError::Parquet { path: tmp.clone(), source };
    let file = std::fs::File::create(&tmp).map_err(io(&tmp))?;
    let mut w = ArrowWriter::try_new(file, batch.schema(), None).map_err(parquet)?;
    w.write(&batch).map_err(parquet)?;
    w.close().map_err(parquet)?;
    std::fs::rename(&tmp, path).map_err(io(path))
}

/// Reads scores written by [`write`] (or any file with those columns), grouped by `utt_id` in
/// order of first appearance, each video's rows placed by their `window`: rows may come in any
/// order, but every video must hold windows 0..N−1 exactly once (a duplicate or a gap is an
/// error naming the video and window, never a silently different accuracy).
pub fn read(path: &Path) -> Result<Vec<VideoScores>> {
    let not_scores = |detail: String| EvalError::NotScores { path: path.to_path_buf(), detail };
    let file = std::fs::File::open(path).map_err(io(path))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.build())
        .map_err(|e| not_scores(e.to_string()))?;
    let mut keyed: Vec<(String, Vec<WindowRow>)> = Vec::new();
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for batch in reader {
        let batch = batch.map_err(|e| not_scores(e.to_string()))?;
        let bad = || not_scores("unexpected columns (need utt_id, window, scores[31])".into());
        let ids = batch
            .column_by_name("utt_id")
            .and_then(|c| c.as_any().downcast_ref::<StringArray>())
            .ok_or_else(bad)?;
        let sc = batch
            .column_by_name("scores")
            .and_then(|c| c.as_any().downcast_ref::<FixedSizeListArray>())
            .ok_or_else(bad)?;
        let windows = batch
            .column_by_name("window")
            .and_then(|c| c.as_any().downcast_ref::<UInt32Array>())
            .ok_or_else(bad)?;
        let vals = sc.values().as_any().downcast_ref::<Float32Array>().ok_or_else(bad)?;
        if sc.len() != batch.num_rows() || sc.value_length() as usize != CANDIDATES || sc.offset() != 0 {
            return Err(bad());
        }
        if ids.null_count() + windows.null_count() + sc.null_count() > 0 {
            return Err(not_scores("null utt_id, window or scores".into()));
        }
        for i in 0..batch.num_rows() {
            let row: [f32; CANDIDATES] =
                vals.values()[i * CANDIDATES..(i + 1) * CANDIDATES].try_into().expect("31 values");
            let k = *index.entry(ids.value(i).to_string()).or_insert_with(|| {
                keyed.push((ids.value(i).to_string(), Vec::new()));
                keyed.len() - 1
            });
            keyed[k].1.push((windows.value(i), row));
        }
    }
    let mut out: Vec<VideoScores> = Vec::with_capacity(keyed.len());
    for (id, mut rows) in keyed {
        rows.sort_by_key(|(w, _)| *w);
        for (expected, (w, _)) in rows.iter().enumerate() {
            if *w as usize != expected {
                let what = if (*w as usize) < expected { "appears twice" } else { "is missing" };
                let window = if (*w as usize) < expected { *w as usize } else { expected };
                return Err(not_scores(format!(
                    "{id}: window {window} {what}; each window must appear once"
                )));
            }
        }
        out.push((id, rows.into_iter().map(|(_, r)| r).collect()));
    }
    Ok(out)
}

/// Reads a safetensors file with one `<video>.scores` tensor `[N, 31]` per video (raw,
/// unmasked), videos in name order.
pub fn read_safetensors(path: &Path) -> Result<Vec<VideoScores>> {
    let not_scores = |detail: String| EvalError::NotScores { path: path.to_path_buf(), detail };
    let bytes = std::fs::read(path).map_err(io(path))?;
    let st = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| not_scores(e.to_string()))?;
    let mut names: Vec<String> = st.names().into_iter().map(String::from).collect();
    names.sort();
    let mut out = Vec::new();
    for name in names {
        let t = st.tensor(&name).map_err(|e| not_scores(e.to_string()))?;
        let video = name.strip_suffix(".scores").unwrap_or(&name).to_string();
        let shape = t.shape();
        if t.dtype() != safetensors::Dtype::F32 || shape.len() != 2 || shape[1] != CANDIDATES {
            let detail = format!("tensor {name} must be float32 [N, 31], found {:?} {shape:?}", t.dtype());
            return Err(not_scores(detail));
        }
        let vals: Vec<f32> =
            t.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        let rows = vals.chunks_exact(CANDIDATES).map(|c| c.try_into().expect("31 values")).collect();
        out.push((video, rows));
    }
    Ok(out)
}

/// Reads either format: Parquet (`.parquet`, from `evaluator run`) or safetensors.
pub fn read_any(path: &Path) -> Result<Vec<VideoScores>> {
    if path.extension().and_then(|e| e.to_str()) == Some("parquet") {
        read(path)
    } else {
        read_safetensors(path)
    }
}
