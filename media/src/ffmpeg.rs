//! What every ffmpeg and ffprobe this workspace runs on an item shares: the stall watchdog
//! (issue #33 point 2) and the one way to ask ffprobe about a file.

use std::path::Path;

/// Seconds without any sign of progress (a stderr line, stdout bytes) after which a decode is
/// stopped: `LIPSYNC_DECODE_STALL_S`, 120 by default. ffmpeg reports progress about twice a second
/// while it decodes, so only a stuck process gets near this.
pub fn stall_limit() -> std::time::Duration {
    let secs = std::env::var("LIPSYNC_DECODE_STALL_S")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|&s| s > 0)
        .unwrap_or(120);
    std::time::Duration::from_secs(secs)
}

/// Kills a process that shows no progress for `limit` (see [`stall_limit`]). Progress is
/// signalled with [`Watchdog::alive`]; [`Watchdog::stop`] ends the watch, and once it has
/// returned the process is never killed, so the caller may reap it (the PID cannot have been
/// reused by then). Shared by every ffmpeg this workspace runs on an item.
pub struct Watchdog {
    start: std::time::Instant,
    /// Milliseconds since `start` of the last sign of progress.
    last: std::sync::atomic::AtomicU64,
    /// (stopped, fired): the check-and-kill and `stop` exclude each other.
    state: std::sync::Mutex<(bool, bool)>,
    /// Whether the reader is waiting for the process (false while it works on what it read: a
    /// slow consumer, such as S3FD on a frame, is not a stalled decoder).
    waiting: std::sync::atomic::AtomicBool,
}

impl Watchdog {
    /// Watches process `pid`.
    pub fn start(pid: u32, limit: std::time::Duration) -> std::sync::Arc<Self> {
        let dog = std::sync::Arc::new(Self {
            start: std::time::Instant::now(),
            last: std::sync::atomic::AtomicU64::new(0),
            state: std::sync::Mutex::new((false, false)),
            waiting: std::sync::atomic::AtomicBool::new(true),
        });
        let seen = std::sync::Arc::downgrade(&dog);
        std::thread::spawn(move || loop {
            std::thread::sleep(limit.min(std::time::Duration::from_millis(200)));
            let Some(dog) = seen.upgrade() else { return };
            let idle = dog.start.elapsed().saturating_sub(std::time::Duration::from_millis(
                dog.last.load(std::sync::atomic::Ordering::Relaxed),
            ));
            let mut state = dog.state.lock().unwrap_or_else(|e| e.into_inner());
            if state.0 {
                return;
            }
            if idle >= limit && dog.waiting.load(std::sync::atomic::Ordering::Relaxed) {
                // SAFETY: kill(2) with a PID and a signal number; no memory is involved. The
                // process is not reaped before `stop`, which waits for this lock.
                unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
                *state = (true, true);
                return;
            }
        });
        dog
    }

    /// A sign of progress (bytes read, a log line).
    pub fn alive(&self) {
        let now = self.start.elapsed().as_millis() as u64;
        self.last.store(now, std::sync::atomic::Ordering::Relaxed);
    }

    /// The reader starts (true) or stops (false) waiting for the process; the time it is not
    /// waiting never counts as a stall. Readers that never say so are always waiting.
    pub fn waiting(&self, yes: bool) {
        self.alive();
        self.waiting.store(yes, std::sync::atomic::Ordering::Relaxed);
    }

    /// Ends the watch; whether it had stopped the process.
    pub fn stop(&self) -> bool {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.0 = true;
        state.1
    }
}

/// `ffprobe -v error -select_streams SELECT -show_entries ENTRIES -of csv=p=0 PATH`: one CSV line
/// per selected stream. The one way this workspace asks ffprobe about a file.
pub fn ffprobe(path: &Path, select: &str, entries: &str) -> std::io::Result<std::process::Output> {
    std::process::Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", select, "-show_entries", entries, "-of", "csv=p=0"])
        .arg(path)
        .stdin(std::process::Stdio::null())
        .output()
}

/// A loopback TCP server that accepts one connection and sends nothing for 8 s: an input on
/// which ffmpeg makes no progress (the stall tests). Its URL and the thread to join.
#[cfg(test)]
pub(crate) fn silent_server() -> (String, std::thread::JoinHandle<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let port = listener.local_addr().expect("bound").port();
    let server = std::thread::spawn(move || {
        let conn = listener.accept();
        std::thread::sleep(std::time::Duration::from_secs(8));
        drop(conn);
    });
    (format!("tcp://127.0.0.1:{port}"), server)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader busy with what it read (S3FD on a frame) is not a stalled process; a reader
    /// waiting in vain is.
    #[test]
    fn only_time_spent_waiting_counts_as_a_stall() {
        let mut child = std::process::Command::new("sleep").arg("30").spawn().expect("sleep runs");
        let dog = Watchdog::start(child.id(), std::time::Duration::from_millis(600));
        dog.waiting(false);
        std::thread::sleep(std::time::Duration::from_millis(1500));
        assert!(child.try_wait().unwrap().is_none(), "killed while the reader was busy");
        dog.waiting(true);
        std::thread::sleep(std::time::Duration::from_millis(1500));
        let fired = dog.stop();
        let status = child.wait().unwrap();
        assert!(fired && !status.success(), "not stopped after waiting past the limit");
    }
}
