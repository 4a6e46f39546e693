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

use crate::protocol::CANDIDATES;

/// One video's raw scores.
pub type VideoScores = (String, Vec<[f32; CANDIDATES]>);

fn schema() -> Arc<Schema> {
    let item = Arc::new(Field::new("item", DataType::Float32, false));
    Arc::new(Schema::new(vec![
        Field::new("utt_id", DataType::Utf8, false),
        Field::new("window", DataType::UInt32, false),
        Field::new("scores", DataType::FixedSizeList(item, CANDIDATES as i32), false),
    ]))
}

/// Writes all videos' scores to `path` atomically.
pub fn write(path: &Path, videos: &[VideoScores]) -> Result<(), String> {
    let ids: Vec<&str> = videos.iter().flat_map(|(id, r)| r.iter().map(move |_| id.as_str())).collect();
    let windows: Vec<u32> = videos.iter().flat_map(|(_, r)| 0..r.len() as u32).collect();
    let flat: Vec<f32> = videos.iter().flat_map(|(_, r)| r.iter().flatten().copied()).collect();
    let item = Arc::new(Field::new("item", DataType::Float32, false));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(ids)),
        Arc::new(UInt32Array::from(windows)),
        Arc::new(FixedSizeListArray::new(item, CANDIDATES as i32, Arc::new(Float32Array::from(flat)), None)),
    ];
    let batch = RecordBatch::try_new(schema(), columns).map_err(|e| e.to_string())?;
    let tmp = path.with_extension("parquet.tmp");
    let file = std::fs::File::create(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
    let mut w = ArrowWriter::try_new(file, schema(), None).map_err(|e| e.to_string())?;
    w.write(&batch).map_err(|e| e.to_string())?;
    w.close().map_err(|e| e.to_string())?;
    std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Reads scores written by [`write`], grouped by video in file order.
pub fn read(path: &Path) -> Result<Vec<VideoScores>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.build())
        .map_err(|e| format!("{}: not a scores file ({e})", path.display()))?;
    let mut out: Vec<VideoScores> = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| e.to_string())?;
        let bad = || format!("{}: unexpected columns (need utt_id, window, scores[31])", path.display());
        let ids = batch
            .column_by_name("utt_id")
            .and_then(|c| c.as_any().downcast_ref::<StringArray>())
            .ok_or_else(bad)?;
        let sc = batch
            .column_by_name("scores")
            .and_then(|c| c.as_any().downcast_ref::<FixedSizeListArray>())
            .ok_or_else(bad)?;
        let vals = sc.values().as_any().downcast_ref::<Float32Array>().ok_or_else(bad)?;
        for i in 0..batch.num_rows() {
            let row: [f32; CANDIDATES] =
                vals.values()[i * CANDIDATES..(i + 1) * CANDIDATES].try_into().expect("31 values");
            match out.last_mut() {
                Some((id, rows)) if id == ids.value(i) => rows.push(row),
                _ => out.push((ids.value(i).to_string(), vec![row])),
            }
        }
        if sc.len() != batch.num_rows() {
            return Err(bad());
        }
    }
    Ok(out)
}
