//! Large buffers returned to the kernel. glibc `mmap`s blocks of 128 KiB or
//! more, but each such `free` raises that threshold, so later images come from
//! per-thread heaps that keep the pages. A fixed threshold: four 10 MB images
//! at a time peaked at 165 MiB instead of 309 MiB (BENCHMARKS.md).

/// Allocations of this size or more get pages of their own, returned on free.
pub const LARGE_BUFFER_BYTES: usize = 1024 * 1024;

/// Fixes glibc's `mmap` threshold at [`LARGE_BUFFER_BYTES`]; call it first
/// thing in `main`, before other threads start.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn return_large_buffers_to_the_kernel() {
    let threshold = libc::c_int::try_from(LARGE_BUFFER_BYTES).unwrap_or(libc::c_int::MAX);
    // SAFETY: `mallopt` only tunes malloc, takes plain integers and runs
    // before other threads exist; a failure leaves glibc's (correct) defaults.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, threshold);
    }
}

/// Nothing to tune outside glibc.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn return_large_buffers_to_the_kernel() {}
