//! Writing a file in one piece, and never through something that is not a plain file.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::read::describe_kind;

/// Every temporary file this program makes starts with this and ends with [`TEMP_SUFFIX`]
/// (with random letters between), so a folder's leftovers from a killed process can be told
/// from the user's own files.
pub const TEMP_PREFIX: &str = ".scratchgrad-";
/// See [`TEMP_PREFIX`].
pub const TEMP_SUFFIX: &str = ".tmp";

fn invalid(message: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidInput, message)
}

/// Refuses to replace anything but a regular file (or nothing): writing "onto" a FIFO, a
/// device, a symlink or a directory by renaming over it would silently replace that node.
fn check_replaceable(path: &Path) -> std::io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_file() => Ok(()),
        Ok(meta) => Err(invalid(format!(
            "it is {}, not a regular file; give the path of a regular file to create or replace",
            describe_kind(&meta.file_type())
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        // A file where a folder of the path should be: said of that folder, below.
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => Ok(()),
        Err(e) => Err(e),
    }
}

/// Writes `bytes` to `path` atomically: into a temporary file beside it (a new, unpredictable
/// name, created exclusively, so nothing planted there can be followed), flushed to disk,
/// then renamed over `path`. Readers see the old file or the new one, never a mix; on any
/// error the temporary file is removed and `path` is untouched. Anything at `path` that is
/// not a regular file (a FIFO, a device, a symlink, a directory) is refused, not replaced.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("hello.txt");
/// scratchgrad::files::write_atomic(&path, b"hello").unwrap();
/// assert_eq!(std::fs::read(&path).unwrap(), b"hello");
/// ```
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if path.file_name().is_none() {
        return Err(invalid("the path names no file".into()));
    }
    check_replaceable(path)?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut temp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .suffix(TEMP_SUFFIX)
        // The usual 0666 less the umask, as for any file a program creates.
        .permissions(fs::Permissions::from_mode(0o666))
        .tempfile_in(dir)
        .map_err(|e| folder_error(dir, e))?;
    temp.write_all(bytes)?;
    temp.as_file().sync_all()?;
    temp.persist(path).map_err(|e| e.error)?;
    // The rename itself reaches the disk when the folder is flushed (best effort: some file
    // systems cannot flush a folder).
    if let Ok(folder) = fs::File::open(dir) {
        let _ = folder.sync_all();
    }
    Ok(())
}

/// Why no file could be created in `dir`, said of the folder: the error from creating the
/// temporary names the temporary, a file the user never chose and will not find.
fn folder_error(dir: &Path, e: std::io::Error) -> std::io::Error {
    // A folder that exists but takes no new file (/proc) says NotFound too.
    let missing = !dir.is_dir();
    let dir = dir.display();
    let message = match e.kind() {
        std::io::ErrorKind::NotFound if missing => format!("the folder {dir} does not exist"),
        std::io::ErrorKind::NotADirectory => format!("{dir} is not a folder"),
        std::io::ErrorKind::PermissionDenied => format!("the folder {dir} is not writable"),
        kind => format!("no file can be created in the folder {dir} ({kind})"),
    };
    std::io::Error::new(e.kind(), message)
}

/// Appends `bytes` to the regular file at `path` (created if missing) and flushes them to
/// disk before returning: the cost does not grow with the file, unlike rewriting it. A kill
/// or a full disk mid-write can leave a torn end, which readers must detect (a line that does
/// not end in a newline, or does not parse). Anything at `path` that is not a regular file
/// (a symlink, a FIFO, a device) is refused, never followed or written through.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let log = dir.path().join("log.jsonl");
/// scratchgrad::files::append_durably(&log, b"one\n").unwrap();
/// scratchgrad::files::append_durably(&log, b"two\n").unwrap();
/// assert_eq!(std::fs::read(&log).unwrap(), b"one\ntwo\n");
/// ```
pub fn append_durably(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    check_replaceable(path)?;
    let existed = fs::symlink_metadata(path).is_ok();
    // Checked again on what was opened, in case it changed in between. O_NOFOLLOW: a symlink
    // is an error, not a way to write elsewhere; O_NONBLOCK: a FIFO never blocks the open.
    let mut file = fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o666)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => invalid("it is a symbolic link, not a regular file".into()),
            _ => e,
        })?;
    let kind = file.metadata()?.file_type();
    if !kind.is_file() {
        return Err(invalid(format!(
            "it is {}, not a regular file",
            describe_kind(&kind)
        )));
    }
    file.write_all(bytes)?;
    file.sync_data()?;
    if !existed {
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
        if let Ok(folder) = fs::File::open(dir.unwrap_or(Path::new("."))) {
            let _ = folder.sync_all();
        }
    }
    Ok(())
}

/// Removes the temporary files that [`write_atomic`] leaves behind when its process is killed
/// mid-write (named `.scratchgrad-*.tmp`): nothing else in `dir` is touched. Call it only
/// while no other process writes into `dir` (a training run holds its folder's lock).
/// Returns how many were removed.
pub fn remove_stale_temporaries(dir: &Path) -> std::io::Result<usize> {
    let mut removed = 0;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if is_temporary(&name) && entry.file_type()?.is_file() {
            fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// True for the names of [`write_atomic`]'s temporary files.
pub fn is_temporary(name: &str) -> bool {
    name.starts_with(TEMP_PREFIX) && name.ends_with(TEMP_SUFFIX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// A fresh folder named `name` inside a temporary one (removed when the guard drops).
    fn dir(name: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let guard = tempfile::tempdir().unwrap();
        let d = guard.path().join(name);
        fs::create_dir_all(&d).unwrap();
        (guard, d)
    }

    #[test]
    fn a_missing_folder_is_named_not_the_temporary() {
        // Once: "No such file or directory (os error 2) at path \"D/.scratchgrad-3kdJaH.tmp\"".
        let (_guard, d) = dir("missing");
        for (path, want) in [
            (d.join("absent/x.onnx"), "absent does not exist"),
            (d.join("file/x.onnx"), "file is not a folder"),
        ] {
            fs::write(d.join("file"), b"a file").unwrap();
            let message = write_atomic(&path, b"x").unwrap_err().to_string();
            assert!(
                message.contains(want) && !message.contains(TEMP_PREFIX),
                "{message}"
            );
        }
    }

    #[test]
    fn special_files_and_symlinks_are_refused_not_replaced() {
        let (_guard, d) = dir("special");
        let fifo = d.join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let target = d.join("target.txt");
        fs::write(&target, b"keep me").unwrap();
        let link = d.join("link");
        symlink(&target, &link).unwrap();
        let cases = [
            (fifo.as_path(), "it is a FIFO"),
            (link.as_path(), "it is a symbolic link"),
            (Path::new("/dev/null"), "it is a character device"),
            (d.as_path(), "it is a directory"),
        ];
        for (path, want) in cases {
            let err = write_atomic(path, b"x").unwrap_err().to_string();
            assert!(err.starts_with(want), "{}: {err}", path.display());
        }
        let fifo_type = fs::symlink_metadata(&fifo).unwrap().file_type();
        assert!(std::os::unix::fs::FileTypeExt::is_fifo(&fifo_type));
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read(&target).unwrap(), b"keep me");
        assert_eq!(fs::read_dir(&d).unwrap().count(), 3, "no temporary left");
    }

    #[test]
    fn a_planted_symlink_cannot_redirect_the_write() {
        // The old writer used `.NAME.PID.tmp`: a symlink planted at that name was followed.
        let (_guard, d) = dir("planted");
        let victim = d.join("victim");
        fs::write(&victim, b"precious").unwrap();
        let out = d.join("model.safetensors");
        symlink(
            &victim,
            d.join(format!(".model.safetensors.{}.tmp", std::process::id())),
        )
        .unwrap();
        write_atomic(&out, b"new").unwrap();
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
        assert_eq!(fs::read(&out).unwrap(), b"new");
    }

    #[test]
    fn the_longest_file_name_a_folder_accepts_can_be_written() {
        let (_guard, d) = dir("long");
        let path = d.join("m".repeat(255));
        write_atomic(&path, b"ok").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"ok");
    }

    #[test]
    fn appending_refuses_what_is_not_a_regular_file() {
        let (_guard, d) = dir("append");
        let target = d.join("target.txt");
        fs::write(&target, b"keep me").unwrap();
        let link = d.join("link");
        symlink(&target, &link).unwrap();
        let fifo = d.join("fifo");
        assert!(std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());
        for (path, want) in [
            (link.as_path(), "it is a symbolic link"),
            (fifo.as_path(), "it is a FIFO"),
            (d.as_path(), "it is a directory"),
        ] {
            let err = append_durably(path, b"x\n").unwrap_err().to_string();
            assert!(err.contains(want), "{}: {err}", path.display());
        }
        assert_eq!(fs::read(&target).unwrap(), b"keep me");
    }

    #[test]
    fn only_our_own_temporaries_are_cleaned_up() {
        let (_guard, d) = dir("clean");
        fs::write(d.join(".session.tmp"), b"user's").unwrap();
        fs::write(d.join(".scratchgrad-abc123.tmp"), b"ours").unwrap();
        assert_eq!(remove_stale_temporaries(&d).unwrap(), 1);
        assert!(d.join(".session.tmp").exists());
    }
}
