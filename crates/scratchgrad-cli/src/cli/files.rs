//! Saving what a command produces: one way for every command, so every file is written
//! atomically, never through a special file, and every failure reads the same.

use std::path::Path;

use scratchgrad::files::write_atomic;

use crate::{output, Failure};

/// True for the path `-`, which means standard output.
pub fn is_stdout(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// Writes `bytes` (a `what`, for the message) to `path` atomically, or to standard output
/// when `path` is `-`.
pub fn save(path: &Path, bytes: &[u8], what: &str) -> Result<(), Failure> {
    if is_stdout(path) {
        return output::write_content(bytes)
            .map_err(|e| Failure::new(format!("cannot write the {what} to standard output: {e}")));
    }
    write_atomic(path, bytes).map_err(|e| {
        Failure::new(format!(
            "cannot write the {what} to {}: {e}",
            path.display()
        ))
    })
}
