//! A run's folder: claimed by one process at a time (an advisory lock on a file inside it),
//! never one that holds anything but a run's own files, and left restartable or resumable by
//! a kill at any moment.
//!
//! Commit protocol, per epoch: a line appended to `metrics.jsonl` (flushed to disk), then
//! `model.safetensors`, then `checkpoint.safetensors` (the commit point), each of the two
//! written atomically. After the last epoch: the pictures, then `summary.json` (a finished
//! run). So a killed run's folder is one of:
//! - no checkpoint: a run that never completed an epoch. A new run may take the folder over
//!   (its leftover files, all ones a run writes, are removed first);
//! - a checkpoint: resumable from it (`metrics.jsonl` may hold one epoch more, or a torn last
//!   line, which resuming drops; the model is written again);
//! - every epoch's checkpoint but no `summary.json`: resuming finishes the summary and
//!   pictures.

use std::fmt;
use std::fs;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use crate::files::{describe_kind, is_temporary, remove_stale_temporaries};

/// The checkpoint: the commit point of every epoch.
pub const CHECKPOINT: &str = "checkpoint.safetensors";
/// The latest model.
pub const MODEL: &str = "model.safetensors";
/// One JSON line per epoch.
pub const METRICS: &str = "metrics.jsonl";
/// Written last, when the run is finished.
pub const SUMMARY: &str = "summary.json";
/// The lock file: held while a process trains in the folder, and what marks the folder of a
/// run that has no checkpoint yet (it is removed when a run with a checkpoint ends).
pub const LOCK: &str = ".scratchgrad.lock";

/// Why a folder cannot be used for a run.
#[derive(Debug)]
pub enum RunDirError {
    /// The path exists but is not a folder.
    NotAFolder {
        /// What it is instead ("a regular file").
        kind: &'static str,
    },
    /// It holds files that are not a run's.
    NotEmpty {
        /// One of them, for the message.
        example: String,
    },
    /// It holds a run with at least one complete epoch.
    HoldsRun,
    /// One of a run's own files is not a regular file (a symbolic link, a FIFO, a folder):
    /// the run could not write it.
    Special {
        /// The file's name.
        name: &'static str,
        /// What it is ("a symbolic link").
        kind: &'static str,
    },
    /// Another process is training in it.
    InUse {
        /// That process, if it could be read from the lock file.
        pid: Option<u32>,
    },
    /// It holds no run to resume.
    NoRun,
    /// It holds a run that never completed an epoch: nothing to resume.
    NoCompleteEpoch,
    /// The file system refused something.
    Io(std::io::Error),
}

impl fmt::Display for RunDirError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunDirError::NotAFolder { kind } => write!(f, "is {kind}, not a folder"),
            RunDirError::NotEmpty { example } => write!(
                f,
                "is not empty and holds no run (it has {example}, for one)"
            ),
            RunDirError::HoldsRun => f.write_str("already holds a run"),
            RunDirError::Special { name, kind } => write!(
                f,
                "has {name} that is {kind}, not a regular file: remove it, or resume a copy of the run"
            ),
            RunDirError::InUse { pid: Some(pid) } => {
                write!(f, "is in use by another training run (process {pid})")
            }
            RunDirError::InUse { pid: None } => f.write_str("is in use by another training run"),
            RunDirError::NoRun => f.write_str("holds no run (no checkpoint.safetensors)"),
            RunDirError::NoCompleteEpoch => f.write_str(
                "holds a run that never completed an epoch, so there is nothing to resume",
            ),
            RunDirError::Io(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
                f.write_str("cannot be used: a part of its path is a file, not a folder")
            }
            RunDirError::Io(e) => write!(f, "cannot be used ({e})"),
        }
    }
}

impl std::error::Error for RunDirError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RunDirError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<std::io::Error> for RunDirError {
    fn from(e: std::io::Error) -> Self {
        RunDirError::Io(e)
    }
}

/// A run's folder, locked for this process until dropped.
#[derive(Debug)]
pub struct RunDir {
    path: PathBuf,
    lock: fs::File,
    /// Whether this process made the folder (so abandoning the run may remove it).
    created: bool,
}

/// True for the files a run that never completed an epoch can leave.
fn left_by_unfinished_run(name: &str) -> bool {
    matches!(name, LOCK | METRICS | MODEL) || is_temporary(name)
}

impl RunDir {
    /// The folder for a new run at `path`: created if missing; if it exists, it must be empty
    /// or hold a run that never completed an epoch (whose files are then removed). A folder
    /// with a checkpoint, someone else's files, or another process's lock is refused.
    pub fn create(path: &Path) -> Result<RunDir, RunDirError> {
        match fs::symlink_metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                fs::create_dir_all(path)?;
                return Self::claim(path, true);
            }
            Err(e) => return Err(e.into()),
            Ok(meta) if !fs::metadata(path).is_ok_and(|m| m.is_dir()) => {
                return Err(RunDirError::NotAFolder {
                    kind: describe_kind(&meta.file_type()),
                })
            }
            Ok(_) => {}
        }
        let names = entry_names(path)?;
        let is_run = names.iter().any(|n| n == LOCK || n == CHECKPOINT);
        if !is_run {
            if let Some(other) = names.first() {
                return Err(not_empty(other));
            }
            return Self::claim(path, false);
        }
        // A run's folder: another process training in it is the first thing to report.
        let dir = Self::claim(path, false)?;
        if names.iter().any(|n| n == CHECKPOINT) {
            return Err(RunDirError::HoldsRun);
        }
        if let Some(other) = names.iter().find(|n| !left_by_unfinished_run(n)) {
            return Err(not_empty(other));
        }
        // Locked: what a run that never completed an epoch left can go.
        for name in entry_names(path)? {
            if name != LOCK {
                fs::remove_file(path.join(name))?;
            }
        }
        Ok(dir)
    }

    /// A new folder for a run inside `parent`, named `stem`, or `stem-2`, `stem-3`, ... if
    /// that exists: two runs started in the same second get different folders.
    pub fn create_unique(parent: &Path, stem: &str) -> Result<RunDir, RunDirError> {
        fs::create_dir_all(parent)?;
        for n in 1.. {
            let name = if n == 1 {
                stem.to_string()
            } else {
                format!("{stem}-{n}")
            };
            let path = parent.join(name);
            match fs::create_dir(&path) {
                Ok(()) => return Self::claim(&path, true),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e.into()),
            }
        }
        unreachable!("the loop returns")
    }

    /// The folder of a run to resume: it must hold a checkpoint, and no other process may be
    /// training in it. Temporary files of a killed process are removed.
    pub fn open(path: &Path) -> Result<RunDir, RunDirError> {
        let meta = fs::metadata(path)?;
        if !meta.is_dir() {
            return Err(RunDirError::NotAFolder {
                kind: describe_kind(&meta.file_type()),
            });
        }
        let names = entry_names(path)?;
        let is_run = names
            .iter()
            .any(|n| n == LOCK || n == METRICS || n == CHECKPOINT);
        if !is_run {
            return Err(RunDirError::NoRun);
        }
        // Another process training in it is the first thing to report: its first epoch may
        // simply not have ended yet.
        let dir = Self::claim(path, false)?;
        if !entry_names(path)?.iter().any(|n| n == CHECKPOINT) {
            return Err(RunDirError::NoCompleteEpoch);
        }
        // The files a resumed run reads and writes again: never through a link.
        for name in [CHECKPOINT, MODEL, METRICS, SUMMARY] {
            match fs::symlink_metadata(path.join(name)) {
                Ok(meta) if !meta.file_type().is_file() => {
                    return Err(RunDirError::Special {
                        name,
                        kind: describe_kind(&meta.file_type()),
                    })
                }
                _ => {}
            }
        }
        remove_stale_temporaries(path)?;
        Ok(dir)
    }

    /// Takes the folder's lock, or says who holds it, and writes this process's id into it.
    ///
    /// The lock file is removed when the run ends, so a process may lock a file that another
    /// has just removed (it opened it before the removal): after locking, the file must still
    /// be the one at the path, else it is opened again.
    fn claim(path: &Path, created: bool) -> Result<RunDir, RunDirError> {
        let lock_path = path.join(LOCK);
        let mut attempts = 0;
        let mut lock = loop {
            if fs::symlink_metadata(&lock_path).is_ok_and(|m| !m.file_type().is_file()) {
                return Err(RunDirError::NotEmpty {
                    example: format!("{LOCK} that is not a regular file"),
                });
            }
            let lock = fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&lock_path)?;
            match lock.try_lock() {
                Ok(()) => {}
                Err(fs::TryLockError::WouldBlock) => {
                    let mut text = String::new();
                    let _ = (&lock).take(32).read_to_string(&mut text);
                    return Err(RunDirError::InUse {
                        pid: text.trim().parse().ok(),
                    });
                }
                Err(fs::TryLockError::Error(e)) => return Err(e.into()),
            }
            attempts += 1;
            if is_at(&lock, &lock_path) || attempts == 10 {
                break lock;
            }
        };
        lock.set_len(0)?;
        lock.rewind()?;
        write!(lock, "{}", std::process::id())?;
        Ok(RunDir {
            path: path.to_path_buf(),
            lock,
            created,
        })
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A file in the folder.
    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Whether the run has a checkpoint (completed at least one epoch).
    pub fn has_checkpoint(&self) -> bool {
        self.file(CHECKPOINT).exists()
    }

    /// Releases the folder: once it holds a checkpoint (which marks it as a run's), the lock
    /// file goes, when it is still this process's; then the lock. A finished or stopped run's
    /// folder keeps only its own files. Without a checkpoint the lock file stays: it is what
    /// marks the folder of a run killed before its first epoch.
    fn release(&self) {
        let lock_path = self.file(LOCK);
        if self.has_checkpoint() && is_at(&self.lock, &lock_path) {
            let _ = fs::remove_file(lock_path);
        }
    }

    /// Gives up a run that completed no epoch: removes what it wrote (and the folder, if this
    /// process made it and nothing else is in it), so nothing half-made is left behind. A run
    /// with a checkpoint is left as it is.
    pub fn abandon(&self) {
        if self.has_checkpoint() {
            return;
        }
        for name in [METRICS, MODEL] {
            let _ = fs::remove_file(self.file(name));
        }
        let _ = remove_stale_temporaries(&self.path);
        if is_at(&self.lock, &self.file(LOCK)) {
            let _ = fs::remove_file(self.file(LOCK));
        }
        if self.created {
            // Fails, harmlessly, when the folder is not empty.
            let _ = fs::remove_dir(&self.path);
        }
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        self.release();
    }
}

/// True when `file` (open) is the file at `path` now: same device and inode.
fn is_at(file: &fs::File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), fs::symlink_metadata(path)) {
        (Ok(open), Ok(there)) => open.dev() == there.dev() && open.ino() == there.ino(),
        _ => false,
    }
}

fn not_empty(example: &str) -> RunDirError {
    RunDirError::NotEmpty {
        example: example
            .chars()
            .take(64)
            .flat_map(char::escape_debug)
            .collect(),
    }
}

fn entry_names(path: &Path) -> std::io::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in fs::read_dir(path)? {
        names.push(entry?.file_name().to_string_lossy().into_owned());
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A path inside a fresh temporary folder (removed when the guard is dropped); the path
    /// itself does not exist yet.
    fn fresh(name: &str) -> (tempfile::TempDir, PathBuf) {
        let guard = tempfile::tempdir().unwrap();
        let path = guard.path().join(name);
        (guard, path)
    }

    #[test]
    fn one_process_at_a_time() {
        let (_guard_path, path) = fresh("lock");
        let first = RunDir::create(&path).unwrap();
        // The lock is per open file, so a second claim from this process is refused too.
        match RunDir::create(&path) {
            Err(RunDirError::InUse { pid }) => assert_eq!(pid, Some(std::process::id())),
            other => panic!("{other:?}"),
        }
        // Resuming it before its first epoch ends names the process, not "nothing to resume"
        // (CI once saw the latter when the first epoch was slow).
        match RunDir::open(&path) {
            Err(RunDirError::InUse { pid }) => assert_eq!(pid, Some(std::process::id())),
            other => panic!("{other:?}"),
        }
        drop(first);
        assert!(RunDir::create(&path).is_ok(), "the lock goes with the run");
    }

    #[test]
    fn folders_with_other_files_are_refused_untouched() {
        let (_guard_path, path) = fresh("foreign");
        fs::create_dir_all(&path).unwrap();
        for name in ["loss.svg", ".session.tmp", "summary.json"] {
            fs::write(path.join(name), b"mine").unwrap();
            assert!(
                matches!(RunDir::create(&path), Err(RunDirError::NotEmpty { .. })),
                "{name}"
            );
            assert_eq!(fs::read(path.join(name)).unwrap(), b"mine");
            fs::remove_file(path.join(name)).unwrap();
        }
        assert!(RunDir::create(&path).is_ok(), "an empty folder is fine");
    }

    #[test]
    fn a_run_killed_before_its_first_checkpoint_can_be_started_again() {
        let (_guard_path, path) = fresh("restart");
        let dir = RunDir::create(&path).unwrap();
        for name in [METRICS, MODEL, ".scratchgrad-x1y2.tmp"] {
            fs::write(dir.file(name), b"left").unwrap();
        }
        drop(dir); // as a SIGKILL: the files and the lock file stay, the lock goes
        assert!(matches!(
            RunDir::open(&path),
            Err(RunDirError::NoCompleteEpoch)
        ));
        let again = RunDir::create(&path).unwrap();
        assert_eq!(entry_names(&path).unwrap(), vec![LOCK.to_string()]);
        again.abandon();
        assert!(
            entry_names(&path).unwrap().is_empty(),
            "an abandoned run leaves nothing"
        );
        let (_guard_fresh_path, fresh_path) = fresh("restart-new");
        RunDir::create(&fresh_path).unwrap().abandon();
        assert!(!fresh_path.exists(), "nor the folder it made");
    }

    #[test]
    fn a_finished_run_leaves_no_lock_file_and_a_removed_one_is_not_trusted() {
        // `.scratchgrad.lock` stayed in every finished run's folder.
        let (_guard, path) = fresh("release");
        let dir = RunDir::create(&path).unwrap();
        fs::write(dir.file(CHECKPOINT), b"epoch 1").unwrap();
        drop(dir);
        assert_eq!(entry_names(&path).unwrap(), vec![CHECKPOINT.to_string()]);
        // A process that opened the lock file just before its owner removed it locks a file
        // that is no longer there: it must open the one at the path instead, or two
        // processes would train in one folder.
        let first = RunDir::open(&path).unwrap();
        let stale = fs::File::open(first.file(LOCK)).unwrap();
        drop(first);
        stale.try_lock().unwrap();
        assert!(!is_at(&stale, &path.join(LOCK)));
        let second = RunDir::open(&path).unwrap();
        assert!(is_at(&second.lock, &path.join(LOCK)));
        assert!(matches!(
            RunDir::open(&path),
            Err(RunDirError::InUse { .. })
        ));
    }

    #[test]
    fn a_path_through_a_file_says_so() {
        let (_guard_path, path) = fresh("through-a-file");
        fs::create_dir_all(&path).unwrap();
        fs::write(path.join("file"), b"not a folder").unwrap();
        let message = RunDir::create(&path.join("file/run"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            message,
            "cannot be used: a part of its path is a file, not a folder"
        );
    }

    #[test]
    fn default_folders_never_collide() {
        let (_guard_parent, parent) = fresh("unique");
        let a = RunDir::create_unique(&parent, "mnist-20261130-120000").unwrap();
        let b = RunDir::create_unique(&parent, "mnist-20261130-120000").unwrap();
        assert_ne!(a.path(), b.path());
        assert!(b.path().ends_with("mnist-20261130-120000-2"));
    }
}
