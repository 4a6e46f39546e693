//! `preprocess verify`: checks every shard of a set against its manifest (size, sha256, schema).

use std::path::Path;

use manifests::{Manifest, MANIFEST_FILE};

/// Outcome of verifying a shard set.
#[derive(Debug, Default)]
pub struct VerifyReport {
    /// Shards whose size, checksum and schema are good.
    pub ok: usize,
    /// One line per bad shard.
    pub bad: Vec<String>,
    /// Utterances in the good shards.
    pub rows: usize,
}

/// Verifies every shard listed in `<dir>/manifest.json`.
pub fn verify_dir(dir: &Path) -> Result<VerifyReport, manifests::Error> {
    let manifest = Manifest::read(&dir.join(MANIFEST_FILE))?;
    let mut report = VerifyReport::default();
    for entry in &manifest.shards {
        match manifest.open_shard(dir, &entry.file) {
            Ok(reader) if reader.num_rows() == entry.rows => {
                report.ok += 1;
                report.rows += entry.rows;
            }
            Ok(reader) => report.bad.push(format!(
                "{}: {} rows, manifest says {}",
                dir.join(&entry.file).display(),
                reader.num_rows(),
                entry.rows
            )),
            Err(e) => report.bad.push(e.to_string()),
        }
    }
    Ok(report)
}
