//! Accuracy tables for K = 5..15 (per video and the macro mean), as Markdown, CSV and JSON.

use serde::Serialize;

use crate::protocol::{numpy_mean, video_accuracies, CANDIDATES, CONTEXTS};

/// One video's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VideoResult {
    /// Utterance id.
    pub video: String,
    /// Number of 5-frame windows N.
    pub windows: usize,
    /// Accuracy for each context in [`CONTEXTS`].
    pub acc: [f64; CONTEXTS.len()],
}

/// Per-video accuracies and their macro mean (each video weighted equally, SPEC §6.6).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccuracyTable {
    /// Per video, in input order.
    pub per_video: Vec<VideoResult>,
    /// `np.mean` over videos, per context.
    pub macro_mean: [f64; CONTEXTS.len()],
}

impl AccuracyTable {
    /// Scores every video (raw, unmasked score rows) with the reference protocol.
    pub fn from_scores<'a>(videos: impl IntoIterator<Item = (String, &'a [[f32; CANDIDATES]])>) -> Self {
        let per_video: Vec<VideoResult> = videos
            .into_iter()
            .map(|(video, rows)| VideoResult { video, windows: rows.len(), acc: video_accuracies(rows) })
            .collect();
        let macro_mean =
            std::array::from_fn(|k| numpy_mean(&per_video.iter().map(|v| v.acc[k]).collect::<Vec<_>>()));
        Self { per_video, macro_mean }
    }

    /// Writes `accuracy.md`, `accuracy.csv` and `accuracy.json` into `dir` (each atomically).
    pub fn write(&self, dir: &std::path::Path) -> Result<(), manifests::Error> {
        let json = serde_json::to_string_pretty(self).expect("a table serialises") + "\n";
        for (name, body) in
            [("accuracy.md", self.to_markdown()), ("accuracy.csv", self.to_csv()), ("accuracy.json", json)]
        {
            manifests::atomic_write(&dir.join(name), body.as_bytes())?;
        }
        Ok(())
    }

    /// The summary row as Markdown (accuracy in %, two decimals, like the paper).
    pub fn to_markdown(&self) -> String {
        let head: Vec<String> = CONTEXTS.iter().map(|k| format!("K{k}")).collect();
        let vals: Vec<String> = self.macro_mean.iter().map(|a| format!("{:.2}", a * 100.0)).collect();
        format!(
            "| videos | {} |\n|---|{}\n| {} | {} |\n",
            head.join(" | "),
            "---|".repeat(CONTEXTS.len()),
            self.per_video.len(),
            vals.join(" | ")
        )
    }

    /// Per-video rows and the mean as CSV (fractions, full precision).
    pub fn to_csv(&self) -> String {
        let mut s = String::from("video,windows");
        for k in CONTEXTS {
            s.push_str(&format!(",K{k}"));
        }
        s.push('\n');
        let row = |s: &mut String, name: &str, n: String, acc: &[f64]| {
            s.push_str(&format!("{name},{n}"));
            for a in acc {
                s.push_str(&format!(",{a}"));
            }
            s.push('\n');
        };
        for v in &self.per_video {
            row(&mut s, &v.video, v.windows.to_string(), &v.acc);
        }
        row(&mut s, "MACRO_MEAN", String::new(), &self.macro_mean);
        s
    }
}
