//! Reading a file a user named: only a regular file, only up to a size chosen for what it
//! should hold, and opened once (so what is checked is what is read).

use std::fmt;
use std::fs;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

/// Why a file could not be read. Its `Display` is a phrase that follows the file's name
/// (`"{path} {error}"`).
#[derive(Debug)]
pub enum ReadError {
    /// A directory, FIFO, device or socket: `kind` says which ("a FIFO").
    NotRegular {
        /// What it is, with its article.
        kind: &'static str,
    },
    /// A file with more than one name (a hard link): it may be any file its maker could
    /// read, so a folder others write into does not serve it.
    HardLinked,
    /// Larger than anything of its kind should be.
    TooLarge {
        /// Its size in bytes.
        size: u64,
        /// The most accepted.
        limit: u64,
    },
    /// Missing, unreadable, or failed while reading.
    Io(std::io::Error),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::NotRegular { kind } => write!(f, "is {kind}, not a regular file"),
            ReadError::HardLinked => write!(f, "has other names (a hard link), so it is not read"),
            ReadError::TooLarge { size, limit } => write!(
                f,
                "is {size} bytes, more than the {limit} that a file of this kind may have"
            ),
            ReadError::Io(e) => write!(f, "cannot be read ({e})"),
        }
    }
}

impl std::error::Error for ReadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReadError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl ReadError {
    /// True when the file does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, ReadError::Io(e) if e.kind() == std::io::ErrorKind::NotFound)
    }
}

/// What a file system node is, with its article, for messages.
pub fn describe_kind(kind: &fs::FileType) -> &'static str {
    if kind.is_file() {
        "a regular file"
    } else if kind.is_dir() {
        "a directory"
    } else if kind.is_symlink() {
        "a symbolic link"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "a special file"
    }
}

/// What `path` is when it exists but is not a folder (following symbolic links), for a
/// message; `None` when it is a folder or does not exist yet (a folder that will be made).
///
/// ```
/// use scratchgrad::files::not_a_folder;
/// assert_eq!(not_a_folder(std::path::Path::new("/dev/null")), Some("a character device"));
/// assert_eq!(not_a_folder(std::path::Path::new("/tmp")), None);
/// ```
pub fn not_a_folder(path: &Path) -> Option<&'static str> {
    let meta = fs::metadata(path).ok()?;
    (!meta.is_dir()).then(|| describe_kind(&meta.file_type()))
}

/// Reads the whole of `path`, which must be a regular file (symbolic links are followed to
/// one) of at most `limit` bytes. A FIFO is refused without waiting for a writer, `/dev/zero`
/// without reading a byte, and an oversized file before anything is allocated.
///
/// ```
/// use scratchgrad::files::read_regular;
/// let err = read_regular(std::path::Path::new("/dev/zero"), 1 << 20).unwrap_err();
/// assert_eq!(err.to_string(), "is a character device, not a regular file");
/// ```
pub fn read_regular(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer. It changes
    // nothing for a regular file.
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(ReadError::Io)?;
    read_opened(file, limit)
}

/// Reads the file `name` directly inside `folder`, as [`read_regular`] does, but following no
/// symbolic link on the way: neither `folder`'s last part nor `name` may be one (a link is
/// refused as "a symbolic link"), and the file is opened relative to the folder that was
/// checked, so nothing can be swapped in between. A file with other names (a hard link,
/// which may be any file its maker could read) is refused too. For folders that others may
/// write into, such as the runs a server shows.
///
/// ```
/// use scratchgrad::files::read_in_folder;
/// let dir = tempfile::tempdir().unwrap();
/// std::os::unix::fs::symlink("/etc/passwd", dir.path().join("link")).unwrap();
/// let err = read_in_folder(dir.path(), "link", 1 << 20).unwrap_err();
/// assert_eq!(err.to_string(), "is a symbolic link, not a regular file");
/// ```
pub fn read_in_folder(folder: &Path, name: &str, limit: u64) -> Result<Vec<u8>, ReadError> {
    read_opened(open_in_folder(folder, name)?, limit)
}

/// The first `bytes` bytes (or fewer, if it is shorter) of the file `name` directly inside
/// `folder`, opened as [`read_in_folder`] opens it: enough to read a file's header without
/// reading the whole file.
pub fn read_start_in_folder(folder: &Path, name: &str, bytes: u64) -> Result<Vec<u8>, ReadError> {
    use std::io::Read;
    let file = open_in_folder(folder, name)?;
    let meta = file.metadata().map_err(ReadError::Io)?;
    if !meta.file_type().is_file() {
        return Err(ReadError::NotRegular {
            kind: describe_kind(&meta.file_type()),
        });
    }
    let mut start = Vec::new();
    file.take(bytes)
        .read_to_end(&mut start)
        .map_err(ReadError::Io)?;
    Ok(start)
}

/// Opens `name` in `folder` following no link and refusing a hard-linked file (see
/// [`read_in_folder`]).
fn open_in_folder(folder: &Path, name: &str) -> Result<fs::File, ReadError> {
    use rustix::fs::{openat, Mode, OFlags, CWD};
    let link = || ReadError::NotRegular {
        kind: "a symbolic link",
    };
    let refuse_links = |e: rustix::io::Errno| match e {
        rustix::io::Errno::LOOP => link(),
        e => ReadError::Io(e.into()),
    };
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(ReadError::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a plain file name",
        )));
    }
    let common = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let dir =
        openat(CWD, folder, common | OFlags::DIRECTORY, Mode::empty()).map_err(refuse_links)?;
    let file = openat(
        &dir,
        name,
        common | OFlags::NONBLOCK | OFlags::NOCTTY,
        Mode::empty(),
    )
    .map_err(refuse_links)?;
    let file = fs::File::from(file);
    let meta = file.metadata().map_err(ReadError::Io)?;
    if meta.is_file() && meta.nlink() > 1 {
        return Err(ReadError::HardLinked);
    }
    Ok(file)
}

/// The checks and the read shared by [`read_regular`] and [`read_in_folder`].
fn read_opened(file: fs::File, limit: u64) -> Result<Vec<u8>, ReadError> {
    let meta = file.metadata().map_err(ReadError::Io)?;
    if !meta.file_type().is_file() {
        return Err(ReadError::NotRegular {
            kind: describe_kind(&meta.file_type()),
        });
    }
    if meta.len() > limit {
        return Err(ReadError::TooLarge {
            size: meta.len(),
            limit,
        });
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(ReadError::Io)?;
    if bytes.len() as u64 > limit {
        // It grew while being read.
        return Err(ReadError::TooLarge {
            size: bytes.len() as u64,
            limit,
        });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_files_are_refused_without_blocking_or_reading() {
        let guard = tempfile::tempdir().unwrap();
        let dir = guard.path().to_path_buf();
        let fifo = dir.join("fifo");
        assert!(std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());
        let zero_link = dir.join("zero");
        std::os::unix::fs::symlink("/dev/zero", &zero_link).unwrap();
        let big = dir.join("big");
        fs::File::create(&big).unwrap().set_len(3 << 30).unwrap(); // sparse: 3 GB, no disk
        let cases = [
            (fifo.as_path(), "is a FIFO, not a regular file"),
            (
                zero_link.as_path(),
                "is a character device, not a regular file",
            ),
            (dir.as_path(), "is a directory, not a regular file"),
            (
                big.as_path(),
                "is 3221225472 bytes, more than the 1048576 that a file of this kind may have",
            ),
        ];
        for (path, want) in cases {
            assert_eq!(read_regular(path, 1 << 20).unwrap_err().to_string(), want);
        }
        assert!(read_regular(&dir.join("missing"), 10)
            .unwrap_err()
            .is_not_found());
        fs::write(dir.join("ok"), b"fine").unwrap();
        assert_eq!(read_regular(&dir.join("ok"), 4).unwrap(), b"fine");
    }

    #[test]
    fn a_folder_others_write_into_serves_no_hard_link() {
        let guard = tempfile::tempdir().unwrap();
        let dir = guard.path();
        fs::write(dir.join("secret"), b"not for the web").unwrap();
        fs::hard_link(dir.join("secret"), dir.join("picture.png")).unwrap();
        let err = read_in_folder(dir, "picture.png", 1 << 20).unwrap_err();
        assert_eq!(
            err.to_string(),
            "has other names (a hard link), so it is not read"
        );
        fs::remove_file(dir.join("secret")).unwrap();
        assert_eq!(
            read_in_folder(dir, "picture.png", 1 << 20).unwrap(),
            b"not for the web",
            "with one name left, it is an ordinary file"
        );
    }
}
