//! `trainer plot`: figures from one or more run directories' `metrics.jsonl`, as SVG and PNG:
//! - `train_loss` and `val_f1`: the training curves, one line per run, per epoch;
//! - `weights_<run>`: the learned loss weights over the logged steps (runs with UW/AW weights);
//! - `loss_ratio`: Fig. 4 — each run's validation MTD, Last-MTD and FitNets losses (runs with a
//!   teacher), each normalised by its maximum over the epochs (the paper's "loss ratio", SPEC §A).

use std::path::{Path, PathBuf};

use plots::{LineChart, PlotError, Series};
use serde_json::Value;

use crate::loss::{pair_name, PAIRS};
use crate::train::validate::{EpochLine, Validation};

/// Why the figures could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum FigureError {
    /// A run directory without a readable `metrics.jsonl`.
    #[error("{}: {source}; is this a run directory?", path.display())]
    Read {
        /// The metrics file.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// A line that is not the JSON a run writes.
    #[error("{}:{line}: {source}", path.display())]
    Parse {
        /// The metrics file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// Cause.
        source: serde_json::Error,
    },
    /// The output folder could not be created.
    #[error("{}: {source}", path.display())]
    Out {
        /// The folder.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// Drawing a chart failed.
    #[error(transparent)]
    Draw(#[from] PlotError),
}

/// The parsed metrics of one run.
pub struct RunMetrics {
    /// Label (the run directory's name).
    pub name: String,
    /// `epoch` lines.
    pub epochs: Vec<EpochLine>,
    /// `step` lines.
    pub steps: Vec<Value>,
}

/// Reads `run/metrics.jsonl`.
pub fn read_run(run: &Path) -> Result<RunMetrics, FigureError> {
    let path = run.join("metrics.jsonl");
    let text =
        std::fs::read_to_string(&path).map_err(|source| FigureError::Read { path: path.clone(), source })?;
    let mut epochs = Vec::new();
    let mut steps = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let parse = |source| FigureError::Parse { path: path.clone(), line: i + 1, source };
        let v: Value = serde_json::from_str(line).map_err(parse)?;
        match v["event"].as_str() {
            Some("epoch") => epochs.push(serde_json::from_value(v).map_err(parse)?),
            Some("step") => steps.push(v),
            _ => {}
        }
    }
    let name = run.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "run".into());
    Ok(RunMetrics { name, epochs, steps })
}

fn per_epoch(r: &RunMetrics, f: impl Fn(&EpochLine) -> Option<f64>) -> Vec<(f64, f64)> {
    let finite = |v: f64| v.is_finite().then_some(v);
    r.epochs.iter().filter_map(|e| Some((e.epoch as f64, finite(f(e)?)?))).collect()
}

/// Draws every figure for `runs` into `out`; returns the written files.
pub fn plot(runs: &[PathBuf], out: &Path) -> Result<Vec<PathBuf>, FigureError> {
    std::fs::create_dir_all(out).map_err(|source| FigureError::Out { path: out.to_path_buf(), source })?;
    let runs: Vec<RunMetrics> = runs.iter().map(|r| read_run(r)).collect::<Result<_, _>>()?;
    let mut written = Vec::new();
    let mut write = |chart: LineChart, stem: &str| -> Result<(), FigureError> {
        if chart.series.iter().all(|s| s.points.is_empty()) {
            return Ok(());
        }
        written.extend(chart.write(&out.join(stem))?);
        Ok(())
    };
    let line = |name: String, points| Series { name, points, reference: false, colour: None };
    write(
        LineChart {
            title: "Training loss (mean over the epoch)".into(),
            x_label: "epoch".into(),
            y_label: "loss".into(),
            series: runs.iter().map(|r| line(r.name.clone(), per_epoch(r, |e| Some(e.train_loss)))).collect(),
            log_x: false,
        },
        "train_loss",
    )?;
    write(
        LineChart {
            title: "Validation weighted F1 (logit > 0.5)".into(),
            x_label: "epoch".into(),
            y_label: "F1".into(),
            series: runs.iter().map(|r| line(r.name.clone(), per_epoch(r, |e| Some(e.val.f1)))).collect(),
            log_x: false,
        },
        "val_f1",
    )?;
    for r in &runs {
        let n = r.steps.iter().filter_map(|s| s["weights"].as_array().map(Vec::len)).max().unwrap_or(0);
        if n == 0 {
            continue;
        }
        let names = weight_names(n);
        let series = (0..n)
            .map(|i| {
                let pts = r
                    .steps
                    .iter()
                    .filter_map(|s| Some((s["step"].as_f64()?, s["weights"].get(i)?.as_f64()?)))
                    .collect();
                line(names[i].clone(), pts)
            })
            .collect();
        write(
            LineChart {
                title: format!("Learned loss weights: {}", r.name),
                x_label: "iteration".into(),
                y_label: "weight".into(),
                series,
                log_x: false,
            },
            &format!("weights_{}", r.name),
        )?;
    }
    let mut ratio = Vec::new();
    for r in &runs {
        type Measure = fn(&Validation) -> Option<f64>;
        let measures: [(Measure, &str); 3] =
            [(|v| v.mtd, "MTD"), (|v| v.last_mtd, "Last-MTD"), (|v| v.fitnets, "FitNets")];
        for (measure, label) in measures {
            let pts = per_epoch(r, |e| measure(&e.val));
            let max = pts.iter().map(|p| p.1).filter(|v| v.is_finite()).fold(f64::NEG_INFINITY, f64::max);
            if max.is_finite() && max > 0.0 {
                let scaled = pts.iter().map(|&(x, y)| (x, y / max)).collect();
                ratio.push(line(format!("{}: {label}", r.name), scaled));
            }
        }
    }
    write(
        LineChart {
            title: "Validation loss ratio (Fig. 4)".into(),
            x_label: "epoch".into(),
            y_label: "loss / its maximum".into(),
            series: ratio,
            log_x: false,
        },
        "loss_ratio",
    )?;
    Ok(written)
}

/// Names of the learned weights: `w_bce`, then per pair (`F1`, …) for 13, CAD and VR for 25/49.
pub fn weight_names(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| match i {
            0 => "bce".to_string(),
            i if i <= PAIRS && n == 1 + PAIRS => pair_name(i - 1),
            i if i <= PAIRS => format!("cad {}", pair_name(i - 1)),
            i if i <= 2 * PAIRS => format!("vr {}", pair_name(i - 1 - PAIRS)),
            i => format!("unused {i}"),
        })
        .collect()
}
