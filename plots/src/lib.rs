//! Charts for the toolkit's figures, written as SVG and PNG with plotters: line charts
//! (training curves, learned weights), small multiples of line charts sharing their axes
//! ([`SmallMultiples`]: Fig. 4's loss ratios, one panel per measure) and point charts with error
//! bars ([`PointChart`]: Fig. 2's size vs accuracy, measured and published points in distinct
//! styles).
//!
//! Text is drawn with DejaVu Sans, vendored in `assets/` (its licence is beside it), so PNGs look
//! the same on every machine and nothing depends on system fonts.

use std::path::{Path, PathBuf};
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;

mod panels;
mod points;

pub use panels::SmallMultiples;
pub use points::{Point, PointChart, PointSeries};

const FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
static REGISTER: Once = Once::new();

/// Why a chart could not be written.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// Nothing to draw.
    #[error("{0}: no finite data points to plot")]
    Empty(PathBuf),
    /// The backend failed.
    #[error("{path}: cannot draw the chart: {detail}")]
    Draw {
        /// Output.
        path: PathBuf,
        /// Cause.
        detail: String,
    },
}

/// One line.
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend label.
    pub name: String,
    /// (x, y) points in order; non-finite points are skipped.
    pub points: Vec<(f64, f64)>,
    /// Drawn thin with cross markers, for reference data such as published figures.
    pub reference: bool,
    /// Palette index (default: the series' position), so related lines can share a colour.
    pub colour: Option<usize>,
}

/// A chart: title, axis labels, lines.
#[derive(Debug, Clone, Default)]
pub struct LineChart {
    /// Title.
    pub title: String,
    /// X axis label.
    pub x_label: String,
    /// Y axis label.
    pub y_label: String,
    /// Lines.
    pub series: Vec<Series>,
    /// Logarithmic x axis (model sizes).
    pub log_x: bool,
}

/// Registers the vendored font once (before any drawing).
fn register_font() {
    REGISTER.call_once(|| {
        if plotters::style::register_font("sans-serif", FontStyle::Normal, FONT).is_err() {
            unreachable!("the vendored DejaVu Sans parses");
        }
    });
}

/// A chart that draws itself on any plotters backend.
pub(crate) trait Figure {
    /// Draws the whole figure into `root` (`path` names the output in errors).
    fn render<DB: DrawingBackend>(&self, root: DrawingArea<DB, Shift>, path: &Path) -> Result<(), PlotError>;
}

/// Writes `fig` as `<stem>.svg` and `<stem>.png` of `size` pixels; returns both paths.
pub(crate) fn write_figure(
    fig: &impl Figure,
    stem: &Path,
    size: (u32, u32),
) -> Result<[PathBuf; 2], PlotError> {
    register_font();
    let svg = stem.with_extension("svg");
    let png = stem.with_extension("png");
    fig.render(SVGBackend::new(&svg, size).into_drawing_area(), &svg)?;
    fig.render(BitMapBackend::new(&png, size).into_drawing_area(), &png)?;
    Ok([svg, png])
}

/// Palette colour `i` (Tableau 10, repeating).
pub(crate) fn colour(i: usize) -> RGBColor {
    const C: [RGBColor; 10] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(127, 127, 127),
        RGBColor(188, 189, 34),
        RGBColor(23, 190, 207),
    ];
    C[i % C.len()]
}

pub(crate) fn bounds(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| (l.min(v), h.max(v)));
    if !lo.is_finite() {
        return None;
    }
    let pad = if hi > lo { (hi - lo) * 0.05 } else { lo.abs().max(1.0) * 0.05 };
    Some((lo - pad, hi + pad))
}

/// Axis ranges of one chart or panel.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Ranges {
    pub(crate) x: (f64, f64),
    pub(crate) y: (f64, f64),
}

impl Ranges {
    /// The smallest ranges holding both.
    pub(crate) fn union(self, other: Ranges) -> Ranges {
        Ranges {
            x: (self.x.0.min(other.x.0), self.x.1.max(other.x.1)),
            y: (self.y.0.min(other.y.0), self.y.1.max(other.y.1)),
        }
    }
}

impl LineChart {
    fn finite(&self) -> impl Iterator<Item = &(f64, f64)> {
        self.series.iter().flat_map(|s| s.points.iter()).filter(|(x, y)| x.is_finite() && y.is_finite())
    }

    /// The axis ranges that fit every finite point (with 5 % padding).
    pub(crate) fn ranges(&self, path: &Path) -> Result<Ranges, PlotError> {
        let empty = || PlotError::Empty(path.to_path_buf());
        let x = if self.log_x && self.finite().all(|p| p.0 > 0.0) {
            // Multiplicative padding keeps a log axis positive.
            let (lo, hi) = bounds(self.finite().map(|p| p.0.ln())).ok_or_else(empty)?;
            ((lo - 0.3).exp(), (hi + 0.3).exp())
        } else {
            bounds(self.finite().map(|p| p.0)).ok_or_else(empty)?
        };
        let y = bounds(self.finite().map(|p| p.1)).ok_or_else(empty)?;
        Ok(Ranges { x, y })
    }

    fn draw<DB: DrawingBackend>(&self, root: DrawingArea<DB, Shift>, path: &Path) -> Result<(), PlotError> {
        let err = |e: String| PlotError::Draw { path: path.to_path_buf(), detail: e };
        root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
        self.draw_in(&root, path, self.ranges(path)?, true, 20)?;
        root.present().map_err(|e| err(e.to_string()))
    }

    /// Draws the chart into `root` with the given axis ranges; the legend only when `legend`.
    pub(crate) fn draw_in<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        path: &Path,
        ranges: Ranges,
        legend: bool,
        title_size: u32,
    ) -> Result<(), PlotError> {
        let err = |e: String| PlotError::Draw { path: path.to_path_buf(), detail: e };
        let Ranges { x: (x0, x1), y: (y0, y1) } = ranges;
        let mut builder = ChartBuilder::on(root);
        builder
            .caption(&self.title, ("sans-serif", title_size))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60);
        macro_rules! body {
            ($chart:expr) => {{
                let mut chart = $chart;
                chart
                    .configure_mesh()
                    .x_desc(self.x_label.as_str())
                    .y_desc(self.y_label.as_str())
                    .label_style(("sans-serif", 13))
                    .draw()
                    .map_err(|e| err(e.to_string()))?;
                for (i, s) in self.series.iter().enumerate() {
                    let c = colour(s.colour.unwrap_or(i));
                    let pts: Vec<(f64, f64)> =
                        s.points.iter().copied().filter(|(x, y)| x.is_finite() && y.is_finite()).collect();
                    let width = if s.reference { 1 } else { 2 };
                    let line = chart
                        .draw_series(LineSeries::new(pts.clone(), c.stroke_width(width)))
                        .map_err(|e| err(e.to_string()))?;
                    if legend {
                        line.label(s.name.as_str()).legend(move |(x, y)| {
                            PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2))
                        });
                    }
                    if s.reference {
                        chart
                            .draw_series(pts.iter().map(|&p| Cross::new(p, 5, c.stroke_width(2))))
                            .map_err(|e| err(e.to_string()))?;
                    } else {
                        chart
                            .draw_series(pts.iter().map(|&p| Circle::new(p, 3, c.filled())))
                            .map_err(|e| err(e.to_string()))?;
                    }
                }
                if !legend {
                    return Ok(());
                }
                chart
                    .configure_series_labels()
                    .background_style(WHITE.mix(0.85))
                    .border_style(BLACK)
                    .label_font(("sans-serif", 12))
                    .position(SeriesLabelPosition::LowerRight)
                    .draw()
                    .map_err(|e| err(e.to_string()))?;
            }};
        }
        if self.log_x && x0 > 0.0 {
            body!(builder
                .build_cartesian_2d((x0..x1).log_scale(), y0..y1)
                .map_err(|e| err(e.to_string()))?);
        } else {
            body!(builder.build_cartesian_2d(x0..x1, y0..y1).map_err(|e| err(e.to_string()))?);
        }
        Ok(())
    }

    /// Writes `<stem>.svg` and `<stem>.png` (900×560) and returns both paths.
    pub fn write(&self, stem: &Path) -> Result<[PathBuf; 2], PlotError> {
        let size = (900, 560);
        write_figure(self, stem, size)
    }
}

impl Figure for LineChart {
    fn render<DB: DrawingBackend>(&self, root: DrawingArea<DB, Shift>, path: &Path) -> Result<(), PlotError> {
        self.draw(root, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_svg_and_png() {
        let dir = tempfile::tempdir().unwrap();
        let chart = LineChart {
            title: "test".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            series: vec![
                Series {
                    name: "a".into(),
                    points: vec![(1.0, 0.5), (2.0, 0.7), (3.0, f64::NAN)],
                    reference: false,
                    colour: None,
                },
                Series {
                    name: "b (published)".into(),
                    points: vec![(1.5, 0.6)],
                    reference: true,
                    colour: Some(0),
                },
            ],
            log_x: true,
        };
        let [svg, png] = chart.write(&dir.path().join("c")).unwrap();
        assert!(std::fs::read_to_string(svg).unwrap().contains("<svg"));
        let bytes = std::fs::read(png).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
        let empty = LineChart { series: vec![], ..chart };
        assert!(matches!(empty.write(&dir.path().join("e")), Err(PlotError::Empty(_))));
    }
}
