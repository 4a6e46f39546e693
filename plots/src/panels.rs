//! Small multiples: line charts side by side on shared axes, with one legend beside them.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::{colour, write_figure, Figure, LineChart, PlotError, Ranges};

/// A row (or grid) of panels that share both axes, so they compare at a glance; each series
/// keeps its palette colour across panels and is named once, in a legend column at the right.
#[derive(Debug, Clone, Default)]
pub struct SmallMultiples {
    /// Title over all panels.
    pub title: String,
    /// The panels, left to right then top to bottom; each panel's title names it.
    pub panels: Vec<LineChart>,
    /// Panels per row.
    pub columns: usize,
}

/// Width of the legend column, in pixels.
const LEGEND_WIDTH: u32 = 230;
/// One panel's size, in pixels.
const PANEL: (u32, u32) = (420, 380);

impl SmallMultiples {
    fn grid(&self) -> (usize, usize) {
        let columns = self.columns.clamp(1, self.panels.len().max(1));
        (self.panels.len().div_ceil(columns), columns)
    }

    /// The legend: every distinct (colour, name) in panel order.
    fn legend(&self) -> Vec<(usize, String)> {
        let mut entries: Vec<(usize, String)> = Vec::new();
        for panel in &self.panels {
            for (i, s) in panel.series.iter().enumerate() {
                let c = s.colour.unwrap_or(i);
                if !entries.iter().any(|(_, n)| n == &s.name) {
                    entries.push((c, s.name.clone()));
                }
            }
        }
        entries
    }

    fn draw<DB: DrawingBackend>(&self, root: DrawingArea<DB, Shift>, path: &Path) -> Result<(), PlotError> {
        let err = |e: String| PlotError::Draw { path: path.to_path_buf(), detail: e };
        let mut shared: Option<Ranges> = None;
        for panel in &self.panels {
            if let Ok(r) = panel.ranges(path) {
                shared = Some(shared.map_or(r, |s| s.union(r)));
            }
        }
        let shared = shared.ok_or_else(|| PlotError::Empty(path.to_path_buf()))?;
        root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
        let root = root.titled(&self.title, ("sans-serif", 22)).map_err(|e| err(e.to_string()))?;
        let (w, _) = root.dim_in_pixel();
        let (plots, legend) = root.split_horizontally(w.saturating_sub(LEGEND_WIDTH));
        let (rows, columns) = self.grid();
        for (panel, area) in self.panels.iter().zip(plots.split_evenly((rows, columns))) {
            panel.draw_in(&area, path, shared, false, 16)?;
        }
        let style = ("sans-serif", 14).into_font();
        for (row, (c, name)) in self.legend().iter().enumerate() {
            let y = 40 + 24 * row as i32;
            let c = colour(*c);
            legend
                .draw(&PathElement::new(vec![(10, y), (34, y)], c.stroke_width(3)))
                .map_err(|e| err(e.to_string()))?;
            legend
                .draw(&Text::new(name.clone(), (42, y - 8), style.clone()))
                .map_err(|e| err(e.to_string()))?;
        }
        root.present().map_err(|e| err(e.to_string()))
    }

    /// Writes `<stem>.svg` and `<stem>.png` and returns both paths.
    pub fn write(&self, stem: &Path) -> Result<[PathBuf; 2], PlotError> {
        let (rows, columns) = self.grid();
        let size = (PANEL.0 * columns as u32 + LEGEND_WIDTH, PANEL.1 * rows as u32 + 40);
        write_figure(self, stem, size)
    }
}

impl Figure for SmallMultiples {
    fn render<DB: DrawingBackend>(&self, root: DrawingArea<DB, Shift>, path: &Path) -> Result<(), PlotError> {
        self.draw(root, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Series;

    #[test]
    fn panels_share_axes_and_one_legend() {
        let line = |name: &str, colour, points: Vec<(f64, f64)>| Series {
            name: name.into(),
            points,
            reference: false,
            colour: Some(colour),
        };
        let panel = |title: &str, scale: f64| LineChart {
            title: title.into(),
            x_label: "epoch".into(),
            y_label: "ratio".into(),
            series: vec![
                line("a", 0, vec![(1.0, 1.0 * scale), (2.0, 0.5 * scale)]),
                line("b", 1, vec![(1.0, 0.9), (2.0, 0.8)]),
            ],
            log_x: false,
        };
        let chart = SmallMultiples {
            title: "t".into(),
            panels: vec![panel("MTD", 1.0), panel("FitNets", 2.0)],
            columns: 3,
        };
        assert_eq!(chart.grid(), (1, 2));
        assert_eq!(chart.legend(), vec![(0, "a".to_string()), (1, "b".to_string())]);
        let dir = tempfile::tempdir().unwrap();
        let [svg, png] = chart.write(&dir.path().join("m")).unwrap();
        let text = std::fs::read_to_string(svg).unwrap();
        assert!(text.contains("MTD") && text.contains("FitNets"));
        assert_eq!(&std::fs::read(png).unwrap()[1..4], b"PNG");
        let empty = SmallMultiples { panels: vec![], ..chart };
        assert!(matches!(empty.write(&dir.path().join("e")), Err(PlotError::Empty(_))));
    }
}
