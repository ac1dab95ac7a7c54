//! Writing a file in one piece.

use std::fs;
use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` atomically: into a temporary file beside it, flushed to disk, then
/// renamed over `path`. Readers see the old file or the new one, never a mix; on any error the
/// temporary file is removed and `path` is untouched.
///
/// ```
/// let dir = std::env::temp_dir().join("scratchgrad-doc-write-atomic");
/// std::fs::create_dir_all(&dir).unwrap();
/// scratchgrad::io::write_atomic(&dir.join("hello.txt"), b"hello").unwrap();
/// assert_eq!(std::fs::read(dir.join("hello.txt")).unwrap(), b"hello");
/// ```
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path.file_name().ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, "the path names no file")
    })?;
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(".{}.tmp", std::process::id()));
    let temp = path.with_file_name(temp_name);
    let result = (|| {
        let mut file = fs::File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

/// Removes the temporary files that `write_atomic` leaves behind when its process is killed
/// mid-write (`.NAME.PID.tmp`). Returns how many were removed.
pub fn remove_stale_temporaries(dir: &Path) -> std::io::Result<usize> {
    let mut removed = 0;
    for entry in fs::read_dir(dir)? {
        let name = entry?.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') && name.ends_with(".tmp") {
            fs::remove_file(dir.join(&*name))?;
            removed += 1;
        }
    }
    Ok(removed)
}
