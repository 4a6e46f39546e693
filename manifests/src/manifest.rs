//! The JSON manifest of a shard set: parameters, shards with checksums, skipped items.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use shards::ShardReader;

use crate::{sha256_file, Error, Result};

/// File name of a shard set's manifest inside its directory.
pub const MANIFEST_FILE: &str = "manifest.json";
/// Version of the manifest layout.
pub const MANIFEST_VERSION: u32 = 1;

/// One shard of the set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardEntry {
    /// File name, relative to the manifest's directory.
    pub file: String,
    /// Split of every row in it.
    pub split: String,
    /// Number of utterances.
    pub rows: usize,
    /// File size in bytes.
    pub bytes: u64,
    /// sha256 of the file (hex).
    pub sha256: String,
    /// Utterance ids, in file order.
    pub utterances: Vec<String>,
}

impl ShardEntry {
    /// Describes a finished shard file: reads its ids, size and checksum.
    pub fn describe(dir: &Path, file: &str, split: &str) -> Result<Self> {
        let path = dir.join(file);
        let reader = ShardReader::open(&path)?;
        let bytes = std::fs::metadata(&path)
            .map_err(|source| Error::Io { path: path.clone(), action: "stat", source })?
            .len();
        Ok(Self {
            file: file.to_string(),
            split: split.to_string(),
            rows: reader.num_rows(),
            bytes,
            sha256: sha256_file(&path)?,
            utterances: reader.utt_ids()?,
        })
    }
}

/// An input item that did not become a row, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedItem {
    /// Utterance id.
    pub utt_id: String,
    /// Split it was listed in.
    pub split: String,
    /// One-line reason.
    pub reason: String,
}

/// A shard set's manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`MANIFEST_VERSION`] at write time.
    pub manifest_version: u32,
    /// [`shards::SCHEMA_VERSION`] of every shard listed.
    pub shard_schema_version: u32,
    /// Tool that wrote it (e.g. `preprocess`).
    pub tool: String,
    /// That tool's version.
    pub tool_version: String,
    /// Every parameter that shaped the shards (preprocessing settings, seeds, task split).
    pub params: serde_json::Value,
    /// The shards.
    pub shards: Vec<ShardEntry>,
    /// Items that were skipped, with reasons.
    pub skipped: Vec<SkippedItem>,
}

impl Manifest {
    /// An empty manifest for `tool` with `params`.
    pub fn new(tool: &str, tool_version: &str, params: serde_json::Value) -> Self {
        Self {
            manifest_version: MANIFEST_VERSION,
            shard_schema_version: shards::SCHEMA_VERSION,
            tool: tool.to_string(),
            tool_version: tool_version.to_string(),
            params,
            shards: Vec::new(),
            skipped: Vec::new(),
        }
    }

    /// Reads a manifest file.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            action: "read",
            source,
        })?;
        Self::parse(&text, path)
    }

    /// [`Manifest::read`] of a manifest's text (`path` names it in errors).
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let m: Manifest =
            serde_json::from_str(text).map_err(|source| Error::Json { path: path.to_path_buf(), source })?;
        if m.manifest_version != MANIFEST_VERSION {
            return Err(Error::Version {
                path: path.to_path_buf(),
                found: m.manifest_version,
                expected: MANIFEST_VERSION,
            });
        }
        for e in &m.shards {
            if let Err(why) = check_shard_name(&e.file) {
                return Err(Error::Index {
                    path: path.to_path_buf(),
                    what: format!(
                        "lists shard {:?}, which {why}; a manifest may only name files beside it",
                        e.file
                    ),
                });
            }
        }
        Ok(m)
    }

    /// Writes the manifest atomically (pretty JSON, temp file + rename).
    pub fn write(&self, path: &Path) -> Result<()> {
        let mut text = serde_json::to_string_pretty(self)
            .map_err(|source| Error::Json { path: path.to_path_buf(), source })?;
        text.push('\n');
        atomic_write(path, text.as_bytes())
    }

    /// Total utterances over all shards.
    pub fn total_rows(&self) -> usize {
        self.shards.iter().map(|s| s.rows).sum()
    }

    /// Shards of one split.
    pub fn shards_of<'a>(&'a self, split: &'a str) -> impl Iterator<Item = &'a ShardEntry> + 'a {
        self.shards.iter().filter(move |s| s.split == split)
    }

    /// Checks a listed shard's size and sha256 against the file in `dir`. The name must be a
    /// plain `*.parquet` file name (no directory part) and the file a regular file, so a crafted
    /// manifest cannot point outside its directory or at a device.
    pub fn verify_shard(dir: &Path, entry: &ShardEntry) -> Result<()> {
        let path = dir.join(&entry.file);
        if let Err(why) = check_shard_name(&entry.file) {
            return Err(Error::Index { path, what: format!("shard name {why}") });
        }
        let meta = std::fs::metadata(&path).map_err(|source| Error::Io {
            path: path.clone(),
            action: "stat",
            source,
        })?;
        if !meta.is_file() {
            return Err(Error::Index { path, what: "is not a regular file".into() });
        }
        let bytes = meta.len();
        if bytes != entry.bytes {
            return Err(Error::Checksum {
                path,
                what: "size",
                expected: entry.bytes.to_string(),
                found: bytes.to_string(),
            });
        }
        let sha = sha256_file(&path)?;
        if sha != entry.sha256 {
            return Err(Error::Checksum { path, what: "sha256", expected: entry.sha256.clone(), found: sha });
        }
        Ok(())
    }

    /// Opens shard `file` of the set in `dir` after verifying it against this manifest.
    pub fn open_shard(&self, dir: &Path, file: &str) -> Result<ShardReader> {
        let entry = self.shards.iter().find(|s| s.file == file).ok_or_else(|| Error::UnknownShard {
            manifest: dir.join(MANIFEST_FILE),
            shard: file.to_string(),
        })?;
        Self::verify_shard(dir, entry)?;
        Ok(ShardReader::open(&dir.join(&entry.file))?)
    }
}

impl Manifest {
    /// A manifest for shards written by another tool (pyarrow, polars, duckdb; SCHEMA.md
    /// "Writing shards from Python"): every `*.parquet` in `dir`, each read in full (schema and
    /// rows checked), each holding one split. `params` records the shards' own `lipsync.params`
    /// (null where a shard has none). Written by `preprocess index`.
    pub fn index(dir: &Path) -> Result<Self> {
        let io = |source| Error::Io { path: dir.to_path_buf(), action: "list", source };
        let mut files: Vec<String> = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let name = entry.map_err(io)?.file_name().to_string_lossy().into_owned();
            if name.ends_with(".parquet") && !name.starts_with('.') {
                files.push(name);
            }
        }
        files.sort();
        if files.is_empty() {
            return Err(Error::Index { path: dir.to_path_buf(), what: "no *.parquet shards here".into() });
        }
        let mut shard_params = Vec::new();
        let mut shards = Vec::new();
        for file in &files {
            let path = dir.join(file);
            let reader = ShardReader::open(&path)?;
            let mut splits = std::collections::BTreeSet::new();
            for utt in reader.iter() {
                splits.insert(utt?.split.as_str());
            }
            let split = match splits.len() {
                1 => splits.into_iter().next().expect("one split"),
                0 => return Err(Error::Index { path, what: "holds no rows".into() }),
                _ => {
                    let what = format!("mixes splits {splits:?}; write one split per shard");
                    return Err(Error::Index { path, what });
                }
            };
            let params: serde_json::Value = reader
                .params_json()
                .and_then(|p| serde_json::from_str(p).ok())
                .unwrap_or(serde_json::Value::Null);
            shard_params.push(serde_json::json!({"file": file, "params": params}));
            shards.push(ShardEntry::describe(dir, file, split)?);
        }
        let mut seen = std::collections::HashMap::new();
        for e in &shards {
            for id in &e.utterances {
                if let Some(first) = seen.insert(id.as_str(), e.file.as_str()) {
                    let what = format!(
                        "utterance {id} is in both {first} and {}; keep one row per utterance",
                        e.file
                    );
                    return Err(Error::Index { path: dir.to_path_buf(), what });
                }
            }
        }
        let mut m = Self::new(
            "preprocess index",
            env!("CARGO_PKG_VERSION"),
            serde_json::json!({ "indexed": shard_params }),
        );
        m.shards = shards;
        Ok(m)
    }
}

/// Why `name` cannot be a shard of a set: it must be a bare `*.parquet` file name.
fn check_shard_name(name: &str) -> std::result::Result<(), &'static str> {
    if name.contains('/') || name.contains('\\') || name.contains('\0') {
        return Err("has a directory part");
    }
    if name.starts_with('.') {
        return Err("starts with '.'");
    }
    if !name.ends_with(".parquet") {
        return Err("does not end in .parquet");
    }
    Ok(())
}

/// Writes `bytes` to `path` atomically: a temp file in the same directory, fsync, rename.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp: PathBuf = shards::temp_path(path);
    let io = |action, source| Error::Io { path: tmp.clone(), action, source };
    let mut f = std::fs::File::create(&tmp).map_err(|e| io("create", e))?;
    f.write_all(bytes).map_err(|e| io("write", e))?;
    f.sync_all().map_err(|e| io("fsync", e))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        action: "rename",
        source,
    })
}
