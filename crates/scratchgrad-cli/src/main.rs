//! The `scratchgrad` command line (see `src/cli/`).

mod cli;

use clap::Parser;

/// A training step allocates and frees the same few arrays of a few hundred kB every step.
/// glibc's defaults hand such blocks back to the kernel on free (mmap above a threshold, and
/// trimming the heap top), so every step page-faults them in again: measured, that doubled an
/// MNIST epoch (2.3-2.6 s against 1.16-1.18 s, `scratchgrad bench --worker autograd --threads
/// 1`, docs/BENCHMARKS.md). Raising both thresholds keeps freed memory for reuse; peak memory
/// is unchanged (96 MB either way).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn keep_freed_memory() {
    // SAFETY: mallopt only changes allocator tuning parameters; it is called before any thread
    // is started.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 512 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn keep_freed_memory() {}

fn main() {
    keep_freed_memory();
    if let Err(error) = cli::run(cli::Cli::parse()) {
        cli::report_error(&error);
        std::process::exit(error.exit_code());
    }
}
