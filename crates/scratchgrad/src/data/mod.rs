//! Data: reading MNIST-style IDX files, the data sets, batches, and fetching the files; the
//! text data sets of the language models and their characters.
//!
//! Images stay as the bytes they were stored as (`u8`, 55 MB for all of MNIST) and become
//! `f32` in [0, 1] one batch at a time. Never here: printing (fetching reports progress
//! through a callback) or anything about models.

pub mod datasets;
pub mod fetch;
mod folders;
pub mod idx;
pub mod preprocess;
pub mod text;
pub mod vocabulary;

pub use datasets::{Dataset, DatasetName, Split};
pub use folders::{data_dir, dataset_dir};
pub use text::{torch_randperm, Corpus, TextKind, MAKEMORE_SEED};
pub use vocabulary::Vocabulary;

use std::fmt;
use std::path::Path;

use fetch::{FetchEvent, Sources};

/// A problem with a data file: which file, and what is wrong with it.
#[derive(Debug, Clone, PartialEq)]
pub struct DataError {
    /// The file (or data set) concerned.
    pub file: String,
    /// What is wrong, as a phrase that follows the file's name.
    pub what: String,
}

impl DataError {
    /// An error about `file`.
    pub fn new(file: impl Into<String>, what: impl Into<String>) -> Self {
        DataError {
            file: file.into(),
            what: what.into(),
        }
    }
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file, self.what)
    }
}

impl std::error::Error for DataError {}

/// The splits of `name` asked for, loaded from the data folder (`data_dir`, else the
/// default: see [`data_dir`]); missing files are fetched first from the public
/// sources, reporting to `on_event`, for as long as `stop()` stays false. The built-in data
/// set needs no files.
pub fn load_splits(
    name: DatasetName,
    splits: &[Split],
    data_dir_given: Option<&Path>,
    on_event: &mut dyn FnMut(FetchEvent),
    stop: &dyn Fn() -> bool,
) -> Result<Vec<Dataset>, DataError> {
    let dir = if name.needs_files() {
        let dir = dataset_dir(&data_dir(data_dir_given)?, name);
        fetch::fetch(name, splits, &dir, &Sources::public(name), on_event, stop)?;
        dir
    } else {
        std::path::PathBuf::new()
    };
    splits
        .iter()
        .map(|&split| Dataset::load(name, split, &dir))
        .collect()
}
