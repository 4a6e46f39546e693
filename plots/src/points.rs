//! Point charts with error bars: measured points as filled, coloured dots with ± error bars, and
//! reference (published) points as hollow black markers, one shape per reference series, named in
//! the legend; in one or more panels that share their axes.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::{bounds, colour, write_figure, Figure, PlotError, Ranges};

/// One point: its position and, for measured points, the half-height of its error bar.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// x (e.g. parameters in millions).
    pub x: f64,
    /// y (e.g. accuracy in %).
    pub y: f64,
    /// Error bar half-height (e.g. the standard deviation over seeds); None draws none.
    pub err: Option<f64>,
}

/// Points of one model (or one published model).
#[derive(Debug, Clone)]
pub struct PointSeries {
    /// Legend label.
    pub name: String,
    /// Its points.
    pub points: Vec<Point>,
    /// Published figures: hollow black markers (square, triangle, diamond, circle, cross, in
    /// the order the reference series come).
    pub reference: bool,
    /// Palette index of measured points (default: the series' position).
    pub colour: Option<usize>,
}

/// Panels of points that share their axes, with a legend column at the right.
#[derive(Debug, Clone, Default)]
pub struct PointChart {
    /// Title over all panels.
    pub title: String,
    /// X axis label.
    pub x_label: String,
    /// Y axis label.
    pub y_label: String,
    /// Logarithmic x axis.
    pub log_x: bool,
    /// (panel title, its series).
    pub panels: Vec<(String, Vec<PointSeries>)>,
    /// Lines of small print under the legend (how to read the figure).
    pub note: Vec<String>,
    /// Limits the y axis never goes beyond (e.g. 0–100 for accuracy in %), whatever the bars.
    pub y_limits: Option<(f64, f64)>,
}

/// The hollow black marker of the `i`-th reference series, centred on the origin.
fn marker(i: usize) -> Vec<(i32, i32)> {
    match i % 5 {
        0 => vec![(-5, -5), (5, -5), (5, 5), (-5, 5), (-5, -5)],
        1 => vec![(0, -6), (6, 5), (-6, 5), (0, -6)],
        2 => vec![(0, -7), (7, 0), (0, 7), (-7, 0), (0, -7)],
        3 => (0..=16)
            .map(|k| {
                let a = k as f64 * std::f64::consts::PI / 8.0;
                ((6.0 * a.cos()).round() as i32, (6.0 * a.sin()).round() as i32)
            })
            .collect(),
        _ => vec![(-5, -5), (5, 5), (0, 0), (5, -5), (-5, 5)],
    }
}

const LEGEND_WIDTH: u32 = 300;
const PANEL: (u32, u32) = (520, 520);

impl PointChart {
    fn all(&self) -> impl Iterator<Item = &Point> {
        self.panels
            .iter()
            .flat_map(|(_, s)| s.iter())
            .flat_map(|s| s.points.iter())
            .filter(|p| p.x.is_finite() && p.y.is_finite() && (!self.log_x || p.x > 0.0))
    }

    fn ranges(&self, path: &Path) -> Result<Ranges, PlotError> {
        let empty = || PlotError::Empty(path.to_path_buf());
        let x = if self.log_x {
            let (lo, hi) = bounds(self.all().map(|p| p.x.ln())).ok_or_else(empty)?;
            ((lo - 0.4).exp(), (hi + 0.4).exp())
        } else {
            bounds(self.all().map(|p| p.x)).ok_or_else(empty)?
        };
        let y = bounds(self.all().flat_map(|p| {
            let e = p.err.filter(|e| e.is_finite()).unwrap_or(0.0);
            [p.y - e, p.y + e]
        }))
        .ok_or_else(empty)?;
        let y = match self.y_limits {
            Some((lo, hi)) => (y.0.max(lo), y.1.min(hi)),
            None => y,
        };
        Ok(Ranges { x, y })
    }

    fn draw<DB: DrawingBackend>(&self, root: DrawingArea<DB, Shift>, path: &Path) -> Result<(), PlotError> {
        let err = |e: String| PlotError::Draw { path: path.to_path_buf(), detail: e };
        let Ranges { x: (x0, x1), y: (y0, y1) } = self.ranges(path)?;
        root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
        let root = root.titled(&self.title, ("sans-serif", 22)).map_err(|e| err(e.to_string()))?;
        let (w, _) = root.dim_in_pixel();
        let (plots, legend) = root.split_horizontally(w.saturating_sub(LEGEND_WIDTH));
        let areas = plots.split_evenly((1, self.panels.len().max(1)));
        for ((title, series), area) in self.panels.iter().zip(areas) {
            let mut builder = ChartBuilder::on(&area);
            builder.caption(title, ("sans-serif", 16)).margin(12).x_label_area_size(40).y_label_area_size(56);
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
                    let mut nth_reference = 0;
                    for (i, s) in series.iter().enumerate() {
                        let c = colour(s.colour.unwrap_or(i));
                        let shape = marker(nth_reference);
                        nth_reference += usize::from(s.reference);
                        for p in s.points.iter().filter(|p| p.x.is_finite() && p.y.is_finite()) {
                            if let Some(e) = p.err.filter(|e| e.is_finite() && *e > 0.0) {
                                let bar = [(p.x, (p.y - e).max(y0)), (p.x, (p.y + e).min(y1))];
                                chart
                                    .draw_series([PathElement::new(bar.to_vec(), c.stroke_width(2))])
                                    .map_err(|e| err(e.to_string()))?;
                                for end in bar {
                                    chart
                                        .draw_series([EmptyElement::at(end)
                                            + PathElement::new(vec![(-4, 0), (4, 0)], c.stroke_width(2))])
                                        .map_err(|e| err(e.to_string()))?;
                                }
                            }
                            if s.reference {
                                chart
                                    .draw_series([EmptyElement::at((p.x, p.y))
                                        + PathElement::new(shape.clone(), BLACK.stroke_width(2))])
                                    .map_err(|e| err(e.to_string()))?;
                            } else {
                                chart
                                    .draw_series([Circle::new((p.x, p.y), 5, c.filled())])
                                    .map_err(|e| err(e.to_string()))?;
                            }
                        }
                    }
                }};
            }
            if self.log_x {
                body!(builder
                    .build_cartesian_2d((x0..x1).log_scale(), y0..y1)
                    .map_err(|e| err(e.to_string()))?);
            } else {
                body!(builder.build_cartesian_2d(x0..x1, y0..y1).map_err(|e| err(e.to_string()))?);
            }
        }
        // Legend: each series once, in panel order, with its marker.
        let font = ("sans-serif", 14).into_font();
        let mut seen: Vec<&str> = Vec::new();
        let mut y = 40;
        for (_, series) in &self.panels {
            let mut nth_reference = 0;
            for (i, s) in series.iter().enumerate() {
                let shape = marker(nth_reference);
                nth_reference += usize::from(s.reference);
                if seen.contains(&s.name.as_str()) {
                    continue;
                }
                seen.push(&s.name);
                if s.reference {
                    let at: Vec<(i32, i32)> = shape.iter().map(|&(dx, dy)| (20 + dx, y + dy)).collect();
                    legend
                        .draw(&PathElement::new(at, BLACK.stroke_width(2)))
                        .map_err(|e| err(e.to_string()))?;
                } else {
                    let c = colour(s.colour.unwrap_or(i));
                    legend.draw(&Circle::new((20, y), 5, c.filled())).map_err(|e| err(e.to_string()))?;
                }
                legend
                    .draw(&Text::new(s.name.clone(), (34, y - 8), font.clone()))
                    .map_err(|e| err(e.to_string()))?;
                y += 24;
            }
        }
        let small = ("sans-serif", 12).into_font();
        for line in &self.note {
            y += 18;
            legend.draw(&Text::new(line.clone(), (10, y), small.clone())).map_err(|e| err(e.to_string()))?;
        }
        root.present().map_err(|e| err(e.to_string()))
    }

    /// Writes `<stem>.svg` and `<stem>.png` and returns both paths.
    pub fn write(&self, stem: &Path) -> Result<[PathBuf; 2], PlotError> {
        let size = (PANEL.0 * self.panels.len().max(1) as u32 + LEGEND_WIDTH, PANEL.1 + 40);
        write_figure(self, stem, size)
    }
}

impl Figure for PointChart {
    fn render<DB: DrawingBackend>(&self, root: DrawingArea<DB, Shift>, path: &Path) -> Result<(), PlotError> {
        self.draw(root, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measured_and_published_points_are_drawn() {
        let measured = PointSeries {
            name: "student".into(),
            points: vec![Point { x: 0.08, y: 40.0, err: Some(3.0) }],
            reference: false,
            colour: Some(2),
        };
        let published = PointSeries {
            name: "VocaLiST".into(),
            points: vec![Point { x: 80.1, y: 99.8, err: None }],
            reference: true,
            colour: None,
        };
        let chart = PointChart {
            title: "t".into(),
            x_label: "parameters".into(),
            y_label: "accuracy".into(),
            log_x: true,
            panels: vec![("K=15".into(), vec![measured, published])],
            note: vec!["mean ± std over 3 seeds".into()],
            y_limits: Some((0.0, 100.0)),
        };
        let Ranges { x: (x0, x1), y: (y0, y1) } = chart.ranges(Path::new("x")).unwrap();
        assert!(x0 < 0.08 && x1 > 80.1 && y0 < 37.0 && y1 == 100.0);
        let dir = tempfile::tempdir().unwrap();
        let [svg, png] = chart.write(&dir.path().join("p")).unwrap();
        let text = std::fs::read_to_string(svg).unwrap();
        assert!(text.contains("VocaLiST") && text.contains("student") && text.contains("3 seeds"));
        assert_eq!(&std::fs::read(png).unwrap()[1..4], b"PNG");
        let empty = PointChart { panels: vec![], ..chart };
        assert!(matches!(empty.write(&dir.path().join("e")), Err(PlotError::Empty(_))));
    }
}
