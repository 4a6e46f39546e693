//! The resumable parallel batch job that `evaluator lse` and `evaluator sync` share.
//!
//! - Each finished item (scored or not) is appended to a JSON-lines journal and flushed to disk
//!   at once; a rerun with the same settings keeps those rows and runs only the rest, so a killed
//!   job loses at most the items in flight. The journal's first line records the settings; a
//!   journal of other settings is refused (use another `--out`). A last line cut by a kill is
//!   dropped (its item runs again); any other bad line is an error.
//! - `jobs` workers take items in input order from one counter; each owns its state (a model
//!   handle, a face detector), made once on its thread by `make_worker`.
//! - The rows come back in input order whatever order the workers finished in.
//! - An item that cannot be scored gets a row with its reason and never stops the batch; only a
//!   journal that cannot be written does.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressStyle};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{io, EvalError, Result};

/// One journal row: its item's key, and the reason when the item has no score.
pub trait Row: Serialize + DeserializeOwned + Send {
    /// The item this row is for (unique within a run).
    fn key(&self) -> &str;
    /// Why the item has no score.
    fn reason(&self) -> Option<&str>;
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
}

fn results_err(path: &Path, detail: impl ToString) -> EvalError {
    EvalError::Results { path: path.to_path_buf(), detail: detail.to_string() }
}

/// Reads the rows of an earlier run with the same settings (none when there is no journal).
pub fn read_journal<H, R>(path: &Path, header: &H) -> Result<Vec<R>>
where
    H: Serialize + DeserializeOwned + PartialEq,
    R: Row,
{
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(path)(e)),
    };
    let mut lines = text.lines();
    let Some(first) = lines.next() else { return Ok(Vec::new()) };
    let old: H = serde_json::from_str(first)
        .map_err(|e| results_err(path, format!("not a journal of this command ({e}); use an empty --out")))?;
    if &old != header {
        return Err(results_err(
            path,
            format!("holds results of other settings ({first}); use another --out"),
        ));
    }
    let all: Vec<&str> = lines.collect();
    let mut rows = Vec::new();
    for (i, line) in all.iter().enumerate() {
        match serde_json::from_str::<R>(line) {
            Ok(r) => rows.push(r),
            Err(_) if i + 1 == all.len() && !text.ends_with('\n') => {}
            Err(e) => return Err(results_err(path, format!("line {}: {e}", i + 2))),
        }
    }
    Ok(rows)
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
    let mut done: std::collections::HashMap<String, R> =
        read_journal::<H, R>(path, batch.header)?.into_iter().map(|r| (r.key().to_string(), r)).collect();
    // Rewrite the journal with the kept rows only (drops a cut last line and rows of items no
    // longer asked for), then append.
    let mut text = serde_json::to_string(batch.header).expect("serialisable") + "\n";
    for k in keys {
        if let Some(r) = done.get(k) {
            text += &(serde_json::to_string(r).expect("serialisable") + "\n");
        }
    }
    manifests::atomic_write(path, text.as_bytes())?;
    let todo: Vec<usize> = (0..keys.len()).filter(|&i| !done.contains_key(&keys[i])).collect();
    let journal = Mutex::new(std::fs::OpenOptions::new().append(true).open(path).map_err(io(path))?);
    let bar = if batch.quiet { ProgressBar::hidden() } else { ProgressBar::new(keys.len() as u64) };
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
    let results: Mutex<Vec<R>> = Mutex::new(Vec::new());
    let failure: Mutex<Option<EvalError>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..jobs {
            let (next, todo, journal, results, failure, bar, score, make_worker) =
                (&next, &todo, &journal, &results, &failure, &bar, &score, &make_worker);
            s.spawn(move || {
                let worker = make_worker();
                loop {
                    let k = next.fetch_add(1, Ordering::SeqCst);
                    let Some(&i) = todo.get(k) else { break };
                    if failure.lock().expect("not poisoned").is_some() {
                        break;
                    }
                    let row = score(&worker, i);
                    let line = serde_json::to_string(&row).expect("serialisable") + "\n";
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
    bar.finish_and_clear();
    if let Some(e) = failure.into_inner().expect("not poisoned") {
        return Err(e);
    }
    for r in results.into_inner().expect("not poisoned") {
        done.insert(r.key().to_string(), r);
    }
    Ok(keys.iter().map(|k| done.remove(k).expect("every item has a row")).collect())
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
