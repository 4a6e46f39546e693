//! `trainer plot`: figures from one or more run directories' `metrics.jsonl`, as SVG and PNG.
//! Runs named `<model>_s<seed>` are one model trained with several seeds
//! ([`manifests::split_seed`]): the curves show their mean per epoch, one line per model.
//! - `train_loss` and `val_f1`: the training curves, one line per model, per epoch;
//! - `weights_<run>`: the learned loss weights over the logged steps (runs with UW/AW weights);
//! - `loss_ratio`: Fig. 4 as small multiples — one panel per distillation measure (validation
//!   MTD, Last-MTD, FitNets; runs with a teacher), one line per model, each run's curve
//!   normalised by its maximum over the epochs (the paper's "loss ratio", SPEC §A) and then
//!   averaged over the model's seeds; the panels share their axes.

use std::path::{Path, PathBuf};

use plots::{LineChart, PlotError, Series, SmallMultiples};
use serde_json::Value;

use crate::loss::{pair_name, Block, LAYERS, PAIRS};
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

/// Runs grouped by model (`<model>_s<seed>` → `<model>`), in the order each model first appears.
fn by_model(runs: &[RunMetrics]) -> Vec<(String, Vec<&RunMetrics>)> {
    let mut groups: Vec<(String, Vec<&RunMetrics>)> = Vec::new();
    for r in runs {
        let model = manifests::split_seed(&r.name).0.to_string();
        match groups.iter_mut().find(|g| g.0 == model) {
            Some(g) => g.1.push(r),
            None => groups.push((model, vec![r])),
        }
    }
    groups
}

/// The mean over curves of the points at each x that every curve has (seeds of one model log
/// the same epochs; an epoch missing from one of them is left out rather than biased).
fn mean_curve(curves: &[Vec<(f64, f64)>]) -> Vec<(f64, f64)> {
    let Some(first) = curves.first() else { return Vec::new() };
    first
        .iter()
        .filter_map(|&(x, _)| {
            let ys: Vec<f64> =
                curves.iter().filter_map(|c| c.iter().find(|p| p.0 == x).map(|p| p.1)).collect();
            (ys.len() == curves.len()).then(|| (x, ys.iter().sum::<f64>() / ys.len() as f64))
        })
        .collect()
}

/// How many seeds the models' curves average, for the titles ("" when every model has one run).
fn over_seeds(models: &[(String, Vec<&RunMetrics>)]) -> String {
    match models.iter().map(|(_, r)| r.len()).max() {
        Some(n) if n > 1 => format!(", mean over {n} seeds"),
        _ => String::new(),
    }
}

/// `y / max(y)` over the curve (None when the maximum is not positive).
fn normalised(pts: Vec<(f64, f64)>) -> Option<Vec<(f64, f64)>> {
    let max = pts.iter().map(|p| p.1).filter(|v| v.is_finite()).fold(f64::NEG_INFINITY, f64::max);
    (max.is_finite() && max > 0.0).then(|| pts.iter().map(|&(x, y)| (x, y / max)).collect())
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
    let models = by_model(&runs);
    let per_model = |f: fn(&EpochLine) -> Option<f64>| -> Vec<Series> {
        models
            .iter()
            .map(|(model, rs)| {
                let curves: Vec<_> = rs.iter().map(|r| per_epoch(r, f)).collect();
                line(model.clone(), mean_curve(&curves))
            })
            .collect()
    };
    let over_seeds = over_seeds(&models);
    write(
        LineChart {
            title: format!("Training loss (mean over the epoch{over_seeds})"),
            x_label: "epoch".into(),
            y_label: "loss".into(),
            series: per_model(|e| Some(e.train_loss)),
            log_x: false,
        },
        "train_loss",
    )?;
    write(
        LineChart {
            title: format!("Validation weighted F1 (logit > 0.5{over_seeds})"),
            x_label: "epoch".into(),
            y_label: "F1".into(),
            series: per_model(|e| Some(e.val.f1)),
            log_x: false,
        },
        "val_f1",
    )?;
    let mut by_block = Vec::new();
    for r in &runs {
        let n = r.steps.iter().filter_map(|s| s["weights"].as_array().map(Vec::len)).max().unwrap_or(0);
        if n == 0 {
            continue;
        }
        let weight = |i: usize| -> Vec<(f64, f64)> {
            r.steps
                .iter()
                .filter_map(|s| Some((s["step"].as_f64()?, s["weights"].get(i)?.as_f64()?)))
                .collect()
        };
        if let Some(chart) = weight_panels(&r.name, n, weight) {
            by_block.push((chart, format!("weights_{}", r.name)));
            continue;
        }
        let names = weight_names(n);
        let series = (0..n).map(|i| line(names[i].clone(), weight(i))).collect();
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
    for (chart, stem) in by_block {
        if chart.panels.iter().any(|p| p.series.iter().any(|s| !s.points.is_empty())) {
            written.extend(chart.write(&out.join(stem))?);
        }
    }
    type Measure = fn(&Validation) -> Option<f64>;
    let measures: [(Measure, &str); 3] =
        [(|v| v.mtd, "MTD"), (|v| v.last_mtd, "Last-MTD"), (|v| v.fitnets, "FitNets")];
    let mut panels = Vec::new();
    for (measure, title) in measures {
        let mut series = Vec::new();
        for (i, (model, rs)) in models.iter().enumerate() {
            let curves: Option<Vec<_>> =
                rs.iter().map(|r| normalised(per_epoch(r, |e| measure(&e.val)))).collect();
            if let Some(curves) = curves {
                series.push(Series {
                    name: model.clone(),
                    points: mean_curve(&curves),
                    reference: false,
                    colour: Some(i),
                });
            }
        }
        panels.push(LineChart {
            title: format!("validation {title} loss"),
            x_label: "epoch".into(),
            y_label: "loss / its maximum".into(),
            series,
            log_x: false,
        });
    }
    if panels.iter().any(|p| p.series.iter().any(|s| !s.points.is_empty())) {
        let chart = SmallMultiples {
            title: format!("Validation loss ratio (Fig. 4){over_seeds}"),
            panels,
            columns: 3,
        };
        written.extend(chart.write(&out.join("loss_ratio"))?);
    }
    Ok(written)
}

/// The learned weights of UW/AW-13D (bce + one per (block, layer) pair) or 25D (bce + CAD and
/// VR per pair) as one panel per block (fusion, A→V, V→A) on shared axes: one line per layer (and
/// behaviour), coloured alike in every panel, and the BCE weight in each panel for scale. None for
/// other weight counts.
fn weight_panels(run: &str, n: usize, weight: impl Fn(usize) -> Vec<(f64, f64)>) -> Option<SmallMultiples> {
    let behaviours: &[&str] = if n == 1 + PAIRS {
        &[""]
    } else if n == 1 + 2 * PAIRS {
        &["CAD ", "VR "]
    } else {
        return None;
    };
    let panels = Block::ALL
        .iter()
        .enumerate()
        .map(|(b, block)| {
            let mut series = Vec::new();
            for (v, behaviour) in behaviours.iter().enumerate() {
                for layer in 0..LAYERS {
                    series.push(Series {
                        name: format!("{behaviour}layer {}", layer + 1),
                        points: weight(1 + v * PAIRS + b * LAYERS + layer),
                        reference: false,
                        colour: Some(v * LAYERS + layer),
                    });
                }
            }
            series.push(Series { name: "BCE".into(), points: weight(0), reference: true, colour: Some(8) });
            LineChart {
                title: format!(
                    "{} block ({}1–{}{})",
                    match block {
                        Block::Fus => "fusion",
                        Block::Av => "A→V",
                        Block::Va => "V→A",
                    },
                    block.figure_prefix(),
                    block.figure_prefix(),
                    LAYERS
                ),
                x_label: "iteration".into(),
                y_label: "weight".into(),
                series,
                log_x: false,
            }
        })
        .collect();
    Some(SmallMultiples { title: format!("Learned loss weights: {run}"), panels, columns: 3 })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_are_drawn_one_panel_per_block() {
        // Each weight's curve is its index, so a panel's lines name the weights they show.
        let curve = |i: usize| vec![(1.0, i as f64)];
        let uw25 = weight_panels("r", 1 + 2 * PAIRS, curve).expect("25 weights");
        assert_eq!(uw25.panels.len(), 3);
        let av = &uw25.panels[1];
        assert!(av.title.starts_with("A→V block"), "{}", av.title);
        let shown: Vec<(String, f64)> = av.series.iter().map(|s| (s.name.clone(), s.points[0].1)).collect();
        assert_eq!(shown[0], ("CAD layer 1".to_string(), 5.0)); // 1 + pair AV1 (4)
        assert_eq!(shown[7], ("VR layer 4".to_string(), 20.0)); // 1 + 12 + pair AV4 (7)
        assert_eq!(shown[8], ("BCE".to_string(), 0.0));
        let uw13 = weight_panels("r", 1 + PAIRS, curve).expect("13 weights");
        let va = &uw13.panels[2];
        assert_eq!(va.series.len(), 5);
        assert_eq!((va.series[3].name.as_str(), va.series[3].points[0].1), ("layer 4", 12.0));
        assert!(weight_panels("r", 7, curve).is_none());
    }
}
