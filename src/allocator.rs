//! How the process's allocator treats large buffers.
//!
//! glibc serves a block of 128 KiB or more with its own `mmap`, returned on
//! `free`, but each such `free` raises that threshold to the block's size, so
//! after the first large image later ones come from the worker threads' heaps,
//! which keep the pages. Fixing the threshold keeps resident memory following
//! the images in flight: four 10 MB images at a time peaked at 309 MiB with
//! the moving threshold and 165 MiB with it fixed (BENCHMARKS.md).

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
