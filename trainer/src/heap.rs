//! The C heap that libtorch's CPU tensors come from (issue #16: no per-step re-allocation).
//!
//! libtorch allocates CPU tensors with `posix_memalign` and frees them as soon as the last
//! reference goes, so every forward and backward allocates and frees the same large blocks again.
//! glibc serves blocks above its mmap threshold (128 KiB, then adaptive up to 32 MiB) with a
//! fresh `mmap` and returns them with `munmap`, and trims the heap top above 128 KiB: each new
//! activation then costs page faults and zeroed pages. Measured with `perf` on `evaluator run`
//! (MTDVocaLiST, GRID clips, 2 threads), 12.7 % of the time was in the kernel, most of it page
//! faults and page clearing. [`keep_freed_memory`] raises both thresholds to 1 GiB, so freed
//! blocks stay in the process for the next step. Measured: `evaluator run` on the seven GRID
//! clips 40.6 s → 34.0 s (peak RSS 0.80 → 1.14 GB); the MTDVocaLiST BCE step at batch 16
//! 1.96–2.06 s → 1.90–1.98 s (peak RSS 1.80–1.88 → 1.66–1.71 GB). Eager PyTorch keeps glibc's
//! defaults.

/// The environment variable that turns it off (`LIPSYNC_KEEP_FREED_MEMORY=0`), for a machine
/// where the higher peak of a long evaluation matters more than its speed.
pub const ENV: &str = "LIPSYNC_KEEP_FREED_MEMORY";

/// Both thresholds: larger than any one activation of the models at batch 128.
const THRESHOLD: libc::c_int = 1 << 30;

/// Keeps freed tensor memory in the process (see the module doc). Call it first in `main`,
/// before libtorch allocates. Returns whether the setting took effect: false when turned off by
/// [`ENV`], or where the C library is not glibc (the setting is glibc's).
pub fn keep_freed_memory() -> bool {
    if std::env::var(ENV).is_ok_and(|v| v == "0") {
        return false;
    }
    set_thresholds()
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
