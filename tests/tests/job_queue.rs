//! The job queue of `make reproduce` (`scripts/lib/jobs.sh`), issue #33 point 1: on a loaded
//! machine, `wait PID` on a job that bash had already reaped while `jobs -rp` polled failed with
//! "pid … is not a child of this shell", and a study whose every step succeeded ended "a step
//! failed". Here many short jobs run two at a time beside CPU hogs (the race needs jobs ending
//! while the queue polls): every success must be reported as one, every failure as one.

use std::process::{Child, Command, Stdio};

/// Busy processes on every core, killed on drop.
struct Hogs(Vec<Child>);

impl Hogs {
    fn start() -> Self {
        let n = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self(
            (0..n)
                .map(|_| {
                    Command::new("sh")
                        .args(["-c", "while :; do :; done"])
                        .stdout(Stdio::null())
                        .spawn()
                        .expect("sh runs")
                })
                .collect(),
        )
    }
}

impl Drop for Hogs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Queues `jobs` (each a shell snippet) with JOBS=2 and drains them; returns (success, output).
fn drain(jobs: &[String]) -> (bool, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let lib = lipsync_tests::repo_root().join("scripts/lib/jobs.sh");
    let mut script = format!(
        "set -euo pipefail\nsay() {{ printf 'reproduce: %s\\n' \"$*\"; }}\nrun() {{ \"$@\"; }}\n\
         JOBS=2; THREADS=1\nsource '{}'\n",
        lib.display()
    );
    for (i, j) in jobs.iter().enumerate() {
        script += &format!("queue '{}/job{i}.log' sh -c '{j}'\n", dir.path().display());
    }
    script += "drain\necho drained\n";
    let out = Command::new("bash").args(["-c", &script]).output().expect("bash runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

#[test]
fn many_short_jobs_under_load_all_succeed() {
    let _hogs = Hogs::start();
    let jobs: Vec<String> = (0..60).map(|i| format!("echo job {i}; exit 0")).collect();
    let (ok, text) = drain(&jobs);
    assert!(ok, "every job succeeded but the queue failed:\n{text}");
    assert!(!text.contains("not a child"), "{text}");
    assert!(text.contains("drained"), "{text}");
    for i in 0..60 {
        assert!(text.contains(&format!("[job{i}] job {i}")), "job {i}'s log line was not relayed:\n{text}");
    }
}

#[test]
fn a_failed_or_killed_job_fails_the_queue_and_is_named() {
    let _hogs = Hogs::start();
    let mut jobs: Vec<String> = (0..20).map(|_| "exit 0".to_string()).collect();
    jobs[7] = "exit 3".into();
    jobs[13] = "kill -9 $PPID".into(); // the job's own wrapper dies: no status file at all
    let (ok, text) = drain(&jobs);
    assert!(!ok, "a failed job must fail the queue:\n{text}");
    assert!(!text.contains("drained"), "{text}");
    assert!(text.contains("FAILED (exit 3): see") && text.contains("job7.log"), "{text}");
    assert!(text.contains("job13.log"), "the killed job is not named:\n{text}");
    assert_eq!(text.matches("FAILED").count(), 2, "only the two bad jobs fail:\n{text}");
}
