//! Issue #20 point 4: `tabulate` reads scores keyed by (utt_id, window). A reordered file gives
//! the same videos; a duplicate or missing window is an error naming the video, not a silently
//! different accuracy.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, FixedSizeListArray, Float32Array, RecordBatch, StringArray, UInt32Array};
use arrow::datatypes::{DataType, Field, Schema};
use evaluator::scores;

fn write_rows(path: &Path, rows: &[(&str, u32, f32)]) {
    let item = Arc::new(Field::new("item", DataType::Float32, false));
    let schema = Arc::new(Schema::new(vec![
        Field::new("utt_id", DataType::Utf8, false),
        Field::new("window", DataType::UInt32, false),
        Field::new("scores", DataType::FixedSizeList(item.clone(), 31), false),
    ]));
    let flat: Vec<f32> = rows.iter().flat_map(|r| (0..31).map(move |j| r.2 + j as f32)).collect();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(rows.iter().map(|r| r.0).collect::<Vec<_>>())),
        Arc::new(UInt32Array::from(rows.iter().map(|r| r.1).collect::<Vec<_>>())),
        Arc::new(FixedSizeListArray::new(item, 31, Arc::new(Float32Array::from(flat)), None)),
    ];
    let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
    let mut w =
        parquet::arrow::ArrowWriter::try_new(std::fs::File::create(path).unwrap(), schema, None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

#[test]
fn rows_are_placed_by_utt_and_window_and_holes_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("scores.parquet");
    let in_order = [("a", 0, 0.0), ("a", 1, 100.0), ("a", 2, 200.0), ("b", 0, 1000.0), ("b", 1, 1100.0)];
    write_rows(&p, &in_order);
    let want = scores::read(&p).unwrap();
    assert_eq!(want.iter().map(|(id, r)| (id.as_str(), r.len())).collect::<Vec<_>>(), [("a", 3), ("b", 2)]);
    assert_eq!(want[0].1[2][0], 200.0);

    let shuffled = [("b", 1, 1100.0), ("a", 2, 200.0), ("a", 0, 0.0), ("b", 0, 1000.0), ("a", 1, 100.0)];
    write_rows(&p, &shuffled);
    let got = scores::read(&p).unwrap();
    let by_id = |v: &[scores::VideoScores], id: &str| v.iter().find(|(i, _)| i == id).unwrap().1.clone();
    assert_eq!(got.len(), 2, "a reordered file is still two videos");
    for id in ["a", "b"] {
        assert_eq!(by_id(&got, id), by_id(&want, id), "{id}");
    }

    write_rows(&p, &[("a", 0, 0.0), ("a", 1, 1.0), ("a", 0, 2.0)]);
    let e = scores::read(&p).unwrap_err().to_string();
    assert!(e.contains("a: window 0 appears twice"), "{e}");
    write_rows(&p, &[("a", 0, 0.0), ("a", 2, 1.0)]);
    let e = scores::read(&p).unwrap_err().to_string();
    assert!(e.contains("a: window 1 is missing"), "{e}");
}
