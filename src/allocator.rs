//! How the process's allocator treats large buffers.
//!
//! An inline image passes through a few buffers of its own size (the
//! request body, the decoded bytes, the base64 of Odoo's request). glibc's
//! malloc serves a block of 128 KiB or more with its own `mmap`, returned to
//! the kernel on `free` — but each such `free` raises that threshold to the
//! block's size (up to 32 MiB), so after the first large image every later
//! one is carved from the heaps of the worker threads, which keep the pages
//! once freed. Measured with the load harness: four 10 MB images at a time
//! peaked at 309 MiB of resident memory with the moving threshold and at
//! 165 MiB with it fixed (BENCHMARKS.md).
//!
//! [`return_large_buffers_to_the_kernel`] fixes the threshold at
//! [`LARGE_BUFFER_BYTES`]: buffers that large are mapped and unmapped on
//! their own, so resident memory follows the images in flight and falls back
//! when they are done. Small allocations (every callback without an inline
//! image) are not affected. On other C libraries it does nothing.

/// Allocations of this size or more get pages of their own, returned on free.
pub const LARGE_BUFFER_BYTES: usize = 1024 * 1024;

/// Fixes glibc's `mmap` threshold at [`LARGE_BUFFER_BYTES`]; call it first
/// thing in `main`, before other threads start.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn return_large_buffers_to_the_kernel() {
    let threshold = libc::c_int::try_from(LARGE_BUFFER_BYTES).unwrap_or(libc::c_int::MAX);
    // SAFETY: `mallopt` only changes malloc's tuning parameters; it takes
    // plain integers and is called before other threads exist. A failure
    // (0) leaves glibc's defaults in place, which are correct, only larger.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, threshold);
    }
}

/// Nothing to tune outside glibc.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn return_large_buffers_to_the_kernel() {}
