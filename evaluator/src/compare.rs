//! `evaluator compare`: Table 1 (one row per model: parameters and accuracy for K = 5..15) as
//! Markdown, CSV and JSON, and Fig. 2 (model size vs accuracy) as SVG and PNG, from `evaluator
//! run` results directories. Directories named `<model>_s<seed>` are one model trained with
//! several seeds: its row is the mean ± sample standard deviation over them, and the CSV/JSON keep
//! each seed's figures too. The published rows of SPEC §6.8 can be added, always marked as
//! published figures.

use std::path::{Path, PathBuf};

use manifests::split_seed;
use plots::{Point, PointChart, PointSeries};
use serde_json::Value;

use crate::error::{io, EvalError, Result};
use crate::protocol::CONTEXTS;

/// Accuracy in % for each K in [`CONTEXTS`] (None where absent).
pub type Accuracy = [Option<f64>; CONTEXTS.len()];

/// One measured run of a model: its results directory's name, seed and accuracy.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedRun {
    /// The results directory's name.
    pub run: String,
    /// The seed its name carries (`_s<seed>`), None for a model trained once.
    pub seed: Option<u64>,
    /// Accuracy in %.
    pub acc: Accuracy,
}

/// One row of the comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Model label (the results directory's name without its `_s<seed>`, or the published name).
    pub name: String,
    /// Trainable parameters.
    pub parameters: usize,
    /// Accuracy in %: the mean over [`Row::runs`] for measured rows.
    pub acc: Accuracy,
    /// Sample standard deviation over the runs (n − 1; None for a single run or published rows).
    pub std: Accuracy,
    /// The measured runs (empty for published rows).
    pub runs: Vec<SeedRun>,
    /// A published figure, not measured here.
    pub published: bool,
}

impl Row {
    /// A row from measured runs: mean and sample standard deviation per K.
    pub fn from_runs(name: String, parameters: usize, runs: Vec<SeedRun>) -> Row {
        let mut acc = [None; CONTEXTS.len()];
        let mut std = [None; CONTEXTS.len()];
        for k in 0..CONTEXTS.len() {
            let v: Vec<f64> = runs.iter().filter_map(|r| r.acc[k]).collect();
            if v.is_empty() {
                continue;
            }
            let n = v.len() as f64;
            let mean = v.iter().sum::<f64>() / n;
            acc[k] = Some(mean);
            if v.len() > 1 {
                std[k] = Some((v.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt());
            }
        }
        Row { name, parameters, acc, std, runs, published: false }
    }
}

/// The published LRS2 rows (SPEC §6.8: `MTD:test_stu.py:L278-281`, VocaLiST's table, and the two
/// evaluation logs), accuracy in %.
pub fn published() -> Vec<Row> {
    let r = |name: &str, parameters: usize, a: [f64; 6]| Row {
        name: format!("{name} (published, LRS2)"),
        parameters,
        acc: a.map(Some),
        std: [None; CONTEXTS.len()],
        runs: Vec::new(),
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

/// Reads one results directory (`accuracy.json` + `provenance.json`): its name, parameters and
/// accuracy in %.
pub fn read_results(dir: &Path) -> Result<(String, usize, Accuracy)> {
    let read = |f: &str| -> Result<Value> {
        let path = dir.join(f);
        let text = std::fs::read_to_string(&path)
            .map_err(|source| EvalError::ResultsUnreadable { path: path.clone(), source })?;
        serde_json::from_str(&text).map_err(|source| EvalError::Json { path, source })
    };
    let acc = read("accuracy.json")?;
    let prov = read("provenance.json")?;
    let means = acc["macro_mean"]
        .as_array()
        .filter(|a| a.len() == CONTEXTS.len())
        .ok_or_else(|| EvalError::NoMacroMean { path: dir.join("accuracy.json"), count: CONTEXTS.len() })?;
    let mut out = [None; CONTEXTS.len()];
    for (o, v) in out.iter_mut().zip(means) {
        *o = v.as_f64().map(|a| 100.0 * a);
    }
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "model".into());
    let parameters = prov["parameters"].as_u64().unwrap_or(0) as usize;
    Ok((name, parameters, out))
}

/// Groups results directories into rows: `<model>_s<seed>` directories of one model form one row
/// (in the order each model first appears); a model's seeds must agree on its parameter count.
pub fn read_rows(dirs: &[PathBuf]) -> Result<Vec<Row>> {
    let mut groups: Vec<(String, usize, Vec<SeedRun>)> = Vec::new();
    for dir in dirs {
        let (run, parameters, acc) = read_results(dir)?;
        let (model, seed) = split_seed(&run);
        let model = model.to_string();
        let entry = SeedRun { run: run.clone(), seed, acc };
        match groups.iter_mut().find(|g| g.0 == model) {
            Some(g) if g.1 != parameters => {
                let (path, other) = (dir.clone(), g.1);
                return Err(EvalError::SizeMismatch { path, run, model, parameters, other });
            }
            Some(g) if g.2.iter().any(|r| r.run == run) => {
                return Err(EvalError::GivenTwice { path: dir.clone(), run });
            }
            Some(g) => g.2.push(entry),
            None => groups.push((model, parameters, vec![entry])),
        }
    }
    Ok(groups.into_iter().map(|(name, parameters, runs)| Row::from_runs(name, parameters, runs)).collect())
}

fn header() -> String {
    CONTEXTS.iter().map(|k| format!("K{k}")).collect::<Vec<_>>().join(" | ")
}

fn cell(a: Option<f64>, std: Option<f64>) -> String {
    match (a, std) {
        (Some(v), Some(s)) => format!("{v:.2} ± {s:.2}"),
        (Some(v), None) => format!("{v:.2}"),
        _ => String::new(),
    }
}

/// How many seeds a row has, for the table ("3", "1", or "" for published rows).
fn seeds(r: &Row) -> String {
    if r.published {
        String::new()
    } else {
        r.runs.len().to_string()
    }
}

/// Table 1 as Markdown (accuracy in %, two decimals; mean ± std over seeds where a model has
/// several), followed by [`summary`] when some model has several seeds.
pub fn to_markdown(rows: &[Row]) -> String {
    let mut s = format!(
        "| model | parameters | seeds | {} |\n|---|---:|---:|{}\n",
        header(),
        "---:|".repeat(CONTEXTS.len())
    );
    for r in rows {
        let name = if r.published { format!("*{}*", r.name) } else { r.name.clone() };
        let cells: Vec<String> = r.acc.iter().zip(r.std).map(|(&a, sd)| cell(a, sd)).collect();
        s.push_str(&format!(
            "| {name} | {} | {} | {} |\n",
            format_parameters(r.parameters),
            seeds(r),
            cells.join(" | ")
        ));
    }
    let several = rows.iter().any(|r| r.runs.len() > 1);
    if several {
        s.push_str("\n*Measured rows: mean ± sample standard deviation over the seeds (per-seed figures in table1.csv/.json).*");
    }
    if rows.iter().any(|r| r.published) {
        s.push('\n');
        s.push_str("*Italic rows are published LRS2 figures (SPEC §6.8), not measured by this run.*\n");
    } else if several {
        s.push('\n');
    }
    if several {
        s.push('\n');
        s.push_str(&summary(rows));
    }
    s
}

/// Parameters as the table shows them: millions with two decimals, or thousands below 0.1M.
fn format_parameters(p: usize) -> String {
    if p >= 100_000 {
        format!("{:.2}M", p as f64 / 1e6)
    } else {
        format!("{:.1}k", p as f64 / 1e3)
    }
}

/// The rows a statement compares: a measured model with several seeds.
fn seeded(rows: &[Row]) -> Vec<&Row> {
    rows.iter().filter(|r| !r.published && r.runs.len() > 1).collect()
}

/// A short paragraph on which differences between the seeded models are larger than the seed
/// spread. Two models differ beyond their spread at a context K when their means are further
/// apart than the sum of their standard deviations (their mean ± std intervals do not overlap).
/// Pairs are sorted by that test at the longest context (K15), and each line names every K where
/// it holds. Every model is compared with the first seeded one (the BCE student, trained without
/// distillation, in `make reproduce`), and the best model at the longest context with each other.
pub fn summary(rows: &[Row]) -> String {
    let models = seeded(rows);
    let (Some(base), true) = (models.first(), models.len() > 1) else {
        return String::new();
    };
    let n = base.runs.len();
    let last = CONTEXTS.len() - 1;
    // (line, beyond the spread at the longest context)
    let verdict = |a: &Row, b: &Row| -> Option<(String, bool)> {
        let (ma, mb) = (a.acc[last]?, b.acc[last]?);
        let spread = a.std[last].unwrap_or(0.0) + b.std[last].unwrap_or(0.0);
        let beyond: Vec<String> = (0..CONTEXTS.len())
            .filter(|&k| match (a.acc[k], b.acc[k]) {
                (Some(x), Some(y)) => (x - y).abs() > a.std[k].unwrap_or(0.0) + b.std[k].unwrap_or(0.0),
                _ => false,
            })
            .map(|k| format!("K{}", CONTEXTS[k]))
            .collect();
        let at = if beyond.is_empty() {
            "within the spread at every K".to_string()
        } else if beyond.len() == CONTEXTS.len() {
            "beyond the spread at every K".to_string()
        } else {
            format!("beyond the spread at {}", beyond.join(", "))
        };
        let line = format!(
            "{} − {}: {:+.1} points at K{} (spread {spread:.1}); {at}",
            a.name,
            b.name,
            ma - mb,
            CONTEXTS[last]
        );
        Some((line, (ma - mb).abs() > spread))
    };
    let mut larger = Vec::new();
    let mut within = Vec::new();
    let mut place = |a: &Row, b: &Row| {
        if let Some((line, beyond)) = verdict(a, b) {
            if beyond {
                larger.push(line);
            } else {
                within.push(line);
            }
        }
    };
    for m in &models[1..] {
        place(m, base);
    }
    let best = models.iter().filter(|m| m.acc[last].is_some()).max_by(|a, b| {
        a.acc[last].unwrap_or(f64::NEG_INFINITY).total_cmp(&b.acc[last].unwrap_or(f64::NEG_INFINITY))
    });
    if let Some(best) = best {
        for m in models.iter().filter(|m| m.name != best.name && m.name != base.name) {
            place(best, m);
        }
    }
    let mut s = format!(
        "**Seed spread.** With {n} seeds per model, a difference counts as larger than the seed \
         spread when the two means are further apart than the sum of the two standard deviations \
         (their mean ± std intervals do not overlap). Each model is compared with {} (no \
         distillation), and the best model at K{} ({}) with the others; the lists sort the pairs \
         at K{}, and each line names the contexts where the difference is beyond the spread.\n\n",
        base.name,
        CONTEXTS[last],
        best.map(|b| b.name.as_str()).unwrap_or("none"),
        CONTEXTS[last],
    );
    let list = |title: &str, items: &[String]| -> String {
        if items.is_empty() {
            format!("- {title}: none.\n")
        } else {
            format!("- {title}:\n{}", items.iter().map(|l| format!("  - {l}\n")).collect::<String>())
        }
    };
    s.push_str(&list(&format!("Larger than the seed spread at K{}", CONTEXTS[last]), &larger));
    s.push_str(&list(
        &format!("Within the seed spread at K{} (not distinguishable with these seeds)", CONTEXTS[last]),
        &within,
    ));
    s
}

/// Table 1 as CSV: one line per seed of each measured model (`row` = `seed`), its `mean` and
/// `std` lines (for models with several seeds), and the published rows (`row` = `published`).
pub fn to_csv(rows: &[Row]) -> String {
    let mut s = String::from("model,row,run,seed,parameters,published");
    for k in CONTEXTS {
        s.push_str(&format!(",K{k}"));
    }
    s.push('\n');
    let mut line = |model: &str, row: &str, run: &str, seed: Option<u64>, r: &Row, acc: &Accuracy| {
        s.push_str(&format!(
            "{},{row},{},{},{},{}",
            model.replace(',', ";"),
            run.replace(',', ";"),
            seed.map(|v| v.to_string()).unwrap_or_default(),
            r.parameters,
            r.published
        ));
        for a in acc {
            s.push(',');
            s.push_str(&a.map(|v| v.to_string()).unwrap_or_default());
        }
        s.push('\n');
    };
    for r in rows {
        if r.published {
            line(&r.name, "published", "", None, r, &r.acc);
            continue;
        }
        for run in &r.runs {
            line(&r.name, "seed", &run.run, run.seed, r, &run.acc);
        }
        if r.runs.len() > 1 {
            line(&r.name, "mean", "", None, r, &r.acc);
            line(&r.name, "std", "", None, r, &r.std);
        }
    }
    s
}

fn by_k(acc: &Accuracy) -> serde_json::Map<String, Value> {
    CONTEXTS.iter().zip(acc).map(|(k, a)| (format!("K{k}"), serde_json::json!(a))).collect()
}

/// Table 1 as JSON: `{"contexts": [5, …, 15], "rows": [{"model", "parameters", "published",
/// "seeds": n, "accuracy_percent": {"K5": mean, …}, "std_percent": {…}, "runs": [{"run", "seed",
/// "accuracy_percent"}]}]}` (absent figures are null).
pub fn to_json(rows: &[Row]) -> String {
    let rows: Vec<Value> = rows
        .iter()
        .map(|r| {
            let runs: Vec<Value> = r
                .runs
                .iter()
                .map(|run| serde_json::json!({"run": run.run, "seed": run.seed, "accuracy_percent": by_k(&run.acc)}))
                .collect();
            serde_json::json!({
                "model": r.name,
                "parameters": r.parameters,
                "published": r.published,
                "seeds": r.runs.len(),
                "accuracy_percent": by_k(&r.acc),
                "std_percent": by_k(&r.std),
                "runs": runs,
            })
        })
        .collect();
    let doc = serde_json::json!({"contexts": CONTEXTS, "rows": rows});
    serde_json::to_string_pretty(&doc).expect("json serialises") + "\n"
}

/// Fig. 2: parameters (log scale) vs accuracy at the shortest and the longest context, one panel
/// each. Measured models are coloured dots at their real sizes with mean ± std error bars; models
/// of the same size (the students) are spread sideways around it so each stays visible.
/// Published rows are hollow black markers, one shape per model, named in the legend.
pub fn figure(rows: &[Row]) -> PointChart {
    let measured: Vec<&Row> = rows.iter().filter(|r| !r.published).collect();
    let ks = [0, CONTEXTS.len() - 1];
    let mut panels = Vec::new();
    for &k in &ks {
        let mut series = Vec::new();
        for (i, r) in measured.iter().enumerate() {
            let same: Vec<&&Row> = measured.iter().filter(|m| m.parameters == r.parameters).collect();
            let j = same.iter().position(|m| m.name == r.name).unwrap_or(0) as f64;
            let dodge = (0.08 * (j - (same.len() as f64 - 1.0) / 2.0)).exp();
            let point = r.acc[k].map(|y| Point { x: r.parameters as f64 / 1e6 * dodge, y, err: r.std[k] });
            series.push(PointSeries {
                name: r.name.clone(),
                points: point.into_iter().collect(),
                reference: false,
                colour: Some(i),
            });
        }
        for r in rows.iter().filter(|r| r.published) {
            let point = r.acc[k].map(|y| Point { x: r.parameters as f64 / 1e6, y, err: None });
            series.push(PointSeries {
                name: r.name.clone(),
                points: point.into_iter().collect(),
                reference: true,
                colour: None,
            });
        }
        panels.push((format!("K = {} frames", CONTEXTS[k]), series));
    }
    let n = measured.iter().map(|r| r.runs.len()).max().unwrap_or(0);
    let mut note = Vec::new();
    if n > 1 {
        note.push(format!("dots: mean over {n} seeds;"));
        note.push("bars: ± one standard deviation.".into());
    }
    if measured.iter().any(|r| measured.iter().any(|m| m.name != r.name && m.parameters == r.parameters)) {
        note.push("Models of the same size are spread".into());
        note.push("sideways around it to stay visible.".into());
    }
    if rows.iter().any(|r| r.published) {
        note.push("Hollow black markers: published LRS2".into());
        note.push("figures, not measured by this run.".into());
    }
    PointChart {
        title: "Model size vs sync accuracy (Fig. 2)".into(),
        x_label: "parameters (millions, log scale)".into(),
        y_label: "accuracy (%)".into(),
        log_x: true,
        panels,
        note,
        y_limits: Some((0.0, 100.0)),
    }
}

/// Reads `dirs`, adds the published rows when asked, writes `table1.{md,csv,json}` and
/// `fig2_size_vs_accuracy.{svg,png}` into `out`; returns the rows.
pub fn compare(dirs: &[PathBuf], with_published: bool, out: &Path) -> Result<Vec<Row>> {
    let mut rows = read_rows(dirs)?;
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

    fn run(name: &str, seed: u64, k5: f64, k15: f64) -> SeedRun {
        SeedRun {
            run: format!("{name}_s{seed}"),
            seed: Some(seed),
            acc: [Some(k5), None, None, None, None, Some(k15)],
        }
    }

    #[test]
    fn seeds_group_into_mean_and_std() {
        let row = Row::from_runs(
            "m".into(),
            10,
            vec![run("m", 1, 10.0, 40.0), run("m", 2, 20.0, 50.0), run("m", 3, 30.0, 60.0)],
        );
        assert_eq!(row.acc[0], Some(20.0));
        assert_eq!(row.std[0], Some(10.0)); // sample std (n − 1) of 10, 20, 30
        assert_eq!(row.acc[1], None);
        let single = Row::from_runs("t".into(), 10, vec![run("t", 1, 10.0, 40.0)]);
        assert_eq!((single.acc[0], single.std[0]), (Some(10.0), None));
    }

    #[test]
    fn tables_mark_published_rows_and_keep_every_seed() {
        let base = Row::from_runs(
            "student_bce".into(),
            84_121,
            vec![
                run("student_bce", 1, 10.0, 15.0),
                run("student_bce", 2, 12.0, 17.0),
                run("student_bce", 3, 11.0, 16.0),
            ],
        );
        let mtd = Row::from_runs(
            "student_mtd".into(),
            84_121,
            vec![
                run("student_mtd", 1, 20.0, 40.0),
                run("student_mtd", 2, 22.0, 44.0),
                run("student_mtd", 3, 21.0, 42.0),
            ],
        );
        let kd = Row::from_runs(
            "student_kd".into(),
            84_121,
            vec![
                run("student_kd", 1, 5.0, 10.0),
                run("student_kd", 2, 15.0, 30.0),
                run("student_kd", 3, 10.0, 20.0),
            ],
        );
        let teacher = Row::from_runs(
            "teacher".into(),
            440_553,
            vec![SeedRun { run: "teacher".into(), seed: None, acc: [Some(50.0); 6] }],
        );
        let mut rows = vec![teacher, base, mtd, kd];
        rows.extend(published());
        let md = to_markdown(&rows);
        assert!(md.contains("| teacher | 0.44M | 1 | 50.00 |"), "{md}");
        assert!(md.contains("| student_mtd | 84.1k | 3 | 21.00 ± 1.00 |"), "{md}");
        assert!(md.contains("*MTDVocaLiST (published, LRS2)* | 13.28M |  | 91.46"));
        assert!(md.contains("not measured by this run"));
        // MTD − BCE: +10 at K5 (spread 2), +26 at K15 (spread 3): beyond at both. KD − BCE: +4 at
        // K15 within a spread of 11; MTD − KD: +22 at K15 beyond a spread of 12.
        let para = summary(&rows);
        let want =
            "student_mtd − student_bce: +26.0 points at K15 (spread 3.0); beyond the spread at K5, K15";
        assert!(para.contains(want), "{para}");
        let (larger, within) = para.split_once("- Within").unwrap();
        assert!(
            larger.contains("student_mtd − student_bce") && larger.contains("student_mtd − student_kd"),
            "{para}"
        );
        let want = "student_kd − student_bce: +4.0 points at K15 (spread 11.0); within the spread at every K";
        assert!(within.contains(want), "{para}");
        let csv = to_csv(&rows);
        assert!(csv.starts_with("model,row,run,seed,parameters,published,K5,K7,K9,K11,K13,K15\n"));
        assert!(csv.contains("student_mtd,seed,student_mtd_s2,2,84121,false,22,,,,,44\n"), "{csv}");
        assert!(csv.contains("student_mtd,mean,,,84121,false,21,,,,,42\n"), "{csv}");
        assert!(csv.contains("student_mtd,std,,,84121,false,1,,,,,2\n"), "{csv}");
        assert!(csv.contains("teacher,seed,teacher,,440553,false,50,"), "{csv}");
        let json: Value = serde_json::from_str(&to_json(&rows)).unwrap();
        assert_eq!(json["contexts"][0], 5);
        assert_eq!(json["rows"][2]["seeds"], 3);
        assert_eq!(json["rows"][2]["std_percent"]["K15"], 2.0);
        assert_eq!(json["rows"][2]["runs"][1]["seed"], 2);
        assert_eq!(json["rows"][4]["published"], true);
        let fig = figure(&rows);
        assert_eq!(fig.panels.len(), 2);
        let k15 = &fig.panels[1].1;
        assert_eq!(k15.iter().filter(|s| s.reference).count(), 5);
        let mtd_point = k15[2].points[0];
        assert_eq!((mtd_point.y, mtd_point.err), (42.0, Some(2.0)));
        // Students share a size: spread sideways, teacher at its own size.
        assert!(k15[1].points[0].x < k15[2].points[0].x && k15[2].points[0].x < k15[3].points[0].x);
        assert_eq!(k15[0].points[0].x, 0.440553);
    }
}
