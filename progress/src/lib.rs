//! Progress for long runs, on a terminal and in logs alike (issue #33 point 12).
//!
//! indicatif draws its bar only when stderr is a terminal; under a batch system (Slurm, CI,
//! `make reproduce`'s per-job logs, `nohup`) a stuck run and a busy one both printed nothing for
//! many minutes. [`Progress`] wraps the bar: on a terminal it is the bar; otherwise a line such as
//! `progress: 12/40 videos (30 %), 0.8/s, ETA 35 s` is written to stderr every
//! `LIPSYNC_PROGRESS_S` seconds (30 by default), and once at the end.

#![deny(missing_docs)]

use std::io::IsTerminal;
use std::sync::mpsc::{channel, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use indicatif::ProgressBar;

/// Seconds between log lines when stderr is not a terminal: `LIPSYNC_PROGRESS_S`, else 30.
pub fn log_every() -> Duration {
    let secs = std::env::var("LIPSYNC_PROGRESS_S").ok().and_then(|v| v.trim().parse::<f64>().ok());
    Duration::from_secs_f64(secs.filter(|s| s.is_finite() && *s > 0.0).unwrap_or(30.0))
}

/// A progress bar, plus log lines when stderr is not a terminal. Derefs to the bar.
pub struct Progress {
    bar: ProgressBar,
    stop: Option<(Sender<()>, JoinHandle<()>)>,
}

impl Progress {
    /// A bar of `total` `unit`s ("videos", "utterances"); hidden and silent when `quiet`.
    pub fn new(total: u64, unit: &str, quiet: bool) -> Self {
        Self::with_terminal(total, unit, quiet, std::io::stderr().is_terminal(), log_every())
    }

    /// [`Progress::new`] with the terminal test and the log period given (for tests).
    pub fn with_terminal(total: u64, unit: &str, quiet: bool, terminal: bool, every: Duration) -> Self {
        if quiet {
            return Self { bar: ProgressBar::hidden(), stop: None };
        }
        let bar = ProgressBar::new(total);
        if terminal {
            return Self { bar, stop: None };
        }
        let (tx, rx) = channel::<()>();
        let (seen, unit) = (bar.clone(), unit.to_string());
        let thread = std::thread::spawn(move || loop {
            match rx.recv_timeout(every) {
                Err(RecvTimeoutError::Timeout) => eprintln!("{}", line(&seen, &unit)),
                _ => {
                    eprintln!("{}", line(&seen, &unit));
                    return;
                }
            }
        });
        Self { bar, stop: Some((tx, thread)) }
    }

    /// Ends the bar (cleared from a terminal; a last log line otherwise).
    pub fn finish(mut self) {
        self.end();
    }

    fn end(&mut self) {
        self.bar.finish_and_clear();
        if let Some((tx, thread)) = self.stop.take() {
            let _ = tx.send(());
            let _ = thread.join();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.end();
    }
}

impl std::ops::Deref for Progress {
    type Target = ProgressBar;
    fn deref(&self) -> &ProgressBar {
        &self.bar
    }
}

/// `progress: 12/40 videos (30 %), 0.8/s, ETA 35 s`.
fn line(bar: &ProgressBar, unit: &str) -> String {
    let (pos, len) = (bar.position(), bar.length().unwrap_or(0));
    let pct = if len > 0 { format!(" ({:.0} %)", 100.0 * pos as f64 / len as f64) } else { String::new() };
    let rate = bar.per_sec();
    let eta = if pos > 0 && pos < len { format!(", ETA {} s", bar.eta().as_secs()) } else { String::new() };
    format!("progress: {pos}/{len} {unit}{pct}, {rate:.2}/s{eta}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_name_the_position() {
        let bar = ProgressBar::hidden();
        bar.set_length(40);
        bar.set_position(12);
        let l = line(&bar, "videos");
        assert!(l.starts_with("progress: 12/40 videos (30 %), "), "{l}");
    }

    #[test]
    fn quiet_and_terminal_bars_start_no_thread() {
        assert!(Progress::with_terminal(3, "x", true, false, Duration::from_millis(1)).stop.is_none());
        assert!(Progress::with_terminal(3, "x", false, true, Duration::from_millis(1)).stop.is_none());
        let p = Progress::with_terminal(3, "x", false, false, Duration::from_millis(1));
        assert!(p.stop.is_some());
        p.inc(1);
        p.finish();
    }
}
