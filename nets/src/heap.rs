//! The C heap that libtorch's CPU tensors come from (issue #16: no per-step re-allocation).
//!
//! libtorch allocates CPU tensors with `posix_memalign` and frees them as soon as the last
//! reference goes, so every forward and backward allocates and frees the same large blocks again.
//! glibc serves blocks above its mmap threshold (128 KiB, then adaptive up to 32 MiB) with a
//! fresh `mmap` and returns them with `munmap`, and trims the heap top above 128 KiB: each new
//! activation then costs page faults and zeroed pages. Measured with `perf` on `evaluator run`
//! (MTDVocaLiST, GRID clips, 2 threads), 12.7 % of the time was in the kernel, most of it page
//! faults and page clearing. [`keep_freed_memory`] raises both thresholds to 1 GiB, so freed
//! blocks stay in the process for the next forward.
//!
//! It is a trade of memory for time, measured (2 threads):
//! - `evaluator run`, seven GRID clips: 40.6–41.5 s → 34.0–37.5 s, peak RSS 0.80–0.88 →
//!   1.05–1.27 GB. On by default in `evaluator`.
//! - MTDVocaLiST BCE step at batch 16: 1.96–2.06 s → 1.90–1.98 s, peak RSS 1.80–1.88 →
//!   1.66–1.71 GB; at batch 128: 20.45 s → 18.36 s, but peak RSS 4.38 → 6.42 GB (7.86 GB with
//!   the MTD step), as blocks of many sizes stay in the heap and fragment it. PyTorch's peak there
//!   is 4.77 GB, so `trainer` leaves glibc's defaults unless asked. (A 16 MiB mmap threshold
//!   kept the batch-128 peak at 4.28 GB and the step at 19.0 s, but slowed `evaluator run` to
//!   37.7–38.5 s; one setting per binary is simpler to state.)
//!
//! `LIPSYNC_KEEP_FREED_MEMORY=1` turns it on and `=0` off in either binary.

/// The environment variable that overrides a binary's default: `1` keeps freed memory, `0`
/// leaves glibc's defaults.
pub const ENV: &str = "LIPSYNC_KEEP_FREED_MEMORY";

/// Both thresholds: larger than any one activation of the models at batch 128.
const THRESHOLD: libc::c_int = 1 << 30;

/// Keeps freed tensor memory in the process (see the module doc) when [`ENV`] says `1`, or when
/// it is unset and `default` is true. Call it first in `main`, before libtorch allocates.
/// Returns whether the setting took effect (false also where the C library is not glibc, whose
/// setting it is).
pub fn keep_freed_memory(default: bool) -> bool {
    let on = match std::env::var(ENV).as_deref() {
        Ok("1") => true,
        Ok("0") => false,
        _ => default,
    };
    on && set_thresholds()
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn set_thresholds() -> bool {
    // SAFETY: mallopt only changes allocator parameters; it is called before other threads start.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, THRESHOLD) == 1
            && libc::mallopt(libc::M_TRIM_THRESHOLD, THRESHOLD) == 1
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn set_thresholds() -> bool {
    false
}

/// This process's peak resident set size so far in MB (10⁶ bytes; `getrusage`), None where
/// unknown.
pub fn peak_rss_mb() -> Option<f64> {
    #[cfg(target_os = "linux")]
    {
        let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
        // SAFETY: getrusage writes one rusage into the buffer it is given.
        let ok = unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) } == 0;
        // SAFETY: initialised by the successful call (and zeroed before it).
        let kb = unsafe { usage.assume_init() }.ru_maxrss;
        (ok && kb > 0).then(|| kb as f64 * 1024.0 / 1e6) // kilobytes on Linux
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}
