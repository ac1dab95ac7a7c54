//! A source: a file in a folder, raw or gzipped (the data folder itself, where a file may
//! already be; Debian's package folder).

use std::path::Path;

use super::{verified, Attempt};
use crate::data::idx::{is_gzip, MAX_IDX_BYTES};
use crate::files::{read_regular, ReadError};

/// Tries `path` for the file `name` with SHA-256 `sha`; `in_place` when the raw file found is
/// already where it belongs. A FIFO or a device where a file should be is fatal (nothing
/// fetched could be put there): its error is returned as `Err`.
pub(super) fn attempt(
    path: &Path,
    name: &str,
    sha: &str,
    in_place: bool,
) -> Result<Attempt, String> {
    let source = path.display().to_string();
    match read_regular(path, MAX_IDX_BYTES) {
        Ok(bytes) => {
            // Already where it belongs: the file under its own name, not compressed (a
            // present file is never written again: the folder may be read-only or shared).
            let in_place = in_place && path.file_name() == Some(name.as_ref()) && !is_gzip(&bytes);
            Ok(match verified(bytes, sha, name) {
                Ok(raw) => Attempt::Found {
                    raw,
                    source,
                    in_place,
                },
                Err(why) => Attempt::Failed { source, why },
            })
        }
        Err(e) if e.is_not_found() => Ok(Attempt::Skipped(format!("{source} (not present)"))),
        Err(e @ ReadError::NotRegular { .. }) => Err(format!(
            "{source}: {e}: remove it, or keep data sets in another folder"
        )),
        Err(e) => Ok(Attempt::Failed {
            source,
            why: e.to_string(),
        }),
    }
}
