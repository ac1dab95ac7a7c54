//! Data: reading MNIST-style IDX files, the data sets, batches, and fetching the files.
//!
//! Images stay as the bytes they were stored as (`u8`, 55 MB for all of MNIST) and become
//! `f32` in [0, 1] one batch at a time. Never here: printing (fetching reports progress
//! through a callback) or anything about models.

pub mod datasets;
pub mod fetch;
pub mod idx;
pub mod preprocess;

pub use datasets::{Dataset, DatasetName, Split};

use std::fmt;

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
