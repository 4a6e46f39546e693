//! The resumable parallel batch job that `evaluator lse` and `evaluator sync` share.
//!
//! - Each finished item (scored or not) is appended to a JSON-lines journal and flushed to disk
//!   at once; a rerun with the same settings keeps those rows and runs only the rest, so a killed
//!   job loses at most the items in flight. The journal's first line records the settings; a
//!   journal of other settings is refused (use another `--out`). A last line cut by a kill is
//!   dropped (its item runs again); any other bad line is an error.
//! - Journal rows are trusted only as far as they check out (issue #33 point 6): each line carries
//!   the stamp of its input (a video's size and modification time; nothing for a shard, whose
//!   manifest's sha256 is in the header), and a row whose input changed since is scored again; a
//!   row that contradicts itself ([`Row::check`]: a score vector of the wrong length, an offset
//!   that is not its scores' peak, a value that is not finite) or a key with two different rows is
//!   dropped with a warning and scored again. A user's edit can cost time, never a wrong result.
//! - `jobs` workers take items in input order from one counter; each owns its state (a model
//!   handle, a face detector), made once on its thread by `make_worker`.
//! - The rows come back in input order whatever order the workers finished in.
//! - An item that cannot be scored gets a row with its reason and never stops the batch; only a
//!   journal that cannot be written does.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use indicatif::ProgressStyle;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{io, EvalError, Result};

/// One journal row: its item's key, and the reason when the item has no score.
pub trait Row: Serialize + DeserializeOwned + Send {
    /// The item this row is for (unique within a run).
    fn key(&self) -> &str;
    /// Why the item has no score.
    fn reason(&self) -> Option<&str>;
    /// Whether the row agrees with itself (a journal line is checked before it is reused); the
    /// error says what does not.
    fn check(&self) -> std::result::Result<(), String>;
}

/// The journal field that holds an input's stamp.
const STAMP: &str = "input_stamp";

/// The stamp of an input file: its size and modification time (ns), or `missing`. A video
/// replaced under the same name gets a new stamp, so its journal row is not reused.
pub fn file_stamp(path: &Path) -> String {
    use std::os::unix::fs::MetadataExt;
    match std::fs::metadata(path) {
        Ok(m) => format!("size {} mtime {}.{:09}", m.len(), m.mtime(), m.mtime_nsec()),
        Err(_) => "missing".into(),
    }
}

/// A batch job's fixed parts.
pub struct Batch<'a, H> {
    /// The journal file.
    pub journal: &'a Path,
    /// The settings its first line records.
    pub header: &'a H,
    /// Workers.
    pub jobs: usize,
    /// No progress bar.
    pub quiet: bool,
    /// What the progress bar counts ("videos", "utterances").
    pub unit: &'a str,
    /// Each key's input stamp ([`file_stamp`]; empty where the header pins the input).
    pub stamps: &'a [String],
}

/// A journal's reusable rows, and what was dropped from it, one line each.
pub struct Journal<R> {
    /// Rows by key, each with the stamp it was written with.
    pub rows: Vec<(R, String)>,
    /// Why lines were not reused.
    pub dropped: Vec<String>,
}

/// Reads the rows of an earlier run with the same settings (none when there is no journal):
/// every row that parses and passes [`Row::check`], except keys with two different rows.
pub fn read_journal<H, R>(path: &Path, header: &H) -> Result<Journal<R>>
where
    H: Serialize + DeserializeOwned + PartialEq,
    R: Row,
{
    match std::fs::read_to_string(path) {
        Ok(text) => parse_journal(&text, path, header),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Ok(Journal { rows: Vec::new(), dropped: Vec::new() })
        }
        Err(e) => Err(io(path)(e)),
    }
}

/// [`read_journal`] of a journal's text (`path` names it in errors).
pub fn parse_journal<H, R>(text: &str, path: &Path, header: &H) -> Result<Journal<R>>
where
    H: Serialize + DeserializeOwned + PartialEq,
    R: Row,
{
    let mut out = Journal { rows: Vec::new(), dropped: Vec::new() };
    let mut lines = text.lines();
    let Some(first) = lines.next() else { return Ok(out) };
    let old: H = serde_json::from_str(first)
        .map_err(|source| EvalError::NotAJournal { path: path.to_path_buf(), source })?;
    if &old != header {
        let (old, new) = (serde_json::to_value(&old), serde_json::to_value(header));
        let (old, new) = (old.expect("serialisable"), new.expect("serialisable"));
        return Err(EvalError::OtherSettings {
            path: path.to_path_buf(),
            differences: differences(&old, &new),
        });
    }
    let all: Vec<&str> = lines.collect();
    let mut by_key: std::collections::HashMap<String, usize> = Default::default();
    let mut conflicting = std::collections::BTreeSet::new();
    for (i, line) in all.iter().enumerate() {
        let n = i + 2;
        let cut = i + 1 == all.len() && !text.ends_with('\n');
        let parsed =
            serde_json::from_str::<serde_json::Value>(line).map_err(|e| e.to_string()).and_then(|mut v| {
                let stamp = v.as_object_mut().and_then(|o| o.remove(STAMP));
                let stamp = stamp.and_then(|s| s.as_str().map(str::to_string)).unwrap_or_default();
                let row = serde_json::from_value::<R>(v).map_err(|e| e.to_string())?;
                row.check()?;
                Ok((row, stamp))
            });
        match parsed {
            Ok((row, stamp)) => match by_key.get(row.key()) {
                Some(&j) => {
                    let same = serde_json::to_value(&out.rows[j].0).ok() == serde_json::to_value(&row).ok()
                        && out.rows[j].1 == stamp;
                    if !same {
                        out.dropped.push(format!(
                            "line {n}: a second, different row for {}; scored again",
                            row.key()
                        ));
                        conflicting.insert(row.key().to_string());
                    }
                }
                None => {
                    by_key.insert(row.key().to_string(), out.rows.len());
                    out.rows.push((row, stamp));
                }
            },
            Err(_) if cut => {}
            Err(e) => out.dropped.push(format!("line {n}: {e}; scored again")),
        }
    }
    out.rows.retain(|(r, _)| !conflicting.contains(r.key()));
    Ok(out)
}

/// The settings that differ between two headers, as `key: old → new` (nested keys dotted): the
/// one line a user needs instead of both headers in full.
fn differences(old: &serde_json::Value, new: &serde_json::Value) -> String {
    fn walk(prefix: &str, a: &serde_json::Value, b: &serde_json::Value, out: &mut Vec<String>) {
        match (a, b) {
            (serde_json::Value::Object(x), serde_json::Value::Object(y)) => {
                let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
                for k in keys {
                    let p = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                    let null = serde_json::Value::Null;
                    walk(&p, x.get(k).unwrap_or(&null), y.get(k).unwrap_or(&null), out);
                }
            }
            _ if a != b => {
                let short = |v: &serde_json::Value| {
                    let s = v.to_string();
                    if s.chars().count() > 80 {
                        format!("{}…", s.chars().take(80).collect::<String>())
                    } else {
                        s
                    }
                };
                out.push(format!("{prefix}: {} → {}", short(a), short(b)));
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk("", old, new, &mut out);
    out.join("; ")
}

/// Runs `score(worker, i)` for every item `keys[i]` without a journal row yet, `jobs` at a time,
/// and returns one row per key, in `keys` order.
pub fn run<H, R, W>(
    batch: &Batch<'_, H>,
    keys: &[String],
    make_worker: impl Fn() -> W + Sync,
    score: impl Fn(&W, usize) -> R + Sync,
) -> Result<Vec<R>>
where
    H: Serialize + DeserializeOwned + PartialEq,
    R: Row,
{
    let path = batch.journal;
    assert_eq!(keys.len(), batch.stamps.len(), "one stamp per key");
    let journal = read_journal::<H, R>(path, batch.header)?;
    for why in &journal.dropped {
        eprintln!("{}: {why}", path.display());
    }
    let stamp_of: std::collections::HashMap<&str, &str> =
        keys.iter().map(String::as_str).zip(batch.stamps.iter().map(String::as_str)).collect();
    let mut done: std::collections::HashMap<String, R> = std::collections::HashMap::new();
    for (row, stamp) in journal.rows {
        match stamp_of.get(row.key()) {
            Some(&now) if now == stamp => {
                done.insert(row.key().to_string(), row);
            }
            Some(_) => {
                eprintln!("{}: {} changed since it was scored; scoring it again", path.display(), row.key())
            }
            None => {}
        }
    }
    // Rewrite the journal with the kept rows only (drops a cut last line, rows that failed their
    // checks and rows of items no longer asked for), then append.
    let mut text = serde_json::to_string(batch.header).expect("serialisable") + "\n";
    for (k, stamp) in keys.iter().zip(batch.stamps) {
        if let Some(r) = done.get(k) {
            text += &(line(r, stamp) + "\n");
        }
    }
    manifests::atomic_write(path, text.as_bytes())?;
    let todo: Vec<usize> = (0..keys.len()).filter(|&i| !done.contains_key(&keys[i])).collect();
    let journal = Mutex::new(std::fs::OpenOptions::new().append(true).open(path).map_err(io(path))?);
    let bar = progress::Progress::new(keys.len() as u64, batch.unit, batch.quiet);
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{{bar:40}} {{pos}}/{{len}} {}  {{per_sec}}  ETA {{eta}}",
            batch.unit
        ))
        .expect("valid template"),
    );
    bar.set_position((keys.len() - todo.len()) as u64);
    let jobs = batch.jobs.clamp(1, todo.len().max(1));
    let next = AtomicUsize::new(0);
    let stamps = batch.stamps;
    let results: Mutex<Vec<R>> = Mutex::new(Vec::new());
    let failure: Mutex<Option<EvalError>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..jobs {
            let (next, todo, journal, results, failure, bar, score, make_worker) =
                (&next, &todo, &journal, &results, &failure, &bar, &score, &make_worker);
            let stamps: &[String] = stamps;
            s.spawn(move || {
                let worker = make_worker();
                loop {
                    let k = next.fetch_add(1, Ordering::SeqCst);
                    let Some(&i) = todo.get(k) else { break };
                    if failure.lock().expect("not poisoned").is_some() {
                        break;
                    }
                    let row = score(&worker, i);
                    let line = line(&row, &stamps[i]) + "\n";
                    let write = {
                        let mut f = journal.lock().expect("not poisoned");
                        f.write_all(line.as_bytes()).and_then(|_| f.sync_data())
                    };
                    if let Err(e) = write {
                        *failure.lock().expect("not poisoned") = Some(io(path)(e));
                        break;
                    }
                    if let Some(reason) = row.reason() {
                        bar.println(format!("{}: {reason}", row.key()));
                    }
                    results.lock().expect("not poisoned").push(row);
                    bar.inc(1);
                }
            });
        }
    });
    bar.finish();
    if let Some(e) = failure.into_inner().expect("not poisoned") {
        return Err(e);
    }
    for r in results.into_inner().expect("not poisoned") {
        done.insert(r.key().to_string(), r);
    }
    Ok(keys.iter().map(|k| done.remove(k).expect("every item has a row")).collect())
}

/// A journal line: the row with its input's stamp.
fn line<R: Row>(row: &R, stamp: &str) -> String {
    let mut v = serde_json::to_value(row).expect("serialisable");
    if let Some(o) = v.as_object_mut() {
        o.insert(STAMP.into(), serde_json::Value::String(stamp.into()));
    }
    v.to_string()
}

/// Quotes a CSV field when it needs it (RFC 4180).
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// An optional value as a CSV field (empty when absent).
pub fn csv_opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}
