//! Where data sets are kept: the data folder (given, from `$SCRATCHGRAD_DATA`, or the user's
//! cache folder) and each data set's folder inside it.

use std::path::{Path, PathBuf};

use super::{DataError, DatasetName};

/// The data directory: `explicit` if given, else `$SCRATCHGRAD_DATA`, else the user's cache
/// directory (`$XDG_CACHE_HOME/scratchgrad` or `~/.cache/scratchgrad`, the home folder having
/// to exist: nothing is made under a home folder that is not there).
pub fn data_dir(explicit: Option<&Path>) -> Result<PathBuf, DataError> {
    if let Some(dir) = explicit {
        return Ok(dir.to_path_buf());
    }
    if let Some(dir) = std::env::var_os("SCRATCHGRAD_DATA").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    if let Some(cache) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(cache).join("scratchgrad"));
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .ok_or_else(|| {
            DataError::new(
                "the data folder",
                "is unknown: HOME is not set; pass --data-dir or set SCRATCHGRAD_DATA",
            )
        })?;
    if !home.is_dir() {
        return Err(DataError::new(
            format!("HOME ({})", home.display()),
            "is not a folder, so there is no cache folder for data sets: pass --data-dir or set SCRATCHGRAD_DATA",
        ));
    }
    Ok(home.join(".cache").join("scratchgrad"))
}

/// The folder inside the data directory `root` that holds (or will hold) `name`'s files:
/// `root/<folder>`, unless `root` is already that folder (it holds the data set's files and
/// `root/<folder>` does not).
pub fn dataset_dir(root: &Path, name: DatasetName) -> PathBuf {
    let nested = root.join(name.folder());
    let holds = |dir: &Path| {
        name.files()
            .iter()
            .any(|f| dir.join(f.name).is_file() || dir.join(format!("{}.gz", f.name)).is_file())
    };
    if !holds(&nested) && holds(root) {
        root.to_path_buf()
    } else {
        nested
    }
}
