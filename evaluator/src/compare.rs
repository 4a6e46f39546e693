//! `evaluator compare`: Table 1 (one row per model: parameters and accuracy for K = 5..15) as
//! Markdown and CSV, and Fig. 2 (model size vs accuracy, one line per K) as SVG and PNG, from
//! `evaluator run` results directories. The published rows of SPEC §6.8 can be added, always
//! marked as published figures.

use std::path::{Path, PathBuf};

use plots::{LineChart, Series};
use serde_json::Value;

use crate::error::{io, EvalError, Result};
use crate::protocol::CONTEXTS;

/// One row of the comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Model label (the results directory's name, or the published name).
    pub name: String,
    /// Trainable parameters.
    pub parameters: usize,
    /// Accuracy in % for each K in [`CONTEXTS`] (None where not published).
    pub acc: [Option<f64>; CONTEXTS.len()],
    /// A published figure, not measured here.
    pub published: bool,
}

/// The published LRS2 rows (SPEC §6.8: `MTD:test_stu.py:L278-281`, VocaLiST's table, and the two
/// evaluation logs), accuracy in %.
pub fn published() -> Vec<Row> {
    let r = |name: &str, parameters: usize, a: [f64; 6]| Row {
        name: format!("{name} (published, LRS2)"),
        parameters,
        acc: a.map(Some),
        published: true,
    };
    vec![
        r("SyncNet", 13_600_000, [75.8, 82.3, 87.6, 91.8, 94.5, 96.1]),
        r("PM", 13_600_000, [88.1, 93.8, 96.4, 97.9, 98.7, 99.1]),
        r("AVST", 42_400_000, [92.0, 95.5, 97.7, 98.8, 99.3, 99.6]),
        r("VocaLiST", 80_106_561, [92.8, 96.7, 98.4, 99.3, 99.6, 99.8]),
        r("MTDVocaLiST", 13_280_961, [91.46, 95.74, 97.99, 98.95, 99.46, 99.68]),
    ]
}

/// Reads one results directory (`accuracy.json` + `provenance.json`).
pub fn read_results(dir: &Path) -> Result<Row> {
    let read = |f: &str| -> Result<Value> {
        let path = dir.join(f);
        let text = std::fs::read_to_string(&path).map_err(|e| EvalError::Results {
            path: path.clone(),
            detail: format!("{e}; is this an `evaluator run` results directory?"),
        })?;
        serde_json::from_str(&text).map_err(|e| EvalError::Results { path, detail: e.to_string() })
    };
    let acc = read("accuracy.json")?;
    let prov = read("provenance.json")?;
    let means = acc["macro_mean"].as_array().filter(|a| a.len() == CONTEXTS.len()).ok_or_else(|| {
        let detail = format!("no macro_mean of {} values", CONTEXTS.len());
        EvalError::Results { path: dir.join("accuracy.json"), detail }
    })?;
    let mut out = [None; CONTEXTS.len()];
    for (o, v) in out.iter_mut().zip(means) {
        *o = v.as_f64().map(|a| 100.0 * a);
    }
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "model".into());
    let parameters = prov["parameters"].as_u64().unwrap_or(0) as usize;
    Ok(Row { name, parameters, acc: out, published: false })
}

fn header() -> String {
    CONTEXTS.iter().map(|k| format!("K{k}")).collect::<Vec<_>>().join(" | ")
}

fn cell(a: Option<f64>) -> String {
    a.map(|v| format!("{v:.2}")).unwrap_or_default()
}

/// Table 1 as Markdown (accuracy in %, two decimals).
pub fn to_markdown(rows: &[Row]) -> String {
    let mut s =
        format!("| model | parameters | {} |\n|---|---:|{}\n", header(), "---:|".repeat(CONTEXTS.len()));
    for r in rows {
        let name = if r.published { format!("*{}*", r.name) } else { r.name.clone() };
        let cells: Vec<String> = r.acc.iter().map(|&a| cell(a)).collect();
        s.push_str(&format!("| {name} | {:.2}M | {} |\n", r.parameters as f64 / 1e6, cells.join(" | ")));
    }
    if rows.iter().any(|r| r.published) {
        s.push_str("\n*Italic rows are published LRS2 figures (SPEC §6.8), not measured by this run.*\n");
    }
    s
}

/// Table 1 as CSV.
pub fn to_csv(rows: &[Row]) -> String {
    let mut s = String::from("model,parameters,published");
    for k in CONTEXTS {
        s.push_str(&format!(",K{k}"));
    }
    s.push('\n');
    for r in rows {
        s.push_str(&format!("{},{},{}", r.name.replace(',', ";"), r.parameters, r.published));
        for a in r.acc {
            s.push(',');
            s.push_str(&a.map(|v| v.to_string()).unwrap_or_default());
        }
        s.push('\n');
    }
    s
}

/// Table 1 as JSON: `{"contexts": [5, …, 15], "rows": [{"model", "parameters", "published",
/// "accuracy_percent": {"K5": …}}]}` (absent figures are null).
pub fn to_json(rows: &[Row]) -> String {
    let rows: Vec<Value> = rows
        .iter()
        .map(|r| {
            let acc: serde_json::Map<String, Value> =
                CONTEXTS.iter().zip(r.acc).map(|(k, a)| (format!("K{k}"), serde_json::json!(a))).collect();
            serde_json::json!({
                "model": r.name,
                "parameters": r.parameters,
                "published": r.published,
                "accuracy_percent": acc,
            })
        })
        .collect();
    let doc = serde_json::json!({"contexts": CONTEXTS, "rows": rows});
    serde_json::to_string_pretty(&doc).expect("json serialises") + "\n"
}

/// Fig. 2: parameters (log scale) vs accuracy, one line per K through the measured models sorted
/// by size; published rows as separate, marked lines.
pub fn figure(rows: &[Row]) -> LineChart {
    let mut series = Vec::new();
    for published in [false, true] {
        let mut sel: Vec<&Row> = rows.iter().filter(|r| r.published == published).collect();
        sel.sort_by_key(|r| r.parameters);
        if sel.is_empty() {
            continue;
        }
        for (i, k) in CONTEXTS.iter().enumerate() {
            let points: Vec<(f64, f64)> =
                sel.iter().filter_map(|r| Some((r.parameters as f64 / 1e6, r.acc[i]?))).collect();
            let name = if published { format!("K={k} (published)") } else { format!("K={k}") };
            series.push(Series { name, points, reference: published, colour: Some(i) });
        }
    }
    LineChart {
        title: "Model size vs sync accuracy (Fig. 2)".into(),
        x_label: "parameters (millions, log scale)".into(),
        y_label: "accuracy (%)".into(),
        series,
        log_x: true,
    }
}

/// Reads `dirs`, adds the published rows when asked, writes `table1.{md,csv,json}` and
/// `fig2_size_vs_accuracy.{svg,png}` into `out`; returns the rows.
pub fn compare(dirs: &[PathBuf], with_published: bool, out: &Path) -> Result<Vec<Row>> {
    let mut rows: Vec<Row> = dirs.iter().map(|d| read_results(d)).collect::<Result<_, _>>()?;
    if with_published {
        rows.extend(published());
    }
    std::fs::create_dir_all(out).map_err(io(out))?;
    let tables =
        [("table1.md", to_markdown(&rows)), ("table1.csv", to_csv(&rows)), ("table1.json", to_json(&rows))];
    for (name, body) in tables {
        manifests::atomic_write(&out.join(name), body.as_bytes())?;
    }
    figure(&rows).write(&out.join("fig2_size_vs_accuracy"))?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_mark_published_rows() {
        let mine =
            Row { name: "student".into(), parameters: 100_000, acc: [Some(50.0); 6], published: false };
        let mut rows = vec![mine];
        rows.extend(published());
        let md = to_markdown(&rows);
        assert!(md.contains("| student | 0.10M | 50.00 |"));
        assert!(md.contains("*MTDVocaLiST (published, LRS2)* | 13.28M | 91.46"));
        assert!(md.contains("not measured by this run"));
        let csv = to_csv(&rows);
        assert!(csv.starts_with("model,parameters,published,K5,K7,K9,K11,K13,K15\n"));
        assert!(csv.contains("student,100000,false,50,"));
        let json: Value = serde_json::from_str(&to_json(&rows)).unwrap();
        assert_eq!(json["contexts"][0], 5);
        assert_eq!(json["rows"][0]["accuracy_percent"]["K15"], 50.0);
        assert_eq!(json["rows"][1]["published"], true);
        let fig = figure(&rows);
        assert_eq!(fig.series.len(), 12);
        assert!(fig.series[6].reference && fig.series[6].name.contains("published"));
    }
}
